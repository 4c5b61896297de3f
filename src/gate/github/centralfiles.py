"""Organisation mode: the names of the central repository's required workflows (issue 14 item 4).

The central repository holds one copy of each required workflow per *group* of gated repositories
whose required workflows render the same, not one per repository: a change to a gate workflow is
then one commit per group, and the organisation rulesets, which point at the group's paths, do not
change at all. The workflows read the repository's name from the run's context instead of having it
rendered in (gate/github/workflows.py CONTEXT_NAMED_JOBS), so what tells groups apart is only what
a required workflow is rendered from: the repository's settings below.

A file is named `<group>--<workflow file>` (GitHub reads workflows from .github/workflows only, never a
subdirectory). The group is a digest of those settings and of the stack that declares this chain's
merge gate, so that it is:
- deterministic and independent of the order or number of repositories: adding a repository to a
  group adds no file and changes none;
- stable across changes of the workflows themselves (a content digest would rename every file, and
  so update every ruleset, on each change);
- distinct between the stacks that share one central repository (mergeGate.organization.centralStack):
  each stack declares, and may delete, only files no other stack declares.

Kept free of the rendering modules: the AWS foundation (a pull-request role trusts the central e2e
workflow) and the emergency path (the central security scan) name these files too.
"""

from __future__ import annotations

import hashlib
import json

from gate.policy.model import GatePolicy, Repository

# The Repository fields a required workflow is rendered from, besides its name (taken from the run).
# tests/test_org_scale.py fails when Repository gains a field missing here and from IGNORED_FIELDS,
# so that a new setting is judged before two repositories that differ in it could share a file.
RENDERED_FIELDS = (
    "owner",
    "languages",
    "default_branch",
    "release_branch_pattern",
    "merge_queue",
    "external_checks",
    "required_checks",
    "merge_gate_mode",
)
IGNORED_FIELDS = ("name",)
GROUP_LENGTH = 10
# Separates the group from the workflow's file name.
SEPARATOR = "--"


def merge_gate_stack(policy: GatePolicy) -> str:
    """The stack of this chain that declares the merge gate (MergeGate.owner_environment)."""
    owner = policy.merge_gate.owner_environment or policy.environments[0].name
    return next(env.stack for env in policy.environments if env.name == owner)


def group(policy: GatePolicy, repo: Repository) -> str:
    """The group of `repo`'s required workflows: a digest of what they are rendered from."""
    settings = {
        "stack": merge_gate_stack(policy),
        **repo.model_dump(mode="json", include=set(RENDERED_FIELDS)),
    }
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:GROUP_LENGTH]


def central_file(policy: GatePolicy, repo: Repository, file: str) -> str:
    """The central repository's file name of `repo`'s required workflow `file`."""
    return f"{group(policy, repo)}{SEPARATOR}{file}"
