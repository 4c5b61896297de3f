"""`python -m gate`: exit codes and messages (0 ok, 1 diff found changes, 2 bad config or usage, 4 I/O;
tests/test_cli_exit_codes.py has every code and the JSON forms)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.cli.main import main

PROJECT_DIR = Path(__file__).resolve().parent.parent


def gate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, as CI, `make` and scripts run it."""
    return subprocess.run(
        [sys.executable, "-m", "gate", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def project_with(tmp_path: Path, stack_file: str) -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, project / name)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_file, encoding="utf-8")
    return project


def test_plan_writes_the_plan_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--stack", "dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "dev" / "plan.json"
    assert f"wrote {path}" in out
    assert "delivery-gate / dev:" in out
    assert json.loads(path.read_text(encoding="utf-8"))["root_hash"] in out


def test_a_bad_stack_config_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
        "  delivery-gate:repositories:\n    - name: aos\n      languages: [rust]\n",
    )
    completed = gate("plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert "stacks/Pulumi.dev.yaml: invalid delivery-gate configuration" in completed.stderr
    assert "delivery-gate:repositories[0].languages[0]: got 'rust'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_a_plain_text_token_exits_2_without_showing_it(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "config:\n  github:owner: acme\n  github:token: ghp_leaked\n  delivery-gate:environment: dev\n",
    )
    completed = gate("plan", "--stack", "dev", "--project-dir", str(project))
    assert completed.returncode == 2
    assert "github:token: got '<redacted>'" in completed.stderr
    assert "ghp_leaked" not in completed.stderr + completed.stdout
    assert "Traceback" not in completed.stderr


def test_a_missing_stack_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "qa"]) == 4  # I/O: a file that is not there
    err = capsys.readouterr().err
    assert "stacks/Pulumi.qa.yaml" in err
    assert "stacks that exist: dev, prod, staging" in err


def test_a_missing_project_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--project-dir", str(tmp_path)]) == 4
    assert "Pulumi.yaml" in capsys.readouterr().err


def _deep(path: Path) -> None:
    # libyaml's C composer recurses: 100,000 nested lists crashed the process (SIGSEGV).
    path.write_text("name: x\nruntime: python\nextra: " + "[" * 100_000 + "]" * 100_000 + "\n")


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)  # read naively, the plan would wait for a writer forever


# Pulumi.yaml as the plan reads it (gate/offline/plan.py read_project): refused with a worded exit 2.
HOSTILE_PROJECT_FILES: dict[str, tuple[Callable[[Path], object], str]] = {
    "deep nesting": (_deep, "extra" + "[0]" * 19),
    "alias": (
        lambda path: path.write_text("name: &n x\nruntime: python\ndescription: *n\n"),
        "a YAML anchor at line 1, column 7, the first of 2 anchors and aliases; allowed: values written "
        "out in full (project files never need anchors",
    ),
    "tag": (
        lambda path: path.write_text("name: !!binary eA==\nruntime: python\n"),
        "an explicit YAML tag at line 1, column 7; allowed: plain YAML values (project files never need",
    ),
    "not utf-8": (lambda path: path.write_bytes(b"name: \xff\n"), "not UTF-8 (invalid start byte at byte 6)"),
    "oversized": (
        lambda path: path.write_text("name: x\n# " + "x" * 1024 * 1024 + "\n"),
        "larger than 1048576 bytes",
    ),
    "fifo": (_fifo, "not a regular file"),
}


@pytest.mark.parametrize("case", list(HOSTILE_PROJECT_FILES))
def test_a_hostile_project_file_exits_2_with_the_message_and_no_traceback(tmp_path: Path, case: str) -> None:
    project = project_with(tmp_path, "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n")
    write, expected = HOSTILE_PROJECT_FILES[case]
    write(project / "Pulumi.yaml")
    completed = gate("plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out"))
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stderr.startswith(f"error: {project / 'Pulumi.yaml'}: cannot read the project file: ")
    assert expected in completed.stderr, completed.stderr[:1000]
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_diff_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--out", str(tmp_path / "a")]) == 0
    before = tmp_path / "a" / "dev" / "plan.json"
    plan = json.loads(before.read_text(encoding="utf-8"))
    plan["resources"][0]["options"]["protect"] = not plan["resources"][0]["options"]["protect"]
    after = tmp_path / "b.json"
    after.write_text(json.dumps(plan), encoding="utf-8")
    capsys.readouterr()

    assert main(["diff", str(before), str(before), "--exit-code"]) == 0
    assert main(["diff", str(before), str(after), "--exit-code"]) == 1
    assert main(["diff", str(before), str(after)]) == 0  # without --exit-code a diff is not a failure
    assert "~ options.protect:" in capsys.readouterr().out


def test_diff_of_a_malformed_or_hostile_plan_exits_2_and_of_a_missing_one_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"resources": [', encoding="utf-8")
    not_a_plan = tmp_path / "list.json"
    not_a_plan.write_text("[1, 2]", encoding="utf-8")

    assert main(["diff", str(broken), str(broken)]) == 2
    assert f"{broken}:1: not valid JSON" in capsys.readouterr().err
    assert main(["diff", str(not_a_plan), str(not_a_plan)]) == 2
    assert "not a delivery-gate plan" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "nope.json"), str(broken)]) == 4
    assert "no such plan file" in capsys.readouterr().err
    # Hostile: Python's JSON reader recurses, and a FIFO would wait for a writer forever.
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert main(["diff", str(deep), str(deep)]) == 2
    assert f"{deep}: not a plan file: nested too deep for a JSON reader" in capsys.readouterr().err
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert main(["diff", str(fifo), str(fifo)]) == 2
    assert f"{fifo}: cannot read the plan file: not a regular file" in capsys.readouterr().err


def test_diff_exit_codes_in_a_process(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    completed = gate("diff", str(broken), str(broken))
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 2
    assert "the following arguments are required: --stack" in capsys.readouterr().err
    assert main(["apply"]) == 2
    assert "invalid choice: 'apply'" in capsys.readouterr().err


def test_version_is_printed_and_matches_the_project_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib  # noqa: PLC0415

    from gate import __version__  # noqa: PLC0415

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"delivery-gate {__version__}"
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", __version__)  # semantic versioning
