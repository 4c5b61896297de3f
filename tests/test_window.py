"""GATE-DP-19, the deployment window (gate/promotion/window.py): the pure verdict (inside/outside, why, next
opening, on the local wall clock across DST changes), the model's refusals, `python -m gate
window`, and `gate deploy` refusing production outside the window unless the release is an emergency.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gate.cli import delivery as delivery_cli
from gate.cli import main as cli
from gate.policy.loader import load_policy
from gate.policy.model import DeploymentWindow
from gate.promotion.window import WindowRefused, enforce, evaluate, next_opening
from tests.conftest import ROOT
from tests.test_workflows import policy

DEFAULT = DeploymentWindow()
BERLIN = DeploymentWindow(time_zone="Europe/Berlin", days=("Mon", "Tue", "Wed", "Thu", "Fri"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- the verdict ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-11-30T09:00:00Z", True),  # Monday, the first minute
        ("2026-11-30T15:59:59Z", True),
        ("2026-11-30T16:00:00Z", False),  # the end is excluded
        ("2026-11-30T08:59:59Z", False),
        ("2026-12-03T12:00:00Z", True),  # Thursday
        ("2026-12-04T12:00:00Z", False),  # Friday: not by default
        ("2026-11-28T12:00:00Z", False),  # Saturday
    ],
)
def test_the_default_window_is_monday_to_thursday_nine_to_four_utc(moment: str, inside: bool) -> None:
    assert evaluate(DEFAULT, utc(moment)).inside is inside


def test_outside_says_why_and_when_the_window_opens_next() -> None:
    verdict = evaluate(DEFAULT, utc("2026-12-04T17:30:00Z"))  # Friday evening
    assert not verdict.inside
    assert verdict.next_opening == utc("2026-12-07T09:00:00Z")  # Monday morning
    assert verdict.render() == (
        "[GATE-DP-19] outside the deployment window (Mon, Tue, Wed, Thu 09:00-16:00 UTC): "
        "Friday 2026-12-04 17:30 UTC: Friday is not a deployment day (Mon, Tue, Wed, Thu); "
        "the window opens next at 2026-12-07T09:00:00Z"
    )
    early = evaluate(DEFAULT, utc("2026-11-30T07:15:00Z"))
    assert "07:15 is outside the hours 09:00-16:00" in early.reason
    assert early.next_opening == utc("2026-11-30T09:00:00Z")  # the same day
    late = evaluate(DEFAULT, utc("2026-12-03T16:00:00Z"))  # Thursday, at the end
    assert late.next_opening == utc("2026-12-07T09:00:00Z")


def test_inside_needs_no_next_opening() -> None:
    verdict = evaluate(DEFAULT, utc("2026-12-01T10:00:00Z"))
    assert verdict.inside and verdict.next_opening is None
    assert verdict.render().startswith("[GATE-DP-19] inside the deployment window")


def test_hours_are_local_wall_clock_time_in_winter_and_in_summer() -> None:
    # 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    assert evaluate(BERLIN, utc("2026-01-13T08:00:00Z")).inside
    assert not evaluate(BERLIN, utc("2026-01-13T07:30:00Z")).inside
    assert evaluate(BERLIN, utc("2026-07-14T07:00:00Z")).inside
    assert not evaluate(BERLIN, utc("2026-07-14T14:00:00Z")).inside  # 16:00 CEST
    assert evaluate(BERLIN, utc("2026-01-13T14:30:00Z")).inside  # 15:30 CET


def test_the_next_opening_across_a_dst_change_is_at_local_nine() -> None:
    # Friday 2026-03-27 after hours; Berlin springs forward on Sunday 2026-03-29.
    assert next_opening(BERLIN, utc("2026-03-27T16:00:00Z")) == utc("2026-03-30T07:00:00Z")
    # And back on Sunday 2026-10-25: Monday opens at 08:00Z again.
    assert next_opening(BERLIN, utc("2026-10-23T16:00:00Z")) == utc("2026-10-26T08:00:00Z")


def test_a_start_skipped_by_the_clock_change_opens_at_the_first_minute_that_exists() -> None:
    every_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    # New York springs forward on 2026-03-08 at 02:00 (to 03:00 EDT): 02:30 never happens.
    window = DeploymentWindow(days=every_day, hours="02:30-04:00", time_zone="America/New_York")
    assert next_opening(window, utc("2026-03-08T05:00:00Z")) == utc("2026-03-08T07:00:00Z")  # 03:00 EDT
    # A window wholly inside the missing hour does not open that day.
    gone = DeploymentWindow(days=every_day, hours="02:00-03:00", time_zone="America/New_York")
    assert next_opening(gone, utc("2026-03-08T05:00:00Z")) == utc("2026-03-09T06:00:00Z")  # 02:00 EDT


def test_a_freeze_closes_the_window_on_its_local_days_both_included() -> None:
    window = DeploymentWindow.model_validate(
        {"freezes": [{"from": "2026-12-21", "to": "2026-12-31", "reason": "year-end freeze"}]}
    )
    verdict = evaluate(window, utc("2026-12-21T10:00:00Z"))  # a Monday, inside the hours
    assert not verdict.inside
    assert "2026-12-21 is in the freeze 2026-12-21..2026-12-31 (year-end freeze)" in verdict.reason
    assert not evaluate(window, utc("2026-12-31T10:00:00Z")).inside  # the last day included
    assert verdict.next_opening == utc("2027-01-04T09:00:00Z")  # the first Monday after it
    assert evaluate(window, utc("2026-12-17T10:00:00Z")).inside


def test_freeze_days_are_the_window_time_zones_days() -> None:
    window = DeploymentWindow.model_validate(
        {
            "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
            "timeZone": "Pacific/Auckland",
            "freezes": [{"from": "2026-12-24", "to": "2026-12-24", "reason": "Christmas Eve"}],
        }
    )
    # 2026-12-23T21:00Z is Thursday 24 December 10:00 in Auckland (NZDT): frozen there.
    assert "Christmas Eve" in evaluate(window, utc("2026-12-23T21:00:00Z")).reason


def test_a_window_that_never_opens_within_the_horizon_says_so_without_a_date() -> None:
    window = DeploymentWindow.model_validate(
        {"freezes": [{"from": "2026-01-01", "to": "2028-12-31", "reason": "moratorium"}]}
    )
    verdict = evaluate(window, utc("2026-06-01T10:00:00Z"))
    assert verdict.next_opening is None
    assert "opens next" not in verdict.render()


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate(DEFAULT, datetime(2026, 11, 30, 10, 0))  # naive: the point of the test


# -- enforcement: production only, not the emergency path -------------------------------------------


def test_production_outside_its_window_is_refused_unless_emergency() -> None:
    production = load_policy(
        {"environment": "production", "repositories": [{"name": "aos"}]}, stack="prod", github_owner="acme"
    )
    saturday = utc("2026-11-28T10:00:00Z")
    with pytest.raises(
        WindowRefused, match=r"\[GATE-DP-19\] outside the deployment window .* emergency path"
    ):
        enforce(production, saturday, emergency=False)
    assert enforce(production, saturday, emergency=True) is None
    assert enforce(policy(), saturday, emergency=False) is None  # dev: no window
    verdict = enforce(production, utc("2026-11-30T10:00:00Z"), emergency=False)
    assert verdict is not None and verdict.inside


# -- the model's refusals, through the CLI: stack file, dotted path, value, allowed -------------------


def project_with(tmp_path: Path, stack: str, body: str, environment: str = "production") -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(
        "config:\n  github:owner: acme\n"
        f"  delivery-gate:environment: {environment}\n"
        "  delivery-gate:repositories:\n    - name: aos\n" + body
    )
    return project


def window_cli(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = cli.main(["window", "--stack", "prod", "--project-dir", str(project), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bad_window_settings_are_refused_with_path_value_and_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        "  delivery-gate:deploymentWindow:\n"
        "    days: [Mon, Funday]\n"
        "    hours: '16:00-09:00'\n"
        "    timeZone: Mars/Olympus_Mons\n"
        "    freezes:\n"
        "      - {from: 2026-12-31, to: 2026-12-20, reason: holidays}\n"
        "    stakeholders: [releases]\n"
        "  delivery-gate:changeLog:\n"
        "    file: null\n"
        "    githubDeployments: false\n"
    )
    code, _, err = window_cli(project_with(tmp_path, "prod", body), capsys, "--at", "2026-11-30T10:00:00Z")
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "error: stacks/Pulumi.prod.yaml: invalid delivery-gate configuration (6 problem(s))"
    assert sorted(lines[1:]) == sorted(
        [
            "  - delivery-gate:deploymentWindow.days[1]: got 'Funday'; allowed: input should be 'Mon', "
            "'Tue', 'Wed', 'Thu', 'Fri', 'Sat' or 'Sun'",
            "  - delivery-gate:deploymentWindow.hours: got '16:00-09:00'; allowed: 'HH:MM-HH:MM' in "
            "24-hour local time, start before end, such as '09:00-16:00' "
            "(a window does not run past midnight)",
            "  - delivery-gate:deploymentWindow.timeZone: got 'Mars/Olympus_Mons'; allowed: an IANA time "
            "zone such as 'UTC', 'Europe/Berlin' or 'America/New_York'",
            "  - delivery-gate:deploymentWindow.freezes[0].to: got '2026-12-20'; allowed: a day on or "
            "after from (2026-12-31)",
            "  - delivery-gate:deploymentWindow.stakeholders[0]: got 'releases'; allowed: a Slack channel "
            "such as '#oncall'",
            "  - delivery-gate:changeLog.githubDeployments: got False; allowed: true, or a file: the "
            "change log must be kept somewhere",
        ]
    )


def test_a_change_log_on_a_protected_branch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "  delivery-gate:changeLog:\n    branch: release/log\n"
    code, _, err = window_cli(project_with(tmp_path, "prod", body), capsys)
    assert code == 2
    assert (
        "delivery-gate:changeLog.branch: got 'release/log'; is protected by the gate ('release/*' of aos); "
        "allowed: a branch the pipeline may write, such as 'delivery-log'"
    ) in err


def test_duplicate_days_and_an_empty_stakeholder_list_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"days\[2\].*must be unique"):
        DeploymentWindow.model_validate({"days": ["Mon", "Tue", "Mon"]})
    with pytest.raises(ValueError, match="at least 1"):
        DeploymentWindow.model_validate({"stakeholders": []})
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        DeploymentWindow.model_validate({"hours": "9-16"})
    assert DeploymentWindow.model_validate({"hours": "00:00-24:00"}).hours == "00:00-24:00"


# -- `python -m gate window` ----------------------------------------------------------------------


def test_the_window_command_exits_0_inside_1_outside_2_on_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(tmp_path, "prod", "")
    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    code, out, _ = window_cli(project, capsys, "--at", "2026-11-30T10:00:00Z")
    assert code == 0 and out.startswith("[GATE-DP-19] inside the deployment window")
    code, out, _ = window_cli(project, capsys, "--at", "2026-11-28T10:00:00+01:00")
    assert code == 1
    assert "Saturday is not a deployment day" in out and "opens next at 2026-11-30T09:00:00Z" in out
    assert output.read_text().splitlines()[-3:] == [
        "inside=false",
        "window=Mon, Tue, Wed, Thu 09:00-16:00 UTC",
        "next_opening=2026-11-30T09:00:00Z",
    ]
    code, _, err = window_cli(project, capsys, "--at", "2026-11-30T10:00:00")
    assert code == 2 and "--at: got '2026-11-30T10:00:00'; allowed: a time with its offset" in err
    code, _, err = window_cli(project, capsys, "--at", "monday")
    assert code == 2 and "allowed: an ISO 8601 time" in err and "Traceback" not in err


def test_the_window_command_reads_the_clock_when_no_time_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-12-02T11:00:00Z")
    code, out, _ = window_cli(project_with(tmp_path, "prod", ""), capsys)
    assert code == 0 and "Wednesday 2026-12-02 11:00 UTC" in out


# -- `gate deploy` checks it again for production -------------------------------------------------


class Untouched:
    """A stack workspace the deploy must never reach when the window refuses it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def outputs(self, stack: str) -> dict[str, Any]:
        self.calls.append(f"outputs {stack}")
        raise RuntimeError("reached the stack")

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]:
        self.calls.append(f"up {stack}")
        raise RuntimeError("reached the stack")


IMAGE = "ghcr.io/acme/aos@sha256:" + "a" * 64
EMERGENCY = (
    "  delivery-gate:release:\n"
    f"    image: {IMAGE}\n"
    "    emergency:\n"
    "      incidentId: INC-42\n"
    "      rollbackPlan: https://wiki.example.com/inc-42/rollback\n"
    "      securityScan: https://github.com/acme/aos/actions/runs/7\n"
)


class NoBackfillIssues:
    """The GitHub API with no open emergency-backfill issue (GATE-DP-17, gate/promotion/emergency.py)."""

    def get(self, path: str) -> Any:
        assert "labels=emergency-backfill" in path, path
        return []


def deploy_cli(project: Path, stack: str, workspace: Untouched) -> int:
    argv = ["deploy", "--stack", stack, "--image", IMAGE, "--project-dir", str(project)]
    argv += ["--repository", "acme/aos", "--run-id", "5"]
    return cli.main(argv, outside=delivery_cli.Outside(workspace=workspace, github=NoBackfillIssues()))


def test_a_hand_run_production_deploy_outside_the_window_is_refused_before_the_stack_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T10:00:00Z")  # a Saturday
    workspace = Untouched()
    code = deploy_cli(project_with(tmp_path, "prod", ""), "prod", workspace)
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err  # a rule violation: the policy refuses
    assert "[GATE-DP-19] outside the deployment window" in err and "emergency path" in err
    assert workspace.calls == []


def test_inside_the_window_or_for_an_emergency_the_deploy_goes_on_to_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-30T10:00:00Z")  # a Monday morning
    workspace = Untouched()
    with pytest.raises(RuntimeError, match="reached the stack"):
        deploy_cli(project_with(tmp_path / "inside", "prod", ""), "prod", workspace)
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T10:00:00Z")  # Saturday
    # Other environments are not bound by the production window.
    with pytest.raises(RuntimeError, match="reached the stack"):
        deploy_cli(project_with(tmp_path / "dev", "dev", "", environment="dev"), "dev", workspace)
    assert workspace.calls == ["outputs prod", "outputs dev"]


def test_a_committed_emergency_release_does_not_lift_the_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A committed release no longer deploys once the stack has state (gate/promotion/delivery.py), so only
    # the deploy's own verified `--emergency` (gate/promotion/emergency.py) may go outside the window.
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T10:00:00Z")  # a Saturday
    workspace = Untouched()
    code = deploy_cli(project_with(tmp_path, "prod", EMERGENCY), "prod", workspace)
    assert code == 3 and "[GATE-DP-19] outside the deployment window" in capsys.readouterr().err
    assert workspace.calls == []


# -- `gate check`: every stack agrees (deploy.yml is rendered by one, the window read from another) --


def test_stacks_that_disagree_on_the_window_or_the_change_log_are_refused() -> None:
    from gate.policy import consistency  # noqa: PLC0415

    def stack(environment: str, name: str, **values: Any) -> Any:
        base = {"environment": environment, "repositories": [{"name": "aos"}], **values}
        return load_policy(base, stack=name, github_owner="acme")

    agreeing = {
        "dev": stack("dev", "dev"),
        "staging": stack("staging", "staging"),
        "prod": stack("production", "prod"),
    }
    assert consistency.check(agreeing).problems == ()
    friday = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri"]}
    apart = {
        **agreeing,
        "prod": stack("production", "prod", deploymentWindow=friday, changeLog={"branch": "x"}),
    }
    assert consistency.check(apart).problems == (
        "[GATE-DP-19] stack prod: delivery-gate:deploymentWindow differs from stack dev's, which renders "
        "deploy.yml; allowed: the same deploymentWindow in every stack",
        "[GATE-DP-20] stack prod: delivery-gate:changeLog differs from stack dev's, which renders "
        "deploy.yml; allowed: the same changeLog in every stack",
    )
