"""The Pulumi program: load this stack's policy, declare the gate, export what consumers need.

A configuration repository's `__main__.py` (Pulumi.yaml's program) is two lines that call `main()`;
this repository's own `__main__.py` is the same two lines (README "Your own configuration
repository"). Everything is checked before the first resource is declared.
"""

from typing import Any

import pulumi

from gate import clock
from gate.clock import iso
from gate.components import declare
from gate.components.github_gate import CentralWorkflowRepository, GitHubLookups, RepositoryGate
from gate.components.kubernetes import AlertRelay, EphemeralEnvironment, PullRequestAccess, RuntimeSafetyNet
from gate.components.promotion import read_stack_outputs, reference_stack
from gate.errors import GateError
from gate.github.repository import (
    CENTRAL_OUTPUT,
    central_output,
    central_workflows,
    referenced_central_id,
    repository_gate,
    required_checks_summary,
    required_workflows_summary,
)
from gate.policy import nonnegotiables
from gate.policy.loader import load_stack_policy, stack_file
from gate.policy.model import GatePolicy
from gate.policy.rules import enforce_rules
from gate.promotion import delivery, drill
from gate.promotion import evidence as promotion
from gate.runtime import cluster as runtime
from gate.runtime import dashboards, ephemeral, relay
from gate.runtime.flags import flag_configmap_data


def declare_repository_gates(policy: GatePolicy) -> None:
    github_token = pulumi.Config("github").get_secret("token")  # else the provider reads GITHUB_TOKEN
    providers: dict[str, pulumi.ProviderResource] = {}
    # Issue 14 item 3: team and user ids looked up once per provider, not once per component.
    lookups: dict[str, GitHubLookups] = {}

    def provider(owner: str) -> pulumi.ResourceOptions:
        if owner not in providers:
            providers[owner] = declare.provider(f"github-{owner}", owner=owner, token=github_token)
            lookups[owner] = GitHubLookups(providers[owner])
        return pulumi.ResourceOptions(providers={"github": providers[owner]})

    central = None
    central_spec = central_workflows(policy, policy.repositories) if policy.owns_merge_gate else None
    if central_spec is not None:
        # Organisation mode: every gated repository's required workflows, in one repository.
        referenced_id = None
        if central_spec.declared_by is not None:
            # Issue 14 item 4: another repository group's stack declares the central repository.
            try:
                outputs = read_stack_outputs(central_spec.declared_by)
                referenced_id = referenced_central_id(central_spec, outputs, stack_file(policy.stack))
            except GateError as error:
                raise pulumi.RunError(str(error)) from None
            # Recorded in this stack's state: which stack it depends on (`pulumi stack graph`).
            reference_stack(central_spec.declared_by, role="central-workflows")
        central = CentralWorkflowRepository(
            f"{central_spec.owner}-{central_spec.repository}-central",
            central_spec,
            provider(central_spec.owner),
            referenced_id=referenced_id,
            lookups=lookups[central_spec.owner],
        )
        if central_spec.declared_by is None:
            # What the stacks of other repository groups read (mergeGate.organization.centralStack).
            pulumi.export(CENTRAL_OUTPUT, central_output(central_spec, central.repository_id))
    for repo in policy.repositories:
        spec = repository_gate(policy, repo)
        RepositoryGate(
            f"{spec.owner}-{spec.name}",
            spec,
            provider(spec.owner),
            central=central,
            lookups=lookups[spec.owner],
        )
    pulumi.export("ownsMergeGate", policy.owns_merge_gate)
    pulumi.export("requiredChecks", required_checks_summary(policy))
    if central_spec is not None:
        pulumi.export("requiredWorkflows", required_workflows_summary(policy, central_spec))


def declare_runtime_safety_net(policy: GatePolicy) -> None:
    slack = None
    if policy.slack_webhook_url is not None:
        key = policy.monitoring.slack_webhook.key
        slack = (runtime.slack_webhook_secret(policy), key, policy.slack_webhook_url.get_secret_value())
    net = RuntimeSafetyNet(
        f"runtime-{policy.environment}", runtime.manifests(policy), policy.protects_everything, slack
    )
    pulumi.export("namespace", net.namespace)
    pulumi.export("progressiveRollout", runtime.uses_progressive_rollout(policy))
    # GATE-OBS-01: where the environment's dashboards are (gate/runtime/dashboards.py).
    pulumi.export("dashboards", dashboards.outputs(policy))
    if relay.enabled(policy):
        token = None
        if policy.relay_github_token is not None:
            key = policy.monitoring.relay.token_secret.key
            token = (relay.token_secret(policy), key, policy.relay_github_token.get_secret_value())
        alert_relay = AlertRelay(
            f"relay-{policy.environment}", relay.manifests(policy), policy.protects_everything, token
        )
        pulumi.export("alertRelay", {"namespace": alert_relay.namespace, "url": relay.webhook_url(policy)})


def declare_pull_request_access(policy: GatePolicy) -> None:
    """The cluster side of the pull-request roles, in the cluster hosting the pull requests."""
    if not policy.hosts_pull_requests:
        return
    access = PullRequestAccess(
        f"pull-requests-{policy.environment}",
        ephemeral.pull_request_access(policy),
        policy.protects_everything,
    )
    pulumi.export("pullRequestAdmissionPolicy", access.policy_name)


def declare_aws_foundation(policy: GatePolicy) -> None:
    if policy.aws is None:
        return
    # Imported here: pulumi_aws takes a quarter of a second to import, wasted on every plan of a
    # stack that declares nothing in AWS (issue 14).
    from gate.components.aws import AwsFoundation  # noqa: PLC0415

    foundation = AwsFoundation(f"aws-{policy.environment}", policy)
    # What the deploy workflow and operators need: ids and ARNs, not whole resources.
    pulumi.export("awsDeployRoleArn", foundation.deploy_role_arn)
    pulumi.export("awsTopicArns", foundation.topic_arns)
    pulumi.export("awsRepositoryUrls", foundation.repository_urls)
    pulumi.export("awsRegistryUrl", foundation.registry_url)
    if foundation.build_role_arn is not None:
        pulumi.export("awsBuildRoleArn", foundation.build_role_arn)
    if foundation.relay_function_arn is not None:
        pulumi.export("awsRelayFunctionArn", foundation.relay_function_arn)
    if foundation.e2e_role_arns:
        pulumi.export("awsE2eRoleArns", foundation.e2e_role_arns)
    pulumi.export("awsAlarmNames", foundation.alarm_names)
    pulumi.export(
        "awsAppConfig",
        {
            "applicationId": foundation.appconfig_application_id,
            "environmentId": foundation.appconfig_environment_id,
            "configurationProfileId": foundation.appconfig_profile_id,
        },
    )


def declare_ephemeral_environment(policy: GatePolicy) -> None:
    assert policy.ephemeral is not None
    manifests = ephemeral.manifests(policy, flag_configmap_data(policy))
    environment = EphemeralEnvironment(policy.ephemeral.stack, manifests)
    pulumi.export("namespace", environment.namespace)
    # The janitor (gate ephemeral reap) reads these from the stack's state, wherever it runs.
    repository = next(r for r in policy.repositories if r.name == policy.ephemeral.repository)
    pulumi.export("repository", repository.full_name)
    pulumi.export("createdAt", iso(policy.ephemeral.created_at))
    pulumi.export("expiresAt", iso(policy.ephemeral.expires_at))


def read_own_state(stack: str) -> dict[str, Any] | None:
    """This stack's own outputs: the release, deployment and evidence the pipeline put in its state
    (gate/promotion/delivery.py), carried to this update so that it never reverts a deploy. Offline, without
    `--evidence <stack>=FILE`, the state is empty: the stack file's values are planned."""
    if not delivery.carries_state(stack):
        return None
    # A failure to read it fails the update: planning without it could revert a deploy.
    return read_stack_outputs(stack)


def check_promotion(policy: GatePolicy, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """GATE-DP-09/10: the release rests on the upstream stack's evidence, or on the emergency path
    (whose follow-up this returns); GATE-DP-12: a rollback, on this environment's own evidence."""
    if delivery.is_rollback(policy):
        delivery.enforce_rollback(policy, state, stack_file(policy.stack))
        return None
    source = promotion.evidence_source(policy)
    outputs = read_stack_outputs(source) if source is not None else None
    follow_up = promotion.enforce_promotion(policy, outputs, stack_file(policy.stack))
    # GATE-DP-16 (issue 12, part drill): a new image reaches production only after a recent
    # passed rollback drill upstream (gate/promotion/drill.py); emergencies, rollbacks, re-applies exempt.
    if drill.needs_drill(policy, state):
        drilled = drill.drilled_environment(policy).stack
        drilled_outputs = outputs if drilled == source else read_stack_outputs(drilled)
        now = clock.now(exact=True)
        drill.enforce_drill(policy, state, drilled_outputs, stack_file(policy.stack), now)
    return follow_up


def export_promotion(
    policy: GatePolicy, emergency_follow_up: dict[str, Any] | None, state: dict[str, Any] | None
) -> None:
    if policy.upstream_environment is not None:
        pulumi.export("promotesFrom", policy.upstream_environment.stack)
    source = promotion.evidence_source(policy)
    if source is not None:
        # The evidence this deployment rests on, kept in this stack's state for the audit trail.
        upstream = reference_stack(source)
        pulumi.export("promotedOn", upstream.get_output(promotion.EVIDENCE_OUTPUT))
    if emergency_follow_up is not None:
        pulumi.export("emergencyFollowUp", emergency_follow_up)
    pulumi.export("validationStatus", promotion.validation_status(policy))
    evidence = delivery.evidence_record(policy)
    if evidence is not None:
        pulumi.export(promotion.EVIDENCE_OUTPUT, evidence)
    # The state the next `pulumi up` carries forward (gate/promotion/delivery.py).
    for name, value in delivery.state_outputs(policy, state).items():
        pulumi.export(name, value)


def main() -> None:
    try:
        # Fails before any resource is declared; RunError prints the message without a traceback.
        state = read_own_state(pulumi.get_stack())
        policy, release_source = load_stack_policy(state)
        verdict = enforce_rules(policy, pulumi.get_stack())
        follow_up = check_promotion(policy, state) if policy.ephemeral is None else None
    except GateError as error:
        raise pulumi.RunError(str(error)) from None

    if policy.ephemeral is not None:
        # A pr-<repo>-<N> stack holds only its disposable environment: no GitHub settings.
        declare_ephemeral_environment(policy)
    else:
        declare_repository_gates(policy)
        declare_runtime_safety_net(policy)
        declare_aws_foundation(policy)
        declare_pull_request_access(policy)
        export_promotion(policy, follow_up, state)
        pulumi.export("releaseSource", release_source)
    pulumi.export("environment", policy.environment)
    exceptions = nonnegotiables.exported(policy, verdict)
    if exceptions is not None:
        # Every waiver of a non-negotiable, and what it waives here: the audit trail of the plan.
        pulumi.export("gateExceptions", exceptions)
    latency = policy.thresholds.latency  # p95 from the SLO suggestion file when the stack names one
    pulumi.export("latencyTargetsMs", {"p95": latency.p95_target_ms, "p99": latency.p99_target_ms})
