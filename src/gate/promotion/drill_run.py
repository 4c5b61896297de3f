"""`gate drill rollback` and `gate drill restore`: the rollback drill's two deploys of the drilled
stack (issue 12, part "drill"; the design and GATE-DP-16 are in gate/promotion/drill.py).

`start` rolls the drilled stack back to its rollback target through the one delivery path
(gate/promotion/deploy.py) and keeps what it ran before in its state; `restore` puts that back
exactly, with the drill's result. Apart from gate/promotion/drill.py, which every plan imports to
check GATE-DP-16 and render rollback-drill.yml, so that a plan does not import the deploy path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gate.clock import iso
from gate.policy.model import DrillResult, PipelineRun
from gate.policy.stackfile import read_stack_config
from gate.promotion.delivery import (
    DEPLOYMENT_KEY,
    DEPLOYMENT_OUTPUT,
    DRILL_PENDING_KEY,
    DRILL_PENDING_OUTPUT,
    DRILL_RESULT_KEY,
    HAND_TYPED_REFUSED,
    RELEASE_KEY,
    RELEASE_OUTPUT,
    VALIDATION_KEY,
    VALIDATION_OUTPUT,
    job_problems,
    rollback_target,
    state_record,
    workflow_run_problems,
)
from gate.promotion.deploy import Applied, _apply
from gate.promotion.drill import FAILED, PASSED, WORKFLOW_PATH, drilled_environment
from gate.promotion.evidence import RULE_ID as PROMOTION_RULE_ID
from gate.promotion.evidence import read_evidence, unvalidated
from gate.promotion.outside import DeliveryRefused, GitHubApi, StackWorkspace, run_and_jobs
from gate.promotion.promote import policy_from_values, stack_file_policy


def start(
    project_dir: Path,
    workspace: StackWorkspace,
    stack: str,
    run: PipelineRun,
    *,
    now: datetime,
    before_apply: Callable[[], None] = lambda: None,
) -> Applied:
    """Phase 1: roll the drilled stack back to its rollback target (a rollback-type deploy, so the
    program checks GATE-DP-12) and keep what it ran before in its state. Refused, with nothing
    applied, when the stack is not the drilled one, a drill is already in progress, or there is
    nothing to roll back to."""
    policy = stack_file_policy(project_dir, stack)
    drilled = drilled_environment(policy)
    if drilled.stack != stack:
        raise DeliveryRefused(
            f"--stack {stack}: the rollback drill runs in {drilled.name} (stack {drilled.stack}); "
            f"allowed: {drilled.stack!r} (rollbackDrill.environment names another one, never production)"
        )
    state = workspace.outputs(stack)
    pending = state_record(state, DRILL_PENDING_OUTPUT)
    if pending is not None:
        raise DeliveryRefused(
            f"stack {stack} is in the middle of the drill of run {pending.get('run', {}).get('runId')}: "
            f"run `python -m gate drill restore --stack {stack}` for that run first"
        )
    release, deployment = state_record(state, RELEASE_OUTPUT), state_record(state, DEPLOYMENT_OUTPUT)
    if release is None or deployment is None:
        raise DeliveryRefused(
            f"stack {stack} records no deploy by the pipeline: nothing to drill "
            "(deploy it with deploy.yml first)"
        )
    target = rollback_target(state)
    if target is None:
        raise DeliveryRefused(
            f"stack {stack} has validated no image other than the one it runs ({release.get('image')}): "
            "nothing to roll back to, so no drill; it becomes possible after the next validated deploy"
        )
    unrestorable = _restore_refusals(project_dir, workspace, stack, release)
    if unrestorable:
        raise DeliveryRefused(
            f"stack {stack}: the restore after the drill would be refused ({'; '.join(unrestorable)}), "
            f"so no drill now: it can run once {stack} runs what its upstream validated"
        )
    running = str(release["image"])
    remembered: dict[str, Any] = {"release": release, "deployment": deployment}
    validation = state_record(state, VALIDATION_OUTPUT)
    if validation is not None:
        remembered["validation"] = validation
    remembered["rolledBackTo"] = target
    remembered["run"] = {"repository": run.repository, "runId": run.run_id}
    values = {
        RELEASE_KEY: {"image": target},
        DEPLOYMENT_KEY: {
            "deployedAt": iso(now),
            "run": {"repository": run.repository, "runId": run.run_id},
            "rollback": True,
            "previousImage": running,
        },
        DRILL_PENDING_KEY: remembered,
    }
    why = f"written by `gate drill rollback` for run {run.run_id}"
    before_apply()  # from here on, the stack may have changed: the restore must run
    outputs = _apply(project_dir, workspace, stack, values, why)
    return Applied(stack, target, running, outputs)


def _restore_refusals(
    project_dir: Path, workspace: StackWorkspace, stack: str, release: Mapping[str, Any]
) -> list[str]:
    """Why the program would refuse to put `release` back (GATE-DP-09: every `pulumi up` of the
    stack checks it against its upstream's evidence again): checked before the drill starts, so
    that a drill never leaves the environment on the older image."""
    config = read_stack_config(project_dir, stack)
    values = {key: value for key, value in config.values.items() if key not in HAND_TYPED_REFUSED}
    values[RELEASE_KEY] = dict(release)
    policy = policy_from_values(values, stack, config.source)
    upstream = policy.upstream_environment
    if upstream is None or policy.release is None or policy.release.emergency is not None:
        return []
    evidence, why_none = read_evidence(workspace.outputs(upstream.stack), upstream.stack)
    return [f"[{PROMOTION_RULE_ID}] {problem}" for problem in unvalidated(policy, evidence, why_none)]


@dataclass(frozen=True)
class Restored:
    stack: str
    image: str
    result: dict[str, Any]
    outputs: dict[str, Any]


def drill_run_problems(
    environment: str,
    *,
    repository: str,
    run_id: int,
    run: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Why the GitHub API's view of run `run_id` does not back a passed drill: it must be a
    rollback-drill.yml run of the repository whose `parity <environment>` jobs succeeded."""
    return workflow_run_problems(run_id, run, repository, (WORKFLOW_PATH,)) + job_problems(
        run_id, jobs, f"parity {environment}"
    )


def restore(
    project_dir: Path,
    workspace: StackWorkspace,
    github: GitHubApi | None,
    stack: str,
    run: PipelineRun,
    *,
    parity: str,
    parity_root_hash: str | None,
    now: datetime,
) -> Restored:
    """Phase 3, whatever the parity result: the pre-drill release, deployment and evidence go back
    exactly as they were, with the drill's result. "passed" needs parity "success", its root hash
    and (through `github`) the run's parity job concluded success; anything else records "failed"."""
    state = workspace.outputs(stack)
    pending = state_record(state, DRILL_PENDING_OUTPUT)
    if pending is None:
        raise DeliveryRefused(f"stack {stack} has no drill in progress: nothing to restore")
    started_by = (pending.get("run") or {}).get("runId")
    if started_by != run.run_id:
        raise DeliveryRefused(
            f"--run-id {run.run_id}: the drill in progress in {stack} was started by run {started_by}; "
            f"restore it with --run-id {started_by}"
        )
    policy = stack_file_policy(project_dir, stack)
    result, reason = FAILED, f"the parity check ended {parity or 'without a result'}"
    if parity == "success":
        if github is None:
            raise DeliveryRefused("a passed drill is verified through the GitHub API: set GH_TOKEN")
        answer, jobs = run_and_jobs(github, run.repository, run.run_id)
        problems = drill_run_problems(
            policy.environment, repository=run.repository, run_id=run.run_id, run=answer, jobs=jobs
        )
        if not parity_root_hash:
            problems.append("the parity check reported no root hash")
        result, reason = (FAILED, "; ".join(problems)) if problems else (PASSED, "the parity check passed")
    document: dict[str, Any] = {
        "image": pending["release"]["image"],
        "rolledBackTo": pending["rolledBackTo"],
        "drilledAt": iso(now),
        "run": {"repository": run.repository, "runId": run.run_id},
        "result": result,
    }
    if result == PASSED:
        document["parityRootHash"] = parity_root_hash
    DrillResult.model_validate(document)  # the shape the program will require; refused here first
    values: dict[str, Any] = {
        RELEASE_KEY: pending["release"],
        DEPLOYMENT_KEY: pending["deployment"],
        DRILL_RESULT_KEY: document,
    }
    if pending.get("validation") is not None:
        values[VALIDATION_KEY] = pending["validation"]
    why = f"written by `gate drill restore` for run {run.run_id} (drill {result}: {reason})"
    outputs = _apply(project_dir, workspace, stack, values, why)
    return Restored(stack, str(pending["release"]["image"]), document, outputs)
