"""The lessons' builder: every notebook in English and Spanish, from the cells in notebooks/lessons/.

    python notebooks/build.py              # (re)write notebooks/en/*.ipynb and notebooks/es/*.ipynb, no outputs
    python notebooks/build.py --execute    # and run each top to bottom in a fresh kernel, keeping the outputs
    python notebooks/build.py --keep-outputs   # new sources, the committed outputs of cells whose output they keep
    python notebooks/build.py --keep-outputs --rerun-install   # and the install cell run again, alone

The content is in notebooks/lessons/ (01.py to 05.py; what they share in common.py): text in both
languages, each code cell once, in English, with a table that translates its comments, printed words and labels.
Each notebook has one cell of constants tagged "parameters" (its epochs). Quick runs
(CI: ROWRNN_NOTEBOOKS=quick) insert a cell right after it with the small values stored in that cell's
metadata, so a learner's code is never changed to make a test fast.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lessons import common  # noqa: E402

NOTEBOOKS = {key: importlib.import_module(f"lessons.{key}") for key in ("01", "02", "03", "04", "05")}
LANGUAGES = ("en", "es")
# rowrnn.show_reading's live view: without a kernel behind it (a committed notebook) it cannot draw, so the
# committed outputs keep the PNG and the text the same output carries; running the cell brings the widget back
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def table(key: str) -> dict:
    """The English -> Spanish table of lesson key's code cells: the shared fragments, then the lesson's own."""
    return {**common.SPANISH, **NOTEBOOKS[key].SPANISH}


def source_of(cell: tuple, lang: str, key: str) -> str:
    """The text of a lesson cell in lang: markdown as written in it, code translated from the English."""
    kind, text = cell[0], cell[1]
    if kind == "markdown":
        return text[lang]
    return text if lang == "en" else common.translate(text, table(key))


# ----------------------------------------------------------------------------- building and running

def path_of(key: str, lang: str) -> Path:
    return HERE / lang / f"{NOTEBOOKS[key].NAMES[lang]}.ipynb"


def build(key: str, lang: str):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    for cell in NOTEBOOKS[key].CELLS:
        text = source_of(cell, lang, key)
        if cell[0] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
            continue
        new = nbformat.v4.new_code_cell(text)
        if cell[0] == "parameters":
            new.metadata["tags"] = ["parameters"]
            new.metadata["rowrnn"] = {"quick": cell[2]}
        nb.cells.append(new)
    for i, cell in enumerate(nb.cells):  # stable ids, so rebuilding changes nothing
        cell.id = f"{key}-{i:02d}"
    return nb


def execute(nb, cwd: Path, quick: bool = False, overrides: dict | None = None, timeout: int = 1800):
    """Run nb top to bottom in a fresh kernel, in cwd; quick (or overrides) adds a cell after the parameters."""
    from nbclient import NotebookClient
    import nbformat
    nb = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    values = {**(nb.cells[index].metadata["rowrnn"]["quick"] if quick else {}), **(overrides or {})}
    if values:
        injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in values.items()))
        injected.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(index + 1, injected)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                   store_widget_state=False).execute()
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for cell in nb.cells:   # a widget's output keeps its static picture: what GitHub and nbconvert can show
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def keep_outputs(nb, committed) -> list[str]:
    """Copy committed's outputs and execution counts into nb, cell by cell (matched by id and kind);
    returns the ids of code cells whose source changed (their outputs are kept as they were)."""
    nb.metadata = committed.metadata      # the kernel's language_info of that run
    old = {c.id: c for c in committed.cells}
    changed = []
    for cell in nb.cells:
        before = old.get(cell.id)
        if cell.cell_type != "code" or before is None or before.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = before.outputs, before.execution_count
        if "execution" in before.metadata:   # the kernel's timings of that run
            cell.metadata["execution"] = before.metadata["execution"]
        if before.source != cell.source:
            changed.append(cell.id)
    return changed


def rerun_install(nb, lang: str, key: str, cwd: Path, timeout: int = 600):
    """Run nb's install cell (its first code cell, which needs no other) alone in a fresh kernel, in cwd, and
    put its outputs, execution count and timings in nb: after a change to that cell only."""
    from nbclient import NotebookClient
    import nbformat
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    assert nb.cells[index].source == source_of(("code", common.INSTALL), lang, key), "not the install cell"
    alone = nbformat.v4.new_notebook(cells=[copy.deepcopy(nb.cells[index])], metadata=copy.deepcopy(nb.metadata))
    NotebookClient(alone, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                   store_widget_state=False).execute()
    nb.cells[index] = alone.cells[0]


def main(argv=None) -> int:
    import nbformat
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run each notebook and keep its outputs")
    parser.add_argument("--only", default=None, help="comma-separated keys (01,02,03) or file stems")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep the committed notebook's outputs, cell by cell (same id and kind), for a change of "
                             "sources that changes no output (a comment, an import, where data comes from); the "
                             "cells whose code changed are listed: rerun with --execute if any output would differ")
    parser.add_argument("--rerun-install", action="store_true",
                        help="with --keep-outputs: run the install cell again, alone in a fresh kernel, and keep its "
                             "new output (the line that says what it installed)")
    args = parser.parse_args(argv)
    for key in NOTEBOOKS:
        for lang in LANGUAGES:
            path = path_of(key, lang)
            if args.only and key not in args.only.split(",") and path.stem not in args.only.split(","):
                continue
            nb = build(key, lang)
            if args.execute:
                print(f"running {path.relative_to(HERE)}", file=sys.stderr, flush=True)
                nb = execute(nb, path.parent)
            elif args.keep_outputs and path.exists():
                for cell_id in keep_outputs(nb, nbformat.read(path, as_version=4)):
                    rerun = args.rerun_install and cell_id == next(c.id for c in nb.cells if c.cell_type == "code")
                    print(f"{path.relative_to(HERE)}: cell {cell_id}: new code, "
                          + ("run again alone" if rerun else "its committed outputs kept"), file=sys.stderr)
                if args.rerun_install:
                    rerun_install(nb, lang, key, path.parent)
            path.parent.mkdir(exist_ok=True)
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sys.exit(main())
