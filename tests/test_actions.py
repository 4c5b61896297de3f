"""The pinned-action table: well-formed pins only (no network here, so no tag lookups)."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from gate.github import actions
from gate.github.actions import ALL, CHECKOUT, SETUP_K6, Action

SHA = re.compile(r"[0-9a-f]{40}")
TAG = re.compile(r"v\d+\.\d+\.\d+")
REPO = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


@pytest.mark.parametrize("action", ALL, ids=lambda action: action.repo)
def test_pins_are_full_shas_of_tagged_releases(action: Action) -> None:
    assert SHA.fullmatch(action.sha), action
    assert TAG.fullmatch(action.version), action
    assert REPO.fullmatch(action.repo), action
    assert action.uses() == f"{action.repo}@{action.sha}"


def test_repos_and_shas_are_unique() -> None:
    assert len({action.repo for action in ALL}) == len(ALL)
    assert len({action.sha for action in ALL}) == len(ALL)


def test_all_lists_every_module_level_action() -> None:
    declared = {value for value in vars(actions).values() if isinstance(value, Action)}
    assert declared == set(ALL)


def test_the_gate_workflows_actions_are_all_pinned() -> None:
    assert {action.repo for action in ALL} == {
        "actions/checkout",
        "actions/setup-python",
        "actions/setup-node",
        "actions/upload-artifact",
        "actions/download-artifact",
        "actions/github-script",
        "aquasecurity/trivy-action",
        "github/codeql-action/upload-sarif",
        "docker/setup-buildx-action",
        "docker/build-push-action",
        "grafana/setup-k6-action",
        "pulumi/actions",
        "slackapi/slack-github-action",
        "aws-actions/configure-aws-credentials",
    }


@pytest.mark.parametrize(
    ("sha", "version"),
    [
        ("v4", "v4.2.2"),  # a tag where a SHA belongs
        ("11bd71901bbe5b1630ceea73d27597364c9af68", "v4.2.2"),  # 39 characters
        ("11BD71901BBE5B1630CEEA73D27597364C9AF683", "v4.2.2"),  # uppercase
        ("11bd71901bbe5b1630ceea73d27597364c9af683", "4.2.2"),  # no v
        ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4"),  # a major tag moves
    ],
)
def test_malformed_pins_are_rejected(sha: str, version: str) -> None:
    with pytest.raises(ValueError, match="actions/checkout"):
        Action("actions/checkout", sha, version)


# GitHub removed Node 20 from the hosted runners on 2026-09-16: every pin must declare a runtime the
# runners still have. Each known gap is listed with its reason; the entry must go when the pin moves
# to a node24 release (the test then fails until it does).
NODE20_BLOCKED = {
    SETUP_K6: "no public source pins a commit of grafana/setup-k6-action's node24 release (PR #66)",
}


@pytest.mark.parametrize("action", ALL, ids=lambda action: action.repo)
def test_no_pin_declares_node20_unless_recorded_as_blocked(action: Action) -> None:
    # GitHub runners no longer ship Node 20 (September 2026). The one known exception is
    # recorded in NODE20_BLOCKED with its reason; it still runs because runners force Node 24.
    if action in NODE20_BLOCKED:
        assert action.runtime == "node20"
    else:
        assert action.runtime in {"node24", "composite", "docker"}, action


def test_the_recorded_runtimes() -> None:
    # The data, spelled out: what each pinned tag's action.yml declares as `runs.using`.
    assert {action.repo: action.runtime for action in ALL} == {
        "actions/checkout": "node24",
        "actions/setup-python": "node24",
        "actions/setup-node": "node24",
        "actions/upload-artifact": "node24",
        "actions/download-artifact": "node24",
        "actions/github-script": "node24",
        "aquasecurity/trivy-action": "composite",
        "github/codeql-action/upload-sarif": "node24",
        "docker/setup-buildx-action": "node24",
        "docker/build-push-action": "node24",
        "grafana/setup-k6-action": "node20",  # blocked, see NODE20_BLOCKED
        "pulumi/actions": "node24",
        "slackapi/slack-github-action": "node24",
        "aws-actions/configure-aws-credentials": "node24",
    }


def test_blocked_node20_pins_say_so_in_their_comment() -> None:
    source = Path(actions.__file__).read_text(encoding="utf-8")
    for action in NODE20_BLOCKED:
        assert action.runtime == "node20", action
        before = source[: source.index(action.sha)]
        assert "node20 — blocked:" in before[before.rindex("\n\n") :], action


def test_an_unknown_runtime_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"runs\.using"):
        Action("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2", "node22")  # type: ignore[arg-type]


def test_actions_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        CHECKOUT.sha = "0" * 40  # type: ignore[misc]
