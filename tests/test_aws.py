"""AwsFoundation as the offline plan records it: a throwaway program run by gate.engine.run_program,
so every resource is seen with its type, name, parent, inputs (camelCase, as the provider gets them)
and options, exactly as `python -m gate plan` would write them."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from gate.aws import foundation as spec
from gate.components.aws import AwsFoundation
from gate.github import automation
from gate.offline.engine import (
    SECRET_PLACEHOLDER,
    UNKNOWN_PLACEHOLDER,
    Recording,
    RegisteredResource,
    run_program,
)
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.runtime import alerts, relay
from tests.support import prom_tools

ACCOUNT = "123456789012"
REGION = "eu-west-1"
LOAD_BALANCER = {
    "loadBalancer": "app/aos-dev/50dc6c495c0c9188",
    "targetGroup": "targetgroup/aos-dev/943f017f100becff",
}
CHATBOT = {
    "slackTeamId": "T01234567",
    "oncallChannelId": "C0000ONCALL",
    "platformChannelId": "C000PLATFRM",
    "sreChannelId": "C000000SRE1",
}
REPOSITORIES = [{"name": "aos"}, {"name": "web", "owner": "acme-labs"}]
FLAGS = [
    {
        "key": "new-checkout",
        "owner": "platform",
        "expires": "2099-01-01",
        "issue": "https://github.com/acme/aos/issues/1",
        "description": "The new checkout flow",
        "environments": {"dev": True, "staging": True},
    },
    {
        "key": "dark-mode",
        "owner": "platform",
        "expires": "2099-01-01",
        "issue": "https://github.com/acme/aos/issues/2",
    },
]
STACK_OF = {"dev": "dev", "staging": "staging", "production": "prod"}

PROVIDER = "pulumi:providers:aws"
COMPONENT = "delivery-gate:aws:AwsFoundation"
KEY, ALIAS = "aws:kms/key:Key", "aws:kms/alias:Alias"
REPOSITORY, LIFECYCLE = "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
TOPIC = "aws:sns/topic:Topic"
CHATBOT_CHANNEL = "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"
METRIC_ALARM, COMPOSITE_ALARM = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)
APPLICATION = "aws:appconfig/application:Application"
APPCONFIG_ENV = "aws:appconfig/environment:Environment"
PROFILE = "aws:appconfig/configurationProfile:ConfigurationProfile"
VERSION = "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion"
STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
DEPLOYMENT = "aws:appconfig/deployment:Deployment"
WORKSPACE = "aws:amp/workspace:Workspace"
RULES = "aws:amp/ruleGroupNamespace:RuleGroupNamespace"
ALERTMANAGER = "aws:amp/alertManagerDefinition:AlertManagerDefinition"
# The alert relay (gate/runtime/relay.py) on Lambda, subscribed to the relay topic.
FUNCTION, PERMISSION = "aws:lambda/function:Function", "aws:lambda/permission:Permission"
SECRET, SECRET_VERSION = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion"
LOG_GROUP, SUBSCRIPTION = "aws:cloudwatch/logGroup:LogGroup", "aws:sns/topicSubscription:TopicSubscription"
RELAY = {FUNCTION, PERMISSION, SECRET, LOG_GROUP, SUBSCRIPTION}
# GATE-OBS-01: the rollback alarms' dashboard (gate/runtime/dashboards.py; tests/test_dashboards.py).
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"

ALWAYS = {COMPONENT, PROVIDER, KEY, ALIAS, OIDC, ROLE, ROLE_POLICY, TOPIC, METRIC_ALARM, COMPOSITE_ALARM}
ALWAYS |= {APPLICATION, APPCONFIG_ENV, PROFILE, VERSION, STRATEGY, DEPLOYMENT} | RELAY
ALWAYS |= {DASHBOARD}

PROGRAM = """
import json

import pulumi

from gate.components.aws import AwsFoundation
from gate.policy.loader import load_policy

policy = load_policy(json.loads(VALUES), stack=STACK, github_owner="acme")
foundation = AwsFoundation("aws-" + policy.environment, policy)
pulumi.export("deployRoleArn", foundation.deploy_role_arn)
pulumi.export("oidcProviderArn", foundation.oidc_provider_arn)
pulumi.export("topicArns", foundation.topic_arns)
pulumi.export("repositoryUrls", foundation.repository_urls)
pulumi.export("alarmNames", foundation.alarm_names)
pulumi.export("flagDocument", foundation.flag_document)
"""


def stack_values(environment: str = "dev", *, flags: bool = True, **aws: Any) -> dict[str, Any]:
    values = {
        "environment": environment,
        "repositories": REPOSITORIES,
        # Both build and deploy the application (by default only the first would, issue 13).
        "application": {"repositories": [r["name"] for r in REPOSITORIES]},
        "flags": FLAGS if flags else [],
        "aws": {"accountId": ACCOUNT, "region": REGION, "loadBalancer": LOAD_BALANCER, **aws},
    }
    if aws.get("deployFromReleaseBranches"):
        values["mergeGate"] = {"mode": "rulesets"}  # a ruleset restricts creating release branches
    return values


def policy_of(values: dict[str, Any]) -> GatePolicy:
    return load_policy(values, stack=STACK_OF[values["environment"]], github_owner="acme")


Declare = Callable[[dict[str, Any]], Recording]


@pytest.fixture(scope="module")
def declare(tmp_path_factory: pytest.TempPathFactory) -> Declare:
    """Run the throwaway program for a stack's values (each distinct set once per module)."""
    cache: dict[str, Recording] = {}

    def run(values: dict[str, Any]) -> Recording:
        text = json.dumps(values, sort_keys=True)
        if text not in cache:
            directory = tmp_path_factory.mktemp("aws-program")
            stack = STACK_OF[values["environment"]]
            program = directory / "__main__.py"
            header = f"VALUES = {text!r}\nSTACK = {stack!r}\n"
            program.write_text(header + textwrap.dedent(PROGRAM), encoding="utf-8")
            cache[text] = run_program(program, project="delivery-gate", stack=stack, config={})
        return cache[text]

    return run


def of_type(recording: Recording, type_: str) -> list[RegisteredResource]:
    return sorted((r for r in recording.resources if r.type == type_), key=lambda r: r.name)


def one(recording: Recording, type_: str, name: str | None = None) -> RegisteredResource:
    found = [r for r in of_type(recording, type_) if name is None or r.name == name]
    assert len(found) == 1, [r.name for r in of_type(recording, type_)]
    return found[0]


def document(resource: RegisteredResource, key: str = "policy") -> Any:
    text = resource.inputs[key]
    assert isinstance(text, str) and text not in (UNKNOWN_PLACEHOLDER, SECRET_PLACEHOLDER), text
    return json.loads(text)


def component_outputs(recording: Recording) -> dict[str, Any]:
    outputs = one(recording, COMPONENT).outputs
    assert outputs is not None
    return outputs


def actions_of(policy_document: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in policy_document["Statement"]:
        action = statement["Action"]
        actions += [action] if isinstance(action, str) else action
    return actions


# -- shape -------------------------------------------------------------------------------------


def test_declares_exactly_the_expected_resource_types(declare: Declare) -> None:
    full = declare(stack_values(chatbot=CHATBOT, managedPrometheus=True))
    expected = ALWAYS | {REPOSITORY, LIFECYCLE, CHATBOT_CHANNEL, WORKSPACE, RULES, ALERTMANAGER}
    assert {r.type for r in full.resources} == expected
    minimal = declare(stack_values("staging"))
    assert {r.type for r in minimal.resources} == ALWAYS


def test_children_are_named_after_the_component_and_parented_to_it(declare: Declare) -> None:
    recording = declare(stack_values(chatbot=CHATBOT, managedPrometheus=True))
    component = one(recording, COMPONENT)
    assert component.name == "aws-dev"
    for resource in recording.resources:
        if resource is component:
            continue
        assert resource.name.startswith("aws-dev-"), resource.name
        assert resource.parent == component.urn, resource.name
    assert len({r.name for r in recording.resources}) == len(recording.resources)


def test_one_provider_pinned_to_the_account_serves_every_resource(declare: Declare) -> None:
    recording = declare(stack_values(chatbot=CHATBOT, managedPrometheus=True))
    provider = one(recording, PROVIDER)
    # The SDK hands non-string provider inputs to the engine as JSON text.
    assert json.loads(provider.inputs["allowedAccountIds"]) == [ACCOUNT]
    assert provider.inputs["region"] == REGION
    assert json.loads(provider.inputs["defaultTags"]) == {
        "tags": {"environment": "dev", "managed-by": "delivery-gate"}
    }
    for resource in recording.resources:
        if resource.type.startswith("aws:"):
            assert resource.options["provider"] == provider.urn, resource.name


def test_the_component_refuses_a_stack_without_aws() -> None:
    policy = load_policy(
        {"environment": "dev", "repositories": REPOSITORIES}, stack="dev", github_owner="acme"
    )
    with pytest.raises(ValueError, match="sets no delivery-gate:aws"):
        AwsFoundation("aws-dev", policy)


# -- registry --------------------------------------------------------------------------------


def test_only_the_registry_environment_declares_the_repositories(declare: Declare) -> None:
    assert [r.inputs["name"] for r in of_type(declare(stack_values("dev")), REPOSITORY)] == ["aos", "web"]
    assert of_type(declare(stack_values("staging")), REPOSITORY) == []
    assert of_type(declare(stack_values("production")), REPOSITORY) == []
    moved = stack_values("staging", registryEnvironment="staging")
    assert [r.inputs["name"] for r in of_type(declare(moved), REPOSITORY)] == ["aos", "web"]
    assert of_type(declare(stack_values("dev", registryEnvironment="staging")), REPOSITORY) == []


def test_every_stack_outputs_the_repository_urls(declare: Declare) -> None:
    for environment in ("dev", "staging"):
        outputs = declare(stack_values(environment)).outputs
        assert outputs["repositoryUrls"] == {
            "aos": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/aos",
            "web": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web",
        }


def test_repositories_are_immutable_scanned_encrypted_and_always_protected(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    key = one(recording, KEY)
    for repository in of_type(recording, REPOSITORY):
        inputs = repository.inputs
        assert inputs["imageTagMutability"] == "IMMUTABLE"
        assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert inputs["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": UNKNOWN_PLACEHOLDER}
        ]
        assert key.urn in repository.options["dependsOn"]  # the unknown ARN is the key's
        assert inputs["forceDelete"] is False
        assert repository.options["protect"] is True  # even in dev: images are rollback targets
    assert key.options["protect"] is True


def test_each_repository_has_the_lifecycle_policy(declare: Declare) -> None:
    recording = declare(stack_values("dev", imageRetention={"keepLast": 30, "untaggedDays": 3}))
    policies = of_type(recording, LIFECYCLE)
    assert sorted(p.inputs["repository"] for p in policies) == ["aos", "web"]
    for lifecycle in policies:
        untagged, tagged = document(lifecycle)["rules"]
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 3,
        }
        assert tagged["selection"]["tagStatus"] == "tagged"
        assert tagged["selection"]["countType"] == "imageCountMoreThan"
        assert tagged["selection"]["countNumber"] == 30
        assert (untagged["rulePriority"], tagged["rulePriority"]) == (1, 2)
        assert {untagged["action"]["type"], tagged["action"]["type"]} == {"expire"}


# -- GitHub OIDC and the deploy role -----------------------------------------------------------


def role_named(recording: Recording, name: str) -> RegisteredResource:
    (role,) = [r for r in of_type(recording, ROLE) if r.inputs["name"] == name]
    return role


OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
AUD = "token.actions.githubusercontent.com:aud"
SUB = "token.actions.githubusercontent.com:sub"
WORKFLOW_REF = "token.actions.githubusercontent.com:job_workflow_ref"
DEPLOY_WORKFLOW_REFS = [
    "acme-labs/web/.github/workflows/deploy.yml@refs/heads/main",
    "acme/aos/.github/workflows/deploy.yml@refs/heads/main",
]
EMERGENCY_WORKFLOW_REFS = [
    "acme-labs/web/.github/workflows/emergency-deploy.yml@refs/heads/main",
    "acme/aos/.github/workflows/emergency-deploy.yml@refs/heads/main",
]
ECR_WRITES = {"ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"}
REPOSITORY_ARNS = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}" for name in ("aos", "web")]


def only_statement(trust: dict[str, Any]) -> dict[str, Any]:
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    return statement  # type: ignore[no-any-return]


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_the_deploy_role_trusts_exactly_the_gate_deploy_workflow_in_this_environment(
    declare: Declare, environment: str
) -> None:
    recording = declare(stack_values(environment))
    role = role_named(recording, f"delivery-gate-deploy-{environment}")
    statement, alert_rollback, *drill = document(role, "assumeRolePolicy")["Statement"]
    # Issue 12, part drill: only the drilled environment (staging) also trusts rollback-drill.yml
    # (tests/test_drill.py checks that statement).
    assert [s["Sid"] for s in drill] == (
        ["GateRollbackDrillOnTheDefaultBranch"] if environment == "staging" else []
    )
    # The runtime rollback of the alert relay's workflow (gate/github/automation.py), exactly as narrow.
    assert alert_rollback["Sid"] == "GateAlertRollbackOnTheDefaultBranch"
    assert alert_rollback["Principal"] == {"Federated": OIDC_ARN}
    assert alert_rollback["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            SUB: [f"repo:acme/aos:environment:{environment}-rollback"],
            WORKFLOW_REF: ["acme/aos/.github/workflows/mismatch-automation.yml@refs/heads/main"],
        }
    }
    statement = only_statement({"Statement": [statement]})
    assert statement["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            # This environment, and its reviewer-free rollback environment (DP: rollback is automatic).
            SUB: [
                f"repo:acme-labs/web:environment:{environment}",
                f"repo:acme-labs/web:environment:{environment}-rollback",
                f"repo:acme/aos:environment:{environment}",
                f"repo:acme/aos:environment:{environment}-rollback",
            ],
            # The gate's deploy.yml on the default branch: not another workflow, not another branch;
            # and its emergency-deploy.yml where an emergency may go (not dev: nothing to skip).
            WORKFLOW_REF: DEPLOY_WORKFLOW_REFS
            if environment == "dev"
            else sorted([*DEPLOY_WORKFLOW_REFS, *EMERGENCY_WORKFLOW_REFS]),
        }
    }
    assert not [c for c in role.inputs["assumeRolePolicy"] if c in "*?"]
    assert role.inputs["maxSessionDuration"] == 3600
    oidc = one(recording, OIDC)
    assert oidc.inputs == {
        "url": "https://token.actions.githubusercontent.com",
        "clientIdLists": ["sts.amazonaws.com"],
    }
    assert oidc.urn in role.options["dependsOn"]
    assert recording.outputs["oidcProviderArn"] == OIDC_ARN


def test_release_branches_add_a_statement_with_a_pattern_on_the_workflow_ref_only(declare: Declare) -> None:
    recording = declare(stack_values("production", deployFromReleaseBranches=True))
    trust = document(role_named(recording, "delivery-gate-deploy-production"), "assumeRolePolicy")
    default, release, _alert_rollback = trust["Statement"]
    assert default["Condition"]["StringEquals"][WORKFLOW_REF] == sorted(
        [*DEPLOY_WORKFLOW_REFS, *EMERGENCY_WORKFLOW_REFS]
    )
    assert "StringLike" not in default["Condition"]
    assert release["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            SUB: [
                "repo:acme-labs/web:environment:production",
                "repo:acme-labs/web:environment:production-rollback",
                "repo:acme/aos:environment:production",
                "repo:acme/aos:environment:production-rollback",
            ],
        },
        "StringLike": {
            WORKFLOW_REF: [
                "acme-labs/web/.github/workflows/deploy.yml@refs/heads/release/*",
                "acme/aos/.github/workflows/deploy.yml@refs/heads/release/*",
            ]
        },
    }


def test_an_existing_oidc_provider_is_trusted_not_declared(declare: Declare) -> None:
    existing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    recording = declare(stack_values("staging", oidcProviderArn=existing))
    assert of_type(recording, OIDC) == []
    trust = document(role_named(recording, "delivery-gate-deploy-staging"), "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Federated": existing}
    dev = declare(stack_values("dev", oidcProviderArn=existing))
    build = role_named(dev, "delivery-gate-build")
    assert document(build, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Federated": existing}
    assert build.options["dependsOn"] == []


def build_roles(recording: Recording) -> list[RegisteredResource]:
    return [r for r in of_type(recording, ROLE) if r.inputs["name"] == "delivery-gate-build"]


def test_only_the_registry_stack_declares_the_build_role(declare: Declare) -> None:
    assert len(build_roles(declare(stack_values("dev")))) == 1
    assert build_roles(declare(stack_values("staging"))) == []
    assert build_roles(declare(stack_values("production"))) == []
    assert len(build_roles(declare(stack_values("staging", registryEnvironment="staging")))) == 1
    assert build_roles(declare(stack_values("dev", registryEnvironment="staging"))) == []
    assert "buildRoleArn" not in component_outputs(declare(stack_values("staging")))


def test_the_build_role_trusts_only_the_deploy_workflow_outside_environments_on_main(
    declare: Declare,
) -> None:
    recording = declare(stack_values("dev"))
    (role,) = build_roles(recording)
    statement = only_statement(document(role, "assumeRolePolicy"))
    assert statement["Condition"] == {
        "StringEquals": {
            AUD: "sts.amazonaws.com",
            # A job in no environment, on the default branch: deploy.yml's build job. Not a pull
            # request (`repo:<r>:pull_request`), not a deploy job (`...:environment:<env>`).
            SUB: ["repo:acme-labs/web:ref:refs/heads/main", "repo:acme/aos:ref:refs/heads/main"],
            WORKFLOW_REF: DEPLOY_WORKFLOW_REFS,
        }
    }
    assert not [c for c in role.inputs["assumeRolePolicy"] if c in "*?"]
    assert role.inputs["maxSessionDuration"] == 3600
    assert one(recording, OIDC).urn in role.options["dependsOn"]
    assert role.options["deleteBeforeReplace"] is True
    arn = f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-build"
    outputs = component_outputs(recording)
    assert outputs["buildRoleArn"] == arn
    assert outputs["registryUrl"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert component_outputs(declare(stack_values("production")))["registryUrl"] == outputs["registryUrl"]


def grants(policy_document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for statement in policy_document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert action not in found, action
            found[action] = statement["Resource"]
    return found


def test_the_build_role_pushes_into_the_service_repositories_only(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    (images,) = [p for p in of_type(recording, ROLE_POLICY) if p.inputs["role"] == "delivery-gate-build"]
    assert images.inputs["name"] == "images"
    assert grants(document(images)) == {
        "ecr:GetAuthorizationToken": "*",
        "ecr:BatchCheckLayerAvailability": REPOSITORY_ARNS,
        **dict.fromkeys(sorted(ECR_WRITES), REPOSITORY_ARNS),
        "ecr:BatchGetImage": REPOSITORY_ARNS,  # the build job scans what it pushed
        "ecr:GetDownloadUrlForLayer": REPOSITORY_ARNS,
    }


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_the_deploy_role_is_least_privilege_and_never_pushes(declare: Declare, environment: str) -> None:
    recording = declare(stack_values(environment))
    (images,) = [p for p in of_type(recording, ROLE_POLICY) if p.name.endswith("-deploy-images")]
    assert images.inputs["role"] == f"delivery-gate-deploy-{environment}"
    permissions = grants(document(images))
    assert not ECR_WRITES & set(permissions)  # images are built once, by the build role
    assert not [a for a in permissions if "*" in a or a.startswith("iam:")]
    assert set(permissions) == {"ecr:GetAuthorizationToken", *spec.ECR_PULL_ACTIONS}
    for action, resources in permissions.items():
        assert resources == ("*" if action == "ecr:GetAuthorizationToken" else REPOSITORY_ARNS), action
    deploy_policies = [
        p for p in of_type(recording, ROLE_POLICY) if p.inputs["role"].startswith("delivery-gate-deploy")
    ]
    assert sorted(p.inputs["name"] for p in deploy_policies) == ["flags", "images"]


def test_the_deploy_role_may_describe_only_the_named_cluster(declare: Declare) -> None:
    recording = declare(stack_values("staging", eksClusterName="platform-eu"))
    (images,) = [p for p in of_type(recording, ROLE_POLICY) if p.name.endswith("-deploy-images")]
    (eks,) = [s for s in document(images)["Statement"] if s["Action"] == ["eks:DescribeCluster"]]
    assert eks["Resource"] == [f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/platform-eu"]


def test_the_flag_permissions_wait_for_the_appconfig_arns(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    (flags,) = [p for p in of_type(recording, ROLE_POLICY) if p.name.endswith("-deploy-flags")]
    # AWS assigns AppConfig ids, so the document (tested in test_aws_renderers) is unknown here.
    assert flags.inputs["policy"] == UNKNOWN_PLACEHOLDER
    assert flags.inputs["role"] == "delivery-gate-deploy-dev"
    appconfig = {
        r.urn for r in recording.resources if r.type in (APPLICATION, APPCONFIG_ENV, PROFILE, STRATEGY)
    }
    assert appconfig <= set(flags.options["dependsOn"])


# -- notifications ---------------------------------------------------------------------------


def test_one_topic_per_channel_encrypted_with_the_environment_key(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    alias = one(recording, ALIAS)
    assert alias.inputs["name"] == "alias/delivery-gate-dev"
    topics = of_type(recording, TOPIC)
    assert sorted(t.inputs["name"] for t in topics) == [
        "delivery-gate-dev-oncall",
        "delivery-gate-dev-platform",
        "delivery-gate-dev-relay",
        "delivery-gate-dev-sre",
    ]
    for topic in topics:
        assert topic.inputs["kmsMasterKeyId"] == "alias/delivery-gate-dev"  # not alias/aws/sns
        assert alias.urn in topic.options["dependsOn"]
        (statement,) = document(topic)["Statement"]
        assert statement["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic.inputs['name']}"
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert declare(stack_values("dev")).outputs["topicArns"] == {
        channel: f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-dev-{channel}"
        for channel in ("oncall", "platform", "sre", "relay")
    }


def test_the_key_lets_only_the_alarm_publishers_encrypt(declare: Declare) -> None:
    key = one(declare(stack_values("dev")), KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    admin, publishers = document(key)["Statement"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert publishers["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert publishers["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    with_amp = one(declare(stack_values("dev", managedPrometheus=True)), KEY)
    assert document(with_amp)["Statement"][1]["Principal"] == {
        "Service": ["cloudwatch.amazonaws.com", "aps.amazonaws.com"]
    }


def test_chatbot_delivers_each_topic_to_its_channel_read_only(declare: Declare) -> None:
    recording = declare(stack_values("dev", chatbot=CHATBOT))
    configurations = {c.inputs["configurationName"]: c.inputs for c in of_type(recording, CHATBOT_CHANNEL)}
    expected_channels = {"oncall": "C0000ONCALL", "platform": "C000PLATFRM", "sre": "C000000SRE1"}
    assert set(configurations) == {f"delivery-gate-dev-{channel}" for channel in expected_channels}
    role = role_named(recording, "delivery-gate-dev-chatbot")
    assert document(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {
        "Service": "chatbot.amazonaws.com"
    }
    for channel, channel_id in expected_channels.items():
        inputs = configurations[f"delivery-gate-dev-{channel}"]
        assert inputs["slackChannelId"] == channel_id
        assert inputs["slackTeamId"] == "T01234567"
        assert inputs["snsTopicArns"] == [f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-dev-{channel}"]
        assert inputs["iamRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-dev-chatbot"
        assert inputs["guardrailPolicyArns"] == ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]
        assert inputs["loggingLevel"] == "ERROR"
    (policy,) = [
        p for p in of_type(recording, ROLE_POLICY) if p.inputs["role"] == "delivery-gate-dev-chatbot"
    ]
    assert all(a.startswith("cloudwatch:") and "*" not in a for a in actions_of(document(policy)))
    assert of_type(declare(stack_values("dev")), CHATBOT_CHANNEL) == []


# -- rollback alarms -------------------------------------------------------------------------


def alarms_by_name(recording: Recording) -> dict[str, dict[str, Any]]:
    return {a.inputs["name"]: a.inputs for a in of_type(recording, METRIC_ALARM)}


def test_every_alarm_ignores_missing_data_and_reads_the_load_balancer(declare: Declare) -> None:
    alarms = alarms_by_name(declare(stack_values("dev")))
    assert set(alarms) == {
        "delivery-gate-dev-error-rate",
        "delivery-gate-dev-p99-latency",
        "delivery-gate-dev-unhealthy-hosts",
    }
    dimensions = {"LoadBalancer": LOAD_BALANCER["loadBalancer"], "TargetGroup": LOAD_BALANCER["targetGroup"]}
    for name, alarm in alarms.items():
        assert alarm["treatMissingData"] == "notBreaching", name
        assert alarm["comparisonOperator"] == "GreaterThanThreshold", name
        metrics = [q["metric"] for q in alarm.get("metricQueries", []) if "metric" in q] or [alarm]
        for metric in metrics:
            assert metric["namespace"] == "AWS/ApplicationELB", name
            assert metric["dimensions"] == dimensions, name
            assert metric["period"] == 60, name


def test_alarm_thresholds_come_from_the_policy(declare: Declare) -> None:
    alarms = alarms_by_name(declare(stack_values("dev")))
    latency = alarms["delivery-gate-dev-p99-latency"]
    assert (latency["metricName"], latency["extendedStatistic"], latency["threshold"]) == (
        "TargetResponseTime",
        "p99",
        0.8,
    )
    assert (latency["evaluationPeriods"], latency["datapointsToAlarm"]) == (2, 2)
    error_rate = alarms["delivery-gate-dev-error-rate"]
    assert error_rate["threshold"] == 0.01
    (ratio,) = [q for q in error_rate["metricQueries"] if q.get("returnData")]
    assert ratio["expression"] == "IF(requests >= 10, FILL(errors, 0) / requests, 0)"
    assert {q["metric"]["metricName"] for q in error_rate["metricQueries"] if "metric" in q} == {
        "HTTPCode_Target_5XX_Count",
        "RequestCount",
    }
    health = alarms["delivery-gate-dev-unhealthy-hosts"]
    assert (health["metricName"], health["statistic"], health["threshold"]) == (
        "UnHealthyHostCount",
        "Minimum",
        0,
    )

    custom = stack_values(
        "dev",
        loadBalancer={**LOAD_BALANCER, "minRequestsPerMinute": 60},
    )
    custom["thresholds"] = {"maxErrorRateIncrease": 0.05, "latency": {"p99TargetMs": 1200}}
    changed = alarms_by_name(declare(custom))
    assert changed["delivery-gate-dev-p99-latency"]["threshold"] == 1.2
    assert changed["delivery-gate-dev-error-rate"]["threshold"] == 0.05
    (ratio,) = [q for q in changed["delivery-gate-dev-error-rate"]["metricQueries"] if q.get("returnData")]
    assert ratio["expression"].startswith("IF(requests >= 60,")


def test_the_rollback_composite_pages_oncall_and_platform(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    composite = one(recording, COMPOSITE_ALARM).inputs
    assert composite["alarmName"] == "delivery-gate-dev-rollback"
    assert composite["alarmRule"] == (
        'ALARM("delivery-gate-dev-error-rate") OR ALARM("delivery-gate-dev-p99-latency") '
        'OR ALARM("delivery-gate-dev-unhealthy-hosts")'
    )
    topics = [f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-dev-{c}" for c in ("oncall", "platform")]
    # ...and acts: ALARM (never OK) also reaches the alert relay's topic.
    assert composite["alarmActions"] == [*topics, f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-dev-relay"]
    assert composite["okActions"] == topics
    for alarm in of_type(recording, METRIC_ALARM):
        assert "alarmActions" not in alarm.inputs  # one page per rollback: the composite's
    assert recording.outputs["alarmNames"] == {
        "error-rate": "delivery-gate-dev-error-rate",
        "p99-latency": "delivery-gate-dev-p99-latency",
        "unhealthy-hosts": "delivery-gate-dev-unhealthy-hosts",
        "rollback": "delivery-gate-dev-rollback",
    }


# -- AppConfig -------------------------------------------------------------------------------


def test_the_appconfig_environment_is_monitored_by_the_rollback_alarms(declare: Declare) -> None:
    recording = declare(stack_values("staging"))
    environment = one(recording, APPCONFIG_ENV).inputs
    assert environment["name"] == "staging"
    assert one(recording, APPLICATION).inputs["name"] == "aos"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-staging-appconfig-monitor"
    assert environment["monitors"] == [
        {
            "alarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:delivery-gate-staging-{c}",
            "alarmRoleArn": role_arn,
        }
        for c in ("error-rate", "p99-latency", "unhealthy-hosts")
    ]
    monitor = role_named(recording, "delivery-gate-staging-appconfig-monitor")
    trust = document(monitor, "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "appconfig.amazonaws.com"}
    (permissions,) = [
        p for p in of_type(recording, ROLE_POLICY) if p.inputs["role"] == monitor.inputs["name"]
    ]
    assert actions_of(document(permissions)) == ["cloudwatch:DescribeAlarms"]


def test_the_flags_are_a_hosted_feature_flag_document(declare: Declare) -> None:
    recording = declare(stack_values("staging"))
    profile = one(recording, PROFILE).inputs
    assert (profile["type"], profile["locationUri"]) == ("AWS.AppConfig.FeatureFlags", "hosted")
    version = one(recording, VERSION)
    assert version.inputs["content"] == SECRET_PLACEHOLDER  # the SDK marks content secret
    assert version.inputs["contentType"] == "application/json"
    flags = json.loads(recording.outputs["flagDocument"])
    assert flags == {
        "version": "1",
        "flags": {
            "dark-mode": {"name": "dark-mode"},
            "new-checkout": {"name": "new-checkout", "description": "The new checkout flow"},
        },
        "values": {"dark-mode": {"enabled": False}, "new-checkout": {"enabled": True}},
    }
    assert component_outputs(recording)["flagDocument"] == recording.outputs["flagDocument"]
    production = json.loads(declare(stack_values("production")).outputs["flagDocument"])
    assert production["values"]["new-checkout"] == {"enabled": False}  # not listed: off


def test_the_deployment_strategy_follows_the_rollout_policy(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    strategy = one(recording, STRATEGY).inputs
    assert strategy["finalBakeTimeInMinutes"] == 10  # rollout.bakeTime 10m
    assert strategy["growthType"] == "EXPONENTIAL"
    assert strategy["growthFactor"] == 5  # the first canary stage
    assert strategy["deploymentDurationInMinutes"] == 30  # a bake time per step before 100 %
    custom = stack_values("dev")
    custom["rollout"] = {"stages": [10, 50, 100], "bakeTime": "5m"}
    changed = one(declare(custom), STRATEGY).inputs
    assert (
        changed["growthFactor"],
        changed["deploymentDurationInMinutes"],
        changed["finalBakeTimeInMinutes"],
    ) == (
        10,
        10,
        5,
    )


def test_the_flag_version_is_deployed_with_the_strategy(declare: Declare) -> None:
    recording = declare(stack_values("dev"))
    deployment = one(recording, DEPLOYMENT)
    assert deployment.inputs["applicationId"] == one(recording, APPLICATION).name + "-id"
    assert deployment.inputs["deploymentStrategyId"] == one(recording, STRATEGY).name + "-id"
    depends = set(deployment.options["dependsOn"])
    assert {one(recording, r).urn for r in (VERSION, APPCONFIG_ENV, PROFILE, STRATEGY)} <= depends
    for resource in (deployment, one(recording, VERSION)):
        assert resource.options["retainOnDelete"] is True  # the version AppConfig rolls back to


class ContentMocks(pulumi.runtime.Mocks):
    """Captures what the plan hides: the (secret) content of the hosted flag version."""

    def __init__(self) -> None:
        self.contents: list[Any] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == VERSION:
            self.contents.append(args.inputs["content"])
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


def test_the_hosted_version_holds_exactly_the_rendered_flag_document() -> None:
    policy = policy_of(stack_values("dev"))
    mocks = ContentMocks()
    pulumi.runtime.set_mocks(mocks, project="delivery-gate", stack="dev")

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[str]:
        return AwsFoundation("aws-dev", policy).flag_document

    program()  # returns once every registration and output has resolved
    (content,) = mocks.contents
    if isinstance(content, dict):  # the mock engine hands a secret over in its envelope
        content = content["value"]
    assert content == spec.flag_document_json(policy)


# -- Amazon Managed Prometheus ---------------------------------------------------------------


def test_managed_prometheus_only_when_enabled(declare: Declare) -> None:
    assert not {WORKSPACE, RULES, ALERTMANAGER} & {r.type for r in declare(stack_values("dev")).resources}
    recording = declare(stack_values("dev", managedPrometheus=True))
    workspace = one(recording, WORKSPACE)
    assert workspace.inputs["kmsKeyArn"] == UNKNOWN_PLACEHOLDER
    assert one(recording, KEY).urn in workspace.options["dependsOn"]
    policy = policy_of(stack_values("dev", managedPrometheus=True))
    rules = one(recording, RULES)
    assert rules.inputs["workspaceId"] == workspace.name + "-id"
    assert rules.inputs["data"] == alerts.rules_yaml(policy)  # the cluster's rules, not a copy
    alertmanager = one(recording, ALERTMANAGER)
    assert {t.urn for t in of_type(recording, TOPIC)} <= set(alertmanager.options["dependsOn"])
    for topic in of_type(recording, TOPIC):
        assert "aps.amazonaws.com" in document(topic)["Statement"][0]["Principal"]["Service"]


def test_the_workspace_rules_pass_promtool(declare: Declare, tmp_path: Path) -> None:
    rules = one(declare(stack_values("dev", managedPrometheus=True)), RULES)
    path = tmp_path / "rules.yml"
    path.write_text(rules.inputs["data"], encoding="utf-8")
    result = prom_tools.check_rules(path)
    assert result.returncode == 0, prom_tools.output(result)
    assert "SUCCESS" in result.stdout, prom_tools.output(result)


def test_the_workspace_alertmanager_config_passes_amtool_and_routes_like_the_cluster(
    declare: Declare, tmp_path: Path
) -> None:
    definition = one(declare(stack_values("dev", managedPrometheus=True)), ALERTMANAGER).inputs["definition"]
    inner = yaml.safe_load(definition)["alertmanager_config"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(inner, encoding="utf-8")
    result = prom_tools.check_config(path)
    assert result.returncode == 0, prom_tools.output(result)
    config = yaml.safe_load(inner)
    for receiver in config["receivers"]:
        (sns,) = receiver["sns_configs"]
        assert sns["topic_arn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-dev-{receiver['name']}"
        assert sns["sigv4"] == {"region": REGION}
        if receiver["name"] == "relay":  # JSON for the relay (tests/test_relay.py renders it)
            assert sns["message"] == relay.SNS_MESSAGE and sns["send_resolved"] is False
    for labels, receivers in (
        ({"severity": "critical", "team": "oncall", "action": "rollback"}, ["relay", "oncall", "platform"]),
        ({"severity": "warning", "team": "platform", "action": "ticket"}, ["relay", "platform"]),
        ({"severity": "warning", "team": "sre", "action": "notify"}, ["sre"]),
    ):
        routed = prom_tools.routes_test(path, labels, expect=receivers)
        assert routed.returncode == 0, prom_tools.output(routed)


# -- protection and replacement --------------------------------------------------------------

NEVER_PROTECTED = {COMPONENT, PROVIDER, VERSION, DEPLOYMENT}
NAMED = {ALIAS, REPOSITORY, OIDC, ROLE, TOPIC, CHATBOT_CHANNEL, METRIC_ALARM, COMPOSITE_ALARM, RULES}
NAMED |= {FUNCTION, SECRET, LOG_GROUP}
NAMED |= {DASHBOARD}


def test_production_protects_every_resource_but_the_flag_rollout_records(declare: Declare) -> None:
    recording = declare(stack_values("production", chatbot=CHATBOT, managedPrometheus=True))
    for resource in recording.resources:
        assert resource.options["protect"] is (resource.type not in NEVER_PROTECTED), resource.name


def test_dev_protects_only_the_images_and_their_key(declare: Declare) -> None:
    recording = declare(stack_values("dev", chatbot=CHATBOT, managedPrometheus=True))
    protected = {r.type for r in recording.resources if r.options["protect"]}
    assert protected == {REPOSITORY, KEY, ALIAS}
    staging = declare(stack_values("staging"))  # holds no images: its key is not special
    assert not [r.name for r in staging.resources if r.options["protect"]]
    forced = stack_values("staging")
    forced["protectResources"] = True
    assert {r.type for r in declare(forced).resources if r.options["protect"]} == ALWAYS - NEVER_PROTECTED


def test_resources_with_explicit_names_are_deleted_before_replacement(declare: Declare) -> None:
    recording = declare(stack_values("dev", chatbot=CHATBOT, managedPrometheus=True))
    for resource in recording.resources:
        assert resource.options["deleteBeforeReplace"] is (resource.type in NAMED), resource.name


# -- outputs ---------------------------------------------------------------------------------


def test_the_outputs_are_known_before_deployment(declare: Declare) -> None:
    recording = declare(stack_values("production"))
    assert (
        recording.outputs["deployRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/delivery-gate-deploy-production"
    )
    outputs = component_outputs(recording)
    assert outputs["deployRoleArn"] == recording.outputs["deployRoleArn"]
    assert outputs["keyAlias"] == "alias/delivery-gate-production"
    assert outputs["topicArns"] == recording.outputs["topicArns"]
    assert outputs["alarmNames"]["rollback"] == "delivery-gate-production-rollback"
    assert set(outputs["appConfig"]) == {"applicationId", "environmentId", "configurationProfileId"}
    assert outputs["appConfig"]["applicationId"] == one(recording, APPLICATION).name + "-id"
    assert "prometheusWorkspaceId" not in outputs
    with_amp = component_outputs(declare(stack_values("dev", managedPrometheus=True)))
    assert with_amp["prometheusWorkspaceId"] == "aws-dev-prometheus-id"


# -- the alert relay on Lambda ---------------------------------------------------------------


def test_the_relay_lambda_runs_the_relay_file_subscribed_to_the_relay_topic_only(declare: Declare) -> None:
    recording = declare(stack_values("staging"))
    function = one(recording, FUNCTION).inputs
    assert function["name"] == "delivery-gate-staging-alert-relay"
    assert (function["runtime"], function["handler"]) == ("python3.12", "alert_relay.lambda_handler")
    # The very file tools/alert_relay.py: the cluster's relay and the tests' relay.
    code = function["code"]
    assert code["kind"] == "archive" and code["assets"] == {
        "alert_relay.py": {"kind": "asset", "text": relay.source()}
    }
    env = function["environment"]["variables"]
    assert env == {
        "GITHUB_REPOSITORY": "acme/aos",
        "RELAY_EVENT_TYPE": "delivery-gate-alert",
        "RELAY_ENVIRONMENT": "staging",
        "RELAY_NAMESPACE": "aos",
        "RELAY_CLOUDWATCH_ALARMS": json.dumps(
            {
                "delivery-gate-staging-rollback": {
                    "action": "rollback",
                    "runbook_url": "https://github.com/acme/delivery-gate/blob/main/docs/"
                    "aws.md#alarms-the-rollback-criteria-on-the-alb",
                    "severity": "critical",
                }
            },
            separators=(",", ":"),
        ),
        "RELAY_TOKEN_SECRET_ID": "delivery-gate/staging/relay-github-token",
    }
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:delivery-gate-staging-relay"
    permission = one(recording, PERMISSION).inputs
    assert permission == {
        "action": "lambda:InvokeFunction",
        "function": "delivery-gate-staging-alert-relay",
        "principal": "sns.amazonaws.com",
        "sourceArn": topic,
    }
    subscription = one(recording, SUBSCRIPTION).inputs
    assert (subscription["topic"], subscription["protocol"]) == (topic, "lambda")


def test_the_relay_role_may_log_and_read_its_token_only() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    document_ = spec.relay_role_policy(policy_of(stack_values("staging")), key)
    statements = {s["Sid"]: s for s in document_["Statement"]}
    assert statements["WriteItsLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["WriteItsLogs"]["Resource"] == [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/delivery-gate-staging-alert-relay:*"
    ]
    assert statements["ReadTheGitHubToken"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["ReadTheGitHubToken"]["Resource"] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:delivery-gate/staging/relay-github-token-??????"
    ]
    decrypt = statements["DecryptTheTokenThroughSecretsManager"]
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [key])
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }
    assert all("*" not in str(s["Resource"]).replace(":*", "") for s in document_["Statement"])
    assert set(actions_of(document_)) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
    }


def test_the_relay_role_is_lambdas_and_waits_for_the_key(declare: Declare) -> None:
    recording = declare(stack_values("staging"))
    (role,) = [r for r in of_type(recording, ROLE) if r.inputs["name"] == "delivery-gate-staging-alert-relay"]
    assert document(role, "assumeRolePolicy")["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    (policy_resource,) = [r for r in of_type(recording, ROLE_POLICY) if r.inputs["name"] == "alert-relay"]
    assert policy_resource.inputs["policy"] == UNKNOWN_PLACEHOLDER  # the key's ARN is AWS's
    secret = one(recording, SECRET).inputs
    assert secret["name"] == "delivery-gate/staging/relay-github-token"
    assert secret["kmsKeyId"] == UNKNOWN_PLACEHOLDER  # the environment's key, once it exists
    assert one(recording, LOG_GROUP).inputs["retentionInDays"] == 30


def test_a_stack_token_fills_the_secret_as_a_pulumi_secret(declare: Declare) -> None:
    without = declare(stack_values("staging"))
    assert of_type(without, SECRET_VERSION) == []  # managed elsewhere
    values = stack_values("staging")
    values["relayGithubToken"] = "github_pat_for_tests"
    version = one(declare(values), SECRET_VERSION)
    assert version.inputs["secretString"] == SECRET_PLACEHOLDER
    assert "github_pat_for_tests" not in json.dumps([r.inputs for r in declare(values).resources])


def test_without_the_relay_no_lambda_and_no_relay_topic(declare: Declare) -> None:
    values = stack_values("staging")
    values["monitoring"] = {"relay": {"enabled": False}}
    recording = declare(values)
    assert not RELAY & {r.type for r in recording.resources}
    assert "relay" not in recording.outputs["topicArns"]
    assert len(one(recording, COMPOSITE_ALARM).inputs["alarmActions"]) == 2


def test_the_trusted_automation_workflow_is_the_one_the_gate_renders() -> None:
    assert f".github/workflows/{automation.FILE}" == spec.AUTOMATION_WORKFLOW_PATH
    job = automation.rollback_job(
        policy_of(stack_values("staging")), policy_of(stack_values("staging")).repositories[0]
    )
    assert job["environment"] == {
        "name": "${{ needs.triage.outputs.environment }}" + spec.ROLLBACK_ENVIRONMENT_SUFFIX
    }
