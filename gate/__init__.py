"""Delivery Gate's pure core: the policy model, its loader, renderers and rules. No resources here."""

# The release of delivery-gate (semantic versioning; CHANGELOG.md). pyproject.toml holds the same
# value (tests/test_cli.py keeps them equal).
__version__ = "0.12.0"
