"""Network policies of every application namespace (gate/runtime/network.py): dev, staging and production as
their stacks declare them, and a pull request's disposable namespace, from one renderer.

- default deny in both directions, with the explicit allows only: DNS to kube-system, ingress from
  the ingress controller's and Prometheus's namespaces on the application's port, the namespace
  itself (application and Redis), HTTPS out in the environments;
- no egress rule can reach the cloud instance metadata endpoint (169.254.169.254, fd00:ec2::254),
  checked by reading every egress rule of every rendered policy, with a checker shown to catch the
  rules that could;
- checkov-style hygiene: no allow-all egress or ingress rule; valid Kubernetes (kubernetes-validate,
  strict), and `except` blocks the API server would accept.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

import kubernetes_validate
import pytest

from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.model import GITHUB_API_CIDRS, GatePolicy
from gate.policy.prnames import repository_slug
from gate.runtime import cluster as runtime
from gate.runtime import ephemeral, network
from tests.support.stacks import PROJECT, names, stack_plan

KUBERNETES_VERSION = "1.33.0"
STACKS = ("dev", "staging", "prod")
NOW = "2026-11-22T10:00:00Z"
METADATA_ADDRESSES = ("169.254.169.254", "fd00:ec2::254")
COMMON = {"default-deny", "allow-dns", "allow-same-namespace", "allow-ingress-controller", "allow-monitoring"}


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", NOW)


def policies_in(plan: dict[str, Any], namespace: str | None = None) -> list[dict[str, Any]]:
    """The NetworkPolicy manifests a plan declares in a namespace (default: the application's)."""
    wanted = namespace or plan["outputs"]["namespace"]
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **r["inputs"]}
        for r in plan["resources"]
        if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and r["inputs"]["metadata"]["namespace"] == wanted
    ]


def by_name(policies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p["spec"] for p in policies}


def pr_policy() -> GatePolicy:
    return load_policy(
        {
            "environment": "staging",
            "repositories": [{"name": "aos"}],
            "ephemeral": {"pullRequest": 42, "repository": "aos", "createdAt": NOW},
            "application": {"image": "ghcr.io/acme/aos:pr-42"},
        },
        stack="pr-aos-42",
        github_owner="acme",
    )


RELAYS = tuple(f"relay-{stack}" for stack in STACKS)  # the alert relay's namespace (gate/runtime/relay.py)
WHERE = (*STACKS, "pr-aos-42", "pr-aos-42-with-egress", *RELAYS)


@functools.cache
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every application namespace's policies: each stack's plan, a PR stack's plan, and the shared
    renderer with external egress on for a PR namespace (what the ephemeral stack would get)."""
    out = {stack: policies_in(stack_plan(stack)) for stack in STACKS}
    for stack in STACKS:
        plan = stack_plan(stack)
        out[f"relay-{stack}"] = policies_in(plan, plan["outputs"]["alertRelay"]["namespace"])
    # The label stays "pr-aos-42"; the stack is the PR stack of the project's own repository.
    pr_stack = f"pr-{repository_slug(names().repository)}-42"
    out["pr-aos-42"] = policies_in(build_plan(PROJECT, pr_stack))
    out["pr-aos-42-with-egress"] = network.network_policies(
        "aos-pr-42",
        app="aos",
        app_port=8080,
        ingress_namespace="ingress-nginx",
        monitoring_namespace="monitoring",
        external_egress_ports=(443, 8443),
    )
    assert set(out) == set(WHERE)
    return out


def rendered_in(where: str) -> list[dict[str, Any]]:
    return rendered()[where]


# ---------------------------------------------------------------------------------------------
# Can an egress rule reach an address?


def peer_reaches(peer: dict[str, Any], address: str) -> bool:
    """NetworkPolicyPeer semantics: a pod or namespace selector selects pods, whose addresses are
    never the link-local / ULA metadata address; an ipBlock reaches its CIDR minus its excepts."""
    block = peer.get("ipBlock")
    if block is None:
        assert "podSelector" in peer or "namespaceSelector" in peer, peer
        return False
    ip = ipaddress.ip_address(address)
    cidr = ipaddress.ip_network(block["cidr"])
    if ip.version != cidr.version or ip not in cidr:
        return False
    return not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))


def rule_reaches(rule: dict[str, Any], address: str) -> bool:
    """An egress rule without `to` (or with an empty one) allows every destination."""
    peers = rule.get("to") or []
    return not peers or any(peer_reaches(peer, address) for peer in peers)


def egress_rules(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Every rule, also of a policy whose policyTypes would leave it unused: stricter than the API.
    return [rule for p in policies for rule in p["spec"].get("egress", [])]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("address", METADATA_ADDRESSES)
def test_no_egress_rule_can_reach_the_instance_metadata_endpoint(where: str, address: str) -> None:
    rules = egress_rules(rendered_in(where))
    assert rules
    assert [r for r in rules if rule_reaches(r, address)] == []


@pytest.mark.parametrize(
    "rule",
    [
        {},  # no `to`: everywhere
        {"to": []},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 80}]},
        {"to": [{"ipBlock": {"cidr": "169.254.0.0/16", "except": ["169.254.169.253/32"]}}]},
        {"to": [{"podSelector": {}}, {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::253/128"]}}]},
    ],
)
def test_the_checker_catches_a_rule_that_reaches_metadata(rule: dict[str, Any]) -> None:
    assert any(rule_reaches(rule, address) for address in METADATA_ADDRESSES)


def test_external_egress_reaches_everything_else() -> None:
    """The except blocks the metadata endpoints only: the allow still means something."""
    (rule,) = by_name(rendered_in("prod"))["allow-external-egress"]["egress"]
    for address in ("52.95.110.1", "169.254.169.253", "2600:1f18::1", "fd00:ec2::253"):
        assert rule_reaches(rule, address), address
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]


# ---------------------------------------------------------------------------------------------
# What each namespace allows


@pytest.mark.parametrize("stack", STACKS)
def test_every_environment_denies_by_default_with_explicit_allows(stack: str) -> None:
    plan = stack_plan(stack)
    policies = policies_in(plan)
    assert {p["metadata"]["namespace"] for p in policies} == {plan["outputs"]["namespace"]}
    assert {plan["outputs"]["namespace"]} == {names().application}
    specs = by_name(policies)
    assert set(specs) == COMMON | {"allow-external-egress"}
    assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (dns,) = specs["allow-dns"]["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    for name, source in (("allow-ingress-controller", "ingress-nginx"), ("allow-monitoring", "monitoring")):
        (rule,) = specs[name]["ingress"]
        assert rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": source}}}
        ]
        assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert specs["allow-same-namespace"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert specs["allow-same-namespace"]["egress"] == [{"to": [{"podSelector": {}}]}]
    for r in plan["resources"]:
        if r["type"].endswith(":NetworkPolicy"):
            assert r["options"]["deleteBeforeReplace"] is True
            assert r["options"]["protect"] is (stack == "prod")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_allows_select_the_rollouts_pods(stack: str) -> None:
    """A podSelector that missed the application's pods would leave them at default deny: no
    ingress, no scraping (only the absent() alerts would say so)."""
    plan = stack_plan(stack)
    (rollout,) = [r["inputs"] for r in plan["resources"] if r["type"].endswith(":Rollout")]
    pod_labels = rollout["spec"]["template"]["metadata"]["labels"]
    for name, spec in by_name(policies_in(plan)).items():
        selector = spec["podSelector"].get("matchLabels", {})
        assert selector.items() <= pod_labels.items(), name


def test_the_ephemeral_namespace_uses_the_same_renderer_without_external_egress() -> None:
    policy = pr_policy()
    ns = ephemeral.namespace_name(policy)
    assert ephemeral.network_policies(policy, ns) == network.network_policies(
        ns, app="aos", app_port=8080, ingress_namespace="ingress-nginx", monitoring_namespace="monitoring"
    )
    assert set(by_name(rendered_in("pr-aos-42"))) == COMMON
    # The allows both kinds of namespace share are the same, namespace apart.
    # The project's own repository (and so its application, named after it: issue 13).
    own = names()
    staging = load_policy(
        {"environment": "staging", "repositories": [{"name": own.repository}]},
        stack="staging",
        github_owner=own.owner,
    )
    environment = by_name(runtime.network_policies(staging))
    assert {name: spec for name, spec in environment.items() if name in COMMON} == by_name(
        rendered_in("pr-aos-42")
    )


def test_the_renderer_is_deterministic_and_follows_the_application() -> None:
    kwargs: dict[str, Any] = {
        "app": "shop",
        "app_port": 9090,
        "ingress_namespace": "traefik",
        "monitoring_namespace": "observability",
        "external_egress_ports": (443,),
    }
    first = network.network_policies("shop", **kwargs)
    assert first == network.network_policies("shop", **kwargs)
    specs = by_name(first)
    assert specs["allow-monitoring"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "shop"}}
    assert specs["allow-monitoring"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
    assert "traefik" in str(specs["allow-ingress-controller"])
    assert "observability" in str(specs["allow-monitoring"])


# ---------------------------------------------------------------------------------------------
# Valid, and no allow-all rule (checkov's concern)


@pytest.mark.parametrize("where", WHERE)
def test_every_policy_is_valid_kubernetes(where: str) -> None:
    for policy in rendered_in(where):
        # strict: unknown fields are errors, as the API server's field validation makes them.
        kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_misspelt_field() -> None:
    policy = rendered_in("prod")[0]
    broken = {**policy, "spec": {**policy["spec"], "policyType": ["Egress"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("where", WHERE)
def test_no_rule_allows_everything(where: str) -> None:
    for policy in rendered_in(where):
        spec, name = policy["spec"], policy["metadata"]["name"]
        for rule in spec.get("egress", []):
            assert rule.get("to"), f"{name}: an egress rule to everywhere"
            blocks = [peer["ipBlock"] for peer in rule["to"] if "ipBlock" in peer]
            if blocks:
                # Addresses outside the cluster only on named ports, never every port.
                assert rule.get("ports"), f"{name}: an ipBlock egress rule on every port"
        for rule in spec.get("ingress", []):
            assert rule.get("from"), f"{name}: an ingress rule from everywhere"
            assert not [peer for peer in rule["from"] if "ipBlock" in peer], f"{name}: ingress by address"


@pytest.mark.parametrize("where", WHERE)
def test_every_except_is_inside_its_cidr(where: str) -> None:
    """What the API server checks and kubernetes-validate does not: each except is a strict subnet
    of its block's CIDR (same IP version)."""
    for policy in rendered_in(where):
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "ipBlock" not in peer:
                    continue
                cidr = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                excepts = [ipaddress.ip_network(e) for e in peer["ipBlock"].get("except", [])]
                # A block that contains a metadata endpoint must except it (the relay's GitHub
                # networks contain none, which the model checks).
                metadata = [a for a in map(ipaddress.ip_address, METADATA_ADDRESSES) if a in cidr]
                assert excepts or not metadata, peer
                for subnet in excepts:
                    assert subnet.version == cidr.version and subnet != cidr
                    assert subnet.subnet_of(cidr)  # type: ignore[arg-type]  # same version, checked


# ---------------------------------------------------------------------------------------------
# The alert relay's namespace: default deny, DNS, and exactly its two allows


RELAY_ALLOWS = {"default-deny", "allow-dns", "allow-alertmanager", "allow-github-api"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_relay_namespace_allows_alertmanager_in_and_github_out_only(stack: str) -> None:
    plan = stack_plan(stack)
    namespace = plan["outputs"]["alertRelay"]["namespace"]
    assert namespace == "delivery-gate-relay"
    specs = by_name(policies_in(plan, namespace))
    assert set(specs) == RELAY_ALLOWS
    # The same default deny and DNS allow as every application namespace.
    application = by_name(policies_in(plan))
    assert specs["default-deny"] == application["default-deny"]
    assert specs["allow-dns"] == application["allow-dns"]
    relay_pods = {"matchLabels": {"app.kubernetes.io/name": "alert-relay"}}
    assert specs["allow-alertmanager"] == {
        "podSelector": relay_pods,
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}},
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ],
    }
    (github,) = specs["allow-github-api"]["egress"]
    assert specs["allow-github-api"]["policyTypes"] == ["Egress"]
    assert github["ports"] == [{"protocol": "TCP", "port": 443}]
    cidrs = [peer["ipBlock"]["cidr"] for peer in github["to"]]
    assert cidrs == list(GITHUB_API_CIDRS)
    # api.github.com's addresses are inside; the rest of the internet is not.
    for address in ("140.82.112.6", "140.82.121.6", "2606:50c0:8000::154"):
        assert rule_reaches(github, address), address
    for address in ("52.95.110.1", "8.8.8.8", "2600:1f18::1", *METADATA_ADDRESSES):
        assert not rule_reaches(github, address), address


def test_the_relay_pods_are_what_the_allows_select() -> None:
    plan = stack_plan("dev")
    (deployment,) = [
        r["inputs"]
        for r in plan["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment" and r["inputs"]["metadata"]["name"] == "alert-relay"
    ]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for name, spec in by_name(policies_in(plan, "delivery-gate-relay")).items():
        assert spec["podSelector"].get("matchLabels", {}).items() <= pod_labels.items(), name
