"""Reading the upstream stack's evidence, for the promotion rule in gate/promotion/evidence.py."""

from __future__ import annotations

from typing import Any

import pulumi

from gate.errors import GateError

# The engine's builtin function behind StackReference. Invoked directly it answers synchronously,
# so the program can judge the evidence before it declares anything (the Node SDK's
# StackReference.getOutputValue does the same).
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"


def stack_reference_name(stack: str) -> str:
    """<organization>/<project>/<stack>: a stack of this project in the same backend."""
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"


def read_stack_outputs(stack: str) -> dict[str, Any]:
    """Every output of another stack of this project, or a GateError saying why it cannot be read."""
    name = stack_reference_name(stack)
    try:
        result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    except GateError:
        raise
    except Exception as error:  # the backend's answer for a missing stack or denied access
        raise GateError(f"cannot read the outputs of stack {name}: {error}") from None
    outputs = (result.value or {}).get("outputs") or {}
    return dict(outputs)


def reference_stack(stack: str, role: str = "promotes-from") -> pulumi.StackReference:
    """The StackReference that records, in this stack's state, which stack it reads and why: the
    stack it promotes from, or (`central-workflows`) the one declaring the central repository."""
    return pulumi.StackReference(f"{role}-{stack}", stack_name=stack_reference_name(stack))
