"""One page shows runs that read the same classes at the same size AND turn a person's picture into an image the
same way on the same drawing pad (datasets.one_page): the page converts and draws once, for every run, so MNIST
(photo conversion, not trimmed, light pad) may not share a page with a dark folder of digits converted plain at 28
(dark pad). rowrnn serve and rowrnn site refuse such a mix in one line naming the groups; runs of one conversion
still share. Trains three tiny runs (one epoch each) for the serve and site tests."""
import json

import numpy as np
import pytest

from rowrnn import datasets
from rowrnn.cli import main
from rowrnn.datasets import DatasetInfo, dataset_of, one_page
from rowrnn.errors import RowrnnError
from test_own_data import digits_folder

DIGITS = tuple("0123456789")
SHOWN = "10 classes 0, 1, 2, 3, ... at 28x28"
TRAIN = ["train", "--quiet", "--no-figures", "--epochs", "1", "--batch-size", "64", "--cell", "gru",
         "--hidden-size", "4"]
MNIST = DatasetInfo("mnist", DIGITS)                                       # photo, not trimmed, light pad
DARK = DatasetInfo("/d/dark", DIGITS, conversion="plain", background="dark")      # plain, dark pad
LIGHT = DatasetInfo("/d/light", DIGITS, conversion="plain", background="light")   # plain, light pad
OLD = DatasetInfo("/d/old", DIGITS, conversion="plain", background=None)          # plain, light pad
PHOTO = DatasetInfo("/d/photo", DIGITS, conversion="photo", background="light")   # photo, trimmed, light pad
FIX = "serve each group with its own rowrnn serve"


@pytest.mark.parametrize("runs, groups", [
    ([("m", MNIST), ("d", DARK)],
     f"m (mnist: {SHOWN}, photo conversion, not trimmed, light pad); d (dark: {SHOWN}, plain conversion, dark pad)"),
    ([("d", DARK), ("l", LIGHT)],         # one conversion, but not one pad
     f"d (dark: {SHOWN}, plain conversion, dark pad); l (light: {SHOWN}, plain conversion, light pad)"),
    ([("m", MNIST), ("l", LIGHT), ("m2", MNIST)],
     f"m, m2 (mnist: {SHOWN}, photo conversion, not trimmed, light pad); l (light: {SHOWN}, plain conversion, "
     f"light pad)"),
    ([("p", PHOTO), ("m", MNIST)],        # one conversion, trimmed or not
     f"p (photo: {SHOWN}, photo conversion, trimmed, light pad); m (mnist: {SHOWN}, photo conversion, not "
     f"trimmed, light pad)"),
], ids=["mnist-dark", "dark-light", "mnist-light-mnist", "trim-none"])
def test_runs_that_convert_pictures_differently_are_refused_naming_the_groups(runs, groups):
    with pytest.raises(RowrnnError) as refusal:
        one_page(runs, FIX)
    assert str(refusal.value) == (f"these runs turn a person's picture into an image differently, which one page "
                                  f"cannot show side by side: {groups}: {FIX}")


def test_runs_of_other_sizes_are_told_apart_by_classes_and_size_alone():
    eight = DatasetInfo("/d/eight", DIGITS, image_size=8, conversion="plain", background="dark")
    with pytest.raises(RowrnnError) as refusal:
        one_page([("m", MNIST), ("e", eight)], FIX)
    assert str(refusal.value) == (
        f"these runs read different classes or image sizes, which one page cannot show side by side: m (mnist: "
        f"{SHOWN}); e (eight: 10 classes 0, 1, 2, 3, ... at 8x8): {FIX}")


def test_other_sizes_and_other_conversions_at_once_name_every_groups_conversion():
    eight = DatasetInfo("/d/eight", DIGITS, image_size=8, conversion="plain", background="dark")
    with pytest.raises(RowrnnError) as refusal:
        one_page([("m", MNIST), ("e", eight), ("d", DARK)], FIX)
    assert str(refusal.value) == (
        f"these runs read different classes, image sizes or picture conversions, which one page cannot show side "
        f"by side: m (mnist: {SHOWN}, photo conversion, not trimmed, light pad); e (eight: 10 classes 0, 1, 2, 3, "
        f"... at 8x8, plain conversion, dark pad); d (dark: {SHOWN}, plain conversion, dark pad): {FIX}")


@pytest.mark.parametrize("runs", [[("l", LIGHT), ("o", OLD)], [("m", MNIST), ("m2", MNIST)],
                                  [("d", DARK), ("d2", DatasetInfo("/e/dark2", DIGITS, background="dark"))]],
                         ids=["light-and-unrecorded", "mnist-twice", "two-dark-folders"])
def test_runs_that_convert_alike_share_a_page(runs):
    assert one_page(runs, FIX) is runs[0][1]


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """(MNIST's synthetic data dir, runs {"mnist", "dark", "dark2"}): MNIST and two dark digits folders at 28."""
    from test_datasets import patched, write_named
    tmp = tmp_path_factory.mktemp("one-page")
    with pytest.MonkeyPatch.context() as monkeypatch:
        written = write_named(tmp / "mnist", "mnist", n=(120, 40))
        patched(monkeypatch, "mnist", written, counts=(120, 40))
        dark, _ = digits_folder(tmp / "dark")
        flags = {"mnist": ["--dataset", "mnist", "--data-dir", str(tmp / "mnist")],
                 "dark": ["--dataset", str(dark), "--image-size", "28"],
                 "dark2": ["--dataset", str(dark), "--image-size", "28", "--seed", "1"]}
        made = {}
        for name, given in flags.items():
            made[name] = tmp / "runs" / name
            assert main([*TRAIN, *given, "--out", str(made[name])]) == 0
        yield tmp / "mnist", made, monkeypatch


def _mixed(tmp, fix):
    return (f"these runs turn a person's picture into an image differently, which one page cannot show side by "
            f"side: mnist (mnist: {SHOWN}, photo conversion, not trimmed, light pad); dark, dark2 (dark: {SHOWN}, "
            f"plain conversion, dark pad): {fix}")


def test_serve_refuses_mnist_beside_a_dark_plain_folder_and_serves_one_conversion(three, tmp_path):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from rowrnn import serve
    mnist_data, made, _ = three
    with pytest.raises(RowrnnError) as refusal:
        serve.create_app([made["mnist"], made["dark"], made["dark2"]], data_dir=mnist_data)
    assert str(refusal.value) == _mixed(mnist_data, "serve each group with its own rowrnn serve")
    client = TestClient(serve.create_app([made["dark"], made["dark2"]]), base_url="http://127.0.0.1:8000")
    listed = client.get("/api/runs").json()
    assert [run["name"] for run in listed["runs"]] == ["dark", "dark2"]
    assert (listed["picture"], listed["pad"], listed["background"]) == ({"conversion": "plain", "size": 28},
                                                                         "dark", "dark")


def test_cli_serve_says_the_mix_in_one_line(three, capsys):
    pytest.importorskip("starlette")
    mnist_data, made, _ = three
    assert main(["serve", str(made["dark"]), str(made["mnist"]), "--data-dir", str(mnist_data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.endswith("dark (dark: 10 classes 0, 1, 2, 3, ... at 28x28, plain conversion, dark pad); mnist "
                        "(mnist: 10 classes 0, 1, 2, 3, ... at 28x28, photo conversion, not trimmed, light pad): "
                        "serve each group with its own rowrnn serve")


def test_site_refuses_the_mix_writing_nothing_and_builds_one_conversion(three, tmp_path):
    pytest.importorskip("onnxruntime")
    from rowrnn.site import build_site
    mnist_data, made, _ = three
    with pytest.raises(RowrnnError) as refusal:
        build_site([made["mnist"], made["dark"], made["dark2"]], tmp_path / "mixed", data_dir=mnist_data,
                   test_images=4)
    assert str(refusal.value) == _mixed(mnist_data, "build a site of each group with its own rowrnn site")
    assert not (tmp_path / "mixed").exists()
    build_site([made["dark"], made["dark2"]], tmp_path / "dark", test_images=4)
    manifest = json.loads((tmp_path / "dark" / "manifest.json").read_text())
    assert [run["name"] for run in manifest["runs"]] == ["dark", "dark2"]
    assert (manifest["picture"], manifest["pad"]) == ({"conversion": "plain", "size": 28}, "dark")
    assert np.shape(manifest["classes"]) == (10,) and dataset_of(made["dark"]).background == "dark"


def test_the_widget_refuses_one_picture_for_two_conversions_but_shows_a_test_image(three, tmp_path):
    pytest.importorskip("anywidget")
    import io

    from PIL import Image

    import rowrnn
    mnist_data, made, _ = three
    picture = tmp_path / "drawn.png"
    Image.new("L", (40, 40), 255).save(picture)
    for image in (picture, str(picture), Image.open(picture)):
        with pytest.raises(RowrnnError) as refusal:
            rowrnn.show_reading([made["mnist"], made["dark"], made["dark2"]], image, data_dir=mnist_data)
        assert str(refusal.value) == (
            "image: these models convert a picture differently (mnist: photo conversion, not trimmed; dark, dark2: "
            "plain conversion): give a test index or a 28x28 array, or show each conversion's models in their own "
            "show_reading")
    shown = rowrnn.show_reading([made["mnist"], made["dark"]], 2, data_dir=mnist_data)
    assert [run["info"]["name"] for run in shown.runs] == ["mnist", "dark"] and shown.index == 2
    grid = np.zeros((28, 28), np.uint8)
    assert rowrnn.show_reading([made["mnist"], made["dark"]], grid).image == grid.tolist()
    alike = rowrnn.show_reading([made["dark"], made["dark2"]], picture)          # one conversion: converted once
    expected = datasets.prepare_picture(picture.read_bytes(), "d", dataset_of(made["dark"])).image
    assert alike.image == expected.tolist() and np.shape(alike.image) == (28, 28)
    assert io.BytesIO(alike.png()).read(4) == b"\x89PNG"
