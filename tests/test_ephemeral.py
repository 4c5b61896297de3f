"""Ephemeral per-PR staging: planned from its repository's template, valid Kubernetes, locked down,
labelled; and what the stack hosting the pull requests declares in its cluster for them."""

from __future__ import annotations

import functools
from typing import Any

import kubernetes_validate
import pytest

from gate.cli import main as cli
from gate.offline.plan import build_plan
from gate.policy import prnames
from gate.policy.loader import load_policy
from gate.runtime import ephemeral
from tests.conftest import ProjectFactory
from tests.support.stacks import PROJECT, names, stack_plan

NOW = "2026-11-22T10:00:00Z"
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", NOW)


def pr_stack(number: int) -> str:
    """The PR stack of the project's own repository (pr-aos-<N> for the shipped example)."""
    return prnames.pr_stack(names().repository, number)


def pr_namespace(number: int) -> str:
    """Its namespace, named after the repository (aos-pr-<N> for the shipped example)."""
    return prnames.pr_namespace(names().repository, number)


@functools.cache
def plan_pr(number: int) -> dict[str, Any]:
    return build_plan(PROJECT, pr_stack(number))


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
    return load_policy(values, stack="pr-aos-42", github_owner="acme")


def test_pr_stacks_plan_from_the_template_without_a_stack_file() -> None:
    assert not (PROJECT / "stacks" / f"Pulumi.{pr_stack(42)}.yaml").exists()
    plan = plan_pr(42)
    assert plan["stack"] == pr_stack(42)
    assert plan["outputs"]["namespace"] == pr_namespace(42)
    assert plan["outputs"]["repository"] == names().full_name  # what the janitor of one repository checks
    assert plan["outputs"]["expiresAt"] == "2026-11-25T10:00:00Z"  # createdAt + 72h
    assert not [r for r in plan["resources"] if r["type"].startswith(("github:", "pulumi:providers:github"))]
    (deployment,) = [
        r for r in resources(plan, "Deployment") if r["inputs"]["metadata"]["name"] == names().application
    ]
    image = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/{names().full_name}:pr-42"  # the template's image, for pull request 42


def test_the_plan_of_a_pr_stack_is_deterministic() -> None:
    from gate.offline.plan import render_plan  # noqa: PLC0415

    assert render_plan(build_plan(PROJECT, pr_stack(7))) == render_plan(build_plan(PROJECT, pr_stack(7)))


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
    assert labels[ephemeral.REPOSITORY_LABEL] == f"{names().owner}.{names().repository}"
    others = [r for r in plan_pr(42)["resources"] if r is not namespace]
    for plan in (*others, *(r for s in ("dev", "staging", "prod") for r in stack_plan(s)["resources"])):
        if plan["type"].endswith(":ValidatingAdmissionPolicy"):
            continue  # which requires the label on a PR namespace (pull_request_access, below)
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
    assert role["inputs"]["metadata"]["namespace"] == pr_namespace(42)
    verbs = {verb for rule in role["inputs"]["rules"] for verb in rule["verbs"]}
    assert "delete" not in verbs and "*" not in verbs
    (binding,) = resources(plan, "RoleBinding")
    assert binding["inputs"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "ci-deployer", "namespace": pr_namespace(42)}
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
    project = make_project({"pr-aos-7": text})
    code = cli.main(
        ["plan", "--stack", "pr-aos-7", "--project-dir", str(project), "--out", str(project / "build")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "- delivery-gate:ephemeral: got 'pullRequest 8 of aos'; makes stack 'pr-aos-8', not 'pr-aos-7'"
    ) in err


def test_an_ephemeral_stack_never_owns_the_merge_gate() -> None:
    policy = pr_policy(mergeGate={"ownerEnvironment": "staging"})
    assert not policy.owns_merge_gate and not policy.is_production


def test_the_flag_configuration_is_mounted_for_the_application() -> None:
    (configmap,) = resources(plan_pr(42), "ConfigMap")
    assert set(configmap["inputs"]["data"]) == {"flags.flagd.json"}
    (app,) = [
        r
        for r in resources(plan_pr(42), "Deployment")
        if r["inputs"]["metadata"]["name"] == names().application
    ]
    pod = app["inputs"]["spec"]["template"]["spec"]
    assert {"name": "flags", "configMap": {"name": "feature-flags"}} in pod["volumes"]


# -- the cluster side of the pull-request roles (the stack hosting the pull requests) ------------

LOAD_BALANCER = {
    "loadBalancer": "app/aos-dev/0a1b2c3d4e5f6071",
    "targetGroup": "targetgroup/aos-dev/1a2b3c4d5e6f7081",
}


def hosting_policy() -> Any:
    values = {
        "environment": "dev",
        "repositories": [{"name": "aos"}, {"name": "Web.App"}],
        "aws": {"accountId": "123456789012", "eksClusterName": "aos-dev", "loadBalancer": LOAD_BALANCER},
    }
    return load_policy(values, stack="dev", github_owner="acme")


@pytest.mark.parametrize("index", range(4))
def test_the_pull_request_access_is_valid_kubernetes(index: int) -> None:
    kubernetes_validate.validate(
        ephemeral.pull_request_access(hosting_policy())[index], KUBERNETES_VERSION, strict=True
    )


def test_the_pull_request_groups_get_namespaces_quotas_and_limits_only() -> None:
    role, binding, admission, admission_binding = ephemeral.pull_request_access(hosting_policy())
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces", "resourcequotas", "limitranges"],
            "verbs": ["get", "create", "update", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    ]
    assert [s["name"] for s in binding["subjects"]] == [
        "delivery-gate-pr-aos",
        "delivery-gate-pr-web-app-3bbc5f",
    ]
    # ... and the admission policy narrows that grant to each repository's own PR namespaces.
    rules = admission["spec"]["matchConstraints"]["resourceRules"]
    assert rules[0]["resources"] == role["rules"][0]["resources"]
    assert set(rules[0]["operations"]) == {"CREATE", "UPDATE", "DELETE"}
    own = admission["spec"]["validations"][0]["expression"]
    assert "'delivery-gate-pr-aos' in request.userInfo.groups" in own
    assert ".matches('^aos-pr-[1-9][0-9]{0,8}$')" in own
    assert ".matches('^web-app-3bbc5f-pr-[1-9][0-9]{0,8}$')" in own
    assert admission["spec"]["failurePolicy"] == "Fail"
    assert admission_binding["spec"] == {
        "policyName": admission["metadata"]["name"],
        "validationActions": ["Deny"],
    }


def test_the_dev_stack_declares_the_pull_request_access_before_the_grant() -> None:
    plan = stack_plan("dev")
    kinds = {
        r["type"].rsplit(":", 1)[1]: r
        for r in plan["resources"]
        if "PullRequestAccess" in r.get("parent", "")
    }
    assert set(kinds) == {
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    guards = {kinds["ValidatingAdmissionPolicy"]["urn"], kinds["ValidatingAdmissionPolicyBinding"]["urn"]}
    assert guards <= set(kinds["ClusterRoleBinding"]["options"]["dependsOn"])
    assert plan["outputs"]["pullRequestAdmissionPolicy"] == "delivery-gate-pr-environments"
    assert not [r for r in stack_plan("staging")["resources"] if "PullRequestAccess" in r["type"]]


# What the admission policy lets each pull-request role do, evaluated with cel-python where it is
# installed (Kubernetes evaluates the same CEL; the expressions use only standard CEL).
RESTRICTED = {
    "delivery-gate.io/ephemeral": "true",
    "delivery-gate.io/expires-at": "20261125T100000Z",
    "pod-security.kubernetes.io/enforce": "restricted",
}
ADMISSION = [
    ("aos creates its PR namespace", "aos", "namespaces", "CREATE", "aos-pr-7", "", RESTRICTED, True),
    ("aos deletes its PR namespace", "aos", "namespaces", "DELETE", "aos-pr-7", "", None, True),
    ("aos sets its PR namespace's quota", "aos", "resourcequotas", "CREATE", "quota", "aos-pr-7", None, True),
    ("aos creates Web.App's", "aos", "namespaces", "CREATE", "web-app-3bbc5f-pr-7", "", RESTRICTED, False),
    ("aos deletes kube-system", "aos", "namespaces", "DELETE", "kube-system", "", None, False),
    ("aos deletes the dev namespace", "aos", "namespaces", "DELETE", "aos", "", None, False),
    ("aos lifts dev's quota", "aos", "resourcequotas", "DELETE", "quota", "aos", None, False),
    (
        "aos relabels its namespace privileged",
        "aos",
        "namespaces",
        "UPDATE",
        "aos-pr-7",
        "",
        {**RESTRICTED, "pod-security.kubernetes.io/enforce": "privileged"},
        False,
    ),
    (
        "aos creates a namespace without the janitor's labels",
        "aos",
        "namespaces",
        "CREATE",
        "aos-pr-7",
        "",
        {},
        False,
    ),
    ("aos creates aos-pr-0", "aos", "namespaces", "CREATE", "aos-pr-0", "", RESTRICTED, False),
]


@pytest.mark.parametrize("case", ADMISSION, ids=[case[0] for case in ADMISSION])
def test_what_the_admission_policy_admits(case: tuple[Any, ...]) -> None:
    who, repository, resource, operation, name, namespace, labels, allowed = case
    celpy = pytest.importorskip("celpy", reason="cel-python is not installed: pip install cel-python==0.5.0")
    spec = ephemeral.pull_request_access(hosting_policy())[2]["spec"]
    metadata = {"name": name, **({"labels": labels} if labels else {})}
    activation = {
        "request": {
            "userInfo": {"groups": [f"delivery-gate-pr-{repository}", "system:authenticated"]},
            "resource": {"resource": resource},
            "operation": operation,
            "name": name,
            "namespace": namespace,
        },
        "object": None if operation == "DELETE" else {"metadata": metadata},
        "oldObject": {"metadata": metadata},
    }
    environment = celpy.Environment()

    def holds(expression: str) -> bool:
        program = environment.program(environment.compile(expression))
        return bool(program.evaluate(celpy.json_to_cel(activation)))

    assert holds(spec["matchConditions"][0]["expression"])
    assert all(holds(v["expression"]) for v in spec["validations"]) is allowed, who
