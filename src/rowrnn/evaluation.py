"""Test-set evaluation of a saved run, and the figures that explain it.

The test split is read here, once per call, never during training or selection.

    metrics, model, run, logits = evaluate_run("runs/demo")       # best weights
    metrics["accuracy"], metrics["macro_accuracy"]                # macro: mean recall over the classes present
    evaluate_run("runs/demo", tta="flip")                          # each image and its mirror image, averaged
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from . import files
from .constants import CLASSES, NUM_CLASSES
from .data import Batches, ImageDataset, load_split, normalize
from .datasets import DEFAULT, changed_split, dataset_of, load_dataset, section_here
from .errors import RowrnnError, python_api
from .images import display_name
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


def macro_over_present(scores: torch.Tensor, support: torch.Tensor) -> float | None:
    """The mean of per-class scores (C,) over the classes present, those with support (C,) > 0: rowrnn's one
    definition of a macro average (macro accuracy = the mean recall over the classes present).

    A class with no images has no recall, so it neither counts as 0 nor dilutes the mean: a test set without
    Sandals is scored on the other classes. Computed as torchmetrics' macro reduction computes it (each score
    weighted 1 / the number of classes present, then summed, in the scores' dtype), so with every class present
    the number is torchmetrics' MulticlassAccuracy(average="macro") bit for bit. (torchmetrics drops a class
    only when it is neither in the labels nor predicted: one predicted but absent counts as recall 0.)
    Returns None when no class is present (no images).
    """
    weights = (support > 0).to(scores.dtype)
    if not bool(weights.any()):
        return None
    return float((weights * scores / weights.sum(-1, keepdim=True)).sum(-1))


class MacroAccuracy:
    """The validation metric: macro accuracy over the classes present in what it saw (macro_over_present).

    A torchmetrics-style metric (update(logits (N, C), labels (N,)), compute() -> 0-d tensor, reset(),
    to(device)) that counts with torchmetrics' MulticlassStatScores, so under DistributedDataParallel the counts
    of every rank are summed before the mean. num_classes: C (default NUM_CLASSES). With every class present in
    the validation split it gives torchmetrics' MulticlassAccuracy(average="macro") bit for bit; a class with no
    validation images is left out of the mean instead of counting as recall 0 whenever it is predicted.

        metric = MacroAccuracy(10); metric.update(logits, labels); float(metric.compute())
    """

    def __init__(self, num_classes: int = NUM_CLASSES):
        from torchmetrics.classification import MulticlassStatScores
        self.num_classes = num_classes
        self.counts = MulticlassStatScores(num_classes=num_classes, average=None, validate_args=False)

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Count the predictions (argmax of logits (N, C)) against labels (N,)."""
        self.counts.update(logits, labels)

    def compute(self) -> torch.Tensor:
        """The macro accuracy of everything counted since the last reset (NaN when nothing was counted)."""
        tp, _, _, fn, support = self.counts.compute().unbind(-1)      # (C, 5) -> five (C,)
        denominator = (tp + fn).float()
        recall = torch.where(denominator != 0, tp.float() / denominator, torch.zeros_like(denominator))
        value = macro_over_present(recall, support)
        return torch.tensor(float("nan") if value is None else value)

    def reset(self) -> None:
        """Forget what was counted."""
        self.counts.reset()

    def to(self, device) -> MacroAccuracy:
        """Count on device; returns self, as a torchmetrics metric does."""
        self.counts.to(device)
        return self


def classes_present(metrics: dict) -> list[str]:
    """The classes with at least one image in the split that metrics (classification_metrics') describes."""
    return [name for name, v in metrics["per_class"].items() if v["support"] > 0]


def macro_definition(metrics: dict) -> str:
    """How the macro accuracy of metrics was taken, in words: "mean recall over the N classes present"."""
    present, total = len(classes_present(metrics)), len(metrics["per_class"])
    return (f"mean recall over the {present} classes present" if present == total else
            f"mean recall over the {present} classes present of {total}")


def class_mismatch(metrics: dict) -> str | None:
    """One line when the test split's classes differ from training's, else None.

    metrics: classification_metrics' dict, with "train_support" ({class: training images}, as finish records it)
    when the training's classes are known; without it the test split is compared with all the classes.
    Names the classes trained on but missing from the test split (left out of the macro average), and those
    in the test split that training never saw (the model cannot have learned them).
    """
    test = {name: v["support"] for name, v in metrics["per_class"].items()}
    trained = metrics.get("train_support") or {name: 1 for name in test}
    missing = [c for c in test if trained.get(c, 0) > 0 and test[c] == 0]
    unseen = [c for c in test if test[c] > 0 and trained.get(c, 0) == 0]
    if not missing and not unseen:
        return None
    parts = ([f"no test images of {', '.join(missing)} (left out of the macro averages)"] if missing else []) + \
            ([f"{', '.join(unseen)} in the test split but never in training (the model cannot have learned "
              f"{'it' if len(unseen) == 1 else 'them'})"] if unseen else [])
    return "the test split's classes differ from training's: " + "; ".join(parts)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes=CLASSES) -> dict:
    """Loss, micro and macro accuracy, per-class precision/recall/F1 and the confusion matrix (torchmetrics).

    logits (N, C), labels (N,) int64, classes: C names (default Fashion-MNIST's). Returns a dict: "images" N,
    "loss" (mean cross-entropy), "accuracy" (micro: correct / N), "macro_accuracy" (macro_over_present: the
    mean recall over the classes with images here; None when N is 0), "classes_present" (how many),
    "per_class" {name: {"precision", "recall", "f1", "support"}} where a class with no images (support 0) has
    None for all three (JSON null, shown "n/a": there is nothing to score), and "confusion" (C, C) as lists
    (rows: expected, columns: predicted). A class present but never predicted has precision 0 (torchmetrics'
    and scikit-learn's zero_division=0).
    """
    from torchmetrics.classification import (MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score,
                                             MulticlassPrecision, MulticlassRecall)
    k = len(classes)
    per_class = {name: metric(num_classes=k, average=None)(logits, labels)
                 for name, metric in (("precision", MulticlassPrecision), ("recall", MulticlassRecall),
                                      ("f1", MulticlassF1Score))}
    confusion = MulticlassConfusionMatrix(num_classes=k)(logits, labels)
    support = confusion.sum(dim=1)                                              # (C,) images of each class
    scored = {name: [v if int(n) else None for v, n in zip(values.tolist(), support)]
              for name, values in per_class.items()}
    return {
        "images": len(labels),
        "loss": nn.functional.cross_entropy(logits, labels).item(),
        "accuracy": MulticlassAccuracy(num_classes=k, average="micro")(logits, labels).item(),
        "macro_accuracy": macro_over_present(per_class["recall"], support),
        "classes_present": int((support > 0).sum()),
        "per_class": {c: {"precision": scored["precision"][i], "recall": scored["recall"][i],
                          "f1": scored["f1"][i], "support": int(support[i])}
                      for i, c in enumerate(classes)},
        "confusion": confusion.tolist(),
    }


def check_finite(logits: torch.Tensor, source) -> None:
    """Refuse NaN or infinite logits (damaged or diverged weights) in one line, before any number is reported."""
    bad = int((~torch.isfinite(logits)).any(dim=1).sum()) if logits.numel() else 0
    if bad:
        raise RowrnnError(f"{source}: gives NaN or infinite outputs for {bad} of {len(logits)} images, so there is "
                          "nothing to report: the weights are damaged or diverged; retrain or restore them")


CHANGED = ("refuse", "note")   # what load_test_set does with an image folder whose test images changed


def load_test_set(run, data_dir=None, *, verify: bool | None = None, changed: str = "refuse") -> ImageDataset:
    """A run's test split (10,000 images for Fashion-MNIST): the only reader of it, for finish, evaluate, export,
    predict --test-index, serve and compare.

    run is a Run or a run directory. Reads the two test files alone (data.load_split), never the 47 MB
    training file. From data_dir if given, else from the folder the run's config.json records (one missing
    here is reported as the run's, naming --data-dir, not as a flag the user gave), else the usual places.
    verify (default: as the run was trained) checks the files' SHA-256. An image folder's test split is compared
    with what training recorded (config.json's split_sha256; runs from before it are not checked): where it
    changed, changed="refuse" (the default: finish, evaluate --save, export, compare, serve) refuses, and
    changed="note" (plain evaluate) returns it with a one-line .note saying the numbers are not on the run's
    recorded test set (.note is "" otherwise).
    Raises RowrnnError (one line) when the files are missing, unreadable or fail their SHA-256 check, and for a
    changed folder with changed="refuse".
    """
    if not isinstance(run, Run):
        run = load_run(run)
    return _test_split(dataclasses.asdict(run.config.data), data_dir, verify=verify, changed=changed,
                       owner=str(run.path), record="config.json",
                       recorded_by=run.path if data_dir is None and run.config.data.data_dir is not None else None,
                       fix=f"the run's numbers must be on the test images it recorded; restore them, or see numbers "
                           f"on the folder as it is now with `rowrnn evaluate {run.path}` (without --save)")


def exported_test_set(model, data_dir=None, *, verify: bool | None = None) -> ImageDataset:
    """The test split the run of an exported model read (`rowrnn predict --onnx MODEL --test-index N`), by the
    same reader as load_test_set: model is an OnnxClassifier (its .data_section: the run's data section as its
    export recorded it, the recorded data_dir left out: a model travels without its run's machine; its .source
    names it). data_dir: a named dataset's files here, or where the run's image folder is now. verify (default:
    as the run was trained, else True) checks a named dataset's SHA-256. An image folder must hold the test
    images the run recorded (split_sha256): other images would give other test images and wrong expected labels.
    Raises RowrnnError (one line) for missing or unreadable files, a failed check, and a changed folder."""
    return _test_split(model.data_section, data_dir, verify=verify, changed="refuse",
                       owner=f"the run of {model.source}", record="export", recorded_by=None,
                       fix="--test-index must name the test images the run recorded; restore them, or give image "
                           "files instead of --test-index")


def _test_split(section: dict, data_dir, *, verify, changed: str, owner: str, record: str, recorded_by,
                fix: str) -> ImageDataset:
    """The test split of a run's data section (its config's, or an export's), read where the data are now
    (datasets.section_here) and, for an image folder, compared with its recorded digest. owner names whose
    data they are, record where the section was read from (config.json, export), fix what to do about a
    changed folder (changed="refuse"); recorded_by: the run whose recorded data_dir is searched (see
    data.find_data)."""
    if changed not in CHANGED:
        raise RowrnnError(f"changed must be one of {', '.join(CHANGED)}, got {changed!r}")
    verify = section.get("verify", True) if verify is None else verify
    recorded_folder = section.get("dataset") or DEFAULT
    section = {**section_here(section, data_dir), "verify": verify}   # an image folder: where it is now
    info = dataset_of(section)
    if recorded_folder == DEFAULT:    # Fashion-MNIST exactly as before: the two test files alone
        test = load_split(section.get("data_dir"), "test", verify=verify, recorded_by=recorded_by)
        test.classes = list(info.classes)
        test.note = ""
        return test
    if info.is_folder:
        folder = section["dataset"]
        if not files.is_dir(Path(folder).expanduser()):
            raise RowrnnError(f"{owner} was trained on the image folder {recorded_folder}, as its {record} "
                              "records, which is not a folder here: put it back there, or pass --data-dir with its "
                              "new place" if data_dir is None else
                              f"--data-dir {folder}: not a folder here: give the image folder {owner} was "
                              f"trained on (recorded as {recorded_folder})")
    test = load_dataset(section, splits=("test",), recorded_by=recorded_by)[1]
    how = changed_split(section.get("split_sha256"), test, "test")
    test.note = ""
    if how:
        said = f"{display_name(section['dataset'])}: the folder's test images changed since {owner} was trained {how}"
        if changed == "refuse":
            raise RowrnnError(f"{said}: {fix}")
        test.note = f"{said}: these numbers are not on the run's recorded test set"
    return test

@python_api
def evaluate_run(path, weights: str = "best", test_set: ImageDataset | None = None, device="cpu",
                 data_dir=None, tta: str | None = None, changed: str = "refuse"):
    """(metrics dict, model, run, test logits) for a run directory or weights file on the test split.

    metrics is classification_metrics' dict with "weights" (its name), "tta" when given, "train_support"
    ({class: images that trained the run}) when the run's metrics.json records it (class_mismatch compares them),
    and "note" (one line) when an image folder's test images changed since training and changed="note"
    (load_test_set: the default "refuse" raises RowrnnError instead).
    """
    model, run = load_model(path, weights, device=device)
    if test_set is None:
        test_set = load_test_set(run, data_dir, changed=changed)
    logits = predict_logits(model, test_set.images, device=device, tta=tta)
    check_finite(logits, resolve_weights(path, weights)[1])
    trained = (run.metrics or {}).get("train_support")
    metrics = {"weights": weights_name(path, weights), **({"tta": tta} if tta else {}),
               **classification_metrics(logits, test_set.labels, dataset_of(run).classes),
               **({"train_support": trained} if isinstance(trained, dict)   # a hand-edited record is left out
                  and all(type(n) is int for n in trained.values()) else {}),
               **({"note": test_set.note} if getattr(test_set, "note", "") else {})}
    return metrics, model, run, logits


def run_figures(run: Run, model: nn.Module, test_set: ImageDataset, logits: torch.Tensor, metrics: dict,
                reading_images: int = 4) -> dict:
    """name -> matplotlib Figure for the pictures of a run (reading and hidden for recurrent models)."""
    from . import plots
    classes = dataset_of(run).classes
    preds = logits.argmax(dim=1)
    figures = {
        "curves": plots.plot_curves(run.history),
        "predictions": plots.plot_predictions(test_set.images[:25], test_set.labels[:25], preds[:25], classes),
        "confusion": plots.plot_confusion(metrics["confusion"], classes),
    }
    if hasattr(model, "step_probabilities"):
        device = next(model.parameters()).device
        x = normalize(test_set.images[:reading_images]).unsqueeze(1).to(device)       # (n, 1, 28, 28)
        probs = model.step_probabilities(x, num_points=min(model.num_steps, 28), value_range=(-1, 1)).cpu()
        figures["reading"] = plots.plot_reading(test_set.images[:reading_images], probs, classes,
                                                labels=test_set.labels[:reading_images], read=model.read,
                                                total_steps=model.num_steps)
        with torch.no_grad():
            states = model.hidden_states(x[:1], value_range=(-1, 1)).cpu()[0]         # (T, H)
        figures["hidden"] = plots.plot_hidden_states(test_set.images[0], states, read=model.read,
                                                     label=int(test_set.labels[0]), classes=classes)
    return figures
