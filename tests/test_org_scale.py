"""Organisation mode at scale (issue 14 item 4): shared central required workflows, and a large
organisation split across stacks that meet at the central repository.

- Repositories whose required workflows render the same share one central file per workflow, named
  by their group (gate/github/centralfiles.py), whatever their names, number or order; a change of
  a workflow keeps every name, so the organisation rulesets do not change.
- The shared workflows take the repository's name from the run's context: run for a repository
  whose name is no slug, they build its image and name its disposable stack as the gate's Python
  does (gate/policy/prnames.py), and the shell's slug is Python's, name for name.
- examples/split-org is planned offline: the group stack commits its own files to the branch the
  central stack declares, and its rulesets use the central stack's `centralWorkflows` output.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.errors import GateError, PolicyError
from gate.github import centralfiles, organization
from gate.github.centralfiles import SEPARATOR, central_file, group
from gate.github.repository import branch_gates
from gate.github.workflows import REPOSITORY_SLUG_SCRIPT, WORKFLOW_DIR
from gate.offline.engine import ProgramError
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy, Repository
from gate.policy.prnames import pr_stack, repository_slug
from tests.conftest import ROOT
from tests.support.actions_runner import Event, Harness
from tests.support.sample_world import FAKE_GATE, STUBS, make_sample_repo, make_world
from tests.test_workflow_runs import AWS, E2E_VARS, FAST_K6, OWNER, PR, SECRETS, log, results

CENTRAL = "gate-workflows"
ORGANIZATION = {"mode": "organization", "organization": {"centralRepository": CENTRAL}}
NAMES = ("aos", "Web.App", "api")  # the second is no slug of its own: its slug carries a digest
AWS_CLUSTER = {
    "aws": {
        "accountId": "123456789012",
        "loadBalancer": {
            "loadBalancer": "app/aos-dev/0a1b2c3d4e5f6071",
            "targetGroup": "targetgroup/aos-dev/1a2b3c4d5e6f7081",
        },
        "eksClusterName": "aos-dev",
    }
}
# Settings that change what the workflows render, each for every repository alike.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "python-merge-queue": {
        "repositories": [{"name": n, "languages": ["python"], "mergeQueue": True} for n in NAMES]
    },
    "aws-cluster": AWS_CLUSTER,
    "image-name-and-registry": {"workflows": {"imageName": "shop", "registry": "registry.example.com/team"}},
}


def org_policy(
    repositories: list[dict[str, Any]] | None = None, *, stack: str = "dev", **values: Any
) -> GatePolicy:
    base: dict[str, Any] = {
        "environment": "dev",
        "repositories": repositories or [{"name": n} for n in NAMES],
        "mergeGate": ORGANIZATION,
    }
    return load_policy({**base, **values}, stack=stack, github_owner="acme")


def required_paths(gate_policy: GatePolicy, repo: Repository) -> set[str]:
    return {path for gate in branch_gates(gate_policy, repo) for path in gate.required_workflows}


# -- one file per group ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_repositories_with_the_same_settings_share_every_required_workflow(variant: str) -> None:
    gate_policy = org_policy(**VARIANTS[variant])
    files = organization.shared_required_workflows(gate_policy, gate_policy.repositories)
    (group_name,) = {path.removeprefix(f"{WORKFLOW_DIR}/").split(SEPARATOR)[0] for path in files}
    # Each repository's rulesets require exactly the shared files, whose content is what it renders.
    for repo in gate_policy.repositories:
        assert required_paths(gate_policy, repo) == set(files)
        assert organization.render_required_workflows(gate_policy, repo) == files
    assert group_name == group(gate_policy, gate_policy.repositories[1])
    # No repository's name is rendered in (the image and stack names come from the run's context).
    text = "".join(files.values()).lower()
    assert not any(f"/{name.lower()}" in text or f"pr-{repository_slug(name)}-" in text for name in NAMES)


def test_groups_follow_settings_not_names_order_or_number() -> None:
    repos: list[dict[str, Any]] = [
        {"name": "aos"},
        {"name": "web", "languages": ["javascript"]},
        {"name": "api"},
        {"name": "ui", "languages": ["javascript"]},
    ]
    gate_policy = org_policy(repos)
    files = organization.shared_required_workflows(gate_policy, gate_policy.repositories)
    aos, web, api, ui = gate_policy.repositories
    assert required_paths(gate_policy, aos) == required_paths(gate_policy, api)
    assert required_paths(gate_policy, web) == required_paths(gate_policy, ui)
    assert required_paths(gate_policy, aos).isdisjoint(required_paths(gate_policy, web))
    assert set(files) == required_paths(gate_policy, aos) | required_paths(gate_policy, web)
    # The same files in any order of the repositories, and one repository more or less adds none.
    reordered = org_policy(list(reversed(repos)))
    assert organization.shared_required_workflows(reordered, reordered.repositories) == files
    fewer = org_policy(repos[:2])
    assert organization.shared_required_workflows(fewer, fewer.repositories) == files


def test_a_changed_workflow_keeps_every_name_so_no_ruleset_changes() -> None:
    before = org_policy()
    after = org_policy(workflows={"timeoutMinutes": 45})
    old = organization.shared_required_workflows(before, before.repositories)
    new = organization.shared_required_workflows(after, after.repositories)
    assert set(old) == set(new) and old != new
    assert [branch_gates(before, r) for r in before.repositories] == [
        branch_gates(after, r) for r in after.repositories
    ]


def chain(prefix: str) -> list[dict[str, Any]]:
    """The default environment chain, its stacks named `<prefix>-<stack>` (one repository group's)."""
    return [
        {"name": "dev", "stack": f"{prefix}-dev"},
        {"name": "staging", "stack": f"{prefix}-staging", "promotesFrom": "dev"},
        {
            "name": "production",
            "stack": f"{prefix}-prod",
            "promotesFrom": "staging",
            "reviewers": {"teams": ["release-managers"]},
        },
    ]


def test_stacks_sharing_the_central_repository_never_name_the_same_file() -> None:
    """Same settings in two repository groups' stacks: two files, each stack deleting only its own."""
    platform, payments = (
        org_policy(environments=chain(prefix), stack=f"{prefix}-dev") for prefix in ("platform", "payments")
    )
    assert central_file(platform, platform.repositories[0], "ci.yml") != central_file(
        payments, payments.repositories[0], "ci.yml"
    )


def test_every_repository_setting_is_judged_for_the_group() -> None:
    """A new Repository field must be added to RENDERED_FIELDS (or IGNORED_FIELDS, if the workflows
    cannot depend on it): otherwise two repositories differing in it could share one file."""
    judged = set(centralfiles.RENDERED_FIELDS) | set(centralfiles.IGNORED_FIELDS)
    assert judged == set(Repository.model_fields)


def test_two_repositories_that_would_need_different_contents_at_one_path_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if `languages` had been forgotten in the group: aos and web would share web's files.
    monkeypatch.setattr(
        centralfiles, "RENDERED_FIELDS", tuple(f for f in centralfiles.RENDERED_FIELDS if f != "languages")
    )
    gate_policy = org_policy([{"name": "aos"}, {"name": "web", "languages": ["javascript"]}])
    with pytest.raises(
        GateError, match=r"acme/aos and acme/web share the central required workflow .*ci\.yml"
    ):
        organization.shared_required_workflows(gate_policy, gate_policy.repositories)


# -- the repository's name from the run's context -------------------------------------------------


def shell_slug(name: str) -> str:
    script = REPOSITORY_SLUG_SCRIPT + 'printf "%s" "$slug"\n'
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"REPOSITORY": f"acme/{name}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize(
    "name",
    [
        "aos",
        "Web.App",
        "foo_bar",
        "foo-bar",
        "a--b",
        "-x-",
        "x" * 40,
        "x" * 41,
        "A" * 100,
        "..a",
        "_",
        "9lives",
    ],
)
def test_the_shell_slug_is_the_python_slug(name: str) -> None:
    assert shell_slug(name) == repository_slug(name)


TARGET_URL = """\
#!/usr/bin/env bash
set -euo pipefail
pr_stack="${1#pr-}"
namespace="${pr_stack%-*}-pr-${pr_stack##*-}"
kubectl -n "$namespace" get ingress aos -o jsonpath='{.metadata.annotations.delivery-gate\\.io/url}'
"""


def test_a_shared_e2e_workflow_names_the_stack_and_image_of_the_repository_it_runs_for(
    tmp_path: Path, app_url: str
) -> None:
    """The shared e2e-parity-check.yml run for acme/Web.App, as GitHub runs a required workflow."""
    name = "Web.App"
    repository = f"{OWNER}/{name}"
    values = {**FAST_K6, **AWS, "mergeGate": ORGANIZATION}
    gate_policy = org_policy([{"name": "aos"}, {"name": name}], **values)
    repo = gate_policy.repositories[1]
    # This repository's own URL script (the sample's knows aos's names only): the namespace of its
    # disposable stack pr-<slug>-<N> is <slug>-pr-<N> (gate/policy/prnames.py).
    files = {**organization.gate_tools(), "scripts/target-url.sh": TARGET_URL}
    path, base, _ = make_sample_repo(tmp_path / "sample", owner=OWNER, name=name, files=files)
    world = make_world(tmp_path)
    world.set_default_url(app_url)
    central = tmp_path / CENTRAL / WORKFLOW_DIR
    central.mkdir(parents=True)
    for relative, text in organization.shared_required_workflows(
        gate_policy, gate_policy.repositories
    ).items():
        (central / Path(relative).name).write_text(text)
    harness = Harness(
        repository=repository,
        workflows=central,
        checkouts={repository: path, f"{OWNER}/delivery-gate": FAKE_GATE},
        world=world.root,
        bin_dirs=[STUBS],
        secrets=SECRETS,
        vars=E2E_VARS,
        env={"GATE_HARNESS_PYTHON": sys.executable},
        work=tmp_path / "runner",
    )
    pull = {
        "number": PR,
        "head": {"sha": base, "ref": "feature", "repo": {"full_name": repository}},
        "base": {"sha": base, "ref": "main", "repo": {"full_name": repository}},
    }
    event = Event("pull_request", ref=f"refs/pull/{PR}/merge", sha=base, payload={"pull_request": pull})
    run = harness.run(central_file(gate_policy, repo, "e2e-parity-check.yml"), event)
    assert results(run) == {"e2e-parity": "success"}, log(run, "e2e-parity")
    target = run.job("e2e-parity").step("target").outputs
    assert target["environment"] == pr_stack(name, PR) == f"pr-{repository_slug(name)}-{PR}"
    assert target["image"] == "ghcr.io/acme/web.app"
    (up,) = [c for c in world.calls("gate") if c["argv"][:2] == ["ephemeral", "up"]]
    assert up["argv"][up["argv"].index("--image") + 1].startswith("ghcr.io/acme/web.app@sha256:")
    scan = harness.run(central_file(gate_policy, repo, "security-scan.yml"), event)
    assert results(scan) == {"security-scan": "success"}


# -- a large organisation split across stacks: examples/split-org ---------------------------------

SPLIT = ROOT / "examples" / "split-org"
ORG_RULESET = "github:index/organizationRuleset:OrganizationRuleset"
FILE = "github:index/repositoryFile:RepositoryFile"


@pytest.fixture(scope="module")
def central_plan() -> dict[str, Any]:
    return build_plan(SPLIT, "platform-dev")


def group_plan(outputs: dict[str, Any]) -> dict[str, Any]:
    return build_plan(SPLIT, "payments-dev", stack_outputs={"platform-dev": outputs})


def of_central(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == kind and r["inputs"].get("repository") == CENTRAL]


def required_ids(plan: dict[str, Any]) -> set[Any]:
    return {
        workflow["repositoryId"]
        for r in plan["resources"]
        if r["type"] == ORG_RULESET and "requiredWorkflows" in r["inputs"]["rules"]
        for workflow in r["inputs"]["rules"]["requiredWorkflows"]["requiredWorkflows"]
    }


def test_the_central_stack_declares_the_central_repository_and_says_where_it_is(
    central_plan: dict[str, Any],
) -> None:
    declared = central_plan["outputs"]["centralWorkflows"]
    assert declared["repository"] == f"example-org/{CENTRAL}" and declared["branch"] == "delivery-gate"
    assert required_ids(central_plan) == {declared["repositoryId"]}
    assert len(of_central(central_plan, "github:index/branch:Branch")) == 1
    assert len(of_central(central_plan, "github:index/repositoryRuleset:RepositoryRuleset")) == 1
    assert len(of_central(central_plan, FILE)) == 7  # the platform group: one Python group of files


def test_a_group_stack_commits_its_own_files_and_requires_them_from_the_central_stacks_repository(
    central_plan: dict[str, Any],
) -> None:
    declared = central_plan["outputs"]["centralWorkflows"]
    plan = group_plan(central_plan["outputs"])
    # The branch and its ruleset are the central stack's: declared there, not here.
    assert of_central(plan, "github:index/branch:Branch") == []
    assert of_central(plan, "github:index/repositoryRuleset:RepositoryRuleset") == []
    # Its own files, on that branch, under names no other stack uses; two groups: Python, JavaScript.
    files = {r["inputs"]["file"]: r for r in of_central(plan, FILE)}
    assert len(files) == 7 + 6 and {r["inputs"]["branch"] for r in files.values()} == {"delivery-gate"}
    assert set(files).isdisjoint(r["inputs"]["file"] for r in of_central(central_plan, FILE))
    # The repository id is the central stack's output, read through a stack reference (no lookup).
    assert required_ids(plan) == {declared["repositoryId"]}
    assert not any(i["token"] == "github:index/getRepository:getRepository" for i in plan["invokes"])
    (reference,) = [r for r in plan["resources"] if r["type"] == "pulumi:pulumi:StackReference"]
    assert reference["inputs"]["name"].endswith("/platform-dev")
    # Whatever that output says, this stack uses it.
    moved = {**central_plan["outputs"], "centralWorkflows": {**declared, "repositoryId": 4242}}
    assert required_ids(group_plan(moved)) == {4242}


def test_a_group_stack_without_the_central_stacks_outputs_says_how_to_give_them() -> None:
    with pytest.raises(GateError, match=r"--evidence platform-dev=FILE"):
        build_plan(SPLIT, "payments-dev")


@pytest.mark.parametrize(
    ("outputs", "says"),
    [
        ({"environment": "dev"}, "stack platform-dev exports no centralWorkflows"),
        (
            {
                "centralWorkflows": {
                    "repository": "example-org/other",
                    "branch": "delivery-gate",
                    "repositoryId": 1,
                }
            },
            "stack platform-dev declares example-org/other branch delivery-gate",
        ),
        (
            {"centralWorkflows": {"repository": f"example-org/{CENTRAL}", "branch": "delivery-gate"}},
            "repositoryId is known",
        ),
    ],
)
def test_a_central_stack_that_does_not_declare_this_central_repository_is_refused(
    outputs: dict[str, Any], says: str
) -> None:
    with pytest.raises(ProgramError) as refused:
        group_plan(outputs)
    assert isinstance(refused.value.cause, PolicyError)
    assert "mergeGate.organization.centralStack" in str(refused.value) and says in str(refused.value)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "pr-aos-1"])
def test_a_central_stack_of_this_chain_is_refused(stack: str) -> None:
    organization_gate = {
        **ORGANIZATION,
        "organization": {"centralRepository": CENTRAL, "centralStack": stack},
    }
    with pytest.raises(PolicyError) as refused:
        org_policy(mergeGate=organization_gate)
    assert "mergeGate.organization.centralStack" in str(refused.value)
    assert "not one of this chain's stacks (dev, staging, prod)" in str(refused.value)


def test_the_split_example_plans_are_deterministic(central_plan: dict[str, Any]) -> None:
    again = build_plan(SPLIT, "platform-dev")
    assert again["root_hash"] == central_plan["root_hash"]
    assert json.dumps(group_plan(central_plan["outputs"])["outputs"], sort_keys=True) == json.dumps(
        group_plan(again["outputs"])["outputs"], sort_keys=True
    )


def test_the_readme_shows_the_tested_example() -> None:
    """README "Large organisations" quotes examples/split-org's group stack: the one planned here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Large organisations\n", 1)[1].split("\n## ", 1)[0]
    (quoted,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    example = (SPLIT / "stacks" / "Pulumi.payments-dev.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(quoted) == yaml.safe_load(example)
