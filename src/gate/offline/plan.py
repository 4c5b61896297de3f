"""The offline plan: what `pulumi up` would declare for a stack, as canonical JSON with a root hash.

It runs the real program (Pulumi.yaml's `main`, by default __main__.py) under the recording mock
engine (gate/offline/engine.py): no Pulumi CLI, no credentials, no network. Same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import GateError, InputOutputError, PolicyError
from gate.offline.engine import Recording, RegisteredResource, RegisterHook, run_program
from gate.policy.stackfile import PROJECT_FILE, load_project_file, read_own_stack_config, to_engine_config
from gate.policy.yamlguard import (
    MissingFile,
    StackFileError,
    StackFileUnreadable,
    UnreadableFile,
    read_bounded,
)

PLAN_FILE = "plan.json"


class PlanFileError(GateError):
    """A plan file, or the project it would be built from, that cannot be read."""


class PlanFileUnreadable(PlanFileError, InputOutputError):
    """A plan, evidence or project file that is missing or cannot be read (exit 4)."""


@dataclass(frozen=True)
class Project:
    name: str
    program: Path


def read_project(project_dir: Path) -> Project:
    """The project name and program file from Pulumi.yaml (`main` may name a file or directory)."""
    path = project_dir / PROJECT_FILE
    try:
        # As a stack file is read (gate/policy/yamlguard.py): at most 1 MiB of a regular file, read
        # without blocking, and no alias, tag or deep nesting reaching libyaml's loader, whose C
        # composer recurses (a hundred thousand `[` crash the process).
        document = load_project_file(project_dir)
    except StackFileUnreadable as error:
        if _absent(path):
            raise PlanFileUnreadable(
                f"{path}: not found; --project-dir must name the directory holding it", file=str(path)
            ) from None
        raise PlanFileUnreadable(str(error), file=str(path)) from None
    except StackFileError as error:
        raise PlanFileError(str(error)) from None
    except PolicyError as error:
        found = "; ".join(problem.render() for problem in error.problems)
        raise PlanFileError(f"{path}: cannot read the project file: {found}") from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise PlanFileError(f"{path}: expected a map with a `name`")
    main = project_dir / str(document.get("main") or ".")
    program = main / "__main__.py" if main.is_dir() else main
    if not program.is_file():
        raise PlanFileUnreadable(f"{path}: the program {program} does not exist", file=str(program))
    return Project(name=document["name"], program=program)


def build_plan(
    project_dir: Path,
    stack: str,
    evidence: Mapping[str, Path] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    on_register: RegisterHook | None = None,
) -> dict[str, Any]:
    """Run the project's program for `stack` and return its plan document (with root_hash).
    `on_register` hears of each registration (progress on a terminal; the plan never depends on it).

    The plan's stack references read other stacks' outputs from `evidence` (stack name -> a file
    holding them) or `stack_outputs` (stack name -> the outputs themselves), never from a backend.
    """
    outputs = {name: read_stack_outputs_file(path) for name, path in (evidence or {}).items()}
    outputs.update({name: dict(values) for name, values in (stack_outputs or {}).items()})
    project = read_project(project_dir)
    # The stack file's own values, as the Pulumi CLI passes them: the program merges the base file
    # (gate/policy/loader.py load_stack_policy), the same under `pulumi up`.
    config = read_own_stack_config(project_dir, stack)
    recording = run_program(
        project.program,
        project=project.name,
        stack=stack,
        config=to_engine_config(config.values),
        secret_keys=config.secret_keys,
        stack_outputs=outputs,
        on_register=on_register,
    )
    plan = plan_document(project.name, stack, recording)
    plan["root_hash"] = root_hash(plan)
    return plan


def read_stack_outputs_file(path: Path) -> dict[str, Any]:
    """A stack's outputs from `pulumi stack output --json` or from that stack's plan.json."""
    document = _read_json(path, "evidence file")
    if not isinstance(document, dict):
        raise PlanFileError(f"{path}: expected a JSON object of stack outputs")
    if "resources" in document and "root_hash" in document:  # a plan written by `gate plan`
        outputs = document.get("outputs")
        if not isinstance(outputs, dict):
            raise PlanFileError(f"{path}: a plan without an `outputs` object")
        return outputs
    return document


def plan_document(project: str, stack: str, recording: Recording) -> dict[str, Any]:
    """The plan without its root hash. Shares the recording's dicts: nothing is copied."""
    return {
        "project": project,
        "stack": stack,
        "resources": [_resource_entry(r) for r in recording.resources],
        "outputs": recording.outputs,
        "invokes": [{"token": i.token, "args": i.args} for i in recording.invokes],
    }


def _resource_entry(resource: RegisteredResource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "custom": resource.custom,
        "inputs": resource.inputs,
        "options": resource.options,
    }
    if resource.outputs is not None:
        entry["outputs"] = resource.outputs
    return entry


# What `json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` builds on
# every call, built once: the root hash encodes each of a plan's tens of thousands of items apart.
# Without the circular-reference check, for which `dumps` keeps a dict of every container it is in:
# a plan is decoded JSON and protobuf values, never circular (0.03 s of a 500-repository root hash).
_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_ENCODE = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(
        None, _CANONICAL_ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
)


def canonical_json(document: Any) -> bytes:
    """The compact canonical form the root hash is taken over."""
    if _ENCODE is None:
        return _CANONICAL_ENCODER.encode(document).encode("utf-8")
    return "".join(_ENCODE(document, 0)).encode("utf-8")


def root_hash(plan: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of the plan without its own root_hash."""
    body = {key: value for key, value in plan.items() if key != "root_hash"}
    digest = hashlib.sha256()
    for chunk in canonical_chunks(body):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def canonical_chunks(document: dict[str, Any]) -> Iterator[bytes]:
    """`canonical_json(document)` in pieces, a top-level list one item at a time.

    Issue 14: a plan of thousands of repositories is hundreds of megabytes of JSON; hashing it
    piecewise never holds it whole (twice, as text and as bytes). Each piece is the C encoder's, so
    the bytes are those of `canonical_json` (tests/test_plan.py compares them).
    """
    separator = b"{"
    for key in sorted(document):
        yield separator + canonical_json(key) + b":"
        separator = b","
        value = document[key]
        if isinstance(value, list):
            item_separator = b"["
            long_strings: dict[str, bytes] = {}
            for item in value:
                yield item_separator + _item_json(item, long_strings)
                item_separator = b","
            yield b"[]" if item_separator == b"[" else b"]"
        else:
            yield canonical_json(value)
    yield b"{}" if separator == b"{" else b"}"


# Inputs longer than this are encoded once per distinct text: a plan of many repositories commits the
# same workflow files to each, 60 MB of file contents in 10 MB of distinct texts at 500 repositories.
_LONG_INPUT = 1024
# Stands in for a long input while the rest of its resource is encoded; counted afterwards, so a value
# that happened to encode like it only costs the shortcut, never a wrong byte.
_STAND_IN = "\x00delivery-gate:long-input\x00"
_STAND_IN_JSON = json.dumps(_STAND_IN).encode("utf-8")


def _item_json(item: Any, long_strings: dict[str, bytes]) -> bytes:
    """`canonical_json(item)`, with a resource's long string inputs encoded once per distinct text
    (`long_strings` remembers them across the items of one list)."""
    inputs = item.get("inputs") if isinstance(item, dict) else None
    if not isinstance(inputs, dict):
        return canonical_json(item)
    long_keys = sorted(
        key for key, value in inputs.items() if type(value) is str and len(value) > _LONG_INPUT
    )
    if not long_keys:
        return canonical_json(item)
    text = canonical_json({**item, "inputs": {**inputs, **dict.fromkeys(long_keys, _STAND_IN)}})
    pieces = text.split(_STAND_IN_JSON)
    if len(pieces) != len(long_keys) + 1:
        return canonical_json(item)
    joined = [pieces[0]]
    # sort_keys writes the inputs in sorted key order, so the stand-ins come in long_keys' order.
    for key, piece in zip(long_keys, pieces[1:], strict=True):
        value = inputs[key]
        encoded = long_strings.get(value)
        if encoded is None:
            encoded = long_strings[value] = canonical_json(value)
        joined += (encoded, piece)
    return b"".join(joined)


def render_plan(plan: dict[str, Any]) -> bytes:
    """The plan file's bytes: sorted keys, two-space indent, UTF-8, trailing newline."""
    return (json.dumps(plan, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def plan_path(out_dir: Path, stack: str) -> Path:
    return out_dir / stack / PLAN_FILE


def write_plan(plan: dict[str, Any], out_dir: Path) -> Path:
    """Write out_dir/<stack>/plan.json; a reader never sees a half-written file."""
    path = plan_path(out_dir, plan["stack"])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{PLAN_FILE}.{os.getpid()}.tmp")
    partial.write_bytes(render_plan(plan))
    partial.replace(path)
    return path


def load_plan(path: Path) -> dict[str, Any]:
    """A plan file written by write_plan, or a PlanFileError saying why it is not one."""
    document = _read_json(path, "plan file")
    problem = _shape_problem(document)
    if problem:
        raise PlanFileError(f"{path}: not a delivery-gate plan: {problem}")
    return dict(document)


# Plans of thousands of repositories are hundreds of megabytes; the limit only bounds a hostile file.
MAX_JSON_BYTES = 4 * 1024**3


def _absent(path: Path) -> bool:
    """Not there at all, as opposed to there and unreadable (a dangling link is there)."""
    return not path.exists() and not path.is_symlink()


def _read_json(path: Path, what: str) -> Any:
    try:
        # A regular file, read without blocking: a FIFO given as the file would wait for a writer forever.
        text = read_bounded(path, MAX_JSON_BYTES).decode("utf-8")
    except MissingFile as error:
        if _absent(path):
            raise PlanFileUnreadable(f"{path}: no such {what}", file=str(path)) from None
        raise PlanFileUnreadable(f"{path}: cannot read the {what}: {error}", file=str(path)) from None
    except UnreadableFile as error:
        raise PlanFileError(f"{path}: cannot read the {what}: {error}") from None
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 ({error.reason} at byte {error.start})"
        raise PlanFileUnreadable(f"{path}: cannot read the {what}: {reason}", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanFileError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    except RecursionError:
        # Python's JSON reader recurses: a hostile file of nested arrays.
        raise PlanFileError(f"{path}: not a {what}: nested too deep for a JSON reader") from None


def _shape_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "expected a JSON object"
    if not isinstance(document.get("resources"), list):
        return "expected a `resources` list"
    for index, resource in enumerate(document["resources"]):
        if not isinstance(resource, dict) or not isinstance(resource.get("urn"), str):
            return f"resources[{index}] has no `urn`"
    if not isinstance(document.get("outputs", {}), dict):
        return "expected `outputs` to be an object"
    return None


def summarize(plan: dict[str, Any]) -> str:
    """A short human summary: resources per type, the merge gate per repository, the root hash."""
    resources = plan["resources"]
    lines = [f"{plan['project']} / {plan['stack']}: {len(resources)} resources"]
    counts = Counter(resource["type"] for resource in resources)
    width = max((len(t) for t in counts), default=0)
    lines += [f"  {kind:<{width}}  {counts[kind]}" for kind in sorted(counts)]
    outputs = plan.get("outputs", {})
    if "requiredChecks" in outputs:  # a delivery-gate stack (the bootstrap project has none)
        lines.append("required checks:")
        lines += _required_checks_lines(outputs["requiredChecks"])
    if outputs.get("requiredWorkflows"):
        required = outputs["requiredWorkflows"]
        lines.append(f"required workflows (organisation rulesets) from {required['source']}:")
        lines += [f"  {repo}: {', '.join(paths)}" for repo, paths in sorted(required["repositories"].items())]
    lines += _promotion_lines(outputs)
    lines += _exception_lines(outputs)
    lines.append(f"root hash: {plan['root_hash']}")
    return "\n".join(lines)


def _exception_lines(outputs: dict[str, Any]) -> list[str]:
    exceptions = outputs.get("gateExceptions")
    if not isinstance(exceptions, dict):
        return []
    declared = exceptions.get("declared", [])
    lines = [f"EXCEPTIONS to the policy's non-negotiables ({len(declared)}):"]
    for e in declared:
        lines.append(f"  - {e['rule']} until {e['expires']}, approved by {e['approvedBy']}: {e['reason']}")
    lines += [f"  waived here: {line}" for line in exceptions.get("waived", [])]
    return lines


def _promotion_lines(outputs: dict[str, Any]) -> list[str]:
    lines = []
    if "promotesFrom" in outputs:
        lines.append(f"promotes from: {outputs['promotesFrom']}")
    if "releaseSource" in outputs:
        lines.append(f"release from: {outputs['releaseSource']}")
    if "validationStatus" in outputs:
        lines.append(f"validation here: {outputs['validationStatus']}")
    follow_up = outputs.get("emergencyFollowUp")
    if isinstance(follow_up, dict):
        lines.append(f"EMERGENCY deployment for {follow_up.get('incidentId')}; skipped validation:")
        lines += [f"  - {item}" for item in follow_up.get("skippedValidation", [])]
        lines.append("  follow-up to backfill:")
        lines += [f"  - {item}" for item in follow_up.get("backfill", [])]
    return lines


def _required_checks_lines(required: Any) -> list[str]:
    if not required:
        return ["  none here: merge gate declared by another stack"]
    lines = []
    for repo in sorted(required):
        lines.append(f"  {repo}")
        for branch in sorted(required[repo]):
            checks = required[repo][branch]
            lines.append(f"    {branch} ({len(checks)}): {', '.join(checks)}")
    return lines
