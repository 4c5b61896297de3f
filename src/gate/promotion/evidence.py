"""Promotion with evidence: an environment deploys only what the one before it has validated.

DP §Environment Progression: "Promotion between environments requires evidence of health at the
current stage. No environment may be skipped except during emergency deployments". Each stack
exports `releaseEvidence` for the image it runs once its own e2e parity check has passed there; the
next stack reads it (a StackReference; offline, a local evidence file) and refuses, before
declaring any resource, an image digest or a flag state that evidence does not cover.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError

from gate.clock import iso
from gate.errors import RuleViolation
from gate.policy.model import GatePolicy
from gate.policy.types import EnvironmentName, GateModel, ImageDigest, PinnedImage, RootHash, image_digest

EVIDENCE_OUTPUT = "releaseEvidence"
RULE_ID = "GATE-DP-09"  # the deployed image and flag states rest on upstream evidence
EMERGENCY_RULE_ID = "GATE-DP-10"  # the emergency path: incident, rollback plan, security, follow-up
POST_INCIDENT_SIGNALS = "work/signals/"  # DP: "A post-incident signal must be filed in work/signals/"


class ReleaseEvidence(GateModel):
    """What a stack exports once its e2e parity check passed against the image it runs."""

    environment: EnvironmentName
    stack: EnvironmentName
    image: PinnedImage
    image_digest: ImageDigest
    flags: dict[str, bool] = Field(default_factory=dict)
    parity_root_hash: RootHash
    validated_at: datetime
    # Recorded by the pipeline (gate record-evidence) besides the parity hash; absent in evidence a
    # stack exported before the pipeline recorded it.
    run: str | None = None
    analysis: str | None = None
    window: dict[str, str] | None = None


def flag_states(policy: GatePolicy) -> dict[str, bool]:
    """The flag states this stack deploys, by key."""
    flags = sorted(policy.flags, key=lambda flag: flag.key)
    return {flag.key: flag.enabled_in(policy.environment) for flag in flags}


def evidence_source(policy: GatePolicy) -> str | None:
    """The stack whose evidence this one must read: the upstream one, when a release is deployed
    here (the first environment, or one deploying nothing, rests on no evidence)."""
    upstream = policy.upstream_environment
    return upstream.stack if upstream is not None and policy.release is not None else None


def release_evidence(policy: GatePolicy) -> dict[str, Any] | None:
    """This stack's export for the next environment; none until its validation covers its image."""
    validation, image = policy.validation, policy.deployed_image
    if validation is None or image is None or validation.image != image:
        return None  # validation_status says which of these it is
    evidence = ReleaseEvidence(
        environment=policy.environment,
        stack=policy.stack,
        image=image,
        image_digest=image_digest(image),
        flags=flag_states(policy),
        parity_root_hash=validation.parity_root_hash,
        validated_at=validation.validated_at,
    )
    return evidence_document(evidence)


def evidence_document(evidence: ReleaseEvidence) -> dict[str, Any]:
    document = evidence.model_dump(by_alias=True, mode="json")
    document["validatedAt"] = iso(evidence.validated_at)
    return document


def validation_status(policy: GatePolicy) -> str:
    """One line for reviewers: is the image this stack runs validated here yet?"""
    validation, image = policy.validation, policy.deployed_image
    if image is None:
        return "nothing deployed"
    if validation is None:
        return "not validated yet: no parity result recorded for this image"
    if validation.image != image:
        return f"not validated yet: the recorded parity result is for {validation.image}"
    return f"validated at {iso(validation.validated_at)} (parity root hash {validation.parity_root_hash})"


def read_evidence(outputs: Mapping[str, Any] | None, upstream: str) -> tuple[ReleaseEvidence | None, str]:
    """The upstream stack's evidence, or None and why there is none."""
    if outputs is None:
        return None, f"stack {upstream} could not be read"
    document = outputs.get(EVIDENCE_OUTPUT)
    if document is None:
        return None, (
            f"stack {upstream} exports no {EVIDENCE_OUTPUT}: it has not validated the image it runs "
            "(its e2e parity result is not recorded, or is for another image)"
        )
    try:
        return ReleaseEvidence.model_validate(document), ""
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(whole)" for e in error.errors())
        return None, f"stack {upstream} exports a malformed {EVIDENCE_OUTPUT} ({fields})"


def unvalidated(policy: GatePolicy, evidence: ReleaseEvidence | None, why_none: str) -> list[str]:
    """What this stack would deploy that the upstream evidence does not cover."""
    release, upstream = policy.release, policy.upstream_environment
    if release is None or upstream is None:
        return []
    if evidence is None:
        return [f"no evidence from {upstream.name}: {why_none}"]
    missing = []
    if evidence.image_digest != release.image_digest:
        missing.append(
            f"image digest {release.image_digest} has not been validated by {upstream.name} "
            f"({upstream.name} validated {evidence.image_digest} at {iso(evidence.validated_at)})"
        )
    for key, enabled in flag_states(policy).items():
        if enabled and not evidence.flags.get(key, False):
            state = "off" if key in evidence.flags else "not deployed"
            missing.append(
                f"flag {key} is on in {policy.environment} but {upstream.name} has not validated it on "
                f"(it is {state} there)"
            )
    return missing


def enforce_promotion(
    policy: GatePolicy, upstream_outputs: Mapping[str, Any] | None, source: str
) -> dict[str, Any] | None:
    """GATE-DP-09 and -10, before any resource is declared: a RuleViolation unless the release rests
    on upstream evidence or takes the emergency path, whose follow-up this returns."""
    upstream, release = policy.upstream_environment, policy.release
    if evidence_source(policy) is None or upstream is None or release is None:
        return None  # nothing promoted into this stack
    evidence, why_none = read_evidence(upstream_outputs, upstream.stack)
    missing = unvalidated(policy, evidence, why_none)
    if not missing:
        return None
    if release.emergency is None:
        hint = (
            f"hint: deploy and validate it in {upstream.name} first, then run "
            f"`python -m gate promote --from {upstream.stack} --to {policy.stack}`; during an incident, "
            "dispatch emergency-deploy.yml (`gate deploy --emergency INCIDENT --rollback-plan URL "
            "--security-scan URL`, gate/promotion/emergency.py): a committed release.emergency only "
            "bootstraps a "
            "stack whose state holds no deploy yet"
        )
        raise RuleViolation(source, [f"[{RULE_ID}] {m}" for m in missing] + [hint])
    return emergency_follow_up(policy, missing)


def emergency_follow_up(policy: GatePolicy, missing: list[str]) -> dict[str, Any]:
    """DP §Emergency: what was skipped and the work that backfills it, recorded in the plan output."""
    release, upstream = policy.release, policy.upstream_environment
    assert release is not None and release.emergency is not None and upstream is not None
    window = policy.thresholds.post_deploy_validation_window
    return {
        "rule": EMERGENCY_RULE_ID,
        "incidentId": release.emergency.incident_id,
        "rollbackPlan": release.emergency.rollback_plan,
        "securityScan": release.emergency.security_scan,
        "skippedValidation": list(missing),
        "backfill": [
            f"post-deployment health evidence for {release.image_digest} within {window}",
            f"deploy {release.image_digest} to {upstream.name} and record its e2e parity result",
            f"file a post-incident signal in {POST_INCIDENT_SIGNALS} after resolution",
            "track this backfill as a new mission",
        ],
    }
