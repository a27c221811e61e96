"""The page is told how a person's picture becomes an image for the runs it shows (datasets.picture_options), by
rowrnn serve (/api/runs' "picture") and by a static site (manifest.json's "picture") alike, so that it picks its
hints, brush and preview from the run's conversion, not from its image size: a light-background folder converted
"plain" at 28 is plain, MNIST (photo, fit none) is not trimmed. Trains four tiny runs (one epoch each)."""
import json

import numpy as np
import pytest

from rowrnn import datasets
from rowrnn.cli import main
from rowrnn.datasets import DatasetInfo, dataset_of, picture_options
from test_own_data import digits_folder

pytest.importorskip("starlette")
pytest.importorskip("onnxruntime")
TRAIN = ["train", "--quiet", "--no-figures", "--epochs", "1", "--batch-size", "64", "--cell", "gru",
         "--hidden-size", "4"]
DIGITS = tuple("0123456789")


def light_digits_folder(directory, n=300):
    """The first n of scikit-learn's 8x8 digits, negated (dark on light), as a one-folder image folder."""
    _, digits = digits_folder(directory.parent / f"{directory.name}-source")
    images = 255 - np.rint(digits.images[:n] * 255 / 16).astype(np.uint8)
    return datasets.write_image_folder(images, digits.target[:n], [str(k) for k in range(10)], directory)


def told(run, tmp_path, data_dir=None):
    """(/api/runs' answer, manifest.json) for a site and a server of the one run."""
    from starlette.testclient import TestClient

    from rowrnn import serve
    from rowrnn.site import build_site
    build_site([run], tmp_path / f"{run.name}-site", test_images=4, data_dir=data_dir)
    manifest = json.loads((tmp_path / f"{run.name}-site" / "manifest.json").read_text())
    client = TestClient(serve.create_app([run], data_dir=data_dir), base_url="http://127.0.0.1:8000")
    return client.get("/api/runs").json(), manifest


def test_serve_and_a_site_tell_the_page_the_same_conversion(tmp_path, monkeypatch):
    from conftest import write_dataset
    from test_datasets import patched, write_named
    fashion = write_dataset(tmp_path / "fashion", n_train=200, n_test=40)
    written = write_named(tmp_path / "mnist", "mnist", n=(120, 40))
    patched(monkeypatch, "mnist", written, counts=(120, 40))
    light = light_digits_folder(tmp_path / "light")
    dark, _ = digits_folder(tmp_path / "dark")
    cases = {
        "fashion": ([*TRAIN, "--data-dir", str(fashion), "--no-verify"], fashion,
                    {"conversion": "photo", "fit": "trim", "size": 28}, "light"),
        "mnist": ([*TRAIN, "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist")], None,
                  {"conversion": "photo", "fit": "none", "size": 28}, "light"),
        "light28": ([*TRAIN, "--dataset", str(light), "--image-size", "28"], None,
                    {"conversion": "plain", "size": 28}, "light"),
        "dark8": ([*TRAIN, "--dataset", str(dark), "--image-size", "8"], None,
                  {"conversion": "plain", "size": 8}, "dark"),
    }
    for name, (flags, data_dir, picture, pad) in cases.items():
        run = tmp_path / "runs" / name
        assert main([*flags, "--out", str(run)]) == 0
        assert picture_options(dataset_of(run)) == picture, name
        listed, manifest = told(run, tmp_path, data_dir)
        assert listed["picture"] == manifest["picture"] == picture, name
        assert listed["pad"] == manifest["pad"] == pad, name
        assert listed["image_size"] == manifest["image_size"] == picture["size"], name


@pytest.mark.parametrize("info, options", [
    (DatasetInfo("my-digits", DIGITS, image_size=28, conversion="plain", background="light"),
     {"conversion": "plain", "size": 28}),
    (DatasetInfo("my-digits", DIGITS, image_size=28, conversion="plain", background="dark"),
     {"conversion": "plain", "size": 28}),
    (DatasetInfo("my-digits", DIGITS, image_size=28, conversion="plain", background=None),
     {"conversion": "plain", "size": 28}),
    (dataset_of("kmnist"), {"conversion": "photo", "fit": "none", "size": 28}),
    (dataset_of("emnist-letters"), {"conversion": "photo", "fit": "none", "size": 28}),
], ids=["plain-28-light", "plain-28-dark", "plain-28-unrecorded", "kmnist", "emnist-letters"])
def test_the_conversion_does_not_follow_the_size_or_the_background(info, options):
    assert picture_options(info) == options
