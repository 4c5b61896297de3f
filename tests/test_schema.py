"""Issue 13, item 6: the stack files' JSON Schema and the configuration reference (gate/policy/schema.py).

The committed copies are current, every committed stack file and template validates against the
schema, and the schema refuses what the loader refuses for unknown keys and wrong types.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gate.cli.main import main
from gate.policy import schema
from gate.policy.stackfile import render_ephemeral_template
from gate.policy.yamlguard import load
from gate.promotion.promote import replace_config_block
from tests.conftest import ROOT

STACK_FILES = sorted(ROOT.glob("stacks/Pulumi.*.yaml"))
TEMPLATES = sorted(ROOT.glob("stacks/ephemeral*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema=../docs/stack-file.schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    document = schema.stack_file_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def _as_editor_sees(value: Any) -> Any:
    # YAML timestamps (createdAt: 2026-...) are strings to Pulumi and to editors (YAML 1.2).
    def text(moment: Any) -> str:
        if isinstance(moment, date | datetime):
            return moment.isoformat()
        raise TypeError(type(moment).__name__)

    return json.loads(json.dumps(value, default=text))


def _document(path: Path) -> Any:
    source = str(path.relative_to(ROOT))
    if path.name.startswith("ephemeral"):
        text = render_ephemeral_template(ROOT, 1, template=source)
    else:
        text = path.read_text(encoding="utf-8")
    return _as_editor_sees(load(text, source))


@pytest.mark.parametrize(
    ("path", "render"),
    [(schema.SCHEMA_FILE, schema.render_schema), (schema.REFERENCE_FILE, schema.config_reference_markdown)],
)
def test_committed_file_is_current(path: str, render: Any) -> None:
    committed = (ROOT / path).read_bytes() if (ROOT / path).is_file() else b""
    assert committed == render().encode("utf-8"), (
        f"{path} is not current with gate/policy/model.py; refresh it with `make schema` and commit it"
    )


def test_schema_is_deterministic() -> None:
    assert schema.render_schema() == schema.render_schema()
    assert schema.config_reference_markdown() == schema.config_reference_markdown()


@pytest.mark.parametrize("path", STACK_FILES + TEMPLATES, ids=lambda p: p.name)
def test_committed_stack_files_validate(path: Path) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(_document(path))]
    assert errors == []


def test_stack_files_exist() -> None:
    assert STACK_FILES and TEMPLATES


def _dev() -> dict[str, Any]:
    document: dict[str, Any] = _document(ROOT / "stacks" / "Pulumi.dev.yaml")
    return document


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c.update({"delivery-gate:notAKey": 1}), "unknown delivery-gate key"),
        (lambda c: c.update({"nocolon": 1}), "a key without a namespace"),
        (lambda c: c.update({"delivery-gate:environment": 3}), "environment is a string"),
        # Issue 13: a plain list of repositories merges by name with the base file's, so an empty one
        # is no error of the stack file (the loader refuses a merged config without repositories).
        (
            lambda c: c.update({"delivery-gate:repositories": [{"languages": ["python"]}]}),
            "a repository's name",
        ),
        (lambda c: c["delivery-gate:repositories"][0].update({"nmae": "x"}), "unknown repository key"),
        (lambda c: c["delivery-gate:aws"].update({"region": ["eu-west-1"]}), "region is a string"),
        (lambda c: c.update({"delivery-gate:rollout": {"stages": "5,25"}}), "stages is a list"),
        (lambda c: c.update({"github:token": "ghp_plain"}), "a token only as a secret"),
        (lambda c: c.pop("delivery-gate:environment"), "environment is required"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_stack_files_are_rejected(change: Any, where: str) -> None:
    document = _dev()
    change(document["config"])
    assert list(_validator().iter_errors(document)), where


def test_unknown_top_level_key_is_rejected() -> None:
    document = {**_dev(), "conifg": {}}
    assert list(_validator().iter_errors(document))


def test_pulumi_stack_file_keys_and_secrets_are_allowed() -> None:
    document = {
        **_dev(),
        "secretsprovider": "awskms://alias/gate",
        "encryptedkey": "AQICAHh...",
        "encryptionsalt": "v1:abc",
        "environment": ["acme/shared"],
    }
    document["config"]["github:token"] = {"secure": "v1:cipher"}
    document["config"]["delivery-gate:slackWebhookUrl"] = {"secure": "v1:cipher"}
    document["config"]["kubernetes:context"] = "dev"
    assert [e.message for e in _validator().iter_errors(document)] == []


def test_pipeline_keys_are_read_only() -> None:
    config = schema.stack_file_schema()["properties"]["config"]["properties"]
    for key in ("validation", "deployment", "rollbackDrillResult", "rollbackDrillPending"):
        assert config[f"delivery-gate:{key}"]["readOnly"] is True
    assert "readOnly" not in config["delivery-gate:release"]


def test_every_pattern_is_ecma_compatible() -> None:
    def patterns(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
            return found + [p for v in node.values() for p in patterns(v)]
        return [p for v in node for p in patterns(v)] if isinstance(node, list) else []

    found = patterns(schema.stack_file_schema())
    assert found
    # No lookbehind, named groups, inline flags or \A \Z: constructs ECMA-262 reads otherwise.
    assert [p for p in found if re.search(r"\(\?<[=!]|\(\?P|\(\?[aiLmsux]|\\[AZz]", p)] == []


def test_reference_has_every_key_with_its_description() -> None:
    reference = schema.config_reference_markdown()
    document = schema.stack_file_schema()
    for key in document["properties"]["config"]["properties"]:
        assert f"| `{key}` |" in reference
    for name in document["$defs"]:
        assert f"\n## {name}\n" in reference
    assert "The promotion chain." in reference


def test_schema_command_writes_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == schema.render_schema()
    assert main(["schema", "--reference", "--out", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == schema.config_reference_markdown()
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Delivery Gate stack file"


@pytest.mark.parametrize("path", STACK_FILES + TEMPLATES, ids=lambda p: p.name)
def test_stack_files_name_the_schema_for_editors(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    assert (path.parent / SCHEMA_LINE.split("=", 1)[1]).resolve() == (ROOT / schema.SCHEMA_FILE).resolve()


def test_promote_keeps_the_schema_line() -> None:
    text = (ROOT / "stacks" / "Pulumi.staging.yaml").read_text(encoding="utf-8")
    changed = replace_config_block(text, "delivery-gate:release", {"image": "x@sha256:" + "0" * 64}, "why")
    assert changed.splitlines()[0] == SCHEMA_LINE
    assert changed != text
