"""`python -m gate` as the gate's workflows call it from their delivery-gate checkout, offline.

    ephemeral up --repository OWNER/NAME --pr N [--image IMAGE]
        creates namespace <repo>-pr-N (gate/policy/prnames.py) in the world's cluster, running IMAGE
        (default: the image of the repository pushed last), which must have been pushed; its URL is
        cluster/default-url. With KUBECONFIG set (cluster credentials), the file must exist.
    ephemeral down --repository OWNER/NAME --pr N     removes it (nothing to do is fine)
    ephemeral reap [--repository OWNER/NAME] [--dry-run]
        removes every <repo>-pr-N namespace of the repository (of all, without --repository) whose
        cluster/<ns>/expired marker exists, printing what it reaped
    plan --project-dir DIR --stack STACK --out OUT    writes OUT/STACK/plan.json: the sha256 of
        every file of the Pulumi project DIR and their root hash
    diff BEFORE AFTER [--exit-code]                   a unified diff of two plan files
    deploy --stack S --image IMAGE --repository R --run-id ID
        the environment stack S (dev, staging, prod: namespaces aos-dev, aos-staging,
        aos-production) runs IMAGE, which must be pushed and pinned by digest; for a stack that
        promotes from another (staging from dev, prod from staging) IMAGE's digest must be the one
        evidenced upstream (GATE-DP-09). Writes image= and previous_image= to $GITHUB_OUTPUT.
        Issue 12, part emergency (gate/promotion/emergency.py): an ordinary deploy fails with [GATE-DP-17]
        while the world file emergency/overdue-backfill exists (its text: the overdue issues).
    deploy ... --emergency INCIDENT --rollback-plan URL --security-scan URL --commit SHA
        GATE-DP-10: no upstream evidence needed, but the security-scan run must be verified: the
        world file emergency/security-scans.json maps run URL -> {"head_sha", "conclusion"}; a
        missing URL, another commit or a conclusion other than success refuses the deploy. The
        release is recorded in emergency/S.json ({"image", "incidentId", "rollbackPlan",
        "securityScan"}).
    watch --stack S --image IMAGE
        fails unless S runs IMAGE; alerts/<environment>.json (a list of alert names) firing during
        the window fails it with analysis=Failed. Writes analysis=, window_start=, window_end=.
    record-evidence --stack S --image IMAGE --parity-root-hash H --analysis A --window-start T
        --window-end T --repository R --run-id ID
        needs GH_TOKEN; refuses an image S does not run, an analysis other than Successful and a
        malformed root hash; else writes evidence/S.json (the stack's last validated release)
    rollback --stack S --reason TEXT --repository R --run-id ID
        S runs the image of evidence/S.json again (it must still be pushed); fails when S has no
        evidence (a first deploy: nothing to roll back to). Writes image= to $GITHUB_OUTPUT.
    promote ...                                       recorded only
    window --stack S [--at ISO]
        GATE-DP-19: exit 1 (outside) when the world file window/S says "closed" (its second line,
        if any, is the reason), else exit 0 (inside); writes inside= and window= to $GITHUB_OUTPUT
    changelog record ... --out FILE
        GATE-DP-20: runs the REAL `gate changelog record` (pure, offline) of this project
    evaluate --stack S [--image IMAGE] [--release V] [--format F] ...
        GATE-DP-18: prints the world file evaluate/S.md (the table), else a table of seven PASS
        rows naming the image and release; exit 1 when the table's first line ends in "FAIL"
        (faults/gate-evaluate: exit 1 with no table)
    drill rollback --stack S --repository R --run-id ID
        GATE-DP-16 (issue 12, part drill): S's rollback target is the first image of the world
        file validated/S.json (the images S validated, newest first) other than the one it runs;
        none: exit 2, nothing changed. Else writes started=true, keeps what S ran and its
        evidence/S.json in drill/S-pending.json, runs the target (it must be pushed) and writes
        image= and previous_image=. A drill already pending: exit 2.
    drill restore --stack S --parity RESULT --parity-root-hash H --repository R --run-id ID
        puts back the pending image and evidence/S.json exactly, removes the pending file and
        writes drill/S.json: {image, rolledBackTo, ranDuringParity (what S ran when the restore
        began), parityRootHash (passed only), result: passed iff RESULT is success and H a root
        hash, else failed, repository, runId}; writes result=. No pending drill: exit 2. The
        world file faults/gate-drill-restore makes the restore fail before it changes anything.

Every call is appended to $GATE_HARNESS_WORLD/calls.jsonl as {"tool": "gate", "argv", "cwd"}.
$GATE_HARNESS_WORLD/faults/gate makes every call fail, faults/gate-<command> every call of one
command (faults/gate-record-evidence), faults/gate-<command>-<stack> its calls for one stack. The
world's layout is the stubs' (tests/support/stubs/stubkit.py).
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SKIPPED = {"venv", ".venv", "__pycache__", "node_modules", "build"}


def world() -> Path:
    root = os.environ.get("GATE_HARNESS_WORLD")
    if not root:
        raise SystemExit("fake gate: GATE_HARNESS_WORLD is not set")
    return Path(root)


def read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def pushed_image(root: Path, repository: str, image: str | None) -> str:
    """IMAGE if it was pushed, else the last image pushed for the repository's name."""
    digests: dict[str, list[str]] = read_json(root / "registry" / "digests.json", {})
    if image:
        name, _, digest = image.partition("@")
        if not digest.startswith("sha256:"):
            raise SystemExit(f"fake gate: {image} is not pinned by digest")
        if digest not in digests.get(name, []):
            raise SystemExit(f"fake gate: {image} was never pushed")
        return image
    short = repository.rsplit("/", 1)[-1].lower()
    candidates = [repo for repo in digests if repo.rsplit("/", 1)[-1] == short and digests[repo]]
    if not candidates:
        raise SystemExit(f"fake gate: no image of {repository} was pushed")
    return f"{candidates[-1]}@{digests[candidates[-1]][-1]}"


def slug(name: str) -> str:
    """gate/policy/prnames.py repository_slug, copied: this fake stands in for the `gate` package."""
    lowered = name.lower()
    cleaned = "-".join(part for part in re.split(r"[^a-z0-9]+", lowered) if part)
    if cleaned == lowered and len(cleaned) <= 40:
        return cleaned
    base = cleaned[:33].strip("-") or "repo"
    return f"{base}-{hashlib.sha256(lowered.encode()).hexdigest()[:6]}"


def names(repository: str, pr: int) -> tuple[str, str]:
    """(stack, namespace) of pull request `pr` of OWNER/NAME."""
    name = slug(repository.rsplit("/", 1)[-1])
    return f"pr-{name}-{pr}", f"{name}-pr-{pr}"


def check_cluster_credentials() -> None:
    """A kubeconfig named by KUBECONFIG must exist (the job's cluster credentials wrote it)."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig and not Path(kubeconfig).is_file():
        raise SystemExit(f"fake gate: KUBECONFIG {kubeconfig} does not exist: no cluster credentials")


def ephemeral_up(root: Path, repository: str, pr: int, image: str | None) -> int:
    check_cluster_credentials()
    stack, ns = names(repository, pr)
    namespace = root / "cluster" / ns
    running = pushed_image(root, repository, image)
    write_json(namespace / "deployments" / "aos.json", {"containers": {"app": running}})
    default_url = root / "cluster" / "default-url"
    if default_url.is_file():
        (namespace / "url").write_text(default_url.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{stack} of {repository} is up in {ns}, running {running}")
    return 0


def ephemeral_down(root: Path, repository: str, pr: int) -> int:
    check_cluster_credentials()
    stack, ns = names(repository, pr)
    namespace = root / "cluster" / ns
    existed = namespace.exists()
    shutil.rmtree(namespace, ignore_errors=True)
    print(f"{stack} of {repository}: {'destroyed' if existed else 'nothing to destroy'}")
    return 0


def ephemeral_reap(root: Path, repository: str | None, dry_run: bool) -> int:
    check_cluster_credentials()
    prefix = f"{slug(repository.rsplit('/', 1)[-1])}-pr-" if repository else ""
    reaped = []
    for namespace in sorted((root / "cluster").glob("*-pr-*")):
        if namespace.name.startswith(prefix) and (namespace / "expired").exists():
            reaped.append(namespace.name)
            if not dry_run:
                shutil.rmtree(namespace)
    for name in reaped:
        print(f"{'would reap' if dry_run else 'reap'} {name}")
    print(f"{len(reaped)} stack(s){f' of {repository}' if repository else ''} reaped")
    return 0


def plan(project_dir: Path, stack: str, out: Path) -> int:
    if not (project_dir / "Pulumi.yaml").is_file():
        raise SystemExit(f"fake gate: no Pulumi.yaml in {project_dir}")
    files = {
        path.relative_to(project_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(project_dir.rglob("*"))
        if path.is_file() and not SKIPPED.intersection(path.relative_to(project_dir).parts)
    }
    root = hashlib.sha256("".join(f"{name} {digest}\n" for name, digest in files.items()).encode())
    document = {"stack": stack, "files": files, "root_hash": f"sha256:{root.hexdigest()}"}
    write_json(out / stack / "plan.json", document)
    print(f"wrote {out / stack / 'plan.json'}")
    return 0


def diff(before: Path, after: Path, *, exit_code: bool) -> int:
    lines = list(
        difflib.unified_diff(
            before.read_text(encoding="utf-8").splitlines(keepends=True),
            after.read_text(encoding="utf-8").splitlines(keepends=True),
            fromfile=str(before),
            tofile=str(after),
        )
    )
    sys.stdout.writelines(lines)
    if not lines:
        print("no changes")
    return 1 if exit_code and lines else 0


# The environment stacks of the default chain: stack -> (its environment, the stack it promotes from).
STACKS: dict[str, tuple[str, str | None]] = {
    "dev": ("dev", None),
    "staging": ("staging", "dev"),
    "prod": ("production", "staging"),
}
ROOT_HASH = re.compile(r"(sha256:)?[0-9a-f]{64}")


def environment_of(stack: str) -> str:
    if stack not in STACKS:
        raise SystemExit(f"fake gate: no environment stack {stack!r} (known: {', '.join(STACKS)})")
    return STACKS[stack][0]


def deployment_path(root: Path, stack: str) -> Path:
    return root / "cluster" / f"aos-{environment_of(stack)}" / "deployments" / "aos.json"


def running(root: Path, stack: str) -> str:
    body: dict[str, Any] = read_json(deployment_path(root, stack), {"containers": {}})
    return str(body["containers"].get("app", ""))


def evidence_of(root: Path, stack: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = read_json(root / "evidence" / f"{stack}.json", None)
    return found


def write_outputs(**outputs: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.writelines(f"{name}={value}\n" for name, value in outputs.items())


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def emergency_claim(root: Path, stack: str, args: argparse.Namespace) -> bool:
    """Issue 12, part emergency: whether this deploy is a verified emergency; refuses an unverified
    one, and an ordinary one while a backfill is overdue (GATE-DP-17)."""
    if args.emergency is None:
        overdue = root / "emergency" / "overdue-backfill"
        if overdue.exists():
            raise SystemExit(f"[GATE-DP-17] overdue emergency backfill: {overdue.read_text().strip()}")
        return False
    if not args.rollback_plan or not args.security_scan:
        raise SystemExit("[GATE-DP-10] --emergency needs --rollback-plan and --security-scan")
    scans: dict[str, dict[str, str]] = read_json(root / "emergency" / "security-scans.json", {})
    scan = scans.get(args.security_scan, {})
    if scan.get("conclusion") != "success" or scan.get("head_sha") != args.commit:
        raise SystemExit(
            f"[GATE-DP-10] security checks are never skippable: {args.security_scan} is no passed "
            f"security scan of {args.commit} ({scan or 'unknown run'})"
        )
    record = {
        "image": args.image,
        "incidentId": args.emergency,
        "rollbackPlan": args.rollback_plan,
        "securityScan": args.security_scan,
    }
    write_json(root / "emergency" / f"{stack}.json", record)
    return True


def deploy(root: Path, stack: str, image: str, *, emergency: bool = False) -> int:
    if "@sha256:" not in image:
        raise SystemExit(f"fake gate: {image} is not pinned by digest")
    environment_of(stack)
    pushed_image(root, "", image)
    upstream = STACKS[stack][1]
    if upstream is not None and not emergency:
        evidence = evidence_of(root, upstream) or {}
        validated = str(evidence.get("image", ""))
        if validated.partition("@")[2] != image.partition("@")[2]:
            raise SystemExit(
                f"[GATE-DP-09] image digest {image.partition('@')[2]} has not been validated by "
                f"{upstream} ({upstream} validated {validated.partition('@')[2] or 'nothing'})"
            )
    previous = running(root, stack)
    write_json(deployment_path(root, stack), {"containers": {"app": image}})
    write_outputs(image=image, previous_image=previous)
    print(f"{stack}: deployed {image} (was {previous or 'nothing'})")
    return 0


def watch(root: Path, stack: str, image: str) -> int:
    environment = environment_of(stack)
    actual = running(root, stack)
    start = now()
    if actual != image:
        write_outputs(analysis="Failed", window_start=start, window_end=now())
        print(f"{stack}: the Rollout runs {actual or 'nothing'}, not {image}", file=sys.stderr)
        return 1
    firing: list[str] = read_json(root / "alerts" / f"{environment}.json", [])
    write_outputs(analysis="Failed" if firing else "Successful", window_start=start, window_end=now())
    if firing:
        print(f"{stack}: alert(s) fired during the validation window: {', '.join(firing)}", file=sys.stderr)
        return 1
    print(f"{stack}: {image} rolled out, analysis Successful, no alert in the window")
    return 0


def record_evidence(root: Path, args: argparse.Namespace) -> int:
    if not (os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")):
        raise SystemExit("fake gate: record-evidence verifies the run through the API: set GH_TOKEN")
    actual = running(root, args.stack)
    if actual != args.image:
        raise SystemExit(f"fake gate: {args.stack} runs {actual or 'nothing'}, not {args.image}: no evidence")
    if args.analysis != "Successful":
        raise SystemExit(f"fake gate: the analysis was {args.analysis!r}, not Successful: no evidence")
    if not ROOT_HASH.fullmatch(args.parity_root_hash):
        raise SystemExit(f"fake gate: {args.parity_root_hash!r} is not a parity root hash")
    evidence = {
        "image": args.image,
        "parityRootHash": args.parity_root_hash,
        "analysis": args.analysis,
        "windowStart": args.window_start,
        "windowEnd": args.window_end,
        "repository": args.repository,
        "runId": args.run_id,
    }
    write_json(root / "evidence" / f"{args.stack}.json", evidence)
    print(f"{args.stack}: evidence recorded for {args.image}")
    return 0


def rollback(root: Path, stack: str, reason: str) -> int:
    evidence = evidence_of(root, stack)
    if evidence is None:
        raise SystemExit(
            f"fake gate: nothing to roll back to: {stack} has no validated image (a first deploy); "
            "fix forward"
        )
    image = str(evidence["image"])
    pushed_image(root, "", image)
    write_json(deployment_path(root, stack), {"containers": {"app": image}})
    write_outputs(image=image)
    print(f"{stack}: rolled back to {image} ({reason})")
    return 0


def drill_rollback(root: Path, stack: str, run_id: str) -> int:
    environment_of(stack)
    pending_path = root / "drill" / f"{stack}-pending.json"
    if pending_path.is_file():
        print(f"fake gate: {stack} is in the middle of a drill: restore it first", file=sys.stderr)
        return 2
    current = running(root, stack)
    validated: list[str] = read_json(root / "validated" / f"{stack}.json", [])
    target = next((image for image in validated if image != current), None)
    if target is None:
        print(
            f"fake gate: stack {stack} has validated no image other than the one it runs "
            f"({current or 'nothing'}): nothing to roll back to, so no drill",
            file=sys.stderr,
        )
        return 2
    write_outputs(started="true")
    pending = {
        "image": current,
        "evidence": evidence_of(root, stack),
        "rolledBackTo": target,
        "runId": run_id,
    }
    write_json(pending_path, pending)
    pushed_image(root, "", target)
    write_json(deployment_path(root, stack), {"containers": {"app": target}})
    write_outputs(image=target, previous_image=current)
    print(f"{stack}: drill: rolled back to {target} (was {current})")
    return 0


def drill_restore(root: Path, args: argparse.Namespace) -> int:
    stack = args.stack
    pending_path = root / "drill" / f"{stack}-pending.json"
    pending = read_json(pending_path, None)
    if pending is None:
        print(f"fake gate: stack {stack} has no drill in progress: nothing to restore", file=sys.stderr)
        return 2
    if (root / "faults" / "gate-drill-restore").exists():
        raise SystemExit("fake gate: drill restore failed (fault injected: gate-drill-restore)")
    during = running(root, stack)
    write_json(deployment_path(root, stack), {"containers": {"app": pending["image"]}})
    evidence_path = root / "evidence" / f"{stack}.json"
    if pending["evidence"] is None:
        evidence_path.unlink(missing_ok=True)
    else:
        write_json(evidence_path, pending["evidence"])
    passed = args.parity == "success" and bool(ROOT_HASH.fullmatch(args.parity_root_hash or ""))
    record: dict[str, Any] = {
        "image": pending["image"],
        "rolledBackTo": pending["rolledBackTo"],
        "ranDuringParity": during,
        "result": "passed" if passed else "failed",
        "repository": args.repository,
        "runId": args.run_id,
    }
    if passed:
        record["parityRootHash"] = args.parity_root_hash
    write_json(root / "drill" / f"{stack}.json", record)
    pending_path.unlink()
    write_outputs(result=record["result"])
    print(f"{stack}: drill {record['result']}; runs {pending['image']} again with its evidence")
    return 0


WINDOW = "Mon, Tue, Wed, Thu 09:00-16:00 UTC"


def window(root: Path, stack: str) -> int:
    environment_of(stack)
    state = root / "window" / stack
    lines = state.read_text(encoding="utf-8").splitlines() if state.is_file() else []
    closed = bool(lines) and lines[0].strip() == "closed"
    write_outputs(inside=str(not closed).lower(), window=WINDOW)
    if closed:
        why = lines[1] if len(lines) > 1 else "Saturday is not a deployment day (Mon, Tue, Wed, Thu)"
        print(f"[GATE-DP-19] outside the deployment window ({WINDOW}): {why}")
        return 1
    print(f"[GATE-DP-19] inside the deployment window ({WINDOW})")
    return 0


def changelog(argv: list[str]) -> int:
    """The real command, from this project ($GATE_HARNESS_PROJECT): the record's rendering is
    pure and offline, so the harness runs what ships."""
    import subprocess  # noqa: PLC0415

    project = os.environ.get("GATE_HARNESS_PROJECT")
    if not project:
        raise SystemExit("fake gate: changelog needs GATE_HARNESS_PROJECT (this project's root)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATE_HARNESS")}
    command = [sys.executable, "-m", "gate", *argv]
    return subprocess.run(command, cwd=project, env=env, check=False).returncode


EVALUATION = (
    "Environment progression",
    "Progressive rollout",
    "Rollback plan",
    "Feature flags",
    "Post-deploy validation",
    "Release notes",
    "Emergency deployment",
)


def evaluate(root: Path, args: argparse.Namespace) -> int:
    environment_of(args.stack)
    given = root / "evaluate" / f"{args.stack}.md"
    if given.is_file():
        table = given.read_text(encoding="utf-8")
    else:
        rows = [f"| {name} | **PASS** | fake | fake |" for name in EVALUATION]
        head = [
            "### Evaluation criteria (GATE-DP-18): PASS",
            "",
            f"stack {args.stack}, image {args.image}, release {args.release}",
            "",
            "| Criterion | Result | Evidence | Source |",
            "|-----------|--------|----------|--------|",
        ]
        table = "\n".join(head + rows) + "\n"
    sys.stdout.write(table)
    return 1 if table.splitlines()[0].rstrip().endswith("FAIL") else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m gate", description="the fake delivery-gate CLI")
    commands = root.add_subparsers(dest="command", required=True)
    ephemeral = commands.add_parser("ephemeral").add_subparsers(dest="verb", required=True)
    for verb in ("up", "down"):
        command = ephemeral.add_parser(verb)
        command.add_argument("--repository", required=True)
        command.add_argument("--pr", type=int, required=True)
        command.add_argument("--project-dir")
        if verb == "up":
            command.add_argument("--image")
    reap = ephemeral.add_parser("reap")
    reap.add_argument("--repository")
    reap.add_argument("--dry-run", action="store_true")
    reap.add_argument("--project-dir")
    plan_command = commands.add_parser("plan")
    plan_command.add_argument("--project-dir", type=Path, required=True)
    plan_command.add_argument("--stack", required=True)
    plan_command.add_argument("--out", type=Path, required=True)
    diff_command = commands.add_parser("diff")
    diff_command.add_argument("before", type=Path)
    diff_command.add_argument("after", type=Path)
    diff_command.add_argument("--exit-code", action="store_true")
    # As the real CLI: the workflow's own run unless given (GITHUB_REPOSITORY, GITHUB_RUN_ID).
    release = {
        "--repository": {"default": os.environ.get("GITHUB_REPOSITORY")},
        "--run-id": {"default": os.environ.get("GITHUB_RUN_ID")},
    }
    arguments: dict[str, dict[str, dict[str, Any]]] = {
        "deploy": {
            "--stack": {"required": True},
            "--image": {"required": True},
            **release,
            # Issue 12, part emergency.
            **{f"--{name}": {} for name in ("emergency", "rollback-plan", "security-scan")},
            "--commit": {"default": os.environ.get("GITHUB_SHA")},
        },
        "watch": {"--stack": {"required": True}, "--image": {"required": True}},
        "record-evidence": {
            **{f"--{name}": {"required": True} for name in ("stack", "image", "parity-root-hash")},
            **{f"--{name}": {"required": True} for name in ("analysis", "window-start", "window-end")},
            **release,
        },
        "rollback": {"--stack": {"required": True}, "--reason": {"required": True}, **release},
    }
    for name, options in arguments.items():
        command = commands.add_parser(name)
        for option, settings in options.items():
            command.add_argument(option, **settings)
    commands.add_parser("promote")
    commands.add_parser("window").add_argument("--stack", required=True)
    commands.add_parser("changelog")
    evaluation = commands.add_parser("evaluate")  # issue 12, part evaluate
    for name in ("--stack", "--image", "--release", "--repo-dir", "--format"):
        evaluation.add_argument(name, required=name == "--stack")
    drill = commands.add_parser("drill")
    drill.add_argument("phase", choices=("rollback", "restore"))
    drill_options: dict[str, dict[str, Any]] = {"--stack": {"required": True}, **release}
    for option, settings in drill_options.items():
        drill.add_argument(option, **settings)
    drill.add_argument("--parity", default="")
    drill.add_argument("--parity-root-hash", default="")
    return root


# The commands a release goes through, each answered from (and changing) the world.
RELEASE_COMMANDS: dict[str, Callable[[Path, argparse.Namespace], int]] = {
    "deploy": lambda root, args: deploy(
        root, args.stack, args.image, emergency=emergency_claim(root, args.stack, args)
    ),
    "watch": lambda root, args: watch(root, args.stack, args.image),
    "record-evidence": record_evidence,
    "rollback": lambda root, args: rollback(root, args.stack, args.reason),
    "evaluate": evaluate,  # issue 12, part evaluate (GATE-DP-18)
    # Issue 12, part drill: the scheduled rollback drill (GATE-DP-16).
    "drill": lambda root, args: (
        drill_rollback(root, args.stack, args.run_id)
        if args.phase == "rollback"
        else drill_restore(root, args)
    ),
}


# A pull request's disposable environment, and the janitor.
EPHEMERAL_VERBS: dict[str, Callable[[Path, argparse.Namespace], int]] = {
    "up": lambda root, args: ephemeral_up(root, args.repository, args.pr, args.image),
    "down": lambda root, args: ephemeral_down(root, args.repository, args.pr),
    "reap": lambda root, args: ephemeral_reap(root, args.repository, args.dry_run),
}


def run(root: Path, argv: list[str]) -> int:
    if (root / "faults" / "gate").exists():
        raise SystemExit("fake gate: failed (fault injected)")
    args, _ = parser().parse_known_args(argv)
    stack = getattr(args, "stack", None)
    for fault in (f"gate-{args.command}", f"gate-{args.command}-{stack}"):
        if (root / "faults" / fault).exists():
            raise SystemExit(f"fake gate: {args.command} failed (fault injected: {fault})")
    if args.command in RELEASE_COMMANDS:
        return RELEASE_COMMANDS[args.command](root, args)
    if args.command == "ephemeral":
        return EPHEMERAL_VERBS[args.verb](root, args)
    if args.command in ("window", "changelog"):  # issue 12, part deploy
        return window(root, args.stack) if args.command == "window" else changelog(argv)
    if args.command == "plan":
        return plan(args.project_dir, args.stack, args.out)
    if args.command == "diff":
        return diff(args.before, args.after, exit_code=args.exit_code)
    print(f"fake gate: {' '.join(argv)}: recorded")
    return 0


def main(argv: list[str]) -> int:
    root = world()
    root.mkdir(parents=True, exist_ok=True)
    call = {"tool": "gate", "argv": argv, "cwd": os.getcwd()}
    with (root / "calls.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(call) + "\n")
    return run(root, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
