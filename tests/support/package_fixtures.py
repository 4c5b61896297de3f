"""The package as a user gets it: a wheel built from this checkout, installed alone.

The wheel is built with `pip wheel --no-build-isolation` (setuptools is pinned in
requirements-dev.txt, so no network) and installed with `--no-deps` into its own directory, put first
on PYTHONPATH and PATH: the dependencies are the test venv's, the package and the `gate` script are
the wheel's (tests/test_packaging.py proves which one runs). Session-scoped: built once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        cwd=out,
        timeout=300,
    )
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
