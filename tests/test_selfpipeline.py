"""The gate's own pipeline as rendered (gate/github/selfpipeline.py) and committed (.github/workflows/gate-*):
the committed files are the rendering, the stacks come from the gate, and the files pass actionlint,
zizmor's auditor persona and ShellCheck with the security properties of the gated workflows.
tests/test_selfpipeline_runs.py runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.errors import GateError
from gate.github import selfpipeline
from tests.conftest import ROOT, ProjectFactory
from tests.support.workflow_tools import run_actionlint, run_blocks, run_shellcheck, run_zizmor
from tests.test_consistency import CHAIN_WITHOUT_STAGING, SHIPPED, edited

FILES = [ROOT / ".github" / "workflows" / name for name in ("gate-pr.yml", "gate-deploy.yml")]
PINNED = re.compile(r"^\s+(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")


def documents() -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in FILES}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def with_chain(stack: str, environments: Any) -> str:
    document = yaml.safe_load(SHIPPED[stack])
    document["config"]["delivery-gate:environments"] = environments
    return yaml.safe_dump(document, sort_keys=False)


def test_the_committed_files_are_the_rendering() -> None:
    rendered = selfpipeline.render(ROOT)
    assert sorted(rendered) == [".github/workflows/gate-deploy.yml", ".github/workflows/gate-pr.yml"]
    for relative, text in rendered.items():
        assert (ROOT / relative).read_text() == text, f"{relative} is stale: run `make pipeline`"
    check = [sys.executable, "-m", "gate.github.selfpipeline", "--check"]
    assert subprocess.run(check, cwd=ROOT, capture_output=True, check=False).returncode == 0


def test_the_stacks_and_their_order_come_from_the_stack_files(make_project: ProjectFactory) -> None:
    assert selfpipeline.chain(ROOT) == [
        selfpipeline.Stage("dev", "dev"),
        selfpipeline.Stage("staging", "staging"),
        selfpipeline.Stage("prod", "production"),
    ]
    two = make_project({
        "dev": with_chain("dev", {"replace": CHAIN_WITHOUT_STAGING}),
        "prod": edited("prod", environments={"replace": CHAIN_WITHOUT_STAGING}),
    })  # fmt: skip
    stages = selfpipeline.chain(two)
    assert [s.stack for s in stages] == ["dev", "prod"]
    deploy = selfpipeline.deploy_workflow(stages)
    assert list(deploy["jobs"]) == ["up-dev", "up-prod"] and deploy["jobs"]["up-prod"]["needs"] == ["up-dev"]
    previews = [s["name"] for s in steps(selfpipeline.pr_workflow(stages)["jobs"]["preview"])]
    assert [n for n in previews if n.startswith("pulumi preview")] == [
        "pulumi preview --diff (dev)",
        "pulumi preview --diff (prod)",
    ]
    # A chain the stacks disagree on renders nothing.
    broken = make_project(
        {**SHIPPED, "prod": edited("prod", environments={"replace": CHAIN_WITHOUT_STAGING})}
    )
    with pytest.raises(GateError, match="the stacks are inconsistent"):
        selfpipeline.chain(broken)


def test_actionlint_zizmor_auditor_and_shellcheck_find_nothing(tmp_path: Path) -> None:
    assert [error for path in FILES for error in run_actionlint([path])] == []
    assert run_zizmor(FILES, "informational", persona="auditor") == []
    findings = [
        f"{name} {where}: {line}"
        for name, document in documents().items()
        for where, shell, script in run_blocks(document)
        for line in run_shellcheck(script, shell, tmp_path)
    ]
    assert findings == []


def test_security_defaults() -> None:
    for name, document in documents().items():
        assert document["permissions"] == {}, name
        for job_id, job in document["jobs"].items():
            assert job["timeout-minutes"] >= 1 and "permissions" in job, f"{name}:{job_id}"
            for step in steps(job):
                assert "${{" not in step.get("run", ""), f"{name}:{job_id}: {step.get('name')}"
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
        for line in (ROOT / ".github" / "workflows" / name).read_text().splitlines():
            if "uses:" in line:
                assert PINNED.match(line), line
    pr, deploy = documents()["gate-pr.yml"], documents()["gate-deploy.yml"]
    assert pr["concurrency"]["cancel-in-progress"] is True
    assert deploy["concurrency"] == {"group": "${{ github.workflow }}", "cancel-in-progress": False}


def test_pull_request_jobs_hold_no_more_than_they_need() -> None:
    jobs = documents()["gate-pr.yml"]["jobs"]
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository"
    # The plan job runs the pull request's code (forks included): read-only, no secret.
    assert jobs["plan"]["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(jobs["plan"]) and "if" not in jobs["plan"]
    # The comment job writes pull requests, for this repository's pull requests only, and runs no
    # code of the pull request: no checkout, only the report artifact.
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    assert same_repository in jobs["comment"]["if"] and "!cancelled()" in jobs["comment"]["if"]
    assert [s["uses"].split("@")[0] for s in steps(jobs["comment"]) if "uses" in s] == [
        "actions/download-artifact"
    ]
    # The preview holds the backend secrets: this repository's pull requests only.
    assert jobs["preview"]["if"] == f"${{{{ {same_repository} }}}}"
    assert jobs["preview"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_deploys_go_stack_by_stack_through_their_environments_each_after_health() -> None:
    jobs = documents()["gate-deploy.yml"]["jobs"]
    assert list(jobs) == ["up-dev", "up-staging", "up-prod"]
    assert [jobs[j].get("needs") for j in jobs] == [None, ["up-dev"], ["up-staging"]]
    assert [jobs[j]["environment"]["name"] for j in jobs] == ["dev", "staging", "production"]
    for job_id, job in jobs.items():
        stack = job_id.removeprefix("up-")
        names = [s.get("name") for s in steps(job)]
        up = next(s for s in steps(job) if s.get("name") == f"pulumi up ({stack})")
        backend = "${{ secrets.PULUMI_BACKEND_URL }}"
        assert up["with"] == {"command": "up", "stack-name": stack, "work-dir": ".", "cloud-url": backend}
        # Health is the job's last step: the next stack needs the whole job, health included.
        assert names[-1] == f"Health of {stack}: no drift, quiet alerts, its evidence"
        assert steps(job)[-1]["env"]["STACK"] == stack
        assert "python -m gate health --project-dir . --stack" in steps(job)[-1]["run"]
