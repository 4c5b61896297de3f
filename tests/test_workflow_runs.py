"""The gate's workflows RUN against a sample gated repository, as GitHub would run them.

Linted is not working: each scenario renders the workflows from a policy, commits them with the
sample repository (tests/support/sample-repo), runs them with the execution harness
(tests/support/actions_runner.py: bash with the runner's flags, expressions, needs, reusable calls,
concurrency) and asserts the result of EVERY job, plus what reached the outside world through the
stubs (images pushed, deployments, issues, Slack). A required check that can never pass, or a call
GitHub would cancel, fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gate.github import release_contract, release_notes
from gate.github.release_contract import RELEASE_CHECK_PATH, release_check_source
from gate.github.schema_change import SCHEMA_CHECK_PATH, schema_check_source
from gate.github.workflows import K6_MAPPER_PATH, k6_mapper_source, render_workflows
from tests.conftest import ROOT
from tests.support import run_workflow
from tests.support.actions_runner import Event, Harness, WorkflowRun
from tests.support.release_fixture import approve_production, contract_path, contract_text
from tests.support.sample_world import (
    FAKE_GATE,
    MUTATIONS,
    STACKS,
    STUBS,
    World,
    app_server,
    commit_change,
    make_sample_repo,
    make_world,
)
from tests.test_workflows import VARIANTS, policy

OWNER, NAME, REPOSITORY = "acme", "aos", "acme/aos"
PR = 7
ENVIRONMENTS = ("dev", "staging", "production")
SECRETS = {
    "PULUMI_BACKEND_URL": "s3://state-bucket",
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-for-tests",
    "SLACK_BOT_TOKEN": "xoxb-test-token",
    "GITHUB_TOKEN": "ghs_test_token",
    "GATE_TEAM_READER_TOKEN": "ghp_team_reader_for_tests",
    "GATE_GITHUB_TOKEN": "ghp_environment_stack_token",
}
ROLE = "arn:aws:iam::123456789012:role/delivery-gate-deploy"
# The pull-request role and its cluster: repository variables the dev stack sets (gate/aws/foundation.py
# e2e_variables); the e2e check and the janitor reach the cluster with it, no stored kubeconfig.
E2E_ROLE = "arn:aws:iam::123456789012:role/delivery-gate-e2e-aos"
E2E_VARS = {"AWS_E2E_ROLE_ARN": E2E_ROLE, "AWS_E2E_REGION": "eu-west-1", "AWS_E2E_EKS_CLUSTER": "aos-dev"}
# The shipped configuration's way to the cluster (delivery-gate:aws): what pull requests run with.
AWS = VARIANTS["aws-deploy-role"]
PR_STACK, PR_NAMESPACE = f"pr-aos-{PR}", f"aos-pr-{PR}"
BUILD_ROLE = "arn:aws:iam::123456789012:role/delivery-gate-build"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
OLD_IMAGE = "ghcr.io/acme/aos@sha256:" + "0" * 63 + "1"
GONE_IMAGE = "ghcr.io/acme/aos@sha256:" + "0" * 63 + "2"  # running, but no longer in the registry
PR_WORKFLOWS = (
    "ci.yml",
    "determinism-check.yml",
    "e2e-parity-check.yml",
    "infra-preview.yml",
    "release-contract.yml",
    "release-notes.yml",
    "schema-change.yml",
    "security-scan.yml",
)
ALL_CHECKS_PASS = {
    "unit-tests-python": "success",
    "static-checks-python": "success",
    "unit-tests-javascript": "success",
    "static-checks-javascript": "success",
    "determinism-cross-language-parity": "success",
    "determinism-canonical-json": "success",
    "determinism-root-hash": "success",
    "e2e-parity": "success",
    "security-scan": "success",
    "infra-plan": "success",
    "schema-change": "success",
    "release-contract": "success",
    "release-notes": "success",
}


def gate_checkout(tmp_path: Path) -> Path:
    """This project as a workflow's checkout of acme/delivery-gate sees it (the real `gate` CLI),
    for the jobs that run it offline (infra-plan); its requirements are already in the venv."""
    checkout = tmp_path / "delivery-gate"
    checkout.mkdir()
    for name in ("__main__.py", "Pulumi.yaml"):
        (checkout / name).symlink_to(ROOT / name)
    (checkout / "requirements.txt").write_text("# installed in the test venv\n")
    return checkout


@dataclass
class Gated:
    """A sample repository under the gate, the world its workflows reach, and a harness to run them."""

    tmp: Path
    repo: Path
    base: str
    head: str
    world: World
    policy_values: dict[str, Any] = field(default_factory=dict)
    real_gate: bool = False
    env: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)  # the GitHub environments' variables
    _harness: Harness | None = None

    def harness(self) -> Harness:
        """One harness for the scenario (its runs number their work directories)."""
        if self._harness is None:
            # The real `gate` for jobs that run it offline (infra-plan); else the recording fake.
            gate = gate_checkout(self.tmp) if self.real_gate else FAKE_GATE
            self._harness = Harness(
                repository=REPOSITORY,
                workflows=self.repo / ".github" / "workflows",
                checkouts={REPOSITORY: self.repo, f"{OWNER}/delivery-gate": gate},
                world=self.world.root,
                bin_dirs=[STUBS],
                secrets=SECRETS,
                vars=self.vars,
                # GATE_HARNESS_PROJECT: the fake gate runs this project's pure commands (changelog record).
                env={"GATE_HARNESS_PYTHON": sys.executable, "GATE_HARNESS_PROJECT": str(ROOT), **self.env},
                work=self.tmp / "runner",
            )
        return self._harness

    def run(self, workflow: str, event: Event) -> WorkflowRun:
        return self.harness().run(workflow, event)

    def change(self, changes: Mapping[str, str | None], message: str = "change") -> None:
        self.head = commit_change(self.repo, changes, message)


def rendered_files(**values: Any) -> dict[str, str]:
    gate_policy = policy(**values)
    files = render_workflows(gate_policy, gate_policy.repositories[0])
    return {
        **files,
        K6_MAPPER_PATH: k6_mapper_source(),
        SCHEMA_CHECK_PATH: schema_check_source(),
        # Issue 12 (notes): what gate/github/repository.py commits beside the workflows.
        RELEASE_CHECK_PATH: release_check_source(),
        release_contract.template_path(gate_policy): release_contract.render_template(gate_policy),
        release_notes.RELEASE_CONFIG_PATH: release_notes.render_release_config(gate_policy),
    }


# A short smoke run: the policy's 1m is for real environments; the k6 binary and thresholds are real.
FAST_K6 = {"workflows": {"k6": {"vus": 2, "duration": "2s"}}}


def make_gated(tmp_path: Path, **values: Any) -> Gated:
    values = {**FAST_K6, **values}
    repo, base, head = make_sample_repo(
        tmp_path / NAME, owner=OWNER, name=NAME, files=rendered_files(**values)
    )
    return Gated(tmp_path, repo, base, head, make_world(tmp_path), values, vars=dict(E2E_VARS))


@pytest.fixture
def pr_gated(tmp_path: Path) -> Gated:
    """A repository whose pull requests reach the cluster through the pull-request role (aws)."""
    return make_gated(tmp_path, **AWS)


# A pull request's release-notes category (DP §Release Notes): every pull request needs one.
DEFAULT_LABELS = ("fix",)


def pull_request(
    gated: Gated,
    *,
    fork: bool = False,
    labels: tuple[str, ...] = DEFAULT_LABELS,
    body: str = "A change.",
    base_ref: str = "main",
) -> Event:
    head_repo = "someone/aos" if fork else REPOSITORY
    payload = {
        "pull_request": {
            "number": PR,
            "head": {"sha": gated.head, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"sha": gated.base, "ref": base_ref, "repo": {"full_name": REPOSITORY}},
            "labels": [{"name": label} for label in labels],
            "body": body,
        },
        "repository": {"full_name": REPOSITORY},
    }
    return Event("pull_request", ref=f"refs/pull/{PR}/merge", sha=gated.head, payload=payload)


def merge_group(gated: Gated) -> Event:
    head_ref = f"refs/heads/gh-readonly-queue/main/pr-{PR}-{gated.base}"
    payload = {"merge_group": {"head_ref": head_ref, "head_sha": gated.head, "base_sha": gated.base}}
    return Event("merge_group", ref=head_ref, sha=gated.head, payload=payload)


RELEASE = "1.4.0"


def push(gated: Gated, *, release: str | None = RELEASE) -> Event:
    """A push to main; by default its commit adds the release contract of `release`, so it is a
    release and reaches production (issue 12: gate/github/release_deploy.py)."""
    if release is not None:
        gated.change({contract_path(release): contract_text(release)}, f"release {release}")
    return Event("push", ref="refs/heads/main", sha=gated.head, payload={"ref": "refs/heads/main"})


def results(run: WorkflowRun) -> dict[str, str]:
    return {job.name: job.result for job in run.jobs.values()}


def log(run: WorkflowRun, job: str) -> str:
    return "".join(step.log for step in run.job(job).steps)


def run_pull_request(
    gated: Gated, workflows: tuple[str, ...] = PR_WORKFLOWS, **kwargs: Any
) -> dict[str, str]:
    combined: dict[str, str] = {}
    for workflow in workflows:
        combined.update(results(gated.run(workflow, pull_request(gated, **kwargs))))
    return combined


# -- pull requests ---------------------------------------------------------------------------------


def test_a_pull_request_where_everything_passes(pr_gated: Gated, app_url: str) -> None:
    gated = pr_gated
    gated.world.set_default_url(app_url)
    gated.change({"app/notes.md": "A harmless change.\n"})
    runs = {workflow: gated.run(workflow, pull_request(gated)) for workflow in PR_WORKFLOWS}
    assert {name: result for run in runs.values() for name, result in results(run).items()} == ALL_CHECKS_PASS
    # The disposable environment ran this pull request's own image, pushed once, by digest.
    (up,) = [c for c in gated.world.calls("gate") if c["argv"][:2] == ["ephemeral", "up"]]
    image = up["argv"][up["argv"].index("--image") + 1]
    assert (
        image.startswith("ghcr.io/acme/aos@sha256:") and image.split("@")[1] in gated.world.pushed_digests()
    )
    assert gated.world.logins() == ["ghcr.io"]
    # Torn down, and the SLO suggestion written with a real p99 (k6 exported it).
    assert any(c["argv"][:2] == ["ephemeral", "down"] for c in gated.world.calls("gate"))
    assert runs["e2e-parity-check.yml"].job("e2e-parity").step("target").outputs["environment"] == PR_STACK
    assert gated.world.namespaces() == []
    suggestion = json.loads(
        (gated.world.root / "artifacts" / "slo-suggestion" / "slo-suggestion.json").read_text()
    )
    assert suggestion["observed"]["p99_ms"] is not None and suggestion["failed_thresholds"] == []
    # Nothing changed under infra/: the job reported without planning.
    assert runs["infra-preview.yml"].job("infra-plan").step("changes").outputs == {"infra": "false"}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_determinism_check_fails_for_its_own_reason(gated: Gated, mutation: str) -> None:
    broken = MUTATIONS[mutation]
    gated.change(dict(broken.changes()), mutation)
    run = gated.run("determinism-check.yml", pull_request(gated))
    expected = dict.fromkeys(results(run), "success")
    if broken.breaks is not None:
        expected[broken.breaks] = "failure"
    assert results(run) == expected
    if broken.breaks is not None:
        failed = [step.name for step in run.job(broken.breaks).steps if step.outcome == "failure"]
        assert failed == [FAILING_STEP[broken.breaks]]


# The step of each determinism check that catches its breakage.
FAILING_STEP = {
    "determinism-cross-language-parity": "Replay traces (JS)",
    "determinism-canonical-json": "Compare: stable, canonical, equal to the golden fixtures",
    "determinism-root-hash": "Compare root_hash across runtimes",
}


CI_BREAKS = {
    "unit-tests-python": {"tests/check_broken.py": "def test_it():\n    assert 1 == 2\n"},
    "static-checks-python": {"app/long.py": "X = '" + "x" * 90 + "'\n"},
    "unit-tests-javascript": {
        "js/broken.test.mjs": "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
        "test('broken', () => assert.equal(1, 2));\n"
    },
    "static-checks-javascript": {"js/syntax.mjs": "export const x = ;\n"},
}


@pytest.mark.parametrize("check", sorted(CI_BREAKS))
def test_each_ci_check_fails_for_its_own_reason(gated: Gated, check: str) -> None:
    gated.change(CI_BREAKS[check], f"break {check}")
    run = gated.run("ci.yml", pull_request(gated))
    expected = dict.fromkeys(results(run), "success") | {check: "failure"}
    assert results(run) == expected


def test_the_e2e_job_reaches_the_cluster_through_the_pull_request_role(pr_gated: Gated, app_url: str) -> None:
    gated = pr_gated
    gated.world.set_default_url(app_url)
    # The pull request's own code says whether it can see AWS credentials.
    script = (gated.repo / "scripts" / "e2e.py").read_text()
    main = "def main(argv: list[str] | None = None) -> int:\n"
    spy = (
        "    import os\n"
        "    print('AWS credentials visible:', sorted(k for k in os.environ if k.startswith('AWS_')))\n"
    )
    gated.change({"scripts/e2e.py": script.replace(main, main + spy)}, "look for credentials")
    run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "success"}, log(run, "e2e-parity")
    # OIDC to the repository's pull-request role, nothing stored: the fake refuses a job without
    # id-token: write, and the role's credentials are step outputs, not the job's environment.
    (login,) = gated.world.calls("uses:aws-actions/configure-aws-credentials")
    assert (login["job"], login["with"]["role-to-assume"]) == ("e2e-parity", E2E_ROLE)
    assert login["with"]["output-env-credentials"] == "false"
    calls = [c for c in gated.world.calls() if c["tool"] in ("aws", "gate")]
    assert [(c["tool"], c["argv"][:2]) for c in calls] == [
        ("aws", ["eks", "update-kubeconfig"]),
        ("gate", ["ephemeral", "up"]),
        ("gate", ["ephemeral", "down"]),
    ]
    kubeconfig = calls[0]["argv"][calls[0]["argv"].index("--kubeconfig") + 1]
    assert calls[0]["argv"][:4] == ["eks", "update-kubeconfig", "--name", "aos-dev"]
    assert calls[0]["role"] == E2E_ROLE and kubeconfig.endswith("/delivery-gate-kubeconfig")
    up = calls[1]["argv"]
    assert up[up.index("--repository") + 1] == REPOSITORY and up[up.index("--pr") + 1] == str(PR)
    # The pull request's own scripts never held the role's credentials.
    job = run.job("e2e-parity")
    for step in ("Simulate", "Run", "Replay"):
        assert "AWS credentials visible: []" in job.step(step).log, job.step(step).log


def test_without_the_pull_request_role_the_check_fails_clearly(pr_gated: Gated) -> None:
    gated = pr_gated
    gated.vars = {}  # the dev stack sets no AWS_E2E_* (its aws has no eksClusterName)
    run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "failure"}
    job = run.job("e2e-parity")
    step = job.step("Check the pull-request role is configured")
    assert step.outcome == "failure"
    assert (
        "::error::no cluster credentials for the disposable environments: repository variable(s) "
        "AWS_E2E_ROLE_ARN AWS_E2E_REGION AWS_E2E_EKS_CLUSTER not set"
    ) in step.log
    assert gated.world.calls("docker") == [] and gated.world.calls("aws") == []


def test_with_no_credentials_mechanism_the_check_fails_before_building_anything(gated: Gated) -> None:
    # No delivery-gate:aws and no workflows.clusterCredentials: never a stored kubeconfig instead.
    run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "failure"}
    job = run.job("e2e-parity")
    assert job.step("No cluster credentials").outcome == "failure"
    assert "::error::the disposable environment needs credentials for its cluster" in log(run, "e2e-parity")
    assert gated.world.calls("docker") == [] and gated.world.pushed_digests() == set()
    assert gated.world.calls("gate") == []  # nothing created, so nothing to tear down
    assert job.step("Tear down the disposable environment").outcome == "skipped"


def test_a_self_hosted_runner_in_the_cluster_uses_its_own_identity(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(tmp_path, workflows={"runner": "self-hosted", "clusterCredentials": "runner"})
    gated.world.set_default_url(app_url)
    run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "success"}, log(run, "e2e-parity")
    assert (
        gated.world.calls("aws") == []
        and gated.world.calls("uses:aws-actions/configure-aws-credentials") == []
    )


def test_an_e2e_diff_fails_the_check_and_the_environment_is_still_torn_down(pr_gated: Gated) -> None:
    gated = pr_gated
    with app_server(mode="mismatch") as url:
        gated.world.set_default_url(url)
        run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "failure"}
    job = run.job("e2e-parity")
    assert job.step("Diff (root hashes must match)").outcome == "failure"
    assert job.step("Tear down the disposable environment").outcome == "success"
    assert not (gated.world.root / "cluster" / PR_NAMESPACE).exists()


def test_a_k6_breach_fails_the_check_after_writing_the_suggestion(tmp_path: Path) -> None:
    gated = make_gated(tmp_path, **AWS)
    gated.env = {"P95_MS": "100"}  # the sample's smoke.js threshold; the slow server answers in ~300 ms
    with app_server(mode="slow") as url:
        gated.world.set_default_url(url)
        run = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(run) == {"e2e-parity": "failure"}
    job = run.job("e2e-parity")
    assert job.step("k6 smoke").outputs == {"exit_code": "99"}
    assert job.step("SLO suggestion").outcome == "success"
    assert job.step("Upload the SLO suggestion").outcome == "success"
    assert job.step("k6 thresholds").outcome == "failure"
    suggestion = json.loads(
        (gated.world.root / "artifacts" / "slo-suggestion" / "slo-suggestion.json").read_text()
    )
    assert {"metric": "http_req_duration", "threshold": "p(95)<100"} in suggestion["failed_thresholds"]
    assert "- `http_req_duration`: `p(95)<100`" in run.summary  # the job summary says why


@pytest.mark.parametrize(
    ("where", "verdict"), [("image", "in the image"), ("fs", "in files and configuration")]
)
def test_a_critical_finding_fails_the_security_scan(gated: Gated, where: str, verdict: str) -> None:
    gated.world.set_findings(**{where: ["CRITICAL", "HIGH"]})
    run = gated.run("security-scan.yml", pull_request(gated))
    assert results(run) == {"security-scan": "failure"}
    job = run.job("security-scan")
    assert job.step(f"Fail on CRITICAL findings {verdict}").outcome == "failure"
    # The verdicts ask trivy for CRITICAL only, exit code 1, on the image and on the files.
    verdicts = [
        (call["argv"], call["env"]["TRIVY_SEVERITY"], call["env"]["TRIVY_EXIT_CODE"])
        for call in gated.world.calls("trivy")
        if "TRIVY_EXIT_CODE" in call.get("env", {})
    ]
    assert verdicts == [
        (["image", f"aos:{gated.head}"], "CRITICAL", "1"),
        (["fs", "."], "CRITICAL", "1"),
    ]
    # Both verdicts ran and the findings were uploaded either way.
    other = "in files and configuration" if where == "image" else "in the image"
    assert job.step(f"Fail on CRITICAL findings {other}").outcome == "success"
    assert job.step("Upload image findings").outcome == "success"


def test_a_high_finding_alone_does_not_fail_the_scan(gated: Gated) -> None:
    gated.world.set_findings(image=["HIGH"], fs=["HIGH"])
    assert results(gated.run("security-scan.yml", pull_request(gated))) == {"security-scan": "success"}


# -- forks and the merge queue ---------------------------------------------------------------------


def test_a_fork_pull_request_without_a_merge_queue_fails_e2e_clearly_and_gets_no_secrets(
    pr_gated: Gated,
) -> None:
    gated = pr_gated
    gated.change({"app/notes.md": "From a fork.\n"})
    outcome = run_pull_request(gated, fork=True)
    assert outcome == ALL_CHECKS_PASS | {"e2e-parity": "failure"}
    run = gated.run("e2e-parity-check.yml", pull_request(gated, fork=True))
    assert "::error::pull request from a fork" in log(run, "e2e-parity")
    assert "mergeQueue: true" in log(run, "e2e-parity")
    # No environment, no push, no login, no cluster credentials, no code-scanning upload with a
    # read-only token.
    assert gated.world.calls("gate") == [] and gated.world.logins() == []
    assert gated.world.calls("uses:aws-actions/configure-aws-credentials") == []
    scan = gated.run("security-scan.yml", pull_request(gated, fork=True)).job("security-scan")
    assert scan.step("Upload image findings").outcome == "skipped"


def test_with_a_merge_queue_a_fork_is_checked_on_the_merged_code_with_secrets(
    tmp_path: Path, app_url: str
) -> None:
    gated = make_gated(tmp_path, **AWS, repositories=[{"name": NAME, "mergeQueue": True}])
    gated.world.set_default_url(app_url)
    gated.change({"app/notes.md": "From a fork.\n"})
    on_the_pr = gated.run("e2e-parity-check.yml", pull_request(gated, fork=True))
    assert results(on_the_pr) == {"e2e-parity": "success"}
    assert "runs in the merge queue" in log(on_the_pr, "e2e-parity")
    assert gated.world.calls("gate") == []
    assert gated.world.calls("uses:aws-actions/configure-aws-credentials") == []  # a fork: no token
    # The queue runs the real check, in this repository, for pr-aos-<N> taken from the queue branch.
    in_the_queue = gated.run("e2e-parity-check.yml", merge_group(gated))
    assert results(in_the_queue) == {"e2e-parity": "success"}
    ups = [c["argv"] for c in gated.world.calls("gate") if c["argv"][:2] == ["ephemeral", "up"]]
    assert len(ups) == 1 and ups[0][ups[0].index("--pr") + 1] == str(PR)
    assert [
        c["with"]["role-to-assume"] for c in gated.world.calls("uses:aws-actions/configure-aws-credentials")
    ] == [E2E_ROLE]


# -- the janitor -----------------------------------------------------------------------------------


def schedule(gated: Gated) -> Event:
    return Event("schedule", ref="refs/heads/main", sha=gated.head, payload={"schedule": "17 * * * *"})


def test_the_janitor_reaps_this_repositorys_expired_environments_every_hour(pr_gated: Gated) -> None:
    gated = pr_gated
    for namespace in ("aos-pr-1", "aos-pr-2", "web-pr-3"):
        (gated.world.root / "cluster" / namespace).mkdir(parents=True)
    gated.world.expire("aos-pr-1")
    gated.world.expire("web-pr-3")  # another repository's: its own janitor reaps it
    run = gated.run("ephemeral-janitor.yml", schedule(gated))
    assert results(run) == {"ephemeral-janitor": "success"}, log(run, "reap")
    (reap,) = gated.world.calls("gate")
    assert reap["argv"] == ["ephemeral", "reap", "--repository", REPOSITORY]
    assert reap["cwd"].endswith(".delivery-gate")
    assert gated.world.namespaces() == ["aos-pr-2", "web-pr-3"]
    # The same pull-request role and kubeconfig as the e2e check, before the reap.
    (login,) = gated.world.calls("uses:aws-actions/configure-aws-credentials")
    assert (login["job"], login["with"]["role-to-assume"]) == ("reap", E2E_ROLE)
    assert [c["tool"] for c in gated.world.calls() if c["tool"] in ("aws", "gate")] == ["aws", "gate"]
    assert run.concurrency_group == f"ephemeral-janitor-{REPOSITORY}"


def test_a_janitor_that_cannot_reap_fails_visibly(pr_gated: Gated) -> None:
    gated = pr_gated
    gated.world.fault("gate")
    run = gated.run("ephemeral-janitor.yml", schedule(gated))
    assert results(run) == {"ephemeral-janitor": "failure"}
    step = run.job("reap").step("Reap the expired disposable environments")
    assert step.outcome == "failure" and "fake gate: failed (fault injected)" in step.log


def test_the_janitor_runs_from_the_default_branch_only(pr_gated: Gated) -> None:
    gated = pr_gated
    event = Event("workflow_dispatch", ref="refs/heads/feature", sha=gated.head)
    assert results(gated.run("ephemeral-janitor.yml", event)) == {"ephemeral-janitor": "skipped"}
    assert gated.world.calls("gate") == []
    dispatched = Event("workflow_dispatch", ref="refs/heads/main", sha=gated.head)
    assert results(gated.run("ephemeral-janitor.yml", dispatched)) == {"ephemeral-janitor": "success"}


# -- workflow_dispatch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "",
            "::error::target_environment is required for workflow_dispatch; "
            "allowed: dev, staging, production",
        ),
        ("prod", "::error::unknown target_environment 'prod'; allowed: dev, staging, production"),
    ],
)
def test_a_dispatch_without_a_valid_target_fails_in_the_first_step(
    gated: Gated, target: str, message: str
) -> None:
    event = Event(
        "workflow_dispatch", ref="refs/heads/main", sha=gated.head, inputs={"target_environment": target}
    )
    run = gated.run("e2e-parity-check.yml", event)
    job = run.job("e2e-parity")
    assert job.result == "failure"
    assert job.steps[0].outcome == "failure" and message in job.steps[0].log
    assert all(step.outcome == "skipped" for step in job.steps[1:])


def test_a_dispatch_checks_a_deployed_environment(gated: Gated, app_url: str) -> None:
    gated.world.set_url("staging", app_url)
    event = Event(
        "workflow_dispatch", ref="refs/heads/main", sha=gated.head, inputs={"target_environment": "staging"}
    )
    run = gated.run("e2e-parity-check.yml", event)
    assert results(run) == {"e2e-parity": "success"}
    assert gated.world.calls("gate") == []  # no disposable environment for a deployed one


def test_a_deployed_check_whose_diff_prints_no_root_hash_fails_saying_why(
    tmp_path: Path, app_url: str
) -> None:
    # The root hash is the environment's parity evidence: a diff that passes silently cannot give it.
    # (With aws: the pull request below reaches its disposable environment through the PR role.)
    gated = make_gated(tmp_path, **AWS)
    e2e = gated.repo / ".github" / "workflows" / "e2e-parity-check.yml"
    command = "python scripts/e2e.py diff build/e2e"
    assert e2e.read_text().count(f'out="$({command})"') == 1
    e2e.write_text(e2e.read_text().replace(f'out="$({command})"', f'out="$({command} > /dev/null)"'))
    gated.world.set_url("staging", app_url)
    event = Event(
        "workflow_dispatch", ref="refs/heads/main", sha=gated.head, inputs={"target_environment": "staging"}
    )
    diff = gated.run("e2e-parity-check.yml", event).job("e2e-parity").step("diff")
    assert diff.outcome == "failure"
    assert "::error::the e2e diff passed but printed no root hash as its last word" in diff.log
    # A pull request records no evidence: the check passes there, with no root hash to report.
    gated.world.set_default_url(app_url)
    on_the_pr = gated.run("e2e-parity-check.yml", pull_request(gated))
    assert results(on_the_pr) == {"e2e-parity": "success"}
    assert on_the_pr.job("e2e-parity").outputs == {"root_hash": ""}


# -- infra-plan ----------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@e"
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_infra_plan_plans_a_changed_standard_pulumi_project_with_the_real_gate(tmp_path: Path) -> None:
    gated = make_gated(tmp_path)
    gated.real_gate = True
    gated.change({"infra/Pulumi.dev.yaml": "config:\n  aos-infra:replicas: 2\n"}, "two replicas")
    run = gated.run("infra-preview.yml", pull_request(gated))
    assert results(run) == {"infra-plan": "success"}, log(run, "infra-plan")
    job = run.job("infra-plan")
    assert job.step("changes").outputs == {"infra": "true"}
    assert "Offline plan diff (dev)" in run.summary
    assert job.step("pulumi preview --diff (PR comment)").outcome == "success"
    assert [c["argv"][:1] for c in gated.world.calls("pulumi")] == [["preview"]]


def test_infra_plan_passes_on_the_pull_request_that_introduces_infra(tmp_path: Path) -> None:
    gated = make_gated(tmp_path)
    gated.real_gate = True
    infra = {
        p.relative_to(gated.repo).as_posix(): p.read_text()
        for p in (gated.repo / "infra").rglob("*")
        if p.is_file()
    }
    _git(gated.repo, "rm", "-rq", "infra")
    _git(gated.repo, "commit", "-qm", "no infrastructure yet")
    gated.base = _git(gated.repo, "rev-parse", "HEAD")
    gated.change(infra, "introduce infra/")
    run = gated.run("infra-preview.yml", pull_request(gated))
    assert results(run) == {"infra-plan": "success"}, log(run, "infra-plan")
    assert "new infrastructure project infra" in run.summary


# -- deploy.yml: dev → staging → production through the stacks, evidence, rollback ---------------


def deployed(gated: Gated, urls: Mapping[str, str], *, previous: bool = True, gone: str = "") -> None:
    """Each environment reachable at its URL, running OLD_IMAGE, its stack's last validated release
    (unless a first deploy: nothing runs, nothing was validated); in `gone` that release is
    GONE_IMAGE, no longer in the registry, so rolling back to it fails."""
    for environment in ENVIRONMENTS:
        gated.world.set_url(environment, urls.get(environment, urls["default"]))
        approve_production(gated.world.root)  # production's reviewer approves (the run's approvals)
        if not previous:
            continue
        image = GONE_IMAGE if environment == gone else OLD_IMAGE
        gated.world.set_deployed(environment, image, pushed=environment != gone)
        gated.world.set_evidence(STACKS[environment], image)


STAGES = ("deploy", "parity", "validate", "evidence")
# Built once, deployed, parity-checked, validated and evidenced in every environment; no rollback.
# Issue 12: the release is resolved and announced before production, recorded after it.
DEPLOYED_EVERYWHERE = (
    {"build image": "success"}
    | {
        f"{job} {environment}": "skipped" if job == "rollback" else "success"
        for environment in ENVIRONMENTS
        for job in (*STAGES, "rollback")
    }
    | {"release": "success", "change log": "success"}
    # Issue 12, part evaluate: the Evaluation Criteria before the production deploy (GATE-DP-18).
    | {"evaluate": "success", "evaluation notes": "success"}
)


def gate_calls(gated: Gated) -> list[tuple[str, str]]:
    """(command, stack) of every release command of the gate, in order."""
    return [
        (call["argv"][0], call["argv"][call["argv"].index("--stack") + 1])
        for call in gated.world.calls("gate")
        if call["argv"][0] in ("deploy", "watch", "record-evidence", "rollback")
    ]


def option(call: Mapping[str, Any], name: str) -> str:
    argv: list[str] = call["argv"]
    return argv[argv.index(name) + 1]


def outcome_after(environment: str, **failed: str) -> dict[str, str]:
    """Every job's result when the chain stops in `environment` (its stages as given, else
    success, and a rollback) and nothing after it runs."""
    # Issue 12: the release job runs after staging's evidence, the change log after production's.
    expected = {
        "build image": "success",
        "release": "skipped",
        "change log": "skipped",
        "evaluate": "skipped",
        "evaluation notes": "skipped",
    }
    reached = True
    for env in ENVIRONMENTS:
        for job in (*STAGES, "rollback"):
            if not reached:
                expected[f"{job} {env}"] = "skipped"
            elif env != environment:
                expected[f"{job} {env}"] = "skipped" if job == "rollback" else "success"
            else:
                expected[f"{job} {env}"] = failed.get(job, "success")
        reached = reached and env != environment
    return expected


def test_a_deploy_passes_dev_staging_production_with_one_image_and_evidence_in_order(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE
    image = run.job("build").outputs["image"]
    assert image.startswith("ghcr.io/acme/aos@sha256:")
    assert {gated.world.deployed_image(e) for e in ENVIRONMENTS} == {image}
    builds = [c for c in gated.world.calls("docker") if c["argv"][:2] == ["buildx", "build"]]
    assert len(builds) == 1  # built once per commit
    assert f"ghcr.io/acme/aos:{gated.head}" in builds[0]["argv"] and "--push" in builds[0]["argv"]
    (scan,) = [c for c in gated.world.calls("trivy") if c["argv"][0] == "image"]
    assert scan["argv"] == ["image", image] and scan["env"]["TRIVY_SEVERITY"] == "CRITICAL"
    # One delivery path: each environment's stack deploys, watches and records, in chain order; no
    # environment deploys before the previous one's evidence is in its stack.
    assert gate_calls(gated) == [
        (command, STACKS[e]) for e in ENVIRONMENTS for command in ("deploy", "watch", "record-evidence")
    ]
    assert not [c for c in gated.world.calls("kubectl") if "set" in c["argv"]]  # no repository script
    deploys = [c for c in gated.world.calls("gate") if c["argv"][0] == "deploy"]
    assert {option(c, "--image") for c in deploys} == {image}
    assert all(c["cwd"].endswith(".delivery-gate") for c in deploys)
    for environment in ENVIRONMENTS:
        parity = run.job(f"parity-{environment}")
        root_hash = parity.outputs["parity_root_hash"]
        # The root hash the e2e diff printed, exposed by the reusable workflow's output.
        assert root_hash.startswith("sha256:") and len(root_hash) == 71
        diff = parity.called.job("e2e-parity").step("diff")  # type: ignore[union-attr]
        assert f"root hashes match: {root_hash}" in diff.log
        evidence = gated.world.evidence(STACKS[environment])
        assert evidence is not None
        assert evidence | {"windowStart": "", "windowEnd": ""} == {
            "image": image,
            "parityRootHash": root_hash,
            "analysis": "Successful",
            "windowStart": "",
            "windowEnd": "",
            "repository": REPOSITORY,
            "runId": run.run_id,
        }
        assert evidence["windowStart"] == run.job(f"validate-{environment}").outputs["window_start"]
        # Approval happens once, in the deploy job; what follows runs in the reviewer-free environment.
        assert run.job(f"deploy-{environment}").environment == environment
        for stage in ("validate", "evidence"):
            assert run.job(f"{stage}-{environment}").environment == f"{environment}-rollback"
    # Each parity call got its own concurrency group, none the caller's: no deadlock.
    groups = [run.job(f"parity-{e}").called.concurrency_group for e in ENVIRONMENTS]  # type: ignore[union-attr]
    assert groups == [f"e2e-parity-{e}" for e in ENVIRONMENTS]
    assert run.concurrency_group == "deploy-refs/heads/main"


def test_with_aws_each_gate_job_assumes_its_environments_role(tmp_path: Path, app_url: str) -> None:
    gated = make_gated(tmp_path, **VARIANTS["aws-deploy-role"])
    # Set by each environment stack on its GitHub environments (gate/github/repository.py).
    gated.vars = {
        "AWS_DEPLOY_ROLE_ARN": ROLE,
        "AWS_REGION": "eu-west-1",
        # Repository variables the registry stack sets (gate/aws/foundation.py build_variables).
        "AWS_BUILD_ROLE_ARN": BUILD_ROLE,
        "AWS_BUILD_REGION": "eu-west-1",
    }
    deployed(gated, {"default": app_url})
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == DEPLOYED_EVERYWHERE, log(run, "build")
    logins = gated.world.calls("uses:aws-actions/configure-aws-credentials")
    # Only the build job may push (the build role); each gate job gets its environment's role.
    gate_jobs = [f"{stage}-{e}" for e in ENVIRONMENTS for stage in ("deploy", "validate", "evidence")]
    # Issue 12 (gate/promotion/evaluate.py): `evaluate` reads production's stack before its deploy.
    gate_jobs.insert(gate_jobs.index("deploy-production"), "evaluate")
    assert [(c["job"], c["with"]["role-to-assume"]) for c in logins] == [
        ("build", BUILD_ROLE),
        *((job, ROLE) for job in gate_jobs),
    ]
    image = run.job("build").outputs["image"]
    assert image.startswith(f"{ECR}/aos@sha256:")
    assert gated.world.logins() == [ECR]
    assert {gated.world.deployed_image(e) for e in ENVIRONMENTS} == {image}


def test_parity_failing_in_staging_rolls_back_there_without_a_reviewer_and_stops_the_chain(
    gated: Gated, app_url: str
) -> None:
    with app_server(mode="mismatch") as wrong:
        deployed(gated, {"default": app_url, "staging": wrong})
        run = gated.run("deploy.yml", push(gated))
    assert results(run) == outcome_after(
        "staging", parity="failure", validate="skipped", evidence="skipped", rollback="success"
    )
    image = run.job("build").outputs["image"]
    rollback = run.job("rollback-staging")
    assert rollback.environment == "staging-rollback"  # no reviewers, no wait timer
    assert gate_calls(gated)[-2:] == [("deploy", "staging"), ("rollback", "staging")]
    (call,) = [c for c in gated.world.calls("gate") if c["argv"][0] == "rollback"]
    assert option(call, "--run-id") == run.run_id and option(call, "--repository") == REPOSITORY
    assert (
        option(call, "--reason") == f"deploy of {image}: parity failure, validation skipped, evidence skipped"
    )
    assert rollback.step("rollback").outputs == {"image": OLD_IMAGE}
    # Staging runs its last validated release again; dev keeps the new one; production never moved.
    assert gated.world.deployed_image("staging") == OLD_IMAGE
    assert gated.world.deployed_image("dev") == image
    assert gated.world.deployed_image("production") == OLD_IMAGE
    assert ("deploy", "prod") not in gate_calls(gated)
    assert gated.world.evidence("staging") == gated.world.evidence("prod")  # still the old release
    (issue,) = github_calls(gated, "issues.create")
    assert issue["args"]["labels"] == ["parity-mismatch", "high-priority"]
    assert f"Rolled back to `{OLD_IMAGE}`, the last validated image." in issue["args"]["body"]
    assert "parity failure, validation skipped, evidence skipped" in issue["args"]["title"]
    assert sorted(slack_channels(gated)) == ["#oncall", "#platform"]


def test_an_alert_firing_in_the_validation_window_rolls_back(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    gated.world.fire_alerts("dev", "ErrorRateIncrease")
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == outcome_after("dev", validate="failure", evidence="skipped", rollback="success")
    watch = run.job("validate-dev").step("watch")
    assert watch.outcome == "failure" and "ErrorRateIncrease" in watch.log
    assert gated.world.deployed_image("dev") == OLD_IMAGE
    assert ("record-evidence", "dev") not in gate_calls(gated)
    assert gated.world.evidence("dev")["image"] == OLD_IMAGE  # type: ignore[index]
    (issue,) = github_calls(gated, "issues.create")
    assert issue["args"]["labels"] == ["high-priority"]  # parity passed: no parity mismatch
    assert "validation failure, evidence skipped" in issue["args"]["title"]
    assert all("validation failure" in text for text in slack_texts(gated))


def test_refused_evidence_rolls_back_and_the_next_environment_is_not_deployed(
    gated: Gated, app_url: str
) -> None:
    deployed(gated, {"default": app_url})
    gated.world.fault("gate-record-evidence-dev")
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == outcome_after("dev", evidence="failure", rollback="success")
    assert gate_calls(gated) == [
        ("deploy", "dev"),
        ("watch", "dev"),
        ("record-evidence", "dev"),
        ("rollback", "dev"),
    ]
    assert gated.world.deployed_image("dev") == OLD_IMAGE
    assert gated.world.deployed_image("staging") == OLD_IMAGE
    assert len(github_calls(gated, "issues.create")) == 1


def test_a_failed_rollback_still_opens_the_issue_and_notifies(gated: Gated, app_url: str) -> None:
    with app_server(mode="mismatch") as wrong:
        deployed(gated, {"default": app_url, "dev": wrong}, gone="dev")
        run = gated.run("deploy.yml", push(gated))
    assert results(run)["rollback dev"] == "failure"
    step = run.job("rollback-dev").step("rollback")
    assert step.outcome == "failure" and f"{GONE_IMAGE} was never pushed" in step.log
    assert "::error::the rollback of dev failed" in step.log
    (issue,) = github_calls(gated, "issues.create")
    assert "ROLLBACK FAILED (failure)" in issue["args"]["body"]
    assert sorted(slack_channels(gated)) == ["#oncall", "#platform"]
    assert all("rollback to" in text and "failure" in text for text in slack_texts(gated))


def test_a_first_deploy_has_nothing_to_roll_back_to_and_says_so(gated: Gated, app_url: str) -> None:
    with app_server(mode="mismatch") as wrong:
        deployed(gated, {"default": app_url, "dev": wrong}, previous=False)
        run = gated.run("deploy.yml", push(gated))
    deploy = run.job("deploy-dev")
    assert deploy.result == "success" and deploy.outputs["previous_image"] == ""
    rollback = run.job("rollback-dev")
    assert rollback.result == "failure"
    log_text = rollback.step("rollback").log
    assert "nothing to roll back to: dev has no validated image (a first deploy)" in log_text
    assert "::error::the rollback of dev failed" in log_text
    (issue,) = github_calls(gated, "issues.create")
    assert "ROLLBACK FAILED (failure)" in issue["args"]["body"] and len(slack_channels(gated)) == 2


def test_a_deploy_that_fails_is_rolled_back_without_waiting_for_parity(gated: Gated, app_url: str) -> None:
    deployed(gated, {"default": app_url})
    gated.world.fault("gate-deploy-staging")
    run = gated.run("deploy.yml", push(gated))
    assert results(run) == outcome_after(
        "staging",
        deploy="failure",
        parity="skipped",
        validate="skipped",
        evidence="skipped",
        rollback="success",
    )
    # The stack may have changed half-way: it is set back to its last validated release.
    assert gate_calls(gated)[-2:] == [("deploy", "staging"), ("rollback", "staging")]
    assert gated.world.deployed_image("staging") == OLD_IMAGE
    assert len(github_calls(gated, "issues.create")) == 1


def test_a_slack_failure_is_not_silent(gated: Gated, app_url: str) -> None:
    with app_server(mode="mismatch") as wrong:
        deployed(gated, {"default": app_url, "dev": wrong})
        gated.world.fault("slack")
        run = gated.run("deploy.yml", push(gated))
    rollback = run.job("rollback-dev")
    assert rollback.step("rollback").outcome == "success"
    assert rollback.step("Notify #oncall").outcome == "failure"
    assert rollback.step("Notify #platform").outcome == "failure"  # tried even after the first failed
    assert rollback.result == "failure"


def test_the_deadlock_the_gate_shipped_cancels_parity_and_the_rollback_still_runs(
    gated: Gated, app_url: str
) -> None:
    # e2e-parity's concurrency group as rendered before GATE-M9-04: inside the call from deploy.yml,
    # `github.workflow` is "deploy", so the group is the caller's own and GitHub cancels the call.
    e2e = gated.repo / ".github" / "workflows" / "e2e-parity-check.yml"
    text = e2e.read_text()
    group = "e2e-parity-${{ inputs.target_environment || github.event.pull_request.number || github.ref }}"
    assert group in text
    e2e.write_text(
        text.replace(group, "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}")
    )
    with app_server(mode="mismatch") as wrong:
        deployed(gated, {"default": app_url, "dev": wrong})
        run = gated.run("deploy.yml", push(gated))
    parity = run.job("parity-dev")
    assert parity.result == "cancelled"
    assert "deadlock for concurrency group 'deploy-refs/heads/main'" in parity.reason
    # The rollback no longer waits for `failure` only: a cancelled check is not a pass either.
    assert run.job("rollback-dev").result == "success"
    assert gated.world.deployed_image("dev") == OLD_IMAGE
    assert run.job("deploy-staging").result == "skipped"


def github_calls(gated: Gated, method: str) -> list[dict[str, Any]]:
    path = gated.world.root / "github" / "calls.jsonl"
    calls = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    return [call for call in calls if call["method"] == method]


def slack_posts(gated: Gated) -> list[dict[str, Any]]:
    path = gated.world.root / "slack.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def slack_channels(gated: Gated) -> list[str]:
    return [
        line.split('"')[1]
        for post in slack_posts(gated)
        for line in post["payload"].splitlines()
        if line.startswith("channel:")
    ]


def slack_texts(gated: Gated) -> list[str]:
    return [
        line
        for post in slack_posts(gated)
        for line in post["payload"].splitlines()
        if line.startswith("text:")
    ]


def test_the_harness_runs_a_workflow_on_any_repository_from_the_command_line(
    gated: Gated, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the README tells a team to run against its own repository's scripts.
    gated.change(dict(MUTATIONS["make_root_hashes_empty"].changes()), "empty root hashes")
    argv = ["--repo", str(gated.repo), "--workflow", "determinism-check.yml", "--base", gated.base]
    assert run_workflow.main(argv) == 1
    out = capsys.readouterr().out
    assert "determinism-root-hash: failure" in out and "determinism-canonical-json: success" in out
    assert "::error::a runtime printed no root_hash" in out
