"""The pure AWS renderers of gate/aws.py: names, ARNs, IAM documents, alarms, flags, AMP config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate import alerts
from gate import aws as spec
from gate.errors import PolicyError
from gate.loader import load_policy
from gate.model import GatePolicy, ImageRetention
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
        "aws": {"accountId": ACCOUNT, "loadBalancer": LOAD_BALANCER, **aws},
    }
    return load_policy(values, stack=STACK_OF[environment], github_owner="acme")


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
    repositories = [{"name": "Web"}, {"name": "aos"}, {"name": "aos", "owner": "other"}]
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
    assert spec.github_subjects(staging) == [
        "repo:acme/aos:environment:staging",
        "repo:zeta/web:environment:staging",
    ]


def test_the_trust_policy_has_one_exact_condition() -> None:
    trust = spec.deploy_trust_policy(policy("production"))
    (statement,) = trust["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": ["repo:acme/aos:environment:production"],
        }
    }


def test_only_the_first_environment_builds_images() -> None:
    assert spec.builds_images(policy("dev"))
    assert not spec.builds_images(policy("staging"))
    assert not spec.builds_images(policy("production"))


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
    too_long = with_values(policy(), rollout={"stages": [5, 25, 50, 100], "bakeTime": "10h"})
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
