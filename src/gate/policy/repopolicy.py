"""Per-repository policy: what one gated repository gets from the organisation defaults and its own
entry (issue 13, item 1).

The stack-wide settings are the organisation's defaults: the check catalogue, `mergeGate.mode` and
`mergeGate.requiredChecks`. Each `repositories[]` entry narrows or extends them:

- `languages` choose the language-bound checks (M9 §Required CI checks 1-2: pytest/flake8 only
  where Python is used, npm test/eslint only where JavaScript is), and a cross-language check
  (`Check.languages`: the determinism parity, root hash and e2e parity of M9 §3-4) only where the
  repository has both runtimes: a Python service gets no `npm ci`, a JavaScript frontend no
  `pip install`.
- `requiredChecks` adds catalogue checks on top (a Python-only repository may still opt into
  `e2e-parity`); the gate's workflows then run them in that repository.
- `externalChecks` adds checks something else reports (a licence scanner's GitHub App): required,
  exempt from liveness (GATE-M9-03) only because they are declared external, and pinned to the
  app's id where the merge gate can pin (rulesets, organisation mode).
- `mergeGateMode` picks branch protection or rulesets for this repository.

Everything here is pure and derived from the validated model; gate/github/repository.py,
gate/github/workflows.py,
gate/policy/nonnegotiables.py and gate/policy/rules.py ask it instead of reading the stack-wide settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.policy.model import Check, GatePolicy, Repository
from gate.policy.types import MergeGateMode


def applies_by_default(check: Check, repo: Repository) -> bool:
    """Whether the organisation defaults give `repo` this catalogue check: a gate check whose
    languages the repository uses. External checks (no workflow) need the repository's consent:
    their app must be installed there, or every merge would wait for a check nobody reports."""
    if check.external:
        return False
    if check.language is not None and check.language not in repo.languages:
        return False
    return all(language in repo.languages for language in check.languages)


def workflow_checks(policy: GatePolicy, repo: Repository) -> tuple[Check, ...]:
    """The catalogue checks the gate's workflows run in `repo`, in catalogue order: those that apply
    by default and those the repository asks for (requiredChecks), whether or not
    mergeGate.requiredChecks requires them (a check that runs but is not required still informs)."""
    asked = set(repo.required_checks)
    return tuple(
        check
        for check in policy.checks
        if not check.external and (applies_by_default(check, repo) or check.name in asked)
    )


def required_checks(policy: GatePolicy, repo: Repository) -> tuple[str, ...]:
    """Checks required on `repo`'s protected branches: the catalogue's, in catalogue order, then
    external checks outside the catalogue in the order the repository lists them.

    M9 §Merge conditions: "All CI checks green for the PR"; §Required CI checks: language-specific
    checks only where the language is used.
    """
    wanted = policy.merge_gate.required_checks
    asked = set(repo.required_checks) | set(repo.external_check_names)
    names = [
        check.name
        for check in policy.checks
        if check.name in asked
        or (applies_by_default(check, repo) and (wanted is None or check.name in wanted))
        # The organisation requires an external catalogue check by naming it explicitly.
        or (check.external and wanted is not None and check.name in wanted)
    ]
    catalogue = {check.name for check in policy.checks}
    names += [name for name in repo.external_check_names if name not in catalogue]
    return tuple(names)


@dataclass(frozen=True, order=True)
class ExternalRequirement:
    """A required check reported outside the gate's workflows, and the app that must report it."""

    name: str
    app_id: int | None  # None: any reporter
    app: str | None


def external_requirements(policy: GatePolicy, repo: Repository) -> tuple[ExternalRequirement, ...]:
    """The required checks of `repo` that the gate's workflows do not report, with their apps: the
    repository's externalChecks (its appId, else the catalogue entry's) and required external
    catalogue checks."""
    catalogue = {check.name: check for check in policy.checks}
    declared = {external.name: external for external in repo.external_checks}
    found: list[ExternalRequirement] = []
    for name in required_checks(policy, repo):
        check = catalogue.get(name)
        entry = declared.get(name)
        if entry is None and (check is None or not check.external):
            continue  # the gate's own workflow reports it
        app_id = entry.app_id if entry is not None and entry.app_id is not None else None
        app = entry.app if entry is not None and entry.app is not None else None
        if check is not None:
            app_id = app_id if app_id is not None else check.app_id
            app = app if app is not None else check.app
        found.append(ExternalRequirement(name, app_id, app))
    return tuple(found)


def external_check_names(policy: GatePolicy, repo: Repository) -> tuple[str, ...]:
    """What the liveness rule (GATE-M9-03) trusts to be reported without a gate workflow."""
    return tuple(requirement.name for requirement in external_requirements(policy, repo))


def check_app_ids(policy: GatePolicy, repo: Repository) -> dict[str, int | None]:
    """Check name -> the app a ruleset requires it from, for `repo`'s external checks (None: any
    reporter). Checks not listed here come from the gate's workflows, i.e. GitHub Actions."""
    return {requirement.name: requirement.app_id for requirement in external_requirements(policy, repo)}


def merge_gate_mode(policy: GatePolicy, repo: Repository) -> MergeGateMode:
    """How `repo`'s merge gate is expressed: its own mergeGateMode, else mergeGate.mode."""
    if repo.merge_gate_mode is None:
        return policy.merge_gate.mode
    return MergeGateMode(repo.merge_gate_mode.value)
