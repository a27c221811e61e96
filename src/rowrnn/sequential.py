"""The standard sequential benchmarks: sequential MNIST (sMNIST: MNIST's 784 pixels read one a step) and permuted
sequential MNIST (psMNIST: the same pixels in one fixed random order), rowrnn's rows beside the published ones.

    rows = run_compare(["smnist", "psmnist"], seeds=[0], out="runs/sequential-mnist")   # rowrnn.compare
    table = benchmark_table(rows, "runs/sequential-mnist")   # rowrnn's rows (measured or not) + the references
    write_benchmark("runs/sequential-mnist", table)          # sequential-mnist.json and sequential-mnist.md

A reference row is a number a paper published, with the paper and the table it is in; rowrnn's rows are measured by
COMMAND (each with its run's metrics.json) or say NOT_MEASURED -- never a number that was not measured.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from . import files
from .errors import RowrnnError

# preset -> (column key, the benchmark's name)
BENCHMARKS = {"smnist": ("smnist", "sequential MNIST"), "psmnist": ("psmnist", "permuted sequential MNIST")}
COMMAND = "rowrnn compare --presets smnist,psmnist --seeds 0 --out runs/sequential-mnist"
NOT_MEASURED = "not measured here"
FILES = ("sequential-mnist.json", "sequential-mnist.md")

# Test accuracy in percent as each paper prints it (a string: its digits kept, 99.0 stays 99.0), the model as the
# paper names it, and where the number is. "checked" says what this project could cross-check of it: the papers themselves
# could not be opened from here; each number was checked against a second public listing where one was found.
REFERENCES = (
    {"model": "LSTM", "smnist": "98.2", "psmnist": "88.0",
     "source": "Arjovsky, Shah & Bengio 2016, Unitary Evolution Recurrent Neural Networks (ICML), the pixel-by-pixel "
               "MNIST results (LSTM baseline)",
     "checked": "not cross-checked: as the paper reports it, and as Li et al. 2018 (IndRNN) quote it"},
    {"model": "uRNN", "smnist": "95.1", "psmnist": "91.4",
     "source": "Arjovsky, Shah & Bengio 2016, Unitary Evolution Recurrent Neural Networks (ICML), the pixel-by-pixel "
               "MNIST results",
     "checked": "not cross-checked: as the paper reports it"},
    {"model": "LSTM with recurrent batch normalization (BN-LSTM)", "smnist": "99.0", "psmnist": "95.4",
     "source": "Cooijmans, Ballas, Laurent, Gülçehre & Courville 2017, Recurrent Batch Normalization (ICLR), table 1",
     "checked": "both numbers cross-checked against Papers with Code's results of the paper"},
    {"model": "IndRNN (6 layers)", "smnist": "99.0", "psmnist": "96.0",
     "source": "Li, Li, Cook, Zhu & Gao 2018, Independently Recurrent Neural Network (IndRNN): Building A Longer and "
               "Deeper RNN (CVPR), the sequential and permuted MNIST results table",
     "checked": "not cross-checked: as the paper reports it"},
    {"model": "S5", "smnist": "99.65", "psmnist": "98.67",
     "source": "Smith, Warrington & Linderman 2023, Simplified State Space Layers for Sequence Modeling (ICLR), the "
               "pixel-level 1-D image classification results",
     "checked": "sMNIST 99.65 cross-checked against a public benchmark listing of the paper; psMNIST as the paper "
                "reports it"},
)


def reference_rows() -> list[dict]:
    """The published rows (REFERENCES), copies: model, smnist and psmnist (test accuracy in percent as the paper
    prints it, a string; None where it reports none), source (authors, year, title, venue, where in the paper), checked."""
    return [dict(r) for r in REFERENCES]


def rowrnn_rows(rows=(), out=None) -> list[dict]:
    """rowrnn's row of each benchmark (one per BENCHMARKS preset), from compare's leaderboard rows.

    rows: rowrnn.compare rows (preset, seed, test_accuracy, parameters, command); out: the folder of their runs
    (<preset>-seed<N>/). A benchmark is "measured" when at least one of its rows has a run whose metrics.json is
    there (test_accuracy: the mean over those seeds; metrics: their paths) and NOT_MEASURED otherwise (accuracy
    None, no metrics). Rows of other presets are ignored."""
    result = []
    for preset, (key, name) in BENCHMARKS.items():
        found = []
        for r in rows:
            metrics = Path(out) / f"{preset}-seed{r.get('seed')}" / "metrics.json" if out is not None else None
            if r.get("preset") == preset and metrics is not None and files.exists(metrics):
                found.append((r, metrics))
        entry = {"benchmark": key, "name": name, "preset": preset, "status": "measured" if found else NOT_MEASURED,
                 "test_accuracy": statistics.mean(r["test_accuracy"] for r, _ in found) if found else None,
                 "test_accuracy_each": [r["test_accuracy"] for r, _ in found],
                 "seeds": [r["seed"] for r, _ in found], "metrics": [str(m) for _, m in found],
                 "parameters": found[0][0].get("parameters") if found else None,
                 "commands": [r.get("command") for r, _ in found] or [COMMAND]}
        result.append(entry)
    return result


def benchmark_table(rows=(), out=None) -> dict:
    """The whole benchmark as sequential-mnist.json holds it: {"benchmarks", "command" (COMMAND), "rowrnn":
    rowrnn_rows(rows, out), "references": reference_rows()}."""
    return {"benchmarks": {key: name for key, name in BENCHMARKS.values()}, "command": COMMAND,
            "rowrnn": rowrnn_rows(rows, out), "references": reference_rows()}


def _cell(value) -> str:
    return "–" if value is None else value


def benchmark_markdown(table: dict) -> str:
    """sequential-mnist.md: one Markdown table, test accuracy in percent; rowrnn's row first (its measured
    accuracy, or NOT_MEASURED), then the published rows with their sources; the command below."""
    ours = {r["benchmark"]: r for r in table["rowrnn"]}
    measured = [r for r in table["rowrnn"] if r["status"] == "measured"]

    def our_cell(key):
        r = ours[key]
        if r["status"] != "measured":
            return NOT_MEASURED
        seeds = f" ({len(r['seeds'])} seeds)" if len(r["seeds"]) > 1 else ""
        return f"{100 * r['test_accuracy']:.2f}{seeds}"

    where = (f"measured by `{table['command']}`; metrics: " + "; ".join(f"`{m}`" for r in measured for m in r["metrics"])
             if measured else f"to measure: `{table['command']}` (no MNIST where this table was written)")
    lines = ["| model | sMNIST test accuracy (%) | psMNIST test accuracy (%) | source |", "|---|--:|--:|---|",
             f"| rowrnn `smnist` / `psmnist` (two minGRU-32 blocks, one pixel a step, 784 steps) | {our_cell('smnist')} "
             f"| {our_cell('psmnist')} | {where} |"]
    for r in table["references"]:
        lines.append(f"| {r['model']} | {_cell(r['smnist'])} | {_cell(r['psmnist'])} | {r['source']} |")
    lines += ["", "sMNIST: MNIST's 28x28 digits read one pixel a step, 784 steps; psMNIST: the same pixels in one fixed "
              "random order (the run's --permutation-seed, recorded in its config.json). The published rows are the "
              "papers' numbers, not measured here; what of each could be cross-checked is in sequential-mnist.json.",
              "", f"The command: `{table['command']}`"]
    return "\n".join(lines)


def write_benchmark(out, table: dict) -> dict:
    """sequential-mnist.json (the table) and sequential-mnist.md (benchmark_markdown) in out, written atomically;
    their paths {"json": ..., "md": ...}. Raises RowrnnError when out cannot be written."""
    out = Path(out)
    if not files.is_dir(out):
        raise RowrnnError(f"{out}: not a directory: create it, or choose another folder for the benchmark")
    paths = {"json": out / FILES[0], "md": out / FILES[1]}
    files.write_json(paths["json"], table)
    files.atomic_write(paths["md"], (benchmark_markdown(table) + "\n").encode("utf-8", "backslashreplace"))
    return paths
