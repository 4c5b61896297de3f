"""What an environment runs in its cluster, rendered from the policy: pure Kubernetes documents.

`cluster` assembles an environment's manifests; `rollout` (Argo Rollouts canary and analysis),
`alerts` (PrometheusRule, Alertmanager routing), `dashboards`, `flags` (flagd and the flag lifecycle),
`relay` (alerts that reach the gated repository), `network` (default-deny policies), `promql` and
`kube` are its parts; `ephemeral` and `lifecycle` are the disposable per-PR environments and their
janitor. No Pulumi resources: `gate.components.kubernetes` declares what these render.
"""
