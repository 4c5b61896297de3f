"""What every Kubernetes manifest the gate renders shares."""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]

# On every object the gate declares, so `kubectl get -l` finds them and nothing else.
MANAGED_BY = {"app.kubernetes.io/managed-by": "delivery-gate"}


def restricted_security_context() -> dict[str, Any]:
    """Pod Security Standards `restricted` for a container."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
