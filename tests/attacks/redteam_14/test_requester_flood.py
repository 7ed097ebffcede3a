"""Red team, issue 14: the text of one pull request writes unbounded `requester` rows.

`who_acted.with_identity` remembers every requester the text names (every commit's
Co-authored-by no-reply trailers: 50 per commit x 250 commits; every body match: ~3 800 in
a 64 kB Devin-shaped body), one `session.get` + SAVEPOINT + INSERT each, inside the
evaluation, at every evaluation. Only the read is capped (MAX_REQUESTERS). Measured on
SQLite: 15 500 rows take 84 s to insert and 19 s to re-check at each later evaluation,
holding the database's write lock (the audit's too) the whole time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import app.acted as acted
from app.db import Base
from app.github.gather import commit_facts
from app.policy.catalogue import catalogue, requester_candidates
from app.policy.facts import Account, PullRequestFacts


def _facts(commits: int, per_commit: int) -> PullRequestFacts:
    person = {"name": "Claude", "email": "noreply@anthropic.com"}
    items = []
    for i in range(commits):
        trailers = "\n".join(
            f"Co-authored-by: p <1+u{i}x{j}@users.noreply.github.com>" for j in range(per_commit)
        )
        items.append(
            commit_facts(
                {
                    "sha": f"{i:040x}",
                    "author": None,
                    "committer": None,
                    "commit": {
                        "message": f"Fix\n\n{trailers}",
                        "author": person,
                        "committer": person,
                    },
                }
            )
        )
    return PullRequestFacts(
        repository="o/r", number=1, author=Account("hugo"), head_sha="a" * 40,
        head_ref="claude/x", base_ref="main", title="t", draft=False, labels=(),
        commits=tuple(items), files=("a.py",), reviews=(), reviewers={},
        app_bot_login="foureyes[bot]", agent_link=None, complete=True, now=datetime.now(UTC),
    )  # fmt: skip


def test_one_pull_requests_text_cannot_flood_the_requester_memory():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[acted.Acted.__table__])
    facts = _facts(commits=40, per_commit=50)  # 2 000 names; an agent may write 12 500
    named = requester_candidates(catalogue().entries, facts)
    with Session(engine) as session:
        acted.remember_requesters(session, "o/r", 1, named, datetime.now(UTC))
        session.commit()
        acted.remember_requesters(session, "o/r", 1, named, datetime.now(UTC))
        session.commit()
        rows = session.scalar(select(func.count()).select_from(acted.Acted))
    # One row past the cap marks the overflow: the evaluation then fails closed.
    assert rows == acted.MAX_REQUESTERS + 1
