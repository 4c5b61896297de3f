"""The emergency path through the one delivery path (DP §Emergency / Hotfix Deployments, issue 12).

Why this exists: `gate promote --emergency` wrote `release.emergency` into the committed stack file,
but since issue 11 the stack's STATE wins over a committed release (gate/delivery.py carry_forward),
so once an environment has been deployed by the pipeline that path deployed nothing. An emergency
now goes through `gate deploy` like every other deploy:

    python -m gate deploy --stack S --image IMG --emergency INC-1 --rollback-plan URL --security-scan URL

The release the pipeline writes carries `emergency`, so the program applies GATE-DP-10 (no upstream
evidence needed; `emergencyFollowUp` exported) and the state carries it forward like any release.
What a person typed is verified before it is trusted (`verify`):
- the incident id matches emergency.incidentIdPattern;
- the rollback plan is an https link; one into the repository must exist (GitHub API);
- the security scan is a successful run of this repository's security-scan workflow on the commit
  being deployed (GitHub API): "Security checks are never skippable".

GATE-DP-17 (`enforce_backfill`): a later non-emergency `gate deploy` into the environment that took
the emergency release is refused while the backfill issue the pipeline filed for it is open past
emergency.backfillWithin. Only that environment: the backfill itself deploys the image upstream and
records its evidence there, which a repository-wide block would make impossible. Rollbacks are
never blocked (M9 §Post-merge 2: a rollback never waits). An issue carrying the label but no marker
(filed by hand) cannot say which environment it is about: it blocks the last environment of the
chain (production), the one the emergency path exists for.

The workflow emergency-deploy.yml (`emergency_workflow`) is rendered here from deploy.yml's own jobs.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from gate.clock import iso
from gate.model import GatePolicy, Repository
from gate.types import HttpsUrl, duration_seconds, fullmatch_linear

RULE_ID = "GATE-DP-17"  # an overdue emergency backfill blocks later non-emergency deploys
WORKFLOW_FILE = "emergency-deploy.yml"
SECURITY_SCAN_FILE = "security-scan.yml"  # the workflow of the catalogue's security-scan check
SECURITY_SCAN_NAME = "security-scan"
# The marker the pipeline writes into the backfill issue's body: which environment took the release.
MARKER = re.compile(r"<!-- delivery-gate:emergency-backfill environment=([a-z0-9-]+) incident=(\S+) -->")


class GitHubApi(Protocol):
    def get(self, path: str) -> Any: ...


@dataclass(frozen=True)
class Request:
    """What the person on call types (`gate deploy --emergency ...`, the workflow's inputs)."""

    incident_id: str
    rollback_plan: str
    security_scan: str

    def release_emergency(self) -> dict[str, str]:
        """`release.emergency` as the program reads it (gate/model.py EmergencyRelease)."""
        return {
            "incidentId": self.incident_id,
            "rollbackPlan": self.rollback_plan,
            "securityScan": self.security_scan,
        }


def marker(environment: str, incident_id: str) -> str:
    return f"<!-- delivery-gate:emergency-backfill environment={environment} incident={incident_id} -->"


_HTTPS: TypeAdapter[str] = TypeAdapter(HttpsUrl)


def _https(url: str) -> bool:
    try:
        _HTTPS.validate_python(url)
    except ValidationError:
        return False
    return True


def _in_repository(url: str, repository: str, server: str) -> list[str] | None:
    """The path segments after https://<server>/<owner>/<repo>/, or None when the URL is elsewhere."""
    prefix = f"{server.rstrip('/')}/{repository}"
    parsed = urllib.parse.urlsplit(url)
    base = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    if base.lower() != prefix.lower() and not base.lower().startswith(prefix.lower() + "/"):
        return None
    rest = base[len(prefix) :].strip("/")
    return [urllib.parse.unquote(part) for part in rest.split("/")] if rest else []


def incident_problems(policy: GatePolicy, incident_id: str) -> list[str]:
    pattern = policy.emergency.incident_id_pattern
    if fullmatch_linear(pattern, incident_id):
        return []
    return [
        f"--emergency: got {incident_id!r}; allowed: an incident id matching emergency.incidentIdPattern "
        f"{pattern}"
    ]


def rollback_plan_problems(url: str, github: GitHubApi, repository: str, server: str) -> list[str]:
    """DP: "A rollback plan must be documented before deploying the fix": an https link; one into
    this repository must name a file (blob/tree) or an issue/pull request that exists."""
    if not _https(url):
        return [f"--rollback-plan: got {url!r}; allowed: an https:// link to the documented rollback plan"]
    parts = _in_repository(url, repository, server)
    if parts is None:
        return []  # a runbook elsewhere (wiki, incident tool): its content stays the reviewers' judgement
    if len(parts) >= 3 and parts[0] in ("blob", "tree"):
        ref, path = parts[1], "/".join(parts[2:])
        api = f"repos/{repository}/contents/{urllib.parse.quote(path)}?ref={urllib.parse.quote(ref, safe='')}"
    elif len(parts) == 2 and parts[0] in ("issues", "pull") and parts[1].isdigit():
        api = f"repos/{repository}/issues/{parts[1]}"
    else:
        return [
            f"--rollback-plan: {url} points into {repository} but not at a file (/blob/<ref>/<path>) or an "
            "issue (/issues/<n>): the gate cannot check that it exists"
        ]
    if _get(github, api) is None:
        return [f"--rollback-plan: {url} does not exist in {repository} (GitHub API GET {api})"]
    return []


def _get(github: GitHubApi, path: str) -> Any:
    """The API's answer, or None when it has none (404 and the like: the gate fails closed)."""
    try:
        return github.get(path)
    except Exception:  # any failure to read is "not verified" (fail closed); the caller says what
        return None


_RUN_URL = re.compile(r"actions/runs/([0-9]+)(?:/(?:attempts/[0-9]+|job/[0-9]+))?")


def security_scan_problems(
    url: str, github: GitHubApi, repository: str, commit: str | None, server: str
) -> list[str]:
    """DP: "Security checks are never skippable": a successful security-scan run of this repository
    on the very commit being deployed (repository mode: security-scan.yml; organisation mode: the
    central required workflow `<repo>--security-scan.yml`, which runs in this repository)."""
    parts = _in_repository(url, repository, server) if _https(url) else None
    found = _RUN_URL.fullmatch("/".join(parts)) if parts else None
    if found is None:
        return [
            f"--security-scan: got {url!r}; allowed: a run of {repository}'s security-scan workflow, "
            f"{server.rstrip('/')}/{repository}/actions/runs/<id>"
        ]
    if not commit:
        return ["--security-scan: the commit being deployed is unknown: pass --commit (or GITHUB_SHA)"]
    run_id = found.group(1)
    run = _get(github, f"repos/{repository}/actions/runs/{run_id}")
    if not isinstance(run, Mapping):
        return [f"--security-scan: run {run_id} of {repository} could not be read through the GitHub API"]
    problems = []
    file = str(run.get("path", "")).split("@", 1)[0].rsplit("/", 1)[-1]
    repo_name = repository.rsplit("/", 1)[-1]
    if run.get("name") != SECURITY_SCAN_NAME or file not in (
        SECURITY_SCAN_FILE,
        f"{repo_name}--{SECURITY_SCAN_FILE}",
    ):
        problems.append(
            f"run {run_id} is {run.get('name')!r} ({run.get('path')}), not the security-scan workflow"
        )
    full_name = (run.get("repository") or {}).get("full_name")
    if full_name != repository:
        problems.append(f"run {run_id} belongs to {full_name}, not {repository}")
    if run.get("head_sha") != commit:
        problems.append(f"run {run_id} scanned {run.get('head_sha')}, not the commit being deployed {commit}")
    if run.get("status") != "completed" or run.get("conclusion") != "success":
        problems.append(
            f"run {run_id} is {run.get('status')}/{run.get('conclusion') or 'no conclusion'}, not a success"
        )
    return [f"--security-scan: {p}" for p in problems]


def verify(
    policy: GatePolicy,
    request: Request,
    github: GitHubApi,
    *,
    repository: str,
    commit: str | None,
    server: str = "https://github.com",
) -> list[str]:
    """Everything wrong with what was typed; empty when the emergency may go ahead."""
    return [
        *incident_problems(policy, request.incident_id),
        *rollback_plan_problems(request.rollback_plan, github, repository, server),
        *security_scan_problems(request.security_scan, github, repository, commit, server),
    ]


# -- GATE-DP-17: an overdue backfill blocks later non-emergency deploys ------------------------------


def open_backfills(github: GitHubApi, repository: str, label: str) -> list[Mapping[str, Any]]:
    """The repository's open issues labelled `label` (pull requests excluded), every page."""
    issues: list[Mapping[str, Any]] = []
    quoted = urllib.parse.quote(label, safe="")
    for page in range(1, 11):  # at most 1000: a backlog that size is its own emergency
        answer = github.get(f"repos/{repository}/issues?state=open&labels={quoted}&per_page=100&page={page}")
        batch = [item for item in answer or [] if isinstance(item, Mapping)]
        issues += [item for item in batch if "pull_request" not in item]
        if len(batch) < 100:
            break
    return issues


def _created(issue: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(issue.get("created_at", "")).replace("Z", "+00:00"))
    except ValueError:
        return None


def backfill_environment(issue: Mapping[str, Any], policy: GatePolicy) -> str:
    """The environment a backfill issue is about: its marker's, else the last of the chain."""
    found = MARKER.search(str(issue.get("body") or ""))
    return found.group(1) if found else policy.environments[-1].name


def overdue_backfills(
    policy: GatePolicy, issues: Sequence[Mapping[str, Any]], now: datetime
) -> list[Mapping[str, Any]]:
    """The open backfill issues about this policy's environment older than backfillWithin. An issue
    whose creation time cannot be read counts as overdue (fail closed)."""
    within = timedelta(seconds=duration_seconds(policy.emergency.backfill_within))
    overdue = []
    for issue in issues:
        if backfill_environment(issue, policy) != policy.environment:
            continue
        created = _created(issue)
        if created is None or created.tzinfo is None or now - created > within:
            overdue.append(issue)
    return sorted(overdue, key=lambda issue: int(issue.get("number") or 0))


def backfill_problems(policy: GatePolicy, issues: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    e = policy.emergency
    problems = []
    for issue in overdue_backfills(policy, issues, now):
        created = _created(issue)
        since = iso(created) if created is not None and created.tzinfo is not None else "an unreadable time"
        problems.append(
            f"[{RULE_ID}] backfill #{issue.get('number')} {issue.get('title')!r} ({issue.get('html_url')}), "
            f"opened {since}, is open past emergency.backfillWithin {e.backfill_within}"
        )
    if problems:
        problems.append(
            f"what closes the gap: do the backfill each issue lists (deploy the emergency image upstream "
            f"and record its evidence there, post-deployment health evidence, the post-incident signal in "
            f"{e.signals_directory}/), then close the issue; until then only an emergency deploy "
            f"(--emergency) or a rollback may change {policy.environment}"
        )
    return problems


# -- emergency-deploy.yml ----------------------------------------------------------------------------


def targets(policy: GatePolicy) -> list[str]:
    """The environments an emergency may deploy straight to: every one with an upstream (the first
    one has nothing to skip; gate/model.py refuses release.emergency there)."""
    return [env.name for env in policy.environments[1:]]


# Step 1 of the workflow: every input checked before anything uses it. The inputs reach the script
# through env only (never `${{ }}` in run:, which GitHub would paste into the script: injection).
_VALIDATE = """\
set -euo pipefail
python3 - <<'PY'
import json, os, re, sys
e = os.environ
server, repository = e["GITHUB_SERVER_URL"].rstrip("/"), e["GITHUB_REPOSITORY"]
stacks = json.loads(e["STACKS"])
checks = [
    ("incident_id", e["INCIDENT_ID"], e["INCIDENT_PATTERN"], "an id matching " + e["INCIDENT_PATTERN"]),
    ("image", e["IMAGE"], r"[a-z0-9][a-z0-9.:-]*(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}", "a pinned image"),
    ("rollback_plan", e["ROLLBACK_PLAN"], r"https://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2000}", "https link"),
    (
        "security_scan_run",
        e["SECURITY_SCAN_RUN"],
        re.escape(server + "/" + repository) + r"/actions/runs/[0-9]+(/attempts/[0-9]+)?",
        "a security-scan run of this repository: " + server + "/" + repository + "/actions/runs/<id>",
    ),
]
problems = [
    f"{name}: got {value!r}; allowed: {allowed}"
    for name, value, pattern, allowed in checks
    if re.fullmatch(pattern, value) is None
]
if e["TARGET"] not in stacks:
    problems.append(f"environment: got {e['TARGET']!r}; allowed: one of {', '.join(stacks)}")
for problem in problems:
    print("::error::refused: " + problem)
if problems:
    sys.exit(1)
with open(e["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    out.write(f"environment={e['TARGET']}\\nstack={stacks[e['TARGET']]}\\nimage={e['IMAGE']}\\n")
print(f"emergency {e['INCIDENT_ID']}: {e['IMAGE']} to {e['TARGET']}")
PY
"""

_DEPLOY = """\
set -euo pipefail
python -m gate deploy --stack "$STACK" --image "$IMAGE" --repository "$REPOSITORY" --run-id "$RUN_ID" \\
  --commit "$COMMIT" --emergency "$INCIDENT_ID" --rollback-plan "$ROLLBACK_PLAN" \\
  --security-scan "$SECURITY_SCAN"
"""

_SIGNAL_BODY = """\
const { INCIDENT_ID, ENVIRONMENT, IMAGE, ROLLBACK_PLAN, SECURITY_SCAN, RUN_URL } = process.env;
const text = `# Post-incident signal: ${INCIDENT_ID}\\n\\n` +
  `Emergency deploy of \\`${IMAGE}\\` to ${ENVIRONMENT} (${RUN_URL}).\\n\\n` +
  `- Rollback plan: ${ROLLBACK_PLAN}\\n- Security scan: ${SECURITY_SCAN}\\n\\n` +
  '## What happened\\n\\n_To be written after resolution._\\n';
"""

_SIGNAL_ISSUE = (
    _SIGNAL_BODY
    + """\
await github.rest.issues.create({
  owner: context.repo.owner,
  repo: context.repo.repo,
  title: `Post-incident signal: ${INCIDENT_ID} (emergency deploy to ${ENVIRONMENT})`,
  body: text,
  labels: ['post-incident'],
});
"""
)

_SIGNAL_PULL_REQUEST = (
    _SIGNAL_BODY
    + """\
const { SIGNALS_DIRECTORY, BASE } = process.env;
const { owner, repo } = context.repo;
const branch = `post-incident/${INCIDENT_ID}`;
const { data: base } = await github.rest.git.getRef({ owner, repo, ref: `heads/${BASE}` });
await github.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha: base.object.sha });
await github.rest.repos.createOrUpdateFileContents({
  owner,
  repo,
  path: `${SIGNALS_DIRECTORY}/${INCIDENT_ID}.md`,
  message: `Post-incident signal: ${INCIDENT_ID}`,
  content: Buffer.from(text).toString('base64'),
  branch,
});
await github.rest.pulls.create({
  owner,
  repo,
  title: `Post-incident signal: ${INCIDENT_ID} (emergency deploy to ${ENVIRONMENT})`,
  head: branch,
  base: BASE,
  body: `Adds ${SIGNALS_DIRECTORY}/${INCIDENT_ID}.md; complete it after resolution.`,
});
"""
)

_BACKFILL = """\
const { INCIDENT_ID, ENVIRONMENT, IMAGE, RUN_URL, FOLLOW_UP, LABEL } = process.env;
const { WITHIN, WITHIN_SECONDS, MARKER } = process.env;
const followUp = FOLLOW_UP ? JSON.parse(FOLLOW_UP) : {};
const skipped = followUp.skippedValidation || [];
const backfill = followUp.backfill || [];
const due = new Date(Date.now() + Number(WITHIN_SECONDS) * 1000).toISOString().replace(/\\.\\d+Z$/, 'Z');
const list = (items, none) => (items.length ? items.map((item) => `- [ ] ${item}`).join('\\n') : none);
await github.rest.issues.create({
  owner: context.repo.owner,
  repo: context.repo.repo,
  title: `Emergency backfill: ${INCIDENT_ID} in ${ENVIRONMENT} (due ${due})`,
  body: `Emergency deploy of \\`${IMAGE}\\` to ${ENVIRONMENT} (${RUN_URL}) skipped validation:\\n\\n` +
    `${list(skipped, '- nothing upstream (the image was validated there)')}\\n\\n` +
    `Backfill, due ${due} (emergency.backfillWithin ${WITHIN}):\\n\\n${list(backfill, '- none')}\\n\\n` +
    `Past the due date, while this issue is open, non-emergency deploys to ${ENVIRONMENT} are ` +
    `refused (GATE-DP-17). Close it when the backfill is done.\\n\\n${MARKER}\\n`,
  labels: [LABEL, 'emergency'],
});
"""


def _rewired(body: Any) -> Any:
    """A deploy.yml job read by the emergency workflow: its `build` job is the inputs job here."""
    if isinstance(body, dict):
        out = {key: _rewired(value) for key, value in body.items()}
        if isinstance(out.get("needs"), list):
            out["needs"] = ["inputs" if need == "build" else need for need in out["needs"]]
        return out
    if isinstance(body, list):
        return [_rewired(item) for item in body]
    if isinstance(body, str):
        return body.replace("needs.build.outputs.", "needs.inputs.outputs.")
    return body


def emergency_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """emergency-deploy.yml: dispatched by the person on call; deploys straight to the target
    environment through its GitHub environment (its reviewers approve), then deploy.yml's own
    parity -> validate -> evidence -> rollback-on-failure jobs for it; no deployment window (DP
    §Emergency); then files the post-incident signal and the backfill issue."""
    from gate import workflows as w  # noqa: PLC0415 - gate.workflows hooks this module in

    s, e = policy.workflows, policy.emergency
    names = targets(policy)
    stacks = {env.name: env.stack for env in policy.environments if env.name in names}
    chain = w.deploy_workflow(policy, repo)["jobs"]
    inputs_job = w.job(
        "validate inputs",
        s,
        [
            {
                "id": "inputs",
                **w.run(
                    "Validate the inputs (nothing else reads them before this)",
                    _VALIDATE,
                    INCIDENT_ID="${{ inputs.incident_id }}",
                    IMAGE="${{ inputs.image }}",
                    ROLLBACK_PLAN="${{ inputs.rollback_plan }}",
                    SECURITY_SCAN_RUN="${{ inputs.security_scan_run }}",
                    TARGET="${{ inputs.environment }}",
                    INCIDENT_PATTERN=e.incident_id_pattern,
                    STACKS=_json(stacks),
                ),
            }
        ],
        permissions={},
        outputs={
            name: f"${{{{ steps.inputs.outputs.{name} }}}}" for name in ("environment", "stack", "image")
        },
    )
    jobs: dict[str, Any] = {"inputs": inputs_job}
    for name in names:
        deploy_step = w.gate_command(
            "Emergency deploy through the environment's stack (verifies the inputs through the API)",
            _DEPLOY,
            STACK=stacks[name],
            IMAGE="${{ needs.inputs.outputs.image }}",
            REPOSITORY="${{ github.repository }}",
            RUN_ID="${{ github.run_id }}",
            COMMIT="${{ github.sha }}",
            INCIDENT_ID="${{ inputs.incident_id }}",
            ROLLBACK_PLAN="${{ inputs.rollback_plan }}",
            SECURITY_SCAN="${{ inputs.security_scan_run }}",
            # The security-scan run and the rollback plan are read through the API with this token.
            GH_TOKEN="${{ github.token }}",
        )
        jobs[f"deploy-{name}"] = {
            "needs": ["inputs"],
            "if": f"${{{{ needs.inputs.outputs.environment == '{name}' }}}}",
            **w.job(
                f"deploy {name}",
                s,
                [*w.gate_steps(policy, repo), {"id": "deploy", **deploy_step}],
                # DP §Emergency: straight to the environment; its reviewers approve here.
                environment={"name": name},
                permissions=w.deploy_permissions(policy, actions="read"),
                outputs={
                    "image": "${{ steps.deploy.outputs.image }}",
                    "previous_image": "${{ steps.deploy.outputs.previous_image }}",
                    "deploy_started": (
                        "${{ steps.deploy.outcome == 'success' || steps.deploy.outcome == 'failure' }}"
                    ),
                    "follow_up": "${{ steps.deploy.outputs.follow_up }}",
                },
            ),
        }
        # deploy.yml's own jobs for this environment, not copies (gate/workflows.py).
        for kind in ("parity", "validate", "evidence", "rollback"):
            jobs[f"{kind}-{name}"] = _rewired(chain[f"{kind}-{name}"])
    jobs["follow-up"] = _follow_up_job(policy, repo, names)
    on = {
        "workflow_dispatch": {
            "inputs": {
                "incident_id": {
                    "description": f"The incident ({e.incident_id_pattern})",
                    "required": True,
                    "type": "string",
                },
                "image": {
                    "description": "The hotfix image, pinned by digest",
                    "required": True,
                    "type": "string",
                },
                "rollback_plan": {
                    "description": "https link to the documented rollback plan",
                    "required": True,
                    "type": "string",
                },
                "security_scan_run": {
                    "description": "The successful security-scan run of this commit (its URL)",
                    "required": True,
                    "type": "string",
                },
                "environment": {
                    "description": "Where to deploy",
                    "required": True,
                    "type": "choice",
                    "options": names,
                    "default": names[-1],
                },
            }
        }
    }
    # One emergency at a time, never cancelled half-way; deploy.yml's group stays its own.
    concurrency = {"group": "emergency-deploy", "cancel-in-progress": False}
    return w.workflow("emergency-deploy", on, jobs, concurrency=concurrency)


def _json(value: Any) -> str:
    import json  # noqa: PLC0415

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _follow_up_job(policy: GatePolicy, repo: Repository, names: Sequence[str]) -> dict[str, Any]:
    from gate import actions  # noqa: PLC0415
    from gate import workflows as w  # noqa: PLC0415

    e = policy.emergency
    deployed = " || ".join(f"needs.deploy-{n}.result == 'success'" for n in names)
    rolled_back = " || ".join(f"needs.rollback-{n}.result == 'success'" for n in names)
    facts = {
        "INCIDENT_ID": "${{ inputs.incident_id }}",
        "ENVIRONMENT": "${{ needs.inputs.outputs.environment }}",
        "IMAGE": "${{ needs.inputs.outputs.image }}",
        "ROLLBACK_PLAN": "${{ inputs.rollback_plan }}",
        "SECURITY_SCAN": "${{ inputs.security_scan_run }}",
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
    }
    if e.signal == "issue":
        signal = {
            "name": "File the post-incident signal (an issue)",
            **w.uses(actions.GITHUB_SCRIPT, script=_SIGNAL_ISSUE),
            "env": facts,
        }
        grants = {"issues": "write: file the post-incident signal and the backfill issue"}
    else:
        signal = {
            "name": f"File the post-incident signal (a pull request into {e.signals_directory}/)",
            **w.uses(actions.GITHUB_SCRIPT, script=_SIGNAL_PULL_REQUEST),
            "env": {**facts, "SIGNALS_DIRECTORY": e.signals_directory, "BASE": repo.default_branch},
        }
        grants = {
            "issues": "write: file the backfill issue",
            "contents": "write: create the signal's branch and file (Contents API)",
            "pull-requests": "write: open the signal's pull request",
        }
    backfill = w.when(
        # Rolled back: the environment runs a validated image again, nothing to backfill there.
        f"${{{{ !({rolled_back}) }}}}",
        {
            "name": "File the backfill issue",
            **w.uses(actions.GITHUB_SCRIPT, script=_BACKFILL),
            "env": {
                **facts,
                "FOLLOW_UP": "${{ "
                + " || ".join(f"needs.deploy-{n}.outputs.follow_up" for n in names)
                + " }}",
                "LABEL": e.backfill_label,
                "WITHIN": e.backfill_within,
                "WITHIN_SECONDS": str(duration_seconds(e.backfill_within)),
                "MARKER": marker("${{ needs.inputs.outputs.environment }}", "${{ inputs.incident_id }}"),
            },
        },
    )
    from gate.yamltext import Commented  # noqa: PLC0415

    body = w.job("post-incident follow-up", policy.workflows, [signal, backfill], permissions={})
    # Least privilege, each grant saying why (DP §Emergency: signal and backfill are filed here).
    body["permissions"] = {
        scope: Commented(text.split(": ", 1)[0], text.split(": ", 1)[1]) for scope, text in grants.items()
    }
    return {
        "needs": ["inputs", *(f"{kind}-{n}" for n in names for kind in ("deploy", "rollback"))],
        # DP §Emergency: after the deploy, whatever followed it (a rollback included).
        "if": f"${{{{ always() && ({deployed}) }}}}",
        **body,
    }


# -- `gate deploy` options and precheck (gate/delivery_cli.py hooks these in) ------------------------


def add_arguments(command: Any) -> None:
    import os  # noqa: PLC0415

    group = command.add_argument_group("emergency path (DP §Emergency / Hotfix Deployments)")
    group.add_argument("--emergency", metavar="INCIDENT_ID", help="deploy without upstream evidence")
    group.add_argument("--rollback-plan", metavar="URL", help="https link to the documented rollback plan")
    group.add_argument("--security-scan", metavar="URL", help="the successful security-scan run of --commit")
    group.add_argument(
        "--commit", default=os.environ.get("GITHUB_SHA"), help="the commit being deployed (GITHUB_SHA)"
    )


def precheck(args: Any, repository: str, github: GitHubApi | None, now: datetime) -> dict[str, str] | None:
    """Before `gate deploy` applies anything: an emergency's inputs verified (its release.emergency
    returned), or GATE-DP-17 for an ordinary deploy. Raises DeliveryRefused."""
    import os  # noqa: PLC0415

    from gate.deploy import DeliveryRefused, github_from_environment  # noqa: PLC0415
    from gate.promote import policy_from_values  # noqa: PLC0415
    from gate.stackfile import read_stack_config  # noqa: PLC0415

    config = read_stack_config(args.project_dir, args.stack)
    policy = policy_from_values(config.values, args.stack, config.source)
    given = {
        "--emergency": args.emergency,
        "--rollback-plan": args.rollback_plan,
        "--security-scan": args.security_scan,
    }
    if any(given.values()):
        absent = [flag for flag, value in given.items() if not value]
        if absent:
            raise DeliveryRefused(f"the emergency path needs {', '.join(absent)} as well")
        if policy.upstream_environment is None:
            raise DeliveryRefused(
                f"--emergency: {policy.environment} is the first environment: there is no upstream "
                "validation to skip; deploy it the ordinary way"
            )
        request = Request(args.emergency, args.rollback_plan, args.security_scan)
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        api = github or _github(github_from_environment)
        problems = verify(policy, request, api, repository=repository, commit=args.commit, server=server)
        if problems:
            raise DeliveryRefused("the emergency deploy is refused: " + "; ".join(problems))
        return request.release_emergency()
    if policy.upstream_environment is None:
        return None  # the first environment never takes an emergency release (targets())
    api = github or _github(github_from_environment)
    issues = open_backfills(api, repository, policy.emergency.backfill_label)
    problems = backfill_problems(policy, issues, now)
    if problems:
        raise DeliveryRefused(f"deploy to {policy.environment} refused: " + "; ".join(problems))
    return None


def _github(factory: Any) -> GitHubApi:
    from gate.deploy import DeliveryRefused  # noqa: PLC0415

    try:
        api: GitHubApi = factory()
    except DeliveryRefused:
        raise DeliveryRefused(
            "gate deploy reads the GitHub API (GATE-DP-17 backfills; an emergency's security scan and "
            "rollback plan): set GH_TOKEN"
        ) from None
    return api


def follow_up_output(outputs: Mapping[str, Any]) -> dict[str, str]:
    """`follow_up=` for the workflow: the program's emergencyFollowUp, one line of JSON."""
    follow_up = outputs.get("emergencyFollowUp")
    return {"follow_up": _json(follow_up)} if follow_up else {}
