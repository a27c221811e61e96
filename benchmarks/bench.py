"""Seconds per full epoch (train + validation), three ways -- a development benchmark, not part of the package.

(a) the notebook pipeline: a per-sample PIL/ToTensor/Normalize Dataset behind two DataLoaders;
(b) rowrnn's own trainer, `lifecycle.train_epochs`, the loop `rowrnn train` runs (its own per-epoch seconds);
(c) the compute limit: the same model and optimizer over batches built once, nothing else.
With --user-epoch ROUNDS: the epoch as the user gets it (whole `rowrnn train` runs, every write included)
beside (b) and (c), in one run, rounds interleaved.

    python benchmarks/bench.py --epochs 5 --json benchmarks/results-cpu.json
    result = run_benchmark(configs=["notebook"], epochs=3)      # from Python, with benchmarks/ on sys.path
    print(format_table(result))     # Markdown: s/epoch of (a), (b), (c), a/b, b/c, inference img/s
    python benchmarks/bench.py --user-epoch 3 --configs notebook      # user's epoch vs (b) and (c)
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split

from rowrnn.config import build_config
from rowrnn.constants import MEAN, STD
from rowrnn.data import load_fashion_mnist, normalize
from rowrnn.devices import DEVICES, resolve_device
from rowrnn.errors import RowrnnError
from rowrnn.evaluation import predict_logits
from rowrnn.models import build_model, count_parameters
from rowrnn.optim import make_optimizer
from rowrnn.lifecycle import train_epochs
from rowrnn.training import split_indices, train_one_epoch, validate

# name -> (description, preset, overrides)
BENCH_CONFIGS: dict[str, tuple[str, str, dict]] = {
    "notebook": ("the course notebook: RNN-8, batch 1024, 10% validation", "notebook", {}),
    "stacked": ("three stacked RNN-8 layers", "stacked", {}),
    "gru128": ("the notebook with a GRU-128 cell", "notebook", {"cell": "gru", "hidden_size": 128}),
}
WARMUP_EPOCHS = 1  # untimed: first-touch allocations, thread pools, DataLoader start-up
WAYS = ("notebook_pipeline", "rowrnn", "compute_limit")
HEADER = ("config", "params", "(a) notebook pipeline s/epoch", "(b) rowrnn s/epoch",
          "(c) compute limit s/epoch", "a/b", "b/c", "inference img/s")


# ----------------------------------------------------------------------------- (a) the notebook pipeline

def _to_tensor_normalize(img) -> torch.Tensor:
    """torchvision's ToTensor() then Normalize((0.5,), (0.5,)) on one PIL 'L' image, step for step."""
    x = torch.from_numpy(np.array(img, np.uint8, copy=True))                   # (28, 28) uint8
    x = x.view(img.size[1], img.size[0], 1).permute(2, 0, 1).contiguous()    # (28, 28) -> (1, 28, 28)
    x = x.to(torch.float32).div(255)
    mean, std = torch.as_tensor((MEAN,)), torch.as_tensor((STD,))
    return x.sub_(mean[:, None, None]).div_(std[:, None, None])


def _notebook_transform():
    try:
        from torchvision import transforms
    except ImportError:
        return _to_tensor_normalize, "PIL + ToTensor/Normalize re-implemented (torchvision not installed)"
    return (transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]),
            "torchvision ToTensor + Normalize")


class NotebookDataset(Dataset):
    """What torchvision's FashionMNIST does per sample: uint8 tensor -> PIL image -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.data, self.targets, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        img = Image.fromarray(self.data[i].numpy())
        return self.transform(img), int(self.targets[i])


def _timed_epochs(one_epoch, epochs: int, device: torch.device) -> list[float]:
    """Seconds of each of `epochs` calls of one_epoch, after WARMUP_EPOCHS untimed calls."""
    seconds = []
    for i in range(WARMUP_EPOCHS + epochs):
        start = time.perf_counter()
        one_epoch()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= WARMUP_EPOCHS:
            seconds.append(time.perf_counter() - start)
    return seconds


def time_notebook_pipeline(cfg, train_set, epochs: int, device: torch.device) -> list[float]:
    """(a): random_split, two DataLoaders with 2 workers (a new iterator each epoch), the course loop."""
    from torchmetrics.classification import MulticlassAccuracy
    tc = cfg.train
    dataset = NotebookDataset(train_set.images, train_set.labels, _notebook_transform()[0])
    train_part, val_part = random_split(dataset, [1 - tc.val_split, tc.val_split],
                                        generator=torch.Generator().manual_seed(tc.seed))
    train_loader = DataLoader(train_part, batch_size=tc.batch_size, shuffle=True, num_workers=2)
    val_loader = DataLoader(val_part, batch_size=tc.batch_size, shuffle=False, num_workers=2)
    torch.manual_seed(tc.seed)
    model = build_model(cfg.model).to(device)
    optimizer = make_optimizer(model.parameters(), tc)
    criterion, metric = nn.CrossEntropyLoss(), MulticlassAccuracy(num_classes=10).to(device)

    def one_epoch():
        metric.reset()
        train_one_epoch(model, train_loader, criterion, optimizer, metric_fn=metric)
        metric.reset()
        validate(model, val_loader, criterion, metric_fn=metric)

    return _timed_epochs(one_epoch, epochs, device)


# ----------------------------------------------------------------------------- (b) rowrnn, (c) the limit

def time_rowrnn(cfg, train_set, epochs: int, device: str) -> list[float]:
    """(b): `train_epochs` into a throw-away run directory; its own per-epoch seconds, warm-up dropped."""
    cfg = copy.deepcopy(cfg)
    cfg.train.epochs, cfg.train.device = WARMUP_EPOCHS + epochs, device
    with tempfile.TemporaryDirectory(prefix="rowrnn-bench-") as tmp:
        result = train_epochs(cfg, Path(tmp) / "run", train_set=train_set)
    return result.history["seconds"][WARMUP_EPOCHS:]


def time_compute_limit(cfg, train_set, epochs: int, device: torch.device) -> tuple[list[float], nn.Module]:
    """(c): forward/backward/step over normalized batches built once; (seconds, the trained model)."""
    tc = cfg.train
    train_idx, val_idx = split_indices(len(train_set), tc.val_split, tc.seed)
    train_idx = train_idx[torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(tc.seed))]

    def batches(indices):
        return [(normalize(train_set.images[b]).unsqueeze(1).to(device),  # (b, 28, 28) -> (b, 1, 28, 28)
                 train_set.labels[b].to(device)) for b in indices.split(tc.batch_size)]

    train_batches, val_batches = batches(train_idx), batches(val_idx)
    torch.manual_seed(tc.seed)
    model = build_model(cfg.model).to(device)
    optimizer = make_optimizer(model.parameters(), tc)
    criterion = nn.CrossEntropyLoss()

    def one_epoch():
        model.train()
        for x, y in train_batches:
            optimizer.zero_grad(set_to_none=True)
            criterion(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for x, _ in val_batches:
                model(x)

    return _timed_epochs(one_epoch, epochs, device), model


def time_user_epoch(preset: str = "notebook", rounds: int = 3, data_dir=None, verify: bool = True,
                    device: str = "cpu", long_epochs: int = 6, threads: int | None = None, log=None) -> dict:
    """The epoch as the user gets it, beside (b) and (c), measured in one run with the rounds interleaved.

    Each round times the whole `rowrnn train --preset PRESET --epochs 1` and `--epochs LONG` (start-up, data,
    every file written, finishing: all of it) in fresh processes; (long - short) / (LONG - 1) is the user's
    epoch. (b) is the median of the long run's own per-epoch seconds (its first epoch dropped), (c) the compute
    limit of two epochs timed after a warm-up one, in this process, right after. threads (torch's CPU threads)
    is passed to the trainings as OMP_NUM_THREADS. Returns medians and ratios.
    """
    say = log or (lambda message: None)
    dev, data_dir = resolve_device(device), None if data_dir is None else str(data_dir)
    cfg = build_config(preset, {"device": device, "data_dir": data_dir, "verify": verify})
    train_set, _ = load_fashion_mnist(data_dir, verify=verify)
    user, loop, limit = [], [], []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="rowrnn-bench-") as tmp:
            wall = {}
            for epochs in (1, long_epochs):
                command = [sys.executable, "-m", "rowrnn", "train", "--preset", preset, "--epochs", str(epochs),
                           "--device", device, "--quiet", "--out", str(Path(tmp) / f"run{epochs}"),
                           *(["--data-dir", data_dir] if data_dir else []), *([] if verify else ["--no-verify"])]
                start = time.perf_counter()
                env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
                subprocess.run(command, check=True, capture_output=True, env=env)
                wall[epochs] = time.perf_counter() - start
            seconds = json.loads((Path(tmp) / f"run{long_epochs}" / "history.json").read_text())["seconds"]
        user.append((wall[long_epochs] - wall[1]) / (long_epochs - 1))
        loop.append(statistics.median(seconds[1:]))
        limit.append(statistics.median(time_compute_limit(cfg, train_set, 2, dev)[0]))
        say(f"round {r + 1}/{rounds}: user {user[-1]:.2f} s/epoch (train --epochs {long_epochs} {wall[long_epochs]:.1f} s, "
            f"--epochs 1 {wall[1]:.1f} s), (b) {loop[-1]:.2f}, (c) {limit[-1]:.2f}")
    med = {"user": statistics.median(user), "rowrnn": statistics.median(loop), "compute_limit": statistics.median(limit)}
    return {"preset": preset, "rounds": rounds, "long_epochs": long_epochs, "threads": torch.get_num_threads(),
            "machine": machine_info(dev),
            "seconds": {"user": user, "rowrnn": loop, "compute_limit": limit}, "median_s": med,
            "user_over_compute": med["user"] / med["compute_limit"], "b_over_c": med["rowrnn"] / med["compute_limit"]}


def format_user_epoch(result: dict) -> str:
    """The Markdown table of a time_user_epoch result."""
    m = result["median_s"]
    return "\n".join([
        "| config | user's epoch s | (b) rowrnn s/epoch | (c) compute limit s/epoch | user/c | b/c |",
        "|---|--:|--:|--:|--:|--:|",
        f"| {result['preset']} | {m['user']:.2f} | {m['rowrnn']:.2f} | {m['compute_limit']:.2f} | "
        f"{result['user_over_compute']:.2f} | {result['b_over_c']:.2f} |",
        "", f"Medians of {result['rounds']} interleaved rounds, {result['threads']} torch thread(s); user's epoch = (wall of `rowrnn train --epochs "
            f"{result['long_epochs']}` - wall of `--epochs 1`) / {result['long_epochs'] - 1}."])


def inference_images_per_s(model: nn.Module, images: torch.Tensor, device: torch.device, repeats: int = 3) -> float:
    """Test-set throughput of predict_logits (batches of 1000), median of `repeats` timed passes."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_logits(model, images, device=device)  # ends with .cpu(): synchronizes
        seconds.append(time.perf_counter() - start)
    return len(images) / statistics.median(seconds)


# ----------------------------------------------------------------------------- memory, machine, driver

_LAUNCHER = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
             "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
             "sys.exit(rc)")


def peak_rss_mb(command: list[str]) -> int:
    """Peak resident memory (MiB) of `command`, measured through a small launcher process.

    Not os.wait4 from here: on Linux exec keeps the parent's high-water mark, so a direct
    child of this process (which holds torch and the dataset) would report our size.
    """
    with tempfile.TemporaryDirectory(prefix="rowrnn-rss-") as tmp:
        report = Path(tmp) / "maxrss"
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(report), *command],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
            raise RowrnnError(f"the memory run `{shlex.join(command)}` failed (exit {proc.returncode}): {tail}")
        maxrss = int(report.read_text())
    return round(maxrss / (2**20 if sys.platform == "darwin" else 1024))  # bytes on macOS, KiB elsewhere


def machine_info(device: torch.device) -> dict:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": str(device),
            "command": shlex.join([sys.executable, *sys.argv])}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_benchmark(configs=tuple(BENCH_CONFIGS), epochs: int = 3, data_dir=None, verify: bool = True,
                  out_json=None, device: str = "cpu", measure_rss: bool = True, log=None) -> dict:
    """Time (a), (b), (c) for each named config; returns (and writes to out_json) the result dict.

    Each way runs WARMUP_EPOCHS untimed epoch, then `epochs` timed ones; medians are reported.
    log(message) is called before each stage, for progress output.
    """
    unknown = [name for name in configs if name not in BENCH_CONFIGS]
    if unknown or not configs:
        raise RowrnnError(f"unknown benchmark configs {unknown}: choose from {', '.join(BENCH_CONFIGS)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise RowrnnError(f"--epochs must be a positive integer, got {epochs!r}")
    say = log or (lambda message: None)
    dev, data_dir = resolve_device(device), None if data_dir is None else str(data_dir)
    train_set, test_set = load_fashion_mnist(data_dir, verify=verify)
    result = {"machine": machine_info(dev),
              "settings": {"epochs": epochs, "warmup_epochs": WARMUP_EPOCHS, "device": device, "data_dir": data_dir,
                           "verify": verify, "train_images": len(train_set), "test_images": len(test_set),
                           "notebook_transform": _notebook_transform()[1]},
              "configs": {}}
    for name in configs:
        description, preset, overrides = BENCH_CONFIGS[name]
        cfg = build_config(preset, {**overrides, "device": device, "data_dir": data_dir, "verify": verify})
        say(f"{name}: (a) notebook pipeline, (b) rowrnn fit, (c) compute limit, inference")
        seconds = {"notebook_pipeline": time_notebook_pipeline(cfg, train_set, epochs, dev),
                   "rowrnn": time_rowrnn(cfg, train_set, epochs, device)}
        seconds["compute_limit"], model = time_compute_limit(cfg, train_set, epochs, dev)
        median = {way: statistics.median(seconds[way]) for way in WAYS}
        result["configs"][name] = {
            "description": description, "params": count_parameters(model), "batch_size": cfg.train.batch_size,
            "seconds": seconds, "median_s": median,
            "speedup_over_notebook": median["notebook_pipeline"] / median["rowrnn"],
            "overhead_over_compute": median["rowrnn"] / median["compute_limit"],
            "inference_images_per_s": inference_images_per_s(model, test_set.images, dev)}
    if measure_rss:
        say("peak RSS of `rowrnn train --epochs 1`")
        with tempfile.TemporaryDirectory(prefix="rowrnn-bench-") as tmp:
            command = [sys.executable, "-m", "rowrnn", "train", "--epochs", "1", "--no-figures", "--quiet",
                       "--out", str(Path(tmp) / "run"), *(["--data-dir", data_dir] if data_dir else []),
                       *([] if verify else ["--no-verify"])]
            result["peak_rss_mb"], result["peak_rss_command"] = peak_rss_mb(command), shlex.join(command)
    if out_json is not None:
        Path(out_json).write_text(json.dumps(result, indent=2) + "\n")
    return result


def format_table(result: dict) -> str:
    """The Markdown table of a run_benchmark result, with the machine and peak memory below it."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["--:"] * (len(HEADER) - 1)) + "|"]
    for name, r in result["configs"].items():
        m = r["median_s"]
        cells = [name, f"{r['params']:,}", *(f"{m[way]:.3g}" for way in WAYS),
                 f"{r['speedup_over_notebook']:.1f}", f"{r['overhead_over_compute']:.2f}",
                 f"{r['inference_images_per_s']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    mach, s = result["machine"], result["settings"]
    lines += ["", f"Seconds per epoch: median of {s['epochs']} timed after {s['warmup_epochs']} warm-up; "
                  f"{s['train_images']:,} training images; {mach['device']} on {mach['cpu']} "
                  f"({mach['usable_cpus']} usable CPUs, torch {mach['torch']}, {mach['torch_threads']} threads)."]
    if "peak_rss_mb" in result:
        lines.append(f"Peak RSS of `rowrnn train --epochs 1`: {result['peak_rss_mb']} MB.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per way, after one warm-up epoch")
    parser.add_argument("--configs", default="notebook,stacked,gru128", help="comma-separated benchmark configs")
    parser.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files (default: search)")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip the Fashion-MNIST checksums")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the full result as JSON")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="where (a), (b), (c) and inference run")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--user-epoch", type=int, default=0, metavar="ROUNDS",
                        help="instead: the epoch as the user gets it (whole `rowrnn train` runs) against (b) and (c), "
                             "ROUNDS interleaved rounds, for the first of --configs' presets")
    args = parser.parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise RowrnnError(f"--threads must be at least 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        if args.json is not None and not args.json.parent.is_dir():
            raise RowrnnError(f"--json {args.json}: no directory {args.json.parent} to write it in")
        configs = [name.strip() for name in args.configs.split(",") if name.strip()]
        if args.user_epoch:
            preset = BENCH_CONFIGS[configs[0]][1] if configs and configs[0] in BENCH_CONFIGS else "notebook"
            result = time_user_epoch(preset, args.user_epoch, args.data_dir, args.verify, args.device,
                                     threads=args.threads, log=lambda message: print(message, file=sys.stderr, flush=True))
            if args.json is not None:
                args.json.write_text(json.dumps(result, indent=2) + "\n")
            print(format_user_epoch(result))
            return 0
        result = run_benchmark(configs=configs, epochs=args.epochs, data_dir=args.data_dir, verify=args.verify,
                               out_json=args.json, device=args.device,
                               log=lambda message: print(message, file=sys.stderr, flush=True))
    except RowrnnError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 2
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
