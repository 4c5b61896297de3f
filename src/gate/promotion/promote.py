"""`python -m gate promote --from staging --to prod`: write what the upstream stack validated into
the downstream stack file as `delivery-gate:release`, a reviewable diff. Nothing is deployed: the
reviewed change is applied with `pulumi up`, where the program checks the evidence again
(gate/promotion/evidence.py), because the upstream stack may have moved on since the promotion was written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.clock import iso
from gate.errors import GateError
from gate.policy.layers import Origins
from gate.policy.loader import NAMESPACE, load_policy, namespace_values
from gate.policy.model import GatePolicy
from gate.policy.stackfile import StackConfig, read_stack_config
from gate.policy.types import image_digest
from gate.promotion.evidence import RULE_ID, ReleaseEvidence, flag_states, read_evidence, unvalidated

RELEASE_KEY = f"{NAMESPACE}:release"
VALIDATION_KEY = f"{NAMESPACE}:validation"
RELEASE_COMMENT = "Written by `python -m gate promote`; `pulumi up` checks it against the evidence again."


class PromotionRefused(GateError):
    """A promotion that would put unvalidated values into a stack file."""


@dataclass(frozen=True)
class Emergency:
    """DP §Emergency / Hotfix Deployments: the fields an emergency release must carry."""

    incident_id: str
    rollback_plan: str
    security_scan: str
    image: str


@dataclass(frozen=True)
class Promoted:
    path: Path
    before: str
    after: str
    # For the person promoting: flags the upstream validated on that stay off here (a promotion
    # moves the release, never a flag's state: that is one line of the flag's single definition).
    notes: tuple[str, ...] = ()

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path.name}",
                tofile=f"b/{self.path.name}",
            )
        )


def promote(
    project_dir: Path,
    from_stack: str,
    to_stack: str,
    upstream_outputs: Mapping[str, Any] | None,
    emergency: Emergency | None = None,
) -> Promoted:
    """The new text of the downstream stack file, checked by the same rules `pulumi up` applies."""
    config = read_stack_config(project_dir, to_stack)
    current = policy_from_values(config.values, to_stack, config.source, config.origins)
    upstream = current.upstream_environment
    if upstream is None:
        raise PromotionRefused(
            f"--to {to_stack}: {current.environment} is the first environment; nothing promotes into it"
        )
    if upstream.stack != from_stack:
        raise PromotionRefused(
            f"--from {from_stack}: {to_stack} ({current.environment}) promotes from {upstream.stack}; "
            f"allowed: --from {upstream.stack} (no environment may be skipped)"
        )
    evidence, why_none = read_evidence(upstream_outputs, from_stack)
    release = _release(evidence, emergency, flag_states(current))
    if release is None:
        raise PromotionRefused(f"[{RULE_ID}] nothing to promote: {why_none}")
    promoted = policy_from_values({**config.values, RELEASE_KEY: release}, to_stack, config.source)
    missing = unvalidated(promoted, evidence, why_none)
    if missing and emergency is None:
        lines = "\n".join(f"  - [{RULE_ID}] {m}" for m in missing)
        raise PromotionRefused(f"{config.source}: the promotion would deploy unvalidated values:\n{lines}")
    path = project_dir / config.source
    before = path.read_text(encoding="utf-8")
    after = replace_config_block(before, RELEASE_KEY, release, RELEASE_COMMENT)
    return Promoted(path=path, before=before, after=after, notes=_flags_left_off(current, evidence, config))


def policy_from_values(
    values: Mapping[str, Any],
    stack: str,
    source: str,
    origins: Origins | None = None,
) -> GatePolicy:
    """The policy of a stack's effective config (read_stack_config); `origins` name the base file
    a bad value comes from (gate/policy/layers.py)."""
    return load_policy(
        namespace_values(values),
        stack=stack,
        github_owner=namespace_values(values, "github").get("owner"),
        source=source,
        origins=origins,
    )


def stack_file_policy(project_dir: Path, stack: str) -> GatePolicy:
    """The policy of a stack as every command judges it: its effective config (the base file and
    the stack file, gate/policy/layers.py), a problem named by the file its value is in."""
    config = read_stack_config(project_dir, stack)
    return policy_from_values(config.values, stack, config.source, config.origins)


def _release(
    evidence: ReleaseEvidence | None, emergency: Emergency | None, here: Mapping[str, bool]
) -> dict[str, Any] | None:
    """The release to write. `promotedFrom.flags` holds the upstream's validated state of exactly
    the flags this stack runs on (`here`): the flag states the promotion rests on (GATE-DP-09)."""
    if emergency is not None:
        image = emergency.image
    elif evidence is not None:
        image = evidence.image
    else:
        return None
    release: dict[str, Any] = {"image": image}
    if evidence is not None and evidence.image_digest == image_digest(image):
        release["promotedFrom"] = {
            "stack": evidence.stack,
            "imageDigest": evidence.image_digest,
            "parityRootHash": evidence.parity_root_hash,
            "validatedAt": iso(evidence.validated_at),
            "flags": {key: evidence.flags.get(key, False) for key, on in sorted(here.items()) if on},
        }
    if emergency is not None:
        release["emergency"] = {
            "incidentId": emergency.incident_id,
            "rollbackPlan": emergency.rollback_plan,
            "securityScan": emergency.security_scan,
        }
    return release


def _flags_left_off(
    policy: GatePolicy, evidence: ReleaseEvidence | None, config: StackConfig
) -> tuple[str, ...]:
    """Flags the upstream validated on that this environment keeps off, and where to turn one on."""
    if evidence is None:
        return ()
    here = flag_states(policy)
    left_off = [key for key, on in sorted(evidence.flags.items()) if on and not here.get(key, False)]
    notes = []
    for key in left_off:
        index = next((i for i, flag in enumerate(policy.flags) if flag.key == key), None)
        # The flag's single definition: the file and path its entry is written at (gate/policy/layers.py).
        file, written = config.origins.own.get((f"{NAMESPACE}:flags", index or 0), (config.source, ""))
        line = (
            f"`{written}.environments.{policy.environment}: true` in {file}"
            if index is not None and written
            else f"a definition of {key} with `environments.{policy.environment}: true` (this stack has none)"
        )
        notes.append(
            f"flag {key} is on in {evidence.environment} (validated with this release) and stays off in "
            f"{policy.environment}: a promotion moves the release, not a flag; to turn it on, a reviewed "
            f"change sets {line}"
        )
    return tuple(notes)


_TOP_LEVEL_KEY = re.compile(r"^  (?! )(?P<key>[^:#\s][^:\s]*:[^:\s]+):")


def replace_config_block(text: str, key: str, value: Any, why: str) -> str:
    """`text` (a stack file) with `config: key:` set to `value` under a `# why` comment; every other
    line stays as it is."""
    comment = f"  # {why}\n"
    rendered = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=200)
    block = comment + "".join(f"  {line}\n" for line in rendered.splitlines())
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _key_of(line) == key), None)
    if start is None:
        if not text.endswith("\n"):
            text += "\n"
        return text + block
    end = start + 1  # the block runs over deeper-indented lines (blank lines inside it included)
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # a blank line after the block separates it from what follows: keep it
    if start > 0 and lines[start - 1] == comment:
        start -= 1  # our own comment is rewritten with the block
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _key_of(line: str) -> str | None:
    match = _TOP_LEVEL_KEY.match(line)
    return match.group("key") if match else None
