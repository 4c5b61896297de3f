#!/usr/bin/env python3
"""Alert relay: alerts that must act become GitHub repository_dispatch events.

Standard library only, so one file runs unchanged in the cluster (mounted
from a ConfigMap into a stock python image) and on AWS Lambda (this file
zipped): no build, no dependencies, nothing to patch but this file.

In
- ``serve``: Alertmanager webhook POSTs (``POST /alertmanager``, webhook
  format version 4); ``GET /healthz`` answers 200.
- ``lambda_handler``: SNS records whose message is a CloudWatch alarm state
  change, or the Alertmanager JSON that Amazon Managed Prometheus's relay
  receiver renders (the webhook's fields, see gate/relay.py).

Out: for every FIRING alert whose ``action`` label is ``rollback`` or
``ticket``, one ``POST {GITHUB_API_URL}/repos/{GITHUB_REPOSITORY}/dispatches``
with ``event_type`` RELAY_EVENT_TYPE and a ``client_payload`` of exactly ten
strings: alertname, fingerprint, environment, namespace, action, severity,
summary, runbook_url, status, source (alertmanager or cloudwatch). GitHub
allows at most ten top-level properties. Every value is one line (control
characters become spaces) cut to a bound, so no alert can make a payload
GitHub refuses. Resolved alerts, alerts without such an action and alerts of
another environment are logged and skipped. 5xx, 429 and network errors are
retried with exponential backoff; other answers are not (a 401 will not heal).

Environment
- GITHUB_REPOSITORY        owner/name to dispatch to (required)
- GITHUB_TOKEN_FILE        file holding the token (Kubernetes Secret mount),
  or RELAY_TOKEN_SECRET_ID   Secrets Manager secret name or ARN (Lambda;
                           read with SigV4),
  or GITHUB_TOKEN          the token itself (local runs and tests)
- GITHUB_API_URL           default https://api.github.com
- RELAY_EVENT_TYPE         default delivery-gate-alert
- RELAY_ENVIRONMENT        the environment this relay serves: alerts labelled
                           with another one are skipped; CloudWatch alarms
                           (no labels) are reported as this environment
- RELAY_NAMESPACE          namespace reported for CloudWatch alarms
- RELAY_CLOUDWATCH_ALARMS  JSON {alarm name: {action, severity, runbook_url}}
- RELAY_MAX_ATTEMPTS       default 4; RELAY_BACKOFF_SECONDS default 1

Logs: one line per alert on stderr, never the token.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_TYPE = "delivery-gate-alert"
ACTIONS = ("rollback", "ticket")
PAYLOAD_KEYS = (
    "alertname",
    "fingerprint",
    "environment",
    "namespace",
    "action",
    "severity",
    "summary",
    "runbook_url",
    "status",
    "source",
)
# Characters per value; 10 values stay far below GitHub's payload limit.
LIMITS = {"summary": 1000, "runbook_url": 500}
DEFAULT_LIMIT = 200
MAX_BODY = 1024 * 1024  # an Alertmanager notification larger than 1 MiB
MAX_ALERTS = 200  # alerts handled per notification; the rest are logged
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 10
MAX_BACKOFF_SECONDS = 30.0
_REPOSITORY = re.compile(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}")
_FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def log(message: str) -> None:
    print(f"alert-relay: {message}", file=sys.stderr, flush=True)


def one_line(value: object, limit: int) -> str:
    """A payload value: text, on one line, at most `limit` characters."""
    text = value if isinstance(value, str) else ""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- alerts ------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One alert as the relay reads it, from any source."""

    fields: dict[str, str]

    @property
    def status(self) -> str:
        return self.fields["status"]

    @property
    def action(self) -> str:
        return self.fields["action"]

    def describe(self) -> str:
        f = self.fields
        return (
            f"{f['alertname'] or '(no alertname)'} "
            f"(fingerprint {f['fingerprint']}, action {f['action'] or '-'}, "
            f"environment {f['environment'] or '-'}, {f['status']})"
        )


def make_alert(**values: object) -> Alert:
    fields = {
        key: one_line(values.get(key), LIMITS.get(key, DEFAULT_LIMIT))
        for key in PAYLOAD_KEYS
    }
    if not _FINGERPRINT.fullmatch(fields["fingerprint"]):
        # Dedup keys downstream rely on it: a stable one from the labels.
        identity = json.dumps(values.get("labels") or fields, sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        fields["fingerprint"] = digest
    return Alert(fields)


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def alertmanager_alerts(document: object) -> list[Alert]:
    """The alerts of an Alertmanager webhook notification (version 4), or
    of the same fields rendered by Amazon Managed Prometheus's relay
    receiver."""
    if not isinstance(document, dict):
        raise ValueError("not an Alertmanager notification: not an object")
    raw = document.get("alerts")
    if not isinstance(raw, list):
        raise ValueError("not an Alertmanager notification: no alerts list")
    if len(raw) > MAX_ALERTS:
        log(
            f"{len(raw)} alerts in one notification: only the first "
            f"{MAX_ALERTS} are handled"
        )
    alerts = []
    for entry in raw[:MAX_ALERTS]:
        if not isinstance(entry, dict):
            continue
        labels = _strings(entry.get("labels"))
        annotations = _strings(entry.get("annotations"))
        alerts.append(
            make_alert(
                alertname=labels.get("alertname"),
                fingerprint=entry.get("fingerprint"),
                environment=labels.get("environment"),
                namespace=labels.get("namespace"),
                action=labels.get("action"),
                severity=labels.get("severity"),
                summary=annotations.get("summary"),
                runbook_url=annotations.get("runbook_url"),
                status=entry.get("status") or document.get("status"),
                source="alertmanager",
                labels=labels,
            )
        )
    return alerts


CLOUDWATCH_STATES = {"ALARM": "firing", "OK": "resolved"}


def cloudwatch_alert(message: Mapping[str, Any], config: Config) -> Alert:
    """A CloudWatch alarm state change (SNS message of an alarm action)."""
    name = message.get("AlarmName")
    known = config.alarms.get(name) if isinstance(name, str) else None
    known = known if isinstance(known, dict) else {}
    state = message.get("NewStateValue")
    reason = message.get("NewStateReason")
    description = message.get("AlarmDescription")
    summary = " — ".join(
        text for text in (description, reason) if isinstance(text, str)
    )
    # Stable per alarm, as Alertmanager's is per label set: a new episode of
    # the same alarm meets the issue of the last one if it is still open.
    identity = message.get("AlarmArn") or name or ""
    fingerprint = hashlib.sha256(str(identity).encode()).hexdigest()[:16]
    return make_alert(
        alertname=name,
        fingerprint=fingerprint,
        environment=config.environment,
        namespace=config.namespace,
        action=known.get("action"),
        severity=known.get("severity"),
        summary=summary,
        runbook_url=known.get("runbook_url"),
        status=CLOUDWATCH_STATES.get(str(state), str(state or "").lower()),
        source="cloudwatch",
    )


# -- configuration and the token --------------------------------------------


@dataclass
class Config:
    repository: str
    api_url: str = "https://api.github.com"
    event_type: str = EVENT_TYPE
    environment: str = ""
    namespace: str = ""
    alarms: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    token: Callable[[], str] = lambda: ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        repository = env.get("GITHUB_REPOSITORY", "")
        if not _REPOSITORY.fullmatch(repository):
            raise SystemExit(
                f"alert-relay: GITHUB_REPOSITORY must be owner/name, "
                f"got {repository!r}"
            )
        try:
            alarms = json.loads(env.get("RELAY_CLOUDWATCH_ALARMS") or "{}")
        except json.JSONDecodeError as error:
            raise SystemExit(
                f"alert-relay: RELAY_CLOUDWATCH_ALARMS is not JSON: {error}"
            ) from None
        return cls(
            repository=repository,
            api_url=env.get("GITHUB_API_URL", cls.api_url).rstrip("/"),
            event_type=env.get("RELAY_EVENT_TYPE") or EVENT_TYPE,
            environment=env.get("RELAY_ENVIRONMENT", ""),
            namespace=env.get("RELAY_NAMESPACE", ""),
            alarms=alarms if isinstance(alarms, dict) else {},
            max_attempts=max(1, int(env.get("RELAY_MAX_ATTEMPTS") or 4)),
            backoff_seconds=float(env.get("RELAY_BACKOFF_SECONDS") or 1.0),
            token=token_source(env),
        )


def token_source(env: Mapping[str, str]) -> Callable[[], str]:
    """Where the token comes from; read on first use, then kept (a Lambda
    container or a pod serves many alerts; a rotated Secret is read on the
    next start)."""
    cache: list[str] = []

    def read() -> str:
        if not cache:
            cache.append(_read_token(env))
        return cache[0]

    return read


def _read_token(env: Mapping[str, str]) -> str:
    if path := env.get("GITHUB_TOKEN_FILE"):
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    if secret := env.get("RELAY_TOKEN_SECRET_ID"):
        return secrets_manager_value(secret, env)
    return env.get("GITHUB_TOKEN", "").strip()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_headers(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    session_token: str = "",
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """`headers` plus X-Amz-Date (and the session token) and the AWS
    Signature Version 4 Authorization header for one request."""
    moment = now or datetime.datetime.now(datetime.UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    if session_token:
        signed["x-amz-security-token"] = session_token
    names = sorted(signed)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}="
        f"{urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(query)
    )
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(parts.path or "/", safe="/-_.~"),
            canonical_query,
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    extra = {"X-Amz-Date": amz_date, "Authorization": authorization}
    if session_token:
        extra["X-Amz-Security-Token"] = session_token
    return {**headers, **extra}


def secrets_manager_value(secret_id: str, env: Mapping[str, str]) -> str:
    """GetSecretValue with the Lambda's own credentials, signed here: the
    relay needs no SDK. Lambda sets AWS_REGION and the credentials."""
    region = env.get("AWS_REGION", "")
    if not region:
        raise RuntimeError(
            "AWS_REGION is not set: cannot reach Secrets Manager"
        )
    endpoint = env.get("RELAY_SECRETS_ENDPOINT") or (
        f"https://secretsmanager.{region}.amazonaws.com/"
    )
    body = json.dumps({"SecretId": secret_id}).encode()
    headers = sigv4_headers(
        method="POST",
        url=endpoint,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "secretsmanager.GetSecretValue",
        },
        body=body,
        region=region,
        service="secretsmanager",
        access_key=env.get("AWS_ACCESS_KEY_ID", ""),
        secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
        session_token=env.get("AWS_SESSION_TOKEN", ""),
    )
    request = urllib.request.Request(
        endpoint, data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
        value = json.loads(answer.read().decode())
    secret = value.get("SecretString") if isinstance(value, dict) else None
    if not isinstance(secret, str) or not secret.strip():
        raise RuntimeError(f"secret {secret_id} holds no SecretString")
    return secret.strip()


# -- dispatching -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    alert: Alert
    result: str  # dispatched, skipped, failed
    detail: str


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def dispatch(
    alert: Alert,
    config: Config,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """One repository_dispatch for one firing alert, retried on 5xx, 429
    and network errors with exponential backoff."""
    url = f"{config.api_url}/repos/{config.repository}/dispatches"
    body = json.dumps(
        {"event_type": config.event_type, "client_payload": alert.fields},
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    token = config.token()
    if not token:
        return Outcome(alert, "failed", "no GitHub token configured")
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": "delivery-gate-alert-relay",
        "X-GitHub-Api-Version": API_VERSION,
    }
    last = ""
    for attempt in range(1, config.max_attempts + 1):
        request = urllib.request.Request(
            url, data=body, headers=headers, method="POST"
        )
        wait = min(
            config.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS
        )
        try:
            with urllib.request.urlopen(
                request, timeout=TIMEOUT_SECONDS
            ) as answer:
                return Outcome(
                    alert,
                    "dispatched",
                    f"HTTP {answer.status}, attempt {attempt}",
                )
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
            if error.code < 500 and error.code != 429:
                return Outcome(alert, "failed", f"{last}, not retried")
            wait = min(_retry_after(error) or wait, MAX_BACKOFF_SECONDS)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            last = f"{type(error).__name__}: {reason}"
        if attempt < config.max_attempts:
            log(f"{alert.describe()}: {last}; retrying in {wait:g}s")
            sleep(wait)
    return Outcome(
        alert, "failed", f"{last} after {config.max_attempts} attempts"
    )


def relay(
    alerts: Iterable[Alert],
    config: Config,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    outcomes = []
    for alert in alerts:
        if alert.status != "firing":
            outcome = Outcome(alert, "skipped", "not firing")
        elif alert.action not in ACTIONS:
            outcome = Outcome(alert, "skipped", "no rollback or ticket action")
        elif (
            config.environment
            and alert.fields["environment"] != config.environment
        ):
            outcome = Outcome(
                alert,
                "skipped",
                f"not this relay's environment ({config.environment})",
            )
        else:
            outcome = dispatch(alert, config, sleep)
        target = (
            f" to {config.repository} as {config.event_type}"
            if outcome.result == "dispatched"
            else ""
        )
        log(f"{outcome.result} {alert.describe()}{target}: {outcome.detail}")
        outcomes.append(outcome)
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts = {"dispatched": 0, "skipped": 0, "failed": 0}
    for outcome in outcomes:
        counts[outcome.result] += 1
    return counts


# -- AWS Lambda --------------------------------------------------------------


def sns_alerts(event: Mapping[str, Any], config: Config) -> list[Alert]:
    alerts: list[Alert] = []
    records = event.get("Records")
    for record in records if isinstance(records, list) else []:
        sns = record.get("Sns") if isinstance(record, dict) else None
        text = sns.get("Message") if isinstance(sns, dict) else None
        try:
            message = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            message = None
        if isinstance(message, dict) and "AlarmName" in message:
            alerts.append(cloudwatch_alert(message, config))
        elif isinstance(message, dict) and "alerts" in message:
            alerts += alertmanager_alerts(message)
        else:
            log(
                "skipped an SNS message that is neither a CloudWatch alarm "
                "nor an Alertmanager notification"
            )
    return alerts


def lambda_handler(
    event: Mapping[str, Any], context: object
) -> dict[str, int]:
    """SNS -> dispatches. A failed dispatch raises, so Lambda retries the
    asynchronous invocation (twice, by default)."""
    config = Config.from_env(os.environ)
    counts = summary(relay(sns_alerts(event, config), config))
    if counts["failed"]:
        raise RuntimeError(
            f"alert-relay: {counts['failed']} dispatch(es) failed: {counts}"
        )
    return counts


# -- the in-cluster webhook --------------------------------------------------


def handler_class(
    config: Config, sleep: Callable[[float], None] = time.sleep
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "delivery-gate-alert-relay"

        def log_message(self, format: str, *args: Any) -> None:
            log(f"{self.address_string()} {format % args}")

        def answer(self, code: int, document: object) -> None:
            data = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self.answer(200, {"ok": True})
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/alertmanager":
                self.answer(404, {"error": "POST /alertmanager only"})
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self.answer(411, {"error": "Content-Length required"})
                return
            if length < 0 or length > MAX_BODY:
                self.answer(413, {"error": f"at most {MAX_BODY} bytes"})
                return
            try:
                document = json.loads(self.rfile.read(length))
                alerts = alertmanager_alerts(document)
            except (ValueError, UnicodeDecodeError) as error:
                self.answer(400, {"error": str(error)[:200]})
                return
            counts = summary(relay(alerts, config, sleep))
            # A 5xx makes Alertmanager send the notification again.
            self.answer(502 if counts["failed"] else 200, counts)

    return Handler


def serve(host: str, port: int, config: Config) -> None:
    server = ThreadingHTTPServer((host, port), handler_class(config))
    log(
        f"listening on {host}:{server.server_address[1]}, dispatching to "
        f"{config.repository} as {config.event_type}"
    )
    server.serve_forever()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="alert_relay.py")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("serve", help="the Alertmanager webhook")
    command.add_argument("--host", default="0.0.0.0")
    command.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    serve(args.host, args.port, Config.from_env(os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
