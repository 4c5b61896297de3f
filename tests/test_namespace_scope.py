"""Every PromQL selector the stacks declare matches their application's namespace.

A pull request's disposable environment (`aos-pr-42`) runs the same application, job and metrics
with staging's policy, possibly in staging's cluster and Prometheus; an unscoped selector would let
it fire staging's rollback alerts or fail (or pass) staging's canary analysis. The expressions are
read back from each stack's plan (the PrometheusRule, the Amazon Managed Prometheus rules that reuse
gate.alerts.rule_groups, the AnalysisTemplate) and every selector in them is parsed
(tests/support/promql_selectors.py), independently of gate/runtime/promql.py that builds them.
tests/test_alerts.py shows with promtool that the scoped rules ignore `aos-pr-42`'s series.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from gate.policy.loader import load_policy
from gate.runtime import alerts, promql
from tests.support.promql_selectors import PromQLSyntaxError, Selector, selectors
from tests.support.stacks import names, stack_plan

STACKS = ("dev", "staging", "prod")
NOW = "2026-11-22T10:00:00Z"


def of_kind(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["inputs"] for r in plan["resources"] if r["type"].endswith(f":{kind}")]


def unscoped(expr: str, namespace: str) -> list[Selector]:
    """The selectors of `expr` without `namespace="<namespace>"`; fails on an expression with none."""
    found = selectors(expr)
    assert found, f"no selector found in {expr!r}"
    return [s for s in found if s.equal("namespace") != namespace]


def rule_exprs(groups: list[dict[str, Any]]) -> list[str]:
    return [rule["expr"] for group in groups for rule in group["rules"]]


# ---------------------------------------------------------------------------------------------
# The selector parser itself


def test_the_parser_finds_every_selector_and_its_matchers() -> None:
    expr = (
        'sum by (job, namespace) (rate(http_requests_total{job="aos",namespace="aos",code=~"5.."}[5m]))'
        ' / ignoring (code) group_left () up offset 1h > 0.5 and on (job) {__name__="x", a!~"b\\"}"}'
        ' or histogram_quantile(0.99, rate(h_bucket{le="+Inf"}[5m:1m])) * 1e3'
        ' unless absent(redis_connected{namespace="aos"}) + vector(0)'
    )
    assert selectors(expr) == [
        Selector(
            "http_requests_total", (("job", "=", "aos"), ("namespace", "=", "aos"), ("code", "=~", "5.."))
        ),
        Selector("up", ()),
        Selector(None, (("__name__", "=", "x"), ("a", "!~", 'b"}'))),
        Selector("h_bucket", (("le", "=", "+Inf"),)),
        Selector("redis_connected", (("namespace", "=", "aos"),)),
    ]


def test_the_parser_reads_braces_inside_strings_as_text() -> None:
    (found,) = selectors('sum(rate(m{namespace="{{args.namespace}}",pod=~"a-{{args.h}}-[a-z]+"}[5m]))')
    assert found.equal("namespace") == "{{args.namespace}}"
    assert found.matchers[1] == ("pod", "=~", "a-{{args.h}}-[a-z]+")


def test_unscoped_selectors_are_reported() -> None:
    assert [s.metric for s in unscoped('up{job="aos"} == 0 or a{namespace="aos"} and b', "aos")] == [
        "up",
        "b",
    ]
    assert unscoped('up{namespace="aos-pr-42"}', "aos") == [
        Selector("up", (("namespace", "=", "aos-pr-42"),))
    ]
    # A regex or negative matcher is not the scope: `=~"aos.*"` also matches aos-pr-42.
    assert len(unscoped('up{namespace=~"aos.*"} + up{namespace!="x"}', "aos")) == 2
    with pytest.raises(AssertionError, match="no selector"):
        unscoped("vector(1) > 0", "aos")
    with pytest.raises(PromQLSyntaxError):
        selectors('up{job="aos"')


# ---------------------------------------------------------------------------------------------
# The rendered expressions of every stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_and_recording_rule_selects_the_stacks_namespace(stack: str) -> None:
    plan = stack_plan(stack)
    namespace = plan["outputs"]["namespace"]
    assert namespace == names().application
    (rule,) = of_kind(plan, "PrometheusRule")
    exprs = rule_exprs(rule["spec"]["groups"])
    assert {"ReplayMismatch", "HealthCheckFailing", "ErrorRateIncrease"} <= {
        r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]
    }
    for expr in exprs:
        assert unscoped(expr, namespace) == [], expr


def test_the_managed_prometheus_rules_select_the_namespace_too() -> None:
    plan = stack_plan("prod")  # stacks/Pulumi.prod.yaml sets aws.managedPrometheus
    (amp,) = of_kind(plan, "RuleGroupNamespace")
    (rule,) = of_kind(plan, "PrometheusRule")
    groups = yaml.safe_load(amp["data"])["groups"]
    assert groups == rule["spec"]["groups"]  # the cluster's rules, as gate/aws/foundation.py says
    for expr in rule_exprs(groups):
        assert unscoped(expr, plan["outputs"]["namespace"]) == [], expr


def fill_args(template: dict[str, Any], rollout_manifest: dict[str, Any]) -> list[str]:
    """The template's queries with the arguments as the Rollout fills them for an AnalysisRun."""
    values: dict[str, str] = {}
    for arg in rollout_manifest["spec"]["strategy"]["canary"]["analysis"]["args"]:
        source = arg["valueFrom"]
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.namespace"
            values[arg["name"]] = rollout_manifest["metadata"]["namespace"]
        else:  # a pod-template hash
            values[arg["name"]] = "5d8f9c7b6"
    queries = [m["provider"]["prometheus"]["query"] for m in template["spec"]["metrics"]]
    return [re.sub(r"\{\{args\.([a-z-]+)\}\}", lambda m: values[m.group(1)], q) for q in queries]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_analysis_query_selects_the_rollouts_namespace(stack: str) -> None:
    plan = stack_plan(stack)
    namespace = plan["outputs"]["namespace"]
    (template,) = of_kind(plan, "AnalysisTemplate")
    (rollout_manifest,) = of_kind(plan, "Rollout")
    assert template["metadata"]["namespace"] == rollout_manifest["metadata"]["namespace"] == namespace
    environment = plan["outputs"]["environment"]
    # As rendered: the argument the Rollout fills with its own namespace ...
    for metric in template["spec"]["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        assert not_this_environment(unscoped(query, "{{args.namespace}}"), environment) == [], query
    # ... and as Argo runs them.
    queries = fill_args(template, rollout_manifest)
    assert len(queries) == 5  # one per rollback criterion
    for query in queries:
        assert "{{" not in query
        assert not_this_environment(unscoped(query, namespace), environment) == [], query


def not_this_environment(found: list[Selector], environment: str) -> list[Selector]:
    """Of selectors outside the application's namespace, those that are not the gate's own ALERTS
    of this environment: the gate's alerts carry the monitoring namespace (where their
    PrometheusRule lives) and `environment`, which no pull request's alert has."""
    return [
        s
        for s in found
        if not (
            s.metric == "ALERTS"
            and s.equal("namespace") == "monitoring"
            and s.equal("environment") == environment
        )
    ]


# ---------------------------------------------------------------------------------------------
# The namespace follows the application, and a pull request's is its own


def test_another_application_is_scoped_to_its_own_namespace() -> None:
    policy = load_policy(
        {"environment": "dev", "repositories": [{"name": "aos"}], "application": {"name": "shop"}},
        stack="dev",
        github_owner="acme",
    )
    for expr in rule_exprs(alerts.rule_groups(policy)):
        assert unscoped(expr, "shop") == [], expr


def test_rules_rendered_for_a_pull_request_would_select_its_namespace_only() -> None:
    policy = load_policy(
        {
            "environment": "staging",
            "repositories": [{"name": "aos"}],
            "ephemeral": {"pullRequest": 42, "repository": "aos", "createdAt": NOW},
        },
        stack="pr-aos-42",
        github_owner="acme",
    )
    for expr in rule_exprs(alerts.rule_groups(policy)):
        assert unscoped(expr, "aos-pr-42") == [], expr


# ---------------------------------------------------------------------------------------------
# gate/runtime/promql.py, which builds the selectors


def test_selectors_are_built_from_their_parts() -> None:
    assert promql.selector("up") == "up"
    assert promql.selector("up", promql.eq("job", "aos"), promql.regex("code", "5..")) == (
        'up{job="aos",code=~"5.."}'
    )
    # Values are PromQL string literals: a quote or backslash cannot end the matcher early.
    text = promql.selector("up", promql.eq("namespace", 'a"b\\c'))
    assert text == 'up{namespace="a\\"b\\\\c"}'
    assert selectors(text) == [Selector("up", (("namespace", "=", 'a"b\\c'),))]
    assert json.loads(promql.quote('x"y')) == 'x"y'


def test_a_label_matched_twice_or_a_bad_name_is_refused() -> None:
    with pytest.raises(ValueError, match="more than once: namespace"):
        promql.selector("up", promql.eq("namespace", "aos"), promql.eq("namespace", "aos-pr-42"))
    with pytest.raises(ValueError, match="metric name"):
        promql.selector('up{namespace="x"}')
    with pytest.raises(ValueError, match="label name"):
        promql.eq("name space", "x")
    with pytest.raises(ValueError, match="operator"):
        promql.Matcher("namespace", "==", "x")
