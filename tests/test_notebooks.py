"""The lessons in notebooks/: built by notebooks/build.py from notebooks/lessons/, committed with their outputs, and each one run top
to bottom in a fresh kernel, in an empty directory (quick epochs unless ROWRNN_NOTEBOOKS=full)."""
import os
import sys
from pathlib import Path

import nbformat
import pytest

import rowrnn

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
    assert [c.id for c in defining] == ["01-07", "02-09", "03-09", "04-12"]
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


INSTALL_SAYS = {   # the one line the install cell prints when everything is there, in each language
    "en": f"rowrnn {rowrnn.__version__} found, with its notebooks extra: nothing to install\n",
    "es": f"rowrnn {rowrnn.__version__} encontrado, con su extra notebooks: nada que instalar\n",
}


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_committed_install_cell_says_in_one_line_what_it_did(key, lang):
    """The first code cell is the install cell, and its committed output is the one line it printed in the run
    that made the notebook's outputs (an environment with everything: nothing to install)."""
    nb = nbformat.read(build.path_of(key, lang), as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert cell.source == build.source_of(("code", build.common.INSTALL), lang, key)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == \
        [("stream", "stdout", INSTALL_SAYS[lang])]


def test_the_install_cell_pins_this_versions_tag_of_the_repository_in_pyproject():
    """Without rowrnn, the lessons install the release they were built with, never a branch that moves on."""
    import tomllib
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Source"]
    assert build.common.pinned_source() == f"git+{url}@v{rowrnn.__version__}"
    assert f'os.environ.get("ROWRNN_INSTALL_FROM") or "git+{url}@v{rowrnn.__version__}"' in build.common.INSTALL
    assert build.common.INSTALL.count("git+") == 1


def test_lesson_03_reads_the_leaderboard_shipped_with_the_package():
    source = "\n".join(c.source for c in build.build("03", "en").cells if c.cell_type == "code")
    assert "utils.compare.published_leaderboard()" in source
    assert "urllib" not in source and "RESULTS" not in source
    assert "http" not in source.replace(build.common.pinned_source(), "")   # only the install cell's pinned source


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
