"""What `--help` says beyond the options: examples and the exit codes, for the top-level parser and
for each command, and the parser class that turns a usage error into a UsageError (exit 2, text or
JSON like every other error) instead of argparse's own exit.

The exit codes come from gate/cli/exitcodes.py (one definition); what exit code 1 means differs per
command, so each command names its own finding, and the codes a command cannot return are left out.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from gate.cli.exitcodes import MEANINGS, ExitCode
from gate.errors import UsageError

OUTPUT_FORMATS = ("text", "json")


class GateArgumentParser(argparse.ArgumentParser):
    """argparse, except that a usage error raises UsageError: the CLI reports it like any other
    error (exit 2; a JSON object with --format json) instead of argparse exiting by itself."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, usage=self.format_usage(), prog=self.prog)


@dataclass(frozen=True)
class CommandHelp:
    examples: tuple[str, ...]
    changes: str | None = None  # what exit code 1 means for this command; None: it never returns 1
    codes: tuple[ExitCode, ...] = (ExitCode.CONFIG, ExitCode.RULE, ExitCode.IO)


_READS_STACKS = (ExitCode.CONFIG, ExitCode.RULE, ExitCode.IO)
_READS_FILES = (ExitCode.CONFIG, ExitCode.IO)

# The command path (as typed after the program name) -> its help. Examples use the shipped stacks.
COMMANDS: dict[str, CommandHelp] = {
    "plan": CommandHelp(
        (
            "plan --stack dev",
            "plan --stack staging --evidence dev=build/dev/plan.json",
            "plan --stack dev --project-dir ../my-gate-config --out /tmp/plans",
            "plan --stack dev --format json | jq .rootHash",
        )
    ),
    "diff": CommandHelp(
        (
            "diff before/dev/plan.json build/dev/plan.json",
            "diff --stat --exit-code before/dev/plan.json build/dev/plan.json",
            "diff --format markdown before/dev/plan.json build/dev/plan.json > comment.md",
        ),
        changes="--exit-code and the plans differ",
        codes=_READS_FILES,
    ),
    "ephemeral": CommandHelp(
        (
            "ephemeral up --repository OWNER/NAME --pr 42",
            "ephemeral down --repository OWNER/NAME --pr 42",
            "ephemeral reap --dry-run",
        ),
        codes=_READS_FILES,
    ),
    "ephemeral up": CommandHelp(
        ("ephemeral up --repository OWNER/NAME --pr 42 --image ghcr.io/OWNER/NAME@sha256:<digest>",),
        codes=_READS_STACKS,
    ),
    "ephemeral down": CommandHelp(("ephemeral down --repository OWNER/NAME --pr 42",), codes=_READS_FILES),
    "ephemeral reap": CommandHelp(
        ("ephemeral reap --dry-run", "ephemeral reap --repository OWNER/NAME"), codes=_READS_FILES
    ),
    "promote": CommandHelp(
        (
            "promote --from dev --to staging --evidence build/dev/plan.json --dry-run",
            "promote --from staging --to prod",
            "promote --from staging --to prod --emergency INC-1 --image REGISTRY/NAME@sha256:<digest> "
            "--rollback-plan https://... --security-scan https://...",
        )
    ),
    "deploy": CommandHelp(
        ("deploy --stack staging --image REGISTRY/NAME@sha256:<digest> --repository OWNER/NAME --run-id 1",)
    ),
    "rollback": CommandHelp(("rollback --stack prod --reason 'error rate above the rollback threshold'",)),
    "watch": CommandHelp(
        ("watch --stack staging --image REGISTRY/NAME@sha256:<digest> --alertmanager-url http://am:9093",),
        changes="the canary analysis or the validation window failed",
    ),
    "record-evidence": CommandHelp(
        (
            "record-evidence --stack staging --image REGISTRY/NAME@sha256:<digest> "
            "--parity-root-hash sha256:<hash> --analysis Successful "
            "--window-start 2026-11-23T10:00:00Z --window-end 2026-11-23T11:00:00Z",
        )
    ),
    "drill": CommandHelp(
        ("drill rollback --stack staging", "drill restore --stack staging --parity success")
    ),
    "files": CommandHelp(("files build/dev/plan.json --out /tmp/files",), codes=_READS_FILES),
    "check": CommandHelp(("check", "check --project-dir ../my-gate-config --format json")),
    "stacks": CommandHelp(("stacks", "stacks --format json | jq -r '.stacks[]'")),
    "report": CommandHelp(
        ("report --before base-plans --after head-plans --out report.md",), codes=_READS_FILES
    ),
    "health": CommandHelp(
        ("health --stack prod --alertmanager-url http://alertmanager:9093",),
        changes="the stack is not healthy (drift, firing alerts or missing evidence)",
    ),
    "window": CommandHelp(
        ("window --stack prod", "window --stack prod --at 2026-11-23T10:00:00Z"),
        changes="the deployment window is closed",
    ),
    "changelog": CommandHelp(
        ("changelog --repository OWNER/NAME", "changelog --repository OWNER/NAME --format json"),
        codes=_READS_STACKS,
    ),
    "changelog record": CommandHelp(("changelog record ... --out record.json",), codes=_READS_STACKS),
    "evaluate": CommandHelp(
        (
            "evaluate --stack prod --release 1.4.0",
            "evaluate --stack staging --state outputs.json --format json",
        ),
        changes="a criterion is judged FAIL",
    ),
    "schema": CommandHelp(
        ("schema --out docs/stack-file.schema.json", "schema --reference"), codes=(ExitCode.IO,)
    ),
    # Issue 13: a new configuration repository that uses the installed package (gate/cli/scaffold.py).
    "init": CommandHelp(
        (
            "init our-gate --owner example-org --repository shop-api",
            "init our-gate --owner example-org --repository shop-api --repository storefront",
        ),
        codes=_READS_FILES,
    ),
    # Issue 13, part base: the merged configuration of a stack and where each value comes from.
    "config": CommandHelp(
        ("config --stack prod", "config --stack prod --origins", "config --stack dev --format json"),
        codes=_READS_FILES,
    ),
}

TOP_EXAMPLES = (
    "plan --stack dev",
    "check",
    "diff --stat before/dev/plan.json build/dev/plan.json",
    "plan --stack dev --format json",
    "COMMAND --help",
)


def exit_code_table(help_: CommandHelp | None = None) -> str:
    """The exit codes as --help prints them: every one at the top, a command's own below it."""
    lines = ["exit codes:"]
    for meaning in MEANINGS:
        text = meaning.text
        if help_ is not None and meaning.code == ExitCode.CHANGES:
            if help_.changes is None:
                continue
            text = help_.changes
        elif help_ is not None and meaning.code not in (ExitCode.OK, *help_.codes):
            continue
        lines.append(f"  {int(meaning.code)}  {meaning.kind:<8} {text}")
    return "\n".join(lines)


def epilog(prog: str, help_: CommandHelp | None) -> str:
    examples = TOP_EXAMPLES if help_ is None else help_.examples
    parts = ["examples:", *(f"  {prog} {example}" for example in examples), "", exit_code_table(help_)]
    parts += [
        "",
        "--format json: the summary, or the error (code, kind, file, path, value, allowed, message),",
        "as one JSON object on stdout; the exit code is the same as in text.",
    ]
    return "\n".join(parts)


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (command path, parser) below `parser`, parents before their subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and helps.get(name):
                    sub.description = f"{name}: {helps[name]}"  # the line the command list shows
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


def has_option(parser: argparse.ArgumentParser, option: str) -> bool:
    return option in parser._option_string_actions


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(action, argparse._SubParsersAction) for action in parser._actions)


def decorate(parser: argparse.ArgumentParser, top_prog: str) -> None:
    """Give every command its epilog, and every leaf command a `--format` (text|json) unless it or
    the command above it has its own (a subcommand's default would overwrite its parent's value)."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = epilog(top_prog, None)
    parents: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for path, sub in subcommands(parser):
        parents[path] = sub
        help_ = COMMANDS.get(" ".join(path))
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        if help_ is not None:
            sub.epilog = epilog(top_prog, help_)
        above = [parents[path[:end]] for end in range(1, len(path))]
        if _has_subcommands(sub) or any(has_option(p, "--format") for p in (sub, *above)):
            continue
        sub.add_argument(
            "--format",
            choices=OUTPUT_FORMATS,
            default="text",
            help="text (default) or json: the summary, or the error, as one JSON object on stdout",
        )


def wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for JSON, read before it is parsed (for its own usage errors)."""
    for index, argument in enumerate(argv):
        if argument == "--format=json" or (
            argument == "--format" and argv[index + 1 : index + 2] == ["json"]
        ):
            return True
    return False
