"""The Argo Rollouts renderer: canary steps from the policy's stages, an analysis on the rollback
criteria whose conditions never pass on missing data, valid documents, a restricted pod."""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.runtime import alerts
from gate.runtime import rollout as r
from tests.support import prom_tools
from tests.support.crds import crd_problems

# A Kubernetes version kubernetes-validate ships schemas for.
K8S_VERSION = "1.33"


def policy(**extra: object) -> GatePolicy:
    return load_policy(
        {"environment": "dev", "repositories": [{"name": "aos"}], **extra}, stack="dev", github_owner="acme"
    )


CUSTOM = {
    "rollout": {"stages": [10, 50, 100], "bakeTime": "5m"},
    "thresholds": {
        "maxErrorRateIncrease": 0.025,
        "latency": {"p95TargetMs": 200, "p99TargetMs": 450},
        "replayMismatch": {"increaseAbove": 2, "window": "10m"},
    },
    "application": {"name": "shop", "image": "ghcr.io/acme/shop@sha256:" + "a" * 64, "port": 9000},
    "monitoring": {"prometheusUrl": "http://prometheus.example:9090"},
}


def metrics(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in doc["spec"]["metrics"]}


# ---------------------------------------------------------------------------------------------
# A tiny evaluator for the subset of expr (github.com/expr-lang/expr) the conditions use:
# numbers, `result`, `result[N]`, `len(...)`, `isNaN(...)`, `!`, comparisons, `&&`, `||`, parens.
# Like expr, `&&` and `||` short-circuit and `!` binds tighter than a comparison; indexing an
# empty list is a run-time error, which Argo records as a measurement Error.


class EvalError(Exception):
    pass


Node = tuple[Any, ...]
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|len|isNaN|result|&&|\|\||<=|>=|==|!=|<|>|!|\(|\)|\[|\])")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Parser:
    """Recursive descent, lowest precedence first: ||, &&, comparison, !, primary."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.pos = text, [], 0
        while self.pos < len(text.rstrip()):
            match = _TOKEN.match(text, self.pos)
            if match is None:
                raise SyntaxError(f"unexpected {text[self.pos :]!r}")
            self.tokens.append(match.group(1))
            self.pos = match.end()
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise SyntaxError(f"expected {expected!r}, got {token!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.binary("||")
        if self.peek() is not None:
            raise SyntaxError(f"trailing {self.tokens[self.pos :]} in {self.text!r}")
        return node

    def binary(self, op: str) -> Node:
        operand: Callable[[], Node] = (lambda: self.binary("&&")) if op == "||" else self.comparison
        node = operand()
        while self.peek() == op:
            self.take()
            node = (op, node, operand())
        return node

    def comparison(self) -> Node:
        node = self.unary()
        if self.peek() in _COMPARE:
            node = ("cmp", self.take(), node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            return ("!", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return ("number", float(token))
        if token == "(":
            node = self.binary("||")
            self.take(")")
            return node
        if token in ("len", "isNaN"):
            self.take("(")
            node = (token, self.binary("||"))
            self.take(")")
            return node
        if token == "result" and self.peek() == "[":
            self.take("[")
            index = int(self.take())
            self.take("]")
            return ("index", index)
        if token == "result":
            return ("result",)
        raise SyntaxError(f"unexpected {token!r} in {self.text!r}")


def _index(node: Node, result: list[float]) -> float:
    if node[1] >= len(result):
        raise EvalError(f"index out of range: {node[1]} (array length is {len(result)})")
    return result[node[1]]


_EVALUATE: dict[str, Callable[[Node, list[float]], Any]] = {
    "||": lambda n, res: bool(evaluate(n[1], res)) or bool(evaluate(n[2], res)),
    "&&": lambda n, res: bool(evaluate(n[1], res)) and bool(evaluate(n[2], res)),
    "cmp": lambda n, res: _COMPARE[n[1]](evaluate(n[2], res), evaluate(n[3], res)),
    "!": lambda n, res: not evaluate(n[1], res),
    "len": lambda n, res: len(evaluate(n[1], res)),
    "isNaN": lambda n, res: math.isnan(evaluate(n[1], res)),
    "index": _index,
    "result": lambda n, res: res,
    "number": lambda n, res: n[1],
}


def evaluate(node: Node, result: list[float]) -> Any:
    return _EVALUATE[node[0]](node, result)


def holds(condition: str, result: list[float]) -> bool:
    return bool(evaluate(Parser(condition).parse(), result))


def phase(metric: dict[str, Any], result: list[float]) -> str:
    """A measurement's phase as argo-rollouts utils/evaluate EvaluateResult decides it."""
    success_text, failure_text = metric.get("successCondition", ""), metric.get("failureCondition", "")
    try:
        success = holds(success_text, result) if success_text else False
        failure = holds(failure_text, result) if failure_text else False
    except EvalError:
        return "Error"
    if not success_text and not failure_text:
        return "Successful"
    if not failure_text:
        failure = not success
    if not success_text:
        success = not failure
    if failure:
        return "Failed"
    return "Successful" if success else "Inconclusive"


def test_the_evaluator_tells_lenient_conditions_from_strict_ones() -> None:
    # Conditions seen in the wild, which this file's tests must be able to catch.
    empty_passes = {"successCondition": "len(result) == 0 || result[0] >= 0.95"}
    assert phase(empty_passes, []) == "Successful"
    nan_passes = {"successCondition": "isNaN(result[0]) || result[0] <= 1"}
    assert phase(nan_passes, [math.nan]) == "Successful"
    unguarded = {"successCondition": "result[0] <= 1"}
    assert phase(unguarded, []) == "Error"
    assert phase(unguarded, [math.nan]) == "Failed"
    neither = {"successCondition": "result[0] <= 1", "failureCondition": "result[0] > 2"}
    assert phase(neither, [1.5]) == "Inconclusive"
    assert phase(neither, [3]) == "Failed"
    assert phase(neither, [0.5]) == "Successful"
    assert holds("!isNaN(result[0]) && 2 > 1", [1.0]) is True
    assert holds("len(result) > 0 || result[0] > 1", [2.0]) is True
    with pytest.raises(SyntaxError):
        holds("result[0] <= ", [1.0])


# ---------------------------------------------------------------------------------------------
# The analysis: four criteria, the policy's thresholds, no success without data


@pytest.mark.parametrize("extra", [{}, CUSTOM], ids=["defaults", "custom"])
def test_every_metric_fails_on_empty_and_nan_and_judges_values_by_the_threshold(
    extra: dict[str, Any],
) -> None:
    p = policy(**extra)
    template = metrics(r.analysis_template(p))
    criteria = r.rollback_criteria(p)
    assert [c.name for c in criteria] == list(template)
    for criterion in criteria:
        metric, x = template[criterion.name], criterion.threshold
        # Each condition on its own: success never holds without a value, failure always does.
        for missing in ([], [math.nan]):
            assert not holds(metric["successCondition"], missing), (criterion.name, missing)
            assert holds(metric["failureCondition"], missing), (criterion.name, missing)
        assert phase(metric, []) == "Failed", criterion.name
        assert phase(metric, [math.nan]) == "Failed", criterion.name
        assert phase(metric, [math.inf]) == "Failed", criterion.name
        assert phase(metric, [x]) == "Successful", criterion.name
        assert phase(metric, [x / 2]) == "Successful", criterion.name
        assert phase(metric, [x + max(x, 1) / 1000]) == "Failed", criterion.name
        assert phase(metric, [x * 10 + 1]) == "Failed", criterion.name
        # Exact complements: no value leaves a measurement Inconclusive (which would pause).
        for value in (-1.0, 0.0, x, x + 1e-9, 1e9, math.nan, math.inf, -math.inf):
            success = holds(metric["successCondition"], [value])
            failure = holds(metric["failureCondition"], [value])
            assert success != failure, (criterion.name, value)


def test_a_canary_better_than_its_baseline_passes_the_error_rate_criterion() -> None:
    metric = metrics(r.analysis_template(policy()))["error-rate-increase"]
    assert phase(metric, [-0.05]) == "Successful"


def test_the_four_rollback_criteria_carry_the_policys_thresholds() -> None:
    default = metrics(r.analysis_template(policy()))
    assert default["error-rate-increase"]["successCondition"].endswith("result[0] <= 0.01")
    assert default["p99-latency"]["successCondition"].endswith("result[0] <= 800")
    assert default["replay-mismatch"]["successCondition"].endswith("result[0] <= 0")
    assert default["health-checks"]["successCondition"].endswith("result[0] <= 0")

    custom = metrics(r.analysis_template(policy(**CUSTOM)))
    assert custom["error-rate-increase"]["failureCondition"].endswith("result[0] > 0.025")
    assert custom["p99-latency"]["failureCondition"].endswith("result[0] > 450")
    assert custom["replay-mismatch"]["failureCondition"].endswith("result[0] > 2")
    # The counter follows the application (M9's `aos_replay_mismatch_total` is aos's own).
    assert "shop_replay_mismatch_total{" in custom["replay-mismatch"]["provider"]["prometheus"]["query"]
    assert "[10m]" in custom["replay-mismatch"]["provider"]["prometheus"]["query"]
    assert "http_request_duration_seconds_bucket{" in custom["p99-latency"]["provider"]["prometheus"]["query"]
    assert 'pod=~"shop-{{args.canary-hash}}-' in custom["p99-latency"]["provider"]["prometheus"]["query"]
    assert 'container="shop"' in custom["health-checks"]["provider"]["prometheus"]["query"]


def test_the_error_rate_criterion_compares_canary_with_stable() -> None:
    query = metrics(r.analysis_template(policy()))["error-rate-increase"]["provider"]["prometheus"]["query"]
    canary, _, stable = query.partition(") - (")
    assert "{{args.canary-hash}}" in canary and "{{args.stable-hash}}" not in canary
    assert "{{args.stable-hash}}" in stable and "{{args.canary-hash}}" not in stable
    assert canary.count('code=~"5.."') == stable.count('code=~"5.."') == 1


def test_fallbacks_to_zero_are_only_numerators() -> None:
    # `or vector(0)` makes an absent 5xx or failed-probe series count as none; a query whose
    # denominator (all requests, all probes) is absent must stay empty, so it fails. The one
    # deliberate exception, critical-alerts, is tested below.
    for metric in metrics(r.analysis_template(policy())).values():
        if metric["name"] == "critical-alerts":
            continue
        query = metric["provider"]["prometheus"]["query"]
        assert query.count("or vector(0)") == query.count("or vector(0)) / "), metric["name"]
        assert not query.rstrip(") ").endswith("vector(0"), metric["name"]


def test_metrics_query_the_policys_prometheus_and_abort_early() -> None:
    for p in (policy(), policy(**CUSTOM)):
        for metric in metrics(r.analysis_template(p)).values():
            assert metric["provider"]["prometheus"]["address"] == p.monitoring.prometheus_url
            assert metric["failureLimit"] in (0, 1)
            assert metric["interval"] == r.INTERVAL
            # Background analysis: no count, so it measures through every stage.
            assert "count" not in metric and "inconclusiveLimit" not in metric
    assert metrics(r.analysis_template(policy()))["replay-mismatch"]["failureLimit"] == 0


def test_the_template_declares_every_argument_its_queries_use_and_the_rollout_fills_them() -> None:
    p = policy()
    template = r.analysis_template(p)
    declared = {arg["name"] for arg in template["spec"]["args"]}
    used = set(re.findall(r"\{\{args\.([a-z-]+)\}\}", json.dumps(template)))
    assert used == declared == {"canary-hash", "stable-hash", "namespace"}
    analysis = r.rollout(p)["spec"]["strategy"]["canary"]["analysis"]
    assert analysis["templates"] == [{"templateName": "aos-rollback-criteria"}]
    assert template["metadata"]["name"] == "aos-rollback-criteria"
    filled = {arg["name"]: arg["valueFrom"] for arg in analysis["args"]}
    assert filled == {
        "canary-hash": {"podTemplateHashValue": "Latest"},
        "stable-hash": {"podTemplateHashValue": "Stable"},
        "namespace": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [(800.0, "800"), (0.01, "0.01"), (0.025, "0.025"), (1e-05, "0.00001"), (0.0, "0"), (2.5, "2.5")],
)
def test_thresholds_are_written_without_float_noise(value: float, text: str) -> None:
    assert r.number(value) == text


def test_a_non_finite_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        r.number(math.inf)


# ---------------------------------------------------------------------------------------------
# The Rollout


def test_default_steps_are_5_25_50_with_a_bake_time_pause_each() -> None:
    steps = r.rollout(policy())["spec"]["strategy"]["canary"]["steps"]
    assert steps == [
        {"setWeight": 5},
        {"pause": {"duration": "10m"}},
        {"setWeight": 25},
        {"pause": {"duration": "10m"}},
        {"setWeight": 50},
        {"pause": {"duration": "10m"}},
    ]


def test_steps_follow_the_policy() -> None:
    steps = r.rollout(policy(**CUSTOM))["spec"]["strategy"]["canary"]["steps"]
    assert steps == [
        {"setWeight": 10},
        {"pause": {"duration": "5m"}},
        {"setWeight": 50},
        {"pause": {"duration": "5m"}},
    ]
    weights = [s["setWeight"] for s in steps if "setWeight" in s]
    assert [*weights, 100] == list(policy(**CUSTOM).rollout.stages)


def test_analysis_runs_in_the_background_from_the_first_pause() -> None:
    canary = r.rollout(policy())["spec"]["strategy"]["canary"]
    assert canary["analysis"]["startingStep"] == 1
    assert "pause" in canary["steps"][canary["analysis"]["startingStep"]]
    assert not any("analysis" in step for step in canary["steps"])
    # Basic canary (no trafficRouting): Argo rejects scaleDownDelaySeconds there.
    assert "trafficRouting" not in canary and "scaleDownDelaySeconds" not in canary
    assert canary["canaryService"] == "aos-canary" and canary["stableService"] == "aos-stable"


def test_the_pod_is_restricted_and_probed_on_the_health_path() -> None:
    spec = r.rollout(policy(**CUSTOM))["spec"]
    pod = spec["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert container["image"] == CUSTOM["application"]["image"]  # type: ignore[index]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "shop"}
    assert spec["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "shop"


def test_an_unset_image_is_a_placeholder_that_cannot_be_pulled() -> None:
    (container,) = r.rollout(policy())["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "aos:unset"
    assert r.rollout(policy())["spec"]["progressDeadlineAbort"] is True


@pytest.mark.parametrize("extra", [{}, CUSTOM], ids=["defaults", "custom"])
def test_rollout_and_analysis_template_conform_to_their_crds(extra: dict[str, Any]) -> None:
    p = policy(**extra)
    assert crd_problems(r.rollout(p)) == []
    assert crd_problems(r.analysis_template(p)) == []


def test_the_crd_check_would_catch_a_misspelt_field() -> None:
    doc = r.analysis_template(policy())
    doc["spec"]["metrics"][0]["sucessCondition"] = doc["spec"]["metrics"][0].pop("successCondition")
    assert any("sucessCondition" in problem for problem in crd_problems(doc))


def test_rendering_is_deterministic() -> None:
    render = [
        json.dumps([r.rollout(policy()), r.analysis_template(policy()), r.services(policy())]) for _ in "ab"
    ]
    assert render[0] == render[1]


# ---------------------------------------------------------------------------------------------
# The Services


@pytest.mark.parametrize("extra", [{}, CUSTOM], ids=["defaults", "custom"])
def test_services_are_valid_core_v1(extra: dict[str, Any]) -> None:
    p = policy(**extra)
    app = p.application
    services = r.services(p)
    assert [s["metadata"]["name"] for s in services] == [app.name, f"{app.name}-canary", f"{app.name}-stable"]
    for service in services:
        kubernetes_validate.validate(service, K8S_VERSION, strict=True)
        # Argo adds the pod-template hash to the canary and stable selectors itself.
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": app.name}
        assert service["spec"]["ports"][0]["port"] == app.port


def test_the_service_validator_rejects_an_unknown_field() -> None:
    service = r.services(policy())[1]
    service["spec"]["selecter"] = service["spec"].pop("selector")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, K8S_VERSION, strict=True)


# ---------------------------------------------------------------------------------------------
# Critical alerts fail the canary (DP §Rollback Criteria "Critical alert triggered"), run by promtool


def test_a_firing_critical_alert_fails_the_analysis_and_no_data_counts_as_none() -> None:
    metric = metrics(r.analysis_template(policy()))["critical-alerts"]
    query = metric["provider"]["prometheus"]["query"]
    assert query == (
        'sum(ALERTS{alertstate="firing",severity="critical",namespace="{{args.namespace}}"} '
        'or ALERTS{alertstate="firing",severity="critical",namespace="monitoring",environment="dev"}) '
        "or vector(0)"
    )
    # The whole query falls back to 0: an absent ALERTS series is "no alert fires" (on purpose).
    assert query.endswith(") or vector(0)") and query.count("vector(0)") == 1
    assert metric["failureLimit"] == 0
    assert phase(metric, [0.0]) == "Successful"
    assert phase(metric, [1.0]) == "Failed" and phase(metric, [3.0]) == "Failed"


STAGING = {"environment": "staging"}


def _analysis_tests(tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """promtool unit tests of the critical-alerts query, with staging's alert rules loaded (their
    ALERTS series are what the query reads) and the Rollout's namespace argument filled in."""
    staging = load_policy(
        {"environment": "staging", "repositories": [{"name": "aos"}]}, stack="staging", github_owner="acme"
    )
    query = metrics(r.analysis_template(staging))["critical-alerts"]["provider"]["prometheus"]["query"]
    query = query.replace("{{args.namespace}}", "aos")
    (tmp_path / "rules.yml").write_text(alerts.rules_yaml(staging), encoding="utf-8")
    for test in tests:
        for expr_test in test["promql_expr_test"]:
            expr_test.setdefault("expr", query)
    document = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "analysis.test.yml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return prom_tools.run_rule_tests([tmp_path / "analysis.test.yml"])


def _count(value: int, at: str) -> dict[str, Any]:
    return {"eval_time": at, "exp_samples": [{"labels": "{}", "value": value}]}


def _alert(namespace: str, **labels: str) -> str:
    merged = {"alertname": "KubePodCrashLooping", "alertstate": "firing", "severity": "critical", **labels}
    merged["namespace"] = namespace
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(merged.items()))
    return f"ALERTS{{{inner}}}"


def test_promtool_the_gates_own_rollback_alert_fails_the_canary(tmp_path: Path) -> None:
    """End to end in Prometheus's own engine: staging's ReplayMismatch rule fires on a growing
    mismatch counter in `aos`, and the analysis query then counts it; the same series in a pull
    request's namespace fire nothing and count nothing."""
    mismatches = [{"series": 'aos_replay_mismatch_total{namespace="aos",pod="aos-1"}', "values": "0+1x20"}]
    from_pr = [{"series": 'aos_replay_mismatch_total{namespace="aos-pr-42",pod="aos-1"}', "values": "0+1x20"}]
    result = _analysis_tests(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": mismatches,
                "promql_expr_test": [_count(0, "0m"), _count(1, "10m")],
            },
            {"interval": "1m", "input_series": from_pr, "promql_expr_test": [_count(0, "10m")]},
            # No series at all: no alert fires, the analysis passes (the no-data-as-zero case).
            {"interval": "1m", "input_series": [], "promql_expr_test": [_count(0, "10m")]},
        ],
    )
    assert result.returncode == 0, prom_tools.output(result)


@pytest.mark.parametrize(
    ("series", "counted"),
    [
        (_alert("aos"), 1),  # any rule's critical alert about the Rollout's namespace
        (_alert("monitoring", alertname="ErrorRateIncrease", environment="staging"), 1),  # the gate's own
        (_alert("aos", alertstate="pending"), 0),  # not firing yet
        (_alert("aos", severity="warning"), 0),  # a ticket, not a rollback criterion
        (_alert("monitoring", alertname="ErrorRateIncrease", environment="production"), 0),  # elsewhere
        (_alert("aos-pr-42"), 0),  # a pull request's disposable namespace
        (_alert("monitoring", alertname="Watchdog"), 0),  # the monitoring stack's own, no environment
    ],
    ids=["namespace", "gate-alert", "pending", "warning", "other-environment", "pull-request", "monitoring"],
)
def test_promtool_which_alerts_count(tmp_path: Path, series: str, counted: int) -> None:
    result = _analysis_tests(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": "1x10"}],
                "promql_expr_test": [_count(counted, "5m")],
            }
        ],
    )
    assert result.returncode == 0, prom_tools.output(result)


def test_promtool_a_namespace_only_selector_would_miss_the_gates_own_alerts(tmp_path: Path) -> None:
    """The control: the gate's alerts carry the monitoring namespace (the Operator routes by it),
    so `ALERTS{namespace="aos"}` alone never sees a firing ReplayMismatch."""
    naive = 'sum(ALERTS{alertstate="firing",severity="critical",namespace="aos"}) or vector(0)'
    mismatches = [{"series": 'aos_replay_mismatch_total{namespace="aos",pod="aos-1"}', "values": "0+1x20"}]
    result = _analysis_tests(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": mismatches,
                "promql_expr_test": [{"expr": naive, **_count(0, "10m")}],
            }
        ],
    )
    assert result.returncode == 0, prom_tools.output(result)
