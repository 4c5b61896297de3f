"""The lifecycle of the ephemeral pr-<repo>-<N> stacks: up, down, and the janitor (reap).

The orchestration is pure over a small `Workspace` interface; `AutomationWorkspace` implements it
with the Pulumi Automation API (which needs the Pulumi CLI), and tests use a fake. The TTL is
recorded in the stack's own state, as its `expiresAt` output: stack config files live only on the
runner that created the stack, state lives in the backend where the janitor can read it. So does
the repository (`repository` output), which the janitor of one repository checks before it reaps.
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
from gate.errors import GateError, InputOutputError
from gate.policy.loader import stack_file
from gate.policy.prnames import LEGACY_PR_STACK, PR_STACK, legacy_namespace, pr_stack, repository_slug
from gate.policy.stackfile import ephemeral_template, render_ephemeral_template, template_repository
from gate.policy.types import PinnedImage


class LifecycleError(GateError):
    """An ephemeral-stack operation that cannot go ahead (bad arguments, wrong repository)."""


class PulumiUnavailable(LifecycleError, InputOutputError):
    """The Pulumi Automation API cannot be used here: no Pulumi CLI, or no backend (exit 4)."""


class Workspace(Protocol):
    def stacks(self) -> list[str]: ...

    def outputs(self, stack: str) -> dict[str, Any]: ...

    def up(self, stack: str) -> dict[str, Any]: ...

    def destroy_and_remove(self, stack: str) -> None: ...


@dataclass(frozen=True)
class Reaped:
    stack: str
    expires_at: str


def _repository_name(repository: str) -> str:
    owner, separator, name = repository.partition("/")
    if not separator or not owner or not name or "/" in name:
        raise LifecycleError(f"--repository: got {repository[:200]!r}; allowed: OWNER/NAME")
    return name


def ephemeral_stack(repository: str, pull_request: int) -> str:
    """pr-<repo>-<N> (gate/policy/prnames.py) of pull request N of OWNER/NAME."""
    name = _repository_name(repository)
    if pull_request < 1:
        raise LifecycleError(f"--pr: got {pull_request}; allowed: a pull request number (1 or more)")
    return pr_stack(name, pull_request)


# The same rule as a release image (gate/policy/model.py Release.image).
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


def _template(project_dir: Path, repository: str) -> str:
    """The template serving OWNER/NAME, or a LifecycleError naming what would be allowed."""
    template = ephemeral_template(project_dir, _repository_name(repository))
    if template is None:
        raise LifecycleError(
            f"--repository: got {repository!r}; no template serves it (stacks/ephemeral.yaml or "
            f"stacks/ephemeral.{_repository_name(repository)}.yaml)"
        )
    served = template_repository(project_dir, template)
    # GitHub compares owners and names without case; so do the stack names.
    if served.lower() != repository.lower():
        raise LifecycleError(
            f"--repository: got {repository!r}; allowed: {served!r} ({template} serves that one; "
            f"add stacks/ephemeral.{_repository_name(repository)}.yaml for another gated repository)"
        )
    return template


def up(
    workspace: Workspace, project_dir: Path, pull_request: int, repository: str, image: str | None = None
) -> dict[str, Any]:
    """Create or update pr-<repo>-<N>. The config file is written from the repository's template for
    this run only; an existing stack keeps its creation time, so updates never extend its life."""
    stack = ephemeral_stack(repository, pull_request)
    template = _template(project_dir, repository)
    created_at = None
    if stack in workspace.stacks():
        recorded = workspace.outputs(stack).get("createdAt")
        created_at = datetime.fromisoformat(recorded.replace("Z", "+00:00")) if recorded else None
    text = render_ephemeral_template(
        project_dir, pull_request, created_at or clock.now(exact=True), template=template
    )
    if image is not None:
        text = with_image(text, image)
    config_path = project_dir / stack_file(stack)
    config_path.write_text(text, encoding="utf-8")
    try:
        return workspace.up(stack)
    finally:
        config_path.unlink(missing_ok=True)


def down(workspace: Workspace, repository: str, pull_request: int) -> list[str]:
    """Destroy and remove pr-<repo>-<N>, and the legacy pr-<N> of the same pull request if its state
    says it is this repository's; the stacks removed (none: there was nothing to remove)."""
    stack = ephemeral_stack(repository, pull_request)
    existing = set(workspace.stacks())
    removed = []
    if stack in existing:
        workspace.destroy_and_remove(stack)
        removed.append(stack)
    legacy = f"pr-{pull_request}"
    if legacy in existing and _belongs_to(workspace, legacy, repository):
        workspace.destroy_and_remove(legacy)
        removed.append(legacy)
    return removed


def _belongs_to(workspace: Workspace, stack: str, repository: str) -> bool:
    """Whether the stack's own state says it is a disposable stack of OWNER/NAME.

    Stacks made since the names carry the repository export `repository`; a legacy pr-<N> stack
    exported only its namespace, `<name>-pr-<N>`, which names the repository (not its owner: one
    project gated one repository then)."""
    outputs = workspace.outputs(stack)
    recorded = outputs.get("repository")
    if isinstance(recorded, str):
        return recorded.lower() == repository.lower()
    name = _repository_name(repository)
    new = PR_STACK.fullmatch(stack)
    if new is not None:
        return new.group(1) == repository_slug(name)
    legacy = LEGACY_PR_STACK.fullmatch(stack)
    return legacy is not None and outputs.get("namespace") == legacy_namespace(name, int(legacy.group(1)))


def reap(
    workspace: Workspace,
    now: datetime,
    *,
    repository: str | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> list[Reaped]:
    """Destroy every ephemeral stack whose recorded expiry has passed, of every repository or of
    `repository` (OWNER/NAME) only.

    A stack is reaped only if its name is pr-<repo>-<N> (or a legacy pr-<N>) AND its own state says
    it is ephemeral (an `expiresAt` output, as only ephemeral stacks export); with `repository`,
    also only if its state says it is that repository's. Anything else is never touched.
    """
    if repository is not None:
        _repository_name(repository)
    reaped, failed = [], []
    for stack in sorted(workspace.stacks()):
        if not (PR_STACK.fullmatch(stack) or LEGACY_PR_STACK.fullmatch(stack)):
            continue
        if repository is not None and not _belongs_to(workspace, stack, repository):
            continue
        expires = workspace.outputs(stack).get("expiresAt")
        if not isinstance(expires, str):
            log(f"skip {stack}: no expiresAt output, so not provably ephemeral")
            continue
        try:
            expiry = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            log(f"skip {stack}: expiresAt {expires[:40]!r} is not a time")
            continue
        if expiry.tzinfo is None or expiry > now:
            continue
        log(f"{'would reap' if dry_run else 'reap'} {stack} (expired {expires})")
        if not dry_run:
            try:
                workspace.destroy_and_remove(stack)
            except Exception as error:  # one stack that resists must not keep the others alive
                log(f"failed to reap {stack}: {str(error)[:500]}")
                failed.append(stack)
                continue
        reaped.append(Reaped(stack, expires))
    if failed:
        # The janitor's run fails, naming them: an expired environment that stays is not silent.
        raise LifecycleError(
            f"could not reap {len(failed)} expired stack(s): {', '.join(failed)} "
            f"({len(reaped)} reaped); see the messages above"
        )
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
        """`pulumi up --config-file`: the committed stack file stays as it is (gate/promotion/delivery.py).
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
