"""The figures speak the reader's language: every public plotting function of rowrnn.plots draws its words from
plots.WORDS in English or Spanish (language="en"|"es", as show_reading takes it), class and preset names as given;
and every Spanish lesson asks for Spanish figures."""
import ast
import inspect
import re
import string
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from rowrnn import plots  # noqa: E402
from rowrnn.errors import RowrnnError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402

EN, ES = plots.WORDS["en"], plots.WORDS["es"]
NAMES = [f"k{i}" for i in range(10)]                 # the caller's class names: drawn as given, in both languages


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- the figures, with small inputs

def _reading(language, **extra):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=(2, 28))                  # (N=2, T=28, C=10)
    return plots.plot_reading(rng.integers(0, 255, (2, 28, 28)), probs, NAMES,
                              originals=[None, rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)],
                              attributions=rng.normal(size=(2, 1, 28)), targets=[3, 4], language=language, **extra)


def _attribution(read, rows_per_step=1, **extra):
    def draw(language):
        T = 28 * 28 if "pixels" in read else 28 // rows_per_step
        R = 2 if read == "rows+columns" else 1
        scores = np.linspace(-1, 1, R * T).reshape(R, T)
        permutation = np.random.default_rng(0).permutation(784) if read == "permuted-pixels" else None
        return plots.plot_attribution(np.arange(784, dtype=np.uint8).reshape(28, 28) % 255, scores, read=read,
                                      rows_per_step=rows_per_step, permutation=permutation, classes=NAMES,
                                      language=language, **extra)
    return draw


def _original(language):
    fig, (left, right) = plt.subplots(1, 2)
    plots.plot_original(left, None, language=language)
    plots.plot_original(right, np.zeros((10, 12, 3), dtype=np.uint8), language=language)
    return fig


SUMMARY = [{"preset": "gru-a", "test_accuracy": 0.9, "test_accuracy_each": [0.89, 0.91],
            "best_val_metric": 0.91, "best_val_metric_each": [0.9, 0.92], "train_minutes_each": [1.0, 2.0]},
           {"preset": "lstm-b", "test_accuracy": 0.85, "test_accuracy_each": [0.85], "best_val_metric": 0.86,
            "best_val_metric_each": [0.86], "train_minutes_each": [0.5]}]
ROWS = [{"preset": "gru-a", "train_minutes": 1.0, "test_accuracy": 0.89},
        {"preset": "gru-a", "train_minutes": 2.0, "test_accuracy": 0.91},
        {"preset": "lstm-b", "train_minutes": 0.5, "test_accuracy": 0.85}]
CONFUSION = np.diag([5] * 10)
CONFUSION[9] = 0                                                         # a class with no images: n/a, (no images)
CONFUSION[1, 0] = 2

# name -> (function drawn, keys of WORDS its figure must show)
CASES = {
    "plot_curves": (lambda lang: plots.plot_curves(
        {"train_loss": [2.0, 1.0], "val_loss": [2.1, 1.2], "train_metric": [0.3, 0.6], "val_metric": [0.3, 0.5]},
        language=lang), {"epoch", "curves_y", "curves_title", "train_loss", "val_loss", "train_metric", "val_metric"}),
    "plot_predictions": (lambda lang: plots.plot_predictions(np.zeros((3, 28, 28)), [0, 1, 2], [0, 2, 2], NAMES,
                                                             columns=2, language=lang), {"expected_predicted"}),
    "plot_confusion": (lambda lang: plots.plot_confusion(CONFUSION, NAMES, language=lang),
                       {"predicted_axis", "expected_axis", "not_available", "no_images", "confusion_title",
                        "fraction_expected"}),
    "plot_reading": (_reading, {"decided", "attribution_to", "logit", "network_saw", "read_rows", "guess",
                                "probability", "test_image", "original", "pixel_column", "pixel_row",
                                "method_occlusion"}),
    "plot_reading/integrated-gradients, pixels": (
        lambda lang: plots.plot_reading(np.zeros((1, 28, 28)), np.full((1, 28, 10), 0.1), NAMES, read="pixels",
                                        total_steps=784, attributions=np.ones((1, 1, 784)),
                                        attribution_method="integrated-gradients", language=lang),
        {"read_pixels", "method_integrated-gradients", "decided", "attribution_to", "guess"}),
    "plot_reading/columns": (lambda lang: plots.plot_reading(np.zeros((1, 28, 28)), np.full((1, 28, 10), 0.1), NAMES,
                                                             read="columns", labels=[7], language=lang),
                             {"read_columns", "expected"}),
    "plot_reading/rows+columns": (lambda lang: plots.plot_reading(np.zeros((1, 28, 28)), np.full((1, 14, 10), 0.1),
                                                                  NAMES, read="rows+columns", language=lang),
                                  {"read_rows+columns"}),
    "plot_original": (_original, {"test_image", "original"}),
    "plot_attribution/rows": (_attribution("rows", 2, target=3, label=4),
                              {"decided_expected", "attribution_to", "logit", "step", "method_occlusion"}),
    "plot_attribution/columns": (_attribution("columns", method="integrated-gradients"),
                                 {"decided", "attribution", "logit", "step", "method_integrated-gradients"}),
    "plot_attribution/rows+columns": (_attribution("rows+columns", target=1),
                                      {"decided", "attribution_to", "step_rows", "step_columns"}),
    "plot_attribution/pixels": (_attribution("pixels", target=1, label=2),
                                {"decided_expected", "each_pixel", "pixel_row", "pixel_column", "attribution_to"}),
    "plot_attribution/permuted-pixels": (_attribution("permuted-pixels"), {"decided", "each_pixel", "attribution"}),
    "plot_hidden_states": (lambda lang: plots.plot_hidden_states(np.zeros((28, 28)), np.linspace(-1, 1, 28 * 8)
                                                                 .reshape(28, 8), label=5, classes=NAMES,
                                                                 language=lang),
                           {"expected", "hidden_unit", "step_t", "read_rows", "hidden_title", "activation"}),
    "plot_hidden_states/pixels": (lambda lang: plots.plot_hidden_states(np.zeros((28, 28)), np.ones((784, 4)),
                                                                        read="pixels", language=lang),
                                  {"step_t", "read_pixels"}),
    "plot_leaderboard": (lambda lang: plots.plot_leaderboard(SUMMARY, {"ref-x": 0.8}, language=lang),
                         {"leaderboard_x", "leaderboard_title"}),
    "plot_accuracy_vs_minutes": (lambda lang: plots.plot_accuracy_vs_minutes(ROWS, language=lang),
                                 {"pareto", "minutes_x", "test_accuracy", "minutes_title"}),
    "plot_pareto_presets": (lambda lang: plots.plot_pareto_presets(SUMMARY, language=lang),
                            {"mean_test_accuracy", "one_seed", "seeds", "pareto_presets", "minutes_x_seeds",
                             "presets_title"}),
    "plot_pareto_presets/best_val_metric": (
        lambda lang: plots.plot_pareto_presets(SUMMARY, "best_val_metric", language=lang), {"mean_best_val_metric"}),
}
PUBLIC_PLOTS = sorted(n for n, f in vars(plots).items()
                      if n.startswith("plot_") and inspect.isfunction(f) and f.__module__ == plots.__name__)


def texts(fig) -> list[str]:
    """Every non-empty text drawn on fig: titles, suptitle, axis and colour-bar labels, tick labels, legends,
    ax.texts and annotations (drawn first, so automatic tick labels exist); a log axis's mathtext numbers
    ("$\\mathdefault{10^{0}}$") are numbers, not words."""
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip() and not t.get_text().startswith("$")]


def fields(template: str) -> list[str]:
    return sorted(f for _, f, _, _ in string.Formatter().parse(template) if f is not None)


def pattern(template: str) -> re.Pattern:
    """A template as a regex: its words literal, each {field} any text."""
    parts = re.split(r"\{[^}]*\}", template.replace("{{", "{").replace("}}", "}"))
    return re.compile(".+?".join(re.escape(p) for p in parts), re.S)


def shown(all_texts: list[str], table: dict) -> set[str]:
    """The keys of table whose template occurs in one of the figure's texts."""
    return {key for key, template in table.items() if any(pattern(template).search(t) for t in all_texts)}


def vocabulary(table: dict) -> set[str]:
    return {w.lower() for template in table.values() for w in re.findall(r"[^\W\d_]+", re.sub(r"\{[^}]*\}", " ",
                                                                                               template))}


ENGLISH_ONLY = vocabulary(EN) - vocabulary(ES)        # "expected", "step", "read", ... not "logit", "h", "x"


# ----------------------------------------------------------------------------- the table

def test_the_two_tables_say_the_same_things():
    """Same keys, the same {fields} in each template, and every entry translated (only words that are the same
    in Spanish are equal: the ones listed here)."""
    assert EN.keys() == ES.keys()
    assert {k: fields(v) for k, v in EN.items()} == {k: fields(v) for k, v in ES.items()}
    assert sorted(k for k in EN if EN[k] == ES[k]) == ["logit", "original"]
    assert {"expected", "predicted", "step", "read", "accuracy", "images", "probability", "the"} <= ENGLISH_ONLY


def test_every_public_plotting_function_is_tested_here_and_takes_language_en_by_default():
    assert sorted({name.split("/")[0] for name in CASES}) == PUBLIC_PLOTS
    assert PUBLIC_PLOTS == ["plot_accuracy_vs_minutes", "plot_attribution", "plot_confusion", "plot_curves",
                            "plot_hidden_states", "plot_leaderboard", "plot_original", "plot_pareto_presets",
                            "plot_predictions", "plot_reading"]
    for name in PUBLIC_PLOTS:
        parameter = inspect.signature(getattr(plots, name)).parameters["language"]
        assert (parameter.default, parameter.kind) == ("en", inspect.Parameter.KEYWORD_ONLY), name
        assert 'language: "en" (default) or "es"' in " ".join(getattr(plots, name).__doc__.split()), name


# ----------------------------------------------------------------------------- each figure in both languages

@pytest.mark.parametrize("name", CASES)
def test_the_spanish_figure_has_the_spanish_words_and_none_of_the_english(name):
    draw, keys = CASES[name]
    english, spanish = texts(draw("en")), texts(draw("es"))
    assert keys <= shown(english, EN), f"{name}: English figure lacks {keys - shown(english, EN)}"
    assert keys <= shown(spanish, ES), f"{name}: Spanish figure lacks {keys - shown(spanish, ES)}"
    assert shown(spanish, ES) == shown(english, EN)                 # the same things said, word for word
    leaks = {(w, t) for t in spanish for w in re.findall(r"[^\W\d_]+", t) if w.lower() in ENGLISH_ONLY}
    assert not leaks, f"{name}: English words in the Spanish figure"
    english_templates = {k for k in EN if EN[k] != ES[k] and vocabulary({k: EN[k]}) & ENGLISH_ONLY}
    assert not shown(spanish, {k: EN[k] for k in english_templates})
    # the caller's names are drawn as given in both, and as many texts are drawn
    assert [t for t in english if t in NAMES] == [t for t in spanish if t in NAMES]
    assert len(english) == len(spanish)


def test_spanish_words_in_place():
    """Exact texts, where a learner reads them."""
    ax = plots.plot_predictions(np.zeros((2, 28, 28)), [0, 1], [0, 2], NAMES, language="es").axes[1]
    assert ax.get_title() == "Esperada: k1\nPredicha: k2"
    ax = plots.plot_confusion(CONFUSION, NAMES, language="es").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicha", "Esperada")
    assert ax.get_title() == "Matriz de confusión (47 imágenes, exactitud 0.957)"
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "k9 (sin imágenes)"
    assert [t.get_text() for t in ax.texts][-10:] == ["n/d"] * 10
    assert fig_colorbar_label(ax.figure) == "fracción de la clase esperada"
    fig = plots.plot_reading(np.zeros((1, 28, 28)), np.eye(10)[[3] * 28][None], NAMES, labels=[3],
                             attributions=np.ones((1, 1, 28)), language="ES")          # any case, as show_reading
    assert [a.get_title() for a in fig.axes[:3]] == ["Esperada: k3", "Qué pasos decidieron (oclusión)",
                                                     "Predicción tras cada paso: al final, k3 (100%)"]
    assert [a.get_ylabel() for a in fig.axes[3:]] == ["atribución a k3 (logit)", "probabilidad"]
    assert fig.axes[2].get_ylabel() == "filas leídas"
    fig = plots.plot_hidden_states(np.zeros((28, 28)), np.ones((28, 8)), read="rows+columns", language="es")
    assert fig.axes[1].get_ylabel() == "paso t (filas y columnas leídas)"
    assert fig.axes[1].get_title() == "Estado oculto h_t durante la lectura (28 pasos)"
    ax = plots.plot_curves({"val_loss": [1.0, 0.5]}, language="es").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pérdida (validación)"]
    assert ax.get_xlabel() == "Época"
    ax = plots.plot_pareto_presets(SUMMARY, language="es").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Frente de Pareto de los presets",
                                                                   "gru-a (2 semillas)", "lstm-b (1 semilla)"]


def fig_colorbar_label(fig) -> str:
    return fig.axes[-1].get_ylabel()


def test_english_stays_as_it_was():
    """The default draws the words the figures always had (other tests and the docs quote them)."""
    ax = plots.plot_attribution(np.zeros((28, 28), np.uint8), np.ones(28), target=1, label=2, classes=NAMES).axes[1]
    assert ax.figure._suptitle.get_text() == "Which steps decided (occlusion) -- expected: k2"
    assert ax.get_xlabel() == "attribution to k1 (logit)"
    fig = plots.plot_reading(np.zeros((1, 28, 28)), np.full((1, 28, 10), 0.1), NAMES, read="pixels", total_steps=784)
    assert fig.axes[1].get_ylabel() == "pixels read"
    ax = plots.plot_pareto_presets(SUMMARY).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Pareto front of the presets", "gru-a (2 seeds)",
                                                                   "lstm-b (1 seed)"]


# ----------------------------------------------------------------------------- a language that is not one

@pytest.mark.parametrize("name", PUBLIC_PLOTS)
@pytest.mark.parametrize("language", ["fr", "spanish", "", None, 1])
def test_an_unknown_language_is_one_line_naming_the_argument_and_draws_nothing(name, language):
    draw = next(d for case, (d, _) in CASES.items() if case.split("/")[0] == name)
    before = plt.get_fignums()
    with pytest.raises(RowrnnError) as caught:
        draw(language)
    assert str(caught.value) == f"language must be one of en, es, got {language!r}"
    if name != "plot_original":                  # its Axes are the caller's figure, made before the call
        assert plt.get_fignums() == before


def test_a_wrong_accuracy_is_one_line_naming_it():
    with pytest.raises(RowrnnError, match=r"^accuracy must be one of test_accuracy, best_val_metric, got 'val'$"):
        plots.plot_pareto_presets(SUMMARY, "val")


# ----------------------------------------------------------------------------- the lessons

def plot_calls(source: str):
    """(function name, language keyword's value or None, line) of every call of a public rowrnn plot in a code
    cell's source (IPython's %magic lines left out)."""
    tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in PUBLIC_PLOTS:
                given = {k.arg: k.value for k in node.keywords}
                value = ast.literal_eval(given["language"]) if "language" in given else None
                yield name, value, node.lineno


def lesson_calls(key: str, lang: str):
    return [(cell.id, *call) for cell in build.build(key, lang).cells if cell.cell_type == "code"
            for call in plot_calls(cell.source)]


@pytest.mark.parametrize("key", build.NOTEBOOKS)
def test_every_plot_of_a_spanish_lesson_is_drawn_in_spanish(key):
    """Built from notebooks/lessons/ without running anything: each plot call of the Spanish notebook passes
    language="es"; the English notebook's the default; the same calls in both."""
    english, spanish = lesson_calls(key, "en"), lesson_calls(key, "es")
    assert spanish, f"lesson {key} draws no rowrnn plot"
    assert [(c, name) for c, name, _, _ in spanish] == [(c, name) for c, name, _, _ in english]
    assert [call for call in spanish if call[2] != "es"] == []
    assert [call for call in english if call[2] not in (None, "en")] == []


def test_the_lessons_plot_calls_are_found():
    """The finder itself: the calls of lesson 03 and 02, by name (a finder that found none would pass above)."""
    assert [name for _, name, _, _ in lesson_calls("03", "es")] == ["plot_leaderboard", "plot_accuracy_vs_minutes",
                                                                    "plot_confusion"]
    assert [name for _, name, _, _ in lesson_calls("02", "es")] == ["plot_hidden_states", "plot_attribution"]
    assert list(plot_calls('%matplotlib inline\nplots.plot_curves(h, language="es")\nplot_reading(x, p)')) == [
        ("plot_curves", "es", 2), ("plot_reading", None, 3)]
