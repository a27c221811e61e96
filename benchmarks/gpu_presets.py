"""On a lent GPU: seconds per epoch of every preset, and the parallel-in-time presets trained with 3 seeds.

    python benchmarks/gpu_presets.py --data-dir DIR --out OUT [--train mingru] [--seeds 0 1 2] [--budget-minutes 8]

Each preset runs `python -m rowrnn train --preset P --epochs 2 --device cuda` once (the second epoch's seconds,
from the run's history, is the epoch time: the first includes cuDNN's and the allocator's warm-up). Then each
preset of --train is trained in full for each seed, one after the other, until --budget-minutes is spent (a
training that would start past the budget is skipped and listed as such). Accuracy only, labelled GPU: the
minutes of a GPU are not the leaderboard's CPU minutes. Writes OUT/gpu-presets.json and prints a markdown
table. Selection stays on validation: the test accuracy is each run's own, read once when it finished.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def train(preset: str, out: Path, data_dir: str, *, epochs: int | None = None, seed: int = 0,
          timeout: float = 3600) -> dict:
    """One `rowrnn train` on cuda: its wall seconds, per-epoch seconds, best validation and test accuracy, or
    {"error": [last line]}. A finished run already in `out` (a rerun into the same OUT) is read, not retrained."""
    wall = float("nan")                                        # not timed when the run is reused
    if not (out / "metrics.json").exists():
        argv = [sys.executable, "-m", "rowrnn", "train", "--preset", preset, "--device", "cuda", "--seed", str(seed),
                "--data-dir", data_dir, "--out", str(out), "--quiet", "--no-figures"]
        if epochs is not None:
            argv += ["--epochs", str(epochs)]
        start = time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        except subprocess.TimeoutExpired:
            return {"preset": preset, "seed": seed, "error": [f"stopped after {timeout:.0f} s"]}
        wall = time.perf_counter() - start
        if done.returncode != 0:
            return {"preset": preset, "seed": seed, "error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    history = json.loads((out / "history.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {"preset": preset, "seed": seed, "wall_seconds": round(wall, 2), "epoch_seconds": history["seconds"],
            "best_val_metric": max(history["val_metric"]), "test_accuracy": metrics.get("accuracy"),
            "epochs": len(history["seconds"])}


def main(argv=None) -> int:
    from rowrnn.config import PRESETS, preset_dataset
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", nargs="*", default=["mingru"], help="presets trained in full, each seed")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--budget-minutes", type=float, default=8.0,
                        help="for everything: the epoch timings, then the full trainings")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"epoch": [], "trained": [], "skipped": []}
    deadline = time.perf_counter() + 60 * args.budget_minutes     # the epoch timings count against it too
    for preset in (p for p in PRESETS if preset_dataset(p) == "fashion-mnist"):   # smnist/psmnist: gpu_check.sh's own step
        r = train(preset, args.out / f"epoch-{preset}", args.data_dir, epochs=2,
                  timeout=max(30.0, min(300.0, deadline - time.perf_counter())))
        results["epoch"].append(r)
        print(json.dumps(r), flush=True)
    for preset in args.train:
        for seed in args.seeds:
            if time.perf_counter() > deadline:
                results["skipped"].append({"preset": preset, "seed": seed})
                continue
            r = train(preset, args.out / f"{preset}-seed{seed}", args.data_dir, seed=seed,
                      timeout=max(60.0, deadline - time.perf_counter() + 600))
            results["trained"].append(r)
            print(json.dumps(r), flush=True)
    (args.out / "gpu-presets.json").write_text(json.dumps(results, indent=1))
    print("\n| preset | s/epoch (GPU, 2nd epoch) |\n|---|--:|")
    for r in results["epoch"]:
        print(f"| {r['preset']} | {r['epoch_seconds'][-1]:.2f} |" if "error" not in r else
              f"| {r['preset']} | failed: {r['error'][0]} |")
    print("\n| preset (GPU) | seed | epochs | best val | test | minutes |\n|---|--:|--:|--:|--:|--:|")
    for r in results["trained"]:
        print(f"| {r['preset']} | {r['seed']} | {r.get('epochs', '—')} | {r.get('best_val_metric', float('nan')):.4f} "
              f"| {r.get('test_accuracy') or float('nan'):.4f} | {r.get('wall_seconds', 0) / 60:.1f} |"
              if "error" not in r else f"| {r['preset']} | {r['seed']} | failed: {r['error'][0]} | | | |")
    for r in results["skipped"]:
        print(f"| {r['preset']} | {r['seed']} | skipped: past --budget-minutes | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
