"""Issue 20's recipe options, pinned: an exponential moving average of the weights (--ema-decay) and knowledge
distillation from a finished run (--distill-from, --distill-temperature, --distill-alpha)."""
import json
import signal

import pytest
import torch
from torch import nn

import rowrnn
from conftest import write_dataset
from rowrnn import compare, lifecycle, runs
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.data import load_fashion_mnist
from rowrnn.errors import Interrupted, RowrnnError
from rowrnn.files import sha256
from rowrnn.optim import make_ema
from rowrnn.training import distillation_loss, split_indices

# dropout and augmentation: every source of randomness a resume must replay
RANDOM = {"cell": "lstm", "hidden_size": 16, "num_layers": 2, "dropout": 0.1, "augment_shift": 1,
          "augment_flip": True, "batch_size": 64, "lr": 0.01, "schedule": "cosine", "seed": 3, "verify": False}


# ----------------------------------------------------------------------------- the moving average

def test_the_average_after_two_steps_is_the_hand_computed_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = make_ema(model, 0.9)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    after = []
    for step in range(2):
        optimizer.zero_grad()
        model(torch.randn(4, 3) + step).pow(2).sum().backward()
        optimizer.step()
        ema.update_parameters(model)
        after.append({k: v.clone() for k, v in model.state_dict().items()})
    averaged = ema.module.state_dict()
    for name in ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        # the first update copies the weights; the second moves 10 % of the way towards the new ones
        expected = 0.9 * after[0][name] + 0.1 * after[1][name]
        assert torch.allclose(averaged[name], expected, rtol=1e-6, atol=1e-7), name
        assert not torch.equal(averaged[name], after[1][name]), name
    assert int(averaged["1.num_batches_tracked"]) == 2         # a counter is copied, not averaged
    assert int(ema.n_averaged) == 2
    assert make_ema(model, 0.0) is None


@pytest.mark.parametrize("flags, message", [
    (["--ema-decay", "1"], "--ema-decay must be in [0, 1) (0 = off; e.g. 0.998), got 1.0"),
    (["--ema-decay", "-0.1"], "--ema-decay must be in [0, 1) (0 = off; e.g. 0.998), got -0.1"),
    (["--distill-alpha", "0.5"], "--distill-alpha acts only with --distill-from RUN: give the teacher run, "
                                 "or drop --distill-alpha"),
    (["--distill-temperature", "2"], "--distill-temperature acts only with --distill-from RUN: give the teacher "
                                     "run, or drop --distill-temperature"),
    (["--distill-from", "x", "--distill-alpha", "1.5"], "--distill-alpha must be from 0 to 1, got 1.5"),
    (["--distill-from", "x", "--distill-temperature", "0"], "--distill-temperature must be positive, got 0.0"),
])
def test_bad_option_values_are_one_line_errors(capsys, tmp_path, flags, message):
    assert main(["train", *flags, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"rowrnn: error: {message}\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_averaged_run_judges_and_saves_the_average_and_resumes_bit_identical(tmp_path):
    data = write_dataset(tmp_path / "data")
    cfg = lambda: build_config("notebook", {**RANDOM, "epochs": 3, "ema_decay": 0.95,  # noqa: E731
                                            "data_dir": str(data)})
    reference = rowrnn.fit(cfg(), tmp_path / "reference", figures=False)
    state = runs.ResumeState.load(reference.path)
    assert state.ema is not None and int(state.ema["n_averaged"]) == 3 * 6      # 360 images, batches of 64
    last = runs.load_weights(reference.path / "last.safetensors")
    assert last.keys() == state.model.keys()
    for name, value in last.items():            # last.safetensors is the average; state.pt keeps the raw weights
        assert torch.equal(value, state.ema[f"module.{name}"]), name
    assert any(not torch.equal(last[k], state.model[k]) for k in last)
    metrics = json.loads((reference.path / "metrics.json").read_text())
    assert metrics["weights_averaged"] == "exponential moving average, decay 0.95"
    # what was validated is the average: its weights (last.safetensors) on the validation split give the
    # history's last validation metric and loss, and the raw weights give another loss
    from rowrnn.data import ImageDataset, load_fashion_mnist
    from rowrnn.evaluation import evaluate_run
    from rowrnn.training import split_indices
    train_set = load_fashion_mnist(data, verify=False)[0]
    val_idx = split_indices(len(train_set), 0.1, RANDOM["seed"])[1]
    val_set = ImageDataset(train_set.images[val_idx], train_set.labels[val_idx])
    judged = evaluate_run(reference.path, "last", test_set=val_set)[0]
    assert judged["macro_accuracy"] == pytest.approx(reference.history["val_metric"][-1], abs=1e-6)
    assert judged["loss"] == pytest.approx(reference.history["val_loss"][-1], abs=1e-5)
    runs.save_weights(tmp_path / "raw.safetensors", state.model)
    (tmp_path / "config.json").write_bytes((reference.path / "config.json").read_bytes())
    raw = evaluate_run(tmp_path / "raw.safetensors", test_set=val_set)[0]
    assert abs(raw["loss"] - judged["loss"]) > 1e-3
    card = (reference.path / "MODEL_CARD.md").read_text()
    assert "an exponential moving average of the weights (decay 0.95), validated and saved in their place" in card

    def stop_after_first(epoch, history, grad_norm):
        if epoch == 0:
            raise Interrupted(signal.SIGINT)

    run = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        rowrnn.fit(cfg(), run, figures=False, on_epoch=stop_after_first)
    assert runs.ResumeState.load(run).epoch == 1
    resumed = rowrnn.resume(run, figures=False)
    assert resumed.history["val_metric"] == reference.history["val_metric"]
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / name).read_bytes() == (reference.path / name).read_bytes(), name
    again = runs.ResumeState.load(run)
    assert all(torch.equal(again.ema[k], state.ema[k]) for k in state.ema)


def test_a_version_2_state_reads_without_an_average(tmp_path):
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = runs.ResumeState.fresh(model, optimizer)
    state.save(tmp_path)
    d = torch.load(tmp_path / "state.pt", weights_only=True)
    assert d["version"] == 3 and d["ema"] is None
    d["version"] = 2
    del d["ema"]
    torch.save(d, tmp_path / "state.pt")
    loaded = runs.ResumeState.load(tmp_path)
    assert loaded.ema is None and loaded.last_weights is loaded.model


# ----------------------------------------------------------------------------- distillation

def test_the_distillation_loss_is_hintons_formula():
    student = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    teacher = torch.tensor([[1.0, 0.0, 3.0], [-1.0, 2.0, 0.5]])
    labels = torch.tensor([2, 1])
    ce = nn.functional.cross_entropy(student, labels)
    t, alpha = 4.0, 0.7
    # written out: KL(p_teacher || p_student) at temperature T, summed over classes, averaged over the batch
    kl = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        p = torch.softmax(torch.tensor(t_row) / t, 0)
        q = torch.softmax(torch.tensor(s_row) / t, 0)
        kl += float((p * (p.log() - q.log())).sum())
    expected = alpha * t * t * (kl / 2) + (1 - alpha) * float(ce)
    got = distillation_loss(student, teacher, ce, temperature=t, alpha=alpha)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert float(got) == pytest.approx(1.00849, abs=1e-5)     # the same, pinned
    assert torch.equal(distillation_loss(student, teacher, ce, temperature=t, alpha=0.0), ce)
    soft_only = distillation_loss(student, teacher, ce, temperature=1.0, alpha=1.0)
    assert float(soft_only) == pytest.approx(float(nn.functional.kl_div(
        student.log_softmax(1), teacher.log_softmax(1), reduction="batchmean", log_target=True)), rel=1e-6)
    # an identical teacher adds nothing to the loss
    assert float(distillation_loss(student, student, ce, temperature=t, alpha=alpha)) == pytest.approx(0.3 * float(ce))


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A finished 2-epoch run to distil from, and the data."""
    tmp = tmp_path_factory.mktemp("teacher")
    data = write_dataset(tmp / "data")
    result = rowrnn.fit(build_config("notebook", {"epochs": 2, "batch_size": 64, "lr": 0.01, "verify": False,
                                                  "data_dir": str(data)}), tmp / "teacher", figures=False)
    return result, data


@pytest.mark.slow
def test_the_teachers_minutes_count_in_the_students(teacher_run, tmp_path, capsys):
    teacher, data = teacher_run
    student = tmp_path / "cmp" / "notebook-seed0"
    assert main(["train", "--preset", "notebook", "--epochs", "2", "--batch-size", "64", "--distill-from",
                 str(teacher.path), "--distill-temperature", "2", "--distill-alpha", "0.5", "--data-dir", str(data),
                 "--no-verify", "--quiet", "--no-figures", "--out", str(student)]) == 0
    teacher_minutes = sum(teacher.history["seconds"]) / 60
    assert teacher.metrics["train_minutes"] == pytest.approx(teacher_minutes)
    record = {"run": str(teacher.path), "path": str(teacher.path.resolve()),
              "weights_sha256": sha256((teacher.path / "best.safetensors").read_bytes()),
              "train_minutes": teacher.metrics["train_minutes"], "preset": "notebook"}
    assert json.loads((student / "config.json").read_text())["teacher"] == record
    metrics = json.loads((student / "metrics.json").read_text())
    own = sum(json.loads((student / "history.json").read_text())["seconds"]) / 60
    assert metrics["teacher"] == record and metrics["teacher_minutes"] == record["train_minutes"]
    assert metrics["own_train_minutes"] == pytest.approx(own)
    assert metrics["train_minutes"] == pytest.approx(own + teacher_minutes)
    card = (student / "MODEL_CARD.md").read_text()
    assert (f"{own:.1f} minutes of training, plus {teacher_minutes:.1f} of its teacher's: "
            f"{own + teacher_minutes:.1f} in all") in card
    assert f"distilled from {teacher.path} (its best weights, SHA-256 {record['weights_sha256'][:16]}…" in card
    # the leaderboard's minutes count the teacher too (the training of the run and the time to each accuracy)
    history = json.loads((student / "history.json").read_text())
    history["val_metric"] = [0.905, 0.915]            # as if it had learned Fashion-MNIST: 0.90, 0.91 reached
    (student / "history.json").write_text(json.dumps(history))
    row = compare.leaderboard_row(student, "notebook", 0, data)
    assert row["train_minutes"] == pytest.approx(own + teacher_minutes)
    first, both = history["seconds"][0] / 60, sum(history["seconds"]) / 60
    assert row["minutes_to_val_0.90"] == pytest.approx(teacher_minutes + first)
    assert row["minutes_to_val_0.91"] == pytest.approx(teacher_minutes + both)
    assert row["minutes_to_val_0.92"] is None
    # a teacher distilled itself passes its whole cost on: a student of this student counts both
    record_of_student, model = runs.teacher_record(student)
    assert record_of_student["train_minutes"] == pytest.approx(own + teacher_minutes)
    # loaded once: the network it returns holds the very weights whose digest it records
    weights = runs.load_weights(student / "best.safetensors")
    assert record_of_student["weights_sha256"] == sha256((student / "best.safetensors").read_bytes())
    assert all(torch.equal(model.state_dict()[k], weights[k]) for k in weights) and not model.training
    cost = runs.run_minutes(runs.load_run(student))
    assert (cost.own, cost.teacher, cost.total) == (pytest.approx(own), record["train_minutes"],
                                                    pytest.approx(own + teacher_minutes))


@pytest.mark.slow
def test_a_resume_refuses_a_teacher_whose_weights_changed(teacher_run, tmp_path, capsys):
    import shutil
    original, data = teacher_run
    teacher = tmp_path / "teacher"
    shutil.copytree(original.path, teacher, ignore=shutil.ignore_patterns(".lock"))
    cfg = build_config("notebook", {"epochs": 2, "batch_size": 64, "verify": False, "data_dir": str(data),
                                    "distill_from": str(teacher)})

    def stop_after_first(epoch, history, grad_norm):
        raise Interrupted(signal.SIGINT)

    student = tmp_path / "student"
    with pytest.raises(Interrupted):
        rowrnn.fit(cfg, student, figures=False, on_epoch=stop_after_first)
    before = sha256((teacher / "best.safetensors").read_bytes())
    weights = runs.load_weights(teacher / "best.safetensors")
    runs.save_weights(teacher / "best.safetensors", {k: v + 0.01 for k, v in weights.items()})
    lifecycle.finish(teacher, figures=False)          # a finished teacher again, with other weights
    after = sha256((teacher / "best.safetensors").read_bytes())
    assert main(["train", "--resume", str(student)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: cannot resume {student}: its teacher {teacher} has other best weights than when training "
        f"started (SHA-256 {before[:12]}... then, {after[:12]}... now): restore the teacher's weights, or start a "
        "new run\n")
    assert runs.ResumeState.load(student).epoch == 1          # nothing was touched


@pytest.mark.slow
def test_a_teacher_that_is_missing_not_a_run_unfinished_or_of_other_classes_is_refused(teacher_run, tmp_path,
                                                                                       capsys):
    import shutil
    original, data = teacher_run
    (tmp_path / "not-a-run").mkdir()
    unfinished = tmp_path / "unfinished"
    shutil.copytree(original.path, unfinished, ignore=shutil.ignore_patterns(".lock"))
    (unfinished / "metrics.json").unlink()
    other = tmp_path / "other-classes"
    shutil.copytree(original.path, other, ignore=shutil.ignore_patterns(".lock"))
    metrics = json.loads((other / "metrics.json").read_text())
    metrics["per_class"] = {f"digit {k}": v for k, v in zip(range(10), metrics["per_class"].values())}
    (other / "metrics.json").write_text(json.dumps(metrics))
    cases = {
        tmp_path / "missing": "no such run directory: give the directory of a finished run",
        tmp_path / "not-a-run": "not a rowrnn run (no config.json): give the directory of a finished run",
        unfinished: (f"the teacher is not finished (its status is 'trained'): finish it with "
                     f"`rowrnn train --resume {unfinished}` first"),
        other: ("the teacher was tested on the classes digit 0, digit 1, digit 2, digit 3, digit 4, digit 5, "
                "digit 6, digit 7, digit 8, digit 9, not this run's 10 (T-shirt/top, Trouser, Pullover, Dress, "
                "Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot): distill from a run trained on this run's classes"),
    }
    for teacher, message in cases.items():
        out = tmp_path / f"student-of-{teacher.name}"
        assert main(["train", "--epochs", "1", "--distill-from", str(teacher), "--data-dir", str(data),
                     "--no-verify", "--out", str(out)]) == 2
        assert capsys.readouterr().err == f"rowrnn: error: --distill-from {teacher}: {message}\n"
        assert not out.exists()                     # refused before the run directory was touched
    # from Python the message names the argument
    with pytest.raises(RowrnnError, match=f"^distill_from {tmp_path / 'missing'}: no such run directory"):
        rowrnn.fit(build_config("notebook", {"distill_from": str(tmp_path / "missing"), "verify": False,
                                             "data_dir": str(data)}), tmp_path / "py")


def _student(teacher, data, **overrides):
    """A tiny distilled config: every source of randomness a resume must replay (RANDOM), 3 epochs, and the
    teacher's seed (its validation split)."""
    return build_config("notebook", {**RANDOM, "seed": 0, "epochs": 3, "data_dir": str(data), "distill_from": str(teacher),
                                     **overrides})


@pytest.mark.slow
def test_alpha_0_trains_the_plain_runs_weights_and_alpha_above_0_others(teacher_run, tmp_path):
    teacher, data = teacher_run
    plain = build_config("notebook", {**RANDOM, "seed": 0, "epochs": 3, "data_dir": str(data)})
    results = {name: lifecycle.train_epochs(cfg, tmp_path / name) for name, cfg in [
        ("plain", plain), ("alpha0", _student(teacher.path, data, distill_alpha=0.0)),
        ("alpha05", _student(teacher.path, data, distill_alpha=0.5))]}
    weights = {name: runs.load_weights(tmp_path / name / "last.safetensors") for name in results}
    for name in weights["plain"]:        # the teacher ran on every batch, and changed nothing at alpha 0
        assert torch.equal(weights["alpha0"][name], weights["plain"][name]), name
    assert results["alpha0"].history["train_loss"] == results["plain"].history["train_loss"]
    assert results["alpha0"].history["val_metric"] == results["plain"].history["val_metric"]
    assert any(not torch.equal(weights["alpha05"][k], weights["plain"][k]) for k in weights["plain"])
    assert results["alpha05"].history["train_loss"] != results["plain"].history["train_loss"]


@pytest.mark.slow
def test_a_distilled_run_interrupted_and_resumed_is_bit_identical_to_an_uninterrupted_one(teacher_run, tmp_path):
    teacher, data = teacher_run
    reference = rowrnn.fit(_student(teacher.path, data), tmp_path / "reference", figures=False)

    def stop_after_first(epoch, history, grad_norm):
        if epoch == 0:
            raise Interrupted(signal.SIGINT)

    run = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        rowrnn.fit(_student(teacher.path, data), run, figures=False, on_epoch=stop_after_first)
    assert runs.ResumeState.load(run).epoch == 1
    resumed = rowrnn.resume(run, figures=False)
    assert resumed.history["train_loss"] == reference.history["train_loss"]
    assert resumed.history["val_metric"] == reference.history["val_metric"]
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / name).read_bytes() == (reference.path / name).read_bytes(), name
    state, again = runs.ResumeState.load(reference.path), runs.ResumeState.load(run)
    assert all(torch.equal(again.model[k], state.model[k]) for k in state.model)
    saved = json.loads((run / "config.json").read_text())
    assert saved["teacher"] == json.loads((reference.path / "config.json").read_text())["teacher"]


@pytest.mark.slow
@pytest.mark.parametrize("damage, wrong", [
    (lambda t: t.pop("train_minutes"), "train_minutes"),
    (lambda t: t.update(train_minutes="3"), "train_minutes"),
    (lambda t: t.update(weights_sha256=None, preset=1), "weights_sha256, preset"),
    (lambda t: t.clear() or t.update(x=1), "run, path, weights_sha256, train_minutes, preset"),
])
def test_a_damaged_teacher_record_is_one_line_naming_config_json(teacher_run, tmp_path, capsys, damage, wrong):
    teacher, data = teacher_run
    student = tmp_path / "student"
    lifecycle.train_epochs(_student(teacher.path, data, epochs=1), student)
    saved = json.loads((student / "config.json").read_text())
    damage(saved["teacher"])
    (student / "config.json").write_text(json.dumps(saved))
    message = (f"{student / 'config.json'}: damaged teacher record ({wrong} missing or of the wrong type; expected "
               "run, path, weights_sha256, train_minutes, preset): restore the run's own config.json or train it "
               "again")
    with pytest.raises(RowrnnError) as caught:
        runs.run_minutes(runs.load_run(student))
    assert str(caught.value) == message
    assert main(["train", "--resume", str(student)]) == 2    # finishing reads it: one line, no KeyError
    assert capsys.readouterr().err == f"rowrnn: error: {message}\n"


def test_the_memory_check_counts_the_teacher(tmp_path):
    from rowrnn import models
    from rowrnn.config import MAX_TRAINING_BYTES
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    big = build_config("bilstm")
    (teacher / "config.json").write_text(json.dumps(big.to_dict()))
    plain = build_config("notebook")
    student = build_config("notebook", {"distill_from": str(teacher)})
    counted = 4 * (models.parameter_count(big.model) + models.activation_count(big.model, plain.train.batch_size))
    assert student.training_bytes() - plain.training_bytes() == counted == 588537896
    # a teacher too large for the limit refuses the student, naming it; one whose config.json cannot be read counts
    # nothing here (training refuses it: runs.teacher_record)
    huge = build_config("bilstm", {"read": "pixels", "hidden_size": 1024})   # its own batch of 128 fits
    (teacher / "config.json").write_text(json.dumps(huge.to_dict()))
    assert 4 * models.activation_count(huge.model, plain.train.batch_size) > MAX_TRAINING_BYTES
    with pytest.raises(RowrnnError) as caught:    # from Python: the arguments' names
        build_config("notebook", {"distill_from": str(teacher)})
    assert str(caught.value) == ("a training step would need about 61.3 GiB, over the limit of 32 GiB: choose a "
                                 "smaller batch_size, hidden_size or num_layers, or a smaller distill_from teacher")
    assert build_config("notebook", {"distill_from": str(tmp_path / "gone")}).training_bytes() == \
        plain.training_bytes()


# ----------------------------------------------------------------------------- the A/B script

def _recipe_options():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import recipe_options
    return recipe_options


@pytest.mark.slow
def test_the_recipe_options_benchmark_runs_each_option_against_its_absence(teacher_run, tmp_path, capsys):
    recipe_options = _recipe_options()
    teacher, data = teacher_run
    out, table = tmp_path / "ab", tmp_path / "ab.json"
    argv = ["--preset", "notebook", "--epochs", "2", "--seeds", "0,1", "--teacher-preset", "notebook",
            "--teacher-epochs", "1", "--variants", "plain,ema,distill", "--ema-decay", "0.9", "--data-dir", str(data),
            "--no-verify", "--out", str(out), "--json", str(table)]
    # one --teacher cannot serve two seeds: it trained on one of the two validation splits
    assert recipe_options.main([*argv[:6], "--teacher", str(teacher.path), *argv[10:]]) == 2
    assert capsys.readouterr().err == (
        f"recipe_options: error: --teacher {teacher.path} serves one seed (a teacher must not have trained on its "
        "students' validation images): with --seeds 0,1 use --teacher-preset, which trains one teacher per seed\n")
    assert not out.exists() or not any(out.iterdir())
    assert recipe_options.main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    rows = json.loads(table.read_text())
    assert [(r["variant"], r["seed"]) for r in rows] == [("plain", 0), ("plain", 1), ("ema", 0), ("ema", 1),
                                                        ("distill", 0), ("distill", 1)]
    assert sorted(p.name for p in out.iterdir()) == ["distill-seed0", "distill-seed1", "ema-seed0", "ema-seed1",
                                                     "plain-seed0", "plain-seed1", "teacher-notebook-seed0",
                                                     "teacher-notebook-seed1"]      # one teacher per seed
    teachers = [runs.load_run(out / f"teacher-notebook-seed{seed}") for seed in (0, 1)]
    assert [t.config.train.seed for t in teachers] == [0, 1]
    for r in rows:
        run = out / f"{r['variant']}-seed{r['seed']}"
        history = json.loads((run / "history.json").read_text())
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["seed"] == r["seed"] and config["train"]["epochs"] == 2 and r["epochs"] == 2
        assert r["best_val_metric"] == max(history["val_metric"])
        assert r["own_minutes"] == pytest.approx(sum(history["seconds"]) / 60)
        assert config["train"]["ema_decay"] == (0.9 if r["variant"] == "ema" else 0.0)
        assert config["train"]["distill_from"] == (str(out / f"teacher-notebook-seed{r['seed']}")
                                                   if r["variant"] == "distill" else None)
        assert not (run / "metrics.json").exists()     # validation only: no test split read
    # two seeds, two trainings
    last = [(out / f"plain-seed{seed}" / "last.safetensors").read_bytes() for seed in (0, 1)]
    assert last[0] != last[1]
    assert [r["teacher_minutes"] for r in rows] == [0.0] * 4 + [t.metrics["train_minutes"] for t in teachers]
    assert rows[4]["minutes"] == pytest.approx(rows[4]["own_minutes"] + teachers[0].metrics["train_minutes"])
    mean = lambda v, key: (rows[v][key] + rows[v + 1][key]) / 2  # noqa: E731
    assert printed[0].startswith("| variant | preset | seeds | epochs | best val, mean | each seed (epoch) | "
                                 "final val, mean | Δ mean best val vs plain")
    assert printed[2].startswith(
        f"| plain | notebook | 0, 1 | 2 | {mean(0, 'best_val_metric'):.4f} | {rows[0]['best_val_metric']:.4f} "
        f"({rows[0]['best_epoch']}), {rows[1]['best_val_metric']:.4f} ({rows[1]['best_epoch']}) | "
        f"{mean(0, 'final_val_metric'):.4f} | +0.0000 | ")
    assert f"| {mean(2, 'best_val_metric') - mean(0, 'best_val_metric'):+.4f} |" in printed[3]
    assert printed[4].endswith(f"| {mean(4, 'teacher_minutes'):.2f} | {mean(4, 'minutes'):.2f} | — | — | — |")
    # a second call trains nothing: every variant is reused
    stamps = {p.name: (p / "state.pt").stat().st_mtime_ns for p in out.iterdir()}
    assert recipe_options.main(argv) == 0
    assert {p.name: (p / "state.pt").stat().st_mtime_ns for p in out.iterdir()} == stamps
    assert json.loads(table.read_text()) == rows
    capsys.readouterr()
    # another option value is never answered with the old run's numbers: refused, naming the difference
    changed = [a if a != "0.9" else "0.8" for a in argv]
    assert recipe_options.main(changed) == 2
    assert capsys.readouterr().err == (
        f"recipe_options: error: {out / 'ema-seed0'} holds a run of another config (ema-decay 0.9 -> 0.8): remove "
        "it to train it again, or choose another --out\n")
    assert {p.name: (p / "state.pt").stat().st_mtime_ns for p in out.iterdir()} == stamps     # nothing trained
    assert json.loads((out / "ema-seed0" / "config.json").read_text())["train"]["ema_decay"] == 0.9


@pytest.mark.slow
def test_the_benchmark_refuses_a_teacher_of_other_epochs_or_a_student_of_another_teacher(teacher_run, tmp_path,
                                                                                         capsys):
    import shutil
    recipe_options = _recipe_options()
    original, data = teacher_run
    out = tmp_path / "ab"
    common = ["--preset", "notebook", "--epochs", "1", "--variants", "distill", "--data-dir", str(data),
              "--no-verify", "--out", str(out)]
    assert recipe_options.main([*common, "--teacher-preset", "notebook", "--teacher-epochs", "1"]) == 0
    teacher = out / "teacher-notebook-seed0"
    assert json.loads((teacher / "config.json").read_text())["train"]["epochs"] == 1
    capsys.readouterr()
    assert recipe_options.main([*common, "--teacher-preset", "notebook", "--teacher-epochs", "2"]) == 2
    assert capsys.readouterr().err == (
        f"recipe_options: error: {teacher} holds a teacher of another config (epochs 1 -> 2): remove it to train "
        "it again, or choose another --out\n")
    # the same student against a teacher whose best weights are not those it learned from
    other = tmp_path / "other-teacher"
    shutil.copytree(original.path, other, ignore=shutil.ignore_patterns(".lock"))
    argv = [*common, "--teacher", str(other)]
    assert recipe_options.main([*argv, "--out", str(tmp_path / "ab2")]) == 0
    weights = runs.load_weights(other / "best.safetensors")
    runs.save_weights(other / "best.safetensors", {k: v + 0.01 for k, v in weights.items()})
    lifecycle.finish(other, figures=False)
    capsys.readouterr()
    assert recipe_options.main([*argv, "--out", str(tmp_path / "ab2")]) == 2
    assert capsys.readouterr().err == (
        f"recipe_options: error: {tmp_path / 'ab2' / 'distill-seed0'} was distilled from other best weights of "
        f"{other} than those it has now: remove it to train it again, or choose another --out\n")


@pytest.mark.slow
@pytest.mark.parametrize("student", [{"seed": 1}, {"val_split": 0.2}])
def test_a_teacher_that_trained_on_the_students_validation_images_is_refused(teacher_run, tmp_path, capsys, student):
    teacher, data = teacher_run                               # seed 0, --val-split 0.1
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in student.items()]
    out = tmp_path / "student"
    assert main(["train", "--preset", "notebook", "--epochs", "1", *flags, "--distill-from", str(teacher.path),
                 "--data-dir", str(data), "--no-verify", "--quiet", "--no-figures", "--out", str(out)]) == 2
    train_set, _ = load_fashion_mnist(data, verify=False)
    seed, val_split = student.get("seed", 0), student.get("val_split", 0.1)
    _, val_idx = split_indices(len(train_set), val_split, seed)
    teacher_train, _ = split_indices(len(train_set), 0.1, 0)
    seen = int(torch.isin(val_idx, teacher_train).sum())
    assert 0 < seen < len(val_idx)
    assert capsys.readouterr().err == (
        f"rowrnn: error: --distill-from {teacher.path}: the teacher trained on {seen} of this run's {len(val_idx)} "
        f"validation images (its --seed 0 --val-split 0.1, this run's --seed {seed} --val-split {val_split:g}), so "
        f"validation would flatter the student: distill from a teacher trained with --seed {seed} --val-split "
        f"{val_split:g}\n")
    assert not out.exists()                                   # refused before the run directory was touched


@pytest.mark.slow
def test_the_split_refusal_names_python_arguments_from_python_and_a_new_run_on_resume(teacher_run, tmp_path):
    teacher, data = teacher_run
    cfg = build_config("notebook", {"seed": 1, "epochs": 1, "verify": False, "data_dir": str(data),
                                    "distill_from": str(teacher.path)})
    with pytest.raises(RowrnnError, match=(
            rf"^distill_from {teacher.path}: the teacher trained on \d+ of this run's \d+ validation images \(its "
            r"seed 0 val_split 0.1, this run's seed 1 val_split 0.1\), so validation would flatter the student: "
            r"distill from a teacher trained with seed 1 val_split 0.1$")):
        rowrnn.fit(cfg, tmp_path / "student", figures=False)
    assert not (tmp_path / "student").exists()
    # a run started before teachers were checked (its config.json written by hand here) is told to start anew
    student = tmp_path / "old"
    student.mkdir()
    runs.start_run(student, cfg, runs.teacher_record(teacher.path)[0])
    with pytest.raises(RowrnnError, match="so validation would flatter the student: start a new run, distill from a "
                                          "teacher trained with seed 1 val_split 0.1$"):
        rowrnn.resume(student)


def test_the_ema_help_says_the_average_has_no_warm_up(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")            # one line per flag: no hyphen split by the wrapping
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("No warm-up: the average starts at the first step's weights (timm's warm-up decay is not used), which "
            "still weigh decay**(n-1) after n steps (0.998: 0.37 after 500 steps, 0.01 after 2300), so in a short run "
            "the average lags behind the raw weights") in help_text


@pytest.mark.slow
def test_the_benchmark_sets_any_config_field_and_refuses_bad_ones_before_training(teacher_run, tmp_path, capsys):
    recipe_options = _recipe_options()
    _, data = teacher_run
    out = tmp_path / "search"
    common = ["--preset", "notebook", "--epochs", "1", "--variants", "plain", "--data-dir", str(data), "--no-verify",
              "--out", str(out)]
    for bad, message in [("hidden_size", "--set 'hidden_size': write FIELD=VALUE, e.g. --set hidden_size=48"),
                         ("seed=1", "--set seed: the script sets it: use --seeds"),
                         ("ema_decay=0.9", "--set ema_decay: the script sets it: use --variants ema and --ema-decay"),
                         ("epochs=3", "--set epochs: the script sets it: use --epochs"),
                         ("hidden_size=-3", "hidden_size must be a positive integer, got -3")]:
        assert recipe_options.main([*common, "--set", bad]) == 2
        assert capsys.readouterr().err.startswith(f"recipe_options: error: {message}")
        assert not out.exists()                          # refused before anything was made or trained
    assert recipe_options.main([*common, "--set", "hidden_size=4", "--set", "readout=mean+max",
                                "--set", "lr=0.02"]) == 0
    config = json.loads((out / "plain-seed0" / "config.json").read_text())
    assert (config["model"]["hidden_size"], config["model"]["readout"], config["train"]["lr"]) == (4, "mean+max", 0.02)


@pytest.mark.slow
def test_the_benchmark_checks_a_given_teachers_split_before_anything_trains(teacher_run, tmp_path, capsys):
    recipe_options = _recipe_options()
    teacher, data = teacher_run                               # seed 0, --val-split 0.1
    out = tmp_path / "ab"
    argv = ["--preset", "notebook", "--epochs", "1", "--variants", "plain,ema,distill", "--teacher",
            str(teacher.path), "--data-dir", str(data), "--no-verify", "--out", str(out)]
    for flags in (["--seeds", "1"], ["--set", "val_split=0.2"]):
        assert recipe_options.main([*argv, *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"recipe_options: error: --distill-from {teacher.path}: the teacher trained on ")
        assert "so validation would flatter the student" in err and err.count("\n") == 1
        assert not out.exists()                               # plain and ema did not train first
