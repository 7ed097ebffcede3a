"""Warnings about a valid policy that probably does not say what its author meant.

`*` stops at `/` (app/policy/globs.py). Workload-identity subjects are full of slashes
(`repo:acme/agents:ref:refs/heads/main`), so `repo:acme/agents:*`, the pattern every
cloud provider's OIDC guide teaches, never matches a branch: it wants `**`.
"""

from __future__ import annotations

import re

import yaml

from app.policy.load import ErrorItem

# A lone `*` (not part of `**`) with text before or after it that a `/` could split.
LONE_STAR = re.compile(r"(?<!\*)\*(?!\*)")


def subject_glob_warnings(text: str) -> list[ErrorItem]:
    """For each `tokens[i].subject` and `tokens[i].claims.*` glob with a lone `*`, a
    warning (key path, message, line). `text` must already load as a valid policy."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    tokens = _value(root, "tokens")
    if not isinstance(tokens, yaml.SequenceNode):
        return []
    warnings: list[ErrorItem] = []
    for index, rule in enumerate(tokens.value):
        globs = [(f"tokens[{index}].subject", _value(rule, "subject"))]
        claims = _value(rule, "claims")
        if isinstance(claims, yaml.MappingNode):
            globs += [(f"tokens[{index}].claims.{k.value}", v) for k, v in claims.value]
        for path, node in globs:
            if isinstance(node, yaml.ScalarNode) and LONE_STAR.search(node.value):
                suggestion = LONE_STAR.sub("**", node.value)
                warnings.append(
                    (
                        path,
                        f"warning: '*' does not match '/', so {node.value!r} matches no value "
                        f"with a '/' where the '*' is; write {suggestion!r} to match any",
                        node.start_mark.line + 1,
                    )
                )
    return warnings


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for name, value in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key:
            return value
    return None
