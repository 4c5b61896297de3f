"""A sample gated repository and the offline world its workflows run in.

- SAMPLE_REPO: the sample's tree (tests/support/sample-repo): a tiny service (app/), the Python and
  JavaScript twins of its model, the determinism and e2e scripts, golden fixtures, a k6 smoke test,
  deploy scripts, a Dockerfile and a Pulumi project (infra/). It meets every command of the gate's
  contract (gate/policy/model.py `Commands`).
- STUBS: a directory to put first on PATH: docker, trivy, kubectl, gh, pulumi, aws, curl, npx, and python
  wrappers (tests/support/stubs/stubkit.py says what each does). They record every call in the
  world and answer from it.
- FAKE_GATE: what a workflow's checkout of <owner>/delivery-gate holds (`python -m gate ...`).
- World: the scenario state ($GATE_HARNESS_WORLD): calls, faults, registry, cluster, findings,
  the environment stacks' evidence and the alerts that fire in a validation window.
- make_sample_repo / commit_change: a git repository of the sample, then a change on `feature`;
  copy_sample / write_changes: the same without git.
- Mutations (break_js_replay, ...): the changes that make one determinism check fail; MUTATIONS
  maps each to the check it breaks.
- app_server: the sample's service on a free local port, healthy, wrong or slow.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORT = Path(__file__).resolve().parent
SAMPLE_REPO = SUPPORT / "sample-repo"
STUBS = SUPPORT / "stubs"
FAKE_GATE = SUPPORT / "fake_gate"
ENVIRONMENTS = ("dev", "staging", "production")
# The stack of each environment (the gate's default chain; the fake gate knows the same).
STACKS = {"dev": "dev", "staging": "staging", "production": "prod"}
# Left out of every copy of the sample: what running it leaves behind.
_LITTER = shutil.ignore_patterns("build", "node_modules", "__pycache__", ".pytest_cache", "*.pyc")
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Sample Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Sample Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    # Fixed dates: the same tree and message give the same commit sha on every run.
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+00:00",
}


def namespace(environment: str) -> str:
    """aos-<environment>, or aos-pr-<N> for a pull request's stack pr-aos-<N> (gate/policy/prnames.py)."""
    if environment.startswith("pr-aos-"):
        return f"aos-pr-{environment.removeprefix('pr-aos-')}"
    return f"aos-{environment}"


@dataclass
class World:
    """The scenario state the stubs answer from; its layout is in tests/support/stubs/stubkit.py."""

    root: Path

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: os.environ) with the stubs first on PATH and this world selected."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join([str(STUBS), str(Path(sys.executable).parent), env.get("PATH", "")])
        env["GATE_HARNESS_WORLD"] = str(self.root)
        env["GATE_HARNESS_PYTHON"] = sys.executable
        return env

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        path = self.root / "calls.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        calls = [json.loads(line) for line in lines if line.strip()]
        return [call for call in calls if tool is None or call["tool"] == tool]

    def fault(self, name: str) -> None:
        """faults/<name>: a tool name (every call of it fails) or rollout-<namespace>."""
        (self.root / "faults").mkdir(parents=True, exist_ok=True)
        (self.root / "faults" / name).touch()

    def set_findings(
        self, image: Sequence[str] = (), fs: Sequence[str] = (), config: Sequence[str] = ()
    ) -> None:
        """Severities (CRITICAL, HIGH, ...) of the findings trivy reports per scan kind."""
        findings = {"image": list(image), "fs": list(fs), "config": list(config)}
        self._write(self.root / "trivy" / "findings.json", findings)

    def deployed_image(self, environment: str) -> str | None:
        path = self.root / "cluster" / namespace(environment) / "deployments" / "aos.json"
        if not path.is_file():
            return None
        image: str = json.loads(path.read_text(encoding="utf-8"))["containers"]["app"]
        return image

    def set_deployed(self, environment: str, image: str, *, pushed: bool = True) -> None:
        """A previous release running in aos-<environment>; `pushed`: its digest is in the registry."""
        path = self.root / "cluster" / namespace(environment) / "deployments" / "aos.json"
        self._write(path, {"containers": {"app": image}})
        if pushed:
            self.push(image)

    def push(self, image: str) -> None:
        """Records `<repository>@sha256:...` (or `<repository>:<tag>`) as pushed."""
        repository, _, digest = image.partition("@")
        if not digest:
            raise ValueError(f"{image} is not pinned by digest")
        digests = self._read(self.root / "registry" / "digests.json", {})
        if digest not in digests.setdefault(repository, []):
            digests[repository].append(digest)
        self._write(self.root / "registry" / "digests.json", digests)

    def set_evidence(self, stack: str, image: str, *, run_id: str = "900") -> None:
        """evidence/<stack>.json: `image` is the stack's last validated release (the rollback target,
        and what the next stack's `gate deploy` may receive), recorded by an earlier run."""
        evidence = {
            "image": image,
            "parityRootHash": "sha256:" + "a" * 64,
            "analysis": "Successful",
            "windowStart": "2025-01-01T00:00:00Z",
            "windowEnd": "2025-01-01T00:30:00Z",
            "repository": "acme/aos",
            "runId": run_id,
        }
        self._write(self.root / "evidence" / f"{stack}.json", evidence)

    def evidence(self, stack: str) -> dict[str, Any] | None:
        """What the fake `gate record-evidence` stored for the stack, if anything."""
        found: dict[str, Any] | None = self._read(self.root / "evidence" / f"{stack}.json", None)
        return found

    def fire_alerts(self, environment: str, *alerts: str) -> None:
        """Alerts that fire during the validation window `gate watch` observes in the environment."""
        self._write(self.root / "alerts" / f"{environment}.json", list(alerts))

    def set_url(self, environment: str, url: str) -> None:
        """The URL (ingress annotation) of aos-<environment>."""
        path = self.root / "cluster" / namespace(environment) / "url"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(url + "\n", encoding="utf-8")

    def set_default_url(self, url: str) -> None:
        """The URL that `gate ephemeral up` (the fake gate) gives each new pr-<repo>-<N> environment."""
        (self.root / "cluster").mkdir(parents=True, exist_ok=True)
        (self.root / "cluster" / "default-url").write_text(url + "\n", encoding="utf-8")

    def expire(self, namespace: str) -> None:
        """Marks a PR namespace (e.g. aos-pr-7) as past its TTL: the fake gate's reap removes it."""
        path = self.root / "cluster" / namespace / "expired"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def namespaces(self) -> list[str]:
        return sorted(p.name for p in (self.root / "cluster").glob("*") if p.is_dir())

    def set_github_api(self, path: str, answer: object) -> None:
        """What `gh api <path>` (a GET, e.g. repos/acme/aos/pulls/7/reviews) answers: JSON."""
        self._write(self.root / "github" / "api" / f"{path.strip('/')}.json", answer)

    def set_stack_outputs(self, stack: str, outputs: Mapping[str, Any]) -> None:
        """What `pulumi stack output --json --stack <stack>` prints: the stack's state after `up`."""
        self._write(self.root / "pulumi" / stack / "outputs.json", dict(outputs))

    def set_drift(self, stack: str, changes: str) -> None:
        """`pulumi preview --stack <stack>` proposes `changes` (text, as pulumi prints them)."""
        path = self.root / "pulumi" / stack / "drift"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(changes + "\n", encoding="utf-8")

    def issue_comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        """The comments of issue or pull request `number`, as the gh stub keeps them."""
        path = self.root / "github" / "api" / "repos" / repository / "issues" / str(number) / "comments.json"
        comments: list[dict[str, Any]] = self._read(path, [])
        return comments

    def pushed_digests(self) -> set[str]:
        digests: dict[str, list[str]] = self._read(self.root / "registry" / "digests.json", {})
        return {digest for pushed in digests.values() for digest in pushed}

    def pushed_images(self) -> dict[str, dict[str, str]]:
        """{repository: {tag: digest}} as pushed by `docker buildx build --push`."""
        images: dict[str, dict[str, str]] = self._read(self.root / "registry" / "images.json", {})
        return images

    def logins(self) -> list[str]:
        logins: list[str] = self._read(self.root / "docker" / "logins.json", [])
        return logins

    @staticmethod
    def _read(path: Path, default: Any) -> Any:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default

    @staticmethod
    def _write(path: Path, data: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def make_world(path: Path) -> World:
    """A fresh world under `path` (path/world): no calls, faults, images or deployments."""
    root = path / "world"
    for directory in ("faults", "docker", "registry", "trivy", "cluster"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "calls.jsonl").touch()
    return World(root)


# -- the sample as a git repository ------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args]
    env = {**os.environ, **_GIT_IDENTITY}
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}:\n{result.stderr}")
    return result.stdout.strip()


def write_changes(repo: Path, changes: Mapping[str, str | None]) -> None:
    """Writes (text) or deletes (None) files under `repo`; *.sh files are made executable."""
    for relative, text in changes.items():
        path = repo / relative
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(0o755)


def copy_sample(path: Path) -> Path:
    """The sample tree, without litter, into `path` (which must not exist); scripts kept executable."""
    shutil.copytree(SAMPLE_REPO, path, ignore=_LITTER)
    for script in (path / "scripts").glob("*.sh"):
        script.chmod(0o755)
    return path


def make_sample_repo(
    path: Path, *, owner: str = "acme", name: str = "aos", files: Mapping[str, str] | None = None
) -> tuple[Path, str, str]:
    """The sample, plus `files` (the gate's rendered files, e.g. .github/workflows/*.yml), committed
    as the base commit on `main` of a new repository at `path` (origin: github.com/<owner>/<name>).
    Returns (path, base_sha, head_sha); head is base until commit_change adds a commit."""
    copy_sample(path)
    write_changes(path, dict(files or {}))
    _git(path, "init", "-q")
    _git(path, "remote", "add", "origin", f"https://github.com/{owner}/{name}.git")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "Base: the aos service under the delivery gate")
    base = _git(path, "rev-parse", "HEAD")
    return path, base, base


def commit_change(repo: Path, changes: Mapping[str, str | None], message: str) -> str:
    """Writes (text) or deletes (None) files and commits them on branch `feature`; returns the sha."""
    if _git(repo, "rev-parse", "--abbrev-ref", "HEAD") != "feature":
        _git(repo, "switch", "-q", "-C", "feature")
    write_changes(repo, changes)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


# -- scenario mutations: pure, each the `changes` for commit_change ------------------------------


def _replace(relative: str, old: str, new: str) -> dict[str, str]:
    text = (SAMPLE_REPO / relative).read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise AssertionError(f"{relative}: expected exactly one {old!r} to change")
    return {relative: text.replace(old, new)}


def break_js_replay() -> dict[str, str]:
    """The JS replay starts from the wrong seed: every trace diverges (parity fails)."""
    return _replace(
        "scripts/determinism.mjs",
        "trace(recorded.seed, recorded.steps.length)",
        "trace(recorded.seed + 1, recorded.steps.length)",
    )


def make_canonicalize_unstable() -> dict[str, str]:
    """canonicalize stamps each file with the clock: two runs differ (canonical JSON fails)."""
    return _replace(
        "scripts/determinism.py",
        "out.write_bytes(model.canonical_bytes(load(path)))",
        'stamp = {"at": __import__("time").time_ns()}\n'
        "        out.write_bytes(model.canonical_bytes([load(path), stamp]))",
    )


def edit_golden_fixture() -> dict[str, str]:
    """A golden fixture edited by hand: still canonical, no longer what is produced."""
    return _replace("tests/golden/seed-1.json", '"final_balance":1302', '"final_balance":1303')


def change_producer_without_fixtures() -> dict[str, str]:
    """The producer writes longer traces; the golden fixtures are left as they were."""
    return _replace("scripts/determinism.py", "STEPS = 5\n", "STEPS = 6\n")


def change_producer_with_fixtures() -> dict[str, str | None]:
    """The same producer change with the golden fixtures regenerated by it: every check passes."""
    changes: dict[str, str | None] = dict(change_producer_without_fixtures())
    with tempfile.TemporaryDirectory(prefix="sample-golden-") as scratch:
        repo = copy_sample(Path(scratch) / "repo")
        write_changes(repo, changes)
        for args in (
            ("produce", "--out", "build/traces"),
            ("canonicalize", "--in", "build/traces", "--out", "build/golden"),
        ):
            subprocess.run([sys.executable, "scripts/determinism.py", *args], cwd=repo, check=True)
        golden = repo / "build" / "golden"
        produced = {f"tests/golden/{p.relative_to(golden).as_posix()}": p for p in golden.rglob("*.json")}
        for old in (SAMPLE_REPO / "tests" / "golden").rglob("*"):
            if old.is_file():
                changes[f"tests/golden/{old.relative_to(SAMPLE_REPO / 'tests' / 'golden').as_posix()}"] = None
        changes.update({name: path.read_text(encoding="utf-8") for name, path in produced.items()})
    return changes


def make_root_hashes_differ() -> dict[str, str]:
    """The JS root hash hashes the files as written, not their canonical form."""
    return _replace(
        "scripts/determinism.mjs",
        "rootHash(files.map((file) => canonical(load(file))))",
        'rootHash(files.map((file) => readFileSync(file, "utf8")))',
    )


def make_root_hashes_empty() -> dict[str, str]:
    """Both root-hash commands print nothing and exit 0."""
    python = _replace(
        "scripts/determinism.py", "print(root_hash(args.directory))", "root_hash(args.directory)"
    )
    js = _replace(
        "scripts/determinism.mjs",
        "console.log(rootHash(files.map((file) => canonical(load(file)))));",
        "rootHash(files.map((file) => canonical(load(file))));",
    )
    return {**python, **js}


@dataclass(frozen=True)
class Mutation:
    changes: Callable[[], Mapping[str, str | None]]
    breaks: str | None  # the gate check that must fail (gate/policy/model.py check names); None: all pass


MUTATIONS: dict[str, Mutation] = {
    "break_js_replay": Mutation(break_js_replay, "determinism-cross-language-parity"),
    "make_canonicalize_unstable": Mutation(make_canonicalize_unstable, "determinism-canonical-json"),
    "edit_golden_fixture": Mutation(edit_golden_fixture, "determinism-canonical-json"),
    "change_producer_without_fixtures": Mutation(
        change_producer_without_fixtures, "determinism-canonical-json"
    ),
    "change_producer_with_fixtures": Mutation(change_producer_with_fixtures, None),
    "make_root_hashes_differ": Mutation(make_root_hashes_differ, "determinism-root-hash"),
    "make_root_hashes_empty": Mutation(make_root_hashes_empty, "determinism-root-hash"),
}


# -- the service -------------------------------------------------------------------------------

_LAUNCHER = """
import sys
from app import model, server

mode = sys.argv[1]
if mode == "mismatch":
    def trace(seed, steps):
        wrong = model.trace(seed, steps)
        wrong["final_balance"] = int(wrong["final_balance"]) + 1
        return wrong
    httpd = server.make_server("127.0.0.1", 0, trace=trace)
elif mode == "slow":
    httpd = server.make_server("127.0.0.1", 0, delay=0.3)
else:
    httpd = server.make_server("127.0.0.1", 0)
server.serve(httpd)
"""
APP_MODES = ("ok", "mismatch", "slow")


@contextmanager
def app_server(*, mode: str = "ok", start_timeout: float = 10.0) -> Iterator[str]:
    """The sample's app/server.py on 127.0.0.1:<free port>; yields its base URL, stops it on exit.
    Modes: ok; mismatch (traces differ from the model's, so the e2e diff fails); slow (~300 ms a
    request, so a k6 run with P95_MS=100 breaches its threshold)."""
    if mode not in APP_MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(APP_MODES)}")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, mode],
            cwd=SAMPLE_REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            yield _await_listening(process, errors, start_timeout)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            if process.stdout:
                process.stdout.close()


def _await_listening(process: subprocess.Popen[str], errors: Any, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if match := re.match(r"listening on (http://\S+)", line):
                    return match.group(1)
    errors.seek(0)
    raise RuntimeError(f"the sample server did not start: {errors.read().decode(errors='replace')[-2000:]}")
