"""Organisation mode: the PR checks are required workflows from a central repository (GATE-ORG-01).

Verified the three ways the rest of the gate is: the model refuses what cannot work; the plan of the
real program declares organisation rulesets that require the central workflows at their pinned
ref, and the gated repository holds no copy of them; and the central workflows are *run* against
the sample gated repository, as GitHub runs a required workflow there on a pull request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.errors import PolicyError
from gate.github import organization
from gate.github.automation import FILE as MISMATCH_AUTOMATION
from gate.github.centralfiles import SEPARATOR, central_file
from gate.github.liveness import check_liveness
from gate.github.organization import RERUN_WORKFLOW, gate_tools
from gate.github.release_contract import RELEASE_CHECK_PATH
from gate.github.release_notes import PUBLISH_WORKFLOW
from gate.github.repository import repository_workflows, required_checks
from gate.github.schema_change import SCHEMA_CHECK_PATH
from gate.github.workflows import E2E_WORKFLOW, JANITOR_WORKFLOW, K6_MAPPER_PATH, WORKFLOW_DIR
from gate.offline.plan import load_plan
from gate.policy.rules import committed_workflows, required_workflows
from gate.promotion.drill import WORKFLOW_FILE as DRILL_WORKFLOW
from gate.promotion.emergency import WORKFLOW_FILE as EMERGENCY_WORKFLOW
from tests.conftest import ProjectFactory
from tests.support.actions_runner import Event, Harness
from tests.support.release_fixture import release_files
from tests.support.sample_world import FAKE_GATE, STUBS, make_sample_repo, make_world
from tests.test_workflow_runs import (
    ALL_CHECKS_PASS,
    AWS,
    DEPLOYED_EVERYWHERE,
    E2E_VARS,
    ENVIRONMENTS,
    FAST_K6,
    NAME,
    OWNER,
    PR,
    PR_WORKFLOWS,
    REPOSITORY,
    SECRETS,
    Gated,
    deployed,
    log,
    pull_request,
    push,
    results,
)
from tests.test_workflows import policy

CENTRAL = "gate-workflows"
ORGANIZATION = {"mergeGate": {"mode": "organization", "organization": {"centralRepository": CENTRAL}}}
ORG_RULESET = "github:index/organizationRuleset:OrganizationRuleset"
REPO_RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
FILE = "github:index/repositoryFile:RepositoryFile"


# -- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merge_gate", "extra", "path", "allowed"),
    [
        ({"mode": "organization"}, {}, "mergeGate.organization", "centralRepository"),
        (
            {"mode": "rulesets", "organization": {"centralRepository": CENTRAL}},
            {},
            "mergeGate.organization",
            "unless mode is 'organization'",
        ),
        (
            {"mode": "organization", "organization": {"centralRepository": "aos"}},
            {},
            "mergeGate.organization.centralRepository",
            "not itself in repositories[]",
        ),
        (
            {"mode": "organization", "organization": {"centralRepository": CENTRAL}},
            {"workflows": {"commit": False}},
            "workflows.commit",
            "required workflows are the gate's own",
        ),
        (
            {
                "mode": "organization",
                "organization": {"centralRepository": CENTRAL, "workflowBranch": "gate/*"},
            },
            {},
            "mergeGate.organization.workflowBranch",
            "",
        ),
    ],
)
def test_organisation_settings_that_cannot_work_are_refused(
    merge_gate: dict[str, Any], extra: dict[str, Any], path: str, allowed: str
) -> None:
    with pytest.raises(PolicyError) as refused:
        policy(mergeGate=merge_gate, **extra)
    assert path in str(refused.value) and allowed in str(refused.value)


# -- what GitHub runs --------------------------------------------------------------------------------


def test_the_gated_repository_holds_no_copy_of_its_pull_request_checks() -> None:
    gate_policy = policy(**ORGANIZATION)
    repo = gate_policy.repositories[0]
    own = repository_workflows(gate_policy, repo)
    # ...and the alert relay's mismatch-automation.yml (repository_dispatch is no pull request).
    # ...and the release-notes publication on a tag push (issue 12).
    # ...and the emergency deploy, dispatched by hand (issue 12, part emergency).
    kept = sorted(
        (
            "deploy.yml",
            E2E_WORKFLOW,
            MISMATCH_AUTOMATION,
            JANITOR_WORKFLOW,
            RERUN_WORKFLOW,
            PUBLISH_WORKFLOW,
            EMERGENCY_WORKFLOW,
            DRILL_WORKFLOW,  # issue 12, part drill: scheduled, like the janitor
        )
    )
    assert sorted(own) == [f"{WORKFLOW_DIR}/{f}" for f in kept]
    # Its own workflows alone report none of the required checks on a pull request ...
    checks = required_checks(gate_policy, repo)
    own_documents = {
        name: document
        for name, document in committed_workflows(gate_policy, repo).items()
        if "--" not in name
    }
    unreported = check_liveness(
        repo.full_name, {"main": checks}, own_documents, external=(), merge_queue=False
    )
    assert len(unreported) == len(checks)
    # ... the central required workflows report every one (GATE-M9-03 holds on the union).
    assert (
        check_liveness(
            repo.full_name,
            {"main": checks},
            committed_workflows(gate_policy, repo),
            external=(),
            merge_queue=False,
        )
        == []
    )
    central = required_workflows(gate_policy, repo)
    assert sorted(central) == sorted(central_file(gate_policy, repo, f) for f in PR_WORKFLOWS)
    assert organization.check_required_workflows(repo.full_name, central) == []


def test_a_workflow_that_cannot_be_required_is_refused_naming_why() -> None:
    gate_policy = policy(**ORGANIZATION)
    repo = gate_policy.repositories[0]
    central = required_workflows(gate_policy, repo)
    ci = central[central_file(gate_policy, repo, "ci.yml")]
    broken = {
        "aos--ci.yml": {**ci, "on": {"push": {}}},
        "aos--local.yml": {
            "on": {"pull_request": {}},
            "jobs": {"x": {"steps": [{"uses": "./.github/actions/always-green"}]}, "y": {"uses": "./w.yml"}},
        },
    }
    assert organization.check_required_workflows(repo.full_name, broken) == [
        "acme/aos: required workflow aos--ci.yml triggers on push, which GitHub ignores for required "
        "workflows",
        "acme/aos: required workflow aos--ci.yml does not run on pull_request",
        "acme/aos: required workflow aos--local.yml job x uses ./.github/actions/always-green, which "
        "resolves in the gated repository's checkout (code the pull request controls)",
        "acme/aos: required workflow aos--local.yml job y uses ./w.yml, which resolves in the gated "
        "repository's checkout (code the pull request controls)",
    ]


def test_inputs_of_the_lost_call_trigger_take_their_defaults() -> None:
    gate_policy = policy(**ORGANIZATION)
    repo = gate_policy.repositories[0]
    e2e = required_workflows(gate_policy, repo)[central_file(gate_policy, repo, E2E_WORKFLOW)]
    assert set(e2e["on"]) == {"pull_request"}
    assert "inputs." not in json.dumps(e2e)
    assert e2e["concurrency"]["group"] == ("e2e-parity-${{ github.event.pull_request.number || github.ref }}")


# -- the plan of the real program -------------------------------------------------------------------


ORG_STACK = f"""\
config:
  github:owner: {OWNER}
  delivery-gate:environment: dev
  delivery-gate:repositories:
    - name: {NAME}
    - name: web
      languages: [javascript]
  delivery-gate:mergeGate:
    mode: organization
    organization:
      centralRepository: {CENTRAL}
"""


def test_the_plan_requires_the_central_workflows_at_their_pinned_ref(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"dev": ORG_STACK})
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"required workflows (organisation rulesets) from acme/{CENTRAL}@refs/heads/delivery-gate:" in out
    plan = load_plan(project / "build" / "dev" / "plan.json")
    resources = plan["resources"]
    central_files = {
        r["inputs"]["file"]: r
        for r in resources
        if r["type"] == FILE and r["inputs"]["repository"] == CENTRAL
    }
    assert {r["inputs"]["branch"] for r in central_files.values()} == {"delivery-gate"}
    repo_id = {
        r["inputs"]["rules"]["requiredWorkflows"]["requiredWorkflows"][0]["repositoryId"]
        for r in resources
        if r["type"] == ORG_RULESET and "requiredWorkflows" in r["inputs"]["rules"]
    }
    assert len(repo_id) == 1  # one central repository, looked up by name
    # 11 M9 checks + release-contract and release-notes (issue 12); the JavaScript-only "web" has
    # neither the Python checks nor the cross-language determinism and e2e parity (issue 13): 7.
    groups: dict[str, str] = {}
    for name, check_count in (("aos", 13), ("web", 7)):
        rulesets = [
            r
            for r in resources
            if r["type"] == ORG_RULESET and r["inputs"]["conditions"]["repositoryName"]["includes"] == [name]
        ]
        assert all(
            r["inputs"]["conditions"]["repositoryName"]["protected"] for r in rulesets
        )  # no renaming out
        (creation,) = [r["inputs"] for r in rulesets if "creation" in r["inputs"]["rules"]]
        assert creation["conditions"]["refName"]["includes"] == ["refs/heads/release/*"]
        gates = {
            r["inputs"]["conditions"]["refName"]["includes"][0]: r
            for r in rulesets
            if "creation" not in r["inputs"]["rules"]
        }
        assert set(gates) == {"~DEFAULT_BRANCH", "refs/heads/release/*"}
        for ruleset in gates.values():
            inputs = ruleset["inputs"]
            assert inputs["bypassActors"] == [] and inputs["enforcement"] == "active"
            required = inputs["rules"]["requiredWorkflows"]["requiredWorkflows"]
            assert {w["ref"] for w in required} == {"refs/heads/delivery-gate"}
            paths = {w["path"] for w in required}
            # Every required workflow of one repository is its group's (issue 14 item 4).
            (group,) = {p.removeprefix(f"{WORKFLOW_DIR}/").split(SEPARATOR)[0] for p in paths}
            assert paths and paths <= set(central_files) and groups.setdefault(name, group) == group
            checks = inputs["rules"]["requiredStatusChecks"]["requiredChecks"]
            assert len(checks) == check_count and {c["integrationId"] for c in checks} == {15368}
            # GitHub refuses a required workflow that does not exist yet at its ref.
            depends = set(ruleset["options"]["dependsOn"])
            assert {central_files[p]["urn"] for p in paths} <= depends
    # Different settings, different groups: one central file per group and workflow, no more.
    assert groups["aos"] != groups["web"]
    assert len(central_files) == 8 + 6
    # The web repository (JavaScript only) gets no Python jobs, in the central copy either.
    web_ci = central_files[f"{WORKFLOW_DIR}/{groups['web']}{SEPARATOR}ci.yml"]["inputs"]["content"]
    assert "unit-tests-python" not in web_ci
    # Only the platform team and organisation owners may move the pinned branch.
    (protection,) = [
        r for r in resources if r["type"] == REPO_RULESET and r["inputs"]["repository"] == CENTRAL
    ]
    assert protection["inputs"]["rules"] == {"update": True, "deletion": True, "nonFastForward": True}
    assert [a["actorType"] for a in protection["inputs"]["bypassActors"]] == ["Team", "OrganizationAdmin"]
    assert protection["inputs"]["conditions"]["refName"]["includes"] == ["refs/heads/delivery-gate"]
    # The repository that deploys (the first: issue 13, application.repositories) holds deploy.yml,
    # the post-merge parity check, the scheduled janitor, the drill, the emergency path, the review
    # helper and, as the alert relay dispatches to it, mismatch-automation.yml; "web", gated for
    # merging only, holds the review helper and the release-notes publisher.
    deploy_side = (
        "deploy.yml",
        E2E_WORKFLOW,
        JANITOR_WORKFLOW,
        EMERGENCY_WORKFLOW,
        DRILL_WORKFLOW,
        MISMATCH_AUTOMATION,
    )
    for name, extra in (("aos", deploy_side), ("web", ())):
        own = {
            r["inputs"]["file"] for r in resources if r["type"] == FILE and r["inputs"]["repository"] == name
        }
        assert {p for p in own if p.startswith(WORKFLOW_DIR)} == {
            f"{WORKFLOW_DIR}/{f}" for f in (RERUN_WORKFLOW, PUBLISH_WORKFLOW, *extra)
        }
    central_committed = [r for r in resources if r["type"] == FILE and r["inputs"]["repository"] == CENTRAL]
    assert central_committed
    assert all(r["options"]["protect"] for r in resources if r["type"] in (ORG_RULESET, REPO_RULESET))
    assert all(r["options"]["protect"] for r in central_committed)
    # A gated repository's files come through the gate's pull request (issue 13 item 3): each revision
    # replaces the last, which `protect` would refuse (tests/test_files_update.py).
    gated_files = [r for r in resources if r["type"] == FILE and r["inputs"]["repository"] != CENTRAL]
    assert gated_files and not any(r["options"]["protect"] for r in gated_files)


# -- run as GitHub runs them ------------------------------------------------------------------------


def org_gated(tmp_path: Path, *, aws: bool = True) -> tuple[Gated, Harness]:
    """The sample repository with what organisation mode commits into it, and a harness that runs
    the central repository's required workflows on its events; with `aws`, pull requests reach the
    cluster through their role (deploys then need the registry's variables: they run without)."""
    values = {**FAST_K6, **ORGANIZATION, **(AWS if aws else {})}
    gate_policy = policy(**values)
    repo = gate_policy.repositories[0]
    files = {**repository_workflows(gate_policy, repo), **gate_tools()}
    # Issue 12: what deploy.yml's `release` checks the contract with (tests/support/release_fixture.py).
    files = {**release_files(gate_policy), **files}
    path, base, head = make_sample_repo(tmp_path / NAME, owner=OWNER, name=NAME, files=files)
    gated = Gated(tmp_path, path, base, head, make_world(tmp_path), values, vars=dict(E2E_VARS))
    central = tmp_path / CENTRAL / WORKFLOW_DIR
    central.mkdir(parents=True)
    for relative, text in organization.render_required_workflows(gate_policy, repo).items():
        (central / Path(relative).name).write_text(text)
    harness = Harness(
        repository=REPOSITORY,
        workflows=central,
        checkouts={REPOSITORY: gated.repo, f"{OWNER}/delivery-gate": FAKE_GATE},
        world=gated.world.root,
        bin_dirs=[STUBS],
        secrets=SECRETS,
        vars=E2E_VARS,
        env={"GATE_HARNESS_PYTHON": sys.executable},
        work=tmp_path / "central-runner",
    )
    return gated, harness


def required(file: str) -> str:
    """The central file of the sample repository's group (its name alone decides nothing)."""
    gate_policy = policy(**ORGANIZATION)
    return central_file(gate_policy, gate_policy.repositories[0], file)


def test_the_required_workflows_pass_a_harmless_pull_request(tmp_path: Path, app_url: str) -> None:
    gated, central = org_gated(tmp_path)
    gated.world.set_default_url(app_url)
    gated.change({"app/notes.md": "A harmless change.\n"})
    combined: dict[str, str] = {}
    for file in PR_WORKFLOWS:
        combined |= results(central.run(required(file), pull_request(gated)))
    assert combined == ALL_CHECKS_PASS


@pytest.mark.parametrize(
    ("tool", "workflow", "check"),
    [
        (SCHEMA_CHECK_PATH, "schema-change.yml", "schema-change"),
        (K6_MAPPER_PATH, E2E_WORKFLOW, "e2e-parity"),
        (RELEASE_CHECK_PATH, "release-contract.yml", "release-contract"),
        (RELEASE_CHECK_PATH, "release-notes.yml", "release-notes"),
    ],
)
def test_a_pull_request_that_edits_a_gate_tool_fails_the_check_that_runs_it(
    tmp_path: Path, app_url: str, tool: str, workflow: str, check: str
) -> None:
    gated, central = org_gated(tmp_path)
    gated.world.set_default_url(app_url)
    gated.change({tool: "import sys\nsys.exit(0)  # always green\n"}, "make the gate pass")
    run = central.run(required(workflow), pull_request(gated))
    assert results(run)[check] == "failure"
    failed = [step.name for step in run.job(check).steps if step.outcome == "failure"]
    assert failed == ["Verify the gate's tools"]
    assert f"{tool}: FAILED" in log(run, check)


def review(gated: Gated, *, fork: bool = False) -> Event:
    head_repo = "someone/aos" if fork else REPOSITORY
    payload = {
        "action": "submitted",
        "review": {"state": "approved"},
        "pull_request": {
            "number": PR,
            "head": {"sha": gated.head, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"sha": gated.base, "ref": "main", "repo": {"full_name": REPOSITORY}},
        },
    }
    return Event("pull_request_review", ref=f"refs/pull/{PR}/merge", sha=gated.head, payload=payload)


def test_a_review_reruns_the_finished_required_schema_change_run(tmp_path: Path) -> None:
    gated, _ = org_gated(tmp_path)
    gated.world.set_github_api(
        f"repos/{REPOSITORY}/actions/runs",
        {
            "workflow_runs": [
                {"id": 41, "name": "schema-change", "status": "completed"},
                {"id": 42, "name": "ci", "status": "completed"},
                {"id": 43, "name": "schema-change", "status": "in_progress"},
            ]
        },
    )
    run = gated.run(RERUN_WORKFLOW, review(gated))
    assert results(run) == {"rerun-schema-change": "success"}
    reruns = [c["argv"] for c in gated.world.calls("gh") if c["argv"][:2] == ["run", "rerun"]]
    assert reruns == [["run", "rerun", "41", "--repo", REPOSITORY]]
    (listing,) = [c for c in gated.world.calls("gh") if c["argv"][0] == "api"]
    assert f"head_sha={gated.head}" in listing["argv"][1] and "token" in listing


def test_a_review_before_the_required_run_finished_reruns_nothing_and_says_so(tmp_path: Path) -> None:
    gated, _ = org_gated(tmp_path)
    gated.world.set_github_api(f"repos/{REPOSITORY}/actions/runs", {"workflow_runs": []})
    run = gated.run(RERUN_WORKFLOW, review(gated))
    assert results(run) == {"rerun-schema-change": "success"}
    assert "no finished schema-change run" in log(run, "rerun-schema-change")
    assert not [c for c in gated.world.calls("gh") if c["argv"][:2] == ["run", "rerun"]]


def test_a_review_on_a_fork_pull_request_reruns_nothing(tmp_path: Path) -> None:
    gated, _ = org_gated(tmp_path)
    run = gated.run(RERUN_WORKFLOW, review(gated, fork=True))
    assert results(run) == {"rerun-schema-change": "skipped"}
    assert gated.world.calls("gh") == []


def test_a_deploy_runs_the_repositorys_post_merge_parity_check(tmp_path: Path, app_url: str) -> None:
    gated, _ = org_gated(tmp_path, aws=False)
    deployed(gated, {"default": app_url})
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE
    # The parity calls ran the repository's post-merge copy, which no pull request triggers.
    assert all(run.job(f"parity-{e}").called is not None for e in ENVIRONMENTS)
