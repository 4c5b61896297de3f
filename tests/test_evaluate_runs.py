"""deploy.yml's `evaluate` job RUNS (issue 12, part evaluate; GATE-DP-18; gate/promotion/evaluate.py).

Before the production deploy, `python -m gate evaluate` judges the release against the delivery
policy's Evaluation Criteria: a FAIL stops production (dev and staging stay deployed, production
keeps what it ran, nothing is rolled back); a PASS lets it through. Either way the table is in the
run's step summary and, for a release, on its GitHub release. The fake gate answers `evaluate`
from the world (tests/support/fake_gate/gate/__main__.py); the real command's logic is tested in
tests/test_evaluate.py.
"""

from __future__ import annotations

from tests.support.release_fixture import set_github_responses
from tests.support.sample_world import STACKS
from tests.test_workflow_runs import (
    DEPLOYED_EVERYWHERE,
    OLD_IMAGE,
    RELEASE,
    STAGES,
    Gated,
    deployed,
    gate_calls,
    github_calls,
    log,
    push,
    results,
)

PRODUCTION_JOBS = [f"{job} production" for job in (*STAGES, "rollback")]
FAIL_TABLE = """\
### Evaluation criteria (GATE-DP-18): FAIL

| Criterion | Result | Evidence | Source |
|-----------|--------|----------|--------|
| Rollback plan | **FAIL** | tested: stack staging records no rollback drill | state of stack staging |
"""


def evaluate_calls(gated: Gated) -> list[list[str]]:
    return [call["argv"] for call in gated.world.calls("gate") if call["argv"][0] == "evaluate"]


def test_a_failed_criterion_blocks_production_and_says_why(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    (gated.world.root / "evaluate").mkdir(parents=True, exist_ok=True)
    (gated.world.root / "evaluate" / "prod.md").write_text(FAIL_TABLE, encoding="utf-8")
    run = gated.run("deploy.yml", push(gated))
    expected = {job: result for job, result in DEPLOYED_EVERYWHERE.items() if not job.endswith("production")}
    assert results(run) == expected | dict.fromkeys(PRODUCTION_JOBS, "skipped") | {
        "evaluate": "failure",
        "evaluation notes": "success",
        "change log": "skipped",
    }, log(run, "evaluate")
    # Staging deployed; production still runs what it ran, and nothing rolled it back.
    image = run.job("build").outputs["image"]
    assert gated.world.deployed_image("staging") == image
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert [call for call in gate_calls(gated) if call[1] == STACKS["production"]] == []
    job = run.job("evaluate")
    assert FAIL_TABLE in job.summary
    assert "::error::[GATE-DP-18] a criterion is not PASS (exit 1): production is not deployed" in log(
        run, "evaluate"
    )
    # The release still records why it was not deployed (no release yet here: a warning).
    assert [call["args"]["tag"] for call in github_calls(gated, "repos.getReleaseByTag")] == [f"v{RELEASE}"]
    assert f"::warning::no GitHub release v{RELEASE} to append the evaluation to" in log(
        run, "evaluation-notes"
    )


def test_every_criterion_passing_lets_production_through_with_the_table_on_the_release(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    mark = "<!-- delivery-gate:evaluation -->"
    previous = f"## Features\n- CSV export\n\n{mark}\nan older table\n{mark}\n"
    set_github_responses(gated.world.root, **{"repos.getReleaseByTag": {"id": 77, "body": previous}})
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE, log(run, "evaluate")
    image = run.job("build").outputs["image"]
    assert gated.world.deployed_image("production") == image
    # Judged before the production deploy: the built image, the release, markdown; from the gate's
    # checkout, reading the gated repository's.
    (argv,) = evaluate_calls(gated)
    assert argv[:5] == ["evaluate", "--stack", STACKS["production"], "--image", image]
    assert argv[argv.index("--format") + 1] == "markdown"
    assert argv[argv.index("--release") + 1] == RELEASE
    assert not argv[argv.index("--repo-dir") + 1].endswith(".delivery-gate")
    jobs = list(run.jobs)
    assert jobs.index("evidence-staging") < jobs.index("evaluate") < jobs.index("deploy-production")
    job = run.job("evaluate")
    assert (
        job.environment == "production-rollback"
    )  # reviewer-free: production's reviewers approve the deploy
    assert "| Criterion | Result | Evidence | Source |" in job.summary
    assert job.summary.splitlines()[0] == "### Evaluation criteria (GATE-DP-18): PASS"
    (update,) = github_calls(gated, "repos.updateRelease")
    body = update["args"]["body"]
    assert update["args"]["release_id"] == 77
    assert body.startswith("## Features\n- CSV export\n\n" + mark)
    assert "an older table" not in body and body.count(mark) == 2
    assert "| Rollback plan | **PASS** |" in body


def test_an_evaluation_that_cannot_run_blocks_production(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    (gated.world.root / "faults").mkdir(parents=True, exist_ok=True)
    (gated.world.root / "faults" / "gate-evaluate").touch()
    run = gated.run("deploy.yml", push(gated))
    assert results(run)["evaluate"] == "failure"
    assert all(results(run)[job] == "skipped" for job in PRODUCTION_JOBS)
    assert gated.world.deployed_image("production") == OLD_IMAGE


def test_a_push_that_is_no_release_skips_the_evaluation_with_production(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    run = gated.run("deploy.yml", push(gated, release=None))
    assert results(run)["evaluate"] == "skipped"
    assert evaluate_calls(gated) == []
