"""A rendered workflow read as GitHub reads it (YAML 1.1), faster than `yaml.load` with CSafeLoader.

Issue 14: the rules parse every distinct workflow text they judge (gate/policy/rules.py); in a plan of
one repository that is 17 workflows and a quarter of the plan's own work after imports. libyaml
scans and composes the node graph in C, but PyYAML then calls back into Python for every scalar to
resolve its tag (up to a dozen regular expressions each) and constructs the document through a
generic, generator-based constructor, one method lookup and two memo dicts per node. The same
answer, for less:

- a plain scalar's tag depends on its text alone (no path resolvers, which nothing here adds), so
  it is resolved once per distinct text;
- a document made only of mappings, sequences and the core scalars (str, int, float, bool, null),
  as every rendered workflow is, is built by one walk over the node graph. An alias is the same node
  object in the graph, so it gives the same Python object, as PyYAML's constructor gives (and an
  alias bomb stays a graph: nothing is copied). Anything else (a merge key, a `=` value key, a
  timestamp, an explicit tag, an unhashable key, a recursive alias, a nesting too deep for the
  walk) is left to PyYAML's own constructor on the same graph, which the walk never changes, so
  the answer and every error are PyYAML's.

tests/test_yamlload.py compares it with `yaml.load(text, Loader=yaml.CSafeLoader)`, value and type,
for the shipped and generated workflows and for documents built to take each way out.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# Keys SafeConstructor.flatten_mapping rewrites before constructing a mapping.
_REWRITTEN_KEYS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})
# The core scalars other than str, built by SafeConstructor's own methods.
_SCALARS = {
    "tag:yaml.org,2002:int": yaml.SafeLoader.construct_yaml_int,
    "tag:yaml.org,2002:float": yaml.SafeLoader.construct_yaml_float,
    "tag:yaml.org,2002:bool": yaml.SafeLoader.construct_yaml_bool,
    "tag:yaml.org,2002:null": yaml.SafeLoader.construct_yaml_null,
}
# Plain scalar text -> tag. Bounded: a rendered workflow's plain scalars repeat (keys, runner
# labels, `true`), and a text outside the memo is only resolved the slow way.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_LIMIT = 20_000
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Unusual(Exception):
    """The document holds something the walk leaves to PyYAML's constructor."""


class _WorkflowLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_TAGS) < _PLAIN_TAGS_LIMIT:
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_document(self, node: Any) -> Any:
        try:
            return _Walk(self).value(node)
        except (_Unusual, RecursionError):
            return super().construct_document(node)


class _Walk:
    """One document's construction: collection node -> its object (aliases share it)."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self._built: dict[int, Any] = {}
        self._open: set[int] = set()

    def value(self, node: Any) -> Any:
        kind = type(node)
        if kind is ScalarNode:
            if node.tag == _STR:
                return node.value
            construct = _SCALARS.get(node.tag)
            if construct is None:
                raise _Unusual
            return construct(self._loader, node)
        key = id(node)  # the graph holds every node for the walk's life: ids stay unique
        if key in self._built:
            return self._built[key]
        if key in self._open:
            raise _Unusual  # a recursive alias
        self._open.add(key)
        built: Any
        if kind is SequenceNode and node.tag == _SEQ:
            built = [self.value(child) for child in node.value]
        elif kind is MappingNode and node.tag == _MAP:
            built = {}
            for key_node, value_node in node.value:
                if key_node.tag in _REWRITTEN_KEYS:
                    raise _Unusual
                mapping_key = self.value(key_node)
                if isinstance(mapping_key, (list, dict)):
                    raise _Unusual  # PyYAML's error for an unhashable key
                built[mapping_key] = self.value(value_node)
        else:
            raise _Unusual
        self._open.discard(key)
        self._built[key] = built
        return built


def load_workflow(text: str) -> Any:
    """What `yaml.load(text, Loader=yaml.CSafeLoader)` answers (or raises) for `text`."""
    return yaml.load(text, Loader=_WorkflowLoader)
