"""End-to-end parity: the live service against the local model.

    python scripts/e2e.py simulate --target URL --out build/e2e
    python scripts/e2e.py run --target URL --out build/e2e
    python scripts/e2e.py replay --out build/e2e
    python scripts/e2e.py diff build/e2e

simulate writes the interactions the model expects (simulated.json); run
performs them against the target and hashes what it answered (run.json);
replay re-derives that hash from the recorded requests with the local model
(replay.json); diff succeeds only when both hashes exist and are equal.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

if __name__ == "__main__":  # run as a script: make `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import model

SEEDS = (1, 2, 3)
TIMEOUT = 5.0


def write(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def read(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run the steps before this one")
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise SystemExit(f"{path} holds no JSON object")
    return document


def records(path: Path, key: str) -> list[dict[str, object]]:
    found = read(path).get(key)
    if not isinstance(found, list) or not found:
        raise SystemExit(f"{path} records no {key}")
    return found


def answers_hash(answers: list[dict[str, object]]) -> str:
    return model.root_hash(model.canonical_bytes(a) for a in answers)


def expected(path: str) -> dict[str, object]:
    """What the model answers to a request path."""
    seed = int(parse_qs(urlsplit(path).query)["seed"][0])
    return {"status": 200, "body": model.trace(seed)}


def simulate(target: str, out: Path) -> None:
    paths = [f"/api/trace?seed={seed}" for seed in SEEDS]
    interactions = [{"path": p, **expected(p)} for p in paths]
    write(
        out / "simulated.json",
        {
            "target": target,
            "interactions": interactions,
            "root_hash": answers_hash(interactions),
        },
    )


def fetch(url: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return {"status": response.status, "body": json.load(response)}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode()}
    except (OSError, ValueError) as error:
        raise SystemExit(f"GET {url} failed: {error}") from error


def run(target: str, out: Path) -> None:
    if urlsplit(target).scheme not in ("http", "https"):
        raise SystemExit(f"target {target!r} is not an http(s) URL")
    responses = []
    for interaction in records(out / "simulated.json", "interactions"):
        path = str(interaction["path"])
        responses.append({"path": path, **fetch(target.rstrip("/") + path)})
    answers = [{"status": r["status"], "body": r["body"]} for r in responses]
    write(
        out / "run.json",
        {
            "target": target,
            "responses": responses,
            "root_hash": answers_hash(answers),
        },
    )


def replay(out: Path) -> None:
    responses = records(out / "run.json", "responses")
    answers = [expected(str(r["path"])) for r in responses]
    write(out / "replay.json", {"root_hash": answers_hash(answers)})


def diff(out: Path) -> int:
    run_hash = read(out / "run.json").get("root_hash") or ""
    replay_hash = read(out / "replay.json").get("root_hash") or ""
    hashes = f"run {run_hash or '(none)'}, replay {replay_hash or '(none)'}"
    if not run_hash or not replay_hash:
        print(f"root hash missing: {hashes}", file=sys.stderr)
        return 1
    if run_hash != replay_hash:
        print(f"root hashes differ: {hashes}", file=sys.stderr)
        return 1
    print(f"root hashes match: {run_hash}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("simulate", "run"):
        command = commands.add_parser(name)
        command.add_argument("--target", required=True)
        command.add_argument("--out", type=Path, required=True)
    replay_command = commands.add_parser("replay")
    replay_command.add_argument("--out", type=Path, required=True)
    commands.add_parser("diff").add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "simulate":
        simulate(args.target, args.out)
    elif args.command == "run":
        run(args.target, args.out)
    elif args.command == "replay":
        replay(args.out)
    else:
        return diff(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
