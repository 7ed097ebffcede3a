"""`foureyes doctor` against the simulator: is the gate really enforced, and how to fix it."""

from __future__ import annotations

from app.simulator.governance import (
    add_environment,
    add_ruleset,
    bypass,
    protect_branch,
    pull_request_rule,
    status_checks_rule,
)
from tests.unit.doctor.conftest import REPO

AGENT_POLICY = """\
version: 1
agents:
  logins: ["copilot-swe-agent[bot]"]
deployments:
  production: {agents: reject}
  "*": {agents: require_approval}
"""


def text(result) -> str:
    """The table's words, whatever the line wrapping."""
    return " ".join(result.output.split())


def checks_of(findings: list[dict]) -> list[tuple[str, str]]:
    return [(f["check"], f["severity"]) for f in findings]


def test_all_good_exits_0_and_says_so(doctor):
    doctor.enforce()
    doctor.gate_environment("production")
    result = doctor.run()
    assert result.exit_code == 0, result.output
    assert "the gate is enforced everywhere" in text(result)
    assert REPO in result.output
    verbose = text(doctor.run("--verbose"))
    assert "bound to this app" in verbose
    # Stale approvals: foureyes binds approvals to the head commit itself.
    assert "head commit" in verbose
    assert "environment 'production' is gated by foureyes" in verbose


def test_no_ruleset_is_an_error_with_the_fix(doctor):
    result = doctor.run()
    assert result.exit_code == 1
    assert "nothing requires 'foureyes' on main" in text(result)
    assert "Settings → Rules → Rulesets" in text(result)
    assert checks_of(doctor.findings()) == [("required-check", "error")]


def test_ruleset_in_evaluate_mode_does_not_count(doctor):
    add_ruleset(
        doctor.sim.world,
        REPO,
        [status_checks_rule(("foureyes", doctor.app_id))],
        enforcement="evaluate",
    )
    assert checks_of(doctor.findings()) == [("required-check", "error")]


def test_check_required_from_any_source_can_be_forged(doctor):
    add_ruleset(doctor.sim.world, REPO, [status_checks_rule(("foureyes", None))], name="main")
    result = doctor.run()
    assert result.exit_code == 1
    [finding] = doctor.findings()
    assert finding["check"] == "check-binding"
    assert "from any source" in finding["message"]
    assert "ruleset 'main'" in finding["message"]
    assert f"id {doctor.app_id}" in finding["fix"]


def test_branch_protection_without_app_binding_is_an_error(doctor):
    protect_branch(doctor.sim.world, REPO, checks=[("foureyes", None)])
    [finding] = doctor.findings()
    assert finding["check"] == "check-binding"
    assert "branch protection" in finding["message"]
    assert "Settings → Branches" in finding["fix"]


def test_branch_protection_bound_to_this_app_is_enough(doctor):
    protect_branch(doctor.sim.world, REPO, checks=[("foureyes", doctor.app_id)])
    result = doctor.run()
    assert result.exit_code == 0, result.output


def test_check_bound_to_another_app_is_an_error(doctor):
    other, _ = doctor.sim.world.add_app("impostor")
    add_ruleset(doctor.sim.world, REPO, [status_checks_rule(("foureyes", other))])
    [finding] = doctor.findings()
    assert finding["check"] == "check-binding"
    assert f"another app (id {other})" in finding["message"]


def test_a_check_of_another_name_does_not_count(doctor):
    add_ruleset(doctor.sim.world, REPO, [status_checks_rule(("ci", doctor.app_id))])
    assert checks_of(doctor.findings()) == [("required-check", "error")]


def test_bypass_for_an_agent_app_is_an_error(doctor):
    world = doctor.sim.world
    doctor.sim.push_default_branch(REPO, {".github/foureyes.yml": AGENT_POLICY}, pusher="octocat")
    agent_id, _ = world.add_app("copilot-swe-agent")
    add_ruleset(
        world,
        REPO,
        [status_checks_rule(("foureyes", doctor.app_id))],
        name="gate",
        bypass_actors=[bypass("Integration", agent_id), bypass("OrganizationAdmin", 1)],
    )
    doctor.gate_environment("production")
    findings = doctor.findings()
    assert checks_of(findings) == [("bypass", "error")]
    assert "copilot-swe-agent[bot]" in findings[0]["message"]
    assert "Bypass list" in findings[0]["fix"]
    # Organisation admins are people: reported, not a problem.
    infos = doctor.findings(REPO, "info")
    assert any("OrganizationAdmin" in f["message"] for f in infos)


def test_bypass_for_this_app_lets_every_agent_bypass(doctor):
    add_ruleset(
        doctor.sim.world,
        REPO,
        [status_checks_rule(("foureyes", doctor.app_id))],
        bypass_actors=[bypass("Integration", doctor.app_id, "pull_request")],
    )
    [finding] = doctor.findings()
    assert finding["check"] == "bypass"
    assert "agents' tokens are this app's" in finding["message"]


def test_deploy_key_bypass_is_an_error_and_an_unknown_app_a_warning(doctor):
    unknown, _ = doctor.sim.world.add_app("release-bot")
    add_ruleset(
        doctor.sim.world,
        REPO,
        [status_checks_rule(("foureyes", doctor.app_id))],
        bypass_actors=[bypass("DeployKey"), bypass("Integration", unknown)],
    )
    assert sorted(checks_of(doctor.findings())) == [("bypass", "error"), ("bypass", "warning")]


def test_environment_without_the_rule_is_an_error(doctor):
    doctor.enforce()
    add_environment(doctor.sim.world, REPO, "staging")
    other, _ = doctor.sim.world.add_app("someone-else")
    add_environment(doctor.sim.world, REPO, "production", protection_apps=(other,))
    result = doctor.run()
    assert result.exit_code == 1
    findings = doctor.findings()
    assert checks_of(findings) == [("environment", "error"), ("environment", "error")]
    assert {f["message"].split("'")[1] for f in findings} == {"staging", "production"}
    assert "Deployment protection rules" in findings[0]["fix"]


def test_environment_named_in_the_policy_but_missing_is_a_warning(doctor):
    doctor.sim.push_default_branch(REPO, {".github/foureyes.yml": AGENT_POLICY}, pusher="octocat")
    doctor.enforce()
    findings = doctor.findings()
    assert checks_of(findings) == [("environment", "warning")]
    assert "'production'" in findings[0]["message"]


def test_environment_the_policy_allows_needs_no_rule(doctor):
    policy = 'version: 1\ndeployments:\n  preview-*: {agents: allow}\n  "*": {agents: reject}\n'
    doctor.sim.push_default_branch(REPO, {".github/foureyes.yml": policy}, pusher="octocat")
    doctor.enforce()
    add_environment(doctor.sim.world, REPO, "preview-42")
    assert doctor.run().exit_code == 0


def test_invalid_policy_is_reported(doctor):
    doctor.enforce()
    doctor.sim.push_default_branch(
        REPO, {".github/foureyes.yml": "version: 1\nmerge: {rulez: []}\n"}, pusher="octocat"
    )
    findings = doctor.findings()
    assert checks_of(findings) == [("policy", "error")]
    assert "rulez" in findings[0]["message"]


def test_a_repository_still_observing_is_reported(doctor):
    doctor.enforce()
    doctor.sim.push_default_branch(
        REPO, {".github/foureyes.yml": "version: 1\nmode: observe\n"}, pusher="octocat"
    )
    result = doctor.run()
    assert result.exit_code == 1
    findings = doctor.findings()
    assert checks_of(findings) == [("observe", "warning")]
    assert "still observing" in findings[0]["message"]


def test_missing_app_permission_is_an_error(simulator, tmp_path, monkeypatch):
    from tests.unit.doctor.conftest import Doctor

    monkeypatch.chdir(tmp_path)
    simulator.add_repo(REPO)
    from app.manifest import load_manifest, needed_events, needed_permissions

    manifest = load_manifest()
    permissions = needed_permissions(manifest)
    del permissions["members"]
    events = [e for e in needed_events(manifest) if e != "deployment_protection_rule"]
    installed = simulator.install(account="acme", permissions=permissions, events=events)
    doctor = Doctor(simulator, installed, tmp_path)
    doctor.enforce()
    result = doctor.run()
    assert result.exit_code == 1
    app_findings = doctor.findings("(app)")
    messages = " ".join(f["message"] for f in app_findings)
    assert "members: none" in messages
    assert "deployment_protection_rule" in messages
    assert "Permissions & events" in app_findings[0]["fix"]


def test_installation_that_has_not_accepted_new_permissions(doctor):
    world = doctor.sim.world
    with world.lock:
        installation = world.installations[doctor.installed.installation_id]
        del installation.permissions["members"]
    [finding] = doctor.findings("installation acme")
    assert "has not accepted members" in finding["message"]


def test_json_shape(doctor):
    doctor.enforce()
    doctor.sim.add_repo("acme/gadgets")
    report = doctor.report()
    assert set(report) == {"ok", "app_id", "check_name", "summary", "subjects"}
    assert report["ok"] is False
    assert report["app_id"] == doctor.app_id
    assert report["check_name"] == "foureyes"
    assert report["summary"] == {"subjects": 3, "errors": 1, "warnings": 0}
    by_name = {s["name"]: s for s in report["subjects"]}
    assert set(by_name) == {"(app)", REPO, "acme/gadgets"}
    gadgets = by_name["acme/gadgets"]
    assert set(gadgets) == {
        "name",
        "installation_id",
        "default_branch",
        "ok",
        "complete",
        "findings",
    }
    assert gadgets["ok"] is False and by_name[REPO]["ok"] is True
    assert gadgets["installation_id"] == doctor.installed.installation_id
    assert gadgets["default_branch"] == "main"
    error = gadgets["findings"][0]
    assert set(error) == {"check", "severity", "message", "fix"}
    assert error["severity"] == "error" and error["fix"]


def test_a_repository_github_fails_on_is_reported_not_checked(doctor):
    doctor.enforce()
    doctor.sim.add_repo("acme/gadgets")
    doctor.enforce("acme/gadgets")
    # Three tries per request (the client's quick retries): both runs below fail.
    doctor.sim.fail("GET", r"^/repos/acme/widgets/rules/branches/", 502, times=6)
    result = doctor.run()
    assert result.exit_code == 1
    assert "could not be checked" in text(result)
    [finding] = doctor.findings()
    assert finding["check"] == "unreadable"
    # The other repository was still checked.
    assert doctor.findings("acme/gadgets") == []


def test_doctor_in_setup_mode_says_what_to_do(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["doctor"], env={"APP_ID": ""})
    assert result.exit_code == 2  # could not run, as every command says it
    assert "register the app first" in result.output


def test_branch_rules_of_a_pull_request_rule_are_reported_as_github_dismissal(doctor):
    add_ruleset(
        doctor.sim.world,
        REPO,
        [
            status_checks_rule(("foureyes", doctor.app_id)),
            pull_request_rule(dismiss_stale_reviews=True),
        ],
    )
    oks = doctor.findings(REPO, "ok")
    stale = [f for f in oks if f["check"] == "stale-approvals"]
    assert "GitHub also dismisses stale reviews" in stale[0]["message"]
