"""Each training feature of the recipes, measured on a tiny synthetic problem, and test-split discipline."""
import json

import pytest
import torch

from rowrnn import data as data_module
from rowrnn import evaluation
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.data import load_fashion_mnist, normalize
from rowrnn.lifecycle import train_epochs
from rowrnn.training import split_indices
from test_training import schedule_factors


@pytest.fixture
def train_set(data_dir):
    return load_fashion_mnist(data_dir, verify=False)[0]


def _fit(train_set, tmp_path, name="run", **overrides):
    cfg = build_config("notebook", {"epochs": 3, "batch_size": 32, "lr": 0.01, "seed": 0, **overrides})
    return train_epochs(cfg, tmp_path / name, train_set=train_set)


def test_schedules_set_the_learning_rate_of_every_step(train_set, tmp_path):
    steps = 12 * 3  # 360 training images in batches of 32: 12 steps per epoch
    for schedule in ("constant", "cosine", "onecycle"):
        history = _fit(train_set, tmp_path, schedule, schedule=schedule).history
        expected = [0.01 * schedule_factors(schedule, steps)[12 * (e + 1) - 1] for e in range(3)]
        assert history["lr"] == pytest.approx(expected), schedule
    assert history["lr"][0] > history["lr"][-1]


def test_weight_decay_shrinks_the_weights(train_set, tmp_path):
    norms = {}
    for wd in (0.0, 0.5):
        _fit(train_set, tmp_path, f"wd{wd}", optimizer="adamw", weight_decay=wd)
        from rowrnn.runs import load_weights
        norms[wd] = sum(t.norm() ** 2 for k, t in load_weights(tmp_path / f"wd{wd}" / "last.safetensors").items()
                        if "weight" in k)
    assert norms[0.5] < 0.97 * norms[0.0]


def test_gradient_clipping_limits_each_step(train_set, tmp_path):
    free = _fit(train_set, tmp_path, "free", optimizer="sgd", lr=0.1)
    clipped = _fit(train_set, tmp_path, "clipped", optimizer="sgd", lr=0.1, clip_grad_norm=1e-4)
    assert free.history["train_loss"][-1] < free.history["train_loss"][0] - 0.05
    # steps of at most lr * 1e-4 (with momentum) cannot move the loss
    assert clipped.history["train_loss"][-1] == pytest.approx(clipped.history["train_loss"][0], abs=2e-3)


def test_label_smoothing_is_in_the_training_loss(train_set, tmp_path):
    torch.manual_seed(0)
    history = _fit(train_set, tmp_path, lr=1e-12, epochs=1, label_smoothing=0.2).history
    from rowrnn.models import build_model
    torch.manual_seed(0)
    model = build_model(build_config("notebook").model)
    train_idx, _ = split_indices(len(train_set), 0.1, 0)
    with torch.no_grad():
        logp = model(normalize(train_set.images[train_idx]).unsqueeze(1)).log_softmax(1)
    y = train_set.labels[train_idx]
    smoothed = (0.8 * -logp.gather(1, y[:, None]).squeeze(1) + 0.2 * -logp.mean(1)).mean()
    assert history["train_loss"][0] == pytest.approx(smoothed.item(), rel=1e-5)


def test_early_stopping_stops_after_patience_epochs_without_progress(train_set, tmp_path):
    result = _fit(train_set, tmp_path, lr=1e-12, epochs=10, patience=2)  # lr ~0: the metric never improves
    assert result.stopped_early and len(result.history["val_metric"]) == 3 and result.best_epoch == 1


def test_augmentation_touches_the_training_split_only(train_set, tmp_path):
    plain = _fit(train_set, tmp_path, "plain", lr=1e-12, epochs=1)
    augmented = _fit(train_set, tmp_path, "aug", lr=1e-12, epochs=1, augment_shift=3, augment_flip=True)
    assert augmented.history["val_loss"] == pytest.approx(plain.history["val_loss"], rel=1e-6)
    assert augmented.history["train_loss"][0] != pytest.approx(plain.history["train_loss"][0], rel=1e-4)


def test_best_epoch_is_chosen_on_validation(train_set, tmp_path):
    result = _fit(train_set, tmp_path, epochs=4)
    val = result.history["val_metric"]
    assert result.best_epoch == 1 + val.index(max(val)) and result.best_val_metric == max(val)


def test_fit_never_loads_the_test_split(train_set, tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("fit loaded the data files, test split included")
    monkeypatch.setattr(data_module, "load_fashion_mnist", forbidden)
    monkeypatch.setattr(data_module, "find_data", forbidden)
    monkeypatch.setattr("rowrnn.lifecycle.load_dataset", forbidden)   # the one reader of a run's dataset
    assert len(_fit(train_set, tmp_path).history["val_metric"]) == 3


def test_train_reads_the_test_split_once_at_the_end(data_dir, tmp_path, monkeypatch):
    calls = []
    real = evaluation.predict_logits
    monkeypatch.setattr(evaluation, "predict_logits", lambda model, images, **kw: calls.append(len(images)) or
                        real(model, images, **kw))
    assert main(["train", "--data-dir", str(data_dir), "--no-verify", "--epochs", "3", "--batch-size", "64",
                 "--quiet", "--no-figures", "--out", str(tmp_path / "run")]) == 0
    assert calls == [100]  # the 100 synthetic test images, once
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert metrics["best_epoch"] == 1 + history["val_metric"].index(max(history["val_metric"]))


def test_flip_averaging_is_the_mean_of_two_explicit_passes():
    """--tta flip averages the class probabilities of each image and its mirror image, nothing else."""
    torch.manual_seed(0)
    from rowrnn.models import RNNClassifier
    model = RNNClassifier(cell="gru", hidden_size=7).eval()
    images = (torch.rand(13, 28, 28) * 255).to(torch.uint8)
    x = normalize(images).unsqueeze(1)
    with torch.no_grad():
        expected = (model(x).softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    got = evaluation.predict_logits(model, images, batch_size=5, tta="flip")
    torch.testing.assert_close(got.softmax(1), expected)
    assert not torch.allclose(evaluation.predict_logits(model, images).softmax(1), expected)


def test_random_erasing_touches_a_rectangle_of_the_chosen_images_only():
    from rowrnn.data import augment
    images = torch.full((200, 28, 28), 7, dtype=torch.uint8)
    out = augment(images, torch.Generator().manual_seed(0), erase=0.5)
    changed = (out != 7).flatten(1).any(1)
    assert 70 < int(changed.sum()) < 130                               # about half the images
    for img in out[changed][:20]:
        rows, cols = (img != 7).nonzero(as_tuple=True)
        box = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert (box != 7).float().mean() > 0.9                          # one filled rectangle (noise may hit 7)
        area = box.numel() / 784
        assert 0.01 < area < 0.45
    assert torch.equal(augment(images, torch.Generator().manual_seed(0), erase=0.0), images)
