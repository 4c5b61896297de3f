"""The one loader: a stack's `delivery-gate:*` config -> the frozen GatePolicy, or a PolicyError.

It runs before any resource is declared, under `pulumi up` and under the offline plan alike, and
reports every problem at once: stack file, dotted path, bad value, what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pydantic import ValidationError

from gate import clock
from gate.errors import PolicyError, Problem
from gate.offline.engine import all_config, get_root_directory
from gate.policy.layers import Layer, Origins, attribute, layered_config
from gate.policy.model import GatePolicy
from gate.policy.prnames import RESERVED_STACK
from gate.policy.slo import with_suggested_p95
from gate.policy.validation import aliases, unknown_keys
from gate.policy.validation import problems as validation_problems

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
    origins: Origins | None = None,
) -> GatePolicy:
    """Validate this stack's `delivery-gate:*` values (namespace stripped) into a GatePolicy.

    Values may be decoded objects (stack file) or JSON strings (what the Pulumi engine passes for
    structured config); both give the same policy. They are the effective config: already merged
    with the base file (gate/policy/layers.py), whose `origins` name the file each problem's value is in.
    """
    source = source or stack_file(stack)
    problems = unknown_keys(values, GatePolicy, NAMESPACE)
    raw = {key: _decode(value) for key, value in sorted(values.items()) if key in aliases(GatePolicy)}
    problems += _fill_repository_owners(raw, github_owner)
    try:
        # "now" for the rules that refuse times in the future (createdAt, validatedAt).
        policy = GatePolicy.model_validate(raw, context={"now": clock.now(exact=True)})
    except ValidationError as error:
        problems += validation_problems(error.errors(include_url=False), GatePolicy, NAMESPACE)
    if problems:
        raise PolicyError(source, attribute(problems, origins or Origins(), source))
    if policy.ephemeral is not None:
        if policy.stack != stack:
            raise PolicyError(
                source,
                [
                    Problem(
                        f"{NAMESPACE}:ephemeral",
                        f"pullRequest {policy.ephemeral.pull_request} of {policy.ephemeral.repository}",
                        f"makes stack {policy.stack!r}, not {stack!r}: an ephemeral stack is named "
                        "pr-<repository>-<pullRequest> (gate/policy/prnames.py); allowed: the repository and "
                        "pull request the stack's name says",
                    )
                ],
            )
        return policy
    if RESERVED_STACK.fullmatch(stack):
        # The janitor destroys pr-* stacks once they expire: an environment must never be one.
        raise PolicyError(
            source,
            [
                Problem(
                    f"{NAMESPACE}:ephemeral",
                    None,
                    f"stack {stack!r} is named like a disposable per-PR stack, which `gate ephemeral reap` "
                    "destroys when it expires; allowed: an ephemeral stack made from its repository's "
                    "template (stacks/ephemeral[.<repo>].yaml), or an environment stack not named pr-*",
                )
            ],
        )
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
        except (json.JSONDecodeError, RecursionError):
            # Not JSON, or nested deeper than Python's JSON reader goes (a hostile stack file under
            # `pulumi up`, which the gate's own YAML check never saw): the text, which the model
            # then refuses with the field's path.
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


def load_stack_policy(state: Mapping[str, Any] | None = None) -> tuple[GatePolicy, str]:
    """Load the running stack's policy from the config the Pulumi engine (or the offline plan) set,
    with the release and evidence of the stack's own state (`state`, its outputs) carried forward
    over the stack file's (gate/promotion/delivery.py). Returns the policy and where its release comes
    from."""
    from gate.policy.stackfile import stack_config_source  # noqa: PLC0415 - gate.stackfile imports this module
    from gate.promotion.delivery import carry_forward  # noqa: PLC0415 - gate.delivery imports this module

    stack = pulumi.get_stack()
    root = Path(get_root_directory())
    # The engine hands over the stack file's own values; the base file (gate/policy/layers.py) is read here,
    # beside the stack files, so `pulumi up` and the offline plan merge the same layers.
    own = Layer(
        stack_config_source(root, stack), {key: _decode(value) for key, value in all_config().items()}
    )
    layered = layered_config(root, own)
    config, release_source = carry_forward(layered.values, state)
    policy = load_policy(
        namespace_values(config),
        stack=stack,
        github_owner=namespace_values(config, "github").get("owner"),
        origins=layered.origins,
    )
    # Paths in the stack config are relative to the project directory (where Pulumi.yaml is).
    return with_suggested_p95(policy, root, stack_file(stack)), release_source
