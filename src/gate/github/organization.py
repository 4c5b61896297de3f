"""Organisation mode: the pull-request checks run as required workflows from one central repository.

In the repository modes (branch protection, repository rulesets) the gate commits its workflows into
each gated repository and code-owns them by the platform team. In organisation mode
(`mergeGate.mode: organization`, GitHub Enterprise Cloud) an organisation ruleset per gated
repository and protected branch *requires* the gate's pull-request workflows, which live in one
central repository on a branch only the platform team and organisation owners can update, pinned by
that ref. GitHub runs them on the gated repository's pull requests and merge queue; the gated
repository holds no copy a pull request could rewrite.

Issue 14 item 4: the central repository holds one copy per group of repositories whose required
workflows render the same (gate/github/centralfiles.py), not one per repository; the workflows take
the repository's name from the run's context. A change to a gate workflow is one commit per group.

What stays in the gated repository, and why that is safe:
- `deploy.yml`, `ephemeral-janitor.yml` (scheduled), `publish-release-notes.yml` (tag push) and
  the post-merge form of `e2e-parity-check.yml`: required workflows only run on `pull_request`,
  `pull_request_target` and `merge_group`, so pushes, schedules and deploys need workflows of the
  repository's own. They are code-owned by the platform team; the deploy roles trust only
  deploy.yml on the default branch, the pull-request roles only the janitor there (gate/aws/foundation.py).
- `schema-change-rerun.yml`: `pull_request_review` cannot trigger a required workflow, so this
  helper re-runs the required `schema-change` run when a review is submitted or dismissed. Rewriting
  it can only withhold a re-run, never pass the check: the verdict is the central workflow's.
- The gate's tools (`tools/*.py`): the central workflows verify each against the digest rendered
  into them before running it, so a pull request that edits a tool fails the check that runs it.

Rule GATE-ORG-01 checks that every central workflow can be a required workflow: only the events
GitHub runs required workflows on, and no local `./` action or reusable workflow, which would
resolve inside the gated repository's checkout, code a pull request controls.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gate.errors import GateError
from gate.github import automation, release_contract, release_notes, schema_change
from gate.github.centralfiles import central_file
from gate.github.schema_change import SCHEMA_CHECK_PATH, schema_check_source
from gate.github.workflows import (
    E2E_WORKFLOW,
    K6_MAPPER_PATH,
    SAME_REPOSITORY,
    WORKFLOW_DIR,
    Job,
    Step,
    copied_documents,
    job,
    k6_mapper_source,
    render_documents,
    run,
    shared_workflow_documents,
    workflow,
)
from gate.policy.memo import once
from gate.policy.model import GatePolicy, Repository
from gate.promotion import drill, emergency

RULE_ID = "GATE-ORG-01"
# The only events GitHub runs a ruleset's required workflow on; it ignores every other trigger.
REQUIRED_WORKFLOW_EVENTS = ("pull_request", "pull_request_target", "merge_group")
# Workflows that never run on a pull request stay in the gated repository: deploy.yml, and the
# alert relay's mismatch-automation.yml (repository_dispatch; gate/github/automation.py), where it has one;
# the scheduled ephemeral-janitor.yml.
REPOSITORY_WORKFLOWS = (
    "deploy.yml",
    automation.FILE,
    "ephemeral-janitor.yml",
    release_notes.PUBLISH_WORKFLOW,
    # Issue 12, part emergency: workflow_dispatch only, like deploy.yml (gate/promotion/emergency.py).
    emergency.WORKFLOW_FILE,
    drill.WORKFLOW_FILE,  # issue 12, part "drill": scheduled, in the repository like deploy.yml
)
RERUN_WORKFLOW = "schema-change-rerun.yml"


def central_path(policy: GatePolicy, repo: Repository, file: str) -> str:
    """The central repository's path of `repo`'s required workflow `file` (shared by its group)."""
    return f"{WORKFLOW_DIR}/{central_file(policy, repo, file)}"


def gate_tools() -> dict[str, str]:
    """Repository path -> source of the tools the gate commits and its workflows run."""
    return {
        K6_MAPPER_PATH: k6_mapper_source(),
        SCHEMA_CHECK_PATH: schema_check_source(),
        release_contract.RELEASE_CHECK_PATH: release_contract.release_check_source(),
    }


def required_workflow_documents(policy: GatePolicy, repo: Repository) -> dict[str, dict[str, Any]]:
    """Workflow file name -> the document the central repository holds for this repository: its
    pull-request workflows, on the events required workflows run on, verifying the gate's tools.
    A copy of the shared documents, the caller's to change."""
    return copied_documents(shared_required_workflow_documents(policy, repo))


def shared_required_workflow_documents(
    policy: GatePolicy, repo: Repository
) -> Mapping[str, Mapping[str, Any]]:
    """`required_workflow_documents`, built once per policy object and repository settings (issue
    14 item 3; read by the rulesets, the central repository and GATE-ORG-01): read-only."""
    return once(policy, ("required_workflow_documents", repo), lambda: _required_documents(policy, repo))


def _tool_digests() -> dict[str, str]:
    return {path: hashlib.sha256(source.encode()).hexdigest() for path, source in gate_tools().items()}


def _required_documents(policy: GatePolicy, repo: Repository) -> dict[str, dict[str, Any]]:
    # The same tools for every repository of the policy: hashed once per policy, not per repository.
    digests = once(policy, "gate_tool_digests", _tool_digests)
    documents: dict[str, dict[str, Any]] = {}
    # The repository's name from the run's context: the document is its whole group's (issue 14 item 4).
    for file, document in shared_workflow_documents(policy, repo, names_from_context=True).items():
        if file in REPOSITORY_WORKFLOWS:
            continue
        on = {event: spec for event, spec in document["on"].items() if event in REQUIRED_WORKFLOW_EVENTS}
        if not on:
            # Issue 13, part repos: a post-merge-only workflow (e2e-parity-check.yml where the
            # repository does not require e2e-parity) is no required workflow.
            continue
        jobs = {job_id: _verifying_tools(body, digests) for job_id, body in document["jobs"].items()}
        defaults = _input_defaults(document["on"])
        documents[file] = _with_defaults({**document, "on": on, "jobs": jobs}, defaults)
    return documents


_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def _input_defaults(on: Mapping[str, Any]) -> dict[str, str]:
    """Input name -> its default as an expression literal, from the call and dispatch triggers a
    required workflow loses: on a pull request the inputs are unset and take these values."""
    defaults: dict[str, str] = {}
    for event in ("workflow_call", "workflow_dispatch"):
        for name, spec in ((on.get(event) or {}).get("inputs") or {}).items():
            default = spec.get("default", False if spec.get("type") == "boolean" else "")
            literal = str(default).replace("'", "''")
            defaults[name] = literal.lower() if isinstance(default, bool) else f"'{literal}'"
    return defaults


def _with_defaults(node: Any, defaults: Mapping[str, str]) -> Any:
    """The document with `inputs.<name>` inside every expression replaced by its default, since a
    workflow without inputs has no `inputs` context to read (actionlint refuses the reference), and
    the falsy defaults folded away where they are an operand of `||` (zizmor: obfuscation)."""
    if not defaults:
        return node
    if isinstance(node, dict):
        return {key: _with_defaults(value, defaults) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_defaults(value, defaults) for value in node]
    if isinstance(node, str) and "inputs." in node:
        pattern = re.compile(r"\binputs\.(" + "|".join(map(re.escape, defaults)) + r")\b")

        def substitute(expression: re.Match[str]) -> str:
            folded = pattern.sub(lambda i: defaults[i.group(1)], expression.group(0))
            folded = _FALSY_FIRST.sub("", folded)
            folded = _FALSY_LAST.sub("", folded)
            return "" if _FALSY_ONLY.fullmatch(folded) else folded

        return _EXPRESSION.sub(substitute, node)
    return node


# A falsy literal that is a whole operand of `||`: `'' || x` and `x || false` are `x`.
_FALSY_FIRST = re.compile(r"(?:(?<=\{\{ )|(?<=\()|(?<=\|\| ))(?:''|false) \|\| ")
_FALSY_LAST = re.compile(r" \|\| (?:''|false)(?= \}\}|\))")
_FALSY_ONLY = re.compile(r"\$\{\{ (?:''|false) \}\}")


def render_required_workflows(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """Central repository path -> content of this repository's required workflows.

    Rendered once per policy object and repository settings (issue 14 item 3): GATE-ORG-01 and the
    liveness rule parse, and the central repository commits, the very same text objects. A new dict
    each call (the texts themselves are immutable), so a caller may add to it."""

    def render() -> dict[str, str]:
        documents = shared_required_workflow_documents(policy, repo)
        return render_documents({central_file(policy, repo, file): doc for file, doc in documents.items()})

    return dict(once(policy, ("render_required_workflows", repo), render))


def shared_required_workflows(policy: GatePolicy, repos: Sequence[Repository]) -> dict[str, str]:
    """Central repository path -> content of the required workflows of `repos`: one file per group
    and workflow, whatever the number or order of repositories. Refuses (a gate bug, not a
    configuration one) a group whose repositories would need different contents at one path: one
    of them would run the other's checks."""
    files: dict[str, str] = {}
    first: dict[str, Repository] = {}
    for repo in repos:
        for path, content in render_required_workflows(policy, repo).items():
            if path in files and files[path] != content:
                raise GateError(
                    f"{first[path].full_name} and {repo.full_name} share the central required workflow "
                    f"{path} (gate/github/centralfiles.py RENDERED_FIELDS) but render it differently: "
                    "a setting they differ in is missing from the group"
                )
            files.setdefault(path, content)
            first.setdefault(path, repo)
    return dict(sorted(files.items()))


def repository_workflow_documents(policy: GatePolicy, repo: Repository) -> dict[str, dict[str, Any]]:
    """Workflow file name -> the document the gated repository itself holds in organisation mode.
    A copy of the shared documents, the caller's to change."""
    return copied_documents(shared_repository_workflow_documents(policy, repo))


def shared_repository_workflow_documents(
    policy: GatePolicy, repo: Repository
) -> Mapping[str, Mapping[str, Any]]:
    """`repository_workflow_documents`, built once per policy object and repository settings
    (issue 14 item 3): read-only."""
    return once(policy, ("repository_workflow_documents", repo), lambda: _repository_documents(policy, repo))


def _repository_documents(policy: GatePolicy, repo: Repository) -> dict[str, Mapping[str, Any]]:
    documents = shared_workflow_documents(policy, repo)
    kept: dict[str, Mapping[str, Any]] = {
        file: documents[file] for file in REPOSITORY_WORKFLOWS if file in documents
    }
    if E2E_WORKFLOW in documents:
        # The post-merge parity check deploy.yml calls; its pull-request run is the central one.
        e2e = documents[E2E_WORKFLOW]
        on = {event: spec for event, spec in e2e["on"].items() if event not in REQUIRED_WORKFLOW_EVENTS}
        kept[E2E_WORKFLOW] = {**e2e, "on": on}
    if schema_change.WORKFLOW_FILE in documents:
        kept[RERUN_WORKFLOW] = rerun_workflow(policy, repo)
    return dict(sorted(kept.items()))


def _verifying_tools(body: Job, digests: Mapping[str, str]) -> Job:
    """The job with a step, before the first that runs a gate tool, that checks the tools it runs
    against the digests the gate rendered: the checkout is the pull request's, so it could hold an
    edited copy that always passes."""
    steps: list[Step] = body.get("steps", [])
    used = [path for path in digests if any(path in str(step.get("run", "")) for step in steps)]
    if not used:
        return body
    first = next(i for i, step in enumerate(steps) if any(path in str(step.get("run", "")) for path in used))
    listing = "".join(f"{digests[path]}  {path}\n" for path in used)
    verify = run("Verify the gate's tools", f"sha256sum --check --strict <<'DIGESTS'\n{listing}DIGESTS\n")
    return {**body, "steps": [*steps[:first], verify, *steps[first:]]}


_RERUN = """\
runs=$(gh api "repos/${REPOSITORY}/actions/runs?head_sha=${HEAD_SHA}&event=pull_request&per_page=100")
ids=$(printf '%s' "$runs" | python3 -c '
import json, sys
runs = json.load(sys.stdin).get("workflow_runs", [])
print(" ".join(str(r["id"]) for r in runs if r.get("name") == sys.argv[1] and r.get("status") == "completed"))
' "$WORKFLOW_NAME")
if [ -z "$ids" ]; then
  echo "::notice::no finished ${WORKFLOW_NAME} run for ${HEAD_SHA}: a running one reads the reviews itself"
  exit 0
fi
for id in $ids; do
  gh run rerun "$id" --repo "$REPOSITORY"
  echo "re-ran ${WORKFLOW_NAME} run ${id} for ${HEAD_SHA}"
done
"""


def rerun_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """M9 §Exceptions: approvals change the schema-change verdict, and a review cannot trigger a
    required workflow; this re-runs the required run on the reviewed head commit."""
    rerun = job(
        "rerun-schema-change",
        policy.workflows,
        [
            run(
                "Re-run the required schema-change check",
                _RERUN,
                GH_TOKEN="${{ github.token }}",
                REPOSITORY="${{ github.repository }}",
                HEAD_SHA="${{ github.event.pull_request.head.sha }}",
                WORKFLOW_NAME=schema_change.CHECK_NAME,
            )
        ],
        permissions={"actions": "write"},
    )
    # A fork's review event gets a read-only token; with a merge queue its approvals are checked
    # on merge_group (gate/github/schema_change.py).
    rerun = {"name": rerun["name"], "if": SAME_REPOSITORY, **rerun}
    on = {"pull_request_review": {"types": list(schema_change.REVIEW_TYPES)}}
    concurrency = {
        "group": "schema-change-rerun-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    return workflow("schema-change-rerun", on, {"rerun-schema-change": rerun}, concurrency=concurrency)


def check_required_workflows(repository: str, documents: Mapping[str, Any]) -> list[str]:
    """GATE-ORG-01: each central workflow runs as a required workflow, on code the PR cannot change."""
    problems: list[str] = []
    for file, document in sorted(documents.items()):
        on = document.get("on") or {}
        ignored = sorted(set(on) - set(REQUIRED_WORKFLOW_EVENTS))
        if ignored:
            problems.append(
                f"{repository}: required workflow {file} triggers on {', '.join(ignored)}, which GitHub "
                "ignores for required workflows"
            )
        if "pull_request" not in on:
            problems.append(f"{repository}: required workflow {file} does not run on pull_request")
        for job_id, body in (document.get("jobs") or {}).items():
            targets = [body.get("uses"), *(step.get("uses") for step in body.get("steps", []))]
            local = [str(target) for target in targets if str(target or "").startswith("./")]
            problems += [
                f"{repository}: required workflow {file} job {job_id} uses {target}, which resolves in "
                "the gated repository's checkout (code the pull request controls)"
                for target in local
            ]
    return problems
