"""Publish the gate's decision as one check run per head commit, updated in place.

A publication costs one request. The run's id is cached per head; on a miss, a
"posting" marker set just before the first POST tells a fresh head (no marker: POST at
once, no look-up) from a retry whose earlier POST may have landed though its response
was lost (marker, no id: look the run up first, so the retry updates it rather than
adding a second). Only a lost shared state makes a duplicate run, and GitHub then
judges the head by the newest run of the name, which carries the newest decision.
"""

from __future__ import annotations

import hashlib
from typing import Any

from githubkit import GitHub

from app.github.client import github_errors
from app.policy.render import check_summary, check_text
from app.policy.result import Result
from app.state import SharedState

CHECK_ID_TTL = 30 * 24 * 3600.0
MAX_TEXT = 65_000


def external_id(policy_source: str) -> str:
    """Names the policy that decided (its source carries a digest of its content), so
    reconciliation can spot checks written under an older policy."""
    digest = hashlib.sha256(policy_source.encode()).hexdigest()[:16]
    return f"foureyes:{digest}"


def run_key(repository: str, head_sha: str, check_name: str) -> str:
    return f"check:{repository}@{head_sha}:{check_name}"


def posting_key(repository: str, head_sha: str, check_name: str) -> str:
    return f"check-posting:{repository}@{head_sha}:{check_name}"


def find_check_run(
    gh: GitHub, state: SharedState, repository: str, head_sha: str, check_name: str, app_id: int
) -> int | None:
    """The id of this app's check run on `head_sha`: cached, else looked up on GitHub.

    Filtering by app id matters: anyone with write access can post a check of the same
    name from another app or a workflow, and the gate must never update or trust it.
    """
    cached = state.get(run_key(repository, head_sha, check_name))
    if cached:
        return int(cached)
    owner, name = repository.split("/", 1)
    with github_errors():
        listing = gh.rest.checks.list_for_ref(
            owner, name, head_sha, check_name=check_name, app_id=app_id, filter_="latest"
        ).json()
    for run in listing.get("check_runs", []):
        if (run.get("app") or {}).get("id") == app_id and run.get("name") == check_name:
            return int(run["id"])
    return None


def publish_check(
    gh: GitHub,
    state: SharedState,
    *,
    repository: str,
    head_sha: str,
    result: Result,
    check_name: str,
    app_id: int,
    details_url: str,
) -> dict[str, Any]:
    """Create or update the check run for `head_sha`; returns GitHub's check run."""
    owner, name = repository.split("/", 1)
    output = {
        "title": result.title[:200],
        "summary": check_summary(result, details_url)[:MAX_TEXT],
        "text": check_text(result)[:MAX_TEXT],
    }
    body = {
        "status": "completed",
        "conclusion": str(result.conclusion),
        "output": output,
        "details_url": details_url,
        "external_id": external_id(result.policy_source),
    }
    cached = state.get(run_key(repository, head_sha, check_name))
    if cached:
        run_id: int | None = int(cached)
    elif state.add_if_absent(posting_key(repository, head_sha, check_name), "1", CHECK_ID_TTL):
        run_id = None
    else:
        run_id = find_check_run(gh, state, repository, head_sha, check_name, app_id)
    with github_errors():
        if run_id is None:
            run = gh.rest.checks.create(
                owner, name, data={"name": check_name, "head_sha": head_sha, **body}
            ).json()
        else:
            run = gh.rest.checks.update(owner, name, run_id, data=body).json()
    state.set(run_key(repository, head_sha, check_name), str(run["id"]), CHECK_ID_TTL)
    return run
