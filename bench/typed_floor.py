"""The typed floor of bench/plan_scale.py: a plan's resources declared through the provider SDKs'
typed classes, with the program's parents, providers, protect flags and component outputs.

What a program pays to declare these resources through the resource classes (each typed class
creates an Output for every property it declares, parents and providers are resolved, components
register outputs), without the policy, the rules or the rendering. The program itself declares a
repository's GitHub resources from their Args classes, without the resource classes
(gate/components/declare.py), so it can cost less than this floor. Inputs are the plan's own, so the
floor registers the same URNs with the same inputs; plan_scale.py checks that it does.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from typing import Any, cast

import pulumi
from pulumi import _types
from pulumi.runtime import rpc

PROVIDER_PREFIX = "pulumi:providers:"
# Type token -> (module, class name) of the provider SDKs imported so far.
_CLASS_NAMES: dict[str, tuple[str, str]] = {}
_IMPORTED: set[str] = set()


def _class_names(package: str) -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), from the provider SDKs' own registrations; imports the
    provider SDK of `package` first (only the SDKs the plan uses, as the program imports them)."""
    importlib.import_module(f"pulumi_{package}")
    classes: dict[str, tuple[str, str]] = {}
    for modules in rpc._RESOURCE_MODULES.values():
        for module in modules:
            info = getattr(module, "mod_info", None)
            if info:
                for token, name in info["classes"].items():
                    classes[token] = (info["fqn"], name)
    return classes


# Found once per token (None: a Kubernetes custom resource), as the program names its classes once,
# where it is written.
@functools.cache
def _typed_class(token: str) -> Any:
    if token.startswith(PROVIDER_PREFIX):
        return importlib.import_module(f"pulumi_{token[len(PROVIDER_PREFIX) :]}").Provider
    package = token.split(":", 1)[0]
    if package not in _IMPORTED:
        _IMPORTED.add(package)
        _CLASS_NAMES.update(_class_names(package))
    if token in _CLASS_NAMES:
        module, name = _CLASS_NAMES[token]
        return getattr(importlib.import_module(module), name)
    return None  # a Kubernetes custom resource (CRD kind): apiextensions.CustomResource


def _python_names(cls: Any) -> dict[str, str]:
    """camelCase input name -> the typed constructor's keyword, from the class's Args type."""
    module = importlib.import_module(cls.__module__)
    for suffix in ("InitArgs", "Args"):
        args_type = getattr(module, f"{cls.__name__}{suffix}", None)
        if args_type is not None:
            py_to_wire = _types.input_type_py_to_pulumi_names(args_type)
            return {wire: py for py, wire in py_to_wire.items() if wire is not None}
    raise LookupError(f"no Args type for {cls.__module__}.{cls.__name__}")


def declare_typed(entries: Iterable[dict[str, Any]]) -> None:
    """Declare `entries`, parents before children (bench/floor_input.py writes them in that order)."""
    declared: dict[str, pulumi.Resource] = {}
    names: dict[Any, dict[str, str]] = {}
    for entry in entries:
        options = entry["options"]
        provider = cast("pulumi.ProviderResource | None", declared.get(options.get("provider") or ""))
        opts = pulumi.ResourceOptions(
            parent=declared.get(entry["parent"] or ""),
            provider=provider if entry["custom"] else None,
            providers=[
                cast("pulumi.ProviderResource", declared[urn])
                for urn in options.get("providers", {}).values()
                if urn in declared
            ]
            or None,
            protect=options.get("protect", False),
        )
        if not entry["custom"]:
            component = pulumi.ComponentResource(entry["type"], entry["name"], None, opts)
            component.register_outputs(entry.get("outputs") or {})
            declared[entry["urn"]] = component
            continue
        cls = _typed_class(entry["type"])
        inputs = dict(entry["inputs"])
        if cls is None:
            kubernetes = importlib.import_module("pulumi_kubernetes.apiextensions")
            declared[entry["urn"]] = kubernetes.CustomResource(
                entry["name"],
                api_version=inputs.pop("apiVersion"),
                kind=inputs.pop("kind"),
                opts=opts,
                **inputs,
            )
            continue
        if cls not in names:
            names[cls] = _python_names(cls)
        kwargs: dict[str, Any] = {str(names[cls].get(key, key)): value for key, value in inputs.items()}
        declared[entry["urn"]] = cls(entry["name"], opts=opts, **kwargs)
