"""The emergency path through the one delivery path (gate/emergency.py, issue 12).

The stack workspace is test_delivery's offline backend: its `up` runs the REAL program, so whether
an emergency release is accepted (GATE-DP-10) and what it exports is the program's decision. The
GitHub API is a dictionary of answers by path; a missing path is an HTTP error, as RestGitHub's.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gate import cli, emergency
from gate.delivery import RELEASE_KEY, carry_forward
from gate.delivery_cli import Outside
from gate.deploy import DeliveryRefused
from gate.loader import load_policy
from gate.organization import repository_workflow_documents, required_workflow_documents
from gate.workflows import workflow_documents
from tests.conftest import ROOT
from tests.test_delivery import REPOSITORY, STACKS, T0, A, B, FakeGitHub, OfflineBackend, at, validated_in
from tests.test_workflows import VARIANTS, policy

COMMIT = "c0ffee" + "0" * 34
SCAN_URL = f"https://github.com/{REPOSITORY}/actions/runs/555"
PLAN_URL = f"https://github.com/{REPOSITORY}/blob/main/docs/rollback/INC-42.md"
LABEL_PATH = f"repos/{REPOSITORY}/issues?state=open&labels=emergency-backfill&per_page=100&page=1"


class Api:
    """GET answers by path; anything else is an HTTP 404, as the real client raises it."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = dict(answers or {})
        self.gets: list[str] = []

    def get(self, path: str) -> Any:
        self.gets.append(path)
        if path not in self.answers:
            raise DeliveryRefused(f"GitHub API GET {path}: HTTP 404")
        return self.answers[path]


class Backend(OfflineBackend):
    """test_delivery's backend; a refused `up` leaves no scratch copy behind for the next one."""

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]:
        shutil.rmtree(self.scratch / f"up-{len(self.applied)}-{stack}", ignore_errors=True)
        return super().up_with_config(stack, config_file)


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "gate", "components"):
        (project / name).symlink_to(ROOT / name)
    for stack, text in STACKS.items():
        (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    return Backend(project, tmp_path / "runs")


def env_policy(environment: str, stack: str) -> Any:
    values = {"environment": environment, "repositories": [{"name": "aos"}]}
    return load_policy(values, stack=stack, github_owner="acme")


def scan_run(**overrides: Any) -> dict[str, Any]:
    return {
        "id": 555,
        "name": "security-scan",
        "path": ".github/workflows/security-scan.yml",
        "repository": {"full_name": REPOSITORY},
        "head_sha": COMMIT,
        "status": "completed",
        "conclusion": "success",
        **overrides,
    }


def verified_api(**run: Any) -> Api:
    return Api(
        {
            f"repos/{REPOSITORY}/actions/runs/555": scan_run(**run),
            f"repos/{REPOSITORY}/contents/docs/rollback/INC-42.md?ref=main": {"type": "file"},
            LABEL_PATH: [],
        }
    )


def issue(number: int, created: str, environment: str | None = "staging", **extra: Any) -> dict[str, Any]:
    body = "backfill\n" + (emergency.marker(environment, "INC-42") if environment else "")
    return {
        "number": number,
        "title": f"Emergency backfill: INC-42 in {environment}",
        "html_url": f"https://github.com/{REPOSITORY}/issues/{number}",
        "created_at": created,
        "body": body,
        **extra,
    }


def emergency_argv(backend: OfflineBackend, stack: str, image: str, **flags: str) -> list[str]:
    values = {
        "--emergency": "INC-42",
        "--rollback-plan": PLAN_URL,
        "--security-scan": SCAN_URL,
        "--commit": COMMIT,
        **flags,
    }
    argv = ["deploy", "--stack", stack, "--image", image, "--project-dir", str(backend.project)]
    argv += ["--repository", REPOSITORY, "--run-id", "900"]
    for flag, value in values.items():
        if value:
            argv += [flag, value]
    return argv


def dev_validated_a(backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    validated_in(backend, FakeGitHub(), "dev", "dev", A, 101, monkeypatch, T0)


# -- the claim: a committed emergency release deploys nothing once the stack has state ------------


def test_a_committed_emergency_release_loses_to_the_stack_state() -> None:
    committed = {RELEASE_KEY: {"image": B, "emergency": {"incidentId": "INC-1"}}}
    config, source = carry_forward(committed, {"release": {"image": A}})
    # What `gate promote --emergency` wrote is dropped: the stack redeploys A, its last deploy.
    assert config[RELEASE_KEY] == {"image": A} and source == "the stack's state (the last deploy)"


# -- gate deploy --emergency ------------------------------------------------------------------


def test_an_emergency_deploy_skips_upstream_validation_and_exports_the_follow_up(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dev_validated_a(backend, monkeypatch)
    at(monkeypatch, T0 + timedelta(hours=1))
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    api = verified_api()
    # Without --emergency, B (never validated in dev) is refused by the program (GATE-DP-09).
    plain = emergency_argv(backend, "staging", B, **dict.fromkeys(("--emergency", "--rollback-plan"), ""))
    plain = plain[: plain.index("--security-scan")]
    assert cli.main(plain, outside=Outside(workspace=backend, github=api)) == 2
    assert "staging" not in backend.state
    assert (
        cli.main(emergency_argv(backend, "staging", B), outside=Outside(workspace=backend, github=api)) == 0
    )
    state = backend.state["staging"]
    assert state["release"] == {
        "image": B,
        "emergency": {"incidentId": "INC-42", "rollbackPlan": PLAN_URL, "securityScan": SCAN_URL},
    }
    follow_up = state["emergencyFollowUp"]
    assert follow_up["rule"] == "GATE-DP-10" and follow_up["incidentId"] == "INC-42"
    assert any("has not been validated by dev" in line for line in follow_up["skippedValidation"])
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert lines["image"] == B and json.loads(lines["follow_up"]) == follow_up
    # What was typed was checked through the API: the scan run and the rollback plan.
    assert f"repos/{REPOSITORY}/actions/runs/555" in api.gets
    # The state carries the emergency release forward: a plain `pulumi up` keeps B and its follow-up.
    again = backend.plain_up("staging")
    assert again["release"]["image"] == B and again["emergencyFollowUp"] == follow_up


@pytest.mark.parametrize(
    ("run", "flags", "message"),
    [
        ({"head_sha": "f" * 40}, {}, f"scanned {'f' * 40}, not the commit being deployed {COMMIT}"),
        ({"conclusion": "failure"}, {}, "run 555 is completed/failure, not a success"),
        ({"status": "in_progress", "conclusion": None}, {}, "in_progress/no conclusion, not a success"),
        ({"name": "ci", "path": ".github/workflows/ci.yml"}, {}, "not the security-scan workflow"),
        ({"repository": {"full_name": "evil/aos"}}, {}, "belongs to evil/aos, not acme/aos"),
        (
            {},
            {"--security-scan": "https://github.com/evil/aos/actions/runs/555"},
            "allowed: a run of acme/aos",
        ),
        ({}, {"--security-scan": "https://github.com/acme/aos/actions/runs/9"}, "could not be read"),
        ({}, {"--emergency": "incident 42"}, "allowed: an incident id matching emergency.incidentIdPattern"),
        ({}, {"--rollback-plan": "http://wiki/plan"}, "allowed: an https:// link"),
        ({}, {"--rollback-plan": f"https://github.com/{REPOSITORY}/blob/main/gone.md"}, "does not exist"),
        (
            {},
            {"--rollback-plan": f"https://github.com/{REPOSITORY}/wiki/Plan"},
            "cannot check that it exists",
        ),
        ({}, {"--rollback-plan": ""}, "the emergency path needs --rollback-plan as well"),
    ],
)
def test_what_was_typed_is_verified_before_anything_is_deployed(  # noqa: PLR0917 - parametrized
    backend: OfflineBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    run: dict[str, Any],
    flags: dict[str, str],
    message: str,
) -> None:
    dev_validated_a(backend, monkeypatch)
    argv = emergency_argv(backend, "staging", B, **flags)
    assert cli.main(argv, outside=Outside(workspace=backend, github=verified_api(**run))) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "staging" not in backend.state  # nothing applied


def test_a_rollback_plan_elsewhere_and_an_organisation_scan_are_accepted() -> None:
    gate_policy = env_policy("staging", "staging")
    api = verified_api(path="acme/gate-central/.github/workflows/aos--security-scan.yml@refs/heads/main")
    request = emergency.Request("INC-7", "https://runbooks.example.com/aos/rollback", SCAN_URL)
    assert emergency.verify(gate_policy, request, api, repository=REPOSITORY, commit=COMMIT) == []


def test_the_first_environment_takes_no_emergency(
    backend: OfflineBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = emergency_argv(backend, "dev", A)
    assert cli.main(argv, outside=Outside(workspace=backend, github=verified_api())) == 2
    assert "dev is the first environment" in capsys.readouterr().err


# -- GATE-DP-17: an overdue backfill blocks later non-emergency deploys --------------------------


def test_overdue_backfill_rules() -> None:
    staging, production = env_policy("staging", "staging"), env_policy("production", "prod")
    now = T0
    old, young = "2026-11-20T09:00:00Z", "2026-11-27T09:00:00Z"  # 8 days, 1 day before T0
    issues = [issue(3, old), issue(4, young), issue(5, old, environment="production")]
    assert [i["number"] for i in emergency.overdue_backfills(staging, issues, now)] == [3]
    assert [i["number"] for i in emergency.overdue_backfills(production, issues, now)] == [5]
    # An issue labelled by hand (no marker) is about the last environment; an unreadable time fails closed.
    unmarked = [issue(6, old, environment=None), issue(7, "yesterday", environment=None)]
    assert emergency.overdue_backfills(staging, unmarked, now) == []
    assert [i["number"] for i in emergency.overdue_backfills(production, unmarked, now)] == [6, 7]
    problems = emergency.backfill_problems(staging, issues, now)
    assert problems[0].startswith("[GATE-DP-17] backfill #3 'Emergency backfill: INC-42 in staging'")
    assert "open past emergency.backfillWithin 168h" in problems[0]
    assert "what closes the gap" in problems[-1] and "then close the issue" in problems[-1]


def test_an_overdue_backfill_refuses_a_later_ordinary_deploy_until_closed(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_validated_a(backend, monkeypatch)
    argv = ["deploy", "--stack", "staging", "--image", A, "--project-dir", str(backend.project)]
    argv += ["--repository", REPOSITORY, "--run-id", "901"]
    at(monkeypatch, T0 + timedelta(days=8))
    overdue = Api({LABEL_PATH: [issue(12, "2026-11-28T09:30:00Z")]})
    assert cli.main(argv, outside=Outside(workspace=backend, github=overdue)) == 2
    err = capsys.readouterr().err
    assert "deploy to staging refused: [GATE-DP-17] backfill #12" in err
    assert f"https://github.com/{REPOSITORY}/issues/12" in err and "what closes the gap" in err
    assert "staging" not in backend.state
    # Within its window the same issue does not block; once closed it is not listed at all.
    at(monkeypatch, T0 + timedelta(days=2))
    assert cli.main(argv, outside=Outside(workspace=backend, github=overdue)) == 0
    at(monkeypatch, T0 + timedelta(days=9))
    assert cli.main(argv, outside=Outside(workspace=backend, github=Api({LABEL_PATH: []}))) == 0
    # Pull requests carrying the label are not backfill issues.
    pull = issue(13, "2026-11-01T00:00:00Z", pull_request={"url": "x"})
    assert cli.main(argv, outside=Outside(workspace=backend, github=Api({LABEL_PATH: [pull]}))) == 0


def test_an_emergency_deploy_is_not_blocked_by_an_overdue_backfill(
    backend: OfflineBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev_validated_a(backend, monkeypatch)
    at(monkeypatch, T0 + timedelta(days=8))
    api = verified_api()
    api.answers[LABEL_PATH] = [issue(12, "2026-11-20T00:00:00Z")]
    assert (
        cli.main(emergency_argv(backend, "staging", B), outside=Outside(workspace=backend, github=api)) == 0
    )
    assert LABEL_PATH not in api.gets


# -- emergency-deploy.yml as data ----------------------------------------------------------------


def documents(**values: Any) -> dict[str, Any]:
    gate_policy = policy(**values)
    return workflow_documents(gate_policy, gate_policy.repositories[0])


def _runs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["run"]] if isinstance(node.get("run"), str) else []
        return found + [r for value in node.values() for r in _runs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _runs(item)]
    return []


def test_the_workflow_takes_its_inputs_through_env_and_reuses_deploy_yml_jobs() -> None:
    docs = documents()
    workflow = docs[emergency.WORKFLOW_FILE]
    assert set(workflow["on"]) == {"workflow_dispatch"}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == [
        "staging",
        "production",
    ]
    assert all("${{" not in script for script in _runs(workflow))
    first = workflow["jobs"]["inputs"]["steps"][0]
    assert first["id"] == "inputs" and set(first["env"]) >= {"INCIDENT_ID", "IMAGE", "ROLLBACK_PLAN"}
    # deploy.yml's parity/validate/evidence/rollback jobs, only rewired from `build` to `inputs`.
    deploy_jobs = docs["deploy.yml"]["jobs"]
    original = json.dumps(deploy_jobs["rollback-production"], default=repr)
    rewired = json.loads(original.replace("needs.build.", "needs.inputs."))
    rewired["needs"] = ["inputs" if n == "build" else n for n in rewired["needs"]]
    assert "needs.build." in original
    assert json.loads(json.dumps(workflow["jobs"]["rollback-production"], default=repr)) == rewired
    assert workflow["jobs"]["validate-production"]["steps"] == deploy_jobs["validate-production"]["steps"]
    # No deployment window, no release job: straight to the environment, its reviewers approve.
    assert "release" not in workflow["jobs"]
    assert workflow["jobs"]["deploy-production"]["environment"] == {"name": "production"}


def test_least_privilege_follow_up_per_signal_mode() -> None:
    issue_mode = documents()[emergency.WORKFLOW_FILE]["jobs"]["follow-up"]
    assert {k: v.value for k, v in issue_mode["permissions"].items()} == {"issues": "write"}
    pr_mode = documents(emergency={"signal": "pull-request"})[emergency.WORKFLOW_FILE]["jobs"]["follow-up"]
    assert {k: v.value for k, v in pr_mode["permissions"].items()} == {
        "issues": "write",
        "contents": "write",
        "pull-requests": "write",
    }
    labels = {label.name for label in policy().labels}
    assert {"post-incident", "emergency-backfill"} <= labels


def test_organisation_mode_keeps_the_workflow_in_the_repository() -> None:
    gate_policy = policy(**VARIANTS["organization"])
    repo = gate_policy.repositories[0]
    assert emergency.WORKFLOW_FILE in repository_workflow_documents(gate_policy, repo)
    assert emergency.WORKFLOW_FILE not in required_workflow_documents(gate_policy, repo)
