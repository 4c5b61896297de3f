"""`python -m gate evaluate` (issue 12, GATE-DP-18): each criterion of delivery-policy.md
§Evaluation Criteria PASS and FAIL on fixture states, the three formats, the exit codes.

Production (stack prod) is judged before its deploy, as deploy.yml does (--image: the image staging
validated), or after it (no --image: what it runs). The stacks' state comes from a fake workspace
(the Automation API's place) or from --state files; GitHub from a fake of gate/promotion/deploy.py's
GitHubApi.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.cli.delivery import Outside
from gate.clock import iso
from gate.promotion import evaluate
from gate.promotion.outside import DeliveryRefused
from tests.support.stacks import PROJECT, names

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NEW = "ghcr.io/acme/aos@sha256:" + "a" * 64
OLD = "ghcr.io/acme/aos@sha256:" + "b" * 64
ROOT_HASH = "sha256:" + "c" * 64
REPOSITORY = names().full_name  # the shipped stacks' repository (or the renamed copy's)
VERSION = "1.4.0"
RELEASE_PATH = f"repos/{REPOSITORY}/releases/tags/v{VERSION}"
POST_INCIDENT = f"repos/{REPOSITORY}/issues?labels=post-incident&state=all&per_page=100"
BACKFILL = f"repos/{REPOSITORY}/issues?labels=emergency-backfill&state=all&per_page=100"
NOTES = "## Features\n- Exports to CSV (#12)\n\n**Full Changelog**: https://github.com/acme/aos/compare/v1.3.0...v1.4.0"

CONTRACT = f"""\
# Release contract: {VERSION}

## Scope
CSV export.
- [x] Every change is labelled

## Rollback plan
<!-- How this release is rolled back -->
Roll back to the previous image with `gate rollback`; drilled in staging on 2026-11-24.
- [x] Rollback plan documented
- [x] Rollback tested in staging

## Feature flags
`csv-export`, off in production until promoted.
- [x] New features are behind feature flags
"""

FLAGS = """\
  delivery-gate:flags:
    - key: csv-export
      owner: platform
      expires: "2027-03-01"
      issue: https://github.com/acme/aos/issues/12
      environments: {dev: true, staging: true}
"""


def validation(image: str, *, minutes: int = 30, analysis: str = "Successful") -> dict[str, Any]:
    start = NOW - timedelta(hours=3)
    return {
        "image": image,
        "parityRootHash": ROOT_HASH,
        "validatedAt": iso(start + timedelta(minutes=minutes + 1)),
        "run": {"repository": REPOSITORY, "runId": 41},
        "analysis": analysis,
        "windowStart": iso(start),
        "windowEnd": iso(start + timedelta(minutes=minutes)),
    }


def staging_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "release": {"image": NEW},
        "deployment": {
            "deployedAt": iso(NOW - timedelta(hours=4)),
            "run": {"repository": REPOSITORY, "runId": 41},
        },
        "validation": validation(NEW),
        "validatedImages": [NEW, OLD],
        "releaseEvidence": {
            "environment": "staging",
            "stack": "staging",
            "image": NEW,
            "imageDigest": NEW.split("@")[1],
            "flags": {"csv-export": True},
            "parityRootHash": ROOT_HASH,
            "validatedAt": validation(NEW)["validatedAt"],
        },
        "rollbackDrill": {
            "image": NEW,
            "rolledBackTo": OLD,
            "parityRootHash": ROOT_HASH,
            "drilledAt": iso(NOW - timedelta(days=2)),
            "run": {"repository": REPOSITORY, "runId": 40},
            "result": "passed",
        },
    }
    state.update(changes)
    return {key: value for key, value in state.items() if value is not None}


def prod_state(image: str = OLD, **changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "release": {"image": image},
        "deployment": {
            "deployedAt": iso(NOW - timedelta(hours=4)),
            "run": {"repository": REPOSITORY, "runId": 41},
        },
        "validation": validation(image),
        "validatedImages": [image] if image == OLD else [image, OLD],
    }
    state.update(changes)
    return {key: value for key, value in state.items() if value is not None}


class Workspace:
    def __init__(self, states: Mapping[str, dict[str, Any]]) -> None:
        self.states = dict(states)
        self.read: list[str] = []

    def outputs(self, stack: str) -> dict[str, Any]:
        self.read.append(stack)
        return copy.deepcopy(self.states.get(stack, {}))

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]:
        raise AssertionError("evaluate never applies anything")


class GitHub:
    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    def get(self, path: str) -> Any:
        self.asked.append(path)
        if path not in self.answers:
            raise DeliveryRefused(f"GitHub API GET {path}: HTTP 404")
        return self.answers[path]


def published(body: str = NOTES, *, draft: bool = False) -> dict[str, Any]:
    return {
        "tag_name": f"v{VERSION}",
        "name": f"v{VERSION}",
        "draft": draft,
        "body": body,
        "published_at": iso(NOW - timedelta(hours=1)),
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This project's stacks, with a flag in every stack; the gated repository's checkout beside."""
    monkeypatch.setenv("DELIVERY_GATE_NOW", iso(NOW))
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    (tmp_path / "project").mkdir()
    shutil.copy(PROJECT / "Pulumi.yaml", tmp_path / "project" / "Pulumi.yaml")
    shutil.copytree(PROJECT / "stacks", tmp_path / "project" / "stacks")
    for stack in ("dev", "staging", "prod"):
        path = tmp_path / "project" / "stacks" / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + FLAGS, encoding="utf-8")
    contract = tmp_path / "repo" / "work" / "releases" / f"{VERSION}.md"
    contract.parent.mkdir(parents=True)
    contract.write_text(CONTRACT, encoding="utf-8")
    return tmp_path


def run(
    project: Path,
    *args: str,
    states: Mapping[str, dict[str, Any]] | None = None,
    answers: Mapping[str, Any] | None = None,
    form: str = "json",
    capsys: pytest.CaptureFixture[str],
    stack: str = "prod",
) -> tuple[int, dict[str, Any]]:
    """`gate evaluate` on production before its deploy of NEW, release VERSION, by default."""
    workspace = Workspace(
        states if states is not None else {"prod": prod_state(), "staging": staging_state()}
    )
    github = GitHub(answers if answers is not None else {RELEASE_PATH: published()})
    argv = [
        "evaluate",
        "--stack",
        stack,
        "--project-dir",
        str(project / "project"),
        "--repo-dir",
        str(project / "repo"),
        "--repository",
        REPOSITORY,
        "--format",
        form,
        *args,
    ]
    if "--no-image" in argv:
        argv.remove("--no-image")
    elif "--image" not in argv:
        argv += ["--image", NEW]
    if "--no-release" in argv:
        argv.remove("--no-release")
    elif "--release" not in argv:
        argv += ["--release", VERSION]
    code = cli.main(argv, outside=Outside(workspace=workspace, github=github))
    out, err = capsys.readouterr()
    return code, json.loads(out) if form == "json" and code in (0, 1) else {"text": out, "err": err}


def verdict(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    (row,) = [row for row in document["criteria"] if row["criterion"] == name]
    return dict(row)


CapSys = pytest.CaptureFixture[str]


def test_a_release_validated_in_staging_passes_every_criterion(project: Path, capsys: CapSys) -> None:
    code, document = run(project, capsys=capsys)
    assert code == 0, json.dumps(document, indent=2)
    assert document["result"] == "PASS" and document["rule"] == "GATE-DP-18"
    assert [row["criterion"] for row in document["criteria"]] == [c.name for c in evaluate.CRITERIA]
    assert len(document["criteria"]) == 7
    progression = verdict(document, "Environment progression")
    assert progression["sources"] == ["--image", "state of stack staging: output `releaseEvidence`"]
    assert "staging validated sha256:" + "a" * 64 in progression["evidence"][0]
    rollback = verdict(document, "Rollback plan")
    assert "work/releases/1.4.0.md: ## Rollback plan" in rollback["sources"]
    assert "state of stack staging: output `rollbackDrill`" in rollback["sources"]
    assert any(f"automatic rollback target in prod: {OLD}" == line for line in rollback["evidence"])
    validation_row = verdict(document, "Post-deploy validation")
    assert validation_row["sources"][0] == "state of stack staging: output `validation`"
    assert "pre-deploy" in validation_row["evidence"][0]
    notes = verdict(document, "Release notes")
    assert notes["sources"] == [f"GitHub API GET {RELEASE_PATH}"]
    flags_row = verdict(document, "Feature flags")
    assert any("reviewers' judgement" in line for line in flags_row["evidence"])
    assert verdict(document, "Emergency deployment")["evidence"] == [
        "not an emergency deployment: not applicable"
    ]


def test_after_the_deploy_production_is_judged_on_its_own_evidence(project: Path, capsys: CapSys) -> None:
    states = {"prod": prod_state(NEW), "staging": staging_state()}
    code, document = run(project, "--no-image", states=states, capsys=capsys)
    assert code == 0, json.dumps(document, indent=2)
    row = verdict(document, "Post-deploy validation")
    assert row["sources"][0] == "state of stack prod: output `validation`"
    assert "pre-deploy" not in row["evidence"][0]
    # After the deploy the image comes from production's state.
    assert (
        verdict(document, "Environment progression")["sources"][0] == "state of stack prod: output `release`"
    )


def test_state_files_replace_the_automation_api(project: Path, capsys: CapSys) -> None:
    (project / "prod.json").write_text(json.dumps(prod_state()), encoding="utf-8")
    (project / "staging.json").write_text(json.dumps(staging_state()), encoding="utf-8")
    files = ("--state", str(project / "prod.json"), "--upstream-state", str(project / "staging.json"))
    code, document = run(project, *files, states={}, capsys=capsys)  # the workspace holds nothing
    assert code == 0, json.dumps(document, indent=2)
    assert verdict(document, "Environment progression")["sources"][1] == (
        f"state file {project / 'staging.json'} (stack staging): output `releaseEvidence`"
    )


# -- each criterion FAILs for its own reason ------------------------------------------------------


def failing(document: Mapping[str, Any]) -> list[str]:
    return [row["criterion"] for row in document["criteria"] if row["status"] == "FAIL"]


def test_an_image_staging_never_validated_fails_environment_progression(
    project: Path, capsys: CapSys
) -> None:
    other = "ghcr.io/acme/aos@sha256:" + "d" * 64
    code, document = run(project, "--image", other, capsys=capsys)
    assert code == 1 and failing(document) == ["Environment progression", "Post-deploy validation"]
    evidence = verdict(document, "Environment progression")["evidence"]
    assert (
        "[GATE-DP-09] image digest sha256:" + "d" * 64 + " has not been validated by staging" in evidence[0]
    )
    assert evidence[-1] == "no emergency justifies skipping it"


def test_an_emergency_with_its_follow_up_passes_progression_and_needs_its_signals(
    project: Path, capsys: CapSys
) -> None:
    emergency = {
        "incidentId": "INC-42",
        "rollbackPlan": "https://wiki.example.com/inc-42",
        "securityScan": "https://scan.example.com/inc-42",
    }
    other = "ghcr.io/acme/aos@sha256:" + "d" * 64
    follow_up = {"rule": "GATE-DP-10", "incidentId": "INC-42", "backfill": ["deploy it to staging"]}
    prod = prod_state(other, release={"image": other, "emergency": emergency}, emergencyFollowUp=follow_up)
    states = {"prod": prod, "staging": staging_state()}
    # No signal, no backfill issue: the emergency criterion fails, progression passes.
    code, document = run(
        project,
        "--no-image",
        "--no-release",
        states=states,
        answers={POST_INCIDENT: [], BACKFILL: []},
        capsys=capsys,
    )
    assert code == 1
    assert verdict(document, "Environment progression")["status"] == "PASS"
    row = verdict(document, "Emergency deployment")
    assert row["status"] == "FAIL"
    assert any("no post-incident signal for INC-42" in line for line in row["evidence"])
    assert any(
        "no backfill issue labelled emergency-backfill names INC-42" in line for line in row["evidence"]
    )
    assert f"GitHub API GET {BACKFILL}" in row["sources"]
    # Both filed: it passes; an issue about another incident does not count.
    answers = {
        POST_INCIDENT: [
            {"number": 7, "title": "Post-incident: INC-41", "body": ""},
            {"number": 8, "title": "Post-incident review", "body": "Incident INC-42 ..."},
        ],
        BACKFILL: [{"number": 9, "title": "Backfill INC-42: staging validation", "body": ""}],
    }
    code, document = run(project, "--no-image", "--no-release", states=states, answers=answers, capsys=capsys)
    row = verdict(document, "Emergency deployment")
    assert row["status"] == "PASS", row
    assert (
        "post-incident signal: issue #8" in row["evidence"]
        and "backfill: issue #9 (emergency-backfill)" in row["evidence"]
    )
    # A signal file in the repository counts as the post-incident signal.
    (project / "repo" / "work" / "signals").mkdir(parents=True)
    (project / "repo" / "work" / "signals" / "INC-42.md").write_text("# INC-42\n", encoding="utf-8")
    answers[POST_INCIDENT] = []
    code, document = run(project, "--no-image", "--no-release", states=states, answers=answers, capsys=capsys)
    assert (
        "post-incident signal: work/signals/INC-42.md"
        in verdict(document, "Emergency deployment")["evidence"]
    )


def test_an_emergency_without_its_follow_up_fails_progression(project: Path, capsys: CapSys) -> None:
    emergency = {
        "incidentId": "INC-42",
        "rollbackPlan": "https://wiki.example.com/inc-42",
        "securityScan": "https://scan.example.com/inc-42",
    }
    other = "ghcr.io/acme/aos@sha256:" + "d" * 64
    states = {
        "prod": prod_state(other, release={"image": other, "emergency": emergency}),
        "staging": staging_state(),
    }
    code, document = run(
        project,
        "--no-image",
        "--no-release",
        states=states,
        answers={POST_INCIDENT: [], BACKFILL: []},
        capsys=capsys,
    )
    assert code == 1 and verdict(document, "Environment progression")["status"] == "FAIL"


def test_a_big_bang_environment_fails_progressive_rollout(project: Path, capsys: CapSys) -> None:
    states = {"dev": {"release": {"image": NEW}}}
    code, document = run(project, "--no-release", states=states, capsys=capsys, stack="dev")
    assert code == 1
    row = verdict(document, "Progressive rollout")
    assert row["status"] == "FAIL" and "big-bang" in row["evidence"][0]
    # dev is the first environment: nothing to be promoted through.
    assert verdict(document, "Environment progression")["status"] == "PASS"


@pytest.mark.parametrize(
    ("drill", "contract", "expected"),
    [
        (None, CONTRACT, "tested: stack staging records no rollback drill"),
        ({"result": "failed"}, CONTRACT, "tested: the last drill in staging did not pass (result 'failed')"),
        ({"drilledAt": iso(NOW - timedelta(days=15))}, CONTRACT, "is not within rollbackDrill.maxAge 14d"),
        (
            {},
            CONTRACT.replace(
                "Roll back to the previous image with `gate rollback`; drilled in staging on 2026-11-24.\n",
                "",
            ),
            "documented: the contract's Rollback plan section has no text of its author",
        ),
        (
            {},
            CONTRACT.replace("- [x] Rollback tested", "- [ ] Rollback tested"),
            "documented: unticked in the Rollback plan section: Rollback tested in staging",
        ),
        ({}, None, "documented: no release contract work/releases/1.4.0.md"),
    ],
)
def test_a_rollback_plan_untested_or_undocumented_fails(
    project: Path, capsys: CapSys, drill: dict[str, Any] | None, contract: str | None, expected: str
) -> None:
    staging = staging_state()
    staging["rollbackDrill"] = None if drill is None else {**staging["rollbackDrill"], **drill}
    path = project / "repo" / "work" / "releases" / f"{VERSION}.md"
    if contract is None:
        path.unlink()
    else:
        path.write_text(contract, encoding="utf-8")
    code, document = run(
        project,
        states={"prod": prod_state(), "staging": staging_state(rollbackDrill=staging["rollbackDrill"])},
        capsys=capsys,
    )
    row = verdict(document, "Rollback plan")
    assert code == 1 and row["status"] == "FAIL", row
    assert any(expected in line for line in row["evidence"]), row["evidence"]


def test_flags_expired_or_undeclared_in_the_contract_fail(project: Path, capsys: CapSys) -> None:
    path = project / "repo" / "work" / "releases" / f"{VERSION}.md"
    path.write_text(CONTRACT.replace("`csv-export`", "`csv-export` and `pdf-export`"), encoding="utf-8")
    code, document = run(project, capsys=capsys)
    row = verdict(document, "Feature flags")
    assert code == 1 and row["status"] == "FAIL"
    assert "the contract names flag `pdf-export`, which no stack file declares" in row["evidence"]
    path.write_text(CONTRACT, encoding="utf-8")
    stack = project / "project" / "stacks" / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text(encoding="utf-8").replace("2027-03-01", "2026-11-01"), encoding="utf-8")
    code, document = run(project, capsys=capsys)
    row = verdict(document, "Feature flags")
    assert code == 1 and row["status"] == "FAIL"
    assert any("flag 'csv-export' expired on 2026-11-01" in line for line in row["evidence"])


@pytest.mark.parametrize(
    ("staging", "expected"),
    [
        ({"validation": None}, "stack staging holds no validation for"),
        ({"validation": validation(NEW, minutes=10)}, "is shorter than 30m"),
        (
            {"validation": {k: v for k, v in validation(NEW).items() if not k.startswith("window")}},
            "no validation window recorded",
        ),
    ],
)
def test_no_validation_evidence_within_the_window_fails(
    project: Path, capsys: CapSys, staging: dict[str, Any], expected: str
) -> None:
    code, document = run(
        project, states={"prod": prod_state(), "staging": staging_state(**staging)}, capsys=capsys
    )
    row = verdict(document, "Post-deploy validation")
    assert code == 1 and row["status"] == "FAIL"
    assert expected in row["evidence"][0]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, "no GitHub release for tag v1.4.0: GitHub API GET"),
        (published(draft=True), "still a draft"),
        (published(""), "no notes beyond a Full Changelog link"),
        (
            published("**Full Changelog**: https://github.com/acme/aos/compare/v1.3.0...v1.4.0\n"),
            "no notes beyond a Full Changelog link",
        ),
    ],
)
def test_missing_draft_or_internal_only_release_notes_fail(
    project: Path, capsys: CapSys, answer: dict[str, Any] | None, expected: str
) -> None:
    code, document = run(project, answers={} if answer is None else {RELEASE_PATH: answer}, capsys=capsys)
    row = verdict(document, "Release notes")
    assert code == 1 and failing(document) == ["Release notes"]
    assert expected in row["evidence"][0]


def test_without_a_release_the_notes_cannot_pass(project: Path, capsys: CapSys) -> None:
    code, document = run(project, "--no-release", capsys=capsys)
    assert code == 1 and failing(document) == ["Release notes"]
    assert verdict(document, "Rollback plan")["evidence"][0].startswith("documented: not judged")


# -- formats and exit codes -----------------------------------------------------------------------


def test_markdown_is_one_table_row_per_criterion(project: Path, capsys: CapSys) -> None:
    code, document = run(project, form="markdown", capsys=capsys)
    text = document["text"]
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "### Evaluation criteria (GATE-DP-18): PASS"
    header = lines.index("| Criterion | Result | Evidence | Source |")
    assert lines[header + 1] == "|-----------|--------|----------|--------|"
    rows = lines[header + 2 :]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [c.name for c in evaluate.CRITERIA]
    assert all(row.count(" | ") == 3 and row.endswith(" |") for row in rows)


def test_text_names_each_verdict_and_its_sources(project: Path, capsys: CapSys) -> None:
    code, document = run(
        project, "--image", "ghcr.io/acme/aos@sha256:" + "d" * 64, form="text", capsys=capsys
    )
    text = document["text"]
    assert code == 1
    assert text.splitlines()[0].endswith(": FAIL")
    assert "FAIL  Environment progression (Environments skipped without emergency justification)" in text
    assert "PASS  Progressive rollout (Defined plan with stages)" in text
    assert "      from state of stack staging: output `releaseEvidence`" in text


def test_the_output_is_deterministic(project: Path, capsys: CapSys) -> None:
    first = run(project, form="markdown", capsys=capsys)
    assert run(project, form="markdown", capsys=capsys) == first


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("--stack", "nope"), "nope", 4),  # I/O: no such stack file
        (("--image", "ghcr.io/acme/aos:latest"), "--image: got 'ghcr.io/acme/aos:latest'", 2),
        (("--release", "1.4.0; rm -rf /"), "--release: got", 2),
        (("--state", "missing.json"), "state file missing.json of stack prod", 4),
    ],
)
def test_bad_input_exits_2_or_4_with_a_message_and_no_traceback(
    project: Path, capsys: CapSys, args: tuple[str, ...], message: str, exit_code: int
) -> None:
    code, document = run(project, *args, form="text", capsys=capsys)
    err = document["err"]
    assert code == exit_code, document
    assert message in err and "Traceback" not in err


def test_a_hostile_state_file_exits_2_with_a_message_and_no_traceback(project: Path, capsys: CapSys) -> None:
    deep = project / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")  # Python's JSON reader recurses
    fifo = project / "fifo.json"
    os.mkfifo(fifo)  # read naively, it waits for a writer forever
    for path, reason in ((deep, "maximum recursion depth exceeded"), (fifo, "not a regular file")):
        code, document = run(project, "--state", str(path), form="text", capsys=capsys)
        assert code == 2, document
        assert f"state file {path} of stack prod: {reason}" in document["err"]
        assert "Traceback" not in document["err"]


# -- the job deploy.yml runs (GATE-DP-18) ---------------------------------------------------------


def test_deploy_yml_evaluates_before_the_production_deploy_with_least_privilege() -> None:
    from gate.policy.rules import committed_workflows  # noqa: PLC0415
    from tests.test_workflows import VARIANTS, policy  # noqa: PLC0415

    for variant in ({}, VARIANTS["aws-deploy-role"]):
        gate_policy = policy(**variant)
        jobs = committed_workflows(gate_policy, gate_policy.repositories[0])["deploy.yml"]["jobs"]
        job = jobs["evaluate"]
        assert job["needs"] == ["build", "evidence-staging", "release"]
        assert "evaluate" in jobs["deploy-production"]["needs"]
        # Skipped with production when the push is no release.
        assert job["if"] == "${{ needs.release.outputs.release == 'true' }}"
        # Reviewer-free: production's reviewers approve the deploy, after the verdict.
        assert job["environment"] == {"name": "production-rollback"}
        expected = {"contents": "read", "issues": "read"}
        assert job["permissions"] == expected | ({"id-token": "write"} if variant else {})
        (step,) = [s for s in job["steps"] if s.get("id") == "evaluate"]
        assert step["env"]["STACK"] == "prod" and step["env"]["GH_TOKEN"] == "${{ github.token }}"
        assert step["env"]["VERSION"] == "${{ needs.release.outputs.version }}"
        assert 'python -m gate evaluate "${args[@]}"' in step["run"]
        assert '>> "$GITHUB_STEP_SUMMARY"' in step["run"]
        assert job["outputs"] == {"table": "${{ steps.evaluate.outputs.table }}"}
        (block,) = [s for s in job["steps"] if s.get("name") == "Block the production deploy on a FAIL"]
        assert block["env"] == {"STATUS": "${{ steps.evaluate.outputs.status }}"}
        # The one write, apart: no environment, no secret, only the release's body.
        notes = jobs["evaluation-notes"]
        assert notes["needs"] == ["release", "evaluate"] and "environment" not in notes
        assert notes["permissions"] == {"contents": "write"}
        assert "evaluation-notes" not in jobs["deploy-production"]["needs"]
        (append,) = notes["steps"]
        assert append["env"] == {
            "TABLE": "${{ needs.evaluate.outputs.table }}",
            "TAG": "v${{ needs.release.outputs.version }}",
        }
        assert "updateRelease" in append["with"]["script"] and "secrets." not in str(notes)


def test_a_signal_pull_request_counts_when_the_policy_files_signals_as_pull_requests(
    project: Path, capsys: CapSys
) -> None:
    stack = project / "project" / "stacks" / "Pulumi.prod.yaml"
    stack.write_text(
        stack.read_text(encoding="utf-8") + "  delivery-gate:emergency:\n    signal: pull-request\n"
    )
    emergency = {
        "incidentId": "INC-42",
        "rollbackPlan": "https://wiki.example.com/inc-42",
        "securityScan": "https://scan.example.com/inc-42",
    }
    other = "ghcr.io/acme/aos@sha256:" + "d" * 64
    follow_up = {"rule": "GATE-DP-10", "incidentId": "INC-42", "backfill": []}
    prod = prod_state(other, release={"image": other, "emergency": emergency}, emergencyFollowUp=follow_up)
    pulls = f"repos/{REPOSITORY}/pulls?state=all&head={names().owner}%3Apost-incident%2FINC-42&per_page=100"
    backfill = [{"number": 9, "title": "Backfill the validation skipped by emergency INC-42", "body": ""}]
    answers: dict[str, Any] = {POST_INCIDENT: [], BACKFILL: backfill, pulls: []}
    states = {"prod": prod, "staging": staging_state()}
    code, document = run(project, "--no-image", "--no-release", states=states, answers=answers, capsys=capsys)
    row = verdict(document, "Emergency deployment")
    assert code == 1 and row["status"] == "FAIL" and f"GitHub API GET {pulls}" in row["sources"]
    answers[pulls] = [{"number": 11, "title": "Post-incident signal: INC-42", "body": ""}]
    _, document = run(project, "--no-image", "--no-release", states=states, answers=answers, capsys=capsys)
    row = verdict(document, "Emergency deployment")
    assert row["status"] == "PASS" and "post-incident signal: pull request #11" in row["evidence"]
