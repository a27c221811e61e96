"""Weights that are what they say (issue 26, family 3): every route that loads weights -- rowrnn.load_model, the
CLI's RUN and --weights, serve, the widget and the course's load_state_dict -- checks them in one place
(rowrnn.state_dicts.fit_state_dict) and ends in the same one line, or loads them and says what it changed."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file
from starlette.testclient import TestClient
from torch import nn

import rowrnn
from conftest import write_dataset
from rowrnn import runs, serve
from rowrnn.cli import main
from rowrnn.state_dicts import WeightsConverted, WeightsMismatch, fit_state_dict
from rowrnn.widget import load_models

TRAIN = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures"]
KEYS = ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.weight", "fc.bias"]
CAST = "save the state_dict as the model trained, without casting it"
FLOATS = "weights must be float32, float16, bfloat16 or float64 (converted to the model's dtype)"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run directory, data directory): the notebook model after one epoch on synthetic data."""
    tmp = tmp_path_factory.mktemp("weights")
    data = write_dataset(tmp / "data")
    assert main([*TRAIN, "--data-dir", str(data), "--out", str(tmp / "run")]) == 0
    return tmp / "run", data


def _variant(trained, tmp_path, change, name="best.safetensors"):
    """A copy of the run whose <name> holds change(its tensors)."""
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    save_file(change(load_file(run / name)), run / name)
    return run


# name -> (what is done to the weights' tensors, the error after "<weights file>: ")
REFUSED = {
    "int32": (lambda t: {k: v.to(torch.int32) for k, v in t.items()},
              "6 tensors are not floating point: rnn.weight_ih_l0 (int32), rnn.weight_hh_l0 (int32), "
              "rnn.bias_ih_l0 (int32), rnn.bias_hh_l0 (int32), fc.weight (int32) and 1 more: " + FLOATS + ": " + CAST),
    "one bool": (lambda t: {**t, "fc.bias": t["fc.bias"].bool()},
                 "1 tensor is not floating point: fc.bias (bool): " + FLOATS + ": " + CAST),
    "complex": (lambda t: {**t, "fc.weight": t["fc.weight"].to(torch.complex64)},
                "1 tensor is not floating point: fc.weight (complex64): " + FLOATS + ": " + CAST),
    "model. prefix": (lambda t: {f"model.{k}": v for k, v in t.items()},
                      "the weights do not match {config}: 6 missing (rnn.weight_ih_l0, rnn.weight_hh_l0, "
                      "rnn.bias_ih_l0, rnn.bias_hh_l0, fc.weight and 1 more), 6 unexpected (model.fc.bias, "
                      "model.fc.weight, model.rnn.bias_hh_l0, model.rnn.bias_ih_l0, model.rnn.weight_hh_l0 and 1 "
                      "more): the missing keys are there under the prefix 'model.' (a wrapper module's, e.g. a "
                      "Lightning module's self.model): save the inner model's state_dict, or strip the prefix: "
                      "{{k.removeprefix('model.'): v for k, v in state_dict.items()}}"),
    "missing and unexpected": (lambda t: {**{k: v for k, v in t.items() if not k.startswith("fc.")},
                                          "head.weight": t["fc.weight"], "head.bias": t["fc.bias"],
                                          "extra": torch.zeros(1)},
                               "the weights do not match {config}: 2 missing (fc.weight, fc.bias), 3 unexpected "
                               "(extra, head.bias, head.weight): they are another model's weights: load them with "
                               "the config.json of the run they come from"),
    "size mismatch": (lambda t: {**t, "fc.weight": torch.zeros(3, 8), "fc.bias": torch.zeros(3)},
                      "the weights do not match {config}: 2 size mismatches (fc.weight: (3, 8) in the weights, (10, 8) "
                      "in the model; fc.bias: (3,) in the weights, (10,) in the model): they were trained with "
                      "another config: use the config.json of the run they come from, or restore this run's own"),
    "keys and sizes": (lambda t: {**{k: v for k, v in t.items() if k != "rnn.bias_hh_l0"},
                                  "fc.bias": torch.zeros(4)},
                       "the weights do not match {config}: 1 missing (rnn.bias_hh_l0), 1 size mismatch (fc.bias: (4,) "
                       "in the weights, (10,) in the model): they are another model's weights: load them with the "
                       "config.json of the run they come from"),
}

# name -> (change, the dtype said, how each tensor is expected back)
CONVERTED = {
    "float16": (lambda t: {k: v.half() for k, v in t.items()}, "float16", lambda v: v.half().float()),
    "bfloat16": (lambda t: {k: v.bfloat16() for k, v in t.items()}, "bfloat16", lambda v: v.bfloat16().float()),
    "float64": (lambda t: {k: v.double() for k, v in t.items()}, "float64", lambda v: v),
}


def _message(run, text, weights="best"):
    path = run / f"{weights}.safetensors"
    return f"{path}: " + text.format(config=run / "config.json")


@pytest.mark.parametrize("case", REFUSED)
def test_load_model_refuses_weights_that_are_not_what_they_say(trained, tmp_path, case):
    change, text = REFUSED[case]
    run = _variant(trained, tmp_path, change)
    with pytest.raises(rowrnn.RowrnnError) as e:
        rowrnn.load_model(run)
    assert str(e.value) == _message(run, text)


@pytest.mark.parametrize("case", ["int32", "model. prefix", "missing and unexpected", "size mismatch"])
@pytest.mark.parametrize("weights", ["best", "last"])
def test_the_cli_says_the_same_one_line(trained, tmp_path, capsys, case, weights):
    change, text = REFUSED[case]
    run = _variant(trained, tmp_path, change, f"{weights}.safetensors")
    for argv in (["evaluate", str(run), "--weights", weights], ["evaluate", str(run / f"{weights}.safetensors")],
                 ["predict", str(run), "--weights", weights, "--example", "boot-on-white"],
                 ["export", str(run), "--weights", weights, "--out", str(tmp_path / "m.onnx")],
                 ["plot", str(run), "--weights", weights], ["summary", str(run)] if weights == "best" else None):
        if argv is None:
            continue
        capsys.readouterr()
        assert main(argv) == 2, argv
        assert capsys.readouterr().err == f"rowrnn: error: {_message(run, text, weights)}\n", argv
    assert not (tmp_path / "m.onnx").exists()


def test_the_int32_weights_of_the_issue_no_longer_evaluate(trained, tmp_path):
    run = _variant(trained, tmp_path, REFUSED["int32"][0])
    with pytest.raises(rowrnn.RowrnnError, match="6 tensors are not floating point"):
        rowrnn.evaluate_run(run, data_dir=trained[1])


@pytest.mark.parametrize("case", CONVERTED)
def test_half_and_double_precision_load_converted_and_said(trained, tmp_path, capsys, case):
    change, dtype, expected = CONVERTED[case]
    run = _variant(trained, tmp_path, change)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = rowrnn.load_model(run)
    path = run / "best.safetensors"
    said = f"{path}: the weights are {dtype}: converted to float32, the model's dtype"
    assert [(w.category, str(w.message)) for w in caught] == [(WeightsConverted, said)]
    original = load_file(trained[0] / "best.safetensors")
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, expected(original[k])), k
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data-dir", str(trained[1]), "--json"]) == 0
    assert capsys.readouterr().err == f"rowrnn: note: {said}\n"


def test_some_tensors_in_half_precision_are_counted(trained, tmp_path):
    run = _variant(trained, tmp_path, lambda t: {**t, "fc.bias": t["fc.bias"].half()})
    with pytest.warns(WeightsConverted) as caught:
        rowrnn.load_model(run)
    assert [str(w.message) for w in caught] == [
        f"{run / 'best.safetensors'}: the weights are float16 (1 of 6 tensors): converted to float32, "
        "the model's dtype"]


@pytest.mark.parametrize("prefix, who", [("module.", "DataParallel, DistributedDataParallel or AveragedModel"),
                                         ("_orig_mod.", "torch.compile")])
def test_torch_wrappers_prefixes_are_removed_and_said(trained, tmp_path, capsys, prefix, who):
    run = _variant(trained, tmp_path, lambda t: {prefix + k: v for k, v in t.items()})
    with pytest.warns(WeightsConverted) as caught:
        model, _ = rowrnn.load_model(run)
    said = f"{run / 'best.safetensors'}: every key starts with {prefix!r} (saved from {who}): loaded without the prefix"
    assert [str(w.message) for w in caught] == [said]
    original = load_file(trained[0] / "best.safetensors")
    assert list(model.state_dict()) == KEYS
    assert all(torch.equal(model.state_dict()[k], original[k]) for k in KEYS)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data-dir", str(trained[1]), "--json"]) == 0
    assert capsys.readouterr().err == f"rowrnn: note: {said}\n"


def test_a_weights_file_and_other_weights_at_once_is_refused(trained, capsys):
    run = trained[0]
    message = (f"{run / 'best.safetensors'} is a weights file and weights 'last' (--weights) names another: give the "
               "run directory with 'last', or the weights file alone")
    with pytest.raises(rowrnn.RowrnnError) as e:
        rowrnn.load_model(run / "best.safetensors", weights="last")
    assert str(e.value) == message
    assert main(["evaluate", str(run / "best.safetensors"), "--weights", "last"]) == 2
    assert capsys.readouterr().err == f"rowrnn: error: {message}\n"


def test_a_weights_file_outside_its_run_says_what_it_needs(trained, tmp_path, capsys):
    alone = tmp_path / "elsewhere" / "last.safetensors"
    alone.parent.mkdir()
    shutil.copy(trained[0] / "last.safetensors", alone)
    message = (f"{alone}: no config.json beside it: a weights file loads with the config.json of the run that "
               "trained it: put it in that run directory, or copy that config.json beside it")
    with pytest.raises(rowrnn.RowrnnError) as e:
        rowrnn.load_model(alone)
    assert str(e.value) == message
    for argv in (["serve", str(alone), "--port", "0"], ["evaluate", str(alone)]):
        assert main(argv) == 2
        assert capsys.readouterr().err == f"rowrnn: error: {message}\n"
    shutil.copy(trained[0] / "config.json", alone.parent)       # the fix the message names
    model, run = rowrnn.load_model(alone)
    assert run.path == alone.parent and run.config.model.hidden_size == 8


# ----------------------------------------------------------------------------- serve and the widget

def _client(paths, data):
    return TestClient(serve.create_app(paths, data_dir=data), base_url="http://127.0.0.1:8000")


def test_serve_takes_weights_files_as_the_readme_shows(trained):
    """`rowrnn serve RUN/last.safetensors`, first or beside its run: its own panel, named "run (last)"."""
    run, data = trained
    with _client([run / "last.safetensors", run], data) as client:
        info = client.get("/api/runs").json()
        assert [r["name"] for r in info["runs"]] == ["run (last)", "run"]
        assert info["test_images"] == 100
        assert info["runs"][0]["test_accuracy"] is None       # nothing recorded for the last weights yet
        answer = client.post("/api/predict", json={"test_index": 3}).json()
    last, _ = rowrnn.load_model(run, "last")
    x = rowrnn.data.normalize(rowrnn.data.load_split(data, "test", verify=False).images[3:4])
    assert answer["models"][0]["final"] == pytest.approx(torch.softmax(last(x), 1)[0].tolist(), abs=5e-5)  # 4 decimals


def test_the_serve_command_takes_a_weights_file_and_says_its_half_precision(trained, tmp_path):
    """The README's `rowrnn serve RUN/last.safetensors`, as a user types it (a real server, --port 0): the page
    serves the last weights beside the best, and converted weights are said on stderr as one note."""
    run = _variant(trained, tmp_path, CONVERTED["float16"][0], "last.safetensors")
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", str(run / "last.safetensors"), str(run),
                             "--port", "0", "--data-dir", str(trained[1])], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url and "(2 runs; Ctrl-C to stop)" in line, (line, proc.poll() is not None and proc.stderr.read())
        with urllib.request.urlopen(url.group(0) + "api/runs", timeout=10) as response:
            assert [r["name"] for r in json.load(response)["runs"]] == ["run (last)", "run"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert err.splitlines() == [f"rowrnn: note: {run / 'last.safetensors'}: the weights are float16: converted to "
                                "float32, the model's dtype", "rowrnn: interrupted by SIGINT"]


@pytest.mark.parametrize("case", ["int32", "model. prefix", "size mismatch"])
def test_serve_refuses_the_same_weights_with_the_same_line(trained, tmp_path, capsys, case):
    change, text = REFUSED[case]
    run = _variant(trained, tmp_path, change, "last.safetensors")
    with pytest.raises(rowrnn.RowrnnError) as e:
        serve.create_app([trained[0], run / "last.safetensors"], data_dir=trained[1])
    assert str(e.value) == _message(run, text, "last")
    assert main(["serve", str(run / "last.safetensors"), "--port", "0", "--data-dir", str(trained[1])]) == 2
    assert capsys.readouterr().err == f"rowrnn: error: {_message(run, text, 'last')}\n"


def test_serve_says_half_precision_once_per_run(trained, tmp_path, capsys):
    run = _variant(trained, tmp_path, CONVERTED["float16"][0], "last.safetensors")
    with pytest.warns(WeightsConverted) as caught:
        with _client([run / "last.safetensors"], trained[1]) as client:
            assert client.get("/api/runs").json()["runs"][0]["name"] == "run (last)"
    assert [str(w.message) for w in caught] == [
        f"{run / 'last.safetensors'}: the weights are float16: converted to float32, the model's dtype"]


def test_the_widget_loads_through_the_same_checks(trained, tmp_path):
    change, text = REFUSED["int32"]
    run = _variant(trained, tmp_path, change)
    with pytest.raises(rowrnn.RowrnnError) as e:
        load_models(str(run))
    assert str(e.value) == _message(run, text)


# ----------------------------------------------------------------------------- the course's state_dict route

def _notebook_state(change=lambda t: t):
    return change(rowrnn.RNNClassifier().state_dict())


@pytest.mark.parametrize("case, message", [
    ("int32", "state_dict: 6 tensors are not floating point: rnn.weight_ih_l0 (int32), rnn.weight_hh_l0 (int32), "
              "rnn.bias_ih_l0 (int32), rnn.bias_hh_l0 (int32), fc.weight (int32) and 1 more: " + FLOATS + ": " + CAST),
    ("model. prefix", "state_dict: the weights do not match the RNNClassifier: 6 missing (rnn.weight_ih_l0, "
                      "rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, fc.weight and 1 more), 6 unexpected "
                      "(model.fc.bias, model.fc.weight, model.rnn.bias_hh_l0, model.rnn.bias_ih_l0, "
                      "model.rnn.weight_hh_l0 and 1 more): the missing keys are there under the prefix 'model.' (a "
                      "wrapper module's, e.g. a Lightning module's self.model): save the inner model's state_dict, "
                      "or strip the prefix: {k.removeprefix('model.'): v for k, v in state_dict.items()}"),
    ("missing and unexpected", "state_dict: the weights do not match the RNNClassifier: 2 missing (fc.weight, "
                               "fc.bias), 3 unexpected (extra, head.bias, head.weight): these are another model's "
                               "weights: build the model they come from"),
    ("size mismatch", "state_dict: the weights do not match the RNNClassifier: 2 size mismatches (fc.weight: (3, 8) "
                      "in the weights, (10, 8) in the model; fc.bias: (3,) in the weights, (10,) in the model): "
                      "build the model with the arguments the weights were trained with"),
])
def test_the_course_state_dict_route_names_the_same_faults(case, message):
    """`RNNClassifier().load_state_dict(notebook.state_dict())` (README: a notebook state_dict loads into it): the
    same checks, raised as a RowrnnError that is also the RuntimeError torch's load_state_dict raises."""
    with pytest.raises(RuntimeError) as e:
        rowrnn.RNNClassifier().load_state_dict(_notebook_state(REFUSED[case][0]))
    assert isinstance(e.value, rowrnn.RowrnnError) and str(e.value) == message


def test_the_course_route_converts_half_precision_and_a_ddp_prefix_and_says_so():
    state = rowrnn.RNNClassifier().state_dict()
    model = rowrnn.RNNClassifier(hidden_size=8)
    with pytest.warns(WeightsConverted) as caught:
        result = model.load_state_dict({f"module.{k}": v.half() for k, v in state.items()})
    assert [str(w.message) for w in caught] == [
        "state_dict: every key starts with 'module.' (saved from DataParallel, DistributedDataParallel or "
        "AveragedModel): loaded without the prefix",
        "state_dict: the weights are float16: converted to float32, the model's dtype"]
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(torch.equal(model.state_dict()[k], v.half().float()) for k, v in state.items())


def test_the_course_route_keeps_torchs_strict_false_and_refuses_wrong_objects():
    model = rowrnn.RNNClassifier()
    state = {k: v for k, v in model.state_dict().items() if k != "fc.bias"} | {"x": torch.zeros(1)}
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["x"]
    with pytest.raises(WeightsMismatch, match=r"^state_dict: 1 tensor is not floating point: fc.weight \(int64\)"):
        model.load_state_dict({"fc.weight": torch.zeros(10, 8, dtype=torch.long)}, strict=False)
    with pytest.raises(WeightsMismatch) as e:
        model.load_state_dict({"state_dict": model.state_dict(), "epoch": 3})
    assert str(e.value) == ("state_dict: is a checkpoint that holds a 'state_dict' (e.g. PyTorch Lightning's): "
                            "give checkpoint['state_dict']")
    with pytest.raises(WeightsMismatch) as e:
        model.load_state_dict(rowrnn.RNNClassifier())
    assert str(e.value) == "state_dict: is a RNNClassifier (a model), not its state_dict: give model.state_dict()"
    with pytest.raises(WeightsMismatch) as e:
        model.load_state_dict({**model.state_dict(), "fc.bias": [0.0] * 10})
    assert str(e.value) == ("state_dict: 1 value(s) that are not tensors: fc.bias (list): give a state_dict of "
                            "tensors, e.g. model.state_dict()")


def test_integer_buffers_stay_integers_and_cnn_counts_may_be_absent():
    model = rowrnn.RNNClassifier(read="permuted-pixels", hidden_size=2)
    state = {**model.state_dict(), "permutation": model.permutation.float()}
    with pytest.raises(WeightsMismatch) as e:
        model.load_state_dict(state)
    assert str(e.value) == ("state_dict: 1 integer buffer of another dtype: permutation (float32, the model's is "
                            "int64): integer buffers must stay integers: " + CAST)
    cnn = rowrnn.CNNClassifier()       # BatchNorm's num_batches_tracked: torch fills it in when absent
    assert cnn.load_state_dict({k: v for k, v in cnn.state_dict().items()
                                if not k.endswith("num_batches_tracked")}).missing_keys == []


def test_hundreds_of_mismatches_are_counted_and_cut():
    model = nn.Sequential(*[nn.Linear(1, 1) for _ in range(150)])
    with pytest.raises(WeightsMismatch) as e:
        fit_state_dict(model, {f"net.{k}": v for k, v in model.state_dict().items()} | {"extra": torch.zeros(1)})
    assert str(e.value) == ("state_dict: the weights do not match the Sequential: 300 missing (0.weight, 0.bias, "
                            "1.weight, 1.bias, 2.weight and 295 more), 301 unexpected (extra, net.0.bias, "
                            "net.0.weight, net.1.bias, net.1.weight and 296 more): the missing keys are there under "
                            "the prefix 'net.' (a wrapper module's, e.g. a Lightning module's self.net): save the "
                            "inner model's state_dict, or strip the prefix: "
                            "{k.removeprefix('net.'): v for k, v in state_dict.items()}")
