"""Validate custom resources against the real CRDs in shared/schemas/crds (see its README).

A CRD's `spec.versions[*].schema.openAPIV3Schema` is a JSON schema in the OpenAPI v3 flavour:
`x-kubernetes-int-or-string` means integer or string, `nullable` allows null, other `x-kubernetes-*`
keys are ignored. Unknown fields are errors (`additionalProperties: false` unless the schema says
`x-kubernetes-preserve-unknown-fields`), as the API server prunes or rejects them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.shared import shared_dir


class _CrdLoader(yaml.CSafeLoader):
    """The CRDs hold a bare `=` list item, which YAML 1.1 reads as the 'value' tag."""


def _value_tag(loader: yaml.BaseLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_CrdLoader.add_constructor("tag:yaml.org,2002:value", _value_tag)


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, for every CRD file in shared/schemas/crds."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((shared_dir() / "schemas" / "crds").glob("*.yaml")):
        crd = yaml.load(path.read_text(encoding="utf-8"), Loader=_CrdLoader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[f"{group}/{version['name']}", kind] = _to_json_schema(
                version["schema"]["openAPIV3Schema"]
            )
    return schemas


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _to_json_schema(v)
        for k, v in node.items()
        if not k.startswith("x-kubernetes-") and k != "nullable"
    }
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    closed = not node.get("x-kubernetes-preserve-unknown-fields")
    if closed and out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def crd_problems(document: dict[str, Any]) -> list[str]:
    """Problems of one custom resource document against its CRD; empty when it conforms."""
    key = (document.get("apiVersion", ""), document.get("kind", ""))
    schema = _crd_schemas().get(key)
    if schema is None:
        known = ", ".join(f"{v} {k}" for v, k in sorted(_crd_schemas()))
        return [f"no CRD for {key[0]} {key[1]}; known: {known}"]
    # metadata is the API server's ObjectMeta, not part of the CRD schema.
    body = {k: v for k, v in document.items() if k != "metadata"}
    schema = {**schema, "properties": {**schema.get("properties", {}), "metadata": {"type": "object"}}}
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{key[1]} {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def crd_path() -> Path:
    return shared_dir() / "schemas" / "crds"
