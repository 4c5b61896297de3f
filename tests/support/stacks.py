"""The project's own stacks planned the way `make plan-all` chains them: each promoted stack reads
the outputs (release evidence) of the stack it promotes from."""

from __future__ import annotations

import functools
import json
from typing import Any

from gate.plan import build_plan
from tests.conftest import ROOT

STACKS = ("dev", "staging", "prod")
PROMOTES_FROM = {"staging": "dev", "prod": "staging"}


@functools.cache
def stack_plan(stack: str) -> dict[str, Any]:
    """The plan of one of the project's stacks; shared, do not modify it."""
    upstream = PROMOTES_FROM.get(stack)
    outputs = {upstream: stack_plan(upstream)["outputs"]} if upstream else {}
    # The stack's own deployed state: the sample the Makefile plans with (examples/state).
    state = ROOT / "examples" / "state" / f"{stack}.json"
    if state.is_file():
        outputs[stack] = json.loads(state.read_text(encoding="utf-8"))
    return build_plan(ROOT, stack, stack_outputs=outputs)
