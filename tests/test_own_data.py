"""A run's dataset is part of its config: Fashion-MNIST stays bit for bit, other datasets follow through
train, evaluate and the files a run writes (issue 28)."""
import json

import numpy as np
import pytest

import rowrnn
from conftest import REAL_DATA, write_dataset
from rowrnn import datasets
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.files import sha256

# Weights SHA-256 and test metrics of runs made with the code before datasets existed (commit c61b7cb, run from
# /work/main/src and this tree alike): a Fashion-MNIST run must stay exactly what it was.
BEFORE = {
    "synthetic": ("afd249f1dcdfdf02b5f6ca1317d3894bfd28adb58aebea3f57d9f6215a2b8f2b", 0.07000000029802322,
                  2.2985646724700928),
    "synthetic-gru": ("1f676fc8551ae8065cf7dae9e7b2926dae7cbc62a0d62c977b8e11b4a346db89", 0.8999999761581421,
                      1.2490370273590088),
    "real": ("9d4b4c8ae025b78e28cddd14820e6bee249161f2b365a7149e63ecb2c4aea952", 0.20839999616146088,
             2.1428616046905518),
}
SYNTHETIC = {"synthetic": {"epochs": 2, "batch_size": 64, "lr": 0.01, "verify": False, "seed": 0},
             "synthetic-gru": {"cell": "gru", "hidden_size": 16, "read": "rows+columns", "rows_per_step": 2,
                               "epochs": 2, "batch_size": 64, "lr": 0.01, "verify": False, "seed": 1}}


def _check(run_dir, name):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    digest, accuracy, loss = BEFORE[name]
    assert (metrics["weights_sha256"], metrics["accuracy"], metrics["loss"]) == (digest, accuracy, loss)
    assert sha256((run_dir / "best.safetensors").read_bytes()) == digest
    config = json.loads((run_dir / "config.json").read_text())["data"]
    assert config["dataset"] == "fashion-mnist" and config["classes"] == list(rowrnn.CLASSES)
    # as before folder digests: a named dataset's config.json records no split_sha256
    assert list(config) == ["data_dir", "verify", "dataset", "image_size", "test_split", "conversion", "classes"]


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_fashion_mnist_runs_are_bit_identical_to_before(tmp_path, name):
    data = write_dataset(tmp_path / "data")
    rowrnn.fit(build_config("notebook", {**SYNTHETIC[name], "data_dir": str(data)}), tmp_path / "run", figures=False)
    _check(tmp_path / "run", name)


@pytest.mark.integration
def test_a_real_fashion_mnist_epoch_is_bit_identical_to_before(tmp_path):
    rowrnn.fit(build_config("notebook", {"epochs": 1, "seed": 0, "data_dir": str(REAL_DATA)}), tmp_path / "run",
               figures=False)
    _check(tmp_path / "run", "real")


def test_a_run_without_a_dataset_loads_as_fashion_mnist(tmp_path):
    data = write_dataset(tmp_path / "data")
    rowrnn.fit(build_config("notebook", {**SYNTHETIC["synthetic"], "data_dir": str(data)}), tmp_path / "run",
               figures=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    for field in ("dataset", "image_size", "test_split", "conversion", "classes"):   # as rowrnn 0.1 wrote it
        del config["data"][field]
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    info = datasets.dataset_of(tmp_path / "run")
    assert (info.name, info.classes, info.image_size, info.channels, info.mean, info.std) == (
        "fashion-mnist", rowrnn.CLASSES, 28, 1, 0.5, 0.5)
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0


def test_config_lists_the_tables_datasets():
    from rowrnn import config
    assert config.DATASET_NAMES == datasets.NAMES and config.CONVERSIONS == datasets.CONVERSIONS
    for name, entry in datasets.TABLE.items():
        assert build_config("notebook", {"dataset": name}).num_classes == len(entry.classes)


@pytest.mark.parametrize("overrides,message", [
    ({"dataset": "mnist", "image_size": 8}, "--image-size 8: mnist is 28x28; --image-size applies to image "
                                            "folders: drop it"),
    ({"image_size": 3}, "--image-size must be from 4 to 256 pixels, got 3"),
    ({"dataset": "my/drawings", "image_size": 8, "rows_per_step": 7}, "--rows-per-step 7 does not divide the image side 8: choose one of "
                                            "1, 2, 4, 8"),
    ({"test_split": 1.0}, "--test-split must be between 0 and 1 (exclusive), got 1.0"),
    ({"dataset": "my/drawings", "conversion": "photo", "image_size": 16}, "--conversion photo makes Fashion-MNIST's 28x28 images: drop "
                                                "--image-size 16, or use --conversion plain"),
])
def test_dataset_options_are_checked_in_one_line(overrides, message, capsys):
    """The CLI's line names the flags; the API's the Python arguments (errors.python_api)."""
    with pytest.raises(rowrnn.RowrnnError) as e:
        build_config("notebook", overrides)
    python = message
    for flag in ("--image-size", "--rows-per-step", "--test-split", "--conversion"):
        python = python.replace(flag, flag[2:].replace("-", "_"))
    assert str(e.value) == python
    argv = [a for k, v in overrides.items() for a in ("--" + k.replace("_", "-"), str(v))]
    assert main(["train", *argv, "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith(message)


def digits_folder(directory):
    """scikit-learn's 1,797 8x8 handwritten digits (16 grey levels), written as one folder of class folders."""
    sklearn = pytest.importorskip("sklearn.datasets")
    digits = sklearn.load_digits()
    images = np.rint(digits.images * 255 / 16).astype(np.uint8)           # 0-16 -> 0-255
    return datasets.write_image_folder(images, digits.target, [str(k) for k in range(10)], directory), digits


def test_a_reader_learns_scikit_learns_digits_at_their_own_size(tmp_path, capsys):
    folder, digits = digits_folder(tmp_path / "digits")
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), "--image-size", "8", "--cell", "gru", "--hidden-size", "32",
                 "--epochs", "12", "--batch-size", "64", "--lr", "0.01", "--out", str(run), "--quiet",
                 "--no-figures"]) == 0
    config = json.loads((run / "config.json").read_text())["data"]
    assert config["dataset"] == str(folder) and config["image_size"] == 8
    assert config["classes"] == [str(k) for k in range(10)]
    metrics = json.loads((run / "metrics.json").read_text())
    # the one-folder split holds out round(20 %) of each class: 359 of the 1,797 images
    held_out = sum(round(0.2 * n) for n in np.bincount(digits.target))
    assert held_out == 359 and metrics["images"] == held_out and list(metrics["per_class"]) == config["classes"]
    assert metrics["accuracy"] > 0.8                                          # chance is 0.1
    model, _ = rowrnn.load_model(run)
    assert model.num_steps == 8 and model.rnn.input_size == 8 and model.fc.out_features == 10
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == metrics["accuracy"]


def test_an_emnist_letters_run_has_26_outputs_and_letter_names(tmp_path, monkeypatch):
    from test_datasets import patched, write_named
    written = write_named(tmp_path / "e", "emnist-letters", n=(104, 52), zipped=True)
    patched(monkeypatch, "emnist-letters", written, counts=(104, 52))
    result = rowrnn.fit(build_config("notebook", {"dataset": "emnist-letters", "data_dir": str(tmp_path / "e"),
                                                  "epochs": 1, "batch_size": 32}), tmp_path / "run")
    assert result.metrics["images"] == 52 and list(result.metrics["per_class"])[:3] == ["a", "b", "c"]
    assert len(result.metrics["per_class"]) == 26
    model, _ = rowrnn.load_model(tmp_path / "run")
    assert model.fc.out_features == 26
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert "## Evaluation (test split, 52 images)" in card
    assert "Input: one 28×28 grey image," in card and "logits over the 26 EMNIST letters classes" in card
    assert "EMNIST letters: 26 classes (a, b, c, d, e, f, g, h, i, j, k, l, …), 28×28 grey." in card
    assert "It knows 26 classes and nothing else" in card and "garments" not in card
    assert ("- Photographs and drawings differ from the images of EMNIST letters; `rowrnn predict` converts "
            "them (grey,\n  fitted whole into 28×28, inverted on light backgrounds), but accuracy on them is not "
            "measured here."
            in card) and "Fashion-MNIST" not in card
    assert "--dataset emnist-letters" in card


def test_a_digits_run_exports_with_its_classes_and_size(tmp_path):
    pytest.importorskip("onnxruntime")
    folder, _ = digits_folder(tmp_path / "digits")
    run = rowrnn.fit(build_config("notebook", {"dataset": str(folder), "image_size": 8, "epochs": 1,
                                               "batch_size": 128}), tmp_path / "run", figures=False).path
    assert main(["export", str(run)]) == 0
    from rowrnn.export import OnnxClassifier
    exported = OnnxClassifier(run / "model.onnx")
    assert exported.classes == tuple(str(k) for k in range(10))
    assert exported.metadata["rowrnn.image_size"] == "8" and exported.metadata["rowrnn.dataset"] == str(folder)
