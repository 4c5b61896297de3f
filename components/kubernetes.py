"""Kubernetes manifests rendered in gate/ declared as typed pulumi-kubernetes resources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# (apiVersion, kind) -> the typed resource class; a manifest of another kind is a programming error.
_CLASSES: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


class EphemeralEnvironment(pulumi.ComponentResource):
    """The per-PR namespace and everything in it (gate/ephemeral.py)."""

    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: Sequence[dict[str, Any]], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("delivery-gate:kubernetes:EphemeralEnvironment", name, None, opts)
        namespace_manifest, *rest = args
        namespace = self._declare(name, namespace_manifest, depends_on=[])
        for manifest in rest:
            self._declare(name, manifest, depends_on=[namespace])
        self.namespace = namespace.metadata.apply(lambda meta: meta["name"])
        self.register_outputs({"namespace": self.namespace})

    def _declare(self, name: str, manifest: dict[str, Any], depends_on: list[pulumi.Resource]) -> Any:
        cls = _CLASSES[manifest["apiVersion"], manifest["kind"]]
        kwargs = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        physical = manifest["metadata"]["name"]
        return cls(
            f"{name}-{manifest['kind'].lower()}-{physical}",
            **kwargs,
            # Physical names are explicit, so a replacement must delete the old object first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=depends_on),
        )
