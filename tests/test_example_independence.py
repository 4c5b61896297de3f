"""Issue 13, item 4: the tests do not depend on the example organisation.

The shipped stacks are an example (`acme`, repository `aos`). A copy of them with the names changed
(`example-org`, `shop`: tests/support/example_org.py) must plan the same gate, name for name, and
the tests on the shipped stacks must pass against it: they read the organisation's names from the
loaded policy (`tests.support.stacks.names()`), never from a literal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.example_org import RENAMES, names_of, rename, renamed_project
from tests.support.stacks import PROJECT_ENV, STACKS, chained_plans

# The modules whose assertions run on the project's own stacks (tests/support/stacks.py PROJECT).
SHIPPED_STACK_MODULES = (
    "tests/test_consistency.py",
    "tests/test_diff_review.py",
    "tests/test_evaluate.py",
    "tests/test_health.py",
    "tests/test_plan.py",
    "tests/test_runtime.py",
    "tests/test_namespace_scope.py",
    "tests/test_network.py",
    "tests/test_dashboards.py",
    "tests/test_ephemeral.py",
    "tests/test_promotion.py",
    "tests/test_plan_schema.py",
    "tests/test_relay.py",
)
REVISION = re.compile(r"(files-|codeowners-|sha256[: ]|`|\()[0-9a-f]{12,64}\b")
EXAMPLE_WORDS = re.compile(r"\b(" + "|".join(RENAMES) + r")\b")


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return renamed_project(tmp_path_factory.mktemp("example-org") / "project")


@pytest.fixture(scope="module")
def plans(renamed: Path) -> dict[str, dict[str, dict[str, Any]]]:
    return {"shipped": chained_plans(ROOT), "renamed": chained_plans(renamed)}


def normalised(plan: dict[str, Any]) -> str:
    """The plan with both organisations' names replaced by the same placeholders; no root hash (it
    hashes the names too)."""
    text = json.dumps({k: v for k, v in plan.items() if k != "root_hash"}, sort_keys=True, indent=1)
    # Digests of content that holds the names: the gate pull request's revision (gate/github/
    # filesupdate.py) and its files' hashes; and the counter named after the application.
    text = REVISION.sub(r"\1<REVISION>", text)
    text = re.sub(r"\b(aos|shop)_replay_mismatch_total", "<NAME>_replay_mismatch_total", text)
    placeholders = {"owner": "<OWNER>", "repository": "<NAME>"}
    text = rename(text, {"acme": placeholders["owner"], "aos": placeholders["repository"]})
    return rename(text, {"example-org": placeholders["owner"], "shop": placeholders["repository"]})


def test_the_copy_holds_none_of_the_example_names(renamed: Path) -> None:
    files = sorted(path for path in renamed.rglob("*") if path.is_file() and not path.is_symlink())
    copied = [path for path in files if "stacks" in path.parts or "examples" in path.parts]
    assert any(path.name == "Pulumi.dev.yaml" for path in copied)
    for path in copied:
        assert not EXAMPLE_WORDS.search(path.read_text(encoding="utf-8")), path
    # The names the tests read come from the loaded policy: the example's, or the copy's.
    assert names_of(ROOT).owner == "acme" and names_of(ROOT).repository == "aos"
    renamed_names = names_of(renamed)
    assert (renamed_names.owner, renamed_names.repository) == ("example-org", "shop")
    assert renamed_names.full_name == "example-org/shop" and renamed_names.slug == "example-org-shop"


@pytest.mark.parametrize("stack", STACKS)
def test_the_renamed_organisation_plans_the_same_gate(
    plans: dict[str, dict[str, dict[str, Any]]], stack: str
) -> None:
    shipped, renamed = plans["shipped"][stack], plans["renamed"][stack]
    # Only the merge-gate stack (dev) declares required checks; the others export none.
    assert renamed["outputs"]["requiredChecks"] == {
        rename(name): checks for name, checks in shipped["outputs"]["requiredChecks"].items()
    }
    if stack == "dev":
        assert set(renamed["outputs"]["requiredChecks"]) == {"example-org/shop"}
    assert renamed["root_hash"] != shipped["root_hash"]
    # Name for name the same plan: nothing in the gate is specific to the example organisation.
    assert normalised(renamed) == normalised(shipped)
    assert "acme" not in json.dumps(renamed)


def test_the_renamed_gate_declares_the_renamed_repository(
    plans: dict[str, dict[str, dict[str, Any]]],
) -> None:
    dev = plans["renamed"]["dev"]
    gates = [r for r in dev["resources"] if r["type"] == "delivery-gate:github:RepositoryGate"]
    assert [gate["name"] for gate in gates] == ["example-org-shop"]
    github = [
        r for r in dev["resources"] if r["type"].startswith("github:index/") and "repository" in r["inputs"]
    ]
    assert github and {r["inputs"]["repository"] for r in github} == {"shop"}
    providers = [r for r in dev["resources"] if r["type"] == "pulumi:providers:github"]
    assert {p["inputs"]["owner"] for p in providers} == {"example-org"}


def test_the_normalisation_can_fail(plans: dict[str, dict[str, dict[str, Any]]]) -> None:
    # Guard against a comparison that hides everything: one changed check is seen.
    changed = json.loads(json.dumps(plans["renamed"]["dev"]))
    changed["outputs"]["requiredChecks"]["example-org/shop"]["main"].pop()
    assert normalised(changed) != normalised(plans["shipped"]["dev"])


@pytest.mark.skipif(bool(os.environ.get(PROJECT_ENV)), reason="already running against a copy")
def test_the_shipped_stack_tests_pass_for_the_renamed_organisation(renamed: Path) -> None:
    """The modules on the shipped stacks, run against the renamed copy in a fresh process (the
    project the tests read is chosen when tests/support/stacks.py is imported)."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", *SHIPPED_STACK_MODULES],
        cwd=ROOT,
        env={**os.environ, PROJECT_ENV: str(renamed)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
