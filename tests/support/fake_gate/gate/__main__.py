"""`python -m gate` as the gate's workflows call it from their delivery-gate checkout, offline.

    ephemeral up --repository OWNER/NAME --pr N [--image IMAGE]
        creates namespace <repo>-pr-N (gate/prnames.py) in the world's cluster, running IMAGE
        (default: the image of the repository pushed last), which must have been pushed; its URL is
        cluster/default-url. With KUBECONFIG set (cluster credentials), the file must exist.
    ephemeral down --repository OWNER/NAME --pr N     removes it (nothing to do is fine)
    ephemeral reap [--repository OWNER/NAME] [--dry-run]
        removes every <repo>-pr-N namespace of the repository (of all, without --repository) whose
        cluster/<ns>/expired marker exists, printing what it reaped
    plan --project-dir DIR --stack STACK --out OUT    writes OUT/STACK/plan.json: the sha256 of
        every file of the Pulumi project DIR and their root hash
    diff BEFORE AFTER [--exit-code]                   a unified diff of two plan files
    promote ..., record-validation ...                recorded only

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
import re
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


def slug(name: str) -> str:
    """gate/prnames.py repository_slug, copied: this fake stands in for the `gate` package."""
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
    if args.command == "ephemeral" and args.verb == "reap":
        return ephemeral_reap(root, args.repository, args.dry_run)
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
