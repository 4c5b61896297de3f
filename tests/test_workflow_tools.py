"""The workflow validators can fail and can pass: a bad workflow is reported, a good one is clean.

Without this, a test that runs a validator on a generated workflow and finds nothing proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.github.actions import CHECKOUT, SETUP_PYTHON
from tests.support import workflow_tools
from tests.support.workflow_tools import run_actionlint, run_zizmor

# An expression that does not parse, a context property that does not exist, a job that needs a
# job that is not there.
BROKEN = """\
name: broken
on:
  push:
permissions: {}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.nope }}"
        if: ${{ github.ref == }}
  deploy:
    runs-on: ubuntu-latest
    needs: build
    steps:
      - run: echo deploy
"""

NOT_YAML = """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: "echo
"""

# The two mistakes the gate's renderers must never make: a tag-pinned action and untrusted event
# data expanded inside a shell script.
UNSAFE = """\
name: unsafe
on:
  pull_request:
permissions:
  contents: read
jobs:
  greet:
    name: greet
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: echo "${{ github.event.pull_request.title }}"
"""

# What the renderers emit: SHA pins with the tag as a comment, no default token permissions, the
# least each job needs (with the reason beside it), no credentials left in .git, untrusted data
# passed through the environment, one run per ref.
GOOD = f"""\
name: ci
on:
  pull_request:
  push:
    branches: [main]
permissions: {{}}
concurrency:
  group: ${{{{ github.workflow }}}}-${{{{ github.ref }}}}
  cancel-in-progress: true
jobs:
  test:
    name: test
    runs-on: ubuntu-24.04
    permissions:
      contents: read  # check out the repository
    steps:
      - uses: {CHECKOUT.uses()}  # {CHECKOUT.version}
        with:
          persist-credentials: false
      - uses: {SETUP_PYTHON.uses()}  # {SETUP_PYTHON.version}
        with:
          python-version: "3.11"
      - name: Show the pull request title
        env:
          TITLE: ${{{{ github.event.pull_request.title }}}}
        run: printf '%s\\n' "$TITLE"
      - run: python -m pytest -q
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rules(findings: list[str]) -> set[str]:
    return {finding.rsplit("[", 1)[1].split(",")[0].rstrip("]") for finding in findings}


def test_actionlint_reports_expression_and_job_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yml", BROKEN)
    errors = run_actionlint([path])
    assert all(error.startswith(f"{path}:") for error in errors), errors
    assert any(f"{path}:10:" in error and "[expression]" in error for error in errors), errors
    assert any('"nope" is not defined' in error for error in errors), errors
    assert any("[job-needs]" in error and '"build"' in error for error in errors), errors


def test_actionlint_reports_invalid_yaml_and_still_lints_the_other_files(tmp_path: Path) -> None:
    not_yaml = write(tmp_path, "not-yaml.yml", NOT_YAML)
    broken = write(tmp_path, "broken.yml", BROKEN)
    errors = run_actionlint([not_yaml, broken])
    assert any(e.startswith(f"{not_yaml}:") and "could not parse as YAML" in e for e in errors), errors
    assert any(e.startswith(f"{broken}:") and "[job-needs]" in e for e in errors), errors


def test_zizmor_reports_unpinned_action_and_template_injection(tmp_path: Path) -> None:
    path = write(tmp_path, "unsafe.yml", UNSAFE)
    findings = run_zizmor([path])
    assert all(finding.startswith(f"{path}:") for finding in findings), findings
    assert {"unpinned-uses", "template-injection"} <= rules(findings), findings
    assert any(f"{path}:11:" in f and "[unpinned-uses, severity high" in f for f in findings), findings
    assert any(f"{path}:14:" in f and "[template-injection, severity high" in f for f in findings)


def test_zizmor_min_severity_filters_lower_findings(tmp_path: Path) -> None:
    # artipacked (checkout leaving its token in .git) is a medium finding: shown at medium, not at high.
    path = write(
        tmp_path, "leaky.yml", UNSAFE.replace("        with:\n          persist-credentials: false\n", "")
    )
    assert "artipacked" in rules(run_zizmor([path], min_severity="medium"))
    assert "artipacked" not in rules(run_zizmor([path], min_severity="high"))


def test_good_workflow_is_clean_for_actionlint(tmp_path: Path) -> None:
    assert run_actionlint([write(tmp_path, "ci.yml", GOOD)]) == []


def test_actionlint_knows_current_runners_and_scopes_but_not_made_up_ones(tmp_path: Path) -> None:
    # The WASM build predates ubuntu-24.04 and the `attestations` scope; tools/actionlint.mjs lets
    # exactly those newer names through and nothing else.
    # ... and the `vars` context (configuration variables).
    newer = GOOD.replace("contents: read  # check out the repository", "attestations: write  # provenance")
    newer = newer.replace('python-version: "3.11"', "python-version: ${{ vars.PYTHON_VERSION }}")
    assert "vars.PYTHON_VERSION" in newer
    assert run_actionlint([write(tmp_path, "newer.yml", newer)]) == []
    made_up = newer.replace("ubuntu-24.04", "ubuntu-99.04").replace("attestations:", "attest:")
    made_up = made_up.replace("vars.PYTHON_VERSION", "varz.PYTHON_VERSION")
    errors = run_actionlint([write(tmp_path, "made-up.yml", made_up)])
    assert any('"ubuntu-99.04" is unknown' in error and "[runner-label]" in error for error in errors)
    assert any('"attest"' in error and "[permissions]" in error for error in errors), errors
    assert any('undefined variable "varz"' in error and "[expression]" in error for error in errors), errors


@pytest.mark.parametrize(
    ("min_severity", "persona"),
    [("medium", "regular"), ("informational", "regular"), ("informational", "auditor")],
)
def test_good_workflow_is_clean_for_zizmor(tmp_path: Path, min_severity: str, persona: str) -> None:
    path = write(tmp_path, "ci.yml", GOOD)
    assert run_zizmor([path], min_severity=min_severity, persona=persona) == []


def test_both_tools_lint_several_files_at_once(tmp_path: Path) -> None:
    good = write(tmp_path, "ci.yml", GOOD)
    unsafe = write(tmp_path, "unsafe.yml", UNSAFE)
    assert all(finding.startswith(f"{unsafe}:") for finding in run_zizmor([good, unsafe]))
    assert run_actionlint([good, write(tmp_path, "ci2.yml", GOOD)]) == []


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "ci.yml", GOOD)
    with pytest.raises(ValueError, match="min_severity"):
        run_zizmor([path], min_severity="critical")
    with pytest.raises(ValueError, match="persona"):
        run_zizmor([path], persona="paranoid")
    with pytest.raises(ValueError, match="at least one"):
        run_actionlint([])


def test_missing_tools_skip_locally_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write(tmp_path, "ci.yml", GOOD)
    monkeypatch.setattr(workflow_tools, "find_zizmor", lambda: None)
    monkeypatch.setattr(workflow_tools, "ACTIONLINT_PACKAGE", tmp_path / "missing" / "package.json")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="zizmor is not installed"):
        run_zizmor([path])
    with pytest.raises(pytest.skip.Exception, match="actionlint"):
        run_actionlint([path])
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="zizmor is not installed"):
        run_zizmor([path])
    with pytest.raises(pytest.fail.Exception, match="actionlint"):
        run_actionlint([path])
