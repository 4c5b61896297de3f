"""Cross-stack consistency (`python -m gate check`): the stacks of one project agree with each other.

Each stack is validated on its own when it is planned; what no single stack can see is whether the
others tell the same story. DP §Environment Progression ("no environment may be skipped") holds
only if every stack agrees on the chain, every environment of the chain has its stack, exactly one
stack owns the merge gate, and every repository that stack gates is in every environment stack
(which declares the repository's GitHub deployment environment and its deploy role).

It also validates every template of the disposable per-PR stacks (stacks/ephemeral.yaml and each
stacks/ephemeral.<repo>.yaml) the way a plan of one of their stacks would, and checks that each
serves a repository the merge gate gates, the one its file name says, and no repository twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gate.errors import GateError
from gate.github import release_deploy
from gate.policy.layers import POLICY_DEFAULT, sources_at
from gate.policy.loader import load_policy, namespace_values
from gate.policy.model import GatePolicy
from gate.policy.prnames import pr_stack, repository_slug
from gate.policy.rules import enforce_rules
from gate.policy.stackfile import (
    EPHEMERAL_TEMPLATE,
    ephemeral_templates,
    read_stack_config,
    read_template_config,
    template_repository,
    template_repository_name,
)
from gate.promotion.delivery import HAND_TYPED_REFUSED

RULE_ID = "GATE-DP-11"
DELIVERY_RULE_ID = "GATE-DP-13"  # evidence only from the pipeline


@dataclass(frozen=True)
class Consistency:
    stacks: tuple[str, ...]
    problems: tuple[str, ...]
    templates: tuple[str, ...] = ()
    # The errors among `problems` (a stack file that is invalid, unreadable or breaks a rule), so the
    # CLI can tell their exit codes apart (gate/cli/exitcodes.py); the other problems are GATE-DP-11/-13.
    errors: tuple[GateError, ...] = ()


def _chain(policy: GatePolicy) -> str:
    return " -> ".join(f"{e.name} (stack {e.stack})" for e in policy.environments)


def stack_names(project_dir: Path) -> list[str]:
    """The environment stacks with a committed file (pr-<repo>-<N> stacks are made from templates)."""
    directory = project_dir / Path(EPHEMERAL_TEMPLATE).parent
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in directory.glob("Pulumi.*.yaml")
    )


def load_stack(project_dir: Path, stack: str) -> GatePolicy:
    """One stack's policy from its file, or its own worded GateError."""
    config = read_stack_config(project_dir, stack)
    owner = namespace_values(config.values, "github").get("owner")
    return load_policy(
        namespace_values(config.values),
        stack=stack,
        github_owner=owner,
        source=config.source,
        origins=config.origins,
    )


def load_stacks(project_dir: Path) -> dict[str, GatePolicy]:
    """Every environment stack's policy; the first invalid stack raises its own worded GateError."""
    return {stack: load_stack(project_dir, stack) for stack in stack_names(project_dir)}


def check(policies: dict[str, GatePolicy]) -> Consistency:
    problems: list[str] = []
    if not policies:
        return Consistency((), (f"[{RULE_ID}] no stack files found",))
    reference_stack, reference = next(iter(policies.items()))
    for stack, policy in policies.items():
        if _chain(policy) != _chain(reference):
            problems.append(
                f"[{RULE_ID}] stack {stack}: its chain {_chain(policy)} differs from stack "
                f"{reference_stack}'s {_chain(reference)}"
            )
    for environment in reference.environments:
        if environment.stack not in policies:
            problems.append(
                f"[{RULE_ID}] environment '{environment.name}' is deployed by stack '{environment.stack}', "
                f"which has no stack file: the chain would skip it"
            )
    owners = [stack for stack, policy in policies.items() if policy.owns_merge_gate]
    if len(owners) != 1:
        problems.append(
            f"[{RULE_ID}] exactly one stack must own the merge gate; got {owners or 'none'} "
            "(mergeGate.ownerEnvironment must agree across stacks)"
        )
    for owner in owners:
        gated = {repo.full_name for repo in policies[owner].repositories}
        for stack, policy in policies.items():
            missing = sorted(gated - {repo.full_name for repo in policy.repositories})
            if missing:
                problems.append(
                    f"[{RULE_ID}] stack {stack} does not list {missing}, gated by stack {owner}: their "
                    f"'{policy.environment}' deployment environment would not exist"
                )
    problems += release_deploy.stacks_agree(policies)  # issue 12, part deploy: window, change log
    problems += flags_agree(policies)  # issue 13, part base: one definition per flag
    order = {e.stack: index for index, e in enumerate(reference.environments)}
    return Consistency(tuple(sorted(policies, key=lambda s: (order.get(s, len(order)), s))), tuple(problems))


def flags_agree(policies: dict[str, GatePolicy]) -> list[str]:
    """Every stack sees the same definition of each flag, its state in every environment included:
    one definition per flag (in the base file, gate/policy/layers.py; a project without one must repeat it
    identically in each stack file, or a stack would judge GATE-DP-05 on states the others do not run)."""
    definitions: dict[str, dict[str, list[str]]] = {}
    for stack, policy in policies.items():
        for flag in policy.flags:
            shown = flag.model_dump_json(by_alias=True)
            definitions.setdefault(flag.key, {}).setdefault(shown, []).append(stack)
    problems = []
    for key, variants in sorted(definitions.items()):
        holders = sorted(stack for stacks in variants.values() for stack in stacks)
        if len(variants) > 1 or len(holders) != len(policies):
            groups = "; ".join(", ".join(stacks) for stacks in variants.values())
            missing = sorted(set(policies) - set(holders))
            also = f"; not defined in {', '.join(missing)}" if missing else ""
            problems.append(
                f"[{RULE_ID}] flag {key} is defined differently across the stacks (alike: {groups}{also}): "
                "define each flag once, with its state per environment, in the base file (stacks/base.yaml)"
            )
    return problems


def hand_typed_evidence(project_dir: Path) -> list[str]:
    """Evidence and deploy records committed into a stack file: only the pipeline writes them, into
    the stack's state (gate/promotion/delivery.py). A committed one is typed by hand, and nothing checks
    it."""
    problems = []
    for stack in stack_names(project_dir):
        config = read_stack_config(project_dir, stack)
        problems += [
            f"[{DELIVERY_RULE_ID}] {config.source}: {key} is written by the pipeline (gate deploy, gate "
            "record-evidence, gate drill) into the stack's state, never committed: evidence typed by "
            "hand is no evidence"
            for key in HAND_TYPED_REFUSED
            if key in config.values
        ]
    return problems


def check_templates(
    project_dir: Path, policies: dict[str, GatePolicy], errors: list[GateError] | None = None
) -> list[str]:
    """Every per-PR template: valid as its stacks' plans would read it, serving a gated repository
    (the one its file name says), each repository by one template only."""
    problems: list[str] = []
    gated = {
        repo.full_name.lower()
        for policy in policies.values()
        if policy.owns_merge_gate
        for repo in policy.repositories
    }
    served: dict[str, str] = {}
    for template in ephemeral_templates(project_dir):
        try:
            repository = template_repository(project_dir, template)
            name = repository.split("/", 1)[1]
            named = template_repository_name(template)
            if named is not None and repository_slug(named) != repository_slug(name):
                problems.append(
                    f"[{RULE_ID}] {template} serves {repository}, not {named!r} as its file name says"
                )
                continue
            slug = repository_slug(name)
            if slug in served:
                problems.append(
                    f"[{RULE_ID}] {template} and {served[slug]} both serve {repository}: one template per "
                    f"repository ({EPHEMERAL_TEMPLATE} serves one without a template of its own)"
                )
                continue
            served[slug] = template
            if gated and repository.lower() not in gated:
                problems.append(
                    f"[{RULE_ID}] {template} serves {repository}, which no merge gate gates: "
                    f"allowed: one of {', '.join(sorted(gated))}"
                )
            config = read_template_config(project_dir, template)
            owner = namespace_values(config.values, "github").get("owner")
            stack = pr_stack(name, 1)
            policy = load_policy(
                namespace_values(config.values),
                stack=stack,
                github_owner=owner,
                source=config.source,
                origins=config.origins,
            )
            flags = [s for s in sources_at(config.origins, "delivery-gate:flags") if s != POLICY_DEFAULT]
            enforce_rules(policy, stack, source=template, flags_source=" + ".join(flags) or None)
        except GateError as error:
            problems.append(str(error))
            if errors is not None:
                errors.append(error)
    return problems


def check_project(project_dir: Path) -> Consistency:
    try:
        policies = load_stacks(project_dir)
        result = check(policies)
    except GateError as error:
        return Consistency((), (str(error),), errors=(error,))
    errors: list[GateError] = []
    problems = [*check_templates(project_dir, policies, errors), *hand_typed_evidence(project_dir)]
    return Consistency(
        result.stacks,
        (*result.problems, *problems),
        tuple(ephemeral_templates(project_dir)),
        tuple(errors),
    )
