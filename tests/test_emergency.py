"""DP §Emergency / Hotfix through the one delivery path (gate/promotion/emergency.py; issue 12, part
emergency).

The CLI runs against the in-memory stack backend of tests/test_delivery.py, whose `up` runs the REAL
program offline: GATE-DP-10 and the exported `emergencyFollowUp` are the program's own decision.
The GitHub API is a fake answering by path: runs (the security scan) and the open issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.cli.delivery import Outside
from gate.github.centralfiles import central_file
from gate.github.organization import repository_workflow_documents, required_workflow_documents
from gate.github.workflows import render_workflows
from gate.policy import model
from gate.policy.model import PipelineRun
from gate.promotion import emergency
from gate.promotion.delivery import RELEASE_KEY, carry_forward
from gate.promotion.deploy import Claim, Window, record_evidence
from gate.promotion.outside import DeliveryRefused
from tests.conftest import ROOT
from tests.test_delivery import REPOSITORY, STACKS, A, B, OfflineBackend, at
from tests.test_workflows import policy

COMMIT = "c" * 40
SCAN = f"https://github.com/{REPOSITORY}/actions/runs/123"
PLAN = "https://wiki.acme.example/runbooks/aos-rollback"
# A Saturday: outside the production deployment window, which an emergency is not bound by.
SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class FakeApi:
    """GET answers by path prefix; the open issues for any issues query."""

    def __init__(self, runs: Mapping[int, Mapping[str, Any]] | None = None) -> None:
        self.runs = dict(runs or {})
        self.issues: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.gets: list[str] = []

    def get(self, path: str) -> Any:
        self.gets.append(path)
        if "/issues?" in path:
            assert "state=open" in path and "labels=emergency-backfill" in path
            return [issue for issue in self.issues if issue.get("state", "open") == "open"]
        if "/jobs?" in path:
            return {"jobs": self.jobs}
        run_id = int(path.rsplit("/", 1)[1])
        return self.runs.get(run_id, {})


def scan_run(**overrides: Any) -> dict[str, Any]:
    run = {
        "id": 123,
        "path": ".github/workflows/security-scan.yml",
        "repository": {"full_name": REPOSITORY},
        "head_sha": COMMIT,
        "status": "completed",
        "conclusion": "success",
    }
    return {**run, **overrides}


def backfill_issue(
    number: int, created: datetime, environment: str | None = "production", **kw: Any
) -> dict[str, Any]:
    marker = emergency.marker(environment, "INC-7") if environment else "Filed by hand."
    return {
        "number": number,
        "title": f"Backfill the validation skipped by emergency INC-7 ({environment})",
        "html_url": f"https://github.com/{REPOSITORY}/issues/{number}",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": f"{marker}\nDue: ...",
        "state": kw.get("state", "open"),
        **({"pull_request": {}} if kw.get("pull_request") else {}),
    }


def deploy_cli(stacks: OfflineBackend, stack: str, image: str, api: FakeApi, *extra: str) -> int:
    argv = ["deploy", "--stack", stack, "--image", image, "--project-dir", str(stacks.project)]
    argv += ["--repository", REPOSITORY, "--run-id", "501", "--commit", COMMIT, *extra]
    return cli.main(argv, outside=Outside(workspace=stacks, github=api))


@pytest.fixture
def stacks(tmp_path: Path) -> OfflineBackend:
    """tests/test_delivery.py's backend: the real program offline, each stack's state in memory."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).symlink_to(ROOT / name)
    for stack, text in STACKS.items():
        (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    backend = OfflineBackend(project, tmp_path / "runs")
    # Staging runs A and has validated nothing: production has no evidence for B.
    backend.state = {"dev": {}, "staging": {"release": {"image": A}}}
    return backend


EMERGENCY = ("--emergency", "INC-4711", "--rollback-plan", PLAN, "--security-scan", SCAN)


# -- why the path had to move: a committed emergency release loses to the stack's state ------------


def test_a_committed_emergency_release_no_longer_deploys_once_the_stack_has_state() -> None:
    committed = {RELEASE_KEY: {"image": B, "emergency": {"incidentId": "INC-1"}}}
    config, source = carry_forward(committed, {"release": {"image": A}})
    assert config[RELEASE_KEY] == {"image": A} and source == "the stack's state (the last deploy)"


# -- gate deploy --emergency ------------------------------------------------------------------------


def test_an_emergency_deploy_goes_straight_to_production_and_exports_the_follow_up(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, SATURDAY)
    api = FakeApi({123: scan_run()})
    # Even an overdue backfill does not block another emergency.
    api.issues.append(backfill_issue(3, SATURDAY - timedelta(days=30)))
    assert deploy_cli(stacks, "prod", B, api, *EMERGENCY) == 0, capsys.readouterr().err
    assert api.gets == [f"repos/{REPOSITORY}/actions/runs/123"]  # verified; no backfill query
    state = stacks.state["prod"]
    assert state["release"] == {
        "image": B,
        "emergency": {"incidentId": "INC-4711", "rollbackPlan": PLAN, "securityScan": SCAN},
    }
    follow_up = state["emergencyFollowUp"]
    assert follow_up["rule"] == "GATE-DP-10" and follow_up["incidentId"] == "INC-4711"
    assert follow_up["securityScan"] == SCAN
    assert any("staging" in m for m in follow_up["skippedValidation"])
    # The state carries the emergency release and its follow-up to every later `pulumi up`.
    again = stacks.plain_up("prod")
    assert again["release"] == state["release"] and again["emergencyFollowUp"] == follow_up


def test_the_emergency_run_records_the_evidence_of_what_it_deployed(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, SATURDAY)
    api = FakeApi({123: scan_run()})
    assert deploy_cli(stacks, "prod", B, api, *EMERGENCY) == 0
    # emergency-deploy.yml's own run (501) deployed B; its parity and validation jobs passed.
    api.runs[501] = {
        "id": 501,
        "path": ".github/workflows/emergency-deploy.yml",
        "repository": {"full_name": REPOSITORY},
    }
    api.jobs = [
        {"name": "parity production / e2e-parity", "conclusion": "success"},
        {"name": "validate production", "conclusion": "success"},
    ]
    later = at(monkeypatch, SATURDAY + timedelta(minutes=40))
    claim = Claim(B, "sha256:" + "d" * 64, "Successful", Window(SATURDAY + timedelta(minutes=5), later))
    outputs = record_evidence(
        stacks.project,
        stacks,
        api,
        "prod",
        claim=claim,
        run=PipelineRun(repository=REPOSITORY, run_id=501),
        now=later,
    )
    assert outputs["validation"]["image"] == B
    assert outputs["release"]["emergency"]["incidentId"] == "INC-4711"  # still the emergency release


@pytest.mark.parametrize(
    ("run", "said"),
    [
        (scan_run(conclusion="failure"), "it concluded failure, not success"),
        (scan_run(status="in_progress", conclusion=None), "it concluded in_progress, not success"),
        (scan_run(head_sha="d" * 40), f"it scanned commit {'d' * 40}, not {COMMIT}"),
        (scan_run(path=".github/workflows/ci.yml"), "it runs .github/workflows/ci.yml, not"),
        (scan_run(repository={"full_name": "evil/aos"}), "it belongs to evil/aos, not acme/aos"),
        ({}, "it runs no workflow"),
    ],
)
def test_an_unverified_security_scan_refuses_the_emergency_before_the_stack_is_touched(
    stacks: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    run: dict[str, Any],
    said: str,
) -> None:
    at(monkeypatch, SATURDAY)
    code = deploy_cli(stacks, "prod", B, FakeApi({123: run}), *EMERGENCY)
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err  # the policy refuses (GATE-DP-10)
    assert "[GATE-DP-10] security checks are never skippable" in err and said in err
    assert stacks.applied == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("INC-4711", "urgent"), "--emergency: got 'urgent'; allowed: an incident id matching"),
        (("INC-4711", "INC-1/../x"), "--emergency: got 'INC-1/../x'"),
        ((PLAN, "http://wiki/plan"), "--rollback-plan: got 'http://wiki/plan'; allowed: the https://"),
        ((SCAN, "https://ci.example/scan/1"), "--security-scan: got 'https://ci.example/scan/1'"),
    ],
)
def test_what_a_person_typed_is_checked_and_the_error_says_what_is_allowed(
    stacks: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    said: str,
) -> None:
    at(monkeypatch, SATURDAY)
    api = FakeApi({123: scan_run()})
    typed = [change[1] if value == change[0] else value for value in EMERGENCY]
    code = deploy_cli(stacks, "prod", B, api, *typed)
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err
    assert api.gets == [] and stacks.applied == []  # refused offline, before the API


def test_the_emergency_options_belong_together(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, SATURDAY)
    api = FakeApi({123: scan_run()})
    assert deploy_cli(stacks, "prod", B, api, "--emergency", "INC-4711", "--rollback-plan", PLAN) == 2
    assert "--security-scan required" in capsys.readouterr().err
    assert deploy_cli(stacks, "dev", B, api, "--security-scan", SCAN) == 2
    assert "with --emergency INCIDENT only" in capsys.readouterr().err
    # dev promotes from nothing: there is no validation an emergency could skip.
    assert deploy_cli(stacks, "dev", B, api, *EMERGENCY) == 3  # the policy refuses
    assert "dev promotes from no environment" in capsys.readouterr().err
    assert stacks.applied == []


# -- GATE-DP-17: an overdue backfill blocks ordinary deploys ----------------------------------------

MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # inside the production window


def test_an_overdue_backfill_refuses_an_ordinary_deploy_naming_the_issue_and_what_closes_it(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, MONDAY)
    api = FakeApi()
    api.issues.append(backfill_issue(12, MONDAY - timedelta(days=8)))
    assert deploy_cli(stacks, "prod", B, api) == 3
    err = capsys.readouterr().err
    assert "[GATE-DP-17] production took an emergency release whose skipped validation is overdue" in err
    assert (
        f"#12 'Backfill the validation skipped by emergency INC-7 (production)' (https://github.com/{REPOSITORY}/issues/12"
        in err
    )
    assert "8d ago" in err and "incident INC-7" in err and "emergency.backfillWithin 7d" in err
    assert "then close the issue" in err and "Traceback" not in err
    assert stacks.applied == []


@pytest.mark.parametrize(
    "issue",
    [
        backfill_issue(12, MONDAY - timedelta(days=6)),  # not overdue yet
        backfill_issue(12, MONDAY - timedelta(days=30), state="closed"),  # closed: the gap is closed
        backfill_issue(12, MONDAY - timedelta(days=30), environment="staging"),  # another environment
        backfill_issue(12, MONDAY - timedelta(days=30), pull_request=True),  # a pull request, no issue
    ],
    ids=["not-overdue", "closed", "other-environment", "pull-request"],
)
def test_a_backfill_that_is_not_overdue_closed_or_elsewhere_does_not_block(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, issue: dict[str, Any]
) -> None:
    at(monkeypatch, MONDAY)
    api = FakeApi()
    api.issues.append(issue)
    assert deploy_cli(stacks, "dev", A, api) == 0
    assert emergency.overdue(load("production"), [issue], MONDAY) == []


def test_a_backfill_issue_filed_by_hand_blocks_every_environment(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, MONDAY)
    api = FakeApi()
    api.issues.append(backfill_issue(5, MONDAY - timedelta(days=9), environment=None))
    assert deploy_cli(stacks, "dev", A, api) == 3
    assert "names no environment: it blocks every one" in capsys.readouterr().err


def test_a_backfill_issue_without_a_readable_age_counts_as_overdue() -> None:
    body = "<!-- delivery-gate:emergency-backfill environment=production incident=INC-1 -->"
    issues = [{"number": 8, "body": body, "created_at": "not a time"}]
    (found,) = emergency.overdue(load("production"), issues, datetime(2026, 11, 30, tzinfo=UTC))
    assert found.number == 8


def test_without_a_token_an_ordinary_deploy_fails_closed(
    stacks: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at(monkeypatch, MONDAY)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    argv = ["deploy", "--stack", "dev", "--image", A, "--project-dir", str(stacks.project)]
    argv += ["--repository", REPOSITORY, "--run-id", "501"]
    assert cli.main(argv, outside=Outside(workspace=stacks)) == 2
    assert "set GH_TOKEN" in capsys.readouterr().err and stacks.applied == []


# -- pure logic ------------------------------------------------------------------------------------


def load(environment: str, **emergency_values: Any) -> Any:
    stacks = {"dev": "dev", "staging": "staging", "production": "prod"}
    from gate.policy.loader import load_policy  # noqa: PLC0415

    values: dict[str, Any] = {"environment": environment, "repositories": [{"name": "aos"}]}
    if emergency_values:
        values["emergency"] = emergency_values
    return load_policy(values, stack=stacks[environment], github_owner="acme")


def test_backfill_within_reads_days_or_a_duration() -> None:
    assert model.backfill_seconds("7d") == 7 * 86400
    assert model.backfill_seconds("36h") == 36 * 3600
    within = load("production", backfillWithin="36h")
    issue = backfill_issue(1, MONDAY - timedelta(hours=37))
    assert [b.number for b in emergency.overdue(within, [issue], MONDAY)] == [1]
    assert emergency.overdue(load("production"), [issue], MONDAY) == []


def test_the_security_scan_of_organisation_mode_is_the_central_required_workflow() -> None:
    org = {"mergeGate": {"mode": "organization", "organization": {"centralRepository": "gate-central"}}}
    gate_policy = policy(**org)
    paths = emergency.security_scan_paths(gate_policy, "aos")
    # The file aos's group shares in the central repository (issue 14 item 4).
    file = central_file(gate_policy, gate_policy.repositories[0], "security-scan.yml")
    assert f".github/workflows/{file}" in paths
    assert f"acme/gate-central/.github/workflows/{file}" in paths
    assert emergency.security_scan_paths(policy(), "aos") == (".github/workflows/security-scan.yml",)


def test_verify_claim_returns_the_release_emergency_block() -> None:
    claim = emergency.Claim("INC-9", PLAN, SCAN)
    block = emergency.verify_claim(
        load("production"), claim, FakeApi({123: scan_run()}), repository=REPOSITORY, commit=COMMIT
    )
    assert block == {"incidentId": "INC-9", "rollbackPlan": PLAN, "securityScan": SCAN}
    with pytest.raises(DeliveryRefused, match="--commit: got None"):
        emergency.verify_claim(load("production"), claim, FakeApi(), repository=REPOSITORY, commit=None)


class PlanApi(FakeApi):
    """FakeApi that also answers the Contents and Issues API for rollback plans in the repository."""

    def __init__(self, found: Mapping[str, Any]) -> None:
        super().__init__({123: scan_run()})
        self.found = dict(found)

    def get(self, path: str) -> Any:
        if "/contents/" in path or "/issues/" in path:
            self.gets.append(path)
            if path not in self.found:
                raise DeliveryRefused(f"GitHub API GET {path}: HTTP 404")
            return self.found[path]
        return super().get(path)


@pytest.mark.parametrize(
    ("plan", "said"),
    [
        (f"https://github.com/{REPOSITORY}/blob/main/docs/rollback.md", None),
        (f"https://github.com/{REPOSITORY}/issues/42", None),
        (f"https://github.com/{REPOSITORY}/blob/main/docs/gone.md", "not found in acme/aos"),
        (f"https://github.com/{REPOSITORY}/issues/43", "not found in acme/aos"),
        (f"https://github.com/{REPOSITORY}/wiki/Rollback", "cannot check that the plan exists"),
        (PLAN, None),  # elsewhere: https is all the gate can check
    ],
)
def test_a_rollback_plan_in_the_repository_must_exist(plan: str, said: str | None) -> None:
    api = PlanApi(
        {
            f"repos/{REPOSITORY}/contents/docs/rollback.md?ref=main": {"type": "file"},
            f"repos/{REPOSITORY}/issues/42": {"number": 42},
        }
    )
    claim = emergency.Claim("INC-9", plan, SCAN)

    def verify() -> dict[str, str]:
        return emergency.verify_claim(load("production"), claim, api, repository=REPOSITORY, commit=COMMIT)

    if said is None:
        assert verify()["rollbackPlan"] == plan
    else:
        with pytest.raises(
            DeliveryRefused, match=f"\\[GATE-DP-10\\] emergency deploy refused: --rollback-plan .*{said}"
        ):
            verify()


# -- emergency-deploy.yml ----------------------------------------------------------------------------


def rendered(**values: Any) -> dict[str, Any]:
    gate_policy = policy(**values)
    text = render_workflows(gate_policy, gate_policy.repositories[0])[
        ".github/workflows/emergency-deploy.yml"
    ]
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def test_the_workflow_takes_inputs_through_env_only_and_deploys_to_the_chosen_environment() -> None:
    document = rendered()
    inputs = document["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"incident_id", "image", "rollback_plan", "security_scan_run", "environment"}
    assert inputs["environment"]["default"] == "production"
    assert inputs["environment"]["options"] == ["staging", "production"]
    for job in document["jobs"].values():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), step["name"]
            assert "${{" not in (step.get("with") or {}).get("script", ""), step["name"]
    first = document["jobs"]["inputs"]["steps"][0]
    assert first["env"]["INCIDENT_ID"] == "${{ inputs.incident_id }}"
    deploy = document["jobs"]["deploy-production"]
    assert deploy["needs"] == ["inputs"] and deploy["environment"] == {"name": "production"}
    assert deploy["if"] == "${{ needs.inputs.outputs.environment == 'production' }}"
    assert "--emergency" in deploy["steps"][-1]["run"]
    # No deployment-window check and no release job: the emergency is exempt from GATE-DP-19.
    assert "release" not in document["jobs"]
    assert not any("gate window" in str(job) for job in document["jobs"].values())
    # The same chain as deploy.yml after the deploy.
    for kind in ("parity", "validate", "evidence", "rollback"):
        assert f"{kind}-production" in document["jobs"]
    assert document["jobs"]["rollback-production"]["environment"] == {"name": "production-rollback"}


def test_the_follow_up_job_holds_only_what_its_signal_needs() -> None:
    issue_mode = rendered()["jobs"]["follow-up"]
    assert issue_mode["permissions"] == {"issues": "write"}
    pr_mode = rendered(emergency={"signal": "pull-request"})["jobs"]["follow-up"]
    assert pr_mode["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write"}
    assert rendered()["permissions"] == {}


def test_organisation_mode_keeps_the_emergency_workflow_in_the_repository() -> None:
    org = {"mergeGate": {"mode": "organization", "organization": {"centralRepository": "gate-central"}}}
    gate_policy = policy(**org)
    repo = gate_policy.repositories[0]
    assert emergency.WORKFLOW_FILE in repository_workflow_documents(gate_policy, repo)
    assert emergency.WORKFLOW_FILE not in required_workflow_documents(gate_policy, repo)


def test_the_default_labels_include_the_signal_and_the_backfill() -> None:
    names = {label.name for label in policy().labels}
    assert {"post-incident", "emergency-backfill", "emergency"} <= names


def test_the_marker_the_workflow_writes_is_what_gate_dp_17_reads_back() -> None:
    body = emergency.marker("production", "INC-1") + "\nDue: later"
    (found,) = emergency.backfills([{"number": 1, "created_at": "2026-11-01T00:00:00Z", "body": body}])
    assert (found.environment, found.incident) == ("production", "INC-1")
