"""`gate deploy`, `gate rollback`, `gate watch` and `gate record-evidence`: the one delivery path.

deploy.yml calls these for every environment (gate/github/workflows.py); the design is in
gate/promotion/delivery.py. Each command that changes an environment runs `pulumi up` of its stack through the
Automation API with a one-off config file (the committed stack file plus what the pipeline writes),
so the Rollout's image, the stack's state and the evidence are one record; the committed stack
file is never edited. The outside world sits behind small protocols (the stack workspace and the
GitHub API in gate/promotion/outside.py, the cluster, Alertmanager) so that tests run the real logic
against fakes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from gate.clock import iso
from gate.policy.model import GatePolicy, PipelineRun
from gate.policy.stackfile import read_stack_config
from gate.policy.types import PinnedImage, duration_seconds
from gate.promotion.delivery import (
    DEPLOYMENT_KEY,
    DEPLOYMENT_OUTPUT,
    HAND_TYPED_REFUSED,
    RELEASE_KEY,
    RELEASE_OUTPUT,
    VALIDATION_KEY,
    rollback_target,
    run_problems,
    state_record,
)
from gate.promotion.outside import (
    DeliveryRefused,
    DeliveryUsage,
    GitHubApi,
    RestGitHub,
    StackWorkspace,
    run_and_jobs,
)
from gate.promotion.promote import policy_from_values, replace_config_block, stack_file_policy
from gate.runtime.kube import app_namespace


@dataclass(frozen=True)
class Applied:
    stack: str
    image: str
    previous_image: str | None
    outputs: dict[str, Any]


_PINNED: TypeAdapter[str] = TypeAdapter(PinnedImage)


def _pinned(image: str, flag: str = "--image") -> str:
    try:
        return _PINNED.validate_python(image)
    except ValidationError:
        raise DeliveryUsage(
            f"{flag}: got {image!r}; allowed: an image pinned by digest (registry/name@sha256:<64 hex>)"
        ) from None


def _apply(
    project_dir: Path,
    workspace: StackWorkspace,
    stack: str,
    values: Mapping[str, Any],
    why: str,
) -> dict[str, Any]:
    """`pulumi up` of `stack` with the stack file plus `values`; checked offline first, so a config
    the program would refuse is refused here with the same words and nothing is applied."""
    config = read_stack_config(project_dir, stack)
    merged = {key: value for key, value in config.values.items() if key not in HAND_TYPED_REFUSED}
    merged.update(values)
    policy_from_values(merged, stack, f"{config.source} + {why}")
    text = (project_dir / config.source).read_text(encoding="utf-8")
    for key in HAND_TYPED_REFUSED:
        text = replace_config_block(text, key, None, why) if key in config.values else text
    for key, value in values.items():
        text = replace_config_block(text, key, value, why)
    with tempfile.TemporaryDirectory(prefix="delivery-gate-") as directory:
        path = Path(directory) / f"Pulumi.{stack}.yaml"
        path.write_text(text, encoding="utf-8")
        return workspace.up_with_config(stack, path)


def deploy(
    project_dir: Path,
    workspace: StackWorkspace,
    stack: str,
    image: str,
    run: PipelineRun,
    *,
    now: datetime,
    rollback: bool = False,
    emergency: Mapping[str, str] | None = None,
) -> Applied:
    """Put `image` in `stack`: the program checks GATE-DP-09 (upstream evidence) or, for a
    rollback, GATE-DP-12 (this environment validated it) before it declares anything. An
    `emergency` block (verified by gate/promotion/emergency.py) goes into the release: GATE-DP-10."""
    image = _pinned(image)
    state = workspace.outputs(stack)
    current = state_record(state, RELEASE_OUTPUT)
    previous = current.get("image") if current else None
    deployment: dict[str, Any] = {
        "deployedAt": iso(now),
        "run": {"repository": run.repository, "runId": run.run_id},
        "rollback": rollback,
    }
    if previous:
        deployment["previousImage"] = previous
    # A new deploy needs new evidence: the state's validation is not carried (the digests this
    # environment validated stay in validatedImages, its rollback targets).
    release: dict[str, Any] = {"image": image}
    if emergency:
        release["emergency"] = dict(emergency)  # issue 12, part emergency (gate/promotion/emergency.py)
    values = {RELEASE_KEY: release, DEPLOYMENT_KEY: deployment}
    why = f"written by `gate deploy` for run {run.run_id}"
    outputs = _apply(project_dir, workspace, stack, values, why)
    return Applied(stack, image, previous, outputs)


def rollback(
    project_dir: Path, workspace: StackWorkspace, stack: str, run: PipelineRun, *, now: datetime
) -> Applied:
    """M9 §Post-merge 2: back to the newest image this environment validated; never waits for a
    person (deploy.yml runs it in the reviewer-free `<env>-rollback` environment)."""
    target = rollback_target(workspace.outputs(stack))
    if target is None:
        raise DeliveryRefused(
            f"stack {stack} has validated no image other than the one it runs: nothing to roll back to "
            "(a first deploy); fix forward or deploy a known-good digest with `gate deploy`"
        )
    return deploy(project_dir, workspace, stack, target, run, now=now, rollback=True)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Claim:
    """What the pipeline's jobs of one run found for an image in one environment."""

    image: str
    parity_root_hash: str
    analysis: str
    window: Window


def record_evidence(
    project_dir: Path,
    workspace: StackWorkspace,
    github: GitHubApi,
    stack: str,
    *,
    claim: Claim,
    run: PipelineRun,
    now: datetime,
) -> dict[str, Any]:
    """Record this environment's evidence for the image it runs, after checking through the GitHub
    API that `run` deployed it and that its parity and validation jobs here succeeded."""
    image, analysis, window = _pinned(claim.image), claim.analysis, claim.window
    state = workspace.outputs(stack)
    release = state_record(state, RELEASE_OUTPUT)
    running = release.get("image") if release else None
    if running != image:
        raise DeliveryRefused(
            f"--image {image}: stack {stack} runs {running or 'nothing'}; evidence is recorded only for "
            "the image the environment runs"
        )
    if analysis != "Successful":
        raise DeliveryRefused(
            f"--analysis: got {analysis!r}; only a 'Successful' canary analysis is evidence"
        )
    if not window.start <= window.end <= now:
        raise DeliveryRefused(
            f"--window-start/--window-end: {iso(window.start)}..{iso(window.end)} must be a past window "
            f"(now {iso(now)})"
        )
    deployment = state.get(DEPLOYMENT_OUTPUT) if isinstance(state.get(DEPLOYMENT_OUTPUT), dict) else None
    deployed_by = (deployment or {}).get("run", {}).get("runId")
    policy = stack_file_policy(project_dir, stack)
    answer, jobs = run_and_jobs(github, run.repository, run.run_id)
    problems = run_problems(
        policy.environment,
        repository=run.repository,
        run_id=run.run_id,
        run=answer,
        jobs=jobs,
        deployed_by=deployed_by,
    )
    if problems:
        raise DeliveryRefused(f"run {run.url} does not back evidence for {stack}: " + "; ".join(problems))
    validation = {
        "image": image,
        "parityRootHash": claim.parity_root_hash,
        "validatedAt": iso(now),
        "run": {"repository": run.repository, "runId": run.run_id},
        "analysis": analysis,
        "windowStart": iso(window.start),
        "windowEnd": iso(window.end),
    }
    values = {RELEASE_KEY: release, DEPLOYMENT_KEY: deployment, VALIDATION_KEY: validation}
    why = f"written by `gate record-evidence` for run {run.run_id}"
    return _apply(project_dir, workspace, stack, values, why)


# -- gate watch: the canary analysis and the post-deploy validation window ------------------------


class Cluster(Protocol):
    def rollout(self, namespace: str, name: str) -> dict[str, Any]: ...


class Alerts(Protocol):
    def firing(self, namespace: str) -> list[str]: ...


@dataclass(frozen=True)
class Watched:
    analysis: str  # "Successful" or "Failed"
    window: Window
    reason: str


def _rollout_state(rollout: Mapping[str, Any], image: str) -> str:
    """'healthy', 'failed' or 'progressing' for the Rollout running `image`."""
    status = rollout.get("status") or {}
    containers = (((rollout.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    if not any(container.get("image") == image for container in containers):
        return "progressing"  # the update has not reached the Rollout yet
    phase = status.get("phase")
    if phase in ("Degraded", "Aborted") or status.get("abort"):
        return "failed"
    return "healthy" if phase == "Healthy" else "progressing"


def watch(
    policy: GatePolicy,
    image: str,
    cluster: Cluster,
    alerts: Alerts,
    *,
    window_seconds: float,
    timeout_seconds: float,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    poll_seconds: float = 10.0,
) -> Watched:
    """Wait for the Rollout's canary analysis to finish on `image` (Healthy: every step's analysis
    passed; Degraded/Aborted: Argo Rollouts aborted and rolled back), then watch the post-deploy
    validation window (DP §Post-Deployment): any alert firing in the environment's namespace fails."""
    image = _pinned(image)
    namespace, name = app_namespace(policy), policy.application.name
    started = now()
    while True:
        state = _rollout_state(cluster.rollout(namespace, name), image)
        if state == "failed":
            return Watched(
                "Failed", Window(started, now()), f"the canary analysis failed: Rollout {name} aborted"
            )
        if state == "healthy":
            break
        if (now() - started).total_seconds() >= timeout_seconds:
            return Watched(
                "Failed", Window(started, now()), f"Rollout {name} did not finish in {timeout_seconds:.0f}s"
            )
        sleep(poll_seconds)
    window_start = now()
    end = window_start + timedelta(seconds=window_seconds)
    while True:
        firing = alerts.firing(namespace)
        if firing:
            reason = (
                f"alert(s) firing in {namespace} during the validation window: {', '.join(sorted(firing))}"
            )
            return Watched("Failed", Window(window_start, now()), reason)
        if now() >= end:
            return Watched("Successful", Window(window_start, now()), "the window stayed quiet")
        sleep(min(poll_seconds, max((end - now()).total_seconds(), 0.0)))


def window_seconds(policy: GatePolicy, override: str | None) -> float:
    return float(duration_seconds(override or policy.thresholds.post_deploy_validation_window))


# -- the real outside world -----------------------------------------------------------------------


class KubectlCluster:
    def rollout(self, namespace: str, name: str) -> dict[str, Any]:
        completed = subprocess.run(
            ["kubectl", "-n", namespace, "get", "rollout", name, "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if completed.returncode != 0:
            raise DeliveryRefused(
                f"kubectl get rollout {name} -n {namespace}: {completed.stderr.strip()[:500]}"
            )
        document: dict[str, Any] = json.loads(completed.stdout)
        return document


class AlertmanagerAlerts:
    """Alertmanager's API v2: active, unsilenced alerts labelled with the namespace."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def firing(self, namespace: str) -> list[str]:
        query = urllib.parse.urlencode(
            {
                "active": "true",
                "silenced": "false",
                "inhibited": "false",
                "filter": f'namespace="{namespace}"',
            }
        )
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=30) as response:
            alerts = json.load(response)
        return [str(alert.get("labels", {}).get("alertname", "?")) for alert in alerts]


def github_from_environment() -> RestGitHub:
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        raise DeliveryUsage("record-evidence verifies the run through the GitHub API: set GH_TOKEN")
    return RestGitHub(token, os.environ.get("GITHUB_API_URL", "https://api.github.com"))


def write_github_output(values: Mapping[str, str]) -> None:
    """key=value lines for the calling workflow step ($GITHUB_OUTPUT), when there is one."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as output:
        for key, value in values.items():
            if "\n" in value:
                raise DeliveryRefused(f"output {key} holds a newline")
            output.write(f"{key}={value}\n")
