"""`python -m gate evaluate`: the delivery policy's Evaluation Criteria table (issue 12, GATE-DP-18).

delivery-policy.md §Evaluation Criteria names seven criteria, each PASS or FAIL. Each is a pure
function here, `(facts) -> Verdict(status, evidence, sources)`: what it concluded, the facts it
used, and where each fact came from (the stack file, a state output of a stack, the release
contract, a GitHub API path). The facts are gathered once, up front, behind small protocols (the
stack workspace and the GitHub API of gate/promotion/outside.py, or state files given on the command line), so
tests run every criterion against fixture states and fakes.

deploy.yml runs `evaluate` before the production deploy (the jobs are gate/promotion/evaluation_jobs.py,
which a plan imports without this module): a FAIL blocks production (GATE-DP-18); the table goes to
the run's step summary and, for a release, onto its GitHub release.

What stays human judgement is said in the evidence of the criterion it belongs to: whether new
features are flagged (the gate proves the flags are valid and the contract names only declared
ones), whether the notes are worth reading (it proves they exist, are published and say more than
a "Full Changelog" link), whether the rollback plan's text is true.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from gate import clock
from gate.errors import GateError, InputOutputError
from gate.policy.model import GatePolicy, Release
from gate.policy.stackfile import read_stack_config
from gate.policy.types import PinnedImage, duration_seconds
from gate.policy.yamlguard import MissingFile, UnreadableFile, read_bounded
from gate.promotion import delivery
from gate.promotion import emergency as emergency_path
from gate.promotion import evidence as promotion
from gate.promotion.drill import drilled_environment
from gate.promotion.outside import GitHubApi, StackWorkspace
from gate.promotion.promote import policy_from_values
from gate.runtime import cluster as runtime
from gate.runtime import flags

RULE_ID = "GATE-DP-18"  # production is deployed only when every criterion passes
Status = Literal["PASS", "FAIL"]
FORMATS = ("text", "json", "markdown")

DRILL_OUTPUT = delivery.DRILL_RESULT_OUTPUT  # the drilled stack's state output (gate/promotion/drill.py)
FOLLOW_UP_OUTPUT = (
    "emergencyFollowUp"  # gate/promotion/evidence.py emergency_follow_up, exported by the stack
)
POST_INCIDENT_LABEL = emergency_path.POST_INCIDENT_LABEL
SIGNAL_BRANCH_PREFIX = "post-incident/"  # part emergency: the signal pull request's branch
SIGNAL_PULL_REQUEST = "signal pull request"  # Facts.issues key of its answer


class EvaluationProblem(GateError):
    """Bad input to `gate evaluate` (exit 2): a stack, a state file, an option."""


class StateFileUnreadable(EvaluationProblem, InputOutputError):
    """A state file that is missing or cannot be read (exit 4)."""


@dataclass(frozen=True)
class Verdict:
    status: Status
    evidence: tuple[str, ...]
    sources: tuple[str, ...]


def passed(evidence: Sequence[str], sources: Sequence[str]) -> Verdict:
    return Verdict("PASS", tuple(evidence), tuple(dict.fromkeys(sources)))


def failed(evidence: Sequence[str], sources: Sequence[str]) -> Verdict:
    return Verdict("FAIL", tuple(evidence), tuple(dict.fromkeys(sources)))


# -- the facts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """A stack's state outputs and where they were read."""

    stack: str
    outputs: Mapping[str, Any] | None
    source: str

    def output(self, name: str) -> str:
        return f"{self.source}: output `{name}`"


@dataclass(frozen=True)
class Contract:
    """The release contract: `##` section -> its lines (HTML comments removed)."""

    path: str
    sections: Mapping[str, tuple[str, ...]] | None  # None: no such file


@dataclass(frozen=True)
class Answer:
    """A GitHub API GET: the document, or why there is none."""

    path: str
    document: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Facts:
    stack: str
    policy: GatePolicy  # the stack file with the stack's state carried forward (gate/promotion/delivery.py)
    stack_source: str  # stacks/Pulumi.<stack>.yaml
    state: State
    upstream: State | None
    drilled: State | None
    image: str | None  # the image evaluated: --image, else what the stack runs
    image_source: str
    now: datetime
    release: str | None = None
    contract: Contract | None = None
    github_release: Answer | None = None
    issues: Mapping[str, Answer] = field(default_factory=dict)  # label -> issues?labels=<label>
    signal_file: tuple[str, bool] | None = None  # (path in --repo-dir, exists)


# -- helpers over the facts ------------------------------------------------------------------------


def _get(document: Any, name: str) -> Any:
    return document.get(name) if isinstance(document, Mapping) else None


def running_image(state: State) -> str | None:
    image = _get(_get(state.outputs, delivery.RELEASE_OUTPUT), "image")
    return str(image) if isinstance(image, str) else None


def runs_evaluated_image(facts: Facts) -> bool:
    return facts.image is not None and running_image(facts.state) == facts.image


def emergency_of(facts: Facts) -> Any:
    """The emergency the evaluated release was deployed under, if any: the stack's release (its
    state, carried forward) when it runs the evaluated image."""
    release = facts.policy.release
    if release is None or release.emergency is None or release.image != facts.image:
        return None
    return release.emergency


_DAYS = re.compile(r"([0-9]{1,4})d(.*)")


def _seconds(text: str) -> float:
    """A Duration, plus a leading days part (rollbackDrill.maxAge "14d")."""
    days = _DAYS.fullmatch(text)
    if days is not None:
        rest = days.group(2)
        return int(days.group(1)) * 86400.0 + (float(duration_seconds(rest)) if rest else 0.0)
    try:
        return float(duration_seconds(text))
    except ValueError:
        raise EvaluationProblem(f"not a duration: {text!r}; allowed: such as '14d', '1h30m'") from None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def drill_settings(policy: GatePolicy) -> tuple[str | None, str]:
    """(the drilled environment, maxAge) of `rollbackDrill` (gate/promotion/drill.py)."""
    return drilled_environment(policy).name, policy.rollback_drill.max_age


def emergency_settings(policy: GatePolicy) -> tuple[str, str]:
    """(backfillLabel, signalsDirectory) of the `emergency` settings (gate/promotion/emergency.py)."""
    emergency = policy.emergency
    return emergency.backfill_label, str(emergency.signals_directory).rstrip("/")


def tag_of(policy: GatePolicy, version: str) -> str:
    return f"{policy.release_notes.tag_prefix}{version}"


def contracts_directory(policy: GatePolicy) -> str:
    return str(policy.release_contract.directory)


def _environment_stack(policy: GatePolicy, environment: str | None) -> str | None:
    return next((e.stack for e in policy.environments if e.name == environment), None)


# -- the criteria: pure functions of the facts ----------------------------------------------------


def environment_progression(facts: Facts) -> Verdict:
    """PASS: validated in each environment before promotion; FAIL: skipped without emergency."""
    policy, upstream = facts.policy, facts.policy.upstream_environment
    sources = [facts.image_source]
    if upstream is None:
        return passed(
            [f"{policy.environment} is the first environment of the chain: nothing precedes it"],
            [facts.stack_source],
        )
    if facts.image is None:
        return failed(
            [f"no image to judge: stack {facts.stack} runs nothing and no --image was given"], sources
        )
    assert facts.upstream is not None
    sources.append(facts.upstream.output(promotion.EVIDENCE_OUTPUT))
    release = (
        policy.release
        if policy.release and policy.release.image == facts.image
        else Release(image=facts.image)
    )
    judged = policy.model_copy(update={"release": release})
    evidence, why = promotion.read_evidence(facts.upstream.outputs, upstream.stack)
    missing = promotion.unvalidated(judged, evidence, why)
    if not missing:
        assert evidence is not None
        return passed(
            [
                f"{upstream.name} validated {evidence.image_digest} at {clock.iso(evidence.validated_at)} "
                f"(parity root hash {evidence.parity_root_hash}), and every flag on in {policy.environment}",
            ],
            sources,
        )
    emergency = emergency_of(facts)
    follow_up = _get(facts.state.outputs, FOLLOW_UP_OUTPUT)
    if emergency is not None and isinstance(follow_up, Mapping):
        return passed(
            [
                f"emergency {emergency.incident_id}: {policy.environment} was deployed without "
                f"{upstream.name}'s evidence ({'; '.join(missing)})",
                "its follow-up is recorded: "
                + "; ".join(str(item) for item in follow_up.get("backfill", [])),
            ],
            [*sources, facts.state.output(FOLLOW_UP_OUTPUT)],
        )
    return failed(
        [f"[{promotion.RULE_ID}] {m}" for m in missing] + ["no emergency justifies skipping it"], sources
    )


def progressive_rollout(facts: Facts) -> Verdict:
    """PASS: a defined plan with stages; FAIL: big-bang."""
    policy = facts.policy
    stages, bake = policy.rollout.stages, policy.rollout.bake_time
    plan = " → ".join(f"{stage}%" for stage in stages)
    sources = [f"{facts.stack_source}: delivery-gate:rollout"]
    if not runtime.uses_progressive_rollout(policy):
        return failed(
            [
                f"{policy.environment} is deployed all at once (big-bang): "
                "it does not use the progressive rollout"
            ],
            sources,
        )
    problems = []
    if len(stages) < 2 or stages[-1] != 100:
        problems.append(f"stages {plan}: at least two, ending at 100%")
    if _seconds(bake) <= 0:
        problems.append(f"bakeTime {bake}: no analysis runs between the steps")
    if problems:
        return failed(problems, sources)
    return passed(
        [f"canary {plan} in {policy.environment}, {bake} of analysis at each step, automatic abort"], sources
    )


def rollback_plan(facts: Facts) -> Verdict:
    """PASS: documented and tested; FAIL: no rollback capability."""
    evidence: list[str] = []
    sources: list[str] = []
    ok = True
    if facts.contract is not None:
        sources.append(f"{facts.contract.path}: ## Rollback plan")
        text, unchecked = _section(facts.contract, "Rollback plan")
        if facts.contract.sections is None:
            ok = False
            evidence.append(f"documented: no release contract {facts.contract.path}")
        elif not text:
            ok = False
            evidence.append("documented: the contract's Rollback plan section has no text of its author")
        elif unchecked:
            ok = False
            evidence.append(f"documented: unticked in the Rollback plan section: {'; '.join(unchecked)}")
        else:
            evidence.append(f"documented: {text[0][:120]}")
    else:
        evidence.append("documented: not judged (no --release, so no release contract to read)")
    environment, max_age = drill_settings(facts.policy)
    drilled = facts.drilled
    if drilled is None:
        ok = False
        evidence.append(
            f"tested: no stack to read the rollback drill from (rollbackDrill.environment {environment!r})"
        )
    else:
        sources.append(drilled.output(DRILL_OUTPUT))
        drill = _get(drilled.outputs, DRILL_OUTPUT)
        drilled_at = _time(_get(drill, "drilledAt"))
        limit = timedelta(seconds=_seconds(max_age))
        if not isinstance(drill, Mapping):
            ok = False
            evidence.append(f"tested: stack {drilled.stack} records no rollback drill")
        elif drill.get("result") != "passed":
            ok = False
            evidence.append(
                f"tested: the last drill in {drilled.stack} did not pass (result {drill.get('result')!r})"
            )
        elif drilled_at is None or not facts.now - limit <= drilled_at <= facts.now:
            ok = False
            shown = drill.get("drilledAt")
            evidence.append(
                f"tested: the last passed drill in {drilled.stack} ({shown}) is not within "
                f"rollbackDrill.maxAge {max_age}"
            )
        else:
            evidence.append(
                f"tested: rollback drill in {drilled.stack} passed at {clock.iso(drilled_at)} "
                f"(rolled back to {drill.get('rolledBackTo')}; within {max_age})"
            )
    target = delivery.rollback_target(
        {**(facts.state.outputs or {}), delivery.RELEASE_OUTPUT: {"image": facts.image}}
    )
    evidence.append(
        f"automatic rollback target in {facts.stack}: {target}"
        if target
        else f"no image validated in {facts.stack} to roll back to yet (a first deploy)"
    )
    sources.append(facts.state.output(delivery.VALIDATED_IMAGES_OUTPUT))
    return (passed if ok else failed)(evidence, sources)


_BACKTICKED = re.compile(r"`([^`\s]+)`")


def feature_flags(facts: Facts) -> Verdict:
    """PASS: new features flagged; FAIL: hard-coded feature delivery."""
    policy = facts.policy
    today = facts.now.date()
    sources = [f"{facts.stack_source}: delivery-gate:flags"]
    problems = flags.flag_violations(policy, today, facts.stack_source)
    declared = {flag.key for flag in policy.flags}
    evidence = [
        f"{len(declared)} flag(s) declared, none expired or promoted out of order" if not problems else ""
    ]
    if facts.contract is not None:
        sources.append(f"{facts.contract.path}: ## Feature flags")
        text, _ = _section(facts.contract, "Feature flags")
        named = sorted({name for line in text for name in _BACKTICKED.findall(line)})
        undeclared = [name for name in named if name not in declared]
        if facts.contract.sections is None:
            problems.append(f"no release contract {facts.contract.path}")
        elif not text:
            problems.append("the contract's Feature flags section is empty (name the flags, or 'none')")
        elif undeclared:
            problems += [
                f"the contract names flag `{name}`, which no stack file declares" for name in undeclared
            ]
        else:
            evidence.append(f"the contract names {', '.join(named) or 'no flag'}: all declared")
    evidence.append("whether every new feature is behind a flag is the reviewers' judgement")
    if problems:
        return failed([*problems, evidence[-1]], sources)
    return passed([line for line in evidence if line], sources)


def post_deploy_validation(facts: Facts) -> Verdict:
    """PASS: evidence within the window; FAIL: no validation evidence."""
    policy = facts.policy
    window = policy.thresholds.post_deploy_validation_window
    where = facts.state if runs_evaluated_image(facts) or facts.upstream is None else facts.upstream
    sources = [
        where.output(delivery.VALIDATION_OUTPUT),
        f"{facts.stack_source}: delivery-gate:thresholds.postDeployValidationWindow",
    ]
    before = (
        ""
        if where is facts.state
        else f" (pre-deploy: {facts.stack} does not run it yet; its own is recorded after its deploy)"
    )
    validation = _get(where.outputs, delivery.VALIDATION_OUTPUT)
    if facts.image is None or not isinstance(validation, Mapping) or validation.get("image") != facts.image:
        shown = _get(validation, "image")
        return failed(
            [
                f"stack {where.stack} holds no validation for {facts.image or 'any image'}{before}"
                + (f" (its validation is for {shown})" if shown else "")
            ],
            sources,
        )
    start, end = _time(validation.get("windowStart")), _time(validation.get("windowEnd"))
    analysis = validation.get("analysis")
    problems = []
    if analysis != "Successful":
        problems.append(f"canary analysis {analysis!r}, not Successful")
    if start is None or end is None:
        problems.append("no validation window recorded")
    elif (end - start).total_seconds() < _seconds(window):
        problems.append(f"window {clock.iso(start)}..{clock.iso(end)} is shorter than {window}")
    if problems:
        return failed([f"stack {where.stack}, image {facts.image}: {'; '.join(problems)}"], sources)
    assert start is not None and end is not None
    return passed(
        [
            f"stack {where.stack} validated {facts.image}{before}: analysis Successful, window "
            f"{clock.iso(start)}..{clock.iso(end)} (≥ {window}), run {_get(validation.get('run'), 'runId')}"
        ],
        sources,
    )


_FULL_CHANGELOG = re.compile(r"^\**\s*Full Changelog\s*\**\s*:", re.IGNORECASE)


def release_notes(facts: Facts) -> Verdict:
    """PASS: customer-ready; FAIL: missing or internal-only."""
    if facts.release is None or facts.github_release is None:
        return failed(["no --release given: no release whose notes could be judged"], [facts.image_source])
    answer = facts.github_release
    sources = [f"GitHub API GET {answer.path}"]
    tag = tag_of(facts.policy, facts.release)
    document = answer.document
    if answer.error is not None or not isinstance(document, Mapping):
        return failed([f"no GitHub release for tag {tag}: {answer.error or 'no answer'}"], sources)
    if document.get("draft"):
        return failed([f"the release for {tag} is still a draft: customers cannot read it"], sources)
    lines = [line.strip() for line in str(document.get("body") or "").splitlines()]
    customer = [
        line for line in lines if line and not line.startswith("<!--") and not _FULL_CHANGELOG.match(line)
    ]
    if not customer:
        return failed([f"the release for {tag} has no notes beyond a Full Changelog link"], sources)
    return passed(
        [
            f"release {document.get('name') or tag} published {document.get('published_at') or ''}".rstrip()
            + f" with {len(customer)} line(s) of notes",
            "whether the notes read well for customers is the release owner's judgement",
        ],
        sources,
    )


def emergency_deployment(facts: Facts) -> Verdict:
    """PASS: security checks maintained, post-incident signal filed; FAIL: bypassed, no follow-up."""
    emergency = emergency_of(facts)
    if emergency is None:
        return passed(
            ["not an emergency deployment: not applicable"], [facts.state.output(delivery.RELEASE_OUTPUT)]
        )
    incident = emergency.incident_id
    label, _ = emergency_settings(facts.policy)
    sources = [facts.state.output(delivery.RELEASE_OUTPUT)]
    problems, evidence = [], []
    if emergency.security_scan:
        evidence.append(f"{incident}: security scan {emergency.security_scan}")
    else:
        problems.append(f"{incident}: no security scan link (security checks are never skippable)")
    signal, signal_sources = post_incident_signal(facts, incident)
    sources += signal_sources
    if signal:
        evidence.append(f"post-incident signal: {signal}")
    else:
        problems.append(
            f"no post-incident signal for {incident} (an issue labelled {POST_INCIDENT_LABEL} "
            "naming it, a signal pull request, or a signal file)"
        )
    backfill = _mentioning(facts.issues.get(label), incident)
    if label in facts.issues:
        sources.append(f"GitHub API GET {facts.issues[label].path}")
    if backfill:
        evidence.append(f"backfill: issue #{backfill} ({label})")
    else:
        problems.append(f"no backfill issue labelled {label} names {incident}")
    return failed(problems + evidence, sources) if problems else passed(evidence, sources)


def post_incident_signal(facts: Facts, incident: str) -> tuple[str | None, list[str]]:
    """The incident's post-incident signal (an issue, a pull request, or the file), and what was
    looked at."""
    found: list[str] = []
    sources: list[str] = []
    for key, kind in ((POST_INCIDENT_LABEL, "issue"), (SIGNAL_PULL_REQUEST, "pull request")):
        if key in facts.issues:
            sources.append(f"GitHub API GET {facts.issues[key].path}")
            number = _mentioning(facts.issues[key], incident)
            found += [f"{kind} #{number}"] if number else []
    if facts.signal_file is not None:
        sources.append(f"--repo-dir {facts.signal_file[0]}")
        found += [facts.signal_file[0]] if facts.signal_file[1] else []
    return (found[0] if found else None), sources


def _mentioning(answer: Answer | None, text: str) -> int | None:
    if answer is None or not isinstance(answer.document, list):
        return None
    for issue in answer.document:
        if isinstance(issue, Mapping) and text in f"{issue.get('title') or ''}\n{issue.get('body') or ''}":
            number = issue.get("number")
            return int(number) if isinstance(number, int) else None
    return None


@dataclass(frozen=True)
class Criterion:
    name: str
    pass_means: str  # the policy table's words
    fail_means: str
    judge: Callable[[Facts], Verdict]


# delivery-policy.md §Evaluation Criteria, row by row.
CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "Environment progression",
        "Changes validated in each environment before promotion",
        "Environments skipped without emergency justification",
        environment_progression,
    ),
    Criterion("Progressive rollout", "Defined plan with stages", "Big-bang deployment", progressive_rollout),
    Criterion("Rollback plan", "Documented and tested", "No rollback capability", rollback_plan),
    Criterion("Feature flags", "New features flagged", "Hard-coded feature delivery", feature_flags),
    Criterion(
        "Post-deploy validation", "Evidence within window", "No validation evidence", post_deploy_validation
    ),
    Criterion("Release notes", "Customer-ready", "Missing or internal-only", release_notes),
    Criterion(
        "Emergency deployment",
        "Security checks maintained, post-incident signal filed",
        "Security bypassed or no follow-up",
        emergency_deployment,
    ),
)


def evaluate(facts: Facts) -> list[tuple[Criterion, Verdict]]:
    return [(criterion, criterion.judge(facts)) for criterion in CRITERIA]


# -- the release contract --------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BOX = re.compile(r"^\s*[-*]\s+\[( |x|X)\]\s*(.*)$")


def parse_contract(text: str) -> dict[str, tuple[str, ...]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in _COMMENT.sub("", text).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return {name: tuple(lines) for name, lines in sections.items()}


def _section(contract: Contract, name: str) -> tuple[list[str], list[str]]:
    """(the author's lines, the unticked boxes) of one section."""
    lines = (contract.sections or {}).get(name, ())
    text = [line for line in lines if not _BOX.match(line)]
    unchecked = [m.group(2) for line in lines if (m := _BOX.match(line)) and m.group(1) == " "]
    return text, unchecked


# -- gathering the facts ---------------------------------------------------------------------------


# A stack's outputs (`pulumi stack output --json`) are kilobytes; the limit only bounds a hostile file.
MAX_STATE_BYTES = 16 * 1024 * 1024


def read_state_file(path: Path, stack: str) -> State:
    try:
        # A regular file, read without blocking (a FIFO would wait for a writer forever).
        document = json.loads(read_bounded(path, MAX_STATE_BYTES).decode("utf-8"))
    except MissingFile as error:
        raise StateFileUnreadable(f"state file {path} of stack {stack}: {error}", file=str(path)) from None
    except (UnreadableFile, ValueError, RecursionError) as error:
        # RecursionError: Python's JSON reader recurses, and a hostile file nests arrays deeply.
        raise EvaluationProblem(f"state file {path} of stack {stack}: {error}") from None
    if not isinstance(document, dict):
        raise EvaluationProblem(f"state file {path} of stack {stack}: expected a JSON object of outputs")
    return State(stack, document, f"state file {path} (stack {stack})")


def read_state(workspace: Callable[[], StackWorkspace], stack: str) -> State:
    outputs = workspace().outputs(stack)
    return State(stack, outputs, f"state of stack {stack}")


@dataclass(frozen=True)
class Request:
    stack: str
    project_dir: Path
    repo_dir: Path
    release: str | None = None
    image: str | None = None
    state_file: Path | None = None
    upstream_state_file: Path | None = None
    repository: str | None = None


def gather(
    request: Request,
    workspace: Callable[[], StackWorkspace],
    github: Callable[[], GitHubApi],
    now: datetime,
) -> Facts:
    config = read_stack_config(request.project_dir, request.stack)
    bare = policy_from_values(config.values, request.stack, config.source, config.origins)
    if request.state_file is not None:
        state = read_state_file(request.state_file, request.stack)
    else:
        state = read_state(workspace, request.stack)
    values, _ = delivery.carry_forward(config.values, state.outputs)
    policy = policy_from_values(values, request.stack, f"{config.source} + {state.source}")
    upstream_env = bare.upstream_environment
    upstream: State | None = None
    if upstream_env is not None:
        if request.upstream_state_file is not None:
            upstream = read_state_file(request.upstream_state_file, upstream_env.stack)
        else:
            upstream = read_state(workspace, upstream_env.stack)
    elif request.upstream_state_file is not None:
        raise EvaluationProblem(f"--upstream-state: stack {request.stack} promotes from no environment")
    drill_environment, _ = drill_settings(bare)
    drill_stack = _environment_stack(bare, drill_environment)
    drilled = None
    if drill_stack == request.stack:
        drilled = state
    elif upstream is not None and drill_stack == upstream.stack:
        drilled = upstream
    elif drill_stack is not None:
        drilled = read_state(workspace, drill_stack)
    image, image_source = request.image, "--image"
    if image is None:
        image, image_source = running_image(state), state.output(delivery.RELEASE_OUTPUT)
    facts = Facts(
        stack=request.stack,
        policy=policy,
        stack_source=config.source,
        state=state,
        upstream=upstream,
        drilled=drilled,
        image=image,
        image_source=image_source,
        now=now,
        release=request.release,
    )
    repository = request.repository or _single_repository(bare)
    if request.release is not None:
        path = f"{contracts_directory(bare)}/{request.release}.md"
        file = request.repo_dir / path
        sections = parse_contract(file.read_text(encoding="utf-8")) if file.is_file() else None
        tag = urllib.parse.quote(tag_of(bare, request.release), safe="")
        facts = _with(
            facts,
            contract=Contract(path, sections),
            github_release=_ask(github, f"repos/{_need(repository)}/releases/tags/{tag}"),
        )
    emergency = emergency_of(facts)
    if emergency is not None:
        facts = _emergency_facts(facts, bare, request.repo_dir, _need(repository), github)
    return facts


def _emergency_facts(
    facts: Facts, policy: GatePolicy, repo_dir: Path, repository: str, github: Callable[[], GitHubApi]
) -> Facts:
    """An emergency's follow-up: the post-incident and backfill issues, the signal pull request
    (part emergency's `signal: pull-request`), the signal file."""
    incident = emergency_of(facts).incident_id
    label, directory = emergency_settings(policy)
    issues = {
        name: _ask(
            github, f"repos/{repository}/issues?labels={urllib.parse.quote(name)}&state=all&per_page=100"
        )
        for name in (POST_INCIDENT_LABEL, label)
    }
    if policy.emergency.signal == "pull-request":
        owner = repository.split("/", maxsplit=1)[0]
        head = urllib.parse.quote(f"{owner}:{SIGNAL_BRANCH_PREFIX}{incident}", safe="")
        issues[SIGNAL_PULL_REQUEST] = _ask(
            github, f"repos/{repository}/pulls?state=all&head={head}&per_page=100"
        )
    signal = f"{directory}/{incident}.md"
    return _with(facts, issues=issues, signal_file=(signal, (repo_dir / signal).is_file()))


def _with(facts: Facts, **changes: Any) -> Facts:
    return replace(facts, **changes)


def _single_repository(policy: GatePolicy) -> str | None:
    # The repository whose releases production runs (application.repositories, issue 13).
    names = [repo.full_name for repo in policy.deploying_repositories]
    return names[0] if len(names) == 1 else None


def _need(repository: str | None) -> str:
    if not repository:
        raise EvaluationProblem(
            "--repository (or GITHUB_REPOSITORY) is required to read GitHub releases and issues"
        )
    return repository


def _ask(github: Callable[[], GitHubApi], path: str) -> Answer:
    try:
        return Answer(path, github().get(path))
    except GateError as error:
        return Answer(path, error=str(error))


# -- output ----------------------------------------------------------------------------------------


def overall(results: Sequence[tuple[Criterion, Verdict]]) -> Status:
    return "PASS" if all(v.status == "PASS" for _, v in results) else "FAIL"


def render(facts: Facts, results: Sequence[tuple[Criterion, Verdict]], form: str) -> str:
    subject = f"stack {facts.stack}, image {facts.image or 'none'}" + (
        f", release {facts.release}" if facts.release else ""
    )
    if form == "json":
        document = {
            "rule": RULE_ID,
            "stack": facts.stack,
            "image": facts.image,
            "release": facts.release,
            "result": overall(results),
            "criteria": [
                {
                    "criterion": c.name,
                    "status": v.status,
                    "pass": c.pass_means,
                    "fail": c.fail_means,
                    "evidence": list(v.evidence),
                    "sources": list(v.sources),
                }
                for c, v in results
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if form == "markdown":
        lines = [
            f"### Evaluation criteria ({RULE_ID}): {overall(results)}",
            "",
            f"{subject} (delivery-policy.md §Evaluation Criteria)",
            "",
            "| Criterion | Result | Evidence | Source |",
            "|-----------|--------|----------|--------|",
        ]
        for c, v in results:
            lines.append(f"| {c.name} | **{v.status}** | {_cell(v.evidence)} | {_cell(v.sources)} |")
        return "\n".join(lines) + "\n"
    lines = [f"Evaluation criteria ({RULE_ID}) for {subject}: {overall(results)}"]
    for c, v in results:
        lines.append(f"{v.status}  {c.name} ({c.pass_means if v.status == 'PASS' else c.fail_means})")
        lines += [f"      - {line}" for line in v.evidence]
        lines += [f"      from {source}" for source in v.sources]
    return "\n".join(lines) + "\n"


def _cell(items: Sequence[str]) -> str:
    return "<br>".join(item.replace("|", "\\|").replace("\n", " ") for item in items)


# -- the command -----------------------------------------------------------------------------------


def add_parser(commands: Any, project_dir_default: Path) -> None:
    command = commands.add_parser(
        "evaluate", help="the delivery policy's Evaluation Criteria, PASS or FAIL each (GATE-DP-18)"
    )
    command.add_argument(
        "--stack", required=True, help="the environment's stack (stacks/Pulumi.<stack>.yaml)"
    )
    command.add_argument("--release", default=None, help="the release version V (contract, tag <tagPrefix>V)")
    command.add_argument("--image", default=None, help="the image to judge (default: what the stack runs)")
    command.add_argument("--repo-dir", type=Path, default=Path("."), help="the gated repository's checkout")
    command.add_argument("--format", choices=FORMATS, default="text")
    command.add_argument(
        "--state", type=Path, default=None, help="the stack's outputs (JSON) instead of its state"
    )
    command.add_argument(
        "--upstream-state", type=Path, default=None, help="the upstream stack's outputs (JSON)"
    )
    command.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY"), help="owner/name")
    command.add_argument("--project-dir", type=Path, default=project_dir_default)


_PINNED: TypeAdapter[str] = TypeAdapter(PinnedImage)
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


def command(
    args: argparse.Namespace,
    workspace: Callable[[], StackWorkspace],
    github: Callable[[], GitHubApi],
    now: datetime | None = None,
) -> int:
    release = args.release or None  # the pipeline passes "" when the push is no release
    if release is not None and not _VERSION.match(release):
        raise EvaluationProblem(f"--release: got {release!r}; allowed: a version such as 1.4.0")
    if args.image:
        try:
            _PINNED.validate_python(args.image)
        except ValidationError:
            raise EvaluationProblem(
                f"--image: got {args.image!r}; allowed: an image pinned by digest "
                "(registry/name@sha256:<64 hex>)"
            ) from None
    request = Request(
        stack=args.stack,
        project_dir=args.project_dir,
        repo_dir=args.repo_dir,
        release=release,
        image=args.image or None,
        state_file=args.state,
        upstream_state_file=args.upstream_state,
        repository=args.repository,
    )
    facts = gather(request, workspace, github, now or clock.now(exact=True))
    results = evaluate(facts)
    print(render(facts, results, args.format), end="")
    return 0 if overall(results) == "PASS" else 1
