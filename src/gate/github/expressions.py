"""An evaluator of the GitHub Actions expression language, pure and bounded, for two users: the gate rule
that evaluates workflow `concurrency.group` values in a caller's context before any resource is
declared, and the test harness that executes rendered workflows (job and step `if:`, `${{ }}` in env,
with, run and outputs). It follows GitHub's documented semantics on "Evaluate expressions in workflows
and actions" (docs.github.com/actions/reference/workflows-and-actions/expressions): literals, operator
precedence, loose equality with numeric coercion, case-insensitive strings, object filters, the
functions and the status check functions with the implicit `success() &&` of `if:`. Where that page is
silent, the behaviour of GitHub's own parser (actions/languageservices) is followed. Input may come
from configuration, so length and nesting are refused past fixed bounds and evaluation is linear.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

MAX_LENGTH: Final = 10_000
MAX_DEPTH: Final = 100

_STATUS_FUNCTIONS: Final = frozenset({"success", "failure", "always", "cancelled"})
_ARITY: Final[dict[str, tuple[int, int]]] = {
    "contains": (2, 2), "startsWith": (2, 2), "endsWith": (2, 2), "format": (1, 255), "join": (1, 2),
    "toJSON": (1, 1), "fromJSON": (1, 1), "hashFiles": (1, 255), **dict.fromkeys(_STATUS_FUNCTIONS, (0, 0)),
}  # fmt: skip
_NAMES: Final = {name.lower(): name for name in _ARITY}  # function names ignore case
_KEYWORDS: Final[dict[str, Any]] = {
    "true": True,
    "false": False,
    "null": None,
    "NaN": math.nan,
    "Infinity": math.inf,
}
_PRECEDENCE: Final = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4}
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_STRING: Final = re.compile(r"'(?:[^']|'')*'")
_SYMBOL: Final = re.compile(r"==|!=|<=|>=|&&|\|\||[<>!()\[\],.*]")
# GitHub's lexer reads a number or a word up to the next boundary (a number's may contain dots), then
# validates it; a lone `&`, `|` or `=` becomes a one-character word that fails validation.
_NUMBER: Final = re.compile(r"[^\s()\[\],!<>=&|]+")
_WORD: Final = re.compile(r"[^\s()\[\],.!<>=&|]+|.")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_FORMAT_PIECE: Final = re.compile(r"\{\{|\}\}|\{([0-9]{1,9})\}|[{}]|[^{}]+")
_QUOTE_OR_CLOSE: Final = re.compile(r"'|\}\}")
_MISSING: Final = object()


class ExpressionError(ValueError):
    """An expression GitHub would reject, or one past this evaluator's bounds; the message names it."""


@dataclass(frozen=True)
class Status:
    """What the status check functions return in the current scope (`always()` is always true)."""

    success: bool = True
    failure: bool = False
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num | str | word | symbol | end
    text: str
    pos: int
    value: Any = None


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # lit | ctx | get | star | not | cmp | && | || | call
    value: Any = None
    args: tuple[_Node, ...] = ()
    depth: int = 0


class _Filtered(list[Any]):
    """The result of `*`: a later `.name` or `[i]` applies to each element, not to the list."""


def _error(expression: str, message: str) -> ExpressionError:
    shown = expression if len(expression) <= 200 else expression[:200] + "…"
    return ExpressionError(f"{message} in expression {shown!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    return "str" if isinstance(value, str) else "obj"  # arrays and objects compare by identity only


def _is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _parse_number(text: str) -> int | float:
    """JavaScript's Number(text), which GitHub uses for literals and string coercion; NaN if none."""
    text = text.strip()
    if text in ("", "Infinity", "+Infinity", "-Infinity"):
        return 0 if not text else -math.inf if text[0] == "-" else math.inf
    if _RADIX.fullmatch(text):
        value = int(text, 0)
        try:  # numbers are doubles: stay an exact int only where a double is exact
            return value if value <= 2**53 else float(value)
        except OverflowError:
            return math.inf
    if not _DECIMAL.fullmatch(text):
        return math.nan
    digits = text.lstrip("+-")
    return int(text) if digits.isdigit() and len(digits) <= 15 else float(text)


def _to_number(value: Any) -> int | float:
    kind = _kind(value)
    if kind == "num":
        return value  # type: ignore[no-any-return]
    if kind == "str":
        return _parse_number(value)
    return math.nan if kind == "obj" else int(bool(value))


def _format_number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    text = f"{value:.15g}" if value else "0"  # GitHub keeps 15 significant digits: 0.1 + 0.2 is 0.3
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    if -7 < int(exponent) < 21:  # JavaScript writes these positionally
        return format(Decimal(text), "f")
    return f"{mantissa}e{int(exponent):+d}"


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError) as exc:  # odd keys, cycles, very deep data
        raise ExpressionError(f"value cannot be written as JSON: {exc}") from None


def to_string(value: Any) -> str:
    """GitHub's string coercion, used wherever `${{ }}` lands in text."""
    if value is None or isinstance(value, bool):
        return {None: "", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_number(value)
    return value if isinstance(value, str) else _to_json(value)


def truthy(value: Any) -> bool:
    """False for false, 0, -0, NaN, '' and null; true for everything else, empty arrays and objects too."""
    kind = _kind(value)
    if kind == "num":
        return not (value == 0 or _is_nan(value))
    return kind == "obj" or bool(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "!=":
        return not _compare("==", left, right)
    kind, right_kind = _kind(left), _kind(right)
    if kind != right_kind:
        if "obj" in (kind, right_kind):
            return False
        left, right, kind = _to_number(left), _to_number(right), "num"
    if kind in ("null", "obj"):
        return op in ("==", "<=", ">=") and (kind == "null" or left is right)
    if kind == "str":
        left, right = left.upper(), right.upper()
    return _COMPARE[op](left, right)  # NaN compares false under every operator, as in GitHub


def _lookup(container: Any, key: Any) -> Any:
    """container[key] the GitHub way (property names ignore case), or _MISSING."""
    if _kind(key) == "obj":
        return _MISSING
    if isinstance(container, Mapping):
        name = to_string(key)
        if name in container:
            return container[name]
        folded = name.upper()
        return next((v for k, v in container.items() if isinstance(k, str) and k.upper() == folded), _MISSING)
    index = _to_number(key)
    return container[int(index)] if _is_array(container) and 0 <= index < len(container) else _MISSING


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, _Filtered):  # members without the key drop out, as in GitHub
        return _Filtered(v for item in container if (v := _lookup(item, key)) is not _MISSING)
    value = _lookup(container, key)
    return None if value is _MISSING else value


def _star(value: Any) -> _Filtered:
    def members(item: Any) -> list[Any]:
        return list(item.values()) if isinstance(item, Mapping) else list(item) if _is_array(item) else []

    if isinstance(value, _Filtered):
        return _Filtered(member for item in value for member in members(item))
    return _Filtered(members(value))


def _text_test(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    """A case-insensitive string test of two primitives; false for arrays and objects."""

    def apply(whole: Any, part: Any) -> bool:
        if "obj" in (_kind(whole), _kind(part)):
            return False
        return test(to_string(whole).upper(), to_string(part).upper())

    return apply


_contains_text: Final = _text_test(str.__contains__)


def _contains(search: Any, item: Any) -> bool:
    if _is_array(search):
        return any(_compare("==", item, member) for member in search)
    return _contains_text(search, item)


def _format(template: Any, *args: Any) -> str:
    text, out = to_string(template), []
    for match in _FORMAT_PIECE.finditer(text):
        piece, index = match.group(), match.group(1)
        if index is not None and int(index) >= len(args):
            raise ValueError(f"{text!r} references {piece} but {len(args)} argument(s) follow it")
        if piece in ("{", "}"):
            raise ValueError(f"{text!r} has a lone {piece!r} (escape braces as '{{{{' and '}}}}')")
        if index is not None:
            out.append(to_string(args[int(index)]))
        else:
            out.append(piece[0] if piece in ("{{", "}}") else piece)
    return "".join(out)


def _join(array: Any, separator: Any = ",") -> str:
    if _is_array(array):
        glue = "," if _kind(separator) == "obj" else to_string(separator)
        return glue.join(to_string(item) for item in array)
    return "" if _kind(array) == "obj" else to_string(array)


_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "contains": _contains, "startsWith": _text_test(str.startswith), "endsWith": _text_test(str.endswith),
    "format": _format, "join": _join, "toJSON": _to_json,
    "fromJSON": lambda value: json.loads(to_string(value)),
}  # fmt: skip
_APPLY: Final[dict[str, Callable[..., Any]]] = {
    "get": lambda _, container, key: _get(container, key), "cmp": _compare,
    "not": lambda _, value: not truthy(value), "star": lambda _, value: _star(value),
}  # fmt: skip


def _tokenize(expression: str) -> list[_Token]:
    if len(expression) > MAX_LENGTH:
        raise _error(expression, f"longer than {MAX_LENGTH} characters")
    tokens: list[_Token] = []
    i = 0
    while i < len(expression):
        char, previous = expression[i], tokens[-1] if tokens else None
        value: Any = None
        kind = "word"
        if char.isspace():
            i += 1
            continue
        if char == "'":
            if not (match := _STRING.match(expression, i)):
                raise _error(expression, f"unterminated string at position {i + 1}")
            kind, value = "str", match.group()[1:-1].replace("''", "'")
        elif char in "0123456789+-" or (
            # `.5` is a number, but `a.b`, `f().b`, `a[0].b` and `a.*.b` are property steps
            char == "." and not (previous and (previous.kind == "word" or previous.text in (")", "]", "*")))
        ):
            match = _NUMBER.match(expression, i)
            assert match is not None  # char itself matches
            kind, value = "num", _parse_number(match.group())
            if _is_nan(value):
                raise _error(expression, f"unexpected symbol {match.group()!r} at position {i + 1}")
        elif match := _SYMBOL.match(expression, i):
            kind = "symbol"
        else:
            match = _WORD.match(expression, i)
            assert match is not None  # `.` matches any character but a newline, which is whitespace
            if not _IDENTIFIER.fullmatch(match.group()):
                raise _error(expression, f"unexpected symbol {match.group()!r} at position {i + 1}")
        tokens.append(_Token(kind, match.group(), i, value))
        i += len(match.group())
    return [*tokens, _Token("end", "", len(expression))]


class _Parser:
    """Recursive descent with precedence climbing. Two bounds keep Python's stack safe: the nesting of
    operands while parsing, checked on the way down, and the depth of every node built, which catches
    what nests without recursion (`!!!…`, `a == b == …`, `a.b.c…`)."""

    def __init__(self, expression: str, context_names: set[str] | None) -> None:
        self.expression, self.names = expression, context_names
        self.tokens, self.pos, self.level = _tokenize(expression), 0, 0

    def parse(self) -> _Node:
        node = self.binary(1)
        self.expect("")
        return node

    def take(self, *texts: str) -> _Token | None:
        """The next token, consumed, if its text is one of texts (any token when none are given)."""
        token = self.tokens[self.pos]
        if texts and token.text not in texts:
            return None
        if token.kind != "end":
            self.pos += 1
        return token

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            raise self.unexpected(self.tokens[self.pos], repr(text) if text else "the end")

    def unexpected(self, token: _Token, wanted: str = "") -> ExpressionError:
        found = "end" if token.kind == "end" else f"symbol {token.text!r} at position {token.pos + 1}"
        return _error(self.expression, f"unexpected {found}" + (f", expected {wanted}" if wanted else ""))

    def node(self, kind: str, value: Any, *args: _Node) -> _Node:
        depth = 1 + max((arg.depth for arg in args), default=-1)  # leaves count 0
        if depth > MAX_DEPTH:
            raise _error(self.expression, f"nested deeper than {MAX_DEPTH}")
        return _Node(kind, value, args, depth)

    def nested(self, lowest: int = 1) -> _Node:
        """An operand inside brackets or to the right of an operator: one level deeper."""
        self.level += 1
        if self.level > MAX_DEPTH:
            raise _error(self.expression, f"nested deeper than {MAX_DEPTH}")
        node = self.binary(lowest)
        self.level -= 1
        return node

    def binary(self, lowest: int) -> _Node:
        left = self.unary()
        while (op := self.tokens[self.pos]).kind == "symbol" and _PRECEDENCE.get(op.text, 0) >= lowest:
            self.take()
            operands = [left, self.nested(_PRECEDENCE[op.text] + 1)]
            while op.text in ("&&", "||") and self.take(op.text):  # one flat node: long chains do not nest
                operands.append(self.nested(_PRECEDENCE[op.text] + 1))
            left = self.node(op.text if op.text in ("&&", "||") else "cmp", op.text, *operands)
        return left

    def unary(self) -> _Node:
        bangs = 0
        while self.take("!"):
            bangs += 1
        node = self.postfix()
        for _ in range(bangs):
            node = self.node("not", None, node)
        return node

    def postfix(self) -> _Node:
        token = self.take()
        assert token is not None
        if token.kind in ("num", "str") or token.text in _KEYWORDS:
            # GitHub allows no `.` or `[ ]` after a literal
            return self.node("lit", token.value if token.kind != "word" else _KEYWORDS[token.text])
        if token.kind == "word" and self.tokens[self.pos].text == "(":
            node = self.call(token)
        elif token.kind == "word":
            if self.names is not None and token.text.lower() not in self.names:
                raise _error(self.expression, f"unrecognized named-value {token.text!r}")
            node = self.node("ctx", token.text.lower())
        elif token.text == "(":
            node = self.nested()
            self.expect(")")
        else:
            raise self.unexpected(token)
        while step := self.take(".", "["):
            if self.take("*"):
                key: _Node | None = None
            elif step.text == "[":
                key = self.nested()
            elif (name := self.tokens[self.pos]).kind == "word":
                key = self.node("lit", name.text)
                self.take()
            else:
                raise self.unexpected(name, "a property name")
            if step.text == "[":
                self.expect("]")
            node = self.node("star", None, node) if key is None else self.node("get", None, node, key)
        return node

    def call(self, name: _Token) -> _Node:
        function = _NAMES.get(name.text.lower())
        if function is None:
            raise _error(self.expression, f"unrecognized function {name.text!r}")
        self.expect("(")
        args = [] if self.take(")") else [self.nested()]
        while args and self.take(","):
            args.append(self.nested())
        if args:
            self.expect(")")
        least, most = _ARITY[function]
        if not least <= len(args) <= most:
            count = str(least) if least == most else f"{least} to {most}"
            raise _error(self.expression, f"{function}() takes {count} argument(s), got {len(args)}")
        return self.node("call", function, *args)


def _parse(expression: str, contexts: Mapping[str, Any] | None) -> _Node:
    names = None if contexts is None else {str(name).lower() for name in contexts}
    try:
        return _Parser(expression, names).parse()
    except RecursionError:  # the bounds make this unreachable unless the caller is already deep
        raise _error(expression, "too deeply nested") from None


class _Evaluator:
    def __init__(self, expression: str, contexts: Mapping[str, Any], status: Status | None) -> None:
        self.expression, self.status = expression, status
        self.contexts = {str(name).lower(): value for name, value in contexts.items()}

    def run(self, node: _Node) -> Any:
        try:
            result = self.eval(node)
        except RecursionError:  # as in _parse
            raise _error(self.expression, "too deeply nested") from None
        return list(result) if isinstance(result, _Filtered) else result

    def eval(self, node: _Node) -> Any:
        kind = node.kind
        if kind == "lit":
            return node.value
        if kind == "ctx":
            return self.contexts[node.value]
        if kind == "call":
            return self.call(node)
        if kind in ("&&", "||"):  # the deciding operand, not a bool, as in JavaScript
            for arg in node.args:
                if truthy(value := self.eval(arg)) == (kind == "||"):
                    break
            return value
        return _APPLY[kind](node.value, *(self.eval(arg) for arg in node.args))

    def call(self, node: _Node) -> Any:
        function = node.value
        if function in _STATUS_FUNCTIONS:
            if self.status is None:
                raise _error(self.expression, f"{function}() is only available in a job or step `if:`")
            return function == "always" or bool(getattr(self.status, function))
        if function == "hashFiles":
            raise _error(self.expression, "hashFiles() is not supported")
        values = [self.eval(arg) for arg in node.args]
        try:
            return _FUNCTIONS[function](*values)
        except (ValueError, RecursionError) as exc:
            raise _error(self.expression, f"{function}() failed: {exc}") from None


def _calls_status(node: _Node) -> bool:
    return (node.kind == "call" and node.value in _STATUS_FUNCTIONS) or any(map(_calls_status, node.args))


def _closing(text: str, start: int) -> int:
    """Index of the `}}` that closes the `${{` before start; `}}` inside a string literal does not."""
    quoted = False
    for match in _QUOTE_OR_CLOSE.finditer(text, start):
        if match.group() == "'":
            quoted = not quoted
        elif not quoted:
            return match.start()
    raise _error(text, f"'${{{{' at position {start - 2} is never closed by '}}}}'")


def _segments(text: str) -> Iterator[tuple[bool, str]]:
    """(is_expression, text) pieces of a template, in order."""
    pos = 0
    while (start := text.find("${{", pos)) >= 0:
        end = _closing(text, start + 3)
        yield False, text[pos:start]
        yield True, text[start + 3 : end]
        pos = end + 2
    yield False, text[pos:]


def evaluate(expression: str, contexts: Mapping[str, Any], *, status: Status | None = None) -> Any:
    """The value of one expression (without `${{ }}`); context names are matched ignoring case."""
    return _Evaluator(expression, contexts, status).run(_parse(expression, contexts))


def interpolate(text: str, contexts: Mapping[str, Any], *, status: Status | None = None) -> str:
    """text with every `${{ expression }}` replaced by the string of its value."""
    if "${{" not in text:
        return text
    pieces = _segments(text)
    return "".join(to_string(evaluate(p, contexts, status=status)) if is_expr else p for is_expr, p in pieces)


def uses_status_function(expression: str) -> bool:
    """Whether the expression calls success(), failure(), always() or cancelled()."""
    return _calls_status(_parse(expression, None))


def evaluate_if(condition: str | bool | None, contexts: Mapping[str, Any], status: Status) -> bool:
    """A job or step `if:`: empty means success(), and without a status function the condition is
    evaluated as `success() && (condition)`, so it is false once something before it failed."""
    if isinstance(condition, bool):  # YAML reads `if: true` as a boolean
        condition = "true" if condition else "false"
    text = condition or ""
    if not text.strip():
        return status.success
    if text.startswith("${{") and text.endswith("}}") and _closing(text, 3) == len(text) - 2:
        text = text[3:-2]
    elif "${{" in text:
        # Anything around `${{ }}`, even the newline a `|` block adds, makes the condition a string
        # template (GitHub turns it into format()), true when non-empty: `${{ false }} && x` runs.
        # A known pitfall (rhysd/actionlint#272), kept so the harness catches it as GitHub would.
        nodes = [_parse(part, contexts) for is_expr, part in _segments(text) if is_expr]
        if not status.success and not any(map(_calls_status, nodes)):
            return False
        return truthy(interpolate(text, contexts, status=status))
    node = _parse(text, contexts)  # parsed even when skipped, so a malformed condition is reported
    if not status.success and not _calls_status(node):
        return False
    return truthy(_Evaluator(text, contexts, status).run(node))
