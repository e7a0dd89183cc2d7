"""The documentation site builds with `mkdocs build --strict` (no broken link, no missing
reference, every page in the navigation), its API reference lists every public class and
function of every public module, and its pages agree with the README (the `docs` extra,
which .ci/run installs).

The same build, by hand: ``NO_MKDOCS_2_WARNING=1 mkdocs build --strict -d /tmp/danlu-site``."""

import importlib
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import danlu
from tests.docs.blocks import DOCS, ROOT, blocks

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
sys.path.insert(0, str(DOCS))
import hooks  # noqa: E402  (docs/hooks.py: the API pages' member lists)

sys.path.remove(str(DOCS))


def api_pages() -> dict[str, Path]:
    """{module documented: its page} from the ``<!-- api: module -->`` lines of docs/api/."""
    found = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for module in hooks.API_LINE.findall(page.read_text()):
            found[module] = page
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr
    return out


def test_every_public_module_has_an_api_page():
    public = {"danlu", "danlu.saving", "danlu.optimizers.schedules", "danlu.utils.huggingface"}
    public |= {f"danlu.{name}" for name in danlu.__all__ if isinstance(getattr(danlu, name), types.ModuleType)}
    missing = sorted(public - set(api_pages()))
    assert not missing, f"add docs/api pages (a line <!-- api: MODULE -->) for {missing}"


def test_the_api_reference_lists_every_public_class_and_function(site):
    missing = []
    for module_name, page in api_pages().items():
        html = (site / page.relative_to(DOCS).with_suffix("") / "index.html").read_text()
        ids = set(re.findall(r'id="([^"]+)"', html))
        module = importlib.import_module(module_name)
        for name in hooks.public_names(module_name):
            where = getattr(getattr(module, name), "__module__", None)
            if f"{module_name}.{name}" not in ids and f"{where}.{name}" not in ids:
                missing.append(f"{module_name}.{name}")
    assert not missing, missing
    losses_page = (site / "api" / "losses" / "index.html").read_text()
    assert all(word in losses_page for word in ("sample_weight", "from_logits", "label_smoothing"))  # docstrings, not just names


def test_the_demo_curves_are_drawn_at_build_time_and_no_picture_is_committed(site):
    picture = site / hooks.CURVES
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert "assets/demo-curves.png" in (site / "getting-started" / "index.html").read_text()
    committed = [p for p in DOCS.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".svg")]
    assert not committed, committed


def test_the_pages_link_every_guide_and_the_site_has_them(site):
    for page in ("getting-started", "coming-from-tf-keras", "coming-from-pytorch", "performance", "changelog",
                 "guides/functional-api", "guides/custom-train-step", "guides/writing-callbacks",
                 "guides/saving-and-resuming", "guides/distributed-training", "guides/ecosystem", "api"):
        assert (site / page / "index.html").is_file(), page
    changelog = (site / "changelog" / "index.html").read_text()
    assert danlu.__version__ in changelog  # the CHANGELOG is included, not copied


def test_getting_started_gives_the_readme_quick_start_commands():
    def commands(text):
        return [line for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S) for line in block.splitlines()
                if "&&" in line]

    readme = (ROOT / "README.md").read_text()
    quick_start = readme[readme.index("\n## Quick start\n"):readme.index("\n## ", readme.index("\n## Quick start\n") + 1)]
    page = [b.code.strip() for b in blocks(DOCS / "getting-started.md") if b.lang == "bash"]
    assert commands(quick_start) and set(commands(quick_start)) <= set(page)
