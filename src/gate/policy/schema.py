"""The JSON Schema of a stack file (stacks/Pulumi.<stack>.yaml) and the configuration reference,
both generated from the pydantic models (gate/policy/model.py) so neither can drift from what the loader
accepts (issue 13, item 6).

Pure but for `command`: `python -m gate schema [--reference] [--out FILE]` writes them; the copies,
docs/stack-file.schema.json and docs/config-reference.md, are refreshed by `make schema` and checked
to be current by tests/test_schema.py. Editors validate a stack file against the schema through the
`# yaml-language-server: $schema=...` line at its top.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from gate.policy.layers import STACK_ONLY_KEYS, named_entries
from gate.policy.loader import NAMESPACE
from gate.policy.model import GatePolicy
from gate.promotion.delivery import HAND_TYPED_REFUSED

SCHEMA_FILE = "docs/stack-file.schema.json"
REFERENCE_FILE = "docs/config-reference.md"
REFRESH_COMMAND = "make schema"

# A Pulumi secret as the stack file stores it (`pulumi config set --secret`): the ciphertext.
_SECURE: dict[str, Any] = {
    "additionalProperties": False,
    "description": "A secret, encrypted by `pulumi config set --secret`.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "type": "object",
}

# Keys of other namespaces the program reads (__main__.py, gate/policy/loader.py, gate/policy/stackfile.py).
_PROVIDER_KEYS: dict[str, dict[str, Any]] = {
    "github:owner": {
        "description": (
            "The GitHub user or organisation of the github provider; the owner of every "
            f"`{NAMESPACE}:repositories` entry that names none (gate/policy/loader.py)."
        ),
        "type": "string",
    },
    "github:token": {
        "$ref": "#/$defs/Secure",
        "description": (
            "The github provider's token, only as a secret (pulumi config set --secret github:token); "
            "else the provider reads GITHUB_TOKEN. A plain-text token is refused (gate/policy/stackfile.py)."
        ),
    },
    "aws:region": {
        "description": "The aws provider's region (Pulumi's own key); the gate's AWS side is set in "
        f"`{NAMESPACE}:aws`.",
        "type": "string",
    },
}

# Other namespaces: Pulumi hands any `namespace:key` to the program; the gate ignores them.
_OTHER_NAMESPACE = r"^(?!delivery-gate:)[A-Za-z0-9_.-]+:[^:]+$"

# Python-only regex constructs (lookbehind, named groups, inline flags, \A \Z): not ECMA-262.
_NOT_ECMA = re.compile(r"\(\?<[=!]|\(\?P|\(\?[aiLmsux]|\\[AZz]")


class _WithFactoryDefaults(GenerateJsonSchema):
    """Pydantic's schema, with the defaults made by `default_factory` too (the catalogue, the chain)."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return schema.get("default", NoDefault)


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a stack file, with sorted keys."""
    policy = GatePolicy.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults
    )
    named = {model.__name__: identity for model, identity in named_entries(GatePolicy).items()}
    defs = {
        name: _with_list_directives(_ecma_only(body), named) for name, body in policy.pop("$defs", {}).items()
    }
    defs["Secure"] = _SECURE
    defs["ListDirective"] = _LIST_DIRECTIVE
    for name, identity in named.items():
        # An entry merges by name with the one below it (gate/policy/layers.py): only its name is required.
        if name in defs and "required" in defs[name]:
            defs[name]["required"] = [identity]
    refused = {key.removeprefix(f"{NAMESPACE}:") for key in HAND_TYPED_REFUSED}
    config: dict[str, Any] = {}
    for alias, generated in policy["properties"].items():
        field = _with_list_directives(_ecma_only(generated), named)
        field.pop("title", None)
        if "description" not in field and "$ref" in field:
            # A model-typed key: its model's docstring is the policy line.
            field["description"] = defs[field["$ref"].rsplit("/", 1)[-1]].get("description", "")
        if alias in refused:
            field["readOnly"] = True
            field["description"] = (
                f"{field.get('description', '')} Written only by the pipeline into the state it "
                "applies: a stack file holding it is refused (`python -m gate check`)."
            ).strip()
        config[f"{NAMESPACE}:{alias}"] = _allow_secure(field) if _is_secret(field) else field
    config.update(_PROVIDER_KEYS)
    schema = {
        "$defs": defs,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "additionalProperties": False,
        "description": (
            "A Delivery Gate stack file, stacks/Pulumi.<stack>.yaml (or an ephemeral template, "
            "stacks/ephemeral[.<repo>].yaml, once rendered). Generated from gate/policy/model.py by "
            f"`{REFRESH_COMMAND}`; the reference is {REFERENCE_FILE}."
        ),
        "properties": {
            "config": {
                "additionalProperties": False,
                "description": f"The stack's configuration. {policy.get('description', '')}".strip(),
                "patternProperties": {_OTHER_NAMESPACE: {"description": "Another namespace's key."}},
                "properties": config,
                # Issue 13, part base: a required key may come from the base file (stacks/base.yaml);
                # the loader says which is missing from the merged config.
                "required": [
                    f"{NAMESPACE}:{alias}"
                    for alias in policy.get("required", [])
                    if alias not in _MAY_BE_SHARED
                ],
                "type": "object",
            },
            "encryptedkey": {
                "description": "The data key encrypted by the secrets provider (Pulumi writes it).",
                "type": "string",
            },
            "encryptionsalt": {
                "description": "The salt of the passphrase secrets provider (Pulumi writes it).",
                "type": "string",
            },
            "environment": {
                "description": "Pulumi ESC environments imported into the stack's config.",
                "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "object"}],
            },
            "imports": {
                "description": (
                    "Base file only (stacks/base.yaml, gate/policy/layers.py; docs/base-file.schema.json): "
                    "further base files, relative to this one and inside the project, applied before it."
                ),
                "items": {"type": "string"},
                "type": "array",
            },
            "secretsprovider": {
                "description": "The stack's secrets provider URL (Pulumi writes it).",
                "type": "string",
            },
        },
        "required": ["config"],
        "title": "Delivery Gate stack file",
        "type": "object",
    }
    # Sorted keys all the way down: the same models give the same bytes.
    result: dict[str, Any] = json.loads(json.dumps(schema, sort_keys=True))
    return result


def render_schema() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


BASE_SCHEMA_FILE = "docs/base-file.schema.json"


def base_file_schema() -> dict[str, Any]:
    """The JSON Schema of a base file (stacks/base.yaml, gate/policy/layers.py): a stack file's keys, none
    required, without the keys only a stack file may hold, and with `imports`."""
    schema = stack_file_schema()
    config = schema["properties"]["config"]
    config["required"] = []
    for key, why in STACK_ONLY_KEYS.items():
        config["properties"][f"{NAMESPACE}:{key}"] = {"description": f"Not in a base file: {why}.", "not": {}}
    for key in ("encryptedkey", "encryptionsalt", "environment", "secretsprovider"):
        schema["properties"].pop(key)
    schema["title"] = "Delivery Gate base file"
    schema["description"] = (
        "A Delivery Gate base file, stacks/base.yaml: what every stack of the project shares, under "
        "each stack file (docs/base.md). Generated from gate/policy/model.py by `make schema`."
    )
    result: dict[str, Any] = json.loads(json.dumps(schema, sort_keys=True))
    return result


def render_base_schema() -> str:
    return json.dumps(base_file_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# Issue 13, part base: every list key also takes a directive (gate/policy/layers.py) instead of a list.
_LIST_DIRECTIVE: dict[str, Any] = {
    "additionalProperties": False,
    "description": (
        "Edit the list below this file (the base file's, or the policy's) instead of restating it: "
        "`extend` adds entries (a known name merges by name), `remove` takes names (or values) out, "
        "`replace` is the whole list (gate/policy/layers.py)."
    ),
    "minProperties": 1,
    "properties": {
        "extend": {"type": "array"},
        "remove": {"type": "array"},
        "replace": {"type": "array"},
    },
    "type": "object",
}
# `repositories` may be only in the base file (stacks/base.yaml).
_MAY_BE_SHARED = {"repositories"}


def _with_list_directives(node: Any, named: dict[str, str]) -> Any:
    """The schema with every array also accepting a `ListDirective` (gate/policy/layers.py); a list of
    named entries has no length bounds here: it merges with the list below before it is counted."""
    if isinstance(node, list):
        return [_with_list_directives(item, named) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        key: value if key in ("default", "examples") else _with_list_directives(value, named)
        for key, value in node.items()
    }
    if result.get("type") == "array":
        if str(result.get("items", {}).get("$ref", "")).rsplit("/", 1)[-1] in named:
            result.pop("minItems", None)
            result.pop("maxItems", None)
        kept = {k: result.pop(k) for k in ("description", "default", "title") if k in result}
        return {**kept, "anyOf": [result, {"$ref": "#/$defs/ListDirective"}]}
    return result


def _is_secret(field: dict[str, Any]) -> bool:
    return any(option.get("writeOnly") for option in field.get("anyOf", [field]))


def _allow_secure(field: dict[str, Any]) -> dict[str, Any]:
    options = field.pop("anyOf", None) or [
        {k: field.pop(k) for k in ("type", "format", "writeOnly") if k in field}
    ]
    return {**field, "anyOf": [*options, {"$ref": "#/$defs/Secure"}]}


def _ecma_only(node: Any) -> Any:
    """A copy without the `pattern`s an ECMA-262 regex engine (an editor's) would not read alike."""
    if isinstance(node, list):
        return [_ecma_only(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str) and _NOT_ECMA.search(value):
            continue
        result[key] = copy.deepcopy(value) if key in ("default", "examples") else _ecma_only(value)
    return result


# --- the reference ----------------------------------------------------------------------------------


def config_reference_markdown() -> str:
    """The configuration reference: one table per model, generated from stack_file_schema()."""
    schema = stack_file_schema()
    config = schema["properties"]["config"]
    defs: dict[str, Any] = schema["$defs"]
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `make schema` (python -m gate schema --reference) from gate/policy/model.py;",
        "     do not edit: tests/test_schema.py fails when it is not current. -->",
        "",
        "Every key a stack file (`stacks/Pulumi.<stack>.yaml`) may set under `config:`, its type, its",
        "default and the policy line it encodes. Editors validate stack files against the JSON Schema",
        f"[`{SCHEMA_FILE.removeprefix('docs/')}`]({SCHEMA_FILE.removeprefix('docs/')}) (the",
        "`# yaml-language-server: $schema=...` line at the top of each stack file). Keys marked",
        "*read-only* are written by the pipeline; a stack file holding one is refused.",
        "",
        "## Stack file keys",
        "",
        *_table(config["properties"], set(config.get("required", [])), key_format="`{}`"),
    ]
    for name in sorted(defs):
        body = defs[name]
        lines += ["", f"## {name}", ""]
        if body.get("description"):
            lines += [_one_line(body["description"]), ""]
        if "enum" in body:
            lines.append("One of: " + ", ".join(f"`{_value(v)}`" for v in body["enum"]) + ".")
            continue
        properties = body.get("properties")
        if not properties:
            lines.append(f"Type: {_type(body)}.")
            continue
        lines += _table(properties, set(body.get("required", [])), key_format="`{}`")
    return "\n".join(lines) + "\n"


def _table(properties: dict[str, Any], required: set[str], key_format: str) -> list[str]:
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key in sorted(properties):
        field = properties[key]
        default = (
            "*required*" if key in required else (_default(field["default"]) if "default" in field else "")
        )
        description = _one_line(field.get("description", ""))
        if field.get("readOnly"):
            description = f"*read-only.* {description}"
        rows.append(
            f"| {key_format.format(key)} | {_type(field)} | {_cell(default)} | {_cell(description)} |"
        )
    return rows


def _type(field: dict[str, Any]) -> str:  # noqa: PLR0911 - one return per JSON Schema form
    if "$ref" in field:
        name = field["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in field:
        return " or ".join(_type(option) for option in field["anyOf"])
    if "enum" in field:
        return " or ".join(f"`{_value(v)}`" for v in field["enum"])
    if "const" in field:
        return f"`{_value(field['const'])}`"
    kind = field.get("type")
    if kind == "array":
        items = field.get("items")
        return f"list of {_type(items)}" if isinstance(items, dict) and items else "list"
    if kind == "object":
        extra = field.get("additionalProperties")
        return f"map of {_type(extra)}" if isinstance(extra, dict) and extra else "map"
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind is None:
        return "any"
    text = str(kind)
    if field.get("format"):
        text += f" ({field['format']})"
    return text


def _default(value: Any) -> str:
    text = _value(value)
    if len(text) <= _SHORT:
        return f"`{text}`"
    if isinstance(value, list):
        return f"{len(value)} entries (in the schema)"
    return "its model's defaults" if isinstance(value, dict) else "(in the schema)"


_SHORT = 60


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# --- the command --------------------------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "schema", help="print the stack files' JSON Schema, or with --reference the configuration reference"
    )
    command.add_argument(
        "--reference", action="store_true", help=f"the markdown reference ({REFERENCE_FILE}) instead"
    )
    command.add_argument(
        "--base", action="store_true", help=f"the base file's JSON Schema ({BASE_SCHEMA_FILE}) instead"
    )
    command.add_argument("--out", type=Path, default=None, help="write to this file (default: stdout)")


def command(args: argparse.Namespace) -> int:
    if getattr(args, "base", False):
        text = render_base_schema()
    else:
        text = config_reference_markdown() if args.reference else render_schema()
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0
