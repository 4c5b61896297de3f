"""The gate's GitHub workflows, rendered from the policy: pure, YAML text out.

Every job that reports a required check is named exactly as the check (GitHub matches required
checks by job name). Security defaults (M9 §Enforcement, and what zizmor audits): no permissions at
workflow level and the least each job needs; every action pinned to a commit SHA with its version
as a comment; untrusted event data reaches scripts only through `env:`; checkouts do not persist
credentials; PR workflows cancel superseded runs; every job has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gate import actions
from gate.actions import Action
from gate.model import Check, GatePolicy, Repository, WorkflowSettings
from gate.yamltext import Commented, dump

WORKFLOW_DIR = ".github/workflows"
K6_MAPPER_PATH = "tools/k6_slo_mapper.py"
_MAPPER_SOURCE = Path(__file__).resolve().parents[1] / K6_MAPPER_PATH

Job = dict[str, Any]
Step = dict[str, Any]


# -- building blocks ----------------------------------------------------------------------------


def uses(action: Action, **with_: Any) -> Step:
    step: Step = {"uses": Commented(action.uses(), action.version)}
    if with_:
        step["with"] = with_
    return step


def checkout(**with_: Any) -> Step:
    # persist-credentials: false — later steps run repository code; the token must not stay in
    # .git/config where that code could read it (zizmor: artipacked).
    return {"name": "Check out", **uses(actions.CHECKOUT, **{"persist-credentials": False, **with_})}


def run(name: str, script: str, **env: str) -> Step:
    step: Step = {"name": name}
    if env:
        step["env"] = env
    step["run"] = script if "\n" not in script.rstrip("\n") else script.rstrip("\n") + "\n"
    return step


def when(condition: str, step: Step) -> Step:
    """The step with `if:` placed right after its id and name, where a reader looks for it."""
    head: Step = {key: step[key] for key in ("id", "name") if key in step}
    return {**head, "if": condition, **{k: v for k, v in step.items() if k not in head}}


def setup_python(settings: WorkflowSettings) -> Step:
    version = {"python-version": settings.python_version}
    return {"name": "Set up Python", **uses(actions.SETUP_PYTHON, **version)}


def setup_node(settings: WorkflowSettings) -> Step:
    version = {"node-version": settings.node_version}
    return {"name": "Set up Node.js", **uses(actions.SETUP_NODE, **version)}


# Why each job may hold a permission; rendered as a comment beside the grant.
PERMISSION_REASONS = {
    ("contents", "read"): "check out the repository",
    ("security-events", "write"): "upload the scan's SARIF findings",
    ("pull-requests", "write"): "comment the preview on the pull request",
    ("issues", "write"): "open the parity-mismatch issue",
    ("id-token", "write"): "trade the job's OIDC token for this environment's AWS deploy role",
}

# GitHub environment variables each environment stack sets (gate/github.py): the deploy role that
# trusts exactly `repo:<owner>/<repo>:environment:<env>`, and its region.
AWS_ROLE_VARIABLE = "AWS_DEPLOY_ROLE_ARN"
AWS_REGION_VARIABLE = "AWS_REGION"


def aws_login(policy: GatePolicy) -> list[Step]:
    """Short-lived AWS credentials for a deploy job, through GitHub OIDC: no stored keys."""
    if policy.aws is None:
        return []
    login = {
        "role-to-assume": f"${{{{ vars.{AWS_ROLE_VARIABLE} }}}}",
        "aws-region": f"${{{{ vars.{AWS_REGION_VARIABLE} }}}}",
    }
    return [
        {"name": "Assume the environment's deploy role", **uses(actions.CONFIGURE_AWS_CREDENTIALS, **login)}
    ]


def deploy_permissions(policy: GatePolicy, **grants: str) -> dict[str, str]:
    return {"contents": "read", **grants, **({"id-token": "write"} if policy.aws is not None else {})}


def permissions(**grants: str) -> dict[str, Commented]:
    return {scope: Commented(level, PERMISSION_REASONS[scope, level]) for scope, level in grants.items()}


def job(check_or_name: Check | str, settings: WorkflowSettings, steps: list[Step], **extra: Any) -> Job:
    name = check_or_name if isinstance(check_or_name, str) else check_or_name.name
    body: Job = {"name": name, "runs-on": settings.runner, "timeout-minutes": settings.timeout_minutes}
    body["permissions"] = permissions(**extra.pop("permissions", {"contents": "read"}))
    body.update(extra)
    body["steps"] = steps
    return body


def pr_triggers(repo: Repository) -> dict[str, Any]:
    """The events a gate check must run on: pull requests into every protected branch (and the
    merge queue where one is used), with no path filter, so no required check is left unreported."""
    triggers: dict[str, Any] = {
        "pull_request": {"branches": [repo.default_branch, repo.release_branch_pattern]}
    }
    if repo.merge_queue:
        triggers["merge_group"] = {"types": ["checks_requested"]}
    return triggers


PR_CONCURRENCY = {
    # A new push supersedes the run for the previous head of the same PR.
    "group": "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
    "cancel-in-progress": True,
}


def workflow(name: str, on: Mapping[str, Any], jobs: Mapping[str, Job], **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"name": name, "on": dict(on), "permissions": {}}
    document.update(extra)
    document["jobs"] = dict(jobs)
    return document


# -- ci.yml: M9 §Required CI checks 1-2 -------------------------------------------------------


def _tool_job(check: Check, settings: WorkflowSettings, *, javascript: bool, command: str, title: str) -> Job:
    """Check out, set up one runtime, install the dependencies, run one tool."""
    setup = setup_node(settings) if javascript else setup_python(settings)
    install = settings.commands.js_install if javascript else settings.commands.python_install
    return job(check, settings, [checkout(), setup, run("Install", install), run(title, command)])


def unit_tests_python(check: Check, s: WorkflowSettings) -> Job:
    return _tool_job(check, s, javascript=False, command=s.commands.pytest, title="pytest")


def static_checks_python(check: Check, s: WorkflowSettings) -> Job:
    return _tool_job(check, s, javascript=False, command=s.commands.flake8, title="flake8")


def unit_tests_javascript(check: Check, s: WorkflowSettings) -> Job:
    return _tool_job(check, s, javascript=True, command=s.commands.npm_test, title="npm test")


def static_checks_javascript(check: Check, s: WorkflowSettings) -> Job:
    return _tool_job(check, s, javascript=True, command=s.commands.eslint, title="eslint")


# -- determinism-check.yml: M9 §Required CI checks 3 -------------------------------------------


def _both_runtimes(s: WorkflowSettings) -> list[Step]:
    return [
        checkout(),
        setup_python(s),
        setup_node(s),
        run("Install (Python)", s.commands.python_install),
        run("Install (JS)", s.commands.js_install),
    ]


def cross_language_parity(check: Check, s: WorkflowSettings) -> Job:
    c = s.commands
    return job(
        check,
        s,
        [
            *_both_runtimes(s),
            run("Produce traces (Python)", c.produce_traces),
            run("Replay traces (JS)", c.replay_traces_js),
        ],
    )


def canonical_json(check: Check, s: WorkflowSettings) -> Job:
    script = (
        "set -euo pipefail\n"
        f"OUT_DIR=build/canonical-1 {s.commands.canonicalize}\n"
        f"OUT_DIR=build/canonical-2 {s.commands.canonicalize}\n"
        "# Stable: canonicalising twice gives the same bytes.\n"
        "diff -r build/canonical-1 build/canonical-2\n"
        "# Equal, byte for byte, to the committed golden fixtures.\n"
        'diff -r "$GOLDEN_DIR" build/canonical-1\n'
    )
    return job(
        check,
        s,
        [
            checkout(),
            setup_python(s),
            run("Install", s.commands.python_install),
            run("Canonicalise twice and compare with the golden fixtures", script, GOLDEN_DIR=s.golden_dir),
        ],
    )


def root_hash(check: Check, s: WorkflowSettings) -> Job:
    c = s.commands
    script = (
        "set -euo pipefail\n"
        f"python_hash=$({c.root_hash_python})\n"
        f"js_hash=$({c.root_hash_js})\n"
        'echo "| runtime | root_hash |" >> "$GITHUB_STEP_SUMMARY"\n'
        'echo "| --- | --- |" >> "$GITHUB_STEP_SUMMARY"\n'
        'echo "| Python | \\`$python_hash\\` |" >> "$GITHUB_STEP_SUMMARY"\n'
        'echo "| JS | \\`$js_hash\\` |" >> "$GITHUB_STEP_SUMMARY"\n'
        'if [ "$python_hash" != "$js_hash" ]; then\n'
        '  echo "::error::root_hash differs across runtimes: Python $python_hash, JS $js_hash"\n'
        "  exit 1\n"
        "fi\n"
    )
    return job(
        check,
        s,
        [
            *_both_runtimes(s),
            run("Produce traces (Python)", c.produce_traces),
            run("Compare root_hash across runtimes", script),
        ],
    )


# -- e2e-parity-check.yml: M9 §Required CI checks 4, §Post-merge 1 -----------------------------

_EPHEMERAL = "inputs.target_environment == '' || inputs.target_environment == null"
_RUN_K6 = "github.event_name == 'pull_request' || inputs.run_k6"


def gate_checkout(s: WorkflowSettings, owner: str) -> Step:
    return {
        "name": "Check out delivery-gate",
        **uses(
            actions.CHECKOUT,
            repository=s.gate_repository or f"{owner}/delivery-gate",
            ref=s.gate_ref,
            path=".delivery-gate",
            **{"persist-credentials": False},
        ),
    }


def install_gate() -> Step:
    return run("Install delivery-gate", "python -m pip install -r .delivery-gate/requirements.txt")


def e2e_parity(check: Check, s: WorkflowSettings, repo: Repository) -> Job:
    c, k6 = s.commands, s.k6
    ephemeral = f"${{{{ {_EPHEMERAL} }}}}"
    run_k6 = f"${{{{ {_RUN_K6} }}}}"
    target = {"TARGET_URL": "${{ steps.target.outputs.url }}"}
    gate_cli = 'python -m gate ephemeral {verb} --repository "$REPOSITORY" --pr "$PR_NUMBER"'
    gate_env = {
        "REPOSITORY": "${{ github.repository }}",
        "PR_NUMBER": "${{ github.event.pull_request.number }}",
        "PULUMI_BACKEND_URL": "${{ secrets.PULUMI_BACKEND_URL }}",
        "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    }
    k6_script = (
        f'k6 run --vus {k6.vus} --duration {k6.duration} --summary-export build/k6-summary.json "$K6_SCRIPT"'
    )
    mapper = (
        f"python {K6_MAPPER_PATH} build/k6-summary.json --headroom {k6.headroom} "
        '--out build/slo-suggestion.json --markdown "$GITHUB_STEP_SUMMARY"'
    )
    steps: list[Step] = [
        checkout(),
        when(ephemeral, gate_checkout(s, repo.owner or "")),
        setup_python(s),
        run("Install", c.python_install),
        when(ephemeral, install_gate()),
        when(ephemeral, {"name": "Install Pulumi CLI", **uses(actions.PULUMI)}),
        when(
            ephemeral,
            {
                **run("Create the disposable staging environment", gate_cli.format(verb="up"), **gate_env),
                "working-directory": ".delivery-gate",
            },
        ),
        {"id": "target", **run("Resolve the target", f'echo "url=$({c.target_url})" >> "$GITHUB_OUTPUT"')},
        run("Simulate", c.e2e_simulate, **target),
        run("Run", c.e2e_run, **target),
        run("Replay", c.e2e_replay, **target),
        run("Diff (root hashes must match)", c.e2e_diff, **target),
        when(run_k6, {"name": "Set up k6", **uses(actions.SETUP_K6)}),
        when(run_k6, run("k6 smoke", k6_script, K6_SCRIPT=k6.script, **target)),
        when(run_k6, run("SLO suggestion", mapper)),
        when(
            run_k6,
            {
                "name": "Upload the SLO suggestion",
                **uses(
                    actions.UPLOAD_ARTIFACT,
                    name="slo-suggestion",
                    path="build/slo-suggestion.json\nbuild/k6-summary.json\n",
                    **{"if-no-files-found": "error"},
                ),
            },
        ),
        when(
            # Always torn down, whatever failed above.
            f"${{{{ always() && ({_EPHEMERAL}) }}}}",
            {
                **run("Tear down the disposable environment", gate_cli.format(verb="down"), **gate_env),
                "working-directory": ".delivery-gate",
            },
        ),
    ]
    return job(
        check,
        s,
        steps,
        **{"timeout-minutes": max(s.timeout_minutes, 30)},
        env={
            # pr-<N> on pull requests; the deployed environment when deploy.yml calls this workflow.
            "TARGET_ENVIRONMENT": (
                "${{ inputs.target_environment || format('pr-{0}', github.event.pull_request.number) }}"
            )
        },
    )


def e2e_triggers(repo: Repository) -> dict[str, Any]:
    inputs = {
        "run_k6": {
            "description": "Run the k6 smoke test and the SLO mapper (true on pull requests).",
            "type": "boolean",
            "default": False,
        },
        "target_environment": {
            "description": "A deployed environment to check; empty: a disposable pr-<N> stack.",
            "type": "string",
            "default": "",
        },
    }
    return {**pr_triggers(repo), "workflow_call": {"inputs": inputs}, "workflow_dispatch": {"inputs": inputs}}


# -- security-scan.yml: M9 §Required CI checks 5, §Merge conditions 2 --------------------------


def security_scan(check: Check, s: WorkflowSettings, repo: Repository) -> Job:
    image = f"{s.image_name or repo.name}:${{{{ github.sha }}}}"
    trivy = actions.TRIVY
    steps: list[Step] = [
        checkout(),
        {"name": "Set up Buildx", **uses(actions.SETUP_BUILDX)},
        {
            "name": "Build the image (not pushed)",
            **uses(actions.BUILD_PUSH, context=".", file=s.dockerfile, push=False, load=True, tags=image),
        },
        {
            "name": "Scan the image (SARIF)",
            **uses(trivy, **{"image-ref": image, "format": "sarif", "output": "trivy-image.sarif"}),
        },
        {
            "name": "Scan files and configuration (SARIF)",
            **uses(
                trivy,
                **{
                    "scan-type": "fs",
                    "scan-ref": ".",
                    "scanners": "vuln,secret,misconfig",
                    "format": "sarif",
                    "output": "trivy-fs.sarif",
                },
            ),
        },
        {
            "name": "Upload image findings",
            **uses(actions.UPLOAD_SARIF, **{"sarif_file": "trivy-image.sarif", "category": "trivy-image"}),
            "if": "${{ !cancelled() }}",
        },
        {
            "name": "Upload file findings",
            **uses(actions.UPLOAD_SARIF, **{"sarif_file": "trivy-fs.sarif", "category": "trivy-fs"}),
            "if": "${{ !cancelled() }}",
        },
        {
            # M9: "No open critical severity issues in security scan": the gate fails here.
            "name": "Fail on CRITICAL findings",
            **uses(
                trivy,
                **{"image-ref": image, "severity": "CRITICAL", "exit-code": "1", "format": "table"},
            ),
        },
    ]
    return job(check, s, steps, permissions={"contents": "read", "security-events": "write"})


# -- infra-preview.yml: M9 §Required CI checks 6 -----------------------------------------------


def infra_plan(check: Check, s: WorkflowSettings, repo: Repository) -> Job:
    changed = "steps.changes.outputs.infra == 'true'"
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    pathspecs = " ".join(f"':(glob){p}'" for p in s.infra_paths)
    detect = (
        "set -euo pipefail\n"
        "# The job always runs and always reports (a path filter would leave the required check\n"
        "# unreported); it only does the work when infrastructure changed.\n"
        f'if git diff --quiet "$BASE_SHA" HEAD -- {pathspecs}; then\n'
        '  echo "infra=false" >> "$GITHUB_OUTPUT"\n'
        "else\n"
        '  echo "infra=true" >> "$GITHUB_OUTPUT"\n'
        "fi\n"
    )
    plan = (
        "set -euo pipefail\n"
        "export PYTHONPATH=.delivery-gate\n"
        'python -m gate plan --project-dir "$INFRA_DIR" --stack "$STACK" --out build/head\n'
        'python -m gate plan --project-dir ".base/$INFRA_DIR" --stack "$STACK" --out build/base\n'
        'python -m gate diff "build/base/$STACK/plan.json" "build/head/$STACK/plan.json" \\\n'
        "  > build/plan-diff.txt\n"
        "{ echo \"### Offline plan diff ($STACK)\"; echo '```diff'; cat build/plan-diff.txt; echo '```'; }"
        ' >> "$GITHUB_STEP_SUMMARY"\n'
    )
    base = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"
    if_changed = f"${{{{ {changed} }}}}"
    steps: list[Step] = [
        checkout(**{"fetch-depth": 0}),
        {"id": "changes", **run("Did infrastructure change?", detect, BASE_SHA=base)},
        when(if_changed, {**checkout(ref=base, path=".base"), "name": "Check out the base"}),
        when(if_changed, gate_checkout(s, repo.owner or "")),
        when(if_changed, setup_python(s)),
        when(if_changed, install_gate()),
        when(
            # Works without secrets, so forks get a reviewable diff too.
            if_changed,
            run("Offline plan and diff against the base", plan, INFRA_DIR=s.infra_dir, STACK=s.infra_stack),
        ),
        when(
            if_changed,
            {
                "name": "Upload the plan diff",
                **uses(actions.UPLOAD_ARTIFACT, name="plan-diff", path="build/plan-diff.txt"),
            },
        ),
        when(
            f"${{{{ {changed} && {same_repo} }}}}",
            {
                # Secrets exist only for branches of this repository, not for forks.
                "name": "pulumi preview --diff (PR comment)",
                **uses(
                    actions.PULUMI,
                    command="preview",
                    diff=True,
                    **{
                        "stack-name": s.infra_stack,
                        "work-dir": s.infra_dir,
                        "comment-on-pr": True,
                        "github-token": "${{ secrets.GITHUB_TOKEN }}",
                    },
                ),
                "env": {
                    "PULUMI_BACKEND_URL": "${{ secrets.PULUMI_BACKEND_URL }}",
                    "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
                },
            },
        ),
    ]
    return job(check, s, steps, permissions={"contents": "read", "pull-requests": "write"})


# -- deploy.yml: M9 §Post-merge, DP §Environment Progression -------------------------------------


def deploy_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    s, c = policy.workflows, policy.workflows.commands
    jobs: dict[str, Job] = {}
    previous: str | None = None
    for env in policy.environments:
        deploy_id, parity_id, rollback_id = f"deploy-{env.name}", f"parity-{env.name}", f"rollback-{env.name}"
        target = {"TARGET_ENVIRONMENT": env.name}
        deploy_steps = [
            checkout(),
            *aws_login(policy),  # the scripts below reach the cluster with the environment's role
            {
                "id": "previous",
                **run(
                    "Record the running image tag (the rollback target)",
                    f'echo "tag=$({c.current_image_tag})" >> "$GITHUB_OUTPUT"',
                    **target,
                ),
            },
            run("Deploy", c.deploy, IMAGE_TAG="${{ github.sha }}", **target),
        ]
        deploy_job = job(
            f"deploy {env.name}",
            s,
            deploy_steps,
            environment={"name": env.name},
            permissions=deploy_permissions(policy),
            outputs={"previous_tag": "${{ steps.previous.outputs.tag }}"},
        )
        if previous:
            # DP: no environment is skipped — each deploy waits for the previous one's parity.
            deploy_job = {"needs": [f"parity-{previous}"], **deploy_job}
        jobs[deploy_id] = deploy_job
        jobs[parity_id] = {
            "name": f"parity {env.name}",
            "needs": [deploy_id],
            "permissions": permissions(contents="read"),
            # M9 §Post-merge 1: e2e-parity-check with run_k6=false after every deploy.
            "uses": f"./{WORKFLOW_DIR}/e2e-parity-check.yml",
            "with": {"run_k6": False, "target_environment": env.name},
        }
        jobs[rollback_id] = rollback_job(policy, env.name, deploy_id, parity_id)
        previous = env.name
    on = {
        "push": {"branches": [repo.default_branch, repo.release_branch_pattern]},
        "workflow_dispatch": {},
    }
    # One deploy per branch at a time, never cancelled half-way.
    concurrency = {"group": "deploy-${{ github.ref }}", "cancel-in-progress": False}
    return workflow("deploy", on, jobs, concurrency=concurrency)


def rollback_job(policy: GatePolicy, environment: str, deploy_id: str, parity_id: str) -> Job:
    s, c, n = policy.workflows, policy.workflows.commands, policy.notifications
    labels = ["parity-mismatch", "high-priority"]
    issue_script = (
        "const { ENVIRONMENT, SHA, PREVIOUS_TAG, RUN_URL } = process.env;\n"
        "await github.rest.issues.create({\n"
        "  owner: context.repo.owner,\n"
        "  repo: context.repo.repo,\n"
        "  title: `Parity mismatch after deploying ${SHA.slice(0, 12)} to ${ENVIRONMENT}`,\n"
        "  body: `The e2e parity check failed after the deploy (${RUN_URL}).\\n` +\n"
        "    `Rolled back to image tag \\`${PREVIOUS_TAG}\\`. Open an operator incident.`,\n"
        f"  labels: {labels!r},\n"
        "});\n"
    )
    message = (
        "Parity mismatch in ${{ env.ENVIRONMENT }}: rolled back to ${{ env.PREVIOUS_TAG }}. "
        "${{ env.RUN_URL }}"
    )
    facts = {
        "ENVIRONMENT": environment,
        "SHA": "${{ github.sha }}",
        "PREVIOUS_TAG": f"${{{{ needs.{deploy_id}.outputs.previous_tag }}}}",
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
    }
    notify = [
        {
            "name": f"Notify {channel}",
            **uses(
                actions.SLACK,
                method="chat.postMessage",
                token="${{ secrets.SLACK_BOT_TOKEN }}",
                payload=f'channel: "{channel}"\ntext: "{message}"\n',
            ),
            "env": facts,
        }
        for channel in (n.oncall, n.platform)
    ]
    steps: list[Step] = [
        checkout(),
        *aws_login(policy),
        # M9 §Post-merge 2: revert to the previous image tag.
        run(
            "Roll back to the previous image tag",
            c.deploy,
            TARGET_ENVIRONMENT=environment,
            IMAGE_TAG=facts["PREVIOUS_TAG"],
        ),
        {
            "name": "Open a high-priority issue",
            **uses(actions.GITHUB_SCRIPT, script=issue_script),
            "env": facts,
        },
        *notify,
    ]
    return {
        "name": f"rollback {environment}",
        "needs": [deploy_id, parity_id],
        # Parity failed after a successful deploy: rollback policies apply (M9 §Merge conditions).
        "if": (
            f"${{{{ always() && needs.{deploy_id}.result == 'success' "
            f"&& needs.{parity_id}.result == 'failure' }}}}"
        ),
        **job(
            f"rollback {environment}",
            s,
            steps,
            environment={"name": environment},
            permissions=deploy_permissions(policy, issues="write"),
        ),
    }


# -- assembling ---------------------------------------------------------------------------------

JobBuilder = Callable[[Check, WorkflowSettings, Repository], Job]

# The jobs the gate knows how to run, by catalogue check name. A catalogue check without one here
# must be reported by something else and declared in repositories[].externalChecks.
BUILTIN_JOBS: Mapping[str, JobBuilder] = {
    "unit-tests-python": lambda c, s, r: unit_tests_python(c, s),
    "static-checks-python": lambda c, s, r: static_checks_python(c, s),
    "unit-tests-javascript": lambda c, s, r: unit_tests_javascript(c, s),
    "static-checks-javascript": lambda c, s, r: static_checks_javascript(c, s),
    "determinism-cross-language-parity": lambda c, s, r: cross_language_parity(c, s),
    "determinism-canonical-json": lambda c, s, r: canonical_json(c, s),
    "determinism-root-hash": lambda c, s, r: root_hash(c, s),
    "e2e-parity": e2e_parity,
    "security-scan": security_scan,
    "infra-plan": infra_plan,
}

_WORKFLOW_NAMES = {
    "ci.yml": "ci",
    "determinism-check.yml": "determinism-check",
    "e2e-parity-check.yml": "e2e-parity-check",
    "security-scan.yml": "security-scan",
    "infra-preview.yml": "infra-preview",
}


def workflow_documents(policy: GatePolicy, repo: Repository) -> dict[str, dict[str, Any]]:
    """File name -> workflow document, for the repository's languages, in catalogue order."""
    s = policy.workflows
    jobs_by_file: dict[str, dict[str, Job]] = {}
    for check in policy.checks:
        builder = BUILTIN_JOBS.get(check.name)
        if builder is None or (check.language is not None and check.language not in repo.languages):
            continue
        jobs_by_file.setdefault(check.workflow, {})[check.name] = builder(check, s, repo)
    documents: dict[str, dict[str, Any]] = {}
    for file, jobs in jobs_by_file.items():
        on = e2e_triggers(repo) if file == "e2e-parity-check.yml" else pr_triggers(repo)
        documents[file] = workflow(
            _WORKFLOW_NAMES.get(file, file.removesuffix(".yml")), on, jobs, concurrency=PR_CONCURRENCY
        )
    documents["deploy.yml"] = deploy_workflow(policy, repo)
    return dict(sorted(documents.items()))


def render_workflows(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """Repository path -> file content of every gate workflow."""
    header = (
        "# Managed by delivery-gate (Pulumi), rendered from the delivery policy: edits here are\n"
        "# overwritten on the next `pulumi up`. Change the policy in the delivery-gate stacks instead.\n"
    )
    return {
        f"{WORKFLOW_DIR}/{file}": header + dump(document)
        for file, document in workflow_documents(policy, repo).items()
    }


def k6_mapper_source() -> str:
    """tools/k6_slo_mapper.py, committed into each gated repository for the e2e workflow."""
    return _MAPPER_SOURCE.read_text(encoding="utf-8")
