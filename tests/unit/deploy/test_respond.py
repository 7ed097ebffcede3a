"""Answering a deployment protection rule: the run comes from the callback URL, the
answer goes to the configured API, and a rule GitHub no longer holds is not an error."""

from __future__ import annotations

from githubkit import GitHub

from app.deploy.respond import callback_run_id, post_review
from app.simulator import Simulator

URL = "https://api.github.com/repos/acme/widgets/actions/runs/4242/deployment_protection_rule"


def test_the_run_id_is_read_only_from_a_callback_of_the_same_repository():
    assert callback_run_id(URL, "acme/widgets") == 4242
    assert callback_run_id(URL, "ACME/Widgets") == 4242
    assert callback_run_id(URL, "acme/other") is None
    assert callback_run_id("https://evil.example/steal", "acme/widgets") is None
    assert callback_run_id("", "acme/widgets") is None


def test_a_report_then_a_decision_reach_the_run_and_a_second_decision_is_refused(
    simulator: Simulator, installed, installation_github: GitHub
):
    _, run_id = simulator.request_deployment(
        "acme/widgets", environment="production", creator="dana"
    )
    repo = "acme/widgets"
    assert post_review(installation_github, repo, run_id, "production", "waiting for a human")
    assert simulator.deployment_gate(run_id, "production") == "waiting"
    assert post_review(installation_github, repo, run_id, "production", "ok", "approved")
    assert simulator.deployment_gate(run_id, "production") == "approved"
    # GitHub no longer waits for this rule: final, not an error to retry.
    assert not post_review(installation_github, repo, run_id, "production", "no", "rejected")
    assert [r.state for r in simulator.deployment_reviews(run_id)] == [None, "approved"]
    assert not post_review(installation_github, repo, 999999, "production", "x", "approved")
