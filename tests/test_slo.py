"""The p95 target from a k6_slo_mapper suggestion file (M9 §Thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli import main as cli
from gate.errors import PolicyError
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.slo import with_suggested_p95
from tests.conftest import ROOT, ProjectFactory

STACK = (
    "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    "  delivery-gate:repositories:\n    - name: aos\n"
)


def suggestion(tmp_path: Path, fixture: str, headroom: str = "0.2") -> Path:
    out = tmp_path / "slo.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/k6_slo_mapper.py"),
            str(ROOT / "tests/fixtures/k6" / fixture),
            "--headroom",
            headroom,
            "--out",
            str(out),
        ],
        check=True,
    )
    return out


def test_the_mappers_suggested_p95_becomes_the_target(tmp_path: Path) -> None:
    path = suggestion(tmp_path, "handle-summary-pass.json")
    expected = json.loads(path.read_text())["suggested"]["p95_ms"]
    policy = load_policy(
        {
            "environment": "dev",
            "repositories": [{"name": "aos"}],
            "thresholds": {"latency": {"sloSuggestionFile": "slo.json", "p99TargetMs": 100000}},
        },
        stack="dev",
        github_owner="acme",
    )
    resolved = with_suggested_p95(policy, tmp_path, "stacks/Pulumi.dev.yaml")
    assert resolved.thresholds.latency.p95_target_ms == expected
    assert resolved.thresholds.latency.p95_target_ms != policy.thresholds.latency.p95_target_ms


def test_the_plan_exports_the_target_in_force(make_project: ProjectFactory, tmp_path: Path) -> None:
    path = suggestion(tmp_path, "handle-summary-pass.json")
    project = make_project(
        {
            "dev": STACK + "  delivery-gate:thresholds:\n    latency:\n"
            "      sloSuggestionFile: slo/suggestion.json\n      p99TargetMs: 100000\n"
        }
    )
    (project / "slo").mkdir()
    (project / "slo" / "suggestion.json").write_text(path.read_text())
    plan = build_plan(project, "dev")
    assert plan["outputs"]["latencyTargetsMs"]["p95"] == json.loads(path.read_text())["suggested"]["p95_ms"]
    assert build_plan(ROOT, "dev")["outputs"]["latencyTargetsMs"]["p95"] == 300


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such file"),
        ("{", "unreadable"),
        ('{"suggested": {"p95_ms": null}}', "suggested.p95_ms is None"),
    ],
)
def test_a_bad_suggestion_file_fails_before_any_resource(
    content: str | None, fragment: str, make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        {"dev": STACK + "  delivery-gate:thresholds:\n    latency:\n      sloSuggestionFile: slo.json\n"}
    )
    if content is not None:
        (project / "slo.json").write_text(content)
    code = cli.main(
        ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "delivery-gate:thresholds.latency.sloSuggestionFile: got 'slo.json'" in err
    assert fragment in err
    assert not (project / "build").exists()


def test_a_suggested_p95_above_the_p99_target_is_refused(tmp_path: Path) -> None:
    suggestion(tmp_path, "handle-summary-pass.json", headroom="10")
    policy = load_policy(
        {
            "environment": "dev",
            "repositories": [{"name": "aos"}],
            "thresholds": {"latency": {"sloSuggestionFile": "slo.json", "p95TargetMs": 1, "p99TargetMs": 1}},
        },
        stack="dev",
        github_owner="acme",
    )
    with pytest.raises(PolicyError, match="exceeds p99TargetMs"):
        with_suggested_p95(policy, tmp_path, "stacks/Pulumi.dev.yaml")
