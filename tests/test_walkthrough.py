"""The README's walkthrough, run as written (issue 13: from `pip install` to four repositories).

The shell blocks between `<!-- walkthrough: begin -->` and `<!-- walkthrough: end -->` run in
order, in one bash, in an empty directory, with the wheel built from this checkout installed alone
(tests/support/package_fixtures.py) on PATH and PYTHONPATH. Only the two lines that create a
virtualenv and install the release from PyPI are left out, and the test insists they are exactly
those lines, naming this release. What the walkthrough builds must plan exactly like
examples/four-repos (tests/test_repopolicy.py asserts that organisation's gate in detail).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import gate
from gate.offline.plan import build_plan

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "examples" / "four-repos"
SETUP_LINES = (
    "python3 -m venv .venv && . .venv/bin/activate",
    f"python -m pip install delivery-gate=={gate.__version__}",
)


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- walkthrough: begin -->", 1)[1].split("<!-- walkthrough: end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 3, "the walkthrough's shell blocks"
    script = "".join(blocks)
    lines = script.splitlines(keepends=True)
    assert tuple(line.rstrip("\n") for line in lines[:2]) == SETUP_LINES, (
        "the walkthrough starts by creating a virtualenv and installing this release"
    )
    return "".join(lines[2:])


@pytest.fixture(scope="module")
def walked(installed: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("walkthrough")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
        cwd=directory,
        env=installed,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return directory / "our-gate", done.stdout


def test_the_walkthrough_runs_with_the_installed_package_alone(walked: tuple[Path, str]) -> None:
    project, out = walked
    assert out.startswith(f"delivery-gate {gate.__version__}\n")
    assert "3 stacks agree: dev, staging, prod" in out
    for stack in ("dev", "staging", "prod"):
        assert (project / "build" / stack / "plan.json").is_file()
    # The program is the installed package's: the configuration repository holds no copy of it.
    assert "from gate.entry import program" in (project / "__main__.py").read_text()
    assert not (project / "gate").exists() and not (project / "src").exists()


def test_the_walkthrough_plans_the_four_repository_organisation(walked: tuple[Path, str]) -> None:
    project, out = walked
    written = (project / "stacks" / "base.yaml").read_text().splitlines()[1:]
    assert written == (FIXTURE / "stacks" / "base.yaml").read_text().splitlines()[1:]
    planned = json.loads((project / "build" / "dev" / "plan.json").read_text())
    assert planned["root_hash"] == build_plan(FIXTURE, "dev")["root_hash"]
    summary = out.split("required checks:", 1)[1]
    assert "example-org/storefront\n    main (8): " in summary and "vercel-preview" in summary
    assert "example-org/payments-api\n    main (9): " in summary


def test_a_new_organisations_walkthrough_holds_nothing_of_the_example_one(walked: tuple[Path, str]) -> None:
    project, _ = walked
    for plan in (project / "build").rglob("plan.json"):
        text = plan.read_text().lower()
        assert "acme" not in text and "aos" not in text, plan
