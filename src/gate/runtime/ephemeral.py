"""The disposable per-PR staging environment as Kubernetes manifests: pure, from the policy.

M9 §Required CI checks 4: the e2e parity check runs "against a disposable staging environment".
Everything lives in one namespace named after the pull request; only that namespace carries the
expiry label the janitor reads (`python -m gate ephemeral reap`), so nothing else can be reaped.
"""

from __future__ import annotations

from typing import Any

from gate.clock import iso
from gate.policy.model import Ephemeral, GatePolicy
from gate.policy.prnames import PR_NUMBER, kubernetes_group, repository_slug
from gate.runtime import network
from gate.runtime.kube import MANAGED_BY, Manifest, app_namespace, restricted_security_context

EPHEMERAL_LABEL = "delivery-gate.io/ephemeral"
EXPIRES_LABEL = "delivery-gate.io/expires-at"
REPOSITORY_LABEL = "delivery-gate.io/repository"
PULL_REQUEST_LABEL = "delivery-gate.io/pull-request"
DEPLOYER = "ci-deployer"
REDIS = "redis"


def namespace_name(policy: GatePolicy) -> str:
    _ephemeral(policy)
    return app_namespace(policy)


def expires_label(ephemeral: Ephemeral) -> str:
    # Label values cannot hold ':'; a compact UTC form that still sorts and parses.
    return iso(ephemeral.expires_at).replace("-", "").replace(":", "")


def _ephemeral(policy: GatePolicy) -> Ephemeral:
    if policy.ephemeral is None:
        raise ValueError("not an ephemeral stack")
    return policy.ephemeral


def _meta(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **labels}}


def namespace(policy: GatePolicy) -> Manifest:
    ephemeral = _ephemeral(policy)
    owner = policy.repositories[0].owner or ""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(policy),
            "labels": {
                **MANAGED_BY,
                EPHEMERAL_LABEL: "true",
                REPOSITORY_LABEL: f"{owner}.{ephemeral.repository}"[:63],
                PULL_REQUEST_LABEL: str(ephemeral.pull_request),
                EXPIRES_LABEL: expires_label(ephemeral),
                # Pod Security Admission: only pods meeting the `restricted` profile are admitted.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
            "annotations": {"delivery-gate.io/expires-at": iso(ephemeral.expires_at)},
        },
    }


def quota(policy: GatePolicy, ns: str) -> list[Manifest]:
    q = _ephemeral(policy).quota
    return [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta("quota", ns),
            "spec": {
                "hard": {
                    "requests.cpu": q.cpu,
                    "limits.cpu": q.cpu,
                    "requests.memory": q.memory,
                    "limits.memory": q.memory,
                    "pods": str(q.pods),
                    # Disposable: nothing that outlives the namespace or is reachable from outside.
                    "persistentvolumeclaims": "0",
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            },
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": _meta("limits", ns),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "max": {"cpu": "2", "memory": "2Gi"},
                    }
                ]
            },
        },
    ]


def network_policies(policy: GatePolicy, ns: str) -> list[Manifest]:
    """Default deny with the allows every application namespace gets (gate/runtime/network.py), and no
    egress outside the cluster: a pull request's code is not reviewed yet (it could exfiltrate),
    and the parity check runs against the namespace alone."""
    app = policy.application
    return network.network_policies(
        ns,
        app=app.name,
        app_port=app.port,
        ingress_namespace=_ephemeral(policy).ingress_namespace,
        monitoring_namespace=policy.monitoring.namespace,
    )


def deployer_rbac(ns: str) -> list[Manifest]:
    """A ServiceAccount for the CI deployer, allowed only in this namespace (a Role, no ClusterRole)."""
    rules = [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        },
        {
            "apiGroups": [""],
            "resources": ["services", "configmaps"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        },
        {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(DEPLOYER, ns),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(DEPLOYER, ns),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(DEPLOYER, ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DEPLOYER},
            "subjects": [{"kind": "ServiceAccount", "name": DEPLOYER, "namespace": ns}],
        },
    ]


def _deployment(
    name: str, ns: str, container: dict[str, Any], *, replicas: int, volumes: list[Any]
) -> Manifest:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, **labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": {**MANAGED_BY, **labels}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{**container, "securityContext": restricted_security_context()}],
                    "volumes": volumes,
                },
            },
        },
    }


def _service(name: str, ns: str, port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns, **{"app.kubernetes.io/name": name}),
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http" if name != REDIS else "redis", "port": port, "targetPort": port}],
        },
    }


def workloads(policy: GatePolicy, ns: str, flags_configmap: str | None) -> list[Manifest]:
    """The application under test (image from config), its Service, and Redis for rate limiting."""
    app, ephemeral = policy.application, _ephemeral(policy)
    probe = {"httpGet": {"path": app.health_path, "port": app.port}, "periodSeconds": 10}
    env = [{"name": "REDIS_URL", "value": f"redis://{REDIS}:6379"}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if flags_configmap:
        mounts.append({"name": "flags", "mountPath": "/etc/flagd", "readOnly": True})
        volumes.append({"name": "flags", "configMap": {"name": flags_configmap}})
        env.append({"name": "FLAGD_OFFLINE_FLAG_SOURCE_PATH", "value": "/etc/flagd/flags.flagd.json"})
    app_container = {
        "name": app.name,
        "image": app.image or f"{app.name}:unset",
        "ports": [{"name": "http", "containerPort": app.port}],
        "env": env,
        "readinessProbe": probe,
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "volumeMounts": mounts,
    }
    redis_container = {
        "name": REDIS,
        "image": ephemeral.redis_image,
        "args": ["--save", "", "--appendonly", "no"],  # disposable: no persistence
        "ports": [{"name": "redis", "containerPort": 6379}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "250m", "memory": "256Mi"},
        },
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    redis = _deployment(REDIS, ns, redis_container, replicas=1, volumes=[{"name": "data", "emptyDir": {}}])
    # The redis image runs as uid 999; restricted needs a non-root uid stated when the image's is numeric.
    redis["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 999
    return [
        _deployment(app.name, ns, app_container, replicas=1, volumes=volumes),
        _service(app.name, ns, app.port),
        redis,
        _service(REDIS, ns, 6379),
    ]


def flags_configmap(policy: GatePolicy, ns: str, data: dict[str, str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("feature-flags", ns), "data": data}


def manifests(policy: GatePolicy, flag_data: dict[str, str] | None = None) -> list[Manifest]:
    """Everything the ephemeral stack declares, namespace first."""
    ns = namespace_name(policy)
    flag_manifests = [flags_configmap(policy, ns, flag_data)] if flag_data is not None else []
    return [
        namespace(policy),
        *quota(policy, ns),
        *network_policies(policy, ns),
        *deployer_rbac(ns),
        *flag_manifests,
        *workloads(policy, ns, "feature-flags" if flag_manifests else None),
    ]


# -- what the stack hosting the pull requests declares in its cluster ---------------------------

PR_ACCESS = "delivery-gate-pr-environments"
POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce"
# What a PR namespace, and only that, may hold beyond the namespace-scoped access policy: the
# namespace object itself (cluster-scoped) and its quota and limits (read-only in EKS's admin-like
# access policies, as in Kubernetes' `admin` role).
_GUARDED = ("namespaces", "resourcequotas", "limitranges")


def pull_request_access(policy: GatePolicy) -> list[Manifest]:
    """The cluster side of the pull-request roles (gate/aws/foundation.py): each role's access entry maps it
    to
    the Kubernetes group `delivery-gate-pr-<slug>`. RBAC cannot scope `create namespaces` to a name,
    so a ClusterRole grants the groups the namespace, quota and limit verbs, and a
    ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30+) denies every such
    write of theirs outside their own repository's `<slug>-pr-<N>` namespaces, and any PR namespace
    without the janitor's labels or with a Pod Security level other than `restricted` (a role that
    could relabel its namespace `privileged` could reach the node)."""
    groups = [kubernetes_group(repo.name) for repo in policy.repositories]
    verbs = ["get", "create", "update", "patch", "delete"]
    target = "(request.resource.resource == 'namespaces' ? request.name : request.namespace)"
    own = " || ".join(
        f"('{kubernetes_group(repo.name)}' in request.userInfo.groups && "
        f"{target}.matches('^{repository_slug(repo.name)}-pr-{PR_NUMBER}$'))"
        for repo in policy.repositories
    )
    labels = "object.metadata.labels"
    labelled = (
        "request.resource.resource != 'namespaces' || request.operation == 'DELETE' || "
        f"(has(object.metadata.labels) && '{EPHEMERAL_LABEL}' in {labels} && "
        f"{labels}['{EPHEMERAL_LABEL}'] == 'true' && '{EXPIRES_LABEL}' in {labels} && "
        f"'{POD_SECURITY_LABEL}' in {labels} && {labels}['{POD_SECURITY_LABEL}'] == 'restricted')"
    )
    group_list = ", ".join(f"'{group}'" for group in groups)
    metadata = {"name": PR_ACCESS, "labels": dict(MANAGED_BY)}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata,
            "rules": [
                {"apiGroups": [""], "resources": list(_GUARDED), "verbs": verbs},
                # Pulumi awaits a namespace's deletion by watching it: names and labels only.
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PR_ACCESS},
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group} for group in groups
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": metadata,
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE", "DELETE"],
                            "resources": list(_GUARDED),
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "pull-request-roles",
                        "expression": (
                            "has(request.userInfo.groups) && "
                            f"request.userInfo.groups.exists(g, g in [{group_list}])"
                        ),
                    }
                ],
                "validations": [
                    {
                        "expression": own,
                        "message": (
                            "a pull-request role changes only its own repository's PR namespaces "
                            "(<repo>-pr-<N>) and their quotas and limits"
                        ),
                    },
                    {
                        "expression": labelled,
                        "message": (
                            f"a PR namespace carries {EPHEMERAL_LABEL}=true, {EXPIRES_LABEL} and "
                            f"{POD_SECURITY_LABEL}=restricted"
                        ),
                    },
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": metadata,
            "spec": {"policyName": PR_ACCESS, "validationActions": ["Deny"]},
        },
    ]
