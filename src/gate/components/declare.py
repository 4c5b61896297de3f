"""GitHub resources, providers and lookups declared as pulumi-github declares them, without importing it.

A gated repository's resources (committed files, labels, branch protection or rulesets, the files
branch and pull request, variables, environments) are multiplied by the number of repositories:
2,000 repositories are ~70,000 of them. Through pulumi-github's classes each one also pays for what
only the classes add (a merge of default options, an Output per property the class knows, the
translation of every answered property), and every plan pays for importing the package: its
`__init__` imports all 168 of its modules, 0.16 s of a one-repository plan's 0.75 s (issue 14).

So the components name the same classes here (`gh.RepositoryFileArgs(...)`, `gh.BranchArgs(...)`),
which hold their arguments as the provider names them (camelCase, as on the wire), unset ones left
out, and refuse a missing required argument as the SDK's class does; `declare` registers a resource
from them with the class's type token, the SDK's version and plugin download URL, and the caller's
options; `provider` and the lookups (`get_team`, ...) send what `github.Provider` and the SDK's
`get_*_output` functions send. The engine receives the very same requests as from pulumi-github's
classes and functions: tests/test_declare.py compares them byte for byte for every kind, option,
provider and lookup used here, and pins the names, required arguments, tokens and version against
the installed SDK; the shipped stacks' plans are checked against the provider's schema
(tests/test_plan_schema.py).

What the classes give and this does not: an attribute per output property. The resource `declare`
returns has an Output only for the arguments it was given, under the provider's names (`output`
reads one: `branch`, `environment`); a lookup's answer is a dict under the provider's names
(`repoId`, not `repo_id`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import pulumi

from gate.components.provider_defaults import (
    PLUGIN_DOWNLOAD_URL,
    apply_provider_defaults,
    resource_defaults,
    sdk_version,
)

PACKAGE = "pulumi_github"
# The provider's package name: its provider resources' type is `pulumi:providers:github`.
PROVIDER_PACKAGE = "github"


def wire_name(python_name: str) -> str:
    """The provider's name of an argument: pulumi-github's are the camelCase of the Python names
    (`commit_message` -> `commitMessage`; tests/test_declare.py checks every argument of every class
    named here against the SDK's own table)."""
    head, *rest = python_name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@functools.cache
def _wire_names(names: tuple[str, ...]) -> dict[str, str]:
    return {name: wire_name(name) for name in names}


class _ArgsClass:
    """What pulumi-github's argument classes share: a name and required arguments, and the arguments
    held as the class holds them, under the provider's names."""

    def __init__(self, kind: str, required: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.required = required

    def held(self, arguments: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.required if arguments.get(name) is None]
        if missing:
            raise TypeError(f"{self.kind}: missing required argument(s) {', '.join(missing)}")
        # The Args classes keep only what was set (`pulumi.set` is skipped for None).
        names = _wire_names(tuple(arguments))
        return {names[name]: value for name, value in arguments.items() if value is not None}


class InputArgs(_ArgsClass):
    """A nested argument class of pulumi-github (`github.RepositoryRulesetRulesArgs`): called with
    its keyword arguments, the dict the provider receives for them."""

    def __call__(self, **arguments: Any) -> dict[str, Any]:
        return self.held(arguments)


@dataclass(frozen=True)
class ResourceArgs:
    """A resource's arguments, as its pulumi-github Args class holds them: `declare` registers it."""

    token: str  # the type token its resource class registers
    properties: dict[str, Any]  # under the provider's names


class ResourceArgsClass(_ArgsClass):
    """A resource's argument class of pulumi-github (`github.RepositoryFileArgs`): called with its
    keyword arguments, what `declare` registers."""

    def __init__(self, kind: str, token: str, required: tuple[str, ...]) -> None:
        super().__init__(kind, required)
        self.token = token

    def __call__(self, **arguments: Any) -> ResourceArgs:
        return ResourceArgs(self.token, self.held(arguments))


def _token(module: str, resource: str) -> str:
    return f"github:index/{module}:{resource}"


# The classes the components use, under the SDK's names; the required arguments and type tokens are
# those of pulumi-github (pinned against the installed SDK by tests/test_declare.py).
ActionsEnvironmentVariableArgs = ResourceArgsClass(
    "ActionsEnvironmentVariableArgs",
    _token("actionsEnvironmentVariable", "ActionsEnvironmentVariable"),
    ("environment", "repository", "value", "variable_name"),
)
ActionsVariableArgs = ResourceArgsClass(
    "ActionsVariableArgs",
    _token("actionsVariable", "ActionsVariable"),
    ("repository", "value", "variable_name"),
)
BranchArgs = ResourceArgsClass("BranchArgs", _token("branch", "Branch"), ("branch", "repository"))
BranchProtectionArgs = ResourceArgsClass(
    "BranchProtectionArgs", _token("branchProtection", "BranchProtection"), ("pattern", "repository_id")
)
IssueLabelArgs = ResourceArgsClass(
    "IssueLabelArgs", _token("issueLabel", "IssueLabel"), ("color", "repository")
)
OrganizationRulesetArgs = ResourceArgsClass(
    "OrganizationRulesetArgs",
    _token("organizationRuleset", "OrganizationRuleset"),
    ("enforcement", "rules", "target"),
)
RepositoryEnvironmentArgs = ResourceArgsClass(
    "RepositoryEnvironmentArgs",
    _token("repositoryEnvironment", "RepositoryEnvironment"),
    ("environment", "repository"),
)
RepositoryEnvironmentDeploymentPolicyArgs = ResourceArgsClass(
    "RepositoryEnvironmentDeploymentPolicyArgs",
    _token("repositoryEnvironmentDeploymentPolicy", "RepositoryEnvironmentDeploymentPolicy"),
    ("environment", "repository"),
)
RepositoryFileArgs = ResourceArgsClass(
    "RepositoryFileArgs", _token("repositoryFile", "RepositoryFile"), ("content", "file", "repository")
)
RepositoryPullRequestArgs = ResourceArgsClass(
    "RepositoryPullRequestArgs",
    _token("repositoryPullRequest", "RepositoryPullRequest"),
    ("base_ref", "base_repository", "head_ref", "title"),
)
RepositoryRulesetArgs = ResourceArgsClass(
    "RepositoryRulesetArgs",
    _token("repositoryRuleset", "RepositoryRuleset"),
    ("enforcement", "repository", "rules", "target"),
)

BranchProtectionRequiredPullRequestReviewArgs = InputArgs("BranchProtectionRequiredPullRequestReviewArgs")
BranchProtectionRequiredStatusCheckArgs = InputArgs("BranchProtectionRequiredStatusCheckArgs")
OrganizationRulesetBypassActorArgs = InputArgs(
    "OrganizationRulesetBypassActorArgs", ("actor_type", "bypass_mode")
)
OrganizationRulesetConditionsArgs = InputArgs("OrganizationRulesetConditionsArgs")
OrganizationRulesetConditionsRefNameArgs = InputArgs(
    "OrganizationRulesetConditionsRefNameArgs", ("excludes", "includes")
)
OrganizationRulesetConditionsRepositoryNameArgs = InputArgs(
    "OrganizationRulesetConditionsRepositoryNameArgs", ("excludes", "includes")
)
OrganizationRulesetRulesArgs = InputArgs("OrganizationRulesetRulesArgs")
OrganizationRulesetRulesPullRequestArgs = InputArgs("OrganizationRulesetRulesPullRequestArgs")
OrganizationRulesetRulesPullRequestRequiredReviewerArgs = InputArgs(
    "OrganizationRulesetRulesPullRequestRequiredReviewerArgs",
    ("file_patterns", "minimum_approvals", "reviewer"),
)
OrganizationRulesetRulesPullRequestRequiredReviewerReviewerArgs = InputArgs(
    "OrganizationRulesetRulesPullRequestRequiredReviewerReviewerArgs", ("id", "type")
)
OrganizationRulesetRulesRequiredStatusChecksArgs = InputArgs(
    "OrganizationRulesetRulesRequiredStatusChecksArgs", ("required_checks",)
)
OrganizationRulesetRulesRequiredStatusChecksRequiredCheckArgs = InputArgs(
    "OrganizationRulesetRulesRequiredStatusChecksRequiredCheckArgs", ("context",)
)
OrganizationRulesetRulesRequiredWorkflowsArgs = InputArgs(
    "OrganizationRulesetRulesRequiredWorkflowsArgs", ("required_workflows",)
)
OrganizationRulesetRulesRequiredWorkflowsRequiredWorkflowArgs = InputArgs(
    "OrganizationRulesetRulesRequiredWorkflowsRequiredWorkflowArgs", ("path", "repository_id")
)
RepositoryEnvironmentDeploymentBranchPolicyArgs = InputArgs(
    "RepositoryEnvironmentDeploymentBranchPolicyArgs", ("custom_branch_policies", "protected_branches")
)
RepositoryEnvironmentReviewerArgs = InputArgs("RepositoryEnvironmentReviewerArgs")
RepositoryRulesetBypassActorArgs = InputArgs(
    "RepositoryRulesetBypassActorArgs", ("actor_type", "bypass_mode")
)
RepositoryRulesetConditionsArgs = InputArgs("RepositoryRulesetConditionsArgs", ("ref_name",))
RepositoryRulesetConditionsRefNameArgs = InputArgs(
    "RepositoryRulesetConditionsRefNameArgs", ("excludes", "includes")
)
RepositoryRulesetRulesArgs = InputArgs("RepositoryRulesetRulesArgs")
RepositoryRulesetRulesPullRequestArgs = InputArgs("RepositoryRulesetRulesPullRequestArgs")
RepositoryRulesetRulesPullRequestRequiredReviewerArgs = InputArgs(
    "RepositoryRulesetRulesPullRequestRequiredReviewerArgs",
    ("file_patterns", "minimum_approvals", "reviewer"),
)
RepositoryRulesetRulesPullRequestRequiredReviewerReviewerArgs = InputArgs(
    "RepositoryRulesetRulesPullRequestRequiredReviewerReviewerArgs", ("id", "type")
)
RepositoryRulesetRulesRequiredDeploymentsArgs = InputArgs(
    "RepositoryRulesetRulesRequiredDeploymentsArgs", ("required_deployment_environments",)
)
RepositoryRulesetRulesRequiredStatusChecksArgs = InputArgs(
    "RepositoryRulesetRulesRequiredStatusChecksArgs", ("required_checks",)
)
RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs = InputArgs(
    "RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs", ("context",)
)


def _copied(opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """A shallow copy, as `copy.copy` (and the SDK's `ResourceOptions._copy`) makes it, without its
    generic reduce-and-rebuild path."""
    copy = object.__new__(pulumi.ResourceOptions)
    copy.__dict__.update(vars(opts))
    return copy


def declare(name: str, args: ResourceArgs, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register the pulumi-github resource `args` describes (`gh.<Kind>Args(...)`) as `name`."""
    if not isinstance(args, ResourceArgs):
        raise TypeError(f"declare: {type(args).__name__} is not a resource's arguments (gh.<Kind>Args(...))")
    # The SDK translates these names with the resource's class, which here is CustomResource: it
    # would send a Python name as it is, where the provider's class would send the provider's name.
    python_names = [name for name in opts.additional_secret_outputs or () if "_" in name]
    if python_names:
        raise ValueError(
            f"declare: additional_secret_outputs {python_names} must be the provider's property names "
            "(camelCase, as on the wire)"
        )
    # The caller's options are shared between resources; the version goes on a copy, where the
    # resource class's merge would put it (the caller's own version, if any, wins there too).
    options = _copied(opts)
    apply_provider_defaults(options, resource_defaults(PACKAGE))
    return pulumi.CustomResource(args.token, name, args.properties, options)


def output(resource: pulumi.Resource, property_name: str) -> pulumi.Output[Any]:
    """The Output of argument `property_name` (the provider's name) of a resource `declare` made."""
    value: pulumi.Output[Any] = getattr(resource, property_name)
    return value


def provider(
    name: str, *, owner: str, token: pulumi.Input[str] | None, opts: pulumi.ResourceOptions | None = None
) -> pulumi.ProviderResource:
    """`github.Provider(name, owner=owner, token=token, opts=opts)`: the token from GITHUB_TOKEN when
    not given, secret; the API from GITHUB_BASE_URL, else github.com's."""
    if token is None:
        token = os.getenv("GITHUB_TOKEN")
    properties: dict[str, Any] = {
        "baseUrl": os.getenv("GITHUB_BASE_URL") or "https://api.github.com/",
        "owner": owner,
        "token": None if token is None else pulumi.Output.secret(token),
    }
    options = pulumi.ResourceOptions.merge(resource_defaults(PACKAGE), opts)
    options = pulumi.ResourceOptions.merge(
        options, pulumi.ResourceOptions(additional_secret_outputs=["token"])
    )
    return pulumi.ProviderResource(PROVIDER_PACKAGE, name, properties, options)


def _invoke(token: str, arguments: dict[str, Any], opts: pulumi.InvokeOutputOptions) -> pulumi.Output[Any]:
    """An SDK `get_*_output` function's call: the arguments under the provider's names (None ones
    included, as the SDK passes them; none is sent), the SDK's version; the answer untranslated."""
    options = pulumi.InvokeOutputOptions.merge(
        pulumi.InvokeOptions(version=sdk_version(PACKAGE), plugin_download_url=PLUGIN_DOWNLOAD_URL), opts
    )
    return pulumi.runtime.invoke_output(token, arguments, opts=options)


def answered(answer: Any, key: str) -> Any:
    """A lookup's answered property, as the SDK's result class reads it: None if not answered."""
    return None if answer is None else answer.get(key)


def _answered_output(
    token: str, arguments: dict[str, Any], opts: pulumi.InvokeOutputOptions, key: str
) -> pulumi.Output[Any]:
    """One property of a lookup's answer: what `github.get_*_output(...).<property>` gives."""
    return _invoke(token, arguments, opts).apply(lambda answer: answered(answer, key))


def get_team_id(slug: str, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[Any]:
    """`github.get_team_output(slug=slug, summary_only=True, opts=opts).id`."""
    arguments = {"membershipType": None, "resultsPerPage": None, "slug": slug, "summaryOnly": True}
    return _answered_output(_token("getTeam", "getTeam"), arguments, opts, "id")


def get_user_id(login: str, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[Any]:
    """`github.get_user_output(username=login, opts=opts).id`."""
    return _answered_output(_token("getUser", "getUser"), {"username": login}, opts, "id")


def get_repository_id(full_name: str, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[Any]:
    """`github.get_repository_output(full_name=full_name, opts=opts).repo_id`: an int, as the SDK's
    result class makes the wire's number (a float) for a property it types `int`."""
    arguments = {"description": None, "fullName": full_name, "homepageUrl": None, "name": None}
    return _answered_output(_token("getRepository", "getRepository"), arguments, opts, "repoId").apply(
        _integer
    )


def _integer(value: Any) -> Any:
    # What the SDK's translation of an answer does for a property typed `int` (rpc.py
    # translate_output_properties): a float becomes an int; anything else is left as it is.
    return int(value) if isinstance(value, float) else value


def get_repository_file_content(
    repository: str, file: str, branch: str, opts: pulumi.InvokeOutputOptions
) -> pulumi.Output[Any]:
    """`github.get_repository_file_output(repository=..., file=..., branch=..., opts=opts).content`:
    None where the file is not found.

    The content alone, not the whole answer: joining Outputs (`Output.all`) lifts every property of
    a dict value into an Output of its own, a dozen tasks per read that nobody reads."""
    arguments = {"branch": branch, "file": file, "repository": repository}
    return _answered_output(_token("getRepositoryFile", "getRepositoryFile"), arguments, opts, "content")
