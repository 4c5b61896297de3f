"""The project's own stacks planned the way `make plan-all` chains them: each promoted stack reads
the outputs (release evidence) of the stack it promotes from.

`PROJECT` is the repository root, or the directory `DELIVERY_GATE_TEST_PROJECT` names (a renamed copy
of the stacks, tests/support/example_org.py); `names()` are its organisation's names, for assertions
that must hold whatever the organisation is called."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from gate.clock import NOW_ENV
from gate.offline.plan import build_plan
from tests.conftest import ROOT
from tests.support.example_org import Names, names_of

PROJECT_ENV = "DELIVERY_GATE_TEST_PROJECT"
PROJECT = Path(os.environ.get(PROJECT_ENV) or ROOT)

STACKS = ("dev", "staging", "prod")
PROMOTES_FROM = {"staging": "dev", "prod": "staging"}


@functools.cache
def stack_plan(stack: str) -> dict[str, Any]:
    """The plan of one of the project's stacks; shared, do not modify it."""
    upstream = PROMOTES_FROM.get(stack)
    return chained_plan(PROJECT, stack, stack_plan(upstream)["outputs"] if upstream else None)


def chained_plan(project: Path, stack: str, upstream_outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stack of `project` planned as `make plan-all` plans it: with the outputs of the stack it
    promotes from, and its own sample state (examples/state/<stack>.json) when there is one."""
    upstream = PROMOTES_FROM.get(stack)
    outputs = {upstream: upstream_outputs} if upstream and upstream_outputs is not None else {}
    state = project / "examples" / "state" / f"{stack}.json"
    if state.is_file():
        outputs[stack] = json.loads(state.read_text(encoding="utf-8"))
    # Planned as `make plan-all` plans them (today), whatever clock the calling test pinned: the
    # result is cached and shared, so it must not depend on which test asked first.
    pinned = os.environ.pop(NOW_ENV, None)
    try:
        return build_plan(project, stack, stack_outputs=outputs)
    finally:
        if pinned is not None:
            os.environ[NOW_ENV] = pinned


def chained_plans(project: Path) -> dict[str, dict[str, Any]]:
    """Every environment stack of `project`, in promotion order, each reading its upstream's outputs."""
    plans: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        upstream = PROMOTES_FROM.get(stack)
        plans[stack] = chained_plan(project, stack, plans[upstream]["outputs"] if upstream else None)
    return plans


def names() -> Names:
    """PROJECT's organisation, repository and application names (read from its dev stack)."""
    return names_of(PROJECT)
