"""Checks that need a CUDA GPU (run by scripts/gpu_check.sh); skipped elsewhere."""
import pytest
import torch

from rowrnn.config import build_config
from rowrnn.data import Batches, load_fashion_mnist
from rowrnn.lifecycle import train_epochs

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_batches_are_sliced_on_the_device_without_host_copies(data_dir):
    train, _ = load_fashion_mnist(data_dir, verify=False)
    images = train.images.to("cuda")
    b = Batches(images, train.labels, 64, shuffle=True, device="cuda")
    assert b.images.data_ptr() == images.data_ptr()  # the dataset moved once, before, not per batch
    x, y = next(iter(b))
    assert x.is_cuda and y.is_cuda and x.dtype == torch.float32


@pytest.mark.parametrize("amp", [False, True])
def test_fit_on_cuda_matches_cpu_closely(data_dir, tmp_path, amp):
    train, _ = load_fashion_mnist(data_dir, verify=False)
    results = {}
    for device in ("cpu", "cuda"):
        cfg = build_config("notebook", {"epochs": 2, "batch_size": 64, "lr": 0.01, "device": device,
                                        "amp": amp and device == "cuda", "data_dir": str(data_dir), "verify": False})
        results[device] = train_epochs(cfg, tmp_path / device, train_set=train).history
    tolerance = 0.05 if amp else 1e-3
    for key in ("train_loss", "val_loss"):
        assert results["cuda"][key] == pytest.approx(results["cpu"][key], rel=tolerance), key


def test_cudnn_gru_trains(data_dir, tmp_path):
    cfg = build_config("notebook", {"cell": "gru", "hidden_size": 64, "bidirectional": True, "epochs": 2,
                                    "batch_size": 64, "device": "cuda", "data_dir": str(data_dir), "verify": False})
    history = train_epochs(cfg, tmp_path / "gru").history
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_the_notebooks_inference_cell_works_after_train_on_a_gpu(data_dir):
    """The course contract on a CUDA runtime: train() uses the GPU, the model comes back where it was."""
    import rowrnn
    from conftest import NotebookRNNModel
    from torch import nn
    from torch.utils.data import DataLoader
    from torchmetrics.classification import MulticlassAccuracy
    train, test = load_fashion_mnist(data_dir, verify=False)
    model = NotebookRNNModel()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].device.type))
    history = rowrnn.train(model, DataLoader(train, batch_size=64, shuffle=True), 2, nn.CrossEntropyLoss(),
                           torch.optim.Adam(model.parameters()), validation_split=0.1,
                           metric_fn=MulticlassAccuracy(num_classes=10), verbose=False)
    assert set(seen) == {"cuda"} and len(history["val_metric"]) == 2
    assert next(model.parameters()).device.type == "cpu"
    images_tensor = torch.stack([test[i][0] for i in range(25)])   # the notebook's cell, CPU tensors
    model.eval()
    with torch.no_grad():
        preds = torch.argmax(model(images_tensor), dim=1).numpy()
    assert preds.shape == (25,)
    # a second train() call continues on the GPU with the optimizer's state there
    rowrnn.train(model, DataLoader(train, batch_size=64), 1, nn.CrossEntropyLoss(),
                 torch.optim.Adam(model.parameters()), verbose=False)
    assert next(model.parameters()).device.type == "cpu"
