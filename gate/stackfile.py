"""Read a stack's config file (stacks/Pulumi.<stack>.yaml) the way the Pulumi CLI hands it to a program.

The offline plan has no Pulumi CLI and no secrets provider: a secret value becomes the placeholder
"[secret]" (still marked secret, so it stays hidden in the plan), and its ciphertext never leaves here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.engine import SECRET_PLACEHOLDER
from gate.errors import GateError, PolicyError, Problem
from gate.loader import stack_file

# Keys whose plain-text value would be a leaked credential in a committed stack file.
_SECRET_ONLY_KEYS = {
    "github:token": "a secret: pulumi config set --secret github:token, or GITHUB_TOKEN in the environment",
}


# Pulumi's stack name rule.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class StackFileError(GateError):
    """A stack file that is missing or not readable as a Pulumi stack config."""


@dataclass(frozen=True)
class StackConfig:
    """One stack's `config:` map, as shown to users and as handed to the program."""

    source: str  # "stacks/Pulumi.<stack>.yaml", as error messages name it
    values: dict[str, Any]  # "namespace:key" -> decoded YAML value; secrets are "[secret]"
    secret_keys: frozenset[str]


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config of `stack` in `project_dir`, or a GateError naming the file and the problem."""
    if not _STACK_NAME.fullmatch(stack):
        # Also keeps the name from reaching outside stacks/ and build/ (it names a file and a dir).
        raise StackFileError(f"invalid stack name {stack!r}; allowed: letters, digits, '-', '_' and '.'")
    source = stack_file(stack)
    path = project_dir / source
    if not path.is_file():
        raise StackFileError(_missing_message(project_dir, source, path))
    document = _parse(path, source)
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


def to_engine_config(values: dict[str, Any]) -> dict[str, str]:
    """Config as the Pulumi engine passes it to a program: strings as-is, anything else as JSON."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        for key, value in values.items()
    }


def _parse(path: Path, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        raise StackFileError(f"{source}: invalid YAML{_where(error)}") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise StackFileError(f"{source}: cannot read the stack file: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{source}: expected a map with a `config` key, got {type(document).__name__}")
    return document


def _where(error: yaml.MarkedYAMLError) -> str:
    """Where and what, e.g. ` at line 4, column 1: expected ',' or ']' (while parsing ... at line 3)`."""
    mark = error.problem_mark or error.context_mark
    text = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text += f": {error.problem or error.context or 'not a YAML document'}"
    if error.problem and error.context and error.context_mark is not None:
        text += f" ({error.context} at line {error.context_mark.line + 1})"
    return text


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
