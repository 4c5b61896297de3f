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

Steps 1 and 3 are gate/promotion/drill_run.py (they deploy, through gate/promotion/deploy.py); this
module is what every plan imports: the drilled environment, GATE-DP-16 and rollback-drill.yml.

GATE-DP-16 (`enforce_drill`, called by the program before it declares anything, like GATE-DP-09):
promoting a new image into production needs the drilled stack's `rollbackDrill` with result
"passed", no older than rollbackDrill.maxAge by the gate's clock. Emergency releases are exempt
(they carry their own rollback plan, GATE-DP-10); re-applying what production already runs is not
a promotion.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from gate.clock import iso
from gate.errors import RuleViolation
from gate.github import actions
from gate.github.yamltext import Commented
from gate.policy.model import DrillResult, Environment, GatePolicy, Repository, backfill_seconds
from gate.promotion.delivery import DRILL_RESULT_OUTPUT, RELEASE_OUTPUT

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
