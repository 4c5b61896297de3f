"""A small, deterministic YAML emitter for the documents the gate renders (workflows).

PyYAML cannot write comments, and a pinned action needs one: `uses: actions/checkout@<sha>  # v4.2.2`
is how reviewers and Dependabot read the version. Key order is insertion order (name, on,
permissions, jobs read top-down), strings are quoted only when YAML would misread them, and
multi-line strings are block literals so scripts diff line by line.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.policy.memo import Bounded


@dataclass(frozen=True)
class Commented:
    """A scalar followed by a trailing comment."""

    value: str
    comment: str


_PLAIN = re.compile(r"[A-Za-z0-9_$(./][A-Za-z0-9_ .,/$(){}\[\]<>=!&|'*+@~^-]*")
# Scalars YAML 1.1 (PyYAML, and GitHub's parser for `on`) would read as something other than a string.
_SPECIAL = re.compile(
    r"(?i)(y|yes|n|no|true|false|on|off|null|~|[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?|0x[0-9a-f]+|0o?[0-7]+|\.inf|\.nan)"
)


def dump(document: Mapping[str, Any]) -> str:
    """Render a mapping as YAML text ending in one newline.

    Issue 14: the repositories of an organisation render mostly identical workflows (in the
    repository modes only the two that name the repository differ), so a document is rendered once
    per process and the same text returned for an equal document. The key is the document's repr
    (C-fast, and different for any difference the text could show: types, order, values); a repr
    showing an object's address is never a key, since the address may be reused by another object.
    """
    key = repr(document)
    if " object at 0x" in key:
        return _render(document)
    return _RENDERED.get(key, lambda: _render(document))


def _render(document: Mapping[str, Any]) -> str:
    return "\n".join(_mapping(document, 0)) + "\n"


_RENDERED: Bounded[str] = Bounded(512)  # documents; a few tens of megabytes at most


def scalar(value: Any) -> str:
    if type(value) is str:  # most scalars, and every key
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, Commented):
        return f"{scalar(value.value)}  # {value.comment}"
    return _string(str(value))


# Workflows of many repositories repeat the same keys and values: each string is quoted (or not)
# once per process (issue 14). Bounded; a string's form never changes.
@functools.lru_cache(maxsize=65536)
def _string(text: str) -> str:
    plain = (
        _PLAIN.fullmatch(text) is not None
        and _SPECIAL.fullmatch(text) is None
        and ": " not in text
        and " #" not in text
        and not text.endswith((" ", ":"))
        and not (text.startswith("{") or text.startswith("["))
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def _key(key: Any) -> str:
    return scalar(key)


def _is_block_text(value: Any) -> bool:
    # A literal block cannot start with spaces (that needs an indentation indicator) or hold
    # carriage returns; such rare strings are emitted double-quoted instead.
    return (
        isinstance(value, str)
        and "\n" in value.rstrip("\n")
        and not value.startswith((" ", "\t"))
        and "\r" not in value
        and not value.endswith("\n\n")
    )


def _block(text: str, indent: int) -> list[str]:
    # "|" keeps the final newline, "|-" strips it: the rendered value equals the input exactly.
    header = "|" if text.endswith("\n") else "|-"
    pad = " " * indent
    body = [f"{pad}{line}" if line else "" for line in text.rstrip("\n").split("\n")]
    return [header, *body]


def _mapping(document: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in document.items():
        lines += _entry(f"{pad}{_key(key)}:", value, indent)
    return lines


def _entry(prefix: str, value: Any, indent: int) -> list[str]:
    if type(value) is not str:  # most values are strings: skip the slow abstract-class checks
        if isinstance(value, Mapping):
            if not value:
                return [f"{prefix} {{}}"]
            return [prefix, *_mapping(value, indent + 2)]
        if isinstance(value, Sequence):
            if not value:
                return [f"{prefix} []"]
            return [prefix, *_sequence(value, indent + 2)]
    if _is_block_text(value):
        header, *body = _block(value, indent + 2)
        return [f"{prefix} {header}", *body]
    return [f"{prefix} {scalar(value)}"]


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            # The first key shares the dash's line; the rest align under it.
            first, *rest = _mapping(item, indent + 2)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        elif isinstance(item, Sequence) and not isinstance(item, str) and item:
            first, *rest = _sequence(item, indent + 2)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        elif _is_block_text(item):
            header, *body = _block(item, indent + 2)
            lines += [f"{pad}- {header}", *body]
        else:
            empty = "{}" if isinstance(item, Mapping) else "[]" if isinstance(item, list) else None
            lines += [f"{pad}- {empty or scalar(item)}"]
    return lines
