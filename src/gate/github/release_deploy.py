"""deploy.yml's production side (issue 12, part deploy): the `release` job the production deploy
needs, and the `change log` job after production's evidence.

`release` runs after the environment production promotes from has its evidence, right before the
production deploy waits for its reviewers:
- the release version V (DP: a release has a contract): on a release branch, the part of the
  branch name `repositories[].releaseBranchPattern`'s `*` matches (release/1.4.0 -> 1.4.0); on the
  default branch, the contract work/releases/<V>.md the push adds (git diff <the push's previous
  head, else HEAD^> HEAD, the template excluded). A default-branch push adding no contract is not
  a release: production's jobs are skipped, with a notice, and dev and staging are deployed.
- GATE-DP-14: the contract must pass `python tools/release_check.py contract --version V` (the
  tool the gate commits into the repository); without one the job fails and production is not
  deployed.
- GATE-DP-19: `python -m gate window --stack <production>`: outside the window the job fails and
  production is not deployed (the emergency workflow does not run this job).
- the commit range: the previous successful production deployment's commit (GitHub Deployments
  API)..this commit.
- DP §Deployment Process "Deployment window communicated to stakeholders": one Slack message per
  `deploymentWindow.stakeholders` channel, before the production deploy starts (errors: true, a
  failed announcement fails the job: production does not start unannounced).

`change log` (GATE-DP-20) runs once production's evidence is recorded: the run's environment
approvals, `python -m gate changelog record` (gate/promotion/changelog.py) and the Contents API and/or a
GitHub deployment of task `changelog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.github import actions
from gate.github.release_contract import RELEASE_CHECK_PATH
from gate.github.yamltext import Commented
from gate.policy.model import Environment, GatePolicy, Repository

Job = dict[str, Any]

RELEASE_JOB = "release"
CHANGELOG_JOB = "changelog"
# The task of the GitHub deployments the changelog job records, and `gate changelog` reads back
# (gate/promotion/changelog.py).
DEPLOYMENT_TASK = "changelog"
RELEASE_CHECK = RELEASE_CHECK_PATH
TEMPLATE_PREFIX = "_"  # work/releases/_TEMPLATE-release-contract.md is no release
SLACK_TOKEN_REASON = (
    "zizmor: ignore[secrets-outside-env] the bot token deploy.yml's rollbacks post with; "
    "pushes to protected branches only"
)


def contract_directory(policy: GatePolicy) -> str:
    """Where release contracts live (releaseContract.directory)."""
    return str(policy.release_contract.directory)


def tag_prefix(policy: GatePolicy) -> str:
    """Release tags are <tagPrefix><version> (releaseNotes.tagPrefix)."""
    return policy.release_notes.tag_prefix


def _branch_version(pattern: str) -> str:
    """Shell that sets `version` from $REF_NAME on a release branch: the part `*` matches."""
    if pattern.count("*") == 1 and not any(c in pattern for c in "?[]"):
        prefix, suffix = pattern.split("*")
        strip_suffix = f'; version="${{version%{suffix}}}"' if suffix else ""
        return f'version="${{REF_NAME#{prefix}}}"{strip_suffix}'
    return 'version="${REF_NAME##*/}"'  # a pattern without one `*`: the last path segment


def resolve_script(policy: GatePolicy, repo: Repository) -> str:
    directory = contract_directory(policy)
    return (
        "set -euo pipefail\n"
        "version=''\n"
        'case "$REF_NAME" in\n'
        f"  {repo.release_branch_pattern})\n"
        "    # A release branch: the version is in its name (release/<V>).\n"
        f"    {_branch_version(repo.release_branch_pattern)} ;;\n"
        "  *)\n"
        "    # The default branch: the release contract the push adds (since the push's previous head,\n"
        "    # else since the parent), the template and other _ files excluded.\n"
        "    since='HEAD^'\n"
        '    if [ -n "$BEFORE" ] && git cat-file -e "$BEFORE^{commit}" 2> /dev/null; then\n'
        '      since="$BEFORE"\n'
        "    fi\n"
        '    if [ "$REF_NAME" = "$DEFAULT_BRANCH" ] \\\n'
        '      && git rev-parse --verify --quiet "$since" > /dev/null; then\n'
        '      added="$(git diff --name-only --diff-filter=A "$since" HEAD -- "$CONTRACTS" \\\n'
        f"        | sed -n 's|^{directory}/\\([^/{TEMPLATE_PREFIX}][^/]*\\)\\.md$|\\1|p')\"\n"
        '      count="$(printf \'%s\' "$added" | grep -c . || true)"\n'
        '      if [ "$count" -gt 1 ]; then\n'
        '        echo "::error::this push adds $count release contracts" \\\n'
        "          \"(${added//$'\\n'/, }): one release per push\"\n"
        "        exit 1\n"
        "      fi\n"
        '      version="$added"\n'
        "    fi ;;\n"
        "esac\n"
        'if [ -z "$version" ]; then\n'
        '  echo "::notice::not a release: this push to $REF_NAME adds no release contract" \\\n'
        '    "($CONTRACTS/<version>.md); production is not deployed"\n'
        '  echo "release=false" >> "$GITHUB_OUTPUT"\n'
        "  exit 0\n"
        "fi\n"
        'if ! [[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$ ]]; then\n'
        "  echo \"::error::release version '$version' (from $REF_NAME):\" \\\n"
        "    \"allowed: letters, digits, '.', '_', '+', '-'\"\n"
        "  exit 1\n"
        "fi\n"
        '{ echo "release=true"; echo "version=$version"; } >> "$GITHUB_OUTPUT"\n'
        'echo "release $version from $REF_NAME"\n'
    )


_CONTRACT_CHECK = f"""\
set -euo pipefail
if [ ! -f {RELEASE_CHECK} ]; then
  echo "::error::[GATE-DP-14] {RELEASE_CHECK} is missing (the gate commits it):" \\
    "the release contract of $VERSION cannot be checked"
  exit 1
fi
if ! python {RELEASE_CHECK} contract --version "$VERSION" --directory "$CONTRACTS"; then
  echo "::error::[GATE-DP-14] release $VERSION has no valid release contract" \\
    "($CONTRACTS/$VERSION.md, see above): the production deploy refuses it"
  exit 1
fi
"""

_WINDOW_CHECK = """\
set -euo pipefail
if ! python -m gate window --stack "$STACK"; then
  echo "::error::[GATE-DP-19] production is not deployed outside its deployment window" \\
    "(see above); an incident goes through the emergency deploy workflow"
  exit 1
fi
"""

# The previous successful production deployment (what production ran before this release).
_COMMIT_RANGE = """\
const { ENVIRONMENT, SHA } = process.env;
const repo = context.repo;
const { data: deployments } = await github.rest.repos.listDeployments({
  ...repo, environment: ENVIRONMENT, per_page: 30,
});
// Deploys the change log recorded (after their evidence) first; else any successful deployment.
const recorded = deployments.filter((deployment) => deployment.task === 'TASK');
let previous = '';
for (const deployment of recorded.length ? recorded : deployments) {
  if (deployment.sha === SHA) continue;
  const { data: statuses } = await github.rest.repos.listDeploymentStatuses({
    ...repo, deployment_id: deployment.id, per_page: 1,
  });
  if (statuses.length && statuses[0].state === 'success') {
    previous = deployment.sha;
    break;
  }
}
const range = previous ? `${previous}..${SHA}` : SHA;
core.info(previous
  ? `commits since ${ENVIRONMENT}'s last deploy: ${range}`
  : `first deploy of ${ENVIRONMENT}: ${SHA}`);
core.setOutput('commit_range', range);
""".replace("TASK", DEPLOYMENT_TASK)


def release_job(policy: GatePolicy, repo: Repository, production: Environment, upstream: str) -> Job:
    from gate.github.workflows import (  # noqa: PLC0415
        checkout,
        gate_checkout,
        install_gate,
        job,
        run,
        setup_python,
        uses,
        when,
    )

    s = policy.workflows
    release = "${{ steps.version.outputs.release == 'true' }}"
    version = "${{ steps.version.outputs.version }}"
    contracts = contract_directory(policy)
    message = (
        "Production deploy of ${{ env.REPOSITORY }} release ${{ env.VERSION }} "
        "(commits ${{ env.COMMIT_RANGE }}) starts now: it waits for production's reviewers, "
        "inside the deployment window (${{ env.WINDOW }}). ${{ env.RUN_URL }}"
    )
    facts = {
        "REPOSITORY": "${{ github.repository }}",
        "VERSION": version,
        "COMMIT_RANGE": "${{ steps.range.outputs.commit_range }}",
        "WINDOW": "${{ steps.window.outputs.window }}",
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
    }
    announce = [
        when(
            release,
            {
                "name": f"Announce to {channel}",
                **uses(
                    actions.SLACK,
                    method="chat.postMessage",
                    token=Commented("${{ secrets.SLACK_BOT_TOKEN }}", SLACK_TOKEN_REASON),
                    errors=True,  # a failed announcement fails the job: production never starts unannounced
                    payload=f'channel: "{channel}"\ntext: "{message}"\n',
                ),
                "env": facts,
            },
        )
        for channel in policy.deployment_window.stakeholders
    ]
    steps = [
        # History: the default branch's release is the contract its pushed commit adds.
        checkout(**{"fetch-depth": 0}),
        {
            "id": "version",
            **run(
                "Resolve the release version",
                resolve_script(policy, repo),
                REF_NAME="${{ github.ref_name }}",
                DEFAULT_BRANCH=repo.default_branch,
                # The commit the branch pointed at before this push (all zeros for a new branch).
                BEFORE="${{ github.event.before }}",
                CONTRACTS=contracts,
            ),
        },
        when(release, setup_python(s)),
        when(
            release,
            run(
                "Check the release contract (GATE-DP-14)",
                _CONTRACT_CHECK,
                VERSION=version,
                CONTRACTS=contracts,
            ),
        ),
        when(release, gate_checkout(s, repo.owner or "")),
        when(release, install_gate()),
        {
            "id": "window",
            **when(
                release,
                {
                    **run("Check the deployment window (GATE-DP-19)", _WINDOW_CHECK, STACK=production.stack),
                    "working-directory": ".delivery-gate",
                },
            ),
        },
        {
            "id": "range",
            **when(
                release,
                {
                    "name": "Commit range since production's last deploy",
                    **uses(actions.GITHUB_SCRIPT, script=_COMMIT_RANGE),
                    "env": {"ENVIRONMENT": production.name, "SHA": "${{ github.sha }}"},
                },
            ),
        },
        *announce,
    ]
    body = job(
        RELEASE_JOB,
        s,
        steps,
        outputs={
            "release": "${{ steps.version.outputs.release }}",
            "version": version,
            "commit_range": "${{ steps.range.outputs.commit_range }}",
            "window": "${{ steps.window.outputs.window }}",
        },
    )
    body["permissions"] = {
        "contents": Commented("read", "check out the repository and its history (the release contract)"),
        "deployments": Commented("read", "find production's previous deployment (the commit range)"),
    }
    return {"needs": ["build", f"evidence-{upstream}"], **body}


_WRITE_CHANGE_LOG = """\
const fs = require('fs');
const { RECORD_FILE, LOG_FILE, LOG_BRANCH, DEPLOYMENTS, SHA } = process.env;
const { record, entry, header } = JSON.parse(fs.readFileSync(RECORD_FILE, 'utf8'));
const repo = context.repo;
const notFound = (error) => { if (error.status !== 404) throw error; return null; };
if (LOG_FILE) {
  // The log's own branch, never the protected default branch; started as an orphan holding only
  // the log when it does not exist yet.
  const branch = await github.rest.repos.getBranch({ ...repo, branch: LOG_BRANCH }).catch(notFound);
  if (branch === null) {
    const { data: tree } = await github.rest.git.createTree({
      ...repo, tree: [{ path: LOG_FILE, mode: '100644', type: 'blob', content: header }],
    });
    const { data: commit } = await github.rest.git.createCommit({
      ...repo, message: 'Start the change log (GATE-DP-20)', tree: tree.sha, parents: [],
    });
    await github.rest.git.createRef({ ...repo, ref: `refs/heads/${LOG_BRANCH}`, sha: commit.sha });
  }
  const found = await github.rest.repos.getContent({ ...repo, path: LOG_FILE, ref: LOG_BRANCH })
    .catch(notFound);
  const current = found && typeof found.data.content === 'string'
    ? Buffer.from(found.data.content, 'base64').toString('utf8') : '';
  const text = (current || header).replace(/\\n*$/, '') + '\\n\\n' + entry;
  await github.rest.repos.createOrUpdateFileContents({
    ...repo, path: LOG_FILE, branch: LOG_BRANCH,
    message: `Change log: ${record.environment} ${record.version} (GATE-DP-20)`,
    content: Buffer.from(text, 'utf8').toString('base64'),
    ...(found && found.data.sha ? { sha: found.data.sha } : {}),
  });
  core.info(`appended ${record.environment} ${record.version} to ${LOG_FILE} on ${LOG_BRANCH}`);
}
if (DEPLOYMENTS === 'true') {
  const { data: deployment } = await github.rest.repos.createDeployment({
    ...repo, ref: SHA, task: 'TASK', environment: record.environment, payload: record,
    description: `${record.version}: ${record.image}`.slice(0, 140),
    auto_merge: false, required_contexts: [], production_environment: true,
  });
  await github.rest.repos.createDeploymentStatus({
    ...repo, deployment_id: deployment.id, state: 'success', log_url: record.evidence.run,
    description: 'recorded in the change log (GATE-DP-20)',
  });
  core.info(`recorded ${record.environment} ${record.version} as a GitHub deployment`);
}
""".replace("TASK", DEPLOYMENT_TASK)

_RECORD = """\
set -euo pipefail
python -m gate changelog record --environment "$ENVIRONMENT" --version "$VERSION" --image "$IMAGE" \\
  --commit-range "$COMMIT_RANGE" --release-notes "$RELEASE_NOTES" \\
  --parity-root-hash "$PARITY_ROOT_HASH" --analysis "$ANALYSIS" \\
  --window-start "$WINDOW_START" --window-end "$WINDOW_END" --run-url "$RUN_URL" \\
  --deployment-window "$DEPLOYMENT_WINDOW" --approvals "$APPROVALS" --out "$RECORD_FILE"
"""


def changelog_job(policy: GatePolicy, repo: Repository, production: Environment) -> Job:
    from gate.github.workflows import gate_checkout, install_gate, job, run, setup_python, uses  # noqa: PLC0415

    s, settings = policy.workflows, policy.change_log
    ids = {kind: f"{kind}-{production.name}" for kind in ("deploy", "parity", "validate", "evidence")}
    record_file = "${{ runner.temp }}/change-log-record.json"
    validated = f"needs.{ids['validate']}.outputs"
    record = {
        **run(
            "Render the change-log record",
            _RECORD,
            ENVIRONMENT=production.name,
            VERSION=f"${{{{ needs.{RELEASE_JOB}.outputs.version }}}}",
            IMAGE=f"${{{{ needs.{ids['deploy']}.outputs.image }}}}",
            COMMIT_RANGE=f"${{{{ needs.{RELEASE_JOB}.outputs.commit_range }}}}",
            RELEASE_NOTES=(
                "${{ github.server_url }}/${{ github.repository }}/releases/tag/"
                f"{tag_prefix(policy)}${{{{ needs.{RELEASE_JOB}.outputs.version }}}}"
            ),
            PARITY_ROOT_HASH=f"${{{{ needs.{ids['parity']}.outputs.parity_root_hash }}}}",
            ANALYSIS=f"${{{{ {validated}.analysis }}}}",
            WINDOW_START=f"${{{{ {validated}.window_start }}}}",
            WINDOW_END=f"${{{{ {validated}.window_end }}}}",
            RUN_URL="${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
            DEPLOYMENT_WINDOW=f"${{{{ needs.{RELEASE_JOB}.outputs.window }}}}",
            # Who approved: the run's environment approvals as GitHub recorded them, never typed.
            APPROVALS="${{ steps.approvals.outputs.result }}",
            RECORD_FILE=record_file,
        ),
        "working-directory": ".delivery-gate",
    }
    approvals = (
        "const { data } = await github.rest.actions.getReviewsForRun({\n"
        "  ...context.repo, run_id: context.runId,\n"
        "});\n"
        "return data;\n"
    )
    write_env = {
        "RECORD_FILE": record_file,
        "LOG_FILE": settings.file or "",
        "LOG_BRANCH": settings.branch,
        "DEPLOYMENTS": str(settings.github_deployments).lower(),
        "SHA": "${{ github.sha }}",
    }
    steps = [
        gate_checkout(s, repo.owner or ""),
        setup_python(s),
        install_gate(),
        {
            "id": "approvals",
            "name": "Read who approved the deploy",
            **uses(actions.GITHUB_SCRIPT, script=approvals),
        },
        record,
        {
            "name": "Append the record to the change log",
            **uses(actions.GITHUB_SCRIPT, script=_WRITE_CHANGE_LOG),
            "env": write_env,
        },
    ]
    body = job("change log", s, steps)
    grants: dict[str, Commented] = {
        "actions": Commented("read", "read who approved this run's production deploy"),
    }
    if settings.file is not None:
        grants["contents"] = Commented(
            "write", f"append to {settings.file} on {settings.branch} (not a protected branch)"
        )
    else:
        grants["contents"] = Commented("read", "check out delivery-gate")
    if settings.github_deployments:
        grants["deployments"] = Commented("write", "record the deploy as a GitHub deployment of production")
    body["permissions"] = grants
    return {"needs": [RELEASE_JOB, *ids.values()], **body}


def attach(policy: GatePolicy, repo: Repository, jobs: dict[str, Job]) -> dict[str, Job]:
    """deploy.yml's jobs with `release` before the production deploy (which needs it and runs only
    for a release) and `changelog` after production's evidence."""
    production = policy.environments[-1]
    upstream = policy.environments[-2].name
    deploy_id = f"deploy-{production.name}"
    result: dict[str, Job] = {}
    for job_id, body in jobs.items():
        if job_id == deploy_id:
            result[RELEASE_JOB] = release_job(policy, repo, production, upstream)
            result[job_id] = {
                "needs": [*body["needs"], RELEASE_JOB],
                # Not a release (a default-branch push adding no contract): production's jobs skip.
                "if": f"${{{{ needs.{RELEASE_JOB}.outputs.release == 'true' }}}}",
                **{k: v for k, v in body.items() if k != "needs"},
            }
        else:
            result[job_id] = body
    result[CHANGELOG_JOB] = changelog_job(policy, repo, production)
    return result


def stacks_agree(policies: Mapping[str, GatePolicy]) -> list[str]:
    """`gate check` (GATE-DP-11's cross-stack rule, for issue 12): deploy.yml is rendered by the stack
    owning the merge gate, but `gate window` and `gate deploy` read the production stack: the
    deployment window and the change log must be the same in every stack, or the announcement would
    name one window and the check enforce another."""
    owners = [(stack, policy) for stack, policy in policies.items() if policy.owns_merge_gate]
    if len(owners) != 1:
        return []  # consistency.check reports that already
    owner_stack, owner = owners[0]
    problems = []
    for stack, policy in policies.items():
        for key, rule, mine, theirs in (
            ("deploymentWindow", "GATE-DP-19", policy.deployment_window, owner.deployment_window),
            ("changeLog", "GATE-DP-20", policy.change_log, owner.change_log),
        ):
            if mine != theirs:
                problems.append(
                    f"[{rule}] stack {stack}: delivery-gate:{key} differs from stack {owner_stack}'s, "
                    f"which renders deploy.yml; allowed: the same {key} in every stack"
                )
    return problems
