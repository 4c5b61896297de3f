"""What one policy object derives, computed once and shared (issue 14 item 3).

A plan renders each repository's workflows for the liveness rule, for its RepositoryGate and, in
organisation mode, for the central repository; without a memo each consumer rendered (and the rule
parsed) them again, and `deploying_repositories` was recomputed per call, quadratic over many
repositories. The memo is keyed by the policy object's identity, not its value:

- a `model_copy(update=...)` of a policy (gate/policy/slo.py, gate/promotion/evaluate.py) is a new
  object and starts empty. A `functools.cached_property` would not: pydantic copies an instance's
  `__dict__`, cached values included, into the copy, stale for the updated fields;
- hashing a whole policy by value on each look-up would cost more than some of what it saves;
- an entry lives exactly as long as its policy (`weakref.finalize`), so nothing leaks from one plan
  or test into the next and the memo never grows across plans.

What a memo holds is shared: its consumers treat it as read-only, and the public functions that hand
derived documents out return copies (gate/github/workflows.py `workflow_documents`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MEMOS: dict[int, dict[Hashable, Any]] = {}
_LOCK = threading.Lock()


def memo_of(owner: object) -> dict[Hashable, Any]:
    """The memo of `owner` (a policy), created on first use and dropped when `owner` is."""
    key = id(owner)
    with _LOCK:
        table = _MEMOS.get(key)
        if table is None:
            table = _MEMOS[key] = {}
            # Dropped when the policy is collected, before its id can be reused by another object.
            weakref.finalize(owner, _forget, key)
    return table


def once(owner: object, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` the first time `key` is asked of `owner`, the very same object afterwards.

    `compute` runs outside the lock (it may ask the memo for what it builds on); if two threads race,
    the first result stored wins and both get it, so consumers always share one object.
    """
    table = memo_of(owner)
    try:
        value: T = table[key]
    except KeyError:
        value = table.setdefault(key, compute())
    return value


def _forget(key: int) -> None:
    with _LOCK:
        _MEMOS.pop(key, None)


def live_memos() -> int:
    """How many policy objects have a memo now (tests: the memo does not outlive its policies)."""
    with _LOCK:
        return len(_MEMOS)


class Bounded(Generic[T]):
    """Answers kept by a key that says exactly what they depend on, shared across policies and plans.

    For pure answers over content, not over a policy object: the liveness rule's answers keyed by the
    canonical JSON of what they read (gate/github/liveness.py), rendered YAML keyed by its document
    (gate/github/yamltext.py); a plan of many repositories asks the same questions many times (issue
    14). At most `limit` answers are kept (all are dropped when full: the next plan fills it again).
    A failure of one of the `remembered` types is an answer too, raised again on each ask.
    """

    def __init__(self, limit: int, remembered: tuple[type[Exception], ...] = ()) -> None:
        self._limit = limit
        self._remembered = remembered
        # key -> (the answer, None) or (None, the remembered failure)
        self._answers: dict[Hashable, tuple[T | None, Exception | None]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        found = self._answers.get(key)
        if found is None:
            try:
                found = (compute(), None)
            except self._remembered as error:
                found = (None, error)
            if len(self._answers) >= self._limit:
                self._answers.clear()
            self._answers[key] = found
        answer, failure = found
        if failure is not None:
            raise failure
        return answer  # type: ignore[return-value]  # T itself may include None

    def __len__(self) -> int:
        return len(self._answers)
