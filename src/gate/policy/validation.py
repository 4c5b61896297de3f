"""Stack config -> a settings model, with every problem as stack file, dotted path, value, allowed.

Shared by the delivery-gate loader (gate/policy/loader.py, namespace `delivery-gate`, GatePolicy) and the
bootstrap project (gate/aws/foundation.py, namespace `delivery-gate-bootstrap`). Pure: no Pulumi here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from gate.errors import FieldProblem, Problem

FINITE = "allowed: a finite number (not .inf, .nan, or a value too large for a float such as 1e309)"


def aliases(model: type[BaseModel]) -> set[str]:
    """The keys a model accepts, as written in stack files."""
    return {field.alias or name for name, field in model.model_fields.items()}


def unknown_keys(values: Mapping[str, Any], model: type[BaseModel], namespace: str) -> list[Problem]:
    allowed = aliases(model)
    return [
        Problem(f"{namespace}:{key}", values[key], f"unknown key; allowed: {', '.join(sorted(allowed))}")
        for key in sorted(values)
        if key not in allowed
    ]


def problems(errors: list[Any], root: type[BaseModel], namespace: str) -> list[Problem]:
    """pydantic errors (of `root`, validated from a namespace's values) as Problems."""

    # pydantic also reports a list as too short when its only items failed: say only the cause.
    def has_deeper(loc: tuple[Any, ...]) -> bool:
        return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)

    return [
        _problem(e, root, namespace)
        for e in errors
        if not (e["type"] == "too_short" and has_deeper(tuple(e["loc"])))
    ]


def _problem(error: Any, root: type[BaseModel], namespace: str) -> Problem:
    loc = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblem):
        inner = cause.problem
        return Problem(_path(namespace, loc, inner.path), inner.value, inner.allowed)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(aliases(_model_at(root, loc[:-1]))))
        return Problem(_path(namespace, loc), error["input"], f"unknown key; allowed: {allowed}")
    if error["type"] == "missing":
        return Problem(_path(namespace, loc), None, "required")
    if error["type"] == "finite_number":
        # `.inf`, `.nan`, or a number that overflows to inf such as "1e309" (gate/types.FiniteFloat).
        return Problem(_path(namespace, loc), error["input"], FINITE)
    message = str(error["msg"]).removeprefix("Value error, ")
    if not message.startswith("allowed"):
        message = f"allowed: {message[0].lower()}{message[1:]}"
    return Problem(_path(namespace, loc), error["input"], message)


def _path(namespace: str, loc: tuple[Any, ...], tail: str = "") -> str:
    text = namespace + ":"
    for i, part in enumerate(loc):
        text += f"[{part}]" if isinstance(part, int) else (part if i == 0 else f".{part}")
    if tail:
        text += tail if not loc or tail.startswith("[") else f".{tail}"
    return text


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model class found by following field names in `loc` from `root`."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            break
        found = _find_model(field.annotation)
        if found is None:
            break
        model = found
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _find_model(arg)
            if found is not None:
                return found
    return None
