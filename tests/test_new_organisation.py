"""A new organisation's plan holds nothing of the example one (issue 13, item 1).

The example organisation is `acme` with its application `aos` (stacks/). A project made by
`gate init` for another owner plans every stack without a single `acme` or `aos` in any byte: the
application is named after the first gated repository unless the stack names it, the replay-mismatch
counter after the application, and an environment without a release declares no workload instead of
a placeholder image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.cli.scaffold import write
from gate.errors import PolicyError
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.runtime import cluster

ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"


@pytest.fixture(scope="module")
def new_organisation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("org") / "our-gate"
    write(project, "example-org", "delivery-gate", ["shop-api", "shop-web"])
    return project


@pytest.fixture(scope="module")
def plans(new_organisation: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stack in ("dev", "staging", "prod"):
        out[stack] = build_plan(new_organisation, stack)
    return out


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_nothing_of_the_example_organisation_reaches_a_new_ones_plan(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    text = json.dumps(plans[stack], sort_keys=True).lower()
    assert "acme" not in text
    assert "aos" not in text
    assert "example-org/shop-api" in text


def test_the_application_is_named_after_the_first_repository(plans: dict[str, dict[str, Any]]) -> None:
    namespaces = {
        r["inputs"]["metadata"]["name"]
        for r in plans["staging"]["resources"]
        if r["type"] == "kubernetes:core/v1:Namespace"
    }
    assert "shop-api" in namespaces
    assert plans["staging"]["outputs"]["namespace"] == "shop-api"
    rules = json.dumps(plans["staging"])
    assert "shop_api_replay_mismatch_total" in rules


def test_an_environment_without_a_release_declares_no_workload(plans: dict[str, dict[str, Any]]) -> None:
    for stack in ("staging", "prod"):
        types = {r["type"] for r in plans[stack]["resources"]}
        assert ROLLOUT not in types, f"{stack}: a workload before the first release"
        assert ":unset" not in json.dumps(plans[stack])
        # The safety net is in place before the first release: alerts and routing.
        assert "kubernetes:monitoring.coreos.com/v1:PrometheusRule" in types


def values(**extra: Any) -> dict[str, Any]:
    return {"environment": "dev", "repositories": [{"name": "Billing_API.v2"}], **extra}


def test_a_repository_name_becomes_a_dns_label_and_a_metric_name() -> None:
    policy = load_policy(values(), stack="dev", github_owner="example-org")
    assert policy.application.name == "billing-api-v2"
    assert policy.thresholds.replay_mismatch.metric == "billing_api_v2_replay_mismatch_total"


def test_what_a_stack_names_wins_over_the_derived_defaults() -> None:
    policy = load_policy(
        values(
            application={"name": "ledger"},
            thresholds={"replayMismatch": {"metric": "parity_mismatch_total"}},
        ),
        stack="dev",
        github_owner="example-org",
    )
    assert policy.application.name == "ledger"
    assert policy.thresholds.replay_mismatch.metric == "parity_mismatch_total"
    # The metric follows a named application too.
    named = load_policy(values(application={"name": "ledger"}), stack="dev", github_owner="example-org")
    assert named.thresholds.replay_mismatch.metric == "ledger_replay_mismatch_total"


def test_a_repository_name_that_cannot_name_an_application_is_a_clear_error() -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy({"environment": "dev", "repositories": [{"name": "2024"}]}, stack="dev", github_owner="o")
    message = str(raised.value)
    assert "delivery-gate:application.name" in message
    assert "'2024'" in message and "set it" in message


def test_the_workload_comes_with_the_first_release() -> None:
    digest = "sha256:" + "b" * 64
    base = {"environment": "staging", "repositories": [{"name": "shop-api"}]}
    without = load_policy(base, stack="staging", github_owner="example-org")
    assert not [m for m in cluster.manifests(without) if m["kind"] == "Rollout"]
    released = load_policy(
        {**base, "release": {"image": f"registry.example/shop-api@{digest}"}},
        stack="staging",
        github_owner="example-org",
    )
    (workload,) = [m for m in cluster.manifests(released) if m["kind"] == "Rollout"]
    assert workload["spec"]["template"]["spec"]["containers"][0]["image"].endswith(digest)
