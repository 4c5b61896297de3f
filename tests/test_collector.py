"""Issue 14, item 1 (one repository's start-up): the gate's imports run without the cyclic collector
walking what they build, and leave it in the oldest generation (gate/collector.py).

The helper's contract is checked in this process; the entry points (`python -m gate`, the `gate`
console script's function, the Pulumi program's `__main__.py`) in fresh processes, each counted
against the same imports with the collector left alone, so that a count of zero means something.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.collector import long_lived_imports, to_oldest_generation

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _in_generation(obj: object, generation: int) -> bool:
    return any(tracked is obj for tracked in gc.get_objects(generation))


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The collector on, nothing frozen, as a process starts; restored afterwards."""
    was_enabled = gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()


def _cycles(count: int) -> list[list[object]]:
    """Container allocations enough to set off young collections many times over (the youngest
    generation's threshold is 700 allocations), each object in a cycle of its own."""
    made = []
    for _ in range(count):
        cycle: list[object] = []
        cycle.append(cycle)
        made.append(cycle)
    return made


@pytest.mark.usefixtures("collector_on")
def test_nothing_is_collected_inside_and_what_it_allocated_ends_in_the_oldest_generation() -> None:
    starts: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            starts.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with long_lived_imports():
            kept = _cycles(20_000)
        inside = len(starts)
        outside = _cycles(20_000)
    finally:
        gc.callbacks.remove(count)
    assert inside == 0
    assert len(starts) > inside  # the same allocations outside do set collections off
    assert gc.isenabled()
    assert _in_generation(kept, 2)
    assert not _in_generation(kept, 0)
    assert gc.get_freeze_count() == 0  # filed in the oldest generation, not frozen
    del outside


def test_inside_a_stretch_that_holds_the_collector_off_it_leaves_the_collector_alone() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with long_lived_imports():
            young: list[object] = []
        assert not gc.isenabled()  # the engine's run turns it back on, not this
        assert _in_generation(young, 0)
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_a_failing_import_still_turns_the_collector_back_on() -> None:
    with pytest.raises(ModuleNotFoundError), long_lived_imports():
        __import__("gate.no_such_module")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_objects_the_process_froze_stay_frozen() -> None:
    frozen: list[object] = []
    gc.freeze()
    before = gc.get_freeze_count()
    to_oldest_generation()
    with long_lived_imports():
        young: list[object] = []
    assert gc.get_freeze_count() == before
    assert _in_generation(young, 0)  # not moved: moving would unfreeze the process's own
    assert not any(tracked is frozen for generation in range(3) for tracked in gc.get_objects(generation))


# A fresh interpreter that counts the collections started between the moment gate.collector is
# imported (the entry points' first step) and the moment the gate's last module is (its `main`
# defined): what interpreter start-up and runpy allocate before then is not the gate's.
_COUNTING = textwrap.dedent(
    """
    import gc, json, runpy, sys
    sys.path.insert(0, {project!r})
    starts = []
    def count(phase, info):
        if phase == "start":
            started = hasattr(sys.modules.get("gate.collector"), "long_lived_imports")
            starts.append(started and not hasattr(sys.modules.get({last!r}), "main"))
    gc.callbacks.append(count)
    try:
        {target}
    except BaseException:
        pass
    print(json.dumps({{"during_imports": sum(starts), "enabled": gc.isenabled()}}))
    """
)


def _collections(target: str, last: str) -> dict[str, object]:
    code = _COUNTING.format(project=str(PROJECT_DIR), last=last, target=target)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, check=True, timeout=120
    )
    answer: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return answer


@pytest.mark.parametrize(
    ("target", "last"),
    [
        # `python -m gate --version`: prints the version after the command's modules are imported.
        ("sys.argv = ['gate', '--version']; runpy.run_module('gate', run_name='__main__')", "gate.cli.main"),
        # The `gate` console script calls this function (pyproject.toml).
        ("sys.argv = ['gate', '--version']; import gate.entry; gate.entry.command()", "gate.cli.main"),
        # The Pulumi program, as the language host runs it: its `main()` then fails outside an
        # engine, after the imports this counts.
        ("runpy.run_path('__main__.py', run_name='__main__')", "gate.program"),
    ],
    ids=["python -m gate", "console script", "Pulumi program"],
)
def test_the_entry_points_import_the_gate_without_a_collection(target: str, last: str) -> None:
    assert _collections(target, last) == {"during_imports": 0, "enabled": True}
    # The same imports with the collector left alone start collections, so zero above is the helper.
    plain = _collections(f"import gate.collector; import {last}", last)
    assert isinstance(plain["during_imports"], int)
    assert plain["during_imports"] > 20


def test_a_main_py_from_an_earlier_gate_init_plans_the_same(tmp_path: Path) -> None:
    # Configuration repositories written before gate.entry existed call gate.program.main() directly
    # (docs/design.md): the same plan, without the collector held off.
    from gate.offline.plan import build_plan  # noqa: PLC0415 - only this test plans
    from tests.test_plan import DEV_STACK, project_copy  # noqa: PLC0415

    current = project_copy(tmp_path / "current", "dev", DEV_STACK)
    earlier = project_copy(tmp_path / "earlier", "dev", DEV_STACK)
    (earlier / "__main__.py").write_text("from gate.program import main\n\nmain()\n", encoding="utf-8")
    assert "gate.entry" in (current / "__main__.py").read_text(encoding="utf-8")
    assert build_plan(earlier, "dev")["root_hash"] == build_plan(current, "dev")["root_hash"]
