"""Any photo or drawing -> a Fashion-MNIST-like 28x28 image -> the model's top classes.

    image = load_image("my_shirt.jpg")            # uint8 (28, 28), light garment on black (rowrnn.images)
    predict(model, image[None])                   # [[("Shirt", 0.71), ("T-shirt/top", 0.2), ...]]
    predict_files("runs/demo", ["my_shirt.jpg"])  # the same, from a saved run
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path, PurePath

import torch

from .constants import CLASSES
from .data import normalize
from .errors import RowrnnError
from .images import FITS, decode_image, load_image, prepare_image  # noqa: F401  (re-exported: older imports)


def example_images() -> dict[str, Path]:
    """The images shipped with rowrnn, by name: e.g. {'boot-on-white': .../examples/boot-on-white.png}."""
    folder = resources.files(__package__) / "examples"
    return {p.name.rsplit(".", 1)[0]: Path(str(p)) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".png")}


def predict_files(path, images, weights: str = "best", top: int = 3,
                  fit: str = "trim") -> list[list[tuple[str, float]]]:
    """Top classes for image files, with a saved run (directory or .safetensors beside config.json).

    images: file paths (a single path is one file). fit: "trim" (the Fashion-MNIST conversion, background
    trimmed) or "none" (pictures cropped by hand); see rowrnn.images.convert. Raises RowrnnError for no
    images, a bad fit, a run or an image that cannot be read.
    """
    from .runs import load_model
    if fit not in FITS:
        raise RowrnnError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if isinstance(images, (str, bytes, PurePath)):   # one file: iterating a name would read '/' as a folder
        images = [images]
    images = list(images)
    if not images:
        raise RowrnnError("images is empty: give a list of image files, e.g. ['shirt.jpg']")
    model, _ = load_model(path, weights)
    return predict(model, torch.stack([load_image(p, fit=fit) for p in images]), top=top)


@torch.no_grad()
def predict(model, images: torch.Tensor, top: int = 3, classes=CLASSES) -> list[list[tuple[str, float]]]:
    """uint8 images (N, 28, 28) -> for each, the top classes with their probabilities.

    model is a torch model, or anything that maps normalized float images (N, 1, 28, 28) to
    logits (N, 10): an OnnxClassifier runs the same code without PyTorch's model classes.
    """
    x = normalize(images).unsqueeze(1)                                          # (N, 1, 28, 28)
    if isinstance(model, torch.nn.Module):
        model.eval()
        x = x.to(next(model.parameters()).device)
    logits = torch.as_tensor(model(x)).float().cpu()                            # (N, 10)
    probs = logits.softmax(dim=1)
    bad = ~(torch.isfinite(logits).all(dim=1) & torch.isfinite(probs).all(dim=1))
    if bad.any():
        i = int(bad.nonzero()[0])
        what = "not a number (NaN)" if torch.isnan(logits[i]).any() or torch.isnan(probs[i]).any() else "infinite"
        raise RowrnnError(f"the model's answer for image {i} is {what}: the weights are broken; "
                          "retrain or pick other weights")
    return top_classes(probs, top, classes)


def top_classes(probs: torch.Tensor, top: int = 3, classes=CLASSES) -> list[list[tuple[str, float]]]:
    values, indices = probs.topk(min(top, len(classes)), dim=1)
    return [[(classes[int(i)], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values, indices)]
