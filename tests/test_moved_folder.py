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
