"""Issue 14 item 3: rendering and parsing happen once per distinct repository settings and are shared
by the liveness rule, the components and the plan; team (and user) lookups once per provider.

The counts are taken with spies on the functions that do the work, during a real offline plan
(rules first, then the components): never by timing.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from gate import program
from gate.components import declare as github_sdk
from gate.components import github_gate
from gate.github import organization, rendertemplates, repository, workflows
from gate.github.repository import RepositoryGateSpec
from gate.offline.plan import build_plan
from gate.policy import memo, rules, workflowtemplates
from gate.policy.consistency import load_stack
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from tests.conftest import ProjectFactory

OWNER, OTHER = "acme", "other-org"
# Three distinct settings (besides the name) over seven repositories.
SETTINGS = ("", "      languages: [python]\n", "      languages: [javascript]\n      mergeQueue: true\n")
NAMES = tuple(f"svc-{index}" for index in range(7))
MODES = {
    "protection": "",
    "rulesets": "  delivery-gate:mergeGate:\n    mode: rulesets\n",
    "organization": (
        "  delivery-gate:mergeGate:\n    mode: organization\n"
        "    organization:\n      centralRepository: gate-workflows\n"
    ),
}


# Environment reviewers (a user and a team) on the deploying repositories, two of each owner.
REVIEWERS = (
    "  delivery-gate:application:\n    repositories: [svc-0, svc-2, svc-3, svc-5]\n"
    "  delivery-gate:environments:\n"
    "    - {name: dev, stack: dev, reviewers: {users: [octocat], teams: [platform]}}\n"
    "    - {name: staging, stack: staging, promotesFrom: dev}\n"
    "    - {name: production, stack: prod, promotesFrom: staging, reviewers: {teams: [releases]}}\n"
)


def stack_file(mode: str, *, other_owner: bool = False, reviewers: bool = False) -> str:
    lines = ["config:", f"  github:owner: {OWNER}", "  delivery-gate:environment: dev"]
    lines.append("  delivery-gate:repositories:")
    for index, name in enumerate(NAMES):
        lines.append(f"    - name: {name}")
        if other_owner and index % 2:
            lines.append(f"      owner: {OTHER}")
    text = "\n".join(lines) + "\n"
    for index, name in enumerate(NAMES):
        text = text.replace(f"    - name: {name}\n", f"    - name: {name}\n{SETTINGS[index % len(SETTINGS)]}")
    application = "  delivery-gate:application:\n    repositories: [svc-0, svc-3]\n"
    return text + (REVIEWERS if reviewers else application) + MODES[mode]


def spy(monkeypatch: pytest.MonkeyPatch, module: object, name: str, record: Callable[..., None]) -> None:
    """Replace module.name by a wrapper that records each call, then does the real work."""
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        record(result, *args, **kwargs)
        return result

    monkeypatch.setattr(module, name, wrapper)


class Seen:
    """What the spies saw during one plan."""

    def __init__(self) -> None:
        # (repository, names from the run's context) -> workflow documents built
        self.built: Counter[tuple[str, bool]] = Counter()
        self.rendered: list[dict[str, str]] = []  # each render_documents result
        self.parsed: list[tuple[str, Any]] = []  # each YAML parse: (text, document)
        self.rule_texts: dict[str, dict[str, str]] = {}  # repository -> path -> text the rules read
        self.specs: list[RepositoryGateSpec] = []
        self.central_texts: dict[str, str] = {}


def watch(monkeypatch: pytest.MonkeyPatch) -> Seen:
    seen = Seen()
    spy(
        monkeypatch,
        workflows,
        "_build_documents",
        lambda _, __, repo, from_context: seen.built.update([(repo.full_name, from_context)]),
    )
    for module in (workflows, organization, repository):  # each imports it by name
        spy(monkeypatch, module, "render_documents", lambda result, *_: seen.rendered.append(result))
    spy(monkeypatch, rules, "parse_workflow", lambda document, text: seen.parsed.append((text, document)))

    def rule_read(result: dict[str, str], policy: GatePolicy, repo: Any) -> None:
        seen.rule_texts.setdefault(repo.full_name, {}).update(result)

    # The texts the liveness rule parses: every workflow GitHub runs for the repository.
    spy(monkeypatch, rules, "workflows_run_for", rule_read)

    def central(result: Any, *_: Any) -> None:
        if result is not None:
            seen.central_texts.update({file.path: file.content for file in result.files})

    # The program's own references: what it hands the components.
    spy(monkeypatch, program, "repository_gate", lambda spec, *_: seen.specs.append(spec))
    spy(monkeypatch, program, "central_workflows", central)
    return seen


def plan(make_project: ProjectFactory, mode: str, **kwargs: Any) -> dict[str, Any]:
    return build_plan(make_project({"dev": stack_file(mode, **kwargs)}), "dev")


@pytest.mark.parametrize("mode", ["protection", "organization"])
def test_each_repository_renders_once_and_each_distinct_text_parses_once(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    seen = watch(monkeypatch)
    plan(make_project, mode)

    # Built once per repository, though the rules, the spec and (organisation mode) the central
    # repository and the rulesets all read its workflows.
    # Organisation mode builds a second set, the shared central one, whose jobs read the repository's
    # name from the run (issue 14 item 4): each set once.
    if mode == "organization":
        assert seen.built == Counter(
            {(f"{OWNER}/{name}", naming): 1 for name in NAMES for naming in (False, True)}
        )
        # Rendered once per repository and set: its own workflows, plus its central ones.
        assert len(seen.rendered) == 2 * len(NAMES)
    else:
        # Repositories that differ only by name share one rendering (gate/github/rendertemplates.py):
        # two stand-ins (one pair of names, as the names have one shape) per distinct settings; the
        # deploying repositories (svc-0 and svc-3, the application's) are built themselves, once.
        # Each set built is rendered once.
        stand_ins = Counter({key: n for key, n in seen.built.items() if key[0].split("/")[1] not in NAMES})
        assert seen.built - stand_ins == Counter({(f"{OWNER}/svc-0", False): 1, (f"{OWNER}/svc-3", False): 1})
        shapes = {
            rendertemplates.shape_token(name, *chars)
            for name in NAMES
            for chars in (rendertemplates.FIRST, rendertemplates.SECOND)
        }
        assert stand_ins == Counter({(f"{OWNER}/{shape}", False): len(SETTINGS) for shape in shapes})
        assert len(seen.rendered) == seen.built.total()
    # Each distinct text parsed once, however many repositories render it and rules read it; a text
    # that names its repository once per template (the name taken out), shared by every repository
    # whose text differs only by its name (gate/policy/workflowtemplates.py)...
    texts = [text for text, _ in seen.parsed]
    assert len(texts) == len(set(texts))
    read = {
        (name, text)
        for full_name, files in seen.rule_texts.items()
        for name in [full_name.split("/")[1]]
        for text in files.values()
    }
    templates = {text.replace(name, workflowtemplates.NAME_TOKEN) for name, text in read}
    assert set(texts) <= templates
    assert any(workflowtemplates.NAME_TOKEN in text for text in texts)
    # ...so there are fewer parses than distinct texts the rules read (each repository's e2e parity
    # check names it), and fewer still than workflow files.
    assert len(texts) < len({text for _, text in read})


@pytest.mark.parametrize("mode", ["protection", "organization"])
def test_the_rules_and_the_components_get_the_very_same_rendered_texts(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    seen = watch(monkeypatch)
    result = plan(make_project, mode)

    assert len(seen.specs) == len(NAMES)
    committed = {
        (file["inputs"]["repository"], file["inputs"]["file"]): file["inputs"]["content"]
        for file in result["resources"]
        if file["type"] == "github:index/repositoryFile:RepositoryFile"
    }
    compared = 0
    for spec in seen.specs:
        read = seen.rule_texts[f"{spec.owner}/{spec.name}"]
        for file in spec.files:
            if file.path.startswith(f"{workflows.WORKFLOW_DIR}/"):
                # The same object, not an equal re-rendering: rendered once, read by both.
                assert file.content is read[file.path]
                compared += 1
                # And the plan holds what the component declared.
                assert committed[(spec.name, file.path)] == file.content
    for path, content in seen.central_texts.items():
        owner_repo = next(texts for texts in seen.rule_texts.values() if path in texts)
        assert content is owner_repo[path]
        compared += 1
    assert compared > len(NAMES)
    if mode == "organization":
        assert seen.central_texts


@pytest.mark.parametrize("mode", ["protection", "organization"])
def test_the_rules_read_what_a_parse_of_each_repositorys_own_text_gives(
    make_project: ProjectFactory, mode: str
) -> None:
    # One parse per template stands in for a parse per repository: it must give the same documents.
    policy = load_stack(make_project({"dev": stack_file(mode)}), "dev")
    compared = 0
    for repo in policy.repositories:
        documents = rules.committed_workflows(policy, repo)
        for path, text in repository.workflows_run_for(policy, repo).items():
            assert documents[path.removeprefix(f"{workflows.WORKFLOW_DIR}/")] == rules.parse_workflow(text)
            compared += 1
    assert compared > len(NAMES)
    templated = [
        k for k in memo.memo_of(policy) if isinstance(k, tuple) and k[0] == "parsed_workflow_template"
    ]
    assert templated  # the comparison covered documents made from a template


def test_no_consumer_changes_the_shared_parsed_documents(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = rules.parse_workflow  # the real one: the spy below records every parse
    seen = watch(monkeypatch)
    plan(make_project, "organization")
    assert seen.parsed
    for text, document in seen.parsed:  # the shared objects, after every rule has read them
        assert document == parse(text)


def policy(**values: Any) -> GatePolicy:
    base: dict[str, Any] = {
        "environment": "dev",
        "repositories": [{"name": "aos"}, {"name": "web", "languages": ["javascript"]}],
    }
    return load_policy({**base, **values}, stack="dev", github_owner=OWNER)


def test_equal_repository_settings_render_once_per_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    spy(monkeypatch, workflows, "_build_documents", lambda _, __, repo, *___: built.append(repo.name))
    gate_policy = policy()
    aos = gate_policy.repositories[0]
    first = workflows.render_workflows(gate_policy, aos)
    again = workflows.render_workflows(gate_policy, aos.model_copy())  # equal settings, new object
    assert built == ["aos"]
    assert first == again and first is not again  # the caller's own dict...
    assert all(first[path] is again[path] for path in first)  # ...of the very same texts
    # Another policy object renders for itself: nothing is shared between policies.
    workflows.render_workflows(policy(), aos)
    assert built == ["aos", "aos"]


def test_handed_out_documents_are_copies_the_memo_does_not_see_changed() -> None:
    gate_policy = policy(mergeGate={"mode": "organization", "organization": {"centralRepository": "gw"}})
    repo = gate_policy.repositories[0]
    before = workflows.render_workflows(gate_policy, repo)
    central_before = organization.render_required_workflows(gate_policy, repo)
    for documents in (
        workflows.workflow_documents(gate_policy, repo),
        organization.required_workflow_documents(gate_policy, repo),
        organization.repository_workflow_documents(gate_policy, repo),
    ):
        for document in documents.values():
            document["name"] = "changed"
            document["on"].clear()
            for body in document["jobs"].values():
                body.get("steps", []).clear()
    assert workflows.render_workflows(gate_policy, repo) == before
    assert organization.render_required_workflows(gate_policy, repo) == central_before
    shared = workflows.shared_workflow_documents(gate_policy, repo)
    assert workflows.render_documents(shared) == before


def test_deploying_repositories_are_computed_once_per_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    spy(monkeypatch, GatePolicy, "_deploying_repositories", lambda *_: calls.append(1))
    gate_policy = policy(application={"repositories": ["web"]})
    for _ in range(5):
        assert [repo.name for repo in gate_policy.deploying_repositories] == ["web"]
        assert [gate_policy.deploys(repo) for repo in gate_policy.repositories] == [False, True]
    assert gate_policy.deploying_repositories is gate_policy.deploying_repositories
    assert len(calls) == 1
    # A copy with other settings is another object, with a memo of its own: never the stale answer.
    other = gate_policy.model_copy(
        update={"application": gate_policy.application.model_copy(update={"repositories": ("aos",)})}
    )
    assert [repo.name for repo in other.deploying_repositories] == ["aos"]
    assert [other.deploys(repo) for repo in other.repositories] == [True, False]


def test_the_memo_lives_as_long_as_its_policy() -> None:
    gc.collect()
    before = memo.live_memos()
    gate_policy = policy()
    assert gate_policy.deploying_repositories
    assert memo.live_memos() == before + 1
    del gate_policy
    gc.collect()
    assert memo.live_memos() == before


def test_team_and_user_lookups_happen_once_per_provider(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two owners, each with its provider: every team is looked up once per provider, with that
    owner's provider, however many repositories (and the rulesets of each) name it. The plan's
    invoke list is deduplicated, so the calls themselves are counted."""
    teams: Counter[tuple[str, str]] = Counter()
    users: Counter[tuple[str, str]] = Counter()

    def team(_: Any, slug: str, opts: pulumi.InvokeOutputOptions) -> None:
        assert opts.provider is not None and opts.parent is None
        teams[(opts.provider.pulumi_resource_name, slug)] += 1

    def user(_: Any, login: str, opts: pulumi.InvokeOutputOptions) -> None:
        assert opts.provider is not None and opts.parent is None
        users[(opts.provider.pulumi_resource_name, login)] += 1

    spy(monkeypatch, github_sdk, "get_team_id", team)  # the module github_gate calls
    spy(monkeypatch, github_sdk, "get_user_id", user)
    result = plan(make_project, "rulesets", other_owner=True, reviewers=True)

    assert users == Counter({(f"github-{OWNER}", "octocat"): 1, (f"github-{OTHER}", "octocat"): 1})

    providers = {name for name, _ in teams}
    assert providers == {f"github-{OWNER}", f"github-{OTHER}"}
    assert set(teams.values()) == {1}, teams
    slugs = {slug for _, slug in teams}
    assert {"backend", "qa", "product-owners", "platform", "releases"} <= slugs
    # Each provider looked up every team its repositories name (both owners have several).
    assert {slug for name, slug in teams if name == f"github-{OWNER}"} == slugs
    assert {slug for name, slug in teams if name == f"github-{OTHER}"} == slugs
    # What the plan records is unchanged: each distinct lookup once.
    recorded = [i for i in result["invokes"] if i["token"] == "github:index/getTeam:getTeam"]
    assert sorted(i["args"]["slug"] for i in recorded) == sorted(slugs)


def test_a_component_without_shared_lookups_looks_up_through_its_own_provider() -> None:
    with pytest.raises(ValueError, match="either the provider or the component"):
        github_gate.GitHubLookups()
