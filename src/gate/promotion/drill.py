"""The scheduled rollback drill (issue 12, part "drill"; rule GATE-DP-16).

DP §Pre-Deployment: "Rollback plan documented and tested". The rollback deploy.yml runs when a
deploy goes wrong (`gate rollback`, M9 §Post-merge 2) is only trusted if it has been exercised, so
on a schedule, rollback-drill.yml (rendered here) does, in the drilled environment (by default the
one production promotes from, staging):

1. `gate drill rollback`: a rollback-type deploy of the stack's rollback target (the newest image
   it validated other than the one it runs, gate.delivery.rollback_target), exactly as `gate
   rollback` does. The stack's release, deployment and evidence before the drill are kept in its
   state (`rollbackDrillPending`), so that nothing outside the state has to remember them.
2. the repository's post-merge parity check (e2e-parity-check.yml) against the rolled-back image.
3. `gate drill restore` (whatever the parity result): puts back EXACTLY the pre-drill `release`,
   `deployment` and `validation` — a redeploy would drop the environment's evidence for its current
   image, and the next production promotion (GATE-DP-09) would have none — and records the drill's
   result, `rollbackDrill` ("passed" only when the parity check passed, verified through the GitHub
   API), which every later `pulumi up` of the stack carries forward (gate/promotion/delivery.py).

GATE-DP-16 (`enforce_drill`, called by the program before it declares anything, like GATE-DP-09):
promoting a new image into production needs the drilled stack's `rollbackDrill` with result
"passed", no older than rollbackDrill.maxAge by the gate's clock. Emergency releases are exempt
(they carry their own rollback plan, GATE-DP-10); re-applying what production already runs is not
a promotion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gate.clock import iso
from gate.errors import RuleViolation
from gate.github import actions
from gate.github.yamltext import Commented
from gate.policy.model import DrillResult, Environment, GatePolicy, PipelineRun, Repository, backfill_seconds
from gate.policy.stackfile import read_stack_config
from gate.promotion.delivery import (
    DEPLOYMENT_KEY,
    DEPLOYMENT_OUTPUT,
    DRILL_PENDING_KEY,
    DRILL_PENDING_OUTPUT,
    DRILL_RESULT_KEY,
    DRILL_RESULT_OUTPUT,
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
from gate.promotion.deploy import Applied, DeliveryRefused, GitHubApi, StackWorkspace, _apply
from gate.promotion.evidence import RULE_ID as PROMOTION_RULE_ID
from gate.promotion.evidence import read_evidence, unvalidated
from gate.promotion.promote import policy_from_values, stack_file_policy

RULE_ID = "GATE-DP-16"  # production's promotion rests on a passed, recent rollback drill
WORKFLOW_FILE = "rollback-drill.yml"
WORKFLOW_PATH = f".github/workflows/{WORKFLOW_FILE}"
PASSED, FAILED = "passed", "failed"


# -- which environment is drilled ---------------------------------------------------------------


def drilled_environment(policy: GatePolicy) -> Environment:
    """rollbackDrill.environment, else the environment production promotes from (the model
    refuses production and names outside the chain)."""
    production = policy.environments[-1]
    name = policy.rollback_drill.environment or production.promotes_from
    return next(e for e in policy.environments if e.name == name)


# -- gate drill rollback / restore --------------------------------------------------------------


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
        base = f"repos/{run.repository}/actions/runs/{run.run_id}"
        problems = drill_run_problems(
            policy.environment,
            repository=run.repository,
            run_id=run.run_id,
            run=github.get(base),
            jobs=(github.get(f"{base}/jobs?per_page=100") or {}).get("jobs", []),
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


# -- GATE-DP-16: production's promotion needs a recent passed drill -----------------------------


def needs_drill(policy: GatePolicy, state: Mapping[str, Any] | None) -> bool:
    """Whether this `pulumi up` promotes a new image into production: not an emergency release
    (exempt: it has its own rollback plan), not a rollback, not a re-apply of what runs there."""
    release, deployment = policy.release, policy.deployment
    if not policy.is_production or release is None or release.emergency is not None:
        return False
    if deployment is not None and deployment.rollback:
        return False
    running = ((state or {}).get(RELEASE_OUTPUT) or {}).get("image")
    return bool(running != release.image)


def drill_problems(policy: GatePolicy, drilled_outputs: Mapping[str, Any] | None, now: datetime) -> list[str]:
    """Why the drilled stack's last drill does not let production be promoted now."""
    drilled = drilled_environment(policy)
    max_age = policy.rollback_drill.max_age
    document = (drilled_outputs or {}).get(DRILL_RESULT_OUTPUT)
    if document is None:
        return [f"{drilled.name} (stack {drilled.stack}) records no rollback drill"]
    try:
        drill = DrillResult.model_validate(document)
    except ValueError:
        return [f"stack {drilled.stack} exports a malformed {DRILL_RESULT_OUTPUT}"]
    where = f"run {drill.run.url}"
    if drill.result != PASSED:
        return [f"the last rollback drill of {drilled.name}, at {iso(drill.drilled_at)}, failed ({where})"]
    age = now - drill.drilled_at
    if age > timedelta(seconds=backfill_seconds(max_age)):
        return [
            f"the last rollback drill of {drilled.name} passed at {iso(drill.drilled_at)} ({where}), "
            f"{_days(age)} ago: older than rollbackDrill.maxAge {max_age}"
        ]
    return []


def _days(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24}d{hours % 24}h"


def enforce_drill(
    policy: GatePolicy,
    state: Mapping[str, Any] | None,
    drilled_outputs: Mapping[str, Any] | None,
    source: str,
    now: datetime,
) -> None:
    """GATE-DP-16 before any resource is declared (the program calls it after GATE-DP-09)."""
    if not needs_drill(policy, state):
        return
    problems = drill_problems(policy, drilled_outputs, now)
    if problems:
        drilled = drilled_environment(policy)
        hint = (
            f"hint: run the rollback drill (Actions -> rollback-drill -> Run workflow on the default "
            f"branch, or wait for its schedule {policy.rollback_drill.schedule!r}) and promote once it "
            f"passed in {drilled.name}; during an incident, set release.emergency"
        )
        raise RuleViolation(source, [f"[{RULE_ID}] {problem}" for problem in problems] + [hint])


# -- rollback-drill.yml ------------------------------------------------------------------------

_DRILL_ROLLBACK = """\
set -euo pipefail
python -m gate drill rollback --stack "$STACK" --repository "$REPOSITORY" --run-id "$RUN_ID"
"""
_DRILL_RESTORE = """\
set -euo pipefail
if ! python -m gate drill restore --stack "$STACK" --parity "$PARITY" \\
  --parity-root-hash "$PARITY_ROOT_HASH" --repository "$REPOSITORY" --run-id "$RUN_ID"; then
  echo "::error::the restore after the drill failed (see above): $ENVIRONMENT may run $ROLLED_BACK_TO"
  exit 1
fi
"""
_DRILL_FAILED = """\
echo "::error::the rollback drill of $ENVIRONMENT failed (parity: $PARITY); GATE-DP-16 holds production"
exit 1
"""
_RESTORE_ISSUE = """\
const { ENVIRONMENT, IMAGE, ROLLED_BACK_TO, RUN_URL } = process.env;
await github.rest.issues.create({
  owner: context.repo.owner,
  repo: context.repo.repo,
  title: `Rollback drill: the restore of ${ENVIRONMENT} FAILED`,
  body: `The rollback drill (${RUN_URL}) rolled ${ENVIRONMENT} back to \\`${ROLLED_BACK_TO}\\` and ` +
    `could not put back \\`${IMAGE}\\`: ${ENVIRONMENT} may still run the older image. Open an ` +
    'operator incident; `python -m gate drill restore` with this run id puts it back.',
  labels: ['high-priority'],
});
"""


def drill_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """rollback-drill.yml: rollback → parity → restore, in the reviewer-free `<env>-rollback`, on
    the default branch only, never at the same time as a deploy of that branch."""
    # A module import would be circular: gate.workflows assembles this file.
    from gate.github import workflows as w  # noqa: PLC0415

    s = policy.workflows
    env = drilled_environment(policy)
    facts = {"STACK": env.stack, "REPOSITORY": "${{ github.repository }}", "RUN_ID": "${{ github.run_id }}"}
    rollback_step = w.gate_command("Roll back to the previous validated image", _DRILL_ROLLBACK, **facts)
    default_branch = f"github.ref == 'refs/heads/{repo.default_branch}'"
    rollback = {
        # A dispatch can name any branch; the drill runs from the default branch only.
        "if": default_branch,
        **w.job(
            f"drill rollback {env.name}",
            s,
            [*w.gate_steps(policy, repo), {"id": "rollback", **rollback_step}],
            # DP: a rollback never waits for a human; the drill is the same rollback.
            environment={"name": env.rollback.name},
            permissions=w.deploy_permissions(policy),
            outputs={
                "image": "${{ steps.rollback.outputs.image }}",
                "previous_image": "${{ steps.rollback.outputs.previous_image }}",
                # The gate says so just before it applies anything: a refusal changed nothing.
                "started": "${{ steps.rollback.outputs.started }}",
            },
        ),
    }
    parity = {
        "name": f"parity {env.name}",
        "needs": ["rollback"],
        "permissions": w.e2e_permissions(policy),
        # M9 §Post-merge 1: the same parity check deploy.yml runs after every deploy.
        "uses": Commented(f"./{w.WORKFLOW_DIR}/{w.E2E_WORKFLOW}", "zizmor: ignore[self-repository]"),
        "with": {"run_k6": False, "target_environment": env.name},
    }
    restored_facts = {
        "ENVIRONMENT": env.name,
        "IMAGE": "${{ needs.rollback.outputs.previous_image }}",
        "ROLLED_BACK_TO": "${{ needs.rollback.outputs.image }}",
        "PARITY": "${{ needs.parity.result }}",
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
    }
    restore_step = w.gate_command(
        "Put back what ran before the drill and record its result",
        _DRILL_RESTORE,
        **facts,
        **restored_facts,
        PARITY_ROOT_HASH=f"${{{{ needs.parity.outputs.{w.PARITY_ROOT_HASH_OUTPUT} }}}}",
        # The gate verifies this run's parity job through the API before it records "passed".
        GH_TOKEN="${{ github.token }}",
    )
    message = (
        "Rollback drill of ${{ env.ENVIRONMENT }}: the RESTORE FAILED; it may still run "
        "${{ env.ROLLED_BACK_TO }} instead of ${{ env.IMAGE }}. ${{ env.RUN_URL }}"
    )
    restore_failed = "${{ always() && steps.restore.outcome != 'success' }}"
    # The same pages as a failed deploy's rollback (rollback_job), only when the restore failed.
    notify = w.notify_oncall(policy, restore_failed, message, restored_facts)
    restore = {
        "needs": ["rollback", "parity"],
        # Whatever the parity check did (failed, cancelled), once the rollback started.
        "if": "${{ always() && needs.rollback.outputs.started == 'true' }}",
        **w.job(
            f"drill restore {env.name}",
            s,
            [
                *w.gate_steps(policy, repo),
                {"id": "restore", **restore_step},
                w.when(
                    restore_failed,
                    {
                        "name": "Open a high-priority issue",
                        **w.uses(actions.GITHUB_SCRIPT, script=_RESTORE_ISSUE),
                        "env": restored_facts,
                    },
                ),
                *notify,
                w.when(
                    # Restored, but the drill did not pass (parity failed, or the API did not back it).
                    "${{ steps.restore.outputs.result != 'passed' }}",
                    w.run("Fail the run: the drill failed", _DRILL_FAILED, **restored_facts),
                ),
            ],
            environment={"name": env.rollback.name},
            permissions=w.deploy_permissions(policy, actions="read", issues="write"),
        ),
    }
    on = {"schedule": [{"cron": policy.rollback_drill.schedule}], "workflow_dispatch": {}}
    # deploy.yml's group for the default branch: a drill never overlaps a deploy (GATE-M9-04
    # checks the parity call's group differs from it).
    return w.workflow(
        "rollback-drill",
        on,
        {"rollback": rollback, "parity": parity, "restore": restore},
        concurrency=w.DEPLOY_CONCURRENCY,
    )
