"""`rowrnn.show_reading`: the page of `rowrnn serve`, as a widget inside Jupyter, Colab and VS Code.

    show_reading("runs/notebook", 3)                            # test image 3 of the run's test split
    view = show_reading([model, "runs/bilstm"], "shirt.jpg", language="es")
    view.step = 5                                               # the slider, from Python

The widget is an anywidget (https://anywidget.dev): its JavaScript is the page's own (web/render.js draws,
web/i18n.js words, web/widget.js lays out index.html's own panel and style.css, kept inside the widget), inlined
into one ES module by rowrnn.webassets.inline_modules, since a widget's module cannot import sibling files by URL.
Python sends each model's `reading.reading_view` and `reading.panel_info`, the same dicts the page gets. Where no widget can be drawn (a notebook on GitHub, nbconvert
without widget state) the output's static image is shown instead: a matplotlib figure of the same reading.
"""
from __future__ import annotations

import base64
import copy
import functools
import io
import os
import re
from pathlib import Path

import numpy as np
import torch

from . import reading, runs
from .constants import LANGUAGES, language_of, language_refusal  # noqa: F401  (LANGUAGES: rowrnn.widget's name)
from .datasets import (DEFAULT, DatasetInfo, class_names_in, conversion_words, dataset_of, picture_options,
                       prepare_picture)
from .errors import RowrnnError
from .models import CNNClassifier, RNNClassifier, class_names
from .pixels import check_value_range, display_pixels, model_dtype, model_input
from .webassets import inline_modules, scoped_css

WEB = Path(__file__).parent / "web"
MODULES = ("i18n.js", "render.js", "widget.js")      # what the widget's module is made of; widget.js imports the rest
ENTRY = "widget.js"
# the one line of text/plain beside the widget (ReadingWidget.summary), once per language; the figure's words
# are rowrnn.plots.WORDS
SUMMARY = {
    "en": {"line": "rowrnn reading of {what} at step {step} of {steps} — ", "test_image": "test image {index}",
           "image": "an image"},
    "es": {"line": "lectura de rowrnn de {what} en el paso {step} de {steps} — ",
           "test_image": "la imagen de test {index}", "image": "una imagen"},
}
FIGURE_DPI = 80                                       # the static fallback's resolution (a notebook output, not print)

def widget_css() -> str:
    """The widget's styles: the page's style.css kept inside the widget (scoped_css), then web/widget.css."""
    return (scoped_css((WEB / "style.css").read_text(encoding="utf-8"), ".rowrnn-reading")
            + (WEB / "widget.css").read_text(encoding="utf-8"))


def panel_template() -> str:
    """The page's panel (index.html's <template id="panel-template">), which the widget fills as the page does."""
    page = (WEB / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<template id="panel-template">(.*?)</template>', page, re.S)
    if not match:
        raise ValueError("web/index.html has no <template id=\"panel-template\">: the widget builds its panels from it")
    return match.group(1).strip()


@functools.cache
def widget_module() -> str:
    """The widget's ES module: web/widget.js with the page's render.js and i18n.js inlined (see inline_modules)."""
    return inline_modules({name: (WEB / name).read_text(encoding="utf-8") for name in MODULES}, ENTRY)


# ---------------------------------------------------------------------------------------------------------------
# What to read: models and an image, each bad argument one line naming it


def _run_name(path) -> str:
    run_dir, weights_path = runs.resolve_weights(path, "best")
    name = Path(run_dir).resolve().name
    return name if weights_path.stem == "best" else f"{name} ({weights_path.stem})"


def _recorded_accuracy(path, run) -> float | None:
    """The test accuracy a finished run recorded for its best weights; None for other weights or no record."""
    _, weights_path = runs.resolve_weights(path, "best")
    if weights_path.stem != "best" or run.status != "finished" or not isinstance(run.metrics, dict):
        return None
    accuracy = run.metrics.get("accuracy")
    return float(accuracy) if isinstance(accuracy, (int, float)) and np.isfinite(accuracy) else None


def load_models(runs_or_models) -> list[dict]:
    """runs_or_models (a run directory or weights file as str or Path, a rowrnn model, or a list of them) ->
    [{"model": a CPU copy in eval mode, "run": Run or None, "path": Path or None, "name", "test_accuracy"}].

    A model given is copied (the caller's keeps its device and train/eval mode). Raises RowrnnError naming
    runs_or_models for an empty list, an object of another kind, or a run that cannot be loaded."""
    from torch import nn
    given = list(runs_or_models) if isinstance(runs_or_models, (list, tuple)) else [runs_or_models]
    if not given:
        raise RowrnnError("runs_or_models is empty: give a run directory, a weights file or a model, "
                          "e.g. show_reading('runs/notebook', 0)")
    loaded = []
    for k, item in enumerate(given):
        where = "runs_or_models" if len(given) == 1 and not isinstance(runs_or_models, (list, tuple)) \
            else f"runs_or_models[{k}]"
        if isinstance(item, (str, os.PathLike)):
            model, run = runs.load_model(item, "best")
            loaded.append({"model": model, "run": run, "path": Path(item), "name": _run_name(item),
                           "test_accuracy": _recorded_accuracy(item, run)})
        elif isinstance(item, nn.Module):
            if not isinstance(item, (RNNClassifier, CNNClassifier)):
                raise RowrnnError(f"{where} is a {type(item).__name__}, not a rowrnn model: give a model from "
                                  "rowrnn.build_model or rowrnn.load_model, or a run directory")
            model = copy.deepcopy(item).cpu().eval()
            name = f"{type(item).__name__}" + (f" ({item.cell}, {item.read})" if reading.is_recurrent(item) else "")
            loaded.append({"model": model, "run": None, "path": None, "name": name, "test_accuracy": None})
        else:
            raise RowrnnError(f"{where} must be a run directory, a weights file or a rowrnn model (or a list of "
                              f"them), got {type(item).__name__}")
    names = [entry["name"] for entry in loaded]
    for k, entry in enumerate(loaded):          # the same name twice is told apart by #2, as the page does
        repeat = names[:k].count(entry["name"])
        if repeat:
            entry["name"] = f"{entry['name']} #{repeat + 1}"
    return loaded


def _datasets(loaded: list[dict]) -> list[tuple[str, DatasetInfo]]:
    """[(name, DatasetInfo)] of each model of `loaded`: its run's (datasets.dataset_of), else a bare model's."""
    return [(entry["name"], dataset_of(entry["run"].config) if entry["run"] is not None else
             DatasetInfo(DEFAULT, class_names(entry["model"]), int(getattr(entry["model"], "image_size", 28))))
            for entry in loaded]


def _one_conversion(loaded: list[dict], S: int) -> None:
    """Raises RowrnnError naming image when the models of `loaded` convert a person's picture differently
    (datasets.picture_options): a picture is converted once, for every model shown (MNIST's photo conversion
    and a folder's plain one at 28 may share classes and size, not a picture)."""
    seen = _datasets(loaded)
    ways = {}
    for name, info in seen:
        ways.setdefault(conversion_words(picture_options(info)), []).append(name)
    if len(ways) > 1:
        said = "; ".join(f"{', '.join(names)}: {words}" for words, names in ways.items())
        raise RowrnnError(f"image: these models convert a picture differently ({said}): give a test index or a "
                          f"{S}x{S} array, or show each conversion's models in their own show_reading")


def reading_dataset(loaded: list[dict]) -> DatasetInfo:
    """The dataset every model of `loaded` (load_models') reads: the first run's (datasets.dataset_of), else a
    bare model's classes (models.class_names) and image size, converted as Fashion-MNIST's pictures are.
    Raises RowrnnError naming runs_or_models when the models read different classes (names, in order) or image
    sizes: one widget shows one image and one set of class names, as one page of rowrnn serve does."""
    seen = _datasets(loaded)
    first = seen[0][1]
    for name, info in seen[1:]:
        if (info.classes, info.image_size) != (first.classes, first.image_size):
            raise RowrnnError(f"runs_or_models read different classes or image sizes ({seen[0][0]}: "
                              f"{len(first.classes)} classes at {first.image_size}x{first.image_size}; {name}: "
                              f"{len(info.classes)} classes at {info.image_size}x{info.image_size}): show each "
                              "dataset's models in their own show_reading")
    return first


def _language(language) -> str:
    """"en" or "es", in any case ("ES", "Es" -> "es"): rowrnn.constants.language_of. Raises RowrnnError naming
    language for another."""
    if language_of(language) is None:
        raise RowrnnError(language_refusal(language))
    return language_of(language)


def load_reading_image(image, loaded: list[dict] | None = None, *, data_dir=None, verify: bool | None = None,
                       fit: str | None = None, value_range=None):
    """image -> (uint8 (S, S) tensor, true label or None, test index or None), S the models' image size
    (reading_dataset(loaded); Fashion-MNIST's 28 without models).

    image: a test index (int: the test split of the first run given, as `rowrnn predict --test-index` reads it;
    from data_dir or the usual places when only models are given; verify: check the files' SHA-256, by default
    as the run was trained, and always when only models are given), an image file (str or Path, any size:
    converted for the models' dataset by rowrnn.datasets.prepare_picture with `fit`: None for the dataset's own,
    "trim" for Fashion-MNIST's, "none" for MNIST's family; a plain image folder's resize), a PIL image (the same),
    or one image as a tensor or numpy array, (S, S), (1, S, S) or (1, 1, S, S), in the forms of
    rowrnn.pixels.model_input's table (uint8
    pixels, or normalized floats; value_range=(0, 1) declares ToTensor() floats): floats are rounded to the
    nearest of the 256 grey levels the page draws and reads. Raises RowrnnError naming image (or fit, or
    value_range) for anything else, an index outside the test split, a file that cannot be read, or a file or PIL
    image given to models that convert a picture differently (MNIST's photo conversion beside a plain folder's)."""
    from . import images
    check_value_range(value_range, "image")
    if fit is not None and fit not in images.FITS:
        raise RowrnnError(f"fit must be one of {', '.join(images.FITS)}, got {fit!r}")
    info = reading_dataset(loaded) if loaded else dataset_of(DEFAULT)
    S = info.image_size
    if isinstance(image, (bool, np.bool_)):
        raise RowrnnError(f"image must be a test index, an image file, a PIL image or a {S}x{S} array, got {image!r}")
    if isinstance(image, (int, np.integer)):
        test_set = _test_set(loaded or [], data_dir, verify)
        index = int(image)
        if not 0 <= index < len(test_set):
            raise RowrnnError(f"image={index} is not a test index: the test split has {len(test_set)} images "
                              f"(0-{len(test_set) - 1})")
        return test_set.images[index].clone(), int(test_set.labels[index]), index
    if isinstance(image, (str, os.PathLike)) or (type(image).__module__.startswith("PIL.") and hasattr(image, "save")):
        _one_conversion(loaded or [], S)             # a picture is converted once, for every model
    if isinstance(image, (str, os.PathLike)):
        path = os.fsdecode(image)
        return prepare_picture(images.read_image_file(path), images.display_name(path), info, fit=fit).image, None, None
    if type(image).__module__.startswith("PIL.") and hasattr(image, "save"):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")                 # through rowrnn.images as a file would go
        return prepare_picture(buffer.getvalue(), "image", info, fit=fit).image, None, None
    if isinstance(image, (torch.Tensor, np.ndarray)):
        x = model_input(image, value_range=value_range, name="image", single=True, size=S)      # (1, 1, S, S)
        return display_pixels(x)[0, 0], None, None
    raise RowrnnError(f"image must be a test index, an image file, a PIL image or a {S}x{S} array, "
                      f"got {type(image).__name__}")


def _test_set(loaded: list[dict], data_dir, verify: bool | None):
    from .evaluation import load_test_set
    for entry in loaded:
        if entry["run"] is not None:
            return load_test_set(entry["run"], data_dir, verify=verify)
    from .data import load_split
    return load_split(data_dir, "test", verify=True if verify is None else verify)


# ---------------------------------------------------------------------------------------------------------------
# The widget


def reading_figures(loaded: list[dict], image: torch.Tensor, label: int | None = None,
                    attributions: list | None = None, language: str = "en") -> list:
    """The static reading's matplotlib Figures, one per model of `loaded` (load_models'): for a recurrent model
    rowrnn.inference.reading_figure (the image beside which steps decided and its class probabilities after
    every step), for a CNN its final probabilities (_final_figure); each titled with the model's name and, for a
    test image, its expected class ("tiny · Expected: Ankle boot").

    image: uint8 (S, S); label: the expected class index, or None. attributions: per model, the scores already
    computed ((method, (R, T) tensor) for the predicted class, as the widget's reading_view gave them), or None
    to have reading_figure compute them. language: "en" (default) or "es" (any case): every word drawn, from
    rowrnn.plots.words, and Fashion-MNIST's class names (rowrnn.datasets.class_names_in; other datasets' as
    given). Raises RowrnnError naming language for another value."""
    from .inference import reading_figure
    from .plots import words
    say = words(language)
    classes = class_names_in(reading_dataset(loaded).classes, language)
    figures = []
    for k, entry in enumerate(loaded):
        model = entry["model"]
        if reading.is_recurrent(model):
            given = attributions[k] if attributions is not None else None
            fig = (reading_figure(model, image[None], language=language) if given is None else
                   reading_figure(model, image[None], attributions=given[1][None], attribution_method=given[0],
                                  language=language))
        else:
            fig = _final_figure(model, image, classes, say)
        title = entry["name"] + (" · " + say["expected"].format(expected=classes[label]) if label is not None else "")
        fig.suptitle(title, fontsize=10)
        figures.append(fig)
    return figures


def reading_figure_png(loaded: list[dict], image: torch.Tensor, label: int | None = None,
                       attributions: list | None = None, language: str = "en") -> bytes:
    """The static reading (what a notebook without widgets shows): reading_figures' figures (same arguments)
    stacked top to bottom -> PNG bytes, at FIGURE_DPI. Raises RowrnnError naming language for another value."""
    from PIL import Image

    pictures = [Image.open(io.BytesIO(_png(fig))).convert("RGB")
                for fig in reading_figures(loaded, image, label, attributions, language)]
    width = max(p.width for p in pictures)
    sheet = Image.new("RGB", (width, sum(p.height for p in pictures)), "white")
    top = 0
    for picture in pictures:
        sheet.paste(picture, (0, top))
        top += picture.height
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _png(fig) -> bytes:
    """A matplotlib Figure -> PNG bytes at FIGURE_DPI; the figure is closed (pyplot lets it go)."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=FIGURE_DPI)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _final_figure(model, image: torch.Tensor, classes: tuple, say: dict):
    """A model that reads the whole image at once (a CNN): the image beside its final class probabilities.
    classes: the names drawn (in the figure's language); say: rowrnn.plots.words' table."""
    import matplotlib.pyplot as plt

    with torch.no_grad():
        x = model_input(image, name="image", single=True, size=model.image_size,
                        dtype=model_dtype(model))                                       # (1, 1, S, S)
        probs = model(x)[0].float().softmax(-1).numpy()                                 # (C,)
    fig, (img_ax, bar_ax) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained",
                                         gridspec_kw={"width_ratios": [1, 1.6]})
    img_ax.imshow(image.numpy(), cmap="gray")
    img_ax.set_xticks([])
    img_ax.set_yticks([])
    bar_ax.barh(range(len(classes)), probs, color="#3c8dbc")
    bar_ax.set_yticks(range(len(classes)), classes, fontsize=8)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(0, 1)
    bar_ax.set_xlabel(say["probability"])
    bar_ax.set_title(say["whole_image"].format(final=classes[int(probs.argmax())], probability=probs.max()),
                     fontsize=9)
    return fig


@functools.cache
def widget_class():
    """The anywidget class of show_reading's answer (made on first use, so that `import rowrnn` needs no
    anywidget). Raises RowrnnError naming rowrnn[notebooks] when anywidget is not installed."""
    try:
        import anywidget
        import traitlets
    except ImportError:
        raise RowrnnError("show_reading needs anywidget, which is not installed: pip install 'rowrnn[notebooks]'") \
            from None

    class ReadingWidget(anywidget.AnyWidget):
        """Networks reading one garment step by step: the page's panels with a step slider and a play button.

        Traits shared with the browser: runs ([{info, reading}], one per model), image (SxS grey values),
        classes (the models' dataset's names, in label order), label and index (a test image's, else None), language ("en" or "es") and step (the slider's
        position, 1 to the longest reading's steps; set it to move the slider). Displayed, it is the widget
        where widgets run, and a PNG of the same reading (plus a line of text) where they do not."""

        _esm = widget_module()
        _css = widget_css()
        runs = traitlets.List().tag(sync=True)
        image = traitlets.List().tag(sync=True)
        classes = traitlets.List([]).tag(sync=True)
        label = traitlets.Int(None, allow_none=True).tag(sync=True)
        index = traitlets.Int(None, allow_none=True).tag(sync=True)
        language = traitlets.Unicode("en").tag(sync=True)
        step = traitlets.Int(1).tag(sync=True)
        panel_template = traitlets.Unicode(panel_template()).tag(sync=True)

        def __init__(self, loaded, image, label, index, language):
            views, scores = [], []
            for k, entry in enumerate(loaded):
                model = entry["model"]
                # only the attribution widget.js draws (occlusion, or integrated gradients for a pixel reader),
                # computed once: the static PNG reuses it
                method = reading.drawn_method(model) if reading.is_recurrent(model) else None
                view = reading.reading_view(model, image, methods=(method,) if method else ())
                explained = view.get("attribution")
                scores.append((method, explained[method]) if explained and explained[method] is not None else None)
                views.append(reading.jsonable({"info": reading.panel_info(model, entry["run"], entry["name"],
                                                                          index=k, test_accuracy=entry["test_accuracy"]),
                                               "reading": view}))
            steps = max([v["info"]["steps"] for v in views if v["info"]["recurrent"]], default=1)
            super().__init__(runs=views, image=image.tolist(), label=label, index=index, language=language,
                             step=steps, classes=list(reading_dataset(loaded).classes))
            self._static = (loaded, image, label, scores)
            self._png = {}                       # language -> PNG bytes

        @property
        def max_steps(self) -> int:
            """The slider's last step: the longest reading's number of steps (1 when no model reads in steps)."""
            return max([run["info"]["steps"] for run in self.runs if run["info"]["recurrent"]], default=1)

        def summary(self) -> str:
            """One line in the widget's language: what is read, by whom, and each final answer (a notebook's
            text/plain), e.g. "rowrnn reading of test image 3 at step 28 of 28 — tiny: Coat 71.2%"."""
            language = _language(self.language)            # the trait's validation normalises it already
            say = SUMMARY[language]
            what = say["test_image"].format(index=self.index) if self.index is not None else say["image"]
            shown = class_names_in(self.classes, language)                    # the names in label order
            answers = []
            for run in self.runs:
                view = run["reading"]
                answer = view["error"] if "error" in view else \
                    f"{shown[self.classes.index(view['top'][0]['class'])]} {100 * view['top'][0]['probability']:.1f}%"
                answers.append(f"{run['info']['name']}: {answer}")
            return say["line"].format(what=what, step=self.step, steps=self.max_steps) + "; ".join(answers)

        def png(self) -> bytes:
            """The static figure of the reading in the widget's language (made once per language, on first
            display): see reading_figure_png."""
            language = _language(self.language)
            if language not in self._png:
                self._png[language] = reading_figure_png(*self._static, language=language)
            return self._png[language]

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
            data = {**data, "text/plain": self.summary(),
                    "image/png": base64.b64encode(self.png()).decode("ascii")}
            return data, metadata

        @traitlets.validate("step")
        def _valid_step(self, proposal):
            step = proposal["value"]
            if not 1 <= step <= self.max_steps:
                raise RowrnnError(f"step must be from 1 to {self.max_steps}, got {step}")
            return step

        @traitlets.validate("language")
        def _valid_language(self, proposal):
            return _language(proposal["value"])

    return ReadingWidget


def show_reading(runs_or_models, image, *, language: str = "en", step: int | None = None, data_dir=None,
                 verify: bool | None = None, fit: str | None = None, value_range=None):
    """Watch networks read one garment step by step, in a notebook: the panels of `rowrnn serve` (the image lit
    as far as read with the current step outlined, the probability bars at that step, the steps x classes heat
    map, the hidden state h_t) with a step slider and a play button.

    runs_or_models: a run directory or weights file (str or Path), a rowrnn model (nn.Module from rowrnn), or a
    list of them (one panel each, side by side). image: a test index (int, from the first run's test split), an
    image file, a PIL image, or one image as a tensor or array in the forms of rowrnn.pixels.model_input's table
    (uint8 pixels, or normalized floats; value_range=(0, 1) declares ToTensor() floats); see load_reading_image.
    language: "en" (default) or "es" (any case), the page's words. step: where the slider starts (default: the end of the
    reading). data_dir: the Fashion-MNIST folder for a test index (default: the run's); verify: check its
    SHA-256 (default: as the run was trained; always without a run). fit: how an image file or PIL image is
    converted for the models' dataset (rowrnn.datasets.prepare_picture): None (default) for the dataset's own
    ("trim" for Fashion-MNIST, "none" for MNIST, KMNIST and EMNIST, a plain image folder's resize), or "trim" or
    "none" as for rowrnn.load_image. Models of different classes or image sizes are refused (reading_dataset).

    Returns the widget (displayed as a cell's last value; `.step` moves it from Python). Where widgets cannot be
    drawn (GitHub, nbconvert without widget state) the same output shows a static PNG of the reading. Needs
    anywidget (pip install 'rowrnn[notebooks]'). Raises RowrnnError (one line, naming the argument) for a bad
    runs_or_models, image, language, step, fit or value_range, or a run or image that cannot be read.
    """
    language = _language(language)
    cls = widget_class()
    loaded = load_models(runs_or_models)
    pixels, label, index = load_reading_image(image, loaded, data_dir=data_dir, verify=verify, fit=fit,
                                              value_range=value_range)
    widget = cls(loaded, pixels, label, index, language)
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise RowrnnError(f"step must be an int from 1 to {widget.max_steps}, got {step!r}")
        widget.step = int(step)
    return widget
