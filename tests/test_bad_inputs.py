"""Every bad input through the real CLI: one line on stderr naming the problem and the fix, exit code 2,
no traceback, and no file created or changed."""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import idx_bytes, synthetic_split, write_dataset
from rowrnn.cli import main

TRAIN = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    data = write_dataset(tmp / "data")
    run = tmp / "run"
    assert main([*TRAIN, "--data-dir", str(data), "--out", str(run), "--epochs", "2"]) == 0
    return run


# ----------------------------------------------------------------------------- case builders
# Each takes (tmp, run) -- a scratch directory and a fresh copy of a trained run -- and returns argv.

def _data_case(mutate):
    def build(tmp, run):
        d = write_dataset(tmp / "data")
        mutate(d)
        return [*TRAIN, "--data-dir", str(d), "--out", str(tmp / "out")]
    return build


def _replace(name, content_fn):
    return _data_case(lambda d: (d / name).write_bytes(content_fn(d)))


def _labels_with(value):
    images, labels = synthetic_split(400, 0)
    labels[7] = value
    return gzip.compress(idx_bytes(labels))


def _flags(*flags):
    def build(tmp, run):
        return [*TRAIN, "--data-dir", str(write_dataset(tmp / "data")), "--out", str(tmp / "out"), *flags]
    return build


def _run_case(mutate, command=("evaluate",)):
    def build(tmp, run):
        mutate(run)
        return [*command, str(run)]
    return build


def _predict_case(make_image):
    def build(tmp, run):
        return ["predict", str(run), str(make_image(tmp))]
    return build


def _png_header_only(tmp, width=20000, height=20000):
    """A PNG whose header claims 20000 x 20000 pixels: must be refused without decoding it."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path = tmp / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))
    return path


def _truncated_png(tmp):
    Image.new("L", (28, 28), 128).save(tmp / "cut.png")
    (tmp / "cut.png").write_bytes((tmp / "cut.png").read_bytes()[:-30])
    return tmp / "cut.png"


def _write(name, content):
    def make(tmp):
        (tmp / name).write_bytes(content)
        return tmp / name
    return make


def _set_config(key_path, value):
    def mutate(run):
        cfg = json.loads((run / "config.json").read_text())
        section, key = key_path
        if value is _DELETE and key is None:
            del cfg[section]
        elif value is _DELETE:
            del cfg[section][key]
        else:
            cfg[section][key] = value
        (run / "config.json").write_text(json.dumps(cfg))
    return mutate


_DELETE = object()


def _truncate(name, keep):
    def mutate(run):
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[:keep])
    return mutate


def _tamper_header(run):
    data = bytearray((run / "best.safetensors").read_bytes())
    data[8:20] = b'{"evil":1234'
    (run / "best.safetensors").write_bytes(bytes(data))


CASES = {
    # data
    "missing data directory": (lambda tmp, run: [*TRAIN, "--data-dir", str(tmp / "nope"), "--out", str(tmp / "out")],
                               "no such directory: point it at the folder with the four Fashion-MNIST files"),
    "empty data directory": (_data_case(lambda d: [p.unlink() for p in d.iterdir()]),
                             "no train-images-idx3-ubyte.gz (or uncompressed train-images-idx3-ubyte): put the four"),
    "truncated gz": (_replace("train-images-idx3-ubyte.gz", lambda d: (d / "train-images-idx3-ubyte.gz").read_bytes()[:5000]),
                     "damaged or truncated gzip data"),
    "not gzip but named .gz": (_replace("t10k-labels-idx1-ubyte.gz", lambda d: b"<html>404</html>"),
                               "not a gzip file although named .gz: delete it and download it again"),
    "wrong IDX magic": (_replace("train-labels-idx1-ubyte.gz", lambda d: gzip.compress(b"\0\0\x0d\x01" + b"\0" * 8)),
                        "not an IDX file of unsigned bytes (magic number 0x00000d01"),
    "32x32 images": (_replace("train-images-idx3-ubyte.gz", lambda d: gzip.compress(idx_bytes(np.zeros((400, 32, 32))))),
                     "images are (32, 32), expected 28x28: rowrnn reads Fashion-MNIST-format images"),
    "image/label count mismatch": (_replace("train-labels-idx1-ubyte.gz",
                                            lambda d: gzip.compress(idx_bytes(synthetic_split(300, 0)[1]))),
                                   "400 train images but 300 labels: the files do not belong together"),
    "label 10": (_replace("train-labels-idx1-ubyte.gz", lambda d: _labels_with(10)),
                 "label 10 is out of range (Fashion-MNIST has 10 classes, 0-9)"),
    "checksum mismatch": (lambda tmp, run: ["train", "--epochs", "1", "--data-dir", str(write_dataset(tmp / "data")),
                                            "--out", str(tmp / "out")],
                          "checksum mismatch, the file is corrupt or not Fashion-MNIST: delete it to download it again, "
                          "or pass --no-verify"),
    # flags
    "hidden size 0": (_flags("--hidden-size", "0"), "--hidden-size must be a positive integer, got 0"),
    "hidden size negative": (_flags("--hidden-size", "-4"), "--hidden-size must be a positive integer, got -4"),
    "epochs 0": (_flags("--epochs", "0"), "--epochs must be a positive integer, got 0"),
    "epochs negative": (_flags("--epochs", "-3"), "--epochs must be a positive integer, got -3"),
    "batch size 0": (_flags("--batch-size", "0"), "--batch-size must be a positive integer, got 0"),
    "validation split 0": (_flags("--val-split", "0"), "--val-split must be between 0 and 1 (exclusive), got 0.0"),
    "validation split 1": (_flags("--val-split", "1.5"), "--val-split must be between 0 and 1 (exclusive), got 1.5"),
    "learning rate not a number": (_flags("--lr", "fast"), "argument --lr: invalid float value: 'fast'"),
    "learning rate nan": (_flags("--lr", "nan"), "--lr must be a finite number, got nan"),
    "unknown cell": (_flags("--cell", "transformer"), "argument --cell: invalid choice: 'transformer'"),
    "unknown readout": (_flags("--readout", "first"), "argument --readout: invalid choice: 'first'"),
    "unknown preset": (_flags("--preset", "resnet"), "argument --preset: invalid choice: 'resnet'"),
    "unknown reading order": (_flags("--read", "diagonal"), "argument --read: invalid choice: 'diagonal'"),
    "dropout on one layer": (_flags("--dropout", "0.3"),
                             "--dropout 0.3 acts between stacked layers and would do nothing with --num-layers 1"),
    "amp on cpu": (_flags("--amp", "--device", "cpu"), "--amp needs a CUDA device"),
    # runs
    "run directory missing": (lambda tmp, run: ["evaluate", str(tmp / "no-run")],
                              "no such run directory: give a directory that rowrnn train wrote"),
    "run without weights": (_run_case(lambda run: (run / "best.safetensors").unlink()),
                            "best.safetensors: no weights file: train the run first"),
    "weights not matching config": (_run_case(_set_config(("model", "hidden_size"), 9)),
                                    "the weights do not match"),
    "tampered safetensors": (_run_case(_tamper_header), "not a valid safetensors file"),
    "truncated safetensors": (_run_case(_truncate("best.safetensors", 300)), "not a valid safetensors file"),
    "config not JSON": (_run_case(lambda run: (run / "config.json").write_text("{model: rnn")), "config.json: not valid JSON"),
    "config lacks a section": (_run_case(_set_config(("model", None), _DELETE)),
                               "config.json lacks the 'model' section: re-create the run with rowrnn train"),
    "config lacks a field": (_run_case(_set_config(("model", "cell"), _DELETE)),
                             "config.json lacks model fields ['cell']"),
    "config with a wrong type": (_run_case(_set_config(("model", "bidirectional"), "yes")),
                                 "--bidirectional must be true or false, got 'yes'"),
    "config with NaN": (_run_case(lambda run: (run / "config.json").write_text(
        (run / "config.json").read_text().replace('"lr": 0.001', '"lr": NaN'))), "NaN is not a JSON number"),
    "config nested too deeply": (_run_case(lambda run: (run / "config.json").write_text("[" * 5000 + "]" * 5000)),
                                 "nested too deeply to be a file rowrnn wrote"),
    "config with a 5000-digit number": (_run_case(lambda run: (run / "config.json").write_text(
        '{"model": {"hidden_size": ' + "9" * 5000 + "}}")), "not valid JSON (a number with 5000 digits)"),
    "state.pt that is not a resume state": (_run_case(lambda run: (run / "state.pt").write_bytes(b"PK\x03\x04 not a zip"),
                                                      ("train", "--resume")), "unreadable or unsafe resume state"),
    "IDX header claiming 4 billion images": (_replace("train-images-idx3-ubyte.gz", lambda d: gzip.compress(
        struct.pack(">IIII", 0x803, 2**32 - 1, 28, 28) + b"\0" * 784)),
        "IDX header promises shape (4294967295, 28, 28) (3,367,254,359,280 bytes), over the limit of 200 MB for a "
        "Fashion-MNIST-format file"),
    "resume with another config": (lambda tmp, run: ["train", "--resume", str(run), "--lr", "0.5"],
                                   "cannot resume"),
    "resume with a preset": (lambda tmp, run: ["train", "--resume", str(run), "--preset", "cnn"],
                             "--resume RUN continues RUN with its own config: drop --preset"),
    "resume of a missing run": (lambda tmp, run: ["train", "--resume", str(tmp / "gone")], "no such run directory"),
    "--out is a file": (lambda tmp, run: [*TRAIN, "--data-dir", str(write_dataset(tmp / "data")),
                                          "--out", str(_write("afile", b"x")(tmp))],
                        "afile: is a regular file, not a directory: choose another --out"),
    "seed out of range": (_flags("--seed", str(10**17)), "--seed must be an integer from 0 to 2147483647"),
    "validation split leaves no images": (
        lambda tmp, run: [*TRAIN, "--data-dir", str(write_dataset(tmp / "data", n_train=9)), "--out", str(tmp / "o")],
        "--val-split 0.1 of 9 training images leaves 9 for training and 0 for validation"),
    "resume after editing config.json": (lambda tmp, run: _set_config(("model", "hidden_size"), 9)(run)
                                         or ["train", "--resume", str(run)],
                                         "the weights do not match its config.json (was it edited?)"),
    "compare without seeds": (lambda tmp, run: ["compare", "--seeds", ",", "--out", str(tmp / "cmp")],
                              "--seeds names no seed"),
    "export into a missing directory": (lambda tmp, run: ["export", str(run), "--out", str(tmp / "nodir" / "m.onnx"),
                                                          "--data-dir", str(write_dataset(tmp / "data"))],
                                        "m.onnx: cannot write (no such file or directory)"),
    # predict
    "predict --explain into a missing directory": (
        lambda tmp, run: ["predict", str(run), "--test-index", "0", "--explain", str(tmp / "nodir" / "x.png")],
        "nodir does not exist: create it or choose another path"),
    "predict a non-image": (_predict_case(_write("notes.png", b"these are my notes, not a picture")),
                            "notes.png: plain text, not one of the formats rowrnn reads"),
    "predict an empty file": (_predict_case(_write("empty.jpg", b"")), "empty file (0 bytes): give a PNG or JPEG"),
    "predict a huge image": (_predict_case(_png_header_only), "over the limit of 50 megapixels: shrink it first"),
    "predict a truncated PNG": (_predict_case(_truncated_png), "cut.png: damaged or unreadable image ("),
    "predict a PostScript file": (_predict_case(_write("shirt.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n")),
                                  "shirt.eps: a PostScript/EPS file, not one of the formats rowrnn reads"),
    "predict a directory": (lambda tmp, run: ["predict", str(run), str(tmp)], "is a directory"),
    "predict a missing file": (lambda tmp, run: ["predict", str(run), str(tmp / "cat.jpg")], "cat.jpg: no such file"),
    "predict a test index out of range": (lambda tmp, run: ["predict", str(run), "--test-index", "100"],
                                          "--test-index 100 is out of range: the test set has 100 images (0-99)"),
    "predict nothing": (lambda tmp, run: ["predict", str(run)], "nothing to predict"),
}


def _snapshot(root: Path) -> dict:
    """Every file and its bytes; the run lock (.lock) is an operating-system handle, not an artifact."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()) if p.is_file() else "dir"
            for p in sorted(root.rglob("*")) if p.name != ".lock"}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.filterwarnings("error")
def test_bad_input(case, trained_run, tmp_path, capsys):
    build, expected = CASES[case]
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns(".lock"))
    argv = build(tmp_path, run)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(("rowrnn: error: ", "rowrnn train: error: "))
    assert _snapshot(tmp_path) == before  # nothing created, nothing changed
    assert len(CASES) >= 30


def test_an_unreadable_file_is_named(tmp_path):
    """chmod 000 does not stop root: as root the CLI runs without the capabilities that bypass it."""
    data = write_dataset(tmp_path / "data")
    (data / "train-labels-idx1-ubyte.gz").chmod(0o000)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*drop, sys.executable, "-m", "rowrnn", *TRAIN, "--data-dir", str(data),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "train-labels-idx1-ubyte.gz: permission denied: make the file readable" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_offline_with_no_local_data_lists_every_place(isolated_sources, tmp_path, capsys):
    assert main([*TRAIN[:1], "--epochs", "1", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST not found; tried cache:" in err and "download: download of" in err
    assert "apt-get install dataset-fashion-mnist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    from rowrnn.inference import load_image
    wide = np.zeros((28, 28), np.uint16)
    wide[2:26, 8:20] = 65535  # a white garment on black, at 16 bits, spanning 24 rows: already converted
    Image.fromarray(wide).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    image = load_image(tmp_path / "deep.png")
    assert image.dtype == torch.uint8 and int(image.max()) == 255 and int(image[0, 0]) == 0
    assert int((image == 255).sum()) == 24 * 12


@pytest.mark.parametrize("lang", ["en", "es"])
def test_troubleshooting_page_lists_tested_messages(lang):
    """Each message in the docs' troubleshooting table (English and Spanish pages: the messages stay in English) is
    one the tests assert, and both pages list the same messages in the same order."""
    import re
    docs = Path(__file__).resolve().parents[1] / "docs"

    def messages(language):
        page = (docs / language / "troubleshooting.md").read_text(encoding="utf-8")
        return re.findall(r"^\| `([^`]+)` \|", page, flags=re.M)

    documented = messages(lang)
    assert len(documented) >= 20
    assert documented == messages("en")
    tested = [expected for _, expected in CASES.values()] + [
        "Fashion-MNIST not found; tried cache:", "permission denied: make the file readable",
        "already holds a run: continue it with --resume", "is in use by another rowrnn train",
        "rowrnn loads weights only from .safetensors files", "the loss became nan", "interrupted during epoch",
        # asserted in test_world.py, test_serve.py and test_export.py
        "cannot use it as a run directory (the file system is read-only)", "no space left on the device",
        "(the port is in use): choose another --port", "disagrees with PyTorch on",
        # asserted in test_state_dicts.py
        "6 tensors are not floating point", "no config.json beside it"]
    for message in documented:
        assert any(message in t or t in message for t in tested), f"docs/{lang}/troubleshooting.md documents an untested message: {message}"
