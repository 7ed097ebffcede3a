"""The GitHub Action (actions/token/action.yml), run as a runner runs a composite step:
its `env` resolved from the inputs, its script under `bash -eo pipefail`, against the
broker over HTTP and the loopback issuer standing in for `ACTIONS_ID_TOKEN_REQUEST_URL`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.unit.identity.conftest import audience_env

ROOT = Path(__file__).resolve().parents[3]
ACTION_DIR = ROOT / "actions" / "token"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
GITHUB_CONTEXT = {"github.repository": "acme/agents"}


def action() -> dict[str, Any]:
    return yaml.safe_load((ACTION_DIR / "action.yml").read_text())


def evaluate(text: str, context: dict[str, str]) -> str:
    """Substitute `${{ name }}`; any expression this harness does not know fails the test,
    so a step cannot come to depend on something these tests never ran."""

    def value(match: re.Match[str]) -> str:
        assert match.group(1) in context, f"unsupported expression {match.group(0)}"
        return context[match.group(1)]

    return EXPRESSION.sub(value, text)


def run_action(inputs: dict[str, str], runner_env: dict[str, str], tmp_path: Path):
    """Run the action's steps; (outputs as the action declares them, [CompletedProcess])."""
    spec = action()
    assert spec["runs"]["using"] == "composite"
    declared = spec["inputs"]
    assert set(inputs) <= set(declared), "an input the action does not declare"
    context = dict(GITHUB_CONTEXT)
    for name, field in declared.items():
        assert name in inputs or not field.get("required"), f"input {name} is required"
        context[f"inputs.{name}"] = evaluate(
            str(inputs.get(name, field.get("default", ""))), context
        )
    github_output = tmp_path / "github_output"
    step_outputs: dict[str, dict[str, str]] = {}
    results = []
    for step in spec["runs"]["steps"]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach the script only through env"
        env = {
            "PATH": "/usr/bin:/bin",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(ACTION_DIR),
            "GITHUB_OUTPUT": str(github_output),
            **runner_env,
            **{name: evaluate(str(v), context) for name, v in step.get("env", {}).items()},
        }
        script = tmp_path / f"{step['id']}.sh"
        script.write_text(step["run"])
        github_output.write_text("")
        # What a runner runs for `shell: bash`.
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        results.append(result)
        if result.returncode != 0:
            return {}, results
        lines = github_output.read_text().splitlines()
        step_outputs[step["id"]] = dict(line.split("=", 1) for line in lines)
    for step_id, values in step_outputs.items():
        for name, value in values.items():
            context[f"steps.{step_id}.outputs.{name}"] = value
    for declared_output in spec["outputs"].values():
        # As on GitHub, an output the step did not write is the empty string.
        for name in EXPRESSION.findall(declared_output["value"]):
            if name.startswith("steps."):
                context.setdefault(name, "")
    outputs = {name: evaluate(spec["value"], context) for name, spec in spec["outputs"].items()}
    return outputs, results


def runner(broker) -> dict[str, str]:
    return {
        "ACTIONS_ID_TOKEN_REQUEST_URL": broker.issuer.actions_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": broker.issuer.actions_request_token,
    }


def test_the_action_gets_a_masked_token_and_its_revoke_step_revokes_it(broker, served, tmp_path):
    audience_env(broker, served)
    inputs = {"url": served, "permissions": "contents:write", "ttl": "300", "task": "fix #12"}
    outputs, [result] = run_action(inputs, runner(broker), tmp_path)
    assert result.returncode == 0, result.stderr
    [held] = broker.agent_tokens()
    assert outputs["token"] == held.token
    assert result.stdout.splitlines()[0] == f"::add-mask::{held.token}"
    assert held.token not in "\n".join(result.stdout.splitlines()[1:]) + result.stderr
    assert outputs["branch-prefix"].startswith("agents/ci-agents/")
    [issued] = broker.events("token.issued")
    assert issued.data["task"] == "fix #12"
    assert issued.repository == GITHUB_CONTEXT["github.repository"]

    _, [revoked] = run_action(
        {"url": served, "revoke": outputs["token-id"]}, runner(broker), tmp_path
    )
    assert revoked.returncode == 0, revoked.stderr
    assert broker.sim.world.tokens[held.token].revoked


def test_a_refusal_fails_the_step_with_an_error_annotation(broker, served, tmp_path):
    audience_env(broker, served)
    inputs = {"url": served, "permissions": "workflows:write"}
    outputs, [result] = run_action(inputs, runner(broker), tmp_path)
    assert (result.returncode, outputs) == (1, {})
    [line] = result.stderr.splitlines()
    assert line.startswith("::error title=foureyes::foureyes: escalation required: ")
    assert f"{served}/escalations/" in line
    assert broker.agent_tokens() == []


def test_an_input_is_data_never_code(broker, served, tmp_path):
    """A task text an attacker wrote (an issue title) is not run by the step's shell."""
    audience_env(broker, served)
    marker = tmp_path / "pwned"
    task = f'$(touch {marker})`touch {marker}`"; touch {marker}; "'
    inputs = {"url": served, "permissions": "contents:write", "task": task}
    _, [result] = run_action(inputs, runner(broker), tmp_path)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    [issued] = broker.events("token.issued")
    assert issued.data["task"] == task
