"""The manifests of kinds pulumi-kubernetes has a class for are registered without importing the
class (gate/components/kubernetes.py), and the engine receives what the class sends, byte for byte."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from gate.components import kubernetes, provider_defaults
from tests.support.wire import registered_requests, without_name

# One manifest per kind: metadata with labels and annotations, nested camelCase fields, lists of
# objects, and values that look like the provider's own Python names.
METADATA = {"name": "x", "namespace": "gate", "labels": {"app.kubernetes.io/name": "x", "team_name": "a"}}
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("v1", "Namespace"): {"metadata": {**METADATA, "annotations": {"a": "b"}}},
    ("v1", "ResourceQuota"): {"spec": {"hard": {"limits.cpu": "4", "pods": "10"}}},
    ("v1", "LimitRange"): {
        "spec": {
            "limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "1"}}]
        }
    },
    ("v1", "ServiceAccount"): {"automountServiceAccountToken": False},
    ("v1", "ConfigMap"): {"data": {"flags.json": '{"flags": {}}', "api_version": "x"}, "immutable": True},
    ("v1", "Secret"): {
        "type": "Opaque",
        "stringData": {"url": "https://hooks.example/x"},
        "data": {"k": "dg=="},
    },
    ("v1", "Service"): {
        "spec": {"selector": {"app": "x"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    },
    ("apps/v1", "Deployment"): {
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True},
                    "containers": [
                        {
                            "name": "relay",
                            "image": "ghcr.io/acme/relay@sha256:" + "0" * 64,
                            "env": [
                                {
                                    "name": "GITHUB_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}},
                                }
                            ],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                        }
                    ],
                },
            },
        }
    },
    ("networking.k8s.io/v1", "NetworkPolicy"): {
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}}}]}
            ],
        }
    },
    ("rbac.authorization.k8s.io/v1", "Role"): {
        "rules": [{"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get", "patch"]}]
    },
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "Group", "name": "pr", "apiGroup": "rbac.authorization.k8s.io"}],
    },
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}]
    },
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pr-access"},
        "subjects": [{"kind": "Group", "name": "pr", "apiGroup": "rbac.authorization.k8s.io"}],
    },
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): {
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["namespaces"],
                    }
                ]
            },
            "validations": [{"expression": "object.metadata.name.startsWith('pr-')", "message": "PR only"}],
        }
    },
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): {
        "spec": {"policyName": "pr-only", "validationActions": ["Deny"]}
    },
}

PROGRAM = """
import json
import re

import pulumi
import pulumi_kubernetes as k8s
from gate.components.kubernetes import declare_manifest


class Holder(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:index:Holder", name, None, opts)


provider = k8s.Provider("cluster", opts=pulumi.ResourceOptions())
holder = Holder("holder", pulumi.ResourceOptions(providers={"kubernetes": provider}))
first = declare_manifest(
    "first", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gate"}}, parent=holder
)


def typed(name, manifest, depends_on, protect):
    # What the component did before: the kind's class, the manifest's keys as its Python names.
    group, _, version = manifest["apiVersion"].rpartition("/")
    module = getattr(getattr(k8s, group.split(".", maxsplit=1)[0] or "core"), version)
    cls = getattr(module, manifest["kind"])
    kwargs = {
        re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v
        for k, v in manifest.items()
        if k not in ("apiVersion", "kind")
    }
    opts = pulumi.ResourceOptions(
        parent=holder, delete_before_replace=True, depends_on=depends_on, protect=protect
    )
    return cls(name, **kwargs, opts=opts)
"""


def _manifest(api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": METADATA, **SAMPLES[(api_version, kind)]}


def test_every_kind_is_sampled() -> None:
    assert set(SAMPLES) == set(kubernetes._KINDS)


def test_each_kind_is_registered_as_its_class_registers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # declare_manifest names a resource after its kind and physical name: one run per case.
    cases = [
        (api_version, kind, protect) for api_version, kind in sorted(SAMPLES) for protect in (False, True)
    ]
    for api_version, kind, protect in cases:
        depends = "[first]" if protect else "[]"
        manifest = json.dumps(_manifest(api_version, kind))
        program = (
            PROGRAM
            + f"\ntyped('typed', json.loads({manifest!r}), {depends}, {protect})\n"
            + f"declare_manifest('lean', json.loads({manifest!r}), parent=holder, depends_on={depends},"
            + f" protect={protect})\n"
        )
        requests = registered_requests(tmp_path, monkeypatch, program)
        lean = requests[f"lean-{kind.lower()}-x"]
        assert lean.type == kubernetes.type_token(api_version, kind), kind
        assert lean.version, kind  # the provider SDK's version: the plugin `pulumi up` downloads
        assert without_name(lean) == without_name(requests["typed"]), (kind, requests["typed"], lean)


def test_the_comparison_sees_aliases_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without its aliases a Deployment's request differs from its class's; so does a Secret's
    # whose contents are not made secret.
    deployment = json.dumps(_manifest("apps/v1", "Deployment"))
    secret = json.dumps(_manifest("v1", "Secret"))
    source = (
        PROGRAM
        + f"typed('typed-d', json.loads({deployment!r}), [], False)\n"
        + f"typed('typed-s', json.loads({secret!r}), [], False)\n"
        + "from gate.components import kubernetes\n"
        + "kubernetes._KINDS[('apps/v1', 'Deployment')] = ()\n"
        + "kubernetes._SECRET_PROPERTIES = ()\n"
        + f"declare_manifest('lean', json.loads({deployment!r}), parent=holder)\n"
        + f"declare_manifest('lean', json.loads({secret!r}), parent=holder)\n"
    )
    saved = dict(kubernetes._KINDS)
    try:
        requests = registered_requests(tmp_path, monkeypatch, source)
    finally:
        kubernetes._KINDS.clear()
        kubernetes._KINDS.update(saved)
        kubernetes._SECRET_PROPERTIES = ("data", "stringData")
    assert without_name(requests["lean-deployment-x"]) != without_name(requests["typed-d"])
    assert without_name(requests["lean-secret-x"]) != without_name(requests["typed-s"])


@pytest.mark.parametrize(("api_version", "kind"), sorted(kubernetes._KINDS))
def test_each_kind_has_a_class_of_that_token_and_those_aliases(api_version: str, kind: str) -> None:
    group, _, version = api_version.rpartition("/")
    module = getattr(getattr(k8s, group.split(".", maxsplit=1)[0] or "core"), version)
    cls = getattr(module, kind)
    assert issubclass(cls, pulumi.CustomResource)
    source = Path(sys.modules[cls.__module__].__file__ or "").read_text(encoding="utf-8")
    assert f"'{kubernetes.type_token(api_version, kind)}'," in source
    aliases = re.findall(r'pulumi\.Alias\(type_="kubernetes:([^"]+):' + kind + '"\\)', source)
    assert tuple(aliases) == kubernetes._KINDS[(api_version, kind)]


def test_another_kind_is_a_custom_resource() -> None:
    assert kubernetes.type_token("argoproj.io/v1alpha1", "Rollout") is None
    assert kubernetes.type_token("v1", "Pod") is None


CUSTOM_RESOURCES = [
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": METADATA,
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "5m"}}]}}},
    },
    {
        "apiVersion": "core.openfeature.dev/v1beta1",
        "kind": "FeatureFlag",
        "metadata": {"name": "flags", "namespace": "gate"},
        "spec": {"flagSpec": {"flags": {"new_checkout": {"state": "ENABLED", "defaultVariant": "off"}}}},
    },
]


@pytest.mark.parametrize("protect", [False, True])
@pytest.mark.parametrize("manifest", CUSTOM_RESOURCES, ids=lambda m: m["kind"])
def test_a_crds_kind_is_registered_as_apiextensions_custom_resource_registers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: dict[str, Any], protect: bool
) -> None:
    depends = "[first]" if protect else "[]"
    text = json.dumps(manifest)
    program = (
        PROGRAM
        + f"manifest = json.loads({text!r})\n"
        + "k8s.apiextensions.CustomResource('typed', api_version=manifest['apiVersion'],"
        + " kind=manifest['kind'], metadata=manifest['metadata'], spec=manifest['spec'],"
        + f" opts=pulumi.ResourceOptions(parent=holder, delete_before_replace=True, depends_on={depends},"
        + f" protect={protect}))\n"
        + f"declare_manifest('lean', manifest, parent=holder, depends_on={depends}, protect={protect})\n"
    )
    requests = registered_requests(tmp_path, monkeypatch, program)
    lean = requests[f"lean-{manifest['kind'].lower()}-{manifest['metadata']['name']}"]
    assert lean.type == f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}"
    assert without_name(lean) == without_name(requests["typed"]), (requests["typed"], lean)


def test_the_version_and_plugin_url_are_the_sdks() -> None:
    from pulumi_kubernetes import _utilities  # noqa: PLC0415 - the reference

    defaults = _utilities.get_resource_opts_defaults()
    ours = provider_defaults.resource_defaults(kubernetes._PACKAGE)
    assert (ours.version, ours.plugin_download_url) == (defaults.version, defaults.plugin_download_url)


def test_importing_and_declaring_imports_no_kubernetes_sdk_module(tmp_path: Path) -> None:
    # Issue 14: a one-repository plan is mostly imports; declaring a manifest of every kind, a CRD's
    # included, imports no module of pulumi-kubernetes (a kind's class module imports its API group's
    # input and output types; the package's `_utilities` a version parser).
    manifests = [_manifest(*key) for key in sorted(SAMPLES)] + CUSTOM_RESOURCES
    program = tmp_path / "__main__.py"
    program.write_text(
        "import json, sys\n"
        "import pulumi\n"
        "from gate.components.kubernetes import declare_manifest\n"
        "holder = pulumi.ComponentResource('demo:index:Holder', 'holder')\n"
        f"for manifest in json.loads({json.dumps(manifests)!r}):\n"
        "    declare_manifest('m', manifest, parent=holder)\n"
        "pulumi.export('loaded', sorted(m for m in sys.modules if m.startswith('pulumi_kubernetes')))\n",
        encoding="utf-8",
    )
    code = (
        "import sys\nfrom pathlib import Path\nfrom gate.offline.engine import run_program\n"
        f"recording = run_program(Path({str(program)!r}), project='demo', stack='test', config={{}})\n"
        "print(len(recording.resources), recording.outputs['loaded'])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == f"{len(manifests) + 1} []"  # the holder besides
