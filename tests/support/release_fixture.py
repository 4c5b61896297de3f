"""A release as the harness's sample repository makes one (issue 12): the release contract a push
adds, the contract check the gate commits, and the GitHub answers a production deploy reads.

`tools/release_check.py` is part "notes"'s tool, committed into each gated repository. Until it
exists in this project, the sample repository gets PLACEHOLDER below (test fixture only): it
checks what the contract CLI promises (the file exists, is not empty, has no unchecked box). Once
the real tool exists, the real one is committed instead and the contract below must satisfy it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

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


def release_check_source() -> str:
    real = ROOT / RELEASE_CHECK_PATH
    return real.read_text(encoding="utf-8") if real.is_file() else PLACEHOLDER


def contract_path(version: str) -> str:
    return f"{CONTRACTS}/{version}.md"


# The sections the issue names for the template (scope, rollout plan, rollback plan and how it
# was tested, flags, migrations, observability, window), every box checked.
SECTIONS = (
    ("Scope", "Replay engine 1.4: faster canonicalisation."),
    ("Rollout plan", "- [x] canary 10/50/100 with analysis"),
    ("Rollback plan", "- [x] previous digest redeployed; tested in the staging drill"),
    ("Feature flags", "- [x] none new"),
    ("Migrations", "- [x] none"),
    ("Observability", "- [x] dashboard and alerts linked"),
    ("Deployment window", "- [x] inside Mon-Thu 09:00-16:00 UTC, #releases told"),
)


def contract_text(version: str) -> str:
    body = "\n".join(f"## {title}\n\n{text}\n" for title, text in SECTIONS)
    return f"# Release contract {version}\n\n{body}"


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
