"""`python -m gate health --stack S` (gate/promotion/health.py): the verdicts are pure functions of what the
probe answers (unit-tested with fakes); LiveProbe asks the Pulumi CLI (here the stub, answering
from a world) and Alertmanager's v2 API (here a fake opener)."""

from __future__ import annotations

import io
import json
import urllib.error
from collections.abc import Mapping, Sequence
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.policy.consistency import load_stack
from gate.policy.prnames import pr_stack
from gate.promotion import health
from gate.promotion.health import (
    Finding,
    HealthError,
    LiveProbe,
    Preview,
    ProbeError,
    alert_matchers,
    alerts_finding,
    check_health,
    drift_finding,
    evidence_finding,
    read_release_evidence,
    render,
)
from tests.conftest import ProjectFactory
from tests.support.sample_world import STUBS, make_world
from tests.support.stacks import PROJECT, names

DEV = load_stack(PROJECT, "dev")
STAGING = load_stack(PROJECT, "staging")
DIGEST = "sha256:71219ca958968541d5e620b4469557ccacc7a401d10b2fa7a3c5f052715461b8"
EVIDENCE = {
    "environment": "dev",
    "stack": "dev",
    "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/aos@{DIGEST}",
    "imageDigest": DIGEST,
    "flags": {},
    "parityRootHash": "sha256:9245108eaa44cdeba14718a7710540d423949b83c415298795fbbda003d5a559",
    "validatedAt": "2026-11-20T09:30:00Z",
}
DRIFT = """\
Previewing update (dev):
     Type                                       Name                   Plan       Info
     pulumi:pulumi:Stack                        delivery-gate-dev
 ~   ├─ github:index/branchProtection:BranchProtection  acme-aos-protect-main  update  [diff: ~contexts]
    ~ github:index/branchProtection:BranchProtection: (update)
        [urn=urn:pulumi:dev::delivery-gate::github:index/branchProtection:BranchProtection::acme-aos-protect-main]
    = pulumi:pulumi:Stack: (same)
Resources:
    ~ 1 to update
error: no changes were expected but changes were proposed
"""


def alert(name: str, state: str = "active", **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": "critical", **labels}, "status": {"state": state},
            "startsAt": "2026-11-28T10:00:00Z"}  # fmt: skip


# -- drift -------------------------------------------------------------------------------------


def test_drift() -> None:
    assert drift_finding(Preview(0, "Resources:\n    70 unchanged\n")) == Finding(
        "drift", True, "pulumi preview --refresh proposes no changes"
    )
    drifted = drift_finding(Preview(255, DRIFT))
    assert not drifted.healthy
    assert drifted.message == (
        "drift: pulumi preview --refresh proposes changes: "
        "~ github:index/branchProtection:BranchProtection: (update)"
    )
    newer_cli = drift_finding(
        Preview(255, "error: no changes were expected for preview but changes were proposed")
    )
    assert newer_cli.message == "drift: pulumi preview --refresh proposes changes (see the preview above)"
    broken = drift_finding(Preview(255, "error: failed to load checkpoint: AccessDenied\n"))
    assert not broken.healthy
    assert broken.message == (
        "cannot tell whether it drifted: pulumi preview failed (exit 255): "
        "error: failed to load checkpoint: AccessDenied"
    )


# -- alerts ------------------------------------------------------------------------------------


def test_alert_matchers_are_the_labels_the_gate_rules_carry() -> None:
    assert alert_matchers(DEV) == ('environment="dev"', 'namespace="monitoring"')
    assert alert_matchers(load_stack(PROJECT, "prod")) == (
        'environment="production"',
        'namespace="monitoring"',
    )


def test_alerts() -> None:
    assert alerts_finding("dev", []) == Finding("alerts", True, "no alert firing in dev")
    firing = alerts_finding("dev", [alert("RedisDisconnected"), alert("LatencyP95OverTarget", "unprocessed")])
    assert firing == Finding(
        "alerts",
        False,
        "2 alert(s) firing in dev: RedisDisconnected (severity critical, since 2026-11-28T10:00:00Z), "
        "LatencyP95OverTarget (severity critical, since 2026-11-28T10:00:00Z)",
    )
    muted = alerts_finding("dev", [alert("ErrorBudgetBurn", "suppressed")])
    assert muted.healthy
    assert muted.message.endswith(
        "; 1 silenced or inhibited, not counted: ErrorBudgetBurn (severity critical, "
        "since 2026-11-28T10:00:00Z)"
    )
    odd = alerts_finding("dev", [{"labels": {}}, "not an alert"])
    assert odd.message == "2 alert(s) firing in dev: (no alertname), (no alertname)"


# -- evidence ----------------------------------------------------------------------------------


def test_evidence_for_the_image_the_stack_runs() -> None:
    ok = evidence_finding(DEV, {"releaseEvidence": EVIDENCE})
    assert ok == Finding(
        "evidence", True, f"releaseEvidence covers {DIGEST} (parity validated at 2026-11-20T09:30:00+00:00)"
    )
    other = {**EVIDENCE, "imageDigest": "sha256:" + "b" * 64, "image": "r/aos@sha256:" + "b" * 64}
    assert evidence_finding(DEV, {"releaseEvidence": other}).message == (
        f"releaseEvidence is for sha256:{'b' * 64}, but the stack runs {DIGEST}"
    )
    missing = evidence_finding(DEV, {"validationStatus": "not validated yet: no parity result recorded"})
    assert not missing.healthy
    assert missing.message.startswith(
        f"no releaseEvidence in the stack's outputs for the image it runs, {DIGEST} "
        "(validationStatus: not validated yet: no parity result recorded): the pipeline records it"
    )
    # What the stack runs is read from its state (its `release` output), not from the stack file.
    deployed = {"release": {"image": "r/aos@sha256:" + "b" * 64}, "releaseEvidence": EVIDENCE}
    assert evidence_finding(DEV, deployed).message == (
        f"releaseEvidence is for {DIGEST}, but the stack runs sha256:{'b' * 64}"
    )
    malformed = evidence_finding(DEV, {"releaseEvidence": {**EVIDENCE, "imageDigest": "latest"}})
    assert malformed == Finding("evidence", False, "releaseEvidence is malformed (imageDigest)")
    assert (
        evidence_finding(DEV, {"releaseEvidence": "[secret]"}).message
        == "releaseEvidence is malformed ((whole))"
    )


def test_evidence_from_a_newer_gate_with_more_fields_is_read() -> None:
    newer = {**EVIDENCE, "sbomDigest": "sha256:" + "c" * 64, "checks": {"k6": "passed"}}
    assert read_release_evidence(newer).image_digest == DIGEST
    assert evidence_finding(DEV, {"releaseEvidence": newer}).healthy


def test_a_stack_that_deploys_nothing_needs_no_evidence(make_project: ProjectFactory) -> None:
    document = yaml.safe_load((PROJECT / "stacks" / "Pulumi.dev.yaml").read_text())
    for key in ("release", "validation"):
        document["config"].pop(f"delivery-gate:{key}", None)
    project = make_project({"dev": yaml.safe_dump(document)})
    assert evidence_finding(load_stack(project, "dev"), {}) == Finding(
        "evidence", True, "deploys no image: no evidence needed"
    )


# -- the whole check -------------------------------------------------------------------------------


class FakeProbe:
    def __init__(
        self,
        preview: Preview | ProbeError | None = None,
        alerts: Sequence[Any] | ProbeError = (),
        outputs: Mapping[str, Any] | ProbeError | None = None,
    ) -> None:
        self.preview, self.alerts = preview or Preview(0, ""), alerts
        self.outputs = {"releaseEvidence": EVIDENCE} if outputs is None else outputs
        self.asked: list[tuple[str, object]] = []

    def _answer(self, answer: Any) -> Any:
        if isinstance(answer, ProbeError):
            raise answer
        return answer

    def preview_refresh(self, stack: str) -> Preview:
        self.asked.append(("preview", stack))
        return self._answer(self.preview)  # type: ignore[no-any-return]

    def stack_outputs(self, stack: str) -> Mapping[str, Any]:
        self.asked.append(("outputs", stack))
        return self._answer(self.outputs)  # type: ignore[no-any-return]

    def active_alerts(self, matchers: Sequence[str]) -> list[Any]:
        self.asked.append(("alerts", tuple(matchers)))
        return list(self._answer(self.alerts))


def test_healthy_stack() -> None:
    probe = FakeProbe()
    result = check_health(DEV, probe)
    assert result.healthy and result.downstream == ("staging", "prod")
    assert probe.asked == [("preview", "dev"), ("alerts", alert_matchers(DEV)), ("outputs", "dev")]
    assert render(result).splitlines() == [
        "stack dev (environment dev): healthy",
        "  ok    drift     pulumi preview --refresh proposes no changes",
        "  ok    alerts    no alert firing in dev",
        f"  ok    evidence  releaseEvidence covers {DIGEST} (parity validated at 2026-11-20T09:30:00+00:00)",
        "staging may follow",
    ]


def test_every_check_is_reported_and_what_cannot_be_asked_fails() -> None:
    probe = FakeProbe(
        preview=Preview(255, DRIFT),
        alerts=ProbeError("Alertmanager at am.example is unreachable: timed out"),
        outputs=ProbeError("pulumi stack output failed (exit 255): error: no stack named 'staging' found"),
    )
    result = check_health(STAGING, probe)
    assert not result.healthy
    assert render(result).splitlines() == [
        "stack staging (environment staging): NOT HEALTHY",
        "  FAIL  drift     drift: pulumi preview --refresh proposes changes: "
        "~ github:index/branchProtection:BranchProtection: (update)",
        "  FAIL  alerts    cannot tell: Alertmanager at am.example is unreachable: timed out",
        "  FAIL  evidence  cannot tell: pulumi stack output failed (exit 255): "
        "error: no stack named 'staging' found",
        "the chain stops here: prod will not be deployed until staging is healthy",
    ]


def test_the_command_exits_1_when_unhealthy_and_2_for_a_bad_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    assert health.command(PROJECT, "dev", None, probe=FakeProbe(), out=lines.append) == 0
    assert lines[0].startswith("stack dev (environment dev): healthy")
    assert health.command(PROJECT, "dev", None, probe=FakeProbe(alerts=[alert("X")]), out=lines.append) == 1
    with pytest.raises(HealthError, match="an environment stack"):
        health.command(PROJECT, pr_stack(names().repository, 42), None, probe=FakeProbe())
    assert cli.main(["health", "--stack", "dev", "--alertmanager-url", "file:///etc/passwd"]) == 2
    assert (
        "--alertmanager-url: got 'file:///etc/passwd'; allowed: an http(s):// URL" in capsys.readouterr().err
    )
    assert cli.main(["health", "--stack", "nope", "--project-dir", str(PROJECT)]) == 4  # no such stack file


# -- LiveProbe ------------------------------------------------------------------------------------


class Response(io.BytesIO):
    def __enter__(self) -> Response:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def test_live_probe_asks_alertmanager_v2_with_the_filters_and_token() -> None:
    seen: list[Any] = []

    def opener(request: Any, timeout: float) -> Response:
        seen.append((request.full_url, dict(request.header_items()), timeout))
        return Response(json.dumps([alert("X", environment="dev")]).encode())

    probe = LiveProbe(PROJECT, "https://am.example/base/", "t0ken", opener=opener)
    assert probe.active_alerts(alert_matchers(DEV)) == [alert("X", environment="dev")]
    [(url, headers, _)] = seen
    assert url == (
        "https://am.example/base/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
        "&filter=environment%3D%22dev%22&filter=namespace%3D%22monitoring%22"
    )
    assert headers["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            urllib.error.HTTPError("u", 401, "Unauthorized", Message(), None),
            "Alertmanager at am.example answered HTTP 401",
        ),
        (urllib.error.URLError("Name or service not known"), "is unreachable: Name or service not known"),
        (b"<html>", "answered something other than JSON"),
        (b'{"status": "ok"}', "answered no list of alerts"),
    ],
)
def test_live_probe_alertmanager_failures(answer: Any, message: str) -> None:
    def opener(request: Any, timeout: float) -> Response:
        if isinstance(answer, Exception):
            raise answer
        return Response(answer)

    with pytest.raises(ProbeError, match=message):
        LiveProbe(PROJECT, "http://am.example", opener=opener).active_alerts(())
    with pytest.raises(ProbeError, match="no Alertmanager to ask: set ALERTMANAGER_URL"):
        LiveProbe(PROJECT, None).active_alerts(())


def test_live_probe_reads_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(tmp_path)
    monkeypatch.setenv("GATE_HARNESS_WORLD", str(world.root))
    logged: list[str] = []
    probe = LiveProbe(PROJECT, None, pulumi=str(STUBS / "pulumi"), log=logged.append)
    with pytest.raises(
        ProbeError, match="pulumi stack output failed \\(exit 255\\): error: no stack named 'dev' found"
    ):
        probe.stack_outputs("dev")
    world.set_stack_outputs("dev", {"releaseEvidence": EVIDENCE})
    assert probe.stack_outputs("dev") == {"releaseEvidence": EVIDENCE}
    assert probe.preview_refresh("dev").exit_code == 0
    world.set_drift("dev", "    ~ github:index/branchProtection:BranchProtection: (update)")
    drifted = probe.preview_refresh("dev")
    assert drifted.exit_code == 255 and not drift_finding(drifted).healthy
    assert "no changes were expected but changes were proposed" in logged[-1]
    argv = [c["argv"] for c in world.calls("pulumi")]
    assert argv[-1] == ["preview", "--refresh", "--expect-no-changes", "--diff", "--non-interactive",
                        "--stack", "dev", "--cwd", str(PROJECT)]  # fmt: skip
    with pytest.raises(ProbeError, match="the Pulumi CLI is not installed"):
        LiveProbe(PROJECT, None, pulumi=str(tmp_path / "no-pulumi")).preview_refresh("dev")
