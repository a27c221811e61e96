"""The training loop: one epoch (run_epoch: a training pass, then a validation pass), the course's helpers,
and the run's loop (train_loop), which only loops: lifecycle.fit builds what it loops over, and
runs.Checkpointer decides the best epoch and writes. One process or many (torchrun + DDP).

    history = train(model, train_loader, 25, nn.CrossEntropyLoss(), optimizer,
                    validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10))
    max_grad_norm = train_loop(model, train_batches, val_batches, criterion, optimizer, checkpointer, epochs=25, seed=0)
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, random_split

from .data import Batches, ImageDataset
from .devices import get_device, is_distributed
from .errors import Interrupted, RowrnnError, python_api

EXPLODING_GRAD_NORM = 1e3  # the CLI warns above this gradient norm when clipping is off

__all__ = ["EpochResult", "train_one_epoch", "validate", "run_epoch", "train_loop", "train", "evaluate", "get_device",
           "split_indices", "Teacher", "distillation_loss"]


@dataclass
class EpochResult:
    """One pass over batches: the sample-weighted mean loss, the metric (None without metric_fn), the steps
    taken, and for a training pass its largest gradient norm (before clipping) and last learning rate."""
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


def _unwrapped(model: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, hard_loss: torch.Tensor, *,
                      temperature: float, alpha: float) -> torch.Tensor:
    """Knowledge distillation's loss (Hinton, Vinyals & Dean 2015, "Distilling the knowledge in a neural network"):
    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * hard_loss.

    student_logits, teacher_logits: (B, C); the KL divergence is summed over classes and averaged over the batch
    (the mean per image, as the cross-entropy is); T^2 keeps the soft term's gradients on the scale of the hard
    one's as T changes. hard_loss: the recipe's cross-entropy with the labels (its label smoothing included).
    alpha=0 gives hard_loss exactly. Returns a scalar."""
    t = float(temperature)
    soft = nn.functional.kl_div(torch.log_softmax(student_logits / t, dim=-1),
                                torch.log_softmax(teacher_logits / t, dim=-1), reduction="batchmean", log_target=True)
    return alpha * t * t * soft + (1.0 - alpha) * hard_loss


class Teacher:
    """A trained network whose softened predictions a student learns from (distillation_loss): run in eval mode,
    without gradients, on the student's own (augmented) batch; it never changes.

        teacher = Teacher(load_model("runs/cnn")[0], temperature=4.0, alpha=0.7)
        loss = teacher.loss(images, student_logits, cross_entropy)
    """

    def __init__(self, model: nn.Module, *, temperature: float, alpha: float):
        self.model = model.eval().requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha

    def loss(self, images: torch.Tensor, student_logits: torch.Tensor, hard_loss: torch.Tensor) -> torch.Tensor:
        """distillation_loss of student_logits (B, C) against this teacher's logits for images (B, 1, 28, 28)."""
        with torch.no_grad():
            teacher_logits = self.model(images).float()
        return distillation_loss(student_logits, teacher_logits, hard_loss, temperature=self.temperature,
                                 alpha=self.alpha)


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
                    clip_grad_norm: float = 0.0, amp: bool = False, should_stop=None, progress=None, ema=None,
                    teacher: Teacher | None = None) -> EpochResult:
    """One pass of optimizer steps over `batches`; the loss is the sample-weighted mean, the metric over the pass.

    Under torchrun each rank sees its share of every global batch; weighting the loss by that share
    makes the gradient DDP averages equal to the global batch's, uneven shares included.
    progress wraps the batches for display (tqdm); should_stop() returning a signal number stops.
    ema (optim.make_ema) is updated after every optimizer step; with a teacher the loss (and the reported
    training loss) is distillation_loss around criterion's.
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
            if teacher is not None and n:
                loss = teacher.loss(x, logits.float(), loss)
        optimizer.zero_grad(set_to_none=True)
        (loss * (n * world / global_sizes[step] if global_sizes is not None else 1.0)).backward()
        norm = nn.utils.clip_grad_norm_(params, clip_grad_norm) if clip_grad_norm else _total_norm(params)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if ema is not None:
            ema.update_parameters(_unwrapped(model))
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
    """One pass without gradients: the sample-weighted mean loss and the metric over all of `batches`.
    Raises RowrnnError when batches hold no image, NonFiniteLoss for a NaN or infinite loss, Interrupted when
    should_stop() names a signal."""
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
    bar = progress_bar(progress)
    with _on_device(model, device):
        for epoch in range(n_epochs):
            start = time.perf_counter()
            res, val = run_epoch(model, train_batches, val_batches, criterion, optimizer, epoch=epoch,
                                 metric_fn=metric_fn, progress=bar)
            history["train_loss"].append(res.loss)
            if metric_fn is not None:
                history["train_metric"].append(res.metric)
            if val is not None:
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


def progress_bar(enabled: bool):
    """None, or a wrapper that shows a pass over batches as a tqdm bar (cleared when the pass ends)."""
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


def run_epoch(model, train_batches, val_batches, criterion, optimizer, *, epoch: int, scheduler=None,
              metric_fn=None, clip_grad_norm: float = 0.0, amp: bool = False, should_stop=None,
              progress=None, ema=None, teacher: Teacher | None = None) -> tuple[EpochResult, EpochResult | None]:
    """One epoch, the only one: train over train_batches, then validate over val_batches (None: no validation).

    The course's train() and the run loop (train_loop) both call it. With ema (optim.make_ema) the average is
    what is validated; with a teacher the training loss distils (train_one_epoch). Returns (training pass,
    validation pass or None); an interruption or a non-finite loss is re-raised naming the epoch (1-based).
    """
    if hasattr(train_batches, "set_epoch"):
        train_batches.set_epoch(epoch)          # the shuffle and augmentation: a function of (seed, epoch)
    if metric_fn is not None:
        metric_fn.reset()
    res = _with_epoch(epoch, lambda: train_one_epoch(
        model, train_batches, criterion, optimizer, scheduler=scheduler, metric_fn=metric_fn,
        clip_grad_norm=clip_grad_norm, amp=amp, should_stop=should_stop, progress=progress, ema=ema,
        teacher=teacher))
    if val_batches is None:
        return res, None
    if metric_fn is not None:
        metric_fn.reset()
    judged = ema.module if ema is not None else model
    val = _with_epoch(epoch, lambda: validate(judged, val_batches, criterion, metric_fn=metric_fn, amp=amp,
                                              should_stop=should_stop))
    return res, val


def train_loop(model, train_batches, val_batches, criterion, optimizer, checkpointer, *, epochs: int, seed: int,
               scheduler=None, metric_fn=None, clip_grad_norm: float = 0.0, amp: bool = False, should_stop=None,
               progress=None, on_epoch=None, ema=None, teacher: Teacher | None = None) -> float:
    """The run's epochs, checkpointer.epoch to epochs - 1 (or until its patience runs out): a loop and nothing else.

    lifecycle.fit builds what it loops over; checkpointer (runs.Checkpointer) keeps the history, decides the
    best epoch and patience, and writes. model may be wrapped in DistributedDataParallel. ema and teacher: see
    run_epoch (the checkpointer holds the same ema, to judge and save it). on_epoch(epoch,
    history, max_grad_norm) follows each epoch. Returns the largest gradient norm seen (before clipping).
    """
    max_grad_norm = 0.0
    for epoch in range(checkpointer.epoch, epochs):
        if checkpointer.stopped_early:
            break
        start = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + epoch + 1)  # dropout: a function of (seed, epoch)
        res, val = run_epoch(model, train_batches, val_batches, criterion, optimizer, epoch=epoch,
                             scheduler=scheduler, metric_fn=metric_fn, clip_grad_norm=clip_grad_norm, amp=amp,
                             should_stop=should_stop, progress=progress, ema=ema, teacher=teacher)
        max_grad_norm = max(max_grad_norm, res.max_grad_norm)
        checkpointer.epoch_end({"train_loss": res.loss, "train_metric": res.metric, "val_loss": val.loss,
                                "val_metric": val.metric, "lr": res.lr, "seconds": time.perf_counter() - start})
        if on_epoch is not None:
            on_epoch(epoch, checkpointer.history, res.max_grad_norm)
    return max_grad_norm
