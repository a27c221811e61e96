"""Optimizers and learning-rate schedules by name, built on torch.optim.

The config's choices come from these two registries.

    optimizer = make_optimizer(model.parameters(), cfg.train)
    scheduler = make_scheduler(optimizer, cfg.train, total_steps=steps_per_epoch * cfg.train.epochs)
    ...; optimizer.step(); scheduler.step()       # once per optimizer step
"""
from __future__ import annotations

import torch
from torch.optim import lr_scheduler

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
