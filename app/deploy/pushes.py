"""The push guard's decision. Pure: facts and policy in, flags out.

An agent identity may push only to its own branches: a push to the default branch, to a
protected branch, outside its token's branch prefix, or a forced push is flagged, and so
is a merge an agent performs. A branch prefix is a name the pusher chose: a push under
one is flagged too unless that token, and no other, could have pushed it. Flags do not
undo anything (GitHub already accepted the push); they make the event impossible to miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.deploy.provenance import agent_reason
from app.policy.facts import AgentLink, LiveToken
from app.policy.schema import Policy


@dataclass(frozen=True)
class PushFacts:
    repository: str
    ref: str  # refs/heads/... or refs/tags/...
    pusher: str  # the sender's login (an agent token pushes as this app's bot)
    default_branch: str
    protected: bool | None  # GitHub's `protected` flag of the pushed branch; None: unknown
    forced: bool = False
    deleted: bool = False
    app_bot_login: str = "foureyes[bot]"
    agent_link: AgentLink | None = None  # the token whose branch prefix the ref is under
    # Agent tokens for the repository live at the push that could push (contents: write).
    # Every one of them pushes as this app's bot: the prefix does not tell which did.
    live_tokens: tuple[LiveToken, ...] = ()


@dataclass(frozen=True)
class PushFlags:
    agent: str | None  # who, when the pusher is an agent identity
    reasons: tuple[str, ...]  # why it is flagged; empty: not flagged

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)


def agent_identity(policy: Policy, login: str, app_bot_login: str, link: AgentLink | None) -> str:
    """How the audit names the agent: the workload identity behind a token when known."""
    if link is not None and login.lower() == app_bot_login.lower():
        return link.agent
    return login


def push_flags(policy: Policy, facts: PushFacts) -> PushFlags:
    why_agent = agent_reason(policy, facts.app_bot_login, facts.pusher)
    if why_agent is None:
        return PushFlags(None, ())
    is_app_bot = facts.pusher.lower() == facts.app_bot_login.lower()
    name = facts.ref.removeprefix("refs/heads/")
    reasons = []
    if facts.ref == f"refs/heads/{facts.default_branch}":
        reasons.append(f"pushed to the default branch {facts.default_branch}")
    elif facts.protected:
        reasons.append(f"pushed to the protected branch {name}")
    elif facts.protected is None:
        # Fail closed: GitHub could not say whether the branch is protected.
        reasons.append(f"pushed to {name}, which may be protected (GitHub could not say)")
    link = facts.agent_link
    if is_app_bot and link is None:
        # Agent tokens may write only under `agents/<rule>/<token_id>/`.
        reasons.append(f"pushed to {name}, outside any agent token's branch prefix")
    elif is_app_bot and link is not None:
        why = _prefix_doubt(facts, link, name)
        if why:
            reasons.append(why)
            link = None  # the prefix's token is not known to be the pusher
    agent = agent_identity(policy, facts.pusher, facts.app_bot_login, link)
    if facts.forced:
        reasons.append(f"force-pushed {name}, rewriting its history")
    if facts.deleted and reasons:
        reasons.append(f"deleted {name}")
    return PushFlags(agent, tuple(reasons))


def _prefix_doubt(facts: PushFacts, link: AgentLink, name: str) -> str | None:
    """Why a push under a token's branch prefix may be another token's (None: it cannot)."""
    pushers = {token.token_id for token in facts.live_tokens if token.can_push}
    if link.token_id not in pushers:
        return (
            f"pushed to {name} under agent token {link.token_id[:8]}'s branch prefix, but that"
            " token could not push then: another agent token pushed it"
        )
    others = sorted(pushers - {link.token_id})
    if others:
        return (
            f"pushed to {name} under agent token {link.token_id[:8]}'s branch prefix while"
            f" agent token{'s' if len(others) > 1 else ''} {', '.join(t[:8] for t in others)}"
            " could push too: which token pushed cannot be told"
        )
    return None


def merge_flags(
    policy: Policy, merged_by: str | None, app_bot_login: str, link: AgentLink | None = None
) -> PushFlags:
    """A pull request merged by an agent identity: agents never merge."""
    why = agent_reason(policy, app_bot_login, merged_by)
    if why is None or merged_by is None:
        return PushFlags(None, ())
    agent = agent_identity(policy, merged_by, app_bot_login, link)
    return PushFlags(agent, (f"merged by an agent ({why})",))
