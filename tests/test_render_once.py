"""Issue 14 item 3: rendering and parsing happen once per distinct repository settings and are shared
by the liveness rule, the components and the plan; team (and user) lookups once per provider.

The counts are taken with spies on the functions that do the work, during a real offline plan
(rules first, then the components): never by timing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

from gate.policy import memo
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy

OWNER, OTHER = "acme", "other-org"
# Three distinct settings (besides the name) over seven repositories.
SETTINGS = ("", "      languages: [python]\n", "      languages: [javascript]\n      mergeQueue: true\n")
NAMES = tuple(f"svc-{index}" for index in range(7))
MODES = {
    "protection": "",
    "rulesets": "  delivery-gate:mergeGate:\n    mode: rulesets\n",
    "organization": (
        "  delivery-gate:mergeGate:\n    mode: organization\n"
        "    organization:\n      centralRepository: gate-workflows\n"
    ),
}


def spy(monkeypatch: pytest.MonkeyPatch, module: object, name: str, record: Callable[..., None]) -> None:
    """Replace module.name by a wrapper that records each call, then does the real work."""
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        record(result, *args, **kwargs)
        return result

    monkeypatch.setattr(module, name, wrapper)


def policy(**values: Any) -> GatePolicy:
    base: dict[str, Any] = {
        "environment": "dev",
        "repositories": [{"name": "aos"}, {"name": "web", "languages": ["javascript"]}],
    }
    return load_policy({**base, **values}, stack="dev", github_owner=OWNER)


def test_deploying_repositories_are_computed_once_per_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    spy(monkeypatch, GatePolicy, "_deploying_repositories", lambda *_: calls.append(1))
    gate_policy = policy(application={"repositories": ["web"]})
    for _ in range(5):
        assert [repo.name for repo in gate_policy.deploying_repositories] == ["web"]
        assert [gate_policy.deploys(repo) for repo in gate_policy.repositories] == [False, True]
    assert gate_policy.deploying_repositories is gate_policy.deploying_repositories
    assert len(calls) == 1
    # A copy with other settings is another object, with a memo of its own: never the stale answer.
    other = gate_policy.model_copy(
        update={"application": gate_policy.application.model_copy(update={"repositories": ("aos",)})}
    )
    assert [repo.name for repo in other.deploying_repositories] == ["aos"]
    assert [other.deploys(repo) for repo in other.repositories] == [True, False]


def test_the_memo_lives_as_long_as_its_policy() -> None:
    gc.collect()
    before = memo.live_memos()
    gate_policy = policy()
    assert gate_policy.deploying_repositories
    assert memo.live_memos() == before + 1
    del gate_policy
    gc.collect()
    assert memo.live_memos() == before
