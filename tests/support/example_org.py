"""The example organisation's names, read from the project the tests plan, and a renamed copy of it.

The shipped stacks are an example (`acme/aos`); a test that asserts on a plan of them names the
organisation through `names_of(project)` (or `tests.support.stacks.names()`) instead of typing `acme`
or `aos`, so the same assertions hold for another organisation's copy of the stacks.

`renamed_project(dest)` makes that copy: every file of stacks/ and examples/state/ with the example's
names replaced (owner `acme` -> `example-org`, repository `aos` -> `shop`, whole words only), next to
the real program. `DELIVERY_GATE_TEST_PROJECT=<dir> pytest ...` runs the plan-based tests against
such a copy (tests/test_example_independence.py does it for the plan-based modules).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from gate.policy.consistency import load_stack
from tests.conftest import ROOT

# The example's names and what the renamed copy calls them. Whole words: `aos-dev` (the dev EKS
# cluster) becomes `shop-dev`, `aos@sha256:...` (the image) becomes `shop@sha256:...`.
RENAMES = {"acme": "example-org", "aos": "shop"}
# What the copy holds; the program is linked, not copied (the copy tests the stacks). The packages are
# linked when they sit next to Pulumi.yaml (the flat layout); an installed package needs no link.
COPIED = ("stacks", "examples/state")
LINKED = ("Pulumi.yaml", "__main__.py")


def _link_program(dest: Path, source: Path) -> None:
    for name in LINKED:
        if (source / name).exists():
            (dest / name).symlink_to(source / name)


@dataclass(frozen=True)
class Names:
    """The names a plan of the project's stacks uses: the organisation, its gated repository (the
    first of the merge-gate stack's repositories), and the application the runtime deploys."""

    owner: str
    repository: str  # the name without the owner
    application: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repository}"

    @property
    def slug(self) -> str:
        """`<owner>-<repository>`: the RepositoryGate component's name."""
        return f"{self.owner}-{self.repository}"


@functools.cache
def names_of(project: Path, stack: str = "dev") -> Names:
    policy = load_stack(project, stack)
    owner, repository = policy.repositories[0].full_name.split("/", 1)
    return Names(owner=owner, repository=repository, application=policy.application.name)


def rename(text: str, renames: dict[str, str] = RENAMES) -> str:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
    return pattern.sub(lambda match: renames[match.group(1)], text)


def renamed_project(dest: Path, source: Path = ROOT, renames: dict[str, str] = RENAMES) -> Path:
    """A project at `dest` whose stack files and sample state are the source's, renamed."""
    dest.mkdir(parents=True, exist_ok=True)
    _link_program(dest, source)
    for directory in COPIED:
        for path in sorted((source / directory).rglob("*")):
            if not path.is_file():
                continue
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rename(path.read_text(encoding="utf-8"), renames), encoding="utf-8")
    return dest
