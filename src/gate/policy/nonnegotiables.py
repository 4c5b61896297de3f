"""The policy's non-negotiables, checked on the COMPUTED gate, and the exceptions that waive them.

A gate that a reviewed one-line config change can switch off is worse than none: it is trusted. So
these rules do not look at what a stack file says but at what the gate finally declares, per
repository and protected branch, after every default, catalogue merge and language filter: a
catalogue that drops a check, a check recategorised, `requiredChecks` without e2e-parity, admins
exempted, production open to any branch — each is refused like any other rule violation, before
anything is declared.

A stack that really needs less declares an exception (`delivery-gate:exceptions`): which rule, why,
who approved it and until when. It is printed in every plan summary and exported (`gateExceptions`),
and an expired exception fails the plan. No exception can waive the security scan (GATE-NN-01, M9
§Merge conditions 2 and the delivery policy's emergency path: "security checks are never
skippable").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from gate.github.repository import branch_gates
from gate.github.workflows import BUILTIN_JOBS
from gate.policy.model import Check, GateException, GatePolicy, Repository, _default_checks
from gate.policy.repopolicy import applies_by_default
from gate.policy.types import Language

M9 = "deployment-gate-policy-m9.md"
DP = "delivery-policy.md"


@dataclass(frozen=True)
class NonNegotiable:
    id: str
    title: str
    policy: str
    waivable: bool = True


SECURITY_SCAN = NonNegotiable(
    "GATE-NN-01",
    "every protected branch requires the gate's security scan, reported by its own workflow",
    f"{M9} §Required CI checks 5, §Merge conditions 2; {DP} §Emergency (never skippable)",
    waivable=False,
)
REQUIRED_CHECKS = NonNegotiable(
    "GATE-NN-02",
    "every protected branch requires the unit, static, determinism, e2e-parity, schema-change, "
    "release-contract and release-notes checks",
    f"{M9} §Required CI checks: all must PASS",
)
ADMINS_INCLUDED = NonNegotiable(
    "GATE-NN-03", "the gate applies to administrators too", f"{M9} §Overview (all merges)"
)
CODE_OWNER_REVIEW = NonNegotiable(
    "GATE-NN-04",
    "code owners review what they own: the schema paths and the gate's own files",
    f"{M9} §Exceptions & manual approval",
)
PRODUCTION_PROTECTED = NonNegotiable(
    "GATE-NN-05",
    "production has reviewers, deploys only from the protected branches, and is reached only "
    "through a pre-production stage",
    f"{DP} §Environment Progression",
)
RESOURCES_PROTECTED = NonNegotiable(
    "GATE-NN-06",
    "the merge gate, and everything in production, is protected from deletion",
    f"{M9} §Enforcement",
)
RULES = {
    rule.id: rule
    for rule in (
        SECURITY_SCAN,
        REQUIRED_CHECKS,
        ADMINS_INCLUDED,
        CODE_OWNER_REVIEW,
        PRODUCTION_PROTECTED,
        RESOURCES_PROTECTED,
    )
}
WAIVABLE = tuple(rule.id for rule in RULES.values() if rule.waivable)

# The M9 checks every repository must require (besides the security scan): per language, unit
# tests and static checks; the three determinism jobs and e2e parity where the repository's
# languages give them (the default catalogue's language/languages: required_by_policy).
_PER_LANGUAGE = {
    Language.PYTHON: ("unit-tests-python", "static-checks-python"),
    Language.JAVASCRIPT: ("unit-tests-javascript", "static-checks-javascript"),
}
_ALWAYS = (
    "determinism-cross-language-parity",
    "determinism-canonical-json",
    "determinism-root-hash",
    "e2e-parity",
    # M9 §Exceptions: schema changes carry their artifacts and approvals, in every merge-gate mode.
    "schema-change",
    # DP §Pre-Deployment "Release contract completed" and §Release Notes (issue 12): a stack
    # cannot drop them quietly either (GATE-DP-14, GATE-DP-15).
    "release-contract",
    "release-notes",
)
# What each of those checks is in the gate's own catalogue (category and workflow): a stack's
# catalogue may add checks, but these must stay what the gate's jobs report.
_BUILTIN = {check.name: check for check in _default_checks()}


@dataclass(frozen=True, order=True)
class Finding:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def required_by_policy(repo: Repository) -> tuple[str, ...]:
    """The check names M9 requires of this repository, the security scan included. Issue 13, part
    repos: the determinism and e2e checks that compare runtimes (M9 §Required CI checks 3-4: "Python
    traces replayed in JS", root_hash "across runtimes") only where the repository has both; the
    canonical-JSON check is the Python runtime's."""
    per_language = [name for language in repo.languages for name in _PER_LANGUAGE[language]]
    always = [name for name in _ALWAYS if applies_by_default(_BUILTIN[name], repo)]
    return (*per_language, *always, "security-scan")


def _reporter_problem(name: str, check: Check | None, repo: Repository, workflows: bool) -> str | None:
    """Why `name` would not be reported by the gate's own job, or None when it is."""
    if check is None:
        return "is not in the check catalogue"
    builtin = _BUILTIN[name]
    if check.category is not builtin.category or check.workflow != builtin.workflow:
        return (
            f"is recategorised in the catalogue (category {check.category.value}, workflow "
            f"{check.workflow or 'none (external)'}; the gate's job is {builtin.category.value} in "
            f"{builtin.workflow})"
        )
    if name in repo.external_check_names or not workflows or name not in BUILTIN_JOBS:
        return "is left to an external reporter instead of the gate's own workflow"
    return None


def merge_gate_findings(policy: GatePolicy) -> list[Finding]:
    """GATE-NN-01..04 on what the owner stack declares for each repository and branch."""
    if not policy.owns_merge_gate:
        return []
    findings: list[Finding] = []
    catalogue = {check.name: check for check in policy.checks}
    for repo in policy.repositories:
        for gate in branch_gates(policy, repo):
            where = f"{repo.full_name} branch '{gate.pattern}'"
            for name in required_by_policy(repo):
                rule = SECURITY_SCAN if name == "security-scan" else REQUIRED_CHECKS
                if name not in gate.required_checks:
                    # M9's checks cite M9; the delivery policy's (release contract, notes) cite theirs.
                    own = _BUILTIN[name].policy
                    line = rule.policy if own.startswith(M9) else own
                    findings.append(Finding(rule.id, f"{where} does not require '{name}' ({line})"))
                    continue
                problem = _reporter_problem(name, catalogue.get(name), repo, policy.workflows.commit)
                if problem:
                    findings.append(Finding(rule.id, f"{where} requires '{name}', but it {problem}"))
    if not policy.merge_gate.enforce_admins:
        findings.append(
            Finding(ADMINS_INCLUDED.id, "mergeGate.enforceAdmins is false: administrators bypass the gate")
        )
    if not policy.reviews.require_code_owner_review:
        findings.append(
            Finding(
                CODE_OWNER_REVIEW.id,
                "reviews.requireCodeOwnerReview is false: schema changes and the gate's own workflows "
                "merge without their owners' review",
            )
        )
    return findings


def production_findings(policy: GatePolicy) -> list[Finding]:
    """GATE-NN-05 on the production environment this stack declares (the last of the chain).

    Judged on the chain's environments only. `production-rollback` (Environment.rollback), which the
    same stack declares beside it, has no reviewers by design (DP: rollback is automatic; deploy.yml
    only validates, records evidence and rolls back there, after production's reviewers approved
    the deploy) and is not a way around them: its deployment branches are production's, and the
    deploy role that trusts it is pinned to deploy.yml on the default branch (gate/aws/foundation.py)."""
    environment = policy.environment_spec
    if environment.name != policy.environments[-1].name:
        return []
    findings = []
    where = f"environment '{environment.name}'"
    allowed = {branch for repo in policy.repositories for branch in repo.protected_branches}
    extra = sorted(set(environment.deployment_branches) - allowed)
    if extra:
        findings.append(
            Finding(
                PRODUCTION_PROTECTED.id,
                f"{where}.deploymentBranches: got {extra}; allowed: the protected branches "
                f"{sorted(allowed)} (anything else deploys unreviewed code)",
            )
        )
    if not environment.prevent_self_review:
        message = f"{where}.preventSelfReview is false: whoever deploys may approve the deploy"
        findings.append(Finding(PRODUCTION_PROTECTED.id, message))
    first = policy.environments[0].name
    if environment.promotes_from in (None, first):
        findings.append(
            Finding(
                PRODUCTION_PROTECTED.id,
                f"{where} promotes from '{environment.promotes_from}', the first environment: production "
                "must be reached through a pre-production stage (e.g. dev -> staging -> production)",
            )
        )
    return findings


def protection_findings(policy: GatePolicy) -> list[Finding]:
    """GATE-NN-06: protectResources: false unprotects the merge gate (owner stack) and production."""
    if policy.protect_resources is not False:
        return []
    if not (policy.owns_merge_gate or policy.is_production):
        return []
    what = "the merge gate" if policy.owns_merge_gate else "production"
    return [
        Finding(
            RESOURCES_PROTECTED.id,
            f"protectResources is false: {what} could be deleted by a `pulumi destroy` or a refactoring",
        )
    ]


def findings(policy: GatePolicy) -> list[Finding]:
    return sorted({*merge_gate_findings(policy), *production_findings(policy), *protection_findings(policy)})


@dataclass(frozen=True)
class Verdict:
    violations: tuple[str, ...]  # what fails the plan
    waived: tuple[str, ...]  # what an exception waives, for the plan summary


def judge(policy: GatePolicy, today: date) -> Verdict:
    """Violations not covered by a valid exception, expired exceptions, and what is waived."""
    active: dict[str, GateException] = {}
    violations: list[str] = []
    for exception in policy.exceptions:
        if exception.expires < today:
            violations.append(
                f"[{exception.rule}] the exception approved by {exception.approved_by} expired on "
                f"{exception.expires.isoformat()}: renew it (a new expiry and approval) or comply"
            )
        else:
            active[exception.rule] = exception
    waived = []
    for finding in findings(policy):
        waiver = active.get(finding.rule)
        if waiver is None:
            violations.append(str(finding))
        else:
            waived.append(f"{finding} — waived: {describe(waiver)}")
    return Verdict(tuple(violations), tuple(waived))


def describe(exception: GateException) -> str:
    return (
        f"{exception.rule} until {exception.expires.isoformat()}, approved by {exception.approved_by}: "
        f"{exception.reason}"
    )


def exported(policy: GatePolicy, verdict: Verdict) -> dict[str, Any] | None:
    """The `gateExceptions` stack output: every declared exception and what it waives here, for
    audits; None when the stack declares none."""
    if not policy.exceptions:
        return None
    declared = [
        {"rule": e.rule, "reason": e.reason, "approvedBy": e.approved_by, "expires": e.expires.isoformat()}
        for e in policy.exceptions
    ]
    return {"declared": declared, "waived": list(verdict.waived)}
