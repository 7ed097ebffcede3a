"""The intake baseline: a bare Flask endpoint that only verifies the HMAC and answers 202.

gunicorn 'bench.bare:create_app()'   (WEBHOOK_SECRET from the environment)
"""

from __future__ import annotations

import hashlib
import hmac
import os

from flask import Flask, request


def create_app() -> Flask:
    secret = os.environ["WEBHOOK_SECRET"].encode()
    flask_app = Flask(__name__)

    @flask_app.post("/api/github/webhooks")
    def receive() -> tuple[str, int]:
        body = request.get_data(cache=False)
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        header = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace")):
            return "", 401
        return "", 202

    return flask_app
