"""A release as the harness's sample repository makes one (issue 12): the release contract a push
adds, the contract check the gate commits, and the GitHub answers a production deploy reads.

`tools/release_check.py` and the contract template (gate/github/release_contract.py) are committed into
each gated repository; `contract_text` fills the real template (every section written, every box
ticked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gate.github import release_contract

CONTRACTS = "work/releases"
APPROVER = "alice"


def release_files(policy: Any) -> dict[str, str]:
    """What the gate commits into the repository for releases: the check tool and the contract
    template the tool validates against."""
    return {
        release_contract.RELEASE_CHECK_PATH: release_contract.release_check_source(),
        release_contract.template_path(policy): release_contract.render_template(policy),
    }


def contract_path(version: str) -> str:
    return f"{CONTRACTS}/{version}.md"


def template_path() -> str:
    return f"{CONTRACTS}/_TEMPLATE-release-contract.md"


def _template() -> str:
    from tests.test_workflows import policy  # noqa: PLC0415 - the default policy

    return str(release_contract.render_template(policy()))


def contract_text(version: str) -> str:
    """A complete contract: the template with every section written and every box ticked."""
    template = _template()
    lines = []
    for line in template.splitlines():
        lines.append(line.replace("- [ ]", "- [x]", 1).replace("<version>", version))
        if line.startswith("## "):
            lines.append(f"Written for release {version}: see the pull request.")
    return "\n".join(lines) + "\n"


def set_github_responses(world: Path, **answers: Any) -> None:
    """github-script answers by method (see tests/support/actions_runner.py): merged."""
    path = world / "github" / "responses.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**current, **answers}, indent=2))


def approvals(environment: str = "production", login: str = APPROVER) -> list[dict[str, Any]]:
    """GET /repos/{o}/{r}/actions/runs/{id}/approvals as GitHub answers it after an approval."""
    return [
        {
            "state": "approved",
            "comment": "ship it",
            "environments": [{"name": environment}],
            "user": {"login": login},
        }
    ]


def approve_production(world: Path) -> None:
    set_github_responses(world, **{"actions.getReviewsForRun": approvals()})
