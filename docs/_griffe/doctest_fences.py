"""A Griffe extension for danlu's site: doctest examples in docstrings (``>>>`` lines and the
output under them) become fenced ``pycon`` code blocks, which Markdown would otherwise read as
nested block quotes. Listed under mkdocstrings' ``extensions`` in mkdocs.yml."""

from __future__ import annotations

import re
from typing import Any

import griffe

PROMPT = re.compile(r"^(?P<indent>\s*)>>> ")


def fence_doctests(text: str) -> str:
    """Wrap each run of doctest lines (a ``>>>`` line, its ``...`` continuations and output,
    up to a blank line) in a ```pycon fence, unless it is already inside a fence."""
    lines, out, inside_fence, i = text.splitlines(), [], False, 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            inside_fence = not inside_fence
        match = None if inside_fence else PROMPT.match(line)
        if not match:
            out.append(line)
            i += 1
            continue
        indent = match.group("indent")
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>> " in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
