"""tools/release_check.py: the release contract, the release-notes labels and the published notes
(delivery-policy.md §Pre-Deployment, §Release Notes; GATE-DP-14, GATE-DP-15).

The pure functions and the CLI, on files in a temporary directory and event payloads written there;
the pull-request scenarios that run the rendered workflows are in tests/test_release_checks_runs.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.errors import PolicyError
from gate.github import release_contract, release_notes
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from tests.conftest import ROOT
from tools import release_check
from tools.release_check import compose_notes, glob_version, notes_problems, section_under

TOOL = ROOT / "tools" / "release_check.py"


def policy(**values: Any) -> GatePolicy:
    return GatePolicy(environment="dev", repositories=[{"name": "aos", "owner": "acme"}], **values)


TEMPLATE = release_contract.render_template(policy())


def complete_contract(template: str = TEMPLATE) -> str:
    """The template as an author completes it: every box ticked, a line of text in each section."""
    lines = []
    for line in template.splitlines():
        lines.append(line.replace("- [ ]", "- [x]"))
        if line.startswith("## "):
            lines.append(f"What we did for {line[3:].lower()}: written by the release's author.")
    return "\n".join(lines) + "\n"


def write_repo(tmp_path: Path, contract: str | None, version: str = "1.4.0") -> Path:
    releases = tmp_path / "work" / "releases"
    releases.mkdir(parents=True)
    (releases / release_contract.TEMPLATE_NAME).write_text(TEMPLATE)
    if contract is not None:
        (releases / f"{version}.md").write_text(contract)
    return tmp_path


def contract(tmp_path: Path, text: str | None, *extra: str) -> tuple[int, str]:
    """Runs `python tools/release_check.py contract --version 1.4.0` as deploy.yml does."""
    root = write_repo(tmp_path, text)
    done = subprocess.run(
        [sys.executable, str(TOOL), "contract", "--version", "1.4.0", *extra],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


# -- the template and the tool agree ----------------------------------------------------------


def test_the_tool_and_the_gate_name_the_same_policy_sections() -> None:
    assert release_check.SECTIONS == release_contract.SECTIONS
    assert release_check.TEMPLATE_NAME == release_contract.TEMPLATE_NAME
    parsed = release_check.parse_template(TEMPLATE)
    assert parsed.sections == release_contract.SECTIONS
    assert release_check.template_problems(parsed) == []


def test_the_template_carries_the_policys_rollout_stages() -> None:
    rendered = release_contract.render_template(policy(rollout={"stages": [10, 50, 100], "bakeTime": "5m"}))
    assert "- [ ] Progressive rollout 10% → 50% → 100%, 5m analysis at each step" in rendered
    assert "- [ ] Through every environment in order: dev → staging → production" in rendered
    assert "- [ ] Rollback tested in staging" in rendered


def test_the_template_as_committed_is_not_a_contract() -> None:
    # Copied unchanged it fails: its guidance is in comments, its boxes unticked.
    problems = release_check.contract_problems(TEMPLATE, release_check.parse_template(TEMPLATE))
    assert "section '## Scope' is empty: write it (checkboxes alone do not say what was done)" in problems
    assert any(p.startswith("unchecked box in '## Rollback plan'") for p in problems)


# -- contract --version V (what deploy.yml runs) -----------------------------------------------


def test_a_complete_contract_passes(tmp_path: Path) -> None:
    code, out = contract(tmp_path, complete_contract())
    assert code == 0, out
    assert "::notice::work/releases/1.4.0.md is complete" in out


def test_a_missing_contract_fails_saying_what_to_do(tmp_path: Path) -> None:
    code, out = contract(tmp_path, None)
    assert code == 1
    assert (
        "::error::no release contract work/releases/1.4.0.md: copy "
        "work/releases/_TEMPLATE-release-contract.md to it"
    ) in out


def test_a_missing_section_fails(tmp_path: Path) -> None:
    text = complete_contract().replace("## Database migrations", "## Databases")
    code, out = contract(tmp_path, text)
    assert code == 1
    assert "::error::work/releases/1.4.0.md: section '## Database migrations' is missing" in out


def test_an_empty_section_fails_even_with_its_boxes_ticked(tmp_path: Path) -> None:
    text = complete_contract().replace(
        "What we did for rollback plan: written by the release's author.\n", ""
    )
    code, out = contract(tmp_path, text)
    assert code == 1
    assert "section '## Rollback plan' is empty" in out
    assert out.count("::error::") == 1  # only that: its boxes are ticked


def test_an_unchecked_box_fails(tmp_path: Path) -> None:
    text = complete_contract().replace("- [x] Rollback tested in staging", "- [ ] Rollback tested in staging")
    code, out = contract(tmp_path, text)
    assert code == 1
    unchecked = "unchecked box in '## Rollback plan': '- [ ] Rollback tested in staging'"
    assert f"::error::work/releases/1.4.0.md: {unchecked}" in out


def test_a_box_of_the_template_deleted_rather_than_ticked_fails(tmp_path: Path) -> None:
    text = complete_contract().replace("- [x] Deployment window communicated to stakeholders", "")
    code, out = contract(tmp_path, text)
    assert code == 1
    assert "the template's item 'Deployment window communicated to stakeholders" in out


def test_a_weakened_template_still_requires_the_policys_sections(tmp_path: Path) -> None:
    root = write_repo(tmp_path, complete_contract().replace("## Observability", "## Notes"))
    weakened = TEMPLATE.replace("## Observability", "## Notes")
    (root / "work" / "releases" / release_contract.TEMPLATE_NAME).write_text(weakened)
    problems = release_check.check_contract(root, "work/releases", "1.4.0")
    assert problems[0].startswith("the contract template has no '## Observability' section")


def test_headings_in_code_blocks_and_comments_do_not_count(tmp_path: Path) -> None:
    text = complete_contract().replace("## Feature flags", "```\n## Feature flags\n```")
    code, out = contract(tmp_path, text)
    assert code == 1 and "section '## Feature flags' is missing" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["contract"], "the following arguments are required: --version"),
        (["contract", "--version", "../etc/passwd"], "is not a version"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_without_a_traceback(tmp_path: Path, argv: list[str], message: str) -> None:
    write_repo(tmp_path, None)
    done = subprocess.run(
        [sys.executable, str(TOOL), *argv], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and message in done.stdout and "Traceback" not in done.stderr


def test_a_missing_template_cannot_run(tmp_path: Path) -> None:
    code = release_check.main(["contract", "--version", "1.4.0"], env={}, root=tmp_path)
    assert code == 2


# -- pull-request --check release-contract ------------------------------------------------------


def test_the_version_is_what_the_release_branch_patterns_star_matches() -> None:
    assert glob_version("release/*", "release/1.4.0") == "1.4.0"
    assert glob_version("release/*", "main") is None
    assert glob_version("release/*", "release/1.4/hotfix") is None  # `*` stops at '/'
    assert glob_version("releases/v*", "releases/v2.0") == "2.0"


def pr_event(tmp_path: Path, *, base_ref: str = "main", labels: tuple[str, ...] = (), body: str = "") -> Path:
    event = {
        "pull_request": {
            "number": 7,
            "base": {"ref": base_ref, "sha": "a" * 40},
            "head": {"sha": "b" * 40},
            "labels": [{"name": label} for label in labels],
            "body": body,
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def run_pull_request(tmp_path: Path, check: str, event: Path, **env: str) -> int:
    values = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "RELEASE_BRANCH_PATTERN": "release/*",
        "CONTRACT_DIRECTORY": "work/releases",
        **env,
    }
    return release_check.main(["pull-request", "--check", check], env=values, root=tmp_path)


def test_a_pull_request_into_a_release_branch_needs_its_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_repo(tmp_path, None)
    assert run_pull_request(root, "release-contract", pr_event(tmp_path, base_ref="release/1.4.0")) == 1
    assert "no release contract work/releases/1.4.0.md" in capsys.readouterr().out
    (root / "work" / "releases" / "1.4.0.md").write_text(complete_contract())
    assert run_pull_request(root, "release-contract", pr_event(tmp_path, base_ref="release/1.4.0")) == 0
    assert "release 1.4.0 (into release/1.4.0)" in capsys.readouterr().out


# -- pull-request --check release-notes ---------------------------------------------------------

CATEGORIES = ("feature", "improvement", "fix", "deprecation", "breaking-change")
MIGRATION_BODY = (
    "Drops the v1 API.\n\n## Migration\nCall /v2/orders instead of /v1/orders.\n\n## Tests\nran\n"
)


def test_a_pull_request_without_a_category_label_fails_naming_the_allowed_ones() -> None:
    problems = notes_problems(["infra-change"], "", CATEGORIES, "breaking-change", "Migration")
    assert problems == [
        "no release-notes category label: add one of feature, improvement, fix, deprecation, "
        "breaking-change (delivery-policy.md §Release Notes: changes categorised)"
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("Drops the v1 API.", "has no '## Migration' section"),
        (
            "## Migration\n<!-- say how -->\n\n## Tests\nran",
            "the 'Migration' section of the description is empty",
        ),
        ("```\n## Migration\n```\ncall v2", "has no '## Migration' section"),
    ],
)
def test_a_breaking_change_without_migration_instructions_fails(body: str, why: str) -> None:
    problems = notes_problems(["breaking-change"], body, CATEGORIES, "breaking-change", "Migration")
    assert len(problems) == 1 and why in problems[0]


def test_a_labelled_pull_request_passes_and_a_breaking_one_with_its_migration_too() -> None:
    assert notes_problems(["fix"], "", CATEGORIES, "breaking-change", "Migration") == []
    assert (
        notes_problems(["breaking-change"], MIGRATION_BODY, CATEGORIES, "breaking-change", "Migration") == []
    )
    # Any heading level, any case; the section ends at the next heading of its level.
    assert section_under("### migration\nstep 1\n#### detail\nx\n### Other\ny", "Migration") == [
        "step 1",
        "#### detail",
        "x",
    ]


def test_the_release_notes_check_reads_the_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"CATEGORY_LABELS": "\n".join(CATEGORIES), "BREAKING_LABEL": "breaking-change"}
    assert run_pull_request(tmp_path, "release-notes", pr_event(tmp_path), **env) == 1
    assert "::error::no release-notes category label" in capsys.readouterr().out
    labelled = pr_event(tmp_path, labels=("breaking-change",), body=MIGRATION_BODY)
    assert run_pull_request(tmp_path, "release-notes", labelled, **env) == 0
    assert "in the release notes as: breaking-change" in capsys.readouterr().out


def test_an_unreadable_event_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_pull_request(tmp_path, "release-notes", tmp_path / "missing.json") == 2
    assert "::error::release_check cannot run: cannot read the event payload" in capsys.readouterr().out


# -- publish ------------------------------------------------------------------------------------

GENERATED = """\
<!-- Release notes generated using configuration in .github/release.yml at v1.4.0 -->

## What's Changed
### Breaking changes
* Drop the v1 API by @dev in https://github.com/acme/aos/pull/12
### New features
* Order export by @dev in https://github.com/acme/aos/pull/13
### Fixes
* Fix rounding by @dev in https://github.com/acme/aos/pull/14

**Full Changelog**: https://github.com/acme/aos/compare/v1.3.0...v1.4.0
"""
BREAKING_PULL = {
    "number": 12,
    "title": "Drop the v1 API",
    "body": MIGRATION_BODY,
    "html_url": "https://github.com/acme/aos/pull/12",
    "labels": [{"name": "breaking-change"}],
}


def test_published_notes_put_breaking_changes_first_with_their_migration() -> None:
    notes, problems = compose_notes("v1.4.0", GENERATED, [BREAKING_PULL])
    assert problems == []
    lines = notes.splitlines()
    assert lines[0] == "## ⚠️ Breaking changes in v1.4.0"
    assert lines[2] == "### Drop the v1 API ([#12](https://github.com/acme/aos/pull/12))"
    assert "Call /v2/orders instead of /v1/orders." in notes
    assert notes.index("Call /v2/orders") < notes.index("### New features") < notes.index("### Fixes")
    # Listed once: not again under the generated category, whose heading goes with it.
    assert notes.count("/pull/12") == 1 and "### Breaking changes\n" not in notes
    assert "**Full Changelog**" in notes


def test_publishing_refuses_a_breaking_change_without_migration_instructions() -> None:
    _, problems = compose_notes("v1.4.0", GENERATED, [{**BREAKING_PULL, "body": "no section"}])
    assert problems == ["breaking change #12 (Drop the v1 API) has no 'Migration' section in its description"]


def test_publish_writes_the_notes_of_a_release_tag(tmp_path: Path) -> None:
    generated, pulls, out = tmp_path / "g.json", tmp_path / "p.json", tmp_path / "notes.md"
    generated.write_text(json.dumps({"name": "v1.4.0", "body": GENERATED}))
    pulls.write_text(json.dumps([BREAKING_PULL]))
    argv = ["publish", "--generated", str(generated), "--pulls", str(pulls), "--output", str(out)]
    assert release_check.main([*argv, "--tag", "v1.4.0"], env={"TAG_PREFIX": "v"}, root=tmp_path) == 0
    assert out.read_text().startswith("## ⚠️ Breaking changes in v1.4.0\n")
    assert release_check.main([*argv, "--tag", "nightly"], env={"TAG_PREFIX": "v"}, root=tmp_path) == 2


# -- .github/release.yml --------------------------------------------------------------------------


def test_release_yml_groups_by_category_breaking_first_without_internal_labels() -> None:
    config = yaml.safe_load(release_notes.render_release_config(policy()))
    categories = config["changelog"]["categories"]
    assert [c["labels"] for c in categories] == [
        ["breaking-change"],
        ["feature"],
        ["improvement"],
        ["fix"],
        ["deprecation"],
    ]
    assert categories[0]["title"] == "Breaking changes"
    assert config["changelog"]["exclude"]["labels"] == ["infra-change", "parity-mismatch", "platform"]


def test_the_category_labels_are_declared_with_the_gates_labels() -> None:
    declared = {label.name for label in policy().labels}
    assert set(policy().release_notes.categories) <= declared
    assert set(policy().release_notes.exclude_labels) <= declared


@pytest.mark.parametrize(
    ("notes", "path", "allowed"),
    [
        ({"breakingLabel": "major"}, "releaseNotes.breakingLabel", "one of categories"),
        ({"excludeLabels": ["fix"]}, "releaseNotes.excludeLabels", "labels that are not categories"),
        ({"categories": ["fix", "fix", "breaking-change"]}, "releaseNotes.categories[1]", "unique"),
        ({"tagPrefix": "v;rm"}, "releaseNotes.tagPrefix", ""),
        ({"categories": ["fix", "chore", "breaking-change"]}, "releaseNotes.categories[1]", "a label"),
    ],
)
def test_inconsistent_release_notes_settings_are_refused(
    notes: dict[str, Any], path: str, allowed: str
) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy(
            {"environment": "dev", "repositories": [{"name": "aos"}], "releaseNotes": notes},
            stack="dev",
            github_owner="acme",
        )
    assert path in str(refused.value) and allowed in str(refused.value)


def test_the_deploy_command_refuses_a_release_without_a_complete_contract(tmp_path: Path) -> None:
    # What the production deploy's `release` job runs from the gated repository's checkout.
    command = release_contract.contract_command(policy())
    root = write_repo(tmp_path, complete_contract())
    (root / "tools").mkdir()
    (root / "tools" / "release_check.py").write_text(release_contract.release_check_source())

    def deploy(version: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "VERSION": version}
        return subprocess.run(
            ["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True, check=False
        )

    assert deploy("1.4.0").returncode == 0
    missing = deploy("1.5.0")
    assert missing.returncode == 1 and "no release contract work/releases/1.5.0.md" in missing.stdout
    assert deploy("1.4.0; touch pwned").returncode == 2 and not (root / "pwned").exists()


def test_boxes_in_a_code_block_are_text(tmp_path: Path) -> None:
    example = "\n```markdown\n- [ ] an example checklist the runbook shows\n```\n"
    text = complete_contract().replace("## Observability\n", "## Observability\n" + example)
    code, out = contract(tmp_path, text)
    assert code == 0, out
    # ...and in a migration section they are published as written.
    lines = section_under("## Migration\n```sh\n# not a heading\n- [ ] x\n```\n", "Migration")
    assert lines == ["```sh", "# not a heading", "- [ ] x", "```"]
