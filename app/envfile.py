"""Write settings into a `.env` file that only its owner can read, with no window where
it is readable by others: the new content goes to a file created 0600, which then
atomically replaces `.env`. Lines that set other variables are kept as they were.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# A key file named by PRIVATE_KEY_PATH would shadow nothing (PRIVATE_KEY wins) but would
# mislead whoever reads `.env`: an inline key replaces it.
SUPERSEDES = {"PRIVATE_KEY": ("PRIVATE_KEY_PATH",)}


def _key_of(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    return stripped.partition("=")[0].strip().removeprefix("export ").strip()


def format_value(value: str) -> str:
    """One line: newlines escaped as `\\n` (which `Settings` undoes for PRIVATE_KEY), in
    double quotes when it holds spaces or `#`. The minimal reader in `app.config` knows no
    other escapes, so a value with a double quote is refused rather than mangled."""
    if '"' in value:
        raise ValueError("a .env value may not contain a double quote")
    escaped = value.replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"' if any(char in escaped for char in " #'") else escaped


def write_env(path: Path, values: dict[str, str]) -> None:
    """Set `values` in the `.env` at `path` (created if absent), mode 0600."""
    replaced = set(values)
    for key in values:
        replaced.update(SUPERSEDES.get(key, ()))
    kept: list[str] = []
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if _key_of(line) not in replaced]
    lines = [*kept, *(f"{key}={format_value(value)}" for key, value in values.items())]
    # mkstemp creates the file 0600 (whatever the umask), in the same directory so the
    # rename is atomic.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".env.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
