"""Kubernetes manifests rendered in gate/ declared as typed pulumi-kubernetes resources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# The (apiVersion, kind)s declared through pulumi_kubernetes's typed classes; a manifest of another
# kind is a CustomResource. The class is looked up when a manifest of the kind is declared: the SDK
# imports an API group's module (and its input and output types) on first use, so a stack that
# declares no RBAC or admission policy never pays for importing them (issue 14: a one-repository
# plan's time is mostly imports).
_CLASSES: frozenset[tuple[str, str]] = frozenset(
    {
        *(("v1", kind) for kind in ("Namespace", "ResourceQuota", "LimitRange", "ServiceAccount")),
        *(("v1", kind) for kind in ("ConfigMap", "Secret", "Service")),
        ("apps/v1", "Deployment"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        *(
            ("rbac.authorization.k8s.io/v1", kind)
            for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
        ),
        *(
            ("admissionregistration.k8s.io/v1", kind)
            for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        ),
    }
)


def typed_class(api_version: str, kind: str) -> Any | None:
    """pulumi_kubernetes's class for manifests of this apiVersion and kind, None for other kinds.

    The SDK's module is the API group's first label (`core` for the core group) and the version:
    `rbac.authorization.k8s.io/v1` is `pulumi_kubernetes.rbac.v1`."""
    if (api_version, kind) not in _CLASSES:
        return None
    group, _, version = api_version.rpartition("/")
    module = getattr(getattr(k8s, group.split(".", maxsplit=1)[0] or "core"), version)
    return getattr(module, kind)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def declare_manifest(
    name: str,
    manifest: dict[str, Any],
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    protect: bool = False,
) -> pulumi.CustomResource:
    """One manifest as a typed resource (core kinds) or a CustomResource (CRDs such as Rollout)."""
    physical = manifest["metadata"]["name"]
    resource_name = f"{name}-{manifest['kind'].lower()}-{physical}"
    # Physical names are explicit, so a replacement must delete the old object first.
    opts = pulumi.ResourceOptions(
        parent=parent, delete_before_replace=True, depends_on=list(depends_on), protect=protect
    )
    cls = typed_class(manifest["apiVersion"], manifest["kind"])
    if cls is None:
        body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            opts=opts,
            **body,
        )
    kwargs = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    resource: pulumi.CustomResource = cls(resource_name, **kwargs, opts=opts)
    return resource


def declare_in_namespace(
    name: str, manifests: Sequence[dict[str, Any]], *, parent: pulumi.Resource, protect: bool
) -> pulumi.Output[str]:
    """The namespace (the first manifest), then everything else once it exists; its name."""
    namespace_manifest, *rest = manifests
    namespace = declare_manifest(name, namespace_manifest, parent=parent, protect=protect)
    for manifest in rest:
        declare_manifest(name, manifest, parent=parent, depends_on=[namespace], protect=protect)
    return pulumi.Output.from_input(namespace_manifest["metadata"]["name"])


class EphemeralEnvironment(pulumi.ComponentResource):
    """The per-PR namespace and everything in it (gate/runtime/ephemeral.py)."""

    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: Sequence[dict[str, Any]], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("delivery-gate:kubernetes:EphemeralEnvironment", name, None, opts)
        self.namespace = declare_in_namespace(name, args, parent=self, protect=False)
        self.register_outputs({"namespace": self.namespace})


class RuntimeSafetyNet(pulumi.ComponentResource):
    """An environment's alerts, flags and progressive rollout (gate/runtime/cluster.py)."""

    namespace: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Sequence[dict[str, Any]],
        protect: bool,
        slack_webhook: tuple[dict[str, Any], str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`slack_webhook`: (Secret manifest without data, key, URL) when the stack holds the URL."""
        super().__init__("delivery-gate:kubernetes:RuntimeSafetyNet", name, None, opts)
        self.namespace = declare_in_namespace(name, args, parent=self, protect=protect)
        if slack_webhook is not None:
            secret, key, url = slack_webhook
            # string_data from a Pulumi secret: encrypted in state, "[secret]" in previews and plans.
            declare_manifest(
                name, {**secret, "stringData": {key: pulumi.Output.secret(url)}}, parent=self, protect=protect
            )
        self.register_outputs({"namespace": self.namespace})


class AlertRelay(pulumi.ComponentResource):
    """The alert relay in its own namespace (gate/runtime/relay.py): Alertmanager's rollback and ticket
    alerts become repository_dispatch events to the gated repository."""

    namespace: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Sequence[dict[str, Any]],
        protect: bool,
        token: tuple[dict[str, Any], str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`token`: (Secret manifest without data, key, GitHub token) when the stack holds the token."""
        super().__init__("delivery-gate:kubernetes:AlertRelay", name, None, opts)
        self.namespace = declare_in_namespace(name, args, parent=self, protect=protect)
        if token is not None:
            secret, key, value = token
            # string_data from a Pulumi secret: encrypted in state, "[secret]" in previews and plans.
            declare_manifest(
                name,
                {**secret, "stringData": {key: pulumi.Output.secret(value)}},
                parent=self,
                protect=protect,
            )
        self.register_outputs({"namespace": self.namespace})


class PullRequestAccess(pulumi.ComponentResource):
    """What the pull-request roles may do in the cluster beyond their namespaces, and the admission
    policy that keeps it to their own PR namespaces (gate/runtime/ephemeral.py pull_request_access)."""

    policy_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Sequence[dict[str, Any]],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("delivery-gate:kubernetes:PullRequestAccess", name, None, opts)
        # The admission policy (and its binding) first: the ClusterRole's grant is only safe once
        # the policy that narrows it is enforced.
        guards = [m for m in args if m["apiVersion"].startswith("admissionregistration.")]
        declared = [declare_manifest(name, m, parent=self, protect=protect) for m in guards]
        for manifest in args:
            if manifest not in guards:
                declare_manifest(name, manifest, parent=self, depends_on=declared, protect=protect)
        policy = next(m for m in guards if m["kind"] == "ValidatingAdmissionPolicy")
        self.policy_name = pulumi.Output.from_input(policy["metadata"]["name"])
        self.register_outputs({"policyName": self.policy_name})
