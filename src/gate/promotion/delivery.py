"""One delivery path: what an environment runs lives in its stack's state, written by the pipeline.

The design (README "Promotion with evidence"):
- `python -m gate deploy --stack S --image DIGEST` (called by deploy.yml for every environment) runs
  `pulumi up` of S through the Automation API with a one-off config file: the committed stack file
  plus `delivery-gate:release` and `delivery-gate:deployment` (which run, when, what ran before).
  The committed file is never edited.
- The program exports them (`release`, `deployment`) with this environment's evidence
  (`validation`) and the digests validated here (`validatedImages`, the rollback targets).
- Every later `pulumi up` of S, by the pipeline or by hand, reads those outputs back from S's own
  state and deploys them again: the state is the source of truth, so a plain `pulumi up` never
  reverts a deploy. A release committed in the stack file is only the bootstrap value of a stack
  whose state holds none yet; `gate check` refuses committed evidence (`validation`, `deployment`).
- `python -m gate record-evidence` adds `delivery-gate:validation` the same way once the pipeline's
  parity, canary-analysis and validation-window jobs of *the run that deployed the image* passed,
  verified through the GitHub API; the next environment's `gate deploy` reads it (GATE-DP-09).

Everything here is pure: the orchestration over Pulumi and GitHub is in gate/promotion/deploy.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.clock import iso
from gate.errors import RuleViolation
from gate.policy.loader import NAMESPACE
from gate.policy.model import GatePolicy
from gate.policy.prnames import LEGACY_PR_STACK, PR_STACK
from gate.policy.types import GateModel, image_digest
from gate.promotion.evidence import ReleaseEvidence, evidence_document, flag_states

RELEASE_KEY = f"{NAMESPACE}:release"
VALIDATION_KEY = f"{NAMESPACE}:validation"
DEPLOYMENT_KEY = f"{NAMESPACE}:deployment"
# What the pipeline writes and the stack carries in its state; a stack file must not hold the last
# two (`gate check`): evidence typed by hand is no evidence.
# Issue 12, part "drill" (gate/promotion/drill.py): the last rollback drill's result (output `rollbackDrill`)
# and, while a drill runs, what the stack ran before it (output `rollbackDrillPending`).
DRILL_RESULT_KEY = f"{NAMESPACE}:rollbackDrillResult"
DRILL_PENDING_KEY = f"{NAMESPACE}:rollbackDrillPending"
PIPELINE_KEYS = (RELEASE_KEY, VALIDATION_KEY, DEPLOYMENT_KEY, DRILL_RESULT_KEY, DRILL_PENDING_KEY)
HAND_TYPED_REFUSED = (VALIDATION_KEY, DEPLOYMENT_KEY, DRILL_RESULT_KEY, DRILL_PENDING_KEY)

RELEASE_OUTPUT = "release"
VALIDATION_OUTPUT = "validation"
DEPLOYMENT_OUTPUT = "deployment"
VALIDATED_IMAGES_OUTPUT = "validatedImages"
DRILL_RESULT_OUTPUT = "rollbackDrill"
DRILL_PENDING_OUTPUT = "rollbackDrillPending"
# Rollback targets kept in the state: enough for a few bad deploys in a row, bounded.
VALIDATED_IMAGES_KEPT = 10

RULE_ID = "GATE-DP-12"  # a rollback goes back only to an image this environment validated


def carry_forward(values: Mapping[str, Any], state: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The stack config the program applies, and where its release comes from.

    `gate deploy` passes a fresh `deployment` (with its release): that wins. Otherwise the release,
    deployment and evidence in the stack's own state win over anything the stack file holds, so an
    ordinary `pulumi up` deploys what the pipeline deployed, never an older committed value.
    """
    config = dict(values)
    if DEPLOYMENT_KEY in config:
        deployment = config[DEPLOYMENT_KEY]
        run = deployment.get("run", {}) if isinstance(deployment, dict) else {}
        # The last rollback drill outlives deploys: it tested the environment's rollback, not an
        # image (GATE-DP-16). `gate drill restore` passes a new one; a drill's pending record is
        # passed by `gate drill rollback` only, so any other deploy ends it.
        drilled = (state or {}).get(DRILL_RESULT_OUTPUT)
        if DRILL_RESULT_KEY not in config and drilled is not None:
            config[DRILL_RESULT_KEY] = drilled
        return config, f"deployed by {run.get('repository')} run {run.get('runId')}"
    carried = {
        key: (state or {}).get(output)
        for key, output in (
            (RELEASE_KEY, RELEASE_OUTPUT),
            (VALIDATION_KEY, VALIDATION_OUTPUT),
            (DEPLOYMENT_KEY, DEPLOYMENT_OUTPUT),
            (DRILL_RESULT_KEY, DRILL_RESULT_OUTPUT),
            (DRILL_PENDING_KEY, DRILL_PENDING_OUTPUT),
        )
    }
    if carried[RELEASE_KEY] is None:
        if RELEASE_KEY in config:
            return config, "the stack file (bootstrap: the stack's state holds no deploy yet)"
        return config, "nothing deployed"
    for key, value in carried.items():
        config.pop(key, None)
        if value is not None:
            config[key] = value
    return config, "the stack's state (the last deploy)"


def state_record(state: Mapping[str, Any], output: str) -> dict[str, Any] | None:
    """One record (an object) of a stack's outputs, as a fresh dict; None when absent or malformed."""
    value = state.get(output)
    return dict(value) if isinstance(value, dict) else None


def validated_images(policy: GatePolicy, state: Mapping[str, Any] | None) -> list[str]:
    """The digests this environment has validated, newest first, bounded: its rollback targets."""
    previous = (state or {}).get(VALIDATED_IMAGES_OUTPUT) or []
    history = [str(image) for image in previous if isinstance(image, str)]
    validation, release = policy.validation, policy.release
    if validation is not None and release is not None and validation.image == release.image:
        history = [validation.image, *history]
    unique = list(dict.fromkeys(history))
    return unique[:VALIDATED_IMAGES_KEPT]


def rollback_target(state: Mapping[str, Any] | None) -> str | None:
    """The newest image this environment validated that is not the one it runs now."""
    release = (state or {}).get(RELEASE_OUTPUT) or {}
    running = release.get("image") if isinstance(release, dict) else None
    for image in (state or {}).get(VALIDATED_IMAGES_OUTPUT) or []:
        if isinstance(image, str) and image != running:
            return image
    return None


def carries_state(stack: str) -> bool:
    """Whether a stack reads its own state back (environment stacks do; a pull request's stack
    deploys the image its command line names)."""
    return not (PR_STACK.fullmatch(stack) or LEGACY_PR_STACK.fullmatch(stack))


def is_rollback(policy: GatePolicy) -> bool:
    return policy.deployment is not None and policy.deployment.rollback


def enforce_rollback(policy: GatePolicy, state: Mapping[str, Any] | None, source: str) -> None:
    """GATE-DP-12 before anything is declared: a rollback rests on this environment's own evidence."""
    problems = unvalidated_rollback(policy, state)
    if problems:
        raise RuleViolation(source, problems)


def unvalidated_rollback(policy: GatePolicy, state: Mapping[str, Any] | None) -> list[str]:
    """GATE-DP-12: a rollback release must be an image this environment validated before."""
    deployment, release = policy.deployment, policy.release
    if deployment is None or not deployment.rollback or release is None:
        return []
    validated = (state or {}).get(VALIDATED_IMAGES_OUTPUT) or []
    if release.image in validated:
        return []
    return [
        f"[{RULE_ID}] rollback to {release.image}: {policy.environment} never validated it "
        f"(validated here: {', '.join(validated) or 'nothing yet'})"
    ]


def state_outputs(policy: GatePolicy, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the stack exports so that the next `pulumi up` (and the next environment) read it."""
    outputs: dict[str, Any] = {}
    if policy.release is not None:
        outputs[RELEASE_OUTPUT] = policy.release.model_dump(by_alias=True, mode="json", exclude_none=True)
    if policy.deployment is not None:
        outputs[DEPLOYMENT_OUTPUT] = policy.deployment.model_dump(
            by_alias=True, mode="json", exclude_none=True
        )
    validation, release = policy.validation, policy.release
    # Evidence for an image the environment no longer runs is dropped, never carried.
    if validation is not None and release is not None and validation.image == release.image:
        outputs[VALIDATION_OUTPUT] = validation.model_dump(by_alias=True, mode="json", exclude_none=True)
    history = validated_images(policy, state)
    if history:
        outputs[VALIDATED_IMAGES_OUTPUT] = history
    for output, record in (
        (DRILL_RESULT_OUTPUT, policy.rollback_drill_result),
        (DRILL_PENDING_OUTPUT, policy.rollback_drill_pending),
    ):
        if record is not None:
            outputs[output] = drill_document(record)
    return outputs


def drill_document(record: GateModel) -> dict[str, Any]:
    """A drill record as the state holds it (camelCase; UTC times end in Z)."""
    document: dict[str, Any] = record.model_dump(by_alias=True, mode="json", exclude_none=True)
    return document


def evidence_record(policy: GatePolicy) -> dict[str, Any] | None:
    """releaseEvidence with what the pipeline recorded beyond the parity hash: the canary analysis,
    the validation window and the run (so the next environment's reviewers can open it)."""
    validation, release = policy.validation, policy.release
    if validation is None or release is None or validation.image != release.image:
        return None
    document = evidence_document(
        ReleaseEvidence(
            environment=policy.environment,
            stack=policy.stack,
            image=release.image,
            image_digest=image_digest(release.image),
            flags=flag_states(policy),
            parity_root_hash=validation.parity_root_hash,
            validated_at=validation.validated_at,
        )
    )
    if validation.run is not None:
        document["run"] = validation.run.url
    if validation.analysis is not None:
        document["analysis"] = validation.analysis
    if validation.window_start is not None and validation.window_end is not None:
        document["window"] = {"start": iso(validation.window_start), "end": iso(validation.window_end)}
    return document


# -- the pipeline run behind a piece of evidence -------------------------------------------------

DEPLOY_WORKFLOW_PATH = ".github/workflows/deploy.yml"
# Issue 12, part emergency: emergency-deploy.yml runs the same chain (gate/promotion/emergency.py).
EMERGENCY_WORKFLOW_PATH = ".github/workflows/emergency-deploy.yml"
DELIVERY_WORKFLOW_PATHS = (DEPLOY_WORKFLOW_PATH, EMERGENCY_WORKFLOW_PATH)


def run_problems(
    environment: str,
    *,
    repository: str,
    run_id: int,
    run: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
    deployed_by: int | None,
) -> list[str]:
    """Why the GitHub API's view of run `run_id` does not back evidence for `environment`: it must
    be a deploy.yml (or emergency-deploy.yml) run of the repository, the very run that deployed
    the image, whose parity and validation jobs for this environment succeeded."""
    problems = workflow_run_problems(run_id, run, repository, DELIVERY_WORKFLOW_PATHS)
    if deployed_by is None:
        problems.append(f"{environment} records no deploy: run `gate deploy` first")
    elif deployed_by != run_id:
        problems.append(f"run {run_id} did not deploy the image {environment} runs (run {deployed_by} did)")
    for name in (f"parity {environment}", f"validate {environment}"):
        problems += job_problems(run_id, jobs, name)
    return problems


def workflow_run_problems(
    run_id: int, run: Mapping[str, Any], repository: str, workflow_paths: Sequence[str]
) -> list[str]:
    """Why run `run_id` is not a run of one of `workflow_paths` in `repository`."""
    problems = []
    if str(run.get("path", "")).split("@", 1)[0] not in workflow_paths:
        problems.append(
            f"run {run_id} is {run.get('path') or 'no workflow'}, not {' or '.join(workflow_paths)}"
        )
    full_name = (run.get("repository") or {}).get("full_name")
    if full_name != repository:
        problems.append(f"run {run_id} belongs to {full_name}, not {repository}")
    return problems


def job_problems(run_id: int, jobs: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    """Why run `run_id` has no successful job `name`. A called workflow's jobs are named
    "<caller job> / <called job>" in the API."""
    found = [job for job in jobs if job.get("name") == name or str(job.get("name")).startswith(f"{name} / ")]
    if not found:
        return [f"run {run_id} has no job {name!r}"]
    return [
        f"job {job.get('name')!r} of run {run_id} concluded {job.get('conclusion') or 'nothing yet'}"
        for job in found
        if job.get("conclusion") != "success"
    ]
