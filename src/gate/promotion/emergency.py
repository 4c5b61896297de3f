"""DP §Emergency / Hotfix Deployments through the one delivery path (issue 12, part emergency).

Since issue 11 an environment's stack deploys what its STATE holds (gate/promotion/delivery.py carry_forward):
a `release.emergency` committed into a stack file by `gate promote --emergency` is only the bootstrap
value of a stack that has never been deployed, so on a live environment it deploys nothing. The
emergency path is therefore `gate deploy --emergency` (the emergency-deploy.yml workflow calls it):

- `python -m gate deploy --stack S --image IMG --emergency INC-1 --rollback-plan URL
  --security-scan URL` verifies what a person typed before anything is applied: the incident id
  matches `emergency.incidentIdPattern`, the rollback plan is an https link (DP: "A rollback plan
  must be documented before deploying the fix") and the security-scan link is a SUCCESSFUL run of
  this repository's security-scan workflow for the very commit being deployed, read through the
  GitHub API (DP: "Security checks are never skippable"). The release it writes carries
  `emergency`, so the program applies GATE-DP-10 (no upstream evidence needed) and exports
  `emergencyFollowUp`; the state carries both forward like any release.
- GATE-DP-17: every NON-emergency `gate deploy` lists the repository's open issues labelled
  `emergency.backfillLabel`; one older than `emergency.backfillWithin` refuses the deploy into the
  environment it names (its marker, written by emergency-deploy.yml), or into any environment
  when it names none (a backfill issue filed by hand: fail closed). Closing the issue, once the
  skipped validation is done, lifts the block. An emergency deploy is never blocked by it.
- emergency-deploy.yml (rendered here, hooked into gate/github/workflows.py): workflow_dispatch, inputs
  validated in the first step, then deploy → parity → validate → evidence → rollback-on-failure in
  the target environment (deploy.yml's builders), and the post-incident signal and the backfill
  issue filed with actions/github-script.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gate.clock import iso
from gate.github import actions
from gate.github.centralfiles import central_file
from gate.github.yamltext import Commented
from gate.policy.model import Environment, GatePolicy, Repository, backfill_seconds
from gate.policy.types import fullmatch_linear
from gate.promotion.evidence import EMERGENCY_RULE_ID
from gate.promotion.outside import DeliveryRefused, DeliveryUsage, GitHubApi, GitHubApiFailed, RestGitHub

RULE_ID = "GATE-DP-17"  # an overdue emergency backfill blocks non-emergency deploys
WORKFLOW_FILE = "emergency-deploy.yml"
SECURITY_SCAN_WORKFLOW = "security-scan.yml"
WORKFLOW_DIR = ".github/workflows"
POST_INCIDENT_LABEL = "post-incident"
EMERGENCY_LABEL = "emergency"
# An incident id becomes a branch name and a file name (`<signalsDirectory>/<id>.md`): whatever the
# configured pattern admits, it must also be this, so it can never climb out of the directory.
SAFE_INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_RUN_URL = re.compile(
    r"https://github\.com/([A-Za-z0-9-]+/[A-Za-z0-9._-]+)/actions/runs/([0-9]{1,20})(?:/[a-z0-9/]*)?"
)
# The backfill issue's first line names the environment and the incident, for GATE-DP-17.
_MARKER = re.compile(r"<!-- delivery-gate:emergency-backfill environment=([a-z0-9-]+) incident=(\S+) -->")


def marker(environment: str, incident_id: str) -> str:
    return f"<!-- delivery-gate:emergency-backfill environment={environment} incident={incident_id} -->"


@dataclass(frozen=True)
class Claim:
    """What the person who dispatched the emergency deploy typed."""

    incident_id: str
    rollback_plan: str
    security_scan: str


def claim_problems(policy: GatePolicy, claim: Claim) -> list[str]:
    """What is wrong with the typed incident id, rollback plan and security-scan link, offline."""
    problems = []
    pattern = policy.emergency.incident_id_pattern
    if not fullmatch_linear(pattern, claim.incident_id):
        problems.append(
            f"--emergency: got {claim.incident_id!r}; allowed: an incident id matching "
            f"emergency.incidentIdPattern {pattern}"
        )
    elif SAFE_INCIDENT_ID.fullmatch(claim.incident_id) is None:
        problems.append(
            f"--emergency: got {claim.incident_id!r}; allowed: letters, digits, '.', '_', '-' (it names "
            "the signal's branch and file)"
        )
    if not re.fullmatch(r"https://[^\s\"'{}$<>\\`]{1,2000}", claim.rollback_plan):
        problems.append(
            f"--rollback-plan: got {claim.rollback_plan!r}; allowed: the https:// link of the documented "
            "rollback plan (DP: 'A rollback plan must be documented before deploying the fix')"
        )
    if _RUN_URL.fullmatch(claim.security_scan) is None:
        problems.append(
            f"--security-scan: got {claim.security_scan!r}; allowed: the link of a GitHub Actions run, "
            "https://github.com/<owner>/<repo>/actions/runs/<id>"
        )
    return problems


def security_scan_paths(policy: GatePolicy, repo_name: str) -> tuple[str, ...]:
    """The workflow files whose runs are this repository's security scan: its own security-scan.yml
    or, in organisation mode, the central required workflow `<group>--security-scan.yml` its group
    shares (gate/github/centralfiles.py; the run's repository is checked apart, security_scan_problems)."""
    paths = [f"{WORKFLOW_DIR}/{SECURITY_SCAN_WORKFLOW}"]
    organization = policy.merge_gate.organization
    repo = next((r for r in policy.repositories if r.name.lower() == repo_name.lower()), None)
    if organization is not None and repo is not None:
        central = f"{WORKFLOW_DIR}/{central_file(policy, repo, SECURITY_SCAN_WORKFLOW)}"
        paths += [central, f"{repo.owner}/{organization.central_repository}/{central}"]
    return tuple(paths)


def security_scan_problems(
    url: str, run: Mapping[str, Any], *, repository: str, commit: str, paths: Sequence[str]
) -> list[str]:
    """Why the GitHub API's view of the run behind `url` is not a passed security scan of `commit`
    in `repository` (DP: 'Security checks are never skippable')."""
    problems = []
    path = str(run.get("path", "")).split("@", 1)[0]
    if path not in paths:
        problems.append(f"it runs {path or 'no workflow'}, not {' or '.join(paths)}")
    full_name = (run.get("repository") or {}).get("full_name")
    if full_name != repository:
        problems.append(f"it belongs to {full_name}, not {repository}")
    if run.get("head_sha") != commit:
        problems.append(
            f"it scanned commit {run.get('head_sha') or 'unknown'}, not {commit} (being deployed)"
        )
    if run.get("status") != "completed" or run.get("conclusion") != "success":
        state = run.get("conclusion") or run.get("status") or "unknown"
        problems.append(f"it concluded {state}, not success")
    return [f"--security-scan {url}: {problem}" for problem in problems]


def verify_claim(
    policy: GatePolicy, claim: Claim, github: GitHubApi, *, repository: str, commit: str | None
) -> dict[str, str]:
    """The `release.emergency` block of an emergency deploy, once everything typed is verified;
    else DeliveryRefused saying what is wrong and what is allowed."""
    problems = claim_problems(policy, claim)
    if not commit or re.fullmatch(r"[0-9a-f]{40}", commit) is None:
        problems.append(
            f"--commit: got {commit!r}; allowed: the 40-hex commit being deployed (default: GITHUB_SHA), "
            "which the security scan must have passed"
        )
    if problems:  # what was typed is malformed: a usage error (exit 2), checked before any API call
        raise DeliveryUsage(f"[{EMERGENCY_RULE_ID}] emergency deploy refused: " + "; ".join(problems))
    match = _RUN_URL.fullmatch(claim.security_scan)
    assert match is not None and commit is not None
    run = github.get(f"repos/{match.group(1)}/actions/runs/{match.group(2)}") or {}
    paths = security_scan_paths(policy, repository.split("/", 1)[1])
    problems = security_scan_problems(
        claim.security_scan, run, repository=repository, commit=commit, paths=paths
    )
    if problems:
        raise DeliveryRefused(
            f"[{EMERGENCY_RULE_ID}] security checks are never skippable: " + "; ".join(problems)
        )
    problems = rollback_plan_problems(claim.rollback_plan, github, repository)
    if problems:
        raise DeliveryRefused(f"[{EMERGENCY_RULE_ID}] emergency deploy refused: " + "; ".join(problems))
    return {
        "incidentId": claim.incident_id,
        "rollbackPlan": claim.rollback_plan,
        "securityScan": claim.security_scan,
    }


def rollback_plan_problems(url: str, github: GitHubApi, repository: str) -> list[str]:
    """DP: "A rollback plan must be documented before deploying the fix": a link into this
    repository must name something that exists (a file, /blob/<ref>/<path> or /tree/..., read with
    the Contents API; or an issue or pull request). A link elsewhere (a runbook tool, a wiki) is
    only checked to be https (claim_problems): its content stays the reviewers' judgement."""
    prefix = f"https://github.com/{repository}".lower()
    parsed = urllib.parse.urlsplit(url)
    base = f"{parsed.scheme}://{parsed.netloc}{parsed.path}".rstrip("/")
    if base.lower() != prefix and not base.lower().startswith(prefix + "/"):
        return []
    parts = [urllib.parse.unquote(part) for part in base[len(prefix) :].strip("/").split("/") if part]
    if len(parts) >= 3 and parts[0] in ("blob", "tree"):
        ref, path = urllib.parse.quote(parts[1], safe=""), urllib.parse.quote("/".join(parts[2:]))
        api = f"repos/{repository}/contents/{path}?ref={ref}"
    elif len(parts) == 2 and parts[0] in ("issues", "pull") and parts[1].isdigit():
        api = f"repos/{repository}/issues/{parts[1]}"
    else:
        return [
            f"--rollback-plan {url}: points into {repository} but not at a file (/blob/<ref>/<path>) or an "
            "issue (/issues/<n>), so the gate cannot check that the plan exists"
        ]
    try:
        found = github.get(api)
    except DeliveryRefused:  # RestGitHub's HTTP error (404: not there)
        found = None
    if not found:
        return [f"--rollback-plan {url}: not found in {repository} (GitHub API GET {api}): document it first"]
    return []


# -- GATE-DP-17: an overdue backfill blocks ordinary deploys --------------------------------------


@dataclass(frozen=True)
class Backfill:
    number: int
    url: str
    title: str
    created_at: datetime
    environment: str | None  # None: no marker (filed by hand): it blocks every environment
    incident: str | None


_UNKNOWN_AGE = datetime(1970, 1, 1, tzinfo=UTC)


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def backfills(issues: Sequence[Mapping[str, Any]]) -> list[Backfill]:
    """The backfill issues in the GitHub API's list of issues (pull requests left out)."""
    found = []
    for issue in issues:
        if "pull_request" in issue or issue.get("state", "open") != "open":
            continue
        # An issue whose age GitHub does not give counts as overdue: the rule fails closed.
        created = _time(str(issue.get("created_at", ""))) or _UNKNOWN_AGE
        match = _MARKER.search(str(issue.get("body") or ""))
        found.append(
            Backfill(
                number=int(issue.get("number", 0)),
                url=str(issue.get("html_url", "")),
                title=str(issue.get("title", "")),
                created_at=created,
                environment=match.group(1) if match else None,
                incident=match.group(2) if match else None,
            )
        )
    return found


def overdue(policy: GatePolicy, issues: Sequence[Mapping[str, Any]], now: datetime) -> list[Backfill]:
    """The open backfill issues past `emergency.backfillWithin` that block a deploy into this
    stack's environment, oldest first."""
    within = timedelta(seconds=backfill_seconds(policy.emergency.backfill_within))
    return sorted(
        (
            backfill
            for backfill in backfills(issues)
            if backfill.environment in (None, policy.environment) and backfill.created_at + within < now
        ),
        key=lambda backfill: (backfill.created_at, backfill.number),
    )


def backfill_problem(policy: GatePolicy, blocking: Sequence[Backfill], now: datetime) -> str | None:
    if not blocking:
        return None
    within = policy.emergency.backfill_within
    listed = "; ".join(
        f"#{b.number} {b.title!r} ({b.url}, filed {iso(b.created_at)}, "
        f"{(now - b.created_at).days}d ago"
        + (f", incident {b.incident}" if b.incident else ", names no environment: it blocks every one")
        + ")"
        for b in blocking
    )
    return (
        f"[{RULE_ID}] {policy.environment} took an emergency release whose skipped validation is overdue "
        f"(open '{policy.emergency.backfill_label}' issue(s) older than emergency.backfillWithin "
        f"{within}): {listed}. Do the validation the issue lists (deploy the image upstream and record "
        "its evidence, post-deployment health evidence, the post-incident signal), then close the "
        "issue; only another emergency deploy (`gate deploy --emergency`) goes ahead meanwhile"
    )


def enforce_backfill(policy: GatePolicy, github: GitHubApi, repository: str, now: datetime) -> None:
    """GATE-DP-17 before `gate deploy` touches a stack, for a non-emergency deploy."""
    label = urllib.parse.quote(policy.emergency.backfill_label, safe="")
    issues: list[Mapping[str, Any]] = []
    for page in range(1, 11):  # 1000 open backfill issues is beyond any sane backlog
        batch = github.get(f"repos/{repository}/issues?state=open&labels={label}&per_page=100&page={page}")
        if not isinstance(batch, list):
            raise GitHubApiFailed(f"[{RULE_ID}] GitHub API: the open issues of {repository} are not a list")
        issues += batch
        if len(batch) < 100:
            break
    problem = backfill_problem(policy, overdue(policy, issues, now), now)
    if problem:
        raise DeliveryRefused(problem)


def github_for_deploy(outside: GitHubApi | None) -> GitHubApi:
    if outside is not None:
        return outside
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        raise DeliveryUsage(
            "gate deploy reads the repository's open emergency-backfill issues (GATE-DP-17) and verifies "
            "an emergency's security scan through the GitHub API: set GH_TOKEN (issues: read, actions: read)"
        )
    return RestGitHub(token, os.environ.get("GITHUB_API_URL", "https://api.github.com"))


def precheck(
    project_dir: Path,
    stack: str,
    github: GitHubApi,
    *,
    repository: str,
    claim: Claim | None,
    commit: str | None,
    now: datetime,
) -> dict[str, str] | None:
    """What `gate deploy` checks before it touches the stack: an emergency's claim (its verified
    `release.emergency` block is returned), or GATE-DP-17 for an ordinary deploy."""
    from gate.promotion.promote import stack_file_policy  # noqa: PLC0415 - the loader only when it is needed

    policy = stack_file_policy(project_dir, stack)
    if claim is None:
        enforce_backfill(policy, github, repository, now)
        return None
    if policy.upstream_environment is None:
        raise DeliveryRefused(
            f"[{EMERGENCY_RULE_ID}] --emergency: {policy.environment} promotes from no environment, so there "
            "is no validation to skip; deploy without --emergency"
        )
    return verify_claim(policy, claim, github, repository=repository, commit=commit)


# -- emergency-deploy.yml ----------------------------------------------------------------------


def targets(policy: GatePolicy) -> list[Environment]:
    """The environments an emergency may deploy straight into: those that promote from another."""
    return list(policy.environments[1:])


INPUT_JOB = "inputs"
FOLLOW_UP_JOB = "follow-up"

# The first step: every input checked before anything else runs (stdlib Python on the runner; the
# inputs arrive through env only). The gate checks them again, the security scan through the API.
_VALIDATE_INPUTS = """\
python3 - <<'PY'
import os, re, sys

env = os.environ
repository, default = env["GITHUB_REPOSITORY"], env["DEFAULT_BRANCH"]
checks = [
    (env["GITHUB_REF"] == f"refs/heads/{default}", "ref", env["GITHUB_REF"],
     f"refs/heads/{default}: the fix merges through the gate's checks first"),
    (env["TARGET"] in env["TARGETS"].split(), "environment", env["TARGET"], env["TARGETS"]),
    (re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}", env["IMAGE"]), "image", env["IMAGE"],
     "an image pinned by digest (registry/name@sha256:<64 hex>)"),
    (re.fullmatch(env["PATTERN"], env["INCIDENT_ID"])
     and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", env["INCIDENT_ID"]), "incident_id",
     env["INCIDENT_ID"], f"an incident id matching emergency.incidentIdPattern {env['PATTERN']}"
     " (letters, digits, '.', '_', '-')"),
    (re.fullmatch(r"https://[^\\s\\x22\\x27{}$<>\\\\`]{1,2000}", env["ROLLBACK_PLAN"]), "rollback_plan",
     env["ROLLBACK_PLAN"], "the https:// link of the documented rollback plan"),
    (re.fullmatch(rf"https://github\\.com/{re.escape(repository)}/actions/runs/[0-9]{{1,20}}",
                  env["SECURITY_SCAN"]), "security_scan_run", env["SECURITY_SCAN"], f"https://github.com/{repository}/actions/runs/<id>"),
]
failed = [(name, value, allowed) for ok, name, value, allowed in checks if not ok]
for name, value, allowed in failed:
    print(f"::error::{name}: got {value!r}; allowed: {allowed}")
if failed:
    sys.exit(1)
with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
    for name, key in [("environment", "TARGET"), ("image", "IMAGE"), ("incident_id", "INCIDENT_ID"),
                      ("rollback_plan", "ROLLBACK_PLAN"), ("security_scan", "SECURITY_SCAN")]:
        output.write(f"{name}={env[key]}\\n")
print(f"emergency deploy of {env['IMAGE']} to {env['TARGET']} for {env['INCIDENT_ID']}")
PY
"""

_GATE_EMERGENCY_DEPLOY = """\
set -euo pipefail
python -m gate deploy --stack "$STACK" --image "$IMAGE" --repository "$REPOSITORY" --run-id "$RUN_ID" \\
  --emergency "$INCIDENT_ID" --rollback-plan "$ROLLBACK_PLAN" --security-scan "$SECURITY_SCAN" \\
  --commit "$COMMIT"
"""

_FOLLOW_UP = """\
const { ENVIRONMENT, IMAGE, INCIDENT_ID, ROLLBACK_PLAN, SECURITY_SCAN, RUN_URL } = process.env;
const { SIGNAL, SIGNALS_DIRECTORY, BACKFILL_LABEL, BACKFILL_SECONDS, BACKFILL_WITHIN } = process.env;
const { POST_INCIDENT_LABEL, EMERGENCY_LABEL } = process.env;
const { WINDOW, UPSTREAMS, PARITY, VALIDATION, EVIDENCE, DEFAULT_BRANCH, MARKER } = process.env;
const { owner, repo } = context.repo;
const upstream = JSON.parse(UPSTREAMS)[ENVIRONMENT];
const outcome = `parity ${PARITY || 'not run'}, validation ${VALIDATION || 'not run'}, ` +
  `evidence ${EVIDENCE || 'not run'}`;
const facts = [
  `- Incident: ${INCIDENT_ID}`,
  `- Image: \\`${IMAGE}\\` deployed straight to ${ENVIRONMENT} by ${RUN_URL}`,
  `- Rollback plan: ${ROLLBACK_PLAN}`,
  `- Security scan (verified by the gate before the deploy): ${SECURITY_SCAN}`,
  `- After the deploy: ${outcome}`,
].join('\\n');
// DP: "A post-incident signal must be filed in work/signals/ after resolution".
const signalText = `# Post-incident signal: ${INCIDENT_ID}\\n\\n${facts}\\n\\n` +
  '## What happened\\n\\n_To be completed after resolution._\\n\\n' +
  '## Follow-up\\n\\n_Link the backfill issue and any further work._\\n';
let signal;
if (SIGNAL === 'pull-request') {
  const branch = `post-incident/${INCIDENT_ID}`;
  await github.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha: context.sha });
  await github.rest.repos.createOrUpdateFileContents({
    owner, repo, branch,
    path: `${SIGNALS_DIRECTORY}/${INCIDENT_ID}.md`,
    message: `Post-incident signal ${INCIDENT_ID} (emergency deploy to ${ENVIRONMENT})`,
    content: Buffer.from(signalText).toString('base64'),
  });
  const { data } = await github.rest.pulls.create({
    owner, repo, head: branch, base: DEFAULT_BRANCH,
    title: `Post-incident signal: ${INCIDENT_ID}`,
    body: `Files \\`${SIGNALS_DIRECTORY}/${INCIDENT_ID}.md\\`; complete it after resolution.\\n\\n${facts}`,
  });
  signal = data.html_url || `the pull request of ${branch}`;
} else {
  const { data } = await github.rest.issues.create({
    owner, repo,
    title: `Post-incident signal: ${INCIDENT_ID}`,
    body: signalText,
    labels: [POST_INCIDENT_LABEL],
  });
  signal = data.html_url || 'the post-incident issue';
}
// DP: "Follow-up work to backfill any skipped validation must be tracked as a new mission".
const due = new Date(Date.now() + Number(BACKFILL_SECONDS) * 1000).toISOString().replace(/\\.\\d+Z$/, 'Z');
const skipped = [
  `- [ ] Deploy \\`${IMAGE}\\` to ${upstream} and record its e2e parity evidence there (skipped: GATE-DP-10)`,
  `- [ ] Post-deployment health evidence in ${ENVIRONMENT} within ${WINDOW} (this run: ${outcome})`,
  `- [ ] Complete the post-incident signal after resolution: ${signal}`,
].join('\\n');
await github.rest.issues.create({
  owner, repo,
  title: `Backfill the validation skipped by emergency ${INCIDENT_ID} (${ENVIRONMENT}), due ${due}`,
  body: `${MARKER}\\nDue: ${due} (emergency.backfillWithin ${BACKFILL_WITHIN}). While this issue is ` +
    `open past its due date, ordinary deploys to ${ENVIRONMENT} are refused (GATE-DP-17); close it ` +
    `when the validation below is done.\\n\\n${facts}\\n\\n## Skipped validation\\n\\n${skipped}\\n`,
  labels: [BACKFILL_LABEL, EMERGENCY_LABEL],
});
core.notice(`filed ${signal} and the backfill issue of ${INCIDENT_ID}, due ${due}`);
"""


def _input_job(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    from gate.github.workflows import job, run  # noqa: PLC0415 - gate.workflows imports this module

    names = [env.name for env in targets(policy)]
    step = run(
        "Validate the inputs",
        _VALIDATE_INPUTS,
        # Inputs reach the shell only through env, never `${{ }}` inside the script (injection).
        TARGET="${{ inputs.environment }}",
        IMAGE="${{ inputs.image }}",
        INCIDENT_ID="${{ inputs.incident_id }}",
        ROLLBACK_PLAN="${{ inputs.rollback_plan }}",
        SECURITY_SCAN="${{ inputs.security_scan_run }}",
        TARGETS=" ".join(names),
        PATTERN=policy.emergency.incident_id_pattern,
        DEFAULT_BRANCH=repo.default_branch,
    )
    outputs = ("environment", "image", "incident_id", "rollback_plan", "security_scan")
    return job(
        "inputs",
        policy.workflows,
        [{"id": "inputs", **step}],
        permissions={},
        outputs={name: f"${{{{ steps.inputs.outputs.{name} }}}}" for name in outputs},
    )


def _follow_up_job(
    policy: GatePolicy, repo: Repository, chains: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    from gate.github.workflows import job  # noqa: PLC0415

    e = policy.emergency
    deployed = " || ".join(f"needs.{ids['deploy']}.result == 'success'" for ids in chains.values())
    inputs = f"needs.{INPUT_JOB}.outputs"

    def result(kind: str) -> str:
        # One chain ran (the target's); the others were skipped: the non-skipped result is its own.
        parts = " || ".join(
            f"(needs.{ids['deploy']}.result != 'skipped' && needs.{ids[kind]}.result)"
            for ids in chains.values()
        )
        return f"${{{{ {parts} || '' }}}}"

    upstreams = {
        env.name: prev.name for prev, env in zip(policy.environments, policy.environments[1:], strict=False)
    }
    environment = f"${{{{ {inputs}.environment }}}}"
    incident = f"${{{{ {inputs}.incident_id }}}}"
    env = {
        "ENVIRONMENT": environment,
        "IMAGE": f"${{{{ {inputs}.image }}}}",
        "INCIDENT_ID": incident,
        "ROLLBACK_PLAN": f"${{{{ {inputs}.rollback_plan }}}}",
        "SECURITY_SCAN": f"${{{{ {inputs}.security_scan }}}}",
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
        "SIGNAL": e.signal,
        "SIGNALS_DIRECTORY": e.signals_directory.rstrip("/"),
        "BACKFILL_LABEL": e.backfill_label,
        "POST_INCIDENT_LABEL": POST_INCIDENT_LABEL,
        "EMERGENCY_LABEL": EMERGENCY_LABEL,
        "BACKFILL_SECONDS": str(backfill_seconds(e.backfill_within)),
        "BACKFILL_WITHIN": e.backfill_within,
        "WINDOW": policy.thresholds.post_deploy_validation_window,
        "UPSTREAMS": json.dumps(upstreams, sort_keys=True),
        "PARITY": result("parity"),
        "VALIDATION": result("validate"),
        "EVIDENCE": result("evidence"),
        "DEFAULT_BRANCH": repo.default_branch,
        "MARKER": marker(environment, incident),
    }
    step = {
        "name": "File the post-incident signal and the backfill issue",
        **uses_github_script(_FOLLOW_UP),
        "env": env,
    }
    body = job("follow-up", policy.workflows, [step])
    # Least privilege, with this job's own reasons (gate/github/workflows.py's table explains others).
    grants = {
        "issues": Commented("write", "file the post-incident signal and the backfill issue (DP §Emergency)")
    }
    if e.signal == "pull-request":
        grants = {
            "contents": Commented("write", "push the signal's branch and work/signals/<incident>.md"),
            **grants,
            "pull-requests": Commented("write", "open the post-incident signal's pull request"),
        }
    body["permissions"] = grants
    needs = [
        INPUT_JOB,
        *(ids[kind] for ids in chains.values() for kind in ("deploy", "parity", "validate", "evidence")),
    ]
    return {
        "name": "follow-up",
        "needs": needs,
        # Whatever happened after it (a failed parity or window rolls back), an emergency release
        # that was deployed is followed up; a refused one deployed nothing and files nothing.
        "if": f"${{{{ always() && ({deployed}) }}}}",
        **{k: v for k, v in body.items() if k != "name"},
    }


def uses_github_script(script: str) -> dict[str, Any]:
    from gate.github.workflows import uses  # noqa: PLC0415

    return uses(actions.GITHUB_SCRIPT, script=script)


def workflow_document(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """emergency-deploy.yml: DP §Emergency straight to the target environment, through the one
    delivery path, with no deployment-window check (GATE-DP-19 exempts emergencies)."""
    from gate.github.workflows import environment_chain, workflow  # noqa: PLC0415

    names = [env.name for env in targets(policy)]
    inputs_spec = {
        "incident_id": {
            "description": f"Incident id, matching {policy.emergency.incident_id_pattern}",
            "required": True,
            "type": "string",
        },
        "image": {
            "description": "Image to deploy, pinned by digest (registry/name@sha256:...)",
            "required": True,
            "type": "string",
        },
        "rollback_plan": {
            "description": "https link of the documented rollback plan",
            "required": True,
            "type": "string",
        },
        "security_scan_run": {
            "description": "Link of the passed security-scan run of this commit",
            "required": True,
            "type": "string",
        },
        "environment": {
            "description": "Target environment",
            "required": True,
            "type": "choice",
            "options": names,
            "default": names[-1],
        },
    }
    inputs = f"needs.{INPUT_JOB}.outputs"
    jobs: dict[str, Any] = {INPUT_JOB: _input_job(policy, repo)}
    chains: dict[str, dict[str, str]] = {}
    for env in targets(policy):
        claim = {
            "INCIDENT_ID": f"${{{{ {inputs}.incident_id }}}}",
            "ROLLBACK_PLAN": f"${{{{ {inputs}.rollback_plan }}}}",
            "SECURITY_SCAN": f"${{{{ {inputs}.security_scan }}}}",
            "COMMIT": "${{ github.sha }}",
        }
        chain, ids = environment_chain(
            policy,
            repo,
            env,
            source=INPUT_JOB,
            after=None,
            only_if=f"{inputs}.environment == '{env.name}'",
            deploy_script=_GATE_EMERGENCY_DEPLOY,
            deploy_env=claim,
            deploy_grants={"actions": "read"},
        )
        permissions = chain[ids["deploy"]]["permissions"]
        permissions["actions"] = Commented(
            "read", "let the gate verify the security-scan run (DP: security checks are never skippable)"
        )
        jobs.update(chain)
        chains[env.name] = ids
    jobs[FOLLOW_UP_JOB] = _follow_up_job(policy, repo, chains)
    on = {"workflow_dispatch": {"inputs": inputs_spec}}
    # One emergency deploy at a time; never cancelled half-way. Not deploy.yml's group: an
    # emergency must not queue behind an ordinary deploy waiting for its reviewers.
    concurrency = {"group": "emergency-deploy", "cancel-in-progress": False}
    return workflow("emergency-deploy", on, jobs, concurrency=concurrency)


def claim_from_args(args: Any) -> Claim | None:
    """The emergency claim of `gate deploy`'s options; --rollback-plan and --security-scan belong
    to --emergency and are refused without it (an ordinary deploy carries none)."""
    incident = getattr(args, "emergency", None)
    plan, scan = getattr(args, "rollback_plan", None), getattr(args, "security_scan", None)
    if incident is None:
        if plan or scan:
            raise DeliveryUsage(
                "--rollback-plan and --security-scan are given with --emergency INCIDENT only"
            )
        return None
    missing = [flag for flag, value in (("--rollback-plan", plan), ("--security-scan", scan)) if not value]
    if missing:
        raise DeliveryUsage(
            f"[{EMERGENCY_RULE_ID}] --emergency {incident}: {' and '.join(missing)} required (DP: a rollback "
            "plan documented before deploying the fix; security checks are never skippable)"
        )
    return Claim(str(incident), str(plan), str(scan))
