"""The GitHub merge gate of one repository, declared from a RepositoryGateSpec (gate/github/repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from gate.components import declare as gh
from gate.components.declare import declare, output
from gate.github import codeowners
from gate.github.filesupdate import FilesUpdate
from gate.github.repository import (
    BranchGate,
    CentralWorkflows,
    CommittedFile,
    RepositoryGateSpec,
)
from gate.policy.model import Environment
from gate.policy.types import MergeGateMode, resource_slug


class GitHubLookups:
    """The ids of the teams and users the gate's components name, looked up once per GitHub provider
    and slug or login (issue 14 item 3), not once per component: two thousand repositories with the
    same production reviewers make one github.getTeam call per owner, not two thousand.

    One per provider, made with it (gate/program.py): a lookup runs against that owner's
    organisation, as the component's own provider would. A component given none makes its own,
    whose lookups take their provider from the component (its parent), as before.
    """

    def __init__(
        self, provider: pulumi.ProviderResource | None = None, *, parent: pulumi.Resource | None = None
    ) -> None:
        if (provider is None) == (parent is None):
            raise ValueError("GitHubLookups needs either the provider or the component to look up for")
        self._provider = provider
        self._parent = parent
        self._teams: dict[str, pulumi.Output[int]] = {}
        self._users: dict[str, pulumi.Output[int]] = {}

    def _options(self) -> pulumi.InvokeOutputOptions:
        # A new one per call: the SDK writes the provider it resolves into the options it is given.
        if self._provider is not None:
            return pulumi.InvokeOutputOptions(provider=self._provider)
        return pulumi.InvokeOutputOptions(parent=self._parent)

    def team_id(self, slug: str) -> pulumi.Output[int]:
        if slug not in self._teams:
            self._teams[slug] = gh.get_team_id(slug, self._options()).apply(int)
        return self._teams[slug]

    def user_id(self, login: str) -> pulumi.Output[int]:
        if login not in self._users:
            self._users[login] = gh.get_user_id(login, self._options()).apply(int)
        return self._users[login]


class CentralWorkflowRepository(pulumi.ComponentResource):
    """Organisation mode: the gate's required workflows in one central repository, on a branch only
    the platform team and organisation owners may update (the ref the organisation rulesets pin).

    With `args.declared_by` (issue 14 item 4: a large organisation split across stacks) another
    stack declares the branch and its ruleset; this one commits only its own files to that branch
    and takes the repository's id from that stack's outputs (`referenced_id`)."""

    repository_id: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        args: CentralWorkflows,
        opts: pulumi.ResourceOptions | None = None,
        *,
        referenced_id: int | None = None,
        lookups: GitHubLookups | None = None,
    ) -> None:
        super().__init__("delivery-gate:github:CentralWorkflows", name, None, opts)
        if lookups is None:
            lookups = GitHubLookups(parent=self)
        protect = args.protect
        branch_name: pulumi.Input[str] = args.branch
        depends: list[pulumi.Resource] = []
        if args.declared_by is None:
            child = pulumi.ResourceOptions(parent=self, protect=protect)
            branch = declare(
                f"{name}-branch", gh.BranchArgs(repository=args.repository, branch=args.branch), child
            )
            branch_name, depends = output(branch, "branch"), [branch]
            # M9 §Enforcement: what every gated repository must pass changes only through the
            # platform team (organisation owners can change any ruleset anyway; the Pulumi token is
            # one of them, as organisation rulesets require).
            declare(
                f"{name}-ruleset",
                gh.RepositoryRulesetArgs(
                    repository=args.repository,
                    name=f"delivery-gate required workflows {args.branch}",
                    target="branch",
                    enforcement="active",
                    conditions=_on_ref(args.ref),
                    bypass_actors=[
                        gh.RepositoryRulesetBypassActorArgs(
                            actor_id=lookups.team_id(args.platform_team),
                            actor_type="Team",
                            bypass_mode="always",
                        ),
                        gh.RepositoryRulesetBypassActorArgs(
                            actor_type="OrganizationAdmin", bypass_mode="always"
                        ),
                    ],
                    rules=gh.RepositoryRulesetRulesArgs(update=True, deletion=True, non_fast_forward=True),
                ),
                child,
            )
        self.files = [
            declare(
                f"{name}-file-{_slug(file.path)}",
                gh.RepositoryFileArgs(
                    repository=args.repository,
                    branch=branch_name,
                    file=file.path,
                    content=file.content,
                    commit_message=file.commit_message,
                    overwrite_on_create=True,
                ),
                pulumi.ResourceOptions(parent=self, protect=protect, depends_on=depends),
            )
            for file in args.files
        ]
        if referenced_id is not None:
            self.repository_id = pulumi.Output.from_input(referenced_id)
        else:
            self.repository_id = gh.get_repository_id(args.full_name, pulumi.InvokeOutputOptions(parent=self))
        self.register_outputs({"repositoryId": self.repository_id, "branch": branch_name})


class RepositoryGate(pulumi.ComponentResource):
    """Branch protection or rulesets, CODEOWNERS, PR template, labels and this stack's environments
    (its own and its reviewer-free `<env>-rollback`)."""

    environment: pulumi.Output[str]
    protected_branches: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: RepositoryGateSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        central: CentralWorkflowRepository | None = None,
        lookups: GitHubLookups | None = None,
    ) -> None:
        super().__init__("delivery-gate:github:RepositoryGate", name, None, opts)
        self._name = name
        self._spec = args
        # Shared by every component of this owner's provider when given (gate/program.py).
        self._lookups = lookups if lookups is not None else GitHubLookups(parent=self)

        gate_opts = pulumi.ResourceOptions(parent=self, protect=args.protect_merge_gate)
        if args.owns_merge_gate:
            if args.mode is MergeGateMode.ORGANIZATION:
                assert central is not None, "organisation mode needs the central workflow repository"
                # GitHub refuses a required workflow that does not exist yet at its ref.
                org_opts = pulumi.ResourceOptions(
                    parent=self, protect=args.protect_merge_gate, depends_on=central.files
                )
                for branch in args.branches:
                    self._organization_ruleset(branch, central, org_opts)
                self._release_branch_creation_in_organization(gate_opts)
            elif args.mode is MergeGateMode.RULESETS:
                for branch in args.branches:
                    self._ruleset(branch, gate_opts)
                self._release_branch_creation(gate_opts)
            else:
                for branch in args.branches:
                    self._branch_protection(branch, gate_opts)
            if args.files and args.files_update is not None:
                self._files(args.files, args.files_update)
            for label in args.labels:
                declare(
                    f"{name}-label-{_slug(label.name)}",
                    gh.IssueLabelArgs(
                        repository=args.name,
                        name=label.name,
                        color=label.color,
                        description=label.description,
                    ),
                    gate_opts,
                )
        # A repository that does not deploy the application has no environments (issue 13, leak).
        environment = self._environment(args.environment) if args.environment is not None else None
        # DP: rollback is automatic — the reviewer-free environment deploy.yml rolls back in.
        if args.rollback_environment is not None:
            self._environment(args.rollback_environment)
        for variable, value in args.repository_variables:
            # Roles of jobs that run in no environment: deploy.yml's build job, the e2e check and the
            # ephemeral janitor (gate/aws/foundation.py build_variables, e2e_variables).
            declare(
                f"{name}-var-{_slug(variable)}",
                gh.ActionsVariableArgs(
                    repository=args.name,
                    variable_name=variable,
                    value=value,
                ),
                pulumi.ResourceOptions(parent=self, protect=args.protect_environment),
            )

        self.environment = environment if environment is not None else pulumi.Output.from_input("")
        self.protected_branches = pulumi.Output.from_input([b.pattern for b in args.branches])
        self.register_outputs({"environment": self.environment, "protectedBranches": self.protected_branches})

    # -- merge gate --------------------------------------------------------------------------

    def _branch_protection(self, branch: BranchGate, opts: pulumi.ResourceOptions) -> None:
        gate, reviews = self._spec.merge_gate, self._spec.reviews
        declare(
            f"{self._name}-protect-{_slug(branch.pattern)}",
            gh.BranchProtectionArgs(
                repository_id=self._spec.name,
                pattern=branch.pattern,
                # M9 §Required CI checks: all must pass, on a branch that is up to date with its base.
                required_status_checks=[
                    gh.BranchProtectionRequiredStatusCheckArgs(
                        strict=gate.strict, contexts=list(branch.required_checks)
                    )
                ],
                required_pull_request_reviews=[
                    gh.BranchProtectionRequiredPullRequestReviewArgs(
                        required_approving_review_count=reviews.required_approvals,
                        require_code_owner_reviews=reviews.require_code_owner_review,
                        dismiss_stale_reviews=reviews.dismiss_stale_reviews,
                        require_last_push_approval=reviews.require_last_push_approval,
                    )
                ],
                enforce_admins=gate.enforce_admins,
                required_linear_history=gate.linear_history,
                require_conversation_resolution=gate.conversation_resolution,
                allows_force_pushes=False,
                allows_deletions=False,
            ),
            opts,
        )

    def _ruleset(self, branch: BranchGate, opts: pulumi.ResourceOptions) -> None:
        gate = self._spec.merge_gate
        required_reviewers = [
            gh.RepositoryRulesetRulesPullRequestRequiredReviewerArgs(
                # M9 §Exceptions: schema changes need backend, QA and product-owner approval.
                reviewer=gh.RepositoryRulesetRulesPullRequestRequiredReviewerReviewerArgs(
                    id=self._lookups.team_id(reviewer.team), type="Team"
                ),
                file_patterns=list(reviewer.file_patterns),
                minimum_approvals=reviewer.minimum_approvals,
            )
            for reviewer in self._spec.schema_reviewers
        ]
        rules = gh.RepositoryRulesetRulesArgs(
            pull_request=gh.RepositoryRulesetRulesPullRequestArgs(
                **self._pull_request_rule(), required_reviewers=required_reviewers or None
            ),
            required_status_checks=gh.RepositoryRulesetRulesRequiredStatusChecksArgs(
                required_checks=[
                    # Pinned to the GitHub Actions app: a commit status of the same name posted
                    # with any token does not satisfy the rule. An external check is pinned to
                    # the app its repository names (repositories[].externalChecks[].appId).
                    gh.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(
                        context=check, integration_id=branch.integration_id(check)
                    )
                    for check in branch.required_checks
                ],
                strict_required_status_checks_policy=gate.strict,
            ),
            required_deployments=(
                gh.RepositoryRulesetRulesRequiredDeploymentsArgs(
                    required_deployment_environments=[branch.required_deployment]
                )
                if branch.required_deployment
                else None
            ),
            required_linear_history=gate.linear_history,
            non_fast_forward=True,
            deletion=True,
        )
        declare(
            f"{self._name}-ruleset-{_slug(branch.pattern)}",
            gh.RepositoryRulesetArgs(
                repository=self._spec.name,
                name=f"delivery-gate {branch.pattern}",
                target="branch",
                enforcement="active",
                conditions=_on_ref(branch.ruleset_ref),
                # enforce_admins: with no bypass actors nobody, admins included, can skip the gate.
                bypass_actors=[] if gate.enforce_admins else None,
                rules=rules,
            ),
            opts,
        )

    def _organization_ruleset(
        self, branch: BranchGate, central: CentralWorkflowRepository, opts: pulumi.ResourceOptions
    ) -> None:
        """Organisation mode: the gate's PR workflows are required from the central repository at
        its pinned ref, so this repository holds no copy of them to rewrite (M9 §Enforcement)."""
        gate, spec = self._spec.merge_gate, self._spec
        assert spec.central is not None
        required_reviewers = [
            gh.OrganizationRulesetRulesPullRequestRequiredReviewerArgs(
                reviewer=gh.OrganizationRulesetRulesPullRequestRequiredReviewerReviewerArgs(
                    id=self._lookups.team_id(reviewer.team), type="Team"
                ),
                file_patterns=list(reviewer.file_patterns),
                minimum_approvals=reviewer.minimum_approvals,
            )
            for reviewer in spec.schema_reviewers
        ]
        rules = gh.OrganizationRulesetRulesArgs(
            pull_request=gh.OrganizationRulesetRulesPullRequestArgs(
                **self._pull_request_rule(), required_reviewers=required_reviewers or None
            ),
            required_workflows=gh.OrganizationRulesetRulesRequiredWorkflowsArgs(
                required_workflows=[
                    gh.OrganizationRulesetRulesRequiredWorkflowsRequiredWorkflowArgs(
                        repository_id=central.repository_id, path=path, ref=spec.central.ref
                    )
                    for path in branch.required_workflows
                ],
            ),
            # The checks by name too, for `strict` (up to date with the base), from GitHub Actions
            # (external checks: from their app, repositories[].externalChecks[].appId).
            required_status_checks=gh.OrganizationRulesetRulesRequiredStatusChecksArgs(
                required_checks=[
                    gh.OrganizationRulesetRulesRequiredStatusChecksRequiredCheckArgs(
                        context=check, integration_id=branch.integration_id(check)
                    )
                    for check in branch.required_checks
                ],
                strict_required_status_checks_policy=gate.strict,
            ),
            required_linear_history=gate.linear_history,
            non_fast_forward=True,
            deletion=True,
        )
        declare(
            f"{self._name}-org-ruleset-{_slug(branch.pattern)}",
            gh.OrganizationRulesetArgs(
                name=f"delivery-gate {spec.name} {branch.pattern}",
                target="branch",
                enforcement="active",
                conditions=_in_repository(spec.name, branch.ruleset_ref),
                bypass_actors=[] if gate.enforce_admins else None,
                rules=rules,
            ),
            opts,
        )

    def _release_branch_creation_in_organization(self, opts: pulumi.ResourceOptions) -> None:
        """As _release_branch_creation, as an organisation ruleset on this repository."""
        ref = self._spec.release_branch_ref
        pattern = ref.removeprefix("refs/heads/")
        declare(
            f"{self._name}-org-ruleset-create-{_slug(pattern)}",
            gh.OrganizationRulesetArgs(
                name=f"delivery-gate {self._spec.name} create {pattern}",
                target="branch",
                enforcement="active",
                conditions=_in_repository(self._spec.name, ref),
                bypass_actors=[
                    gh.OrganizationRulesetBypassActorArgs(
                        actor_id=self._lookups.team_id(team), actor_type="Team", bypass_mode="always"
                    )
                    for team in self._spec.release_branch_creators
                ],
                rules=gh.OrganizationRulesetRulesArgs(creation=True),
            ),
            opts,
        )

    # -- the gate's files, through a pull request (issue 13 item 3) ---------------------------

    def _files(self, files: Sequence[CommittedFile], update: FilesUpdate) -> None:
        """Commit the gate's files to the gate branch of this revision and open a pull request from
        it into the default branch, so that a day-2 update passes the merge gate like any change
        instead of being refused by it (gate/github/filesupdate.py says why not a bypass).

        Not protected, unlike the merge gate: a new revision replaces the branch, the files and the
        pull request, which `protect` would refuse; none of them is the gate (the default branch is,
        and the merge gate protects it)."""
        spec = self._spec
        branch = declare(
            f"{self._name}-files-branch",
            gh.BranchArgs(repository=spec.name, branch=update.branch, source_branch=update.base),
            # Deleting a superseded gate branch closes its pull request if it is still open.
            pulumi.ResourceOptions(parent=self, replace_on_changes=["branch", "sourceBranch"]),
        )
        branch_name = output(branch, "branch")
        committed: list[pulumi.Resource] = []
        for file in files:
            name = f"{self._name}-file-{_slug(file.path)}"
            content: pulumi.Input[str] = file.content
            ignore: list[str] = []
            if file.managed_block:
                content = self._spliced(file)
                # The repository's own lines may change on the default branch at any time; that is no
                # change of the gate's (the revision hashes the block only). The revision in the name
                # makes each revision a new resource, created with the lines of its day.
                name = f"{name}-{update.revision}"
                ignore = ["content"]
            committed.append(
                declare(
                    name,
                    gh.RepositoryFileArgs(
                        repository=spec.name,
                        branch=branch_name,
                        file=file.path,
                        content=content,
                        commit_message=file.commit_message,
                        # The gate branch starts from the default branch, where the file may exist.
                        overwrite_on_create=True,
                    ),
                    pulumi.ResourceOptions(
                        parent=self,
                        # A file on an obsolete gate branch is not deleted: the branch goes with it.
                        retain_on_delete=True,
                        replace_on_changes=["branch"],
                        ignore_changes=ignore or None,
                    ),
                )
            )
        declare(
            f"{self._name}-files-pr",
            gh.RepositoryPullRequestArgs(
                base_repository=spec.name,
                base_ref=update.base,
                head_ref=branch_name,
                title=update.title,
                body=update.body,
                maintainer_can_modify=False,
            ),
            pulumi.ResourceOptions(
                parent=self,
                # Opened once every file is on the branch (GitHub refuses a pull request without
                # commits); a merged one is history, never closed or deleted.
                depends_on=committed,
                retain_on_delete=True,
                replace_on_changes=["headRef"],
            ),
        )

    def _spliced(self, file: CommittedFile) -> pulumi.Output[str]:
        """The repository's own CODEOWNERS on the default branch with the gate's block spliced in
        (gate/github/codeowners.py). Every place GitHub reads CODEOWNERS from is read: with none at
        .github/CODEOWNERS, the file GitHub used so far is the one the block joins, so that the
        repository's rules keep applying once the gate's file shadows it."""
        spec = self._spec
        reads = {
            location: gh.get_repository_file_content(
                f"{spec.owner}/{spec.name}",
                location,
                spec.default_branch,
                pulumi.InvokeOutputOptions(parent=self),
            )
            for location in codeowners.LOCATIONS
        }
        lines = tuple(file.content.splitlines())
        repository = f"{spec.owner}/{spec.name}"

        def splice(contents: list[str | None]) -> str:
            base, moved_from = codeowners.adopted(dict(zip(reads, contents, strict=True)))
            if moved_from is not None:
                pulumi.log.warn(
                    f"{repository}: the rules of {moved_from} now come from {file.path}, which GitHub "
                    f"reads first: the gate's pull request copies them there; delete {moved_from}",
                    resource=self,
                )
            source = f"{repository}:{moved_from or file.path}"
            return codeowners.splice(base, lines, source)

        return pulumi.Output.all(*reads.values()).apply(splice)

    def _pull_request_rule(self) -> dict[str, Any]:
        """The reviews every ruleset kind requires (repository and organisation rulesets take the
        same fields through different provider classes)."""
        gate, reviews = self._spec.merge_gate, self._spec.reviews
        return {
            "required_approving_review_count": reviews.required_approvals,
            "require_code_owner_review": reviews.require_code_owner_review,
            "dismiss_stale_reviews_on_push": reviews.dismiss_stale_reviews,
            "require_last_push_approval": reviews.require_last_push_approval,
            "required_review_thread_resolution": gate.conversation_resolution,
        }

    def _release_branch_creation(self, opts: pulumi.ResourceOptions) -> None:
        """Only production's reviewers create release branches (DP §Environment Progression): a
        release branch is a path to production, so an ordinary writer must not open one. A ruleset
        of its own, so that their bypass covers branch creation and nothing of the merge gate."""
        ref = self._spec.release_branch_ref
        pattern = ref.removeprefix("refs/heads/")
        declare(
            f"{self._name}-ruleset-create-{_slug(pattern)}",
            gh.RepositoryRulesetArgs(
                repository=self._spec.name,
                name=f"delivery-gate create {pattern}",
                target="branch",
                enforcement="active",
                conditions=_on_ref(ref),
                bypass_actors=[
                    gh.RepositoryRulesetBypassActorArgs(
                        actor_id=self._lookups.team_id(team), actor_type="Team", bypass_mode="always"
                    )
                    for team in self._spec.release_branch_creators
                ],
                rules=gh.RepositoryRulesetRulesArgs(creation=True),
            ),
            opts,
        )

    # -- this stack's deployment environment ------------------------------------------------

    def _environment(self, env: Environment) -> pulumi.Output[str]:
        """The environment, its variables and deployment branches; the environment's name."""
        opts = pulumi.ResourceOptions(parent=self, protect=self._spec.protect_environment)
        reviewers = None
        if not env.reviewers.empty:
            reviewers = [
                gh.RepositoryEnvironmentReviewerArgs(
                    teams=[self._lookups.team_id(team) for team in env.reviewers.teams] or None,
                    users=[self._lookups.user_id(user) for user in env.reviewers.users] or None,
                )
            ]
        resource = declare(
            f"{self._name}-env-{env.name}",
            gh.RepositoryEnvironmentArgs(
                repository=self._spec.name,
                environment=env.name,
                wait_timer=env.wait_timer_minutes,
                prevent_self_review=env.prevent_self_review,
                # Production approvals bind admins too (DP: reached only after staging validation).
                can_admins_bypass=False,
                reviewers=reviewers,
                deployment_branch_policy=gh.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                    protected_branches=False, custom_branch_policies=True
                ),
            ),
            opts,
        )
        name = output(resource, "environment")
        for variable, value in self._spec.environment_variables:
            declare(
                f"{self._name}-env-{env.name}-var-{_slug(variable)}",
                gh.ActionsEnvironmentVariableArgs(
                    repository=self._spec.name,
                    environment=name,
                    variable_name=variable,
                    value=value,
                ),
                pulumi.ResourceOptions(parent=self, protect=self._spec.protect_environment),
            )
        for pattern in env.deployment_branches:
            declare(
                f"{self._name}-env-{env.name}-branch-{_slug(pattern)}",
                gh.RepositoryEnvironmentDeploymentPolicyArgs(
                    repository=self._spec.name,
                    environment=name,
                    branch_pattern=pattern,
                ),
                pulumi.ResourceOptions(parent=self, protect=self._spec.protect_environment),
            )
        return name


def _in_repository(repository: str, ref: str) -> dict[str, Any]:
    """An organisation ruleset condition on one ref pattern of one repository; renaming the
    repository is prevented, since a renamed repository would fall outside the condition."""
    return gh.OrganizationRulesetConditionsArgs(
        ref_name=gh.OrganizationRulesetConditionsRefNameArgs(includes=[ref], excludes=[]),
        repository_name=gh.OrganizationRulesetConditionsRepositoryNameArgs(
            includes=[repository], excludes=[], protected=True
        ),
    )


def _on_ref(ref: str) -> dict[str, Any]:
    """A ruleset condition on one ref pattern."""
    return gh.RepositoryRulesetConditionsArgs(
        ref_name=gh.RepositoryRulesetConditionsRefNameArgs(includes=[ref], excludes=[])
    )


def _slug(text: str) -> str:
    """A resource-name-safe form of a path or pattern ('release/*' -> 'release-all'). The model
    refuses two values with one slug (labels, branches), so names never collide here."""
    return resource_slug(text)
