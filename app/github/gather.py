"""Gather the facts the evaluator needs into a frozen snapshot, with the fewest requests.

Immutable facts (a head's commits and files) are cached by head and base SHA; a
reviewer's permission and team memberships for a short time; the policy file by ETag.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub

from app.errors import GoneError, PolicyError, TransientError
from app.github.client import conditional_get, github_errors
from app.policy.catalogue import parse_trailers
from app.policy.facts import Account, AgentLink, Commit, PullRequestFacts, Review, ReviewerFacts
from app.policy.load import DEFAULT_POLICY, load_policy
from app.policy.schema import Policy
from app.state import SharedState

POLICY_PATH = ".github/foureyes.yml"
ORG_POLICY_PATH = "foureyes.yml"
RAW = "application/vnd.github.raw+json"
PER_PAGE = 100
# GitHub lists at most 250 commits and 3000 files of a pull request.
MAX_COMMITS = 250
MAX_FILES = 3000
REVIEWER_TTL = 60.0  # permission and team look-ups: fresh enough, and cheap on bursts
HEAD_TTL = 7 * 24 * 3600.0
REVIEWS_TTL = 24 * 3600.0
BODY_CHARS = 65_536  # GitHub caps a body at 65 536 characters
MESSAGE_CHARS = 2000  # of each commit message, for the catalogue's markers
# A policy file found absent (404: no ETag, so no free conditional request) is not asked
# for again until a push to the default branch (repository's; the org's `.github`
# repository's) or an installation change forgets it, or this long has passed: the org's
# `.github` repository may not be installed, so its pushes may never reach us.
ABSENT_REPO_POLICY_TTL = 3600.0
ABSENT_ORG_POLICY_TTL = 600.0
GENERATION_TTL = 30 * 24 * 3600.0


@dataclass(frozen=True)
class LoadedPolicy:
    """The policy that judges a repository, or the error that makes every PR fail closed."""

    policy: Policy | None
    source: str
    error: PolicyError | None = None


def load_repository_policy(
    gh: GitHub, state: SharedState, repository: str, default_branch: str
) -> LoadedPolicy:
    """The policy from the default branch, else the org's `.github` repo, else built-in.

    Never the pull request's head (invariant 2). A file that exists but cannot be
    parsed is an error, not a fall-through to a laxer default.
    """
    owner, name = repository.split("/", 1)
    url = f"/repos/{owner}/{name}/contents/{POLICY_PATH}?ref={default_branch}"
    status, text = _policy_get(
        gh, state, url, absent_policy_key(repository), ABSENT_REPO_POLICY_TTL
    )
    source = f"{repository}:{POLICY_PATH}@{default_branch}"
    if status == 404:
        org_url = f"/repos/{owner}/.github/contents/{ORG_POLICY_PATH}"
        org_key = absent_policy_key(f"{owner}/.github")
        status, text = _policy_get(gh, state, org_url, org_key, ABSENT_ORG_POLICY_TTL)
        source = f"{owner}/.github:{ORG_POLICY_PATH}"
    if status == 404:
        return LoadedPolicy(DEFAULT_POLICY, "built-in default")
    # The content's digest makes a changed policy a different source: check runs written
    # under the old one are recognisably stale.
    source += f" (sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]})"
    try:
        return LoadedPolicy(parsed_policy(text, source), source)
    except PolicyError as error:
        return LoadedPolicy(None, source, error)


def absent_policy_key(repository: str) -> str:
    """The shared-state key remembering that `repository` has no policy file."""
    return f"policy-absent:{repository.lower()}"


def forget_policy_absence(state: SharedState, repository: str) -> None:
    """A push (or an installation change) may have added `repository`'s policy file. The
    generation moves on, so an absence recorded by a read that began before this push
    (GitHub answered 404 just before the file landed) no longer counts."""
    state.incr(_generation_key(absent_policy_key(repository)), GENERATION_TTL)


def _generation_key(absent_key: str) -> str:
    return f"{absent_key}:generation"


def _policy_get(
    gh: GitHub, state: SharedState, url: str, absent_key: str, absent_ttl: float
) -> tuple[int, str]:
    generation = state.get(_generation_key(absent_key)) or "0"
    if state.get(absent_key) == generation:
        return 404, ""
    status, text = conditional_get(gh, state, url, accept=RAW)
    if status == 404:
        state.set(absent_key, generation, absent_ttl)
    return status, text


@functools.lru_cache(maxsize=256)
def parsed_policy(text: str, source: str) -> Policy:
    """The policy in `text`, parsed once per process per distinct file (a 304 returns the
    same text, and parsing is most of a warm evaluation's pure CPU). The model is frozen
    and the evaluator pure, so sharing it is safe; errors are raised, never cached."""
    return load_policy(text, source)


def pages(
    fetch: Callable[[int], Any], limit: int, key: str | None = None
) -> Iterator[dict[str, Any]]:
    """Items of a paginated list endpoint, `PER_PAGE` at a time, up to `limit` items.

    `key` names the list inside an object body (`{"repositories": [...]}`).
    """
    page, seen = 1, 0
    while seen < limit:
        with github_errors():
            response = fetch(page)
        body = response.json()
        items = body.get(key, []) if key else body
        yield from items
        seen += len(items)
        if len(items) < PER_PAGE or 'rel="next"' not in response.headers.get("link", ""):
            return
        page += 1


def conditional_pages(
    gh: GitHub, state: SharedState, path: str, limit: int, ttl: float
) -> Iterator[dict[str, Any]]:
    """Items of a paginated list endpoint, each page a conditional GET (`conditional_get`):
    a page that has not changed since it was last read is a 304 and costs no rate limit.

    A 304 carries no `Link` header, so a full page is followed by the next one (an exact
    multiple of `PER_PAGE` costs one more, cacheable, request). A 404 is GoneError.
    """
    page, seen = 1, 0
    while seen < limit:
        url = _page_url(path, page)
        status, text = conditional_get(gh, state, url, ttl=ttl)
        if status == 404:
            raise GoneError(f"GitHub answered 404 for {path.partition('?')[0]}")
        items = json.loads(text)
        yield from items
        seen += len(items)
        if len(items) < PER_PAGE:
            return
        page += 1


STABLE_ATTEMPTS = 3


def _page_url(path: str, page: int) -> str:
    separator = "&" if "?" in path else "?"
    return f"{path}{separator}per_page={PER_PAGE}&page={page}"


def stable_pages(
    gh: GitHub, state: SharedState, path: str, limit: int, ttl: float
) -> list[dict[str, Any]]:
    """Every item of a paginated list that may change while it is read (the open pull
    requests: one closed while page 1 is read moves an item of page 2 onto page 1, and
    a plain read misses it). After the last page, every earlier page is asked for again,
    conditionally: a 304 for each proves the list held still (free). Otherwise it is read
    again, and after `STABLE_ATTEMPTS` a TransientError: never a list that may lack one."""
    for _ in range(STABLE_ATTEMPTS):
        urls: list[str] = []
        items: list[dict[str, Any]] = []
        for page in range(1, limit // PER_PAGE + 2):
            url = _page_url(path, page)
            status, text = conditional_get(gh, state, url, ttl=ttl)
            if status == 404:
                raise GoneError(f"GitHub answered 404 for {path.partition('?')[0]}")
            found = json.loads(text)
            urls.append(url)
            items.extend(found)
            if len(found) < PER_PAGE or len(items) >= limit:
                break
        if all(conditional_get(gh, state, url, ttl=ttl)[0] == 304 for url in urls[:-1]):
            return items
    raise TransientError(f"{path.partition('?')[0]} kept changing while it was listed")


def account(user: dict[str, Any] | None) -> Account | None:
    if not user:
        return None
    return Account(login=user["login"], type=user.get("type") or "User")


def head_key(repository: str, pull: dict[str, Any]) -> str:
    """The shared-state key of a head's cached commits and files. "head2": entries carry
    git identities and trailers (an older entry lacks them)."""
    return f"head2:{repository}#{pull['number']}:{pull['head']['sha']}:{pull['base']['sha']}"


def known_head(state: SharedState, repository: str, pull: dict[str, Any]) -> bool:
    """Are the commits and files of `pull`'s head (against its base) already cached? Only
    then can a copy without the commit and file counts (a list's entry) be judged."""
    return state.get(head_key(repository, pull)) is not None


def head_facts(
    gh: GitHub, state: SharedState, repository: str, pull: dict[str, Any]
) -> tuple[tuple[Commit, ...], tuple[str, ...], bool]:
    """The commits and changed paths of a head, cached: they never change for a head+base."""
    owner, name = repository.split("/", 1)
    number = pull["number"]
    key = head_key(repository, pull)
    cached = state.get(key)
    if cached:
        entry = json.loads(cached)
        commits = tuple(
            Commit(
                sha=c["sha"],
                author=Account(**c["author"]) if c["author"] else None,
                committer=Account(**c["committer"]) if c["committer"] else None,
                message=c["message"],
                author_identity=c["author_identity"],
                committer_identity=c["committer_identity"],
                trailers=tuple((k, v) for k, v in c["trailers"]),
            )
            for c in entry["commits"]
        )
        return commits, tuple(entry["files"]), entry["complete"]

    # GitHub lists the pull request's commits and files as they are *now*: a push since
    # `pull` was read would file another head's facts under this head's key. The files
    # are read first and the commits last, and the last commit must be `pull`'s head: then
    # neither list can be from a later head.
    file_items = list(
        pages(
            lambda page: gh.rest.pulls.list_files(
                owner, name, number, per_page=PER_PAGE, page=page
            ),
            MAX_FILES,
        )
    )
    commit_items = list(
        pages(
            lambda page: gh.rest.pulls.list_commits(
                owner, name, number, per_page=PER_PAGE, page=page
            ),
            MAX_COMMITS,
        )
    )
    listed_head = commit_items[-1]["sha"] if commit_items else None
    capped = len(commit_items) >= MAX_COMMITS
    if not capped and listed_head != pull["head"]["sha"]:
        raise TransientError(
            f"pull request #{number} moved from {pull['head']['sha'][:7]} while its commits"
            " were read"
        )
    commits = tuple(commit_facts(item) for item in commit_items)
    files: list[str] = []
    for item in file_items:
        files.append(item["filename"])
        if item.get("previous_filename"):
            files.append(item["previous_filename"])
    # A copy without the counts (a list's entry) raises here: it never reads as complete.
    complete = len(commit_items) >= int(pull["commits"]) and len(file_items) >= int(
        pull["changed_files"]
    )
    entry = {
        "commits": [
            {
                "sha": c.sha,
                "author": c.author.__dict__ if c.author else None,
                "committer": c.committer.__dict__ if c.committer else None,
                "message": c.message,
                "author_identity": c.author_identity,
                "committer_identity": c.committer_identity,
                "trailers": c.trailers,
            }
            for c in commits
        ],
        "files": files,
        "complete": complete,
    }
    if not capped:
        # GitHub's capped list does not reach the head: nothing proves these facts are
        # this head's, so they are used once (incomplete, failing closed) and not kept.
        state.set(key, json.dumps(entry), HEAD_TTL)
    return commits, tuple(files), complete


def commit_facts(item: dict[str, Any]) -> Commit:
    """A commit of GitHub's pull request commit list: linked accounts, the git identities
    as written, and the message's trailers (read from the whole message)."""
    data = item.get("commit") or {}
    message = data.get("message") or ""
    return Commit(
        sha=item["sha"],
        author=account(item.get("author")),
        committer=account(item.get("committer")),
        message=message[:MESSAGE_CHARS],
        author_identity=_identity(data.get("author")),
        committer_identity=_identity(data.get("committer")),
        trailers=parse_trailers(message),
    )


def _identity(person: dict[str, Any] | None) -> str:
    if not person:
        return ""
    return f"{person.get('name') or ''} <{person.get('email') or ''}>"[:300]


def reviewer_facts(
    gh: GitHub, state: SharedState, repository: str, login: str, teams: frozenset[str]
) -> ReviewerFacts:
    """A reviewer's repository role and memberships of the policy's teams, checked live."""
    owner, name = repository.split("/", 1)
    key = f"perm:{repository}:{login.lower()}"
    permission = state.get(key)
    if permission is None:
        try:
            with github_errors():
                data = gh.rest.repos.get_collaborator_permission_level(owner, name, login).json()
            permission = data.get("role_name") or data.get("permission") or "none"
        except GoneError:
            permission = "none"
        state.set(key, permission, REVIEWER_TTL)
    member_of = set()
    for team in sorted(teams):
        org, slug = team.split("/", 1)
        team_key = f"team:{team.lower()}:{login.lower()}"
        cached = state.get(team_key)
        if cached is None:
            try:
                with github_errors():
                    membership = gh.rest.teams.get_membership_for_user_in_org(
                        org, slug, login
                    ).json()
                cached = "1" if membership.get("state") == "active" else "0"
            except GoneError:
                cached = "0"
            state.set(team_key, cached, REVIEWER_TTL)
        if cached == "1":
            member_of.add(team)
    return ReviewerFacts(permission=permission, teams=frozenset(member_of))


def latest_reviews(items: list[dict[str, Any]]) -> tuple[Review, ...]:
    reviews = []
    for item in items:
        user = account(item.get("user"))
        if user is None or not item.get("commit_id"):
            continue
        submitted = item.get("submitted_at")
        reviews.append(
            Review(
                id=int(item["id"]),
                user=user,
                state=item["state"],
                commit_id=item["commit_id"],
                submitted_at=datetime.fromisoformat(submitted.replace("Z", "+00:00"))
                if submitted
                else None,
            )
        )
    return tuple(reviews)


def gather_pull_request(
    gh: GitHub,
    state: SharedState,
    repository: str,
    pull: dict[str, Any],
    policy: Policy,
    *,
    app_bot_login: str,
    agent_link: AgentLink | None,
) -> PullRequestFacts:
    """Every fact the evaluator needs about one pull request, at its current head."""
    owner, name = repository.split("/", 1)
    number = pull["number"]
    commits, files, complete = head_facts(gh, state, repository, pull)
    # Conditional: a push leaves the reviews as they were, and GitHub's 304 says so for free.
    reviews = latest_reviews(
        list(
            conditional_pages(
                gh, state, f"/repos/{owner}/{name}/pulls/{number}/reviews", 10_000, REVIEWS_TTL
            )
        )
    )
    author = account(pull["user"]) or Account("ghost")
    teams = policy_teams(policy)
    candidates = {
        review.user.login
        for review in reviews
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
        and not review.user.is_bot
        and review.user.login.lower() != author.login.lower()
    }
    reviewers = {
        login: reviewer_facts(gh, state, repository, login, teams) for login in sorted(candidates)
    }
    return PullRequestFacts(
        repository=repository,
        number=number,
        author=author,
        head_sha=pull["head"]["sha"],
        head_ref=pull["head"]["ref"],
        base_ref=pull["base"]["ref"],
        title=pull.get("title") or "",
        body=(pull.get("body") or "")[:BODY_CHARS],
        draft=bool(pull.get("draft")),
        labels=tuple(label["name"] for label in pull.get("labels") or ()),
        commits=commits,
        files=files,
        reviews=reviews,
        reviewers=reviewers,
        app_bot_login=app_bot_login,
        agent_link=agent_link,
        complete=complete,
        now=datetime.now(UTC),
    )


def policy_teams(policy: Policy) -> frozenset[str]:
    """Every team any merge rule names: the only memberships worth looking up."""
    teams: set[str] = set()
    for rule in policy.merge.rules:
        teams.update(rule.require.teams or ())
    return frozenset(teams)
