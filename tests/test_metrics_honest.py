"""Metrics that stay honest on any data (issue 26, family 2): macro averages over the classes PRESENT in the split,
n/a (JSON null) for classes with no images, strongest/weakest only among classes present, one line when the test
split's classes differ from training's -- and Fashion-MNIST's numbers unchanged, bit for bit."""
import gzip
import json

import numpy as np
from matplotlib import colors as plt_colors
import pytest
import torch
from torchmetrics.classification import (MulticlassAccuracy, MulticlassF1Score, MulticlassPrecision,
                                         MulticlassRecall)

import rowrnn
from conftest import idx_bytes, synthetic_split
from rowrnn import evaluation, lifecycle, plots, runs
from rowrnn.cli import format_metrics, main
from rowrnn.config import build_config
from rowrnn.constants import CLASSES
from rowrnn.data import ImageDataset
from rowrnn.training import split_indices


def _logits(predictions, k=10):
    """Logits (N, k) whose argmax is `predictions`."""
    return torch.nn.functional.one_hot(torch.tensor(predictions), k).float() * 5.0


# labels: 2 images each of classes 0-3 (T-shirt/top, Trouser, Pullover, Dress); 4-9 have none.
# predictions: class 0 one right, one as 9; class 1 both right; class 2 one right, one as 8; class 3 both as 7.
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
PREDICTED = [0, 9, 1, 1, 2, 8, 7, 7]


def test_macro_accuracy_is_the_mean_recall_over_the_classes_present():
    m = evaluation.classification_metrics(_logits(PREDICTED), LABELS)
    # recalls 1/2, 2/2, 1/2, 0/2 -> mean 2/4; the six classes with no images are neither 0 nor counted
    assert m["macro_accuracy"] == 0.5
    assert m["accuracy"] == 0.5 and m["images"] == 8 and m["classes_present"] == 4
    # torchmetrics' macro counts every class predicted or present: 7, 8 and 9 as recall 0 -> 2/7
    assert MulticlassAccuracy(num_classes=10, average="macro")(_logits(PREDICTED), LABELS).item() == \
        pytest.approx(2 / 7)
    per_class = m["per_class"]
    assert per_class["T-shirt/top"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per_class["Trouser"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert per_class["Pullover"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    # present but never predicted: precision 0 (zero_division=0, as torchmetrics and scikit-learn)
    assert per_class["Dress"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    for name in CLASSES[4:]:   # no images: nothing to score, whether predicted (Sneaker, Bag, Ankle boot) or not
        assert per_class[name] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert m["confusion"][3] == [0, 0, 0, 0, 0, 0, 0, 2, 0, 0] and m["confusion"][9] == [0] * 10


def test_no_images_at_all_has_no_macro_accuracy():
    assert evaluation.macro_over_present(torch.tensor([0.0, 0.0]), torch.tensor([0, 0])) is None
    assert evaluation.macro_over_present(torch.tensor([0.25, 0.0, 1.0]), torch.tensor([4, 0, 1])) == 0.625


@pytest.mark.parametrize("seed", range(40))
def test_with_every_class_present_the_numbers_are_torchmetrics_bit_for_bit(seed):
    """Fashion-MNIST's case: every class in the split. The new definition must not move a single bit."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(10, 4000, (1,), generator=g))
    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=g)]
    logits = torch.randn(n, 10, generator=g) + 3 * torch.rand(1, generator=g) * torch.nn.functional.one_hot(labels, 10)
    old_macro = MulticlassAccuracy(num_classes=10, average="macro")(logits, labels).item()
    m = evaluation.classification_metrics(logits, labels)
    assert m["macro_accuracy"] == old_macro                             # ==, not approx
    assert m["accuracy"] == MulticlassAccuracy(num_classes=10, average="micro")(logits, labels).item()
    for key, metric in (("precision", MulticlassPrecision), ("recall", MulticlassRecall), ("f1", MulticlassF1Score)):
        expected = metric(num_classes=10, average=None)(logits, labels).tolist()
        assert [v[key] for v in m["per_class"].values()] == expected
    # the validation metric, as training uses it (validate_args=False, updated in two parts)
    old, new = MulticlassAccuracy(num_classes=10, validate_args=False), evaluation.MacroAccuracy(10)
    for metric in (old, new):
        metric.update(logits[: n // 2], labels[: n // 2])
        metric.update(logits[n // 2:], labels[n // 2:])
    assert float(new.compute()) == float(old.compute()) == old_macro


def test_the_validation_metric_leaves_out_classes_with_no_images():
    metric = evaluation.MacroAccuracy(10)
    metric.update(_logits(PREDICTED[:4]), LABELS[:4])
    metric.update(_logits(PREDICTED[4:]), LABELS[4:])
    assert float(metric.compute()) == 0.5
    metric.reset()
    metric.update(_logits([1, 1]), torch.tensor([1, 2]))           # recall 1 and 0 over the two present
    assert float(metric.compute()) == 0.5
    assert metric.to("cpu") is metric


def test_format_metrics_says_the_definition_and_shows_n_a():
    metrics = {"weights": "best", **evaluation.classification_metrics(_logits(PREDICTED), LABELS)}
    lines = format_metrics(metrics, "runs/own").splitlines()
    assert lines[:3] == [
        "runs/own (best weights) on 8 test images",
        f"loss {metrics['loss']:.4f}   accuracy 0.5000   macro accuracy 0.5000 (mean recall over the 4 classes "
        "present of 10)",
        "note: the test split's classes differ from training's: no test images of Coat, Sandal, Shirt, Sneaker, "
        "Bag, Ankle boot (left out of the macro averages)",
    ]
    assert lines[4] == "class        precision  recall      f1  support"
    assert lines[5] == "T-shirt/top     1.0000  0.5000  0.6667        2"
    assert lines[8] == "Dress           0.0000  0.0000  0.0000        2"
    assert lines[9] == "Coat               n/a     n/a     n/a        0"
    assert lines[14] == "Ankle boot         n/a     n/a     n/a        0"


def test_with_every_class_present_the_table_says_so_and_has_no_note():
    labels = torch.arange(20) % 10
    metrics = {"weights": "best", **evaluation.classification_metrics(_logits(labels.tolist()), labels)}
    lines = format_metrics(metrics, "r").splitlines()
    assert lines[1].endswith("macro accuracy 1.0000 (mean recall over the 10 classes present)")
    assert lines[2] == "" and "n/a" not in "\n".join(lines)


@pytest.mark.parametrize("train, test, expected", [
    ([5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [1] * 10, None),
    ([5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [1, 1, 1, 1, 1, 0, 1, 1, 0, 1],
     "the test split's classes differ from training's: no test images of Sandal, Bag (left out of the macro "
     "averages)"),
    ([5, 5, 5, 5, 5, 5, 5, 5, 5, 0], [1] * 10,
     "the test split's classes differ from training's: Ankle boot in the test split but never in training (the "
     "model cannot have learned it)"),
    ([0, 5, 5, 5, 5, 5, 5, 5, 5, 0], [1, 0, 1, 1, 1, 1, 1, 1, 1, 1],
     "the test split's classes differ from training's: no test images of Trouser (left out of the macro averages); "
     "T-shirt/top, Ankle boot in the test split but never in training (the model cannot have learned them)"),
    ([0, 5, 5, 5, 5, 5, 5, 5, 5, 5], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1], None),   # absent from both: the same classes
])
def test_a_test_split_whose_classes_differ_from_trainings_is_said_in_one_line(train, test, expected):
    metrics = {"per_class": {c: {"support": n} for c, n in zip(CLASSES, test)},
               "train_support": dict(zip(CLASSES, train))}
    assert evaluation.class_mismatch(metrics) == expected


def test_without_the_trainings_classes_the_test_split_is_compared_with_all():
    metrics = {"per_class": {c: {"support": int(c != "Bag")} for c in CLASSES}}   # an old run's metrics.json
    assert evaluation.class_mismatch(metrics) == ("the test split's classes differ from training's: no test images "
                                                  "of Bag (left out of the macro averages)")


def test_the_confusion_plot_greys_a_class_with_no_images():
    confusion = np.diag([3, 2, 0]) + np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    ax = plots.plot_confusion(confusion, classes=["a", "b", "c"]).axes[0]
    rates = ax.images[0].get_array()
    assert rates[0].tolist() == [0.75, 0.25, 0.0] and rates[1].tolist() == [0.0, 1.0, 0.0]
    assert np.ma.getmaskarray(rates).tolist() == [[False] * 3, [False] * 3, [True] * 3]   # drawn in the "bad" grey
    assert ax.images[0].get_cmap().get_bad().tolist() == list(plt_colors.to_rgba("lightgrey"))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c (no images)"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["3", "1", "0", "0", "2", "0", "n/a", "n/a", "n/a"]


# ---------------------------------------------------------------- the README's own-data route, end to end

def _write_idx(directory, split, images, labels):
    directory.mkdir(parents=True, exist_ok=True)
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        (directory / f"{split}-{kind}-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))


def own_data(directory, drop_test=(), drop_train=()):
    """conftest's synthetic IDX data (400 training, 100 test images) without the classes named in drop_*."""
    for split, n, seed, drop in (("train", 400, 0, drop_train), ("t10k", 100, 1, drop_test)):
        images, labels = synthetic_split(n, seed)
        keep = ~np.isin(labels, drop)
        _write_idx(directory, split, images[keep], labels[keep])
    return directory


def _macro_from_confusion(confusion):
    """By hand: the mean over the rows with images of diagonal / row sum."""
    confusion = np.asarray(confusion, dtype=float)
    rows = confusion.sum(axis=1)
    return float(np.mean([confusion[i, i] / rows[i] for i in range(len(rows)) if rows[i]]))


TRAIN = ["--no-verify", "--epochs", "2", "--batch-size", "64", "--lr", "0.01", "--hidden-size", "16",
         "--no-figures", "--seed", "1"]


@pytest.fixture(scope="module")
def issue_run(tmp_path_factory):
    """The issue's case: own IDX data whose test split has no Sandals (5) and no Bags (8)."""
    import contextlib
    import io
    tmp = tmp_path_factory.mktemp("honest")
    data = own_data(tmp / "data", drop_test=(5, 8))
    out, stdout = tmp / "run", io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["train", "--data-dir", str(data), *TRAIN, "--out", str(out)]) == 0
    return out, stdout.getvalue().splitlines()


NOTE = ("note: the test split's classes differ from training's: no test images of Sandal, Bag (left out of the "
        "macro averages)")


def test_train_says_the_test_split_lacks_classes(issue_run):
    out, lines = issue_run
    assert lines[-2] == NOTE and lines[-1].startswith("test accuracy ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 80 and metrics["classes_present"] == 8
    assert metrics["macro_accuracy"] == pytest.approx(_macro_from_confusion(metrics["confusion"]), abs=1e-6)
    assert f"(macro {metrics['macro_accuracy']:.4f}," in lines[-1]
    # the images that trained it (its 90 %, validation excluded), per class, for evaluate's comparison
    train_labels = synthetic_split(400, 0)[1]
    train_idx, _ = split_indices(400, 0.1, 1)
    assert metrics["train_support"] == dict(zip(CLASSES, np.bincount(train_labels[train_idx.numpy()],
                                                                     minlength=10).tolist()))
    for name in ("Sandal", "Bag"):
        assert metrics["per_class"][name] == {"precision": None, "recall": None, "f1": None, "support": 0}


def test_evaluate_prints_the_macro_over_the_classes_present_with_n_a_rows(issue_run, capsys):
    out, _ = issue_run
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    metrics = json.loads((out / "metrics.json").read_text())
    macro = _macro_from_confusion(metrics["confusion"])
    assert lines[1].endswith(f"macro accuracy {macro:.4f} (mean recall over the 8 classes present of 10)")
    assert lines[2] == NOTE
    assert lines[10] == "Sandal             n/a     n/a     n/a        0"
    assert lines[13] == "Bag                n/a     n/a     n/a        0"
    assert main(["evaluate", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["per_class"]["Bag"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert printed["macro_accuracy"] == metrics["macro_accuracy"] and printed["classes_present"] == 8


def test_the_model_card_ranks_only_classes_present_and_says_n_a(issue_run):
    out, _ = issue_run
    metrics = json.loads((out / "metrics.json").read_text())
    card = (out / "MODEL_CARD.md").read_text()
    assert (f"macro accuracy {metrics['macro_accuracy']:.4f} (mean recall over the 8 classes present of 10)"
            in card)
    assert f"\n\nNote: {NOTE.removeprefix('note: ')}.\n\n| class |" in card
    assert "| Sandal | n/a | n/a | n/a | 0 |" in card and "| Bag | n/a | n/a | n/a | 0 |" in card
    recall = {c: v["recall"] for c, v in metrics["per_class"].items() if v["support"]}
    weakest, strongest = min(recall, key=recall.get), max(recall, key=recall.get)
    assert (f"- Its weakest class is {weakest} (recall {recall[weakest]:.2f}), its strongest {strongest} "
            f"(recall {recall[strongest]:.2f});") in card
    assert weakest not in ("Sandal", "Bag") and strongest not in ("Sandal", "Bag")


def test_the_confusion_figure_of_such_a_run_greys_the_missing_rows(issue_run):
    out, _ = issue_run
    metrics = json.loads((out / "metrics.json").read_text())
    ax = plots.plot_confusion(metrics["confusion"]).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[5] == "Sandal (no images)" and labels[8] == "Bag (no images)" and labels[0] == "T-shirt/top"


def test_a_class_in_the_test_split_but_never_in_training_is_said(tmp_path, capsys):
    data = own_data(tmp_path / "data", drop_train=(9,))
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "--data-dir", str(data), *TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    note = ("note: the test split's classes differ from training's: Ankle boot in the test split but never in "
            "training (the model cannot have learned it)")
    assert capsys.readouterr().out.splitlines()[-2] == note
    assert main(["evaluate", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[2] == note
    assert f"Note: {note.removeprefix('note: ')}." in (out / "MODEL_CARD.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_support"]["Ankle boot"] == 0 and metrics["per_class"]["Ankle boot"]["support"] == 10
    assert metrics["classes_present"] == 10     # present in the test split: scored (its recall is what it is)


def test_validation_without_a_class_is_scored_over_the_classes_it_has(tmp_path):
    """Through the Python API: training data with no Coats (4) at all, so neither does validation."""
    images, labels = synthetic_split(400, 0)
    keep = labels != 4
    train_set = ImageDataset(torch.from_numpy(images[keep]), torch.from_numpy(labels[keep]).long())
    test_images, test_labels = synthetic_split(100, 1)
    test_set = ImageDataset(torch.from_numpy(test_images), torch.from_numpy(test_labels).long())
    cfg = build_config("notebook", {"epochs": 1, "batch_size": 64, "lr": 0.01, "hidden_size": 16, "seed": 1})
    result = rowrnn.fit(cfg, tmp_path / "run", train_set=train_set, test_set=test_set, figures=False)
    _, val_idx = split_indices(len(train_set), 0.1, 1)
    model, _ = runs.load_model(result.path, "best")
    predicted = evaluation.predict_logits(model, train_set.images[val_idx]).argmax(1).numpy()
    expected = train_set.labels[val_idx].numpy()
    present = sorted(set(expected.tolist()))
    assert 4 not in present and len(present) == 9
    by_hand = np.mean([(predicted[expected == k] == k).mean() for k in present])
    assert result.history["val_metric"][0] == pytest.approx(by_hand, abs=1e-6)
    assert result.best_val_metric == result.history["val_metric"][0]
    assert result.metrics["train_support"]["Coat"] == 0 and lifecycle.class_counts(torch.tensor([0, 0, 9])) == \
        {**{c: 0 for c in CLASSES}, "T-shirt/top": 2, "Ankle boot": 1}
    note = ("the test split's classes differ from training's: Coat in the test split but never in training (the "
            "model cannot have learned it)")
    assert evaluation.class_mismatch(result.metrics) == note



def test_a_hand_edited_training_record_is_ignored_not_a_crash(issue_run, tmp_path, capsys):
    import shutil
    out, _ = issue_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".lock"))
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["train_support"] = {name: "many" for name in CLASSES}
    (copy / "metrics.json").write_text(json.dumps(metrics))
    capsys.readouterr()
    assert main(["evaluate", str(copy), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "train_support" not in printed             # compared with all the classes instead
    assert evaluation.class_mismatch(printed) == NOTE.removeprefix("note: ")
