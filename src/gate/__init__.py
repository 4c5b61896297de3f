"""Delivery Gate: a software delivery policy applied as reproducible infrastructure with Pulumi.

The package is layered one way (docs/design.md): `gate.policy` turns stack files into the frozen
policy model; the pure renderers in `gate.github`, `gate.runtime` and `gate.aws` turn the model into
documents (workflows, protections, manifests, IAM); `gate.components` declares them as Pulumi
resources and `gate.program` wires one stack. Beside them: `gate.promotion` (the delivery path and
its evidence), `gate.offline` (the plan without a Pulumi CLI) and `gate.cli` (the `gate` command).
Nothing outside `gate.components` and `gate.program` declares a resource.
"""

# The release of delivery-gate (semantic versioning; CHANGELOG.md). pyproject.toml holds the same
# value (tests/test_cli.py keeps them equal).
__version__ = "0.13.0"
