"""Gate rules over the derived desired state, enforced before any resource is declared.

Cross-field rules about the configuration itself live in gate/policy/model.py (validators); the rules
here need what the policy renders, such as the workflows, and fail the plan and `pulumi up` alike.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from gate.errors import RuleViolation
from gate.github import organization
from gate.github.concurrency import RULE_ID as CONCURRENCY_RULE
from gate.github.concurrency import check_call_concurrency
from gate.github.liveness import RULE_ID as LIVENESS_RULE
from gate.github.liveness import check_liveness
from gate.github.repository import branch_gates, workflows_run_for
from gate.github.workflows import WORKFLOW_DIR
from gate.github.yamlload import load_workflow
from gate.offline.engine import get_root_directory
from gate.policy import nonnegotiables, repopolicy, workflowtemplates
from gate.policy.layers import base_source
from gate.policy.loader import stack_file
from gate.policy.memo import once
from gate.policy.model import GatePolicy, Repository
from gate.policy.stackfile import EPHEMERAL_TEMPLATE, ephemeral_template, stack_config_source
from gate.policy.types import MergeGateMode
from gate.runtime import dashboards
from gate.runtime.flags import enforce_flag_rules, today_for_rules


def parse_workflow(text: str) -> Any:
    """A rendered workflow as GitHub reads it: YAML 1.1 (`on` and `off` keys are booleans)."""
    # libyaml's loader, the same YAML 1.1 reading as safe_load, with tags resolved once per text
    # and plain documents built in one walk (gate/github/yamlload.py).
    return load_workflow(text)


def _parsed(policy: GatePolicy, rendered: dict[str, str], name: str) -> dict[str, Any]:
    """Workflow file name -> document, parsed once per policy object and distinct text (issue 14
    item 3): most of a repository's workflows do not mention it, so many repositories render the
    same text, and the liveness, concurrency and GATE-ORG-01 rules all read it. A text that names
    the repository is parsed once per template, the text with the name taken out, shared by every
    repository whose text differs only by its name (gate/policy/workflowtemplates.py). The documents
    are shared between repositories: the rules only read them."""
    prefix = f"{WORKFLOW_DIR}/"
    return {
        path.removeprefix(prefix): workflow_document(policy, text, name)
        for path, text in rendered.items()
        if path.startswith(prefix)
    }


def workflow_document(policy: GatePolicy, text: str, name: str) -> Any:
    """The document GitHub reads from `text`, a workflow of repository `name`: a parse of the text,
    or of its template with the name put back where that is the same (tests/test_workflow_templates.py)."""
    template = workflowtemplates.name_template(text, name)
    if template is not None and template is not text:
        parsed = once(
            policy,
            ("parsed_workflow_template", template),
            functools.partial(workflowtemplates.parse_template, template, parse_workflow),
        )
        document = None if parsed is None else workflowtemplates.with_name(parsed, name)
        if document is not None:
            return document
    return once(policy, ("parsed_workflow", text), functools.partial(parse_workflow, text))


def required_workflows(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """Organisation mode: the central repository's required workflows of `repo`, as GitHub will
    parse them (central file name -> document); none in the other modes. The documents are
    shared (see _parsed): read them, never change them."""
    if policy.merge_gate.mode is not MergeGateMode.ORGANIZATION:
        return {}
    return _parsed(policy, organization.render_required_workflows(policy, repo), repo.name)


def committed_workflows(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """Every workflow GitHub runs for `repo` (file name -> document): the gate's workflows in the
    repository and, in organisation mode, its required workflows in the central repository. The
    documents are shared (see _parsed): read them, never change them."""
    if not policy.workflows.commit:
        return {}
    return _parsed(policy, workflows_run_for(policy, repo), repo.name)


def enforce_rules(
    policy: GatePolicy, stack: str, source: str | None = None, flags_source: str | None = None
) -> nonnegotiables.Verdict:
    """The flag rules (GATE-DP-05..08); the non-negotiables on the computed gate (GATE-NN-01..06,
    less what a valid exception waives); then, per gated repository, liveness (GATE-M9-03: every
    required check on every protected branch is reported) and call concurrency (GATE-M9-04: no
    reusable-workflow call is cancelled as a deadlock) and, in organisation mode, GATE-ORG-01 (every
    central workflow can run as a required workflow, on code the pull request cannot change). Only
    the stack that commits the workflows and declares the merge gate checks these: the other stacks
    declare neither. Returns the non-negotiables' verdict, whose waivers the stack exports.
    """
    program = source is None  # under `pulumi up` or the offline plan, not `gate check`
    if source is None and policy.ephemeral is not None:
        root = Path(get_root_directory())
        source = ephemeral_template(root, policy.ephemeral.repository) or EPHEMERAL_TEMPLATE
    source = source or stack_file(stack)
    today = today_for_rules()
    # GATE-DP-05..08: every stack checks the flags it deploys, defined in the base file when the
    # project has one (gate/policy/layers.py: flags are defined once, there).
    definitions = flags_source
    if definitions is None and program:
        base = base_source(stack_config_source(Path(get_root_directory()), stack))
        definitions = base if (Path(get_root_directory()) / base).is_file() else None
    enforce_flag_rules(policy, source, today, definitions)
    verdict = nonnegotiables.judge(policy, today)
    lines = list(verdict.violations)
    hints = [_EXCEPTION_HINT] if lines else []
    if policy.ephemeral is None:
        # GATE-OBS-01: the environment's dashboard shows every alert's and analysis metric's query.
        lines += [f"[{dashboards.RULE_ID}] {v}" for v in dashboards.coverage_problems(policy)]
    for repo in policy.repositories if policy.owns_merge_gate else ():
        required = {gate.pattern: gate.required_checks for gate in branch_gates(policy, repo)}
        workflows = committed_workflows(policy, repo)
        # Exempt from liveness only what the repository or the catalogue declares external (an
        # app or another CI reports it; gate/policy/repopolicy.py), never a gate check nobody reports.
        external = repopolicy.external_check_names(policy, repo)
        unreported = check_liveness(
            repo.full_name, required, workflows, external=external, merge_queue=repo.merge_queue
        )
        lines += [f"[{LIVENESS_RULE}] {v}" for v in unreported]
        deadlocks = check_call_concurrency(repo.full_name, workflows, repo.default_branch)
        lines += [f"[{CONCURRENCY_RULE}] {v}" for v in deadlocks]
        central = required_workflows(policy, repo)
        lines += [
            f"[{organization.RULE_ID}] {v}"
            for v in organization.check_required_workflows(repo.full_name, central)
        ]
        if unreported and _LIVENESS_HINT not in hints:
            hints.append(_LIVENESS_HINT)
        if deadlocks and _CONCURRENCY_HINT not in hints:
            hints.append(_CONCURRENCY_HINT)
    if lines:
        raise RuleViolation(source, lines + [f"hint: {hint}" for hint in hints])
    return verdict


_EXCEPTION_HINT = (
    "the policy's non-negotiables hold on what the gate finally declares; a stack that must have "
    "less declares an exception: delivery-gate:exceptions: [{rule, reason, approvedBy, expires}] "
    "(never for GATE-NN-01, the security scan)"
)
_LIVENESS_HINT = (
    "a required check no workflow reports blocks every merge; rename the job, remove the "
    "filter, or declare the check in repositories[].externalChecks"
)
_CONCURRENCY_HINT = (
    "key a called workflow's concurrency group by what it checks (its inputs), never by "
    "github.workflow, which is the caller's name inside a call"
)
