"""gate/components/declare.py: a resource declared from its Args sends the engine what the provider
SDK's resource class sends, byte for byte, for every kind declared that way and every kind of
options the components give."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_github as github
import pytest

from gate.components.declare import TOKENS, declare
from gate.offline.engine import run_program
from tests.support.wire import registered_requests, without_name

# Arguments for each kind, as Python source: set and unset optional arguments, nested Args, an
# Output with a dependency (`branch.branch`) and one without (`team`).
SAMPLES = {
    "ActionsVariable": 'repository="aos", variable_name="GATE_ROLE", value="arn:aws:iam::1:role/x"',
    "ActionsEnvironmentVariable": (
        'repository="aos", environment=env.environment, variable_name="DEPLOY_ROLE", value="r"'
    ),
    "BranchProtection": """repository_id="aos", pattern="release/*",
        required_status_checks=[github.BranchProtectionRequiredStatusCheckArgs(
            strict=True, contexts=["ci / test", "ci / e2e"])],
        required_pull_request_reviews=[github.BranchProtectionRequiredPullRequestReviewArgs(
            required_approving_review_count=2, require_code_owner_reviews=True,
            dismiss_stale_reviews=True, require_last_push_approval=False)],
        enforce_admins=True, required_linear_history=True, require_conversation_resolution=True,
        allows_force_pushes=False, allows_deletions=False""",
    "IssueLabel": 'repository="aos", name="rollback", color="d73a4a", description="Rolled back"',
    "OrganizationRuleset": """name="delivery-gate aos main", target="branch", enforcement="active",
        conditions=github.OrganizationRulesetConditionsArgs(
            ref_name=github.OrganizationRulesetConditionsRefNameArgs(
                includes=["refs/heads/main"], excludes=[]),
            repository_name=github.OrganizationRulesetConditionsRepositoryNameArgs(
                includes=["aos"], excludes=[], protected=True)),
        bypass_actors=[],
        rules=github.OrganizationRulesetRulesArgs(
            required_workflows=github.OrganizationRulesetRulesRequiredWorkflowsArgs(
                required_workflows=[github.OrganizationRulesetRulesRequiredWorkflowsRequiredWorkflowArgs(
                    repository_id=team, path=".github/workflows/ci.yml", ref="refs/heads/gate")]),
            non_fast_forward=True, deletion=True)""",
    "RepositoryEnvironmentDeploymentPolicy": (
        'repository="aos", environment=env.environment, branch_pattern="release/*"'
    ),
    "RepositoryFile": """repository="aos", branch=branch.branch, file=".github/CODEOWNERS",
        content="* @acme/platform\\n", commit_message="delivery-gate: CODEOWNERS",
        overwrite_on_create=True""",
    "RepositoryPullRequest": """base_repository="aos", base_ref="main", head_ref=branch.branch,
        title="delivery-gate 1a2b", body="The gate's files", maintainer_can_modify=False""",
    "RepositoryRuleset": """repository="aos", name="delivery-gate main", target="branch",
        enforcement="active",
        conditions=github.RepositoryRulesetConditionsArgs(
            ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                includes=["~DEFAULT_BRANCH"], excludes=[])),
        bypass_actors=[github.RepositoryRulesetBypassActorArgs(
            actor_id=team, actor_type="Team", bypass_mode="always")],
        rules=github.RepositoryRulesetRulesArgs(
            pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                required_approving_review_count=1, require_code_owner_review=True,
                dismiss_stale_reviews_on_push=True, require_last_push_approval=False,
                required_review_thread_resolution=True),
            required_status_checks=github.RepositoryRulesetRulesRequiredStatusChecksArgs(
                required_checks=[github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(
                    context="ci / test", integration_id=15368)],
                strict_required_status_checks_policy=True),
            non_fast_forward=True, deletion=True)""",
}

# The options the components give (gate_opts; the files pull request's; a caller's own provider,
# version and replacement order).
OPTIONS = {
    "protected": "pulumi.ResourceOptions(parent=holder, protect=True)",
    "ordered": (
        "pulumi.ResourceOptions(parent=holder, depends_on=[branch], retain_on_delete=True,"
        ' replace_on_changes=["branch"], ignore_changes=["content"])'
    ),
    "own provider": (
        'pulumi.ResourceOptions(provider=provider, version="9.9.9", delete_before_replace=True,'
        ' additional_secret_outputs=["value"])'
    ),
}

PROGRAM = """
import pulumi
import pulumi_github as github
from gate.components.declare import declare

provider = github.Provider("gh", owner="acme", token="t")


class Holder(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:index:Holder", name, None, opts)


holder = Holder("holder", pulumi.ResourceOptions(providers={"github": provider}))
branch = github.Branch("branch", repository="aos", branch="gate", opts=pulumi.ResourceOptions(parent=holder))
env = github.RepositoryEnvironment("env", repository="aos", environment="prod",
                                   opts=pulumi.ResourceOptions(parent=holder))
team = pulumi.Output.from_input(4242)
"""


def _program(pairs: list[tuple[str, str]]) -> str:
    source = PROGRAM
    for index, (kind, option) in enumerate(pairs):
        arguments, opts = SAMPLES[kind], OPTIONS[option]
        source += (
            f"\ngithub.{kind}('typed-{index}', opts={opts}, {arguments})\n"
            f"declare('lean-{index}', github.{kind}Args({arguments}), {opts})\n"
        )
    return source


def test_every_kind_declared_from_its_args_is_sampled() -> None:
    assert {getattr(github, kind + "Args") for kind in SAMPLES} == set(TOKENS)


def test_declared_from_args_the_engine_gets_what_the_resource_class_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = [(kind, option) for kind in SAMPLES for option in OPTIONS]
    requests = registered_requests(tmp_path, monkeypatch, _program(pairs))
    for index, (kind, option) in enumerate(pairs):
        typed, lean = requests[f"typed-{index}"], requests[f"lean-{index}"]
        assert lean.type == TOKENS[getattr(github, kind + "Args")], kind
        assert lean.version, kind  # the provider SDK's version: the plugin `pulumi up` downloads
        assert without_name(lean) == without_name(typed), (kind, option, typed, lean)


def test_the_comparison_sees_a_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same comparison, where the two differ only in one argument, or in the version.
    source = (
        PROGRAM + 'github.IssueLabel("typed-0", repository="aos", name="a", color="000000",'
        " opts=pulumi.ResourceOptions(parent=holder))\n"
        + 'declare("lean-0", github.IssueLabelArgs(repository="aos", name="b", color="000000"),'
        " pulumi.ResourceOptions(parent=holder))\n"
        + 'github.IssueLabel("typed-1", repository="aos", name="a", color="000000",'
        " opts=pulumi.ResourceOptions(parent=holder))\n"
        + 'declare("lean-1", github.IssueLabelArgs(repository="aos", name="a", color="000000"),'
        ' pulumi.ResourceOptions(parent=holder, version="0.0.1"))\n'
    )
    requests = registered_requests(tmp_path, monkeypatch, source)
    for index in range(2):
        assert without_name(requests[f"lean-{index}"]) != without_name(requests[f"typed-{index}"])


def test_declare_leaves_the_callers_options_alone_and_refuses_other_args(tmp_path: Path) -> None:
    shared = pulumi.ResourceOptions(protect=True)
    source = """
import pulumi
import pulumi_github as github
from gate.components.declare import declare

shared = pulumi.ResourceOptions(protect=True)
declare("a", github.IssueLabelArgs(repository="aos", name="a", color="000000"), shared)
declare("b", github.IssueLabelArgs(repository="aos", name="b", color="000000"), shared)
pulumi.export("options", f"{shared.version} {shared.plugin_download_url}")
"""
    program = tmp_path / "__main__.py"
    program.write_text(source, encoding="utf-8")
    recording = run_program(program, project="demo", stack="test", config={})
    assert recording.outputs == {"options": "None None"}
    assert [r.options["protect"] for r in recording.resources] == [True, True]
    with pytest.raises(TypeError, match="BranchArgs is not a pulumi-github Args class declared here"):
        declare("c", github.BranchArgs(repository="aos", branch="x"), shared)


def test_python_names_of_secret_outputs_are_refused_where_the_class_would_translate_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The resource class sends `variable_name` as the provider's `variableName`; declare could not.
    source = (
        PROGRAM + 'github.ActionsVariable("typed-0", repository="aos", variable_name="A", value="v",'
        ' opts=pulumi.ResourceOptions(parent=holder, additional_secret_outputs=["variable_name"]))\n'
    )
    requests = registered_requests(tmp_path, monkeypatch, source)
    assert list(requests["typed-0"].additionalSecretOutputs) == ["variableName"]
    args = github.ActionsVariableArgs(repository="aos", variable_name="A", value="v")
    with pytest.raises(ValueError, match=r"\['variable_name'\] must be the provider's property names"):
        declare("lean-0", args, pulumi.ResourceOptions(additional_secret_outputs=["variable_name"]))


def test_a_missing_required_argument_is_refused_as_the_resource_class_refuses_it() -> None:
    with pytest.raises(TypeError, match="color"):
        github.IssueLabelArgs(repository="aos", name="x")  # type: ignore[call-arg]


def test_the_options_copy_is_copy_copys_and_the_properties_are_under_the_providers_names() -> None:
    import copy  # noqa: PLC0415 - the reference the fast copy must equal

    from gate.components import declare as module  # noqa: PLC0415

    holder = pulumi.ResourceOptions(protect=True, depends_on=[], ignore_changes=["content"])
    fast, reference = module._copied(holder), copy.copy(holder)
    assert type(fast) is pulumi.ResourceOptions and fast is not holder
    assert vars(fast) == vars(reference)
    assert fast.ignore_changes is holder.ignore_changes  # shallow, as copy.copy
    args = github.RepositoryFileArgs(
        repository="aos", file="a", content="x", commit_message="m", overwrite_on_create=True
    )
    assert module._wire_properties(args) == {
        "repository": "aos",
        "file": "a",
        "content": "x",
        "commitMessage": "m",
        "overwriteOnCreate": True,
    }
