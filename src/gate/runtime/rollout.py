"""Progressive delivery as Argo Rollouts documents: pure, from the policy.

DP §Deployment Process: "Progressive rollout plan defined (e.g., 5% → 25% → 50% → 100%)",
"Health checks defined and monitored at each stage", "Automatic rollback triggers configured" and
"No manual steps in the deployment pipeline (fully automated)". DP §Rollback Criteria: "Automatic
rollback if any of: Error rate increases > {{MAX_ERROR_RATE_INCREASE}} above baseline; p99 latency
exceeds target; Health check failures". M9 §Post-merge 2: rollback when "`aos_replay_mismatch_total`
increases above threshold in 5m".

How Argo judges one measurement (argo-rollouts `utils/evaluate/evaluate.go`,
`metricproviders/prometheus/prometheus.go`, docs `features/analysis.md` "Handling Metric Results"):
- the Prometheus provider passes an instant vector to the conditions as `result`, a list of floats:
  `[]` when the query matched no series, `[NaN]` for 0/0 (no traffic in the window);
- the conditions are `expr` expressions with `len`, `isNaN` and `isInf` available; `&&`/`||`
  short-circuit, so `len(result) > 0 && ... result[0]` never indexes an empty list;
- with both conditions set, the failure condition wins, and neither holding is Inconclusive.

Here every success condition requires a value (`len(result) > 0 && !isNaN(result[0])`) and every
failure condition is its exact complement, so an empty or NaN result is a *failed* measurement,
never a successful or inconclusive one (the critical-alerts query alone turns no data into 0, on
purpose: an absent ALERTS series means no alert fires; see `_critical_alerts`): DP §Principles 3
"Promotion decisions based on data, not hope", and Inconclusive would pause for a human ("No manual
steps"). A failed metric fails the AnalysisRun, which aborts the Rollout: traffic returns to the
stable ReplicaSet.

Queries select the canary and the stable pods by pod name, `<app>-<pod-template-hash>-<suffix>`
(Argo names a ReplicaSet `<rollout>-<hash>`), and by namespace; Prometheus Operator scrapes add the
`namespace` and `pod` labels by default and kubelet's prober metrics carry them natively, so no
relabelling is needed. The hashes and the namespace are AnalysisRun arguments the Rollout fills.
Every selector carries the namespace matcher (built by gate/runtime/promql.py), so a pull request's
disposable environment (`aos-pr-42`, same app and pod names) can never fail or pass staging's canary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gate.policy.model import GatePolicy
from gate.policy.types import number as number  # noqa: PLC0414 - explicit re-export (mypy)
from gate.runtime import promql
from gate.runtime.kube import MANAGED_BY, Manifest, restricted_security_context

API_VERSION = "argoproj.io/v1alpha1"
NAME_LABEL = "app.kubernetes.io/name"

# AnalysisTemplate arguments, filled by the Rollout for each AnalysisRun.
CANARY_HASH = "canary-hash"
STABLE_HASH = "stable-hash"
NAMESPACE = "namespace"
NAMESPACE_FIELD = "metadata.namespace"  # the Rollout's own namespace

# Not in the policy: how often the analysis measures and over which window the rates are taken.
# One measurement a minute over overlapping 5-minute windows; the first after one interval, so a
# canary that has just become available has been scraped at least twice.
INTERVAL = "1m"
INITIAL_DELAY = "1m"
RATE_WINDOW = "5m"

# Not in the policy: the container's resources, sized like the ephemeral namespace's LimitRange
# defaults. Limits are set because a ResourceQuota on limits.* admits only pods that set them.
RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}


@dataclass(frozen=True)
class Criterion:
    """One rollback criterion: a Prometheus query whose single value must stay <= threshold."""

    name: str
    query: str
    threshold: float
    failure_limit: int
    source: str  # the policy line it implements


def progressive(policy: GatePolicy) -> bool:
    """Staging (what production promotes from) and production roll out progressively, with the
    analysis (gate/runtime/cluster.py declares it; gate/runtime/dashboards.py shows its queries)."""
    production = policy.environments[-1]
    return policy.environment in (production.name, production.promotes_from)


def template_name(policy: GatePolicy) -> str:
    return f"{policy.application.name}-rollback-criteria"


def canary_service_name(policy: GatePolicy) -> str:
    return f"{policy.application.name}-canary"


def stable_service_name(policy: GatePolicy) -> str:
    return f"{policy.application.name}-stable"


def image(policy: GatePolicy) -> str:
    """The image to deploy: the release's digest (or dev's application.image). The environment
    stacks declare no workload before their first release (gate/runtime/cluster.py); a caller that
    renders one anyway gets `<app>:unset`, a tag that does not exist, so the canary never becomes
    available and the progress deadline aborts the update."""
    return policy.deployed_image or f"{policy.application.name}:unset"


def success_condition(threshold: float) -> str:
    """Success needs a value, and a value at or below the threshold; [] and [NaN] are not success."""
    return f"len(result) > 0 && !isNaN(result[0]) && result[0] <= {number(threshold)}"


def failure_condition(threshold: float) -> str:
    """The exact complement of success_condition: [] and [NaN] fail, as does a value above it."""
    return f"len(result) == 0 || isNaN(result[0]) || result[0] > {number(threshold)}"


# How a query names an AnalysisTemplate argument: `{{args.<name>}}` in the AnalysisTemplate; a
# dashboard (gate/runtime/dashboards.py) renders the same queries with its own variables instead.
ArgRenderer = Callable[[str], str]


def _arg(name: str) -> str:
    return f"{{{{args.{name}}}}}"


def _pods(policy: GatePolicy, hash_arg: str, arg: ArgRenderer = _arg) -> tuple[promql.Matcher, ...]:
    """Label matchers for one ReplicaSet's pods: `<app>-<hash>-<suffix>` in the Rollout's namespace."""
    app = policy.application.name
    return (
        promql.eq("namespace", arg(NAMESPACE)),
        promql.regex("pod", f"{app}-{arg(hash_arg)}-[a-z0-9]+"),
    )


def _error_ratio(policy: GatePolicy, hash_arg: str, arg: ArgRenderer = _arg) -> str:
    # A labelled counter has no 5xx series until the first 5xx, so the numerator alone falls back to
    # 0; the denominator has no fallback, so no requests at all still gives [] or NaN (a failure).
    metric, pods = policy.application.requests_metric, _pods(policy, hash_arg, arg)
    errors = f"sum(rate({promql.selector(metric, *pods, promql.regex('code', '5..'))}[{RATE_WINDOW}]))"
    total = f"sum(rate({promql.selector(metric, *pods)}[{RATE_WINDOW}]))"
    return f"(({errors} or vector(0)) / {total})"


def _critical_alerts(policy: GatePolicy, arg: ArgRenderer = _arg) -> str:
    """How many critical alerts fire for this environment now: DP §Rollback Criteria "Critical
    alert triggered". Critical alerts are exactly the rollback criteria (gate/runtime/alerts.py).

    Two kinds of ALERTS series count: alerts about the Rollout's own namespace (any rule, e.g. a
    cluster's crash-loop alert, whose `namespace` label is the pods'), and the gate's own alerts of
    this environment, which carry the monitoring namespace (where the PrometheusRule lives, for the
    Operator's routing) and `environment`. Both exclude a pull request's namespace (`aos-pr-42`)
    and another environment sharing the Prometheus.

    No data counts as zero, on purpose, unlike every other criterion: Prometheus writes an ALERTS
    series only while an alert is pending or firing, so an absent series means no alert fires, and
    treating it as a failure would abort every rollout. The risk: a Prometheus that evaluates no
    rules (or lost them) looks quiet here. The other criteria still fail on missing data, so a
    broken Prometheus fails the analysis through them; a missing rule file does not, which the
    absent() alerts and the plan's PrometheusRule are there for.
    """
    firing = (promql.eq("alertstate", "firing"), promql.eq("severity", "critical"))
    about_namespace = promql.selector("ALERTS", *firing, promql.eq("namespace", arg(NAMESPACE)))
    gate_alerts = promql.selector(
        "ALERTS",
        *firing,
        promql.eq("namespace", policy.monitoring.namespace),
        promql.eq("environment", policy.environment),
    )
    return f"sum({about_namespace} or {gate_alerts}) or vector(0)"


def rollback_criteria(policy: GatePolicy, arg: ArgRenderer = _arg) -> tuple[Criterion, ...]:
    """The policy's rollback criteria as Prometheus queries, each compared with its threshold.

    `arg` renders the AnalysisTemplate arguments (the namespace and the pod-template hashes): by
    default as Argo's `{{args.<name>}}`; the dashboards pass their own (GATE-OBS-01), so the panels
    show these very queries.
    """
    app, thresholds = policy.application, policy.thresholds
    canary = _pods(policy, CANARY_HASH, arg)
    mismatch = thresholds.replay_mismatch
    probes = (*canary, promql.eq("container", app.name), promql.regex("probe_type", "Liveness|Readiness"))
    failed = promql.selector("prober_probe_total", *probes, promql.eq("result", "failed"))
    failed_probes = f"sum(increase({failed}[{RATE_WINDOW}]))"
    all_probes = f"sum(increase({promql.selector('prober_probe_total', *probes)}[{RATE_WINDOW}]))"
    return (
        Criterion(
            name="error-rate-increase",
            # Canary 5xx ratio minus the stable (baseline) 5xx ratio over the same window.
            query=f"{_error_ratio(policy, CANARY_HASH, arg)} - {_error_ratio(policy, STABLE_HASH, arg)}",
            threshold=thresholds.max_error_rate_increase,
            # Statistical signal: one outlying minute is tolerated, a second one aborts.
            failure_limit=1,
            source=(
                'DP §Rollback Criteria: "Error rate increases > {{MAX_ERROR_RATE_INCREASE}} above baseline"'
            ),
        ),
        Criterion(
            name="p99-latency",
            query=(
                f"1000 * histogram_quantile(0.99, sum by (le) "
                f"(rate({promql.selector(f'{app.latency_histogram}_bucket', *canary)}[{RATE_WINDOW}])))"
            ),
            threshold=thresholds.latency.p99_target_ms,
            failure_limit=1,
            source='DP §Rollback Criteria: "p99 latency exceeds target"',
        ),
        Criterion(
            name="replay-mismatch",
            # The counter must be exported from process start (an unlabelled counter is, at 0):
            # a canary that does not report it has no evidence of parity and fails.
            query=f"sum(increase({promql.selector(mismatch.metric, *canary)}[{mismatch.window}]))",
            threshold=mismatch.increase_above,
            # M9 §Thresholds: "Parity failure: immediate rollback".
            failure_limit=0,
            # The policy's words with this application's counter (M9 names its own, aos's).
            source=f'M9 §Post-merge 2: "`{mismatch.metric}` increases above threshold in 5m"',
        ),
        Criterion(
            name="health-checks",
            # The share of the canary's liveness and readiness probes (on health_path) that failed,
            # from kubelet's prober metrics. Failed probes have no series until the first failure, so
            # only they fall back to 0; no probe results at all gives [] or NaN (a failure).
            query=f"({failed_probes} or vector(0)) / {all_probes}",
            threshold=0,
            failure_limit=0,
            source='DP §Rollback Criteria: "Health check failures"',
        ),
        Criterion(
            name="critical-alerts",
            # The one criterion where no data passes: see _critical_alerts for why, and the risk.
            query=_critical_alerts(policy, arg),
            threshold=0,
            # A critical alert is a rollback criterion: the first firing one aborts.
            failure_limit=0,
            source='DP §Rollback Criteria: "Critical alert triggered"',
        ),
    )


def _metric(policy: GatePolicy, criterion: Criterion) -> dict[str, Any]:
    return {
        "name": criterion.name,
        # No `count`: a background analysis measures until the Rollout finishes its steps, so the
        # criteria guard every stage, not only the first few minutes (docs: "Background Analysis").
        "interval": INTERVAL,
        "initialDelay": INITIAL_DELAY,
        "successCondition": success_condition(criterion.threshold),
        "failureCondition": failure_condition(criterion.threshold),
        # Failed measurements beyond failureLimit fail the run and abort the Rollout. Provider errors
        # (Prometheus unreachable) beyond consecutiveErrorLimit (default 4) in a row put the run in
        # Error, which aborts as well. The conditions are complements, so nothing is Inconclusive.
        "failureLimit": criterion.failure_limit,
        "provider": {"prometheus": {"address": policy.monitoring.prometheus_url, "query": criterion.query}},
    }


def analysis_template(policy: GatePolicy) -> Manifest:
    """The AnalysisTemplate `<app>-rollback-criteria`: one metric per rollback criterion."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {"name": template_name(policy), "labels": _labels(policy)},
        "spec": {
            "args": [{"name": CANARY_HASH}, {"name": STABLE_HASH}, {"name": NAMESPACE}],
            "metrics": [_metric(policy, criterion) for criterion in rollback_criteria(policy)],
        },
    }


def steps(policy: GatePolicy) -> list[dict[str, Any]]:
    """setWeight N and a bake-time pause for every stage before the last (100).

    After its last step a canary Rollout promotes the new ReplicaSet to stable, which is the 100%
    stage. An explicit `setWeight: 100` would only add a step with no stable traffic left, where the
    error-rate comparison with the baseline has nothing to compare with.
    """
    rollout = policy.rollout
    out: list[dict[str, Any]] = []
    for weight in rollout.stages[:-1]:
        out.append({"setWeight": weight})
        out.append({"pause": {"duration": rollout.bake_time}})
    return out


def _labels(policy: GatePolicy) -> dict[str, str]:
    return {NAME_LABEL: policy.application.name, **MANAGED_BY}


def _container(policy: GatePolicy) -> dict[str, Any]:
    app = policy.application

    def probe(**timing: int) -> dict[str, Any]:
        # DP §Deployment Process: "Health checks defined and monitored at each stage".
        return {"httpGet": {"path": app.health_path, "port": "http"}, "timeoutSeconds": 2, **timing}

    return {
        "name": app.name,
        "image": image(policy),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": app.port, "protocol": "TCP"}],
        # Liveness and readiness start once startup succeeds, so their failures (which the
        # health-checks criterion counts) are failures of a running canary, not a slow start.
        "startupProbe": probe(periodSeconds=5, failureThreshold=30),
        "readinessProbe": probe(periodSeconds=5, failureThreshold=3),
        "livenessProbe": probe(periodSeconds=10, failureThreshold=3),
        "resources": {kind: dict(values) for kind, values in RESOURCES.items()},
        "securityContext": restricted_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def rollout(policy: GatePolicy, *, progressive: bool = True) -> Manifest:
    """The Rollout named after the application: a canary through the policy's stages, aborted by
    the background analysis (AnalysisTemplate `<app>-rollback-criteria`). Not `progressive` (dev):
    the same Rollout with no steps and no analysis, so every environment's workload is the stack's
    own (one delivery path) and `gate watch` reads one kind of status."""
    app = policy.application
    selector = {NAME_LABEL: app.name}
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": app.name, "labels": _labels(policy)},
        "spec": {
            "replicas": app.replicas,
            # DP §Principles 2: "Reversible — Every deployment must be rollback-capable".
            "revisionHistoryLimit": 5,
            # A canary that never becomes available (bad image, failing probes) is aborted, not
            # left waiting: DP §Deployment Process "No manual steps in the deployment pipeline".
            "progressDeadlineSeconds": 600,
            "progressDeadlineAbort": True,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": _labels(policy)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(policy)],
                    # readOnlyRootFilesystem: the only writable path.
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
            "strategy": {
                "canary": {
                    # Argo adds the pod-template hash to these Services' selectors; traffic uses
                    # the `<app>` Service, which selects both (see services()).
                    "canaryService": canary_service_name(policy),
                    "stableService": stable_service_name(policy),
                    # Keep full stable capacity while the canary comes up; an abort then shifts
                    # nothing but the canary's share. Without traffic routing Argo approximates the
                    # weights with replica counts, and scaleDownDelaySeconds is rejected (it needs
                    # traffic routing), as abortScaleDownDelaySeconds does not apply ("N/A").
                    "maxSurge": "25%",
                    "maxUnavailable": 0,
                    **(
                        {"analysis": _background_analysis(policy), "steps": steps(policy)}
                        if progressive
                        else {}
                    ),
                },
            },
        },
    }


def _background_analysis(policy: GatePolicy) -> dict[str, Any]:
    """The rollback criteria analysed through every canary step (the steps are the DP §Deployment
    Process "Progressive rollout plan")."""
    return {
        "templates": [{"templateName": template_name(policy)}],
        # Start at the first pause, once the first setWeight has made the canary
        # available; run in the background through every later stage.
        "startingStep": 1,
        "args": [
            {"name": CANARY_HASH, "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": STABLE_HASH, "valueFrom": {"podTemplateHashValue": "Stable"}},
            {"name": NAMESPACE, "valueFrom": {"fieldRef": {"fieldPath": NAMESPACE_FIELD}}},
        ],
    }


def _service(policy: GatePolicy, name: str) -> Manifest:
    app = policy.application
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(policy)},
        "spec": {
            "type": "ClusterIP",
            "selector": {NAME_LABEL: app.name},
            "ports": [{"name": "http", "port": app.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def services(policy: GatePolicy) -> list[Manifest]:
    """The Services the Rollout needs, all selecting the application's pods.

    `<app>-canary` and `<app>-stable` are the Rollout's canaryService and stableService: Argo adds
    `rollouts-pod-template-hash` to their selectors at run time, so each reaches one ReplicaSet.
    `<app>` is the Service clients and ingresses use: without traffic routing, it is the one that
    selects both ReplicaSets, so the canary's share of the replicas is its share of the traffic.
    """
    return [
        _service(policy, policy.application.name),
        _service(policy, canary_service_name(policy)),
        _service(policy, stable_service_name(policy)),
    ]
