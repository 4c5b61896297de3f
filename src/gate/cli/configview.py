"""`gate config --stack S`: a stack's effective config (policy defaults <- base file <- stack file,
gate/policy/layers.py) as the program and every command see it, and, with `--origins`, the file each value
comes from. `pulumi config` shows only the stack file's own values; this shows what is merged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from gate.policy.layers import Path_, render_path
from gate.policy.stackfile import StackConfig, read_stack_config

EXIT_OK = 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], project_dir: Path) -> None:
    parser = commands.add_parser(
        "config",
        help="show a stack's effective config: policy defaults, stacks/base.yaml and the stack file, merged",
        description=__doc__,
    )
    parser.add_argument("--stack", required=True, help="the stack, e.g. dev or pr-<repo>-<N>")
    parser.add_argument(
        "--origins", action="store_true", help="list the file each value comes from, by dotted path"
    )
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    parser.add_argument("--project-dir", type=Path, default=project_dir)


def command(args: argparse.Namespace) -> int:
    config = read_stack_config(args.project_dir, args.stack)
    sys.stdout.write(render(config, origins=args.origins, form=args.format))
    return EXIT_OK


def render(config: StackConfig, *, origins: bool = False, form: str = "yaml") -> str:
    """The effective config (secrets stay "[secret]"), deterministic: keys sorted."""
    values = {key: config.values[key] for key in sorted(config.values)}
    if form == "json":
        document: dict[str, Any] = {"source": config.source, "bases": list(config.bases), "config": values}
        if origins:
            document["origins"] = origin_lines(config)
        return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
    layers = " <- ".join(["policy defaults", *config.bases, config.source])
    text = f"# {layers}\n" + yaml.safe_dump({"config": values}, sort_keys=False, default_flow_style=False)
    if origins:
        text += "# where each value comes from:\n"
        text += "".join(f"#   {path}: {files}\n" for path, files in origin_lines(config).items())
    return text


def origin_lines(config: StackConfig) -> dict[str, str]:
    """Dotted path of every leaf value -> the file(s) it comes from."""
    within = config.origins.within
    parents = {path[:-1] for path in within}
    return {
        str(path[0]) + render_path(path[1:]): " + ".join(sorted({file for file, _ in within[path]}))
        for path in sorted(within, key=_sort_key)
        if path not in parents
    }


def _sort_key(path: Path_) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{part:09d}") if isinstance(part, int) else (1, part) for part in path)
