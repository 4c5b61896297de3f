"""gate/offline/diff.py: plans compared by URN, property paths, options, file contents as line diffs."""

from __future__ import annotations

import copy
from typing import Any

from gate.offline.diff import ABSENT, Change, diff_plans, render_diff

STACK = "urn:pulumi:dev::delivery-gate::pulumi:pulumi:Stack::delivery-gate-dev"
PROTECT_URN = "urn:pulumi:dev::p::x:index/branchProtection:BranchProtection::protect-main"
FILE_URN = "urn:pulumi:dev::p::x:index/repositoryFile:RepositoryFile::codeowners"
LABEL_URN = "urn:pulumi:dev::p::x:index/issueLabel:IssueLabel::label-bug"


def resource(urn: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": urn.split("::")[2],
        "name": urn.rsplit("::", 1)[1],
        "parent": STACK,
        "custom": True,
        "inputs": inputs,
        "options": {"protect": False, "dependsOn": [], **options},
    }


def plan(*resources: dict[str, Any], **outputs: Any) -> dict[str, Any]:
    return {
        "project": "p",
        "stack": "dev",
        "root_hash": "sha256:0",
        "resources": list(resources),
        "outputs": outputs,
        "invokes": [],
    }


BEFORE = plan(
    resource(
        PROTECT_URN,
        {"pattern": "main", "requiredStatusChecks": [{"contexts": ["unit", "lint", "e2e"], "strict": True}]},
        protect=True,
    ),
    resource(FILE_URN, {"file": ".github/CODEOWNERS", "content": "/a @acme/x\n/b @acme/y\n/c @acme/z\n"}),
    requiredChecks={"acme/aos": {"main": ["unit", "lint", "e2e"]}},
)


def after() -> dict[str, Any]:
    changed = copy.deepcopy(BEFORE)
    protection, file = changed["resources"]
    protection["inputs"]["requiredStatusChecks"][0]["contexts"][2] = "e2e-parity"
    protection["options"]["protect"] = False
    file["inputs"]["content"] = "/a @acme/x\n/b @acme/y @acme/qa\n/c @acme/z\n"
    changed["resources"] = [protection, resource(LABEL_URN, {"name": "bug", "color": "d73a4a"})]
    changed["outputs"]["requiredChecks"]["acme/aos"]["main"][2] = "e2e-parity"
    return changed


def test_identical_plans_have_no_changes() -> None:
    d = diff_plans(BEFORE, copy.deepcopy(BEFORE))
    assert not d.has_changes
    assert d.unchanged == 2
    assert render_diff(d).endswith("0 to add, 0 to change, 0 to delete, 2 unchanged\n")


def test_added_removed_and_changed_resources() -> None:
    d = diff_plans(BEFORE, after())
    assert d.has_changes
    assert [r["urn"] for r in d.added] == [LABEL_URN]
    assert [r["urn"] for r in d.removed] == [FILE_URN]
    (changed,) = d.changed
    assert changed.urn == PROTECT_URN
    assert changed.changes == (
        Change("inputs.requiredStatusChecks[0].contexts[2]", "e2e", "e2e-parity"),
        Change("options.protect", True, False),
    )
    assert d.unchanged == 0
    assert d.outputs == (Change('requiredChecks["acme/aos"].main[2]', "e2e", "e2e-parity"),)


def test_rendering_marks_each_resource_and_property() -> None:
    text = render_diff(diff_plans(BEFORE, after()))
    lines = text.splitlines()
    assert f"+ {LABEL_URN}  (x:index/issueLabel:IssueLabel)" in lines
    assert '    + inputs.color: "d73a4a"' in lines
    assert f"- {FILE_URN}  (x:index/repositoryFile:RepositoryFile)" in lines
    assert f"~ {PROTECT_URN}  (x:index/branchProtection:BranchProtection)" in lines
    assert '    ~ inputs.requiredStatusChecks[0].contexts[2]: "e2e" → "e2e-parity"' in lines
    assert "    ~ options.protect: true → false" in lines
    assert '    ~ requiredChecks["acme/aos"].main[2]: "e2e" → "e2e-parity"' in lines
    assert lines[-1] == "1 to add, 1 to change, 1 to delete, 0 unchanged"
    # Resources are listed by URN whatever their kind of change.
    listed = [line[2:].split("  ")[0] for line in lines if line[:2] in ("+ ", "- ", "~ ")]
    assert listed == sorted(listed)


def test_multi_line_contents_show_as_a_line_diff() -> None:
    changed = copy.deepcopy(BEFORE)
    changed["resources"][1]["inputs"]["content"] = "/a @acme/x\n/b @acme/y @acme/qa\n/c @acme/z\n"
    d = diff_plans(BEFORE, changed)
    (file_change,) = d.changed
    assert [c.path for c in file_change.changes] == ["inputs.content"]
    lines = render_diff(d).splitlines()
    start = lines.index("    ~ inputs.content:")
    assert lines[start + 1 : start + 8] == [
        "        --- before",
        "        +++ after",
        "        @@ -1,3 +1,3 @@",
        "         /a @acme/x",
        "        -/b @acme/y",
        "        +/b @acme/y @acme/qa",
        "         /c @acme/z",
    ]


def test_list_growth_and_shrinkage_are_per_index() -> None:
    grown = copy.deepcopy(BEFORE)
    grown["resources"][0]["inputs"]["requiredStatusChecks"][0]["contexts"].append("security-scan")
    (change,) = diff_plans(BEFORE, grown).changed[0].changes
    assert change == Change("inputs.requiredStatusChecks[0].contexts[3]", ABSENT, "security-scan")
    (back,) = diff_plans(grown, BEFORE).changed[0].changes
    assert back == Change("inputs.requiredStatusChecks[0].contexts[3]", "security-scan", ABSENT)
    assert '- inputs.requiredStatusChecks[0].contexts[3]: "security-scan"' in render_diff(
        diff_plans(grown, BEFORE)
    )


def test_an_added_property_and_an_added_option() -> None:
    changed = copy.deepcopy(BEFORE)
    changed["resources"][1]["inputs"]["branch"] = "main"
    changed["resources"][1]["options"]["deleteBeforeReplace"] = True
    changes = diff_plans(BEFORE, changed).changed[0].changes
    assert Change("inputs.branch", ABSENT, "main") in changes
    assert Change("options.deleteBeforeReplace", ABSENT, True) in changes


def test_invokes_count_as_changes() -> None:
    changed = copy.deepcopy(BEFORE)
    changed["invokes"] = [{"token": "github:index/getTeam:getTeam", "args": {"slug": "qa"}}]
    d = diff_plans(BEFORE, changed)
    assert d.has_changes
    assert "Invokes:" in render_diff(d)


def test_dropping_a_required_check_reads_as_one_removal() -> None:
    before = {"resources": [{"urn": "u", "type": "t", "inputs": {"contexts": ["a", "b", "c", "d"]}}]}
    after = {"resources": [{"urn": "u", "type": "t", "inputs": {"contexts": ["a", "c", "d"]}}]}
    (changed,) = diff_plans(before, after).changed
    assert [(c.path, c.old, c.new) for c in changed.changes] == [("inputs.contexts[1]", "b", ABSENT)]
