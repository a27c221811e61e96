"""A run's life in one place: rowrnn.fit finishes runs, compare recognizes them, state.pt has a versioned format."""
import io
import json
import shlex

import pytest
import torch

import rowrnn
from conftest import write_dataset
from rowrnn import lifecycle, runs
from rowrnn.cli import build_parser, main
from rowrnn.config import build_config
from rowrnn.files import sha256

SMALL = {"epochs": 2, "batch_size": 64, "lr": 0.01, "verify": False}


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """A run trained through the Python API, as compare would lay it out (OUT/<preset>-seed<seed>)."""
    tmp = tmp_path_factory.mktemp("lifecycle")
    data = write_dataset(tmp / "data")
    cfg = build_config("notebook", {"epochs": 2, "verify": False, "seed": 0, "data_dir": str(data)})
    result = rowrnn.fit(cfg, tmp / "cmp" / "notebook-seed0")
    return result, data


def test_fit_through_the_api_finishes_the_run(api_run):
    result, _ = api_run
    run_dir = result.path
    assert result.is_main and result.metrics["images"] == 100
    assert runs.load_run(run_dir).status == "finished"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == result.metrics and metrics["weights"] == "best"
    assert metrics["best_epoch"] == result.best_epoch and metrics["epochs_trained"] == 2
    assert metrics["weights_sha256"] == sha256((run_dir / "best.safetensors").read_bytes())
    card = (run_dir / "MODEL_CARD.md").read_text()
    for heading in ("## Model", "## Data", "## Training", "## Evaluation (test split, 100 images)",
                    "## Intended use", "## Limitations"):
        assert heading in card
    assert f"Accuracy **{metrics['accuracy']:.4f}**" in card and "394 trainable parameters" in card
    assert {p.name for p in run_dir.glob("*.png")} == {"curves.png", "predictions.png", "confusion.png",
                                                      "reading.png", "hidden.png"}


def test_compare_reuses_a_run_trained_through_the_api(api_run, capsys):
    result, data = api_run
    stamp = (result.path / "best.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["compare", "--presets", "notebook", "--seeds", "0", "--epochs", "2", "--out", str(result.path.parent),
                 "--data-dir", str(data), "--no-verify"]) == 0
    assert f"notebook seed 0: done before, reusing {result.path}" in capsys.readouterr().err
    assert (result.path / "best.safetensors").stat().st_mtime_ns == stamp      # nothing trained again
    row = json.loads((result.path.parent / "leaderboard.json").read_text())[0]
    assert row["test_accuracy"] == result.metrics["accuracy"] and row["epochs"] == 2


def test_metrics_that_no_longer_describe_the_weights_make_the_run_unfinished(api_run, tmp_path):
    import shutil
    result, _ = api_run
    copy = tmp_path / "run"
    shutil.copytree(result.path, copy, ignore=shutil.ignore_patterns(".lock"))
    assert runs.run_status(copy) == "finished"
    shutil.copy(copy / "last.safetensors", copy / "best.safetensors")
    weights_differ = (copy / "best.safetensors").read_bytes() != (result.path / "best.safetensors").read_bytes()
    assert runs.run_status(copy) == ("trained" if weights_differ else "finished")
    (copy / "metrics.json").unlink()
    assert runs.run_status(copy) == "trained"
    lifecycle.finish(copy, figures=False)                     # finishing again restores the record
    assert runs.run_status(copy) == "finished"


def test_the_reproduce_command_rebuilds_the_same_config(api_run):
    result, _ = api_run
    command = lifecycle.train_command(result.config, result.path)
    args = build_parser().parse_args(shlex.split(command)[1:])
    from rowrnn.cli import _overrides
    rebuilt = build_config(args.preset, _overrides(args))
    rebuilt.data.data_dir = result.config.data.data_dir
    assert rebuilt.data.classes is None and result.config.data.classes == list(rowrnn.CLASSES)  # recorded by training
    rebuilt.data.classes = result.config.data.classes
    assert rebuilt == result.config
    assert command.startswith("rowrnn train --preset notebook ") and "--no-verify" in command


# ----------------------------------------------------------------------------- the resume state

def _state_dict(run_dir):
    return torch.load(run_dir / "state.pt", weights_only=True)


def _save(run_dir, d):
    buffer = io.BytesIO()
    torch.save(d, buffer)
    (run_dir / "state.pt").write_bytes(buffer.getvalue())


def test_the_state_file_carries_its_format_and_version(api_run):
    d = _state_dict(api_run[0].path)
    assert d["format"] == "rowrnn.state" and d["version"] == runs.ResumeState.VERSION == 3
    assert {"epoch", "model", "best_model", "optimizer", "scheduler", "history", "best_val_metric", "best_epoch",
            "bad_epochs", "stopped_early", "ema"} <= set(d) and d["ema"] is None   # no --ema-decay: no average


def test_an_unknown_state_version_is_refused_in_one_line(api_run, tmp_path, capsys):
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(api_run[0].path, copy, ignore=shutil.ignore_patterns(".lock"))
    d = _state_dict(copy)
    d["version"] = 7
    _save(copy, d)
    assert main(["train", "--resume", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err == (f"rowrnn: error: {copy / 'state.pt'}: resume state format version 7, this rowrnn reads versions "
                   "0-3: continue the run with the rowrnn that started it, or start again\n")


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(epoch="two"), "malformed resume state (epoch)"),
    (lambda d: d.update(history={"train_loss": [1.0]}), "malformed resume state (history length)"),
    (lambda d: d.pop("best_val_metric"), "incomplete resume state"),
])
def test_a_hand_edited_state_is_a_one_line_error(api_run, tmp_path, capsys, damage, message):
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(api_run[0].path, copy, ignore=shutil.ignore_patterns(".lock"))
    d = _state_dict(copy)
    damage(d)
    _save(copy, d)
    assert main(["train", "--resume", str(copy)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_version_1_state_keeps_its_best_validation_metric(api_run, tmp_path):
    """Version 1 named best_val_metric best_metric (metrics.json and RunResult always said best_val_metric)."""
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(api_run[0].path, copy, ignore=shutil.ignore_patterns(".lock"))
    d = _state_dict(copy)
    best = d["best_val_metric"]
    d["best_metric"], d["version"] = d.pop("best_val_metric"), 1
    _save(copy, d)
    state = runs.ResumeState.load(copy)
    assert state.best_val_metric == best == api_run[0].best_val_metric and not hasattr(state, "best_metric")


def test_a_version_0_state_from_rowrnn_0_1_resumes(tmp_path):
    """rowrnn 0.1.0 wrote state.pt without format, version or scheduler, and set the learning rate by hand:
    such a run still resumes, the schedule replayed to where it stopped."""
    data = write_dataset(tmp_path / "data")
    cfg = build_config("notebook", {**SMALL, "epochs": 3, "schedule": "onecycle", "data_dir": str(data)})
    reference = rowrnn.fit(cfg, tmp_path / "reference", figures=False)
    run = tmp_path / "old"

    def stop_after_the_first_epoch(epoch, history, grad_norm):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rowrnn.fit(cfg, run, on_epoch=stop_after_the_first_epoch)
    saved = json.loads((run / "config.json").read_text())
    for section, key in (("model", "rows_per_step"), ("model", "readout_dropout"), ("train", "augment_erase")):
        del saved[section][key]                                    # fields 0.1.0 did not have
    (run / "config.json").write_text(json.dumps(saved))
    d = _state_dict(run)
    for key in ("format", "version", "scheduler"):
        d.pop(key)
    for group in d["optimizer"]["param_groups"]:                   # 0.1.0 kept no scheduler keys
        for key in ("initial_lr", "max_lr", "min_lr"):
            group.pop(key, None)
    _save(run, d)
    resumed = rowrnn.resume(run, figures=False)
    assert len(resumed.history["train_loss"]) == 3
    assert resumed.history["lr"] == pytest.approx(reference.history["lr"])   # the schedule continued where it was
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / name).read_bytes() == (reference.path / name).read_bytes()


# ----------------------------------------------------------------------------- runs travel

def _half_run(tmp_path, data, **config):
    """A run stopped after its first of two epochs, its config.json edited as if trained elsewhere."""
    run = tmp_path / "run"
    assert main(["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures",
                 "--data-dir", str(data), "--out", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())
    saved["train"]["epochs"] = 2
    for key, value in config.items():
        section = "data" if key == "data_dir" else "train"
        saved[section][key] = value
    (run / "config.json").write_text(json.dumps(saved))
    return run, (run / "config.json").read_bytes()


def test_a_run_trained_with_amp_continues_without_it_where_there_is_no_gpu(tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    run, record = _half_run(tmp_path, data, amp=True, device="auto")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (f"rowrnn: note: {run} was trained with --amp (bfloat16 autocast), which needs a CUDA GPU: "
                            "continuing without it on cpu (mixed precision is a device choice; config.json keeps "
                            "the record)\n")
    assert runs.run_status(run) == "finished" and (run / "config.json").read_bytes() == record
    assert len(json.loads((run / "history.json").read_text())["train_loss"]) == 2
    with pytest.warns(UserWarning, match="trained with --amp"):       # the Python API says it as a warning
        cfg = lifecycle.resume_config(run)
    assert cfg.train.amp is False


def test_no_amp_on_resume_is_a_device_choice_and_amp_on_a_cpu_is_still_refused(tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    run, _ = _half_run(tmp_path, data, amp=True, device="cpu")
    assert main(["train", "--resume", str(run), "--amp", "--quiet", "--no-figures"]) == 2
    assert capsys.readouterr().err == "rowrnn: error: --amp needs a CUDA device (bfloat16 autocast); drop --amp on CPU\n"
    assert main(["train", "--resume", str(run), "--no-amp", "--quiet", "--no-figures"]) == 0
    assert capsys.readouterr().err == ""
    assert runs.run_status(run) == "finished"


@pytest.mark.parametrize("argv", [["train", "--resume", "{run}"], ["evaluate", "{run}"], ["plot", "{run}"],
                                  ["export", "{run}"], ["evaluate", "{run}", "--weights", "last", "--save"],
                                  ["predict", "{run}", "--test-index", "0"]])
def test_a_runs_recorded_data_folder_missing_here_is_named_with_the_flag_to_pass(tmp_path, capsys, argv):
    data = write_dataset(tmp_path / "data")
    run, _ = _half_run(tmp_path, data)
    if argv[0] != "train":
        assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0
    elsewhere = tmp_path / "data-on-another-machine"
    data.rename(elsewhere)          # as if the run were copied here from the machine that trained it
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main([a.format(run=run) for a in argv]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: {run} was trained on the data in {data}, as its config.json records, which is not usable "
        "here (no such directory): pass --data-dir with the folder that holds the four Fashion-MNIST files here\n")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert main([*(a.format(run=run) for a in argv), "--data-dir", str(elsewhere), *(
        ["--quiet", "--no-figures"] if argv[0] == "train" else [])]) == 0


# ----------------------------------------------------------------------------- one lock; the checkpointer's writes

def test_fit_holds_one_lock_from_training_through_finishing(tmp_path, monkeypatch):
    """No window between the last epoch and finish: another rowrnn command is refused at both moments."""
    data = write_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    refused = []

    def try_the_lock(moment):
        with pytest.raises(rowrnn.RowrnnError) as e:
            with runs.RunLock(run_dir, purpose="evaluate"):
                pass
        refused.append((moment, str(e.value).startswith(f"{run_dir} is in use by another rowrnn train (pid ")))

    real_finish = lifecycle._finish

    def finish_after_trying(*args, **kwargs):
        try_the_lock("between training and finishing")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "_finish", finish_after_trying)
    cfg = build_config("notebook", {**SMALL, "data_dir": str(data)})
    result = rowrnn.fit(cfg, run_dir, figures=False,
                        on_epoch=lambda epoch, history, norm: epoch == 1 and try_the_lock("after the last epoch"))
    assert refused == [("after the last epoch", True), ("between training and finishing", True)]
    assert result.metrics["epochs_trained"] == 2 and not (run_dir / ".lock").exists()
    with runs.RunLock(run_dir, purpose="evaluate"):   # free again once fit returns
        pass


class _Recorder:
    """runs.save_weights replaced: the names of the weights files written, in order."""

    def __init__(self, monkeypatch):
        self.names, real = [], runs.save_weights
        monkeypatch.setattr(runs, "save_weights", lambda path, sd: self.names.append(path.name) or real(path, sd))


def _epoch(val_metric):
    return {"train_loss": 1.0, "train_metric": 0.5, "val_loss": 1.0, "val_metric": val_metric, "lr": 0.01,
            "seconds": 0.1}


def test_the_checkpointer_writes_best_weights_only_when_the_best_changes(tmp_path, monkeypatch):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    saver = runs.Checkpointer(tmp_path, runs.ResumeState.fresh(model, optimizer), model, optimizer, patience=2)
    written = _Recorder(monkeypatch)
    best_bytes = []
    for val_metric in (0.5, 0.4, 0.6, 0.55):
        with torch.no_grad():
            model.weight.add_(1.0)                     # each epoch leaves other weights
        written.names.clear()
        improved = saver.epoch_end(_epoch(val_metric))
        assert improved == (val_metric in (0.5, 0.6))
        assert written.names == (["last.safetensors", "best.safetensors"] if improved else ["last.safetensors"])
        best_bytes.append((tmp_path / "best.safetensors").read_bytes())
        state = runs.ResumeState.load(tmp_path)         # the commit point holds every epoch
        assert state.epoch == saver.epoch and state.history["val_metric"] == saver.history["val_metric"]
    assert best_bytes[1] == best_bytes[0] and best_bytes[3] == best_bytes[2] != best_bytes[0]
    assert (saver.state.best_epoch, saver.state.best_val_metric, saver.state.bad_epochs) == (3, 0.6, 1)
    assert json.loads((tmp_path / "history.json").read_text())["val_metric"] == [0.5, 0.4, 0.6, 0.55]
    assert not saver.stopped_early
    saver.epoch_end(_epoch(0.1))                        # a second epoch without improvement: patience 2 runs out
    assert saver.stopped_early and not list(tmp_path.glob("*.png"))


def test_a_rank_that_does_not_write_decides_the_same(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    saver = runs.Checkpointer(tmp_path, runs.ResumeState.fresh(model, optimizer), model, optimizer, write=False)
    assert saver.epoch_end(_epoch(0.5)) and saver.state.best_epoch == 1 and list(tmp_path.iterdir()) == []


def test_a_run_writes_figures_only_when_it_finishes(tmp_path):
    data = write_dataset(tmp_path / "data")
    seen = []
    cfg = build_config("notebook", {**SMALL, "data_dir": str(data)})
    rowrnn.fit(cfg, tmp_path / "run", on_epoch=lambda epoch, h, n: seen.append(sorted(
        p.name for p in (tmp_path / "run").iterdir())))
    assert seen == 2 * [[".lock", "best.safetensors", "config.json", "history.csv", "history.json",
                         "last.safetensors", "state.pt"]]
    assert len(list((tmp_path / "run").glob("*.png"))) == 5
