"""The gate's GitHub workflows, rendered from the policy: pure, YAML text out.

Every job that reports a required check is named exactly as the check (GitHub matches required
checks by job name). Security defaults (M9 §Enforcement, and what zizmor audits): no permissions at
workflow level and the least each job needs; every action pinned to a commit SHA with its version
as a comment; untrusted event data reaches scripts only through `env:`; checkouts do not persist
credentials; PR workflows cancel superseded runs; every job has a timeout.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

from gate.aws import foundation as aws
from gate.bundled import tool_source
from gate.github import (
    actions,
    automation,
    release_contract,
    release_deploy,
    release_notes,
    rendertemplates,
    schema_change,
)
from gate.github.actions import Action
from gate.github.yamltext import Commented, dump
from gate.policy import repopolicy
from gate.policy.memo import once
from gate.policy.model import Check, Environment, GatePolicy, Repository, WorkflowSettings
from gate.policy.prnames import SLUG_DIGEST_LENGTH, SLUG_MAX, repository_slug
from gate.policy.types import (
    GITHUB_HOSTED_RUNNERS,
    SELF_HOSTED_RUNNER,
    ClusterCredentials,
    Language,
    duration_seconds,
)
from gate.promotion import drill, emergency, evaluation_jobs

WORKFLOW_DIR = ".github/workflows"
K6_MAPPER_PATH = "tools/k6_slo_mapper.py"

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


def run(name: str, script: str, **env: str | Commented) -> Step:
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


def setup_node(settings: WorkflowSettings, *, cache: bool = True) -> Step:
    version: dict[str, Any] = {"node-version": settings.node_version}
    if not cache:
        # A job that publishes (pushes an image) must not restore a cache a pull request could
        # have poisoned (zizmor: cache-poisoning).
        version["package-manager-cache"] = False
    return {"name": "Set up Node.js", **uses(actions.SETUP_NODE, **version)}


# Why each job may hold a permission; rendered as a comment beside the grant.
PERMISSION_REASONS = {
    ("contents", "read"): "check out the repository",
    ("security-events", "write"): "upload the scan's SARIF findings",
    ("pull-requests", "write"): "comment the preview on the pull request",
    ("pull-requests", "read"): "read the pull request and its reviews",
    ("issues", "write"): "open the issue of a rollback (parity-mismatch when parity failed)",
    # Issue 12, part emergency: `gate deploy` lists the open emergency-backfill issues.
    ("issues", "read"): "let the gate read the open emergency-backfill issues (GATE-DP-17)",
    ("id-token", "write"): "trade the job's OIDC token for an AWS role (the environment's or the build's)",
    ("packages", "write"): "push the image built from this commit (deployed by digest)",
    ("actions", "write"): "re-run the required schema-change check after a review (organisation mode)",
    ("actions", "read"): "let the gate verify this run through the API before recording its evidence",
    ("contents", "write"): "publish the release and its customer-facing notes (DP §Release Notes)",
}

# GitHub environment variables each environment stack sets (gate/github/repository.py): the deploy role that
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


# A pull request from this repository, not a fork: only those get secrets and a writable token.
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"

PR_CONCURRENCY = {
    # A new push supersedes the run for the previous head of the same PR.
    "group": "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
    "cancel-in-progress": True,
}


def workflow(name: str, on: Mapping[str, Any], jobs: Mapping[str, Job], **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"name": name, "on": dict(on), "permissions": {}}
    document.update(extra)
    document["jobs"] = {job_id: _fork_safe_runner(body, on) for job_id, body in jobs.items()}
    return document


# A self-hosted runner outlives the job: a fork's code must never run there (it could leave
# something behind for the next job, which holds secrets). An event about a pull request from a
# fork takes the GitHub-hosted default, whatever the event's name; every other run (this
# repository's pull requests, the merge queue, pushes, calls and dispatches) runs code someone with
# write access put there.
FORK_SAFE_SELF_HOSTED = (
    f"${{{{ (!github.event.pull_request || {SAME_REPOSITORY}) "
    f"&& '{SELF_HOSTED_RUNNER}' || '{GITHUB_HOSTED_RUNNERS[0]}' }}}}"
)
# Triggers whose event can be a pull request from a fork (a called workflow sees its caller's).
FORK_EVENTS = ("pull_request", "pull_request_target", "workflow_call")


def _fork_safe_runner(body: Job, on: Mapping[str, Any]) -> Job:
    if body.get("runs-on") != SELF_HOSTED_RUNNER:
        return body
    if any(event in on for event in FORK_EVENTS):
        return {**body, "runs-on": FORK_SAFE_SELF_HOSTED}
    # zizmor's auditor flags every self-hosted runner; these jobs never run a fork's code.
    reason = "zizmor: ignore[self-hosted-runner] never runs a pull request from a fork"
    return {**body, "runs-on": Commented(SELF_HOSTED_RUNNER, reason)}


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


# Where produce_traces writes (its default command's --out); canonicalised from there.
TRACES_DIR = "build/traces"

_COMPARE_CANONICAL = """\
set -euo pipefail
if ! find build/canonical-1 -type f -name '*.json' -print -quit | grep -q .; then
  echo "::error::produce emitted no JSON traces to compare with the golden fixtures"
  exit 1
fi
# Stable: canonicalising the same traces twice gives the same bytes.
if ! diff -r build/canonical-1 build/canonical-2; then
  echo "::error::canonical JSON is not stable: two canonicalisations of the same traces differ"
  exit 1
fi
# The committed fixtures are themselves canonical.
if ! diff -r "$GOLDEN_DIR" build/canonical-golden; then
  echo "::error::the golden fixtures in $GOLDEN_DIR are not canonical JSON"
  exit 1
fi
# What produce emits today equals the fixtures: a trace-schema change must update them in the
# same pull request (M9 §Exceptions: "golden fixture updates").
if ! diff -r "$GOLDEN_DIR" build/canonical-1; then
  echo "::error::the traces produce emits differ from the golden fixtures in $GOLDEN_DIR"
  exit 1
fi
"""


def canonical_json(check: Check, s: WorkflowSettings) -> Job:
    # $IN_DIR and $OUT_DIR reach the command through the step's env: a `VAR=x cmd "$VAR"` prefix
    # would expand "$VAR" before the assignment applies (unbound under `set -u`).
    def canonicalise(name: str, source: str, out: str) -> Step:
        return run(name, s.commands.canonicalize, IN_DIR=source, OUT_DIR=out)

    return job(
        check,
        s,
        [
            checkout(),
            setup_python(s),
            run("Install", s.commands.python_install),
            run("Produce traces (Python)", s.commands.produce_traces),
            canonicalise("Canonicalise the traces", TRACES_DIR, "build/canonical-1"),
            canonicalise("Canonicalise them again", TRACES_DIR, "build/canonical-2"),
            canonicalise("Canonicalise the golden fixtures", s.golden_dir, "build/canonical-golden"),
            run(
                "Compare: stable, canonical, equal to the golden fixtures",
                _COMPARE_CANONICAL,
                GOLDEN_DIR=s.golden_dir,
            ),
        ],
    )


def root_hash(check: Check, s: WorkflowSettings) -> Job:
    c = s.commands
    script = (
        "set -euo pipefail\n"
        f'python_hash="$({c.root_hash_python})"\n'
        f'js_hash="$({c.root_hash_js})"\n'
        "{\n"
        '  echo "| runtime | root_hash |"\n'
        '  echo "| --- | --- |"\n'
        '  echo "| Python | \\`$python_hash\\` |"\n'
        '  echo "| JS | \\`$js_hash\\` |"\n'
        '} >> "$GITHUB_STEP_SUMMARY"\n'
        "# Two empty answers are equal, and prove nothing.\n"
        'if [ -z "$python_hash" ] || [ -z "$js_hash" ]; then\n'
        "  echo \"::error::a runtime printed no root_hash (Python: '$python_hash', JS: '$js_hash')\"\n"
        "  exit 1\n"
        "fi\n"
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


# -- images: built once per commit, pushed, deployed by digest ----------------------------------


def image_repository(policy: GatePolicy, repo: Repository, *, release: bool = False) -> str:
    """<registry>/<name> of the repository's image: `workflows.registry`, else for the images
    deploy.yml releases with `aws` set the ECR registry (pushed by the build role only), else
    ghcr.io/<owner>. Pull-request images never go to ECR: no AWS role trusts a pull request."""
    registry = policy.workflows.registry
    if registry is None and release and policy.aws is not None:
        registry = aws.registry_url(policy)
    registry = registry or f"ghcr.io/{(repo.owner or '').lower()}"
    return f"{registry}/{policy.workflows.image_name or repo.name.lower()}"


def uses_ecr(policy: GatePolicy) -> bool:
    return policy.workflows.registry is None and policy.aws is not None


_REGISTRY_LOGIN = """\
set -euo pipefail
printf '%s' "$REGISTRY_TOKEN" | docker login "${IMAGE_REPOSITORY%%/*}" -u "$REGISTRY_USER" --password-stdin
"""

_ECR_LOGIN = """\
set -euo pipefail
aws ecr get-login-password --region "$AWS_REGION" \\
  | docker login "${IMAGE_REPOSITORY%%/*}" -u AWS --password-stdin
"""

_PIN_DIGEST = """\
set -euo pipefail
case "$DIGEST" in
  sha256:*) ;;
  *) echo "::error::the build reported no image digest (got '$DIGEST')"; exit 1 ;;
esac
echo "ref=$IMAGE_REPOSITORY@$DIGEST" >> "$GITHUB_OUTPUT"
"""


def build_and_push(
    policy: GatePolicy,
    repo: Repository,
    tag: str,
    condition: str | None = None,
    *,
    release: bool = False,
    repository: str | None = None,
) -> list[Step]:
    """Log in, build and push the image once, and pin it by digest: steps `build` and `image`
    (`steps.image.outputs.ref` is `<registry>/<name>@sha256:...`, what every deploy uses).
    `repository`: the image repository as an expression, instead of image_repository's literal."""
    s = policy.workflows
    repository = repository or image_repository(policy, repo, release=release)
    registry = {"IMAGE_REPOSITORY": repository}
    if release and uses_ecr(policy):
        login = [
            {
                # The registry stack's build role: the only identity that may push (docs/aws.md).
                "name": "Assume the build role",
                **uses(
                    actions.CONFIGURE_AWS_CREDENTIALS,
                    **{
                        "role-to-assume": f"${{{{ vars.{aws.BUILD_ROLE_VARIABLE} }}}}",
                        "aws-region": f"${{{{ vars.{aws.BUILD_REGION_VARIABLE} }}}}",
                    },
                ),
            },
            run("Log in to the registry", _ECR_LOGIN, **registry),
        ]
    else:
        login = [
            run(
                "Log in to the registry",
                _REGISTRY_LOGIN,
                REGISTRY_USER="${{ github.actor }}",
                REGISTRY_TOKEN="${{ github.token }}",
                **registry,
            )
        ]
    steps: list[Step] = [
        {"name": "Set up Buildx", **uses(actions.SETUP_BUILDX)},
        *login,
        {
            "id": "build",
            "name": "Build and push the image",
            **uses(actions.BUILD_PUSH, context=".", file=s.dockerfile, push=True, tags=f"{repository}:{tag}"),
        },
        {
            "id": "image",
            **run(
                "Pin the image by digest", _PIN_DIGEST, DIGEST="${{ steps.build.outputs.digest }}", **registry
            ),
        },
    ]
    return [when(condition, step) for step in steps] if condition else steps


# -- e2e-parity-check.yml: M9 §Required CI checks 4, §Post-merge 1 -----------------------------


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


_INSTALL_GATE = """\
set -euo pipefail
# The configuration repository's requirements.txt pins delivery-gate (what `gate init` writes) and,
# through it, the Pulumi SDK and providers. A checkout of delivery-gate itself (its own stacks as the
# configuration) has no such pin: its package is installed from that checkout's source.
python -m pip install -r .delivery-gate/requirements.txt
if [ -f .delivery-gate/src/gate/__init__.py ]; then
  python -m pip install --no-deps ./.delivery-gate
fi
"""


def install_gate() -> Step:
    return run("Install delivery-gate", _INSTALL_GATE)


# Issue 14 item 4: gate/policy/prnames.py repository_slug, in the shell, of the repository the run
# belongs to (`$REPOSITORY`, github.repository): a shared required workflow cannot have it rendered
# in. Same steps: lower-case; runs of anything but [a-z0-9] become one hyphen, none at either end;
# a name that changed, or is longer than SLUG_MAX, is cut and suffixed with a digest.
REPOSITORY_SLUG_SCRIPT = f"""\
name="${{REPOSITORY#*/}}"
lowered="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')"
cleaned="$(printf '%s' "$lowered" | sed -e 's/[^a-z0-9][^a-z0-9]*/-/g' -e 's/^-//' -e 's/-$//')"
if [ "$cleaned" = "$lowered" ] && [ "${{#cleaned}}" -le {SLUG_MAX} ]; then
  slug="$cleaned"
else
  digest="$(printf '%s' "$lowered" | sha256sum | cut -c1-{SLUG_DIGEST_LENGTH})"
  base="$(printf '%s' "${{cleaned:0:{SLUG_MAX - SLUG_DIGEST_LENGTH - 1}}}" | sed -e 's/^-*//' -e 's/-*$//')"
  slug="${{base:-repo}}-$digest"
fi
"""


def resolve_target_script(policy: GatePolicy, repo: Repository, *, names_from_context: bool = False) -> str:
    """The first step of e2e-parity: what to check, refused clearly when it cannot be told.

    Modes: `ephemeral` (a pull request of this repository, or a merge group: a disposable
    pr-<repo>-<N> stack running the PR's own image), `deployed` (deploy.yml's call, or a dispatch: a
    deployed environment), `fork` (a pull request from a fork: no secrets, so no environment).

    `names_from_context` (organisation mode's shared required workflows, issue 14 item 4): the
    repository's slug and its pull-request image repository come from the run's repository, and
    the step outputs the image repository as `image`.
    """
    pr_stack_prefix = f"pr-{repository_slug(repo.name)}-"  # gate/policy/prnames.py
    names = ""
    if names_from_context:
        pr_stack_prefix = "pr-${slug}-"
        # A pull request's image never goes to ECR (image_repository, release=False).
        registry = image_repository(policy, repo).rsplit("/", 1)[0]
        image = policy.workflows.image_name or "$lowered"
        names = REPOSITORY_SLUG_SCRIPT + f'echo "image={registry}/{image}" >> "$GITHUB_OUTPUT"\n'
    environments = [env.name for env in policy.environments]
    allowed = ", ".join(environments)
    return (
        "set -euo pipefail\n"
        f"{names}"
        'pr=""\n'
        'case "$EVENT_NAME" in\n'
        "  pull_request)\n"
        '    pr="$PR_NUMBER"\n'
        '    if [ "$HEAD_REPOSITORY" = "$REPOSITORY" ]; then mode=ephemeral; else mode=fork; fi ;;\n'
        "  merge_group)\n"
        "    # The queue's branch is gh-readonly-queue/<base>/pr-<N>-<sha>.\n"
        '    pr="$(printf \'%s\\n\' "$MERGE_GROUP_REF" \\\n'
        "      | sed -n 's|.*/pr-\\([0-9][0-9]*\\)-[0-9a-f]*$|\\1|p')\"\n"
        "    mode=ephemeral ;;\n"
        "  *)\n"
        '    case "$REQUESTED_TARGET" in\n'
        f"      {'|'.join(environments)}) mode=deployed ;;\n"
        "      '')\n"
        f'        echo "::error::target_environment is required for $EVENT_NAME; allowed: {allowed}"\n'
        "        exit 1 ;;\n"
        "      *)\n"
        f"        echo \"::error::unknown target_environment '$REQUESTED_TARGET'; allowed: {allowed}\"\n"
        "        exit 1 ;;\n"
        "    esac ;;\n"
        "esac\n"
        'if [ "$mode" = deployed ]; then\n'
        '  environment="$REQUESTED_TARGET"\n'
        "else\n"
        '  case "$pr" in\n'
        "    '' | *[!0-9]*)\n"
        '      echo "::error::cannot tell the pull request number of this $EVENT_NAME event"\n'
        "      exit 1 ;;\n"
        "  esac\n"
        f'  environment="{pr_stack_prefix}$pr"\n'
        "fi\n"
        '{ echo "mode=$mode"; echo "environment=$environment"; echo "pr=$pr"; } >> "$GITHUB_OUTPUT"\n'
        'echo "e2e-parity: $mode check of $environment"\n'
    )


def fork_step(repo: Repository) -> Step:
    """A fork's pull request has no secrets (and must never get them: its code is untrusted), so it
    cannot deploy a disposable environment. With a merge queue the check is not lost: the queue runs
    this workflow on `merge_group`, in this repository with its secrets, on the approved and merged
    code, and the merge waits for that run. Without a merge queue the check fails, saying how to
    proceed, rather than passing on a pull request nobody checked."""
    if repo.merge_queue:
        script = (
            'echo "::notice::pull request from a fork: no secrets here, so e2e-parity runs in the merge '
            'queue (merge_group), on the merged code, before anything reaches the branch"\n'
        )
    else:
        script = (
            'echo "::error::pull request from a fork: e2e-parity needs secrets a fork never gets. Enable '
            "the merge queue for this repository (repositories[].mergeQueue: true), which runs the check "
            'on the approved, merged code, or push the branch to this repository after review"\n'
            "exit 1\n"
        )
    return when("${{ steps.target.outputs.mode == 'fork' }}", run("Pull request from a fork", script))


_TARGET_URL = """\
set -euo pipefail
url="$({command})"
if [ -z "$url" ]; then
  echo "::error::no URL for environment '$TARGET_ENVIRONMENT'"
  exit 1
fi
echo "url=$url" >> "$GITHUB_OUTPUT"
"""

_K6_SMOKE = """\
set -euo pipefail
# A threshold breach (exit 99) must not stop the job before the SLO suggestion and its failed
# thresholds are written: the exit code is kept and acted on in the last step.
status=0
k6 run --vus {vus} --duration {duration} --summary-trend-stats '{trend_stats}' \\
  --summary-export build/k6-summary.json "$K6_SCRIPT" || status=$?
echo "exit_code=$status" >> "$GITHUB_OUTPUT"
"""

_K6_VERDICT = """\
set -euo pipefail
if [ "$K6_EXIT_CODE" = 99 ]; then
  echo "::error::k6 thresholds breached (see the SLO suggestion's failed_thresholds)"
  exit 1
elif [ "$K6_EXIT_CODE" != 0 ]; then
  echo "::error::k6 failed with exit code $K6_EXIT_CODE"
  exit 1
fi
"""

_E2E_DIFF = """\
set -euo pipefail
out="$({command})"
printf '%s\\n' "$out"
# The root hash run and replay agreed on, the last word the diff printed: deploy.yml records it as
# the environment's parity evidence (`gate record-evidence --parity-root-hash`).
root_hash="${{out##*[[:space:]]}}"
if ! [[ "$root_hash" =~ ^(sha256:)?[0-9a-f]{{64}}$ ]]; then
  if [ "$MODE" = deployed ]; then
    echo "::error::the e2e diff passed but printed no root hash as its last word (got '$root_hash'):" \\
      "the evidence of $TARGET_ENVIRONMENT needs it"
    exit 1
  fi
  root_hash=""
fi
echo "root_hash=${{root_hash:+sha256:${{root_hash#sha256:}}}}" >> "$GITHUB_OUTPUT"
"""

# p(99) too: the SLO mapper reports it, and k6 exports only avg/min/med/max/p(90)/p(95) by default.
K6_TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"


# Secrets a pull-request job reads only for a pull request from this repository (forks get none).
SAME_REPOSITORY_SECRET_REASON = "zizmor: ignore[secrets-outside-env] same-repository pull requests only"

# -- the cluster of the disposable environments: credentials without a stored kubeconfig -----------

CLUSTER_ROLE_STEP = "cluster_role"
# Where the kubeconfig for the disposable environments' cluster is written (no credential in it:
# `aws eks get-token` runs each time, with the role's credentials from the step's own env).
KUBECONFIG_PATH = "${{ runner.temp }}/delivery-gate-kubeconfig"

_CHECK_CLUSTER_VARIABLES = """\
set -euo pipefail
missing=""
[ -n "$ROLE" ] || missing="$missing {role}"
[ -n "$REGION" ] || missing="$missing {region}"
[ -n "$CLUSTER" ] || missing="$missing {cluster}"
if [ -n "$missing" ]; then
  echo "::error::no cluster credentials for the disposable environments: repository variable(s)$missing \
not set. The stack of the first environment sets them when its delivery-gate:aws has eksClusterName \
(it declares this repository's pull-request role); a stored kubeconfig is never used."
  exit 1
fi
"""

_UPDATE_KUBECONFIG = """\
set -euo pipefail
aws eks update-kubeconfig --name "$CLUSTER" --region "$AWS_REGION" --kubeconfig "$KUBECONFIG"
"""

_NO_CLUSTER_CREDENTIALS = """\
echo "::error::the disposable environment needs credentials for its cluster, and none is \
configured: set delivery-gate:aws with eksClusterName (GitHub OIDC to this repository's \
pull-request role), or workflows.clusterCredentials: runner with a self-hosted runner inside the \
cluster. A kubeconfig stored as a secret is not supported."
exit 1
"""


def cluster_credentials(policy: GatePolicy) -> tuple[list[Step], dict[str, str | Commented]]:
    """The steps that give a job the cluster of the disposable environments, and the env of the
    steps that reach it (`gate ephemeral up|down|reap`), by workflows.clusterCredentials:

    - aws: the repository's pull-request role through GitHub OIDC (gate/aws/foundation.py: trusted only by
      this check and the janitor, allowed to describe one cluster and to write in the repository's
      PR namespaces), then a kubeconfig from `aws eks update-kubeconfig`. The role's credentials
      stay out of the job's environment (`output-env-credentials: false`): only the steps given
      them here hold them, never the steps that run the repository's own scripts.
    - runner: nothing to do; the self-hosted runner's in-cluster identity is used.
    - none: one step that fails, saying what to configure.
    """
    mechanism = policy.cluster_credentials
    if mechanism is ClusterCredentials.RUNNER:
        return [], {}
    if mechanism is ClusterCredentials.NONE:
        return [run("No cluster credentials", _NO_CLUSTER_CREDENTIALS)], {}
    variables = {
        "ROLE": f"${{{{ vars.{aws.E2E_ROLE_VARIABLE} }}}}",
        "REGION": f"${{{{ vars.{aws.E2E_REGION_VARIABLE} }}}}",
        "CLUSTER": f"${{{{ vars.{aws.E2E_CLUSTER_VARIABLE} }}}}",
    }
    outputs = f"steps.{CLUSTER_ROLE_STEP}.outputs"
    credentials: dict[str, str | Commented] = {
        "AWS_ACCESS_KEY_ID": f"${{{{ {outputs}.aws-access-key-id }}}}",
        "AWS_SECRET_ACCESS_KEY": f"${{{{ {outputs}.aws-secret-access-key }}}}",
        "AWS_SESSION_TOKEN": f"${{{{ {outputs}.aws-session-token }}}}",
        "AWS_REGION": variables["REGION"],
        "KUBECONFIG": KUBECONFIG_PATH,
    }
    check = _CHECK_CLUSTER_VARIABLES.format(
        role=aws.E2E_ROLE_VARIABLE, region=aws.E2E_REGION_VARIABLE, cluster=aws.E2E_CLUSTER_VARIABLE
    )
    steps: list[Step] = [
        run("Check the pull-request role is configured", check, **variables),
        {
            "id": CLUSTER_ROLE_STEP,
            "name": "Assume the pull-request role",
            **uses(
                actions.CONFIGURE_AWS_CREDENTIALS,
                **{
                    "role-to-assume": variables["ROLE"],
                    "aws-region": variables["REGION"],
                    "output-credentials": True,
                    "output-env-credentials": False,
                },
            ),
        },
        run("Cluster credentials (EKS)", _UPDATE_KUBECONFIG, CLUSTER=variables["CLUSTER"], **credentials),
    ]
    return steps, credentials


def e2e_permissions(policy: GatePolicy) -> dict[str, Commented]:
    """The e2e job's permissions, and those of deploy.yml's call of it (a call may not grant less
    than the called jobs ask for): packages: write pushes the pull request's image; with the aws
    cluster credentials, id-token: write trades the job's OIDC token for the pull-request role."""
    grants = permissions(contents="read", packages="write")
    if policy.cluster_credentials is ClusterCredentials.AWS:
        grants["id-token"] = Commented(
            "write", "trade the job's OIDC token for the pull-request role (disposable environments only)"
        )
    return grants


def e2e_parity(
    check: Check, policy: GatePolicy, repo: Repository, *, names_from_context: bool = False
) -> Job:
    """`names_from_context`: resolve_target_script's, for a required workflow shared by repositories."""
    s = policy.workflows
    c, k6 = s.commands, s.k6
    mode = "steps.target.outputs.mode"
    ephemeral = f"${{{{ {mode} == 'ephemeral' }}}}"
    checked = f"{mode} != 'fork'"  # a target exists (ephemeral or deployed)
    run_k6 = f"${{{{ {checked} && (github.event_name == 'pull_request' || inputs.run_k6) }}}}"
    target = {"TARGET_ENVIRONMENT": "${{ steps.target.outputs.environment }}"}
    url = {"TARGET_URL": "${{ steps.target_url.outputs.url }}", **target}
    gate_cli = 'python -m gate ephemeral {verb} --repository "$REPOSITORY" --pr "$PR"'
    credential_steps, cluster_env = cluster_credentials(policy)
    # The disposable stack's backend: read only in ephemeral mode, a same-repository pull request
    # (a fork's run resolves to mode 'fork' and skips these steps; it would get no secrets anyway).
    gate_env: dict[str, str | Commented] = {
        "REPOSITORY": "${{ github.repository }}",
        "PR": "${{ steps.target.outputs.pr }}",
        **{
            name: Commented(f"${{{{ secrets.{name} }}}}", SAME_REPOSITORY_SECRET_REASON)
            for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
        },
        **cluster_env,
    }
    mapper = (
        f"python {K6_MAPPER_PATH} build/k6-summary.json --headroom {k6.headroom} "
        '--out build/slo-suggestion.json --markdown "$GITHUB_STEP_SUMMARY"'
    )
    smoke = _K6_SMOKE.format(vus=k6.vus, duration=k6.duration, trend_stats=K6_TREND_STATS)
    steps: list[Step] = [
        {
            "id": "target",
            **run(
                "Resolve what to check",
                resolve_target_script(policy, repo, names_from_context=names_from_context),
                EVENT_NAME="${{ github.event_name }}",
                REQUESTED_TARGET="${{ inputs.target_environment }}",
                PR_NUMBER="${{ github.event.pull_request.number }}",
                HEAD_REPOSITORY="${{ github.event.pull_request.head.repo.full_name }}",
                REPOSITORY="${{ github.repository }}",
                MERGE_GROUP_REF="${{ github.event.merge_group.head_ref }}",
            ),
        },
        fork_step(repo),
        # Cluster credentials first: without them nothing is built or pushed for nothing.
        *(when(ephemeral, step) for step in credential_steps),
        when(f"${{{{ {checked} }}}}", checkout()),
        # The disposable environment runs this pull request's own image, built and pushed once here.
        *build_and_push(
            policy,
            repo,
            "pr-${{ steps.target.outputs.pr }}-${{ github.sha }}",
            ephemeral,
            repository="${{ steps.target.outputs.image }}" if names_from_context else None,
        ),
        when(ephemeral, gate_checkout(s, repo.owner or "")),
        when(f"${{{{ {checked} }}}}", setup_python(s)),
        # Issue 13, part repos: the repository's own dependencies, in its language (a JavaScript
        # frontend has no requirements.txt to pip install).
        *(
            [when(f"${{{{ {checked} }}}}", run("Install", c.python_install))]
            if Language.PYTHON in repo.languages
            else [
                when(f"${{{{ {checked} }}}}", setup_node(s, cache=False)),
                when(f"${{{{ {checked} }}}}", run("Install", c.js_install)),
            ]
        ),
        when(ephemeral, install_gate()),
        when(ephemeral, {"name": "Install Pulumi CLI", **uses(actions.PULUMI)}),
        when(
            ephemeral,
            {
                "id": "environment",
                **run(
                    "Create the disposable staging environment",
                    gate_cli.format(verb="up") + ' --image "$IMAGE"',
                    IMAGE="${{ steps.image.outputs.ref }}",
                    **gate_env,
                ),
                "working-directory": ".delivery-gate",
            },
        ),
        when(
            f"${{{{ {checked} }}}}",
            {
                "id": "target_url",
                **run("Resolve the target URL", _TARGET_URL.format(command=c.target_url), **target),
            },
        ),
        when(f"${{{{ {checked} }}}}", run("Simulate", c.e2e_simulate, **url)),
        when(f"${{{{ {checked} }}}}", run("Run", c.e2e_run, **url)),
        when(f"${{{{ {checked} }}}}", run("Replay", c.e2e_replay, **url)),
        when(
            f"${{{{ {checked} }}}}",
            {
                "id": "diff",
                **run(
                    "Diff (root hashes must match)",
                    _E2E_DIFF.format(command=c.e2e_diff),
                    MODE=f"${{{{ {mode} }}}}",
                    **url,
                ),
            },
        ),
        when(run_k6, {"name": "Set up k6", **uses(actions.SETUP_K6)}),
        when(run_k6, {"id": "k6", **run("k6 smoke", smoke, K6_SCRIPT=k6.script, **url)}),
        when(
            # Also after a breach: the suggestion carries the failed thresholds.
            "${{ !cancelled() && steps.k6.outcome == 'success' }}",
            run("SLO suggestion", mapper),
        ),
        when(
            "${{ !cancelled() && steps.k6.outcome == 'success' }}",
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
            "${{ !cancelled() && steps.k6.outcome == 'success' }}",
            run("k6 thresholds", _K6_VERDICT, K6_EXIT_CODE="${{ steps.k6.outputs.exit_code }}"),
        ),
        when(
            # Always torn down once its creation started, whatever failed above.
            f"${{{{ always() && {mode} == 'ephemeral' && steps.environment.outcome != 'skipped' }}}}",
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
        outputs={"root_hash": "${{ steps.diff.outputs.root_hash }}"},
    ) | {"permissions": e2e_permissions(policy)}


def e2e_triggers(repo: Repository, *, pull_requests: bool = True) -> dict[str, Any]:
    """Pull requests (where e2e-parity is a required check), and calls after each deploy."""
    inputs = {
        "run_k6": {
            "description": "Run the k6 smoke test and the SLO mapper (true on pull requests).",
            "type": "boolean",
            "default": False,
        },
        "target_environment": {
            "description": "The deployed environment to check (dev, staging, production).",
            "type": "string",
            "default": "",
        },
    }
    outputs = {
        PARITY_ROOT_HASH_OUTPUT: {
            "description": "The root hash run and replay agreed on (sha256:<hex>): the parity evidence.",
            "value": "${{ jobs.e2e-parity.outputs.root_hash }}",
        }
    }
    return {
        **(pr_triggers(repo) if pull_requests else {}),
        "workflow_call": {"inputs": inputs, "outputs": outputs},
        "workflow_dispatch": {"inputs": inputs},
    }


# What deploy.yml's parity call reports back (e2e-parity-check.yml's workflow_call output).
PARITY_ROOT_HASH_OUTPUT = "parity_root_hash"


E2E_CONCURRENCY = {
    # Never `github.workflow`: in a call from deploy.yml it is the CALLER's name, which made this
    # group equal to deploy.yml's own and GitHub cancelled the call as a deadlock. Keyed by what is
    # checked instead: one check per environment (or pull request) at a time.
    "group": "e2e-parity-${{ inputs.target_environment || github.event.pull_request.number || github.ref }}",
    # Only a superseded pull-request run is cancelled; a post-merge check is never cut short.
    "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
}


# -- ephemeral-janitor.yml: a disposable environment never outlives its TTL --------------------

JANITOR_WORKFLOW = "ephemeral-janitor.yml"
# Hourly, off the hour (GitHub delays the runs scheduled at :00 most); a TTL is at least 1h.
JANITOR_SCHEDULE = "17 * * * *"
SCHEDULED_SECRET_REASON = (
    "zizmor: ignore[secrets-outside-env] scheduled and dispatched runs on the default branch only"
)


def janitor_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """`python -m gate ephemeral reap --repository <owner/name>` every hour: this repository's
    expired pr-<repo>-<N> stacks are destroyed, whichever runner made them and even when their
    pull request's teardown never ran (a cancelled run, a runner lost mid-job). A reap that fails
    fails the run, naming the stacks it could not destroy. Same backend and cluster credentials as
    the e2e check; the pull-request role trusts this file on the default branch only."""
    s = policy.workflows
    credential_steps, cluster_env = cluster_credentials(policy)
    env: dict[str, str | Commented] = {
        "REPOSITORY": "${{ github.repository }}",
        **{
            name: Commented(f"${{{{ secrets.{name} }}}}", SCHEDULED_SECRET_REASON)
            for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
        },
        **cluster_env,
    }
    steps: list[Step] = [
        *credential_steps,
        gate_checkout(s, repo.owner or ""),
        setup_python(s),
        install_gate(),
        {"name": "Install Pulumi CLI", **uses(actions.PULUMI)},
        {
            **run(
                "Reap the expired disposable environments",
                'python -m gate ephemeral reap --repository "$REPOSITORY"',
                **env,
            ),
            "working-directory": ".delivery-gate",
        },
    ]
    grants = e2e_permissions(policy)
    grants.pop("packages")  # nothing is pushed here
    body = job("ephemeral-janitor", s, steps, **{"timeout-minutes": max(s.timeout_minutes, 30)})
    # A dispatch can name any branch; the janitor runs from the default branch only (its role
    # would refuse another branch's token anyway).
    body = {
        "name": body["name"],
        "if": f"github.ref == 'refs/heads/{repo.default_branch}'",
        **body,
        "permissions": grants,
    }
    on = {"schedule": [{"cron": JANITOR_SCHEDULE}], "workflow_dispatch": {}}
    # One janitor at a time, and a run in progress is never cancelled half-way through a destroy.
    concurrency = {"group": "ephemeral-janitor-${{ github.repository }}", "cancel-in-progress": False}
    return workflow("ephemeral-janitor", on, {"reap": body}, concurrency=concurrency)


# -- security-scan.yml: M9 §Required CI checks 5, §Merge conditions 2 --------------------------


# Issue 14 item 4: the local name of the scanned image in a required workflow shared by
# repositories. The image is loaded into the runner's Docker and scanned there, never pushed, so its
# name only has to be a valid one; a rendered repository name would make the file one per repository.
SHARED_SCAN_IMAGE = "delivery-gate-scan"


def security_scan(
    check: Check, s: WorkflowSettings, repo: Repository, *, names_from_context: bool = False
) -> Job:
    local = SHARED_SCAN_IMAGE if names_from_context else repo.name.lower()
    image = f"{s.image_name or local}:${{{{ github.sha }}}}"
    trivy = actions.TRIVY
    fs_scan = {"scan-type": "fs", "scan-ref": ".", "scanners": "vuln,secret,misconfig"}
    # A fork's token cannot write code-scanning results; the scan and its verdict still run there.
    can_upload = f"github.event_name != 'pull_request' || {SAME_REPOSITORY}"
    verdict = {"severity": "CRITICAL", "exit-code": "1", "format": "table"}
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
            **uses(trivy, **fs_scan, format="sarif", output="trivy-fs.sarif"),
        },
        when(
            f"${{{{ !cancelled() && ({can_upload}) }}}}",
            {
                "name": "Upload image findings",
                **uses(
                    actions.UPLOAD_SARIF, **{"sarif_file": "trivy-image.sarif", "category": "trivy-image"}
                ),
            },
        ),
        when(
            f"${{{{ !cancelled() && ({can_upload}) }}}}",
            {
                "name": "Upload file findings",
                **uses(actions.UPLOAD_SARIF, **{"sarif_file": "trivy-fs.sarif", "category": "trivy-fs"}),
            },
        ),
        # M9: "No open critical severity issues in security scan": the gate fails here, on the image
        # AND on the files (a committed secret or a critical misconfiguration), each reported.
        {"name": "Fail on CRITICAL findings in the image", **uses(trivy, **{"image-ref": image, **verdict})},
        when(
            "${{ !cancelled() }}",
            {
                "name": "Fail on CRITICAL findings in files and configuration",
                **uses(trivy, **fs_scan, **verdict),
            },
        ),
    ]
    return job(check, s, steps, permissions={"contents": "read", "security-events": "write"})


# -- infra-preview.yml: M9 §Required CI checks 6 -----------------------------------------------

_INFRA_PLAN = """\
set -euo pipefail
python -m gate plan --project-dir "$INFRA_DIR" --stack "$STACK" --out build/head
if [ -f ".base/$INFRA_DIR/Pulumi.yaml" ]; then
  python -m gate plan --project-dir ".base/$INFRA_DIR" --stack "$STACK" --out build/base
  python -m gate diff "build/base/$STACK/plan.json" "build/head/$STACK/plan.json" > build/plan-diff.txt
else
  # The pull request that introduces the infrastructure project: everything in it is new.
  echo "new infrastructure project $INFRA_DIR: the whole plan is added" > build/plan-diff.txt
  cat "build/head/$STACK/plan.json" >> build/plan-diff.txt
fi
{
  echo "### Offline plan diff ($STACK)"
  echo '```diff'
  cat build/plan-diff.txt
  echo '```'
} >> "$GITHUB_STEP_SUMMARY"
"""

_INFRA_REQUIREMENTS = """\
set -euo pipefail
# The program's own dependencies (a standard Pulumi Python layout keeps them beside Pulumi.yaml).
if [ -f "$INFRA_DIR/requirements.txt" ]; then
  python -m pip install -r "$INFRA_DIR/requirements.txt"
fi
"""


# Repository secrets on purpose: the preview runs for every pull request of this repository (never
# for forks), so an environment would only add a deployment record per pull request.


def infra_plan(check: Check, s: WorkflowSettings, repo: Repository) -> Job:
    changed = "steps.changes.outputs.infra == 'true'"
    same_repo = SAME_REPOSITORY
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
    base = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"
    if_changed = f"${{{{ {changed} }}}}"
    infra = {"INFRA_DIR": s.infra_dir}
    steps: list[Step] = [
        checkout(**{"fetch-depth": 0}),
        {"id": "changes", **run("Did infrastructure change?", detect, BASE_SHA=base)},
        when(if_changed, {**checkout(ref=base, path=".base"), "name": "Check out the base"}),
        when(if_changed, gate_checkout(s, repo.owner or "")),
        when(if_changed, setup_python(s)),
        when(if_changed, install_gate()),
        when(
            if_changed, run("Install the infrastructure program's requirements", _INFRA_REQUIREMENTS, **infra)
        ),
        when(
            # Works without secrets, so forks get a reviewable diff too.
            if_changed,
            run("Offline plan and diff against the base", _INFRA_PLAN, STACK=s.infra_stack, **infra),
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
                    name: Commented(f"${{{{ secrets.{name} }}}}", SAME_REPOSITORY_SECRET_REASON)
                    for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
                },
            },
        ),
    ]
    return job(check, s, steps, permissions={"contents": "read", "pull-requests": "write"})


# -- schema-change.yml: M9 §Exceptions & manual approval (gate/github/schema_change.py) -----------------


def schema_change_job(check: Check, policy: GatePolicy, repo: Repository) -> Job:
    """Always reported: the script decides whether the trace schema changed and what is missing."""
    s = policy.workflows
    steps: list[Step] = [
        checkout(**{"fetch-depth": 0}),  # the diff base...head needs both histories
        setup_python(s),
        run("Check the schema-change rule", schema_change.COMMAND, **schema_change.check_env(policy, repo)),
    ]
    return job(check, s, steps, permissions={"contents": "read", "pull-requests": "read"})


# -- deploy.yml: M9 §Post-merge, DP §Environment Progression -------------------------------------
#
# One delivery path (issue 11): every environment is deployed, rolled back and given its evidence
# through its own Pulumi stack, by the gate's CLI run from the delivery-gate checkout. The stack's
# state is the source of truth: what runs there, and the evidence the next environment's stack
# checks before it deploys (GATE-DP-09).

# The environment secret holding the token of the environment stack's GitHub provider (the stack
# declares GitHub resources: its environments). Set on `<env>` and on `<env>-rollback`.
GATE_TOKEN_SECRET = "GATE_GITHUB_TOKEN"
GATE_DIR = ".delivery-gate"

_GATE_DEPLOY = (
    'python -m gate deploy --stack "$STACK" --image "$IMAGE" --repository "$REPOSITORY" --run-id "$RUN_ID"'
)
_GATE_WATCH = 'python -m gate watch --stack "$STACK" --image "$IMAGE"'
_GATE_RECORD_EVIDENCE = """\
set -euo pipefail
python -m gate record-evidence --stack "$STACK" --image "$IMAGE" \\
  --parity-root-hash "$PARITY_ROOT_HASH" --analysis "$ANALYSIS" \\
  --window-start "$WINDOW_START" --window-end "$WINDOW_END" \\
  --repository "$REPOSITORY" --run-id "$RUN_ID"
"""
_GATE_ROLLBACK = """\
set -euo pipefail
reason="deploy of $IMAGE: parity $PARITY, validation $VALIDATION, evidence $EVIDENCE"
if ! python -m gate rollback --stack "$STACK" --reason "$reason" --repository "$REPOSITORY" \\
  --run-id "$RUN_ID"; then
  echo "::error::the rollback of $ENVIRONMENT failed (the gate says why above): it may still run $IMAGE"
  exit 1
fi
"""


def gate_steps(policy: GatePolicy, repo: Repository) -> list[Step]:
    """What a job needs to run the gate's CLI against an environment's stack: the delivery-gate
    checkout, Python, its requirements, the Pulumi CLI (the Automation API drives it) and, with
    `aws`, the environment's deploy role (the cluster, and an S3 state backend)."""
    s = policy.workflows
    return [
        gate_checkout(s, repo.owner or ""),
        setup_python(s),
        install_gate(),
        {"name": "Install Pulumi CLI", **uses(actions.PULUMI)},
        *aws_login(policy),
    ]


def gate_command(name: str, script: str, **env: str) -> Step:
    """A `python -m gate ...` step on the environment's stack: its backend and the stack's GitHub
    token come from the job's GitHub environment's secrets."""
    secrets = {
        "PULUMI_BACKEND_URL": "${{ secrets.PULUMI_BACKEND_URL }}",
        "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        "GITHUB_TOKEN": f"${{{{ secrets.{GATE_TOKEN_SECRET} }}}}",
    }
    return {**run(name, script, **env, **secrets), "working-directory": GATE_DIR}


def validation_minutes(policy: GatePolicy) -> int:
    """A job timeout for `gate watch`: every canary pause, the validation window and the usual
    margin, within GitHub's six hours."""
    pauses = duration_seconds(policy.rollout.bake_time) * (len(policy.rollout.stages) - 1)
    window = duration_seconds(policy.thresholds.post_deploy_validation_window)
    return min(360, math.ceil((pauses + window) / 60) + policy.workflows.timeout_minutes)


def build_job(policy: GatePolicy, repo: Repository) -> Job:
    """One image per commit: built and pushed once, scanned as shipped, deployed everywhere by digest."""
    s = policy.workflows
    scan = {"severity": "CRITICAL", "exit-code": "1", "format": "table"}
    steps: list[Step] = [
        checkout(),
        *build_and_push(policy, repo, "${{ github.sha }}", release=True),
        {
            # M9: no open critical issue in what is deployed; the pushed image itself is scanned.
            "name": "Fail on CRITICAL findings in the pushed image",
            **uses(actions.TRIVY, **{"image-ref": "${{ steps.image.outputs.ref }}", **scan}),
        },
    ]
    return job(
        "build image",
        s,
        steps,
        permissions=(
            {"contents": "read", "id-token": "write"}
            if uses_ecr(policy)
            else {"contents": "read", "packages": "write"}
        ),
        outputs={"image": "${{ steps.image.outputs.ref }}"},
    )


def environment_chain(
    policy: GatePolicy,
    repo: Repository,
    env: Environment,
    *,
    source: str,
    after: str | None,
    only_if: str | None = None,
    deploy_script: str = _GATE_DEPLOY,
    deploy_env: Mapping[str, str] | None = None,
    deploy_grants: Mapping[str, str] | None = None,
) -> tuple[dict[str, Job], dict[str, str]]:
    """One environment's deploy (in the environment: its reviewers approve here, once), parity,
    validate, evidence, and an automatic rollback in the reviewer-free `<env>-rollback`.

    `source` is the job whose `image` output is deployed (deploy.yml's build, emergency-deploy.yml's
    validated inputs), `after` the job the deploy waits for besides it, `only_if` a condition on the
    deploy job (the emergency's target), `deploy_script`/`deploy_env` the `gate deploy` call."""
    s = policy.workflows
    ids = {kind: f"{kind}-{env.name}" for kind in ("deploy", "parity", "validate", "evidence")}
    stack = {"STACK": env.stack}
    run_facts = {"REPOSITORY": "${{ github.repository }}", "RUN_ID": "${{ github.run_id }}"}
    deployed = f"${{{{ needs.{ids['deploy']}.outputs.image }}}}"
    automatic = {"name": env.rollback.name}  # reviewer-free: nothing after the approval waits
    deploy_step = gate_command(
        "Deploy through the environment's stack",
        deploy_script,
        **stack,
        IMAGE=f"${{{{ needs.{source}.outputs.image }}}}",
        **run_facts,
        **(deploy_env or {}),
        # GATE-DP-17 (and an emergency's security scan): `gate deploy` reads through the API.
        GH_TOKEN="${{ github.token }}",
    )
    jobs: dict[str, Job] = {}
    jobs[ids["deploy"]] = {
        # DP: no environment is skipped — each deploy waits for the previous one's evidence.
        "needs": [source, *([after] if after else [])],
        **({"if": f"${{{{ {only_if} }}}}"} if only_if else {}),
        **job(
            f"deploy {env.name}",
            s,
            [*gate_steps(policy, repo), {"id": "deploy", **deploy_step}],
            environment={"name": env.name},
            permissions=deploy_permissions(policy, **(deploy_grants or {"issues": "read"})),
            outputs={
                "image": "${{ steps.deploy.outputs.image }}",
                "previous_image": "${{ steps.deploy.outputs.previous_image }}",
                # Whether anything may have changed in the environment: the deploy step ran.
                "deploy_started": (
                    "${{ steps.deploy.outcome == 'success' || steps.deploy.outcome == 'failure' }}"
                ),
            },
        ),
    }
    jobs[ids["parity"]] = {
        "name": f"parity {env.name}",
        "needs": [ids["deploy"]],
        # The called workflow's job declares packages: write (and id-token: write) for pull
        # requests (gate/github/workflows.py e2e_permissions); a call may not grant less than its jobs
        # ask for. Nothing is pushed and no role is assumed in this call.
        "permissions": e2e_permissions(policy),
        # M9 §Post-merge 1: e2e-parity-check with run_k6=false after every deploy.
        # `./` is the documented form for a reusable workflow of the same repository; the
        # harness, actionlint 1.6 and GitHub Enterprise Server read it.
        "uses": Commented(f"./{WORKFLOW_DIR}/{E2E_WORKFLOW}", "zizmor: ignore[self-repository]"),
        "with": {"run_k6": False, "target_environment": env.name},
    }
    watch = gate_command("Watch the rollout and the validation window", _GATE_WATCH, **stack, IMAGE=deployed)
    jobs[ids["validate"]] = {
        "needs": [ids["deploy"], ids["parity"]],
        **job(
            f"validate {env.name}",
            s,
            [*gate_steps(policy, repo), {"id": "watch", **watch}],
            **{"timeout-minutes": validation_minutes(policy)},
            environment=automatic,
            permissions=deploy_permissions(policy),
            outputs={
                name: f"${{{{ steps.watch.outputs.{name} }}}}"
                for name in ("analysis", "window_start", "window_end")
            },
        ),
    }
    validated = f"needs.{ids['validate']}.outputs"
    record = gate_command(
        "Record the evidence in the environment's stack",
        _GATE_RECORD_EVIDENCE,
        **stack,
        IMAGE=deployed,
        PARITY_ROOT_HASH=f"${{{{ needs.{ids['parity']}.outputs.{PARITY_ROOT_HASH_OUTPUT} }}}}",
        ANALYSIS=f"${{{{ {validated}.analysis }}}}",
        WINDOW_START=f"${{{{ {validated}.window_start }}}}",
        WINDOW_END=f"${{{{ {validated}.window_end }}}}",
        **run_facts,
        # The gate verifies this run through the API before it records it as evidence.
        GH_TOKEN="${{ github.token }}",
    )
    jobs[ids["evidence"]] = {
        "needs": [ids["deploy"], ids["parity"], ids["validate"]],
        **job(
            f"evidence {env.name}",
            s,
            [*gate_steps(policy, repo), record],
            environment=automatic,
            permissions=deploy_permissions(policy, actions="read"),
        ),
    }
    jobs[f"rollback-{env.name}"] = rollback_job(policy, repo, env, ids, source=source)
    return jobs, ids


def deploy_workflow(policy: GatePolicy, repo: Repository) -> dict[str, Any]:
    """Per environment of the chain: deploy, parity, validate, evidence and rollback
    (environment_chain), each environment after the previous one's evidence."""
    jobs: dict[str, Job] = {"build": build_job(policy, repo)}
    previous: str | None = None
    for env in policy.environments:
        chain, _ = environment_chain(
            policy, repo, env, source="build", after=f"evidence-{previous}" if previous else None
        )
        jobs.update(chain)
        previous = env.name
    on = {
        "push": {"branches": [repo.default_branch, repo.release_branch_pattern]},
        "workflow_dispatch": {},
    }
    # One deploy per branch at a time, never cancelled half-way.
    concurrency = DEPLOY_CONCURRENCY
    # Issue 12, part deploy: the `release` job before production, the change log after it.
    jobs = release_deploy.attach(policy, repo, jobs)
    # Issue 12, part evaluate (GATE-DP-18): the Evaluation Criteria before the production deploy.
    jobs = evaluation_jobs.attach(policy, repo, jobs)
    return workflow("deploy", on, jobs, concurrency=concurrency)


_ROLLBACK_ISSUE = """\
const { ENVIRONMENT, SHA, IMAGE, ROLLED_BACK_TO, ROLLBACK, RUN_URL } = process.env;
const { PARITY, VALIDATION, EVIDENCE } = process.env;
const failed = [['parity', PARITY], ['validation', VALIDATION], ['evidence', EVIDENCE]]
  .filter(([, result]) => result !== 'success')
  .map(([stage, result]) => `${stage} ${result || 'not run'}`)
  .join(', ');
const rolledBack = ROLLBACK === 'success'
  ? `Rolled back to \\`${ROLLED_BACK_TO}\\`, the last validated image.`
  : `The ROLLBACK FAILED (${ROLLBACK || 'not run'}): ${ENVIRONMENT} may still run \\`${IMAGE}\\`.`;
await github.rest.issues.create({
  owner: context.repo.owner,
  repo: context.repo.repo,
  title: `Deploy of ${SHA.slice(0, 12)} to ${ENVIRONMENT} failed (${failed})`,
  body: `After deploying \\`${IMAGE}\\` (${RUN_URL}): ${failed}.\\n` +
    `${rolledBack} Open an operator incident.`,
  labels: PARITY === 'success' ? OTHER_LABELS : PARITY_LABELS,
});
"""


def notify_oncall(policy: GatePolicy, condition: str, message: str, facts: Mapping[str, str]) -> list[Step]:
    """Slack steps to #oncall and #platform when `condition` holds (a rollback's, or a rollback
    drill's failed restore: gate/promotion/drill.py)."""
    n = policy.notifications
    return [
        when(
            condition,
            {
                "name": f"Notify {channel}",
                **uses(
                    actions.SLACK,
                    method="chat.postMessage",
                    token="${{ secrets.SLACK_BOT_TOKEN }}",
                    # The action's default (errors: false) would let a failed notification pass silently.
                    errors=True,
                    payload=f'channel: "{channel}"\ntext: "{message}"\n',
                ),
                "env": dict(facts),
            },
        )
        for channel in (n.oncall, n.platform)
    ]


# deploy.yml's group: one deploy of a branch at a time; the rollback drill (gate/promotion/drill.py) shares
# it.
DEPLOY_CONCURRENCY = {"group": "deploy-${{ github.ref }}", "cancel-in-progress": False}


def rollback_job(
    policy: GatePolicy, repo: Repository, env: Environment, ids: Mapping[str, str], *, source: str = "build"
) -> Job:
    """M9 §Post-merge 2 and DP §Rollback Criteria: when anything after a started deploy is not a
    success, the environment's stack goes back to its last validated image, in `<env>-rollback`,
    which has no reviewers and no wait timer: a rollback never waits for a human."""
    s = policy.workflows
    labels = ["parity-mismatch", "high-priority"]
    issue_script = _ROLLBACK_ISSUE.replace("OTHER_LABELS", repr(labels[1:])).replace(
        "PARITY_LABELS", repr(labels)
    )
    results = {
        "PARITY": f"${{{{ needs.{ids['parity']}.result }}}}",
        "VALIDATION": f"${{{{ needs.{ids['validate']}.result }}}}",
        "EVIDENCE": f"${{{{ needs.{ids['evidence']}.result }}}}",
    }
    message = (
        "Deploy of ${{ env.IMAGE }} to ${{ env.ENVIRONMENT }} failed (parity ${{ env.PARITY }}, "
        "validation ${{ env.VALIDATION }}, evidence ${{ env.EVIDENCE }}): rollback to "
        "${{ env.ROLLED_BACK_TO }} ${{ env.ROLLBACK }}. ${{ env.RUN_URL }}"
    )
    facts = {
        "ENVIRONMENT": env.name,
        "SHA": "${{ github.sha }}",
        "IMAGE": f"${{{{ needs.{source}.outputs.image }}}}",
        "ROLLED_BACK_TO": "${{ steps.rollback.outputs.image }}",
        "ROLLBACK": "${{ steps.rollback.outcome }}",
        **results,
        "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
    }
    # Also, and above all, when the rollback failed.
    notify = notify_oncall(policy, "${{ always() }}", message, facts)
    rollback = gate_command(
        "Roll back to the last validated image",
        _GATE_ROLLBACK,
        STACK=env.stack,
        ENVIRONMENT=env.name,
        IMAGE=facts["IMAGE"],
        **results,
        REPOSITORY="${{ github.repository }}",
        RUN_ID="${{ github.run_id }}",
    )
    steps: list[Step] = [
        *gate_steps(policy, repo),
        {"id": "rollback", **rollback},
        when(
            "${{ always() }}",
            {
                "name": "Open a high-priority issue",
                **uses(actions.GITHUB_SCRIPT, script=issue_script),
                "env": facts,
            },
        ),
        *notify,
    ]
    deploy, parity, validate, evidence = (ids[k] for k in ("deploy", "parity", "validate", "evidence"))
    not_all_passed = " || ".join(f"needs.{i}.result != 'success'" for i in (parity, validate, evidence))
    return {
        "name": f"rollback {env.name}",
        "needs": [source, deploy, parity, validate, evidence],
        # Something was deployed and parity, validation or evidence is anything but a success
        # (failed, cancelled, or never ran because an earlier job failed): rollback policies apply
        # (M9 §Merge conditions, DP §Rollback Criteria).
        "if": f"${{{{ always() && needs.{deploy}.outputs.deploy_started == 'true' && ({not_all_passed}) }}}}",
        **job(
            f"rollback {env.name}",
            s,
            steps,
            # DP: rollback is automatic — the reviewer-free environment of the same stack.
            environment={"name": env.rollback.name},
            permissions=deploy_permissions(policy, issues="write"),
        ),
    }


# -- assembling ---------------------------------------------------------------------------------

JobBuilder = Callable[[Check, GatePolicy, Repository], Job]

# The jobs the gate knows how to run, by catalogue check name. A catalogue check without one here
# must be reported by something else and declared in repositories[].externalChecks.
BUILTIN_JOBS: Mapping[str, JobBuilder] = {
    "unit-tests-python": lambda c, p, r: unit_tests_python(c, p.workflows),
    "static-checks-python": lambda c, p, r: static_checks_python(c, p.workflows),
    "unit-tests-javascript": lambda c, p, r: unit_tests_javascript(c, p.workflows),
    "static-checks-javascript": lambda c, p, r: static_checks_javascript(c, p.workflows),
    "determinism-cross-language-parity": lambda c, p, r: cross_language_parity(c, p.workflows),
    "determinism-canonical-json": lambda c, p, r: canonical_json(c, p.workflows),
    "determinism-root-hash": lambda c, p, r: root_hash(c, p.workflows),
    "e2e-parity": e2e_parity,
    "security-scan": lambda c, p, r: security_scan(c, p.workflows, r),
    "infra-plan": lambda c, p, r: infra_plan(c, p.workflows, r),
    "schema-change": schema_change_job,
    # Issue 12 (notes): DP §Pre-Deployment release contract, §Release Notes (gate/github/release_notes.py,
    # which builds on this module: the lambdas look its jobs up at call time).
    "release-contract": lambda c, p, r: release_notes.contract_job(c, p, r),  # noqa: PLW0108
    "release-notes": lambda c, p, r: release_notes.notes_job(c, p, r),  # noqa: PLW0108
}

# Issue 14 item 4: the jobs that name the repository, taking its name from the run's context
# instead, for organisation mode's required workflows, which repositories with the same settings
# share (gate/github/centralfiles.py).
CONTEXT_NAMED_JOBS: Mapping[str, JobBuilder] = {
    "e2e-parity": lambda c, p, r: e2e_parity(c, p, r, names_from_context=True),
    "security-scan": lambda c, p, r: security_scan(c, p.workflows, r, names_from_context=True),
}

_WORKFLOW_NAMES = {
    "ci.yml": "ci",
    "determinism-check.yml": "determinism-check",
    "e2e-parity-check.yml": "e2e-parity-check",
    "security-scan.yml": "security-scan",
    "infra-preview.yml": "infra-preview",
}

E2E_WORKFLOW = "e2e-parity-check.yml"


def workflow_documents(
    policy: GatePolicy, repo: Repository, *, names_from_context: bool = False
) -> dict[str, dict[str, Any]]:
    """File name -> workflow document, for the repository's languages and its own requiredChecks
    (gate/policy/repopolicy.py), in catalogue order: a copy of the shared documents, the caller's
    to change. `names_from_context`: the jobs of CONTEXT_NAMED_JOBS read the repository's name from
    the run (organisation mode's shared required workflows); the repository modes render it in, as
    they always have."""
    return copied_documents(shared_workflow_documents(policy, repo, names_from_context=names_from_context))


def copied_documents(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A deep copy of shared (read-only) documents, for a caller that may change them."""
    return {file: copy.deepcopy(dict(document)) for file, document in documents.items()}


def shared_workflow_documents(
    policy: GatePolicy, repo: Repository, *, names_from_context: bool = False
) -> Mapping[str, Mapping[str, Any]]:
    """The documents of `workflow_documents`, built once per policy object, repository settings and
    naming (issue 14 item 3) and shared by every consumer: read-only, never to be changed in place."""
    # Keyed by the repository's value: equal settings render equal documents.
    return once(
        policy,
        ("workflow_documents", repo, names_from_context),
        lambda: _build_documents(policy, repo, names_from_context),
    )


def _build_documents(
    policy: GatePolicy, repo: Repository, names_from_context: bool
) -> dict[str, dict[str, Any]]:
    builders = {**BUILTIN_JOBS, **CONTEXT_NAMED_JOBS} if names_from_context else BUILTIN_JOBS
    jobs_by_file: dict[str, dict[str, Job]] = {}
    for check in repopolicy.workflow_checks(policy, repo):
        builder = builders.get(check.name)
        if builder is None or check.workflow is None:
            continue
        jobs_by_file.setdefault(check.workflow, {})[check.name] = builder(check, policy, repo)
    # M9 §Post-merge 1: every deploy runs e2e-parity-check.yml (deploy.yml and the drill call it),
    # so a repository that does not require e2e-parity on its pull requests (issue 13, part repos:
    # a single-language repository) still gets it, called after deploys only.
    post_merge_only = E2E_WORKFLOW not in jobs_by_file
    # Issue 13: only the repository that deploys the application gets the deploy side; the others
    # are gated for merging (application.repository).
    deploys = policy.deploys(repo)
    if post_merge_only and deploys:
        e2e = next((c for c in policy.checks if c.name == "e2e-parity" and c.workflow == E2E_WORKFLOW), None)
        if e2e is not None:
            jobs_by_file[E2E_WORKFLOW] = {e2e.name: builders[e2e.name](e2e, policy, repo)}
    documents: dict[str, dict[str, Any]] = {}
    for file, jobs in jobs_by_file.items():
        if file == E2E_WORKFLOW:
            on: dict[str, Any] = e2e_triggers(repo, pull_requests=not post_merge_only)
            concurrency: dict[str, Any] = E2E_CONCURRENCY
        elif file == schema_change.WORKFLOW_FILE:
            on, concurrency = schema_change.triggers(pr_triggers(repo)), PR_CONCURRENCY
        elif file == release_contract.WORKFLOW_FILE:
            on, concurrency = release_contract.triggers(pr_triggers(repo)), PR_CONCURRENCY
        elif file == release_notes.WORKFLOW_FILE:
            on, concurrency = release_notes.triggers(pr_triggers(repo)), PR_CONCURRENCY
        else:
            on, concurrency = pr_triggers(repo), PR_CONCURRENCY
        documents[file] = workflow(
            _WORKFLOW_NAMES.get(file, file.removesuffix(".yml")), on, jobs, concurrency=concurrency
        )
    if E2E_WORKFLOW in documents:
        # Its pull-request runs make per-PR environments, which the janitor reaps.
        documents[JANITOR_WORKFLOW] = janitor_workflow(policy, repo)
    documents[release_notes.PUBLISH_WORKFLOW] = release_notes.publish_workflow(policy, repo)
    if deploys:
        documents["deploy.yml"] = deploy_workflow(policy, repo)
        documents.update(automation.documents(policy, repo))  # runtime alerts act (gate/github/automation.py)
        # Issue 12, part emergency: DP §Emergency / Hotfix Deployments (gate/promotion/emergency.py).
        documents[emergency.WORKFLOW_FILE] = emergency.workflow_document(policy, repo)
        # Issue 12, part "drill": the scheduled rollback drill, GATE-DP-16's evidence
        # (gate/promotion/drill.py).
        documents[drill.WORKFLOW_FILE] = drill.drill_workflow(policy, repo)
    return dict(sorted(documents.items()))


_HEADER = (
    "# Managed by delivery-gate (Pulumi), rendered from the delivery policy: edits here are\n"
    "# overwritten on the next `pulumi up`. Change the policy in the delivery-gate stacks instead.\n"
)


def render_documents(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Repository path -> file content of workflow documents keyed by file name."""
    return {f"{WORKFLOW_DIR}/{file}": _HEADER + dump(document) for file, document in documents.items()}


def render_workflows(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    """Repository path -> file content of every gate workflow (the repository modes' set).

    Rendered once per policy object and repository settings (issue 14 item 3): the liveness rule
    parses, and the RepositoryGate commits, the very same text objects. A new dict each call (the
    texts themselves are immutable), so a caller may add to it."""
    rendered = once(policy, ("render_workflows", repo), lambda: _render_workflows(policy, repo))
    return dict(rendered)


def _render_workflows(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    # Issue 14: repositories that differ only by name share one rendering (gate/github/rendertemplates.py).
    by_name = rendertemplates.render_by_name(
        policy,
        repo,
        "workflows",
        lambda stand_in: _build_documents(policy, stand_in, False),
        render_documents,
    )
    if by_name is not None:
        return by_name
    return render_documents(shared_workflow_documents(policy, repo))


def k6_mapper_source() -> str:
    """tools/k6_slo_mapper.py, committed into each gated repository for the e2e workflow."""
    return tool_source(K6_MAPPER_PATH)
