"""The release contract (delivery-policy.md §Pre-Deployment), as the gate renders and commits it.

DP §Pre-Deployment: "Release contract completed (`work/releases/_TEMPLATE-release-contract.md`)",
with the other pre-deployment lines it gathers in one place: the rollback plan "documented and
tested", feature flags, backward-compatible migrations, observability (dashboard, alerts with
runbooks), and from §Deployment Process the rollout plan and the deployment window "communicated to
stakeholders".

The gate commits the template (`releaseContract.directory`/_TEMPLATE-release-contract.md) into
each gated repository, code-owned by the platform team like its other files. Release V (branch
`release/V`, the part of `releaseBranchPattern` matched by `*`; tag `<tagPrefix>V`) needs
`<directory>/V.md`: every section of the template, each with its author's text, every checkbox of
the template, none left unchecked. The required `release-contract` check (GATE-DP-14) runs
`tools/release_check.py` on every pull request (liveness, GATE-M9-03) and decides inside: a pull
request into a release branch fails without a complete contract; one into the default branch that
adds or changes a contract has that contract validated; any other passes ("not a release"). The
production deploy runs `python tools/release_check.py contract --version V` itself (deploy.yml).

What stays human judgement: whether the text of a section is true (the rollback really was
tested, the window really was announced). The check proves it was written and every box ticked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.bundled import tool_source
from gate.policy.model import GatePolicy, Repository

CHECK_NAME = "release-contract"
WORKFLOW_FILE = "release-contract.yml"
RELEASE_CHECK_PATH = "tools/release_check.py"
TEMPLATE_NAME = "_TEMPLATE-release-contract.md"

COMMAND = f"python {RELEASE_CHECK_PATH} pull-request --check {CHECK_NAME}"

# GitHub's defaults (opened, synchronize, reopened; liveness needs them) plus `edited`: changing
# a pull request's base branch (main -> release/V) is an edit, and must re-run the verdict.
PULL_REQUEST_TYPES = ("opened", "synchronize", "reopened", "edited")

# The policy's sections, in the template's order; tools/release_check.py SECTIONS is the same
# tuple (a test keeps them equal), so a template edited to drop one still fails the check.
SECTIONS = (
    "Scope",
    "Rollout plan",
    "Rollback plan",
    "Feature flags",
    "Database migrations",
    "Observability",
    "Deployment window",
)


def release_check_source() -> str:
    """tools/release_check.py, committed into each gated repository."""
    return tool_source(RELEASE_CHECK_PATH)


def template_path(policy: GatePolicy) -> str:
    return f"{policy.release_contract.directory}/{TEMPLATE_NAME}"


def contract_path(policy: GatePolicy, version: str) -> str:
    """Where release `version`'s contract lives in the gated repository."""
    return f"{policy.release_contract.directory}/{version}.md"


def contract_command(policy: GatePolicy, version_variable: str = "VERSION") -> str:
    """The shell line a job runs (from the gated repository's checkout) to refuse a release
    without a complete contract: exit 0 complete, 1 not (each problem an ::error:: line), 2 cannot
    run. The version comes from an environment variable, never interpolated into the script."""
    directory = policy.release_contract.directory  # a validated RelativeDirectory: no quoting needed
    return f'python {RELEASE_CHECK_PATH} contract --version "${{{version_variable}}}" --directory {directory}'


def render_template(policy: GatePolicy) -> str:
    """The contract template: one `##` section per policy line, guidance in HTML comments (which
    do not count as text, so a copied template fails until it is written), and the boxes the
    author ticks."""
    chain = " → ".join(env.name for env in policy.environments)
    stages = " → ".join(f"{stage}%" for stage in policy.rollout.stages)
    production = policy.environments[-1]
    tested_in = production.promotes_from or policy.environments[0].name
    notes = policy.release_notes
    categories = ", ".join(f"`{label}`" for label in notes.categories)
    directory = policy.release_contract.directory
    lines = [
        "<!-- Managed by delivery-gate (Pulumi): edits here are overwritten on the next `pulumi up`. -->",
        "# Release contract: <version>",
        "",
        f"<!-- Copy this file to {directory}/<version>.md for release <version> (branch "
        f"release/<version>, tag {notes.tag_prefix}<version>). Write every section and tick every "
        "box: the required `release-contract` check fails a pull request into the release branch "
        "until it is complete, and the production deploy refuses the release without it "
        "(delivery-policy.md §Pre-Deployment: release contract completed). -->",
        "",
        "## Scope",
        "<!-- What this release changes, for customers and for operators; link the release notes. -->",
        f"- [ ] Every change is labelled with a release-notes category ({categories})",
        "- [ ] All quality policy evaluations passed (security, architecture, performance, observability)",
        "",
        "## Rollout plan",
        "<!-- What the rollout watches for this release, and anything it does beyond the gate's "
        "defaults. -->",
        f"- [ ] Through every environment in order: {chain}, none skipped",
        f"- [ ] Progressive rollout {stages}, {policy.rollout.bake_time} analysis at each step "
        "(delivery-policy.md §Deployment Process)",
        "- [ ] Health checks defined and monitored at each stage",
        "",
        "## Rollback plan",
        "<!-- How this release is rolled back, what a rollback restores, and how and when the "
        f"rollback was tested (link the {tested_in} run or drill). -->",
        "- [ ] Rollback plan documented (delivery-policy.md §Pre-Deployment)",
        f"- [ ] Rollback tested in {tested_in}",
        "- [ ] Automatic rollback triggers configured (error rate, p99 latency, health checks, "
        "critical alerts)",
        "",
        "## Feature flags",
        "<!-- The flags of the new features and their state per environment, or 'none'. -->",
        "- [ ] New features are behind feature flags, off in production until promoted",
        "",
        "## Database migrations",
        "<!-- Each migration and why the previous release still runs against it, or 'none'. -->",
        "- [ ] Database migrations are backward-compatible",
        "",
        "## Observability",
        "<!-- Links: dashboard, alerts, runbooks, SLOs for what this release changes. -->",
        "- [ ] Dashboard created or updated",
        "- [ ] Alerting with runbooks in place; SLOs configured",
        "- [ ] Telemetry verified: traces, metrics and logs flowing",
        "",
        "## Deployment window",
        "<!-- When (date, time, time zone) and who was told (channels, people). -->",
        "- [ ] Deployment window communicated to stakeholders (delivery-policy.md §Deployment Process)",
    ]
    return "\n".join(lines) + "\n"


def check_env(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """The step's env: validated model fields only; the script reads the event itself."""
    return {
        "RELEASE_BRANCH_PATTERN": repo.release_branch_pattern,
        "CONTRACT_DIRECTORY": policy.release_contract.directory,
    }


def triggers(pr_triggers: Mapping[str, Any]) -> dict[str, Any]:
    """`pr_triggers(repo)` (both protected branches, the merge queue where used), with `edited`."""
    on = {
        event: dict(config) if isinstance(config, Mapping) else config
        for event, config in pr_triggers.items()
    }
    on["pull_request"] = {**on["pull_request"], "types": list(PULL_REQUEST_TYPES)}
    return on
