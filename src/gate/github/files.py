"""The files a plan commits into gated repositories (github.RepositoryFile), as a directory tree.

Reviewers read and lint the generated workflows with it; `make golden` keeps them as golden files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from gate.errors import GateError

REPOSITORY_FILE = "github:index/repositoryFile:RepositoryFile"


def committed_files(plan: dict[str, Any]) -> dict[str, str]:
    """'<gate component name>/<path in the repository>' -> content, sorted by path."""
    files: dict[str, str] = {}
    for resource in plan.get("resources", []):
        if resource.get("type") != REPOSITORY_FILE:
            continue
        inputs = resource["inputs"]
        # The parent is the RepositoryGate component, named <owner>-<repository>.
        owner_repo = str(resource.get("parent") or "").rsplit("::", 1)[-1] or str(inputs["repository"])
        path = PurePosixPath(str(inputs["file"]))
        if path.is_absolute() or ".." in path.parts:
            raise GateError(f"{resource['urn']}: refusing to write outside the output directory: {path}")
        files[f"{owner_repo}/{path}"] = str(inputs["content"])
    return dict(sorted(files.items()))


def write_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    written = []
    for relative, content in files.items():
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(target)
    return written
