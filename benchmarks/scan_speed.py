"""Step loop against parallel scan: forward + backward of one batch for the parallel-in-time cells.

    python benchmarks/scan_speed.py --batch-size 256 --repeats 5 --json scan-speed.json

For each cell (mingru, minlstm, lru) and each reading (rows: 28 steps; pixels: 784 steps), the classifier
(width 64, 2 bidirectional blocks, mean+max readout) runs forward and backward on one batch of random images,
once with scan="step" and once with scan="parallel", interleaved; the median seconds of the repeats after one
warm-up. A GRU-64 reading the same way is timed beside them for scale. --threads sets torch's CPU threads
(on a loaded machine two threads contend badly; one gives steadier numbers).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from rowrnn.models import RNNClassifier
from rowrnn.recurrences import PARALLEL_CELLS, set_scan


def seconds(model, x, repeats: int) -> list[float]:
    times = []
    for i in range(repeats + 1):
        model.zero_grad()
        start = time.perf_counter()
        model(x).sum().backward()
        if i:                                          # the first call warms up
            times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--reads", default="rows,pixels")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 1, 28, 28)
    results = []
    for read in args.reads.split(","):
        kwargs = dict(hidden_size=64, num_layers=2, bidirectional=True, readout="mean+max", read=read)
        gru = RNNClassifier(cell="gru", **kwargs)
        row = {"read": read, "steps": gru.num_steps, "gru_s": statistics.median(seconds(gru, x, args.repeats))}
        print(f"{read} ({gru.num_steps} steps): GRU-64, 2 bidirectional layers, {row['gru_s']:.3f} s",
              flush=True)
        for cell in PARALLEL_CELLS:
            model = RNNClassifier(cell=cell, **kwargs)
            step, parallel = [], []
            for _ in range(args.repeats):              # interleaved, so load on the machine hits both alike
                step += seconds(set_scan(model, "step"), x, 1)
                parallel += seconds(set_scan(model, "parallel"), x, 1)
            entry = {**row, "cell": cell, "step_s": statistics.median(step),
                     "parallel_s": statistics.median(parallel)}
            results.append(entry)
            print(f"  {cell:8s} step {entry['step_s']:.3f} s   parallel {entry['parallel_s']:.3f} s   "
                  f"({entry['step_s'] / entry['parallel_s']:.2f}x)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"batch_size": args.batch_size, "repeats": args.repeats, "threads": torch.get_num_threads(),
                       "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
