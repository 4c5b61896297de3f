"""GATE-DP-19, the deployment window (DP §Deployment Process: "Deployment window communicated to
stakeholders"): whether production may be deployed at a moment, why not, and when it may next.

Pure: the moment comes in, a verdict comes out. Days, hours and freezes are read on the window's
local wall clock (zoneinfo), so a window of 09:00-16:00 Europe/Berlin opens at 08:00Z in winter
and 07:00Z in summer, and a local time skipped by a DST change is never an opening.

`python -m gate window --stack S [--at ISO]` reads the stack file only (no Pulumi): exit 0 inside,
1 outside (saying why and when the window opens next), 2 bad input. deploy.yml's `release` job runs
it before production; `gate deploy` checks it again for the production stack unless the release
is an emergency deploy (`gate deploy --emergency`, gate/cli/delivery.py), so a hand-run deploy
cannot dodge it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from gate import clock
from gate.errors import GateError, UsageError
from gate.policy.model import WEEKDAYS, DeploymentWindow, Freeze, GatePolicy

RULE_ID = "GATE-DP-19"
# How far ahead an opening is looked for: a year of freezes at most, then the window never opens.
HORIZON_DAYS = 400
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class WindowRefused(GateError):
    """A production deploy outside the deployment window (exit 2 from `gate deploy`)."""


@dataclass(frozen=True)
class Verdict:
    inside: bool
    reason: str
    at: datetime  # the moment judged (UTC)
    next_opening: datetime | None  # UTC; None inside, or when no opening is within the horizon

    def render(self) -> str:
        if self.inside or self.next_opening is None:
            return self.reason
        return f"{self.reason}; the window opens next at {clock.iso(self.next_opening)}"


def hours_of(window: DeploymentWindow) -> tuple[time, time]:
    """(start, end) local times; an end of 24:00 is the end of the day."""
    start_text, end_text = window.hours.split("-")
    start = time.fromisoformat(start_text)
    end = time.max if end_text == "24:00" else time.fromisoformat(end_text)
    return start, end


def describe(window: DeploymentWindow) -> str:
    """'Mon, Tue, Wed, Thu 09:00-16:00 UTC' (and the freezes' count)."""
    text = f"{', '.join(window.days)} {window.hours} {window.time_zone}"
    return text + (f", {len(window.freezes)} freeze(s)" if window.freezes else "")


def _freeze_on(window: DeploymentWindow, day: date) -> Freeze | None:
    return next((f for f in window.freezes if f.start <= day <= f.end), None)


def _exists(local: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive local wall-clock time exists in the zone (not skipped by a DST change)."""
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


def _opening(window: DeploymentWindow, day: date, zone: ZoneInfo) -> datetime | None:
    """The UTC moment the window opens on local `day`, if it opens that day at all."""
    if WEEKDAYS[day.weekday()] not in window.days or _freeze_on(window, day) is not None:
        return None
    start, end = hours_of(window)
    local = datetime.combine(day, start)
    # A start skipped by a DST change (e.g. 02:30 on a spring-forward night): the window opens at
    # the first local minute that exists after it, if still before the end.
    while not _exists(local, zone) and local.time() < end:
        local += timedelta(minutes=1)
    if local.time() >= end:
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)


def evaluate(window: DeploymentWindow, at: datetime) -> Verdict:
    """Inside or outside at `at` (an aware time), why, and the next opening when outside."""
    if at.tzinfo is None:
        raise ValueError("evaluate needs an aware time")
    at = at.astimezone(UTC)
    zone = ZoneInfo(window.time_zone)
    local = at.astimezone(zone)
    day = local.date()
    start, end = hours_of(window)
    shown = f"{DAY_NAMES[day.weekday()]} {day.isoformat()} {local.strftime('%H:%M')} {window.time_zone}"
    freeze = _freeze_on(window, day)
    if freeze is not None:
        why = f"{day.isoformat()} is in the freeze {freeze.start}..{freeze.end} ({freeze.reason})"
    elif WEEKDAYS[day.weekday()] not in window.days:
        why = f"{DAY_NAMES[day.weekday()]} is not a deployment day ({', '.join(window.days)})"
    elif not start <= local.time().replace(tzinfo=None) < end:
        why = f"{local.strftime('%H:%M')} is outside the hours {window.hours}"
    else:
        return Verdict(
            True, f"[{RULE_ID}] inside the deployment window ({describe(window)}): {shown}", at, None
        )
    reason = f"[{RULE_ID}] outside the deployment window ({describe(window)}): {shown}: {why}"
    return Verdict(False, reason, at, next_opening(window, at))


def next_opening(window: DeploymentWindow, at: datetime) -> datetime | None:
    """The first opening after `at` (UTC), within HORIZON_DAYS."""
    zone = ZoneInfo(window.time_zone)
    first = at.astimezone(zone).date()
    for offset in range(HORIZON_DAYS):
        opening = _opening(window, first + timedelta(days=offset), zone)
        if opening is not None and opening > at:
            return opening
    return None


def enforce(policy: GatePolicy, at: datetime, *, emergency: bool) -> Verdict | None:
    """`gate deploy`'s check: production outside its window is refused unless the release is an
    emergency (DP §Emergency / Hotfix Deployments). None when the rule does not apply."""
    if not policy.is_production or emergency:
        return None
    verdict = evaluate(policy.deployment_window, at)
    if not verdict.inside:
        raise WindowRefused(
            f"{verdict.render()}. A production deploy outside the window goes through the emergency "
            "path, not around it."
        )
    return verdict


def enforce_for_stack(project_dir: Path, stack: str, at: datetime, *, emergency: bool = False) -> None:
    """The hook `gate deploy` calls before it touches the stack: the stack file's policy. Only the
    deploy's own `--emergency` (a verified claim, gate/promotion/emergency.py) lifts the window: a release
    committed in the stack file no longer deploys once the stack has state (gate/promotion/delivery.py), so a
    committed `release.emergency` must not let an ordinary deploy dodge it."""
    from gate.promotion.promote import stack_file_policy  # noqa: PLC0415 - the loader only when it is needed

    policy = stack_file_policy(project_dir, stack)
    verdict = enforce(policy, at, emergency=emergency)
    if verdict is not None:
        print(verdict.render())


# -- `python -m gate window` -------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], project_dir: Path) -> None:
    command = commands.add_parser(
        "window", help="whether a stack's deployment window is open (exit 0), closed (1); GATE-DP-19"
    )
    command.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.<stack>.yaml")
    command.add_argument(
        "--at",
        default=None,
        help="an ISO 8601 time with its offset, e.g. 2026-11-23T10:00:00Z (default: now)",
    )
    command.add_argument("--project-dir", type=Path, default=project_dir)


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at: got {text!r}; allowed: an ISO 8601 time such as 2026-11-23T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"--at: got {text!r}; allowed: a time with its offset, such as 2026-11-23T10:00:00Z")
    return moment


def command(args: argparse.Namespace) -> int:
    """Exit 0 inside, 1 outside; a bad stack file or --at raises GateError (exit 2; 4 for a missing file)."""
    from gate.promotion.promote import stack_file_policy  # noqa: PLC0415 - the loader only when it is needed

    at = parse_moment(args.at) if args.at else clock.now(exact=True)
    policy = stack_file_policy(args.project_dir, args.stack)
    verdict = evaluate(policy.deployment_window, at)
    print(verdict.render())
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as handle:
            handle.write(f"inside={str(verdict.inside).lower()}\n")
            handle.write(f"window={describe(policy.deployment_window)}\n")
            opening = clock.iso(verdict.next_opening) if verdict.next_opening else ""
            handle.write(f"next_opening={opening}\n")
    return 0 if verdict.inside else 1
