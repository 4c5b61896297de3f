# ruff: noqa: F811 - `backend` is tests/test_delivery.py's fixture, imported
"""The rollback drill (issue 12, part drill; gate/promotion/drill.py) and GATE-DP-16.

The drill runs against tests/test_delivery.py's in-memory backend, whose `up` runs the REAL
program offline: what is refused (GATE-DP-09/12/16) is the program's own decision. GATE-DP-16 is
also checked through the offline plan with upstream outputs given, as tests/test_promotion.py does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.aws import foundation as aws
from gate.cli import main as cli
from gate.cli.delivery import Outside
from gate.errors import GateError, PolicyError
from gate.github.concurrency import check_call_concurrency
from gate.github.organization import repository_workflow_documents
from gate.github.workflows import workflow_documents
from gate.offline.plan import build_plan
from gate.policy.rules import committed_workflows
from gate.promotion import drill
from gate.promotion import drill_run as drill_commands
from gate.promotion.delivery import DRILL_PENDING_OUTPUT, DRILL_RESULT_OUTPUT, carry_forward
from gate.promotion.evidence import EVIDENCE_OUTPUT
from gate.promotion.outside import DeliveryRefused
from tests.test_delivery import (
    REPOSITORY,
    ROOT_HASH,
    T0,
    A,
    B,
    C,
    FakeGitHub,
    OfflineBackend,
    at,
    backend,  # noqa: F401 - the fixture
    deploy_to,
    run,
    validated_in,
)
from tests.test_workflows import policy

DRILL_HASH = "sha256:" + "e" * 64
DRILL_PATH = ".github/workflows/rollback-drill.yml"


def staging_runs_b_after_a(
    backend: OfflineBackend, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dev and staging validated A, then B: staging runs B with its evidence, A is its rollback target."""
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    validated_in(backend, github, "staging", "staging", A, 102, monkeypatch, T0 + timedelta(hours=1))
    validated_in(backend, github, "dev", "dev", B, 103, monkeypatch, T0 + timedelta(hours=2))
    validated_in(backend, github, "staging", "staging", B, 104, monkeypatch, T0 + timedelta(hours=3))


def drill_run(github: FakeGitHub, run_id: int, parity: str = "success") -> None:
    github.add_run(run_id, path=DRILL_PATH, **{"parity_staging_/_e2e-parity": parity})


def restore(  # noqa: PLR0917 - the scenario's facts, in the order the tests read them
    backend: OfflineBackend,
    github: FakeGitHub,
    run_id: int,
    parity: str,
    monkeypatch: pytest.MonkeyPatch,
    hours: int,
) -> drill_commands.Restored:
    now = at(monkeypatch, T0 + timedelta(hours=hours))
    root_hash = DRILL_HASH if parity == "success" else None
    return drill_commands.restore(
        backend.project,
        backend,
        github,
        "staging",
        run(run_id),
        parity=parity,
        parity_root_hash=root_hash,
        now=now,
    )


PRE_DRILL = ("release", "deployment", "validation", EVIDENCE_OUTPUT, "validatedImages")


def test_a_drill_rolls_back_then_puts_back_exactly_what_ran_and_production_promotes(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    before = {key: backend.state["staging"][key] for key in PRE_DRILL}

    started: list[str] = []
    applied = drill_commands.start(
        backend.project,
        backend,
        "staging",
        run(201),
        now=at(monkeypatch, T0 + timedelta(hours=5)),
        before_apply=lambda: started.append("now"),
    )
    assert started == ["now"]
    during = backend.state["staging"]
    # Staging runs the previous validated image during the parity check, as a rollback (GATE-DP-12).
    assert (applied.image, applied.previous_image) == (A, B)
    assert during["release"] == {"image": A} and during["deployment"]["rollback"] is True
    assert EVIDENCE_OUTPUT not in during and "validation" not in during
    pending = during[DRILL_PENDING_OUTPUT]
    assert pending["release"] == before["release"] and pending["validation"] == before["validation"]
    assert pending["rolledBackTo"] == A and pending["run"] == {"repository": REPOSITORY, "runId": 201}
    # A plain `pulumi up` in the middle of the drill keeps the record of what to put back.
    assert backend.plain_up("staging")[DRILL_PENDING_OUTPUT] == pending

    drill_run(github, 201)
    restored = restore(backend, github, 201, "success", monkeypatch, 6)
    after = backend.state["staging"]
    # EXACTLY the pre-drill release, deployment and evidence: staging's evidence for B survives.
    assert {key: after[key] for key in PRE_DRILL} == before
    assert DRILL_PENDING_OUTPUT not in after
    assert (
        after[DRILL_RESULT_OUTPUT]
        == restored.result
        == {
            "image": B,
            "rolledBackTo": A,
            "parityRootHash": DRILL_HASH,
            "drilledAt": "2026-11-28T15:00:00Z",
            "run": {"repository": REPOSITORY, "runId": 201},
            "result": "passed",
        }
    )
    # Production promotes B: staging's evidence (GATE-DP-09) and its passed drill (GATE-DP-16).
    deploy_to(backend, "prod", B, 105, at(monkeypatch, T0 + timedelta(hours=7)))
    assert backend.state["prod"]["release"] == {"image": B}


def test_without_the_exact_restore_production_would_lose_its_evidence(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the restore does not simply redeploy B: a deploy drops staging's evidence for B."""
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    drill_commands.start(
        backend.project, backend, "staging", run(201), now=at(monkeypatch, T0 + timedelta(hours=5))
    )
    deploy_to(backend, "staging", B, 202, at(monkeypatch, T0 + timedelta(hours=6)))
    assert EVIDENCE_OUTPUT not in backend.state["staging"]
    with pytest.raises(GateError, match=r"GATE-DP-09\] no evidence from staging"):
        deploy_to(backend, "prod", B, 105, at(monkeypatch, T0 + timedelta(hours=7)))


@pytest.mark.parametrize(
    ("parity", "api", "why"),
    [
        ("failure", "failure", "parity failed"),
        ("cancelled", "cancelled", "parity cancelled"),
        ("success", "failure", "the API says the parity job failed"),
    ],
)
def test_a_failed_drill_is_recorded_failed_and_still_restores(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch, parity: str, api: str, why: str
) -> None:
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    before = {key: backend.state["staging"][key] for key in PRE_DRILL}
    drill_commands.start(
        backend.project, backend, "staging", run(201), now=at(monkeypatch, T0 + timedelta(hours=5))
    )
    drill_run(github, 201, api)
    restored = restore(backend, github, 201, parity, monkeypatch, 6)
    after = backend.state["staging"]
    assert {key: after[key] for key in PRE_DRILL} == before, why
    assert restored.result["result"] == "failed" and "parityRootHash" not in restored.result
    assert after[DRILL_RESULT_OUTPUT]["result"] == "failed"
    with pytest.raises(GateError, match=r"GATE-DP-16\] the last rollback drill of staging, at .* failed"):
        deploy_to(backend, "prod", B, 105, at(monkeypatch, T0 + timedelta(hours=7)))


def test_nothing_to_roll_back_to_is_refused_and_nothing_changes(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    validated_in(backend, github, "staging", "staging", A, 102, monkeypatch, T0 + timedelta(hours=1))
    state, applied = json.dumps(backend.state), len(backend.applied)
    started: list[str] = []
    with pytest.raises(DeliveryRefused, match="has validated no image other than the one it runs"):
        drill_commands.start(
            backend.project,
            backend,
            "staging",
            run(201),
            now=at(monkeypatch, T0 + timedelta(hours=5)),
            before_apply=lambda: started.append("now"),
        )
    assert (json.dumps(backend.state), len(backend.applied), started) == (state, applied, [])


def test_no_drill_starts_when_the_restore_would_be_refused(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dev moved on to C: a `pulumi up` putting B back in staging fails GATE-DP-09, so no drill."""
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    validated_in(backend, github, "dev", "dev", C, 105, monkeypatch, T0 + timedelta(hours=4))
    state = json.dumps(backend.state)
    with pytest.raises(
        DeliveryRefused,
        match=r"the restore after the drill would be refused \(\[GATE-DP-09\] image digest sha256:b{64} "
        r"has not been validated by dev",
    ):
        drill_commands.start(
            backend.project, backend, "staging", run(201), now=at(monkeypatch, T0 + timedelta(hours=5))
        )
    assert json.dumps(backend.state) == state


def test_refusals_name_the_problem(backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    github = FakeGitHub()
    now = at(monkeypatch, T0 + timedelta(hours=5))
    with pytest.raises(DeliveryRefused, match="records no deploy by the pipeline"):
        drill_commands.start(backend.project, backend, "staging", run(201), now=now)
    with pytest.raises(DeliveryRefused, match=r"the rollback drill runs in staging .*allowed: 'staging'"):
        drill_commands.start(backend.project, backend, "prod", run(201), now=now)
    with pytest.raises(DeliveryRefused, match="has no drill in progress: nothing to restore"):
        restore(backend, github, 201, "success", monkeypatch, 5)
    staging_runs_b_after_a(backend, github, monkeypatch)
    drill_commands.start(
        backend.project, backend, "staging", run(201), now=at(monkeypatch, T0 + timedelta(hours=5))
    )
    with pytest.raises(DeliveryRefused, match="in the middle of the drill of run 201"):
        drill_commands.start(
            backend.project, backend, "staging", run(202), now=at(monkeypatch, T0 + timedelta(hours=5))
        )
    with pytest.raises(DeliveryRefused, match="started by run 201; restore it with --run-id 201"):
        restore(backend, github, 202, "failure", monkeypatch, 6)


def test_the_drill_result_is_carried_through_plain_ups_and_later_deploys(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    drill_commands.start(
        backend.project, backend, "staging", run(201), now=at(monkeypatch, T0 + timedelta(hours=5))
    )
    drill_run(github, 201)
    result = restore(backend, github, 201, "success", monkeypatch, 6).result
    assert backend.plain_up("staging")[DRILL_RESULT_OUTPUT] == result
    validated_in(backend, github, "dev", "dev", C, 106, monkeypatch, T0 + timedelta(hours=7))
    deploy_to(backend, "staging", C, 107, at(monkeypatch, T0 + timedelta(hours=8)))
    assert backend.state["staging"][DRILL_RESULT_OUTPUT] == result
    assert DRILL_PENDING_OUTPUT not in backend.state["staging"]


def test_carry_forward_keeps_the_state_drill_over_a_committed_one() -> None:
    state = {"release": {"image": A}, DRILL_RESULT_OUTPUT: {"result": "passed"}}
    committed = {"delivery-gate:rollbackDrillResult": {"result": "typed by hand"}}
    config, _ = carry_forward(committed, state)
    assert config["delivery-gate:rollbackDrillResult"] == {"result": "passed"}
    fresh = {"delivery-gate:deployment": {"run": {}}, "delivery-gate:release": {"image": B}}
    config, _ = carry_forward(fresh, {**state, DRILL_PENDING_OUTPUT: {"run": {}}})
    assert config["delivery-gate:rollbackDrillResult"] == {"result": "passed"}
    assert "delivery-gate:rollbackDrillPending" not in config  # any deploy but the drill's ends it


@pytest.mark.parametrize("key", ["rollbackDrillResult", "rollbackDrillPending"])
def test_gate_check_refuses_a_committed_drill(
    backend: OfflineBackend, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    path = backend.project / "stacks" / "Pulumi.staging.yaml"
    typed = {
        "rollbackDrillResult": a_drill("2026-11-24T07:41:00Z"),
        "rollbackDrillPending": {
            "release": {"image": A},
            "rolledBackTo": B,
            "run": {"repository": REPOSITORY, "runId": 1},
        },
    }[key]
    path.write_text(path.read_text() + f"  delivery-gate:{key}: {json.dumps(typed)}\n")
    assert cli.main(["check", "--project-dir", str(backend.project)]) == 3
    err = capsys.readouterr().err
    assert f"[GATE-DP-13] stacks/Pulumi.staging.yaml: delivery-gate:{key} is written by the pipeline" in err


# -- the CLI ---------------------------------------------------------------------------------------


def test_gate_drill_writes_the_outputs_the_workflow_reads(
    backend: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github = FakeGitHub()
    staging_runs_b_after_a(backend, github, monkeypatch)
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    at(monkeypatch, T0 + timedelta(hours=5))
    common = ["--stack", "staging", "--project-dir", str(backend.project), "--repository", REPOSITORY]
    outside = Outside(workspace=backend, github=github)
    assert cli.main(["drill", "rollback", *common, "--run-id", "201"], outside=outside) == 0
    assert output.read_text() == f"started=true\nimage={A}\nprevious_image={B}\n"
    drill_run(github, 201)
    output.write_text("")
    restore_argv = ["drill", "restore", *common, "--run-id", "201", "--parity", "success"]
    assert cli.main([*restore_argv, "--parity-root-hash", DRILL_HASH], outside=outside) == 0
    assert output.read_text() == "result=passed\n"
    assert "drill passed (rolled back to" in capsys.readouterr().out
    # Nothing pending any more: a second restore is refused with exit 3 and no traceback.
    assert cli.main([*restore_argv, "--parity-root-hash", DRILL_HASH], outside=outside) == 3
    err = capsys.readouterr().err
    assert "nothing to restore" in err and "Traceback" not in err


def test_gate_drill_with_nothing_to_roll_back_to_exits_3_and_starts_nothing(
    backend: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    validated_in(backend, github, "staging", "staging", A, 102, monkeypatch, T0 + timedelta(hours=1))
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    argv = ["drill", "rollback", "--stack", "staging", "--project-dir", str(backend.project)]
    argv += ["--repository", REPOSITORY, "--run-id", "201"]
    assert cli.main(argv, outside=Outside(workspace=backend)) == 3
    assert "nothing to roll back to" in capsys.readouterr().err
    assert not output.exists()  # no started=true: the workflow does not run the restore


# -- GATE-DP-16 through the plan -------------------------------------------------------------------

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/aos"
DIGEST = "sha256:" + "a" * 64


def prod_project(project: Path, extra: str = "", release_extra: str = "") -> Path:
    (project / "stacks").mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        if not (project / name).exists():
            (project / name).symlink_to(Path(__file__).resolve().parents[1] / name)
    (project / "stacks" / "Pulumi.prod.yaml").write_text(
        "config:\n  github:owner: acme\n  delivery-gate:environment: production\n"
        "  delivery-gate:repositories:\n    - name: aos\n"
        f"  delivery-gate:release:\n    image: {REGISTRY}@{DIGEST}\n" + release_extra + extra
    )
    return project


def staging_outputs(drill_result: dict[str, Any] | None) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        EVIDENCE_OUTPUT: {
            "environment": "staging",
            "stack": "staging",
            "image": f"{REGISTRY}@{DIGEST}",
            "imageDigest": DIGEST,
            "flags": {},
            "parityRootHash": ROOT_HASH,
            "validatedAt": "2026-11-21T14:05:00Z",
        }
    }
    if drill_result is not None:
        outputs[DRILL_RESULT_OUTPUT] = drill_result
    return outputs


def a_drill(drilled_at: str, result: str = "passed") -> dict[str, Any]:
    document = {
        "image": f"{REGISTRY}@{DIGEST}",
        "rolledBackTo": f"{REGISTRY}@sha256:{'b' * 64}",
        "drilledAt": drilled_at,
        "run": {"repository": REPOSITORY, "runId": 7101},
        "result": result,
    }
    return {**document, "parityRootHash": DRILL_HASH} if result == "passed" else document


EMERGENCY = """\
    emergency:
      incidentId: INC-4711
      rollbackPlan: https://wiki.acme.example/runbooks/aos-rollback
      securityScan: https://github.com/acme/aos/actions/runs/123
"""


def plan_prod(project: Path, drill_result: dict[str, Any] | None, own: dict[str, Any] | None = None) -> None:
    outputs = {"staging": staging_outputs(drill_result), **({"prod": own} if own is not None else {})}
    build_plan(project, "prod", stack_outputs=outputs)


def test_dp16_a_recent_passed_drill_lets_production_promote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T09:00:00Z")
    plan_prod(prod_project(tmp_path), a_drill("2026-11-24T07:41:00Z"))
    # maxAge 14d by default: 13 days 23 hours old still passes.
    plan_prod(prod_project(tmp_path), a_drill("2026-11-14T10:00:00Z"))


@pytest.mark.parametrize(
    ("drill_result", "extra", "expected"),
    [
        (None, "", r"\[GATE-DP-16\] staging \(stack staging\) records no rollback drill"),
        (
            a_drill("2026-11-24T07:41:00Z", "failed"),
            "",
            r"the last rollback drill of staging, at 2026-11-24T07:41:00Z, failed \(run https://github.com/acme/aos/"
            r"actions/runs/7101\)",
        ),
        (
            a_drill("2026-11-14T08:00:00Z"),
            "",
            r"passed at 2026-11-14T08:00:00Z .*, 14d1h ago: older than rollbackDrill.maxAge 14d",
        ),
        (
            a_drill("2026-11-27T08:00:00Z"),
            "  delivery-gate:rollbackDrill:\n    maxAge: 24h\n",
            r"1d1h ago: older than rollbackDrill.maxAge 24h",
        ),
        ({"result": "passed"}, "", "exports a malformed rollbackDrill"),
    ],
)
def test_dp16_refuses_production_without_a_recent_passed_drill(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    drill_result: dict[str, Any] | None,
    extra: str,
    expected: str,
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T09:00:00Z")
    with pytest.raises(GateError, match=expected) as refused:
        plan_prod(prod_project(tmp_path, extra), drill_result)
    assert "hint: run the rollback drill (Actions -> rollback-drill -> Run workflow" in str(refused.value)


def test_dp16_exempts_emergencies_and_re_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T09:00:00Z")
    stale = a_drill("2026-10-01T08:00:00Z")
    # An emergency release has its own rollback plan (GATE-DP-10).
    plan_prod(prod_project(tmp_path / "emergency", release_extra=EMERGENCY), stale)
    # Re-applying what production already runs is not a promotion.
    running = {"release": {"image": f"{REGISTRY}@{DIGEST}"}}
    plan_prod(prod_project(tmp_path / "reapply"), stale, own=running)
    # `gate deploy` of a new image (its config carries a fresh deployment) is one.
    fresh = {"deployedAt": "2026-11-28T08:00:00Z", "run": {"repository": "acme/aos", "runId": 9}}
    deployment = f"  delivery-gate:deployment: {json.dumps(fresh)}\n"
    older = {"release": {"image": f"{REGISTRY}@sha256:{'b' * 64}"}}
    with pytest.raises(GateError, match="GATE-DP-16"):
        plan_prod(prod_project(tmp_path / "new", deployment), stale, own=older)


# -- the model -------------------------------------------------------------------------------------


def test_the_drilled_environment_defaults_to_the_one_production_promotes_from() -> None:
    assert drill.drilled_environment(policy()).stack == "staging"
    chain = [
        {"name": "dev", "stack": "dev"},
        {"name": "qa", "stack": "qa", "promotesFrom": "dev"},
        {"name": "production", "stack": "prod", "promotesFrom": "qa", "reviewers": {"teams": ["release"]}},
    ]
    assert drill.drilled_environment(policy(environments=chain)).name == "qa"
    assert drill.drilled_environment(policy(rollbackDrill={"environment": "dev"})).name == "dev"


def test_max_age_is_written_in_days_by_default() -> None:
    assert policy().rollback_drill.max_age == "14d"
    assert policy(rollbackDrill={"maxAge": "36h"}).rollback_drill.max_age == "36h"


@pytest.mark.parametrize(
    ("drill_settings", "expected"),
    [
        ({"environment": "production"}, "never production; allowed: one of dev, staging"),
        ({"environment": "qa"}, "got 'qa'; allowed: one of dev, staging"),
        ({"maxAge": "2w"}, "rollbackDrill.maxAge"),
        ({"maxAge": "0d"}, "days such as '7d' \\(1-999\\)"),
        ({"maxAge": "0h"}, "a positive duration"),
        ({"schedule": "every tuesday"}, "rollbackDrill.schedule"),
    ],
)
def test_the_model_refuses_a_bad_drill(drill_settings: dict[str, str], expected: str) -> None:
    with pytest.raises(PolicyError, match=expected):
        policy(rollbackDrill=drill_settings)


# -- rollback-drill.yml ------------------------------------------------------------------------------


def test_the_drill_workflow_never_overlaps_a_deploy_and_restores_always() -> None:
    gate_policy = policy(rollbackDrill={"schedule": "5 6 * * 1"})
    repo = gate_policy.repositories[0]
    documents = workflow_documents(gate_policy, repo)
    document = documents[drill.WORKFLOW_FILE]
    assert document["on"] == {"schedule": [{"cron": "5 6 * * 1"}], "workflow_dispatch": {}}
    assert document["concurrency"] == documents["deploy.yml"]["concurrency"]
    assert document["permissions"] == {}
    jobs = document["jobs"]
    assert jobs["rollback"]["if"] == "github.ref == 'refs/heads/main'"
    assert jobs["rollback"]["environment"] == jobs["restore"]["environment"] == {"name": "staging-rollback"}
    assert jobs["parity"]["uses"].value == "./.github/workflows/e2e-parity-check.yml"
    assert jobs["parity"]["with"] == {"run_k6": False, "target_environment": "staging"}
    assert jobs["restore"]["if"] == "${{ always() && needs.rollback.outputs.started == 'true' }}"
    granted = {
        name: {scope: level.value for scope, level in jobs[name]["permissions"].items()}
        for name in ("rollback", "restore")
    }
    assert granted == {
        "rollback": {"contents": "read"},
        "restore": {"contents": "read", "actions": "read", "issues": "write"},
    }
    steps = {step["name"]: step for step in jobs["restore"]["steps"]}
    failed_restore = "${{ always() && steps.restore.outcome != 'success' }}"
    assert steps["Open a high-priority issue"]["if"] == failed_restore
    assert steps["Notify #oncall"]["if"] == failed_restore
    assert "gate drill restore" in steps["Put back what ran before the drill and record its result"]["run"]
    # GATE-M9-04: the parity call's group differs from the drill's (deploy.yml's) group.
    assert check_call_concurrency(repo.full_name, committed_workflows(gate_policy, repo), "main") == []


def test_organisation_mode_keeps_the_drill_in_the_repository() -> None:
    gate_policy = policy(
        mergeGate={"mode": "organization", "organization": {"centralRepository": "gate-workflows"}},
        workflows={"commit": True},
    )
    documents = repository_workflow_documents(gate_policy, gate_policy.repositories[0])
    assert "schedule" in documents[drill.WORKFLOW_FILE]["on"]


# -- AWS: only the drilled environment's deploy role trusts the drill --------------------------------


def test_only_the_drilled_environments_role_trusts_the_drill_in_its_rollback_environment() -> None:
    from tests.test_aws_renderers import gated  # noqa: PLC0415

    drilled = [s for s in aws.deploy_trust_policy(gated("staging"))["Statement"] if "Drill" in s["Sid"]]
    assert [s["Condition"]["StringEquals"] for s in drilled] == [
        {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            aws.SUB_KEY: [
                "repo:acme/aos:environment:staging-rollback",
                "repo:zeta/web:environment:staging-rollback",
            ],
            aws.WORKFLOW_REF_KEY: [
                "acme/aos/.github/workflows/rollback-drill.yml@refs/heads/main",
                "zeta/web/.github/workflows/rollback-drill.yml@refs/heads/trunk",
            ],
        }
    ]
    for other in ("dev", "production"):
        statements = aws.deploy_trust_policy(gated(other))["Statement"]
        assert not [s for s in statements if "rollback-drill" in json.dumps(s)]
