"""What the merge gate declares for one repository: pure, derived from the policy model.

The component in gate/components/github_gate.py turns a RepositoryGateSpec into provider resources and
makes no decisions of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.aws.foundation import build_variables, deploy_role_arn, e2e_variables
from gate.errors import PolicyError, Problem
from gate.github import centralfiles, codeowners, organization, release_contract, release_notes
from gate.github.codeowners import splice
from gate.github.filesupdate import FilesUpdate, files_update
from gate.github.schema_change import SCHEMA_CHECK_PATH, schema_check_source
from gate.github.workflows import (
    AWS_REGION_VARIABLE,
    AWS_ROLE_VARIABLE,
    K6_MAPPER_PATH,
    WORKFLOW_DIR,
    k6_mapper_source,
    render_documents,
    render_workflows,
)
from gate.policy import repopolicy
from gate.policy.memo import once
from gate.policy.model import Environment, GatePolicy, Label, MergeGate, Repository, Reviews
from gate.policy.types import MergeGateMode

CODEOWNERS_PATH = codeowners.GITHUB_PATH
PR_TEMPLATE_PATH = ".github/pull_request_template.md"
# GitHub Actions' app id: in rulesets, a required check must come from this app, so a token with
# `statuses: write` cannot satisfy it by posting a commit status named like the check.
GITHUB_ACTIONS_APP_ID = 15368


@dataclass(frozen=True)
class BranchGate:
    """The gate on one protected branch pattern."""

    pattern: str
    ruleset_ref: str  # the same branch as a ruleset condition ("~DEFAULT_BRANCH", "refs/heads/release/*")
    required_checks: tuple[str, ...]
    # Rulesets mode: the environment a commit must have been deployed to before it may merge here.
    required_deployment: str | None
    # Organisation mode: the central repository's workflows that must pass (their paths there).
    required_workflows: tuple[str, ...] = ()
    # Issue 13, part repos: checks reported outside the gate's workflows -> the GitHub App that
    # must report them (None: any reporter); every other check comes from GitHub Actions.
    external_apps: tuple[tuple[str, int | None], ...] = ()

    def integration_id(self, check: str) -> int | None:
        """The app a ruleset requires `check` from: GitHub Actions for the gate's own checks."""
        return dict(self.external_apps).get(check, GITHUB_ACTIONS_APP_ID)


@dataclass(frozen=True)
class CommittedFile:
    path: str
    content: str
    commit_message: str
    # Issue 13 item 3: `content` is the gate's block of a file the repository shares (CODEOWNERS),
    # spliced into the file on the default branch by the component (gate/github/codeowners.py).
    managed_block: bool = False


@dataclass(frozen=True)
class SchemaReviewer:
    """Rulesets mode: a team that must approve changes to the trace schema paths."""

    team: str
    file_patterns: tuple[str, ...]
    minimum_approvals: int


@dataclass(frozen=True)
class RepositoryGateSpec:
    owner: str
    name: str
    default_branch: str
    # Repository-wide merge gate; empty when another stack owns it (MergeGate.owner_environment).
    owns_merge_gate: bool
    mode: MergeGateMode
    merge_gate: MergeGate
    reviews: Reviews
    branches: tuple[BranchGate, ...]
    schema_reviewers: tuple[SchemaReviewer, ...]
    files: tuple[CommittedFile, ...]
    labels: tuple[Label, ...]
    # The deployment environment this stack deploys to (each stack owns its own environment).
    # None: the repository does not deploy the application (application.repositories; issue 13,
    # part leak): no GitHub environments, no deploy role variables, no required deployment.
    environment: Environment | None
    # Its reviewer-free twin `<env>-rollback` (Environment.rollback), where deploy.yml validates,
    # records evidence and rolls back without waiting for anyone; same variables, same branches.
    rollback_environment: Environment | None
    # GitHub Actions variables of that environment: what its deploy jobs read (name, value).
    environment_variables: tuple[tuple[str, str], ...]
    # Rulesets mode: the release branches (a ruleset ref) and who alone may create them
    # (production's reviewer teams), so a writer cannot push a `release/x` of their own to reach
    # production's deploy path.
    release_branch_ref: str
    release_branch_creators: tuple[str, ...]
    # Repository-level variables (the registry stack's build role for deploy.yml's build job, which
    # runs in no environment), (name, value).
    repository_variables: tuple[tuple[str, str], ...]
    protect_merge_gate: bool
    protect_environment: bool
    # Organisation mode: the central repository and the branch its required workflows are pinned
    # to (declared once per stack, by gate/components/github_gate.py's CentralWorkflowRepository).
    central: CentralWorkflows | None = None
    # Issue 13 item 3: `files` reach the default branch through this pull request
    # (gate/github/filesupdate.py);
    # None when this stack commits no files (it does not own the merge gate).
    files_update: FilesUpdate | None = None


@dataclass(frozen=True)
class CentralWorkflows:
    """Organisation mode: where the gate's required workflows live, and who may change them."""

    owner: str
    repository: str
    branch: str
    platform_team: str
    protect: bool
    files: tuple[CommittedFile, ...] = ()
    # Issue 14 item 4: the stack that declares the central repository's branch and ruleset, when it
    # is another one (mergeGate.organization.centralStack); this stack then commits only its files
    # and reads the repository id from that stack's `centralWorkflows` output.
    declared_by: str | None = None

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repository}"


def required_checks(policy: GatePolicy, repo: Repository) -> tuple[str, ...]:
    """Checks required on the repository's protected branches (gate/policy/repopolicy.py).

    M9 §Required CI checks: all must pass; language-specific checks only where the language is used.
    """
    return repopolicy.required_checks(policy, repo)


def _staging_environment(policy: GatePolicy) -> str:
    # DP §Environment Progression: production is reached only after staging validation, so a
    # release branch (what production deploys) requires a successful deploy to the environment
    # production promotes from.
    production = policy.environments[-1]
    assert production.promotes_from is not None  # guaranteed by GatePolicy's chain validator
    return production.promotes_from


def release_ruleset_ref(repo: Repository) -> str:
    return f"refs/heads/{repo.release_branch_pattern}"


def branch_gates(policy: GatePolicy, repo: Repository) -> tuple[BranchGate, ...]:
    checks = required_checks(policy, repo)
    apps = tuple(repopolicy.check_app_ids(policy, repo).items())
    required_workflows: tuple[str, ...] = ()
    if policy.merge_gate.mode is MergeGateMode.ORGANIZATION:
        required_workflows = tuple(
            organization.central_path(policy, repo, file)
            for file in organization.shared_required_workflow_documents(policy, repo)
        )
    return (
        # M9 §Overview: "All merges to `main` (or `release/*`) require passing automated checks".
        BranchGate(repo.default_branch, "~DEFAULT_BRANCH", checks, None, required_workflows, apps),
        BranchGate(
            repo.release_branch_pattern,
            release_ruleset_ref(repo),
            checks,
            # Only a repository that deploys has the environment a deployment would be recorded in.
            _staging_environment(policy) if policy.deploys(repo) else None,
            required_workflows,
            apps,
        ),
    )


def central_workflows(policy: GatePolicy, repos: Sequence[Repository] = ()) -> CentralWorkflows | None:
    """Organisation mode: the central repository, holding the required workflows of `repos`."""
    settings = policy.merge_gate.organization
    if settings is None:
        return None
    owner = policy.repositories[0].owner
    assert owner is not None  # the loader fills owners from github:owner
    # One file per group of repositories that render it the same (issue 14 item 4). The message
    # names no repository: a repository joining the group must not change (re-commit) the file.
    files = tuple(
        CommittedFile(
            path,
            content,
            f"delivery-gate: {path.rsplit('/', 1)[-1]}, a required workflow of stack "
            f"{centralfiles.merge_gate_stack(policy)} (M9)",
        )
        for path, content in organization.shared_required_workflows(policy, repos).items()
    )
    return CentralWorkflows(
        owner,
        settings.central_repository,
        settings.workflow_branch,
        policy.merge_gate.platform_team,
        protects_merge_gate(policy),
        files,
        settings.central_stack,
    )


def protects_merge_gate(policy: GatePolicy) -> bool:
    """The merge gate is protected wherever it is declared: deleting it silently disables every
    check. protectResources overrides it."""
    return policy.protect_resources if policy.protect_resources is not None else True


def gate_owned_paths(gate_files: Sequence[str]) -> tuple[str, ...]:
    """What the platform team code-owns: CODEOWNERS, every workflow, and the gate's other files."""
    others = {path for path in gate_files if not path.startswith(f"{WORKFLOW_DIR}/")}
    return tuple(sorted({CODEOWNERS_PATH, f"{WORKFLOW_DIR}/", *others}))


def codeowners_lines(
    policy: GatePolicy, repo: Repository, owner: str, gate_files: Sequence[str] = ()
) -> tuple[str, ...]:
    """The gate's CODEOWNERS lines: trace-schema paths to backend and QA (M9 §Exceptions); every
    file the gate commits, CODEOWNERS included, to the platform team, so that a pull request cannot
    weaken its own gate (rewrite security-scan.yml to `exit 0`) on an ordinary approval: code-owner
    review is required on every protected branch (GATE-NN-04). They are the gate's marked block in
    the repository's own CODEOWNERS (gate/github/codeowners.py), which keeps the block last."""
    rule = policy.reviews.schema_change
    teams = f"@{owner}/{rule.backend_team} @{owner}/{rule.qa_team}"
    platform = f"@{owner}/{policy.merge_gate.platform_team}"
    lines = ["# M9 §Exceptions & manual approval: trace-schema changes need backend and QA review."]
    lines += [f"/{pattern} {teams}" for pattern in rule.paths]
    lines.append("# The gate's own files (M9 §Enforcement): changes need the platform team's review.")
    # Later lines win in CODEOWNERS, so these come last: a schema pattern cannot take them over.
    # The whole workflows directory, not only the gate's files: a new workflow with a job named
    # like a required check would report it too.
    lines += [f"/{path} {platform}" for path in gate_owned_paths(gate_files)]
    return tuple(lines)


def render_codeowners(
    policy: GatePolicy, repo: Repository, owner: str, gate_files: Sequence[str] = ()
) -> str:
    """The gate's block alone: CODEOWNERS of a repository that has none of its own."""
    return splice(None, codeowners_lines(policy, repo, owner, gate_files))


def render_pr_template(policy: GatePolicy, repo: Repository) -> str:
    """The pull-request template with the merge conditions and the schema-change checklist."""
    rule = policy.reviews.schema_change
    checks = required_checks(policy, repo)
    lines = [
        "<!-- Managed by delivery-gate (Pulumi): change the stack config, not this file; the gate's next "
        "update (a pull request from a delivery-gate/files-* branch) replaces it. -->",
        "## What and why",
        "",
        "## Merge gate",
        "These checks must be green before this PR can merge (deployment-gate-policy-m9.md):",
        *(f"- `{name}`" for name in checks),
        "",
        "## Trace schema change?",
        f"If this PR changes the trace schema ({', '.join(f'`{p}`' for p in rule.paths)}), label it "
        f"`{rule.label}` and include:",
        *(f"- [ ] {artifact}" for artifact in rule.required_artifacts),
        f"- [ ] approval from {rule.required_approvals} reviewers: one of @{{owner}}/{rule.backend_team} "
        f"and one of @{{owner}}/{rule.qa_team}",
        f"- [ ] sign-off by the product owner (@{{owner}}/{rule.product_owner_team})",
        "",
        "## Release notes",
        f"Label this PR with one category: {', '.join(f'`{c}`' for c in policy.release_notes.categories)}. "
        f"A `{policy.release_notes.breaking_label}` PR needs a `## {policy.release_notes.migration_heading}` "
        "section below saying how customers migrate (delivery-policy.md §Release Notes).",
        "",
        "## Rollout",
        "- [ ] New behaviour is behind a feature flag (delivery-policy.md §Pre-Deployment)",
        "- [ ] Database migrations are backward-compatible",
        "- [ ] Rollback plan: reverting to the previous image tag is safe",
    ]
    return "\n".join(lines).replace("{owner}", repo.owner or "") + "\n"


def schema_reviewers(policy: GatePolicy, gate_files: Sequence[str] = ()) -> tuple[SchemaReviewer, ...]:
    """Rulesets mode: one backend, one QA and the product owner must approve schema paths, and the
    platform team the gate's own files."""
    rule = policy.reviews.schema_change
    patterns = rule.paths
    # Two approvals, one per team, meet M9's "2 reviewers (one backend, one QA)"; a higher
    # requiredApprovals is met by the pull-request rule's approval count.
    return (
        SchemaReviewer(rule.backend_team, patterns, 1),
        SchemaReviewer(rule.qa_team, patterns, 1),
        SchemaReviewer(rule.product_owner_team, patterns, 1),
        SchemaReviewer(
            policy.merge_gate.platform_team,
            tuple(path + "**" if path.endswith("/") else path for path in gate_owned_paths(gate_files)),
            1,
        ),
    )


def repository_gate(policy: GatePolicy, repo: Repository) -> RepositoryGateSpec:
    assert repo.owner is not None  # the loader fills owners from github:owner
    owns = policy.owns_merge_gate
    deploys = policy.deploys(repo)
    files: tuple[CommittedFile, ...] = (
        CommittedFile(
            PR_TEMPLATE_PATH,
            render_pr_template(policy, repo),
            "delivery-gate: pull-request template with the merge gate checklist (M9)",
        ),
        # Issue 12 (notes): DP §Pre-Deployment release contract, §Release Notes categories.
        CommittedFile(
            release_contract.template_path(policy),
            release_contract.render_template(policy),
            "delivery-gate: release contract template (delivery-policy.md §Pre-Deployment)",
        ),
        CommittedFile(
            release_notes.RELEASE_CONFIG_PATH,
            release_notes.render_release_config(policy),
            "delivery-gate: release notes grouped by category, breaking changes first (DP §Release Notes)",
        ),
    )
    if policy.workflows.commit:
        files += tuple(
            CommittedFile(
                path, content, f"delivery-gate: {path.rsplit('/', 1)[-1]} from the delivery policy (M9)"
            )
            for path, content in repository_workflows(policy, repo).items()
        )
        files += (
            CommittedFile(
                K6_MAPPER_PATH,
                k6_mapper_source(),
                "delivery-gate: k6 summary to SLO suggestion, run by e2e-parity-check (M9 §4)",
            ),
            CommittedFile(
                SCHEMA_CHECK_PATH,
                schema_check_source(),
                "delivery-gate: the schema-change check, run by schema-change.yml (M9 §Exceptions)",
            ),
            CommittedFile(
                release_contract.RELEASE_CHECK_PATH,
                release_contract.release_check_source(),
                "delivery-gate: the release-contract and release-notes checks (DP §Release Notes)",
            ),
        )
    gate_files = tuple(file.path for file in files)
    codeowners = CommittedFile(
        CODEOWNERS_PATH,
        # The block's lines; the component splices them into the repository's own file.
        "\n".join(codeowners_lines(policy, repo, repo.owner, gate_files)) + "\n",
        "delivery-gate: route trace-schema changes to backend and QA, gate files to platform (M9)",
        managed_block=True,
    )
    files = (codeowners, *files)
    update = files_update(
        repo.full_name,
        repo.default_branch,
        policy.stack,
        files,
        block_paths=tuple(file.path for file in files if file.managed_block),
        categories=policy.release_notes.categories,
    )
    return RepositoryGateSpec(
        owner=repo.owner,
        name=repo.name,
        default_branch=repo.default_branch,
        owns_merge_gate=owns,
        mode=repopolicy.merge_gate_mode(policy, repo),
        merge_gate=policy.merge_gate,
        reviews=policy.reviews,
        branches=branch_gates(policy, repo) if owns else (),
        schema_reviewers=schema_reviewers(policy, gate_files) if owns else (),
        files=files if owns else (),
        labels=policy.labels if owns else (),
        environment=policy.environment_spec if deploys else None,
        rollback_environment=policy.environment_spec.rollback if deploys else None,
        environment_variables=environment_variables(policy) if deploys else (),
        repository_variables=(*build_variables(policy), *e2e_variables(policy, repo)),
        release_branch_ref=release_ruleset_ref(repo),
        release_branch_creators=policy.environments[-1].reviewers.teams,
        # Everything but the merge gate is protected in production; protectResources overrides both.
        protect_merge_gate=protects_merge_gate(policy),
        protect_environment=policy.protects_everything,
        central=central_workflows(policy) if owns else None,
        files_update=update if owns else None,
    )


def repository_workflows(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """Repository path -> content of the workflows the gated repository itself holds.

    Rendered once per policy object and repository settings (issue 14 item 3): the liveness rule
    (gate/policy/rules.py) and the RepositoryGate's committed files get the very same texts."""
    if policy.merge_gate.mode is MergeGateMode.ORGANIZATION:
        rendered = once(
            policy,
            ("repository_workflows", repo),
            lambda: render_documents(organization.shared_repository_workflow_documents(policy, repo)),
        )
        return dict(rendered)
    return render_workflows(policy, repo)


def workflows_run_for(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """Path -> content of every gate workflow GitHub runs for `repo`: its own and, in organisation
    mode, its required workflows in the central repository (their names carry the group,
    `<group>--<file>`, so the two sets never collide)."""
    files = repository_workflows(policy, repo)
    if policy.merge_gate.mode is MergeGateMode.ORGANIZATION:
        files.update(organization.render_required_workflows(policy, repo))
    return files


def environment_variables(policy: GatePolicy) -> tuple[tuple[str, str], ...]:
    """The deploy role of this environment, for the deploy workflow's OIDC login: each stack owns
    its GitHub environments (`<env>` and `<env>-rollback`, both set), so the role (and account) can
    differ per environment."""
    if policy.aws is None:
        return ()
    return ((AWS_ROLE_VARIABLE, deploy_role_arn(policy)), (AWS_REGION_VARIABLE, policy.aws.region))


def required_checks_summary(policy: GatePolicy) -> dict[str, dict[str, tuple[str, ...]]]:
    """repository full name -> branch pattern -> required checks, for the plan summary."""
    if not policy.owns_merge_gate:
        return {}
    return {
        repo.full_name: {b.pattern: b.required_checks for b in branch_gates(policy, repo)}
        for repo in policy.repositories
    }


# Issue 14 item 4: the output of the stack that declares the central repository, which the stacks
# of other repository groups read (mergeGate.organization.centralStack).
CENTRAL_OUTPUT = "centralWorkflows"


def central_output(central: CentralWorkflows, repository_id: Any) -> dict[str, Any]:
    """What the declaring stack exports: the repository, its id and the pinned branch."""
    return {"repository": central.full_name, "repositoryId": repository_id, "branch": central.branch}


def referenced_central_id(central: CentralWorkflows, outputs: Mapping[str, Any], source: str) -> int:
    """The central repository's id from the outputs of the stack `central.declared_by`, refused
    (naming the setting) unless that stack declares this very repository and branch: the files this
    stack commits there, and the rulesets requiring them, would otherwise point where nothing is."""
    path = "mergeGate.organization.centralStack"
    declared = outputs.get(CENTRAL_OUTPUT)
    if not isinstance(declared, Mapping):
        allowed = (
            f"a stack that declares the central repository (mode 'organization', its own centralStack "
            f"unset, owning the merge gate); stack {central.declared_by} exports no {CENTRAL_OUTPUT}"
        )
        raise PolicyError(source, [Problem(path, central.declared_by, allowed)])
    got = (declared.get("repository"), declared.get("branch"))
    if got != (central.full_name, central.branch):
        allowed = (
            f"a stack declaring {central.full_name} branch {central.branch} (this stack's "
            f"centralRepository and workflowBranch); stack {central.declared_by} declares {got[0]} "
            f"branch {got[1]}"
        )
        raise PolicyError(source, [Problem(path, central.declared_by, allowed)])
    repository_id = declared.get("repositoryId")
    if isinstance(repository_id, bool) or not isinstance(repository_id, int | float):
        allowed = (
            f"a stack whose {CENTRAL_OUTPUT}.repositoryId is known (got {repository_id!r}): update "
            f"stack {central.declared_by} first"
        )
        raise PolicyError(source, [Problem(path, central.declared_by, allowed)])
    return int(repository_id)


def required_workflows_summary(policy: GatePolicy, central: CentralWorkflows) -> dict[str, Any]:
    """Organisation mode, for the plan summary: where the required workflows come from, and which
    each repository must pass (the same on every protected branch)."""
    return {
        "source": f"{central.owner}/{central.repository}@{central.ref}",
        "repositories": {
            repo.full_name: list(branch_gates(policy, repo)[0].required_workflows)
            for repo in policy.repositories
        },
    }
