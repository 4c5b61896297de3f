"""The execution harness's fixtures, shared by every test module that runs the gate's workflows
(registered in tests/conftest.py): a sample gated repository with the default policy's files, and
the sample application's server (once per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sample_world import app_server
from tests.test_workflow_runs import Gated, make_gated


@pytest.fixture
def gated(tmp_path: Path) -> Gated:
    return make_gated(tmp_path)


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with app_server() as url:
        yield url
