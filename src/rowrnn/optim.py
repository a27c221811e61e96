"""Optimizers and learning-rate schedules by name, built on torch.optim.

The config's choices come from these two registries.

    optimizer = make_optimizer(model.parameters(), cfg.train)
    scheduler = make_scheduler(optimizer, cfg.train, total_steps=steps_per_epoch * cfg.train.epochs)
    ema = make_ema(model, cfg.train.ema_decay)     # None when the decay is 0
    ...; optimizer.step(); scheduler.step(); ema.update_parameters(model)   # once per optimizer step
"""
from __future__ import annotations

import torch
from torch.optim import lr_scheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

OPTIMIZERS = {
    "adam": lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "adamw": lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
}

# name -> scheduler over `total` optimizer steps peaking at `lr` (stepped once per step), or None: constant
SCHEDULES = {
    "constant": None,
    "cosine": lambda optimizer, total, lr: lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=0.0),
    # the one-cycle policy: up from lr/25 over 30 % of the steps, then down to lr/25/1e4; momentum is
    # not cycled (the presets were chosen with a fixed Adam beta1)
    "onecycle": lambda optimizer, total, lr: lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
        final_div_factor=1e4, cycle_momentum=False),
}


def make_optimizer(params, train_cfg) -> torch.optim.Optimizer:
    """The optimizer named by train_cfg.optimizer, with its lr and weight_decay."""
    return OPTIMIZERS[train_cfg.optimizer](params, train_cfg.lr, train_cfg.weight_decay)


def make_scheduler(optimizer, train_cfg, total_steps: int):
    """The schedule named by train_cfg.schedule over total_steps optimizer steps (None: constant)."""
    factory = SCHEDULES[train_cfg.schedule]
    return None if factory is None else factory(optimizer, max(1, total_steps), train_cfg.lr)


def _ema_update(decay: float):
    """AveragedModel's multi_avg_fn: floating tensors move towards the model's by (1 - decay) (torch's
    get_ema_multi_avg_fn, one foreach lerp), integer ones -- BatchNorm's step counter, a fixed pixel
    permutation -- are copied, as timm's ModelEmaV3 does (an average of indices is not an index)."""
    lerp = get_ema_multi_avg_fn(decay)

    @torch.no_grad()
    def update(averaged: list, current: list, n_averaged) -> None:
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            lerp(averaged, current, n_averaged)
        else:
            for a, c in zip(averaged, current, strict=True):
                a.copy_(c)
    return update


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of model's weights and buffers (None when decay is 0): after the first
    update_parameters(model) it holds that step's weights, after each later one
    ema = decay * ema + (1 - decay) * weights (Polyak & Juditsky 1992; torch.optim.swa_utils.AveragedModel with
    get_ema_multi_avg_fn). Give it the bare model, not its DistributedDataParallel wrapper: every rank holds the
    same weights after a step, so every rank's average is the same. Its .module is the averaged network;
    its state_dict() (the average and n_averaged, the updates so far) is what resuming needs.

    No warm-up: the average starts at the first step's weights and timm's warm-up decay
    (min(decay, (1 + n) / (10 + n))) is not used, so after n updates the first step's weights still weigh
    decay ** (n - 1) (0.998: 37 % after 500 steps, 1 % after 2,300). In a run of few steps the average lags
    behind the raw weights and is judged by that lag (benchmarks/README.md says what it means for the A/B)."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=_ema_update(decay), use_buffers=True)
