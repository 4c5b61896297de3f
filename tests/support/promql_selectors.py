"""Find every vector selector in a PromQL expression, with its label matchers.

A small tokenizer, independent of gate/runtime/promql.py (which builds the selectors): it reads the
finished expression text the way Prometheus's lexer does for the parts that matter here. String
literals are read whole (so braces inside them, such as Argo's `{{args.namespace}}`, are text),
`[5m]` ranges and `by (...)` / `on (...)` label lists are skipped, an identifier followed by `(` is a
function, aggregations and operators are keywords, and any other identifier is a metric name, whose
selector is `name{...}` or `name` alone. A `{...}` with no name before it is a selector as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reserved words of the PromQL lexer: never metric names (a metric called `sum` is `{__name__="sum"}`).
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
AGGREGATIONS |= {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "group_left"}
KEYWORDS |= {"group_right", "atan2", "inf", "nan", "start", "end", *AGGREGATIONS}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
MATCH_OPERATORS = ("=~", "!~", "!=", "=")

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|[0-9][0-9a-zA-Z_.]*(?:[eE][+-]?[0-9]+)?)")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True)
class Selector:
    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)

    def equal(self, label: str) -> str | None:
        """The value of the `label="..."` matcher, or None when there is none."""
        values = [v for name, op, v in self.matchers if name == label and op == "="]
        return values[0] if len(values) == 1 else None


class PromQLSyntaxError(ValueError):
    pass


def _string(text: str, start: int) -> tuple[str, int]:
    """The string literal at text[start] (", ' or `), unescaped, and the index after it."""
    quote, i = text[start], start + 1
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\" and quote != "`":
            i += 1
            if i >= len(text):
                break
            out.append(_ESCAPES.get(text[i], "\\" + text[i]))
        else:
            out.append(char)
        i += 1
    raise PromQLSyntaxError(f"unterminated string at {start}: {text!r}")


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _matchers(text: str, start: int) -> tuple[tuple[tuple[str, str, str], ...], int]:
    """The matchers of the `{...}` at text[start]; the index after the closing brace."""
    i = start + 1
    found: list[tuple[str, str, str]] = []
    while True:
        i = _skip_space(text, i)
        if i < len(text) and text[i] == "}":
            return tuple(found), i + 1
        label = _IDENT.match(text, i)
        if label is None:
            raise PromQLSyntaxError(f"expected a label name at {i}: {text!r}")
        i = _skip_space(text, label.end())
        op = next((o for o in MATCH_OPERATORS if text.startswith(o, i)), None)
        if op is None:
            raise PromQLSyntaxError(f"expected a matcher operator at {i}: {text!r}")
        i = _skip_space(text, i + len(op))
        if i >= len(text) or text[i] not in "\"'`":
            raise PromQLSyntaxError(f"expected a string at {i}: {text!r}")
        value, i = _string(text, i)
        found.append((label.group(), op, value))
        i = _skip_space(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "}":
            raise PromQLSyntaxError(f"expected ',' or '}}' at {i}: {text!r}")


def _close(text: str, start: int, opening: str, closing: str) -> int:
    """The index after the bracket that closes the one at text[start] (strings skipped)."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            _, i = _string(text, i)
            continue
        depth += char == opening
        depth -= char == closing
        i += 1
        if depth == 0:
            return i
    raise PromQLSyntaxError(f"unbalanced {opening!r} at {start}: {text!r}")


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of `expr`, in order."""
    found: list[Selector] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
        elif char in "\"'`":  # a string argument (label_replace, ...): not a selector
            _, i = _string(expr, i)
        elif char == "[":  # a range or subquery window
            i = _close(expr, i, "[", "]")
        elif char == "{":
            matchers, i = _matchers(expr, i)
            found.append(Selector(None, matchers))
        elif char.isdigit() or (char == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            number = _NUMBER.match(expr, i)
            assert number is not None
            i = number.end()
        elif (ident := _IDENT.match(expr, i)) is not None:
            name, i = ident.group(), ident.end()
            after = _skip_space(expr, i)
            following = expr[after : after + 1]
            if name in LABEL_LIST_KEYWORDS and following == "(":
                i = _close(expr, after, "(", ")")
            elif name.lower() in KEYWORDS or following == "(":
                continue  # an operator keyword, or a function / aggregation name
            elif following == "{":
                matchers, i = _matchers(expr, after)
                found.append(Selector(name, matchers))
            else:
                found.append(Selector(name, ()))
        else:
            i += 1  # an operator or a parenthesis
    return found
