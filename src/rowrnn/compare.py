"""Train several presets (and seeds) into their own run directories and rank them on the test set.

    rows = run_compare(["notebook", "tiny", "cnn"], seeds=[0], out="runs/compare")
    write_leaderboard("runs/compare", rows)   # leaderboard.md/.csv/.json, leaderboard.png, leaderboard-minutes.png

Each run is an ordinary `rowrnn train` process (its own threads and memory, and a command that
reproduces its row), `parallel` at a time from a thread pool; a finished run directory is reused,
an unfinished one resumed. SIGINT/SIGTERM reach the trainings too: each stops after its current
step with its last epoch saved, and compare exits with the signal's code.
"""
from __future__ import annotations

import csv
import io
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

from . import files, sequential
from .config import PRESETS, build_config, preset_dataset
from .datasets import dataset_of
from .errors import Interrupted, RowrnnError, python_api
from .models import parameter_count
from .runs import CONFIG_FILE, config_differences, load_config, load_run, run_status
from .signals import on_signals

# The official Fashion-MNIST benchmark's rows, for context (not measured here).
REFERENCES = {"GRU+SVM (official benchmark)": 0.897, "2-conv CNN <100K params (official benchmark)": 0.925,
              "human (official benchmark)": 0.835}
# time to accuracy (issue 20): the minutes of training until the validation metric first reached each threshold.
# The validation metric is evaluation.MacroAccuracy (lifecycle._build): the thresholds are of validation MACRO
# accuracy (the mean of the per-class recalls over the classes present: all ten in Fashion-MNIST, where it is
# torchmetrics' MulticlassAccuracy average="macro" bit for bit; on its balanced classes it is close to, but not
# the same number as, the plain accuracy the test columns report).
THRESHOLDS = (0.90, 0.91, 0.92)
TIME_TO_ACCURACY_COLUMNS = tuple(f"minutes_to_val_{t:.2f}" for t in THRESHOLDS)
COLUMNS = ("preset", "seed", "test_accuracy", "test_macro_accuracy", "test_accuracy_flip_tta", "best_val_metric",
           "parameters", "train_minutes", "wall_minutes", "epoch_seconds", "epochs", *TIME_TO_ACCURACY_COLUMNS,
           "command")
WALL_FILE = "wall-seconds.json"   # compare's own record: the whole `rowrnn train` process of each run it trained
MARKER_FILE = ".rowrnn-compare"   # written when compare claims a folder: what it may write over there is its own
MARKER = {"format": "rowrnn.compare", "version": 1}
LEADERBOARD_FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.png",
                     "leaderboard-minutes.png", "leaderboard-pareto.png", *sequential.FILES)


PUBLISHED_COMMAND = ("rowrnn compare --presets notebook,stacked,tiny,fast,mingru,bilstm,cnn@0,pixels@0,"
                     "permuted-pixels@0 --seeds 0,1,2 --parallel 1 --out runs/leaderboard")


def published_leaderboard() -> list[dict]:
    """The leaderboard rowrnn publishes, shipped with the package: one row per (preset, seed) run, with the
    keys of COLUMNS (test_accuracy and test_accuracy_flip_tta as fractions, train_minutes and wall_minutes
    in minutes, epoch_seconds in seconds, command: the `rowrnn train` that made the run).

    Measured on a 2-core CPU, Fashion-MNIST's 10,000 test images read once per run, by

        rowrnn compare --presets notebook,stacked,tiny,fast,mingru,bilstm,cnn@0,pixels@0,permuted-pixels@0 \\
                       --seeds 0,1,2 --parallel 1 --out runs/leaderboard

    (PUBLISHED_COMMAND), whose leaderboard.json/.csv are results/ in rowrnn's repository and, byte for byte,
    rowrnn/published/ in the package: no network needed (lesson 03 reads it). Feed it to summarize(),
    leaderboard_markdown() or plots.plot_leaderboard() as rows of your own. Its rows carry the minutes to
    0.90 / 0.91 / 0.92 validation macro accuracy (TIME_TO_ACCURACY_COLUMNS, None where a run never got there);
    rows of leaderboards measured before those columns existed lack them, and the readers show "n/a".
    """
    from importlib import resources
    data = (resources.files(__package__) / "published" / "leaderboard.json").read_bytes()
    return files.parse_json(data, "rowrnn's published leaderboard (rowrnn/published/leaderboard.json)")


def parse_presets(items, seeds) -> list[tuple[str, int]]:
    """['notebook', 'pixels@0'] with seeds [0, 1, 2] -> (preset, seed) pairs; PRESET@S1+S2 gives a preset its own seeds.
    Raises RowrnnError for a seed that is not an integer."""
    pairs = []
    for item in items:
        name, _, own = item.partition("@")
        try:
            chosen = [int(s) for s in own.split("+")] if own else list(seeds)
        except ValueError:
            raise RowrnnError(f"{item!r}: write PRESET@SEED, e.g. pixels@0 or tiny@0+1") from None
        pairs += [(name, s) for s in chosen]
    return pairs


def compare_train_argv(preset: str, seed: int, run_dir: Path, data_dir=None, extra=()) -> list[str]:
    """The argv of the `rowrnn train` process that trains one (preset, seed) into run_dir, quietly; extra: more
    train flags (see _extra_flags). Not lifecycle.train_command, which writes the command reproducing a config."""
    return ["rowrnn", "train", "--preset", preset, "--seed", str(seed), "--out", str(run_dir), "--quiet",
            *(["--data-dir", str(data_dir)] if data_dir else []), *extra]


def _extra_flags(overrides: dict) -> list[str]:
    """The train flags for compare's overrides (a whole-run --epochs, --no-verify)."""
    return [*(["--epochs", str(overrides["epochs"])] if "epochs" in overrides else []),
            *(["--no-verify"] if overrides.get("verify") is False else [])]


def _status(run_dir: Path, preset: str, seed: int, overrides: dict) -> str:
    """'new', 'started', 'trained' or 'finished' for this exact config; refuses a directory holding another."""
    if not files.exists(run_dir / CONFIG_FILE):
        return "new"
    cfg = load_config(run_dir)
    diffs = config_differences(cfg, build_config(preset, {"seed": seed, **overrides}))
    if diffs:
        raise RowrnnError(f"{run_dir} holds a run with another config ({'; '.join(diffs)}): choose another --out")
    return run_status(run_dir, cfg)


def _duplicates(values) -> list:
    return sorted({v for v in values if list(values).count(v) > 1}, key=str)


def check_request(presets, seeds, parallel: int) -> list[tuple[str, int]]:
    """The (preset, seed) pairs to train, every one checked (names, duplicates, configs, sizes) before any starts.
    Raises RowrnnError naming the first problem: an unknown or repeated preset or seed, --parallel < 1, a config
    RunConfig.validate refuses."""
    names = [p.partition("@")[0] for p in presets]
    unknown = [p for p in names if p not in PRESETS]
    if unknown or not presets:
        raise RowrnnError(f"unknown presets {unknown}: choose from {', '.join(PRESETS)}")
    if not seeds:
        raise RowrnnError("no seeds given: e.g. --seeds 0,1,2")
    for flag, values in (("--presets", names), ("--seeds", seeds)):
        if _duplicates(values):
            raise RowrnnError(f"{flag} names {', '.join(map(str, _duplicates(values)))} more than once: "
                              "list each once")
    if parallel < 1:
        raise RowrnnError(f"--parallel must be at least 1, got {parallel}")
    datasets = {}
    for name in names:
        datasets.setdefault(preset_dataset(name), []).append(name)
    if len(datasets) > 1:
        # one leaderboard ranks its runs on one test set (and one --data-dir): two datasets are two leaderboards
        raise RowrnnError("--presets mixes datasets (" + "; ".join(f"{d}: {', '.join(p)}" for d, p in datasets.items())
                          + "): one leaderboard ranks runs on one test set: compare them in separate commands "
                          "with separate --out")
    pairs = parse_presets(presets, seeds)
    for preset, seed in pairs:
        build_config(preset, {"seed": seed})
    return pairs


@contextmanager
def _forward_signals(children: dict, lock, stopping: threading.Event):
    """SIGINT/SIGTERM: start no more trainings, pass the signal on to the running ones, then stop compare with it."""
    def handler(signum, frame):
        stopping.set()
        with lock:
            for proc in children.values():
                if proc.poll() is None:
                    proc.send_signal(signum)
        raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name}; each training stopped with its "
                                  "last completed epoch saved: run the same rowrnn compare to continue")

    with on_signals(handler):
        yield


@python_api(names={"--presets": "presets", "--seeds": "seeds", "--parallel": "parallel", "--out": "out"})
def run_compare(presets, seeds=(0,), out="runs/compare", parallel: int = 1, data_dir=None, overrides=None,
                log=None) -> list[dict]:
    """Train every (preset, seed) not yet finished, `parallel` processes at a time; one leaderboard row each.

    overrides: {"epochs": N} and/or {"verify": False}, applied to every preset. Raises RowrnnError for a request
    check_request refuses, an `out` that is not compare's, or a training that failed (with its last error line);
    Interrupted when a signal stops them."""
    pairs = check_request(list(presets), list(seeds), parallel)
    say = log or (lambda message: None)
    overrides = dict(overrides or {})
    extra = _extra_flags(overrides)
    out = Path(out)
    check_output(out)
    _read_wall(out)  # a damaged or foreign record is refused now, not after hours of training
    jobs = [(p, s, out / f"{p}-seed{s}") for p, s in pairs]
    status = {run_dir: _status(run_dir, p, s, overrides) for p, s, run_dir in jobs}
    claim_output(out)
    threads = str(max(1, (os.cpu_count() or 1) // parallel))
    children, lock, stopping = {}, threading.RLock(), threading.Event()  # RLock: the handler may run inside it

    def train(job):
        preset, seed, run_dir = job
        cmd = compare_train_argv(preset, seed, run_dir, data_dir, extra)
        if status[run_dir] != "new":
            cmd = ["rowrnn", "train", "--resume", str(run_dir), "--quiet",
                   *(["--data-dir", str(data_dir)] if data_dir else [])]
        with lock:
            if stopping.is_set():
                return job, None, "", ""
            say(f"{preset} seed {seed}: {shlex.join(cmd)}")
            proc = subprocess.Popen([sys.executable, "-m", "rowrnn", *cmd[1:]], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": threads})
            children[run_dir] = proc
            start = time.perf_counter()
        stdout, stderr = proc.communicate()
        if proc.returncode == 0 and status[run_dir] == "new":  # trained in one go: its whole wall time is known
            with lock:
                wall = _read_wall(out)
                files.write_json(out / WALL_FILE, {**wall, run_dir.name: time.perf_counter() - start})
        return job, proc.returncode, stdout, stderr

    pending = []
    for job in jobs:
        if status[job[2]] == "finished":
            say(f"{job[0]} seed {job[1]}: done before, reusing {job[2]}")
        else:
            pending.append(job)
    with _forward_signals(children, lock, stopping), ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in as_completed([pool.submit(train, job) for job in pending]):
            (preset, seed, run_dir), code, stdout, stderr = future.result()
            if code == 0:
                say(f"{preset} seed {seed}: {(stdout.strip().splitlines() or [''])[-1]}")
                continue
            if code is None:
                continue
            with lock:
                stopping.set()
                for proc in children.values():
                    if proc.poll() is None:
                        proc.terminate()
            last = (stderr.strip().splitlines() or [f"exit code {code}"])[-1]
            raise RowrnnError(f"training {preset} (seed {seed}) failed: {last.removeprefix('rowrnn: error: ')}")
    from .evaluation import load_test_set
    test_set = load_test_set(load_run(jobs[0][2]), data_dir)
    return [leaderboard_row(run_dir, preset, seed, data_dir, extra, test_set) for preset, seed, run_dir in jobs]


def check_output(out) -> None:
    """compare writes only into a folder of its own, as `train --out` does: a new or empty one, or one that
    compare claimed before (its marker file; or, made by a rowrnn that wrote no marker, holding nothing but
    compare's own files and at least one of its <preset>-seed<N> runs). Anything else -- the user's own
    leaderboard.md, a run, a file -- is refused before anything is trained or written."""
    out = Path(out)
    kind = files.kind_of(out) if files.exists(out) else None
    if kind is None:
        return
    if kind != "a directory":
        raise RowrnnError(f"{out}: is {kind}, not a directory: choose another --out")
    files.check_readable_dir(out)
    if files.exists(out / CONFIG_FILE):
        raise RowrnnError(f"{out} holds a run: compare needs a directory of its own for its runs and "
                          "leaderboard: choose another --out")
    if not os.access(out, os.W_OK):
        raise RowrnnError(f"{out}: permission denied: make it writable, or choose another --out")
    try:
        entries = sorted(e.name for e in os.scandir(out))
    except OSError as e:
        raise RowrnnError(f"{out}: cannot list it ({files.describe(e)}): choose another --out") from None
    if MARKER_FILE in entries:
        marker = out / MARKER_FILE
        content = files.read_json(marker) if files.is_regular_file(marker) else None
        if not isinstance(content, dict) or content.get("format") != MARKER["format"]:
            raise RowrnnError(f"{marker}: is not rowrnn compare's marker: remove it, or choose another --out")
        return
    runs_here = [n for n in entries if _is_compare_run(out / n)]
    foreign = [n for n in entries if n not in (*LEADERBOARD_FILES, WALL_FILE) and n not in runs_here]
    if entries and (foreign or not runs_here):
        first = (foreign or entries)[0]
        more = len(foreign or entries) - 1
        raise RowrnnError(f"{out} is not empty and is not a folder rowrnn compare made (it holds {first!r}"
                          f"{f' and {more} more' if more else ''}): compare never writes over files it did not "
                          "write; choose a new or empty directory for --out")


def _is_compare_run(path: Path) -> bool:
    """A <preset>-seed<N> directory holding a run: what compare trains into."""
    name, _, seed = path.name.rpartition("-seed")
    return name in PRESETS and seed.isdigit() and files.is_dir(path) and files.exists(path / CONFIG_FILE)


def claim_output(out) -> None:
    """Mark out (created if needed) as compare's, after check_output accepted it. Raises RowrnnError when out
    cannot be created."""
    out = Path(out)
    if files.is_regular_file(out / MARKER_FILE):
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RowrnnError(f"{out}: cannot create it ({files.describe(e)}): choose another --out") from None
    files.write_json(out / MARKER_FILE, MARKER)


def _read_wall(out: Path) -> dict:
    """compare's record of each run's wall seconds ({} when absent); anything else in its place is refused."""
    path = Path(out) / WALL_FILE
    if not files.exists(path):
        return {}
    try:
        wall = files.read_json(path, limit=2**20)
    except RowrnnError:
        wall = None   # unreadable, damaged or not JSON: the same answer as any other foreign content
    if not isinstance(wall, dict) or not all(isinstance(k, str) and isinstance(v, (int, float))
                                             and not isinstance(v, bool) and v >= 0 for k, v in wall.items()):
        raise RowrnnError(f"{path}: not compare's record of wall seconds (an object of run name -> seconds): "
                          "remove it (only the wall-minutes column is lost), or choose another --out")
    return wall


def minutes_to_accuracy(history: dict, thresholds=THRESHOLDS, *, start_minutes: float = 0.0) -> list[float | None]:
    """For each threshold, the minutes of training until the validation macro accuracy first reached it: the
    epochs' seconds (history["seconds"]) summed through the first epoch whose history["val_metric"] (macro
    accuracy) is >= the threshold,
    divided by 60, plus start_minutes (a distilled run's teacher: the student could not start before it); None
    when no epoch reached it. Start-up and finishing are not in the epochs' seconds (wall_minutes has them)."""
    seconds, metric = history.get("seconds", []), history.get("val_metric", [])
    out = []
    for threshold in thresholds:
        elapsed, reached = 0.0, None
        for s, value in zip(seconds, metric):
            elapsed += s
            if value is not None and value >= threshold:
                reached = start_minutes + elapsed / 60
                break
        out.append(reached)
    return out


def leaderboard_row(run_dir: Path, preset: str, seed: int, data_dir=None, extra=(), test_set=None) -> dict:
    """One run's row: its metrics.json, the minutes to each validation macro-accuracy threshold
    (minutes_to_accuracy), and --
    measured here, explicitly, in a column of its own -- the accuracy with test-time flip averaging (rowrnn
    evaluate --tta flip). A distilled run's minutes (train, wall, to each threshold) include its teacher's
    training. Raises RowrnnError for a run that has not finished (no metrics.json) or whose metrics are damaged."""
    from .evaluation import evaluate_run
    from .runs import run_minutes
    run = load_run(run_dir)
    if run.status != "finished":
        raise RowrnnError(f"{run_dir}: not a finished run: continue it with rowrnn train --resume {run_dir}")
    m = run.metrics
    flip = evaluate_run(run_dir, "best", test_set=test_set, data_dir=data_dir, tta="flip")[0]
    seconds = run.history.get("seconds", [])
    minutes = run_minutes(run)          # minutes.teacher: 0 unless it was distilled
    info = dataset_of(run.config)       # its classes and image size size its head and input layer
    wall = _read_wall(run_dir.parent).get(run_dir.name)
    return {"preset": preset, "seed": seed, "test_accuracy": m["accuracy"], "test_macro_accuracy": m["macro_accuracy"],
            "test_accuracy_flip_tta": flip["accuracy"],
            "best_val_metric": m.get("best_val_metric"),
            "parameters": parameter_count(run.config.model, num_classes=info.num_classes, image_size=info.image_size),
            "train_minutes": minutes.total,
            "wall_minutes": wall / 60 + minutes.teacher if isinstance(wall, (int, float)) else None,
            "epoch_seconds": statistics.median(seconds) if seconds else 0.0, "epochs": len(seconds),
            **dict(zip(TIME_TO_ACCURACY_COLUMNS, minutes_to_accuracy(run.history, start_minutes=minutes.teacher))),
            "command": shlex.join(compare_train_argv(preset, seed, run_dir, data_dir, extra))}


def _time_to_accuracy(group: list[dict], column: str) -> dict | None:
    """A preset's minutes to one threshold over its seeds: {"minutes": mean over the seeds that reached it, or
    None if none did, "reached": how many did, "seeds": how many there are}; None when the rows do not record
    it (a leaderboard made before the column existed)."""
    if any(column not in r for r in group):
        return None
    reached = [r[column] for r in group if r[column] is not None]
    return {"minutes": statistics.mean(reached) if reached else None, "reached": len(reached), "seeds": len(group)}


def summarize(rows: list[dict]) -> list[dict]:
    """One line per preset: mean test accuracy over seeds, the seeds' spread, the rest as means; each seed's test
    accuracy, best validation macro accuracy and training minutes ("*_each", for the seeds' spread); the minutes
    to each validation macro-accuracy threshold as _time_to_accuracy gives them, under "minutes_to_val" (one per THRESHOLDS)."""
    out = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        group = [r for r in rows if r["preset"] == preset]
        acc = [r["test_accuracy"] for r in group]
        flips = [r.get("test_accuracy_flip_tta") for r in group]
        out.append({"preset": preset, "seeds": [r["seed"] for r in group], "test_accuracy": statistics.mean(acc),
                    "test_accuracy_each": acc, "spread": max(acc) - min(acc),
                    "test_macro_accuracy": statistics.mean(r["test_macro_accuracy"] for r in group),
                    "test_accuracy_flip_tta": statistics.mean(flips) if None not in flips else None,
                    "parameters": group[0]["parameters"],
                    "train_minutes": statistics.mean(r["train_minutes"] for r in group),
                    "train_minutes_each": [r["train_minutes"] for r in group],
                    "best_val_metric_each": [r.get("best_val_metric") for r in group],
                    "wall_minutes": (statistics.mean(r["wall_minutes"] for r in group)
                                     if all(r.get("wall_minutes") is not None for r in group) else None),
                    "epoch_seconds": statistics.mean(r["epoch_seconds"] for r in group),
                    "epochs": statistics.mean(r.get("epochs", 0) for r in group),
                    "minutes_to_val": [_time_to_accuracy(group, c) for c in TIME_TO_ACCURACY_COLUMNS]})
    return sorted(out, key=lambda r: -r["test_accuracy"])


def _minutes_cell(entry: dict | None) -> str:
    """'3.2' (every seed reached it: their mean), '3.2 (2/3)' (some did: their mean, how many), '—' (none did),
    'n/a' (not recorded)."""
    if entry is None:
        return "n/a"
    if entry["minutes"] is None:
        return "—"
    some = f" ({entry['reached']}/{entry['seeds']})" if entry["reached"] < entry["seeds"] else ""
    return f"{entry['minutes']:.1f}{some}"


def leaderboard_markdown(rows: list[dict]) -> str:
    """The leaderboard as a Markdown table, one line per preset (rows: one dict per run, COLUMNS as keys), best
    mean test accuracy first, then the command that trained each run. The 'min to val' columns: training
    minutes until the validation macro accuracy first reached 0.90 / 0.91 / 0.92 (mean of the seeds that did; '—':
    none did; 'n/a': rows from before these columns)."""
    thresholds = " | ".join(f"min to val {t:.2f}" for t in THRESHOLDS)
    lines = ["| preset | seeds | test accuracy | each seed | macro accuracy | flip TTA (separate) | parameters "
             f"| epochs | train min | wall min | s/epoch | {thresholds} |",
             "|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|" + "--:|" * len(THRESHOLDS)]
    for r in summarize(rows):
        each = ", ".join(f"{a:.4f}" for a in r["test_accuracy_each"])
        flip = f"{r['test_accuracy_flip_tta']:.4f}" if r["test_accuracy_flip_tta"] is not None else "–"
        wall = f"{r['wall_minutes']:.1f}" if r["wall_minutes"] is not None else "–"
        lines.append(f"| {r['preset']} | {', '.join(map(str, r['seeds']))} | {r['test_accuracy']:.4f} | {each} | "
                     f"{r['test_macro_accuracy']:.4f} | {flip} | {r['parameters']:,} | {r['epochs']:g} | "
                     f"{r['train_minutes']:.1f} | {wall} | {r['epoch_seconds']:.1f} | "
                     + " | ".join(_minutes_cell(e) for e in r["minutes_to_val"]) + " |")
    lines += ["", _reference_line(rows), "", "Commands:", ""]
    lines += [f"- `{r['command']}`" for r in rows]
    return "\n".join(lines)


def _dataset_of_rows(rows: list[dict]) -> str:
    """The dataset the rows' presets train on (compare refuses to mix them; Fashion-MNIST for no rows)."""
    return preset_dataset(rows[0]["preset"]) if rows else preset_dataset("notebook")


def _is_sequential_benchmark(rows: list[dict]) -> bool:
    """Whether every row is a run of the sequential-MNIST presets (rowrnn.sequential.BENCHMARKS)."""
    return bool(rows) and all(r["preset"] in sequential.BENCHMARKS for r in rows)


def _reference_line(rows: list[dict]) -> str:
    """The published rows the leaderboard's runs compare with: Fashion-MNIST's official benchmark, the sequential
    MNIST papers' (their sources in sequential-mnist.md), or none for another dataset -- never another dataset's."""
    if _is_sequential_benchmark(rows):
        return ("Reference rows (published sequential MNIST results, sMNIST / psMNIST test accuracy %, not measured "
                "here; each with its source in sequential-mnist.md): "
                + ", ".join(f"{r['model']} {r['smnist']} / {r['psmnist']}" for r in sequential.REFERENCES) + ".")
    dataset = _dataset_of_rows(rows)
    if dataset != preset_dataset("notebook"):
        return f"No reference rows for {dataset} in this leaderboard."
    return ("Reference rows (official Fashion-MNIST benchmark, not measured here): "
            + ", ".join(f"{k.split(' (')[0]} {v:.3f}" for k, v in REFERENCES.items()) + ".")


@python_api(names={"--out": "out"})
def write_leaderboard(out, rows: list[dict]) -> dict:
    """leaderboard.md/.csv/.json and the figures leaderboard.png, leaderboard-minutes.png (every run) and
    leaderboard-pareto.png (one point per preset, the seeds' spread, the presets' Pareto front) in `out`, and for
    the sequential-MNIST presets alone also sequential-mnist.json/.md (rowrnn.sequential.write_benchmark: these runs
    beside the published rows); their paths. The Fashion-MNIST reference lines are drawn only on its runs."""
    from .plots import plot_accuracy_vs_minutes, plot_leaderboard, plot_pareto_presets
    out = Path(out)
    check_output(out)
    claim_output(out)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    paths = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "json": out / "leaderboard.json",
             "png": out / "leaderboard.png", "minutes_png": out / "leaderboard-minutes.png",
             "pareto_png": out / "leaderboard-pareto.png"}
    # backslashreplace: a run path that is not UTF-8 appears in the commands as \xff instead of failing the write
    files.atomic_write(paths["md"], (leaderboard_markdown(rows) + "\n").encode("utf-8", "backslashreplace"))
    files.atomic_write(paths["csv"], buffer.getvalue().encode("utf-8", "backslashreplace"))
    files.write_json(paths["json"], rows)
    summary = summarize(rows)
    references = REFERENCES if _dataset_of_rows(rows) == preset_dataset("notebook") else {}
    for key, fig in (("png", plot_leaderboard(summary, references)), ("minutes_png", plot_accuracy_vs_minutes(rows)),
                     ("pareto_png", plot_pareto_presets(summary))):
        files.save_figure(paths[key], fig)
    if _is_sequential_benchmark(rows):
        paths.update({f"sequential_{k}": v for k, v in
                      sequential.write_benchmark(out, sequential.benchmark_table(rows, out)).items()})
    return paths
