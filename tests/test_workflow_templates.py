"""Issue 14: a repository's workflow documents from one parse per template (the text with the
repository's name taken out) must be exactly what parsing its own text gives, or not be used.

`document` below is what the rules read (gate/policy/rules.py `workflow_document`): the template's parse with
the name put back when gate/policy/workflowtemplates.py allows it, a parse of the text otherwise. Every
case compares it with a real parse; the cases built to defeat the template also check that it was
refused (a fallback that happened to give the same answer would hide a wrong shortcut elsewhere).
"""

from __future__ import annotations

from typing import Any

import pytest

from gate.policy import memo, rules
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.policy.workflowtemplates import NAME_TOKEN, name_template, parse_template, with_name


def fresh_policy() -> GatePolicy:
    """A policy object only as the memo's owner: each test starts with an empty memo."""
    return load_policy(
        {"environment": "dev", "repositories": [{"name": "svc"}]}, stack="dev", github_owner="acme"
    )


def document(text: str, name: str, policy: GatePolicy | None = None) -> Any:
    return rules.workflow_document(policy or fresh_policy(), text, name)


def templated(text: str, name: str) -> Any | None:
    """The template's answer alone, None when it is refused at any step."""
    template = name_template(text, name)
    if template is None:
        return None
    parsed = parse_template(template, rules.parse_workflow)
    return None if parsed is None else with_name(parsed, name)


WORKFLOW = """\
name: e2e parity ({name})
"on":
  pull_request:
    branches: [main]
jobs:
  build-{name}:
    runs-on: ubuntu-24.04
    env:
      IMAGE: ghcr.io/acme/{name}
      PLAIN: {name}
    steps:
      - run: |
          environment="pr-{name}-$pr"
          echo "{name}" \\
            --flag
      - uses: docker/build-push-action@0123456789abcdef0123456789abcdef01234567
        with:
          tags: "ghcr.io/acme/{name}:pr-${{{{ github.sha }}}}"
          labels: ['{name}', "{name}-x"]
  other:
    needs: [build-{name}]
    if: ${{{{ github.repository == 'acme/{name}' }}}}
    steps: [{{run: make}}]
"""


@pytest.mark.parametrize("name", ["service-0001", "Web.App", "a_b", "web", "x-1", "0day", "ci.yml", "jobs"])
def test_a_template_stands_in_for_each_name_exactly(name: str) -> None:
    text = WORKFLOW.format(name=name)
    answer = templated(text, name)
    assert answer is not None, "an ordinary name must use the template"
    assert answer == rules.parse_workflow(text)
    assert list(answer["jobs"]) == list(rules.parse_workflow(text)["jobs"])  # key order too


def test_repositories_differing_only_by_name_share_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = rules.parse_workflow

    def counted(text: str) -> Any:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(rules, "parse_workflow", counted)
    policy = fresh_policy()
    names = [f"service-{index:04d}" for index in range(5)]
    documents = [document(WORKFLOW.format(name=name), name, policy) for name in names]
    assert len(parsed) == 1 and NAME_TOKEN in parsed[0]
    for name, answer in zip(names, documents, strict=True):
        assert answer == real(WORKFLOW.format(name=name))
    # Only the containers along the name's paths are new: the rest is the template's, shared.
    assert documents[0]["on"] is documents[1]["on"]
    assert documents[0]["jobs"] is not documents[1]["jobs"]
    assert memo.memo_of(policy)  # kept with the policy's other derived values


def test_a_text_that_does_not_name_the_repository_is_parsed_as_it_is() -> None:
    text = WORKFLOW.format(name="other")
    assert name_template(text, "svc-9") is text
    assert document(text, "svc-9") == rules.parse_workflow(text)


@pytest.mark.parametrize(
    ("text", "name", "why"),
    [
        # The name turns a plain scalar into a boolean, null, number or date in the real text.
        ("flag: yes\n", "yes", "YAML 1.1 reads plain yes as true"),
        ("flag: off\nnull: 1\n", "off", "a boolean value"),
        ("value: null\n", "null", "null"),
        ("n: 1.5\n", "1.5", "a float"),
        ("n: 12345\n", "234", "part of an integer"),
        ("when: 2026-11-28\n", "-11", "part of a date"),
        ("x: .inf\n", "inf", "an infinity"),
        ("true: 1\nkeys: [a]\n", "true", "a boolean key"),
        # The name is YAML syntax, or too short to be told from it.
        ("x: !!str 5\n", "str", "part of a tag"),
        ("- a\n- b\n", "- a", "not a repository name"),
        ("x: ---\n", "---", "no letter or digit"),
        ("k: |2\n    ab\n", "ab", "short"),
        # The token is already in the text.
        (f"x: {NAME_TOKEN} svc\n", "svc", "the token itself"),
    ],
)
def test_a_name_that_would_read_differently_falls_back_to_parsing_the_text(
    text: str, name: str, why: str
) -> None:
    assert templated(text, name) is None, why
    assert document(text, name) == rules.parse_workflow(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [('x: "\\x41bc"\n', "41bc"), ('x: "a\\nabc"\n', "nabc"), ('x: "\\u00e9abc"\n', "00e9abc")],
)
def test_a_name_inside_an_escape_sequence_is_refused_before_any_parse(text: str, name: str) -> None:
    # The token cannot complete an escape either (such a template would not parse), but a scalar's
    # content holds the name where the text does only outside escapes: refused on the text alone.
    assert name_template(text, name) is None
    assert document(text, name) == rules.parse_workflow(text)


def test_the_shipped_workflows_of_many_repositories_match_their_own_parse() -> None:
    from gate.github.repository import workflows_run_for  # noqa: PLC0415 - only this test needs it

    names = ["service-0001", "Web.App", "api_v2", "ci", "deploy", "1.5", "yes"]
    policy = load_policy(
        {"environment": "dev", "repositories": [{"name": name} for name in names]},
        stack="dev",
        github_owner="acme",
    )
    used = 0
    for repo in policy.repositories:
        for text in workflows_run_for(policy, repo).values():
            assert document(text, repo.name, policy) == rules.parse_workflow(text)
            used += templated(text, repo.name) is not None and name_template(text, repo.name) is not text
    assert used  # the comparison covered templated documents


def test_a_name_on_a_line_near_yamls_key_limit_is_refused() -> None:
    # A plain key may be at most 1,024 characters: a name shorter than the token could make the
    # template's key too long (or a longer name the text's), so one parses and the other does not.
    name = "svc"
    near = "k" * 990 + name + ": v\n"
    assert name_template(near, name) is None
    assert document(near, name) == rules.parse_workflow(near)
    short = "k" * 100 + name + ": v\n"
    assert name_template(short, name) is not None
    assert templated(short, name) == rules.parse_workflow(short)
