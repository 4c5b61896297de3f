"""Reusable validated types for the policy model. Validators here never touch the network."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class GateModel(BaseModel):
    """Base of every policy model: frozen, no unknown keys, camelCase keys as in Pulumi stack files."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


class Language(StrEnum):
    PYTHON = "python"
    JAVASCRIPT = "javascript"


class CheckCategory(StrEnum):
    UNIT_TESTS = "unit-tests"
    STATIC_CHECKS = "static-checks"
    DETERMINISM = "determinism"
    E2E_PARITY = "e2e-parity"
    SECURITY_SCAN = "security-scan"
    INFRA_PLAN = "infra-plan"


class MergeGateMode(StrEnum):
    BRANCH_PROTECTION = "branch-protection"
    RULESETS = "rulesets"


def matching(regex: str, allowed: str) -> AfterValidator:
    """A validator with Python regex semantics and an error that says what is allowed in words."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(f"allowed: {allowed}")
        return value

    return AfterValidator(check)


GitHubOwner = Annotated[
    str,
    matching(
        r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}",
        "a GitHub user or organisation: 1-39 letters, digits or single inner hyphens",
    ),
]
RepositoryName = Annotated[
    str,
    matching(
        r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}",
        "a GitHub repository name: 1-100 letters, digits, '.', '-' or '_' (not '.' or '..')",
    ),
]
Slug = Annotated[
    str,
    matching(
        r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9])?",
        "a team slug or user login: letters, digits, '.', '-', '_', starting and ending alphanumeric",
    ),
]
CheckName = Annotated[
    str,
    matching(
        r"[A-Za-z0-9][A-Za-z0-9 ._()/:-]{0,254}",
        "a status check name: up to 255 letters, digits, spaces and ._()/:- on one line",
    ),
]
BranchPattern = Annotated[
    str,
    matching(
        r"(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/*?\[\]-]{1,255}(?<!/)",
        "a branch name or fnmatch pattern such as 'main' or 'release/*' (no '..', '//' or edge '/')",
    ),
]
EnvironmentName = Annotated[
    str,
    matching(
        r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?",
        "a lower-case name: letters, digits and inner hyphens, at most 32 characters",
    ),
]
SlackChannel = Annotated[
    str,
    matching(r"#[a-z0-9][a-z0-9._-]{0,79}", "a Slack channel such as '#oncall'"),
]
LabelColor = Annotated[
    str, matching(r"[0-9a-fA-F]{6}", "six hexadecimal digits without '#', such as 'b60205'")
]
MetricName = Annotated[
    str, matching(r"[a-zA-Z_:][a-zA-Z0-9_:]*", "a Prometheus metric name such as 'redis_connected'")
]

PinnedImage = Annotated[
    str,
    matching(
        r"[a-z0-9][a-z0-9._:/-]*@sha256:[0-9a-f]{64}",
        "an image pinned by digest: <registry>/<name>@sha256:<64 lower-case hex digits>",
    ),
]
ImageDigest = Annotated[
    str, matching(r"sha256:[0-9a-f]{64}", "an image digest: sha256:<64 lower-case hex digits>")
]


def image_digest(image: str) -> str:
    """'<registry>/<name>@sha256:<hex>' -> 'sha256:<hex>' (the part promotion compares)."""
    return image.rsplit("@", 1)[-1]


# M9 §Required CI checks 4: the e2e parity check compares the root_hash of run and replay.
RootHash = Annotated[
    str, matching(r"(sha256:)?[0-9a-f]{64}", "a root hash: 64 lower-case hex digits, optionally sha256:")
]
HttpsUrl = Annotated[str, matching(r"https://\S+", "an https:// link")]

AwsAccountId = Annotated[str, matching(r"[0-9]{12}", "12 digits, the AWS account id")]
AwsRegion = Annotated[
    str, matching(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "an AWS region such as eu-west-1")
]

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _check_duration(value: str) -> str:
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groups()):
        raise ValueError("allowed: a duration in h, m and s units, such as '60s', '5m' or '1h30m'")
    return value


def duration_seconds(value: str) -> int:
    """Seconds in a Duration string ('1h30m' -> 5400)."""
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# A duration in the subset of Prometheus syntax the alerts and rollouts share: h, m and s units.
Duration = Annotated[str, AfterValidator(_check_duration)]
Percent = Annotated[int, Field(ge=1, le=100)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


def number(value: float | Decimal) -> str:
    """A threshold as PromQL/expr text without float noise: 300.0 -> '300', 1e-05 -> '0.00001'."""
    decimal = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not decimal.is_finite():
        raise ValueError(f"a threshold must be finite, got {value!r}")
    text = format(decimal.normalize(), "f")
    return "0" if text in ("-0", "0") else text
