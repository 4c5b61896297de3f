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
`declare` returns has an Output only for the arguments it was given, under the provider's names
(`commitMessage`, not `commit_message`); the components read no property of these resources, so
the kinds whose properties they read (`github.Branch`, `github.RepositoryEnvironment`) stay
resource classes.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_github as github
from pulumi import _types as sdk_types
from pulumi_github import _utilities as github_sdk

from gate.components.provider_defaults import apply_provider_defaults

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

# Each Args class's Python property names -> the provider's (wire) names, found once per class.
_WIRE_NAMES: dict[type, dict[str, str]] = {}


def _wire_properties(args: Any) -> dict[str, Any]:
    """The arguments set on `args` under the provider's property names: what the SDK sends for them.

    Given the Args object itself, the SDK would translate each name through the class's type
    metadata and serialise each value against its property's type, for every resource; given this
    dict it sends the same Struct (nested Args values are translated by their own class either way;
    tests/test_declare.py compares the requests byte for byte)."""
    cls = type(args)
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = _WIRE_NAMES[cls] = sdk_types.input_type_py_to_pulumi_names(cls)
    # The Args class keeps what was set, unset optional arguments left out (`pulumi.set`).
    return {names[python_name]: value for python_name, value in vars(args).items()}


def _copied(opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """A shallow copy, as `copy.copy` (and the SDK's `ResourceOptions._copy`) makes it, without its
    generic reduce-and-rebuild path."""
    copy = object.__new__(pulumi.ResourceOptions)
    copy.__dict__.update(vars(opts))
    return copy


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
    options = _copied(opts)
    apply_provider_defaults(options, _PROVIDER_DEFAULTS)
    return pulumi.CustomResource(token, name, _wire_properties(args), options)
