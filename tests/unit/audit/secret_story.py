"""Run by test_emit in its own process: record realistic events, and events carrying the
secrets planted in the environment (PLANTED_TOKEN, PRIVATE_KEY, WEBHOOK_SECRET)."""

from __future__ import annotations

import hashlib
import os

from app import create_app
from app.audit.emit import emit


def main() -> None:
    token = os.environ["PLANTED_TOKEN"]
    flask_app = create_app()
    with flask_app.app_context():
        emit(
            "token.issued",
            subject="token:tok-1",
            installation_id=99,
            repository="acme/app",
            agent="repo:acme/agents:ref:refs/heads/main",
            decision="allow",
            data={
                "token_id": "tok-1",
                "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                "permissions": {"contents": "write", "pull_requests": "write"},
                "ttl": 900,
                "rule": "ci agents",
                "branch_prefix": "agents/tok-1/",
                "on_behalf_of": "alice",
            },
        )
        emit(
            "webhook.received",
            subject="acme/app#7",
            repository="acme/app",
            actor="ci-agent[bot]",
            data={"event": "pull_request", "action": "opened", "delivery": "d-9"},
            key="webhook.received:d-9",
        )
        mistakes = [
            {"token": token},
            {"response": {"token": token, "expires_at": "2030-01-01T00:00:00Z"}},
            {"headers": [f"Authorization: token {token}"]},
            {"private_key": os.environ["PRIVATE_KEY"]},
            {"config": {"webhook_secret": os.environ["WEBHOOK_SECRET"]}},
        ]
        redacted = 0
        for data in mistakes:
            emit("token.issued", subject="token:tok-2", data=data)
            redacted += 1
            # What a careless caller might log: what it meant to record.
            flask_app.logger.info("audited %s", sorted(data))
    print(f"redacted {redacted} of {len(mistakes)}")


if __name__ == "__main__":
    main()
