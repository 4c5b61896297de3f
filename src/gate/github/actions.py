"""The GitHub Actions the gate workflows use, each pinned to the full commit SHA of a release tag.

Why pinned: the merge gate's security-scan policy requires third-party code in CI to be immutable.
A tag can be moved to other code (in March 2026 nearly every tag of aquasecurity/trivy-action was
force-pushed to a credential stealer); a commit SHA cannot. zizmor's `unpinned-uses` audit, which
the tests run on every generated workflow, rejects anything but a full SHA.

Each SHA below was taken from public workflows pinned by Dependabot, Renovate or pinact (which
write the tag they resolved as a `# vX.Y.Z` comment) and cross-checked in at least two
independent public sources unless a comment says otherwise. The renderer writes `version` as a
YAML comment after the SHA, which is also what Dependabot and Renovate update.

Why `runtime`: GitHub forced JavaScript actions onto Node 24 from 2026-06-02 and removed Node 20
from the hosted runners on 2026-09-16, so every pin records what its `action.yml` declares as
`runs.using` at that tag: `node24`, `composite` or `docker`. A `node20` entry is a known gap and
its comment says "node20 — blocked" with the reason; the tests fail on any other.

To upgrade: resolve the new tag to its commit (`git ls-remote https://github.com/<repo> refs/tags/<tag>`,
dereferencing annotated tags with `^{}`), read `runs.using` in that commit's `action.yml`, change
`sha`, `version` and `runtime` together, and refresh the golden plans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

_SHA = re.compile(r"[0-9a-f]{40}")
_VERSION = re.compile(r"v\d+\.\d+\.\d+")

Runtime = Literal["node24", "composite", "docker", "node20"]
"""An action's `runs.using`. Only the first three are acceptable on hosted runners after 2026-09-16."""

RUNTIMES: Final[tuple[str, ...]] = get_args(Runtime)


@dataclass(frozen=True)
class Action:
    """One action at one release: `repo` may name a sub-action (github/codeql-action/upload-sarif).

    `runtime` is the `runs.using` of the tag's `action.yml`; None means it was not recorded.
    """

    repo: str
    sha: str
    version: str
    runtime: Runtime | None = None

    def __post_init__(self) -> None:
        if not _SHA.fullmatch(self.sha):
            raise ValueError(f"{self.repo}: {self.sha!r} is not a full 40-character lowercase commit SHA")
        if not _VERSION.fullmatch(self.version):
            raise ValueError(f"{self.repo}: {self.version!r} is not a release tag like v1.2.3")
        if self.runtime is not None and self.runtime not in RUNTIMES:
            allowed = ", ".join(RUNTIMES)
            raise ValueError(f"{self.repo}: {self.runtime!r} is not a runs.using value ({allowed})")

    def uses(self) -> str:
        """The value of a step's `uses:` key; the renderer appends `  # <version>`."""
        return f"{self.repo}@{self.sha}"


# v7.0.1 (2026-07-20), node24 (v5.0.0 moved checkout to node24; v7 manifests are reported as
# `using: node24` by several upgrade reviews). Sources: Dependabot compare link for 7.0.0 -> 7.0.1
# (.../compare/9c091bb2...3d3c42e5...; ChrisCarini and spring-boot bump PRs); a pin table "verified with
# git ls-remote" on 2026-09-05; a note that v7.0.1 is a lightweight tag (tag SHA = commit SHA).
# v7.0.0 blocks checking out fork PR code under pull_request_target/workflow_run (no gate workflow
# uses either); v6.0.0 stores persisted credentials under $RUNNER_TEMP instead of .git/config.
CHECKOUT: Final[Action] = Action(
    "actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1", "node24"
)

# v7.0.0, node24 (v6.0.0 moved it off node20; v7 manifests declare node24 per upgrade PRs). Sources:
# Dependabot compare for 6.3.0 -> 7.0.0 (.../compare/ece7cb06...5fda3b95...); a pin table verified with
# git ls-remote on 2026-09-05; workflows with `# v7.0.0`. v7 removed the `pip-install` input.
SETUP_PYTHON: Final[Action] = Action(
    "actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0", "node24"
)

# v7.1.0, node24 (v5.0.0 moved setup-node to node24). Sources: several independent pin tables and
# workflows with `# v7.1.0` (one linking the commit, "checked on 2026-10-08"); no Dependabot compare
# link found for this minor. v7.0.0 (820762786026740c76f36085b0efc47a31fe5020) removed the dummy
# NODE_AUTH_TOKEN export; v5.0.0 turned on npm/yarn/pnpm caching by default when package.json has a
# `packageManager` field (opt out with `package-manager-cache: false`).
SETUP_NODE: Final[Action] = Action(
    "actions/setup-node", "949feb2413d6458794dcd2491c4babbbce0c15c1", "v7.1.0", "node24"
)

# v7.0.2, node24 (v6.0.0 was the first node24 release; v5 only had preliminary support). Sources:
# several independent pin tables with `v7.0.2` (one linking action.yml at this commit, one noting the
# inputs were read from it); Go and Python pin constants. v7.0.0 added `archive` (default true: the
# zip behaviour is unchanged) and moved to ESM.
UPLOAD_ARTIFACT: Final[Action] = Action(
    "actions/upload-artifact", "cf430e030ddbb5b0abf93d22962f4752f3646cd9", "v7.0.2", "node24"
)

# v8.0.2, node24 (v7.0.0 was the first node24 release). Sources: the same independent pin tables as
# upload-artifact v7.0.2, each listing `v8.0.2` -> this commit; Go pin constants. v8 fails on an
# artifact digest mismatch by default and skips unzipping non-zip downloads; v5 changed the output
# path of downloads by artifact ID (not by name).
DOWNLOAD_ARTIFACT: Final[Action] = Action(
    "actions/download-artifact", "9000827ccba6bdab643e8b6fd33ac0654aef8333", "v8.0.2", "node24"
)

# v9.0.0, node24 (v8.0.0 moved it to node24; v9's action.yml is reported as node24). Sources: a bump
# PR (cypress-io/cypress) pinning this SHA for v9; pin tables with `v9.0.0`. v9 breaking: scripts can
# no longer `require('@actions/github')`, and `getOctokit` is now injected (a script declaring its own
# `getOctokit` fails). The gate's issue script uses only `github`, `context` and `process.env`.
GITHUB_SCRIPT: Final[Action] = Action(
    "actions/github-script", "3a2844b7e9c422d3c10d287c895573f7108da1b3", "v9.0.0", "node24"
)

# v0.36.0 (2026-04-22), composite (an upgrade review reads it as a composite action with node24
# steps inside); tags are v-prefixed from this release on, and it is still the newest tag found
# (2026-11). Sources: several workflows with `# v0.36.0`, one noting it was resolved from the tag via
# the GitHub API. Released after the March 2026 tag hijack (GHSA-69fq-xp46-6x23); 0.35.0
# (57a97c7e7821a5776cebc9bb87c984fa69cba8f1) was the first safe release. Never pin a trivy-action
# commit from before 0.35.0 without checking it. (a9c7b0f... is v0.36.0's annotated tag object, not
# its commit.)
TRIVY: Final[Action] = Action(
    "aquasecurity/trivy-action", "ed142fd0673e97e23eac54620cfb913e5ce36c25", "v0.36.0", "composite"
)

# v4.38.3, node24 (codeql-action v4 is the node24 line; v3 is node20 and deprecated in December
# 2026). Sources: a `git ls-remote` fixture (refs/tags/v4.38.3 = tag object cee97f86..., peeled
# `^{}` = this commit); pins "tag-sha verified via gh api"; workflows with `# v4.38.3`. All
# codeql-action sub-actions share the repository's tags. upload-sarif's action.yml differs from v3
# only in `using:`; `sarif_file` and `category` are unchanged.
UPLOAD_SARIF: Final[Action] = Action(
    "github/codeql-action/upload-sarif", "24c54180a607b1449ed407dd24f251e4e9147c8d", "v4.38.3", "node24"
)

# v4.4.1, node24 (v4.0.0: "Node 24 as default runtime"). Sources: Dependabot compare for -> 4.4.1
# (.../compare/37fe6310...f87e5991...); several pin tables with `v4.4.1`. v4 removed the deprecated
# `config`, `config-inline` and `install` inputs (the gate passes none).
SETUP_BUILDX: Final[Action] = Action(
    "docker/setup-buildx-action", "f87e5991a6d7451dcb8d9637bfbc97413f497069", "v4.4.1", "node24"
)

# v7.4.0, node24 (v7.0.0 moved it to Node 24). Sources: Dependabot compare for 7.3.0 -> 7.4.0
# (.../compare/53b7df96...c3c9e263...); several pin tables with `v7.4.0`. v7 kept the inputs
# (context, file, push, load, tags) and dropped the DOCKER_BUILD_NO_SUMMARY and
# DOCKER_BUILD_EXPORT_RETENTION_DAYS environment variables.
BUILD_PUSH: Final[Action] = Action(
    "docker/build-push-action", "c3c9e263c25d99ce0380d002d59b67737d91b0dc", "v7.4.0", "node24"
)

# node20 — blocked: grafana/setup-k6-action moved to node24 in PR #66 (merged 2026-04-24, released
# within days, probably as v1.2.x; a v1.2.1 is in use), but no public source pins a commit SHA for any
# release after v1.1.0, so the node24 tag cannot be verified here. Resolve it with `git ls-remote` and
# re-pin. Until then this step runs on Node 24 only because the runner forces node20 actions onto it.
# grafana/k6-action is no replacement: it is archived (2024) and runs k6 in Docker instead of
# installing it. v1.1.0 itself: only ONE public source (a workflow with `# v1.1.0`).
SETUP_K6: Final[Action] = Action(
    "grafana/setup-k6-action", "ffe7d7290dfa715e48c2ccc924d068444c94bde2", "v1.1.0", "node20"
)

# v7.0.0 (2026-05), node24 (pulumi/actions#1404 "Bump Node runtime from 20 to 24"; v7 exists for it).
# Sources: several workflows and pin tables with `# v7.0.0`; a review that read action.yml and
# src/ at this commit as v7.0.0. Inputs (command, stack-name, work-dir, diff, comment-on-pr,
# github-token) are unchanged from v6; without `command` it still only installs the CLI.
PULUMI: Final[Action] = Action(
    "pulumi/actions", "8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0", "node24"
)

# v4.0.0, node24 (v3.0.0 moved it to node24; v2.x is node20). Sources: the Dependabot release notes
# for 3.0.3 -> 4.0.0, whose newest commit is this one ("chore: release"); renovate-managed pin
# constants and bump PRs with `# v4.0.0`. Inputs (method, token, payload) are unchanged since v2;
# v4 parses YAML payloads strictly: a value continued on another line must be indented.
SLACK: Final[Action] = Action(
    "slackapi/slack-github-action", "dcb1066f776dd043e64d0e8ba94ca15cc7e1875d", "v4.0.0", "node24"
)

# v6.3.0 (2026-09-28), node24 (v6.0.0: "Update action to use node24"; v5.x is node20). Sources: a
# `git ls-remote` note (v6.3.0 = e1253824...); workflows and pin constants with `# v6.3.0`. v5 made
# invalid boolean inputs an error; v6 accepts only YAML 1.2 booleans (`true`/`false`, not `yes`/`no`).
CONFIGURE_AWS_CREDENTIALS: Final[Action] = Action(
    "aws-actions/configure-aws-credentials", "e1253824e5c10ff9df46874f81ed3ec929e19cfd", "v6.3.0", "node24"
)

ALL: Final[tuple[Action, ...]] = (
    CHECKOUT,
    SETUP_PYTHON,
    SETUP_NODE,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
    GITHUB_SCRIPT,
    TRIVY,
    UPLOAD_SARIF,
    SETUP_BUILDX,
    BUILD_PUSH,
    SETUP_K6,
    PULUMI,
    SLACK,
    CONFIGURE_AWS_CREDENTIALS,
)
