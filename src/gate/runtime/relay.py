"""The alert relay: runtime signals that must act reach the gated repository. Pure, no resources.

M9 §Post-merge 2 ("`aos_replay_mismatch_total` increases above threshold: roll back, open an
operator incident, create a high-priority GitHub issue") and §Thresholds ("p95 > target: create an
alerting ticket and notify #platform") ask for actions, and an alert alone only pages. So every
firing alert labelled `action: rollback` or `action: ticket` (gate/runtime/alerts.py) is turned into a
`repository_dispatch` (event type EVENT_TYPE) to the gated repository, whose
`mismatch-automation.yml` (gate/github/automation.py) rolls back, opens the issue and the incident, or the
ticket.

Why one stdlib-only module (tools/alert_relay.py) for both homes: the cluster's Alertmanager and the
AWS side (CloudWatch alarms and Amazon Managed Prometheus, through SNS) must act the same way, and a
file with no dependencies runs from a ConfigMap in a stock Python image and as a zipped Lambda
handler alike: nothing to build, scan or keep in step but one file, which this project tests.

In the cluster (`manifests`): a namespace of its own with Pod Security `restricted`, the default-deny
NetworkPolicies of gate/runtime/network.py plus exactly two allows (from Alertmanager's pods; to GitHub's
API on 443), the code in a ConfigMap, a Deployment that reads the token from a Secret mounted as a
file (filled from a Pulumi secret, gate/components/kubernetes.py), and a Service Alertmanager posts to.
"""

from __future__ import annotations

import hashlib

from gate.bundled import tool_source
from gate.policy.model import GatePolicy
from gate.runtime import network
from gate.runtime.kube import MANAGED_BY, Manifest, app_namespace, restricted_security_context

EVENT_TYPE = "delivery-gate-alert"  # tools/alert_relay.py's default, and the workflow's trigger
ACTIONS = ("rollback", "ticket")  # gate/runtime/alerts.py's ROLLBACK and TICKET
SOURCE_PATH = "tools/alert_relay.py"
MODULE = "alert_relay"  # the Lambda handler is alert_relay.lambda_handler

NAME = "alert-relay"
PORT = 8080
WEBHOOK_PATH = "/alertmanager"
# The Alertmanager receiver (gate/runtime/alerts.py) and the SNS topic's role (gate/aws/foundation.py).
RECEIVER = "relay"
CODE_DIR = "/opt/relay"
TOKEN_DIR = "/var/run/secrets/relay"
NOBODY = 65534
SOURCE_ANNOTATION = "delivery-gate.io/relay-source-sha256"
COMPONENT_LABEL = "app.kubernetes.io/component"
NAME_LABEL = network.NAME_LABEL

RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}


def source() -> str:
    """tools/alert_relay.py, as the ConfigMap and the Lambda package carry it."""
    return tool_source(SOURCE_PATH)


def source_sha256() -> str:
    return hashlib.sha256(source().encode()).hexdigest()


def enabled(policy: GatePolicy) -> bool:
    """Environment stacks declare the relay; a pull request's disposable stack has no alerts."""
    return policy.ephemeral is None and policy.monitoring.relay.enabled


def namespace(policy: GatePolicy) -> str:
    return policy.monitoring.relay.namespace


def webhook_url(policy: GatePolicy) -> str:
    """Where Alertmanager posts (the Service's cluster DNS name)."""
    return f"http://{NAME}.{namespace(policy)}.svc:{PORT}{WEBHOOK_PATH}"


def labels() -> dict[str, str]:
    return {NAME_LABEL: NAME, COMPONENT_LABEL: "alert-relay", **MANAGED_BY}


def relay_environment(policy: GatePolicy) -> dict[str, str]:
    """What tools/alert_relay.py reads, the token's location aside: the same in both homes."""
    return {
        "GITHUB_REPOSITORY": policy.relay_repository.full_name,
        "RELAY_EVENT_TYPE": EVENT_TYPE,
        # Alerts of another environment are skipped (one Alertmanager may serve several).
        "RELAY_ENVIRONMENT": policy.environment,
        "RELAY_NAMESPACE": app_namespace(policy),
    }


def token_secret(policy: GatePolicy) -> Manifest:
    """The Secret the relay reads its GitHub token from, without data: a Pulumi secret fills it in
    the component (delivery-gate:relayGithubToken), or it is managed elsewhere."""
    ref = policy.monitoring.relay.token_secret
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": ref.name, "namespace": namespace(policy), "labels": labels()},
        "type": "Opaque",
    }


def _namespace(policy: GatePolicy) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace(policy),
            "labels": {
                **labels(),
                "delivery-gate.io/environment": policy.environment,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def _code(policy: GatePolicy) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{NAME}-code", "namespace": namespace(policy), "labels": labels()},
        "data": {f"{MODULE}.py": source()},
    }


def _deployment(policy: GatePolicy) -> Manifest:
    relay = policy.monitoring.relay
    env = {
        **relay_environment(policy),
        "GITHUB_TOKEN_FILE": f"{TOKEN_DIR}/{relay.token_secret.key}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace(policy), "labels": labels()},
        "spec": {
            # Two, so an eviction or a node drain never leaves Alertmanager without a receiver
            # (it retries a failed webhook, but not forever).
            "replicas": 2,
            "selector": {"matchLabels": {NAME_LABEL: NAME}},
            "template": {
                "metadata": {
                    "labels": labels(),
                    # A new relay version rolls the pods (a ConfigMap change alone would not).
                    "annotations": {SOURCE_ANNOTATION: source_sha256()},
                },
                "spec": {
                    "automountServiceAccountToken": False,  # it never talks to the API server
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": NOBODY,
                        "runAsGroup": NOBODY,
                        "fsGroup": NOBODY,  # reads the token file (mode 0440, group nobody)
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "relay",
                            "image": relay.image,
                            "command": [
                                "python",
                                "-I",
                                f"{CODE_DIR}/{MODULE}.py",
                                "serve",
                                "--port",
                                str(PORT),
                            ],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "readinessProbe": probe,
                            "livenessProbe": {**probe, "failureThreshold": 3},
                            "resources": {kind: dict(values) for kind, values in RESOURCES.items()},
                            "securityContext": restricted_security_context(),
                            "volumeMounts": [
                                {"name": "code", "mountPath": CODE_DIR, "readOnly": True},
                                {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "code", "configMap": {"name": f"{NAME}-code", "defaultMode": 0o444}},
                        {
                            "name": "token",
                            "secret": {
                                "secretName": relay.token_secret.name,
                                "items": [{"key": relay.token_secret.key, "path": relay.token_secret.key}],
                                "defaultMode": 0o440,
                            },
                        },
                    ],
                },
            },
        },
    }


def _service(policy: GatePolicy) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": namespace(policy), "labels": labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": {NAME_LABEL: NAME},
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def manifests(policy: GatePolicy) -> list[Manifest]:
    """The relay's namespace first, then everything in it (the token Secret apart: token_secret)."""
    relay = policy.monitoring.relay
    policies = network.relay_policies(
        namespace(policy),
        app=NAME,
        port=PORT,
        monitoring_namespace=policy.monitoring.namespace,
        api_cidrs=relay.github_api_cidrs,
    )
    return [_namespace(policy), *policies, _code(policy), _deployment(policy), _service(policy)]


# -- Amazon Managed Prometheus: the relay receiver's SNS message ----------------------------------


def _json_string(expression: str) -> str:
    """A Go-template expression rendered as the inside of a JSON string: backslashes and quotes
    escaped, control characters made spaces (Alertmanager 0.25 templates have no toJson)."""
    return f'{{{{ {expression} | reReplaceAll `([\\\\"])` `\\$1` | reReplaceAll `[\\x00-\\x1f]` ` ` }}}}'


def _members(pairs: dict[str, str]) -> str:
    return ",".join(f'"{key}":"{_json_string(value)}"' for key, value in pairs.items())


# Alertmanager sends an SNS receiver's `message` as the SNS message text. The relay receiver's is
# the webhook's JSON, reduced to what tools/alert_relay.py reads, so the Lambda parses it with the
# webhook's parser (tests render it with `amtool template render` and feed the result to it).
SNS_MESSAGE = (
    '{"version":"4","source":"alertmanager","status":"'
    + _json_string(".Status")
    + '","alerts":[{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}{"status":"'
    + _json_string("$a.Status")
    + '","fingerprint":"'
    + _json_string("$a.Fingerprint")
    + '","labels":{'
    + _members(
        {key: f"$a.Labels.{key}" for key in ("alertname", "environment", "namespace", "action", "severity")}
    )
    + '},"annotations":{'
    + _members({key: f"$a.Annotations.{key}" for key in ("summary", "runbook_url")})
    + "}}{{ end }}]}"
)
SNS_SUBJECT = "delivery-gate alert relay"
