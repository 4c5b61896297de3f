"""deploy.yml's production side RUNS (issue 12, part deploy; gate/github/release_deploy.py).

A release reaches production only with its contract (GATE-DP-14), inside the deployment window
(GATE-DP-19), announced to the stakeholders before the production deploy starts, and each
successful production deploy is recorded in the change log (GATE-DP-20). Scenarios as in
tests/test_workflow_runs.py: the rendered workflow run by the harness against the sample
repository, every job's result asserted, and what reached GitHub and Slack.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from gate.github.release_deploy import DEPLOYMENT_TASK
from gate.promotion.changelog import parse_file
from tests.support.actions_runner import Event
from tests.support.release_fixture import (
    APPROVER,
    contract_path,
    contract_text,
    set_github_responses,
    template_path,
)
from tests.support.sample_world import STACKS
from tests.test_workflow_runs import (
    DEPLOYED_EVERYWHERE,
    ENVIRONMENTS,
    OLD_IMAGE,
    REPOSITORY,
    STAGES,
    Gated,
    deployed,
    gate_calls,
    github_calls,
    log,
    make_gated,
    results,
    slack_channels,
    slack_texts,
)

VERSION = "1.4.0"
RUN_URL_PREFIX = f"https://github.com/{REPOSITORY}/actions/runs/"
PRODUCTION_JOBS = [f"{job} production" for job in (*STAGES, "rollback")]


def release_branch_push(gated: Gated, version: str = VERSION) -> Event:
    ref = f"refs/heads/release/{version}"
    return Event("push", ref=ref, sha=gated.head, payload={"ref": ref})


def main_push(gated: Gated) -> Event:
    return Event("push", ref="refs/heads/main", sha=gated.head, payload={"ref": "refs/heads/main"})


def stopped_before_production(release: str) -> dict[str, str]:
    """dev and staging deployed and evidenced; the release job `release`; nothing of production."""
    expected = {
        job: result
        for job, result in DEPLOYED_EVERYWHERE.items()
        if not job.endswith("production") and job != "change log"
    }
    return (
        expected
        | dict.fromkeys(PRODUCTION_JOBS, "skipped")
        | {"release": release, "change log": "skipped"}
        | {"evaluate": "skipped", "evaluation notes": "skipped"}  # issue 12, part evaluate
    )


def written_log(gated: Gated) -> str:
    (write,) = github_calls(gated, "repos.createOrUpdateFileContents")
    return base64.b64decode(write["args"]["content"]).decode("utf-8")


def test_a_release_branch_push_with_its_contract_is_announced_deployed_and_recorded(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    previous = gated.base
    # What production ran before: its last deploy the change log recorded (GitHub Deployments
    # API), not a newer deploy job's own deployment (rolled back: never recorded).
    rolled_back = "c" * 40
    set_github_responses(
        gated.world.root,
        **{
            "repos.listDeployments": [
                {"id": 50, "sha": rolled_back, "task": "deploy"},
                {"id": 41, "sha": previous, "task": DEPLOYMENT_TASK},
            ],
            "repos.listDeploymentStatuses": [{"state": "success"}],
        },
    )
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE, log(run, "release") + log(run, "changelog")
    release = run.job("release")
    assert release.outputs["version"] == VERSION  # from release/1.4.0
    assert release.outputs["commit_range"] == f"{previous}..{gated.head}"
    assert release.step("Check the release contract (GATE-DP-14)").outcome == "success"
    assert release.step("window").outcome == "success"
    # Announced to the stakeholders, before the production deploy started (the harness runs jobs
    # in dependency order: the production deploy needs `release`).
    jobs = list(run.jobs)
    assert jobs.index("release") < jobs.index("deploy-production")
    assert slack_channels(gated) == ["#releases"]
    (text,) = slack_texts(gated)
    assert f"release {VERSION}" in text and f"{previous}..{gated.head}" in text
    assert "inside the deployment window (Mon, Tue, Wed, Thu 09:00-16:00 UTC)" in text
    # Production was deployed after the announcement, once, with the build's image.
    image = run.job("build").outputs["image"]
    assert ("deploy", STACKS["production"]) in gate_calls(gated)
    assert gated.world.deployed_image("production") == image
    window_calls = [c for c in gated.world.calls("gate") if c["argv"][0] == "window"]
    assert [c["argv"] for c in window_calls] == [["window", "--stack", "prod"]]
    # The change log: who approved read from the run's approvals, the file on its own branch...
    (reviews,) = github_calls(gated, "actions.getReviewsForRun")
    assert reviews["args"]["run_id"] == int(run.run_id)
    (write,) = github_calls(gated, "repos.createOrUpdateFileContents")
    assert write["args"]["branch"] == "delivery-log" and write["args"]["path"] == "DEPLOYMENTS.md"
    assert "sha" not in write["args"]  # a new file
    (record,) = parse_file(written_log(gated))
    assert record.environment == "production" and record.version == VERSION
    assert record.image == image
    assert record.commit_range == f"{previous}..{gated.head}"
    assert record.release_notes == f"https://github.com/{REPOSITORY}/releases/tag/v{VERSION}"
    assert record.evidence.parity_root_hash == run.job("parity-production").outputs["parity_root_hash"]
    assert record.evidence.analysis == "Successful"
    assert record.evidence.run == f"{RUN_URL_PREFIX}{run.run_id}"
    assert [(a.user, a.comment) for a in record.approved_by] == [(APPROVER, "ship it")]
    assert record.deployment_window == "Mon, Tue, Wed, Thu 09:00-16:00 UTC"
    # ... and a GitHub deployment of task `changelog` carrying the same record.
    (deployment,) = github_calls(gated, "repos.createDeployment")
    assert deployment["args"]["task"] == DEPLOYMENT_TASK
    assert deployment["args"]["environment"] == "production" and deployment["args"]["ref"] == gated.head
    assert deployment["args"]["payload"] == record.document()
    (status,) = github_calls(gated, "repos.createDeploymentStatus")
    assert status["args"]["state"] == "success"


def test_the_change_log_appends_to_the_file_already_on_its_branch(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    # A first release recorded earlier: the file as the Contents API returns it.
    gated.change({contract_path("1.3.0"): contract_text("1.3.0")}, "contract of 1.3.0")
    gated.run("deploy.yml", release_branch_push(gated, "1.3.0"))
    existing = written_log(gated)
    (gated.world.root / "github" / "calls.jsonl").unlink()
    encoded = base64.b64encode(existing.encode()).decode()
    set_github_responses(gated.world.root, **{"repos.getContent": {"content": encoded, "sha": "f00d"}})
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE
    (write,) = github_calls(gated, "repos.createOrUpdateFileContents")
    assert write["args"]["sha"] == "f00d"  # an update of that file, not a second one
    text = written_log(gated)
    assert text.startswith(existing)
    assert [r.version for r in parse_file(text)] == ["1.3.0", VERSION]


def test_a_release_branch_without_a_contract_fails_the_release_and_production_is_not_deployed(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == stopped_before_production("failure")
    check = run.job("release").step("Check the release contract (GATE-DP-14)")
    assert check.outcome == "failure"
    assert (
        f"::error::[GATE-DP-14] release {VERSION} has no valid release contract "
        f"(work/releases/{VERSION}.md, see above): the production deploy refuses it"
    ) in check.log
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert ("deploy", "prod") not in gate_calls(gated)
    assert slack_channels(gated) == []  # nothing announced, nothing to roll back
    assert github_calls(gated, "repos.createOrUpdateFileContents") == []


def test_a_contract_with_an_unchecked_box_is_no_contract(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    incomplete = contract_text(VERSION).replace("- [x]", "- [ ]", 1)
    gated.change({contract_path(VERSION): incomplete}, "an incomplete contract")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == stopped_before_production("failure")
    assert "[GATE-DP-14]" in log(run, "release")
    assert gated.world.deployed_image("production") == OLD_IMAGE


def test_a_default_branch_push_adding_no_contract_deploys_dev_and_staging_only(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    gated.change({"app/notes.md": "Not a release.\n"}, "an ordinary change")
    run = gated.run("deploy.yml", main_push(gated))
    # Skipped cleanly, not failed: the run succeeds.
    assert results(run) == stopped_before_production("success")
    assert run.result == "success"
    version = run.job("release").step("version")
    assert "::notice::not a release: this push to main adds no release contract" in version.log
    assert run.job("deploy-production").reason == "if: evaluated to false"
    image = run.job("build").outputs["image"]
    assert gated.world.deployed_image("staging") == image
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert [c for c in gate_calls(gated) if c[1] == "prod"] == []
    assert slack_channels(gated) == []


def test_a_default_branch_push_adding_its_contract_is_a_release(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    # The template is no release (added here unless the gate committed it already); the contract is.
    changes = {contract_path("2.0.0"): contract_text("2.0.0")}
    if not (gated.repo / template_path()).is_file():
        changes[template_path()] = "# Release contract <version>\n"
    changes["work/releases/_draft-2.1.0.md"] = "# not yet\n"  # underscore: never a release
    gated.change(changes, "release 2.0.0")
    run = gated.run("deploy.yml", main_push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE
    assert run.job("release").outputs["version"] == "2.0.0"
    assert run.job("release").outputs["commit_range"] == gated.head  # production's first deployment


def test_a_push_adding_two_contracts_is_refused(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    gated.change({contract_path(v): contract_text(v) for v in ("2.0.0", "2.1.0")}, "two releases")
    run = gated.run("deploy.yml", main_push(gated))
    assert results(run) == stopped_before_production("failure")
    assert "this push adds 2 release contracts (2.0.0, 2.1.0): one release per push" in log(run, "release")


def test_outside_the_window_production_is_refused_and_nothing_rolls_back(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    (gated.world.root / "window").mkdir()
    (gated.world.root / "window" / "prod").write_text(
        "closed\nFriday is not a deployment day (Mon, Tue, Wed, Thu)\n"
    )
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == stopped_before_production("failure")
    window = run.job("release").step("window")
    assert window.outcome == "failure"
    assert "Friday is not a deployment day" in window.log
    assert "::error::[GATE-DP-19] production is not deployed outside its deployment window" in window.log
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert run.job("rollback-production").result == "skipped"
    assert slack_channels(gated) == []  # refused before anything was announced


def test_a_failed_announcement_keeps_production_from_starting(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    gated.world.fault("slack")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == stopped_before_production("failure")
    assert run.job("release").step("Announce to #releases").outcome == "failure"
    assert gated.world.deployed_image("production") == OLD_IMAGE


def test_stakeholders_and_a_file_only_change_log_come_from_the_policy(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(
        tmp_path,
        deploymentWindow={"stakeholders": ["#releases", "#support"]},
        changeLog={"file": "docs/DEPLOYMENTS.md", "branch": "deploy-log", "githubDeployments": False},
    )
    deployed(gated, {"default": app_url})
    # No change-log deployments: production's last successful deployment of any task.
    set_github_responses(
        gated.world.root,
        **{
            "repos.listDeployments": [{"id": 3, "sha": gated.base, "task": "deploy"}],
            "repos.listDeploymentStatuses": [{"state": "success"}],
        },
    )
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    run = gated.run("deploy.yml", release_branch_push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE
    assert run.job("release").outputs["commit_range"] == f"{gated.base}..{gated.head}"
    assert slack_channels(gated) == ["#releases", "#support"]
    (write,) = github_calls(gated, "repos.createOrUpdateFileContents")
    assert (write["args"]["branch"], write["args"]["path"]) == ("deploy-log", "docs/DEPLOYMENTS.md")
    assert github_calls(gated, "repos.createDeployment") == []


def test_every_environment_deploys_in_order_before_the_change_log(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    gated.change({contract_path(VERSION): contract_text(VERSION)}, f"contract of {VERSION}")
    run = gated.run("deploy.yml", release_branch_push(gated))
    jobs = list(run.jobs)
    assert jobs.index("evidence-production") < jobs.index("changelog")
    assert [e for e in ENVIRONMENTS if gated.world.evidence(STACKS[e]) is not None] == list(ENVIRONMENTS)
    calls: list[dict[str, Any]] = [
        json.loads(line) for line in (gated.world.root / "github" / "calls.jsonl").read_text().splitlines()
    ]
    methods = [c["method"] for c in calls]
    assert methods.index("actions.getReviewsForRun") < methods.index("repos.createOrUpdateFileContents")


def test_a_push_of_several_commits_finds_the_contract_added_by_any_of_them(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    before = gated.head
    gated.change({contract_path("2.0.0"): contract_text("2.0.0")}, "release 2.0.0")
    gated.change({"app/notes.md": "After the contract, in the same push.\n"}, "a second commit")
    payload = {"ref": "refs/heads/main", "before": before}
    run = gated.run("deploy.yml", Event("push", ref="refs/heads/main", sha=gated.head, payload=payload))
    assert results(run) == DEPLOYED_EVERYWHERE
    assert run.job("release").outputs["version"] == "2.0.0"
    # Without the push's previous head, only the last commit counts: it adds no contract.
    gated.change({"app/notes.md": "Another change.\n"}, "not a release")
    run = gated.run("deploy.yml", main_push(gated))
    assert run.job("release").outputs["release"] == "false"
