"""Issue 27's smaller findings: a dataset name or path said on one line and not mistaken for a name, the folder
facts load_dataset returns, a NumPy integer where a Python one is accepted, and the --no-verify help texts."""
import numpy as np
import pytest

from rowrnn import datasets
from rowrnn.config import build_config, close_dataset_names, unknown_dataset
from rowrnn.errors import RowrnnError
from rowrnn.models import RNNClassifier
from test_datasets import make_folder

NAMES = "fashion-mnist, mnist, kmnist, emnist-letters, emnist-balanced"


@pytest.mark.parametrize("dataset,shown", [("a\nb", "a\\nb"), ("x\x1b[31my", "x\\x1b[31my"), ("t\tu", "t\\tu"),
                                           ("caf\udce9", "caf\\xe9")])
def test_an_unknown_dataset_is_said_on_one_line(dataset, shown):
    assert unknown_dataset(dataset) == (f"--dataset {shown}: neither a dataset name ({NAMES}) nor a readable "
                                        "folder: give one of those names, or the path of an image folder")


def test_build_config_refuses_an_unknown_dataset_on_one_line():
    with pytest.raises(RowrnnError) as e:
        build_config("notebook", {"dataset": "mnsit\nrm -rf"})
    assert str(e.value) == (f"dataset mnsit\\nrm -rf: neither a dataset name ({NAMES}) nor a readable folder "
                            "(no such directory): give one of those names, or the path of an image folder")


@pytest.mark.parametrize("path", ["~/mnist", "data/MNIST", "./kmnist", "/data/fashion-mnist", "emnist/"])
def test_a_mistyped_path_is_not_taken_for_a_mistyped_name(path):
    assert close_dataset_names(path) == []
    assert unknown_dataset(path, "no such directory") == (
        f"--dataset {path}: neither a dataset name ({NAMES}) nor a readable folder (no such directory): give one of "
        "those names, or the path of an image folder")


@pytest.mark.parametrize("name,close", [("MNIST", ["mnist"]), ("fashion_mnist", ["fashion-mnist"]),
                                        ("emnist", ["emnist-letters", "emnist-balanced"]), ("kminst", ["kmnist"])])
def test_a_mistyped_name_still_gets_its_suggestion(name, close):
    assert close_dataset_names(name) == close
    assert f": did you mean {' or '.join(close)}? Else give one of those names" in unknown_dataset(name)


def test_training_on_a_missing_path_says_no_such_directory_without_a_suggestion(tmp_path, capsys):
    from rowrnn.cli import main
    assert main(["train", "--dataset", "data/MNIST", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: --dataset data/MNIST: neither a dataset name ({NAMES}) nor "
                                       "a readable folder (no such directory): give one of those names, or the path "
                                       "of an image folder\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rows", [np.int64(4), np.int32(2), np.uint8(7)])
def test_rows_per_step_accepts_numpy_integers(rows):
    model = RNNClassifier(rows_per_step=rows)
    assert model.rows_per_step == int(rows) and type(model.rows_per_step) is int


@pytest.mark.parametrize("rows", [True, 2.0, "2", np.float64(2.0), 0, np.int64(-1)])
def test_rows_per_step_refuses_what_is_not_a_positive_integer(rows):
    with pytest.raises(ValueError) as e:
        RNNClassifier(rows_per_step=rows)
    assert str(e.value) == f"rows_per_step must be a positive integer dividing image_size, got {rows!r}"


@pytest.mark.parametrize("conversion", ["plain", "photo"])
def test_load_dataset_returns_a_folders_conversion_and_background(tmp_path, conversion):
    folder = make_folder(tmp_path / "f", ["a", "b"])
    info, train, test = datasets.load_dataset({"dataset": str(folder), "image_size": 28, "conversion": conversion})
    assert info.conversion == conversion
    assert info.background == datasets.image_background(train.images) == "dark"
    recorded = {"dataset": str(folder), "image_size": 28, "conversion": conversion, "background": "light"}
    assert datasets.load_dataset(recorded, splits=("test",))[0].background == "light"   # a run's record wins


def test_naming_refuse_needs_no_fix_for_a_recorded_folder(tmp_path):
    message = str(datasets._Naming(recorded=True).refuse(tmp_path, "gone"))
    assert message == f"the run's image folder {tmp_path}: gone: {datasets.RECORDED_FIX}"
    with pytest.raises(TypeError):
        datasets._Naming().refuse(tmp_path, "gone")     # training's --dataset: the fix is the caller's to give


def test_the_no_verify_help_texts_come_from_one_list():
    from rowrnn import cli
    assert cli.CHECKSUMS == ("Fashion-MNIST's SHA-256 of each file; MNIST's, KMNIST's and EMNIST's MD5 of each "
                             "downloaded .gz or zip; an image folder has none")
    assert cli.NAMED_CHECKSUMS == ("Fashion-MNIST's SHA-256 of each file; MNIST's, KMNIST's and EMNIST's MD5 of "
                                   "each downloaded .gz or zip")
