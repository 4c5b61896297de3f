"""The offline plan of the real program and stacks, and reading stack files (gate/policy/stackfile.py)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.errors import GateError, PolicyError
from gate.offline.engine import stable_id
from gate.offline.plan import (
    build_plan,
    canonical_chunks,
    canonical_json,
    load_plan,
    render_plan,
    root_hash,
    summarize,
    write_plan,
)
from gate.policy.stackfile import read_stack_config, to_engine_config
from tests.support.stacks import PROJECT, names, stack_plan

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")

BRANCH_PROTECTION = "github:index/branchProtection:BranchProtection"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
FILE = "github:index/repositoryFile:RepositoryFile"
LABEL = "github:index/issueLabel:IssueLabel"
ENVIRONMENT_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
GATE = "delivery-gate:github:RepositoryGate"
RUNTIME = "delivery-gate:kubernetes:RuntimeSafetyNet"
PROVIDER = "pulumi:providers:github"


def plan_of(stack: str) -> dict[str, Any]:
    return stack_plan(stack)


def of_type(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def project_copy(tmp_path: Path, stack: str, stack_file: str) -> Path:
    """A copy of this project whose only stack file is `stack_file`."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, project / name)
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(stack_file, encoding="utf-8")
    return project


DEV_STACK = """\
config:
  github:owner: acme
  delivery-gate:environment: dev
  delivery-gate:repositories:
    - name: aos
"""


# -- the real stacks ---------------------------------------------------------------------------


def test_dev_declares_the_merge_gate_with_the_required_checks() -> None:
    plan = plan_of("dev")
    protections = {r["inputs"]["pattern"]: r for r in of_type(plan, BRANCH_PROTECTION)}
    assert sorted(protections) == ["main", "release/*"]
    required = plan["outputs"]["requiredChecks"][names().full_name]
    for pattern, protection in protections.items():
        (checks,) = protection["inputs"]["requiredStatusChecks"]
        assert checks["contexts"] == required[pattern]
        assert checks["strict"] is True
        assert protection["options"]["protect"] is True
        assert protection["parent"] == f"urn:pulumi:dev::delivery-gate::{GATE}::{names().slug}"
    assert {"unit-tests-python", "security-scan", "e2e-parity"} <= set(required["main"])
    assert {r["inputs"]["file"] for r in of_type(plan, FILE)} == {
        ".github/CODEOWNERS",
        ".github/pull_request_template.md",
        ".github/workflows/ci.yml",
        ".github/workflows/deploy.yml",
        ".github/workflows/determinism-check.yml",
        ".github/workflows/e2e-parity-check.yml",
        ".github/workflows/ephemeral-janitor.yml",
        ".github/workflows/infra-preview.yml",
        ".github/workflows/mismatch-automation.yml",
        ".github/workflows/schema-change.yml",
        ".github/workflows/security-scan.yml",
        "tools/k6_slo_mapper.py",
        "tools/schema_change_check.py",
        # Issue 12 (notes): the release checks, the contract template, the notes and their config.
        ".github/release.yml",
        ".github/workflows/publish-release-notes.yml",
        ".github/workflows/release-contract.yml",
        ".github/workflows/release-notes.yml",
        "tools/release_check.py",
        "work/releases/_TEMPLATE-release-contract.md",
        # Issue 12 (drill): the scheduled rollback drill; (emergency) the emergency deploy.
        ".github/workflows/rollback-drill.yml",
        ".github/workflows/emergency-deploy.yml",
    }
    assert len(of_type(plan, LABEL)) >= 1
    assert plan["outputs"]["ownsMergeGate"] is True


def test_prod_protects_its_production_environment() -> None:
    plan = plan_of("prod")
    environments = {r["inputs"]["environment"]: r for r in of_type(plan, ENVIRONMENT)}
    assert sorted(environments) == ["production", "production-rollback"]
    environment, rollback = environments["production"], environments["production-rollback"]
    assert environment["options"]["protect"] is True and rollback["options"]["protect"] is True
    # Reviewers are looked up by slug; the plan answers with a stable id.
    (reviewers,) = environment["inputs"]["reviewers"]
    assert reviewers["teams"] == [int(stable_id("team", "release-managers"))]
    assert environment["inputs"]["waitTimer"] == 5
    # DP: rollback is automatic — the environment deploy.yml rolls back in waits for nobody.
    assert "reviewers" not in rollback["inputs"] and rollback["inputs"]["waitTimer"] == 0
    assert rollback["inputs"]["canAdminsBypass"] is False
    assert all(r["options"]["protect"] for r in of_type(plan, DEPLOYMENT_POLICY))
    branches = sorted(
        (r["inputs"]["environment"], r["inputs"]["branchPattern"]) for r in of_type(plan, DEPLOYMENT_POLICY)
    )
    assert branches == [(e, b) for e in ("production", "production-rollback") for b in ("main", "release/*")]
    # The merge gate belongs to another stack: prod must not fight dev over it.
    assert of_type(plan, BRANCH_PROTECTION) == []
    assert plan["outputs"]["requiredChecks"] == {}


def test_staging_declares_only_its_environment_unprotected() -> None:
    plan = plan_of("staging")
    environments = of_type(plan, ENVIRONMENT)
    assert sorted(e["inputs"]["environment"] for e in environments) == ["staging", "staging-rollback"]
    assert all(e["options"]["protect"] is False for e in environments)
    github = {
        r["type"] for r in plan["resources"] if r["type"].startswith(("github:", "pulumi:providers:github"))
    }
    assert github == {ENVIRONMENT, DEPLOYMENT_POLICY, ENVIRONMENT_VARIABLE, PROVIDER}
    # The deploy jobs of the staging environment log in to AWS with the staging deploy role.
    # Its rollback environment has the same variables: the rollback assumes the same role.
    variables = sorted(
        (r["inputs"]["environment"], r["inputs"]["variableName"], r["inputs"]["value"])
        for r in of_type(plan, ENVIRONMENT_VARIABLE)
    )
    assert variables == [
        (environment, name, value)
        for environment in ("staging", "staging-rollback")
        for name, value in (
            ("AWS_DEPLOY_ROLE_ARN", "arn:aws:iam::123456789012:role/delivery-gate-deploy-staging"),
            ("AWS_REGION", "eu-west-1"),
        )
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_structure(stack: str) -> None:
    plan = plan_of(stack)
    urns = [r["urn"] for r in plan["resources"]]
    assert urns == sorted(urns)
    assert len(set(urns)) == len(urns)
    stack_urn = f"urn:pulumi:{stack}::delivery-gate::pulumi:pulumi:Stack::delivery-gate-{stack}"
    for resource in plan["resources"]:
        assert resource["parent"] in {stack_urn, *urns}, resource["urn"]
        assert resource["custom"] is (not resource["type"].startswith("delivery-gate:"))
        provider = resource["options"]["provider"]
        assert provider is None or provider in urns
    assert plan["project"] == "delivery-gate"
    assert plan["stack"] == stack
    assert plan["root_hash"] == root_hash(plan)


def test_components_carry_their_outputs() -> None:
    (gate,) = of_type(plan_of("dev"), GATE)
    assert gate["outputs"] == {"environment": "dev", "protectedBranches": ["main", "release/*"]}


def test_the_plan_is_byte_identical_across_runs_and_processes(tmp_path: Path) -> None:
    first = render_plan(build_plan(PROJECT, "dev"))
    second = render_plan(build_plan(PROJECT, "dev"))
    assert first == second
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gate",
            "plan",
            "--stack",
            "dev",
            "--out",
            str(tmp_path),
            "--project-dir",
            ".",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "dev" / "plan.json").read_bytes() == first


def test_the_root_hash_follows_the_content(tmp_path: Path) -> None:
    changed = project_copy(tmp_path, "dev", DEV_STACK + "      languages: [python]\n")
    plan = build_plan(changed, "dev")
    assert plan["root_hash"] != plan_of("dev")["root_hash"]
    assert "unit-tests-javascript" not in plan["outputs"]["requiredChecks"]["acme/aos"]["main"]
    # The same content in another directory gives the same hash: the path is not part of the plan.
    same = project_copy(tmp_path / "again", "dev", (PROJECT / "stacks" / "Pulumi.dev.yaml").read_text())
    assert build_plan(same, "dev")["root_hash"] == build_plan(PROJECT, "dev")["root_hash"]


def test_render_is_canonical_json() -> None:
    plan = plan_of("dev")
    text = render_plan(plan).decode("utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "§" in text  # CODEOWNERS text is kept as UTF-8, not \u-escaped


def test_write_and_load_plan(tmp_path: Path) -> None:
    path = write_plan(plan_of("staging"), tmp_path)
    assert path == tmp_path / "staging" / "plan.json"
    assert load_plan(path) == plan_of("staging")
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]  # no temporary file left


def test_summary_lists_types_checks_and_hash() -> None:
    dev = summarize(plan_of("dev"))
    assert re.search(rf"^  {re.escape(BRANCH_PROTECTION)} +2$", dev, re.MULTILINE)
    assert names().full_name in dev
    assert "main (13): unit-tests-python" in dev
    assert plan_of("dev")["root_hash"] in dev
    assert "merge gate declared by another stack" in summarize(plan_of("prod"))


def test_a_secret_token_stays_secret_in_the_plan(tmp_path: Path) -> None:
    stack_file = DEV_STACK.replace(
        "github:owner: acme\n", "github:owner: acme\n  github:token:\n    secure: v1:AAAAciphertext\n"
    )
    plan = build_plan(project_copy(tmp_path, "dev", stack_file), "dev")
    (provider,) = of_type(plan, PROVIDER)
    assert provider["inputs"]["token"] == "[secret]"
    assert "ciphertext" not in render_plan(plan).decode("utf-8")


def test_a_bad_stack_config_is_a_gate_error_naming_the_path(tmp_path: Path) -> None:
    project = project_copy(tmp_path, "dev", DEV_STACK + "      languages: [cobol]\n")
    with pytest.raises(GateError, match=r"stacks/Pulumi\.dev\.yaml") as caught:
        build_plan(project, "dev")
    assert "delivery-gate:repositories[0].languages[0]" in str(caught.value)


# -- stack files -------------------------------------------------------------------------------


def test_stack_config_values_and_secrets(tmp_path: Path) -> None:
    project = project_copy(
        tmp_path,
        "dev",
        DEV_STACK
        + "  demo:password:\n    secure: v1:xyz\n"
        + "  demo:nested:\n    inner:\n      secure: v1:abc\n    plain: 1\n",
    )
    config = read_stack_config(project, "dev")
    assert config.source == "stacks/Pulumi.dev.yaml"
    assert config.values["github:owner"] == "acme"
    assert config.values["delivery-gate:repositories"] == [{"name": "aos"}]
    assert config.values["demo:password"] == "[secret]"
    assert config.values["demo:nested"] == {"inner": "[secret]", "plain": 1}
    assert config.secret_keys == frozenset({"demo:password", "demo:nested"})


def test_a_standard_pulumi_layout_keeps_stack_files_beside_pulumi_yaml(tmp_path: Path) -> None:
    # A gated repository's infra/ (what infra-plan plans): no stackConfigDir, infra/Pulumi.dev.yaml.
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "Pulumi.yaml").write_text("name: service-infra\nruntime: python\n")
    (infra / "Pulumi.dev.yaml").write_text("config:\n  service-infra:size: 3\n")
    config = read_stack_config(infra, "dev")
    assert config.source == "Pulumi.dev.yaml"
    assert config.values == {"service-infra:size": 3}
    with pytest.raises(GateError, match=r"Pulumi\.prod\.yaml: no such stack file"):
        read_stack_config(infra, "prod")


def test_a_plain_text_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    project = project_copy(tmp_path, "dev", DEV_STACK + "  github:token: ghp_plaintext123\n")
    with pytest.raises(PolicyError) as caught:
        read_stack_config(project, "dev")
    (problem,) = caught.value.problems
    assert problem.path == "github:token"
    assert problem.value == "<redacted>"
    assert "pulumi config set --secret github:token" in problem.allowed
    assert "ghp_plaintext123" not in str(caught.value)


def test_a_missing_stack_names_the_file_and_the_stacks_that_exist() -> None:
    with pytest.raises(GateError) as caught:
        read_stack_config(PROJECT_DIR, "qa")
    message = str(caught.value)
    assert "stacks/Pulumi.qa.yaml" in message
    assert "dev, prod, staging" in message


def test_a_stack_name_cannot_leave_the_stacks_directory() -> None:
    with pytest.raises(GateError, match="invalid stack name"):
        read_stack_config(PROJECT_DIR, "../dev")


def test_a_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    project = project_copy(
        tmp_path, "dev", "config:\n  github:owner: acme\n  delivery-gate:environment: [dev\n"
    )
    with pytest.raises(GateError, match=r"^stacks/Pulumi\.dev\.yaml: invalid YAML at line \d+, column \d+: "):
        read_stack_config(project, "dev")


def test_engine_config_is_strings_and_json() -> None:
    assert to_engine_config(
        {"a:s": "text", "a:n": 3, "a:b": True, "a:l": [{"y": 1, "x": 2}], "a:j": "[not json"}
    ) == {"a:s": "text", "a:n": "3", "a:b": "true", "a:l": '[{"x": 2, "y": 1}]', "a:j": "[not json"}


LONG_TEXT = 'name: "ci"\non: [push]\njobs:\n  t:\n    run: echo "\\\\ \t ü"\n' * 40


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"resources": []},
        {"resources": [{"b": 1, "a": "é\n"}, None, [1, 2.5]], "outputs": {"z": [1], "a": True}},
        {"invokes": [{"token": "t", "args": {}}], "project": "ünïcode ${{ x }}"},
        # Long inputs, encoded once per distinct text: shared between resources, several in one
        # resource (written in sorted key order), escapes and non-ASCII inside, one resource whose
        # other values encode like the stand-in (its shortcut is refused, the bytes are the same).
        {
            "resources": [
                {"urn": "a", "inputs": {"content": LONG_TEXT, "file": "a.yml"}},
                {"urn": "b", "inputs": {"z": LONG_TEXT + "x", "content": LONG_TEXT, "m": ["é" * 2000]}},
                {"urn": "c", "inputs": {"content": LONG_TEXT, "note": "\x00delivery-gate:long-input\x00"}},
                {"urn": "d", "inputs": "not a mapping"},
            ]
        },
    ],
)
def test_the_root_hash_is_taken_over_the_canonical_json_in_pieces(document: dict[str, Any]) -> None:
    # Issue 14: hashed piecewise so a large plan is never held whole; the bytes must not change.
    assert b"".join(canonical_chunks(document)) == canonical_json(document)
    # One encoder built once (issue 14) writes what json.dumps with the canonical options writes.
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(document) == canonical.encode("utf-8")
    assert root_hash(document) == "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()


def test_the_reused_encoder_refuses_what_json_dumps_refuses_and_has_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gate.offline import plan as plan_module  # noqa: PLC0415 - its encoder is swapped below

    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        canonical_json({"a": {1}})
    document = {"b": [1.5, None, "é"], "a": {"y": True, "x": "${{ x }}"}}
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical_json(document) == expected
    # Without the C accelerator (another interpreter), the Python encoder writes the same bytes.
    monkeypatch.setattr(plan_module, "_ENCODE", None)
    assert canonical_json(document) == expected


def test_a_plan_imports_none_of_the_delivery_commands() -> None:
    """Issue 14, item 1: a plan renders the drill, emergency and evaluation jobs and checks GATE-DP-16,
    but imports neither the commands behind them (deploy, promote, evaluate, the drill's deploys,
    the change log) nor what only they need: 17 ms of every one-repository plan."""
    code = (
        "import sys\n"
        "from tests.support.stacks import stack_plan\n"
        "files = {}\n"
        "for stack in ('dev', 'staging', 'prod'):\n"
        "    for r in stack_plan(stack)['resources']:\n"
        "        files[r.get('inputs', {}).get('file')] = str(r.get('inputs', {}).get('content'))\n"
        "deploy = files.get('.github/workflows/deploy.yml', '')\n"
        "print('.github/workflows/rollback-drill.yml' in files, 'python -m gate evaluate' in deploy)\n"
        "print(sorted(m for m in sys.modules if m.startswith('gate.promotion.') or m == 'difflib'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=PROJECT_DIR
    )
    rendered, loaded = out.stdout.splitlines()
    assert rendered == "True True"
    assert loaded == str(
        [
            "gate.promotion.delivery",
            "gate.promotion.drill",
            "gate.promotion.emergency",
            "gate.promotion.evaluation_jobs",
            "gate.promotion.evidence",
            "gate.promotion.outside",
        ]
    )
