"""What a change does to the desired state: two plans compared resource by resource, like
`pulumi preview --diff`, so reviewers read the effect of a policy or code change, not just the code.
"""

from __future__ import annotations

import difflib
import hashlib
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


# -- for reviewers: --stat, --format markdown/json -------------------------------------------------
# A reviewer reads what a change does to policy first (checks dropped, protections weakened,
# protected resources deleted), then each resource by a short name, file bodies collapsed to a line
# count and a hash, and lists that are sets in meaning (required checks) as + and - of members.

BRANCH_PROTECTION = "github:index/branchProtection:BranchProtection"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
# Lists of plain values that are sets in meaning: their order says nothing, a member matters.
_SET_PATH = re.compile(r"^(?P<list>(?:.*\.)?(?:contexts|requiredChecks(?:\[[^\]]*\]|\.[^.\[]+)*))\[\d+\]\Z")
# Settings whose change in this direction loosens the gate: (key, old, new) — None for "anything else".
_LOOSENED = {
    "enforceAdmins": True,
    "requireCodeOwnerReviews": True,
    "dismissStaleReviews": True,
    "requireLastPushApproval": True,
    "requireConversationResolution": True,
    "requiredLinearHistory": True,
    "preventSelfReview": True,
    "strict": True,
    "allowsForcePushes": False,
    "allowsDeletions": False,
    "canAdminsBypass": False,
    # Rulesets (repository and organisation) name the same protections differently.
    "enforcement": "active",
    "strictRequiredStatusChecksPolicy": True,
    "dismissStaleReviewsOnPush": True,
    "requireCodeOwnerReview": True,
    "requiredReviewThreadResolution": True,
    "nonFastForward": True,
    "deletion": True,
}
_PROTECTIONS = ("BranchProtection", "RepositoryRuleset", "OrganizationRuleset")
STAT_WIDTH = 60  # characters of a resource's short name on a --stat line


def short_name(urn: str, kind: str = "") -> str:
    """`BranchProtection protect-main` for a 200-character URN: the type's last segment and the
    resource's name."""
    kind = kind or (urn.split("::")[2] if urn.count("::") >= 3 else "")
    return f"{kind.rsplit(':', 1)[-1]} {urn.rsplit('::', 1)[-1]}".strip()


@dataclass(frozen=True)
class PolicyChange:
    kind: str  # check-removed, check-added, weakened, protected-deleted, unprotected
    message: str


@dataclass(frozen=True)
class ResourceStat:
    action: str  # add, delete, change
    urn: str
    type: str
    added: int
    removed: int
    changed: int

    @property
    def name(self) -> str:
        return short_name(self.urn, self.type)


def resource_stats(d: PlanDiff) -> list[ResourceStat]:
    """Per added, removed and changed resource: how many properties it adds, removes, changes."""
    stats = [ResourceStat("add", r["urn"], str(r.get("type", "")), _count(r), 0, 0) for r in d.added]
    stats += [ResourceStat("delete", r["urn"], str(r.get("type", "")), 0, _count(r), 0) for r in d.removed]
    for c in d.changed:
        symbols = [_symbol(item) for item in c.changes]
        stats.append(
            ResourceStat("change", c.urn, c.type, symbols.count("+"), symbols.count("-"), symbols.count("~"))
        )
    return sorted(stats, key=lambda s: (s.name, s.urn))


def _count(resource: dict[str, Any]) -> int:
    inputs = sum(1 for _ in _leaves("inputs", resource.get("inputs", {})))
    return inputs + sum(1 for value in resource.get("options", {}).values() if value)


def _symbol(change: Change) -> str:
    return "+" if change.old is ABSENT else "-" if change.new is ABSENT else "~"


def render_stat(d: PlanDiff) -> str:
    """Like `git diff --stat`: one short line per resource, then the totals."""
    stats = resource_stats(d)
    marks = {"add": "+", "delete": "-", "change": "~"}
    lines = []
    for s in stats:
        name = s.name if len(s.name) <= STAT_WIDTH else s.name[: STAT_WIDTH - 1] + "…"
        lines.append(f"{marks[s.action]} {name:<{STAT_WIDTH}} | +{s.added} -{s.removed} ~{s.changed}")
    if d.outputs:
        lines.append(f"~ {'(stack outputs)':<{STAT_WIDTH}} | {len(d.outputs)} change(s)")
    lines.append(
        f"{len(stats)} resource(s): {len(d.added)} to add, {len(d.changed)} to change, "
        f"{len(d.removed)} to delete, {d.unchanged} unchanged; properties "
        f"+{sum(s.added for s in stats)} -{sum(s.removed for s in stats)} ~{sum(s.changed for s in stats)}"
    )
    return "\n".join(lines) + "\n"


def policy_changes(a: dict[str, Any], b: dict[str, Any], d: PlanDiff | None = None) -> list[PolicyChange]:
    """What loosens or tightens the gate, most serious first: protected resources deleted (which
    `pulumi up` refuses), protection removed, required checks removed and added, settings weakened."""
    # gate.report imports this module: its helpers are imported when used, not copied.
    from gate.offline.report import _attention  # noqa: PLC0415

    d = d or diff_plans(a, b)
    names = {r["urn"]: short_name(r["urn"], str(r.get("type", ""))) for r in (*d.added, *d.removed)}
    names.update({c.urn: short_name(c.urn, c.type) for c in d.changed})
    found: list[PolicyChange] = []
    for attention in _attention(d):
        text = attention
        for urn, name in names.items():
            text = text.replace(f"`{urn}`", f"`{name}`")
        if text.startswith("protected resource deleted"):
            found.append(
                PolicyChange(
                    "protected-deleted",
                    f"{text}: `pulumi up` will refuse to delete it (unprotect it first, or keep it)",
                )
            )
        else:
            found.append(PolicyChange("unprotected", text))
    old, new = _checks(a), _checks(b)
    found += [PolicyChange("check-removed", f"`{c}` removed from {r} {br}") for r, br, c in sorted(old - new)]
    found += [PolicyChange("check-added", f"`{c}` added to {r} {br}") for r, br, c in sorted(new - old)]
    for change in d.changed:
        for item in change.changes:
            message = _weakened(item, change.type)
            if message:
                found.append(PolicyChange("weakened", f"{short_name(change.urn, change.type)}: {message}"))
    for resource in d.removed:
        kind = str(resource.get("type", ""))
        if kind.rsplit(":", 1)[-1] in _PROTECTIONS:
            found.append(PolicyChange("weakened", f"{short_name(resource['urn'], kind)}: protection deleted"))
        elif resource.get("type") == ENVIRONMENT and resource.get("inputs", {}).get("reviewers"):
            name = short_name(resource["urn"], ENVIRONMENT)
            found.append(PolicyChange("weakened", f"{name}: environment and its reviewers deleted"))
    return found


def _checks(plan: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The required checks per repository and branch: the plan's `requiredChecks` output, else the
    contexts of its branch protections."""
    from gate.offline.report import required_checks  # noqa: PLC0415

    exported = required_checks(plan)
    if exported or plan.get("outputs", {}).get("requiredChecks"):
        return exported
    found: set[tuple[str, str, str]] = set()
    for r in plan.get("resources", []):
        if r.get("type") != BRANCH_PROTECTION:
            continue
        inputs = r.get("inputs", {})
        for block in inputs.get("requiredStatusChecks") or ():
            for context in block.get("contexts") or () if isinstance(block, dict) else ():
                found.add(
                    (str(inputs.get("repositoryId", "?")), str(inputs.get("pattern", "?")), str(context))
                )
    return found


def _weakened(item: Change, kind: str) -> str | None:  # noqa: PLR0911 - one return per rule
    key = re.split(r"[.\[]", item.path)[-1].rstrip("]")
    if item.path == "options.protect":
        return None  # _attention reports it
    if key in _LOOSENED and item.old == _LOOSENED[key] and item.new != _LOOSENED[key]:
        return f"`{item.path}` {_show(item.old)} → {_show(item.new)}"
    lowered = isinstance(item.old, int) and (not isinstance(item.new, int) or item.new < item.old)
    if key in ("requiredApprovingReviewCount", "minimumApprovals") and lowered:
        return f"required approving reviews lowered {_show(item.old)} → {_show(item.new)}"
    opened = item.path == "inputs.bypassActors" and item.old == [] and item.new is ABSENT
    if opened or (item.path.startswith("inputs.bypassActors[") and item.old is ABSENT):
        return f"bypass allowed: `{item.path}` {_show(item.old)} → {_show(item.new)}"
    if key in ("requiredPullRequestReviews", "requiredStatusChecks", "pullRequest") and item.new is ABSENT:
        return f"`{item.path}` removed"
    reviewers = kind == ENVIRONMENT and item.path.startswith("inputs.reviewers")
    if reviewers and item.old is not ABSENT and (item.new is ABSENT or item.new in ([], {}, None)):
        return f"environment reviewers removed (`{item.path}`: {_show(item.old)})"
    if (
        key == "waitTimer"
        and isinstance(item.old, int)
        and (not isinstance(item.new, int) or item.new < item.old)
    ):
        return f"environment wait timer lowered {_show(item.old)} → {_show(item.new)}"
    return None


def review_lines(change: ResourceChange, *, full: bool = False) -> list[str]:
    """A changed resource's properties for reviewers: set-like lists as + and - of members, file
    bodies collapsed to line counts and hashes unless `full`."""
    lines: list[str] = []
    sets: dict[str, tuple[list[Any], list[Any]]] = {}
    order: list[str | Change] = []
    for item in change.changes:
        match = _SET_PATH.match(item.path)
        scalar = not isinstance(item.old, dict | list) and not isinstance(item.new, dict | list)
        if match and scalar:
            key = match.group("list")
            if key not in sets:
                sets[key] = ([], [])
                order.append(key)
            if item.old is not ABSENT:
                sets[key][0].append(item.old)
            if item.new is not ABSENT:
                sets[key][1].append(item.new)
        else:
            order.append(item)
    for entry in order:
        if isinstance(entry, Change):
            lines += _review_change(entry, "    ", full)
            continue
        gone, came = sets[entry]
        removed = [x for x in gone if x not in came]
        added = [x for x in came if x not in gone]
        lines.append(f"    ~ {entry} (set):" + ("" if removed or added else " reordered"))
        lines += [f"        - {_show(x)}" for x in removed] + [f"        + {_show(x)}" for x in added]
    return lines


def _review_change(change: Change, indent: str, full: bool) -> list[str]:
    old, new = change.old, change.new
    if full or not (_is_text(old) and _is_text(new) and (_multiline(old) or _multiline(new))):
        return _change_lines(change, indent)
    return [f"{indent}{_symbol(change)} {change.path}: {_digest(old)} → {_digest(new)}".replace(
        f"{_digest(ABSENT)} → ", "").replace(f" → {_digest(ABSENT)}", "")]  # fmt: skip


def _digest(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = str(value)
    return f"{len(text.splitlines())} lines, sha256 {hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _added_review(resource: dict[str, Any], full: bool) -> list[str]:
    lines: list[str] = []
    for path, value in _leaves("inputs", resource.get("inputs", {})):
        lines += _review_change(Change(path, ABSENT, value), "    ", full)
    for key, value in sorted(resource.get("options", {}).items()):
        if value:
            lines += _change_lines(Change(_join("options", key), ABSENT, value), "    ")
    return lines


def render_markdown(a: dict[str, Any], b: dict[str, Any], *, full: bool = False) -> str:
    """The diff as a PR comment: the summary, the policy-relevant changes, then every resource by
    its short name with file bodies collapsed (unless `full`)."""
    d = diff_plans(a, b)
    policy = policy_changes(a, b, d)
    lines = [
        f"## Plan diff: `{d.before}` → `{d.after}`",
        "",
        f"**{len(d.added)} to add, {len(d.changed)} to change, {len(d.removed)} to delete**, "
        f"{d.unchanged} unchanged",
        "",
        f"### Policy-relevant changes ({len(policy)})",
        "",
    ]
    icons = {"check-added": "➕", "check-removed": "⚠️", "weakened": "⚠️", "protected-deleted": "⛔"}
    lines += [f"- {icons.get(p.kind, '⚠️')} {p.message}" for p in policy] or [
        "None: no required check added or removed, no protection weakened, no protected resource deleted."
    ]
    body: list[str] = []
    changed = {c.urn: c for c in d.changed}
    for s in resource_stats(d):
        mark = {"add": "+", "delete": "-", "change": "~"}[s.action]
        body.append(f"{mark} {s.name}  ({s.type})")
        if s.action == "add":
            body += _added_review(next(r for r in d.added if r["urn"] == s.urn), full)
        elif s.action == "change":
            body += review_lines(changed[s.urn], full=full)
    if d.outputs:
        body.append("Outputs:")
        body += review_lines(ResourceChange("", "", d.outputs), full=full)
    if body:
        text = "\n".join(body)
        fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
        lines += ["", "### Resources", "", f"{fence}diff", text, fence]
    return "\n".join(lines) + "\n"


def review_summary(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The structured summary (`gate diff --format json`)."""
    d = diff_plans(a, b)
    return {
        "before": d.before,
        "after": d.after,
        "summary": {
            "add": len(d.added),
            "change": len(d.changed),
            "delete": len(d.removed),
            "unchanged": d.unchanged,
            "outputs": len(d.outputs),
            "invokes": len(d.invokes),
        },
        "policy": [{"kind": p.kind, "message": p.message} for p in policy_changes(a, b, d)],
        "resources": [
            {
                "action": s.action,
                "name": s.name,
                "type": s.type,
                "urn": s.urn,
                "properties": {"added": s.added, "removed": s.removed, "changed": s.changed},
            }
            for s in resource_stats(d)
        ],
    }


def render_json(a: dict[str, Any], b: dict[str, Any]) -> str:
    return json.dumps(review_summary(a, b), indent=2, ensure_ascii=False) + "\n"
