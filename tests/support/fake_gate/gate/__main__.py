"""`python -m gate` as the gate's workflows call it from their delivery-gate checkout, offline.

    ephemeral up --repository OWNER/NAME --pr N [--image IMAGE]
        creates namespace aos-pr-N in the world's cluster, running IMAGE (default: the image of the
        repository pushed last), which must have been pushed; its URL is cluster/default-url
    ephemeral down --repository OWNER/NAME --pr N     removes it (nothing to do is fine)
    plan --project-dir DIR --stack STACK --out OUT    writes OUT/STACK/plan.json: the sha256 of
        every file of the Pulumi project DIR and their root hash
    diff BEFORE AFTER [--exit-code]                   a unified diff of two plan files
    rollback --stack STACK --reason TEXT              the contract of the real command: exit 0
        once the environment runs its last validated image; here it succeeds (recorded) unless
        faults/gate exists, as every call
    promote ..., record-validation ..., ephemeral reap ...   recorded only

Every call is appended to $GATE_HARNESS_WORLD/calls.jsonl as {"tool": "gate", "argv", "cwd"}, and
$GATE_HARNESS_WORLD/faults/gate makes every call fail. The world's layout is the stubs'
(tests/support/stubs/stubkit.py).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import shutil
import sys
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


def ephemeral_up(root: Path, repository: str, pr: int, image: str | None) -> int:
    namespace = root / "cluster" / f"aos-pr-{pr}"
    running = pushed_image(root, repository, image)
    write_json(namespace / "deployments" / "aos.json", {"containers": {"app": running}})
    default_url = root / "cluster" / "default-url"
    if default_url.is_file():
        (namespace / "url").write_text(default_url.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"pr-{pr} of {repository} is up in aos-pr-{pr}, running {running}")
    return 0


def ephemeral_down(root: Path, repository: str, pr: int) -> int:
    namespace = root / "cluster" / f"aos-pr-{pr}"
    existed = namespace.exists()
    shutil.rmtree(namespace, ignore_errors=True)
    print(f"pr-{pr} of {repository}: {'destroyed' if existed else 'nothing to destroy'}")
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
    ephemeral.add_parser("reap")
    plan_command = commands.add_parser("plan")
    plan_command.add_argument("--project-dir", type=Path, required=True)
    plan_command.add_argument("--stack", required=True)
    plan_command.add_argument("--out", type=Path, required=True)
    diff_command = commands.add_parser("diff")
    diff_command.add_argument("before", type=Path)
    diff_command.add_argument("after", type=Path)
    diff_command.add_argument("--exit-code", action="store_true")
    rollback = commands.add_parser("rollback")
    rollback.add_argument("--stack", required=True)
    rollback.add_argument("--reason", required=True)
    commands.add_parser("promote")
    commands.add_parser("record-validation")
    return root


def run(root: Path, argv: list[str]) -> int:
    if (root / "faults" / "gate").exists():
        raise SystemExit("fake gate: failed (fault injected)")
    args, _ = parser().parse_known_args(argv)
    if args.command == "ephemeral" and args.verb == "up":
        return ephemeral_up(root, args.repository, args.pr, args.image)
    if args.command == "ephemeral" and args.verb == "down":
        return ephemeral_down(root, args.repository, args.pr)
    if args.command == "plan":
        return plan(args.project_dir, args.stack, args.out)
    if args.command == "diff":
        return diff(args.before, args.after, exit_code=args.exit_code)
    if args.command == "rollback":
        print(f"fake gate: {args.stack} is back on its last validated image ({args.reason})")
        return 0
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
