"""Ephemeral per-PR staging: planned from stacks/ephemeral.yaml, valid Kubernetes, locked down, labelled."""

from __future__ import annotations

import functools
from typing import Any

import kubernetes_validate
import pytest

from gate import cli, ephemeral
from gate.loader import load_policy
from gate.plan import build_plan
from tests.conftest import ROOT, ProjectFactory
from tests.support.stacks import stack_plan

NOW = "2026-11-22T10:00:00Z"
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", NOW)


@functools.cache
def plan_pr(number: int) -> dict[str, Any]:
    return build_plan(ROOT, f"pr-{number}")


def resources(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"].endswith(f":{kind}")]


def pr_policy(**extra: Any) -> Any:
    values = {
        "environment": "staging",
        "repositories": [{"name": "aos"}],
        "ephemeral": {"pullRequest": 42, "repository": "aos", "createdAt": NOW},
        "application": {"image": "ghcr.io/acme/aos:pr-42"},
        **extra,
    }
    return load_policy(values, stack="pr-42", github_owner="acme")


def test_pr_stacks_plan_from_the_template_without_a_stack_file() -> None:
    assert not (ROOT / "stacks" / "Pulumi.pr-42.yaml").exists()
    plan = plan_pr(42)
    assert plan["stack"] == "pr-42"
    assert plan["outputs"]["namespace"] == "aos-pr-42"
    assert plan["outputs"]["expiresAt"] == "2026-11-25T10:00:00Z"  # createdAt + 72h
    assert not [r for r in plan["resources"] if r["type"].startswith(("github:", "pulumi:providers:github"))]
    (deployment,) = [r for r in resources(plan, "Deployment") if r["inputs"]["metadata"]["name"] == "aos"]
    assert (
        deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/aos:pr-42"
    )


def test_the_plan_of_a_pr_stack_is_deterministic() -> None:
    from gate.plan import render_plan  # noqa: PLC0415

    assert render_plan(build_plan(ROOT, "pr-7")) == render_plan(build_plan(ROOT, "pr-7"))


def test_named_kubernetes_objects_are_deleted_before_replacement() -> None:
    plan = plan_pr(42)
    k8s = [r for r in plan["resources"] if r["type"].startswith("kubernetes:")]
    assert len(k8s) >= 14
    assert all(r["options"]["deleteBeforeReplace"] is True for r in k8s)
    assert all(r["options"]["protect"] is False for r in k8s)


def test_only_the_ephemeral_namespace_carries_the_expiry_label() -> None:
    (namespace,) = resources(plan_pr(42), "Namespace")
    labels = namespace["inputs"]["metadata"]["labels"]
    assert labels[ephemeral.EXPIRES_LABEL] == "20261125T100000Z"
    assert labels[ephemeral.EPHEMERAL_LABEL] == "true"
    assert labels[ephemeral.PULL_REQUEST_LABEL] == "42"
    assert labels[ephemeral.REPOSITORY_LABEL] == "acme.aos"
    others = [r for r in plan_pr(42)["resources"] if r is not namespace]
    for plan in (*others, *(r for s in ("dev", "staging", "prod") for r in stack_plan(s)["resources"])):
        assert ephemeral.EXPIRES_LABEL not in str(plan["inputs"]), plan["urn"]


def test_pod_security_restricted_and_every_container_complies() -> None:
    (namespace,) = resources(plan_pr(42), "Namespace")
    labels = namespace["inputs"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for deployment in resources(plan_pr(42), "Deployment"):
        pod = deployment["inputs"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert "limits" in container["resources"]


def test_default_deny_with_explicit_allows() -> None:
    policies = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in resources(plan_pr(42), "NetworkPolicy")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-same-namespace",
        "allow-ingress-controller",
        "allow-monitoring",
    }
    dns = policies["allow-dns"]["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}
    ingress_from = policies["allow-ingress-controller"]["ingress"][0]["from"][0]
    assert ingress_from["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }


def test_the_ci_deployer_is_confined_to_its_namespace() -> None:
    plan = plan_pr(42)
    assert not [r for r in plan["resources"] if "ClusterRole" in r["type"]]
    (role,) = resources(plan, "Role")
    assert role["inputs"]["metadata"]["namespace"] == "aos-pr-42"
    verbs = {verb for rule in role["inputs"]["rules"] for verb in rule["verbs"]}
    assert "delete" not in verbs and "*" not in verbs
    (binding,) = resources(plan, "RoleBinding")
    assert binding["inputs"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "ci-deployer", "namespace": "aos-pr-42"}
    ]


def test_quota_and_limits_bound_the_namespace() -> None:
    (quota,) = resources(plan_pr(42), "ResourceQuota")
    hard = quota["inputs"]["spec"]["hard"]
    assert hard["pods"] == "30" and hard["services.loadbalancers"] == "0"
    (limits,) = resources(plan_pr(42), "LimitRange")
    assert limits["inputs"]["spec"]["limits"][0]["type"] == "Container"


@pytest.mark.parametrize("index", range(len(ephemeral.manifests(pr_policy()))))
def test_every_manifest_is_valid_kubernetes(index: int) -> None:
    manifest = ephemeral.manifests(pr_policy())[index]
    # strict: unknown fields are errors, as the API server's field validation makes them.
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_validation_can_fail() -> None:
    bad = {**ephemeral.namespace(pr_policy()), "spec": {"finalizers": "kubernetes"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_a_stack_file_for_another_pull_request_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "config:\n  github:owner: acme\n  delivery-gate:environment: staging\n"
        "  delivery-gate:repositories:\n    - name: aos\n"
        f"  delivery-gate:ephemeral: {{pullRequest: 8, repository: aos, createdAt: '{NOW}'}}\n"
    )
    project = make_project({"pr-7": text})
    code = cli.main(
        ["plan", "--stack", "pr-7", "--project-dir", str(project), "--out", str(project / "build")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "delivery-gate:ephemeral.pullRequest: got 8" in err and "allowed: 7" in err


def test_an_ephemeral_stack_never_owns_the_merge_gate() -> None:
    policy = pr_policy(mergeGate={"ownerEnvironment": "staging"})
    assert not policy.owns_merge_gate and not policy.is_production


def test_the_flag_configuration_is_mounted_for_the_application() -> None:
    (configmap,) = resources(plan_pr(42), "ConfigMap")
    assert set(configmap["inputs"]["data"]) == {"flags.flagd.json"}
    (app,) = [r for r in resources(plan_pr(42), "Deployment") if r["inputs"]["metadata"]["name"] == "aos"]
    pod = app["inputs"]["spec"]["template"]["spec"]
    assert {"name": "flags", "configMap": {"name": "feature-flags"}} in pod["volumes"]
