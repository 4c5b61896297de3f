"""The gate's own pipeline RUNS: .github/workflows/gate-pr.yml and gate-deploy.yml, as committed,
executed by the harness (tests/support/actions_runner.py) against a git repository of this project.

The pull-request workflow runs the REAL `python -m gate stacks/plan/diff/report` on both checkouts
(the base and the head commit), offline; `gh` and `pulumi` are the stubs (tests/support/stubs), which
keep the PR's comments and each stack's outputs and drift in the scenario's world. The deploy
workflow runs the REAL `python -m gate health` after each (stubbed) `pulumi up`, asking a small
Alertmanager served here over HTTP.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gate.offline.report import MARKER
from tests.conftest import ROOT
from tests.support.actions_runner import Event, Harness, WorkflowRun
from tests.support.sample_world import STUBS, World, commit_change, make_world

OWNER, NAME = "acme", "delivery-gate"
REPOSITORY = f"{OWNER}/{NAME}"
PR = 11
STACKS = ("dev", "staging", "prod")
SECRETS = {
    "PULUMI_BACKEND_URL": "s3://acme-delivery-gate-state?region=eu-west-1",
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-for-tests",
    "GATE_GITHUB_TOKEN": "github_pat_deploy_for_tests",
    "GATE_PREVIEW_GITHUB_TOKEN": "github_pat_preview_for_tests",
}
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Platform Engineer",
    "GIT_AUTHOR_EMAIL": "platform@example.com",
    "GIT_COMMITTER_NAME": "Platform Engineer",
    "GIT_COMMITTER_EMAIL": "platform@example.com",
    "GIT_AUTHOR_DATE": "2026-11-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-01T00:00:00+00:00",
}
# A stack change a reviewer must not miss: dev (the merge-gate owner) gates aos for Python only, so
# the JavaScript checks are no longer required and ci.yml loses two jobs.
PYTHON_ONLY = ("    - name: aos\n", "    - name: aos\n      languages: [python]\n")


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args]
    done = subprocess.run(
        command,
        cwd=repo,
        env={**_IDENTITY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_gate_repository(path: Path) -> tuple[Path, str]:
    """This project as a git repository (the one the pipeline belongs to): its code linked (the real
    gate runs), its stack files copied (scenarios change them). Returns (path, the commit on main)."""
    path.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", "tools"):
        (path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "stacks", path / "stacks")
    shutil.copytree(ROOT / "examples", path / "examples")  # the stacks' sample deployed state
    (path / "requirements.txt").write_text("# installed in the test venv\n")
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "the delivery gate")
    return path, _git(path, "rev-parse", "HEAD")


def stack_text(repo: Path, stack: str) -> str:
    return (repo / "stacks" / f"Pulumi.{stack}.yaml").read_text()


def edited(repo: Path, stack: str, old: str, new: str) -> dict[str, str | None]:
    text = stack_text(repo, stack)
    assert text.count(old) == 1, f"{stack}: expected one {old!r}"
    return {f"stacks/Pulumi.{stack}.yaml": text.replace(old, new)}


@dataclass
class Pipeline:
    tmp: Path
    repo: Path
    base: str
    world: World
    head: str = ""
    secrets: dict[str, str] = field(default_factory=lambda: dict(SECRETS))
    vars: dict[str, str] = field(default_factory=dict)
    _harness: Harness | None = None

    def harness(self) -> Harness:
        if self._harness is None:
            self._harness = Harness(
                repository=REPOSITORY,
                workflows=ROOT / ".github" / "workflows",
                checkouts={REPOSITORY: self.repo},
                world=self.world.root,
                bin_dirs=[STUBS],
                secrets=self.secrets,
                vars=self.vars,
                env={"GATE_HARNESS_PYTHON": sys.executable},
                work=self.tmp / "runner",
            )
        return self._harness

    def change(self, changes: Mapping[str, str | None], message: str) -> None:
        self.head = commit_change(self.repo, changes, message)

    def pull_request(self, *, fork: bool = False) -> WorkflowRun:
        head_repo = "someone/delivery-gate" if fork else REPOSITORY
        payload = {
            "pull_request": {
                "number": PR,
                "head": {"sha": self.head, "ref": "feature", "repo": {"full_name": head_repo}},
                "base": {"sha": self.base, "ref": "main", "repo": {"full_name": REPOSITORY}},
            }
        }
        event = Event("pull_request", ref=f"refs/pull/{PR}/merge", sha=self.head, payload=payload)
        return self.harness().run("gate-pr.yml", event)

    def push(self) -> WorkflowRun:
        sha = self.head or self.base
        event = Event("push", ref="refs/heads/main", sha=sha, payload={"ref": "refs/heads/main"})
        return self.harness().run("gate-deploy.yml", event)


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    repo, base = make_gate_repository(tmp_path / NAME)
    return Pipeline(tmp_path, repo, base, make_world(tmp_path))


def results(run: WorkflowRun) -> dict[str, str]:
    return {job_id: job.result for job_id, job in run.jobs.items()}


def log(run: WorkflowRun, job: str) -> str:
    return "".join(f"--- {s.name} ({s.outcome})\n{s.log}" for s in run.job(job).steps)


def pulumi_calls(world: World) -> list[tuple[str, str]]:
    """(command, stack) of every pulumi call but the backend logins."""
    calls = []
    for call in world.calls("pulumi"):
        argv = call["argv"]
        if "login" in argv:
            assert argv == ["--non-interactive", "login", SECRETS["PULUMI_BACKEND_URL"]]
            continue
        command = " ".join(argv[:2]) if argv[:1] == ["stack"] else argv[0]
        stack = argv[argv.index("--stack") + 1] if "--stack" in argv else ""
        calls.append((command, stack))
    return calls


# -- gate-pr.yml --------------------------------------------------------------------------------


def test_a_pull_request_gets_one_comment_with_the_summary_first_and_edits_it_on_the_next_push(
    pipeline: Pipeline,
) -> None:
    pipeline.change(edited(pipeline.repo, "dev", *PYTHON_ONLY), "aos is Python only")
    run = pipeline.pull_request()
    assert results(run) == {"plan": "success", "comment": "success", "preview": "success"}, log(
        run, "comment"
    )

    [comment] = pipeline.world.issue_comments(REPOSITORY, PR)
    body = comment["body"]
    assert body.startswith(MARKER) and comment["user"]["login"] == "github-actions[bot]"
    # Summary first: the table and what needs attention come before any collapsed detail.
    summary, _, details = body.partition("<details>")
    # Branch protection of main and release/*, the PR template, ci.yml and (issue 13: no
    # cross-language checks in a Python-only repository) determinism-check.yml and e2e-parity-check.yml.
    # Issue 13, part files: a change of the gate's files is a new revision of its pull request: a
    # new CODEOWNERS resource (its name carries the revision) and every file on the new branch.
    assert "| **dev** | dev | changes | 1 | 24 | 1 |" in summary
    assert "| **staging** | staging | no changes | 0 | 0 | 0 |" in summary
    assert "| **prod** | production | no changes |" in summary
    assert "required check `unit-tests-javascript` removed from acme/aos `main`" in summary
    assert "<code>aos: .github/workflows/ci.yml</code> (changed)" in details
    assert f"`{pipeline.base[:12]}` → `{pipeline.head[:12]}`" in summary
    # The same report is in the job summary, and the plans and diffs are an artifact.
    assert run.job("plan").summary.strip() == body.strip()
    artifact = pipeline.world.root / "artifacts" / "gate-plan-report"
    assert sorted(p.name for p in (artifact / "diff").iterdir()) == ["dev.txt", "prod.txt", "staging.txt"]
    assert "2 to change" not in (artifact / "diff" / "staging.txt").read_text()
    # The real stacks are previewed too, in promotion order, through pulumi/actions.
    assert pulumi_calls(pipeline.world) == [("preview", s) for s in STACKS]

    # The next push edits the same comment: still one, now about the new head.
    first_head = pipeline.head
    pipeline.change(
        edited(pipeline.repo, "staging", "eksClusterName: aos-staging", "eksClusterName: aos-stg"), "x"
    )
    run = pipeline.pull_request()
    assert results(run) == {"plan": "success", "comment": "success", "preview": "success"}, log(
        run, "comment"
    )
    [edited_comment] = pipeline.world.issue_comments(REPOSITORY, PR)
    assert edited_comment["id"] == comment["id"] and edited_comment.get("edited") is True
    assert (
        f"`{pipeline.head[:12]}`" in edited_comment["body"] and first_head[:12] not in edited_comment["body"]
    )
    assert "| **staging** | staging | changes |" in edited_comment["body"]
    writes = [c for c in pipeline.world.calls("gh") if "fields" in c]
    assert [c["argv"][2] for c in writes] == ["POST", "PATCH"]


def test_someone_elses_comment_with_the_marker_is_never_edited(pipeline: Pipeline) -> None:
    path = f"repos/{REPOSITORY}/issues/{PR}/comments"
    quoted = {"id": 7, "body": f"{MARKER}\nquoting the bot", "user": {"login": "mallory", "type": "User"}}
    pipeline.world.set_github_api(path, [quoted])
    pipeline.change(edited(pipeline.repo, "dev", *PYTHON_ONLY), "aos is Python only")
    run = pipeline.pull_request()
    assert run.job("comment").result == "success", log(run, "comment")
    comments = pipeline.world.issue_comments(REPOSITORY, PR)
    assert comments[0] == quoted
    assert [c["user"]["login"] for c in comments] == ["mallory", "github-actions[bot]"]


def test_a_fork_gets_the_offline_report_in_its_job_summary_and_nothing_else(pipeline: Pipeline) -> None:
    pipeline.change(edited(pipeline.repo, "dev", *PYTHON_ONLY), "aos is Python only")
    run = pipeline.pull_request(fork=True)
    assert results(run) == {"plan": "success", "comment": "skipped", "preview": "skipped"}, log(run, "plan")
    assert run.job("plan").summary.startswith(MARKER)
    assert "required check `unit-tests-javascript` removed" in run.job("plan").summary
    # No secret, no comment, no preview of the real stacks.
    assert pipeline.world.calls("gh") == [] and pulumi_calls(pipeline.world) == []
    assert pipeline.world.issue_comments(REPOSITORY, PR) == []


def test_without_the_backend_secret_the_preview_is_skipped_with_a_notice(pipeline: Pipeline) -> None:
    del pipeline.secrets["PULUMI_BACKEND_URL"]
    pipeline.change(edited(pipeline.repo, "dev", *PYTHON_ONLY), "aos is Python only")
    run = pipeline.pull_request()
    assert results(run) == {"plan": "success", "comment": "success", "preview": "success"}
    preview = run.job("preview")
    assert "::notice title=pulumi preview skipped::" in preview.step("backend").log
    assert {s.outcome for s in preview.steps[1:]} == {"skipped"}
    assert pulumi_calls(pipeline.world) == []
    assert len(pipeline.world.issue_comments(REPOSITORY, PR)) == 1


def test_a_head_that_does_not_plan_fails_the_job_and_the_comment_says_why(pipeline: Pipeline) -> None:
    # GATE-NN-06: the merge gate must stay protected; the head's plan of dev fails.
    text = stack_text(pipeline.repo, "dev") + "  delivery-gate:protectResources: false\n"
    pipeline.change({"stacks/Pulumi.dev.yaml": text}, "unprotect everything")
    run = pipeline.pull_request()
    assert results(run) == {"plan": "failure", "comment": "success", "preview": "success"}
    plan = run.job("plan")
    assert plan.step("Fail when a stack of the head does not plan").outcome == "failure"
    assert "dev/error.txt: error: stacks/Pulumi.dev.yaml: the gate rules are violated" in plan.steps[-1].log
    [comment] = pipeline.world.issue_comments(REPOSITORY, PR)
    assert "| **dev** | dev | ❌ plan fails |" in comment["body"]
    assert "[GATE-NN-06] protectResources is false" in comment["body"]
    # Later stacks of the head still plan: staging reads no evidence from a failed dev plan.
    assert "| **staging** | staging | ❌ plan fails |" in comment["body"]


# -- gate-deploy.yml --------------------------------------------------------------------------------


class Alertmanager:
    """The Alertmanager v2 API's GET /api/v2/alerts, answering from `alerts` by the filter matchers."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.queries: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                owner.queries.append(query)
                matchers = [m.split("=", 1) for m in query.get("filter", [])]
                wanted = {label: json.loads(value) for label, value in matchers}
                found = [a for a in owner.alerts if all(a["labels"].get(k) == v for k, v in wanted.items())]
                body = json.dumps(found if url.path == "/api/v2/alerts" else {}).encode()
                self.send_response(200 if url.path == "/api/v2/alerts" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fire(self, alertname: str, environment: str, *, state: str = "active") -> None:
        labels = {"alertname": alertname, "environment": environment, "namespace": "monitoring"}
        labels["severity"] = "critical"
        self.alerts.append({"labels": labels, "status": {"state": state}, "startsAt": "2026-11-28T10:00:00Z"})


@pytest.fixture
def alertmanager() -> Iterator[Alertmanager]:
    manager = Alertmanager()
    thread = threading.Thread(target=manager.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield manager
    finally:
        manager.server.shutdown()
        manager.server.server_close()


def golden_outputs(stack: str) -> dict[str, Any]:
    outputs: dict[str, Any] = json.loads((ROOT / "tests" / "golden" / stack / "plan.json").read_text())[
        "outputs"
    ]
    return outputs


def healthy(pipeline: Pipeline, alertmanager: Alertmanager) -> None:
    """Every stack deployed as its golden plan says, and validated: its outputs hold the evidence for
    the image it runs (the shipped prod stack has no parity result recorded yet: here it has one)."""
    pipeline.vars["ALERTMANAGER_URL"] = alertmanager.url
    for stack in ("dev", "staging"):
        pipeline.world.set_stack_outputs(stack, golden_outputs(stack))
    staging = golden_outputs("staging")["releaseEvidence"]
    evidence = {
        **staging,
        "stack": "prod",
        "environment": "production",
        "validatedAt": "2026-11-25T08:00:00Z",
    }
    pipeline.world.set_stack_outputs("prod", {**golden_outputs("prod"), "releaseEvidence": evidence})


def jobs(run: WorkflowRun) -> dict[str, str]:
    return {f"up-{stack}": run.job(f"up-{stack}").result for stack in STACKS}


def test_a_merge_deploys_dev_staging_prod_in_order_each_after_the_last_is_healthy(
    pipeline: Pipeline, alertmanager: Alertmanager
) -> None:
    healthy(pipeline, alertmanager)
    run = pipeline.push()
    assert jobs(run) == dict.fromkeys(("up-dev", "up-staging", "up-prod"), "success"), log(run, "up-dev")
    assert [run.job(f"up-{s}").environment for s in STACKS] == ["dev", "staging", "production"]
    expected = [call for s in STACKS for call in (("up", s), ("preview", s), ("stack output", s))]
    assert pulumi_calls(pipeline.world) == expected
    previews = [c["argv"] for c in pipeline.world.calls("pulumi") if c["argv"][0] == "preview"]
    assert all({"--refresh", "--expect-no-changes"} <= set(argv) for argv in previews)
    # Each environment's alerts, by the labels the gate's rules carry.
    filters = [sorted(q["filter"]) for q in alertmanager.queries]
    assert filters == [['environment="dev"', 'namespace="monitoring"'],
                       ['environment="staging"', 'namespace="monitoring"'],
                       ['environment="production"', 'namespace="monitoring"']]  # fmt: skip
    assert "stack prod (environment production): healthy" in run.summary


def test_drift_in_dev_stops_the_chain_before_staging(pipeline: Pipeline, alertmanager: Alertmanager) -> None:
    healthy(pipeline, alertmanager)
    pipeline.world.set_drift("dev", "    ~ github:index/branchProtection:BranchProtection: (update)")
    run = pipeline.push()
    assert jobs(run) == {"up-dev": "failure", "up-staging": "skipped", "up-prod": "skipped"}
    health = run.job("up-dev").step("health")
    assert health.outcome == "failure"
    assert "FAIL  drift     drift: pulumi preview --refresh proposes changes" in health.log
    assert "~ github:index/branchProtection:BranchProtection: (update)" in health.log
    assert "the chain stops here: staging, prod will not be deployed until dev is healthy" in health.log
    assert "::error title=stack dev is not healthy::" in health.log
    assert {stack for _, stack in pulumi_calls(pipeline.world)} == {"dev"}


def test_a_firing_alert_in_staging_keeps_prod_from_deploying(
    pipeline: Pipeline, alertmanager: Alertmanager
) -> None:
    healthy(pipeline, alertmanager)
    alertmanager.fire("HealthCheckFailing", "staging")
    alertmanager.fire("ErrorBudgetBurn", "staging", state="suppressed")  # silenced: listed, not counted
    alertmanager.fire("ReplayMismatch", "dev", state="suppressed")
    run = pipeline.push()
    assert jobs(run) == {"up-dev": "success", "up-staging": "failure", "up-prod": "skipped"}
    health = run.job("up-staging").step("health").log
    assert "FAIL  alerts    1 alert(s) firing in staging: HealthCheckFailing (severity critical" in health
    assert "1 silenced or inhibited, not counted: ErrorBudgetBurn" in health
    assert "ok    alerts    no alert firing in dev; 1 silenced or inhibited" in log(run, "up-dev")
    assert ("up", "prod") not in pulumi_calls(pipeline.world)


def test_missing_evidence_fails_the_health_check(pipeline: Pipeline, alertmanager: Alertmanager) -> None:
    healthy(pipeline, alertmanager)
    outputs = {k: v for k, v in golden_outputs("dev").items() if k != "releaseEvidence"}
    pipeline.world.set_stack_outputs("dev", outputs)
    run = pipeline.push()
    assert jobs(run) == {"up-dev": "failure", "up-staging": "skipped", "up-prod": "skipped"}
    assert "FAIL  evidence  no releaseEvidence in the stack's outputs" in run.job("up-dev").step("health").log


def test_without_an_alertmanager_url_no_stack_is_proven_healthy(
    pipeline: Pipeline, alertmanager: Alertmanager
) -> None:
    healthy(pipeline, alertmanager)
    del pipeline.vars["ALERTMANAGER_URL"]
    run = pipeline.push()
    assert jobs(run) == {"up-dev": "failure", "up-staging": "skipped", "up-prod": "skipped"}
    assert "cannot tell: no Alertmanager to ask: set ALERTMANAGER_URL" in run.job("up-dev").step("health").log
