"""The delivery path: promotion with evidence, deploys, rollbacks, drills and their records.

`evidence` decides whether an environment may take a release (the upstream stack's evidence);
`delivery` is the state the pipeline writes into a stack and carries forward; `deploy` runs the one
delivery path (`gate deploy|rollback|watch|record-evidence`) through the Automation API; `promote`,
`drill`, `emergency`, `window`, `changelog`, `health` and `evaluate` implement single delivery-policy
lines. What a person types is verified here before it is trusted.

A plan imports only what it checks and renders (`evidence`, `delivery`, `drill`, `emergency`,
`evaluation_jobs`, `outside`), never the commands behind those workflows (`deploy`, `promote`,
`drill_run`, `evaluate`, `changelog`): tests/test_plan.py keeps the list.
"""
