"""The pull-request report of the gate's own pipeline (`python -m gate report`): the offline plan of
every stack, base against head, as one markdown document for a sticky PR comment and the job summary.

Reviewers of an infra PR read the effect of the change on every stack at once: first a summary (per
stack: resources to add, change and delete, the root hash before and after) and what needs attention
(a plan that fails, a required check removed, a protected resource deleted or unprotected), then the
details of each stack, file bodies and other multi-line contents collapsed one by one.

It reads two directories, one per side (base, head), as gate-pr.yml's plan step writes them:

    <side>/stacks.txt            `python -m gate stacks` of that checkout: its stacks in promotion order
    <side>/error.txt             that checkout's stacks could not be told (what `gate stacks` printed)
    <side>/<stack>/plan.json     `python -m gate plan --stack <stack>` of that checkout
    <side>/<stack>/error.txt     that plan failed: what it printed

The document is at most `max_chars` characters (a GitHub comment holds 65536): the summary always
fits; details that do not are truncated or left out, saying so and where the full diffs are.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gate.errors import GateError, InputOutputError
from gate.github.files import REPOSITORY_FILE
from gate.offline.diff import PlanDiff, ResourceChange, diff_plans, output_lines, resource_blocks
from gate.offline.plan import PLAN_FILE, load_plan

# The first line of the report: how the pipeline finds its own comment again, to edit it.
MARKER = "<!-- delivery-gate:plan-report -->"
STACKS_FILE = "stacks.txt"
ERROR_FILE = "error.txt"
ARTIFACT = "gate-plan-report"
# GitHub refuses a comment body over 65536 characters; the rest is margin.
DEFAULT_MAX_CHARS = 60_000
MIN_MAX_CHARS = 4_000
MAX_ATTENTION = 40  # items listed in the summary; the heading always counts all of them
RESERVE = 240  # kept free for the "left out" note
EMPTY_PLAN: dict[str, Any] = {"resources": [], "outputs": {}, "invokes": []}

Plan = dict[str, Any]
RequiredCheck = tuple[str, str, str]  # repository, branch, check


class ReportError(GateError):
    """The report's inputs cannot be read, or it cannot be made that small."""


class ReportInputUnreadable(ReportError, InputOutputError):
    """A directory of plans or a file in it that is missing or cannot be read (exit 4)."""


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One checkout's plans: its stacks in promotion order, each planned or failed."""

    stacks: tuple[str, ...] = ()
    plans: Mapping[str, Plan] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)  # stack -> what its plan printed
    error: str | None = None  # the stacks themselves could not be told


def read_side(directory: Path) -> Side:
    if not directory.is_dir():
        raise ReportInputUnreadable(f"{directory}: no such directory of plans", file=str(directory))
    if (directory / ERROR_FILE).is_file():
        return Side(error=_read_text(directory / ERROR_FILE))
    listed = directory / STACKS_FILE
    if not listed.is_file():
        return Side(error=f"no {STACKS_FILE}: the stacks of this checkout are unknown")
    stacks = tuple(dict.fromkeys(line.strip() for line in _read_text(listed).splitlines() if line.strip()))
    plans: dict[str, Plan] = {}
    errors: dict[str, str] = {}
    for stack in stacks:
        if (directory / stack / ERROR_FILE).is_file():
            errors[stack] = _read_text(directory / stack / ERROR_FILE)
        elif (directory / stack / PLAN_FILE).is_file():
            plans[stack] = load_plan(directory / stack / PLAN_FILE)
        else:
            errors[stack] = "no plan was written"
    return Side(stacks, plans, errors)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or "(no output)"
    except OSError as error:
        raise ReportInputUnreadable(f"{path}: cannot read: {error}", file=str(path)) from None


# -- comparing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackReport:
    stack: str
    environment: str | None
    status: str  # changes, no changes, new stack, removed, plan fails, base not planned
    diff: PlanDiff | None = None
    before: Plan | None = None
    after: Plan | None = None
    attention: tuple[str, ...] = ()
    error: str | None = None  # what the head's failing plan printed


def compare(before: Side, after: Side) -> list[StackReport]:
    """One report per stack: the head's stacks in promotion order, then those the head removed."""
    if after.error is not None:
        return _head_unlisted(before, after.error)
    removed = [stack for stack in before.stacks if stack not in after.stacks]
    reports = [_stack_report(stack, before, after) for stack in (*after.stacks, *removed)]
    # The merge gate is repository-wide and one stack owns it: a check counts as removed only when
    # no stack requires it any more (moving the gate to another stack removes nothing).
    lost = removed_required_checks(before, after)
    return [
        replace(r, attention=(*(_removed(check) for check in lost.get(r.stack, [])), *r.attention))
        for r in reports
    ]


def _head_unlisted(before: Side, error: str) -> list[StackReport]:
    """The head cannot tell its stacks (`gate stacks` failed: inconsistent stacks, a broken gate):
    the base's stacks, none planned on the head, the reason told once."""
    note = f"the head's stacks cannot be told, none is planned: {_first(error)}"
    return [
        StackReport(
            stack,
            _environment(before.plans.get(stack)),
            "plan fails",
            before=before.plans.get(stack),
            attention=(note,) if index == 0 else (),
            error=error if index == 0 else None,
        )
        for index, stack in enumerate(before.stacks or ("(every stack)",))
    ]


def _removed(check: RequiredCheck) -> str:
    repo, branch, name = check
    return f"required check `{name}` removed from {repo} `{branch}`"


def _stack_report(stack: str, before: Side, after: Side) -> StackReport:
    old, new = before.plans.get(stack), after.plans.get(stack)
    environment = next(filter(None, (_environment(p) for p in (new, old))), None)
    if stack in after.errors:
        error = after.errors[stack]
        return StackReport(
            stack, environment, "plan fails", None, old, None, (f"plan fails: {_first(error)}",), error
        )
    if new is None:
        note = "removed from the head: the pipeline no longer plans or deploys it (its state remains)"
        return StackReport(stack, environment, "removed", None, old, None, (note,))
    if old is None:
        reason = before.error or before.errors.get(stack)
        diff = diff_plans(EMPTY_PLAN, new)
        if reason is None:
            return StackReport(stack, environment, "new stack", diff, None, new, tuple(_attention(diff)))
        note = f"base not planned ({_first(reason)}): every resource is shown as added"
        return StackReport(stack, environment, "base not planned", diff, None, new, (note, *_attention(diff)))
    diff = diff_plans(old, new)
    status = "changes" if diff.has_changes else "no changes"
    return StackReport(stack, environment, status, diff, old, new, tuple(_attention(diff)))


def _environment(plan: Plan | None) -> str | None:
    environment = (plan or {}).get("outputs", {}).get("environment")
    return environment if isinstance(environment, str) else None


def _first(text: str) -> str:
    """The line that says what went wrong: the first error line, else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error") or ": error:" in line]
    return (errors or lines[-1:] or ["no output"])[0]


def _attention(diff: PlanDiff) -> Iterator[str]:
    """Protected state a reviewer must not miss losing."""
    for resource in diff.removed:
        if resource.get("options", {}).get("protect") is True:
            yield f"protected resource deleted: `{resource['urn']}`"
    for change in diff.changed:
        for item in change.changes:
            if item.path == "options.protect" and item.old is True and item.new is not True:
                yield f"protection removed from `{change.urn}`"


def required_checks(plan: Plan | None) -> set[RequiredCheck]:
    """The merge gate as the plan finally computed it: its `requiredChecks` output (per repository
    and protected branch; only the stack that owns the gate exports any)."""
    exported = (plan or {}).get("outputs", {}).get("requiredChecks")
    found: set[RequiredCheck] = set()
    if not isinstance(exported, dict):
        return found
    for repo, branches in exported.items():
        for branch, checks in branches.items() if isinstance(branches, dict) else ():
            if isinstance(checks, list):
                found.update((str(repo), str(branch), str(check)) for check in checks)
    return found


def removed_required_checks(before: Side, after: Side) -> dict[str, list[RequiredCheck]]:
    """Per stack of the base, the checks it required that no stack of the head requires. Stacks
    whose head plan fails are left out on both sides: that failure is reported instead."""
    failing = set(after.errors) | ({*before.stacks} if after.error else set())
    required_after = {c for stack, plan in after.plans.items() for c in required_checks(plan)}
    removed: dict[str, list[RequiredCheck]] = {}
    for stack, plan in before.plans.items():
        if stack in failing:
            continue
        lost = sorted(required_checks(plan) - required_after)
        if lost:
            removed[stack] = lost
    return removed


# -- rendering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One collapsed part of a stack's details."""

    title: str  # HTML, already escaped
    body: str  # shown in a fenced code block
    language: str = "diff"


def render(
    reports: list[StackReport],
    *,
    base: str = "",
    head: str = "",
    run_url: str = "",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """The markdown document: marker, summary and attention, then the details, within max_chars."""
    if max_chars < MIN_MAX_CHARS:
        raise ReportError(f"--max-chars: got {max_chars}; allowed: {MIN_MAX_CHARS} or more")
    run = f"[the workflow run]({run_url})" if run_url.startswith("https://") else "the workflow run"
    tail = f"\n---\nEvery stack's plans and full `gate diff` output: artifact `{ARTIFACT}` of {run}.\n"
    summary = _summary(reports, base, head)
    if len(summary) + len(tail) + RESERVE > max_chars:  # only with very many stacks
        summary = _cut(summary, max_chars - len(tail) - RESERVE) + "\n\n_(summary truncated)_\n"
    budget = max_chars - len(summary) - len(tail) - RESERVE
    parts: list[str] = []
    left_out = 0
    for report in reports:
        blocks = _blocks(report)
        heading = f"\n### {html.escape(report.stack)}\n"
        if not blocks:
            continue
        if len(heading) >= budget:
            left_out += len(blocks)
            continue
        parts.append(heading)
        budget -= len(heading)
        for block in blocks:
            rendered = _render_block(block, budget)
            if rendered is None:
                left_out += 1
                continue
            parts.append(rendered)
            budget -= len(rendered)
    if left_out:
        parts.append(f"\n_{left_out} detail section(s) left out to stay within GitHub's comment size._\n")
    return summary + "".join(parts) + tail


def _summary(reports: list[StackReport], base: str, head: str) -> str:
    refs = f"`{_sha(base)}` → `{_sha(head)}`" if base or head else "base → head"
    lines = [
        MARKER,
        "## Delivery Gate: offline plan of every stack",
        "",
        f"{refs}: each commit planned by its own `python -m gate plan` under Pulumi's mock engine "
        "(no credentials, no cloud). `pulumi preview --diff` against the real stacks runs in the "
        "`preview` job when the backend secret is set.",
        "",
        "| stack | environment | plan | add | change | delete | root hash |",
        "| --- | --- | --- | --: | --: | --: | --- |",
    ]
    for r in reports:
        d = r.diff
        add, change, delete = (str(len(x)) for x in (d.added, d.changed, d.removed)) if d else ("", "", "")
        lines.append(
            f"| **{_cell(r.stack)}** | {_cell(r.environment or '?')} | {_status(r)} "
            f"| {add} | {change} | {delete} | {_hashes(r)} |"
        )
    attention = [(r.stack, item) for r in reports for item in r.attention]
    lines.append("")
    if attention:
        lines += [f"**Needs attention ({len(attention)}):**", ""]
        lines += [f"- ⚠️ **{_cell(stack)}**: {_inline(item)}" for stack, item in attention[:MAX_ATTENTION]]
        if len(attention) > MAX_ATTENTION:
            lines.append(f"- … and {len(attention) - MAX_ATTENTION} more")
    else:
        lines.append(
            "Nothing needs special attention: every plan succeeds, no required check is removed, no "
            "protected resource is deleted or unprotected."
        )
    return "\n".join(lines) + "\n"


def _sha(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z._/-]", "", text)[:12]


_ICONS = {"plan fails": "❌ ", "removed": "➖ ", "new stack": "➕ ", "base not planned": "➕ "}


def _status(report: StackReport) -> str:
    return _ICONS.get(report.status, "") + report.status


def _hashes(report: StackReport) -> str:
    old, new = (_short(p) for p in (report.before, report.after))
    if old and old == new:
        return f"`{old}` (same)"
    return f"`{old or '—'}` → `{new or '—'}`"


def _short(plan: Plan | None) -> str:
    root = str((plan or {}).get("root_hash") or "")
    return re.sub(r"[^0-9a-f]", "", root.removeprefix("sha256:"))[:12]


def _cell(text: str) -> str:
    return html.escape(text).replace("|", "\\|")


def _inline(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False)


def _blocks(report: StackReport) -> list[Block]:
    if report.error is not None:
        return [Block("why the plan fails on the head", report.error, "text")]
    d = report.diff
    if d is None or not d.has_changes:
        return []
    plans = [p for p in (report.after, report.before) if p]
    resources = {r["urn"]: r for plan in plans for r in plan.get("resources", [])}
    added = {r["urn"] for r in d.added}
    changed = {c.urn: c for c in d.changed}
    plain: list[str] = []
    bodies: list[Block] = []
    for urn, lines in resource_blocks(d):
        if _has_body(urn in added and resources.get(urn), changed.get(urn)):
            state = "added" if urn in added else "changed"
            bodies.append(
                Block(
                    f"<code>{html.escape(_label(urn, resources.get(urn)))}</code> ({state})", "\n".join(lines)
                )
            )
        else:
            plain += lines
    if d.outputs:
        plain += ["Outputs:", *output_lines(d)]
    counts = (
        f"{len(d.added)} to add, {len(d.changed)} to change, {len(d.removed)} to delete, "
        f"{d.unchanged} unchanged"
    )
    listed = [Block(f"resources and outputs ({counts})", "\n".join(plain))] if plain else []
    return listed + bodies


def _has_body(added: Any, change: ResourceChange | None) -> bool:
    """Whether the resource carries a multi-line text (a committed file, a rule document): such
    bodies are collapsed one by one."""
    if isinstance(added, dict):
        return _holds_text(added.get("inputs", {}))
    if change is not None:
        return any(_multiline(item.old) or _multiline(item.new) for item in change.changes)
    return False


def _holds_text(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_text(v) for v in value)
    return _multiline(value)


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _label(urn: str, resource: Plan | None) -> str:
    name = urn.rsplit("::", 1)[-1]
    inputs = (resource or {}).get("inputs", {})
    kind = (resource or {}).get("type", "")
    if kind == REPOSITORY_FILE and isinstance(inputs.get("file"), str):
        return f"{inputs.get('repository', '?')}: {inputs['file']}"
    return f"{kind} {name}".strip()


def _render_block(block: Block, limit: int) -> str | None:
    """The block as a collapsed <details> with its body fenced, cut to `limit` characters; None when
    not even a few lines of it fit."""
    fence = "`" * max(3, _longest_backtick_run(block.body) + 1)
    opening = f"\n<details><summary>{block.title}</summary>\n\n{fence}{block.language}\n"
    closing = f"\n{fence}\n\n</details>\n"
    room = limit - len(opening) - len(closing)
    if room < 400:
        return None
    body = block.body
    if len(body) > room:
        kept = _cut(body, room - 120)
        body = f"{kept}\n… truncated: {len(block.body) - len(kept)} more characters in the artifact"
    return opening + body + closing


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a line break when one is near."""
    if len(text) <= limit:
        return text
    kept = text[: max(limit, 0)]
    newline = kept.rfind("\n")
    return kept[:newline] if newline > limit - 400 else kept


# -- the command ----------------------------------------------------------------------------------


def write_report(
    before: Path, after: Path, out: Path, *, base: str = "", head: str = "", run_url: str = "",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[StackReport]:  # fmt: skip
    reports = compare(read_side(before), read_side(after))
    text = render(reports, base=base, head=head, run_url=run_url, max_chars=max_chars)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return reports
