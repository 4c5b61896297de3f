"""GATE-OBS-01: the dashboards (gate/runtime/dashboards.py), validated by schemas and tools, not by eye.

- the Grafana dashboard in each stack's ConfigMap validates against a JSON Schema of the subset we
  emit (tests/schemas/grafana-dashboard.schema.json), every panel query passes `promtool check rules`,
  and every alert or analysis panel's queries are string-equal to the expressions of the
  PrometheusRule and the AnalysisTemplate the same plan declares;
- the CloudWatch dashboard body validates against the documented body structure
  (tests/schemas/cloudwatch-dashboard.schema.json) and its metrics and thresholds equal those of the
  MetricAlarms the plan declares; its resource inputs are properties of pulumi_aws's Dashboard;
- the ConfigMap is valid Kubernetes (kubernetes-validate) and is what Grafana's sidecar loads;
- every runbook names the dashboard, every alert links it when monitoring.grafana.url is set.

Each schema and tool check is also shown to fail on a broken document.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gate.errors import PolicyError, RuleViolation
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.runtime import alerts, dashboards, rollout
from tests.conftest import ROOT
from tests.support import prom_tools
from tests.support.stacks import PROJECT, STACKS, names, stack_plan

SCHEMAS = ROOT / "tests" / "schemas"
RUNBOOKS = ROOT / "docs" / "runbooks"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def schema(name: str) -> jsonschema.protocols.Validator:
    document = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(document)
    validator_class.check_schema(document)
    validator: jsonschema.protocols.Validator = validator_class(document)
    return validator


GRAFANA_SCHEMA = schema("grafana-dashboard.schema.json")
CLOUDWATCH_SCHEMA = schema("cloudwatch-dashboard.schema.json")


def resources(stack: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in stack_plan(stack)["resources"] if r["type"] == type_]


def dashboard_config_map(stack: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in resources(stack, CONFIG_MAP)
        if r["inputs"]["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    return found


def grafana_of(stack: str) -> dict[str, Any]:
    (text,) = dashboard_config_map(stack)["inputs"]["data"].values()
    document: dict[str, Any] = json.loads(text)
    return document


def timeseries(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] == "timeseries"]


def titled(dashboard: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        p["title"].removeprefix(prefix): p for p in timeseries(dashboard) if p["title"].startswith(prefix)
    }


def exprs(panel: dict[str, Any]) -> list[str]:
    return [t["expr"] for t in panel["targets"]]


def drawn_threshold(panel: dict[str, Any]) -> float | None:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["value"] is None
    if len(steps) == 1:
        return None
    assert len(steps) == 2
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
    value: float = steps[1]["value"]
    return value


def policy_of(environment: str = "dev", **values: Any) -> GatePolicy:
    stack = {"production": "prod"}.get(environment, environment)
    return load_policy(
        {"environment": environment, "repositories": [{"name": "aos"}], **values},
        stack=stack,
        github_owner="acme",
    )


# ---------------------------------------------------------------------------------------------
# Grafana: structure


@pytest.mark.parametrize("stack", STACKS)
def test_the_grafana_dashboard_validates_against_the_schema(stack: str) -> None:
    errors = sorted(GRAFANA_SCHEMA.iter_errors(grafana_of(stack)), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda d: d["panels"][1]["targets"][0].pop("expr"), "expr"),
        (lambda d: d["panels"][1].pop("gridPos"), "gridPos"),
        (lambda d: d.pop("uid"), "uid"),
        (lambda d: d.update(schemaVersion=16), "schemaVersion"),
        (lambda d: d["panels"][1]["gridPos"].update(w=30), "w"),
        (lambda d: d["panels"][1].update(tagets=[]), "tagets"),
        (lambda d: d.update(uid="x" * 41), "uid"),
    ],
)
def test_the_grafana_schema_rejects_a_broken_dashboard(breakage: Any, where: str) -> None:
    broken = copy.deepcopy(grafana_of("staging"))
    breakage(broken)
    assert not GRAFANA_SCHEMA.is_valid(broken), where


@pytest.mark.parametrize("stack", STACKS)
def test_panels_do_not_overlap_and_ids_are_unique(stack: str) -> None:
    dashboard = grafana_of(stack)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, panel["title"]
        cells |= mine


def test_the_uid_is_stable_and_derived_from_the_environment() -> None:
    uids = {stack: grafana_of(stack)["uid"] for stack in STACKS}
    assert uids == {
        "dev": "delivery-gate-dev",
        "staging": "delivery-gate-staging",
        "prod": "delivery-gate-production",
    }
    # The longest environment name (32 characters) would exceed Grafana's 40-character uid.
    long = policy_of().model_copy(update={"environment": "d" * 32})
    assert alerts.dashboard_uid(long) == "dg-" + "d" * 32
    assert GRAFANA_SCHEMA.is_valid(dashboards.grafana_dashboard(long))


@pytest.mark.parametrize("stack", STACKS)
def test_the_dashboard_json_is_deterministic_sorted_text(stack: str) -> None:
    (text,) = dashboard_config_map(stack)["inputs"]["data"].values()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_the_plan_is_byte_identical_across_runs() -> None:
    again = build_plan(
        PROJECT, "dev", stack_outputs={"dev": json.loads((PROJECT / "examples/state/dev.json").read_text())}
    )
    first = stack_plan("dev")
    assert again["root_hash"] == first["root_hash"]
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Grafana: the same queries as the alerts and the analysis


def rules_of(stack: str) -> list[dict[str, Any]]:
    (rule,) = resources(stack, PROMETHEUS_RULE)
    return [r for group in rule["inputs"]["spec"]["groups"] for r in group["rules"] if "alert" in r]


@pytest.mark.parametrize("stack", STACKS)
def test_one_panel_per_alert_rule_showing_its_own_expression(stack: str) -> None:
    panels = titled(grafana_of(stack), dashboards.ALERT_PREFIX)
    rules = rules_of(stack)
    expected_titles = {
        r["alert"] + (f" {r['labels']['window']}" if "window" in r["labels"] else "") for r in rules
    }
    assert set(panels) == expected_titles
    for r in rules:
        panel = panels[r["alert"] + (f" {r['labels']['window']}" if "window" in r["labels"] else "")]
        targets = exprs(panel)
        # Independent of the registry: the rule's expr is the panel's queries, compared with the
        # threshold the panel draws, joined with `and`.
        threshold = drawn_threshold(panel)
        if threshold is None:
            assert targets == [r["expr"]], r["alert"]
            continue
        parts = r["expr"].split("\nand\n")
        assert len(parts) == len(targets), r["alert"]
        for part, target in zip(parts, targets, strict=True):
            match = re.fullmatch(r"(?s)(.*)(?: |\n)(>|==) ([^\n]+)", part)
            assert match is not None, part
            assert match.group(1) == target, r["alert"]
            value = match.group(3).strip("()")
            assert float(eval_number(value)) == pytest.approx(threshold, rel=1e-12), r["alert"]
        assert any(link["url"] == r["annotations"]["runbook_url"] for link in panel["links"])


def eval_number(text: str) -> float:
    """`0.01` or `14.4 * 0.001` (the burn rates write their threshold as a product)."""
    result = 1.0
    for factor in text.split("*"):
        result *= float(factor)
    return result


def test_the_alert_registry_is_what_the_rules_evaluate() -> None:
    policy = policy_of()
    queries = alerts.alert_queries(policy)
    rules = [r for g in alerts.rule_groups(policy) for r in g["rules"] if "alert" in r]
    assert [q.condition for q in queries.values()] == [r["expr"] for r in rules]


def argo_to_grafana(query: str, namespace: str) -> str:
    """The AnalysisTemplate's arguments as the dashboard fills them."""
    return (
        query.replace("{{args.namespace}}", namespace)
        .replace("{{args.canary-hash}}", "${canary_hash}")
        .replace("{{args.stable-hash}}", "${stable_hash}")
    )


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_one_panel_per_analysis_metric_showing_its_own_query(stack: str) -> None:
    panels = titled(grafana_of(stack), dashboards.ANALYSIS_PREFIX)
    (template,) = resources(stack, ANALYSIS_TEMPLATE)
    metrics = template["inputs"]["spec"]["metrics"]
    assert set(panels) == {m["name"] for m in metrics}
    for metric in metrics:
        panel = panels[metric["name"]]
        query = metric["provider"]["prometheus"]["query"]
        assert exprs(panel) == [argo_to_grafana(query, names().application)]
        # The threshold of the success condition `... result[0] <= T`.
        match = re.search(r"result\[0\] <= (\S+)$", metric["successCondition"])
        assert match is not None
        assert drawn_threshold(panel) == pytest.approx(float(match.group(1)))
    variables = {v["name"] for v in grafana_of(stack)["templating"]["list"]}
    assert {"canary_hash", "stable_hash", "datasource"} <= variables


def test_dev_has_no_analysis_row_because_it_has_no_analysis() -> None:
    assert not resources("dev", ANALYSIS_TEMPLATE)
    dashboard = grafana_of("dev")
    assert titled(dashboard, dashboards.ANALYSIS_PREFIX) == {}
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]


def test_the_service_row_reuses_the_alerts_queries() -> None:
    panels = {p["title"]: p for p in timeseries(grafana_of("prod"))}
    alert_panels = titled(grafana_of("prod"), dashboards.ALERT_PREFIX)
    assert exprs(panels["Latency p95 and p99"]) == (
        exprs(alert_panels["LatencyP95OverTarget"]) + exprs(alert_panels["LatencyP99OverTarget"])
    )
    # The error ratio is the first operand of ErrorRateIncrease.
    (increase,) = exprs(alert_panels["ErrorRateIncrease"])
    (ratio,) = exprs(panels["Error rate"])
    assert increase.startswith(ratio + "\n")
    (requests,) = exprs(panels["Request rate"])
    (absent,) = exprs(alert_panels["RequestsMetricAbsent"])
    assert absent.removeprefix("absent(").removesuffix(")") in requests
    # No logs or traces row: the policy names no log or trace store to point at.
    assert not any(
        "log" in p["title"].lower() or "trace" in p["title"].lower() for p in grafana_of("prod")["panels"]
    )


def panel_rules(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"record": f"dashboard:panel{panel['id']}:{target['refId'].lower()}", "expr": target["expr"]}
        for panel in timeseries(dashboard)
        for target in panel["targets"]
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_parses_every_panel_query(stack: str, tmp_path: Path) -> None:
    rules = panel_rules(grafana_of(stack))
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}), encoding="utf-8")
    result = prom_tools.check_rules(path)
    assert result.returncode == 0, prom_tools.output(result)
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_promtool_rejects_a_broken_panel_query(tmp_path: Path) -> None:
    dashboard = copy.deepcopy(grafana_of("staging"))
    timeseries(dashboard)[0]["targets"][0]["expr"] = "sum(rate(x[5m]"
    path = tmp_path / "panels.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "panels", "rules": panel_rules(dashboard)}]}), encoding="utf-8"
    )
    result = prom_tools.check_rules(path)
    assert result.returncode != 0, prom_tools.output(result)


# ---------------------------------------------------------------------------------------------
# The ConfigMap: what Grafana's sidecar loads


@pytest.mark.parametrize("stack", STACKS)
def test_the_config_map_is_labelled_for_the_sidecar_and_valid(stack: str) -> None:
    resource = dashboard_config_map(stack)
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", **resource["inputs"]}
    kubernetes_validate.validate(manifest, "1.33.0", strict=True)
    metadata = manifest["metadata"]
    assert metadata["namespace"] == "monitoring"
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["annotations"] == {"grafana_folder": "Delivery gate"}
    (key,) = manifest["data"]
    assert key == f"{grafana_of(stack)['uid']}.json"
    assert resource["options"]["protect"] is (stack == "prod")


def test_the_sidecar_settings_follow_the_policy() -> None:
    policy = policy_of(
        monitoring={
            "namespace": "observability",
            "grafana": {"folder": "Gate", "label": "dash", "labelValue": "yes", "folderAnnotation": "folder"},
        }
    )
    config_map = dashboards.config_map(policy)
    assert config_map["metadata"]["namespace"] == "observability"
    assert config_map["metadata"]["labels"]["dash"] == "yes"
    assert config_map["metadata"]["annotations"] == {"folder": "Gate"}


# ---------------------------------------------------------------------------------------------
# Runbooks and alerts link the dashboard


def test_every_runbook_says_where_its_dashboard_is() -> None:
    names = alerts.alert_names(policy_of())
    for name in names:
        text = (RUNBOOKS / f"{name}.md").read_text(encoding="utf-8")
        assert text.count(dashboards.RUNBOOK_MARKER) == 1, name
        assert dashboards.runbook_line(name) + "\n" in text, f"{name}: run python -m gate.runtime.dashboards"
    # The line names panels that exist.
    titles = set(titled(grafana_of("prod"), dashboards.ALERT_PREFIX))
    for name in names:
        assert any(t == name or t.startswith(f"{name} ") for t in titles), name


def test_alerts_link_the_dashboard_when_grafana_has_a_url() -> None:
    unset = [r for g in alerts.rule_groups(policy_of()) for r in g["rules"] if "alert" in r]
    assert all("dashboard_url" not in r["annotations"] for r in unset)
    policy = policy_of(monitoring={"grafana": {"url": "https://grafana.example.com"}})
    rules = [r for g in alerts.rule_groups(policy) for r in g["rules"] if "alert" in r]
    assert rules
    for r in rules:
        assert r["annotations"]["dashboard_url"] == "https://grafana.example.com/d/delivery-gate-dev", r[
            "alert"
        ]
        assert r["annotations"]["runbook_url"].endswith(f"/{r['alert']}.md")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://grafana.example.com/", "trailing"),
        ("http://grafana.example.com", "https://"),
        # Prometheus runs annotations as templates: a link must not carry one.
        ('https://grafana.example/{{ query "up" }}', "without spaces, quotes, braces or '$'"),
    ],
)
def test_the_grafana_url_must_be_https_without_a_trailing_slash(url: str, allowed: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy_of(monitoring={"grafana": {"url": url}})
    text = str(caught.value)
    assert "monitoring.grafana.url" in text and allowed in text, text


# ---------------------------------------------------------------------------------------------
# CloudWatch


def cloudwatch_of(stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (resource,) = resources(stack, DASHBOARD)
    body: dict[str, Any] = json.loads(resource["inputs"]["dashboardBody"])
    return resource, body


@pytest.mark.parametrize("stack", STACKS)
def test_the_cloudwatch_body_validates_against_the_documented_structure(stack: str) -> None:
    _, body = cloudwatch_of(stack)
    errors = list(CLOUDWATCH_SCHEMA.iter_errors(body))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == "eu-west-1"
        for metric in widget["properties"]["metrics"]:
            strings = [m for m in metric if isinstance(m, str)]
            # [Namespace, MetricName, then (name, value) pairs], options last.
            assert len(strings) % 2 == 0 and all(isinstance(m, str) for m in metric[:-1]), metric


@pytest.mark.parametrize(
    "breakage",
    [
        lambda b: b["widgets"][0].update(type="graph"),
        lambda b: b["widgets"][0]["properties"].pop("region"),
        lambda b: b["widgets"][0]["properties"].pop("metrics"),
        lambda b: b["widgets"][0]["properties"]["metrics"].append(["AWS/ApplicationELB"]),
        lambda b: b["widgets"][0]["properties"]["annotations"]["horizontal"][0].pop("value"),
        lambda b: b["widgets"][0]["properties"]["metrics"][2][0].pop("id"),
    ],
)
def test_the_cloudwatch_schema_rejects_a_broken_body(breakage: Any) -> None:
    _, body = cloudwatch_of("staging")
    broken = copy.deepcopy(body)
    breakage(broken)
    assert not CLOUDWATCH_SCHEMA.is_valid(broken)


def widget_metrics(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """A widget's metrics in the alarms' terms."""
    out = []
    for metric in widget["properties"]["metrics"]:
        *names, options = metric
        if "expression" in options:
            out.append(
                {"id": options["id"], "expression": options["expression"], "label": options.get("label")}
            )
            continue
        namespace, metric_name, *pairs = names
        out.append(
            {
                "id": options.get("id"),
                "namespace": namespace,
                "metricName": metric_name,
                "dimensions": dict(zip(pairs[::2], pairs[1::2], strict=True)),
                "stat": options["stat"],
                "period": widget["properties"]["period"],
            }
        )
    return out


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """A MetricAlarm's metrics as the plan declares them."""
    inputs = alarm["inputs"]
    if "metricQueries" not in inputs:
        return [
            {
                "id": None,
                "namespace": inputs["namespace"],
                "metricName": inputs["metricName"],
                "dimensions": inputs["dimensions"],
                "stat": inputs.get("statistic") or inputs.get("extendedStatistic"),
                "period": inputs["period"],
            }
        ]
    out = []
    for query in inputs["metricQueries"]:
        if "expression" in query:
            out.append({"id": query["id"], "expression": query["expression"], "label": query.get("label")})
        else:
            metric = query["metric"]
            out.append(
                {
                    "id": query["id"],
                    "namespace": metric["namespace"],
                    "metricName": metric["metricName"],
                    "dimensions": metric["dimensions"],
                    "stat": metric["stat"],
                    "period": metric["period"],
                }
            )
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_the_cloudwatch_widgets_show_the_alarms_metrics_and_thresholds(stack: str) -> None:
    _, body = cloudwatch_of(stack)
    alarms = {a["inputs"]["name"]: a for a in resources(stack, METRIC_ALARM)}
    shown = {}
    for widget in body["widgets"]:
        (annotation,) = widget["properties"]["annotations"]["horizontal"]
        name = annotation["label"].removesuffix(" threshold")
        shown[name] = widget
        assert annotation["value"] == alarms[name]["inputs"]["threshold"], name
        assert widget_metrics(widget) == alarm_metrics(alarms[name]), name
    assert set(shown) == set(alarms)


def test_the_dashboard_resource_inputs_are_pulumi_aws_properties() -> None:
    import pulumi_aws  # noqa: PLC0415 - only this test needs the provider SDK

    parameters = inspect.signature(pulumi_aws.cloudwatch.Dashboard._internal_init).parameters
    for stack in STACKS:
        resource, _ = cloudwatch_of(stack)
        for key in resource["inputs"]:
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
            assert snake in parameters, key
        assert set(resource["inputs"]) == {"dashboardName", "dashboardBody"}
        assert resource["inputs"]["dashboardName"] == dashboards.cloudwatch_dashboard_name(
            policy_of(STACK_ENVIRONMENT[stack], **AWS)
        )
        # CloudWatch: up to 255 characters, alphanumerics, "-" and "_".
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", resource["inputs"]["dashboardName"])


STACK_ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "production"}
AWS = {
    "aws": {
        "accountId": "123456789012",
        "loadBalancer": {
            "loadBalancer": "app/aos/0123456789abcdef",
            "targetGroup": "targetgroup/aos/0123456789abcdef",
        },
    }
}


def test_no_cloudwatch_dashboard_without_aws() -> None:
    from gate.runtime import cluster as runtime  # noqa: PLC0415

    policy = policy_of()
    assert policy.aws is None
    assert any(m["kind"] == "ConfigMap" for m in runtime.manifests(policy))
    with pytest.raises(ValueError, match="sets no delivery-gate:aws"):
        dashboards.cloudwatch_dashboard_body(policy)


def test_rollout_criteria_render_the_same_queries_for_argo_and_for_the_dashboard() -> None:
    policy = policy_of("staging")
    argo = rollout.rollback_criteria(policy)
    grafana = rollout.rollback_criteria(policy, dashboards.dashboard_argument(policy))
    assert [argo_to_grafana(c.query, "aos") for c in argo] == [c.query for c in grafana]


def test_the_slack_message_template_with_the_dashboard_line_parses(tmp_path: Path) -> None:
    """`amtool template render` (its own example alerts, which carry no dashboard_url) parses the
    message; an unclosed action is shown to fail."""
    assert "Dashboard: {{ .Annotations.dashboard_url }}" in alerts.SLACK_TEXT
    if prom_tools.run("amtool", "template", "render", "--help").returncode != 0:
        pytest.skip("this amtool has no `template render` (Alertmanager 0.24 and later)")
    empty = tmp_path / "empty.tmpl"
    empty.write_text("", encoding="utf-8")
    glob = f"--template.glob={empty}"
    result = prom_tools.run("amtool", "template", "render", glob, f"--template.text={alerts.SLACK_TEXT}")
    assert result.returncode == 0, prom_tools.output(result)
    assert "Runbook: " in result.stdout and "Dashboard: " not in result.stdout
    broken = alerts.SLACK_TEXT.removesuffix("{{ end }}")
    result = prom_tools.run("amtool", "template", "render", glob, f"--template.text={broken}")
    assert result.returncode != 0, prom_tools.output(result)


# ---------------------------------------------------------------------------------------------
# GATE-OBS-01 at plan time: an alert or analysis query that no panel shows fails the rules


def test_every_stack_passes_the_coverage_rule() -> None:
    for environment in ("dev", "staging", "production"):
        assert dashboards.coverage_problems(policy_of(environment)) == [], environment


def test_an_alert_written_around_the_registry_fails_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.policy import rules  # noqa: PLC0415

    original = alerts.rule_groups

    def with_inline_alert(policy: GatePolicy) -> list[dict[str, Any]]:
        groups = original(policy)
        inline = {"alert": "Inline", "expr": "vector(1) > 0", "labels": {}, "annotations": {}}
        return [{**groups[0], "rules": [*groups[0]["rules"], inline]}, *groups[1:]]

    monkeypatch.setattr(alerts, "rule_groups", with_inline_alert)
    policy = policy_of()
    assert dashboards.coverage_problems(policy) == [
        "alert Inline: no dashboard panel 'alert: Inline' shows its expression; "
        "build it from alerts.alert_queries"
    ]
    with pytest.raises(RuleViolation) as caught:
        rules.enforce_rules(policy, "dev")
    assert "[GATE-OBS-01] alert Inline" in str(caught.value)
    assert "stacks/Pulumi.dev.yaml" in str(caught.value)


def test_an_analysis_query_the_dashboard_does_not_show_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = rollout.analysis_template

    def changed(policy: GatePolicy) -> dict[str, Any]:
        template = copy.deepcopy(original(policy))
        template["spec"]["metrics"][1]["provider"]["prometheus"]["query"] += " * 2"
        return template

    monkeypatch.setattr(rollout, "analysis_template", changed)
    problems = dashboards.coverage_problems(policy_of("staging"))
    assert problems == [
        "analysis metric p99-latency: no dashboard panel shows its query; "
        "build it from rollout.rollback_criteria"
    ]


def test_sync_runbooks_adds_a_missing_line_and_leaves_a_current_one(tmp_path: Path) -> None:
    (tmp_path / "Foo.md").write_text("# Foo\n\nIntro.\n\n## What it means\n\nText.\n", encoding="utf-8")
    current = (RUNBOOKS / "ReplayMismatch.md").read_text(encoding="utf-8")
    (tmp_path / "ReplayMismatch.md").write_text(current, encoding="utf-8")
    assert dashboards.sync_runbooks(tmp_path) == [tmp_path / "Foo.md"]
    assert (tmp_path / "Foo.md").read_text(encoding="utf-8") == (
        f"# Foo\n\nIntro.\n\n{dashboards.runbook_line('Foo')}\n\n## What it means\n\nText.\n"
    )
    assert dashboards.sync_runbooks(tmp_path) == []


def test_each_stack_outputs_where_its_dashboards_are() -> None:
    assert stack_plan("prod")["outputs"]["dashboards"] == {
        "rule": "GATE-OBS-01",
        "grafana": {
            "uid": "delivery-gate-production",
            "title": f"Delivery gate: {names().application} in production",
            "folder": "Delivery gate",
            "configMap": "monitoring/delivery-gate-production-dashboard",
        },
        "cloudwatch": {"name": "delivery-gate-production-dashboard", "region": "eu-west-1"},
    }
    with_url = dashboards.outputs(policy_of(monitoring={"grafana": {"url": "https://grafana.example.com"}}))
    assert with_url["grafana"]["url"] == "https://grafana.example.com/d/delivery-gate-dev"
    assert "cloudwatch" not in with_url
