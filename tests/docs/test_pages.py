"""Every python code block of every documentation page runs, and prints what it says.

The blocks of a page run in order in one namespace (a page is one program), in a fresh
working folder, with the random generators seeded; see `tests.docs.blocks` for the markers
that keep a block out and for the ``print(...)  # expected`` convention."""

from __future__ import annotations

import contextlib
import importlib
import io
import random

import numpy as np
import pytest
import torch

from tests.docs.blocks import ROOT, blocks, pages, python_blocks, skipped_blocks

PAGES = [str(p.relative_to(ROOT)) for p in pages()]


def importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def run_page(page: str) -> list[str]:
    """Run the page's python blocks; return the blocks it did not run (markers), by reason."""
    namespace: dict = {"__name__": "__docs__"}
    not_run = []
    for block in python_blocks(ROOT / page):
        if block.marker in ("skip", "compare") or (block.marker == "requires" and not importable(block.detail)):
            not_run.append(f"{block} ({block.marker} {block.detail})".strip())
            continue
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            try:
                exec(compile(block.code, f"{page}:{block.line}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(f"the block at {block} failed: {error!r}\n{output.getvalue()}") from error
        printed, position = output.getvalue(), 0
        for expected in block.expected:
            found = printed.find(expected, position)
            assert found >= 0, f"the block at {block} should print {expected!r}; it printed:\n{printed}"
            position = found + len(expected)
    return not_run


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_and_prints_what_it_says(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    run_page(page)


def test_every_page_is_checked_and_most_blocks_run():
    all_python = [b for p in pages() for b in python_blocks(p)]
    assert len(PAGES) >= 12 and len(all_python) >= 60
    not_run = [b for b in all_python if b.marker in ("skip", "requires")]
    assert len(not_run) <= len(all_python) // 5, [str(b) for b in not_run]


def test_skipped_blocks_say_why():
    for block in skipped_blocks():
        assert block.detail.startswith("(") and len(block.detail) > 10, f"{block}: a skip marker gives its reason"


def test_every_code_block_names_its_language():
    for page in pages():
        for block in blocks(page):
            assert block.lang, f"{block}: name the language of every code block (python, bash, text, ...)"
