"""`python -m gate report`: every stack's plan, base against head, as one bounded markdown report
(gate/offline/report.py). Plans here are the golden ones, edited as a pull request would change them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.offline.plan import render_plan, root_hash
from gate.offline.report import MARKER, Side, compare, read_side, render, write_report
from tests.conftest import ROOT

STACKS = ("dev", "staging", "prod")
FILE = "github:index/repositoryFile:RepositoryFile"


def golden(stack: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads((ROOT / "tests" / "golden" / stack / "plan.json").read_text())
    return plan


def rehashed(plan: dict[str, Any]) -> dict[str, Any]:
    plan["root_hash"] = root_hash(plan)
    return plan


def write_side(
    directory: Path, plans: Mapping[str, dict[str, Any] | str], order: tuple[str, ...] = STACKS
) -> Path:
    """<directory>/stacks.txt and per stack its plan.json, or error.txt when given text."""
    directory.mkdir(parents=True)
    (directory / "stacks.txt").write_text("".join(f"{s}\n" for s in order))
    for stack, plan in plans.items():
        (directory / stack).mkdir()
        if isinstance(plan, str):
            (directory / stack / "error.txt").write_text(plan)
        else:
            (directory / stack / "plan.json").write_bytes(render_plan(plan))
    return directory


def side(plans: Mapping[str, dict[str, Any] | str], order: tuple[str, ...] = STACKS) -> Side:
    return Side(
        order,
        {s: p for s, p in plans.items() if isinstance(p, dict) and s in order},
        {s: p for s, p in plans.items() if isinstance(p, str) and s in order},
    )


BASE = {stack: golden(stack) for stack in STACKS}


def without_check(plan: dict[str, Any], check: str) -> dict[str, Any]:
    plan = copy.deepcopy(plan)
    for branches in plan["outputs"]["requiredChecks"].values():
        for checks in branches.values():
            checks.remove(check)
    return rehashed(plan)


def file_resource(plan: dict[str, Any], path: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["type"] == FILE and r["inputs"]["file"] == path)


def test_summary_first_then_each_stack_with_file_bodies_collapsed() -> None:
    head = copy.deepcopy(BASE)
    head["dev"] = without_check(head["dev"], "security-scan")
    ci = file_resource(head["dev"], ".github/workflows/ci.yml")
    ci["inputs"]["content"] += "# one more line\n"
    head["dev"] = rehashed(head["dev"])
    text = render(compare(side(BASE), side(head)), base="a" * 40, head="b" * 40, run_url="https://x/runs/1")

    assert text.startswith(MARKER + "\n")
    summary, _, details = text.partition("<details>")
    assert f"`{'a' * 12}` → `{'b' * 12}`" in summary
    old, new = (h.removeprefix("sha256:")[:12] for h in (BASE["dev"]["root_hash"], head["dev"]["root_hash"]))
    assert f"| **dev** | dev | changes | 0 | 1 | 0 | `{old}` → `{new}` |" in summary
    assert "| **staging** | staging | no changes | 0 | 0 | 0 |" in summary
    assert "**Needs attention (2):**" in summary
    assert "- ⚠️ **dev**: required check `security-scan` removed from acme/aos `main`" in summary
    assert "required check `security-scan` removed from acme/aos `release/*`" in summary
    # One collapsed block for the resources and outputs, one per file body.
    titles = re.findall(r"<details><summary>(.*?)</summary>", text)
    assert len(titles) == 2 and titles[1] == "<code>aos: .github/workflows/ci.yml</code> (changed)"
    # Everything else of dev's plan is unchanged (how much depends on what dev declares).
    assert re.fullmatch(
        r"resources and outputs \(0 to add, 1 to change, 0 to delete, [1-9][0-9]* unchanged\)", titles[0]
    )
    assert "+# one more line" in details
    assert "### staging" not in details  # nothing to show for an unchanged stack
    assert text.rstrip().endswith("artifact `gate-plan-report` of [the workflow run](https://x/runs/1).")


def test_a_required_check_that_moves_to_another_stack_is_not_removed() -> None:
    head = copy.deepcopy(BASE)
    moved = head["dev"]["outputs"]["requiredChecks"]
    head["dev"]["outputs"]["requiredChecks"] = {}
    head["staging"]["outputs"]["requiredChecks"] = moved
    reports = compare(side(BASE), side(head))
    assert [r.attention for r in reports] == [(), (), ()]


def test_protected_resources_deleted_or_unprotected_are_flagged() -> None:
    head = copy.deepcopy(BASE)
    protected = [r for r in head["prod"]["resources"] if r["options"].get("protect")]
    assert len(protected) >= 2
    head["prod"]["resources"].remove(protected[0])
    protected[1]["options"]["protect"] = False
    reports = {r.stack: r for r in compare(side(BASE), side({**head, "prod": rehashed(head["prod"])}))}
    assert reports["prod"].attention == (
        f"protected resource deleted: `{protected[0]['urn']}`",
        f"protection removed from `{protected[1]['urn']}`",
    )


def test_a_failing_plan_is_shown_with_its_error_and_no_check_is_called_removed() -> None:
    error = (
        "error: stacks/Pulumi.dev.yaml: the gate rules are violated (1 violation(s))\n  - [GATE-NN-06] ..."
    )
    text = render(compare(side(BASE), side({**BASE, "dev": error})))
    assert "| **dev** | dev | ❌ plan fails |  |  |  |" in text
    assert "- ⚠️ **dev**: plan fails: error: stacks/Pulumi.dev.yaml: the gate rules are violated" in text
    assert "<details><summary>why the plan fails on the head</summary>\n\n```text\n" + error in text
    assert "removed from" not in text  # dev's checks are unknown on the head: not "removed"


def test_new_removed_and_unplanned_stacks() -> None:
    qa = rehashed({**copy.deepcopy(BASE["staging"]), "stack": "qa"})
    head = side({**BASE, "qa": qa}, ("dev", "qa", "staging"))
    reports = {r.stack: r for r in compare(side(BASE), head)}
    assert [r.stack for r in compare(side(BASE), head)] == ["dev", "qa", "staging", "prod"]
    assert reports["qa"].status == "new stack" and reports["qa"].diff is not None
    assert len(reports["qa"].diff.added) == len(qa["resources"])
    assert reports["prod"].status == "removed"
    assert "no longer plans or deploys it" in reports["prod"].attention[0]

    unlisted = Side(error="usage: python -m gate ...\npython -m gate: error: invalid choice: 'stacks'")
    reports = {r.stack: r for r in compare(unlisted, side(BASE))}
    assert reports["dev"].status == "base not planned"
    assert reports["dev"].attention[0] == (
        "base not planned (python -m gate: error: invalid choice: 'stacks'): every resource is shown as added"
    )


def test_a_head_that_cannot_tell_its_stacks_plans_none_and_says_why_once() -> None:
    error = "error: the stacks are inconsistent (1 problem(s))\n  - [GATE-DP-11] stack prod: its chain ..."
    reports = compare(side(BASE), Side(error=error))
    assert [(r.stack, r.status) for r in reports] == [(s, "plan fails") for s in STACKS]
    assert [r.attention for r in reports] == [
        (
            "the head's stacks cannot be told, none is planned: "
            "error: the stacks are inconsistent (1 problem(s))",
        ),
        (),
        (),
    ]
    text = render(reports)
    assert text.count("why the plan fails on the head") == 1 and "[GATE-DP-11]" in text
    assert [r.stack for r in compare(Side(error=error), Side(error=error))] == ["(every stack)"]


def test_the_report_stays_within_its_size_and_says_what_it_left_out() -> None:
    head = copy.deepcopy(BASE)
    for stack in STACKS:
        for resource in head[stack]["resources"]:
            if resource["type"] == FILE:
                resource["inputs"]["content"] = "".join(f"line {n} ```` of {stack}\n" for n in range(3000))
        head[stack] = rehashed(head[stack])
    reports = compare(side(BASE), side(head))
    full = render(reports, max_chars=10_000_000)
    assert len(full) > 200_000
    for limit in (4_000, 20_000, 60_000):
        text = render(reports, max_chars=limit)
        assert len(text) <= limit
        assert text.startswith(MARKER) and "| **prod** |" in text
        assert text.count("<details>") == text.count("</details>")
        assert "detail section(s) left out" in text or "… truncated" in text
        # Bodies hold runs of four backticks: each is fenced with five, and every fence is closed.
        assert text.count("`````diff") == len(re.findall(r"\n`````\n", text))


def test_summary_cells_are_escaped() -> None:
    plan = rehashed(
        {**copy.deepcopy(BASE["dev"]), "outputs": {**BASE["dev"]["outputs"], "environment": "a|<b>"}}
    )
    text = render(compare(side({"dev": BASE["dev"]}, ("dev",)), side({"dev": plan}, ("dev",))))
    assert "| **dev** | a\\|&lt;b&gt; |" in text


def test_read_side_and_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head: dict[str, dict[str, Any] | str] = {**BASE, "staging": "error: boom"}
    before = write_side(tmp_path / "base", BASE)
    after = write_side(tmp_path / "head", head)
    read = read_side(after)
    assert (
        read.stacks == STACKS
        and set(read.plans) == {"dev", "prod"}
        and read.errors == {"staging": "error: boom"}
    )
    (tmp_path / "nothing").mkdir()
    assert read_side(tmp_path / "nothing").error == "no stacks.txt: the stacks of this checkout are unknown"

    out = tmp_path / "report.md"
    argv = [
        "report",
        "--before",
        str(before),
        "--after",
        str(after),
        "--out",
        str(out),
        "--head-ref",
        "c0ffee",
    ]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == f"wrote {out}: 3 stack(s), 1 item(s) needing attention\n"
    assert out.read_text() == render(compare(read_side(before), read), head="c0ffee")
    assert cli.main([*argv, "--max-chars", "100"]) == 2
    assert "--max-chars: got 100; allowed: 4000 or more" in capsys.readouterr().err
    assert (
        cli.main(["report", "--before", str(tmp_path / "missing"), "--after", str(after), "--out", str(out)])
        == 4  # I/O: no such directory
    )
    assert write_report(before, before, out)[0].status == "no changes"


def test_stacks_lists_the_chain_in_promotion_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["stacks", "--project-dir", str(ROOT)]) == 0
    assert capsys.readouterr().out == "dev\nstaging\nprod\n"
