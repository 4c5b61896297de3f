"""The policy: the typed, frozen model of the two policy texts and everything that reads or judges it.

`model` and `types` encode the policy's lines as defaults and validators; `stackfile`, `yamlguard`,
`loader` and `validation` read a stack file in bounded time and turn it into a `GatePolicy` or a
problem list naming file, dotted path, value and what is allowed; `schema` publishes the model as a
JSON Schema and a configuration reference; `rules`, `nonnegotiables` and `consistency` are the rules
over the computed gate (one stack, and the stacks of a project together). Pure: no Pulumi resources.
"""
