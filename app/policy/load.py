"""Parse a policy file's text into a `Policy`, reporting errors with key paths and lines.

The YAML is read with PyYAML's safe loader (no Python objects) and further hardened:
aliases are refused outright (no "billion laughs"), duplicate keys are errors (a
second `merge:` silently replacing the first would change the policy unseen), YAML 1.1's
other booleans (`yes`, `no`, `on`, `off`) are errors, not `true`/`false` (a reader of
`gate_humans: off` may not know it is a boolean, and YAML 1.2 reads it as text), and
the text is capped at 256 KiB.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from app.errors import PolicyError
from app.policy.schema import DEFAULT_POLICY, Policy

__all__ = ["DEFAULT_POLICY", "MAX_POLICY_BYTES", "format_path", "load_policy"]

MAX_POLICY_BYTES = 256 * 1024

ErrorItem = tuple[str, str, int | None]


class _RejectedNode(Exception):
    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.line = mark.line + 1 if mark is not None else None


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases before they are composed and booleans other
    than `true` and `false`."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _RejectedNode("YAML aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        if node.value.lower() not in ("true", "false"):
            raise _RejectedNode(
                f"{node.value!r} is a YAML 1.1 boolean: write true or false (or quote it for text)",
                node.start_mark,
            )
        return node.value.lower() == "true"


_Loader.add_constructor("tag:yaml.org,2002:bool", _Loader.construct_yaml_bool)


def load_policy(text: str, source: str) -> Policy:
    """Parse and validate `text`, the content of the policy file named by `source`.

    An empty document (or one holding only comments) is the built-in default.
    Raises `PolicyError` whose `errors` are `(key path, message, line)`, e.g.
    `("merge.rules[1].require.aprovals", "unknown key", 12)`; the line is 1-based
    and `None` when it cannot be told.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_POLICY_BYTES:
        raise _error(source, [("", f"the file is larger than {MAX_POLICY_BYTES} bytes", None)])
    root, data = _parse(text, source)
    if data is None:
        return DEFAULT_POLICY
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise _error(source, [("", f"the document must be a mapping, not {kind}", _line(root))])
    duplicates = list(_duplicate_keys(root, ""))
    if duplicates:
        raise _error(source, duplicates)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise _error(source, [_describe(err, root) for err in exc.errors()]) from None


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    loader = _Loader(text)
    root = None
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except _RejectedNode as exc:
        path = _path_at(root, exc.mark, "") if root is not None else None
        raise _error(source, [(path or "", exc.message, exc.line)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise _error(
            source, [("", f"YAML syntax error: {problem}{column}", _mark_line(mark))]
        ) from None
    except yaml.YAMLError as exc:
        raise _error(source, [("", f"YAML error: {exc}", None)]) from None
    except RecursionError:
        raise _error(source, [("", "the document is nested too deeply", None)]) from None
    finally:
        loader.dispose()
    return root, data


def _error(source: str, errors: list[ErrorItem]) -> PolicyError:
    errors = sorted(errors, key=lambda error: (error[2] or 0, error[0]))
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return PolicyError(f"{source}: invalid policy ({count} {noun})", errors)


def _mark_line(mark: yaml.Mark | None) -> int | None:
    return mark.line + 1 if mark is not None else None


def _line(node: yaml.Node | None) -> int | None:
    return _mark_line(node.start_mark) if node is not None else None


def format_path(loc: tuple[Any, ...]) -> str:
    """`("merge", "rules", 1, "require")` -> `merge.rules[1].require`."""
    text = ""
    for index, part in enumerate(loc):
        is_key = index + 1 < len(loc) and loc[index + 1] == _KEY
        if part == _KEY:
            continue
        if isinstance(part, int) and not is_key:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_KEY = "[key]"  # pydantic's marker: the error is about a mapping's key, not its value
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "tuple_type": "should be a list",
    "list_type": "should be a list",
    "dict_type": "should be a mapping",
    "model_type": "should be a mapping",
    "model_attributes_type": "should be a mapping",
    "string_type": "should be a string",
    "int_type": "should be a whole number",
    "bool_type": "should be true or false",
}


def _describe(err: Any, root: yaml.Node | None) -> ErrorItem:
    loc = tuple(err["loc"])
    message = _MESSAGES.get(err["type"]) or err["msg"].removeprefix("Value error, ")
    message = message.replace("Input should", "should", 1)
    if loc and loc[-1] == _KEY:
        message = f"invalid key: {message}"
    data_loc = tuple(part for part in loc if part != _KEY)
    return format_path(loc), message, _line(_find(root, data_loc))


def _find(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The node for `loc`, as deep as it exists: the key's own node for a mapping key
    (an unknown key points at its line), the parent when a required key is missing."""
    for depth, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(
                (
                    (key, value)
                    for key, value in node.value
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part)
                ),
                None,
            )
            if pair is None:
                return node
            node = pair[0] if depth == len(loc) - 1 else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _path_at(node: yaml.Node, mark: yaml.Mark | None, path: str) -> str | None:
    """The key path of the value node that starts at `mark`, if one does."""
    if mark is None:
        return None
    if node.start_mark.index == mark.index and isinstance(node, yaml.ScalarNode):
        return path
    children: list[tuple[str, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        children = [
            (f"{path}.{key.value}" if path else str(key.value), value) for key, value in node.value
        ]
    elif isinstance(node, yaml.SequenceNode):
        children = [(f"{path}[{index}]", item) for index, item in enumerate(node.value)]
    for child_path, child in children:
        found = _path_at(child, mark, child_path)
        if found is not None:
            return found
    return None


def _duplicate_keys(node: yaml.Node, path: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            child = f"{path}.{name}" if path else name
            if name in seen:
                yield child, "duplicate key", _line(key)
            seen.add(name)
            yield from _duplicate_keys(value, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, f"{path}[{index}]")
