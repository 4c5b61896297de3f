"""GATE-DP-20, the change log (gate/promotion/changelog.py): the record and its validation, who approved
(from the run's approvals, not typed), the markdown entry that can be read back exactly, and
`python -m gate changelog [record]` reading GitHub through a fake ChangeLogSource."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.github.release_deploy import DEPLOYMENT_TASK
from gate.promotion import changelog
from gate.promotion.changelog import (
    FILE_HEADER,
    ChangeLogError,
    Record,
    append,
    approvals_from_reviews,
    build_record,
    parse_file,
    record_from_deployment,
    render_entry,
    render_text,
)
from tests.conftest import ROOT

IMAGE = "ghcr.io/acme/aos@sha256:" + "a" * 64
ROOT_HASH = "sha256:" + "b" * 64
BASE, HEAD = "1" * 40, "2" * 40


def values(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "environment": "production",
        "version": "1.4.0",
        "image": IMAGE,
        "commitRange": f"{BASE}..{HEAD}",
        "releaseNotes": "https://github.com/acme/aos/releases/tag/v1.4.0",
        "evidence": {
            "parityRootHash": ROOT_HASH,
            "analysis": "Successful",
            "windowStart": "2026-11-30T09:40:00Z",
            "windowEnd": "2026-11-30T10:00:00Z",
            "run": "https://github.com/acme/aos/actions/runs/77",
        },
        "deploymentWindow": "Mon, Tue, Wed, Thu 09:00-16:00 UTC",
        "approvedBy": [{"user": "alice", "comment": "ship it"}],
        "recordedAt": "2026-11-30T10:01:00Z",
    }
    return {**record, **overrides}


RECORD = build_record(values())


# -- who approved --------------------------------------------------------------------------------


def test_approvers_are_read_from_the_runs_approvals_for_that_environment_only() -> None:
    reviews = [
        {
            "state": "approved",
            "comment": "ship\nit",
            "environments": [{"name": "production"}],
            "user": {"login": "alice"},
        },
        {
            "state": "rejected",
            "comment": "no",
            "environments": [{"name": "production"}],
            "user": {"login": "bob"},
        },
        {
            "state": "approved",
            "comment": "",
            "environments": [{"name": "staging"}],
            "user": {"login": "carol"},
        },
        {
            "state": "approved",
            "comment": "again",
            "environments": [{"name": "production"}],
            "user": {"login": "alice"},
        },
        {
            "state": "approved",
            "environments": [{"name": "dev"}, {"name": "production"}],
            "user": {"login": "dan"},
        },
    ]
    found = approvals_from_reviews(reviews, "production")
    assert [(a.user, a.comment) for a in found] == [("alice", "ship it"), ("dan", "")]
    assert approvals_from_reviews([], "production") == []


# -- the record -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"image": "ghcr.io/acme/aos:latest"}, "image"),
        ({"commitRange": "main..HEAD"}, "commitRange"),
        ({"releaseNotes": "http://example.com/notes"}, "releaseNotes"),
        ({"version": "1.4 rc"}, "version"),
        ({"evidence": {**values()["evidence"], "analysis": "Failed"}}, "evidence.analysis"),
        ({"evidence": {**values()["evidence"], "parityRootHash": "abc"}}, "evidence.parityRootHash"),
    ],
)
def test_a_record_that_is_no_evidence_is_refused_naming_the_field(
    override: dict[str, Any], where: str
) -> None:
    with pytest.raises(ChangeLogError, match=rf"\[GATE-DP-20\] not a change-log record: {where}: got"):
        build_record(values(**override))


def test_the_entry_shows_every_fact_and_carries_the_record() -> None:
    entry = render_entry(RECORD)
    assert entry.splitlines()[:9] == [
        "## 2026-11-30T10:01:00Z production 1.4.0",
        "",
        f"- Image: `{IMAGE}`",
        f"- Commits: `{BASE}..{HEAD}`",
        "- Release notes: https://github.com/acme/aos/releases/tag/v1.4.0",
        f"- Evidence: parity `{ROOT_HASH}`, analysis Successful, validation window "
        "2026-11-30T09:40:00Z..2026-11-30T10:00:00Z, run https://github.com/acme/aos/actions/runs/77",
        "- Deployment window: Mon, Tue, Wed, Thu 09:00-16:00 UTC",
        '- Approved by: alice ("ship it")',
        "",
    ]
    assert parse_file(entry) == [RECORD]


def test_appending_keeps_what_was_there_and_reads_back_in_order() -> None:
    first = append(None, RECORD)
    assert first.startswith(FILE_HEADER)
    second = build_record(values(version="1.5.0", recordedAt="2026-12-01T10:00:00Z"))
    both = append(first, second)
    assert both.startswith(first.rstrip("\n"))
    assert [r.version for r in parse_file(both)] == ["1.4.0", "1.5.0"]


def test_a_comment_cannot_close_the_records_html_comment() -> None:
    hostile = build_record(values(approvedBy=[{"user": "mallory", "comment": "--> <!-- x"}]))
    entry = render_entry(hostile)
    marker = next(line for line in entry.splitlines() if line.startswith(changelog.MARKER))
    assert marker.count("-->") == 1 and marker.endswith(" -->")
    assert parse_file(entry)[0].approved_by[0].comment == "--> <!-- x"


def test_a_damaged_entry_is_an_error_not_a_silent_gap() -> None:
    damaged = append(None, RECORD).replace('"version":"1.4.0"', '"version":""')
    with pytest.raises(ChangeLogError, match="line 14 holds no valid record"):
        parse_file(damaged)


def test_a_deployment_carries_the_record_in_its_payload() -> None:
    deployment = {"task": DEPLOYMENT_TASK, "payload": RECORD.document()}
    assert record_from_deployment(deployment) == RECORD
    assert record_from_deployment({**deployment, "payload": json.dumps(RECORD.document())}) == RECORD
    assert record_from_deployment({"task": "deploy", "payload": {}}) is None  # a job's own deployment


# -- `python -m gate changelog` --------------------------------------------------------------------


class FakeSource:
    """GitHub as `gate changelog` reads it: a file per (repository, branch, path), deployments."""

    def __init__(self, files: dict[tuple[str, str, str], str], deployments: list[dict[str, Any]]) -> None:
        self.files, self._deployments = files, deployments
        self.reads: list[tuple[str, ...]] = []

    def file(self, repository: str, path: str, branch: str) -> str | None:
        self.reads.append(("file", repository, branch, path))
        return self.files.get((repository, branch, path))

    def deployments(self, repository: str, environment: str, task: str) -> list[dict[str, Any]]:
        self.reads.append(("deployments", repository, environment, task))
        return self._deployments


def project(tmp_path: Path, body: str = "") -> Path:
    directory = tmp_path / "project"
    (directory / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    (directory / "stacks" / "Pulumi.prod.yaml").write_text(
        "config:\n  github:owner: acme\n  delivery-gate:environment: production\n"
        "  delivery-gate:repositories:\n    - name: aos\n" + body
    )
    return directory


def run_cli(
    source: FakeSource, directory: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    argv = ["changelog", "--project-dir", str(directory), *extra]
    code = cli.main(argv, changelog_source=source)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_log_merges_the_file_and_the_deployments_each_deploy_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = {**values()["evidence"], "run": "https://github.com/acme/aos/actions/runs/78"}
    later = build_record(values(version="1.5.0", recordedAt="2026-12-01T10:00:00Z", evidence=evidence))
    source = FakeSource(
        {("acme/aos", "delivery-log", "DEPLOYMENTS.md"): append(None, RECORD)},
        # Newest first, as GitHub lists them: the same 1.4.0 deploy, and 1.5.0 only here.
        [
            {"task": DEPLOYMENT_TASK, "payload": later.document()},
            {"task": DEPLOYMENT_TASK, "payload": RECORD.document()},
        ],
    )
    code, out, _ = run_cli(source, project(tmp_path), capsys, "--repository", "acme/aos", "--format", "json")
    assert code == 0
    assert [r["version"] for r in json.loads(out)] == ["1.4.0", "1.5.0"]
    assert source.reads == [
        ("file", "acme/aos", "delivery-log", "DEPLOYMENTS.md"),
        ("deployments", "acme/aos", "production", DEPLOYMENT_TASK),
    ]
    code, text, _ = run_cli(source, project(tmp_path / "again"), capsys, "--repository", "acme/aos")
    assert code == 0 and text == render_text([RECORD, later])
    assert '  approved   alice ("ship it")' in text


def test_the_log_reads_only_where_the_policy_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "  delivery-gate:changeLog:\n    file: null\n"
    source = FakeSource({}, [])
    code, out, _ = run_cli(source, project(tmp_path, body), capsys, "--repository", "acme/aos")
    assert code == 0 and out == "no deployment recorded in the change log\n"
    assert [read[0] for read in source.reads] == ["deployments"]


def test_the_log_command_refuses_bad_input_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = FakeSource({}, [])
    code, _, err = run_cli(source, project(tmp_path), capsys)
    assert code == 2 and "--repository owner/name is required" in err
    code, _, err = run_cli(source, project(tmp_path / "b"), capsys, "--repository", "not a repo")
    assert code == 2 and "--repository: got 'not a repo'; allowed: owner/name" in err
    damaged = FakeSource(
        {("acme/aos", "delivery-log", "DEPLOYMENTS.md"): f"{changelog.MARKER}{{}} -->\n"}, []
    )
    code, _, err = run_cli(damaged, project(tmp_path / "c"), capsys, "--repository", "acme/aos")
    assert code == 2 and "line 1 holds no valid record" in err and "Traceback" not in err


def test_record_renders_what_the_workflow_appends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-30T10:01:00Z")
    reviews = [
        {
            "state": "approved",
            "comment": "ship it",
            "environments": [{"name": "production"}],
            "user": {"login": "alice"},
        }
    ]
    out = tmp_path / "record.json"
    e = values()["evidence"]
    argv = [
        "changelog", "record", "--environment", "production", "--version", "1.4.0", "--image", IMAGE,
        "--commit-range", f"{BASE}..{HEAD}", "--release-notes", "https://github.com/acme/aos/releases/tag/v1.4.0",
        "--parity-root-hash", ROOT_HASH, "--analysis", "Successful", "--window-start", e["windowStart"],
        "--window-end", e["windowEnd"], "--run-url", e["run"],
        "--deployment-window", "Mon, Tue, Wed, Thu 09:00-16:00 UTC", "--approvals", json.dumps(reviews),
        "--out", str(out),
    ]  # fmt: skip
    assert cli.main(argv) == 0
    document = json.loads(out.read_text())
    assert Record.model_validate(document["record"]) == RECORD
    assert document["entry"] == render_entry(RECORD) and document["header"] == FILE_HEADER
    capsys.readouterr()
    bad = [*argv[:-4], "--approvals", "{}", "--out", str(out)]
    assert cli.main(bad) == 2
    assert "--approvals: allowed: a JSON list" in capsys.readouterr().err
    failed = [a if a != "Successful" else "Failed" for a in argv]
    assert cli.main(failed) == 2
    assert "evidence.analysis: got 'Failed'" in capsys.readouterr().err


def test_the_refusal_names_the_field_the_value_and_what_is_allowed() -> None:
    with pytest.raises(ChangeLogError) as refused:
        build_record(values(version="1.4 rc", commitRange="main"))
    assert str(refused.value) == (
        "[GATE-DP-20] not a change-log record: version: got '1.4 rc'; allowed: a release version: "
        "letters, digits, '.', '_', '+', '-'; commitRange: got 'main'; allowed: <previous sha>..<sha>, "
        "or <sha> for the environment's first deploy"
    )
    with pytest.raises(ChangeLogError, match="image: got \\(missing\\); Field required"):
        build_record({k: v for k, v in values().items() if k != "image"})
