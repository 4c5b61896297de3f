"""Python's cyclic garbage collector around allocations that live as long as the process.

A process of the gate starts by importing the policy model, the renderers and the provider SDKs:
some 100,000 objects (classes, functions, pydantic's validators) that live until it exits. With the
collector on, the allocations of those imports set off a hundred collections that walk the
growing heap and find almost nothing (under a thousand unreachable objects after all of them),
for 25–30 ms of a one-repository plan beyond what the SDK's own import costs (bench/README.md).
`long_lived_imports` holds the collector off while they run, then files what they left in the
oldest generation, which only a full collection walks: CPython runs one when a quarter more objects
have reached that generation since the last. The few cycles the imports left are freed then, not
leaked.

Stdlib only, so that the entry points can import it before anything heavy.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def to_oldest_generation() -> None:
    """Every object the collector tracks into its oldest generation, where a young collection never
    walks it. Skipped when the process holds objects frozen of its own: `gc.unfreeze` would move
    those too, and they were frozen so that no collection walks them."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextlib.contextmanager
def long_lived_imports() -> Iterator[None]:
    """The collector off while the block imports what the process keeps until it exits, then on
    again with what the block allocated in the oldest generation. Inside a stretch that already
    holds the collector off (the offline engine's run imports the program), it does nothing: the
    collector is that stretch's to turn back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        to_oldest_generation()
        gc.enable()
