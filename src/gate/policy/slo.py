"""The p95 target from a k6_slo_mapper suggestion (M9 §Thresholds: "p95 > target (from SLO mapper)").

A stack that sets `thresholds.latency.sloSuggestionFile` uses the suggestion's p95 instead of
`p95TargetMs`; the alerts read `policy.thresholds.latency.p95_target_ms` either way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from gate.errors import PolicyError, Problem
from gate.policy.model import GatePolicy
from gate.policy.yamlguard import UnreadableFile, read_bounded

FIELD = "delivery-gate:thresholds.latency.sloSuggestionFile"
# A suggestion is a few hundred bytes; the limit keeps a wrong path (a log, a device) from being read.
MAX_SUGGESTION_BYTES = 64 * 1024


def suggested_p95_ms(path: Path, shown: str, source: str) -> float:
    """`suggested.p95_ms` of a k6_slo_mapper output file, or a PolicyError saying what is wrong."""

    def fail(allowed: str) -> PolicyError:
        return PolicyError(source, [Problem(FIELD, shown, allowed)])

    try:
        document = json.loads(read_bounded(path, MAX_SUGGESTION_BYTES).decode("utf-8"))
    except UnreadableFile as error:
        where = f" (relative to {path.parent})" if str(error) == "no such file" else ""
        raise fail(
            f"{error}{where}; allowed: a k6_slo_mapper --out file, a regular file of at most "
            f"{MAX_SUGGESTION_BYTES} bytes (64 KiB)"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise fail(f"unreadable ({error}); allowed: a k6_slo_mapper --out file") from None
    suggested = document.get("suggested") if isinstance(document, dict) else None
    value = suggested.get("p95_ms") if isinstance(suggested, dict) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise fail(f"suggested.p95_ms is {value!r}; allowed: a k6_slo_mapper --out file with a positive p95")
    return float(value)


def with_suggested_p95(policy: GatePolicy, project_dir: Path, source: str) -> GatePolicy:
    """The policy with p95TargetMs taken from the suggestion file, when the stack names one."""
    latency = policy.thresholds.latency
    if latency.slo_suggestion_file is None:
        return policy
    path = project_dir / latency.slo_suggestion_file
    try:
        # The model allows only relative paths without '..'; a symbolic link must not lead out either.
        path.resolve(strict=True).relative_to(project_dir.resolve())
    except FileNotFoundError:
        pass  # reported below, as every unreadable file is
    except (OSError, ValueError, RuntimeError):
        raise PolicyError(
            source,
            [
                Problem(
                    FIELD,
                    latency.slo_suggestion_file,
                    "leads outside the project directory (a symbolic link); allowed: a file inside it",
                )
            ],
        ) from None
    p95 = suggested_p95_ms(path, latency.slo_suggestion_file, source)
    if p95 > latency.p99_target_ms:
        raise PolicyError(
            source,
            [
                Problem(
                    FIELD,
                    latency.slo_suggestion_file,
                    f"its p95 ({p95} ms) exceeds p99TargetMs ({latency.p99_target_ms})",
                )
            ],
        )
    thresholds = policy.thresholds.model_copy(
        update={"latency": latency.model_copy(update={"p95_target_ms": p95})}
    )
    return policy.model_copy(update={"thresholds": thresholds})
