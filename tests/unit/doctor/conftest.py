"""The doctor against the simulator: an installed app whose permissions are app.yml's, a
repository `acme/widgets`, and helpers to run `foureyes doctor` as the operator would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import cli
from app.manifest import load_manifest, needed_events, needed_permissions
from app.simulator import Installed, Simulator
from app.simulator.governance import (
    add_environment,
    add_ruleset,
    bypass,
    pull_request_rule,
    status_checks_rule,
)

REPO = "acme/widgets"


@dataclass
class Doctor:
    sim: Simulator
    installed: Installed
    workdir: Path

    @property
    def app_id(self) -> int:
        return self.installed.app_id

    def env(self) -> dict[str, str]:
        return {
            "APP_ID": str(self.installed.app_id),
            "PRIVATE_KEY": self.installed.private_key,
            "WEBHOOK_SECRET": self.installed.webhook_secret,
            "GITHUB_API_URL": self.sim.url,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(self.workdir / "instance"),
        }

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["doctor", *args], env=self.env())

    def report(self) -> dict:
        result = self.run("--json")
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    def findings(self, subject: str = REPO, *severities: str) -> list[dict]:
        wanted = severities or ("error", "warning")
        for item in self.report()["subjects"]:
            if item["name"] == subject:
                return [f for f in item["findings"] if f["severity"] in wanted]
        raise AssertionError(f"{subject} was not checked")

    def enforce(self, repo: str = REPO) -> int:
        """The recommended set-up: a ruleset requiring the check from this app."""
        return add_ruleset(
            self.sim.world,
            repo,
            [status_checks_rule(("foureyes", self.app_id)), pull_request_rule()],
            bypass_actors=[bypass("OrganizationAdmin", 1)],
        )

    def gate_environment(self, name: str, repo: str = REPO) -> None:
        add_environment(self.sim.world, repo, name, protection_apps=(self.app_id,))


@pytest.fixture
def doctor(simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Doctor:
    # The working directory holds no .env or app.yml of its own: the repository's app.yml
    # is the manifest.
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    manifest = load_manifest()
    simulator.add_repo(REPO, files={"README.md": "# widgets\n"})
    installed = simulator.install(
        account="acme",
        permissions=needed_permissions(manifest),
        events=list(needed_events(manifest)),
    )
    return Doctor(simulator, installed, workdir)
