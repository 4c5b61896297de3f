"""gate/github/yamlload.py must read every text as `yaml.load(text, Loader=yaml.CSafeLoader)` does:
the same values of the same types, keys in the same order, aliases shared, and the same errors.

Values are compared through `typed`, which keeps each scalar's type: `True == 1` and `1 == 1.0` in
Python, and a loader that read `yes` as 1 or `1` as 1.0 must not pass."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gate.github import yamlload
from gate.github.organization import render_required_workflows
from gate.github.yamlload import load_workflow
from gate.policy.loader import load_policy
from tests.support.stacks import STACKS, stack_plan

FILE = "github:index/repositoryFile:RepositoryFile"


def reference(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def typed(value: Any) -> Any:
    """`value` with every scalar's type beside it, and mappings as their ordered items."""
    if isinstance(value, dict):
        return ("dict", [(typed(key), typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value)


def assert_read_alike(text: str) -> Any:
    answer = load_workflow(text)
    assert typed(answer) == typed(reference(text))
    return answer


def walked(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per document, whether the walk built it (True) or PyYAML's constructor did."""
    ways: list[bool] = []
    walk = yamlload._Walk.value

    def top(self: Any, node: Any) -> Any:
        first = not hasattr(self, "_recorded")
        self._recorded = True
        try:
            answer = walk(self, node)
        except BaseException:
            if first:
                ways.append(False)
            raise
        if first:
            ways.append(True)
        return answer

    monkeypatch.setattr(yamlload._Walk, "value", top)
    return ways


def shipped_workflows() -> list[str]:
    """Every workflow the shipped stacks commit, and the organisation mode's required workflows."""
    texts = {
        r["inputs"]["content"]
        for stack in STACKS
        for r in stack_plan(stack)["resources"]
        if r["type"] == FILE and r["inputs"]["file"].endswith((".yml", ".yaml"))
    }
    organisation = load_policy(
        {
            "environment": "dev",
            "repositories": [{"name": "svc"}, {"name": "web"}],
            "mergeGate": {"mode": "organization", "organization": {"centralRepository": "gate-workflows"}},
        },
        stack="dev",
        github_owner="acme",
    )
    for repo in organisation.repositories:
        texts.update(render_required_workflows(organisation, repo).values())
    return sorted(texts)


def test_every_shipped_workflow_is_read_alike_and_by_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = shipped_workflows()
    assert len(texts) >= 17  # a repository's workflows at least
    ways = walked(monkeypatch)
    for text in texts:
        assert isinstance(assert_read_alike(text), dict)
    # Rendered workflows are plain documents: none may fall back (it would only cost time, but a
    # walk that never runs would make this file's other comparisons say nothing about it).
    assert ways == [True] * len(texts)


PLAIN = """\
name: ci
on:
  push: {branches: [main]}
off: no
jobs:
  build:
    runs-on: [self-hosted, linux]
    timeout-minutes: 0x1F
    continue-on-error: yes
    env: {A: 1_000, B: 0o17, C: 017, D: 1:20, E: .inf, F: -.Inf, G: .NaN, H: 1e3, I: ~, J: null, K: '', L: }
    steps:
      - {run: "echo ${{ github.sha }}", shell: bash, if: "true"}
      - run: |
          multi
          line
      - 3.5: float key
        true: bool key
        null: null key
        12: int key
        "12": str key
      - {a: !!str 12, b: !!int '7', c: !!float '1', d: !!bool 'on', e: !!null ''}
"""


def test_the_core_scalars_and_keys_of_every_type_are_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    ways = walked(monkeypatch)
    document = assert_read_alike(PLAIN)
    assert ways == [True]
    assert True in document and "on" not in document  # YAML 1.1: `on` is a boolean key
    again = load_workflow(PLAIN)  # tags now answered from the memo
    assert typed(again) == typed(document)


ALIASES = """\
defaults: &defaults {runs-on: ubuntu-24.04, steps: [{run: make}]}
jobs:
  a: *defaults
  b: *defaults
"""


def test_an_alias_gives_the_same_object_as_pyyamls_constructor_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    ways = walked(monkeypatch)
    document = assert_read_alike(ALIASES)
    assert ways == [True]
    assert document["jobs"]["a"] is document["jobs"]["b"] is document["defaults"]
    theirs = reference(ALIASES)
    assert theirs["jobs"]["a"] is theirs["jobs"]["b"]


def test_an_alias_bomb_stays_a_graph() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 leaves
    document = load_workflow("\n".join(lines) + "\n")
    assert document["a8"][0] is document["a7"] and document["a8"][9] is document["a7"]


# Each leaves the walk for PyYAML's constructor; the answer (or error) must be PyYAML's.
FALLBACKS = {
    "merge key": "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
    "merge list": "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b], z: 3}\n",
    "value key": "a: {=: 1, b: 2}\n",
    "timestamp": "when: 2026-11-29\nat: 2026-11-29 10:00:00Z\n",
    "binary": "b: !!binary aGVsbG8=\n",
    "set": "s: !!set {a, b}\n",
    "omap": "o: !!omap [{a: 1}, {b: 2}]\n",
    "pairs": "p: !!pairs [{a: 1}, {a: 2}]\n",
    "recursive": "a: &a [1, *a]\n",
    "recursive mapping": "a: &a {self: *a}\n",
    "deep nesting": "a: " + "[" * 2000 + "]" * 2000 + "\n",
}


@pytest.mark.parametrize("text", FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_the_walk_leaves_is_pyyamls_answer(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ways = walked(monkeypatch)
    try:
        expected: Any = ("answer", typed_or_repr(reference(text)))
    except (yaml.YAMLError, RecursionError) as error:
        expected = ("error", type(error).__name__, str(error))
    try:
        got: Any = ("answer", typed_or_repr(load_workflow(text)))
    except (yaml.YAMLError, RecursionError) as error:
        got = ("error", type(error).__name__, str(error))
    assert got == expected
    assert ways == [False], "the case must leave the walk, or it tests nothing here"


def typed_or_repr(value: Any) -> Any:
    """`typed`, except for what only repr can compare (a recursive list, a set, bytes)."""
    try:
        return typed(value)
    except RecursionError:
        return repr(value)


ERRORS = {
    "unhashable key": "? [a, b]\n: c\n",
    "unhashable mapping key": "? {a: 1}\n: c\n",
    "unknown tag": "a: !custom 1\n",
    "python tag": "a: !!python/object:os.system echo\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
}


@pytest.mark.parametrize("text", ERRORS.values(), ids=ERRORS.keys())
def test_an_unreadable_text_raises_pyyamls_error(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as theirs:
        reference(text)
    with pytest.raises(yaml.YAMLError) as ours:
        load_workflow(text)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_the_plain_tag_memo_is_bounded_and_agrees_with_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlload, "_PLAIN_TAGS", {})
    monkeypatch.setattr(yamlload, "_PLAIN_TAGS_LIMIT", 5)
    text = "".join(
        f"k{i}: {value}\n" for i, value in enumerate(["1", "yes", "x", "1.5", "~", "2026-01-01", "0x1", "a"])
    )
    assert_read_alike(text)
    assert len(yamlload._PLAIN_TAGS) == 5
    resolver: Any = yaml.resolver.Resolver()  # PyYAML is untyped
    for value, tag in yamlload._PLAIN_TAGS.items():
        assert tag == resolver.resolve(yaml.ScalarNode, value, (True, False))
    assert_read_alike(text)  # read again, some from the memo and some not
