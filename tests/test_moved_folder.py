"""Issue 27: a folder run whose image folder moved is read from --data-dir everywhere it is read again (resume,
evaluate, predict --onnx), and its recorded split digests still refuse changed images."""
import json
import shutil

from rowrnn.cli import main
from test_datasets import _add_image, _folder_run


def _resume(run, *extra):
    return main(["train", "--resume", str(run), "--quiet", "--no-figures", *extra])


def test_resuming_a_moved_folder_run_with_data_dir_continues_as_at_the_old_place(tmp_path, capsys):
    folder, run = _folder_run(tmp_path)
    there = tmp_path / "resumed-there"
    shutil.copytree(run, there)
    assert _resume(there) == 0                          # the folder where training found it
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert _resume(run, "--data-dir", str(moved)) == 0, capsys.readouterr().err
    for name in ("best.safetensors", "last.safetensors"):
        assert (run / name).read_bytes() == (there / name).read_bytes(), name
    mine, theirs = (json.loads((r / "metrics.json").read_text()) for r in (run, there))
    assert mine.pop("train_minutes") > 0 and theirs.pop("train_minutes") > 0    # wall time: the one difference
    assert mine == theirs
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["dataset"] == str(folder)              # the record stays: not a config difference
    assert data["split_sha256"] == json.loads((there / "config.json").read_text())["data"]["split_sha256"]


def test_resuming_a_moved_folder_whose_training_images_changed_is_refused(tmp_path, capsys):
    folder, run = _folder_run(tmp_path)
    before = (run / "state.pt").read_bytes()
    moved = tmp_path / "moved"
    folder.rename(moved)
    _add_image(moved / "train" / "b")
    assert _resume(run, "--data-dir", str(moved)) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: the run's image folder {moved}: the folder's training images changed since {run} started "
        "(19 images now, 18 then): resume needs the same images; start a new run with --out\n")
    assert (run / "state.pt").read_bytes() == before and not (run / "metrics.json").exists()


def test_resuming_a_moved_folder_whose_test_images_changed_is_refused(tmp_path, capsys):
    folder, run = _folder_run(tmp_path)
    moved = tmp_path / "moved"
    folder.rename(moved)
    (moved / "test" / "c" / "0.png").unlink()
    assert _resume(run, "--data-dir", str(moved)) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: the run's image folder {moved}: the folder's test images changed since {run} started "
        "(17 images now, 18 then): its metrics must describe the test images it started with; restore them, or start "
        "a new run with --out\n")
    assert not (run / "metrics.json").exists()


def test_resuming_a_moved_folder_run_without_data_dir_names_the_flag(tmp_path, capsys):
    folder, run = _folder_run(tmp_path)
    folder.rename(tmp_path / "moved")
    assert _resume(run) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rowrnn: error: the run's image folder {folder}: not a readable folder here (")
    assert err.endswith("or pass --data-dir with where that folder is now; for the folder as it is, train a new "
                        "run on it\n") and err.count("\n") == 1


# ---------------------------------------------------------------------------------- predict --onnx: the same reader

def _onnx_json(capsys, argv):
    capsys.readouterr()
    assert main(["predict", "--onnx", *argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _exported_folder_run(tmp_path):
    import pytest
    pytest.importorskip("onnxruntime")
    folder, run = _folder_run(tmp_path)
    assert _resume(run) == 0 and main(["export", str(run)]) == 0
    return folder, run / "model.onnx"


def _same_count_other_image(folder):
    """The test image test/b/2.png changed, the count and the class names kept: other test images."""
    from test_datasets import _digit, _png
    image = _digit(1)
    image[3, 3] = 99
    (folder / "test" / "b" / "2.png").write_bytes(_png(image))


def test_predict_onnx_refuses_a_moved_folder_whose_test_images_changed(tmp_path, capsys):
    folder, onnx = _exported_folder_run(tmp_path)
    before = _onnx_json(capsys, [str(onnx), "--test-index", "7"])
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert _onnx_json(capsys, [str(onnx), "--test-index", "7", "--data-dir", str(moved)]) == before
    _same_count_other_image(moved)
    assert main(["predict", "--onnx", str(onnx), "--test-index", "7", "--data-dir", str(moved)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {moved}: the folder's test images changed since the run of {onnx} was trained (18 images "
        "now, 18 then): --test-index must name the test images the run recorded; restore them, or give image "
        "files instead of --test-index\n")


def test_predict_onnx_refuses_a_folder_whose_test_images_changed_in_place(tmp_path, capsys):
    folder, onnx = _exported_folder_run(tmp_path)
    (folder / "test" / "c" / "0.png").unlink()
    assert main(["predict", "--onnx", str(onnx), "--test-index", "0"]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {folder}: the folder's test images changed since the run of {onnx} was trained (17 images "
        "now, 18 then): --test-index must name the test images the run recorded; restore them, or give image "
        "files instead of --test-index\n")


def test_predict_onnx_names_a_missing_folder_and_a_wrong_data_dir(tmp_path, capsys):
    folder, onnx = _exported_folder_run(tmp_path)
    folder.rename(tmp_path / "moved")
    assert main(["predict", "--onnx", str(onnx), "--test-index", "0"]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: the run of {onnx} was trained on the image folder {folder}, as its export records, which "
        "is not a folder here: put it back there, or pass --data-dir with its new place\n")
    assert main(["predict", "--onnx", str(onnx), "--test-index", "0", "--data-dir", str(tmp_path / "no")]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: --data-dir {tmp_path / 'no'}: not a folder here: give the image folder the run of {onnx} "
        f"was trained on (recorded as {folder})\n")


def test_predict_onnx_verifies_as_the_run_was_trained(tmp_path, capsys):
    """A run trained with --no-verify (synthetic files, no published checksums): its export's --test-index reads
    them unverified as the run directory's predict does, and --no-verify/--verify is not needed."""
    import pytest
    pytest.importorskip("onnxruntime")
    from conftest import write_dataset
    data = write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--no-verify", "--epochs", "1", "--batch-size", "64",
                 "--hidden-size", "8", "--quiet", "--no-figures", "--out", str(run)]) == 0
    assert main(["export", str(run)]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--test-index", "3", "--json"]) == 0
    by_run = json.loads(capsys.readouterr().out)
    by_onnx = _onnx_json(capsys, [str(run / "model.onnx"), "--test-index", "3", "--data-dir", str(data)])
    assert [r["expected"] for r in by_onnx] == [r["expected"] for r in by_run]
    assert [t["class"] for t in by_onnx[0]["top"]] == [t["class"] for t in by_run[0]["top"]]
