"""GitHub work of the gate at organisation scale, per merge-gate mode (issue 14 item 4).

At real scale the binding limits are GitHub's, not the plan's: one token may make 5,000 REST calls
an hour, and GitHub accepts about 500 content-creating requests (commits, branches, pull requests)
an hour. For each mode (branch-protection, rulesets, organization) this prints, for 100 / 1,000 /
5,000 repositories: the GitHub resources, the REST calls one `pulumi refresh` makes to read them
(and the hours of one token that is), the lookups a preview makes, and the commits and hours of
the first `pulumi up`, of a change to one gate workflow and of a change to all of them.

Every count comes from real plans: the real program, through gate.offline.plan.build_plan, plans a
generated stack with 1, 2 and 3 repositories (default settings, as bench/plan_scale.py generates
them). Each count must be affine in the number of repositories, fixed + per-repository * N (the
first repository, which deploys the application, is in the fixed part); the script fails loudly
when one is not, and otherwise extrapolates. A workflow change is planned, not assumed: the same
stacks are planned again with one workflow setting changed, and every GitHub resource whose URN is
new or whose inputs differ is one write (a RepositoryFile one commit). In the repository modes that
includes the whole gate pull request of every repository (a new revision re-commits all its files
on a new branch: gate/github/filesupdate.py); in organisation mode the central files of each group
of repositories with the same settings (gate/github/centralfiles.py), one group here.

    python bench/org_scale.py [--sizes 100,1000,5000] [--samples 1,2,3]

It prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

MODES = ("branch-protection", "rulesets", "organization")
CENTRAL_REPOSITORY = "gate-workflows"

# REST calls to read one resource in `pulumi refresh`, by type (pulumi-github, built on the
# Terraform provider): a committed file is read twice (its content, and the commit that last
# changed it); every other resource once. Classic branch protection is read through GraphQL, which
# has a budget of its own; it is counted here as one call all the same. Providers, components and
# stack references cost GitHub nothing.
READ_COST: Mapping[str, int] = {"github:index/repositoryFile:RepositoryFile": 2}
DEFAULT_READ_COST = 1
# What GitHub counts as content creation (about 500 an hour): a commit, a branch, a pull request.
CONTENT_TYPES = (
    "github:index/repositoryFile:RepositoryFile",
    "github:index/branch:Branch",
    "github:index/repositoryPullRequest:RepositoryPullRequest",
)
FILE_TYPE = CONTENT_TYPES[0]
API_PER_HOUR = 5000
CONTENT_PER_HOUR = 500

# The workflow changes planned: one gate workflow (infra-preview.yml alone reads infraStack) and all
# of them (every job runs on workflows.runner).
ONE_WORKFLOW = {"infraStack": "staging"}
ALL_WORKFLOWS = {"runner": "ubuntu-22.04"}


def settings(mode: str, workflows: Mapping[str, str] | None = None) -> list[str]:
    """The generated stack's lines beyond bench/plan_scale.py's: the merge-gate mode, a workflow change."""
    lines = ["  delivery-gate:mergeGate:", f"    mode: {mode}"]
    if mode == "organization":
        lines += ["    organization:", f"      centralRepository: {CENTRAL_REPOSITORY}"]
    if workflows:
        lines.append("  delivery-gate:workflows:")
        lines += [f"    {key}: {value}" for key, value in workflows.items()]
    return lines


def plan(workdir: Path, mode: str, size: int, workflows: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The offline plan of a generated project: `size` repositories gated in `mode`."""
    from bench.plan_scale import project_with  # noqa: PLC0415 - after --help, which needs no Pulumi
    from gate.offline.plan import build_plan  # noqa: PLC0415

    name = f"{mode}-{size}-{'-'.join(f'{k}-{v}' for k, v in (workflows or {}).items())}"
    return build_plan(project_with(size, workdir, settings(mode, workflows), name=name), "dev")


def github_resources(plan_document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """URN -> resource, of the resources GitHub holds (no providers, components or references)."""
    return {
        r["urn"]: r
        for r in plan_document["resources"]
        if r["custom"] and r["type"].startswith("github:index/") and "read" not in r["options"]
    }


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The GitHub resources `pulumi up` writes to go from `before` to `after`: new ones, and those
    whose inputs differ (an update, or a replacement, which creates anew)."""
    old, new = github_resources(before), github_resources(after)
    return [r for urn, r in sorted(new.items()) if urn not in old or old[urn]["inputs"] != r["inputs"]]


def commits(resources: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for r in resources if r["type"] == FILE_TYPE)


def content_requests(resources: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for r in resources if r["type"] in CONTENT_TYPES)


@dataclass(frozen=True)
class Counts:
    """What one planned size costs on GitHub."""

    resources: int
    refresh_calls: int
    lookups: int
    first_up_commits: int
    first_up_content: int
    one_commits: int
    one_content: int
    all_commits: int
    all_content: int


def counts(workdir: Path, mode: str, size: int) -> Counts:
    base = plan(workdir, mode, size)
    one = changed(base, plan(workdir, mode, size, ONE_WORKFLOW))
    every = changed(base, plan(workdir, mode, size, ALL_WORKFLOWS))
    held = list(github_resources(base).values())
    lookups = {(i["token"], repr(sorted(i["args"].items()))) for i in base["invokes"]}
    return Counts(
        resources=len(held),
        refresh_calls=sum(READ_COST.get(r["type"], DEFAULT_READ_COST) for r in held),
        # Distinct lookups (teams, the central repository, each CODEOWNERS read): preview and up
        # make them, refresh does not.
        lookups=sum(1 for token, _ in lookups if token.startswith("github:")),
        first_up_commits=commits(held),
        first_up_content=content_requests(held),
        one_commits=commits(one),
        one_content=content_requests(one),
        all_commits=commits(every),
        all_content=content_requests(every),
    )


@dataclass(frozen=True)
class Affine:
    """fixed + per_repository * N, read off plans of consecutive sizes."""

    fixed: int
    per_repository: int

    def at(self, size: int) -> int:
        return self.fixed + self.per_repository * size


def affine(name: str, mode: str, samples: Sequence[int], values: Sequence[int]) -> Affine:
    """The affine law through (samples, values); SystemExit when the points are not on one line:
    extrapolating them would print figures nobody measured."""
    points = dict(zip(samples, values, strict=True))
    slopes = {(values[i + 1] - values[i]) / (samples[i + 1] - samples[i]) for i in range(len(samples) - 1)}
    if len(slopes) != 1 or not next(iter(slopes)).is_integer():
        raise SystemExit(
            f"org_scale: {mode} {name} is not affine in the number of repositories: {points}; "
            "an extrapolation would print figures nobody measured"
        )
    per = int(next(iter(slopes)))
    return Affine(values[0] - per * samples[0], per)


def laws(workdir: Path, mode: str, samples: Sequence[int]) -> dict[str, Affine]:
    measured = [counts(workdir, mode, size) for size in samples]
    return {
        field: affine(field, mode, samples, [getattr(c, field) for c in measured])
        for field in Counts.__dataclass_fields__
    }


def hours(requests: int, per_hour: int) -> str:
    return f"{requests / per_hour:,.1f} h"


def with_hours(law: Mapping[str, Affine], count: str, requests: str, size: int, per_hour: int) -> str:
    """`count` at `size`, and the hours its `requests` take at `per_hour`."""
    return f"{law[count].at(size):,} ({hours(law[requests].at(size), per_hour)})"


# (header, cell): hours of REST calls at one token's 5,000/h; hours of content-creating requests
# (a change's commits and the branches and pull requests that carry them) at 500/h.
COLUMNS: Sequence[tuple[str, Callable[[Mapping[str, Affine], int], str]]] = (
    ("GitHub resources", lambda law, n: f"{law['resources'].at(n):,}"),
    (
        "REST calls / refresh (h at 5,000/h)",
        lambda law, n: with_hours(law, "refresh_calls", "refresh_calls", n, API_PER_HOUR),
    ),
    ("lookups / preview", lambda law, n: f"{law['lookups'].at(n):,}"),
    (
        "first up: commits (h at 500/h)",
        lambda law, n: with_hours(law, "first_up_commits", "first_up_content", n, CONTENT_PER_HOUR),
    ),
    (
        "one workflow changed: commits (h)",
        lambda law, n: with_hours(law, "one_commits", "one_content", n, CONTENT_PER_HOUR),
    ),
    (
        "all workflows changed: commits (h)",
        lambda law, n: with_hours(law, "all_commits", "all_content", n, CONTENT_PER_HOUR),
    ),
)


def table(results: Mapping[str, Mapping[str, Affine]], sizes: Sequence[int]) -> list[str]:
    header = ["mode", "repositories", *(name for name, _ in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for mode, law in results.items():
        for size in sizes:
            cells = [mode, f"{size:,}", *(cell(law, size) for _, cell in COLUMNS)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def formulas(results: Mapping[str, Mapping[str, Affine]]) -> list[str]:
    lines = ["", "per mode, fixed + per repository (from the plans of the sample sizes):"]
    for mode, law in results.items():
        parts = [f"{field} {a.fixed:+} {a.per_repository:+}/repo" for field, a in law.items()]
        lines.append(f"  {mode}: " + ", ".join(parts))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="repositories to extrapolate to")
    parser.add_argument("--samples", default="1,2,3", help="repositories of the planned stacks (3+)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    samples = [int(s) for s in args.samples.split(",")]
    if len(samples) < 3 or samples != sorted(set(samples)):
        parser.error("--samples: at least three increasing sizes (two points always lie on a line)")
    with tempfile.TemporaryDirectory(prefix="org-scale-") as tmp:
        results = {mode: laws(Path(tmp), mode, samples) for mode in MODES}
    print("\n".join(table(results, sizes) + formulas(results)))
    print(
        f"\nREST calls per refresh: RepositoryFile {READ_COST[FILE_TYPE]} reads, every other GitHub "
        f"resource {DEFAULT_READ_COST}; content-creating requests: commits, branches, pull requests. "
        f"One workflow: workflows.{next(iter(ONE_WORKFLOW))}; all workflows: "
        f"workflows.{next(iter(ALL_WORKFLOWS))}."
    )
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # bench.plan_scale's generator, and gate
    sys.exit(main())
