"""Runs rendered GitHub Actions workflows offline, as GitHub would, so tests can execute the gate.

Emulated, after GitHub's "Workflow syntax", "Reusing workflows", "Using concurrency" and "Workflow
commands" pages:
- jobs in `needs` order (ties in file order); job `if:` whose status functions look at ALL ancestor
  jobs, transitively, as GitHub's do: success() = every ancestor succeeded (skipped is not success),
  failure() = one failed, cancelled() = one was cancelled; `needs.<id>.result/outputs`; job
  `outputs:` (dropped when they contain a secret), `env:`, `defaults.run`, `environment:` (name only);
- steps: `if:`, `continue-on-error`, `steps.<id>.outputs/outcome/conclusion`, `env:` (workflow ->
  job -> step), `run:` interpolated into a file run with the runner's shell lines (`bash -e {0}`,
  `bash --noprofile --norc -eo pipefail {0}`, `sh -e {0}`), `working-directory`, `timeout-minutes`
  (capped at 300 s); GITHUB_OUTPUT / GITHUB_ENV (`k=v` and heredocs), GITHUB_PATH,
  GITHUB_STEP_SUMMARY; secrets of 4 characters or more masked as *** in logs. A step's process gets
  a minimal environment (bin_dirs, this interpreter's venv, system dirs), never the test process's;
- `uses:` steps through small fakes keyed by action repository (FAKES); upload-artifact and
  download-artifact share <world>/artifacts/<name>/ within a run. trivy-action and
  build-push-action run the `trivy` / `docker` on the step PATH exactly as the pinned actions call
  them; an action without a fake fails its step, so a new action is noticed;
- local reusable workflows (`uses: ./.github/workflows/x.yml`): typed inputs with defaults, secrets
  (`inherit` or mapped), outputs, and the CALLER's github context (github.workflow, event_name);
- concurrency groups of workflows and jobs: a group already held by the calling chain is the
  deadlock GitHub resolves by cancelling the inner workflow or job; every group is recorded;
- fork pull requests (and reviews of them): no secrets but GITHUB_TOKEN, no OIDC token, no
  code-scanning upload.

Deliberately not emulated: matrix strategies, services, containers, job-level `continue-on-error`,
remote reusable workflows (these raise UnsupportedWorkflow), local and docker actions (no fake: the
step fails); `on:` branch/path filters; parallel jobs, queueing and `cancel-in-progress`;
environment protection rules and environment secrets; hashFiles().
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gate.github.expressions import ExpressionError, Status, evaluate, evaluate_if, interpolate, to_string
from gate.github.liveness import triggers

STEP_TIMEOUT = 300
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SERVER_URL = "https://github.com"
SHELLS = {
    None: "bash -e {0}",
    "bash": "bash --noprofile --norc -eo pipefail {0}",
    "sh": "sh -e {0}",
    "python": "python {0}",
}
FILE_COMMANDS = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")


@dataclass
class Event:
    name: str
    ref: str
    sha: str
    payload: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    actor: str = "octocat"


@dataclass
class StepRun:
    id: str | None
    name: str
    outcome: str
    conclusion: str
    outputs: dict[str, str]
    log: str


@dataclass
class JobRun:
    id: str
    name: str
    result: str
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    called: WorkflowRun | None = None
    reason: str = ""
    environment: str | None = None
    concurrency_group: str | None = None
    summary: str = ""  # this job's GITHUB_STEP_SUMMARY text

    def step(self, name_or_id: str) -> StepRun:
        found = [s for s in self.steps if name_or_id in (s.id, s.name)]
        if not found:
            raise KeyError(
                f"job {self.id} has no step {name_or_id!r}: {[s.id or s.name for s in self.steps]}"
            )
        return found[0]


@dataclass
class WorkflowRun:
    name: str
    result: str
    jobs: dict[str, JobRun]
    summary: str
    concurrency_group: str | None
    groups: list[str] = field(default_factory=list)  # every group evaluated in the run, nested included
    reason: str = ""  # why it was cancelled before any job ran
    run_id: str = ""  # github.run_id, shared with the workflows it calls

    def job(self, job_id_or_path: str) -> JobRun:
        head, _, rest = job_id_or_path.partition("/")
        if head not in self.jobs:
            raise KeyError(f"no job {head!r} in {self.name}: {sorted(self.jobs)}")
        job = self.jobs[head]
        if rest and job.called is None:
            raise KeyError(f"job {head!r} called no workflow")
        return job.called.job(rest) if rest and job.called else job


class UnsupportedWorkflow(Exception):
    """The workflow uses something the harness does not emulate."""


class StepFailure(Exception):
    """A step fails as the real action or runner would fail it; the message goes to its log."""


@dataclass
class _RunState:
    """Shared by a top-level run and the workflows it calls: one GitHub run."""

    event: Event
    run_id: str
    dir: Path
    artifacts: set[str] = field(default_factory=set)
    masks: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=itertools.count)


@dataclass
class _Workflow:
    doc: dict[str, Any]
    github: dict[str, Any]
    inputs: dict[str, Any]
    secrets: dict[str, str]
    vars: dict[str, str]
    state: _RunState
    prefix: str = ""  # job path prefix: 'caller-job/' in a called workflow
    cap: Any = None  # the calling job's permissions, which cap the called workflow's

    def ctx(self, **extra: Any) -> dict[str, Any]:
        empty: dict[str, Any] = {
            k: {} for k in ("env", "needs", "steps", "job", "runner", "matrix", "strategy")
        }
        fixed = {"github": self.github, "vars": self.vars, "secrets": self.secrets, "inputs": self.inputs}
        return {**empty, **fixed, **extra}


def _value(raw: Any, ctx: Mapping[str, Any]) -> Any:
    """A YAML value: a lone `${{ expr }}` keeps its type, as on GitHub; other text is interpolated."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text.startswith("${{") and text.endswith("}}") and text.count("${{") == 1:
        return evaluate(text[3:-2], ctx)
    return interpolate(raw, ctx)


def _text(raw: Any, ctx: Mapping[str, Any]) -> str:
    return to_string(_value(raw, ctx))


def _strings(raw: Mapping[str, Any] | None, ctx: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): _text(v, ctx) for k, v in (raw or {}).items()}


def _on(doc: Mapping[Any, Any]) -> dict[str, Any]:
    """`on:` as {event: its configuration}, an empty mapping where none is written."""
    return {event: config or {} for event, config in triggers(doc).items()}


def _bool(name: str, value: str) -> bool:
    """@actions/core getBooleanInput: YAML 1.2 core schema booleans only."""
    if value in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return value.lower() == "true"
    raise StepFailure(f'Input does not meet YAML 1.2 "Core Schema" specification: {name}')


def _coerce(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    kind = spec.get("type", "string")
    if kind == "boolean":
        if isinstance(value, bool) or str(value).lower() in ("true", "false"):
            return value if isinstance(value, bool) else str(value).lower() == "true"
        raise ValueError(f"Unexpected value '{value}' for boolean input {name}")
    if kind == "number":
        number = float(value)
        return int(number) if number.is_integer() else number
    if kind == "choice" and to_string(value) not in [to_string(o) for o in spec.get("options", [])]:
        raise ValueError(f"Input {name}: '{value}' is not one of {spec.get('options')}")
    return to_string(value)


def _inputs(declared: Mapping[str, Any], given: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
    if unknown := sorted(set(given) - set(declared)):
        raise ValueError(f"Invalid input, {unknown[0]} is not defined in the referenced workflow.")
    result: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}  # noqa: PLW2901
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = _value(spec["default"], ctx)
        elif spec.get("required"):
            raise ValueError(f"Input {name} is required, but not provided while calling.")
        else:
            value = {"boolean": False, "number": 0}.get(spec.get("type", "string"), "")
        result[name] = _coerce(name, spec, value)
    return result


def _file_commands(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` heredocs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    result: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line, index = lines[index], index + 1
        equals, heredoc = line.find("="), line.find("<<")
        if not line.strip():
            continue
        if equals > 0 and (heredoc < 0 or equals < heredoc):
            result[line[:equals]] = line[equals + 1 :]
        elif heredoc > 0:
            delimiter, start = line[heredoc + 2 :], index
            while index < len(lines) and lines[index] != delimiter:
                index += 1
            if index == len(lines):
                raise StepFailure(f"Invalid value. Matching delimiter not found '{delimiter}' ({path.name})")
            result[line[:heredoc]] = "\n".join(lines[start:index])
            index += 1
        else:
            raise StepFailure(f"Invalid format '{line}' ({path.name})")
    return result


def _exec(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """(exit code, stdout+stderr); on timeout the whole process group is killed and the code is -1."""
    pipe, out = subprocess.PIPE, subprocess.STDOUT
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=pipe, stderr=out, start_new_session=True)
    except OSError as error:
        return 127, f"{argv[0]}: {error.strerror}\n"
    try:
        text = proc.communicate(timeout=timeout)[0].decode("utf-8", "replace")
        return proc.returncode, text
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        text = proc.communicate()[0].decode("utf-8", "replace")
        return -1, f"{text}##[error]The action has timed out after {timeout:.0f} s.\n"


def _append_json(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, sort_keys=True) + "\n")


def _is_fork(event: Event, repository: str) -> bool:
    head = event.payload.get("pull_request", {}).get("head", {}).get("repo", {}).get("full_name")
    # A review of a fork's pull request gets no more than the pull request itself.
    return event.name in ("pull_request", "pull_request_review") and head not in (None, repository)


@dataclass
class Step:
    """What a fake action gets: its interpolated inputs, the step's environment and log."""

    job: _Job
    name: str
    with_: dict[str, str]
    env: dict[str, str]
    cwd: Path
    timeout: float
    log: list[str]

    @property
    def world(self) -> Path:
        return self.job.h.world

    def input(self, name: str, default: str = "") -> str:
        return self.with_.get(name) or default

    def exec(self, argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> int:
        self.log.append(f"[command]{shlex.join(argv)}\n")
        code, out = _exec(argv, self.cwd, {**self.env, **(extra_env or {})}, self.timeout)
        self.log.append(out)
        return code

    def export(self, name: str, value: str) -> None:
        with Path(self.env["GITHUB_ENV"]).open("a", encoding="utf-8") as stream:
            stream.write(f"{name}<<_HARNESS_EOF_\n{value}\n_HARNESS_EOF_\n")


class _Job:
    """One job on a fresh runner: its workspace, env, PATH additions and steps."""

    def __init__(
        self, harness: Harness, wf: _Workflow, job_id: str, spec: Mapping[str, Any], needs: Any
    ) -> None:
        self.h, self.wf, self.id, self.spec = harness, wf, job_id, spec
        self.path = wf.prefix + job_id
        directory = wf.state.dir / self.path.replace("/", "__")
        self.workspace, self.temp = directory / "workspace", directory / "temp"
        self.workspace.mkdir(parents=True)
        self.temp.mkdir(parents=True)
        self.github = {**wf.github, "job": job_id, "workspace": str(self.workspace)}
        runner = {"os": "Linux", "arch": "X64", "name": "harness", "temp": str(self.temp), "debug": ""}
        self.base_ctx = wf.ctx(github=self.github, needs=needs, runner=runner)
        self.env = _strings(wf.doc.get("env"), self.base_ctx)
        self.env.update(_strings(spec.get("env"), {**self.base_ctx, "env": self.env}))
        self.paths: list[str] = []
        self.steps: dict[str, Any] = {}
        self.failed = False
        self.summary = ""
        defaults = {**wf.doc.get("defaults", {}).get("run", {}), **spec.get("defaults", {}).get("run", {})}
        self.shell, self.directory = defaults.get("shell"), defaults.get("working-directory")

    def ctx(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        job: dict[str, Any] = {
            "status": "failure" if self.failed else "success",
            "container": {},
            "services": {},
        }
        return {**self.base_ctx, "env": dict(env or self.env), "steps": self.steps, "job": job}

    def process_env(
        self, step_env: Mapping[str, str], files: Mapping[str, Path], action: str
    ) -> dict[str, str]:
        gh, bins = self.github, [*reversed(self.paths), *map(str, self.h.bin_dirs)]
        path = os.pathsep.join([*bins, str(Path(sys.executable).parent), SYSTEM_PATH])
        base = {"PATH": path, "HOME": str(self.h.work / "home"), "LANG": "C.UTF-8"}
        runner = {
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": gh["repository"], "GITHUB_REPOSITORY_OWNER": gh["repository_owner"],
            "GITHUB_SHA": gh["sha"], "GITHUB_REF": gh["ref"], "GITHUB_REF_NAME": gh["ref_name"],
            "GITHUB_HEAD_REF": gh["head_ref"], "GITHUB_BASE_REF": gh["base_ref"],
            "GITHUB_EVENT_NAME": gh["event_name"], "GITHUB_EVENT_PATH": gh["event_path"],
            "GITHUB_RUN_ID": gh["run_id"], "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SERVER_URL": SERVER_URL, "GITHUB_API_URL": gh["api_url"], "GITHUB_ACTOR": gh["actor"],
            "GITHUB_WORKFLOW": gh["workflow"], "GITHUB_JOB": self.id, "GITHUB_ACTION": action,
            "RUNNER_TEMP": str(self.temp), "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "GATE_HARNESS_WORLD": str(self.h.world), **{k: str(v) for k, v in files.items()},
        }  # fmt: skip
        return {**base, **self.h.env, **self.env, **step_env, **runner}

    def run_step(self, index: int, spec: Mapping[str, Any]) -> StepRun:
        first = [*str(spec.get("run", "")).strip().splitlines(), ""][0]
        run = StepRun(
            spec.get("id"), str(spec.get("name") or f"Run {spec.get('uses') or first}"), "", "", {}, ""
        )
        log: list[str] = []
        try:
            run.name = interpolate(run.name, self.ctx())
            if not evaluate_if(
                spec.get("if"), self.ctx(), Status(success=not self.failed, failure=self.failed)
            ):
                run.outcome = run.conclusion = "skipped"
                return self._done(run)
            step_env = _strings(spec.get("env"), self.ctx())
            ctx = self.ctx({**self.env, **step_env})
            files = {var: self.temp / f"{var.lower()}_{index}" for var in FILE_COMMANDS}
            for file in files.values():
                file.write_text("")
            env = self.process_env(step_env, files, run.id or f"__run_{index}")
            minutes = spec.get("timeout-minutes")
            timeout = min(STEP_TIMEOUT, float(_value(minutes, ctx)) * 60) if minutes else STEP_TIMEOUT
            directory = spec.get("working-directory", self.directory if "run" in spec else None)
            cwd = self.workspace / _text(directory, ctx) if directory else self.workspace
            step = Step(self, run.name, _strings(spec.get("with"), ctx), env, cwd, timeout, log)
            if "uses" in spec:
                run.outputs = self._uses(step, str(spec["uses"]).split("@")[0])
            else:
                self._run(step, f"{index}", interpolate(str(spec["run"]), ctx), spec.get("shell", self.shell))
            run.outcome = "success"
            run.outputs.update(_file_commands(files["GITHUB_OUTPUT"]))
            self.env.update(_file_commands(files["GITHUB_ENV"]))
            self.paths += [p for p in files["GITHUB_PATH"].read_text().splitlines() if p.strip()]
            self.summary += files["GITHUB_STEP_SUMMARY"].read_text()
        except (ExpressionError, StepFailure, ValueError) as error:
            run.outcome, run.outputs = "failure", {}
            log.append(f"##[error]{error}\n")
            # GitHub shows what a failed step wrote to its summary too (often why it failed).
            summary = self.temp / f"github_step_summary_{index}"
            self.summary += summary.read_text() if summary.is_file() else ""
        tolerated = _value(spec.get("continue-on-error", False), self.ctx()) in (True, "true")
        run.conclusion = "success" if tolerated else run.outcome
        self.failed = self.failed or run.conclusion == "failure"
        run.log = "".join(log)
        for secret in (m for m in self.wf.state.masks if len(m) >= 4):  # shorter ones would garble logs
            run.log = run.log.replace(secret, "***")
        return self._done(run)

    def _done(self, run: StepRun) -> StepRun:
        if run.id:
            self.steps[run.id] = {
                "outputs": run.outputs,
                "outcome": run.outcome,
                "conclusion": run.conclusion,
            }
        return run

    def _run(self, step: Step, index: str, script: str, shell: str | None) -> None:
        template = SHELLS.get(shell) or (shell if shell and "{0}" in shell else None)
        if template is None:
            raise UnsupportedWorkflow(f"shell {shell!r} is not supported by the harness")
        path = self.temp / f"step_{index}.{'py' if shell == 'python' else 'sh'}"
        path.write_text(script, encoding="utf-8")
        if not step.cwd.is_dir():
            raise StepFailure(f"working directory '{step.cwd}' does not exist")
        code = step.exec([str(path) if part == "{0}" else part for part in shlex.split(template)])
        if code:
            raise StepFailure(
                f"Process completed with exit code {code}." if code > 0 else "The step timed out."
            )

    def _uses(self, step: Step, action: str) -> dict[str, str]:
        record = {"tool": f"uses:{action}", "with": step.with_, "job": self.path, "step": step.name}
        _append_json(self.h.world / "calls.jsonl", record)
        if action not in FAKES:
            raise StepFailure(f"no fake for {action} (add one to FAKES in tests/support/actions_runner.py)")
        return FAKES[action](step) or {}


class Harness:
    def __init__(self, *, repository: str, workflows: Path, checkouts: Mapping[str, Path], world: Path,
                 bin_dirs: Sequence[Path] = (), secrets: Mapping[str, str] | None = None,
                 vars: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                 work: Path) -> None:  # fmt: skip
        self.repository, self.workflows = repository, Path(workflows)
        self.world, self.work = Path(world), Path(work)
        self.checkouts = {name: Path(path) for name, path in checkouts.items()}
        self.bin_dirs = [Path(p) for p in bin_dirs]
        self.secrets, self.vars, self.env = dict(secrets or {}), dict(vars or {}), dict(env or {})
        self._runs = itertools.count(1)

    def _load(self, workflow_file: str) -> dict[str, Any]:
        doc: dict[str, Any] = yaml.safe_load((self.workflows / Path(workflow_file).name).read_text())
        return doc

    def run(self, workflow_file: str, event: Event) -> WorkflowRun:
        number = next(self._runs)
        state = _RunState(event, str(1000 + number), self.work / f"run-{number}")
        for directory in (state.dir, self.work / "home", self.world):
            directory.mkdir(parents=True, exist_ok=True)
        doc, name = self._load(workflow_file), Path(workflow_file).name
        triggers = _on(doc)
        if event.name not in triggers:
            raise ValueError(f"{workflow_file} does not run on {event.name} (on: {sorted(triggers)})")
        owner, repo = self.repository.split("/")
        repository = {"full_name": self.repository, "name": repo, "owner": {"login": owner}, "private": False}
        payload = {"repository": repository, **event.payload}
        if event.name == "workflow_dispatch":
            payload.setdefault("inputs", {k: to_string(v) for k, v in event.inputs.items()})
        (state.dir / "event.json").write_text(json.dumps(payload, indent=2))
        pull = payload.get("pull_request", {})
        short = event.ref.startswith(("refs/heads/", "refs/tags/"))
        github = {
            "repository": self.repository, "repository_owner": owner, "event_name": event.name,
            "event": payload, "event_path": str(state.dir / "event.json"), "sha": event.sha, "ref": event.ref,
            "ref_name": event.ref.split("/", 2)[2] if short else event.ref.removeprefix("refs/"),
            "head_ref": pull.get("head", {}).get("ref", ""), "base_ref": pull.get("base", {}).get("ref", ""),
            "actor": event.actor, "triggering_actor": event.actor, "run_id": state.run_id, "run_number": "1",
            "run_attempt": "1", "server_url": SERVER_URL, "api_url": "https://api.github.com",
            "token": "ghs_harness_token", "workflow": doc.get("name") or f".github/workflows/{name}",
            "workflow_ref": f"{self.repository}/.github/workflows/{name}@{event.ref}",
        }  # fmt: skip
        secrets = {} if _is_fork(event, self.repository) else dict(self.secrets)
        secrets["GITHUB_TOKEN"] = github["token"]
        state.masks.update(v for v in secrets.values() if v)
        declared = (
            triggers["workflow_dispatch"].get("inputs") or {} if event.name == "workflow_dispatch" else {}
        )
        inputs = _inputs(declared, event.inputs, {"github": github, "inputs": {}, "vars": self.vars})
        return self._execute(_Workflow(doc, github, inputs, secrets, self.vars, state), frozenset(), "")

    def _execute(self, wf: _Workflow, held: frozenset[str], caller: str) -> WorkflowRun:
        name = str(wf.doc.get("name") or wf.github["workflow"])
        group = _group(wf.doc.get("concurrency"), {"github": wf.github, "inputs": wf.inputs, "vars": wf.vars})
        run = WorkflowRun(name, "success", {}, "", group, [group] if group else [], run_id=wf.state.run_id)
        if group and group in held:
            run.result, run.reason = "cancelled", _deadlock(group, caller)
            return run
        jobs: dict[str, Any] = wf.doc.get("jobs") or {}
        ancestors: dict[str, set[str]] = {}
        for job_id in _order(jobs):
            direct = _needs(jobs[job_id])
            ancestors[job_id] = set(direct).union(*(ancestors[n] for n in direct))
            results = [run.jobs[a].result for a in ancestors[job_id]]
            status = Status(
                all(r == "success" for r in results), "failure" in results, "cancelled" in results
            )
            needs = {n: {"result": run.jobs[n].result, "outputs": run.jobs[n].outputs} for n in direct}
            job = run.jobs[job_id] = self._job(
                wf, job_id, jobs[job_id], needs=needs, status=status, held=_hold(held, group)
            )
            run.summary += job.called.summary if job.called else job.summary
            run.groups += [job.concurrency_group] if job.concurrency_group else []
            run.groups += job.called.groups if job.called else []
        final = {job.result for job in run.jobs.values()}
        run.result = next((r for r in ("failure", "cancelled") if r in final), "success")
        return run

    def _job(self, wf: _Workflow, job_id: str, spec: Mapping[str, Any], *, needs: dict[str, Any],
             status: Status, held: frozenset[str]) -> JobRun:  # fmt: skip
        for key in ("strategy", "services", "container", "continue-on-error"):
            if key in spec:
                raise UnsupportedWorkflow(f"job {job_id}: `{key}` is not supported by the harness")
        ctx = wf.ctx(needs=needs)
        job_run = JobRun(job_id, job_id, "failure")
        try:
            job_run.name = _text(spec.get("name", job_id), ctx)
            if not evaluate_if(spec.get("if"), ctx, status):
                job_run.result = "skipped"
                job_run.reason = (
                    "if: evaluated to false" if spec.get("if") else "a needed job did not succeed"
                )
                return job_run
            environment = spec.get("environment")
            environment = environment.get("name") if isinstance(environment, Mapping) else environment
            job_run.environment = _text(environment, ctx) if environment else None
            group = job_run.concurrency_group = _group(spec.get("concurrency"), ctx)
            if group and group in held:
                job_run.result, job_run.reason = "cancelled", _deadlock(group, job_id)
            elif "uses" in spec:
                self._call(job_run, wf, spec, ctx, held=_hold(held, group))
            else:
                job = _Job(self, wf, job_id, spec, needs)
                job_run.steps = [job.run_step(i, step) for i, step in enumerate(spec.get("steps") or [])]
                outputs = _strings(spec.get("outputs"), job.ctx())
                job_run.outputs = {
                    k: "" if any(m in v for m in wf.state.masks) else v for k, v in outputs.items()
                }
                job_run.summary = job.summary
                job_run.result, job_run.reason = (
                    ("failure", "a step failed") if job.failed else ("success", "")
                )
        except (ExpressionError, ValueError) as error:
            job_run.result, job_run.reason = "failure", str(error)
        return job_run

    def _call(self, job_run: JobRun, wf: _Workflow, spec: Mapping[str, Any], ctx: dict[str, Any], *,
              held: frozenset[str]) -> None:  # fmt: skip
        target = str(spec["uses"])
        if not target.startswith("./"):
            raise UnsupportedWorkflow(
                f"job {job_run.id}: only local reusable workflows are supported ({target})"
            )
        doc = self._load(target)
        call = _on(doc).get("workflow_call")
        if call is None:
            raise ValueError(f"{target} has no on.workflow_call trigger")
        given = {k: _value(v, ctx) for k, v in (spec.get("with") or {}).items()}
        inputs = _inputs(call.get("inputs") or {}, given, {**ctx, "inputs": {}})
        mapped = spec.get("secrets")
        secrets = dict(wf.secrets) if mapped == "inherit" else _strings(mapped, ctx)
        for secret, secret_spec in (call.get("secrets") or {}).items():
            if (secret_spec or {}).get("required") and not secrets.get(secret):
                raise ValueError(f"Secret {secret} is required, but not provided while calling.")
        secrets["GITHUB_TOKEN"] = wf.github["token"]
        cap = spec.get("permissions", wf.doc.get("permissions", wf.cap))
        callee = _Workflow(
            doc, wf.github, inputs, secrets, wf.vars, wf.state, f"{wf.prefix}{job_run.id}/", cap
        )
        nested = job_run.called = self._execute(callee, held, job_run.id)
        job_run.result, job_run.reason = nested.result, nested.reason
        jobs = {j: {"result": r.result, "outputs": r.outputs} for j, r in nested.jobs.items()}
        outputs_ctx = {"github": wf.github, "inputs": inputs, "vars": wf.vars, "jobs": jobs}
        job_run.outputs = {
            k: _text((v or {}).get("value"), outputs_ctx) for k, v in (call.get("outputs") or {}).items()
        }


def _needs(spec: Mapping[str, Any]) -> list[str]:
    needs = spec.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _order(jobs: Mapping[str, Any]) -> list[str]:
    """Topological over `needs`; among the jobs ready to run, the first in the file goes first."""
    for job_id, spec in jobs.items():
        if missing := [n for n in _needs(spec) if n not in jobs]:
            raise ValueError(f"job {job_id} needs unknown job(s) {missing}")
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [j for j in jobs if j not in done and all(n in done for n in _needs(jobs[j]))]
        if not ready:
            raise ValueError(f"cycle in needs among {[j for j in jobs if j not in done]}")
        done.append(ready[0])
    return done


def _group(concurrency: Any, ctx: Mapping[str, Any]) -> str | None:
    raw = concurrency.get("group") if isinstance(concurrency, Mapping) else concurrency
    return _text(raw, ctx) or None if raw is not None else None


def _hold(held: frozenset[str], group: str | None) -> frozenset[str]:
    return held | {group} if group else held


def _deadlock(group: str, job_id: str) -> str:
    return (
        f"Canceling since a deadlock for concurrency group '{group}' was detected between "
        f"'top level workflow' and '{job_id}'"
    )


# -- fakes of the actions the gate uses, keyed by action repository (the pinned SHA is ignored) ---

Fake = Callable[[Step], "dict[str, str] | None"]


def _known(step: Step, inputs: set[str]) -> None:
    """Translating fakes refuse inputs they do not translate, so none is silently dropped."""
    if unknown := sorted(set(step.with_) - inputs):
        raise StepFailure(f"the harness fake does not translate input(s) {unknown}")


def _granted(job: _Job, scope: str) -> bool:
    """Whether the job's token has `scope: write`. Undeclared permissions are the repository default,
    which never includes id-token; a calling job's permissions cap those of the workflow it calls."""
    own = job.spec.get("permissions", job.wf.doc.get("permissions", job.wf.cap))
    for perms, undeclared_ok in ((own, scope != "id-token"), (job.wf.cap, True)):
        if (perms is None and undeclared_ok) or perms == "write-all":
            continue
        if not isinstance(perms, Mapping) or perms.get(scope) != "write":
            return False
    return True


def _git(directory: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=False)
    return done.returncode, done.stdout.strip()


def _noop(step: Step) -> None:
    step.log.append("(harness: nothing to set up)\n")


def _setup_k6(step: Step) -> None:
    if shutil.which("k6", path=step.env["PATH"]) is None:
        raise StepFailure("k6 is not on the step PATH (the harness installs nothing)")


def _checkout(step: Step) -> dict[str, str]:
    """checkouts[repository] into `path`. From a git source the commit is fetched as actions/checkout
    does: shallow (fetch-depth 1) unless fetch-depth is 0, with only committed files; the harness
    repository defaults to event.sha when the source has it, else its working tree is copied as is."""
    job = step.job
    repository = step.input("repository", job.h.repository)
    source = job.h.checkouts.get(repository)
    if source is None:
        raise StepFailure(f"Not Found: repository '{repository}' (the harness has no checkout source for it)")
    dest = (job.workspace / step.input("path")).resolve()
    if not dest.is_relative_to(job.workspace.resolve()):
        raise StepFailure(f"Repository path '{dest}' is not under '{job.workspace}'")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    ref, sha, is_git = step.input("ref"), job.wf.state.event.sha, (source / ".git").exists()
    if (
        not ref
        and repository == job.h.repository
        and is_git
        and not _git(source, "cat-file", "-e", f"{sha}^{{commit}}")[0]
    ):
        ref = sha
    if not (is_git and ref):
        shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
        step.log.append(f"copied the working tree of {source}{' (not git: ref ignored)' if ref else ''}\n")
        return {"ref": ref, "commit": ""}
    code, commit = _git(source, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if code:
        raise StepFailure(f"A branch or tag with the name '{ref}' could not be found in {repository}")
    depth = int(step.input("fetch-depth", "1"))
    everything = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*", commit]
    fetch = (
        ["fetch", "-q", "origin", *everything]
        if depth <= 0
        else ["fetch", "-q", "--no-tags", f"--depth={depth}", "origin", commit]
    )
    commands = [
        ["init", "-q"],
        ["remote", "add", "origin", source.resolve().as_uri()],
        fetch,
        ["checkout", "-q", "--detach", commit],
    ]
    if _bool("persist-credentials", step.input("persist-credentials", "true")):
        commands.append(
            ["config", "--local", "http.https://github.com/.extraheader", "AUTHORIZATION: basic ***"]
        )
    for args in commands:
        if step.exec(["git", "-c", "init.defaultBranch=main", "-C", str(dest), *args]):
            raise StepFailure(f"git {args[0]} failed")
    return {"ref": ref, "commit": commit}


def _upload_artifact(step: Step) -> dict[str, str]:
    """Into <world>/artifacts/<name>/, relative to the least common ancestor, as upload-artifact does."""
    name, state, workspace = step.input("name", "artifact"), step.job.wf.state, step.job.workspace
    if name in state.artifacts and not _bool("overwrite", step.input("overwrite", "false")):
        raise StepFailure(f"Failed to CreateArtifact: an artifact named '{name}' already exists in this run")
    patterns = [line.strip() for line in step.input("path").splitlines() if line.strip()]
    if not patterns:
        raise StepFailure("Input required and not supplied: path")
    found: list[Path] = []
    for pattern in (p for p in patterns if not p.startswith("!")):
        for match in map(Path, sorted(glob.glob(str(workspace / pattern), recursive=True))):
            found += sorted(f for f in match.rglob("*") if f.is_file()) if match.is_dir() else [match]
    excluded = {Path(m) for p in patterns if p.startswith("!") for m in glob.glob(str(workspace / p[1:]))}
    files = [f for f in dict.fromkeys(found) if f not in excluded]
    if not files:
        mode = step.input("if-no-files-found", "warn")
        message = f"No files were found with the provided path: {' '.join(patterns)}. No artifacts uploaded."
        if mode == "error":
            raise StepFailure(message)
        step.log.append(f"{'##[warning]' if mode == 'warn' else ''}{message}\n")
        return {}
    single = workspace / patterns[0]
    root = (
        single
        if len(patterns) == 1 and single.is_dir()
        else Path(os.path.commonpath([f.parent for f in files]))
    )
    target = step.world / "artifacts" / name
    shutil.rmtree(target, ignore_errors=True)
    for file in files:
        (target / file.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target / file.relative_to(root))
    state.artifacts.add(name)
    step.log.append(f"Uploaded {len(files)} file(s) as artifact '{name}'\n")
    return {"artifact-id": str(len(state.artifacts))}


def _download_artifact(step: Step) -> dict[str, str]:
    """download-artifact by name: <world>/artifacts/<name>/, uploaded earlier in this run, into `path`
    (default: the workspace). Downloading every artifact (no name) is not emulated."""
    _known(step, {"name", "path"})
    name = step.input("name")
    if not name:
        raise StepFailure("the harness fake downloads one artifact by name (no `name` given)")
    source = step.world / "artifacts" / name
    if name not in step.job.wf.state.artifacts or not source.is_dir():
        raise StepFailure(f"Unable to download artifact(s): Artifact not found for name: {name}")
    workspace = step.job.workspace.resolve()
    dest = (workspace / step.input("path", ".")).resolve()
    if not dest.is_relative_to(workspace):
        raise StepFailure(f"the harness keeps downloads inside the workspace, not {dest}")
    shutil.copytree(source, dest, dirs_exist_ok=True)
    step.log.append(f"Downloaded artifact '{name}' to {dest}\n")
    return {"download-path": str(dest)}


def _upload_sarif(step: Step) -> dict[str, str]:
    if _is_fork(step.job.wf.state.event, step.job.h.repository) or not _granted(step.job, "security-events"):
        raise StepFailure("Resource not accessible by integration (no security-events: write for this token)")
    sarif = step.cwd / step.input("sarif_file", "../results")
    files = sorted(sarif.glob("*.sarif")) if sarif.is_dir() else [sarif] if sarif.is_file() else []
    if not files:
        raise StepFailure(f"Path does not exist: {step.input('sarif_file', '../results')}")
    for file in files:
        try:
            runs = json.loads(file.read_text(encoding="utf-8"))["runs"]
        except (ValueError, KeyError, TypeError) as error:
            raise StepFailure(f"Invalid SARIF in {file.name}: {error!r}") from None
        target = step.world / "sarif" / f"{step.input('category', file.stem).replace('/', '_')}.sarif"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
        step.log.append(f"Uploaded {file.name} ({len(runs)} run(s))\n")
    return {"sarif-id": f"harness-{next(step.job.wf.state.counter)}"}


_GITHUB_SCRIPT_JS = r"""
const fs = require('fs');
const path = require('path');
const [scriptFile, contextFile, encoding] = process.argv.slice(2);
const dir = path.join(process.env.GATE_HARNESS_WORLD, 'github');
fs.mkdirSync(dir, { recursive: true });
const answers = path.join(dir, 'responses.json');
const responses = fs.existsSync(answers) ? JSON.parse(fs.readFileSync(answers, 'utf8')) : {};
const call = async (method, args) => {
  fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ method, args: args ?? {} }) + '\n');
  const fallback = /^list/.test(method.split('.').pop()) ? [] : {};
  return { status: 200, data: method in responses ? responses[method] : fallback };
};
const namespace = (ns) => new Proxy({}, { get: (_, m) => (args) => call(`${ns}.${String(m)}`, args) });
const github = {
  rest: new Proxy({}, { get: (_, ns) => namespace(String(ns)) }),
  request: (route, args) => call(route, args),
  paginate: async (fn, args) => (await fn(args)).data,
};
const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
const put = (file, k, v) => fs.appendFileSync(file, `${k}<<_HARNESS_EOF_\n${text(v)}\n_HARNESS_EOF_\n`);
const core = {
  info: (m) => console.log(m), debug: (m) => console.log(`::debug::${m}`),
  notice: (m) => console.log(`::notice::${m}`), warning: (m) => console.log(`::warning::${m}`),
  error: (m) => console.log(`::error::${m}`),
  setFailed: (m) => { process.exitCode = 1; console.log(`::error::${m}`); },
  setOutput: (k, v) => put(process.env.GITHUB_OUTPUT, k, v),
  exportVariable: (k, v) => { process.env[k] = text(v); put(process.env.GITHUB_ENV, k, v); },
};
const context = JSON.parse(fs.readFileSync(contextFile, 'utf8'));
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const main = new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptFile, 'utf8'));
main(require, github, context, core).then(
  (result) => core.setOutput('result', encoding === 'string' ? String(result) : JSON.stringify(result) ?? ''),
  (error) => { core.setFailed(`Unhandled error: ${error}`); console.log(error && error.stack); },
);
"""


def _github_script(step: Step) -> None:
    """actions/github-script with a recording `github`: each call is appended to
    <world>/github/calls.jsonl and answered from <world>/github/responses.json ({}, or [] for list*)."""
    if not step.input("script"):
        raise StepFailure("Input required and not supplied: script")
    gh, number = step.job.github, next(step.job.wf.state.counter)
    repo = {"owner": gh["repository_owner"], "repo": gh["repository"].split("/")[1]}
    payload = gh["event"]
    issue = {**repo, "number": (payload.get("pull_request") or payload.get("issue") or {}).get("number")}
    context = {"repo": repo, "issue": issue, "runId": int(gh["run_id"]), "runNumber": 1, "sha": gh["sha"],
               "ref": gh["ref"], "eventName": gh["event_name"], "workflow": gh["workflow"],
               "actor": gh["actor"], "job": gh["job"], "serverUrl": SERVER_URL, "apiUrl": gh["api_url"],
               "payload": payload}  # fmt: skip
    files = [
        step.job.temp / f"github-script-{number}-{part}"
        for part in ("wrapper.js", "script.js", "context.json")
    ]
    for file, text in zip(files, (_GITHUB_SCRIPT_JS, step.input("script"), json.dumps(context)), strict=True):
        file.write_text(text, encoding="utf-8")
    if code := step.exec(["node", *map(str, files), step.input("result-encoding", "json")]):
        raise StepFailure(f"the script failed (node exited {code})")


def _slack(step: Step) -> dict[str, str]:
    """slackapi/slack-github-action v4: bad inputs fail the step whatever `errors` says; an API error
    (the file <world>/faults/slack exists) fails it only with `errors: true`, else it is a warning."""
    method, token, webhook = step.input("method"), step.input("token"), step.input("webhook")
    errors = _bool("errors", step.input("errors", "false"))
    if token and webhook:
        raise StepFailure("Invalid input! Either the token or webhook is required - not both.")
    if method and not token:
        raise StepFailure("Missing input! A token must be provided to use the method decided.")
    if not (method or webhook):
        raise StepFailure("Missing input! Either a method or webhook is required to take action.")
    payload = step.input("payload")
    try:
        parsed = yaml.safe_load(payload) if payload else {}
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        raise StepFailure("Invalid input! Failed to parse contents of the provided payload")
    _append_json(step.world / "slack.jsonl", {"method": method, "payload": payload, "token_set": bool(token)})
    fault = step.world / "faults" / "slack"
    if fault.exists():
        message = f"An API error occurred: {fault.read_text().strip() or 'internal_error'}"
        if errors:
            raise StepFailure(message)
        step.log.append(f"##[warning]Failed to send the request: {message}\n")
        return {"ok": "false"}
    step.log.append(f"{method or 'webhook'}: ok\n")
    return {"ok": "true", "ts": "1700000000.000100", "channel_id": str(parsed.get("channel", ""))}


_TRIVY_ENV = (  # (input, variable, the action's default): exported only when given and not the default
    ("exit-code", "TRIVY_EXIT_CODE", ""),
    ("severity", "TRIVY_SEVERITY", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"),
    ("format", "TRIVY_FORMAT", "table"),
    ("output", "TRIVY_OUTPUT", ""),
    ("scanners", "TRIVY_SCANNERS", ""),
    ("ignore-unfixed", "TRIVY_IGNORE_UNFIXED", "false"),
    ("vuln-type", "TRIVY_PKG_TYPES", "os,library"),
    ("skip-dirs", "TRIVY_SKIP_DIRS", ""),
)


def _trivy(step: Step) -> None:
    """trivy-action v0.36.0 (ed142fd): inputs become TRIVY_* variables, not flags, and entrypoint.sh
    runs `trivy <scan-type> <image-ref or scan-ref>`; a SARIF scan drops the severity filter unless
    limit-severities-for-sarif is true."""
    _known(
        step,
        {i for i, _, _ in _TRIVY_ENV} | {"scan-type", "image-ref", "scan-ref", "limit-severities-for-sarif"},
    )
    env = {var: step.with_[i] for i, var, default in _TRIVY_ENV if step.input(i) not in ("", default)}
    if env.get("TRIVY_FORMAT") == "sarif" and step.input("limit-severities-for-sarif") != "true":
        env.pop("TRIVY_SEVERITY", None)
    env["TRIVY_CACHE_DIR"] = f"{step.job.workspace}/.cache/trivy"
    argv = ["trivy", step.input("scan-type", "image"), step.input("image-ref") or step.input("scan-ref", ".")]
    step.log.append(f"Running Trivy with options: {' '.join(argv)}\n")
    if code := step.exec(argv, env):
        raise StepFailure(f"Process completed with exit code {code}.")


def _build_push(step: Step) -> dict[str, str]:
    """build-push-action v7 (src/context.ts getArgs): `docker buildx build [--file F] --iidfile I
    [--attest type=provenance,...] --tag T... [--load] --metadata-file M [--push] <context>`."""
    _known(step, {"context", "file", "push", "load", "tags"})
    gh, state = step.job.github, step.job.wf.state
    load, push = _bool("load", step.input("load", "false")), _bool("push", step.input("push", "false"))
    tmp = step.job.temp / f"docker-actions-toolkit-{next(state.counter)}"
    tmp.mkdir(parents=True)
    iidfile, metadata_file = tmp / "build-iidfile.txt", tmp / "build-metadata.json"
    argv = ["docker", "buildx", "build", *(["--file", step.input("file")] if step.input("file") else [])]
    argv += ["--iidfile", str(iidfile)]
    if not load:  # the default provenance attestation, unless the image goes to the docker exporter
        mode = "mode=min,inline-only=true" if gh["event"]["repository"].get("private") else "mode=max"
        argv += [
            "--attest",
            f"type=provenance,{mode},builder-id={SERVER_URL}/{gh['repository']}/actions/runs/{state.run_id}",
        ]
    for tag in (t.strip() for line in step.input("tags").splitlines() for t in line.split(",")):
        argv += ["--tag", tag] if tag else []
    argv += [
        *(["--load"] if load else []),
        "--metadata-file",
        str(metadata_file),
        *(["--push"] if push else []),
    ]
    argv.append(step.input("context") or f"{SERVER_URL}/{gh['repository']}.git#{gh['sha']}")
    if code := step.exec(argv):
        raise StepFailure(f"buildx failed with: exit code {code}")
    outputs = {"imageid": iidfile.read_text().strip()} if iidfile.is_file() else {}
    if metadata_file.is_file():
        metadata = json.loads(metadata_file.read_text() or "{}")
        outputs["metadata"] = json.dumps(metadata, indent=2)
        outputs["digest"] = str(metadata.get("containerimage.digest", ""))
    return outputs


def _pulumi(step: Step) -> dict[str, str]:
    """pulumi/actions: without `command` it only installs the CLI (the PATH stub stands in); with it,
    `pulumi --non-interactive login <cloud-url>` when cloud-url is given, then `pulumi <command>
    [--diff] --stack <stack-name> --cwd <work-dir>`; comment-on-pr is recorded as an
    issues.createComment call."""
    _known(step, {"command", "stack-name", "work-dir", "diff", "comment-on-pr", "github-token", "cloud-url"})
    command, stack, event = step.input("command"), step.input("stack-name"), step.job.wf.state.event
    if not command:
        return {}
    if not stack:
        raise StepFailure("Input required and not supplied: stack-name")
    if step.input("cloud-url") and (
        code := step.exec(["pulumi", "--non-interactive", "login", step.input("cloud-url")])
    ):
        raise StepFailure(f"pulumi login failed with exit code {code}")
    diff = ["--diff"] if _bool("diff", step.input("diff", "false")) else []
    if code := step.exec(["pulumi", command, *diff, "--stack", stack, "--cwd", step.input("work-dir", "./")]):
        raise StepFailure(f"pulumi {command} failed with exit code {code}")
    if _bool("comment-on-pr", step.input("comment-on-pr", "false")) and "pull_request" in event.payload:
        owner, repo = step.job.h.repository.split("/")
        args = {"owner": owner, "repo": repo, "issue_number": event.payload["pull_request"].get("number"),
                "body": step.log[-1]}  # fmt: skip
        _append_json(step.world / "github" / "calls.jsonl", {"method": "issues.createComment", "args": args})
    return {"output": step.log[-1]}


def _aws(step: Step) -> dict[str, str]:
    """configure-aws-credentials by OIDC: needs role-to-assume, aws-region and `id-token: write`;
    exports AWS_REGION, AWS_DEFAULT_REGION, AWS_ROLE_ARN and fake session keys (whose session token
    names the role, so a stub can tell whose credentials it was given), unless
    `output-env-credentials: false`; with `output-credentials: true` they are step outputs too."""
    region, role = step.input("aws-region"), step.input("role-to-assume")
    if not region:
        raise StepFailure("Input required and not supplied: aws-region")
    if not role:
        raise StepFailure(
            "Credentials could not be loaded, please check your action inputs (no role-to-assume)"
        )
    if not _granted(step.job, "id-token") or _is_fork(step.job.wf.state.event, step.job.h.repository):
        raise StepFailure("It looks like you might be trying to authenticate with OIDC. Did you mean to set "
                          "the `id-token` permission? (this job's token has no id-token: write)")  # fmt: skip
    _known(step, {"role-to-assume", "aws-region", "output-credentials", "output-env-credentials"})
    session = {"AWS_ACCESS_KEY_ID": "ASIAHARNESS", "AWS_SECRET_ACCESS_KEY": "harness-secret",
               "AWS_SESSION_TOKEN": f"harness-session-for:{role}"}  # fmt: skip
    if _bool("output-env-credentials", step.input("output-env-credentials", "true")):
        exported = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ROLE_ARN": role, **session}
        for name, value in exported.items():
            step.export(name, value)
    outputs = {"aws-account-id": role.split(":")[4] if role.count(":") >= 5 else ""}
    if _bool("output-credentials", step.input("output-credentials", "false")):
        outputs |= {"aws-access-key-id": session["AWS_ACCESS_KEY_ID"],
                    "aws-secret-access-key": session["AWS_SECRET_ACCESS_KEY"],
                    "aws-session-token": session["AWS_SESSION_TOKEN"]}  # fmt: skip
    return outputs


FAKES: dict[str, Fake] = {
    "actions/checkout": _checkout,
    "actions/setup-python": _noop,
    "actions/setup-node": _noop,
    "docker/setup-buildx-action": _noop,
    "grafana/setup-k6-action": _setup_k6,
    "actions/upload-artifact": _upload_artifact,
    "actions/download-artifact": _download_artifact,
    "github/codeql-action/upload-sarif": _upload_sarif,
    "actions/github-script": _github_script,
    "slackapi/slack-github-action": _slack,
    "aquasecurity/trivy-action": _trivy,
    "docker/build-push-action": _build_push,
    "pulumi/actions": _pulumi,
    "aws-actions/configure-aws-credentials": _aws,
}
