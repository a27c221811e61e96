"""The lessons in notebooks/: built from notebooks/build.py, committed with their outputs, and each one run top
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
        "notebooks/build.py and the committed notebook differ: run python notebooks/build.py --execute"


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_committed_notebook_shows_the_outputs_of_a_run(key, lang):
    nb = nbformat.read(build.path_of(key, lang), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one go"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    warnings = [o.text for c in code for o in c.outputs if o.output_type == "stream" and "Warning" in o.text]
    assert not warnings, f"a learner would see warnings: {warnings}"
    assert sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {})) >= 2   # its figures


def test_both_languages_have_the_same_cells():
    for key in build.NOTEBOOKS:
        en, es = (build.build(key, lang) for lang in build.LANGUAGES)
        assert [c.cell_type for c in en.cells] == [c.cell_type for c in es.cells]
        for a, b in zip(en.cells, es.cells):
            if a.cell_type == "code":  # the same code; only comments and printed words are translated
                assert len(a.source.splitlines()) == pytest.approx(len(b.source.splitlines()), abs=3)


@pytest.mark.parametrize("key, lang", CASES, ids=IDS)
def test_the_notebook_runs_top_to_bottom_in_a_fresh_kernel(key, lang, tmp_path, real_data):
    nb = build.build(key, lang)
    quick = os.environ.get("ROWRNN_NOTEBOOKS", "quick") != "full"
    done = build.execute(nb, tmp_path, quick=quick)   # raises on the first failing cell
    assert all(c.execution_count for c in done.cells if c.cell_type == "code")


def _installed_function() -> str:
    """The install cell's check, without its pip call: `def installed(...)` and nothing else."""
    source = build.INSTALL
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
