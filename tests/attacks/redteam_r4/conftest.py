"""The unit tests' inline gate (`gate` fixture) for this round's attacks."""

from tests.unit.github.conftest import gate  # noqa: F401
