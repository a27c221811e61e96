"""Seconds per full epoch (train + validation), three ways -- a development benchmark, not part of the package.

(a) the notebook pipeline: a per-sample PIL/ToTensor/Normalize Dataset behind two DataLoaders;
(b) rowrnn's own trainer, `train_epochs`, the loop `rowrnn train` runs;
(c) the compute limit: the same model and optimizer over batches built once, nothing else.

    python benchmarks/bench.py --epochs 5 --json benchmarks/results-cpu.json
    result = run_benchmark(configs=["notebook"], epochs=3)      # from Python, with benchmarks/ on sys.path
    print(format_table(result))     # Markdown: s/epoch of (a), (b), (c), a/b, b/c, inference img/s
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
from rowrnn.training import split_indices, train_epochs, train_one_epoch, validate

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
    args = parser.parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise RowrnnError(f"--threads must be at least 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        if args.json is not None and not args.json.parent.is_dir():
            raise RowrnnError(f"--json {args.json}: no directory {args.json.parent} to write it in")
        configs = [name.strip() for name in args.configs.split(",") if name.strip()]
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
