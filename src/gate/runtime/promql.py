"""PromQL vector selectors built from their parts: pure, no Pulumi resources.

Every selector the gate writes (the alerts and recording rules of gate/runtime/alerts.py, which Amazon
Managed Prometheus reuses, and the rollout analysis of gate/runtime/rollout.py) is made here from a metric
name and label matchers. A matcher every selector must carry, the environment's `namespace`, is
therefore added where the selector is built, never spliced into finished expression text by a
regular expression that a nested selector, a string or a new expression form would defeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
OPERATORS = ("=", "!=", "=~", "!~")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal (Go escapes for backslash, quote and newline)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Matcher:
    """One label matcher, `label<op>"value"`."""

    label: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if not LABEL_NAME.fullmatch(self.label):
            raise ValueError(f"not a Prometheus label name: {self.label!r}")
        if self.op not in OPERATORS:
            raise ValueError(f"not a PromQL matcher operator: {self.op!r}; allowed: {', '.join(OPERATORS)}")

    def __str__(self) -> str:
        return f"{self.label}{self.op}{quote(self.value)}"


def eq(label: str, value: str) -> Matcher:
    return Matcher(label, "=", value)


def regex(label: str, value: str) -> Matcher:
    return Matcher(label, "=~", value)


def selector(metric: str, *matchers: Matcher) -> str:
    """`metric{m1,m2,...}` (just `metric` without matchers), matchers in the order given.

    A label matched twice is refused: the scope a caller adds (the namespace) must never be
    silently narrowed or contradicted by a second matcher on the same label.
    """
    if not METRIC_NAME.fullmatch(metric):
        raise ValueError(f"not a Prometheus metric name: {metric!r}")
    labels = [m.label for m in matchers]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"{metric}: label(s) matched more than once: {', '.join(repeated)}")
    if not matchers:
        return metric
    return f"{metric}{{{','.join(map(str, matchers))}}}"
