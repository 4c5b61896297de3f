"""gate/components/declare.py: the components declare pulumi-github's resources, provider and lookups
without importing it, and the engine gets what the SDK's classes and functions send, byte for byte, for
every kind, every kind of options the components give, the provider and every lookup; the stand-ins'
names, required arguments, tokens and version are the installed SDK's."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_github as github
import pytest
from pulumi import _types as sdk_types
from pulumi_github import _utilities as github_utilities

from gate.components import declare as gh
from gate.components import provider_defaults
from gate.components.declare import declare
from gate.offline import engine
from gate.offline.engine import run_program
from tests.support.wire import registered_requests, without_name

ROOT = Path(__file__).resolve().parents[1]

# Arguments for each kind, as Python source (NS: the SDK's module or gate's stand-in): set and unset
# optional arguments, nested Args, an Output with a dependency (`branch.branch`) and one without (`team`).
SAMPLES = {
    "ActionsVariable": 'repository="aos", variable_name="GATE_ROLE", value="arn:aws:iam::1:role/x"',
    "ActionsEnvironmentVariable": (
        'repository="aos", environment=env.environment, variable_name="DEPLOY_ROLE", value="r"'
    ),
    "BranchProtection": """repository_id="aos", pattern="release/*",
        required_status_checks=[NS.BranchProtectionRequiredStatusCheckArgs(
            strict=True, contexts=["ci / test", "ci / e2e"])],
        required_pull_request_reviews=[NS.BranchProtectionRequiredPullRequestReviewArgs(
            required_approving_review_count=2, require_code_owner_reviews=True,
            dismiss_stale_reviews=True, require_last_push_approval=False)],
        enforce_admins=True, required_linear_history=True, require_conversation_resolution=True,
        allows_force_pushes=False, allows_deletions=False""",
    "Branch": 'repository="aos", branch="delivery-gate/1a2b", source_branch="main"',
    "IssueLabel": 'repository="aos", name="rollback", color="d73a4a", description="Rolled back"',
    "OrganizationRuleset": """name="delivery-gate aos main", target="branch", enforcement="active",
        conditions=NS.OrganizationRulesetConditionsArgs(
            ref_name=NS.OrganizationRulesetConditionsRefNameArgs(
                includes=["refs/heads/main"], excludes=[]),
            repository_name=NS.OrganizationRulesetConditionsRepositoryNameArgs(
                includes=["aos"], excludes=[], protected=True)),
        bypass_actors=[],
        rules=NS.OrganizationRulesetRulesArgs(
            required_workflows=NS.OrganizationRulesetRulesRequiredWorkflowsArgs(
                required_workflows=[NS.OrganizationRulesetRulesRequiredWorkflowsRequiredWorkflowArgs(
                    repository_id=team, path=".github/workflows/ci.yml", ref="refs/heads/gate")]),
            non_fast_forward=True, deletion=True)""",
    "RepositoryEnvironment": """repository="aos", environment="production", wait_timer=5,
        prevent_self_review=True, can_admins_bypass=False,
        reviewers=[NS.RepositoryEnvironmentReviewerArgs(teams=[team], users=[team])],
        deployment_branch_policy=NS.RepositoryEnvironmentDeploymentBranchPolicyArgs(
            protected_branches=False, custom_branch_policies=True)""",
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
        conditions=NS.RepositoryRulesetConditionsArgs(
            ref_name=NS.RepositoryRulesetConditionsRefNameArgs(
                includes=["~DEFAULT_BRANCH"], excludes=[])),
        bypass_actors=[NS.RepositoryRulesetBypassActorArgs(
            actor_id=team, actor_type="Team", bypass_mode="always")],
        rules=NS.RepositoryRulesetRulesArgs(
            pull_request=NS.RepositoryRulesetRulesPullRequestArgs(
                required_approving_review_count=1, require_code_owner_review=True,
                dismiss_stale_reviews_on_push=True, require_last_push_approval=False,
                required_review_thread_resolution=True),
            required_status_checks=NS.RepositoryRulesetRulesRequiredStatusChecksArgs(
                required_checks=[NS.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(
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
from gate.components import declare as gh
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
        typed, lean = arguments.replace("NS.", "github."), arguments.replace("NS.", "gh.")
        source += (
            f"\ngithub.{kind}('typed-{index}', opts={opts}, {typed})\n"
            f"declare('lean-{index}', gh.{kind}Args({lean}), {opts})\n"
        )
    return source


def _stand_ins() -> dict[str, gh.InputArgs | gh.ResourceArgsClass]:
    return {
        name: value
        for name, value in vars(gh).items()
        if isinstance(value, gh.InputArgs | gh.ResourceArgsClass)
    }


def test_every_resource_kind_declared_here_is_sampled() -> None:
    resources = {name for name, value in _stand_ins().items() if isinstance(value, gh.ResourceArgsClass)}
    assert resources == {kind + "Args" for kind in SAMPLES}


def test_declared_here_the_engine_gets_what_the_resource_class_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = [(kind, option) for kind in SAMPLES for option in OPTIONS]
    requests = registered_requests(tmp_path, monkeypatch, _program(pairs))
    for index, (kind, option) in enumerate(pairs):
        typed, lean = requests[f"typed-{index}"], requests[f"lean-{index}"]
        assert lean.type == typed.type == getattr(gh, kind + "Args").token, kind
        # The plugin `pulumi up` downloads: the SDK's, unless the caller names one.
        expected = "9.9.9" if option == "own provider" else github_utilities.get_version()  # type: ignore[no-untyped-call]
        assert lean.version == expected, kind
        assert without_name(lean) == without_name(typed), (kind, option, typed, lean)


def test_the_comparison_sees_a_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same comparison, where the two differ only in one argument, or in the version.
    source = (
        PROGRAM + 'github.IssueLabel("typed-0", repository="aos", name="a", color="000000",'
        " opts=pulumi.ResourceOptions(parent=holder))\n"
        + 'declare("lean-0", gh.IssueLabelArgs(repository="aos", name="b", color="000000"),'
        " pulumi.ResourceOptions(parent=holder))\n"
        + 'github.IssueLabel("typed-1", repository="aos", name="a", color="000000",'
        " opts=pulumi.ResourceOptions(parent=holder))\n"
        + 'declare("lean-1", gh.IssueLabelArgs(repository="aos", name="a", color="000000"),'
        ' pulumi.ResourceOptions(parent=holder, version="0.0.1"))\n'
    )
    requests = registered_requests(tmp_path, monkeypatch, source)
    for index in range(2):
        assert without_name(requests[f"lean-{index}"]) != without_name(requests[f"typed-{index}"])


@pytest.mark.parametrize("name", sorted(_stand_ins()))
def test_each_stand_in_is_the_sdks_class_names_required_arguments_and_token(name: str) -> None:
    stand_in, sdk_class = _stand_ins()[name], getattr(github, name)
    # Every argument the class takes, under the provider's name the SDK itself would send.
    sdk_names = sdk_types.input_type_py_to_pulumi_names(sdk_class)
    assert sdk_names and {python: gh.wire_name(python) for python in sdk_names} == sdk_names
    parameters = inspect.signature(sdk_class.__init__).parameters.values()
    required = {
        p.name for p in parameters if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY
    }
    required |= {
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind is p.POSITIONAL_OR_KEYWORD
        and p.name not in ("self", "__self__")
    }
    assert set(stand_in.required) == required
    if isinstance(stand_in, gh.ResourceArgsClass):
        resource_class = getattr(github, name.removesuffix("Args"))
        source = Path(inspect.getfile(resource_class)).read_text(encoding="utf-8")
        assert f"'{stand_in.token}'," in source  # what the class passes to CustomResource


def test_a_missing_required_argument_is_refused_as_the_sdks_class_refuses_it() -> None:
    with pytest.raises(TypeError, match="color"):
        github.IssueLabelArgs(repository="aos", name="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"IssueLabelArgs: missing required argument\(s\) color"):
        gh.IssueLabelArgs(repository="aos", name="x")
    with pytest.raises(TypeError, match=r"ReviewerArgs: missing required argument\(s\) id, type"):
        gh.RepositoryRulesetRulesPullRequestRequiredReviewerReviewerArgs()


def test_the_arguments_are_held_as_the_sdks_class_holds_them() -> None:
    held = gh.RepositoryFileArgs(
        repository="aos", file="a", content="x", commit_message="m", branch=None, overwrite_on_create=True
    )
    assert held.properties == {
        "repository": "aos",
        "file": "a",
        "content": "x",
        "commitMessage": "m",
        "overwriteOnCreate": True,
    }
    typed = github.RepositoryFileArgs(
        repository="aos", file="a", content="x", commit_message="m", branch=None, overwrite_on_create=True
    )
    names = sdk_types.input_type_py_to_pulumi_names(github.RepositoryFileArgs)
    assert held.properties == {names[python]: value for python, value in vars(typed).items()}


def test_the_version_and_plugin_url_are_the_sdks() -> None:
    defaults = github_utilities.get_resource_opts_defaults()
    ours = provider_defaults.resource_defaults(gh.PACKAGE)
    assert (ours.version, ours.plugin_download_url) == (defaults.version, defaults.plugin_download_url)
    invoke_defaults = github_utilities.get_invoke_opts_defaults()
    assert (invoke_defaults.version, invoke_defaults.plugin_download_url) == (
        provider_defaults.sdk_version(gh.PACKAGE),
        provider_defaults.PLUGIN_DOWNLOAD_URL,
    )


def test_a_pre_release_version_is_converted_by_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    provider_defaults.sdk_version.cache_clear()
    monkeypatch.setattr(importlib.metadata, "version", lambda package: "6.16.0a1700000000")
    try:
        # The SDK's own conversion, not the PEP 440 text.
        expected = github_utilities.get_version()  # type: ignore[no-untyped-call]
        assert provider_defaults.sdk_version(gh.PACKAGE) == expected
    finally:
        provider_defaults.sdk_version.cache_clear()


def test_declare_leaves_the_callers_options_alone_and_refuses_other_args(tmp_path: Path) -> None:
    shared = pulumi.ResourceOptions(protect=True)
    source = """
import pulumi
from gate.components import declare as gh
from gate.components.declare import declare

shared = pulumi.ResourceOptions(protect=True)
declare("a", gh.IssueLabelArgs(repository="aos", name="a", color="000000"), shared)
declare("b", gh.IssueLabelArgs(repository="aos", name="b", color="000000"), shared)
pulumi.export("options", f"{shared.version} {shared.plugin_download_url}")
"""
    program = tmp_path / "__main__.py"
    program.write_text(source, encoding="utf-8")
    recording = run_program(program, project="demo", stack="test", config={})
    assert recording.outputs == {"options": "None None"}
    assert [r.options["protect"] for r in recording.resources] == [True, True]
    with pytest.raises(TypeError, match="dict is not a resource's arguments"):
        declare("c", gh.RepositoryRulesetRulesArgs(creation=True), shared)  # type: ignore[arg-type]


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
    args = gh.ActionsVariableArgs(repository="aos", variable_name="A", value="v")
    with pytest.raises(ValueError, match=r"\['variable_name'\] must be the provider's property names"):
        declare("lean-0", args, pulumi.ResourceOptions(additional_secret_outputs=["variable_name"]))


def test_the_options_copy_is_copy_copys() -> None:
    import copy  # noqa: PLC0415 - the reference the fast copy must equal

    holder = pulumi.ResourceOptions(protect=True, depends_on=[], ignore_changes=["content"])
    fast, reference = gh._copied(holder), copy.copy(holder)
    assert type(fast) is pulumi.ResourceOptions and fast is not holder
    assert vars(fast) == vars(reference)
    assert fast.ignore_changes is holder.ignore_changes  # shallow, as copy.copy


def test_a_declared_resource_reads_its_arguments_outputs(tmp_path: Path) -> None:
    source = """
import pulumi
from gate.components import declare as gh
from gate.components.declare import declare, output

branch = declare("b", gh.BranchArgs(repository="aos", branch="gate", source_branch="main"),
                 pulumi.ResourceOptions())
pulumi.export("branch", output(branch, "branch"))
pulumi.export("source", output(branch, "sourceBranch"))
"""
    program = tmp_path / "__main__.py"
    program.write_text(source, encoding="utf-8")
    assert run_program(program, project="demo", stack="test", config={}).outputs == {
        "branch": "gate",
        "source": "main",
    }


@pytest.mark.parametrize(
    ("environment", "token"),
    [
        ({}, '"t"'),
        ({"GITHUB_TOKEN": "from-env"}, "None"),
        ({}, "None"),
        ({"GITHUB_BASE_URL": "https://ghe.example/"}, '"t"'),
    ],
)
def test_the_provider_is_registered_as_the_sdks_provider_class_registers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], token: str
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_BASE_URL", raising=False)
    # A plan hides GITHUB_* from the program (gate/offline/engine.py); `pulumi up` does not.
    monkeypatch.setattr(engine, "_HIDDEN_ENV_PREFIXES", ("PULUMI_CONFIG",))
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    source = f"""
import pulumi
import pulumi_github as github
from gate.components import declare as gh

github.Provider("typed", owner="acme", token={token})
gh.provider("lean", owner="acme", token={token})
github.Provider("typed-own", owner="acme", token={token}, opts=pulumi.ResourceOptions(protect=True))
gh.provider("lean-own", owner="acme", token={token}, opts=pulumi.ResourceOptions(protect=True))
"""
    requests = registered_requests(tmp_path, monkeypatch, source)
    for suffix in ("", "-own"):
        typed, lean = requests[f"typed{suffix}"], requests[f"lean{suffix}"]
        assert lean.type == "pulumi:providers:github"
        assert without_name(lean) == without_name(typed), (typed, lean)
    sent = set(requests["lean"].object.fields)
    assert sent == {"baseUrl", "owner"} | (
        {"token"} if token != "None" or environment.get("GITHUB_TOKEN") else set()
    )


LOOKUPS = [
    (
        'github.get_team_output(slug="qa", summary_only=True, opts=opts()).id',
        'gh.get_team_id("qa", opts())',
    ),
    ('github.get_user_output(username="octocat", opts=opts()).id', 'gh.get_user_id("octocat", opts())'),
    (
        'github.get_repository_output(full_name="acme/gate", opts=opts()).repo_id',
        'gh.get_repository_id("acme/gate", opts())',
    ),
    (
        'github.get_repository_file_output(repository="acme/aos", file="CODEOWNERS", branch="main",'
        " opts=opts()).content",
        'gh.get_repository_file_content("acme/aos", "CODEOWNERS", "main", opts())',
    ),
]


@pytest.mark.parametrize(("typed", "lean"), LOOKUPS)
def test_a_lookup_sends_and_answers_what_the_sdks_function_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str, lean: str
) -> None:
    sent: list[bytes] = []
    invoke = engine.RecordingMonitor.Invoke

    def recording(self: engine.RecordingMonitor, request: Any) -> Any:
        sent.append(request.SerializeToString(deterministic=True))
        return invoke(self, request)

    monkeypatch.setattr(engine.RecordingMonitor, "Invoke", recording)
    source = f"""
import pulumi
import pulumi_github as github
from gate.components import declare as gh

provider = github.Provider("gh", owner="acme", token="t")
opts = lambda: pulumi.InvokeOutputOptions(provider=provider)
described = lambda value: [value, type(value).__name__]  # the SDK turns an int's float into an int
pulumi.export("typed", ({typed}).apply(described))
pulumi.export("lean", ({lean}).apply(described))
"""
    program = tmp_path / "__main__.py"
    program.write_text(source, encoding="utf-8")
    files = {("acme/aos", "CODEOWNERS"): "* @acme/platform\n"}
    recording_ = engine.run_program(program, project="demo", stack="test", config={}, repository_files=files)
    assert len(sent) == 2 and sent[0] == sent[1]
    assert recording_.outputs["typed"] == recording_.outputs["lean"] is not None


def test_an_unanswered_property_reads_as_none_as_in_the_sdks_result() -> None:
    assert gh.answered(None, "content") is None
    assert gh.answered({"file": "CODEOWNERS"}, "content") is None
    assert gh.answered({"content": "x"}, "content") == "x"


def test_a_plan_imports_no_pulumi_github() -> None:
    """pulumi-github's `__init__` imports all its modules (0.16 s); a plan of the dev stack, which
    declares GitHub resources, a provider and lookups, imports none of them."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gate.offline.plan import build_plan\n"
        f"plan = build_plan(Path({str(ROOT)!r}), 'dev')\n"
        "print(sorted({r['type'].split(':')[0] for r in plan['resources']}), len(plan['invokes']) > 0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pulumi_github'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    kinds, loaded = out.stdout.splitlines()
    assert "'github'" in kinds and "'pulumi'" in kinds and kinds.endswith("True")
    assert loaded == "[]"
