"""What the delivery path refuses with, and the outside world it talks to.

The refusals carry their exit codes (gate/cli/exitcodes.py): `DeliveryRefused` is the policy's
refusal (3), `DeliveryUsage` what was typed or set up (2), `GitHubApiFailed` an error answer of the
GitHub API (4); nothing was applied in any of them. The stack workspace and the GitHub API are small
protocols, so that tests run the real commands against fakes; `RestGitHub` is the real API.

Apart from the commands (gate/promotion/deploy.py and the modules beside it), so that what a plan
imports to check a stack (drill, emergency) does not import the deploy path.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any, Protocol

from gate.errors import GateError, InputOutputError, UsageError
from gate.github import api as githubapi


class DeliveryRefused(GateError):
    """A deploy, rollback or evidence record that must not go ahead; nothing was applied."""


class DeliveryUsage(DeliveryRefused, UsageError):
    """What was typed or set up cannot be used (a malformed option, options that belong together, no
    token): nothing was applied, and it is a usage error (exit 2), not a refusal by the policy (3)."""


class GitHubApiFailed(DeliveryRefused, InputOutputError):
    """The GitHub API answered with an error; nothing was applied (exit 4)."""


class StackWorkspace(Protocol):
    def outputs(self, stack: str) -> dict[str, Any]: ...

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]: ...


class GitHubApi(Protocol):
    def get(self, path: str) -> Any: ...


class RestGitHub:
    """GET on the GitHub REST API with the job's token (GH_TOKEN or GITHUB_TOKEN)."""

    def __init__(self, token: str, api_url: str = "https://api.github.com") -> None:
        self.token, self.api_url = token, api_url.rstrip("/")

    def get(self, path: str) -> Any:
        try:
            return githubapi.get_json(self.api_url, self.token, path)
        except urllib.error.HTTPError as error:
            raise GitHubApiFailed(f"GitHub API GET {path}: HTTP {error.code}") from None


def run_and_jobs(github: GitHubApi, repository: str, run_id: int) -> tuple[Any, list[Any]]:
    """The GitHub API's view of a workflow run: the run, then its jobs (the first 100)."""
    base = f"repos/{repository}/actions/runs/{run_id}"
    answer = github.get(base)
    return answer, (github.get(f"{base}/jobs?per_page=100") or {}).get("jobs", [])
