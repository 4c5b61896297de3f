"""Delivery Gate's pure core: the policy model, its loader, renderers and rules. No resources here."""
