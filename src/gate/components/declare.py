"""GitHub resources declared from the provider SDK's typed arguments, without its resource classes.

A gated repository's resources (committed files, labels, branch protection or rulesets, the files
pull request, variables, environment branch policies) are multiplied by the number of repositories:
2,000 repositories are ~70,000 of them. Declared through pulumi-github's resource classes
(`github.RepositoryFile(...)`), each one also pays for what only the classes add: a merge of the
provider's default options, an Output for every property the class knows (its outputs included,
set or not), and the translation of every answered property into those Outputs: about a third of
the benchmark's typed floor, which declares every resource through its class (bench/README.md).

`declare` registers the same resource from the same typed `...Args` object: the type token of the
class the Args belong to, the provider SDK's version and plugin download URL (which decide the
plugin `pulumi up` downloads), the caller's options. The engine receives the very same
RegisterResource request as from the resource class (tests/test_declare.py compares them byte for
byte for every kind registered here); the argument names and required arguments are checked as the
class checks them, by the Args class (and by mypy, where the components are written).

What the resource classes give and this does not: an attribute per output property, and the
translation of Python property names in `additional_secret_outputs` (refused here). The resource
`declare` returns has an Output only for the arguments it was given, under their Python names, and
only a one-word name (`branch`, `environment`) resolves to the engine's answer; the components read
no property of these resources, so the kinds whose properties they read (`github.Branch`,
`github.RepositoryEnvironment`) stay resource classes.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi_github as github
from pulumi_github import _utilities as github_sdk

# Type token of the resource each Args class declares: the token the provider SDK's resource class
# registers (pinned against the classes by tests/test_declare.py).
TOKENS: dict[type, str] = {
    github.ActionsVariableArgs: "github:index/actionsVariable:ActionsVariable",
    github.ActionsEnvironmentVariableArgs: (
        "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
    ),
    github.BranchProtectionArgs: "github:index/branchProtection:BranchProtection",
    github.IssueLabelArgs: "github:index/issueLabel:IssueLabel",
    github.OrganizationRulesetArgs: "github:index/organizationRuleset:OrganizationRuleset",
    github.RepositoryEnvironmentDeploymentPolicyArgs: (
        "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
    ),
    github.RepositoryFileArgs: "github:index/repositoryFile:RepositoryFile",
    github.RepositoryPullRequestArgs: "github:index/repositoryPullRequest:RepositoryPullRequest",
    github.RepositoryRulesetArgs: "github:index/repositoryRuleset:RepositoryRuleset",
}

# What every pulumi-github resource class merges into its options first: the SDK's version and
# plugin download URL.
_PROVIDER_DEFAULTS = github_sdk.get_resource_opts_defaults()


def declare(name: str, args: Any, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register the pulumi-github resource `args` describes (a `github.<Kind>Args`) as `name`."""
    token = TOKENS.get(type(args))
    if token is None:
        raise TypeError(f"declare: {type(args).__name__} is not a pulumi-github Args class declared here")
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
    options = copy.copy(opts)
    if options.version is None:
        options.version = _PROVIDER_DEFAULTS.version
    if options.plugin_download_url is None:
        options.plugin_download_url = _PROVIDER_DEFAULTS.plugin_download_url
    return pulumi.CustomResource(token, name, args, options)
