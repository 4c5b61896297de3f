"""gate/offline/engine.py: every SDK internal it relies on, and what a recorded run looks like.

An SDK upgrade that moves or changes one of these names must fail here, not in a plan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import importlib
import inspect
import json
import os
import re
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Coroutine
from pathlib import Path

import pulumi
import pytest
from pulumi import _types as sdk_types
from pulumi.output import _OutputData
from pulumi.runtime import _depends_on as sdk_depends_on
from pulumi.runtime import config as sdk_config
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc as sdk_rpc
from pulumi.runtime import settings as sdk_settings
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime import sync_await as sdk_sync_await

from gate.errors import GateError
from gate.offline import engine
from gate.offline.engine import ProgramError, Recording, run_program, stable_id

LABEL = "github:index/issueLabel:IssueLabel"

LABEL_PROGRAM = """
import pulumi
import pulumi_github as github

token = pulumi.Config("demo").require_secret("token")
label = github.IssueLabel(
    "bug-label",
    repository="aos",
    name="bug",
    color="d73a4a",
    description=token,
    opts=pulumi.ResourceOptions(protect=True, ignore_changes=["color"]),
)
team = github.get_team_output(slug="backend")
pulumi.export("labelName", label.name)
pulumi.export("hidden", pulumi.Output.secret("not-for-the-plan"))
pulumi.export("teamId", team.id)
"""

COMPONENT_PROGRAM = """
import pulumi
import pulumi_github as github

class Gate(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:github:Gate", name, None, opts)
        github.IssueLabel(f"{name}-label", repository="aos", name="x", color="000000",
                          opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"labels": 1})

provider = github.Provider("github-acme", owner="acme")
Gate("acme-aos", opts=pulumi.ResourceOptions(providers={"github": provider}))
"""


def write_program(directory: Path, source: str) -> Path:
    program = directory / "__main__.py"
    program.write_text(textwrap.dedent(source), encoding="utf-8")
    return program


def run(program: Path, **config: str) -> Recording:
    return run_program(
        program,
        project="demo",
        stack="test",
        config={"demo:token": "s3cr3t-value", **config},
        secret_keys=["demo:token"],
    )


def only(recording: Recording, type_: str) -> engine.RegisteredResource:
    found = [r for r in recording.resources if r.type == type_]
    assert len(found) == 1, [r.urn for r in recording.resources]
    return found[0]


def test_the_sdk_internals_used_by_engine_exist() -> None:
    assert callable(sdk_stack.run_in_stack)
    assert callable(sdk_stack.run_pulumi_func)  # what run_in_stack awaits the program with
    assert callable(sdk_stack.wait_for_rpcs)
    assert callable(sdk_sync_await._sync_await)
    assert callable(sdk_settings.reset_options)
    assert callable(sdk_settings.get_stack)
    assert callable(sdk_settings.get_project)
    assert sdk_settings.ROOT.name == "root_resource"
    assert callable(sdk_config.set_all_config)
    assert callable(sdk_config.get_config_env)
    assert isinstance(sdk_config.CONFIG.get(), dict)
    assert callable(sdk_mocks.set_mocks)
    for method in ("RegisterResource", "RegisterResourceOutputs", "Invoke", "make_urn"):
        assert callable(getattr(sdk_mocks.MockMonitor, method)), method


def test_wire_markers_match_the_sdk() -> None:
    assert sdk_rpc._special_sig_key == engine.SIG_KEY
    assert sdk_rpc._special_secret_sig == engine.SECRET_SIG
    assert sdk_rpc._special_resource_sig == engine.RESOURCE_SIG
    assert sdk_rpc._special_output_value_sig == engine.OUTPUT_VALUE_SIG
    assert sdk_rpc._special_asset_sig == engine.ASSET_SIG
    assert sdk_rpc._special_archive_sig == engine.ARCHIVE_SIG
    assert engine.UNKNOWN == sdk_rpc.UNKNOWN


def test_a_run_records_inputs_options_outputs_and_invokes(tmp_path: Path) -> None:
    recording = run(write_program(tmp_path, LABEL_PROGRAM))

    label = only(recording, LABEL)
    assert label.urn == f"urn:pulumi:test::demo::{LABEL}::bug-label"
    assert label.custom is True
    assert label.inputs == {"repository": "aos", "name": "bug", "color": "d73a4a", "description": "[secret]"}
    assert label.options["protect"] is True
    assert label.options["ignoreChanges"] == ["color"]
    assert label.options["deleteBeforeReplace"] is False
    assert recording.outputs == {
        "labelName": "bug",
        "hidden": "[secret]",
        "teamId": stable_id("team", "backend"),
    }
    assert [(i.token, i.args["slug"]) for i in recording.invokes] == [
        ("github:index/getTeam:getTeam", "backend")
    ]
    # Neither the secret config value nor the secret output reaches the recording.
    dumped = repr(recording)
    assert "s3cr3t-value" not in dumped
    assert "not-for-the-plan" not in dumped


def test_urns_parents_and_providers_are_the_engines(tmp_path: Path) -> None:
    recording = run(write_program(tmp_path, COMPONENT_PROGRAM))

    by_type = {r.type: r for r in recording.resources}
    component = by_type["demo:github:Gate"]
    child = by_type[LABEL]
    provider = by_type["pulumi:providers:github"]
    # As `pulumi up` names them: no root-stack type in URNs, the parent's type chain on children.
    assert component.urn == "urn:pulumi:test::demo::demo:github:Gate::acme-aos"
    assert child.urn == f"urn:pulumi:test::demo::demo:github:Gate${LABEL}::acme-aos-label"
    assert provider.urn == "urn:pulumi:test::demo::pulumi:providers:github::github-acme"
    assert component.parent == "urn:pulumi:test::demo::pulumi:pulumi:Stack::demo-test"
    assert child.parent == component.urn
    assert component.custom is False
    assert component.outputs == {"labels": 1}
    assert component.options["providers"] == {"github": provider.urn}
    # Inherited from the component's providers map, recorded as a URN without the "::id" suffix.
    assert child.options["provider"] == provider.urn
    assert [r.urn for r in recording.resources] == sorted(r.urn for r in recording.resources)


def test_two_runs_record_the_same(tmp_path: Path) -> None:
    program = write_program(tmp_path, LABEL_PROGRAM + COMPONENT_PROGRAM.replace("import pulumi\n", ""))
    first = run(program)
    second = run(program)
    assert first == second
    assert len(first.resources) == 4


def test_a_run_error_becomes_a_gate_error(tmp_path: Path) -> None:
    program = write_program(tmp_path, 'import pulumi\nraise pulumi.RunError("stacks/x.yaml: bad value")\n')
    with pytest.raises(ProgramError) as caught:
        run(program)
    assert isinstance(caught.value, GateError)
    assert str(caught.value) == "stacks/x.yaml: bad value"


def test_a_program_bug_is_not_disguised_as_a_gate_error(tmp_path: Path) -> None:
    program = write_program(tmp_path, "raise ZeroDivisionError('bug in the program')\n")
    with pytest.raises(ZeroDivisionError, match="bug in the program"):
        run(program)


def test_a_failed_run_does_not_affect_the_next(tmp_path: Path) -> None:
    (tmp_path / "failing").mkdir()
    (tmp_path / "ok").mkdir()
    # Fails after a registration is under way, so the run has pending work when it stops.
    failing = write_program(tmp_path / "failing", LABEL_PROGRAM + "raise pulumi.RunError('no')\n")
    ok = write_program(tmp_path / "ok", LABEL_PROGRAM)
    expected = run(ok)
    with pytest.raises(ProgramError):
        run(failing)
    assert run(ok) == expected


def test_the_environment_does_not_reach_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CI has GITHUB_TOKEN set; the provider SDK would read it into its inputs.
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_from_the_environment")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"demo:token": "from-env"}))
    path_before = list(sys.path)
    recording = run(write_program(tmp_path, COMPONENT_PROGRAM))

    provider = only(recording, "pulumi:providers:github")
    assert "token" not in provider.inputs
    assert "ghp_from_the_environment" not in repr(recording)
    assert os.environ["GITHUB_TOKEN"] == "ghp_from_the_environment"  # restored afterwards
    assert sys.path == path_before


def test_a_run_leaves_the_callers_runtime_alone(tmp_path: Path) -> None:
    root_before = sdk_settings.get_root_resource()
    stack_before = sdk_settings.get_stack()
    run(write_program(tmp_path, LABEL_PROGRAM))
    assert sdk_settings.get_root_resource() is root_before
    assert sdk_settings.get_stack() == stack_before


def test_stable_ids_are_numeric_and_distinct() -> None:
    assert stable_id("team", "backend") == stable_id("team", "backend")
    assert stable_id("team", "backend") != stable_id("team", "qa")
    assert 0 < int(stable_id("user", "octocat")) < 2**32


# -- issue 14: what makes a run fast, pinned to the SDK it reaches into ---------------------------

FAST_PROGRAM = """
import threading
import types
import pulumi
import pulumi_github as github
from pulumi.runtime import resource as sdk_resource
from gate.offline import engine

provider = github.Provider("github-acme", owner="acme")
label = github.IssueLabel("first", repository="aos", name="x", color="000000",
                          opts=pulumi.ResourceOptions(provider=provider))
parent = "urn:pulumi:test::demo::demo:github:Gate::acme-aos"
cases = {
    "root": ("n", "demo:index:T", None, None, None),
    "child": ("n", "demo:index:T", parent, None, None),
    "elsewhere": ("n", "demo:index:T", None, "other-project", "other-stack"),
}
for key, args in cases.items():
    pulumi.export(f"fast-{key}", engine._create_urn(*args))
    pulumi.export(f"sdk-{key}", engine._SDK_CREATE_URN(*args))
# An Output part is not a plain string: the SDK's own function answers it.
pulumi.export("fast-output", engine._create_urn(label.name, "demo:index:T"))
pulumi.export("sdk-output", engine._SDK_CREATE_URN(label.name, "demo:index:T"))
pulumi.export("frames", len(sdk_resource._get_stack_trace().frames))

def later(name):
    # Declared from inside an apply, after the program's body returned: the wait must find it.
    github.IssueLabel("second", repository="aos", name=name + "-2", color="000000")
    return name

pulumi.export("later", label.name.apply(later))
pulumi.export("thread", threading.get_ident())
import gc
pulumi.export("collector", gc.isenabled())
"""


def test_the_sdk_functions_a_fast_run_replaces_are_where_and_what_it_expects() -> None:
    # Swapped by name during a run: if the SDK renames, moves or reshapes one, the swap would be
    # silently ignored (or break a run), so fail here instead.
    assert list(inspect.signature(sdk_resource.create_urn).parameters) == [
        "name",
        "type_",
        "parent",
        "project",
        "stack",
    ]
    assert list(inspect.signature(sdk_resource._get_stack_trace).parameters) == []
    assert list(inspect.signature(sdk_rpc.contains_unknowns).parameters) == ["val"]
    assert list(inspect.signature(sdk_stack.wait_for_rpcs).parameters) == ["await_all_outstanding_tasks"]
    # ...and are called by global name where the registration and the run look them up.
    source = inspect.getsource(sdk_resource)
    assert "await create_urn(name, ty, resolver.parent_urn).future()" in source
    assert "stack_trace = _get_stack_trace()" in source
    # Every monitor RPC goes to the loop's default executor, which `_PlanEventLoop` answers inline.
    assert re.search(r"run_in_executor\(\s*None,", source)
    assert "wait_for_rpcs" in sdk_stack.run_pulumi_func.__code__.co_names
    assert "contains_unknowns" in inspect.getsource(sdk_rpc.contains_unknowns)
    rpc_manager = sdk_settings._get_rpc_manager()
    for name in ("rpcs", "unhandled_exception", "exception_traceback"):
        assert hasattr(rpc_manager, name), name
    assert isinstance(sdk_settings.SETTINGS.outputs, set)
    assert hasattr(sdk_settings.SETTINGS.lock, "__enter__")
    # Output tracking: every Output calls self._track(), which only ever adds to SETTINGS.outputs
    # and removes on success (Settings replaces the set only when settings are configured anew).
    assert list(inspect.signature(pulumi.Output._track).parameters) == ["self"]
    assert "_track" in pulumi.Output.__init__.__code__.co_names
    assert "_track" in inspect.getsource(pulumi.Output._from_data)
    assert "self.outputs = set()" in inspect.getsource(sdk_settings.Settings.__init__)
    # Properties' Outputs: transfer_properties(res, props, custom) -> resolvers, each called as
    # resolve(value, is_known, is_secret, deps, failure), by global name where resources register.
    assert list(inspect.signature(sdk_rpc.transfer_properties).parameters) == ["res", "props", "custom"]
    assert "rpc.transfer_properties(res, props, custom)" in source
    rpc_source = inspect.getsource(sdk_rpc.resolve_properties)
    assert "resolve(unwrapped_value, True, is_secret, deps.get(key), None)" in rpc_source
    assert "resolve(None, False, False, None, exn)" in inspect.getsource(sdk_rpc)
    assert [f.name for f in dataclasses.fields(_OutputData)] == [
        "resources",
        "value",
        "is_known",
        "is_secret",
    ]


def test_a_fast_run_answers_as_the_sdk_would(tmp_path: Path) -> None:
    recording = run(write_program(tmp_path, FAST_PROGRAM))
    outputs = recording.outputs
    for key in ("root", "child", "elsewhere", "output"):
        assert outputs[f"fast-{key}"] == outputs[f"sdk-{key}"], key
    assert outputs["fast-root"] == "urn:pulumi:test::demo::demo:index:T::n"
    assert outputs["fast-child"] == "urn:pulumi:test::demo::demo:github:Gate$demo:index:T::n"
    assert outputs["fast-elsewhere"] == "urn:pulumi:other-stack::other-project::demo:index:T::n"
    assert outputs["frames"] == 0  # no stack trace is built during a run
    assert outputs["later"] == "x"
    assert {r.name for r in recording.resources if r.type == LABEL} == {"first", "second"}


def test_a_fast_run_answers_every_rpc_on_its_own_thread(tmp_path: Path) -> None:
    threads: set[int] = set()
    recording = run_program(
        write_program(tmp_path, FAST_PROGRAM),
        project="demo",
        stack="test",
        config={},
        on_register=lambda *_: threads.add(threading.get_ident()),
    )
    # Inline, not on the SDK's thread pool: the registrations ran where the program ran.
    assert threads == {recording.outputs["thread"]}


def _swappable_state() -> tuple[object, ...]:
    """What a fast run swaps or tunes, as the process sees it between runs."""
    return (
        sdk_rpc.transfer_properties,
        pulumi.Output._track,
        sdk_resource.create_urn,
        sdk_depends_on._resolve_depends_on,
        sdk_resource._get_stack_trace,
        sdk_rpc.contains_unknowns,
        sdk_stack.wait_for_rpcs,
        pulumi.runtime.invoke_output,
        *(getattr(sdk_types, name) for name in engine._SDK_TYPE_FUNCTIONS),
        gc.get_threshold(),
    )


def test_the_cyclic_collector_is_off_during_a_fast_run_and_on_again_afterwards(tmp_path: Path) -> None:
    assert gc.isenabled()
    recording = run_program(write_program(tmp_path, FAST_PROGRAM), project="demo", stack="test", config={})
    assert recording.outputs["collector"] is False
    assert gc.isenabled()
    # A process that had it off keeps it off.
    gc.disable()
    try:
        run(write_program(tmp_path, LABEL_PROGRAM))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_fast_run_puts_the_sdk_and_the_collector_back(tmp_path: Path) -> None:
    before = _swappable_state()
    with pytest.raises(ProgramError):
        run(write_program(tmp_path, LABEL_PROGRAM + "raise pulumi.RunError('no')\n"))
    run(write_program(tmp_path, LABEL_PROGRAM))
    after = _swappable_state()
    assert after == before
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


# What an Output holds while its value is not known (the SDK gives the class no annotations).
AN_UNKNOWN = pulumi.output.Unknown()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    "value",
    [
        "x",
        "",
        0,
        2.5,
        True,
        None,
        sdk_rpc.UNKNOWN,
        [1, "a", None],
        [1, [2, [sdk_rpc.UNKNOWN]]],
        {"a": {"b": "c"}},
        {"a": [{"b": sdk_rpc.UNKNOWN}]},
        ("tuple", sdk_rpc.UNKNOWN),
        AN_UNKNOWN,
        [1, [2, [AN_UNKNOWN]]],
        {"a": {"b": [AN_UNKNOWN]}},
        {"a": [{"b": "c"}], "d": ["e", 3]},
    ],
)
def test_the_fast_unknowns_check_agrees_with_the_sdk(value: object) -> None:
    assert engine._contains_unknowns(value) == engine._SDK_CONTAINS_UNKNOWNS(value)


def test_the_fast_unknowns_check_looks_into_shared_and_cyclic_values_once() -> None:
    shared = [AN_UNKNOWN]
    cyclic: dict[str, object] = {"x": [1]}
    cyclic["self"] = cyclic
    for value in ({"a": shared, "b": shared}, cyclic, [cyclic, {"u": AN_UNKNOWN}]):
        assert engine._contains_unknowns(value) == engine._SDK_CONTAINS_UNKNOWNS(value)
    assert engine._contains_unknowns(cyclic) is False
    assert engine._contains_unknowns([cyclic, shared]) is True


def test_the_type_functions_a_fast_run_answers_once_per_type_are_what_it_expects() -> None:
    # Each takes one type and is looked up by global name: within pulumi._types (which calls the
    # others through them) and through the module from pulumi.runtime.rpc.
    for name in engine._SDK_TYPE_FUNCTIONS:
        assert len(inspect.signature(getattr(sdk_types, name)).parameters) == 1, name
    types_source = inspect.getsource(sdk_types)
    assert "typ = unwrap_type(return_hint)" in inspect.getsource(sdk_types._types_from_py_properties)
    assert "_types_from_annotations(resource_cls)" in types_source
    assert "_types_from_py_properties(resource_cls)" in types_source
    rpc_source = inspect.getsource(sdk_rpc)
    assert "_types.unwrap_type(typ)" in rpc_source
    assert "_types.unwrap_optional_type(typ)" in rpc_source
    assert "_types.resource_types(resource_cls)" in rpc_source
    # A typed resource's names, for every answer and every registration's inputs.
    assert "_types.resource_pulumi_to_py_names(resource_cls)" in rpc_source
    assert "_types.resource_py_to_pulumi_names(type(res))" in inspect.getsource(sdk_resource)
    for names in ("_pulumi_to_py_names", "_py_to_pulumi_names"):
        for source in ("annotations", "py_properties"):
            assert f"{names}_from_{source}(resource_cls)" in types_source, (names, source)


def _typed_classes() -> list[type]:
    import pulumi_github  # noqa: PLC0415 - the provider SDK whose classes a plan declares most
    from pulumi_github import outputs as github_outputs  # noqa: PLC0415

    resources = [cls for cls in vars(pulumi_github).values() if isinstance(cls, type)]
    kinds = [cls for cls in vars(github_outputs).values() if isinstance(cls, type)]
    return [
        cls for cls in resources + kinds if issubclass(cls, pulumi.Resource) or sdk_types.is_output_type(cls)
    ]


def test_the_type_functions_answered_once_per_type_agree_with_the_sdk() -> None:
    classes = _typed_classes()
    assert len(classes) > 100
    memoized = {name: engine._by_identity(function) for name, function in engine._SDK_TYPE_FUNCTIONS.items()}
    compared = 0
    for cls in classes:
        for name in (
            "_types_from_py_properties",
            "_types_from_annotations",
            "_pulumi_to_py_names_from_annotations",
            "_py_to_pulumi_names_from_annotations",
            "_pulumi_to_py_names_from_py_properties",
            "_py_to_pulumi_names_from_py_properties",
        ):
            for _ in range(2):  # the first answer computed, the second remembered
                answer = memoized[name](cls)
                assert answer == engine._SDK_TYPE_FUNCTIONS[name](cls), (cls, name)
        for hint in sdk_types._raw_return_hints(cls).values():
            for name in ("unwrap_type", "unwrap_optional_type"):
                for _ in range(2):
                    assert memoized[name](hint) == engine._SDK_TYPE_FUNCTIONS[name](hint), (cls, hint)
                    compared += 1
    assert compared > 1000


def test_type_answers_go_by_identity_and_hand_out_fresh_dicts() -> None:
    from typing import Union, get_args  # noqa: PLC0415

    first, second = Union[int, str], Union[str, int]  # noqa: UP007 - the typing objects themselves
    assert first == second  # typing calls them equal; a memo by equality would mix them up
    seen: list[object] = []

    def arguments(value: object) -> dict[str, object]:
        seen.append(value)
        return {"args": get_args(value)}

    memoized = engine._by_identity(arguments)
    assert memoized(first) == {"args": (int, str)}
    assert memoized(second) == {"args": (str, int)}
    answer = memoized(first)
    answer["changed"] = True  # a caller changing its dict does not change the next caller's
    assert memoized(first) == {"args": (int, str)}
    assert seen == [first, second]


def test_a_failed_output_still_fails_the_run(tmp_path: Path) -> None:
    program = LABEL_PROGRAM + "pulumi.export('broken', label.name.apply(lambda _: 1 / 0))\n"
    with pytest.raises(ZeroDivisionError):
        run(write_program(tmp_path, program))


def _struct(values: dict[str, object]) -> object:
    return engine.plain_to_struct(values)


@pytest.mark.parametrize(
    ("type_", "inputs"),
    [
        (LABEL, {"repository": "aos", "name": "bug", "labels": ["a", 1, True, None], "nested": {"k": 2.5}}),
        ("aws:iam/role:Role", {"name": "deploy"}),
        ("aws:iam/role:Role", {"name": "deploy", "arn": "arn:aws:iam::1:role/deploy"}),
        ("aws:appconfig/environment:Environment", {"name": "dev"}),
        ("pulumi:pulumi:StackReference", {"name": "acme/delivery-gate/dev"}),
    ],
)
def test_the_monitors_answer_on_the_wire_is_new_resources_answer(
    type_: str, inputs: dict[str, object]
) -> None:
    mocks = engine.PlanMocks({"dev": {"release": "1.2.3"}})
    wire_id, wire_outputs = mocks.registered(type_, "res", _struct(inputs))
    args = sdk_mocks.MockResourceArgs(typ=type_, name="res", inputs=dict(inputs), provider="")
    sdk_id, sdk_outputs = mocks.new_resource(args)
    assert wire_id == sdk_id
    assert engine.plain_struct(wire_outputs) == engine.plain_struct(_struct(sdk_outputs))


def test_only_plain_values_are_written_to_the_wire_directly() -> None:
    with pytest.raises(TypeError, match="not a plain value"):
        engine.plain_to_struct({"when": object()})


class _Owner:
    """Stands in for a resource: transfer_properties only sets attributes on it."""


@pytest.mark.parametrize(
    "answer",
    [
        ("value", True, False, set(), None),
        ({"nested": [1, sdk_rpc.UNKNOWN]}, True, False, set(), None),  # unknowns make it unknown
        (None, False, False, None, None),
        ("s3cr3t", True, True, {"dep"}, None),
        (None, False, False, None, RuntimeError("registration failed")),
    ],
)
def test_the_fast_property_outputs_resolve_as_the_sdks(answer: tuple[object, ...]) -> None:
    async def resolved(transfer: object) -> object:
        owner = _Owner()
        resolvers = transfer(owner, {"name": None, "urn": None, "id": None}, True)  # type: ignore[operator]
        assert set(resolvers) == {"name"}  # urn and id are the registration's own, as in the SDK
        resolvers["name"](*answer)
        output = owner.__dict__["name"]
        try:
            data = await output._data
        except RuntimeError as error:
            return ("failed", str(error))
        return (data.value, data.is_known, data.is_secret, {type(r).__name__ for r in data.resources})

    loop = asyncio.new_event_loop()
    try:
        fast = loop.run_until_complete(resolved(engine._transfer_properties))
        sdk = loop.run_until_complete(resolved(engine._SDK_TRANSFER_PROPERTIES))
    finally:
        loop.close()
    assert fast == sdk


def _on_a_loop_of_its_own(body: Callable[[], Coroutine[object, object, None]]) -> None:
    """Run `body` on a new event loop without making it the thread's current one: setting the main
    thread's loop and then None would leave later tests (pulumi.runtime.test) without one."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(body())
    finally:
        loop.close()


@pytest.mark.parametrize("failure", [None, RuntimeError("registration failed")])
def test_a_fast_property_output_is_tracked_until_it_resolves_without_a_callback(
    failure: Exception | None,
) -> None:
    # Tracked like every Output (the end-of-run wait raises what failed), but taken out of the set
    # by its resolver, not by a done callback scheduled on the loop: half of a plan's callbacks.
    async def resolve() -> None:
        loop = asyncio.get_running_loop()
        owner = _Owner()
        resolvers = engine._transfer_properties(owner, {"name": None}, True)
        output = owner.__dict__["name"]
        tracked = sdk_settings.SETTINGS.outputs
        assert output._data in tracked
        ready = len(loop._ready)  # type: ignore[attr-defined]  # the loop's scheduled callbacks
        resolvers["name"]("bug", True, False, set(), failure)
        assert len(loop._ready) == ready  # type: ignore[attr-defined]
        assert (output._data in tracked) is (failure is not None)
        tracked.discard(output._data)
        if failure is not None:
            output._data.exception()  # retrieved: no "never retrieved" warning at collection

    _on_a_loop_of_its_own(resolve)


def test_a_fast_property_output_is_built_as_the_sdk_builds_one_from_its_data() -> None:
    # Output._from_data makes a bare Output, sets `_data` and tracks it; the engine does the first
    # two itself (and tracks without a callback): an Output attribute the SDK adds would show here.
    async def build() -> None:
        owner = _Owner()
        engine._transfer_properties(owner, {"name": None}, True)
        fast = owner.__dict__["name"]
        sdk = pulumi.Output._from_data(asyncio.get_running_loop().create_future())
        assert type(fast) is type(sdk)
        assert vars(fast).keys() == vars(sdk).keys() == {"_data"}
        sdk_settings.SETTINGS.outputs.discard(fast._data)
        sdk_settings.SETTINGS.outputs.discard(sdk._data)

    _on_a_loop_of_its_own(build)
    source = inspect.getsource(pulumi.Output._from_data)
    assert "object.__new__(cls)" in source and "out._track()" in source


FREED_PROGRAM = """
import sys, weakref
import pulumi
import pulumi_github as github

# No function or class here: their globals would hold this module's names in a cycle of their own.
gate = pulumi.ComponentResource("demo:index:Gate", "g")
label = github.IssueLabel("g", repository="aos", name="bug", color="d73a4a",
                          opts=pulumi.ResourceOptions(parent=gate))
gate.register_outputs({"url": label.url})
sys.gate_test_weakrefs = [weakref.ref(gate), weakref.ref(label), weakref.ref(label.url)]
"""


def test_a_fast_run_leaves_no_resource_for_the_cyclic_collector(tmp_path: Path) -> None:
    # Issue 14: resources and their Outputs name each other; the engine empties them after the run,
    # so reference counting frees them, not a collector pass over the whole run.
    gc.disable()
    try:
        run(write_program(tmp_path, FREED_PROGRAM))
        refs = sys.__dict__.pop("gate_test_weakrefs")
        assert len(refs) == 3
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()


STRUCTURED_PROGRAM = """
import pulumi
import pulumi_github as github

gate = pulumi.ComponentResource("demo:index:Gate", "g")
labels = [github.IssueLabel(f"l{n}", repository="aos", name=f"bug-{n}", color="d73a4a",
                            opts=pulumi.ResourceOptions(parent=gate)) for n in range(20)]
gate.register_outputs({"names": [label.name for label in labels], "settings": {"colors": ["d73a4a"]}})
pulumi.export("names", pulumi.Output.all(*[label.name for label in labels]))
"""


def test_a_fast_run_leaves_no_functions_for_the_cyclic_collector(tmp_path: Path) -> None:
    # Issue 14: every Output that resolves to a list or dict asks whether it holds an Unknown; the
    # SDK's check left a self-naming closure per call (148,000 objects at 500 repositories, 0.2 s of
    # collection when the run ended). The engine's own check leaves none.
    program = write_program(tmp_path, STRUCTURED_PROGRAM)
    run(program)  # the first run's imports leave cycles of their own
    gc.collect()
    gc.disable()
    try:
        recording = run(program)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
    finally:
        gc.set_debug(0)
        gc.enable()
    left = [o for o in gc.garbage if isinstance(o, types.FunctionType)]
    gc.garbage.clear()
    assert len(recording.outputs["names"]) == 20
    assert left == []


def test_what_a_fast_run_leaves_alive_skips_the_young_collections(tmp_path: Path) -> None:
    # Issue 14: allocated with the collector off, the run's survivors (the recording) would all be
    # in the youngest generation, walked by the next two collections to find nothing (0.2 s at 500
    # repositories). The engine moves them to the oldest generation as it turns the collector on.
    recording = run(write_program(tmp_path, STRUCTURED_PROGRAM))
    gate = next(r for r in recording.resources if r.type == "demo:index:Gate")
    assert gate.outputs is not None
    settings = gate.outputs["settings"]  # a dict holding a list: one the collector tracks
    assert gc.is_tracked(settings)
    assert any(obj is settings for obj in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0


def test_a_process_that_keeps_objects_frozen_keeps_them_frozen(tmp_path: Path) -> None:
    # A server may freeze its start-up heap (gc.freeze) so that collections skip it: a plan made in
    # that process must not hand those objects back to the collector.
    kept = {"frozen": ["by the caller"]}
    gc.freeze()
    try:
        run(write_program(tmp_path, STRUCTURED_PROGRAM))
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for generation in range(3) for obj in gc.get_objects(generation))
    finally:
        gc.unfreeze()
    assert any(obj is kept for obj in gc.get_objects(2))


class _Tracked:
    """Stands in for an Output: the tracker reads only its `_data`."""

    def __init__(self, data: object) -> None:
        self._data = data


def test_the_run_tracks_outputs_without_callbacks_and_keeps_what_the_end_must_see() -> None:
    # Issue 14: the SDK schedules a callback per Output to take it out of the set once resolved;
    # the engine takes resolved ones out in bulk. Failed, cancelled and pending ones stay (the
    # end-of-run wait raises or awaits them), and the set stays bounded.
    loop = asyncio.new_event_loop()
    try:
        outputs: set[object] = set()
        track = engine._tracker(outputs, threading.Lock())
        failed, cancelled, pending = loop.create_future(), loop.create_future(), loop.create_future()
        for future in (failed, cancelled, pending):
            track(_Tracked(future))
        failed.set_exception(RuntimeError("no"))
        cancelled.cancel()
        ready = len(loop._ready)  # type: ignore[attr-defined]  # the loop's scheduled callbacks
        largest = 0
        for _ in range(5 * engine._PRUNE_AT_LEAST):
            future = loop.create_future()
            track(_Tracked(future))
            future.set_result(None)
            largest = max(largest, len(outputs))
        assert len(loop._ready) == ready  # type: ignore[attr-defined]
        assert largest <= engine._PRUNE_AT_LEAST
        assert {failed, cancelled, pending} <= outputs
        engine._prune(outputs)
        assert outputs == {failed, cancelled, pending}
        pending.cancel()
    finally:
        loop.close()


# -- invokes of plain arguments in one task (`_invoke_output`) -----------------------------------

INVOKE_PROGRAM = """
import asyncio
import pulumi
import pulumi_github as github
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2
from gate.offline import engine

monitor = settings.get_monitor()
requests = {"fast": [], "sdk": []}
path = ["fast"]
answer = monitor.Invoke
def invoke(request):
    requests[path[0]].append(json_format.MessageToDict(request))
    if request.tok == "demo:index:unknown":
        return resource_pb2.ResourceInvokeResponse(unknown=True)
    if request.tok == "demo:index:secret":
        secret = struct_pb2.Struct()
        secret["token"] = {engine.SIG_KEY: engine.SECRET_SIG, "value": "hidden"}
        return resource_pb2.ResourceInvokeResponse(**{"return": secret})
    return answer(request)
monitor.Invoke = invoke
mocks_call = monitor.mocks.call
def call(args):
    if args.token == "demo:index:refused":
        return {}, [("file", "not in this repository")]
    return mocks_call(args)
monitor.mocks.call = call

provider = github.Provider("github-acme", owner="acme")
holder = pulumi.ComponentResource(
    "demo:index:Holder", "holder", None, pulumi.ResourceOptions(providers={"github": provider})
)
READ = "github:index/getRepositoryFile:getRepositoryFile"
cases = {
    "typed": (
        READ, {"repository": "acme/aos", "file": "CODEOWNERS", "branch": None}, github.GetRepositoryFileResult
    ),
    "untyped": ("github:index/getTeam:getTeam", {"slug": "backend", "summaryOnly": True, "count": 2}, None),
    "refused": ("demo:index:refused", {"file": "x"}, None),
    "unknown": ("demo:index:unknown", {"file": "x"}, None),
    "secret-answer": ("demo:index:secret", {"file": "x"}, None),
}

async def describe(output):
    try:
        value = await output.future()
    except Exception as error:
        return {"error": type(error).__name__ + ": " + str(error)}
    if value is not None and not isinstance(value, dict):
        value = {"class": type(value).__name__, **{k: v for k, v in vars(value).items()}}
    return {
        "value": value,
        "known": await output.is_known(),
        "secret": await output.is_secret(),
        "resources": len(await output.resources()),
    }

async def invoke_both(results, key, token, args, typ):
    # One after the other, so that each path's requests are its own.
    for name, function in (("fast", pulumi.runtime.invoke_output), ("sdk", engine._SDK_INVOKE_OUTPUT)):
        path[0] = name
        options = pulumi.InvokeOutputOptions(parent=holder, version="6.15.0")
        output = function(token, dict(args), options, typ)
        described = await describe(output)
        # A failed Output fails the run at its end (tested below); this one has been looked at.
        with settings.SETTINGS.lock:
            settings.SETTINGS.outputs.discard(output._data)
        described["provider"] = None if options.provider is None else options.provider._name
        results[f"{name}-{key}"] = described

async def main():
    results = {}
    for key, (token, args, typ) in cases.items():
        await invoke_both(results, key, token, args, typ)
    return {**results, "requests": requests}

pulumi.export("results", pulumi.Output.from_input(asyncio.ensure_future(main())))
"""


def test_an_invoke_of_plain_arguments_answers_and_asks_as_the_sdks(tmp_path: Path) -> None:
    outputs = run(write_program(tmp_path, INVOKE_PROGRAM)).outputs["results"]
    for key in ("typed", "untyped", "refused", "unknown", "secret-answer"):
        assert outputs[f"fast-{key}"] == outputs[f"sdk-{key}"], key
    assert outputs["fast-typed"]["value"]["class"] == "GetRepositoryFileResult"
    assert outputs["fast-typed"]["provider"] == "github-acme"  # the parent's, as the SDK picks it
    assert outputs["fast-untyped"]["value"]["slug"] == "backend"
    assert outputs["fast-refused"]["error"] == (
        "Exception: invoke of demo:index:refused failed: not in this repository (file)"
    )
    assert outputs["fast-unknown"]["known"] is False
    assert outputs["fast-secret-answer"]["secret"] is True
    # The same requests on the wire: token, arguments (None left out), provider, version.
    requests = outputs["requests"]
    assert requests["fast"] == requests["sdk"]
    assert requests["fast"][0]["args"] == {"repository": "acme/aos", "file": "CODEOWNERS"}
    assert requests["fast"][0]["provider"].endswith("::github-acme-id")


def test_only_invokes_of_plain_arguments_take_the_one_task_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    invoked = engine._invoked

    async def counted(tok: str, *args: object) -> object:
        taken.append(tok)
        return await invoked(tok, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_invoked", counted)
    program = """
import pulumi
import pulumi_github as github
label = github.IssueLabel("l", repository="aos", name="x", color="000000")
github.get_team_output(slug="plain")
github.get_team_output(slug=label.name)  # an Output argument: the SDK's path waits for it
github.get_team_output(slug="after", opts=pulumi.InvokeOutputOptions(depends_on=[label]))
pulumi.runtime.invoke_output("github:index/getTeam:getTeam", {"slug": "nested", "x": {"a": 1}})
"""
    recording = run(write_program(tmp_path, program))
    assert taken == ["github:index/getTeam:getTeam"]
    assert sorted(i.args["slug"] for i in recording.invokes) == ["after", "nested", "plain", "x"]


def test_an_invoke_that_raises_fails_the_run_on_either_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = write_program(
        tmp_path, 'import pulumi\npulumi.runtime.invoke_output("pulumi:pulumi:getStackOutputs", {"x": 1})\n'
    )

    def raising(self: object, args: object) -> object:
        raise ValueError("the mock broke")

    monkeypatch.setattr(engine.PlanMocks, "call", raising)
    with pytest.raises(ValueError, match="the mock broke"):
        run(program)
    monkeypatch.setattr(engine, "_invoke_output", engine._SDK_INVOKE_OUTPUT)
    with pytest.raises(ValueError, match="the mock broke"):
        run(program)


def test_the_sdk_invoke_path_the_fast_one_stands_for_is_where_and_what_it_expects() -> None:
    # The module (`pulumi.runtime.invoke` is also the name of a function the package exports).
    sdk_invoke = importlib.import_module("pulumi.runtime.invoke")
    assert engine._SDK_INVOKE_OUTPUT is sdk_invoke.invoke_output
    assert list(inspect.signature(sdk_invoke.invoke_output).parameters) == [
        "tok",
        "props",
        "opts",
        "typ",
        "package_ref",
    ]
    source = inspect.getsource(sdk_invoke._invoke)
    # What `_invoked` repeats, in the SDK's words.
    for line in (
        "opts.provider = opts.parent.get_provider(tok)",
        'provider_ref = f"{provider_urn}::{provider_id}"',
        "if rpc.struct_contains_unknowns(inputs):",
        "resp.failures[0].reason} ({resp.failures[0].property})",
        "if resp.unknown:",
        "_requires_legacy_none_return_for_empty_struct(ret_obj, tok, version)",
        "deserialize_properties_unwrap_secrets(ret_obj)",
        "translate_output_properties(\n                deserialized, lambda prop: prop, typ\n            )",
        '"PULUMI_DISABLE_RESOURCE_REFERENCES", ""',
    ):
        assert line in source, line
    assert "resources=set(invoke_result.dependencies)" in inspect.getsource(sdk_invoke.invoke_output)
    # The provider SDKs' *_output functions call it through the package, where the run swaps it.
    github_source = inspect.getsource(importlib.import_module("pulumi_github.get_repository_file"))
    assert "pulumi.runtime.invoke_output('github:index/getRepositoryFile:getRepositoryFile'" in github_source
    # So do the gate's lookups, which send what those functions send (gate/components/declare.py).
    declare_source = inspect.getsource(importlib.import_module("gate.components.declare"))
    assert "return pulumi.runtime.invoke_output(token, arguments, opts=options)" in declare_source


DEPENDS_ON_PROGRAM = """
import asyncio
import pulumi
from pulumi.runtime import _depends_on
from gate.offline import engine

a = pulumi.CustomResource("demo:index:Thing", "a", {"x": "1"})
b = pulumi.CustomResource("demo:index:Thing", "b", {"x": "2"})
holder = pulumi.ComponentResource("demo:index:Holder", "holder")
lifted = pulumi.Output.from_input("v").apply(lambda _: b)
cases = {
    "empty": [],
    "resources": [a, b, a],
    "component": [holder, a],
    "an output in the list": [a, lifted],
    "an output of the list": pulumi.Output.from_input([a]),
}


async def compare():
    fast = _depends_on._resolve_depends_on  # the run's: the engine's
    sdk = engine._SDK_RESOLVE_DEPENDS_ON
    answers = {}
    for name, depends_on in cases.items():
        handed_on = []

        async def counted(value, asked=depends_on):
            # Only this case's: other registrations of the run may be waiting meanwhile.
            if value is asked:
                handed_on.append(value)
            return await sdk(value)

        engine._SDK_RESOLVE_DEPENDS_ON = counted
        try:
            mine = await fast(depends_on)
        finally:
            engine._SDK_RESOLVE_DEPENDS_ON = sdk
        sdks = await sdk(depends_on)
        answers[name + " handed on"] = len(handed_on)
        swapped = fast is not sdk
        answers[name] = [sorted(r._name for r in mine), sorted(r._name for r in sdks), swapped]
    return answers


pulumi.export("answers", pulumi.Output.from_input(asyncio.ensure_future(compare())))
later = pulumi.CustomResource(
    "demo:index:Thing", "later", {"x": "3"}, pulumi.ResourceOptions(depends_on=[a, holder, lifted])
)
"""


def test_plain_depends_on_lists_are_taken_as_they_are_with_the_sdks_answer(tmp_path: Path) -> None:
    recording = run(write_program(tmp_path, DEPENDS_ON_PROGRAM))
    answers = recording.outputs["answers"]
    handed_on = {name: answers.pop(name) for name in list(answers) if name.endswith(" handed on")}
    # Plain lists are answered here; Outputs go to the SDK.
    assert handed_on == {
        "empty handed on": 0,
        "resources handed on": 0,
        "component handed on": 0,
        "an output in the list handed on": 1,
        "an output of the list handed on": 1,
    }
    assert set(answers) == {
        "empty",
        "resources",
        "component",
        "an output in the list",
        "an output of the list",
    }
    for name, (mine, sdks, swapped) in answers.items():
        assert swapped, name
        assert mine == sdks, name
    assert answers["resources"][0] == ["a", "b"]
    # A resource's dependencies still reach the engine: the component's children (none) and the rest.
    later = next(r for r in recording.resources if r.name == "later")
    assert later.options["dependsOn"] == sorted(r.urn for r in recording.resources if r.name in ("a", "b"))


def test_the_depends_on_function_replaced_is_the_one_the_sdk_calls() -> None:
    assert list(inspect.signature(sdk_depends_on._resolve_depends_on).parameters) == ["depends_on"]
    source = inspect.getsource(sdk_depends_on._resolve_depends_on_urns)
    assert "all_deps = await _resolve_depends_on(depends_on)" in source
    # Its answer for a resource: no resources of its own and the resource as its value.
    assert "direct_dep = await inner.future()" in inspect.getsource(sdk_depends_on._resolve_depends_on)


EXPAND_PROGRAM = """
import asyncio
import pulumi
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import resource_cycle_breaker as cycles
from gate.offline import engine

holder = pulumi.ComponentResource("demo:index:Holder", "holder")
a = pulumi.CustomResource("demo:index:Thing", "a", {"x": "1"}, pulumi.ResourceOptions(parent=holder))
b = pulumi.CustomResource("demo:index:Thing", "b", {"x": "2"}, pulumi.ResourceOptions(depends_on=[a]))
provider = pulumi.ProviderResource("demo", "p")


def fresh(name):
    return pulumi.CustomResource("demo:index:Thing", name, {"x": name})


def dependencies(resource):
    return sorted(d._name for d in cycles._deps(resource))


async def answer(function, deps, source):
    try:
        expanded = await function(deps, source)
    except RuntimeError as error:
        return ["refused", str(error).splitlines()[0]]
    declared = dependencies(source) if source else None
    return [sorted(expanded), sorted(r._name for r in expanded.values()), declared]


async def compare():
    fast = sdk_resource._expand_dependencies  # the run's: the engine's
    sdk = engine._SDK_EXPAND_DEPENDENCIES
    answers = {"swapped": fast is not sdk and fast is engine._expand_dependencies}
    cases = {
        "empty": lambda: [],
        "custom": lambda: [a, b, a],
        "a set, a provider": lambda: {b, provider},
        "no source": lambda: [a, b],
        "component": lambda: [holder, b],
        "cycle": lambda: [b],
    }
    for name, deps in cases.items():
        sources = {"fast": fresh(name + "-fast"), "sdk": fresh(name + "-sdk")}
        if name == "no source":
            sources = {"fast": None, "sdk": None}
        if name == "cycle":
            sources = {"fast": a, "sdk": a}  # b depends on a: a depending on b closes a cycle
        mine = await answer(fast, deps(), sources["fast"])
        sdks = await answer(sdk, deps(), sources["sdk"])
        answers[name] = [mine, sdks]
    return answers


pulumi.export("answers", pulumi.Output.from_input(asyncio.ensure_future(compare())))
"""


def test_custom_resources_dependencies_are_expanded_as_the_sdk_expands_them(tmp_path: Path) -> None:
    answers = run(write_program(tmp_path, EXPAND_PROGRAM)).outputs["answers"]
    assert answers.pop("swapped") is True
    for name, (mine, sdks) in answers.items():
        assert mine == sdks, name
    urn = "urn:pulumi:test::demo::demo:index:Thing::"
    # The URNs and resources, and each dependency declared on the depending resource (the cycle check).
    assert answers["custom"][0] == [
        [urn.replace("Thing::", "Holder$demo:index:Thing::") + "a", urn + "b"],
        ["a", "b"],
        ["a", "b"],
    ]
    assert answers["a set, a provider"][0][1:] == [["b", "p"], ["b", "p"]]
    # The holder stands for its child; the SDK declares the dependency on both.
    assert answers["component"][0][1:] == [["a", "b"], ["a", "b", "holder"]]
    assert answers["cycle"][0] == ["refused", answers["cycle"][1][1]]
    assert "circular dependency" in answers["cycle"][0][1]


def test_the_expand_function_replaced_is_the_one_the_sdk_calls() -> None:
    # Both callers import it by name from rpc; the engine swaps it in their modules.
    for module in (sdk_resource, sdk_depends_on):
        assert getattr(module, engine._EXPAND_DEPENDENCIES) is engine._SDK_EXPAND_DEPENDENCIES
    assert (sdk_resource, sdk_depends_on) == engine._EXPANDING_MODULES
    assert list(inspect.signature(sdk_rpc._expand_dependencies).parameters) == ["deps", "from_resource"]
    assert "await _expand_dependencies(deps, from_resource=res)" in inspect.getsource(
        sdk_resource.prepare_resource
    )
    assert "await _expand_dependencies(all_deps, from_resource)" in inspect.getsource(
        sdk_depends_on._resolve_depends_on_urns
    )
    # What it does for a custom resource: declare the dependency (the cycle check), await the URN.
    source = inspect.getsource(sdk_rpc._add_dependency)
    for line in (
        "declare_dependency(from_resource, res) if from_resource else True",
        "if isinstance(res, ComponentResource) and not res._remote:",
        "urn = await res.urn.future()",
        "deps[urn] = res",
    ):
        assert line in source, line


SHARED_TEXT_PROGRAM = """
import pulumi

text = "x" * 4096
short = "y" * 10
things = [
    pulumi.CustomResource("demo:index:Thing", f"t{i}", {"content": text, "short": short}) for i in range(3)
]
# What the SDK resolved each resource's property to: the text once, however many resources.
contents = pulumi.Output.all(*(t.content for t in things))
pulumi.export("same", contents.apply(lambda v: len({id(x) for x in v})))
pulumi.export("equal", contents.apply(lambda v: v == [text] * 3))
"""


def test_a_long_text_carried_by_many_resources_is_kept_once(tmp_path: Path) -> None:
    recording = run(write_program(tmp_path, SHARED_TEXT_PROGRAM))
    contents = [r.inputs["content"] for r in recording.resources if r.type == "demo:index:Thing"]
    assert contents == ["x" * 4096] * 3
    assert len({id(text) for text in contents}) == 1  # the recording's, read from three requests
    assert recording.outputs == {"same": 1, "equal": True}  # the resources' Outputs
    assert engine._SHARED_TEXTS == {}  # the run's memo went with the run
    assert engine.shared_text("z" * 10) == "z" * 10 and engine._SHARED_TEXTS == {}  # short: as it is
