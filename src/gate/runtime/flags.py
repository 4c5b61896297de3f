"""Feature flags: flagd flag documents per environment, and the flag lifecycle rules.

DP §Pre-Deployment: "Feature flags configured for new features"; DP §Evaluation Criteria, Feature
flags: "New features flagged" passes, "Hard-coded feature delivery" fails. Each policy flag becomes
one boolean flagd flag (`on`/`off` variants) whose default variant is its state in the environment;
the same flags are rendered as a flagd document, as the OpenFeature operator's `FeatureFlag` custom
resource and as the data of a ConfigMap that flagd reads.

Pure: same policy (and, for the rules, same `today`), same output. `today` is always passed in, so
a plan is reproducible; `today_for_rules()` reads it from $DELIVERY_GATE_TODAY when set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from gate import clock
from gate.errors import GateError, RuleViolation
from gate.policy.loader import NAMESPACE, stack_file
from gate.policy.model import FeatureFlag, GatePolicy
from gate.runtime.kube import MANAGED_BY

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
# The storage version of core.openfeature.dev_featureflags.yaml (open-feature-operator v0.9.2).
FEATURE_FLAG_API_VERSION = "core.openfeature.dev/v1beta1"
FEATURE_FLAG_KIND = "FeatureFlag"
CONFIGMAP_KEY = "flags.flagd.json"
TODAY_ENV = "DELIVERY_GATE_TODAY"

ON, OFF = "on", "off"


@dataclass(frozen=True)
class FlagRule:
    """A flag lifecycle rule: stable id, what it requires, and the policy line it implements."""

    id: str
    summary: str
    policy: str  # section of ../shared/policy/delivery-policy.md ("DP")
    quote: str  # the policy line, verbatim
    where: str


PROMOTION = FlagRule(
    id="GATE-DP-05",
    summary="a flag is on in an environment only if it is on in the environment that one promotes from",
    policy="DP §Environment Progression; §Pre-Deployment",
    quote="No environment may be skipped except during emergency deployments",
    where="gate/runtime/flags.py:flag_violations",
)
EXPIRY = FlagRule(
    id="GATE-DP-06",
    summary="a flag past its `expires` date fails the plan until it is removed or extended",
    policy="DP §Pre-Deployment; §Evaluation Criteria, Feature flags",
    quote="Feature flags configured for new features",
    where="gate/runtime/flags.py:flag_violations",
)
OFF_BY_DEFAULT = FlagRule(
    id="GATE-DP-07",
    summary="a new flag is off in every environment it does not list, production included",
    policy="DP §Evaluation Criteria, Feature flags",
    quote="New features flagged",
    where="gate/policy/model.py:FeatureFlag.enabled_in (rendered by gate/runtime/flags.py)",
)
KNOWN_ENVIRONMENTS = FlagRule(
    id="GATE-DP-08",
    summary="a flag names only environments of the promotion chain",
    policy="DP §Environment Progression",
    quote="All changes must progress through isolated environments before reaching production",
    where="gate/runtime/flags.py:flag_violations",
)
FLAG_RULES = (PROMOTION, EXPIRY, OFF_BY_DEFAULT, KNOWN_ENVIRONMENTS)


# ---------------------------------------------------------------------------------------------
# Documents


def flag_document(policy: GatePolicy, environment: str | None = None) -> dict[str, Any]:
    """The flagd flag-definition document (flags.json, v0) for one environment (default: the stack's)."""
    return {"$schema": FLAGD_SCHEMA, "flags": _flags(policy, _environment(policy, environment))}


def feature_flag_resource(policy: GatePolicy, environment: str | None = None) -> dict[str, Any]:
    """The OpenFeature operator `FeatureFlag` custom resource carrying the same flags."""
    app = policy.application.name
    return {
        "apiVersion": FEATURE_FLAG_API_VERSION,
        "kind": FEATURE_FLAG_KIND,
        "metadata": {
            "name": f"{app}-flags",
            "labels": {"app.kubernetes.io/name": app, **MANAGED_BY},
        },
        "spec": {"flagSpec": {"flags": _flags(policy, _environment(policy, environment))}},
    }


def flag_configmap_data(policy: GatePolicy, environment: str | None = None) -> dict[str, str]:
    """ConfigMap data for flagd's file provider: the flag document as canonical JSON text."""
    return {CONFIGMAP_KEY: canonical_json(flag_document(policy, environment))}


def canonical_json(document: Any) -> str:
    """Sorted keys, no insignificant whitespace: the same document always gives the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _environment(policy: GatePolicy, environment: str | None) -> str:
    names = [e.name for e in policy.environments]
    chosen = policy.environment if environment is None else environment
    if chosen not in names:
        raise ValueError(f"unknown environment {chosen!r}; allowed: one of {', '.join(names)}")
    return chosen


def _flags(policy: GatePolicy, environment: str) -> dict[str, Any]:
    return {flag.key: _flag(flag, environment) for flag in sorted(policy.flags, key=lambda f: f.key)}


def _flag(flag: FeatureFlag, environment: str) -> dict[str, Any]:
    # flags.json allows string, number or boolean metadata values: the expiry is an ISO date string.
    metadata: dict[str, str] = {"expires": flag.expires.isoformat(), "issue": flag.issue, "owner": flag.owner}
    if flag.description:
        metadata["description"] = flag.description
    return {
        # ENABLED with an explicit `off` default rather than DISABLED: flagd treats a disabled flag
        # as missing, and the application would then fall back to its code default.
        "state": "ENABLED",
        "variants": {ON: True, OFF: False},
        # GATE-DP-07: an environment the flag does not list is off (FeatureFlag.enabled_in).
        "defaultVariant": ON if flag.enabled_in(environment) else OFF,
        "metadata": dict(sorted(metadata.items())),
    }


# ---------------------------------------------------------------------------------------------
# Rules


def flag_violations(policy: GatePolicy, today: date, source: str | None = None) -> list[str]:
    """Every flag lifecycle violation, as `[rule id] message`, in flag order; empty when none.

    `source` is the stack file named in the hints; default: the file of the policy's stack.
    """
    source = source or stack_file(policy.environment_spec.stack)
    names = [e.name for e in policy.environments]
    chain = " -> ".join(names)
    stacks = {e.stack: e.name for e in policy.environments}
    violations: list[str] = []
    for index, flag in enumerate(policy.flags):
        at = f"`{NAMESPACE}:flags[{index}]"
        for env in sorted(set(flag.environments) - set(names)):
            also = f" ({env!r} is the stack of environment {stacks[env]!r})" if env in stacks else ""
            violations.append(
                f"[{KNOWN_ENVIRONMENTS.id}] flag {flag.key!r} names environment {env!r}, which is not in "
                f"the chain {chain}{also}: use one of {', '.join(map(repr, names))} "
                f"({at}.environments.{env}` in {source})"
            )
        for spec in policy.environments:
            previous = spec.promotes_from
            if previous is None or not flag.enabled_in(spec.name) or flag.enabled_in(previous):
                continue
            violations.append(
                f"[{PROMOTION.id}] flag {flag.key!r} is on in {spec.name!r} but off in {previous!r}, the "
                f"environment {spec.name!r} promotes from (chain {chain}): turn it on in {previous!r} "
                f"first ({at}.environments.{previous}: true` in {source}) or off in {spec.name!r}"
            )
        if flag.expires < today:
            violations.append(
                f"[{EXPIRY.id}] flag {flag.key!r} expired on {flag.expires.isoformat()} (owner {flag.owner}, "
                f"issue {flag.issue}): remove it or extend `expires` ({at}.expires` in {source})"
            )
    return violations


def enforce_flag_rules(
    policy: GatePolicy, stack_source: str, today: date, definitions: str | None = None
) -> None:
    """GATE-DP-05, -06 and -08: raise RuleViolation naming the stack file when a flag breaks them;
    the hints name `definitions`, the file the flags are defined in (the base file, gate/policy/layers.py,
    when the project has one), default the stack file."""
    violations = flag_violations(policy, today, definitions or stack_source)
    if violations:
        raise RuleViolation(stack_source, violations)


def today_for_rules() -> date:
    """The date the rules judge expiry against: $DELIVERY_GATE_TODAY (YYYY-MM-DD) when set, else the
    gate's clock (gate/clock.py: $DELIVERY_GATE_NOW or today, UTC), so one setting pins both.
    """
    value = os.environ.get(TODAY_ENV, "")
    if not value:
        return clock.now().date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise GateError(f"${TODAY_ENV}: got {value!r}; allowed: a date as YYYY-MM-DD, or unset") from None
