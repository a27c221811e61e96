"""What `rowrnn predict` asks of the library: gathering images (files, shipped examples, test images), the
explain figure, and saving a figure; and the one-line messages every error goes through."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from rowrnn import files  # noqa: E402
from rowrnn.data import ImageDataset  # noqa: E402
from rowrnn.errors import RowrnnError, one_line  # noqa: E402
from rowrnn.inference import example_images, example_paths, gather_images, reading_figure  # noqa: E402
from rowrnn.models import CNNClassifier, RNNClassifier  # noqa: E402


def _test_set(n=5):
    images = torch.arange(n * 28 * 28, dtype=torch.int64).reshape(n, 28, 28).remainder(256).to(torch.uint8)
    return ImageDataset(images, torch.tensor([9, 0, 3, 5, 1][:n]))


def test_gather_images_orders_files_examples_then_test_images(tmp_path):
    photo = tmp_path / "tee.png"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(photo)
    test_set = _test_set()
    got = gather_images([photo], ["boot-on-white"], test_set, [3, 0], fit="none")
    assert got.names == [str(photo), "example:boot-on-white", "test[3]", "test[0]"]   # a file as given
    assert got.expected == [None, None, "Sandal", "Ankle boot"]        # labels 5 and 9
    assert [o is None for o in got.originals] == [False, False, True, True]
    assert got.originals[0].shape == (40, 30, 3)
    batch = got.batch()
    assert batch.shape == (4, 28, 28) and batch.dtype == torch.uint8
    assert torch.equal(batch[2], test_set.images[3]) and torch.equal(batch[3], test_set.images[0])


@pytest.mark.parametrize("index", [-1, 5])
def test_gather_images_names_the_flag_and_the_range_of_a_bad_index(index):
    with pytest.raises(RowrnnError) as e:
        gather_images(test_set=_test_set(), test_indices=[index])
    assert str(e.value) == f"--test-index {index} is out of range: the test set has 5 images (0-4)"


def test_an_unknown_example_lists_the_valid_names():
    assert example_paths(["boot-on-white"]) == [example_images()["boot-on-white"]]
    with pytest.raises(RowrnnError) as e:
        example_paths(["boot-on-white", "sock"])
    assert str(e.value) == "unknown example 'sock': choose one of boot-on-white"


def test_the_reading_figure_has_a_row_per_image_and_refuses_a_cnn():
    torch.manual_seed(0)
    images = _test_set(2).images
    fig = reading_figure(RNNClassifier(), images, originals=[None, None])   # no picture given: two columns
    assert len(fig.axes) == 2 * 5        # image, which steps decided, heat map, and the two's colour bars
    plt.close(fig)
    with pytest.raises(RowrnnError, match="^--explain shows how a recurrent model reads; this run is a CNN$"):
        reading_figure(CNNClassifier(), images)


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
    fig = plt.figure(figsize=(2, 1))
    files.save_figure(tmp_path / "f.png", fig, dpi=50)
    assert Image.open(tmp_path / "f.png").size == (100, 50)
    assert not plt.fignum_exists(fig.number)
    fig = plt.figure()
    with pytest.raises(RowrnnError):
        files.save_figure(tmp_path / "missing" / "f.png", fig)
    assert not plt.fignum_exists(fig.number) and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("text, limit, expected", [
    ("a\nb\tc\rd", None, "a\\nb\\tc\\rd"),
    ("bell\x07 del\x7f c1\x85 sep\u2028", None, "bell\\x07 del\\x7f c1\\x85 sep\\u2028"),
    ("caf\udcc3", None, "caf\\xc3"),                    # a byte of a non-UTF-8 file name
    ("x" * 10, 8, "xxxxx..."),
    ("ab\ncd", 5, "ab..."),                            # escaped first (6 characters), then cut
    ("short", 8, "short"),
])
def test_one_line(text, limit, expected):
    assert one_line(text, limit) == expected
