"""Stack files read in bounded time and memory, refusing the YAML a stack file never needs.

A stack file holds a few dozen keys written by people and by `pulumi config set`. Neither needs:
- anchors and aliases (`&a`, `*a`): nine levels of `&a [*b, *b, ...]` (an "alias bomb") expand a
  kilobyte into billions of nodes. Aliases are refused outright rather than bounded: a stack file is
  reviewed as text, and a value that is written elsewhere is a value the reviewer does not see;
- nesting deeper than MAX_DEPTH: PyYAML builds documents recursively, so 20,000 `[` exhaust the
  stack (RecursionError);
- explicit tags (`!!binary`, `!!set`, `!custom`): they build values the policy model never expects;
- a key twice in one mapping: YAML keeps the last, while a reviewer reads the first;
- numbers and dates that cannot be built (`2026-13-45`, a 5,000-digit integer).

Before anything is built, the event stream (`yaml.parse`: iterative, libyaml when available) is
checked once, with a file-size limit first, and read no further than the first collection nested
too deep: libyaml's parser slows quadratically with the depth of flow collections. Each problem
names the dotted path (as the loader names fields: `delivery-gate:labels[0].name`), the value and
its line and column. Only then is the document built, with nothing left that can blow up.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gate.errors import GateError, InputOutputError, PolicyError, Problem

MAX_BYTES = 1024 * 1024  # 1 MiB: the largest stack file here is about 2 KiB
MAX_DEPTH = 64  # nested maps and lists; the policy model is about 6 deep
MAX_NUMBER_LENGTH = 64  # characters of an unquoted integer or float
MAX_PATH_SHOWN = 80  # characters of a dotted path in a message

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}
_BUILT = {f"{_CORE}int": "integer", f"{_CORE}float": "number", f"{_CORE}timestamp": "date or time"}
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.SafeLoader("")
_PLAIN_TEXT = re.compile(r"[^\s]{1,40}")


class StackFileError(GateError):
    """A stack file that is missing or not readable as a Pulumi stack config."""


class StackFileUnreadable(StackFileError, InputOutputError):
    """A stack file that is missing or cannot be read (exit 4), as opposed to one that is not valid."""


class UnreadableFile(GateError):
    """A file that is not a regular file of at most the allowed size; str() says why. As such a
    refusal of what is there (exit 2); MissingFile when it is not there or the system cannot read it."""


class MissingFile(UnreadableFile, InputOutputError):
    """A file that does not exist or that the operating system refuses to read (exit 4)."""


def read_bounded(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, else UnreadableFile.

    Never blocks and never reads more than limit + 1 bytes: a FIFO, a device (/dev/zero) or a
    directory is refused before it is read."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise UnreadableFile("not a regular file")
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since stat()
                raise UnreadableFile("not a regular file")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise MissingFile("no such file", file=str(path)) from None
    except OSError as error:
        raise MissingFile(f"cannot read it: {error.strerror or error}", file=str(path)) from None
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit} bytes")
    return data


def read_stack_text(path: Path, source: str) -> str:
    """A stack file's text: a regular file of at most MAX_BYTES of UTF-8; StackFileError otherwise."""
    return _read_text(path, source, "stack file", _SIZE_ALLOWED)


def _read_text(path: Path, source: str, what: str, allowed: str) -> str:
    try:
        return read_bounded(path).decode("utf-8")
    except MissingFile as error:
        message = f"{source}: cannot read the {what}: {error}; {allowed}"
        raise StackFileUnreadable(message, file=source) from None
    except UnreadableFile as error:
        raise StackFileError(f"{source}: cannot read the {what}: {error}; {allowed}") from None
    except UnicodeDecodeError as error:
        raise StackFileError(
            f"{source}: cannot read the {what}: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None


_SIZE_ALLOWED = (
    f"allowed: a regular file of at most {MAX_BYTES} bytes (1 MiB): a stack file holds only what differs "
    "from the policy defaults"
)


def load(text: str, source: str, what: str = "stack file") -> Any:
    """The YAML document in `text`, after the checks above; PolicyError or StackFileError otherwise.
    `what` the file is, as the messages name it (the offline plan reads Pulumi.yaml this way too)."""
    if len(text) > MAX_BYTES:  # characters: a lower bound of the bytes
        raise StackFileError(
            f"{source}: cannot read the {what}: larger than {MAX_BYTES} bytes; {_SIZE_ALLOWED}"
        )
    try:
        problems = _scan(text, what)
        if problems:
            raise PolicyError(source, problems)
        return yaml.load(text, Loader=_LOADER)  # a SafeLoader, on text checked above
    except yaml.MarkedYAMLError as error:
        raise StackFileError(f"{source}: invalid YAML{where(error)}") from None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as error:
        raise StackFileError(f"{source}: cannot read the {what}: {error}") from None


def load_file(path: Path, what: str) -> Any:
    """The YAML document of the file at `path`, read and checked as a stack file is; `what` it is,
    as the messages name it. StackFileUnreadable when it is not there or cannot be read, StackFileError
    when it is not a regular file of at most MAX_BYTES of UTF-8, PolicyError for the problems above."""
    allowed = f"allowed: a regular file of at most {MAX_BYTES} bytes (1 MiB)"
    return load(_read_text(path, str(path), what, allowed), str(path), what)


def where(error: yaml.MarkedYAMLError) -> str:
    """Where and what, e.g. ` at line 4, column 1: expected ',' or ']' (while parsing ... at line 3)`."""
    mark = error.problem_mark or error.context_mark
    text = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text += f": {error.problem or error.context or 'not a YAML document'}"
    if error.problem and error.context and error.context_mark is not None:
        text += f" ({error.context} at line {error.context_mark.line + 1})"
    return text


# -- the scan -----------------------------------------------------------------------------------


@dataclass
class _Collection:
    path: str  # dotted path of this map or list
    mapping: bool
    children: int = 0  # nodes seen; in a map, even ones are keys and odd ones values
    key: str = "?"  # a map's current key
    keys: set[str] = field(default_factory=set)


def _at(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown place"


def _short(path: str) -> str:
    return path if len(path) <= MAX_PATH_SHOWN else path[: MAX_PATH_SHOWN - 3] + "..."


def _child(parent: _Collection, name: str) -> str:
    if parent.path == "config" and parent.mapping:
        return name  # `config:` entries are named as the loader names them: delivery-gate:labels
    return f"{parent.path}.{name}" if parent.path else name


def _key_name(key: str) -> str:
    """A key as a dotted path shows it: as written when it is one short word, else quoted."""
    return key if _PLAIN_TEXT.fullmatch(key) else repr(key[:40])


def _scan(text: str, what: str) -> list[Problem]:
    scanner = _Scanner(text, what)
    for event in yaml.parse(text, Loader=_LOADER):
        scanner.see(event)
        if scanner.too_deep:
            # Read no further: libyaml's parser slows quadratically with the depth of flow
            # collections (40,000 `[` took 5 s, 400,000 nine minutes), and the file is refused anyway.
            break
    return scanner.problems()


class _Scanner:
    """One pass over the event stream, keeping only the open maps and lists (at most the file's
    nesting) and the problems found."""

    def __init__(self, text: str, what: str) -> None:
        self._text = text
        self._what = what
        self._found: list[Problem] = []
        self._open: list[_Collection] = []
        self.too_deep = False
        # Anchors and aliases are reported once, at the first, with how many the file has.
        self._first_anchor: tuple[int, Problem] | None = None
        self._anchors = 0

    def problems(self) -> list[Problem]:
        found = list(self._found)
        if self._first_anchor is not None:
            index, problem = self._first_anchor
            if self._anchors > 1:
                more = f", the first of {self._anchors} anchors and aliases;"
                problem = Problem(problem.path, problem.value, problem.allowed.replace(";", more, 1))
            found.insert(index, problem)
        return found

    def see(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.CollectionEndEvent):
            self._open.pop()
            if self._open:
                self._open[-1].children += 1
        elif isinstance(event, yaml.NodeEvent):
            self._node(event)

    def _node(self, event: yaml.NodeEvent) -> None:
        parent = self._open[-1] if self._open else None
        is_key = parent is not None and parent.mapping and parent.children % 2 == 0
        if parent is None:
            path = ""
        elif not parent.mapping:
            path = f"{parent.path}[{parent.children}]"
        elif is_key:
            path = parent.path  # a problem with a key is reported at its map
        else:
            path = _child(parent, parent.key)
        shown = _short(path) or "(document)"
        self._anchor(shown, event)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
            self._found.append(
                Problem(
                    shown,
                    tag.replace(_CORE, "!!", 1) if tag.startswith(_CORE) else tag,
                    f"an explicit YAML tag at {_at(event)}; allowed: plain YAML values ({self._what}s never "
                    "need tags such as !!binary, !!set or !custom)",
                )
            )
        if parent is not None and is_key:
            parent.key = "?"
            if isinstance(event, yaml.ScalarEvent):
                self._key(parent, event)
        if isinstance(event, yaml.ScalarEvent):
            problem = _unbuildable(shown, event, tag)
            if problem is not None:
                self._found.append(problem)
        if isinstance(event, yaml.CollectionStartEvent):
            self._open.append(_Collection(path, isinstance(event, yaml.MappingStartEvent)))
            self._depth(shown, event)
        elif parent is not None:
            parent.children += 1

    def _anchor(self, path: str, event: yaml.NodeEvent) -> None:
        if event.anchor is None:
            return
        self._anchors += 1
        if self._first_anchor is None:
            alias = isinstance(event, yaml.AliasEvent)
            problem = Problem(
                path,
                f"{'*' if alias else '&'}{event.anchor}",
                f"a YAML {'alias' if alias else 'anchor'} at {_at(event)}; allowed: values written out in "
                f"full ({self._what}s never need anchors or aliases, and aliases can expand a few lines into "
                "gigabytes)",
            )
            self._first_anchor = (len(self._found), problem)

    def _key(self, parent: _Collection, event: yaml.ScalarEvent) -> None:
        key = _key_name(event.value)
        if key in parent.keys:
            self._found.append(
                Problem(
                    _short(_child(parent, key)),
                    event.value,
                    f"the key appears twice in one map (again at {_at(event)}); allowed: each key once "
                    "(YAML keeps only the last, while a reader sees the first)",
                )
            )
        parent.keys.add(key)
        parent.key = key

    def _depth(self, path: str, event: yaml.NodeEvent) -> None:
        if len(self._open) > MAX_DEPTH and not self.too_deep:
            self.too_deep = True  # reported once: every deeper level is the same problem
            start = event.start_mark.index if event.start_mark is not None else 0
            self._found.append(
                Problem(
                    path,
                    self._text[start : start + 40],
                    f"nested {len(self._open)} levels deep at {_at(event)}; allowed: at most {MAX_DEPTH} "
                    "levels of maps and lists",
                )
            )


def _unbuildable(path: str, event: yaml.ScalarEvent, tag: str | None) -> Problem | None:
    """An unquoted number or date that PyYAML would fail (or take unbounded time) to build."""
    if tag == "!" or (tag is None and not event.implicit[0]):
        return None  # quoted, or the non-specific tag: a string
    if tag is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))  # type: ignore[no-untyped-call]
    kind = _BUILT.get(tag)
    if kind is None:
        return None
    if kind != "date or time" and len(event.value) > MAX_NUMBER_LENGTH:
        return Problem(
            path,
            event.value,
            f"an unquoted {kind} of {len(event.value)} characters at {_at(event)}; allowed: at most "
            f"{MAX_NUMBER_LENGTH} characters",
        )
    try:
        # The constructor function itself: construct_object would cache every node it builds.
        yaml.SafeLoader.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, event.value))
    except (ValueError, OverflowError, yaml.YAMLError) as error:
        return Problem(
            path,
            event.value,
            f"not a valid {kind} ({error}) at {_at(event)}; allowed: a valid {kind}, or quote it to make "
            "it a string",
        )
    return None
