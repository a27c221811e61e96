"""Test-set evaluation of a saved run, and the figures that explain it.

The test split is read here, once per call, never during training or selection.

    metrics = evaluate_run("runs/demo")                # best weights
    metrics["accuracy"], metrics["macro_accuracy"]
"""
from __future__ import annotations

import torch
from torch import nn

from .data import CLASSES, Batches, ImageDataset, load_fashion_mnist, normalize
from .runs import Run, load_model


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1000, device="cpu") -> torch.Tensor:
    """uint8 images (N, 28, 28) -> logits (N, 10), in order."""
    model.to(device).eval()
    batches = Batches(images, torch.zeros(len(images), dtype=torch.long), batch_size, device=device)
    return torch.cat([model(x).float().cpu() for x, _ in batches]) if len(images) else torch.empty(0, 10)


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


def evaluate_run(path, weights: str = "best", test_set: ImageDataset | None = None, device="cpu"):
    """(metrics dict, model, run, test logits) for a run directory or weights file on the test split."""
    model, run = load_model(path, weights, device=device)
    if test_set is None:
        _, test_set = load_fashion_mnist(run.config.data.data_dir, verify=run.config.data.verify)
    logits = predict_logits(model, test_set.images, device=device)
    metrics = {"weights": weights, **classification_metrics(logits, test_set.labels)}
    return metrics, model, run, logits


def run_figures(run: Run, model: nn.Module, test_set: ImageDataset, logits: torch.Tensor, metrics: dict,
                reading_images: int = 4) -> dict:
    """name -> matplotlib Figure for the four pictures of a run."""
    from . import plots
    preds = logits.argmax(dim=1)
    figures = {
        "curves": plots.plot_curves(run.history),
        "predictions": plots.plot_predictions(test_set.images[:25], test_set.labels[:25], preds[:25]),
        "confusion": plots.plot_confusion(metrics["confusion"]),
    }
    if hasattr(model, "step_probabilities"):
        x = normalize(test_set.images[:reading_images]).unsqueeze(1)                 # (n, 1, 28, 28)
        probs = model.step_probabilities(x.to(next(model.parameters()).device), num_points=28).cpu()
        figures["reading"] = plots.plot_reading(test_set.images[:reading_images], probs,
                                                labels=test_set.labels[:reading_images], read=model.read)
    return figures
