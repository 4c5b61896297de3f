"""The benchmark still runs (it is not a timed test: it asserts the table, never the figures)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_plan_scale_benchmark_prints_a_row_per_size() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "plan_scale.py"), "--sizes", "1,2,3"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    header = out.splitlines()[0].split()
    # The plan against each of the three floors (generic, typed, Pulumi's stock mocks), same run.
    assert {"plan/generic", "plan/typed", "plan/stock"} <= set(header)
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    # Each further repository adds the same resources (provider and runtime are per stack).
    one, two, three = (int(row[1]) for row in rows)
    assert two - one == three - two > 1
    assert all(len(row) == len(header) for row in rows)
    # No floor registered other resources, URNs or inputs than the plan: each figure measures the same.
    assert "warning" not in out
