"""The one delivery path (gate/promotion/delivery.py, gate/promotion/deploy.py): deploy, evidence,
carry-forward, rollback.

The stack workspace is an in-memory backend whose `up` runs the REAL program under the offline
engine with the config file `gate` hands it and every stack's state as their outputs: what the
program accepts, refuses and exports is the program's own decision, not the fake's.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.cli.delivery import Outside
from gate.errors import GateError
from gate.offline.plan import build_plan
from gate.policy.model import PipelineRun
from gate.promotion import deploy
from gate.promotion.delivery import rollback_target
from gate.promotion.deploy import Claim, Window
from gate.promotion.evidence import EVIDENCE_OUTPUT
from gate.promotion.outside import DeliveryRefused
from tests.conftest import ROOT
from tests.test_workflows import policy

REGISTRY = "ghcr.io/acme/aos"
A, B, C = (f"{REGISTRY}@sha256:{c * 64}" for c in "abc")
ROOT_HASH = "sha256:" + "d" * 64
REPOSITORY = "acme/aos"


def stack_text(environment: str) -> str:
    return (
        "config:\n  github:owner: acme\n"
        f"  delivery-gate:environment: {environment}\n"
        "  delivery-gate:repositories:\n    - name: aos\n"
    )


STACKS = {"dev": stack_text("dev"), "staging": stack_text("staging"), "prod": stack_text("production")}


class OfflineBackend:
    """Each stack's state (its outputs) in memory; `up` runs the program offline."""

    def __init__(self, project: Path, scratch: Path) -> None:
        self.project, self.scratch = project, scratch
        self.state: dict[str, dict[str, Any]] = {}
        self.applied: list[tuple[str, str]] = []  # (stack, config file text) per successful up

    def outputs(self, stack: str) -> dict[str, Any]:
        copied: dict[str, Any] = json.loads(json.dumps(self.state.get(stack, {})))
        return copied

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]:
        text = config_file.read_text(encoding="utf-8")
        run = self.scratch / f"up-{len(self.applied)}-{stack}"
        shutil.copytree(self.project, run, symlinks=True)
        (run / "stacks" / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
        plan = build_plan(run, stack, stack_outputs=self.state)
        self.state[stack] = plan["outputs"]
        self.applied.append((stack, text))
        return dict(plan["outputs"])

    def plain_up(self, stack: str) -> dict[str, Any]:
        """`pulumi up` by hand: the committed stack file, the stack's state read back."""
        plan = build_plan(self.project, stack, stack_outputs=self.state)
        self.state[stack] = plan["outputs"]
        return dict(plan["outputs"])


class FakeGitHub:
    """The GitHub API's view of deploy.yml runs: run id -> (run, jobs)."""

    def __init__(self) -> None:
        self.runs: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.gets: list[str] = []

    def add_run(self, run_id: int, *, path: str = ".github/workflows/deploy.yml", **conclusions: str) -> None:
        run = {"id": run_id, "path": path, "repository": {"full_name": REPOSITORY}}
        jobs = [{"name": name.replace("_", " "), "conclusion": value} for name, value in conclusions.items()]
        self.runs[run_id] = (run, jobs)

    def get(self, path: str) -> Any:
        self.gets.append(path)
        if "/issues?" in path:
            return []  # no open emergency-backfill issue (GATE-DP-17, gate/promotion/emergency.py)
        run_id = int(path.split("/runs/")[1].split("/", maxsplit=1)[0].split("?", maxsplit=1)[0])
        run, jobs = self.runs[run_id]
        return {"jobs": jobs} if "/jobs" in path else run


@pytest.fixture
def backend(tmp_path: Path) -> OfflineBackend:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).symlink_to(ROOT / name)
    for stack, text in STACKS.items():
        (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    return OfflineBackend(project, tmp_path / "runs")


T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> datetime:
    monkeypatch.setenv("DELIVERY_GATE_NOW", moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return moment


def run(run_id: int) -> PipelineRun:
    return PipelineRun(repository=REPOSITORY, run_id=run_id)


def deploy_to(backend: OfflineBackend, stack: str, image: str, run_id: int, now: datetime) -> deploy.Applied:
    return deploy.deploy(backend.project, backend, stack, image, run(run_id), now=now)


def evidence(  # noqa: PLR0917 - the scenario's facts, in the order the tests read them
    backend: OfflineBackend, github: FakeGitHub, stack: str, image: str, run_id: int, now: datetime, **kw: Any
) -> dict[str, Any]:
    window = kw.pop("window", Window(now - timedelta(minutes=20), now - timedelta(minutes=1)))
    claim = Claim(image, ROOT_HASH, kw.pop("analysis", "Successful"), window)
    return deploy.record_evidence(
        backend.project, backend, github, stack, claim=claim, run=run(kw.pop("as_run", run_id)), now=now
    )


def validated_in(  # noqa: PLR0917 - as evidence()
    backend: OfflineBackend, github: FakeGitHub, env: str, stack: str, image: str, run_id: int,
                 monkeypatch: pytest.MonkeyPatch, start: datetime) -> None:  # fmt: skip
    deploy_to(backend, stack, image, run_id, at(monkeypatch, start))
    github.add_run(run_id, **{f"parity_{env}": "success", f"validate_{env}": "success"})
    evidence(backend, github, stack, image, run_id, at(monkeypatch, start + timedelta(minutes=30)))


# -- deploy, evidence, and the state as the source of truth ---------------------------------------


def test_a_deploy_lives_in_the_stack_state_and_a_plain_up_never_reverts_it(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = (backend.project / "stacks" / "Pulumi.dev.yaml").read_text()
    applied = deploy_to(backend, "dev", A, 101, at(monkeypatch, T0))
    assert applied.previous_image is None
    state = backend.state["dev"]
    assert state["release"] == {"image": A}
    assert state["deployment"]["run"] == {"repository": REPOSITORY, "runId": 101}
    assert state["releaseSource"] == "deployed by acme/aos run 101"
    assert EVIDENCE_OUTPUT not in state  # deployed, not yet validated
    # The committed stack file is never edited; the one-off config file carried the release.
    assert (backend.project / "stacks" / "Pulumi.dev.yaml").read_text() == committed
    assert "delivery-gate:deployment:" in backend.applied[-1][1]
    # A later `pulumi up` by hand reads the state back: it deploys A again, not "nothing".
    again = backend.plain_up("dev")
    assert (
        again["release"] == {"image": A} and again["releaseSource"] == "the stack's state (the last deploy)"
    )
    # The Rollout runs the deployed image in both.
    rollouts = [
        r
        for r in build_plan(backend.project, "dev", stack_outputs=backend.state)["resources"]
        if r["type"].endswith(":Rollout")
    ]
    assert [r["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] for r in rollouts] == [A]


def test_evidence_is_recorded_for_the_run_that_deployed_and_the_next_stack_deploys_on_it(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    exported = backend.state["dev"][EVIDENCE_OUTPUT]
    assert exported["image"] == A and exported["parityRootHash"] == ROOT_HASH
    assert exported["analysis"] == "Successful"
    assert exported["run"] == "https://github.com/acme/aos/actions/runs/101"
    assert exported["window"] == {"start": "2026-11-28T09:10:00Z", "end": "2026-11-28T09:29:00Z"}
    assert backend.state["dev"]["validatedImages"] == [A]
    assert github.gets == [
        "repos/acme/aos/actions/runs/101",
        "repos/acme/aos/actions/runs/101/jobs?per_page=100",
    ]
    # Staging deploys A on dev's evidence (GATE-DP-09, checked by the program itself) ...
    deploy_to(backend, "staging", A, 102, at(monkeypatch, T0 + timedelta(hours=1)))
    assert backend.state["staging"]["release"] == {"image": A}
    assert backend.state["staging"]["promotedOn"] == exported
    # ... and refuses B, which dev never validated: nothing applied, the state unchanged.
    with pytest.raises(
        GateError, match=r"GATE-DP-09\] image digest sha256:b{64} has not been validated by dev"
    ):
        deploy_to(backend, "staging", B, 103, at(monkeypatch, T0 + timedelta(hours=2)))
    assert backend.state["staging"]["release"] == {"image": A}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not-running", "stack dev runs ghcr.io/acme/aos@sha256:aaaa"),
        ("other-run", "run 999 did not deploy the image dev runs (run 101 did)"),
        ("parity-failed", "job 'parity dev / e2e-parity' of run 101 concluded failure"),
        ("not-validated", "job 'validate dev' of run 101 concluded nothing yet"),
        ("other-workflow", "run 101 is .github/workflows/ci.yml, not .github/workflows/deploy.yml or"),
        ("analysis-failed", "--analysis: got 'Failed'; only a 'Successful' canary analysis is evidence"),
        ("future-window", "must be a past window"),
    ],
)
def test_evidence_that_is_not_backed_by_the_pipeline_is_refused(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch, case: str, expected: str
) -> None:
    github = FakeGitHub()
    deploy_to(backend, "dev", A, 101, at(monkeypatch, T0))
    later = at(monkeypatch, T0 + timedelta(minutes=30))
    good = {"parity_dev / e2e-parity": "success", "validate_dev": "success"}
    github.add_run(999, **good)
    kwargs: dict[str, Any] = {}
    image = A
    if case == "not-running":
        image = B
    elif case == "other-run":
        kwargs["as_run"] = 999
    elif case == "parity-failed":
        good["parity_dev / e2e-parity"] = "failure"
    elif case == "not-validated":
        good["validate_dev"] = None  # type: ignore[assignment]
    elif case == "analysis-failed":
        kwargs["analysis"] = "Failed"
    elif case == "future-window":
        kwargs["window"] = Window(later, later + timedelta(minutes=5))
    github.add_run(
        101,
        path=".github/workflows/ci.yml" if case == "other-workflow" else ".github/workflows/deploy.yml",
        **good,
    )
    before = dict(backend.state["dev"])
    with pytest.raises(DeliveryRefused) as refused:
        evidence(backend, github, "dev", image, 101, later, **kwargs)
    assert expected in str(refused.value)
    assert backend.state["dev"] == before  # nothing recorded


def test_evidence_cannot_predate_the_deploy_it_validates(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    deploy_to(backend, "dev", A, 101, at(monkeypatch, T0))
    github.add_run(101, parity_dev="success", validate_dev="success")
    # A clock behind the deploy (a forged or replayed record): refused, nothing recorded.
    behind = at(monkeypatch, T0 - timedelta(minutes=5))
    window = Window(T0 - timedelta(minutes=30), T0 - timedelta(minutes=10))
    with pytest.raises(GateError, match=r"deployment\.deployedAt.*a deploy cannot come from the future"):
        evidence(backend, github, "dev", A, 101, behind, window=window)
    assert "validation" not in backend.state["dev"]


def test_the_model_refuses_evidence_from_before_the_deploy() -> None:
    deployment = {"deployedAt": "2026-11-20T10:00:00Z", "run": {"repository": REPOSITORY, "runId": 1}}
    validation = {"image": A, "parityRootHash": ROOT_HASH, "validatedAt": "2026-11-20T09:59:00Z"}
    with pytest.raises(GateError, match=r"validation\.validatedAt.*not before the deploy it validates"):
        policy(release={"image": A}, deployment=deployment, validation=validation)
    window = {"windowStart": "2026-11-20T09:50:00Z", "windowEnd": "2026-11-20T10:20:00Z"}
    late = {**validation, "validatedAt": "2026-11-20T10:30:00Z", **window}
    with pytest.raises(GateError, match=r"validation\.windowStart.*not before the deploy it watched"):
        policy(release={"image": A}, deployment=deployment, validation=late)


def test_a_new_deploy_drops_the_old_evidence(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    deploy_to(backend, "dev", B, 102, at(monkeypatch, T0 + timedelta(hours=1)))
    state = backend.state["dev"]
    assert EVIDENCE_OUTPUT not in state and "validation" not in state
    assert state["deployment"]["previousImage"] == A
    assert state["validatedImages"] == [A]  # still a rollback target


# -- rollback ---------------------------------------------------------------------------------------


def test_rollback_returns_to_the_last_validated_image_without_upstream_evidence(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    validated_in(backend, github, "staging", "staging", A, 102, monkeypatch, T0 + timedelta(hours=1))
    validated_in(backend, github, "dev", "dev", B, 103, monkeypatch, T0 + timedelta(hours=2))
    deploy_to(backend, "staging", B, 104, at(monkeypatch, T0 + timedelta(hours=3)))
    assert rollback_target(backend.state["staging"]) == A
    # dev has moved on to B, so dev's evidence no longer covers A; staging's own evidence does.
    applied = deploy.rollback(
        backend.project, backend, "staging", run(104), now=at(monkeypatch, T0 + timedelta(hours=4))
    )
    assert applied.image == A and applied.previous_image == B
    assert backend.state["staging"]["deployment"]["rollback"] is True
    assert backend.state["staging"]["release"] == {"image": A}


def test_a_first_deploy_has_nothing_to_roll_back_to(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_to(backend, "dev", A, 101, at(monkeypatch, T0))
    with pytest.raises(DeliveryRefused, match="nothing to roll back to"):
        deploy.rollback(
            backend.project, backend, "dev", run(101), now=at(monkeypatch, T0 + timedelta(minutes=5))
        )


def test_a_rollback_to_an_image_never_validated_here_is_refused(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub()
    validated_in(backend, github, "dev", "dev", A, 101, monkeypatch, T0)
    later = at(monkeypatch, T0 + timedelta(hours=1))
    with pytest.raises(GateError, match=r"GATE-DP-12\] rollback to .*sha256:c{64}: dev never validated it"):
        deploy.deploy(backend.project, backend, "dev", C, run(102), now=later, rollback=True)


# -- watch: canary analysis and the validation window -------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=max(seconds, 1))


class Rollouts:
    def __init__(self, *phases: tuple[str, str]) -> None:
        self.phases = list(phases)  # (image, phase) answers, the last repeats

    def rollout(self, namespace: str, name: str) -> dict[str, Any]:
        image, phase = self.phases.pop(0) if len(self.phases) > 1 else self.phases[0]
        return {
            "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
            "status": {"phase": phase},
        }


class Firing:
    def __init__(self, after: int, names: list[str]) -> None:
        self.calls, self.after, self.names = 0, after, names

    def firing(self, namespace: str) -> list[str]:
        self.calls += 1
        return self.names if self.calls > self.after else []


def watched(rollouts: Rollouts, alerts: Firing, timeout: float = 600) -> deploy.Watched:
    clock = FakeClock()
    return deploy.watch(policy(), A, rollouts, alerts, window_seconds=300, timeout_seconds=timeout,
                        now=clock.now, sleep=clock.sleep)  # fmt: skip


def test_watch_passes_a_healthy_canary_and_a_quiet_window() -> None:
    result = watched(Rollouts((B, "Healthy"), (A, "Progressing"), (A, "Healthy")), Firing(10**6, []))
    assert result.analysis == "Successful"
    assert (result.window.end - result.window.start).total_seconds() >= 300


@pytest.mark.parametrize(
    ("rollouts", "alerts", "reason"),
    [
        (Rollouts((A, "Progressing"), (A, "Degraded")), Firing(10**6, []), "the canary analysis failed"),
        (Rollouts((A, "Healthy")), Firing(3, ["AosReplayMismatch"]), "AosReplayMismatch"),
        (Rollouts((A, "Progressing")), Firing(10**6, []), "did not finish"),
    ],
)
def test_watch_fails_on_an_aborted_canary_a_firing_alert_or_a_stuck_rollout(
    rollouts: Rollouts, alerts: Firing, reason: str
) -> None:
    result = watched(rollouts, alerts)
    assert result.analysis == "Failed" and reason in result.reason


# -- the command line ----------------------------------------------------------------------------


def test_gate_deploy_writes_the_outputs_the_next_job_reads(
    backend: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_RUN_ID", "101")
    at(monkeypatch, T0)
    argv = ["deploy", "--stack", "dev", "--image", A, "--project-dir", str(backend.project)]
    # GITHUB_* are read when the parser is built: the workflow's own run.
    assert cli.main(argv, outside=Outside(workspace=backend, github=FakeGitHub())) == 0
    assert output.read_text() == f"image={A}\nprevious_image=\n"
    assert backend.state["dev"]["deployment"]["run"]["runId"] == 101
    argv[argv.index(A)] = "aos:latest"
    assert cli.main(argv, outside=Outside(workspace=backend, github=FakeGitHub())) == 2
    assert "allowed: an image pinned by digest" in capsys.readouterr().err


def test_gate_check_refuses_evidence_committed_by_hand(
    backend: OfflineBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    path = backend.project / "stacks" / "Pulumi.dev.yaml"
    path.write_text(
        path.read_text()
        + f"  delivery-gate:release:\n    image: {A}\n  delivery-gate:validation:\n    image: {A}\n"
        + f"    parityRootHash: {ROOT_HASH}\n    validatedAt: 2026-11-20T09:30:00Z\n"
    )
    assert cli.main(["check", "--project-dir", str(backend.project)]) == 3  # a rule violation
    err = capsys.readouterr().err
    assert "[GATE-DP-13] stacks/Pulumi.dev.yaml: delivery-gate:validation is written by the pipeline" in err
    assert "delivery-gate:release" not in err  # a committed release is the bootstrap value, allowed


def test_a_deploy_targets_only_the_workload_and_the_outputs_once_they_exist() -> None:
    from gate.runtime.lifecycle import deploy_targets  # noqa: PLC0415 - the Automation API adapter's helper

    stack = {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:dev::delivery-gate::pulumi:pulumi:Stack::d"}
    rollout = {"type": "kubernetes:argoproj.io/v1alpha1:Rollout", "urn": "urn:pulumi:dev::delivery-gate::r"}
    role = {"type": "aws:iam/role:Role", "urn": "urn:pulumi:dev::delivery-gate::role"}
    assert deploy_targets([stack, role, rollout]) == sorted([stack["urn"], rollout["urn"]])
    # Before the first full `pulumi up` there is no Rollout to target: a full update creates it.
    assert deploy_targets([stack, role]) == []
