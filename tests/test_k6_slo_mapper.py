"""tools/k6_slo_mapper.py: k6 summary (both shapes) -> SLO suggestion, its files and exit codes."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.k6_slo_mapper import (
    NOTE_NO_P99,
    FailedThreshold,
    Observed,
    SummaryError,
    build_report,
    main,
    parse_summary,
    render_json,
    suggest,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "k6_slo_mapper.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "k6"

# Default summaryTrendStats, http_req_failed 'rate<0.01' and the expected_response
# sub-metric's 'p(95)<300' exported as true (= failed), the others as false.
EXPORT = FIXTURES / "summary-export.json"
# summaryTrendStats with p(99), no failed request, every threshold false (= passed).
EXPORT_P99 = FIXTURES / "summary-export-p99.json"
# JSON.stringify(data) from handleSummary: p(99) present, every threshold {"ok": true}.
HANDLE_PASS = FIXTURES / "handle-summary-pass.json"
# JSON.stringify(data, null, 2) from handleSummary: three thresholds {"ok": false}.
HANDLE_FAIL = FIXTURES / "handle-summary-fail.json"


def load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def minimal_export(**duration: object) -> dict[str, object]:
    return {"metrics": {"http_req_duration": duration}, "root_group": {}}


# --------------------------------------------------------------------------- parse_summary


def test_summary_export_without_p99_reads_flat_metrics_and_value_rate() -> None:
    observed = parse_summary(load(EXPORT))

    assert observed == Observed(
        source_format="summary-export",
        p95_ms=312.48215,
        p99_ms=None,
        error_rate=0.015,
        failed_thresholds=(
            FailedThreshold("http_req_duration{expected_response:true}", "p(95)<300"),
            FailedThreshold("http_req_failed", "rate<0.01"),
        ),
    )


def test_summary_export_true_means_failed_and_false_means_passed() -> None:
    doc = load(EXPORT)
    assert isinstance(doc, dict)
    metrics = doc["metrics"]
    # The fixture holds both values; only the `true` ones are reported.
    assert metrics["http_req_duration"]["thresholds"] == {"p(95)<500": False}
    assert metrics["http_req_failed"]["thresholds"] == {"rate<0.01": True}
    assert metrics["checks"]["thresholds"] == {"rate>0.95": False}

    failed = {item.metric for item in parse_summary(doc).failed_thresholds}

    assert "http_req_failed" in failed
    assert "http_req_duration" not in failed
    assert "checks" not in failed


def test_summary_export_http_req_failed_passes_count_the_failed_requests() -> None:
    # k6 quirk: http_req_failed records 1 per failed request and a rate's `passes` counts the
    # non-zero samples, so `passes` is the number of FAILED requests; the rate is `value`.
    doc = load(EXPORT)
    assert isinstance(doc, dict)
    failed_metric = doc["metrics"]["http_req_failed"]
    assert "rate" not in failed_metric
    assert (
        failed_metric["passes"] / (failed_metric["passes"] + failed_metric["fails"]) == failed_metric["value"]
    )

    assert parse_summary(doc).error_rate == failed_metric["value"] == 0.015


def test_summary_export_with_p99_and_no_failures() -> None:
    observed = parse_summary(load(EXPORT_P99))

    assert observed == Observed(
        source_format="summary-export",
        p95_ms=87.3109,
        p99_ms=140.1,
        error_rate=0.0,
        failed_thresholds=(),
    )


def test_handle_summary_all_ok_reports_no_failed_threshold() -> None:
    observed = parse_summary(load(HANDLE_PASS))

    assert observed == Observed(
        source_format="handle-summary",
        p95_ms=143.95,
        p99_ms=250.0,
        error_rate=0.0025,
        failed_thresholds=(),
    )


def test_handle_summary_ok_false_means_failed_sorted_by_metric_then_threshold() -> None:
    observed = parse_summary(load(HANDLE_FAIL))

    assert observed.source_format == "handle-summary"
    assert (observed.p95_ms, observed.p99_ms, observed.error_rate) == (612.7781, 1490.2264, 0.0421875)
    # 'p(99)<1500' is {"ok": true} in the fixture and must not be listed.
    assert observed.failed_thresholds == (
        FailedThreshold("checks", "rate>0.99"),
        FailedThreshold("http_req_duration", "p(95)<500"),
        FailedThreshold("http_req_failed", "rate<0.01"),
    )


def test_the_two_threshold_encodings_are_opposite() -> None:
    def failed(doc: object) -> tuple[FailedThreshold, ...]:
        return parse_summary(doc).failed_thresholds

    export_failed = minimal_export(**{"p(95)": 10, "thresholds": {"p(95)<5": True}})
    export_passed = minimal_export(**{"p(95)": 1, "thresholds": {"p(95)<5": False}})
    handle_failed = {
        "metrics": {"http_req_duration": {"values": {"p(95)": 10}, "thresholds": {"p(95)<5": {"ok": False}}}}
    }
    handle_passed = {
        "metrics": {"http_req_duration": {"values": {"p(95)": 1}, "thresholds": {"p(95)<5": {"ok": True}}}}
    }

    assert (
        failed(export_failed) == failed(handle_failed) == (FailedThreshold("http_req_duration", "p(95)<5"),)
    )
    assert failed(export_passed) == failed(handle_passed) == ()


def test_a_missing_http_req_failed_gives_a_null_error_rate() -> None:
    observed = parse_summary(minimal_export(**{"p(95)": 120.5}))

    assert observed.error_rate is None
    assert suggest(observed, 0.2)["error_rate"] is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "not an object"),
        ({"root_group": {}}, "no 'metrics' object"),
        ({"metrics": {"http_reqs": {"count": 3}}}, "no metrics.http_req_duration"),
        ({"metrics": {"http_req_duration": {"type": "trend"}}}, "neither 'values'"),
        ({"metrics": {"http_req_duration": {"values": [1, 2]}}}, "values is not an object"),
        (minimal_export(avg=3.0, med=2.0), "has no p(95)"),
        (minimal_export(**{"p(95)": "12ms"}), "expected a number"),
        (minimal_export(**{"p(95)": True}), "expected a number"),
        (minimal_export(**{"p(95)": -1}), "expected a finite number >= 0"),
        (
            {"metrics": {"http_req_duration": {"p(95)": 1}, "http_req_failed": {"passes": 1, "fails": 1}}},
            "http_req_failed has no 'value'",
        ),
        (
            {"metrics": {"http_req_duration": {"p(95)": 1}, "http_req_failed": {"value": 1.5}}},
            "within [0, 1]",
        ),
        (minimal_export(**{"p(95)": 1, "thresholds": {"p(95)<5": {"ok": True}}}), "not a boolean"),
        ({"metrics": {"http_req_duration": {"values": {"p(95)": 1}, "thresholds": {"x": True}}}}, '"ok"'),
    ],
)
def test_parse_summary_rejects_what_is_not_a_usable_summary(doc: object, message: str) -> None:
    with pytest.raises(SummaryError, match=re.escape(message)):
        parse_summary(doc)


# --------------------------------------------------------------------------- suggest


def test_suggest_from_fixtures_default_headroom() -> None:
    assert suggest(parse_summary(load(EXPORT)), 0.2) == {"p95_ms": 375, "p99_ms": None, "error_rate": 0.018}
    assert suggest(parse_summary(load(EXPORT_P99)), 0.2) == {
        "p95_ms": 105,
        "p99_ms": 169,
        "error_rate": 0.001,
    }
    assert suggest(parse_summary(load(HANDLE_PASS)), 0.2) == {
        "p95_ms": 173,
        "p99_ms": 300,
        "error_rate": 0.003,
    }
    assert suggest(parse_summary(load(HANDLE_FAIL)), 0.2) == {
        "p95_ms": 736,
        "p99_ms": 1789,
        "error_rate": 0.0507,
    }


def observed(p95: float, p99: float | None = None, error_rate: float | None = None) -> Observed:
    return Observed("handle-summary", p95, p99, error_rate, ())


def test_suggest_does_not_round_binary_float_noise_up() -> None:
    # In binary floating point 100 * 1.1 == 110.00000000000001 and 0.01 * 1.1 == 0.011000000000000001,
    # which a naive ceil would make 111 ms and 0.0111.
    assert 100 * (1 + 0.1) > 110 and 0.01 * (1 + 0.1) > 0.011
    assert suggest(observed(100.0, 250.0, 0.01), 0.1) == {"p95_ms": 110, "p99_ms": 275, "error_rate": 0.011}


def test_suggest_with_zero_headroom_only_rounds_up() -> None:
    assert suggest(observed(312.48215, 400.0, 0.01234), 0) == {
        "p95_ms": 313,
        "p99_ms": 400,
        "error_rate": 0.0124,
    }


def test_suggest_floors_and_caps() -> None:
    assert suggest(observed(0.0, 0.2, 0.0), 0.2) == {"p95_ms": 1, "p99_ms": 1, "error_rate": 0.001}
    assert suggest(observed(10.0, None, 0.0005), 0.2)["error_rate"] == 0.001
    assert suggest(observed(10.0, None, 0.9), 0.5)["error_rate"] == 1.0
    assert suggest(observed(10.0, None, 1.0), 10)["error_rate"] == 1.0


def test_suggest_never_invents_p99() -> None:
    assert suggest(observed(150.0, None, 0.0), 0.2)["p99_ms"] is None


@pytest.mark.parametrize("headroom", [-0.01, 10.01, float("nan"), float("inf")])
def test_suggest_rejects_headroom_outside_zero_to_ten(headroom: float) -> None:
    with pytest.raises(ValueError, match=r"headroom must be a number in \[0, 10\]"):
        suggest(observed(1.0), headroom)


def test_report_shape_and_notes() -> None:
    report = build_report(parse_summary(load(EXPORT)), 0.2)

    assert report == {
        "source_format": "summary-export",
        "headroom": 0.2,
        "observed": {"p95_ms": 312.48215, "p99_ms": None, "error_rate": 0.015},
        "suggested": {"p95_ms": 375, "p99_ms": None, "error_rate": 0.018},
        "failed_thresholds": [
            {"metric": "http_req_duration{expected_response:true}", "threshold": "p(95)<300"},
            {"metric": "http_req_failed", "threshold": "rate<0.01"},
        ],
        "notes": [NOTE_NO_P99],
    }
    assert "p(99)" in NOTE_NO_P99 and "summaryTrendStats" in NOTE_NO_P99
    assert build_report(parse_summary(load(HANDLE_PASS)), 0.2)["notes"] == []


# --------------------------------------------------------------------------- command line


def test_json_goes_to_stdout_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, str(HANDLE_FAIL), "--headroom", "0.5")

    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "source_format": "handle-summary",
        "headroom": 0.5,
        "observed": {"p95_ms": 612.7781, "p99_ms": 1490.2264, "error_rate": 0.0421875},
        "suggested": {"p95_ms": 920, "p99_ms": 2236, "error_rate": 0.0633},
        "failed_thresholds": [
            {"metric": "checks", "threshold": "rate>0.99"},
            {"metric": "http_req_duration", "threshold": "p(95)<500"},
            {"metric": "http_req_failed", "threshold": "rate<0.01"},
        ],
        "notes": [],
    }


def test_out_writes_the_same_bytes_and_leaves_stdout_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, stdout_json, _ = run_main(capsys, str(EXPORT))
    out = tmp_path / "slo.json"

    code, out_stdout, err = run_main(capsys, str(EXPORT), "--out", str(out))

    assert (code, out_stdout, err) == (0, "", "")
    assert out.read_bytes() == stdout_json.encode("utf-8")


def test_output_is_canonical_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "slo.json"
    assert run_main(capsys, str(EXPORT_P99), "--out", str(out))[0] == 0
    text = out.read_text(encoding="utf-8")

    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert text.startswith('{\n  "failed_thresholds": [],\n  "headroom": 0.2,\n')


def test_same_input_gives_the_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        args = [
            str(HANDLE_FAIL),
            "--out",
            str(tmp_path / f"{name}.json"),
            "--markdown",
            str(tmp_path / f"{name}.md"),
        ]
        assert run_main(capsys, *args)[0] == 0

    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.md").read_bytes() == (tmp_path / "b.md").read_bytes()
    assert (
        render_json(build_report(parse_summary(load(HANDLE_FAIL)), 0.2)) == (tmp_path / "a.json").read_text()
    )


def test_markdown_table_and_failed_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "step-summary.md"

    assert run_main(capsys, str(EXPORT), "--markdown", str(summary))[0] == 0

    assert summary.read_text(encoding="utf-8") == (
        "### k6 SLO suggestion\n"
        "\n"
        "Source: k6 `summary-export` summary, headroom 20%.\n"
        "\n"
        "| Objective | Observed | Suggested |\n"
        "| --- | ---: | ---: |\n"
        "| p95 latency | 312.48 ms | 375 ms |\n"
        "| p99 latency | not exported | not exported |\n"
        "| Error rate | 1.50% | 1.80% |\n"
        "\n"
        "**Failed k6 thresholds (2):**\n"
        "\n"
        "- `http_req_duration{expected_response:true}`: `p(95)<300`\n"
        "- `http_req_failed`: `rate<0.01`\n"
    )


def test_markdown_appends_as_github_step_summary_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("## Earlier step\n\n", encoding="utf-8")

    assert run_main(capsys, str(HANDLE_PASS), "--markdown", str(summary), "--headroom", "0.125")[0] == 0
    assert run_main(capsys, str(HANDLE_PASS), "--markdown", str(summary), "--headroom", "0.125")[0] == 0

    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Earlier step\n\n### k6 SLO suggestion\n")
    assert text.count("### k6 SLO suggestion") == 2
    assert "headroom 12.5%." in text
    assert "| p99 latency | 250.00 ms | 282 ms |" in text
    assert "| Error rate | 0.25% | 0.29% |" in text
    assert "No k6 threshold failed." in text


def test_exit_0_with_failed_thresholds_unless_fail_on_breach(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, str(HANDLE_FAIL))[0] == 0
    assert run_main(capsys, str(EXPORT_P99), "--fail-on-breach")[0] == 0
    assert run_main(capsys, str(HANDLE_PASS), "--fail-on-breach")[0] == 0


def test_fail_on_breach_exits_1_after_writing_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, summary = tmp_path / "slo.json", tmp_path / "summary.md"

    code, stdout, err = run_main(
        capsys, str(EXPORT), "--fail-on-breach", "--out", str(out), "--markdown", str(summary)
    )

    assert (code, stdout) == (1, "")
    assert "2 k6 threshold(s) failed" in err
    assert json.loads(out.read_text())["failed_thresholds"][1] == {
        "metric": "http_req_failed",
        "threshold": "rate<0.01",
    }
    assert "**Failed k6 thresholds (2):**" in summary.read_text()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("broken.json", '{"metrics": {', "invalid JSON (line 1"),
        ("empty.json", "", "invalid JSON"),
        ("nan.json", '{"metrics": {"http_req_duration": {"p(95)": NaN}}}', "non-standard constant NaN"),
        # `k6 run --out json=FILE` writes one JSON object per line, not a summary.
        (
            "stream.json",
            '{"type":"Metric","data":{"type":"trend"},"metric":"http_req_duration"}\n'
            '{"type":"Point","data":{"value":12.5},"metric":"http_req_duration"}\n',
            "a --out json stream is not one",
        ),
        ("other.json", '{"metrics": {"iterations": {"count": 3}}}', "no metrics.http_req_duration"),
        ("list.json", "[1, 2]", "the JSON is an array"),
    ],
)
def test_exit_2_on_input_problems_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)

    code, out, err = run_main(capsys, path, "--fail-on-breach")

    assert (code, out) == (2, "")
    assert err.startswith(f"k6_slo_mapper: error: {path}: ")
    assert message in err
    assert "Traceback" not in err


def test_exit_2_on_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"

    code, out, err = run_main(capsys, str(missing))
    assert (code, out) == (2, "")
    assert "cannot read the file: No such file or directory" in err

    code, _, err = run_main(capsys, str(tmp_path))
    assert code == 2 and "cannot read the file" in err

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"x": "\xe9"}')
    code, _, err = run_main(capsys, str(latin1))
    assert code == 2 and "not UTF-8" in err


@pytest.mark.parametrize("headroom", ["-0.1", "10.5", "nan", "inf", "twenty"])
def test_exit_2_on_bad_headroom(capsys: pytest.CaptureFixture[str], headroom: str) -> None:
    code, out, err = run_main(capsys, str(EXPORT), f"--headroom={headroom}")

    assert (code, out) == (2, "")
    assert "--headroom: must be a number in [0, 10]" in err


@pytest.mark.parametrize("headroom", ["0", "10"])
def test_headroom_bounds_are_inclusive(capsys: pytest.CaptureFixture[str], headroom: str) -> None:
    code, out, _ = run_main(capsys, str(EXPORT), "--headroom", headroom)

    assert code == 0
    assert json.loads(out)["suggested"]["p95_ms"] == {"0": 313, "10": 3438}[headroom]


def test_exit_2_when_the_output_cannot_be_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, str(EXPORT), "--out", str(tmp_path / "missing-dir" / "slo.json"))

    assert code == 2
    assert "cannot write output" in err and "Traceback" not in err


def test_missing_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys)

    assert code == 2
    assert "usage: k6_slo_mapper" in err


# --------------------------------------------------------------------------- standalone


def test_runs_standalone_outside_the_project(tmp_path: Path) -> None:
    """As the workflow runs it in a gated repository: a bare file, no project on sys.path."""
    out, summary = tmp_path / "slo.json", tmp_path / "summary.md"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    ok = subprocess.run(
        # -I: isolated mode, so neither the cwd, the script's folder nor PYTHONPATH is importable.
        [sys.executable, "-I", str(SCRIPT), str(HANDLE_PASS), "--out", str(out), "--markdown", str(summary)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    breach = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(EXPORT), "--fail-on-breach"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    bad = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "does-not-exist.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    assert json.loads(out.read_text())["suggested"] == {"p95_ms": 173, "p99_ms": 300, "error_rate": 0.003}
    assert "| p95 latency | 143.95 ms | 173 ms |" in summary.read_text()
    assert breach.returncode == 1
    assert json.loads(breach.stdout)["source_format"] == "summary-export"
    assert bad.returncode == 2
    assert bad.stderr == (
        "k6_slo_mapper: error: does-not-exist.json: cannot read the file: No such file or directory\n"
    )


def test_script_imports_only_the_standard_library() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]

    assert imported, "the parse found no imports at all"
    assert imported <= sys.stdlib_module_names | {"__future__"}
    assert relative == []
