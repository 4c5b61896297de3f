"""`python -m gate health --stack S`: whether a deployed stack is healthy enough for the next stack of
the chain to follow it (DP §Environment Progression: "Promotion between environments requires
evidence of health at the current stage"). gate-deploy.yml runs it after each `pulumi up`; the next
stack's job needs this one, so an unhealthy stack stops the chain there.

A stack is healthy when all three hold:

1. **No drift.** `pulumi preview --refresh --expect-no-changes` proposes nothing: what runs is what the
   stack declares (nobody changed it by hand, and the last `pulumi up` converged).
2. **Quiet alerts.** The environment's Alertmanager has no alert firing with the labels the gate's
   own PrometheusRule puts on every alert of this environment (gate/runtime/alerts.py): `environment` (the
   environment's name) and `namespace` (where the rules live, `monitoring.namespace`). It is asked
   through the Alertmanager v2 API at `--alertmanager-url` (default: $ALERTMANAGER_URL, a variable of
   the stack's GitHub environment), with the bearer token in $ALERTMANAGER_TOKEN when one is set:

       GET <url>/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true
           &filter=environment="staging"&filter=namespace="monitoring"

   An alert a person silenced, or one inhibited by another (state `suppressed`), is listed but does
   not count; an alert still `unprocessed` counts as firing.
3. **Evidence.** The stack's outputs hold `releaseEvidence` (gate/promotion/evidence.py) whose `imageDigest`
is
   the digest of the image the stack file deploys, or the stack deploys no image. The evidence is
   read through ReleaseEvidence; fields this version does not know are ignored, not refused.

All three are checked and reported, even after one fails. What cannot be asked (no Pulumi CLI, the
backend or Alertmanager unreachable, no Alertmanager URL) fails its check, saying why: a stack whose
health cannot be shown is not healthy. The verdicts are pure functions of what the `Probe` answers;
`LiveProbe` asks the Pulumi CLI and Alertmanager, tests give a fake.

Exit codes: 0 healthy, 1 not healthy, 2 a problem with the command (bad stack file, bad URL).
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from gate.errors import GateError
from gate.policy.consistency import load_stack
from gate.policy.model import GatePolicy
from gate.policy.types import image_digest
from gate.promotion.delivery import RELEASE_OUTPUT
from gate.promotion.evidence import EVIDENCE_OUTPUT, ReleaseEvidence

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
ALERTMANAGER_URL_ENV = "ALERTMANAGER_URL"
ALERTMANAGER_TOKEN_ENV = "ALERTMANAGER_TOKEN"
ALERTS_PATH = "/api/v2/alerts"
# pulumi's --expect-no-changes error: "no changes were expected but changes were proposed" (newer CLIs
# say "no changes were expected for <operation> but changes were proposed").
NO_CHANGES_EXPECTED = "no changes were expected"
DRIFT_COMMAND = ("preview", "--refresh", "--expect-no-changes", "--diff", "--non-interactive")
# The operations a preview proposes that are drift (`same` and `read` are not).
_CHANGE_LINE = re.compile(
    r"^\s*[~+\-<>]{1,2}\s+\S.*\((update|create|delete|replace|create-replacement|delete-replaced|import)\)\s*$"
)
MAX_LISTED = 8
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class HealthError(GateError):
    """The health command cannot run as asked (exit 2)."""


class ProbeError(Exception):
    """Something the health check needs could not be asked; the check fails with this message."""


@dataclass(frozen=True)
class Preview:
    """What `pulumi preview --refresh --expect-no-changes` answered."""

    exit_code: int
    output: str


class Probe(Protocol):
    """The I/O behind the checks: the Pulumi backend and the environment's Alertmanager."""

    def preview_refresh(self, stack: str) -> Preview: ...

    def stack_outputs(self, stack: str) -> Mapping[str, Any]: ...

    def active_alerts(self, matchers: Sequence[str]) -> list[Any]: ...


@dataclass(frozen=True)
class Finding:
    check: str  # drift, alerts, evidence
    healthy: bool
    message: str


@dataclass(frozen=True)
class Health:
    stack: str
    environment: str
    findings: tuple[Finding, ...]
    downstream: tuple[str, ...]  # the stacks after this one in the chain

    @property
    def healthy(self) -> bool:
        return all(finding.healthy for finding in self.findings)


# -- the verdicts (pure) --------------------------------------------------------------------------


def drift_finding(preview: Preview) -> Finding:
    if preview.exit_code == 0:
        return Finding("drift", True, "pulumi preview --refresh proposes no changes")
    if NO_CHANGES_EXPECTED in preview.output:
        changes = [line.strip() for line in preview.output.splitlines() if _CHANGE_LINE.match(line)]
        listed = "; ".join(changes[:MAX_LISTED]) + (
            f"; … {len(changes) - MAX_LISTED} more" if len(changes) > MAX_LISTED else ""
        )
        what = f": {listed}" if changes else " (see the preview above)"
        return Finding("drift", False, f"drift: pulumi preview --refresh proposes changes{what}")
    failed = f"pulumi preview failed (exit {preview.exit_code}): {_last(preview.output)}"
    return Finding("drift", False, f"cannot tell whether it drifted: {failed}")


def alert_matchers(policy: GatePolicy) -> tuple[str, ...]:
    """The Alertmanager filter for this environment's alerts: the labels every rule of its
    PrometheusRule carries (gate/runtime/alerts.py `_rule`)."""
    return (
        f"environment={json.dumps(policy.environment)}",
        f"namespace={json.dumps(policy.monitoring.namespace)}",
    )


def alerts_finding(environment: str, alerts: Sequence[Any]) -> Finding:
    firing: list[str] = []
    muted: list[str] = []
    for alert in alerts:
        state = _get(alert, "status", "state") or "unprocessed"
        (muted if state == "suppressed" else firing).append(_describe_alert(alert))
    muted_note = f"; {len(muted)} silenced or inhibited, not counted: {_listed(muted)}" if muted else ""
    if firing:
        return Finding(
            "alerts", False, f"{len(firing)} alert(s) firing in {environment}: {_listed(firing)}{muted_note}"
        )
    return Finding("alerts", True, f"no alert firing in {environment}{muted_note}")


def evidence_finding(policy: GatePolicy, outputs: Mapping[str, Any]) -> Finding:
    # What the stack runs is in its state (gate/promotion/delivery.py); the stack file's is a bootstrap value.
    release = outputs.get(RELEASE_OUTPUT)
    deployed = release.get("image") if isinstance(release, dict) else None
    image = deployed if isinstance(deployed, str) else policy.deployed_image
    if image is None:
        return Finding("evidence", True, "deploys no image: no evidence needed")
    wanted = image_digest(image)
    document = outputs.get(EVIDENCE_OUTPUT)
    if document is None:
        status = outputs.get("validationStatus")
        why = f" (validationStatus: {status})" if isinstance(status, str) else ""
        return Finding(
            "evidence",
            False,
            f"no {EVIDENCE_OUTPUT} in the stack's outputs for the image it runs, {wanted}{why}: the "
            f"pipeline records it after parity, analysis and window pass (`python -m gate record-evidence "
            f"--stack {policy.stack} ...` in deploy.yml)",
        )
    try:
        evidence = read_release_evidence(document)
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(whole)" for e in error.errors())
        return Finding("evidence", False, f"{EVIDENCE_OUTPUT} is malformed ({fields})")
    if evidence.image_digest != wanted:
        return Finding(
            "evidence",
            False,
            f"{EVIDENCE_OUTPUT} is for {evidence.image_digest}, but the stack runs {wanted}",
        )
    return Finding(
        "evidence",
        True,
        f"{EVIDENCE_OUTPUT} covers {wanted} (parity validated at {evidence.validated_at.isoformat()})",
    )


def read_release_evidence(document: Any) -> ReleaseEvidence:
    """The evidence through ReleaseEvidence, ignoring fields it does not know (a newer gate may
    export more than this one reads)."""
    if not isinstance(document, Mapping):
        return ReleaseEvidence.model_validate(document)  # raises, naming the whole document
    known = {info.alias or name for name, info in ReleaseEvidence.model_fields.items()}
    known |= set(ReleaseEvidence.model_fields)
    return ReleaseEvidence.model_validate({k: v for k, v in document.items() if k in known})


def check_health(policy: GatePolicy, probe: Probe) -> Health:
    """Every check, each failing on its own when its question cannot be asked."""
    stack = policy.stack

    def ask(check: str, question: Callable[[], Finding]) -> Finding:
        try:
            return question()
        except ProbeError as error:
            return Finding(check, False, f"cannot tell: {error}")

    findings = (
        ask("drift", lambda: drift_finding(probe.preview_refresh(stack))),
        ask(
            "alerts", lambda: alerts_finding(policy.environment, probe.active_alerts(alert_matchers(policy)))
        ),
        ask("evidence", lambda: evidence_finding(policy, probe.stack_outputs(stack))),
    )
    stacks = [environment.stack for environment in policy.environments]
    downstream = tuple(stacks[stacks.index(stack) + 1 :]) if stack in stacks else ()
    return Health(stack, policy.environment, findings, downstream)


def render(health: Health) -> str:
    verdict = "healthy" if health.healthy else "NOT HEALTHY"
    lines = [f"stack {health.stack} (environment {health.environment}): {verdict}"]
    lines += [f"  {'ok  ' if f.healthy else 'FAIL'}  {f.check:<8}  {f.message}" for f in health.findings]
    if not health.healthy and health.downstream:
        lines.append(
            f"the chain stops here: {', '.join(health.downstream)} will not be deployed until "
            f"{health.stack} is healthy"
        )
    elif health.healthy and health.downstream:
        lines.append(f"{health.downstream[0]} may follow")
    return "\n".join(lines) + "\n"


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _describe_alert(alert: Any) -> str:
    name = _get(alert, "labels", "alertname") or "(no alertname)"
    severity = _get(alert, "labels", "severity")
    since = _get(alert, "startsAt")
    details = ", ".join(
        x for x in (f"severity {severity}" if severity else "", f"since {since}" if since else "") if x
    )
    return f"{name} ({details})" if details else str(name)


def _listed(items: Sequence[str]) -> str:
    more = f", … {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _last(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


# -- the I/O --------------------------------------------------------------------------------------

Opener = Callable[..., Any]


class LiveProbe:
    """The Pulumi CLI (logged in to the stack's backend) and the environment's Alertmanager."""

    def __init__(
        self,
        project_dir: Path,
        alertmanager_url: str | None,
        token: str | None = None,
        *,
        pulumi: str = "pulumi",
        log: Callable[[str], None] = print,
        opener: Opener = urllib.request.urlopen,
        timeout: float = 30.0,
    ) -> None:
        if alertmanager_url:
            parsed = urllib.parse.urlsplit(alertmanager_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise HealthError(
                    f"--alertmanager-url: got {alertmanager_url[:200]!r}; allowed: an http(s):// URL of "
                    "the environment's Alertmanager"
                )
        self.project_dir, self.url, self.token = project_dir, alertmanager_url or None, token or None
        self.pulumi, self.log, self.opener, self.timeout = pulumi, log, opener, timeout

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        command = [self.pulumi, *args, "--cwd", str(self.project_dir)]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise ProbeError(f"the Pulumi CLI is not installed ({self.pulumi} is not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise ProbeError(f"pulumi {args[0]} did not finish within {timeout:.0f} s") from None

    def preview_refresh(self, stack: str) -> Preview:
        done = self._run(*DRIFT_COMMAND, "--stack", stack, timeout=1800)
        output = done.stdout + done.stderr
        self.log(output.rstrip("\n"))  # the preview's own diff, for the job log
        return Preview(done.returncode, output)

    def stack_outputs(self, stack: str) -> Mapping[str, Any]:
        done = self._run("stack", "output", "--json", "--stack", stack, timeout=300)
        if done.returncode != 0:
            raise ProbeError(
                f"pulumi stack output failed (exit {done.returncode}): {_last(done.stderr + done.stdout)}"
            )
        try:
            outputs = json.loads(done.stdout or "{}")
        except json.JSONDecodeError as error:
            raise ProbeError(f"pulumi stack output printed no JSON: {error.msg}") from None
        if not isinstance(outputs, dict):
            raise ProbeError("pulumi stack output printed no JSON object")
        return outputs

    def active_alerts(self, matchers: Sequence[str]) -> list[Any]:
        if self.url is None:
            raise ProbeError(
                f"no Alertmanager to ask: set {ALERTMANAGER_URL_ENV} (a variable of the stack's GitHub "
                "environment) or --alertmanager-url"
            )
        query = [("active", "true"), ("silenced", "true"), ("inhibited", "true"), ("unprocessed", "true")]
        query += [("filter", matcher) for matcher in matchers]
        url = f"{self.url.rstrip('/')}{ALERTS_PATH}?{urllib.parse.urlencode(query)}"
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        where = urllib.parse.urlsplit(self.url).netloc
        try:
            with self.opener(urllib.request.Request(url, headers=headers), timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise ProbeError(f"Alertmanager at {where} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ProbeError(f"Alertmanager at {where} is unreachable: {reason}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise ProbeError(f"Alertmanager at {where} answered more than {MAX_RESPONSE_BYTES} bytes")
        try:
            alerts = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProbeError(f"Alertmanager at {where} answered something other than JSON") from None
        if not isinstance(alerts, list):
            raise ProbeError(f"Alertmanager at {where} answered no list of alerts")
        return alerts


def command(
    project_dir: Path,
    stack: str,
    alertmanager_url: str | None,
    token: str | None = None,
    *,
    probe: Probe | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """`python -m gate health`: the report on stdout, exit 0 when healthy, 1 when not."""
    policy = load_stack(project_dir, stack)
    if policy.ephemeral is not None:
        raise HealthError(f"--stack: got {stack!r}; allowed: an environment stack (not pr-<N>)")
    health = check_health(policy, probe or LiveProbe(project_dir, alertmanager_url, token, log=out))
    out(render(health).rstrip("\n"))
    return EXIT_HEALTHY if health.healthy else EXIT_UNHEALTHY
