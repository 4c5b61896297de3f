"""Read a stack's config file (stacks/Pulumi.<stack>.yaml) the way the Pulumi CLI hands it to a program.

The offline plan has no Pulumi CLI and no secrets provider: a secret value becomes the placeholder
"[secret]" (still marked secret, so it stays hidden in the plan), and its ciphertext never leaves here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gate import clock
from gate.errors import PolicyError, Problem
from gate.offline.engine import SECRET_PLACEHOLDER
from gate.policy.layers import Layer, Origins, layered_config
from gate.policy.loader import stack_file
from gate.policy.prnames import LEGACY_PR_STACK, PR_STACK, repository_slug
from gate.policy.yamlguard import StackFileError, StackFileUnreadable, load_file, read_stack_text
from gate.policy.yamlguard import load as load_yaml

# Keys whose plain-text value would be a leaked credential in a committed stack file.
_SECRET_ONLY_KEYS = {
    "github:token": "a secret: pulumi config set --secret github:token, or GITHUB_TOKEN in the environment",
    "delivery-gate:slackWebhookUrl": (
        "a secret: pulumi config set --secret delivery-gate:slackWebhookUrl <url>"
    ),
    "delivery-gate:relayGithubToken": (
        "a secret: pulumi config set --secret delivery-gate:relayGithubToken <token>"
    ),
}

PROJECT_FILE = "Pulumi.yaml"


# The template of the disposable per-PR stacks (gate/policy/prnames.py): stacks/ephemeral.<repo>.yaml for
# one repository, else the default one.
EPHEMERAL_TEMPLATE = "stacks/ephemeral.yaml"
_TEMPLATE_PREFIX, _TEMPLATE_SUFFIX = "stacks/ephemeral.", ".yaml"

# Pulumi's stack name rule.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class StackConfig:
    """One stack's `config:` map, as shown to users and as handed to the program."""

    source: str  # "stacks/Pulumi.<stack>.yaml", as error messages name it
    values: dict[str, Any]  # "namespace:key" -> decoded YAML value; secrets are "[secret]"
    secret_keys: frozenset[str]
    # Where each part of `values` came from when the project has a base file (gate/policy/layers.py):
    # dotted path -> (file, path in it). Empty for a stack file's own values.
    origins: Origins = field(default_factory=Origins)
    bases: tuple[str, ...] = ()  # the base files under the stack file, bottom first


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The effective config of `stack` in `project_dir`: the policy defaults, the project's base
    file (gate/policy/layers.py) and the stack file, merged; or a GateError naming the file and the problem.
    Every command that judges a stack reads this; only the plan hands the engine the stack file's
    own values (`read_own_stack_config`), as the Pulumi CLI does, and the program merges them."""
    return with_base(project_dir, read_own_stack_config(project_dir, stack))


def with_base(project_dir: Path, own: StackConfig) -> StackConfig:
    """A stack's own config merged over the policy defaults and the project's base file."""
    layered = layered_config(project_dir, Layer(own.source, own.values))
    return StackConfig(
        source=own.source,
        values=layered.values,
        secret_keys=own.secret_keys,
        origins=layered.origins,
        bases=layered.layers[:-1],
    )


def read_own_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config the stack file itself holds, as the Pulumi CLI hands it to the program."""
    if not _STACK_NAME.fullmatch(stack):
        # Also keeps the name from reaching outside stacks/ and build/ (it names a file and a dir).
        raise StackFileError(f"invalid stack name {stack!r}; allowed: letters, digits, '-', '_' and '.'")
    source = stack_config_source(project_dir, stack)
    path = project_dir / source
    ephemeral = PR_STACK.fullmatch(stack)
    template = template_for_slug(project_dir, ephemeral.group(1)) if ephemeral else None
    if not path.is_file() and ephemeral and template is not None:
        # pr-<repo>-<N> stacks have no file of their own: they are made from their repository's template.
        source = f"{template} ({stack})"
        text = render_ephemeral_template(project_dir, int(ephemeral.group(2)), template=template)
        document = _parse_text(text, source)
    elif not path.is_file() and LEGACY_PR_STACK.fullmatch(stack):
        raise StackFileError(
            f"{stack}: a per-PR stack is now named pr-<repo>-<N> (e.g. pr-aos-{stack[3:]}); the janitor "
            "still reaps legacy pr-<N> stacks, nothing plans or creates them"
        )
    elif not path.is_file():
        raise StackFileUnreadable(_missing_message(project_dir, source, path), file=source)
    else:
        document = _parse(path, source)
    return _stack_config(document, source)


def read_template_config(project_dir: Path, template: str, pull_request: int = 1) -> StackConfig:
    """The config a template gives pull request `pull_request`'s stack, as the plan would read it."""
    source = f"{template} (pull request {pull_request})"
    text = render_ephemeral_template(project_dir, pull_request, template=template)
    return with_base(project_dir, _stack_config(_parse_text(text, source), source))


def _stack_config(document: dict[str, Any], source: str) -> StackConfig:
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{source}: `config` must be a map of `namespace:key` to values")
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    problems: list[Problem] = []
    for name, raw in config.items():
        key = str(name)
        if ":" not in key:
            problems.append(Problem(key, raw, "allowed: a `namespace:key` name, e.g. github:owner"))
            continue
        value, secret = _reveal_nothing(raw)
        if key in _SECRET_ONLY_KEYS and not secret and value not in (None, ""):
            # Never echo the value: it is a credential that is now in a file in plain text.
            problems.append(Problem(key, "<redacted>", _SECRET_ONLY_KEYS[key]))
            continue
        values[key] = value
        if secret:
            secret_keys.add(key)
    if problems:
        raise PolicyError(source, problems)
    return StackConfig(source=source, values=values, secret_keys=frozenset(secret_keys))


def load_project_file(project_dir: Path) -> Any:
    """Pulumi.yaml's document, read and checked as a stack file is (gate/policy/yamlguard.py)."""
    return load_file(project_dir / PROJECT_FILE, "project file")


def stack_config_source(project_dir: Path, stack: str) -> str:
    """Where Pulumi looks for the stack's config: `stackConfigDir` of Pulumi.yaml (this project:
    stacks/), else beside Pulumi.yaml, the standard layout a gated repository's infra/ uses."""
    try:
        project = load_project_file(project_dir)
    except (StackFileError, PolicyError):
        return stack_file(stack)  # the plan's read_project reports a broken Pulumi.yaml
    directory = project.get("stackConfigDir") if isinstance(project, dict) else None
    if directory is None:
        return f"Pulumi.{stack}.yaml"
    return f"{str(directory).strip('/')}/Pulumi.{stack}.yaml"


def to_engine_config(values: dict[str, Any]) -> dict[str, str]:
    """Config as the Pulumi engine passes it to a program: strings as-is, anything else as JSON."""
    return {
        key: value
        if isinstance(value, str)
        else _scalar_text(value) or json.dumps(value, sort_keys=True, default=_iso)
        for key, value in values.items()
    }


def _iso(value: Any) -> str:
    # YAML reads unquoted timestamps and dates (createdAt, a flag's expires) as objects; the Pulumi
    # CLI hands them to programs as ISO-8601 text, and so does the plan.
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot pass {type(value).__name__} as config")


def _scalar_text(value: Any) -> str | None:
    return _iso(value) if isinstance(value, datetime | date) else None


def ephemeral_templates(project_dir: Path) -> list[str]:
    """Every template in the project: the default one (if any), then the per-repository ones."""
    directory = project_dir / Path(EPHEMERAL_TEMPLATE).parent
    own = sorted(f"{directory.name}/{path.name}" for path in directory.glob("ephemeral.*.yaml"))
    default = [EPHEMERAL_TEMPLATE] if (project_dir / EPHEMERAL_TEMPLATE).is_file() else []
    return default + [template for template in own if template != EPHEMERAL_TEMPLATE]


def template_repository_name(template: str) -> str | None:
    """The repository a per-repository template names (stacks/ephemeral.<repo>.yaml); None for the
    default template."""
    if template == EPHEMERAL_TEMPLATE:
        return None
    return template.removeprefix(_TEMPLATE_PREFIX).removesuffix(_TEMPLATE_SUFFIX)


def template_for_slug(project_dir: Path, slug: str) -> str | None:
    """The template of the repository whose slug is `slug`: its own (names compared as slugs, so
    without case, as GitHub compares them), else the default one; None when neither exists."""
    templates = ephemeral_templates(project_dir)
    for template in templates:
        name = template_repository_name(template)
        if name is not None and repository_slug(name) == slug:
            return template
    return EPHEMERAL_TEMPLATE if EPHEMERAL_TEMPLATE in templates else None


def ephemeral_template(project_dir: Path, repository: str) -> str | None:
    """The template the pull requests of the repository named `repository` are made from."""
    return template_for_slug(project_dir, repository_slug(repository))


def template_repository(project_dir: Path, template: str) -> str:
    """owner/name of the repository a template's stacks serve (github:owner, ephemeral.repository)."""
    document = _parse(project_dir / template, template)
    raw = document.get("config")
    own: dict[str, Any] = raw if isinstance(raw, dict) else {}
    # github:owner may come from the base file (gate/policy/layers.py), like every shared key.
    config = layered_config(project_dir, Layer(template, own)).values
    ephemeral = config.get("delivery-gate:ephemeral")
    name = ephemeral.get("repository") if isinstance(ephemeral, dict) else None
    owner = config.get("github:owner")
    if not isinstance(name, str) or not isinstance(owner, str):
        raise StackFileError(
            f"{template}: needs github:owner and delivery-gate:ephemeral.repository (the repository "
            "whose pull requests it serves)"
        )
    return f"{owner}/{name}"


def render_ephemeral_template(
    project_dir: Path,
    pull_request: int,
    created_at: datetime | None = None,
    *,
    template: str = EPHEMERAL_TEMPLATE,
) -> str:
    """The template with ${PR_NUMBER} and ${CREATED_AT} filled in."""
    text = read_stack_text(project_dir / template, template)
    return text.replace("${PR_NUMBER}", str(pull_request)).replace(
        "${CREATED_AT}", clock.iso(created_at or clock.now())
    )


def _parse(path: Path, source: str) -> dict[str, Any]:
    # At most 1 MiB, a regular file, read without blocking (gate/policy/yamlguard.py).
    return _parse_text(read_stack_text(path, source), source)


def _parse_text(text: str, source: str) -> dict[str, Any]:
    # No anchors, aliases, tags or deep nesting; bounded time and memory (gate/policy/yamlguard.py).
    document = load_yaml(text, source)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{source}: expected a map with a `config` key, got {type(document).__name__}")
    return document


def _reveal_nothing(value: Any) -> tuple[Any, bool]:
    """The value with every `{secure: ...}` replaced by the placeholder, and whether it had one.

    Pulumi allows secure values nested inside structured config; any of them makes the key secret.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        items = {str(k): _reveal_nothing(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        pairs = [_reveal_nothing(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


def _missing_message(project_dir: Path, source: str, path: Path) -> str:
    existing = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in path.parent.glob("Pulumi.*.yaml")
    )
    shown = ", ".join(existing) if existing else "none"
    return f"{source}: no such stack file in {project_dir}; stacks that exist: {shown}"
