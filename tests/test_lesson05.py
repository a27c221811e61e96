"""Lesson 05 (issue 28): scikit-learn's digits written as an image folder, a reader trained on it at 8x8, its
reading and its per-class table -- the committed notebooks show a real run of exactly that."""
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402

pytestmark = pytest.mark.notebooks


def _outputs(lang):
    nb = nbformat.read(build.path_of("05", lang), as_version=4)
    return nb, "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_lesson_05_uses_the_library_not_copies_of_it():
    source = "\n".join(c.source for c in build.build("05", "en").cells if c.cell_type == "code")
    for call in ("datasets.write_image_folder(images, digits.target, names, \"digits\")", "utils.fit(cfg)",
                 '"dataset": str(folder), "image_size": 8', "model.step_probabilities(", "utils.evaluate_run(",
                 "utils.plots.plot_reading(", "load_digits()"):
        assert call in source, call


@pytest.mark.parametrize("lang, words", [("en", ("steps", "pixels a step", "outputs", "test accuracy")),
                                         ("es", ("pasos", "píxeles por paso", "salidas", "exactitud en test"))])
def test_the_committed_run_reads_8_steps_of_8_pixels_and_learns(lang, words):
    nb, text = _outputs(lang)
    assert f"{words[0]}: 8, {words[1]}: 8, {words[2]}: 10" in text
    accuracy = float(re.search(words[3] + r": (0\.\d{4})", text)[1])
    assert accuracy > 0.9                                   # chance is 0.1; 359 test images
    assert re.search(r"359 (images|imágenes)", text)
    assert "['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']" in text
    rows = [line for line in text.splitlines() if re.match(r"^\d\s+[01]\.\d{3}\s+[01]\.\d{3}\s+[01]\.\d{3}\s+\d+$", line)]
    assert [int(r.split()[0]) for r in rows] == list(range(10))   # the per-class table: every digit once
    assert sum(int(r.split()[-1]) for r in rows) == 359
