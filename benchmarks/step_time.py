"""Milliseconds per training step (forward, backward, AdamW) of a preset's model and its variants, rounds
interleaved so that a noisy machine slows every variant alike -- a development benchmark, not part of the package.

    python benchmarks/step_time.py --preset mingru --variant rps4:rows_per_step=4 --variant h48:hidden_size=48
    python benchmarks/step_time.py --preset mingru --g-where        # minGRU's g as torch.where against rowrnn's

Each variant is the preset with FIELD=VALUE overrides (values read as JSON when they parse). A step runs on one
fixed random batch of the preset's batch size (the data pipeline and validation are not timed: see bench.py for
whole epochs); every round times --steps steps of each variant in turn and keeps their median; the table gives
the median over --rounds rounds, each round's, the ratio to the first variant and the training images per second.
--g-where adds the preset timed with minGRU's candidate activation g written as torch.where over both branches
(the form rowrnn replaced), the same floats; it matters only where the cells run their step loop (a CPU: the
parallel scan uses log g). Runs on the CPU.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))      # recipe_options, beside this file


def parse_variant(text: str) -> tuple[str, dict]:
    """'name:field=value,field=value' -> (name, overrides), the values read as recipe_options.py's --set reads
    them. Raises RowrnnError for a variant without a name or with a pair that is not FIELD=VALUE."""
    from recipe_options import parse_overrides

    from rowrnn.errors import RowrnnError
    name, _, pairs = text.partition(":")
    if not name:
        raise RowrnnError(f"--variant {text!r}: give it a name, NAME:FIELD=VALUE[,FIELD=VALUE]")
    try:
        return name, parse_overrides([pair for pair in pairs.split(",") if pair])
    except RowrnnError:
        raise RowrnnError(f"--variant {text!r}: write NAME:FIELD=VALUE[,FIELD=VALUE]") from None


def _where_g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def main(argv=None) -> int:
    """Time the variants, print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="mingru")
    p.add_argument("--variant", action="append", default=[], help="NAME:FIELD=VALUE[,FIELD=VALUE]; repeatable")
    p.add_argument("--g-where", action="store_true", help="also time the preset with g as torch.where")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant and round")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    from rowrnn.errors import RowrnnError
    try:
        return _run(args, argv)
    except RowrnnError as e:
        print(f"step_time: error: {e}", file=sys.stderr)
        return 2


def _run(args, argv) -> int:
    from rowrnn import recurrences
    from rowrnn.config import build_config
    from rowrnn.errors import RowrnnError
    from rowrnn.models import build_model, count_parameters
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [(args.preset, {}, recurrences.g)] + [(*parse_variant(v), recurrences.g) for v in args.variant]
    if args.g_where:
        variants.append((f"{args.preset}, g as torch.where", {}, _where_g))
    names = [name for name, *_ in variants]
    if len(set(names)) < len(names):
        raise RowrnnError(f"--variant: the names {', '.join(names)} repeat: give each variant its own")
    steps, original_g = [], recurrences.g
    for name, overrides, g in variants:
        cfg = build_config(args.preset, overrides)
        torch.manual_seed(0)
        model = build_model(cfg.model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
        x, y = torch.randn(cfg.train.batch_size, 1, 28, 28), torch.randint(0, 10, (cfg.train.batch_size,))

        def step(model=model, optimizer=optimizer, x=x, y=y):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        steps.append((name, g, step, cfg.train.batch_size, count_parameters(model)))
    times = {name: [] for name, *_ in steps}
    try:
        for _, g, step, *_ in steps:                                   # warm-up
            recurrences.g = g
            for _ in range(3):
                step()
        for _ in range(args.rounds):
            for name, g, step, *_ in steps:
                recurrences.g = g
                each = []
                for _ in range(args.steps):
                    start = time.perf_counter()
                    step()
                    each.append(time.perf_counter() - start)
                times[name].append(statistics.median(each))
    finally:
        recurrences.g = original_g
    first = statistics.median(times[steps[0][0]])
    print("| variant | parameters | ms/step (median) | each round | ratio | images/s |")
    print("|---|--:|--:|---|--:|--:|")
    for name, _, _, batch, params in steps:
        median = statistics.median(times[name])
        rounds = ", ".join(f"{t * 1e3:.1f}" for t in times[name])
        print(f"| {name} | {params:,} | {median * 1e3:.1f} | {rounds} | {median / first:.2f} | {batch / median:,.0f} |")
    print(f"\n(torch {torch.__version__}, {torch.get_num_threads()} threads; command: python benchmarks/step_time.py "
          f"{' '.join(sys.argv[1:] if argv is None else argv)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
