"""Test-set evaluation of a saved run, and the figures that explain it.

The test split is read here, once per call, never during training or selection.

    metrics, model, run, logits = evaluate_run("runs/demo")       # best weights
    metrics["accuracy"], metrics["macro_accuracy"]
    evaluate_run("runs/demo", tta="flip")                          # each image and its mirror image, averaged
"""
from __future__ import annotations

import torch
from torch import nn

from .constants import CLASSES, NUM_CLASSES
from .data import Batches, ImageDataset, load_split, normalize
from .errors import RowrnnError, python_api
from .runs import Run, load_model, load_run, resolve_weights, weights_name

TTA = ("flip",)   # test-time augmentations: reported beside the plain number, never instead of it


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1000, device="cpu",
                   tta: str | None = None) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> logits (N, 10), in order.

    tta="flip" averages the class probabilities of each image and its horizontal mirror image and
    returns their log: logits whose softmax is that average. batch_size (default 1000): images per forward
    pass, on device. Raises RowrnnError for an unknown tta.
    """
    if tta not in (None, *TTA):
        raise RowrnnError(f"unknown test-time augmentation {tta!r}: choose one of {', '.join(TTA)}")
    model.to(device).eval()
    batches = Batches(images, torch.zeros(len(images), dtype=torch.long), batch_size, device=device)
    outputs = []
    for x, _ in batches:
        logits = model(x).float()
        if tta == "flip":
            logits = ((logits.softmax(1) + model(x.flip(-1)).float().softmax(1)) / 2).log()
        outputs.append(logits.cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, NUM_CLASSES)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes=CLASSES) -> dict:
    """Loss, micro and macro accuracy, per-class precision/recall/F1 and the confusion matrix (torchmetrics)."""
    from torchmetrics.classification import (MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score,
                                             MulticlassPrecision, MulticlassRecall)
    k = len(classes)
    per_class = {name: metric(num_classes=k, average=None)(logits, labels).tolist()
                 for name, metric in (("precision", MulticlassPrecision), ("recall", MulticlassRecall),
                                      ("f1", MulticlassF1Score))}
    confusion = MulticlassConfusionMatrix(num_classes=k)(logits, labels)
    return {
        "images": len(labels),
        "loss": nn.functional.cross_entropy(logits, labels).item(),
        "accuracy": MulticlassAccuracy(num_classes=k, average="micro")(logits, labels).item(),
        "macro_accuracy": MulticlassAccuracy(num_classes=k, average="macro")(logits, labels).item(),
        "per_class": {c: {"precision": per_class["precision"][i], "recall": per_class["recall"][i],
                          "f1": per_class["f1"][i], "support": int(confusion[i].sum())}
                      for i, c in enumerate(classes)},
        "confusion": confusion.tolist(),
    }


def check_finite(logits: torch.Tensor, source) -> None:
    """Refuse NaN or infinite logits (damaged or diverged weights) in one line, before any number is reported."""
    bad = int((~torch.isfinite(logits)).any(dim=1).sum()) if logits.numel() else 0
    if bad:
        raise RowrnnError(f"{source}: gives NaN or infinite outputs for {bad} of {len(logits)} images, so there is "
                          "nothing to report: the weights are damaged or diverged; retrain or restore them")


def load_test_set(run, data_dir=None, *, verify: bool | None = None) -> ImageDataset:
    """A run's test split (10,000 images for Fashion-MNIST): the only reader of it, for finish, evaluate, export,
    predict --test-index, serve and compare.

    run is a Run or a run directory. Reads the two test files alone (data.load_split), never the 47 MB
    training file. From data_dir if given, else from the folder the run's config.json records (one missing
    here is reported as the run's, naming --data-dir, not as a flag the user gave), else the usual places.
    verify (default: as the run was trained) checks the files' SHA-256.
    Raises RowrnnError (one line) when the files are missing, unreadable or fail their SHA-256 check.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    recorded = data_dir is None and run.config.data.data_dir is not None
    verify = run.config.data.verify if verify is None else verify
    return load_split(data_dir or run.config.data.data_dir, "test", verify=verify,
                      recorded_by=run.path if recorded else None)


@python_api
def evaluate_run(path, weights: str = "best", test_set: ImageDataset | None = None, device="cpu",
                 data_dir=None, tta: str | None = None):
    """(metrics dict, model, run, test logits) for a run directory or weights file on the test split."""
    model, run = load_model(path, weights, device=device)
    if test_set is None:
        test_set = load_test_set(run, data_dir)
    logits = predict_logits(model, test_set.images, device=device, tta=tta)
    check_finite(logits, resolve_weights(path, weights)[1])
    metrics = {"weights": weights_name(path, weights), **({"tta": tta} if tta else {}),
               **classification_metrics(logits, test_set.labels)}
    return metrics, model, run, logits


def run_figures(run: Run, model: nn.Module, test_set: ImageDataset, logits: torch.Tensor, metrics: dict,
                reading_images: int = 4) -> dict:
    """name -> matplotlib Figure for the pictures of a run (reading and hidden for recurrent models)."""
    from . import plots
    preds = logits.argmax(dim=1)
    figures = {
        "curves": plots.plot_curves(run.history),
        "predictions": plots.plot_predictions(test_set.images[:25], test_set.labels[:25], preds[:25]),
        "confusion": plots.plot_confusion(metrics["confusion"]),
    }
    if hasattr(model, "step_probabilities"):
        device = next(model.parameters()).device
        x = normalize(test_set.images[:reading_images]).unsqueeze(1).to(device)       # (n, 1, 28, 28)
        probs = model.step_probabilities(x, num_points=min(model.num_steps, 28), value_range=(-1, 1)).cpu()
        figures["reading"] = plots.plot_reading(test_set.images[:reading_images], probs,
                                                labels=test_set.labels[:reading_images], read=model.read,
                                                total_steps=model.num_steps)
        with torch.no_grad():
            states = model.hidden_states(x[:1], value_range=(-1, 1)).cpu()[0]         # (T, H)
        figures["hidden"] = plots.plot_hidden_states(test_set.images[0], states, read=model.read,
                                                     label=int(test_set.labels[0]))
    return figures
