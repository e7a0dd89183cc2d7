"""The package structure: imports go one way (no cycle), no package imports another's private
names, and the layering of STYLE.md holds:

    models -> trainer -> {callbacks, metrics, layers} -> {losses, optimizers, regularizers,
    initializers, activations} -> saving -> private utils (danlu/_*.py)

``distribute`` is a strategy object the trainer asks; ``mixed_precision`` holds the dtype
policies layers are built with (so it sits below them); ``constraints`` are what optimizers
apply after an update; ``utils`` and ``datasets`` are leaves users import. Lazy imports inside functions count like any other.
"""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "danlu"

#: Each unit and the level it sits at; an import may only go to a lower level (or its own unit).
LEVELS = {
    "__main__": 10, "danlu": 9,
    "models": 8,
    "distribute": 7.5,
    "trainer": 7,
    "callbacks": 6, "metrics": 6, "layers": 6,
    "mixed_precision": 5.5,
    "losses": 5, "optimizers": 5, "regularizers": 5, "initializers": 5, "activations": 5,
    "constraints": 4.8,
    "utils": 4.5, "datasets": 4.5,
    "saving": 4,
    "_private": 0,
}


def unit_of(module: str) -> str:
    """``danlu.trainer.loop`` -> ``trainer``; ``danlu._tensors`` -> ``_private``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "danlu"
    name = parts[1]
    return "_private" if name.startswith("_") and name != "__main__" else name


def modules():
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(path, module):
    """(imported module, imported name or None) for every import in the file."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def edges():
    found = []
    for module, path in modules():
        for target, name in imports(path, module):
            if not target.startswith("danlu"):
                continue
            if target == "danlu" and name is not None:  # from danlu import losses
                target = f"danlu.{name}"
                name = None
            found.append((module, target, name))
    return found


def test_every_unit_is_known():
    units = {unit_of(module) for module, _ in modules()}
    assert units <= set(LEVELS), sorted(units - set(LEVELS))


def test_imports_only_go_down_the_layers():
    wrong = []
    for module, target, _ in edges():
        source_unit, target_unit = unit_of(module), unit_of(target)
        if source_unit != target_unit and LEVELS[target_unit] >= LEVELS[source_unit]:
            wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_unit_graph_has_no_cycle():
    graph = {}
    for module, target, _ in edges():
        a, b = unit_of(module), unit_of(target)
        if a != b:
            graph.setdefault(a, set()).add(b)
    visiting, done = set(), set()

    def visit(node, path):
        assert node not in visiting, " -> ".join([*path, node])
        if node in done:
            return
        visiting.add(node)
        for nxt in graph.get(node, ()):
            visit(nxt, [*path, node])
        visiting.discard(node)
        done.add(node)

    for node in list(graph):
        visit(node, [])


def test_no_module_imports_a_private_name_from_another_unit():
    wrong = [
        f"{module} imports {name} from {target}"
        for module, target, name in edges()
        if name is not None and name.startswith("_") and unit_of(module) != unit_of(target)
    ]
    assert not wrong, "\n".join(wrong)
