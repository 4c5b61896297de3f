"""The gate's own pipeline: the workflows of THIS repository, rendered from the stacks it deploys.

- `gate-pr.yml`, on a pull request: every stack planned offline on the base and on the head, each by
  its own commit's `python -m gate plan`, compared with `python -m gate diff`, and summed up by
  `python -m gate report` as one markdown report: in the job summary always, and as one sticky PR
  comment (edited on every push) for pull requests from this repository. `pulumi preview --diff` of
  every stack through pulumi/actions when the backend secret exists.
- `gate-deploy.yml`, on a push to main: `pulumi up` stack by stack in promotion order (one GitHub
  environment per stack: production's reviewers approve its job), each stack only after the one
  before it passed `python -m gate health` (no drift, quiet alerts, its evidence).

The stacks and their order come from the stack files through the gate itself (gate/policy/consistency.py,
as `python -m gate check` and `stacks` read them), not from a list here: adding a stack changes the
rendering, and tests/test_selfpipeline.py fails until the committed files are rendered again with
`python -m gate.github.selfpipeline` (or `make pipeline`).

Security, as for the gated repositories' workflows (gate/github/workflows.py): no permissions at workflow
level and the least each job needs; actions pinned to commit SHAs; event data only through `env:`;
checkouts without persisted credentials; timeouts; superseded PR runs cancelled, deploys never.
Pull requests from forks run only the offline plan (no secrets exist for them, and their token
cannot comment): the report is in their job summary. Commenting is a job of its own that runs no
code from the pull request, so the write token never shares a runner with it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import GateError
from gate.github import actions
from gate.github.workflows import (
    SAME_REPOSITORY,
    SAME_REPOSITORY_SECRET_REASON,
    Job,
    Step,
    checkout,
    job,
    run,
    setup_python,
    uses,
    when,
    workflow,
)
from gate.github.yamltext import Commented, dump
from gate.offline import report
from gate.policy import consistency
from gate.policy.model import WorkflowSettings

WORKFLOW_DIR = Path(".github/workflows")
PR_WORKFLOW = "gate-pr.yml"
DEPLOY_WORKFLOW = "gate-deploy.yml"
DEFAULT_BRANCH = "main"
PLANS = "build/plans"
SETTINGS = WorkflowSettings(timeout_minutes=30)
DEPLOY_TIMEOUT_MINUTES = 60

# Secrets and variables (README "The gate's own pipeline" says where each is created).
BACKEND_SECRET = "PULUMI_BACKEND_URL"
PULUMI_SECRETS = (BACKEND_SECRET, "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN")
DEPLOY_GITHUB_TOKEN = "GATE_GITHUB_TOKEN"  # per environment: administers the gated repositories
PREVIEW_GITHUB_TOKEN = "GATE_PREVIEW_GITHUB_TOKEN"  # repository: read-only, what previews refresh with
DEPLOY_ROLE_VARIABLE = "AWS_ROLE_ARN"
PREVIEW_ROLE_VARIABLE = "AWS_PREVIEW_ROLE_ARN"
REGION_VARIABLE = "AWS_REGION"
ALERTMANAGER_TOKEN_SECRET = "ALERTMANAGER_TOKEN"
ALERTMANAGER_URL_VARIABLE = "ALERTMANAGER_URL"

_REASONS = {
    ("contents", "read"): "check out the repository",
    ("pull-requests", "write"): "post and edit the plan report comment",
    ("id-token", "write"): "trade the job's OIDC token for an AWS role (state backend, KMS, AWS resources)",
}


def grants(**scopes: str) -> dict[str, Commented]:
    return {scope: Commented(level, _REASONS[scope, level]) for scope, level in scopes.items()}


@dataclass(frozen=True)
class Stage:
    """One stack of the chain and the GitHub environment its deploy job runs in."""

    stack: str
    environment: str


def chain(project_dir: Path) -> list[Stage]:
    """The environment stacks in promotion order, as `python -m gate check` reads and checks them."""
    policies = consistency.load_stacks(project_dir)
    result = consistency.check(policies)
    if result.problems:
        raise GateError("the stacks are inconsistent:\n" + "\n".join(f"  - {p}" for p in result.problems))
    return [Stage(stack, policies[stack].environment) for stack in result.stacks]


# -- gate-pr.yml ------------------------------------------------------------------------------------

_PLAN_EVERY_STACK = f"""\
set -euo pipefail
# Each checkout is planned by its own code (the base by the base's gate, the head by the head's: the
# package in the checkout's src/, PYTHONPATH; a checkout from before the src/ layout finds its gate/
# in the working directory) in
# the promotion order it tells itself; each stack reads the plans of the stacks before it as their
# outputs (stack references, offline), as `make plan-all` does, with
# the stack's own sample state (examples/state) where the checkout has one. A failure is kept for the report
# (error.txt) instead of stopping here: the last step fails the job when a plan of the head fails.
plans="$GITHUB_WORKSPACE/{PLANS}"
plan_checkout() {{
  local side="$1" dir="$2" stack
  local out="$plans/$side"
  local -a evidence=()
  mkdir -p "$out"
  if ! (cd "$dir" && PYTHONPATH=src python -m gate stacks --project-dir .) > "$out/stacks.txt" \\
    2> "$out/error.txt"; then
    rm -f "$out/stacks.txt"
    return 0
  fi
  rm -f "$out/error.txt"
  while IFS= read -r stack; do
    mkdir -p "$out/$stack"
    # The stack's own deployed state, when the checkout ships a sample of it (examples/state).
    local -a state=()
    if [ -f "$dir/examples/state/$stack.json" ]; then
      state=(--evidence "$stack=examples/state/$stack.json")
    fi
    if (cd "$dir" && PYTHONPATH=src python -m gate plan --project-dir . --stack "$stack" --out "$out" \\
      "${{evidence[@]}}" "${{state[@]}}") > "$out/$stack/plan.log" 2>&1; then
      evidence+=(--evidence "$stack=$out/$stack/plan.json")
    else
      cp "$out/$stack/plan.log" "$out/$stack/error.txt"
    fi
  done < "$out/stacks.txt"
}}
# The two checkouts are planned side by side (each chain is sequential).
plan_checkout base .base &
base_pid=$!
plan_checkout head .
wait "$base_pid"
# The full text diff of every stack planned on both sides, for the artifact.
mkdir -p "$plans/diff"
if [ -f "$plans/head/stacks.txt" ]; then
  while IFS= read -r stack; do
    if [ -f "$plans/base/$stack/plan.json" ] && [ -f "$plans/head/$stack/plan.json" ]; then
      python -m gate diff "$plans/base/$stack/plan.json" "$plans/head/$stack/plan.json" \\
        > "$plans/diff/$stack.txt"
    fi
  done < "$plans/head/stacks.txt"
fi
"""

_REPORT = f"""\
set -euo pipefail
python -m gate report --before {PLANS}/base --after {PLANS}/head --out {PLANS}/report.md \\
  --base-ref "$BASE_SHA" --head-ref "$HEAD_SHA" --run-url "$RUN_URL"
cat {PLANS}/report.md >> "$GITHUB_STEP_SUMMARY"
"""

_VERDICT = f"""\
set -euo pipefail
failed=0
for file in {PLANS}/head/error.txt {PLANS}/head/*/error.txt; do
  [ -f "$file" ] || continue
  first=""
  IFS= read -r first < "$file" || true
  echo "::error title=gate plan fails on the head::${{file#{PLANS}/head/}}: $first"
  failed=1
done
exit "$failed"
"""

# The sticky comment: the first comment of the workflow's own bot account that starts with the
# report's marker is edited; without one a comment is created. Someone else's comment that quotes the
# marker is never edited (the job's token could: it writes pull requests).
_STICKY_COMMENT = """\
set -euo pipefail
if [ ! -s "$REPORT" ]; then
  echo "::error::no report to post ($REPORT is missing or empty)"
  exit 1
fi
comments="$(gh api --paginate --slurp "repos/$REPOSITORY/issues/$PR_NUMBER/comments")"
id="$(python3 -c '
import json, os, sys
pages = json.load(sys.stdin)
mine = [
    comment["id"]
    for page in pages
    for comment in page
    if (comment.get("user") or {}).get("login") == os.environ["BOT_LOGIN"]
    and (comment.get("body") or "").startswith(os.environ["MARKER"])
]
print(mine[0] if mine else "")
' <<< "$comments")"
if [ -n "$id" ]; then
  gh api --method PATCH "repos/$REPOSITORY/issues/comments/$id" -F "body=@$REPORT" --silent
  echo "updated the plan report comment $id"
else
  gh api --method POST "repos/$REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$REPORT" --silent
  echo "posted the plan report comment"
fi
"""

RUN_URL = "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"
BOT_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN comments as

_BACKEND_PRESENT = f"""\
set -euo pipefail
if [ -n "${BACKEND_SECRET}" ]; then
  echo "present=true" >> "$GITHUB_OUTPUT"
else
  echo "::notice title=pulumi preview skipped::the repository secret {BACKEND_SECRET} is not set"
  echo "present=false" >> "$GITHUB_OUTPUT"
fi
"""

_INSTALL = """\
set -euo pipefail
python -m pip install -r requirements.txt
python -m pip install --no-deps .  # the package itself (src/gate): the program imports it
# Pulumi.yaml runs the program in .venv: one that sees what was just installed.
python -m venv --system-site-packages --without-pip .venv
"""


def _secret(name: str, reason: str | None = None) -> str | Commented:
    value = f"${{{{ secrets.{name} }}}}"
    return Commented(value, reason) if reason else value


def _pulumi_env(github_token: str, reason: str | None = None) -> dict[str, str | Commented]:
    env: dict[str, str | Commented] = {name: _secret(name, reason) for name in PULUMI_SECRETS}
    # The GitHub provider reads GITHUB_TOKEN: the gated repositories' settings, not this repository.
    env["GITHUB_TOKEN"] = _secret(github_token, reason)
    return env


def _stack_inputs(stage: Stage, reason: str | None = None) -> dict[str, str | Commented]:
    # The action logs in to cloud-url (without it: Pulumi Cloud); later CLI steps reuse the login.
    return {"stack-name": stage.stack, "work-dir": ".", "cloud-url": _secret(BACKEND_SECRET, reason)}


def _aws_login(role_variable: str, condition: str) -> Step:
    login = {
        "role-to-assume": f"${{{{ vars.{role_variable} }}}}",
        "aws-region": f"${{{{ vars.{REGION_VARIABLE} }}}}",
    }
    step = {"name": "Assume the AWS role", **uses(actions.CONFIGURE_AWS_CREDENTIALS, **login)}
    return when(f"${{{{ {condition}vars.{role_variable} != '' }}}}", step)


def plan_job() -> Job:
    steps: list[Step] = [
        checkout(),
        {
            **checkout(ref="${{ github.event.pull_request.base.sha }}", path=".base"),
            "name": "Check out the base",
        },
        setup_python(SETTINGS),
        # The head's package for `gate diff` and `gate report`; each checkout's plans still run that
        # checkout's own package (PYTHONPATH=src in _PLAN_EVERY_STACK).
        run("Install", "python -m pip install -r requirements.txt\npython -m pip install --no-deps .\n"),
        {"id": "plans", **run("Plan every stack of the base and of the head (offline)", _PLAN_EVERY_STACK)},
        when(
            "${{ !cancelled() }}",
            {
                "id": "report",
                **run(
                    "One report of every stack (job summary)",
                    _REPORT,
                    BASE_SHA="${{ github.event.pull_request.base.sha }}",
                    HEAD_SHA="${{ github.event.pull_request.head.sha }}",
                    RUN_URL=RUN_URL,
                ),
            },
        ),
        when(
            "${{ !cancelled() }}",
            {
                "name": "Upload the plans, diffs and report",
                **uses(
                    actions.UPLOAD_ARTIFACT,
                    name=report.ARTIFACT,
                    path=PLANS,
                    **{"if-no-files-found": "error"},
                ),
            },
        ),
        run("Fail when a stack of the head does not plan", _VERDICT),
    ]
    return job(
        "offline plan of every stack",
        SETTINGS,
        steps,
        permissions={},
        outputs={"report": "${{ steps.report.outcome }}"},
    ) | {"permissions": grants(contents="read")}


def comment_job() -> Job:
    steps: list[Step] = [
        {
            "name": "Download the report",
            **uses(actions.DOWNLOAD_ARTIFACT, name=report.ARTIFACT, path=PLANS),
        },
        run(
            "Post or update the plan report comment",
            _STICKY_COMMENT,
            GH_TOKEN="${{ github.token }}",
            REPOSITORY="${{ github.repository }}",
            PR_NUMBER="${{ github.event.pull_request.number }}",
            REPORT=f"{PLANS}/report.md",
            MARKER=report.MARKER,
            BOT_LOGIN=BOT_LOGIN,
        ),
    ]
    body = job("plan report comment", SETTINGS, steps, permissions={})
    # A fork's token cannot comment (and must not be given one that can: pull_request_target would
    # run with this repository's write token); its report is in the plan job's summary.
    condition = f"${{{{ !cancelled() && needs.plan.outputs.report == 'success' && {SAME_REPOSITORY} }}}}"
    return (
        {"name": body["name"], "needs": ["plan"], "if": condition}
        | body
        | {"permissions": grants(**{"pull-requests": "write"})}
    )


def preview_job(stages: list[Stage]) -> Job:
    present = "steps.backend.outputs.present == 'true'"
    reason = SAME_REPOSITORY_SECRET_REASON
    steps: list[Step] = [
        {
            "id": "backend",
            **run(
                "Is the backend secret set?",
                _BACKEND_PRESENT,
                **{BACKEND_SECRET: _secret(BACKEND_SECRET, reason)},
            ),
        },
        when(f"${{{{ {present} }}}}", checkout()),
        when(f"${{{{ {present} }}}}", setup_python(SETTINGS)),
        when(f"${{{{ {present} }}}}", run("Install", _INSTALL)),
        when(f"${{{{ {present} }}}}", {"name": "Install the Pulumi CLI", **uses(actions.PULUMI)}),
        _aws_login(PREVIEW_ROLE_VARIABLE, f"{present} && "),
    ]
    for stage in stages:
        preview = {
            "name": f"pulumi preview --diff ({stage.stack})",
            **uses(actions.PULUMI, command="preview", diff=True, **_stack_inputs(stage, reason)),
            "env": _pulumi_env(PREVIEW_GITHUB_TOKEN, reason),
        }
        # Every stack is previewed, also after one failed.
        steps.append(when(f"${{{{ !cancelled() && {present} }}}}", preview))
    body = job("pulumi preview --diff", SETTINGS, steps, permissions={})
    # Secrets exist only for pull requests from this repository; a fork's run skips the job.
    return (
        {"name": body["name"], "if": f"${{{{ {SAME_REPOSITORY} }}}}"}
        | body
        | {"permissions": grants(contents="read", **{"id-token": "write"})}
    )


def pr_workflow(stages: list[Stage]) -> dict[str, Any]:
    on = {"pull_request": {"branches": [DEFAULT_BRANCH]}}
    concurrency = {
        # A new push supersedes the run for the previous head of the same pull request.
        "group": "${{ github.workflow }}-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    jobs = {"plan": plan_job(), "comment": comment_job(), "preview": preview_job(stages)}
    return workflow("gate-pr", on, jobs, concurrency=concurrency)


# -- gate-deploy.yml --------------------------------------------------------------------------------

_HEALTH = """\
set -euo pipefail
mkdir -p build
status=0
python -m gate health --project-dir . --stack "$STACK" > build/health.txt || status=$?
cat build/health.txt
{
  echo "### Health of stack $STACK"
  echo '```'
  cat build/health.txt
  echo '```'
} >> "$GITHUB_STEP_SUMMARY"
if [ "$status" -ne 0 ]; then
  echo "::error title=stack $STACK is not healthy::no later stack is deployed"
  exit "$status"
fi
"""


def deploy_job(stage: Stage, previous: Stage | None) -> Job:
    pulumi_env = _pulumi_env(DEPLOY_GITHUB_TOKEN)
    steps: list[Step] = [
        checkout(),
        setup_python(SETTINGS),
        run("Install", _INSTALL),
        {"name": "Install the Pulumi CLI", **uses(actions.PULUMI)},
        _aws_login(DEPLOY_ROLE_VARIABLE, ""),
        {
            "name": f"pulumi up ({stage.stack})",
            **uses(actions.PULUMI, command="up", **_stack_inputs(stage)),
            "env": pulumi_env,
        },
        {
            "id": "health",
            **run(
                f"Health of {stage.stack}: no drift, quiet alerts, its evidence",
                _HEALTH,
                STACK=stage.stack,
                ALERTMANAGER_URL=f"${{{{ vars.{ALERTMANAGER_URL_VARIABLE} }}}}",
                ALERTMANAGER_TOKEN=_secret(ALERTMANAGER_TOKEN_SECRET),
                **pulumi_env,
            ),
        },
    ]
    body = job(
        f"pulumi up {stage.stack}",
        SETTINGS,
        steps,
        permissions={},
        environment={"name": stage.environment},
        **{"timeout-minutes": DEPLOY_TIMEOUT_MINUTES},
    )
    head: Job = {"name": body["name"]}
    if previous is not None:
        # DP §Environment Progression: only after the stack before it is deployed and healthy.
        head["needs"] = [job_id(previous)]
    return head | body | {"permissions": grants(contents="read", **{"id-token": "write"})}


def job_id(stage: Stage) -> str:
    return f"up-{stage.stack}"


def deploy_workflow(stages: list[Stage]) -> dict[str, Any]:
    on = {"push": {"branches": [DEFAULT_BRANCH]}}
    # One deploy at a time, never cancelled half-way. GitHub keeps one run waiting: a newer push
    # replaces a waiting run, and deploys a main that includes its change.
    concurrency = {"group": "${{ github.workflow }}", "cancel-in-progress": False}
    jobs: dict[str, Job] = {}
    previous: Stage | None = None
    for stage in stages:
        jobs[job_id(stage)] = deploy_job(stage, previous)
        previous = stage
    return workflow("gate-deploy", on, jobs, concurrency=concurrency)


# -- files ----------------------------------------------------------------------------------------

_HEADER = (
    "# Rendered by gate/github/selfpipeline.py from the stacks in stacks/: do not edit. Change the renderer\n"
    "# or the stacks, then run `make pipeline`; tests/test_selfpipeline.py fails while they differ.\n"
)


def render(project_dir: Path) -> dict[str, str]:
    """Repository path -> content of the pipeline's workflow files."""
    stages = chain(project_dir)
    documents = {PR_WORKFLOW: pr_workflow(stages), DEPLOY_WORKFLOW: deploy_workflow(stages)}
    return {str(WORKFLOW_DIR / name): _HEADER + dump(document) for name, document in documents.items()}


def main(argv: list[str]) -> int:
    """`python -m gate.github.selfpipeline [--check]`: write the files, or (--check) exit 1 if they differ."""
    check = "--check" in argv
    project_dir = Path(".")  # run from this repository's root (make pipeline)
    stale = 0
    for relative, text in render(project_dir).items():
        path = project_dir / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            print(f"{relative}: up to date")
            continue
        stale += 1
        if check:
            print(f"{relative}: differs from the rendering (run `make pipeline`)", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"{relative}: written")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
