"""The release checks and the notes RUN against the sample repository (issue 12; GATE-DP-14, -15).

Modelled on tests/test_workflow_runs.py: each scenario renders the gate's files (workflows,
tools/release_check.py, the contract template, .github/release.yml) into the sample repository,
changes it on `feature` and runs the rendered workflow with the execution harness. Each required
check passes, and fails for its own reason; a pushed release tag publishes notes through the
recording `github` of actions/github-script (<world>/github/calls.jsonl).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gate.github import release_contract
from gate.github.liveness import check_liveness
from gate.policy.rules import committed_workflows
from tests.support.actions_runner import Event, WorkflowRun
from tests.test_release_check import GENERATED, MIGRATION_BODY, complete_contract
from tests.test_workflow_runs import PR, REPOSITORY, Gated, log, make_gated, pull_request, results
from tests.test_workflows import policy

CONTRACT = "work/releases/1.4.0.md"


def check(gated: Gated, workflow: str, **event: Any) -> tuple[str, str, WorkflowRun]:
    run = gated.run(workflow, pull_request(gated, **event))
    (name,) = results(run)
    return results(run)[name], log(run, name), run


# -- liveness: both checks are reported on every pull request (GATE-M9-03) --------------------


def test_both_checks_are_required_and_live_on_both_protected_branches() -> None:
    gate_policy = policy()
    repo = gate_policy.repositories[0]
    required = {"release-contract", "release-notes"}
    documents = committed_workflows(gate_policy, repo)
    branches = {branch: tuple(required) for branch in repo.protected_branches}
    assert check_liveness(repo.full_name, branches, documents, external=(), merge_queue=False) == []
    # Label and description changes re-run release-notes; a base-branch change re-runs the contract.
    notes_on = documents["release-notes.yml"]["on"]["pull_request"]["types"]
    assert {"labeled", "unlabeled", "edited", "opened", "synchronize", "reopened"} <= set(notes_on)
    assert "edited" in documents["release-contract.yml"]["on"]["pull_request"]["types"]


# -- release-notes ----------------------------------------------------------------------------


def test_a_categorised_pull_request_passes_release_notes(gated: Gated) -> None:
    result, output, _ = check(gated, "release-notes.yml")  # pull_request() labels it `fix`
    assert result == "success", output
    assert "in the release notes as: fix" in output


def test_a_pull_request_without_a_category_label_fails_release_notes(gated: Gated) -> None:
    result, output, _ = check(gated, "release-notes.yml", labels=("infra-change",))
    assert result == "failure"
    assert (
        "::error::no release-notes category label: add one of feature, improvement, fix, deprecation, "
        "breaking-change"
    ) in output


def test_a_breaking_change_without_a_migration_section_fails_release_notes(gated: Gated) -> None:
    result, output, _ = check(
        gated, "release-notes.yml", labels=("breaking-change",), body="Drops the v1 API."
    )
    assert result == "failure"
    assert "labelled 'breaking-change' but the description has no '## Migration' section" in output
    result, output, _ = check(gated, "release-notes.yml", labels=("breaking-change",), body=MIGRATION_BODY)
    assert result == "success", output


# -- release-contract -------------------------------------------------------------------------


def test_a_pull_request_into_main_is_not_a_release(gated: Gated) -> None:
    gated.change({"app/notes.md": "A harmless change.\n"})
    result, output, _ = check(gated, "release-contract.yml")
    assert result == "success", output
    assert "not a release: main does not match release/*" in output


def test_a_pull_request_into_a_release_branch_without_its_contract_fails(gated: Gated) -> None:
    gated.change({"app/notes.md": "Release fixes.\n"})
    result, output, _ = check(gated, "release-contract.yml", base_ref="release/1.4.0")
    assert result == "failure"
    assert f"::error::no release contract {CONTRACT}: copy" in output


def test_a_release_with_a_complete_contract_passes(gated: Gated) -> None:
    template = (gated.repo / "work" / "releases" / release_contract.TEMPLATE_NAME).read_text()
    gated.change({CONTRACT: complete_contract(template)}, "contract for 1.4.0")
    result, output, _ = check(gated, "release-contract.yml", base_ref="release/1.4.0")
    assert result == "success", output
    assert f"release 1.4.0 (into release/1.4.0): {CONTRACT} is complete" in output


def test_a_contract_with_an_unchecked_box_fails_wherever_it_is_proposed(gated: Gated) -> None:
    template = (gated.repo / "work" / "releases" / release_contract.TEMPLATE_NAME).read_text()
    unticked = complete_contract(template).replace("- [x] Rollback tested", "- [ ] Rollback tested")
    gated.change({CONTRACT: unticked}, "contract for 1.4.0, rollback not yet tested")
    # Into main too: a pull request that adds a contract has it validated (git diff base...head).
    result, output, _ = check(gated, "release-contract.yml")
    assert result == "failure"
    assert "unchecked box in '## Rollback plan': '- [ ] Rollback tested in staging'" in output


# -- publishing the notes on a release tag ----------------------------------------------------


def tag_push(gated: Gated, tag: str) -> Event:
    return Event("push", ref=f"refs/tags/{tag}", sha=gated.head, payload={"ref": f"refs/tags/{tag}"})


def github_calls(gated: Gated) -> list[dict[str, Any]]:
    path = gated.world.root / "github" / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def answer(gated: Gated, responses: dict[str, Any]) -> None:
    path = gated.world.root / "github" / "responses.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(responses))


BREAKING = {
    "number": 12,
    "title": "Drop the v1 API",
    "html_url": f"https://github.com/{REPOSITORY}/pull/12",
    "labels": [{"name": "breaking-change"}],
}


def test_a_release_tag_publishes_notes_with_breaking_changes_first(gated: Gated) -> None:
    answer(
        gated,
        {
            "repos.generateReleaseNotes": {"name": "v1.4.0", "body": GENERATED},
            "pulls.get": {**BREAKING, "body": MIGRATION_BODY},
        },
    )
    run = gated.run("publish-release-notes.yml", tag_push(gated, "v1.4.0"))
    assert results(run) == {"publish-release-notes": "success"}, log(run, "publish-release-notes")
    calls = github_calls(gated)
    owner_repo = {"owner": "acme", "repo": "aos"}
    assert [c["method"] for c in calls] == [
        "repos.generateReleaseNotes",
        "pulls.get",
        "repos.getReleaseByTag",
        "repos.createRelease",
    ]
    assert calls[0]["args"] == {**owner_repo, "tag_name": "v1.4.0"}
    assert calls[1]["args"] == {**owner_repo, "pull_number": 12}  # only the breaking change
    created = calls[3]["args"]
    assert (created["tag_name"], created["name"]) == ("v1.4.0", "v1.4.0")
    body: str = created["body"]
    assert body.startswith("## ⚠️ Breaking changes in v1.4.0\n")
    assert body.index("Call /v2/orders instead of /v1/orders.") < body.index("### New features")
    assert body.count("/pull/12") == 1 and "/pull/13" in body and "/pull/14" in body


def test_a_breaking_change_without_migration_publishes_nothing(gated: Gated) -> None:
    answer(
        gated,
        {
            "repos.generateReleaseNotes": {"name": "v1.4.0", "body": GENERATED},
            "pulls.get": {**BREAKING, "body": "Drops the v1 API."},
        },
    )
    run = gated.run("publish-release-notes.yml", tag_push(gated, "v1.4.0"))
    assert results(run) == {"publish-release-notes": "failure"}
    job = run.job("publish-release-notes")
    assert job.step("Breaking changes first, with their migration").outcome == "failure"
    assert "breaking change #12 (Drop the v1 API) has no 'Migration' section" in log(
        run, "publish-release-notes"
    )
    assert [c["method"] for c in github_calls(gated)] == ["repos.generateReleaseNotes", "pulls.get"]


def test_only_the_release_and_change_log_writers_can_write_contents() -> None:
    documents = committed_workflows(policy(), policy().repositories[0])
    writers = {
        (file, job_id)
        for file, document in documents.items()
        for job_id, body in document["jobs"].items()
        if (body.get("permissions") or {}).get("contents") == "write"
    }
    # The notes' publisher creates the release, the evaluation (GATE-DP-18) adds its table to it, the
    # change log (GATE-DP-20) writes its own branch: none of them holds a secret.
    assert writers == {
        ("publish-release-notes.yml", "publish-release-notes"),
        ("deploy.yml", "evaluation-notes"),
        ("deploy.yml", "changelog"),
    }
    assert documents["publish-release-notes.yml"]["on"] == {"push": {"tags": ["v*"]}}


# -- the merge queue ----------------------------------------------------------------------------


def queued(gated: Gated, base_ref: str = "main") -> Event:
    head_ref = f"refs/heads/gh-readonly-queue/{base_ref}/pr-{PR}-{gated.base}"
    group = {
        "head_ref": head_ref,
        "head_sha": gated.head,
        "base_sha": gated.base,
        "base_ref": f"refs/heads/{base_ref}",
    }
    return Event("merge_group", ref=head_ref, sha=gated.head, payload={"merge_group": group})


def test_in_the_merge_queue_the_checks_read_the_queued_pull_request(tmp_path: Path) -> None:
    gated = make_gated(tmp_path, repositories=[{"name": "aos", "mergeQueue": True}])
    gated.world.set_github_api(f"repos/{REPOSITORY}/pulls/{PR}", {"number": PR, "labels": [], "body": ""})
    run = gated.run("release-notes.yml", queued(gated))
    assert results(run) == {"release-notes": "failure"}
    assert "no release-notes category label" in log(run, "release-notes")
    gated.world.set_github_api(
        f"repos/{REPOSITORY}/pulls/{PR}", {"number": PR, "labels": [{"name": "feature"}], "body": ""}
    )
    assert results(gated.run("release-notes.yml", queued(gated))) == {"release-notes": "success"}
    # A queue into a release branch needs the release's contract, as its pull request did.
    run = gated.run("release-contract.yml", queued(gated, "release/1.4.0"))
    assert results(run) == {"release-contract": "failure"}
    assert f"no release contract {CONTRACT}" in log(run, "release-contract")
