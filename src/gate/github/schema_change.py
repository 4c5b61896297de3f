"""The `schema-change` check (M9 §Exceptions & manual approval), as the gate renders and commits it.

M9: "If a PR intentionally changes trace schema, it must include: golden fixture updates, migration
plan (alembic), SLO migration notes. Schema-change PRs require explicit approval from 2 reviewers (one
backend, one QA) and a sign-off by the product owner." Rulesets mode can require the team approvals
on the schema paths, classic branch protection cannot, and neither can ask for the artifacts. So the
rule is a required check, the same in every merge-gate mode: `schema-change.yml` runs
`tools/schema_change_check.py` (standard library only, committed into each gated repository beside
tools/k6_slo_mapper.py), which decides inside whether the schema changed and what is missing.

It runs on every pull request (no path filter: GATE-M9-03 proves it is reported), in the merge queue,
and again on `pull_request_review` (submitted, dismissed): a review changes the verdict, and GitHub
reports that run under the same check name (the job's `name:`) on the pull request's head commit,
where the latest run of the name is the one branch protection reads. Liveness is proven from the
`pull_request` trigger alone; a review-triggered run only ever re-evaluates.

Tokens: the job's own token (`pull-requests: read`) reads the pull request and its reviews; team
membership needs organisation read access, which that token never has, so it comes from a
repository secret (`reviews.schemaChange.teamReaderSecret`, default GATE_TEAM_READER_TOKEN) given
only to the one step that needs it. A fork's pull request gets no secrets: with a merge queue its
approvals are checked on `merge_group`; without one a schema change from a fork fails, saying so.

gate/github/workflows.py builds the job from what this module renders; gate/github/repository.py commits the
script
(SCHEMA_CHECK_PATH, schema_check_source()).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.bundled import tool_source
from gate.github.yamltext import Commented
from gate.policy.model import GatePolicy, Repository

CHECK_NAME = "schema-change"
WORKFLOW_FILE = "schema-change.yml"
SCHEMA_CHECK_PATH = "tools/schema_change_check.py"

# The command the job runs (python from setup-python; the script reads everything from its env).
COMMAND = f"python {SCHEMA_CHECK_PATH}"

# pull_request: GitHub's defaults (opened, synchronize, reopened), which liveness requires, plus the
# events that change the verdict: a label added or removed (the schema-change label marks a schema
# change even when no schema path changed) and a draft made ready.
PULL_REQUEST_TYPES = ("opened", "synchronize", "reopened", "labeled", "unlabeled", "ready_for_review")
# A submitted review may complete the approvals; a dismissed one may withdraw them.
REVIEW_TYPES = ("submitted", "dismissed")

# The job's token for the pull request and its reviews; the team reader only for team members.
JOB_TOKEN = "${{ github.token }}"


def schema_check_source() -> str:
    """tools/schema_change_check.py, committed into each gated repository for schema-change.yml."""
    return tool_source(SCHEMA_CHECK_PATH)


def fixture_paths(policy: GatePolicy) -> tuple[str, ...]:
    """The golden fixtures of a schema change: `reviews.schemaChange.fixturePaths`, or everything
    under `workflows.goldenDir` (the fixtures determinism-canonical-json compares with)."""
    rule = policy.reviews.schema_change
    if rule.fixture_paths is not None:
        return tuple(rule.fixture_paths)
    return (f"{policy.workflows.golden_dir}/**",)


def _lines(patterns: tuple[str, ...]) -> str:
    return "\n".join(patterns)


def check_env(policy: GatePolicy, repo: Repository) -> dict[str, str | Commented]:
    """The env of the step that runs the script: the rule from the policy and the two tokens. Values
    are validated model fields (globs, slugs, a label, a secret name), never event data; the script
    reads the event itself from GITHUB_EVENT_PATH."""
    rule = policy.reviews.schema_change
    return {
        "GH_TOKEN": JOB_TOKEN,
        # A repository secret on purpose: it only reads team membership (org Members: read), and an
        # environment would add a deployment record to every pull request.
        "TEAM_READER_TOKEN": Commented(
            f"${{{{ secrets.{rule.team_reader_secret} }}}}",
            "zizmor: ignore[secrets-outside-env] reads team membership only",
        ),
        "TEAM_READER_SECRET": rule.team_reader_secret,
        "SCHEMA_PATHS": _lines(tuple(rule.paths)),
        "FIXTURE_PATHS": _lines(fixture_paths(policy)),
        "MIGRATION_PATHS": _lines(tuple(rule.migration_paths)),
        "SLO_NOTES_PATHS": _lines(tuple(rule.slo_notes_paths)),
        "SCHEMA_LABEL": rule.label,
        "BACKEND_TEAM": rule.backend_team,
        "QA_TEAM": rule.qa_team,
        "PRODUCT_OWNER_TEAM": rule.product_owner_team,
        "REQUIRED_APPROVALS": str(rule.required_approvals),
        "MERGE_QUEUE": "true" if repo.merge_queue else "false",
    }


def triggers(pr_triggers: Mapping[str, Any]) -> dict[str, Any]:
    """`pr_triggers(repo)` (pull requests into the protected branches, the merge queue where one is
    used) with the pull-request types above and `pull_request_review`. `pull_request_review` takes
    no branch filter; a review of a pull request into another branch re-runs a check nobody
    requires there, which is harmless."""
    on = {
        event: dict(config) if isinstance(config, Mapping) else config
        for event, config in pr_triggers.items()
    }
    on["pull_request"] = {**on["pull_request"], "types": list(PULL_REQUEST_TYPES)}
    on["pull_request_review"] = {"types": list(REVIEW_TYPES)}
    return on
