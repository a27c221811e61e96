"""Interruptions lose nothing: SIGINT and SIGKILL at several moments, then --resume, bit-identical weights."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import write_dataset

pytestmark = pytest.mark.slow

EPOCHS = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Synthetic data, the training arguments, and the weights of an uninterrupted run."""
    tmp = tmp_path_factory.mktemp("resume")
    data = write_dataset(tmp / "data", n_train=1500, n_test=50)
    # dropout and augmentation make the test cover every source of randomness a resume must replay
    args = ["train", "--data-dir", str(data), "--no-verify", "--epochs", str(EPOCHS), "--batch-size", "10",
            "--cell", "lstm", "--hidden-size", "48", "--num-layers", "2", "--dropout", "0.1",
            "--augment-shift", "1", "--augment-flip", "--lr", "0.003", "--schedule", "cosine", "--seed", "5",
            "--no-figures"]
    reference = tmp / "reference"
    done = _run(args + ["--out", str(reference)])
    assert done.returncode == 0, done.stderr
    return args, reference


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(args):
    return subprocess.run([sys.executable, "-m", "rowrnn", *args], env=_env(), capture_output=True, text=True,
                          timeout=300)


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "rowrnn", *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _epochs_done(run):
    try:
        return len(json.loads((run / "history.json").read_text())["train_loss"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _wait_for(predicate, proc, timeout=120.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "training ended before the moment to interrupt it"
        assert time.monotonic() < end, "timed out waiting for the moment to interrupt"
        time.sleep(0.0002)


def _finish_and_compare(args, run, reference):
    done = _run(["train", "--resume", str(run), "--quiet", "--no-figures"])
    assert done.returncode == 0, done.stderr
    assert _epochs_done(run) == EPOCHS
    for name in ("last.safetensors", "best.safetensors"):
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name]


def test_sigint_mid_epoch_then_resume_gives_the_same_result(setup, tmp_path):
    args, reference = setup
    run = tmp_path / "run"
    proc = _start(args + ["--out", str(run)])
    _wait_for(lambda: _epochs_done(run) >= 1, proc)
    time.sleep(0.1)  # well inside epoch 2 (each epoch takes a few hundred ms)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted during epoch 2" in err and f"resume with `rowrnn train --resume {run}`" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert _epochs_done(run) == 1
    _finish_and_compare(args, run, reference)


@pytest.mark.parametrize("moment", ["before the first checkpoint", "mid-epoch", "mid-write of a checkpoint"])
def test_sigkill_at_any_moment_leaves_a_resumable_run(setup, tmp_path, moment):
    args, reference = setup
    run = tmp_path / "run"
    proc = _start(args + ["--out", str(run)])
    if moment == "before the first checkpoint":
        _wait_for(lambda: (run / "config.json").exists(), proc)
        time.sleep(0.05)
    elif moment == "mid-epoch":
        _wait_for(lambda: _epochs_done(run) >= 2, proc)
        time.sleep(0.1)
    else:
        checkpoint_tmp = (".state.pt.tmp-", ".last.safetensors.tmp-", ".best.safetensors.tmp-")
        _wait_for(lambda: run.exists() and any(p.name.startswith(checkpoint_tmp) for p in os.scandir(run)), proc)
    proc.kill()
    proc.wait(timeout=30)
    if moment == "mid-write of a checkpoint":
        assert any(p.name.startswith(checkpoint_tmp) for p in run.iterdir()), "the kill did not land mid-write"
    assert _epochs_done(run) < EPOCHS
    _finish_and_compare(args, run, reference)


def test_a_second_training_is_refused_while_the_first_holds_the_run(setup, tmp_path):
    args, _ = setup
    run = tmp_path / "run"
    proc = _start(args + ["--out", str(run)])
    _wait_for(lambda: (run / "config.json").exists(), proc)
    done = _run(["train", "--resume", str(run), "--quiet"])
    assert done.returncode == 2
    assert f"{run} is in use by another rowrnn train (pid {proc.pid})" in done.stderr
    proc.kill()  # a dead holder does not keep the lock
    proc.wait(timeout=30)
    done = _run(["train", "--resume", str(run), "--quiet", "--no-figures"])
    assert done.returncode == 0, done.stderr
