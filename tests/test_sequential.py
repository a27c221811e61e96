"""The standard sequential benchmarks by name (issue 28): the smnist / psmnist presets, the one command that trains
both and writes sequential-mnist.json/.md, and the committed table's promises (every published row has its source,
rowrnn's rows are measured with their run's metrics.json or say "not measured here")."""
import json
import re
from pathlib import Path

import pytest
import torch

from conftest import idx_bytes, synthetic_split
from rowrnn import compare, config, datasets, models, sequential
from rowrnn.cli import main
from rowrnn.errors import RowrnnError
from rowrnn.lifecycle import train_command

RESULTS = Path(__file__).resolve().parent.parent / "results"


def test_the_presets_name_mnist_and_read_784_pixels():
    for preset, read in (("smnist", "pixels"), ("psmnist", "permuted-pixels")):
        cfg = config.build_config(preset)
        assert (cfg.data.dataset, cfg.model.read, cfg.model.permutation_seed) == ("mnist", read, 0)
        model = models.build_model(cfg.model, num_classes=10)
        assert model.num_steps == 784
        assert train_command(cfg, "r") == f"rowrnn train --preset {preset} --out r"   # the dataset is the preset's
    assert config.build_config("smnist", {"dataset": "kmnist"}).data.dataset == "kmnist"   # --dataset still wins
    assert config.build_config("pixels").data.dataset == "fashion-mnist"
    assert [p for p in config.PRESETS if config.preset_dataset(p) == "mnist"] == ["smnist", "psmnist"]


def test_compare_refuses_to_rank_two_datasets_on_one_board():
    with pytest.raises(RowrnnError, match=r"^--presets mixes datasets \(fashion-mnist: notebook; mnist: smnist\): one "
                                          r"leaderboard ranks runs on one test set: compare them in separate commands "
                                          r"with separate --out$"):
        compare.check_request(["notebook", "smnist"], [0], 1)


def test_compare_by_default_trains_the_fashion_mnist_presets_only():
    from rowrnn.cli import build_parser
    default = build_parser().parse_args(["compare"]).presets.split(",")
    assert "smnist" not in default and "psmnist" not in default and "pixels" in default
    compare.check_request(default, [0], 1)


def write_mnist(root: Path, n=(40, 20)):
    """Synthetic MNIST: uncompressed IDX files with MNIST's names and headers in ROOT/mnist (learnable bands)."""
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for (split, (image_base, label_base, _)), count, seed in zip(datasets.TABLE["mnist"].files.items(), n, (0, 1)):
        images, labels = synthetic_split(count, seed)
        (folder / image_base).write_bytes(idx_bytes(images))
        (folder / label_base).write_bytes(idx_bytes(labels))
    return folder


@pytest.mark.slow
def test_the_one_command_trains_both_and_writes_the_benchmark(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path / "data")
    monkeypatch.setenv("ROWRNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))     # nothing found there, nothing downloaded
    out = tmp_path / "sequential-mnist"
    assert main(["compare", "--presets", "smnist,psmnist", "--seeds", "0", "--epochs", "1", "--no-verify",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Reference rows (published sequential MNIST results" in printed and "IndRNN (6 layers) 99.0 / 96.0" in printed
    assert "official Fashion-MNIST" not in printed
    table = json.loads((out / "sequential-mnist.json").read_text())
    assert table["command"] == sequential.COMMAND
    for row in table["rowrnn"]:
        metrics = json.loads(Path(row["metrics"][0]).read_text())
        assert row["status"] == "measured" and row["seeds"] == [0]
        assert Path(row["metrics"][0]) == out / f"{row['preset']}-seed0" / "metrics.json"
        assert row["test_accuracy"] == metrics["accuracy"]
        assert row["test_accuracy_each"] == [metrics["accuracy"]]
    md = (out / "sequential-mnist.md").read_text()
    assert md == sequential.benchmark_markdown(table) + "\n"
    ours = md.splitlines()[2]
    smnist, psmnist = (r["test_accuracy"] for r in table["rowrnn"])
    assert f"| {100 * smnist:.2f} | {100 * psmnist:.2f} |" in ours and "not measured here" not in ours
    # the permutation: fixed by the recorded seed, the same the model reads with
    cfg = json.loads((out / "psmnist-seed0" / "config.json").read_text())
    assert (cfg["data"]["dataset"], cfg["data"]["classes"]) == ("mnist", list("0123456789"))
    assert (cfg["model"]["read"], cfg["model"]["permutation_seed"]) == ("permuted-pixels", 0)
    from rowrnn.runs import load_model
    model, _ = load_model(out / "psmnist-seed0")
    assert torch.equal(model.permutation, models.pixel_permutation(0))
    # run again: the finished runs are reused, and the benchmark's files are compare's own
    assert main(["compare", "--presets", "smnist,psmnist", "--seeds", "0", "--epochs", "1", "--no-verify",
                 "--out", str(out)]) == 0
    assert json.loads((out / "sequential-mnist.json").read_text()) == table


def test_without_runs_rowrnns_rows_say_not_measured_here(tmp_path):
    table = sequential.benchmark_table([], tmp_path)
    assert [(r["preset"], r["status"], r["test_accuracy"], r["metrics"]) for r in table["rowrnn"]] == [
        ("smnist", "not measured here", None, []), ("psmnist", "not measured here", None, [])]
    # a row whose run folder holds no metrics.json is not a measurement either
    row = {"preset": "smnist", "seed": 0, "test_accuracy": 0.5, "parameters": 1, "command": "x"}
    assert sequential.rowrnn_rows([row], tmp_path)[0]["status"] == "not measured here"
    assert "| not measured here | not measured here |" in sequential.benchmark_markdown(table).splitlines()[2]


def test_the_committed_benchmark_keeps_its_promises():
    table = json.loads((RESULTS / "sequential-mnist.json").read_text())
    assert (RESULTS / "sequential-mnist.md").read_text() == sequential.benchmark_markdown(table) + "\n"
    assert table["references"] == sequential.reference_rows()
    for ref in table["references"]:
        # a source names authors, a year, the paper's title and venue; every number is a published percent
        assert re.search(r"^[A-Z][\w ,&ç]+ (19|20)\d\d, .+ \((ICML|ICLR|CVPR|NeurIPS)\)", ref["source"]), ref
        assert ref["checked"]
        for key in ("smnist", "psmnist"):
            assert ref[key] is None or 50 < float(ref[key]) <= 100
    assert [r["preset"] for r in table["rowrnn"]] == ["smnist", "psmnist"]
    for row in table["rowrnn"]:
        if row["status"] == "measured":
            metrics = json.loads((RESULTS.parent / row["metrics"][0]).read_text())
            assert row["test_accuracy_each"][0] == metrics["accuracy"]
        else:
            assert (row["status"], row["test_accuracy"], row["metrics"]) == ("not measured here", None, [])


@pytest.mark.parametrize("readme", ["README.md", "README.es.md"])
def test_the_readme_shows_the_sequential_table_as_results_holds_it(readme):
    """Issue 28: the README (both languages) has the sequential benchmarks' table with its sources; it is
    results/sequential-mnist.md's, line for line, so no number is typed twice."""
    lines = (RESULTS / "sequential-mnist.md").read_text().splitlines()
    table = "\n".join(lines[:lines.index("")]) + "\n"
    assert table in (RESULTS.parent / readme).read_text()
