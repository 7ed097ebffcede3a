"""What `foureyes policy check` adds to the server's validation of a policy file.

Errors: a `tokens` rule that names a permission on the server's floor. The server
accepts such a file (its merge rules stand) and the broker never grants the permission;
the author should still learn that the rule cannot do what it says.

Warnings about a valid policy that probably does not say what its author meant:

`*` stops at `/` (app/policy/globs.py). Workload-identity subjects are full of slashes
(`repo:acme/agents:ref:refs/heads/main`), so `repo:acme/agents:*`, the pattern every
cloud provider's OIDC guide teaches, never matches a branch: it wants `**`.
"""

from __future__ import annotations

import re

import yaml

from app.policy.load import ErrorItem
from app.policy.permissions import floor_violation

# A lone `*` (not part of `**`) with text before or after it that a `/` could split.
LONE_STAR = re.compile(r"(?<!\*)\*(?!\*)")


def subject_glob_warnings(text: str) -> list[ErrorItem]:
    """For each `tokens[i].subject` and `tokens[i].claims.*` glob with a lone `*`, a
    warning (key path, message, line). `text` must already load as a valid policy."""
    warnings: list[ErrorItem] = []
    for index, rule in _token_rules(text):
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


def floor_errors(text: str) -> list[ErrorItem]:
    """For each `tokens[i].permissions` that names a floored permission, an error.
    `text` must already load as a valid policy."""
    errors: list[ErrorItem] = []
    for index, rule in _token_rules(text):
        node = _value(rule, "permissions")
        if not isinstance(node, yaml.MappingNode):
            continue
        asked = {str(k.value): str(v.value) for k, v in node.value}
        floored = floor_violation(asked)
        if floored:
            errors.append(
                (
                    f"tokens[{index}].permissions",
                    f"{floored} is never granted to agents (the server's floor): the broker "
                    "refuses it whatever this rule says",
                    node.start_mark.line + 1,
                )
            )
    return errors


def _token_rules(text: str) -> list[tuple[int, yaml.Node]]:
    """(index, node) of each rule under `tokens`, as the YAML composes them (with lines)."""
    tokens = _value(yaml.compose(text, Loader=yaml.SafeLoader), "tokens")
    return list(enumerate(tokens.value)) if isinstance(tokens, yaml.SequenceNode) else []


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for name, value in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key:
            return value
    return None
