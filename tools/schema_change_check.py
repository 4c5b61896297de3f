#!/usr/bin/env python3
"""The ``schema-change`` check: M9 section "Exceptions & manual approval".

This file is copied verbatim into every gated repository and run there by
``.github/workflows/schema-change.yml`` on ``pull_request``,
``pull_request_review`` and ``merge_group`` events, so it imports nothing
but the standard library and nothing from delivery-gate. It reads the git
history of the checkout (``fetch-depth: 0``) and the GitHub API through
``gh api``.

A pull request changes the trace schema when one of its changed paths
matches SCHEMA_PATHS and is not a golden fixture (FIXTURE_PATHS), or when
it carries the SCHEMA_LABEL label. Such a pull request must include:

1. golden fixture updates: a changed path matching FIXTURE_PATHS;
2. a migration plan (alembic): a NEW file matching MIGRATION_PATHS (an
   edited or renamed revision does not count);
3. SLO migration notes: an added or edited file matching SLO_NOTES_PATHS;
4. approvals on its head commit. A reviewer's state is their latest
   review that approves, requests changes or was dismissed (comments
   change nothing, as on GitHub); it counts when it is APPROVED and was
   made on the head commit. Among those approvers: a member of
   BACKEND_TEAM, a different member of QA_TEAM, and the product owner's
   sign-off by a member of PRODUCT_OWNER_TEAM who is neither of them;
   and at least REQUIRED_APPROVALS approvers besides the product owner.

Any other pull request passes with a notice. Each missing item is one
``::error::`` line saying what is missing.

The changed paths: on a pull request, ``git diff base...head`` (what the
pull request changes since it left its base); in the merge queue,
``git diff base head`` of the merge group, whose base is the group's parent
commit, so the diff is this entry's change. The pull request number and
head commit of a merge group come from its ref (``.../pr-<N>-<sha>``) and
``GET /repos/{owner}/{repo}/pulls/{N}``.

Globs are read from the repository root: ``*`` and ``?`` within one path
part, ``**`` across parts; a pattern that matches a directory matches
everything below it (as in CODEOWNERS).

Environment:

    GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY  set by Actions
    GITHUB_STEP_SUMMARY   optional: a Markdown summary is appended there
    GH_TOKEN              the job's token: reads the pull request, reviews
    TEAM_READER_TOKEN     reads team members (organisation Members: read)
    TEAM_READER_SECRET    the repository secret holding it, for messages
    SCHEMA_PATHS, FIXTURE_PATHS, MIGRATION_PATHS, SLO_NOTES_PATHS
                          globs, one per line
    SCHEMA_LABEL          the label that marks a schema change
    BACKEND_TEAM, QA_TEAM, PRODUCT_OWNER_TEAM   team slugs
    REQUIRED_APPROVALS    approvals besides the product owner's (>= 2)
    MERGE_QUEUE           "true" when the repository merges through a queue

A pull request from a fork gets no secrets: with a merge queue its
approvals are checked in the queue (where the secret is available) and the
pull request passes on its artifacts alone; without one it fails, saying
so.

Exit codes: 0 passed; 1 the rule is not met (each reason on its own
``::error::`` line; a team or the reviews that cannot be read is one of
them); 2 the check cannot run (a missing input, an unreadable event, git
or gh failing before the change is known), also one ``::error::`` line,
never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PROBLEM = 2

PR_EVENTS = ("pull_request", "pull_request_review")
MERGE_GROUP = "merge_group"
APPROVED = "APPROVED"
# Review states that set a reviewer's verdict; COMMENTED and PENDING do not.
VERDICT_STATES = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
_QUEUE_REF = re.compile(r"/pr-([0-9]+)-[0-9a-f]+$")

# (Rule field, environment variable) of the required inputs.
_LISTS = (
    ("schema_paths", "SCHEMA_PATHS"),
    ("fixture_paths", "FIXTURE_PATHS"),
    ("migration_paths", "MIGRATION_PATHS"),
    ("slo_notes_paths", "SLO_NOTES_PATHS"),
)
_WORDS = (
    ("label", "SCHEMA_LABEL"),
    ("backend_team", "BACKEND_TEAM"),
    ("qa_team", "QA_TEAM"),
    ("product_owner_team", "PRODUCT_OWNER_TEAM"),
    ("team_reader_secret", "TEAM_READER_SECRET"),
)


class Problem(Exception):
    """The check, or its approvals part, cannot run; the message says why."""


# -- globs -------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A root-relative glob as a regular expression over whole paths."""
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:[^/]*/)*")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out), re.DOTALL)


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether `path`, or a directory above it, matches one of the globs."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        regex = glob_regex(pattern.strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            return True
    return False


# -- the change --------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entry of `git diff --name-status`: A, M, D, R, T... and the
    path (the new one for a rename, whose old path is `old`)."""

    status: str
    path: str
    old: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,) if self.old is None else (self.old, self.path)


def parse_name_status(text: str) -> list[Change]:
    """`git diff --name-status -z` output as changes."""
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    changes = []
    index = 0
    while index < len(fields):
        status = fields[index][:1]
        if status in ("R", "C"):
            if index + 2 >= len(fields):
                raise Problem(f"unreadable git diff entry {fields[index:]}")
            old, new = fields[index + 1], fields[index + 2]
            changes.append(Change(status, new, old))
            index += 3
        else:
            if index + 1 >= len(fields):
                raise Problem(f"unreadable git diff entry {fields[index:]}")
            changes.append(Change(status, fields[index + 1]))
            index += 2
    return changes


# -- the rule ----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    schema_paths: tuple[str, ...]
    fixture_paths: tuple[str, ...]
    migration_paths: tuple[str, ...]
    slo_notes_paths: tuple[str, ...]
    label: str
    backend_team: str
    qa_team: str
    product_owner_team: str
    team_reader_secret: str
    required_approvals: int = 2
    merge_queue: bool = False


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def rule_from_env(env: Mapping[str, str]) -> Rule:
    values: dict[str, Any] = {}
    missing = []
    for field, name in _LISTS:
        values[field] = _lines(env.get(name, ""))
        if not values[field]:
            missing.append(name)
    for field, name in _WORDS:
        values[field] = env.get(name, "").strip()
        if not values[field]:
            missing.append(name)
    if missing:
        raise Problem(f"missing input(s): {', '.join(missing)}")
    count = env.get("REQUIRED_APPROVALS", "2").strip()
    if not count.isdigit() or int(count) < 2:
        raise Problem(f"REQUIRED_APPROVALS must be 2 or more, got {count!r}")
    values["required_approvals"] = int(count)
    values["merge_queue"] = env.get("MERGE_QUEUE", "").strip() == "true"
    return Rule(**values)


def _shown(patterns: Sequence[str]) -> str:
    return ", ".join(patterns)


def schema_paths_changed(changes: Iterable[Change], rule: Rule) -> list[str]:
    """Changed paths of the trace schema (golden fixtures excluded)."""
    return sorted(
        {
            path
            for change in changes
            for path in change.paths
            if matches(path, rule.schema_paths)
            and not matches(path, rule.fixture_paths)
        }
    )


def artifact_problems(changes: Sequence[Change], rule: Rule) -> list[str]:
    """What the change lacks of the three artifacts M9 names."""
    problems = []
    fixtures = [
        c
        for c in changes
        if any(matches(p, rule.fixture_paths) for p in c.paths)
    ]
    if not fixtures:
        problems.append(
            "golden fixture updates: no changed file matches "
            + _shown(rule.fixture_paths)
        )
    migrations = [
        c.path for c in changes if matches(c.path, rule.migration_paths)
    ]
    added = [
        c
        for c in changes
        if c.status == "A" and matches(c.path, rule.migration_paths)
    ]
    if not added:
        edited = (
            f" (edited, not new: {', '.join(migrations)})"
            if migrations
            else ""
        )
        problems.append(
            "a migration plan (alembic): no new file matches "
            + _shown(rule.migration_paths)
            + edited
        )
    notes = [
        c
        for c in changes
        if c.status != "D" and matches(c.path, rule.slo_notes_paths)
    ]
    if not notes:
        problems.append(
            "SLO migration notes: no added or edited file matches "
            + _shown(rule.slo_notes_paths)
        )
    return problems


# -- approvals ---------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    login: str
    state: str
    commit: str


def latest_verdicts(reviews: Iterable[Mapping[str, Any]]) -> dict[str, Review]:
    """Login (lower case) -> that reviewer's latest verdict, from the
    reviews in the order the API lists them (oldest first)."""
    latest: dict[str, Review] = {}
    for review in reviews:
        user = review.get("user") or {}
        login = str(user.get("login") or "")
        state = str(review.get("state") or "")
        if login and state in VERDICT_STATES:
            commit = str(review.get("commit_id") or "")
            latest[login.lower()] = Review(login, state, commit)
    return latest


@dataclass(frozen=True)
class Teams:
    """Members (lower-case logins) of the three teams, and their names."""

    backend: frozenset[str]
    qa: frozenset[str]
    product_owners: frozenset[str]
    backend_name: str = "backend"
    qa_name: str = "qa"
    product_owner_name: str = "product-owners"


def _distinct_roles(approvers: Sequence[str], teams: Teams) -> bool:
    for owner in (a for a in approvers if a in teams.product_owners):
        for backend in (a for a in approvers if a in teams.backend):
            for qa in (a for a in approvers if a in teams.qa):
                if len({owner, backend, qa}) == 3:
                    return True
    return False


def approval_problems(
    reviews: Iterable[Mapping[str, Any]],
    head: str,
    teams: Teams,
    required: int = 2,
) -> list[str]:
    """What the approvals on the head commit lack (empty: they suffice)."""
    verdicts = latest_verdicts(reviews)
    on_head = sorted(
        key
        for key, r in verdicts.items()
        if r.state == APPROVED and r.commit == head
    )
    roles = (
        (
            teams.backend,
            f"a backend approval (a member of {teams.backend_name})",
        ),
        (teams.qa, f"a QA approval (a member of {teams.qa_name})"),
        (
            teams.product_owners,
            "the product owner's sign-off "
            f"(an approval by a member of {teams.product_owner_name})",
        ),
    )
    where = f" on the head commit {head[:12]}"
    problems = [
        what + where
        for members, what in roles
        if not any(a in members for a in on_head)
    ]
    if not problems and not _distinct_roles(on_head, teams):
        who = ", ".join(verdicts[a].login for a in on_head)
        problems.append(
            "three different people for the backend approval, the QA "
            "approval and the product owner's sign-off (approved"
            + where
            + f": {who})"
        )
    signed = any(a in teams.product_owners for a in on_head)
    besides_owner = len(on_head) - 1 if signed else len(on_head)
    if not problems and besides_owner < required:
        problems.append(
            f"{required} approvals besides the product owner's sign-off"
            + where
            + f" (found {besides_owner})"
        )
    return problems


def stale_approvals(
    reviews: Iterable[Mapping[str, Any]], head: str
) -> list[str]:
    """Reviewers whose latest verdict approves a commit other than `head`."""
    return sorted(
        f"{r.login} approved {r.commit[:12]}"
        for r in latest_verdicts(reviews).values()
        if r.state == APPROVED and r.commit != head
    )


# -- GitHub and git ----------------------------------------------------------

Runner = Callable[[Sequence[str], Mapping[str, str]], "tuple[int, str, str]"]


def run_command(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[int, str, str]:
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def parse_pages(text: str) -> Any:
    """`gh api --paginate` output: one JSON value, or arrays one after the
    other (one per page), joined."""
    decoder = json.JSONDecoder()
    values = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        value, index = decoder.raw_decode(text, index)
        values.append(value)
    if len(values) == 1:
        return values[0]
    if values and all(isinstance(v, list) for v in values):
        return [item for page in values for item in page]
    raise ValueError("not one JSON document nor a list of pages")


class GitHub:
    def __init__(self, env: Mapping[str, str], runner: Runner) -> None:
        self.env, self.runner = env, runner

    def get(self, path: str, token: str) -> Any:
        env = {**self.env, "GH_TOKEN": token}
        code, out, err = self.runner(["gh", "api", "--paginate", path], env)
        if code != 0:
            reason = (
                err.strip() or out.strip() or f"exit {code}"
            ).splitlines()
            raise Problem(f"gh api {path} failed: {reason[-1]}")
        try:
            return parse_pages(out)
        except ValueError as exc:
            raise Problem(f"gh api {path} returned no JSON ({exc})") from exc


def git_changes(
    runner: Runner,
    env: Mapping[str, str],
    base: str,
    head: str,
    three_dot: bool,
) -> list[Change]:
    for sha in (base, head):
        code, _, _ = runner(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"], env
        )
        if code != 0:
            raise Problem(
                f"commit {sha} is not in the checkout (check out with "
                "fetch-depth: 0)"
            )
    span = f"{base}...{head}" if three_dot else f"{base}..{head}"
    code, out, err = runner(
        ["git", "diff", "--name-status", "-z", "-M", "--no-color", span, "--"],
        env,
    )
    if code != 0:
        raise Problem(f"git diff {span} failed: {err.strip()}")
    return parse_name_status(out)


# -- the event ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What is checked: the change (base, head) and the pull request."""

    number: int
    base: str
    head: str
    pr_head: str
    labels: tuple[str, ...]
    fork: bool
    three_dot: bool


def _labels(pull: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(label.get("name"))
        for label in pull.get("labels") or ()
        if isinstance(label, Mapping)
    )


def _sha(value: object, what: str) -> str:
    text = str(value or "")
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text):
        raise Problem(f"the event has no {what} commit (got {text!r})")
    return text


def target_of(
    event: str,
    payload: Mapping[str, Any],
    repository: str,
    fetch_pull: Callable[[int], Mapping[str, Any]],
) -> Target:
    if event in PR_EVENTS:
        pull = payload.get("pull_request") or {}
        head = pull.get("head") or {}
        head_repo = (head.get("repo") or {}).get("full_name")
        number = pull.get("number")
        if not isinstance(number, int) or number < 1:
            raise Problem(f"the {event} event names no pull request")
        return Target(
            number=number,
            base=_sha((pull.get("base") or {}).get("sha"), "base"),
            head=_sha(head.get("sha"), "head"),
            pr_head=_sha(head.get("sha"), "head"),
            labels=_labels(pull),
            fork=head_repo != repository,
            three_dot=True,
        )
    if event == MERGE_GROUP:
        group = payload.get("merge_group") or {}
        ref = str(group.get("head_ref") or "")
        found = _QUEUE_REF.search(ref)
        if found is None:
            raise Problem(
                f"cannot tell the pull request of merge group {ref!r}"
            )
        number = int(found.group(1))
        pull = fetch_pull(number)
        return Target(
            number=number,
            base=_sha(group.get("base_sha"), "merge group's base"),
            head=_sha(group.get("head_sha"), "merge group's head"),
            pr_head=_sha(
                (pull.get("head") or {}).get("sha"), "pull request's head"
            ),
            labels=_labels(pull),
            fork=False,
            three_dot=False,
        )
    raise Problem(
        f"schema-change runs on pull requests and merge groups, not {event}"
    )


# -- main --------------------------------------------------------------------


@dataclass
class Outcome:
    errors: list[str]
    notices: list[str]
    summary: list[str]


def _approval_errors(
    rule: Rule,
    target: Target,
    *,
    owner: str,
    team_token: str,
    github: GitHub,
    repository: str,
) -> list[str]:
    members = {
        slug: frozenset(
            str(m.get("login") or "").lower()
            for m in github.get(
                f"orgs/{owner}/teams/{slug}/members", team_token
            )
            if isinstance(m, Mapping)
        )
        for slug in (rule.backend_team, rule.qa_team, rule.product_owner_team)
    }
    teams = Teams(
        members[rule.backend_team],
        members[rule.qa_team],
        members[rule.product_owner_team],
        f"@{owner}/{rule.backend_team}",
        f"@{owner}/{rule.qa_team}",
        f"@{owner}/{rule.product_owner_team}",
    )
    reviews = github.get(
        f"repos/{repository}/pulls/{target.number}/reviews",
        github.env.get("GH_TOKEN", ""),
    )
    if not isinstance(reviews, list):
        raise Problem("the reviews of the pull request are not a list")
    missing = approval_problems(
        reviews, target.pr_head, teams, rule.required_approvals
    )
    errors = [f"trace-schema change without {m}" for m in missing]
    stale = stale_approvals(reviews, target.pr_head)
    if missing and stale:
        errors.append(
            "approvals of an earlier commit do not count ("
            + "; ".join(stale)
            + "): ask for a review of the head commit "
            + target.pr_head[:12]
        )
    return errors


def evaluate(
    rule: Rule,
    target: Target,
    changes: Sequence[Change],
    *,
    owner: str,
    team_token: str,
    github: GitHub,
    repository: str,
) -> Outcome:
    outcome = Outcome([], [], ["### schema-change (M9 §Exceptions)", ""])
    schema = schema_paths_changed(changes, rule)
    labelled = rule.label in target.labels
    if not schema and not labelled:
        notice = (
            "no trace-schema change: no changed file matches "
            f"{_shown(rule.schema_paths)} outside the golden fixtures, and "
            f"no '{rule.label}' label"
        )
        outcome.notices.append(notice)
        outcome.summary.append(notice)
        return outcome
    why = f"changes {', '.join(schema[:5])}" if schema else ""
    if len(schema) > 5:
        why += f" and {len(schema) - 5} more"
    if labelled:
        why += (" and " if why else "") + f"is labelled '{rule.label}'"
    outcome.summary.append(
        f"Pull request #{target.number} {why}: a trace-schema change."
    )
    prefix = "trace-schema change without "
    outcome.errors += [prefix + p for p in artifact_problems(changes, rule)]
    if team_token:
        try:
            outcome.errors += _approval_errors(
                rule,
                target,
                owner=owner,
                team_token=team_token,
                github=github,
                repository=repository,
            )
        except Problem as exc:
            outcome.errors.append(f"cannot check the approvals: {exc}")
    elif target.fork and rule.merge_queue:
        outcome.notices.append(
            "pull request from a fork: no secrets here, so the backend, "
            "QA and product-owner approvals are checked in the merge "
            "queue (merge_group) before anything merges"
        )
    elif target.fork:
        outcome.errors.append(
            "pull request from a fork: its approvals cannot be checked "
            f"without the {rule.team_reader_secret} secret, which a fork "
            "never gets. Enable the merge queue for this repository "
            "(repositories[].mergeQueue: true), which checks them on "
            "merge_group, or push the branch to this repository after "
            "review"
        )
    else:
        outcome.errors.append(
            f"the repository secret {rule.team_reader_secret} is not set: "
            "it must hold a token that can read the organisation's team "
            "members (fine-grained: Members read), so the backend, QA and "
            "product-owner approvals can be checked"
        )
    outcome.summary += [f"- {error}" for error in outcome.errors]
    if not outcome.errors:
        outcome.summary.append(
            "- fixtures, migration, SLO notes and approvals: present"
        )
    return outcome


def _read_event(env: Mapping[str, str]) -> tuple[str, Mapping[str, Any], str]:
    missing = [
        name
        for name in (
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
        )
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
    return env["GITHUB_EVENT_NAME"], payload, env["GITHUB_REPOSITORY"]


def _append_summary(env: Mapping[str, str], lines: Sequence[str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
    except OSError as exc:
        print(f"::warning::cannot write the step summary: {exc}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    runner: Runner = run_command,
) -> int:
    """Run the check; returns the exit code (0, 1 or 2)."""
    del argv  # every input comes from the environment
    env = dict(os.environ if env is None else env)
    github = GitHub(env, runner)
    try:
        rule = rule_from_env(env)
        event, payload, repository = _read_event(env)
        owner = repository.split("/", 1)[0]

        def fetch_pull(number: int) -> Mapping[str, Any]:
            path = f"repos/{repository}/pulls/{number}"
            pull = github.get(path, env.get("GH_TOKEN", ""))
            if not isinstance(pull, Mapping):
                raise Problem(f"gh api {path} returned no pull request")
            return pull

        target = target_of(event, payload, repository, fetch_pull)
        changes = git_changes(
            runner, env, target.base, target.head, target.three_dot
        )
        outcome = evaluate(
            rule,
            target,
            changes,
            owner=owner,
            team_token=env.get("TEAM_READER_TOKEN", ""),
            github=github,
            repository=repository,
        )
    except Problem as exc:
        print(f"::error::schema-change cannot run: {_one_line(str(exc))}")
        return EXIT_PROBLEM
    for notice in outcome.notices:
        print(f"::notice::{_one_line(notice)}")
    for error in outcome.errors:
        print(f"::error::{_one_line(error)}")
    _append_summary(env, outcome.summary)
    return EXIT_FAILED if outcome.errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
