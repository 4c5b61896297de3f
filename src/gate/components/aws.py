"""The AWS side of the gate declared from the documents and specs of gate/aws/foundation.py.

Two components: `AwsFoundation`, what one environment stack declares in its account, and
`StateBackend`, the S3 bucket and KMS keys every stack keeps its state and secrets in (declared by
the separate bootstrap/ project). Each creates one explicit provider pinned to its account, so a
credential for the wrong account fails the update instead of changing that account.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pulumi

with warnings.catch_warnings():
    # pulumi_aws.s3 warns about its deprecated *V2 classes as it loads (on first attribute access),
    # pulumi_aws.lambda_ about MicrovmsImage; none of them is used here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_aws as aws
    from pulumi_aws import lambda_, s3

    _SSE_DEFAULT = s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    # Both modules load lazily, on first attribute access: load them here, warnings ignored.
    _FUNCTION = lambda_.Function

from gate.aws import foundation as spec
from gate.policy.model import AwsSettings, GatePolicy
from gate.policy.prnames import repository_slug
from gate.runtime import alerts, dashboards, relay

AppConfigArnOutputs = pulumi.Output[spec.AppConfigArns]


def _provider(
    parent: pulumi.Resource, name: str, account_id: str, region: str, tags: dict[str, str]
) -> aws.Provider:
    return aws.Provider(
        f"{name}-provider",
        region=region,
        # The provider refuses credentials of any other account: a dev credential cannot touch prod.
        allowed_account_ids=[account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _key(
    name: str,
    *,
    description: str,
    policy: spec.Document,
    alias: str,
    opts: pulumi.ResourceOptions,
    alias_opts: pulumi.ResourceOptions,
) -> tuple[aws.kms.Key, aws.kms.Alias]:
    """A customer-managed key with yearly rotation, the longest deletion window, an explicit key
    policy, and its alias (`alias_opts` free the explicit alias name before a replacement)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=spec.KEY_DELETION_WINDOW_DAYS,
        policy=spec.policy_json(policy),
        opts=opts,
    )
    return key, aws.kms.Alias(f"{name}-alias", name=alias, target_key_id=key.id, opts=alias_opts)


class AwsFoundation(pulumi.ComponentResource):
    """Registry, deploy role, notifications, rollback alarms and flag delivery of one environment;
    the registry stack also declares the build role, the only identity that pushes images."""

    key_arn: pulumi.Output[str]
    key_alias: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]
    build_role_arn: pulumi.Output[str] | None
    e2e_role_arns: dict[str, pulumi.Output[str]]
    registry_url: pulumi.Output[str]
    topic_arns: dict[str, pulumi.Output[str]]
    repository_urls: dict[str, pulumi.Output[str]]
    alarm_names: dict[str, pulumi.Output[str]]
    appconfig_application_id: pulumi.Output[str]
    appconfig_environment_id: pulumi.Output[str]
    appconfig_profile_id: pulumi.Output[str]
    flag_document: pulumi.Output[str]
    prometheus_workspace_id: pulumi.Output[str] | None
    relay_function_arn: pulumi.Output[str] | None

    def __init__(self, name: str, policy: GatePolicy, opts: pulumi.ResourceOptions | None = None) -> None:
        settings = spec.aws_settings(policy)  # a stack without delivery-gate:aws fails before any resource
        super().__init__("delivery-gate:aws:AwsFoundation", name, None, opts)
        self._name = name
        self._policy = policy
        self._settings: AwsSettings = settings
        self._provider = _provider(
            self, name, self._settings.account_id, self._settings.region, spec.tags(policy)
        )

        key, alias = self._key()
        self._key_resource = key
        self.repository_urls = self._registry(key)
        self.registry_url = pulumi.Output.from_input(spec.registry_url(policy))
        oidc = self._oidc_provider()
        self.build_role_arn = self._build_role(oidc) if policy.owns_registry else None
        self.e2e_role_arns = self._pull_request_roles(oidc) if policy.hosts_pull_requests else {}
        self._topic_resources: list[aws.sns.Topic] = []
        self.topic_arns = self._topics(alias)
        if self._settings.chatbot is not None:
            self._chatbot()
        alarms = self._alarms()
        self._dashboard()
        self.relay_function_arn = self._relay(key) if relay.enabled(policy) else None
        flags = self._flags(alarms)
        self.deploy_role_arn = self._deploy_role(oidc, flags)
        self.prometheus_workspace_id = self._prometheus(key) if self._settings.managed_prometheus else None

        outputs: dict[str, object] = {
            "keyArn": self.key_arn,
            "keyAlias": self.key_alias,
            "oidcProviderArn": self.oidc_provider_arn,
            "deployRoleArn": self.deploy_role_arn,
            "registryUrl": self.registry_url,
            "topicArns": self.topic_arns,
            "repositoryUrls": self.repository_urls,
            "alarmNames": self.alarm_names,
            "appConfig": {
                "applicationId": self.appconfig_application_id,
                "environmentId": self.appconfig_environment_id,
                "configurationProfileId": self.appconfig_profile_id,
            },
            "flagDocument": self.flag_document,
        }
        if self.build_role_arn is not None:
            outputs["buildRoleArn"] = self.build_role_arn
        if self.e2e_role_arns:
            outputs["e2eRoleArns"] = self.e2e_role_arns
        if self.prometheus_workspace_id is not None:
            outputs["prometheusWorkspaceId"] = self.prometheus_workspace_id
        if self.relay_function_arn is not None:
            outputs["relayFunctionArn"] = self.relay_function_arn
        self.register_outputs(outputs)

    # -- options -----------------------------------------------------------------------------

    def _opts(
        self,
        *,
        protect: bool | None = None,
        named: bool = False,
        depends_on: Sequence[pulumi.Resource] = (),
        retain: bool = False,
    ) -> pulumi.ResourceOptions:
        """Children: this component's parent and provider; protected in production (or when
        protectResources says so); an explicit physical name is freed before its replacement."""
        return pulumi.ResourceOptions(
            parent=self,
            provider=self._provider,
            protect=self._policy.protects_everything if protect is None else protect,
            delete_before_replace=named,
            depends_on=list(depends_on),
            retain_on_delete=retain,
        )

    def _known_after(self, name: pulumi.Output[str], value: str) -> pulumi.Output[str]:
        """A value computed from a resource's name (an ARN, a URL) that still waits for the resource."""
        return name.apply(lambda _: value)

    # -- key and registry --------------------------------------------------------------------

    def _key(self) -> tuple[aws.kms.Key, aws.kms.Alias]:
        policy = self._policy
        # Images are encrypted with it: losing the key loses every rollback target.
        protect = policy.protects_everything or policy.owns_registry
        key, alias = _key(
            f"{self._name}-key",
            description=f"delivery-gate {policy.environment}: alarm topics, images, Prometheus workspace",
            policy=spec.key_policy(policy),
            alias=spec.key_alias(policy),
            opts=self._opts(protect=protect),
            alias_opts=self._opts(protect=protect, named=True),
        )
        self.key_arn = key.arn
        self.key_alias = alias.name
        return key, alias

    def _registry(self, key: aws.kms.Key) -> dict[str, pulumi.Output[str]]:
        """The repositories every environment deploys from; declared by one stack only."""
        urls: dict[str, pulumi.Output[str]] = {}
        lifecycle = spec.policy_json(spec.ecr_lifecycle_policy(self._settings.image_retention))
        for image in spec.image_repositories(self._policy):
            url = spec.repository_url(self._settings, image)
            if not self._policy.owns_registry:
                urls[image] = pulumi.Output.from_input(url)
                continue
            slug = image.replace("/", "-").replace(".", "-").replace("_", "-")
            repository = aws.ecr.Repository(
                f"{self._name}-ecr-{slug}",
                name=image,
                # Images are promoted by digest: a tag never moves, so what passed staging is what
                # production runs (DP §Environment Progression).
                image_tag_mutability="IMMUTABLE",
                # M9 §Required CI checks 5: every pushed image is scanned by ECR too.
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
                ],
                # Never deleted with its images: they are the rollback targets (DP "Reversible").
                force_delete=False,
                opts=self._opts(protect=True, named=True),
            )
            aws.ecr.LifecyclePolicy(
                f"{self._name}-ecr-{slug}-lifecycle",
                repository=repository.name,
                policy=lifecycle,
                opts=self._opts(),
            )
            urls[image] = self._known_after(repository.name, url)
        return urls

    # -- GitHub OIDC, the build role and the deploy role -------------------------------------

    def _oidc_provider(self) -> aws.iam.OpenIdConnectProvider | None:
        arn = spec.oidc_provider_arn(self._policy)
        if self._settings.oidc_provider_arn is not None:
            self.oidc_provider_arn = pulumi.Output.from_input(arn)
            return None
        provider = aws.iam.OpenIdConnectProvider(
            f"{self._name}-github-oidc",
            url=spec.GITHUB_OIDC_URL,
            client_id_lists=[spec.STS_AUDIENCE],
            opts=self._opts(named=True),
        )
        self.oidc_provider_arn = self._known_after(provider.url, arn)
        return provider

    def _github_role(
        self,
        key: str,
        oidc: aws.iam.OpenIdConnectProvider | None,
        *,
        name: str,
        description: str,
        trust: spec.Document,
        images: spec.Document,
    ) -> aws.iam.Role:
        """A role GitHub Actions assumes through OIDC, with its ECR rights ("images")."""
        role = aws.iam.Role(
            f"{self._name}-{key}-role",
            name=name,
            description=description,
            # The trust policy names the provider by its computed ARN, so it is a known, reviewable
            # string in every preview; depends_on makes sure the provider exists first.
            assume_role_policy=spec.policy_json(trust),
            max_session_duration=spec.DEPLOY_SESSION_SECONDS,
            opts=self._opts(named=True, depends_on=[oidc] if oidc is not None else []),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{key}-images",
            role=role.name,
            name="images",
            policy=spec.policy_json(images),
            opts=self._opts(),
        )
        return role

    def _build_role(self, oidc: aws.iam.OpenIdConnectProvider | None) -> pulumi.Output[str]:
        """The only identity that pushes images: deploy.yml's build job on the default branch.
        Pull requests keep their images out of this registry (docs/aws.md)."""
        policy = self._policy
        role = self._github_role(
            "build",
            oidc,
            name=spec.build_role_name(policy),
            description="GitHub Actions: the gate's deploy workflow builds and pushes the images",
            trust=spec.build_trust_policy(policy),
            images=spec.build_image_policy(policy),
        )
        return self._known_after(role.name, spec.build_role_arn(policy))

    def _pull_request_roles(
        self, oidc: aws.iam.OpenIdConnectProvider | None
    ) -> dict[str, pulumi.Output[str]]:
        """Per gated repository: the role its e2e check and janitor assume (no stored kubeconfig),
        allowed to describe the cluster, and admitted to it by an access entry whose access policy is
        scoped to the repository's PR namespaces (gate/aws/foundation.py). The cluster RBAC and admission
        policy for the namespaces themselves are declared in the cluster (gate/runtime/ephemeral.py)."""
        policy = self._policy
        cluster = self._settings.eks_cluster_name
        assert cluster is not None  # policy.hosts_pull_requests
        arns: dict[str, pulumi.Output[str]] = {}
        for repo in policy.repositories:
            key = f"e2e-{repository_slug(repo.name)}"
            role = aws.iam.Role(
                f"{self._name}-{key}-role",
                name=spec.e2e_role_name(repo),
                description=f"GitHub Actions: disposable environments of {repo.full_name} pull requests",
                assume_role_policy=spec.policy_json(spec.e2e_trust_policy(policy, repo)),
                max_session_duration=spec.DEPLOY_SESSION_SECONDS,
                opts=self._opts(named=True, depends_on=[oidc] if oidc is not None else []),
            )
            aws.iam.RolePolicy(
                f"{self._name}-{key}-cluster",
                role=role.name,
                name="cluster",
                policy=spec.policy_json(spec.e2e_role_policy(policy)),
                opts=self._opts(),
            )
            arn = self._known_after(role.name, spec.e2e_role_arn(policy, repo))
            entry = aws.eks.AccessEntry(
                f"{self._name}-{key}-access",
                cluster_name=cluster,
                principal_arn=arn,
                type="STANDARD",
                kubernetes_groups=[spec.e2e_kubernetes_group(repo)],
                opts=self._opts(named=True),
            )
            aws.eks.AccessPolicyAssociation(
                f"{self._name}-{key}-namespaces",
                cluster_name=cluster,
                principal_arn=arn,
                policy_arn=spec.e2e_access_policy_arn(policy),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="namespace", namespaces=spec.pr_namespace_scope(repo)
                ),
                opts=self._opts(named=True, depends_on=[entry]),
            )
            arns[repo.full_name] = arn
        return arns

    def _deploy_role(
        self, oidc: aws.iam.OpenIdConnectProvider | None, flags: AppConfigArnOutputs
    ) -> pulumi.Output[str]:
        policy = self._policy
        role = self._github_role(
            "deploy",
            oidc,
            name=spec.deploy_role_name(policy),
            description=f"GitHub Actions deploys of the gated repositories to {policy.environment}",
            trust=spec.deploy_trust_policy(policy),
            images=spec.deploy_image_policy(policy),
        )
        aws.iam.RolePolicy(
            f"{self._name}-deploy-flags",
            role=role.name,
            name="flags",
            policy=flags.apply(lambda arns: spec.policy_json(spec.deploy_flag_policy(arns))),
            opts=self._opts(),
        )
        return self._known_after(role.name, spec.deploy_role_arn(policy))

    def _service_role(self, role: str, service: str, permissions: spec.Document) -> pulumi.Output[str]:
        name = spec.resource_name(self._policy, role)
        resource = aws.iam.Role(
            f"{self._name}-{role}-role",
            name=name,
            assume_role_policy=spec.policy_json(spec.service_trust_policy(service)),
            opts=self._opts(named=True),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{role}-role-policy",
            role=resource.name,
            name=role,
            policy=spec.policy_json(permissions),
            opts=self._opts(),
        )
        return self._known_after(resource.name, spec.role_arn(self._settings, name))

    # -- notifications -----------------------------------------------------------------------

    def _topics(self, key_alias: aws.kms.Alias) -> dict[str, pulumi.Output[str]]:
        """M9 §Post-merge 2 "Notify #oncall and #platform", §Thresholds "alert SRE": one topic each."""
        arns: dict[str, pulumi.Output[str]] = {}
        # The alert relay's topic too: its only subscriber is the relay (self._relay).
        acting = (relay.RECEIVER,) if relay.enabled(self._policy) else ()
        for channel in (*spec.CHANNELS, *acting):
            topic = aws.sns.Topic(
                f"{self._name}-topic-{channel}",
                name=spec.topic_name(self._policy, channel),
                # The customer-managed key: CloudWatch cannot publish to topics under alias/aws/sns.
                kms_master_key_id=key_alias.name,
                policy=spec.policy_json(spec.topic_policy(self._policy, channel)),
                opts=self._opts(named=True),
            )
            self._topic_resources.append(topic)
            arns[channel] = self._known_after(topic.name, spec.topic_arn(self._policy, channel))
        return arns

    def _chatbot(self) -> None:
        chatbot = self._settings.chatbot
        assert chatbot is not None
        role_arn = self._service_role("chatbot", spec.CHATBOT_SERVICE, spec.chatbot_policy())
        channel_ids = {
            alerts.ONCALL: chatbot.oncall_channel_id,
            alerts.PLATFORM: chatbot.platform_channel_id,
            alerts.SRE: chatbot.sre_channel_id,
        }
        for channel, channel_id in channel_ids.items():
            aws.chatbot.SlackChannelConfiguration(
                f"{self._name}-chatbot-{channel}",
                configuration_name=spec.resource_name(self._policy, channel),
                iam_role_arn=role_arn,
                slack_team_id=chatbot.slack_team_id,
                slack_channel_id=channel_id,
                sns_topic_arns=[self.topic_arns[channel]],
                guardrail_policy_arns=spec.chatbot_guardrails(self._policy),
                logging_level="ERROR",
                opts=self._opts(named=True),
            )

    # -- rollback alarms ---------------------------------------------------------------------

    def _alarms(self) -> dict[str, pulumi.Output[str]]:
        """DP §Rollback Criteria on the ALB; only the composite notifies (one page per rollback)."""
        names: dict[str, pulumi.Output[str]] = {}
        for alarm in spec.rollback_alarms(self._policy):
            names[alarm.criterion] = self._metric_alarm(alarm).name
        composite = spec.rollback_composite(self._policy)
        topics = [self.topic_arns[channel] for channel in composite.channels]
        acting = [self.topic_arns[channel] for channel in composite.acting]
        resource = aws.cloudwatch.CompositeAlarm(
            f"{self._name}-alarm-{spec.ROLLBACK}",
            alarm_name=composite.name,
            alarm_description=composite.description,
            # Names from the metric alarms' outputs: the composite waits until they exist.
            alarm_rule=pulumi.Output.all(*names.values()).apply(lambda _: composite.rule),
            # The relay acts on ALARM only: an OK is nothing to roll back.
            alarm_actions=[*topics, *acting],
            ok_actions=topics,
            opts=self._opts(named=True),
        )
        names[spec.ROLLBACK] = resource.alarm_name
        self.alarm_names = names
        return names

    def _dashboard(self) -> aws.cloudwatch.Dashboard:
        """GATE-OBS-01: the rollback alarms' metrics and thresholds (gate/runtime/dashboards.py)."""
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=dashboards.cloudwatch_dashboard_name(self._policy),
            dashboard_body=dashboards.cloudwatch_dashboard_json(self._policy),
            opts=self._opts(named=True),
        )

    def _metric_alarm(self, alarm: spec.MetricAlarm) -> aws.cloudwatch.MetricAlarm:
        single = not alarm.queries
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-alarm-{alarm.criterion}",
            name=alarm.name,
            alarm_description=alarm.description,
            comparison_operator=alarm.comparison_operator,
            threshold=alarm.threshold,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            treat_missing_data=alarm.treat_missing_data,
            namespace=alarm.namespace if single else None,
            metric_name=alarm.metric_name,
            dimensions=alarm.dimensions if single else None,
            period=alarm.period if single else None,
            statistic=alarm.statistic,
            extended_statistic=alarm.extended_statistic,
            evaluate_low_sample_count_percentiles=alarm.evaluate_low_sample_count_percentiles,
            metric_queries=[self._query(alarm, query) for query in alarm.queries] or None,
            opts=self._opts(named=True),
        )

    @staticmethod
    def _query(alarm: spec.MetricAlarm, query: spec.MetricQuery) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        metric = None
        if query.metric_name is not None and query.stat is not None:
            metric = aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=alarm.namespace,
                metric_name=query.metric_name,
                dimensions=alarm.dimensions,
                period=alarm.period,
                stat=query.stat,
            )
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query.id,
            metric=metric,
            expression=query.expression,
            label=query.label,
            return_data=query.return_data,
        )

    # -- the alert relay ---------------------------------------------------------------------

    def _relay(self, key: aws.kms.Key) -> pulumi.Output[str]:
        """tools/alert_relay.py as a Lambda subscribed to the relay topic: the CloudWatch rollback
        alarm (and, with managedPrometheus, AMP's rollback and ticket alerts) become a
        repository_dispatch to the gated repository (gate/runtime/relay.py)."""
        policy = self._policy
        secret = aws.secretsmanager.Secret(
            f"{self._name}-relay-token",
            name=spec.relay_token_secret_name(policy),
            description=f"GitHub token of the delivery-gate alert relay in {policy.environment}",
            kms_key_id=key.arn,
            opts=self._opts(named=True),
        )
        if policy.relay_github_token is not None:
            # From the Pulumi secret: encrypted in state, "[secret]" in previews and plans.
            aws.secretsmanager.SecretVersion(
                f"{self._name}-relay-token-value",
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(policy.relay_github_token.get_secret_value()),
                opts=self._opts(),
            )
        logs = aws.cloudwatch.LogGroup(
            f"{self._name}-relay-logs",
            name=spec.relay_log_group_name(policy),
            retention_in_days=spec.RELAY_LOG_RETENTION_DAYS,
            opts=self._opts(named=True),
        )
        role = aws.iam.Role(
            f"{self._name}-relay-role",
            name=spec.resource_name(policy, relay.NAME),
            description=f"The delivery-gate alert relay in {policy.environment}: logs and its token only",
            assume_role_policy=spec.policy_json(spec.service_trust_policy(spec.LAMBDA_SERVICE)),
            opts=self._opts(named=True),
        )
        permissions = aws.iam.RolePolicy(
            f"{self._name}-relay-role-policy",
            role=role.name,
            name=relay.NAME,
            # The key's id is AWS's: the policy waits for it.
            policy=key.arn.apply(lambda key_arn: spec.policy_json(spec.relay_role_policy(policy, key_arn))),
            opts=self._opts(),
        )
        function = _FUNCTION(
            f"{self._name}-relay",
            name=spec.relay_function_name(policy),
            description="delivery-gate alert relay: rollback and ticket alerts -> repository_dispatch",
            runtime=spec.RELAY_RUNTIME,
            handler=spec.RELAY_HANDLER,
            role=role.arn,
            # The very file the cluster runs and the tests exercise (gate/runtime/relay.py).
            code=pulumi.AssetArchive({f"{relay.MODULE}.py": pulumi.StringAsset(relay.source())}),
            timeout=spec.RELAY_TIMEOUT_SECONDS,
            memory_size=128,
            environment=lambda_.FunctionEnvironmentArgs(variables=spec.relay_function_environment(policy)),
            opts=self._opts(named=True, depends_on=[logs, permissions, secret]),
        )
        topic = self.topic_arns[relay.RECEIVER]
        lambda_.Permission(
            f"{self._name}-relay-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal=spec.SNS_SERVICE,
            source_arn=topic,  # this topic only
            opts=self._opts(),
        )
        aws.sns.TopicSubscription(
            f"{self._name}-relay-subscription",
            topic=topic,
            protocol="lambda",
            endpoint=function.arn,
            opts=self._opts(),
        )
        return self._known_after(function.name, spec.relay_function_arn(policy))

    # -- feature flags -----------------------------------------------------------------------

    def _flags(self, alarms: dict[str, pulumi.Output[str]]) -> AppConfigArnOutputs:
        """DP §Pre-Deployment "Feature flags configured": a flag change is deployed progressively
        and AppConfig rolls it back by itself when a rollback alarm fires."""
        policy = self._policy
        application = aws.appconfig.Application(
            f"{self._name}-appconfig",
            name=policy.application.name,
            description=f"Feature flags of {policy.application.name} in {policy.environment}",
            opts=self._opts(),
        )
        monitor_role = self._service_role(
            "appconfig-monitor", spec.APPCONFIG_SERVICE, spec.alarm_reader_policy()
        )
        monitors = [
            aws.appconfig.EnvironmentMonitorArgs(
                alarm_arn=name.apply(lambda n: spec.alarm_arn(policy, n)), alarm_role_arn=monitor_role
            )
            for criterion, name in alarms.items()
            if criterion != spec.ROLLBACK  # the composite is the same criteria, ORed
        ]
        environment = aws.appconfig.Environment(
            f"{self._name}-appconfig-env",
            application_id=application.id,
            name=policy.environment,
            monitors=monitors,
            opts=self._opts(),
        )
        profile = aws.appconfig.ConfigurationProfile(
            f"{self._name}-appconfig-flags",
            application_id=application.id,
            name=spec.FEATURE_FLAGS_PROFILE_NAME,
            type=spec.FEATURE_FLAGS_PROFILE_TYPE,
            location_uri=spec.HOSTED_LOCATION,
            opts=self._opts(),
        )
        strategy = self._strategy()
        document = spec.flag_document_json(policy)
        version = aws.appconfig.HostedConfigurationVersion(
            f"{self._name}-appconfig-flags-version",
            application_id=application.id,
            configuration_profile_id=profile.configuration_profile_id,
            content_type="application/json",
            # The SDK marks content secret; the flag states are not, so the component also
            # outputs them (flagDocument) for previews and plan diffs to show.
            content=document,
            # Each flag change is a new version and replaces this one: never protected (that would
            # block every flag change), and the old one is kept as what AppConfig rolls back to.
            opts=self._opts(protect=False, retain=True, depends_on=[profile]),
        )
        aws.appconfig.Deployment(
            f"{self._name}-appconfig-flags-deployment",
            application_id=application.id,
            environment_id=environment.environment_id,
            configuration_profile_id=profile.configuration_profile_id,
            configuration_version=version.version_number.apply(_version_text),
            deployment_strategy_id=strategy.id,
            description=f"delivery-gate: flags of {policy.environment}",
            # A deployment is a record of one rollout; the next flag change replaces it. The ids it
            # reads are assigned by AWS: depends_on keeps the order visible before they are known.
            opts=self._opts(protect=False, retain=True, depends_on=[environment, profile, version]),
        )
        self.appconfig_application_id = application.id
        self.appconfig_environment_id = environment.environment_id
        self.appconfig_profile_id = profile.configuration_profile_id
        self.flag_document = version.content_type.apply(lambda _: document)
        return pulumi.Output.all(application.arn, environment.arn, profile.arn, strategy.arn).apply(
            lambda arns: spec.AppConfigArns(*arns)
        )

    def _strategy(self) -> aws.appconfig.DeploymentStrategy:
        strategy = spec.deployment_strategy(self._policy)
        return aws.appconfig.DeploymentStrategy(
            f"{self._name}-appconfig-strategy",
            name=strategy.name,
            description=strategy.description,
            growth_type=strategy.growth_type,
            growth_factor=strategy.growth_factor,
            deployment_duration_in_minutes=strategy.deployment_duration_in_minutes,
            final_bake_time_in_minutes=strategy.final_bake_time_in_minutes,
            replicate_to=strategy.replicate_to,
            opts=self._opts(),
        )

    # -- Amazon Managed Prometheus -----------------------------------------------------------

    def _prometheus(self, key: aws.kms.Key) -> pulumi.Output[str]:
        """The cluster's alert rules and routing (gate/runtime/alerts.py), evaluated by AMP and delivered
        to the same channels through the SNS topics."""
        workspace = aws.amp.Workspace(
            f"{self._name}-prometheus",
            alias=spec.resource_name(self._policy, "prometheus"),
            kms_key_arn=key.arn,
            opts=self._opts(),
        )
        aws.amp.RuleGroupNamespace(
            f"{self._name}-prometheus-rules",
            workspace_id=workspace.id,
            name=spec.resource_name(self._policy, "rules"),
            data=spec.prometheus_rules_yaml(self._policy),
            opts=self._opts(named=True),
        )
        aws.amp.AlertManagerDefinition(
            f"{self._name}-prometheus-alertmanager",
            workspace_id=workspace.id,
            definition=spec.prometheus_alertmanager_definition(self._policy),
            # The receivers publish to the topics by their computed ARNs: create those first.
            opts=self._opts(depends_on=self._topic_resources),
        )
        return workspace.id


def _version_text(number: int | None) -> str | None:
    """AppConfig numbers a hosted version when it creates it: unknown in a first preview, absent
    under the offline plan's mocks (then nothing is deployed yet)."""
    return None if number is None else str(number)


class StateBackend(pulumi.ComponentResource):
    """The S3 bucket holding every stack's state, and the KMS key encrypting stack secrets.

    Everything is protected: losing the state orphans every resource of every stack.
    """

    bucket_name: pulumi.Output[str]
    state_key_arn: pulumi.Output[str]
    secrets_key_alias: pulumi.Output[str]
    login_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(
        self, name: str, args: spec.StateBackendSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("delivery-gate:aws:StateBackend", name, None, opts)
        tags = {"managed-by": spec.MANAGED_BY, "purpose": "pulumi-state"}
        provider = _provider(self, name, args.account_id, args.region, tags)
        protected = pulumi.ResourceOptions(parent=self, provider=provider, protect=True)
        # Explicit physical names (bucket, aliases) are freed before a replacement, were one unprotected.
        named = pulumi.ResourceOptions(
            parent=self, provider=provider, protect=True, delete_before_replace=True
        )
        root_only = spec.account_key_policy(args.account_id, args.region)

        state_key, _ = _key(
            f"{name}-state-key",
            description="Pulumi state bucket",
            policy=root_only,
            alias=args.state_key_alias,
            opts=protected,
            alias_opts=named,
        )
        # Its own key: who may decrypt stack secrets is decided apart from who may read state.
        _, secrets_alias = _key(
            f"{name}-secrets-key",
            description="Pulumi stack secrets",
            policy=root_only,
            alias=args.secrets_key_alias,
            opts=protected,
            alias_opts=named,
        )
        bucket = self._bucket(name, args, state_key, protected, named)

        self.bucket_name = bucket.bucket
        self.state_key_arn = state_key.arn
        self.secrets_key_alias = secrets_alias.name
        self.login_url = bucket.bucket.apply(lambda _: spec.login_url(args))
        self.secrets_provider = secrets_alias.id.apply(lambda _: spec.secrets_provider(args))
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "stateKeyArn": self.state_key_arn,
                "secretsKeyAlias": self.secrets_key_alias,
                "loginUrl": self.login_url,
                "secretsProvider": self.secrets_provider,
            }
        )

    @staticmethod
    def _bucket(
        name: str,
        args: spec.StateBackendSettings,
        key: aws.kms.Key,
        opts: pulumi.ResourceOptions,
        named: pulumi.ResourceOptions,
    ) -> s3.Bucket:
        bucket = s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=False, opts=named)
        s3.BucketOwnershipControls(
            f"{name}-bucket-ownership",
            bucket=bucket.bucket,
            # No ACLs: the account owns every object, access is by policy only.
            rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=opts,
        )
        public_access = s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        s3.BucketVersioning(
            f"{name}-bucket-versioning",
            bucket=bucket.bucket,
            # Every state checkpoint is kept: a bad update can be rolled back to the previous one.
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=bucket.bucket,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=_SSE_DEFAULT(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    # One data key per bucket rather than per object: far fewer KMS calls.
                    bucket_key_enabled=True,
                )
            ],
            opts=opts,
        )
        s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=bucket.bucket,
            policy=spec.policy_json(spec.tls_only_bucket_policy(args)),
            # After the public access block, which a bucket policy must not race.
            opts=pulumi.ResourceOptions(
                parent=opts.parent, provider=opts.provider, protect=True, depends_on=[public_access]
            ),
        )
        return bucket
