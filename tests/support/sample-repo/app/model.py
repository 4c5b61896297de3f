"""The aos model: a small deterministic ledger, one trace per seed.

Only integers and strings, so every runtime computes, serialises and hashes
the same bytes (js/model.mjs is the JavaScript twin of this module).
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from itertools import islice

SCHEMA = "aos.trace/1"
MASK = 0xFFFFFFFF
OPS = ("deposit", "withdraw", "fee")
FEE = 10
OPENING = 1000

_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
)

Step = dict[str, int | str]
Trace = dict[str, object]


def draws(seed: int) -> Iterator[int]:
    """xorshift32 from a seed spread by Knuth's multiplicative hash."""
    state = (seed * 2654435761) & MASK or 1
    while True:
        state ^= (state << 13) & MASK
        state ^= state >> 17
        state ^= (state << 5) & MASK
        yield state


def step(balance: int, draw: int) -> Step:
    op = OPS[draw % len(OPS)]
    amount = (draw >> 8) % 1000 + 1
    if op == "deposit":
        balance += amount
    else:
        amount = min(amount if op == "withdraw" else FEE, balance)
        balance -= amount
    return {"op": op, "amount": amount, "balance": balance}


def trace(seed: int, steps: int = 5) -> Trace:
    if not 1 <= steps <= 100:
        raise ValueError(f"steps must be within 1..100, not {steps}")
    balance = OPENING
    recorded: list[Step] = []
    for draw in islice(draws(seed), steps):
        entry = step(balance, draw)
        balance = int(entry["balance"])
        recorded.append(entry)
    return {
        "schema": SCHEMA,
        "seed": seed,
        "steps": recorded,
        "final_balance": balance,
    }


def _check(value: object) -> None:
    if isinstance(value, float):
        raise TypeError(f"{value!r}: floats have no canonical form here")
    if isinstance(value, dict):
        for item in value.values():
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)


def canonical_bytes(value: object) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8, trailing newline."""
    _check(value)
    return (_ENCODER.encode(value) + "\n").encode("utf-8")


def root_hash(documents: Iterable[bytes]) -> str:
    """sha256 over the sorted sha256 digests of canonical documents."""
    digests = sorted(hashlib.sha256(doc).hexdigest() for doc in documents)
    joined = "".join(digest + "\n" for digest in digests)
    return "sha256:" + hashlib.sha256(joined.encode("ascii")).hexdigest()
