"""The benchmark still runs (it is not a timed test: it asserts the table, never the figures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def test_the_benchmark_repeats_each_child() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "plan_scale.py"),
            "--sizes",
            "1",
            "--modes",
            "plan,generic",
            "--repeat",
            "2",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1"]
    assert "warning" not in out


def test_repeated_runs_keep_the_fastest_taken_in_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--repeat N`: N runs per child, the fastest kept with its own peak memory; every size and, for
    # each, every mode runs once per round, the sizes in turn smallest and largest first, so that the
    # machine's slow spells fall on the plan and its floors alike, and on no size always.
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import plan_scale  # noqa: PLC0415 - importable once the project root is on the path

    seconds = {
        ("plan", 1): [3.0, 1.0, 2.0],
        ("generic", 1): [9.0, 8.0, 8.5],
        ("plan", 5): [30.0, 20.0, 10.0],
        ("generic", 5): [70.0, 90.0, 80.0],
    }
    calls = []

    def child(mode: str, size: int, workdir: object) -> dict[str, float]:
        calls.append((mode, size, workdir))
        taken = seconds[(mode, size)].pop(0)
        return {"seconds": taken, "peak_mb": taken * 10}

    monkeypatch.setattr(plan_scale, "run_child", child)
    workdirs = {1: ROOT / "one", 5: ROOT / "five"}
    assert plan_scale.fastest(["plan", "generic"], [1, 5], workdirs, 3) == {
        1: {"plan": {"seconds": 1.0, "peak_mb": 10.0}, "generic": {"seconds": 8.0, "peak_mb": 80.0}},
        5: {"plan": {"seconds": 10.0, "peak_mb": 100.0}, "generic": {"seconds": 70.0, "peak_mb": 700.0}},
    }
    order = [(mode, size) for mode, size, _ in calls]
    one, five = [("plan", 1), ("generic", 1)], [("plan", 5), ("generic", 5)]
    assert order == one + five + five + one + one + five
    assert all(workdir == workdirs[size] for _, size, workdir in calls)


def test_the_floors_input_round_trips_parents_first_sharing_long_strings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The floors read the plan's resources one line at a time: the same entries, parents before
    # children, equal long strings one object (as the plan's rendered files are), and the reading
    # counted so that the floors' figures leave it out (bench/floor_input.py).
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import floor_input  # noqa: PLC0415 - importable once the project root is on the path

    workflow = "on: pull_request\n" * 10
    stack = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
    parent: dict[str, Any] = {"urn": "urn:pulumi:dev::p::gate:Gate::g", "parent": stack, "inputs": {}}
    children: list[dict[str, Any]] = [
        {
            "urn": f"urn:pulumi:dev::p::gate:Gate$github:index/file:File::f{n}",
            "parent": parent["urn"],
            "inputs": {"content": workflow, "file": f"f{n}"},
        }
        for n in (2, 1)
    ]
    path = tmp_path / "resources.jsonl"
    floor_input.write_entries(path, [*children, parent])
    before = floor_input.reading_seconds()
    read = list(floor_input.read_entries(path))
    assert floor_input.reading_seconds() > before
    assert [entry["urn"] for entry in read] == [parent["urn"], children[1]["urn"], children[0]["urn"]]
    assert read[1:] == sorted(children, key=lambda entry: entry["urn"])
    assert read[1]["inputs"]["content"] is read[2]["inputs"]["content"]
    # Short strings are left alone (sharing them would cost more than it saves).
    assert read[1]["inputs"]["file"] == "f1"


def test_a_childs_peak_memory_is_its_own_not_the_benchmarks() -> None:
    # ru_maxrss survives exec: a child forked by a process holding 300 MB would report at least that.
    code = (
        "import subprocess, sys\n"
        "held = bytearray(300 * 1024 * 1024)\n"
        "child = 'from bench import plan_scale; print(plan_scale._peak_mb())'\n"
        "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True,"
        " check=True).stdout)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 0 < float(out) < 150
