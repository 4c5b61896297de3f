"""The lifecycle of ephemeral pr-<N> stacks: up, down, and the janitor (reap).

The orchestration is pure over a small `Workspace` interface; `AutomationWorkspace` implements it
with the Pulumi Automation API (which needs the Pulumi CLI), and tests use a fake. The TTL is
recorded in the stack's own state, as its `expiresAt` output: stack config files live only on the
runner that created the stack, state lives in the backend where the janitor can read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import TypeAdapter, ValidationError

from gate import clock
from gate.errors import GateError
from gate.loader import stack_file
from gate.stackfile import EPHEMERAL_TEMPLATE, render_ephemeral_template
from gate.types import PR_STACK, PinnedImage


class LifecycleError(GateError):
    """An ephemeral-stack operation that cannot go ahead (bad arguments, wrong repository)."""


class Workspace(Protocol):
    def stacks(self) -> list[str]: ...

    def outputs(self, stack: str) -> dict[str, Any]: ...

    def up(self, stack: str) -> dict[str, Any]: ...

    def destroy_and_remove(self, stack: str) -> None: ...


@dataclass(frozen=True)
class Reaped:
    stack: str
    expires_at: str


def ephemeral_stack(pull_request: int) -> str:
    if pull_request < 1:
        raise LifecycleError(f"--pr: got {pull_request}; allowed: a pull request number (1 or more)")
    return f"pr-{pull_request}"


def _template_repository(project_dir: Path) -> str:
    document = yaml.safe_load((project_dir / EPHEMERAL_TEMPLATE).read_text(encoding="utf-8"))
    config = document["config"]
    return f"{config['github:owner']}/{config['delivery-gate:ephemeral']['repository']}"


# The same rule as a release image (gate/model.py Release.image).
_PINNED_IMAGE: TypeAdapter[str] = TypeAdapter(PinnedImage)


def with_image(text: str, image: str) -> str:
    """The rendered stack config with the pull request's own image (built and pushed by its e2e
    job, pinned by digest) in place of the template's."""
    try:
        _PINNED_IMAGE.validate_python(image)
    except ValidationError:
        raise LifecycleError(
            f"--image: got {image[:200]!r}; allowed: an image pinned by digest: "
            "<registry>/<name>@sha256:<64 lower-case hex digits>"
        ) from None
    document = yaml.safe_load(text)
    application = document["config"].setdefault("delivery-gate:application", {})
    application["image"] = image
    return yaml.safe_dump(document, sort_keys=False)


def up(
    workspace: Workspace, project_dir: Path, pull_request: int, repository: str, image: str | None = None
) -> dict[str, Any]:
    """Create or update pr-<N>. The config file is written from the template for this run only;
    an existing stack keeps its creation time, so updates never extend its life."""
    stack = ephemeral_stack(pull_request)
    expected = _template_repository(project_dir)
    if repository != expected:
        raise LifecycleError(
            f"--repository: got {repository!r}; allowed: {expected!r} ({EPHEMERAL_TEMPLATE} serves that one)"
        )
    created_at = None
    if stack in workspace.stacks():
        recorded = workspace.outputs(stack).get("createdAt")
        created_at = datetime.fromisoformat(recorded.replace("Z", "+00:00")) if recorded else None
    text = render_ephemeral_template(project_dir, pull_request, created_at or clock.now(exact=True))
    if image is not None:
        text = with_image(text, image)
    config_path = project_dir / stack_file(stack)
    config_path.write_text(text, encoding="utf-8")
    try:
        return workspace.up(stack)
    finally:
        config_path.unlink(missing_ok=True)


def down(workspace: Workspace, pull_request: int) -> bool:
    """Destroy and remove pr-<N>; False when there was nothing to remove."""
    stack = ephemeral_stack(pull_request)
    if stack not in workspace.stacks():
        return False
    workspace.destroy_and_remove(stack)
    return True


def reap(
    workspace: Workspace, now: datetime, *, dry_run: bool = False, log: Callable[[str], None] = print
) -> list[Reaped]:
    """Destroy every ephemeral stack whose recorded expiry has passed.

    A stack is reaped only if its name is pr-<N> AND its own state says it is ephemeral (an
    `expiresAt` output, as only ephemeral stacks export); anything else is never touched.
    """
    reaped = []
    for stack in sorted(workspace.stacks()):
        if not PR_STACK.fullmatch(stack):
            continue
        expires = workspace.outputs(stack).get("expiresAt")
        if not isinstance(expires, str):
            log(f"skip {stack}: no expiresAt output, so not provably ephemeral")
            continue
        if datetime.fromisoformat(expires.replace("Z", "+00:00")) > now:
            continue
        log(f"{'would reap' if dry_run else 'reap'} {stack} (expired {expires})")
        if not dry_run:
            workspace.destroy_and_remove(stack)
        reaped.append(Reaped(stack, expires))
    return reaped


# What `gate deploy` changes in an environment stack: its workload and its outputs (the root stack
# resource holds them).
DEPLOY_TARGET_TYPES = ("kubernetes:argoproj.io/v1alpha1:Rollout", "pulumi:pulumi:Stack")


def deploy_targets(resources: list[dict[str, Any]]) -> list[str]:
    """The URNs a deploy updates, from the stack's exported state; none (a full update) until the
    stack's first `pulumi up` has created its workload."""
    urns = {kind: [str(r["urn"]) for r in resources if r.get("type") == kind] for kind in DEPLOY_TARGET_TYPES}
    if not all(urns.values()):
        return []
    return sorted(urn for found in urns.values() for urn in found)


class AutomationWorkspace:
    """The Workspace on the Pulumi Automation API (needs the Pulumi CLI and the backend's login)."""

    def __init__(self, project_dir: Path) -> None:
        from pulumi import automation  # noqa: PLC0415 - only this adapter needs the CLI

        self._auto = automation
        self._workspace = automation.LocalWorkspace(work_dir=str(project_dir))

    def _stack(self, stack: str) -> Any:
        return self._auto.select_stack(stack_name=stack, work_dir=self._workspace.work_dir)

    def stacks(self) -> list[str]:
        return [summary.name for summary in self._workspace.list_stacks()]

    def outputs(self, stack: str) -> dict[str, Any]:
        return {key: value.value for key, value in self._stack(stack).outputs().items()}

    def up(self, stack: str) -> dict[str, Any]:
        handle = self._auto.create_or_select_stack(stack_name=stack, work_dir=self._workspace.work_dir)
        result = handle.up(on_output=print)
        return {key: value.value for key, value in result.outputs.items()}

    def up_with_config(self, stack: str, config_file: Path) -> dict[str, Any]:
        """`pulumi up --config-file`: the committed stack file stays as it is (gate/delivery.py).
        Targeted at the workload and the stack's outputs once they exist (least privilege: the
        deploy job changes nothing else, so it needs no rights over the rest of the stack)."""
        handle = self._stack(stack)
        resources = handle.export_stack().deployment.get("resources") or []
        targets = deploy_targets(resources)
        options: dict[str, Any] = {"target": targets, "target_dependents": False} if targets else {}
        result = handle.up(on_output=print, config_file=str(config_file), **options)
        return {key: value.value for key, value in result.outputs.items()}

    def destroy_and_remove(self, stack: str) -> None:
        self._stack(stack).destroy(on_output=print)
        self._workspace.remove_stack(stack)
