"""gate/github/expressions.py against GitHub's documented expression semantics, case by case."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from gate.github.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    Status,
    evaluate,
    evaluate_if,
    interpolate,
    to_string,
    truthy,
    uses_status_function,
)

CONTEXTS: dict[str, Any] = {
    "github": {
        "event_name": "pull_request",
        "repository": "acme/shop",
        "ref": "refs/pull/7/merge",
        "event": {"pull_request": {"number": 7, "head": {"repo": {"full_name": "acme/shop"}}}},
    },
    "inputs": {},
    "needs": {"build": {"result": "success"}, "test": {"result": "failure"}, "lint": {"result": "skipped"}},
    "matrix": {"Os": "ubuntu", "versions": [3, 11, "x"], "empty": [], "none": None, "flag": False},
    "steps": {
        "a": {"outputs": {"n": "3", "json": '{"k": [1, 2.5, "v"]}'}},
        "build-image": {"outputs": {"tag": "v1"}},
    },
}
PASSED, FAILED, CANCELLED = (
    Status(),
    Status(success=False, failure=True),
    Status(success=False, cancelled=True),
)


def ev(expression: str, contexts: dict[str, Any] | None = None) -> Any:
    return evaluate(expression, CONTEXTS if contexts is None else contexts)


# Literals: "Evaluate expressions" §Literals, examples included.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("null", None),
        ("true", True),
        ("false", False),
        ("711", 711),
        ("-9.2", -9.2),
        ("0xff", 255),
        ("-2.99e-2", -0.0299),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("'It''s open source!'", "It's open source!"),
        ("''", ""),
        ("'  spaced  '", "  spaced  "),
        ("'a }} b'", "a }} b"),
    ],
)
def test_literals(expression: str, expected: Any) -> None:
    assert ev(expression) == expected


# Operators, GitHub precedence: postfix, !, comparison, equality, &&, ||.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(1)", 1),
        ("!true", False),
        ("!0", True),
        ("!''", True),
        ("!'x'", False),
        ("!!'x'", True),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2", True),
        ("2 >= 3", False),
        ("1 == 1", True),
        ("1 != 1", False),
        ("1 < 2 == true", True),  # comparison binds tighter than equality
        ("!1 == false", True),  # ! binds tighter than ==
        ("true || false && false", True),  # && binds tighter than ||
        ("(true || false) && false", False),
        ("'a' && 'b'", "b"),  # && and || return an operand, as in JavaScript
        ("'' && 'b'", ""),
        ("'' || 'x'", "x"),
        ("0 || null || 'last'", "last"),
        ("'first' || 'second'", "first"),
        ("null || 0", 0),
        ("github.event_name == 'push' && 'deploy' || 'skip'", "skip"),  # the ternary idiom
        ("github.event_name == 'pull_request' && 'deploy' || 'skip'", "deploy"),
    ],
)
def test_operators(expression: str, expected: Any) -> None:
    result = ev(expression)
    assert result == expected and type(result) is type(expected)


# Loose equality: different types become numbers; strings compare ignoring case; NaN equals nothing.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 == '1'", True),
        ("'1' == 1.0", True),
        ("' 1 ' == 1", True),
        ("'0x10' == 16", True),
        ("'' == 0", True),  # documented: the empty string converts to 0
        ("null == 0", True),
        ("null == ''", True),
        ("null == false", True),
        ("null == null", True),
        ("true == 1", True),
        ("true == '1'", True),
        ("false == '0'", True),
        ("true == 'true'", False),  # 'true' is NaN as a number
        ("'abc' == 'ABC'", True),
        ("'abc' != 'ABD'", True),
        ("'abc' == 0", False),
        ("NaN == NaN", False),
        ("NaN != NaN", True),
        ("matrix.versions == matrix.versions", True),  # the same instance
        ("fromJSON('[]') == fromJSON('[]')", False),  # arrays and objects: identity only
        ("matrix.versions == 0", False),
        ("'a' < 'B'", True),  # ignoring case
        ("'b' > 'A'", True),
        ("'10' > 9", True),
        ("'x' > 1", False),
        ("'x' < 1", False),
        ("NaN >= NaN", False),
        ("null >= null", True),
        ("true > false", True),
        ("null < 1", True),
        ("matrix.versions < matrix.versions", False),
    ],
)
def test_coercion(expression: str, expected: bool) -> None:
    assert ev(expression) is expected


# Property dereference, index and the object filter.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event.pull_request.number", 7),
        ("steps.build-image.outputs.tag", "v1"),  # identifiers may contain dashes
        ("GITHUB.Event.Pull_Request.NUMBER", 7),  # context and property names ignore case
        ("matrix.os", "ubuntu"),
        ("matrix['OS']", "ubuntu"),
        ("github['event']['pull_request'].number", 7),
        ("github.event.nope", None),
        ("github.event.nope.deeper.still", None),  # dereferencing null is null
        ("matrix.none.x", None),
        ("matrix.versions[1]", 11),
        ("matrix.versions['1']", 11),
        ("matrix.versions[1.9]", 11),
        ("matrix.versions[3]", None),
        ("matrix.versions[-1]", None),
        ("matrix.versions.length", None),
        ("matrix.os.length", None),
        ("(github).repository", "acme/shop"),
        ("needs.*.result", ["success", "failure", "skipped"]),
        ("needs[*].result", ["success", "failure", "skipped"]),
        ("needs.*.missing", []),  # members without the property drop out
        ("matrix.versions.*", [3, 11, "x"]),
        ("matrix.os.*", []),
        ("fromJSON('[[1, 2], [3], {\"a\": 4}]').*.*", [1, 2, 3, 4]),
        ("fromJSON('[[1, 2], [3]]')[*][1]", [2]),
        ("fromJSON(steps.a.outputs.json).k[2]", "v"),
        ("fromJSON('{\"a\": null}').*", [None]),
    ],
)
def test_access(expression: str, expected: Any) -> None:
    assert ev(expression) == expected


def test_filter_result_is_a_plain_list() -> None:
    assert type(ev("needs.*.result")) is list


# Functions, names ignoring case.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("contains('Hello world', 'WORLD')", True),
        ("contains('Hello', 'x')", False),
        ("contains(needs.*.result, 'failure')", True),
        ("contains(needs.*.result, 'FAILURE')", True),  # elements compare with loose equality
        ("contains(matrix.versions, '11')", True),
        ("contains(matrix.versions, 4)", False),
        ("contains(matrix.empty, 1)", False),
        ("contains(github, 'event')", False),  # objects are not searched
        ("contains(123, 2)", True),  # primitives are searched as strings
        ("contains(true, 'ru')", True),
        ("CONTAINS('abc', 'b')", True),
        ("startsWith('Hello world', 'he')", True),
        ("startsWith(github.ref, 'refs/pull/')", True),
        ("startsWith('Hello', 'world')", False),
        ("startswith(matrix.versions, 3)", False),
        ("endsWith('Hello world', 'WORLD')", True),
        ("endsWith('Hello', 'x')", False),
        ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
        ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
        ("format('{0}{0}-{1}', 'a', 1.5)", "aa-1.5"),
        ("format('{{0}}', 'x')", "{0}"),
        ("format('no placeholders')", "no placeholders"),
        ("format('{0}', null)", ""),
        ("format('{0}', true)", "true"),
        ("format('pr-{0}', github.event.pull_request.number)", "pr-7"),
        ("join(needs.*.result)", "success,failure,skipped"),
        ("join(needs.*.result, ', ')", "success, failure, skipped"),
        ("join(matrix.versions, '')", "311x"),
        ("join(matrix.empty)", ""),
        ("join('abc', '-')", "abc"),
        ("join(github)", ""),
        ("toJSON('a')", '"a"'),
        ("toJSON(null)", "null"),
        ("toJSON(matrix.versions)", '[\n  3,\n  11,\n  "x"\n]'),
        ("toJSON(needs.build)", '{\n  "result": "success"\n}'),
        ("toJSON(matrix.empty)", "[]"),
        ("fromJSON('true')", True),
        ("fromJSON(steps.a.outputs.n)", 3),
        ("fromJSON(steps.a.outputs.n) > 2", True),
        ("fromJSON('{\"a\": [1]}').a[0]", 1),
        ("fromJSON(toJSON(matrix.versions))[2]", "x"),
    ],
)
def test_functions(expression: str, expected: Any) -> None:
    result = ev(expression)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (711, "711"),
        (-3, "-3"),
        (1.0, "1"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (-9.2, "-9.2"),
        (0.1 + 0.2, "0.3"),  # GitHub keeps 15 significant digits
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        ("text", "text"),
        ([1, "a"], '[\n  1,\n  "a"\n]'),
        ({"k": {"n": None}}, '{\n  "k": {\n    "n": null\n  }\n}'),
        ({}, "{}"),
    ],
)
def test_to_string(value: Any, expected: str) -> None:
    assert to_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, False),
        (0, False),
        (-0.0, False),
        (0.0, False),
        ("", False),
        (None, False),
        (math.nan, False),
        (True, True),
        (1, True),
        (-1, True),
        (math.inf, True),
        ("0", True),  # non-empty strings are truthy, '0' and 'false' included
        ("false", True),
        ([], True),
        ({}, True),
    ],
)
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


# The concurrency-group expressions the gate rule evaluates.
@pytest.mark.parametrize(
    ("inputs", "expected"),
    [({}, "pr-7"), ({"target_environment": "staging"}, "staging"), ({"target_environment": ""}, "pr-7")],
)
def test_environment_or_pull_request(inputs: dict[str, Any], expected: str) -> None:
    expression = "inputs.target_environment || format('pr-{0}', github.event.pull_request.number)"
    assert ev(expression, {**CONTEXTS, "inputs": inputs}) == expected


@pytest.mark.parametrize(
    ("full_name", "expected"), [("acme/shop", True), ("ACME/Shop", True), ("fork/shop", False)]
)
def test_same_repository(full_name: str, expected: bool) -> None:
    github = {**CONTEXTS["github"], "event": {"pull_request": {"head": {"repo": {"full_name": full_name}}}}}
    expression = "github.event.pull_request.head.repo.full_name == github.repository"
    assert ev(expression, {"github": github}) is expected


def test_context_names_ignore_case() -> None:
    assert evaluate("github.ref", {"GitHub": {"REF": "main"}}) == "main"


# Status check functions and job/step `if:`.
@pytest.mark.parametrize(
    ("condition", "status", "expected"),
    [
        (None, PASSED, True),
        ("", FAILED, False),
        ("  ", PASSED, True),
        (True, PASSED, True),  # YAML `if: true`
        (True, FAILED, False),  # still `success() && true`
        (False, PASSED, False),
        ("github.event_name == 'pull_request'", PASSED, True),
        ("github.event_name == 'pull_request'", FAILED, False),  # implicit success()
        ("github.event_name == 'push'", PASSED, False),
        ("${{ github.event_name == 'pull_request' }}", PASSED, True),
        ("${{ github.event_name == 'pull_request' }}", FAILED, False),
        ("matrix.os", PASSED, True),  # coerced with truthy()
        ("matrix.none", PASSED, False),
        ("always()", FAILED, True),
        ("always()", CANCELLED, True),
        ("always() && needs.test.result == 'failure'", FAILED, True),
        ("always() && needs.build.result == 'failure'", FAILED, False),
        ("failure()", FAILED, True),
        ("failure()", PASSED, False),
        ("success()", PASSED, True),
        ("cancelled()", CANCELLED, True),
        ("!cancelled()", FAILED, True),
        ("!cancelled()", CANCELLED, False),
        ("${{ !cancelled() }}", PASSED, True),
        ("success() || failure()", FAILED, True),
        ("Always()", FAILED, True),  # function names ignore case
        ("contains(needs.*.result, 'failure') && always()", FAILED, True),
        # Text around ${{ }} makes a non-empty string, which is true: GitHub's known pitfall.
        ("${{ false }} && true", PASSED, True),
        ("${{ false }} && true", FAILED, False),
        ("${{ always() }} ok", FAILED, True),
        ("${{ false }}\n", PASSED, True),  # `if: |` adds a newline: format('{0}\n', false)
        (" ${{ false }}", PASSED, True),
    ],
)
def test_evaluate_if(condition: str | bool | None, status: Status, expected: bool) -> None:
    assert evaluate_if(condition, CONTEXTS, status) is expected


def test_evaluate_if_reports_a_malformed_condition_even_when_skipped() -> None:
    with pytest.raises(ExpressionError, match="unexpected end"):
        evaluate_if("github.event_name ==", CONTEXTS, FAILED)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("success()", True),
        ("FAILURE()", True),
        ("!cancelled()", True),
        ("always() && x.y", True),
        ("contains(format('{0}', always()), 'true')", True),
        ("github.event_name == 'push'", False),
        ("'success()'", False),  # a string, not a call
        ("needs.success.result", False),
        ("null", False),
    ],
)
def test_uses_status_function(expression: str, expected: bool) -> None:
    assert uses_status_function(expression) is expected


@pytest.mark.parametrize("expression", ["success()", "failure()", "always()", "cancelled()"])
def test_status_functions_need_a_status(expression: str) -> None:
    with pytest.raises(ExpressionError, match=r"only available in a job or step `if:`"):
        ev(expression)
    assert evaluate(expression, {}, status=Status(success=True, failure=True, cancelled=True)) is True


# Interpolation of ${{ }} in text.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("${{ github.repository }}", "acme/shop"),
        ("ci-${{ github.event_name }}-${{ github.event.pull_request.number }}", "ci-pull_request-7"),
        ("${{ 'a }} b' }}|${{'}}'}}", "a }} b|}}"),  # `}}` inside a string literal does not close
        ("x${{ github.nope }}y", "xy"),
        ("${{ true }} ${{ 1.0 }} ${{ 0.5 }}", "true 1 0.5"),
        ("${{ matrix.empty }}", "[]"),
        ("$ {{ not }} ${ { either } }", "$ {{ not }} ${ { either } }"),
        ("${{ 'It''s' }}}", "It's}"),
        ("${{ format('{{{0}}}', 1) }}", "{1}"),
        ("a\n${{ github.ref }}\nb", "a\nrefs/pull/7/merge\nb"),
    ],
)
def test_interpolate(text: str, expected: str) -> None:
    assert interpolate(text, CONTEXTS) == expected


def test_interpolate_without_expressions_returns_the_text() -> None:
    text = "echo {{ not an expression }}"
    assert interpolate(text, {}) is text


def test_interpolate_passes_status() -> None:
    assert interpolate("${{ failure() }}", {}, status=FAILED) == "true"


# Errors: GitHub rejects these; the message names the problem and the expression.
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("'abc", "unterminated string at position 1"),
        ("'It''s", "unterminated string"),
        ('"double"', "unexpected symbol '\"double\"' at position 1"),
        ("frobnicate(1)", "unrecognized function 'frobnicate'"),
        ("secrets.TOKEN", "unrecognized named-value 'secrets'"),
        ("1 +", "unexpected symbol '+' at position 3"),
        ("a = b", "unexpected symbol '='"),
        ("github.event_name & 'x'", "unexpected symbol '&'"),
        ("github.event_name | 'x'", "unexpected symbol '|'"),
        ("", "unexpected end"),
        ("(1", "unexpected end, expected ')'"),
        ("github[0", "unexpected end, expected ']'"),
        ("github.", "expected a property name"),
        ("github.1", "expected a property name"),
        ("1 2", "unexpected symbol '2' at position 3, expected the end"),
        ("'x'.length", "unexpected symbol '.length'"),
        ("1.2.3", "unexpected symbol '1.2.3'"),
        ("contains('a')", "contains() takes 2 argument(s), got 1"),
        ("join()", "join() takes 1 to 2 argument(s), got 0"),
        ("success(1)", "success() takes 0 argument(s), got 1"),
        ("format('{1}', 'a')", "format() failed: '{1}' references {1} but 1 argument(s) follow it"),
        ("format('{x}', 'a')", "format() failed"),
        ("format('a } b')", "lone '}'"),
        ("fromJSON('{not json')", "fromJSON() failed"),
        ("fromJSON('')", "fromJSON() failed"),
        ("hashFiles('**/*.lock')", "hashFiles() is not supported"),
    ],
)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        ev(expression)
    assert message in str(caught.value) and repr(expression) in str(caught.value)


def test_unknown_context_is_rejected_even_where_it_would_not_be_evaluated() -> None:
    with pytest.raises(ExpressionError, match="unrecognized named-value 'vars'"):
        ev("false && vars.X")


def test_expression_error_is_a_value_error() -> None:
    assert issubclass(ExpressionError, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a ${{ github.ref", "'${{' at position 3 is never closed by '}}'"),
        ("${{ 'a }} b", "never closed"),
        ("${{ nope }}", "unrecognized named-value 'nope'"),
        ("ok ${{ github.ref }} ${{ 1 + }}", "unexpected symbol '+'"),
    ],
)
def test_interpolate_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        interpolate(text, CONTEXTS)


# Hostile input: bounded length and depth, ExpressionError never RecursionError, linear time.
def test_length_bound() -> None:
    at_limit = "'" + "x" * (MAX_LENGTH - 2) + "'"
    assert len(ev(at_limit)) == MAX_LENGTH - 2
    with pytest.raises(ExpressionError, match=f"longer than {MAX_LENGTH} characters"):
        ev(at_limit + " ")


@pytest.mark.parametrize(
    ("make", "limit_ok"),
    [
        (lambda n: "(" * n + "1" + ")" * n, True),
        (lambda n: "!" * n + "true", True),
        (lambda n: "contains(" * n + "'a'" + ", 'a')" * n, True),
        (lambda n: "github" + "[0]" * n, True),
        (lambda n: "github" + ".a" * n, True),
        (lambda n: " == ".join(["1"] * (n + 1)), True),
        (lambda n: "1 || 1 && 1 == 1 < (" * n + "1" + ")" * n, False),
    ],
)
def test_depth_bound(make: Any, limit_ok: bool) -> None:
    if limit_ok:
        ev(make(MAX_DEPTH))
    with pytest.raises(ExpressionError, match=f"nested deeper than {MAX_DEPTH}"):
        ev(make(MAX_DEPTH + 1))
    for size in (1_000, 4_000):  # far past the bound, still ExpressionError
        expression = make(size)
        if len(expression) <= MAX_LENGTH:
            with pytest.raises(ExpressionError):
                ev(expression)


def test_flat_chains_are_not_nesting() -> None:
    expression = " && ".join(["github.repository == 'acme/shop'"] * 250)
    assert len(expression) < MAX_LENGTH and ev(expression) is True
    assert ev(" || ".join(["null"] * 1200 + ["'last'"])) == "last"


def test_no_recursion_error_from_a_deep_caller() -> None:
    def nest(frames: int) -> Any:
        if frames:
            return nest(frames - 1)
        try:
            return ev("(" * MAX_DEPTH + "1 == 1 && !(2 < 3)" + ")" * MAX_DEPTH)
        except ExpressionError:
            return "refused"

    assert nest(700) in (False, "refused")


@pytest.mark.parametrize(
    "text",
    [
        "'" + "a" * (MAX_LENGTH - 1),  # unterminated string
        "'" + "''" * (MAX_LENGTH // 2 - 1),
        "format('" + "{{" * 2000 + "{0" + "')",
        " || ".join(["needs.*.result[0].x"] * 480),
        "contains(" + "'" + "a" * 9000 + "', 'b')",
        "${{ " + "'' " * 3000,
    ],
)
def test_hostile_input_is_answered_without_a_crash(text: str) -> None:
    # Speed is measured by benchmarks, not timed tests; here the answer is a value or a worded error.
    def answer() -> object:
        return interpolate(text, CONTEXTS) if text.startswith("${{") else ev(text)

    if text.startswith("contains("):
        assert answer() is False
    else:
        with pytest.raises(ExpressionError):
            answer()


def test_a_long_template_is_interpolated_whole() -> None:
    text = "x ${{ github.ref }} '}}' " * 5_000
    assert interpolate(text, CONTEXTS) == "x refs/pull/7/merge '}}' " * 5_000
