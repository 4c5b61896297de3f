"""The gate workflows: valid (actionlint), secure (zizmor), shaped as the policy says, live, golden."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.github import release_notes
from gate.github.automation import FILE as MISMATCH_AUTOMATION
from gate.github.files import committed_files
from gate.github.organization import RERUN_WORKFLOW
from gate.github.repository import required_checks, workflows_run_for
from gate.github.workflows import E2E_WORKFLOW, JANITOR_WORKFLOW, render_workflows
from gate.offline.plan import load_plan
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy, _default_checks
from gate.policy.rules import committed_workflows
from gate.promotion import emergency
from gate.promotion.drill import WORKFLOW_FILE as DRILL
from tests.conftest import ROOT, ProjectFactory
from tests.support.workflow_tools import run_actionlint, run_zizmor

ENVIRONMENTS = ("dev", "staging", "production")
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "python-only-merge-queue": {
        "repositories": [{"name": "tracer", "languages": ["python"], "mergeQueue": True}],
    },
    "javascript-only-custom": {
        "repositories": [{"name": "web", "languages": ["javascript"], "defaultBranch": "trunk"}],
        "workflows": {
            "gateRepository": "acme/platform-gate",
            "commands": {
                "npmTest": 'npm test -- --grep "not slow"',
                "deploy": "make deploy ENV=$TARGET_ENVIRONMENT",
            },
            "k6": {"script": "load/smoke.js", "headroom": 0.5},
            "timeoutMinutes": 45,
        },
    },
    # Organisation mode: the pull-request workflows as required workflows in a central repository.
    "organization": {
        "mergeGate": {"mode": "organization", "organization": {"centralRepository": "gate-workflows"}},
    },
    "aws-deploy-role": {
        "aws": {
            "accountId": "123456789012",
            "loadBalancer": {
                "loadBalancer": "app/aos-dev/0a1b2c3d4e5f6071",
                "targetGroup": "targetgroup/aos-dev/1a2b3c4d5e6f7081",
            },
        },
    },
}


def policy(**values: Any) -> GatePolicy:
    base: dict[str, Any] = {"environment": "dev", "repositories": [{"name": "aos"}]}
    return load_policy({**base, **values}, stack="dev", github_owner="acme")


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    gate_policy = policy(**VARIANTS[request.param])
    out = tmp_path_factory.mktemp(request.param)
    paths = []
    for relative, text in workflows_run_for(gate_policy, gate_policy.repositories[0]).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def documents(paths: list[Path]) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in paths}


def all_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


# -- real validators ---------------------------------------------------------------------------


def test_actionlint_finds_no_errors(rendered: list[Path]) -> None:
    assert run_actionlint(rendered) == []


def test_zizmor_finds_nothing_at_medium_or_above(rendered: list[Path]) -> None:
    assert run_zizmor(rendered, "medium") == []


# -- secure by default --------------------------------------------------------------------------

PINNED = re.compile(
    r"^\s+(?:- )?uses: (?:[\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+"
    r"|\./\.github/workflows/[\w.-]+  # zizmor: ignore\[self-repository\])$"
)


def test_every_action_is_pinned_to_a_commit_with_its_version(rendered: list[Path]) -> None:
    for path in rendered:
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert PINNED.match(line), f"{path.name}: {line}"


def test_least_privilege_permissions_and_timeouts(rendered: list[Path]) -> None:
    for name, document in documents(rendered).items():
        assert document["permissions"] == {}, name
        for job_id, job in document["jobs"].items():
            assert "permissions" in job, f"{name}:{job_id}"
            assert "write-all" not in str(job["permissions"])
            if "uses" not in job:  # reusable-workflow calls take the callee's timeouts
                assert job["timeout-minutes"] >= 1, f"{name}:{job_id}"


def test_checkouts_never_persist_credentials(rendered: list[Path]) -> None:
    for name, document in documents(rendered).items():
        checkouts = [s for s in all_steps(document) if str(s.get("uses", "")).startswith("actions/checkout@")]
        # Only organisation mode's review helper reads no code: it re-runs a workflow run by id.
        assert checkouts or name == RERUN_WORKFLOW, name
        assert all(s["with"]["persist-credentials"] is False for s in checkouts), name


def test_no_expression_is_interpolated_into_a_script(rendered: list[Path]) -> None:
    # Untrusted event data (titles, branch names) reaches scripts only through env:.
    for name, document in documents(rendered).items():
        for step in all_steps(document):
            assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"
            assert "${{" not in step.get("with", {}).get("script", ""), f"{name}: {step.get('name')}"


def test_pull_request_workflows_cancel_superseded_runs(rendered: list[Path]) -> None:
    for name, document in documents(rendered).items():
        if "pull_request" in document["on"]:
            # e2e-parity is also called after merge, where it must never be cut short.
            called = "workflow_call" in document["on"] or name.endswith(f"--{E2E_WORKFLOW}")
            expected = "${{ github.event_name == 'pull_request' }}" if called else True
            assert document["concurrency"]["cancel-in-progress"] == expected, name


# -- what the policy asks for ------------------------------------------------------------------


def test_jobs_are_named_after_the_required_checks() -> None:
    gate_policy = policy()
    repo = gate_policy.repositories[0]
    reported = {
        job["name"]
        for file, document in committed_workflows(gate_policy, repo).items()
        # they report no required check
        if file
        not in (
            "deploy.yml",
            MISMATCH_AUTOMATION,
            JANITOR_WORKFLOW,
            release_notes.PUBLISH_WORKFLOW,
            emergency.WORKFLOW_FILE,  # issue 12, part emergency: dispatched by hand
            DRILL,  # issue 12, part drill: scheduled
        )
        for job in document["jobs"].values()
    }
    assert reported == set(required_checks(gate_policy, repo))


def test_languages_decide_the_ci_jobs() -> None:
    gate_policy = policy(**VARIANTS["python-only-merge-queue"])
    ci = committed_workflows(gate_policy, gate_policy.repositories[0])["ci.yml"]
    assert sorted(job["name"] for job in ci["jobs"].values()) == ["static-checks-python", "unit-tests-python"]
    assert "merge_group" in ci["on"]


def test_determinism_workflow_runs_parity_canonical_json_and_root_hash() -> None:
    gate_policy = policy()
    document = committed_workflows(gate_policy, gate_policy.repositories[0])["determinism-check.yml"]
    scripts = {
        job["name"]: "\n".join(s.get("run", "") for s in job["steps"]) for job in document["jobs"].values()
    }
    parity = scripts["determinism-cross-language-parity"]
    assert "determinism.py produce" in parity and "determinism.mjs replay" in parity
    canonical_job = next(j for j in document["jobs"].values() if j["name"] == "determinism-canonical-json")
    canonicalise = {
        step["name"]: step["env"] for step in canonical_job["steps"] if "canonicalize" in step.get("run", "")
    }
    # The directories reach the command through env (an inline `VAR=x cmd "$VAR"` expands too early).
    assert canonicalise == {
        "Canonicalise the traces": {"IN_DIR": "build/traces", "OUT_DIR": "build/canonical-1"},
        "Canonicalise them again": {"IN_DIR": "build/traces", "OUT_DIR": "build/canonical-2"},
        "Canonicalise the golden fixtures": {"IN_DIR": "tests/golden", "OUT_DIR": "build/canonical-golden"},
    }
    canonical = scripts["determinism-canonical-json"]
    assert "determinism.py produce" in canonical
    assert "diff -r build/canonical-1 build/canonical-2" in canonical
    assert 'diff -r "$GOLDEN_DIR" build/canonical-1' in canonical
    assert '[ "$python_hash" != "$js_hash" ]' in scripts["determinism-root-hash"]
    assert '[ -z "$python_hash" ] || [ -z "$js_hash" ]' in scripts["determinism-root-hash"]


def test_e2e_parity_uses_a_disposable_stack_k6_smoke_and_always_tears_down() -> None:
    gate_policy = policy()
    document = committed_workflows(gate_policy, gate_policy.repositories[0])["e2e-parity-check.yml"]
    inputs = document["on"]["workflow_call"]["inputs"]
    assert inputs["run_k6"] == {
        "description": inputs["run_k6"]["description"],
        "type": "boolean",
        "default": False,
    }
    (job,) = document["jobs"].values()
    steps = {step["name"]: step for step in job["steps"]}
    assert "ephemeral up" in steps["Create the disposable staging environment"]["run"]
    # The disposable environment runs the pull request's own image, by digest.
    assert (
        steps["Create the disposable staging environment"]["env"]["IMAGE"] == "${{ steps.image.outputs.ref }}"
    )
    assert steps["Build and push the image"]["with"]["push"] is True
    assert [n for n in steps if n in ("Simulate", "Run", "Replay", "Diff (root hashes must match)")] == [
        "Simulate",
        "Run",
        "Replay",
        "Diff (root hashes must match)",
    ]
    assert "k6 run --vus 10 --duration 1m --summary-trend-stats" in steps["k6 smoke"]["run"]
    # run_k6: true on pull requests, the input's value (false by default) after merge.
    assert steps["k6 smoke"]["if"] == (
        "${{ steps.target.outputs.mode != 'fork' && (github.event_name == 'pull_request' || inputs.run_k6) }}"
    )
    assert "tools/k6_slo_mapper.py build/k6-summary.json" in steps["SLO suggestion"]["run"]
    assert '--markdown "$GITHUB_STEP_SUMMARY"' in steps["SLO suggestion"]["run"]
    teardown = steps["Tear down the disposable environment"]
    assert teardown["if"].startswith("${{ always() &&")
    assert "ephemeral down" in teardown["run"]


def test_security_scan_fails_on_critical_and_uploads_sarif() -> None:
    gate_policy = policy()
    document = committed_workflows(gate_policy, gate_policy.repositories[0])["security-scan.yml"]
    (job,) = document["jobs"].values()
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    verdicts = [s["with"] for s in job["steps"] if s["name"].startswith("Fail on CRITICAL")]
    # Both the image and the files/configuration scan can fail the check.
    assert [v.get("scan-type", "image") for v in verdicts] == ["image", "fs"]
    assert all(v["severity"] == "CRITICAL" and v["exit-code"] == "1" for v in verdicts)
    categories = {s["with"].get("category") for s in job["steps"] if "upload-sarif" in str(s.get("uses"))}
    assert categories == {"trivy-image", "trivy-fs"}


def test_infra_preview_always_reports_and_works_for_forks() -> None:
    gate_policy = policy()
    document = committed_workflows(gate_policy, gate_policy.repositories[0])["infra-preview.yml"]
    assert "paths" not in document["on"]["pull_request"]
    (job,) = document["jobs"].values()
    assert "if" not in job
    steps = {step["name"]: step for step in job["steps"]}
    assert "python -m gate diff" in steps["Offline plan and diff against the base"]["run"]
    assert "secrets." not in str(steps["Offline plan and diff against the base"])
    preview = steps["pulumi preview --diff (PR comment)"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert preview["with"]["comment-on-pr"] is True


def test_deploy_goes_stack_by_stack_through_the_gate_with_evidence_and_rollback() -> None:
    gate_policy = policy()
    jobs = committed_workflows(gate_policy, gate_policy.repositories[0])["deploy.yml"]["jobs"]
    stages = ("deploy", "parity", "validate", "evidence", "rollback")
    chain = [f"{kind}-{env}" for env in ENVIRONMENTS for kind in stages]
    # Issue 12 (gate/github/release_deploy.py): `release` right before production, the change log after it.
    chain.insert(chain.index("deploy-production"), "release")
    # Issue 12 (gate/promotion/evaluate.py, GATE-DP-18): `evaluate` between `release` and the production
    # deploy.
    chain.insert(chain.index("deploy-production"), "evaluate")
    chain.insert(chain.index("deploy-production"), "evaluation-notes")
    assert list(jobs) == ["build", *chain, "changelog"]
    # DP: no environment is skipped — each deploy waits for the previous environment's evidence.
    assert jobs["deploy-dev"]["needs"] == ["build"]
    assert jobs["deploy-staging"]["needs"] == ["build", "evidence-dev"]
    assert jobs["deploy-production"]["needs"] == ["build", "evidence-staging", "release", "evaluate"]
    assert jobs["build"]["outputs"] == {"image": "${{ steps.image.outputs.ref }}"}
    for env, stack in (("dev", "dev"), ("staging", "staging"), ("production", "prod")):
        # Production's reviewers approve once, in the deploy job; nothing after it waits for anyone.
        assert jobs[f"deploy-{env}"]["environment"] == {"name": env}
        for kind in ("validate", "evidence", "rollback"):
            assert jobs[f"{kind}-{env}"]["environment"] == {"name": f"{env}-rollback"}
        steps = {step["name"]: step for step in jobs[f"deploy-{env}"]["steps"]}
        deploy = steps["Deploy through the environment's stack"]
        # One image per commit, deployed everywhere by digest, through the environment's stack.
        assert deploy["run"].startswith("python -m gate deploy --stack")
        assert deploy["working-directory"] == ".delivery-gate"
        assert (
            deploy["env"]["STACK"] == stack and deploy["env"]["IMAGE"] == "${{ needs.build.outputs.image }}"
        )
        assert deploy["env"]["GITHUB_TOKEN"] == "${{ secrets.GATE_GITHUB_TOKEN }}"
        assert "scripts/" not in str(jobs[f"deploy-{env}"])  # the repository's scripts deploy nothing
        parity = jobs[f"parity-{env}"]
        assert parity["uses"] == "./.github/workflows/e2e-parity-check.yml"
        assert parity["with"] == {"run_k6": False, "target_environment": env}
        (record,) = [s for s in jobs[f"evidence-{env}"]["steps"] if "record-evidence" in s.get("run", "")]
        assert record["env"]["PARITY_ROOT_HASH"] == f"${{{{ needs.parity-{env}.outputs.parity_root_hash }}}}"
        assert record["env"]["ANALYSIS"] == f"${{{{ needs.validate-{env}.outputs.analysis }}}}"
        assert record["env"]["RUN_ID"] == "${{ github.run_id }}"
        assert jobs[f"evidence-{env}"]["permissions"]["actions"] == "read"
        rollback = jobs[f"rollback-{env}"]
        assert rollback["if"] == (
            f"${{{{ always() && needs.deploy-{env}.outputs.deploy_started == 'true' && "
            f"(needs.parity-{env}.result != 'success' || needs.validate-{env}.result != 'success' "
            f"|| needs.evidence-{env}.result != 'success') }}}}"
        )
        steps = {step["name"]: step for step in rollback["steps"]}
        assert "python -m gate rollback" in steps["Roll back to the last validated image"]["run"]
        assert "'parity-mismatch', 'high-priority'" in steps["Open a high-priority issue"]["with"]["script"]
        for name in ("Open a high-priority issue", "Notify #oncall", "Notify #platform"):
            assert steps[name]["if"] == "${{ always() }}"  # also when the rollback failed
        assert steps["Notify #oncall"]["with"]["errors"] is True


def test_no_job_after_the_approved_deploy_references_a_reviewer_environment() -> None:
    # DP: rollback is automatic. Whatever production's reviewers are, only its deploy job waits for
    # them; a rollback in `production` would wait for an approval in the middle of an incident.
    gate_policy = policy(
        environments=[
            {"name": "dev", "stack": "dev"},
            {"name": "staging", "stack": "staging", "promotesFrom": "dev", "reviewers": {"teams": ["qa"]}},
            {
                "name": "production",
                "stack": "prod",
                "promotesFrom": "staging",
                "reviewers": {"teams": ["release-managers"]},
                "waitTimerMinutes": 30,
            },
        ]
    )
    jobs = committed_workflows(gate_policy, gate_policy.repositories[0])["deploy.yml"]["jobs"]
    chain = {env.name for env in gate_policy.environments}
    with_environment = {
        job_id: job["environment"]["name"] for job_id, job in jobs.items() if "environment" in job
    }
    assert {job_id for job_id, name in with_environment.items() if name in chain} == {
        f"deploy-{env}" for env in chain
    }
    # Issue 12 (gate/promotion/evaluate.py): `evaluate` reads production's state before its deploy,
    # reviewer-free.
    named = {"evaluate": f"{gate_policy.environments[-1].name}-rollback"}
    assert all(
        name == named.get(job_id, f"{job_id.split('-', 1)[-1]}-rollback")
        for job_id, name in with_environment.items()
        if not job_id.startswith("deploy-")
    )


# -- liveness, enforced by the plan --------------------------------------------------------------

STACK_HEAD = "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
# The whole default catalogue (the non-negotiables keep every M9 check required) plus one check
# that no gate workflow reports.
LICENSE_SCAN = {
    "name": "license-scan",
    "category": "security-scan",
    "workflow": "license.yml",
    "tool": "fossa",
    "policy": "M9 5",
}
CUSTOM_CHECK = yaml.safe_dump(
    {
        "delivery-gate:checks": [
            *(c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in _default_checks()),
            LICENSE_SCAN,
        ]
    },
    sort_keys=False,
).replace("\n", "\n  ")
CUSTOM_CHECK = "  " + CUSTOM_CHECK.rstrip() + "\n"


def plan_exit(make_project: ProjectFactory, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    project = make_project({"dev": text})
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    return code, capsys.readouterr().err


def test_deploy_jobs_log_in_to_aws_only_through_the_environment_role() -> None:
    with_aws = yaml.safe_load(
        render_workflows(policy(**VARIANTS["aws-deploy-role"]), policy().repositories[0])[
            ".github/workflows/deploy.yml"
        ]
    )
    for name, job in with_aws["jobs"].items():
        if "uses" in job or name == "build":  # the parity check (reusable), the image build: no AWS
            continue
        # Issue 12: the repository and GitHub only, no AWS.
        if name in ("release", "changelog", "evaluation-notes"):
            assert "id-token" not in job["permissions"]
            continue
        logins = [step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", "")]
        assert len(logins) == 1, name
        # The role and region come from the job's GitHub environment, set by that environment's stack.
        # (`<env>` for the deploy, the reviewer-free `<env>-rollback` after it: both trusted by the role).
        # Issue 12 (gate/promotion/evaluate.py): `evaluate` reads production's stack, with production's role.
        environment = "production" if name == "evaluate" else name.split("-", 1)[1]
        assert job["environment"]["name"].removesuffix("-rollback") == environment
        assert logins[0]["with"] == {
            "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "aws-region": "${{ vars.AWS_REGION }}",
        }
        assert job["permissions"]["id-token"] == "write"
        gate = next(i for i, step in enumerate(job["steps"]) if "python -m gate" in step.get("run", ""))
        assert job["steps"].index(logins[0]) < gate  # before anything reaches the cluster or the state
    without = yaml.safe_load(
        render_workflows(policy(), policy().repositories[0])[".github/workflows/deploy.yml"]
    )
    for job in without["jobs"].values():
        assert "id-token" not in job.get("permissions", {})


def test_a_required_check_no_workflow_reports_fails_the_plan(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    text = STACK_HEAD + "  delivery-gate:repositories:\n    - name: aos\n" + CUSTOM_CHECK
    code, err = plan_exit(make_project, text, capsys)
    assert code == 3  # a rule violation (GATE-M9-03), gate/cli/exitcodes.py
    assert "Traceback" not in err
    assert "[GATE-M9-03] acme/aos: branch 'main' requires check 'license-scan'" in err
    assert "[GATE-M9-03] acme/aos: branch 'release/*' requires check 'license-scan'" in err
    assert "externalChecks" in err


def test_an_external_check_is_trusted(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    repos = "  delivery-gate:repositories:\n    - {name: aos, externalChecks: [license-scan]}\n"
    code, err = plan_exit(make_project, STACK_HEAD + repos + CUSTOM_CHECK, capsys)
    assert code == 0, err


def test_not_committing_workflows_needs_every_check_declared_external(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        STACK_HEAD
        + "  delivery-gate:repositories:\n    - name: aos\n  delivery-gate:workflows:\n    commit: false\n"
    )
    code, err = plan_exit(make_project, text, capsys)
    assert code == 3  # a rule violation (GATE-M9-03), gate/cli/exitcodes.py
    assert "requires check 'e2e-parity'" in err


# -- golden ------------------------------------------------------------------------------------


def test_golden_workflow_files_match_the_golden_plan() -> None:
    # tests/golden/files is what `make golden` extracts from the golden dev plan, for review.
    expected = {
        path: content
        for path, content in committed_files(load_plan(ROOT / "tests/golden/dev/plan.json")).items()
        if "/tools/" not in path
    }
    root = ROOT / "tests/golden/files"
    on_disk = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    assert on_disk == expected, "tests/golden/files is stale: run `make golden`"
