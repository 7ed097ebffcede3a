"""Answering a deployment protection rule on GitHub.

The answer goes to `POST /repos/{o}/{r}/actions/runs/{run_id}/deployment_protection_rule`
on the configured API, never to the URL a payload names: the installation token must
not follow a URL from outside. A decision carries `state`; a status report only a
comment (GitHub shows it on the run while the rule waits).
"""

from __future__ import annotations

import re

import structlog
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.errors import GoneError
from app.github.client import github_errors

log = structlog.get_logger()

CALLBACK = re.compile(
    r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<run_id>\d+)"
    r"/deployment_protection_rule/?$"
)
MAX_COMMENT = 1000


def callback_run_id(url: str, repository: str) -> int | None:
    """The run id in a `deployment_callback_url`, when it names `repository`."""
    match = CALLBACK.search(url or "")
    if match is None:
        return None
    if f"{match['owner']}/{match['repo']}".lower() != repository.lower():
        return None
    return int(match["run_id"])


def post_review(
    gh: GitHub,
    repository: str,
    run_id: int,
    environment: str,
    comment: str,
    state: str | None = None,
) -> bool:
    """Send a decision (`state` approved|rejected) or a status report (no state).

    True when GitHub took it; False when GitHub no longer waits for this rule (the run
    was cancelled, or it was already answered), which is final, not an error.
    """
    owner, name = repository.split("/", 1)
    data: dict[str, str] = {"environment_name": environment, "comment": comment[:MAX_COMMENT]}
    if state is not None:
        data["state"] = state
    try:
        with github_errors():
            gh.rest.actions.review_custom_gates_for_run(owner, name, run_id, data=data)  # type: ignore[arg-type]
    except GoneError:
        log.info("deployment.run_gone", run_id=run_id, environment=environment)
        return False
    except RequestFailed as exc:
        if 400 <= exc.response.status_code < 500:
            log.info(
                "deployment.answer_refused",
                run_id=run_id,
                environment=environment,
                status=exc.response.status_code,
            )
            return False
        raise
    return True
