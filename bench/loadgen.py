"""The load generator: one process, `--threads` keep-alive clients, `--count` signed
deliveries in all (bounded), a JSON line of timings on stdout.

    python -m bench.loadgen URL --body FILE --secret-env WEBHOOK_SECRET --count N --threads T
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import uuid
from collections import Counter

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--body", required=True)
    parser.add_argument("--secret-env", default="WEBHOOK_SECRET")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    body = open(args.body, "rb").read()  # noqa: SIM115 - read once
    secret = os.environ[args.secret_env].encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    share = [
        args.count // args.threads + (i < args.count % args.threads) for i in range(args.threads)
    ]

    def run(n: int) -> None:
        mine, codes = [], Counter()
        with httpx.Client(timeout=30) as client:
            for _ in range(n):
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": signature,
                }
                started = time.perf_counter()
                try:
                    codes[client.post(args.url, content=body, headers=headers).status_code] += 1
                except httpx.HTTPError:
                    codes[0] += 1
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=run, args=(n,)) for n in share]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.time()
    sys.stdout.write(
        json.dumps(
            {
                "started": started,
                "ended": ended,
                "latencies": latencies,
                "statuses": {str(k): v for k, v in statuses.items()},
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
