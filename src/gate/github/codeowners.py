"""The gate's CODEOWNERS rules as a marked block inside the repository's own CODEOWNERS file.

Issue 13 item 3: the gate does not replace a repository's `.github/CODEOWNERS`; it owns one block,
between a BEGIN and an END marker line naming delivery-gate, and leaves every other line as the
repository wrote it, byte for byte. `splice` is pure: the component reads the file from the default
branch (github.get_repository_file) and commits what `splice` returns.

Rules (each tested in tests/test_codeowners.py):

* The block is always the LAST thing in the file. In CODEOWNERS the last matching pattern wins, so a
  repository line after the block could take over the gate's own files (M9 §Enforcement, GATE-NN-04:
  code-owner review of the gate's files by the platform team). An old block in the middle of the file
  is removed there and the current one appended; the lines after it stay where they were, in order.
* No file (or an empty one): the file is the block. So is a file written whole by an earlier version
  of the gate (it starts with LEGACY_HEADER and has no block): all of it was the gate's.
* The file's line ending is kept: a file whose first line ends in CRLF gets a CRLF block.
* A file that does not end with a line break gets one before the block (the only byte added to a
  repository line); a blank line separates the repository's lines from the block.
* Idempotent: splicing the same block into the result gives the result again.
* Two BEGIN markers, an END without a BEGIN, a BEGIN without an END: a CodeownersError naming the
  file and the line numbers, never a guess (a guess could drop a repository's lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gate.errors import GateError

# Marker lines are recognised by these prefixes, so the wording after them may change between
# versions without orphaning blocks written by an older one.
BEGIN_PREFIX = "# BEGIN delivery-gate"
END_PREFIX = "# END delivery-gate"
BEGIN_MARKER = f"{BEGIN_PREFIX}: managed by Pulumi; change the stack config, not the lines below"
END_MARKER = f"{END_PREFIX}: lines after this one are the repository's own"


# The first line of the whole-file CODEOWNERS that versions before issue 13 committed: such a file
# is entirely the gate's (it was overwritten on every update), so it is replaced, not kept.
LEGACY_HEADER = "# Managed by delivery-gate (Pulumi): edits here are overwritten on the next `pulumi up`."


class CodeownersError(GateError):
    """The repository's CODEOWNERS cannot be spliced safely (broken or duplicated markers)."""


def render_block(lines: Sequence[str], newline: str = "\n") -> str:
    """The block: BEGIN marker, the gate's lines, END marker, each ending with `newline`."""
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"a CODEOWNERS line cannot contain a line break: {line!r}")
        if line.startswith((BEGIN_PREFIX, END_PREFIX)):
            raise ValueError(f"a CODEOWNERS line inside the block cannot look like a marker: {line!r}")
    return "".join(f"{line}{newline}" for line in (BEGIN_MARKER, *lines, END_MARKER))


def newline_of(content: str) -> str:
    """The line ending of a file: that of its first line ("\\n" when it has none)."""
    first = content.find("\n")
    return "\r\n" if first > 0 and content[first - 1] == "\r" else "\n"


def _is_marker(line: str, prefix: str) -> bool:
    return line.rstrip("\r\n").startswith(prefix)


def find_block(content: str, source: str = ".github/CODEOWNERS") -> tuple[int, int] | None:
    """(start, end) character offsets of the gate's block in `content` (end is past the END line's
    line break), or None when the file has none. Raises CodeownersError on broken markers."""
    lines = _lines(content)
    begins = [number for number, line in enumerate(lines, 1) if _is_marker(line, BEGIN_PREFIX)]
    ends = [number for number, line in enumerate(lines, 1) if _is_marker(line, END_PREFIX)]
    if not begins and not ends:
        return None
    problem = None
    if len(begins) > 1 or len(ends) > 1:
        problem = "more than one delivery-gate block"
    elif not ends:
        problem = "a BEGIN marker without an END marker"
    elif not begins:
        problem = "an END marker without a BEGIN marker"
    elif ends[0] < begins[0]:
        problem = "the END marker comes before the BEGIN marker"
    if problem is not None:
        raise CodeownersError(
            f"{source}: {problem} (BEGIN on line(s) {_numbers(begins)}, END on line(s) {_numbers(ends)}); "
            f"allowed: at most one block from a line starting {BEGIN_PREFIX!r} to a line starting "
            f"{END_PREFIX!r}. Fix the file by hand (keep one block or delete both markers and the "
            "lines between them); the gate will not guess which lines are the repository's"
        )
    start = sum(len(line) for line in lines[: begins[0] - 1])
    end = sum(len(line) for line in lines[: ends[0]])
    return start, end


def _lines(content: str) -> list[str]:
    """Lines as GitHub and git count them: split on LF only, each keeping its ending (str.splitlines
    would also split on a lone CR, form feeds and Unicode separators, and misplace markers)."""
    lines = content.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _numbers(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers) or "none"


def splice(existing: str | None, lines: Sequence[str], source: str = ".github/CODEOWNERS") -> str:
    """The repository's CODEOWNERS with the gate's block (of `lines`) in it, placed last.

    `existing` is the file on the default branch, None (or "") when there is none. `source` names
    the file in errors ("acme/shop:.github/CODEOWNERS").
    """
    content = existing or ""
    if content.startswith(LEGACY_HEADER) and find_block(content, source) is None:
        content = ""
    newline = newline_of(content)
    block = render_block(lines, newline)
    found = find_block(content, source)
    if found is not None:
        start, end = found
        content = content[:start] + content[end:]
    if not content:
        return block
    if not content.endswith("\n"):
        content += newline
    # A blank line between the repository's lines and the block, once (idempotent: a file that
    # already ends with one gets no second).
    if not content.endswith(newline + newline) and content != newline:
        content += newline
    return content + block


def block_lines(content: str, source: str = ".github/CODEOWNERS") -> tuple[str, ...] | None:
    """The gate's lines inside the block of `content` (markers excluded), None without a block."""
    found = find_block(content, source)
    if found is None:
        return None
    start, end = found
    inner = _lines(content[start:end])[1:-1]
    return tuple(line.rstrip("\n").removesuffix("\r") for line in inner)


# Where GitHub looks for CODEOWNERS, in its order: the first file found is the only one it reads.
GITHUB_PATH = ".github/CODEOWNERS"
LOCATIONS = (GITHUB_PATH, "CODEOWNERS", "docs/CODEOWNERS")


def adopted(found: Mapping[str, str | None]) -> tuple[str | None, str | None]:
    """(the file to splice the block into, the path it came from when not .github/CODEOWNERS).

    `found` is location -> content (None: no such file). The gate writes .github/CODEOWNERS, which
    GitHub reads before the other locations: a repository whose rules live in `CODEOWNERS` or
    `docs/CODEOWNERS` would silently lose them. So when .github/CODEOWNERS does not exist, the first
    file GitHub would have read is the one the block goes into (its rules keep applying, from the new
    place), and the caller warns that the old file is now unread.
    """
    if found.get(GITHUB_PATH):
        return found[GITHUB_PATH], None
    for location in LOCATIONS[1:]:
        content = found.get(location)
        if content:
            return content, location
    return None, None
