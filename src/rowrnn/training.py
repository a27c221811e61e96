"""The training loop: the course's train/evaluate API and the run-directory trainer `fit`.

One epoch function serves training and evaluation, the course API and the CLI,
one process and many (torchrun + DistributedDataParallel).

    history = train(model, train_loader, 25, nn.CrossEntropyLoss(), optimizer,
                    validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10))
    result = fit(build_config("notebook"), "runs/demo")          # what `rowrnn train` runs
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, random_split

from .config import RunConfig
from .data import Batches, ImageDataset, load_fashion_mnist
from .errors import Interrupted, RowrnnError
from .models import build_model

EXPLODING_GRAD_NORM = 1e3  # the CLI warns above this gradient norm when clipping is off


def get_device() -> str:
    """'cuda', 'mps' or 'cpu': the first one available, as the course helper picks."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = get_device()
    if name == "cuda" and not torch.cuda.is_available():
        raise RowrnnError("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu (or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RowrnnError("--device mps: PyTorch sees no Apple GPU here; use --device cpu (or auto)")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate at optimizer step `step` (0-based)."""
    if schedule == "constant":
        return 1.0
    progress = min(step / max(1, total_steps), 1.0)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    # onecycle, as torch.optim.lr_scheduler.OneCycleLR: cosine up from 1/25 over 30 %, then down to ~0
    pct, start, end = 0.3, 1 / 25, 1 / 25 / 1e4
    if progress < pct:
        return start + (1 - start) * (1 - math.cos(math.pi * progress / pct)) / 2
    return end + (1 - end) * (1 + math.cos(math.pi * (progress - pct) / (1 - pct))) / 2


@dataclass
class EpochResult:
    loss: float
    metric: float | None
    steps: int
    max_grad_norm: float = 0.0


def _total_norm(params) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if hasattr(nn.utils, "get_total_norm"):  # torch >= 2.6
        return nn.utils.get_total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def run_epoch(model, batches, criterion, *, optimizer=None, metric_fn=None, device="cpu",
              lr_at=None, first_step=0, clip_grad_norm=0.0, track_grad_norm=False, amp=False,
              should_stop=None, epoch=0, progress=None) -> EpochResult:
    """One pass over `batches`; trains when an optimizer is given, else evaluates without gradients.

    The loss is the sample-weighted mean, the metric is computed over the whole pass;
    under torchrun both are reduced across ranks.
    """
    training = optimizer is not None
    model.train(training)
    world = torch.distributed.get_world_size() if _distributed() else 1
    global_sizes = batches.global_sizes() if world > 1 else None
    loss_sum, seen, steps = 0.0, 0, 0
    max_norm = 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    iterator = batches if progress is None else progress(batches)
    autocast = (torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16) if amp
                else contextlib.nullcontext())
    outputs, targets = [], []  # one metric update per pass: a torchmetrics update costs ~0.2 ms
    with torch.set_grad_enabled(training):
        for i, (x, y) in enumerate(iterator):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # no-op on the fast path
            n = len(y)
            with autocast:
                logits = model(x)
                loss = criterion(logits.float(), y) if n else sum(p.sum() for p in params) * 0.0
            if training:
                step = first_step + i
                if lr_at is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = lr_at(step)
                optimizer.zero_grad(set_to_none=True)
                # DDP averages gradients over ranks; weighting by the local share makes
                # the result the gradient of the GLOBAL batch mean, uneven shares included.
                scale = n * world / global_sizes[i] if global_sizes is not None else 1.0
                (loss * scale).backward()
                if clip_grad_norm:
                    max_norm = max(max_norm, float(nn.utils.clip_grad_norm_(params, clip_grad_norm)))
                elif track_grad_norm:
                    max_norm = max(max_norm, float(_total_norm(params)))
                optimizer.step()
            value = loss.item()
            if not math.isfinite(value):
                lr = optimizer.param_groups[0]["lr"] if training else None
                raise RowrnnError(
                    f"the loss became {value} at epoch {epoch + 1}, step {i + 1}"
                    + (f" (learning rate {lr:g}): lower --lr or set --clip-grad-norm" if training else
                       ": the weights are not finite")
                    + "; the run directory keeps the last good epoch")
            loss_sum += value * n
            seen += n
            steps += 1
            if metric_fn is not None and n:
                outputs.append(logits.detach())  # logits, not classes: any metric_fn gets what it expects
                targets.append(y)
            if progress is not None and hasattr(iterator, "set_postfix"):
                iterator.set_postfix(loss=f"{value:.4f}", refresh=False)
            if should_stop is not None and should_stop():
                raise Interrupted(f"interrupted during epoch {epoch + 1}")
    if world > 1:
        totals = torch.tensor([loss_sum, seen], dtype=torch.float64)
        torch.distributed.all_reduce(totals)
        loss_sum, seen = float(totals[0]), int(totals[1])
    if outputs:
        metric_fn.update(torch.cat(outputs), torch.cat(targets))
    metric = float(metric_fn.compute()) if metric_fn is not None and seen else None
    return EpochResult(loss_sum / max(seen, 1), metric, steps, max_norm)


# ----------------------------------------------------------------------------- the course API

def _plain_loader(loader) -> bool:
    """A DataLoader whose batches are just the dataset in order or shuffled once (what Batches reproduces)."""
    sampler = loader.sampler
    shuffled = (isinstance(sampler, RandomSampler) and not sampler.replacement
                and sampler.num_samples == len(loader.dataset))
    return (loader.batch_size is not None and not loader.drop_last
            and (isinstance(sampler, SequentialSampler) or shuffled))


def _batches_for(dataset, indices, batch_size, shuffle, seed, device):
    """The fast iterator when the data is rowrnn's own in-memory dataset, else None."""
    if isinstance(dataset, ImageDataset):
        return Batches(dataset.images, dataset.labels, batch_size, indices=indices, shuffle=shuffle,
                       seed=seed, device=device)
    return None


def train(model, train_loader, n_epochs, criterion, optimizer, validation_split=None, metric_fn=None,
          verbose=True, *, seed=None, device=None, progress=False):
    """The course helper: train for n_epochs, return {'train_loss', ['train_metric'], ['val_loss'], ['val_metric']}.

    validation_split=v splits train_loader.dataset with random_split into (1-v, v) parts and
    builds new loaders of the same batch size (train shuffled, validation not). With
    rowrnn's own dataset the batches are sliced from memory instead of going through a
    DataLoader (when the loader is a plain sequential or shuffled one). seed makes the split and
    rowrnn's shuffles reproducible; a loader you pass without a split shuffles as you built it.
    """
    device = torch.device(device or get_device())
    model.to(device)
    if metric_fn is not None:
        metric_fn.to(device)
    dataset, batch_size = train_loader.dataset, train_loader.batch_size
    split_gen = torch.Generator().manual_seed(seed) if seed is not None else None
    shuffle_seed = seed if seed is not None else int(torch.randint(2**31 - 1, ()))
    history = {"train_loss": []}
    if metric_fn is not None:
        history["train_metric"] = []
    if validation_split:
        parts = random_split(range(len(dataset)), [1 - validation_split, validation_split],
                             generator=split_gen or torch.default_generator)
        train_idx, val_idx = list(parts[0]), list(parts[1])
        train_batches = _batches_for(dataset, train_idx, batch_size, True, shuffle_seed, device)
        val_batches = _batches_for(dataset, val_idx, batch_size, False, shuffle_seed, device)
        if train_batches is None:
            loader_gen = torch.Generator().manual_seed(shuffle_seed)
            train_batches = DataLoader(torch.utils.data.Subset(dataset, train_idx), batch_size=batch_size,
                                       shuffle=True, generator=loader_gen)
            val_batches = DataLoader(torch.utils.data.Subset(dataset, val_idx), batch_size=batch_size,
                                     shuffle=False)
        history["val_loss"] = []
        if metric_fn is not None:
            history["val_metric"] = []
    else:
        shuffle = isinstance(train_loader.sampler, RandomSampler)
        train_batches = (_plain_loader(train_loader)
                         and _batches_for(dataset, None, batch_size, shuffle, shuffle_seed, device)) or train_loader
        val_batches = None
    bar = _progress_factory(progress)
    for epoch in range(n_epochs):
        start = time.perf_counter()
        if hasattr(train_batches, "set_epoch"):
            train_batches.set_epoch(epoch)
        if metric_fn is not None:
            metric_fn.reset()
        res = run_epoch(model, train_batches, criterion, optimizer=optimizer, metric_fn=metric_fn,
                        device=device, epoch=epoch, progress=bar)
        history["train_loss"].append(res.loss)
        if metric_fn is not None:
            history["train_metric"].append(res.metric)
        if val_batches is not None:
            if metric_fn is not None:
                metric_fn.reset()
            val = run_epoch(model, val_batches, criterion, metric_fn=metric_fn, device=device, epoch=epoch)
            history["val_loss"].append(val.loss)
            if metric_fn is not None:
                history["val_metric"].append(val.metric)
        if verbose:
            values = " ".join(f"{k}={v[-1]:.4f}" for k, v in history.items())
            print(f"Epoch {epoch + 1}/{n_epochs}: {values} ({time.perf_counter() - start:.2f} s)")
    return history


def evaluate(*, model, data_loader, criterion, metric_fn=None, device=None):
    """The course helper: {'loss': mean loss, 'metric': metric over the data or None}."""
    device = torch.device(device or next(model.parameters()).device)
    model.to(device)
    if metric_fn is not None:
        metric_fn.to(device)
        metric_fn.reset()
    batches = data_loader
    if isinstance(data_loader, DataLoader) and _plain_loader(data_loader):
        batches = _batches_for(data_loader.dataset, None, data_loader.batch_size, False, 0, device) or data_loader
    res = run_epoch(model, batches, criterion, metric_fn=metric_fn, device=device)
    return {"loss": res.loss, "metric": res.metric}


def _progress_factory(enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return lambda it: tqdm(it, total=len(it), leave=False, unit="batch", dynamic_ncols=True)


# ----------------------------------------------------------------------------- the run trainer

@contextlib.contextmanager
def _stop_on_signals():
    """SIGINT/SIGTERM finish the current step, then stop; yields a 'should stop?' callable."""
    flag = {"signal": None}

    def handler(signum, frame):
        flag["signal"] = signum

    previous = {}
    if threading_is_main():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield lambda: flag["signal"] is not None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def threading_is_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def distributed_context(device_name: str):
    """torchrun sets WORLD_SIZE: join the process group (gloo on CPU, NCCL on GPU) for the duration."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 or _distributed():
        yield resolve_device(device_name)
        return
    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                         timeout=timedelta(seconds=int(os.environ.get("ROWRNN_DIST_TIMEOUT", "300"))))
    try:
        yield device
    finally:
        torch.distributed.destroy_process_group()


def split_indices(n: int, val_split: float, seed: int):
    """The same (1-v, v) random_split the course helper makes, seeded."""
    with warnings.catch_warnings():  # an empty part is reported by fit, in one line
        warnings.filterwarnings("ignore", message="Length of split")
        parts = random_split(range(n), [1 - val_split, val_split], generator=torch.Generator().manual_seed(seed))
    return torch.tensor(list(parts[0]), dtype=torch.long), torch.tensor(list(parts[1]), dtype=torch.long)


def make_optimizer(params, cfg) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)


@dataclass
class FitResult:
    history: dict
    best_epoch: int
    best_metric: float
    stopped_early: bool
    max_grad_norm: float


def fit(cfg: RunConfig, run_dir, *, resume: bool = False, train_set: ImageDataset | None = None,
        on_epoch=None, progress: bool = False) -> FitResult:
    """Train cfg into run_dir (config, history, best/last weights, resumable state), one epoch at a time.

    Validation picks the best epoch; the test split is never touched here.
    on_epoch(epoch, history, max_grad_norm) is called on rank 0 after each completed epoch.
    """
    from . import runs  # the run directory format; imported here to keep the course API light
    from torchmetrics.classification import MulticlassAccuracy

    run_dir = Path(run_dir)
    tc = cfg.train
    with distributed_context(tc.device) as device:
        rank = torch.distributed.get_rank() if _distributed() else 0
        world = torch.distributed.get_world_size() if _distributed() else 1
        main = rank == 0
        if tc.amp and device.type != "cuda":
            raise RowrnnError("--amp needs a CUDA device (bfloat16 autocast); drop --amp on CPU")
        if train_set is None:  # before touching run_dir: a data error leaves nothing behind
            train_set, _ = load_fashion_mnist(cfg.data.data_dir, verify=cfg.data.verify)
        train_idx, val_idx = split_indices(len(train_set), tc.val_split, tc.seed)
        if len(val_idx) == 0 or len(train_idx) == 0:
            raise RowrnnError(f"--val-split {tc.val_split} of {len(train_set)} training images leaves "
                              f"{len(train_idx)} for training and {len(val_idx)} for validation: use more data "
                              "or another --val-split")
        if main and not resume:  # both checks come before the lock file is created
            runs.check_fresh(run_dir)
        if resume:
            runs.check_resumable(run_dir, cfg)
        lock = runs.RunLock(run_dir) if main else contextlib.nullcontext()
        with lock, _stop_on_signals() as should_stop:
            state = runs.load_resume_state(run_dir) if resume else None
            if main and not resume:
                runs.start_run(run_dir, cfg)
            torch.manual_seed(tc.seed)
            model = build_model(cfg.model).to(device)
            optimizer = make_optimizer(model.parameters(), tc)
            history = {k: [] for k in runs.HISTORY_KEYS}
            best_metric, best_epoch, bad_epochs, start_epoch = -1.0, 0, 0, 0
            best_state = None
            if state is not None:
                try:
                    model.load_state_dict(state["model"])
                except RuntimeError:
                    raise RowrnnError(f"{run_dir}: the weights do not match its config.json (was it edited?): "
                                      "restore the run's own config.json") from None
                optimizer.load_state_dict(state["optimizer"])
                history, start_epoch = state["history"], state["epoch"]
                best_metric, best_epoch, bad_epochs = state["best_metric"], state["best_epoch"], state["bad_epochs"]
                best_state = state["best_model"]
                if main:
                    runs.write_weights_and_history(run_dir, state)
            net = model
            if world > 1:
                net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
            images, labels = train_set.images.to(device), train_set.labels.to(device)  # once, for both splits
            common = dict(device=device, rank=rank, world_size=world)
            train_batches = Batches(images, labels, tc.batch_size, indices=train_idx, shuffle=True, seed=tc.seed,
                                    augment_shift=tc.augment_shift, augment_flip=tc.augment_flip, **common)
            val_batches = Batches(images, labels, tc.batch_size, indices=val_idx, **common)
            criterion = nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)
            metric = MulticlassAccuracy(num_classes=10, validate_args=False).to(device)
            steps_per_epoch, total_steps = len(train_batches), len(train_batches) * tc.epochs
            bar = _progress_factory(progress and main)
            max_grad_norm = 0.0
            stopped_early = state is not None and state.get("stopped_early", False)
            for epoch in range(start_epoch, tc.epochs):
                if stopped_early:
                    break
                start = time.perf_counter()
                torch.manual_seed(tc.seed * 1_000_003 + epoch + 1)  # dropout: a function of (seed, epoch)
                train_batches.set_epoch(epoch)
                metric.reset()
                res = run_epoch(net, train_batches, criterion, optimizer=optimizer, metric_fn=metric, device=device,
                                lr_at=lambda s: tc.lr * lr_factor(tc.schedule, s, total_steps),
                                first_step=epoch * steps_per_epoch, clip_grad_norm=tc.clip_grad_norm,
                                track_grad_norm=True, amp=tc.amp, should_stop=should_stop, epoch=epoch,
                                progress=bar)
                metric.reset()
                val = run_epoch(net, val_batches, criterion, metric_fn=metric, device=device, amp=tc.amp,
                                should_stop=should_stop, epoch=epoch)
                max_grad_norm = max(max_grad_norm, res.max_grad_norm)
                for key, value in (("train_loss", res.loss), ("train_metric", res.metric),
                                   ("val_loss", val.loss), ("val_metric", val.metric),
                                   ("lr", optimizer.param_groups[0]["lr"]),
                                   ("seconds", time.perf_counter() - start)):
                    history[key].append(value)
                if val.metric > best_metric:
                    best_metric, best_epoch, bad_epochs = val.metric, epoch + 1, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_epochs += 1
                stopped_early = bool(tc.patience) and bad_epochs >= tc.patience
                state = {"epoch": epoch + 1, "model": model.state_dict(), "best_model": best_state,
                         "optimizer": optimizer.state_dict(), "history": history, "best_metric": best_metric,
                         "best_epoch": best_epoch, "bad_epochs": bad_epochs, "stopped_early": stopped_early}
                if main:
                    runs.save_resume_state(run_dir, state)
                    runs.write_weights_and_history(run_dir, state)
                    if on_epoch is not None:
                        on_epoch(epoch, history, res.max_grad_norm)
            return FitResult(history, best_epoch, best_metric, stopped_early, max_grad_norm)
