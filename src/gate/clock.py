"""The one place the gate reads the time, so plans and rules are reproducible.

DELIVERY_GATE_NOW (an ISO-8601 UTC time) pins it for tests and reviews; otherwise it is the start of
the current UTC day, so plans made on the same day are byte-identical.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

NOW_ENV = "DELIVERY_GATE_NOW"


def now(*, exact: bool = False) -> datetime:
    """The pinned time, else the start of today (UTC) — or, with `exact`, this second: what a real
    stack records as its creation time."""
    pinned = os.environ.get(NOW_ENV)
    if pinned:
        value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    current = datetime.now(UTC).replace(microsecond=0)
    return current if exact else current.replace(hour=0, minute=0, second=0)


def iso(moment: datetime) -> str:
    """'2026-11-22T00:00:00Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
