"""Reading `.github/foureyes.yml`: defaults, errors with key paths and lines, hardened YAML."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.errors import PolicyError
from app.policy.load import MAX_POLICY_BYTES, load_policy
from app.policy.schema import DEFAULT_POLICY, match_deployment, token_rules

CONTRACT_EXAMPLE = """\
version: 1
agents:
  logins: ["copilot-swe-agent[bot]", "devin-ai-integration[bot]", "ci-agent-*"]
  branches: ["copilot/**", "agents/**"]
  labels: ["ai-generated"]
merge:
  rules:
    - name: human review
      if: {agent: true}
      require: {approvals: 1, permission: write}
    - name: workflow changes
      if: {agent: true, paths: [".github/workflows/**"]}
      require: {approvals: 2, teams: ["acme/security"]}
  allow_contributors: false
  gate_humans: false
deployments:
  production: {agents: reject}
  "*": {agents: require_approval}
workflows:
  agent_changes: cancel
tokens:
  - name: ci agents
    issuer: https://token.actions.githubusercontent.com
    subject: "repo:acme/agents:ref:refs/heads/main"
    claims: {job_workflow_ref: "acme/agents/.github/workflows/agent.yml@*"}
    permissions: {contents: write, pull_requests: write, issues: write}
    max_ttl: 900
escalations:
  approvers: {permission: admin}
  ttl: 3600
"""


def errors_of(text: str) -> list[tuple[str, str, int | None]]:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, ".github/foureyes.yml")
    return caught.value.errors


def test_the_contract_example_loads_as_written():
    policy = load_policy(CONTRACT_EXAMPLE, "x")
    assert [rule.name for rule in policy.merge.rules] == ["human review", "workflow changes"]
    assert policy.merge.rules[1].require.approvals == 2
    assert policy.merge.rules[1].require.permission == "write"
    assert policy.merge.rules[1].require.teams == ("acme/security",)
    assert policy.merge.rules[1].condition.paths == (".github/workflows/**",)
    assert policy.tokens[0].max_ttl == 900
    assert policy.tokens[0].permissions["contents"] == "write"
    assert policy.escalations.approvers.permission == "admin"


@pytest.mark.parametrize("text", ["", "# nothing here\n", "---\n"])
def test_an_empty_file_is_the_built_in_default(text):
    assert load_policy(text, "x") == DEFAULT_POLICY


def test_the_built_in_default_needs_one_write_approval_on_agent_prs():
    (rule,) = DEFAULT_POLICY.merge.rules
    assert rule.name == "human review"
    assert rule.condition.agent is True
    assert (rule.require.approvals, rule.require.permission) == (1, "write")
    assert match_deployment(DEFAULT_POLICY, "production") == "require_approval"
    assert token_rules(DEFAULT_POLICY) == ()
    assert DEFAULT_POLICY.workflows.agent_changes == "cancel"
    assert not DEFAULT_POLICY.merge.gate_humans
    assert not DEFAULT_POLICY.merge.allow_contributors


def test_a_rule_without_if_is_for_agents_but_an_explicit_if_is_taken_as_written():
    policy = load_policy("merge:\n  rules:\n    - name: a\n    - name: b\n      if: {}\n", "x")
    assert policy.merge.rules[0].condition.agent is True
    assert policy.merge.rules[1].condition.agent is None


def test_an_unknown_key_deep_in_a_rule_is_reported_with_its_path_and_line():
    text = """\
merge:
  rules:
    - name: first
    - name: second
      require:
        permission: write
        aprovals: 2
"""
    assert errors_of(text) == [("merge.rules[1].require.aprovals", "unknown key", 7)]


def test_unknown_top_level_key_and_wrong_type_are_all_reported():
    text = "version: 1\nmerj: {}\nagents:\n  logins: ci-agent-*\n"
    assert sorted(errors_of(text)) == [
        ("agents.logins", "should be a list", 4),
        ("merj", "unknown key", 2),
    ]


def test_approvals_must_be_at_least_one():
    text = "merge:\n  rules:\n    - name: r\n      require:\n        approvals: 0\n"
    ((path, message, line),) = errors_of(text)
    assert (path, line) == ("merge.rules[0].require.approvals", 5)
    assert "greater than or equal to 1" in message


@pytest.mark.parametrize("value", ["'2'", "yes", "1.5"])
def test_approvals_must_be_a_whole_number_not_a_string_or_boolean(value):
    text = f"merge:\n  rules:\n    - name: r\n      require: {{approvals: {value}}}\n"
    ((path, _message, line),) = errors_of(text)
    assert (path, line) == ("merge.rules[0].require.approvals", 4)


def test_permission_must_be_a_repository_role():
    text = "merge:\n  rules:\n    - name: r\n      require: {permission: owner}\n"
    ((path, message, line),) = errors_of(text)
    assert (path, line) == ("merge.rules[0].require.permission", 4)
    assert "'read', 'triage', 'write', 'maintain' or 'admin'" in message


def test_teams_are_org_slash_slug():
    text = "escalations:\n  approvers:\n    teams: [security]\n"
    assert errors_of(text) == [("escalations.approvers.teams[0]", "teams are written org/slug", 3)]


@pytest.mark.parametrize("value", ["2", "true", "'1'"])
def test_version_must_be_1(value):
    ((path, _message, line),) = errors_of(f"version: {value}\n")
    assert (path, line) == ("version", 1)


def test_a_missing_required_key_points_at_its_parent():
    text = "tokens:\n  - name: ci\n    issuer: https://issuer.example\n"
    assert errors_of(text) == [("tokens[0].subject", "required key is missing", 2)]


def test_token_limits():
    text = """\
tokens:
  - name: ci
    issuer: https://issuer.example
    subject: "repo:acme/*"
    permissions: {contents: admin}
    max_ttl: 7200
"""
    found = {(path, line) for path, _message, line in errors_of(text)}
    assert found == {("tokens[0].permissions.contents", 5), ("tokens[0].max_ttl", 6)}
    valid = text.replace("admin", "read")
    assert load_policy(valid.replace("7200", "60"), "x").tokens[0].max_ttl == 60
    (default,) = load_policy(valid.replace("    max_ttl: 7200\n", ""), "x").tokens
    assert default.max_ttl == 3600


@pytest.mark.parametrize(
    "permissions, named",
    [
        ("{deployments: write}", "deployments"),
        ("{checks: read}", "checks"),
        ("{contents: write, actions: write}", "actions: write"),
        ("{repository_custom_properties: write}", "repository_custom_properties"),
        ("{issues: write}", "issues: write"),
        ("{organization_secrets: read}", "organization_secrets"),
    ],
)
def test_a_token_rule_asking_for_the_floor_is_refused_by_policy_check(tmp_path, permissions, named):
    """`policy check` refuses the rule; the server still reads the file (its merge rules
    stand), and the broker never grants the permission (tests/attacks/test_floor.py)."""
    text = f"""\
tokens:
  - name: ci
    issuer: https://issuer.example
    subject: "repo:acme/*"
    permissions: {permissions}
"""
    load_policy(text, ".github/foureyes.yml")
    path = tmp_path / "foureyes.yml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"{path}:5: tokens[0].permissions: {named} is never granted to agents (the server's "
        "floor): the broker refuses it whatever this rule says\n"
    )


def test_token_permission_names_are_github_app_permissions():
    text = """\
tokens:
  - name: ci
    issuer: https://issuer.example
    subject: "repo:acme/*"
    permissions: {contents: read, pull_request: write}
"""
    [(path, message, _line)] = errors_of(text)
    assert path == "tokens[0].permissions.pull_request"
    assert "not a GitHub App permission name" in message


def test_deployments_and_workflow_values_are_checked():
    text = "deployments:\n  production: {agents: maybe}\nworkflows: {agent_changes: ignore}\n"
    found = {(path, line) for path, _message, line in errors_of(text)}
    assert found == {("deployments.production.agents", 2), ("workflows.agent_changes", 3)}


@pytest.mark.parametrize(
    ("text", "line"),
    [("merge:\n  rules: [\n", 3), ("a: b\n  c: d\n", 2), ("key: 'unterminated\n", 2)],
)
def test_bad_yaml_is_reported_with_its_line(text, line):
    ((path, message, found_line),) = errors_of(text)
    assert path == ""
    assert message.startswith("YAML syntax error")
    assert found_line == line


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_the_document_must_be_a_mapping(text, kind):
    assert errors_of(text) == [("", f"the document must be a mapping, not {kind}", 1)]


def test_aliases_are_refused_so_alias_bombs_cannot_expand():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    assert errors_of(bomb) == [("", "YAML aliases (*name) are not allowed", 2)]


def test_python_object_tags_are_not_constructed():
    ((path, message, line),) = errors_of("version: !!python/object/apply:os.system ['true']\n")
    assert (path, line) == ("", 1)
    assert "could not determine a constructor" in message


def test_input_is_capped_at_256_kib():
    text = "# " + "x" * MAX_POLICY_BYTES + "\n"
    assert errors_of(text) == [("", f"the file is larger than {MAX_POLICY_BYTES} bytes", None)]


def test_duplicate_keys_are_errors_not_silently_overridden():
    text = "merge:\n  gate_humans: true\nmerge:\n  gate_humans: false\n"
    assert errors_of(text) == [("merge", "duplicate key", 3)]


def test_deeply_nested_documents_are_refused():
    ((path, message, _line),) = errors_of("a: " + "[" * 20000 + "]" * 20000 + "\n")
    assert path == ""
    assert "nested too deeply" in message


def test_the_error_message_names_the_source():
    with pytest.raises(PolicyError, match=r"acme/widgets:\.github/foureyes\.yml@abc: invalid"):
        load_policy("bogus: 1\n", "acme/widgets:.github/foureyes.yml@abc")


def test_policies_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        DEFAULT_POLICY.merge.gate_humans = True  # type: ignore[misc]


def test_deployments_first_matching_glob_wins_case_insensitively():
    policy = load_policy(
        "deployments:\n  prod*: {agents: reject}\n  staging: {agents: allow}\n"
        "  '*': {agents: require_approval}\n",
        "x",
    )
    assert match_deployment(policy, "production") == "reject"
    assert match_deployment(policy, "Production") == "reject"
    assert match_deployment(policy, "staging") == "allow"
    assert match_deployment(policy, "qa") == "require_approval"
    only_staging = load_policy("deployments:\n  staging: {agents: allow}\n", "x")
    assert match_deployment(only_staging, "production") == "require_approval"
