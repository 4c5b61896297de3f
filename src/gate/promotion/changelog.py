"""GATE-DP-20, the change log (DP §Post-Deployment: "Deployment recorded in change log").

After `evidence <production>` succeeds, deploy.yml's `change log` job appends one record: the
environment, the image digest, the commit range, the release notes link, the evidence (parity root
hash, analysis, validation window, run), the deployment window it was deployed in, and who approved
it, read from the run's environment approvals (never typed). Where (`delivery-gate:changeLog`): a
file the pipeline writes on its own branch through the Contents API (never the protected default
branch), GitHub deployments of task `changelog`, or both.

Pure here: the record's validation, its markdown entry (which carries the record as JSON in a
comment, so the file can be read back exactly), parsing, and printing. `python -m gate changelog
record ...` renders one record for the workflow; `python -m gate changelog --repository O/R` prints
the log, reading GitHub through `ChangeLogSource` (tests pass a fake).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import urllib.error
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, ValidationError

from gate import clock
from gate.errors import GateError, InputOutputError, shown
from gate.github import api as githubapi
from gate.github.release_deploy import DEPLOYMENT_TASK
from gate.policy.model import PipelineRun
from gate.policy.types import EnvironmentName, GateModel, HttpsUrl, PinnedImage, RootHash, matching

RULE_ID = "GATE-DP-20"
MARKER = "<!-- delivery-gate:change-log-record "
FILE_HEADER = (
    "# Deployments\n\n"
    "Appended by the delivery gate's deploy workflow after each successful production deploy "
    "(GATE-DP-20). Do not edit: each entry carries its record.\n"
)
_COMMIT_RANGE = r"[0-9a-f]{7,40}(\.\.[0-9a-f]{7,40})?"


class ChangeLogError(GateError):
    """A record that cannot be written or a change log that cannot be read (exit 2)."""


class GitHubUnreachable(ChangeLogError, InputOutputError):
    """GitHub could not be asked, or answered with an error (exit 4)."""


class Approval(GateModel):
    user: Annotated[str, matching(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", "a GitHub login")] = Field(
        description="GitHub login."
    )
    comment: str = Field(default="", max_length=300, description="The approval's comment, one line.")


class Evidence(GateModel):
    parity_root_hash: RootHash
    analysis: Literal["Successful"]
    window_start: datetime
    window_end: datetime
    run: HttpsUrl = Field(description="The deploy.yml run.")


class Record(GateModel):
    """One successful deploy, as the change log keeps it."""

    environment: EnvironmentName
    version: Annotated[
        str,
        matching(
            r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", "a release version: letters, digits, '.', '_', '+', '-'"
        ),
    ]
    image: PinnedImage
    commit_range: Annotated[
        str, matching(_COMMIT_RANGE, "<previous sha>..<sha>, or <sha> for the environment's first deploy")
    ]
    release_notes: HttpsUrl
    evidence: Evidence
    deployment_window: str = Field(default="", max_length=300, description="The window it was deployed in.")
    approved_by: tuple[Approval, ...] = ()
    recorded_at: datetime

    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def approvals_from_reviews(reviews: Iterable[Mapping[str, Any]], environment: str) -> list[Approval]:
    """The run's environment approvals (GET /repos/{o}/{r}/actions/runs/{id}/approvals): who
    approved a deploy to `environment`, in the order GitHub lists them, each once."""
    found: list[Approval] = []
    for review in reviews:
        names = [
            str(env.get("name", "")) for env in review.get("environments") or [] if isinstance(env, dict)
        ]
        login = str((review.get("user") or {}).get("login", ""))
        if review.get("state") != "approved" or environment not in names or not login:
            continue
        if login not in [a.user for a in found]:
            found.append(Approval(user=login, comment=_one_line(str(review.get("comment") or ""))))
    return found


def build_record(values: Mapping[str, Any]) -> Record:
    """A validated record, or ChangeLogError naming the field, the value and what is allowed."""
    try:
        return Record.model_validate(values)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: got "
            f"{'(missing)' if e['type'] == 'missing' else shown(e.get('input'))}; "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in error.errors()
        ]
        raise ChangeLogError(f"[{RULE_ID}] not a change-log record: " + "; ".join(problems)) from None


def _safe_json(document: Mapping[str, Any]) -> str:
    # '<' and '>' escaped: a comment in the record can never close the HTML comment.
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def _approvers(record: Record) -> str:
    if not record.approved_by:
        return "no approval recorded"
    return ", ".join(f"{a.user}" + (f' ("{a.comment}")' if a.comment else "") for a in record.approved_by)


def render_entry(record: Record) -> str:
    """The markdown entry appended to the change-log file."""
    e = record.evidence
    lines = [
        f"## {clock.iso(record.recorded_at)} {record.environment} {record.version}",
        "",
        f"- Image: `{record.image}`",
        f"- Commits: `{record.commit_range}`",
        f"- Release notes: {record.release_notes}",
        f"- Evidence: parity `{e.parity_root_hash}`, analysis {e.analysis}, validation window "
        f"{clock.iso(e.window_start)}..{clock.iso(e.window_end)}, run {e.run}",
        f"- Deployment window: {record.deployment_window or '(not recorded)'}",
        f"- Approved by: {_approvers(record).replace('`', chr(39))}",
        "",
        f"{MARKER}{_safe_json(record.document())} -->",
        "",
    ]
    return "\n".join(lines)


def append(text: str | None, record: Record) -> str:
    """The file with `record` appended (a new file starts with its header)."""
    base = text if text else FILE_HEADER
    return base.rstrip("\n") + "\n\n" + render_entry(record)


def parse_file(text: str) -> list[Record]:
    """Every record of a change-log file, in file order; a damaged entry is an error, not skipped."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith(MARKER):
            continue
        body = line[len(MARKER) :].removesuffix(" -->")
        try:
            records.append(build_record(json.loads(body)))
        except (ValueError, ChangeLogError) as error:
            raise ChangeLogError(f"the change log's line {number} holds no valid record: {error}") from None
    return records


def record_from_deployment(deployment: Mapping[str, Any]) -> Record | None:
    """The record a GitHub deployment of task `changelog` carries in its payload."""
    if deployment.get("task") != DEPLOYMENT_TASK:
        return None
    payload = deployment.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    return build_record(payload) if isinstance(payload, dict) else None


def merged(*sources: Iterable[Record]) -> list[Record]:
    """Records of every source, each deploy once (by environment, run and image), oldest first."""
    seen: dict[tuple[str, str, str], Record] = {}
    for records in sources:
        for record in records:
            seen.setdefault((record.environment, record.evidence.run, record.image), record)
    return sorted(seen.values(), key=lambda r: (r.recorded_at, r.environment))


def render_text(records: Sequence[Record]) -> str:
    if not records:
        return "no deployment recorded in the change log\n"
    blocks = []
    for r in records:
        e = r.evidence
        blocks.append(
            "\n".join(
                [
                    f"{clock.iso(r.recorded_at)}  {r.environment}  {r.version}",
                    f"  image      {r.image}",
                    f"  commits    {r.commit_range}",
                    f"  notes      {r.release_notes}",
                    f"  evidence   parity {e.parity_root_hash}, analysis {e.analysis}, "
                    f"window {clock.iso(e.window_start)}..{clock.iso(e.window_end)}",
                    f"  run        {e.run}",
                    f"  window     {r.deployment_window or '(not recorded)'}",
                    f"  approved   {_approvers(r)}",
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"


def render_json(records: Sequence[Record]) -> str:
    return json.dumps([r.document() for r in records], indent=2, sort_keys=True) + "\n"


# -- reading GitHub ------------------------------------------------------------------------------


class ChangeLogSource(Protocol):
    """What `gate changelog` reads; RestSource in production, a fake in tests."""

    def file(self, repository: str, path: str, branch: str) -> str | None:
        """The file's text on the branch; None when the file or the branch does not exist."""
        ...

    def deployments(self, repository: str, environment: str, task: str) -> list[dict[str, Any]]:
        """The repository's deployments of `environment` and `task`, newest first."""
        ...


class RestSource:
    """The GitHub REST API with GITHUB_TOKEN (or GH_TOKEN): contents read, deployments read."""

    def __init__(self, token: str, api_url: str = "https://api.github.com") -> None:
        self.token, self.api_url = token, api_url.rstrip("/")

    def _get(self, path: str) -> Any:
        try:
            return githubapi.get_json(self.api_url, self.token, path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise GitHubUnreachable(f"GitHub answered {error.code} for GET {path}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            raise GitHubUnreachable(f"cannot reach GitHub for GET {path}: {error}") from None

    def file(self, repository: str, path: str, branch: str) -> str | None:
        quoted = urllib.parse.quote(path)
        found = self._get(f"/repos/{repository}/contents/{quoted}?ref={urllib.parse.quote(branch)}")
        if not isinstance(found, dict) or "content" not in found:
            return None
        return base64.b64decode(str(found["content"])).decode("utf-8")

    def deployments(self, repository: str, environment: str, task: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"environment": environment, "task": task, "per_page": 100})
        found = self._get(f"/repos/{repository}/deployments?{query}")
        return [d for d in found or [] if isinstance(d, dict)]


def source_from_environment() -> RestSource:
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise ChangeLogError(
            "reading the change log needs GITHUB_TOKEN (or GH_TOKEN): contents and deployments read"
        )
    return RestSource(token, os.environ.get("GITHUB_API_URL", "https://api.github.com"))


def read_log(
    source: ChangeLogSource,
    repository: str,
    *,
    file: str | None,
    branch: str,
    github_deployments: bool,
    environment: str,
) -> list[Record]:
    from_file = parse_file(source.file(repository, file, branch) or "") if file else []
    from_deployments: list[Record] = []
    if github_deployments:
        for deployment in source.deployments(repository, environment, DEPLOYMENT_TASK):
            record = record_from_deployment(deployment)
            if record is not None:
                from_deployments.append(record)
    return merged(from_file, from_deployments)


# -- `python -m gate changelog` ------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], project_dir: Path) -> None:
    command = commands.add_parser(
        "changelog", help="print the change log of production deploys (GATE-DP-20); `record` renders one"
    )
    command.add_argument("--repository", help="owner/name of the gated repository")
    command.add_argument("--format", choices=("text", "json"), default="text")
    command.add_argument(
        "--stack", default="prod", help="the stack whose changeLog setting is read (default: prod)"
    )
    command.add_argument("--project-dir", type=Path, default=project_dir)
    verbs = command.add_subparsers(dest="changelog_command")
    record = verbs.add_parser("record", help="render one record (deploy.yml's change log job)")
    for name in ("environment", "version", "image", "commit-range", "release-notes"):
        record.add_argument(f"--{name}", required=True)
    for name in ("parity-root-hash", "analysis", "window-start", "window-end", "run-url"):
        record.add_argument(f"--{name}", required=True)
    record.add_argument("--deployment-window", default="", help="the window text the release job reported")
    record.add_argument("--approvals", default="[]", help="the run's approvals as GitHub lists them (JSON)")
    record.add_argument("--out", type=Path, required=True, help="write {record, entry} as JSON here")


def record_command(args: argparse.Namespace) -> int:
    try:
        reviews = json.loads(args.approvals or "[]")
    except ValueError:
        raise ChangeLogError(
            f"--approvals: got {args.approvals[:80]!r}; allowed: the approvals JSON GitHub returns"
        ) from None
    if not isinstance(reviews, list):
        raise ChangeLogError("--approvals: allowed: a JSON list (GET .../actions/runs/{id}/approvals)")
    record = build_record(
        {
            "environment": args.environment,
            "version": args.version,
            "image": args.image,
            "commitRange": args.commit_range,
            "releaseNotes": args.release_notes,
            "evidence": {
                "parityRootHash": args.parity_root_hash,
                "analysis": args.analysis,
                "windowStart": args.window_start,
                "windowEnd": args.window_end,
                "run": args.run_url,
            },
            "deploymentWindow": _one_line(args.deployment_window),
            "approvedBy": [a.model_dump() for a in approvals_from_reviews(reviews, args.environment)],
            "recordedAt": clock.iso(clock.now(exact=True)),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"record": record.document(), "entry": render_entry(record), "header": FILE_HEADER}
    args.out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"change-log record of {record.environment} {record.version} ({record.image}) -> {args.out}")
    return 0


def command(args: argparse.Namespace, source: ChangeLogSource | None) -> int:
    if args.changelog_command == "record":
        return record_command(args)
    from gate.promotion.promote import stack_file_policy  # noqa: PLC0415 - the loader only when it is needed

    if not args.repository:
        raise ChangeLogError("changelog: --repository owner/name is required")
    try:
        repository = PipelineRun(repository=args.repository, run_id=1).repository
    except ValidationError:
        raise ChangeLogError(f"--repository: got {args.repository!r}; allowed: owner/name") from None
    policy = stack_file_policy(args.project_dir, args.stack)
    settings = policy.change_log
    records = read_log(
        source or source_from_environment(),
        repository,
        file=settings.file,
        branch=settings.branch,
        github_deployments=settings.github_deployments,
        environment=policy.environments[-1].name,
    )
    print(render_json(records) if args.format == "json" else render_text(records), end="")
    return 0
