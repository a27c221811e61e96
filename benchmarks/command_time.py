"""Wall time of whole rowrnn commands that read a run's test split, two source trees side by side.

For each round, each command, each tree (interleaved, so a loaded machine weighs on both alike):
`python -m rowrnn predict RUN --test-index 0` and `python -m rowrnn export RUN --out <new file>.onnx`,
run with PYTHONPATH=<tree>; prints the median of the rounds and every time.

    git worktree add --detach /tmp/before <commit>
    python benchmarks/command_time.py /tmp/before/src src RUN --rounds 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the first source tree (a folder holding the rowrnn package)")
    parser.add_argument("after", help="the second source tree")
    parser.add_argument("run", help="a finished run directory")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    trees = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    times = {(cmd, tree): [] for cmd in ("predict", "export") for tree in trees}
    with tempfile.TemporaryDirectory(prefix="rowrnn-cmdtime-") as tmp:
        for i in range(args.rounds):
            for cmd in ("predict", "export"):
                for tree, src in trees.items():
                    rest = (["--test-index", "0"] if cmd == "predict" else
                            ["--out", str(Path(tmp) / f"{tree}-{i}.onnx")])
                    start = time.perf_counter()
                    done = subprocess.run([sys.executable, "-m", "rowrnn", cmd, args.run, *rest], capture_output=True,
                                          text=True, env=dict(os.environ, PYTHONPATH=src))
                    times[(cmd, tree)].append(time.perf_counter() - start)
                    if done.returncode:
                        print(f"{cmd} ({tree}) failed: {done.stderr.strip()}", file=sys.stderr)
                        return 1
    for (cmd, tree), seconds in times.items():
        print(f"{cmd:8s} {tree:7s} median {statistics.median(seconds):.2f} s  runs {[round(s, 2) for s in seconds]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
