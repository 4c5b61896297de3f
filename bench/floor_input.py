"""The floors' input: the plan's resources, as plan_scale.py hands them to the three floors.

Reading them is not a floor's work (a floor measures registering the plan's resources, not
getting hold of them), yet at 500 repositories they are 80 MB of JSON, most of it the same
workflow files committed to every repository: read whole, that took a floor 0.4 s and ~200 MB
of peak memory the plan never pays, flattering every plan/floor ratio. So:

- they are written one resource per line, parents before children (the typed floor's order), and
  read one line at a time while the floor declares them, never held whole;
- equal long strings are one object, as the plan's own rendered texts are (one rendering shared
  by every repository that commits it, gate/github/rendertemplates.py);
- the time spent reading is counted (`reading_seconds`) and the floors' figures leave it out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# Strings at least this long are shared between the resources that hold them: file contents,
# rendered workflows, bodies; below it, sharing would cost more lookups than it saves.
_SHARED_LENGTH = 64

_reading = [0.0]  # seconds spent in read_entries, for this process


def _depth(entry: dict[str, Any]) -> int:
    # A child's qualified type carries its parents' types: ordering by depth puts parents first.
    return int(entry["urn"].split("::")[2].count("$"))


def write_entries(path: Path, resources: Iterable[dict[str, Any]]) -> None:
    """One JSON document per line, parents first (by depth, then URN: a stable order)."""
    ordered = sorted(resources, key=lambda entry: (_depth(entry), entry["urn"]))
    with path.open("w", encoding="utf-8") as out:
        for entry in ordered:
            out.write(json.dumps(entry, sort_keys=True) + "\n")


def _shared(value: Any, strings: dict[str, str]) -> Any:
    if type(value) is str:
        return strings.setdefault(value, value) if len(value) >= _SHARED_LENGTH else value
    if type(value) is dict:
        return {key: _shared(item, strings) for key, item in value.items()}
    if type(value) is list:
        return [_shared(item, strings) for item in value]
    return value


def read_entries(path: str | Path) -> Iterator[dict[str, Any]]:
    """The resources of `write_entries`, one at a time, equal long strings shared; the time taken
    between yields (reading, decoding, sharing) is added to `reading_seconds`."""
    strings: dict[str, str] = {}
    with open(path, encoding="utf-8") as lines:
        started = time.perf_counter()
        for line in lines:
            entry = _shared(json.loads(line), strings)
            _reading[0] += time.perf_counter() - started
            yield entry
            started = time.perf_counter()
        _reading[0] += time.perf_counter() - started


def reading_seconds() -> float:
    """Seconds this process spent in `read_entries` so far."""
    return _reading[0]
