"""docs/tutorial.ipynb from docs/tutorial.py (jupytext's percent format): the .py is the source, the notebook is
generated without outputs (CI executes it; tests/test_tutorial.py). jupytext reads and writes the same pair.

    python scripts/update_docs.py           # rewrites docs/tutorial.ipynb (with the other generated docs)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE, NOTEBOOK = ROOT / "docs" / "tutorial.py", ROOT / "docs" / "tutorial.ipynb"
CELL = re.compile(r"^# %%(.*)$")


def cells(text: str) -> list[tuple[str, str]]:
    """[(kind, source)] of a percent-format script: `# %%` starts a code cell, `# %% [markdown]` a Markdown one
    whose lines lose their leading '# '. The YAML header (between '# ---' lines) is jupytext's, not a cell."""
    lines = text.splitlines()
    if lines and lines[0] == "# ---":
        lines = lines[lines.index("# ---", 1) + 1:]
    out, kind, body = [], None, []
    for line in lines + ["# %% end"]:
        m = CELL.match(line)
        if not m:
            body.append(line)
            continue
        if kind is not None:
            if kind == "markdown":
                body = [re.sub(r"^# ?", "", b) for b in body]
            out.append((kind, "\n".join(body).strip("\n")))
        kind, body = ("markdown" if "[markdown]" in m.group(1) else "code"), []
    return out


def notebook(text: str) -> str:
    """The notebook's JSON (nbformat 4.5, no outputs, stable cell ids), as text."""
    nb_cells = []
    for i, (kind, source) in enumerate(cells(text)):
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    meta = {"jupytext": {"formats": "ipynb,py:percent"},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}
    return json.dumps({"cells": nb_cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}, indent=1,
                      ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(notebook(SOURCE.read_text()), end="")
