"""The pinned-action table: well-formed pins only (no network here, so no tag lookups)."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from gate import actions
from gate.actions import ALL, CHECKOUT, Action

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


def test_actions_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        CHECKOUT.sha = "0" * 40  # type: ignore[misc]
