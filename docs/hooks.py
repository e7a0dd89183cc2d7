"""MkDocs hooks for danlu's site (listed in mkdocs.yml; excluded from the pages).

- API pages: a line ``<!-- api: danlu.losses -->`` becomes a mkdocstrings block listing every
  public name of the module, read from the module itself when the site is built (its
  ``__all__``; else the classes and functions it defines), so the reference never drifts from
  the code. ``<!-- api: danlu.utils.huggingface -->`` works for any importable module.
- The demo's curves: ``assets/demo-curves.png`` is drawn at build time, with danlu's own
  ``History.plot``, from ``docs/assets/demo-history.json`` — the logs that
  ``python -m danlu demo --history docs/assets/demo-history.json`` writes (tests/test_packaging.py
  checks that the demo installed from the wheel still produces them). No picture is committed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import tempfile
import types

API_LINE = re.compile(r"^<!-- api: ([\w.]+) -->$", re.M)
HISTORY = os.path.join(os.path.dirname(__file__), "assets", "demo-history.json")
CURVES = "assets/demo-curves.png"


def public_names(module_name: str) -> list[str]:
    """The public names of a module: its ``__all__`` (modules and ``__version__`` left out:
    submodules have pages of their own); else the classes and functions defined in it."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", "").startswith(module_name)
        ]
    return sorted(
        name for name in dict.fromkeys(names)
        if not name.startswith("_") and not isinstance(getattr(module, name, None), types.ModuleType)
    )


def api_block(module_name: str) -> str:
    """The mkdocstrings block for a module's public names, in three parts: the names
    documented in place; functions whose name is also a submodule's (``danlu.losses.hinge``),
    documented from where they are defined; and aliases (``AvgPool2D`` for
    ``AveragePooling2D``), listed with a link to the object they name."""
    module = importlib.import_module(module_name)
    members, shadowed, aliases = [], [], []
    for name in public_names(module_name):
        value = getattr(module, name)
        own_name = getattr(value, "__name__", name) if callable(value) else name
        if own_name != name and own_name in vars(module):
            aliases.append((name, own_name))
        elif hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}") is not None:
            shadowed.append(f"{value.__module__}.{name}")
        else:
            members.append(name)
    listed = "\n".join(f"        - {name}" for name in members)
    text = f"::: {module_name}\n    options:\n      show_root_heading: false\n      members:\n{listed}\n"
    for path in shadowed:
        text += f"\n::: {path}\n    options:\n      heading_level: 3\n"
    if aliases:
        text += "\n## Aliases\n\n| name | is |\n| --- | --- |\n"
        text += "".join(
            f'| <span id="{module_name}.{alias}"></span>`{module_name}.{alias}` | [`{target}`][{module_name}.{target}] |\n'
            for alias, target in aliases
        )
    return text


def on_page_markdown(markdown, page, config, files):
    return API_LINE.sub(lambda match: api_block(match.group(1)), markdown)


def demo_curves_png() -> bytes:
    """The demo's training curves, drawn from the committed logs with `History.plot`."""
    import matplotlib

    matplotlib.use("Agg")
    from danlu.callbacks import History

    with open(HISTORY) as file:
        logged = json.load(file)
    history = History()
    history.epoch, history.history = logged["epoch"], logged["history"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "curves.png")
        figure = history.plot(path)
        import matplotlib.pyplot as plt

        plt.close(figure)
        with open(path, "rb") as file:
            return file.read()


def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, CURVES, content=demo_curves_png()))
    return files
