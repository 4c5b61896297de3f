"""The pure AWS renderers of gate/aws/foundation.py: names, ARNs, IAM documents, alarms, flags, AMP config."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.aws import foundation as spec
from gate.errors import PolicyError
from gate.github.centralfiles import central_file
from gate.github.workflows import render_workflows, workflow_documents
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy, ImageRetention
from gate.runtime import alerts
from tests.support import prom_tools

ACCOUNT = "123456789012"
LOAD_BALANCER = {
    "loadBalancer": "app/aos-prod/50dc6c495c0c9188",
    "targetGroup": "targetgroup/aos-prod/943f017f100becff",
}
STACK_OF = {"dev": "dev", "staging": "staging", "production": "prod"}


def policy(environment: str = "dev", *, repositories: Any = None, **aws: Any) -> GatePolicy:
    values: dict[str, Any] = {
        "environment": environment,
        "repositories": repositories or [{"name": "aos"}],
        # Every repository given here builds and deploys (by default only the first, issue 13).
        "application": {"repositories": [r["name"] for r in repositories or [{"name": "aos"}]]},
        "aws": {"accountId": ACCOUNT, "loadBalancer": LOAD_BALANCER, **aws},
    }
    if aws.get("deployFromReleaseBranches"):
        # Release branches only where a ruleset restricts who creates them (GatePolicy validator).
        values["mergeGate"] = {"mode": "rulesets"}
    return load_policy(values, stack=STACK_OF[environment], github_owner="acme")


def test_release_branch_deploys_need_rulesets_mode() -> None:
    values = {
        "environment": "staging",
        "repositories": [{"name": "aos"}],
        "aws": {"accountId": ACCOUNT, "loadBalancer": LOAD_BALANCER, "deployFromReleaseBranches": True},
    }
    with pytest.raises(PolicyError) as refused:
        load_policy(values, stack="staging", github_owner="acme")
    assert (
        "delivery-gate:aws.deployFromReleaseBranches: got True; false unless mergeGate.mode is 'rulesets'"
        in (str(refused.value))
    )


def with_values(base: GatePolicy, **values: Any) -> GatePolicy:
    data = base.model_dump(by_alias=True, exclude_none=True, mode="json")
    return load_policy({**data, **values}, stack=base.stack, github_owner="acme")


# -- names and ARNs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("eu-west-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
        ("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"),
    ],
)
def test_arns_and_registry_urls_follow_the_region_partition(region: str, partition: str, suffix: str) -> None:
    settings = spec.aws_settings(policy(region=region))
    assert spec.partition(region) == partition
    assert spec.repository_arn(settings, "aos") == f"arn:{partition}:ecr:{region}:{ACCOUNT}:repository/aos"
    assert spec.repository_url(settings, "aos") == f"{ACCOUNT}.dkr.ecr.{region}.{suffix}/aos"
    assert spec.registry_url(policy(region=region)) == f"{ACCOUNT}.dkr.ecr.{region}.{suffix}"
    assert spec.role_arn(settings, "r") == f"arn:{partition}:iam::{ACCOUNT}:role/r"


def test_the_oidc_provider_arn_is_computed_unless_configured() -> None:
    computed = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert spec.oidc_provider_arn(policy()) == computed
    existing = "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com"
    assert spec.oidc_provider_arn(policy(oidcProviderArn=existing)) == existing


def test_names_carry_the_environment() -> None:
    production = policy("production")
    assert spec.deploy_role_name(production) == "delivery-gate-deploy-production"
    assert spec.topic_name(production, "oncall") == "delivery-gate-production-oncall"
    assert spec.key_alias(production) == "alias/delivery-gate-production"
    assert spec.alarm_arn(production, "x") == f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:x"


def test_a_policy_without_aws_settings_is_refused() -> None:
    plain = load_policy(
        {"environment": "dev", "repositories": [{"name": "aos"}]}, stack="dev", github_owner="acme"
    )
    with pytest.raises(ValueError, match="stack dev sets no delivery-gate:aws"):
        spec.aws_settings(plain)


# -- registry --------------------------------------------------------------------------------


def test_one_repository_per_service_sorted_and_deduplicated() -> None:
    # (Two repositories of one name, of two owners, are refused by the model: their pull-request
    # stacks would share one name, tests/test_model.py.)
    repositories = [{"name": "Web"}, {"name": "aos"}]
    assert spec.image_repositories(policy(repositories=repositories)) == ("aos", "web")
    named = with_values(policy(repositories=repositories), workflows={"imageName": "platform"})
    assert spec.image_repositories(named) == ("platform",)
    assert spec.image_repositories(policy(services=["b", "a", "b"])) == ("a", "b")


def test_a_repository_name_ecr_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'a--b' is not a valid ECR repository name.*aws.services"):
        spec.image_repositories(policy(repositories=[{"name": "a--b"}]))


def test_the_lifecycle_policy_keeps_the_newest_tagged_images() -> None:
    rules = spec.ecr_lifecycle_policy(ImageRetention(keep_last=40, untagged_days=2))["rules"]
    priorities = [rule["rulePriority"] for rule in rules]
    assert priorities == sorted(set(priorities))  # unique, evaluated in this order
    # ECR: only one rule may select untagged images, and a tagStatus "any" rule must come last.
    assert [r["selection"]["tagStatus"] for r in rules].count("untagged") == 1
    any_rules = [r["rulePriority"] for r in rules if r["selection"]["tagStatus"] == "any"]
    assert all(priority == max(priorities) for priority in any_rules)
    untagged, tagged = rules
    assert untagged["selection"]["countNumber"] == 2
    assert untagged["selection"]["countUnit"] == "days"
    assert tagged["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": 40,
    }


# -- IAM -------------------------------------------------------------------------------------


def test_subjects_are_exact_per_repository_and_environment() -> None:
    repositories = [{"name": "web", "owner": "zeta"}, {"name": "aos"}, {"name": "aos"}]
    with pytest.raises(PolicyError):  # the model itself refuses duplicates
        policy(repositories=repositories)
    staging = policy("staging", repositories=repositories[:2])
    # Each environment and its reviewer-free rollback environment (DP: rollback is automatic).
    assert spec.github_subjects(staging) == [
        "repo:acme/aos:environment:staging",
        "repo:acme/aos:environment:staging-rollback",
        "repo:zeta/web:environment:staging",
        "repo:zeta/web:environment:staging-rollback",
    ]


# Two gated repositories, one with another default branch.
REPOSITORIES = [{"name": "web", "owner": "zeta", "defaultBranch": "trunk"}, {"name": "aos"}]
AUD = "token.actions.githubusercontent.com:aud"
SUB = "token.actions.githubusercontent.com:sub"
WORKFLOW_REF = "token.actions.githubusercontent.com:job_workflow_ref"
ECR_WRITES = {"ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"}


def gated(environment: str = "dev", **aws: Any) -> GatePolicy:
    return policy(environment, repositories=REPOSITORIES, **aws)


def test_workflow_refs_name_the_deploy_workflow_on_each_default_branch() -> None:
    assert spec.deploy_workflow_refs(gated()) == [
        "acme/aos/.github/workflows/deploy.yml@refs/heads/main",
        "zeta/web/.github/workflows/deploy.yml@refs/heads/trunk",
    ]
    assert spec.release_workflow_refs(gated()) == [
        "acme/aos/.github/workflows/deploy.yml@refs/heads/release/*",
        "zeta/web/.github/workflows/deploy.yml@refs/heads/release/*",
    ]
    assert spec.build_subjects(gated()) == [
        "repo:acme/aos:ref:refs/heads/main",
        "repo:zeta/web:ref:refs/heads/trunk",
    ]


def test_the_deploy_trust_policy_pins_the_subject_and_the_workflow() -> None:
    trust = spec.deploy_trust_policy(gated("production"))
    statement, alert_rollback = trust["Statement"]
    # The alert relay's runtime rollback (gate/github/automation.py): the workflow of the repository it
    # dispatches to (the first gated one), on its default branch, only.
    assert alert_rollback["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            SUB: ["repo:zeta/web:environment:production-rollback"],
            WORKFLOW_REF: ["zeta/web/.github/workflows/mismatch-automation.yml@refs/heads/trunk"],
        }
    }
    assert statement["Principal"] == {"Federated": spec.oidc_provider_arn(gated("production"))}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            SUB: [
                "repo:acme/aos:environment:production",
                "repo:acme/aos:environment:production-rollback",
                "repo:zeta/web:environment:production",
                "repo:zeta/web:environment:production-rollback",
            ],
            WORKFLOW_REF: [
                "acme/aos/.github/workflows/deploy.yml@refs/heads/main",
                # Issue 12, part emergency: the emergency deploy, from the default branch only.
                "acme/aos/.github/workflows/emergency-deploy.yml@refs/heads/main",
                "zeta/web/.github/workflows/deploy.yml@refs/heads/trunk",
                "zeta/web/.github/workflows/emergency-deploy.yml@refs/heads/trunk",
            ],
        }
    }
    assert patterns(trust) == []


def test_release_branches_are_opt_in_and_a_pattern_only_for_the_workflow_ref() -> None:
    trust = spec.deploy_trust_policy(gated("staging", deployFromReleaseBranches=True))
    # Issue 12, part drill: staging is drilled, so its role also trusts rollback-drill.yml (last).
    default, release, alert_rollback, drill = trust["Statement"]
    assert default == spec.deploy_trust_policy(gated("staging"))["Statement"][0]
    assert alert_rollback == spec.deploy_trust_policy(gated("staging"))["Statement"][1]
    assert drill == spec.deploy_trust_policy(gated("staging"))["Statement"][2]
    assert release["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            SUB: [
                "repo:acme/aos:environment:staging",
                "repo:acme/aos:environment:staging-rollback",
                "repo:zeta/web:environment:staging",
                "repo:zeta/web:environment:staging-rollback",
            ],
        },
        "StringLike": {
            WORKFLOW_REF: [
                "acme/aos/.github/workflows/deploy.yml@refs/heads/release/*",
                "zeta/web/.github/workflows/deploy.yml@refs/heads/release/*",
            ]
        },
    }
    assert patterns(trust) == [
        ("StringLike", WORKFLOW_REF, "acme/aos/.github/workflows/deploy.yml@refs/heads/release/*"),
        ("StringLike", WORKFLOW_REF, "zeta/web/.github/workflows/deploy.yml@refs/heads/release/*"),
    ]


def test_the_build_trust_policy_admits_the_deploy_workflow_outside_environments_on_the_default_branch() -> (
    None
):
    for release in (False, True):  # release branches never push into the registry
        trust = spec.build_trust_policy(gated(deployFromReleaseBranches=release))
        (statement,) = trust["Statement"]
        assert statement["Condition"] == {
            "StringEquals": {
                AUD: "sts.amazonaws.com",
                SUB: ["repo:acme/aos:ref:refs/heads/main", "repo:zeta/web:ref:refs/heads/trunk"],
                WORKFLOW_REF: [
                    "acme/aos/.github/workflows/deploy.yml@refs/heads/main",
                    "zeta/web/.github/workflows/deploy.yml@refs/heads/trunk",
                ],
            }
        }
        assert patterns(trust) == []


def test_patterns_where_exact_branches_are_needed_are_refused() -> None:
    wild_default = policy(repositories=[{"name": "aos", "defaultBranch": "main*"}])
    for render in (
        spec.deploy_workflow_refs,
        spec.build_subjects,
        spec.deploy_trust_policy,
        spec.build_trust_policy,
    ):
        with pytest.raises(ValueError, match=r"the default branch 'main\*' is a pattern"):
            render(wild_default)
    classes = [{"name": "aos", "releaseBranchPattern": "release/[0-9]*"}]
    assert len(spec.deploy_trust_policy(policy(repositories=classes))["Statement"]) == 2  # not used: fine
    with pytest.raises(ValueError, match="character class, which IAM patterns cannot express"):
        spec.deploy_trust_policy(policy(repositories=classes, deployFromReleaseBranches=True))


# -- who can assume what: the trust policies evaluated the way STS does -------------------------


def iam_pattern(value: str) -> str:
    """IAM StringLike: `*` any run of characters (`/` included), `?` one; nothing else is special."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)


def holds(operator: str, key: str, expected: Any, claims: dict[str, str]) -> bool:
    if key not in claims:
        return False  # a key absent from the request never matches (no ...IfExists here)
    values = [expected] if isinstance(expected, str) else expected
    if operator == "StringEquals":
        return claims[key] in values
    if operator == "StringLike":
        return any(re.fullmatch(iam_pattern(value), claims[key]) for value in values)
    raise AssertionError(f"no evaluator for {operator}: extend the test before using it")


def assumes(trust: dict[str, Any], claims: dict[str, str]) -> bool:
    """Statements are ORed; within one, every key of every operator must hold."""
    for statement in trust["Statement"]:
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRoleWithWebIdentity")
        if all(
            holds(operator, key, expected, claims)
            for operator, block in statement["Condition"].items()
            for key, expected in block.items()
        ):
            return True
    return False


def token(
    repo: str = "acme/aos",
    *,
    environment: str | None = None,
    ref: str = "refs/heads/main",
    workflow: str = "deploy.yml",
    pull_request: bool = False,
    workflow_ref: bool = True,
) -> dict[str, str]:
    """The claims GitHub puts in a job's token (default subject format)."""
    if environment is not None:
        sub = f"repo:{repo}:environment:{environment}"
    else:
        sub = f"repo:{repo}:pull_request" if pull_request else f"repo:{repo}:ref:{ref}"
    claims = {AUD: "sts.amazonaws.com", SUB: sub}
    if workflow_ref:  # STS without the GitHub claim keys: the key is not in the request at all
        claims[WORKFLOW_REF] = f"{repo}/.github/workflows/{workflow}@{ref}"
    return claims


def automation_token(
    repo: str = "zeta/web",
    *,
    environment: str = "staging-rollback",
    ref: str = "refs/heads/trunk",
    workflow: str = "mismatch-automation.yml",
) -> dict[str, str]:
    return token(repo, environment=environment, ref=ref, workflow=workflow)


# (who, their job's token, whether it gets the staging deploy role)
STAGING_DEPLOY_ROLE = [
    ("the gate's deploy job, push or dispatch on main", token(environment="staging"), True),
    (
        "its validation, evidence or rollback job (reviewer-free environment)",
        token(environment="staging-rollback"),
        True,
    ),
    (
        "a rollback-named job in another workflow file",
        token(environment="staging-rollback", workflow="ci.yml"),
        False,
    ),
    (
        "deploy.yml's rollback environment from a feature branch",
        token(environment="staging-rollback", ref="refs/heads/feature"),
        False,
    ),
    ("another environment's rollback job", token(environment="production-rollback"), False),
    (
        "the same in a repository whose default branch is trunk",
        token("zeta/web", environment="staging", ref="refs/heads/trunk"),
        True,
    ),
    ("another environment's job", token(environment="production"), False),
    ("the build job (no environment)", token(), False),
    (
        "a new release branch with its own workflow",
        token(environment="staging", ref="refs/heads/release/x", workflow="evil.yml"),
        False,
    ),
    ("another workflow file on main", token(environment="staging", workflow="ci.yml"), False),
    (
        "deploy.yml dispatched from a feature branch",
        token(environment="staging", ref="refs/heads/feature"),
        False,
    ),
    ("deploy.yml from a tag", token(environment="staging", ref="refs/tags/v1.0.0"), False),
    ("deploy.yml from a branch that is not the default", token("zeta/web", environment="staging"), False),
    ("another repository", token("evil/aos", environment="staging"), False),
    ("a token without job_workflow_ref", token(environment="staging", workflow_ref=False), False),
    ("another audience", {**token(environment="staging"), AUD: "https://github.com/acme"}, False),
    # The alert relay's runtime rollback (gate/github/automation.py) in staging-rollback; the relay
    # dispatches to the first gated repository, zeta/web (default branch trunk).
    ("mismatch-automation.yml's rollback job on the default branch", automation_token(), True),
    ("mismatch-automation.yml in staging itself", automation_token(environment="staging"), False),
    # deploy.yml's own validate/evidence/rollback jobs run there too (trusted above, trunk here).
    ("deploy.yml in staging-rollback on the default branch", automation_token(workflow="deploy.yml"), True),
    ("another workflow in staging-rollback", automation_token(workflow="ci.yml"), False),
    ("mismatch-automation.yml from a feature branch", automation_token(ref="refs/heads/feature"), False),
    (
        "mismatch-automation.yml of a repository the relay does not dispatch to",
        automation_token("acme/aos", ref="refs/heads/main"),
        False,
    ),
    ("production-rollback's token", automation_token(environment="production-rollback"), False),
]
RELEASE_EDIT = token(environment="staging", ref="refs/heads/release/x")


@pytest.mark.parametrize(
    ("who", "claims", "allowed"), STAGING_DEPLOY_ROLE, ids=[w for w, _, _ in STAGING_DEPLOY_ROLE]
)
def test_who_assumes_the_staging_deploy_role(who: str, claims: dict[str, str], allowed: bool) -> None:
    assert assumes(spec.deploy_trust_policy(gated("staging")), claims) is allowed, who
    # Release branches admitted: the same answers for everything but the release branches.
    admitted = spec.deploy_trust_policy(gated("staging", deployFromReleaseBranches=True))
    assert assumes(admitted, claims) is allowed, who


def test_deploy_yml_on_a_release_branch_gets_a_role_only_when_admitted() -> None:
    assert not assumes(spec.deploy_trust_policy(gated("staging")), RELEASE_EDIT)
    admitted = spec.deploy_trust_policy(gated("staging", deployFromReleaseBranches=True))
    assert assumes(admitted, RELEASE_EDIT)  # the ref, not the file's content: see docs/aws.md
    # IAM's `*` crosses `/`: release/a/b is admitted, though GitHub's `release/*` does not protect it.
    assert assumes(admitted, token(environment="staging", ref="refs/heads/release/a/b"))
    for ref in ("refs/heads/releases/1", "refs/heads/hotfix/release/1", "refs/heads/release"):
        assert not assumes(admitted, token(environment="staging", ref=ref)), ref


BUILD_JOBS_REFUSED = [
    ("a deploy job", token(environment="dev")),
    (
        "a pull request's e2e job",
        token(pull_request=True, ref="refs/pull/7/merge", workflow="e2e-parity-check.yml"),
    ),
    ("deploy.yml edited in a pull request", token(pull_request=True, ref="refs/pull/7/merge")),
    ("the merge queue", token(ref="refs/heads/gh-readonly-queue/main/pr-7-0123abc")),
    ("a release branch", token(ref="refs/heads/release/1.2")),
    ("a feature branch dispatch", token(ref="refs/heads/feature")),
    ("another workflow on main", token(workflow="ci.yml")),
    ("a token without job_workflow_ref", token(workflow_ref=False)),
]


def test_only_the_build_job_on_the_default_branch_assumes_the_build_role() -> None:
    for release in (False, True):
        trust = spec.build_trust_policy(gated(deployFromReleaseBranches=release))
        assert assumes(trust, token())
        assert assumes(trust, token("zeta/web", ref="refs/heads/trunk"))
        for who, claims in BUILD_JOBS_REFUSED:
            assert not assumes(trust, claims), who
    for environment in ("dev", "staging", "production"):  # and the build job gets no deploy role
        assert not assumes(spec.deploy_trust_policy(gated(environment)), token())


def test_the_trusted_workflow_is_the_one_the_gate_commits() -> None:
    dev = policy("dev")
    repo = dev.repositories[0]
    assert spec.DEPLOY_WORKFLOW_PATH in render_workflows(dev, repo)
    deploy = workflow_documents(dev, repo)["deploy.yml"]
    # No other repository can call it: a job's job_workflow_ref names its own repository's file.
    assert "workflow_call" not in deploy["on"]
    jobs = deploy["jobs"]
    assert "environment" not in jobs["build"]  # its subject is the branch's: the build role's
    for env in dev.environments:
        # The subjects the deploy role of that environment trusts: the deploy in the environment, what
        # follows it in the reviewer-free `<env>-rollback`.
        assert jobs[f"deploy-{env.name}"]["environment"] == {"name": env.name}
        for job in (f"validate-{env.name}", f"evidence-{env.name}", f"rollback-{env.name}"):
            assert jobs[job]["environment"] == {"name": f"{env.name}-rollback"}
        trusted = spec.github_subjects(policy(env.name))
        environments = {jobs[f"{kind}-{env.name}"]["environment"]["name"] for kind in ("deploy", "rollback")}
        assert trusted == sorted(f"repo:acme/aos:environment:{name}" for name in environments)


# -- permissions ---------------------------------------------------------------------------------


def grants(document: dict[str, Any]) -> dict[str, Any]:
    """action -> the resources it is allowed on (each action in one statement only)."""
    found: dict[str, Any] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert action not in found, action
            found[action] = statement["Resource"]
    return found


def test_the_build_role_pushes_into_the_service_repositories_only() -> None:
    dev = gated()
    repositories = [f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{name}" for name in ("aos", "web")]
    assert grants(spec.build_image_policy(dev)) == {
        "ecr:GetAuthorizationToken": "*",  # the action has no resource-level permissions
        "ecr:BatchCheckLayerAvailability": repositories,
        **dict.fromkeys(sorted(ECR_WRITES), repositories),
        # the build job scans the image it pushed, reading it back by digest
        "ecr:BatchGetImage": repositories,
        "ecr:GetDownloadUrlForLayer": repositories,
    }


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_no_deploy_role_can_push(environment: str) -> None:
    permissions = grants(spec.deploy_image_policy(gated(environment, eksClusterName="platform")))
    assert not ECR_WRITES & set(permissions)
    assert not [a for a in permissions if "*" in a or a.startswith(("iam:", "ecr:Put", "ecr:Delete"))]
    assert {a for a in permissions if a.startswith("ecr:")} == {
        "ecr:GetAuthorizationToken",
        *spec.ECR_PULL_ACTIONS,
    }
    assert permissions["eks:DescribeCluster"] == [f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/platform"]


def test_the_build_variables_come_from_the_registry_stack_only() -> None:
    assert spec.build_variables(gated("dev")) == (
        ("AWS_BUILD_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-build"),
        ("AWS_BUILD_REGION", "eu-west-1"),
        ("IMAGE_REGISTRY", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"),
    )
    assert spec.build_variables(gated("staging")) == ()
    assert spec.build_variables(gated("dev", registryEnvironment="staging")) == ()
    moved = spec.build_variables(gated("staging", registryEnvironment="staging"))
    assert [name for name, _ in moved] == ["AWS_BUILD_ROLE_ARN", "AWS_BUILD_REGION", "IMAGE_REGISTRY"]
    assert spec.build_role_arn(gated("production")) == f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-build"
    assert spec.registry_url(gated("production")) == f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"


def patterns(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(operator, key, value) of every condition value IAM would read as a pattern."""
    found = []
    for statement in document["Statement"]:
        for operator, block in statement["Condition"].items():
            for key, expected in block.items():
                values = [expected] if isinstance(expected, str) else expected
                found += [(operator, key, v) for v in values if "*" in v or "?" in v]
    return found


def test_the_flag_policy_is_scoped_to_this_environment() -> None:
    arns = spec.AppConfigArns(
        application="arn:aws:appconfig:eu-west-1:1:application/app1",
        environment="arn:aws:appconfig:eu-west-1:1:application/app1/environment/env1",
        configuration_profile="arn:aws:appconfig:eu-west-1:1:application/app1/configurationprofile/p1",
        deployment_strategy="arn:aws:appconfig:eu-west-1:1:deploymentstrategy/s1",
    )
    document = spec.deploy_flag_policy(arns)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["StartFlagDeployments"]["Resource"] == [
        arns.application,
        arns.environment,
        arns.configuration_profile,
        arns.deployment_strategy,
    ]
    assert by_sid["WatchAndStopFlagDeployments"]["Resource"] == [f"{arns.environment}/deployment/*"]
    assert by_sid["PublishFlagVersions"]["Resource"] == [
        arns.configuration_profile,
        f"{arns.configuration_profile}/hostedconfigurationversion/*",
    ]
    actions = [a for s in document["Statement"] for a in s["Action"]]
    assert sorted(actions) == [
        "appconfig:CreateHostedConfigurationVersion",
        "appconfig:GetDeployment",
        "appconfig:StartDeployment",
        "appconfig:StopDeployment",
    ]


def test_policies_serialise_canonically() -> None:
    text = spec.policy_json({"b": 1, "a": [1, {"d": 2, "c": 3}]})
    assert text == '{"a":[1,{"c":3,"d":2}],"b":1}'


# -- alarms ----------------------------------------------------------------------------------


def test_alarm_evaluation_follows_the_prometheus_hold_times() -> None:
    alarms = {a.criterion: a for a in spec.rollback_alarms(policy())}
    assert alerts.ROLLBACK_FOR == "2m" and alerts.HEALTH_FOR == "1m"
    assert (alarms["error-rate"].evaluation_periods, alarms["error-rate"].datapoints_to_alarm) == (2, 2)
    assert (alarms["p99-latency"].evaluation_periods, alarms["p99-latency"].datapoints_to_alarm) == (2, 2)
    assert (alarms["unhealthy-hosts"].evaluation_periods, alarms["unhealthy-hosts"].datapoints_to_alarm) == (
        1,
        1,
    )
    assert {a.treat_missing_data for a in alarms.values()} == {"notBreaching"}
    assert {a.period for a in alarms.values()} == {60}


def test_the_error_rate_is_judged_only_with_enough_requests() -> None:
    expression = spec.error_rate_expression(25)
    assert expression == "IF(requests >= 25, FILL(errors, 0) / requests, 0)"
    (ratio,) = [q for q in next(iter(spec.rollback_alarms(policy()))).queries if q.return_data]
    assert ratio.expression == spec.error_rate_expression(10)  # minRequestsPerMinute's default


def test_the_composite_ors_every_criterion() -> None:
    composite = spec.rollback_composite(policy("staging"))
    names = [a.name for a in spec.rollback_alarms(policy("staging"))]
    assert composite.rule == " OR ".join(f'ALARM("{n}")' for n in names)
    assert composite.channels == ("oncall", "platform")
    assert spec.alarm_names(policy("staging"))["rollback"] == "delivery-gate-staging-rollback"


# -- flags -----------------------------------------------------------------------------------

FLAGS = [
    {
        "key": "zeta",
        "owner": "a",
        "expires": "2099-01-01",
        "issue": "https://x/1",
        "environments": {"dev": True},
    },
    {"key": "alpha", "owner": "a", "expires": "2099-01-01", "issue": "https://x/2", "description": "A"},
]


def test_the_flag_document_is_the_appconfig_format_sorted_and_off_by_default() -> None:
    dev = with_values(policy("dev"), flags=FLAGS)
    assert spec.flag_document(dev) == {
        "version": "1",
        "flags": {"alpha": {"name": "alpha", "description": "A"}, "zeta": {"name": "zeta"}},
        "values": {"alpha": {"enabled": False}, "zeta": {"enabled": True}},
    }
    text = spec.flag_document_json(dev)
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert list(json.loads(text)["flags"]) == ["alpha", "zeta"]
    staging = with_values(policy("staging"), flags=FLAGS)
    assert spec.flag_document(staging)["values"]["zeta"] == {"enabled": False}
    assert spec.flag_document(policy()) == {"version": "1", "flags": {}, "values": {}}


@pytest.mark.parametrize(
    ("first", "steps"),
    [(5, [5, 10, 20, 40, 80, 100]), (25, [25, 50, 100]), (50, [50, 100]), (100, [100])],
)
def test_exponential_growth_steps(first: int, steps: list[int]) -> None:
    assert spec.exponential_steps(first) == steps


def test_the_deployment_strategy_spreads_the_canary_time() -> None:
    strategy = spec.deployment_strategy(policy())
    assert (strategy.growth_type, strategy.growth_factor) == ("EXPONENTIAL", 5)
    assert (strategy.deployment_duration_in_minutes, strategy.final_bake_time_in_minutes) == (30, 10)
    assert strategy.replicate_to == "NONE"
    odd = with_values(policy(), rollout={"stages": [20, 100], "bakeTime": "90s"})
    strategy = spec.deployment_strategy(odd)
    assert (strategy.deployment_duration_in_minutes, strategy.final_bake_time_in_minutes) == (2, 2)
    # The loader refuses this already (tests/test_hostile_configs.py); the renderer's own guard stays.
    base = policy()
    too_long = base.model_copy(update={"rollout": base.rollout.model_copy(update={"bake_time": "10h"})})
    with pytest.raises(ValueError, match="at most 1440"):
        spec.deployment_strategy(too_long)


# -- KMS and SNS -----------------------------------------------------------------------------


def test_the_key_and_topics_admit_prometheus_only_when_enabled() -> None:
    plain, amp = policy(), policy(managedPrometheus=True)
    assert spec.alarm_publishers(plain) == ["cloudwatch.amazonaws.com"]
    assert spec.alarm_publishers(amp) == ["cloudwatch.amazonaws.com", "aps.amazonaws.com"]
    admin = spec.key_policy(plain)["Statement"][0]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statement = spec.topic_policy(amp, "sre")["Statement"][0]
    assert statement["Principal"]["Service"] == ["cloudwatch.amazonaws.com", "aps.amazonaws.com"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert statement["Resource"] == f"arn:aws:sns:eu-west-1:{ACCOUNT}:delivery-gate-dev-sre"


# -- Amazon Managed Prometheus ---------------------------------------------------------------


def test_the_workspace_uses_the_cluster_rules_and_routes() -> None:
    amp = policy(managedPrometheus=True)
    assert spec.prometheus_rules_yaml(amp) == alerts.rules_yaml(amp)
    cluster = alerts.alertmanager_document(amp)
    workspace = spec.prometheus_alertmanager_document(amp)
    assert workspace["route"] == cluster["route"]
    assert workspace["inhibit_rules"] == cluster["inhibit_rules"]
    assert [r["name"] for r in workspace["receivers"]] == [r["name"] for r in cluster["receivers"]]
    for receiver in workspace["receivers"]:
        assert set(receiver) == {"name", "sns_configs"}  # AMP delivers through SNS only
        assert receiver["sns_configs"][0]["topic_arn"] == spec.topic_arn(amp, receiver["name"])
    definition = yaml.safe_load(spec.prometheus_alertmanager_definition(amp))
    assert set(definition) == {"alertmanager_config"}
    assert yaml.safe_load(definition["alertmanager_config"]) == json.loads(json.dumps(workspace))


def test_promtool_accepts_the_workspace_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        spec.prometheus_rules_yaml(policy("production", managedPrometheus=True)), encoding="utf-8"
    )
    result = prom_tools.check_rules(path)
    assert result.returncode == 0, prom_tools.output(result)


def test_amtool_accepts_the_workspace_config_and_rejects_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(spec.prometheus_alertmanager_yaml(policy(managedPrometheus=True)), encoding="utf-8")
    result = prom_tools.check_config(good)
    assert result.returncode == 0, prom_tools.output(result)
    document = spec.prometheus_alertmanager_document(policy(managedPrometheus=True))
    document["receivers"][0]["sns_configs"][0]["topic_arn"] = ""  # SNS needs a topic or target
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = prom_tools.check_config(broken)
    assert result.returncode != 0, prom_tools.output(result)


# -- state backend ---------------------------------------------------------------------------

STATE = {
    "accountId": ACCOUNT,
    "region": "eu-central-1",
    "bucketName": "acme-state",
    "secretsKeyAlias": "alias/s",
}


def test_the_state_backend_strings_pulumi_needs() -> None:
    settings = spec.load_state_backend(STATE, source="stacks/Pulumi.x.yaml")
    assert spec.login_url(settings) == "s3://acme-state?region=eu-central-1&awssdk=v2"
    assert spec.secrets_provider(settings) == "awskms://alias/s?region=eu-central-1"
    assert settings.state_key_alias == "alias/acme-state"
    (statement,) = spec.tls_only_bucket_policy(settings)["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == ["arn:aws:s3:::acme-state", "arn:aws:s3:::acme-state/*"]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("bucketName", "Acme.State", "an S3 bucket name"),
        ("bucketName", "xn--state", "an S3 bucket name"),
        ("accountId", "12345", "12 digits"),
        ("region", "europe", "an AWS region"),
        ("secretsKeyAlias", "alias/aws/sns", "a KMS alias"),
        ("secretsKeyAlias", "pulumi-secrets", "a KMS alias"),
    ],
)
def test_a_bad_state_backend_value_names_file_key_value_and_what_is_allowed(
    key: str, value: str, allowed: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        spec.load_state_backend({**STATE, key: value}, source="stacks/Pulumi.org.yaml")
    message = str(raised.value)
    assert message.startswith("stacks/Pulumi.org.yaml: invalid delivery-gate configuration (1 problem(s))")
    assert f"delivery-gate-bootstrap:{key}: got {value!r}; allowed: {allowed}" in message


def test_missing_and_unknown_state_backend_keys_are_reported_together() -> None:
    values = {"region": "eu-west-1", "bucket": "acme-state"}
    with pytest.raises(PolicyError) as raised:
        spec.load_state_backend(values, source="stacks/Pulumi.org.yaml")
    rendered = [p.render() for p in raised.value.problems]
    assert rendered == [
        "delivery-gate-bootstrap:bucket: got 'acme-state'; unknown key; allowed: accountId, bucketName, "
        "region, secretsKeyAlias",
        "delivery-gate-bootstrap:accountId: got (missing); required",
        "delivery-gate-bootstrap:bucketName: got (missing); required",
    ]


# -- the pull-request roles: cluster credentials for the disposable environments ------------------


def hosting(environment: str = "dev", *, organization: bool = False, **aws: Any) -> GatePolicy:
    """A stack with the dev EKS cluster; aos with a merge queue, web without."""
    repositories = [
        {"name": "aos", "mergeQueue": True},
        {"name": "web", "owner": "zeta", "defaultBranch": "trunk"},
    ]
    values: dict[str, Any] = {
        "environment": environment,
        "repositories": repositories,
        "aws": {"accountId": ACCOUNT, "loadBalancer": LOAD_BALANCER, "eksClusterName": "aos-dev", **aws},
    }
    if organization:
        values["mergeGate"] = {
            "mode": "organization",
            "organization": {"centralRepository": "gate-workflows"},
        }
    return load_policy(values, stack=STACK_OF[environment], github_owner="acme")


def e2e_token(
    repo: str = "acme/aos", number: int = 7, workflow: str = "e2e-parity-check.yml"
) -> dict[str, str]:
    return token(repo, pull_request=True, ref=f"refs/pull/{number}/merge", workflow=workflow)


QUEUE = "refs/heads/gh-readonly-queue/main/pr-7-0123abc"
# (who, their job's token, whether it gets acme/aos's pull-request role)
AOS_PULL_REQUEST_ROLE = [
    ("the e2e check of a pull request of acme/aos", e2e_token(), True),
    ("the same for another pull request", e2e_token(number=123), True),
    ("the e2e check in acme/aos's merge queue", token(ref=QUEUE, workflow="e2e-parity-check.yml"), True),
    ("the janitor on the default branch", token(workflow="ephemeral-janitor.yml"), True),
    ("another workflow of the pull request", e2e_token(workflow="ci.yml"), False),
    ("the janitor edited in a pull request", e2e_token(workflow="ephemeral-janitor.yml"), False),
    (
        "the janitor dispatched from a feature branch",
        token(ref="refs/heads/feature", workflow="ephemeral-janitor.yml"),
        False,
    ),
    ("the e2e check called by deploy.yml on main", token(workflow="e2e-parity-check.yml"), False),
    ("a deploy job", token(environment="dev"), False),
    ("the build job", token(), False),
    ("another repository's pull request", e2e_token("zeta/web"), False),
    ("a repository named like it, of another owner", e2e_token("evil/aos"), False),
    ("another workflow in the merge queue", token(ref=QUEUE, workflow="ci.yml"), False),
    (
        "a token without job_workflow_ref",
        token(pull_request=True, ref="refs/pull/7/merge", workflow_ref=False),
        False,
    ),
    ("another audience", {**e2e_token(), AUD: "https://github.com/acme"}, False),
]


@pytest.mark.parametrize(
    ("who", "claims", "allowed"), AOS_PULL_REQUEST_ROLE, ids=[w for w, _, _ in AOS_PULL_REQUEST_ROLE]
)
def test_who_assumes_a_repositorys_pull_request_role(who: str, claims: dict[str, str], allowed: bool) -> None:
    dev = hosting()
    aos = dev.repositories[0]
    assert assumes(spec.e2e_trust_policy(dev, aos), claims) is allowed, who


def test_without_a_merge_queue_the_queue_gets_nothing_and_branches_are_exact() -> None:
    dev = hosting()
    web = dev.repositories[1]
    trust = spec.e2e_trust_policy(dev, web)
    assert assumes(trust, e2e_token("zeta/web"))
    assert assumes(trust, token("zeta/web", ref="refs/heads/trunk", workflow="ephemeral-janitor.yml"))
    queue = token(
        "zeta/web", ref="refs/heads/gh-readonly-queue/trunk/pr-1-0a", workflow="e2e-parity-check.yml"
    )
    assert not assumes(trust, queue)
    assert not assumes(trust, token("zeta/web", workflow="ephemeral-janitor.yml"))  # main is not its default
    assert [s["Sid"] for s in trust["Statement"]] == [
        "E2eCheckOfThisRepositorysPullRequests",
        "EphemeralJanitorOnTheDefaultBranch",
    ]


def test_in_organisation_mode_only_the_central_e2e_workflow_gets_the_role() -> None:
    dev = hosting(organization=True)
    aos = dev.repositories[0]
    trust = spec.e2e_trust_policy(dev, aos)
    # The file aos's group shares in the central repository (issue 14 item 4).
    file = central_file(dev, aos, "e2e-parity-check.yml")
    central = f"acme/gate-workflows/.github/workflows/{file}@refs/heads/delivery-gate"
    assert assumes(trust, {**e2e_token(), WORKFLOW_REF: central})
    assert assumes(trust, {**token(ref=QUEUE), WORKFLOW_REF: central})
    # Another repository's pull request runs that same shared file: the role stays aos's.
    assert not assumes(trust, {**e2e_token("acme/api"), WORKFLOW_REF: central})
    # The repository's own copy, which a pull request could edit, gets nothing.
    assert not assumes(trust, e2e_token())
    assert not assumes(trust, token(ref=QUEUE, workflow="e2e-parity-check.yml"))
    edited = f"acme/gate-workflows/.github/workflows/{file}@refs/heads/feature"
    assert not assumes(trust, {**e2e_token(), WORKFLOW_REF: edited})
    assert assumes(trust, token(workflow="ephemeral-janitor.yml"))


def test_a_pull_request_role_describes_one_cluster_and_nothing_else() -> None:
    dev = hosting()
    assert grants(spec.e2e_role_policy(dev)) == {
        "eks:DescribeCluster": [f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/aos-dev"]
    }
    aos, web = dev.repositories
    assert spec.e2e_role_name(aos) == "delivery-gate-e2e-aos"
    assert spec.pr_namespace_scope(aos) == ["aos-pr-*"] and spec.pr_namespace_scope(web) == ["web-pr-*"]
    assert spec.e2e_kubernetes_group(web) == "delivery-gate-pr-web"
    assert spec.e2e_access_policy_arn(dev) == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
    assert spec.e2e_access_policy_arn(hosting(region="cn-north-1")).startswith("arn:aws-cn:eks::aws:")


def test_the_pull_request_variables_come_from_the_first_environments_stack_only() -> None:
    dev = hosting()
    aos, web = dev.repositories
    assert spec.e2e_variables(dev, aos) == (
        ("AWS_E2E_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-e2e-aos"),
        ("AWS_E2E_REGION", "eu-west-1"),
        ("AWS_E2E_EKS_CLUSTER", "aos-dev"),
    )
    assert spec.e2e_variables(dev, web)[0] == (
        "AWS_E2E_ROLE_ARN",
        f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-e2e-web",
    )
    assert spec.e2e_variables(hosting("staging"), aos) == ()  # not the first environment
    assert spec.e2e_variables(gated("dev"), aos) == ()  # no EKS cluster: nothing to reach


def test_only_the_repositories_that_deploy_are_trusted_by_the_deploy_roles() -> None:
    # Issue 13: by default the first gated repository builds and deploys the application; another
    # one (a frontend gated for merging) gets no deploy workflow, so no role may trust it.
    values = {
        "environment": "staging",
        "repositories": [{"name": "aos"}, {"name": "web"}],
        "aws": {"accountId": ACCOUNT, "loadBalancer": LOAD_BALANCER},
    }
    gated = load_policy(values, stack="staging", github_owner="acme")
    assert [repo.name for repo in gated.deploying_repositories] == ["aos"]
    assert spec.github_subjects(gated) == [
        "repo:acme/aos:environment:staging",
        "repo:acme/aos:environment:staging-rollback",
    ]
    assert spec.deploy_workflow_refs(gated) == ["acme/aos/.github/workflows/deploy.yml@refs/heads/main"]
    assert spec.build_subjects(gated) == ["repo:acme/aos:ref:refs/heads/main"]
    assert spec.image_repositories(gated) == ("aos",)
    named = load_policy(
        {**values, "application": {"repositories": ["web"]}}, stack="staging", github_owner="acme"
    )
    assert spec.deploy_workflow_refs(named) == ["acme/web/.github/workflows/deploy.yml@refs/heads/main"]
    assert named.application.name == "web"
