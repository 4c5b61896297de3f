"""A repository's workflow documents from one parse per template, not one parse per repository.

Issue 14: two of a repository's workflows name it (the e2e parity check's image and preview
environment, the security scan's image tag), so with N repositories the rules parsed 2·N distinct
texts, the largest remaining cost of the rules in a plan of many repositories (bench/README.md). The
texts differ only where the name is: the text with the name replaced by a token is the same for every
repository, so it is parsed once, and each repository's document is that parse with the token
replaced by its name.

That stands in for parsing the repository's own text only when the replacement cannot change how
YAML reads it, which `name_template` and `with_name` check, answering None (parse the text itself)
otherwise:

- the name must be an ordinary one: at least three characters of GitHub's repository-name alphabet
  (letters, digits, `.`, `-`, `_`), one of them a letter or digit, so it is never YAML syntax (`-`,
  `---`, `...`, an indentation indicator) and a replaced scalar stays a scalar;
- the text must not contain the token, and no occurrence of the name may sit within an escape
  sequence of a double-quoted scalar (a backslash in the ten characters before it), so the scalar's
  content holds the name exactly where the text does, nor on a line near YAML's 1,024-character
  limit for a plain key (the template's line is longer or shorter than the text's);
- every string the replacement gives back (keys included) must be one YAML reads as a string when
  plain: a name that turns a scalar into `true`, `null`, a number or a date reads differently in the
  real text (the token made it a string in the template);
- and the template itself must parse (a name inside a tag such as `!!str` makes it unparseable).

tests/test_workflow_templates.py compares the answer with a real parse for the shipped and generated
workflows and for names chosen to break each of these conditions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

# Border-free (no proper prefix is also a suffix), so replacing the name by it can never create an
# occurrence of it that straddles an inserted one: replacing back restores exactly the original.
NAME_TOKEN = "Qgatexrepositoryxtokenx7"

_ORDINARY_NAME = re.compile(r"(?=.*[A-Za-z0-9])[A-Za-z0-9._-]{3,100}")
_ESCAPE_REACH = 10  # the longest YAML escape, \UXXXXXXXX, is ten characters
_KEY_LIMIT = 1000  # below YAML's 1,024 characters for a plain (implicit) key, with room to spare
_RESOLVER = yaml.resolver.Resolver()
_STRING_TAG = "tag:yaml.org,2002:str"


def name_template(text: str, name: str) -> str | None:
    """`text` with `name` replaced by NAME_TOKEN, or None when parsing that would not stand in for
    parsing `text` (see the module's docstring). `text` itself when it does not name `name`."""
    if NAME_TOKEN in text or not _ORDINARY_NAME.fullmatch(name):
        return None
    start = text.find(name)
    if start < 0:
        return text
    while start >= 0:
        if "\\" in text[max(0, start - _ESCAPE_REACH) : start] or _too_long_for_a_key(text, start, name):
            return None
        start = text.find(name, start + len(name))
    return text.replace(name, NAME_TOKEN)


def _too_long_for_a_key(text: str, start: int, name: str) -> bool:
    """Whether the line holding this occurrence reaches YAML's limit for a plain key (1,024
    characters) in the text or in the template: past it, one may parse where the other does not."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    longest = max(len(line), len(line) + line.count(name) * (len(NAME_TOKEN) - len(name)))
    return longest >= _KEY_LIMIT


@dataclass(frozen=True)
class ParsedTemplate:
    """A template's document and where the token is in it, found once per template."""

    document: Any
    # None: the token is nowhere in the document. Otherwise a tree along the token's paths only:
    # a string: True; a mapping: {key: (key has the token, value's tree or None)}; a list:
    # {index: item's tree}.
    token_paths: Any


def parse_template(template: str, parse: Callable[[str], Any]) -> ParsedTemplate | None:
    """The template parsed by `parse`, or None when it does not parse (the name was YAML syntax)."""
    try:
        document = parse(template)
    except yaml.YAMLError:
        return None
    return ParsedTemplate(document, _token_paths(document))


def with_name(parsed: ParsedTemplate, name: str) -> Any | None:
    """The template's document with the token replaced by `name`: new containers along the token's
    paths, the template's own objects everywhere else (documents are read, never changed). None when
    a replaced string would read as something else than a string in the real text."""
    if parsed.token_paths is None:
        return parsed.document
    try:
        return _replaced(parsed.document, parsed.token_paths, name)
    except _NotAString:
        return None


class _NotAString(Exception):
    pass


def _token_paths(node: Any) -> Any:
    if isinstance(node, str):
        return True if NAME_TOKEN in node else None
    if isinstance(node, dict):
        entries = {}
        for key, value in node.items():
            key_has = isinstance(key, str) and NAME_TOKEN in key
            value_paths = _token_paths(value)
            if key_has or value_paths is not None:
                entries[key] = (key_has, value_paths)
        return entries or None
    if isinstance(node, list):
        items = {index: paths for index, item in enumerate(node) if (paths := _token_paths(item)) is not None}
        return items or None
    return None  # numbers, booleans, null: the token is letters, so never in them


def _replaced(node: Any, paths: Any, name: str) -> Any:
    if paths is True:
        return _string(node, name)
    if isinstance(node, list):
        items = list(node)
        for index, item_paths in paths.items():
            items[index] = _replaced(node[index], item_paths, name)
        return items
    mapping = {}
    for key, value in node.items():  # in the document's order, renamed keys included
        entry = paths.get(key)
        if entry is None:
            mapping[key] = value
        else:
            key_has, value_paths = entry
            new_key = _string(key, name) if key_has else key
            mapping[new_key] = value if value_paths is None else _replaced(value, value_paths, name)
    return mapping


def _string(template: str, name: str) -> str:
    value = template.replace(NAME_TOKEN, name)
    # How YAML tags the value as a plain scalar (PyYAML ships no types for its resolver).
    if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STRING_TAG:  # type: ignore[no-untyped-call]
        raise _NotAString
    return value
