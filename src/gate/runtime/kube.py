"""What every Kubernetes manifest the gate renders shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gate.policy.prnames import pr_namespace

if TYPE_CHECKING:
    from gate.policy.model import GatePolicy

Manifest = dict[str, Any]

# On every object the gate declares, so `kubectl get -l` finds them and nothing else.
MANAGED_BY = {"app.kubernetes.io/managed-by": "delivery-gate"}


def app_namespace(policy: GatePolicy) -> str:
    """The namespace the application runs in: `<app>` in an environment stack (gate/runtime/cluster.py),
    `<repo>-pr-<N>` in a pull request's disposable stack (gate/runtime/ephemeral.py, gate/policy/prnames.py).

    The alerts and the rollout analysis select only this namespace's series, and the network
    policies are declared in it.
    """
    ephemeral = policy.ephemeral
    if ephemeral is not None:
        return pr_namespace(ephemeral.repository, ephemeral.pull_request)
    return policy.application.name


def restricted_security_context() -> dict[str, Any]:
    """Pod Security Standards `restricted` for a container."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
