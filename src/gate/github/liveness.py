"""Check liveness: every status check a protected branch requires is reported by a workflow that runs.

M9 §Merge conditions: "All CI checks green for the PR". Branch protection waits forever ("Expected —
waiting for status to be reported") for a required check that no workflow run reports, and a required
job skipped by its `if:` passes the requirement without running anything. Either way the gate is not
what it claims to be, so this rule proves from the workflow files alone that each required check is
reported on every pull request into each protected branch, and on every merge group when the
repository merges through a merge queue.

The rule is conservative: whatever it cannot prove (a name computed at run time, a path filter, an
`if:` that may be false, a branch filter it cannot read) is a violation whose reason says why.

Known limits, each of which errs towards a violation, never towards a silent pass:
- Jobs that call a reusable workflow (`uses:`) report checks named "<job name> / <called job name>";
  the called workflow is not inspected, so such checks are never proven. Declare them `external` or
  require a check of the calling workflow instead.
- Any job `if:` other than `always()`, `success()`, `!cancelled()` or `true` counts as "may be
  skipped", even one that is true for pull requests.
- Matrices must be static: lists of scalars, with `include`/`exclude` lists of scalar mappings.
- Only `pull_request` (not `pull_request_target`) counts as running on pull requests.
- Protection patterns are read as GitHub's fnmatch with `**` widened to any characters, and branch
  names as anything without an empty `/`-separated part, so a witness may be a name git rejects.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from string import ascii_lowercase, ascii_uppercase, digits
from typing import Any

from gate.policy.memo import Bounded

RULE_ID = "GATE-M9-03"
PULL_REQUEST = "pull_request"
MERGE_GROUP = "merge_group"

# A workflow file as yaml.safe_load returns it. Keys are not all strings: PyYAML reads YAML 1.1, where
# the key `on` is the boolean True.
Workflow = Mapping[Any, Any]


# --- answers shared between workflows that read alike (issue 14) -----------------------------------
#
# A plan of many repositories asks the same questions of workflows rendered from the same template:
# does this `on:` run on pull requests into `release/*`, which jobs may be skipped, which checks does
# this job name. Each answer depends only on a small part of the file, so it is kept under a key
# made of exactly that part (its canonical JSON) and shared; a different file asks anew. Bounded,
# and the answers are immutable (strings, tuples) or the rule's own failure, raised again.


# YAML 1.1 reads some scalars as dates or booleans: repr keeps them apart from their strings. Built
# once (`json.dumps` with options builds an encoder per call; the rule asks thousands of times).
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, default=repr)


def _key(*parts: object) -> str:
    return _KEY_ENCODER.encode(parts)


@dataclass(frozen=True, order=True)
class Violation:
    """A required check that can go unreported (or be skipped) on a protected branch."""

    repository: str
    branch: str  # the protected branch pattern, e.g. "main" or "release/*"
    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.repository}: branch '{self.branch}' requires check '{self.check}' but {self.reason}"


@dataclass(frozen=True)
class Reporter:
    """A job that reports the check on every run of its workflow for the event."""

    workflow: str
    job: str


@dataclass(frozen=True)
class Gap:
    """A job that reports the check only sometimes, and why."""

    workflow: str
    job: str
    reason: str


@dataclass(frozen=True)
class Unnamed:
    """A job whose check names cannot be known before it runs."""

    workflow: str
    job: str
    reason: str
    could_be: re.Pattern[str]  # every check name it might report


@dataclass(frozen=True)
class Reports:
    """Who reports which check for one event into one protected branch."""

    checks: Mapping[str, Reporter | Gap] = field(default_factory=dict)
    unnamed: tuple[Unnamed, ...] = ()


class _Unprovable(Exception):
    """Something the rule cannot evaluate statically; the message says what."""


# The shared answers (see "answers shared between workflows that read alike" above); the rule's own
# failure is an answer too.
_ANSWERS_KEPT = 4096  # per question; a few thousand distinct workflows' worth
_TRIGGER_GAPS: Bounded[str | None] = Bounded(_ANSWERS_KEPT, remembered=(_Unprovable,))
_SKIP_REASONS: Bounded[dict[str, str | None]] = Bounded(_ANSWERS_KEPT, remembered=(_Unprovable,))
_CHECK_NAMES: Bounded[tuple[str, ...]] = Bounded(_ANSWERS_KEPT, remembered=(_Unprovable,))


def check_liveness(
    repository: str,
    required: Mapping[str, Sequence[str]],
    workflows: Mapping[str, Workflow],
    *,
    external: Collection[str] = (),
    merge_queue: bool = False,
) -> list[Violation]:
    """Every required check of every protected branch that is not reliably reported, sorted.

    `required` maps protected branch patterns to check names, `workflows` workflow file names to their
    parsed YAML, `external` lists checks reported outside these workflows (trusted as declared).
    """
    # With a merge queue, the queue's merge commit needs the same checks (M9: all CI checks green).
    events = (PULL_REQUEST, MERGE_GROUP) if merge_queue else (PULL_REQUEST,)
    violations = []
    for branch, checks in required.items():
        reports = {event: reported_checks(workflows, branch=branch, event=event) for event in events}
        for check in dict.fromkeys(checks):
            if check in external:
                continue
            reasons = {event: _unreliable(check, found, event) for event, found in reports.items()}
            reason = _combine(reasons)
            if reason is not None:
                violations.append(Violation(repository, branch, check, reason))
    return sorted(violations)


def reported_checks(workflows: Mapping[str, Workflow], *, branch: str, event: str) -> Reports:
    """Check name -> the job that reports it reliably, or why it may not be reported.

    Where several jobs report the same name, a reliable one wins: GitHub accepts any of them.
    """
    checks: dict[str, Reporter | Gap] = {}
    unnamed: list[Unnamed] = []
    for workflow in sorted(workflows):
        for job in _workflow_reports(workflow, workflows[workflow], branch, event):
            if isinstance(job, Unnamed):
                unnamed.append(job)
                continue
            names, verdict = job
            for name in names:
                current = checks.get(name)
                if current is None or (isinstance(current, Gap) and isinstance(verdict, Reporter)):
                    checks[name] = verdict
    return Reports(checks, tuple(unnamed))


JobReport = tuple[tuple[str, ...], Reporter | Gap] | Unnamed

# One workflow's answer per document object: a plan shares each parsed document between the
# repositories that commit the same text (gate/policy/rules.py, which only reads them), so most of a
# large plan's questions are answered here without building a key. Each entry holds its document,
# so that its id cannot be reused by another while the entry is kept.
_REPORTS_BY_DOCUMENT: dict[tuple[str, int, str, str], tuple[Workflow, tuple[JobReport, ...]]] = {}


def _workflow_reports(workflow: str, doc: Workflow, branch: str, event: str) -> tuple[JobReport, ...]:
    """Per job of the workflow, in order: its check names and verdict, or why its names are unknown."""
    key = (workflow, id(doc), branch, event)
    kept = _REPORTS_BY_DOCUMENT.get(key)
    if kept is not None and kept[0] is doc:
        return kept[1]
    found: list[JobReport] = []
    for job_id, job, skip in _job_verdicts(workflow, doc, branch, event):
        try:
            names = _job_check_names(job_id, job)
        except _Unprovable as err:
            why = str(err) if skip is None else f"{err}, and {skip}"
            found.append(Unnamed(workflow, job_id, why, _possible_names(job_id, job)))
            continue
        verdict = Reporter(workflow, job_id) if skip is None else Gap(workflow, job_id, skip)
        found.append((tuple(names), verdict))
    reports = tuple(found)
    if len(_REPORTS_BY_DOCUMENT) >= _ANSWERS_KEPT:
        _REPORTS_BY_DOCUMENT.clear()
    _REPORTS_BY_DOCUMENT[key] = (doc, reports)
    return reports


# --- verdicts -------------------------------------------------------------------------------------


def _unreliable(check: str, reports: Reports, event: str) -> str | None:
    verdict = reports.checks.get(check)
    if isinstance(verdict, Reporter):
        return None
    if isinstance(verdict, Gap):
        return verdict.reason
    hints = [*_near_misses(check, reports), *_unnamed_hints(check, reports)]
    missing = f"no workflow job reports it on {event}, and it is not declared as reported externally"
    return "; ".join([missing, *hints])


def _combine(reasons: Mapping[str, str | None]) -> str | None:
    """One reason per violation: events that fail alike are named together, others one by one."""
    failing = {event: reason for event, reason in reasons.items() if reason is not None}
    if not failing:
        return None
    shapes = {reason.replace(event, "{event}") for event, reason in failing.items()}
    if len(shapes) == 1 and len(failing) == len(reasons):
        return shapes.pop().replace("{event}", " or ".join(failing))
    return "; ".join(
        reason if event in reason else f"on {event}, {reason}" for event, reason in failing.items()
    )


def _near_misses(check: str, reports: Reports) -> list[str]:
    """Checks probably meant: from a job with that id, or that name plus matrix values."""
    found: dict[tuple[str, str], list[str]] = {}
    for name, verdict in sorted(reports.checks.items()):
        if verdict.job == check or name.startswith(f"{check} ("):
            found.setdefault((verdict.workflow, verdict.job), []).append(f"'{name}'")
    return [
        f"job '{job}' in {workflow} reports {', '.join(names)} instead "
        "(a check is named after the job's `name:`, plus its matrix values)"
        for (workflow, job), names in found.items()
    ]


def _unnamed_hints(check: str, reports: Reports) -> list[str]:
    return [
        f"job '{job.job}' in {job.workflow} might report it, but {job.reason}"
        for job in reports.unnamed
        if job.could_be.fullmatch(check)
    ]


# --- workflows and jobs ---------------------------------------------------------------------------


def _job_verdicts(
    workflow: str, doc: Workflow, branch: str, event: str
) -> list[tuple[str, Workflow, str | None]]:
    """(job id, job, why it may not report or None) for every job of the workflow."""
    jobs = _jobs(doc)
    on = triggers(doc)
    gap = _TRIGGER_GAPS.get(
        _key(workflow, on, branch, event), lambda: _trigger_gap(workflow, doc, branch, event)
    )
    try:
        # What skipping reads of each job: its needs and its `if:` (absent differs from false).
        shape = [(job_id, job.get("needs"), "if" in job, job.get("if")) for job_id, job in jobs.items()]
        skips = (
            _SKIP_REASONS.get(_key(workflow, shape), lambda: _skip_reasons(workflow, jobs))
            if gap is None
            else dict.fromkeys(jobs, gap)
        )
    except _Unprovable as err:  # GitHub rejects the file: none of its jobs runs
        skips = dict.fromkeys(jobs, str(err))
    return [(job_id, job, skips[job_id]) for job_id, job in jobs.items()]


def _jobs(doc: Workflow) -> dict[str, Workflow]:
    jobs = doc.get("jobs")
    if not isinstance(jobs, Mapping):
        return {}
    return {str(job_id): job for job_id, job in jobs.items() if isinstance(job, Mapping)}


def _needs(job: Workflow) -> list[str]:
    needs = job.get("needs")
    if isinstance(needs, list):
        return [str(need) for need in needs]
    return [] if needs is None else [str(needs)]


# Conditions that hold whenever the workflow runs: `success()` is GitHub's default (spelling it out
# changes nothing) and `true` gets an implicit `success() &&`; the needs are handled separately below.
_ALWAYS_RUNS = frozenset({"always()", "success()", "!cancelled()", "true"})
# Without one of these status functions GitHub prefixes `success() &&`, which is false once a needed
# job was skipped: the skip propagates down the `needs:` chain.
_RUNS_AFTER_SKIPPED_NEEDS = frozenset({"always()", "!cancelled()"})


def _skip_reasons(workflow: str, jobs: Mapping[str, Workflow]) -> dict[str, str | None]:
    """Job id -> why it may be skipped, or None when it runs whenever its workflow runs."""
    reasons: dict[str, str | None] = {}
    for job_id in _dependency_order(workflow, jobs):
        job = jobs[job_id]
        condition = _condition(job)
        skipped_need = next((need for need in _needs(job) if reasons[need] is not None), None)
        if condition is not None and condition not in _ALWAYS_RUNS:
            reasons[job_id] = (
                f"job '{job_id}' in {workflow} is skipped unless `if: {_one_line(job['if'])}` holds "
                "(a skipped job passes a required check without running)"
            )
        elif skipped_need is not None and condition not in _RUNS_AFTER_SKIPPED_NEEDS:
            reasons[job_id] = f"job '{job_id}' in {workflow} needs '{skipped_need}': {reasons[skipped_need]}"
        else:
            reasons[job_id] = None
    return reasons


def _dependency_order(workflow: str, jobs: Mapping[str, Workflow]) -> list[str]:
    """Job ids, each after the jobs it needs; a broken `needs:` graph makes GitHub reject the file."""
    graph = {job_id: _needs(job) for job_id, job in jobs.items()}
    for job_id, needs in graph.items():
        unknown = [need for need in needs if need not in graph]
        if unknown:
            raise _Unprovable(
                f"GitHub rejects workflow {workflow}: job '{job_id}' needs unknown '{unknown[0]}'"
            )
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        cycle = " -> ".join(err.args[1])
        raise _Unprovable(f"GitHub rejects workflow {workflow}: its jobs need each other ({cycle})") from err


def _condition(job: Workflow) -> str | None:
    """The job's `if:` without `${{ }}` and whitespace, so equivalent spellings compare equal."""
    if "if" not in job:
        return None
    condition = job["if"]
    text = ("true" if condition else "false") if isinstance(condition, bool) else str(condition).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return "".join(text.split())


# --- triggers -------------------------------------------------------------------------------------

# An event type left out of `types:` is an event on which the check is not reported again.
_DEFAULT_TYPES = {PULL_REQUEST: ("opened", "synchronize", "reopened"), MERGE_GROUP: ("checks_requested",)}


def triggers(doc: Workflow) -> dict[str, Any]:
    """The workflow's `on:` as {event: its configuration or None}, whichever form it is written in."""
    on = next((value for key, value in doc.items() if key == "on" or key is True), None)
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(event): None for event in on}
    if isinstance(on, Mapping):
        return {str(event): config for event, config in on.items()}
    return {}


def _trigger_gap(workflow: str, doc: Workflow, branch: str, event: str) -> str | None:
    """Why the workflow may not run for `event` into every branch `branch` matches, or None."""
    events = triggers(doc)
    if event not in events:
        runs_on = ", ".join(sorted(events)) or "nothing"
        return f"workflow {workflow} does not run on {event} (it runs on: {runs_on})"
    config = events[event]
    if config is None:
        return None
    if not isinstance(config, Mapping):
        return f"workflow {workflow} has an `on.{event}` section this rule cannot read"
    return (
        _paths_gap(workflow, event, config)
        or _types_gap(workflow, event, config)
        or _branches_gap(workflow, event, config, branch)
    )


def _paths_gap(workflow: str, event: str, config: Workflow) -> str | None:
    if "paths" in config:
        return (
            f"workflow {workflow} filters {event} by paths, "
            "so a change to no listed path leaves it unreported"
        )
    if "paths-ignore" in config:
        return (
            f"workflow {workflow} filters {event} by paths-ignore, "
            "so a change only to ignored paths leaves it unreported"
        )
    return None


def _types_gap(workflow: str, event: str, config: Workflow) -> str | None:
    if "types" not in config:
        return None
    try:
        types = _strings(config["types"], "types")
    except _Unprovable as err:
        return f"workflow {workflow} has {event} types this rule cannot read ({err})"
    missing = [kind for kind in _DEFAULT_TYPES.get(event, ()) if kind not in types]
    if not missing:
        return None
    return (
        f"workflow {workflow} runs on {event} only for types [{', '.join(types)}], "
        f"so a {' or '.join(missing)} event leaves it unreported"
    )


def _branches_gap(workflow: str, event: str, config: Workflow, branch: str) -> str | None:
    if "branches" in config and "branches-ignore" in config:
        return f"GitHub rejects workflow {workflow}: {event} has both branches and branches-ignore"
    key = "branches" if "branches" in config else "branches-ignore"
    if key not in config:
        return None
    try:
        patterns = _strings(config[key], key)
        if key == "branches-ignore" and any(p.startswith("!") for p in patterns):
            raise _Unprovable("GitHub does not document `!` in branches-ignore")
        witness = _uncovered_branch(branch, patterns, ignore=key == "branches-ignore")
    except _Unprovable as err:
        return f"this rule cannot tell whether workflow {workflow} runs on {event} into it: {err}"
    if witness is None:
        return None
    shown = f"{key}: [{', '.join(patterns)}]"
    target = f"'{witness}'" if witness == branch else f"'{witness}', which '{branch}' matches"
    return f"workflow {workflow} does not run on {event} into {target} ({shown})"


def _strings(value: object, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise _Unprovable(f"`{key}` is not a list of strings")


# --- check names ----------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_MATRIX_VALUE = re.compile(r"\s*matrix\.([A-Za-z_][\w-]*)\s*")
_MISSING = object()
Combination = dict[str, object]


def _job_check_names(job_id: str, job: Workflow) -> list[str]:
    """`_check_names`, shared by jobs with the same id, name, strategy and reusable workflow."""
    shape = (job_id, "name" in job, job.get("name"), job.get("strategy"), "uses" in job, job.get("uses"))
    return list(_CHECK_NAMES.get(_key(*shape), lambda: tuple(_check_names(job_id, job))))


def _check_names(job_id: str, job: Workflow) -> list[str]:
    """The check names GitHub shows for the job: its name, per matrix combination."""
    if "uses" in job:
        raise _Unprovable(
            f"it calls the reusable workflow {job['uses']}, whose checks are named "
            "'<this job's name> / <called job's name>' and are not visible to this rule"
        )
    template = _text(job.get("name", job_id))
    places_values = _names_matrix_values(template)
    combinations = _matrix_combinations(job)
    if combinations is None:
        return [_substitute(template, {})]
    if places_values:
        names = [_substitute(template, combination) for combination in combinations]
    else:
        # GitHub's default: the job name followed by the combination's values, in order.
        names = [f"{template} ({', '.join(map(_text, c.values()))})" if c else template for c in combinations]
    return list(dict.fromkeys(names))


def _names_matrix_values(template: str) -> bool:
    """Whether the name contains `${{ matrix.<key> }}`; any other expression is unknowable here."""
    expressions = _EXPRESSION.findall(template)
    if not all(_MATRIX_VALUE.fullmatch(expression) for expression in expressions):
        raise _Unprovable(f"its name '{template}' is computed at run time")
    return bool(expressions)


def _substitute(template: str, combination: Combination) -> str:
    def value(match: re.Match[str]) -> str:
        key = _MATRIX_VALUE.fullmatch(match.group(1))
        return _text(combination.get(key.group(1), "")) if key else match.group(0)

    return _EXPRESSION.sub(value, template)


def _possible_names(job_id: str, job: Workflow) -> re.Pattern[str]:
    """Every name a job whose names are unknowable might report: expressions match anything."""
    parts = _EXPRESSION.split(_text(job.get("name", job_id)))
    # re.split with one group alternates literal text and expression bodies.
    pattern = "".join(re.escape(part) if index % 2 == 0 else ".*" for index, part in enumerate(parts))
    if "strategy" in job:
        pattern += r"( \(.*\))?"
    if "uses" in job:
        pattern += "( / .*)?"
    return re.compile(pattern, re.DOTALL)


def _matrix_combinations(job: Workflow) -> list[Combination] | None:
    """The job's matrix combinations as GitHub expands them, or None for a job without a matrix."""
    strategy = job.get("strategy")
    if strategy is None:
        return None
    if not isinstance(strategy, Mapping):
        raise _Unprovable("its strategy is computed at run time")
    matrix = strategy.get("matrix")
    if matrix is None:
        return None
    if not isinstance(matrix, Mapping):
        raise _Unprovable("its matrix is computed at run time")
    axes = {str(key): values for key, values in matrix.items() if key not in ("include", "exclude")}
    for key, values in axes.items():
        if not isinstance(values, list) or not all(map(_is_scalar, values)):
            raise _Unprovable(f"its matrix.{key} is computed at run time or holds objects")
    combinations = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    if not axes:  # a matrix of only `include` entries: each entry is one combination
        combinations = []
    excluded = _matrix_entries(matrix, "exclude")
    combinations = [c for c in combinations if not any(_contains(c, entry) for entry in excluded)]
    return _include(combinations, _matrix_entries(matrix, "include"), axes.keys())


def _include(
    combinations: list[Combination], entries: Iterable[Combination], axes: Collection[str]
) -> list[Combination]:
    """GitHub's `include`: an entry extends every original combination whose matrix values it does not
    contradict (added keys may be overwritten by later entries); one that extends none is added as a
    combination of its own, never extended itself."""
    extended = [dict(c) for c in combinations]
    added: list[Combination] = []
    for entry in entries:
        fitting = [c for c in extended if all(c.get(k) == v for k, v in entry.items() if k in axes)]
        for combination in fitting:
            combination.update(entry)
        if not fitting:
            added.append(dict(entry))
    return extended + added


def _matrix_entries(matrix: Workflow, key: str) -> list[Combination]:
    entries = matrix.get(key, [])
    if not isinstance(entries, list) or not all(
        isinstance(entry, Mapping) and all(map(_is_scalar, entry.values())) for entry in entries
    ):
        raise _Unprovable(f"its matrix.{key} is computed at run time or holds objects")
    return [{str(k): v for k, v in entry.items()} for entry in entries]


def _contains(combination: Combination, entry: Combination) -> bool:
    return all(combination.get(key, _MISSING) == value for key, value in entry.items())


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _one_line(value: object) -> str:
    return " ".join(_text(value).split())


def _text(value: object) -> str:
    """A YAML scalar as GitHub prints it in a check name."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- branch globs ---------------------------------------------------------------------------------
#
# "Does the workflow's branch filter select every branch the protected pattern matches?" is language
# inclusion between globs. Both are compiled to small automata and their product is explored
# breadth first: exact, and the first uncovered name found is the shortest example to show.


@dataclass(frozen=True)
class _Chars:
    """A set of characters, or (negated) every character but those."""

    members: frozenset[str]
    negated: bool = False

    def __contains__(self, char: object) -> bool:
        return (char in self.members) != self.negated


_ANY = _Chars(frozenset(), negated=True)
_IN_SEGMENT = _Chars(frozenset("/"), negated=True)  # `*` and fnmatch's `?` stop at `/`
_SLASH = _Chars(frozenset("/"))


class _Nfa:
    """A glob as a non-deterministic automaton over characters; state 0 is the start."""

    def __init__(self) -> None:
        self.moves: list[list[tuple[_Chars, int]]] = [[]]
        self.skips: list[list[int]] = [[]]  # moves that read no character
        self.accept = 0

    def add_state(self) -> int:
        self.moves.append([])
        self.skips.append([])
        return len(self.moves) - 1

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        seen = set(states)
        todo = list(seen)
        while todo:
            for target in self.skips[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return frozenset(seen)

    def step(self, states: frozenset[int], char: str) -> frozenset[int]:
        return self.closure(
            target for state in states for chars, target in self.moves[state] if char in chars
        )

    def alphabet(self) -> set[str]:
        return {char for moves in self.moves for chars, _ in moves for char in chars.members}


_Token = _Chars | str  # one character, or one of the operators "**/", "**", "*", "?", "+"


def _compile(pattern: str, *, workflow_filter: bool) -> _Nfa:
    """A branch glob as an automaton.

    workflow_filter: GitHub Actions filter syntax, where `?` and `+` quantify the previous character
    (as in nektos/act's port of it). Otherwise branch protection's fnmatch, where `?` is one character.
    """
    nfa = _Nfa()
    here = 0
    last: tuple[int, _Chars] | None = None  # the previous one-character step, which `?`/`+` quantify
    for token in _tokens(pattern, workflow_filter=workflow_filter):
        if isinstance(token, _Chars):
            last, here = (here, token), _then(nfa, here, token)
            continue
        if token == "+" and last is None:
            raise _Unprovable(f"'{pattern}' repeats something that is not one character")
        if token == "?" and last is not None:
            nfa.skips[last[0]].append(here)
        elif token == "+" and last is not None:
            nfa.moves[here].append((last[1], here))
        elif token == "**/":  # zero or more whole directories: (.+/)?
            inside = _then(nfa, here, _ANY)
            nfa.moves[inside].append((_ANY, inside))
            end = _then(nfa, inside, _SLASH)
            nfa.skips[here].append(end)
            here = end
        elif token in ("**", "*"):
            repeat = nfa.add_state()
            nfa.skips[here].append(repeat)
            nfa.moves[repeat].append((_ANY if token == "**" else _IN_SEGMENT, repeat))
            here = repeat
        last = None  # `?` after an operator is a lazy quantifier: it changes nothing
    nfa.accept = here
    return nfa


def _then(nfa: _Nfa, here: int, chars: _Chars) -> int:
    target = nfa.add_state()
    nfa.moves[here].append((chars, target))
    return target


def _tokens(pattern: str, *, workflow_filter: bool) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        operator = next((op for op in ("**/", "**", "*") if pattern.startswith(op, pos)), None)
        if operator is not None:
            tokens.append(operator)
            pos += len(operator)
        elif char == "\\":
            if pos + 1 == len(pattern):
                raise _Unprovable(f"'{pattern}' ends with a lone backslash")
            tokens.append(_Chars(frozenset(pattern[pos + 1])))
            pos += 2
        elif char == "[":
            chars, pos = _bracket(pattern, pos, workflow_filter=workflow_filter)
            tokens.append(chars)
        elif char in "?+" and workflow_filter and pos > 0:
            tokens.append(char)
            pos += 1
        else:
            tokens.append(_IN_SEGMENT if char == "?" and not workflow_filter else _Chars(frozenset(char)))
            pos += 1
    return tokens


def _bracket(pattern: str, start: int, *, workflow_filter: bool) -> tuple[_Chars, int]:
    """A `[...]` class starting at `start`, and the position after it."""
    end = pattern.find("]", start + 1)
    if end <= start + 1:
        raise _Unprovable(f"'{pattern}' has an empty or unclosed `[`")
    body = pattern[start + 1 : end]
    negators = "^" if workflow_filter else "!^"
    negated = body[0] in negators and len(body) > 1
    body = body[1:] if negated else body
    members: set[str] = set()
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            members.update(map(chr, range(ord(body[index]), ord(body[index + 2]) + 1)))
            index += 3
        else:
            members.add(body[index])
            index += 1
    return _Chars(frozenset(members), negated), end + 1


# A product state: the protection pattern's states, whether the name is at the start of a `/`-separated
# part, and each filter pattern's states.
_State = tuple[frozenset[int], bool, tuple[frozenset[int], ...]]
# Stand-ins for "any character no pattern mentions", preferring ones that read naturally in a witness.
_FILLERS = "x" + ascii_lowercase + digits + ascii_uppercase + "-_"


def _uncovered_branch(protected: str, filters: Sequence[str], *, ignore: bool) -> str | None:
    """A branch name `protected` matches that the filter does not select, or None if there is none.

    `filters` is a `branches` list (last matching pattern wins, `!` excludes) or, with `ignore`, a
    `branches-ignore` list.
    """
    target = _compile(protected, workflow_filter=False)
    patterns = [(p.startswith("!"), _compile(p.removeprefix("!"), workflow_filter=True)) for p in filters]
    alphabet = _alphabet([target, *(nfa for _, nfa in patterns)])
    start: _State = (target.closure([0]), True, tuple(nfa.closure([0]) for _, nfa in patterns))
    came_from: dict[_State, tuple[_State, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        here, at_part_start, matches = state
        if target.accept in here and not at_part_start and not _selects(patterns, matches, ignore=ignore):
            return _spell(came_from, state)
        for char in alphabet:
            following = _advance(target, patterns, state, char)
            if following is not None and following not in came_from:
                came_from[following] = (state, char)
                queue.append(following)
    return None


def _alphabet(nfas: Iterable[_Nfa]) -> list[str]:
    """Every character some pattern tells apart, plus one that stands for all the others."""
    named = {"/"}.union(*(nfa.alphabet() for nfa in nfas))
    filler = next(c for c in itertools.chain(_FILLERS, map(chr, itertools.count(0xC0))) if c not in named)
    return [filler, *sorted(named)]


def _advance(target: _Nfa, patterns: Sequence[tuple[bool, _Nfa]], state: _State, char: str) -> _State | None:
    here, at_part_start, matches = state
    if char == "/" and at_part_start:
        return None  # git refuses empty parts: no leading `/`, no `//`
    following = target.step(here, char)
    if not following:
        return None  # no longer a name the protection pattern can match
    return (
        following,
        char == "/",
        tuple(nfa.step(m, char) for (_, nfa), m in zip(patterns, matches, strict=True)),
    )


def _selects(
    patterns: Sequence[tuple[bool, _Nfa]], matches: Sequence[frozenset[int]], *, ignore: bool
) -> bool:
    hits = [nfa.accept in states for (_, nfa), states in zip(patterns, matches, strict=True)]
    if ignore:
        return not any(hits)
    selected = False
    for (negated, _), hit in zip(patterns, hits, strict=True):
        if hit:
            selected = not negated
    return selected


def _spell(came_from: Mapping[_State, tuple[_State, str] | None], state: _State) -> str:
    chars: list[str] = []
    step = came_from[state]
    while step is not None:
        state, char = step
        chars.append(char)
        step = came_from[state]
    return "".join(reversed(chars))
