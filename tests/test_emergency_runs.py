"""emergency-deploy.yml RUNS against the sample gated repository (gate/promotion/emergency.py; issue 12).

Modelled on the deploy scenarios of tests/test_workflow_runs.py: the harness runs the rendered
workflow with the fake gate (tests/support/fake_gate: `deploy --emergency` verifies the security
scan against <world>/emergency/security-scans.json) and records every github-script call in
<world>/github/calls.jsonl.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.actions_runner import Event, WorkflowRun
from tests.support.sample_world import STACKS, app_server
from tests.test_workflow_runs import (
    ENVIRONMENTS,
    OLD_IMAGE,
    REPOSITORY,
    Gated,
    deployed,
    gate_calls,
    github_calls,
    make_gated,
    option,
    results,
)

WORKFLOW = "emergency-deploy.yml"
FIX = "ghcr.io/acme/aos@sha256:" + "e" * 64
SCAN = f"https://github.com/{REPOSITORY}/actions/runs/4242"
PLAN = "https://wiki.acme.example/runbooks/aos-rollback"
STAGES = ("deploy", "parity", "validate", "evidence", "rollback")


def prepared(gated: Gated, urls: dict[str, str], *, scanned: bool = True) -> None:
    """Every environment runs OLD_IMAGE with evidence; the fix is pushed and, unless `scanned` is
    false, passed the security scan of the dispatched commit."""
    deployed(gated, urls)
    gated.world.push(FIX)
    if scanned:
        scans = {SCAN: {"head_sha": gated.head, "conclusion": "success"}}
        path = gated.world.root / "emergency" / "security-scans.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(scans))


def dispatch(gated: Gated, **inputs: str) -> WorkflowRun:
    values = {
        "incident_id": "INC-42",
        "image": FIX,
        "rollback_plan": PLAN,
        "security_scan_run": SCAN,
        "environment": "production",
        **inputs,
    }
    event = Event("workflow_dispatch", ref="refs/heads/main", sha=gated.head, inputs=values)
    return gated.run(WORKFLOW, event)


def expected(target: str, **overrides: str) -> dict[str, str]:
    """Every job's result: the inputs, the target's chain (its rollback skipped), nothing elsewhere."""
    outcome = {"inputs": "success", "follow-up": "success"}
    for environment in ENVIRONMENTS[1:]:
        for stage in STAGES:
            ran = environment == target and stage != "rollback"
            outcome[f"{stage} {environment}"] = "success" if ran else "skipped"
    return outcome | overrides


def test_a_dispatch_deploys_straight_to_production_and_files_the_signal_and_the_backfill(
    tmp_path: Path, app_url: str
) -> None:
    gated = make_gated(tmp_path)
    prepared(gated, {"default": app_url})
    run = dispatch(gated)
    assert results(run) == expected("production")
    # Straight to production through its stack, with the claim; staging never moved.
    assert gate_calls(gated) == [("deploy", "prod"), ("watch", "prod"), ("record-evidence", "prod")]
    (call,) = [c for c in gated.world.calls("gate") if c["argv"][0] == "deploy"]
    assert option(call, "--emergency") == "INC-42" and option(call, "--security-scan") == SCAN
    assert option(call, "--rollback-plan") == PLAN and option(call, "--commit") == gated.head
    assert gated.world.deployed_image("production") == FIX
    assert gated.world.deployed_image("staging") == OLD_IMAGE
    assert gated.world.evidence(STACKS["production"])["image"] == FIX  # type: ignore[index]
    assert run.job("deploy-production").environment == "production"  # its reviewers approve
    # No deployment window: the emergency is exempt (GATE-DP-19).
    assert not [c for c in gated.world.calls("gate") if c["argv"][0] == "window"]
    signal, backfill = github_calls(gated, "issues.create")
    assert signal["args"]["labels"] == ["post-incident"]
    assert signal["args"]["title"] == "Post-incident signal: INC-42"
    assert SCAN in signal["args"]["body"] and PLAN in signal["args"]["body"]
    assert backfill["args"]["labels"] == ["emergency-backfill", "emergency"]
    body = backfill["args"]["body"]
    # The marker GATE-DP-17 reads back (gate/promotion/emergency.py), the due date and the skipped validation.
    assert body.startswith(
        "<!-- delivery-gate:emergency-backfill environment=production incident=INC-42 -->\nDue: "
    )
    assert "(emergency.backfillWithin 7d)" in body
    assert f"- [ ] Deploy `{FIX}` to staging and record its e2e parity evidence there" in body
    assert "parity success, validation success, evidence success" in body
    assert backfill["args"]["title"].startswith(
        "Backfill the validation skipped by emergency INC-42 (production), due "
    )
    assert github_calls(gated, "pulls.create") == []


def test_in_pull_request_mode_the_signal_is_a_file_in_work_signals_on_its_own_branch(
    tmp_path: Path, app_url: str
) -> None:
    gated = make_gated(tmp_path, emergency={"signal": "pull-request"})
    prepared(gated, {"default": app_url})
    run = dispatch(gated, environment="staging")
    assert results(run) == expected("staging")
    assert gated.world.deployed_image("staging") == FIX
    assert gated.world.deployed_image("production") == OLD_IMAGE
    (ref,) = github_calls(gated, "git.createRef")
    assert ref["args"] | {"owner": "", "repo": ""} == {
        "owner": "",
        "repo": "",
        "ref": "refs/heads/post-incident/INC-42",
        "sha": gated.head,
    }
    (file,) = github_calls(gated, "repos.createOrUpdateFileContents")
    assert file["args"]["path"] == "work/signals/INC-42.md"
    assert file["args"]["branch"] == "post-incident/INC-42"
    text = base64.b64decode(file["args"]["content"]).decode()
    assert text.startswith("# Post-incident signal: INC-42\n") and SCAN in text
    (pull,) = github_calls(gated, "pulls.create")
    assert (pull["args"]["head"], pull["args"]["base"]) == ("post-incident/INC-42", "main")
    (backfill,) = github_calls(gated, "issues.create")  # no signal issue in this mode
    assert backfill["args"]["labels"] == ["emergency-backfill", "emergency"]
    assert "environment=staging incident=INC-42" in backfill["args"]["body"]
    assert f"Deploy `{FIX}` to dev" in backfill["args"]["body"]


def test_a_parity_failure_after_an_emergency_deploy_rolls_back_and_is_still_followed_up(
    tmp_path: Path, app_url: str
) -> None:
    gated = make_gated(tmp_path)
    with app_server(mode="mismatch") as wrong:
        prepared(gated, {"default": app_url, "production": wrong})
        run = dispatch(gated)
    assert results(run) == expected(
        "production",
        **{
            "parity production": "failure",
            "validate production": "skipped",
            "evidence production": "skipped",
            "rollback production": "success",
        },
    )
    assert run.job("rollback-production").environment == "production-rollback"
    assert gate_calls(gated)[-1] == ("rollback", "prod")
    assert gated.world.deployed_image("production") == OLD_IMAGE
    titles = [call["args"]["title"] for call in github_calls(gated, "issues.create")]
    assert any("failed (parity failure" in title for title in titles)  # the rollback's issue
    (backfill,) = [
        c for c in github_calls(gated, "issues.create") if "emergency-backfill" in c["args"]["labels"]
    ]
    assert "parity failure, validation skipped, evidence skipped" in backfill["args"]["body"]


@pytest.mark.parametrize(
    ("inputs", "said"),
    [
        (
            {"incident_id": 'INC-1"; touch "$HOME/pwned'},
            "::error::incident_id: got 'INC-1\"; touch \"$HOME/pwned'",
        ),
        (
            {"image": "ghcr.io/acme/aos:$(touch pwned)"},
            "::error::image: got 'ghcr.io/acme/aos:$(touch pwned)'",
        ),
        ({"rollback_plan": "https://x/`id`"}, "::error::rollback_plan: got 'https://x/`id`'"),
        ({"security_scan_run": "https://github.com/evil/aos/actions/runs/1"}, "::error::security_scan_run"),
    ],
)
def test_an_injection_attempt_or_a_bad_input_is_refused_in_the_first_step(
    tmp_path: Path, inputs: dict[str, str], said: str
) -> None:
    gated = make_gated(tmp_path)
    prepared(gated, {"default": "http://127.0.0.1:9"})
    run = dispatch(gated, **inputs)
    job = run.job("inputs")
    assert job.result == "failure" and job.steps[0].outcome == "failure"
    assert said in job.steps[0].log
    assert {name: result for name, result in results(run).items() if name != "inputs"} == {
        name: "skipped" for name in expected("production") if name != "inputs"
    }
    assert gate_calls(gated) == [] and github_calls(gated, "issues.create") == []
    assert not list(tmp_path.rglob("pwned"))


def test_an_unverified_security_scan_deploys_nothing_and_files_nothing(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(tmp_path)
    prepared(gated, {"default": app_url}, scanned=False)
    run = dispatch(gated)
    deploy = run.job("deploy-production")
    assert deploy.result == "failure"
    assert "[GATE-DP-10] security checks are never skippable" in "".join(s.log for s in deploy.steps)
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert run.job("follow-up").result == "skipped"
    assert [
        c for c in github_calls(gated, "issues.create") if "emergency-backfill" in c["args"]["labels"]
    ] == []


def test_an_ordinary_deploy_is_refused_while_a_backfill_is_overdue(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(tmp_path)
    deployed(gated, {"default": app_url})
    overdue = gated.world.root / "emergency" / "overdue-backfill"
    overdue.parent.mkdir(parents=True, exist_ok=True)
    overdue.write_text("#12 (production, incident INC-42, 8d old)")
    from tests.test_workflow_runs import push  # noqa: PLC0415

    run = gated.run("deploy.yml", push(gated))
    deploy = run.job("deploy-dev")
    assert deploy.result == "failure"
    assert "[GATE-DP-17] overdue emergency backfill: #12" in "".join(s.log for s in deploy.steps)
    call: dict[str, Any] = next(c for c in gated.world.calls("gate") if c["argv"][0] == "deploy")
    assert "--emergency" not in call["argv"]


def test_an_environment_outside_the_choice_is_refused_at_dispatch(tmp_path: Path) -> None:
    # GitHub refuses the dispatch of a choice input outside its options (the harness too); the
    # first step checks it again for an API dispatch of an older copy of the workflow.
    gated = make_gated(tmp_path)
    with pytest.raises(ValueError, match="Input environment: 'dev' is not one of"):
        dispatch(gated, environment="dev")
    assert gate_calls(gated) == []
