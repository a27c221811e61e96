"""A dataset's background (issue 28): decided from an image folder's TRAINING images (datasets.image_background),
recorded in config.json's data section by training, read back by dataset_of (named datasets: dark), and turned
into the page's drawing pad (datasets.drawing_ground), which /api/runs and the static site's manifest carry."""
import json

import numpy as np
import pytest

from rowrnn import datasets
from rowrnn.cli import main
from rowrnn.datasets import DatasetInfo, dataset_of, drawing_ground, image_background
from rowrnn.errors import RowrnnError
from rowrnn.site import dataset_facts
from test_own_data import digits_folder

DIGITS = tuple("0123456789")


def _bordered(values, size=6):
    """(len(values), size, size) uint8 images whose whole border is values[i] and inside 200 -> uint8 array."""
    out = np.full((len(values), size, size), 200, np.uint8)
    for i, v in enumerate(values):
        out[i, 0, :] = out[i, -1, :] = out[i, :, 0] = out[i, :, -1] = v
    return out


def test_scikit_learns_digits_are_dark_and_their_negatives_light(tmp_path):
    folder, _ = digits_folder(tmp_path / "digits")
    train, test, _ = datasets.read_image_folder(folder, image_size=8)
    assert image_background(train.images) == "dark"
    assert image_background(255 - train.images) == "light"


@pytest.mark.parametrize("borders,expected", [
    ([127, 128], "dark"),          # median 127.5: below 128
    ([128, 129], "light"),         # median 128.5
    ([0, 0, 255], "dark"),         # the median, not the mean (85)
    ([255, 255, 0], "light"),
    ([128], "light"),              # 128 itself is light
])
def test_the_background_is_the_median_of_the_border_pixels_against_128(borders, expected):
    assert image_background(_bordered(borders)) == expected


def test_the_inside_of_the_images_does_not_count():
    images = _bordered([10, 10])
    images[:, 1:-1, 1:-1] = 255            # 16 light inside pixels each, against 20 dark border ones
    assert image_background(images) == "dark"
    images = np.zeros((1, 2, 2), np.uint8)  # 2x2: every pixel is the border
    assert image_background(images) == "dark"


@pytest.mark.parametrize("images", [np.zeros((0, 8, 8), np.uint8), np.zeros((2, 8, 8), np.float32),
                                    np.zeros((2, 8, 7), np.uint8), np.zeros((2, 1, 1), np.uint8),
                                    np.zeros((8, 8), np.uint8)])
def test_images_that_are_not_a_stack_of_grey_squares_are_refused_in_one_line(images):
    with pytest.raises(RowrnnError) as e:
        image_background(images)
    assert str(e.value) == (f"images must be uint8 of shape (N, S, S) with N >= 1 and S >= 2, got {images.dtype} "
                            f"{images.shape}")


def _tiny_folder(directory, train_light: bool, test_light: bool):
    """Two classes of 8x8 images, 12 per class for training and 4 for testing, each split dark or light."""
    rng = np.random.default_rng(0)

    def split(n, light):
        images = np.zeros((n, 8, 8), np.uint8)
        labels = np.arange(n) % 2
        for image, label in zip(images, labels):
            image[2:6, 2 + 2 * label:4 + 2 * label] = 230      # a bar, left or right
            image[...] = np.clip(image.astype(int) + rng.integers(0, 20, (8, 8)), 0, 255)
        return (255 - images if light else images), labels

    for name, (n, light) in {"train": (24, train_light), "test": (8, test_light)}.items():
        images, labels = split(n, light)
        datasets.write_image_folder(images, labels, ["left", "right"], directory, split=name)
    return directory


@pytest.mark.parametrize("train_light,test_light,expected", [(False, True, "dark"), (True, False, "light")])
def test_training_records_the_background_of_the_training_images_only(tmp_path, train_light, test_light, expected):
    """The test split is the opposite polarity: were it looked at, the answer would change."""
    folder = _tiny_folder(tmp_path / "bars", train_light, test_light)
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), "--image-size", "8", "--cell", "gru", "--hidden-size", "4",
                 "--epochs", "1", "--batch-size", "8", "--quiet", "--no-figures", "--out", str(run)]) == 0
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["background"] == expected
    info = dataset_of(run)
    assert info.background == expected
    assert drawing_ground(info) == expected          # a plain folder: the pad is drawn as its images look
    facts = dataset_facts(run)
    assert (facts["background"], facts["pad"]) == (expected, expected)
    assert facts["picture"] == {"conversion": "plain", "size": 8}
    from starlette.testclient import TestClient

    from rowrnn import serve
    client = TestClient(serve.create_app([run]), base_url="http://127.0.0.1:8000")
    answer = client.get("/api/runs").json()
    assert (answer["background"], answer["pad"], answer["image_size"]) == (expected, expected, 8)


def test_named_datasets_are_dark_and_record_nothing():
    from rowrnn.config import build_config
    for name in datasets.NAMES:
        assert dataset_of(name).background == "dark", name
        assert dataset_of({"data": {"dataset": name, "background": "light"}}).background == "dark", name
    assert "background" not in build_config("notebook", {}).to_dict()["data"]


def test_a_folder_run_recorded_before_backgrounds_keeps_the_white_pad():
    old = {"data": {"dataset": "/somewhere/digits", "classes": list(DIGITS), "image_size": 8}}
    info = dataset_of(old)
    assert info.background is None and drawing_ground(info) == "light"
    facts = dataset_facts(old)
    assert (facts["background"], facts["pad"]) == (None, "light")
    # a value no training writes is not believed either
    assert dataset_of({"data": {**old["data"], "background": "grey"}}).background is None


@pytest.mark.parametrize("info,pad", [
    (DatasetInfo("my-digits", DIGITS, 8, conversion="plain", background="dark"), "dark"),
    (DatasetInfo("my-digits", DIGITS, 28, conversion="plain", background="dark"), "dark"),     # 28 too
    (DatasetInfo("my-digits", DIGITS, 8, conversion="plain", background="light"), "light"),
    (DatasetInfo("my-digits", DIGITS, 8, conversion="plain", background=None), "light"),
    (DatasetInfo("my-shirts", DIGITS, 28, conversion="photo", background="dark"), "light"),    # photo negates
    (dataset_of("fashion-mnist"), "light"),
    (dataset_of("mnist"), "light"),
    (dataset_of("emnist-letters"), "light"),
])
def test_the_pad_is_dark_only_for_a_dark_plain_folder(info, pad):
    assert drawing_ground(info) == pad


def test_config_json_with_another_background_is_refused_in_one_line():
    from rowrnn.config import RunConfig, build_config
    d = build_config("notebook", {}).to_dict()
    d["data"]["background"] = "grey"
    with pytest.raises(RowrnnError) as e:
        RunConfig.from_dict(d).validate()
    assert str(e.value) == ("config.json's background must be \"dark\", \"light\" or null, got 'grey': restore the "
                            "run's own config.json")
