"""The aos service's infrastructure: its namespace and settings."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
stack = pulumi.get_stack()
replicas = config.get_int("replicas") or 1

namespace = k8s.core.v1.Namespace(
    "aos",
    metadata={"name": f"aos-{stack}", "labels": {"app": "aos"}},
)
settings = k8s.core.v1.ConfigMap(
    "aos-settings",
    metadata={"namespace": namespace.metadata["name"]},
    data={"replicas": str(replicas)},
)

pulumi.export("namespace", namespace.metadata["name"])
pulumi.export("replicas", replicas)
