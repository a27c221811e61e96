"""Tests on the REAL Fashion-MNIST (Debian's dataset-fashion-mnist, installed by .ci/run)."""
import functools
import http.server
import json
import shutil
import threading

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import rowrnn
from rowrnn import data
from conftest import NotebookRNNModel
from rowrnn.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fashion(real_data):
    return rowrnn.load_fashion_mnist(real_data)


def test_real_data_verifies_and_has_the_known_shape(fashion):
    train, test = fashion
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_default_model_one_epoch_beats_chance_end_to_end(real_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(real_data), "--epochs", "1", "--out", str(out), "--no-figures"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 10_000
    assert metrics["accuracy"] > 0.2  # chance is 0.1; one epoch of the notebook model reaches about 0.3


@pytest.fixture
def mirror(real_data, tmp_path):
    """A local HTTP server playing the official download site, serving Debian's files."""
    root = tmp_path / "mirror"
    shutil.copytree(real_data, root)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_fills_the_cache_and_verifies(isolated_sources, mirror, monkeypatch):
    root, url = mirror
    monkeypatch.setenv("ROWRNN_DATA_URL", url)
    source, (train_images, _), _ = data.find_data()
    assert source == isolated_sources / "cache" / "rowrnn"
    assert sorted(p.name for p in source.iterdir()) == sorted(p.name for p in root.iterdir())
    assert train_images.shape == (60_000, 28, 28)
    # the second time the cache is found without any network
    monkeypatch.setenv("ROWRNN_DATA_URL", "http://127.0.0.1:9/")
    assert data.find_data()[0] == source


def test_a_download_failing_verification_is_deleted(isolated_sources, mirror, monkeypatch):
    root, url = mirror
    monkeypatch.setenv("ROWRNN_DATA_URL", url)
    (root / "train-labels-idx1-ubyte.gz").write_bytes((root / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(rowrnn.RowrnnError, match="train-labels-idx1-ubyte.gz failed verification and was deleted"):
        data.find_data()
    assert not (isolated_sources / "cache" / "rowrnn" / "train-labels-idx1-ubyte.gz").exists()


def test_notebook_cells_run_unchanged(fashion, tmp_path):
    """The notebook's own code against `import rowrnn as utils` (plain DataLoaders instead of torchvision's)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from torchmetrics.classification import MulticlassAccuracy
    import rowrnn as utils

    train_dataset, test_dataset = fashion
    train_loader = DataLoader(train_dataset, batch_size=1024, shuffle=True)

    RNNModel = NotebookRNNModel  # the notebook's class cell (tests/conftest.py)

    torch.manual_seed(0)  # the notebook does not seed; the test does, to be repeatable
    model = RNNModel()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = utils.train(model, train_loader, 5, criterion, optimizer, validation_split=0.1,
                          metric_fn=MulticlassAccuracy(num_classes=10))
    ax = pd.DataFrame(history).plot(logy=True)
    plt.xlabel("Epoch num.")
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "train_metric", "val_loss", "val_metric"]
    assert history["val_metric"][-1] > 0.25 and history["train_loss"][-1] < history["train_loss"][0]
    test_loader = DataLoader(test_dataset, batch_size=1024)
    result = utils.evaluate(model=model, data_loader=test_loader, criterion=criterion,
                            metric_fn=MulticlassAccuracy(num_classes=10))
    assert result["metric"] > 0.25 and result["loss"] < 2.2
    plt.close("all")
