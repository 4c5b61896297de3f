"""The command line's exit codes, defined once, and which error means which.

    0  ok            the command did what was asked
    1  changes       a finding, not a failure: `diff --exit-code` found changes, `health` found the
                     stack unhealthy, `window` is outside the deployment window, `watch` saw the
                     canary or the validation window fail, `evaluate` judged a rule FAIL
    2  config/usage  a stack file that does not describe a valid policy, or a command line that does
                     not say what to do (unknown option, missing or malformed argument)
    3  rule          the policy refuses: a GATE-* rule the planned state breaks, a promotion without
                     its evidence, a deploy outside the window or without its checks
    4  io            a file that is missing or cannot be read, a tool (the Pulumi CLI) or a service
                     (GitHub, Alertmanager) that cannot be reached

A script tells "fix the stack file" (2) from "the policy said no" (3) from "try again, or fix the
runner" (4) without reading the message. With `--format json` the error is also a JSON object on
stdout (`error_document`), so `gate check --format json | jq .kind` works whatever happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from gate.errors import (
    MAX_LISTED,
    GateError,
    InputOutputError,
    PolicyError,
    RuleViolation,
    UsageError,
    shown,
)
from gate.promotion.outside import DeliveryRefused
from gate.promotion.promote import PromotionRefused
from gate.promotion.window import WindowRefused


class ExitCode(IntEnum):
    OK = 0
    CHANGES = 1
    CONFIG = 2  # bad configuration, or bad usage
    RULE = 3
    IO = 4


@dataclass(frozen=True)
class Meaning:
    code: ExitCode
    kind: str  # the `kind` of a JSON error document
    text: str  # one line for --help and docs/cli.md


MEANINGS: tuple[Meaning, ...] = (
    Meaning(ExitCode.OK, "ok", "ok"),
    Meaning(
        ExitCode.CHANGES, "changes", "changes or findings (diff --exit-code, health, window, watch, ...)"
    ),
    Meaning(ExitCode.CONFIG, "config", "bad configuration or usage (the message names file, path, value)"),
    Meaning(ExitCode.RULE, "rule", "a rule violation: the policy refuses (GATE-* rules, promotion, window)"),
    Meaning(ExitCode.IO, "io", "I/O: a missing or unreadable file, an unreachable tool or service"),
)


# Refusals by the policy, not malformed inputs: GATE-* rules, promotion without evidence (GATE-DP-09/10),
# a deploy the delivery path refuses, production outside its window (GATE-DP-19).
RULE_ERRORS: tuple[type[GateError], ...] = (RuleViolation, PromotionRefused, DeliveryRefused, WindowRefused)


def cause_of(error: BaseException) -> BaseException:
    """What really went wrong: a ProgramError (gate/offline/engine.py) wraps the GateError the program
    raised."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, GateError) else error


def exit_code_of(error: BaseException) -> ExitCode:
    """The exit code of an error the CLI reports. I/O is tested first: a missing stack file is a
    StackFileError too, but the fix is a path, not the file's content."""
    error = cause_of(error)
    if isinstance(error, InputOutputError | OSError):
        return ExitCode.IO
    if isinstance(error, UsageError):
        return ExitCode.CONFIG
    if isinstance(error, RULE_ERRORS):
        return ExitCode.RULE
    return ExitCode.CONFIG


def kind_of(error: BaseException) -> str:
    """`usage` is exit code 2 like `config`, but said apart for a person reading the JSON."""
    if isinstance(cause_of(error), UsageError):
        return "usage"
    code = exit_code_of(error)
    return next(meaning.kind for meaning in MEANINGS if meaning.code == code)


def worst(codes: list[ExitCode]) -> ExitCode:
    """One exit code for several problems (`gate check` reads every stack): I/O first (nothing else
    can be judged before the file is read), then bad configuration, then rule violations."""
    for code in (ExitCode.IO, ExitCode.CONFIG, ExitCode.RULE):
        if code in codes:
            return code
    return ExitCode.OK


def _value(value: object) -> object:
    """A bad value as JSON: itself when it is small plain JSON, else as the text message shows it."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return shown(value)
    return value if len(text) <= 200 else shown(value)


def error_document(error: BaseException, *, message: str | None = None) -> dict[str, Any]:
    """The JSON object of an error: code, kind, error (the class), file, path, value, allowed and
    message; `problems` lists every problem of a PolicyError (path, value, allowed, message each)
    or every violation of a RuleViolation (message each). path/value/allowed are those of the first
    problem, or null when the error is not about one value."""
    error = cause_of(error)
    code = exit_code_of(error)
    document: dict[str, Any] = {
        "code": int(code),
        "kind": kind_of(error),
        "error": type(error).__name__,
        "file": _file_of(error),
        "path": None,
        "value": None,
        "allowed": None,
        "message": message if message is not None else str(error),
        "problems": [],
    }
    if isinstance(error, PolicyError):
        document["problems"] = [
            {"path": p.path, "value": _value(p.value), "allowed": p.allowed, "message": p.render()}
            for p in error.problems[:MAX_LISTED]
        ]
        document["problemCount"] = len(error.problems)
        if error.problems:
            first = error.problems[0]
            document.update(path=first.path, value=_value(first.value), allowed=first.allowed)
    elif isinstance(error, RuleViolation):
        document["problems"] = [{"message": line} for line in error.violations]
        document["problemCount"] = len(error.violations)
    return document


def _file_of(error: BaseException) -> str | None:
    if isinstance(error, OSError):
        return None if error.filename is None else str(error.filename)
    for attribute in ("file", "source"):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None
