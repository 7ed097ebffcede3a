"""CPU figures: the pure evaluator on a large pull request against a small one, and each
profile-guided fix against the code it replaced, both arms measured in this run.

CPU time (`time.process_time`, all threads of this process) rather than wall time: the
figures then mean something on a shared, loaded machine. The in-process simulator's
CPU is in both arms of each comparison alike.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import httpx
import redis

from app.github import client, gather
from app.policy.evaluate import evaluate
from app.policy.facts import Account, Commit, PullRequestFacts, Review, ReviewerFacts
from app.policy.load import load_policy
from app.policy.render import check_summary, check_text
from bench.inproc import AGENT, POLICY, REPO, start_gate
from bench.report import Row, ratio
from bench.servers import BENCH_REDIS_URL

HEAD = "a" * 40


def facts(files: int, commits: int, reviews: int) -> PullRequestFacts:
    agent = Account(AGENT)
    people = [f"reviewer-{n}" for n in range(max(reviews // 10, 1))]
    return PullRequestFacts(
        repository=REPO,
        number=1,
        author=agent,
        head_sha=HEAD,
        head_ref="agents/change",
        base_ref="main",
        commits=tuple(
            Commit(sha=f"{n:040x}", author=agent, committer=agent, message=f"change {n}")
            for n in range(commits)
        ),
        files=tuple(f"src/module_{n:04d}.py" for n in range(files)),
        reviews=tuple(
            Review(
                id=n,
                user=Account(people[n % len(people)]),
                state="APPROVED" if n % 3 == 0 else "COMMENTED",
                commit_id=HEAD if n % 2 == 0 else f"{n:040x}",
                submitted_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
            for n in range(reviews)
        ),
        reviewers={login: ReviewerFacts(permission="write") for login in people},
        now=datetime(2025, 1, 2, tzinfo=UTC),
    )


def cpu_per_call(call: Callable[[], Any], repeat: int) -> float:
    call()
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat


def evaluator_rows(files: int, commits: int, reviews: int) -> list[Row]:
    policy = load_policy(POLICY, "bench")
    small, large = facts(3, 1, 2), facts(files, commits, reviews)

    def judge(snapshot: PullRequestFacts) -> Callable[[], Any]:
        return lambda: evaluate(policy, snapshot, "bench")

    def judge_and_render(snapshot: PullRequestFacts) -> Callable[[], Any]:
        def both() -> None:
            result = evaluate(policy, snapshot, "bench")
            check_summary(result, "http://localhost/prs")
            check_text(result)

        return both

    base = cpu_per_call(judge(small), 200)
    big = cpu_per_call(judge(large), 20)
    base_render = cpu_per_call(judge_and_render(small), 200)
    big_render = cpu_per_call(judge_and_render(large), 20)
    size = f"{files} files, {commits} commits, {reviews} reviews"
    return [
        Row(
            "evaluator",
            f"evaluate, {size}",
            f"{big * 1e3:.2f} ms",
            f"{base * 1e3:.3f} ms small",
            ratio(big, base),
        ),
        Row(
            "evaluator",
            "evaluate + render check summary and text",
            f"{big_render * 1e3:.2f} ms",
            f"{base_render * 1e3:.3f} ms small",
            ratio(big_render, base_render),
        ),
    ]


@contextmanager
def before_fixes() -> Iterator[None]:
    """The code as it was before the profile: a CA bundle load per client, a policy parse
    per evaluation."""
    saved = client.tls_context, gather.parsed_policy
    client.tls_context = httpx.create_ssl_context  # type: ignore[assignment]
    gather.parsed_policy = load_policy  # type: ignore[assignment]
    try:
        yield
    finally:
        client.tls_context, gather.parsed_policy = saved


def evaluation_rows(repeat: int) -> list[Row]:
    gate = start_gate()
    try:
        number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
        gate.deliver("pull_request")
        gate.simulator.review(REPO, number, "maintainer")
        gate.deliver("pull_request_review")

        def review() -> None:
            gate.deliver("pull_request_review")

        rounds = []
        for _ in range(3):  # alternate the arms against the machine's changing load
            with before_fixes():
                old = cpu_per_call(review, repeat)
            rounds.append((old, cpu_per_call(review, repeat)))
        old, new = (sorted(arm)[1] for arm in zip(*rounds, strict=True))
    finally:
        gate.close()
    return [
        Row(
            "profile fix",
            "warm evaluation (review), CPU per evaluation",
            f"{new * 1e3:.1f} ms",
            f"{old * 1e3:.1f} ms before",
            ratio(new, old),
            "< 1",
        ),
    ]


def intake_rows(repeat: int) -> list[Row]:
    """CPU of one accepted delivery: the id recorded and the task pushed in one Redis
    call, against the three steps it replaced (hold the id, `apply_async`, remember it)."""
    from app.web import webhooks

    gate = start_gate({"REDIS_URL": BENCH_REDIS_URL, "FOUREYES_EAGER": ""})
    flask_app = gate.app
    body = resources.files("app.simulator.fixtures.webhooks") / "pull_request.opened.json"
    payload = body.read_bytes()
    secret = gate.installed.webhook_secret.encode()
    signature = "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()
    test_client = flask_app.test_client()
    broker = redis.Redis.from_url(BENCH_REDIS_URL)

    def post() -> None:
        test_client.post(
            "/api/github/webhooks",
            data=payload,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
            },
        )

    def in_steps(state: Any, key: str, event: str, delivery: str, parsed: Any, _: str) -> Any:
        return webhooks._queue_in_steps(state, key, event, delivery, parsed)

    original = webhooks._queue_on_redis
    try:
        rounds = []
        for _ in range(3):
            webhooks._queue_on_redis = in_steps
            try:
                old = cpu_per_call(post, repeat)
            finally:
                webhooks._queue_on_redis = original
            rounds.append((old, cpu_per_call(post, repeat)))
            broker.flushdb()
        old, new = (sorted(arm)[1] for arm in zip(*rounds, strict=True))
    finally:
        broker.flushdb()
        gate.close()
    return [
        Row(
            "profile fix",
            "intake, CPU per accepted delivery",
            f"{new * 1e3:.2f} ms",
            f"{old * 1e3:.2f} ms before",
            ratio(new, old),
            "< 1",
        ),
    ]
