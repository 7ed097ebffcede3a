"""Fixtures of the attack tests: `attack`, the attacker's seat (`harness.py`)."""

from tests.attacks.harness import attack  # noqa: F401 - the shared fixture
