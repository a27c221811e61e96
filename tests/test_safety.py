"""Nothing loaded can run code, and numerical faults stop training cleanly."""
import json
import pickle
import shutil

import pytest
import torch

from conftest import write_dataset
from rowrnn import training
from rowrnn.cli import main
from rowrnn.runs import load_weights

TRAIN = ["train", "--no-verify", "--epochs", "2", "--batch-size", "64", "--quiet", "--no-figures"]


class Payload:
    """Unpickling this creates the marker file: proof that a loader executed code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    data = write_dataset(tmp / "data")
    assert main([*TRAIN, "--data-dir", str(data), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def _evil_bytes(marker, kind):
    if kind == "torch":
        import io
        buffer = io.BytesIO()
        torch.save({"epoch": 1, "model": Payload(marker), "optimizer": {}, "history": {}}, buffer)
        return buffer.getvalue()
    return pickle.dumps({"model": Payload(marker)})


# (file replaced by a malicious pickle, commands that read it, expected message)
TARGETS = [
    ("state.pt", [["train", "--resume", "{run}"]], "unreadable or unsafe resume state"),
    ("best.safetensors", [["evaluate", "{run}"], ["predict", "{run}", "--test-index", "0"], ["plot", "{run}"],
                          ["summary", "{run}"], ["evaluate", "{run}/best.safetensors"]], "not a valid safetensors file"),
    ("last.safetensors", [["evaluate", "{run}", "--weights", "last"]], "not a valid safetensors file"),
    ("config.json", [["evaluate", "{run}"], ["train", "--resume", "{run}"], ["predict", "{run}", "--test-index", "0"]],
     "not valid JSON"),
    ("history.json", [["evaluate", "{run}"], ["plot", "{run}"]], "not valid JSON"),
    ("model.pt", [["evaluate", "{run}/model.pt"]], "rowrnn loads weights only from .safetensors files"),
    ("model.pkl", [["predict", "{run}/model.pkl", "--test-index", "0"]], "loads weights only from .safetensors"),
    ("evil.png", [["predict", "{run}", "{run}/evil.png"]], "not one of the formats rowrnn reads"),
    ("evil.jpg", [["predict", "{run}", "{run}/evil.jpg"]], "not one of the formats rowrnn reads"),
]


@pytest.mark.parametrize("kind", ["pickle", "torch"])
@pytest.mark.parametrize("name, commands, expected", TARGETS, ids=[t[0] for t in TARGETS])
def test_a_malicious_pickle_is_refused_everywhere(trained_run, tmp_path, capsys, kind, name, commands, expected):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns(".lock"))
    marker = tmp_path / "PWNED"
    (run / name).write_bytes(_evil_bytes(marker, kind))
    for command in commands:
        capsys.readouterr()
        rc = main([part.format(run=run) for part in command])
        err = capsys.readouterr().err
        assert rc == 2 and expected in err, (command, err)
        assert not marker.exists(), f"{command} executed code from {name}"


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_malicious_data_files_are_refused(tmp_path, capsys, kind):
    marker = tmp_path / "PWNED"
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        data = write_dataset(tmp_path / f"data-{name}", compress=name.endswith(".gz"))
        (data / name).write_bytes(_evil_bytes(marker, kind))
        rc = main([*TRAIN, "--data-dir", str(data), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert rc == 2 and not marker.exists()
        assert any(m in err for m in ("not a gzip file", "not an IDX file", "gzip data")), err


def test_a_nan_loss_stops_training_and_keeps_the_last_good_epoch(tmp_path, capsys, monkeypatch):
    data = write_dataset(tmp_path / "data")
    real_forward, calls = torch.nn.CrossEntropyLoss.forward, {"n": 0}

    def forward(self, logits, target):  # fault injection: the 2nd training step of epoch 2 goes NaN
        calls["n"] += 1
        loss = real_forward(self, logits, target)
        return loss * float("nan") if calls["n"] == 9 else loss  # epoch 1: 6 train + 1 validation batch

    monkeypatch.setattr(torch.nn.CrossEntropyLoss, "forward", forward)
    run = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "3", "--data-dir", str(data), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("rowrnn: error: the loss became nan at epoch 2, step 2 (learning rate 0.001): lower --lr or "
                           "set --clip-grad-norm; the run directory keeps the last good epoch")
    state = torch.load(run / "state.pt", weights_only=True)
    assert state["epoch"] == 1 and len(json.loads((run / "history.json").read_text())["train_loss"]) == 1
    assert all(torch.isfinite(t).all() for t in load_weights(run / "last.safetensors").values())
    monkeypatch.setattr(torch.nn.CrossEntropyLoss, "forward", real_forward)
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0  # and it resumes from there


def test_exploding_gradients_are_reported_when_clipping_is_off(tmp_path, capsys, monkeypatch):
    data = write_dataset(tmp_path / "data")
    monkeypatch.setattr(training, "_total_norm", lambda params: torch.tensor(5e3))  # fault injection
    assert main([*TRAIN, "--epochs", "1", "--data-dir", str(data), "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert ("rowrnn: warning: gradient norm reached 5e+03 in epoch 1 (exploding gradients): "
            "consider --clip-grad-norm 1.0 or a lower --lr") in err
    assert main([*TRAIN, "--epochs", "1", "--data-dir", str(data), "--out", str(tmp_path / "b"),
                 "--clip-grad-norm", "1.0"]) == 0
    assert "exploding" not in capsys.readouterr().err


def _nan_copy(trained_run, tmp_path, name="best.safetensors"):
    from safetensors.torch import save_file
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns(".lock"))
    tensors = load_weights(run / name)
    save_file({k: torch.full_like(v, float("nan")) for k, v in tensors.items()}, str(run / name))
    return run


@pytest.mark.parametrize("argv", [["evaluate", "{run}"], ["evaluate", "{run}", "--json"],
                                  ["evaluate", "{run}", "--save"], ["evaluate", "{run}", "--tta", "flip", "--json"],
                                  ["plot", "{run}"], ["export", "{run}"]])
def test_weights_that_give_nan_are_one_line_and_write_nothing(trained_run, tmp_path, capsys, argv):
    run = _nan_copy(trained_run, tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main([a.format(run=run) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"rowrnn: error: {run / 'best.safetensors'}: gives NaN or infinite outputs for 100 of "
                            "100 images, so there is nothing to report: the weights are damaged or diverged; "
                            "retrain or restore them\n")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_the_json_writer_never_writes_nan_or_infinity(tmp_path):
    from rowrnn import files
    from rowrnn.errors import RowrnnError
    assert files.to_json({"a": [1.5, 2]}) == b'{\n  "a": [\n    1.5,\n    2\n  ]\n}\n'
    for value, where in ((float("nan"), "$.rows[1].loss"), (float("inf"), "$.rows[1].loss"),
                         (-float("inf"), "$.rows[1].loss")):
        with pytest.raises(RowrnnError) as e:
            files.write_json(tmp_path / "out.json", {"rows": [{"loss": 1.0}, {"loss": value}]})
        assert str(e.value) == (f"{tmp_path / 'out.json'}: {where} is NaN or infinite, which JSON cannot hold, so "
                                "nothing was written: the model that produced it gives non-finite outputs; retrain "
                                "it or restore its weights")
        assert not (tmp_path / "out.json").exists() and list(tmp_path.iterdir()) == []
