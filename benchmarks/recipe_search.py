"""How the presets of issue 13 were chosen: candidate recipes trained side by side, judged on VALIDATION only.

    python benchmarks/recipe_search.py --device cuda --workers 14 --minutes 6 --data-dir DIR --out search.jsonl
    python benchmarks/recipe_search.py --table benchmarks/recipe-search-h200.jsonl     # the Markdown table

Each candidate is a preset plus overrides and an epoch count sized to the CPU budget it is meant
for (its CPU seconds per epoch were measured beforehand on the project's 2-core machine and are
listed beside it). Every candidate trains with rowrnn's own loop (train_epochs) in its own process;
one JSON line per finished candidate records its validation curve. The test split is never
evaluated here: the presets are picked from these validation numbers, and their test accuracy is
measured once, later, by `rowrnn compare` on the CPU.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

# Every candidate spelled out in full on top of the notebook preset, so that later changes to the presets
# (which these results chose) do not change what a candidate means.
RECIPE = {"batch_size": 128, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 0.05, "schedule": "onecycle",
          "clip_grad_norm": 1.0, "label_smoothing": 0.1, "augment_shift": 2, "augment_flip": True}
BILSTM = {"cell": "lstm", "hidden_size": 128, "bidirectional": True, "readout": "mean+max", "read": "rows+columns",
          **RECIPE}
CNN = {"arch": "cnn", "hidden_size": 32, **RECIPE, "clip_grad_norm": 0.0}
PIXELS = {"cell": "gru", "hidden_size": 64, "batch_size": 256, "lr": 3e-3, "optimizer": "adamw",
          "schedule": "onecycle", "clip_grad_norm": 1.0}
ERASE = {"augment_erase": 0.5}
FAST = {**BILSTM, "batch_size": 256, "lr": 3e-3}
# name -> (overrides of the notebook preset, epochs, CPU s/epoch measured with 2 threads on the project machine)
CANDIDATES = {
    # strong recurrent-only: <= ~27 minutes of epochs on the CPU
    "bilstm-s2-e75-erase": ({**BILSTM, "rows_per_step": 2, **ERASE}, 75, 20.6),
    "bilstm-s2-e75": ({**BILSTM, "rows_per_step": 2}, 75, 20.6),
    "bilstm-x2-s4-e40-erase": ({**BILSTM, "rows_per_step": 4, "num_layers": 2, "dropout": 0.2, **ERASE}, 40, 38.3),
    "bilstm256-s4-e45-erase": ({**BILSTM, "rows_per_step": 4, "hidden_size": 256, **ERASE}, 45, 33.9),
    "bilstm-e35-erase": ({**BILSTM, **ERASE}, 35, 44.8),
    # fast recurrent-only: <= ~4.3 minutes of epochs on the CPU
    "lstm64-s2-b256-e36-erase": ({**FAST, "rows_per_step": 2, "hidden_size": 64, **ERASE}, 36, 7.0),
    "lstm96-s4-b256-e34-erase": ({**FAST, "rows_per_step": 4, "hidden_size": 96, **ERASE}, 34, 7.6),
    "lstm96-s4-b256-e34": ({**FAST, "rows_per_step": 4, "hidden_size": 96}, 34, 7.6),
    "lstm128-s4-b256-e28-erase": ({**FAST, "rows_per_step": 4, "hidden_size": 128, **ERASE}, 28, 9.1),
    # a CNN worth comparing against (< 100K parameters)
    "cnn2-c32-e30-erase": ({**CNN, "num_layers": 2, **ERASE}, 30, 84.9),
    "cnn2-c24-e30-erase": ({**CNN, "num_layers": 2, "hidden_size": 24, **ERASE}, 30, 48.0),
    "cnn2-c32-e20-erase": ({**CNN, "num_layers": 2, **ERASE}, 20, 84.9),
    # second round, after the first showed random erasing hurting every recurrent reader
    "lstm64-s2-b256-e36": ({**FAST, "rows_per_step": 2, "hidden_size": 64}, 36, 7.0),
    "lstm80-s2-b256-e32": ({**FAST, "rows_per_step": 2, "hidden_size": 80}, 32, 8.5),
    "pixels-gru64-b256-e6-meanmax": ({**PIXELS, "read": "pixels", "readout": "mean+max"}, 6, 372.0),
    "permuted-gru64-b256-e6-meanmax": ({**PIXELS, "read": "permuted-pixels", "readout": "mean+max"}, 6, 372.0),
    # pixel reading: how far a few epochs go
    "pixels-gru64-b256-e6": ({**PIXELS, "read": "pixels"}, 6, 372.0),
    "permuted-gru64-b256-e6": ({**PIXELS, "read": "permuted-pixels"}, 6, 372.0),
}


def run_candidate(name: str, device: str, data_dir: str, progress: str | None = None) -> dict:
    import torch

    from rowrnn.config import build_config
    from rowrnn.data import load_fashion_mnist
    from rowrnn.lifecycle import train_epochs
    torch.set_num_threads(1)
    overrides, epochs, cpu_seconds = CANDIDATES[name]
    cfg = build_config("notebook", {**overrides, "epochs": epochs, "device": device, "data_dir": data_dir})
    train_set, _ = load_fashion_mnist(data_dir)  # only the training split is used: train + validation
    start = time.time()
    def log(epoch, history, grad_norm):  # one line per epoch, so an unfinished candidate still shows its curve
        if progress:
            with open(progress, "a") as f:
                f.write(json.dumps({"name": name, "epoch": epoch + 1, "val_metric": history["val_metric"][-1],
                                    "seconds": time.time() - start}) + "\n")

    with tempfile.TemporaryDirectory(prefix=f"search-{name}-") as tmp:
        result = train_epochs(cfg, Path(tmp) / "run", train_set=train_set, on_epoch=log)
    val = result.history["val_metric"]
    return {"name": name, "config": cfg.to_dict(), "epochs": epochs,
            "best_val_metric": max(val), "best_epoch": 1 + val.index(max(val)), "final_val_metric": val[-1],
            "val_metric": val, "train_loss": result.history["train_loss"],
            "cpu_minutes_estimate": epochs * cpu_seconds / 60, "device": device,
            "device_seconds": time.time() - start}


def table(path: Path) -> str:
    """The Markdown table of a results file: best validation metric per candidate, with its CPU budget."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = ["| candidate | epochs | best validation macro accuracy (epoch) | est. CPU minutes |", "|---|--:|--:|--:|"]
    for r in sorted((r for r in rows if "error" not in r), key=lambda r: -r["best_val_metric"]):
        lines.append(f"| {r['name']} | {r['epochs']} | {r['best_val_metric']:.4f} ({r['best_epoch']}) | "
                     f"{r['cpu_minutes_estimate']:.1f} |")
    lines += [f"| {r['name']} | – | {r['error']} | – |" for r in rows if "error" in r]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    parser.add_argument("--minutes", type=float, default=6.0, help="stop waiting after this long")
    parser.add_argument("--out", type=Path, default=Path("search.jsonl"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--table", type=Path, default=None, metavar="JSONL", help="print a results file as Markdown")
    parser.add_argument("--only", default=None, help="comma-separated candidate names")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.table))
        return 0
    if args.data_dir is None:
        parser.error("--data-dir is required to search")
    names = args.only.split(",") if args.only else list(CANDIDATES)
    deadline = time.time() + 60 * args.minutes
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers) as pool, args.out.open("a") as out:
        progress = str(args.out.with_suffix(".progress.jsonl"))
        pending = {name: pool.apply_async(run_candidate, (name, args.device, args.data_dir, progress))
                   for name in names}
        while pending and time.time() < deadline:
            for name, job in list(pending.items()):
                if job.ready():
                    del pending[name]
                    try:
                        row = job.get()
                    except Exception as e:  # report and go on: one failing candidate must not lose the rest
                        row = {"name": name, "error": f"{type(e).__name__}: {e}"}
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(f"{name}: {row.get('best_val_metric', row.get('error'))}", flush=True)
            time.sleep(1)
        for name in pending:
            out.write(json.dumps({"name": name, "error": "not finished before the deadline"}) + "\n")
        pool.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
