"""Reusable validated types for the policy model. Validators here never touch the network."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import SchemaError, SchemaValidator, core_schema
from pydantic_core import ValidationError as PydanticCoreValidationError


def camel_key(name: str) -> str:
    """snake_case -> the camelCase key of a stack file: `e2e_diff` -> `e2eDiff`, `p99_target_ms` ->
    `p99TargetMs`. Pydantic's to_camel would also capitalise after a digit (`e2EDiff`), a key no
    one would write and the README never shows."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class GateModel(BaseModel):
    """Base of every policy model: frozen, no unknown keys, camelCase keys as in Pulumi stack files."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=camel_key,
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
    SCHEMA_CHANGE = "schema-change"
    RELEASE_CONTRACT = "release-contract"  # DP §Pre-Deployment (gate/github/release_contract.py)
    RELEASE_NOTES = "release-notes"  # DP §Release Notes (gate/github/release_notes.py)
    # Issue 13, part repos: external checks (a GitHub App reports them, no gate workflow).
    LICENSE = "license"  # licence compliance of dependencies (e.g. a FOSSA or Snyk app)
    COMPLIANCE = "compliance"  # other organisational compliance checks (CLA, policy bots)


class IncidentProvider(StrEnum):
    """Where the mismatch automation opens the operator incident (gate/github/automation.py)."""

    PAGERDUTY = "pagerduty"  # PagerDuty Events API v2, dedup_key = the alert's fingerprint
    OPSGENIE = "opsgenie"  # Opsgenie Alert API, alias = the alert's fingerprint
    NONE = "none"  # no provider: the issue asks for an incident to be opened by hand


class ClusterCredentials(StrEnum):
    """How the e2e-parity job and the janitor reach the cluster of the disposable environments.
    Never a kubeconfig stored as a secret: it would outlive every run and serve any workflow."""

    # GitHub OIDC -> a per-repository IAM role -> `aws eks update-kubeconfig` (gate/aws/foundation.py).
    AWS = "aws"
    # The identity of a self-hosted runner inside the cluster (its pod's ServiceAccount, bound by
    # the platform team); no credential in GitHub. Forks never reach a self-hosted runner.
    RUNNER = "runner"
    # None configured: the steps that need the cluster fail, saying so.
    NONE = "none"


class MergeGateMode(StrEnum):
    BRANCH_PROTECTION = "branch-protection"
    RULESETS = "rulesets"
    # Organisation rulesets whose required workflows live in one central repository (GitHub
    # Enterprise Cloud): the gated repository holds no copy of its PR checks to rewrite.
    ORGANIZATION = "organization"


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

# An image reference as the OCI distribution spec and Docker read it: [registry[:port]/]path[:tag]
# [@digest]. Its length is checked first, so the regular expression only ever sees short text.
_IMAGE_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]{1,5})?"
)
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME = rf"(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
_IMAGE_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE_DIGEST = r"sha256:[0-9a-f]{64}"
MAX_IMAGE_LENGTH = 255


def _image(regex: str, allowed: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if len(value) > MAX_IMAGE_LENGTH or compiled.fullmatch(value) is None:
            raise ValueError(f"allowed: {allowed}")
        return value

    return AfterValidator(check)


PinnedImage = Annotated[
    str,
    _image(
        rf"{_IMAGE_NAME}(?::{_IMAGE_TAG})?@{_IMAGE_DIGEST}",
        "an image pinned by digest: <registry>/<name>@sha256:<64 lower-case hex digits>",
    ),
]
ImageReference = Annotated[
    str,
    _image(
        rf"{_IMAGE_NAME}(?::{_IMAGE_TAG})?(?:@{_IMAGE_DIGEST})?",
        f"an image reference such as 'ghcr.io/acme/aos:v1.2' or '<registry>/<name>@sha256:<digest>': "
        f"lower-case name parts separated by '/', '.', '_' or '-', an optional ':tag' and '@sha256:' "
        f"digest, at most {MAX_IMAGE_LENGTH} characters",
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
# No quotes, braces, `$`, `<>`, backslash or backtick: links land in alert annotations (Prometheus
# templates), Slack messages and Markdown, where those characters would be read as syntax.
HttpsUrl = Annotated[
    str,
    matching(r"https://[^\s\"'{}$<>\\`]{1,2000}", "an https:// link without spaces, quotes, braces or '$'"),
]

# A repository (Actions) secret's name, as GitHub allows it; GITHUB_* are reserved.
_SECRET_NAME = re.compile(r"(?!GITHUB_)[A-Z_][A-Z0-9_]{0,99}")


def _check_secret_name(value: str) -> str:
    if _SECRET_NAME.fullmatch(value) is None:
        raise ValueError(
            "allowed: an Actions secret name: upper-case letters, digits and '_', not starting with a "
            "digit or GITHUB_ (GitHub reserves those)"
        )
    return value


SecretName = Annotated[str, AfterValidator(_check_secret_name)]

# The cloud instance metadata endpoints (gate/runtime/network.py): no allow-list may contain them.
_METADATA_ADDRESSES = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


def _check_egress_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(
            "allowed: an IPv4 or IPv6 network in CIDR notation, such as 140.82.112.0/20"
        ) from None
    if network.prefixlen < 8:
        raise ValueError("allowed: a network of at most a /8 (this is an allow-list, not the internet)")
    if any(address in network for address in _METADATA_ADDRESSES):
        raise ValueError("allowed: a network without the cloud instance metadata endpoint")
    return value


EgressCidr = Annotated[str, AfterValidator(_check_egress_cidr)]

AwsAccountId = Annotated[str, matching(r"[0-9]{12}", "12 digits, the AWS account id")]
AwsRegion = Annotated[
    str, matching(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "an AWS region such as eu-west-1")
]

# fullmatch, never match with `$`: `$` also matches before a final newline, so "1m\n" passed once
# and reached a workflow's shell line. At most 6 digits per unit: every duration stays a small int.
_DURATION = re.compile(r"(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,6})s)?")


def _check_duration(value: str) -> str:
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise ValueError(
            "allowed: a duration in h, m and s units, such as '60s', '5m' or '1h30m' (at most 6 digits each)"
        )
    return value


def duration_seconds(value: str) -> int:
    """Seconds in a Duration string ('1h30m' -> 5400)."""
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# A duration in the subset of Prometheus syntax the alerts and rollouts share: h, m and s units.
Duration = Annotated[str, AfterValidator(_check_duration)]


def duration_within(least: int, most: int, allowed: str) -> AfterValidator:
    """Bounds for a Duration, in seconds, with the reason in `allowed` (applied after its format)."""

    def check(value: str) -> str:
        if not least <= duration_seconds(value) <= most:
            raise ValueError(f"allowed: {allowed}")
        return value

    return AfterValidator(check)


# Never inf or NaN (`.inf`, `.nan`, or "1e309", which overflows to inf): a threshold must be a
# number an alert can compare with. gate/policy/validation.py words pydantic's `finite_number` error.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Percent = Annotated[int, Field(ge=1, le=100)]
NonNegativeFloat = Annotated[FiniteFloat, Field(ge=0)]


def number(value: float | Decimal) -> str:
    """A threshold as PromQL/expr text without float noise: 300.0 -> '300', 1e-05 -> '0.00001'."""
    decimal = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not decimal.is_finite():
        raise ValueError(f"a threshold must be finite, got {value!r}")
    text = format(decimal.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# ---------------------------------------------------------------------------------------------
# Values that reach rendered files (workflows, CODEOWNERS, the PR template, labels). A stack owner
# writes them, but a rendered file must say exactly what the stack says: one line each, nothing
# GitHub would evaluate, and paths that cannot step outside the repository or start a new line.

# C0/C1 control characters (newline, NUL, escape...), the Unicode line and paragraph separators
# (YAML reads them as line breaks), bidirectional overrides (text that displays differently from
# what runs) and the byte-order mark.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
EXPRESSION_OPENER = "${{"


def one_line_check(max_length: int, what: str, instead: str = "") -> Callable[[str], str]:
    """Text on one line, without control characters or `${{`, of at most `max_length` characters.
    `what` names the value in the error ("a label name"); `instead` says how to do without `${{`."""

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"allowed: {what} of at most {max_length} characters")
        bad = _UNSAFE_CHARACTERS.search(value)
        if bad is not None:
            why = (
                "a line break would start a line of its own in the rendered file"
                if bad.group() in _LINE_BREAKS
                else "a control character can hide or change what a reader of the rendered file sees"
            )
            raise ValueError(
                f"allowed: {what} on one line without control characters (found {bad.group()!r}: {why})"
            )
        if EXPRESSION_OPENER in value:
            raise ValueError(
                f"allowed: {what} without '${{{{': GitHub would evaluate it as an expression "
                f"(template injection){instead}"
            )
        return value

    return check


def one_line(max_length: int, what: str, instead: str = "") -> AfterValidator:
    """The one_line_check as a field validator."""
    return AfterValidator(one_line_check(max_length, what, instead))


# Shell text by design (a stack owner writes the repository's commands), but one line of it.
_SHELL_COMMAND = one_line_check(1000, "a shell command", "; read values from environment variables instead")


def check_shell_command(value: str) -> str:
    if not value.strip():
        raise ValueError("allowed: a shell command on one line (not empty)")
    return _SHELL_COMMAND(value)


ShellCommand = Annotated[str, AfterValidator(check_shell_command)]

# Links reached by services inside the cluster (Prometheus): http or https, nothing a template reads.
HttpUrl = Annotated[
    str,
    matching(
        r"https?://[^\s\"'{}$<>\\`]{1,2000}", "an http(s):// link without spaces, quotes, braces or '$'"
    ),
]

_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
# git pathspec globs (`:(glob)`): `*`, `**`, `?` and `[...]`.
_PATHSPEC_SEGMENT = re.compile(r"[A-Za-z0-9_.*?\[\]][A-Za-z0-9_.*?\[\]-]*")
# CODEOWNERS patterns: `*`, `**` and `?`; GitHub ignores `[...]`, and ' ', '#', '!', '@' would
# start another owner, a comment or a negation.
_CODEOWNERS_SEGMENT = re.compile(r"[A-Za-z0-9_.*?][A-Za-z0-9_.*?-]*")
_RELATIVE_RULES = "'/'-separated parts; no leading '/', no '.' or '..' parts, no spaces or quotes"


def relative_path(
    segment: re.Pattern[str], allowed: str, *, root: bool = False, max_length: int = 200
) -> AfterValidator:
    """A path or pattern relative to the repository root: parts matching `segment`, never `.` or
    `..` (so never outside the repository), no empty parts; `root` also allows the root itself, `.`."""

    def check(value: str) -> str:
        parts = value.split("/")
        valid = (
            0 < len(value) <= max_length
            and all(segment.fullmatch(part) and part not in (".", "..") for part in parts)
        ) or (root and value == ".")
        if not valid:
            raise ValueError(f"allowed: {allowed}")
        return value

    return AfterValidator(check)


RelativePath = Annotated[
    str,
    relative_path(
        _PATH_SEGMENT,
        f"a path inside the repository such as 'tests/golden': letters, digits, '.', '_' and '-' in "
        f"{_RELATIVE_RULES}",
    ),
]
RelativeDirectory = Annotated[
    str,
    relative_path(
        _PATH_SEGMENT,
        f"'.' or a directory inside the repository such as 'infra': letters, digits, '.', '_' and '-' in "
        f"{_RELATIVE_RULES}",
        root=True,
    ),
]
PathspecGlob = Annotated[
    str,
    relative_path(
        _PATHSPEC_SEGMENT,
        f"a glob inside the repository such as 'infra/**' or 'Pulumi.*.yaml': letters, digits, '.', '_', "
        f"'-', '*', '?' and '[...]' in {_RELATIVE_RULES}",
    ),
]
CodeownersPattern = Annotated[
    str,
    relative_path(
        _CODEOWNERS_SEGMENT,
        f"a CODEOWNERS pattern such as 'schemas/trace/**': letters, digits, '.', '_', '-', '*' and '?' "
        f"in {_RELATIVE_RULES}, '#', '!' or '@'",
    ),
]
GitRef = Annotated[
    str,
    matching(
        r"(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock(?:/|$))[A-Za-z0-9._/-]{1,255}(?<![/.])",
        "a branch, tag or commit such as 'main', 'v1.4.0' or a commit SHA: letters, digits, '.', '_', "
        "'-' and '/' (no '..', '//', leading '-' or trailing '/')",
    ),
]
StackName = Annotated[
    str,
    matching(
        r"[A-Za-z0-9_.-]{1,100}(?:/[A-Za-z0-9_.-]{1,100}){0,2}",
        "a Pulumi stack name such as 'dev' or 'acme/infra/dev': letters, digits, '_', '.' and '-'",
    ),
]

# The runner labels a gate job may use: GitHub-hosted images, or the repository's own runners. A
# self-hosted runner never runs a fork's pull request (gate/github/workflows.py picks the GitHub-hosted
# default for those), because a fork's code would run on a machine that outlives the job.
GITHUB_HOSTED_RUNNERS = ("ubuntu-24.04", "ubuntu-22.04", "ubuntu-latest", "ubuntu-24.04-arm")
SELF_HOSTED_RUNNER = "self-hosted"
RunnerLabel = Annotated[
    str,
    matching(
        "|".join(re.escape(label) for label in (*GITHUB_HOSTED_RUNNERS, SELF_HOSTED_RUNNER)),
        f"a GitHub-hosted runner ({', '.join(GITHUB_HOSTED_RUNNERS)}) or {SELF_HOSTED_RUNNER} "
        "(which never runs pull requests from forks)",
    ),
]


# ---------------------------------------------------------------------------------------------
# Regular expressions from stack config run on a linear-time engine (Rust's regex, through
# pydantic-core): Python's backtracking `re` takes exponential time on patterns like `^(a+)+$`.

MAX_PATTERN_LENGTH = 200


@functools.lru_cache(maxsize=64)
def _linear_matcher(pattern: str) -> SchemaValidator:
    # The pattern alone must compile first, so that wrapping it cannot change what it means
    # ("x)|(.*" is invalid alone; wrapped, it would match anything).
    SchemaValidator(core_schema.str_schema(pattern=pattern, regex_engine="rust-regex"))
    return SchemaValidator(core_schema.str_schema(pattern=f"^(?:{pattern})$", regex_engine="rust-regex"))


def fullmatch_linear(pattern: str, text: str) -> bool:
    """Whether `text` matches all of `pattern` (a LinearRegex), in time linear in both."""
    try:
        _linear_matcher(pattern).validate_python(text)
    except PydanticCoreValidationError:
        return False
    return True


def _check_linear_regex(value: str) -> str:
    if len(value) > MAX_PATTERN_LENGTH:
        raise ValueError(f"allowed: a regular expression of at most {MAX_PATTERN_LENGTH} characters")
    try:
        _linear_matcher(value)
    except SchemaError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next(
            (line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error:")),
            lines[-1].removeprefix("SchemaError: ") if lines else "invalid",
        )
        raise ValueError(
            f"allowed: a regular expression without look-around or back-references, which runs in "
            f"linear time ({reason})"
        ) from None
    return value


LinearRegex = Annotated[str, AfterValidator(_check_linear_regex)]


# ---------------------------------------------------------------------------------------------
# Resource names


# Issue 14: every repository names its resources from the same few paths, patterns and labels
# (17,500 names at 500 repositories, a character at a time): each distinct text is slugged once.
@functools.lru_cache(maxsize=4096)
def resource_slug(text: str) -> str:
    """A resource-name-safe form of a path or pattern: '.github/CODEOWNERS' -> 'github-codeowners',
    'release/*' -> 'release-all' (a wildcard stays visible so 'release' and 'release/*' differ).

    gate/components/github_gate.py names resources with it, so two values with the same slug would be two
    resources with one name, which the engine refuses; the model refuses them first."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower().replace("*", "-all-"))
    return "-".join(part for part in out.split("-") if part)


# GitHub label names: free text, but one line (they are also named in the PR template).
LabelName = Annotated[str, Field(min_length=1), one_line(50, "a label name")]
LabelDescription = Annotated[str, one_line(100, "a label description")]
# An item of the PR template's schema-change checklist.
ChecklistItem = Annotated[str, Field(min_length=1), one_line(200, "a checklist item")]

# AppConfig's limit for a deployment strategy's duration and final bake time (the API refuses more);
# rollout.bakeTime becomes both (gate/aws/foundation.py).
APPCONFIG_MAX_MINUTES = 1440


def at_most(limit: float, reason: str) -> AfterValidator:
    """An upper bound whose error says why (`le=` would only say "less than or equal to")."""

    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"allowed: at most {number(limit)} {reason}")
        return value

    return AfterValidator(check)
