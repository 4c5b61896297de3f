"""Run one of the gate's workflows against YOUR repository's scripts, offline, with the harness.

    python -m tests.support.run_workflow --repo ~/src/aos --workflow determinism-check.yml
    python -m tests.support.run_workflow --repo ~/src/aos --workflow deploy.yml --event push

The repository must be a git checkout holding the gate's files (`python -m gate files
build/dev/plan.json --out DIR` writes them; copy `.github/workflows/` and `tools/` in). Its own
commands run for real, with the runner's shell flags; what reaches outside (docker, trivy, kubectl,
gh, pulumi, aws, npx, pip installs) goes to the recording stubs of tests/support/stubs, whose
answers come from the world directory (see tests/support/stubs/stubkit.py for its layout: seed it
to say what is deployed, which URL an environment has, what a scan finds). Prints each job's result
and the log of every failed step; exits 0 when the run succeeded, 1 when it did not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.actions_runner import Event, Harness, WorkflowRun
from tests.support.sample_world import FAKE_GATE, STUBS, make_world


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _pairs(values: list[str]) -> dict[str, str]:
    return dict(value.split("=", 1) for value in values)


def event(args: argparse.Namespace, repo: Path) -> Event:
    head = _git(repo, "rev-parse", "HEAD")
    if args.event == "pull_request":
        base = _git(repo, "rev-parse", args.base)
        same = {"full_name": args.repository}
        payload = {
            "pull_request": {"number": args.pr, "head": {"sha": head, "repo": same}, "base": {"sha": base}}
        }
        return Event("pull_request", ref=f"refs/pull/{args.pr}/merge", sha=head, payload=payload)
    return Event(args.event, ref=f"refs/heads/{args.branch}", sha=head, inputs=_pairs(args.input))


def report(run: WorkflowRun, indent: str = "") -> None:
    for job_id, job in run.jobs.items():
        print(f"{indent}{job_id}: {job.result}{f' ({job.reason})' if job.reason else ''}")
        for step in job.steps:
            if step.outcome == "failure":
                print(f"{indent}  step '{step.name}' failed:\n{step.log}")
        if job.called is not None:
            report(job.called, indent + "  ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.run_workflow", description=__doc__)
    parser.add_argument("--repo", type=Path, required=True, help="your repository (a git checkout)")
    parser.add_argument("--workflow", required=True, help="e.g. ci.yml, determinism-check.yml, deploy.yml")
    parser.add_argument("--repository", default="acme/aos", help="its owner/name on GitHub")
    parser.add_argument(
        "--event", default="pull_request", choices=["pull_request", "push", "workflow_dispatch"]
    )
    parser.add_argument("--base", default="HEAD~1", help="pull_request: the base commit (default HEAD~1)")
    parser.add_argument("--pr", type=int, default=1, help="pull_request: its number")
    parser.add_argument("--branch", default="main", help="push/dispatch: the branch")
    parser.add_argument("--input", action="append", default=[], metavar="K=V", help="dispatch input")
    parser.add_argument("--secret", action="append", default=[], metavar="K=V")
    parser.add_argument("--var", action="append", default=[], metavar="K=V")
    parser.add_argument("--world", type=Path, help="the stubs' state (default: a fresh temporary one)")
    parser.add_argument("--gate", type=Path, default=FAKE_GATE, help="the delivery-gate checkout")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    work = Path(tempfile.mkdtemp(prefix="gate-harness-"))
    world = make_world(args.world or work)
    owner = args.repository.split("/")[0]
    harness = Harness(
        repository=args.repository,
        workflows=repo / ".github" / "workflows",
        checkouts={args.repository: repo, f"{owner}/delivery-gate": args.gate},
        world=world.root,
        bin_dirs=[STUBS],
        secrets=_pairs(args.secret),
        vars=_pairs(args.var),
        env={"GATE_HARNESS_PYTHON": sys.executable},
        work=work / "runner",
    )
    run = harness.run(args.workflow, event(args, repo))
    report(run)
    print(f"{args.workflow}: {run.result} (stub calls in {world.root / 'calls.jsonl'})")
    return 0 if run.result == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
