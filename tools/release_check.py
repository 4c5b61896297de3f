#!/usr/bin/env python3
"""The ``release-contract`` and ``release-notes`` checks, and the notes.

delivery-policy.md, "Pre-Deployment": "Release contract completed
(work/releases/_TEMPLATE-release-contract.md)"; "Release Notes": changes
categorised (new feature, improvement, fix, deprecation), breaking changes
clearly highlighted, migration instructions provided if applicable.

This file is copied verbatim into every gated repository and run there by
the gate's workflows (release-contract.yml, release-notes.yml,
publish-release-notes.yml) and by deploy.yml before a production deploy,
so it imports nothing but the standard library and nothing from
delivery-gate.

Subcommands (exit 0 passed, 1 the rule is not met, 2 cannot run; every
problem is one ``::error::`` line, never a traceback):

``contract --version V [--directory D] [--template T]``
    Validates ``D/V.md`` (D defaults to work/releases) against the
    template ``D/_TEMPLATE-release-contract.md``: every section of the
    template (a ``## `` heading) is present and has text of its author
    besides checkboxes and HTML comments, every checkbox of the template
    is present, and no box is left unchecked. The template itself must
    keep the policy's sections (SECTIONS), so a weakened template cannot
    weaken the check.

``pull-request --check release-contract|release-notes``
    The required checks, reading the event (GITHUB_EVENT_NAME,
    GITHUB_EVENT_PATH) and the rule from the environment:

    release-contract: a pull request into a release branch (its base
    matches RELEASE_BRANCH_PATTERN, ``*`` being the version V) needs a
    valid contract for V. Any other pull request passes, unless it adds
    or changes a contract (``git diff base...head`` under
    CONTRACT_DIRECTORY; needs fetch-depth 0), which is then validated too.

    release-notes: the pull request carries one of CATEGORY_LABELS (one
    per line); one labelled BREAKING_LABEL has a MIGRATION_HEADING section
    (a markdown heading of that text) with text under it in its body.
    In the merge queue the pull request is read with ``gh api`` (GH_TOKEN).

``publish --tag T --generated G --pulls P --output O``
    The customer-facing notes of release tag T (TAG_PREFIX + version):
    G is GitHub's generated notes (``{"name", "body"}``, grouped by
    .github/release.yml), P the pull requests of its breaking-changes
    category (``[{"number", "title", "body", "html_url", "labels"}]``).
    Writes the notes to O: breaking changes first, each with its
    migration section, then the generated notes without them. A
    breaking change without migration instructions fails (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PROBLEM = 2

TEMPLATE_NAME = "_TEMPLATE-release-contract.md"
DEFAULT_DIRECTORY = "work/releases"
# The policy's sections of a release contract (delivery-policy.md,
# "Pre-Deployment" and "Deployment Process"); gate/release_contract.py
# renders the template with exactly these headings.
SECTIONS = (
    "Scope",
    "Rollout plan",
    "Rollback plan",
    "Feature flags",
    "Database migrations",
    "Observability",
    "Deployment window",
)
DEFAULT_CATEGORIES = (
    "feature",
    "improvement",
    "fix",
    "deprecation",
    "breaking-change",
)
DEFAULT_BREAKING = "breaking-change"
DEFAULT_MIGRATION = "Migration"
DEFAULT_TAG_PREFIX = "v"
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
PR_EVENTS = ("pull_request", "pull_request_target")
MERGE_GROUP = "merge_group"
_QUEUE_REF = re.compile(r"/pr-([0-9]+)-[0-9a-f]+$")
_BOX = re.compile(r"^\s*[-*+]\s+\[([ xX])\]\s*(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)")
# Marks a line of a fenced code block (not whitespace, so never a checkbox).
CODE = "\0"


class Problem(Exception):
    """The check cannot run; the message says why."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _norm(text: str) -> str:
    return _one_line(text).casefold()


# -- markdown ----------------------------------------------------------------


@dataclass
class Section:
    title: str
    level: int
    lines: list[str] = field(default_factory=list)


def sections(text: str) -> list[Section]:
    """The markdown's headings and the lines under each (HTML comments
    removed). Lines inside fenced code blocks are text: never a heading
    nor a checkbox (they carry the CODE mark; see `plain`)."""
    found: list[Section] = [Section("", 0)]
    fenced = False
    for line in _COMMENT.sub("", text).splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            found[-1].lines.append(line)
            continue
        if fenced:
            found[-1].lines.append(CODE + line)
            continue
        heading = _HEADING.match(line)
        if heading:
            found.append(Section(heading.group(2), len(heading.group(1))))
        else:
            found[-1].lines.append(line)
    return found


def plain(lines: Sequence[str]) -> list[str]:
    """The lines as written (without the CODE mark)."""
    return [line.removeprefix(CODE) for line in lines]


def boxes(lines: Sequence[str]) -> list[tuple[bool, str]]:
    """(ticked, text) of every checkbox item among the lines."""
    out = []
    for line in lines:
        box = _BOX.match(line)
        if box:
            out.append((box.group(1) != " ", _one_line(box.group(2))))
    return out


def prose(lines: Sequence[str]) -> list[str]:
    """The lines of text that are neither blank nor checkbox items."""
    return [ln for ln in lines if ln.strip() and not _BOX.match(ln)]


def section_under(text: str, title: str) -> list[str] | None:
    """The lines under the first heading titled `title` (any level, case
    insensitive), down to the next heading of the same or a higher level;
    None when there is no such heading."""
    found = sections(text)
    for index, section in enumerate(found):
        if section.level and _norm(section.title) == _norm(title):
            lines = list(section.lines)
            for deeper in found[index:][1:]:
                if deeper.level <= section.level:
                    break
                lines += [f"{'#' * deeper.level} {deeper.title}"]
                lines += deeper.lines
            return plain(lines)
    return None


# -- the contract ------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    sections: tuple[str, ...]
    items: tuple[str, ...]


def parse_template(text: str) -> Template:
    titles = tuple(s.title for s in sections(text) if s.level == 2)
    items = tuple(item for s in sections(text) for _, item in boxes(s.lines))
    return Template(titles, items)


def template_problems(template: Template) -> list[str]:
    """What the template lacks of the policy's sections."""
    have = {_norm(title) for title in template.sections}
    return [
        f"the contract template has no '## {title}' section (the policy's "
        "sections: " + ", ".join(SECTIONS) + ")"
        for title in SECTIONS
        if _norm(title) not in have
    ]


def contract_problems(text: str, template: Template) -> list[str]:
    """What the contract lacks: each a sentence."""
    problems = []
    found = {_norm(s.title): s for s in sections(text) if s.level == 2}
    for title in template.sections:
        section = found.get(_norm(title))
        if section is None:
            problems.append(f"section '## {title}' is missing")
        elif not prose(section.lines):
            problems.append(
                f"section '## {title}' is empty: write it (checkboxes "
                "alone do not say what was done)"
            )
    present = {
        _norm(item) for s in sections(text) for _, item in boxes(s.lines)
    }
    for item in template.items:
        if _norm(item) not in present:
            problems.append(f"the template's item '{item}' is missing")
    for s in sections(text):
        for done, item in boxes(s.lines):
            if not done:
                where = f" in '## {s.title}'" if s.level else ""
                problems.append(f"unchecked box{where}: '- [ ] {item}'")
    return problems


def check_contract(
    root: Path, directory: str, version: str, template: str | None = None
) -> list[str]:
    """Problems of the contract of `version` (empty: valid). Raises
    Problem when the template cannot be read."""
    if not VERSION.fullmatch(version):
        raise Problem(
            f"version {version!r} is not a version (letters, digits, '.', "
            "'_', '+', '-', starting with a letter or digit)"
        )
    template_path = root / (template or f"{directory}/{TEMPLATE_NAME}")
    try:
        parsed = parse_template(template_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(
            f"cannot read the contract template {template_path}: {exc}"
        ) from exc
    problems = template_problems(parsed)
    path = f"{directory}/{version}.md"
    try:
        text = (root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [
            *problems,
            f"no release contract {path}: copy {directory}/{TEMPLATE_NAME} "
            "to it, fill in every section and tick every box",
        ]
    except (OSError, UnicodeDecodeError) as exc:
        return [*problems, f"cannot read {path}: {exc}"]
    return problems + [
        f"{path}: {problem}" for problem in contract_problems(text, parsed)
    ]


# -- the event ---------------------------------------------------------------


def glob_version(pattern: str, branch: str) -> str | None:
    """The part of `branch` matched by the pattern's wildcards (`*`, `**`,
    `?`), or None when the branch does not match the pattern."""
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            out.append("(.*)")
            index += 2
        elif pattern[index] == "*":
            out.append("([^/]*)")
            index += 1
        elif pattern[index] == "?":
            out.append("([^/])")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    found = re.fullmatch("".join(out), branch)
    if found is None:
        return None
    return "".join(found.groups()) or branch.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Pull:
    number: int
    base_ref: str
    base: str
    head: str
    labels: tuple[str, ...]
    body: str
    three_dot: bool


def _labels(pull: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(label.get("name"))
        for label in pull.get("labels") or ()
        if isinstance(label, Mapping)
    )


def _read_event(env: Mapping[str, str]) -> tuple[str, Mapping[str, Any]]:
    missing = [
        name
        for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH")
        if not env.get(name)
    ]
    if missing:
        raise Problem(f"missing input(s): {', '.join(missing)}")
    try:
        with open(env["GITHUB_EVENT_PATH"], encoding="utf-8") as stream:
            payload = json.load(stream)
    except (OSError, ValueError) as exc:
        raise Problem(f"cannot read the event payload: {exc}") from exc
    if not isinstance(payload, dict):
        raise Problem("the event payload is not a JSON object")
    return env["GITHUB_EVENT_NAME"], payload


def run_command(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        return 127, str(exc)
    return done.returncode, done.stdout if done.returncode == 0 else (
        done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
    )


def fetch_pull(number: int, env: Mapping[str, str]) -> Mapping[str, Any]:
    """The pull request from the API (`gh api`, GH_TOKEN): in the merge
    queue the event carries no labels nor description."""
    path = f"repos/{env.get('GITHUB_REPOSITORY', '')}/pulls/{number}"
    code, out = run_command(["gh", "api", path], env)
    if code != 0:
        raise Problem(f"gh api {path} failed: {_one_line(out)}")
    try:
        pull = json.loads(out)
    except ValueError as exc:
        raise Problem(f"gh api {path} returned no JSON") from exc
    if not isinstance(pull, dict):
        raise Problem(f"gh api {path} returned no pull request")
    return pull


def pull_of(
    event: str,
    payload: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    fetch: bool = True,
) -> Pull:
    if event in PR_EVENTS:
        pull = payload.get("pull_request") or {}
        number = pull.get("number")
        if not isinstance(number, int) or number < 1:
            raise Problem(f"the {event} event names no pull request")
        base = pull.get("base") or {}
        return Pull(
            number,
            str(base.get("ref") or ""),
            str(base.get("sha") or ""),
            str((pull.get("head") or {}).get("sha") or ""),
            _labels(pull),
            str(pull.get("body") or ""),
            True,
        )
    if event == MERGE_GROUP:
        group = payload.get("merge_group") or {}
        found = _QUEUE_REF.search(str(group.get("head_ref") or ""))
        if found is None:
            raise Problem(
                "cannot tell the pull request of merge group "
                f"{group.get('head_ref')!r}"
            )
        number = int(found.group(1))
        pull = fetch_pull(number, env) if fetch else {}
        return Pull(
            number,
            str(group.get("base_ref") or "").removeprefix("refs/heads/"),
            str(group.get("base_sha") or ""),
            str(group.get("head_sha") or ""),
            _labels(pull),
            str(pull.get("body") or ""),
            False,
        )
    raise Problem(f"runs on pull requests and merge groups, not {event}")


def changed_contracts(
    pull: Pull, directory: str, env: Mapping[str, str]
) -> list[str]:
    """Versions of the contracts the pull request adds or changes."""
    for sha in (pull.base, pull.head):
        code, _ = run_command(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"], env
        )
        if code != 0:
            raise Problem(
                f"commit {sha!r} is not in the checkout (check out with "
                "fetch-depth: 0)"
            )
    span = (
        f"{pull.base}...{pull.head}"
        if pull.three_dot
        else f"{pull.base}..{pull.head}"
    )
    code, out = run_command(
        [
            "git",
            "diff",
            "--name-only",
            "--diff-filter=AMRC",
            "-z",
            "--no-color",
            span,
            "--",
            directory,
        ],
        env,
    )
    if code != 0:
        raise Problem(f"git diff {span} failed: {_one_line(out)}")
    versions = []
    for path in sorted(p for p in out.split("\0") if p):
        parent, _, name = path.rpartition("/")
        if (
            parent == directory.strip("/")
            and name.endswith(".md")
            and name != TEMPLATE_NAME
        ):
            versions.append(name.removesuffix(".md"))
    return versions


def contract_check(
    pull: Pull, env: Mapping[str, str], root: Path
) -> tuple[list[str], list[str]]:
    """(errors, notices) of the release-contract check."""
    directory = env.get("CONTRACT_DIRECTORY", DEFAULT_DIRECTORY).strip("/")
    pattern = env.get("RELEASE_BRANCH_PATTERN", "").strip()
    if not pattern:
        raise Problem("missing input(s): RELEASE_BRANCH_PATTERN")
    version = glob_version(pattern, pull.base_ref)
    if version is not None:
        errors = check_contract(root, directory, version)
        verdict = f"release {version} (into {pull.base_ref})"
        if errors:
            return errors, []
        return [], [f"{verdict}: {directory}/{version}.md is complete"]
    changed = changed_contracts(pull, directory, env)
    if not changed:
        return [], [
            f"not a release: {pull.base_ref or 'the base'} does not match "
            f"{pattern}, and no contract under {directory}/ changes"
        ]
    errors = [e for v in changed for e in check_contract(root, directory, v)]
    notices = (
        []
        if errors
        else [
            f"not a release; the changed contract(s) are complete: "
            f"{', '.join(changed)}"
        ]
    )
    return errors, notices


def _lines(text: str) -> tuple[str, ...]:
    return tuple(ln.strip() for ln in text.splitlines() if ln.strip())


def notes_problems(
    labels: Sequence[str],
    body: str,
    categories: Sequence[str],
    breaking: str,
    migration: str,
) -> list[str]:
    """What a pull request lacks for the release notes."""
    problems = []
    if not set(labels) & set(categories):
        problems.append(
            "no release-notes category label: add one of "
            + ", ".join(categories)
            + " (delivery-policy.md §Release Notes: changes categorised)"
        )
    if breaking in labels:
        lines = section_under(body, migration)
        if lines is None:
            problems.append(
                f"labelled '{breaking}' but the description has no "
                f"'## {migration}' section: say how customers migrate"
            )
        elif not [ln for ln in lines if ln.strip()]:
            problems.append(
                f"labelled '{breaking}' but the '{migration}' section of "
                "the description is empty: say how customers migrate"
            )
    return problems


def notes_check(
    pull: Pull, env: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    categories = _lines(env.get("CATEGORY_LABELS", "")) or DEFAULT_CATEGORIES
    breaking = env.get("BREAKING_LABEL", "").strip() or DEFAULT_BREAKING
    migration = env.get("MIGRATION_HEADING", "").strip() or DEFAULT_MIGRATION
    errors = notes_problems(
        pull.labels, pull.body, categories, breaking, migration
    )
    chosen = [label for label in pull.labels if label in categories]
    notices = (
        []
        if errors
        else [
            f"pull request #{pull.number} is in the release notes as: "
            + ", ".join(chosen)
        ]
    )
    return errors, notices


# -- publishing --------------------------------------------------------------


def _pull_line(line: str) -> int | None:
    found = re.search(r"/pull/([0-9]+)\b", line)
    return int(found.group(1)) if found else None


def compose_notes(
    tag: str,
    generated: str,
    pulls: Sequence[Mapping[str, Any]],
    breaking: str = DEFAULT_BREAKING,
    migration: str = DEFAULT_MIGRATION,
) -> tuple[str, list[str]]:
    """(notes, problems): the breaking changes first, each with its
    migration section, then the generated notes without them."""
    problems = []
    breaking_pulls = [p for p in pulls if breaking in _labels(p)]
    numbers = {int(p.get("number") or 0) for p in breaking_pulls}
    out = [f"## ⚠️ Breaking changes in {tag}", ""] if breaking_pulls else []
    for pull in sorted(breaking_pulls, key=lambda p: int(p["number"])):
        number, title = int(pull["number"]), _one_line(str(pull["title"]))
        url = str(pull.get("html_url") or "")
        out.append(
            f"### {title} ([#{number}]({url}))"
            if url
            else (f"### {title} (#{number})")
        )
        lines = section_under(str(pull.get("body") or ""), migration)
        text = "\n".join(lines or []).strip()
        if not text:
            problems.append(
                f"breaking change #{number} ({title}) has no "
                f"'{migration}' section in its description"
            )
            continue
        out += ["", f"**{migration}:**", "", text, ""]
    rest = [
        line
        for line in generated.splitlines()
        if _pull_line(line) not in numbers
    ]
    out += _drop_empty_headings(rest)
    return "\n".join(out).strip() + "\n", problems


def _drop_empty_headings(lines: list[str]) -> list[str]:
    """Drop `###` category headings left without items."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith("### "):
            following = lines[index:][1:]
            items = []
            for nxt in following:
                if _HEADING.match(nxt):
                    break
                items.append(nxt)
            if not any(ln.strip() for ln in items):
                continue
        kept.append(line)
    return kept


def publish(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    prefix = env.get("TAG_PREFIX", DEFAULT_TAG_PREFIX)
    breaking = env.get("BREAKING_LABEL", "").strip() or DEFAULT_BREAKING
    migration = env.get("MIGRATION_HEADING", "").strip() or DEFAULT_MIGRATION
    tag = args.tag
    version = tag.removeprefix(prefix) if tag.startswith(prefix) else None
    if version is None or not VERSION.fullmatch(version):
        raise Problem(f"tag {tag!r} is not a release tag: {prefix}<version>")
    try:
        generated = json.loads(Path(args.generated).read_text("utf-8"))
        pulls = json.loads(Path(args.pulls).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise Problem(f"cannot read the generated notes: {exc}") from exc
    if not isinstance(generated, Mapping) or not isinstance(pulls, list):
        raise Problem(
            "the generated notes or the pull requests are unreadable"
        )
    notes, problems = compose_notes(
        tag, str(generated.get("body") or ""), pulls, breaking, migration
    )
    for problem in problems:
        print(f"::error::{_one_line(problem)}")
    if problems:
        return EXIT_FAILED
    Path(args.output).write_text(notes, encoding="utf-8")
    print(f"release notes of {tag} written to {args.output}")
    return EXIT_OK


# -- main --------------------------------------------------------------------


def _append_summary(env: Mapping[str, str], lines: Sequence[str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
    except OSError as exc:
        print(f"::warning::cannot write the step summary: {exc}")


def _report(
    name: str,
    errors: Sequence[str],
    notices: Sequence[str],
    env: Mapping[str, str],
) -> int:
    for notice in notices:
        print(f"::notice::{_one_line(notice)}")
    for error in errors:
        print(f"::error::{_one_line(error)}")
    summary = [f"### {name}", ""]
    summary += [f"- {line}" for line in [*errors, *notices]]
    _append_summary(env, summary)
    return EXIT_FAILED if errors else EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with one line
        print(f"::error::release_check: {message}")
        raise SystemExit(EXIT_PROBLEM)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="release_check.py", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    contract = commands.add_parser("contract", help="validate one contract")
    contract.add_argument("--version", required=True)
    contract.add_argument("--directory", default=DEFAULT_DIRECTORY)
    contract.add_argument("--template", default=None)
    pull = commands.add_parser("pull-request", help="a required check")
    pull.add_argument(
        "--check", required=True, choices=("release-contract", "release-notes")
    )
    notes = commands.add_parser("publish", help="the notes of a tag")
    notes.add_argument("--tag", required=True)
    notes.add_argument("--generated", required=True)
    notes.add_argument("--pulls", required=True)
    notes.add_argument("--output", required=True)
    for sub in (contract, pull, notes):
        sub.error = parser.error  # type: ignore[method-assign]
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> int:
    """Run one subcommand; returns the exit code (0, 1 or 2)."""
    env = dict(os.environ if env is None else env)
    root = Path.cwd() if root is None else root
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.command == "contract":
            directory = args.directory.strip("/")
            errors = check_contract(
                root, directory, args.version, args.template
            )
            notices = (
                []
                if errors
                else [f"{directory}/{args.version}.md is complete"]
            )
            return _report("release-contract", errors, notices, env)
        if args.command == "publish":
            return publish(args, env)
        event, payload = _read_event(env)
        # The contract needs the change, not the pull request's labels.
        fetch = args.check == "release-notes"
        pull = pull_of(event, payload, env, fetch=fetch)
        if args.check == "release-contract":
            errors, notices = contract_check(pull, env, root)
        else:
            errors, notices = notes_check(pull, env)
        return _report(args.check, errors, notices, env)
    except Problem as exc:
        print(f"::error::release_check cannot run: {_one_line(str(exc))}")
        return EXIT_PROBLEM


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
