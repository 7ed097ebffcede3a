"""The details page of a pull request (the check run's `details_url`).

It shows, from the audit trail alone: the latest decision tree, the approvals counted
and ignored with the reasons, who can unblock, the agent, token and human behind the
pull request, and the history of evaluations. Logins, branch names, titles and paths
are chosen by whoever opens a pull request: every value is escaped, and the page
forbids scripts (Content-Security-Policy) in case one ever slips through.
"""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.trail import approvals
from app.policy.render import html_tree
from app.policy.result import Node, Result, Status
from app.services import services
from app.web.auth import Viewer, repository_reader

bp = Blueprint("pages", __name__)

HISTORY = 50  # evaluations shown, newest first
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 64rem; margin: 1.5rem auto;
       padding: 0 1rem; color: #1f2328; }
header { display: flex; justify-content: space-between; align-items: baseline; }
h1 { font-size: 1.5rem; margin: .2rem 0; } h2 { font-size: 1.15rem; margin: .4rem 0; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; color: #fff;
         font-weight: 600; }
.badge.conclusion-success { background: #1a7f37; }
.badge.conclusion-action_required { background: #9a6700; }
.badge.conclusion-failure { background: #cf222e; }
.foureyes-result > h2 { font-size: 1rem; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.2rem; }
.box { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.status-pass > .status { color: #1a7f37; } .status-pending > .status { color: #9a6700; }
.status-fail > .status { color: #cf222e; } .status-skip > .status { color: #57606a; }
.status { font-weight: 600; text-transform: uppercase; font-size: .8em; }
li.counted { color: #1a7f37; } li.ignored { color: #57606a; }
.unblock { color: #9a6700; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #d0d7de;
         vertical-align: top; }
code { background: #f6f8fa; padding: 0 .2em; border-radius: 3px; }
.muted { color: #57606a; font-size: .9em; }
form { display: inline; } button { font: inherit; }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return Response(html, status=status, headers=SECURITY_HEADERS, mimetype="text/html")


def _newest(session: Any, type: str, subject: str, limit: int) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.type == type, AuditEvent.subject == subject)
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _box(heading: str, inner: str) -> str:
    return f'<section class="box"><h2>{_e(heading)}</h2>{inner}</section>'


def _viewer_bar(viewer: Viewer, path: str) -> str:
    if viewer.admin:
        return '<span class="muted">read with the admin token</span>'
    return (
        f'<span class="muted">signed in as <strong>{_e(viewer.login)}</strong> '
        f'<form method="post" action="/logout"><input type="hidden" name="next" '
        f'value="{_e(path)}"><button type="submit">sign out</button></form></span>'
    )


def _unblockers(result: Result) -> list[Node]:
    """The blocking rules that say who can unblock them; else the root's own words."""
    blocking = (Status.PENDING, Status.FAIL)
    rules = [n for n in result.root.children if n.unblock and n.status in blocking]
    if rules:
        return rules
    return [result.root] if result.root.unblock and result.root.status in blocking else []


def _approvals_table(result: Result) -> str:
    counted, ignored = approvals(result.to_dict())
    if not counted and not ignored:
        return "<p>No review has been considered yet.</p>"
    rows = [
        f'<tr class="{"counted" if item.get("counted") else "ignored"}">'
        f"<td><code>{_e(item.get('login'))}</code></td>"
        f"<td>{'counted' if item.get('counted') else 'ignored'}</td>"
        f"<td>{_e(item.get('reason'))}</td></tr>"
        for item in [*counted, *ignored]
    ]
    return (
        "<table><thead><tr><th>reviewer</th><th>approval</th><th>why</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _agent_box(event: AuditEvent, issued: AuditEvent | None) -> str:
    data = event.data or {}
    if not event.agent and not data.get("token_id"):
        return ""
    rows = [("agent", event.agent or "unknown")]
    if data.get("token_id"):
        rows.append(("token", data["token_id"]))
    token = (issued.data or {}) if issued is not None else {}
    if token.get("permissions"):
        permissions = ", ".join(f"{k}: {v}" for k, v in sorted(token["permissions"].items()))
        rows.append(("permissions", permissions))
    for label, key in (("rule", "rule"), ("branches", "branch_prefix"), ("task", "task")):
        if token.get(key):
            rows.append((label, token[key]))
    if issued is not None:
        rows.append(("issued", f"{issued.ts} (audit #{issued.seq})"))
    human = data.get("on_behalf_of") or token.get("on_behalf_of")
    if human:
        rows.append(("requested by", f"{human} (may not approve this pull request)"))
    cells = "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in rows)
    return _box("Agent", f"<table>{cells}</table>")


def _history(evaluations: list[tuple[AuditEvent, Result]]) -> str:
    rows = []
    for index, (event, result) in enumerate(evaluations):
        tree = (
            "" if index == 0 else f"<details><summary>tree</summary>{html_tree(result)}</details>"
        )
        rows.append(
            f"<tr><td>{_e(event.ts)}<br><span class='muted'>audit #{event.seq}</span></td>"
            f"<td><code>{_e(result.head_sha[:7])}</code></td>"
            f'<td><span class="badge conclusion-{_e(result.conclusion)}">'
            f"{_e(result.conclusion)}</span></td><td>{_e(result.title)}{tree}</td></tr>"
        )
    head = "<tr><th>when</th><th>head</th><th>conclusion</th><th>why</th></tr>"
    table = f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    return _box("History of evaluations", table)


@bp.get("/prs/<owner>/<repo>/<int:number>")
def pull_request(owner: str, repo: str, number: int) -> Response:
    """The decision page of a pull request, for the admin token or a signed-in reader."""
    repository = f"{owner}/{repo}"
    subject = f"{repository}#{number}"
    viewer = repository_reader(repository)
    if isinstance(viewer, Response):
        return viewer
    with services().sessions() as session:
        events = _newest(session, "gate.evaluated", subject, HISTORY)
        tokens = {str(e.data["token_id"]) for e in events if (e.data or {}).get("token_id")}
        issued = {
            t: (_newest(session, "token.issued", f"token:{t}", 1) or [None])[0] for t in tokens
        }
    title = f"foureyes: {subject}"
    bar = _viewer_bar(viewer, f"/prs/{repository}/{number}")
    if not events:
        body = f"<header><h1>{_e(subject)}</h1>{bar}</header><p>No evaluation recorded yet.</p>"
        return _page(title, body, status=404)
    evaluations = [(event, Result.from_dict(event.data["result"])) for event in events]
    latest_event, latest = evaluations[0]
    unblock = "".join(
        f"<li><strong>{_e(node.name)}</strong>: {_e(node.unblock)}</li>"
        for node in _unblockers(latest)
    )
    token_id = (latest_event.data or {}).get("token_id")
    parts = [
        f"<header><h1>{_e(subject)}</h1>{bar}</header>",
        f'<p><span class="badge conclusion-{_e(latest.conclusion)}">'
        f"{_e(latest.conclusion)}</span> {_e(latest.title)}</p>",
        f'<p class="muted">latest evaluation {_e(latest_event.ts)} at head '
        f"<code>{_e(latest.head_sha[:12])}</code> · policy "
        f"<code>{_e(latest.policy_source or 'unknown')}</code></p>",
    ]
    if unblock:
        parts.append(_box("Who can unblock", f"<ul>{unblock}</ul>"))
    parts.append(_box("Approvals of the head commit", _approvals_table(latest)))
    parts.append(_agent_box(latest_event, issued.get(str(token_id)) if token_id else None))
    parts.append(_box("Decision tree", html_tree(latest)))
    parts.append(_history(evaluations))
    body = "".join(parts)
    return _page(title, body)
