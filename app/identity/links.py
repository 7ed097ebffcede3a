"""For the merge gate: which token, agent and human stand behind an agent branch."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.identity.models import AgentToken
from app.policy.facts import AgentLink


def find_agent_link(session: Session, repository: str, head_ref: str) -> AgentLink | None:
    """The link of a head branch `agents/<rule>/<token_id>/...` to the token minted for
    `repository` with that branch prefix; None for any other branch. Expired and revoked
    tokens still link: the pull request outlives the token."""
    parts = head_ref.removeprefix("refs/heads/").split("/")
    if len(parts) < 4 or parts[0] != "agents" or not all(parts[1:4]):
        return None
    token = session.get(AgentToken, parts[2])
    if token is None or token.repository.lower() != repository.lower():
        return None
    if not head_ref.removeprefix("refs/heads/").startswith(token.branch_prefix):
        return None
    return AgentLink(
        token_id=token.id,
        agent=token.agent,
        on_behalf_of=token.on_behalf_of,
        rule=token.rule,
    )
