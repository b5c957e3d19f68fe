"""Bounded YAML/JSON parsing for the small definition files brun-label reads (rubrics, personas).

Adapter (parses text). A rubric or persona file comes from a user, so it is untrusted: PyYAML's
``safe_load`` still expands aliases, and a few hundred bytes of nested aliases (the "billion
laughs") expand to gigabytes of nodes. Here:

* aliases and anchors are refused outright (definition files never need them);
* the text is capped at :data:`MAX_DEFINITION_BYTES` and nesting at :data:`MAX_DEPTH`;
* every error is one :class:`~brun_label.errors.InputError` line naming the file and line.

Examples
--------
>>> load_definition("a: [1, 2]", "r.yaml")
{'a': [1, 2]}
>>> load_definition("a: &x [1]\\nb: *x", "r.yaml")
Traceback (most recent call last):
...
brun_label.errors.InputError: r.yaml:1: YAML anchors and aliases are not allowed in definition files
>>> load_definition('{"a": 1}', "r.json")
{'a': 1}
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from brun_label.errors import InputError

#: Largest rubric or persona file read (2 MiB: the shipped packs are under 10 KB).
MAX_DEFINITION_BYTES = 2 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 32


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors/aliases and deep nesting while composing."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused("YAML anchors and aliases are not allowed in definition files", event)
        depth = getattr(self, "_brun_depth", 0)
        if depth >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event)
        self._brun_depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._brun_depth = depth


class _Refused(Exception):
    def __init__(self, message: str, event: Any) -> None:
        super().__init__(message)
        self.message = message
        mark = getattr(event, "start_mark", None)
        self.line = mark.line + 1 if mark is not None else None


def _json_depth_ok(value: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_json_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_json_depth_ok(v, depth + 1) for v in value)
    return True


def load_definition(text: str, source: str, *, max_bytes: int = MAX_DEFINITION_BYTES) -> Any:
    """Parse a YAML (or, for a ``.json`` source, JSON) definition file with the bounds above."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise InputError(f"file is {size:,} bytes; definition files are capped at {max_bytes:,}", path=source)
    if source.endswith(".json"):
        try:
            raw = json.loads(text)
        except RecursionError:
            raise InputError(f"nested deeper than {MAX_DEPTH} levels", path=source) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", path=source, line=exc.lineno) from None
        if not _json_depth_ok(raw):
            raise InputError(f"nested deeper than {MAX_DEPTH} levels", path=source)
        return raw
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass: no arbitrary objects
    except _Refused as exc:
        raise InputError(exc.message, path=source, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML ({str(problem)[:200]})", path=source, line=line) from None


def _node_lines(node: Any, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            out[(*path, k)] = key.start_mark.line + 1
            _node_lines(value, (*path, k), out)
            out[(*path, k)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), out)


def load_definition_lines(text: str, source: str, *, max_bytes: int = MAX_DEFINITION_BYTES
                          ) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Like :func:`load_definition` for YAML, also returning the line of every key and item.

    >>> data, lines = load_definition_lines("a: 1\\nb:\\n  - x\\n  - y\\n", "p.yaml")
    >>> data, lines[("b",)], lines[("b", 1)]
    ({'a': 1, 'b': ['x', 'y']}, 2, 4)
    """
    data = load_definition(text, source, max_bytes=max_bytes)  # all checks, one-line errors
    lines: dict[tuple[Any, ...], int] = {}
    node = yaml.compose(text, Loader=_NoAliasLoader)  # already known to be bounded and valid
    if node is not None:
        _node_lines(node, (), lines)
    return data, lines


def line_of(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    """Return the line of ``path``, else of its nearest parent that has one.

    >>> line_of({("a",): 3}, ("a", "b", 0)), line_of({}, ("x",))
    (3, None)
    """
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())
