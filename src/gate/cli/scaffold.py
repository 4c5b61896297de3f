"""`gate init DIR --owner ORG`: a new configuration repository that uses the installed package.

A platform team never forks delivery-gate: its own repository holds Pulumi.yaml, a two-line
`__main__.py` that runs the installed package's program (gate.program), a requirements.txt pinning
this release (a provider SDK's version decides which plugin `pulumi up` downloads, so the pins come
with the package), its stack files and their JSON Schema. `gate init` writes exactly that; it never
overwrites a file (an existing one is an error naming it, and nothing is written).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from gate import __version__
from gate.errors import GateError
from gate.github.files import write_files
from gate.policy.model import _default_environments
from gate.policy.schema import render_base_schema, render_schema

# A GitHub owner (organisation or user) and a Pulumi project name: what GitHub and Pulumi accept.
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
SCHEMA_FILE = "stack-file.schema.json"
BASE_SCHEMA_FILE = "base-file.schema.json"


class ScaffoldError(GateError):
    """`gate init` refused: a bad name, or files that already exist."""


def files(owner: str, project: str, repositories: list[str]) -> dict[str, str]:
    """Relative path -> text of a new configuration repository gating `repositories` of `owner`."""
    bad = [name for name in repositories if not _REPOSITORY.fullmatch(name)]
    if bad or not repositories:
        raise ScaffoldError(
            f"--repository: got {bad or 'none'}; allowed: one or more repository names of the owner "
            "(letters, digits, '.', '_', '-')"
        )
    if not _OWNER.fullmatch(owner):
        raise ScaffoldError(f"--owner: got {owner!r}; allowed: a GitHub organisation or user name")
    if not _PROJECT.fullmatch(project):
        raise ScaffoldError(
            f"--project: got {project!r}; allowed: letters, digits, '.', '_' and '-' (a Pulumi project name)"
        )
    out = {
        "Pulumi.yaml": (
            f"name: {project}\n"
            "description: The delivery gate of "
            f"{owner} (delivery-gate {__version__}).\n"
            "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"
            "stackConfigDir: stacks\n"
        ),
        "__main__.py": (
            '"""The Pulumi program: the delivery gate of the stack being run (installed package)."""\n\n'
            "from gate.entry import program\n\nprogram()\n"
        ),
        "requirements.txt": (
            "# The gate and, through its exact pins, the Pulumi SDK and providers it is tested with.\n"
            f"delivery-gate=={__version__}\n"
        ),
        ".gitignore": "build/\n.venv/\n__pycache__/\n",
        # The JSON Schemas of this release's stack and base files, for editors (`gate schema`).
        SCHEMA_FILE: render_schema(),
        BASE_SCHEMA_FILE: render_base_schema(),
        # What every stack shares (docs/base.md): the owner and the gated repositories; each stack
        # file holds only what differs from it.
        "stacks/base.yaml": (
            f"# yaml-language-server: $schema=../{BASE_SCHEMA_FILE}\n"
            "# What every stack shares; a stack file holds only what differs (its environment, ...).\n"
            "config:\n"
            f"  github:owner: {owner}\n"
            "  delivery-gate:repositories:\n" + "".join(f"    - name: {name}\n" for name in repositories)
        ),
    }
    # One per-PR template per gated repository (stacks/ephemeral.<repo>.yaml; docs/leak.md): the
    # disposable staging of the delivery policy's e2e parity check, named after the repository, so
    # `gate ephemeral up --repository <owner>/<repo> --pr N` works for each without an example name.
    for name in repositories:
        out[f"stacks/ephemeral.{name}.yaml"] = (
            f"# yaml-language-server: $schema=../{SCHEMA_FILE}\n"
            f"# Template of the per-PR stacks pr-<slug>-<N> of {owner}/{name}: validated like staging.\n"
            "config:\n"
            "  delivery-gate:environment: staging\n"
            "  delivery-gate:ephemeral:\n"
            "    pullRequest: ${PR_NUMBER}\n"
            f"    repository: {name}\n"
            "    createdAt: ${CREATED_AT}\n"
            "    ttl: 72h\n"
            "  delivery-gate:application:\n"
            f"    image: ghcr.io/{owner.lower()}/{name.lower()}:pr-${{PR_NUMBER}}\n"
        )
    # One stack per environment of the policy's default chain (DP §Environment Progression).
    for environment in _default_environments():
        out[f"stacks/Pulumi.{environment.stack}.yaml"] = (
            f"# yaml-language-server: $schema=../{SCHEMA_FILE}\n"
            f"config:\n  delivery-gate:environment: {environment.name}\n"
        )
    return out


def write(directory: Path, owner: str, project: str, repositories: list[str]) -> list[Path]:
    """Write the files under `directory` (created if missing); refuse before writing if any exists."""
    planned = files(owner, project, repositories)
    existing = sorted(str(directory / name) for name in planned if (directory / name).exists())
    if existing:
        raise ScaffoldError(f"{', '.join(existing)}: already exist; gate init never overwrites a file")
    return write_files(planned, directory)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        help="write a new configuration repository (Pulumi.yaml, __main__.py, requirements.txt, stacks/)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    init.add_argument("directory", type=Path, help="where to write it (created if missing)")
    init.add_argument("--owner", required=True, help="the GitHub organisation (github:owner)")
    init.add_argument(
        "--repository",
        dest="repositories",
        action="append",
        required=True,
        metavar="NAME",
        help="a repository of the owner to gate; repeatable",
    )
    init.add_argument(
        "--project", default="delivery-gate", help="the Pulumi project name (default: %(default)s)"
    )


def command(args: argparse.Namespace) -> int:
    for path in write(args.directory, args.owner, args.project, args.repositories):
        print(f"wrote {path}")
    return 0
