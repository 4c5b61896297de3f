"""Rule GATE-M9-04: no reusable-workflow call is cancelled by its own run's concurrency groups.

M9 §Post-merge: "deployment must run `e2e-parity-check.yml` automatically; if parity fails, rollback
policies apply". GitHub evaluates a called workflow's `concurrency.group` in the CALLER's context
(`github.workflow` is the caller's name there), and when that group equals one the run already holds
(the caller's own group, or another call's) it cancels the call as a deadlock ("Canceling since a
deadlock for concurrency group ... was detected"). The parity check then ends `cancelled`, a rollback
that waits for `failure` never runs, and an unverified build stays deployed. Linters pass such files
(rhysd/actionlint#538), so the gate evaluates every group for every event the caller runs on.

Conservative like GATE-M9-03: a group that cannot be evaluated from the workflow files alone (it
reads `steps`, `matrix`, `secrets`, ...) is a violation whose reason says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gate.github.expressions import ExpressionError, interpolate
from gate.github.liveness import Workflow, triggers

RULE_ID = "GATE-M9-04"
_LOCAL_CALL = "./.github/workflows/"


@dataclass(frozen=True, order=True)
class Violation:
    repository: str
    workflow: str
    event: str
    reason: str

    def __str__(self) -> str:
        return f"{self.repository}: {self.workflow} on {self.event}: {self.reason}"


def _events(workflow: Workflow, default_branch: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, github context) for each way the workflow is started, with a representative ref."""
    name = str(workflow.get("name", ""))
    for event, spec in triggers(workflow).items():
        if event in ("workflow_call",):
            continue  # evaluated in its callers' context
        branches = [default_branch]
        if isinstance(spec, Mapping) and isinstance(spec.get("branches"), list):
            branches = [str(b).replace("*", "x") for b in spec["branches"]] or branches
        for branch in branches:
            base: dict[str, Any] = {"workflow": name, "event_name": event, "repository": "owner/repo"}
            payload: dict[str, Any]
            if event == "pull_request":
                ref, payload = "refs/pull/1/merge", {"pull_request": {"number": 1}}
            elif event == "merge_group":
                head = f"refs/heads/gh-readonly-queue/{branch}/pr-1-0000000"
                ref, payload = head, {"merge_group": {"head_ref": head}}
            else:
                ref, payload = f"refs/heads/{branch}", {}
            yield f"{event} ({ref})", {**base, "ref": ref, "event": payload}


def _group(node: Any) -> str | None:
    concurrency = node.get("concurrency") if isinstance(node, Mapping) else None
    if isinstance(concurrency, Mapping):
        concurrency = concurrency.get("group")
    return None if concurrency is None else str(concurrency)


def _inputs(called: Workflow, given: Any) -> dict[str, Any]:
    declared = triggers(called).get("workflow_call") or {}
    specs = declared.get("inputs") if isinstance(declared, Mapping) else None
    values = {str(k): v.get("default") for k, v in (specs or {}).items() if isinstance(v, Mapping)}
    if isinstance(given, Mapping):
        values.update({str(k): v for k, v in given.items()})
    return values


def check_call_concurrency(
    repository: str, workflows: Mapping[str, Workflow], default_branch: str
) -> list[Violation]:
    """Every local reusable-workflow call, for every event its caller runs on: the call's groups
    (workflow- and job-level) must differ from the caller's and from every other call's."""
    violations: set[Violation] = set()
    for file, caller in sorted(workflows.items()):
        jobs = caller.get("jobs") or {}
        calls = {
            job_id: job
            for job_id, job in jobs.items()
            if isinstance(job, Mapping) and str(job.get("uses", "")).startswith(_LOCAL_CALL)
        }
        for event, github in _events(caller, default_branch) if calls else ():
            reasons = _deadlocks(file, caller, calls, workflows, github)
            violations.update(Violation(repository, file, event, reason) for reason in reasons)
    return sorted(violations)


def _deadlocks(
    file: str,
    caller: Workflow,
    calls: Mapping[str, Any],
    workflows: Mapping[str, Workflow],
    github: Mapping[str, Any],
) -> list[str]:
    """Why calls of one run would be cancelled, for one event of the caller."""
    reasons: list[str] = []
    held: dict[str, str] = {}  # group -> who holds it in this run

    def evaluate(text: str, inputs: Mapping[str, Any], where: str) -> str | None:
        try:
            return interpolate(text, {"github": github, "inputs": inputs, "vars": {}, "env": {}})
        except ExpressionError as error:
            reasons.append(f"cannot evaluate {where}: {error}")
            return None

    caller_group = _group(caller)
    if caller_group is not None and (value := evaluate(caller_group, {}, "its concurrency group")):
        held[value] = f"the caller {file}"
    for job_id, job in sorted(calls.items()):
        target = str(job["uses"]).removeprefix(_LOCAL_CALL)
        called = workflows.get(target)
        if called is None:
            continue  # a call to a file the gate does not commit: GitHub reports it
        inputs = _inputs(called, job.get("with"))
        called_jobs = called.get("jobs") or {}
        groups = [("workflow", _group(called))]
        groups += [(f"job {name}", _group(spec)) for name, spec in sorted(called_jobs.items())]
        for scope, group in groups:
            where = f"the {scope} concurrency group of {target} called by '{job_id}'"
            value = None if group is None else evaluate(group, inputs, where)
            if value is None:
                continue
            if value in held:
                reasons.append(
                    f"job '{job_id}' calls {target}, whose {scope} concurrency group evaluates to "
                    f"'{value}' in the caller's context, the group {held[value]} holds: GitHub cancels "
                    "the call as a deadlock"
                )
            else:
                held[value] = f"of the call '{job_id}'"
    return reasons
