"""Deterministic traces on the Python side: produce, canonicalize, root-hash.

    python scripts/determinism.py produce --out build/traces
    python scripts/determinism.py canonicalize --in IN_DIR --out OUT_DIR
    python scripts/determinism.py root-hash build/traces

scripts/determinism.mjs replays the traces and hashes them in JavaScript.
"""

import argparse
import json
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: make `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import model

SEEDS = (1, 2, 3)
STEPS = 5


def produce(out: Path) -> None:
    """One trace per seed, as readable (not canonical) JSON."""
    out.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS:
        text = json.dumps(model.trace(seed, STEPS), indent=2)
        (out / f"seed-{seed}.json").write_text(text + "\n", encoding="utf-8")


def json_files(directory: Path) -> list[Path]:
    files = sorted(directory.rglob("*.json"))
    if not files:
        raise SystemExit(f"no JSON files under {directory}")
    return files


def load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def canonicalize(source: Path, target: Path) -> None:
    for path in json_files(source):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(model.canonical_bytes(load(path)))


def root_hash(directory: Path) -> str:
    documents = [model.canonical_bytes(load(p)) for p in json_files(directory)]
    return model.root_hash(documents)


def directory(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path names no directory")
    return Path(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    produce_cmd = commands.add_parser("produce")
    produce_cmd.add_argument("--out", type=directory, required=True)
    canon = commands.add_parser("canonicalize")
    canon.add_argument("--in", dest="source", type=directory, required=True)
    canon.add_argument("--out", type=directory, required=True)
    hash_cmd = commands.add_parser("root-hash")
    hash_cmd.add_argument("directory", type=directory)
    args = parser.parse_args(argv)
    if args.command == "produce":
        produce(args.out)
    elif args.command == "canonicalize":
        canonicalize(args.source, args.out)
    else:
        print(root_hash(args.directory))


if __name__ == "__main__":
    main()
