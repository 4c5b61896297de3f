"""gate/github/yamltext.py: one text per distinct document, shared (issue 14), never a stale one."""

from __future__ import annotations

import yaml

from gate.github import yamltext
from gate.github.yamltext import Commented, dump


def test_an_equal_document_gets_the_very_same_text() -> None:
    first = {"name": "ci", "on": {"pull_request": None}, "jobs": {"test": {"runs-on": "ubuntu-latest"}}}
    second = {"name": "ci", "on": {"pull_request": None}, "jobs": {"test": {"runs-on": "ubuntu-latest"}}}
    assert dump(first) is dump(second)


def test_documents_that_differ_only_in_type_or_order_get_their_own_text() -> None:
    texts = [
        dump({"v": 1}),
        dump({"v": "1"}),
        dump({"v": True}),
        dump({"v": 1.0}),
        dump({"v": [1]}),
        dump({"v": (1,)}),
        dump({"v": Commented("x", "v1")}),
        dump({"v": Commented("x", "v2")}),
        dump({"a": 1, "b": 2}),
        dump({"b": 2, "a": 1}),
    ]
    assert texts[0] != texts[1] != texts[2]
    assert yaml.safe_load(texts[1]) == {"v": "1"}
    assert texts[6] != texts[7]
    assert texts[8] != texts[9]


class _Opaque:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_a_document_holding_an_object_by_address_is_never_remembered() -> None:
    # Its repr shows an address another object may take later: rendering it must not be shared.
    before = len(yamltext._RENDERED)
    assert dump({"v": _Opaque("first")}) == "v: first\n"
    assert len(yamltext._RENDERED) == before
