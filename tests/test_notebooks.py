"""The lessons in notebooks/: built by notebooks/build.py from notebooks/lessons/, committed with their outputs, and each one run top
to bottom in a fresh kernel, in an empty directory (quick epochs unless ROWRNN_NOTEBOOKS=full)."""
import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402

pytestmark = [pytest.mark.notebooks, pytest.mark.integration, pytest.mark.slow]
CASES = [(key, lang) for key in build.NOTEBOOKS for lang in build.LANGUAGES]
IDS = [build.path_of(key, lang).stem for key, lang in CASES]


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_committed_notebook_is_what_build_py_writes(key, lang):
    committed = nbformat.read(build.path_of(key, lang), as_version=4)
    built = build.build(key, lang)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], \
        "notebooks/lessons/ and the committed notebook differ: run python notebooks/build.py --execute"


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_committed_notebook_shows_the_outputs_of_a_run(key, lang):
    nb = nbformat.read(build.path_of(key, lang), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one go"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    warnings = [o.text for c in code for o in c.outputs if o.output_type == "stream" and "Warning" in o.text]
    assert not warnings, f"a learner would see warnings: {warnings}"
    assert sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {})) >= 2   # its figures


@pytest.mark.parametrize("key", list(build.NOTEBOOKS))
def test_each_spanish_code_cell_is_its_english_cell_translated_through_the_table(key):
    """Cell for cell, exactly, in the committed notebooks: a code change made in one language only, or a table
    entry that no longer matches, fails here."""
    en, es = (nbformat.read(build.path_of(key, lang), as_version=4) for lang in build.LANGUAGES)
    assert [c.cell_type for c in en.cells] == [c.cell_type for c in es.cells]
    table = build.table(key)
    for a, b in zip(en.cells, es.cells):
        if a.cell_type == "code":
            assert b.source == build.common.translate(a.source, table), f"cell {a.id}"
            assert a.metadata.get("tags") == b.metadata.get("tags")
            assert a.metadata.get("rowrnn") == b.metadata.get("rowrnn")


@pytest.mark.parametrize("key", list(build.NOTEBOOKS))
def test_every_entry_of_a_translation_table_translates_something(key):
    """An English fragment found in no code cell (the code changed, the table did not) would leave Spanish
    learners reading English: each entry must match a code cell of its lesson."""
    english = [cell[1] for cell in build.NOTEBOOKS[key].CELLS if cell[0] != "markdown"]
    unused = [en for en in build.table(key) if not any(en in source for source in english)]
    assert not unused, f"lesson {key}: no code cell holds {unused}"


def test_the_spanish_class_names_are_written_once():
    """One Spanish class list (lessons/common.py), the same in every notebook that shows class names."""
    defining = [c for key in build.NOTEBOOKS for c in build.build(key, "es").cells if "CLASES = [" in c.source]
    assert [c.id for c in defining] == ["01-07", "02-11", "03-09", "04-12"]
    assert all(build.common.CLASES in c.source for c in defining)
    content = "".join(p.read_text() for p in (ROOT / "notebooks").rglob("*.py"))
    assert content.count('"Camiseta/top"') == 1


def test_translate_replaces_in_the_tables_order():
    table = {"# as in the course: about 10 seconds": "# como en el curso: unos 10 segundos",
             "# as in the course": "# como en el curso", '"epochs"': '"épocas"'}
    source = 'A = 1  # as in the course: about 10 seconds\nB = 2  # as in the course\nprint("epochs", epochs)'
    assert build.common.translate(source, table) == ('A = 1  # como en el curso: unos 10 segundos\n'
                                                     'B = 2  # como en el curso\nprint("épocas", epochs)')


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_notebook_runs_top_to_bottom_in_a_fresh_kernel(key, lang, tmp_path, real_data):
    nb = build.build(key, lang)
    quick = os.environ.get("ROWRNN_NOTEBOOKS", "quick") != "full"
    done = build.execute(nb, tmp_path, quick=quick)   # raises on the first failing cell
    assert all(c.execution_count for c in done.cells if c.cell_type == "code")


def _installed_function() -> str:
    """The install cell's check, without its pip call: `def installed(...)` and nothing else."""
    source = build.common.INSTALL
    return source[source.index("def installed"):source.index("\nif not installed")]


@pytest.mark.parametrize("flags, modules, expected", [
    ([], ["rowrnn.compare", "rowrnn.plots", "pandas", "torchmetrics"], True),   # this environment: all there
    ([], ["rowrnn.compare", "no_such_extra_module"], False),                       # an extra's package missing
    (["-S"], ["rowrnn.compare"], False),                                           # rowrnn not installed at all
])
def test_the_install_cell_asks_for_an_installed_distribution_not_a_folder(tmp_path, flags, modules, expected):
    import subprocess
    clone = tmp_path / "rowrnn"                 # a git clone named rowrnn in the working directory
    (clone / "src" / "rowrnn").mkdir(parents=True)
    (clone / "README.md").write_text("a clone, not an installation")
    code = (f"import importlib.metadata, importlib.util, sys\n{_installed_function()}\n"
            f"print(installed({modules!r}), importlib.util.find_spec('rowrnn') is not None)")
    done = subprocess.run([sys.executable, *flags, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # the old check, find_spec("rowrnn"), is fooled by the folder: it always finds "a" rowrnn
    assert done.stdout.split() == [str(expected), "True"]


def test_lesson_03_reads_the_leaderboard_shipped_with_the_package():
    source = "\n".join(c.source for c in build.build("03", "en").cells if c.cell_type == "code")
    assert "utils.compare.published_leaderboard()" in source
    assert "urllib" not in source and "RESULTS" not in source and "http" not in source.replace(
        "git+https://github.com/rowrnn/rowrnn", "")


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_lesson_01_commits_the_widgets_static_picture(lang):
    """The committed lesson shows the reading widget's PNG (what GitHub and nbconvert can draw), not a live view
    that no kernel stands behind; running the cell brings the widget back."""
    nb = nbformat.read(build.path_of("01", lang), as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "utils.show_reading(" in c.source)
    data = [o.get("data", {}) for o in cell.outputs]
    assert any("image/png" in d for d in data) and any("text/plain" in d for d in data)
    assert not any(build.WIDGET_VIEW in d for d in data)
    assert "widgets" not in nb.metadata
