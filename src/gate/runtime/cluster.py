"""What an environment stack deploys to its cluster: pure, from the policy.

Every environment gets its alerts (a PrometheusRule and the Alertmanager routing) and its flag
configuration; the environments production is promoted through (staging) and production itself get
the progressive rollout with automatic rollback (DP §Deployment Process). Ephemeral pr-<repo>-<N> stacks
use gate/runtime/ephemeral.py instead.
"""

from __future__ import annotations

from gate.policy.model import GatePolicy
from gate.runtime import alerts, dashboards, flags, network, rollout
from gate.runtime.kube import MANAGED_BY, Manifest
from gate.runtime.kube import app_namespace as app_namespace  # noqa: PLC0414 - explicit re-export (mypy)

# Not in the policy yet (ephemeral stacks have `ephemeral.ingressNamespace`): the namespace of the
# ingress controller that may reach the application, the same default as the ephemeral stacks'.
INGRESS_NAMESPACE = "ingress-nginx"
# Not in the policy yet: the TCP ports the application may reach outside the cluster on. HTTPS only
# (external APIs, and with `aws` the AWS endpoints); never the instance metadata endpoints.
EXTERNAL_EGRESS_PORTS = (443,)


def uses_progressive_rollout(policy: GatePolicy) -> bool:
    """Staging (what production promotes from) and production roll out progressively."""
    return rollout.progressive(policy)


def namespace(policy: GatePolicy) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": app_namespace(policy),
            "labels": {
                **MANAGED_BY,
                "delivery-gate.io/environment": policy.environment,
                # Pod Security Admission `restricted`, as in the ephemeral environments.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def network_policies(policy: GatePolicy) -> list[Manifest]:
    """Default deny with explicit allows in the application's namespace, as in the ephemeral
    environments (gate/runtime/network.py), plus HTTPS egress that cannot reach the metadata endpoints."""
    app = policy.application
    return network.network_policies(
        app_namespace(policy),
        app=app.name,
        app_port=app.port,
        ingress_namespace=INGRESS_NAMESPACE,
        monitoring_namespace=policy.monitoring.namespace,
        external_egress_ports=EXTERNAL_EGRESS_PORTS,
    )


def _in_namespace(manifest: Manifest, ns: str) -> Manifest:
    # A renderer that names its namespace keeps it: the alerts live where Prometheus and
    # Alertmanager run (the Operator routes by the alerts' namespace label).
    if "namespace" in manifest["metadata"]:
        return manifest
    return {**manifest, "metadata": {**manifest["metadata"], "namespace": ns}}


def manifests(policy: GatePolicy) -> list[Manifest]:
    """The namespace first, then everything in it."""
    ns = app_namespace(policy)
    inside: list[Manifest] = [
        *network_policies(policy),
        alerts.prometheus_rule(policy),
        alerts.alertmanager_config(policy),
        # GATE-OBS-01: the dashboard of these alerts and of the analysis, in the monitoring namespace.
        dashboards.config_map(policy),
        flags.feature_flag_resource(policy),
    ]
    if policy.deployed_image is None:
        # No release yet (issue 13): the safety net is in place, the workload comes with the first
        # release (gate promote / gate deploy), never as a placeholder image nothing can pull.
        pass
    elif uses_progressive_rollout(policy):
        inside += [*rollout.services(policy), rollout.analysis_template(policy), rollout.rollout(policy)]
    else:
        # One delivery path: dev's workload is the stack's too (gate deploy), without a canary.
        inside += [*rollout.services(policy), rollout.rollout(policy, progressive=False)]
    return [namespace(policy), *(_in_namespace(m, ns) for m in inside)]


def slack_webhook_secret(policy: GatePolicy) -> Manifest:
    """The Secret the AlertmanagerConfig reads the webhook from, without its data (a Pulumi secret
    fills it in the component, so the URL never appears in a manifest or the plan)."""
    ref = policy.monitoring.slack_webhook
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": ref.name, "namespace": policy.monitoring.namespace, "labels": dict(MANAGED_BY)},
        "type": "Opaque",
    }
