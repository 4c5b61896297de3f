"""bench/org_scale.py still runs (issue 14 item 4; not a timed test: it asserts the table's shape and
what must scale how, never a speed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.org_scale import MODES, affine
from tests.conftest import ROOT

SIZES = (10, 20)


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def count(cell: str) -> int:
    """`1,704 (3.8 h)` -> 1704."""
    return int(cell.split(" ", 1)[0].replace(",", ""))


def test_org_scale_prints_a_row_per_mode_and_size_and_organisation_mode_is_flat() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "org_scale.py"), "--sizes", ",".join(map(str, SIZES))],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    header, rows = cells(lines[0]), [cells(line) for line in lines[2:]]  # [1]: the | --- | line
    assert header[:3] == ["mode", "repositories", "GitHub resources"]
    assert [(row[0], row[1]) for row in rows] == [(mode, str(size)) for mode in MODES for size in SIZES]
    assert all(len(row) == len(header) == 8 for row in rows)
    one_workflow = header.index("one workflow changed: commits (h)")
    by_mode = {mode: [row for row in rows if row[0] == mode] for mode in MODES}
    for mode, (small, large) in by_mode.items():
        # More repositories, more GitHub resources and REST calls to read them, in every mode.
        assert count(large[2]) > count(small[2]) and count(large[3]) > count(small[3])
        if mode == "organization":
            # Issue 14 item 4: a changed gate workflow is one commit per group of repositories
            # (one group here), whatever the number of repositories.
            assert count(small[one_workflow]) == count(large[one_workflow]) >= 1
        else:
            # Each repository commits its own copy (through its gate pull request).
            assert count(large[one_workflow]) > count(small[one_workflow])
    assert "fixed + per repository" in out


def test_counts_that_are_not_affine_are_refused_not_extrapolated() -> None:
    assert affine("resources", "rulesets", [1, 2, 3], [10, 14, 18]).at(100) == 406
    with pytest.raises(SystemExit, match="not affine"):
        affine("resources", "organization", [1, 2, 3], [10, 14, 19])
