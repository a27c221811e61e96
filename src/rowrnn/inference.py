"""Any photo or drawing -> a Fashion-MNIST-like 28x28 image -> the model's top classes.

    image = load_image("my_shirt.jpg")            # uint8 (28, 28), light garment on black
    predict(model, image[None])                   # [[("Shirt", 0.71), ("T-shirt/top", 0.2), ...]]
    predict_files("runs/demo", ["my_shirt.jpg"])  # the same, from a saved run
"""
from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from . import files
from .constants import CLASSES, IMAGE_SIZE
from .data import normalize
from .errors import RowrnnError

MAX_PIXELS = 50_000_000        # refuse larger images from their header, before decoding (e.g. 20000 x 20000)
MAX_IMAGE_BYTES = 64 * 2**20   # and files larger than this before reading them


def example_images() -> dict[str, Path]:
    """The images shipped with rowrnn, by name: e.g. {'boot-on-white': .../examples/boot-on-white.png}."""
    folder = resources.files(__package__) / "examples"
    return {p.name.rsplit(".", 1)[0]: Path(str(p)) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".png")}


def load_image(path) -> torch.Tensor:
    """PNG/JPEG/... of any size, colour or grey -> uint8 (28, 28) as Fashion-MNIST draws it.

    Grey, fitted into 28x28 keeping the aspect ratio, padded with the background, and
    inverted when the background is light (Fashion-MNIST garments are light on black).
    """
    path = Path(path)
    if files.is_dir(path):
        raise RowrnnError(f"{path}: is a directory: name image files (e.g. {path}/*.png)")
    return decode_image(files.read_file(path, limit=MAX_IMAGE_BYTES, what="image"), str(path))


def decode_image(data: bytes, source: str = "image") -> torch.Tensor:
    """The bytes of an image file -> uint8 (28, 28), as load_image; source names it in errors."""
    from PIL import Image, UnidentifiedImageError
    path = source
    if not data:
        raise RowrnnError(f"{path}: empty file (0 bytes): give a PNG or JPEG image")
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise RowrnnError(f"{path}: {width}x{height} pixels is over the limit of "
                                  f"{MAX_PIXELS // 1_000_000} megapixels: shrink it first")
            if getattr(im, "n_frames", 1) > 1:
                raise RowrnnError(f"{path}: an animated image with {im.n_frames} frames: save one frame as PNG")
            grey = _to_grey(im)
    except Image.DecompressionBombError:  # PIL's own, stricter-than-ours limit, raised by open()
        raise RowrnnError(f"{path}: the image is over the limit of {MAX_PIXELS // 1_000_000} megapixels: "
                          "shrink it first") from None
    except UnidentifiedImageError as e:
        raise RowrnnError(f"{path}: not an image PIL can read ({e.__class__.__name__}): give a PNG or JPEG") from None
    except OSError as e:
        raise RowrnnError(f"{path}: damaged or unreadable image ({e}): give a PNG or JPEG") from None
    return fit_to_mnist(grey)


def _to_grey(im) -> np.ndarray:
    """float32 grey in [0, 255], 16-bit and alpha images included (alpha composited over white)."""
    from PIL import Image
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return (np.clip(a, 0, scale) * (255.0 / scale)).astype(np.float32)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("L"), dtype=np.float32)


def fit_to_mnist(grey: np.ndarray) -> torch.Tensor:
    """float grey (H, W) -> uint8 (28, 28): aspect-preserving fit, background padding, light-background inversion."""
    from PIL import Image
    h, w = grey.shape
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    scale = IMAGE_SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(grey).resize((new_w, new_h), Image.Resampling.BOX))
    canvas = np.full((IMAGE_SIZE, IMAGE_SIZE), background, dtype=np.float32)
    top, left = (IMAGE_SIZE - new_h) // 2, (IMAGE_SIZE - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    if background > 127.5:
        canvas = 255.0 - canvas
    return torch.from_numpy(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))


def predict_files(path, images, weights: str = "best", top: int = 3) -> list[list[tuple[str, float]]]:
    """Top classes for image files, with a saved run (directory or .safetensors beside config.json)."""
    from .runs import load_model
    model, _ = load_model(path, weights)
    return predict(model, torch.stack([load_image(p) for p in images]), top=top)


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
    probs = torch.as_tensor(model(x)).float().softmax(dim=1).cpu()              # (N, 10)
    return top_classes(probs, top, classes)


def top_classes(probs: torch.Tensor, top: int = 3, classes=CLASSES) -> list[list[tuple[str, float]]]:
    values, indices = probs.topk(min(top, len(classes)), dim=1)
    return [[(classes[int(i)], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values, indices)]
