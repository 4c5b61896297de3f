"""`python -m gate`: the offline plan for reviewers, forks and CI (plan, diff, files, stacks, report:
no Pulumi CLI needed), promotion (promote: edits a stack file), the delivery path (deploy, rollback,
watch, record-evidence: the Automation API), the lifecycle of ephemeral pr-<repo>-<N> stacks
(ephemeral: needs the Pulumi CLI) and a deployed stack's health (health: the Pulumi CLI and
Alertmanager).

Exit codes (gate/cli/exitcodes.py, listed by `--help`): 0 ok; 1 a finding (`diff --exit-code` found
changes, `health` an unhealthy stack, ...); 2 bad configuration or usage; 3 a rule violation (the
policy refuses); 4 I/O (a missing or unreadable file, an unreachable tool or service). Each is
reported as a message without a traceback; `--format json` prints the summary or the error as one
JSON object on stdout (gate/cli/cliout.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gate import __version__, clock
from gate.cli import clihelp, cliout, configview, scaffold
from gate.cli import delivery as delivery_cli
from gate.cli.exitcodes import ExitCode, exit_code_of
from gate.errors import GateError, UsageError
from gate.github.files import committed_files, write_files
from gate.offline import progress, report
from gate.offline.diff import diff_plans, render_diff, render_json, render_markdown, render_stat
from gate.offline.plan import build_plan, load_plan, read_stack_outputs_file, summarize, write_plan
from gate.policy import consistency, schema
from gate.promotion import changelog, evaluate, health, window
from gate.promotion.promote import Emergency, promote
from gate.runtime import lifecycle

EXIT_OK = int(ExitCode.OK)
EXIT_CHANGES = int(ExitCode.CHANGES)
EXIT_PROBLEM = int(ExitCode.CONFIG)  # bad configuration or usage
EXIT_RULE = int(ExitCode.RULE)
EXIT_IO = int(ExitCode.IO)

# The console script (pyproject.toml); `python -m gate` is the same command.
PROG = "gate"
# Commands that print their own JSON with --format json (diff, evaluate, changelog, config): their
# errors are JSON too, their summaries are theirs.
OWN_JSON = ("diff", "evaluate", "changelog", "config")

# The configuration repository is where `gate` runs (like `pulumi`), not where the package is installed.
DEFAULT_PROJECT_DIR = Path(".")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = clihelp.GateArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--version", action="version", version=f"delivery-gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="write the offline plan of one stack")
    plan.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.<stack>.yaml")
    plan.add_argument(
        "--out", type=Path, default=None, help="output directory (default: build/ in the project dir)"
    )
    plan.add_argument(
        "--evidence",
        action="append",
        default=[],
        metavar="STACK=FILE",
        type=_evidence_argument,
        help="outputs of a referenced stack (pulumi stack output --json, or its plan.json); repeatable",
    )
    plan.add_argument(
        "--quiet", action="store_true", help="no progress line on a terminal (it shows after a second)"
    )
    plan.add_argument(
        "--project-dir",
        type=Path,
        default=DEFAULT_PROJECT_DIR,
        help="directory holding Pulumi.yaml (default: %(default)s)",
    )

    diff = commands.add_parser("diff", help="compare two plan files (before, after)")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when the plans differ")
    diff.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (default, every property by URN), markdown (a PR comment: summary and "
        "policy-relevant changes first) or json (the structured summary)",
    )
    diff.add_argument(
        "--stat", action="store_true", help="one short line per changed resource and the totals"
    )
    diff.add_argument(
        "--full", action="store_true", help="markdown: show file bodies instead of line counts and hashes"
    )

    ephemeral = commands.add_parser(
        "ephemeral", help="create, destroy or reap pr-<repo>-<N> stacks (Pulumi CLI)"
    )
    verbs = ephemeral.add_subparsers(dest="verb", required=True)
    for verb, text in (
        ("up", "create or update pr-<repo>-<N>"),
        ("down", "destroy and remove pr-<repo>-<N>"),
    ):
        command = verbs.add_parser(verb, help=text)
        command.add_argument("--pr", type=int, required=True, help="pull request number")
        command.add_argument("--repository", required=True, help="owner/name the PR belongs to")
        if verb == "up":
            command.add_argument(
                "--image", default=None, help="the PR's own image, pinned by digest (default: the template's)"
            )
    reap = verbs.add_parser(
        "reap", help="destroy every pr-<repo>-<N> (and legacy pr-<N>) stack past its expiry"
    )
    reap.add_argument("--repository", default=None, help="owner/name: reap only this repository's stacks")
    reap.add_argument("--dry-run", action="store_true", help="only say what would be reaped")
    for command in (*verbs.choices.values(),):
        command.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)

    promote = commands.add_parser(
        "promote", help="write what the upstream stack validated into the next stack file (a diff to review)"
    )
    promote.add_argument(
        "--from", dest="from_stack", required=True, help="the stack that validated the release"
    )
    promote.add_argument("--to", dest="to_stack", required=True, help="the stack to promote into")
    promote.add_argument(
        "--evidence",
        type=Path,
        default=None,
        help="the upstream outputs as a file (pulumi stack output --json, or its plan.json); "
        "default: read them from the backend (needs the Pulumi CLI)",
    )
    promote.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    emergency = promote.add_argument_group("emergency path (DP §Emergency / Hotfix Deployments)")
    emergency.add_argument(
        "--emergency", metavar="INCIDENT_ID", help="skip upstream validation for this incident"
    )
    emergency.add_argument("--image", help="the hotfix image, pinned by digest")
    emergency.add_argument("--rollback-plan", metavar="URL", help="link to the documented rollback plan")
    emergency.add_argument("--security-scan", metavar="URL", help="link to the passing security-scan run")
    promote.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)

    # The delivery path (gate/promotion/delivery.py): deploy, rollback, watch, record-evidence.
    delivery_cli.add_parsers(commands, DEFAULT_PROJECT_DIR)
    # Issue 13, part base: a stack's effective config and where each value comes from.
    configview.add_parser(commands, DEFAULT_PROJECT_DIR)

    files = commands.add_parser("files", help="write the files a plan commits into gated repositories")
    files.add_argument("plan", type=Path, help="a plan.json written by `plan`")
    files.add_argument(
        "--out", type=Path, required=True, help="directory to write <owner>-<repo>/<path> into"
    )

    consistency = commands.add_parser(
        "check", help="check that every stack agrees on the chain, the merge-gate owner and the repositories"
    )
    consistency.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)
    _add_pipeline_commands(commands)
    # GATE-DP-19 and GATE-DP-20 (issue 12, part deploy), GATE-DP-18 (issue 12, part evaluate).
    for policy_line in (window, changelog, evaluate):
        policy_line.add_parser(commands, DEFAULT_PROJECT_DIR)
    # Issue 13: a new configuration repository; docs/stack-file.schema.json, docs/config-reference.md.
    for project_file in (scaffold, schema):
        project_file.add_parser(commands)
    clihelp.decorate(parser, PROG)  # issue 13, item 4: examples, exit codes and --format in every --help
    return parser


def _add_pipeline_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The gate's own pipeline (.github/workflows/gate-*.yml): stacks, report, health."""
    stacks = commands.add_parser("stacks", help="print the environment stacks in promotion order, one a line")
    stacks.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)

    pr_report = commands.add_parser(
        "report", help="one markdown report of every stack's plan, base against head (a PR comment)"
    )
    pr_report.add_argument(
        "--before", type=Path, required=True, help="the base's plans (see gate/offline/report.py)"
    )
    pr_report.add_argument("--after", type=Path, required=True, help="the head's plans")
    pr_report.add_argument("--out", type=Path, required=True, help="the markdown file to write")
    pr_report.add_argument("--base-ref", default="", help="the base commit, shown in the report")
    pr_report.add_argument("--head-ref", default="", help="the head commit, shown in the report")
    pr_report.add_argument("--run-url", default="", help="the workflow run holding the full diffs")
    pr_report.add_argument(
        "--max-chars", type=int, default=report.DEFAULT_MAX_CHARS, help="size bound (default: %(default)s)"
    )

    stack_health = commands.add_parser(
        "health", help="whether a deployed stack is healthy: no drift, quiet alerts, its evidence"
    )
    stack_health.add_argument("--stack", required=True)
    stack_health.add_argument(
        "--alertmanager-url",
        default=None,
        help=f"the environment's Alertmanager (default: ${health.ALERTMANAGER_URL_ENV})",
    )
    stack_health.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)


def main(
    argv: Sequence[str] | None = None,
    workspace: lifecycle.Workspace | None = None,
    outside: delivery_cli.Outside | None = None,
    changelog_source: changelog.ChangeLogSource | None = None,
) -> int:
    """`workspace` replaces the Pulumi Automation API, `outside` what the delivery commands reach
    (tests). Returns the exit code (gate/cli/exitcodes.py); errors are reported, never raised."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(arguments)
    except UsageError as error:
        named = (error.prog or "").removeprefix(PROG).strip() or None  # "plan", "ephemeral up"
        return cliout.report_error(error, as_json=clihelp.wants_json(arguments), command=named)
    form = getattr(args, "format", "text")
    output = cliout.Output(args.command, form)
    delivery = {
        name: (lambda: delivery_cli.run_command(args, outside or delivery_cli.Outside()))
        for name in delivery_cli.COMMANDS
    }
    commands: dict[str, Callable[[], int]] = {
        **delivery,
        "ephemeral": lambda: _ephemeral(args, workspace or _automation(args.project_dir), output),
        "plan": lambda: _plan(
            args.stack, args.project_dir, args.out, dict(args.evidence), output, quiet=args.quiet
        ),
        "promote": lambda: _promote(args, workspace, output),
        "files": lambda: _files(args.plan, args.out, output),
        "diff": lambda: _diff(
            args.before,
            args.after,
            exit_code=args.exit_code,
            form=args.format,
            stat=args.stat,
            full=args.full,
        ),
        "check": lambda: _check(args.project_dir, output),
        "config": lambda: configview.command(args),
        "stacks": lambda: _check(args.project_dir, output, listing=True),
        "report": lambda: _report(args, output),
        "window": lambda: window.command(args),
        "schema": lambda: schema.command(args),
        "init": lambda: scaffold.command(args),
        "changelog": lambda: changelog.command(args, changelog_source),
        "evaluate": lambda: _evaluate(args, outside or delivery_cli.Outside()),
        "health": lambda: health.command(
            args.project_dir,
            args.stack,
            args.alertmanager_url or os.environ.get(health.ALERTMANAGER_URL_ENV),
            os.environ.get(health.ALERTMANAGER_TOKEN_ENV),
        ),
    }
    command = commands[args.command]
    try:
        if args.command in OWN_JSON:
            return command()
        return cliout.run(output, command)
    except _Problems as problems:
        return cliout.report_problems(
            problems.problems,
            problems.codes,
            headline=problems.headline,
            as_json=form == "json",
            command=args.command,
        )
    except (GateError, OSError) as error:
        # OSError: a file or a service the command reached without a worded error of its own (I/O, 4).
        return cliout.report_error(error, as_json=form == "json", command=args.command)


class _Problems(Exception):
    """Several problems at once (`gate check`), each with its own exit code."""

    def __init__(self, headline: str, problems: tuple[str, ...], codes: list[ExitCode]) -> None:
        super().__init__(headline)
        self.headline, self.problems, self.codes = headline, problems, codes


def _evaluate(args: argparse.Namespace, outside: delivery_cli.Outside) -> int:
    """GATE-DP-18 (issue 12, part evaluate): the stacks' state through the Automation API, GitHub
    through the job's token, each only when needed."""
    from gate.promotion import deploy  # noqa: PLC0415

    return evaluate.command(
        args,
        lambda: delivery_cli._workspace(args, outside),
        lambda: outside.github or deploy.github_from_environment(),
    )


def _check(project_dir: Path, output: cliout.Output, *, listing: bool = False) -> int:
    result = consistency.check_project(project_dir)
    if len(result.problems) == 1 and len(result.errors) == 1:
        raise result.errors[0]  # one invalid stack: reported with its file, path, value, allowed
    if result.problems:
        # The problems that are errors (an unreadable or invalid stack file, a broken rule) carry
        # their own exit code; the others are GATE-DP-11/-13 consistency rules (exit 3).
        codes = [exit_code_of(error) for error in result.errors]
        codes += [ExitCode.RULE] * (len(result.problems) - len(codes))
        raise _Problems(
            f"the stacks are inconsistent ({len(result.problems)} problem(s))", result.problems, codes
        )
    output.put(stacks=list(result.stacks))
    if listing:
        output.say("\n".join(result.stacks))
        return EXIT_OK
    output.put(templates=list(result.templates))
    output.say(f"{len(result.stacks)} stacks agree: {', '.join(result.stacks)}")
    if result.templates:
        output.say(f"{len(result.templates)} per-PR template(s) valid: {', '.join(result.templates)}")
    return EXIT_OK


def _report(args: argparse.Namespace, output: cliout.Output) -> int:
    reports = report.write_report(
        args.before,
        args.after,
        args.out,
        base=args.base_ref,
        head=args.head_ref,
        run_url=args.run_url,
        max_chars=args.max_chars,
    )
    attention = sum(len(r.attention) for r in reports)
    output.put(
        file=str(args.out),
        stacks={r.stack: {"status": r.status, "attention": list(r.attention)} for r in reports},
        attention=attention,
    )
    output.say(f"wrote {args.out}: {len(reports)} stack(s), {attention} item(s) needing attention")
    return EXIT_OK


def _evidence_argument(text: str) -> tuple[str, Path]:
    stack, separator, path = text.partition("=")
    if not separator or not stack or not path:
        raise argparse.ArgumentTypeError(f"expected STACK=FILE, got {text!r}")
    return stack, Path(path)


def _plan(
    stack: str,
    project_dir: Path,
    out: Path | None,
    evidence: dict[str, Path],
    output: cliout.Output,
    *,
    quiet: bool = False,
) -> int:
    # Issue 14, item 5: a status line on a terminal only; never with --quiet or --format json.
    shown = progress.for_stream(sys.stderr, quiet=quiet or output.json)
    try:
        plan = build_plan(project_dir, stack, evidence, on_register=shown.registered if shown else None)
    finally:
        if shown is not None:
            shown.finish()
    path = write_plan(plan, out if out is not None else project_dir / "build")
    output.put(**cliout.plan_fields(plan, path))
    output.say(summarize(plan))
    output.say(f"wrote {path}")
    return EXIT_OK


def _automation(project_dir: Path) -> lifecycle.Workspace:
    try:
        return lifecycle.AutomationWorkspace(project_dir)
    except Exception as error:  # any failure here means: no usable Pulumi CLI or backend
        raise lifecycle.PulumiUnavailable(
            f"the Pulumi Automation API is not usable here (it needs the Pulumi CLI): {error}"
        ) from None


def _ephemeral(args: argparse.Namespace, workspace: lifecycle.Workspace, output: cliout.Output) -> int:
    output.put(verb=args.verb)
    if args.verb == "up":
        stack = lifecycle.ephemeral_stack(args.repository, args.pr)
        outputs = lifecycle.up(workspace, args.project_dir, args.pr, args.repository, args.image)
        output.put(stack=stack, namespace=outputs.get("namespace"), expiresAt=outputs.get("expiresAt"))
        output.say(f"{stack}: namespace {outputs.get('namespace')}, expires {outputs.get('expiresAt')}")
    elif args.verb == "down":
        stack = lifecycle.ephemeral_stack(args.repository, args.pr)
        removed = lifecycle.down(workspace, args.repository, args.pr)
        output.put(stack=stack, removed=list(removed))
        output.say(
            f"{stack}: {'destroyed and removed ' + ', '.join(removed) if removed else 'no such stack'}"
        )
    else:
        reaped = lifecycle.reap(
            workspace, clock.now(exact=True), repository=args.repository, dry_run=args.dry_run
        )
        output.put(stacks=list(reaped), dryRun=args.dry_run, repository=args.repository)
        scope = f" of {args.repository}" if args.repository else ""
        output.say(f"{len(reaped)} stack(s){scope} {'to reap' if args.dry_run else 'reaped'}")
    return EXIT_OK


def _promote(args: argparse.Namespace, workspace: lifecycle.Workspace | None, output: cliout.Output) -> int:
    if args.evidence is not None:
        outputs = read_stack_outputs_file(args.evidence)
    else:
        outputs = (workspace or _automation(args.project_dir)).outputs(args.from_stack)
    result = promote(args.project_dir, args.from_stack, args.to_stack, outputs, _emergency(args))
    written = not args.dry_run and bool(result.diff)
    output.put(
        file=str(result.path),
        changed=bool(result.diff),
        written=written,
        diff=result.diff,
        notes=result.notes,
    )
    output.say(result.diff or f"{result.path}: already promoted; nothing to change\n", end="")
    for note in result.notes:  # flags validated upstream that stay off here (gate/promotion/promote.py)
        print(f"note: {note}", file=sys.stderr)
    if written:
        result.path.write_text(result.after, encoding="utf-8")
        output.say(f"wrote {result.path}: review the diff, then `pulumi up --stack {args.to_stack}`")
    return EXIT_OK


def _emergency(args: argparse.Namespace) -> Emergency | None:
    given = {
        "--emergency": args.emergency,
        "--image": args.image,
        "--rollback-plan": args.rollback_plan,
        "--security-scan": args.security_scan,
    }
    if not any(given.values()):
        return None
    absent = [flag for flag, value in given.items() if not value]
    if absent:
        # DP: a rollback plan before the fix; security checks are never skippable.
        raise UsageError(f"the emergency path needs {', '.join(absent)} as well")
    return Emergency(
        incident_id=args.emergency,
        rollback_plan=args.rollback_plan,
        security_scan=args.security_scan,
        image=args.image,
    )


def _files(plan: Path, out: Path, output: cliout.Output) -> int:
    written = write_files(committed_files(load_plan(plan)), out)
    output.put(out=str(out), files=[str(path) for path in written])
    output.say(f"wrote {len(written)} file(s) under {out}")
    return EXIT_OK


def _diff(
    before: Path, after: Path, *, exit_code: bool, form: str = "text", stat: bool = False, full: bool = False
) -> int:
    a, b = load_plan(before), load_plan(after)
    result = diff_plans(a, b)
    if stat:
        sys.stdout.write(render_stat(result))
    elif form == "markdown":
        sys.stdout.write(render_markdown(a, b, full=full))
    elif form == "json":
        sys.stdout.write(render_json(a, b))
    else:
        sys.stdout.write(render_diff(result))
    return EXIT_CHANGES if exit_code and result.has_changes else EXIT_OK
