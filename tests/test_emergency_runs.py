"""emergency-deploy.yml RUNS against the sample repository (issue 12, part emergency).

The harness runs the rendered workflow as GitHub would (tests/test_workflow_runs.py explains it);
the fake gate emulates `gate deploy --emergency` (the real logic is tested in test_emergency.py),
github-script calls are recorded, so the signal and the backfill the pipeline files are asserted
call by call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.emergency import WORKFLOW_FILE
from tests.support.actions_runner import Event, WorkflowRun
from tests.support.release_fixture import set_github_responses
from tests.support.sample_world import app_server
from tests.test_workflow_runs import (
    OLD_IMAGE,
    REPOSITORY,
    Gated,
    deployed,
    github_calls,
    make_gated,
    results,
)


@pytest.fixture
def gated(tmp_path: Path) -> Gated:
    return make_gated(tmp_path)


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with app_server() as url:
        yield url


HOTFIX = "ghcr.io/acme/aos@sha256:" + "e" * 64
SCAN = f"https://github.com/{REPOSITORY}/actions/runs/4242"
PLAN = "https://runbooks.example.com/aos/INC-42"


def dispatch(gated: Gated, **inputs: str) -> Event:
    values = {
        "incident_id": "INC-42",
        "image": HOTFIX,
        "rollback_plan": PLAN,
        "security_scan_run": SCAN,
        **inputs,
    }
    return Event("workflow_dispatch", ref="refs/heads/main", sha=gated.head, inputs=values)


def ready(gated: Gated, urls: dict[str, str]) -> None:
    """Every environment runs OLD_IMAGE with its evidence; the hotfix is pushed and was scanned."""
    deployed(gated, urls)
    gated.world.push(HOTFIX)
    scan = {"name": "security-scan", "head_sha": gated.head, "conclusion": "success", "status": "completed"}
    gated.world.set_github_api(f"repos/{REPOSITORY}/actions/runs/4242", scan)


def gate_argv(gated: Gated, command: str) -> list[list[str]]:
    return [call["argv"] for call in gated.world.calls("gate") if call["argv"][0] == command]


def chain(environment: str, **results_: str) -> dict[str, str]:
    stages = ("deploy", "parity", "validate", "evidence", "rollback")
    expected = {f"{stage} {env}": "skipped" for env in ("staging", "production") for stage in stages}
    expected |= {f"{stage} {environment}": "success" for stage in stages[:-1]}
    return {"validate inputs": "success", **expected, **results_, "post-incident follow-up": "success"}


def test_a_dispatch_deploys_straight_to_production_and_files_the_signal_and_the_backfill(
    gated: Gated,
    app_url: str,
) -> None:
    ready(gated, {"default": app_url})
    run = gated.run(WORKFLOW_FILE, dispatch(gated))
    assert results(run) == chain("production")
    # Straight to production through its environment; no other environment was touched.
    assert run.job("deploy-production").environment == "production"
    (deploy,) = gate_argv(gated, "deploy")
    assert deploy[deploy.index("--stack") + 1] == "prod"
    assert deploy[deploy.index("--emergency") + 1] == "INC-42" and "--security-scan" in deploy
    assert deploy[deploy.index("--commit") + 1] == gated.head
    assert gated.world.deployed_image("production") == HOTFIX
    assert gated.world.deployed_image("staging") == OLD_IMAGE
    assert gated.world.evidence("prod")["image"] == HOTFIX  # type: ignore[index]
    signal, backfill = github_calls(gated, "issues.create")
    assert signal["args"]["labels"] == ["post-incident"]
    assert signal["args"]["title"] == "Post-incident signal: INC-42 (emergency deploy to production)"
    assert PLAN in signal["args"]["body"] and SCAN in signal["args"]["body"]
    assert backfill["args"]["labels"] == ["emergency-backfill", "emergency"]
    body = backfill["args"]["body"]
    assert "has not been validated by staging" in body  # the skipped validation, from the follow-up
    assert "deploy sha256:" + "e" * 64 + " to staging" in body
    assert "<!-- delivery-gate:emergency-backfill environment=production incident=INC-42 -->" in body
    assert "(due 20" in backfill["args"]["title"] and "GATE-DP-17" in body


def test_the_signal_as_a_pull_request_adds_the_file_on_its_own_branch(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(tmp_path, emergency={"signal": "pull-request"})
    ready(gated, {"default": app_url})
    set_github_responses(gated.world.root, **{"git.getRef": {"object": {"sha": "b" * 40}}})
    run = gated.run(WORKFLOW_FILE, dispatch(gated))
    assert results(run) == chain("production")
    (ref,) = github_calls(gated, "git.createRef")
    assert ref["args"]["ref"] == "refs/heads/post-incident/INC-42" and ref["args"]["sha"] == "b" * 40
    (file,) = github_calls(gated, "repos.createOrUpdateFileContents")
    assert (
        file["args"]["path"] == "work/signals/INC-42.md" and file["args"]["branch"] == "post-incident/INC-42"
    )
    assert base64.b64decode(file["args"]["content"]).decode().startswith("# Post-incident signal: INC-42")
    (pull,) = github_calls(gated, "pulls.create")
    assert pull["args"]["head"] == "post-incident/INC-42" and pull["args"]["base"] == "main"
    # The backfill is an issue in both modes; no signal issue in this one.
    (backfill,) = github_calls(gated, "issues.create")
    assert backfill["args"]["labels"] == ["emergency-backfill", "emergency"]


def test_parity_failing_after_an_emergency_deploy_rolls_back_and_files_no_backfill(
    gated: Gated,
    app_url: str,
) -> None:
    with app_server(mode="mismatch") as wrong:
        ready(gated, {"default": app_url, "production": wrong})
        run = gated.run(WORKFLOW_FILE, dispatch(gated))
    assert results(run) == chain(
        "production",
        **{"parity production": "failure", "validate production": "skipped"},
        **{"evidence production": "skipped", "rollback production": "success"},
    )
    assert gated.world.deployed_image("production") == OLD_IMAGE  # back to the last validated image
    titles = [call["args"]["title"] for call in github_calls(gated, "issues.create")]
    # deploy.yml's rollback issue, and the post-incident signal; the hotfix no longer runs: no backfill.
    assert len(titles) == 2 and titles[1] == "Post-incident signal: INC-42 (emergency deploy to production)"
    assert "failed (parity failure" in titles[0]


def test_an_injection_attempt_in_the_inputs_is_refused_in_the_first_step(
    gated: Gated,
    tmp_path: Path,
    app_url: str,
) -> None:
    ready(gated, {"default": app_url})
    pwned = tmp_path / "pwned"
    attack = {
        "incident_id": f'INC-1"; touch {pwned}; echo "',
        "rollback_plan": f"https://x/$(touch {pwned})\n::set-output name=image::evil",
    }
    run = gated.run(WORKFLOW_FILE, dispatch(gated, **attack))
    step = run.job("inputs").steps[0]
    assert step.outcome == "failure" and "::error::refused: incident_id: got" in step.log
    assert "::error::refused: rollback_plan: got" in step.log
    assert not pwned.exists()
    assert {name: result for name, result in results(run).items() if result != "skipped"} == {
        "validate inputs": "failure"
    }
    assert gate_argv(gated, "deploy") == [] and github_calls(gated, "issues.create") == []


def test_an_unscanned_commit_is_refused_by_the_gate(gated: Gated, app_url: str) -> None:
    ready(gated, {"default": app_url})
    other: dict[str, Any] = {"name": "security-scan", "head_sha": "f" * 40, "conclusion": "success"}
    gated.world.set_github_api(f"repos/{REPOSITORY}/actions/runs/4242", other)
    run: WorkflowRun = gated.run(WORKFLOW_FILE, dispatch(gated))
    step = run.job("deploy-production").step("deploy")
    assert step.outcome == "failure" and "not a successful security-scan of" in step.log
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert json.dumps(github_calls(gated, "issues.create")).count("Post-incident signal") == 0
