"""The typed pulumi-kubernetes class of each manifest kind the gate declares, looked up on use."""

from __future__ import annotations

import subprocess
import sys

import pulumi
import pytest

from gate.components import kubernetes


@pytest.mark.parametrize(("api_version", "kind"), sorted(kubernetes._CLASSES))
def test_each_kind_names_its_own_typed_class(api_version: str, kind: str) -> None:
    cls = kubernetes.typed_class(api_version, kind)
    assert cls is not None and cls.__name__ == kind
    assert issubclass(cls, pulumi.CustomResource)
    # The class really is that group's and version's, as the manifest's apiVersion says.
    group, _, version = api_version.rpartition("/")
    assert cls.__module__.split(".")[1:3] == [group.split(".", maxsplit=1)[0] or "core", version]


def test_another_kind_is_a_custom_resource() -> None:
    assert kubernetes.typed_class("argoproj.io/v1alpha1", "Rollout") is None
    assert kubernetes.typed_class("v1", "Pod") is None


def test_importing_the_component_does_not_import_every_api_group() -> None:
    # Issue 14: a one-repository plan is mostly imports; RBAC and admission policies are imported
    # only by a stack that declares them.
    code = (
        "import sys, gate.components.kubernetes\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pulumi_kubernetes.rbac.v1', "
        "'pulumi_kubernetes.admissionregistration.v1'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
