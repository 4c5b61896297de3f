"""What a change does to the desired state: two plans compared resource by resource, like
`pulumi preview --diff`, so reviewers read the effect of a policy or code change, not just the code.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class _Absent:
    """A property that one side of the comparison does not have."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
# The resource fields compared property by property; the URN is the identity.
_COMPARED_FIELDS = ("type", "name", "parent", "custom", "inputs", "options", "outputs")


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "inputs.requiredStatusChecks[0].contexts[2]"
    old: Any  # ABSENT when added
    new: Any  # ABSENT when removed


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class PlanDiff:
    before: str  # "project/stack (root hash)"
    after: str
    added: tuple[dict[str, Any], ...] = ()
    removed: tuple[dict[str, Any], ...] = ()
    changed: tuple[ResourceChange, ...] = ()
    unchanged: int = 0
    outputs: tuple[Change, ...] = ()
    invokes: tuple[Change, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs or self.invokes)


def diff_plans(a: dict[str, Any], b: dict[str, Any]) -> PlanDiff:
    """Plan `a` (before) against plan `b` (after), matching resources by URN."""
    before = {r["urn"]: r for r in a.get("resources", [])}
    after = {r["urn"]: r for r in b.get("resources", [])}
    changed: list[ResourceChange] = []
    unchanged = 0
    for urn in sorted(before.keys() & after.keys()):
        old, new = before[urn], after[urn]
        if old == new:
            unchanged += 1
            continue
        changes = tuple(
            change
            for name in _COMPARED_FIELDS
            for change in _compare(name, old.get(name, ABSENT), new.get(name, ABSENT))
        )
        changed.append(ResourceChange(urn, str(new.get("type", "")), changes))
    return PlanDiff(
        before=_label(a),
        after=_label(b),
        added=tuple(after[urn] for urn in sorted(after.keys() - before.keys())),
        removed=tuple(before[urn] for urn in sorted(before.keys() - after.keys())),
        changed=tuple(changed),
        unchanged=unchanged,
        outputs=tuple(_compare("", a.get("outputs", {}), b.get("outputs", {}))),
        invokes=_invoke_changes(a.get("invokes", []), b.get("invokes", [])),
    )


def _label(plan: dict[str, Any]) -> str:
    return f"{plan.get('project', '?')}/{plan.get('stack', '?')} ({plan.get('root_hash', 'no root hash')})"


def _compare(path: str, old: Any, new: Any) -> Iterator[Change]:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _compare(_join(path, key), old.get(key, ABSENT), new.get(key, ABSENT))
    elif isinstance(old, list) and isinstance(new, list) and _scalars(old) and _scalars(new):
        yield from _compare_sequences(path, old, new)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            yield from _compare(
                f"{path}[{index}]",
                old[index] if index < len(old) else ABSENT,
                new[index] if index < len(new) else ABSENT,
            )
    else:
        yield Change(path, old, new)


def _scalars(items: list[Any]) -> bool:
    return all(not isinstance(item, dict | list) for item in items)


def _compare_sequences(path: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    # Lists of plain values (required checks, file patterns) are aligned like lines of text, so
    # dropping one check reads as one removal, not as every later element being renamed.
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:  # renamed in place: one change each
            pairs = zip(range(i1, i2), range(j1, j2), strict=True)
            yield from (Change(f"{path}[{j}]", old[i], new[j]) for i, j in pairs)
            continue
        if tag in ("delete", "replace"):
            yield from (Change(f"{path}[{i}]", old[i], ABSENT) for i in range(i1, i2))
        if tag in ("insert", "replace"):
            yield from (Change(f"{path}[{j}]", ABSENT, new[j]) for j in range(j1, j2))


def _join(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _invoke_changes(old: list[Any], new: list[Any]) -> tuple[Change, ...]:
    def keyed(invokes: list[Any]) -> dict[str, Any]:
        return {json.dumps(i, sort_keys=True, ensure_ascii=False): i for i in invokes}

    before, after = keyed(old), keyed(new)
    removed = [Change("invoke", before[k], ABSENT) for k in sorted(before.keys() - after.keys())]
    added = [Change("invoke", ABSENT, after[k]) for k in sorted(after.keys() - before.keys())]
    return tuple(removed + added)


# -- rendering -------------------------------------------------------------------------------


def render_diff(d: PlanDiff) -> str:
    """The diff as text: + added, - removed, ~ changed, by URN; a summary line last."""
    lines = [f"--- {d.before}", f"+++ {d.after}"]
    for _, block in resource_blocks(d):
        lines += block
    if d.outputs:
        lines.append("Outputs:")
        lines += output_lines(d)
    if d.invokes:
        lines.append("Invokes:")
        lines += [line for change in d.invokes for line in _change_lines(change, "    ")]
    lines.append(
        f"{len(d.added)} to add, {len(d.changed)} to change, {len(d.removed)} to delete, "
        f"{d.unchanged} unchanged"
    )
    return "\n".join(lines) + "\n"


def resource_blocks(d: PlanDiff) -> list[tuple[str, list[str]]]:
    """(urn, lines) of every added, removed and changed resource, by URN: render_diff's body."""
    entries: list[tuple[str, list[str]]] = []
    entries += [(r["urn"], _added_lines(r)) for r in d.added]
    entries += [(r["urn"], [f"- {r['urn']}  ({r.get('type', '?')})"]) for r in d.removed]
    entries += [(c.urn, _changed_lines(c)) for c in d.changed]
    return sorted(entries, key=lambda entry: entry[0])


def output_lines(d: PlanDiff) -> list[str]:
    """The stack output changes as render_diff shows them under "Outputs:"."""
    return [line for change in d.outputs for line in _change_lines(change, "    ")]


def _added_lines(resource: dict[str, Any]) -> list[str]:
    lines = [f"+ {resource['urn']}  ({resource.get('type', '?')})"]
    for path, value in _leaves("inputs", resource.get("inputs", {})):
        lines += _change_lines(Change(path, ABSENT, value), "    ")
    # Options at their defaults say nothing; the ones that are set matter (protect, provider...).
    for key, value in sorted(resource.get("options", {}).items()):
        if value:
            lines += _change_lines(Change(_join("options", key), ABSENT, value), "    ")
    return lines


def _changed_lines(change: ResourceChange) -> list[str]:
    lines = [f"~ {change.urn}  ({change.type})"]
    for item in change.changes:
        lines += _change_lines(item, "    ")
    return lines


def _leaves(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(_join(path, key), value[key])
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(f"{path}[{index}]", item)
    else:
        yield path, value


def _change_lines(change: Change, indent: str) -> list[str]:
    old, new = change.old, change.new
    symbol = "+" if old is ABSENT else "-" if new is ABSENT else "~"
    if _is_text(old) and _is_text(new) and (_multiline(old) or _multiline(new)):
        body = _line_diff(old, new)
        return [f"{indent}{symbol} {change.path}:"] + [f"{indent}    {line}" for line in body]
    if symbol == "+":
        return [f"{indent}+ {change.path}: {_show(new)}"]
    if symbol == "-":
        return [f"{indent}- {change.path}: {_show(old)}"]
    return [f"{indent}~ {change.path}: {_show(old)} → {_show(new)}"]


def _is_text(value: Any) -> bool:
    return value is ABSENT or isinstance(value, str)


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _line_diff(old: Any, new: Any) -> list[str]:
    before = old.splitlines() if isinstance(old, str) else []
    after = new.splitlines() if isinstance(new, str) else []
    return list(difflib.unified_diff(before, after, "before", "after", lineterm=""))


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
