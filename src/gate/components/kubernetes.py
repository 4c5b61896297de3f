"""Kubernetes manifests rendered in gate/ declared as pulumi-kubernetes resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from gate.components.provider_defaults import apply_provider_defaults, resource_defaults

# The kinds the provider has a typed resource for, each with the aliases its pulumi-kubernetes class
# adds (the API versions the kind moved from, so that `pulumi up` adopts an object declared under an
# older one instead of replacing it). They are registered here with the class's type token, aliases,
# version and plugin download URL, without importing the class: its API group's module and input
# types cost a stack 0.2-0.4 s to import (issue 14: a one-repository plan is mostly imports), and the
# engine receives the very same request (tests/test_kubernetes_classes.py compares them byte for byte
# with the classes' for every kind). A manifest of another kind (a CRD's, such as Rollout) is an
# `apiextensions.CustomResource`.
_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    **{("v1", kind): () for kind in ("Namespace", "ResourceQuota", "LimitRange", "ServiceAccount")},
    **{("v1", kind): () for kind in ("ConfigMap", "Secret", "Service")},
    ("apps/v1", "Deployment"): ("apps/v1beta1", "apps/v1beta2", "extensions/v1beta1"),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("extensions/v1beta1",),
    **{
        ("rbac.authorization.k8s.io/v1", kind): (
            "rbac.authorization.k8s.io/v1alpha1",
            "rbac.authorization.k8s.io/v1beta1",
        )
        for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    },
    **{
        ("admissionregistration.k8s.io/v1", kind): (
            "admissionregistration.k8s.io/v1alpha1",
            "admissionregistration.k8s.io/v1beta1",
        )
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    },
}

# What a Secret's class does with its contents: secret in state and previews, whatever the caller
# gave, and its outputs secret too.
_SECRET_PROPERTIES = ("data", "stringData")

# The SDK whose version every pulumi-kubernetes class merges into its options (provider_defaults.py).
_PACKAGE = "pulumi_kubernetes"


def type_token(api_version: str, kind: str) -> str | None:
    """The provider's type token for manifests of this apiVersion and kind, None for other kinds
    (the core group is `core`: `v1` Namespace is `kubernetes:core/v1:Namespace`)."""
    if (api_version, kind) not in _KINDS:
        return None
    return f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{kind}"


def _declare_kind(
    token: str, name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """`manifest` registered as its kind's pulumi-kubernetes class (`token`) registers it (see `_KINDS`)."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    properties = dict(manifest)
    if kind == "Secret" and api_version == "v1":
        for key in _SECRET_PROPERTIES:
            if properties.get(key) is not None:
                properties[key] = pulumi.Output.secret(properties[key])
        opts.additional_secret_outputs = [*(opts.additional_secret_outputs or ()), *_SECRET_PROPERTIES]
    aliases = _KINDS[(api_version, kind)]
    if aliases:
        opts.aliases = [
            *(opts.aliases or ()),
            *(pulumi.Alias(type_=f"kubernetes:{former}:{kind}") for former in aliases),
        ]
    apply_provider_defaults(opts, resource_defaults(_PACKAGE))
    return pulumi.CustomResource(token, name, properties, opts)


def declare_manifest(
    name: str,
    manifest: dict[str, Any],
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    protect: bool = False,
) -> pulumi.CustomResource:
    """One manifest as its kind's resource (core kinds) or a CustomResource (CRDs such as Rollout)."""
    physical = manifest["metadata"]["name"]
    resource_name = f"{name}-{manifest['kind'].lower()}-{physical}"
    # Physical names are explicit, so a replacement must delete the old object first.
    opts = pulumi.ResourceOptions(
        parent=parent, delete_before_replace=True, depends_on=list(depends_on), protect=protect
    )
    token = type_token(manifest["apiVersion"], manifest["kind"])
    if token is None:
        return _declare_custom_resource(resource_name, manifest, opts)
    return _declare_kind(token, resource_name, manifest, opts)


def _declare_custom_resource(
    name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """A CRD's manifest (a Rollout, a FeatureFlag) as `k8s.apiextensions.CustomResource` registers it:
    the token `kubernetes:<apiVersion>:<kind>`, the manifest's fields, the SDK's version over any
    other; without importing the class, whose argument types import meta/v1's (0.03 s of a plan;
    tests/test_kubernetes_classes.py compares the requests byte for byte)."""
    opts.version = resource_defaults(_PACKAGE).version
    token = f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}"
    return pulumi.CustomResource(token, name, dict(manifest), opts)


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
