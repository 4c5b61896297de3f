"""Ephemeral stack lifecycle (gate ephemeral up|down|reap) over a fake Automation API workspace:
pr-<repo>-<N> stacks from each repository's template, reaped across repositories (and legacy pr-<N>)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.runtime import lifecycle
from tests.conftest import ProjectFactory

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeWorkspace:
    """Stacks and their outputs in memory; `up` records the stack config file it was given."""

    def __init__(self, project_dir: Path, outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.project_dir = project_dir
        self.state: dict[str, dict[str, Any]] = dict(outputs or {})
        self.configs: dict[str, dict[str, Any]] = {}
        self.removed: list[str] = []

    def stacks(self) -> list[str]:
        return list(self.state)

    def outputs(self, stack: str) -> dict[str, Any]:
        return self.state[stack]

    def up(self, stack: str) -> dict[str, Any]:
        config = yaml.safe_load((self.project_dir / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]
        self.configs[stack] = config
        created = config["delivery-gate:ephemeral"]["createdAt"]
        created = created if isinstance(created, str) else created.isoformat().replace("+00:00", "Z")
        self.state[stack] = {"createdAt": created, "expiresAt": "computed-by-the-program", "namespace": "ns"}
        return self.state[stack]

    def destroy_and_remove(self, stack: str) -> None:
        if self.state[stack].get("fail"):
            raise RuntimeError(f"error: the destroy of {stack} failed: the cluster is unreachable")
        self.removed.append(stack)
        del self.state[stack]


# The per-PR template of the repository these tests create stacks for (acme/aos), written here so
# the tests do not depend on the shipped stacks/ephemeral.yaml (an example that a user replaces).
TEMPLATE = """\
config:
  github:owner: acme
  delivery-gate:environment: staging
  delivery-gate:ephemeral:
    pullRequest: ${PR_NUMBER}
    repository: aos
    createdAt: ${CREATED_AT}
    ttl: 72h
  delivery-gate:repositories:
    - name: aos
  delivery-gate:application:
    image: ghcr.io/acme/aos:pr-${PR_NUMBER}
"""


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    project = make_project({})
    (project / "stacks" / "ephemeral.yaml").write_text(TEMPLATE)
    return project


def test_up_creates_the_stack_from_the_template_and_leaves_no_config_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T12:34:56Z")
    workspace = FakeWorkspace(project)
    lifecycle.up(workspace, project, 42, "acme/aos")
    config = workspace.configs["pr-aos-42"]
    assert config["delivery-gate:ephemeral"]["pullRequest"] == 42
    assert str(config["delivery-gate:ephemeral"]["createdAt"]).startswith("2026-11-22")
    assert not (project / "stacks" / "Pulumi.pr-aos-42.yaml").exists()


def test_an_update_keeps_the_creation_time(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = FakeWorkspace(project, {"pr-aos-42": {"createdAt": "2026-11-20T08:00:00Z", "expiresAt": "x"}})
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T12:00:00Z")
    lifecycle.up(workspace, project, 42, "acme/aos")
    assert workspace.state["pr-aos-42"]["createdAt"] == "2026-11-20T08:00:00Z"


def test_up_refuses_another_repository(project: Path) -> None:
    with pytest.raises(lifecycle.LifecycleError, match="allowed: 'acme/aos'"):
        lifecycle.up(FakeWorkspace(project), project, 42, "evil/fork")
    with pytest.raises(lifecycle.LifecycleError, match="allowed: 'acme/aos'"):
        lifecycle.up(FakeWorkspace(project), project, 42, "evil/aos")  # same name, another owner


PR_IMAGE = "ghcr.io/acme/aos@sha256:" + "ab" * 32


def test_up_deploys_the_pull_requests_own_image(project: Path) -> None:
    workspace = FakeWorkspace(project)
    lifecycle.up(workspace, project, 42, "acme/aos", PR_IMAGE)
    assert workspace.configs["pr-aos-42"]["delivery-gate:application"]["image"] == PR_IMAGE
    assert workspace.configs["pr-aos-42"]["delivery-gate:ephemeral"]["pullRequest"] == 42


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/acme/aos:pr-42", "ghcr.io/acme/aos@sha256:abc", PR_IMAGE + "\n  delivery-gate:x: y", ""],
)
def test_up_refuses_an_image_not_pinned_by_digest(project: Path, image: str) -> None:
    with pytest.raises(lifecycle.LifecycleError, match=r"--image: got .*allowed: an image pinned by digest"):
        lifecycle.up(FakeWorkspace(project), project, 42, "acme/aos", image)
    assert not (project / "stacks" / "Pulumi.pr-aos-42.yaml").exists()


def test_down_destroys_and_removes_only_that_stack(project: Path) -> None:
    workspace = FakeWorkspace(project, {"pr-aos-42": {}, "pr-aos-43": {}, "pr-web-42": {}})
    assert lifecycle.down(workspace, "acme/aos", 42) == ["pr-aos-42"]
    assert workspace.removed == ["pr-aos-42"]
    assert lifecycle.down(workspace, "acme/aos", 42) == []


def test_down_also_removes_the_legacy_stack_of_the_same_pull_request(project: Path) -> None:
    workspace = FakeWorkspace(
        project,
        {
            "pr-aos-42": {},
            "pr-42": {"namespace": "aos-pr-42"},  # made before the names carried the repository
            "pr-43": {"namespace": "web-pr-43"},  # another repository's
        },
    )
    assert lifecycle.down(workspace, "acme/aos", 42) == ["pr-aos-42", "pr-42"]
    assert lifecycle.down(workspace, "acme/aos", 43) == []
    assert "pr-43" in workspace.state


EXPIRED, ALIVE = "2026-11-22T11:59:59Z", "2026-11-22T12:00:01Z"


def test_the_janitor_reaps_only_expired_ephemeral_stacks(project: Path) -> None:
    workspace = FakeWorkspace(
        project,
        {
            "pr-aos-1": {"expiresAt": EXPIRED},  # expired a second ago
            "pr-aos-2": {"expiresAt": ALIVE},  # still alive
            "pr-aos-3": {},  # no expiry recorded: not provably ephemeral
            "pr-aos-4": {"expiresAt": "soon"},  # not a time
            "dev": {"expiresAt": "2000-01-01T00:00:00Z"},  # not a PR stack: never
            "prod": {},
            "pr-x": {"expiresAt": "2000-01-01T00:00:00Z"},
            "pr-aos-0": {"expiresAt": "2000-01-01T00:00:00Z"},  # no pull request 0
            "pr-Aos-5": {"expiresAt": "2000-01-01T00:00:00Z"},  # not a slug
        },
    )
    messages: list[str] = []
    reaped = lifecycle.reap(workspace, NOW, log=messages.append)
    assert [r.stack for r in reaped] == ["pr-aos-1"]
    assert workspace.removed == ["pr-aos-1"]
    assert "skip pr-aos-3: no expiresAt output, so not provably ephemeral" in messages
    assert "skip pr-aos-4: expiresAt 'soon' is not a time" in messages


ACROSS_REPOSITORIES = {
    "pr-aos-1": {"expiresAt": EXPIRED, "repository": "acme/aos"},
    "pr-web-app-3bbc5f-2": {"expiresAt": EXPIRED, "repository": "acme/Web.App"},
    "pr-tracer-3": {"expiresAt": EXPIRED},  # no repository output: attributed by its name
    "pr-tracer-4": {"expiresAt": ALIVE},
    "pr-7": {"expiresAt": EXPIRED, "namespace": "aos-pr-7"},  # legacy, acme/aos's by its namespace
    "pr-8": {"expiresAt": EXPIRED, "namespace": "tracer-pr-8"},  # legacy, another repository's
    "pr-9": {"expiresAt": ALIVE, "namespace": "aos-pr-9"},
}


def test_the_janitor_reaps_across_repositories_and_legacy_stacks(project: Path) -> None:
    workspace = FakeWorkspace(project, ACROSS_REPOSITORIES)
    reaped = lifecycle.reap(workspace, NOW, log=lambda _: None)
    assert [r.stack for r in reaped] == ["pr-7", "pr-8", "pr-aos-1", "pr-tracer-3", "pr-web-app-3bbc5f-2"]


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("acme/aos", ["pr-7", "pr-aos-1"]),
        ("ACME/AOS", ["pr-7", "pr-aos-1"]),  # GitHub compares names without case
        ("acme/Web.App", ["pr-web-app-3bbc5f-2"]),
        ("acme/tracer", ["pr-8", "pr-tracer-3"]),
        # pr-aos-1's state says acme/aos. A legacy stack recorded no owner, only its namespace; a
        # project never gates two repositories of one name (the model refuses it), so that is enough.
        ("other/aos", ["pr-7"]),
    ],
)
def test_the_janitor_of_one_repository_reaps_only_its_stacks(
    project: Path, repository: str, expected: list[str]
) -> None:
    workspace = FakeWorkspace(project, ACROSS_REPOSITORIES)
    reaped = lifecycle.reap(workspace, NOW, repository=repository, log=lambda _: None)
    assert [r.stack for r in reaped] == expected


def test_a_stack_that_resists_fails_the_janitor_after_the_others_are_reaped(project: Path) -> None:
    workspace = FakeWorkspace(
        project,
        {"pr-aos-1": {"expiresAt": EXPIRED, "fail": True}, "pr-aos-2": {"expiresAt": EXPIRED}},
    )
    messages: list[str] = []
    with pytest.raises(lifecycle.LifecycleError, match=r"could not reap 1 expired stack\(s\): pr-aos-1"):
        lifecycle.reap(workspace, NOW, log=messages.append)
    assert workspace.removed == ["pr-aos-2"]
    assert any(m.startswith("failed to reap pr-aos-1: error: the destroy") for m in messages)


def test_a_dry_run_reaps_nothing(project: Path) -> None:
    workspace = FakeWorkspace(project, {"pr-aos-1": {"expiresAt": "2026-01-01T00:00:00Z"}})
    assert [r.stack for r in lifecycle.reap(workspace, NOW, dry_run=True, log=lambda _: None)] == ["pr-aos-1"]
    assert workspace.removed == []


def test_the_cli_drives_the_lifecycle(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = FakeWorkspace(project)
    args = ["--project-dir", str(project)]
    assert cli.main(["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", *args], workspace) == 0
    assert "pr-aos-7: namespace ns" in capsys.readouterr().out
    assert cli.main(["ephemeral", "down", "--pr", "7", "--repository", "acme/aos", *args], workspace) == 0
    assert "pr-aos-7: destroyed and removed pr-aos-7" in capsys.readouterr().out
    assert cli.main(["ephemeral", "up", "--pr", "7", "--repository", "x/y", *args], workspace) == 2
    assert cli.main(["ephemeral", "up", "--pr", "0", "--repository", "acme/aos", *args], workspace) == 2
    assert cli.main(["ephemeral", "up", "--pr", "7", "--repository", "aos", *args], workspace) == 2
    image = ["--image", PR_IMAGE]
    assert (
        cli.main(["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", *image, *args], workspace) == 0
    )
    assert workspace.configs["pr-aos-7"]["delivery-gate:application"]["image"] == PR_IMAGE
    assert (
        cli.main(
            ["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", "--image", "x:1", *args], workspace
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--repository: got 'x/y'" in err and "--pr: got 0" in err
    assert "--repository: got 'aos'; allowed: OWNER/NAME" in err
    assert "Traceback" not in err
    workspace.state["pr-aos-7"]["expiresAt"] = "2000-01-01T00:00:00Z"
    assert cli.main(["ephemeral", "reap", "--repository", "acme/aos", *args], workspace) == 0
    assert "1 stack(s) of acme/aos reaped" in capsys.readouterr().out
    workspace.state["pr-aos-8"] = {"expiresAt": "2000-01-01T00:00:00Z", "fail": True}
    assert cli.main(["ephemeral", "reap", *args], workspace) == 2
    assert "error: could not reap 1 expired stack(s): pr-aos-8" in capsys.readouterr().err


def test_a_repository_with_its_own_template_gets_its_stacks_from_it(project: Path) -> None:
    values = yaml.safe_load((project / "stacks" / "ephemeral.yaml").read_text())
    values["config"]["delivery-gate:repositories"] = [{"name": "aos"}, {"name": "Web.App"}]
    values["config"]["delivery-gate:ephemeral"]["repository"] = "Web.App"
    values["config"]["delivery-gate:ephemeral"]["ttl"] = "4h"
    (project / "stacks" / "ephemeral.Web.App.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    workspace = FakeWorkspace(project)
    lifecycle.up(workspace, project, 5, "acme/web.app")  # the case GitHub hands over may differ
    assert workspace.configs["pr-web-app-3bbc5f-5"]["delivery-gate:ephemeral"]["ttl"] == "4h"
    lifecycle.up(workspace, project, 5, "acme/aos")  # the default template still serves acme/aos
    assert workspace.configs["pr-aos-5"]["delivery-gate:ephemeral"]["ttl"] == "72h"
    with pytest.raises(lifecycle.LifecycleError, match=r"add stacks/ephemeral\.tracer\.yaml"):
        lifecycle.up(workspace, project, 5, "acme/tracer")


def test_the_ephemeral_program_records_its_ttl_in_its_outputs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.offline.plan import build_plan  # noqa: PLC0415

    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T10:00:00Z")
    outputs = build_plan(project, "pr-aos-5")["outputs"]
    assert outputs["createdAt"] == "2026-11-22T10:00:00Z"
    assert outputs["expiresAt"] == "2026-11-25T10:00:00Z"
