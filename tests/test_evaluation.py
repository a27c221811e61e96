"""evaluation.load_test_set: the one reader of a run's test split, which never opens the training files."""
import pytest

import rowrnn
from rowrnn import data, evaluation, runs
from rowrnn.config import build_config
from rowrnn.errors import RowrnnError


@pytest.fixture
def splits_read(monkeypatch):
    """The splits read_split is asked for, in order (the real reader still runs)."""
    calls, real = [], data.read_split
    monkeypatch.setattr(data, "read_split", lambda directory, split, **kw: calls.append(split) or
                        real(directory, split, **kw))
    return calls


def _run(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runs.start_run(run_dir, build_config("notebook", {"data_dir": str(data_dir), "verify": False}))
    return run_dir


def test_a_runs_test_split_reads_only_the_test_files(data_dir, tmp_path, splits_read):
    test_set = evaluation.load_test_set(_run(tmp_path, data_dir))   # a run directory or a Run
    assert splits_read == ["test"]
    assert len(test_set) == 100 and tuple(test_set.images.shape) == (100, 28, 28)


def test_a_runs_test_split_from_data_dir_overrides_the_recorded_folder(data_dir, tmp_path, splits_read):
    run = runs.load_run(_run(tmp_path, tmp_path / "elsewhere"))
    assert len(evaluation.load_test_set(run, data_dir)) == 100 and splits_read == ["test"]


def test_a_recorded_folder_missing_here_is_named_as_the_runs(tmp_path):
    run_dir = _run(tmp_path, tmp_path / "gone")
    with pytest.raises(RowrnnError) as e:
        evaluation.load_test_set(run_dir)
    assert str(e.value).startswith(f"{run_dir} was trained on the data in {tmp_path / 'gone'}, as its config.json "
                                   "records, which is not usable here")
    # from Python the fix names the argument (the CLI says --data-dir)
    assert str(e.value).endswith("(no such directory): pass data_dir with the folder that holds the four Fashion-MNIST files here")


@pytest.mark.parametrize("train, split, size", [(False, "test", 100), (True, "train", 400)])
def test_fashion_mnist_reads_only_the_split_asked_for(data_dir, splits_read, train, split, size):
    assert len(rowrnn.FashionMNIST(data_dir, train=train, download=False, verify=False)) == size
    assert splits_read == [split]
