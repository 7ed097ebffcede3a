"""The token broker: from a proven workload identity to a short-lived, one-repository token.

The request path makes the GitHub calls that answer it (installation, policy, minting)
and nothing else: escalation issues are opened and tokens revoked by Celery tasks.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app import metrics
from app.audit.emit import emit
from app.errors import DeniedError, FoureyesError, GoneError, IdentityError, TransientError
from app.github.client import conditional_get, parse_time
from app.github.gather import load_repository_policy
from app.identity import escalation
from app.identity.authorise import Denial, Escalate, authorise, branch_prefix
from app.identity.jwks import IssuerKeys
from app.identity.models import AgentToken
from app.identity.request import TokenRequest
from app.identity.revoke import revoke_now
from app.identity.vault import TokenVault, token_sha256
from app.identity.verify import WorkloadIdentity, consume_once, verify_workload_jwt
from app.policy.permissions import floor_violation
from app.policy.schema import Policy
from app.services import Services

log = structlog.get_logger()

RATE_LIMIT = 30  # requests per identity per window
RATE_WINDOW = 60.0
# Held a little past GitHub's own expiry, so a late sweep still finds it.
HOLD_MARGIN = 120.0


class BrokerOff(FoureyesError):
    """FOUREYES_TRUSTED_ISSUERS is not set: the broker answers 503."""


class NotInstalled(FoureyesError):
    """The app is not installed on the repository (404)."""


class RateLimited(FoureyesError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"more than {RATE_LIMIT} requests a minute from this identity")
        self.retry_after = retry_after


class EscalationRequired(DeniedError):
    def __init__(self, escalation_id: str, url: str, beyond: list[str]) -> None:
        super().__init__(f"needs a human's approval for {', '.join(beyond)}")
        self.escalation_id = escalation_id
        self.url = url


@dataclass(frozen=True)
class Issued:
    token: str
    token_id: str
    expires_at: datetime
    repository: str
    permissions: dict[str, str]
    branch_prefix: str

    def as_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "token_id": self.token_id,
            "expires_at": self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "repository": self.repository,
            "permissions": self.permissions,
            "branch_prefix": self.branch_prefix,
        }


def vault(deps: Services) -> TokenVault:
    return TokenVault(deps.state, deps.settings.private_key or "")


def authenticate(deps: Services, authorization: str | None) -> WorkloadIdentity:
    """The identity a `Bearer` JWT proves (not yet consumed); IdentityError otherwise."""
    if not deps.settings.trusted_issuers:
        raise BrokerOff("the token broker is off: FOUREYES_TRUSTED_ISSUERS is not set")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise IdentityError("send the workload identity JWT as 'Authorization: Bearer <jwt>'")
    return verify_workload_jwt(
        token.strip(),
        deps.settings.trusted_issuers,
        deps.settings.audience,
        IssuerKeys(deps.state),
    )


def check_rate(deps: Services, identity: WorkloadIdentity) -> None:
    window = int(datetime.now(UTC).timestamp() // RATE_WINDOW)
    key = f"broker-rate:{token_sha256(identity.agent)}:{window}"
    if deps.state.incr(key, RATE_WINDOW * 2) > RATE_LIMIT:
        elapsed = datetime.now(UTC).timestamp() - window * RATE_WINDOW
        raise RateLimited(max(1, int(RATE_WINDOW - elapsed) + 1))


def deny(
    identity: WorkloadIdentity, repository: str, reason: str, installation_id: int | None = None
) -> DeniedError:
    """Audit a refusal and return the error to raise."""
    metrics.TOKENS.labels("denied").inc()
    emit(
        "token.denied",
        subject=repository,
        installation_id=installation_id,
        repository=repository,
        agent=identity.agent,
        actor=identity.on_behalf_of,
        decision="denied",
        reason=reason,
    )
    log.info("broker.denied", agent=identity.agent, repository=repository, reason=reason)
    return DeniedError(reason)


def repository_policy(gh: GitHub, deps: Services, repository: str) -> Policy:
    """The policy of the repository's default branch (then the org's, then built-in)."""
    status, body = conditional_get(gh, deps.state, f"/repos/{repository}")
    if status == 404:
        raise GoneError(f"{repository} is not visible to the installation")
    loaded = load_repository_policy(gh, deps.state, repository, json.loads(body)["default_branch"])
    if loaded.policy is None:
        raise PolicyUnusable(f"the policy ({loaded.source}) is invalid: {loaded.error}")
    return loaded.policy


class PolicyUnusable(FoureyesError):
    """The repository's policy cannot be read as valid: fail closed."""


def request_token(deps: Services, identity: WorkloadIdentity, request: TokenRequest) -> Issued:
    """Authorise and mint, or raise DeniedError / EscalationRequired / NotInstalled."""
    consume_once(deps.state, identity)
    floor = floor_violation(request.permissions)
    if floor:
        raise deny(identity, request.repository, f"{floor} is never granted to agents")
    try:
        installation_id = deps.github.repository_installation(request.repository)
    except GoneError as exc:
        deny(identity, request.repository, "foureyes is not installed on the repository")
        raise NotInstalled(f"foureyes is not installed on {request.repository}") from exc
    if request.escalation:
        try:
            approved = escalation.redeem(deps, identity, request)
        except DeniedError as exc:
            raise deny(identity, request.repository, str(exc), installation_id) from exc
        try:
            issued = mint(
                deps,
                identity,
                request,
                installation_id,
                rule=approved.rule,
                ttl=min(request.ttl or approved.ttl, approved.ttl),
                escalation_id=approved.id,
            )
        except Exception:
            escalation.unredeem(deps, approved.id)
            raise
        escalation.record_token(deps, approved.id, issued.token_id)
        return issued
    gh = deps.github.for_installation(installation_id)
    try:
        policy = repository_policy(gh, deps, request.repository)
    except PolicyUnusable as exc:
        raise deny(identity, request.repository, str(exc), installation_id) from exc
    decision = authorise(policy, identity, request.permissions, request.ttl)
    if isinstance(decision, Denial):
        raise deny(identity, request.repository, decision.reason, installation_id)
    if isinstance(decision, Escalate):
        pending = escalation.open_request(deps, identity, request, installation_id, decision)
        metrics.TOKENS.labels("escalation").inc()
        raise EscalationRequired(pending.id, escalation.url(deps, pending.id), decision.beyond)
    return mint(deps, identity, request, installation_id, rule=decision.rule, ttl=decision.ttl)


def mint(
    deps: Services,
    identity: WorkloadIdentity,
    request: TokenRequest,
    installation_id: int,
    *,
    rule: str,
    ttl: int,
    escalation_id: str | None = None,
) -> Issued:
    """Mint exactly `request.permissions` on one repository, hold it, record it, audit it."""
    token_id = secrets.token_hex(16)
    try:
        body = deps.github.mint_token(installation_id, request.repository, request.permissions)
    except RequestFailed as exc:
        if exc.response.status_code != 422:
            raise
        reason = "the app's installation does not have these permissions on the repository"
        raise deny(identity, request.repository, reason, installation_id) from exc
    raw = body["token"]
    now = datetime.now(UTC)
    github_expires = parse_time(body["expires_at"])
    revoke_at = min(now + timedelta(seconds=ttl), github_expires)
    prefix = branch_prefix(rule, token_id)
    digest = token_sha256(raw)
    try:
        _check_granted(body.get("permissions") or {}, request.permissions)
        vault(deps).hold(token_id, raw, (github_expires - now).total_seconds() + HOLD_MARGIN)
        with deps.sessions.begin() as session:
            session.add(
                AgentToken(
                    id=token_id,
                    installation_id=installation_id,
                    repository=request.repository,
                    issuer=identity.issuer,
                    subject=identity.subject,
                    on_behalf_of=identity.on_behalf_of,
                    rule=rule,
                    permissions=request.permissions,
                    token_sha256=digest,
                    branch_prefix=prefix,
                    task=request.task,
                    escalation_id=escalation_id,
                    created_at=now,
                    revoke_at=revoke_at,
                    github_expires_at=github_expires,
                )
            )
        emit(
            "token.issued",
            subject=f"token:{token_id}",
            installation_id=installation_id,
            repository=request.repository,
            agent=identity.agent,
            actor=identity.on_behalf_of,
            decision="issued",
            data={
                "token_id": token_id,
                "token_sha256": digest,
                "permissions": request.permissions,
                "ttl": int((revoke_at - now).total_seconds()),
                "rule": rule,
                "branch_prefix": prefix,
                "on_behalf_of": identity.on_behalf_of,
                "task": request.task,
                "escalation": escalation_id,
            },
            key=f"token.issued:{token_id}",
        )
    except Exception as exc:
        # Nothing may hold a token foureyes cannot account for: take it back at once.
        log.error("broker.mint_unrecorded", token_id=token_id, error=type(exc).__name__)
        revoke_now(deps, raw)
        vault(deps).release(token_id)
        with deps.sessions.begin() as session:
            row = session.get(AgentToken, token_id)
            if row is not None:
                row.revoked_at = datetime.now(UTC)
                row.revoke_reason = "not recorded: revoked at once"
        if isinstance(exc, DeniedError):
            raise
        raise TransientError("the token could not be recorded; it was revoked") from exc
    metrics.TOKENS.labels("issued").inc()
    log.info("broker.issued", token_id=token_id, agent=identity.agent, rule=rule, ttl=ttl)
    return Issued(raw, token_id, revoke_at, request.repository, request.permissions, prefix)


def _check_granted(granted: dict[str, str], asked: dict[str, str]) -> None:
    """GitHub must grant no more than asked (`metadata: read` comes with every token)."""
    extra = {
        name: level
        for name, level in granted.items()
        if asked.get(name) != level and not (name == "metadata" and level == "read")
    }
    if extra:
        raise DeniedError(f"GitHub granted more than asked: {sorted(extra)}")
