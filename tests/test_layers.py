"""The package's layers, read from every module's imports with `ast` (docs/design.md draws them):
a layer imports only itself and the layers below it; only tbptt_viz/ui (and app.py) import streamlit;
no private `_name` is imported from another module."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tbptt_viz"
# Lowest first: each may import the ones before it.
LAYERS = ("core", "gradients", "attribution", "experiments", "present", "serving", "export", "cli", "ui")
MODULES = sorted(PACKAGE.rglob("*.py"))
FILES = [*MODULES, ROOT / "app.py"]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)  # a package's __init__ keeps its name


def layer_of(module: str) -> str | None:
    """The layer of a tbptt_viz module; None outside the layers (the package root re-exports public names)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "tbptt_viz" and len(parts) > 1 and parts[1] in LAYERS else None


def imports(source: str, here: str) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every import, at the top or inside a function. `here`: the
    importing module (a package's __init__ as "pkg.__init__"), to resolve relative imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # level 1 is the package holding `here`
                base = here.split(".")[: -node.level]
                module = ".".join(base + ([module] if module else []))
            found += [(module, a.name, node.lineno) for a in node.names]
    return found


def upward_imports(source: str, here: str) -> list[str]:
    mine = layer_of(here)
    if mine is None:
        return []
    bad = []
    for module, name, line in imports(source, here):
        theirs = layer_of(module if name is None else f"{module}.{name}") or layer_of(module)
        if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
            bad.append(f"line {line}: {mine} imports {module}{'.' + name if name else ''} ({theirs})")
    return bad


def streamlit_imports(source: str, here: str) -> list[str]:
    return [f"line {line}: imports {module}" for module, _, line in imports(source, here)
            if module.split(".")[0] == "streamlit"]


def private_crossings(source: str, here: str) -> list[str]:
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    bad, modules = [], set()  # local names of tbptt_viz modules: `from tbptt_viz.x import y`, `import ... as y`
    for module, name, line in imports(source, here):
        if module.startswith("tbptt_viz"):
            if name is not None and private(name):
                bad.append(f"line {line}: imports {name} from {module}")
            modules.add(name or module.split(".")[-1])
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules \
                and private(node.attr):
            bad.append(f"line {node.lineno}: reads {node.value.id}.{node.attr}")
    return bad


def test_the_layers_cover_every_subpackage():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(LAYERS), "add the new subpackage to LAYERS and to docs/design.md"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_a_layer_never_imports_a_higher_one(path):
    assert not upward_imports(path.read_text(), module_name(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_ui_imports_streamlit(path):
    if path != ROOT / "app.py" and PACKAGE / "ui" not in path.parents:
        assert not streamlit_imports(path.read_text(), module_name(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module(path):
    assert not private_crossings(path.read_text(), module_name(path))


def test_the_checks_catch_what_they_forbid():
    bad = ("import streamlit as st\nfrom tbptt_viz.ui import services\nfrom tbptt_viz.gradients.flow import _x\n"
           "from tbptt_viz.gradients import flow\n\ndef f():\n    from ..present import figures\n    return flow._y\n")
    assert [b.split(":")[0] for b in upward_imports(bad, "tbptt_viz.gradients.probe")] == ["line 2", "line 7"]
    assert len(upward_imports(bad, "tbptt_viz.core.probe")) == 4  # core may import nothing above it
    assert upward_imports(bad, "tbptt_viz.ui.probe") == [] and upward_imports(bad, "tbptt_viz.__init__") == []
    assert streamlit_imports(bad, "x") == ["line 1: imports streamlit"]
    assert private_crossings(bad, "tbptt_viz.core.probe") == ["line 3: imports _x from tbptt_viz.gradients.flow",
                                                              "line 8: reads flow._y"]
