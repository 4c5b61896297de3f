"""Offline stand-ins for the CLIs that the gate's workflows call in a gated repository.

Each executable in this directory (docker, trivy, kubectl, gh, pulumi, aws, curl, npx, python, python3)
is a bash line that runs `_run`, which runs this file with a real Python 3 (standard library only).
Every call appends one JSON line {"tool", "argv", "cwd"} (and "env": the TRIVY_* settings) to
$GATE_HARNESS_WORLD/calls.jsonl, then
answers from the scenario state under that directory, the "world" (built by
tests/support/sample_world.py):

    calls.jsonl                     every call, in order
    faults/<tool>                   that tool fails every call (kubectl: "Unable to connect ...")
    faults/rollout-<namespace>      `kubectl rollout status` fails there
    docker/logins.json              ["ghcr.io", ...]: registries `docker login` succeeded for
    docker/local.json               {"<repo>:<tag>": "sha256:..."}: images built with --load
    registry/images.json            {"<repo>": {"<tag>": "sha256:..."}}: tags pushed
    registry/digests.json           {"<repo>": ["sha256:...", ...]}: digests pushed, in push order
    trivy/findings.json             {"image": ["CRITICAL", ...], "fs": [...], "config": [...]}
    cluster/<ns>/deployments/<name>.json   {"containers": {"app": "<image>"}}
    cluster/<ns>/url                the delivery-gate.io/url annotation of ingress `aos`
    cluster/default-url             the URL `gate ephemeral up` (the fake gate) gives a new PR
                                    environment (namespace <repo>-pr-<N>)
    evidence/<stack>.json           the environment stack's last validated release, as the fake
                                    `gate record-evidence` stores it: {"image", "parityRootHash",
                                    "analysis", "windowStart", "windowEnd", "repository",
                                    "runId"}; `gate deploy` of the next stack checks its digest,
                                    `gate rollback` redeploys its image (stacks dev, staging,
                                    prod run in aos-dev, aos-staging, aos-production)
    alerts/<environment>.json       ["ErrorRateIncrease", ...]: alerts that fire during the
                                    validation window `gate watch` observes there
    faults/gate, faults/gate-<command>, faults/gate-<command>-<stack>
                                    the fake gate fails every call, every call of one command
                                    (e.g. gate-record-evidence), or its calls for one stack
    cluster/<ns>/expired            that PR namespace is past its TTL: the fake gate's reap removes it
    github/api/<path>.json          what `gh api <path>` (a GET) prints, e.g.
                                    github/api/repos/acme/aos/pulls/7/reviews.json; a missing
                                    file is "gh: Not Found (HTTP 404)". Without GH_TOKEN (or
                                    GITHUB_TOKEN) it fails as gh does in Actions; the call records
                                    "token": the first 12 hex digits of the token's sha256.
                                    `gh api -X POST repos/<o>/<r>/issues/<n>/comments -F body=@f`
                                    appends {"id", "body", "user"} to that path's file (ids from
                                    1001, user github-actions[bot]); `-X PATCH
                                    repos/<o>/<r>/issues/comments/<id>` edits one ("edited": true).
    pulumi/<stack>/outputs.json     what `pulumi stack output --json --stack <stack>` prints; none:
                                    "error: no stack named '<stack>' found" (exit 255)
    pulumi/<stack>/drift            `pulumi preview --stack <stack>` proposes this text as changes;
                                    with --expect-no-changes it fails: "error: no changes were
                                    expected but changes were proposed" (exit 255)
                                    "token": the first 12 hex digits of the token's sha256. The
                                    query string is ignored: every stored issue is printed, and a
                                    repository without issues.json has none ([]).
                                    `gh issue create` appends the issue it opens (number, title,
                                    body from -b/--body or --body-file - (stdin), labels, state
                                    open) to github/api/repos/<owner>/<repo>/issues.json, so a later
                                    `gh api repos/<owner>/<repo>/issues` sees it, as on GitHub.
    curl/responses/<host>.json      what `curl` prints for a request to that host (default
                                    {"status": "success"}). The call records "data" (the file of
                                    --data @FILE) and "headers" (-H values, and the lines of
                                    -H @FILE).

`aws eks update-kubeconfig` needs AWS credentials in its environment and writes the kubeconfig it
is given (a user that runs `aws eks get-token`); the call records "role", whose credentials they
were (the harness's configure-aws-credentials fake names the role in its session token).

An image's digest is the sha256 of its build context (sorted paths and bytes, without .git, build/
and what .dockerignore lists), so every build of one commit gives the same digest.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
FAULT_MESSAGES = {
    "kubectl": "Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused",
    "docker": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is it running?",
    "aws": "An error occurred (ExpiredToken) when calling the operation: the security token has expired",
    "gh": "HTTP 503: Service Unavailable (https://api.github.com/)",
    "pulumi": "error: failed to reach the Pulumi backend",
    "trivy": "FATAL: failed to download the vulnerability DB",
    "curl": "curl: (22) The requested URL returned error: 500",
}


class StubError(Exception):
    """A failure as the real tool would report it: the message on stderr, then `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- the world -------------------------------------------------------------------------------


def world_root() -> Path:
    root = os.environ.get("GATE_HARNESS_WORLD")
    if not root:
        raise StubError("stub: GATE_HARNESS_WORLD is not set (the stubs answer from a scenario)", 2)
    return Path(root)


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Serialises the read-modify-write of world state across concurrent stub calls."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record(root: Path, entry: dict[str, object]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with (root / "calls.jsonl").open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)


def faulted(root: Path, name: str) -> bool:
    return (root / "faults" / name).exists()


# -- image references and the registry -------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> Reference:
        name, _, digest = text.partition("@")
        tag = None
        if name.rfind(":") > name.rfind("/"):
            name, _, tag = name.rpartition(":")
        if not name:
            raise StubError(f"invalid reference format: {text!r}")
        return cls(name, tag if tag or digest else "latest", digest or None)

    @property
    def registry(self) -> str:
        first, slash, _ = self.repository.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            return first
        return "docker.io"


def normalise_registry(server: str) -> str:
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in ("", "index.docker.io", "registry-1.docker.io") else host


def is_pushed(root: Path, reference: Reference) -> bool:
    if reference.digest:
        digests = read_json(root / "registry" / "digests.json", {})
        return reference.digest in digests.get(reference.repository, [])
    tags = read_json(root / "registry" / "images.json", {})
    return reference.tag in tags.get(reference.repository, {})


def is_local(root: Path, reference: Reference) -> bool:
    local: dict[str, str] = read_json(root / "docker" / "local.json", {})
    if reference.digest:
        return any(
            key.rpartition(":")[0] == reference.repository and digest == reference.digest
            for key, digest in local.items()
        )
    return f"{reference.repository}:{reference.tag}" in local


# -- argument parsing ------------------------------------------------------------------------


@dataclass
class Parsed:
    options: dict[str, list[str]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    positionals: list[str] = field(default_factory=list)

    def last(self, *names: str) -> str | None:
        values = [value for name in names for value in self.options.get(name, [])]
        return values[-1] if values else None

    def all(self, *names: str) -> list[str]:
        return [value for name in names for value in self.options.get(name, [])]


def parse(args: Sequence[str], takes_value: set[str]) -> Parsed:
    """`--name value`, `--name=value`, `-n value`, `-nvalue` (short options that take a value),
    boolean flags; anything else is positional. Unknown options are kept as boolean flags."""
    parsed = Parsed()
    items = list(args)
    while items:
        item = items.pop(0)
        if item == "--":
            parsed.positionals += items
            break
        if item.startswith("--") and "=" in item:
            name, _, value = item.partition("=")
            parsed.options.setdefault(name, []).append(value)
        elif item in takes_value:
            if not items:
                raise StubError(f"flag needs an argument: {item}")
            parsed.options.setdefault(item, []).append(items.pop(0))
        elif item[:2] in takes_value and len(item) > 2 and not item.startswith("--"):
            parsed.options.setdefault(item[:2], []).append(item[2:].removeprefix("="))
        elif item.startswith("-") and item != "-":
            parsed.flags.add(item)
        else:
            parsed.positionals.append(item)
    return parsed


# -- docker ----------------------------------------------------------------------------------

BUILD_VALUE_FLAGS = {
    "-t", "--tag", "-f", "--file", "--metadata-file", "--iidfile", "--platform", "--label",
    "--build-arg", "--cache-from", "--cache-to", "-o", "--output", "--target", "--secret", "--ssh",
    "--provenance", "--sbom", "--attest", "--builder", "--progress", "--network", "--annotation",
    "--build-context", "--add-host", "--shm-size", "--ulimit", "--allow", "--call", "--cgroup-parent",
    "--no-cache-filter",
}  # fmt: skip


def dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line.strip("/") for line in lines if line and not line.startswith(("#", "!"))]


def ignored(relative: str, patterns: Sequence[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in ["build", ".git", *patterns]:
        variants = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(prefix, v) for prefix in prefixes for v in variants):
            return True
    return False


def context_digest(context: Path, dockerfile: Path) -> str:
    patterns = dockerignore(context)
    digest = hashlib.sha256()
    files = sorted(p for p in context.rglob("*") if p.is_file() and not p.is_symlink())
    for path in files:
        relative = path.relative_to(context).as_posix()
        if not ignored(relative, patterns):
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"Dockerfile\0" + dockerfile.read_bytes())
    return "sha256:" + digest.hexdigest()


def docker_login(root: Path, args: Sequence[str]) -> int:
    parsed = parse(args, {"-u", "--username", "-p", "--password"})
    server = normalise_registry(parsed.positionals[0] if parsed.positionals else "docker.io")
    if not parsed.last("-u", "--username"):
        raise StubError("Error: Cannot perform an interactive login from a non TTY device (no --username)")
    password = sys.stdin.read() if "--password-stdin" in parsed.flags else parsed.last("-p", "--password")
    if not (password or "").strip():
        raise StubError("Error: Cannot perform an interactive login from a non TTY device (no password)")
    with locked(root):
        logins = set(read_json(root / "docker" / "logins.json", []))
        write_json(root / "docker" / "logins.json", sorted(logins | {server}))
    print("Login Succeeded")
    return 0


def docker_logout(root: Path, args: Sequence[str]) -> int:
    server = normalise_registry(args[0] if args else "docker.io")
    with locked(root):
        logins = set(read_json(root / "docker" / "logins.json", []))
        write_json(root / "docker" / "logins.json", sorted(logins - {server}))
    print(f"Removing login credentials for {server}")
    return 0


def push_images(root: Path, references: Sequence[Reference], digest: str) -> None:
    """Records a push (the caller holds the lock); refused for a registry not logged in to."""
    logins = set(read_json(root / "docker" / "logins.json", []))
    for reference in references:
        if reference.registry not in logins:
            raise StubError(
                f"ERROR: failed to push {reference.repository}: denied: not logged in to {reference.registry}"
            )
    images = read_json(root / "registry" / "images.json", {})
    digests = read_json(root / "registry" / "digests.json", {})
    for reference in references:
        images.setdefault(reference.repository, {})[reference.tag or "latest"] = digest
        pushed = digests.setdefault(reference.repository, [])
        if digest not in pushed:
            pushed.append(digest)
        print(f"#9 pushing {reference.repository}:{reference.tag} with digest {digest} done")
    write_json(root / "registry" / "images.json", images)
    write_json(root / "registry" / "digests.json", digests)


def docker_build(root: Path, args: Sequence[str]) -> int:
    parsed = parse(args, BUILD_VALUE_FLAGS)
    if len(parsed.positionals) != 1:
        raise StubError('ERROR: "docker buildx build" requires exactly 1 argument (the context)')
    context = Path(parsed.positionals[0])
    if not context.is_dir():
        raise StubError(f"ERROR: unable to prepare context: path {str(context)!r} not found")
    dockerfile = Path(parsed.last("-f", "--file") or context / "Dockerfile")
    if not dockerfile.is_file():
        raise StubError(f"ERROR: failed to read dockerfile: open {dockerfile}: no such file or directory")
    outputs = parsed.all("-o", "--output")
    push = "--push" in parsed.flags or any("type=registry" in o or "push=true" in o for o in outputs)
    load = "--load" in parsed.flags or any("type=docker" in o for o in outputs)
    tags = parsed.all("-t", "--tag")
    references = [Reference.parse(tag) for tag in tags]
    if push and not tags:
        raise StubError("ERROR: tag is needed when pushing to registry")
    digest = context_digest(context, dockerfile)
    print(f"#1 [internal] load build definition from {dockerfile.name}")
    print(f"#9 exporting to image\n#9 writing image {digest} done")
    with locked(root):
        if push:
            push_images(root, references, digest)
        if load:
            local = read_json(root / "docker" / "local.json", {})
            local.update({f"{r.repository}:{r.tag or 'latest'}": digest for r in references})
            write_json(root / "docker" / "local.json", local)
    if not push and not load:
        print("WARNING: No output specified: the build result will only remain in the build cache")
    if metadata := parsed.last("--metadata-file"):
        write_json(Path(metadata), {"containerimage.digest": digest, "image.name": ",".join(tags)})
    if iidfile := parsed.last("--iidfile"):
        Path(iidfile).write_text(digest, encoding="utf-8")
    return 0


def docker(root: Path, args: list[str], call: dict[str, object]) -> int:
    match args:
        case ["version" | "--version", *_]:
            print("Docker version 27.0.0-stub, build stub")
            return 0
        case ["buildx", "version", *_]:
            print("github.com/docker/buildx v0.17.0-stub stub")
            return 0
        case ["login", *rest]:
            return docker_login(root, rest)
        case ["logout", *rest]:
            return docker_logout(root, rest)
        case ["buildx", "build", *rest] | ["build", *rest]:
            return docker_build(root, rest)
    raise StubError(f"stub: unsupported: docker {' '.join(args)}")


# -- trivy -----------------------------------------------------------------------------------

TRIVY_VALUE_FLAGS = {
    "-s", "--severity", "--exit-code", "-f", "--format", "-o", "--output", "--scanners", "-t",
    "--template", "--ignorefile", "--timeout", "--cache-dir", "--skip-dirs", "--skip-files",
    "--vuln-type", "--pkg-types", "--db-repository", "--java-db-repository", "--input", "--platform",
    "--ignore-policy", "--config", "-c", "--tf-vars", "--username", "--password", "--registry-token",
    "--image-src", "--docker-host", "--checks-bundle-repository", "--misconfig-scanners",
    "--severity-src", "--cache-backend", "--sbom-sources", "--license-confidence-level",
}  # fmt: skip
TRIVY_KINDS = {"image": "image", "fs": "fs", "filesystem": "fs", "repo": "fs", "config": "config"}
REGION = {"startLine": 1}
SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}


def sarif(kind: str, target: str, findings: Sequence[str]) -> dict[str, object]:
    rules, results = [], []
    for number, severity in enumerate(findings, start=1):
        rule = f"STUB-{kind.upper()}-{number:04d}"
        level = "error" if severity in ("CRITICAL", "HIGH") else "warning" if severity == "MEDIUM" else "note"
        text = f"{severity} finding {number} in {target}"
        rules.append({
            "id": rule,
            "name": "StubFinding",
            "shortDescription": {"text": text},
            "properties": {"security-severity": SECURITY_SEVERITY[severity], "tags": ["security", severity]},
        })  # fmt: skip
        uri = "Dockerfile" if kind != "fs" else "requirements.txt"
        results.append({
            "ruleId": rule,
            "ruleIndex": number - 1,
            "level": level,
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": REGION}}],
        })  # fmt: skip
    driver = {"name": "Trivy", "informationUri": "https://github.com/aquasecurity/trivy", "rules": rules}
    return {
        "version": "2.1.0",
        "$schema": "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json",
        "runs": [{"tool": {"driver": {**driver, "version": "0.0.0-stub"}}, "results": results}],
    }


def trivy_report(fmt: str, kind: str, target: str, findings: Sequence[str]) -> str:
    if fmt == "sarif":
        return json.dumps(sarif(kind, target, findings), indent=2) + "\n"
    if fmt == "json":
        vulnerabilities = [
            {"VulnerabilityID": f"STUB-{kind.upper()}-{n:04d}", "Severity": severity}
            for n, severity in enumerate(findings, start=1)
        ]
        result = {"Target": target, "Class": kind, "Vulnerabilities": vulnerabilities}
        return json.dumps({"SchemaVersion": 2, "ArtifactName": target, "Results": [result]}, indent=2) + "\n"
    counts = ", ".join(f"{s}: {findings.count(s)}" for s in reversed(SEVERITIES))
    lines = [f"{target} ({kind})", f"Total: {len(findings)} ({counts})"]
    lines += [f"STUB-{kind.upper()}-{n:04d}  {severity}" for n, severity in enumerate(findings, start=1)]
    return "\n".join(lines) + "\n"


def trivy(root: Path, args: list[str], call: dict[str, object]) -> int:
    if not args or args[0] in ("--version", "-v", "version"):
        print("Version: 0.57.0-stub")
        return 0
    kind = TRIVY_KINDS.get(args[0])
    if kind is None:
        raise StubError(f"stub: unsupported: trivy {args[0]}")
    parsed = parse(args[1:], TRIVY_VALUE_FLAGS)
    env = os.environ.get
    severities = (parsed.last("-s", "--severity") or env("TRIVY_SEVERITY") or ",".join(SEVERITIES)).upper()
    exit_code = int(parsed.last("--exit-code") or env("TRIVY_EXIT_CODE") or "0")
    fmt = parsed.last("-f", "--format") or env("TRIVY_FORMAT") or "table"
    output = parsed.last("-o", "--output") or env("TRIVY_OUTPUT")
    archive = parsed.last("--input") or env("TRIVY_INPUT")
    target = parsed.positionals[0] if parsed.positionals else archive or ""
    if kind == "image" and archive:
        if not Path(archive).is_file():
            raise StubError(f"FATAL: unable to open the image archive {archive}")
    elif kind == "image":
        reference = Reference.parse(target) if target else None
        if reference is None or not (is_pushed(root, reference) or is_local(root, reference)):
            raise StubError(f"FATAL: unable to find the image {target!r}: not pushed, not loaded")
    elif not Path(target or ".").exists():
        raise StubError(f"FATAL: stat {target}: no such file or directory")
    known: dict[str, list[str]] = read_json(root / "trivy" / "findings.json", {})
    wanted = {s.strip() for s in severities.split(",")}
    findings = [s.upper() for s in known.get(kind, []) if s.upper() in wanted]
    report = trivy_report(fmt, kind, target, findings)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(report, encoding="utf-8")
    else:
        sys.stdout.write(report)
    return exit_code if findings else 0


# -- kubectl ---------------------------------------------------------------------------------

KINDS = {
    "deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
    "deployment.apps": "deployment", "deployments.apps": "deployment",
    "ingress": "ingress", "ingresses": "ingress", "ing": "ingress",
    "ingress.networking.k8s.io": "ingress", "ingresses.networking.k8s.io": "ingress",
}  # fmt: skip
RESOURCE_NAMES = {"deployment": "deployment.apps", "ingress": "ingress.networking.k8s.io"}
API_NAMES = {"deployment": "deployments.apps", "ingress": "ingresses.networking.k8s.io"}
KUBECTL_VALUE_FLAGS = {
    "-n", "--namespace", "-o", "--output", "--context", "--kubeconfig", "--timeout", "--request-timeout",
    "-l", "--selector", "--revision", "-c", "--container", "--cluster", "--user",
}  # fmt: skip


def resource(words: Sequence[str]) -> tuple[str, str, list[str]]:
    """(kind, name, remaining words) from `kind/name ...` or `kind name ...`."""
    if not words:
        raise StubError("error: you must specify the type of resource")
    head, slash, name = words[0].partition("/")
    rest = list(words[1:])
    if not slash:
        if not rest:
            raise StubError(f"error: a name is required ({head})")
        name = rest.pop(0)
    kind = KINDS.get(head.lower())
    if kind is None:
        raise StubError(f'error: the server doesn\'t have a resource type "{head}"')
    return kind, name, rest


class Cluster:
    def __init__(self, root: Path, namespace: str) -> None:
        self.root, self.namespace = root, namespace
        self.dir = root / "cluster" / namespace

    def deployment_path(self, name: str) -> Path:
        return self.dir / "deployments" / f"{name}.json"

    def deployment(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = read_json(self.deployment_path(name), None)
        return found

    def url(self, name: str) -> str | None:
        path = self.dir / "url"
        return path.read_text(encoding="utf-8").strip() if name == "aos" and path.is_file() else None

    def not_found(self, kind: str, name: str) -> StubError:
        return StubError(f'Error from server (NotFound): {API_NAMES[kind]} "{name}" not found')


def jsonpath_value(kind: str, name: str, body: dict[str, Any], jsonpath: str) -> str:
    if kind == "deployment" and "image" in jsonpath:
        containers: dict[str, str] = body["containers"]
        return containers.get("app") or next(iter(containers.values()), "")
    if kind == "ingress" and "url" in jsonpath:
        return str(body["url"])
    if ".metadata.name" in jsonpath:
        return name
    raise StubError(f"stub: unsupported jsonpath for {kind}: {jsonpath}")


def kubectl_get(cluster: Cluster, words: Sequence[str], parsed: Parsed) -> int:
    kind, name, _ = resource(words)
    body: dict[str, Any] | None
    if kind == "deployment":
        body = cluster.deployment(name)
    else:
        url = cluster.url(name)
        body = {"url": url} if url else None
    if body is None:
        if "--ignore-not-found" in parsed.flags or parsed.last("--ignore-not-found") == "true":
            return 0
        raise cluster.not_found(kind, name)
    output = parsed.last("-o", "--output") or ""
    if output.startswith("jsonpath="):
        sys.stdout.write(jsonpath_value(kind, name, body, output.removeprefix("jsonpath=").strip("'")))
    elif output == "name":
        print(f"{RESOURCE_NAMES[kind]}/{name}")
    elif output in ("json", "yaml"):
        print(json.dumps({"kind": kind.capitalize(), "metadata": {"name": name}, **body}, indent=2))
    else:
        print(f"NAME   AGE\n{name}    1m")
    return 0


def kubectl_set_image(cluster: Cluster, words: Sequence[str]) -> int:
    kind, name, assignments = resource(words)
    if kind != "deployment" or not assignments or not all("=" in a for a in assignments):
        raise StubError("error: set image needs deployment/NAME CONTAINER=IMAGE ...")
    with locked(cluster.root):
        body = cluster.deployment(name) or {"containers": {}}
        for assignment in assignments:
            container, _, image = assignment.partition("=")
            body["containers"][container] = image
        write_json(cluster.deployment_path(name), body)
    print(f"deployment.apps/{name} image updated")
    return 0


def kubectl_rollout_status(cluster: Cluster, words: Sequence[str]) -> int:
    kind, name, _ = resource(words)
    body = cluster.deployment(name) if kind == "deployment" else None
    if body is None:
        raise cluster.not_found(kind, name)
    waiting = f'Waiting for deployment "{name}" rollout to finish: 0 of 1 updated replicas are available...'
    if faulted(cluster.root, f"rollout-{cluster.namespace}"):
        print(waiting)
        raise StubError(f'error: deployment "{name}" exceeded its progress deadline')
    for container, image in sorted(body["containers"].items()):
        if not is_pushed(cluster.root, Reference.parse(image)):
            print(waiting)
            raise StubError(
                f'error: deployment "{name}" failed: container {container}: ImagePullBackOff: '
                f"{image}: not found in the registry"
            )
    print(f'deployment "{name}" successfully rolled out')
    return 0


def kubectl(root: Path, args: list[str], call: dict[str, object]) -> int:
    parsed = parse(args, KUBECTL_VALUE_FLAGS)
    cluster = Cluster(root, parsed.last("-n", "--namespace") or "default")
    match parsed.positionals:
        case ["version", *_]:
            print("Client Version: v1.31.0-stub")
            return 0
        case ["get", *words]:
            return kubectl_get(cluster, words, parsed)
        case ["set", "image", *words]:
            return kubectl_set_image(cluster, words)
        case ["rollout", "status", *words]:
            return kubectl_rollout_status(cluster, words)
    raise StubError(f"stub: unsupported: kubectl {' '.join(args)}")


# -- npx: eslint is a syntax check -----------------------------------------------------------


def script_files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for start in map(Path, paths or ["."]):
        candidates = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in candidates:
            parts = path.relative_to(start).parts if path != start else ()
            skipped = any(p.startswith(".") or p in ("node_modules", "build") for p in parts)
            if path.suffix in (".js", ".mjs", ".cjs") and path.is_file() and not skipped:
                found.append(path)
    return found


def npx(root: Path, args: list[str], call: dict[str, object]) -> int:
    parsed = parse(args, {"-p", "--package", "-c", "--call"})
    if not parsed.positionals or parsed.positionals[0] != "eslint":
        raise StubError(f"stub: npx {' '.join(args)}: not available offline (only eslint is stubbed)")
    node = shutil.which("node")
    if node is None:
        raise StubError("stub: npx eslint needs node on PATH", 127)
    paths = [p for p in parsed.positionals[1:] if not p.startswith("-")]
    files = script_files(paths)
    failures = 0
    for path in files:
        checked = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            failures += 1
            sys.stderr.write(f"{path}: syntax error\n{checked.stderr}")
    print(f"eslint (stub: node --check): {len(files)} files, {failures} with errors")
    return 1 if failures else 0


# -- gh, pulumi, aws: recorded, answered plausibly -------------------------------------------


GH_VALUE_FLAGS = {
    "-R", "--repo", "-t", "--title", "-b", "--body", "-F", "--body-file", "-l", "--label",
    "-X", "--method", "-H", "--header", "-f", "--raw-field", "--field", "-q", "--jq", "--cache",
}  # fmt: skip


def gh_api(root: Path, parsed: Parsed, call: dict[str, object]) -> int:
    """GET <path>: <world>/github/api/<path>.json, as stored (every page at once; `--paginate
    --slurp` wraps it in an outer array, one page). Issue comments are kept in the world: POST
    repos/<o>/<r>/issues/<n>/comments adds one to that GET's file, PATCH
    repos/<o>/<r>/issues/comments/<id> edits one. Fields: -f/--raw-field k=v, -F/--field k=v or
    k=@file. As gh does, a request with fields is a POST unless --method says otherwise."""
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        raise StubError(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.", 4
        )
    call["token"] = hashlib.sha256(token.encode()).hexdigest()[:12]
    if parsed.last("-q", "--jq"):
        raise StubError("stub: gh api --jq is not supported (parse the JSON instead)")
    if "--slurp" in parsed.flags and "--paginate" not in parsed.flags:
        raise StubError("the `--slurp` option is only supported with `--paginate`")
    fields = gh_fields(parsed)
    if fields:
        call["fields"] = fields
    method = (parsed.last("-X", "--method") or ("POST" if fields else "GET")).upper()
    if len(parsed.positionals) != 2:
        print("{}")
        return 0
    path = parsed.positionals[1].split("?", 1)[0].strip("/")
    if ".." in path.split("/"):
        raise StubError("gh: Not Found (HTTP 404)")
    if method != "GET":
        answer = gh_write(root, method, path, fields)
        if "--silent" not in parsed.flags:
            print(json.dumps(answer))
        return 0
    stored = root / "github" / "api" / f"{path}.json"
    if stored.is_file():
        text = stored.read_text(encoding="utf-8")
    elif is_issue_comments(path) or is_issue_list(path):
        text = "[]\n"  # an issue or pull request nobody commented on yet; a repository without issues
    else:
        raise StubError("gh: Not Found (HTTP 404)")
    sys.stdout.write(f"[{text.strip()}]\n" if "--slurp" in parsed.flags else text)
    return 0


def gh_fields(parsed: Parsed) -> dict[str, str]:
    fields: dict[str, str] = {}
    for raw, typed in ((parsed.all("-f", "--raw-field"), False), (parsed.all("-F", "--field"), True)):
        for item in raw:
            key, separator, value = item.partition("=")
            if not separator:
                raise StubError(f"field {item!r} requires a value separated by an '=' sign")
            if typed and value.startswith("@"):
                source = sys.stdin if value == "@-" else None
                value = source.read() if source else Path(value[1:]).read_text(encoding="utf-8")
            fields[key] = value
    return fields


COMMENT_AUTHOR = {"login": "github-actions[bot]", "type": "Bot"}  # whom GITHUB_TOKEN comments as


def is_issue_list(path: str) -> bool:
    """repos/<owner>/<repo>/issues"""
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "repos" and parts[3] == "issues"


def is_issue_comments(path: str) -> bool:
    """repos/<owner>/<repo>/issues/<number>/comments"""
    parts = path.split("/")
    return len(parts) == 6 and parts[0] == "repos" and parts[3] == "issues" and parts[5] == "comments"


def gh_write(root: Path, method: str, path: str, fields: dict[str, str]) -> dict[str, object]:
    """Issue comments created and edited in the world; any other write is recorded, answered {}."""
    parts = path.split("/")
    with locked(root):
        if (
            method == "POST"
            and len(parts) == 6
            and parts[0] == "repos"
            and parts[3:6:2] == ["issues", "comments"]
        ):
            if "body" not in fields:
                raise StubError('gh: Invalid request. "body" wasn\'t supplied. (HTTP 422)')
            counter = root / "github" / "next-comment-id"
            number = int(counter.read_text()) if counter.is_file() else 1001
            counter.parent.mkdir(parents=True, exist_ok=True)
            counter.write_text(str(number + 1))
            comment = {"id": number, "body": fields["body"], "user": COMMENT_AUTHOR}
            stored = root / "github" / "api" / f"{path}.json"
            write_json(stored, [*read_json(stored, []), comment])
            return comment
        if (
            method == "PATCH"
            and len(parts) == 6
            and parts[0] == "repos"
            and parts[3:5] == ["issues", "comments"]
        ):
            for stored in sorted(
                (root / "github" / "api" / "/".join(parts[:3]) / "issues").glob("*/comments.json")
            ):
                comments = read_json(stored, [])
                for comment in comments:
                    if str(comment.get("id")) == parts[5]:
                        comment["body"] = fields.get("body", comment.get("body"))
                        comment["edited"] = True
                        write_json(stored, comments)
                        return dict(comment)
            raise StubError("gh: Not Found (HTTP 404)")
    return {}


def gh_issue_create(root: Path, repository: str, parsed: Parsed, body: str) -> int:
    """Stores the issue where `gh api repos/<repository>/issues` reads it; prints its URL."""
    with locked(root):
        path = root / "github" / "api" / "repos" / repository / "issues.json"
        issues: list[dict[str, Any]] = read_json(path, [])
        number = max((int(issue.get("number", 0)) for issue in issues), default=0) + 1
        labels = [{"name": name} for name in parsed.all("-l", "--label")]
        title = parsed.last("-t", "--title") or ""
        issues.append({"number": number, "title": title, "body": body, "labels": labels, "state": "open"})
        write_json(path, issues)
    print(f"https://github.com/{repository}/issues/{number}")
    return 0


def gh(root: Path, args: list[str], call: dict[str, object]) -> int:
    parsed = parse(args, GH_VALUE_FLAGS)
    repository = parsed.last("-R", "--repo") or os.environ.get("GITHUB_REPOSITORY", "acme/aos")
    if parsed.last("-F", "--body-file") == "-":
        call["stdin"] = sys.stdin.read()
    match parsed.positionals:
        case ["issue", "create", *_]:
            body = str(call.get("stdin", parsed.last("-b", "--body") or ""))
            return gh_issue_create(root, repository, parsed, body)
        case ["pr", "comment", number, *_]:
            print(f"https://github.com/{repository}/pull/{number}#issuecomment-1")
        case ["api", *_]:
            return gh_api(root, parsed, call)
        case ["issue" | "pr", "list", *_]:
            print("[]" if parsed.last("--json") else "")
        case _ if "--version" in parsed.flags:
            print("gh version 2.60.0-stub")
    return 0


PULUMI_VALUE_FLAGS = {
    "--stack", "-s", "--cwd", "-C", "--config-file", "--parallel", "-p", "--target", "-t",
    "--message", "-m", "--color", "--plan", "--policy-pack", "--secrets-provider", "--exec-kind",
}  # fmt: skip


CURL_VALUE_FLAGS = {
    "-H", "--header", "-d", "--data", "--data-binary", "--data-raw", "-X", "--request", "-o", "--output",
    "--max-time", "-m", "--retry", "--retry-delay", "--retry-max-time", "--connect-timeout", "-u",
    "--user", "-w", "--write-out",
}  # fmt: skip


def _curl_file(value: str) -> str | None:
    """The text of `@FILE` (what curl sends for --data @FILE or -H @FILE); None for a literal."""
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") and value != "@-" else None


def curl(root: Path, args: list[str], call: dict[str, object]) -> int:
    """POSTs to the events APIs (PagerDuty, Opsgenie), recorded with what they send."""
    parsed = parse(args, CURL_VALUE_FLAGS)
    headers: list[str] = []
    for value in parsed.all("-H", "--header"):
        text = _curl_file(value)
        headers += text.splitlines() if text is not None else [value]
    call["headers"] = headers
    data = parsed.last("-d", "--data", "--data-binary", "--data-raw")
    if data is not None:
        text = _curl_file(data)
        call["data"] = text if text is not None else data
    (url,) = [p for p in parsed.positionals if p.startswith(("http://", "https://"))] or [""]
    if not url:
        raise StubError("curl: no URL specified!", 2)
    host = url.split("://", 1)[1].split("/", 1)[0]
    answer = root / "curl" / "responses" / f"{host}.json"
    sys.stdout.write(answer.read_text(encoding="utf-8") if answer.is_file() else '{"status": "success"}')
    return 0


def pulumi(root: Path, args: list[str], call: dict[str, object]) -> int:
    """The stack's state answers from <world>/pulumi/<stack>/: `outputs.json` is what `stack output
    --json` prints (no file: no such stack); a `drift` file makes `preview` propose its text as
    changes, and with --expect-no-changes fail as pulumi does (exit 255)."""
    if args[:1] in (["version"], ["--version"]):
        print("v3.140.0")
        return 0
    parsed = parse(args, PULUMI_VALUE_FLAGS)
    stack = parsed.last("--stack", "-s") or "dev"
    state = root / "pulumi" / stack
    match parsed.positionals:
        case ["preview", *_]:
            drift = state / "drift"
            if not drift.is_file():
                print(f"Previewing update ({stack}) (stub):\n\nResources:\n    2 unchanged")
                return 0
            changes = drift.read_text(encoding="utf-8").rstrip("\n")
            print(f"Previewing update ({stack}) (stub):\n\n{changes}\n\nResources:\n    ~ changes proposed")
            if "--expect-no-changes" in parsed.flags:
                raise StubError("error: no changes were expected but changes were proposed", 255)
        case ["up", *_]:
            print(f"Updating ({stack}) (stub):\n\nResources:\n    2 unchanged")
        case ["stack", "output", *_]:
            outputs = state / "outputs.json"
            if not outputs.is_file():
                raise StubError(f"error: no stack named '{stack}' found", 255)
            sys.stdout.write(outputs.read_text(encoding="utf-8"))
        case ["login", *_]:
            print("Logged in to the stub backend")
        case ["whoami", *_]:
            print("stub")
    return 0


def aws_credentials(call: dict[str, object]) -> None:
    """Credentials as the AWS CLI finds them in the environment (the harness's configure-aws-
    credentials fake makes them); the call records whose role they are."""
    if not os.environ.get("AWS_ACCESS_KEY_ID") or not os.environ.get("AWS_SECRET_ACCESS_KEY"):
        raise StubError(
            'Unable to locate credentials. You can configure credentials by running "aws login".', 253
        )
    token = os.environ.get("AWS_SESSION_TOKEN", "")
    call["role"] = token.split(":", 1)[1] if token.startswith("harness-session-for:") else ""


def aws_update_kubeconfig(args: list[str], call: dict[str, object]) -> int:
    """`aws eks update-kubeconfig --name N [--region R] [--kubeconfig PATH]`: writes a kubeconfig
    whose user runs `aws eks get-token` (no credential in the file)."""
    parsed = parse(args[2:], {"--name", "--region", "--kubeconfig", "--alias", "--role-arn"})
    name = parsed.last("--name")
    if not name:
        raise StubError("aws: error: the following arguments are required: --name", 252)
    aws_credentials(call)
    region = parsed.last("--region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise StubError(
            'You must specify a region. You can also configure your region by running "aws configure".', 253
        )
    path = Path(
        parsed.last("--kubeconfig") or os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    context = f"arn:aws:eks:{region}:123456789012:cluster/{name}"
    path.write_text(
        f"apiVersion: v1\nkind: Config\ncurrent-context: {context}\nusers:\n- name: {context}\n"
        f"  user:\n    exec:\n      command: aws\n"
        f"      args: [--region, {region}, eks, get-token, --cluster-name, {name}]\n",
        encoding="utf-8",
    )
    print(f"Added new context {context} to {path}")
    return 0


def aws(root: Path, args: list[str], call: dict[str, object]) -> int:
    match args:
        case ["eks", "update-kubeconfig", *_]:
            return aws_update_kubeconfig(args, call)
        case ["ecr", "get-login-password", *_]:
            print("stub-ecr-token")
        case ["sts", "get-caller-identity", *_]:
            identity = {"UserId": "AROASTUB:gate", "Account": "123456789012"}
            print(json.dumps({**identity, "Arn": "arn:aws:sts::123456789012:assumed-role/deploy/gate"}))
        case ["--version", *_]:
            print("aws-cli/2.18.0-stub Python/3.11")
        case _:
            print("{}")
    return 0


def pip_install(root: Path, args: list[str], call: dict[str, object]) -> int:
    """The python wrapper hands over `python -m pip install ...` only: recorded, not run (offline)."""
    print(f"stub: skipped (offline): python {' '.join(args)}")
    return 0


TOOLS: dict[str, Callable[[Path, list[str], dict[str, object]], int]] = {
    "docker": docker,
    "trivy": trivy,
    "kubectl": kubectl,
    "npx": npx,
    "gh": gh,
    "pulumi": pulumi,
    "aws": aws,
    "curl": curl,
    "python": pip_install,
}


def main(argv: Sequence[str]) -> int:
    record_only = bool(argv) and argv[0] == "--record-only"
    words = list(argv[1:] if record_only else argv)
    if not words or words[0] not in TOOLS:
        print(f"stub: unknown tool {words[:1]}", file=sys.stderr)
        return 2
    tool, args = words[0], words[1:]
    if record_only and not os.environ.get("GATE_HARNESS_WORLD"):
        return 0  # python outside a scenario: nothing to record it in
    call: dict[str, object] = {"tool": tool, "argv": args, "cwd": os.getcwd()}
    # trivy-action passes its inputs as TRIVY_* variables, not flags: record them with the call.
    settings = {key: value for key, value in sorted(os.environ.items()) if key.startswith("TRIVY_")}
    if settings:
        call["env"] = settings
    try:
        root = world_root()
        try:
            if record_only:
                return 0
            if faulted(root, tool):
                raise StubError(FAULT_MESSAGES.get(tool, f"{tool}: failed (fault injected)"))
            return TOOLS[tool](root, args, call)
        finally:
            record(root, call)
    except StubError as error:
        sys.stdout.flush()
        print(error, file=sys.stderr)
        return error.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
