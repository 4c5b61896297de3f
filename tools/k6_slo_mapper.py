#!/usr/bin/env python3
"""Turn a k6 end-of-test summary into an SLO suggestion (stdlib only).

This file is copied verbatim into every gated repository and run there by a
GitHub workflow, so it imports nothing but the standard library and nothing
from this project.

Usage::

    python tools/k6_slo_mapper.py SUMMARY.json [--headroom FRACTION]
                                  [--out FILE] [--markdown FILE]
                                  [--fail-on-breach]

Input: either shape k6 writes (the shape is detected, not the file name).

* ``summary-export``: the legacy ``k6 run --summary-export=FILE``. Metrics
  are flat (``metrics.http_req_duration["p(95)"]``), a rate lives under
  ``value``, and a threshold maps to a bare boolean that is ``true`` when
  the threshold FAILED (k6 writes ``!ok``; grafana/k6#1498 and
  grafana/k6-docs#30).
* ``handle-summary``: ``JSON.stringify(data)`` from
  ``export function handleSummary(data)``. Metrics carry
  ``type``/``contains``/``values``, a rate lives under ``values.rate`` and
  a threshold maps to ``{"ok": bool}`` -- ``ok: false`` means it failed.

In both shapes, for a *rate* metric ``passes`` counts the non-zero samples.
For ``http_req_failed`` a non-zero sample is a failed request, so ``passes``
is the number of FAILED requests and ``fails`` the successful ones
(grafana/k6#2386). This script only reads the rate, which means the same
thing in both shapes: the fraction of failed requests.

Trend values are milliseconds whatever ``summaryTimeUnit`` says (that option
only changes the text summary). ``p(99)`` is present only when the test's
``summaryTrendStats`` asked for it; the default is
``avg, min, med, max, p(90), p(95)``.

Output (JSON, sorted keys, indent 2, trailing newline; the same input always
gives the same bytes)::

    source_format      "summary-export" | "handle-summary"
    headroom           the fraction used
    observed           {p95_ms, p99_ms, error_rate}  (as k6 reported them)
    suggested          {p95_ms, p99_ms, error_rate}
    failed_thresholds  [{metric, threshold}, ...] sorted, across every
                       metric and sub-metric
    notes              [str, ...]  why a value is null, in a fixed order

Formulas, with ``h`` the headroom (default 0.2, allowed range [0, 10]);
arithmetic is done in decimal on the shortest repr of each float, so
100 ms x 1.1 is 110, not 110.00000000000001 -> 111:

* latency:    ``suggested_ms = max(1, ceil(observed_ms * (1 + h)))`` --
  whole milliseconds, rounded up so the suggestion is never tighter than
  what was measured; at least 1 ms because a 0 ms objective cannot be met.
* p99:        same formula; ``null`` when k6 did not export p(99). It is
  never derived from p95 or max: a guessed tail percentile would look like
  a measurement.
* error rate:
  ``suggested = min(1, max(0.001, ceil_0.0001(observed * (1 + h))))`` --
  the observed rate plus ``observed * h`` of slack, rounded up to 0.01 %,
  never below 0.1 % (a zero-error run must not produce a zero-error
  objective, which one failure breaks) and never above 1. ``null`` when
  the summary has no ``http_req_failed`` metric (k6 older than v0.31, or a
  test that made no HTTP requests).

Exit codes: 0 written; 1 written, but ``--fail-on-breach`` and at least one
k6 threshold failed; 2 a usage or input problem (unreadable file, invalid
JSON, neither shape, headroom outside [0, 10]) reported on stderr as one
line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import NoReturn

SOURCE_SUMMARY_EXPORT = "summary-export"
SOURCE_HANDLE_SUMMARY = "handle-summary"

DEFAULT_HEADROOM = 0.2
MIN_HEADROOM = 0.0
MAX_HEADROOM = 10.0

ERROR_RATE_FLOOR = Decimal("0.001")
ERROR_RATE_STEP = Decimal("0.0001")
MIN_LATENCY_MS = 1

EXIT_OK = 0
EXIT_BREACH = 1
EXIT_PROBLEM = 2

DURATION_METRIC = "http_req_duration"
FAILED_METRIC = "http_req_failed"

# Keys a flat (summary-export) trend can hold; used to recognise that shape.
_TREND_STAT_NAMES = frozenset({"avg", "min", "med", "max", "count"})

PROG = "k6_slo_mapper"

NOTE_NO_P99 = (
    "k6 did not export p(99) for http_req_duration, so no p99 objective "
    "is suggested; "
    "add p(99) to the test's summaryTrendStats "
    "(e.g. --summary-trend-stats='avg,min,med,max,p(90),p(95),p(99)')."
)
NOTE_NO_ERROR_RATE = (
    "the summary has no http_req_failed metric (k6 older than v0.31, "
    "or no HTTP requests), "
    "so no error-rate objective is suggested."
)


class SummaryError(ValueError):
    """The input is not a usable k6 end-of-test summary; the message says
    why.
    """


@dataclass(frozen=True, order=True)
class FailedThreshold:
    """One k6 threshold that failed: the metric (or sub-metric) and its
    expression as written.
    """

    metric: str
    threshold: str


@dataclass(frozen=True)
class Observed:
    """What the k6 summary reports, normalised across both shapes."""

    source_format: str
    p95_ms: float
    p99_ms: float | None
    error_rate: float | None
    failed_thresholds: tuple[FailedThreshold, ...]


# ---------------------------------------------------------------- parsing


def parse_summary(doc: object) -> Observed:
    """Read a decoded k6 summary of either shape; raise SummaryError when it
    is neither.
    """
    metrics = _metrics_of(doc)
    source_format = _detect_format(metrics.get(DURATION_METRIC))
    duration = _stats_of(
        DURATION_METRIC, metrics[DURATION_METRIC], source_format
    )
    if duration.get("p(95)") is None:
        raise SummaryError(
            "http_req_duration has no p(95); keep p(95) in the test's "
            "summaryTrendStats"
        )
    return Observed(
        source_format=source_format,
        p95_ms=_non_negative(duration["p(95)"], "http_req_duration p(95)"),
        p99_ms=_optional_non_negative(
            duration.get("p(99)"), "http_req_duration p(99)"
        ),
        error_rate=_error_rate(metrics.get(FAILED_METRIC), source_format),
        failed_thresholds=_failed_thresholds(metrics, source_format),
    )


def _metrics_of(doc: object) -> dict[str, object]:
    if not isinstance(doc, dict):
        raise SummaryError(
            f"the JSON is {_json_kind(doc)}, not an object: "
            "not a k6 end-of-test summary"
        )
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict):
        raise SummaryError(
            "no 'metrics' object: neither a k6 --summary-export file "
            "nor handleSummary() JSON"
        )
    return metrics


def _detect_format(duration: object) -> str:
    """The shape is decided once, by http_req_duration, and then applied to
    every metric.
    """
    if not isinstance(duration, dict):
        raise SummaryError(
            "no metrics.http_req_duration object: "
            "neither a k6 --summary-export file "
            "nor handleSummary() JSON (did the test make HTTP requests?)"
        )
    if "values" in duration:
        if isinstance(duration["values"], dict):
            return SOURCE_HANDLE_SUMMARY
        raise SummaryError("metrics.http_req_duration.values is not an object")
    if any(
        key in _TREND_STAT_NAMES or key.startswith("p(") for key in duration
    ):
        return SOURCE_SUMMARY_EXPORT
    raise SummaryError(
        "metrics.http_req_duration has neither 'values' (handleSummary) "
        "nor flat trend "
        "statistics such as 'p(95)' (--summary-export)"
    )


def _stats_of(
    name: str, metric: object, source_format: str
) -> dict[str, object]:
    """The statistics of one metric: nested under 'values' in handleSummary,
    flat in the export.
    """
    if not isinstance(metric, dict):
        raise SummaryError(f"metrics.{name} is not an object")
    if source_format == SOURCE_SUMMARY_EXPORT:
        return metric
    values = metric.get("values")
    if not isinstance(values, dict):
        raise SummaryError(
            f"metrics.{name} has no 'values' object (handleSummary shape)"
        )
    return values


def _error_rate(metric: object, source_format: str) -> float | None:
    if metric is None:
        return None
    stats = _stats_of(FAILED_METRIC, metric, source_format)
    # The export renames a rate metric's 'rate' to 'value'
    # (k6's summary-wrapper.js: "sigh...").
    key = "value" if source_format == SOURCE_SUMMARY_EXPORT else "rate"
    if key not in stats:
        raise SummaryError(f"metrics.http_req_failed has no '{key}'")
    rate = _non_negative(stats[key], f"http_req_failed {key}")
    if rate > 1:
        raise SummaryError(
            f"http_req_failed {key} is {rate}, a rate must be within [0, 1]"
        )
    return rate


def _failed_thresholds(
    metrics: dict[str, object], source_format: str
) -> tuple[FailedThreshold, ...]:
    failed = [
        FailedThreshold(metric=name, threshold=expression)
        for name, metric in metrics.items()
        for expression, result in _thresholds_of(name, metric).items()
        if _threshold_failed(name, expression, result, source_format)
    ]
    return tuple(sorted(failed))


def _thresholds_of(name: str, metric: object) -> dict[str, object]:
    if not isinstance(metric, dict):
        raise SummaryError(f"metrics.{name} is not an object")
    thresholds = metric.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise SummaryError(f"metrics.{name}.thresholds is not an object")
    return thresholds


def _threshold_failed(
    name: str, expression: str, result: object, source_format: str
) -> bool:
    where = f"threshold {expression!r} of {name}"
    if source_format == SOURCE_SUMMARY_EXPORT:
        # Inverted on purpose by k6: the exported boolean is "failed",
        # not "ok".
        if not isinstance(result, bool):
            raise SummaryError(
                f"{where} is not a boolean (--summary-export shape)"
            )
        return result
    ok = result.get("ok") if isinstance(result, dict) else None
    if not isinstance(ok, bool):
        raise SummaryError(
            f'{where} is not {{"ok": true|false}} (handleSummary shape)'
        )
    return not ok


def _optional_non_negative(value: object, what: str) -> float | None:
    # JSON.stringify turns NaN into null, so a present-but-null statistic is
    # "not measured".
    return None if value is None else _non_negative(value, what)


def _non_negative(value: object, what: str) -> float:
    # bool is an int in Python; a boolean where a statistic belongs is a
    # malformed file.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SummaryError(f"{what} is {_json_kind(value)}, expected a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise SummaryError(
            f"{what} is {number}, expected a finite number >= 0"
        )
    return number


def _json_kind(value: object) -> str:
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"),
        (int, "a number"),
        (float, "a number"),
        (str, "a string"),
        (list, "an array"),
        (dict, "an object"),
    )
    return next(
        (kind for cls, kind in kinds if isinstance(value, cls)), "null"
    )


# ---------------------------------------------------------------- suggestion


def suggest(
    observed: Observed, headroom: float
) -> dict[str, float | int | None]:
    """Suggested objectives (formulas in the module docstring); None where k6
    measured nothing.
    """
    _check_headroom(headroom)
    factor = 1 + _decimal(headroom)
    return {
        "p95_ms": _suggest_latency(observed.p95_ms, factor),
        "p99_ms": None
        if observed.p99_ms is None
        else _suggest_latency(observed.p99_ms, factor),
        "error_rate": (
            None
            if observed.error_rate is None
            else _suggest_error_rate(observed.error_rate, factor)
        ),
    }


def _suggest_latency(observed_ms: float, factor: Decimal) -> int:
    scaled = _decimal(observed_ms) * factor
    return max(
        MIN_LATENCY_MS, int(scaled.to_integral_value(rounding=ROUND_CEILING))
    )


def _suggest_error_rate(observed: float, factor: Decimal) -> float:
    scaled = (_decimal(observed) * factor).quantize(
        ERROR_RATE_STEP, rounding=ROUND_CEILING
    )
    return float(min(Decimal(1), max(ERROR_RATE_FLOOR, scaled)))


def _decimal(value: float) -> Decimal:
    # repr() is the shortest string that round-trips, i.e. the number as k6
    # wrote it; Decimal(float) would instead carry the binary error
    # (0.2 -> 0.2000000000000000111...).
    return Decimal(repr(value))


def _check_headroom(headroom: float) -> None:
    # Written so that NaN (for which every comparison is false) is rejected
    # too.
    if not MIN_HEADROOM <= headroom <= MAX_HEADROOM:
        raise ValueError(
            "headroom must be a number in "
            f"[{MIN_HEADROOM:g}, {MAX_HEADROOM:g}], got {headroom!r}"
        )


# ---------------------------------------------------------------- report


def build_report(observed: Observed, headroom: float) -> dict[str, object]:
    """The whole JSON document written by the script."""
    return {
        "source_format": observed.source_format,
        "headroom": headroom,
        "observed": {
            "p95_ms": observed.p95_ms,
            "p99_ms": observed.p99_ms,
            "error_rate": observed.error_rate,
        },
        "suggested": suggest(observed, headroom),
        "failed_thresholds": [
            {"metric": item.metric, "threshold": item.threshold}
            for item in observed.failed_thresholds
        ],
        "notes": _notes(observed),
    }


def _notes(observed: Observed) -> list[str]:
    notes = []
    if observed.p99_ms is None:
        notes.append(NOTE_NO_P99)
    if observed.error_rate is None:
        notes.append(NOTE_NO_ERROR_RATE)
    return notes


def render_json(report: dict[str, object]) -> str:
    """Canonical text: sorted keys and fixed layout, so equal reports are
    equal bytes.
    """
    return (
        json.dumps(
            report,
            sort_keys=True,
            indent=2,
            ensure_ascii=False,
            allow_nan=False,
        )
        + "\n"
    )


def render_markdown(
    observed: Observed,
    suggested: dict[str, float | int | None],
    headroom: float,
) -> str:
    """A short block for $GITHUB_STEP_SUMMARY: observed vs suggested, then
    the failed thresholds.
    """
    lines = [
        "### k6 SLO suggestion",
        "",
        (
            f"Source: k6 `{observed.source_format}` summary, "
            f"headroom {_percent_text(headroom)}."
        ),
        "",
        "| Objective | Observed | Suggested |",
        "| --- | ---: | ---: |",
        (
            f"| p95 latency | {_ms_text(observed.p95_ms)} "
            f"| {_ms_text(suggested['p95_ms'])} |"
        ),
        (
            f"| p99 latency | {_ms_text(observed.p99_ms)} "
            f"| {_ms_text(suggested['p99_ms'])} |"
        ),
        (
            f"| Error rate | {_rate_text(observed.error_rate)} "
            f"| {_rate_text(suggested['error_rate'])} |"
        ),
        "",
    ]
    lines.extend(_failed_lines(observed.failed_thresholds))
    return "\n".join(lines) + "\n"


def _failed_lines(failed: tuple[FailedThreshold, ...]) -> list[str]:
    if not failed:
        return ["No k6 threshold failed."]
    lines = [f"**Failed k6 thresholds ({len(failed)}):**", ""]
    lines.extend(f"- `{item.metric}`: `{item.threshold}`" for item in failed)
    return lines


def _ms_text(value: float | None) -> str:
    if value is None:
        return "not exported"
    return f"{value:,.2f} ms" if isinstance(value, float) else f"{value:,} ms"


def _rate_text(value: float | None) -> str:
    if value is None:
        return "not exported"
    if 0 < value < 0.0001:
        # Two decimals of a percent would print a real (tiny) error rate as
        # 0.00 %.
        return "< 0.01%"
    return f"{value * 100:.2f}%"


def _percent_text(fraction: float) -> str:
    return format((_decimal(fraction) * 100).normalize(), "f") + "%"


# ---------------------------------------------------------------- command line


def _headroom_arg(text: str) -> float:
    try:
        value = float(text)
        _check_headroom(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number in [{MIN_HEADROOM:g}, {MAX_HEADROOM:g}] "
            f"(a fraction: 0.2 = 20%), got {text!r}"
        ) from None
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Suggest SLO targets (p95, p99, error rate) "
        "from a k6 end-of-test summary "
        "(--summary-export file or handleSummary() JSON).",
    )
    parser.add_argument(
        "summary", metavar="SUMMARY.json", help="the k6 summary to read"
    )
    parser.add_argument(
        "--headroom",
        type=_headroom_arg,
        default=DEFAULT_HEADROOM,
        metavar="FRACTION",
        help="slack added to the observed values, in [0, 10] "
        f"(default {DEFAULT_HEADROOM})",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="write the JSON here instead of stdout"
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help='append a Markdown summary to FILE (e.g. "$GITHUB_STEP_SUMMARY")',
    )
    parser.add_argument(
        "--fail-on-breach",
        action="store_true",
        help="exit 1 (after writing the outputs) when any k6 threshold failed",
    )
    return parser


def load_summary(path: str) -> object:
    """Decoded JSON of the file at path; SummaryError for anything that keeps
    it from being read.
    """
    try:
        # utf-8-sig: files written by PowerShell start with a byte-order mark.
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as exc:
        raise SummaryError(
            f"cannot read the file: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise SummaryError("the file is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SummaryError(
            f"invalid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); "
            "expected one k6 end-of-test summary object "
            "(a --out json stream is not one)"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SummaryError(f"invalid JSON: {exc}") from None


def _reject_constant(name: str) -> NoReturn:
    # Python accepts NaN/Infinity by default; standard JSON (and k6) never
    # writes them.
    raise ValueError(f"non-standard constant {name}")


def _write_text(path: str, text: str, mode: str) -> None:
    # newline="\n": the same bytes on every runner OS.
    with open(path, mode, encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _problem(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_PROBLEM


def _parse_args(argv: list[str] | None) -> argparse.Namespace | int:
    try:
        return _parser().parse_args(argv)
    except SystemExit as exc:
        # argparse has already printed usage or help; hand its code back
        # instead of exiting.
        return exc.code if isinstance(exc.code, int) else EXIT_PROBLEM


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 breach with
    --fail-on-breach, 2 problem).
    """
    args = _parse_args(argv)
    if isinstance(args, int):
        return args
    try:
        observed = parse_summary(load_summary(args.summary))
    except SummaryError as exc:
        return _problem(f"{args.summary}: {exc}")
    suggested = suggest(observed, args.headroom)
    try:
        _emit(observed, suggested, args)
    except OSError as exc:
        return _problem(f"cannot write output: {exc}")
    if args.fail_on_breach and observed.failed_thresholds:
        count = len(observed.failed_thresholds)
        print(
            f"{PROG}: {count} k6 threshold(s) failed (--fail-on-breach)",
            file=sys.stderr,
        )
        return EXIT_BREACH
    return EXIT_OK


def _emit(
    observed: Observed,
    suggested: dict[str, float | int | None],
    args: argparse.Namespace,
) -> None:
    text = render_json(build_report(observed, args.headroom))
    if args.out:
        _write_text(args.out, text, "w")
    else:
        sys.stdout.write(text)
    if args.markdown:
        # Append: GitHub concatenates what every step writes to
        # $GITHUB_STEP_SUMMARY.
        _write_text(
            args.markdown,
            render_markdown(observed, suggested, args.headroom),
            "a",
        )


if __name__ == "__main__":
    sys.exit(main())
