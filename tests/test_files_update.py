"""Issue 13 item 3: the gate's files reach the default branch through a pull request opened by the
gate's identity (gate/github/filesupdate.py), and CODEOWNERS is a block in the repository's own file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.github.codeowners import (
    BEGIN_MARKER,
    END_MARKER,
    LEGACY_HEADER,
    LOCATIONS,
    CodeownersError,
    block_lines,
)
from gate.github.filesupdate import BRANCH_PREFIX, content_digest, files_update, revision
from gate.github.repository import CODEOWNERS_PATH, render_codeowners, repository_gate
from gate.offline.engine import READ_REPOSITORY_FILE, run_program
from tests.support.pulumi_schema import load_package_schema, schemas_dir
from tests.support.stacks import stack_plan
from tests.test_github_gate_component import BRANCH_PROTECTION, FILE, declare, policy

BRANCH = "github:index/branch:Branch"
PULL_REQUEST = "github:index/repositoryPullRequest:RepositoryPullRequest"
OWN = "# Our own owners\n* @acme/everyone\n/docs/ @acme/writers\n"


@dataclass(frozen=True)
class Proposed:
    path: str
    content: str
    commit_message: str


# -- the revision ----------------------------------------------------------------------------


def test_revision_is_stable_and_independent_of_file_order() -> None:
    a, b = Proposed("a.yml", "x", "m"), Proposed("b.yml", "y", "m")
    assert revision("main", [a, b]) == revision("main", [b, a])
    assert len(revision("main", [a])) == 12


@pytest.mark.parametrize(
    "changed",
    [
        Proposed("a.yml", "x2", "m"),  # content
        Proposed("a.yml", "x", "m2"),  # commit message
        Proposed("c.yml", "x", "m"),  # path
    ],
)
def test_any_change_of_a_proposed_file_is_a_new_revision(changed: Proposed) -> None:
    assert revision("main", [Proposed("a.yml", "x", "m")]) != revision("main", [changed])


def test_another_base_branch_is_a_new_revision() -> None:
    files = [Proposed("a.yml", "x", "m")]
    assert revision("main", files) != revision("trunk", files)


def test_no_field_boundary_ambiguity() -> None:
    # "ab" + "c" and "a" + "bc" must not hash alike.
    assert revision("main", [Proposed("ab", "c", "m")]) != revision("main", [Proposed("a", "bc", "m")])


def test_files_update_names_branch_title_and_lists_every_file() -> None:
    files = [
        Proposed(".github/CODEOWNERS", "/x @a/b\n", "m"),
        Proposed(".github/workflows/ci.yml", "on: x", "m"),
    ]
    update = files_update("acme/shop", "main", "dev", files, block_paths=[".github/CODEOWNERS"])
    assert update.branch == f"{BRANCH_PREFIX}{update.revision}" == f"delivery-gate/files-{update.revision}"
    assert update.base == "main" and update.revision in update.title
    assert "`.github/workflows/ci.yml`" in update.body and "`.github/CODEOWNERS`" in update.body
    assert "only the block between the delivery-gate markers" in update.body
    assert "stack `dev`" in update.body and "acme/shop" in update.body
    assert "release-notes category" not in update.body  # none given, none asked for


def test_the_pull_request_asks_for_a_release_notes_category() -> None:
    # The required release-notes check fails without one; the provider cannot set labels.
    gate_policy = policy()
    update = repository_gate(gate_policy, gate_policy.repositories[0]).files_update
    assert update is not None
    categories = gate_policy.release_notes.categories
    assert categories and all(f"`{category}`" in update.body for category in categories)


# -- the component ----------------------------------------------------------------------------


def _by_type(mocks: Any, typ: str) -> list[dict[str, Any]]:
    return [r.inputs for r in mocks.of_type(typ)]


def test_files_go_to_one_gate_branch_and_a_pull_request_into_the_default_branch() -> None:
    gate_policy = policy()
    mocks, _ = declare(gate_policy)
    spec = repository_gate(gate_policy, gate_policy.repositories[0])
    assert spec.files_update is not None
    (branch,) = _by_type(mocks, BRANCH)
    assert branch == {"repository": "aos", "branch": spec.files_update.branch, "sourceBranch": "main"}
    files = _by_type(mocks, FILE)
    assert len(files) == len(spec.files) > 10
    # Never the protected default branch: the merge gate would refuse a day-2 update there.
    assert {f["branch"] for f in files} == {spec.files_update.branch}
    (pull,) = _by_type(mocks, PULL_REQUEST)
    assert pull["baseRepository"] == "aos" and pull["baseRef"] == "main"
    assert pull["headRef"] == spec.files_update.branch
    assert pull["title"] == spec.files_update.title and pull["body"] == spec.files_update.body
    # The gate's identity opens it; nobody else pushes to the gate branch through it.
    assert pull["maintainerCanModify"] is False
    # Nothing bypasses the gate: branch protection still binds admins, no bypass actors anywhere.
    assert all(p.inputs["enforceAdmins"] for p in mocks.of_type(BRANCH_PROTECTION))


def test_rulesets_mode_takes_the_same_path_with_no_bypass_actor() -> None:
    mocks, _ = declare(policy(mergeGate={"mode": "rulesets"}))
    assert len(_by_type(mocks, PULL_REQUEST)) == 1
    gates = [
        r
        for r in _by_type(mocks, "github:index/repositoryRuleset:RepositoryRuleset")
        if not r["name"].startswith("delivery-gate create")
    ]
    assert gates and all(r["bypassActors"] == [] for r in gates)


def test_a_stack_that_does_not_own_the_merge_gate_opens_no_pull_request() -> None:
    mocks, _ = declare(policy(environment="staging", stack="staging"))
    assert not _by_type(mocks, BRANCH) and not _by_type(mocks, PULL_REQUEST) and not _by_type(mocks, FILE)


def test_no_codeowners_in_the_repository_gives_the_block_alone() -> None:
    mocks, _ = declare(policy())
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    content = codeowners["content"]
    assert content.startswith(BEGIN_MARKER + "\n") and content.endswith(END_MARKER + "\n")
    assert "/schemas/trace/** @acme/backend @acme/qa" in (block_lines(content) or ())


def test_the_repositorys_own_codeowners_is_kept_and_the_block_appended_last() -> None:
    mocks, _ = declare(policy(), {("acme/aos", CODEOWNERS_PATH): OWN})
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    content = codeowners["content"]
    assert content.startswith(OWN + "\n" + BEGIN_MARKER)
    assert content.endswith(END_MARKER + "\n")
    # The gate's files stay the platform team's: its lines come after `* @acme/everyone`.
    lines = content.splitlines()
    owners = [line.split()[-1] for line in lines if line.startswith(("/.github/workflows/", "*"))]
    assert owners[-1] == "@acme/platform"


def test_an_old_block_in_the_repositorys_file_is_replaced() -> None:
    old = OWN + "\n" + BEGIN_MARKER + "\n/.github/ @acme/old-platform\n" + END_MARKER + "\n/late/ @acme/x\n"
    mocks, _ = declare(policy(), {("acme/aos", CODEOWNERS_PATH): old})
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    content = codeowners["content"]
    assert "@acme/old-platform" not in content
    assert content.startswith(OWN + "\n/late/ @acme/x\n\n" + BEGIN_MARKER)
    assert content.count(BEGIN_MARKER) == 1


def test_the_whole_file_an_earlier_gate_version_wrote_becomes_the_block() -> None:
    # Before issue 13 the gate committed the whole file; its lines are the gate's, not the repository's.
    legacy = render_codeowners(policy(), policy().repositories[0], "acme").replace(BEGIN_MARKER, "", 1)
    legacy = LEGACY_HEADER + "\n" + "".join(legacy.splitlines(keepends=True)[1:-1])
    mocks, _ = declare(policy(), {("acme/aos", CODEOWNERS_PATH): legacy})
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    assert codeowners["content"].startswith(BEGIN_MARKER) and LEGACY_HEADER not in codeowners["content"]


def test_a_crlf_codeowners_keeps_crlf() -> None:
    own = OWN.replace("\n", "\r\n")
    mocks, _ = declare(policy(), {("acme/aos", CODEOWNERS_PATH): own})
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    assert codeowners["content"].startswith(own)
    assert "\n" not in codeowners["content"].replace("\r\n", "")


@pytest.mark.parametrize("location", ["CODEOWNERS", "docs/CODEOWNERS"])
def test_rules_kept_elsewhere_join_the_gates_file_instead_of_being_shadowed(location: str) -> None:
    mocks, _ = declare(policy(), {("acme/aos", location): OWN})
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    # GitHub reads .github/CODEOWNERS first: the repository's rules move there with the block.
    assert codeowners["content"].startswith(OWN + "\n" + BEGIN_MARKER)


def test_an_existing_github_codeowners_wins_over_the_other_locations() -> None:
    files = {("acme/aos", CODEOWNERS_PATH): OWN, ("acme/aos", "CODEOWNERS"): "* @acme/stale\n"}
    mocks, _ = declare(policy(), files)
    (codeowners,) = [f for f in _by_type(mocks, FILE) if f["file"] == CODEOWNERS_PATH]
    assert codeowners["content"].startswith(OWN) and "@acme/stale" not in codeowners["content"]


def test_duplicate_markers_in_the_repositorys_file_stop_the_program_with_a_clear_error() -> None:
    broken = OWN + BEGIN_MARKER + "\n" + BEGIN_MARKER + "\n" + END_MARKER + "\n"
    expected = r"^acme/aos:\.github/CODEOWNERS: more than one delivery-gate block"
    with pytest.raises(CodeownersError, match=expected):
        declare(policy(), {("acme/aos", CODEOWNERS_PATH): broken})


def test_the_repositorys_own_lines_do_not_change_the_revision() -> None:
    without, _ = declare(policy())
    with_own, _ = declare(policy(), {("acme/aos", CODEOWNERS_PATH): OWN})
    # Same branch, same pull request: editing one's own CODEOWNERS lines opens no gate pull request.
    assert _by_type(without, BRANCH) == _by_type(with_own, BRANCH)
    assert _by_type(without, PULL_REQUEST) == _by_type(with_own, PULL_REQUEST)


def test_a_day_2_change_is_a_new_branch_and_pull_request_named_by_revision() -> None:
    before, _ = declare(policy())
    after, _ = declare(policy(reviews={"schemaChange": {"paths": ["schemas/trace/**", "schemas/v2/**"]}}))
    (old,), (new,) = _by_type(before, BRANCH), _by_type(after, BRANCH)
    assert old["branch"] != new["branch"] and new["branch"].startswith(BRANCH_PREFIX)
    (pull,) = _by_type(after, PULL_REQUEST)
    assert pull["headRef"] == new["branch"]
    # CODEOWNERS is named by revision (a new resource per revision, created with that day's lines);
    # every other file keeps its name, so `gate diff` shows its content change.
    names = {r.name for r in before.of_type(FILE)}, {r.name for r in after.of_type(FILE)}
    changed = names[0] ^ names[1]
    assert {name.rsplit("-", 1)[0] for name in changed} == {"acme-aos-file-github-codeowners"}


def test_the_file_read_is_a_valid_invoke_of_the_real_provider_schema() -> None:
    document = json.loads((schemas_dir() / "pulumi-github-6.15.0.schema.json").read_text(encoding="utf-8"))
    function = document["functions"][READ_REPOSITORY_FILE]
    plan = stack_plan("dev")
    reads = [i for i in plan["invokes"] if i["token"] == READ_REPOSITORY_FILE]
    # Every place GitHub reads CODEOWNERS from, on the default branch.
    assert reads == [
        {"token": READ_REPOSITORY_FILE, "args": {"repository": "acme/aos", "file": path, "branch": "main"}}
        for path in sorted(LOCATIONS)
    ]
    inputs = function["inputs"]
    for read in reads:
        assert set(read["args"]) <= set(inputs["properties"])
        assert set(inputs["required"]) <= set(read["args"])
    assert "content" in function["outputs"]["properties"]


def test_branch_pull_request_and_files_conform_to_the_real_provider_schema() -> None:
    schema = load_package_schema()
    plan = stack_plan("dev")
    checked = [r for r in plan["resources"] if r["type"] in (BRANCH, PULL_REQUEST, FILE)]
    assert {r["type"] for r in checked} == {BRANCH, PULL_REQUEST, FILE}
    for resource in checked:
        assert schema.check_resource(resource["type"], resource["inputs"]) == [], resource["urn"]


# -- what the engine is told (the offline plan) ----------------------------------------------


def _of(plan: dict[str, Any], typ: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == typ]


def test_plan_options_let_a_new_revision_replace_the_old_one() -> None:
    plan = stack_plan("dev")
    (branch,) = _of(plan, BRANCH)
    (pull,) = _of(plan, PULL_REQUEST)
    files = _of(plan, FILE)
    # A revision replaces its predecessor: never protected (protect would refuse the replacement),
    # while the merge gate that guards the default branch stays protected.
    assert all(r["options"]["protect"] is False for r in (branch, pull, *files))
    assert all(r["options"]["protect"] is True for r in _of(plan, BRANCH_PROTECTION))
    assert branch["options"]["replaceOnChanges"] == ["branch", "sourceBranch"]
    assert branch["options"]["retainOnDelete"] is False  # deleting it closes a superseded open PR
    assert pull["options"]["replaceOnChanges"] == ["headRef"] and pull["options"]["retainOnDelete"] is True
    assert all(f["options"]["retainOnDelete"] for f in files)
    assert all(f["options"]["replaceOnChanges"] == ["branch"] for f in files)
    # Only CODEOWNERS ignores content: the repository's own lines are not the gate's change.
    ignoring = [f["inputs"]["file"] for f in files if f["options"]["ignoreChanges"]]
    assert ignoring == [CODEOWNERS_PATH]
    # The pull request opens once every file is committed.
    assert {f["urn"] for f in files} <= set(pull["options"]["dependsOn"])
    assert all(branch["urn"] in f["options"]["dependsOn"] for f in files)


def test_the_offline_engine_answers_the_file_read(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi, pulumi_github as github\n"
        "for name in ('present', 'absent'):\n"
        "    found = github.get_repository_file_output(\n"
        "        repository=f'acme/{name}', file='.github/CODEOWNERS')\n"
        "    pulumi.export(name, found.content)\n",
        encoding="utf-8",
    )
    recording = run_program(
        program,
        project="p",
        stack="dev",
        config={},
        repository_files={("acme/present", ".github/CODEOWNERS"): OWN},
    )
    assert recording.outputs["present"] == OWN
    assert recording.outputs.get("absent") is None  # no file: no content, as the provider answers


def test_a_broken_codeowners_stops_an_offline_run_with_the_gate_error(tmp_path: Path) -> None:
    # What `gate plan` and the CLI see: the CodeownersError itself (a GateError), not a traceback
    # wrapped by the Pulumi runtime.
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi, pulumi_github as github\n"
        "from gate.github.codeowners import splice\n"
        "found = github.get_repository_file_output(repository='acme/x', file='.github/CODEOWNERS')\n"
        "source = 'acme/x:.github/CODEOWNERS'\n"
        "pulumi.export('c', found.content.apply(lambda t: splice(t, ('/a @b/c',), source)))\n",
        encoding="utf-8",
    )
    files = {("acme/x", CODEOWNERS_PATH): f"* @a/b\n{END_MARKER}\n"}
    with pytest.raises(CodeownersError, match=r"^acme/x:\.github/CODEOWNERS: an END marker without a BEGIN"):
        run_program(program, project="p", stack="dev", config={}, repository_files=files)


def test_replace_and_ignore_options_name_real_provider_inputs() -> None:
    # Pulumi ignores a replaceOnChanges / ignoreChanges entry that names no property: a typo would
    # silently turn a revision's replacement into an in-place update of a merged branch.
    document = json.loads((schemas_dir() / "pulumi-github-6.15.0.schema.json").read_text(encoding="utf-8"))
    plan = stack_plan("dev")
    for resource in (*_of(plan, BRANCH), *_of(plan, PULL_REQUEST), *_of(plan, FILE)):
        inputs = document["resources"][resource["type"]]["inputProperties"]
        named = [*resource["options"]["replaceOnChanges"], *resource["options"]["ignoreChanges"]]
        assert named and set(named) <= set(inputs), resource["urn"]


def test_each_files_digest_in_the_pull_request_is_its_contents_sha256() -> None:
    # Remembered per distinct content (issue 14): asked again, for the same or an equal text, the
    # answer is the same digest, and a different text gets its own.
    texts = ["a\n", "b\n", "a\n" * 5000, "".join(["a\n"] * 5000)]
    for _ in range(2):
        for text in texts:
            assert content_digest(text) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert len({content_digest(text) for text in texts}) == 3
