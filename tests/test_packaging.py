"""The package as users get it: one version, `python -m danlu --version`, py.typed, a CHANGELOG
entry, and a wheel and sdist from `python -m build` that `twine check` accepts, whose wheel
installs into a fresh virtual environment and runs the demo there (the digits data inside),
reproducing the logs the documentation draws its curves from (about 25 s on two idle cores:
the build, the venv and the demo's training; the `release` extra provides build and twine)."""

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import danlu

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEMO_HISTORY = ROOT / "docs" / "assets" / "demo-history.json"


def test_the_version_lives_in_one_place_and_the_metadata_reads_it():
    assert PYPROJECT["project"]["dynamic"] == ["version"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "danlu.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?", danlu.__version__)
    assert metadata.version("danlu") == danlu.__version__


@pytest.mark.parametrize("arguments", [["--version"], ["version"]])
def test_python_m_danlu_prints_the_versions(arguments):
    result = subprocess.run([sys.executable, "-m", "danlu", *arguments], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import torch

    assert result.stdout == f"danlu {danlu.__version__} (torch {torch.__version__})\n"


def test_the_package_says_it_is_typed_and_ships_its_data():
    package = Path(danlu.__file__).parent
    assert (package / "py.typed").is_file() and (package / "datasets" / "digits.npz").is_file()
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["danlu"]
    assert "py.typed" in data and "datasets/*.npz" in data
    assert "Typing :: Typed" in PYPROJECT["project"]["classifiers"]


def test_the_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(danlu.__version__)}\b", changelog, flags=re.M)


def test_the_extras_are_there_and_test_stays_lean():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"docs", "torchmetrics", "huggingface", "release", "plot", "test", "oracle"} <= set(extras)
    assert any(r.startswith("mkdocs-material") for r in extras["docs"])
    heavy = ("mkdocs", "torchmetrics", "datasets", "build", "twine", "torchvision", "keras", "tensorflow")
    assert not [r for r in extras["test"] if r.startswith(heavy)]
    assert not [r for extra in extras.values() for r in extra if r.startswith("torch") and r[5:6] in "=<>~! "]


def _python(environment: Path) -> Path:
    return environment / ("Scripts" if os.name == "nt" else "bin") / "python"


def test_the_wheel_installs_in_a_fresh_venv_and_its_demo_reproduces_the_docs_curves(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("twine")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel, = dist.glob(f"danlu-{danlu.__version__}-py3-none-any.whl")
    sdist, = dist.glob(f"danlu-{danlu.__version__}.tar.gz")
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout + checked.stderr

    names = zipfile.ZipFile(wheel).namelist()
    assert {"danlu/py.typed", "danlu/datasets/digits.npz", "danlu/__main__.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/"))]
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "src/danlu/py.typed", "src/danlu/datasets/digits.npz"} <= members

    # A fresh venv that sees this machine's torch (a local CPU build) but not the checkout.
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=True)
    python = _python(environment)
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--force-reinstall", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*arguments, timeout=120):
        return subprocess.run([str(python), *arguments], capture_output=True, text=True, timeout=timeout, cwd=run_dir, env=env)

    where = run("-c", "import danlu, importlib.metadata as m; print(danlu.__file__); print(m.requires('danlu'))")
    assert where.returncode == 0 and where.stdout.startswith(str(environment)), where.stdout + where.stderr
    version = run("-m", "danlu", "--version")
    assert version.returncode == 0 and version.stdout.startswith(f"danlu {danlu.__version__} (torch "), version.stderr

    demo = run("-m", "danlu", "demo", "--curves", "curves.png", "--history", "history.json", timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert float(demo.stdout.split("test accuracy ")[1].split()[0]) >= 0.95
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The documentation's picture is drawn from docs/assets/demo-history.json: the demo still
    # produces those logs (regenerate with `python -m danlu demo --history docs/assets/demo-history.json`).
    fresh, committed = json.loads((run_dir / "history.json").read_text()), json.loads(DEMO_HISTORY.read_text())
    assert fresh["epoch"] == committed["epoch"] and sorted(fresh["history"]) == sorted(committed["history"])
    for name, values in committed["history"].items():
        np.testing.assert_allclose(fresh["history"][name], values, rtol=0.02, atol=0.01, err_msg=name)
    assert fresh["test_accuracy"] == pytest.approx(committed["test_accuracy"], abs=0.01)
