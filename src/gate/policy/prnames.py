"""The names of a pull request's disposable environment: stack `pr-<repo>-<N>`, namespace `<repo>-pr-<N>`.

One Pulumi project (one backend) holds the disposable stacks of every gated repository, and one
cluster holds their namespaces, so both names carry the repository. `<repo>` is the repository's
*slug*: what a Pulumi stack name, a Kubernetes namespace (an RFC 1123 label, at most 63 characters),
an IAM role name (at most 64) and an EKS access-scope pattern all allow. A name that is already
such a slug (lower-case letters and digits, inner single hyphens, at most 40 characters) is its own
slug, so `aos` stays readable; any other name is cut to fit and suffixed with six hex digits of the
sha256 of its lower-cased form, so `Foo.Bar`, `foo_bar` and `foo-bar` get three different slugs.
GitHub compares repository names without case, and so does the slug. Two gated repositories whose
slugs are equal, or where one's namespaces would match the other's access pattern, are refused by
the model (GatePolicy), so names stay collision-free within a project.

Stacks named `pr-<N>` (no repository) were made before the names carried one; the janitor still
reaps them (gate/runtime/lifecycle.py), nothing creates them any more.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

SLUG_MAX = 40
SLUG_DIGEST_LENGTH = 6

PR_NUMBER = r"[1-9][0-9]{0,8}"
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"
# The name of a disposable stack: pr-<slug>-<pull request number>. The number follows the last
# hyphen, so the split is unambiguous even for slugs that end in digits.
PR_STACK = re.compile(rf"pr-({SLUG})-({PR_NUMBER})")
# The names before the repository was part of them (one repository per project): pr-<N>.
LEGACY_PR_STACK = re.compile(rf"pr-({PR_NUMBER})")
# Every name an environment stack may not take: the janitor's whole namespace of names. Wider than
# the two patterns above on purpose: `pr-0`, `pr-007` or `PR-aos-1` look the same to a person.
RESERVED_STACK = re.compile(r"pr-.*", re.IGNORECASE)


def repository_slug(name: str) -> str:
    """The repository's name as it appears in its PR stacks, namespaces and roles (see above)."""
    lowered = name.lower()
    cleaned = "-".join(part for part in re.split(r"[^a-z0-9]+", lowered) if part)
    if cleaned == lowered and len(cleaned) <= SLUG_MAX:
        return cleaned
    digest = hashlib.sha256(lowered.encode()).hexdigest()[:SLUG_DIGEST_LENGTH]
    base = cleaned[: SLUG_MAX - SLUG_DIGEST_LENGTH - 1].strip("-") or "repo"
    return f"{base}-{digest}"


def pr_stack(repository: str, pull_request: int) -> str:
    """`pr-<slug>-<N>`: the stack of pull request N of the repository named `repository`."""
    return f"pr-{repository_slug(repository)}-{pull_request}"


def pr_namespace(repository: str, pull_request: int) -> str:
    """`<slug>-pr-<N>`: the namespace of that stack (at most 53 characters)."""
    return f"{repository_slug(repository)}-pr-{pull_request}"


def namespace_pattern(repository: str) -> str:
    """`<slug>-pr-*`: every namespace of the repository's pull requests (an EKS access scope)."""
    return f"{repository_slug(repository)}-pr-*"


def kubernetes_group(repository: str) -> str:
    """`delivery-gate-pr-<slug>`: the Kubernetes group of the repository's pull-request role."""
    return f"delivery-gate-pr-{repository_slug(repository)}"


def legacy_namespace(repository: str, pull_request: int) -> str:
    """The namespace a legacy `pr-<N>` stack of `repository` made (gate/runtime/kube.py before the slug)."""
    return f"{repository.lower()}-pr-{pull_request}"[:63].strip("-.")


def first_meeting(names: Sequence[str]) -> tuple[int, int] | None:
    """The first repository (by index) whose PR names could meet an earlier one's, and the earliest
    such earlier one: `(index, earlier)`, as comparing each with every earlier by `overlap` finds
    them, or None. Linear in the number of names (issue 14: a policy of thousands of repositories
    compared them pairwise, quadratic, on every load): a slug meets an earlier one when they are
    equal, or when one is the other followed by `-pr-`, so each slug is looked up by itself and by
    each of its prefixes that `-pr-` follows."""
    by_slug: dict[str, int] = {}  # slug -> first index with it
    by_prefix: dict[str, int] = {}  # a slug's prefix that "-pr-" follows -> first index with it
    for index, name in enumerate(names):
        slug = repository_slug(name)
        prefixes = _pr_prefixes(slug)
        found = [by_slug.get(slug), by_prefix.get(slug), *(by_slug.get(prefix) for prefix in prefixes)]
        earlier = [position for position in found if position is not None]
        if earlier:
            return index, min(earlier)
        by_slug.setdefault(slug, index)
        for prefix in prefixes:
            by_prefix.setdefault(prefix, index)
    return None


def _pr_prefixes(slug: str) -> list[str]:
    prefixes = []
    start = slug.find("-pr-")
    while start >= 0:
        prefixes.append(slug[:start])
        start = slug.find("-pr-", start + 1)
    return prefixes


def overlap(first: str, second: str) -> bool:
    """Whether the two repositories' PR names could meet: equal slugs (one stack and namespace
    name for two pull requests), or one's namespaces inside the other's `<slug>-pr-*` pattern (its
    pull requests' role could write into them)."""
    a, b = repository_slug(first), repository_slug(second)
    return a == b or a.startswith(f"{b}-pr-") or b.startswith(f"{a}-pr-")
