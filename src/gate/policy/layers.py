"""Layered stack configuration: policy defaults <- base file <- stack file.

Issue 13 item 2. What every stack of a project shares (repositories, flags, the environment chain,
the check catalogue, `github:owner`, ...) lives once in the base file, `base.yaml` in the stack
config directory (this project: stacks/base.yaml); a stack file holds only what differs. The base
file has a stack file's shape (a `config:` map of `namespace:key`), so a key moves between the two by
cut and paste, plus an ESC-style `imports:` list of further base files applied before it.

Why not Pulumi's own mechanisms: ESC environments (`environment:` in a stack file) need the Pulumi
Cloud service, which the offline plan and a self-managed backend do not have, and ESC (like
project-level config in Pulumi.yaml) replaces a list wholesale, which is what this layering is for.
So the program itself reads the base file beside the stack files, under `pulumi up` and under the
offline plan alike (gate/policy/loader.py `load_stack_policy`), and the CLI commands read the same merged
config (gate/policy/stackfile.py `read_stack_config`).

Merging, for each `namespace:key` (top to bottom wins):
- maps (policy objects such as `mergeGate`, `aws`, a flag's `environments`) merge key by key;
- lists of named objects (`checks`, `environments`, `labels`, `repositories`: by `name`; `flags`:
  by `key`) merge BY NAME with the list below them, the policy defaults included: an entry with a
  known name overrides only the fields it gives, a new name is appended;
- lists of scalars (e.g. `mergeGate.requiredChecks`, an environment's `reviewers.teams`) are
  replaced by a plain list;
- any list key also takes a directive instead of a list: `{extend: [...]}` adds entries (a named
  entry that is already there is merged by name; a scalar already there is kept once),
  `{remove: [...]}` removes entries (by name for named lists, by value for scalar lists; each must be
  there), both together (remove first), or `{replace: [...]}`: exactly this list, nothing merged;
- anything else (scalars, `null`) replaces what is below.

Pure: no Pulumi here. Every problem names the file, the dotted path as written there, the value and
what is allowed.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticUndefined

from gate.errors import PolicyError, Problem
from gate.policy.model import GatePolicy, Label, Repository
from gate.policy.yamlguard import StackFileError, read_stack_text
from gate.policy.yamlguard import load as load_yaml

NAMESPACE = "delivery-gate"
BASE_FILE = "base.yaml"
POLICY_DEFAULT = "policy default"
DIRECTIVES = ("extend", "remove", "replace")
DIRECTIVE_HELP = "a list, or a map of {extend: [...], remove: [...]} or {replace: [...]}"

# Keys a base file may not hold: they say which stack this is or what it runs (written by
# `gate promote` and the pipeline into one stack), so sharing them would be wrong for every other.
STACK_ONLY_KEYS = {
    "environment": "each stack names the environment it deploys in its own file",
    "ephemeral": "only a per-PR template (stacks/ephemeral[.<repo>].yaml) makes a per-PR stack",
    "release": "`gate promote` writes a stack's release into that stack's file",
    "validation": "written by the pipeline into one stack's state",
    "deployment": "written by the pipeline into one stack's state",
    "rollbackDrillResult": "written by the pipeline into one stack's state",
    "rollbackDrillPending": "written by the pipeline into one stack's state",
}
# Feature flags are defined once (DP §Pre-Deployment: one owner, expiry and issue per flag), with
# their state per environment; when a base file exists they live only there.
BASE_ONLY_KEYS = {"flags"}

# GitHub compares repository and label names without case; the model refuses such duplicates.
_CASE_INSENSITIVE: tuple[type[BaseModel], ...] = (Repository, Label)
_IDENTITY_FIELDS = ("name", "key")
_MISSING: Any = object()

Origin = tuple[str, str]  # (file, dotted path as written in that file)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Layer:
    """One file's `namespace:key` values, as decoded from YAML (or JSON text from the engine)."""

    source: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Origins:
    """Where each part of an effective config came from, by its path in the effective config."""

    within: Mapping[Path_, frozenset[Origin]] = field(default_factory=dict)  # everything under it
    own: Mapping[Path_, Origin] = field(default_factory=dict)  # the value itself (file, written path)


@dataclass(frozen=True)
class Layered:
    """The effective config and where each part of it came from."""

    values: dict[str, Any]
    origins: Origins = field(default_factory=Origins)
    layers: tuple[str, ...] = ()  # the files merged, bottom first

    def sources_of(self, path: str) -> list[str]:
        """The files (or "policy default") the value at a loader-style dotted path came from."""
        return sources_at(self.origins, path)


# ---------------------------------------------------------------------------------------------
# Values annotated with their origin while they are merged


@dataclass
class _Node:
    value: Any  # a scalar, list[_Node] or dict[str, _Node]
    origin: Origin


def _annotate(value: Any, source: str, path: str) -> _Node:
    if isinstance(value, dict):
        return _Node(
            {str(k): _annotate(v, source, _join(path, str(k))) for k, v in value.items()}, (source, path)
        )
    if isinstance(value, list):
        return _Node([_annotate(v, source, f"{path}[{i}]") for i, v in enumerate(value)], (source, path))
    return _Node(value, (source, path))


def _plain(node: _Node) -> Any:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def _origins(
    node: _Node, path: Path_, into: dict[Path_, set[Origin]], own: dict[Path_, Origin]
) -> set[Origin]:
    own[path] = node.origin
    found = {node.origin}
    children: Iterator[tuple[str | int, _Node]]
    if isinstance(node.value, dict):
        children = iter(node.value.items())
    elif isinstance(node.value, list):
        children = iter(enumerate(node.value))
    else:
        children = iter(())
    below = [_origins(child, (*path, key), into, own) for key, child in children]
    if below:
        # A map or list holds what its parts hold; its own origin matters only when it is empty.
        found = set().union(*below)
    into[path] = found
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------------------------------
# The shape of a key, read from the policy model


@dataclass(frozen=True)
class _Shape:
    kind: str  # "object", "map", "named", "list", "scalar"
    model: type[BaseModel] | None = None  # object: the model; named: the entry model
    identity: str | None = None  # named: "name" or "key"
    item: Any = None  # map: the value annotation; list: the item annotation


_SHAPES: dict[int, tuple[Any, _Shape]] = {}  # id(annotation) -> (annotation, shape): annotations live on


def shape_of(annotation: Any) -> _Shape:
    """The merge kind of a field's annotation (cached: merging asks once per value)."""
    cached = _SHAPES.get(id(annotation))
    if cached is not None and cached[0] is annotation:
        return cached[1]
    shape = _shape_of(annotation)
    _SHAPES[id(annotation)] = (annotation, shape)
    return shape


def _shape_of(annotation: Any) -> _Shape:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _Shape("object", model=annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (tuple, list) and args:
        item = _unwrap(args[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            fields = {f.alias or n for n, f in item.model_fields.items()}
            identity = next((name for name in _IDENTITY_FIELDS if name in fields), None)
            if identity is not None:
                return _Shape("named", model=item, identity=identity)
        return _Shape("list", item=item)
    if origin is dict and len(args) == 2:
        return _Shape("map", item=args[1])
    return _Shape("scalar")


def named_entries(model: type[BaseModel]) -> dict[type[BaseModel], str]:
    """Every model that is an entry of a named list under `model`, with its identity field."""
    found: dict[type[BaseModel], str] = {}
    for info in model.model_fields.values():
        shape = shape_of(info.annotation)
        if shape.kind == "named" and shape.model is not None and shape.identity is not None:
            found[shape.model] = shape.identity
        if shape.model is not None and shape.model is not model:
            found.update(named_entries(shape.model))
    return found


def _unwrap(annotation: Any) -> Any:
    """The annotation without None, Annotated[...] metadata and single-model unions."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) == 1:
                annotation = options[0]
                continue
        return annotation


@functools.cache
def _field(model: type[BaseModel], key: str) -> tuple[Any, Any]:
    """(annotation, default dumped as in a stack file, or _MISSING) of the field `key` of `model`."""
    for name, info in model.model_fields.items():
        if (info.alias or name) != key:
            continue
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        elif info.default is not PydanticUndefined:
            default = info.default
        else:
            return info.annotation, _MISSING
        annotation: Any = info.annotation
        dumped = TypeAdapter(annotation).dump_python(default, mode="json", by_alias=True)
        return info.annotation, dumped
    return None, _MISSING


# ---------------------------------------------------------------------------------------------
# Merging


class _Merge:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, origin: Origin, value: Any, allowed: str) -> None:
        source, path = origin
        self.problems.append(Problem(path, value, allowed, source=source))

    def merge(self, below: _Node | None, above: _Node, annotation: Any, default: Any) -> _Node:
        """`above` over `below` (None: nothing below this layer; `default` is the policy's)."""
        shape = shape_of(annotation) if annotation is not None else _Shape("scalar")
        if shape.kind in ("named", "list"):
            if below is None and default is None:
                below = _Node(None, (POLICY_DEFAULT, ""))  # derived from other keys when unset
            elif below is None and default is not _MISSING:
                below = _annotate(default, POLICY_DEFAULT, "")
            return self._list(below, above, shape)
        if shape.kind in ("object", "map") and isinstance(above.value, dict):
            if below is None or not isinstance(below.value, dict):
                below = _Node({}, above.origin)
            merged = dict(below.value)
            for key, node in above.value.items():
                if shape.kind == "object":
                    assert shape.model is not None
                    child_annotation, child_default = _field(shape.model, key)
                else:
                    child_annotation, child_default = shape.item, _MISSING
                merged[key] = self.merge(merged.get(key), node, child_annotation, child_default)
            return _Node(merged, above.origin)
        return above

    def _list(self, below: _Node | None, above: _Node, shape: _Shape) -> _Node:
        if isinstance(above.value, list):
            if shape.kind == "named":
                self._unique(above, shape)
                return self._extend(below, above, shape)
            return above
        directive = self._directive(above)
        if directive is None:
            return above  # not a list: the model says what it expected
        if "replace" in directive:
            if len(directive) > 1:
                self.problem(
                    above.origin, sorted(directive), "allowed: `replace` alone (it is the whole list)"
                )
            replaced = directive["replace"]
            if shape.kind == "named":
                self._unique(replaced, shape)
            return _Node(list(replaced.value), above.origin)
        if below is not None and below.value is None:
            self.problem(
                above.origin,
                sorted(directive),
                "allowed: a whole list here: unset, this list is derived from other keys (e.g. "
                "mergeGate.requiredChecks: every check of the catalogue), so there is none to extend or "
                "remove from",
            )
            return above
        current = below if below is not None and isinstance(below.value, list) else _Node([], above.origin)
        if "remove" in directive:
            current = self._remove(current, directive["remove"], shape)
        if "extend" in directive:
            current = self._extended(current, directive["extend"], shape)
        return _Node(current.value, above.origin)

    def _directive(self, above: _Node) -> dict[str, _Node] | None:
        """`{extend, remove, replace}` given for a list, or None (with a problem when it is a bad one)."""
        if not isinstance(above.value, dict):
            return None
        unknown = sorted(set(above.value) - set(DIRECTIVES))
        if unknown or not above.value:
            self.problem(above.origin, unknown or above.value, f"allowed: {DIRECTIVE_HELP}")
            return None
        bad = [(name, node) for name, node in above.value.items() if not isinstance(node.value, list)]
        for name, node in bad:
            self.problem(node.origin, _plain(node), f"allowed: a list under `{name}`")
        return None if bad else dict(above.value)

    def _extended(self, current: _Node, extension: _Node, shape: _Shape) -> _Node:
        if shape.kind == "named":
            self._unique(extension, shape)
            return self._extend(current, extension, shape)
        present = {_value_key(_plain(n)) for n in current.value}
        added = []
        for node in extension.value:
            key = _value_key(_plain(node))
            if key not in present:  # a value already there is kept once
                present.add(key)
                added.append(node)
        return _Node([*current.value, *added], extension.origin)

    def _remove(self, current: _Node, removal: _Node, shape: _Shape) -> _Node:
        entries = list(current.value)
        index = _Index(entries, shape)
        removed: set[int] = set()
        for node in removal.value:
            wanted = _plain(node)
            named = shape.kind == "named"
            if named and shape.model is Repository and isinstance(wanted, str) and "/" in wanted:
                wanted = tuple(wanted.lower().split("/", 1))  # owner/name: that owner's repository only
            match = index.find(wanted, removed) if named else index.find_value(wanted, removed)
            if match is None:
                what = (
                    f"the {shape.identity} of an entry below this file"
                    if named
                    else "a value of the list below this file"
                )
                present = [_identity(e, shape) if named else _plain(e) for e in entries]
                listed = [repr(p) for i, p in enumerate(present) if i not in removed]
                shown = ", ".join(listed[:MAX_NAMES_SHOWN]) + (
                    ", ..." if len(listed) > MAX_NAMES_SHOWN else ""
                )
                self.problem(
                    node.origin, wanted, f"allowed: {what}: {shown or 'none: the list below is empty'}"
                )
                continue
            removed.add(match)
        return _Node([e for i, e in enumerate(entries) if i not in removed], current.origin)

    def _extend(self, below: _Node | None, above: _Node, shape: _Shape) -> _Node:
        merged = list(below.value) if below is not None and isinstance(below.value, list) else []
        assert shape.model is not None
        index = _Index(merged, shape)
        for entry in above.value:
            name = _identity(entry, shape)
            position = index.find(name) if name is not None else None
            if position is None:
                merged.append(self.merge(None, entry, shape.model, _MISSING))
                index.add(len(merged) - 1, merged[-1])
            else:
                merged[position] = self.merge(merged[position], entry, shape.model, _MISSING)
        return _Node(merged, above.origin)

    def _unique(self, entries: _Node, shape: _Shape) -> None:
        seen = _Index([], shape)
        for position, entry in enumerate(entries.value):
            name = _identity(entry, shape)
            if name is None:
                continue
            if seen.find(name) is not None:
                assert shape.identity is not None
                self.problem(
                    entry.value[shape.identity].origin,
                    entry.value[shape.identity].value,
                    f"must be unique: each {shape.identity} once in a file (entries merge by "
                    f"{shape.identity} with the layers below, so a second one is ambiguous)",
                )
            seen.add(position, entry)


MAX_NAMES_SHOWN = 20


class _Index:
    """Positions of a list's entries by name (or by value), so that merging a list of n entries
    into one of m takes about n + m steps, not n * m: a 1 MiB file may hold tens of thousands."""

    def __init__(self, entries: list[_Node], shape: _Shape) -> None:
        self.shape = shape
        self.by_name: dict[Any, list[tuple[int, Any]]] = {}
        self.by_value: dict[Any, list[int]] = {}
        for position, entry in enumerate(entries):
            self.add(position, entry)

    def add(self, position: int, entry: _Node) -> None:
        if self.shape.kind == "named":
            name = _identity(entry, self.shape)
            if name is not None:
                self.by_name.setdefault(_name_key(self.shape, name), []).append((position, name))
        else:
            self.by_value.setdefault(_value_key(_plain(entry)), []).append(position)

    def find(self, name: Any, skip: set[int] | None = None) -> int | None:
        """The first entry named `name` (repositories: an owner given on both sides must agree)."""
        for position, identity in self.by_name.get(_name_key(self.shape, name), []):
            if (skip is None or position not in skip) and _same(self.shape, identity, name):
                return position
        return None

    def find_value(self, value: Any, skip: set[int]) -> int | None:
        return next((p for p in self.by_value.get(_value_key(value), []) if p not in skip), None)


def _name_key(shape: _Shape, name: Any) -> Any:
    if isinstance(name, tuple):
        name = name[1]  # (owner, name): the owner is checked by _same on the candidates
    if shape.model in _CASE_INSENSITIVE and isinstance(name, str):
        return name.lower()
    return name if isinstance(name, str | int | float | bool) or name is None else repr(name)


def _value_key(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return (type(value).__name__, value)  # 1 and True, "1" and 1 stay apart
    return json.dumps(value, sort_keys=True, default=str)


def _identity(node: _Node, shape: _Shape) -> Any:
    if not isinstance(node.value, dict) or shape.identity not in node.value:
        return None
    value = node.value[shape.identity].value
    if shape.model is Repository and isinstance(node.value.get("owner"), _Node):
        owner = node.value["owner"].value
        return (str(owner).lower(), value) if owner is not None else value
    return value


def _same(shape: _Shape, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if shape.model is Repository:
        # owner/name when both give an owner; otherwise the name (the owner defaults to github:owner).
        owner_a, name_a = a if isinstance(a, tuple) else (None, a)
        owner_b, name_b = b if isinstance(b, tuple) else (None, b)
        if owner_a is not None and owner_b is not None and owner_a != owner_b:
            return False
        a, b = name_a, name_b
    if shape.model in _CASE_INSENSITIVE and isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def merge_layers(layers: Sequence[Layer]) -> Layered:
    """The layers merged bottom (first) to top (last) over the policy defaults, or a PolicyError
    naming the top layer's file and, for each problem, the file it is in."""
    merging = _Merge()
    merged: dict[str, _Node] = {}
    prefix = f"{NAMESPACE}:"
    for layer in layers:
        for key, value in layer.values.items():
            node = _annotate(value, layer.source, key)
            if key.startswith(prefix):
                annotation, default = _field(GatePolicy, key[len(prefix) :])
            else:
                annotation, default = None, _MISSING  # another namespace's key: replaced as a whole
            merged[key] = merging.merge(merged.get(key), node, annotation, default)
    if merging.problems:
        top = layers[-1].source
        # The error names the stack file; a problem elsewhere (the base file) names its own.
        raise PolicyError(
            top,
            [
                Problem(p.path, p.value, p.allowed, None if p.source == top else p.source)
                for p in merging.problems
            ],
        )
    within: dict[Path_, set[Origin]] = {}
    own: dict[Path_, Origin] = {}
    for key, node in merged.items():
        _origins(node, (key,), within, own)
    return Layered(
        values={key: _plain(node) for key, node in merged.items()},
        origins=Origins({path: frozenset(found) for path, found in within.items()}, own),
        layers=tuple(layer.source for layer in layers),
    )


# ---------------------------------------------------------------------------------------------
# Where a problem's value came from

_SEGMENT = re.compile(r"\[(\d+)\]|\.([^.\[]+)")


def parse_path(path: str) -> Path_:
    """`delivery-gate:environments[2].reviewers.teams[0]` -> its parts."""
    head = re.match(r"[^.\[]+", path)
    if head is None:
        return ()
    parts: list[str | int] = [head.group(0)]
    for index, key in _SEGMENT.findall(path[head.end() :]):
        parts.append(int(index) if index else key)
    return tuple(parts)


def _deepest(origins: Origins, path: str) -> tuple[Path_, Path_]:
    """The deepest part of `path` the effective config holds, and the rest of the path."""
    parts = parse_path(path)
    for length in range(len(parts), 0, -1):
        if parts[:length] in origins.within:
            return parts[:length], parts[length:]
    return (), parts


def sources_at(origins: Origins, path: str) -> list[str]:
    """The files the value at `path` came from: those of its deepest part that the layers hold."""
    found, _ = _deepest(origins, path)
    if not found:
        return []
    return sorted({source for source, _ in origins.within[found]}, key=_source_order)


def _source_order(source: str) -> tuple[int, str]:
    return (0 if source == POLICY_DEFAULT else 1, source)


def render_path(parts: Path_) -> str:
    """`[2].reviewers.teams[0]`: parts as a dotted path continues."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def attribute(problems: Sequence[Problem], origins: Origins, source: str) -> list[Problem]:
    """The problems as the files say them: a value from one file gets the path written there (not
    its index in the merged list), and names that file when it is not `source`, the one the error
    names (a value from the base file, reported while loading a stack)."""
    named = []
    for problem in problems:
        found, rest = _deepest(origins, problem.path)
        if not found or problem.source is not None:
            named.append(problem)
            continue
        files = {file for file, _ in origins.within[found]}
        path = problem.path
        own_file, written = origins.own[found]
        if files == {own_file} and own_file != POLICY_DEFAULT and written:
            path = written + render_path(rest)
        shown = sorted(files - {POLICY_DEFAULT}, key=_source_order)
        where = " + ".join(shown) if shown and shown != [source] else None
        named.append(Problem(path, problem.value, problem.allowed, source=where))
    return named


# ---------------------------------------------------------------------------------------------
# The base file and its imports

MAX_IMPORTS = 16  # base files in one chain of imports: a project needs one or two


def base_source(stack_source: str) -> str:
    """The base file of the stack whose file is `stack_source` (relative to the project): base.yaml
    in the same directory (this project: stacks/base.yaml)."""
    parent = PurePosixPath(stack_source).parent
    return str(parent / BASE_FILE) if str(parent) != "." else BASE_FILE


def read_base_layers(project_dir: Path, stack_source: str) -> list[Layer]:
    """The base layers of a stack, bottom first: the base file's imports (each after its own), then
    the base file; none when the project has no base file."""
    source = base_source(stack_source)
    if not (project_dir / source).is_file():
        return []
    layers: list[Layer] = []
    _read_base(project_dir, source, layers, chain=())
    return layers


def _read_base(project_dir: Path, source: str, layers: list[Layer], chain: tuple[str, ...]) -> None:
    if source in chain:
        raise StackFileError(
            f"{source}: imported again by {chain[-1]} (imports form a cycle: "
            f"{' -> '.join((*chain, source))}); allowed: each base file once in a chain"
        )
    if len(chain) >= MAX_IMPORTS:
        raise StackFileError(f"{source}: more than {MAX_IMPORTS} base files in one chain of imports")
    if source in {layer.source for layer in layers}:
        return  # imported twice on different branches: its values are already below
    document = _base_document(project_dir, source)
    for index, name in enumerate(document["imports"]):
        _read_base(project_dir, _import_source(project_dir, source, index, name), layers, (*chain, source))
    config = document["config"]
    problems = [problem for key, value in config.items() if (problem := _base_key_problem(str(key), value))]
    if problems:
        raise PolicyError(source, problems)
    layers.append(Layer(source, {str(k): v for k, v in config.items()}))


def _base_document(project_dir: Path, source: str) -> dict[str, Any]:
    document = load_yaml(read_stack_text(project_dir / source, source), source)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackFileError(
            f"{source}: expected a map with `config` (and `imports`), got {type(document).__name__}"
        )
    unknown = sorted(str(k) for k in document if k not in ("config", "imports"))
    if unknown:
        raise PolicyError(
            source, [Problem(key, document[key], "unknown key; allowed: config, imports") for key in unknown]
        )
    imports = document.get("imports") or []
    if not isinstance(imports, list):
        raise PolicyError(
            source, [Problem("imports", imports, "allowed: a list of base files, relative to this one")]
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{source}: `config` must be a map of `namespace:key` to values")
    return {"imports": imports, "config": config}


def _base_key_problem(name: str, value: Any) -> Problem | None:
    if ":" not in name:
        return Problem(name, value, "allowed: a `namespace:key` name, e.g. github:owner")
    namespace, key = name.split(":", 1)
    if namespace == NAMESPACE and key in STACK_ONLY_KEYS:
        return Problem(
            name, value, f"not in a base file: {STACK_ONLY_KEYS[key]}; allowed: set it in the stack file"
        )
    if _has_secret(value):
        # Pulumi encrypts a secure value with one stack's key: no other stack could read it.
        return Problem(
            name,
            "<redacted>",
            "not a secret in a base file (a secure value is encrypted with one stack's key); allowed: "
            "`pulumi config set --secret` in each stack file",
        )
    return None


def _import_source(project_dir: Path, importer: str, index: int, name: Any) -> str:
    allowed = "allowed: a .yaml file relative to the importing base file, inside the project directory"
    if not isinstance(name, str) or not name.endswith(".yaml") or name.startswith("/"):
        raise PolicyError(importer, [Problem(f"imports[{index}]", name, allowed)])
    resolved = (project_dir / PurePosixPath(importer).parent / name).resolve()
    root = project_dir.resolve()
    if not resolved.is_relative_to(root):
        raise PolicyError(importer, [Problem(f"imports[{index}]", name, allowed)])
    if not resolved.is_file():
        raise PolicyError(importer, [Problem(f"imports[{index}]", name, f"{allowed}; there is no such file")])
    return resolved.relative_to(root).as_posix()


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def stack_layer_problems(stack: Layer, has_base: bool) -> list[Problem]:
    """What a stack file may not hold when the project has a base file: the keys defined once there."""
    if not has_base:
        return []
    return [
        Problem(
            f"{NAMESPACE}:{key}",
            stack.values[f"{NAMESPACE}:{key}"],
            "defined once, in the base file, with each flag's state per environment (`environments`); "
            "allowed: move it to the base file",
            source=stack.source,
        )
        for key in sorted(BASE_ONLY_KEYS)
        if f"{NAMESPACE}:{key}" in stack.values
    ]


def layered_config(project_dir: Path, stack: Layer) -> Layered:
    """The stack's effective config: the policy defaults, its base layers, then its own values."""
    bases = read_base_layers(project_dir, stack.source.split(" (", 1)[0])
    problems = stack_layer_problems(stack, bool(bases))
    if problems:
        raise PolicyError(stack.source, problems)
    return merge_layers([*bases, stack])
