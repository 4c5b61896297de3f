"""The only module that touches Pulumi SDK internals (pulumi is pinned exactly in requirements.txt).

tests/test_engine.py exercises each name used here, so an SDK upgrade that moves one fails loudly.

Besides `all_config` (what the running program reads its stack config through), it runs a whole
Pulumi program in-process against Pulumi's own mock engine and records what the program declares:
the offline plan (gate/offline/plan.py) is built from that recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as _config
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import settings as _settings
from pulumi.runtime import stack as _stack
from pulumi.runtime.sync_await import _sync_await

from gate.errors import GateError

# Markers of Pulumi's property wire format (sdk/proto, rpc.py); tests check them against the SDK.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

SECRET_PLACEHOLDER = "[secret]"
UNKNOWN_PLACEHOLDER = "[unknown]"

STACK_TYPE = "pulumi:pulumi:Stack"
# What pulumi.get_organization() returns: the language host's default when the engine names none.
ORGANIZATION = "organization"

# The plan's only input is the stack file. Provider SDKs read these at construction time
# (pulumi_github: GITHUB_TOKEN, GITHUB_BASE_URL; pulumi_aws: AWS_REGION; pulumi_kubernetes: KUBECONFIG,
# PULUMI_K8S_*) and the runtime reads PULUMI_CONFIG*: hidden during a run so a CI job's GITHUB_TOKEN
# neither changes the plan nor ends up in it.
_HIDDEN_ENV_PREFIXES = ("PULUMI_CONFIG", "PULUMI_K8S_", "GITHUB_", "AWS_", "KUBECONFIG")


def get_root_directory() -> str:
    """The project directory (where Pulumi.yaml is) of the running program."""
    return str(_settings.get_root_directory())


def all_config() -> dict[str, Any]:
    """Every `namespace:key` config value the engine handed to this program."""
    return {**_config.get_config_env(), **_config.CONFIG.get()}


class ProgramError(GateError):
    """The program stopped with a `pulumi.RunError`: a message for a person, not a traceback.

    `cause` is the GateError the program turned into that RunError (`__main__.py` raises RunError
    from a GateError), so the CLI reports the exit code of what really went wrong (gate/cli/exitcodes.py)."""

    def __init__(self, message: str, cause: GateError | None = None) -> None:
        self.cause = cause
        super().__init__(message)


# -- what a run records ----------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredResource:
    """One RegisterResource request, with secrets as "[secret]" and unknowns as "[unknown]"."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    # What a component passed to register_outputs; None for custom resources.
    outputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Invocation:
    """One provider function call (e.g. github.get_team) the program made."""

    token: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """Everything one program run declared, in a fixed order."""

    resources: tuple[RegisteredResource, ...]  # sorted by URN
    outputs: dict[str, Any]  # the stack's outputs: the program's pulumi.export()s
    invokes: tuple[Invocation, ...]  # sorted, each distinct call once


# -- protobuf Struct -> plain, JSON-ready values ---------------------------------------------


# Protobuf messages are typed Any: the SDK ships no stubs for them.
def plain_struct(struct: Any) -> dict[str, Any]:
    """A property Struct as plain values, read from the wire so a secret never shows its value."""
    return {key: plain_value(value) for key, value in struct.fields.items()}


def plain_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return UNKNOWN_PLACEHOLDER if value.string_value == UNKNOWN else value.string_value
    if kind == "number_value":
        number = value.number_value
        # Protobuf carries every number as a double; 3 must not become 3.0 in the plan.
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [plain_value(item) for item in value.list_value.values]
    if kind == "struct_value":
        return _plain_object(value.struct_value)
    return None  # null_value, or no kind set


def _plain_object(struct: Any) -> Any:
    fields = struct.fields
    sig_value = fields.get(SIG_KEY)
    if sig_value is None:
        return plain_struct(struct)
    sig = sig_value.string_value
    if sig == SECRET_SIG:
        return SECRET_PLACEHOLDER
    if sig == RESOURCE_SIG:
        return fields["urn"].string_value if "urn" in fields else UNKNOWN_PLACEHOLDER
    if sig == OUTPUT_VALUE_SIG:
        if "secret" in fields and fields["secret"].bool_value:
            return SECRET_PLACEHOLDER
        return plain_value(fields["value"]) if "value" in fields else UNKNOWN_PLACEHOLDER
    kind = {ASSET_SIG: "asset", ARCHIVE_SIG: "archive"}.get(sig, sig)
    return {"kind": kind, **{k: plain_value(v) for k, v in fields.items() if k != SIG_KEY}}


def _provider_urn(reference: str) -> str | None:
    # A provider reference is "<urn>::<id>"; the id is the mock's, the URN is what identifies it.
    return reference.rsplit("::", 1)[0] if reference else None


def _options(request: Any) -> dict[str, Any]:
    return {
        "protect": bool(request.protect),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "retainOnDelete": bool(request.retainOnDelete),
        "ignoreChanges": list(request.ignoreChanges),
        "replaceOnChanges": list(request.replaceOnChanges),
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "provider": _provider_urn(request.provider),
        "providers": {pkg: _provider_urn(ref) for pkg, ref in sorted(request.providers.items())},
        # Explicit depends_on and the resources its inputs come from, as the engine orders them.
        "dependsOn": sorted(set(request.dependencies)),
    }


# -- the mock engine -------------------------------------------------------------------------


def stable_id(kind: str, key: str) -> str:
    """A GitHub-like numeric id for a team or user slug: stable across runs and machines."""
    digest = hashlib.sha256(f"{kind}:{key}".encode()).digest()
    # Four bytes: a realistic size, and exact as the double protobuf carries numbers in.
    return str(int.from_bytes(digest[:4], "big"))


# Attributes AWS assigns on create that the program passes on to other resources (besides `arn`):
# unknown in the plan, as in a first preview, rather than silently missing from their consumers.
_AWS_COMPUTED = {
    "aws:appconfig/environment:Environment": ("environmentId",),
    "aws:appconfig/configurationProfile:ConfigurationProfile": ("configurationProfileId",),
    "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion": ("versionNumber",),
}

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
READ_REPOSITORY_FILE = "github:index/getRepositoryFile:getRepositoryFile"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


class MissingStackOutputs(GateError):
    """A stack reference the offline plan has no evidence file for."""


class PlanMocks(_mocks.Mocks):
    """Deterministic answers: ids from names, outputs echo inputs, lookups derive ids from slugs.

    `stack_outputs` (short stack name -> that stack's outputs) answers stack references: the offline
    plan reads them from local evidence files instead of the backend. The planned stack's own
    outputs (its deployed state, gate/promotion/delivery.py) are empty unless a file gives them: offline, a
    stack is planned as its stack file says, as on its first deploy.
    """

    def __init__(
        self,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        own_stack: str | None = None,
        repository_files: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.stack_outputs = dict(stack_outputs or {})
        # (repository as the program names it, path) -> content: what github.get_repository_file
        # reads offline; a file not given does not exist.
        self.repository_files = dict(repository_files or {})
        if own_stack is not None:
            self.stack_outputs.setdefault(own_stack, {})

    def _outputs_of(self, reference: str) -> dict[str, Any]:
        # References are "<organization>/<project>/<stack>"; evidence files are named by stack.
        stack = reference.rsplit("/", 1)[-1]
        if stack not in self.stack_outputs:
            raise MissingStackOutputs(
                f"no outputs of stack {reference!r} offline: pass --evidence {stack}=FILE "
                f"(`pulumi stack output --json --stack {stack}`, or that stack's plan.json)"
            )
        return dict(self.stack_outputs[stack])

    def new_resource(self, args: _mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == STACK_REFERENCE_TYPE:
            name = str(args.inputs["name"])
            return name, {"name": name, "outputs": self._outputs_of(name), "secretOutputNames": []}
        outputs = args.inputs
        if args.typ.startswith("aws:"):
            computed = ("arn", *_AWS_COMPUTED.get(args.typ, ()))
            outputs = {**dict.fromkeys(computed, UNKNOWN), **outputs}
        return f"{args.name}-id", outputs

    def call(self, args: _mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        # No check failures: MockMonitor.Invoke iterates the second item, so it must be a list.
        if args.token == READ_STACK_OUTPUTS:
            # What the engine's builtin provider answers (and StackReference reads).
            name = str(args.args["name"])
            return {"name": name, "outputs": self._outputs_of(name), "secretOutputNames": []}, []
        if args.token == READ_REPOSITORY_FILE:
            key = (str(args.args.get("repository")), str(args.args.get("file")))
            if key in self.repository_files:
                return {**_lookup(args.token, args.args), "content": self.repository_files[key]}, []
        return _lookup(args.token, args.args), []


def _lookup(token: str, args: dict[str, Any]) -> dict[str, Any]:
    if token == "github:index/getTeam:getTeam":
        slug = str(args.get("slug"))
        team_id = stable_id("team", slug)
        return {"id": team_id, "nodeId": f"T_{team_id}", "slug": slug, "name": slug}
    if token == "github:index/getUser:getUser":
        login = str(args.get("username"))
        user_id = stable_id("user", login)
        return {"id": user_id, "nodeId": f"U_{user_id}", "login": login, "name": login}
    if token == READ_REPOSITORY_FILE:
        # Issue 13 item 3: what the provider answers for a file the repository does not have (the
        # data source returns no content, not an error). Offline the plan knows no repository's
        # files, so it plans as for a repository without one; tests answer with a file through
        # PlanMocks(repository_files=...).
        return {key: args[key] for key in ("repository", "file", "branch") if key in args}
    if token == "github:index/getRepository:getRepository":
        full_name = str(args.get("fullName"))
        repo_id = int(stable_id("repository", full_name))
        name = full_name.rsplit("/", maxsplit=1)[-1]
        return {"repoId": repo_id, "nodeId": f"R_{repo_id}", "fullName": full_name, "name": name}
    return dict(args)


# Called with (type, name, custom) after each registration, on the engine's executor threads.
RegisterHook = Callable[[str, str, bool], None]


class RecordingMonitor(_mocks.MockMonitor):
    """Pulumi's MockMonitor, also keeping each request as the engine would have received it.

    Requests arrive on the runtime's executor threads, hence the lock.
    """

    def __init__(self, mocks: _mocks.Mocks, on_register: RegisterHook | None = None) -> None:
        super().__init__(mocks)
        self._on_register = on_register  # progress on a terminal (gate/offline/progress.py)
        self._lock = threading.Lock()
        self._resources: dict[str, RegisteredResource] = {}
        self._outputs: dict[str, dict[str, Any]] = {}
        self._invokes: dict[str, Invocation] = {}
        self._thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _note_thread_loop(self) -> None:
        # MockMonitor gives each executor thread it runs on an event loop of its own (to
        # deserialise resource references) and never closes it; left to the garbage collector at
        # exit, its finaliser fails noisily. Remember it so the run can close it.
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_event_loop_policy().get_event_loop()
            with self._lock:
                self._thread_loops.add(loop)

    def close_thread_loops(self, keep: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            loops, self._thread_loops = self._thread_loops - {keep}, set()
        for loop in loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The URNs `pulumi up` gives (the engine's generateURN): a child's type is prefixed with its
        # parent's whole qualified type, and the root stack is never part of it. MockMonitor
        # prefixes only the parent's last type, "pulumi:pulumi:Stack" included.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{_settings.get_stack()}::{_settings.get_project()}::{type_}::{name}"

    def clear(self) -> None:
        with self._lock:
            self._resources.clear()
            self._outputs.clear()
            self._invokes.clear()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self._note_thread_loop()
        if request.type != STACK_TYPE:
            resource = RegisteredResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=plain_struct(request.object),
                options=_options(request),
            )
            with self._lock:
                self._resources[resource.urn] = resource
            if self._on_register is not None:
                self._on_register(resource.type, resource.name, resource.custom)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        # A read (such as a StackReference) declares nothing, but the plan shows what it reads.
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._note_thread_loop()
        resource = RegisteredResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=True,
            inputs=plain_struct(request.properties),
            options={"read": request.id, "provider": _provider_urn(request.provider)},
        )
        with self._lock:
            self._resources[resource.urn] = resource
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = plain_struct(request.outputs)
        with self._lock:
            self._outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:  # noqa: N802
        invocation = Invocation(request.tok, plain_struct(request.args))
        key = json.dumps([invocation.token, invocation.args], sort_keys=True)
        with self._lock:
            self._invokes[key] = invocation
        response = super().Invoke(request)  # type: ignore[no-untyped-call]
        self._note_thread_loop()
        return response

    def recording(self) -> Recording:
        with self._lock:
            resources = tuple(
                _with_outputs(self._resources[urn], self._outputs.get(urn)) for urn in sorted(self._resources)
            )
            stack_outputs = next(
                (out for urn, out in self._outputs.items() if _urn_type(urn) == STACK_TYPE), {}
            )
            invokes = tuple(self._invokes[key] for key in sorted(self._invokes))
        return Recording(resources=resources, outputs=stack_outputs, invokes=invokes)


def _with_outputs(resource: RegisteredResource, outputs: dict[str, Any] | None) -> RegisteredResource:
    if outputs is None or resource.custom:
        return resource
    return RegisteredResource(**{**resource.__dict__, "outputs": outputs})


def _urn_type(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent types$>type::<name>
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) > 3 else ""


# -- running a program -----------------------------------------------------------------------


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Iterable[str] = (),
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    repository_files: Mapping[tuple[str, str], str] | None = None,
    on_register: RegisterHook | None = None,
) -> Recording:
    """Run a Pulumi program file to completion under the recording mock engine.

    `config` is what the engine would hand the program (`namespace:key` -> string, structured values
    as JSON); `repository_files` what github.get_repository_file finds (PlanMocks); `on_register`
    hears of each registration (progress, gate/offline/progress.py). A
    `pulumi.RunError` from the program becomes a ProgramError (a GateError).

    Isolation: the run happens on its own thread, in a copy of the caller's context, with its own
    event loop, so the runtime's ContextVar settings, root stack and config of one run never reach
    the caller or the next run. Process-wide state (os.environ, sys.path) is restored afterwards.
    """
    mocks = PlanMocks(stack_outputs, own_stack=stack, repository_files=repository_files)
    monitor = RecordingMonitor(mocks, on_register)
    context = contextvars.copy_context()
    result: list[BaseException | None] = [None]

    def target() -> None:
        try:
            context.run(
                _run,
                program,
                monitor,
                project=project,
                stack=stack,
                config=dict(config),
                secret_keys=sorted(set(secret_keys)),
            )
        except BaseException as error:  # handed to the calling thread below
            result[0] = error

    # Absolute but not resolved: the project directory is where Pulumi.yaml is, even through symlinks.
    program = Path(os.path.abspath(program))
    with _process_state(program.parent):
        worker = threading.Thread(target=target, name=f"gate-plan-{stack}", daemon=True)
        worker.start()
        worker.join()
    error = result[0]
    if isinstance(error, GateError):
        raise error
    if isinstance(error, pulumi.RunError):
        # `raise RunError(...) from None` hides the GateError from tracebacks, not from __context__.
        cause = error.__context__ if isinstance(error.__context__, GateError) else None
        raise ProgramError(str(error), cause) from None
    if error is not None:
        raise error
    return monitor.recording()


def _run(
    program: Path,
    monitor: RecordingMonitor,
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
) -> None:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_unretrieved)
    asyncio.set_event_loop(loop)
    try:
        # The same steps as Pulumi's language host (automation/_server.py): fresh settings and
        # config, then the program inside run_in_stack, which wraps run_pulumi_func.
        _settings.reset_options(
            project=project,
            stack=stack,
            root_directory=str(program.parent),
            preview=False,
            organization=ORGANIZATION,
        )
        _config.set_all_config(config, secret_keys)
        _mocks.set_mocks(
            monitor.mocks,
            project=project,
            stack=stack,
            preview=False,
            monitor=monitor,
            organization=ORGANIZATION,
        )
        # set_mocks creates and finishes a root Stack of its own, so pulumi.export()s made later
        # would never reach the monitor. Let its registration settle, then drop it: run_in_stack
        # creates the root Stack that carries the program's outputs.
        _sync_await(_stack.wait_for_rpcs())
        _settings.ROOT.set(None)
        monitor.clear()
        _sync_await(_stack.run_in_stack(lambda: _run_path(program)))
    finally:
        _close_loop(loop)
        monitor.close_thread_loops(keep=loop)


def _run_path(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # When a program fails, every output derived from the failure holds the same exception and
    # asyncio logs each one as "never retrieved" when collected. The failure itself is raised to
    # the caller once; this handler (on this loop only) keeps the rest quiet.
    if str(context.get("message", "")).endswith("was never retrieved"):
        return
    loop.default_exception_handler(context)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    # After a failed run some tasks may still be pending; cancel them so closing is quiet.
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    asyncio.set_event_loop(None)
    loop.close()


@contextlib.contextmanager
def _process_state(project_dir: Path) -> Iterator[None]:
    """The program imports its packages from its project dir and must not see provider env vars."""
    hidden = {k: v for k, v in os.environ.items() if k.startswith(_HIDDEN_ENV_PREFIXES)}
    for key in hidden:
        del os.environ[key]
    entry = str(project_dir)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
        os.environ.update(hidden)
