"""`gate diff --stat / --format markdown|json / --full` on plans the real planner writes from modified
stack files: policy-relevant changes first, short names, collapsed bodies, set-like check lists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gate.cli.main import main
from gate.offline.diff import policy_changes
from tests.support.stacks import PROJECT, names

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The shipped dev stack (or the copy DELIVERY_GATE_TEST_PROJECT names) and its organisation's names.
DEV = (PROJECT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
OWNER, REPOSITORY = names().owner, names().repository
CHECKS = [
    "unit-tests-python",
    "unit-tests-javascript",
    "static-checks-python",
    "static-checks-javascript",
    "determinism-cross-language-parity",
    "determinism-canonical-json",
    "determinism-root-hash",
    "e2e-parity",
    "security-scan",
    "infra-plan",
    "schema-change",
    "release-contract",
    "release-notes",
]


def planned(tmp_path: Path, name: str, stack_file: str) -> Path:
    """The dev stack planned from `stack_file`, as `python -m gate plan` writes it."""
    project = tmp_path / name
    (project / "stacks").mkdir(parents=True)
    for file in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / file, project / file)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_file, encoding="utf-8")
    assert main(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "out")]) == 0
    return project / "out" / "dev" / "plan.json"


def with_config(extra: str) -> str:
    return DEV.replace("  delivery-gate:repositories:\n", f"{extra}  delivery-gate:repositories:\n", 1)


# Dropping e2e-parity and letting admins bypass the gate both need an approved exception.
def exceptions(*rules: str) -> str:
    return "  delivery-gate:exceptions:\n" + "".join(
        f"    - {{rule: {rule}, reason: what a reviewer must see, approvedBy: '@acme/security', "
        "expires: '2026-12-31'}\n"
        for rule in rules
    )


WITHOUT_E2E = with_config(
    "  delivery-gate:mergeGate:\n    enforceAdmins: false\n    requiredChecks:\n"
    + "".join(f"      - {c}\n" for c in CHECKS if c != "e2e-parity")
    + exceptions("GATE-NN-02", "GATE-NN-03")
)
UNPROTECTED = with_config("  delivery-gate:protectResources: false\n" + exceptions("GATE-NN-06"))
TWO_REPOSITORIES = DEV.replace(
    f"    - name: {REPOSITORY}\n", f"    - name: {REPOSITORY}\n    - name: web\n", 1
)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("plans")
    env = pytest.MonkeyPatch()
    env.setenv("DELIVERY_GATE_TODAY", "2026-11-28")  # the exceptions' expiry is judged against it
    try:
        return {
            "base": planned(tmp, "base", DEV),
            "without-e2e": planned(tmp, "without-e2e", WITHOUT_E2E),
            "unprotected": planned(tmp, "unprotected", UNPROTECTED),
            "two": planned(tmp, "two", TWO_REPOSITORIES),
        }
    finally:
        env.undo()


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    capsys.readouterr()
    assert main(["diff", *(str(a) for a in args)]) == 0
    return capsys.readouterr().out


def test_a_dropped_check_is_the_first_policy_change(
    plans: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = run(capsys, plans["base"], plans["without-e2e"], "--format", "markdown")
    summary, policy = text.index("to change"), text.index("### Policy-relevant changes")
    assert summary < policy < text.index("### Resources")
    items = text[policy : text.index("### Resources")]
    assert f"`e2e-parity` removed from {OWNER}/{REPOSITORY} main" in items
    assert f"`e2e-parity` removed from {OWNER}/{REPOSITORY} release/*" in items
    # Set-like: the check list shows the member that went, not every later index renamed.
    resources = text[text.index("### Resources") :]
    assert "enforceAdmins` true → false" in items
    assert "contexts (set):" in resources
    assert '        - "e2e-parity"' in resources
    assert "contexts[8]" not in resources
    # The default text output is unchanged: property paths by index, as before.
    assert "contexts[7]" in run(capsys, plans["base"], plans["without-e2e"])


def test_protection_turned_off_is_flagged(plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads(run(capsys, plans["base"], plans["unprotected"], "--format", "json"))
    kinds = {p["kind"] for p in summary["policy"]}
    assert "unprotected" in kinds
    assert summary["summary"]["change"] > 0
    assert all("urn:pulumi" not in p["message"] for p in summary["policy"])


def test_a_removed_repository_flags_its_protected_resources(
    plans: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = run(capsys, plans["two"], plans["base"], "--format", "markdown")
    policy = text[text.index("### Policy-relevant changes") : text.index("### Resources")]
    assert f"protected resource deleted: `BranchProtection {OWNER}-web-protect-main`" in policy
    assert "`pulumi up` will refuse" in policy
    assert f"removed from {OWNER}/web main" in policy
    summary = json.loads(run(capsys, plans["two"], plans["base"], "--format", "json"))
    assert summary["summary"]["delete"] > 0
    assert {p["kind"] for p in summary["policy"]} >= {"protected-deleted", "check-removed"}


def test_an_added_repository_collapses_file_bodies_unless_full(
    plans: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = run(capsys, plans["base"], plans["two"], "--format", "markdown")
    assert f"added to {OWNER}/web main" in text
    assert f"+ RepositoryFile {OWNER}-web-file-github-codeowners" in text
    assert "urn:pulumi" not in text.split("### Resources")[1].split("(", 1)[0]
    lines = text.splitlines()
    content = [line for line in lines if line.strip().startswith("+ inputs.content:")]
    assert content
    assert all(" lines, sha256 " in line for line in content)
    full = run(capsys, plans["base"], plans["two"], "--format", "markdown", "--full")
    assert len(full.splitlines()) > len(lines)
    assert not [line for line in full.splitlines() if " lines, sha256 " in line]


def test_stat_lines_are_short_and_the_totals_add_up(
    plans: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, plans["base"], plans["two"], "--stat").splitlines()
    *rows, totals = out
    assert all(len(row) < 100 for row in out)
    assert not any("urn:pulumi" in row for row in out)
    summary = json.loads(run(capsys, plans["base"], plans["two"], "--format", "json"))
    resources = summary["resources"]
    assert len([r for r in rows if not r.startswith("~ (stack outputs)")]) == len(resources)
    s = summary["summary"]
    assert totals.startswith(
        f"{len(resources)} resource(s): {s['add']} to add, {s['change']} to change, {s['delete']} to delete"
    )
    added = sum(r["properties"]["added"] for r in resources)
    changed = sum(r["properties"]["changed"] for r in resources)
    assert totals.endswith(f"properties +{added} -0 ~{changed}")
    assert s["add"] == len([r for r in resources if r["action"] == "add"]) > 0


def test_identical_plans(plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = run(capsys, plans["base"], plans["base"], "--format", "markdown")
    assert "**0 to add, 0 to change, 0 to delete**" in text
    assert "None: no required check added or removed" in text
    assert "### Resources" not in text
    assert main(["diff", str(plans["base"]), str(plans["base"]), "--stat", "--exit-code"]) == 0


def test_weakened_protections_on_hand_written_plans() -> None:
    """The rules of `policy_changes` one by one, on plans too small to need the planner."""
    protection = "urn:pulumi:dev::p::github:index/branchProtection:BranchProtection::protect-main"
    ruleset = "urn:pulumi:dev::p::github:index/repositoryRuleset:RepositoryRuleset::ruleset-main"
    environment = "urn:pulumi:dev::p::github:index/repositoryEnvironment:RepositoryEnvironment::env-prod"

    def plan(count: int, admins: bool, enforcement: str, bypass: list[Any] | None, reviewers: bool) -> Any:
        reviews = {"requiredApprovingReviewCount": count, "requireCodeOwnerReviews": True}
        inputs = {"repositoryId": "aos", "enforceAdmins": admins, "requiredPullRequestReviews": [reviews]}
        rules = {"enforcement": enforcement, **({} if bypass is None else {"bypassActors": bypass})}
        env = {"environment": "production", **({"reviewers": [{"teams": [1]}]} if reviewers else {})}
        return {
            "resources": [
                {"urn": protection, "type": protection.split("::")[2], "inputs": inputs},
                {"urn": ruleset, "type": ruleset.split("::")[2], "inputs": rules},
                {"urn": environment, "type": environment.split("::")[2], "inputs": env},
            ]
        }

    before, after = plan(2, True, "active", [], True), plan(1, False, "evaluate", None, False)
    messages = [p.message for p in policy_changes(before, after)]
    assert all(p.kind == "weakened" for p in policy_changes(before, after))
    assert "BranchProtection protect-main: `inputs.enforceAdmins` true → false" in messages
    assert "BranchProtection protect-main: required approving reviews lowered 2 → 1" in messages
    assert 'RepositoryRuleset ruleset-main: `inputs.enforcement` "active" → "evaluate"' in messages
    assert "RepositoryRuleset ruleset-main: bypass allowed: `inputs.bypassActors` [] → (absent)" in messages
    assert any(
        m.startswith("RepositoryEnvironment env-prod: environment reviewers removed") for m in messages
    )
    # The other way round tightens: nothing to flag.
    assert policy_changes(after, before) == []
    assert policy_changes(before, {"resources": []})[0].message == (
        "BranchProtection protect-main: protection deleted"
    )
