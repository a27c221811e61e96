"""Shared fixtures: tiny synthetic Fashion-MNIST-format data written as real IDX files."""
import gzip
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

torch.set_num_threads(1)  # tests are small; one thread keeps them deterministic and quiet

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize a uint8 array in the IDX format (magic 0x0803 for 3-d, 0x0801 for 1-d)."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_split(n: int, seed: int):
    """Learnable images: class k lights up the horizontal band of rows 2k..2k+7, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28))
    for i, k in enumerate(labels):
        images[i, 2 * k:2 * k + 8, 4:24] = 220
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_dataset(directory: Path, n_train=400, n_test=100, compress=True, seed=0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = synthetic_split(n, s)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            name = f"{split}-{kind}-ubyte"
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
    return directory


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return write_dataset(tmp_path / "data")


@pytest.fixture
def isolated_sources(tmp_path, monkeypatch):
    """No data anywhere: empty cache, no $ROWRNN_DATA, no system directory, downloads refused."""
    from rowrnn import data
    monkeypatch.delenv("ROWRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ROWRNN_DATA_URL", "http://127.0.0.1:9/")  # discard port: connection refused
    monkeypatch.setattr(data, "SYSTEM_DIRS", (tmp_path / "no-system-dir",))
    return tmp_path


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"{REAL_DATA} is missing: apt-get install dataset-fashion-mnist (.ci/run does)")
    return REAL_DATA


class NotebookRNNModel(nn.Module):
    """The notebook's model class, as its cell writes it."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(input_size=28, hidden_size=8, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = x.squeeze(1)
        out, h = self.rnn(x)
        return self.fc(out[:, -1, :])


# The notebook widget's JavaScript, run outside a browser (tests/test_webassets.py, tests/test_widget.py)
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: the inlined module is run by node")


def run_module(tmp_path, source: str, script: str) -> str:
    """Import `source` as an ES module in node and print what `script` (given `m`, the default export) gives."""
    (tmp_path / "bundle.mjs").write_text(source)
    (tmp_path / "main.mjs").write_text(f'import m from "./bundle.mjs";\nconsole.log(JSON.stringify({script}));\n')
    done = subprocess.run([NODE, str(tmp_path / "main.mjs")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
