"""Fixtures of the attack tests: the attacker's seat (`attack`, harness.py) and the real
stacks the unit tests already build, reused.

`broker`: the token broker (Flask app, eager Celery, the simulator, a trusted OIDC
issuer); see tests/unit/identity/conftest.py. `gate`: the merge gate (signed webhooks
into the real intake, eager Celery, the simulator); see tests/unit/github/conftest.py.
"""

from tests.attacks.harness import attack, seat  # noqa: F401 - the shared fixtures
from tests.unit.github.conftest import gate  # noqa: F401
from tests.unit.identity.conftest import broker, issuer  # noqa: F401
from tests.unit.web.test_setup import workdir  # noqa: F401
