"""Bad stack configs: each fails before any resource is declared, through the real CLI, with exit 2,
the stack file, the dotted field path, the bad value and what is allowed, and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.cli import main as cli
from tests.conftest import ProjectFactory

GOOD_REPOS = "  delivery-gate:repositories:\n    - name: aos\n"
HEADER = "config:\n  github:owner: acme\n"


def stack(body: str, *, repos: bool = True, environment: str | None = "dev") -> str:
    text = HEADER
    if environment is not None:
        text += f"  delivery-gate:environment: {environment}\n"
    if repos:
        text += GOOD_REPOS
    return text + body


# id -> (stack file text, dotted path, fragment of the shown value, fragment of what is allowed)
CASES: dict[str, tuple[str, str, str, str]] = {
    "unknown-top-level-key": (
        stack("  delivery-gate:repos: []\n"),
        "delivery-gate:repos",
        "[]",
        "unknown key; allowed: application, aws, changeLog, checks",
    ),
    "missing-environment": (
        stack("", environment=None),
        "delivery-gate:environment",
        "(missing)",
        "required",
    ),
    "environment-not-in-chain": (
        stack("", environment="qa"),
        "delivery-gate:environment",
        "'qa'",
        "one of dev, staging, production",
    ),
    "environment-of-another-stack": (
        stack("", environment="staging"),
        "delivery-gate:environment",
        "'staging'",
        "deployed by stack 'staging'",
    ),
    "no-repositories": (
        stack("  delivery-gate:repositories: []\n", repos=False),
        "delivery-gate:repositories",
        "[]",
        "at least 1",
    ),
    "repository-name-with-space": (
        stack("  delivery-gate:repositories:\n    - name: a b\n", repos=False),
        "delivery-gate:repositories[0].name",
        "'a b'",
        "GitHub repository name",
    ),
    "unknown-language": (
        stack("  delivery-gate:repositories:\n    - {name: aos, languages: [python, rust]}\n", repos=False),
        "delivery-gate:repositories[0].languages[1]",
        "'rust'",
        "'python' or 'javascript'",
    ),
    "unknown-repository-key": (
        stack("  delivery-gate:repositories:\n    - {name: aos, branch: main}\n", repos=False),
        "delivery-gate:repositories[0].branch",
        "'main'",
        "defaultBranch",
    ),
    "bad-owner": (
        stack("  delivery-gate:repositories:\n    - {name: aos, owner: -acme}\n", repos=False),
        "delivery-gate:repositories[0].owner",
        "'-acme'",
        "GitHub user or organisation",
    ),
    "owner-missing-everywhere": (
        "config:\n  delivery-gate:environment: dev\n" + GOOD_REPOS,
        "delivery-gate:repositories[0].owner",
        "(missing)",
        "github:owner",
    ),
    "required-check-not-in-catalogue": (
        stack("  delivery-gate:mergeGate:\n    requiredChecks: [unit-tests-python, snyk]\n"),
        "delivery-gate:mergeGate.requiredChecks[1]",
        "'snyk'",
        "one of determinism-canonical-json",
    ),
    "required-checks-without-security": (
        stack("  delivery-gate:mergeGate:\n    requiredChecks: [unit-tests-python]\n"),
        "delivery-gate:mergeGate.requiredChecks",
        "['unit-tests-python']",
        "must include security-scan: security checks are never skippable",
    ),
    "release-not-pinned-by-digest": (
        stack("  delivery-gate:release:\n    image: ghcr.io/acme/aos:latest\n"),
        "delivery-gate:release.image",
        "'ghcr.io/acme/aos:latest'",
        "allowed: an image pinned by digest",
    ),
    "stages-not-increasing": (
        stack("  delivery-gate:rollout:\n    stages: [5, 50, 25, 100]\n"),
        "delivery-gate:rollout.stages",
        "[5, 50, 25, 100]",
        "strictly increase",
    ),
    "stages-not-ending-at-100": (
        stack("  delivery-gate:rollout:\n    stages: [5, 25, 50]\n"),
        "delivery-gate:rollout.stages",
        "[5, 25, 50]",
        "last stage must be 100",
    ),
    "stage-out-of-range": (
        stack("  delivery-gate:rollout:\n    stages: [0, 100]\n"),
        "delivery-gate:rollout.stages[0]",
        "0",
        "greater than or equal to 1",
    ),
    "schema-change-one-approval": (
        stack("  delivery-gate:reviews:\n    schemaChange:\n      requiredApprovals: 1\n"),
        "delivery-gate:reviews.schemaChange.requiredApprovals",
        "1",
        "greater than or equal to 2",
    ),
    "environment-skipped": (
        stack(
            "  delivery-gate:environments:\n    - {name: dev, stack: dev}\n"
            "    - {name: staging, stack: staging, promotesFrom: dev}\n"
            "    - {name: production, stack: prod, promotesFrom: dev, reviewers: {teams: [sre]}}\n"
        ),
        "delivery-gate:environments[2].promotesFrom",
        "'dev'",
        "skips staging",
    ),
    "production-without-reviewers": (
        # A whole chain of the stack's own: `replace` (a plain list merges by name with the policy's).
        stack(
            "  delivery-gate:environments:\n    replace:\n    - {name: dev, stack: dev}\n"
            "    - {name: production, stack: prod, promotesFrom: dev}\n"
        ),
        "delivery-gate:environments.replace[1].reviewers",
        "(missing)",
        "production needs required reviewers",
    ),
    "chain-not-ending-at-production": (
        stack("  delivery-gate:environments:\n    remove: [production]\n"),
        "delivery-gate:environments[1].name",
        "'staging'",
        "must end at 'production'",
    ),
    "environment-name-without-room-for-its-rollback-environment": (
        stack(
            "  delivery-gate:environments:\n    replace:\n    - {name: dev, stack: dev}\n"
            "    - {name: staging-in-the-eu-west-1-a, stack: staging, promotesFrom: dev}\n"
            "    - {name: production, stack: prod, promotesFrom: staging-in-the-eu-west-1-a,"
            " reviewers: {teams: [sre]}}\n"
        ),
        "delivery-gate:environments.replace[1].name",
        "'staging-in-the-eu-west-1-a'",
        "at most 23 characters, so that its rollback environment",
    ),
    "environment-named-like-a-rollback-environment": (
        stack(
            "  delivery-gate:environments:\n    replace:\n    - {name: dev, stack: dev}\n"
            "    - {name: dev-rollback, stack: staging, promotesFrom: dev}\n"
            "    - {name: production, stack: prod, promotesFrom: dev-rollback, reviewers: {teams: [sre]}}\n"
        ),
        "delivery-gate:environments.replace[1].name",
        "'dev-rollback'",
        "is the name of dev's rollback environment",
    ),
    "duplicate-repository": (
        stack("  delivery-gate:repositories:\n    - name: aos\n    - name: aos\n", repos=False),
        "delivery-gate:repositories[1].name",
        "'aos'",
        "must be unique",
    ),
    "duration-without-unit": (
        stack("  delivery-gate:thresholds:\n    redis:\n      disconnectedFor: '60'\n"),
        "delivery-gate:thresholds.redis.disconnectedFor",
        "'60'",
        "such as '60s'",
    ),
    "slack-channel-without-hash": (
        stack("  delivery-gate:notifications:\n    oncall: oncall\n"),
        "delivery-gate:notifications.oncall",
        "'oncall'",
        "Slack channel such as '#oncall'",
    ),
    "label-colour-name": (
        stack("  delivery-gate:labels:\n    - {name: urgent, color: red}\n"),
        "delivery-gate:labels[0].color",
        "'red'",
        "six hexadecimal digits",
    ),
    "security-checks-skippable": (
        stack("  delivery-gate:emergency:\n    securityChecksSkippable: true\n"),
        "delivery-gate:emergency.securityChecksSkippable",
        "True",
        "False",
    ),
    "unknown-merge-gate-mode": (
        stack("  delivery-gate:mergeGate:\n    mode: honour-system\n"),
        "delivery-gate:mergeGate.mode",
        "'honour-system'",
        "'branch-protection', 'rulesets' or 'organization'",
    ),
    "p99-below-p95": (
        stack("  delivery-gate:thresholds:\n    latency: {p95TargetMs: 500, p99TargetMs: 200}\n"),
        "delivery-gate:thresholds.latency.p99TargetMs",
        "200",
        "at least p95TargetMs (500",
    ),
    "unknown-merge-gate-owner": (
        stack("  delivery-gate:mergeGate:\n    ownerEnvironment: qa\n"),
        "delivery-gate:mergeGate.ownerEnvironment",
        "'qa'",
        "one of dev, staging, production",
    ),
    "error-rate-increase-above-one": (
        stack("  delivery-gate:thresholds:\n    maxErrorRateIncrease: 5\n"),
        "delivery-gate:thresholds.maxErrorRateIncrease",
        "5",
        "at most 0.5 (50 percentage points): an error rate can never rise by more than 1",
    ),
    "zero-approvals": (
        stack("  delivery-gate:reviews:\n    requiredApprovals: 0\n"),
        "delivery-gate:reviews.requiredApprovals",
        "0",
        "greater than or equal to 1",
    ),
    "plain-text-github-token": (
        stack("  github:token: ghp_notasecret\n"),
        "github:token",
        "<redacted>",
        "pulumi config set --secret",
    ),
}


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    """A copy of the project whose dev stack file each case replaces."""
    return make_project({})


def run_plan(project: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text)
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    return code, capsys.readouterr().err


def test_there_are_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_fails_clearly_with_exit_2(
    case: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, path, value, allowed = CASES[case]
    code, err = run_plan(project, text, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert "stacks/Pulumi.dev.yaml" in err
    line = next((line for line in err.splitlines() if f"{path}:" in line), None)
    assert line is not None, f"no line names {path}:\n{err}"
    assert value in line, line
    assert allowed in line, line
    assert not (project / "build").exists() or not any((project / "build").rglob("plan.json"))


def test_the_secret_never_appears_in_the_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_plan(project, CASES["plain-text-github-token"][0], capsys)
    assert code == 2 and "ghp_notasecret" not in err


def test_yaml_syntax_error_names_file_and_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_plan(project, HEADER + "  delivery-gate:environment: [dev\n", capsys)
    assert code == 2 and "Traceback" not in err
    assert "stacks/Pulumi.dev.yaml" in err and "line" in err


def test_a_good_config_in_the_same_harness_plans(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The harness itself works: the same project with a valid stack file exits 0.
    code, err = run_plan(project, stack(""), capsys)
    assert code == 0, err
    assert (project / "build" / "dev" / "plan.json").is_file()


def test_structured_config_nested_too_deep_is_refused_under_pulumi_up() -> None:
    """`pulumi up` hands structured config to the program as JSON text, from a stack file the gate's
    YAML check (gate/policy/yamlguard.py) never read: a value nested deeper than Python's JSON reader
    goes is refused by the model with its path, not a traceback."""
    from gate.offline.engine import ProgramError, run_program  # noqa: PLC0415
    from tests.conftest import ROOT  # noqa: PLC0415

    config = {
        "github:owner": "acme",
        "delivery-gate:environment": "dev",
        "delivery-gate:repositories": '[{"name": "aos"}]',
        "delivery-gate:labels": "[" * 100_000 + "]" * 100_000,
    }
    with pytest.raises(ProgramError) as refused:  # the program's PolicyError, as `pulumi up` shows it
        run_program(ROOT / "__main__.py", project="delivery-gate", stack="dev", config=config)
    assert "invalid delivery-gate configuration" in str(refused.value)
    assert "delivery-gate:labels: got '[[[[" in str(refused.value)
