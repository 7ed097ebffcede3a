"""The doctor's pure judgments on facts GitHub can return but the simulator does not model."""

from __future__ import annotations

from app.doctor.checks import check_repository
from app.doctor.facts import RepoFacts
from app.policy.schema import Policy

APP_ID = 7
CHECK = "foureyes"


def facts(**fields) -> RepoFacts:
    return RepoFacts(
        **{
            "repository": "acme/widgets",
            "installation_id": 1,
            "default_branch": "main",
            "policy": Policy(),
            **fields,
        }
    )


def required_rule(integration_id: int | None, ruleset_id: int = 5) -> dict:
    item = {"context": CHECK}
    if integration_id is not None:
        item["integration_id"] = integration_id
    return {
        "type": "required_status_checks",
        "ruleset_id": ruleset_id,
        "parameters": {"required_status_checks": [item]},
    }


def problems(repo: RepoFacts) -> list[tuple[str, str]]:
    found = check_repository(repo, APP_ID, CHECK)
    return [(f.check, f.severity) for f in found if f.is_problem]


def test_archived_repository_is_not_judged():
    assert problems(facts(archived=True)) == []


def test_protection_with_any_source_marker_is_forgeable():
    protection = {"required_status_checks": {"checks": [{"context": CHECK, "app_id": -1}]}}
    assert problems(facts(protection=protection)) == [("check-binding", "error")]


def test_protection_listing_only_contexts_is_forgeable():
    protection = {"required_status_checks": {"contexts": [CHECK], "checks": []}}
    assert problems(facts(protection=protection)) == [("check-binding", "error")]


def test_unreadable_protection_is_a_warning_when_nothing_else_binds():
    found = problems(facts(protection_readable=False))
    assert found == [("required-check", "error"), ("required-check", "warning")]


def test_hidden_bypass_list_is_a_warning():
    repo = facts(branch_rules=(required_rule(APP_ID),), rulesets={5: {"id": 5, "name": "gate"}})
    assert problems(repo) == [("bypass", "warning")]


def test_unreadable_ruleset_is_a_warning():
    repo = facts(branch_rules=(required_rule(APP_ID),), rulesets={5: None})
    assert problems(repo) == [("bypass", "warning")]


def test_write_role_bypass_is_everyone_who_can_push():
    ruleset = {
        "id": 5,
        "name": "gate",
        "bypass_actors": [
            {"actor_id": 4, "actor_type": "RepositoryRole", "bypass_mode": "always"},
            {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"},
        ],
    }
    repo = facts(branch_rules=(required_rule(APP_ID),), rulesets={5: ruleset})
    assert problems(repo) == [("bypass", "warning")]


def test_unlisted_environments_are_a_warning_not_a_pass():
    assert problems(
        facts(branch_rules=(required_rule(APP_ID),), rulesets={5: None}, environments=None)
    ) == [("bypass", "warning"), ("environment", "warning")]
