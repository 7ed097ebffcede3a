"""Run every check on every repository of every installation: the doctor's one entry point."""

from __future__ import annotations

from typing import Any

import structlog
from githubkit.exception import GitHubException

from app.doctor.checks import check_repository
from app.doctor.findings import APP_SUBJECT, Finding, Report, Subject
from app.doctor.gather import app_facts, installation_repositories, repo_facts
from app.doctor.permissions import check_app, check_installation
from app.errors import FoureyesError
from app.github.client import GitHubApp
from app.manifest import needed_events, needed_permissions
from app.state import SharedState

log = structlog.get_logger()


def _unreadable(name: str, installation_id: int | None, error: Exception) -> Subject:
    """A subject GitHub could not be asked about: a problem until it can be checked."""
    return Subject(
        name=name,
        installation_id=installation_id,
        findings=(
            Finding(
                "unreadable",
                "error",
                f"could not be checked: {error}",
                "run `foureyes doctor` again; if it persists, check GitHub's status and the "
                "app's permissions",
            ),
        ),
        complete=False,
    )


def run_doctor(
    github: GitHubApp, state: SharedState, check_name: str, manifest: dict[str, Any]
) -> Report:
    """Check the app, each installation and each repository it can see.

    A repository GitHub fails to answer for is reported as not checked (`complete`
    False) and the others are still checked; only a failure to read the app itself
    raises (TransientError, GoneError or githubkit's RequestFailed).
    """
    permissions, events = needed_permissions(manifest), needed_events(manifest)
    app = app_facts(github)
    subjects = [Subject(APP_SUBJECT, findings=check_app(app, permissions, events))]
    for installation_id, (account, _, suspended) in sorted(app.installations.items()):
        findings = check_installation(app, installation_id, permissions)
        if findings:
            subjects.append(Subject(f"installation {account}", installation_id, None, findings))
        if suspended:
            continue
        try:
            gh = github.for_installation(installation_id)
            repositories = list(installation_repositories(gh))
        except (FoureyesError, GitHubException) as exc:
            log.warning("doctor.installation_unreadable", installation_id=installation_id)
            subjects.append(_unreadable(f"installation {account}", installation_id, exc))
            continue
        for repository in sorted(repositories, key=lambda r: r["full_name"].lower()):
            name = repository["full_name"]
            try:
                facts = repo_facts(gh, state, installation_id, repository, check_name, app.app_id)
            except (FoureyesError, GitHubException) as exc:
                log.warning(
                    "doctor.repository_unreadable", repository=name, error=type(exc).__name__
                )
                subjects.append(_unreadable(name, installation_id, exc))
                continue
            subjects.append(
                Subject(
                    name,
                    installation_id,
                    facts.default_branch,
                    check_repository(facts, app.app_id, check_name),
                )
            )
    return Report(app_id=app.app_id, check_name=check_name, subjects=tuple(subjects))
