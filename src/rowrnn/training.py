"""The training loop: one epoch of training, one pass of evaluation, the course's helpers, and `train_epochs`.

train_one_epoch and validate serve the course API and the run trainer alike, in one process
or in many (torchrun + DistributedDataParallel).

    history = train(model, train_loader, 25, nn.CrossEntropyLoss(), optimizer,
                    validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10))
    result = train_epochs(build_config("notebook"), "runs/demo")   # epochs into a run directory
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, random_split

from . import runs
from .config import RunConfig
from .constants import NUM_CLASSES
from .data import Batches, ImageDataset, load_fashion_mnist
from .devices import distributed_context, get_device, is_distributed
from .errors import Interrupted, RowrnnError, python_api
from .models import build_model
from .optim import make_optimizer, make_scheduler
from .signals import stop_on_signals

EXPLODING_GRAD_NORM = 1e3  # the CLI warns above this gradient norm when clipping is off

__all__ = ["EpochResult", "train_one_epoch", "validate", "train", "evaluate", "get_device", "train_epochs",
           "TrainResult", "split_indices"]


@dataclass
class EpochResult:
    loss: float
    metric: float | None
    steps: int
    max_grad_norm: float = 0.0
    lr: float | None = None          # the learning rate of the epoch's last step


class NonFiniteLoss(RowrnnError):
    """The loss became NaN or infinite; the caller adds where (epoch) and what to do."""

    def __init__(self, value: float, step: int, lr: float | None):
        self.value, self.step, self.lr = value, step, lr
        super().__init__(f"the loss became {value} at step {step}")


def _total_norm(params) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if hasattr(nn.utils, "get_total_norm"):  # torch >= 2.6
        return nn.utils.get_total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _finish_pass(loss_sum: float, seen: int, outputs, targets, metric_fn) -> tuple[float, float | None]:
    """Reduce the pass's loss over ranks, and compute the metric over everything seen (one update)."""
    if is_distributed() and torch.distributed.get_world_size() > 1:
        totals = torch.tensor([loss_sum, seen], dtype=torch.float64)
        torch.distributed.all_reduce(totals)
        loss_sum, seen = float(totals[0]), int(totals[1])
    if outputs:
        metric_fn.update(torch.cat(outputs), torch.cat(targets))  # a torchmetrics update costs ~0.2 ms: once
    metric = float(metric_fn.compute()) if metric_fn is not None and seen else None
    return loss_sum / max(seen, 1), metric


def train_one_epoch(model, batches, criterion, optimizer, *, scheduler=None, metric_fn=None,
                    clip_grad_norm: float = 0.0, amp: bool = False, should_stop=None, progress=None) -> EpochResult:
    """One pass of optimizer steps over `batches`; the loss is the sample-weighted mean, the metric over the pass.

    Under torchrun each rank sees its share of every global batch; weighting the loss by that share
    makes the gradient DDP averages equal to the global batch's, uneven shares included.
    progress wraps the batches for display (tqdm); should_stop() returning a signal number stops.
    """
    model.train()
    device = _device_of(model)
    world = torch.distributed.get_world_size() if is_distributed() else 1
    global_sizes = batches.global_sizes() if world > 1 else None
    params = [p for p in model.parameters() if p.requires_grad]
    loss_sum, seen, max_norm, lr = 0.0, 0, 0.0, None
    outputs, targets = [], []
    iterator = batches if progress is None else progress(batches)
    step = -1
    for step, (x, y) in enumerate(iterator):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # no-op on the fast path
        n = len(y)
        with _autocast(device, amp):
            logits = model(x)
            loss = criterion(logits.float(), y) if n else sum(p.sum() for p in params) * 0.0
        optimizer.zero_grad(set_to_none=True)
        (loss * (n * world / global_sizes[step] if global_sizes is not None else 1.0)).backward()
        norm = nn.utils.clip_grad_norm_(params, clip_grad_norm) if clip_grad_norm else _total_norm(params)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLoss(value, step + 1, lr)
        max_norm = max(max_norm, float(norm))
        loss_sum += value * n
        seen += n
        if metric_fn is not None and n:
            outputs.append(logits.detach())  # logits, not classes: any metric_fn gets what it expects
            targets.append(y)
        if hasattr(iterator, "set_postfix"):
            iterator.set_postfix(loss=f"{value:.4f}", refresh=False)
        if should_stop is not None and should_stop():
            raise Interrupted(should_stop())
    loss, metric = _finish_pass(loss_sum, seen, outputs, targets, metric_fn)
    return EpochResult(loss, metric, step + 1, max_norm, lr)


@torch.no_grad()
def validate(model, batches, criterion, *, metric_fn=None, amp: bool = False, should_stop=None) -> EpochResult:
    """One pass without gradients: the sample-weighted mean loss and the metric over all of `batches`."""
    model.eval()
    device = _device_of(model)
    loss_sum, seen, outputs, targets = 0.0, 0, [], []
    step = -1
    for step, (x, y) in enumerate(batches):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if not len(y):
            continue
        with _autocast(device, amp):
            logits = model(x)
        loss = criterion(logits.float(), y).item()
        if not math.isfinite(loss):
            raise NonFiniteLoss(loss, step + 1, None)
        loss_sum += loss * len(y)
        seen += len(y)
        if metric_fn is not None:
            outputs.append(logits)
            targets.append(y)
        if should_stop is not None and should_stop():
            raise Interrupted(should_stop())
    loss, metric = _finish_pass(loss_sum, seen, outputs, targets, metric_fn)
    if seen == 0 and not (is_distributed() and torch.distributed.get_world_size() > 1):
        raise RowrnnError("there are no images to evaluate: give a data_loader over at least one image")
    return EpochResult(loss, metric, step + 1)


# ----------------------------------------------------------------------------- the course API

def _plain_loader(loader) -> bool:
    """A DataLoader whose batches are just the dataset in order or shuffled once (what Batches reproduces)."""
    sampler = loader.sampler
    shuffled = (isinstance(sampler, RandomSampler) and not sampler.replacement
                and sampler.num_samples == len(loader.dataset))
    return (loader.batch_size is not None and not loader.drop_last
            and (isinstance(sampler, SequentialSampler) or shuffled))


def _batches_for(dataset, indices, batch_size, shuffle, seed, device):
    """The fast iterator when the data is rowrnn's own in-memory dataset (untransformed), else None."""
    if isinstance(dataset, ImageDataset) and dataset.transform is None:
        return Batches(dataset.images, dataset.labels, batch_size, indices=indices, shuffle=shuffle,
                       seed=seed, device=device)
    return None


@contextlib.contextmanager
def _on_device(model: nn.Module, device: torch.device):
    """Run on `device`; afterwards the model is back where it started (the course's next cells use it there)."""
    home = next(model.parameters()).device
    model.to(device)
    try:
        yield
    finally:
        model.to(home)


@python_api
def train(model, train_loader, n_epochs, criterion, optimizer, validation_split=None, metric_fn=None,
          verbose=True, *, seed=None, device=None, progress=False):
    """The course helper: train for n_epochs, return {'train_loss', ['train_metric'], ['val_loss'], ['val_metric']}.

    validation_split=v splits train_loader.dataset with random_split into (1-v, v) parts and
    builds new loaders of the same batch size (train shuffled, validation not). With
    rowrnn's own dataset the batches are sliced from memory instead of going through a
    DataLoader (when the loader is a plain sequential or shuffled one). seed makes the split and
    rowrnn's shuffles reproducible; a loader you pass without a split shuffles as you built it.
    Training runs on `device` (default: get_device()); the model ends on the device it started on,
    so the notebook's next cell, model(images) with CPU tensors, works on a GPU runtime too.

    Raises RowrnnError, before any training, when n_epochs is not a positive integer, the loader holds no
    images, or validation_split is not a fraction in (0, 1) leaving at least MIN_SPLIT_IMAGES images on
    each side (a validation loss over no images would be a made-up number).
    """
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise RowrnnError(f"n_epochs must be a positive integer, got {n_epochs!r}")
    try:
        size = len(train_loader.dataset)
    except (AttributeError, TypeError):
        raise RowrnnError("train_loader must be a DataLoader over a dataset with a length "
                          f"(got {type(train_loader).__name__})") from None
    if size == 0:
        raise RowrnnError("train_loader's dataset holds no images: give it the training images")
    if validation_split:
        check_validation_split(validation_split, size)
    device = torch.device(device or get_device())
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
    with _on_device(model, device):
        for epoch in range(n_epochs):
            start = time.perf_counter()
            if hasattr(train_batches, "set_epoch"):
                train_batches.set_epoch(epoch)
            if metric_fn is not None:
                metric_fn.reset()
            res = _with_epoch(epoch, lambda: train_one_epoch(model, train_batches, criterion, optimizer,
                                                             metric_fn=metric_fn, progress=bar))
            history["train_loss"].append(res.loss)
            if metric_fn is not None:
                history["train_metric"].append(res.metric)
            if val_batches is not None:
                if metric_fn is not None:
                    metric_fn.reset()
                val = _with_epoch(epoch, lambda: validate(model, val_batches, criterion, metric_fn=metric_fn))
                history["val_loss"].append(val.loss)
                if metric_fn is not None:
                    history["val_metric"].append(val.metric)
            if verbose:
                values = " ".join(f"{k}={v[-1]:.4f}" if v[-1] is not None else f"{k}=n/a" for k, v in history.items())
                print(f"Epoch {epoch + 1}/{n_epochs}: {values} ({time.perf_counter() - start:.2f} s)")
    return history


MIN_SPLIT_IMAGES = 1   # the fewest images train() accepts on either side of a validation split


def check_validation_split(validation_split, size: int) -> tuple[int, int]:
    """(training, validation) image counts that random_split makes of `size` images with this fraction;
    a one-line RowrnnError naming validation_split when it is not a fraction or leaves a side empty."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0.0 < validation_split < 1.0:
        raise RowrnnError(f"validation_split must be a fraction between 0 and 1 (e.g. 0.1), got {validation_split!r}")
    val = math.floor(size * validation_split)
    train_count = math.floor(size * (1 - validation_split))
    # random_split gives the images left by rounding down to the parts in turn, the training part first
    remainder = size - val - train_count
    train_count += (remainder + 1) // 2
    val += remainder // 2
    if size < 2 * MIN_SPLIT_IMAGES:
        raise RowrnnError(f"validation_split={validation_split:g} cannot split {size} image{'s' if size != 1 else ''}: "
                          f"a split needs at least {2 * MIN_SPLIT_IMAGES}; give more images or no validation_split")
    if min(val, train_count) < MIN_SPLIT_IMAGES:
        raise RowrnnError(f"validation_split={validation_split:g} of {size} images leaves {train_count} for training "
                          f"and {val} for validation: use a larger validation_split (at least "
                          f"{math.ceil(MIN_SPLIT_IMAGES / size * 1000) / 1000:g}) or more images"
                          if val < MIN_SPLIT_IMAGES else
                          f"validation_split={validation_split:g} of {size} images leaves {train_count} for training "
                          f"and {val} for validation: use a smaller validation_split or more images")
    return train_count, val


@python_api
def evaluate(*, model, data_loader, criterion, metric_fn=None, device=None):
    """The course helper: {'loss': mean loss, 'metric': metric over the data or None}, on the model's device."""
    device = torch.device(device or _device_of(model))
    if metric_fn is not None:
        metric_fn.to(device)
        metric_fn.reset()
    batches = data_loader
    if isinstance(data_loader, DataLoader) and _plain_loader(data_loader):
        batches = _batches_for(data_loader.dataset, None, data_loader.batch_size, False, 0, device) or data_loader
    with _on_device(model, device):
        res = validate(model, batches, criterion, metric_fn=metric_fn)
    return {"loss": res.loss, "metric": res.metric}


def _with_epoch(epoch: int, run_pass):
    """Say in which epoch a pass was interrupted or its loss stopped being finite."""
    try:
        return run_pass()
    except Interrupted as e:
        raise Interrupted(e.signum, f"interrupted during epoch {epoch + 1}") from None
    except NonFiniteLoss as e:
        where = f"the loss became {e.value} at epoch {epoch + 1}, step {e.step}"
        fix = (f" (learning rate {e.lr:g}): lower --lr or set --clip-grad-norm" if e.lr is not None
               else ": the weights are not finite")
        raise RowrnnError(where + fix + "; the run directory keeps the last good epoch") from None


def _progress_factory(enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return lambda it: tqdm(it, total=len(it), leave=False, unit="batch", dynamic_ncols=True)


# ----------------------------------------------------------------------------- the run trainer

def split_indices(n: int, val_split: float, seed: int):
    """The same (1-v, v) random_split the course helper makes, seeded."""
    with warnings.catch_warnings():  # an empty part is reported by train_epochs, in one line
        warnings.filterwarnings("ignore", message="Length of split")
        parts = random_split(range(n), [1 - val_split, val_split], generator=torch.Generator().manual_seed(seed))
    return torch.tensor(list(parts[0]), dtype=torch.long), torch.tensor(list(parts[1]), dtype=torch.long)


@dataclass
class TrainResult:
    history: dict
    best_epoch: int
    best_metric: float
    stopped_early: bool
    max_grad_norm: float
    is_main: bool = True      # rank 0 (or the only process): the one that wrote the run directory


def _new_state(model, optimizer, scheduler) -> runs.ResumeState:
    return runs.ResumeState(epoch=0, model=model.state_dict(), best_model=None, optimizer=optimizer.state_dict(),
                            history={k: [] for k in runs.HISTORY_KEYS}, best_metric=-1.0, best_epoch=0,
                            scheduler=scheduler.state_dict() if scheduler is not None else None)


def _restore(state: runs.ResumeState, model, optimizer, scheduler, make_schedule, steps_per_epoch: int, run_dir):
    """Load a saved state into the model, optimizer and schedule; returns the schedule to continue with."""
    try:
        model.load_state_dict(state.model)
    except RuntimeError:
        raise RowrnnError(f"{run_dir}: the weights do not match its config.json (was it edited?): "
                          "restore the run's own config.json") from None
    try:
        optimizer.load_state_dict(state.optimizer)
        if scheduler is not None and state.scheduler is not None:
            scheduler.load_state_dict(state.scheduler)
        elif scheduler is not None:  # a version-0 state (rowrnn 0.1.0 set the rate by hand): replay the schedule
            scheduler = make_schedule()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": intended here
                for _ in range(state.epoch * steps_per_epoch):
                    scheduler.step()
    except (ValueError, KeyError, RuntimeError) as e:
        raise RowrnnError(f"{run_dir / runs.STATE_FILE}: the optimizer state does not fit the model ({e}): "
                          "start the run again") from None
    return scheduler


def train_epochs(cfg: RunConfig, run_dir, *, resume: bool = False, train_set: ImageDataset | None = None,
                 on_epoch=None, progress: bool = False) -> TrainResult:
    """Train cfg into run_dir (config, history, best/last weights, resumable state), one epoch at a time.

    Validation picks the best epoch; the test split is never touched here. state.pt, written
    after every epoch, is the commit point: a run stopped at any moment resumes from its last
    completed epoch to the same weights. on_epoch(epoch, history, max_grad_norm) is called on rank 0.
    """
    from torchmetrics.classification import MulticlassAccuracy

    run_dir = Path(run_dir)
    tc = cfg.train
    with distributed_context(tc.device) as place:
        device, main = place.device, place.is_main
        if tc.amp and device.type != "cuda":
            raise RowrnnError("--amp needs a CUDA device (bfloat16 autocast); drop --amp on CPU")
        if train_set is None:  # before touching run_dir: a data error leaves nothing behind
            train_set, _ = load_fashion_mnist(cfg.data.data_dir, verify=cfg.data.verify)
        train_idx, val_idx = split_indices(len(train_set), tc.val_split, tc.seed)
        if len(val_idx) == 0 or len(train_idx) == 0:
            raise RowrnnError(f"--val-split {tc.val_split} of {len(train_set)} training images leaves "
                              f"{len(train_idx)} for training and {len(val_idx)} for validation: use more data "
                              "or another --val-split")
        if resume:
            runs.check_resumable(run_dir, cfg)
        elif main:  # before the lock: a refused directory is left untouched
            runs.check_fresh(run_dir)
        lock = runs.RunLock(run_dir, fresh=not resume) if main else contextlib.nullcontext()
        with lock, stop_on_signals() as should_stop:
            saved = runs.ResumeState.load(run_dir) if resume else None
            if main and not resume:
                runs.start_run(run_dir, cfg)
            torch.manual_seed(tc.seed)
            model = build_model(cfg.model).to(device)
            images, labels = train_set.images.to(device), train_set.labels.to(device)  # once, for both splits
            common = dict(device=device, rank=place.rank, world_size=place.world_size)
            train_batches = Batches(images, labels, tc.batch_size, indices=train_idx, shuffle=True, seed=tc.seed,
                                    augment_shift=tc.augment_shift, augment_flip=tc.augment_flip,
                                    augment_erase=tc.augment_erase, **common)
            val_batches = Batches(images, labels, tc.batch_size, indices=val_idx, **common)
            optimizer = make_optimizer(model.parameters(), tc)
            make_schedule = lambda: make_scheduler(optimizer, tc, total_steps=len(train_batches) * tc.epochs)  # noqa: E731
            scheduler = make_schedule()
            state = saved or _new_state(model, optimizer, scheduler)
            if saved is not None:
                scheduler = _restore(saved, model, optimizer, scheduler, make_schedule, len(train_batches), run_dir)
                if main:
                    runs.write_weights_and_history(run_dir, saved)
            net = model
            if place.world_size > 1:
                net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
            criterion = nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)
            metric = MulticlassAccuracy(num_classes=NUM_CLASSES, validate_args=False).to(device)
            bar = _progress_factory(progress and main)
            max_grad_norm = 0.0
            for epoch in range(state.epoch, tc.epochs):
                if state.stopped_early:
                    break
                start = time.perf_counter()
                torch.manual_seed(tc.seed * 1_000_003 + epoch + 1)  # dropout: a function of (seed, epoch)
                train_batches.set_epoch(epoch)
                metric.reset()
                res = _with_epoch(epoch, lambda: train_one_epoch(
                    net, train_batches, criterion, optimizer, scheduler=scheduler, metric_fn=metric,
                    clip_grad_norm=tc.clip_grad_norm, amp=tc.amp, should_stop=should_stop, progress=bar))
                metric.reset()
                val = _with_epoch(epoch, lambda: validate(net, val_batches, criterion, metric_fn=metric,
                                                          amp=tc.amp, should_stop=should_stop))
                max_grad_norm = max(max_grad_norm, res.max_grad_norm)
                for key, value in (("train_loss", res.loss), ("train_metric", res.metric),
                                   ("val_loss", val.loss), ("val_metric", val.metric), ("lr", res.lr),
                                   ("seconds", time.perf_counter() - start)):
                    state.history[key].append(value)
                if val.metric > state.best_metric:
                    state.best_metric, state.best_epoch, state.bad_epochs = val.metric, epoch + 1, 0
                    state.best_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    state.bad_epochs += 1
                state.epoch = epoch + 1
                state.stopped_early = bool(tc.patience) and state.bad_epochs >= tc.patience
                state.model, state.optimizer = model.state_dict(), optimizer.state_dict()
                state.scheduler = scheduler.state_dict() if scheduler is not None else None
                if main:
                    state.save(run_dir)
                    runs.write_weights_and_history(run_dir, state)
                    if on_epoch is not None:
                        on_epoch(epoch, state.history, res.max_grad_norm)
            return TrainResult(state.history, state.best_epoch, state.best_metric, state.stopped_early,
                               max_grad_norm, main)
