"""Promotion with evidence (GATE-DP-09/10): prod deploys only what staging validated, or takes the
emergency path with its required fields and a recorded follow-up; `gate promote` writes the release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate import clock
from gate.cli import main as cli
from gate.clock import iso
from gate.errors import GateError
from gate.offline import engine
from gate.offline.plan import build_plan
from gate.promotion.delivery import DRILL_RESULT_OUTPUT
from gate.promotion.evidence import EVIDENCE_OUTPUT
from gate.promotion.promote import promote as promote_release
from tests.conftest import ProjectFactory
from tests.support.stacks import PROJECT, stack_plan

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/aos"
VALIDATED = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
ROOT_HASH = "sha256:" + "c" * 64

FLAG = """\
  delivery-gate:flags:
    - key: new-checkout
      owner: payments
      expires: 2027-06-30
      issue: https://github.com/acme/aos/issues/7
      environments: {{dev: true, staging: {staging}, production: {production}}}
"""


def staging_evidence(digest: str = VALIDATED, flags: dict[str, bool] | None = None) -> dict[str, Any]:
    """What the staging stack exports once its parity check passed (see gate/promotion/evidence.py)."""
    return {
        EVIDENCE_OUTPUT: {
            "environment": "staging",
            "stack": "staging",
            "image": f"{REGISTRY}@{digest}",
            "imageDigest": digest,
            "flags": flags if flags is not None else {},
            "parityRootHash": ROOT_HASH,
            "validatedAt": "2026-11-21T14:05:00Z",
        },
        # Issue 12, part drill: a passed rollback drill of today (GATE-DP-16, tests/test_drill.py).
        DRILL_RESULT_OUTPUT: {
            "image": f"{REGISTRY}@{digest}",
            "rolledBackTo": f"{REGISTRY}@{OTHER}",
            "parityRootHash": ROOT_HASH,
            "drilledAt": iso(clock.now()),
            "run": {"repository": "acme/aos", "runId": 7101},
            "result": "passed",
        },
    }


def prod_stack(digest: str = VALIDATED, *, emergency: str = "", extra: str = "") -> str:
    return (
        "config:\n"
        "  github:owner: acme\n"
        "  delivery-gate:environment: production\n"
        "  delivery-gate:repositories:\n"
        "    - name: aos\n"
        "  delivery-gate:release:\n"
        f"    image: {REGISTRY}@{digest}\n" + emergency + extra
    )


EMERGENCY = """\
    emergency:
      incidentId: INC-4711
      rollbackPlan: https://wiki.acme.example/runbooks/aos-rollback
      securityScan: https://github.com/acme/aos/actions/runs/123
"""


def plan_prod(project: Path, outputs: dict[str, Any] | None) -> dict[str, Any]:
    return build_plan(project, "prod", stack_outputs={"staging": outputs} if outputs is not None else None)


# -- the project's own chain ---------------------------------------------------------------------


def test_each_stack_exports_evidence_and_the_next_one_reads_it() -> None:
    dev, staging, prod = (stack_plan(s) for s in ("dev", "staging", "prod"))
    assert "promotesFrom" not in dev["outputs"]
    assert staging["outputs"]["promotesFrom"] == "dev"
    assert prod["outputs"]["promotesFrom"] == "staging"
    evidence = staging["outputs"][EVIDENCE_OUTPUT]
    assert evidence["imageDigest"] == evidence["image"].rsplit("@", 1)[1]
    assert set(evidence) == {
        "environment",
        "stack",
        "image",
        "imageDigest",
        "flags",
        "parityRootHash",
        "validatedAt",
        # What the pipeline recorded besides the parity hash (gate record-evidence).
        "run",
        "analysis",
        "window",
    }
    assert evidence["analysis"] == "Successful" and evidence["run"].endswith("/actions/runs/7002")
    # Prod keeps the evidence it was deployed on in its own state, read through a StackReference.
    assert prod["outputs"]["promotedOn"] == evidence
    (reference,) = [r for r in prod["resources"] if r["type"] == engine.STACK_REFERENCE_TYPE]
    assert reference["inputs"]["name"] == "organization/delivery-gate/staging"
    assert reference["options"]["read"] == "organization/delivery-gate/staging"
    # Prod's own evidence (examples/state/prod.json: validated there too) is for prod's image.
    assert prod["outputs"][EVIDENCE_OUTPUT]["environment"] == "production"
    assert prod["outputs"][EVIDENCE_OUTPUT]["imageDigest"] == evidence["imageDigest"]


# -- GATE-DP-09: good, missing and mismatched evidence ------------------------------------------------


def test_a_validated_digest_deploys(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack()})
    plan = plan_prod(project, staging_evidence())
    rollout = next(r for r in plan["resources"] if r["type"].endswith(":Rollout"))
    assert (
        rollout["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REGISTRY}@{VALIDATED}"
    )
    assert "emergencyFollowUp" not in plan["outputs"]


def test_missing_evidence_is_refused_before_anything_is_declared(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[str] = []
    original = engine.RecordingMonitor.RegisterResource

    def counting(self: engine.RecordingMonitor, request: Any) -> Any:
        if request.type != engine.STACK_TYPE:
            registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", counting)
    project = make_project({"prod": prod_stack()})
    with pytest.raises(GateError) as raised:
        plan_prod(project, {})  # staging exports no releaseEvidence: not validated
    message = str(raised.value)
    assert "stacks/Pulumi.prod.yaml" in message
    assert "[GATE-DP-09] no evidence from staging" in message
    assert "exports no releaseEvidence" in message
    assert registered == []


def test_a_digest_staging_has_not_validated_is_refused(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack(OTHER)})
    with pytest.raises(GateError) as raised:
        plan_prod(project, staging_evidence(VALIDATED))
    message = str(raised.value)
    assert f"image digest {OTHER} has not been validated by staging" in message
    assert f"staging validated {VALIDATED}" in message
    assert "python -m gate promote --from staging --to prod" in message


def test_a_flag_on_in_prod_that_staging_has_not_validated_on_is_refused(make_project: ProjectFactory) -> None:
    # The stack file's own flag rule (GATE-DP-05) holds; the live evidence says staging ran it off.
    project = make_project({"prod": prod_stack(extra=FLAG.format(staging="true", production="true"))})
    with pytest.raises(GateError) as raised:
        plan_prod(project, staging_evidence(flags={"new-checkout": False}))
    assert (
        "flag new-checkout is on in production but staging has not validated it on (it is off there)"
        in str(raised.value)
    )
    plan = plan_prod(project, staging_evidence(flags={"new-checkout": True}))
    assert plan["outputs"]["promotesFrom"] == "staging"


def test_malformed_evidence_names_the_bad_fields(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack()})
    broken = staging_evidence()
    del broken[EVIDENCE_OUTPUT]["imageDigest"]
    with pytest.raises(GateError, match=r"malformed releaseEvidence \(imageDigest\)"):
        plan_prod(project, broken)


def test_no_evidence_file_offline_says_how_to_pass_one(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack()})
    with pytest.raises(GateError, match=r"pass --evidence staging=FILE"):
        plan_prod(project, None)


def test_a_promoted_environment_cannot_bypass_the_release(make_project: ProjectFactory) -> None:
    text = (
        "config:\n  github:owner: acme\n  delivery-gate:environment: staging\n  delivery-gate:repositories:\n"
    )
    text += f"    - name: aos\n  delivery-gate:application:\n    image: {REGISTRY}:latest\n"
    project = make_project({"staging": text})
    with pytest.raises(GateError) as raised:
        build_plan(project, "staging")
    assert "delivery-gate:application.image" in str(raised.value)
    assert "python -m gate promote" in str(raised.value)


# -- GATE-DP-10: the emergency path -------------------------------------------------------------------


def test_the_emergency_path_deploys_and_records_the_follow_up(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack(OTHER, emergency=EMERGENCY)})
    plan = plan_prod(project, staging_evidence(VALIDATED))
    follow_up = plan["outputs"]["emergencyFollowUp"]
    assert follow_up["incidentId"] == "INC-4711"
    assert follow_up["securityScan"] == "https://github.com/acme/aos/actions/runs/123"
    assert follow_up["rollbackPlan"].startswith("https://")
    assert [m for m in follow_up["skippedValidation"] if OTHER in m and "staging" in m]
    backfill = " | ".join(follow_up["backfill"])
    assert f"deploy {OTHER} to staging" in backfill
    assert "work/signals/" in backfill
    assert "within 30m" in backfill
    assert "new mission" in backfill


@pytest.mark.parametrize(
    ("drop", "path"),
    [
        (
            "      rollbackPlan: https://wiki.acme.example/runbooks/aos-rollback\n",
            "release.emergency.rollbackPlan",
        ),
        (
            "      securityScan: https://github.com/acme/aos/actions/runs/123\n",
            "release.emergency.securityScan",
        ),
        ("      incidentId: INC-4711\n", "release.emergency.incidentId"),
    ],
)
def test_the_emergency_path_without_its_fields_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], drop: str, path: str
) -> None:
    project = make_project({"prod": prod_stack(OTHER, emergency=EMERGENCY.replace(drop, ""))})
    evidence = project / "staging.json"
    evidence.write_text(json.dumps(staging_evidence()))
    args = ["plan", "--stack", "prod", "--project-dir", str(project), "--out", str(project / "build")]
    code = cli.main([*args, "--evidence", f"staging={evidence}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert f"delivery-gate:{path}: got (missing); required" in err
    assert not (project / "build").exists()


def test_an_incident_id_must_match_the_policy_pattern(make_project: ProjectFactory) -> None:
    project = make_project({"prod": prod_stack(OTHER, emergency=EMERGENCY.replace("INC-4711", "urgent"))})
    with pytest.raises(
        GateError, match=r"release.emergency.incidentId: got 'urgent'; allowed: an incident id"
    ):
        plan_prod(project, staging_evidence())


# -- `gate promote` ----------------------------------------------------------------------------------


def write_evidence(project: Path, outputs: dict[str, Any]) -> Path:
    path = project / "staging-outputs.json"
    path.write_text(json.dumps(outputs))
    return path


BARE_PROD = "# prod\nconfig:\n  github:owner: acme\n  delivery-gate:environment: production\n"
BARE_PROD += "  delivery-gate:repositories:\n    - name: aos\n"


def promote(project: Path, *extra: str) -> int:
    return cli.main(["promote", "--from", "staging", "--to", "prod", "--project-dir", str(project), *extra])


def test_promote_writes_the_validated_release_as_a_reviewable_diff(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": BARE_PROD})
    evidence = write_evidence(project, staging_evidence(flags={"new-checkout": True}))
    stack_file = project / "stacks" / "Pulumi.prod.yaml"

    assert promote(project, "--evidence", str(evidence), "--dry-run") == 0
    captured = capsys.readouterr()
    diff, err = captured.out, captured.err
    assert stack_file.read_text() == BARE_PROD  # a dry run changes nothing
    assert f"+    image: {REGISTRY}@{VALIDATED}" in diff
    assert f"+      imageDigest: {VALIDATED}" in diff
    # Issue 13: staging ran new-checkout on, prod does not define it: the promotion rests on no flag
    # state, so it records none (it used to record new-checkout: true while prod kept it off).
    assert "new-checkout" not in diff
    assert "+      flags: {}" in diff
    assert "note: flag new-checkout is on in staging" in err and "stays off in production" in err

    assert promote(project, "--evidence", str(evidence)) == 0
    written = stack_file.read_text()
    assert written.startswith(BARE_PROD)  # every other line stays as it was
    # The written release passes the same rule `pulumi up` applies.
    assert plan_prod(project, staging_evidence())["outputs"]["promotesFrom"] == "staging"

    # Promoting again replaces the block rather than adding a second one.
    newer = write_evidence(project, staging_evidence(OTHER))
    assert promote(project, "--evidence", str(newer)) == 0
    again = stack_file.read_text()
    assert again.count("delivery-gate:release:") == 1
    assert OTHER in again and VALIDATED not in again
    assert again.startswith(BARE_PROD)


def test_promote_accepts_the_upstream_plan_as_evidence(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project({"prod": BARE_PROD})
    plan_file = tmp_path / "staging-plan.json"
    plan_file.write_text(json.dumps(stack_plan("staging")))
    assert promote(project, "--evidence", str(plan_file)) == 0
    digest = stack_plan("staging")["outputs"][EVIDENCE_OUTPUT]["imageDigest"]
    assert digest in (project / "stacks" / "Pulumi.prod.yaml").read_text()


def test_promote_refuses_without_evidence(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": BARE_PROD})
    assert promote(project, "--evidence", str(write_evidence(project, {}))) == 3  # the policy refuses
    assert "nothing to promote: stack staging exports no releaseEvidence" in capsys.readouterr().err
    assert (project / "stacks" / "Pulumi.prod.yaml").read_text() == BARE_PROD


def test_promote_refuses_to_skip_an_environment(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": BARE_PROD})
    evidence = write_evidence(project, staging_evidence())
    code = cli.main(
        [
            "promote",
            "--from",
            "dev",
            "--to",
            "prod",
            "--project-dir",
            str(project),
            "--evidence",
            str(evidence),
        ]
    )
    assert code == 3
    assert "prod (production) promotes from staging; allowed: --from staging" in capsys.readouterr().err


def test_promote_refuses_flags_staging_has_not_validated(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": BARE_PROD + FLAG.format(staging="true", production="true")})
    evidence = write_evidence(project, staging_evidence(flags={}))
    assert promote(project, "--evidence", str(evidence)) == 3
    assert "flag new-checkout is on in production" in capsys.readouterr().err


def test_promote_on_the_emergency_path_needs_every_field(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": BARE_PROD})
    evidence = str(write_evidence(project, {}))
    hotfix = f"{REGISTRY}@{OTHER}"
    assert promote(project, "--evidence", evidence, "--emergency", "INC-9", "--image", hotfix) == 2
    assert "the emergency path needs --rollback-plan, --security-scan as well" in capsys.readouterr().err

    fields = [
        "--rollback-plan",
        "https://wiki.acme.example/rb",
        "--security-scan",
        "https://ci.example/run/1",
    ]
    assert promote(project, "--evidence", evidence, "--emergency", "INC-9", "--image", hotfix, *fields) == 0
    written = (project / "stacks" / "Pulumi.prod.yaml").read_text()
    assert "incidentId: INC-9" in written and "promotedFrom" not in written
    plan = plan_prod(project, {})
    assert plan["outputs"]["emergencyFollowUp"]["incidentId"] == "INC-9"


def test_the_plan_summary_shows_the_emergency(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"prod": prod_stack(OTHER, emergency=EMERGENCY)})
    evidence = write_evidence(project, staging_evidence())
    args = ["plan", "--stack", "prod", "--project-dir", str(project), "--out", str(project / "build")]
    assert cli.main([*args, "--evidence", f"staging={evidence}"]) == 0
    out = capsys.readouterr().out
    assert "EMERGENCY deployment for INC-4711" in out
    assert "follow-up to backfill:" in out


def test_the_real_stack_files_are_what_promote_writes() -> None:
    """stacks/Pulumi.prod.yaml holds exactly what `gate promote` writes from staging's evidence."""
    outputs = stack_plan("staging")["outputs"]
    result = promote_release(PROJECT, "staging", "prod", outputs)
    assert result.diff == ""
