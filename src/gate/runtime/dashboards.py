"""Dashboards from the same queries as the alerts and the canary analysis: pure, no Pulumi resources.

GATE-OBS-01. DP §Pre-Deployment: "Observability verified (... dashboard created)"; §Post-Deployment:
"Telemetry verified: traces, metrics, and logs flowing correctly after deployment" (metrics: the
policy names no log or trace store, so the dashboards have no logs or traces row).

- `grafana_dashboard(policy)`: the environment's Grafana dashboard (JSON model, schemaVersion
  SCHEMA_VERSION). Every query is taken from the function the alert or the analysis reads it from:
  `alerts.alert_queries` (the PrometheusRule's expressions), `rollout.rollback_criteria` (the
  AnalysisTemplate's queries, rendered with the dashboard's variables for the Argo arguments), and
  `alerts.request_rate` / `error_ratio` / `latency_ms` for the service row. One panel per alert
  rule and per analysis metric, its threshold drawn as a line; no PromQL is written here.
- `config_map(policy)`: that dashboard in a ConfigMap in the monitoring namespace, labelled and
  annotated for the Grafana dashboard sidecar (monitoring.grafana).
- `cloudwatch_dashboard_body(policy)`: with `aws`, a CloudWatch dashboard whose widgets are the
  rollback alarms' metrics (`aws.rollback_alarms`, the MetricAlarm definitions the alarms are
  declared from), each with the alarm's threshold as a horizontal annotation.
- `runbook_line(alert)`: the line each docs/runbooks/<alert>.md carries (checked by a test).

Output is deterministic: fixed panel order, JSON with sorted keys, uid from the environment.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gate.aws import foundation as aws
from gate.policy.model import GatePolicy
from gate.runtime import alerts, rollout
from gate.runtime.kube import MANAGED_BY, app_namespace

Document = dict[str, Any]

RULE_ID = "GATE-OBS-01"
SCHEMA_VERSION = 39  # Grafana 10.x/11.x dashboard JSON model
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
# Grafana variables standing for the AnalysisTemplate's pod-template-hash arguments.
HASH_VARIABLES = {rollout.CANARY_HASH: "canary_hash", rollout.STABLE_HASH: "stable_hash"}
ALERT_PREFIX, ANALYSIS_PREFIX = "alert: ", "analysis: "
PANEL_WIDTH, PANEL_HEIGHT, ROW_WIDTH = 12, 8, 24
CLOUDWATCH_WIDTH, CLOUDWATCH_HEIGHT = 12, 6

# Units of the alert and analysis panels (Grafana unit ids); anything else is a plain number.
_ALERT_UNITS = {
    "LatencyP99OverTarget": "ms",
    "LatencyP95OverTarget": "ms",
    "ErrorRateIncrease": "percentunit",
    "ErrorBudgetBurn": "percentunit",
}
_ANALYSIS_UNITS = {"error-rate-increase": "percentunit", "p99-latency": "ms", "health-checks": "percentunit"}


def title(policy: GatePolicy) -> str:
    return f"Delivery gate: {policy.application.name} in {policy.environment}"


def config_map_name(policy: GatePolicy) -> str:
    return f"delivery-gate-{policy.environment}-dashboard"


def file_name(policy: GatePolicy) -> str:
    return f"{alerts.dashboard_uid(policy)}.json"


def dashboard_argument(policy: GatePolicy) -> rollout.ArgRenderer:
    """How the dashboard fills the AnalysisTemplate arguments: the namespace the Rollout passes (its
    own, the application's) and a Grafana variable for each pod-template hash."""

    def render(name: str) -> str:
        if name == rollout.NAMESPACE:
            return app_namespace(policy)
        return f"${{{HASH_VARIABLES[name]}}}"

    return render


# ---------------------------------------------------------------------------------------------
# Panels


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    unit: str = "short"
    threshold: Decimal | None = None
    links: tuple[tuple[str, str], ...] = ()  # (title, url)


def _alert_panels(policy: GatePolicy) -> list[Panel]:
    rules = {
        (rule["alert"], rule["labels"].get("window")): rule
        for group in alerts.rule_groups(policy)
        for rule in group["rules"]
        if "alert" in rule
    }
    burns = {alerts.burn_key(burn): burn for burn in alerts.BURN_RATES}
    panels = []
    for key, query in alerts.alert_queries(policy).items():
        window = key.partition(":")[2] or None
        rule = rules[(query.alert, window)]
        fires = (
            f"fires when {query.comparison} {query.threshold}"
            if query.comparison is not None
            else "fires on any sample (the series is absent)"
        )
        hold = f" for {rule['for']}" if "for" in rule else ""
        burn = burns.get(key)
        windows = ("__auto",) if burn is None else (f"{burn.long_window} ratio", f"{burn.short_window} ratio")
        panels.append(
            Panel(
                title=f"{ALERT_PREFIX}{query.alert}" + (f" {window}" if window else ""),
                description=(
                    f"{rule['annotations']['summary']}. The alert's own expression; it {fires}{hold} "
                    f"(severity {rule['labels']['severity']}, action {rule['labels']['action']})."
                ),
                targets=tuple(zip(query.series, windows, strict=True)),
                unit=_ALERT_UNITS.get(query.alert, "short"),
                threshold=query.threshold_value,
                links=(("Runbook", alerts.runbook_url(policy, query.alert)),),
            )
        )
    return panels


def _analysis_panels(policy: GatePolicy) -> list[Panel]:
    return [
        Panel(
            title=f"{ANALYSIS_PREFIX}{criterion.name}",
            description=(
                f"{criterion.source}. The canary analysis' own query (AnalysisTemplate "
                f"{rollout.template_name(policy)}), for the canary and stable pod-template hashes chosen "
                f"above; a measurement fails above {rollout.number(criterion.threshold)}, more than "
                f"{criterion.failure_limit} failed measurement(s) abort the rollout."
            ),
            targets=((criterion.query, "__auto"),),
            unit=_ANALYSIS_UNITS.get(criterion.name, "short"),
            threshold=Decimal(rollout.number(criterion.threshold)),
        )
        for criterion in rollout.rollback_criteria(policy, dashboard_argument(policy))
    ]


def _service_panels(policy: GatePolicy) -> list[Panel]:
    return [
        Panel(
            title="Request rate",
            description=f"Requests per second of {policy.application.name} ({alerts.RATE_WINDOW} rate).",
            targets=((alerts.request_rate(policy), "requests/s"),),
            unit="reqps",
        ),
        Panel(
            title="Error rate",
            description=f"The recorded 5xx ratio over {alerts.RATE_WINDOW} that ErrorRateIncrease reads.",
            targets=((alerts.error_ratio(policy), "5xx ratio"),),
            unit="percentunit",
        ),
        Panel(
            title="Latency p95 and p99",
            description="The latency quantiles the latency alerts compare with their targets.",
            targets=((alerts.latency_ms(policy, "0.95"), "p95"), (alerts.latency_ms(policy, "0.99"), "p99")),
            unit="ms",
        ),
    ]


def _field_config(panel: Panel) -> Document:
    custom: Document = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0}
    steps: list[Document] = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        # The alert's or the analysis' threshold, drawn as a line at its exact value.
        steps.append({"color": "red", "value": float(panel.threshold)})
        custom["thresholdsStyle"] = {"mode": "line"}
    return {
        "defaults": {
            "unit": panel.unit,
            "custom": custom,
            "thresholds": {"mode": "absolute", "steps": steps},
        },
        "overrides": [],
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> Document:
    refs = "ABCDEFGHIJ"
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y},
        "targets": [
            {"refId": refs[i], "datasource": dict(DATASOURCE), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
        "fieldConfig": _field_config(panel),
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "links": [{"title": name, "url": url, "targetBlank": True} for name, url in panel.links],
    }


def rows(policy: GatePolicy) -> list[tuple[str, list[Panel]]]:
    """The dashboard's rows in order: the service, the alerts, and (staging, production) the canary
    analysis. Only environments that roll out progressively have an AnalysisTemplate."""
    out = [("Service", _service_panels(policy)), ("Alerts (PrometheusRule)", _alert_panels(policy))]
    if rollout.progressive(policy):
        out.append(("Canary analysis (AnalysisTemplate)", _analysis_panels(policy)))
    return out


def _hash_variable(policy: GatePolicy, argument: str) -> Document:
    app = policy.application.name
    which = "canary" if argument == rollout.CANARY_HASH else "stable"
    query = f"label_values({alerts.requests_selector(policy)}, pod)"
    return {
        "name": HASH_VARIABLES[argument],
        "label": f"{which} pod-template hash",
        "type": "query",
        "datasource": dict(DATASOURCE),
        "query": {"query": query, "refId": HASH_VARIABLES[argument]},
        "definition": query,
        # Pods are <app>-<pod-template-hash>-<suffix> (gate/runtime/rollout.py); the hash is the capture.
        "regex": f"/^{app}-([a-z0-9]+)-[a-z0-9]+$/",
        "refresh": 2,
        "sort": 0,
        "hide": 0,
        "includeAll": False,
        "multi": False,
    }


def grafana_dashboard(policy: GatePolicy) -> Document:
    """The dashboard JSON model (sidecar-provisioned: no `id`)."""
    panels: list[Document] = []
    y, panel_id = 0, 1
    for row_title, members in rows(policy):
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": ROW_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id, y = panel_id + 1, y + 1
        for index, panel in enumerate(members):
            x = (index % 2) * PANEL_WIDTH
            panels.append(_panel_json(panel, panel_id, x, y))
            panel_id += 1
            if x or index == len(members) - 1:
                y += PANEL_HEIGHT
    variables: list[Document] = [
        {"name": DATASOURCE_VARIABLE, "label": "Prometheus", "type": "datasource", "query": "prometheus"}
    ]
    if rollout.progressive(policy):
        variables += [_hash_variable(policy, arg) for arg in (rollout.CANARY_HASH, rollout.STABLE_HASH)]
    return {
        "uid": alerts.dashboard_uid(policy),
        "title": title(policy),
        "description": (
            f"{RULE_ID}: built from the queries of the alerts (PrometheusRule delivery-gate-"
            f"{policy.environment}) and the canary analysis of {policy.application.name} in "
            f"{policy.environment}. Generated by the delivery gate; edits are overwritten."
        ),
        "tags": ["delivery-gate", policy.environment],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": variables},
        "panels": panels,
    }


def dashboard_json(policy: GatePolicy) -> str:
    """The dashboard as the ConfigMap holds it: sorted keys, the same bytes on every run."""
    return json.dumps(grafana_dashboard(policy), sort_keys=True, indent=2) + "\n"


def config_map(policy: GatePolicy) -> Document:
    """The ConfigMap Grafana's dashboard sidecar loads. In the monitoring namespace: the grafana
    chart's sidecar watches its own namespace unless sidecar.dashboards.searchNamespace says more."""
    grafana = policy.monitoring.grafana
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(policy),
            "namespace": policy.monitoring.namespace,
            "labels": {
                **MANAGED_BY,
                alerts.COMPONENT_LABEL: "dashboards",
                alerts.ENVIRONMENT_LABEL: policy.environment,
                grafana.label: grafana.label_value,
            },
            "annotations": {grafana.folder_annotation: grafana.folder},
        },
        "data": {file_name(policy): dashboard_json(policy)},
    }


def coverage_problems(policy: GatePolicy) -> list[str]:
    """GATE-OBS-01, checked on what is declared: every alert rule of the PrometheusRule and every
    metric of the AnalysisTemplate has a panel whose queries are its expression, string for string
    (an alert written around the registry in gate/runtime/alerts.py has no panel, and fails the plan)."""
    dashboard = grafana_dashboard(policy)
    shown: dict[str, list[str]] = {
        panel["title"]: [target["expr"] for target in panel["targets"]]
        for panel in dashboard["panels"]
        if panel["type"] == "timeseries"
    }
    queries = {query.condition: query for query in alerts.alert_queries(policy).values()}
    problems = []
    for group in alerts.rule_groups(policy):
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            window = rule["labels"].get("window")
            panel = f"{ALERT_PREFIX}{rule['alert']}" + (f" {window}" if window else "")
            query = queries.get(rule["expr"])
            if query is None or shown.get(panel) != list(query.series):
                problems.append(
                    f"alert {rule['alert']}{f' ({window})' if window else ''}: no dashboard panel "
                    f"{panel!r} shows its expression; build it from alerts.alert_queries"
                )
    if rollout.progressive(policy):
        render = dashboard_argument(policy)
        for metric in rollout.analysis_template(policy)["spec"]["metrics"]:
            query = metric["provider"]["prometheus"]["query"]
            for argument in (rollout.NAMESPACE, *HASH_VARIABLES):
                query = query.replace(f"{{{{args.{argument}}}}}", render(argument))
            if shown.get(f"{ANALYSIS_PREFIX}{metric['name']}") != [query]:
                problems.append(
                    f"analysis metric {metric['name']}: no dashboard panel shows its query; build it "
                    "from rollout.rollback_criteria"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# CloudWatch


def cloudwatch_dashboard_name(policy: GatePolicy) -> str:
    return aws.resource_name(policy, "dashboard")


def _dimensions(alarm: aws.MetricAlarm) -> list[str]:
    return [part for name, value in alarm.dimensions.items() for part in (name, value)]


def cloudwatch_metrics(alarm: aws.MetricAlarm) -> list[list[Any]]:
    """The alarm's metrics in the dashboard's `metrics` array form, from its own definition."""
    if not alarm.queries:
        assert alarm.metric_name is not None
        stat = alarm.statistic or alarm.extended_statistic
        return [[alarm.namespace, alarm.metric_name, *_dimensions(alarm), {"stat": stat}]]
    out: list[list[Any]] = []
    for query in alarm.queries:
        if query.expression is not None:
            options: Document = {"expression": query.expression, "id": query.id}
            if query.label is not None:
                options["label"] = query.label
            out.append([{**options, "visible": query.return_data}])
        else:
            assert query.metric_name is not None and query.stat is not None
            out.append(
                [
                    alarm.namespace,
                    query.metric_name,
                    *_dimensions(alarm),
                    {"id": query.id, "stat": query.stat, "visible": query.return_data},
                ]
            )
    return out


def cloudwatch_dashboard_body(policy: GatePolicy) -> Document:
    """One metric widget per rollback alarm (gate/aws/foundation.py), its threshold as an annotation."""
    region = aws.aws_settings(policy).region
    widgets = []
    for index, alarm in enumerate(aws.rollback_alarms(policy)):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * CLOUDWATCH_WIDTH,
                "y": (index // 2) * CLOUDWATCH_HEIGHT,
                "width": CLOUDWATCH_WIDTH,
                "height": CLOUDWATCH_HEIGHT,
                "properties": {
                    "title": f"{alarm.name} ({alarm.criterion})",
                    "region": region,
                    "view": "timeSeries",
                    "stacked": False,
                    "period": alarm.period,
                    "metrics": cloudwatch_metrics(alarm),
                    "annotations": {
                        "horizontal": [
                            {"label": f"{alarm.name} threshold", "value": alarm.threshold, "fill": "above"}
                        ]
                    },
                },
            }
        )
    return {"widgets": widgets}


def cloudwatch_dashboard_json(policy: GatePolicy) -> str:
    return json.dumps(cloudwatch_dashboard_body(policy), sort_keys=True, indent=2)


# ---------------------------------------------------------------------------------------------
# The stack output


def outputs(policy: GatePolicy) -> Document:
    """The stack output `dashboards`: where this environment's dashboards are, for the runbooks,
    `gate evaluate` ("dashboard created", DP §Pre-Deployment) and people."""
    grafana = policy.monitoring.grafana
    out: Document = {
        "rule": RULE_ID,
        "grafana": {
            "uid": alerts.dashboard_uid(policy),
            "title": title(policy),
            "folder": grafana.folder,
            "configMap": f"{policy.monitoring.namespace}/{config_map_name(policy)}",
        },
    }
    url = alerts.dashboard_url(policy)
    if url is not None:
        out["grafana"]["url"] = url
    if policy.aws is not None:
        out["cloudwatch"] = {"name": cloudwatch_dashboard_name(policy), "region": policy.aws.region}
    return out


# ---------------------------------------------------------------------------------------------
# Runbooks

RUNBOOK_MARKER = "Dashboard (GATE-OBS-01):"


def runbook_line(alert: str) -> str:
    """What docs/runbooks/<alert>.md says about where its dashboard is (a test keeps them equal)."""
    return (
        f"{RUNBOOK_MARKER} the `{ALERT_PREFIX}{alert}` panel(s) of the Grafana dashboard with uid "
        "`delivery-gate-<environment>` (folder `monitoring.grafana.folder`, by default "
        "\"Delivery gate\"), drawn from this alert's own expression with its threshold; the alert's "
        "`dashboard_url` annotation links it when `monitoring.grafana.url` is set. With `aws`, the "
        "rollback alarms are on the CloudWatch dashboard `delivery-gate-<environment>-dashboard`."
    )


def with_runbook_line(text: str, alert: str) -> str:
    """A runbook's text with its dashboard line: replaced where it is, else before the first `## `."""
    line = runbook_line(alert)
    lines = text.split("\n")
    marked = [i for i, existing in enumerate(lines) if existing.startswith(RUNBOOK_MARKER)]
    if marked:
        lines[marked[0]] = line
        return "\n".join(lines)
    head, heading, rest = text.partition("\n## ")
    return f"{head.rstrip(chr(10))}\n\n{line}\n{heading}{rest}"


def sync_runbooks(directory: Path) -> list[Path]:
    """Write the dashboard line into every docs/runbooks/<alert>.md; the files it changed."""
    changed = []
    for path in sorted(directory.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        updated = with_runbook_line(text, path.stem)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":  # python -m gate.runtime.dashboards [docs/runbooks]
    for changed_path in sync_runbooks(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/runbooks")):
        print(f"updated {changed_path}")
