"""Feature flags (gate/runtime/flags.py): flagd documents, the FeatureFlag resource, and GATE-DP-05..08."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from gate.errors import GateError, RuleViolation
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.runtime.flags import (
    CONFIGMAP_KEY,
    EXPIRY,
    FEATURE_FLAG_API_VERSION,
    FLAG_RULES,
    FLAGD_SCHEMA,
    KNOWN_ENVIRONMENTS,
    PROMOTION,
    TODAY_ENV,
    enforce_flag_rules,
    feature_flag_resource,
    flag_configmap_data,
    flag_document,
    flag_violations,
    today_for_rules,
)
from tests.support.crds import crd_path, crd_problems
from tests.support.shared import shared_dir

ISSUE = "https://github.com/acme/aos/issues/12"
EXPIRES = date(2027, 3, 1)
BEFORE_EXPIRY = date(2027, 1, 15)
SOURCE = "stacks/Pulumi.dev.yaml"
ENVIRONMENTS = ("dev", "staging", "production")


CHAIN = ("dev", "staging", "production")


def flag(key: str = "new-checkout", **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "owner": "payments",
        "expires": EXPIRES.isoformat(),
        "issue": ISSUE,
        "environments": {"dev": True, "staging": True},
        **extra,
    }


def policy(*flags: dict[str, Any], **values: Any) -> GatePolicy:
    base: dict[str, Any] = {"environment": "dev", "repositories": [{"name": "aos"}], "flags": list(flags)}
    return load_policy({**base, **values}, stack="dev", github_owner="acme")


def mixed() -> GatePolicy:
    return policy(
        flag("new-checkout"),
        flag(
            "dark-mode",
            description="Dark theme",
            environments={"dev": True, "staging": True, "production": True},
        ),
        flag("beta-search", environments={"dev": True}),
        flag("brand-new", environments={}),
    )


# ---------------------------------------------------------------------------------------------
# Documents against the real schemas


@functools.cache
def _flagd_registry() -> Registry[Any]:
    resources = []
    for name in ("flags.json", "targeting.json"):
        contents = json.loads((shared_dir() / "schemas" / "flagd" / name).read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


# flags.json and flagd.json put `$ref` beside `$id` at their root, where draft 7 ignores `$id`, so
# their relative `./targeting.json` would not resolve: refer to their definitions by absolute URI.
PROVIDER = f"{FLAGD_SCHEMA}#/definitions/providerConfig"  # what flags.json validates
DAEMON = f"{FLAGD_SCHEMA}#/definitions/flagdConfig"  # what flagd.json validates


def test_the_schema_entry_points_are_the_definitions_used_here() -> None:
    flagd_dir = shared_dir() / "schemas" / "flagd"
    assert json.loads((flagd_dir / "flags.json").read_text())["$ref"] == "#/definitions/providerConfig"
    assert (
        json.loads((flagd_dir / "flagd.json").read_text())["$ref"] == "./flags.json#/definitions/flagdConfig"
    )


def flagd_errors(document: Any, definition: str = PROVIDER) -> list[str]:
    """Errors of a document against flags.json (providers) or flagd.json (the flagd daemon)."""
    validator = jsonschema.Draft7Validator({"$ref": definition}, registry=_flagd_registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_flag_documents_validate_against_the_flagd_schema(environment: str) -> None:
    document = flag_document(mixed(), environment)
    assert flagd_errors(document) == []
    assert flagd_errors(document, DAEMON) == []
    assert flagd_errors(json.loads(flag_configmap_data(mixed(), environment)[CONFIGMAP_KEY])) == []


def test_the_flagd_schema_check_can_fail() -> None:
    document = flag_document(mixed())
    bad_state = {**document, "flags": {"x": {**document["flags"]["new-checkout"], "state": "ON"}}}
    assert flagd_errors(bad_state)
    nested = {"owner": {"team": "payments"}}
    bad_metadata = {**document, "flags": {"x": {**document["flags"]["new-checkout"], "metadata": nested}}}
    assert flagd_errors(bad_metadata)
    assert flagd_errors({"$schema": FLAGD_SCHEMA})
    # targeting.json is in the registry: good targeting passes, an unknown operator fails.
    checkout = document["flags"]["new-checkout"]
    rule = {"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "on", "off"]}
    assert flagd_errors({**document, "flags": {"x": {**checkout, "targeting": rule}}}) == []
    assert flagd_errors({**document, "flags": {"x": {**checkout, "targeting": {"nope": [1]}}}})


def test_one_boolean_flag_per_policy_flag_with_its_state_in_the_environment() -> None:
    gate_policy = mixed()
    expected_on = {
        "dev": {"new-checkout", "dark-mode", "beta-search"},
        "staging": {"new-checkout", "dark-mode"},
        "production": {"dark-mode"},
    }
    for environment, on in expected_on.items():
        flags = flag_document(gate_policy, environment)["flags"]
        assert list(flags) == ["beta-search", "brand-new", "dark-mode", "new-checkout"]
        assert {key for key, f in flags.items() if f["defaultVariant"] == "on"} == on
        for f in flags.values():
            assert f["state"] == "ENABLED"
            assert f["variants"] == {"on": True, "off": False}
    checkout = flag_document(gate_policy, "production")["flags"]["new-checkout"]
    assert checkout["defaultVariant"] == "off"
    assert checkout["metadata"] == {"owner": "payments", "expires": "2027-03-01", "issue": ISSUE}
    assert flag_document(gate_policy, "dev")["flags"]["dark-mode"]["metadata"]["description"] == "Dark theme"


def test_the_environment_defaults_to_the_stacks_own() -> None:
    gate_policy = mixed()
    assert gate_policy.environment == "dev"
    assert flag_document(gate_policy) == flag_document(gate_policy, "dev")
    assert flag_document(gate_policy) != flag_document(gate_policy, "production")
    assert flag_document(gate_policy)["$schema"] == "https://flagd.dev/schema/v0/flags.json"


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(
        ValueError, match="unknown environment 'prod'; allowed: one of dev, staging, production"
    ):
        flag_document(mixed(), "prod")


def test_no_flags_is_an_empty_valid_document() -> None:
    document = flag_document(policy())
    assert document["flags"] == {}
    assert flagd_errors(document) == []


# ---------------------------------------------------------------------------------------------
# The FeatureFlag custom resource and the ConfigMap


def test_the_api_version_is_the_crds() -> None:
    crd = yaml.safe_load((crd_path() / "core.openfeature.dev_featureflags.yaml").read_text(encoding="utf-8"))
    served = [f"{crd['spec']['group']}/{v['name']}" for v in crd["spec"]["versions"] if v["storage"]]
    assert served == [FEATURE_FLAG_API_VERSION]
    assert crd["spec"]["names"]["kind"] == "FeatureFlag"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_feature_flag_resource_validates_against_its_crd(environment: str) -> None:
    resource = feature_flag_resource(mixed(), environment)
    assert crd_problems(resource) == []
    assert resource["apiVersion"] == "core.openfeature.dev/v1beta1"
    assert resource["kind"] == "FeatureFlag"
    assert resource["metadata"]["name"] == "aos-flags"
    assert resource["spec"]["flagSpec"]["flags"] == flag_document(mixed(), environment)["flags"]


def test_the_crd_check_can_fail() -> None:
    resource = feature_flag_resource(mixed())
    # The CRD requires defaultVariant as a string (flags.json would also accept null).
    flags = {"x": {**resource["spec"]["flagSpec"]["flags"]["new-checkout"], "defaultVariant": None}}
    assert crd_problems({**resource, "spec": {"flagSpec": {"flags": flags}}})
    # `$schema` belongs in the flagd file, not in a flagSpec.
    assert crd_problems({**resource, "spec": {"flagSpec": {**resource["spec"]["flagSpec"], "$schema": "x"}}})


def test_configmap_data_is_the_document_as_canonical_json() -> None:
    data = flag_configmap_data(mixed(), "staging")
    assert list(data) == ["flags.flagd.json"]
    text = data["flags.flagd.json"]
    assert json.loads(text) == flag_document(mixed(), "staging")
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert text.startswith('{"$schema":"https://flagd.dev/schema/v0/flags.json","flags":{"beta-search":')


def test_same_policy_same_bytes() -> None:
    first = flag_configmap_data(mixed(), "production")[CONFIGMAP_KEY].encode()
    again = flag_configmap_data(mixed(), "production")[CONFIGMAP_KEY].encode()
    assert first == again
    # The order flags and environments are written in the stack file does not matter.
    reordered = policy(
        flag("brand-new", environments={}),
        flag("beta-search", environments={"dev": True}),
        flag(
            "dark-mode",
            description="Dark theme",
            environments={"production": True, "staging": True, "dev": True},
        ),
        flag("new-checkout", environments={"staging": True, "dev": True}),
    )
    assert flag_configmap_data(reordered, "production")[CONFIGMAP_KEY].encode() == first
    assert feature_flag_resource(reordered, "production") == feature_flag_resource(mixed(), "production")


# ---------------------------------------------------------------------------------------------
# Rules


def only(violations: list[str]) -> str:
    assert len(violations) == 1, violations
    return violations[0]


def test_a_well_promoted_policy_passes() -> None:
    assert flag_violations(mixed(), BEFORE_EXPIRY) == []
    enforce_flag_rules(mixed(), SOURCE, BEFORE_EXPIRY)


def test_on_in_production_but_off_in_staging_fails() -> None:
    bad = policy(flag(environments={"dev": True, "staging": False, "production": True}))
    message = only(flag_violations(bad, BEFORE_EXPIRY))
    assert message.startswith(
        f"[{PROMOTION.id}] flag 'new-checkout' is on in 'production' but off in 'staging'"
    )
    assert "chain dev -> staging -> production" in message
    assert "`delivery-gate:flags[0].environments.staging: true` in stacks/Pulumi.dev.yaml" in message
    assert message.endswith("or off in 'production'")


def test_on_in_staging_but_off_in_dev_fails() -> None:
    # Not listing dev is off in dev.
    message = only(flag_violations(policy(flag(environments={"staging": True})), BEFORE_EXPIRY))
    assert message.startswith("[GATE-DP-05] flag 'new-checkout' is on in 'staging' but off in 'dev'")
    assert "`delivery-gate:flags[0].environments.dev: true`" in message


def test_only_on_in_production_fails_at_the_first_gap_on_the_way_down() -> None:
    message = only(flag_violations(policy(flag(environments={"production": True})), BEFORE_EXPIRY))
    assert "is on in 'production' but off in 'staging'" in message


def test_promotion_follows_the_configured_chain() -> None:
    chain = [
        {"name": "dev", "stack": "dev"},
        {"name": "qa", "stack": "qa", "promotesFrom": "dev"},
        {"name": "production", "stack": "prod", "promotesFrom": "qa", "reviewers": {"teams": ["release"]}},
    ]
    skipped_qa = policy(flag(environments={"dev": True, "production": True}), environments=chain)
    message = only(flag_violations(skipped_qa, BEFORE_EXPIRY))
    assert "is on in 'production' but off in 'qa'" in message
    assert "chain dev -> qa -> production" in message
    # 'staging' is not in this chain.
    other = policy(flag(environments={"dev": True, "qa": True, "staging": True}), environments=chain)
    assert only(flag_violations(other, BEFORE_EXPIRY)).startswith(f"[{KNOWN_ENVIRONMENTS.id}]")


def test_an_expired_flag_fails() -> None:
    violations = flag_violations(mixed(), EXPIRES + timedelta(days=1))
    assert violations[0] == (
        f"[{EXPIRY.id}] flag 'new-checkout' expired on 2027-03-01 (owner payments, issue {ISSUE}): "
        "remove it or extend `expires` (`delivery-gate:flags[0].expires` in stacks/Pulumi.dev.yaml)"
    )
    # Every expired flag is reported, in the order of the stack file.
    assert [v.split("'")[1] for v in violations] == ["new-checkout", "dark-mode", "beta-search", "brand-new"]


def test_a_flag_is_not_expired_on_its_expiry_day() -> None:
    assert flag_violations(mixed(), EXPIRES) == []


def test_an_unknown_environment_fails() -> None:
    bad = policy(flag(environments={"dev": True, "prod": False}))
    message = only(flag_violations(bad, BEFORE_EXPIRY))
    assert message == (
        f"[{KNOWN_ENVIRONMENTS.id}] flag 'new-checkout' names environment 'prod', which is not in the chain "
        "dev -> staging -> production ('prod' is the stack of environment 'production'): use one of "
        "'dev', 'staging', 'production' "
        "(`delivery-gate:flags[0].environments.prod` in stacks/Pulumi.dev.yaml)"
    )
    typo = only(flag_violations(policy(flag(environments={"stagign": True})), BEFORE_EXPIRY))
    assert "names environment 'stagign'" in typo and "is the stack of" not in typo


def test_a_new_flag_is_off_everywhere_including_production() -> None:
    new = policy(flag("brand-new", environments={}))
    for environment in ENVIRONMENTS:
        assert flag_document(new, environment)["flags"]["brand-new"]["defaultVariant"] == "off"
        resource_flags = feature_flag_resource(new, environment)["spec"]["flagSpec"]["flags"]
        assert resource_flags["brand-new"]["defaultVariant"] == "off"
    assert flag_violations(new, BEFORE_EXPIRY) == []


def test_enforce_raises_one_rule_violation_with_every_problem() -> None:
    bad = policy(
        flag("a-flag", environments={"production": True, "prod": True}),
        flag("b-flag", expires="2026-01-01"),
    )
    with pytest.raises(RuleViolation) as raised:
        enforce_flag_rules(bad, "stacks/Pulumi.other.yaml", date(2026, 6, 1))
    error = raised.value
    assert error.source == "stacks/Pulumi.other.yaml"
    assert [v[: len("[GATE-DP-05]")] for v in error.violations] == [
        "[GATE-DP-08]",
        "[GATE-DP-05]",
        "[GATE-DP-06]",
    ]
    assert all("in stacks/Pulumi.other.yaml" in v for v in error.violations)
    assert str(error).startswith("stacks/Pulumi.other.yaml: the gate rules are violated (3 violation(s))")


def test_rules_cite_policy_lines_that_exist() -> None:
    dp = (shared_dir() / "policy" / "delivery-policy.md").read_text(encoding="utf-8")
    assert [rule.id for rule in FLAG_RULES] == ["GATE-DP-05", "GATE-DP-06", "GATE-DP-07", "GATE-DP-08"]
    for rule in FLAG_RULES:
        assert rule.quote in dp, rule.id
        assert rule.policy.startswith("DP §")


# ---------------------------------------------------------------------------------------------
# Today, injectable


def test_today_comes_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, "2027-03-02")
    assert today_for_rules() == date(2027, 3, 2)


def test_today_defaults_to_the_utc_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TODAY_ENV, raising=False)
    before = datetime.now(UTC).date()
    today = today_for_rules()
    assert today in {before, datetime.now(UTC).date()}


def test_a_malformed_today_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, "next tuesday")
    with pytest.raises(
        GateError, match=r"DELIVERY_GATE_TODAY: got 'next tuesday'; allowed: a date as YYYY-MM-DD"
    ):
        today_for_rules()
