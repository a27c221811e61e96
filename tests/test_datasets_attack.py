"""Issue 28 attacked as a hostile user would: image folders with odd content, the API's arguments, and an exported
model that must read the same test split and convert pictures as its run did."""
import json

import numpy as np
import pytest
import torch

import rowrnn
from rowrnn import datasets
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.errors import RowrnnError
from test_datasets import _digit, _png, make_folder


# ---------------------------------------------------------------------------------- classes with nothing to read

@pytest.mark.parametrize("bad", [[b""], [b"junk"], [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20]])
def test_a_class_whose_every_training_file_is_unreadable_is_refused_like_an_empty_class(tmp_path, bad):
    root = make_folder(tmp_path / "f", ["a", "b", "c"])
    for path in (root / "train" / "b").iterdir():
        path.unlink()
    for i, content in enumerate(bad):
        (root / "train" / "b" / f"{i}.png").write_bytes(content)
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(root, image_size=8)
    message = str(e.value)
    assert message.startswith(f"--dataset {root}: class folder(s) ['b'] hold no readable training image (")
    assert f"skipped {len(bad)} unreadable image(s) (first: {root}/train/b/0.png: " in message
    assert message.endswith(": add images or remove the folder") and "\n" not in message


def test_a_one_folder_class_whose_files_are_all_damaged_is_refused(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"], per_class=5, split=False)
    for path in (root / "a").iterdir():
        path.write_bytes(b"not an image")
    with pytest.raises(RowrnnError, match=r"class folder\(s\) \['a'\] hold no readable training image"):
        datasets.read_image_folder(root, image_size=8)


def test_a_class_left_with_readable_images_is_kept_and_the_skip_said(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"])
    (root / "train" / "b" / "9.png").write_bytes(b"")
    train, test, report = datasets.read_image_folder(root, image_size=8)
    assert train.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and len(test) == 8
    assert str(report).startswith("skipped 1 unreadable image(s) (first: ")


# ---------------------------------------------------------------------------------- hidden folders inside classes

def test_hidden_folders_inside_a_class_are_passed_over_like_hidden_files(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"])
    for hidden in (".ipynb_checkpoints", ".thumbnails", ".git"):
        (root / "train" / "a" / hidden).mkdir()
        (root / "train" / "a" / hidden / "copy.png").write_bytes(_png(_digit(5)))
        (root / "train" / "a" / hidden / "notes.txt").write_text("x")
    (root / "train" / "a" / "nested").mkdir()                 # a visible subfolder is read, as ImageFolder does
    (root / "train" / "a" / "nested" / "more.png").write_bytes(_png(_digit(7)))
    train, _, report = datasets.read_image_folder(root, image_size=12)
    assert train.labels.tolist() == [0] * 5 + [1] * 4
    assert str(report) == ""
    assert torch.equal(train.images[4], torch.from_numpy(_digit(7)))   # nested/ walked after the class's files


# ---------------------------------------------------------------------------------- the API's arguments

@pytest.mark.parametrize("test_split,message", [
    ("0.2", "test_split must be a number between 0 and 1 (exclusive), got '0.2'"),
    (True, "test_split must be a number between 0 and 1 (exclusive), got True"),
    (None, "test_split must be a number between 0 and 1 (exclusive), got None"),
    (float("nan"), "test_split must be a number between 0 and 1 (exclusive), got nan"),
    (1.0, "test_split must be a number between 0 and 1 (exclusive), got 1.0"),
])
def test_read_image_folder_refuses_a_test_split_that_is_not_a_fraction(tmp_path, test_split, message):
    root = make_folder(tmp_path / "f", ["a", "b"], split=False)
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(root, image_size=8, test_split=test_split)
    assert str(e.value) == message


def _arrays(n=4):
    return np.zeros((n, 8, 8), np.uint8), np.arange(n) % 2


@pytest.mark.parametrize("change,message", [
    ({"labels": [0.5, 1, 0, 1]}, "labels must be 4 ints from 0 to 1, got float64 values"),
    ({"labels": [0, 1, 0, 2]}, "labels must be 4 ints from 0 to 1"),
    ({"classes": "ab"}, "classes must be a list of class names (str), got 'ab'"),
    ({"classes": [0, 1]}, "classes must be a list of class names (str), got [0, 1]"),
    ({"classes": ["a", "a"]}, "classes ['a'] appear twice (one folder each): give each class its own name"),
    ({"classes": ["\u00e9", "e\u0301"]}, "classes ['é'] appear twice (one folder each): give each class its own "
                                          "name"),
    ({"classes": ["a\0", "b"]}, "class names ['a\\x00'] cannot be folder names: rename them"),
    ({"classes": ["a", ".."]}, "class names ['..'] cannot be folder names: rename them"),
    ({"split": "val"}, "split must be 'train', 'test' or None (one folder of class folders), got 'val'"),
])
def test_write_image_folder_refuses_before_writing_anything(tmp_path, change, message):
    images, labels = _arrays()
    arguments = {"labels": labels, "classes": ["a", "b"], "split": None, **change}
    with pytest.raises(RowrnnError) as e:
        datasets.write_image_folder(images, arguments["labels"], arguments["classes"], tmp_path / "w",
                                    split=arguments["split"])
    assert str(e.value) == message
    assert not (tmp_path / "w").exists()


def test_write_image_folder_into_a_file_is_one_line(tmp_path):
    images, labels = _arrays()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RowrnnError) as e:
        datasets.write_image_folder(images, labels, ["a", "b"], tmp_path / "file")
    assert str(e.value).startswith(f"directory {tmp_path / 'file'}: cannot create the folder ")
    assert str(e.value).endswith(": give a folder that can be created") and "\n" not in str(e.value)


def test_write_image_folder_accepts_integer_arrays_and_tensors_and_reads_back(tmp_path):
    images = np.stack([_digit(k) for k in range(4)])
    datasets.write_image_folder(torch.from_numpy(images), torch.tensor([0, 1, 0, 1]), ("x", "y"), tmp_path / "w")
    assert sorted(p.name for p in (tmp_path / "w" / "y").iterdir()) == ["00001.png", "00003.png"]
    train, test, _ = datasets.read_image_folder(tmp_path / "w", image_size=12, test_split=0.5)
    assert tuple(train.classes) == ("x", "y") and len(train) + len(test) == 4


# ---------------------------------------------------------------------------------- an export follows its run

def _exported_run(tmp_path, overrides, size):
    pytest.importorskip("onnxruntime")
    folder = make_folder(tmp_path / "f", ["a", "b", "c"], per_class=6, split=False, size=size)
    cfg = build_config("notebook", {"dataset": str(folder), "image_size": size, "epochs": 1, "batch_size": 4,
                                    **overrides})
    run = rowrnn.fit(cfg, tmp_path / "run", figures=False).path
    assert main(["export", str(run)]) == 0
    return folder, run


def _predict_json(capsys, argv):
    capsys.readouterr()
    assert main(["predict", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_exported_folder_run_reads_the_test_split_its_run_read(tmp_path, capsys):
    _, run = _exported_run(tmp_path, {"test_split": 0.5, "val_split": 0.34}, 12)
    indices = [a for i in range(9) for a in ("--test-index", str(i))]   # 3 of each class's 6 held out: 9 images
    by_run = _predict_json(capsys, [str(run), *indices])
    by_onnx = _predict_json(capsys, ["--onnx", str(run / "model.onnx"), *indices])
    assert [r["expected"] for r in by_onnx] == [r["expected"] for r in by_run] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    for mine, theirs in zip(by_onnx, by_run):
        assert [t["class"] for t in mine["top"]] == [t["class"] for t in theirs["top"]]
        assert np.allclose([t["probability"] for t in mine["top"]], [t["probability"] for t in theirs["top"]],
                           atol=1e-5)


def test_an_exported_photo_folder_run_converts_pictures_as_its_run_does(tmp_path, capsys):
    _, run = _exported_run(tmp_path, {"conversion": "photo"}, 28)
    picture = np.full((40, 30, 3), 240, np.uint8)                # a dark shape on a light page, off-centre
    picture[5:20, 3:12] = 20
    (tmp_path / "shirt.png").write_bytes(_png(picture))
    by_run = _predict_json(capsys, [str(run), str(tmp_path / "shirt.png"), "--top", "3"])
    by_onnx = _predict_json(capsys, ["--onnx", str(run / "model.onnx"), str(tmp_path / "shirt.png"), "--top", "3"])
    assert np.allclose([t["probability"] for t in by_onnx[0]["top"]], [t["probability"] for t in by_run[0]["top"]],
                       atol=1e-5)
    assert [t["class"] for t in by_onnx[0]["top"]] == [t["class"] for t in by_run[0]["top"]]


# ---------------------------------------------------------------------------------- strips of another side than 28

@pytest.mark.parametrize("size,rows_per_step,steps", [(8, 8, 1), (12, 3, 4), (12, 6, 2), (32, 16, 2), (14, 14, 1)])
def test_rows_per_step_is_any_divisor_of_the_folders_image_side(tmp_path, capsys, size, rows_per_step, steps):
    folder = make_folder(tmp_path / "f", ["a", "b"], per_class=8, split=False, size=size)
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), "--image-size", str(size), "--rows-per-step", str(rows_per_step),
                 "--epochs", "1", "--batch-size", "4", "--val-split", "0.25", "--out", str(run), "--quiet",
                 "--no-figures"]) == 0
    model, _ = rowrnn.load_model(run)
    assert model.rows_per_step == rows_per_step
    assert tuple(model(torch.zeros(2, 1, size, size)).shape) == (2, 2)
    assert json.loads((run / "config.json").read_text())["model"]["rows_per_step"] == rows_per_step
    assert model.num_steps == steps
    assert main(["evaluate", str(run), "--json"]) == 0


@pytest.mark.parametrize("size,rows_per_step,message", [
    (12, 5, "rows_per_step 5 does not divide the image side 12: choose one of 1, 2, 3, 4, 6, 12"),
    (8, 7, "rows_per_step 7 does not divide the image side 8: choose one of 1, 2, 4, 8"),
    (28, 3, "rows_per_step 3 does not divide the image side 28: choose one of 1, 2, 4, 7, 14, 28"),
    (28, 0, "rows_per_step must be a positive integer, got 0"),
])
def test_a_rows_per_step_that_does_not_divide_the_side_names_the_sides_divisors(tmp_path, size, rows_per_step,
                                                                               message):
    with pytest.raises(RowrnnError) as e:
        build_config("notebook", {"dataset": "mnist" if size == 28 else "my/folder", "image_size": size,
                                  "rows_per_step": rows_per_step})
    assert str(e.value) == message


# ---------------------------------------------------------------------------------- the model card's own conversion

@pytest.mark.parametrize("conversion,size,said", [
    ("plain", 12, "- Pictures of your own differ from the folder's images; `rowrnn predict` converts them as the "
                  "folder's\n  files were (grey, resized to 12×12), but accuracy on them is not measured here."),
    ("photo", 28, "- Pictures of your own differ from the folder's images; `rowrnn predict` converts them (grey, "
                  "background\n  trimmed, fitted into 28×28, inverted on light backgrounds), but accuracy on them "
                  "is not measured here."),
])
def test_a_folder_runs_model_card_says_its_own_conversion_of_pictures(tmp_path, conversion, size, said):
    folder = make_folder(tmp_path / "f", ["a", "b"], per_class=8, split=False, size=size)
    cfg = build_config("notebook", {"dataset": str(folder), "image_size": size, "conversion": conversion,
                                    "epochs": 1, "batch_size": 4, "val_split": 0.25})
    card = (rowrnn.fit(cfg, tmp_path / "run", figures=False).path / "MODEL_CARD.md").read_text()
    assert said in card
    assert "Fashion-MNIST" not in card
    assert card.count(f"{size}×{size}") == 4              # the input, the data, the intended use and this line


# ---------------------------------------------------------------------------------- a mistyped --dataset

NAMES = "fashion-mnist, mnist, kmnist, emnist-letters, emnist-balanced"


@pytest.mark.parametrize("given,guess", [
    ("MNIST", "did you mean mnist? Else give"),
    ("KMNIST", "did you mean kmnist? Else give"),
    ("fashion_mnist", "did you mean fashion-mnist? Else give"),
    ("Fashion MNIST", "did you mean fashion-mnist? Else give"),
    ("mnist-fashion", "did you mean fashion-mnist? Else give"),
    ("emnist", "did you mean emnist-letters or emnist-balanced? Else give"),
    ("mnsit", "did you mean mnist? Else give"),
    ("cifar10", "give"),
])
def test_a_mistyped_dataset_is_refused_before_anything_is_printed_or_made(tmp_path, monkeypatch, capsys, given,
                                                                         guess):
    monkeypatch.chdir(tmp_path)
    expected = (f"{given}: neither a dataset name ({NAMES}) nor a readable folder (no such directory): {guess} one "
                "of those names, or the path of an image folder")
    assert main(["train", "--dataset", given, "--epochs", "1", "--out", "run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""                                   # no "training ... into run" before the refusal
    assert captured.err == f"rowrnn: error: --dataset {expected}\n"
    assert list(tmp_path.iterdir()) == []                       # no run folder made
    with pytest.raises(RowrnnError) as e:                       # the Python API names its argument
        build_config("notebook", {"dataset": given})
    assert str(e.value) == f"dataset {expected}"


def test_a_mistyped_dataset_in_a_config_given_to_fit_is_refused_before_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = build_config("notebook", {"epochs": 1})
    cfg.data.dataset = "Mnist"                                  # set after build_config's check
    with pytest.raises(RowrnnError) as e:
        rowrnn.fit(cfg, tmp_path / "run", figures=False)
    assert str(e.value) == (f"dataset Mnist: neither a dataset name ({NAMES}) nor a readable folder (no such "
                            "directory): did you mean mnist? Else give one of those names, or the path of an image "
                            "folder")
    assert not (tmp_path / "run").exists()


def test_a_folder_named_like_a_dataset_is_read_as_a_folder(tmp_path, monkeypatch):
    from test_datasets import make_folder
    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "MNIST", ["a", "b"])
    assert build_config("notebook", {"dataset": "MNIST", "image_size": 12}).data.dataset == "MNIST"


def test_close_dataset_names():
    from rowrnn.config import close_dataset_names
    assert close_dataset_names("EMNIST_Letters") == ["emnist-letters"]
    assert close_dataset_names("balanced-emnist") == ["emnist-balanced"]
    assert close_dataset_names("fmnist") == ["mnist"]
    assert close_dataset_names("digits") == []


# ---------------------------------------------------------------------------------- a run's folder, read again

def _trained_folder_run(tmp_path):
    from test_datasets import make_folder
    folder = make_folder(tmp_path / "f", ["a", "b", "c"], per_class=4)
    assert main(["train", "--dataset", str(folder), "--image-size", "12", "--epochs", "1", "--batch-size", "4",
                 "--val-split", "0.25", "--hidden-size", "4", "--out", str(tmp_path / "run"), "--quiet",
                 "--no-figures"]) == 0
    return folder, tmp_path / "run"


FIX = ("restore the folder as the run was trained on it, or pass --data-dir with where that folder is now; for the "
       "folder as it is, train a new run on it")


def test_commands_without_dataset_name_the_runs_folder_and_what_their_user_can_do(tmp_path, capsys):
    folder, run = _trained_folder_run(tmp_path)
    capsys.readouterr()
    (folder / "train" / "c").rename(folder / "train" / "d")
    changed = (f"rowrnn: error: the run's image folder {folder}: its classes are now ['a', 'b', 'd'], the run trained "
               f"with ['a', 'b', 'c']: {FIX}\n")
    assert main(["evaluate", str(run)]) == 2
    assert capsys.readouterr().err == changed
    assert main(["predict", str(run), "--test-index", "0"]) == 2
    assert capsys.readouterr().err == changed
    (folder / "train" / "d").rename(folder / "train" / "c")
    for path in (folder / "train" / "b").iterdir():             # a class left with no image
        path.unlink()
    assert main(["evaluate", str(run)]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: the run's image folder {folder}: class folder(s) ['b'] hold "
                                       f"no image file (.png, .jpg, .jpeg, .webp, .gif, .bmp, .tif, .tiff, any "
                                       f"case): {FIX}\n")
    (folder / "test").rename(tmp_path / "test")                 # train/ without test/
    assert main(["evaluate", str(run)]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: the run's image folder {folder}: has train/ but no test/: "
                                       f"{FIX}\n")


def test_evaluate_of_a_moved_folder_with_data_dir_names_the_given_folder(tmp_path, capsys):
    folder, run = _trained_folder_run(tmp_path)
    moved = tmp_path / "moved"
    folder.rename(moved)
    (moved / "train" / "a").rename(moved / "train" / "z")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data-dir", str(moved)]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: the run's image folder {moved}: its classes are now ['b', "
                                       f"'c', 'z'], the run trained with ['a', 'b', 'c']: {FIX}\n")
    (moved / "train" / "z").rename(moved / "train" / "a")
    assert main(["evaluate", str(run), "--data-dir", str(moved), "--json"]) == 0


def test_training_on_a_folder_still_names_dataset(tmp_path, capsys):
    from test_datasets import make_folder
    folder = make_folder(tmp_path / "f", ["a", "b"])
    for path in (folder / "train" / "b").iterdir():
        path.unlink()
    assert main(["train", "--dataset", str(folder), "--image-size", "12", "--epochs", "1", "--out",
                 str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"rowrnn: error: --dataset {folder}: class folder(s) ['b'] hold no image file (.png, .jpg, "
                            ".jpeg, .webp, .gif, .bmp, .tif, .tiff, any case): add images or remove the folder\n")
    with pytest.raises(RowrnnError) as e:
        rowrnn.fit(build_config("notebook", {"dataset": str(folder), "image_size": 12}), tmp_path / "run2")
    assert str(e.value).startswith(f"dataset {folder}: class folder(s) ['b'] hold no image file")
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()


def test_predict_onnx_reads_a_moved_folder_from_data_dir_and_names_a_changed_one_as_the_runs(tmp_path, capsys):
    folder, run = _exported_run(tmp_path, {"test_split": 0.5, "val_split": 0.34}, 12)
    before = _predict_json(capsys, ["--onnx", str(run / "model.onnx"), "--test-index", "4"])
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert _predict_json(capsys, ["--onnx", str(run / "model.onnx"), "--test-index", "4", "--data-dir",
                                  str(moved)]) == before
    (moved / "c").rename(moved / "d")
    assert main(["predict", "--onnx", str(run / "model.onnx"), "--test-index", "4", "--data-dir", str(moved)]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: the run's image folder {moved}: its classes are now ['a', "
                                       f"'b', 'd'], the run trained with ['a', 'b', 'c']: {FIX}\n")
