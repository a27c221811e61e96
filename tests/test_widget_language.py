"""The last English words of the Spanish lessons' figures: the widget's static picture (show_reading's PNG, what a
notebook without widgets shows) speaks the widget's language, with Fashion-MNIST's Spanish class names from their
one home in Python (rowrnn.datasets' table, pinned here to web/i18n.js's and to the lessons' CLASES);
reading_figure passes language on to plot_reading; plot_original's note says the run's S x S; and plot_reading
titles the image with both what it is and the expected class."""
import ast
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rowrnn  # noqa: E402
from rowrnn import datasets, inference, plots, widget  # noqa: E402
from rowrnn.config import ModelConfig  # noqa: E402
from rowrnn.constants import CLASSES  # noqa: E402
from rowrnn.errors import RowrnnError  # noqa: E402
from rowrnn.models import build_model  # noqa: E402
from test_plot_language import ENGLISH_ONLY, texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
from lessons import common  # noqa: E402

SPANISH = ("Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo", "Sandalia", "Camisa", "Zapatilla", "Bolso",
           "Botín")
IMAGE = (np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def models():
    """A rows GRU and a CNN, bare (Fashion-MNIST's 10 classes), seeded."""
    torch.manual_seed(0)
    return (build_model(ModelConfig(cell="gru", hidden_size=4)),
            build_model(ModelConfig(arch="cnn", hidden_size=4, num_layers=1)))


# ----------------------------------------------------------------------------- the one home of the Spanish names

def i18n_class_names() -> dict:
    """web/i18n.js's CLASS_NAMES, read from the file: {"en": [...], "es": [...]}."""
    source = (ROOT / "src/rowrnn/web/i18n.js").read_text(encoding="utf-8")
    block = re.search(r"export const CLASS_NAMES = \{(.*?)\};", source, re.S)[1]
    return {lang: json.loads(names) for lang, names in re.findall(r"(\w+): (\[[^\]]*\])", block)}


def test_fashion_mnists_spanish_names_are_the_pages_and_the_lessons():
    assert datasets.TABLE["fashion-mnist"].classes_es == SPANISH
    assert i18n_class_names() == {"en": list(CLASSES), "es": list(SPANISH)}
    lessons = {}
    exec(common.CLASES, lessons)                   # the line of code a Spanish lesson's cell starts with
    assert tuple(lessons["CLASES"]) == SPANISH


def test_class_names_in_translates_fashion_mnist_only():
    assert datasets.class_names_in(CLASSES, "es") == SPANISH
    assert datasets.class_names_in(list(CLASSES), " ES ") == SPANISH          # any case, any sequence
    assert datasets.class_names_in(CLASSES) == datasets.class_names_in(CLASSES, "en") == CLASSES
    for name in ("mnist", "kmnist", "emnist-letters", "emnist-balanced"):      # no Spanish names: as given
        assert datasets.TABLE[name].classes_es == ()
        assert datasets.class_names_in(datasets.TABLE[name].classes, "es") == datasets.TABLE[name].classes
    folder = ("Ankle boot", "Coat")                                            # an image folder's: as given
    assert datasets.class_names_in(folder, "es") == folder
    assert datasets.class_names_in(CLASSES[::-1], "es") == CLASSES[::-1]       # not Fashion-MNIST's order


@pytest.mark.parametrize("language", ["fr", "spanish", "", None, 1])
def test_class_names_in_refuses_another_language_naming_it(language):
    with pytest.raises(RowrnnError) as caught:
        datasets.class_names_in(CLASSES, language)
    assert str(caught.value) == f"language must be one of en, es, got {language!r}"


# ----------------------------------------------------------------------------- the widget's static picture

ENGLISH_CLASSES = set(CLASSES) - set(SPANISH)


def english_in(all_texts: list[str]) -> set:
    """English words of plots.WORDS, and Fashion-MNIST's English class names, found in the texts."""
    words = {w for t in all_texts for w in re.findall(r"[^\W\d_]+", t) if w.lower() in ENGLISH_ONLY}
    return words | {c for t in all_texts for c in ENGLISH_CLASSES if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", t)}


def test_the_static_picture_in_spanish_has_spanish_words_and_class_names(models, tmp_path):
    rnn, cnn = models
    loaded = widget.load_models([rnn, cnn])
    for entry, name in zip(loaded, ("tiny", "cnn")):       # run names (a bare model's name holds its --read)
        entry["name"] = name
    image = torch.from_numpy(IMAGE)
    english = widget.reading_figures(loaded, image, label=9)
    spanish = widget.reading_figures(loaded, image, label=9, language="es")
    assert [f._suptitle.get_text() for f in english] == ["tiny · Expected: Ankle boot", "cnn · Expected: Ankle boot"]
    assert [f._suptitle.get_text() for f in spanish] == ["tiny · Esperada: Botín", "cnn · Esperada: Botín"]
    reading_fig, cnn_fig = spanish
    heat = reading_fig.axes[2]
    assert [t.get_text() for t in heat.get_xticklabels()] == list(SPANISH)
    assert heat.get_ylabel() == "filas leídas"
    assert re.fullmatch(r"Predicción tras cada paso: al final, (.+) \(\d+%\)", heat.get_title())[1] in SPANISH
    assert reading_fig.axes[1].get_title() == "Qué pasos decidieron (oclusión)"
    assert re.fullmatch(r"atribución a (.+) \(logit\)", reading_fig.axes[3].get_ylabel())[1] in SPANISH
    bars = cnn_fig.axes[1]
    assert [t.get_text() for t in bars.get_yticklabels()] == list(SPANISH)
    assert bars.get_xlabel() == "probabilidad"
    with torch.no_grad():
        probs = loaded[1]["model"](rowrnn.pixels.model_input(image, single=True))[0].softmax(-1)   # eval mode
    assert bars.get_title() == (f"Una CNN lee la imagen entera de una vez: {SPANISH[int(probs.argmax())]} "
                                f"({float(probs.max()):.0%})")
    for fig in spanish:
        assert english_in(texts(fig)) == set(), fig._suptitle.get_text()
    assert english_in(texts(english[1])) >= {"Ankle boot", "probability", "reads"}     # the check can fail


def test_show_reading_draws_its_png_in_its_language_and_again_when_it_changes(models, monkeypatch):
    rnn, cnn = models
    drawn = []
    real = widget._png
    monkeypatch.setattr(widget, "_png", lambda fig: drawn.append(texts(fig)) or real(fig))
    view = rowrnn.show_reading([rnn, cnn], IMAGE, language="es")
    spanish_png = view.png()
    assert view.png() is spanish_png and len(drawn) == 2                  # made once per language
    for all_texts, name in zip(drawn, ("RNNClassifier (gru, rows)", "CNNClassifier")):
        assert name in all_texts                                          # no label: the name alone
        assert english_in([t for t in all_texts if t != name]) == set()
        assert {"Jersey", "Botín"} <= set(all_texts)
    view.language = "EN"
    assert view.png() != spanish_png and len(drawn) == 4
    assert "Ankle boot" in drawn[2] and "probability" in drawn[3]
    view.language = "es"
    assert view.png() is spanish_png and len(drawn) == 4


def test_another_datasets_names_are_drawn_as_given_in_spanish(models):
    rnn = build_model(ModelConfig(cell="gru", hidden_size=4))
    rnn.classes = tuple("0123456789")                                     # a digits run's (rowrnn.load_model)
    [fig] = widget.reading_figures(widget.load_models(rnn), torch.from_numpy(IMAGE), label=3, language="es")
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == list("0123456789")
    assert fig._suptitle.get_text().endswith(" · Esperada: 3")


def test_the_static_picture_refuses_another_language_naming_it(models):
    with pytest.raises(RowrnnError, match=r"^language must be one of en, es, got 'fr'$"):
        widget.reading_figure_png(widget.load_models(models[0]), torch.from_numpy(IMAGE), language="fr")


# ----------------------------------------------------------------------------- reading_figure and plot_reading

def test_reading_figure_passes_language_and_labels_on(models):
    rnn = models[0]
    fig = inference.reading_figure(rnn, IMAGE[None], [np.zeros((5, 4, 3), np.uint8)], labels=[9], language="Es")
    assert [a.get_title() for a in fig.axes[:3]] == ["original", "la imagen de 28x28 que vio la red\nEsperada: Botín",
                                                     "Qué pasos decidieron (oclusión)"]
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == list(SPANISH)
    fig = inference.reading_figure(rnn, IMAGE[None])                      # English by default, as before
    assert [a.get_title() for a in fig.axes[:2]] == ["", "Which steps decided (occlusion)"]
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == list(CLASSES)
    before = plt.get_fignums()
    with pytest.raises(RowrnnError, match=r"^language must be one of en, es, got 'de'$"):
        inference.reading_figure(rnn, IMAGE[None], language="de")
    assert plt.get_fignums() == before


@pytest.mark.parametrize("language, saw, expected", [
    ("en", "the 28x28 the network saw", "Expected: k3"),
    ("es", "la imagen de 28x28 que vio la red", "Esperada: k3")])
def test_plot_reading_titles_the_image_with_what_it_is_and_the_expected_class(language, saw, expected):
    names = [f"k{i}" for i in range(10)]
    probs = np.full((1, 28, 10), 0.1)
    picture = [np.zeros((6, 5, 3), np.uint8)]
    both = plots.plot_reading(np.zeros((1, 28, 28)), probs, names, labels=[3], originals=picture, language=language)
    assert both.axes[1].get_title() == f"{saw}\n{expected}"
    only_label = plots.plot_reading(np.zeros((1, 28, 28)), probs, names, labels=[3], language=language)
    assert only_label.axes[0].get_title() == expected
    only_original = plots.plot_reading(np.zeros((1, 28, 28)), probs, names, originals=picture, language=language)
    assert only_original.axes[1].get_title() == saw


@pytest.mark.parametrize("side", [28, 32, 16])
def test_the_empty_original_panel_says_the_runs_image_size(side):
    fig, axes = plt.subplots(1, 2)
    plots.plot_original(axes[0], None, image_size=side)
    plots.plot_original(axes[1], None, image_size=side, language="es")
    assert [ax.texts[0].get_text() for ax in axes] == [f"a test image:\nalready {side}x{side}",
                                                       f"una imagen de test:\nya es de {side}x{side}"]
    fig = plots.plot_reading(np.zeros((2, side, side)), np.full((2, side, 10), 0.1), originals=[None, None],
                             language="es")
    assert [ax.texts[0].get_text() for ax in fig.axes[0:6:3]] == [f"una imagen de test:\nya es de {side}x{side}"] * 2
    assert fig.axes[1].get_title() == f"la imagen de {side}x{side} que vio la red"


def test_plot_originals_default_is_fashion_mnists_28():
    fig, ax = plt.subplots()
    plots.plot_original(ax, None)
    assert ax.texts[0].get_text() == "a test image:\nalready 28x28"


def test_the_lessons_widget_call_asks_for_spanish():
    """Lesson 01's Spanish cell calls show_reading(..., language="es"): its static picture is now Spanish too."""
    sys.path.insert(0, str(ROOT / "notebooks"))
    import build
    calls = [node for cell in build.build("01", "es").cells if cell.cell_type == "code"
             for node in ast.walk(ast.parse("\n".join(line for line in cell.source.splitlines()
                                                      if not line.lstrip().startswith(("%", "!")))))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "show_reading"]
    assert [{k.arg: ast.literal_eval(k.value) for k in c.keywords} for c in calls] == [{"language": "es"}]


def test_the_text_line_beside_the_picture_is_in_the_widgets_language(models):
    rnn, cnn = models
    view = rowrnn.show_reading([rnn, cnn], IMAGE, language="es", step=5)
    tops = [run["reading"]["top"][0] for run in view.runs]
    answers = [f"{SPANISH[CLASSES.index(top['class'])]} {100 * top['probability']:.1f}%" for top in tops]
    assert view.summary() == (f"lectura de rowrnn de una imagen en el paso 5 de 28 — RNNClassifier (gru, rows): "
                              f"{answers[0]}; CNNClassifier: {answers[1]}")
    view.index = 3
    view.language = "en"
    assert view.summary() == (f"rowrnn reading of test image 3 at step 5 of 28 — RNNClassifier (gru, rows): "
                              f"{tops[0]['class']} {100 * tops[0]['probability']:.1f}%; CNNClassifier: "
                              f"{tops[1]['class']} {100 * tops[1]['probability']:.1f}%")
    assert widget.SUMMARY["en"].keys() == widget.SUMMARY["es"].keys()
