"""Which reading steps decided: one score per step of a recurrent model's reading, for one class's logit.

    scores = step_attribution(model, images)                               # (B, R, T): occlusion, predicted class
    ig = step_attribution(model, images, method="integrated-gradients")     # the same unit: logits
    plots.plot_attribution(images[0], scores[0], read=model.read)           # the picture with its strip

Both methods change the sequences the readers see (RNNClassifier.sequences), not the image: a step is what
one reader reads at once (a row, a strip of k rows, a column, one pixel in the model's order), and for
read="rows+columns" the rows reader's steps and the columns reader's are scored apart (R = 2). The blank a step
is replaced by is the image's background: a black pixel, normalize(0) = -1.0 in the model's input units.
Captum (captum.ai) computes both: FeatureAblation with a mask grouping each step's pixels, and IntegratedGradients.
"""
from __future__ import annotations

import contextlib

import torch

from .data import normalize
from .errors import RowrnnError
from .models import class_names
from .pixels import model_dtype, model_input

METHODS = ("occlusion", "integrated-gradients")
CHUNK = 1024          # sequences per forward pass of occlusion: 784-step copies of a pixels model, bounded


def _short(value) -> str:
    """repr of a user's value on one line, at most 60 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _blank(baseline, x: torch.Tensor) -> torch.Tensor:
    """The baseline as a tensor of x's shape (B, 1, 28, 28): the background (None), a number, or a tensor that
    broadcasts to x's shape."""
    if baseline is None:
        return normalize(torch.zeros((), dtype=torch.uint8)).to(device=x.device, dtype=x.dtype).expand_as(x)
    blank = torch.as_tensor(baseline)
    try:
        fits = torch.broadcast_shapes(blank.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise RowrnnError(f"baseline has shape {tuple(blank.shape)}, which does not broadcast to the images' "
                          f"{tuple(x.shape)}: give a number or a tensor broadcastable to {tuple(x.shape)}")
    return blank.to(device=x.device, dtype=x.dtype).expand_as(x)


def _class_index(name: str, classes: tuple) -> int:
    """A class name of the model's classes (models.class_names: the run's), any case ("shirt", "Ankle boot")
    -> its index."""
    names = {c.lower(): i for i, c in enumerate(classes)}
    if name.strip().lower() not in names:
        shown = ", ".join(classes[:12]) + (f", ... ({len(classes)} in all)" if len(classes) > 12 else "")
        raise RowrnnError(f"target must be a class index 0-{len(classes) - 1} or a class name of the model's "
                          f"classes ({shown}), got {_short(name)}")
    return names[name.strip().lower()]


def _targets(target, logits: torch.Tensor, classes: tuple) -> torch.Tensor:
    """The class scored for each image: the predicted one (None), one class for all (an int or a class name of
    `classes`, any case) or one per image."""
    B, C = logits.shape[0], logits.shape[1]
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, str) or (isinstance(target, (list, tuple)) and target
                                   and all(isinstance(t, str) for t in target)):
        target = [_class_index(t, classes) for t in ([target] if isinstance(target, str) else target)]
    given = torch.as_tensor(target)
    if given.dtype == torch.bool or given.is_floating_point() or given.is_complex():   # 3.7 is no class; True neither
        raise RowrnnError(f"target must be a class index as an int 0-{C - 1} (or one int per image), "
                          f"got {_short(target)}")
    target = given.to(dtype=torch.long, device=logits.device).reshape(-1)
    if target.numel() == 1:
        target = target.expand(B)
    if target.numel() != B or bool(((target < 0) | (target >= C)).any()):
        raise RowrnnError(f"target must be a class index 0-{C - 1}, or one per image ({B}), "
                          f"got {target.tolist()}")
    return target.clone()


def step_attribution(model, images, *, method: str = "occlusion", target=None, baseline=None,
                     n_steps: int = 32, value_range=None) -> torch.Tensor:
    """How much each reading step's input moved the target class's logit: (B, R, T) float on the CPU.

    model: an RNNClassifier (any cell, read, readout, rows_per_step, direction); it is scored in eval mode and
    left in the mode it had. images: a batch (B, 1, S, S), (B, S, S) or one image (S, S), S = model.image_size
    (28 for Fashion-MNIST, the run's dataset's otherwise), in the forms
    of rowrnn.pixels.model_input's table (uint8 pixels, or normalized floats; value_range=(0, 1) declares
    ToTensor() floats); they are cast to the model's dtype. R = len(model.readers) (2 for read="rows+columns": the rows reader's steps, then the
    columns'); T = model.num_steps (S / rows_per_step, or S * S for pixels; permuted-pixels: step t is the pixel
    the model reads t-th, model.permutation[t]).

    method "occlusion": score = logit(x) - logit(x with step t of reader r blanked), each step in turn. It costs
    R * T forward passes per image (28 for rows, 784 for pixels), run as batches of at most CHUNK (1024)
    sequences; it needs no gradients. A pixels model reads 784 copies of a 784-step sequence per image, so
    the cost grows as T squared: measured on 2 shared CPU cores, 6 s an image for a pixels GRU-64 (3.4 s by
    integrated gradients), 0.03 s for a rows GRU-64 (0.1 s by integrated gradients). method "integrated-gradients" (Sundararajan, Taly & Yan 2017, "Axiomatic
    Attribution for Deep Networks"): the path integral of the logit's gradient from the blank to the image along
    the straight line, n_steps (default 32) Gauss-Legendre points, times (x - blank), summed over each step's
    pixels; the scores of all steps add up to logit(x) - logit(blank image) (completeness), up to the
    quadrature's error. It costs n_steps forward and backward passes. Both are in logits, so they compare.

    target: the class scored, None (default) for the one the model predicts, an int, a class name of the
    model's classes in any case ("shirt"; rowrnn.models.class_names: a loaded run's own, rowrnn.CLASSES for a
    bare model of 10 outputs), or one per image.
    baseline: the blank, in the model's input units: None (default) for the background, a black pixel,
    normalize(0) = -1.0; a number, or a tensor broadcastable to (B, 1, S, S).
    Raises RowrnnError for a model that does not read step by step (a CNN), an unknown method, a target that is
    not an int class index (3.7, True) or one per image, a baseline that does not broadcast to (B, 1, S, S),
    n_steps < 1, a target name not among the model's classes, or images (or value_range) that rowrnn.pixels.model_input
    refuses (another shape or dtype, an empty batch, NaN, undeclared floats that are not normalized).
    """
    if not hasattr(model, "readers") or not hasattr(model, "read_sequences"):
        raise RowrnnError(f"step_attribution scores the steps of a recurrent model (an RNNClassifier); "
                          f"model is a {type(model).__name__}, which does not read step by step")
    if method not in METHODS:
        raise RowrnnError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise RowrnnError(f"n_steps must be a whole number of at least 1, got {n_steps!r}")
    from captum.attr import FeatureAblation, IntegratedGradients

    device = next(model.parameters()).device
    x = model_input(images, value_range=value_range, size=model.image_size, dtype=model_dtype(model)).to(device)
    blank = _blank(baseline, x)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            sequences = [s.detach() for s in model.sequences(x)]              # [(B, T, F)] per reader
            blanks = tuple(s.detach() for s in model.sequences(blank.contiguous()))
            targets = _targets(target, model.read_sequences(sequences), class_names(model))

        def logits(*seqs):
            return model.read_sequences(list(seqs))

        B, T = x.shape[0], model.num_steps
        if method == "occlusion":
            # feature ids: reader r's step t is group r * T + t, every pixel of the step in it
            masks = tuple((r * T + torch.arange(T, device=device))[None, :, None].expand(1, T, s.shape[2])
                          for r, s in enumerate(sequences))
            with torch.no_grad():
                scores = FeatureAblation(logits).attribute(
                    tuple(sequences), baselines=blanks, target=targets, feature_mask=masks,
                    perturbations_per_eval=max(1, CHUNK // B))
            per_step = [a[:, :, 0] for a in scores]                           # one value per group: (B, T)
        else:
            # cuDNN RNNs have a backward in train mode only; the switch is process-wide (a server's other threads
            # see it), so it is thrown only where cuDNN would run
            no_cudnn = torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else contextlib.nullcontext()
            with torch.enable_grad(), no_cudnn:
                scores = IntegratedGradients(logits).attribute(
                    tuple(sequences), baselines=blanks, target=targets, n_steps=n_steps,
                    internal_batch_size=max(B, min(n_steps * B, CHUNK)))
            per_step = [a.sum(dim=2) for a in scores]                          # (B, T, F) -> (B, T)
    finally:
        model.train(was_training)
    return torch.stack(per_step, dim=1).detach().float().cpu()              # (B, R, T)
