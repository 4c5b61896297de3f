"""rollback-drill.yml RUNS (issue 12, part drill; gate/promotion/drill.py, GATE-DP-16).

The rendered workflow run by the harness against the sample repository, as in
tests/test_workflow_runs.py: staging is rolled back to its previous validated image, the real
e2e-parity-check.yml runs against it, and what ran before is put back with its evidence, whatever
the parity check said. The fake gate's drill (tests/support/fake_gate) records what staging ran
when the restore began, i.e. during the parity check.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.actions_runner import Event
from tests.support.sample_world import app_server
from tests.test_workflow_runs import (
    OLD_IMAGE,
    REPOSITORY,
    Gated,
    deployed,
    github_calls,
    log,
    option,
    results,
    slack_channels,
)

NEW_IMAGE = "ghcr.io/acme/aos@sha256:" + "0" * 62 + "33"
WORKFLOW = "rollback-drill.yml"
JOBS = ("drill rollback staging", "parity staging", "drill restore staging")


def staging_runs_new(
    gated: Gated, urls: dict[str, str], validated: tuple[str, ...] = (NEW_IMAGE, OLD_IMAGE)
) -> None:
    """Every environment as after a deploy of OLD_IMAGE; then staging deployed and validated NEW_IMAGE."""
    deployed(gated, urls)
    gated.world.set_deployed("staging", NEW_IMAGE)
    gated.world.set_evidence("staging", NEW_IMAGE, run_id="901")
    path = gated.world.root / "validated" / "staging.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(validated)))


def scheduled(gated: Gated, ref: str = "refs/heads/main") -> Event:
    return Event("schedule", ref=ref, sha=gated.head, payload={"schedule": "23 7 * * 2"})


def drill_calls(gated: Gated) -> list[dict[str, Any]]:
    return [call for call in gated.world.calls("gate") if call["argv"][0] == "drill"]


def drill_record(gated: Gated) -> dict[str, Any] | None:
    path = gated.world.root / "drill" / "staging.json"
    return json.loads(path.read_text()) if path.is_file() else None


def test_a_drill_runs_parity_on_the_previous_image_and_puts_back_the_current_one(
    gated: Gated, app_url: str
) -> None:
    staging_runs_new(gated, {"default": app_url})
    evidence_before = gated.world.evidence("staging")
    run = gated.run(WORKFLOW, scheduled(gated))
    assert results(run) == dict.fromkeys(JOBS, "success"), log(run, "restore")
    # The same group as deploy.yml on main: a drill and a deploy never overlap.
    assert run.concurrency_group == "deploy-refs/heads/main"
    rollback, restore = drill_calls(gated)
    assert rollback["argv"][:2] == ["drill", "rollback"] and option(rollback, "--stack") == "staging"
    assert option(rollback, "--run-id") == run.run_id and option(rollback, "--repository") == REPOSITORY
    assert restore["argv"][:2] == ["drill", "restore"] and option(restore, "--parity") == "success"
    assert run.job("rollback").environment == run.job("restore").environment == "staging-rollback"
    record = drill_record(gated)
    assert record is not None
    # Staging ran the previous validated image during the parity check ...
    assert record["ranDuringParity"] == OLD_IMAGE == record["rolledBackTo"]
    # ... and runs the current one again, its evidence untouched: production can still promote it.
    assert gated.world.deployed_image("staging") == NEW_IMAGE == record["image"]
    assert gated.world.evidence("staging") == evidence_before
    assert record["result"] == "passed" and record["parityRootHash"] == option(restore, "--parity-root-hash")
    assert record["runId"] == run.run_id
    assert github_calls(gated, "issues.create") == [] and slack_channels(gated) == []


def test_a_drill_whose_parity_fails_is_recorded_failed_and_still_restores(gated: Gated, app_url: str) -> None:
    with app_server(mode="mismatch") as wrong:
        staging_runs_new(gated, {"default": app_url, "staging": wrong})
        evidence_before = gated.world.evidence("staging")
        run = gated.run(WORKFLOW, scheduled(gated))
    assert results(run) == {
        "drill rollback staging": "success",
        "parity staging": "failure",
        # Restored, then the run fails: a failed drill holds production's promotions (GATE-DP-16).
        "drill restore staging": "failure",
    }
    job = run.job("restore")
    assert job.step("restore").outcome == "success"
    assert job.step("restore").outputs == {"result": "failed"}
    assert "::error::the rollback drill of staging failed (parity: failure)" in log(run, "restore")
    record = drill_record(gated)
    assert record is not None and record["result"] == "failed" and "parityRootHash" not in record
    assert gated.world.deployed_image("staging") == NEW_IMAGE
    assert gated.world.evidence("staging") == evidence_before
    # The restore worked: nobody is paged for a drill that did its job of finding a problem.
    assert github_calls(gated, "issues.create") == []


def test_nothing_to_roll_back_to_fails_clearly_and_changes_nothing(gated: Gated, app_url: str) -> None:
    staging_runs_new(gated, {"default": app_url}, validated=(NEW_IMAGE,))
    evidence_before = gated.world.evidence("staging")
    run = gated.run(WORKFLOW, scheduled(gated))
    assert results(run) == {
        "drill rollback staging": "failure",
        "parity staging": "skipped",
        "drill restore staging": "skipped",
    }
    assert "nothing to roll back to, so no drill" in run.job("rollback").step("rollback").log
    assert [call["argv"][1] for call in drill_calls(gated)] == ["rollback"]
    assert gated.world.deployed_image("staging") == NEW_IMAGE
    assert gated.world.evidence("staging") == evidence_before
    assert drill_record(gated) is None


def test_a_failed_restore_fails_loudly_opens_an_issue_and_pages(gated: Gated, app_url: str) -> None:
    staging_runs_new(gated, {"default": app_url})
    gated.world.fault("gate-drill-restore")
    run = gated.run(WORKFLOW, scheduled(gated))
    assert results(run)["drill restore staging"] == "failure"
    step = run.job("restore").step("restore")
    assert step.outcome == "failure" and "::error::the restore after the drill failed" in step.log
    assert gated.world.deployed_image("staging") == OLD_IMAGE  # what the issue warns about
    (issue,) = github_calls(gated, "issues.create")
    assert issue["args"]["title"] == "Rollback drill: the restore of staging FAILED"
    assert f"could not put back `{NEW_IMAGE}`" in issue["args"]["body"]
    assert sorted(slack_channels(gated)) == ["#oncall", "#platform"]


def test_the_drill_runs_from_the_default_branch_only(gated: Gated, app_url: str) -> None:
    staging_runs_new(gated, {"default": app_url})
    event = Event("workflow_dispatch", ref="refs/heads/feature", sha=gated.head)
    assert results(gated.run(WORKFLOW, event)) == dict.fromkeys(JOBS, "skipped")
    assert drill_calls(gated) == []
    assert gated.world.deployed_image("staging") == NEW_IMAGE
