"""The pictures: learning curves, the prediction grid, the confusion matrix, how the RNN reads and which steps decided.

Every function takes data (histories, arrays) and returns a matplotlib Figure;
callers decide where to save it. Every plotting function takes language="en" or "es": the words it draws
(titles, axis and colour-bar labels, legends, notes) come from one table, WORDS; class names are drawn as given.

    fig = plot_curves(history, language="es")   # the notebook's pd.DataFrame(history).plot(logy=True), in Spanish
    fig.savefig("curves.png")
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from .constants import CLASSES, IMAGE_SIZE, LANGUAGES, language_of, language_refusal
from .errors import RowrnnError
from .models import strip_heights
from .pixels import display_pixels, model_input

CURVE_KEYS = ("train_loss", "val_loss", "train_metric", "val_metric")

# Every word a figure draws, once per language: a template's {fields} are filled by the function that draws it
# (numbers are formatted the same in both: a decimal point). The two tables have the same keys (tested).
WORDS = {
    "en": {
        "epoch": "Epoch num.",
        "curves_y": "loss / macro accuracy (log scale)",
        "curves_title": "Learning curves",
        "train_loss": "train_loss", "val_loss": "val_loss", "train_metric": "train_metric", "val_metric": "val_metric",
        "expected_predicted": "Expected: {expected}\nPredicted: {predicted}",
        "expected": "Expected: {expected}",
        "predicted_axis": "Predicted",
        "expected_axis": "Expected",
        "not_available": "n/a",
        "no_images": "{name} (no images)",
        "confusion_title": "Confusion matrix ({images} images, accuracy {accuracy:.3f})",
        "fraction_expected": "fraction of the expected class",
        "decided": "Which steps decided ({method})",
        "decided_expected": "Which steps decided ({method}) -- expected: {expected}",
        "attribution": "attribution",
        "attribution_to": "attribution to {target}",
        "logit": "{what} (logit)",
        "network_saw": "the {side}x{side} the network saw",
        "guess": "Guess after each step: finally {final} ({probability:.0%})",
        "probability": "probability",
        "whole_image": "A CNN reads the whole image at once: {final} ({probability:.0%})",   # the widget's CNN panel
        "original": "original",
        "test_image": "a test image:\nalready {side}x{side}",
        "pixel_column": "pixel column",
        "pixel_row": "pixel row",
        "each_pixel": "each pixel coloured by the step that read it ({steps} steps)",
        "step": "step",
        "step_rows": "step (rows read)",
        "step_columns": "step (columns read)",
        "hidden_unit": "hidden unit (of {width})",
        "step_t": "step t ({read})",
        "hidden_title": "Hidden state h_t while reading ({steps} steps)",
        "activation": "activation",
        "leaderboard_x": "test accuracy (10,000 images)",
        "leaderboard_title": "rowrnn leaderboard",
        "pareto": "Pareto front",
        "pareto_presets": "Pareto front of the presets",
        "minutes_x": "training minutes (sum of epoch times, log scale)",
        "minutes_x_seeds": "training minutes (sum of epoch times, log scale; bars: the seeds' range)",
        "test_accuracy": "test accuracy",
        "minutes_title": "Accuracy against training time, every run",
        "presets_title": "Accuracy against training time, one point per preset",
        "mean_test_accuracy": "test accuracy (mean of seeds)",
        "mean_best_val_metric": "best validation macro accuracy (mean of seeds)",
        "one_seed": "{preset} (1 seed)",
        "seeds": "{preset} ({seeds} seeds)",
        # what was read, as the heat maps' axes say it ("rows read"), by the model's read
        "read_rows": "rows read", "read_columns": "columns read", "read_rows+columns": "rows and columns read",
        "read_pixels": "pixels read",
        # rowrnn.attribution.METHODS, as a title names them (a method not listed here is drawn as given)
        "method_occlusion": "occlusion", "method_integrated-gradients": "integrated-gradients",
    },
    "es": {
        "epoch": "Época",
        "curves_y": "pérdida / exactitud macro (escala logarítmica)",
        "curves_title": "Curvas de aprendizaje",
        "train_loss": "pérdida (entrenamiento)", "val_loss": "pérdida (validación)",
        "train_metric": "exactitud macro (entrenamiento)", "val_metric": "exactitud macro (validación)",
        "expected_predicted": "Esperada: {expected}\nPredicha: {predicted}",
        "expected": "Esperada: {expected}",
        "predicted_axis": "Predicha",
        "expected_axis": "Esperada",
        "not_available": "n/d",
        "no_images": "{name} (sin imágenes)",
        "confusion_title": "Matriz de confusión ({images} imágenes, exactitud {accuracy:.3f})",
        "fraction_expected": "fracción de la clase esperada",
        "decided": "Qué pasos decidieron ({method})",
        "decided_expected": "Qué pasos decidieron ({method}) -- esperada: {expected}",
        "attribution": "atribución",
        "attribution_to": "atribución a {target}",
        "logit": "{what} (logit)",
        "network_saw": "la imagen de {side}x{side} que vio la red",
        "guess": "Predicción tras cada paso: al final, {final} ({probability:.0%})",
        "probability": "probabilidad",
        "whole_image": "Una CNN lee la imagen entera de una vez: {final} ({probability:.0%})",
        "original": "original",
        "test_image": "una imagen de test:\nya es de {side}x{side}",
        "pixel_column": "columna de píxeles",
        "pixel_row": "fila de píxeles",
        "each_pixel": "cada píxel, del color del paso que lo leyó ({steps} pasos)",
        "step": "paso",
        "step_rows": "paso (filas leídas)",
        "step_columns": "paso (columnas leídas)",
        "hidden_unit": "unidad oculta (de {width})",
        "step_t": "paso t ({read})",
        "hidden_title": "Estado oculto h_t durante la lectura ({steps} pasos)",
        "activation": "activación",
        "leaderboard_x": "exactitud en test (10 000 imágenes)",
        "leaderboard_title": "Clasificación de rowrnn",
        "pareto": "Frente de Pareto",
        "pareto_presets": "Frente de Pareto de los presets",
        "minutes_x": "minutos de entrenamiento (suma de los tiempos por época, escala logarítmica)",
        "minutes_x_seeds": ("minutos de entrenamiento (suma de los tiempos por época, escala logarítmica; barras: "
                            "el rango de las semillas)"),
        "test_accuracy": "exactitud en test",
        "minutes_title": "Exactitud frente a tiempo de entrenamiento, cada ejecución",
        "presets_title": "Exactitud frente a tiempo de entrenamiento, un punto por preset",
        "mean_test_accuracy": "exactitud en test (media de las semillas)",
        "mean_best_val_metric": "mejor exactitud macro en validación (media de las semillas)",
        "one_seed": "{preset} (1 semilla)",
        "seeds": "{preset} ({seeds} semillas)",
        "read_rows": "filas leídas", "read_columns": "columnas leídas",
        "read_rows+columns": "filas y columnas leídas", "read_pixels": "píxeles leídos",
        "method_occlusion": "oclusión", "method_integrated-gradients": "gradientes integrados",
    },
}


def words(language: str = "en") -> dict:
    """The table of the words a figure draws in language: "en" (default) or "es", in any case ("ES" -> "es"),
    as rowrnn.show_reading takes it. Returns WORDS[language] (templates with {fields}). Raises RowrnnError naming
    language for another value."""
    if language_of(language) is None:
        raise RowrnnError(language_refusal(language))
    return WORDS[language_of(language)]


def _method(method: str, say: dict) -> str:
    """An attribution method's name in the figure's language (as given when the table does not know it)."""
    return say.get(f"method_{method}", method)


def _np(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def plot_curves(history: dict, *, language: str = "en"):
    """Loss and metric per epoch, train vs validation, log y axis, as the notebook plots its history.

    history: a run's history (lists per epoch under CURVE_KEYS; other keys ignored). language: "en" (default) or
    "es" (any case), the words drawn. Returns the Figure. Raises RowrnnError naming language for another value.
    """
    say = words(language)
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for key in CURVE_KEYS:
        if history.get(key):
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, label=say[key],
                    linestyle="-" if key.startswith("train") else "--", marker="o", markersize=3)
    ax.set_yscale("log")
    ax.set_xlabel(say["epoch"])
    ax.set_ylabel(say["curves_y"])
    ax.set_title(say["curves_title"])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def _square(image) -> np.ndarray:
    """An image of S*S pixels (flat, (S, S) or (1, S, S)) as (S, S): figures follow the image's own size."""
    image = np.asarray(image)
    side = math.isqrt(image.size)
    return image.reshape(side, side)


def plot_predictions(images, labels, predictions, classes=CLASSES, columns=5, *, language: str = "en"):
    """The notebook's grid: each image titled with the expected and predicted class, green if right, red if wrong.

    images: (N, S, S) (or N flat S*S); labels, predictions: (N,) class indices into classes (the names drawn,
    as given: the run's; default Fashion-MNIST's); columns: images per row. language: "en" (default) or "es"
    (any case), the words of the titles. Returns the Figure. Raises RowrnnError naming language for another value.
    """
    say = words(language)
    images, labels, predictions = _np(images), _np(labels), _np(predictions)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 2.6 * rows), layout="constrained",
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, y, y_hat in zip(axes.flat, images, labels, predictions):
        right = int(y) == int(y_hat)
        ax.imshow(_square(image), cmap="Greens" if right else "Reds")
        ax.set_title(say["expected_predicted"].format(expected=classes[int(y)], predicted=classes[int(y_hat)]),
                     fontsize=8,
                     color="darkgreen" if right else "darkred")
    return fig


def plot_confusion(confusion, classes=CLASSES, ax=None, title=None, *, language: str = "en"):
    """Counts in each cell, shading by the row-normalized rate (recall along the diagonal).

    confusion: (C, C) counts (rows: expected, columns: predicted). A class with no images (an empty row) has no
    rate: its row is grey, its cells read n/a and its label says "(no images)", never a recall of 0.
    ax draws into an existing Axes (confusion matrices side by side); title replaces the default. language: "en"
    (default) or "es" (any case), the words drawn (classes as given). Returns the Figure. Raises RowrnnError
    naming language for another value.
    """
    say = words(language)
    counts = _np(confusion).astype(int)
    support = counts.sum(axis=1, keepdims=True)                                # (C, 1) images of each class
    rates = np.where(support > 0, counts / np.maximum(support, 1), np.nan)     # NaN rows: drawn grey
    fig, ax = plt.subplots(figsize=(8, 7), layout="constrained") if ax is None else (ax.figure, ax)
    cmap = plt.get_cmap("Blues").with_extremes(bad="lightgrey")
    im = ax.imshow(rates, cmap=cmap, vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(counts[i, j]) if support[i, 0] else say["not_available"], ha="center", va="center",
                    fontsize=8, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [c if n else say["no_images"].format(name=c)
                                        for c, n in zip(classes, support[:, 0])])
    ax.set_xlabel(say["predicted_axis"])
    ax.set_ylabel(say["expected_axis"])
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(title or say["confusion_title"].format(images=counts.sum(), accuracy=accuracy))
    fig.colorbar(im, ax=ax, label=say["fraction_expected"])
    return fig


def plot_reading(images, step_probabilities, classes=CLASSES, labels=None, read="rows", total_steps=None,
                 originals=None, attributions=None, targets=None, rows_per_step=1, permutation=None,
                 attribution_method="occlusion", *, language: str = "en"):
    """Each image beside a heat map of its class probabilities after every step read (T x C).

    With total_steps > T (a long pixel sequence sampled at T evenly spaced points), the rows are
    labelled with the number of steps each point had read. originals: a list as long as images of
    uint8 RGB pictures (h, w, 3) or None; when given, each row starts with the picture as the person
    gave it beside the S x S image the network saw (plot_original; S from images' shape, 28 for
    Fashion-MNIST), titled so. classes: the names of the C columns (the run's; default Fashion-MNIST's).
    labels: (N,) the expected class indices into classes, or None; when given, the S x S image's title says
    "Expected: Coat" (under "the 28x28 the network saw" when originals are given). attributions: (N, R, T)
    scores of each step (rowrnn.attribution.step_attribution, for the classes `targets`, attribution_method
    naming how); when given, a panel after the S x S image paints each step's score over the pixels it read
    (attribution_map), with its colour bar; rows_per_step and permutation say which pixels those are.
    language: "en" (default) or "es" (any case), the words drawn (classes as given; the method's name
    translated). Returns the Figure. Raises RowrnnError naming language for another value.
    """
    say = words(language)
    images, probs = _np(images), _np(step_probabilities)
    n, steps = len(images), probs.shape[1]
    read_at = np.rint(np.linspace(1, total_steps or steps, steps)).astype(int)  # steps read at each row
    extra, explained = int(originals is not None), int(attributions is not None)   # 0 or 1: extra columns
    fig, axes = plt.subplots(n, 2 + extra + explained, figsize=(9 + 3 * extra + 3.6 * explained, 3.2 * n),
                             layout="constrained", squeeze=False,
                             gridspec_kw={"width_ratios": [1] * extra + [1] + [1.25] * explained + [1.6]})
    side = int(images.shape[-1])                  # S: the run's image size (28 for Fashion-MNIST)
    for k in range(n):
        if extra:
            plot_original(axes[k][0], originals[k], language=language, image_size=side)
        img_ax, heat_ax = axes[k][extra], axes[k][-1]
        if explained:
            scores = _np(attributions)[k]
            target = int(_np(targets)[k]) if targets is not None else int(probs[k][-1].argmax())
            attr_ax = axes[k][extra + 1]
            norm = _centred_norm(scores)
            attr_ax.imshow(_square(images[k]), cmap="gray")
            attr_ax.imshow(attribution_map(scores, read, rows_per_step, permutation, image_size=side),
                           cmap=ATTRIBUTION_CMAP, norm=norm, alpha=0.75, interpolation="nearest")
            _label_pixels(attr_ax, side, say)
            attr_ax.set_title(say["decided"].format(method=_method(attribution_method, say)), fontsize=9)
            fig.colorbar(plt.cm.ScalarMappable(norm, ATTRIBUTION_CMAP), ax=attr_ax,
                         label=say["logit"].format(what=say["attribution_to"].format(target=classes[target])))
        # the image's title: what it is beside the original, and the expected class; both when both are known
        title = [say["network_saw"].format(side=side)] if extra else []
        if labels is not None:
            title.append(say["expected"].format(expected=classes[int(_np(labels)[k])]))
        if title:
            img_ax.set_title("\n".join(title), fontsize=9)
        img_ax.imshow(_square(images[k]), cmap="gray")
        img_ax.set_xticks([])
        img_ax.set_yticks([])
        im = heat_ax.imshow(probs[k], aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        heat_ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        heat_ax.set_ylabel(_read_axis(read, say))
        heat_ax.set_yticks(range(0, steps, 3), [str(read_at[t]) for t in range(0, steps, 3)], fontsize=7)
        final = probs[k][-1]
        heat_ax.set_title(say["guess"].format(final=classes[int(final.argmax())], probability=final.max()),
                          fontsize=9)
        fig.colorbar(im, ax=heat_ax, label=say["probability"])
    return fig


def plot_original(ax, original, title=None, *, language: str = "en", image_size: int = IMAGE_SIZE) -> None:
    """The picture as given (uint8 RGB (h, w, 3), upright, transparency composited) in `ax`, titled (title: default
    "original"); None (a test image, already the run's S x S, S = image_size: default 28, Fashion-MNIST's) leaves
    the panel empty but for a note saying so ("a test image: already 32x32"). language: "en" (default) or "es"
    (any case), the words drawn. Raises RowrnnError naming language for another value."""
    say = words(language)
    ax.set_xticks([])
    ax.set_yticks([])
    if original is None:
        ax.text(0.5, 0.5, say["test_image"].format(side=image_size), ha="center", va="center", fontsize=9,
                transform=ax.transAxes)
        ax.set_frame_on(False)
        return
    ax.imshow(_np(original))
    ax.set_title(say["original"] if title is None else title, fontsize=9)


def _read_axis(read: str, say: dict) -> str:
    """What a reading has read after t steps, in the figure's words: "rows read", ..., "pixels read" (pixel reads)."""
    return say.get(f"read_{read}", say["read_pixels"])


ATTRIBUTION_CMAP = "RdBu_r"    # diverging, white at 0: red pushed the class's logit up, blue pulled it down


def _centred_norm(scores):
    """A colour scale symmetric about 0, as wide as the largest |score| (never empty)."""
    from matplotlib.colors import Normalize
    bound = max(float(np.abs(_np(scores)).max()), 1e-6)
    return Normalize(-bound, bound)


def _label_pixels(ax, size: int = IMAGE_SIZE, say: dict = WORDS["en"]) -> None:
    """Pixel row and column axes for an image size x size: ticks every 7 pixels at 28, about 4 ticks at others."""
    stride = 7 if size == IMAGE_SIZE else max(1, round(size / 4))
    ax.set_xlabel(say["pixel_column"], fontsize=8)
    ax.set_ylabel(say["pixel_row"], fontsize=8)
    ax.set_xticks(range(0, size, stride))
    ax.set_yticks(range(0, size, stride))
    ax.tick_params(labelsize=7)


ATTRIBUTION_READS = ("rows", "columns", "rows+columns", "pixels", "permuted-pixels")


def _step_scores(scores, read: str, rows_per_step: int, size: int = IMAGE_SIZE) -> np.ndarray:
    """scores as (R, T) for the read of size x size images, checked: R = 2 for rows+columns, else 1 ((T,)
    allowed then); T = size * size for pixels, else size / rows_per_step. Raises RowrnnError naming read,
    rows_per_step or scores."""
    heights = strip_heights(size)                                           # 1, 2, 4, 7, 14, 28 at 28
    if read not in ATTRIBUTION_READS:
        raise RowrnnError(f"read must be one of {', '.join(ATTRIBUTION_READS)} (the model's read), got {read!r}")
    if "pixels" in read:
        if rows_per_step != 1:
            raise RowrnnError(f"rows_per_step must be 1 for read={read!r}, got {rows_per_step!r}")
        T = size * size
    elif isinstance(rows_per_step, bool) or rows_per_step not in heights:
        raise RowrnnError(f"rows_per_step must be one of {', '.join(map(str, heights))} (the model's), "
                          f"got {rows_per_step!r}")
    else:
        T = size // rows_per_step
    R = 2 if read == "rows+columns" else 1
    array = _np(scores)
    given = tuple(array.shape)
    if array.ndim == 1 and R == 1:
        array = array[None, :]
    if array.shape != (R, T):
        expected = f"({R}, {T})" + (f" or ({T},)" if R == 1 else "")
        raise RowrnnError(f"scores must have shape {expected} for read={read!r} with rows_per_step={rows_per_step} "
                          f"(one image's step_attribution: R readers x T steps), got {given}")
    return array


def attribution_map(scores, read="rows", rows_per_step=1, permutation=None, *, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Step scores (R, T) or (T,) -> an S x S array (S = image_size, the model's: 28 for Fashion-MNIST) holding,
    at each pixel, the score of the step that read it.

    rows: row i gets step i // rows_per_step's score (strips: k rows share one); columns: the same by columns;
    pixels: pixel p is step p; permuted-pixels: pixel permutation[t] is step t (permutation: the model's order,
    required then); rows+columns: pixel (i, j) gets its row's score plus its column's (R = 2).
    Raises RowrnnError for an unknown read, a rows_per_step that is not a strip height (a divisor of S: 1, 2, 4,
    7, 14, 28 at 28; 1 for pixels), scores not shaped (R, T) for that read, or permuted-pixels without a
    permutation.
    """
    S = image_size
    scores = _step_scores(scores, read, rows_per_step, S)                     # (R, T)
    if read == "permuted-pixels" and permutation is None:
        raise RowrnnError("permutation must be given for read='permuted-pixels': pass model.permutation")
    k = rows_per_step
    if read in ("pixels", "permuted-pixels"):
        flat = np.zeros(S * S)
        order = np.arange(flat.size) if read == "pixels" else _np(permutation).astype(int)
        flat[order] = scores[0]                                               # step t read pixel order[t]
        return flat.reshape(S, S)
    lines = [np.repeat(s, k) for s in scores]                                 # (T,) -> (S,): a score per line
    rows = lines[0][:, None] if read != "columns" else np.zeros((S, 1))
    columns = (lines[-1] if read != "rows" else np.zeros(S))[None, :]
    return np.broadcast_to(rows, (S, S)) + (columns if read != "rows" else 0)


def plot_attribution(image, scores, read="rows", rows_per_step=1, permutation=None, target=None, label=None,
                     classes=CLASSES, method="occlusion", value_range=None, *, language: str = "en"):
    """One image beside which of its reading steps decided: the scores of rowrnn.attribution.step_attribution.

    image: one image, (S, S), (1, S, S) or (1, 1, S, S) (S: its side, the run's image size; 28 for
    Fashion-MNIST), in the forms of rowrnn.pixels.model_input's table
    (uint8 pixels or normalized floats; value_range=(0, 1) declares ToTensor() floats), drawn on the fixed grey
    scale black = pixel 0, white = 255; scores: (R, T) or (T,) for the class `target` (an index; its name
    labels the colour bar, in logits), computed by `method` (for the title). rows and strips of rows_per_step
    rows: a bar per step beside the image, spanning the rows it read; columns: a bar per step under the image;
    rows+columns: both (R = 2: rows reader, then columns reader); pixels and permuted-pixels (permutation: the
    model's pixel order, model.permutation): an S x S heat map over the image, each pixel coloured by the step
    that read it. The colours diverge about 0 (red: the step pushed the class up; blue: down), with a colour bar.
    label: the expected class index, for the title. Returns the Figure. Raises RowrnnError (one line, naming the
    argument) for an image model_input refuses, an unknown read, a bad rows_per_step, or scores not shaped (R, T)
    for that read and rows_per_step (R = 2 for rows+columns, else 1; T = S * S for pixels, else S / rows_per_step).
    classes: the names `target` and `label` index (the run's; default Fashion-MNIST's), drawn as given.
    language: "en" (default) or "es" (any case), the words drawn (the method's name translated); another value
    raises RowrnnError naming language.
    """
    say = words(language)
    shape = tuple(getattr(image, "shape", ()))
    side = int(shape[-1]) if len(shape) >= 2 and shape[-1] == shape[-2] else IMAGE_SIZE
    image = display_pixels(model_input(image, value_range=value_range, name="image", single=True,
                                       size=side))[0, 0].numpy()
    scores = _step_scores(scores, read, rows_per_step, side)                  # (R, T)
    norm, cmap = _centred_norm(scores), plt.get_cmap(ATTRIBUTION_CMAP)
    what = say["attribution_to"].format(target=classes[int(target)]) if target is not None else say["attribution"]
    what = say["logit"].format(what=what)                                     # "attribution to Coat (logit)"
    title = (say["decided"].format(method=_method(method, say)) if label is None else
             say["decided_expected"].format(method=_method(method, say), expected=classes[int(label)]))
    if read in ("pixels", "permuted-pixels"):
        fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.imshow(attribution_map(scores, read, rows_per_step, permutation, image_size=side), cmap=cmap, norm=norm,
                  alpha=0.75, interpolation="nearest")
        _label_pixels(ax, side, say)
        ax.set_title(title + "\n" + say["each_pixel"].format(steps=scores.shape[1]), fontsize=9)
        fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, label=what)
        return fig
    beside, under = read in ("rows", "rows+columns"), read in ("columns", "rows+columns")
    fig = plt.figure(figsize=(4.2 + 2.4 * beside, 4.2 + 2.2 * under), layout="constrained")
    grid = fig.add_gridspec(1 + under, 1 + beside, width_ratios=[1] + [0.7] * beside,
                            height_ratios=[1] + [0.6] * under)
    img_ax = fig.add_subplot(grid[0, 0])
    img_ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    img_ax.set_xticks([])
    img_ax.set_yticks([])
    k, T = rows_per_step, scores.shape[1]
    centres, ticks = np.arange(T) * k + (k - 1) / 2, list(range(0, T, max(1, T // 7)))
    bar_axes = []
    if beside:                                   # a bar per step, spanning the k rows it read
        ax = fig.add_subplot(grid[0, 1], sharey=img_ax)
        ax.barh(centres, scores[0], height=0.9 * k, color=cmap(norm(scores[0])), edgecolor="none")
        ax.set_yticks(centres[ticks], [str(t + 1) for t in ticks])
        ax.set_ylabel(say["step_rows"] if read == "rows+columns" else say["step"], fontsize=9)
        ax.set_xlabel(what, fontsize=9)
        ax.axvline(0, color="gray", linewidth=0.8)
        ax.set_xlim(1.05 * norm.vmin, 1.05 * norm.vmax)         # the colour bar's scale: both readers compare
        bar_axes.append(ax)
    if under:                                    # a bar per step, under the k columns it read
        ax = fig.add_subplot(grid[1, 0], sharex=img_ax)
        ax.bar(centres, scores[-1], width=0.9 * k, color=cmap(norm(scores[-1])), edgecolor="none")
        ax.set_xticks(centres[ticks], [str(t + 1) for t in ticks])
        ax.set_xlabel(say["step_columns"] if read == "rows+columns" else say["step"], fontsize=9)
        ax.set_ylabel(what, fontsize=9)
        ax.axhline(0, color="gray", linewidth=0.8)
        ax.set_ylim(1.05 * norm.vmin, 1.05 * norm.vmax)
        bar_axes.append(ax)
    fig.suptitle(title, fontsize=10)
    fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=bar_axes, label=what, shrink=0.8)
    return fig


def plot_hidden_states(image, states, read="rows", label=None, classes=CLASSES, *, language: str = "en"):
    """One image beside its hidden state h_t at every step: a T x H heat map, read top to bottom.

    image: (S, S) or flat S*S; states: (T, H) (rowrnn.unrolling's hidden states of that image); read: the model's
    read (names the steps); label: the expected class index into classes (drawn as given), or None. language:
    "en" (default) or "es" (any case), the words drawn. Returns the Figure. Raises RowrnnError naming language
    for another value.
    """
    say = words(language)
    image, states = _np(image), _np(states)
    steps, width = states.shape
    fig, (img_ax, heat_ax) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained",
                                          gridspec_kw={"width_ratios": [1, 2.2]})
    img_ax.imshow(_square(image), cmap="gray")
    img_ax.set_xticks([])
    img_ax.set_yticks([])
    if label is not None:
        img_ax.set_title(say["expected"].format(expected=classes[int(label)]), fontsize=9)
    bound = max(float(np.abs(states).max()), 1e-6)
    im = heat_ax.imshow(states, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    heat_ax.set_xlabel(say["hidden_unit"].format(width=width))
    heat_ax.set_ylabel(say["step_t"].format(read=_read_axis(read, say)))
    heat_ax.set_title(say["hidden_title"].format(steps=steps), fontsize=9)
    fig.colorbar(im, ax=heat_ax, label=say["activation"])
    return fig


def plot_leaderboard(summary: list[dict], references: dict | None = None, *, language: str = "en"):
    """Horizontal bars of mean test accuracy per preset (seed range as error bars), reference lines beside.

    summary: compare.summarize's lines ("preset", "test_accuracy", "test_accuracy_each"); references: name ->
    accuracy, dashed lines labelled with the names as given. language: "en" (default) or "es" (any case), the
    words drawn. Returns the Figure. Raises RowrnnError naming language for another value.
    """
    say = words(language)
    names = [r["preset"] for r in summary][::-1]
    acc = np.array([r["test_accuracy"] for r in summary][::-1])
    lo = acc - np.array([min(r["test_accuracy_each"]) for r in summary][::-1])
    hi = np.array([max(r["test_accuracy_each"]) for r in summary][::-1]) - acc
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 2), layout="constrained")
    bars = ax.barh(names, acc, xerr=[lo, hi], color="tab:blue", capsize=3)
    for bar, a, up in zip(bars, acc, hi):
        ax.text(a + up + 0.006, bar.get_y() + bar.get_height() / 2, f"{a:.3f}", va="center", fontsize=8)
    for (label, value), style in zip((references or {}).items(), ("--", "-.", ":")):
        ax.axvline(value, color="gray", linestyle=style, label=f"{label}: {value:.3f}")
    ax.set_xlim(min(0.5, float(acc.min()) - 0.05), 1.0)
    ax.set_xlabel(say["leaderboard_x"])
    ax.set_title(say["leaderboard_title"])
    if references:
        ax.legend(loc="lower right", fontsize=7)
    return fig


def pareto_front(points):
    """The (minutes, accuracy) points no other point beats on both: less time and at least as accurate."""
    front, best = [], -np.inf
    for minutes, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((minutes, accuracy))
            best = accuracy
    return front


def plot_accuracy_vs_minutes(rows: list[dict], *, language: str = "en"):
    """Test accuracy against training minutes, one point per run (preset x seed), the Pareto front drawn.

    rows: one dict per run ("preset", "train_minutes", "test_accuracy"); log x axis. language: "en" (default) or
    "es" (any case), the words drawn (preset names as given). Returns the Figure. Raises RowrnnError naming
    language for another value.
    """
    say = words(language)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    colors = plt.get_cmap("tab10")
    for i, preset in enumerate(presets):
        group = [r for r in rows if r["preset"] == preset]
        ax.scatter([r["train_minutes"] for r in group], [r["test_accuracy"] for r in group], color=colors(i % 10),
                   label=preset, s=28, zorder=3)
    front = pareto_front([(r["train_minutes"], r["test_accuracy"]) for r in rows])
    if front:
        xs, ys = zip(*front)
        ax.step(xs, ys, where="post", color="black", linewidth=1, alpha=0.6, label=say["pareto"], zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel(say["minutes_x"])
    ax.set_ylabel(say["test_accuracy"])
    ax.set_title(say["minutes_title"])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


PARETO_ACCURACIES = ("test_accuracy", "best_val_metric")


def plot_pareto_presets(summary: list[dict], accuracy: str = "test_accuracy", *, language: str = "en"):
    """Accuracy against training minutes, one point per preset: the mean of its seeds, with bars from the seeds'
    lowest to highest accuracy and minutes (their spread), and the Pareto front of the presets' means (a preset
    on it is beaten by none in both less time and more accuracy).

    summary: compare.summarize's lines, which hold each seed's numbers ("test_accuracy_each",
    "best_val_metric_each", "train_minutes_each"); accuracy: "test_accuracy" or "best_val_metric" (the best
    epoch's validation macro accuracy, the mean of the per-class recalls). Minutes are training minutes (a
    distilled run's include its teacher's), log scale. language: "en" (default) or "es" (any case), the words
    drawn (preset names as given).
    Returns the Figure. Raises RowrnnError naming accuracy or language for another value.
    """
    say = words(language)
    if accuracy not in PARETO_ACCURACIES:
        raise RowrnnError(f"accuracy must be one of {', '.join(PARETO_ACCURACIES)}, got {accuracy!r}")
    label = say[f"mean_{accuracy}"]
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    colors = plt.get_cmap("tab10")
    means = []
    for i, r in enumerate(summary):
        each_acc = [a for a in r[f"{accuracy}_each"] if a is not None]
        each_min = r["train_minutes_each"]
        if not each_acc:
            continue
        x, y = float(np.mean(each_min)), float(np.mean(each_acc))
        means.append((x, y))
        ax.errorbar([x], [y], xerr=[[x - min(each_min)], [max(each_min) - x]],
                    yerr=[[y - min(each_acc)], [max(each_acc) - y]], fmt="o", color=colors(i % 10), capsize=3,
                    markersize=6, zorder=3, label=(say["one_seed"] if len(each_acc) == 1 else say["seeds"]).format(
                        preset=r["preset"], seeds=len(each_acc)))
        ax.annotate(r["preset"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    front = pareto_front(means)
    if front:
        xs, ys = zip(*front)
        ax.step(xs, ys, where="post", color="black", linewidth=1, alpha=0.6, label=say["pareto_presets"],
                zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel(say["minutes_x_seeds"])
    ax.set_ylabel(label)
    ax.set_title(say["presets_title"])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
