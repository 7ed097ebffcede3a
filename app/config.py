"""One frozen, typed settings object, built from the environment (and `.env`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from app.errors import ConfigError

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class TrustedIssuer:
    """A workload-identity issuer the token broker accepts JWTs from."""

    issuer: str
    jwks_uri: str | None = None
    audience: str | None = None


@dataclass(frozen=True)
class Settings:
    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    github_api_url: str = "https://api.github.com"
    foureyes_url: str = "http://localhost:3000"
    database_url: str = "sqlite:///instance/foureyes.sqlite"
    redis_url: str | None = None
    check_name: str = "foureyes"
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    admin_token: str | None = field(default=None, repr=False)
    github_client_id: str | None = None
    github_client_secret: str | None = field(default=None, repr=False)
    instance_path: Path = Path("instance")
    # Where signed checkpoints of the audit chain's head are appended (app/audit/anchor.py).
    audit_anchor_path: Path = Path("instance/audit-anchors.jsonl")
    # Celery runs tasks inline (demo and unit tests); never in production.
    eager: bool = False

    @property
    def setup_mode(self) -> bool:
        """No APP_ID yet: serve the registration page only."""
        return self.app_id is None

    @property
    def broker_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{(self.instance_path / 'broker.sqlite').resolve()}"

    @property
    def audience(self) -> str:
        return self.foureyes_url.rstrip("/")

    def require_runnable(self) -> None:
        """Refuse to run a live app without the secrets it needs."""
        if self.setup_mode:
            return
        if not self.webhook_secret:
            raise ConfigError("WEBHOOK_SECRET is required when APP_ID is set")
        if not self.private_key:
            raise ConfigError("PRIVATE_KEY or PRIVATE_KEY_PATH is required when APP_ID is set")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Read settings from `environ` (default: os.environ) over an optional `.env` file."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update(read_env_file(Path(env_file)))
        values.update(os.environ if environ is None else environ)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        app_id = get("APP_ID")
        if app_id is not None and not app_id.isdigit():
            raise ConfigError(f"APP_ID must be a number, got {app_id!r}")
        private_key = get("PRIVATE_KEY")
        key_path = get("PRIVATE_KEY_PATH")
        if private_key is None and key_path is not None:
            try:
                private_key = Path(key_path).read_text()
            except OSError as exc:
                raise ConfigError(f"PRIVATE_KEY_PATH {key_path!r}: {exc.strerror}") from exc
        if private_key is not None:
            private_key = private_key.replace("\\n", "\n")
        instance_path = Path(get("FOUREYES_INSTANCE_PATH") or "instance")
        database_url = get("DATABASE_URL") or f"sqlite:///{instance_path / 'foureyes.sqlite'}"
        return cls(
            app_id=int(app_id) if app_id else None,
            private_key=private_key,
            webhook_secret=get("WEBHOOK_SECRET"),
            github_api_url=(get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            foureyes_url=(get("FOUREYES_URL") or "http://localhost:3000").rstrip("/"),
            database_url=database_url,
            redis_url=get("REDIS_URL"),
            check_name=get("FOUREYES_CHECK_NAME") or "foureyes",
            trusted_issuers=parse_trusted_issuers(get("FOUREYES_TRUSTED_ISSUERS")),
            admin_token=get("FOUREYES_ADMIN_TOKEN"),
            github_client_id=get("GITHUB_CLIENT_ID"),
            github_client_secret=get("GITHUB_CLIENT_SECRET"),
            instance_path=instance_path,
            audit_anchor_path=Path(
                get("FOUREYES_AUDIT_ANCHOR_PATH") or instance_path / "audit-anchors.jsonl"
            ),
            eager=get("FOUREYES_EAGER") == "1",
        )


def parse_trusted_issuers(raw: str | None) -> tuple[TrustedIssuer, ...]:
    """Parse FOUREYES_TRUSTED_ISSUERS: a JSON list of {issuer, jwks_uri?, audience?}."""
    if raw is None:
        return ()
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"FOUREYES_TRUSTED_ISSUERS is not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise ConfigError("FOUREYES_TRUSTED_ISSUERS must be a JSON list")
    issuers = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("issuer"), str):
            raise ConfigError(f"FOUREYES_TRUSTED_ISSUERS[{index}] needs an 'issuer' string")
        unknown = set(item) - {"issuer", "jwks_uri", "audience"}
        if unknown:
            raise ConfigError(f"FOUREYES_TRUSTED_ISSUERS[{index}]: unknown keys {sorted(unknown)}")
        for key in ("issuer", "jwks_uri"):
            if item.get(key) is not None:
                require_secure_url(item[key], f"FOUREYES_TRUSTED_ISSUERS[{index}].{key}")
        issuers.append(
            TrustedIssuer(
                issuer=item["issuer"], jwks_uri=item.get("jwks_uri"), audience=item.get("audience")
            )
        )
    return tuple(issuers)


def require_secure_url(url: str, where: str) -> None:
    """https everywhere; plain http only for loopback hosts (tests, local issuers)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise ConfigError(f"{where}: {url!r} must be https (http only for loopback)")


def read_env_file(path: Path) -> dict[str, str]:
    """A minimal `.env` reader: KEY=VALUE lines, optional quotes, # comments."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values
