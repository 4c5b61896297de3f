"""The command line of the delivery path: deploy, rollback, watch, record-evidence (gate/promotion/deploy.py).

deploy.yml calls them from its delivery-gate checkout; each writes what the next job needs to
$GITHUB_OUTPUT. The run and repository default to the workflow's own (GITHUB_RUN_ID,
GITHUB_REPOSITORY), so a job cannot name another run than the one it is part of by accident.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gate import clock
from gate.errors import UsageError
from gate.policy.model import PipelineRun
from gate.promotion import deploy, drill_run, emergency, window
from gate.promotion.outside import DeliveryRefused, GitHubApi, StackWorkspace
from gate.promotion.promote import stack_file_policy


@dataclass
class Outside:
    """What the delivery commands reach; tests replace any of them."""

    workspace: StackWorkspace | None = None
    github: GitHubApi | None = None
    cluster: deploy.Cluster | None = None
    alerts: deploy.Alerts | None = None


def add_parsers(commands: Any, project_dir_default: Path) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--stack", required=True, help="the environment's stack (stacks/Pulumi.<stack>.yaml)"
        )
        parser.add_argument("--project-dir", type=Path, default=project_dir_default)

    def run_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY"), help="owner/name")
        parser.add_argument(
            "--run-id", type=int, default=_env_int("GITHUB_RUN_ID"), help="the deploy.yml run"
        )

    command = commands.add_parser("deploy", help="deploy an image to an environment (pulumi up of its stack)")
    common(command)
    run_arguments(command)
    command.add_argument("--image", required=True, help="registry/name@sha256:<digest>")
    # Issue 12, part emergency: DP §Emergency / Hotfix (gate/promotion/emergency.py); `emergency` is the name
    # the deployment-window check reads (getattr(args, "emergency", None)).
    command.add_argument(
        "--emergency", default=None, metavar="INCIDENT_ID", help="deploy as an emergency (GATE-DP-10)"
    )
    command.add_argument("--rollback-plan", default=None, help="with --emergency: https link of the plan")
    command.add_argument(
        "--security-scan", default=None, help="with --emergency: the passed security-scan run of --commit"
    )
    command.add_argument(
        "--commit", default=os.environ.get("GITHUB_SHA"), help="the commit deployed (default: GITHUB_SHA)"
    )

    command = commands.add_parser("rollback", help="redeploy the environment's last validated image")
    common(command)
    run_arguments(command)
    command.add_argument("--reason", required=True, help="why (the failed check or the alert), for the log")

    command = commands.add_parser(
        "watch", help="wait for the canary analysis, then watch the validation window"
    )
    common(command)
    command.add_argument("--image", required=True)
    command.add_argument("--window", default=None, help="validation window (default: the policy's)")
    command.add_argument("--timeout", default="30m", help="how long the canary may take (default: 30m)")
    command.add_argument(
        "--alertmanager-url", default=os.environ.get("ALERTMANAGER_URL"), help="Alertmanager base URL"
    )

    command = commands.add_parser(
        "record-evidence", help="record the environment's evidence for its image (verified through GitHub)"
    )
    common(command)
    run_arguments(command)
    command.add_argument("--image", required=True)
    command.add_argument("--parity-root-hash", required=True)
    command.add_argument("--analysis", required=True, help="the canary analysis result (Successful)")
    command.add_argument("--window-start", required=True, type=_time)
    command.add_argument("--window-end", required=True, type=_time)

    # Issue 12, part "drill" (gate/promotion/drill.py): the scheduled rollback drill, GATE-DP-16's evidence.
    command = commands.add_parser(
        "drill", help="the rollback drill: roll the drilled stack back, then restore it and record the result"
    )
    command.add_argument(
        "phase", choices=("rollback", "restore"), help="rollback first; restore always after"
    )
    common(command)
    run_arguments(command)
    command.add_argument(
        "--parity", default="", help="restore: the parity job's result (success, failure, cancelled, skipped)"
    )
    command.add_argument("--parity-root-hash", default="", help="restore: the parity check's root hash")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 UTC time, got {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"expected a UTC time such as 2026-11-22T10:00:00Z, got {text!r}")
    return moment


def _run(args: argparse.Namespace) -> PipelineRun:
    if not args.repository or args.run_id is None:
        raise UsageError("--repository and --run-id (or GITHUB_REPOSITORY and GITHUB_RUN_ID) are required")
    try:
        return PipelineRun(repository=args.repository, run_id=args.run_id)
    except ValueError as error:
        raise UsageError(f"--repository/--run-id: {error}") from None


def _workspace(args: argparse.Namespace, outside: Outside) -> StackWorkspace:
    if outside.workspace is not None:
        return outside.workspace
    from gate.cli.main import _automation  # noqa: PLC0415 - the Automation API only when it is needed

    workspace: StackWorkspace = _automation(args.project_dir)  # type: ignore[assignment]
    return workspace


def run_command(args: argparse.Namespace, outside: Outside) -> int:
    now = clock.now(exact=True)
    if args.command == "deploy":
        # GATE-DP-19 (issue 12, part deploy): production only inside its window, unless emergency.
        window.enforce_for_stack(
            args.project_dir, args.stack, now, emergency=bool(getattr(args, "emergency", None))
        )
        run = _run(args)
        # Issue 12, part emergency: an emergency's claim is verified, else GATE-DP-17 is enforced.
        verified = emergency.precheck(
            args.project_dir,
            args.stack,
            emergency.github_for_deploy(outside.github),
            repository=run.repository,
            claim=emergency.claim_from_args(args),
            commit=args.commit,
            now=now,
        )
        applied = deploy.deploy(
            args.project_dir,
            _workspace(args, outside),
            args.stack,
            args.image,
            run,
            now=now,
            emergency=verified,
        )
        deploy.write_github_output({"image": applied.image, "previous_image": applied.previous_image or ""})
        print(f"deployed {applied.image} to {applied.stack} (it ran {applied.previous_image or 'nothing'})")
        return 0
    if args.command == "rollback":
        applied = deploy.rollback(
            args.project_dir, _workspace(args, outside), args.stack, _run(args), now=now
        )
        deploy.write_github_output({"image": applied.image})
        print(f"rolled {applied.stack} back to {applied.image} ({args.reason})")
        return 0
    if args.command == "record-evidence":
        github = outside.github or deploy.github_from_environment()
        claim = deploy.Claim(
            args.image,
            args.parity_root_hash,
            args.analysis,
            deploy.Window(args.window_start, args.window_end),
        )
        deploy.record_evidence(
            args.project_dir,
            _workspace(args, outside),
            github,
            args.stack,
            claim=claim,
            run=_run(args),
            now=now,
        )
        print(f"recorded the evidence of {args.stack} for {args.image}")
        return 0
    if args.command == "drill":
        return _drill(args, outside, now)
    return _watch(args, outside)


def _drill(args: argparse.Namespace, outside: Outside, now: datetime) -> int:
    workspace = _workspace(args, outside)
    if args.phase == "rollback":
        applied = drill_run.start(
            args.project_dir,
            workspace,
            args.stack,
            _run(args),
            now=now,
            before_apply=lambda: deploy.write_github_output({"started": "true"}),
        )
        deploy.write_github_output({"image": applied.image, "previous_image": applied.previous_image or ""})
        print(f"drill: rolled {applied.stack} back to {applied.image} (it ran {applied.previous_image})")
        return 0
    github = outside.github
    if github is None and args.parity == "success":
        github = deploy.github_from_environment()
    restored = drill_run.restore(
        args.project_dir,
        workspace,
        github,
        args.stack,
        _run(args),
        parity=args.parity,
        parity_root_hash=args.parity_root_hash or None,
        now=now,
    )
    deploy.write_github_output({"result": restored.result["result"]})
    print(
        f"drill: {restored.stack} runs {restored.image} again with its evidence; "
        f"drill {restored.result['result']} (rolled back to {restored.result['rolledBackTo']})"
    )
    return 0


def _watch(args: argparse.Namespace, outside: Outside) -> int:
    policy = stack_file_policy(args.project_dir, args.stack)
    alerts = outside.alerts
    if alerts is None:
        if not args.alertmanager_url:
            # Fail closed: a window nobody watched is no evidence.
            raise DeliveryRefused("watch needs --alertmanager-url (or ALERTMANAGER_URL) to watch the window")
        alerts = deploy.AlertmanagerAlerts(args.alertmanager_url)
    result = deploy.watch(
        policy,
        args.image,
        outside.cluster or deploy.KubectlCluster(),
        alerts,
        window_seconds=deploy.window_seconds(policy, args.window),
        timeout_seconds=deploy.window_seconds(policy, args.timeout),
        # The wall clock, not clock.now (which DELIVERY_GATE_NOW can pin): the window must pass.
        now=lambda: datetime.now(UTC),
        sleep=time.sleep,
    )
    deploy.write_github_output(
        {
            "analysis": result.analysis,
            "window_start": clock.iso(result.window.start),
            "window_end": clock.iso(result.window.end),
        }
    )
    print(f"{args.stack}: {result.analysis}: {result.reason}")
    return 0 if result.analysis == "Successful" else 1


COMMANDS = ("deploy", "rollback", "watch", "record-evidence", "drill")
