import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torchmetrics.classification import MulticlassAccuracy

import rowrnn
from rowrnn.data import load_fashion_mnist, normalize
from rowrnn.config import TrainConfig
from rowrnn.optim import make_optimizer, make_scheduler
from rowrnn.training import get_device


@pytest.fixture
def train_set(data_dir):
    return load_fashion_mnist(data_dir, verify=False)[0]


def _course_call(model, loader, epochs=2, lr=1e-2, **kwargs):
    return rowrnn.train(model, loader, epochs, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=lr),
                        **kwargs)


@pytest.mark.parametrize("split, metric, keys", [
    (None, False, ["train_loss"]),
    (None, True, ["train_loss", "train_metric"]),
    (0.2, False, ["train_loss", "val_loss"]),
    (0.2, True, ["train_loss", "train_metric", "val_loss", "val_metric"]),
])
def test_history_keys_order_and_lengths(train_set, split, metric, keys):
    torch.manual_seed(0)
    history = _course_call(rowrnn.RNNClassifier(), DataLoader(train_set, batch_size=64, shuffle=True), epochs=3,
                           validation_split=split, metric_fn=MulticlassAccuracy(num_classes=10) if metric else None,
                           verbose=False, seed=0)
    assert list(history) == keys
    assert all(len(v) == 3 and all(isinstance(x, float) for x in v) for v in history.values())


def _macro_accuracy(logits, labels):
    preds = logits.argmax(1)
    return torch.stack([(preds[labels == k] == k).float().mean() for k in labels.unique()]).mean().item()


def test_val_metric_is_macro_accuracy_of_the_validation_split(train_set):
    torch.manual_seed(0)
    model = rowrnn.RNNClassifier()
    history = _course_call(model, DataLoader(train_set, batch_size=64, shuffle=True), epochs=2,
                           validation_split=0.25, metric_fn=MulticlassAccuracy(num_classes=10), verbose=False, seed=7)
    _, val_idx = random_split(range(len(train_set)), [0.75, 0.25], generator=torch.Generator().manual_seed(7))
    idx = torch.tensor(list(val_idx))
    with torch.no_grad():
        logits = model.eval()(normalize(train_set.images[idx]).unsqueeze(1))
    labels = train_set.labels[idx]
    assert len(idx) == 100
    assert history["val_metric"][-1] == pytest.approx(_macro_accuracy(logits, labels), abs=1e-6)
    micro = (logits.argmax(1) == labels).float().mean().item()
    assert abs(micro - history["val_metric"][-1]) > 1e-3  # the split is unbalanced: macro and micro differ
    assert history["val_loss"][-1] == pytest.approx(nn.functional.cross_entropy(logits, labels).item(), abs=1e-5)


def test_train_loss_is_the_sample_weighted_mean(train_set):
    """With lr=0 the model is fixed, so the epoch loss must equal the loss over all 400 images (batches 64 x 6 + 16)."""
    torch.manual_seed(0)
    model = rowrnn.RNNClassifier()
    history = _course_call(model, DataLoader(train_set, batch_size=64, shuffle=True), epochs=1, lr=0.0,
                           metric_fn=MulticlassAccuracy(num_classes=10), verbose=False, seed=0)
    with torch.no_grad():
        logits = model(normalize(train_set.images).unsqueeze(1))
    assert history["train_loss"][0] == pytest.approx(nn.functional.cross_entropy(logits, train_set.labels).item(), rel=1e-5)
    assert history["train_metric"][0] == pytest.approx(_macro_accuracy(logits, train_set.labels), abs=1e-6)


def test_fast_path_and_dataloader_fallback_agree(train_set):
    """rowrnn's dataset goes through the fast iterator, a TensorDataset through DataLoaders: same numbers."""
    plain = TensorDataset(normalize(train_set.images).unsqueeze(1), train_set.labels)
    results = []
    for ds in (train_set, plain):
        torch.manual_seed(1)
        model = rowrnn.RNNClassifier()
        results.append(_course_call(model, DataLoader(ds, batch_size=50, shuffle=True), epochs=1, lr=0.0,
                                    validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10),
                                    verbose=False, seed=3))
    for key in results[0]:
        assert results[0][key] == pytest.approx(results[1][key], rel=1e-5), key


def test_training_learns_the_synthetic_task(train_set):
    torch.manual_seed(0)
    history = _course_call(rowrnn.RNNClassifier(hidden_size=16), DataLoader(train_set, batch_size=32, shuffle=True),
                           epochs=15, validation_split=0.2, metric_fn=MulticlassAccuracy(num_classes=10),
                           verbose=False, seed=0)
    assert history["train_loss"][-1] < history["train_loss"][0] * 0.5
    assert history["val_metric"][-1] > 0.8


def test_verbose_prints_one_line_per_epoch_with_seconds(train_set, capsys):
    _course_call(rowrnn.RNNClassifier(), DataLoader(train_set, batch_size=128), epochs=2, validation_split=0.1,
                 metric_fn=MulticlassAccuracy(num_classes=10), seed=0)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2: train_loss=") and "val_metric=" in lines[0] and lines[0].endswith(" s)")


def test_seed_makes_the_course_helper_reproducible(train_set):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(_course_call(rowrnn.RNNClassifier(), DataLoader(train_set, batch_size=64, shuffle=True),
                                 validation_split=0.1, verbose=False, seed=11))
    assert runs[0] == runs[1]


def test_evaluate_returns_loss_and_metric(train_set):
    torch.manual_seed(0)
    model = rowrnn.RNNClassifier()
    loader = DataLoader(Subset(train_set, range(100)), batch_size=30)
    out = rowrnn.evaluate(model=model, data_loader=loader, criterion=nn.CrossEntropyLoss(),
                          metric_fn=MulticlassAccuracy(num_classes=10))
    with torch.no_grad():
        logits = model(normalize(train_set.images[:100]).unsqueeze(1))
    assert set(out) == {"loss", "metric"}
    assert out["loss"] == pytest.approx(nn.functional.cross_entropy(logits, train_set.labels[:100]).item(), rel=1e-5)
    assert out["metric"] == pytest.approx(_macro_accuracy(logits, train_set.labels[:100]), abs=1e-6)
    fast = rowrnn.evaluate(model=model, data_loader=DataLoader(train_set, batch_size=64), criterion=nn.CrossEntropyLoss())
    assert fast["metric"] is None and math.isfinite(fast["loss"])


def test_get_device_is_one_of_the_course_names():
    assert get_device() in ("cuda", "mps", "cpu")
    assert get_device() == ("cuda" if torch.cuda.is_available() else get_device())


def schedule_factors(schedule: str, total: int) -> list[float]:
    """The learning rate of each of `total` optimizer steps, as a fraction of the peak (torch's schedulers)."""
    cfg = TrainConfig(lr=1.0, schedule=schedule)
    optimizer = make_optimizer([torch.zeros(1, requires_grad=True)], cfg)
    scheduler = make_scheduler(optimizer, cfg, total)
    factors = []
    for _ in range(total):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return factors


@pytest.mark.parametrize("schedule, expected", [
    ("constant", {0: 1.0, 50: 1.0, 99: 1.0}),
    ("cosine", {0: 1.0, 50: 0.5, 99: 0.5 * (1 + math.cos(math.pi * 99 / 100))}),
    ("onecycle", {0: 1 / 25, 29: 1.0, 99: 1 / 25 / 1e4}),   # up over 30 % of the steps, then down
])
def test_lr_schedules(schedule, expected):
    factors = schedule_factors(schedule, 100)
    for step, value in expected.items():
        assert factors[step] == pytest.approx(value, rel=1e-6, abs=1e-12), step
    if schedule == "onecycle":
        assert max(factors) == pytest.approx(1.0) and factors.index(max(factors)) == 29
        assert all(a <= b for a, b in zip(factors[:29], factors[1:30]))      # rising, then
        assert all(a >= b for a, b in zip(factors[29:], factors[30:]))       # falling


def test_the_loaders_sampler_and_drop_last_are_respected(train_set):
    """A custom sampler or drop_last leaves the fast path: the model sees what the loader yields."""
    from torch.utils.data import SubsetRandomSampler

    class Counting(rowrnn.RNNClassifier):
        seen = 0

        def forward(self, x, steps=None):
            Counting.seen += len(x)
            return super().forward(x, steps)

    for loader, expected in ((DataLoader(train_set, batch_size=50, sampler=SubsetRandomSampler(range(100))), 100),
                             (DataLoader(train_set, batch_size=64, shuffle=True, drop_last=True), 384),
                             (DataLoader(train_set, batch_size=64, shuffle=True), 400)):
        Counting.seen = 0
        _course_call(Counting(), loader, epochs=1, verbose=False)
        assert Counting.seen == expected
        Counting.seen = 0
        rowrnn.evaluate(model=Counting(), data_loader=loader, criterion=nn.CrossEntropyLoss())
        assert Counting.seen == expected


def test_the_model_ends_on_the_device_it_started_on(train_set, monkeypatch):
    """The course contract: train() and evaluate() run on their device and hand the model back where it was,
    so the notebook's next cell (model(images) with CPU tensors) works on a GPU runtime too."""
    moves = []
    real_to = torch.nn.Module.to

    def spy(self, *args, **kwargs):
        if isinstance(self, rowrnn.RNNClassifier):
            moves.append(str(args[0]))
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", spy)
    model = rowrnn.RNNClassifier()
    _course_call(model, DataLoader(train_set, batch_size=64), epochs=1, verbose=False, device="cpu")
    assert moves == ["cpu", "cpu"]  # to the training device, then home
    moves.clear()
    rowrnn.evaluate(model=model, data_loader=DataLoader(train_set, batch_size=64), criterion=nn.CrossEntropyLoss(),
                    device="cpu")
    assert moves == ["cpu", "cpu"]
    moves.clear()
    with pytest.raises(ZeroDivisionError):  # the way home is taken even when training fails
        rowrnn.train(model, DataLoader(train_set, batch_size=64), 1, lambda logits, y: 1 / 0,
                     torch.optim.Adam(model.parameters()), verbose=False, device="cpu")
    assert moves[0] == "cpu" and moves[-1] == "cpu"


# ----------------------------------------------------------------------------- the course API's own mistakes

def _small_loader(n, batch_size=16):
    from rowrnn.data import ImageDataset
    from conftest import synthetic_split
    images, labels = synthetic_split(n, 0)
    return DataLoader(ImageDataset(torch.from_numpy(images), torch.from_numpy(labels).long()), batch_size=batch_size)


def _notebook_call(loader, validation_split, verbose, **kwargs):
    from conftest import NotebookRNNModel
    model = NotebookRNNModel()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    return rowrnn.train(model, loader, kwargs.pop("n_epochs", 1), nn.CrossEntropyLoss(), optimizer,
                        validation_split=validation_split, metric_fn=MulticlassAccuracy(num_classes=10),
                        verbose=verbose, seed=0, **kwargs)


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("n, split, message", [
    (50, 0.01, "validation_split=0.01 of 50 images leaves 50 for training and 0 for validation: use a larger "
               "validation_split (at least 0.02) or more images"),
    (3, 0.2, "validation_split=0.2 of 3 images leaves 3 for training and 0 for validation: use a larger "
             "validation_split (at least 0.334) or more images"),
    (1, 0.5, "validation_split=0.5 cannot split 1 image: a split needs at least 2; give more images or no "
             "validation_split"),
    (50, 1.5, "validation_split must be a fraction between 0 and 1 (e.g. 0.1), got 1.5"),
    (50, -0.1, "validation_split must be a fraction between 0 and 1 (e.g. 0.1), got -0.1"),
    (50, "0.1", "validation_split must be a fraction between 0 and 1 (e.g. 0.1), got '0.1'"),
])
def test_a_validation_split_that_leaves_no_images_is_refused_before_training(capsys, verbose, n, split, message):
    with pytest.raises(rowrnn.RowrnnError) as e:
        _notebook_call(_small_loader(n), split, verbose)
    assert str(e.value) == message
    assert capsys.readouterr().out == ""                       # not one epoch ran


def test_the_smallest_useful_split_reports_real_numbers_and_prints(capsys):
    history = _notebook_call(_small_loader(50), 0.02, True, n_epochs=2)   # 49 + 1 images
    assert len(history["val_loss"]) == 2 and all(v > 0 for v in history["val_loss"])
    assert history["val_metric"][0] in (0.0, 1.0)               # one image: right or wrong
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"] and "val_loss=" in lines[0]


@pytest.mark.parametrize("call, message", [
    (lambda: _notebook_call(_small_loader(0), 0.1, True), "train_loader's dataset holds no images: give it the "
                                                        "training images"),
    (lambda: _notebook_call(_small_loader(10), 0.1, True, n_epochs=0), "n_epochs must be a positive integer, got 0"),
    (lambda: rowrnn.evaluate(model=nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), data_loader=_small_loader(0),
                             criterion=nn.CrossEntropyLoss()),
     "there are no images to evaluate: give a data_loader over at least one image"),
])
def test_course_api_mistakes_name_the_python_argument(call, message):
    with pytest.raises(rowrnn.RowrnnError) as e:
        call()
    assert str(e.value) == message


@pytest.mark.parametrize("call, message", [
    (lambda tmp: rowrnn.build_config("notebook", {"hidden_size": 0}), "hidden_size must be a positive integer, got 0"),
    (lambda tmp: rowrnn.build_config("notebook", {"val_split": 2.0}),
     "val_split must be between 0 and 1 (exclusive), got 2.0"),
    (lambda tmp: rowrnn.build_config("notebook", {"dropout": 0.5}),
     "dropout 0.5 acts between stacked layers and would do nothing with num_layers 1: use num_layers 2 or more, "
     "or drop dropout"),
    (lambda tmp: rowrnn.load_fashion_mnist(tmp / "nowhere"),
     "data_dir {tmp}/nowhere: no such directory: point it at the folder with the four Fashion-MNIST files, or leave "
     "it out to search the usual places"),
    (lambda tmp: rowrnn.fit(rowrnn.build_config("notebook", {"data_dir": str(tmp / "nowhere")}), tmp / "run"),
     "data_dir {tmp}/nowhere: no such directory: point it at the folder with the four Fashion-MNIST files, or leave "
     "it out to search the usual places"),
])
def test_errors_from_python_calls_name_python_arguments(tmp_path, call, message):
    with pytest.raises(rowrnn.RowrnnError) as e:
        call(tmp_path)
    assert str(e.value) == message.format(tmp=tmp_path)


def test_the_same_errors_name_flags_on_the_command_line(capsys):
    from rowrnn.cli import main
    assert main(["train", "--hidden-size", "0"]) == 2
    assert capsys.readouterr().err == "rowrnn: error: --hidden-size must be a positive integer, got 0\n"
