"""How well a trained run reads garments as people photograph, scan, cut out and draw them -- a development
benchmark, not part of the package.

Test garments are rendered under named conditions (white paper, margins, off-centre, each EXIF orientation,
beige paper with noise and light fall-off saved as JPEG, shadows, cut-outs in every transparency form,
white garments, outline drawings), saved as files, read back through rowrnn.images.decode_image -- the path
`rowrnn predict`, the API and the page share -- and classified. Each condition's accuracy is set against
the same garments' own 28x28 images.

    python benchmarks/photos.py /tmp/photos-fast --data-dir /usr/share/datasets/fashion-mnist
    rows = run_benchmark("/tmp/photos-fast", count=150)   # from Python, with benchmarks/ on sys.path
    print(format_table(rows))

A photographed garment is the negated Fashion-MNIST image (dark garment on light ground, as the product
photos were before the dataset's conversion negated them) enlarged smoothly (BICUBIC) to 200-400 px and
placed on the paper.
"""
from __future__ import annotations

import argparse
import io
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageFilter

from rowrnn.constants import CLASSES
from rowrnn.data import load_split
from rowrnn.images import decode_image
from rowrnn.inference import predict
from rowrnn.runs import load_model

ORIENTATIONS = {  # EXIF value -> how the camera stored the upright picture (the inverse of what a viewer does)
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# ----------------------------------------------------------------------------- rendering

def garment(image: np.ndarray, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """A 28x28 light-on-black image -> float (s, s) at 0-1, its light parts as they are (1 = brightest garment)."""
    size = size or int(rng.integers(200, 401))
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255.0


def on_paper(shade: np.ndarray, paper, fraction: float, rng, where: str = "centre") -> np.ndarray:
    """A dark garment (1 - shade multiplies the paper) on paper of RGB colour `paper`; the garment's side is
    `fraction` of the frame's; where: centre, or corner (pushed into a random corner, 4 % from its edges)."""
    s = shade.shape[0]
    frame = int(round(s / fraction))
    canvas = np.ones((frame, frame, 3), np.float32) * np.asarray(paper, np.float32)
    if where == "centre":
        top = left = (frame - s) // 2
    else:
        edge = int(0.04 * frame)
        top = edge if rng.random() < 0.5 else frame - s - edge
        left = edge if rng.random() < 0.5 else frame - s - edge
    canvas[top:top + s, left:left + s] *= (1.0 - shade)[:, :, None]
    return canvas


def encode(pixels: np.ndarray, fmt: str = "PNG", mode: str | None = None, **params) -> bytes:
    array = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    im = Image.fromarray(array) if mode is None else Image.fromarray(array, mode)
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def white_paper(image, rng, fraction=0.95, where="centre"):
    return encode(on_paper(garment(image, rng), (250, 250, 248), fraction, rng, where))


def exif_photo(image, rng, orientation: int) -> bytes:
    """The 60 % photo, its pixels stored as the camera held it, with the Orientation tag; JPEG as phones save."""
    upright = Image.fromarray(np.clip(np.rint(on_paper(garment(image, rng), (250, 250, 248), 0.6, rng)), 0, 255)
                              .astype(np.uint8))
    stored = upright.transpose(ORIENTATIONS[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def falloff(shape, strength: float) -> np.ndarray:
    """Lens vignetting: 1 in the centre, 1 - strength in the corners (quadratic in the radius)."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    return 1.0 - strength * r2 / 2


def beige_jpeg(image, rng, paper=(236, 222, 192)) -> bytes:
    """Coloured paper, 60 % of the frame, light falling off by 25 % to the corners, sensor noise, JPEG 85."""
    canvas = on_paper(garment(image, rng), paper, 0.6, rng)
    canvas *= falloff(canvas.shape[:2], 0.25)[:, :, None]
    canvas += rng.normal(0, 5, canvas.shape).astype(np.float32)
    return encode(canvas, "JPEG", quality=85)


def shadowed(image, rng, kind: str = "lamp") -> bytes:
    """60 % of the frame on white paper under a lamp: kind "lamp", the garment's own soft shadow (its shape,
    blurred, offset down-right, 35 % dark) and the light falling by 20 % across the page; kind "hand", a
    broad soft shadow over the left third of the page (a hand or a phone), 25 % dark."""
    shade = garment(image, rng)
    s = shade.shape[0]
    canvas = on_paper(shade, (250, 250, 248), 0.6, rng)
    frame = canvas.shape[0]
    x = np.arange(frame, dtype=np.float32)[None, :] / frame
    if kind == "hand":
        canvas *= (1 - 0.25 * np.clip((0.35 - x) / 0.2, 0, 1) * np.ones((frame, 1), np.float32))[:, :, None]
        return encode(canvas)
    inside = np.clip(shade * 4, 0, 1)
    silhouette = np.zeros((frame, frame), np.float32)
    top, off = (frame - s) // 2, (frame - s) // 2 + int(0.04 * s)
    silhouette[off:off + s, off:off + s] = inside
    blurred = np.asarray(Image.fromarray(np.uint8(silhouette * 255)).filter(ImageFilter.GaussianBlur(0.03 * s)),
                         np.float32) / 255
    darkening = 1 - 0.35 * blurred
    darkening[top:top + s, top:top + s] = np.maximum(darkening[top:top + s, top:top + s], inside)  # not on it
    y = np.arange(frame, dtype=np.float32)[:, None] / frame
    canvas *= (darkening * (1 - 0.2 * (x + y) / 2))[:, :, None]
    return encode(canvas)


def cutout(image, rng, form: str) -> bytes:
    """The garment alone, transparent around it. form: RGBA, LA (hidden colour black), P (palette, index 0
    transparent), RGB-tRNS and L-tRNS (a black key colour, what PNG optimisers write; garment pixels kept
    above it), white-RGBA (a white garment shaded as the dataset's image: its pixels are that image's, light
    on the transparent), white-RGBA-191 (a white garment as a camera sees it: every pixel 191-255)."""
    light = garment(image, rng)                                       # (s, s) 0-1, bright = garment
    alpha = np.clip(light * 6, 0, 1)                                   # soft outline, garment opaque
    dark = 255 * (1 - light) * 0.9                                     # a darker-than-paper garment at 0-230
    if form == "white-RGBA":
        colour = 255 * np.clip(light, 0, 1)
        return encode(np.dstack([colour] * 3 + [alpha * 255]), mode="RGBA")
    if form == "white-RGBA-191":                                          # a white garment as a camera sees it
        colour = 255 - 0.25 * 255 * (1 - light)                           # 191-255, its folds a quarter as deep
        return encode(np.dstack([colour] * 3 + [alpha * 255]), mode="RGBA")
    if form == "RGBA":
        return encode(np.dstack([dark] * 3 + [alpha * 255]) * (alpha[:, :, None] > 0), mode="RGBA")
    if form == "LA":
        return encode(np.dstack([dark * (alpha > 0), alpha * 255]), mode="LA")
    key = alpha < 0.5                                                   # tRNS and palettes: on or off
    grey = np.clip(np.rint(dark), 1, 255)
    grey[key] = 0
    if form == "L-tRNS":
        return encode(grey, transparency=0)
    if form == "RGB-tRNS":
        return encode(np.dstack([grey] * 3), transparency=(0, 0, 0))
    im = Image.fromarray(grey.astype(np.uint8), "L").convert("P")     # a grey palette, index = value
    im.putpalette([v for g in range(256) for v in (g, g, g)])
    out = io.BytesIO()
    im.save(out, "PNG", transparency=0)
    return out.getvalue()


def drawing(image, rng) -> bytes:
    """Thin dark strokes (3 px) of the garment's outline on a white canvas, the garment 55 % of it."""
    light = garment(image, rng)
    inside = Image.fromarray(((light > 0.12) * 255).astype(np.uint8))
    edge = np.asarray(inside.filter(ImageFilter.MaxFilter(3)), np.int16) - np.asarray(
        inside.filter(ImageFilter.MinFilter(3)), np.int16)
    shade = (edge > 0).astype(np.float32) * 0.85
    return encode(on_paper(shade, (255, 255, 255), 0.55, rng))


CONDITIONS = {
    "white paper, filling the frame": lambda im, rng: white_paper(im, rng, 0.95),
    "white paper, 60 % of the frame": lambda im, rng: white_paper(im, rng, 0.6),
    "white paper, 40 %, in a corner": lambda im, rng: white_paper(im, rng, 0.4, "corner"),
    **{f"phone photo, EXIF orientation {k}": (lambda k: lambda im, rng: exif_photo(im, rng, k))(k)
       for k in range(2, 9)},
    "beige paper, fall-off, noise, JPEG": beige_jpeg,
    "blue paper, fall-off, noise, JPEG": lambda im, rng: beige_jpeg(im, rng, paper=(170, 200, 235)),
    "lamp: the garment's shadow, light gradient": shadowed,
    "a hand's shadow over one side": lambda im, rng: shadowed(im, rng, "hand"),
    **{f"cut-out, {form}": (lambda form: lambda im, rng: cutout(im, rng, form))(form)
       for form in ("RGBA", "LA", "P", "RGB-tRNS", "L-tRNS")},
    "white garment, RGBA cut-out (shaded as the dataset)": lambda im, rng: cutout(im, rng, "white-RGBA"),
    "white garment, RGBA cut-out (pixels 191-255)": lambda im, rng: cutout(im, rng, "white-RGBA-191"),
    "outline drawing": drawing,
}


# ----------------------------------------------------------------------------- measuring

def run_benchmark(run, count: int = 150, seed: int = 0, data_dir=None, fit: str = "trim",
                  conditions=None) -> list[tuple[str, float, float]]:
    """[(condition, accuracy, seconds)], the first row the garments' own 28x28 images."""
    model, _ = load_model(run)
    test = load_split(data_dir, "test")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(test), size=count, replace=False)
    images, labels = test.images[chosen], [CLASSES[int(y)] for y in test.labels[chosen]]

    def accuracy(batch) -> float:
        answers = predict(model, batch, top=1)
        return float(np.mean([a[0][0] == y for a, y in zip(answers, labels)]))

    rows = [("the garments' own 28x28 images", accuracy(images), 0.0)]
    for name, render in (conditions or CONDITIONS).items():
        start = time.perf_counter()
        r = np.random.default_rng([seed, len(rows)])
        batch = torch.stack([decode_image(render(image.numpy(), r), name, fit=fit) for image in images])
        rows.append((name, accuracy(batch), time.perf_counter() - start))
    return rows


def format_table(rows) -> str:
    base = rows[0][1]
    lines = ["| condition | accuracy | vs 28x28 |", "|---|--:|--:|"]
    for name, acc, _ in rows:
        lines.append(f"| {name} | {acc:.3f} | {'' if name == rows[0][0] else f'{100 * (acc - base):+.1f}'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", help="a trained run directory (e.g. from rowrnn train --preset fast --epochs 3)")
    parser.add_argument("--count", type=int, default=150, help="test garments, drawn with --seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files")
    parser.add_argument("--fit", default="trim", choices=("trim", "none"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run_benchmark(args.run, args.count, args.seed, args.data_dir, args.fit)
    print(format_table(rows))
    print(f"\n{args.count} garments, {len(rows) - 1} conditions, {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
