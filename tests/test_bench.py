"""benchmarks/bench.py: the speed benchmark lives beside the package, not in it."""
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402
from bench import BENCH_CONFIGS, WAYS, NotebookDataset, _notebook_transform, format_table, run_benchmark  # noqa: E402
from rowrnn.data import load_fashion_mnist, normalize
from rowrnn.errors import RowrnnError

HEADER = ("| config | params | (a) notebook pipeline s/epoch | (b) rowrnn s/epoch | (c) compute limit s/epoch "
          "| a/b | b/c | inference img/s |")


def test_run_benchmark_on_synthetic_data(tmp_path):
    data = write_dataset(tmp_path / "data")
    out = tmp_path / "bench.json"
    result = run_benchmark(configs=["notebook"], epochs=1, data_dir=data, verify=False, out_json=out)

    assert set(result) == {"machine", "settings", "configs", "peak_rss_mb", "peak_rss_command"}
    assert set(result["machine"]) >= {"platform", "cpu", "cpu_count", "torch", "torch_threads", "command"}
    assert result["machine"]["torch"] == torch.__version__
    assert result["settings"] == {"epochs": 1, "warmup_epochs": 1, "device": "cpu", "data_dir": str(data),
                                  "verify": False, "train_images": 400, "test_images": 100,
                                  "notebook_transform": _notebook_transform()[1]}
    assert list(result["configs"]) == ["notebook"]
    r = result["configs"]["notebook"]
    assert r["params"] == 394 and r["batch_size"] == 1024
    for way in WAYS:
        assert len(r["seconds"][way]) == 1
        assert math.isfinite(r["median_s"][way]) and r["median_s"][way] > 0
        assert r["median_s"][way] == r["seconds"][way][0]
    m = r["median_s"]
    assert r["speedup_over_notebook"] == m["notebook_pipeline"] / m["rowrnn"]
    assert r["overhead_over_compute"] == m["rowrnn"] / m["compute_limit"]
    assert math.isfinite(r["inference_images_per_s"]) and r["inference_images_per_s"] > 0
    # a Python process that imported torch cannot fit in 50 MB: the child was measured, not the launcher
    assert isinstance(result["peak_rss_mb"], int) and result["peak_rss_mb"] > 50
    assert result["peak_rss_command"].endswith(f"--data-dir {data} --no-verify")
    assert json.loads(out.read_text()) == result
    assert format_table(result).splitlines()[0] == HEADER


def test_format_table_golden():
    result = {
        "machine": {"device": "cpu", "cpu": "Test CPU", "usable_cpus": 2, "torch": "2.5.0", "torch_threads": 2},
        "settings": {"epochs": 3, "warmup_epochs": 1, "train_images": 60000},
        "configs": {"notebook": {"params": 394, "median_s": {"notebook_pipeline": 12.345, "rowrnn": 0.51234,
                                                             "compute_limit": 0.4},
                                 "speedup_over_notebook": 24.0953, "overhead_over_compute": 1.28085,
                                 "inference_images_per_s": 123456.7}},
        "peak_rss_mb": 512,
    }
    assert format_table(result) == "\n".join([
        HEADER,
        "|---|--:|--:|--:|--:|--:|--:|--:|",
        "| notebook | 394 | 12.3 | 0.512 | 0.4 | 24.1 | 1.28 | 123,457 |",
        "",
        "Seconds per epoch: median of 3 timed after 1 warm-up; 60,000 training images; cpu on Test CPU (2 usable CPUs, "
        "torch 2.5.0, 2 threads).",
        "Peak RSS of `rowrnn train --epochs 1`: 512 MB.",
    ])


def test_notebook_dataset_serves_what_rowrnn_serves(data_dir):
    train_set, _ = load_fashion_mnist(data_dir, verify=False)
    dataset = NotebookDataset(train_set.images, train_set.labels, _notebook_transform()[0])
    for i in (0, 7, 399):
        x, y = dataset[i]
        assert x.shape == (1, 28, 28) and x.dtype == torch.float32
        assert torch.equal(x, normalize(train_set.images[i]).unsqueeze(0))
        assert y == int(train_set.labels[i])


def test_unknown_config_is_a_user_error():
    with pytest.raises(RowrnnError, match="unknown benchmark configs \\['rnn8'\\]: choose from "
                                          + ", ".join(BENCH_CONFIGS)):
        run_benchmark(configs=["notebook", "rnn8"])


def test_cli_passes_flags_and_prints_the_table(monkeypatch, capsys):
    main = bench.main
    calls = []
    monkeypatch.setattr(bench, "run_benchmark", lambda **kw: calls.append(kw) or {"configs": {}, **GOLDEN_SHELL})
    assert main(["--epochs", "2", "--configs", "notebook, gru128", "--data-dir", "d", "--no-verify",
                 "--json", "r.json"]) == 0
    assert {k: v for k, v in calls[0].items() if k != "log"} == {
        "configs": ["notebook", "gru128"], "epochs": 2, "data_dir": "d", "verify": False, "out_json": Path("r.json"),
        "device": "cpu"}
    assert capsys.readouterr().out.splitlines()[0] == HEADER


def test_cli_reports_user_errors(capsys):
    assert bench.main(["--configs", "bogus"]) == 2
    assert capsys.readouterr().err.startswith("bench: error: unknown benchmark configs ['bogus']")


GOLDEN_SHELL = {"machine": {"device": "cpu", "cpu": "c", "usable_cpus": 1, "torch": "t", "torch_threads": 1},
                "settings": {"epochs": 2, "warmup_epochs": 1, "train_images": 1}}


def test_cli_refuses_zero_threads(capsys):
    assert bench.main(["--threads", "0"]) == 2
    assert "--threads must be at least 1, got 0" in capsys.readouterr().err


def test_user_epoch_on_synthetic_data(tmp_path):
    """The user's epoch: whole `rowrnn train` runs, (long - short) / (long - 1), beside (b) and (c)."""
    data = write_dataset(tmp_path / "data")
    result = bench.time_user_epoch("notebook", rounds=1, data_dir=data, verify=False, long_epochs=2)
    s = result["seconds"]
    assert (result["preset"], result["rounds"], result["long_epochs"]) == ("notebook", 1, 2)
    assert [len(s[k]) for k in ("user", "rowrnn", "compute_limit")] == [1, 1, 1]
    assert result["median_s"] == {"user": s["user"][0], "rowrnn": s["rowrnn"][0], "compute_limit": s["compute_limit"][0]}
    assert result["user_over_compute"] == s["user"][0] / s["compute_limit"][0]
    assert result["b_over_c"] == s["rowrnn"][0] / s["compute_limit"][0]


def test_format_user_epoch_golden():
    result = {"preset": "notebook", "rounds": 5, "long_epochs": 6, "threads": 1,
              "median_s": {"user": 0.5, "rowrnn": 0.42, "compute_limit": 0.35},
              "user_over_compute": 0.5 / 0.35, "b_over_c": 0.42 / 0.35}
    assert bench.format_user_epoch(result).splitlines() == [
        "| config | user's epoch s | (b) rowrnn s/epoch | (c) compute limit s/epoch | user/c | b/c |",
        "|---|--:|--:|--:|--:|--:|",
        "| notebook | 0.50 | 0.42 | 0.35 | 1.43 | 1.20 |",
        "",
        "Medians of 5 interleaved rounds, 1 torch thread(s); user's epoch = (wall of `rowrnn train --epochs 6` - "
        "wall of `--epochs 1`) / 5."]


def test_step_time_times_each_variant_interleaved_and_restores_g(capsys, monkeypatch):
    import step_time
    from rowrnn import recurrences
    original, calls = recurrences.g, {"where": 0}
    where_g = step_time._where_g

    def counted(x):
        calls["where"] += 1
        return where_g(x)
    monkeypatch.setattr(step_time, "_where_g", counted)
    tiny = "cell=mingru,hidden_size=4,num_layers=1,batch_size=8"
    assert step_time.main(["--preset", "mingru", "--variant", f"small:{tiny}", "--variant", f"wide:{tiny},hidden_size=6",
                           "--g-where", "--rounds", "2", "--steps", "1"]) == 0
    assert recurrences.g is original                       # the A/B's torch.where form never leaks
    # --g-where's row (the preset itself) ran the where form once per cell call: 8 cells (2 readers x 2 blocks
    # x 2 directions), 3 warm-up steps and 2 rounds of 1
    assert calls["where"] == 8 * (3 + 2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["| variant | parameters | ms/step (median) | each round | ratio | images/s |",
                         "|---|--:|--:|---|--:|--:|"]
    rows = [line.split(" | ") for line in lines[2:6]]
    assert [r[0] for r in rows] == ["| mingru", "| small", "| wide", "| mingru, g as torch.where"]
    assert rows[0][1] == "177,290" and rows[3][1] == "177,290" and rows[1][1] != rows[2][1]
    assert all(len(r[3].split(", ")) == 2 for r in rows) and rows[0][4] == "1.00"
    assert lines[-1].startswith("(torch ") and "command: python benchmarks/step_time.py --preset mingru" in lines[-1]


@pytest.mark.parametrize("argv, message", [
    (["--variant", "wide:hidden_size"], "--variant 'wide:hidden_size': write NAME:FIELD=VALUE[,FIELD=VALUE]"),
    (["--variant", ":hidden_size=4"], "--variant ':hidden_size=4': give it a name"),
    (["--variant", "a:hidden_size=4", "--variant", "a:hidden_size=5"], "--variant: the names mingru, a, a repeat"),
    (["--variant", "a:hidden_size=-1"], "hidden_size must be a positive integer, got -1"),
])
def test_step_time_refuses_bad_variants_in_one_line(capsys, argv, message):
    import step_time
    assert step_time.main(["--rounds", "1", "--steps", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"step_time: error: {message}") and err.count("\n") == 1
