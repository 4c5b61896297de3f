"""What the gate puts on GitHub, rendered from the policy: pure, documents and specs out.

`repository` computes one gated repository's gate (protections or rulesets, required checks, the
files it commits); `workflows`, `actions`, `yamltext` render the gate's workflows (actions pinned to
commit SHAs); `liveness`, `concurrency` and `expressions` prove a required check can run and is not
cancelled; `organization` is the central-repository mode (`centralfiles` names its shared files);
`schema_change`, `release_contract`, `release_notes`, `release_deploy` and `automation` render the
checks and jobs of single policy lines;
`selfpipeline` renders this repository's own pipeline; `api` is the one read of GitHub's REST API.
"""
