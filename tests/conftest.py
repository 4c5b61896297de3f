"""Shared fixtures: a throwaway copy of the project whose stack files a test writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# The execution harness's `gated` and `app_url` fixtures, for every module that runs workflows.
pytest_plugins = ("tests.support.harness_fixtures", "tests.support.package_fixtures")

ROOT = Path(__file__).resolve().parents[1]

ProjectFactory = Callable[[dict[str, str]], Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """make_project({"dev": "<stack file text>"}) -> a project dir running the real program."""

    def make(stack_files: dict[str, str]) -> Path:
        project = tmp_path / "project"
        project.mkdir(exist_ok=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            if not (project / name).exists():
                (project / name).symlink_to(ROOT / name)
        (project / "stacks").mkdir(exist_ok=True)
        for stack, text in stack_files.items():
            (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
        return project

    return make
