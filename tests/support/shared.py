"""Where the team's shared/ folder (policy texts, reference schemas and CRDs) is on this machine.

It is data the tests read, never copied into the project. Looked up in order: $DELIVERY_GATE_SHARED,
`../shared` beside the checkout, `/work/shared` (where the workplace mounts it for developers and CI,
whatever directory the clone is in). Without it, a test skips locally with the reason and fails
when CI is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_ENV = "DELIVERY_GATE_SHARED"


def candidates() -> list[Path]:
    found = [Path(os.environ[SHARED_ENV]).expanduser()] if os.environ.get(SHARED_ENV) else []
    return [*found, PROJECT_ROOT.parent / "shared", Path("/work/shared")]


def find_shared() -> Path | None:
    return next((path for path in candidates() if (path / "policy").is_dir()), None)


def shared_dir() -> Path:
    """The shared/ folder, or skip (fail under CI) naming where it was looked for."""
    found = find_shared()
    if found is None:
        reason = f"shared/ not found (looked in {', '.join(map(str, candidates()))}; set {SHARED_ENV})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found
