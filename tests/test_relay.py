"""The alert relay as the stacks declare it (gate/runtime/relay.py, gate/components/kubernetes.py AlertRelay):
valid Kubernetes, restricted pods that run exactly tools/alert_relay.py, a webhook URL that is the
Service's, the token only ever a Pulumi secret, and Amazon Managed Prometheus's relay message (a Go
template, rendered by the real amtool) read by the relay's own parser."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from gate.cli import main as cli
from gate.errors import PolicyError
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.runtime import alerts, relay
from tests.conftest import ProjectFactory
from tests.support import prom_tools
from tests.support.fake_github import fake_github
from tests.support.stacks import stack_plan
from tools import alert_relay

K8S_VERSION = "1.33.0"
TOKEN = "github_pat_relay_for_tests"


def policy(**values: Any) -> GatePolicy:
    base: dict[str, Any] = {"environment": "staging", "repositories": [{"name": "aos"}]}
    return load_policy({**base, **values}, stack="staging", github_owner="acme")


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in manifests if m["kind"] != "NetworkPolicy"}


def test_every_relay_object_is_valid_kubernetes() -> None:
    p = policy()
    manifests = [*relay.manifests(p), relay.token_secret(p)]
    assert [m["kind"] for m in manifests][:1] == ["Namespace"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    assert {m["metadata"].get("namespace", m["metadata"]["name"]) for m in manifests} == {
        "delivery-gate-relay"
    }


def test_the_validator_would_catch_a_misspelt_field() -> None:
    deployment = by_kind(relay.manifests(policy()))["Deployment"]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_pods_are_restricted_and_run_the_relay_from_the_configmap() -> None:
    objects = by_kind(relay.manifests(policy()))
    assert objects["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65534
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert re.fullmatch(r"\S+@sha256:[0-9a-f]{64}", container["image"])
    assert container["command"] == ["python", "-I", "/opt/relay/alert_relay.py", "serve", "--port", "8080"]
    assert objects["ConfigMap"]["data"] == {"alert_relay.py": (Path("tools/alert_relay.py").read_text())}
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"delivery-gate.io/relay-source-sha256": relay.source_sha256()}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GITHUB_REPOSITORY"] == "acme/aos"
    assert env["RELAY_ENVIRONMENT"] == "staging" and env["RELAY_EVENT_TYPE"] == "delivery-gate-alert"
    # The token is a file from the Secret, never an environment value.
    assert env["GITHUB_TOKEN_FILE"] == "/var/run/secrets/relay/token" and "GITHUB_TOKEN" not in env
    (token_volume,) = [v for v in pod["volumes"] if v["name"] == "token"]
    assert token_volume["secret"]["secretName"] == "alert-relay-github"


def test_alertmanager_posts_to_the_services_address() -> None:
    p = policy()
    service = by_kind(relay.manifests(p))["Service"]
    (port,) = service["spec"]["ports"]
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    url = f"http://{name}.{namespace}.svc:{port['port']}/alertmanager"
    assert relay.webhook_url(p) == url
    (receiver,) = [r for r in alerts.alertmanager_config(p)["spec"]["receivers"] if r["name"] == "relay"]
    assert receiver["webhookConfigs"][0]["url"] == url


def test_the_relay_dispatches_to_the_repository_the_stack_names() -> None:
    two = [{"name": "aos"}, {"name": "tracer"}]
    assert policy(repositories=two).relay_repository.full_name == "acme/aos"
    chosen = policy(repositories=two, monitoring={"relay": {"repository": "tracer"}})
    assert relay.relay_environment(chosen)["GITHUB_REPOSITORY"] == "acme/tracer"
    with pytest.raises(PolicyError, match=r"monitoring.relay.repository: got 'web'; allowed: one of"):
        policy(repositories=two, monitoring={"relay": {"repository": "web"}})


def test_the_container_as_declared_serves_and_dispatches(tmp_path: Path) -> None:
    """The Deployment's command and environment, paths moved under tmp_path: the ConfigMap's code
    answers Alertmanager's POST and dispatches with the token file's token."""
    objects = by_kind(relay.manifests(policy()))
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    code = tmp_path / "opt" / "relay"
    code.mkdir(parents=True)
    (code / "alert_relay.py").write_text(objects["ConfigMap"]["data"]["alert_relay.py"])
    (tmp_path / "token").write_text(TOKEN)
    env = {e["name"]: e["value"] for e in container["env"]}
    command = [sys.executable, *container["command"][1:]]
    command = [c.replace("/opt/relay", str(code)) for c in command]
    command[command.index("--port") + 1] = "0"
    with fake_github() as fake:
        env.update(GITHUB_TOKEN_FILE=str(tmp_path / "token"), GITHUB_API_URL=fake.url, PATH="/usr/bin:/bin")
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1"], env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stderr is not None
            port = re.search(r"listening on 127\.0\.0\.1:(\d+)", process.stderr.readline())
            assert port
            body = {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "fingerprint": "0123456789abcdef",
                        "labels": {
                            "alertname": "ReplayMismatch",
                            "action": "rollback",
                            "environment": "staging",
                        },
                        "annotations": {},
                    }
                ],
            }
            request = f"http://127.0.0.1:{port.group(1)}/alertmanager"
            with urllib.request.urlopen(
                urllib.request.Request(request, data=json.dumps(body).encode(), method="POST"), timeout=10
            ) as answer:
                assert json.loads(answer.read()) == {"dispatched": 1, "skipped": 0, "failed": 0}
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr:
                process.stderr.close()
    (dispatch,) = fake.dispatches()
    assert dispatch.path == "/repos/acme/aos/dispatches"
    assert dispatch.headers["authorization"] == f"Bearer {TOKEN}"


# -- the stacks ----------------------------------------------------------------------------------

STACK = (
    "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    "  delivery-gate:repositories:\n    - name: aos\n"
)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_environment_stack_declares_the_relay(stack: str) -> None:
    plan = stack_plan(stack)
    (component,) = [r for r in plan["resources"] if r["type"] == "delivery-gate:kubernetes:AlertRelay"]
    children = [r for r in plan["resources"] if r.get("parent") == component["urn"]]
    kinds = sorted(r["type"].rsplit(":", 1)[1] for r in children)
    assert kinds == ["ConfigMap", "Deployment", "Namespace", *["NetworkPolicy"] * 4, "Service"]
    for child in children:
        assert child["options"]["deleteBeforeReplace"] is True
        assert child["options"]["protect"] is (stack == "prod")
    assert plan["outputs"]["alertRelay"] == {
        "namespace": "delivery-gate-relay",
        "url": "http://alert-relay.delivery-gate-relay.svc:8080/alertmanager",
    }


def test_a_secret_token_becomes_a_kubernetes_secret_hidden_in_the_plan(make_project: ProjectFactory) -> None:
    project = make_project({"dev": STACK + "  delivery-gate:relayGithubToken:\n    secure: v1:relay==\n"})
    plan = build_plan(project, "dev")
    secrets = [r for r in plan["resources"] if r["type"] == "kubernetes:core/v1:Secret"]
    (secret,) = [r for r in secrets if r["inputs"]["metadata"]["namespace"] == "delivery-gate-relay"]
    assert secret["inputs"]["metadata"]["name"] == "alert-relay-github"
    assert secret["inputs"]["stringData"] == "[secret]"
    assert "v1:relay" not in json.dumps(plan)


def test_a_plain_text_token_is_refused_without_echoing_it(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"dev": STACK + f"  delivery-gate:relayGithubToken: {TOKEN}\n"})
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "delivery-gate:relayGithubToken: got '<redacted>'" in err and TOKEN not in err


def test_a_stack_can_leave_the_relay_out(make_project: ProjectFactory) -> None:
    project = make_project({"dev": STACK + "  delivery-gate:monitoring:\n    relay: {enabled: false}\n"})
    plan = build_plan(project, "dev")
    assert not [r for r in plan["resources"] if r["type"] == "delivery-gate:kubernetes:AlertRelay"]
    assert "alertRelay" not in plan["outputs"]


# -- Amazon Managed Prometheus: the relay receiver's message -------------------------------------


def test_the_managed_prometheus_message_renders_to_what_the_relay_reads(tmp_path: Path) -> None:
    """Alertmanager 0.25's own template engine (amtool template render) on hostile label values:
    quotes, backslashes, newlines and `${{ }}` stay data, and the relay's parser reads each alert."""
    data = {
        "receiver": "relay",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": 'Replay"Mismatch\\\n${{ github.token }}',
                    "environment": "production",
                    "namespace": "monitoring",
                    "action": "rollback",
                    "severity": "critical",
                },
                "annotations": {"summary": 'two\nlines "quoted"', "runbook_url": "https://example.com/r"},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "abcdef0123456789",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "LatencyP95OverTarget", "action": "ticket"},
                "annotations": {},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": "2026-11-22T11:00:00Z",
                "generatorURL": "",
                "fingerprint": "1111111111111111",
            },
        ],
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    (tmp_path / "empty.tmpl").write_text("")
    result = prom_tools.run(
        "amtool",
        "template",
        "render",
        f"--template.glob={tmp_path / 'empty.tmpl'}",
        f"--template.data={tmp_path / 'data.json'}",
        f"--template.text={relay.SNS_MESSAGE}",
    )
    assert result.returncode == 0, prom_tools.output(result)
    message = json.loads(result.stdout)
    event = {"Records": [{"Sns": {"Message": json.dumps(message)}}]}
    config = alert_relay.Config(repository="acme/aos", environment="production")
    first, second = alert_relay.sns_alerts(event, config)
    assert first.fields == {
        "alertname": 'Replay"Mismatch\\ ${{ github.token }}',
        "fingerprint": "abcdef0123456789",
        "environment": "production",
        "namespace": "monitoring",
        "action": "rollback",
        "severity": "critical",
        "summary": 'two lines "quoted"',
        "runbook_url": "https://example.com/r",
        "status": "firing",
        "source": "alertmanager",
    }
    assert (second.status, second.action) == ("resolved", "ticket")
