"""torchrun + DistributedDataParallel on CPU (gloo): 2 processes vs 1 with the same global batch."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from rowrnn.runs import load_weights

pytestmark = pytest.mark.slow

ARGS = ["train", "--no-verify", "--epochs", "2", "--batch-size", "49", "--hidden-size", "12", "--lr", "0.01",
        "--quiet", "--no-figures", "--seed", "3"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _torchrun():
    exe = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]


@pytest.mark.parametrize("extra", [[], ["--ema-decay", "0.9"]], ids=["plain", "ema"])
def test_two_processes_match_one_with_the_same_global_batch(data_dir, tmp_path, extra):
    # 360 training images in global batches of 49 split 25/24 over the ranks, the last (17) 9/8: uneven shares.
    # With --ema-decay each rank averages the same weights: validation and last.safetensors are the average's
    single, multi = tmp_path / "single", tmp_path / "multi"
    common = ARGS + extra + ["--data-dir", str(data_dir)]
    done = subprocess.run([sys.executable, "-m", "rowrnn", *common, "--out", str(single)], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*_torchrun(), "--standalone", "--nproc-per-node=2", "-m", "rowrnn", *common,
                           "--out", str(multi)], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 1  # only rank 0 prints
    h1, h2 = (json.loads((d / "history.json").read_text()) for d in (single, multi))
    for key in ("train_loss", "train_metric", "val_loss", "val_metric"):
        # the sample-weighted loss over all ranks equals the single process's: every sample counted once
        assert h2[key] == pytest.approx(h1[key], abs=1e-4), key
    w1, w2 = load_weights(single / "last.safetensors"), load_weights(multi / "last.safetensors")
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], atol=1e-4, rtol=1e-4, msg=name)
    assert {p.name for p in multi.iterdir()} >= {"config.json", "metrics.json", "best.safetensors"}


def test_a_failing_rank_stops_the_job_with_its_message(tmp_path):
    done = subprocess.run([*_torchrun(), "--standalone", "--nproc-per-node=2", "-m", "rowrnn", *ARGS,
                           "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "run")],
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "no such directory" in done.stderr
    assert not (tmp_path / "run").exists()
