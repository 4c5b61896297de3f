"""The benchmark still runs (it is not a timed test: it asserts the table, never the figures)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_plan_scale_benchmark_prints_a_row_per_size() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "plan_scale.py"), "--sizes", "1,2"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "2"]
    # Repositories share one provider; everything else is per repository.
    one, two = (int(row[1]) for row in rows)
    assert one > 1
    assert two == 1 + 2 * (one - 1)
    assert "warning" not in out
