"""The package as a user gets it: a wheel built from this checkout, installed alone.

The wheel is built with `pip wheel --no-build-isolation` (setuptools is pinned in
requirements-dev.txt, so no network) and installed with `--no-deps` into its own directory, put first
on PYTHONPATH and PATH: the dependencies are the test venv's, the package and the `gate` script are
the wheel's (tests/test_packaging.py proves which one runs). Session-scoped: built once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of what the sdist holds: an in-tree build leaves build/lib behind, whose
    # stale modules a later build would ship.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for name in ("src", "tools"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-w", str(out), str(source)], check=True, cwd=out, timeout=300)
    (built,) = out.glob("delivery_gate-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The wheel installed into its own directory; the environment that runs it from there."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    path = f"{target / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PYTHONPATH": str(target), "PATH": path}
