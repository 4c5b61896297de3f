"""The installable product (issue 13, item 4): a src/ package, a wheel, the `gate` console script.

The wheel and its installation come from tests/support/package_fixtures.py; the package is used
from outside the checkout, the way a configuration repository uses it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import gate

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_the_package_pins_exactly_what_requirements_txt_pins() -> None:
    # A provider SDK's version decides which plugin `pulumi up` downloads: a configuration repository
    # that installs delivery-gate must get the versions this one is tested with.
    pairs = (d.partition("==") for d in PYPROJECT["project"]["dependencies"])
    declared = {name.lower(): version for name, _, version in pairs}
    assert declared == requirement_pins(ROOT / "requirements.txt")
    assert all(version for version in declared.values()), "every dependency pinned exactly"


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    source = ROOT / "src"
    found = {".".join(path.parent.relative_to(source).parts) for path in source.rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == found | {"gate.tools"}


def test_every_subpackage_says_what_it_holds() -> None:
    for init in (ROOT / "src" / "gate").rglob("__init__.py"):
        module = ".".join(init.parent.relative_to(ROOT / "src").parts)
        doc = __import__(module, fromlist=["_"]).__doc__
        assert doc and len(doc.split()) >= 25, f"{module}: a paragraph saying what it holds"


def test_no_flat_modules_remain_at_the_top_of_the_package() -> None:
    # The layout shows the architecture (docs/design.md "Layout"): the top level holds only the
    # package's entry points and what every layer shares.
    top = sorted(p.name for p in (ROOT / "src" / "gate").glob("*.py"))
    assert top == [
        "__init__.py",
        "__main__.py",
        "bundled.py",
        "clock.py",
        "collector.py",
        "entry.py",
        "errors.py",
        "program.py",
    ]


def test_the_wheel_holds_the_package_its_tools_licence_and_script(wheel: Path) -> None:
    assert wheel.name == f"delivery_gate-{gate.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "gate/program.py",
        "gate/policy/model.py",
        "gate/components/github_gate.py",
        "gate/tools/k6_slo_mapper.py",
        "gate/tools/release_check.py",
        "gate/tools/schema_change_check.py",
        "gate/tools/alert_relay.py",
    ):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("tests/", "components/", "stacks/"))]
    info = f"delivery_gate-{gate.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert re.search(r"^gate = gate\.entry:command$", entry_points, re.M)
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: pulumi-github==" in metadata


def test_the_installed_package_is_the_one_that_runs(installed: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import gate, gate.tools; print(gate.__file__); print(gate.tools.__file__)"],
        env=installed,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    target = installed["PYTHONPATH"]
    assert all(line.startswith(target) for line in done.stdout.splitlines()), done.stdout


def test_the_console_script_prints_its_version_outside_any_checkout(
    installed: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        ["gate", "--version"], env=installed, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"delivery-gate {gate.__version__}"
