"""The offline plan: what `pulumi up` would declare, without a Pulumi CLI, credentials or network.

`engine` runs a Pulumi program under a recording mock engine (the only module touching SDK
internals); `plan` writes the canonical, hashed plan document; `diff` compares two plans for
reviewers; `report` sums up a pull request's plans as one markdown comment.
"""
