"""What a reading view shows of one model reading one image: the page's per-run answer and what it says of a run.

    view = reading_view(model, image)             # {"steps": (T, 10), "hidden": (T, H), "final": [...], "top": [...]}
    info = panel_info(model, run, "notebook")      # read, steps, rows_per_step, hidden_width, permutation, ...
    text = dumps(view)                             # strict JSON, every tensor written to DIGITS decimals
                                                   # (attribution scores: SIGNIFICANT digits of their largest)

`rowrnn serve` answers /api/predict with one reading_view per run, and the notebook widget sends the same dict to
the same JavaScript (web/render.js), so both draw one thing. The dict holds tensors (the steps and hidden states:
a pixel reader's are about 60,000 numbers, written fast by `dumps`); `jsonable` turns it into plain lists.
"""
from __future__ import annotations

import io
import json
import math
import secrets

import numpy as np
import torch

from .attribution import METHODS, step_attribution
from .constants import IMAGE_SIZE
from .errors import RowrnnError
from .models import class_names, count_parameters
from .pixels import display_pixels, model_dtype, model_input
from .unrolling import unroll

DIGITS = 4                          # probabilities and activations are sent rounded to this many decimals
# attribution scores are in logits, and a weakly trained run's are all under 5e-5: DIGITS decimals would send
# zeros. They are sent with SIGNIFICANT digits of the largest score of their tensor (DIGITS decimals at least)
SIGNIFICANT = 4
MAX_UNROLLED_HIDDEN = 16            # the numbers view's limit (rowrnn.unrolling.unroll's max_hidden): more is not readable
# occlusion reads R*T copies of the image, each of T steps: R*T*T steps read. Rows, columns, strips and
# rows+columns (at most 2 x 28 x 28 = 1568) are well under a second; a pixel reader's 784 x 784 = 614,656 took
# 6-9 s on 2 CPU cores, which would hold one of serve's prediction slots that long: it is not computed
OCCLUSION_BUDGET = 2 * IMAGE_SIZE * IMAGE_SIZE
NOT_FINITE = ("this run's weights give NaN or infinite outputs (a diverged training?): "
              "retrain it, or serve other weights")


def is_recurrent(model) -> bool:
    """Whether the model reads step by step (an RNNClassifier) rather than all at once (a CNN)."""
    return hasattr(model, "step_logits")


def panel_info(model, run=None, name: str = "model", *, index: int = 0, test_accuracy: float | None = None,
               classes=None) -> dict:
    """What a page or widget says about one model beside its reading: a dict (JSON-able) of

    id (index), name, preset (run.config.preset; None without a run), parameters, test_accuracy (as given: None
    when nothing recorded it), recurrent, read ("rows", "columns", "rows+columns", "pixels", "permuted-pixels";
    None for a CNN), steps (T), rows_per_step, hidden_width (the width of `hidden` in reading_view: hidden size
    x directions x readers), hidden_size (one direction of one reader's), permutation (the pixel order of a
    permuted-pixels reader, else None), classes (the names of its outputs in label order: `classes`, else
    models.class_names(model): a loaded run's dataset's), image_size (S: the side of the S x S images it reads,
    the size pixels are sent at) and step_lines (for each step, [first, last] row (or column, 0-based, inclusive)
    it reads: a strip of rows_per_step lines; None for pixel readers and a CNN). The fields for steps are None
    for a CNN. `run` is runs.load_model's second value, or None for a bare model. Raises RowrnnError naming
    `classes` when their number is not the model's outputs.
    """
    recurrent = is_recurrent(model)
    read = model.read if recurrent else None
    return {
        "id": index, "name": name, "preset": run.config.preset if run is not None else None,
        "parameters": count_parameters(model),
        "test_accuracy": test_accuracy,
        "recurrent": recurrent,
        "read": read,
        "steps": model.num_steps if recurrent else None,
        "rows_per_step": model.rows_per_step if recurrent else None,
        "hidden_width": (model.hidden_size * (2 if model.bidirectional else 1) * len(model.readers)
                         if recurrent else None),
        "hidden_size": model.hidden_size if recurrent else None,
        # the order a permuted-pixels reader takes the pixels in, so the page can light them up
        "permutation": model.permutation.tolist() if read == "permuted-pixels" else None,
        "classes": list(class_names(model, classes)),
        "image_size": int(getattr(model, "image_size", IMAGE_SIZE)),
        "step_lines": ([[t * model.rows_per_step, (t + 1) * model.rows_per_step - 1] for t in range(model.num_steps)]
                       if recurrent and "pixels" not in read else None),
    }


def as_image(image, *, value_range=None, size: int = IMAGE_SIZE) -> torch.Tensor:
    """One image in any form of rowrnn.pixels.model_input's table ((S, S), (1, S, S) or (1, 1, S, S), S = size,
    default 28: a model's image_size for other datasets; uint8 pixels or normalized floats; value_range=(0, 1)
    declares ToTensor() floats) -> uint8 tensor (S, S), light on black, rounded to the nearest grey level: what
    a page draws. Raises RowrnnError naming `image` for anything model_input refuses."""
    return display_pixels(model_input(image, value_range=value_range, name="image", single=True, size=size))[0, 0]


def _model_image(image, value_range, model) -> torch.Tensor:
    """One image in an accepted form -> (1, 1, S, S) (S = model.image_size) in the model's units and dtype
    (float32, or float64 for a model in double precision), on the CPU."""
    return model_input(image, value_range=value_range, name="image", single=True,
                       size=getattr(model, "image_size", IMAGE_SIZE), dtype=model_dtype(model)).detach().cpu()


def reading_view(model, image, *, attribution: bool = True, unrolled: bool = True,
                 methods: tuple[str, ...] = METHODS, value_range=None, classes=None) -> dict:
    """One model's reading of one image, as the page shows it: image -> dict of

    steps: (T, C) tensor, the class probabilities after each step t = 1..T (None for a CNN), C the model's
    classes (`classes`, else models.class_names(model): a loaded run's own; Fashion-MNIST's 10 by default);
    hidden: (T, H) tensor, the hidden state h_t after each step, H = panel_info's hidden_width (None for a CNN);
    final: C probabilities (a list, rounded to DIGITS), after the whole image (steps' last row);
    top: [{"class": name, "probability": p} x 3 (C if fewer)], best first, named by the model's classes;
    attribution (when `attribution`; None for a CNN): which steps decided the predicted class, by
    rowrnn.attribution.step_attribution: {"target": class index, "class": its name, "occlusion": (R, T) tensor
    or None when over OCCLUSION_BUDGET (pixel readers), "integrated-gradients": (R, T) tensor}, in logits
    (R = 2 readers for rows+columns, else 1); only the methods named in `methods` are computed (a method left
    out is None: a view that draws one, as the widget does with drawn_method, computes one);
    unrolled (when `unrolled`): rowrnn.unrolling.unroll's dict, the recurrence's vectors at every step rounded to DIGITS,
    for a recurrent model of hidden size up to MAX_UNROLLED_HIDDEN; None for a larger one or a CNN;
    unrolled_reason (when `unrolled`): why unrolled is None (UNROLLED_REASONS: "hidden-size", "not-finite",
    "not-recurrent"), else None;
    or {"error": one line} when the weights give NaN or infinite outputs (nothing else is then sent).

    image: one image, (S, S), (1, S, S) or (1, 1, S, S) with S = model.image_size (28 for Fashion-MNIST), in the
    forms of rowrnn.pixels.model_input's table
    (uint8 pixels, as serve sends, or normalized floats; value_range=(0, 1) declares ToTensor() floats); every
    part of the view reads the same normalized float32 image.
    The model is used as given (put it in eval mode). Raises RowrnnError for an image (or value_range) that
    model_input refuses, an unknown method in methods, or classes whose number is not the model's outputs.
    """
    names = class_names(model, classes)
    x = _model_image(image, value_range, model)                              # (1, 1, S, S)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise RowrnnError(f"methods must be among {', '.join(METHODS)}, got {unknown[0]!r}")
    with torch.inference_mode():
        if is_recurrent(model):
            logits, hidden = model.reading(x, value_range=(-1, 1))       # x: normalized above
            steps, hidden = logits[0].softmax(-1), hidden[0]                 # (T, C), (T, H)
            final = steps[-1]
            finite = bool(torch.isfinite(logits).all() and torch.isfinite(hidden).all())
        else:
            logits = model(x)[0]
            steps = hidden = None
            final = logits.softmax(-1)
            finite = bool(torch.isfinite(logits).all())
        if not finite:
            return {"error": NOT_FINITE}
        values, indices = final.topk(min(3, len(names)))
        view = {"steps": steps, "hidden": hidden, "final": rounded(final),
                "top": [{"class": names[int(i)], "probability": round(float(v), DIGITS)}
                        for v, i in zip(values, indices)]}
    if attribution:
        view["attribution"] = (attribution_scores(model, x[0, 0], int(indices[0]), methods=methods, classes=names)
                               if is_recurrent(model) else None)
    if unrolled:
        view["unrolled"], view["unrolled_reason"] = unrolled_numbers(model, x[0, 0])
    return view


def attribution_view(model, image, *, value_range=None, classes=None) -> dict | None:
    """Which steps decided the model's answer for one image (the forms of reading_view's image):
    attribution_scores for the class it predicts; None for a CNN or when its outputs are not finite. Raises
    RowrnnError for an image (or value_range) that rowrnn.pixels.model_input refuses."""
    names = class_names(model, classes)
    x = _model_image(image, value_range, model)                              # (1, 1, S, S)
    if not is_recurrent(model):
        return None
    with torch.inference_mode():
        logits = model(x)[0]
    if not bool(torch.isfinite(logits).all()):
        return None
    return attribution_scores(model, x[0, 0], int(logits.argmax()), classes=names)


def occlusion_affordable(model) -> bool:
    """Whether occluding each step of a recurrent model is within OCCLUSION_BUDGET steps read (R * T * T)."""
    return len(model.readers) * model.num_steps ** 2 <= OCCLUSION_BUDGET


def drawn_method(model) -> str:
    """The attribution a view draws first for a recurrent model: occlusion where affordable (rows, columns,
    strips, rows+columns), else integrated gradients (pixel readers); what the widget computes alone."""
    return "occlusion" if occlusion_affordable(model) else "integrated-gradients"


def attribution_scores(model, image: torch.Tensor, target: int, *, methods: tuple[str, ...] = METHODS,
                       classes=None) -> dict:
    """Which steps moved the logit of class `target` (rowrnn.attribution) in one image, normalized float (S, S)
    (model_input's output): {"target", "class" (its name among `classes`, else models.class_names(model)),
    "occlusion", "integrated-gradients"}, each method's scores an
    (R, T) tensor, or None when not finite, not among `methods` (not computed) or (occlusion) over
    OCCLUSION_BUDGET steps read."""
    scores = {"target": target, "class": class_names(model, classes)[target]}
    for method in METHODS:
        if method not in methods or (method == "occlusion" and not occlusion_affordable(model)):
            scores[method] = None
            continue
        found = step_attribution(model, image[None], method=method, target=target, value_range=(-1, 1))[0]  # (R, T)
        scores[method] = found if bool(torch.isfinite(found).all()) else None
    return scores


UNROLLED_REASONS = ("not-recurrent", "hidden-size", "not-finite")    # why a view has no unrolled numbers


def unrolled_numbers(model, image: torch.Tensor) -> tuple[dict | None, str | None]:
    """For one normalized float image (S, S) (model_input's output):
    (rowrnn.unrolling.unroll's numbers rounded to DIGITS, None) for a recurrent model of hidden size up to
    MAX_UNROLLED_HIDDEN; else (None, why) with why one of UNROLLED_REASONS: "not-recurrent" (a CNN),
    "hidden-size" (over MAX_UNROLLED_HIDDEN), "not-finite" (a NaN or infinity in the recurrence's numbers)."""
    if not is_recurrent(model):
        return None, "not-recurrent"
    if model.hidden_size > MAX_UNROLLED_HIDDEN:
        return None, "hidden-size"
    try:
        return unroll(model, image, max_hidden=MAX_UNROLLED_HIDDEN, decimals=DIGITS, value_range=(-1, 1)), None
    except RowrnnError:          # NaN in a gate while the outputs stay finite: nothing to show, the rest stands
        return None, "not-finite"


def rounded(t: torch.Tensor) -> list:
    """A tensor -> nested lists of its values rounded to DIGITS decimals."""
    return (torch.round(t * 10**DIGITS) / 10**DIGITS).tolist()


def jsonable(value):
    """A reading view (or any dict/list holding tensors) as plain Python values, exactly as the page receives it
    (json.loads of dumps: every tensor as nested lists of floats to DIGITS decimals, attribution scores to
    SIGNIFICANT digits): what a widget's traitlets take. A NaN or infinity is a ValueError, as in dumps."""
    return json.loads(dumps(value))


def dumps(value) -> str:
    """Strict JSON text, with each tensor (the steps and hidden states) written by numpy to DIGITS decimals: a
    pixel reader's answer holds about 60,000 numbers, and Python's float repr alone took longer than the model.
    A tensor inside a dict held under the key "attribution" is written with SIGNIFICANT digits of its largest
    value instead (DIGITS decimals at least), so that a weak run's scores of 1e-5 logits are not sent as zeros.
    Everything else goes through json's C encoder in one pass (the unrolled numbers: lists of ~250,000 floats).
    A NaN or infinity anywhere is a ValueError, never written (JSON has no such numbers)."""
    scored = set()
    _find_scores(value, False, scored)
    marker = f"\0rowrnn-tensor-{secrets.token_hex(8)}-"     # a tensor's place in json's text, then its own text
    texts = []

    def tensor(item):
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")
        texts.append(_tensor_json(item, id(item) in scored))
        return f"{marker}{len(texts) - 1}"

    text = json.dumps(value, default=tensor, allow_nan=False, separators=(",", ":"))
    quoted = json.dumps(marker)[:-1]                          # '"\u0000rowrnn-tensor-...-'
    parts = text.split(quoted)
    out = [parts[0]]
    for part in parts[1:]:                                    # part: 'K"' then what follows the tensor
        k, rest = part.split('"', 1)
        out.append(texts[int(k)] + rest)
    return "".join(out)


def _find_scores(value, inside: bool, found: set) -> None:
    """The ids of the tensors held (at any depth) under a dict key "attribution", into `found`. Lists of numbers
    are not walked (their first item says so): only dicts and lists of containers are."""
    if isinstance(value, torch.Tensor):
        if inside:
            found.add(id(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _find_scores(item, inside or key == "attribution", found)
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], (dict, list, tuple, torch.Tensor)):
        for item in value:
            _find_scores(item, inside, found)


def _tensor_json(t: torch.Tensor, significant: bool) -> str:
    """A tensor of any shape -> JSON nested lists (a 1-D tensor is one list), each number to DIGITS decimals, or
    (significant) to SIGNIFICANT digits of the largest magnitude. Raises ValueError for a NaN or infinity."""
    if not torch.isfinite(t).all():
        raise ValueError("a non-finite number in an answer")
    array = t.detach().float().cpu().numpy()
    decimals = DIGITS
    if significant and array.size and np.abs(array).max() > 0:
        decimals = max(DIGITS, SIGNIFICANT - 1 - math.floor(math.log10(float(np.abs(array).max()))))
    if array.size == 0 or array.ndim == 0:
        plain = round(array.tolist(), decimals) if array.ndim == 0 else array.tolist()
        return json.dumps(plain, separators=(",", ":"))
    return _rows_json(array, f"%.{decimals}f")


def _rows_json(array: np.ndarray, fmt: str) -> str:
    """A non-empty 1-D or higher numpy array -> JSON text, each number written by numpy with fmt."""
    if array.ndim > 2:
        return "[" + ",".join(_rows_json(part, fmt) for part in array) + "]"
    buffer = io.StringIO()
    np.savetxt(buffer, array.reshape(-1, array.shape[-1]), fmt=fmt, delimiter=",", newline="],[")
    rows = buffer.getvalue()[:-3]                              # "a,b],[c,d],["  ->  "a,b],[c,d"
    return "[" + rows + "]" if array.ndim == 1 else "[[" + rows + "]]"
