"""Reading the code blocks of the documentation pages (docs/**/*.md).

A block is a fenced code block, at any indentation (content tabs indent theirs). A python
block runs in the tests unless the line just before its fence is a marker comment:

- ``<!-- docs-test: skip (why) -->``: not run, for a reason given in the marker (code whose
  feature is being built: the lead removes the marker when it lands). Listed by
  `skipped_blocks` and printed by ``python -m tests.docs.blocks``.
- ``<!-- docs-test: compare LIBRARY -->``: the other side of a side-by-side comparison
  (tf.keras, Lightning): another library's code, shown for comparison and never run here
  (the danlu side runs).
- ``<!-- docs-test: requires MODULE -->``: run only where MODULE imports (torchvision,
  which cannot be installed beside this project's torch build: see guides/ecosystem.md).

A ``print(...)`` line ending in a comment states what it prints: the tests check that the
comment's text appears in the block's output, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w.+-]*)")
MARKER = re.compile(r"^\s*<!-- docs-test: (?P<kind>skip|compare|requires)\b\s*(?P<detail>.*?)\s*-->\s*$")
PRINTED = re.compile(r"^\s*print\(.*\)\s+#\s?(?P<expected>.+?)\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None = None  # "skip", "compare" or "requires"
    detail: str = ""

    @property
    def expected(self) -> list[str]:
        """What the block's commented print lines say they print, in order."""
        return [m.group("expected") for m in map(PRINTED.match, self.code.splitlines()) if m]

    def __str__(self):
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, dedented, with the marker that precedes it."""
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        match = OPENING.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        start, body = i, []
        i += 1
        while i < len(lines) and not re.match(rf"^{re.escape(indent)}{re.escape(fence)}\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous)
        found.append(Block(
            page=str(path.relative_to(ROOT)), line=start + 1, lang=match.group("lang"), code="\n".join(body) + "\n",
            marker=marker and marker.group("kind"), detail=marker.group("detail") if marker else "",
        ))
    return found


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in ("python", "py")]


def skipped_blocks() -> list[Block]:
    """The python blocks kept out of the tests with a ``skip`` marker."""
    return [b for page in pages() for b in python_blocks(page) if b.marker == "skip"]


if __name__ == "__main__":
    for block in skipped_blocks():
        print(f"{block}  {block.detail}")
