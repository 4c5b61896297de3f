"""The AWS side of the gate, rendered from the policy: pure, no Pulumi resources.

What one environment stack declares on AWS (gate/components/aws.py turns these into resources):
- the registry the images are built into once and promoted from by digest (ECR, one stack owns it),
  and the build role that alone may push into it: trusted only by the gate's deploy workflow on the
  default branch, outside any environment (its `build` job);
- the GitHub OIDC deploy role of the environment: trusted only by the gate's deploy workflow's jobs
  that run in the GitHub environment of the same name, with least-privilege permissions (no push);
- SNS topics for the three notification channels (M9 §Post-merge 2, §Thresholds), Chatbot to Slack;
- CloudWatch alarms for the rollback criteria (DP §Rollback Criteria) on the service's ALB;
- AppConfig feature flags (DP §Pre-Deployment) deployed progressively with those alarms as monitors;
- optionally Amazon Managed Prometheus with the same rules and routing as the cluster
(gate/runtime/alerts.py);
- in the separate bootstrap project, the S3 state backend and the KMS key for Pulumi secrets.

Every ARN that AWS derives from a name is computed here (`arn:<partition>:<service>:<region>:<account>:
...`), so trust policies, alarm actions and outputs are known, reviewable strings in a preview and
in the offline plan. Documents are plain dicts; `policy_json` is their one JSON form.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, ValidationError

from gate.errors import PolicyError
from gate.github import yamltext
from gate.github.centralfiles import central_file
from gate.policy.model import AwsSettings, GatePolicy, ImageRetention, Repository
from gate.policy.prnames import kubernetes_group, namespace_pattern, repository_slug
from gate.policy.types import (
    AwsAccountId,
    AwsRegion,
    GateModel,
    MergeGateMode,
    duration_seconds,
    matching,
    number,
)
from gate.policy.validation import aliases, unknown_keys
from gate.policy.validation import problems as validation_problems
from gate.runtime import alerts, relay

Document = dict[str, Any]

IAM_VERSION = "2012-10-17"
MANAGED_BY = "delivery-gate"
NAME_PREFIX = "delivery-gate"

# GitHub Actions OIDC: the issuer, and the audience aws-actions/configure-aws-credentials requests.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"

CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
PROMETHEUS_SERVICE = "aps.amazonaws.com"
CHATBOT_SERVICE = "chatbot.amazonaws.com"
APPCONFIG_SERVICE = "appconfig.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
SNS_SERVICE = "sns.amazonaws.com"

# The notification channels (policy.notifications), named like the Alertmanager receivers.
CHANNELS = (alerts.ONCALL, alerts.PLATFORM, alerts.SRE)

ALB_NAMESPACE = "AWS/ApplicationELB"
ALARM_PERIOD_SECONDS = 60
# Missing data never breaches: no traffic, a scaled-to-zero target group or a metric gap must not
# roll a healthy release back (DP §Rollback Criteria lists what does).
NOT_BREACHING = "notBreaching"

FEATURE_FLAGS_PROFILE_TYPE = "AWS.AppConfig.FeatureFlags"
FEATURE_FLAGS_PROFILE_NAME = "feature-flags"
HOSTED_LOCATION = "hosted"
APPCONFIG_MAX_MINUTES = 1440  # the API's limit for deployment duration and final bake time

KEY_DELETION_WINDOW_DAYS = 30  # the longest AWS allows: a scheduled deletion can still be cancelled
DEPLOY_SESSION_SECONDS = 3600  # a deploy job's credentials live one hour, no more

# The gate's deploy workflow (gate/github/workflows.py renders and commits it): the only workflow whose jobs
# get AWS credentials. Spelled here rather than imported: gate.workflows must not need gate.aws.
DEPLOY_WORKFLOW_PATH = ".github/workflows/deploy.yml"
# The alert relay's workflow (gate/github/automation.py), whose rollback job also takes the deploy role, in
# the reviewer-free GitHub environment <environment>-rollback.
AUTOMATION_WORKFLOW_PATH = ".github/workflows/mismatch-automation.yml"
ROLLBACK_ENVIRONMENT_SUFFIX = "-rollback"

# The workflows whose jobs reach a pull request's disposable environment (gate/github/workflows.py): the
# e2e check on pull requests and in the merge queue, and the scheduled janitor on the default branch.
E2E_WORKFLOW_PATH = ".github/workflows/e2e-parity-check.yml"
JANITOR_WORKFLOW_PATH = ".github/workflows/ephemeral-janitor.yml"
# Repository variables the stack hosting the pull requests sets for them (e2e_variables).
E2E_ROLE_VARIABLE = "AWS_E2E_ROLE_ARN"
E2E_REGION_VARIABLE = "AWS_E2E_REGION"
E2E_CLUSTER_VARIABLE = "AWS_E2E_EKS_CLUSTER"
# EKS's managed access policy most like Kubernetes' `admin` role, granted only inside the
# repository's PR namespaces (an access scope of type namespace, with a `<slug>-pr-*` wildcard).
E2E_ACCESS_POLICY = "AmazonEKSAdminPolicy"

# GitHub Actions variables for the build job, set at repository level by the registry stack (the
# build job runs in no environment, so it reads no environment's variables).
BUILD_ROLE_VARIABLE = "AWS_BUILD_ROLE_ARN"
BUILD_REGION_VARIABLE = "AWS_BUILD_REGION"
REGISTRY_VARIABLE = "IMAGE_REGISTRY"


# ---------------------------------------------------------------------------------------------
# Names and ARNs


def aws_settings(policy: GatePolicy) -> AwsSettings:
    if policy.aws is None:
        raise ValueError(f"stack {policy.stack} sets no delivery-gate:aws; nothing to declare on AWS")
    return policy.aws


def partition(region: str) -> str:
    """The ARN partition of a region: aws, aws-cn, aws-us-gov, aws-iso or aws-iso-b."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if "-isob-" in region:
        return "aws-iso-b"
    if "-iso-" in region:
        return "aws-iso"
    return "aws"


def dns_suffix(region: str) -> str:
    return {"aws-cn": "amazonaws.com.cn", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov"}.get(
        partition(region), "amazonaws.com"
    )


def arn(settings: AwsSettings, service: str, resource: str, *, regional: bool = True) -> str:
    region = settings.region if regional else ""
    return f"arn:{partition(settings.region)}:{service}:{region}:{settings.account_id}:{resource}"


def account_root_arn(account_id: str, region: str) -> str:
    return f"arn:{partition(region)}:iam::{account_id}:root"


def aws_managed_policy_arn(settings: AwsSettings, name: str) -> str:
    return f"arn:{partition(settings.region)}:iam::aws:policy/{name}"


def resource_name(policy: GatePolicy, role: str) -> str:
    """A physical name: delivery-gate-<environment>-<role>."""
    return f"{NAME_PREFIX}-{policy.environment}-{role}"


def key_alias(policy: GatePolicy) -> str:
    return f"alias/{NAME_PREFIX}-{policy.environment}"


def tags(policy: GatePolicy) -> dict[str, str]:
    """The provider's default tags: every resource says which environment it serves and who owns it."""
    return {"environment": policy.environment, "managed-by": MANAGED_BY}


def oidc_provider_arn(policy: GatePolicy) -> str:
    """The account's GitHub OIDC provider: the configured one, else the one this stack declares."""
    settings = aws_settings(policy)
    if settings.oidc_provider_arn is not None:
        return settings.oidc_provider_arn
    return arn(settings, "iam", f"oidc-provider/{GITHUB_OIDC_HOST}", regional=False)


def role_arn(settings: AwsSettings, role_name: str) -> str:
    return arn(settings, "iam", f"role/{role_name}", regional=False)


def deploy_role_name(policy: GatePolicy) -> str:
    return f"{NAME_PREFIX}-deploy-{policy.environment}"


def deploy_role_arn(policy: GatePolicy) -> str:
    return role_arn(aws_settings(policy), deploy_role_name(policy))


def build_role_name(policy: GatePolicy) -> str:
    """One build role, like one registry: declared by the registry stack (policy.owns_registry)."""
    return f"{NAME_PREFIX}-build"


def build_role_arn(policy: GatePolicy) -> str:
    """`vars.AWS_BUILD_ROLE_ARN`: the role deploy.yml's build job assumes to push the image."""
    return role_arn(aws_settings(policy), build_role_name(policy))


def topic_name(policy: GatePolicy, channel: str) -> str:
    return resource_name(policy, channel)


def topic_arn(policy: GatePolicy, channel: str) -> str:
    return arn(aws_settings(policy), "sns", topic_name(policy, channel))


def alarm_arn(policy: GatePolicy, alarm_name: str) -> str:
    return arn(aws_settings(policy), "cloudwatch", f"alarm:{alarm_name}")


# ---------------------------------------------------------------------------------------------
# Registry (ECR)

_ECR_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")


def image_repositories(policy: GatePolicy) -> tuple[str, ...]:
    """One ECR repository per service: aws.services, else the deploying repository's image name."""
    settings = aws_settings(policy)
    if settings.services is not None:
        return tuple(sorted(set(settings.services)))
    names = {(policy.workflows.image_name or repo.name).lower() for repo in policy.deploying_repositories}
    for name in sorted(names):
        if _ECR_NAME.fullmatch(name) is None:
            raise ValueError(
                f"stack {policy.stack}: the image name {name!r} is not a valid ECR repository name "
                "(lower-case letters and digits separated by '.', '_', '-' or '/'); "
                "set delivery-gate:aws.services"
            )
    return tuple(sorted(names))


def repository_arn(settings: AwsSettings, name: str) -> str:
    return arn(settings, "ecr", f"repository/{name}")


def registry_host(settings: AwsSettings) -> str:
    return f"{settings.account_id}.dkr.ecr.{settings.region}.{dns_suffix(settings.region)}"


def registry_url(policy: GatePolicy) -> str:
    """`vars.IMAGE_REGISTRY`: the registry host; an image is `<registry>/<repository>`."""
    return registry_host(aws_settings(policy))


def repository_url(settings: AwsSettings, name: str) -> str:
    return f"{registry_host(settings)}/{name}"


def ecr_lifecycle_policy(retention: ImageRetention) -> Document:
    """Expire untagged images after `untaggedDays`; keep the newest `keepLast` tagged images.

    ECR reserves an image for the first rule (lowest rulePriority) whose tag selection matches it:
    untagged images belong to rule 1 and can only expire by age. Rule 2 selects tagged images only
    (`tagPatternList: ["*"]`), so the count is of tagged images: a rule with `tagStatus: "any"`
    would also count the untagged ones and keep fewer rollback targets (and ECR would require it
    to be the rule with the highest rulePriority).
    """
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Untagged images expire after {retention.untagged_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": retention.untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                # DP principle "Reversible": the newest tagged images are the rollback targets.
                "description": f"Keep the newest {retention.keep_last} tagged images (rollback targets)",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": retention.keep_last,
                },
                "action": {"type": "expire"},
            },
        ]
    }


# ---------------------------------------------------------------------------------------------
# IAM: the build role, the deploy roles and the service roles
#
# Who gets AWS credentials is decided by two claims of the job's GitHub OIDC token, both checked by
# STS in the trust policy (AWS STS evaluates GitHub's `job_workflow_ref` as a condition key since
# 2026-02; where it does not, the key is absent and the condition fails: no role, never a wider one):
# - `sub`, always StringEquals: `repo:<owner>/<repo>:environment:<env>` for a job in a GitHub
#   environment (the deploy; `<env>-rollback` for validation, evidence and the rollback, which wait
#   for no reviewer), `repo:<owner>/<repo>:ref:refs/heads/<default>` for a job in none
#   (the build). It says which repository and environment, not which workflow: any workflow file a
#   writer pushes on a branch the environment admits would get the same subject.
# - `job_workflow_ref`: `<owner>/<repo>/.github/workflows/deploy.yml@refs/heads/<branch>`, the file
#   and the ref the job's workflow was read from. Pinned to the default branch, whose content only
#   merges through the gate's reviews and checks: another workflow file, or deploy.yml edited on
#   any other branch, gets nothing.
# deploy.yml has no `workflow_call` trigger, so no other repository's job can run it: the
# `job_workflow_ref` of a job always names its own repository, and the lists below never pair one
# repository's subject with another's workflow.


def _no_pattern(value: str, what: str, policy: GatePolicy) -> str:
    if any(c in value for c in "*?[]"):
        raise ValueError(
            f"stack {policy.stack}: {what} {value!r} is a pattern; the AWS roles trust exact branches only"
        )
    return value


def deploy_workflow_ref(repo: Repository, branch: str) -> str:
    """The `job_workflow_ref` of a job of the gate's deploy workflow run from `branch`."""
    return f"{repo.full_name}/{DEPLOY_WORKFLOW_PATH}@refs/heads/{branch}"


def deploy_workflow_refs(policy: GatePolicy) -> list[str]:
    """The gate's deploy workflow on each gated repository's default branch: exact refs."""
    return sorted(
        {
            deploy_workflow_ref(repo, _no_pattern(repo.default_branch, "the default branch", policy))
            for repo in policy.deploying_repositories
        }
    )


# Issue 12, part emergency: emergency-deploy.yml (gate/promotion/emergency.py) deploys through the same
# stacks, from the default branch only: the deploy roles trust it there (never the build role).
EMERGENCY_WORKFLOW_PATH = ".github/workflows/emergency-deploy.yml"


def emergency_workflow_refs(policy: GatePolicy) -> list[str]:
    """The gate's emergency deploy workflow on each gated repository's default branch: exact refs;
    none for the first environment of the chain, which has no validation to skip (the emergency
    path refuses it), so its role need not trust the workflow."""
    if policy.upstream_environment is None:
        return []
    return sorted(
        {
            f"{repo.full_name}/{EMERGENCY_WORKFLOW_PATH}@refs/heads/"
            + _no_pattern(repo.default_branch, "the default branch", policy)
            for repo in policy.deploying_repositories
        }
    )


def release_workflow_refs(policy: GatePolicy) -> list[str]:
    """The gate's deploy workflow on the release branches: IAM patterns (StringLike), used only with
    aws.deployFromReleaseBranches. IAM's `*` also matches `/`, so `release/*` here admits
    `release/a/b`, which GitHub's `release/*` does not protect (docs/aws.md)."""
    refs = set()
    for repo in policy.deploying_repositories:
        if any(c in repo.release_branch_pattern for c in "[]"):
            raise ValueError(
                f"stack {policy.stack}: the release branch pattern {repo.release_branch_pattern!r} of "
                f"{repo.full_name} has a character class, which IAM patterns cannot express; "
                "use '*' and '?' only, or leave aws.deployFromReleaseBranches off"
            )
        refs.add(deploy_workflow_ref(repo, repo.release_branch_pattern))
    return sorted(refs)


def github_subjects(policy: GatePolicy) -> list[str]:
    """The exact OIDC `sub` of a gated repository's job that runs in this GitHub environment or in
    its reviewer-free `<env>-rollback` (where deploy.yml validates, records evidence and rolls back
    without waiting for a reviewer; DP: rollback is automatic).

    The deploy workflows run every job that touches an environment with `environment: <name>`, and
    GitHub then issues `repo:<owner>/<repo>:environment:<name>` (its default subject format).
    """
    environment = policy.environment_spec
    names = (environment.name, environment.rollback.name)
    return sorted(
        {
            f"repo:{repo.full_name}:environment:{name}"
            for repo in policy.deploying_repositories
            for name in names
        }
    )


def build_subjects(policy: GatePolicy) -> list[str]:
    """The exact OIDC `sub` of a job in no environment, run from a gated repository's default branch
    (a push or a dispatch there; a pull request's is `repo:<owner>/<repo>:pull_request`)."""
    return sorted(
        {
            f"repo:{repo.full_name}:ref:refs/heads/"
            + _no_pattern(repo.default_branch, "the default branch", policy)
            for repo in policy.deploying_repositories
        }
    )


def _statement(sid: str, actions: list[str], resources: list[str] | str, **extra: Any) -> Document:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _github_statement(
    sid: str, policy: GatePolicy, equals: dict[str, Any], like: dict[str, Any] | None = None
) -> Document:
    condition: Document = {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, **equals}}
    if like:
        condition["StringLike"] = like
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn(policy)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }


SUB_KEY = f"{GITHUB_OIDC_HOST}:sub"
WORKFLOW_REF_KEY = f"{GITHUB_OIDC_HOST}:job_workflow_ref"


def deploy_trust_policy(policy: GatePolicy) -> Document:
    """Only the gate's deploy workflow, run from a protected ref, in this environment, may assume
    the deploy role (DP §Environment Progression: a dev job cannot deploy to production, nor can a
    fork, another repository, another workflow file, or deploy.yml edited on a branch of one's own).

    Exact subjects and workflow refs with StringEquals. With aws.deployFromReleaseBranches, a second
    statement admits the release branches: still the exact subjects, and a StringLike on
    `job_workflow_ref` only, the one claim that carries the branch of an environment job.
    """
    subjects = github_subjects(policy)
    statements = [
        _github_statement(
            "GateDeployWorkflowOnTheDefaultBranch",
            policy,
            {
                SUB_KEY: subjects,
                WORKFLOW_REF_KEY: sorted([*deploy_workflow_refs(policy), *emergency_workflow_refs(policy)]),
            },
        )
    ]
    if aws_settings(policy).deploy_from_release_branches:
        statements.append(
            _github_statement(
                "GateDeployWorkflowOnReleaseBranches",
                policy,
                {SUB_KEY: subjects},
                like={WORKFLOW_REF_KEY: release_workflow_refs(policy)},
            )
        )
    if relay.enabled(policy):
        statements.append(alert_rollback_statement(policy))
    drill = rollback_drill_statement(policy)
    if drill is not None:
        statements.append(drill)
    return {"Version": IAM_VERSION, "Statement": statements}


def rollback_drill_statement(policy: GatePolicy) -> Document | None:
    """Issue 12, part drill (GATE-DP-16): rollback-drill.yml deploys the drilled environment's
    stack. Only that environment's role trusts it, on each gated repository's default branch, in
    the reviewer-free `<environment>-rollback` where its jobs run; every other role: nothing."""
    # gate.drill renders a workflow and reads stacks: imported here, where it is needed.
    from gate.promotion import drill  # noqa: PLC0415

    environment = drill.drilled_environment(policy)
    if environment.name != policy.environment:
        return None
    refs = sorted(
        f"{repo.full_name}/{drill.WORKFLOW_PATH}@refs/heads/"
        + _no_pattern(repo.default_branch, "the default branch", policy)
        for repo in policy.deploying_repositories
    )
    subjects = sorted(
        f"repo:{repo.full_name}:environment:{environment.rollback.name}"
        for repo in policy.deploying_repositories
    )
    return _github_statement(
        "GateRollbackDrillOnTheDefaultBranch", policy, {SUB_KEY: subjects, WORKFLOW_REF_KEY: refs}
    )


def alert_rollback_statement(policy: GatePolicy) -> Document:
    """The runtime rollback (gate/github/automation.py): only the relay repository's mismatch-automation.yml
    on its default branch, in the GitHub environment `<environment>-rollback`, may assume the role
    too. Exact values again: a job of any other workflow, branch or environment gets nothing."""
    repo = policy.relay_repository
    branch = _no_pattern(repo.default_branch, "the default branch", policy)
    return _github_statement(
        "GateAlertRollbackOnTheDefaultBranch",
        policy,
        {
            SUB_KEY: [f"repo:{repo.full_name}:environment:{policy.environment}{ROLLBACK_ENVIRONMENT_SUFFIX}"],
            WORKFLOW_REF_KEY: [f"{repo.full_name}/{AUTOMATION_WORKFLOW_PATH}@refs/heads/{branch}"],
        },
    )


def build_trust_policy(policy: GatePolicy) -> Document:
    """Only a job of the gate's deploy workflow on the default branch that runs in no environment
    (its `build` job) may push images: not a pull request (whose workflow files the author
    controls), not a release or feature branch, not a deploy job, not another workflow."""
    return {
        "Version": IAM_VERSION,
        "Statement": [
            _github_statement(
                "GateBuildJobOnTheDefaultBranch",
                policy,
                {SUB_KEY: build_subjects(policy), WORKFLOW_REF_KEY: deploy_workflow_refs(policy)},
            )
        ],
    }


ECR_LOGIN_ACTIONS = ["ecr:GetAuthorizationToken"]
ECR_PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImageScanFindings",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
]
# What changes a repository's content: the build role's alone.
ECR_WRITE_ACTIONS = [
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
# A push: which layers the registry lacks, then upload them and put the manifest.
ECR_PUSH_ACTIONS = sorted(["ecr:BatchCheckLayerAvailability", *ECR_WRITE_ACTIONS])
# The build job scans the image it pushed, by digest: Trivy reads it back from the registry.
ECR_READ_BACK_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def _repository_arns(policy: GatePolicy) -> list[str]:
    settings = aws_settings(policy)
    return [repository_arn(settings, name) for name in image_repositories(policy)]


def build_image_policy(policy: GatePolicy) -> Document:
    """Push into the service repositories, and read back what was pushed (the scan); nothing else."""
    repositories = _repository_arns(policy)
    return {
        "Version": IAM_VERSION,
        "Statement": [
            # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
            _statement("RegistryLogin", ECR_LOGIN_ACTIONS, "*"),
            _statement("PushImages", ECR_PUSH_ACTIONS, repositories),
            _statement("ScanPushedImages", ECR_READ_BACK_ACTIONS, repositories),
        ],
    }


def build_variables(policy: GatePolicy) -> tuple[tuple[str, str], ...]:
    """Repository-level GitHub Actions variables for deploy.yml's build job (name, value), declared
    by the registry stack only: the build role, its region and the registry."""
    if not policy.owns_registry:
        return ()
    return (
        (BUILD_ROLE_VARIABLE, build_role_arn(policy)),
        (BUILD_REGION_VARIABLE, aws_settings(policy).region),
        (REGISTRY_VARIABLE, registry_url(policy)),
    )


def deploy_image_policy(policy: GatePolicy) -> Document:
    """ECR (and EKS) rights of the deploy role: pull and inspect, never push. Images are built once,
    by the build role, and promoted by digest (DP §Environment Progression); every ARN is known
    before deployment."""
    settings = aws_settings(policy)
    statements = [
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
        _statement("RegistryLogin", ECR_LOGIN_ACTIONS, "*"),
        _statement("PullAndInspectImages", ECR_PULL_ACTIONS, _repository_arns(policy)),
    ]
    if settings.eks_cluster_name is not None:
        cluster = arn(settings, "eks", f"cluster/{settings.eks_cluster_name}")
        statements.append(_statement("KubeconfigForTheCluster", ["eks:DescribeCluster"], [cluster]))
    return {"Version": IAM_VERSION, "Statement": statements}


@dataclass(frozen=True)
class AppConfigArns:
    """The ARNs of this environment's AppConfig resources (AWS assigns their ids)."""

    application: str
    environment: str
    configuration_profile: str
    deployment_strategy: str


def deploy_flag_policy(arns: AppConfigArns) -> Document:
    """AppConfig rights of the deploy role, scoped to this environment's flags: start, watch and stop
    a flag deployment (the emergency path stops a bad one), publish a new flag version."""
    deployments = f"{arns.environment}/deployment/*"  # deployment numbers are assigned per deployment
    versions = f"{arns.configuration_profile}/hostedconfigurationversion/*"
    return {
        "Version": IAM_VERSION,
        "Statement": [
            _statement(
                "StartFlagDeployments",
                ["appconfig:StartDeployment"],
                [arns.application, arns.environment, arns.configuration_profile, arns.deployment_strategy],
            ),
            _statement(
                "WatchAndStopFlagDeployments",
                ["appconfig:GetDeployment", "appconfig:StopDeployment"],
                [deployments],
            ),
            _statement(
                "PublishFlagVersions",
                ["appconfig:CreateHostedConfigurationVersion"],
                [arns.configuration_profile, versions],
            ),
        ],
    }


def service_trust_policy(service: str) -> Document:
    return {
        "Version": IAM_VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"},
        ],
    }


def alarm_reader_policy() -> Document:
    """What AppConfig needs to watch its monitors. DescribeAlarms takes no narrower resource in the
    way AppConfig calls it (AWS's own example role grants it on "*"); it reveals alarm states only."""
    return {
        "Version": IAM_VERSION,
        "Statement": [_statement("ReadAlarmStates", ["cloudwatch:DescribeAlarms"], "*")],
    }


CHATBOT_READ_ACTIONS = [
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricWidgetImage",
]


def chatbot_policy() -> Document:
    """Notifications only: Chatbot renders alarm messages and graphs; it runs no commands."""
    return {
        "Version": IAM_VERSION,
        "Statement": [_statement("RenderAlarmNotifications", CHATBOT_READ_ACTIONS, "*")],
    }


def chatbot_guardrails(policy: GatePolicy) -> list[str]:
    """The most a Slack user can do through the channel, whatever the role allows: read CloudWatch."""
    return [aws_managed_policy_arn(aws_settings(policy), "CloudWatchReadOnlyAccess")]


# ---------------------------------------------------------------------------------------------
# KMS and SNS


def alarm_publishers(policy: GatePolicy) -> list[str]:
    """The AWS services that publish alarms to the topics."""
    services = [CLOUDWATCH_SERVICE]
    if aws_settings(policy).managed_prometheus:
        services.append(PROMETHEUS_SERVICE)
    return services


def account_key_policy(account_id: str, region: str) -> Document:
    """The account administers the key through IAM (AWS's default key policy): without this
    statement no one could ever change or schedule the deletion of the key again."""
    return {
        "Version": IAM_VERSION,
        "Statement": [
            {
                "Sid": "AccountAdministersTheKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account_root_arn(account_id, region)},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def key_policy(policy: GatePolicy) -> Document:
    """The environment's key: SNS topics, ECR images, the AMP workspace.

    CloudWatch (and AMP) must encrypt what they publish to an encrypted topic, and the AWS-managed
    alias/aws/sns key does not let them: hence a customer-managed key that does. The topic policies
    (aws:SourceAccount) decide who may publish; this statement only lets them encrypt.
    """
    settings = aws_settings(policy)
    document = account_key_policy(settings.account_id, settings.region)
    document["Statement"].append(
        {
            "Sid": "AlarmPublishersEncryptTopicMessages",
            "Effect": "Allow",
            "Principal": {"Service": alarm_publishers(policy)},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        }
    )
    return document


def topic_policy(policy: GatePolicy, channel: str) -> Document:
    """Alarms of this account, and nothing else, publish to the topic."""
    settings = aws_settings(policy)
    return {
        "Version": IAM_VERSION,
        "Statement": [
            {
                "Sid": "AlarmsOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": alarm_publishers(policy)},
                "Action": "sns:Publish",
                "Resource": topic_arn(policy, channel),
                "Condition": {"StringEquals": {"aws:SourceAccount": settings.account_id}},
            }
        ],
    }


def policy_json(document: Document) -> str:
    """The one JSON form of every policy and document: sorted keys, compact, stable."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# CloudWatch: the rollback criteria (DP §Rollback Criteria) on the service's load balancer

ERROR_RATE, P99_LATENCY, UNHEALTHY_HOSTS = "error-rate", "p99-latency", "unhealthy-hosts"
ROLLBACK = "rollback"


def _minutes(duration: str) -> int:
    return max(1, math.ceil(duration_seconds(duration) / 60))


@dataclass(frozen=True)
class MetricQuery:
    """One query of a metric-math alarm: a metric (`metric_name` + `stat`) or an expression."""

    id: str
    metric_name: str | None = None
    stat: str | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = False


@dataclass(frozen=True)
class MetricAlarm:
    """A CloudWatch metric alarm on the ALB dimensions, in the provider's terms."""

    criterion: str
    name: str
    description: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    dimensions: dict[str, str]
    namespace: str = ALB_NAMESPACE
    period: int = ALARM_PERIOD_SECONDS
    comparison_operator: str = "GreaterThanThreshold"
    treat_missing_data: str = NOT_BREACHING
    metric_name: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    evaluate_low_sample_count_percentiles: str | None = None
    queries: tuple[MetricQuery, ...] = ()


def alb_dimensions(policy: GatePolicy) -> dict[str, str]:
    balancer = aws_settings(policy).load_balancer
    return {"LoadBalancer": balancer.load_balancer, "TargetGroup": balancer.target_group}


def error_rate_expression(min_requests: int) -> str:
    """5xx ratio, judged only with enough traffic: a quiet minute (or none at all) reads 0.
    FILL: the 5xx count has no datapoint in a minute without errors."""
    return f"IF(requests >= {min_requests}, FILL(errors, 0) / requests, 0)"


def rollback_alarms(policy: GatePolicy) -> tuple[MetricAlarm, ...]:
    """The metric alarms, one per rollback criterion CloudWatch can judge.

    Evaluation follows the Prometheus alerts (gate/runtime/alerts.py): a rollback criterion must hold for
    ROLLBACK_FOR (2 of 2 one-minute datapoints), a failing health check for HEALTH_FOR.
    """
    balancer = aws_settings(policy).load_balancer
    dimensions = alb_dimensions(policy)
    hold = _minutes(alerts.ROLLBACK_FOR)
    health_hold = _minutes(alerts.HEALTH_FOR)
    increase = policy.thresholds.max_error_rate_increase
    p99_ms = policy.thresholds.latency.p99_target_ms
    dp = alerts.DP
    return (
        MetricAlarm(
            criterion=ERROR_RATE,
            name=resource_name(policy, ERROR_RATE),
            # CloudWatch alarms cannot compare with a time-shifted baseline, so the baseline is taken
            # as 0: any 5xx ratio above the increase rolls back. The Prometheus alert
            # ErrorRateIncrease keeps the true comparison with the previous hour.
            description=(
                f"{dp} §Rollback Criteria: error rate increases > {number(increase)} above baseline "
                f"(baseline taken as 0; judged at >= {balancer.min_requests_per_minute} requests/min)"
            ),
            threshold=increase,
            evaluation_periods=hold,
            datapoints_to_alarm=hold,
            dimensions=dimensions,
            queries=(
                MetricQuery(id="errors", metric_name="HTTPCode_Target_5XX_Count", stat="Sum"),
                MetricQuery(id="requests", metric_name="RequestCount", stat="Sum"),
                MetricQuery(
                    id="ratio",
                    expression=error_rate_expression(balancer.min_requests_per_minute),
                    label="5xx ratio",
                    return_data=True,
                ),
            ),
        ),
        MetricAlarm(
            criterion=P99_LATENCY,
            name=resource_name(policy, P99_LATENCY),
            description=f"{dp} §Rollback Criteria: p99 latency exceeds {number(p99_ms)} ms",
            threshold=p99_ms / 1000,
            evaluation_periods=hold,
            datapoints_to_alarm=hold,
            dimensions=dimensions,
            metric_name="TargetResponseTime",  # seconds
            extended_statistic="p99",
            # Judged at any traffic, like the Prometheus alert; "ignore" would leave a service with
            # fewer than 1000 requests a minute without a latency criterion at all.
            evaluate_low_sample_count_percentiles="evaluate",
        ),
        MetricAlarm(
            criterion=UNHEALTHY_HOSTS,
            name=resource_name(policy, UNHEALTHY_HOSTS),
            description=f"{dp} §Rollback Criteria: health check failures (a target unhealthy all minute)",
            threshold=0,
            evaluation_periods=health_hold,
            datapoints_to_alarm=health_hold,
            dimensions=dimensions,
            metric_name="UnHealthyHostCount",
            # Minimum: unhealthy for the whole minute, not one failed probe during a deploy.
            statistic="Minimum",
        ),
    )


@dataclass(frozen=True)
class CompositeAlarm:
    name: str
    description: str
    rule: str
    channels: tuple[str, ...]  # topics notified on ALARM and on OK
    acting: tuple[str, ...] = ()  # topics notified on ALARM only: the alert relay's


def rollback_composite(policy: GatePolicy) -> CompositeAlarm:
    """DP §Rollback Criteria "Critical alert triggered": any criterion alarms. M9 §Post-merge 2:
    a rollback notifies #oncall and #platform (as the Alertmanager routes do)."""
    rule = " OR ".join(f'ALARM("{alarm.name}")' for alarm in rollback_alarms(policy))
    return CompositeAlarm(
        name=resource_name(policy, ROLLBACK),
        description=f"{alerts.DP} §Rollback Criteria: a rollback criterion alarms in {policy.environment}",
        rule=rule,
        channels=(alerts.ONCALL, alerts.PLATFORM),
        # ...and acts: the relay dispatches the rollback to the gated repository (gate/runtime/relay.py).
        acting=(relay.RECEIVER,) if relay.enabled(policy) else (),
    )


def alarm_names(policy: GatePolicy) -> dict[str, str]:
    """criterion -> alarm name, the composite included."""
    names = {alarm.criterion: alarm.name for alarm in rollback_alarms(policy)}
    return {**names, ROLLBACK: rollback_composite(policy).name}


# ---------------------------------------------------------------------------------------------
# AppConfig: feature flags delivered progressively, rolled back by the alarms


def flag_document(policy: GatePolicy) -> Document:
    """The AWS.AppConfig.FeatureFlags document of this environment; a flag not listed for it is off
    (DP §Evaluation Criteria, Feature flags: new features flagged, and new flags off)."""
    flags = sorted(policy.flags, key=lambda flag: flag.key)
    definitions: Document = {}
    for flag in flags:
        definition: Document = {"name": flag.key}
        if flag.description:
            definition["description"] = flag.description
        definitions[flag.key] = definition
    return {
        "version": "1",
        "flags": definitions,
        "values": {flag.key: {"enabled": flag.enabled_in(policy.environment)} for flag in flags},
    }


def flag_document_json(policy: GatePolicy) -> str:
    return policy_json(flag_document(policy))


@dataclass(frozen=True)
class DeploymentStrategy:
    name: str
    description: str
    growth_type: str
    growth_factor: float
    deployment_duration_in_minutes: int
    final_bake_time_in_minutes: int
    replicate_to: str = "NONE"


def exponential_steps(growth_factor: int) -> list[int]:
    """The percentages AppConfig's EXPONENTIAL growth reaches: G*2^N, capped at 100."""
    steps, share = [], growth_factor
    while share < 100:
        steps.append(share)
        share *= 2
    return [*steps, 100]


def deployment_strategy(policy: GatePolicy) -> DeploymentStrategy:
    """DP §Deployment Process "Progressive rollout plan defined (e.g., 5% → 25% → 50% → 100%)".

    AppConfig cannot follow a list of stages; the closest is EXPONENTIAL growth from the first stage
    (5 → 10 → 20 → 40 → 80 → 100 by default): it starts as small as the canary and at least doubles.
    The deployment takes as long as the canary takes to reach 100 % (a bake time per step before the
    last: 3 x 10m), then bakes once more at 100 % while the alarms may still roll it back.
    """
    rollout = policy.rollout
    bake = math.ceil(duration_seconds(rollout.bake_time) / 60)
    duration = bake * (len(rollout.stages) - 1)
    for what, minutes in (("deployment duration", duration), ("final bake time", bake)):
        if minutes > APPCONFIG_MAX_MINUTES:
            raise ValueError(
                f"stack {policy.stack}: delivery-gate:rollout.bakeTime {rollout.bake_time!r} gives "
                f"an AppConfig {what} of {minutes} minutes; AppConfig allows at most {APPCONFIG_MAX_MINUTES}"
            )
    first = rollout.stages[0]
    steps = " -> ".join(f"{share}%" for share in exponential_steps(first))
    return DeploymentStrategy(
        name=resource_name(policy, "flags"),
        description=f"Flags reach {steps} in {duration} min, then bake {bake} min under the rollback alarms",
        growth_type="EXPONENTIAL",
        growth_factor=first,
        deployment_duration_in_minutes=duration,
        final_bake_time_in_minutes=bake,
    )


# ---------------------------------------------------------------------------------------------
# Amazon Managed Prometheus: the same rules and routing as the cluster, delivered through SNS


def prometheus_rules_yaml(policy: GatePolicy) -> str:
    """The rule groups of gate/runtime/alerts.py as a Prometheus rules file (what AMP stores)."""
    return alerts.rules_yaml(policy)


def prometheus_alertmanager_document(policy: GatePolicy) -> Document:
    """gate/runtime/alerts.py's routing tree, with each receiver delivering to its channel's SNS topic."""
    document = alerts.alertmanager_document(policy)
    region = aws_settings(policy).region

    def sns(name: str) -> Document:
        if name == relay.RECEIVER:
            # The alert relay's topic: the Lambda parses the message as JSON (gate/runtime/relay.py).
            text = {"send_resolved": False, "subject": relay.SNS_SUBJECT, "message": relay.SNS_MESSAGE}
        else:
            text = {"send_resolved": True, "subject": alerts.SLACK_TITLE, "message": alerts.SLACK_TEXT}
        return {"topic_arn": topic_arn(policy, name), "sigv4": {"region": region}, **text}

    receivers = [
        {"name": receiver["name"], "sns_configs": [sns(receiver["name"])]}
        for receiver in document["receivers"]
    ]
    return {**document, "receivers": receivers}


def prometheus_alertmanager_yaml(policy: GatePolicy) -> str:
    """The inner alertmanager.yml (`amtool check-config`)."""
    return yamltext.dump(prometheus_alertmanager_document(policy))


def prometheus_alertmanager_definition(policy: GatePolicy) -> str:
    """What AMP's alert manager definition holds: the config under `alertmanager_config`."""
    return yamltext.dump({"alertmanager_config": prometheus_alertmanager_yaml(policy)})


# ---------------------------------------------------------------------------------------------
# The state backend (bootstrap/): where every stack's state and secrets key live

BOOTSTRAP_NAMESPACE = "delivery-gate-bootstrap"

BucketName = Annotated[
    str,
    matching(
        r"(?!xn--)(?!sthree-)(?!.*-s3alias$)(?!.*--ol-s3$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]",
        "an S3 bucket name: 3-63 lower-case letters, digits and inner hyphens (no dots: they break "
        "TLS for virtual-hosted URLs)",
    ),
]
KmsAlias = Annotated[
    str,
    matching(
        r"alias/(?!aws/)[A-Za-z0-9/_-]{1,250}",
        "a KMS alias such as alias/pulumi-secrets (not under alias/aws/)",
    ),
]


class StateBackendSettings(GateModel):
    """The bootstrap stack's config: `delivery-gate-bootstrap:<key>` in bootstrap/stacks/."""

    account_id: AwsAccountId = Field(
        description="The account holding the state; the provider refuses others."
    )
    region: AwsRegion = Field(default="eu-west-1", description="Region of the bucket and the keys.")
    bucket_name: BucketName = Field(description="The S3 bucket holding every stack's state.")
    secrets_key_alias: KmsAlias = Field(
        default="alias/pulumi-secrets", description="Alias of the KMS key that encrypts stack secrets."
    )

    @property
    def state_key_alias(self) -> str:
        return f"alias/{self.bucket_name}"


def load_state_backend(values: Mapping[str, Any], *, source: str) -> StateBackendSettings:
    """Validate the bootstrap stack's values (namespace stripped), or a PolicyError naming `source`
    (the stack file), the dotted key, the bad value and what is allowed."""
    problems = unknown_keys(values, StateBackendSettings, BOOTSTRAP_NAMESPACE)
    known = aliases(StateBackendSettings)
    settings = None
    try:
        settings = StateBackendSettings.model_validate({k: v for k, v in values.items() if k in known})
    except ValidationError as error:
        problems += validation_problems(
            error.errors(include_url=False), StateBackendSettings, BOOTSTRAP_NAMESPACE
        )
    if problems or settings is None:
        raise PolicyError(source, problems)
    return settings


def bucket_arn(settings: StateBackendSettings) -> str:
    return f"arn:{partition(settings.region)}:s3:::{settings.bucket_name}"


def tls_only_bucket_policy(settings: StateBackendSettings) -> Document:
    """State holds every resource's inputs: it is never sent over plain HTTP."""
    bucket = bucket_arn(settings)
    return {
        "Version": IAM_VERSION,
        "Statement": [
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket, f"{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def login_url(settings: StateBackendSettings) -> str:
    """`pulumi login <this>`: the S3 backend, in the bucket's region."""
    return f"s3://{settings.bucket_name}?region={settings.region}&awssdk=v2"


def secrets_provider(settings: StateBackendSettings) -> str:
    """`pulumi stack init --secrets-provider <this>`: stack secrets encrypted with the KMS key."""
    return f"awskms://{settings.secrets_key_alias}?region={settings.region}"


# ---------------------------------------------------------------------------------------------
# The alert relay on Lambda (gate/runtime/relay.py): CloudWatch's rollback alarm and AMP's rollback and
# ticket alerts reach the relay topic, whose only subscriber is tools/alert_relay.py

RELAY_RUNTIME = "python3.12"
RELAY_HANDLER = f"{relay.MODULE}.lambda_handler"
RELAY_TIMEOUT_SECONDS = 60  # four attempts with backoff (1 + 2 + 4 s) and 10 s timeouts fit
RELAY_LOG_RETENTION_DAYS = 30
# docs/aws.md's section on the rollback alarms: what a CloudWatch dispatch links to.
ALARMS_DOC_ANCHOR = "aws.md#alarms-the-rollback-criteria-on-the-alb"


def relay_topic_name(policy: GatePolicy) -> str:
    return topic_name(policy, relay.RECEIVER)


def relay_topic_arn(policy: GatePolicy) -> str:
    return topic_arn(policy, relay.RECEIVER)


def relay_function_name(policy: GatePolicy) -> str:
    return resource_name(policy, relay.NAME)


def relay_function_arn(policy: GatePolicy) -> str:
    return arn(aws_settings(policy), "lambda", f"function:{relay_function_name(policy)}")


def relay_log_group_name(policy: GatePolicy) -> str:
    return f"/aws/lambda/{relay_function_name(policy)}"


def relay_token_secret_name(policy: GatePolicy) -> str:
    """The Secrets Manager secret holding the relay's GitHub token: filled from
    delivery-gate:relayGithubToken when the stack sets it, else managed elsewhere."""
    return f"{NAME_PREFIX}/{policy.environment}/relay-github-token"


def relay_alarm_actions(policy: GatePolicy) -> dict[str, dict[str, str]]:
    """RELAY_CLOUDWATCH_ALARMS: which alarm acts how. Only the composite rollback alarm notifies
    (one page per rollback, as for the channels); it is a rollback criterion, so critical."""
    runbooks = alerts.runbook_base_url(policy).removesuffix("/runbooks")
    return {
        rollback_composite(policy).name: {
            "action": alerts.ROLLBACK,
            "severity": alerts.CRITICAL,
            "runbook_url": f"{runbooks}/{ALARMS_DOC_ANCHOR}",
        }
    }


def relay_token_secret_arn_pattern(policy: GatePolicy) -> str:
    """Secrets Manager appends six random characters to a secret's ARN: `-??????` matches exactly
    them, so the grant names this secret only and is known before it exists."""
    return arn(aws_settings(policy), "secretsmanager", f"secret:{relay_token_secret_name(policy)}-??????")


def relay_function_environment(policy: GatePolicy) -> dict[str, str]:
    """The Lambda's environment: the same relay settings as in the cluster, the token's secret."""
    return {
        **relay.relay_environment(policy),
        "RELAY_CLOUDWATCH_ALARMS": policy_json(relay_alarm_actions(policy)),
        "RELAY_TOKEN_SECRET_ID": relay_token_secret_name(policy),
    }


def relay_role_policy(policy: GatePolicy, key_arn: str) -> Document:
    """Least privilege: write its own log stream, read its one secret (decrypting with the
    environment key only through Secrets Manager). GitHub is reached with the token, not AWS."""
    settings = aws_settings(policy)
    token_secret_arn = relay_token_secret_arn_pattern(policy)
    log_group = arn(settings, "logs", f"log-group:{relay_log_group_name(policy)}")
    return {
        "Version": IAM_VERSION,
        "Statement": [
            _statement("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:*"]),
            _statement("ReadTheGitHubToken", ["secretsmanager:GetSecretValue"], [token_secret_arn]),
            _statement(
                "DecryptTheTokenThroughSecretsManager",
                ["kms:Decrypt"],
                [key_arn],
                Condition={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{settings.region}.{dns_suffix(settings.region)}"
                    }
                },
            ),
        ],
    }


# The pull-request roles: a disposable environment's cluster credentials, no stored kubeconfig
#
# The stack of the first environment (whose EKS cluster runs the disposable environments,
# policy.hosts_pull_requests) declares one role per gated repository. Its trust admits exactly:
# - the e2e check of a pull request from the repository itself: `sub` repo:<owner>/<repo>:pull_request
#   and `job_workflow_ref` the e2e workflow file. A pull request's workflow is read from its merge
#   ref (refs/pull/<N>/merge), a ref that changes with every pull request, so the ref is a pattern,
#   and the *file name* is pinned, not its content: an author with write access can edit the file in
#   the pull request. What that author then holds is this role, nothing more: describe one cluster,
#   and write in the repository's own PR namespaces. In organisation mode the e2e workflow is the
#   central repository's, pinned to its protected branch: content no pull request can change.
#   A fork's pull request gets no OIDC token at all (GitHub withholds id-token from forks), and the
#   e2e job never runs these steps for one (mode 'fork').
# - with a merge queue, the same check on the queue's branch (gh-readonly-queue/<default>/...),
#   which GitHub creates from approved, merged code;
# - the janitor (ephemeral-janitor.yml) on the default branch: exact subject and workflow ref.


def e2e_role_name(repo: Repository) -> str:
    """delivery-gate-e2e-<slug>: at most 58 characters (IAM allows 64)."""
    return f"{NAME_PREFIX}-e2e-{repository_slug(repo.name)}"


def e2e_role_arn(policy: GatePolicy, repo: Repository) -> str:
    return role_arn(aws_settings(policy), e2e_role_name(repo))


def e2e_kubernetes_group(repo: Repository) -> str:
    """The Kubernetes group the role's access entry maps it to: the subject of the cluster RBAC and
    the admission policy that keep its namespace rights to the repository's PR namespaces
    (gate/runtime/ephemeral.py pull_request_access)."""
    return kubernetes_group(repo.name)


def e2e_cluster_arn(policy: GatePolicy) -> str:
    settings = aws_settings(policy)
    if settings.eks_cluster_name is None:
        raise ValueError(f"stack {policy.stack} sets no aws.eksClusterName: no cluster for pull requests")
    return arn(settings, "eks", f"cluster/{settings.eks_cluster_name}")


def e2e_access_policy_arn(policy: GatePolicy) -> str:
    """An EKS managed access policy: arn:<partition>:eks::aws:cluster-access-policy/<name>."""
    return f"arn:{partition(aws_settings(policy).region)}:eks::aws:cluster-access-policy/{E2E_ACCESS_POLICY}"


def e2e_workflow_refs(policy: GatePolicy, repo: Repository) -> tuple[list[str], list[str]]:
    """(exact, patterns) `job_workflow_ref`s of the e2e check on the repository's pull requests and
    merge queue: the central repository's required workflow on its branch in organisation mode,
    else the repository's own e2e workflow on a pull request's merge ref (and the queue's branches)."""
    organization = policy.merge_gate.organization
    if policy.merge_gate.mode is MergeGateMode.ORGANIZATION and organization is not None:
        central = f"{repo.owner}/{organization.central_repository}"
        # The file its group shares (issue 14 item 4); the `sub` condition keeps the role this
        # repository's: another repository's pull request runs the same file with its own `sub`.
        file = central_file(policy, repo, E2E_WORKFLOW_PATH.rsplit("/", 1)[1])
        ref = _no_pattern(organization.workflow_branch, "the central workflow branch", policy)
        return [f"{central}/.github/workflows/{file}@refs/heads/{ref}"], []
    own = f"{repo.full_name}/{E2E_WORKFLOW_PATH}"
    patterns = [f"{own}@refs/pull/*/merge"]
    if repo.merge_queue:
        patterns.append(f"{own}@{_queue_ref(repo, policy)}")
    return [], patterns


def _queue_ref(repo: Repository, policy: GatePolicy) -> str:
    return f"refs/heads/gh-readonly-queue/{_no_pattern(repo.default_branch, 'the default branch', policy)}/*"


def janitor_workflow_ref(policy: GatePolicy, repo: Repository) -> str:
    branch = _no_pattern(repo.default_branch, "the default branch", policy)
    return f"{repo.full_name}/{JANITOR_WORKFLOW_PATH}@refs/heads/{branch}"


def e2e_trust_policy(policy: GatePolicy, repo: Repository) -> Document:
    """Who may hold the repository's pull-request role (see the section comment above)."""
    exact, patterns = e2e_workflow_refs(policy, repo)
    pull_request = f"repo:{repo.full_name}:pull_request"
    if exact:
        check = _github_statement(
            "E2eCheckOfThisRepositorysPullRequests", policy, {SUB_KEY: pull_request, WORKFLOW_REF_KEY: exact}
        )
    else:
        check = _github_statement(
            "E2eCheckOfThisRepositorysPullRequests",
            policy,
            {SUB_KEY: pull_request},
            like={WORKFLOW_REF_KEY: patterns[0]},
        )
    statements = [check]
    if repo.merge_queue:
        queue = f"repo:{repo.full_name}:ref:{_queue_ref(repo, policy)}"
        refs = {WORKFLOW_REF_KEY: exact} if exact else {}
        like = {SUB_KEY: queue, **({} if exact else {WORKFLOW_REF_KEY: patterns[1]})}
        statements.append(_github_statement("E2eCheckInTheMergeQueue", policy, refs, like=like))
    statements.append(
        _github_statement(
            "EphemeralJanitorOnTheDefaultBranch",
            policy,
            {
                SUB_KEY: f"repo:{repo.full_name}:ref:refs/heads/{repo.default_branch}",
                WORKFLOW_REF_KEY: janitor_workflow_ref(policy, repo),
            },
        )
    )
    return {"Version": IAM_VERSION, "Statement": statements}


def e2e_role_policy(policy: GatePolicy) -> Document:
    """IAM rights of a pull-request role: a kubeconfig for the one cluster (`aws eks
    update-kubeconfig` calls DescribeCluster), nothing else. What it may do inside the cluster is
    the access entry's (namespace-scoped) and the cluster RBAC's business."""
    return {
        "Version": IAM_VERSION,
        "Statement": [
            _statement(
                "KubeconfigForThePullRequestCluster", ["eks:DescribeCluster"], [e2e_cluster_arn(policy)]
            )
        ],
    }


def e2e_variables(policy: GatePolicy, repo: Repository) -> tuple[tuple[str, str], ...]:
    """Repository-level GitHub Actions variables of the repository's pull-request role, set by the
    stack that declares it (the e2e job and the janitor run in no environment)."""
    if not policy.hosts_pull_requests:
        return ()
    settings = aws_settings(policy)
    assert settings.eks_cluster_name is not None  # hosts_pull_requests
    return (
        (E2E_ROLE_VARIABLE, e2e_role_arn(policy, repo)),
        (E2E_REGION_VARIABLE, settings.region),
        (E2E_CLUSTER_VARIABLE, settings.eks_cluster_name),
    )


def pr_namespace_scope(repo: Repository) -> list[str]:
    """The access scope of the role's EKS access policy: `<slug>-pr-*` (gate/policy/prnames.py)."""
    return [namespace_pattern(repo.name)]
