"""Thin Pulumi components: each declares provider resources from a spec the pure core computed.

`github_gate` (a repository's merge gate and the central workflow repository), `kubernetes` (an
environment's manifests, the per-PR environment, the alert relay), `aws` (the AWS foundation) and
`promotion` (reading another stack's outputs). No business rules here.
"""
