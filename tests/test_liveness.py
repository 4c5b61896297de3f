"""GATE-M9-03, check liveness (gate/github/liveness.py): every required check is reported on every PR.

The good fixtures are the gate's own workflows; each broken fixture is one way a required check ends
up "Expected — waiting for status to be reported" forever, or passes without running.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.github import liveness
from gate.github.liveness import (
    PULL_REQUEST,
    Gap,
    Reporter,
    Violation,
    check_liveness,
    reported_checks,
)
from gate.policy.memo import Bounded

FIXTURES = Path(__file__).parent / "fixtures" / "liveness"
REPO = "acme/aos"
PROTECTED = ("main", "release/*")
# The catalogue's checks that run on every pull request (infra-plan is path-filtered by design).
CATALOGUE = (
    "unit-tests-python",
    "unit-tests-javascript",
    "static-checks-python",
    "static-checks-javascript",
    "determinism-cross-language-parity",
    "determinism-canonical-json",
    "determinism-root-hash",
    "e2e-parity",
    "security-scan",
    "schema-change",
)


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def good() -> dict[str, dict[Any, Any]]:
    return {path.name: _load(path) for path in sorted((FIXTURES / "good").glob("*.yml"))}


def broken(name: str) -> dict[str, dict[Any, Any]]:
    return {name: _load(FIXTURES / "broken" / name)}


def required(*checks: str, branches: tuple[str, ...] = PROTECTED) -> dict[str, list[str]]:
    return {branch: list(checks) for branch in branches}


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, [str(v) for v in violations]
    return violations[0]


# --- the good set ---------------------------------------------------------------------------------


def test_good_workflows_report_every_required_check_on_prs_and_merge_groups() -> None:
    assert check_liveness(REPO, required(*CATALOGUE), good(), merge_queue=True) == []


def test_reporters_name_the_workflow_and_job() -> None:
    checks = reported_checks(good(), branch="release/*", event=PULL_REQUEST).checks

    assert checks["security-scan"] == Reporter("security-scan.yml", "trivy")
    # needs two jobs, but `!cancelled()` runs it whatever they did
    assert checks["determinism-root-hash"] == Reporter("determinism-check.yml", "root-hash")


# --- broken fixtures, one rule each ---------------------------------------------------------------


def test_a_renamed_job_no_longer_reports_the_required_name() -> None:
    violations = check_liveness(REPO, required("unit-tests-python"), broken("renamed-job.yml"))

    assert [v.branch for v in violations] == ["main", "release/*"]
    assert violations[0].reason.startswith("no workflow job reports it on pull_request")
    assert "job 'unit-tests-python' in renamed-job.yml reports 'Unit tests (Python)' instead" in str(
        violations[0]
    )


@pytest.mark.parametrize(
    ("fixture", "check", "key"),
    [("path-filtered.yml", "infra-plan", "paths"), ("paths-ignore.yml", "unit-tests-python", "paths-ignore")],
)
def test_a_path_filtered_workflow_can_leave_its_checks_unreported(fixture: str, check: str, key: str) -> None:
    violation = only(check_liveness(REPO, required(check, branches=("main",)), broken(fixture)))

    assert violation.reason.startswith(f"workflow {fixture} filters pull_request by {key}, ")


def test_a_matrix_job_reports_one_check_per_combination_and_never_its_bare_name() -> None:
    violation = only(check_liveness(REPO, required("unit-tests", branches=("main",)), broken("matrix.yml")))

    assert "reports 'unit-tests (3.11)', 'unit-tests (3.12)' instead" in violation.reason
    assert (
        check_liveness(REPO, required("unit-tests (3.11)", "unit-tests (3.12)"), broken("matrix.yml")) == []
    )


def test_matrix_names_follow_githubs_include_exclude_and_expression_rules() -> None:
    checks = reported_checks(broken("matrix.yml"), branch="main", event=PULL_REQUEST).checks

    assert sorted(name for name in checks if not name.startswith("unit-tests")) == [
        "compat (macos-latest, 22)",  # an include entry that fits no combination is its own
        "compat (ubuntu-latest, 18)",
        "compat (ubuntu-latest, 20, true)",  # extended by an include entry
        "compat (windows-latest, 20)",  # (windows-latest, 18) is excluded
        "smoke on macos-latest",  # the name places the matrix value itself: nothing appended
        "smoke on ubuntu-latest",
    ]


def test_an_include_only_matrix_makes_one_check_per_entry() -> None:
    # GitHub's documented example: includes extend original combinations, never each other.
    job = {
        "name": "test",
        "strategy": {
            "matrix": {
                "fruit": ["apple", "pear"],
                "animal": ["cat", "dog"],
                "include": [
                    {"color": "green"},
                    {"color": "pink", "animal": "cat"},
                    {"fruit": "apple", "shape": "circle"},
                    {"fruit": "banana"},
                    {"fruit": "banana", "animal": "cat"},
                ],
            }
        },
    }
    workflows = {"ci.yml": {True: "pull_request", "jobs": {"test": job}}}

    assert list(reported_checks(workflows, branch="main", event=PULL_REQUEST).checks) == [
        "test (apple, cat, pink, circle)",
        "test (apple, dog, green, circle)",
        "test (pear, cat, pink)",
        "test (pear, dog, green)",
        "test (banana)",
        "test (banana, cat)",
    ]


def test_a_job_that_only_runs_on_push_is_skipped_on_pull_requests() -> None:
    violation = only(
        check_liveness(REPO, required("e2e-parity", branches=("main",)), broken("push-only-job.yml"))
    )

    assert violation.reason == (
        "job 'e2e-parity' in push-only-job.yml is skipped unless `if: github.event_name == 'push'` holds "
        "(a skipped job passes a required check without running)"
    )


def test_a_job_that_needs_a_conditionally_skipped_job_is_skipped_with_it() -> None:
    checks = required("e2e-parity", "e2e-report", branches=("main",))
    violation = only(check_liveness(REPO, checks, broken("needs-skipped.yml")))

    # e2e-report runs `always()`, so only e2e-parity inherits the skip
    assert violation.check == "e2e-parity"
    assert violation.reason.startswith("job 'e2e-parity' in needs-skipped.yml needs 'staging': job 'staging'")


def test_a_workflow_for_main_only_misses_the_protected_release_branches() -> None:
    violation = only(check_liveness(REPO, required("unit-tests-python"), broken("main-only.yml")))

    assert violation.branch == "release/*"
    assert violation.reason == (
        "workflow main-only.yml does not run on pull_request into 'release/x', which 'release/*' matches "
        "(branches: [main])"
    )


def test_branches_ignore_on_release_misses_the_protected_release_branches() -> None:
    violation = only(check_liveness(REPO, required("unit-tests-python"), broken("ignores-release.yml")))

    assert violation.branch == "release/*"
    assert "(branches-ignore: [release/**])" in violation.reason


def test_one_release_branch_does_not_cover_the_release_pattern() -> None:
    assert only(check_liveness(REPO, required("unit-tests-python"), broken("single-release.yml"))).branch == (
        "release/*"
    )
    release_v1 = required("unit-tests-python", branches=("main", "release/v1"))
    assert check_liveness(REPO, release_v1, broken("single-release.yml")) == []


def test_an_external_check_is_trusted_only_when_declared() -> None:
    checks = required("sonarcloud", branches=("main",))

    assert check_liveness(REPO, checks, good(), external=["sonarcloud"]) == []
    assert only(check_liveness(REPO, checks, good())).reason == (
        "no workflow job reports it on pull_request, and it is not declared as reported externally"
    )


def test_a_merge_queue_needs_the_merge_group_trigger() -> None:
    checks = required("unit-tests-python", branches=("main",))

    assert check_liveness(REPO, checks, broken("no-merge-group.yml")) == []
    violation = only(check_liveness(REPO, checks, broken("no-merge-group.yml"), merge_queue=True))
    assert (
        violation.reason
        == "workflow no-merge-group.yml does not run on merge_group (it runs on: pull_request, push)"
    )


def test_merge_group_branch_filters_are_checked_too() -> None:
    workflows = {
        "ci.yml": {True: {"pull_request": None, "merge_group": {"branches": ["main"]}}, "jobs": {"t": {}}}
    }

    violation = only(check_liveness(REPO, required("t"), workflows, merge_queue=True))
    assert violation.branch == "release/*"
    assert "does not run on merge_group into 'release/x'" in violation.reason


def test_the_on_key_read_as_true_by_pyyaml_is_the_trigger() -> None:
    document = broken("main-only.yml")["main-only.yml"]
    assert True in document and "on" not in document  # YAML 1.1: `on` is a boolean
    as_string = {("on" if key is True else key): value for key, value in document.items()}

    for workflow in (document, as_string):
        checks = reported_checks({"ci.yml": workflow}, branch="main", event=PULL_REQUEST).checks
        assert checks["unit-tests-python"] == Reporter("ci.yml", "unit-tests-python")


def test_a_dispatch_only_workflow_never_runs_on_pull_requests() -> None:
    violation = only(
        check_liveness(REPO, required("security-scan", branches=("main",)), broken("dispatch-only.yml"))
    )

    assert violation.reason == (
        "workflow dispatch-only.yml does not run on pull_request "
        "(it runs on: workflow_call, workflow_dispatch)"
    )


def test_a_reusable_workflow_job_is_never_proven() -> None:
    checks = required("e2e-parity", "e2e-parity / run", branches=("main",))
    violations = check_liveness(REPO, checks, broken("reusable.yml"))

    assert [v.check for v in violations] == ["e2e-parity", "e2e-parity / run"]
    hint = "job 'e2e-parity' in reusable.yml might report it, but it calls the reusable workflow"
    assert all(hint in violation.reason for violation in violations)


def test_a_name_computed_at_run_time_cannot_be_matched() -> None:
    checks = required("unit-tests-python", branches=("main",))
    violation = only(check_liveness(REPO, checks, broken("computed-name.yml")))

    name = "unit-tests-${{ github.event.repository.language }}"
    assert f"job 'unit-tests' in computed-name.yml might report it, but its name '{name}' is computed" in (
        violation.reason
    )


def test_pull_request_types_without_synchronize_leave_new_commits_unchecked() -> None:
    violation = only(
        check_liveness(REPO, required("unit-tests-python", branches=("main",)), broken("pr-types.yml"))
    )

    assert violation.reason == (
        "workflow pr-types.yml runs on pull_request only for types [opened, labeled], "
        "so a synchronize or reopened event leaves it unreported"
    )


def test_a_workflow_github_rejects_reports_nothing() -> None:
    checks = required("unit-tests-python", "static-checks-python", branches=("main",))
    violations = check_liveness(REPO, checks, broken("unknown-need.yml"))

    assert {v.reason for v in violations} == {
        "GitHub rejects workflow unknown-need.yml: job 'static-checks-python' needs unknown 'build'"
    }
    assert len(violations) == 2


def test_jobs_that_need_each_other_make_github_reject_the_workflow() -> None:
    jobs = {"a": {"needs": "b"}, "b": {"needs": ["a"]}, "c": {}}
    workflows = {"ci.yml": {True: "pull_request", "jobs": jobs}}

    violation = only(check_liveness(REPO, {"main": ["c"]}, workflows))
    assert violation.reason.startswith("GitHub rejects workflow ci.yml: its jobs need each other (")


def test_one_reliable_reporter_is_enough_for_a_duplicated_name() -> None:
    # Sorted first, the skipped duplicate must not hide the reliable job in e2e-parity-check.yml.
    workflows = {"0-push-only.yml": broken("push-only-job.yml")["push-only-job.yml"], **good()}

    assert check_liveness(REPO, required("e2e-parity"), workflows) == []
    alone = reported_checks(broken("push-only-job.yml"), branch="main", event=PULL_REQUEST).checks
    together = reported_checks(workflows, branch="main", event=PULL_REQUEST).checks
    assert isinstance(alone["e2e-parity"], Gap)
    assert together["e2e-parity"] == Reporter("e2e-parity-check.yml", "e2e-parity")


# --- messages and order ---------------------------------------------------------------------------

BROKEN_CASES = [
    ("renamed-job.yml", "unit-tests-python", False),
    ("path-filtered.yml", "infra-plan", False),
    ("matrix.yml", "unit-tests", False),
    ("push-only-job.yml", "e2e-parity", False),
    ("needs-skipped.yml", "e2e-parity", False),
    ("main-only.yml", "unit-tests-python", False),
    ("ignores-release.yml", "unit-tests-python", False),
    ("dispatch-only.yml", "security-scan", False),
    ("no-merge-group.yml", "unit-tests-python", True),
    ("reusable.yml", "e2e-parity", False),
    ("computed-name.yml", "unit-tests-python", False),
    ("pr-types.yml", "unit-tests-python", False),
    ("unknown-need.yml", "static-checks-python", False),
]


@pytest.mark.parametrize(("fixture", "check", "merge_queue"), BROKEN_CASES)
def test_every_violation_names_repository_branch_and_check(
    fixture: str, check: str, merge_queue: bool
) -> None:
    violations = check_liveness(REPO, required(check), broken(fixture), merge_queue=merge_queue)

    assert violations
    for violation in violations:
        assert str(violation).startswith(
            f"acme/aos: branch '{violation.branch}' requires check '{check}' but "
        )
        assert violation.branch in PROTECTED


def test_events_that_fail_alike_share_one_reason() -> None:
    violation = only(
        check_liveness(REPO, required("sonarcloud", branches=("main",)), good(), merge_queue=True)
    )

    assert violation.reason == (
        "no workflow job reports it on pull_request or merge_group, "
        "and it is not declared as reported externally"
    )


def test_violations_are_sorted_whatever_the_input_order() -> None:
    workflows = {**broken("main-only.yml"), **broken("push-only-job.yml"), **broken("matrix.yml")}
    checks = {"release/*": ["unit-tests", "e2e-parity", "unit-tests-python"], "main": ["zz", "e2e-parity"]}
    backwards = {branch: list(reversed(names)) for branch, names in reversed(checks.items())}

    violations = check_liveness(REPO, checks, workflows)
    assert violations == sorted(violations, key=lambda v: (v.repository, v.branch, v.check))
    assert check_liveness(REPO, backwards, dict(reversed(workflows.items()))) == violations
    assert [(v.branch, v.check) for v in violations] == [
        ("main", "e2e-parity"),
        ("main", "zz"),
        ("release/*", "e2e-parity"),
        ("release/*", "unit-tests"),
        ("release/*", "unit-tests-python"),
    ]


# --- GitHub's branch filter semantics -------------------------------------------------------------


@pytest.mark.parametrize(
    ("protected", "branches", "covered"),
    [
        ("main", ["main"], True),
        ("main", ["*"], True),
        ("main", ["**/main"], True),  # `**/` is zero or more directories
        ("main", [], False),
        ("release/*", ["release/**"], True),
        ("release/*", ["**"], True),
        ("release/*", ["release/*"], True),
        ("release/*", ["*"], False),  # `*` does not match `/`
        ("release/*", ["release/v1"], False),
        ("release/*", ["release/[0-9]*"], False),
        ("release/*", ["**", "!release/v1"], False),  # `!` excludes what earlier patterns included
        ("release/*", ["**", "!release/v1", "release/v1"], True),  # the last match wins
        ("release/*", ["release/v?*"], True),  # `?` makes the `v` optional, it is not a character
        ("release/**", ["release/*"], False),
    ],
)
def test_branch_filters_must_cover_every_branch_the_protection_matches(
    protected: str, branches: list[str], covered: bool
) -> None:
    workflows = {"ci.yml": {True: {"pull_request": {"branches": branches}}, "jobs": {"t": {}}}}

    assert (check_liveness(REPO, {protected: ["t"]}, workflows) == []) is covered


@pytest.mark.parametrize(
    ("protected", "ignored", "covered"),
    [
        ("main", ["release/**"], True),
        ("release/*", ["release/**"], False),
        ("release/*", ["release/v1"], False),
        ("release/*", ["feature/*"], True),
    ],
)
def test_branches_ignore_must_spare_every_branch_the_protection_matches(
    protected: str, ignored: list[str], covered: bool
) -> None:
    workflows = {"ci.yml": {True: {"pull_request": {"branches-ignore": ignored}}, "jobs": {"t": {}}}}

    assert (check_liveness(REPO, {protected: ["t"]}, workflows) == []) is covered


def test_both_branch_filters_on_one_event_make_github_reject_the_workflow() -> None:
    trigger = {"pull_request": {"branches": ["main"], "branches-ignore": ["dev"]}}
    workflows = {"ci.yml": {True: trigger, "jobs": {"t": {}}}}

    assert only(check_liveness(REPO, {"main": ["t"]}, workflows)).reason == (
        "GitHub rejects workflow ci.yml: pull_request has both branches and branches-ignore"
    )


# -- issue 14: answers shared between workflows that read alike --------------------------------------


def _one_job(**job: Any) -> dict[str, dict[Any, Any]]:
    return {"ci.yml": {True: {"pull_request": None}, "jobs": {"test": {"runs-on": "ubuntu-latest", **job}}}}


def test_answers_are_shared_only_between_workflows_that_read_alike() -> None:
    # Asked in this order, each after a look-alike was answered: a memo keyed too loosely would
    # hand the later question the earlier answer.
    runs = check_liveness("acme/a", {"main": ["test"]}, _one_job())
    skipped = check_liveness("acme/b", {"main": ["test"]}, _one_job(**{"if": "github.actor == 'x'"}))
    named_null = check_liveness("acme/c", {"main": ["test"]}, _one_job(name=None))
    renamed = check_liveness("acme/d", {"main": ["test"]}, _one_job(name="unit"))
    runs_again = check_liveness("acme/e", {"main": ["test"]}, _one_job())
    assert runs == runs_again == []
    assert "is skipped unless" in only(skipped).reason
    assert only(named_null).check == only(renamed).check == "test"
    assert "no workflow job reports it" in only(renamed).reason
    only_main = {"ci.yml": {True: {"pull_request": {"branches": ["main"]}}, "jobs": {"test": {}}}}
    assert check_liveness("acme/f", {"main": ["test"]}, only_main) == []
    assert (
        "does not run on pull_request into"
        in only(check_liveness("acme/f", {"dev": ["test"]}, only_main)).reason
    )


def test_the_shared_answers_stay_bounded() -> None:
    limit = liveness._ANSWERS_KEPT
    answers: Bounded[int] = Bounded(limit)
    for index in range(limit + 10):
        assert answers.get(str(index), functools.partial(int, index)) == index
    assert len(answers) <= limit


def test_a_document_asked_again_is_answered_from_its_own_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plans share one parsed document between repositories that commit the same text: asked again,
    # it is not read again; an equal but distinct document is, and gets the same answer.
    calls: list[str] = []
    real = liveness._job_verdicts

    def counted(workflow: str, doc: Any, branch: str, event: str) -> Any:
        calls.append(workflow)
        return real(workflow, doc, branch, event)

    monkeypatch.setattr(liveness, "_job_verdicts", counted)
    workflows = _one_job(name="unit")
    first = check_liveness("acme/a", {"main": ["unit"]}, workflows)
    again = check_liveness("acme/b", {"main": ["unit"]}, workflows)
    assert calls == ["ci.yml"]
    look_alike = check_liveness("acme/c", {"main": ["unit"]}, _one_job(name="unit"))
    assert calls == ["ci.yml", "ci.yml"]
    assert first == again == look_alike == []
    # Another branch or event is another question.
    check_liveness("acme/a", {"dev": ["unit"]}, workflows, merge_queue=True)
    assert len(calls) == 4


def test_an_entry_holds_its_document_and_answers_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    # A document's id may be reused once it is gone; the entry keeps it alive, and an entry whose
    # document is not the one asked about (an id reused elsewhere) is not its answer.
    monkeypatch.setattr(liveness, "_REPORTS_BY_DOCUMENT", {})
    skipped = _one_job(**{"if": "github.actor == 'x'"})["ci.yml"]
    runs = _one_job()["ci.yml"]
    key = ("ci.yml", id(runs), "main", liveness.PULL_REQUEST)
    planted = liveness._workflow_reports("ci.yml", skipped, "main", liveness.PULL_REQUEST)
    liveness._REPORTS_BY_DOCUMENT[key] = (skipped, planted)
    assert check_liveness("acme/a", {"main": ["test"]}, {"ci.yml": runs}) == []
    assert liveness._REPORTS_BY_DOCUMENT[key][0] is runs


def test_the_answers_per_document_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "_ANSWERS_KEPT", 5)
    monkeypatch.setattr(liveness, "_REPORTS_BY_DOCUMENT", {})
    for index in range(12):
        check_liveness(f"acme/{index}", {"main": ["test"]}, _one_job())
        assert len(liveness._REPORTS_BY_DOCUMENT) <= 5
