"""How the offline plan scales with the number of gated repositories, against three floors.

For each size it plans a generated policy with N repositories (the real program, through
`gate.offline.plan.build_plan`) and then registers the very same resources (types, names, inputs,
read from that plan) three more ways, each in a fresh process so that peak memory is that run's own:

- generic: `pulumi.CustomResource`/`ComponentResource` with the recorded types, names and inputs, under
  the same recording engine (gate/offline/engine.py) as the plan: the SDK's cost of registering them;
- typed: the same resources through the provider SDKs' typed classes (`github.RepositoryFile`, ...),
  with the program's parents, providers and protect flags and the components' registered outputs,
  under the same engine: what declaring every one through its class costs, without the policy (the
  program declares a repository's GitHub resources from their Args classes instead,
  gate/components/declare.py);
- stock: the generic resources under Pulumi's stock mocks (`pulumi.runtime.set_mocks` with a plain
  `Mocks` that echoes inputs): what a plan made with Pulumi's own test engine would cost at least.

Every figure includes the process's imports (gate, pulumi, provider SDKs) as a user waits for them,
and stops when the run ends (saving or comparing resources afterwards is the benchmark's own work).
A floor's reading of the plan's resources is left out of its time, and costs it little memory
(bench/floor_input.py): getting hold of them is not registering them.
Ratios are against floors measured in the same run on the same machine. It prints figures; it
asserts nothing about time (tests/test_bench_smoke.py only checks it runs and registers alike).

    python bench/plan_scale.py [--sizes 1,10,100,500] [--modes plan,generic,typed,stock] [--repeat N]

`--repeat N` runs each child N times and keeps the fastest (with its peak memory): on a shared
machine whose speed drifts over minutes, the fastest of a few runs is what the code costs, and the
sizes' rows become comparable (ms/res+, the linearity figure). The runs go in rounds, every size and
every mode once per round, the sizes smallest first in one round and largest first in the next, so
that a slow spell of the machine falls on the plan and its floors alike, and not always on the
largest size.
"""

from __future__ import annotations

import time

_CHILD_START = time.perf_counter()  # before any heavy import: the figures include imports

import argparse  # noqa: E402 - after the clock starts
import compileall  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# `bench.…` as the floors' programs import it (one module, so one count of the floors' reading).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import floor_input  # noqa: E402 - once the project root is on the path
from gate.collector import long_lived_imports  # noqa: E402 - stdlib only; every child imports it

MODES = ("plan", "generic", "typed", "stock")
# The plan's resources, which the floors register again (bench/floor_input.py).
RESOURCES_FILE = "resources.jsonl"

# The floors' programs read the plan's resources from BENCH_RESOURCES (written by the plan run).
GENERIC_PROGRAM = """
import os
import pulumi
from bench.floor_input import read_entries

# Same resources, no policy, no components' logic, no parents or providers: one SDK call each.
for entry in read_entries(os.environ["BENCH_RESOURCES"]):
    if entry["custom"]:
        pulumi.CustomResource(entry["type"], entry["name"], entry["inputs"])
    else:
        pulumi.ComponentResource(entry["type"], entry["name"])
"""

TYPED_PROGRAM = """
import os
from bench.floor_input import read_entries
from bench.typed_floor import declare_typed

declare_typed(read_entries(os.environ["BENCH_RESOURCES"]))
"""


def stack_file(size: int, settings: Sequence[str] = ()) -> str:
    """The generated stack: `size` repositories with default settings; `settings` are more
    `delivery-gate:` lines, indented as in the file (bench/org_scale.py's merge-gate modes)."""
    lines = ["config:", "  github:owner: acme", "  delivery-gate:environment: dev", *settings]
    lines.append("  delivery-gate:repositories:")
    lines += [f"    - name: service-{index:04d}" for index in range(size)]
    return "\n".join(lines) + "\n"


def project_with(size: int, workdir: Path, settings: Sequence[str] = (), name: str | None = None) -> Path:
    """A configuration project as `gate init` makes one: Pulumi.yaml, the two-line program, a stack."""
    project = workdir / (name or f"project-{size}")
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").symlink_to(ROOT / "Pulumi.yaml")
    (project / "__main__.py").symlink_to(ROOT / "__main__.py")
    (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_file(size, settings))
    return project


def _peak_mb() -> float:
    """This process's peak resident memory since it started its program.

    Linux's VmHWM, not `ru_maxrss`: the latter survives `exec` and so counts the resident memory the
    child shared with the benchmark's own process when it was forked (a one-repository plan run after
    the 2,000-repository children read 117 MB where it takes 78)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        status = ""  # not Linux
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _stop() -> dict[str, float]:
    """The figures of this child so far: wall time since it started, less the time a floor spent
    reading its input (bench/floor_input.py), and its peak memory (what the benchmark does
    afterwards, saving or comparing resources, is its own work, in neither figure)."""
    peak_mb = _peak_mb()
    return {"seconds": time.perf_counter() - _CHILD_START - floor_input.reading_seconds(), "peak_mb": peak_mb}


def measure_plan(size: int, workdir: Path) -> dict[str, Any]:
    """Plan the generated policy; save its resources for the floors."""
    with long_lived_imports():  # as `gate` imports its modules (gate/entry.py)
        from gate.offline.plan import build_plan  # noqa: PLC0415 - imported in the child, timed

    # A project of its own per run (--repeat plans the same size again in the same workdir).
    plan = build_plan(project_with(size, Path(tempfile.mkdtemp(dir=workdir))), "dev")
    figures = _stop()  # saving the resources below is the benchmark's work
    resources = [
        {
            key: r[key]
            for key in ("urn", "type", "name", "parent", "custom", "inputs", "options", "outputs")
            if key in r
        }
        for r in plan["resources"]
        if "read" not in r.get("options", {})  # reads declare nothing; no floor registers them
    ]
    floor_input.write_entries(workdir / RESOURCES_FILE, resources)
    return {**figures, "resources": len(resources), "urns": sorted(r["urn"] for r in resources)}


def _run_floor(program_source: str, workdir: Path, name: str) -> Any:
    with long_lived_imports():  # as the plan's child imports the engine (measure_plan)
        from gate.offline.engine import run_program  # noqa: PLC0415 - imported in the child, timed

    program = workdir / name / "__main__.py"
    program.parent.mkdir(exist_ok=True)
    program.write_text(program_source)
    os.environ["BENCH_RESOURCES"] = str(workdir / RESOURCES_FILE)
    return run_program(program, project="delivery-gate", stack="dev", config={})


def measure_generic(workdir: Path) -> dict[str, Any]:
    recording = _run_floor(GENERIC_PROGRAM, workdir, "generic")
    return {"resources": len(recording.resources)}


def measure_typed(workdir: Path) -> dict[str, Any]:
    recording = _run_floor(TYPED_PROGRAM, workdir, "typed")
    figures = _stop()  # comparing with the plan below is the benchmark's work
    planned = {r["urn"]: r["inputs"] for r in floor_input.read_entries(workdir / RESOURCES_FILE)}
    # The typed floor must declare what the plan declares, or it measures something else.
    differing = sum(1 for r in recording.resources if planned.get(r.urn) != r.inputs)
    return {
        "resources": len(recording.resources),
        "urns": sorted(r.urn for r in recording.resources),
        "differing": differing,
        **figures,
    }


def measure_stock(workdir: Path) -> dict[str, Any]:
    with long_lived_imports():  # as the plan's child imports the SDK (measure_plan)
        import pulumi  # noqa: PLC0415 - imported in the child, timed
        from pulumi.runtime import mocks, stack, sync_await  # noqa: PLC0415

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
            return args.args, []

    monitor = mocks.MockMonitor(Echo())
    mocks.set_mocks(monitor.mocks, project="delivery-gate", stack="dev", preview=False, monitor=monitor)
    for entry in floor_input.read_entries(workdir / RESOURCES_FILE):
        if entry["custom"]:
            pulumi.CustomResource(entry["type"], entry["name"], entry["inputs"])
        else:
            pulumi.ComponentResource(entry["type"], entry["name"])
    sync_await._sync_await(stack.wait_for_rpcs())
    # MockMonitor keeps custom resources and components alike; the root stack is not among them.
    return {"resources": len(monitor.resources)}


def child(mode: str, size: int, workdir: Path) -> None:
    if mode == "plan":
        figures = measure_plan(size, workdir)
    elif mode == "generic":
        figures = measure_generic(workdir)
    elif mode == "typed":
        figures = measure_typed(workdir)
    else:
        figures = measure_stock(workdir)
    print(json.dumps({**_stop(), **figures}))


def run_child(mode: str, size: int, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--size", str(size), "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def fastest(
    modes: Sequence[str], sizes: Sequence[int], workdirs: dict[int, Path], repeat: int
) -> dict[int, dict[str, dict[str, Any]]]:
    """Per size and mode, the fastest of `repeat` runs of its child, taken in rounds: each round runs
    every size, and for each size every mode once, in order (the plan first; it rewrites the floors'
    input alike), the sizes smallest first in one round and largest first in the next. The machine's
    speed drifts over minutes; interleaved, the plan and its floors see the same periods of it, so
    their ratio is not the drift between the minutes one child ran and the minutes another did, and
    no size always runs last, where a slower spell would read as time per resource growing."""
    best: dict[int, dict[str, dict[str, Any]]] = {size: {} for size in sizes}
    for round_ in range(max(1, repeat)):
        for size in sizes if round_ % 2 == 0 else list(reversed(sizes)):
            for mode in modes:
                figures = run_child(mode, size, workdirs[size])
                if mode not in best[size] or figures["seconds"] < best[size][mode]["seconds"]:
                    best[size][mode] = figures
    return best


def _check_alike(size: int, results: dict[str, dict[str, Any]]) -> list[str]:
    """Warnings when a floor did not register what the plan registered: its figure would lie."""
    warnings = []
    planned = results["plan"]["resources"]
    for mode, figures in results.items():
        if figures["resources"] != planned:
            warnings.append(
                f"warning: {size} repositories: {mode} registered {figures['resources']}, plan {planned}"
            )
    typed = results.get("typed")
    if typed is not None:
        if typed["urns"] != results["plan"]["urns"]:
            warnings.append(f"warning: {size} repositories: the typed floor's URNs differ from the plan's")
        if typed["differing"]:
            warnings.append(
                f"warning: {size} repositories: typed floor inputs differ on {typed['differing']} resources"
            )
    return warnings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1,10,100,500", help="comma-separated repository counts, smallest first"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="which of plan,generic,typed,stock to run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per child; the fastest is kept")
    parser.add_argument(
        "--root-hash",
        type=int,
        metavar="N",
        help="print the root hash of the generated N-repository plan (tests/golden/scale-100.root_hash)",
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size, args.workdir)
        return 0
    if args.root_hash is not None:
        from gate.offline.plan import build_plan  # noqa: PLC0415 - not needed to run the benchmark

        with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
            print(build_plan(project_with(args.root_hash, Path(tmp)), "dev")["root_hash"])
        return 0

    # As after a first run: pip compiled the SDKs' bytecode at install; the project's own modules are
    # compiled here, so that no child pays for it (Python would cache it, unless the environment says
    # PYTHONDONTWRITEBYTECODE, as some CI machines do).
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = ["plan", *(m for m in args.modes.split(",") if m in MODES and m != "plan")]
    floors = modes[1:]
    # ms/res: the plan's seconds per resource, imports included; ms/res+: per resource beyond the
    # first size's (imports and the per-stack resources excluded), the figure that shows linearity.
    header = f"{'repos':>6} {'resources':>9} {'plan-s':>7} {'ms/res':>6} {'ms/res+':>7} {'plan-MB':>7}"
    for floor in floors:
        header += f" {floor + '-s':>9} {floor + '-MB':>10} {'plan/' + floor:>13}"
    print(header)
    print("-" * len(header))
    warnings: list[str] = []
    first: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        workdirs = {size: Path(tmp) / str(size) for size in sizes}
        for workdir in workdirs.values():
            workdir.mkdir()
        measured = fastest(modes, sizes, workdirs, args.repeat)
        for size in sizes:
            results = measured[size]
            plan = results["plan"]
            first = first or plan
            added = plan["resources"] - first["resources"]
            extra = plan["seconds"] - first["seconds"]
            marginal = f"{1000 * extra / added:>7.2f}" if added else f"{'-':>7}"
            row = (
                f"{size:>6} {plan['resources']:>9} {plan['seconds']:>7.2f} "
                f"{1000 * plan['seconds'] / plan['resources']:>6.2f} {marginal} {plan['peak_mb']:>7.0f}"
            )
            for floor in floors:
                figures = results[floor]
                row += (
                    f" {figures['seconds']:>9.2f} {figures['peak_mb']:>10.0f}"
                    f" {plan['seconds'] / figures['seconds']:>13.2f}"
                )
            print(row, flush=True)
            warnings += _check_alike(size, results)
    for warning in warnings:
        print(warning)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
