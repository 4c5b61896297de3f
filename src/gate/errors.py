"""Errors the pure core raises. The CLI turns them into its exit codes (gate/cli/exitcodes.py: 2 bad config
or usage, 3 a rule violation, 4 I/O), `__main__.py` into a RunError."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's configuration."""

    path: str  # dotted field path as written in the stack file, e.g. "repositories[0].languages[1]"
    value: object  # the offending value, or None when the field is missing
    allowed: str  # what would have been accepted
    # The file the value is in, when it is not the one the error names (gate/policy/layers.py: a value
    # from the base file, stacks/base.yaml, reported while loading a stack).
    source: str | None = None

    def render(self) -> str:
        where = f" (in {self.source})" if self.source else ""
        return f"{self.path}{where}: got {shown(self.value)}; {self.allowed}"


# How much of a bad value a message shows: enough to recognise it, never a whole hostile document.
MAX_SHOWN = 80
# How many problems a message lists; the count in its first line is always the full one.
MAX_LISTED = 20


def shown(value: object) -> str:
    """The value as a message shows it: repr (so a newline reads as \\n), at most MAX_SHOWN characters."""
    if value is None:
        return "(missing)"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


class FieldProblem(ValueError):
    """Raised by cross-field validators; the loader reads it back to report path, value and allowed.

    `path` is relative to the model that raised it; the loader prefixes the model's own location.
    """

    def __init__(self, path: str, value: object, allowed: str) -> None:
        self.problem = Problem(path, value, allowed)
        super().__init__(self.problem.render())


class GateError(Exception):
    """Base class of every error the gate reports to a person rather than as a traceback."""


class InputOutputError(GateError):
    """A file that is missing or cannot be read, or a tool or service that cannot be reached (exit 4).

    Modules subclass it together with their own error class (e.g. a missing stack file is both a
    StackFileError and an InputOutputError), so existing `except` clauses keep catching it."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        super().__init__(message)


class UsageError(GateError):
    """A command line that does not say what to do: an unknown option, a missing or malformed argument.

    When argparse found the problem, `usage` is the command's usage line and `prog` the command
    (`python -m gate plan`): the CLI prints them as argparse does."""

    def __init__(self, message: str, *, usage: str | None = None, prog: str | None = None) -> None:
        self.usage = usage
        self.prog = prog
        super().__init__(message)


class PolicyError(GateError):
    """A stack configuration that does not describe a valid policy. Nothing has been declared."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: invalid delivery-gate configuration ({len(problems)} problem(s))"]
        lines += [f"  - {p.render()}" for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"  - ... and {len(problems) - MAX_LISTED} more")
        super().__init__("\n".join(lines))


class RuleViolation(GateError):
    """A gate rule (see gate/policy/rules.py) that the planned state breaks."""

    def __init__(self, source: str, violations: list[str]) -> None:
        self.source = source
        self.violations = violations
        lines = [f"{source}: the gate rules are violated ({len(violations)} violation(s))"]
        lines += [f"  - {v}" for v in violations]
        super().__init__("\n".join(lines))
