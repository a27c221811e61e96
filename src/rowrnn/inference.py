"""Any photo or drawing -> an image like the run's dataset's (Fashion-MNIST's 28x28 by default) -> the model's
top classes.

    image = load_image("my_shirt.jpg")            # uint8 (28, 28), light garment on black (rowrnn.images)
    predict(model, image[None])                   # [[("Shirt", 0.71), ("T-shirt/top", 0.2), ...]]
    predict_files("runs/demo", ["my_shirt.jpg"])  # the same, from a saved run, converted for its dataset
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePath

import torch

from .constants import IMAGE_SIZE
from .datasets import DEFAULT, class_names_in, dataset_of, prepare_picture
from .errors import RowrnnError
from .images import FITS, decode_image, load_image, prepare_image  # noqa: F401  (re-exported: older imports)
from .pixels import display_pixels, model_dtype, model_input


def example_images() -> dict[str, Path]:
    """The images shipped with rowrnn, by name: e.g. {'boot-on-white': .../examples/boot-on-white.png}."""
    folder = resources.files(__package__) / "examples"
    return {p.name.rsplit(".", 1)[0]: Path(str(p)) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".png")}


def example_paths(names) -> list[Path]:
    """The files of the shipped examples called `names` (see example_images), in order.
    Raises RowrnnError naming the valid names for an unknown one."""
    examples = example_images()
    for name in names:
        if name not in examples:
            raise RowrnnError(f"unknown example {name!r}: choose one of {', '.join(examples)}")
    return [examples[name] for name in names]


@dataclass
class Inputs:
    """Images gathered for prediction, in order: image files, shipped examples, then test images.

    names: as printed (the file's display name, "example:NAME", "test[N]"); images: uint8 (S, S) tensors, S the
    dataset's side (28 for Fashion-MNIST), converted for the dataset; expected: the class name of a test image,
    None for the others; originals: for an image file or example, the picture as given (uint8 RGB (h, w, 3), at
    most 512 px a side), None for a test image (already the dataset's)."""
    names: list[str] = field(default_factory=list)
    images: list[torch.Tensor] = field(default_factory=list)
    expected: list[str | None] = field(default_factory=list)
    originals: list = field(default_factory=list)

    def batch(self) -> torch.Tensor:
        """The images as one uint8 tensor (N, S, S)."""
        return torch.stack(self.images)


def gather_images(paths=(), examples=(), test_set=None, test_indices=(), *, fit: str | None = None,
                  dataset=None, fit_flag: str = "fit") -> Inputs:
    """Image files (any size, colour or grey), shipped examples by name and test images by index -> Inputs.

    dataset: the run's rowrnn.datasets.DatasetInfo (dataset_of(run); default Fashion-MNIST's). Files and
    examples are converted for it by rowrnn.datasets.prepare_picture with `fit`: None (default) for the
    dataset's own (photo_fit: "trim", Fashion-MNIST's conversion, for Fashion-MNIST; "none", fitted whole
    without trimming, for MNIST, KMNIST and EMNIST; a plain image folder's grey resize to its side), "trim" or
    "none" to choose (fit_flag: how messages name it). Test images (from test_set, an ImageDataset, needed only
    with test_indices) are used as they are, named by the dataset's classes. Raises RowrnnError (one line) for
    an unreadable or undecodable file, an unknown example, a fit the dataset does not take, or an index outside
    the test set (naming --test-index, the CLI's flag)."""
    from .images import display_name, read_image_file
    info = dataset if dataset is not None else dataset_of(DEFAULT)
    gathered = Inputs()
    sources = [(path, display_name(path)) for path in paths]
    sources += [(path, f"example:{name}") for name, path in zip(examples, example_paths(examples))]
    for path, name in sources:
        prepared = prepare_picture(read_image_file(path), name, info, fit=fit, flag=fit_flag)
        gathered.names.append(name)
        gathered.images.append(prepared.image)
        gathered.expected.append(None)
        gathered.originals.append(prepared.original)
    for i in test_indices:
        if not 0 <= i < len(test_set):
            raise RowrnnError(f"--test-index {i} is out of range: the test set has {len(test_set)} images "
                              f"(0-{len(test_set) - 1})")
        gathered.names.append(f"test[{i}]")
        gathered.images.append(test_set.images[i])
        gathered.expected.append(info.classes[int(test_set.labels[i])])
        gathered.originals.append(None)                 # already the dataset's: fit does not apply
    return gathered


def explain_method(num_steps: int) -> str:
    """The attribution --explain draws for a reading of num_steps steps: occlusion up to 28 steps (rows, columns,
    strips: exact, gradient-free, and cheaper: 0.03 s an image for a rows GRU-64 on a CPU against 0.1 s for
    integrated gradients), integrated gradients beyond (pixels: occlusion reads 784 copies of a 784-step
    sequence, 6 s an image for a pixels GRU-64 against 3.4 s, and the gap grows with the number of images)."""
    return "occlusion" if num_steps <= IMAGE_SIZE else "integrated-gradients"


def reading_figure(model, images: torch.Tensor, originals=None, *, attributions: torch.Tensor | None = None,
                   attribution_method: str | None = None, value_range=None, labels=None, language: str = "en"):
    """How the guess forms while a recurrent model reads images (N, S, S), S the model's image size (28 for
    Fashion-MNIST), in any form of rowrnn.pixels.model_input's table (uint8 pixels, normalized floats,
    value_range=(0, 1) for ToTensor() floats): a matplotlib Figure (rowrnn.plots.plot_reading) with, per image,
    the picture as given (when originals, a list as long as images of RGB arrays or None, holds any), the S x S
    the network saw with which steps decided its final guess painted over it (rowrnn.attribution,
    explain_method) and its class probabilities after each step (at most 28 points).
    attributions: (N, R, T) scores already computed for the final guesses (rowrnn.attribution.step_attribution,
    by attribution_method, default explain_method's), drawn as given instead of computed again. labels: (N,)
    expected class indices, or None, for the images' titles. language: "en" (default) or "es" (any case), the
    figure's words, and the class names for Fashion-MNIST's (rowrnn.datasets.class_names_in; other datasets'
    as the model names them).
    Raises RowrnnError for a model that does not read step by step (a CNN), images model_input refuses,
    attributions of another shape, or a language that is not one (naming language)."""
    from . import plots
    from .attribution import step_attribution
    from .models import class_names
    plots.words(language)                                           # a bad language: refused before any work
    if not hasattr(model, "step_probabilities"):
        raise RowrnnError("--explain shows how a recurrent model reads; this run is a CNN")
    x = model_input(images, value_range=value_range, size=model.image_size, dtype=model_dtype(model))  # (N, 1, S, S)
    with torch.no_grad():
        probs = model.step_probabilities(x, num_points=min(model.num_steps, 28), value_range=(-1, 1))
    targets = probs[:, -1].argmax(dim=1)                                   # the final guess: what --explain explains
    method = attribution_method or explain_method(model.num_steps)
    if attributions is None:
        scores = step_attribution(model, x, method=method, target=targets, value_range=(-1, 1))     # (N, R, T)
    else:
        scores = torch.as_tensor(attributions)
        expected = (len(x), len(model.readers), model.num_steps)
        if tuple(scores.shape) != expected:
            raise RowrnnError(f"attributions has shape {tuple(scores.shape)}, not (N, R, T) = {expected}: give "
                              "step_attribution's scores for these images")
    return plots.plot_reading(display_pixels(x)[:, 0], probs, class_names_in(class_names(model), language),
                              labels=labels, read=model.read, total_steps=model.num_steps, language=language,
                              originals=originals if originals and any(o is not None for o in originals) else None,
                              attributions=scores, targets=targets, rows_per_step=model.rows_per_step,
                              permutation=getattr(model, "permutation", None), attribution_method=method)


def predict_files(path, images, weights: str = "best", top: int = 3, fit: str | None = None, *,
                  value_range=None) -> list[list[tuple[str, float]]]:
    """Top classes for image files (or images already S x S, the run's image size: 28 for Fashion-MNIST), with a
    saved run (directory or .safetensors beside config.json), named by the run's classes.

    images: file paths (a single path is one file; a list may mix files and single images), or a tensor or
    numpy array of images in the forms of rowrnn.pixels.model_input's table (uint8 pixels or normalized floats;
    value_range=(0, 1) declares ToTensor() floats, for every array given). The files are converted for the run's
    dataset (rowrnn.datasets.prepare_picture): fit None (default) is the dataset's own (photo_fit: "trim", the
    Fashion-MNIST conversion, for Fashion-MNIST; "none" for MNIST, KMNIST and EMNIST, not made by trimming
    photos; a plain image folder's grey resize, where no fit applies); "trim" (background trimmed) or "none"
    (pictures cropped by hand) choose; see rowrnn.images.convert. Raises RowrnnError for no images, something
    that is neither a file nor an array (a PIL image, a number, pixel values in lists: the message names the
    way out), a bad fit or one a plain folder's run does not take, a run or an image that cannot be read, or an
    array model_input refuses.
    """
    from .runs import load_model, resolve_weights
    if fit is not None and fit not in FITS:
        raise RowrnnError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if isinstance(images, (str, bytes, PurePath)):   # one file: iterating a name would read '/' as a folder
        images = [images]
    if _is_array(images):
        info = dataset_of(resolve_weights(path, weights)[0])                   # its config.json: size and classes
        batch = model_input(images, value_range=value_range, size=info.image_size)   # checked before the run loads
    else:
        if hasattr(images, "getpixel") or not hasattr(images, "__iter__"):     # a PIL image, a number
            raise RowrnnError(f"images must be image files (a path or a list of them) or images as a tensor or "
                              f"numpy array, got {type(images).__name__}{_hint(images, 'images')}")
        images = list(images)
        if not images:
            raise RowrnnError("images is empty: give a list of image files, e.g. ['shirt.jpg']")
        for k, p in enumerate(images):
            if not (_is_array(p) or isinstance(p, (str, bytes, PurePath))):
                raise RowrnnError(f"images[{k}] must be an image file or one image as a tensor or numpy array, "
                                  f"got {type(p).__name__}{_hint(p, 'images')}")
        from .images import display_name, read_image_file, sniff_format
        files = {k: read_image_file(p) for k, p in enumerate(images) if not _is_array(p)}
        for k, data in files.items():    # a file that is no accepted image is named before the run is read
            sniff_format(data, display_name(images[k]))
        info = dataset_of(resolve_weights(path, weights)[0])
        S = info.image_size
        batch = torch.cat([model_input(p, value_range=value_range, name=f"images[{k}]", single=True, size=S)
                           if _is_array(p) else model_input(prepare_picture(
                               files[k], display_name(p), info, fit=fit).image, size=S)
                           for k, p in enumerate(images)])
    model, _ = load_model(path, weights)
    return predict(model, batch, top=top, value_range=(-1, 1))


def _hint(value, name: str) -> str:
    """The way out for a PIL image or pixel values in lists given where files or arrays are read ('' for others)."""
    if hasattr(value, "getpixel"):
        return ": save it and give the file (converted as photos are), or np.asarray(image) for a 28x28 grey one"
    if isinstance(value, (list, tuple)):
        return f": np.array({name}, dtype=np.uint8) for one image given as lists of pixel values 0-255"
    return ""


def _is_array(value) -> bool:
    """A tensor or numpy array (images), as opposed to a file name or a list of them."""
    import numpy as np
    return isinstance(value, (torch.Tensor, np.ndarray))


def _takes_value_range(model) -> bool:
    """Whether calling the model accepts value_range= (an OnnxClassifier does: it checks images itself)."""
    import inspect
    try:
        return "value_range" in inspect.signature(model).parameters
    except (TypeError, ValueError):
        return False


@torch.no_grad()
def predict(model, images: torch.Tensor, top: int = 3, classes=None, *,
            value_range=None) -> list[list[tuple[str, float]]]:
    """Images (N, S, S) -> for each, the top classes with their probabilities, named by `classes` (default the
    model's: rowrnn.models.class_names, a loaded run's or an OnnxClassifier's own, Fashion-MNIST's for a bare
    model of 10 outputs). S: model.image_size (28 for Fashion-MNIST).

    images: (N, 1, S, S), (N, S, S) or one image (S, S), a tensor or numpy array in the forms of
    rowrnn.pixels.model_input's table (uint8 pixels 0-255, or floats normalized to [-1, 1]; value_range=(0, 1)
    declares ToTensor() floats). model is a torch model, or anything that maps normalized float images
    (N, 1, S, S) to logits (N, C): an OnnxClassifier runs the same code without PyTorch's model classes. top
    (default 3): classes per image, at most len(classes). Raises RowrnnError for images model_input refuses,
    classes whose number is not the model's outputs, or when the model's answer for an image is NaN or infinite.
    """
    names = _names(model, classes)
    x = model_input(images, value_range=value_range, size=getattr(model, "image_size", IMAGE_SIZE),
                    dtype=model_dtype(model))                                   # (N, 1, S, S), the model's dtype
    if isinstance(model, torch.nn.Module):
        model.eval()
        x = x.to(next(model.parameters()).device)
        logits = model(x)
    elif _takes_value_range(model):       # normalized here already: said, so that no image is read twice
        logits = model(x, value_range=(-1, 1))
    else:
        logits = model(x)
    logits = torch.as_tensor(logits).float().cpu()                              # (N, C)
    probs = logits.softmax(dim=1)
    bad = ~(torch.isfinite(logits).all(dim=1) & torch.isfinite(probs).all(dim=1))
    if bad.any():
        i = int(bad.nonzero()[0])
        what = "not a number (NaN)" if torch.isnan(logits[i]).any() or torch.isnan(probs[i]).any() else "infinite"
        raise RowrnnError(f"the model's answer for image {i} is {what}: the weights are broken; "
                          "retrain or pick other weights")
    return top_classes(probs, top, names)


def _names(model, classes) -> tuple:
    """The class names of a model's outputs: rowrnn.models.class_names for a torch model; for another (an
    OnnxClassifier, whose path never imports rowrnn.models) `classes`, else its own .classes, else
    Fashion-MNIST's."""
    if isinstance(model, torch.nn.Module):
        from .models import class_names
        return class_names(model, classes)
    from .constants import CLASSES
    return tuple(classes if classes is not None else getattr(model, "classes", None) or CLASSES)


def top_classes(probs: torch.Tensor, top: int = 3, classes=None) -> list[list[tuple[str, float]]]:
    """Probabilities (N, C) -> for each row, its `top` (default 3, at most C) classes as (name, probability),
    most probable first; classes: C names (default Fashion-MNIST's)."""
    from .constants import CLASSES
    classes = CLASSES if classes is None else classes
    values, indices = probs.topk(min(top, len(classes)), dim=1)
    return [[(classes[int(i)], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values, indices)]
