"""The delivery policy as a typed, frozen model.

Defaults encode the two policy texts in `../shared/policy/`; each default names the line it comes
from ("M9 §Required CI checks 3" is `deployment-gate-policy-m9.md`, section "Required CI checks",
item 3; "DP §Rollback Criteria" is `delivery-policy.md`). A stack file holds only what differs.

No `from __future__ import annotations` here: pydantic would then evaluate every field's annotation
from its text when it builds the model classes, 300 fields, about 8 ms of every plan's start-up
(bench/README.md). The few classes named before they are defined are written as strings.
"""

import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from gate.clock import iso
from gate.errors import FieldProblem
from gate.policy.memo import once
from gate.policy.prnames import RESERVED_STACK, first_meeting, pr_stack, repository_slug
from gate.policy.types import (
    APPCONFIG_MAX_MINUTES,
    SELF_HOSTED_RUNNER,
    AwsAccountId,
    AwsRegion,
    BranchPattern,
    CheckCategory,
    ChecklistItem,
    CheckName,
    ClusterCredentials,
    CodeownersPattern,
    Duration,
    EgressCidr,
    EnvironmentName,
    FiniteFloat,
    GateModel,
    GitHubOwner,
    GitRef,
    HttpsUrl,
    HttpUrl,
    ImageDigest,
    ImageReference,
    IncidentProvider,
    LabelColor,
    LabelDescription,
    LabelName,
    Language,
    LinearRegex,
    MergeGateMode,
    MetricName,
    NonNegativeFloat,
    PathspecGlob,
    Percent,
    PinnedImage,
    RelativeDirectory,
    RelativePath,
    RepositoryName,
    RootHash,
    RunnerLabel,
    SecretName,
    SlackChannel,
    Slug,
    StackName,
    at_most,
    check_shell_command,
    duration_seconds,
    duration_within,
    fullmatch_linear,
    image_digest,
    matching,
    one_line,
    resource_slug,
)

# ---------------------------------------------------------------------------------------------
# Issue 13, part repos: per-repository policy (gate/policy/repopolicy.py derives what each repository gets)


class RepositoryMergeGateMode(StrEnum):
    """The merge gate modes one repository may choose for itself (organisation mode is stack-wide)."""

    BRANCH_PROTECTION = "branch-protection"
    RULESETS = "rulesets"


GitHubAppId = Annotated[int, Field(ge=1, le=2_147_483_647)]


def _external_checks_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of repositories[].externalChecks: each item an ExternalCheck or a bare name."""
    schema["items"] = {"anyOf": [{"type": "string"}, schema["items"]]}


class ExternalCheck(GateModel):
    """A required check reported outside the gate's workflows, optionally pinned to a GitHub App."""

    @model_validator(mode="before")
    @classmethod
    def _a_name_alone(cls, value: object) -> object:
        # A bare name is shorthand for {name: ...}: reported by any app or CI.
        return {"name": value} if isinstance(value, str) else value

    name: CheckName = Field(description="The status check's name, as its reporter posts it.")
    app_id: GitHubAppId | None = Field(
        default=None,
        description=(
            "Numeric id of the GitHub App that must report the check (the ruleset's integration_id), "
            "so a commit status of the same name posted with any token does not satisfy it; none: "
            "the catalogue entry's appId, else any reporter. Needs rulesets or organisation mode "
            "(classic branch protection cannot pin a check to an app)."
        ),
    )
    app: Slug | None = Field(
        default=None, description="The app's slug, for people and the plan summary (e.g. 'fossa')."
    )


class RepositoryDefaults(GateModel):
    """Organisation defaults of every gated repository (repositoryDefaults)."""

    languages: tuple[Language, ...] | None = Field(
        default=None, min_length=1, description="Default of repositories[].languages."
    )
    default_branch: BranchPattern | None = Field(
        default=None, description="Default of repositories[].defaultBranch."
    )
    release_branch_pattern: BranchPattern | None = Field(
        default=None, description="Default of repositories[].releaseBranchPattern."
    )
    merge_queue: bool | None = Field(default=None, description="Default of repositories[].mergeQueue.")
    merge_gate_mode: RepositoryMergeGateMode | None = Field(
        default=None, description="Default of repositories[].mergeGateMode (else mergeGate.mode)."
    )
    required_checks: tuple[CheckName, ...] = Field(
        default=(), description="Catalogue checks every repository requires on top of its languages'."
    )
    external_checks: tuple[ExternalCheck, ...] = Field(
        default=(),
        description="External checks every repository requires (a name, or {name, appId, app}).",
        json_schema_extra=_external_checks_schema,
    )


_DEFAULTED = {
    "languages": "languages",
    "defaultBranch": "default_branch",
    "releaseBranchPattern": "release_branch_pattern",
    "mergeQueue": "merge_queue",
    "mergeGateMode": "merge_gate_mode",
}


def _with_repository_defaults(data: Any) -> Any:
    """The raw policy with repositoryDefaults applied to each raw repositories[] entry. Defaults
    that are themselves invalid are left unapplied: their own problems are reported once, at
    repositoryDefaults.<key>, not again at every repository."""
    if not isinstance(data, dict):
        return data
    raw = data.get("repositoryDefaults", data.get("repository_defaults"))
    repositories = data.get("repositories")
    if raw is None or not isinstance(repositories, list | tuple):
        return data
    try:
        defaults = RepositoryDefaults.model_validate(raw)
    except ValueError:
        return data
    given = defaults.model_dump(mode="json", by_alias=True, exclude_none=True)
    merged = []
    for original in repositories:
        if not isinstance(original, dict):
            merged.append(original)
            continue
        entry = dict(original)
        for alias, name in _DEFAULTED.items():
            if alias in given and alias not in entry and name not in entry:
                entry[alias] = given[alias]
        own_required = entry.get("requiredChecks", entry.get("required_checks", []))
        if given["requiredChecks"] and isinstance(own_required, list | tuple):
            extra = [name for name in own_required if name not in given["requiredChecks"]]
            entry.pop("required_checks", None)
            entry["requiredChecks"] = [*given["requiredChecks"], *extra]
        own_external = entry.get("externalChecks", entry.get("external_checks", []))
        if given["externalChecks"] and isinstance(own_external, list | tuple):
            named = {
                item if isinstance(item, str) else item.get("name")
                for item in own_external
                if isinstance(item, str | dict)
            }
            inherited = [item for item in given["externalChecks"] if item["name"] not in named]
            entry.pop("external_checks", None)
            entry["externalChecks"] = [*inherited, *own_external]
        merged.append(entry)
    return {**data, "repositories": merged}


def _check_repository_policies(policy: "GatePolicy") -> None:
    """Each repository's requiredChecks name catalogue checks; its merge-gate mode is one it may
    choose; an app-pinned external check is pinned by the repository's merge gate."""
    catalogue = {check.name: check for check in policy.checks}
    organization_mode = policy.merge_gate.mode is MergeGateMode.ORGANIZATION
    for i, repo in enumerate(policy.repositories):
        where = f"repositories[{i}]"
        for j, name in enumerate(repo.required_checks):
            if name not in catalogue:
                raise FieldProblem(
                    f"{where}.requiredChecks[{j}]",
                    name,
                    f"allowed: one of {', '.join(sorted(catalogue))}; a check outside the catalogue "
                    "that an app or another CI reports goes in externalChecks",
                )
        if organization_mode and repo.merge_gate_mode is not None:
            raise FieldProblem(
                f"{where}.mergeGateMode",
                repo.merge_gate_mode.value,
                "no per-repository mode when mergeGate.mode is 'organization' (the organisation "
                "rulesets gate every repository); remove it",
            )
        mode = repo.merge_gate_mode or policy.merge_gate.mode
        if mode != MergeGateMode.BRANCH_PROTECTION:
            continue
        for j, external in enumerate(repo.external_checks):
            known = catalogue.get(external.name)
            app_id = external.app_id or (known.app_id if known is not None else None)
            if app_id is not None:
                path = f"{where}.externalChecks[{j}]" + (".appId" if external.app_id else "")
                _refuse_app_pin(path, app_id, repo.name, i)
        # An app-pinned catalogue check required by name (the repository's or the organisation's).
        for field, names in (
            (f"{where}.requiredChecks", repo.required_checks),
            ("mergeGate.requiredChecks", policy.merge_gate.required_checks or ()),
        ):
            for j, name in enumerate(names):
                known = catalogue.get(name)
                if known is not None and known.app_id is not None:
                    _refuse_app_pin(f"{field}[{j}]", name, repo.name, i)


def _refuse_app_pin(path: str, value: object, repo: str, index: int) -> None:
    raise FieldProblem(
        path,
        value,
        f"an app-pinned check needs a ruleset: classic branch protection (the mode of {repo}) "
        f"cannot require a check from one app; allowed: repositories[{index}].mergeGateMode: "
        "rulesets, or no appId (any reporter)",
    )


# ---------------------------------------------------------------------------------------------
# Repositories


class Repository(GateModel):
    """A repository the gate is applied to."""

    owner: GitHubOwner | None = Field(
        default=None,
        description="GitHub user or organisation; defaults to the stack's `github:owner`.",
    )
    name: RepositoryName = Field(description="Repository name, without the owner.")
    languages: tuple[Language, ...] = Field(
        # M9 §Required CI checks 1-2: pytest/flake8 for Python, npm test/eslint for JS.
        default=(Language.PYTHON, Language.JAVASCRIPT),
        min_length=1,
        description="Languages whose unit tests and static checks the gate requires.",
    )
    default_branch: BranchPattern = Field(
        # M9 §Overview: "All merges to `main` (or `release/*`)".
        default="main",
        description="The default branch; merges into it pass the gate.",
    )
    release_branch_pattern: BranchPattern = Field(
        # M9 §Overview: "All merges to `main` (or `release/*`)".
        default="release/*",
        description="Pattern of release branches; merges into them pass the same gate.",
    )
    merge_queue: bool = Field(
        default=False,
        description="Whether the repository merges through a merge queue (checks must run on merge_group).",
    )
    external_checks: tuple[ExternalCheck, ...] = Field(
        default=(),
        description=(
            "Checks this repository REQUIRES that something other than the gate's workflows reports "
            "(a GitHub App, another CI): a name, or {name, appId, app} to accept the check only from "
            "that GitHub App (rulesets and organisation mode). Exempt from GATE-M9-03 liveness "
            "because their reporter is outside the gate (M9 §Merge conditions: all checks green)."
        ),
        json_schema_extra=_external_checks_schema,
    )
    # Issue 13, part repos: the repository's own additions to the organisation defaults.
    required_checks: tuple[CheckName, ...] = Field(
        default=(),
        description=(
            "Catalogue checks this repository requires on top of the organisation defaults (those "
            "that apply to its languages), e.g. e2e-parity for a single-language repository; the "
            "gate's workflows then run them here too (M9 §Required CI checks)."
        ),
    )
    merge_gate_mode: RepositoryMergeGateMode | None = Field(
        default=None,
        description=(
            "This repository's merge gate: 'branch-protection' or 'rulesets'; none: mergeGate.mode. "
            "Refused in organisation mode (one central ruleset gates every repository)."
        ),
    )

    @model_validator(mode="after")
    def _checks_named_once(self) -> Self:
        names = [check.name for check in self.external_checks]
        _require_unique("externalChecks", "name", names)
        _require_unique("requiredChecks", "name", list(self.required_checks))
        for index, name in enumerate(self.required_checks):
            if name in names:
                raise FieldProblem(
                    f"requiredChecks[{index}]",
                    name,
                    "a check named once: it is already in externalChecks (required there)",
                )
        return self

    @property
    def external_check_names(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.external_checks)

    @property
    def protected_branches(self) -> tuple[str, str]:
        return (self.default_branch, self.release_branch_pattern)

    @property
    def full_name(self) -> str:
        """owner/name; the loader fills a missing owner from github:owner."""
        return f"{self.owner}/{self.name}"


# ---------------------------------------------------------------------------------------------
# The required-check catalogue


class Check(GateModel):
    """A status check the gate can require. `name` is the job name that reports it on GitHub."""

    name: CheckName = Field(description="Stable check name; becomes the reporting job's `name:`.")
    category: CheckCategory = Field(description="Which policy requirement the check implements.")
    language: Language | None = Field(
        default=None, description="Only required in repositories with this language; none: always."
    )
    # Issue 13, part repos: a cross-language check needs both runtimes in the repository.
    languages: tuple[Language, ...] = Field(
        default=(),
        description=(
            "Only required by default in repositories that use ALL of these languages (a "
            "cross-language check such as M9 §Required CI checks 3's parity needs both runtimes); "
            "a repository may still require it through its requiredChecks."
        ),
    )
    workflow: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]+\.yml$",
        description=(
            "Workflow file under .github/workflows/ that runs it; none: an external check (a GitHub "
            "App or another CI reports it), required only where a repository lists it in "
            "externalChecks or requiredChecks, or where mergeGate.requiredChecks names it."
        ),
    )
    tool: str = Field(description="What the check runs, as the policy names it.")
    policy: str = Field(description="The policy line the check implements.")
    app_id: GitHubAppId | None = Field(
        default=None,
        description="External checks: the GitHub App that must report it (see externalChecks[].appId).",
    )
    app: Slug | None = Field(default=None, description="External checks: the reporting app's slug.")

    @model_validator(mode="after")
    def _reporter_is_one(self) -> Self:
        if self.language is not None and self.languages:
            raise FieldProblem(
                "languages", [lang.value for lang in self.languages], "either language or languages, not both"
            )
        if self.workflow is not None and (self.app_id is not None or self.app is not None):
            raise FieldProblem(
                "appId" if self.app_id is not None else "app",
                self.app_id if self.app_id is not None else self.app,
                f"no app on a check the gate's workflow {self.workflow} reports (GitHub Actions "
                "reports it); allowed: remove workflow to make it an external check",
            )
        return self

    @property
    def external(self) -> bool:
        """Reported by something other than the gate's workflows."""
        return self.workflow is None


def _default_checks() -> tuple[Check, ...]:
    m9 = "deployment-gate-policy-m9.md §Required CI checks"
    py, js = Language.PYTHON, Language.JAVASCRIPT
    cat = CheckCategory
    return (
        Check(
            name="unit-tests-python",
            category=cat.UNIT_TESTS,
            language=py,
            workflow="ci.yml",
            tool="pytest",
            policy=f"{m9} 1",
        ),
        Check(
            name="unit-tests-javascript",
            category=cat.UNIT_TESTS,
            language=js,
            workflow="ci.yml",
            tool="npm test",
            policy=f"{m9} 1",
        ),
        Check(
            name="static-checks-python",
            category=cat.STATIC_CHECKS,
            language=py,
            workflow="ci.yml",
            tool="flake8",
            policy=f"{m9} 2",
        ),
        Check(
            name="static-checks-javascript",
            category=cat.STATIC_CHECKS,
            language=js,
            workflow="ci.yml",
            tool="eslint",
            policy=f"{m9} 2",
        ),
        Check(
            name="determinism-cross-language-parity",
            category=cat.DETERMINISM,
            languages=(py, js),
            workflow="determinism-check.yml",
            tool="Python traces replayed in JS",
            policy=f"{m9} 3",
        ),
        Check(
            name="determinism-canonical-json",
            category=cat.DETERMINISM,
            language=py,
            workflow="determinism-check.yml",
            tool="canonical JSON vs golden fixtures",
            policy=f"{m9} 3",
        ),
        Check(
            name="determinism-root-hash",
            category=cat.DETERMINISM,
            languages=(py, js),
            workflow="determinism-check.yml",
            tool="root_hash equal across runtimes",
            policy=f"{m9} 3",
        ),
        Check(
            name="e2e-parity",
            category=cat.E2E_PARITY,
            languages=(py, js),
            workflow="e2e-parity-check.yml",
            tool="simulate -> run -> replay -> diff, k6 smoke",
            policy=f"{m9} 4",
        ),
        Check(
            name="security-scan",
            category=cat.SECURITY_SCAN,
            workflow="security-scan.yml",
            tool="trivy (fails on CRITICAL)",
            policy=f"{m9} 5; §Merge conditions 2",
        ),
        Check(
            name="infra-plan",
            category=cat.INFRA_PLAN,
            workflow="infra-preview.yml",
            tool="pulumi preview + gate plan",
            policy=f"{m9} 6",
        ),
        Check(
            name="schema-change",
            category=cat.SCHEMA_CHANGE,
            workflow="schema-change.yml",
            tool="fixtures, alembic migration, SLO notes; backend + QA approvals, product-owner sign-off",
            policy="deployment-gate-policy-m9.md §Exceptions & manual approval",
        ),
        # Issue 12 (notes): decided inside their jobs, reported on every pull request (GATE-M9-03).
        Check(
            name="release-contract",
            category=cat.RELEASE_CONTRACT,
            workflow="release-contract.yml",
            tool="tools/release_check.py: work/releases/<version>.md complete on release/* PRs",
            policy="delivery-policy.md §Pre-Deployment: release contract completed (GATE-DP-14)",
        ),
        Check(
            name="release-notes",
            category=cat.RELEASE_NOTES,
            workflow="release-notes.yml",
            tool="tools/release_check.py: a category label; a Migration section when breaking",
            policy="delivery-policy.md §Release Notes (GATE-DP-15)",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Merge gate and reviews


class OrganizationGate(GateModel):
    """Organisation mode: the PR checks run as required workflows from one central repository."""

    central_repository: RepositoryName = Field(
        description=(
            "Repository of the gate's owner that holds every gated repository's required workflows "
            "(it must not itself be gated). Its Actions access must allow repositories of the "
            "organisation to use its workflows."
        )
    )
    workflow_branch: BranchPattern = Field(
        default="delivery-gate",
        pattern=r"^[A-Za-z0-9._/-]+$",
        description=(
            "Branch of the central repository the gate commits the required workflows to; the "
            "organisation rulesets pin each required workflow to this ref, and a ruleset lets only "
            "the platform team and organisation owners update it. No wildcards."
        ),
    )
    central_stack: EnvironmentName | None = Field(
        default=None,
        description=(
            "Issue 14 item 4 (a large organisation split across stacks, one per repository group): the "
            "stack of this project that declares the central repository's workflow branch and its "
            "ruleset, and leaves this unset. This stack then commits only its own groups' required "
            "workflows to that branch and reads the repository from that stack's `centralWorkflows` "
            "output (a StackReference). None: this stack declares the branch and ruleset itself."
        ),
    )


class MergeGate(GateModel):
    """How merges into the protected branches are gated."""

    mode: MergeGateMode = Field(
        default=MergeGateMode.BRANCH_PROTECTION,
        description=(
            "Express the gate as classic branch protection, as repository rulesets, or as "
            "organisation rulesets with required workflows ('organization', GitHub Enterprise Cloud)."
        ),
    )
    organization: OrganizationGate | None = Field(
        default=None,
        description="Organisation mode's central repository; required in that mode, refused otherwise.",
    )
    required_checks: tuple[CheckName, ...] | None = Field(
        # M9 §Merge conditions: "All CI checks green for the PR"; none: every catalogue check.
        default=None,
        description="Names of catalogue checks to require; none means every check in the catalogue.",
    )
    strict: bool = Field(
        default=True, description="Branches must be up to date with the base before merging."
    )
    enforce_admins: bool = Field(
        # M9 §Overview: "All merges ... require passing automated checks" - admins included.
        default=True,
        description="Apply the gate to administrators too.",
    )
    linear_history: bool = Field(default=True, description="Forbid merge commits on protected branches.")
    conversation_resolution: bool = Field(
        default=True, description="All review conversations must be resolved before merging."
    )
    platform_team: Slug = Field(
        # M9 §Enforcement: the gate is only as strong as its own files; a PR that rewrites
        # security-scan.yml to `exit 0` must not merge on an ordinary approval.
        default="platform",
        description=(
            "Team slug that code-owns the files the gate commits (workflows, tools, CODEOWNERS, PR "
            "template); its review is required for any change to them."
        ),
    )

    @model_validator(mode="after")
    def _organization_only_in_its_mode(self) -> Self:
        organization_mode = self.mode is MergeGateMode.ORGANIZATION
        if organization_mode and self.organization is None:
            raise FieldProblem(
                "organization",
                None,
                "a {centralRepository} when mode is 'organization': the repository whose workflows "
                "the organisation rulesets require",
            )
        if not organization_mode and self.organization is not None:
            raise FieldProblem(
                "organization",
                self.organization.central_repository,
                "no organization settings unless mode is 'organization' (they would be ignored)",
            )
        return self

    owner_environment: EnvironmentName | None = Field(
        default=None,
        description=(
            "The environment whose stack declares the repository-wide gate (branch protection or "
            "rulesets, CODEOWNERS, PR template, labels). One stack must own them, or stacks would "
            "overwrite each other; none means the first environment of the chain."
        ),
    )


class SchemaChangeRule(GateModel):
    """M9 §Exceptions & manual approval: PRs that change the trace schema."""

    paths: tuple[CodeownersPattern, ...] = Field(
        default=("schemas/trace/**", "tests/golden/**"),
        min_length=1,
        description=(
            "Glob patterns (from the repository root) of the trace schema and its golden fixtures; each "
            "becomes a CODEOWNERS line, so no spaces, '#', '!' or '@' (which would add owners or lines)."
        ),
    )
    required_approvals: int = Field(
        # M9: "explicit approval from 2 reviewers (one backend, one QA)".
        default=2,
        ge=2,
        description="Approvals a schema change needs; the policy's minimum is 2.",
    )
    backend_team: Slug = Field(default="backend", description="Team slug of the backend reviewers.")
    qa_team: Slug = Field(default="qa", description="Team slug of the QA reviewers.")
    product_owner_team: Slug = Field(
        # M9: "and a sign-off by the product owner".
        default="product-owners",
        description="Team slug whose sign-off a schema change needs.",
    )
    required_artifacts: tuple[ChecklistItem, ...] = Field(
        # M9: "golden fixture updates; migration plan (alembic); SLO migration notes".
        default=("golden fixture updates", "migration plan (alembic)", "SLO migration notes"),
        min_length=1,
        description="What a schema-change PR must include; rendered into the PR template checklist.",
    )
    label: LabelName = Field(default="schema-change", description="Label that marks a schema-change PR.")
    # The required `schema-change` check (gate/github/schema_change.py) enforces the rest in every mode.
    fixture_paths: tuple[CodeownersPattern, ...] | None = Field(
        default=None,
        min_length=1,
        description=(
            "The golden fixtures among the changed files (M9: 'golden fixture updates'). A PR changes the "
            "trace schema when it changes a path matching `paths` that matches none of these (or carries "
            "the label); it must then also change at least one file matching these. Fixtures alone are "
            "no schema change (determinism-canonical-json checks them). None: everything under "
            "workflows.goldenDir, the fixtures determinism-canonical-json compares with."
        ),
    )
    migration_paths: tuple[CodeownersPattern, ...] = Field(
        # M9: "migration plan (alembic)".
        default=("alembic/versions/*.py", "migrations/versions/*.py"),
        min_length=1,
        description=(
            "Where a schema change's migration plan goes: the PR must ADD a file matching one of these "
            "(a new alembic revision); editing or renaming an existing one does not count."
        ),
    )
    slo_notes_paths: tuple[CodeownersPattern, ...] = Field(
        # M9: "SLO migration notes".
        default=("docs/slo-migrations/*.md",),
        min_length=1,
        description="Where a schema change's SLO migration notes go: the PR adds or edits a matching file.",
    )
    team_reader_secret: str = Field(
        default="GATE_TEAM_READER_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]{0,99}$",
        description=(
            "Repository secret holding a token that can read the organisation's team members "
            "(fine-grained: Members read), with which the schema-change check tells backend, QA and "
            "product-owner approvals apart. The job's own token reads the reviews."
        ),
    )

    @field_validator("team_reader_secret")
    @classmethod
    def _not_a_github_secret(cls, value: str) -> str:
        if value.startswith("GITHUB_"):
            raise ValueError("allowed: a secret name not starting with GITHUB_ (GitHub reserves those)")
        return value


class Reviews(GateModel):
    required_approvals: int = Field(default=1, ge=1, le=6, description="Approvals every PR needs.")
    require_code_owner_review: bool = Field(
        default=True, description="Code owners must approve changes to the files they own."
    )
    dismiss_stale_reviews: bool = Field(default=True, description="New commits dismiss earlier approvals.")
    require_last_push_approval: bool = Field(
        default=True, description="The last push must be approved by someone other than its author."
    )
    schema_change: SchemaChangeRule = Field(default_factory=SchemaChangeRule)


class GateException(GateModel):
    """A declared, approved and expiring waiver of one non-negotiable (gate/policy/nonnegotiables.py).

    Printed in every plan summary and exported as `gateExceptions`; an expired one fails the plan.
    """

    rule: Literal["GATE-NN-02", "GATE-NN-03", "GATE-NN-04", "GATE-NN-05", "GATE-NN-06"] = Field(
        # GATE-NN-01, the security scan, is never waivable (DP §Emergency: "security checks are
        # never skippable"), so it is not in the list.
        description="The non-negotiable waived; GATE-NN-01 (the security scan) can never be waived."
    )
    reason: str = Field(
        min_length=10,
        max_length=500,
        pattern=r"^[^\r\n\x00-\x1f$]*$",
        description="Why the stack needs less than the policy (one line, no `$`).",
    )
    approved_by: str = Field(
        pattern=r"^@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9._-]{1,100})?$",
        description="Who approved it: a GitHub login or @org/team.",
    )
    expires: date = Field(description="The last day the exception holds; after it the plan fails.")


# ---------------------------------------------------------------------------------------------
# Environments


class Reviewers(GateModel):
    teams: tuple[Slug, ...] = Field(default=(), description="Team slugs that may approve a deploy.")
    users: tuple[Slug, ...] = Field(default=(), description="User logins that may approve a deploy.")

    @property
    def empty(self) -> bool:
        return not self.teams and not self.users


class Environment(GateModel):
    """A deployment environment. The list order is the promotion chain (DP §Environment Progression)."""

    name: EnvironmentName = Field(description="GitHub environment name.")
    stack: EnvironmentName = Field(
        description=(
            "The Pulumi stack that deploys this environment; never pr-*, the names of the disposable "
            "per-PR stacks (pr-<repo>-<N>) the janitor destroys."
        )
    )
    promotes_from: EnvironmentName | None = Field(
        default=None, description="The environment whose validated release this one receives."
    )
    reviewers: Reviewers = Field(default_factory=Reviewers)
    wait_timer_minutes: int = Field(
        default=0, ge=0, le=43200, description="Minutes a deploy waits before it starts."
    )
    deployment_branches: tuple[BranchPattern, ...] = Field(
        default=("main", "release/*"),
        min_length=1,
        description="Branches allowed to deploy to this environment.",
    )
    prevent_self_review: bool = Field(
        default=True, description="The person who triggered a deploy may not approve it."
    )

    @field_validator("stack")
    @classmethod
    def _not_an_ephemeral_stack_name(cls, stack: str) -> str:
        if RESERVED_STACK.fullmatch(stack):
            raise ValueError(
                "allowed: a stack name not starting with pr-: those are the disposable per-PR stacks "
                "(pr-<repo>-<N>), which `gate ephemeral reap` destroys when they expire"
            )
        return stack

    @property
    def rollback(self) -> "Environment":
        """The reviewer-free GitHub environment `<name>-rollback` of the same stack, where deploy.yml
        runs what follows an approved deploy automatically: the validation window, the evidence and
        above all the rollback (DP §Rollback: rollback is automatic, it never waits for a human).
        Same deployment branches as this environment; no reviewers, no wait timer."""
        return Environment(
            name=f"{self.name}{ROLLBACK_SUFFIX}",
            stack=self.stack,
            deployment_branches=self.deployment_branches,
            # Nobody reviews a rollback, so there is no review to keep from its trigger.
            prevent_self_review=False,
        )


ROLLBACK_SUFFIX = "-rollback"


def _default_environments() -> tuple[Environment, ...]:
    return (
        # DP §Environment Progression: "Development — first deployed and tested by the authoring team".
        Environment(name="dev", stack="dev", deployment_branches=("*",), prevent_self_review=False),
        # DP: "Staging — Pre-production validation under production-like conditions".
        Environment(name="staging", stack="staging", promotes_from="dev"),
        # DP: "Production — reached only after successful staging validation"; release management
        # is the policy's authority ("Authority: Release Management / DevOps leads").
        Environment(
            name="production",
            stack="prod",
            promotes_from="staging",
            reviewers=Reviewers(teams=("release-managers",)),
            wait_timer_minutes=5,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Thresholds, rollout, notifications, emergency path


class ReplayMismatch(GateModel):
    """M9 §Post-merge 2: `aos_replay_mismatch_total` increases above threshold in 5m -> rollback."""

    # M9 names the counter of its own application, aos; the gate reads the name as
    # `<application>_replay_mismatch_total`, so the example's default is the policy's exact metric
    # and another organisation's does not inherit a name it never exports.
    metric: MetricName = Field(
        default="",
        validate_default=False,
        description="The replay-mismatch counter. Default: `<application.name>_replay_mismatch_total` "
        "(`-` as `_`), which for the policy's own application `aos` is M9's `aos_replay_mismatch_total`.",
    )
    increase_above: NonNegativeFloat = Field(
        default=0, description="Rollback when the counter grows by more than this within `window`."
    )
    window: Duration = Field(default="5m", description="M9: 'increases above threshold in 5m'.")


# A latency target above this can never fire: no request is served that slowly (load balancers and
# clients time out first), so such an alert or rollback criterion would protect nothing.
MAX_LATENCY_TARGET_MS = 120_000
LatencyTarget = Annotated[
    FiniteFloat,
    at_most(
        MAX_LATENCY_TARGET_MS,
        "ms (2 minutes): no request is served more slowly, so a higher target would never fire",
    ),
]


class Latency(GateModel):
    p95_target_ms: LatencyTarget = Field(
        # M9 §Thresholds: "p95 > target (from SLO mapper)"; this is the target until a stack
        # points at an SLO suggestion file.
        default=300,
        gt=0,
        description=(
            "p95 latency target in milliseconds; at most 120000 (2 minutes): no request is served "
            "that slowly, so a higher target would never fire."
        ),
    )
    p99_target_ms: LatencyTarget = Field(
        # DP §Rollback Criteria: "p99 latency exceeds target".
        default=800,
        gt=0,
        description=(
            "p99 latency target in milliseconds; exceeding it rolls back. At most 120000 (2 minutes): "
            "no request is served that slowly, so a higher target would never roll back."
        ),
    )
    slo_suggestion_file: RelativePath | None = Field(
        default=None,
        description=(
            "Path (inside the project) of a k6_slo_mapper suggestion whose p95 replaces p95TargetMs; "
            "a regular file of at most 64 KiB."
        ),
    )

    @model_validator(mode="after")
    def _p99_above_p95(self) -> Self:
        if self.p99_target_ms < self.p95_target_ms:
            raise FieldProblem(
                "p99TargetMs", self.p99_target_ms, f"must be at least p95TargetMs ({self.p95_target_ms})"
            )
        return self


class Redis(GateModel):
    """M9 §Thresholds: "Rate-limit failover (redis_connected==0): if > 60s -> alert SRE"."""

    metric: MetricName = Field(default="redis_connected")
    disconnected_for: Duration = Field(default="60s")


class Thresholds(GateModel):
    # M9 §Thresholds: "Parity failure: immediate rollback" - not configurable.
    parity_failure_action: Literal["rollback"] = Field(
        default="rollback", description="What a parity failure triggers; the policy allows only rollback."
    )
    replay_mismatch: ReplayMismatch = Field(default_factory=ReplayMismatch)
    latency: Latency = Field(default_factory=Latency)
    max_error_rate_increase: Annotated[
        FiniteFloat,
        at_most(
            0.5,
            "(50 percentage points): an error rate can never rise by more than 1, and a criterion "
            "that waits for half of all requests to newly fail would not roll back a broken release",
        ),
    ] = Field(
        # DP §Rollback Criteria: "Error rate increases > {{MAX_ERROR_RATE_INCREASE}} above baseline";
        # the placeholder is unset in the policy, so the default is one percentage point.
        default=0.01,
        gt=0,
        description=(
            "Absolute error-rate increase over the stable baseline that rolls back (0.01 = 1 pp). At most "
            "0.5: an error rate can never rise by more than 1, and a criterion that waits for half of "
            "all requests to newly fail would not roll back a broken release."
        ),
    )
    redis: Redis = Field(default_factory=Redis)
    post_deploy_validation_window: Duration = Field(
        # DP §Post-Deployment: "within {{POST_DEPLOY_VALIDATION_WINDOW}}"; unset in the policy.
        default="30m",
        description="How long after a deploy health evidence must be collected.",
    )


class Rollout(GateModel):
    stages: tuple[Percent, ...] = Field(
        # DP §Deployment Process: "Progressive rollout plan defined (e.g., 5% → 25% → 50% → 100%)".
        default=(5, 25, 50, 100),
        min_length=2,
        description="Traffic percentages of the canary steps; strictly increasing, ending at 100.",
    )
    bake_time: Annotated[
        Duration,
        duration_within(
            0,
            APPCONFIG_MAX_MINUTES * 60,
            f"at most {APPCONFIG_MAX_MINUTES}m (24h): the bake time is also AppConfig's "
            f"finalBakeTimeInMinutes, which allows at most {APPCONFIG_MAX_MINUTES} minutes",
        ),
    ] = Field(
        default="10m",
        description=(
            "Pause between steps while analysis runs; also AppConfig's final bake time, so at most 1440m."
        ),
    )

    @model_validator(mode="after")
    def _stages_progress(self) -> Self:
        if any(b <= a for a, b in zip(self.stages, self.stages[1:], strict=False)):
            raise FieldProblem("stages", list(self.stages), "must strictly increase")
        if self.stages[-1] != 100:
            raise FieldProblem("stages", list(self.stages), "the last stage must be 100")
        return self


class Notifications(GateModel):
    """M9 §Post-merge 2: "Notify #oncall and #platform Slack"; §Thresholds: "alert SRE"."""

    oncall: SlackChannel = Field(default="#oncall", description="Critical alerts and rollbacks.")
    platform: SlackChannel = Field(default="#platform", description="Tickets such as p95 over target.")
    sre: SlackChannel = Field(default="#sre", description="SRE alerts such as Redis failover.")


# Issue 12, part emergency: a backfill is due in days, which Duration (h/m/s) does not write.
# gate/promotion/emergency.py backfill_seconds() reads it.
BackfillDuration = Annotated[
    str,
    matching(
        r"[1-9][0-9]{0,2}d|[0-9]{1,6}h(?:[0-9]{1,6}m)?(?:[0-9]{1,6}s)?|[0-9]{1,6}m(?:[0-9]{1,6}s)?|[0-9]{1,6}s",
        "days such as '7d' (1-999), or a duration in h, m and s units such as '36h'",
    ),
]


def backfill_seconds(value: str) -> int:
    """A BackfillDuration in seconds: 'Nd' days, or an h/m/s duration."""
    return int(value[:-1]) * 86400 if value.endswith("d") else duration_seconds(value)


class Emergency(GateModel):
    """DP §Emergency / Hotfix Deployments."""

    incident_id_pattern: LinearRegex = Field(
        default=r"^INC-[0-9]+$",
        description=(
            "Regular expression an incident id must match; matched in linear time, so no look-around "
            "or back-references."
        ),
    )
    require_rollback_plan: Literal[True] = Field(
        default=True, description="DP: 'A rollback plan must be documented before deploying the fix'."
    )
    security_checks_skippable: Literal[False] = Field(
        default=False, description="DP: 'Security checks are never skippable'."
    )
    # Issue 12, part emergency (gate/promotion/emergency.py): what the pipeline files after an emergency
    # deploy.
    signal: Literal["issue", "pull-request"] = Field(
        default="issue",
        description=(
            "DP: 'A post-incident signal must be filed': an issue labelled post-incident, or a pull "
            "request adding <signalsDirectory>/<incident>.md."
        ),
    )
    signals_directory: RelativePath = Field(
        default="work/signals",
        description="DP: 'filed in work/signals/': where a signal pull request adds <incident>.md.",
    )
    backfill_within: BackfillDuration = Field(
        default="7d",
        description=(
            "GATE-DP-17: the backfill issue is due this long after it is filed (days 'Nd', or h/m/s); "
            "past it, while open, it blocks non-emergency deploys into the environment that took the "
            "emergency release."
        ),
    )
    backfill_label: LabelName = Field(
        default="emergency-backfill", description="The label of the backfill issue the pipeline files."
    )


class Label(GateModel):
    name: LabelName
    color: LabelColor
    description: LabelDescription = ""


def _default_labels() -> tuple[Label, ...]:
    return (
        # M9 §Post-merge 2: "create a high-priority GitHub issue via mismatch automation".
        Label(name="parity-mismatch", color="b60205", description="Root-hash parity failed after a deploy"),
        Label(name="high-priority", color="d93f0b", description="Needs attention before other work"),
        # M9 §Exceptions: schema-change PRs need two reviewers and product-owner sign-off.
        Label(name="schema-change", color="5319e7", description="Changes the trace schema"),
        # DP §Emergency / Hotfix Deployments.
        Label(name="emergency", color="000000", description="Emergency deployment; backfill validation"),
        # Issue 12, part emergency: the signal and the backfill the emergency workflow files.
        Label(
            name="post-incident", color="5319e7", description="Post-incident signal of an emergency deploy"
        ),
        Label(
            name="emergency-backfill", color="b60205", description="Validation an emergency deploy skipped"
        ),
        Label(name="infra-change", color="0e8a16", description="Changes infrastructure; see the plan diff"),
        # M9 §Thresholds: "p95 > target: create an alerting ticket and notify #platform".
        Label(name="platform", color="1d76db", description="Ticket for the platform team (#platform)"),
        # DP §Release Notes: "Changes categorized (new feature, improvement, fix, deprecation)";
        # "Breaking changes clearly highlighted" (releaseNotes.categories; gate/github/release_notes.py).
        Label(name="feature", color="0e8a16", description="Release notes: new feature"),
        Label(name="improvement", color="1d76db", description="Release notes: improvement"),
        Label(name="fix", color="d73a4a", description="Release notes: fix"),
        Label(name="deprecation", color="fbca04", description="Release notes: deprecation"),
        Label(
            name="breaking-change",
            color="b60205",
            description="Release notes: breaking change; the PR body needs a Migration section",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Gate workflows: the commands a gated repository runs. Defaults are the contract documented in
# README.md ("What a gated repository provides"); a stack overrides only what differs.


class Commands(GateModel):
    """Shell text by design, written by the stack owner; each is one line of a `run:` block, so no
    line breaks or control characters, and no `${{` (GitHub would evaluate it before the shell runs:
    template injection)."""

    @field_validator("*")
    @classmethod
    def _one_line_of_shell(cls, command: str) -> str:
        return check_shell_command(command)

    python_install: str = Field(default="python -m pip install -r requirements.txt")
    pytest: str = Field(default="python -m pytest", description="M9 §Required CI checks 1 (Python).")
    flake8: str = Field(default="python -m flake8", description="M9 §Required CI checks 2 (Python).")
    js_install: str = Field(default="npm ci")
    npm_test: str = Field(default="npm test", description="M9 §Required CI checks 1 (JS).")
    eslint: str = Field(default="npx eslint .", description="M9 §Required CI checks 2 (JS).")
    produce_traces: str = Field(
        default="python scripts/determinism.py produce --out build/traces",
        description="M9 §3: Python produces the traces that the JS runtime replays.",
    )
    replay_traces_js: str = Field(
        default="node scripts/determinism.mjs replay build/traces",
        description="M9 §3: cross-language parity, Python → JS; fails on any divergence.",
    )
    canonicalize: str = Field(
        default='python scripts/determinism.py canonicalize --in "$IN_DIR" --out "$OUT_DIR"',
        description=(
            "M9 §3: canonical JSON of every file under $IN_DIR into $OUT_DIR (both set by the step): "
            "run twice on what `produce_traces` emits and once on the golden fixtures, compared byte "
            "for byte."
        ),
    )
    root_hash_python: str = Field(
        default="python scripts/determinism.py root-hash build/traces",
        description="M9 §3: prints the traces' root_hash as computed by the Python runtime.",
    )
    root_hash_js: str = Field(
        default="node scripts/determinism.mjs root-hash build/traces",
        description="M9 §3: prints the traces' root_hash as computed by the JS runtime.",
    )
    e2e_simulate: str = Field(default='python scripts/e2e.py simulate --target "$TARGET_URL" --out build/e2e')
    e2e_run: str = Field(default='python scripts/e2e.py run --target "$TARGET_URL" --out build/e2e')
    e2e_replay: str = Field(default="python scripts/e2e.py replay --out build/e2e")
    e2e_diff: str = Field(
        default="python scripts/e2e.py diff build/e2e",
        description=(
            "M9 §4: succeeds only when the root hashes of run and replay match, and prints that root "
            "hash as the last word of its output (deploy.yml records it as the parity evidence)."
        ),
    )
    target_url: str = Field(
        default='scripts/target-url.sh "$TARGET_ENVIRONMENT"',
        description="Prints the base URL of an environment (a deployed one, or pr-<repo>-<N>).",
    )
    # Deprecated (issue 11): deploy.yml deploys and rolls back through the environment's stack
    # (`python -m gate deploy` / `rollback`), one delivery path; kept so existing stack files load.
    deploy: str = Field(
        default='scripts/deploy.sh "$TARGET_ENVIRONMENT" "$IMAGE"',
        description=(
            "DEPRECATED, no longer run by any gate workflow: deploy.yml deploys and rolls back through "
            "the environment's stack (`python -m gate deploy`, `python -m gate rollback`). Formerly: "
            "deploys $IMAGE, pinned by digest, to an environment, and rolls back."
        ),
    )
    current_image: str = Field(
        default='scripts/current-image.sh "$TARGET_ENVIRONMENT"',
        description=(
            "DEPRECATED, no longer run by any gate workflow: the rollback target is the environment "
            "stack's last validated image (`python -m gate rollback`). Formerly: prints the "
            "digest-pinned image running in an environment."
        ),
    )


class K6(GateModel):
    """M9 §Required CI checks 4: "k6 smoke with `--vus 10 --duration 1m`"."""

    script: RelativePath = Field(
        default="tests/k6/smoke.js", description="The k6 smoke test in the repository."
    )
    vus: int = Field(default=10, ge=1, le=1000)
    duration: Duration = Field(default="1m")
    headroom: FiniteFloat = Field(
        default=0.2, ge=0, le=10, description="Headroom the SLO mapper adds to observed latencies."
    )


class WorkflowSettings(GateModel):
    commit: bool = Field(default=True, description="Commit the gate workflows into each gated repository.")
    runner: RunnerLabel = Field(
        default="ubuntu-24.04",
        description=(
            "runs-on for every job (pinned image): a GitHub-hosted label or self-hosted. A self-hosted "
            "runner never runs a pull request from a fork: those jobs pick ubuntu-24.04 instead."
        ),
    )
    python_version: str = Field(default="3.11", pattern=r"^3\.[0-9]{1,2}$")
    node_version: str = Field(default="20", pattern=r"^[0-9]{2}$")
    timeout_minutes: int = Field(default=20, ge=1, le=360, description="Default job timeout.")
    gate_repository: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$",
        description="owner/name of this delivery-gate project; none: <owner>/delivery-gate.",
    )
    gate_ref: GitRef = Field(
        default="main", description="Ref of the delivery-gate project the workflows check out."
    )
    image_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
        description="Name of the repository's container image; none: the repository name, lower-cased.",
    )
    registry: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
        description=(
            "Registry (and namespace) the pipeline pushes each commit's image to, once, and deploys from "
            "by digest; none: ghcr.io/<owner>, logged in with the job's GITHUB_TOKEN."
        ),
    )
    dockerfile: RelativePath = Field(default="Dockerfile", description="The image's Dockerfile.")
    infra_paths: tuple[PathspecGlob, ...] = Field(
        default=("infra/**", "Pulumi.yaml", "Pulumi.*.yaml"),
        min_length=1,
        description=(
            "Paths that count as infrastructure for infra-preview.yml (git pathspec globs; each is "
            "quoted on a shell line, so no spaces or quotes)."
        ),
    )
    infra_dir: RelativeDirectory = Field(
        default="infra", description="The repository's Pulumi project directory ('.': the root)."
    )
    infra_stack: StackName = Field(default="dev", description="The stack infra-preview previews.")
    golden_dir: RelativePath = Field(
        default="tests/golden", description="M9 §3: the golden fixtures canonical JSON must equal."
    )
    commands: Commands = Field(default_factory=Commands)
    k6: K6 = Field(default_factory=K6)
    cluster_credentials: ClusterCredentials | None = Field(
        default=None,
        description=(
            "How the e2e-parity job and the ephemeral janitor reach the cluster of the disposable "
            "environments: 'aws' (GitHub OIDC to a per-repository role, then `aws eks "
            "update-kubeconfig`; needs delivery-gate:aws), 'runner' (a self-hosted runner's own "
            "in-cluster identity; needs runner: self-hosted) or 'none' (those steps fail, saying so); "
            "none: 'aws' when delivery-gate:aws is set, else 'none'. Never a stored kubeconfig."
        ),
    )


# ---------------------------------------------------------------------------------------------
# Runtime safety net: the application under the gate, its monitoring, and its feature flags


class Application(GateModel):
    """The service the gate deploys, as Kubernetes and Prometheus see it."""

    name: EnvironmentName = Field(
        default="",
        validate_default=False,
        description="App name: Deployment/Rollout, Service, `job` label, namespace (`<name>`, "
        "`<name>-flags`). Default: the first gated repository's name as a lower-case DNS label; "
        "nothing of another organisation is assumed.",
    )
    # Issue 13: one application per project, built and deployed from its own repository (or
    # repositories); the others are gated for merging only. An organisation with several deployed
    # applications has a configuration project per application, sharing a base file (`imports:`).
    repositories: tuple[RepositoryName, ...] | None = Field(
        default=None,
        min_length=1,
        description="The gated repositories that build and deploy the application: only they get "
        "deploy.yml, the rollback drill, the emergency path and the runtime automation, and only their "
        "workflows are trusted by the deploy roles. Default: the first repository.",
    )
    image: ImageReference | None = Field(
        default=None, description="Image reference to deploy; set per stack (promotion pins a digest)."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="HTTP port, also serving /metrics.")
    health_path: str = Field(default="/healthz", pattern=r"^/[A-Za-z0-9/_.-]*$")
    replicas: int = Field(default=3, ge=1, le=100)
    requests_metric: MetricName = Field(
        default="http_requests_total", description="Counter of HTTP requests with a `code` label."
    )
    latency_histogram: MetricName = Field(
        default="http_request_duration_seconds", description="Histogram of request latency in seconds."
    )


class SecretKey(GateModel):
    name: EnvironmentName = Field(description="Kubernetes Secret name.")
    key: str = Field(pattern=r"^[A-Za-z0-9._-]{1,253}$", description="Key inside the Secret.")


# python:3.12-slim, the multi-arch index digest (August 2026), seen pinned in several independent
# public Dockerfiles and notes. Re-resolve when bumping: `docker buildx imagetools inspect
# python:3.12-slim`. The relay needs only the standard library of any Python >= 3.11.
RELAY_IMAGE = (
    "docker.io/library/python:3.12-slim"
    "@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea"
)
# GitHub's own networks, as its meta API (https://api.github.com/meta, key `api`) lists them; the
# regional /32 edges it also lists change often and are left to the stack. GitHub advises against
# allow-listing by address: check the list against the meta API when a dispatch fails to connect.
GITHUB_API_CIDRS = (
    "140.82.112.0/20",
    "143.55.64.0/20",
    "185.199.108.0/22",
    "192.30.252.0/22",
    "2606:50c0::/32",
    "2a0a:a440::/29",
)


class Relay(GateModel):
    """The alert relay (tools/alert_relay.py, gate/runtime/relay.py): M9 §Post-merge 2 and §Thresholds act on
    runtime signals, so firing `action: rollback` and `action: ticket` alerts become a
    repository_dispatch to the gated repository, whose mismatch-automation workflow acts."""

    enabled: bool = Field(
        default=True,
        description="Declare the relay (in the cluster, and on AWS Lambda when `aws` is set).",
    )
    repository: RepositoryName | None = Field(
        default=None,
        description=(
            "The gated repository (a name in repositories[]) that receives the dispatches and runs "
            "mismatch-automation.yml; none: the first of repositories[]."
        ),
    )
    namespace: EnvironmentName = Field(
        default="delivery-gate-relay", description="The relay's own namespace in the cluster."
    )
    image: PinnedImage = Field(
        default=RELAY_IMAGE, description="A Python >= 3.11 image, pinned by digest, that runs the relay."
    )
    github_api_cidrs: tuple[EgressCidr, ...] = Field(
        default=GITHUB_API_CIDRS,
        min_length=1,
        description=(
            "The only networks the relay's pods may reach (TCP 443): GitHub's API. NetworkPolicy "
            "cannot name a host, so this is an address list (see https://api.github.com/meta)."
        ),
    )
    token_secret: SecretKey = Field(
        default_factory=lambda: SecretKey(name="alert-relay-github", key="token"),
        description=(
            "Kubernetes Secret (in the relay's namespace) holding the GitHub token; filled from "
            "delivery-gate:relayGithubToken when the stack sets it."
        ),
    )


class Incidents(GateModel):
    """M9 §Post-merge 2: "Open an operator incident" when parity fails in production traffic."""

    provider: IncidentProvider = Field(
        default=IncidentProvider.NONE,
        description=(
            "pagerduty (Events API v2, dedup_key = the alert's fingerprint), opsgenie (Alert API, "
            "alias = the fingerprint) or none (the issue asks for an incident by hand)."
        ),
    )
    secret: SecretName = Field(
        default="INCIDENT_ROUTING_KEY",
        description=(
            "Repository secret of the gated repository holding the PagerDuty integration (routing) "
            "key or the Opsgenie API key (an integration key that can only create alerts)."
        ),
    )


# ---------------------------------------------------------------------------------------------
# Issue 12, part "dash": dashboards built from the alerts' and the analysis' queries (GATE-OBS-01)


class GrafanaDashboards(GateModel):
    """DP §Pre-Deployment "observability verified (... dashboard created)": each environment's
    dashboard is a ConfigMap in the monitoring namespace that Grafana's dashboard sidecar loads
    (the grafana chart, as kube-prometheus-stack deploys it: `sidecar.dashboards.label`,
    `labelValue`, `folderAnnotation`). gate/runtime/dashboards.py renders it."""

    folder: str = Field(
        default="Delivery gate",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$",
        description="The Grafana folder the dashboard goes into (the folder annotation's value).",
    )
    label: str = Field(
        default="grafana_dashboard",
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$",
        description="The label the sidecar watches (sidecar.dashboards.label).",
    )
    label_value: str = Field(
        default="1",
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$",
        description="Its value (sidecar.dashboards.labelValue).",
    )
    folder_annotation: str = Field(
        default="grafana_folder",
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$",
        description=(
            "The annotation naming the folder (sidecar.dashboards.folderAnnotation; Grafana files "
            "it there with provider.foldersFromFilesStructure)."
        ),
    )
    url: HttpsUrl | None = Field(
        default=None,
        description=(
            "Where Grafana serves dashboards, without a trailing '/' (e.g. https://grafana.example.com); "
            "set: every alert gets a dashboard_url annotation <url>/d/<uid>."
        ),
    )

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        if url is not None and url.endswith("/"):
            raise ValueError("allowed: an https:// link without a trailing '/'")
        return url


class Monitoring(GateModel):
    """DP §Pre-Deployment: "alerting with runbooks"; §Post-Deployment: "burn rate monitored"."""

    namespace: EnvironmentName = Field(default="monitoring", description="Where Prometheus runs.")
    prometheus_url: HttpUrl = Field(
        default="http://prometheus-operated.monitoring.svc:9090",
        description="Prometheus the rollout analysis queries.",
    )
    runbook_base_url: HttpsUrl | None = Field(
        default=None,
        description=(
            "Base URL of the runbooks, without a trailing '/'; none: docs/runbooks in the delivery-gate "
            "repository."
        ),
    )
    availability_slo: FiniteFloat = Field(
        default=0.999, ge=0.9, lt=1, description="Availability objective the burn-rate alerts protect."
    )
    slack_webhook: SecretKey = Field(
        default_factory=lambda: SecretKey(name="alertmanager-slack", key="webhook-url"),
        description="Secret holding the Slack webhook URL (never in plain text).",
    )
    relay: Relay = Field(default_factory=Relay, description="The alert relay to the gated repository.")
    incidents: Incidents = Field(
        default_factory=Incidents, description="Where runtime rollbacks open the operator incident."
    )
    grafana: GrafanaDashboards = Field(
        default_factory=GrafanaDashboards,
        description="The environment's Grafana dashboard (GATE-OBS-01, gate/runtime/dashboards.py).",
    )

    @field_validator("runbook_base_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        if url is not None and url.endswith("/"):
            raise ValueError("allowed: an https:// link without a trailing '/'")
        return url


FlagKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


class FeatureFlag(GateModel):
    """DP §Pre-Deployment: "Feature flags configured for new features"; each flag has an owner,
    an expiry date and the issue that tracks its removal."""

    key: FlagKey = Field(description="flagd flag key.")
    owner: Slug = Field(description="Team or person who removes the flag.")
    expires: date = Field(description="After this date the plan fails until the flag is removed.")
    issue: str = Field(pattern=r"^https://[^\s]+$", description="Link to the issue tracking the flag.")
    description: str = Field(default="", max_length=200)
    environments: dict[EnvironmentName, bool] = Field(
        default_factory=dict,
        description="On/off per environment; an environment not listed is off (a new flag is off).",
    )

    def enabled_in(self, environment: str) -> bool:
        return self.environments.get(environment, False)


class Quota(GateModel):
    cpu: str = Field(
        default="4", pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="requests.cpu and limits.cpu."
    )
    memory: str = Field(default="8Gi", pattern=r"^[0-9]+(Ki|Mi|Gi)$", description="requests/limits.memory.")
    pods: int = Field(default=30, ge=1, le=500)


class Ephemeral(GateModel):
    """A disposable staging environment for one pull request (M9 §Required CI checks 4), stack
    pr-<repo>-<N> (gate/policy/prnames.py)."""

    pull_request: int = Field(
        ge=1, le=999_999_999, description="The pull request number; the stack is pr-<repo>-<number>."
    )
    repository: RepositoryName = Field(description="The gated repository the pull request belongs to.")
    created_at: datetime = Field(
        description="When the stack was created (UTC), not after now; the TTL counts from here."
    )
    ttl: Annotated[
        Duration,
        duration_within(
            3600,
            14 * 24 * 3600,
            "from 1h to 336h (14 days): a disposable environment lives long enough for its checks and "
            "is reaped within two weeks",
        ),
    ] = Field(
        default="72h", description="How long the environment may live (1h..336h); the janitor reaps it after."
    )
    quota: Quota = Field(default_factory=Quota)
    ingress_namespace: EnvironmentName = Field(
        default="ingress-nginx", description="Namespace of the ingress controller allowed in."
    )
    redis_image: ImageReference = Field(
        default="redis:7.4-alpine", description="Redis for rate limiting, as in staging."
    )

    @model_validator(mode="after")
    def _utc(self, info: ValidationInfo) -> Self:
        _require_utc("createdAt", self.created_at)
        # A creation time in the future would postpone the expiry the janitor reads.
        _require_not_after_now("createdAt", self.created_at, info, "the TTL would count from then")
        return self

    @property
    def stack(self) -> str:
        return pr_stack(self.repository, self.pull_request)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=duration_seconds(self.ttl))


# ---------------------------------------------------------------------------------------------
# Promotion with evidence (DP §Environment Progression: "Promotion between environments requires
# evidence of health at the current stage"; Principles 3: "Evidence-based promotion")


RunId = Annotated[int, Field(ge=1, le=2**53)]
RepositoryFullName = Annotated[
    str,
    matching(
        r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}",
        "owner/name of a GitHub repository",
    ),
]


class PipelineRun(GateModel):
    """The GitHub Actions run of deploy.yml that did something, verified through the GitHub API."""

    repository: RepositoryFullName = Field(description="owner/name of the gated repository.")
    run_id: RunId = Field(description="github.run_id of the deploy.yml run.")

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repository}/actions/runs/{self.run_id}"


class Deployment(GateModel):
    """Written by `python -m gate deploy` (never by hand, never committed: `gate check` refuses it in
    a stack file): which pipeline run put the release in place, when, and what ran before. It lives
    in the stack's state (the `deployment` output) and is carried to every later `pulumi up`."""

    deployed_at: datetime = Field(description="When `gate deploy` applied the release (UTC).")
    run: PipelineRun = Field(description="The deploy.yml run that deployed it.")
    previous_image: PinnedImage | None = Field(default=None, description="What the environment ran before.")
    rollback: bool = Field(
        default=False,
        description=(
            "A rollback (`gate rollback`): the image was validated in this environment before, so it "
            "rests on this environment's own evidence, not on the upstream stack's."
        ),
    )

    @model_validator(mode="after")
    def _utc(self, info: ValidationInfo) -> Self:
        _require_utc("deployedAt", self.deployed_at)
        _require_not_after_now("deployedAt", self.deployed_at, info, "a deploy cannot come from the future")
        return self


class Validation(GateModel):
    """This environment's own evidence for the image it runs: the e2e parity check passed against
    it here (M9 §Post-merge 1), and, when recorded by the pipeline (`gate record-evidence`), the
    canary analysis and the post-deploy validation window too. The stack exports it as
    `releaseEvidence` for the next environment."""

    image: PinnedImage = Field(description="The image the parity check ran against.")
    parity_root_hash: RootHash = Field(description="The root hash run and replay agreed on.")
    validated_at: datetime = Field(description="When the evidence was recorded (UTC).")
    run: PipelineRun | None = Field(
        default=None, description="The deploy.yml run whose parity, analysis and window jobs passed."
    )
    analysis: Literal["Successful"] | None = Field(
        default=None, description="The Argo Rollouts canary analysis result (only a success is evidence)."
    )
    window_start: datetime | None = Field(default=None, description="Start of the post-deploy window.")
    window_end: datetime | None = Field(default=None, description="End of the post-deploy window.")

    @model_validator(mode="after")
    def _utc(self, info: ValidationInfo) -> Self:
        _require_utc("validatedAt", self.validated_at)
        _require_not_after_now("validatedAt", self.validated_at, info, "evidence cannot come from the future")
        window = (self.window_start, self.window_end)
        if (window[0] is None) != (window[1] is None):
            shown = window[1].isoformat() if window[1] is not None else None
            raise FieldProblem("windowEnd", shown, "windowStart and windowEnd together")
        if window[0] is not None and window[1] is not None:
            _require_utc("windowStart", window[0])
            _require_utc("windowEnd", window[1])
            if not window[0] <= window[1] <= self.validated_at:
                raise FieldProblem(
                    "windowEnd",
                    window[1].isoformat(),
                    "windowStart <= windowEnd <= validatedAt (the window was watched before it was recorded)",
                )
        return self


class PromotedFrom(GateModel):
    """The upstream evidence `gate promote` read, kept in the stack file for review. The program reads
    the upstream stack again at every `pulumi up`; this record is what the reviewer approved."""

    stack: EnvironmentName = Field(description="The stack the release was promoted from.")
    image_digest: ImageDigest
    parity_root_hash: RootHash
    validated_at: datetime
    flags: dict[FlagKey, bool] = Field(default_factory=dict, description="Flag states validated upstream.")

    @model_validator(mode="after")
    def _not_in_the_future(self, info: ValidationInfo) -> Self:
        _require_not_after_now("validatedAt", self.validated_at, info, "evidence cannot come from the future")
        return self


class EmergencyRelease(GateModel):
    """DP §Emergency / Hotfix Deployments: an incident may skip the upstream validation, never security."""

    incident_id: Annotated[str, Field(min_length=1), one_line(100, "an incident id")] = Field(
        description="The incident id; must match emergency.incidentIdPattern."
    )
    rollback_plan: HttpsUrl = Field(
        description="DP: 'A rollback plan must be documented before deploying the fix': its link."
    )
    security_scan: HttpsUrl = Field(
        description=(
            "DP: 'Security checks are never skippable': the passing security-scan run of this image."
        )
    )


class Release(GateModel):
    """What this environment runs, written by `python -m gate promote` (a reviewable diff)."""

    image: PinnedImage = Field(description="The image to deploy, pinned by digest.")
    promoted_from: PromotedFrom | None = Field(
        default=None, description="The upstream evidence the promotion rests on."
    )
    emergency: EmergencyRelease | None = Field(
        default=None, description="Set only for an emergency deployment that skips upstream validation."
    )

    @property
    def image_digest(self) -> str:
        return image_digest(self.image)


# ---------------------------------------------------------------------------------------------
# AWS: the registry, deploy identities, notifications, alarms and flag delivery behind the gate

ImageRepositoryName = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", max_length=200)]


class ImageRetention(GateModel):
    """ECR lifecycle policy: old images go, but never the ones an environment may roll back to."""

    keep_last: int = Field(
        default=50, ge=5, le=1000, description="Tagged images kept per repository (rollback targets)."
    )
    untagged_days: int = Field(default=7, ge=1, le=365, description="Days before an untagged image expires.")


class LoadBalancer(GateModel):
    """The Application Load Balancer in front of the service in this environment: the dimensions of
    the CloudWatch alarms that implement the rollback criteria on the AWS side."""

    load_balancer: str = Field(
        pattern=r"^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$",
        description="The LoadBalancer dimension, e.g. app/aos-prod/50dc6c495c0c9188.",
    )
    target_group: str = Field(
        pattern=r"^targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$",
        description="The TargetGroup dimension, e.g. targetgroup/aos-prod/943f017f100becff.",
    )
    min_requests_per_minute: int = Field(
        default=10,
        ge=1,
        description="Below this traffic the error rate is not judged (a quiet minute never rolls back).",
    )


class Chatbot(GateModel):
    """AWS Chatbot delivers the SNS topics to Slack. The workspace is authorised once in the console."""

    slack_team_id: str = Field(pattern=r"^[A-Z0-9]{9,11}$", description="Slack workspace (team) id.")
    oncall_channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{8,11}$", description="Channel id of #oncall.")
    platform_channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{8,11}$", description="Channel id of #platform.")
    sre_channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{8,11}$", description="Channel id of the SRE channel.")


class AwsSettings(GateModel):
    """The AWS side of the gate for this stack's environment (DESIGN: 'AWS' row)."""

    account_id: AwsAccountId = Field(
        description="The account this environment lives in; the provider refuses any other."
    )
    region: AwsRegion = Field(default="eu-west-1", description="The region of every AWS resource here.")
    registry_environment: EnvironmentName | None = Field(
        default=None,
        description=(
            "The environment whose stack declares the ECR repositories. Images are built once and "
            "promoted by digest, so one registry serves every environment; none: the first one."
        ),
    )
    services: tuple[ImageRepositoryName, ...] | None = Field(
        default=None,
        description="ECR repositories, one per service; none: one per gated repository (its image name).",
    )
    image_retention: ImageRetention = Field(default_factory=ImageRetention)
    oidc_provider_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$",
        description=(
            "The account's existing GitHub OIDC provider (there can be only one per account); "
            "none: this stack declares it."
        ),
    )
    eks_cluster_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$",
        description="The EKS cluster the deploy role may describe (for a kubeconfig); none: no EKS access.",
    )
    deploy_from_release_branches: bool = Field(
        default=False,
        description=(
            "Whether the deploy roles also trust the gate's deploy workflow on release branches "
            "(job_workflow_ref like <repo>/.github/workflows/deploy.yml@refs/heads/<releaseBranchPattern>). "
            "Only safe where creating a release branch is restricted on GitHub: the claim names a file "
            "and a ref, not what the file says. Off: only the default branch's deploy workflow."
        ),
    )
    load_balancer: LoadBalancer = Field(description="Where the rollback alarms read their metrics.")
    chatbot: Chatbot | None = Field(
        default=None, description="Slack delivery of the SNS topics; none: subscribe to the topics elsewhere."
    )
    managed_prometheus: bool = Field(
        default=False,
        description="Declare an Amazon Managed Prometheus workspace with the gate's rules and routing.",
    )


# ---------------------------------------------------------------------------------------------
# The whole policy of one stack


_NOT_IN_A_LABEL = re.compile(r"[^a-z0-9-]+")


def application_name_for(repository: str) -> str | None:
    """A repository's name as an application name (a lower-case DNS label of at most 32
    characters), or None when nothing usable is left (e.g. a name of digits only)."""
    label = _NOT_IN_A_LABEL.sub("-", repository.lower()).strip("-")[:32].rstrip("-")
    return label if re.fullmatch(r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?", label) else None


def _as_dict(value: Any) -> dict[str, Any]:
    """A nested value as the before-validator sees it: a mapping, a model (tests build policies
    from models) or nothing."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, GateModel):
        return {name: getattr(value, name) for name in value.model_fields_set}
    return {}


class GatePolicy(GateModel):
    """Everything one stack applies. Keys are the `delivery-gate:<key>` entries of the stack file."""

    environment: EnvironmentName = Field(description="The environment this stack deploys.")
    repositories: tuple[Repository, ...] = Field(min_length=1, description="Gated repositories.")
    # Issue 13, part repos: what every repository has unless its own entry says otherwise.
    repository_defaults: RepositoryDefaults = Field(
        default_factory=lambda: RepositoryDefaults(),  # noqa: PLW0108 - defined above, typed here
        description=(
            "Organisation defaults of every repositories[] entry: a key an entry leaves out takes "
            "the value here; requiredChecks and externalChecks are extended by the entry's own "
            "(an external check of the same name replaces the default's)."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_repository_defaults(cls, data: Any) -> Any:
        return _with_repository_defaults(data)

    checks: tuple[Check, ...] = Field(
        default_factory=_default_checks, min_length=1, description="The required-check catalogue."
    )
    merge_gate: MergeGate = Field(default_factory=MergeGate)
    reviews: Reviews = Field(default_factory=Reviews)
    environments: tuple[Environment, ...] = Field(
        default_factory=_default_environments, min_length=2, description="The promotion chain."
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    rollout: Rollout = Field(default_factory=Rollout)
    notifications: Notifications = Field(default_factory=Notifications)
    emergency: Emergency = Field(default_factory=Emergency)
    labels: tuple[Label, ...] = Field(default_factory=_default_labels)
    workflows: WorkflowSettings = Field(default_factory=WorkflowSettings)
    application: Application = Field(default_factory=Application)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    flags: tuple[FeatureFlag, ...] = Field(default=(), description="Feature flags and their states.")
    slack_webhook_url: SecretStr | None = Field(
        default=None,
        description=(
            "Slack incoming-webhook URL for Alertmanager, as a stack secret (pulumi config set "
            "--secret delivery-gate:slackWebhookUrl ...); none: the Secret monitoring.slackWebhook "
            "is managed elsewhere."
        ),
    )
    relay_github_token: SecretStr | None = Field(
        default=None,
        description=(
            "GitHub token of the alert relay (fine-grained: Contents read/write on the relay's "
            "repository, which repository_dispatch needs), as a stack secret (pulumi config set "
            "--secret delivery-gate:relayGithubToken ...); none: the relay's Secrets are filled "
            "elsewhere."
        ),
    )
    release: Release | None = Field(
        default=None,
        description="What this environment runs (image digest and its evidence); see `gate promote`.",
    )
    validation: Validation | None = Field(
        default=None, description="This environment's evidence for its image, exported to the next one."
    )
    deployment: Deployment | None = Field(
        default=None,
        description=(
            "Set only by `python -m gate deploy` in the configuration it applies (never committed): the "
            "pipeline run that deployed `release`."
        ),
    )
    aws: AwsSettings | None = Field(
        default=None, description="The AWS side of the gate; none: this stack declares no AWS resources."
    )
    ephemeral: Ephemeral | None = Field(
        default=None,
        description=(
            "Set only in pr-<repo>-<N> stacks (stacks/ephemeral[.<repo>].yaml): a disposable environment."
        ),
    )
    protect_resources: bool | None = Field(
        default=None,
        description=(
            "Protect declared resources from deletion; none: the merge gate always, the rest in production."
        ),
    )
    exceptions: tuple[GateException, ...] = Field(
        default=(),
        description="Approved, expiring waivers of the non-negotiables (gate/policy/nonnegotiables.py).",
    )
    # Issue 12 (notes): DP §Release Notes and §Pre-Deployment "Release contract completed".
    # The lambdas defer the name: both models are defined at the end of this module.
    release_notes: "ReleaseNotes" = Field(
        default_factory=lambda: ReleaseNotes(),  # noqa: PLW0108
        description="Release-notes categories (labels), the breaking-change label and its Migration section.",
    )
    release_contract: "ReleaseContract" = Field(
        default_factory=lambda: ReleaseContract(),  # noqa: PLW0108
        description="Where release contracts live (work/releases/<version>.md, from the template).",
    )
    # Issue 12, part "drill" (GATE-DP-16): see RollbackDrill, DrillResult and DrillPending below.
    rollback_drill: "RollbackDrill" = Field(
        default_factory=lambda: RollbackDrill(),  # noqa: PLW0108
        description=(
            "DP §Pre-Deployment 'Rollback plan documented and tested': the scheduled rollback drill "
            "whose passed result production's promotion requires (GATE-DP-16)."
        ),
    )
    rollback_drill_result: "DrillResult | None" = Field(
        default=None,
        description=(
            "Written only by `python -m gate drill restore` (never committed: `gate check` refuses it): "
            "the last rollback drill of this stack, exported as `rollbackDrill`."
        ),
    )
    rollback_drill_pending: "DrillPending | None" = Field(
        default=None,
        description=(
            "Written only by `python -m gate drill rollback` (never committed): what the stack ran "
            "before a drill in progress, which `gate drill restore` puts back exactly."
        ),
    )
    # Issue 12, part "deploy" (GATE-DP-19, GATE-DP-20): see DeploymentWindow and ChangeLog below.
    deployment_window: "DeploymentWindow" = Field(
        default_factory=lambda: DeploymentWindow(),  # noqa: PLW0108 - defined below
        description="When production may be deployed and who is told first (GATE-DP-19).",
    )
    change_log: "ChangeLog" = Field(
        default_factory=lambda: ChangeLog(),  # noqa: PLW0108 - defined below
        description="Where each successful production deploy is recorded (GATE-DP-20).",
    )

    # -- derived defaults --------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _derive_application_defaults(cls, data: Any) -> Any:
        """Issue 13: a new organisation's plan holds nothing of the example one. The application is
        named after the first gated repository unless the stack names it, and the replay-mismatch
        counter after the application (see ReplayMismatch)."""
        if not isinstance(data, dict):
            return data
        application = _as_dict(data.get("application"))
        repositories = data.get("repositories")
        if not application.get("name") and isinstance(repositories, list | tuple) and repositories:
            first = repositories[0]
            named = application.get("repositories")
            repository = (
                named[0]
                if isinstance(named, list | tuple) and named
                else (first.get("name") if isinstance(first, dict) else getattr(first, "name", None))
            )
            name = application_name_for(repository) if isinstance(repository, str) else None
            if name is not None:
                application = {**application, "name": name}
                data = {**data, "application": application}
        name = application.get("name")
        thresholds = _as_dict(data.get("thresholds"))
        key = "replay_mismatch" if "replay_mismatch" in thresholds else "replayMismatch"
        mismatch = _as_dict(thresholds.get(key))
        if isinstance(name, str) and name and not mismatch.get("metric"):
            metric = f"{name.replace('-', '_')}_replay_mismatch_total"
            data = {**data, "thresholds": {**thresholds, key: {**mismatch, "metric": metric}}}
        return data

    @model_validator(mode="after")
    def _application_repositories_are_gated(self) -> Self:
        gated = {repo.name.lower() for repo in self.repositories}
        for index, wanted in enumerate(self.application.repositories or ()):
            if wanted.lower() not in gated:
                raise FieldProblem(
                    f"application.repositories[{index}]",
                    wanted,
                    "one of the gated repositories: " + ", ".join(repo.name for repo in self.repositories),
                )
        return self

    @property
    def deploying_repositories(self) -> tuple[Repository, ...]:
        """The repositories that build and deploy the application (application.repositories, by
        default the first gated one): what gets the deploy side and what the deploy roles trust.

        Computed once per policy object (issue 14 item 3: every repository's rendering asks)."""
        return once(self, "deploying_repositories", self._deploying_repositories)

    def _deploying_repositories(self) -> tuple[Repository, ...]:
        wanted = {name.lower() for name in (self.application.repositories or (self.repositories[0].name,))}
        return tuple(repo for repo in self.repositories if repo.name.lower() in wanted)

    @property
    def deploying_repository(self) -> Repository:
        """The first deploying repository: where the relay dispatches and releases are judged."""
        return self.deploying_repositories[0]

    def deploys(self, repo: Repository) -> bool:
        """Whether `repo` deploys the application (the others are gated for merging only)."""
        deploying = once(
            self, "deploying_full_names", lambda: frozenset(r.full_name for r in self.deploying_repositories)
        )
        return repo.full_name in deploying

    @model_validator(mode="after")
    def _application_is_named(self) -> Self:
        if not self.application.name:
            raise FieldProblem(
                "application.name",
                "(missing)",
                f"a lower-case name (letters, digits, inner hyphens, at most 32 characters); the first "
                f"repository's name {self.repositories[0].name!r} cannot be made one, so set it",
            )
        return self

    # -- cross-field rules -------------------------------------------------------------------

    @model_validator(mode="after")
    def _change_log_branch_is_not_protected(self) -> Self:
        # GATE-DP-20: the pipeline writes the change log; never on a branch the gate protects.
        from fnmatch import fnmatchcase  # noqa: PLC0415 - part "deploy" keeps its hook self-contained

        branch = self.change_log.branch
        for repo in self.repositories:
            for protected in (repo.default_branch, repo.release_branch_pattern):
                if self.change_log.file is not None and fnmatchcase(branch, protected):
                    raise FieldProblem(
                        "changeLog.branch",
                        branch,
                        f"is protected by the gate ({protected!r} of {repo.name}); allowed: a branch "
                        "the pipeline may write, such as 'delivery-log'",
                    )
        return self

    @model_validator(mode="after")
    def _repository_policies(self) -> Self:
        # Issue 13, part repos: per-repository checks and merge-gate modes (see the block above).
        _check_repository_policies(self)
        return self

    @model_validator(mode="after")
    def _release_deploys_need_restricted_creation(self) -> Self:
        # The deploy roles may trust release branches only where a ruleset stops ordinary writers
        # from creating one (gate/components/github_gate.py: rulesets mode); classic branch protection
        # cannot restrict creation of a `release/*` pattern.
        release_deploys = self.aws is not None and self.aws.deploy_from_release_branches
        # Issue 13, part repos: each repository's own mode counts (repositories[].mergeGateMode).
        unguarded = [
            repo.name
            for repo in self.repositories
            if (repo.merge_gate_mode or self.merge_gate.mode) == MergeGateMode.BRANCH_PROTECTION
        ]
        if release_deploys and unguarded:
            raise FieldProblem(
                "aws.deployFromReleaseBranches",
                True,
                "false unless mergeGate.mode is 'rulesets' or 'organization', which let only "
                "production's reviewers "
                "create release branches (anyone with write access could otherwise create one with "
                "their own deploy.yml and get the deploy role); on branch protection: "
                + ", ".join(unguarded),
            )
        return self

    @model_validator(mode="after")
    def _evidence_after_the_deploy(self) -> Self:
        # Issue 11: evidence is for the deploy the environment runs, gathered after it happened.
        deployment, validation, release = self.deployment, self.validation, self.release
        if deployment is not None and release is None:
            raise FieldProblem("deployment", "set", "only with the release it deployed")
        if deployment is None or validation is None or release is None or validation.image != release.image:
            return self
        if validation.validated_at < deployment.deployed_at:
            raise FieldProblem(
                "validation.validatedAt",
                validation.validated_at.isoformat(),
                f"not before the deploy it validates ({deployment.deployed_at.isoformat()})",
            )
        if validation.window_start is not None and validation.window_start < deployment.deployed_at:
            raise FieldProblem(
                "validation.windowStart",
                validation.window_start.isoformat(),
                f"not before the deploy it watched ({deployment.deployed_at.isoformat()})",
            )
        return self

    @model_validator(mode="after")
    def _relay_repository_is_gated(self) -> Self:
        wanted = self.monitoring.relay.repository
        if wanted is not None and wanted.lower() not in {repo.name.lower() for repo in self.repositories}:
            raise FieldProblem(
                "monitoring.relay.repository",
                wanted,
                "allowed: one of repositories[] (the relay dispatches to a gated repository, which "
                "holds mismatch-automation.yml): " + ", ".join(repo.name for repo in self.repositories),
            )
        return self

    @property
    def relay_repository(self) -> Repository:
        """The gated repository the alert relay dispatches to: by default the deploying one."""
        wanted = (self.monitoring.relay.repository or self.deploying_repository.name).lower()
        return next(repo for repo in self.repositories if repo.name.lower() == wanted)

    @model_validator(mode="after")
    def _central_repository_apart(self) -> Self:
        organization = self.merge_gate.organization
        if organization is None:
            return self
        # The central repository's workflows are what every gated repository must pass; gating it
        # with its own copies would let a pull request to it change the gate it is judged by.
        central = organization.central_repository.lower()
        if any(repo.name.lower() == central for repo in self.repositories):
            raise FieldProblem(
                "mergeGate.organization.centralRepository",
                organization.central_repository,
                "a repository that is not itself in repositories[] (it holds the gate, it is not gated)",
            )
        if not self.workflows.commit:
            raise FieldProblem(
                "workflows.commit",
                False,
                "true when mergeGate.mode is 'organization': the required workflows are the gate's own",
            )
        # Issue 14 item 4: the central stack is another repository group's merge-gate stack; none of
        # this chain's stacks declares the central repository for another (only the merge-gate stack
        # declares anything of the gate, and it cannot read its own outputs).
        chain = [env.stack for env in self.environments]
        if organization.central_stack is not None and (
            organization.central_stack in chain or RESERVED_STACK.fullmatch(organization.central_stack)
        ):
            raise FieldProblem(
                "mergeGate.organization.centralStack",
                organization.central_stack,
                "the stack of another repository group that declares the central repository (its "
                f"mergeGate.organization.centralStack unset), not one of this chain's stacks "
                f"({', '.join(chain)}) nor a pr-* stack; leave it unset in the stack that declares it",
            )
        return self

    @model_validator(mode="after")
    def _names_unique(self) -> Self:
        _require_unique("checks", "name", [c.name for c in self.checks])
        _require_unique("environments", "name", [e.name for e in self.environments])
        _require_unique("environments", "stack", [e.stack for e in self.environments])
        _require_unique(
            "repositories", "name", [f"{r.owner or ''}/{r.name}".lower() for r in self.repositories]
        )
        _require_unique("labels", "name", [label.name.lower() for label in self.labels])
        _require_unique("flags", "key", [flag.key for flag in self.flags])
        # Resource names the engine would refuse as duplicates (gate/components/github_gate.py).
        _require_distinct_resource_names(
            [(f"labels[{i}].name", label.name) for i, label in enumerate(self.labels)]
        )
        for i, env in enumerate(self.environments):
            branches = env.deployment_branches
            _require_distinct_resource_names(
                [(f"environments[{i}].deploymentBranches[{j}]", branch) for j, branch in enumerate(branches)]
            )
        for i, repo in enumerate(self.repositories):
            _require_distinct_resource_names(
                [
                    (f"repositories[{i}].defaultBranch", repo.default_branch),
                    (f"repositories[{i}].releaseBranchPattern", repo.release_branch_pattern),
                ]
            )
        _require_distinct_resource_names(
            [(f"repositories[{i}].name", f"{r.owner}/{r.name}") for i, r in enumerate(self.repositories)],
            lambda full_name: full_name.replace("/", "-").lower(),  # the RepositoryGate's name
        )
        return self

    @model_validator(mode="after")
    def _appconfig_deployment_fits(self) -> Self:
        # gate/aws/foundation.py: the AppConfig deployment takes one bake time per step before the last.
        if self.aws is not None:
            steps = len(self.rollout.stages) - 1
            minutes = math.ceil(duration_seconds(self.rollout.bake_time) / 60) * steps
            if minutes > APPCONFIG_MAX_MINUTES:
                raise FieldProblem(
                    "rollout.bakeTime",
                    self.rollout.bake_time,
                    f"with {len(self.rollout.stages)} stages the AppConfig deployment would take {minutes} "
                    f"minutes; allowed: a bake time whose steps take at most {APPCONFIG_MAX_MINUTES} minutes "
                    f"in all (AppConfig's limit)",
                )
        return self

    @model_validator(mode="after")
    def _cluster_credentials_are_possible(self) -> Self:
        configured = self.workflows.cluster_credentials
        if configured is ClusterCredentials.AWS and self.aws is None:
            raise FieldProblem(
                "workflows.clusterCredentials",
                configured.value,
                "'aws' needs delivery-gate:aws (the pull-request roles are declared there); "
                "allowed: runner (with runner: self-hosted), none",
            )
        if configured is ClusterCredentials.RUNNER and self.workflows.runner != SELF_HOSTED_RUNNER:
            raise FieldProblem(
                "workflows.clusterCredentials",
                configured.value,
                f"'runner' is the identity of a self-hosted runner inside the cluster, and workflows.runner "
                f"is {self.workflows.runner!r} (a GitHub-hosted runner has none); allowed: runner with "
                "runner: self-hosted, aws, none",
            )
        return self

    @model_validator(mode="after")
    def _pull_request_names_are_distinct(self) -> Self:
        # The disposable stacks of every gated repository share one backend and one cluster, and a
        # repository's pull-request role may write in every namespace its pattern matches
        # (gate/policy/prnames.py): two repositories whose names could meet there are refused.
        names = [repo.name for repo in self.repositories]
        meeting = first_meeting(names)
        inside = next(
            (
                i
                for i, name in enumerate(names)
                if self.application.name.startswith(f"{repository_slug(name)}-pr-")
            ),
            None,
        )
        # The first problem in repository order; a repository's meeting an earlier one before its
        # own namespaces holding the application.
        if inside is not None and (meeting is None or inside < meeting[0]):
            name = names[inside]
            raise FieldProblem(
                "application.name",
                self.application.name,
                f"is inside the pull-request namespaces of {name!r} ({repository_slug(name)}-pr-*), "
                "which its pull requests may write in; allowed: another name",
            )
        if meeting is not None:
            name, earlier = names[meeting[0]], names[meeting[1]]
            raise FieldProblem(
                f"repositories[{meeting[0]}].name",
                name,
                f"its pull-request stacks and namespaces (pr-{repository_slug(name)}-<N>) would "
                f"meet those of {earlier!r} (pr-{repository_slug(earlier)}-<N>), in one backend "
                "and one cluster; allowed: names (owners are not part of these) that differ in "
                "more than case, neither one the other's name followed by -pr-",
            )
        return self

    @model_validator(mode="after")
    def _ephemeral_repository_is_gated(self) -> Self:
        if self.ephemeral is not None:
            names = [r.name for r in self.repositories]
            if self.ephemeral.repository not in names:
                raise FieldProblem(
                    "ephemeral.repository", self.ephemeral.repository, f"allowed: one of {', '.join(names)}"
                )
        return self

    @model_validator(mode="after")
    def _release_is_promoted(self) -> Self:
        if self.ephemeral is not None or self.environment not in [e.name for e in self.environments]:
            return self  # pr-<repo>-<N> stacks deploy the PR's own image; an unknown environment: below
        upstream = self.upstream_environment
        if self.application.image is not None and (upstream is not None or self.release is not None):
            raise FieldProblem(
                "application.image",
                self.application.image,
                "a promoted environment deploys only `release.image`, written with evidence by "
                "`python -m gate promote`; remove application.image",
            )
        release = self.release
        if release is None:
            return self
        if upstream is None and (release.promoted_from or release.emergency):
            field = "release.promotedFrom" if release.promoted_from else "release.emergency"
            first = f"{self.environment} is the first environment: there is nothing to promote from"
            raise FieldProblem(field, "set", first)
        if upstream is not None and release.promoted_from and release.promoted_from.stack != upstream.stack:
            raise FieldProblem(
                "release.promotedFrom.stack",
                release.promoted_from.stack,
                f"{self.environment} promotes from {upstream.name}; allowed: {upstream.stack!r}",
            )
        if release.emergency is not None:
            pattern = self.emergency.incident_id_pattern
            if not fullmatch_linear(pattern, release.emergency.incident_id):
                raise FieldProblem(
                    "release.emergency.incidentId",
                    release.emergency.incident_id,
                    f"allowed: an incident id matching emergency.incidentIdPattern {pattern}",
                )
        return self

    @model_validator(mode="after")
    def _required_checks_in_catalogue(self) -> Self:
        known = sorted(c.name for c in self.checks)
        for index, name in enumerate(self.merge_gate.required_checks or ()):
            if name not in known:
                raise FieldProblem(
                    f"mergeGate.requiredChecks[{index}]", name, f"allowed: one of {', '.join(known)}"
                )
        if self.merge_gate.required_checks is not None:
            # DP §Emergency: "Security checks are never skippable" - not even by leaving them out.
            security = [c.name for c in self.checks if c.category == CheckCategory.SECURITY_SCAN]
            left_out = [name for name in security if name not in self.merge_gate.required_checks]
            if left_out:
                raise FieldProblem(
                    "mergeGate.requiredChecks",
                    list(self.merge_gate.required_checks),
                    f"must include {', '.join(left_out)}: security checks are never skippable",
                )
        return self

    @model_validator(mode="after")
    def _environments_form_one_chain(self) -> Self:
        names = [e.name for e in self.environments]
        chain = " -> ".join(names)
        for index, env in enumerate(self.environments):
            expected = names[index - 1] if index else None
            if env.promotes_from == expected:
                continue
            where = f"environments[{index}].promotesFrom"
            if expected is None:
                raise FieldProblem(where, env.promotes_from, "the first environment promotes from nothing")
            if env.promotes_from in names[:index]:
                skipped = names[names.index(env.promotes_from) + 1 : index]
                reason = f"skips {', '.join(skipped)}; no environment may be skipped"
            else:
                reason = "breaks the chain"
            raise FieldProblem(where, env.promotes_from, f"{reason}; allowed: {expected!r} (chain {chain})")
        last = len(names) - 1
        if names[last] != "production":
            raise FieldProblem(
                f"environments[{last}].name", names[last], "the chain must end at 'production'"
            )
        if self.environments[last].reviewers.empty:
            raise FieldProblem(
                f"environments[{last}].reviewers",
                None,
                "production needs required reviewers (teams or users)",
            )
        if self.environment not in names:
            raise FieldProblem("environment", self.environment, f"allowed: one of {', '.join(names)}")
        self._room_for_rollback_environments(names)
        owner = self.merge_gate.owner_environment
        if owner is not None and owner not in names:
            raise FieldProblem("mergeGate.ownerEnvironment", owner, f"allowed: one of {', '.join(names)}")
        registry = self.aws.registry_environment if self.aws is not None else None
        if registry is not None and registry not in names:
            raise FieldProblem("aws.registryEnvironment", registry, f"allowed: one of {', '.join(names)}")
        return self

    def _room_for_rollback_environments(self, names: list[str]) -> None:
        """Each environment has a reviewer-free `<name>-rollback` (Environment.rollback): it must be a
        valid environment name and not one of the chain's own environments."""
        longest = 32 - len(ROLLBACK_SUFFIX)
        for index, name in enumerate(names):
            if len(name) > longest:
                raise FieldProblem(
                    f"environments[{index}].name",
                    name,
                    f"allowed: at most {longest} characters, so that its rollback environment "
                    f"'{name}{ROLLBACK_SUFFIX}' is a valid name too",
                )
            if f"{name}{ROLLBACK_SUFFIX}" in names:
                raise FieldProblem(
                    f"environments[{names.index(name + ROLLBACK_SUFFIX)}].name",
                    f"{name}{ROLLBACK_SUFFIX}",
                    f"is the name of {name}'s rollback environment; allowed: any other name",
                )

    @model_validator(mode="after")
    def _release_note_categories_are_labels(self) -> Self:
        # Issue 12 (notes), DP §Release Notes: the required release-notes check asks every pull
        # request for one of these labels, so the repository must have them. The last rule, so
        # that a label's own problems (a name collision) are reported first.
        declared = {label.name for label in self.labels}
        for index, category in enumerate(self.release_notes.categories):
            if category not in declared:
                raise FieldProblem(
                    f"releaseNotes.categories[{index}]",
                    category,
                    "a label declared in labels (add it there, with a colour): the release-notes "
                    "check asks pull requests for it",
                )
        return self

    @model_validator(mode="after")
    def _rollback_drill_in_the_chain(self) -> Self:
        # Issue 12, part "drill": the drilled environment is one production promotes through.
        _check_rollback_drill(self.rollback_drill, [e.name for e in self.environments])
        return self

    # -- derived values ----------------------------------------------------------------------

    @property
    def environment_spec(self) -> Environment:
        return next(e for e in self.environments if e.name == self.environment)

    @property
    def owns_merge_gate(self) -> bool:
        """Whether this stack declares the repository-wide gate (see MergeGate.owner_environment)."""
        owner = self.merge_gate.owner_environment or self.environments[0].name
        return self.environment == owner and self.ephemeral is None

    @property
    def is_production(self) -> bool:
        return self.environment == self.environments[-1].name and self.ephemeral is None

    @property
    def protects_everything(self) -> bool:
        """Whether every declared resource is protected from deletion: in production, unless
        protectResources says otherwise (the merge gate has its own rule, see gate/github/repository.py)."""
        return self.protect_resources if self.protect_resources is not None else self.is_production

    @property
    def upstream_environment(self) -> Environment | None:
        """The environment this one promotes from; none for the first of the chain."""
        source = self.environment_spec.promotes_from
        return next((e for e in self.environments if e.name == source), None)

    @property
    def deployed_image(self) -> str | None:
        """The image this stack deploys: the release's digest, or (dev, pr-<repo>-<N>) application.image."""
        return self.release.image if self.release is not None else self.application.image

    @property
    def owns_registry(self) -> bool:
        """Whether this stack declares the ECR repositories every environment deploys from."""
        if self.aws is None or self.ephemeral is not None:
            return False
        return self.environment == (self.aws.registry_environment or self.environments[0].name)

    @property
    def hosts_pull_requests(self) -> bool:
        """Whether this stack declares the pull-request roles and their cluster access
        (gate/aws/foundation.py):
        the first environment's stack, with AWS and an EKS cluster, whose cluster runs the disposable
        environments."""
        if self.aws is None or self.ephemeral is not None or self.aws.eks_cluster_name is None:
            return False
        return self.environment == self.environments[0].name

    @property
    def cluster_credentials(self) -> ClusterCredentials:
        """How the e2e-parity job and the janitor reach the cluster (workflows.clusterCredentials)."""
        configured = self.workflows.cluster_credentials
        if configured is not None:
            return configured
        return ClusterCredentials.AWS if self.aws is not None else ClusterCredentials.NONE

    @property
    def stack(self) -> str:
        """The stack that applies this policy: pr-<repo>-<N> for ephemeral ones, else the environment's."""
        return self.ephemeral.stack if self.ephemeral is not None else self.environment_spec.stack


def _require_utc(path: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise FieldProblem(path, value.isoformat(), "allowed: a UTC time such as 2026-11-22T10:00:00Z")


def _require_unique(field: str, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise FieldProblem(f"{field}[{index}].{key}", value, "must be unique; it appears earlier")
        seen.add(value)


def _require_distinct_resource_names(
    values: list[tuple[str, str]], resource_name: Callable[[str], str] = resource_slug
) -> None:
    """(path, value) pairs whose values gate/components/github_gate.py turns into resource names: two
    values with one name would be two resources the engine refuses as duplicates, so the model
    refuses them first, naming both."""
    seen: dict[str, tuple[str, str]] = {}
    for path, value in values:
        name = resource_name(value)
        if name in seen:
            first_path, first = seen[name]
            raise FieldProblem(
                path,
                value,
                f"names the same resource as {first_path} {first!r} (both become {name!r}); "
                "allowed: a value that differs from it in letters or digits",
            )
        seen[name] = (path, value)


def _require_not_after_now(path: str, moment: datetime, info: ValidationInfo, why: str) -> None:
    """The loader validates with the current time as context["now"] (gate/clock.py, which
    DELIVERY_GATE_NOW pins); without it (a model built in code) there is nothing to compare with."""
    now = info.context.get("now") if isinstance(info.context, dict) else None
    if isinstance(now, datetime) and moment.tzinfo is not None and moment > now:
        raise FieldProblem(
            path, iso(moment), f"is after now ({iso(now)}): {why}; allowed: a time not after now"
        )


# ---------------------------------------------------------------------------------------------
# Issue 12, part "notes": release contract and release notes (gate/github/release_contract.py,
# gate/github/release_notes.py, tools/release_check.py). Version V <=> branch release/V (the part of
# repositories[].releaseBranchPattern matched by `*`) <=> contract work/releases/V.md <=> tag
# <tagPrefix>V.

MigrationHeading = Annotated[str, Field(min_length=1), one_line(100, "a markdown heading text")]


class ReleaseNotes(GateModel):
    """DP §Release Notes: "Customer-facing release notes written; Changes categorized (new feature,
    improvement, fix, deprecation); Breaking changes clearly highlighted; Migration instructions
    provided if applicable"."""

    categories: tuple[LabelName, ...] = Field(
        default=("feature", "improvement", "fix", "deprecation", "breaking-change"),
        min_length=1,
        description=(
            "Labels that categorise a pull request in the release notes (.github/release.yml groups "
            "generated notes by them); the required release-notes check wants one on every PR."
        ),
    )
    breaking_label: LabelName = Field(
        # DP: "Breaking changes clearly highlighted": listed first, with their migration section.
        default="breaking-change",
        description="The category of breaking changes (one of categories); listed first in the notes.",
    )
    migration_heading: MigrationHeading = Field(
        # DP: "Migration instructions provided if applicable".
        default="Migration",
        description="Heading of the section a breaking-change PR's description must have, not empty.",
    )
    tag_prefix: str = Field(
        default="v",
        pattern=r"^[A-Za-z0-9._-]{0,20}$",
        description="Release tags are <tagPrefix><version>; a pushed tag publishes the notes.",
    )
    exclude_labels: tuple[LabelName, ...] = Field(
        default=("infra-change", "parity-mismatch", "platform"),
        description=(
            "Internal labels of the gate: pull requests carrying one are left out of the "
            "customer-facing notes (.github/release.yml changelog.exclude)."
        ),
    )

    @model_validator(mode="after")
    def _categories_are_consistent(self) -> Self:
        for index, label in enumerate(self.categories):
            if label in self.categories[:index]:
                raise FieldProblem(f"categories[{index}]", label, "unique labels; it appears earlier")
        if self.breaking_label not in self.categories:
            raise FieldProblem(
                "breakingLabel", self.breaking_label, f"one of categories: {', '.join(self.categories)}"
            )
        both = sorted(set(self.exclude_labels) & set(self.categories))
        if both:
            raise FieldProblem(
                "excludeLabels", both, "labels that are not categories (a categorised change is published)"
            )
        return self


class ReleaseContract(GateModel):
    """DP §Pre-Deployment: "Release contract completed (`work/releases/_TEMPLATE-release-contract.md`)"."""

    directory: RelativeDirectory = Field(
        default="work/releases",
        description=(
            "Directory of the contracts: the gate commits _TEMPLATE-release-contract.md there, and "
            "release V needs <directory>/V.md complete before it merges into release/V or deploys."
        ),
    )


# ---------------------------------------------------------------------------------------------
# Issue 12, part "deploy": the deployment window (GATE-DP-19) and the change log (GATE-DP-20).
# DP §Deployment Process: "Deployment window communicated to stakeholders"; DP §Post-Deployment:
# "Deployment recorded in change log". Evaluated by gate/promotion/window.py, recorded by
# gate/promotion/changelog.py.

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HOURS = r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])"


def _check_hours(value: str) -> str:
    import re  # noqa: PLC0415 - local to this block, so the shared import list stays untouched

    found = re.fullmatch(_HOURS, value)
    allowed = "allowed: 'HH:MM-HH:MM' in 24-hour local time, start before end, such as '09:00-16:00'"
    if found is None:
        raise ValueError(allowed)
    start = int(found[1]) * 60 + int(found[2])
    end = int(found[3]) * 60 + int(found[4])
    if end > 24 * 60 or start >= end:
        raise ValueError(f"{allowed} (a window does not run past midnight)")
    return value


def _check_time_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    allowed = "allowed: an IANA time zone such as 'UTC', 'Europe/Berlin' or 'America/New_York'"
    if not value or len(value) > 64 or value.startswith(("/", ".")) or ".." in value:
        raise ValueError(allowed)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(allowed) from None
    return value


class Freeze(GateModel):
    """A change freeze: no production deploy from `from` to `to`, both days included, in the
    window's time zone (DP §Deployment Process: the window is communicated; a freeze is part of it)."""

    start: date = Field(alias="from", description="The first frozen day (YYYY-MM-DD).")
    end: date = Field(alias="to", description="The last frozen day (YYYY-MM-DD), not before `from`.")
    reason: Annotated[str, Field(min_length=1), one_line(200, "a reason")] = Field(
        description="Why production is frozen (shown to whoever is refused)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise FieldProblem(
                "to", self.end.isoformat(), f"allowed: a day on or after from ({self.start.isoformat()})"
            )
        return self


class DeploymentWindow(GateModel):
    """GATE-DP-19: when production may be deployed, and who hears of it before it starts. The
    emergency path (DP §Emergency / Hotfix Deployments) is not bound by it."""

    days: tuple[Weekday, ...] = Field(
        default=("Mon", "Tue", "Wed", "Thu"),
        min_length=1,
        description="Days of the week production may be deployed on (no Friday deploys by default).",
    )
    hours: str = Field(
        default="09:00-16:00", description="Local hours 'HH:MM-HH:MM' (start included, end excluded)."
    )
    time_zone: str = Field(
        default="UTC", description="IANA time zone the days, hours and freezes are read in (DST-aware)."
    )
    freezes: tuple[Freeze, ...] = Field(default=(), description="Change freezes, days included.")
    stakeholders: tuple[SlackChannel, ...] = Field(
        default=("#releases",),
        min_length=1,
        description="DP: 'Deployment window communicated to stakeholders': the Slack channels told first.",
    )

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        return _check_hours(value)

    @field_validator("time_zone")
    @classmethod
    def _valid_time_zone(cls, value: str) -> str:
        return _check_time_zone(value)

    @model_validator(mode="after")
    def _unique_days(self) -> Self:
        for index, day in enumerate(self.days):
            if day in self.days[:index]:
                raise FieldProblem(f"days[{index}]", day, "must be unique; it appears earlier")
        return self


class ChangeLog(GateModel):
    """GATE-DP-20: where each successful production deploy is recorded (DP §Post-Deployment:
    "Deployment recorded in change log"): a file the pipeline appends to on its own branch (never
    the protected default branch), GitHub Deployments, or both."""

    file: RelativePath | None = Field(
        default="DEPLOYMENTS.md", description="The change-log file on `branch`; none: no file."
    )
    branch: GitRef = Field(
        default="delivery-log",
        description="The branch the pipeline writes the file on (Contents API); not a protected branch.",
    )
    github_deployments: bool = Field(
        default=True,
        description="Also record each deploy as a GitHub deployment (task 'changelog') of the environment.",
    )

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.file is None and not self.github_deployments:
            raise FieldProblem(
                "githubDeployments", False, "allowed: true, or a file: the change log must be kept somewhere"
            )
        return self


# ---------------------------------------------------------------------------------------------
# Issue 12, part "drill": the scheduled rollback drill (gate/promotion/drill.py, rollback-drill.yml) and the
# evidence production's promotion requires (GATE-DP-16). DP §Pre-Deployment: "Rollback plan
# documented and tested".

CronSchedule = Annotated[
    str,
    Field(
        pattern=r"^[0-9*/,-]+ [0-9*/,-]+ [0-9*/,?LW-]+ [0-9A-Za-z*/,-]+ [0-9A-Za-z*/,?L#-]+$",
        max_length=100,
    ),
]


class RollbackDrill(GateModel):
    """DP §Pre-Deployment "Rollback plan documented and tested": on `schedule`, rollback-drill.yml
    rolls `environment` back to its previous validated image, runs the parity check against it and
    puts back what ran before; production's promotion needs a passed drill younger than `maxAge`."""

    environment: EnvironmentName | None = Field(
        default=None,
        description=(
            "The environment drilled; none: the one production promotes from (staging by default). "
            "Never production: a drill rolls back on purpose."
        ),
    )
    schedule: CronSchedule = Field(
        default="23 7 * * 2",
        description=(
            "Cron (UTC) of the drill on the default branch; default: Tuesdays 07:23, a weekday "
            "morning off the hour, before the deployment window opens."
        ),
    )
    # Days like the emergency part's backfillWithin (same type; gate/promotion/emergency.py reads it).
    max_age: BackfillDuration = Field(
        default="14d",
        description="How old a passed drill production's promotion accepts (days 'Nd', or h/m/s).",
    )

    @field_validator("max_age")
    @classmethod
    def _positive_age(cls, value: str) -> str:
        if backfill_seconds(value) <= 0:
            raise ValueError("allowed: a positive duration such as '14d'")
        return value


def _check_rollback_drill(drill: RollbackDrill, chain: list[str]) -> None:
    if drill.environment is None:
        return
    if drill.environment not in chain:
        raise FieldProblem(
            "rollbackDrill.environment", drill.environment, f"allowed: one of {', '.join(chain[:-1])}"
        )
    if drill.environment == chain[-1]:
        raise FieldProblem(
            "rollbackDrill.environment",
            drill.environment,
            "a drill rolls its environment back on purpose, never production; allowed: one of "
            + ", ".join(chain[:-1]),
        )


class DrillResult(GateModel):
    """Written by `gate drill restore` into the drilled stack's state (output `rollbackDrill`)."""

    image: PinnedImage = Field(description="What the environment ran before and after the drill.")
    rolled_back_to: PinnedImage = Field(description="The validated image the drill rolled back to.")
    parity_root_hash: RootHash | None = Field(
        default=None, description="The parity check's root hash against rolledBackTo (a passed drill)."
    )
    drilled_at: datetime = Field(description="When the drill's result was recorded (UTC).")
    run: PipelineRun = Field(description="The rollback-drill.yml run.")
    result: Literal["passed", "failed"] = Field(description="passed only when parity passed.")

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        _require_utc("drilledAt", self.drilled_at)
        _require_not_after_now("drilledAt", self.drilled_at, info, "a drill cannot come from the future")
        if self.result == "passed" and self.parity_root_hash is None:
            raise FieldProblem("parityRootHash", None, "a passed drill records the parity root hash")
        return self


class DrillPending(GateModel):
    """Written by `gate drill rollback`: the stack's release, deployment and evidence before the drill."""

    release: Release = Field(description="The release the stack ran before the drill.")
    deployment: Deployment | None = Field(default=None, description="Its deployment record.")
    validation: Validation | None = Field(default=None, description="Its evidence, if it had any.")
    rolled_back_to: PinnedImage = Field(description="The image the drill deployed.")
    run: PipelineRun = Field(description="The rollback-drill.yml run that started the drill.")


# GatePolicy names the classes above before they exist (forward references): resolve them now.
GatePolicy.model_rebuild()
