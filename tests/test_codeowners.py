"""gate/github/codeowners.py: the gate's marked block inside a repository's own CODEOWNERS (issue 13,
item 3)."""

from __future__ import annotations

import itertools

import pytest

from gate.errors import GateError
from gate.github.codeowners import (
    BEGIN_MARKER,
    END_MARKER,
    LEGACY_HEADER,
    LOCATIONS,
    CodeownersError,
    adopted,
    block_lines,
    find_block,
    newline_of,
    render_block,
    splice,
)

GATE = ("/schemas/trace/** @acme/backend @acme/qa", "/.github/workflows/ @acme/platform")
NEWER = ("/schemas/trace/** @acme/backend @acme/qa", "/.github/ @acme/platform", "/tools/ @acme/platform")
BLOCK = f"{BEGIN_MARKER}\n{GATE[0]}\n{GATE[1]}\n{END_MARKER}\n"


def test_no_file_gives_the_block_alone() -> None:
    assert splice(None, GATE) == BLOCK
    assert splice("", GATE) == BLOCK


def test_a_whole_file_written_by_an_earlier_gate_version_is_replaced() -> None:
    legacy = f"{LEGACY_HEADER}\n/schemas/trace/** @acme/backend @acme/qa\n/.github/ @acme/platform\n"
    assert splice(legacy, GATE) == BLOCK
    # Only at the very start, and only without a block: a repository quoting the line keeps it.
    quoted = "* @a/b\n" + legacy
    assert splice(quoted, GATE) == quoted + "\n" + BLOCK


def test_markers_name_the_gate() -> None:
    assert BEGIN_MARKER.startswith("# BEGIN delivery-gate") and END_MARKER.startswith("# END delivery-gate")
    # Comments to GitHub: every marker line starts with '#'.
    assert all(line.startswith("#") for line in (BEGIN_MARKER, END_MARKER))


def test_file_without_block_keeps_its_lines_and_gets_the_block_last() -> None:
    own = "# our owners\n* @acme/everyone\n/docs/ @acme/writers\n"
    result = splice(own, GATE)
    assert result == own + "\n" + BLOCK
    assert result.startswith(own)  # byte for byte
    assert result.endswith(BLOCK)  # last: in CODEOWNERS the last matching pattern wins


def test_file_ending_with_a_blank_line_gets_no_second_one() -> None:
    own = "* @acme/everyone\n\n"
    assert splice(own, GATE) == own + BLOCK


def test_file_without_final_line_break_gets_one_and_nothing_else() -> None:
    own = "* @acme/everyone"
    assert splice(own, GATE) == own + "\n\n" + BLOCK


def test_old_block_is_replaced_and_lines_around_it_kept() -> None:
    before = "* @acme/everyone\n\n"
    old = splice(before, GATE)
    new = splice(old, NEWER)
    assert new == before + render_block(NEWER)
    assert GATE[1] not in new


def test_old_block_in_the_middle_moves_last_and_later_lines_keep_their_order() -> None:
    before, after = "* @acme/everyone\n", "/.github/ @acme/intruder\n/docs/ @acme/writers\n"
    content = before + BLOCK + after
    result = splice(content, NEWER)
    # The repository's lines, byte for byte and in order, then the block: a repository line can no
    # longer take the gate's files over by coming after the block.
    assert result == before + after + "\n" + render_block(NEWER)
    assert result.index("/.github/ @acme/intruder") < result.index(BEGIN_MARKER)


def test_splice_is_idempotent() -> None:
    for own in (None, "", "* @a/b\n", "* @a/b", "* @a/b\r\n/x @a/c\r\n", "\n", "* @a/b\n\n\n"):
        once = splice(own, GATE)
        assert splice(once, GATE) == once, repr(own)


def test_crlf_file_gets_a_crlf_block_and_keeps_its_bytes() -> None:
    own = "# ours\r\n* @acme/everyone\r\n"
    result = splice(own, GATE)
    assert result == own + "\r\n" + BLOCK.replace("\n", "\r\n")
    assert "\n" not in result.replace("\r\n", "")  # no bare LF introduced
    again = splice(result, NEWER)
    assert again == own + "\r\n" + render_block(NEWER, "\r\n")


def test_crlf_file_without_final_line_break() -> None:
    own = "* @acme/everyone\r\n/docs/ @acme/w"
    assert splice(own, GATE) == own + "\r\n\r\n" + render_block(GATE, "\r\n")


def test_newline_of_a_file_is_that_of_its_first_line() -> None:
    assert newline_of("a\r\nb\n") == "\r\n"
    assert newline_of("a\nb\r\n") == "\n"
    assert newline_of("no line break") == "\n"
    assert newline_of("") == "\n"


def test_old_block_written_with_other_wording_after_the_marker_prefix_is_found() -> None:
    old = "* @a/b\n# BEGIN delivery-gate (v0.1)\n/x @a/old\n# END delivery-gate\n"
    assert splice(old, GATE) == "* @a/b\n" + "\n" + BLOCK
    assert block_lines(old) == ("/x @a/old",)


@pytest.mark.parametrize(
    ("content", "problem", "lines"),
    [
        (
            BLOCK + "\n" + BLOCK,
            "more than one delivery-gate block",
            "BEGIN on line(s) 1, 6, END on line(s) 4, 9",
        ),
        (f"* @a/b\n{BEGIN_MARKER}\n/x @a/c\n", "a BEGIN marker without an END marker", "BEGIN on line(s) 2"),
        (f"* @a/b\n/x @a/c\n{END_MARKER}\n", "an END marker without a BEGIN marker", "END on line(s) 3"),
        (f"{END_MARKER}\n/x @a/c\n{BEGIN_MARKER}\n", "the END marker comes before the BEGIN marker", ""),
        (f"{BEGIN_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n", "more than one delivery-gate block", ""),
    ],
)
def test_broken_or_duplicate_markers_are_a_clear_error(content: str, problem: str, lines: str) -> None:
    with pytest.raises(CodeownersError) as caught:
        splice(content, GATE, source="acme/shop:.github/CODEOWNERS")
    message = str(caught.value)
    assert message.startswith(f"acme/shop:.github/CODEOWNERS: {problem}")
    assert lines in message
    assert "allowed: at most one block" in message
    assert isinstance(caught.value, GateError)  # the CLI reports it without a traceback


def test_only_lf_ends_a_line() -> None:
    own = "/a\r# END delivery-gate @x/y\n/b\x0c# BEGIN delivery-gate\n"
    assert find_block(own) is None
    assert splice(own, GATE) == own + "\n" + BLOCK


def test_find_block_offsets() -> None:
    content = "* @a/b\n" + BLOCK + "/docs/ @a/w\n"
    found = find_block(content)
    assert found is not None
    start, end = found
    assert content[start:end] == BLOCK
    assert find_block("* @a/b\n") is None


def test_block_lines_cannot_break_out_of_the_block() -> None:
    with pytest.raises(ValueError, match="line break"):
        render_block(("/x @a/b\n* @attacker/x",))
    with pytest.raises(ValueError, match="marker"):
        render_block((END_MARKER,))


# Lines a repository may hold: owners, comments, blanks, stray whitespace, non-ASCII, text that
# mentions the gate without being a marker, a lone carriage return inside a line.
_SAMPLE_LINES = (
    "* @acme/everyone",
    "",
    "   ",
    "# delivery-gate is mentioned here",
    "  # BEGIN delivery-gate (indented: not a marker)",
    "/docs/ @acme/wr\u00efters",
    "/a\rb @x/y",
    "/c\u2028# BEGIN delivery-gate @x/y",  # a Unicode line separator is no line break to GitHub
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_break", [True, False])
@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_any_repository_file_keeps_its_lines_and_splicing_is_idempotent(
    newline: str, final_break: bool, count: int
) -> None:
    for own in itertools.product(_SAMPLE_LINES, repeat=count):
        content = newline.join(own) + (newline if final_break and own else "")
        once = splice(content, GATE)
        assert splice(once, GATE) == once, repr(content)
        assert splice(splice(once, NEWER), GATE) == once, repr(content)
        assert once.startswith(content), repr(content)  # the repository's bytes, untouched, first
        assert block_lines(once) == GATE
        assert once.endswith(render_block(GATE, newline_of(content)))


def test_locations_are_githubs_lookup_order() -> None:
    assert LOCATIONS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ({}, (None, None)),
        ({".github/CODEOWNERS": None, "CODEOWNERS": None, "docs/CODEOWNERS": None}, (None, None)),
        ({".github/CODEOWNERS": "a\n", "CODEOWNERS": "b\n"}, ("a\n", None)),
        ({".github/CODEOWNERS": None, "CODEOWNERS": "b\n", "docs/CODEOWNERS": "c\n"}, ("b\n", "CODEOWNERS")),
        ({"docs/CODEOWNERS": "c\n"}, ("c\n", "docs/CODEOWNERS")),
        # An empty file is no file: nothing to keep.
        ({".github/CODEOWNERS": "", "CODEOWNERS": "b\n"}, ("b\n", "CODEOWNERS")),
    ],
)
def test_adopted_is_the_file_github_reads(
    found: dict[str, str | None], expected: tuple[str | None, str | None]
) -> None:
    assert adopted(found) == expected
