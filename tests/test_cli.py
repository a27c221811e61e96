import json

import numpy as np
import pytest
from PIL import Image

from rowrnn.cli import main


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    import contextlib
    import io
    from conftest import write_dataset
    tmp = tmp_path_factory.mktemp("cli")
    data_dir = write_dataset(tmp / "data")
    out = tmp / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["train", "--data-dir", str(data_dir), "--no-verify", "--epochs", "3", "--batch-size", "64",
                   "--lr", "0.01", "--hidden-size", "16", "--out", str(out), "--seed", "1"])
    assert rc == 0
    (tmp / "train-stdout.txt").write_text(stdout.getvalue())
    return out


@pytest.fixture
def trained(trained_once, tmp_path):
    """A fresh copy of one trained run (tests may change it)."""
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(trained_once, copy, ignore=shutil.ignore_patterns(".lock"))
    shutil.copy(trained_once.parent / "train-stdout.txt", tmp_path / "train-stdout.txt")
    return copy


def test_train_writes_a_complete_run_directory(trained):
    out = (trained.parent / "train-stdout.txt").read_text().splitlines()
    assert out[0].startswith("training notebook (modified by flags) (906 parameters) into ") and out[0].endswith("run")
    assert [line.split()[1] for line in out[1:4]] == ["1/3", "2/3", "3/3"]
    assert out[-1].startswith("test accuracy ")
    names = {p.name for p in trained.iterdir()}
    assert names >= {"config.json", "history.csv", "history.json", "best.safetensors", "last.safetensors",
                     "state.pt", "metrics.json", "curves.png", "predictions.png", "confusion.png", "reading.png"}
    assert not [n for n in names if ".tmp-" in n]
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["model"]["hidden_size"] == 16 and cfg["train"]["lr"] == 0.01 and cfg["train"]["seed"] == 1
    assert cfg["preset"] == "notebook" and set(cfg["versions"]) == {"rowrnn", "torch"}
    history = json.loads((trained / "history.json").read_text())
    assert list(history)[:4] == ["train_loss", "train_metric", "val_loss", "val_metric"]
    assert all(len(v) == 3 for v in history.values())
    csv_lines = (trained / "history.csv").read_text().splitlines()
    assert csv_lines[0] == "epoch,train_loss,train_metric,val_loss,val_metric,lr,seconds" and len(csv_lines) == 4
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["images"] == 100 and 0 <= metrics["accuracy"] <= 1
    assert metrics["best_epoch"] == 1 + int(np.argmax(history["val_metric"]))
    assert sum(map(sum, metrics["confusion"])) == 100


def test_evaluate_prints_a_table_and_json(trained, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(trained)]) == 0
    text = capsys.readouterr().out
    assert "macro accuracy" in text and "Ankle boot" in text and "confusion matrix" in text
    before = {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()}
    assert main(["evaluate", str(trained), "--json", "--weights", "last"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["weights"] == "last" and len(metrics["per_class"]) == 10
    assert {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()} == before  # evaluating writes nothing
    assert main(["evaluate", str(trained), "--json", "--weights", "last", "--save"]) == 0
    assert json.loads(capsys.readouterr().out) == metrics
    assert json.loads((trained / "metrics-last.json").read_text()) == metrics  # saved under its own name
    best = json.loads((trained / "metrics.json").read_text())
    assert best["weights"] == "best" and (trained / "metrics.json").read_bytes() == before["metrics.json"]
    assert main(["evaluate", str(trained / "best.safetensors"), "--json"]) == 0  # a weights file beside config.json
    assert json.loads(capsys.readouterr().out)["accuracy"] == best["accuracy"]


def test_predict_images_and_test_indices(trained, tmp_path, capsys):
    # a light-background colour photo of a dark band: inverted like Fashion-MNIST
    photo = np.full((120, 90, 3), 250, np.uint8)
    photo[30:60, 10:80] = (20, 30, 40)
    Image.fromarray(photo).save(tmp_path / "band.jpg")
    capsys.readouterr()
    assert main(["predict", str(trained), str(tmp_path / "band.jpg"), "--test-index", "0", "--json",
                 "--explain", str(tmp_path / "why.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in result] == [str(tmp_path / "band.jpg"), "test[0]"]
    assert result[0]["expected"] is None and result[1]["expected"] is not None
    for r in result:
        probs = [t["probability"] for t in r["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert Image.open(tmp_path / "why.png").size[0] > 500
    assert main(["predict", str(trained), "--test-index", "3", "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("test[3] (expected ") and line.count(",") == 1


def _garment_photo(path, light=250, frame=(200, 150)):
    """A dark garment (a T shape) filling 40 % of light paper, pushed into a corner."""
    photo = np.full((*frame, 3), light, np.uint8)
    photo[20:50, 10:70] = 30
    photo[20:100, 30:50] = 30
    Image.fromarray(photo).save(path)
    return path


def test_predict_fit_trims_by_default_and_none_keeps_the_frame(trained, tmp_path, capsys):
    from rowrnn.images import load_image
    photo = _garment_photo(tmp_path / "tee.png")
    trimmed, whole = load_image(photo).numpy(), load_image(photo, fit="none").numpy()
    assert (trimmed[1] > 200).any() and (trimmed[-2] > 200).any() and (trimmed[:, 0] == 0).all()  # fills the height
    assert (whole[:2] == 5).all() and (whole[-10:] == 5).all()   # the paper kept around it, only negated (255 - 250)
    capsys.readouterr()
    for fit, image in (("trim", trimmed), ("none", whole)):
        assert main(["predict", str(trained), str(photo), "--fit", fit, "--json"]) == 0
        from rowrnn.inference import predict
        from rowrnn.runs import load_model
        expected = predict(load_model(trained)[0], __import__("torch").from_numpy(image)[None])[0]
        top = json.loads(capsys.readouterr().out)[0]["top"]
        assert [(t["class"], round(t["probability"], 6)) for t in top] == [(c, round(p, 6)) for c, p in expected]


def test_predict_explain_shows_each_file_as_given_beside_what_the_network_saw(trained, tmp_path, capsys):
    import matplotlib.pyplot as plt

    from rowrnn import plots
    photo = _garment_photo(tmp_path / "tee.png")
    drawn = []
    real = plots.plot_reading

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        drawn.append((kwargs.get("originals"), [ax.get_title() for ax in fig.axes]))
        return fig
    import unittest.mock
    with unittest.mock.patch.object(plots, "plot_reading", spy):
        assert main(["predict", str(trained), str(photo), "--test-index", "0", "--explain",
                     str(tmp_path / "why.png")]) == 0
    originals, titles = drawn[0]
    assert originals[0].shape == (200, 150, 3) and originals[0][30, 20].tolist() == [30, 30, 30]
    assert originals[1] is None
    assert titles[:2] == ["original", "the 28x28 the network saw"]
    assert Image.open(tmp_path / "why.png").size[0] > 1000        # three columns now
    plt.close("all")


def test_predict_names_a_file_whose_name_is_not_utf8(trained, tmp_path, capsys):
    import os
    name = os.fsencode(tmp_path) + b"/caf\xe9\nnotes.png"
    with open(name, "wb") as f:
        f.write(b"my notes")
    capsys.readouterr()
    assert main(["predict", str(trained), os.fsdecode(name)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("caf\\xe9\\nnotes.png: plain text, not one of the formats rowrnn reads (PNG, JPEG, WebP, "
                        "GIF, BMP or TIFF): give the picture's own file, saved as PNG or JPEG\n") and err.count("\n") == 1


def test_predict_names_the_format_it_refuses_and_the_way_out(trained, tmp_path, capsys):
    photo = tmp_path / "IMG_0042.HEIC"
    photo.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    capsys.readouterr()
    assert main(["predict", str(trained), str(photo)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {photo}: a HEIC/HEIF photo (the iPhone camera's format), not one of the formats rowrnn "
        "reads (PNG, JPEG, WebP, GIF, BMP or TIFF): share or export it as JPEG (on an iPhone, Settings > Camera > "
        "Formats > Most Compatible takes JPEG photos from then on), or save it as PNG or JPEG\n")


def test_predict_with_broken_weights_is_one_line_before_any_output(trained, capsys):
    from safetensors.torch import load_file, save_file
    weights = load_file(trained / "best.safetensors")
    for value in weights.values():
        value.fill_(float("nan"))
    save_file(weights, trained / "best.safetensors")
    capsys.readouterr()
    assert main(["predict", str(trained), "--test-index", "0", "--test-index", "1", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("rowrnn: error: the model's answer for image 0 is not a number (NaN): the weights are "
                            "broken; retrain or pick other weights\n")


def test_plot_redraws_the_figures(trained, capsys):
    for png in trained.glob("*.png"):
        png.unlink()
    assert main(["plot", str(trained)]) == 0
    assert {p.name for p in trained.glob("*.png")} == {"curves.png", "predictions.png", "confusion.png", "reading.png", "hidden.png"}


def test_summary_reports_the_true_parameter_count(capsys):
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 394" in out and "RNN" in out and out.strip().endswith("trainable parameters: 394")
    # torchinfo's unit, printed raw on Python >= 3.11, was "Total mult-adds (Units.MEGABYTES): 0.01"
    assert "\nTotal mult-adds: 8,602\n" in out and "Units." not in out
    assert out.splitlines()[-7:-1] == ["=" * 115, "Input size: 3.2 kB", "Forward/backward pass size: 1.87 kB",
                                       "Params size: 1.58 kB", "Estimated Total Size: 6.65 kB", "=" * 115]
    assert "├─RNN: 1-1                               [1, 28, 28]               [1, 28, 8]                304\n" in out
    assert main(["summary", "--preset", "stacked"]) == 0
    assert "trainable parameters: 682" in capsys.readouterr().out


def test_python_dash_m_works(data_dir):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "rowrnn", "summary", "--hidden-size", "4"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "trainable parameters: 186" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["train", "--hidden-size", "0"], "--hidden-size must be a positive integer, got 0"),
    (["train", "--epochs", "-1"], "--epochs must be a positive integer, got -1"),
    (["train", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    (["train", "--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
    (["train", "--val-split", "1.0"], "--val-split must be between 0 and 1 (exclusive), got 1.0"),
])
def test_bad_flags_give_one_line_and_exit_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) if "argument" in message else _no_raise() as e:
        rc = main(argv + ["--out", str(tmp_path / "r")])
    rc = e.value.code if "argument" in message else rc
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_training_into_an_existing_run_is_refused(trained, data_dir, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    rc = main(["train", "--data-dir", str(data_dir), "--no-verify", "--epochs", "1", "--out", str(trained)])
    assert rc == 2
    assert "already holds a run: continue it with --resume" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in trained.iterdir()} == before


def test_resume_with_a_different_config_is_refused(trained, capsys):
    rc = main(["train", "--resume", str(trained), "--hidden-size", "32"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "hidden-size 16 -> 32" in err and len(err.splitlines()) == 1


def test_resume_of_a_finished_run_only_reevaluates(trained, capsys):
    weights = (trained / "last.safetensors").read_bytes()
    assert main(["train", "--resume", str(trained), "--quiet"]) == 0
    assert (trained / "last.safetensors").read_bytes() == weights
    assert len(json.loads((trained / "history.json").read_text())["train_loss"]) == 3


def test_weights_mismatching_the_config_are_refused(trained, capsys):
    cfg = json.loads((trained / "config.json").read_text())
    cfg["model"]["hidden_size"] = 8
    (trained / "config.json").write_text(json.dumps(cfg))
    assert main(["evaluate", str(trained)]) == 2
    err = capsys.readouterr().err
    assert "the weights do not match" in err and "size mismatch" in err and len(err.splitlines()) == 1


def test_summary_verbose_breaks_the_parameters_down_per_weight(capsys):
    assert main(["summary", "--verbose"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("weight "):].splitlines()
    assert table == [
        "weight            shape              count  meaning",
        "rnn.weight_ih_l0  8 x 28               224  input-to-hidden weights W_ih, layer 1",
        "rnn.weight_hh_l0  8 x 8                 64  hidden-to-hidden weights W_hh, layer 1",
        "rnn.bias_ih_l0    8                      8  input-to-hidden bias b_ih, layer 1",
        "rnn.bias_hh_l0    8                      8  hidden-to-hidden bias b_hh, layer 1",
        "fc.weight         10 x 8                80  linear head weights",
        "fc.bias           10                    10  linear head bias",
        "total                                  394",
        "trainable parameters: 394",
    ]
    assert main(["summary", "--verbose", "--cell", "lstm", "--bidirectional"]) == 0
    assert "hidden-to-hidden weights W_hh (i, f, g, o gates stacked), layer 1, backward direction" in \
        capsys.readouterr().out
