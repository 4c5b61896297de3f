"""Progress of a long offline plan on a terminal (issue 14, item 5).

A plan of an organisation takes seconds to minutes. On a terminal, once a plan has run for
`DELAY_SECONDS`, one status line on stderr says how many resources are registered and which
component is being declared, redrawn at most every `INTERVAL_SECONDS` and erased at the end, so the
summary that follows reads as before. Nothing is written when stderr is not a terminal (CI logs,
pipes), with `--quiet`, or with `--format json` (stdout must hold one JSON object; stderr stays
clean for tools that read it). The plan itself never depends on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

DELAY_SECONDS = 1.0  # a plan shorter than this shows nothing
INTERVAL_SECONDS = 0.2
COMPONENT_MARK = ":"  # component types are `delivery-gate:<area>:<Name>`; providers' are `pkg:mod:Type`


class TerminalProgress:
    """Counts registrations (called from the engine's executor threads) and draws a status line."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0
        self.count = 0
        self.component = ""

    def registered(self, type_: str, name: str, custom: bool) -> None:
        """One resource registered; a component (not custom) becomes the current one."""
        with self._lock:
            self.count += 1
            if not custom:
                self.component = f"{type_.rsplit(COMPONENT_MARK, 1)[-1]} {name}"
            now = self._clock()
            if now - self._started < DELAY_SECONDS:
                return
            if self._drawn_at is not None and now - self._drawn_at < INTERVAL_SECONDS:
                return
            self._drawn_at = now
            self._draw(f"planning: {self.count} resources registered, declaring {self.component}")

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """Erase the status line, if one was drawn."""
        with self._lock:
            if self._width:
                self._stream.write("\r" + " " * self._width + "\r")
                self._stream.flush()
                self._width = 0


def for_stream(stream: TextIO, *, quiet: bool) -> TerminalProgress | None:
    """A progress display for `stream`, or None where nothing may be shown."""
    if quiet or not stream.isatty():
        return None
    return TerminalProgress(stream)
