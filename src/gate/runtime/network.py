"""Default-deny NetworkPolicies with explicit allows for the application's namespace: pure.

One renderer for every namespace the application runs in: each environment stack's (dev, staging,
production; gate/runtime/cluster.py) and each pull request's disposable one (gate/runtime/ephemeral.py), so
the
environments that serve users are at least as locked down as the ones that test a pull request.

Threats the policies answer:
- lateral movement: a compromised pod reaches nothing but DNS, its own namespace and what is
  allowed below; nothing outside reaches it but the ingress controller and Prometheus;
- credential theft through the cloud instance metadata endpoint: a pod that reaches
  169.254.169.254 (or EC2's IPv6 fd00:ec2::254) can read the node's IAM role credentials unless
  every node limits IMDS to itself (hop limit 1), which this program cannot see; a server-side
  request forgery in the application is enough (the 2019 Capital One breach). Every `ipBlock` allow
  carries `except` for those addresses, and the other allows select pods, never an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gate.runtime.kube import MANAGED_BY, Manifest

API_VERSION = "networking.k8s.io/v1"
NAME_LABEL = "app.kubernetes.io/name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace

# The cloud instance metadata endpoints (IMDS): EC2/EKS, GCE and Azure on IPv4, EC2 Nitro on IPv6.
METADATA_ENDPOINTS = ("169.254.169.254/32", "fd00:ec2::254/128")
ANY_IPV4, ANY_IPV6 = "0.0.0.0/0", "::/0"

DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"
ALLOW_SAME_NAMESPACE = "allow-same-namespace"
ALLOW_INGRESS_CONTROLLER = "allow-ingress-controller"
ALLOW_MONITORING = "allow-monitoring"
ALLOW_EXTERNAL_EGRESS = "allow-external-egress"


def _in_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def external_peers() -> list[dict[str, Any]]:
    """Every IPv4 and IPv6 address but the instance metadata endpoints."""
    return [
        {"ipBlock": {"cidr": ANY_IPV4, "except": [METADATA_ENDPOINTS[0]]}},
        {"ipBlock": {"cidr": ANY_IPV6, "except": [METADATA_ENDPOINTS[1]]}},
    ]


def netpol(namespace: str, name: str, spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def default_deny(namespace: str) -> Manifest:
    """Default deny, both directions, for every pod; everything else is an explicit allow."""
    return netpol(namespace, DEFAULT_DENY, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def allow_dns(namespace: str) -> Manifest:
    """Name resolution, and only from the cluster's DNS pods."""
    return netpol(
        namespace,
        ALLOW_DNS,
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            **_in_namespace("kube-system"),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )


def network_policies(
    namespace: str,
    *,
    app: str,
    app_port: int,
    ingress_namespace: str,
    monitoring_namespace: str,
    external_egress_ports: Sequence[int] = (),
) -> list[Manifest]:
    """The NetworkPolicies of `namespace`, where the pods labelled `app.kubernetes.io/name=<app>`
    serve HTTP (and /metrics) on `app_port`.

    `external_egress_ports`: TCP ports the application may reach outside the cluster on, metadata
    endpoints excepted; none (the default) allows no egress beyond DNS and the namespace.
    """

    def policy(name: str, spec: dict[str, Any]) -> Manifest:
        return netpol(namespace, name, spec)

    app_pods = {"matchLabels": {NAME_LABEL: app}}
    app_port_only = [{"protocol": "TCP", "port": app_port}]
    policies = [
        default_deny(namespace),
        allow_dns(namespace),
        # The application and its Redis (the rate limiter, M9 §Thresholds) talk to each other.
        policy(
            ALLOW_SAME_NAMESPACE,
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
        # Users reach the application through the ingress controller only, on its HTTP port.
        policy(
            ALLOW_INGRESS_CONTROLLER,
            {
                "podSelector": app_pods,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_in_namespace(ingress_namespace)], "ports": app_port_only}],
            },
        ),
        # Prometheus scrapes /metrics: the alerts and the rollout analysis read it (DP §Rollback
        # Criteria); a scrape the policy blocked would only show as the absent() alerts.
        policy(
            ALLOW_MONITORING,
            {
                "podSelector": app_pods,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_in_namespace(monitoring_namespace)], "ports": app_port_only}],
            },
        ),
    ]
    if external_egress_ports:
        # Outside services on the given ports only, never the instance metadata endpoints (above).
        policies.append(
            policy(
                ALLOW_EXTERNAL_EGRESS,
                {
                    "podSelector": app_pods,
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": external_peers(),
                            "ports": [{"protocol": "TCP", "port": port} for port in external_egress_ports],
                        }
                    ],
                },
            )
        )
    return policies


ALLOW_ALERTMANAGER = "allow-alertmanager"
ALLOW_GITHUB_API = "allow-github-api"
# The label the Prometheus Operator puts on every Alertmanager pod it runs.
ALERTMANAGER_PODS = {"matchLabels": {NAME_LABEL: "alertmanager"}}


def relay_policies(
    namespace: str, *, app: str, port: int, monitoring_namespace: str, api_cidrs: Sequence[str]
) -> list[Manifest]:
    """The alert relay's namespace (gate/runtime/relay.py): default deny and DNS as everywhere, then exactly
    what the relay needs. In: Alertmanager's pods, on the webhook port (anything that can POST an
    alert there can make the gated repository roll back and open issues). Out: TCP 443 to GitHub's
    API networks only (NetworkPolicy cannot name a host), never the metadata endpoints (the list is
    validated not to contain them). No same-namespace allow: the relay's pods never talk to each
    other."""
    pods = {"matchLabels": {NAME_LABEL: app}}
    return [
        default_deny(namespace),
        allow_dns(namespace),
        netpol(
            namespace,
            ALLOW_ALERTMANAGER,
            {
                "podSelector": pods,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{**_in_namespace(monitoring_namespace), "podSelector": ALERTMANAGER_PODS}],
                        "ports": [{"protocol": "TCP", "port": port}],
                    }
                ],
            },
        ),
        netpol(
            namespace,
            ALLOW_GITHUB_API,
            {
                "podSelector": pods,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"ipBlock": {"cidr": cidr}} for cidr in api_cidrs],
                        "ports": [{"protocol": "TCP", "port": 443}],
                    }
                ],
            },
        ),
    ]
