"""The model: deterministic, never overdrawn, canonical bytes and hashes."""

import pytest
from app import model


def test_same_seed_same_trace() -> None:
    assert model.trace(7) == model.trace(7)
    assert model.trace(7) != model.trace(8)


def test_known_trace() -> None:
    # The same values are pinned in js/model.test.mjs.
    trace = model.trace(1)
    assert trace["steps"] == [
        {"op": "withdraw", "amount": 8, "balance": 992},
        {"op": "withdraw", "amount": 278, "balance": 714},
        {"op": "fee", "amount": 10, "balance": 704},
        {"op": "fee", "amount": 10, "balance": 694},
        {"op": "deposit", "amount": 608, "balance": 1302},
    ]
    assert trace["final_balance"] == 1302


@pytest.mark.parametrize("seed", range(20))
def test_never_overdrawn(seed: int) -> None:
    steps = model.trace(seed, 50)["steps"]
    assert isinstance(steps, list)
    assert all(int(step["balance"]) >= 0 for step in steps)


def test_steps_are_bounded() -> None:
    with pytest.raises(ValueError, match="steps"):
        model.trace(1, 0)


def test_canonical_bytes() -> None:
    expected = '{"a":2,"b":[1,"é"]}\n'.encode()
    assert model.canonical_bytes({"b": [1, "é"], "a": 2}) == expected
    with pytest.raises(TypeError, match="floats"):
        model.canonical_bytes({"a": 0.1})


def test_root_hash_ignores_order() -> None:
    docs = [model.canonical_bytes(model.trace(seed)) for seed in (1, 2)]
    assert model.root_hash(docs) == model.root_hash(docs[::-1])
    assert model.root_hash(docs).startswith("sha256:")
    assert model.root_hash(docs) != model.root_hash(docs[:1])
