"""The GitHub Actions the gate workflows use, each pinned to the full commit SHA of a release tag.

Why pinned: the merge gate's security-scan policy requires third-party code in CI to be immutable.
A tag can be moved to other code (in March 2026 nearly every tag of aquasecurity/trivy-action was
force-pushed to a credential stealer); a commit SHA cannot. zizmor's `unpinned-uses` audit, which
the tests run on every generated workflow, rejects anything but a full SHA.

Each SHA below was taken from public workflows pinned by Dependabot, Renovate or pinact (which
write the tag they resolved as a `# vX.Y.Z` comment) and cross-checked in at least two
independent public sources unless a comment says otherwise. The renderer writes `version` as a
YAML comment after the SHA, which is also what Dependabot and Renovate update.

To upgrade: resolve the new tag to its commit (`git ls-remote https://github.com/<repo> refs/tags/<tag>`,
dereferencing annotated tags with `^{}`), change `sha` and `version` together, and refresh the
golden plans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_SHA = re.compile(r"[0-9a-f]{40}")
_VERSION = re.compile(r"v\d+\.\d+\.\d+")


@dataclass(frozen=True)
class Action:
    """One action at one release: `repo` may name a sub-action (github/codeql-action/upload-sarif)."""

    repo: str
    sha: str
    version: str

    def __post_init__(self) -> None:
        if not _SHA.fullmatch(self.sha):
            raise ValueError(f"{self.repo}: {self.sha!r} is not a full 40-character lowercase commit SHA")
        if not _VERSION.fullmatch(self.version):
            raise ValueError(f"{self.repo}: {self.version!r} is not a release tag like v1.2.3")

    def uses(self) -> str:
        """The value of a step's `uses:` key; the renderer appends `  # <version>`."""
        return f"{self.repo}@{self.sha}"


# v5.0.1 (node24). Sources: pinact-pinned example `# v5.0.1`; a pin table noting "tag v5.0.1 resolves
# to this exact SHA" (GitHub API); workflows pinning it as `# v5` while v5 pointed at v5.0.1.
# (v4's last release, v4.3.1, is 34e114876b0b11c390a56381ad16ebd13914f8d5, if v4 is ever needed.)
CHECKOUT: Final[Action] = Action("actions/checkout", "93cb6efe18208431cddfb8368fd83d5badbf9bfd", "v5.0.1")

# v5.6.0, the last v5 release. Sources: many workflows with `# v5.6.0` (dbt, uv and .NET projects).
SETUP_PYTHON: Final[Action] = Action(
    "actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"
)

# v4.4.0, the last v4 release. Sources: several workflows with `# v4.4.0` next to setup-python v5.6.0.
SETUP_NODE: Final[Action] = Action("actions/setup-node", "49933ea5288caeca8642d1e84afbd3f7d6820020", "v4.4.0")

# v4.6.2, the last v4 release. Sources: many workflows and pin tables with `# v4.6.2`.
UPLOAD_ARTIFACT: Final[Action] = Action(
    "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
)

# v4.3.0, the last v4 release. Sources: release workflows and pinning guides with `# v4.3.0`.
DOWNLOAD_ARTIFACT: Final[Action] = Action(
    "actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"
)

# v7.1.0, the last v7 release. Sources: several workflows and pin tables `actions/github-script@v7 ->
# ...f28e40c7... # v7.1.0`; others pin it as `# v7`.
GITHUB_SCRIPT: Final[Action] = Action(
    "actions/github-script", "f28e40c7f34bde8b3046d885e986cb6290c5673b", "v7.1.0"
)

# v0.36.0 (2026-04-22), tags are v-prefixed from this release on. Sources: several workflows with
# `# v0.36.0`, one noting it was resolved from the tag via the GitHub API. Released after the March
# 2026 tag hijack (GHSA-69fq-xp46-6x23); 0.35.0 (57a97c7e7821a5776cebc9bb87c984fa69cba8f1) was the
# first safe release. Never pin a trivy-action commit from before 0.35.0 without checking it.
TRIVY: Final[Action] = Action(
    "aquasecurity/trivy-action", "ed142fd0673e97e23eac54620cfb913e5ce36c25", "v0.36.0"
)

# v3.30.3. Sources: Dependabot's compare link for "bump github/codeql-action from 3.30.2 to 3.30.3"
# (.../compare/d3678e23...192325c8...); an SBOM purl `upload-sarif@3.30.3?commit=192325c8...`;
# a workflow with `# v3.30.3`. All codeql-action sub-actions share the repository's tags.
# CodeQL Action v3 runs on Node 20 and is deprecated in December 2026 (v4 runs on Node 24).
UPLOAD_SARIF: Final[Action] = Action(
    "github/codeql-action/upload-sarif", "192325c86100d080feab897ff886c34abd4c83a3", "v3.30.3"
)

# v3.12.0. Sources: many workflows and pin lists with `# v3.12.0`.
SETUP_BUILDX: Final[Action] = Action(
    "docker/setup-buildx-action", "8d2750c68a42422c14e847fe6c8ac0403b4cbd6f", "v3.12.0"
)

# v6.19.2. Sources: many workflows and pin lists with `# v6.19.2`.
BUILD_PUSH: Final[Action] = Action(
    "docker/build-push-action", "10e90e3645eae34f1e60eeb005ba3a3d33f178e8", "v6.19.2"
)

# v1.1.0. Only ONE public source found (a workflow with `# v1.1.0`): verify with `git ls-remote` before
# relying on it. A v1.2.x exists but no pinned SHA of it was found. The action's README now points
# to grafana/k6-action.
SETUP_K6: Final[Action] = Action(
    "grafana/setup-k6-action", "ffe7d7290dfa715e48c2ccc924d068444c94bde2", "v1.1.0"
)

# v6.6.1, the last v6 release. Sources: a deployment spec pinning it as `v6.6.1`; an unrelated PR
# (DefangLabs/pulumi-defang) naming `pulumi/actions@8582a9e` as v6.6.1 after checking real tags.
PULUMI: Final[Action] = Action("pulumi/actions", "8582a9e8cc630786854029b4e09281acd6794b58", "v6.6.1")

# v2.1.1. Sources: several release and notification workflows with `# v2.1.1`.
SLACK: Final[Action] = Action(
    "slackapi/slack-github-action", "91efab103c0de0a537f72a35f6b8cda0ee76bf0a", "v2.1.1"
)

# v4.3.1, the last v4 release. Sources: several OIDC deploy workflows with `# v4.3.1`.
CONFIGURE_AWS_CREDENTIALS: Final[Action] = Action(
    "aws-actions/configure-aws-credentials", "7474bc4690e29a8392af63c5b98e7449536d5c3a", "v4.3.1"
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
