"""The base file (stacks/base.yaml) through the real program and CLI (issue 13 item 2).

The shipped stacks, refactored onto a base file (tests/fixtures/base-project/stacks), plan
byte-identically; the base file's values reach the plan, `gate check` and `gate promote`; every
problem names the file it is in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main as cli
from gate.errors import GateError
from gate.offline.plan import build_plan
from gate.policy.stackfile import read_own_stack_config, read_stack_config
from tests.conftest import ROOT, ProjectFactory

FIXTURE = ROOT / "tests" / "fixtures" / "base-project" / "stacks"
EVIDENCE = {
    "staging": ROOT / "examples" / "state" / "staging.json",
    "prod": ROOT / "examples" / "state" / "prod.json",
}
FLAG = {
    "key": "new-checkout",
    "owner": "payments",
    "expires": "2099-06-30",
    "issue": "https://github.com/acme/aos/issues/7",
}


def layered_project(make_project: ProjectFactory, base: str | None = None, **stacks: str) -> Path:
    """The base-refactored copy of the shipped stacks, with `base` and `stacks` replacing its files."""
    project = make_project({})
    for path in FIXTURE.iterdir():
        shutil.copy(path, project / "stacks" / path.name)
    if base is not None:
        (project / "stacks" / "base.yaml").write_text(base)
    for stack, text in stacks.items():
        (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    return project


def fixture_text(name: str) -> str:
    return (FIXTURE / name).read_text()


def with_config(text: str, **values: Any) -> str:
    """A stack or base file with `delivery-gate:<key>` values added (github:owner as `owner`)."""
    document = yaml.safe_load(text)
    for key, value in values.items():
        document["config"]["github:owner" if key == "owner" else f"delivery-gate:{key}"] = value
    return yaml.safe_dump(document, sort_keys=False)


def plan(project: Path, stack: str) -> dict[str, Any]:
    evidence = {stack: EVIDENCE[stack]} if stack in EVIDENCE else {}
    upstream = {"staging": "dev", "prod": "staging"}.get(stack)
    if upstream is not None:
        evidence[upstream] = _golden(upstream)
    return build_plan(project, stack, evidence)


def _golden(stack: str) -> Path:
    return ROOT / "tests" / "golden" / stack / "plan.json"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the shipped stacks on a base file plan the same bytes -------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_shipped_stacks_on_a_base_file_plan_byte_identically(
    make_project: ProjectFactory, stack: str
) -> None:
    project = layered_project(make_project)
    # The stack files no longer say the owner or the repositories: the base file does.
    own = read_own_stack_config(project, stack).values
    assert "github:owner" not in own and "delivery-gate:repositories" not in own
    assert plan(project, stack)["root_hash"] == plan(ROOT, stack)["root_hash"]


def test_the_per_pr_template_on_a_base_file_plans_byte_identically(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-28T09:00:00Z")
    project = layered_project(make_project)
    assert build_plan(project, "pr-aos-7")["root_hash"] == build_plan(ROOT, "pr-aos-7")["root_hash"]


def test_gate_check_sees_the_merged_config(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = layered_project(make_project)
    code, out, err = run(["check", "--project-dir", str(project)], capsys)
    assert (code, err) == (0, "")
    assert "3 stacks agree" in out and "stacks/ephemeral.yaml" in out
    config = read_stack_config(project, "prod")
    assert config.values["github:owner"] == "acme"
    assert config.bases == ("stacks/base.yaml",)


# -- what a base file shares, what a stack file changes ----------------------------------------------


def test_lists_from_the_base_are_extended_and_trimmed_per_stack(make_project: ProjectFactory) -> None:
    base = with_config(
        fixture_text("base.yaml"),
        repositories=[{"name": "aos"}, {"name": "shop-web", "languages": ["javascript"]}],
        labels={"extend": [{"name": "needs-docs", "color": "ededed"}]},
    )
    # Production alone: one more reviewer team, no needs-docs label; the chain is not restated.
    prod = with_config(
        fixture_text("Pulumi.prod.yaml"),
        environments=[{"name": "production", "reviewers": {"teams": {"extend": ["sre"]}}}],
        labels={"remove": ["needs-docs"]},
    )
    project = layered_project(make_project, base, prod=prod)
    dev = read_stack_config(project, "dev").values
    assert [r["name"] for r in dev["delivery-gate:repositories"]] == ["aos", "shop-web"]
    assert dev["delivery-gate:labels"][-1]["name"] == "needs-docs"
    production = read_stack_config(project, "prod").values
    assert "needs-docs" not in [label["name"] for label in production["delivery-gate:labels"]]
    environments = production["delivery-gate:environments"]
    assert [e["name"] for e in environments] == ["dev", "staging", "production"]
    assert environments[2]["reviewers"]["teams"] == ["release-managers", "sre"]
    # And the program merges the same layers: the plan gates both repositories.
    outputs = build_plan(project, "dev")["outputs"]
    assert sorted(outputs["requiredChecks"]) == ["acme/aos", "acme/shop-web"]


def test_one_flag_definition_gives_each_environment_its_state(make_project: ProjectFactory) -> None:
    base = with_config(fixture_text("base.yaml"), flags=[{**FLAG, "environments": {"dev": True}}])
    project = layered_project(make_project, base)

    def state(stack: str) -> str:
        resources = build_plan(project, stack, {"dev": _golden("dev")} if stack == "staging" else None)[
            "resources"
        ]
        flagd = next(r for r in resources if r["inputs"].get("kind") == "FeatureFlag")
        return str(flagd["inputs"]["spec"]["flagSpec"]["flags"]["new-checkout"]["defaultVariant"])

    assert state("dev") == "on"
    assert state("staging") == "off"  # GATE-DP-07: not listed, off


def test_a_stack_file_may_not_define_flags_when_there_is_a_base(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = with_config(fixture_text("Pulumi.dev.yaml"), flags=[{**FLAG, "environments": {"dev": True}}])
    project = layered_project(make_project, dev=dev)
    code, out, err = run(["check", "--project-dir", str(project)], capsys)
    assert code == 2 and "Traceback" not in err + out
    assert "stacks/Pulumi.dev.yaml" in err + out
    assert "delivery-gate:flags" in err + out and "move it to the base file" in err + out


def test_without_a_base_gate_check_wants_each_flag_defined_alike(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = {s: (ROOT / "stacks" / f"Pulumi.{s}.yaml").read_text() for s in ("dev", "staging", "prod")}
    stacks["dev"] = with_config(stacks["dev"], flags=[{**FLAG, "environments": {"dev": True}}])
    project = make_project(stacks)
    code, out, err = run(["check", "--project-dir", str(project)], capsys)
    assert code == 3  # a rule (GATE-DP-11), not a file to fix (gate/cli/exitcodes.py)
    assert "[GATE-DP-11] flag new-checkout is defined differently across the stacks" in err + out
    assert "not defined in prod, staging" in err + out


# -- every problem names its file ---------------------------------------------------------------------


def test_a_bad_value_in_the_base_is_reported_with_the_base_file(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    base = with_config(fixture_text("base.yaml"), repositories=[{"name": "aos", "languages": ["cobol"]}])
    project = layered_project(make_project, base)
    argv = ["plan", "--stack", "staging", "--project-dir", str(project), "--out", str(project / "build")]
    code, _, err = run(argv, capsys)
    assert code == 2 and "Traceback" not in err
    # The plan runs the real program: it read the base file itself, as under `pulumi up`.
    assert "stacks/Pulumi.staging.yaml: invalid delivery-gate configuration" in err
    assert "delivery-gate:repositories[0].languages[0] (in stacks/base.yaml): got 'cobol'" in err
    code, out, _ = run(["check", "--project-dir", str(project)], capsys)
    assert code == 2 and "(in stacks/base.yaml): got 'cobol'" in out + _


@pytest.mark.parametrize(
    ("base", "fragment"),
    [
        ({"delivery-gate:environment": "dev"}, "delivery-gate:environment: got 'dev'; not in a base file"),
        ({"delivery-gate:release": {"image": "x"}}, "`gate promote` writes a stack's release"),
        ({"github:token": {"secure": "AAAB"}}, "github:token: got '<redacted>'; not a secret in a base file"),
        ({"repositories": []}, "allowed: a `namespace:key` name"),
        (
            {"delivery-gate:labels": {"add": []}},
            "delivery-gate:labels (in stacks/base.yaml): got ['add']; allowed: a list, or a map",
        ),
    ],
)
def test_what_a_base_file_may_not_hold(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], base: dict[str, Any], fragment: str
) -> None:
    document = yaml.safe_load(fixture_text("base.yaml"))
    document["config"].update(base)
    project = layered_project(make_project, yaml.safe_dump(document))
    code, out, err = run(["check", "--project-dir", str(project)], capsys)
    assert code == 2 and "Traceback" not in out + err
    assert "stacks/base.yaml" in out + err
    assert fragment in out + err
    assert "AAAB" not in out + err


def test_imports_layer_further_base_files_in_order(make_project: ProjectFactory) -> None:
    project = layered_project(make_project)
    org = project / "zz-org"  # after stacks/ alphabetically: the order below is the layers'
    org.mkdir()
    (org / "organisation.yaml").write_text(
        "config:\n  delivery-gate:mergeGate:\n    platformTeam: infra\n    strict: false\n"
    )
    base = yaml.safe_load(fixture_text("base.yaml"))
    base["imports"] = ["../zz-org/organisation.yaml"]
    base["config"]["delivery-gate:mergeGate"] = {"strict": True}
    (project / "stacks" / "base.yaml").write_text(yaml.safe_dump(base))
    config = read_stack_config(project, "dev")
    # The importing file wins over what it imports, key by key.
    assert config.values["delivery-gate:mergeGate"] == {"platformTeam": "infra", "strict": True}
    assert config.bases == ("zz-org/organisation.yaml", "stacks/base.yaml")


@pytest.mark.parametrize(
    ("imports", "fragment"),
    [
        (["base.yaml"], "imports form a cycle"),
        (["../../outside.yaml"], "inside the project directory"),
        (["missing.yaml"], "there is no such file"),
        (["/etc/passwd"], "allowed: a .yaml file relative to the importing base file"),
    ],
)
def test_bad_imports_are_refused(make_project: ProjectFactory, imports: list[str], fragment: str) -> None:
    project = layered_project(make_project)
    base = yaml.safe_load(fixture_text("base.yaml"))
    base["imports"] = imports
    (project / "stacks" / "base.yaml").write_text(yaml.safe_dump(base))
    (project.parent / "outside.yaml").write_text("config: {}\n")
    with pytest.raises(GateError, match=r"stacks/base\.yaml") as error:
        read_stack_config(project, "dev")
    assert fragment in str(error.value)


def test_a_hostile_base_file_is_refused_like_a_stack_file(make_project: ProjectFactory) -> None:
    project = layered_project(make_project, "config:\n  a: &x [1]\n  b: *x\n")
    with pytest.raises(GateError, match=r"(?s)stacks/base\.yaml.*YAML anchor"):
        read_stack_config(project, "dev")


# -- gate promote with one flag definition ------------------------------------------------------------


def test_promote_records_only_the_flags_the_target_runs_on(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [
        {**FLAG, "environments": {"dev": True, "staging": True, "production": True}},
        {**FLAG, "key": "beta-search", "environments": {"dev": True, "staging": True}},
    ]
    project = layered_project(make_project, with_config(fixture_text("base.yaml"), flags=flags))
    outputs = json.loads(_golden("staging").read_text())["outputs"]
    evidence = outputs["releaseEvidence"] | {"flags": {"beta-search": True, "new-checkout": True}}
    path = project / "staging-outputs.json"
    path.write_text(json.dumps({**outputs, "releaseEvidence": evidence}))
    argv = ["promote", "--from", "staging", "--to", "prod", "--project-dir", str(project), "--dry-run"]
    code, diff, err = run([*argv, "--evidence", str(path)], capsys)
    assert code == 0, err
    assert "+        new-checkout: true" in diff  # on in production: the promotion rests on it
    assert "beta-search" not in diff  # off in production: nothing to record
    assert "note: flag beta-search is on in staging" in err
    assert "`delivery-gate:flags[1].environments.production: true` in stacks/base.yaml" in err


# -- editors validate the base file and the directives with the generated schema -------------------


def test_the_schema_accepts_base_files_directives_and_partial_named_entries() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from gate.policy.schema import (  # noqa: PLC0415 - only this test needs it
        BASE_SCHEMA_FILE,
        base_file_schema,
        render_base_schema,
        stack_file_schema,
    )

    validator = jsonschema.Draft202012Validator(stack_file_schema())
    for name in ("Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(fixture_text(name)))) == [], name
    base_validator = jsonschema.Draft202012Validator(base_file_schema())
    assert list(base_validator.iter_errors(yaml.safe_load(fixture_text("base.yaml")))) == []
    # The stack-file schema still wants each stack's environment; the base file's refuses it.
    assert list(validator.iter_errors(yaml.safe_load(fixture_text("base.yaml"))))
    assert list(base_validator.iter_errors({"config": {"delivery-gate:environment": "dev"}}))
    assert (ROOT / BASE_SCHEMA_FILE).read_text() == render_base_schema()  # `make schema` keeps it current
    good = {
        "config": {
            "delivery-gate:environment": "dev",
            "delivery-gate:labels": {"remove": ["platform"]},
            "delivery-gate:environments": [
                {"name": "production", "reviewers": {"teams": {"extend": ["sre"]}}}
            ],
        },
    }
    assert list(validator.iter_errors(good)) == []
    assert list(base_validator.iter_errors({"imports": ["../org/base.yaml"], "config": {}})) == []
    bad = {
        "config": {
            "delivery-gate:environment": "dev",
            "delivery-gate:labels": {"add": ["x"]},
            "delivery-gate:environments": [{"stack": "x"}],
        }
    }
    assert len(list(validator.iter_errors(bad))) == 2


def test_a_flag_rule_names_the_base_file_where_the_flag_is_defined(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # GATE-DP-05: on in staging, off in dev (the environment staging promotes from).
    base = with_config(fixture_text("base.yaml"), flags=[{**FLAG, "environments": {"staging": True}}])
    project = layered_project(make_project, base)
    argv = ["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "build")]
    code, _, err = run(argv, capsys)
    assert code != 0 and "Traceback" not in err
    assert "error: stacks/Pulumi.dev.yaml: the gate rules are violated" in err
    assert "[GATE-DP-05] flag 'new-checkout' is on in 'staging' but off in 'dev'" in err
    assert "(`delivery-gate:flags[0].environments.dev: true` in stacks/base.yaml)" in err
    code, out, err = run(["check", "--project-dir", str(project)], capsys)
    assert code != 0
    assert "`delivery-gate:flags[0].environments.dev: true` in stacks/base.yaml" in out + err


# -- gate config: the merged view and where each value comes from ------------------------------------


def test_gate_config_shows_the_merged_config_and_its_origins(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = with_config(fixture_text("Pulumi.prod.yaml"), labels={"remove": ["platform"]})
    project = layered_project(make_project, prod=prod)
    code, out, err = run(["config", "--stack", "prod", "--project-dir", str(project), "--origins"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("# policy defaults <- stacks/base.yaml <- stacks/Pulumi.prod.yaml\n")
    shown = yaml.safe_load(out)["config"]
    assert shown["github:owner"] == "acme" and shown["delivery-gate:repositories"] == [{"name": "aos"}]
    assert "platform" not in [label["name"] for label in shown["delivery-gate:labels"]]
    assert "#   github:owner: stacks/base.yaml\n" in out
    assert "#   delivery-gate:environment: stacks/Pulumi.prod.yaml\n" in out
    assert "#   delivery-gate:labels[0].name: policy default\n" in out
    code, out, _ = run(
        ["config", "--stack", "prod", "--project-dir", str(project), "--format", "json"], capsys
    )
    document = json.loads(out)
    assert document["bases"] == ["stacks/base.yaml"] and document["source"] == "stacks/Pulumi.prod.yaml"
    # Same input, same bytes.
    assert (
        run(["config", "--stack", "prod", "--project-dir", str(project), "--format", "json"], capsys)[1]
        == out
    )
