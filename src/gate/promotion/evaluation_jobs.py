"""deploy.yml's `evaluate` job before the production deploy, and `evaluation-notes` (GATE-DP-18).

`evaluate` runs `python -m gate evaluate` (gate/promotion/evaluate.py) on the production stack for
the image built and validated upstream: a FAIL (exit 1) or an error (exit 2) fails the job, and the
production deploy, which needs it, does not run. `evaluation-notes` appends the table to the
release's GitHub release, also after a FAIL. Apart from the command, so that rendering deploy.yml
(every plan) imports none of the evaluation's readers, its GitHub client or the deploy path.
"""

from __future__ import annotations

from typing import Any

from gate.github import actions
from gate.github.release_deploy import RELEASE_JOB, tag_prefix
from gate.github.yamltext import Commented
from gate.policy.model import GatePolicy

JOB = "evaluate"

NOTES_JOB = "evaluation-notes"

# The verdict's exit status and the table become step outputs (the table as a heredoc output with a
# delimiter the table cannot contain); the next step fails the job on anything but 0.
_EVALUATE = """\
set -uo pipefail
args=(--stack "$STACK" --image "$IMAGE" --repo-dir "$GITHUB_WORKSPACE" --format markdown)
if [ -n "$VERSION" ]; then
  args+=(--release "$VERSION")
fi
status=0
python -m gate evaluate "${args[@]}" > "$RUNNER_TEMP/evaluation.md" || status=$?
cat "$RUNNER_TEMP/evaluation.md" >> "$GITHUB_STEP_SUMMARY"
delimiter="evaluation-$(sha256sum "$RUNNER_TEMP/evaluation.md" | cut -c1-32)"
{
  echo "status=$status"
  echo "table<<$delimiter"
  cat "$RUNNER_TEMP/evaluation.md"
  echo "$delimiter"
} >> "$GITHUB_OUTPUT"
"""

_BLOCK = """\
if [ "$STATUS" != "0" ]; then
  echo "::error::[GATE-DP-18] a criterion is not PASS (exit ${STATUS:-none}): production is not deployed"
  exit 1
fi
"""

# The table replaces the one a previous run appended: the body is cut at the first marker, so a
# re-run never stacks tables up.
_MARK = "<!-- delivery-gate:evaluation -->"
_APPEND = f"""\
const {{ TABLE, TAG }} = process.env;
const mark = '{_MARK}';
const owner = context.repo.owner;
const repo = context.repo.repo;
if (!TABLE) {{
  core.warning('the evaluation printed no table: nothing to append to the release');
  return;
}}
let release;
try {{
  release = (await github.rest.repos.getReleaseByTag({{ owner, repo, tag: TAG }})).data;
}} catch (error) {{
  core.warning(`no GitHub release ${{TAG}} to append the evaluation to: ${{error}}`);
  return;
}}
if (!release || !release.id) {{
  core.warning(`no GitHub release ${{TAG}} to append the evaluation to`);
  return;
}}
const body = (release.body || '').split(mark)[0].trimEnd();
await github.rest.repos.updateRelease({{
  owner, repo, release_id: release.id,
  body: `${{body}}\\n\\n${{mark}}\\n${{TABLE}}\\n${{mark}}\\n`,
}});
"""

# Least privilege: the production stack's backend credentials read its state and the upstream's
# (as production's StackReference does); production's reviewers approve the deploy itself, after
# this verdict, so the reviewer-free twin holds them here (as for validate and evidence).
STATE_ENVIRONMENT_REASON = "reads the production and upstream stacks' state; reviewers approve the deploy"


def evaluation_job(policy: GatePolicy, repo: Any, release_job: str) -> dict[str, Any]:
    """GATE-DP-18: `gate evaluate` on the production stack, for the image built and validated
    upstream, before the production deploy (which needs this job): a FAIL (exit 1) or an error
    (exit 2) fails the job and production is not deployed. Read-only: the table goes to the step
    summary and the job's `table` output, which `evaluation-notes` appends to the release."""
    from gate.github.workflows import checkout, gate_command, gate_steps, job, permissions, run  # noqa: PLC0415 - workflows imports this module

    production = policy.environments[-1]
    upstream = policy.environments[-2].name
    evaluate_step = gate_command(
        "Evaluate the delivery policy's criteria (GATE-DP-18)",
        _EVALUATE,
        STACK=production.stack,
        IMAGE="${{ needs.build.outputs.image }}",
        VERSION=f"${{{{ needs.{release_job}.outputs.version }}}}",
        # Releases and issues of this repository, read with the job's own token (below).
        GH_TOKEN="${{ github.token }}",
    )
    block = run(
        "Block the production deploy on a FAIL", _BLOCK, STATUS="${{ steps.evaluate.outputs.status }}"
    )
    body = job(
        JOB,
        policy.workflows,
        [checkout(), *gate_steps(policy, repo), {"id": "evaluate", **evaluate_step}, block],
        environment={"name": Commented(production.rollback.name, STATE_ENVIRONMENT_REASON)},
        outputs={"table": "${{ steps.evaluate.outputs.table }}"},
    )
    grants: dict[str, Any] = {
        "contents": Commented("read", "the release contract and the post-incident signal files"),
        "issues": Commented("read", "an emergency's post-incident and backfill issues"),
    }
    if policy.aws is not None:  # the environment's role: its stack's state backend
        grants.update(permissions(**{"id-token": "write"}))
    body["permissions"] = grants
    return {
        "needs": ["build", f"evidence-{upstream}", release_job],
        # Not a release: production's jobs are skipped, and so is this one.
        "if": f"${{{{ needs.{release_job}.outputs.release == 'true' }}}}",
        **body,
    }


def notes_job(policy: GatePolicy, release_job: str) -> dict[str, Any]:
    """The table onto the release's GitHub release, also after a FAIL (the release records why it
    was not deployed): the one write, in a job of its own, with no environment and no secrets."""
    from gate.github.workflows import job, uses  # noqa: PLC0415 - workflows imports this module

    version = f"needs.{release_job}.outputs.version"
    append = {
        "name": "Append the evaluation to the GitHub release",
        **uses(actions.GITHUB_SCRIPT, script=_APPEND),
        "env": {
            "TABLE": f"${{{{ needs.{JOB}.outputs.table }}}}",
            "TAG": f"{tag_prefix(policy)}${{{{ {version} }}}}",
        },
    }
    body = job("evaluation notes", policy.workflows, [append])
    body["permissions"] = {"contents": Commented("write", "update the release's body (repos.updateRelease)")}
    return {
        "needs": [release_job, JOB],
        "if": f"${{{{ !cancelled() && needs.{JOB}.result != 'skipped' && {version} != '' }}}}",
        **body,
    }


def attach(policy: GatePolicy, repo: Any, jobs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """deploy.yml's jobs with `evaluate` (and `evaluation-notes`) right before the production
    deploy, which needs `evaluate`."""

    deploy_id = f"deploy-{policy.environments[-1].name}"
    if deploy_id not in jobs or RELEASE_JOB not in jobs:
        return jobs
    result: dict[str, dict[str, Any]] = {}
    for job_id, body in jobs.items():
        if job_id == deploy_id:
            result[JOB] = evaluation_job(policy, repo, RELEASE_JOB)
            result[NOTES_JOB] = notes_job(policy, RELEASE_JOB)
            result[job_id] = {
                "needs": [*body["needs"], JOB],
                **{k: v for k, v in body.items() if k != "needs"},
            }
        else:
            result[job_id] = body
    return result
