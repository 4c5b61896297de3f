"""Check recorded Pulumi resource inputs against a real Pulumi package schema (test support, stdlib only).

The schemas live outside the project (see ``/work/shared/schemas/README.md``) and are read, never copied:
the directory is ``$DELIVERY_GATE_SCHEMAS`` when set (a relative value is taken from the project root),
else ``../shared/schemas`` next to the project root.

    schema = load_package_schema()  # the GitHub provider's, pulumi-github 6.15.0
    assert schema.check_resource("github:index/branchProtection:BranchProtection", inputs) == []

What ``PackageSchema.check_resource`` accepts, besides values of the declared type:

* ``"[secret]"`` and ``"[unknown]"`` (exactly these strings) wherever any type is expected: they are the
  placeholders a recorder writes for a secret value and for an output not known before deployment.
* Pulumi's own secret envelope ``{"4dabf1...": "1b4706...", "value": v}`` (what the mock engine hands
  to ``Mocks.new_resource``): ``v`` is checked instead.
* ``None`` for a property that is not required (Pulumi treats a null input as absent). Inside a list or a
  map ``None`` is a type error.
* For the provider resource ``pulumi:providers:<package>`` only: a JSON-encoded string for a non-string
  input, because the Python SDK sends ``insecure=False`` as ``"false"`` and ``app_auth`` as a JSON object
  string. The decoded value is checked.

Required properties of nested objects are the type's ``required`` list (what the Python SDK's ``...Args``
constructors require); ``integer`` means a Python ``int`` and nothing else (not ``bool``, not ``1.0``).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from tests.support.shared import shared_dir

PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMAS_ENV: Final = "DELIVERY_GATE_SCHEMAS"
GITHUB_SCHEMA: Final = "pulumi-github-6.15.0.schema.json"
PLACEHOLDERS: Final = frozenset({"[secret]", "[unknown]"})

_SECRET_SIG_KEY: Final = "4dabf18193072939515e22adb298388d"  # pulumi.runtime.rpc._special_sig_key
_SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"  # pulumi.runtime.rpc._special_secret_sig
_TYPES_PREFIX: Final = "#/types/"
_UNCHECKED_REFS: Final = frozenset(
    {"pulumi.json#/Any", "pulumi.json#/Json", "pulumi.json#/Archive", "pulumi.json#/Asset"}
)
_PRIMITIVES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schemas_dir() -> Path:
    """The directory holding the reference schemas, honouring ``$DELIVERY_GATE_SCHEMAS``."""
    raw = os.environ.get(SCHEMAS_ENV, "")
    if not raw:
        return shared_dir() / "schemas"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def load_package_schema(path: str | os.PathLike[str] | None = None) -> PackageSchema:
    """Load a Pulumi package schema (default: the GitHub provider's in ``schemas_dir()``), cached per file."""
    target = Path(path) if path is not None else schemas_dir() / GITHUB_SCHEMA
    return _load(target.resolve())


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> PackageSchema:
    with path.open(encoding="utf-8") as handle:
        return PackageSchema(json.load(handle), source=path)


class PackageSchema:
    """A parsed Pulumi package schema. ``$ref``s are resolved lazily, when a value reaches them."""

    def __init__(self, document: Mapping[str, Any], source: Path | None = None) -> None:
        self.name: str = document["name"]
        self.source = source
        self._resources: Mapping[str, Any] = document.get("resources", {})
        self._types: Mapping[str, Any] = document.get("types", {})
        self._provider: Mapping[str, Any] = document.get("provider", {})

    @property
    def provider_token(self) -> str:
        return f"pulumi:providers:{self.name}"

    def resource_tokens(self) -> list[str]:
        """Every type token ``check_resource`` knows, the provider's first."""
        return [self.provider_token, *sorted(self._resources)]

    def check_resource(self, type_token: str, inputs: Mapping[str, Any]) -> list[str]:
        """Problems with ``inputs`` (camelCase keys, plain JSON values) for ``type_token``; [] if fine."""
        is_provider = type_token == self.provider_token
        spec = self._provider if is_provider else self._resources.get(type_token)
        if spec is None:
            near = difflib.get_close_matches(type_token, self._resources, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            return [f"{type_token}: unknown resource type in package {self.name!r}{hint}"]
        problems: list[str] = []
        properties = spec.get("inputProperties", {})
        self._check_object(
            type_token, properties, spec.get("requiredInputs", []), inputs, problems, json_encoded=is_provider
        )
        return problems

    def _check_object(
        self,
        path: str,
        properties: Mapping[str, Any],
        required: list[str],
        value: Mapping[str, Any],
        problems: list[str],
        *,
        json_encoded: bool = False,
    ) -> None:
        for name in required:
            if value.get(name) is None:
                state = "is None" if name in value else "is missing"
                problems.append(f"{path}.{name}: required input {state}")
        for key, item in value.items():
            where = f"{path}.{key}"
            spec = properties.get(key)
            if spec is None:
                problems.append(f"{where}: unknown key{_suggest(str(key), properties)}")
            elif item is None:
                continue  # an optional input set to null is absent; a required one was reported above
            elif json_encoded and isinstance(item, str) and self._primitive(spec) != "string":
                self._check_json_encoded(spec, item, where, problems)
            else:
                self._check_value(spec, item, where, problems)

    def _check_json_encoded(self, spec: Mapping[str, Any], text: str, path: str, problems: list[str]) -> None:
        """A provider input: the Python SDK JSON-encodes every non-string value (``False`` -> ``"false"``)."""
        if text in PLACEHOLDERS:
            return
        try:
            decoded = json.loads(text)
        except ValueError:
            expected = self._describe(spec)
            problems.append(f"{path}: expected {expected} (or its JSON encoding), got str {text!r}")
            return
        self._check_value(spec, decoded, path, problems)

    def _check_value(self, spec: Mapping[str, Any], value: object, path: str, problems: list[str]) -> None:
        if isinstance(value, str) and value in PLACEHOLDERS:
            return
        if isinstance(value, Mapping) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
            if value.get("value") is not None:
                self._check_value(spec, value["value"], path, problems)
            return
        if "oneOf" in spec:
            if not any(not self._problems(alternative, value, path) for alternative in spec["oneOf"]):
                problems.append(self._mismatch(spec, value, path))
        elif "$ref" in spec:
            self._check_ref(spec["$ref"], value, path, problems)
        else:
            self._check_typed(spec, value, path, problems)

    def _problems(self, spec: Mapping[str, Any], value: object, path: str) -> list[str]:
        found: list[str] = []
        self._check_value(spec, value, path, found)
        return found

    def _check_typed(self, spec: Mapping[str, Any], value: object, path: str, problems: list[str]) -> None:
        kind = spec.get("type")
        if kind == "array":
            if not isinstance(value, list):
                problems.append(self._mismatch(spec, value, path))
            elif "items" in spec:
                for index, item in enumerate(value):
                    self._check_value(spec["items"], item, f"{path}[{index}]", problems)
        elif kind == "object":
            if not isinstance(value, Mapping):
                problems.append(self._mismatch(spec, value, path))
            elif "additionalProperties" in spec:
                for key, item in value.items():
                    self._check_value(
                        spec["additionalProperties"], item, f"{path}[{json.dumps(key)}]", problems
                    )
        elif isinstance(kind, str) and kind in _PRIMITIVES:
            # bool is an int subclass: compare exact types so True is not an integer and 1.0 is not either.
            if type(value) not in _PRIMITIVES[kind]:
                problems.append(self._mismatch(spec, value, path))
        else:
            problems.append(f"{path}: schema property has unsupported type {kind!r}")

    def _check_ref(self, ref: str, value: object, path: str, problems: list[str]) -> None:
        if ref in _UNCHECKED_REFS:
            return
        typ = self._resolve(ref)
        if typ is None:
            problems.append(f"{path}: schema $ref {ref!r} cannot be resolved")
        elif "enum" in typ:
            allowed = [member.get("value") for member in typ["enum"]]
            if not any(type(option) is type(value) and option == value for option in allowed):
                problems.append(self._mismatch({"$ref": ref}, value, path))
        elif not isinstance(value, Mapping):
            problems.append(self._mismatch({"$ref": ref}, value, path))
        else:
            self._check_object(path, typ.get("properties", {}), typ.get("required", []), value, problems)

    def _resolve(self, ref: str) -> Mapping[str, Any] | None:
        if not ref.startswith(_TYPES_PREFIX):
            return None
        typ: Mapping[str, Any] | None = self._types.get(ref[len(_TYPES_PREFIX) :])
        return typ

    def _primitive(self, spec: Mapping[str, Any]) -> str | None:
        """The JSON type a property's values have, following one ``$ref`` (None for oneOf / unknown refs)."""
        if "$ref" in spec:
            typ = self._resolve(spec["$ref"])
            return None if typ is None else typ.get("type")
        kind: str | None = spec.get("type")
        return kind

    def _describe(self, spec: Mapping[str, Any]) -> str:
        kind = spec.get("type")
        if "oneOf" in spec:
            text = " or ".join(self._describe(alternative) for alternative in spec["oneOf"])
        elif "$ref" in spec:
            text = self._describe_ref(spec["$ref"])
        elif kind == "array" and "items" in spec:
            text = f"array of {self._describe(spec['items'])}"
        elif kind == "object" and "additionalProperties" in spec:
            text = f"map of {self._describe(spec['additionalProperties'])}"
        else:
            text = str(kind)
        return text

    def _describe_ref(self, ref: str) -> str:
        if ref in _UNCHECKED_REFS:
            return "any value"
        typ = self._resolve(ref)
        if typ is None:
            return ref
        if "enum" in typ:
            return "one of " + ", ".join(repr(member.get("value")) for member in typ["enum"])
        return f"object {ref.rsplit(':', 1)[-1]}"

    def _mismatch(self, spec: Mapping[str, Any], value: object, path: str) -> str:
        expected = self._describe(spec)
        got = f"{_kind(value)} {value!r}" if expected.startswith("one of") else _kind(value)
        hint = ""
        if expected.startswith("object") and isinstance(value, list):
            hint = " (this property is a single object, not a list)"
        elif expected.startswith("array") and isinstance(value, Mapping):
            hint = " (this property is a list: wrap the object in [...])"
        return f"{path}: expected {expected}, got {got}{hint}"


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _suggest(key: str, properties: Mapping[str, Any]) -> str:
    camel = re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), key)
    near = [camel] if camel in properties else difflib.get_close_matches(key, properties, n=1)
    if near:
        return f"; did you mean {near[0]!r}?"
    return "; allowed: " + ", ".join(sorted(properties)) if properties else "; no properties allowed"
