"""What a command prints: its text for a person, or (`--format json`) one JSON object on stdout.

With `--format json`, stdout holds exactly one JSON document whatever happens, so a script can pipe
it to `jq`:
- on success, the command's summary: `command`, `code` (0, or 1 for a finding), `kind` and the
  command's own fields (a plan's `rootHash`, `check`'s `stacks`...); a command without fields of its
  own puts what it would have printed under `output`;
- on failure, the error (gate/cli/exitcodes.py `error_document`): `code`, `kind`, `error`, `file`,
  `path`, `value`, `allowed`, `message`, `problems`.
Text a command prints along the way (a Pulumi run's progress) goes to stderr, like the error's
message: the log stays readable, stdout stays parseable. Keys are sorted; output is deterministic.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gate.cli.exitcodes import MEANINGS, ExitCode, error_document, exit_code_of, worst
from gate.errors import UsageError


class Output:
    """One command's output: `say` prints text (text mode only), `put` sets summary fields."""

    def __init__(self, command: str, form: str) -> None:
        self.command = command
        self.json = form == "json"
        self.fields: dict[str, Any] = {}

    def say(self, text: str = "", *, end: str = "\n") -> None:
        if not self.json:
            sys.stdout.write(text + end)

    def put(self, **fields: Any) -> None:
        self.fields.update(fields)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def kind_of_code(code: int) -> str:
    return next((m.kind for m in MEANINGS if int(m.code) == code), "unknown")


def run(output: Output, command: Callable[[], int]) -> int:
    """Run `command`; with JSON, print its summary document (or the error's) as the only stdout."""
    if not output.json:
        return command()
    with _captured() as printed:
        code = command()
    document: dict[str, Any] = {"command": output.command, "code": code, "kind": kind_of_code(code)}
    document.update(output.fields)
    if output.fields:
        sys.stderr.write(printed.getvalue())
    else:
        document["output"] = printed.getvalue()
    sys.stdout.write(dumps(document))
    return code


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    except BaseException:
        # What was printed before the error is part of the log: keep it, on stderr.
        sys.stderr.write(buffer.getvalue())
        raise


def report_error(error: BaseException, *, as_json: bool, command: str | None = None) -> int:
    """Print `error` for a person on stderr (and as JSON on stdout); its exit code."""
    code = exit_code_of(error)
    text = str(error)
    # A usage error found by argparse is printed as argparse prints it: the usage line first.
    usage = error.usage if isinstance(error, UsageError) and error.usage else ""
    if isinstance(error, UsageError) and error.usage and error.prog:
        sys.stderr.write(f"{error.usage}{error.prog}: error: {text}\n")
    else:
        sys.stderr.write(f"error: {text}".rstrip("\n") + "\n")
    if as_json:
        document = error_document(error)
        document["command"] = command
        if usage:
            document["usage"] = usage.strip()
        sys.stdout.write(dumps(document))
    return int(code)


def report_problems(
    problems: tuple[str, ...], codes: list[ExitCode], *, headline: str, as_json: bool, command: str
) -> int:
    """Several problems of one command (`gate check`), each with its own exit code; the worst wins."""
    code = worst(codes)
    sys.stderr.write(f"error: {headline}\n" + "".join(f"  - {p}\n" for p in problems))
    if as_json:
        document = {
            "command": command,
            "code": int(code),
            "kind": kind_of_code(code),
            "error": "ProblemsFound",
            "file": None,
            "path": None,
            "value": None,
            "allowed": None,
            "message": headline,
            "problems": [
                {"message": p, "code": int(c), "kind": kind_of_code(c)}
                for p, c in zip(problems, codes, strict=True)
            ],
            "problemCount": len(problems),
        }
        sys.stdout.write(dumps(document))
    return int(code)


def plan_fields(plan: dict[str, Any], path: Path) -> dict[str, Any]:
    """The JSON summary of a plan: what `summarize` prints, as data."""
    outputs = plan.get("outputs", {})
    counts = Counter(str(resource["type"]) for resource in plan["resources"])
    fields: dict[str, Any] = {
        "project": plan["project"],
        "stack": plan["stack"],
        "rootHash": plan["root_hash"],
        "resourceCount": len(plan["resources"]),
        "resources": dict(sorted(counts.items())),
        "file": str(path),
    }
    for key in (
        "requiredChecks",
        "requiredWorkflows",
        "promotesFrom",
        "releaseSource",
        "validationStatus",
        "gateExceptions",
    ):
        if key in outputs:
            fields[key] = outputs[key]
    return fields
