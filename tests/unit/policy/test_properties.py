"""Properties of the gate over generated snapshots and policies (invariants 3, 4, 5)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.policy.evaluate import evaluate
from app.policy.facts import AgentLink, PullRequestFacts
from app.policy.render import check_summary, check_text, html_tree, plain_text
from app.policy.result import Conclusion
from app.policy.schema import Agents, Condition, Merge, Policy, Requirement, Rule
from tests.factories import APP_BOT, HEAD_SHA, OLD_SHA, account, commit, pr_facts, review, reviewer

HUMANS = ("alice", "bob", "carol", "dana", "erin")
AGENTS = ("ci-agent-1", APP_BOT)
BOTS = ("renovate[bot]",)
EVERYONE = HUMANS + AGENTS + BOTS
TEAMS = ("acme/security", "acme/web")
STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
PERMISSIONS = (None, "none", "read", "triage", "write", "maintain", "admin")
NEW_HEAD = "c" * 40

conditions = st.builds(
    Condition,
    agent=st.sampled_from((True, None, False)),
    paths=st.one_of(st.none(), st.just((".github/workflows/**",)), st.just(("src/**",))),
    labels=st.one_of(st.none(), st.just(("ai-*",))),
)
NEVER = st.just(False)
ANYONE = st.sampled_from(EVERYONE)
APPROVERS = ("h1", "h2", "h3")  # eligible humans by construction: see STRONG


def requirements(users=HUMANS):
    return st.builds(
        Requirement,
        approvals=st.integers(1, 3),
        permission=st.sampled_from(("read", "triage", "write", "maintain", "admin")),
        teams=st.one_of(st.just(()), st.just(("acme/security",)), st.just(TEAMS)),
        users=st.one_of(st.just(()), st.lists(st.sampled_from(users), max_size=3).map(tuple)),
    )


@st.composite
def policies(draw, allow_contributors=NEVER, always_agent_rule=False, users=HUMANS):
    rule = st.builds(
        Rule,
        name=st.sampled_from(("r1", "r2", "r3")),
        condition=conditions,
        require=requirements(users),
    )
    drawn = draw(st.lists(rule, max_size=3))
    if always_agent_rule:
        drawn.insert(0, Rule(name="human review", require=draw(requirements(users))))
    merge = Merge(
        rules=tuple(drawn),
        allow_contributors=draw(allow_contributors),
        gate_humans=draw(st.booleans()),
    )
    return Policy(agents=Agents(logins=("ci-agent-*",), labels=("ai-generated",)), merge=merge)


maybe_login = st.one_of(st.none(), st.sampled_from(EVERYONE))


@st.composite
def snapshots(draw, author=ANYONE):
    commits = tuple(
        commit(
            draw(st.sampled_from((HEAD_SHA, OLD_SHA, "d" * 40))),
            author=account(a) if (a := draw(maybe_login)) else None,
            committer=account(c) if (c := draw(maybe_login)) else None,
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    reviews = tuple(
        review(
            draw(st.sampled_from(EVERYONE)),
            draw(st.sampled_from(STATES)),
            draw(st.sampled_from((HEAD_SHA, OLD_SHA))),
            id=index,
        )
        for index in range(draw(st.integers(0, 6)))
    )
    reviewers = {
        login: reviewer(
            draw(st.sampled_from(PERMISSIONS)),
            draw(st.sampled_from((None, (), ("acme/security",), TEAMS))),
        )
        for login in HUMANS
        if draw(st.booleans())
    }
    link = draw(
        st.one_of(
            st.none(),
            st.builds(
                AgentLink,
                token_id=st.just("tok1"),
                agent=st.just("issuer subject"),
                on_behalf_of=st.one_of(st.none(), st.sampled_from(HUMANS)),
            ),
        )
    )
    return pr_facts(
        author=account(draw(author)),
        head_ref=draw(st.sampled_from(("feature/x", "copilot/fix", "agents/ci/tok1/x"))),
        labels=tuple(draw(st.lists(st.sampled_from(("ai-generated", "bug")), unique=True))),
        files=tuple(
            draw(st.lists(st.sampled_from(("src/a.py", ".github/workflows/ci.yml")), unique=True))
        ),
        commits=commits,
        reviews=reviews,
        reviewers=reviewers,
        agent_link=link,
        complete=draw(st.booleans()),
    )


def add_approval(facts: PullRequestFacts, login: str, *, commit_id: str = HEAD_SHA, **who):
    """`facts` plus a later approval by `login`, whom GitHub reports with `who`."""
    later = max((r.id for r in facts.reviews), default=0) + 1
    reviewers = {**facts.reviewers, login: reviewer(**who)}
    reviews = (*facts.reviews, review(login, commit=commit_id, id=later))
    return replace(facts, reviews=reviews, reviewers=reviewers)


STRONG = {"permission": "admin", "teams": TEAMS}


@st.composite
def ineligible_approvals(draw, facts: PullRequestFacts):
    kind = draw(st.sampled_from(("bot", "author", "committer", "stale", "low", "on_behalf_of")))
    if kind == "bot":
        return add_approval(facts, "dependabot[bot]", **STRONG)
    if kind == "author":
        return add_approval(facts, facts.author.login, **STRONG)
    if kind == "committer":
        logins = [a.login for c in facts.commits for a in (c.author, c.committer) if a]
        assume(logins)
        return add_approval(facts, draw(st.sampled_from(logins)), **STRONG)
    if kind == "stale":
        return add_approval(facts, "zed", commit_id=OLD_SHA, **STRONG)
    if kind == "low":
        return add_approval(facts, "lou", permission="none", teams=TEAMS)
    assume(facts.agent_link is not None and facts.agent_link.on_behalf_of)
    return add_approval(facts, facts.agent_link.on_behalf_of, **STRONG)


@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
@given(policy=policies(), facts=snapshots(), data=st.data())
def test_an_ineligible_approval_never_turns_a_block_into_success(policy, facts, data):
    before = evaluate(policy, facts, "p")
    assume(before.conclusion is not Conclusion.SUCCESS)
    after = evaluate(policy, data.draw(ineligible_approvals(facts)), "p")
    assert after.conclusion is not Conclusion.SUCCESS


@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    policy=policies(always_agent_rule=True, allow_contributors=st.booleans(), users=APPROVERS),
    facts=snapshots(author=st.just(APP_BOT)),
)
def test_a_new_push_to_a_passing_agent_pr_always_blocks(policy, facts):
    for login in APPROVERS:
        facts = add_approval(facts, login, **STRONG)
    passing = evaluate(policy, facts, "p")
    assume(passing.conclusion is Conclusion.SUCCESS)
    pushed = evaluate(policy, replace(facts, head_sha=NEW_HEAD), "p")
    assert pushed.conclusion is not Conclusion.SUCCESS


@settings(max_examples=200)
@given(
    policy=policies(allow_contributors=st.booleans()),
    facts=snapshots(),
    name=st.one_of(st.text(max_size=30), st.just("<script>alert(1)</script>")),
)
def test_evaluate_never_raises_and_always_concludes(policy, facts, name):
    odd = replace(facts, head_ref=name or "x", labels=(name,), files=(name,))
    for snapshot in (facts, odd):
        result = evaluate(policy, snapshot, "p")
        assert result.conclusion in set(Conclusion)
        assert len(check_summary(result, "http://localhost/prs/a/b/1")) <= 65_000
        assert len(check_text(result)) <= 65_000
        assert result.title in plain_text(result) or not result.title.isprintable()
        assert "<script" not in html_tree(result)
