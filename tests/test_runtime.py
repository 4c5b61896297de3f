"""The runtime safety net as the stacks declare it: per-environment pieces, valid, protected in prod."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from gate.cli import main as cli
from gate.offline.plan import build_plan
from tests.conftest import ProjectFactory
from tests.support.crds import crd_problems
from tests.support.stacks import names, stack_plan

STACKS = ("dev", "staging", "prod")


def plan_of(stack: str) -> dict[str, Any]:
    return stack_plan(stack)


def kubernetes_objects(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded kubernetes resources as the manifests the provider will apply."""
    objects = []
    for resource in plan["resources"]:
        if not resource["type"].startswith("kubernetes:"):
            continue
        _, group_version, kind = resource["type"].split(":")
        api_version = group_version.removeprefix("core/")
        inputs = {k: v for k, v in resource["inputs"].items() if k not in ("apiVersion", "kind")}
        objects.append({"apiVersion": api_version, "kind": kind, **inputs, "_resource": resource})
    return objects


def is_custom(api_version: str) -> bool:
    """A custom resource's group has a dot; the built-in groups with one end in `.k8s.io`."""
    group, _, _ = api_version.rpartition("/")
    return "." in group and not group.endswith(".k8s.io")


def kinds(stack: str) -> set[str]:
    return {o["kind"] for o in kubernetes_objects(plan_of(stack))}


def test_every_environment_has_its_alerts_routing_and_flags() -> None:
    for stack in STACKS:
        assert {"Namespace", "PrometheusRule", "AlertmanagerConfig", "FeatureFlag"} <= kinds(stack), stack


def test_staging_and_production_roll_out_progressively_dev_does_not() -> None:
    assert {"Rollout", "AnalysisTemplate"} <= kinds("staging")
    assert {"Rollout", "AnalysisTemplate"} <= kinds("prod")
    # Dev's workload is the stack's too (one delivery path), with no canary and no analysis.
    assert "AnalysisTemplate" not in kinds("dev")
    (dev,) = [o for o in kubernetes_objects(plan_of("dev")) if o["kind"] == "Rollout"]
    assert set(dev["spec"]["strategy"]["canary"]) == {
        "canaryService",
        "stableService",
        "maxSurge",
        "maxUnavailable",
    }
    assert plan_of("prod")["outputs"]["progressiveRollout"] is True
    assert plan_of("dev")["outputs"]["progressiveRollout"] is False


def test_the_rollout_follows_the_policy_stages_with_analysis() -> None:
    (rollout,) = [o for o in kubernetes_objects(plan_of("prod")) if o["kind"] == "Rollout"]
    canary = rollout["spec"]["strategy"]["canary"]
    weights = [step["setWeight"] for step in canary["steps"] if "setWeight" in step]
    assert weights == [5, 25, 50]  # then promotion to 100 %
    assert canary["analysis"]["templates"] == [{"templateName": f"{names().application}-rollback-criteria"}]


def test_production_protects_its_runtime_resources_others_do_not() -> None:
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        for obj in kubernetes_objects(plan_of(stack)):
            assert obj["_resource"]["options"]["protect"] is protected, (stack, obj["kind"])


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_conform_to_their_crds(stack: str) -> None:
    custom = [o for o in kubernetes_objects(plan_of(stack)) if is_custom(o["apiVersion"])]
    assert custom
    for obj in custom:
        manifest = {k: v for k, v in obj.items() if k != "_resource"}
        assert crd_problems(manifest) == [], obj["kind"]


@pytest.mark.parametrize("stack", STACKS)
def test_core_objects_are_valid_kubernetes(stack: str) -> None:
    core = [o for o in kubernetes_objects(plan_of(stack)) if not is_custom(o["apiVersion"])]
    assert {"Namespace", "NetworkPolicy"} <= {o["kind"] for o in core}
    for obj in core:
        manifest = {k: v for k, v in obj.items() if k != "_resource"}
        kubernetes_validate.validate(manifest, "1.33.0", strict=True)


def test_the_slack_webhook_is_only_ever_a_secret_reference() -> None:
    for stack in STACKS:
        (config,) = [o for o in kubernetes_objects(plan_of(stack)) if o["kind"] == "AlertmanagerConfig"]
        text = str(config["spec"])
        assert "hooks.slack.com" not in text
        assert "alertmanager-slack" in text


WEBHOOK_STACK = (
    "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    "  delivery-gate:repositories:\n    - name: aos\n"
)


def test_a_secret_webhook_becomes_a_kubernetes_secret_hidden_in_the_plan(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {"dev": WEBHOOK_STACK + "  delivery-gate:slackWebhookUrl:\n    secure: v1:abc==\n"}
    )
    plan = build_plan(project, "dev")
    (secret,) = [r for r in plan["resources"] if r["type"] == "kubernetes:core/v1:Secret"]
    assert secret["inputs"]["metadata"]["name"] == "alertmanager-slack"
    assert secret["inputs"]["metadata"]["namespace"] == "monitoring"
    assert secret["inputs"]["stringData"] == "[secret]"  # the SDK marks all of stringData secret
    assert "v1:abc" not in str(plan)


def test_a_plain_text_webhook_is_refused_without_echoing_it(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    project = make_project({"dev": WEBHOOK_STACK + f"  delivery-gate:slackWebhookUrl: {url}\n"})
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "delivery-gate:slackWebhookUrl: got '<redacted>'" in err
    assert url not in err


def test_without_a_webhook_no_secret_is_declared() -> None:
    assert not [r for r in plan_of("dev")["resources"] if r["type"] == "kubernetes:core/v1:Secret"]
