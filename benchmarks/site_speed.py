"""The static site's weight and speed, measured in Chromium (issue 27, item 5): what `rowrnn site` writes and
how fast the page it writes reads, from a plain static server on 127.0.0.1.

    OMP_NUM_THREADS=1 python benchmarks/site_speed.py --untrained /tmp/site-runs --data-dir DIR   # every preset
    OMP_NUM_THREADS=1 python benchmarks/site_speed.py RUN [RUN ...] --data-dir DIR          # your runs

Measured:
- bytes by part (runtime, models, images, code: the page's files, manifest and first reading) of a two-run site
  (--pair, default the notebook and pixels runs), raw and gzipped (level 6, each file on its own, as a host
  that compresses sends them: nginx's gzip, Apache's mod_deflate, GitHub Pages);
- the time from opening the page (a fresh browser context: nothing cached) to the precomputed reading on screen
  and to the first reading computed in the page (both runs), median over --repeats;
- for every run, a one-run site: the time from opening it to its first reading (nothing cached: loading the
  runtime and the graph dominate; median over --repeats openings, one alone varied by a second under load), the
  time of one reading of a test image as the page computes it (the engine's predictTestImage: one onnxruntime-web
  call, its outputs made into the page's numbers), and of occlusion's one batched call (explain), medians over
  --repeats images after one warm-up.

--untrained DIR writes one run per Fashion-MNIST preset with untrained weights (torch.manual_seed(0)): the
timing and the sizes do not depend on training. Timings are of this machine's Chromium, one wasm thread; the
load average is printed with them. The results are written as JSON (--json) and printed as the README's table.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PARTS = ("runtime", "models", "images", "code")


def make_untrained(root: Path, presets) -> list[Path]:
    """One run directory per preset under root (config.json and best.safetensors, seed 0, not trained)."""
    import torch

    from rowrnn import runs
    from rowrnn.config import build_config
    from rowrnn.models import build_model
    made = []
    for preset in presets:
        run_dir = root / preset
        if not (run_dir / "best.safetensors").exists():
            cfg = build_config(preset)
            torch.manual_seed(0)
            model = build_model(cfg.model)
            run_dir.mkdir(parents=True, exist_ok=True)
            runs.start_run(run_dir, cfg)
            runs.save_weights(run_dir / "best.safetensors", model.state_dict())
        made.append(run_dir)
    return made


def part_of(relative: str) -> str:
    """Which part of a site a file is (its path inside the site)."""
    if relative.startswith("ort/"):
        return "runtime"
    if relative.startswith("models/"):
        return "models"
    if relative == "test-images.bin":
        return "images"
    return "code"


def site_bytes(site: Path) -> dict:
    """{part: {"raw", "gzip"}} in bytes, plus "total"; gzip: each file at level 6, as a compressing host sends it."""
    sizes = {part: {"raw": 0, "gzip": 0} for part in (*PARTS, "total")}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        data = path.read_bytes()
        packed = len(gzip.compress(data, compresslevel=6, mtime=0))
        for part in (part_of(path.relative_to(site).as_posix()), "total"):
            sizes[part]["raw"] += len(data)
            sizes[part]["gzip"] += packed
    return sizes


@contextlib.contextmanager
def static_server(folder: Path):
    """A plain static file server on 127.0.0.1 (a thread) -> its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def fresh_page(browser, base: str):
    """A new context (empty cache) whose requests to other origins are aborted; -> (context, page, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
    problems = []

    def only_here(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            problems.append(f"request to another origin: {route.request.url}")
            route.abort()

    context.route("**/*", only_here)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    return context, page, problems


def first_reading_ms(browser, base: str) -> tuple[float, float]:
    """(ms to the precomputed reading on screen, ms to the first reading computed in the page) from navigation.

    Both are read in the page: the first when the check that sees it runs (every 5 ms), the second as the engine
    wrote it (?debug=engine's first_reading_ms). A performance.now() asked afterwards waits for whatever the page
    does next on its one thread, and right after the first reading it starts occlusion's batched call: the
    bilstm's 8.8 s first reading of the first measurement was mostly its 5 s of occlusion."""
    context, page, problems = fresh_page(browser, base)
    try:
        page.goto(base + "index.html?debug=engine")
        shown = page.wait_for_function("() => !document.getElementById('true-label').hidden && performance.now()",
                                       polling=5, timeout=120_000).json_value()
        live = page.wait_for_function(
            "() => JSON.parse(document.getElementById('engine-debug')?.textContent || 'null')?.first_reading_ms",
            polling=5, timeout=120_000).json_value()
    finally:
        context.close()
    if problems:
        raise RuntimeError("; ".join(problems))
    return shown, live


def reading_ms(browser, base: str, repeats: int) -> dict:
    """Median ms of one reading (predictTestImage) and of occlusion (explain) in the page, over test images
    1..repeats after a warm-up on image 0 (the graph loaded, the wasm compiled)."""
    context, page, problems = fresh_page(browser, base)
    try:
        page.goto(base + "index.html?debug=engine&test=0")
        # the page's own reading and explanation done: nothing of it queued before the calls timed
        page.wait_for_function("() => document.getElementById('engine-debug')?.textContent.includes('\"models\"')"
                               " && !document.querySelector('.attribution-figure.pending')", timeout=300_000)
        times = page.evaluate("""async (repeats) => {
            const engine = await import("./engine-static.js");
            await engine.predictTestImage(0);
            await engine.explain({ test_index: 0 }, 0);
            const read = [], explain = [];
            for (let i = 1; i <= repeats; i++) {
                let start = performance.now();
                await engine.predictTestImage(i);
                read.push(performance.now() - start);
                start = performance.now();
                await engine.explain({ test_index: i }, 0);
                explain.push(performance.now() - start);
            }
            return { read, explain };
        }""", repeats)
    finally:
        context.close()
    if problems:
        raise RuntimeError("; ".join(problems))
    return {"read_ms": statistics.median(times["read"]), "explain_ms": statistics.median(times["explain"])}


def build(run_dirs, out: Path, data_dir, test_images: int) -> dict:
    from rowrnn.site import build_site
    return build_site(run_dirs, out, test_images=test_images, data_dir=data_dir)


def describe(run_dir: Path) -> dict:
    """What a run is, in the table's words."""
    from rowrnn import runs
    from rowrnn.reading import panel_info
    model, run = runs.load_model(run_dir)
    info = panel_info(model, run, run_dir.name)
    return {"run": run_dir.name, "preset": run.config.preset, "read": info.get("read") or "cnn",
            "steps": info.get("steps"), "parameters": info["parameters"]}


def measure(run_dirs, pair, data_dir, repeats: int, test_images: int, work: Path) -> dict:
    from playwright.sync_api import sync_playwright
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "repeats": repeats,
               "torch_threads": 1, "chromium": None, "runs": []}
    two = work / "pair"
    build(pair, two, data_dir, test_images)
    results["pair"] = {"runs": [p.name for p in pair], "bytes": site_bytes(two), "test_images": test_images}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        results["chromium"] = browser.version
        with static_server(two) as base:
            first = [first_reading_ms(browser, base) for _ in range(repeats)]
        results["pair"]["precomputed_ms"] = statistics.median(f[0] for f in first)
        results["pair"]["first_reading_ms"] = statistics.median(f[1] for f in first)
        for run_dir in run_dirs:
            one = work / f"one-{run_dir.name}"
            report = build([run_dir], one, data_dir, max(test_images, repeats + 1))
            with static_server(one) as base:
                first = statistics.median(first_reading_ms(browser, base)[1] for _ in range(repeats))
                timing = {"first_ms": first, **reading_ms(browser, base, repeats)}
            row = describe(run_dir)
            if row["steps"] is None:
                timing["explain_ms"] = None               # a CNN has no steps to explain
            results["runs"].append({**row, **timing, "model_bytes": report["bytes"]["models"]})
            print(f"{run_dir.name}: {timing['read_ms']:.1f} ms a reading, occlusion {timing['explain_ms']} ms",
                  file=sys.stderr)
        browser.close()
    results["load_average_after"] = os.getloadavg()
    return results


def megabytes(n: int) -> str:
    return f"{n / 2**20:.2f} MB"


def format_table(results: dict) -> str:
    """The README's tables (Markdown) from measure's results."""
    lines = [f"Two-run site ({' + '.join(results['pair']['runs'])}, {results['pair']['test_images']} test images):",
             "", "| part | raw | gzipped |", "|---|---:|---:|"]
    for part in (*PARTS, "total"):
        size = results["pair"]["bytes"][part]
        lines.append(f"| {part} | {megabytes(size['raw'])} | {megabytes(size['gzip'])} |")
    lines += ["", f"Opening the page (nothing cached) to the precomputed reading on screen: "
                  f"{results['pair']['precomputed_ms']:.0f} ms; to the first reading computed in the page: "
                  f"{results['pair']['first_reading_ms']:.0f} ms (medians of {results['repeats']}).", "",
              "| run | reads | steps | parameters | model (raw) | first reading (one-run site) | one reading | "
              "occlusion (one batched call) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in results["runs"]:
        lines.append(f"| {row['run']} | {row['read']} | {row['steps'] or '–'} | {row['parameters']:,} | "
                     f"{row['model_bytes'] / 1024:.0f} kB | {row['first_ms'] / 1000:.1f} s | {row['read_ms']:.1f} ms | "
                     + (f"{row['explain_ms']:.1f} ms |" if row["explain_ms"] is not None else "– |"))
    load = ", ".join(f"{v:.2f}" for v in results["load_average"])
    after = ", ".join(f"{v:.2f}" for v in results["load_average_after"])
    lines += ["", f"Chromium {results['chromium']}, {results['cpus']} CPUs, load average {load} before and {after} "
                  "after; medians over the repeats."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="run directories to time (one site each)")
    parser.add_argument("--untrained", type=Path, metavar="DIR",
                        help="write one untrained run per preset into DIR and time those (added to RUN)")
    parser.add_argument("--pair", nargs=2, type=Path, metavar="RUN",
                        help="the two runs of the site whose bytes and first reading are measured (default: the "
                             "untrained notebook and pixels runs, else the first two RUNs)")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files (test images)")
    parser.add_argument("--repeats", type=int, default=7, help="images (and page openings) to take medians over")
    parser.add_argument("--test-images", type=int, default=1000, help="test images each site carries")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    run_dirs = list(args.runs)
    if args.untrained:
        from rowrnn.config import PRESETS, DataConfig, preset_dataset
        # the presets of the default dataset (Fashion-MNIST): a site carries its runs' test images, from --data-dir
        # (smnist and psmnist are the pixels presets' graphs on MNIST: the same sizes and times)
        untrained = make_untrained(args.untrained, [p for p in PRESETS if preset_dataset(p) == DataConfig.dataset])
        run_dirs += untrained
        pair = args.pair or [args.untrained / "notebook", args.untrained / "pixels"]
    else:
        pair = args.pair or run_dirs[:2]
    if len(pair) != 2:
        parser.error("name two runs (RUN RUN, --pair or --untrained) for the two-run site")
    with tempfile.TemporaryDirectory(prefix="site-speed-") as work:
        results = measure(run_dirs, pair, args.data_dir, args.repeats, args.test_images, Path(work))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
