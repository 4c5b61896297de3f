"""mismatch-automation.yml RUN as GitHub would run it (tests/support/actions_runner.py), on the
repository_dispatch the alert relay sends (tools/alert_relay.py's client_payload).

Each scenario asserts the result of every job and what reached the outside through the stubs: the
`gate rollback` call (fake gate) with the environment's stack, the `gh issue create` of the issue
(once per fingerprint: the gh stub keeps the issues it opened, so a second dispatch finds the
first's), the incident API call (curl stub) with the fingerprint as dedup key or alias, and Slack.
A resolved alert does nothing; an unknown environment fails the first step and nothing runs; a
payload carrying `${{ }}`, newlines, workflow commands or a forged marker stays data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.github.automation import FILE, MARKER_PREFIX
from tests.support.actions_runner import Event, Harness, WorkflowRun
from tests.support.sample_world import FAKE_GATE, STUBS
from tests.test_workflow_runs import (
    OWNER,
    REPOSITORY,
    ROLE,
    SECRETS,
    Gated,
    log,
    make_gated,
    results,
    slack_channels,
    slack_posts,
)

FINGERPRINT = "4c6b2f0e9a1d3b57"
INCIDENT_KEY = "R0UTING-KEY-for-tests-0123456789"
STACKS = {"dev": "dev", "staging": "staging", "production": "prod"}
PAGERDUTY: dict[str, Any] = {"monitoring": {"incidents": {"provider": "pagerduty"}}}
OPSGENIE: dict[str, Any] = {
    "monitoring": {"incidents": {"provider": "opsgenie", "secret": "OPSGENIE_API_KEY"}}
}
AWS: dict[str, Any] = {
    "aws": {
        "accountId": "123456789012",
        "loadBalancer": {
            "loadBalancer": "app/aos-dev/0a1b2c3d4e5f6071",
            "targetGroup": "targetgroup/aos-dev/1a2b3c4d5e6f7081",
        },
    }
}
ALL_JOBS = ("triage", "rollback", "high-priority issue", "operator incident", "ticket")


def automated(
    tmp_path: Path,
    *,
    secrets: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    **values: Any,
) -> Gated:
    """The sample repository with the gate's workflows, a harness whose secrets include the
    incident keys (unless `secrets` says otherwise) and the fake gate as the delivery-gate checkout."""
    gated = make_gated(tmp_path, **values)
    gated.vars = dict(variables or {})
    keys = {"INCIDENT_ROUTING_KEY": INCIDENT_KEY, "OPSGENIE_API_KEY": INCIDENT_KEY}
    gated._harness = Harness(
        repository=REPOSITORY,
        workflows=gated.repo / ".github" / "workflows",
        checkouts={REPOSITORY: gated.repo, f"{OWNER}/delivery-gate": FAKE_GATE},
        world=gated.world.root,
        bin_dirs=[STUBS],
        secrets={**SECRETS, **(keys if secrets is None else secrets)},
        vars=gated.vars,
        env={"GATE_HARNESS_PYTHON": sys.executable},
        work=gated.tmp / "runner",
    )
    # Each environment runs a release it validated earlier: what `gate rollback` goes back to.
    for environment, stack in STACKS.items():
        gated.world.set_deployed(environment, VALIDATED_IMAGE)
        gated.world.set_evidence(stack, VALIDATED_IMAGE)
    return gated


VALIDATED_IMAGE = "ghcr.io/acme/aos@sha256:" + "0" * 63 + "1"


def payload(**overrides: str) -> dict[str, str]:
    """What the relay sends for a firing ReplayMismatch in staging."""
    return {
        "alertname": "ReplayMismatch",
        "fingerprint": FINGERPRINT,
        "environment": "staging",
        "namespace": "monitoring",
        "action": "rollback",
        "severity": "critical",
        "summary": "Replay mismatches in staging: roll back",
        "runbook_url": "https://github.com/acme/delivery-gate/blob/main/docs/runbooks/ReplayMismatch.md",
        "status": "firing",
        "source": "alertmanager",
        **overrides,
    }


def dispatch(gated: Gated, client_payload: dict[str, Any]) -> WorkflowRun:
    event_payload = {"action": "delivery-gate-alert", "branch": "main", "client_payload": client_payload}
    event = Event("repository_dispatch", ref="refs/heads/main", sha=gated.head, payload=event_payload)
    return gated.run(FILE, event)


def rollbacks(gated: Gated) -> list[list[str]]:
    return [c["argv"] for c in gated.world.calls("gate") if c["argv"][:1] == ["rollback"]]


def issues_created(gated: Gated) -> list[dict[str, Any]]:
    return [c for c in gated.world.calls("gh") if c["argv"][:2] == ["issue", "create"]]


def open_issues(gated: Gated) -> list[dict[str, Any]]:
    path = gated.world.root / "github" / "api" / "repos" / "acme" / "aos" / "issues.json"
    return json.loads(path.read_text()) if path.is_file() else []


def labels_of(call: dict[str, Any]) -> list[str]:
    argv = call["argv"]
    return [argv[i + 1] for i, word in enumerate(argv) if word == "--label"]


def incidents(gated: Gated) -> list[dict[str, Any]]:
    return gated.world.calls("curl")


def expected(**ran: str) -> dict[str, str]:
    return {job: ran.get(job, "skipped") for job in ALL_JOBS}


# -- rollback -------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", sorted(STACKS))
def test_a_rollback_alert_rolls_back_the_environments_stack_opens_the_issue_and_the_incident(
    tmp_path: Path, environment: str
) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    run = dispatch(gated, payload(environment=environment))
    assert results(run) == expected(
        triage="success",
        rollback="success",
        **{"high-priority issue": "success", "operator incident": "success"},
    ), log(run, "triage") + log(run, "rollback") + log(run, "issue") + log(run, "incident")
    # The environment's own stack, from the gate checkout, in the reviewer-free <env>-rollback.
    assert rollbacks(gated) == [
        ["rollback", "--stack", STACKS[environment], "--reason", f"ReplayMismatch {FINGERPRINT}"]
    ]
    (gate_call,) = [c for c in gated.world.calls("gate") if c["argv"][:1] == ["rollback"]]
    assert gate_call["cwd"].endswith("/.delivery-gate")
    assert run.job("rollback").environment == f"{environment}-rollback"
    assert run.job("rollback").concurrency_group == f"rollback-{environment}"
    # The parity-mismatch + high-priority issue, its fingerprint marker first.
    (issue,) = issues_created(gated)
    assert labels_of(issue) == ["parity-mismatch", "high-priority"]
    assert (
        issue["argv"][issue["argv"].index("--title") + 1]
        == f"Runtime rollback: ReplayMismatch in {environment}"
    )
    body = issue["stdin"]
    assert body.startswith(f"{MARKER_PREFIX}{FINGERPRINT} -->\n")
    assert "to its last validated image: success" in body and "pagerduty, dedup key " + FINGERPRINT in body
    # The operator incident: PagerDuty Events v2, deduplicated by the alert's fingerprint.
    (incident,) = incidents(gated)
    assert incident["argv"][-1] == "https://events.pagerduty.com/v2/enqueue"
    event = json.loads(incident["data"])
    assert event["dedup_key"] == FINGERPRINT and event["event_action"] == "trigger"
    assert event["routing_key"] == INCIDENT_KEY
    assert event["payload"]["summary"] == f"ReplayMismatch in {environment}: automatic rollback success"
    assert INCIDENT_KEY not in " ".join(incident["argv"])  # in the body, never on a command line
    assert sorted(slack_channels(gated)) == ["#oncall", "#platform"]


def test_a_second_dispatch_of_the_same_alert_opens_no_second_issue(tmp_path: Path) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    first = dispatch(gated, payload())
    second = dispatch(gated, payload())
    assert results(first) == results(second)
    assert len(issues_created(gated)) == 1
    assert [issue["number"] for issue in open_issues(gated)] == [1]
    assert f"::notice::issue #1 is already open for alert {FINGERPRINT}" in log(second, "issue")
    assert second.job("issue").step("issue").outputs["url"] == "https://github.com/acme/aos/issues/1"
    # The rollback is idempotent and runs again; PagerDuty folds the event into the same incident.
    assert len(rollbacks(gated)) == 2
    assert [json.loads(c["data"])["dedup_key"] for c in incidents(gated)] == [FINGERPRINT, FINGERPRINT]
    # Another alert is another issue.
    dispatch(gated, payload(fingerprint="0123456789abcdef", alertname="ErrorRateIncrease"))
    assert len(issues_created(gated)) == 2


def test_a_failed_rollback_still_opens_the_issue_and_the_incident_saying_so(tmp_path: Path) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    gated.world.fault("gate")  # the fake gate fails every call: `gate rollback` exits non-zero
    run = dispatch(gated, payload())
    assert results(run) == expected(
        triage="success",
        rollback="failure",
        **{"high-priority issue": "success", "operator incident": "success"},
    )
    assert "fake gate: failed (fault injected)" in log(run, "rollback")
    assert rollbacks(gated) == [
        ["rollback", "--stack", "staging", "--reason", f"ReplayMismatch {FINGERPRINT}"]
    ]
    (issue,) = issues_created(gated)
    assert "to its last validated image: failure" in issue["stdin"]
    (incident,) = incidents(gated)
    assert json.loads(incident["data"])["payload"]["summary"].endswith("automatic rollback failure")
    assert all("automatic rollback failure" in json.dumps(post) for post in slack_posts(gated))


def test_opsgenie_gets_the_fingerprint_as_alias_and_the_key_in_a_header_file(tmp_path: Path) -> None:
    gated = automated(tmp_path, **OPSGENIE)
    run = dispatch(gated, payload())
    assert results(run)["operator incident"] == "success"
    (incident,) = incidents(gated)
    assert incident["argv"][-1] == "https://api.opsgenie.com/v2/alerts"
    alert = json.loads(incident["data"])
    assert (alert["alias"], alert["priority"]) == (FINGERPRINT, "P1")
    assert f"Authorization: GenieKey {INCIDENT_KEY}" in incident["headers"]
    assert INCIDENT_KEY not in " ".join(incident["argv"]) and INCIDENT_KEY not in incident["data"]


def test_a_missing_incident_key_fails_the_incident_job_clearly_and_nothing_else(tmp_path: Path) -> None:
    gated = automated(tmp_path, secrets={}, **PAGERDUTY)
    run = dispatch(gated, payload())
    assert results(run) == expected(
        triage="success",
        rollback="success",
        **{"high-priority issue": "success", "operator incident": "failure"},
    )
    assert "::error::the repository secret INCIDENT_ROUTING_KEY is not set" in log(run, "incident")
    assert incidents(gated) == []


def test_an_incident_api_error_fails_the_incident_job(tmp_path: Path) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    gated.world.fault("curl")
    run = dispatch(gated, payload())
    assert results(run)["operator incident"] == "failure"
    assert results(run)["high-priority issue"] == "success"


def test_without_an_incident_provider_the_issue_asks_for_one_by_hand(tmp_path: Path) -> None:
    gated = automated(tmp_path)
    run = dispatch(gated, payload())
    assert "incident" not in run.jobs
    (issue,) = issues_created(gated)
    assert "no provider is configured (monitoring.incidents); open one by hand" in issue["stdin"]


def test_with_aws_the_rollback_assumes_the_environments_role(tmp_path: Path) -> None:
    # The variables the <environment>-rollback environment carries (declared with it).
    gated = automated(tmp_path, variables={"AWS_DEPLOY_ROLE_ARN": ROLE, "AWS_REGION": "eu-west-1"}, **AWS)
    run = dispatch(gated, payload(environment="production"))
    assert results(run)["rollback"] == "success", log(run, "rollback")
    (login,) = gated.world.calls("uses:aws-actions/configure-aws-credentials")
    assert (login["job"], login["with"]["role-to-assume"]) == ("rollback", ROLE)
    document = yaml.safe_load((gated.repo / ".github" / "workflows" / FILE).read_text())
    assert document["jobs"]["rollback"]["permissions"] == {"contents": "read", "id-token": "write"}


# -- ticket ---------------------------------------------------------------------------------------


def test_a_ticket_alert_opens_one_ticket_for_platform_and_notifies_platform(tmp_path: Path) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    ticket = payload(
        alertname="LatencyP95OverTarget",
        action="ticket",
        severity="warning",
        summary="aos p95 latency over 300 ms in staging",
        runbook_url="https://github.com/acme/delivery-gate/blob/main/docs/runbooks/LatencyP95OverTarget.md",
    )
    run = dispatch(gated, ticket)
    assert results(run) == expected(triage="success", ticket="success")
    (issue,) = issues_created(gated)
    assert labels_of(issue) == ["platform"]
    assert issue["argv"][issue["argv"].index("--title") + 1] == "Ticket: LatencyP95OverTarget in staging"
    assert issue["stdin"].startswith(f"{MARKER_PREFIX}{FINGERPRINT} -->\n")
    assert slack_channels(gated) == ["#platform"]
    assert rollbacks(gated) == [] and incidents(gated) == []
    again = dispatch(gated, ticket)
    assert results(again) == results(run) and len(issues_created(gated)) == 1


# -- what does nothing, and what is refused ------------------------------------------------------


def test_a_resolved_alert_does_nothing(tmp_path: Path) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    run = dispatch(gated, payload(status="resolved"))
    assert results(run) == expected(triage="success")
    assert f"::notice::ReplayMismatch ({FINGERPRINT}) in staging is not firing" in log(run, "triage")
    assert rollbacks(gated) == [] and gated.world.calls("gh") == [] and incidents(gated) == []
    assert slack_posts(gated) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"environment": "prod"},
            "::error::unknown environment 'prod' in the dispatch; allowed: dev, staging, production",
        ),
        ({"environment": "staging\nproduction"}, "::error::unknown environment 'staging?production'"),
        ({"environment": "../../etc"}, "::error::unknown environment '..?..?etc'"),
        ({"environment": ""}, "::error::unknown environment ''"),
        ({"fingerprint": "x; rm -rf /"}, "::error::the dispatch carries no alert fingerprint"),
        ({"fingerprint": f"{FINGERPRINT}\nabc"}, "::error::the dispatch carries no alert fingerprint"),
        ({"action": "deploy"}, "::error::unknown action 'deploy' in the dispatch; allowed: rollback, ticket"),
    ],
    ids=["prod", "newline", "path", "empty", "fingerprint", "fingerprint-newline", "action"],
)
def test_an_invalid_payload_fails_the_first_step_and_nothing_runs(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    gated = automated(tmp_path, **PAGERDUTY)
    run = dispatch(gated, payload(**overrides))
    assert results(run) == expected(triage="failure")
    triage = run.job("triage")
    assert triage.steps[0].outcome == "failure" and message in triage.steps[0].log
    assert rollbacks(gated) == [] and gated.world.calls("gh") == [] and incidents(gated) == []
    assert slack_posts(gated) == []


def test_a_hostile_payload_is_inert(tmp_path: Path) -> None:
    """`${{ }}`, command substitutions, newlines with workflow commands and a forged marker reach
    the scripts only as data: nothing is evaluated, run or injected, and the forged marker claims
    no other alert's issue."""
    gated = automated(tmp_path, **PAGERDUTY)
    canary = tmp_path / "pwned"
    other = "0123456789abcdef"
    hostile = payload(
        alertname="Replay${{ secrets.SLACK_BOT_TOKEN }}\n::error::injected $(touch " + str(canary) + ")",
        summary=f"{MARKER_PREFIX}{other} -->\n::warning::injected `touch {canary}` ${{{{ github.token }}}}",
        runbook_url='https://x"\ntext: "::add-mask::',
        severity="critical\n::set-output name=action::ticket",
    )
    run = dispatch(gated, hostile)
    assert results(run) == expected(
        triage="success",
        rollback="success",
        **{"high-priority issue": "success", "operator incident": "success"},
    ), log(run, "triage") + log(run, "issue")
    assert not canary.exists()
    # The alert's name reaches the command line, titles and Slack reduced to safe characters.
    alert = run.job("triage").outputs["alert"]
    assert set(alert) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-?")
    assert rollbacks(gated) == [["rollback", "--stack", "staging", "--reason", f"{alert} {FINGERPRINT}"]]
    everything = "".join(log(run, job) for job in run.jobs)
    for line in everything.splitlines():
        assert not line.startswith(
            ("::error::injected", "::warning::injected", "::set-output", "::add-mask")
        ), line
    assert "xoxb-test-token" not in everything
    # The issue keeps the text as text: no second marker, `${{` not evaluated.
    (issue,) = issues_created(gated)
    body = issue["stdin"]
    assert body.count("<!--") == 1 and body.startswith(f"{MARKER_PREFIX}{FINGERPRINT} -->")
    assert "${{ github.token }}" in body and "ghs_" not in body
    # Slack's YAML payload carries only validated values: it parsed, and names no other channel.
    assert sorted(slack_channels(gated)) == ["#oncall", "#platform"]
    # The incident JSON is well-formed and holds the text as data.
    event = json.loads(incidents(gated)[0]["data"])
    assert "${{ github.token }}" in event["payload"]["custom_details"]["summary"]
    # The forged marker claims nothing: the other alert still gets its own issue.
    dispatch(gated, payload(fingerprint=other))
    assert len(issues_created(gated)) == 2
