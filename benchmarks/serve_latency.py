"""How fast `rowrnn serve` starts and answers: the targets are a start under 5 s and one image with all its
steps and hidden states under 100 ms, for every preset, on the project's CPU.

    python benchmarks/serve_latency.py runs/leaderboard --json benchmarks/results-serve.json

RUNS_DIR holds one finished run per preset (rowrnn compare's layout, <preset>-seed0). Latency: POST /api/predict
of one PNG through the app in-process (Starlette's test client: decoding, every step, hidden states, JSON),
median and 90th percentile of 30 requests after 3 warm-up ones. Start-up: `rowrnn serve` with every one of those runs,
as a new process, from launch until the page answers, median of 3 starts.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image


def latency(run: Path, png: bytes, repeats: int = 30) -> dict:
    from starlette.testclient import TestClient

    from rowrnn.serve import create_app
    client = TestClient(create_app([run]), base_url="http://127.0.0.1")   # a Host serve answers (its DNS-rebinding check)
    seconds = []
    for i in range(3 + repeats):
        start = time.perf_counter()
        response = client.post("/api/predict", content=png, headers={"Content-Type": "image/png"})
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.text
        if i >= 3:
            seconds.append(elapsed)
    steps = response.json()["models"][0]["steps"]
    seconds.sort()
    return {"median_ms": 1000 * statistics.median(seconds), "p90_ms": 1000 * seconds[int(0.9 * len(seconds)) - 1],
            "steps": len(steps) if steps else 0, "bytes": len(response.content)}


def startup(runs: list[Path], repeats: int = 3) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", *map(str, runs), "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = re.search(r"http://\S+/", proc.stdout.readline()).group(0)
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.01)
        seconds.append(time.perf_counter() - start)
        proc.terminate()
        proc.communicate(timeout=30)
    return statistics.median(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path, help="a directory of finished runs named <preset>-seed0")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from rowrnn.config import PRESETS
    from rowrnn.data import load_fashion_mnist
    _, test = load_fashion_mnist()
    buffer = io.BytesIO()
    Image.fromarray(test.images[0].numpy()).save(buffer, format="PNG")
    png = buffer.getvalue()
    result = {"machine": {"cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                                       .splitlines() if line.startswith("model name")), "?"),
                          "cpus": len(os.sched_getaffinity(0))},
              "presets": {}}
    for preset in PRESETS:
        run = args.runs_dir / f"{preset}-seed0"
        if not (run / "config.json").exists():
            print(f"{preset}: no run at {run}, skipped", file=sys.stderr)
            continue
        result["presets"][preset] = latency(run, png)
        print(f"{preset}: {result['presets'][preset]}", file=sys.stderr, flush=True)
    served = [args.runs_dir / f"{preset}-seed0" for preset in result["presets"]]
    result["startup_s"] = startup(served)                  # the worst case: every preset's run in one page
    lines = ["| preset | steps | one image, all steps and hidden states: median ms | p90 ms | JSON bytes |",
             "|---|--:|--:|--:|--:|"]
    for preset, r in result["presets"].items():
        lines.append(f"| {preset} | {r['steps']} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['bytes']:,} |")
    lines.append(f"\n`rowrnn serve` with all {len(served)} runs, launch to first page (median of 3): "
                 f"{result['startup_s']:.2f} s")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
