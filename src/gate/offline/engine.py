"""The only module that touches Pulumi SDK internals (pulumi is pinned exactly in requirements.txt).

tests/test_engine.py exercises each name used here, so an SDK upgrade that moves one fails loudly;
the functions it swaps for faster equivalents during a run (issue 14) are pinned there too, by
their signatures and by comparing answers with the SDK's own.

Besides `all_config` (what the running program reads its stack config through), it runs a whole
Pulumi program in-process against Pulumi's own mock engine and records what the program declares:
the offline plan (gate/offline/plan.py) is built from that recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
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

import grpc  # type: ignore[import-untyped]
import pulumi
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi import _types
from pulumi.output import _OutputData
from pulumi.runtime import _depends_on
from pulumi.runtime import config as _config
from pulumi.runtime import known_types as _known_types
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import resource as _resource
from pulumi.runtime import resource_cycle_breaker as _cycle_breaker
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime import stack as _stack
from pulumi.runtime._state_migration_context import _ensure_not_in_state_migration
from pulumi.runtime.invoke import _requires_legacy_none_return_for_empty_struct
from pulumi.runtime.proto import provider_pb2, resource_pb2, source_pb2
from pulumi.runtime.sync_await import _sync_await

from gate.collector import to_oldest_generation
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


# A text at least this long is kept once per run however many resources carry it (`shared_text`).
_LONG_TEXT = 1024
# The run's long texts, each kept once: cleared when the run ends (`_release_resources`).
_SHARED_TEXTS: dict[str, str] = {}


def shared_text(text: str) -> str:
    """`text`, or an equal text already kept during this run.

    Reading a string from protobuf makes a new Python string each time: a plan of many repositories
    carries the same committed files (workflows, tools) in thousands of resources, read twice each
    (the recording's inputs, the SDK's answer into the resource's Outputs). Kept once, 500
    repositories hold 10 MB of distinct file contents instead of 60 MB twice over.
    """
    if len(text) < _LONG_TEXT:
        return text
    return _SHARED_TEXTS.setdefault(text, text)


def plain_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        return UNKNOWN_PLACEHOLDER if text == UNKNOWN else shared_text(text)
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


def _aws_computed(type_: str) -> tuple[str, ...]:
    return ("arn", *_AWS_COMPUTED.get(type_, ()))


def plain_to_struct(values: Mapping[str, Any]) -> Any:
    """Plain JSON-like values as a property Struct, as `rpc.serialize_properties` writes them.

    Synchronous: the monitor answers on the event loop's own thread (see `_PlanEventLoop`), where
    the SDK's async serialiser cannot be awaited. Only plain values reach it (lookups' answers,
    stack outputs from JSON evidence files); anything else is a bug, refused loudly.
    """
    struct = struct_pb2.Struct()
    struct.update(_checked_plain(values))
    return struct


def _checked_plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _checked_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_checked_plain(item) for item in value]
    raise TypeError(f"not a plain value for the mock engine: {value!r}")


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
            outputs = {**dict.fromkeys(_aws_computed(args.typ), UNKNOWN), **outputs}
        return f"{args.name}-id", outputs

    def registered(self, type_: str, name: str, inputs: Any) -> tuple[str, Any]:
        """`new_resource` on the wire: the id and output Struct for a registration's input Struct.

        The answer `new_resource` gives (outputs echo inputs, AWS's computed attributes unknown),
        without MockMonitor's deserialise-and-serialise round trip of every property, which
        dominated a large plan (issue 14). tests/test_engine.py checks both answer alike.
        """
        if type_ == STACK_REFERENCE_TYPE:
            id_, state = self.new_resource(
                _mocks.MockResourceArgs(typ=type_, name=name, inputs=plain_struct(inputs), provider="")
            )
            return str(id_), plain_to_struct(state)
        if type_.startswith("aws:"):
            missing = [key for key in _aws_computed(type_) if key not in inputs.fields]
            if missing:
                outputs = struct_pb2.Struct()
                outputs.CopyFrom(inputs)
                for key in missing:
                    outputs.fields[key].string_value = UNKNOWN
                return f"{name}-id", outputs
        return f"{name}-id", inputs

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
    """Pulumi's MockMonitor, answering from PlanMocks and keeping each request as the engine would
    have received it.

    Issue 14: it answers registrations, reads, outputs and invokes itself instead of through
    MockMonitor's methods, which deserialise every input and serialise the answer back (through a
    private event loop per executor thread) only to echo it. The other methods (features, packages,
    transforms, shutdown) are MockMonitor's. The lock guards the records should a caller run the
    SDK's default thread-pool executor instead of `_PlanEventLoop`'s inline calls.
    """

    mocks: PlanMocks

    def __init__(
        self,
        mocks: PlanMocks,
        on_register: RegisterHook | None = None,
        *,
        project: str | None = None,
        stack: str | None = None,
    ) -> None:
        super().__init__(mocks)
        self._on_register = on_register  # progress on a terminal (gate/offline/progress.py)
        # The run's stack and project, known up front: read once, not from the runtime's settings
        # for every URN (issue 14).
        self._urn_prefix = f"urn:pulumi:{stack}::{project}::" if project and stack else None
        self._lock = threading.Lock()
        self._resources: dict[str, RegisteredResource] = {}
        self._outputs: dict[str, dict[str, Any]] = {}
        self._invokes: dict[str, Invocation] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The URNs `pulumi up` gives (the engine's generateURN): a child's type is prefixed with its
        # parent's whole qualified type, and the root stack is never part of it. MockMonitor
        # prefixes only the parent's last type, "pulumi:pulumi:Stack" included.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        prefix = self._urn_prefix or f"urn:pulumi:{_settings.get_stack()}::{_settings.get_project()}::"
        return f"{prefix}{type_}::{name}"

    def clear(self) -> None:
        with self._lock:
            self._resources.clear()
            self._outputs.clear()
            self._invokes.clear()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        resource = RegisteredResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=plain_struct(request.object),
            options=_options(request),
        )
        id_, outputs = self.mocks.registered(request.type, request.name, request.object)
        with self._lock:
            self._resources[urn] = resource
        if self._on_register is not None:
            self._on_register(resource.type, resource.name, resource.custom)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=outputs)

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        # A read (such as a StackReference) declares nothing, but the plan shows what it reads.
        urn = self.make_urn(request.parent, request.type, request.name)
        resource = RegisteredResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=True,
            inputs=plain_struct(request.properties),
            options={"read": request.id, "provider": _provider_urn(request.provider)},
        )
        _, state = self.mocks.registered(request.type, request.name, request.properties)
        with self._lock:
            self._resources[urn] = resource
        return resource_pb2.ReadResourceResponse(urn=urn, properties=state)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = plain_struct(request.outputs)
        with self._lock:
            self._outputs[request.urn] = outputs
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> Any:  # noqa: N802
        invocation = Invocation(request.tok, plain_struct(request.args))
        key = json.dumps([invocation.token, invocation.args], sort_keys=True)
        with self._lock:
            self._invokes[key] = invocation
        args = _rpc.deserialize_properties(request.args)  # the mocks see secrets' values
        answer, failures = self.mocks.call(
            _mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider)
        )
        return resource_pb2.ResourceInvokeResponse(
            failures=[
                provider_pb2.CheckFailure(property=prop, reason=reason) for prop, reason in failures or ()
            ],
            **{"return": plain_to_struct(answer)},
        )

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
    monitor = RecordingMonitor(mocks, on_register, project=project, stack=stack)
    # In a list, so the run's context can be dropped as soon as the run ends (see below).
    run_context = [contextvars.copy_context()]
    result: list[BaseException | None] = [None]

    def target() -> None:
        try:
            run_context[0].run(
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
    with _process_state(program.parent), _collector_off():
        worker = threading.Thread(target=target, name=f"gate-plan-{stack}", daemon=True)
        worker.start()
        worker.join()
        # The run's settings, root stack and resources live in its context: dropped here, so they
        # are freed by reference counting (see _release_resources) before the collector is back.
        run_context.clear()
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
    loop = _PlanEventLoop() if FAST_RUNTIME else asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_unretrieved)
    asyncio.set_event_loop(loop)
    try:
        with _fast_runtime() if FAST_RUNTIME else contextlib.nullcontext():
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
            with _run_output_tracking() if FAST_RUNTIME else contextlib.nullcontext():
                _sync_await(_stack.run_in_stack(lambda: _run_path(program)))
    finally:
        _close_loop(loop)
        _release_resources()


# -- what makes a run fast (issue 14) ----------------------------------------------------------
#
# A run under Pulumi's stock mocks spent, at 500 repositories: over half its time in the cyclic
# garbage collector, traversing a heap of Outputs and tasks that all live to the end of the run;
# a thread hop and a private event loop per RPC; a Python stack trace per resource, which the mock
# monitor ignores; and an end-of-run wait that re-registers a callback on every pending output each
# time one completes. Each remedy below changes how fast the plan is made, never what it records:
# tests/test_engine.py pins every SDK name they touch, and tests/test_plan_bytes.py that plans stay
# byte-identical. bench/README.md has the profiles before and after.


# Off only in tests/test_plan_bytes.py, which plans with and without it and compares the bytes.
FAST_RUNTIME = True


class _PlanEventLoop(asyncio.SelectorEventLoop):
    """The run's event loop: the SDK's monitor RPCs are answered inline, not on a thread pool.

    The SDK sends every RPC through `loop.run_in_executor(None, ...)` to keep a real gRPC call off
    the loop. The recording monitor answers from memory, so the hop to a worker thread (and the GIL
    hand-over, and the wake-up of the loop) only costs time; answered inline, the awaited future is
    already done. Nothing the SDK submits blocks on the loop (each is a monitor call).
    """

    def run_in_executor(  # type: ignore[override]  # the same call, typed loosely
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        if executor is not None:  # someone's own executor: honour it
            return super().run_in_executor(executor, func, *args)
        future: asyncio.Future[Any] = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as error:  # the RPC's failure, raised where the SDK awaits it
            future.set_exception(error)
        return future


def _no_stack_trace() -> Any:
    # The SDK walks and formats the Python stack of every resource for the engine's diagnostics
    # (runtime/resource.py `_get_stack_trace`); the mock monitor, and so the plan, never reads it.
    return source_pb2.StackTrace()


async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`pulumi.runtime.stack.wait_for_rpcs`, waiting for all pending outputs at once.

    The SDK's loop waits for the *first* of the pending outputs to complete, then for the first of
    the rest, and so on: each wait adds and removes a callback on every pending output, quadratic in
    a large program's tens of thousands of outputs. This one waits for all of them or the first
    failure (FIRST_EXCEPTION), then, like the SDK, picks up outputs created meanwhile and repeats
    until no RPC and no output is outstanding; a failure is raised as the SDK raises it.
    """
    rpc_manager = _settings._get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                    raise exn from cause
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            while True:
                with _settings.SETTINGS.lock:
                    _prune(_settings.SETTINGS.outputs)  # resolved ones wait for nothing (`_tracker`)
                    if not _settings.SETTINGS.outputs:
                        break
                    pending = list(_settings.SETTINGS.outputs)
                    _settings.SETTINGS.outputs.clear()
                done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    await task  # re-raises a failed output's exception here, as the SDK does
                if not_done:
                    with _settings.SETTINGS.lock:
                        _settings.SETTINGS.outputs.update(not_done)
        if not rpc_manager.rpcs:
            break


_SDK_CREATE_URN = _resource.create_urn
_SDK_CONTAINS_UNKNOWNS = _rpc.contains_unknowns


def _create_urn(
    name: Any, type_: Any, parent: Any = None, project: Any = None, stack: Any = None
) -> pulumi.Output[str]:
    """`pulumi.runtime.resource.create_urn`, without five Outputs when every part is a plain string.

    The SDK computes a URN this way for every registration (`mock_urn`, used only when there is no
    monitor at all) through Output.from_input/all/apply: several tasks per resource for a string
    known at once. With plain strings the answer is that string as a known, non-secret Output with
    no dependencies, which is what the SDK's chain resolves to; anything else goes to the SDK.
    """
    plain = (name, type_, parent, project, stack)
    if (
        all(part is None or isinstance(part, str) for part in plain)
        and name is not None
        and type_ is not None
    ):
        if parent is not None:
            prefix = parent[: parent.rfind("::")] + "$"
        else:
            stack = _settings.get_stack() if stack is None else stack
            project = _settings.get_project() if project is None else project
            prefix = f"urn:pulumi:{stack}::{project}::"
        return pulumi.Output.from_input(f"{prefix}{type_}::{name}")
    return _SDK_CREATE_URN(name, type_, parent, project, stack)


_SDK_RESOLVE_DEPENDS_ON = _depends_on._resolve_depends_on


async def _resolve_depends_on(depends_on: Any) -> set[Any]:
    """`pulumi.runtime._depends_on._resolve_depends_on` without an Output per resource when
    `depends_on` is a plain list of resources.

    The SDK lifts the list and then each of its members into an Output and awaits each one's
    resources and value: for a resource (not an Output, nothing to wait for) that is no resources and
    the resource itself, so the answer is the set of the list's resources. A plan's files pull
    requests each wait on every committed file this way (6,000 at 500 repositories). Anything else
    (an Output, a list holding Outputs) goes to the SDK.
    """
    if type(depends_on) is list and all(isinstance(item, pulumi.Resource) for item in depends_on):
        return set(depends_on)
    answer: set[Any] = await _SDK_RESOLVE_DEPENDS_ON(depends_on)
    return answer


# The SDK's, which prepare_resource (property dependencies) and _resolve_depends_on_urns (depends_on)
# call under the name they imported it as, in their own modules.
_SDK_EXPAND_DEPENDENCIES = _rpc._expand_dependencies
_EXPAND_DEPENDENCIES = "_expand_dependencies"
_EXPANDING_MODULES = (_resource, _depends_on)


async def _expand_dependencies(deps: Iterable[Any], from_resource: Any) -> dict[str, Any]:
    """`pulumi.runtime.rpc._expand_dependencies` (URN -> resource of what `deps` stands for) when
    every one is a custom resource, each of which stands for itself.

    The SDK walks each dependency through a coroutine of its own (`_add_dependency`), importing the
    resource classes on every step, to expand a local component into its children; a custom
    resource is declared as a dependency of `from_resource` (the cycle check) and its URN awaited.
    A plan's resources depend on custom resources only (a file on its branch, a variable on its
    environment, a pull request on its files: 14,000 at 500 repositories), so this does the same
    two things in one coroutine, in the same order. Anything else (a component, a dependency that
    would close a cycle, which the SDK refuses or skips) goes to the SDK, whose walk declares the
    same dependencies again (declaring one twice is declaring it once).
    """
    resources = list(deps)
    if not all(isinstance(resource, pulumi.CustomResource) for resource in resources):
        return await _SDK_EXPAND_DEPENDENCIES(resources, from_resource)
    if from_resource is not None:
        for resource in resources:
            if not _cycle_breaker.declare_dependency(from_resource, resource):
                return await _SDK_EXPAND_DEPENDENCIES(resources, from_resource)
    expanded: dict[str, Any] = {}
    for resource in resources:
        urn = await resource.urn.future()
        if urn:
            expanded[urn] = resource
    return expanded


def _contains_unknowns(val: Any) -> bool:
    """`pulumi.runtime.rpc.contains_unknowns`: whether an Unknown is anywhere in `val`, through dicts
    and lists, each object looked into once.

    Every resolved Output asks (`_OutputData`), tens of thousands of times in a large plan. A scalar
    (most values) is answered at once. The SDK walks the rest with a recursive closure that names
    itself, so each call left a cycle (function, cell, annotations) only the cyclic collector could
    free: 148,000 objects at 500 repositories, and 0.2 s of collection the moment a run ended
    (tests/test_engine.py). This walk keeps its own list of what is left to look at instead.
    """
    if val is None or type(val) in (str, int, float, bool):
        return False
    is_unknown = _known_types.is_unknown
    seen: set[int] = set()
    pending = [val]
    while pending:
        item = pending.pop()
        if is_unknown(item):
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            pending.extend(item[key] for key in item)
        elif isinstance(item, list):
            pending.extend(item)
    return False


_SDK_OUTPUT_TRACK = pulumi.Output._track
_SDK_TRANSFER_PROPERTIES = _rpc.transfer_properties


def _transfer_properties(res: Any, props: Any, custom: bool) -> dict[str, Any]:
    """`pulumi.runtime.rpc.transfer_properties` with one future per property instead of four futures
    and a task, and no callback per property.

    The SDK gives a resource an Output for every property its class declares (a typed class
    declares all of them, set or not) and returns a resolver per property that the registration's
    answer calls with (value, is_known, is_secret, deps, failure). Its Output is built from four
    futures that a task per Output then awaits to make one `_OutputData`; here the resolver makes
    that `_OutputData` itself, the same resources (the dependencies and the resource), value,
    knownness and secrecy, or the same failure, and the Output holds that one future. Typed
    classes made this the largest single cost of a plan (bench/README.md).

    Like every Output, each is tracked in the run's outputs set until it resolves (the end-of-run
    wait raises a failure left there). `Output._track` would also give each future a done callback,
    scheduled on the loop when it resolves, to take it out of the set again: half of all the loop's
    callbacks in a plan. The resolver takes it out itself instead; a failed one stays, as in the SDK.
    """
    resolvers: dict[str, Any] = {}
    loop = asyncio.get_event_loop()
    outputs, lock = _settings.SETTINGS.outputs, _settings.SETTINGS.lock
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # handled by the registration itself, as in the SDK
        data = loop.create_future()
        output = _new_object(pulumi.Output)
        output._data = data  # what Output._from_data sets, before it tracks the future
        with lock:
            outputs.add(data)
        resolvers[name] = functools.partial(_resolve_property, res, data, outputs, lock)
        res.__dict__[name] = output
    _RUN_RESOURCES.append(res)
    return resolvers


_new_object = object.__new__


# The resources registered during the current run, for `_release_resources`.
_RUN_RESOURCES: list[Any] = []


def _release_resources() -> None:
    """Empty the attributes of every resource the run registered, once it is over (loop closed).

    A resource holds its Outputs, and each Output's data names the resource back (`resources`, for
    dependencies); parents and children name each other too. So when a run ends, every resource
    with its Outputs is cyclic garbage, which only the cyclic collector frees: at 500 repositories it
    took over a second to find 1.2 million such objects. Nothing reads them any more (the recording
    is plain data, and the program's own references ended with the run), so their attributes are
    dropped and reference counting frees the run instead (tests/test_engine.py).
    """
    for res in _RUN_RESOURCES:
        res.__dict__.clear()
    _RUN_RESOURCES.clear()
    _SHARED_TEXTS.clear()  # the texts stay where the recording holds them


def _resolve_property(  # noqa: PLR0917 - the SDK calls resolvers with the last five, positionally
    res: Any,
    data: Any,
    outputs: set[Any],
    lock: Any,
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: Any,
    failed: Exception | None,
) -> None:
    if failed is not None:
        data.set_exception(failed)  # left in the outputs set for the end-of-run wait to raise
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    if type(value) is str:
        value = shared_text(value)
    data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))
    with lock:
        outputs.discard(data)


def _tracker(outputs: set[Any], lock: Any) -> Callable[[Any], None]:
    """`pulumi.Output._track` for one run's outputs set: the same bookkeeping, without a callback
    per Output, two context-variable property reads per access, or a new closure per Output.

    Every Output registers its future in SETTINGS.outputs, so that the end-of-run wait can surface
    a failure; the SDK gives each future a done callback, scheduled on the loop when it resolves, to
    take it out again. Here settled futures are taken out in bulk instead, whenever the set has
    doubled since the last time (`_prune`), and before the end-of-run wait: the set holds what the
    SDK's would plus at most as many settled futures, and failed or cancelled ones stay, as in the
    SDK. The run reads the set and its lock once: they stay the same objects for the whole run (the
    wait clears the set, never replaces it).
    """
    prune_at = [_PRUNE_AT_LEAST]

    def track(output: Any) -> None:
        with lock:
            outputs.add(output._data)
            if len(outputs) >= prune_at[0]:
                _prune(outputs)
                prune_at[0] = max(_PRUNE_AT_LEAST, 2 * len(outputs))

    return track


# The outputs set is pruned no more often than every this many Outputs.
_PRUNE_AT_LEAST = 4096


def _prune(outputs: set[Any]) -> None:
    """Take out of the outputs set every future that resolved with a value (call with its lock)."""
    outputs.difference_update([future for future in outputs if _resolved(future)])


def _resolved(future: Any) -> bool:
    return bool(future.done() and not future.cancelled() and future.exception() is None)


@contextlib.contextmanager
def _run_output_tracking() -> Iterator[None]:
    """`_tracker` for the settings the run configured (reset_options makes a new outputs set)."""
    pulumi.Output._track = _tracker(_settings.SETTINGS.outputs, _settings.SETTINGS.lock)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        pulumi.Output._track = _SDK_OUTPUT_TRACK  # type: ignore[method-assign]


# Pure functions of a type (an annotation, an Args or Output class, a resource class) that the SDK
# recomputes on every call: `resource_types` for every registration's answer, `unwrap_type` for every
# property serialised, set or not (a typed class declares them all), each walking typing's
# origins and arguments or a class's annotations and properties again. Typed classes made these a
# tenth of a typed plan's registrations (bench/README.md).
_SDK_TYPE_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "_types_from_py_properties": _types._types_from_py_properties,
    "_types_from_annotations": _types._types_from_annotations,
    "unwrap_type": _types.unwrap_type,
    "unwrap_optional_type": _types.unwrap_optional_type,
    # A typed resource's Python and Pulumi property names: for every registration's answer
    # (`resolve_outputs`) and for translating its `additional_secret_outputs`.
    "_pulumi_to_py_names_from_annotations": _types._pulumi_to_py_names_from_annotations,
    "_py_to_pulumi_names_from_annotations": _types._py_to_pulumi_names_from_annotations,
    "_pulumi_to_py_names_from_py_properties": _types._pulumi_to_py_names_from_py_properties,
    "_py_to_pulumi_names_from_py_properties": _types._py_to_pulumi_names_from_py_properties,
}


def _by_identity(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` answering once per argument object, for one run.

    By identity, not equality: typing calls `Union[A, B]` and `Union[B, A]` equal, but the SDK reads
    a union's arguments in order. Each answer keeps its argument alive, so an id is never reused
    for another object while the run's memo holds it; a dict answer is copied, as the SDK returns
    a new dict on each call (its callers may change it).
    """
    answers: dict[int, tuple[Any, Any]] = {}

    def memoized(value: Any) -> Any:
        entry = answers.get(id(value))
        if entry is None or entry[0] is not value:
            entry = answers[id(value)] = (value, function(value))
        answer = entry[1]
        return dict(answer) if type(answer) is dict else answer

    return memoized


_SDK_INVOKE_OUTPUT = pulumi.runtime.invoke_output
# What a plain invoke argument may be: the wire form of these is the value itself.
_PLAIN_ARGUMENT_TYPES = (str, bool, int, float)


def _invoke_output(
    tok: str,
    props: Any,
    opts: pulumi.InvokeOptions | pulumi.InvokeOutputOptions | None = None,
    typ: type | None = None,
    package_ref: Any = None,
) -> pulumi.Output[Any]:
    """`pulumi.runtime.invoke_output` for an invoke of plain arguments: one task, not four.

    The provider SDKs' `*_output` functions go through it: the gate's are its lookups and the
    CODEOWNERS reads, three per repository (bench/README.md: 1,500 invokes, about 0.3 s at 500
    repositories). The SDK runs each through four tasks and as many coroutines (two RPC wrappers, a
    wait for the arguments' and `depends_on`'s dependencies, each argument serialised by its own
    coroutine) before and after one monitor call. With plain arguments (strings, numbers, booleans,
    None), no `depends_on` and no package reference there is nothing to wait for but the provider,
    so this makes the same request (token, arguments without the None ones, provider reference,
    version, plugin URL) and the same Output (value translated to `typ`, no dependencies, secret
    when the answer is) in one task. Failures go where the SDK puts them: a failure the provider
    answers fails the Output; anything raised on the way fails it too and is the run's unhandled
    RPC exception, raised by the end-of-run wait (tests/test_engine.py compares both paths).
    Anything else takes the SDK's own path.
    """
    if (
        package_ref is not None
        or not _plain_arguments(props)
        or (isinstance(opts, pulumi.InvokeOutputOptions) and opts.depends_on)
    ):
        return _SDK_INVOKE_OUTPUT(tok, props, opts, typ, package_ref)
    _ensure_not_in_state_migration("invoke")
    options = opts if opts is not None else pulumi.InvokeOptions()
    if typ and not _types.is_output_type(typ):
        raise TypeError("Expected typ to be decorated with @output_type")
    resolve_data: asyncio.Future[_OutputData[Any]] = asyncio.Future()
    output: pulumi.Output[Any] = pulumi.Output._from_data(resolve_data)
    rpc_manager = _settings._get_rpc_manager()

    async def do_invoke() -> None:
        try:
            answer = await _invoked(tok, props, options, typ)
        except Exception as error:  # raised on the way: the SDK also records it as unhandled
            if rpc_manager.unhandled_exception is None:
                rpc_manager.unhandled_exception = error
                rpc_manager.exception_traceback = sys.exc_info()[2]
            resolve_data.set_exception(error)
            return
        if isinstance(answer, Exception):  # a failure answered: the Output's failure only
            resolve_data.set_exception(answer)
        else:
            resolve_data.set_result(answer)

    task = asyncio.ensure_future(do_invoke())
    rpc_manager.rpcs.append(task)  # the end-of-run wait waits for it, as for the SDK's RPC wrapper
    return output


def _plain_arguments(props: Any) -> bool:
    """Whether `props` are arguments the SDK would send as they are: a dict of strings, numbers,
    booleans and None, none of them the wire's unknown (which makes the SDK answer "unknown")."""
    return type(props) is dict and all(
        value is None or (type(value) in _PLAIN_ARGUMENT_TYPES and value != _rpc.UNKNOWN)
        for value in props.values()
    )


async def _invoked(
    tok: str, props: dict[str, Any], opts: pulumi.InvokeOptions | pulumi.InvokeOutputOptions, typ: type | None
) -> _OutputData[Any] | Exception:
    """The SDK's `_invoke` for plain arguments (see `_invoke_output`): the Output's data, or the
    failure the monitor answered (as the SDK's `do_invoke` returns it beside its result)."""
    if opts.parent is not None and opts.provider is None:
        opts.provider = opts.parent.get_provider(tok)  # as the SDK does, on the caller's options
    provider_ref = ""
    if opts.provider is not None:
        provider_urn = await opts.provider.urn.future()
        provider_id = (await opts.provider.id.future()) or _rpc.UNKNOWN
        provider_ref = f"{provider_urn}::{provider_id}"
    arguments = struct_pb2.Struct()
    for key, value in props.items():
        if value is not None:  # the SDK leaves out what serialises to None
            arguments[key] = value
    request = resource_pb2.ResourceInvokeRequest(
        tok=tok,
        args=arguments,
        provider=provider_ref,
        version=opts.version or "",
        acceptResources=os.getenv("PULUMI_DISABLE_RESOURCE_REFERENCES", "").upper() not in {"TRUE", "1"},
        pluginDownloadURL=opts.plugin_download_url or "",
        packageRef="",
    )
    monitor = _settings.get_monitor()
    assert monitor is not None, "invoked outside a run"
    try:
        response = monitor.Invoke(request)
    except grpc.RpcError as error:
        return Exception(f"invoke of {tok} failed: {_settings.grpc_error_to_exception(error)}")
    if response.failures:
        failure = response.failures[0]
        return Exception(f"invoke of {tok} failed: {failure.reason} ({failure.property})")
    if response.unknown:
        return _OutputData(resources=set(), value=None, is_known=False, is_secret=False)
    answer = getattr(response, "return")
    if _requires_legacy_none_return_for_empty_struct(answer, tok, opts.version or ""):
        return _OutputData(resources=set(), value=None, is_known=True, is_secret=False)
    value, is_secret = _rpc.deserialize_properties_unwrap_secrets(answer)
    if typ:
        value = _rpc.translate_output_properties(value, lambda prop: prop, typ)
    return _OutputData(resources=set(), value=value, is_known=True, is_secret=is_secret)


@contextlib.contextmanager
def _fast_runtime() -> Iterator[None]:
    """For one run: no stack traces, the all-at-once wait, the plain-string URN and unknowns
    checks, plain `depends_on` lists taken as they are, custom resources' dependencies expanded in
    one coroutine, one future per property, the type functions answered once per type (and, once
    the run's settings exist, `_run_output_tracking`), long texts kept once (`shared_text`). The SDK
    functions are swapped back afterwards (module attributes: one run at a time, as `run_program`
    already requires for the runtime's process-wide settings). The collector is `_collector_off`'s,
    the run's leftovers `_release_resources`'.
    """
    saved = (_resource._get_stack_trace, _stack.wait_for_rpcs)
    _resource._get_stack_trace = _no_stack_trace
    _stack.wait_for_rpcs = _wait_for_rpcs
    _resource.create_urn = _create_urn
    _depends_on._resolve_depends_on = _resolve_depends_on
    for module in _EXPANDING_MODULES:
        setattr(module, _EXPAND_DEPENDENCIES, _expand_dependencies)
    _rpc.contains_unknowns = _contains_unknowns
    _rpc.transfer_properties = _transfer_properties
    for name, function in _SDK_TYPE_FUNCTIONS.items():
        setattr(_types, name, _by_identity(function))
    pulumi.runtime.invoke_output = _invoke_output
    try:
        yield
    finally:
        for name, function in _SDK_TYPE_FUNCTIONS.items():
            setattr(_types, name, function)
        _resource._get_stack_trace, _stack.wait_for_rpcs = saved[0], saved[1]
        _resource.create_urn, _rpc.contains_unknowns = _SDK_CREATE_URN, _SDK_CONTAINS_UNKNOWNS
        _depends_on._resolve_depends_on = _SDK_RESOLVE_DEPENDS_ON
        for module in _EXPANDING_MODULES:
            setattr(module, _EXPAND_DEPENDENCIES, _SDK_EXPAND_DEPENDENCIES)
        _rpc.transfer_properties = _SDK_TRANSFER_PROPERTIES
        pulumi.runtime.invoke_output = _SDK_INVOKE_OUTPUT


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    """The cyclic collector off for a fast run, on again (if it was) once the run's objects are gone.

    Nearly everything a run allocates lives until it ends (resources hold their Outputs, the
    monitor its records): the collector's passes over that growing heap found almost nothing and
    cost over half of a 500-repository plan (0.13.0), still a fifth of a 2,000-repository one with
    its youngest generation collected a hundred times less often, and made the time per resource
    grow with the plan. What the run leaves is freed by reference counting once `_release_resources`
    has broken the resources' cycles and the run's context is dropped, so turning the collector back
    on finds little. Measured (bench/README.md): 24 % faster at 2,000 repositories, peak memory
    +2.5 % (the few cycles a run makes are kept until it ends).
    """
    enabled = FAST_RUNTIME and gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What the run leaves alive (the recording, mostly) was allocated with the collector
            # off, so it all sits in the youngest generation: the first two collections afterwards
            # would walk all of it (0.2 s at 500 repositories) to find nothing, as the run leaves no
            # cycles (`_release_resources`, `_contains_unknowns`). Moved to the oldest instead
            # (gate/collector.py, which start-up imports share).
            to_oldest_generation()
            gc.enable()


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
