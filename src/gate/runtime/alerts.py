"""Alerts and their routing, rendered from the policy: pure, no Pulumi resources.

- `prometheus_rule(policy)`: a `monitoring.coreos.com/v1` PrometheusRule for the stack's environment;
  `rule_groups(policy)` is its `spec.groups`, and `rules_yaml(policy)` the same groups as a plain
  Prometheus rules file (what `promtool check rules` / `promtool test rules` read).
- `alertmanager_config(policy)`: a `monitoring.coreos.com/v1alpha1` AlertmanagerConfig routing the
  alerts to Slack; `alertmanager_yaml(policy)` is the equivalent plain alertmanager.yml (what
  `amtool check-config` reads), with the webhook read from a file, never written into it.

Which policy line each alert implements is said where it is built. Conventions every alert follows:
- labels `severity`, `team`, `action`, `environment`, `namespace`; annotations `summary`, `description`,
  `runbook_url` (docs/runbooks/<alertname>.md), `policy` (the policy line);
- `severity: critical` only for the rollback criteria: delivery-policy.md §Rollback Criteria rolls back
  automatically on "Critical alert triggered", so nothing that a rollback cannot fix is critical;
- every metric an alert reads has an `absent()` companion, so a vanished series cannot silence it;
- every selector matches `namespace="<the application's namespace>"` (gate/runtime/promql.py builds them), so
  another environment's series cannot fire this one's alerts (see `_scope`).

Output is deterministic: fixed group and rule order, insertion-ordered keys, thresholds written from
their decimal text (0.001, not 0.0010000000000000009).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gate.github import yamltext
from gate.policy.model import GatePolicy
from gate.policy.types import duration_seconds
from gate.policy.types import number as number  # noqa: PLC0414 - explicit re-export (mypy)
from gate.runtime import promql, relay
from gate.runtime.kube import MANAGED_BY, app_namespace

Document = dict[str, Any]

COMPONENT_LABEL = "app.kubernetes.io/component"
ENVIRONMENT_LABEL = "delivery-gate.io/environment"

M9 = "deployment-gate-policy-m9.md"
DP = "delivery-policy.md"

# Label values. `team` picks the Slack channel (policy.notifications), `action` says what the
# alert triggers: an automatic rollback, a ticket, or a notification only.
CRITICAL, WARNING = "critical", "warning"
ONCALL, PLATFORM, SRE = "oncall", "platform", "sre"
ROLLBACK, TICKET, NOTIFY = "rollback", "ticket", "notify"

# Windows and hold times that the policy does not state.
RATE_WINDOW = "5m"  # latency and error-ratio rates; also the analysis window of the canary steps
BASELINE_WINDOW = "1h"  # the error-ratio baseline: the hour that ended an hour ago ...
BASELINE_OFFSET = "1h"  # ... so an increase that began within the last hour is not in it
ROLLBACK_FOR = "2m"  # rollback criteria: one bad evaluation is noise, two minutes is a trend
TICKET_FOR = "10m"  # p95 ticket: a deploy's warm-up spike opens no ticket
HEALTH_FOR = "1m"
ABSENT_FOR = "10m"  # longer than a rollout's pod churn, short enough to notice within a bake step
# The labels the error-ratio recording rules keep: `namespace` too, so that the alerts reading the
# recorded series can select their environment's namespace (`_scope`).
RECORD_BY = "job, namespace"

RELEASE_GROUP, ERROR_RATIO_GROUP, REDIS_GROUP, ABSENT_GROUP = "release", "error-ratio", "redis", "absent"


@dataclass(frozen=True)
class BurnRate:
    """One multi-window burn-rate alert (Google SRE workbook, "Alerting on SLOs", table 5-8)."""

    factor: str  # how many times faster than sustainable the budget burns
    long_window: str
    short_window: str
    severity: str  # critical pages (and rolls back), warning opens a ticket


BURN_RATES = (
    BurnRate("14.4", "1h", "5m", CRITICAL),  # 2% of a 30-day budget in one hour
    BurnRate("6", "6h", "30m", CRITICAL),  # 5% in six hours
    BurnRate("1", "3d", "6h", WARNING),  # 10% in three days
)
ERROR_RATIO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")  # every window a burn-rate or baseline reads


# ---------------------------------------------------------------------------------------------
# Formatting


def error_budget(policy: GatePolicy) -> Decimal:
    """1 - availability SLO, computed in decimal: 0.999 -> 0.001 exactly."""
    return Decimal(1) - Decimal(repr(policy.monitoring.availability_slo))


def runbook_base_url(policy: GatePolicy) -> str:
    """Where docs/runbooks of this project is published.

    `monitoring.runbookBaseUrl` when set; otherwise this project's repository on GitHub, the same one
    (and ref) the gate workflows check out: `workflows.gateRepository`, by default
    `<owner of the first gated repository>/delivery-gate`.
    """
    if policy.monitoring.runbook_base_url is not None:
        return policy.monitoring.runbook_base_url
    repository = policy.workflows.gate_repository
    if repository is None:
        owner = policy.repositories[0].owner
        if owner is None:
            raise ValueError(
                "runbook URLs need repositories[0].owner (the loader fills it from github:owner) "
                "or monitoring.runbookBaseUrl"
            )
        repository = f"{owner}/delivery-gate"
    return f"https://github.com/{repository}/blob/{policy.workflows.gate_ref}/docs/runbooks"


def runbook_url(policy: GatePolicy, alert: str) -> str:
    return f"{runbook_base_url(policy)}/{alert}.md"


# Grafana's limit on a dashboard uid.
DASHBOARD_UID_MAX = 40


def dashboard_uid(policy: GatePolicy) -> str:
    """The stable uid of the environment's Grafana dashboard (gate/runtime/dashboards.py): one per
    environment,
    the same on every run; `dg-<environment>` when the long form would exceed Grafana's 40 characters."""
    uid = f"delivery-gate-{policy.environment}"
    return uid if len(uid) <= DASHBOARD_UID_MAX else f"dg-{policy.environment}"


def dashboard_url(policy: GatePolicy) -> str | None:
    """GATE-OBS-01: where the alert's dashboard is served, when monitoring.grafana.url says."""
    base = policy.monitoring.grafana.url
    return None if base is None else f"{base}/d/{dashboard_uid(policy)}"


# ---------------------------------------------------------------------------------------------
# Expressions


def _scope(policy: GatePolicy) -> tuple[promql.Matcher, ...]:
    """The matchers every selector carries: the application's namespace.

    A pull request's disposable environment (`aos-pr-42`, gate/runtime/ephemeral.py) runs the same
    application, with the same `job` and metric names and staging's policy, and may share staging's
    cluster and Prometheus. A selector without the namespace would let an unreviewed pull request's
    failures fire staging's critical alerts, which roll staging back (DP §Rollback Criteria), and let
    its series hide staging's absent ones.
    """
    return (promql.eq("namespace", app_namespace(policy)),)


def _series(policy: GatePolicy, metric: str, *matchers: promql.Matcher, job: bool = True) -> str:
    """A selector of this environment's series of `metric`: its `job` (when the metric has one per
    application), its namespace, then `matchers`."""
    own = (promql.eq("job", policy.application.name),) if job else ()
    return promql.selector(metric, *own, *_scope(policy), *matchers)


def _requests_base(policy: GatePolicy) -> str:
    metric = policy.application.requests_metric
    return metric.removesuffix("_total") or metric


def error_ratio_record(policy: GatePolicy, window: str) -> str:
    """Name of the recorded 5xx ratio over `window` (`job:http_requests:error_ratio_rate5m`)."""
    return f"job:{_requests_base(policy)}:error_ratio_rate{window}"


def _recorded(policy: GatePolicy, window: str) -> str:
    # The recorded series carry the environment label, so two environments' rules loaded into one
    # Prometheus never write the same series; and their namespace (kept by the recording rule).
    environment = promql.eq("environment", policy.environment)
    return _series(policy, error_ratio_record(policy, window), environment)


def _error_ratio_expr(policy: GatePolicy, window: str) -> str:
    metric = policy.application.requests_metric
    total = f"sum by ({RECORD_BY}) (rate({_series(policy, metric)}[{window}]))"
    # `or ... * 0`: with no 5xx series at all the ratio is 0, not missing; a missing ratio would
    # hide the first errors after a clean baseline from ErrorRateIncrease and the burn rates.
    errors = f"sum by ({RECORD_BY}) (rate({_series(policy, metric, promql.regex('code', '5..'))}[{window}]))"
    return f"(\n  {errors}\n  or\n  {total} * 0\n)\n/\n{total}"


def _latency_quantile_ms(policy: GatePolicy, quantile: str) -> str:
    app = policy.application
    buckets = f"rate({_series(policy, f'{app.latency_histogram}_bucket')}[{RATE_WINDOW}])"
    return f"histogram_quantile({quantile}, sum by (job, le) ({buckets})) * 1000"


# ---------------------------------------------------------------------------------------------
# The alerts' queries: one registry that the rules below and the dashboards (gate/runtime/dashboards.py,
# GATE-OBS-01) both read, so no PromQL is written twice.


@dataclass(frozen=True)
class AlertQuery:
    """What one alert rule evaluates: `series` compared with `threshold`, or (no comparison) any
    sample at all fires (the absent() companions).

    `series` are what a dashboard graphs; `condition` is the rule's `expr`: each series compared
    with the threshold, joined with `and` (the burn rates' long and short windows).
    """

    key: str  # the alertname, or <alertname>:<window> for the burn rates
    alert: str
    series: tuple[str, ...]
    comparison: str | None = None  # ">" or "=="
    threshold: str | None = None  # as written in the rule: number() text, or `(14.4 * 0.001)`
    threshold_value: Decimal | None = None  # the same threshold as a number (dashboards draw it)

    @property
    def condition(self) -> str:
        if self.comparison is None:
            (only,) = self.series
            return only
        return "\nand\n".join(
            # A multi-line series puts the comparison on a line of its own.
            f"{expr}\n{self.comparison} {self.threshold}"
            if "\n" in expr
            else f"{expr} {self.comparison} {self.threshold}"
            for expr in self.series
        )


def _compared(
    key: str, series: tuple[str, ...], comparison: str, threshold: Decimal, text: str | None = None
) -> AlertQuery:
    return AlertQuery(
        key=key,
        alert=key.partition(":")[0],
        series=series,
        comparison=comparison,
        threshold=number(threshold) if text is None else text,
        threshold_value=threshold,
    )


def burn_key(burn: BurnRate) -> str:
    return f"ErrorBudgetBurn:{burn.long_window}"


def requests_selector(policy: GatePolicy) -> str:
    """This environment's series of the requests counter (what RequestsMetricAbsent watches)."""
    return _series(policy, policy.application.requests_metric)


def request_rate(policy: GatePolicy) -> str:
    """Requests per second of this environment's application (dashboards; no alert reads it)."""
    return f"sum(rate({requests_selector(policy)}[{RATE_WINDOW}]))"


def error_ratio(policy: GatePolicy) -> str:
    """The recorded 5xx ratio over RATE_WINDOW: what ErrorRateIncrease compares with its baseline."""
    return _recorded(policy, RATE_WINDOW)


def latency_ms(policy: GatePolicy, quantile: str) -> str:
    """The latency quantile in ms the latency alerts compare with their targets ("0.95", "0.99")."""
    return _latency_quantile_ms(policy, quantile)


def _absent_companions(policy: GatePolicy) -> tuple[tuple[str, str, str], ...]:
    """(alertname, selector, the alerts it keeps from going blind): one per metric an alert reads."""
    app = policy.application
    return (
        (
            "ReplayMismatchMetricAbsent",
            _series(policy, policy.thresholds.replay_mismatch.metric, job=False),
            "ReplayMismatch",
        ),
        (
            "RedisMetricAbsent",
            _series(policy, policy.thresholds.redis.metric, job=False),
            "RedisDisconnected",
        ),
        (
            "LatencyMetricAbsent",
            _series(policy, f"{app.latency_histogram}_bucket"),
            "LatencyP95OverTarget, LatencyP99OverTarget",
        ),
        ("RequestsMetricAbsent", _series(policy, app.requests_metric), "ErrorRateIncrease, ErrorBudgetBurn"),
        ("ScrapeTargetAbsent", _series(policy, "up"), "HealthCheckFailing"),
    )


def alert_queries(policy: GatePolicy) -> dict[str, AlertQuery]:
    """Every alert rule's query, keyed by `AlertQuery.key`, in rule order."""
    mismatch = policy.thresholds.replay_mismatch
    latency = policy.thresholds.latency
    budget = error_budget(policy)
    queries = [
        _compared(
            "ReplayMismatch",
            (f"sum(increase({_series(policy, mismatch.metric, job=False)}[{mismatch.window}]))",),
            ">",
            Decimal(number(mismatch.increase_above)),
        ),
        _compared("HealthCheckFailing", (_series(policy, "up"),), "==", Decimal(0)),
        _compared(
            "LatencyP99OverTarget",
            (latency_ms(policy, "0.99"),),
            ">",
            Decimal(number(latency.p99_target_ms)),
        ),
        _compared(
            "LatencyP95OverTarget",
            (latency_ms(policy, "0.95"),),
            ">",
            Decimal(number(latency.p95_target_ms)),
        ),
        _compared(
            "ErrorRateIncrease",
            (f"{error_ratio(policy)}\n  - {_recorded(policy, BASELINE_WINDOW)} offset {BASELINE_OFFSET}",),
            ">",
            Decimal(number(policy.thresholds.max_error_rate_increase)),
        ),
        *(
            _compared(
                burn_key(burn),
                (_recorded(policy, burn.long_window), _recorded(policy, burn.short_window)),
                ">",
                Decimal(burn.factor) * budget,
                text=f"({burn.factor} * {number(budget)})",
            )
            for burn in BURN_RATES
        ),
        _compared(
            "RedisDisconnected",
            (_series(policy, policy.thresholds.redis.metric, job=False),),
            "==",
            Decimal(0),
        ),
        *(
            AlertQuery(key=name, alert=name, series=(f"absent({selector})",))
            for name, selector, _ in _absent_companions(policy)
        ),
    ]
    return {query.key: query for query in queries}


# ---------------------------------------------------------------------------------------------
# Rules


def _alert(
    policy: GatePolicy,
    name: str,
    expr: str,
    *,
    hold: str | None,
    severity: str,
    team: str,
    action: str,
    summary: str,
    description: str,
    policy_line: str,
    extra_labels: dict[str, str] | None = None,
) -> Document:
    rule: Document = {"alert": name, "expr": expr}
    if hold is not None:
        rule["for"] = hold
    rule["labels"] = {
        "severity": severity,
        "team": team,
        "action": action,
        "environment": policy.environment,
        # The Prometheus Operator routes an AlertmanagerConfig only the alerts whose `namespace`
        # label is its own namespace; aggregated and absent() alerts have none, so every alert
        # carries the namespace both objects live in.
        "namespace": policy.monitoring.namespace,
        **(extra_labels or {}),
    }
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": runbook_url(policy, name),
        "policy": policy_line,
    }
    dashboard = dashboard_url(policy)
    if dashboard is not None:
        # GATE-OBS-01: the runbook's alert links the dashboard built from this very expression.
        rule["annotations"]["dashboard_url"] = dashboard
    return rule


def _release_rules(policy: GatePolicy) -> list[Document]:
    app, env = policy.application, policy.environment
    mismatch = policy.thresholds.replay_mismatch
    latency = policy.thresholds.latency
    channels = policy.notifications
    q = alert_queries(policy)
    return [
        # M9 §Post-merge 2: "`aos_replay_mismatch_total` increases above threshold in 5m" -> rollback,
        # operator incident, high-priority issue, #oncall and #platform. Summed over pods: the
        # threshold is the service's, not each replica's. No `for`: §Thresholds "immediate rollback".
        _alert(
            policy,
            "ReplayMismatch",
            q["ReplayMismatch"].condition,
            hold=None,
            severity=CRITICAL,
            team=ONCALL,
            action=ROLLBACK,
            summary=f"Replay mismatches in {env}: roll back",
            description=(
                f"{mismatch.metric} grew by more than {number(mismatch.increase_above)} in "
                f"{mismatch.window} in {env}: replayed traces no longer match (root_hash). Roll back to "
                "the previous image tag, open an operator incident and a high-priority issue "
                f"(labels parity-mismatch, high-priority); {channels.oncall} and {channels.platform} "
                "are notified."
            ),
            policy_line=f"{M9} §Post-merge 2",
        ),
        # DP §Rollback Criteria: "Health check failures". Per target, so the message names the pod.
        _alert(
            policy,
            "HealthCheckFailing",
            q["HealthCheckFailing"].condition,
            hold=HEALTH_FOR,
            severity=CRITICAL,
            team=ONCALL,
            action=ROLLBACK,
            summary=f"{app.name} in {env}: a target fails its health check",
            description=(
                f"A target of {app.name} in {env} has not answered its scrape (up == 0) for {HEALTH_FOR}. "
                "If it started with a deploy, roll back."
            ),
            policy_line=f"{DP} §Rollback Criteria (health check failures)",
        ),
        # DP §Rollback Criteria: "p99 latency exceeds target".
        _alert(
            policy,
            "LatencyP99OverTarget",
            q["LatencyP99OverTarget"].condition,
            hold=ROLLBACK_FOR,
            severity=CRITICAL,
            team=ONCALL,
            action=ROLLBACK,
            summary=f"{app.name} p99 latency over {number(latency.p99_target_ms)} ms in {env}: roll back",
            description=(
                f"The p99 latency of {app.name} in {env} over {RATE_WINDOW} has exceeded the "
                f"{number(latency.p99_target_ms)} ms target for {ROLLBACK_FOR}."
            ),
            policy_line=f"{DP} §Rollback Criteria (p99 latency exceeds target)",
        ),
        # M9 §Thresholds: "p95 > target (from SLO mapper): create an alerting ticket and notify
        # #platform". The target is p95TargetMs or the stack's SLO suggestion (gate/policy/slo.py).
        _alert(
            policy,
            "LatencyP95OverTarget",
            q["LatencyP95OverTarget"].condition,
            hold=TICKET_FOR,
            severity=WARNING,
            team=PLATFORM,
            action=TICKET,
            summary=f"{app.name} p95 latency over {number(latency.p95_target_ms)} ms in {env}",
            description=(
                f"The p95 latency of {app.name} in {env} over {RATE_WINDOW} has exceeded the "
                f"{number(latency.p95_target_ms)} ms target for {TICKET_FOR}. Open a ticket for "
                f"{channels.platform}."
            ),
            policy_line=f"{M9} §Thresholds & actions (p95 > target)",
        ),
    ]


def _error_ratio_rules(policy: GatePolicy) -> list[Document]:
    app, env = policy.application, policy.environment
    increase = number(policy.thresholds.max_error_rate_increase)
    budget = number(error_budget(policy))
    slo = number(policy.monitoring.availability_slo)
    q = alert_queries(policy)
    rules: list[Document] = [
        {
            "record": error_ratio_record(policy, window),
            "expr": _error_ratio_expr(policy, window),
            "labels": {"environment": env},
        }
        for window in ERROR_RATIO_WINDOWS
    ]
    # DP §Rollback Criteria: "Error rate increases > {{MAX_ERROR_RATE_INCREASE}} above baseline".
    # The baseline is the ratio of the hour that ended an hour ago; an absolute increase
    # (0.01 = one percentage point), as thresholds.maxErrorRateIncrease is defined.
    rules.append(
        _alert(
            policy,
            "ErrorRateIncrease",
            q["ErrorRateIncrease"].condition,
            hold=ROLLBACK_FOR,
            severity=CRITICAL,
            team=ONCALL,
            action=ROLLBACK,
            summary=f"{app.name} 5xx ratio up more than {increase} in {env}: roll back",
            description=(
                f"The 5xx ratio of {app.name} in {env} over {RATE_WINDOW} is more than {increase} above "
                f"its baseline (the {BASELINE_WINDOW} ratio {BASELINE_OFFSET} earlier) for {ROLLBACK_FOR}."
            ),
            policy_line=f"{DP} §Rollback Criteria (error rate increases above baseline)",
        )
    )
    # DP §Post-Deployment: "Health target burn rate monitored during rollout"; the objective is
    # monitoring.availabilitySlo. One alertname, so the page inhibits the ticket (alertmanager_config).
    for burn in BURN_RATES:
        page = burn.severity == CRITICAL
        rules.append(
            _alert(
                policy,
                "ErrorBudgetBurn",
                q[burn_key(burn)].condition,
                hold=None,
                severity=burn.severity,
                team=ONCALL if page else PLATFORM,
                action=ROLLBACK if page else TICKET,
                summary=f"{app.name} burns its {slo} availability budget {burn.factor}x too fast in {env}",
                description=(
                    f"The 5xx ratio of {app.name} in {env} is above {burn.factor} x {budget} (the error "
                    f"budget of a {slo} SLO) over both {burn.long_window} and {burn.short_window}."
                ),
                policy_line=f"{DP} §Post-Deployment (burn rate monitored during rollout)",
                extra_labels={"window": burn.long_window},
            )
        )
    return rules


def _redis_rules(policy: GatePolicy) -> list[Document]:
    redis, env = policy.thresholds.redis, policy.environment
    # M9 §Thresholds: "Rate-limit failover (redis_connected==0): if > 60s -> alert SRE".
    # `== 0` held `for: <disconnectedFor>` counts from the first evaluation that reads a 0, so the
    # alert never fires before the gauge has read 0 for the whole duration, whatever the scrape and
    # evaluation intervals (pending at 59 s, firing from 60 s; at most one scrape plus one
    # evaluation interval late). `max_over_time(redis_connected[60s]) == 0` would instead fire as
    # soon as no 1 was scraped in the last 60 s: at 45 s with a 15 s scrape.
    # A warning, not critical: a Redis outage is not the release's doing, and a critical alert
    # rolls back (DP §Rollback Criteria). team sre routes it to policy.notifications.sre.
    seconds = duration_seconds(redis.disconnected_for)
    return [
        _alert(
            policy,
            "RedisDisconnected",
            alert_queries(policy)["RedisDisconnected"].condition,
            hold=redis.disconnected_for,
            severity=WARNING,
            team=SRE,
            action=NOTIFY,
            summary=f"Redis disconnected for {seconds}s in {env}: rate limiting has failed over",
            description=(
                f"{redis.metric} has read 0 for {redis.disconnected_for} in {env}: the rate limiter "
                f"runs on its failover path. SRE ({policy.notifications.sre}) restores Redis."
            ),
            policy_line=f"{M9} §Thresholds & actions (redis_connected==0 > {seconds}s)",
        )
    ]


def _absent_rules(policy: GatePolicy) -> list[Document]:
    env = policy.environment
    q = alert_queries(policy)
    # DP §Post-Deployment: "Telemetry verified: ... metrics ... flowing correctly after deployment".
    # An alert over a series that is gone is silent, not green: one companion per metric read.
    return [
        _alert(
            policy,
            name,
            q[name].condition,
            hold=ABSENT_FOR,
            severity=WARNING,
            team=PLATFORM,
            action=TICKET,
            summary=f"{selector} is absent in {env}",
            description=(
                f"Prometheus has had no {selector} series in {env} for {ABSENT_FOR}; "
                f"{blind} cannot fire until it is back."
            ),
            policy_line=f"{DP} §Post-Deployment (telemetry verified); §Pre-Deployment (alerting)",
        )
        for name, selector, blind in _absent_companions(policy)
    ]


def rule_groups(policy: GatePolicy) -> list[Document]:
    """The rule groups of this stack's environment, in a fixed order.

    No group sets `interval`: Prometheus's evaluation_interval applies (and promtool's in tests).
    Recording rules come first in their group, so the alerts that read them see this evaluation's
    values.
    """
    prefix = f"delivery-gate.{policy.environment}"
    return [
        {"name": f"{prefix}.{RELEASE_GROUP}", "rules": _release_rules(policy)},
        {"name": f"{prefix}.{ERROR_RATIO_GROUP}", "rules": _error_ratio_rules(policy)},
        {"name": f"{prefix}.{REDIS_GROUP}", "rules": _redis_rules(policy)},
        {"name": f"{prefix}.{ABSENT_GROUP}", "rules": _absent_rules(policy)},
    ]


def alert_names(policy: GatePolicy) -> list[str]:
    """Every alertname, once, in rule order; each has docs/runbooks/<name>.md."""
    names = [rule["alert"] for group in rule_groups(policy) for rule in group["rules"] if "alert" in rule]
    return list(dict.fromkeys(names))


def rules_yaml(policy: GatePolicy) -> str:
    """The groups as a plain Prometheus rules file (`promtool check rules`)."""
    return yamltext.dump({"groups": rule_groups(policy)})


def _metadata(policy: GatePolicy) -> Document:
    return {
        "name": f"delivery-gate-{policy.environment}",
        "namespace": policy.monitoring.namespace,
        "labels": {
            **MANAGED_BY,
            COMPONENT_LABEL: "alerting",
            ENVIRONMENT_LABEL: policy.environment,
        },
    }


def prometheus_rule(policy: GatePolicy) -> Document:
    """The PrometheusRule custom resource of this stack's environment."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(policy),
        "spec": {"groups": rule_groups(policy)},
    }


# ---------------------------------------------------------------------------------------------
# Alertmanager routing: M9 §Post-merge 2 "Notify #oncall and #platform Slack", §Thresholds
# "notify #platform" and "alert SRE".

GROUP_BY = ("alertname", "environment")
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL, ONCALL_REPEAT_INTERVAL = "30s", "5m", "4h", "1h"
SLACK_TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})"
SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n"
    "{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n"
    # GATE-OBS-01: the dashboard next to the runbook, when monitoring.grafana.url gives one.
    "{{ if .Annotations.dashboard_url }}Dashboard: {{ .Annotations.dashboard_url }}\n{{ end }}"
    "{{ end }}"
)


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[tuple[str, str], ...]  # (label, value), all with "="
    continue_: bool = False
    repeat_interval: str | None = None


def _routes(policy: GatePolicy) -> tuple[Route, ...]:
    # M9 §Post-merge 2 and §Thresholds act, not only page: rollback and ticket alerts also go to the
    # alert relay (gate/runtime/relay.py), and on to their channels.
    acting = (
        tuple(Route(relay.RECEIVER, (("action", action),), continue_=True) for action in relay.ACTIONS)
        if relay.enabled(policy)
        else ()
    )
    return (
        *acting,
        # Every critical alert is a rollback criterion: #oncall, and on to the next routes.
        Route(ONCALL, (("severity", CRITICAL),), continue_=True, repeat_interval=ONCALL_REPEAT_INTERVAL),
        # M9 §Post-merge 2: a rollback also notifies #platform.
        Route(PLATFORM, (("action", ROLLBACK),)),
        Route(SRE, (("team", SRE),)),
        Route(PLATFORM, (("team", PLATFORM),)),
        Route(ONCALL, (("team", ONCALL),), repeat_interval=ONCALL_REPEAT_INTERVAL),
    )


def _channels(policy: GatePolicy) -> dict[str, str]:
    """Receiver name -> Slack channel (receivers are named after the `team` label)."""
    notifications = policy.notifications
    return {ONCALL: notifications.oncall, PLATFORM: notifications.platform, SRE: notifications.sre}


def alertmanager_config(policy: GatePolicy) -> Document:
    """The AlertmanagerConfig custom resource (camelCase fields, v1alpha1).

    The operator adds a `namespace="<its namespace>"` matcher to this route, which is why every
    alert carries that label. The Slack webhook is a reference to monitoring.slackWebhook.
    """
    webhook = policy.monitoring.slack_webhook

    def route(r: Route) -> Document:
        out: Document = {
            "receiver": r.receiver,
            "matchers": [{"name": k, "value": v, "matchType": "="} for k, v in r.matchers],
        }
        if r.continue_:
            out["continue"] = True
        if r.repeat_interval:
            out["repeatInterval"] = r.repeat_interval
        return out

    receivers: list[Document] = [
        {
            "name": name,
            "slackConfigs": [
                {
                    "apiURL": {"name": webhook.name, "key": webhook.key},
                    "channel": channel,
                    "sendResolved": True,
                    "title": SLACK_TITLE,
                    "text": SLACK_TEXT,
                }
            ],
        }
        for name, channel in _channels(policy).items()
    ]
    if relay.enabled(policy):
        # Resolved alerts act on nothing (the relay would skip them).
        receivers.append(
            {
                "name": relay.RECEIVER,
                "webhookConfigs": [{"url": relay.webhook_url(policy), "sendResolved": False}],
            }
        )
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": _metadata(policy),
        "spec": {
            "route": {
                # Anything no route claims goes to the platform team, which owns the gate.
                "receiver": PLATFORM,
                "groupBy": list(GROUP_BY),
                "groupWait": GROUP_WAIT,
                "groupInterval": GROUP_INTERVAL,
                "repeatInterval": REPEAT_INTERVAL,
                "routes": [route(r) for r in _routes(policy)],
            },
            "receivers": receivers,
            "inhibitRules": [
                {
                    # While the page for an alert fires, its ticket-level twin (same alertname and
                    # environment, e.g. ErrorBudgetBurn 14.4x and 1x) says nothing new.
                    "sourceMatch": [{"name": "severity", "value": CRITICAL, "matchType": "="}],
                    "targetMatch": [{"name": "severity", "value": WARNING, "matchType": "="}],
                    "equal": list(GROUP_BY),
                }
            ],
        },
    }


def _relay_receivers(policy: GatePolicy) -> list[Document]:
    if not relay.enabled(policy):
        return []
    return [
        {
            "name": relay.RECEIVER,
            "webhook_configs": [{"url": relay.webhook_url(policy), "send_resolved": False}],
        }
    ]


def alertmanager_document(
    policy: GatePolicy, webhook_url_file: str = "/etc/alertmanager/secrets/slack-webhook"
) -> Document:
    """The same routing as a plain alertmanager.yml document; the webhook is read from a file."""

    def route(r: Route) -> Document:
        out: Document = {"receiver": r.receiver, "matchers": [f'{k}="{v}"' for k, v in r.matchers]}
        if r.continue_:
            out["continue"] = True
        if r.repeat_interval:
            out["repeat_interval"] = r.repeat_interval
        return out

    return {
        "route": {
            "receiver": PLATFORM,
            "group_by": list(GROUP_BY),
            "group_wait": GROUP_WAIT,
            "group_interval": GROUP_INTERVAL,
            "repeat_interval": REPEAT_INTERVAL,
            "routes": [route(r) for r in _routes(policy)],
        },
        "receivers": [
            {
                "name": name,
                "slack_configs": [
                    {
                        "api_url_file": webhook_url_file,
                        "channel": channel,
                        "send_resolved": True,
                        "title": SLACK_TITLE,
                        "text": SLACK_TEXT,
                    }
                ],
            }
            for name, channel in _channels(policy).items()
        ]
        + _relay_receivers(policy),
        "inhibit_rules": [
            {
                "source_matchers": [f'severity="{CRITICAL}"'],
                "target_matchers": [f'severity="{WARNING}"'],
                "equal": list(GROUP_BY),
            }
        ],
    }


def alertmanager_yaml(
    policy: GatePolicy, webhook_url_file: str = "/etc/alertmanager/secrets/slack-webhook"
) -> str:
    """alertmanager.yml text (`amtool check-config`)."""
    return yamltext.dump(alertmanager_document(policy, webhook_url_file))
