"""ShellCheck on every `run:` block of every rendered workflow, for each policy variant.

Linted is not working, but some of what does not work is visible to ShellCheck: an `echo "x=$(cmd)"`
that swallows cmd's failure (SC2312) recorded an empty rollback tag on a first deploy; an unquoted
expansion splits a path. Every finding is a failure; the variants include hostile-looking but valid
commands, so a block is checked as a stack can configure it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gate.github.repository import workflows_run_for
from tests.support.workflow_tools import run_blocks, run_shellcheck
from tests.test_workflows import VARIANTS, policy


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_run_block_passes_shellcheck(variant: str, tmp_path: Path) -> None:
    gate_policy = policy(**VARIANTS[variant])
    findings: list[str] = []
    checked = 0
    for path, text in sorted(workflows_run_for(gate_policy, gate_policy.repositories[0]).items()):
        if not path.endswith(".yml"):
            continue
        for where, shell, script in run_blocks(yaml.safe_load(text)):
            checked += 1
            findings += [f"{path} {where}: {line}" for line in run_shellcheck(script, shell, tmp_path)]
    assert checked > 20  # the walk found the run blocks
    assert findings == []


def test_shellcheck_catches_the_bugs_the_gate_shipped(tmp_path: Path) -> None:
    masked = run_shellcheck('echo "tag=$(scripts/current-tag.sh dev)" >> "$GITHUB_OUTPUT"\n', None, tmp_path)
    assert any("SC2312" in line for line in masked)
    # The canonical-json job's `OUT_DIR=x cmd --out "$OUT_DIR"`: the expansion does not see the assignment.
    early = run_shellcheck('OUT_DIR=build/canonical-1 python x.py --out "$OUT_DIR"\n', None, tmp_path)
    assert any("SC2098" in line for line in early)
    fixed = 'previous="$(scripts/current-image.sh dev)"\necho "$previous"\n'
    assert run_shellcheck(fixed, None, tmp_path) == []
