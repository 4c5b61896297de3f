"""Run the real Prometheus and Alertmanager validators on generated rules and routing.

- promtool (Debian package `prometheus`): `check rules` and `test rules` (unit tests of alerts);
- amtool (Debian package `prometheus-alertmanager`): `check-config` and `config routes test`.

Both are looked up on PATH, then in /usr/bin (where Debian puts them). `.ci/run` installs them.
A tool that is missing skips the calling test locally with the reason, and fails it when `CI` is
set. Neither tool ever starts a server or talks to one here: every command reads local files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

TIMEOUT_SECONDS = 300
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
DEBIAN_BIN = Path("/usr/bin")


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def find_tool(name: str) -> Path | None:
    """The tool on PATH, else in /usr/bin; None when neither has it."""
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    candidate = DEBIAN_BIN / name
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def tool(name: str) -> Path:
    """The tool's path, or skip (fail under CI) saying which Debian package provides it."""
    if name not in PACKAGES:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(sorted(PACKAGES))}")
    found = find_tool(name)
    if found is None:
        package = PACKAGES[name]
        _missing(
            f"{name} not found (not on PATH nor in {DEBIAN_BIN}): install the Debian package "
            f"`{package}` (apt-get install --no-install-recommends {package}); .ci/run does"
        )
    return found


def run(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion; the caller judges the exit code."""
    command = [str(tool(name)), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=cwd, check=False
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def version(name: str) -> str:
    """'2.42.0+ds' from `promtool --version`."""
    result = run(name, "--version")
    text = result.stdout + result.stderr
    match = re.search(r"version (\S+)", text)
    if result.returncode != 0 or match is None:
        pytest.fail(f"{name} --version failed:\n{output(result)}")
    return match.group(1)


def check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    return run("promtool", "check", "rules", str(path))


def run_rule_tests(paths: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on unit-test files (their rule_files are relative to each file)."""
    if not paths:
        raise ValueError("run_rule_tests needs at least one test file")
    return run("promtool", "test", "rules", *map(str, paths), cwd=Path(paths[0]).parent)


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return run("amtool", "check-config", str(path))


def has_routes_test() -> bool:
    """Whether this amtool has `config routes test` (Alertmanager 0.16 and later)."""
    result = run("amtool", "config", "routes", "test", "--help")
    return result.returncode == 0 and "--verify.receivers" in result.stdout + result.stderr


def routes_test(
    config: Path, labels: dict[str, str], expect: Sequence[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The receivers an alert with these labels resolves to (stdout, comma-separated); with
    `expect`, amtool itself exits non-zero when they differ."""
    args = ["config", "routes", "test", f"--config.file={config}"]
    if expect is not None:
        args.append(f"--verify.receivers={','.join(expect)}")
    return run("amtool", *args, *(f"{k}={v}" for k, v in sorted(labels.items())))
