"""Day-2 updates of the gate's committed files: a pull request opened by the gate's identity.

Issue 13 item 3. The same stack that commits the gate's files (workflows, CODEOWNERS, PR template,
tools) protects the default branch with admins included (M9 §Overview: "All merges to `main` ...
require passing automated checks"; GATE-NN enforceAdmins). A github.RepositoryFile that commits
straight to the default branch is then rejected on its first update (terraform-provider-github
#1438). The choice made here, one for every merge-gate mode:

    The gate commits its files to a branch of its own, `delivery-gate/files-<revision>`, created from
    the default branch, and opens a github.RepositoryPullRequest from it into the default branch.

Why not a ruleset bypass for the gate's identity: branch-protection mode has no bypass for required
status checks (only rulesets have bypass actors), so a bypass would work in one of three modes; and a
bypass lets the gate's own changes reach `main` unreviewed and untested, while M9 §Enforcement asks
that changes to the gate's files be reviewed by the platform team (CODEOWNERS) and pass the same
checks as any change. The pull request keeps both: the gate's identity needs `contents: write` and
`pull-requests: write` on the repository and no bypass of anything.

The revision is a hash of everything the pull request proposes (paths, the gate's content, commit
messages, the base branch); for CODEOWNERS only the gate's block counts, so a repository editing its
own CODEOWNERS lines does not produce a gate pull request. A new revision is a new branch and a new
pull request (the branch, the files and the pull request are replaced: `head_ref` and `branch` force
replacement in the provider, and the component says so with replace_on_changes); the superseded
branch is deleted, which closes its pull request if it is still open. Files and pull requests are
retained on delete: deleting a file from an obsolete branch, or closing a merged pull request, would
only fail or add noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gate.policy.memo import Bounded

BRANCH_PREFIX = "delivery-gate/files-"
REVISION_LENGTH = 12


class ProposedFile(Protocol):
    """What the revision is computed from (gate.github.CommittedFile satisfies it)."""

    @property
    def path(self) -> str: ...

    @property
    def content(self) -> str: ...

    @property
    def commit_message(self) -> str: ...


@dataclass(frozen=True)
class FilesUpdate:
    """The gate branch and the pull request that bring one revision of the gate's files."""

    revision: str
    branch: str  # the gate branch the files are committed to
    base: str  # the default branch the pull request targets
    title: str
    body: str


# Issue 14: the repositories of an organisation commit the very same texts (rendered once), so each
# distinct content is hashed once per process, not once per repository (60 MB of contents, 10 MB of
# distinct texts, at 500 repositories). Bounded; a text's digest never changes.
_DIGESTS: Bounded[str] = Bounded(1024)


def content_digest(content: str) -> str:
    """The short sha256 of a file's content the pull request's table shows."""
    return _DIGESTS.get(content, lambda: hashlib.sha256(content.encode()).hexdigest()[:REVISION_LENGTH])


def revision(base: str, files: Sequence[ProposedFile]) -> str:
    """A short, stable hash of what a pull request proposes: same files, same revision."""
    digest = hashlib.sha256()
    digest.update(f"base\0{base}\0".encode())
    for file in sorted(files, key=lambda f: f.path):
        for part in (file.path, file.content, file.commit_message):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()[:REVISION_LENGTH]


def files_update(
    repository: str,
    base: str,
    stack: str,
    files: Sequence[ProposedFile],
    *,
    block_paths: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> FilesUpdate:
    """The branch and pull request of the current revision of `files` for `repository`; the files
    at `block_paths` hold only the gate's marked block of a file the repository shares;
    `categories` are the release-notes labels a reviewer must put on it."""
    rev = revision(base, files)
    lines = [
        "<!-- Opened by delivery-gate (Pulumi): a change of the gate's files replaces this pull request. -->",
        f"The delivery gate (stack `{stack}`) proposes revision `{rev}` of its files in `{repository}`.",
        "",
        "It goes through the merge gate like any change: the required checks must pass and the platform "
        "team must approve (code owners of these files, deployment-gate-policy-m9.md §Enforcement).",
        "Do not push to this branch: the next revision starts again from the default branch, and the gate "
        "deletes this branch when a newer revision supersedes it.",
        *(
            [
                "Label it with one release-notes category ("
                + ", ".join(f"`{category}`" for category in categories)
                + "): the required release-notes check asks every pull request for one (delivery-policy.md "
                "§Release Notes), and the GitHub provider cannot label a pull request."
            ]
            if categories
            else []
        ),
        "",
        "| file | sha256 of the gate's content |",
        "| --- | --- |",
        *(
            f"| `{file.path}` | `{content_digest(file.content)}` |"
            for file in sorted(files, key=lambda f: f.path)
        ),
        *(
            f"\n`{path}`: only the block between the delivery-gate markers is the gate's (the hash is "
            "the block's); the repository's own lines are kept as they are on the default branch."
            for path in sorted(block_paths)
        ),
    ]
    return FilesUpdate(
        revision=rev,
        branch=f"{BRANCH_PREFIX}{rev}",
        base=base,
        title=f"delivery-gate: update the gate's files ({rev})",
        body="\n".join(lines) + "\n",
    )
