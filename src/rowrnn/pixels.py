"""The one meaning of an image array in rowrnn: every public function that takes images as tensors or numpy arrays
passes them through `model_input`, whose docstring holds the table of accepted forms.

    x = model_input(test_set.images[:8])                          # uint8 (8, 28, 28) -> float32 (8, 1, 28, 28)
    x = model_input(to_tensor_batch, value_range=(0, 1))          # ToTensor() floats, declared
    pixels = display_pixels(x)                                    # back to uint8 (8, 28, 28), to draw
"""
from __future__ import annotations

import numpy as np
import torch

from .constants import IMAGE_SIZE, MEAN, STD
from .errors import RowrnnError

VALUE_RANGES = ((-1, 1), (0, 1), (0, 255))
FORMS = ("uint8 pixels 0-255, or floats normalized to [-1, 1] as ToTensor() + Normalize(0.5, 0.5) gives them "
         "(ToTensor() floats in [0, 1]: pass value_range=(0, 1))")
FIX_COLOUR = "for a photo or a colour picture use rowrnn.load_image(path)"
FIX_LIGHT = ("already normalized, with no pixel below mid-grey (an all-light drawing)? pass value_range=(-1, 1)")


def shapes(size: int = IMAGE_SIZE, single: bool = False) -> str:
    """The accepted shapes as a person reads them: '(N, 1, 28, 28), (N, 28, 28) or (28, 28)'."""
    s = f"{size}, {size}"
    return f"({s}), (1, {s}) or (1, 1, {s})" if single else f"(N, 1, {s}), (N, {s}) or ({s})"


def _dtype(images) -> str:
    return str(images.dtype).removeprefix("torch.")


def check_value_range(value_range, name: str = "images") -> tuple | None:
    """None, or one of VALUE_RANGES as a tuple of ints (for a function that checks it before it has the images).
    Raises RowrnnError naming value_range for another."""
    if value_range is None:
        return None
    try:
        pair = tuple(float(v) for v in value_range)
    except (TypeError, ValueError):
        pair = None
    for known in VALUE_RANGES:
        if pair == known:
            return known
    raise RowrnnError(f"value_range must be (-1, 1), (0, 1) or (0, 255) (what the floats of {name} hold), "
                      f"got {value_range!r}")


def _shaped(images: torch.Tensor, name: str, size: int, single: bool) -> torch.Tensor:
    """images of an accepted shape -> a view (N, 1, size, size); the rest refused in one line."""
    shape, S = tuple(images.shape), size
    accepted = ([(S, S), (1, S, S), (1, 1, S, S)] if single else [(S, S)])
    if shape in accepted or (not single and len(shape) in (3, 4) and shape[-2:] == (S, S)
                             and (len(shape) == 3 or shape[1] == 1)):
        if not single and len(shape) >= 3 and shape[0] == 0:
            raise RowrnnError(f"{name} is an empty batch (shape {shape}): give at least one image, "
                              f"shaped {shapes(S)}")
        return images.reshape(-1, 1, S, S)
    colour = ((len(shape) == 3 and shape[-1] in (3, 4) and shape[:2] == (S, S))
              or (len(shape) == 4 and (shape[1] in (3, 4) and shape[2:] == (S, S)
                                       or shape[-1] in (3, 4) and shape[1:3] == (S, S))))
    what, fix = f"{name} has shape {shape}", FIX_COLOUR
    if colour:
        what += f", a colour image ({3 if 3 in (shape[1], shape[-1]) else 4} channels)"
    elif len(shape) in (3, 4) and shape[-3:] == (S, S, 1):        # Keras' and PIL's channels-last grey
        what += ", its one channel last"
        fix = f"drop it with {name}[..., 0]"
    elif len(shape) in (1, 2) and shape[-1] == S * S:              # flattened rows, as an MLP reads them
        what += f", {S * S} pixels in a row"
        fix = f"give them as {S}x{S} with {name}.reshape(-1, {S}, {S})"
    elif len(shape) >= 2 and shape[-2:] != (S, S) and shape[-1] not in (3, 4):
        what += f", not {S}x{S} pixels"
    one = "one grey image shaped" if single else "grey images shaped"
    raise RowrnnError(f"{what}: rowrnn reads {one} {shapes(S, single)}; {fix}")


def model_input(images, *, value_range=None, name: str = "images", size: int = IMAGE_SIZE,
                single: bool = False, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images in any accepted form -> float32 (or dtype) (N, 1, size, size) in the models' units, on the images'
    device (a numpy array: the CPU). THE table of accepted forms, which every rowrnn function taking images follows:

        dtype                 values                            read as                           value_range
        uint8                 pixels 0-255, light garment       (x / 255 - 0.5) / 0.5, exactly    None (or (0, 255))
                              on black (Fashion-MNIST's own)    rowrnn.data.normalize
        float16/32/64,        normalized to [-1, 1] by          as given, cast to float32 (dtype) None or (-1, 1)
        bfloat16              ToTensor() + Normalize(0.5, 0.5)
                              (background at -1)
        float                 [0, 1], ToTensor() alone          (x - 0.5) / 0.5 (= Normalize)     (0, 1): required
        float                 [0, 255], pixels held as floats   (x / 255 - 0.5) / 0.5             (0, 255): required

    Shapes: (N, 1, size, size), (N, size, size) or (size, size) (one image); with single=True (functions of one
    image) (size, size), (1, size, size) or (1, 1, size, size). size: 28 (rowrnn.constants.IMAGE_SIZE) by default.
    Tensors and numpy arrays alike, any strides (transposed, sliced, flipped views: the result is contiguous);
    a contiguous float32 tensor already normalized comes back as a view of itself (no copy, gradients kept). dtype: the floating dtype returned
    (float32 by default; a model's own, e.g. torch.float64, so that a double-precision model reads float64
    images without a round trip through float32): uint8 pixels are normalized in float32 as
    rowrnn.data.normalize does, then cast; floats are cast to dtype, then read as their value_range says.

    Undeclared floats are never guessed at: a normalized Fashion-MNIST image has its background at -1, so floats
    that are all >= 0 (ToTensor()'s [0, 1], or 0-255) are refused with the value_range that declares them
    (normalized images with no pixel below 0, such as an all-light drawing, are taken with value_range=(-1, 1)),
    and floats outside [-1, 1] (e.g. normalized with the dataset's mean and std) are refused. Declared floats
    must lie within their value_range.

    Raises RowrnnError, one line naming `name` (or value_range) and the fix, for: something that is not a
    tensor or numpy array (a list, a PIL image, a path) or a sparse tensor; another shape (colour images
    (size, size, 3), (N, 3, size, size), (N, size, size, 3) or 4 channels, one channel last (N, size, size, 1),
    flattened pixels (N, size * size), another size, a batch where one image is expected); an empty batch;
    booleans; integers other than uint8 (int64 0-255: .to(torch.uint8) or .astype(np.uint8));
    complex numbers; NaN or infinite values; undeclared floats all >= 0 or outside [-1, 1]; floats outside their
    declared value_range; a value_range other than (-1, 1), (0, 1), (0, 255), or one other than (0, 255) with
    uint8 pixels.
    """
    declared = check_value_range(value_range, name)
    if isinstance(images, np.ndarray):
        if images.dtype.kind in "iu" and images.dtype != np.uint8:
            raise RowrnnError(f"{name} has dtype {images.dtype}, not uint8: convert pixels 0-255 with "
                              f".astype(np.uint8) (torch: .to(torch.uint8)); rowrnn takes {FORMS}")
        if images.dtype.kind == "f":      # any byte order or width numpy has; torch takes native ones up to 64 bits
            images = images.astype(np.float64 if images.dtype.itemsize > 8 else images.dtype.newbyteorder("="),
                                   copy=False)
        elif images.dtype != np.uint8:
            raise RowrnnError(f"{name} has dtype {images.dtype}: give {FORMS}")
        images = torch.from_numpy(np.ascontiguousarray(images))
    elif not isinstance(images, torch.Tensor):
        kind = type(images).__name__
        if isinstance(images, (list, tuple)):
            fix = f"torch.stack({name}) for a list of tensors, np.array({name}, dtype=np.uint8) for pixel values"
        elif hasattr(images, "getpixel"):                                # a PIL image, without importing PIL
            fix = (f"np.asarray({name}) for a {size}x{size} grey one (torchvision's FashionMNIST without a "
                   f"transform), or {FIX_COLOUR}")
        else:
            fix = FIX_COLOUR
        raise RowrnnError(f"{name} must be a torch tensor or numpy array of {FORMS}, got {kind}: {fix}")
    if images.layout != torch.strided:
        raise RowrnnError(f"{name} is a {str(images.layout).removeprefix('torch.')} tensor: give a dense one "
                          f"({name}.to_dense())")
    if images.dtype == torch.bool or images.is_complex():
        raise RowrnnError(f"{name} has dtype {_dtype(images)}: give {FORMS}")
    if not images.is_floating_point() and images.dtype != torch.uint8:
        raise RowrnnError(f"{name} has dtype {_dtype(images)}, not uint8: convert pixels 0-255 with "
                          f".to(torch.uint8) (numpy: .astype(np.uint8)); rowrnn takes {FORMS}")
    # (N, 1, S, S), in row-major order: a transposed or sliced view would give the model the same values but
    # other strides, and its matrix products results that differ in the last bit
    x = _shaped(images, name, size, single).contiguous()
    if x.dtype == torch.uint8:
        if declared not in (None, (0, 255)):
            raise RowrnnError(f"value_range={declared} describes floats, but {name} is uint8 (pixels 0-255): "
                              "leave value_range out")
        return x.to(torch.float32, copy=True).div_(255).sub_(MEAN).div_(STD).to(dtype)   # as data.normalize
    values = x.detach()                    # the checks read values only: no autograd warning, no graph
    if not bool(torch.isfinite(values).all()):
        raise RowrnnError(f"{name} holds NaN or infinite values: give {FORMS}")
    low, high = float(values.min()), float(values.max())                 # in the given dtype, before any cast
    x = x.to(dtype)
    seen = f"{name} holds floats from {low:.3g} to {high:.3g}"
    if declared is None:
        if low >= 0 and 1 < high <= 255:
            raise RowrnnError(f"{seen}, like pixels 0-255 held as floats: pass value_range=(0, 255), "
                              "or give uint8 pixels (.to(torch.uint8))")
        if low >= 0 and high <= 1:
            raise RowrnnError(f"{seen}: looks like ToTensor() floats in [0, 1]: pass value_range=(0, 1), "
                              f"or normalize with Normalize(0.5, 0.5); {FIX_LIGHT}")
        if high > 1 or low < -1:
            raise RowrnnError(f"{seen}, outside [-1, 1]: rowrnn's models take ToTensor() + Normalize(0.5, 0.5) "
                              "(not the dataset's mean and std); or give uint8 pixels 0-255")
        return x
    lo, hi = declared
    if low < lo or high > hi:
        raise RowrnnError(f"{seen}, outside value_range={declared}: give floats in that range, or the "
                          "value_range they are in")
    if declared == (0, 1):
        return x.sub(MEAN).div_(STD)                                     # ToTensor() -> Normalize(0.5, 0.5)
    if declared == (0, 255):
        return x.div(255).sub_(MEAN).div_(STD)
    return x


def display_pixels(x: torch.Tensor) -> torch.Tensor:
    """Normalized images (model_input's output, any shape) -> uint8 pixels 0-255 of the same shape, on the CPU,
    rounded to the nearest grey level: what a page or a figure draws. Pixels that came as uint8 come back exact."""
    return (x.detach().float().cpu() * STD + MEAN).mul_(255).round_().clamp_(0, 255).to(torch.uint8)


def model_dtype(model) -> torch.dtype:
    """The floating dtype of a model's weights (its first floating parameter), for model_input's dtype: float32
    for anything else (a model without parameters, an OnnxClassifier)."""
    parameters = model.parameters() if hasattr(model, "parameters") else ()
    return next((p.dtype for p in parameters if p.is_floating_point()), torch.float32)
