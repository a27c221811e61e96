"""Train several presets (and seeds) into their own run directories and rank them on the test set.

    rows = run_compare(["notebook", "tiny", "cnn"], seeds=[0], out="runs/compare")
    write_leaderboard("runs/compare", rows)   # leaderboard.md, leaderboard.csv, leaderboard.png

Each run is an ordinary `rowrnn train` process, so every row comes with the command that
reproduces it; a finished run directory is reused, an interrupted one resumed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .config import PRESETS, build_config
from .errors import RowrnnError
from .models import build_model, count_parameters
from .runs import CONFIG_FILE, atomic_write, config_differences, load_config, load_resume_state, load_run, read_json

# The official Fashion-MNIST benchmark's rows, for context (not measured here).
REFERENCES = {"GRU+SVM (official benchmark)": 0.897, "2-conv CNN <100K params (official benchmark)": 0.925,
              "human (official benchmark)": 0.835}
COLUMNS = ("preset", "seed", "test_accuracy", "test_macro_accuracy", "best_val_metric", "parameters",
           "train_minutes", "epoch_seconds", "epochs", "command")


def train_command(preset: str, seed: int, run_dir: Path, data_dir=None, extra=()) -> list[str]:
    return ["rowrnn", "train", "--preset", preset, "--seed", str(seed), "--out", str(run_dir), "--quiet",
            *(["--data-dir", str(data_dir)] if data_dir else []), *extra]


def _extra_flags(overrides: dict) -> list[str]:
    """The train flags for compare's overrides (a whole-run --epochs, --no-verify)."""
    return [*(["--epochs", str(overrides["epochs"])] if "epochs" in overrides else []),
            *(["--no-verify"] if overrides.get("verify") is False else [])]


def _finished(run_dir: Path, preset: str, seed: int, overrides: dict) -> bool:
    """True for a completed run of exactly this config, False for none or a partial one; refuses another config."""
    if not (run_dir / CONFIG_FILE).exists():
        return False
    diffs = config_differences(load_config(run_dir), build_config(preset, {"seed": seed, **overrides}))
    if diffs:
        raise RowrnnError(f"{run_dir} holds a run with another config ({'; '.join(diffs)}): choose another --out")
    state = load_resume_state(run_dir)
    complete = state is not None and (state["epoch"] == load_config(run_dir).train.epochs or state["stopped_early"])
    return complete and "best_epoch" in (read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists()
                                         else {})


def run_compare(presets, seeds=(0,), out="runs/compare", parallel: int = 1, data_dir=None, overrides=None,
                log=None) -> list[dict]:
    """Train every (preset, seed) not yet done, `parallel` processes at a time; one leaderboard row each.

    overrides: {"epochs": N} and/or {"verify": False}, applied to every preset."""
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        raise RowrnnError(f"unknown presets {unknown}: choose from {', '.join(PRESETS)}")
    if parallel < 1:
        raise RowrnnError(f"--parallel must be at least 1, got {parallel}")
    if not seeds:
        raise RowrnnError("no seeds given: e.g. --seeds 0,1,2")
    say = log or (lambda message: None)
    overrides = dict(overrides or {})
    extra = _extra_flags(overrides)
    out = Path(out)
    jobs = [(p, s, out / f"{p}-seed{s}") for p in presets for s in seeds]
    threads = str(max(1, (os.cpu_count() or 1) // parallel))
    done = {run_dir for p, s, run_dir in jobs if _finished(run_dir, p, s, overrides)}
    pending, running = [j for j in jobs if j[2] not in done], []
    for preset, seed, run_dir in jobs:
        if run_dir in done:
            say(f"{preset} seed {seed}: done before, reusing {run_dir}")
    while pending or running:
        while pending and len(running) < parallel:
            preset, seed, run_dir = pending.pop(0)
            cmd = train_command(preset, seed, run_dir, data_dir, extra)
            if (run_dir / "config.json").exists():
                cmd = ["rowrnn", "train", "--resume", str(run_dir), "--quiet",
                       *(["--data-dir", str(data_dir)] if data_dir else [])]
            say(f"{preset} seed {seed}: {shlex.join(cmd)}")
            proc = subprocess.Popen([sys.executable, "-m", "rowrnn", *cmd[1:]], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "OMP_NUM_THREADS": threads})
            running.append((preset, seed, run_dir, proc))
        time.sleep(0.2)
        for job in list(running):
            preset, seed, run_dir, proc = job
            if proc.poll() is None:
                continue
            running.remove(job)
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                for _, _, _, other in running:
                    other.terminate()
                raise RowrnnError(f"training {preset} (seed {seed}) failed: {stderr.strip().splitlines()[-1:]}")
            say(f"{preset} seed {seed}: {stdout.strip().splitlines()[-1]}")
    return [leaderboard_row(run_dir, preset, seed, data_dir, extra) for preset, seed, run_dir in jobs]


def leaderboard_row(run_dir: Path, preset: str, seed: int, data_dir=None, extra=()) -> dict:
    run = load_run(run_dir)
    metrics = read_json(run_dir / "metrics.json")
    seconds = run.history.get("seconds", [])
    return {"preset": preset, "seed": seed, "test_accuracy": metrics["accuracy"],
            "test_macro_accuracy": metrics["macro_accuracy"], "best_val_metric": metrics.get("best_val_metric"),
            "parameters": count_parameters(build_model(run.config.model)),
            "train_minutes": sum(seconds) / 60, "epoch_seconds": statistics.median(seconds) if seconds else 0.0,
            "epochs": len(seconds), "command": shlex.join(train_command(preset, seed, run_dir, data_dir, extra))}


def summarize(rows: list[dict]) -> list[dict]:
    """One line per preset: mean test accuracy over seeds, the seeds' spread, the rest as means."""
    out = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        group = [r for r in rows if r["preset"] == preset]
        acc = [r["test_accuracy"] for r in group]
        out.append({"preset": preset, "seeds": [r["seed"] for r in group], "test_accuracy": statistics.mean(acc),
                    "test_accuracy_each": acc, "spread": max(acc) - min(acc),
                    "test_macro_accuracy": statistics.mean(r["test_macro_accuracy"] for r in group),
                    "parameters": group[0]["parameters"],
                    "train_minutes": statistics.mean(r["train_minutes"] for r in group),
                    "epoch_seconds": statistics.mean(r["epoch_seconds"] for r in group)})
    return sorted(out, key=lambda r: -r["test_accuracy"])


def leaderboard_markdown(rows: list[dict]) -> str:
    lines = ["| preset | seeds | test accuracy | each seed | macro accuracy | parameters | train min | s/epoch |",
             "|---|---|--:|---|--:|--:|--:|--:|"]
    for r in summarize(rows):
        each = ", ".join(f"{a:.4f}" for a in r["test_accuracy_each"])
        lines.append(f"| {r['preset']} | {', '.join(map(str, r['seeds']))} | {r['test_accuracy']:.4f} | {each} | "
                     f"{r['test_macro_accuracy']:.4f} | {r['parameters']:,} | {r['train_minutes']:.1f} | "
                     f"{r['epoch_seconds']:.1f} |")
    lines += ["", "Reference rows (official Fashion-MNIST benchmark, not measured here): "
              + ", ".join(f"{k.split(' (')[0]} {v:.3f}" for k, v in REFERENCES.items()) + ".", "",
              "Commands:", ""]
    lines += [f"- `{r['command']}`" for r in rows]
    return "\n".join(lines)


def write_leaderboard(out, rows: list[dict]) -> dict:
    """leaderboard.md, leaderboard.csv (one row per run) and leaderboard.png in `out`; returns their paths."""
    import matplotlib.pyplot as plt

    from .plots import plot_leaderboard
    from .runs import save_figure
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    paths = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "png": out / "leaderboard.png",
             "json": out / "leaderboard.json"}
    atomic_write(paths["md"], (leaderboard_markdown(rows) + "\n").encode())
    atomic_write(paths["csv"], buffer.getvalue().encode())
    atomic_write(paths["json"], (json.dumps(rows, indent=2) + "\n").encode())
    fig = plot_leaderboard(summarize(rows), REFERENCES)
    save_figure(paths["png"], fig)
    plt.close(fig)
    return paths
