"""Alerts and routing (gate/runtime/alerts.py), checked by the tools that will run them.

- the PrometheusRule and AlertmanagerConfig validate against their CRDs;
- `promtool check rules` accepts the rules, and `promtool test rules` runs unit tests generated here
  from the policy: each alert fires just past its boundary and stays quiet just short of it;
- `amtool check-config` accepts the routing, and `amtool config routes test` sends each alert to the
  channels the policy names.

Each tool is also shown to fail on a wrong expectation, so a green run means something.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.policy.types import duration_seconds
from gate.runtime import alerts
from tests.support import prom_tools
from tests.support.crds import crd_problems

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "docs" / "runbooks"
APP = "aos"
# The application's series as Prometheus scrapes them: every selector matches the namespace too.
NAMESPACE = {"namespace": APP}
JOB = {"job": APP, **NAMESPACE}

VARIANT_THRESHOLDS = {
    "replayMismatch": {"increaseAbove": 2},
    "latency": {"p95TargetMs": 250, "p99TargetMs": 600},
    "maxErrorRateIncrease": 0.05,
    "redis": {"disconnectedFor": "120s"},
}


def make_policy(stack: str = "dev", environment: str = "dev", **values: Any) -> GatePolicy:
    return load_policy(
        {"environment": environment, "repositories": [{"name": APP}], **values},
        stack=stack,
        github_owner="acme",
    )


@pytest.fixture(scope="module")
def policy() -> GatePolicy:
    return make_policy()


@pytest.fixture(scope="module")
def variant() -> GatePolicy:
    """Every threshold an alert reads moved away from its default."""
    return make_policy(thresholds=VARIANT_THRESHOLDS, monitoring={"availabilitySlo": 0.995})


def all_rules(policy: GatePolicy) -> list[dict[str, Any]]:
    return [rule for group in alerts.rule_groups(policy) for rule in group["rules"]]


def alert_rules(policy: GatePolicy) -> list[dict[str, Any]]:
    return [rule for rule in all_rules(policy) if "alert" in rule]


def rule(policy: GatePolicy, name: str, **labels: str) -> dict[str, Any]:
    found = [
        r
        for r in alert_rules(policy)
        if r["alert"] == name and all(r["labels"].get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{name} {labels}: {len(found)} rules"
    return found[0]


# ---------------------------------------------------------------------------------------------
# Custom resources against their CRDs


@pytest.mark.parametrize(
    "make",
    [
        make_policy,
        lambda: make_policy(stack="prod", environment="production", thresholds=VARIANT_THRESHOLDS),
    ],
    ids=["dev", "production-variant"],
)
def test_custom_resources_validate_against_their_crds(make: Any) -> None:
    policy = make()
    rule_doc, am_doc = alerts.prometheus_rule(policy), alerts.alertmanager_config(policy)
    assert rule_doc["apiVersion"] == "monitoring.coreos.com/v1" and rule_doc["kind"] == "PrometheusRule"
    assert am_doc["apiVersion"] == "monitoring.coreos.com/v1alpha1" and am_doc["kind"] == "AlertmanagerConfig"
    assert crd_problems(rule_doc) == []
    assert crd_problems(am_doc) == []
    for doc in (rule_doc, am_doc):
        assert doc["metadata"]["name"] == f"delivery-gate-{policy.environment}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "delivery-gate"


def test_the_crd_check_catches_plain_alertmanager_field_names(policy: GatePolicy) -> None:
    """AlertmanagerConfig is camelCase: alertmanager.yml's snake_case keys are not accepted."""
    doc = alerts.alertmanager_config(policy)
    route = dict(doc["spec"]["route"])
    route["group_by"] = route.pop("groupBy")
    receiver = dict(doc["spec"]["receivers"][0])
    receiver["slack_configs"] = [{"api_url": "https://hooks.slack.com/services/x", "channel": "#oncall"}]
    broken = {**doc, "spec": {**doc["spec"], "route": route, "receivers": [receiver]}}
    problems = crd_problems(broken)
    assert any("group_by" in p for p in problems), problems
    assert any("slack_configs" in p for p in problems), problems
    assert crd_problems({**doc, "apiVersion": "monitoring.coreos.com/v1"})[0].startswith("no CRD")


# ---------------------------------------------------------------------------------------------
# Shape of every alert


def test_every_alert_has_the_labels_and_annotations_routing_and_runbooks_need(policy: GatePolicy) -> None:
    for r in alert_rules(policy):
        labels, annotations = r["labels"], r["annotations"]
        assert labels["severity"] in ("critical", "warning"), r["alert"]
        assert labels["team"] in ("oncall", "platform", "sre"), r["alert"]
        assert labels["environment"] == "dev"
        assert labels["namespace"] == policy.monitoring.namespace
        # critical is reserved for rollback criteria (DP §Rollback Criteria: "Critical alert triggered").
        assert (labels["severity"] == "critical") == (labels["action"] == "rollback"), r["alert"]
        assert annotations["summary"] and annotations["description"] and annotations["policy"]
        assert annotations["runbook_url"] == (
            f"https://github.com/acme/delivery-gate/blob/main/docs/runbooks/{r['alert']}.md"
        )


def test_the_alert_catalogue(policy: GatePolicy) -> None:
    assert alerts.alert_names(policy) == [
        "ReplayMismatch",
        "HealthCheckFailing",
        "LatencyP99OverTarget",
        "LatencyP95OverTarget",
        "ErrorRateIncrease",
        "ErrorBudgetBurn",
        "RedisDisconnected",
        "ReplayMismatchMetricAbsent",
        "RedisMetricAbsent",
        "LatencyMetricAbsent",
        "RequestsMetricAbsent",
        "ScrapeTargetAbsent",
    ]
    teams = {r["alert"]: (r["labels"]["severity"], r["labels"]["team"]) for r in alert_rules(policy)}
    assert teams["ReplayMismatch"] == ("critical", "oncall")
    assert teams["LatencyP95OverTarget"] == ("warning", "platform")
    assert teams["RedisDisconnected"] == ("warning", "sre")
    assert rule(policy, "ReplayMismatch")["labels"]["action"] == "rollback"


def test_every_alert_has_a_runbook_and_every_runbook_an_alert(policy: GatePolicy) -> None:
    names = set(alerts.alert_names(policy))
    files = {path.stem for path in RUNBOOKS.glob("*.md")}
    assert names - files == set(), "alerts without docs/runbooks/<alert>.md"
    assert files - names == set(), "runbooks of no alert"
    for name in names:
        text = (RUNBOOKS / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {name}\n"), name
        for heading in ("## What it means", "## First checks", "## Rollback and escalation"):
            assert heading in text, f"{name}: missing {heading!r}"


def test_runbook_base_url(policy: GatePolicy) -> None:
    assert alerts.runbook_base_url(policy) == "https://github.com/acme/delivery-gate/blob/main/docs/runbooks"
    custom = make_policy(monitoring={"runbookBaseUrl": "https://runbooks.example.com/gate"})
    assert rule(custom, "RedisDisconnected")["annotations"]["runbook_url"] == (
        "https://runbooks.example.com/gate/RedisDisconnected.md"
    )
    moved = make_policy(workflows={"gateRepository": "platform/gate", "gateRef": "v2"})
    assert alerts.runbook_base_url(moved) == "https://github.com/platform/gate/blob/v2/docs/runbooks"
    ownerless = GatePolicy.model_validate({"environment": "dev", "repositories": [{"name": APP}]})
    with pytest.raises(ValueError, match="owner"):
        alerts.runbook_base_url(ownerless)


# Every metric an alert reads must have an absent() companion: tokens of the expressions that are
# neither functions, keywords, label lists nor matchers are metric names.
_KEYWORDS = {"and", "or", "unless", "offset", "bool"}


def metrics_read(expr: str) -> set[str]:
    text = re.sub(r"\{[^}]*\}", "", expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if following != "(" and match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def test_metrics_read_finds_metrics_and_only_metrics() -> None:
    expr = 'histogram_quantile(0.95, sum by (job, le) (rate(h_bucket{job="a",le=~"1.*"}[5m]))) * 1000 > 3'
    assert metrics_read(expr) == {"h_bucket"}
    assert metrics_read('a:b:c{x="1"} - d offset 1h > 0.5 and on (job) up == 0') == {"a:b:c", "d", "up"}


@pytest.mark.parametrize("name", ["dev", "variant"])
def test_every_metric_an_alert_reads_has_an_absent_companion(
    name: str, request: pytest.FixtureRequest
) -> None:
    policy: GatePolicy = request.getfixturevalue("policy" if name == "dev" else "variant")
    recorded = {r["record"]: metrics_read(r["expr"]) for r in all_rules(policy) if "record" in r}
    covered: set[str] = set()
    read: set[str] = set()
    for r in alert_rules(policy):
        absent = re.fullmatch(r"absent\((?P<selector>[^()]+)\)", r["expr"])
        if absent:
            covered.add(re.sub(r"\{.*", "", absent.group("selector")))
            assert r["for"] == "10m" and r["labels"]["severity"] == "warning"
            assert r["labels"]["team"] == "platform"
            continue
        for metric in metrics_read(r["expr"]):
            read |= recorded.get(metric, {metric})
    app = policy.application
    assert read == {
        policy.thresholds.replay_mismatch.metric,
        policy.thresholds.redis.metric,
        f"{app.latency_histogram}_bucket",
        app.requests_metric,
        "up",
    }
    assert covered == read


# ---------------------------------------------------------------------------------------------
# Policy values in the rendered expressions


def test_thresholds_come_from_the_policy(policy: GatePolicy, variant: GatePolicy) -> None:
    mismatch = 'sum(increase(aos_replay_mismatch_total{namespace="aos"}[5m]))'
    assert rule(policy, "ReplayMismatch")["expr"] == f"{mismatch} > 0"
    assert rule(variant, "ReplayMismatch")["expr"] == f"{mismatch} > 2"
    assert rule(policy, "RedisDisconnected")["for"] == "60s"
    assert rule(variant, "RedisDisconnected")["for"] == "120s"
    assert rule(policy, "RedisDisconnected")["expr"] == 'redis_connected{namespace="aos"} == 0'
    assert rule(policy, "LatencyP95OverTarget")["expr"] == (
        "histogram_quantile(0.95, sum by (job, le) "
        '(rate(http_request_duration_seconds_bucket{job="aos",namespace="aos"}[5m]))) * 1000 > 300'
    )
    assert rule(variant, "LatencyP95OverTarget")["expr"].endswith(" * 1000 > 250")
    assert rule(variant, "LatencyP99OverTarget")["expr"].endswith(" * 1000 > 600")
    assert rule(policy, "ErrorRateIncrease")["expr"].endswith("\n> 0.01")
    assert rule(variant, "ErrorRateIncrease")["expr"].endswith("\n> 0.05")
    assert "> (14.4 * 0.001)" in rule(policy, "ErrorBudgetBurn", window="1h")["expr"]
    assert "> (14.4 * 0.005)" in rule(variant, "ErrorBudgetBurn", window="1h")["expr"]
    assert "> (1 * 0.005)" in rule(variant, "ErrorBudgetBurn", window="3d")["expr"]


def test_other_metric_and_app_names_follow_the_policy() -> None:
    policy = make_policy(
        application={
            "name": "api",
            "requestsMetric": "requests_total",
            "latencyHistogram": "latency_seconds",
        },
        thresholds={"redis": {"metric": "rl_redis_up"}, "replayMismatch": {"window": "10m"}},
    )
    exprs = "\n".join(r["expr"] for r in all_rules(policy))
    assert 'rate(latency_seconds_bucket{job="api",namespace="api"}[5m])' in exprs
    assert 'requests_total{job="api",namespace="api",code=~"5.."}' in exprs
    assert "job:requests:error_ratio_rate5m" in exprs
    assert 'rl_redis_up{namespace="api"} == 0' in exprs and 'absent(rl_redis_up{namespace="api"})' in exprs
    # The counter follows the application (M9's `aos_replay_mismatch_total` is aos's own).
    assert 'increase(api_replay_mismatch_total{namespace="api"}[10m])' in exprs
    assert "http_requests_total" not in exprs and '"aos"' not in exprs


@pytest.mark.parametrize(
    ("value", "text"),
    [(300.0, "300"), (0.01, "0.01"), (299.9, "299.9"), (0.0, "0"), (1e-05, "0.00001"), (2.5, "2.5")],
)
def test_numbers_have_no_float_noise(value: float, text: str) -> None:
    assert alerts.number(value) == text


def test_the_error_budget_is_exact() -> None:
    assert alerts.number(alerts.error_budget(make_policy(monitoring={"availabilitySlo": 0.999}))) == "0.001"
    assert alerts.number(alerts.error_budget(make_policy(monitoring={"availabilitySlo": 0.9995}))) == "0.0005"
    with pytest.raises(ValueError, match="finite"):
        alerts.number(math.inf)


def test_output_is_deterministic(policy: GatePolicy) -> None:
    assert alerts.rules_yaml(policy) == alerts.rules_yaml(make_policy())
    assert alerts.alertmanager_yaml(policy) == alerts.alertmanager_yaml(make_policy())
    assert yaml.safe_load(alerts.rules_yaml(policy)) == {"groups": alerts.rule_groups(policy)}
    assert alerts.prometheus_rule(policy)["spec"]["groups"] == alerts.rule_groups(policy)


def test_the_slack_webhook_is_never_written_out(policy: GatePolicy) -> None:
    doc = alerts.alertmanager_config(policy)
    for receiver in doc["spec"]["receivers"]:
        for slack in receiver.get("slackConfigs", []):
            assert slack["apiURL"] == {"name": "alertmanager-slack", "key": "webhook-url"}
    text = alerts.alertmanager_yaml(policy, webhook_url_file="/run/secrets/slack")
    assert text.count("api_url_file: /run/secrets/slack") == 3
    assert "api_url:" not in text and "hooks.slack.com" not in text
    assert "hooks.slack.com" not in repr(doc)


# ---------------------------------------------------------------------------------------------
# promtool


def write_rules(policy: GatePolicy, directory: Path) -> Path:
    path = directory / "rules.yml"
    path.write_text(alerts.rules_yaml(policy), encoding="utf-8")
    return path


def test_promtool_accepts_the_rules(policy: GatePolicy, variant: GatePolicy, tmp_path: Path) -> None:
    for name, p in (("dev", policy), ("variant", variant)):
        directory = tmp_path / name
        directory.mkdir()
        result = prom_tools.check_rules(write_rules(p, directory))
        assert result.returncode == 0, prom_tools.output(result)
        assert f"SUCCESS: {len(all_rules(p))} rules found" in result.stdout


def test_promtool_rejects_a_broken_rule(policy: GatePolicy, tmp_path: Path) -> None:
    groups = alerts.rule_groups(policy)
    groups[0]["rules"][0] = {**groups[0]["rules"][0], "expr": "sum(increase(x[5m]) > "}
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    result = prom_tools.check_rules(path)
    assert result.returncode != 0, prom_tools.output(result)


# Series notation of promtool: `a+bxn` is n+1 samples a, a+b, ..., `_xn` is n missing samples.


def series(name: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def gauge(*segments: tuple[float, int]) -> str:
    """(value, samples) segments."""
    return " ".join(f"{_num(value)}x{count - 1}" if count > 1 else _num(value) for value, count in segments)


def counter(*segments: tuple[float, int]) -> str:
    """A counter from 0 growing by `increment` per sample for `samples` samples, segment by segment."""
    parts, value = ["0"], 0.0
    for increment, count in segments:
        start = value + increment
        parts.append(f"{_num(start)}+{_num(increment)}x{count - 1}")
        value = start + increment * (count - 1)
    return " ".join(parts)


def _num(value: float) -> str:
    return alerts.number(value)


def fires(
    policy: GatePolicy, name: str, extra: dict[str, str] | None = None, **select: str
) -> dict[str, Any]:
    """The alert promtool must report: the rule's labels plus the series' own, and its annotations."""
    r = rule(policy, name, **select)
    return {"exp_labels": {**(extra or {}), **r["labels"]}, "exp_annotations": r["annotations"]}


def check(name: str, at: float, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"alertname": name, "eval_time": f"{round(at)}s", "exp_alerts": list(expected)}


class _PlainDumper(yaml.SafeDumper):
    """Writes a repeated expectation out in full instead of as a YAML alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class Suite:
    """promtool unit tests for one policy: fine (1 s evaluation) and coarse (1 m) files."""

    fine: list[dict[str, Any]]
    coarse: list[dict[str, Any]]

    def write(self, directory: Path, rules: Path) -> list[Path]:
        paths = []
        for name, interval, groups in (("fine", "1s", self.fine), ("coarse", "1m", self.coarse)):
            path = directory / f"{name}.test.yml"
            document = {"rule_files": [rules.name], "evaluation_interval": interval, "tests": groups}
            text = yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


def redis_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """M9: "redis_connected==0 > 60s -> alert SRE". From the first 0 sample: quiet 1 s before
    disconnectedFor, firing 1 s after it; a reconnect restarts the count; a 15 s scrape does not
    move the boundary."""
    hold = duration_seconds(policy.thresholds.redis.disconnected_for)
    metric = policy.thresholds.redis.metric
    labels = {**JOB, "instance": "10.0.0.1:8080"}
    firing = fires(policy, "RedisDisconnected", labels)
    start = 10  # the first 0 sample
    blip_end = start + hold - 2  # a single 1 here, then 0 again
    scrape_start = 60
    return [
        {
            "interval": "1s",
            "input_series": [
                {"series": series(metric, **labels), "values": gauge((1, start), (0, hold + 30))}
            ],
            "alert_rule_test": [
                check("RedisDisconnected", start + hold - 1),
                check("RedisDisconnected", start + hold + 1, firing),
            ],
        },
        {
            "interval": "1s",
            "input_series": [
                {
                    "series": series(metric, **labels),
                    "values": gauge((1, start), (0, hold - 2), (1, 1), (0, hold + 30)),
                }
            ],
            "alert_rule_test": [
                check("RedisDisconnected", start + hold + 1),
                check("RedisDisconnected", blip_end + 1 + hold - 1),
                check("RedisDisconnected", blip_end + 1 + hold + 1, firing),
            ],
        },
        {
            "interval": "15s",
            "input_series": [
                {
                    "series": series(metric, **labels),
                    "values": gauge((1, scrape_start // 15), (0, math.ceil(hold / 15) + 4)),
                }
            ],
            "alert_rule_test": [
                check("RedisDisconnected", scrape_start + hold - 1),
                check("RedisDisconnected", scrape_start + hold + 1, firing),
            ],
        },
    ]


def health_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """DP §Rollback Criteria "Health check failures": up == 0 for 1m."""
    hold = duration_seconds(alerts.HEALTH_FOR)
    labels = {**JOB, "instance": "10.0.0.1:8080"}
    healthy = {**JOB, "instance": "10.0.0.2:8080"}
    start = 10
    return [
        {
            "interval": "1s",
            "input_series": [
                {"series": series("up", **labels), "values": gauge((1, start), (0, hold + 30))},
                {"series": series("up", **healthy), "values": gauge((1, start + hold + 30))},
            ],
            "alert_rule_test": [
                check("HealthCheckFailing", start + hold - 1),
                check("HealthCheckFailing", start + hold + 1, fires(policy, "HealthCheckFailing", labels)),
            ],
        }
    ]


def mismatch_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """M9 §Post-merge 2: the counter grows by floor(threshold) (quiet) or one more (firing) within
    the window. Samples every 15 s fall on both ends of the window, so increase() is exact."""
    mismatch = policy.thresholds.replay_mismatch
    window = duration_seconds(mismatch.window)
    if window % 60:
        pytest.fail(f"the generated test assumes a window of whole minutes, got {mismatch.window}")
    step = window + 300  # the counter jumps at this second, a 1 m evaluation tick
    below = math.floor(mismatch.increase_above)

    def group(jump: int, *expected: dict[str, Any]) -> dict[str, Any]:
        values = gauge((0, step // 15), (jump, 80))
        return {
            "interval": "15s",
            "input_series": [{"series": series(mismatch.metric, **JOB, instance="a"), "values": values}],
            "alert_rule_test": [check("ReplayMismatch", step - 60), check("ReplayMismatch", step, *expected)],
        }

    return [group(below), group(below + 1, fires(policy, "ReplayMismatch"))]


def histogram(policy: GatePolicy, quantile: float, ratio: float) -> list[dict[str, str]]:
    """Buckets (target/2, 3 target/2] in seconds holding the quantile, so it interpolates to
    ratio x target: per minute T requests, c of them in that bucket, k above the quantile's rank."""
    latency = policy.thresholds.latency
    target = latency.p95_target_ms if quantile == 0.95 else latency.p99_target_ms
    total, in_bucket = 100_000, 1000
    k = round((ratio - 0.5) * in_bucket)  # quantile = lower + (upper - lower) * k / in_bucket
    rank = round(quantile * total)
    lower, upper = alerts.number(target / 2000), alerts.number(target * 3 / 2000)
    cumulative = {lower: rank - k, upper: rank - k + in_bucket, "+Inf": total}
    assert rank - k > 0 and rank - k + in_bucket <= total
    name = f"{policy.application.latency_histogram}_bucket"
    return [
        {"series": series(name, **JOB, le=le), "values": counter((count, 40))}
        for le, count in cumulative.items()
    ]


def latency_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """p95 (M9 §Thresholds) and p99 (DP §Rollback Criteria) at 0.999 and 1.001 of their targets."""
    at = 30 * 60
    groups = []
    for name, quantile in (("LatencyP95OverTarget", 0.95), ("LatencyP99OverTarget", 0.99)):
        for ratio, expected in ((0.999, []), (1.001, [fires(policy, name, JOB)])):
            groups.append(
                {
                    "interval": "1m",
                    "input_series": histogram(policy, quantile, ratio),
                    "alert_rule_test": [check(name, at, *expected)],
                }
            )
    return groups


def error_rate_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """DP §Rollback Criteria: the 5xx ratio rises from a 1% baseline by 0.9 x (quiet) or 1.1 x
    (firing) maxErrorRateIncrease; and from no 5xx series at all to 1.1 x (firing)."""
    increase = policy.thresholds.max_error_rate_increase
    total, baseline, switch = 100_000, 0.01, 180  # per minute; the new ratio starts at minute 180
    assert baseline + 1.1 * increase <= 1
    at = (switch + 15) * 60
    firing = fires(policy, "ErrorRateIncrease", {**JOB, "environment": policy.environment})
    metric = policy.application.requests_metric

    def group(before: float | None, after: float, *expected: dict[str, Any]) -> dict[str, Any]:
        errors_before = round(total * (before or 0))
        errors_after = round(total * after)
        ok = counter((total - errors_before, switch), (total - errors_after, 40))
        errors = (
            counter((errors_before, switch), (errors_after, 40))
            if before is not None
            else f"_x{switch + 1} " + counter((errors_after, 39))
        )
        return {
            "interval": "1m",
            "input_series": [
                {"series": series(metric, **JOB, code="200"), "values": ok},
                {"series": series(metric, **JOB, code="500"), "values": errors},
            ],
            "alert_rule_test": [check("ErrorRateIncrease", at, *expected)],
        }

    return [
        group(baseline, baseline + 0.9 * increase),
        group(baseline, baseline + 1.1 * increase, firing),
        group(None, 1.1 * increase, firing),
    ]


def burn_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """DP §Post-Deployment burn rate, SRE-workbook windows. A 20x burn starting at minute 60:
    after 40 min the 1h ratio is 13.3x (< 14.4x, no page for it yet; the 6h page fires), after
    45 min 15x (paged); 10 min after it stops the 5m window is clean, so only the 6h page and the
    ticket remain. A steady 2x burn opens only the ticket; 0.5x fires nothing."""
    budget = float(alerts.error_budget(policy))
    if 20 * budget > 1:
        pytest.fail(f"a 20x burn of a {budget} budget is more than every request failing")
    total, start = 10_000, 60
    metric = policy.application.requests_metric
    labels = {**JOB, "environment": policy.environment}

    def burning(*windows: str) -> list[dict[str, Any]]:
        return [fires(policy, "ErrorBudgetBurn", labels, window=w) for w in windows]

    def group(segments: list[tuple[float, int]], checks: list[dict[str, Any]]) -> dict[str, Any]:
        ok = [(total - round(total * ratio), count) for ratio, count in segments]
        errors = [(round(total * ratio), count) for ratio, count in segments]
        return {
            "interval": "1m",
            "input_series": [
                {"series": series(metric, **JOB, code="200"), "values": counter(*ok)},
                {"series": series(metric, **JOB, code="503"), "values": counter(*errors)},
            ],
            "alert_rule_test": checks,
        }

    fast = 20 * budget
    minute = 60
    return [
        group(
            [(0, start), (fast, 45), (0, 30)],
            [
                check("ErrorBudgetBurn", start * minute),
                check("ErrorBudgetBurn", (start + 40) * minute, *burning("6h", "3d")),
                check("ErrorBudgetBurn", (start + 45) * minute, *burning("1h", "6h", "3d")),
                check("ErrorBudgetBurn", (start + 55) * minute, *burning("6h", "3d")),
            ],
        ),
        group([(2 * budget, 150)], [check("ErrorBudgetBurn", 120 * minute, *burning("3d"))]),
        group([(0.5 * budget, 150)], [check("ErrorBudgetBurn", 120 * minute)]),
    ]


ABSENT = {  # alertname -> labels absent() gives its output (the selector's equality matchers)
    "ReplayMismatchMetricAbsent": NAMESPACE,
    "RedisMetricAbsent": NAMESPACE,
    "LatencyMetricAbsent": JOB,
    "RequestsMetricAbsent": JOB,
    "ScrapeTargetAbsent": JOB,
}


def absent_tests(policy: GatePolicy) -> list[dict[str, Any]]:
    """Each companion fires after 10m without its series, and never while the series is there."""
    hold = duration_seconds(alerts.ABSENT_FOR)
    app = policy.application
    present = [
        (policy.thresholds.replay_mismatch.metric, {}),
        (policy.thresholds.redis.metric, {}),
        (f"{app.latency_histogram}_bucket", {"le": "+Inf"}),
        (app.requests_metric, {"code": "200"}),
        ("up", {}),
    ]
    samples = hold // 60 + 5
    return [
        {
            "interval": "1m",
            "input_series": [{"series": series("unrelated_metric"), "values": gauge((1, samples))}],
            "alert_rule_test": [
                check(name, at, *([fires(policy, name, labels)] if at > hold else []))
                for name, labels in ABSENT.items()
                for at in (hold - 60, hold + 60)
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": series(metric, **JOB, **extra), "values": gauge((1, samples))}
                for metric, extra in present
            ],
            "alert_rule_test": [check(name, hold + 60) for name in ABSENT],
        },
    ]


def suite(policy: GatePolicy) -> Suite:
    return Suite(
        fine=redis_tests(policy) + health_tests(policy),
        coarse=mismatch_tests(policy)
        + latency_tests(policy)
        + error_rate_tests(policy)
        + burn_tests(policy)
        + absent_tests(policy),
    )


def run_suite(rules_policy: GatePolicy, tests: Suite, directory: Path) -> Any:
    directory.mkdir(parents=True, exist_ok=True)
    rules = write_rules(rules_policy, directory)
    return prom_tools.run_rule_tests(tests.write(directory, rules))


@pytest.mark.parametrize("name", ["dev", "variant"])
def test_each_alert_fires_past_its_boundary_and_not_before(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    policy: GatePolicy = request.getfixturevalue("policy" if name == "dev" else "variant")
    tests = suite(policy)
    result = run_suite(policy, tests, tmp_path)
    assert result.returncode == 0, prom_tools.output(result)
    assert result.stdout.count("SUCCESS") == 2, prom_tools.output(result)
    tested = {c["alertname"] for group in tests.fine + tests.coarse for c in group["alert_rule_test"]}
    assert tested == set(alerts.alert_names(policy))


def test_promtool_fails_a_wrong_expectation(policy: GatePolicy, tmp_path: Path) -> None:
    """Redis at 0 for 59 s expected to fire: promtool must say no."""
    tests = suite(policy)
    hold = duration_seconds(policy.thresholds.redis.disconnected_for)
    labels = {**JOB, "instance": "10.0.0.1:8080"}
    tests.fine[0]["alert_rule_test"] = [
        check("RedisDisconnected", 10 + hold - 1, fires(policy, "RedisDisconnected", labels))
    ]
    result = run_suite(policy, tests, tmp_path)
    assert result.returncode != 0, prom_tools.output(result)
    assert "RedisDisconnected" in result.stdout + result.stderr


def test_moving_a_threshold_moves_the_boundary(
    policy: GatePolicy, variant: GatePolicy, tmp_path: Path
) -> None:
    """The variant's rules (Redis 120 s, ...) fail the default policy's boundaries, and the other
    way round."""
    result = run_suite(variant, suite(policy), tmp_path / "variant-rules")
    assert result.returncode != 0, prom_tools.output(result)
    text = result.stdout + result.stderr
    for name in ("RedisDisconnected", "ReplayMismatch", "LatencyP95OverTarget", "ErrorRateIncrease"):
        assert name in text, name
    result = run_suite(policy, suite(variant), tmp_path / "default-rules")
    assert result.returncode != 0, prom_tools.output(result)


# ---------------------------------------------------------------------------------------------
# Scoped to the environment's namespace: a pull request's disposable environment (gate/runtime/ephemeral.py)
# runs the same application, job and metrics with staging's policy, possibly beside staging.

PR_NAMESPACE = "aos-pr-42"


@pytest.fixture(scope="module")
def staging() -> GatePolicy:
    return make_policy(stack="staging", environment="staging")


def moved(groups: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The same test groups with every input series in `namespace` instead of the application's."""
    out = copy.deepcopy(groups)
    for group in out:
        for item in group["input_series"]:
            assert item["series"].count(f'namespace="{APP}"') == 1, item["series"]
            item["series"] = item["series"].replace(f'namespace="{APP}"', f'namespace="{namespace}"')
    return out


def expecting_nothing(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(groups)
    for group in out:
        for expectation in group["alert_rule_test"]:
            expectation["exp_alerts"] = []
    return out


def pull_request_suite(policy: GatePolicy) -> Suite:
    """Every alert's firing tests but the absent() companions', with the series in pull request
    42's namespace, and no alert expected."""
    tests, absent = suite(policy), absent_tests(policy)
    coarse = [group for group in tests.coarse if group not in absent]
    return Suite(
        fine=expecting_nothing(moved(tests.fine, PR_NAMESPACE)),
        coarse=expecting_nothing(moved(coarse, PR_NAMESPACE)),
    )


def test_a_pull_request_namespace_cannot_fire_the_staging_alerts(staging: GatePolicy, tmp_path: Path) -> None:
    """The series that fire each of staging's alerts (the rollback criteria among them) in staging's
    namespace fire nothing from `aos-pr-42`."""
    in_staging = run_suite(staging, suite(staging), tmp_path / "staging")
    assert in_staging.returncode == 0, prom_tools.output(in_staging)
    tests = pull_request_suite(staging)
    checked = {c["alertname"] for group in tests.fine + tests.coarse for c in group["alert_rule_test"]}
    assert checked == set(alerts.alert_names(staging)) - set(ABSENT)
    from_pr = run_suite(staging, tests, tmp_path / "pull-request")
    assert from_pr.returncode == 0, prom_tools.output(from_pr)
    assert from_pr.stdout.count("SUCCESS") == 2, prom_tools.output(from_pr)


def test_unscoped_selectors_would_let_the_pull_request_fire_them(
    staging: GatePolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: without the namespace matcher (the rules before it), the same series fire."""
    monkeypatch.setattr(alerts, "_scope", lambda policy: ())
    assert not [r["expr"] for r in all_rules(staging) if "namespace=" in r["expr"]]
    result = run_suite(staging, pull_request_suite(staging), tmp_path)
    assert result.returncode != 0, prom_tools.output(result)
    for name in ("ReplayMismatch", "HealthCheckFailing", "ErrorRateIncrease", "RedisDisconnected"):
        assert name in result.stdout + result.stderr, name


def test_pull_request_series_do_not_hide_staging_absent_metrics(staging: GatePolicy, tmp_path: Path) -> None:
    """Every metric present only in `aos-pr-42` is absent from staging: each companion fires."""
    (_, present) = absent_tests(staging)
    (group,) = moved([present], PR_NAMESPACE)
    at = duration_seconds(alerts.ABSENT_FOR) + 60
    group["alert_rule_test"] = [
        check(name, at, fires(staging, name, labels)) for name, labels in ABSENT.items()
    ]
    result = run_suite(staging, Suite(fine=[], coarse=[group]), tmp_path)
    assert result.returncode == 0, prom_tools.output(result)


# ---------------------------------------------------------------------------------------------
# amtool


@pytest.fixture
def alertmanager_file(policy: GatePolicy, tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(alerts.alertmanager_yaml(policy), encoding="utf-8")
    return path


def test_amtool_accepts_the_routing(alertmanager_file: Path) -> None:
    result = prom_tools.check_config(alertmanager_file)
    assert result.returncode == 0, prom_tools.output(result)
    assert "SUCCESS" in result.stdout
    assert "4 receivers" in result.stdout and "1 inhibit rules" in result.stdout


def test_amtool_rejects_a_route_to_nowhere(policy: GatePolicy, tmp_path: Path) -> None:
    document = alerts.alertmanager_document(policy)
    document["route"]["routes"][0]["receiver"] = "nobody"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = prom_tools.check_config(path)
    assert result.returncode != 0, prom_tools.output(result)


def expected_receivers(labels: dict[str, str]) -> list[str]:
    """M9 §Post-merge 2: rollbacks to #oncall and #platform; §Thresholds: p95 tickets to #platform,
    Redis to SRE. Rollbacks and tickets also act: the alert relay first (gate/runtime/relay.py)."""
    acting = ["relay"] if labels["action"] in ("rollback", "ticket") else []
    if labels["severity"] == "critical":
        return [*acting, "oncall", "platform"]
    return [*acting, labels["team"]]


def _routing_cases() -> list[Any]:
    policy = make_policy()
    return [
        pytest.param(
            {"alertname": r["alert"], **r["labels"]},
            id="-".join(filter(None, (r["alert"], r["labels"].get("window")))),
        )
        for r in alert_rules(policy)
    ]


@pytest.mark.parametrize("labels", _routing_cases())
def test_each_alert_reaches_its_channels(alertmanager_file: Path, labels: dict[str, str]) -> None:
    if not prom_tools.has_routes_test():
        pytest.skip("this amtool has no `config routes test`")
    expected = expected_receivers(labels)
    result = prom_tools.routes_test(alertmanager_file, labels, expect=expected)
    assert result.returncode == 0, prom_tools.output(result)
    assert result.stdout.strip() == ",".join(expected)


def test_receivers_are_the_policy_channels(policy: GatePolicy) -> None:
    channels = {
        r["name"]: r["slackConfigs"][0]["channel"]
        for r in alerts.alertmanager_config(policy)["spec"]["receivers"]
        if r["name"] != "relay"
    }
    assert channels == {"oncall": "#oncall", "platform": "#platform", "sre": "#sre"}
    renamed = make_policy(notifications={"sre": "#sre-pager"})
    text = alerts.alertmanager_yaml(renamed)
    assert 'channel: "#sre-pager"' in text and 'channel: "#sre"\n' not in text


def test_amtool_fails_a_wrong_route(alertmanager_file: Path) -> None:
    if not prom_tools.has_routes_test():
        pytest.skip("this amtool has no `config routes test`")
    labels = {"alertname": "RedisDisconnected", "severity": "warning", "team": "sre", "action": "notify"}
    result = prom_tools.routes_test(alertmanager_file, labels, expect=["oncall"])
    assert result.returncode != 0, prom_tools.output(result)
    assert prom_tools.routes_test(alertmanager_file, labels).stdout.strip() == "sre"


def test_inhibition_silences_only_the_ticket_twin(policy: GatePolicy) -> None:
    (rule_spec,) = alerts.alertmanager_config(policy)["spec"]["inhibitRules"]
    assert rule_spec["equal"] == ["alertname", "environment"]
    assert rule_spec["sourceMatch"] == [{"name": "severity", "value": "critical", "matchType": "="}]
    assert rule_spec["targetMatch"] == [{"name": "severity", "value": "warning", "matchType": "="}]
    # ErrorBudgetBurn is the alertname with both severities: the page silences the 3d ticket.
    severities = {r["labels"]["severity"] for r in alert_rules(policy) if r["alert"] == "ErrorBudgetBurn"}
    assert severities == {"critical", "warning"}


def test_tool_versions_are_known() -> None:
    assert re.match(r"\d+\.\d+", prom_tools.version("promtool"))
    assert re.match(r"\d+\.\d+", prom_tools.version("amtool"))


def test_a_missing_tool_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(prom_tools, "DEBIAN_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package `prometheus-alertmanager`"):
        prom_tools.tool("amtool")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="Debian package `prometheus`"):
        prom_tools.tool("promtool")


def test_rollback_and_ticket_alerts_reach_the_alert_relay(policy: GatePolicy) -> None:
    spec = alerts.alertmanager_config(policy)["spec"]
    (relay_receiver,) = [r for r in spec["receivers"] if r["name"] == "relay"]
    assert relay_receiver == {
        "name": "relay",
        "webhookConfigs": [
            {"url": "http://alert-relay.delivery-gate-relay.svc:8080/alertmanager", "sendResolved": False}
        ],
    }
    # First, and `continue`, so every channel still gets its notification.
    first, second = spec["route"]["routes"][:2]
    assert [first["matchers"], second["matchers"]] == [
        [{"name": "action", "value": "rollback", "matchType": "="}],
        [{"name": "action", "value": "ticket", "matchType": "="}],
    ]
    assert first["receiver"] == second["receiver"] == "relay" and first["continue"] and second["continue"]
    # Every rollback alert and every ticket alert of the catalogue acts.
    acting = {r["alert"] for r in alert_rules(policy) if r["labels"]["action"] in ("rollback", "ticket")}
    assert {"ReplayMismatch", "LatencyP95OverTarget", "ErrorRateIncrease"} <= acting


def test_without_the_relay_nothing_is_routed_to_it() -> None:
    quiet = make_policy(monitoring={"relay": {"enabled": False}})
    assert "relay" not in alerts.alertmanager_yaml(quiet)
    assert all(r["name"] != "relay" for r in alerts.alertmanager_config(quiet)["spec"]["receivers"])
