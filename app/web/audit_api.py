"""The audit log over HTTP: `GET /api/audit/events` (JSON) and `GET /audit` (HTML).

Both need `Authorization: Bearer <FOUREYES_ADMIN_TOKEN>`; a token in the query string is
refused on purpose (it would end up in access logs and browser history).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, render_template_string, request

from app.audit.query import MAX_LIMIT, events
from app.services import services
from app.web.auth import require_admin

bp = Blueprint("audit_api", __name__)

FILTERS = ("agent", "repository", "type", "subject")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>foureyes audit</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
code, pre { font-size: 12px; } pre { margin: 0; white-space: pre-wrap; max-width: 40rem; }
</style></head><body>
<h1>Audit log</h1>
<p>{{ rows|length }} events{% for name, value in filters.items() %}, {{ name }} = <code>{{ value
}}</code>{% endfor %}.</p>
<table>
<tr><th>seq</th><th>time (UTC)</th><th>type</th><th>subject</th><th>repository</th>
<th>actor</th><th>agent</th><th>decision</th><th>reason</th><th>data</th><th>hash</th></tr>
{% for e in rows %}<tr>
<td>{{ e.seq }}</td><td>{{ e.ts }}</td><td>{{ e.type }}</td><td>{{ e.subject }}</td>
<td>{{ e.repository or "" }}</td><td>{{ e.actor or "" }}</td><td>{{ e.agent or "" }}</td>
<td>{{ e.decision or "" }}</td><td>{{ e.reason or "" }}</td>
<td><pre>{{ e.data_text }}</pre></td><td><code>{{ e.hash[:12] }}</code></td>
</tr>{% endfor %}
</table>
{% if next_url %}<p><a href="{{ next_url }}">next page</a></p>{% endif %}
</body></html>"""


def _query() -> dict[str, Any]:
    """The filters and cursor of this request; 400 for a malformed one."""
    if "token" in request.args:
        abort(400, description="a token in the URL is not accepted: use the Authorization header")
    args: dict[str, Any] = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    since = request.args.get("since")
    if since:
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            abort(400, description="since must be an ISO 8601 time")
        args["since"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    bounds = (("after", "after_seq", 0, None), ("limit", "limit", 1, MAX_LIMIT))
    for name, field, low, high in bounds:
        raw = request.args.get(name)
        if raw is None or raw == "":
            continue
        if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
            bound = f"between {low} and {high}" if high else f"at least {low}"
            abort(400, description=f"{name} must be an integer {bound}")
        args[field] = int(raw)
    return args


def _page() -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    args = _query()
    limit = args.setdefault("limit", 100)
    with services().sessions() as session:
        rows = [event.to_dict() for event in events(session, **args)]
    following = rows[-1]["seq"] if len(rows) == limit else None
    return rows, following, args


@bp.get("/api/audit/events")
def list_events() -> Response:
    """`{"events": [...], "next": <seq to pass as ?after=> | null}`, oldest first."""
    require_admin()
    rows, following, _ = _page()
    return jsonify(events=rows, next=following)


@bp.get("/audit")
def audit_page() -> str:
    require_admin()
    rows, following, args = _page()
    filters = {name: request.args[name] for name in (*FILTERS, "since") if request.args.get(name)}
    next_url = None
    if following is not None:
        next_url = "?" + urlencode({**filters, "limit": args["limit"], "after": following})
    for row in rows:
        row["data_text"] = json.dumps(row["data"], indent=1, ensure_ascii=False, sort_keys=True)
    return render_template_string(PAGE, rows=rows, filters=filters, next_url=next_url)
