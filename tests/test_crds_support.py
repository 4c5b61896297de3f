"""The CRD validator itself can pass and fail (so tests that use it assert something)."""

from __future__ import annotations

from tests.support.crds import crd_problems

RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "x"},
    "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "1m"}]}]},
}


def test_a_valid_prometheus_rule_conforms() -> None:
    assert crd_problems(RULE) == []


def test_unknown_fields_and_wrong_types_are_reported() -> None:
    bad = {**RULE, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "fro": "1m"}]}]}}
    assert any("fro" in p for p in crd_problems(bad))
    wrong = {**RULE, "spec": {"groups": "nope"}}
    assert crd_problems(wrong)


def test_int_or_string_and_unknown_kinds() -> None:
    rollout_step = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r"},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 5}, {"pause": {"duration": "10m"}}]}}},
    }
    assert crd_problems(rollout_step) == []
    assert crd_problems({"apiVersion": "example.com/v1", "kind": "Nope"})[0].startswith("no CRD")
