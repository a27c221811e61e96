"""ONNX export: parity with PyTorch for every preset, metadata, the CLI, and prediction without rowrnn's model code."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from conftest import synthetic_split, write_dataset
from rowrnn import export, models
from rowrnn.cli import main
from rowrnn.config import PRESETS, build_config
from rowrnn.constants import CLASSES
from rowrnn.errors import RowrnnError

IMAGES = torch.from_numpy(synthetic_split(64, 3)[0])   # (64, 28, 28) uint8


EXTRA = {"elman-relu-max": {"cell": "elman", "nonlinearity": "relu", "readout": "max"},
         "lstm-columns-2layers-mean": {"cell": "lstm", "read": "columns", "num_layers": 2, "readout": "mean"},
         "gru-rows4-bidirectional-last": {"cell": "gru", "rows_per_step": 4, "bidirectional": True}}


@pytest.mark.parametrize("preset, overrides", [(p, {}) for p in PRESETS] + [("notebook", o) for o in EXTRA.values()],
                         ids=list(PRESETS) + list(EXTRA))
def test_every_preset_exports_and_matches_pytorch(preset, overrides):
    torch.manual_seed(0)
    model = models.build_model(build_config(preset, overrides).model).eval()
    data = export.to_onnx_bytes(model, {"rowrnn.classes": json.dumps(list(CLASSES)),
                                        "rowrnn.normalization": json.dumps(export.NORMALIZATION)})
    diff = export.check_parity(model, data, IMAGES)
    assert diff <= export.TOLERANCE
    proto = onnx.load_from_string(data)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]] == [1, 28, 28]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # any batch size
    classifier = export.OnnxClassifier(data)
    assert classifier.classes == CLASSES
    x = torch.rand(3, 1, 28, 28) * 2 - 1                                  # normalized images: [-1, 1]
    with torch.no_grad():
        np.testing.assert_allclose(classifier(x), model(x).numpy(), atol=1e-4)


def test_a_disagreeing_export_is_an_error(monkeypatch):
    model = models.RNNClassifier().eval()
    data = export.to_onnx_bytes(model, {"rowrnn.classes": json.dumps(list(CLASSES)),
                                        "rowrnn.normalization": json.dumps(export.NORMALIZATION)})
    real_call = export.OnnxClassifier.__call__
    monkeypatch.setattr(export.OnnxClassifier, "__call__", lambda self, x: real_call(self, x) + 2e-4)
    with pytest.raises(RowrnnError, match=r"disagrees with PyTorch on 64 images \(max \|logit difference\| 2\.0\de-04, "
                                          r"allowed 0\.0001; top classes equal\): nothing was written"):
        export.check_parity(model, data, IMAGES)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    data = write_dataset(tmp / "data")
    run = tmp / "run"
    assert main(["train", "--data-dir", str(data), "--no-verify", "--epochs", "2", "--batch-size", "64",
                 "--cell", "gru", "--hidden-size", "12", "--bidirectional", "--readout", "mean+max", "--quiet",
                 "--no-figures", "--out", str(run)]) == 0
    return run, data


def test_export_writes_a_checked_model_with_metadata(trained, tmp_path, capsys):
    run, data = trained
    out = tmp_path / "m.onnx"
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"saved {out} (opset 17; checked against onnxruntime on 100 test images: "
                           "max |logit difference| ") and line.endswith("every top class equal)")
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    metrics = json.loads((run / "metrics.json").read_text())
    assert json.loads(meta["rowrnn.classes"]) == list(CLASSES)
    assert json.loads(meta["rowrnn.normalization"])["mean"] == 0.5 and meta["rowrnn.weights"] == "best"
    assert meta["rowrnn.test_accuracy"] == f"{metrics['accuracy']:.4f}"
    assert meta["rowrnn.weights_sha256"] == metrics["weights_sha256"]
    assert json.loads(meta["rowrnn.config"])["model"]["cell"] == "gru"


def test_predict_with_the_onnx_model_needs_no_run_and_no_model_code(trained, tmp_path, capsys, monkeypatch):
    run, data = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(".lock"))
    assert main(["export", str(copy)]) == 0                       # default: RUN/model.onnx
    assert main(["predict", str(copy), "--test-index", "0", "--test-index", "5", "--json", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert main(["predict", str(copy), "--test-index", "0", "--test-index", "5", "--json", "--data-dir", str(data)]) == 0
    expected = json.loads(capsys.readouterr().out)
    shutil.move(copy / "model.onnx", tmp_path / "model.onnx")
    shutil.rmtree(copy)                                            # no config.json, no weights

    def forbidden(*args, **kwargs):
        raise AssertionError("predict --onnx built a rowrnn model")
    monkeypatch.setattr(models.RNNClassifier, "__init__", forbidden)
    monkeypatch.setattr(models.CNNClassifier, "__init__", forbidden)
    assert main(["predict", "--onnx", str(tmp_path / "model.onnx"), "--test-index", "0", "--test-index", "5",
                 "--json", "--data-dir", str(data), "--no-verify"]) == 0
    got = json.loads(capsys.readouterr().out)
    for a, b in zip(got, expected):
        assert a["image"] == b["image"] and a["expected"] == b["expected"]
        assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
        assert [t["probability"] for t in a["top"]] == pytest.approx([t["probability"] for t in b["top"]], abs=1e-5)


@pytest.mark.parametrize("content, message", [
    (b"not a model", "not a valid ONNX model"),
    (None, "has no rowrnn metadata (classes, normalization): export it with rowrnn export"),
])
def test_bad_onnx_files_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "m.onnx"
    if content is None:  # a valid ONNX model that rowrnn did not write
        path.write_bytes(export.to_onnx_bytes(models.RNNClassifier(), {}))
    else:
        path.write_bytes(content)
    assert main(["predict", "--onnx", str(path), "--example", "boot-on-white"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_export_refuses_to_overwrite_a_runs_own_file(trained, capsys):
    run, _ = trained
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["export", str(run), "--out", str(run / "best.safetensors")]) == 2
    assert "best.safetensors: give a file name ending in .onnx" in capsys.readouterr().err
    (run / "model-last.onnx").write_bytes(b"the last weights' export")
    assert main(["export", str(run), "--out", str(run / "model-last.onnx")]) == 2   # the best weights, mislabelled
    assert "model-last.onnx: is one of the run's own files" in capsys.readouterr().err
    assert (run / "model-last.onnx").read_bytes() == b"the last weights' export"
    (run / "model-last.onnx").unlink()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


# ----------------------------------------------------------------------------- the contract, checked at load

def hand_made_onnx(input_shape=("N", 1, 28, 28), input_type=onnx.TensorProto.FLOAT, input_name="images",
                   classes=10, output_shape=None, scale=1.0, allocate=0) -> bytes:
    """A model with rowrnn's metadata that rowrnn did not export: images -> Cast -> Flatten -> MatMul -> logits,
    times `scale` (NaN makes every answer NaN); allocate=N first fills a float tensor of N elements."""
    from onnx import TensorProto, helper, numpy_helper
    features = int(np.prod([d for d in input_shape if d != "N"]))
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
             helper.make_node("Flatten", ["xf"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "w"], ["raw"]),
             helper.make_node("Mul", ["raw", "scale"], ["logits" if not allocate else "scaled"])]
    inits = [numpy_helper.from_array(np.full((features, classes), 0.01, np.float32), "w"),
             numpy_helper.from_array(np.array(scale, np.float32), "scale")]
    if allocate:
        nodes += [helper.make_node("ConstantOfShape", ["huge_shape"], ["huge"],
                                   value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
                  helper.make_node("ReduceSum", ["huge"], ["total"], keepdims=0),
                  helper.make_node("Add", ["scaled", "total"], ["logits"])]
        # the shape comes from the input's batch size times `allocate`, so nothing can fold it away at load
        nodes[-3:-3] = [helper.make_node("Shape", ["x"], ["xshape"], start=0, end=1),
                        helper.make_node("Mul", ["xshape", "factor"], ["huge_shape"])]
        inits.append(numpy_helper.from_array(np.array([allocate], np.int64), "factor"))
    graph = helper.make_graph(
        nodes, "hand-made", [helper.make_tensor_value_info(input_name, input_type, list(input_shape))],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, list(output_shape or ("N", classes)))], inits)
    graph.node[0].input[0] = input_name
    if allocate:
        graph.node[-5].input[0] = input_name
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (("rowrnn.classes", json.dumps(list(CLASSES))),
                       ("rowrnn.normalization", json.dumps(export.NORMALIZATION))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": ("N", 784)}, "expected one float32 input 'images' of shape (N, 1, 28, 28), "
                                  "found float 'images' of shape (N, 784)"),
    ({"input_type": onnx.TensorProto.INT64}, "expected one float32 input 'images' of shape (N, 1, 28, 28), "
                                             "found int64 'images' of shape (N, 1, 28, 28)"),
    ({"input_name": "input"}, "expected one float32 input 'images' of shape (N, 1, 28, 28), "
                              "found float 'input' of shape (N, 1, 28, 28)"),
    ({"input_shape": ("N", 3, 28, 28)}, "expected one float32 input 'images' of shape (N, 1, 28, 28), "
                                        "found float 'images' of shape (N, 3, 28, 28)"),
    ({"classes": 2}, "expected float32 logits of shape (N, 10), found float of shape (N, 2)"),
])
def test_a_model_that_does_not_fit_rowrnns_contract_is_refused_at_load(tmp_path, capsys, kwargs, message):
    path = tmp_path / "m.onnx"
    path.write_bytes(hand_made_onnx(**kwargs))
    with pytest.raises(RowrnnError, match="export the run again with rowrnn export"):
        export.OnnxClassifier(path)
    assert main(["predict", "--onnx", str(path), "--example", "boot-on-white"]) == 2
    err = capsys.readouterr().err
    assert err == f"rowrnn: error: {path}: {message}: this is not a model that rowrnn export wrote; " \
                  "export the run again with rowrnn export\n"


def test_a_hand_made_model_that_fits_the_contract_runs():
    logits = export.OnnxClassifier(hand_made_onnx())(torch.ones(2, 1, 28, 28), value_range=(-1, 1))
    assert logits.shape == (2, 10) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, np.full((2, 10), 7.84), rtol=1e-5)


def test_a_model_that_answers_nan_is_refused(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(hand_made_onnx(scale=float("nan")))
    for argv in (["predict", "--onnx", str(path), "--example", "boot-on-white"],
                 ["predict", "--onnx", str(path), "--example", "boot-on-white", "--json"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (f"rowrnn: error: {path}: gives NaN or infinite outputs for 1 of 1 images, so there "
                                "is no answer: the exported weights are damaged or diverged; retrain and export "
                                "again\n")


def test_a_model_that_allocates_terabytes_is_one_line(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(hand_made_onnx(allocate=2**40))      # 4 TiB of float32 per image
    done = subprocess.run([sys.executable, "-m", "rowrnn", "predict", "--onnx", str(path), "--example",
                           "boot-on-white"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"rowrnn: error: {path}: onnxruntime could not run the model (")
    assert done.stderr.endswith("): export the run again with rowrnn export\n")
    assert len(done.stderr.splitlines()) == 1


def test_onnxruntime_writes_nothing_under_home(trained, tmp_path):
    run, data = trained
    model = tmp_path / "model.onnx"
    assert main(["export", str(run), "--out", str(model)]) == 0
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR",
                                                            "ORT_DISABLE_TELEMETRY")}
    done = subprocess.run([sys.executable, "-m", "rowrnn", "predict", "--onnx", str(model), "--example",
                           "boot-on-white"], capture_output=True, text=True, timeout=120, env={**env, "HOME": str(home)})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("example:boot-on-white: ")
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
