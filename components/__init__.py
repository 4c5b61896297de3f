"""Thin Pulumi components: each declares provider resources from a spec computed in gate/."""
