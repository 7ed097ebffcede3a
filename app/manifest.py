"""The GitHub App manifest (`app.yml`): what foureyes asks GitHub for, and why.

The setup page posts it to GitHub's manifest flow; `foureyes doctor` compares the
registered app's permissions and events with it. It is read when needed, never at
import: first `app.yml` in the working directory (an operator's edited copy), then the
repository root next to the package (a source checkout), then the copy shipped inside
the package (an installed wheel).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from app.errors import ConfigError

MANIFEST_NAME = "app.yml"
PACKAGE_DIR = Path(__file__).resolve().parent
# Levels of a GitHub App permission, to compare what is granted with what is needed.
PERMISSION_LEVELS = {"read": 1, "write": 2, "admin": 3}


PERMISSION_LINE = re.compile(r"^\s+(?P<name>\w+):\s*(?P<level>\w+)\s*(?:#\s*(?P<why>.*))?$")


def manifest_candidates(cwd: Path | None = None) -> tuple[Path, ...]:
    """Where `app.yml` is looked for, first match wins."""
    return (
        (cwd or Path.cwd()) / MANIFEST_NAME,
        PACKAGE_DIR.parent / MANIFEST_NAME,
        PACKAGE_DIR / MANIFEST_NAME,
    )


def manifest_path(cwd: Path | None = None) -> Path:
    for candidate in manifest_candidates(cwd):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no {MANIFEST_NAME} found (looked in the working directory and package)")


def load_manifest(cwd: Path | None = None) -> dict[str, Any]:
    """The manifest as a dict (Probot's `app.yml` format: GitHub's manifest keys)."""
    path = manifest_path(cwd)
    try:
        manifest = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ConfigError(f"{path}: the manifest must be a mapping")
    return manifest


def permission_reasons(cwd: Path | None = None) -> list[tuple[str, str, str]]:
    """(permission, level, why) for each of `app.yml`'s `default_permissions`, the why
    from the comment on its line (the manifest says why it needs each one)."""
    rows: list[tuple[str, str, str]] = []
    inside = False
    for line in manifest_path(cwd).read_text().splitlines():
        if not line.startswith(" "):
            inside = line.startswith("default_permissions:")
            continue
        found = PERMISSION_LINE.match(line) if inside else None
        if found:
            rows.append((found["name"], found["level"], (found["why"] or "").strip()))
    return rows


def needed_permissions(manifest: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (manifest.get("default_permissions") or {}).items()}


def needed_events(manifest: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(event) for event in manifest.get("default_events") or ())


def permission_covers(granted: str | None, needed: str) -> bool:
    """Whether a granted level (`read|write|admin`) is at least the needed one."""
    return PERMISSION_LEVELS.get(granted or "", 0) >= PERMISSION_LEVELS.get(needed, 99)
