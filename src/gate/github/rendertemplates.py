"""A repository's rendered workflows from one rendering per template, not one per repository.

Issue 14: in the repository modes two of a repository's workflows name it (the e2e parity check's
image and preview environment, the security scan's image tag), so a plan of N repositories with the
same settings built and wrote 2·N documents that differ only where the name is, the largest part of
the rules' time at 500 repositories (bench/README.md). Here the workflows are rendered for a
stand-in repository whose name is a token of the same shape (same length, letters where the name
has letters, digits where it has digits, hyphens where it has hyphens), and each repository's texts
are the template's with the token replaced by its name.

That stands in for rendering the repository itself only when nothing in the rendering can tell the
two names apart, which `render_by_name` checks, answering None (render it directly) otherwise:

- the name is lower-case letters and digits in hyphen-separated runs, starting with a letter: its
  slug (gate/policy/prnames.py) and its lower-case form are the name itself, as for the token, and
  it is never YAML syntax;
- the repository does not deploy the application (`GatePolicy.deploys`, the one thing the policy
  decides by a repository's name, the first repository's by default): the stand-in never does;
- the policy names it nowhere but in the repository's own `name` (the application's repositories or
  name, an image named after it): a setting compared with the name would compare differently with
  the token;
- the rendering is a function of the name only through the places it is written: the template is
  rendered for two tokens that differ in every character, and replacing the one by the other must
  give the other's texts exactly (a digest, a truncation or a case change of the name would not),
  with neither token found where the other was rendered;
- every string of the template's documents that holds the token (keys included) is quoted the same
  way with the name as with the token (gate/github/yamltext.py writes a name such as `true` or
  `null` quoted, the token plain).

Everything else the texts hold is the rendering's structure, which the name cannot change: it holds no
space, newline or character YAML or JSON would escape. tests/test_render_templates.py compares the
answer with a direct rendering for shipped and generated policies and for names and policies chosen
to break each condition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gate.github.yamltext import Commented, scalar
from gate.policy.memo import once
from gate.policy.model import GatePolicy, Repository

TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# The two tokens' characters: a name's letters and digits become these, its hyphens stay.
FIRST = ("q", "7")
SECOND = ("z", "3")

Documents = Mapping[str, Mapping[str, Any]]


def shape_token(name: str, letter: str, digit: str) -> str:
    """`name` with every letter `letter` and every digit `digit`: a name of the same shape."""
    return "".join(digit if char.isdigit() else letter if char.isalpha() else char for char in name)


@dataclass(frozen=True)
class RenderTemplate:
    """A stand-in repository's rendered texts, and the strings of its documents naming its token."""

    token: str
    texts: Mapping[str, str]
    strings: tuple[str, ...]


def render_by_name(
    policy: GatePolicy,
    repo: Repository,
    kind: Hashable,
    build: Callable[[Repository], Documents],
    render: Callable[[Documents], dict[str, str]],
) -> dict[str, str] | None:
    """The texts `render(build(repo))` gives, from the template of `repo`'s shape and settings, or
    None when the template cannot stand in for rendering `repo` (see the module's docstring).

    `kind` names what `build` and `render` make (the memo keeps one template per kind, policy, shape
    and settings): the same kind must always come with the same two functions."""
    name = repo.name
    if not TEMPLATE_NAME.fullmatch(name) or policy.deploys(repo) or _named_elsewhere(policy, repo):
        return None
    stand_in = repo.model_copy(update={"name": shape_token(name, *FIRST)})
    template = once(policy, ("render_template", kind, stand_in), lambda: _template(stand_in, build, render))
    if template is None:
        return None
    token = template.token
    for text in template.strings:
        if scalar(text.replace(token, name)) != scalar(text).replace(token, name):
            return None
    return {path: text.replace(token, name) for path, text in template.texts.items()}


# A word of a setting's text: a repository name as GitHub allows it, between anything else (quotes,
# `/`, `:`, spaces).
_WORD = re.compile(r"[A-Za-z0-9._-]+")


def _named_elsewhere(policy: GatePolicy, repo: Repository) -> bool:
    # The name as a whole word of the settings' text (alone, or in `owner/name`, `ghcr.io/owner/name:tag`):
    # how a setting that names a repository writes it. Not inside a longer name (`service-1` is not
    # named by `service-10`), so a short name is not refused for every word it is part of.
    rest_of_policy = once(
        policy,
        "render_template_policy_words",
        lambda: frozenset(_WORD.findall(repr(policy.model_copy(update={"repositories": ()})))),
    )
    return repo.name in rest_of_policy or repo.name in _WORD.findall(
        repr(repo.model_copy(update={"name": ""}))
    )


def _template(
    stand_in: Repository,
    build: Callable[[Repository], Documents],
    render: Callable[[Documents], dict[str, str]],
) -> RenderTemplate | None:
    first = stand_in.name
    second = shape_token(first, *SECOND)
    documents = build(stand_in)
    texts = render(documents)
    others = render(build(stand_in.model_copy(update={"name": second})))
    if texts.keys() != others.keys():
        return None
    for path, text in texts.items():
        other = others[path]
        if second in text or first in other or text.replace(first, second) != other:
            return None
    strings = sorted({text for text in _strings(documents) if first in text})
    return RenderTemplate(token=first, texts=texts, strings=tuple(strings))


def _strings(value: Any) -> Iterator[str]:
    """Every string a document holds, keys included (each is written by yamltext's `scalar`)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Commented):
        yield value.value  # the comment is written as it is, never quoted
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
