"""Gate rules over the derived desired state, enforced before any resource is declared.

Cross-field rules about the configuration itself live in gate/model.py (validators); the rules
here need what the policy renders, such as the workflows, and fail the plan and `pulumi up` alike.
"""

from __future__ import annotations

from typing import Any

import yaml

from gate.errors import RuleViolation
from gate.flags import enforce_flag_rules, today_for_rules
from gate.github import branch_gates
from gate.liveness import RULE_ID, check_liveness
from gate.loader import stack_file
from gate.model import GatePolicy, Repository
from gate.stackfile import EPHEMERAL_TEMPLATE
from gate.workflows import WORKFLOW_DIR, render_workflows


def committed_workflows(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """The gate's workflows as GitHub will parse them (file name -> document)."""
    if not policy.workflows.commit:
        return {}
    prefix = f"{WORKFLOW_DIR}/"
    return {
        # libyaml's loader: the same YAML 1.1 reading as safe_load, several times faster.
        path.removeprefix(prefix): yaml.load(text, Loader=yaml.CSafeLoader)
        for path, text in render_workflows(policy, repo).items()
        if path.startswith(prefix)
    }


def enforce_rules(policy: GatePolicy, stack: str) -> None:
    """The flag rules (GATE-DP-05..08), then liveness (GATE-M9-03): every required check on every
    protected branch is reported. Only the stack that declares the merge gate checks liveness: the
    other stacks declare no branch protection that could wait forever.
    """
    source = EPHEMERAL_TEMPLATE if policy.ephemeral is not None else stack_file(stack)
    # GATE-DP-05..08: every stack checks the flags it deploys.
    enforce_flag_rules(policy, source, today_for_rules())
    if not policy.owns_merge_gate:
        return
    violations = []
    for repo in policy.repositories:
        required = {gate.pattern: gate.required_checks for gate in branch_gates(policy, repo)}
        violations += check_liveness(
            repo.full_name,
            required,
            committed_workflows(policy, repo),
            external=repo.external_checks,
            merge_queue=repo.merge_queue,
        )
    if violations:
        hint = (
            "a required check no workflow reports blocks every merge; rename the job, remove the "
            "filter, or declare the check in repositories[].externalChecks"
        )
        raise RuleViolation(stack_file(stack), [f"[{RULE_ID}] {v}" for v in violations] + [f"hint: {hint}"])
