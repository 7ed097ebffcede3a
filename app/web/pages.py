"""The decision page of a pull request: the check run's `details_url`."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response

from app.audit.query import events
from app.policy.render import html_tree
from app.policy.result import Result
from app.services import services
from app.web.auth import require_admin

bp = Blueprint("pages", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; }}
.pass {{ color: #1a7f37; }} .pending {{ color: #9a6700; }} .fail {{ color: #cf222e; }}
.skip {{ color: #57606a; }} code {{ background: #f6f8fa; padding: 0 .2em; }}
section {{ border-top: 1px solid #d0d7de; margin-top: 1.5rem; }}
</style></head><body>
<h1>{title}</h1>
{body}
</body></html>"""


@bp.get("/prs/<owner>/<repo>/<int:number>")
def pull_request(owner: str, repo: str, number: int) -> Response:
    """Every evaluation of the pull request, newest first, each as its decision tree."""
    require_admin()
    repository = f"{owner}/{repo}"
    subject = f"{repository}#{number}"
    with services().sessions() as session:
        evaluations = events(session, type="gate.evaluated", subject=subject, limit=500)
    title = f"foureyes: {escape(subject)}"
    if not evaluations:
        body = "<p>No evaluation recorded yet for this pull request.</p>"
        return Response(PAGE.format(title=title, body=body), status=404)
    sections = []
    for event in reversed(evaluations):
        result = Result.from_dict(event.data["result"])
        link = ""
        if event.data.get("token_id"):
            link = (
                f"<p>Agent <code>{escape(event.agent or '')}</code>, token "
                f"<code>{escape(event.data['token_id'])}</code>, acting for "
                f"<code>{escape(event.data.get('on_behalf_of') or 'nobody named')}</code></p>"
            )
        sections.append(
            f"<section><h2>{escape(str(event.ts))}: head "
            f"<code>{escape(result.head_sha[:12])}</code></h2>{link}{html_tree(result)}</section>"
        )
    return Response(PAGE.format(title=title, body="".join(sections)))
