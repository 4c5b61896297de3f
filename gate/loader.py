"""The one loader: a stack's `delivery-gate:*` config -> the frozen GatePolicy, or a PolicyError.

It runs before any resource is declared, under `pulumi up` and under the offline plan alike, and
reports every problem at once: stack file, dotted path, bad value, what is allowed.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from gate.engine import all_config, get_root_directory
from gate.errors import FieldProblem, PolicyError, Problem
from gate.model import GatePolicy
from gate.slo import with_suggested_p95

NAMESPACE = "delivery-gate"


def stack_file(stack: str) -> str:
    """Where a stack's config lives (`stackConfigDir: stacks` in Pulumi.yaml)."""
    return f"stacks/Pulumi.{stack}.yaml"


def namespace_values(config: Mapping[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    """The `namespace:key` entries of a full Pulumi config map, keyed by `key`."""
    prefix = f"{namespace}:"
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def load_policy(
    values: Mapping[str, Any],
    *,
    stack: str,
    github_owner: str | None,
    source: str | None = None,
) -> GatePolicy:
    """Validate this stack's `delivery-gate:*` values (namespace stripped) into a GatePolicy.

    Values may be decoded objects (stack file) or JSON strings (what the Pulumi engine passes for
    structured config); both give the same policy.
    """
    source = source or stack_file(stack)
    problems: list[Problem] = []
    allowed_keys = _aliases(GatePolicy)
    raw: dict[str, Any] = {}
    for key in sorted(values):
        if key not in allowed_keys:
            problems.append(
                Problem(
                    f"{NAMESPACE}:{key}",
                    values[key],
                    f"unknown key; allowed: {', '.join(sorted(allowed_keys))}",
                )
            )
            continue
        raw[key] = _decode(values[key])
    problems += _fill_repository_owners(raw, github_owner)
    try:
        policy = GatePolicy.model_validate(raw)
    except ValidationError as error:
        problems += _problems(error.errors(include_url=False))
    if problems:
        raise PolicyError(source, problems)
    if policy.ephemeral is not None:
        if policy.stack != stack:
            raise PolicyError(
                source,
                [
                    Problem(
                        f"{NAMESPACE}:ephemeral.pullRequest",
                        policy.ephemeral.pull_request,
                        f"an ephemeral stack is named pr-<pullRequest>; allowed: {stack.removeprefix('pr-')}",
                    )
                ],
            )
        return policy
    expected = policy.environment_spec.stack
    if expected != stack:
        raise PolicyError(
            source,
            [
                Problem(
                    f"{NAMESPACE}:environment",
                    policy.environment,
                    f"environment {policy.environment!r} is deployed by stack {expected!r}, not {stack!r}; "
                    "allowed: " + ", ".join(f"{e.name!r} (stack {e.stack})" for e in policy.environments),
                )
            ],
        )
    return policy


def _decode(value: Any) -> Any:
    # The Pulumi engine hands structured config to the program as JSON text.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _fill_repository_owners(raw: dict[str, Any], github_owner: str | None) -> list[Problem]:
    repositories = raw.get("repositories")
    if not isinstance(repositories, list):
        return []
    problems = []
    filled = []
    for index, entry in enumerate(repositories):
        repo = entry
        if isinstance(repo, dict) and repo.get("owner") is None:
            if github_owner is None:
                problems.append(
                    Problem(
                        f"{NAMESPACE}:repositories[{index}].owner",
                        None,
                        "required when the stack sets no github:owner",
                    )
                )
            else:
                repo = {**repo, "owner": github_owner}
        filled.append(repo)
    raw["repositories"] = filled
    return problems


def _problems(errors: list[Any]) -> list[Problem]:
    # pydantic also reports a list as too short when its only items failed: say only the cause.
    def has_deeper(loc: tuple[Any, ...]) -> bool:
        return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)

    return [_problem(e) for e in errors if not (e["type"] == "too_short" and has_deeper(tuple(e["loc"])))]


def _problem(error: Any) -> Problem:
    loc = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblem):
        inner = cause.problem
        return Problem(_path(loc, inner.path), inner.value, inner.allowed)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(_aliases(_model_at(loc[:-1]))))
        return Problem(_path(loc), error["input"], f"unknown key; allowed: {allowed}")
    if error["type"] == "missing":
        return Problem(_path(loc), None, "required")
    message = str(error["msg"]).removeprefix("Value error, ")
    if not message.startswith("allowed"):
        message = f"allowed: {message[0].lower()}{message[1:]}"
    return Problem(_path(loc), error["input"], message)


def _path(loc: tuple[Any, ...], tail: str = "") -> str:
    text = NAMESPACE + ":"
    for i, part in enumerate(loc):
        text += f"[{part}]" if isinstance(part, int) else (part if i == 0 else f".{part}")
    if tail:
        text += tail if not loc or tail.startswith("[") else f".{tail}"
    return text


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model class found by following field names in `loc` from GatePolicy."""
    model: type[BaseModel] = GatePolicy
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


def load_stack_policy() -> GatePolicy:
    """Load the running stack's policy from the config the Pulumi engine (or the offline plan) set."""
    config = all_config()
    stack = pulumi.get_stack()
    policy = load_policy(
        namespace_values(config), stack=stack, github_owner=namespace_values(config, "github").get("owner")
    )
    # Paths in the stack config are relative to the project directory (where Pulumi.yaml is).
    return with_suggested_p95(policy, Path(get_root_directory()), stack_file(stack))
