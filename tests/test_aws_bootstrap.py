"""The bootstrap project (bootstrap/): the state backend, planned offline like any stack."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main as cli
from gate.offline.engine import ProgramError
from gate.offline.plan import build_plan, read_project
from tests.conftest import ROOT

BOOTSTRAP = ROOT / "bootstrap"
COMPONENT = "delivery-gate:aws:StateBackend"
PROVIDER = "pulumi:providers:aws"


@functools.cache
def plan() -> dict[str, Any]:
    return build_plan(BOOTSTRAP, "example")


def resources(type_: str) -> list[dict[str, Any]]:
    return [r for r in plan()["resources"] if r["type"] == type_]


def only(type_: str) -> dict[str, Any]:
    (found,) = resources(type_)
    return found


def test_the_project_is_its_own_pulumi_project_sharing_the_virtualenv() -> None:
    project = read_project(BOOTSTRAP)
    assert project.name == "delivery-gate-bootstrap"
    assert project.program == BOOTSTRAP / "__main__.py"


def test_the_example_stack_declares_the_state_backend_and_nothing_else() -> None:
    assert sorted({r["type"] for r in plan()["resources"]}) == [
        "aws:kms/alias:Alias",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        COMPONENT,
        PROVIDER,
    ]
    component = only(COMPONENT)
    for resource in plan()["resources"]:
        if resource is not component:
            assert resource["parent"] == component["urn"], resource["name"]
            assert resource["name"].startswith("state-"), resource["name"]


def test_everything_in_it_is_protected_and_bound_to_the_account() -> None:
    provider = only(PROVIDER)
    assert json.loads(provider["inputs"]["allowedAccountIds"]) == ["123456789012"]
    assert provider["inputs"]["region"] == "eu-west-1"
    for resource in plan()["resources"]:
        if resource["type"].startswith("aws:"):
            assert resource["options"]["protect"] is True, resource["name"]
            assert resource["options"]["provider"] == provider["urn"], resource["name"]


def test_the_bucket_is_versioned_encrypted_private_and_tls_only() -> None:
    bucket = only("aws:s3/bucket:Bucket")
    assert bucket["inputs"]["bucket"] == "acme-delivery-gate-state"
    assert bucket["inputs"]["forceDestroy"] is False
    versioning = only("aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert versioning == {
        "bucket": "acme-delivery-gate-state",
        "versioningConfiguration": {"status": "Enabled"},
    }
    encryption = only(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption["inputs"]["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["bucketKeyEnabled"] is True
    state_key = next(k for k in resources("aws:kms/key:Key") if k["name"] == "state-state-key")
    assert state_key["urn"] in encryption["options"]["dependsOn"]  # its kmsMasterKeyId is that key's ARN
    block = only("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert [
        block[k]
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    ] == [True] * 4
    ownership = only("aws:s3/bucketOwnershipControls:BucketOwnershipControls")["inputs"]
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    bucket_policy = only("aws:s3/bucketPolicy:BucketPolicy")
    (statement,) = json.loads(bucket_policy["inputs"]["policy"])["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    public_access = only("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert public_access["urn"] in bucket_policy["options"]["dependsOn"]


def test_both_keys_rotate_and_have_their_aliases() -> None:
    keys = resources("aws:kms/key:Key")
    assert len(keys) == 2
    for key in keys:
        assert key["inputs"]["enableKeyRotation"] is True
        assert key["inputs"]["deletionWindowInDays"] == 30
    aliases = {a["inputs"]["name"]: a["inputs"]["targetKeyId"] for a in resources("aws:kms/alias:Alias")}
    assert aliases == {
        "alias/acme-delivery-gate-state": "state-state-key-id",
        "alias/delivery-gate-secrets": "state-secrets-key-id",
    }


def test_the_outputs_are_what_every_other_stack_is_created_with() -> None:
    outputs = plan()["outputs"]
    assert outputs["loginUrl"] == "s3://acme-delivery-gate-state?region=eu-west-1&awssdk=v2"
    assert (
        outputs["loginCommand"] == "pulumi login 's3://acme-delivery-gate-state?region=eu-west-1&awssdk=v2'"
    )
    assert outputs["secretsProvider"] == "awskms://alias/delivery-gate-secrets?region=eu-west-1"
    assert (
        outputs["secretsProviderFlag"]
        == "--secrets-provider 'awskms://alias/delivery-gate-secrets?region=eu-west-1'"
    )
    assert outputs["bucketName"] == "acme-delivery-gate-state"
    assert only(COMPONENT)["outputs"]["loginUrl"] == outputs["loginUrl"]


def test_the_cli_plans_the_bootstrap_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["plan", "--project-dir", str(BOOTSTRAP), "--stack", "example", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    written = json.loads((tmp_path / "example" / "plan.json").read_text(encoding="utf-8"))
    assert written["project"] == "delivery-gate-bootstrap"
    assert written["root_hash"] == plan()["root_hash"]


def bootstrap_copy(tmp_path: Path, stack_text: str) -> Path:
    """bootstrap/ with another stack file; the program is the real one (a symlink)."""
    project = tmp_path / "bootstrap"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).symlink_to(BOOTSTRAP / name)
    (project / "stacks" / "Pulumi.org.yaml").write_text(stack_text, encoding="utf-8")
    return project


def test_a_bad_value_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    project = bootstrap_copy(
        tmp_path,
        "config:\n"
        '  delivery-gate-bootstrap:accountId: "123456789012"\n'
        "  delivery-gate-bootstrap:bucketName: Acme.State\n",
    )
    with pytest.raises(ProgramError) as raised:
        build_plan(project, "org")
    message = str(raised.value)
    assert message.startswith("stacks/Pulumi.org.yaml: invalid delivery-gate configuration (1 problem(s))")
    assert "delivery-gate-bootstrap:bucketName: got 'Acme.State'; allowed: an S3 bucket name" in message


def test_the_program_imports_from_the_project_root_wherever_it_is_linked(tmp_path: Path) -> None:
    project = bootstrap_copy(
        tmp_path,
        "config:\n"
        '  delivery-gate-bootstrap:accountId: "210987654321"\n'
        "  delivery-gate-bootstrap:region: eu-central-1\n"
        "  delivery-gate-bootstrap:bucketName: other-state\n",
    )
    outputs = build_plan(project, "org")["outputs"]
    assert outputs["loginUrl"] == "s3://other-state?region=eu-central-1&awssdk=v2"
    assert outputs["secretsProvider"] == "awskms://alias/pulumi-secrets?region=eu-central-1"
