"""How the offline plan scales with the number of gated repositories.

For each size it plans a generated policy with N repositories (the real program, through
`gate.plan.build_plan`) and then registers the very same resources directly with the Pulumi SDK
(`pulumi.CustomResource` with the recorded types, names and inputs) under the same recording mock
engine: the floor this program cannot beat. Each measurement runs in a fresh process, so peak memory
is that run's own. It prints figures; it asserts nothing about time.

    python bench/plan_scale.py [--sizes 1,10,100,500]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

FLOOR_PROGRAM = """
import json, os
import pulumi

# Same resources, no policy, no components' logic: one SDK registration each.
for entry in json.load(open(os.environ["BENCH_RESOURCES"])):
    if entry["custom"]:
        pulumi.CustomResource(entry["type"], entry["name"], entry["inputs"])
    else:
        pulumi.ComponentResource(entry["type"], entry["name"])
"""


def stack_file(size: int) -> str:
    lines = ["config:", "  github:owner: acme", "  delivery-gate:environment: dev"]
    lines.append("  delivery-gate:repositories:")
    lines += [f"    - name: service-{index:04d}" for index in range(size)]
    return "\n".join(lines) + "\n"


def project_with(size: int, workdir: Path) -> Path:
    project = workdir / f"project-{size}"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "gate", "components"):
        (project / name).symlink_to(ROOT / name)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_file(size))
    return project


def measure_gate(size: int, workdir: Path) -> dict[str, Any]:
    """Child process: plan the generated policy, save its resources for the floor run."""
    from gate.offline.plan import build_plan  # noqa: PLC0415 - imported in the child only

    project = project_with(size, workdir)
    start = time.perf_counter()
    plan = build_plan(project, "dev")
    seconds = time.perf_counter() - start
    resources = [
        {"type": r["type"], "name": r["name"], "inputs": r["inputs"], "custom": r["custom"]}
        for r in plan["resources"]
    ]
    (workdir / f"resources-{size}.json").write_text(json.dumps(resources))
    return {"resources": len(plan["resources"]), "seconds": seconds}


def measure_floor(size: int, workdir: Path) -> dict[str, Any]:
    """Child process: register the same resources directly with the SDK under the same engine."""
    from gate.offline.engine import run_program  # noqa: PLC0415 - imported in the child only

    program = workdir / "floor" / "__main__.py"
    program.parent.mkdir(exist_ok=True)
    program.write_text(FLOOR_PROGRAM)
    os.environ["BENCH_RESOURCES"] = str(workdir / f"resources-{size}.json")
    start = time.perf_counter()
    recording = run_program(program, project="delivery-gate", stack="dev", config={})
    seconds = time.perf_counter() - start
    return {"resources": len(recording.resources), "seconds": seconds}


def child(mode: str, size: int, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    figures = measure_gate(size, workdir) if mode == "gate" else measure_floor(size, workdir)
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps(figures))


def run_child(mode: str, size: int, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--size", str(size), "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10,100,500", help="comma-separated repository counts")
    parser.add_argument("--child", choices=("gate", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size, args.workdir)
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    header = (
        f"{'repos':>6} {'resources':>9} {'plan s':>8} {'ms/res':>7} {'peak MB':>8} "
        f"{'floor s':>8} {'floor MB':>8} {'plan/floor':>10}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        for size in sizes:
            workdir = Path(tmp) / str(size)
            workdir.mkdir()
            gate = run_child("gate", size, workdir)
            floor = run_child("floor", size, workdir)
            if floor["resources"] != gate["resources"]:
                print(f"warning: floor registered {floor['resources']} resources, plan {gate['resources']}")
            print(
                f"{size:>6} {gate['resources']:>9} {gate['seconds']:>8.2f} "
                f"{1000 * gate['seconds'] / gate['resources']:>7.2f} {gate['peak_mb']:>8.0f} "
                f"{floor['seconds']:>8.2f} {floor['peak_mb']:>8.0f} "
                f"{gate['seconds'] / floor['seconds']:>10.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
