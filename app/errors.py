"""The small hierarchy of domain exceptions; each has a visible outcome for the user."""

from __future__ import annotations


class FoureyesError(Exception):
    """Base of every error foureyes raises on purpose."""


class ConfigError(FoureyesError):
    """The server's configuration is missing or wrong: refuse to start."""


class PolicyError(FoureyesError):
    """A policy file is unreadable or invalid. `errors` are (key path, message, line)."""

    def __init__(self, message: str, errors: list[tuple[str, str, int | None]] | None = None):
        super().__init__(message)
        self.errors = errors or []


class TransientError(FoureyesError):
    """Worth retrying later: a GitHub outage, a rate limit, an unreachable service."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class GoneError(FoureyesError):
    """The installation, repository or pull request no longer exists: drop the work."""


class IdentityError(FoureyesError):
    """A workload identity could not be proven (token broker: 401)."""


class DeniedError(FoureyesError):
    """A request is understood and refused (token broker: 403)."""
