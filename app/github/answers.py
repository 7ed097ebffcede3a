"""What GitHub said when it refused: its own message, for the reasons users read."""

from __future__ import annotations

from githubkit.exception import RequestFailed


def github_said(exc: BaseException) -> str:
    """`exc`, with GitHub's `message` when a refused request caused it (`GoneError` keeps
    githubkit's exception as its cause): "... for /repos/o/r/compare/a...b: No common
    ancestor between a and b." rather than a bare status."""
    cause = exc if isinstance(exc, RequestFailed) else exc.__cause__
    if not isinstance(cause, RequestFailed):
        return str(exc)
    try:
        message = cause.response.json().get("message")
    except ValueError:
        message = None
    if not isinstance(message, str) or not message or message in str(exc):
        return str(exc)
    return f"{exc}: {message}"
