"""The one glob dialect of the policy file, used for paths, branches, logins, labels and more.

- `*` matches any run of characters within one `/`-separated segment;
- `**` matches across segments; `**/` also matches no directory at all, so
  `**/*.py` matches `setup.py` and `src/app/main.py`;
- `?` matches one character other than `/`;
- everything else is literal, including `[` and `]`: logins such as
  `copilot-swe-agent[bot]` must match themselves, not a character class.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def _compile(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    flags = re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE
    return re.compile("".join(parts), flags)


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Does `value` match the glob `pattern` (whole value)? See the module docstring."""
    return _compile(pattern, case_sensitive).fullmatch(value) is not None


def any_match(patterns: tuple[str, ...], value: str, *, case_sensitive: bool = True) -> bool:
    """Does `value` match at least one of `patterns`?"""
    return any(glob_match(p, value, case_sensitive=case_sensitive) for p in patterns)


def login_match(pattern: str, login: str) -> bool:
    """GitHub logins are case-insensitive, so login globs are too."""
    return glob_match(pattern, login, case_sensitive=False)
