"""tools/alert_relay.py against a fake GitHub on 127.0.0.1: real HTTP, real retries, real payloads.

What acts on which alert (firing, action rollback or ticket, this environment), the exact request
GitHub receives, bounded one-line payload values, retries with backoff on 5xx/429/network errors and
none on other answers, the in-cluster webhook server (also started as the Deployment starts it),
the Lambda handler for CloudWatch alarms and Secrets Manager's token (SigV4, checked against AWS's
published test vectors), and that the module needs nothing but the standard library.
"""

from __future__ import annotations

import ast
import datetime
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_github import FakeGitHub, fake_github
from tools import alert_relay
from tools.alert_relay import Config, alertmanager_alerts, lambda_handler, relay, sigv4_headers

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "alert_relay.py"
TOKEN = "ghs_relay_token_for_tests"
FINGERPRINT = "4c6b2f0e9a1d3b57"


def config(fake: FakeGitHub, **extra: Any) -> Config:
    values: dict[str, Any] = {
        "repository": "acme/aos",
        "api_url": fake.url,
        "environment": "staging",
        "backoff_seconds": 0.01,
        "token": lambda: TOKEN,
    }
    return Config(**{**values, **extra})


def am_alert(**labels: str) -> dict[str, Any]:
    status = labels.pop("status", "firing")
    fingerprint = labels.pop("fingerprint", FINGERPRINT)
    return {
        "status": status,
        "labels": {
            "alertname": "ReplayMismatch",
            "severity": "critical",
            "team": "oncall",
            "action": "rollback",
            "environment": "staging",
            "namespace": "monitoring",
            **labels,
        },
        "annotations": {
            "summary": "Replay mismatches in staging: roll back",
            "description": "aos_replay_mismatch_total grew",
            "runbook_url": "https://github.com/acme/delivery-gate/blob/main/docs/runbooks/ReplayMismatch.md",
        },
        "startsAt": "2026-11-22T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ReplayMismatch"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "relay",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": list(alerts),
    }


# -- what is dispatched ------------------------------------------------------------------------


def test_a_firing_rollback_alert_becomes_one_repository_dispatch() -> None:
    with fake_github() as fake:
        outcomes = relay(alertmanager_alerts(notification(am_alert())), config(fake))
    assert [o.result for o in outcomes] == ["dispatched"]
    (request,) = fake.requests
    assert request.method == "POST" and request.path == "/repos/acme/aos/dispatches"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.body == {
        "event_type": "delivery-gate-alert",
        "client_payload": {
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
        },
    }


def test_a_ticket_alert_is_dispatched_too() -> None:
    ticket = am_alert(alertname="LatencyP95OverTarget", severity="warning", team="platform", action="ticket")
    with fake_github() as fake:
        relay(alertmanager_alerts(notification(ticket)), config(fake))
    (request,) = fake.dispatches()
    assert request.body["client_payload"]["action"] == "ticket"
    assert request.body["client_payload"]["alertname"] == "LatencyP95OverTarget"


@pytest.mark.parametrize(
    ("alert", "reason"),
    [
        (am_alert(status="resolved"), "not firing"),
        (am_alert(action="notify"), "no rollback or ticket action"),
        (am_alert(action=""), "no rollback or ticket action"),
        (am_alert(environment="production"), "not this relay's environment (staging)"),
    ],
    ids=["resolved", "notify", "no-action", "other-environment"],
)
def test_resolved_alerts_and_alerts_without_an_action_are_not_dispatched(
    alert: dict[str, Any], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_github() as fake:
        outcomes = relay(alertmanager_alerts(notification(alert)), config(fake))
    assert fake.requests == []
    assert [(o.result, o.detail) for o in outcomes] == [("skipped", reason)]
    assert f"skipped ReplayMismatch (fingerprint {FINGERPRINT}" in capsys.readouterr().err


def test_payload_values_are_one_line_and_bounded() -> None:
    hostile = am_alert(alertname="A\nB\r${{ github.token }}" + "x" * 500)
    hostile["annotations"]["summary"] = "line one\nline two\u2028" + "y" * 5000
    hostile["annotations"]["runbook_url"] = "https://example.com/" + "z" * 5000
    with fake_github() as fake:
        relay(alertmanager_alerts(notification(hostile)), config(fake))
    (request,) = fake.dispatches()
    payload = request.body["client_payload"]
    assert sorted(payload) == sorted(alert_relay.PAYLOAD_KEYS) and len(payload) == 10
    assert all(isinstance(v, str) and not re.search(r"[\x00-\x1f\u2028]", v) for v in payload.values())
    assert len(payload["summary"]) == 1000 and len(payload["runbook_url"]) == 500
    assert len(payload["alertname"]) == 200
    assert payload["alertname"].startswith("A B ${{ github.token }}")  # inert text; the workflow's job
    assert len(json.dumps(request.body)) < 5000


@pytest.mark.parametrize("fingerprint", ["", "not-hex!", "ABC"])
def test_a_missing_or_odd_fingerprint_is_replaced_by_a_stable_one(fingerprint: str) -> None:
    first = alertmanager_alerts(notification(am_alert(fingerprint=fingerprint)))[0]
    again = alertmanager_alerts(notification(am_alert(fingerprint=fingerprint)))[0]
    other = alertmanager_alerts(notification(am_alert(fingerprint=fingerprint, alertname="Other")))[0]
    assert re.fullmatch(r"[0-9a-f]{16}", first.fields["fingerprint"])
    assert first.fields["fingerprint"] == again.fields["fingerprint"] != other.fields["fingerprint"]


def test_not_an_alertmanager_notification_is_refused() -> None:
    documents: list[object] = [[], {"alerts": "x"}, {"status": "firing"}]
    for document in documents:
        with pytest.raises(ValueError, match="not an Alertmanager notification"):
            alertmanager_alerts(document)


# -- retries -----------------------------------------------------------------------------------


def test_5xx_answers_are_retried_with_exponential_backoff() -> None:
    slept: list[float] = []
    with fake_github([502, 503, 204]) as fake:
        (outcome,) = relay(alertmanager_alerts(notification(am_alert())), config(fake), slept.append)
    assert outcome.result == "dispatched" and outcome.detail == "HTTP 204, attempt 3"
    assert len(fake.dispatches()) == 3
    assert slept == [0.01, 0.02]


def test_429_waits_as_long_as_retry_after_says() -> None:
    slept: list[float] = []
    with fake_github([(429, {"Retry-After": "7"}), 204]) as fake:
        (outcome,) = relay(alertmanager_alerts(notification(am_alert())), config(fake), slept.append)
    assert outcome.result == "dispatched" and slept == [7.0]


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_other_answers_are_not_retried(status: int) -> None:
    slept: list[float] = []
    with fake_github([status]) as fake:
        (outcome,) = relay(alertmanager_alerts(notification(am_alert())), config(fake), slept.append)
    assert (outcome.result, outcome.detail) == ("failed", f"HTTP {status}, not retried")
    assert len(fake.dispatches()) == 1 and slept == []


def test_a_server_that_keeps_failing_gives_up_after_max_attempts(capsys: pytest.CaptureFixture[str]) -> None:
    slept: list[float] = []
    with fake_github([500] * 10) as fake:
        (outcome,) = relay(
            alertmanager_alerts(notification(am_alert())), config(fake, max_attempts=3), slept.append
        )
    assert (outcome.result, outcome.detail) == ("failed", "HTTP 500 after 3 attempts")
    assert len(fake.dispatches()) == 3 and slept == [0.01, 0.02]
    err = capsys.readouterr().err
    assert "HTTP 500; retrying in 0.01s" in err and f"failed ReplayMismatch (fingerprint {FINGERPRINT}" in err
    assert TOKEN not in err


def test_an_unreachable_api_is_retried_then_fails() -> None:
    with fake_github() as fake:
        url = fake.url
    slept: list[float] = []  # the server is gone: connection refused
    unreachable = Config(repository="acme/aos", api_url=url, backoff_seconds=0.01, token=lambda: TOKEN)
    (outcome,) = relay(alertmanager_alerts(notification(am_alert())), unreachable, slept.append)
    assert outcome.result == "failed" and "after 4 attempts" in outcome.detail
    assert len(slept) == 3


def test_without_a_token_nothing_is_sent() -> None:
    with fake_github() as fake:
        (outcome,) = relay(alertmanager_alerts(notification(am_alert())), config(fake, token=lambda: ""))
    assert (outcome.result, outcome.detail) == ("failed", "no GitHub token configured")
    assert fake.requests == []


# -- the in-cluster webhook ----------------------------------------------------------------------


@contextmanager
def relay_server(cfg: Config) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), alert_relay.handler_class(cfg, lambda _: None))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def post(url: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_webhook_relays_alertmanager_notifications() -> None:
    body = json.dumps(notification(am_alert(), am_alert(status="resolved", fingerprint="0" * 16))).encode()
    with fake_github() as fake, relay_server(config(fake)) as url:
        assert post(f"{url}/alertmanager", body) == (200, {"dispatched": 1, "skipped": 1, "failed": 0})
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert answer.status == 200
    assert len(fake.dispatches()) == 1


def test_the_webhook_answers_5xx_when_a_dispatch_failed_so_alertmanager_retries() -> None:
    with fake_github([500] * 10) as fake, relay_server(config(fake, max_attempts=2)) as url:
        code, counts = post(f"{url}/alertmanager", json.dumps(notification(am_alert())).encode())
    assert code == 502 and counts == {"dispatched": 0, "skipped": 0, "failed": 1}


def test_the_webhook_refuses_what_is_not_a_notification() -> None:
    with fake_github() as fake, relay_server(config(fake)) as url:
        assert post(f"{url}/alertmanager", b"{not json")[0] == 400
        assert post(f"{url}/alertmanager", b'{"alerts": 3}')[0] == 400
        assert post(f"{url}/elsewhere", b"{}")[0] == 404
        too_big = {"Content-Length": str(alert_relay.MAX_BODY + 1)}
        assert post(f"{url}/alertmanager", b"{}", too_big)[0] == 413
    assert fake.requests == []


def test_the_script_serves_as_the_deployment_starts_it(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with fake_github() as fake:
        env = {
            "GITHUB_REPOSITORY": "acme/aos",
            "GITHUB_API_URL": fake.url,
            "GITHUB_TOKEN_FILE": str(token_file),
            "RELAY_ENVIRONMENT": "staging",
            "PATH": "/usr/bin:/bin",
        }
        process = subprocess.Popen(
            [sys.executable, "-I", str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+), dispatching to acme/aos", line)
            assert match, line
            status, _ = post(
                f"http://127.0.0.1:{match.group(1)}/alertmanager",
                json.dumps(notification(am_alert())).encode(),
            )
            assert status == 200
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr:
                process.stderr.close()
    (request,) = fake.dispatches()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


# -- AWS Lambda ----------------------------------------------------------------------------------

ALARM = "delivery-gate-staging-rollback"
ALARM_ARN = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{ALARM}"
ALARMS = {
    ALARM: {
        "action": "rollback",
        "severity": "critical",
        "runbook_url": "https://github.com/acme/delivery-gate/blob/main/docs/aws.md",
    }
}


def sns_event(*messages: object) -> dict[str, Any]:
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": json.dumps(m)}}
            for m in messages
        ]
    }


def alarm_message(state: str = "ALARM", name: str = ALARM) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": ALARM_ARN if name == ALARM else f"arn:aws:cloudwatch:eu-west-1:1:alarm:{name}",
        "AlarmDescription": "delivery-policy.md §Rollback Criteria: a rollback criterion alarms in staging",
        "NewStateValue": state,
        "NewStateReason": "Alarm delivery-gate-staging-error-rate in ALARM",
        "StateChangeTime": "2026-11-22T10:00:00.000+0000",
    }


def lambda_env(monkeypatch: pytest.MonkeyPatch, fake: FakeGitHub, **extra: str) -> None:
    values = {
        "GITHUB_REPOSITORY": "acme/aos",
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": TOKEN,
        "RELAY_ENVIRONMENT": "staging",
        "RELAY_NAMESPACE": "aos",
        "RELAY_CLOUDWATCH_ALARMS": json.dumps(ALARMS),
        "RELAY_BACKOFF_SECONDS": "0.01",
        **extra,
    }
    for name in ("GITHUB_TOKEN_FILE", "RELAY_TOKEN_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_a_cloudwatch_rollback_alarm_is_dispatched_from_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_github() as fake:
        lambda_env(monkeypatch, fake)
        counts = lambda_handler(
            sns_event(alarm_message(), alarm_message("OK"), alarm_message(name="x")), None
        )
    assert counts == {"dispatched": 1, "skipped": 2, "failed": 0}
    (request,) = fake.dispatches()
    payload = request.body["client_payload"]
    assert payload == {
        "alertname": ALARM,
        "fingerprint": payload["fingerprint"],
        "environment": "staging",
        "namespace": "aos",
        "action": "rollback",
        "severity": "critical",
        "summary": (
            "delivery-policy.md §Rollback Criteria: a rollback criterion alarms in staging — "
            "Alarm delivery-gate-staging-error-rate in ALARM"
        ),
        "runbook_url": "https://github.com/acme/delivery-gate/blob/main/docs/aws.md",
        "status": "firing",
        "source": "cloudwatch",
    }
    assert re.fullmatch(r"[0-9a-f]{16}", payload["fingerprint"])


def test_a_failed_dispatch_fails_the_invocation_so_lambda_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_github([500] * 10) as fake:
        lambda_env(monkeypatch, fake, RELAY_MAX_ATTEMPTS="2")
        with pytest.raises(RuntimeError, match="1 dispatch"):
            lambda_handler(sns_event(alarm_message()), None)


def test_lambda_reads_the_token_from_secrets_manager_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:delivery-gate/staging/relay-AbCdEf"
    with fake_github(secrets={arn: TOKEN}) as fake:
        lambda_env(
            monkeypatch,
            fake,
            GITHUB_TOKEN="",
            RELAY_TOKEN_SECRET_ID=arn,
            RELAY_SECRETS_ENDPOINT=fake.url + "/",
            AWS_REGION="eu-west-1",
            AWS_ACCESS_KEY_ID="ASIAEXAMPLE",
            AWS_SECRET_ACCESS_KEY="secret-for-tests",
            AWS_SESSION_TOKEN="session-for-tests",
        )
        assert lambda_handler(sns_event(alarm_message()), None)["dispatched"] == 1
    secret_request, dispatch_request = fake.requests
    assert secret_request.body == {"SecretId": arn}
    assert secret_request.headers["x-amz-target"] == "secretsmanager.GetSecretValue"
    assert secret_request.headers["x-amz-security-token"] == "session-for-tests"
    assert (
        secret_request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/")
        and "/eu-west-1/secretsmanager/aws4_request" in secret_request.headers["authorization"]
    )
    assert dispatch_request.headers["authorization"] == f"Bearer {TOKEN}"


# AWS's Signature Version 4 test suite (aws-sig-v4-test-suite): get-vanilla, get-vanilla-query-order-key-case,
# post-vanilla; credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service "service".
SIGV4_VECTORS = [
    (
        "GET",
        "https://example.amazonaws.com/",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "GET",
        "https://example.amazonaws.com/?Param2=value2&Param1=value1",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "POST",
        "https://example.amazonaws.com/",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
]


@pytest.mark.parametrize(("method", "url", "signature"), SIGV4_VECTORS)
def test_sigv4_matches_the_aws_test_suite(method: str, url: str, signature: str) -> None:
    headers = sigv4_headers(
        method=method,
        url=url,
        headers={},
        body=b"",
        region="us-east-1",
        service="service",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        now=datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC),
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )


# -- the module itself ---------------------------------------------------------------------------


def test_the_relay_needs_only_the_standard_library() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_a_bad_repository_or_alarm_map_stops_the_relay_at_start() -> None:
    with pytest.raises(SystemExit, match="GITHUB_REPOSITORY must be owner/name"):
        Config.from_env({"GITHUB_REPOSITORY": "acme/aos/extra"})
    with pytest.raises(SystemExit, match="RELAY_CLOUDWATCH_ALARMS is not JSON"):
        Config.from_env({"GITHUB_REPOSITORY": "acme/aos", "RELAY_CLOUDWATCH_ALARMS": "{"})
