"""A release as the harness's sample repository makes one (issue 12): the release contract a push
adds, the contract check the gate commits, and the GitHub answers a production deploy reads.

`tools/release_check.py` and the contract template are part "notes"'s (gate/release_contract.py),
committed into each gated repository. With that module in this project the sample repository
gets both and `contract_text` fills the real template (every section written, every box ticked);
without it, PLACEHOLDER below (test fixture only) checks what the contract CLI promises (the file
exists, is not empty, has no unchecked box).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

RELEASE_CHECK_PATH = "tools/release_check.py"
CONTRACTS = "work/releases"
APPROVER = "alice"

PLACEHOLDER = '''\
"""Placeholder of tools/release_check.py (part notes): contract only."""
import argparse
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("command", choices=["contract"])
parser.add_argument("--version", required=True)
parser.add_argument("--directory", default="work/releases")
args = parser.parse_args()
path = Path(args.directory) / f"{args.version}.md"
if not path.is_file():
    print(f"{path}: no release contract for {args.version}")
    sys.exit(1)
text = path.read_text(encoding="utf-8")
if not text.strip() or "- [ ]" in text:
    print(f"{path}: empty or an unchecked box")
    sys.exit(1)
print(f"{path}: release contract complete")
'''


def _release_contract_module() -> Any | None:
    """gate/release_contract.py (part notes) when it exists in this project."""
    try:
        return importlib.import_module("gate.release_contract")
    except ImportError:
        return None


def release_files(policy: Any) -> dict[str, str]:
    """What the gate commits into the repository for releases: the check tool and, with part notes,
    the contract template the tool validates against."""
    module = _release_contract_module()
    if module is None:
        return {RELEASE_CHECK_PATH: PLACEHOLDER}
    return {
        RELEASE_CHECK_PATH: module.release_check_source(),
        module.template_path(policy): module.render_template(policy),
    }


def release_check_source() -> str:
    module = _release_contract_module()
    return PLACEHOLDER if module is None else str(module.release_check_source())


def contract_path(version: str) -> str:
    return f"{CONTRACTS}/{version}.md"


def template_path() -> str:
    return f"{CONTRACTS}/_TEMPLATE-release-contract.md"


# Without part notes: the sections the issue names for the template, every box checked.
SECTIONS = (
    ("Scope", "Replay engine 1.4: faster canonicalisation."),
    ("Rollout plan", "- [x] canary 10/50/100 with analysis"),
    ("Rollback plan", "- [x] previous digest redeployed; tested in the staging drill"),
    ("Feature flags", "- [x] none new"),
    ("Database migrations", "- [x] none"),
    ("Observability", "- [x] dashboard and alerts linked"),
    ("Deployment window", "- [x] inside Mon-Thu 09:00-16:00 UTC, #releases told"),
)


def _template() -> str | None:
    module = _release_contract_module()
    if module is None:
        return None
    from tests.test_workflows import policy  # noqa: PLC0415 - the default policy, only with part notes

    return str(module.render_template(policy()))


def contract_text(version: str) -> str:
    """A complete contract: the template (part notes) with every section written and every box
    ticked; without it, SECTIONS."""
    template = _template()
    if template is None:
        body = "\n".join(f"## {title}\n\n{text}\n" for title, text in SECTIONS)
        return f"# Release contract {version}\n\n{body}"
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
