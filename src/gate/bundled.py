"""The stdlib tools the gate commits into gated repositories, read from the installed package.

They live in the repository's `tools/` (each is copied alone into a gated repository and linted there
with its own config, tools/ruff.toml) and ship in the wheel as the package `gate.tools`
(pyproject.toml), so a configuration repository that only installed delivery-gate commits the same
bytes as a checkout of this one.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import PurePosixPath


# Read once per process: every gated repository (and every workflow verifying a tool's digest)
# commits the same installed bytes, and a plan of many repositories asked for them thousands of
# times (issue 14).
@functools.cache
def tool_source(path_in_repository: str) -> str:
    """The text of a bundled tool, named by where a gated repository holds it (tools/<file>.py)."""
    name = PurePosixPath(path_in_repository).name
    return resources.files("gate.tools").joinpath(name).read_text(encoding="utf-8")
