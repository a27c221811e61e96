"""Any photo or drawing -> a Fashion-MNIST-like 28x28 image -> the model's top classes.

    image = load_image("my_shirt.jpg")            # uint8 (28, 28), light garment on black (rowrnn.images)
    predict(model, image[None])                   # [[("Shirt", 0.71), ("T-shirt/top", 0.2), ...]]
    predict_files("runs/demo", ["my_shirt.jpg"])  # the same, from a saved run
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePath

import torch

from .constants import CLASSES, IMAGE_SIZE
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

    names: as printed (the file's display name, "example:NAME", "test[N]"); images: uint8 (28, 28) tensors,
    light garment on black; expected: the class name of a test image, None for the others; originals: for an
    image file or example, the picture as given (uint8 RGB (h, w, 3), at most 512 px a side), None for a test
    image (already 28x28)."""
    names: list[str] = field(default_factory=list)
    images: list[torch.Tensor] = field(default_factory=list)
    expected: list[str | None] = field(default_factory=list)
    originals: list = field(default_factory=list)

    def batch(self) -> torch.Tensor:
        """The images as one uint8 tensor (N, 28, 28)."""
        return torch.stack(self.images)


def gather_images(paths=(), examples=(), test_set=None, test_indices=(), *, fit: str = "trim") -> Inputs:
    """Image files (any size, colour or grey), shipped examples by name and test images by index -> Inputs.

    Files and examples become 28x28 through rowrnn.images.prepare_image with `fit` ("trim": Fashion-MNIST's own
    conversion; "none": pictures cropped by hand); test images (from test_set, an ImageDataset, needed only with
    test_indices) are used as they are. Raises RowrnnError (one line) for an unreadable or undecodable file, an
    unknown example, or an index outside the test set (naming --test-index, the CLI's flag)."""
    from .images import display_name, read_image_file
    gathered = Inputs()
    sources = [(path, display_name(path)) for path in paths]
    sources += [(path, f"example:{name}") for name, path in zip(examples, example_paths(examples))]
    for path, name in sources:
        prepared = prepare_image(read_image_file(path), name, fit=fit)
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
        gathered.expected.append(CLASSES[int(test_set.labels[i])])
        gathered.originals.append(None)                 # already 28x28: fit does not apply
    return gathered


def explain_method(num_steps: int) -> str:
    """The attribution --explain draws for a reading of num_steps steps: occlusion up to 28 steps (rows, columns,
    strips: exact, gradient-free, and cheaper: 0.03 s an image for a rows GRU-64 on a CPU against 0.1 s for
    integrated gradients), integrated gradients beyond (pixels: occlusion reads 784 copies of a 784-step
    sequence, 6 s an image for a pixels GRU-64 against 3.4 s, and the gap grows with the number of images)."""
    return "occlusion" if num_steps <= IMAGE_SIZE else "integrated-gradients"


def reading_figure(model, images: torch.Tensor, originals=None, *, attributions: torch.Tensor | None = None,
                   attribution_method: str | None = None, value_range=None):
    """How the guess forms while a recurrent model reads images (N, 28, 28) (any form of rowrnn.pixels.model_input's
    table: uint8 pixels, normalized floats, value_range=(0, 1) for ToTensor() floats): a matplotlib Figure with, per
    image, the picture as given (when originals, a list as long as images of RGB arrays or None, holds any),
    the 28x28 the network saw with which steps decided its final guess painted over it (rowrnn.attribution,
    explain_method) and its class probabilities after each step (at most 28 points).
    attributions: (N, R, T) scores already computed for the final guesses (rowrnn.attribution.step_attribution,
    by attribution_method, default explain_method's), drawn as given instead of computed again.
    Raises RowrnnError for a model that does not read step by step (a CNN), images model_input refuses, or
    attributions of another shape."""
    from . import plots
    from .attribution import step_attribution
    if not hasattr(model, "step_probabilities"):
        raise RowrnnError("--explain shows how a recurrent model reads; this run is a CNN")
    x = model_input(images, value_range=value_range, dtype=model_dtype(model))     # (N, 1, 28, 28)
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
    return plots.plot_reading(display_pixels(x)[:, 0], probs, read=model.read, total_steps=model.num_steps,
                              originals=originals if originals and any(o is not None for o in originals) else None,
                              attributions=scores, targets=targets, rows_per_step=model.rows_per_step,
                              permutation=getattr(model, "permutation", None), attribution_method=method)


def predict_files(path, images, weights: str = "best", top: int = 3, fit: str = "trim", *,
                  value_range=None) -> list[list[tuple[str, float]]]:
    """Top classes for image files (or images already 28x28), with a saved run (directory or .safetensors beside
    config.json).

    images: file paths (a single path is one file; a list may mix files and single images), or a tensor or
    numpy array of images in the forms of rowrnn.pixels.model_input's table (uint8 pixels or normalized floats;
    value_range=(0, 1) declares ToTensor() floats, for every array given). fit: "trim" (the Fashion-MNIST
    conversion, background trimmed) or "none" (pictures cropped by hand) for the files; see
    rowrnn.images.convert. Raises RowrnnError for no images, something that is neither a file nor an array
    (a PIL image, a number, pixel values in lists: the message names the way out), a bad fit, a run or an image
    that cannot be read, or an array model_input refuses.
    """
    from .runs import load_model
    if fit not in FITS:
        raise RowrnnError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if isinstance(images, (str, bytes, PurePath)):   # one file: iterating a name would read '/' as a folder
        images = [images]
    if _is_array(images):
        batch = model_input(images, value_range=value_range)                  # checked before the run loads
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
        batch = torch.cat([model_input(p, value_range=value_range, name=f"images[{k}]", single=True)
                           if _is_array(p) else model_input(load_image(p, fit=fit))
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
def predict(model, images: torch.Tensor, top: int = 3, classes=CLASSES, *,
            value_range=None) -> list[list[tuple[str, float]]]:
    """Images (N, 28, 28) -> for each, the top classes with their probabilities.

    images: (N, 1, 28, 28), (N, 28, 28) or one image (28, 28), a tensor or numpy array in the forms of
    rowrnn.pixels.model_input's table (uint8 pixels 0-255, or floats normalized to [-1, 1]; value_range=(0, 1)
    declares ToTensor() floats). model is a torch model, or anything that maps normalized float images
    (N, 1, 28, 28) to logits (N, 10): an OnnxClassifier runs the same code without PyTorch's model classes. top
    (default 3): classes per image, at most len(classes). Raises RowrnnError for images model_input refuses, or
    when the model's answer for an image is NaN or infinite.
    """
    x = model_input(images, value_range=value_range, dtype=model_dtype(model))  # (N, 1, 28, 28), the model's dtype
    if isinstance(model, torch.nn.Module):
        model.eval()
        x = x.to(next(model.parameters()).device)
        logits = model(x)
    elif _takes_value_range(model):       # normalized here already: said, so that no image is read twice
        logits = model(x, value_range=(-1, 1))
    else:
        logits = model(x)
    logits = torch.as_tensor(logits).float().cpu()                              # (N, 10)
    probs = logits.softmax(dim=1)
    bad = ~(torch.isfinite(logits).all(dim=1) & torch.isfinite(probs).all(dim=1))
    if bad.any():
        i = int(bad.nonzero()[0])
        what = "not a number (NaN)" if torch.isnan(logits[i]).any() or torch.isnan(probs[i]).any() else "infinite"
        raise RowrnnError(f"the model's answer for image {i} is {what}: the weights are broken; "
                          "retrain or pick other weights")
    return top_classes(probs, top, classes)


def top_classes(probs: torch.Tensor, top: int = 3, classes=CLASSES) -> list[list[tuple[str, float]]]:
    """Probabilities (N, C) -> for each row, its `top` (default 3, at most C) classes as (name, probability),
    most probable first."""
    values, indices = probs.topk(min(top, len(classes)), dim=1)
    return [[(classes[int(i)], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values, indices)]
