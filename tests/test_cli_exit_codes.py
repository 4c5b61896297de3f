"""Issue 13, item 4 (part cli): one exit code per kind of outcome, through the real CLI.

0 ok, 1 a finding, 2 bad configuration or usage, 3 a rule violation, 4 I/O (gate/cli/exitcodes.py);
`--format json` prints the summary or the error as one JSON object on stdout; `--help` lists examples
and the exit codes. The projects here are written by the tests, for an organisation that is not the
shipped example (`example-org`/`shop`), so nothing depends on the project's own stacks.
"""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from gate.cli import clihelp, exitcodes
from gate.cli import main as cli
from gate.cli.exitcodes import ExitCode
from gate.errors import InputOutputError, PolicyError, Problem, RuleViolation, UsageError
from tests.conftest import ProjectFactory
from tests.test_cli import gate

OWNER, REPOSITORY = "example-org", "shop"
ENVIRONMENTS = {"dev": "dev", "staging": "staging", "prod": "production"}
SATURDAY = "2026-11-28T10:00:00Z"  # outside the default deployment window (Mon-Thu)
MONDAY = "2026-11-30T10:00:00Z"


def stack_text(environment: str, extra: str = "") -> str:
    return (
        f"config:\n  github:owner: {OWNER}\n  delivery-gate:environment: {environment}\n"
        f"  delivery-gate:repositories:\n    - name: {REPOSITORY}\n{extra}"
    )


def stacks(**extra: str) -> dict[str, str]:
    """The three environment stacks of a minimal organisation; `extra` adds lines to one of them."""
    return {
        stack: stack_text(environment, extra.get(stack, "")) for stack, environment in ENVIRONMENTS.items()
    }


BAD_LANGUAGE = "  delivery-gate:repositories:\n    - name: shop\n      languages: [rust]\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(out: str) -> dict[str, Any]:
    document = json.loads(out)  # exactly one JSON document on stdout, nothing else
    assert isinstance(document, dict)
    return document


# -- every exit code, in a real process -----------------------------------------------------------


def test_every_exit_code_in_a_process(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project(stacks())
    evidence = tmp_path / "staging-outputs.json"
    evidence.write_text("{}", encoding="utf-8")
    bad = tmp_path / "bad"
    (bad / "stacks").mkdir(parents=True)
    (bad / "stacks" / "Pulumi.dev.yaml").write_text(
        f"config:\n  github:owner: {OWNER}\n  delivery-gate:environment: dev\n{BAD_LANGUAGE}",
        encoding="utf-8",
    )
    p = str(project)
    cases = {
        0: ("window", "--stack", "prod", "--project-dir", p, "--at", MONDAY),
        1: ("window", "--stack", "prod", "--project-dir", p, "--at", SATURDAY),
        2: ("window", "--stack", "dev", "--project-dir", str(bad), "--at", MONDAY),
        # DP §Environment Progression: production promotes from staging, never from dev.
        3: ("promote", "--from", "dev", "--to", "prod", "--project-dir", p, "--evidence", str(evidence)),
        4: ("window", "--stack", "qa", "--project-dir", p),
    }
    for expected, args in cases.items():
        completed = gate(*args)
        assert completed.returncode == expected, (args, completed.stderr)
        assert "Traceback" not in completed.stderr
        # With --format json, stdout is one JSON document whatever the outcome, with the same code.
        as_json_process = gate(*args, "--format", "json")
        assert as_json_process.returncode == expected
        assert json.loads(as_json_process.stdout)["code"] == expected
    assert gate("plan", "--no-such-option").returncode == 2  # usage


# -- 2: bad configuration or usage ----------------------------------------------------------------


def test_a_bad_stack_file_exits_2_and_names_file_path_value_and_allowed_in_json(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    (project / "stacks" / "Pulumi.dev.yaml").write_text(
        f"config:\n  github:owner: {OWNER}\n  delivery-gate:environment: dev\n{BAD_LANGUAGE}"
    )
    code, out, err = run(
        capsys, "window", "--stack", "dev", "--project-dir", str(project), "--format", "json"
    )
    assert code == 2
    error = as_json(out)
    assert error["code"] == 2 and error["kind"] == "config" and error["error"] == "PolicyError"
    assert error["file"] == "stacks/Pulumi.dev.yaml"
    assert error["path"] == "delivery-gate:repositories[0].languages[0]"
    assert error["value"] == "rust"
    assert isinstance(error["allowed"], str) and "python" in error["allowed"]
    assert error["command"] == "window"
    assert str(error["message"]).startswith("stacks/Pulumi.dev.yaml: invalid delivery-gate configuration")
    problems = error["problems"]
    assert isinstance(problems, list) and problems[0]["path"] == error["path"]
    # The person reading the log still gets the message, on stderr.
    assert err.startswith("error: stacks/Pulumi.dev.yaml: invalid delivery-gate configuration")


def test_usage_errors_exit_2_as_argparse_words_them_or_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan")
    assert code == 2 and out == ""
    assert err.startswith("usage: gate plan")
    assert "gate plan: error: the following arguments are required: --stack" in err

    code, out, err = run(capsys, "plan", "--format", "json")
    error = as_json(out)
    assert code == 2 and error["code"] == 2 and error["kind"] == "usage" and error["error"] == "UsageError"
    assert error["message"] == "the following arguments are required: --stack"
    assert error["command"] == "plan"
    assert str(error["usage"]).startswith("usage: gate plan")

    code, out, _ = run(capsys, "plan", "--stack", "dev", "--bogus", "--format=json")
    assert code == 2 and as_json(out)["message"] == "unrecognized arguments: --bogus"
    code, _, err = run(capsys, "apply")
    assert code == 2 and "invalid choice: 'apply'" in err


def test_help_and_version_still_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["plan", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as done:
            cli.main(args)
        assert done.value.code == 0
    capsys.readouterr()


# -- 3: a rule violation ----------------------------------------------------------------------------


def test_a_gate_rule_violation_exits_3_with_its_violations_in_json(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GATE-NN-03: administrators may not bypass the gate; the file is valid, the policy refuses it.
    project = make_project(stacks(dev="  delivery-gate:mergeGate:\n    enforceAdmins: false\n"))
    args = ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")]
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 3
    error = as_json(out)
    assert error["kind"] == "rule" and error["error"] == "RuleViolation"
    assert error["file"] == "stacks/Pulumi.dev.yaml"
    assert any("[GATE-NN-03]" in str(problem["message"]) for problem in error["problems"])
    assert "the gate rules are violated" in err
    assert not (tmp_path / "out").exists()


def test_an_inconsistent_project_exits_3_and_an_invalid_stack_among_them_2(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    (project / "stacks" / "Pulumi.staging.yaml").unlink()  # the chain would skip staging (GATE-DP-11)
    code, out, _ = run(capsys, "check", "--project-dir", str(project), "--format", "json")
    assert code == 3
    error = as_json(out)
    assert error["kind"] == "rule"
    assert [p["code"] for p in error["problems"]] == [3]
    assert "[GATE-DP-11] environment 'staging' is deployed by stack 'staging'" in str(error["problems"])

    (project / "stacks" / "Pulumi.staging.yaml").write_text(
        f"config:\n  github:owner: {OWNER}\n  delivery-gate:environment: staging\n{BAD_LANGUAGE}"
    )
    code, out, _ = run(capsys, "check", "--project-dir", str(project), "--format", "json")
    error = as_json(out)
    assert code == 2 and error["kind"] == "config" and error["error"] == "PolicyError"
    assert error["file"] == "stacks/Pulumi.staging.yaml"
    assert (error["path"], error["value"]) == ("delivery-gate:repositories[0].languages[0]", "rust")


def test_a_promotion_the_policy_refuses_exits_3(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = make_project(stacks())
    evidence = tmp_path / "staging.json"
    evidence.write_text("{}", encoding="utf-8")
    args = ["promote", "--from", "staging", "--to", "prod", "--project-dir", str(project)]
    code, out, err = run(capsys, *args, "--evidence", str(evidence), "--format", "json")
    assert code == 3, err
    error = as_json(out)
    assert error["kind"] == "rule" and error["error"] == "PromotionRefused"
    assert "exports no releaseEvidence" in str(error["message"])
    # An emergency without its fields is a usage error, not a refusal.
    code, _, err = run(capsys, *args, "--evidence", str(evidence), "--emergency", "INC-1")
    assert code == 2 and "the emergency path needs" in err


def test_a_deploy_outside_the_window_exits_3(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", SATURDAY)
    project = make_project(stacks())
    image = "registry.example/shop@sha256:" + "a" * 64
    code, out, _ = run(
        capsys,
        *("deploy", "--stack", "prod", "--image", image, "--project-dir", str(project)),
        *("--repository", f"{OWNER}/{REPOSITORY}", "--run-id", "1", "--format", "json"),
    )
    assert code == 3
    assert as_json(out)["error"] == "WindowRefused"


# -- 4: I/O -------------------------------------------------------------------------------------------


def test_a_missing_stack_file_exits_4(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    code, out, err = run(capsys, "plan", "--stack", "qa", "--project-dir", str(project), "--format", "json")
    assert code == 4
    error = as_json(out)
    assert error["kind"] == "io" and error["file"] == "stacks/Pulumi.qa.yaml"
    assert "stacks that exist: dev, prod, staging" in str(error["message"]) and "error: " in err


def test_a_stack_file_that_is_not_a_regular_file_exits_4(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    (project / "stacks" / "Pulumi.dev.yaml").unlink()
    (project / "stacks" / "Pulumi.dev.yaml").mkdir()
    code, _, err = run(capsys, "window", "--stack", "dev", "--project-dir", str(project))
    assert code == 4 and "stacks/Pulumi.dev.yaml" in err


def test_missing_and_malformed_plan_files_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    code, out, _ = run(capsys, "diff", str(tmp_path / "nope.json"), str(broken), "--format", "json")
    assert code == 4 and as_json(out)["file"] == str(tmp_path / "nope.json")
    code, out, _ = run(capsys, "diff", str(broken), str(broken), "--format", "json")
    assert code == 2 and as_json(out)["error"] == "PlanFileError"


def test_an_unreachable_github_exits_4(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    project = make_project(stacks())
    args = ["changelog", "--repository", f"{OWNER}/{REPOSITORY}", "--project-dir", str(project)]
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 4, err
    error = as_json(out)
    assert error["kind"] == "io" and "cannot reach GitHub" in str(error["message"])
    assert "test-token" not in out + err


def test_an_os_error_without_a_worded_error_of_its_own_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "out"))

    monkeypatch.setattr(cli, "_files", refuse)
    code, out, err = run(capsys, "files", "plan.json", "--out", str(tmp_path / "out"), "--format", "json")
    assert code == 4 and "Traceback" not in err
    error = as_json(out)
    assert error["kind"] == "io" and error["file"] == str(tmp_path / "out")
    assert error["error"] == "PermissionError"


# -- summaries as JSON --------------------------------------------------------------------------------


def test_check_and_stacks_summaries_as_json(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    code, out, err = run(capsys, "check", "--project-dir", str(project), "--format", "json")
    assert code == 0 and err == ""
    assert as_json(out) == {
        "code": 0,
        "command": "check",
        "kind": "ok",
        "stacks": ["dev", "staging", "prod"],
        "templates": [],
    }
    code, out, _ = run(capsys, "stacks", "--project-dir", str(project), "--format", "json")
    assert as_json(out) == {
        "code": 0,
        "command": "stacks",
        "kind": "ok",
        "stacks": ["dev", "staging", "prod"],
    }
    code, out, _ = run(capsys, "stacks", "--project-dir", str(project))
    assert out == "dev\nstaging\nprod\n"


def test_plan_summary_as_json_matches_the_plan_written(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = make_project(stacks())
    args = ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path)]
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 0
    summary = as_json(out)
    plan = json.loads((tmp_path / "dev" / "plan.json").read_text(encoding="utf-8"))
    assert summary["command"] == "plan" and summary["kind"] == "ok"
    assert summary["rootHash"] == plan["root_hash"] and summary["stack"] == "dev"
    assert summary["resourceCount"] == len(plan["resources"])
    counts = summary["resources"]
    assert isinstance(counts, dict) and sum(counts.values()) == len(plan["resources"])
    assert summary["requiredChecks"] == plan["outputs"]["requiredChecks"]
    assert f"{OWNER}/{REPOSITORY}" in summary["requiredChecks"]
    assert summary["file"] == str(tmp_path / "dev" / "plan.json")
    # The same command twice prints the same bytes.
    assert run(capsys, *args, "--format", "json")[1] == out


def test_a_command_without_fields_of_its_own_puts_its_text_under_output(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(stacks())
    args = ["window", "--stack", "prod", "--project-dir", str(project), "--at", SATURDAY, "--format", "json"]
    code, out, _ = run(capsys, *args)
    document = as_json(out)
    assert code == 1 and document["code"] == 1 and document["kind"] == "changes"
    assert "Saturday is not a deployment day" in str(document["output"])


def test_files_summary_as_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = {
        "project": "p",
        "stack": "dev",
        "root_hash": "sha256:" + "0" * 64,
        "outputs": {},
        "invokes": [],
        "resources": [
            {
                "urn": "urn:pulumi:dev::p::github:index/repositoryFile:RepositoryFile::f",
                "type": "github:index/repositoryFile:RepositoryFile",
                "name": "f",
                "parent": f"urn:pulumi:dev::p::delivery-gate:github:RepositoryGate::{OWNER}-{REPOSITORY}",
                "custom": True,
                "inputs": {"repository": REPOSITORY, "file": ".github/CODEOWNERS", "content": "* @x\n"},
                "options": {},
                "outputs": {},
            }
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    code, out, err = run(capsys, "files", str(path), "--out", str(tmp_path / "out"), "--format", "json")
    assert code == 0, err
    written = tmp_path / "out" / f"{OWNER}-{REPOSITORY}" / ".github" / "CODEOWNERS"
    assert as_json(out)["files"] == [str(written)] and written.read_text() == "* @x\n"


# -- --help ---------------------------------------------------------------------------------------------


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit):
        cli.main([*args, "--help"])
    return capsys.readouterr().out


def test_the_top_level_help_lists_examples_and_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert "examples:\n  gate plan --stack dev\n" in text
    for meaning in exitcodes.MEANINGS:
        assert f"  {int(meaning.code)}  {meaning.kind:<8} {meaning.text}\n" in text
    assert "--version" in text


def test_every_command_has_examples_exit_codes_and_a_format_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = cli.build_parser()
    paths = [" ".join(path) for path, _ in clihelp.subcommands(parser)]
    assert set(paths) == set(clihelp.COMMANDS)  # a new command must say its examples and codes
    for path in paths:
        text = help_text(capsys, *path.split())
        assert "examples:\n  gate " in text, path
        assert "exit codes:\n  0  ok" in text, path
        assert "--format" in text, path


def test_a_command_lists_only_the_codes_it_can_return(capsys: pytest.CaptureFixture[str]) -> None:
    diff = help_text(capsys, "diff")
    assert "  1  changes  --exit-code and the plans differ\n" in diff
    assert "  3  rule" not in diff  # comparing two files applies no rule
    check = help_text(capsys, "check")
    assert "  1  changes" not in check and "  3  rule" in check and "  4  io" in check


def test_every_example_in_the_help_parses(capsys: pytest.CaptureFixture[str]) -> None:
    # An example that argparse would refuse is a lie in the help; placeholders are allowed.
    parser = cli.build_parser()
    for help_ in clihelp.COMMANDS.values():
        for example in help_.examples:
            words = example.split(" | ")[0].split(" > ")[0].split()
            if "..." in words or "COMMAND" in words:
                continue
            words = [w.strip("'") for w in words]
            if "'error" in example:  # a quoted reason: one argument
                words = [*example.split(" --reason ")[0].split(), "--reason", "error rate"]
            parser.parse_args(words)


# -- the mapping itself -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (PolicyError("s.yaml", [Problem("a.b", 1, "allowed: 2")]), ExitCode.CONFIG, "config"),
        (UsageError("--x: bad"), ExitCode.CONFIG, "usage"),
        (RuleViolation("s.yaml", ["[GATE-X] no"]), ExitCode.RULE, "rule"),
        (InputOutputError("gone", file="f"), ExitCode.IO, "io"),
        (ConnectionRefusedError(111, "refused"), ExitCode.IO, "io"),
    ],
)
def test_error_classes_map_to_one_exit_code_each(error: BaseException, code: ExitCode, kind: str) -> None:
    assert exitcodes.exit_code_of(error) == code
    assert exitcodes.kind_of(error) == kind
    document = exitcodes.error_document(error)
    assert document["code"] == int(code) and document["kind"] == kind
    assert set(document) >= {"code", "kind", "error", "file", "path", "value", "allowed", "message"}


def test_an_io_flavour_of_a_module_error_is_io_first() -> None:
    from gate.offline.plan import PlanFileError, PlanFileUnreadable  # noqa: PLC0415
    from gate.policy.yamlguard import StackFileError, StackFileUnreadable  # noqa: PLC0415

    assert exitcodes.exit_code_of(StackFileUnreadable("gone", file="x")) == ExitCode.IO
    assert exitcodes.exit_code_of(StackFileError("bad yaml")) == ExitCode.CONFIG
    assert exitcodes.exit_code_of(PlanFileUnreadable("gone")) == ExitCode.IO
    assert exitcodes.exit_code_of(PlanFileError("not a plan")) == ExitCode.CONFIG


def test_a_huge_or_unserialisable_value_is_shown_bounded() -> None:
    error = PolicyError("s.yaml", [Problem("a", "x" * 10_000, "allowed: short"), Problem("b", object(), "-")])
    document = exitcodes.error_document(error)
    assert len(json.dumps(document["value"])) < 200
    assert isinstance(document["problems"][1]["value"], str)
    json.dumps(document)  # always serialisable


def test_several_problems_take_the_worst_code() -> None:
    assert exitcodes.worst([ExitCode.RULE, ExitCode.CONFIG]) == ExitCode.CONFIG
    assert exitcodes.worst([ExitCode.RULE, ExitCode.IO, ExitCode.CONFIG]) == ExitCode.IO
    assert exitcodes.worst([ExitCode.RULE]) == ExitCode.RULE


def test_json_is_asked_for_before_parsing() -> None:
    assert clihelp.wants_json(["plan", "--format", "json"])
    assert clihelp.wants_json(["plan", "--format=json"])
    assert not clihelp.wants_json(["plan", "--format"])
    assert not clihelp.wants_json(["plan", "--stack", "json"])
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)
