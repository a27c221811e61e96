"""Issue 20's recipe options, each against its absence: the same preset, seeds and epochs trained plain, with an
exponential moving average of the weights (--ema-decay), and distilled from a finished teacher (--distill-from),
judged on VALIDATION only (the students' test split is never read here).

    python benchmarks/recipe_options.py --preset fast --seeds 0,1,2 --teacher-preset cnn --teacher-epochs 8 \\
        --data-dir /usr/share/datasets/fashion-mnist --out runs/recipe-options
    python benchmarks/recipe_options.py --preset fast --teacher runs/leaderboard/cnn-seed0 --out runs/recipe-options
    python benchmarks/recipe_options.py --preset mingru --variants plain --set hidden_size=48 --epochs 25 \\
        --out runs/fast-search/h48          # any config field, validation only: a search that never reads test

Every variant and seed trains with rowrnn's own loop (lifecycle.train_epochs) into OUT/<variant>-seed<seed>; a
run already trained there with exactly the config asked for is reused, one cut short is resumed, and one of
another config (other --ema-decay, --distill-*, --epochs, --set, ...; or a teacher whose best weights changed) is
refused, naming the differences: remove it or choose another --out. A distilled variant's minutes include its
teacher's training (the student cannot start before the teacher exists), as everywhere rowrnn reports minutes
(runs.run_minutes). A teacher must not have trained on its students' validation images, so each seed has its
own: a finished run (--teacher RUN, one seed only) or one trained here first (--teacher-preset, --teacher-epochs,
with the students' seed) into OUT/teacher-<preset>-seed<seed>, finished as `rowrnn train` finishes a run (its own
test split read once, for its own record); a teacher there of another config is refused the same way. Prints a
Markdown table, one line per variant: the mean over the seeds and each seed's number; --json writes one row per
variant and seed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

VARIANTS = ("plain", "ema", "distill", "ema+distill")
THRESHOLDS = (0.90, 0.91, 0.92)     # of validation MACRO accuracy (the history's val_metric), as compare's


def _check_same(run_dir: Path, cfg, what: str) -> None:
    """Refuse run_dir unless it holds a run of exactly cfg (data_dir, device and amp aside: runs.check_resumable).
    Raises RowrnnError naming the differences and the fix."""
    from rowrnn import runs
    from rowrnn.errors import RowrnnError
    diffs = runs.config_differences(runs.load_config(run_dir), cfg)
    if diffs:
        raise RowrnnError(f"{run_dir} holds {what} of another config ({'; '.join(diffs)}): remove it to train it "
                          "again, or choose another --out")


def _train(cfg, run_dir: Path, teacher: dict | None = None):
    """(history, best epoch, best validation metric) of cfg trained into run_dir: reused when complete there,
    resumed when cut short, trained otherwise. A run there of another config, or distilled from a teacher whose
    best weights are not teacher's (its record), is refused (RowrnnError)."""
    from rowrnn import runs
    from rowrnn.errors import RowrnnError
    from rowrnn.lifecycle import train_epochs
    exists = (run_dir / runs.CONFIG_FILE).exists()
    if exists:
        _check_same(run_dir, cfg, "a run")
        try:
            runs.check_teacher(run_dir, teacher)
        except RowrnnError:
            raise RowrnnError(f"{run_dir} was distilled from other best weights of {teacher['run']} than those it has "
                              "now: remove it to train it again, or choose another --out") from None
        state = runs.ResumeState.load(run_dir)
        if state is not None and state.complete(cfg.train.epochs):
            return state.history, state.best_epoch, state.best_val_metric
    result = train_epochs(cfg, run_dir, resume=exists)
    return result.history, result.best_epoch, result.best_val_metric


def _teacher(args, out: Path, seed: int, val_split: float) -> Path:
    """The teacher of the students of seed: --teacher as given, or --teacher-preset (with --teacher-epochs) trained
    with that seed and val_split -- the students' validation split, which a teacher must not have trained on -- and
    finished in out/teacher-<preset>-seed<seed>, reused only when the run there has exactly that config, refused
    otherwise."""
    from rowrnn import runs
    from rowrnn.config import build_config
    from rowrnn.lifecycle import fit
    if args.teacher is not None:
        return Path(args.teacher)
    run_dir = out / f"teacher-{args.teacher_preset}-seed{seed}"
    overrides = {"seed": seed, "val_split": val_split, "data_dir": args.data_dir, "verify": not args.no_verify,
                 **({"epochs": args.teacher_epochs} if args.teacher_epochs else {})}
    cfg = build_config(args.teacher_preset, overrides)
    exists = (run_dir / runs.CONFIG_FILE).exists()
    if exists:
        _check_same(run_dir, cfg, "a teacher")
        if runs.run_status(run_dir) == "finished":
            return run_dir
    fit(cfg, run_dir, resume=exists, figures=False)
    return run_dir


def parse_seeds(text: str) -> list[int]:
    """--seeds "0,1,2" as [0, 1, 2]. Raises RowrnnError for anything but distinct non-negative integers."""
    from rowrnn.errors import RowrnnError
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise RowrnnError(f"--seeds {text!r}: give distinct non-negative integers separated by commas, e.g. 0,1,2")
    return seeds


# config fields --set may not touch: the script's own flags (or the variant) set them
OWN_FLAGS = {"seed": "--seeds", "data_dir": "--data-dir", "verify": "--no-verify", "epochs": "--epochs",
             "ema_decay": "--variants ema and --ema-decay", "distill_from": "--variants distill and --teacher",
             "distill_alpha": "--distill-alpha", "distill_temperature": "--distill-temperature"}


def _check_teacher(teacher, seed: int, val_split: float, args) -> None:
    """Refuse --teacher before anything trains when it trained on any of the students' validation images (the
    check rowrnn's own fit makes, lifecycle.check_teacher_split). Raises RowrnnError."""
    from rowrnn import lifecycle, runs
    from rowrnn.config import build_config
    from rowrnn.data import load_fashion_mnist
    from rowrnn.training import split_indices
    runs.teacher_record(teacher)                      # a missing or unfinished teacher: its own one-line error
    train_set, _ = load_fashion_mnist(args.data_dir, verify=not args.no_verify)
    student = build_config(args.preset, {"seed": seed, "val_split": val_split, "distill_from": str(teacher)}).train
    _, val_idx = split_indices(len(train_set), val_split, seed)
    lifecycle.check_teacher_split(student, runs.load_config(teacher).train, len(train_set), val_idx)


def parse_overrides(pairs: list[str]) -> dict:
    """--set FIELD=VALUE pairs as build_config's overrides: each value read as JSON when it parses (48, 0.002,
    true), as a string otherwise (rows+columns). Raises RowrnnError for a pair without '=' or a field the
    script sets itself (OWN_FLAGS: seed, epochs, the variants' own ema_decay and distill_*, ...)."""
    from rowrnn.errors import RowrnnError
    overrides = {}
    for pair in pairs:
        field, sep, text = pair.partition("=")
        if not sep or not field:
            raise RowrnnError(f"--set {pair!r}: write FIELD=VALUE, e.g. --set hidden_size=48")
        if field in OWN_FLAGS:
            raise RowrnnError(f"--set {field}: the script sets it: use {OWN_FLAGS[field]}")
        try:
            overrides[field] = json.loads(text)
        except ValueError:
            overrides[field] = text
    return overrides


def run_variants(args) -> list[dict]:
    """One row per variant and seed: its validation numbers and minutes (the teacher's counted for distilled
    ones, runs.run_minutes)."""
    from rowrnn import runs
    from rowrnn.compare import minutes_to_accuracy
    from rowrnn.config import build_config
    from rowrnn.errors import RowrnnError
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise RowrnnError(f"--variants: unknown {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    seeds = parse_seeds(args.seeds)
    extra = parse_overrides(args.overrides)
    distill = any("distill" in v for v in variants)
    if distill and args.teacher is not None and len(seeds) > 1:
        raise RowrnnError(f"--teacher {args.teacher} serves one seed (a teacher must not have trained on its "
                          f"students' validation images): with --seeds {args.seeds} use --teacher-preset, which "
                          "trains one teacher per seed")
    val_split = build_config(args.preset, extra).train.val_split   # refuses a bad --set before anything trains
    if distill and args.teacher is not None:          # before anything trains: the teacher must fit the split
        _check_teacher(args.teacher, seeds[0], val_split, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    teachers = {seed: _teacher(args, out, seed, val_split) for seed in seeds} if distill else {}
    records = {seed: runs.teacher_record(t)[0] for seed, t in teachers.items()}
    rows = []
    for variant in variants:
        for seed in seeds:
            teacher, record = teachers.get(seed), records.get(seed)
            overrides = {**extra, "seed": seed, "data_dir": args.data_dir,
                         "verify": not args.no_verify}
            if args.epochs:
                overrides["epochs"] = args.epochs
            if "ema" in variant:
                overrides["ema_decay"] = args.ema_decay
            if "distill" in variant:
                overrides.update(distill_from=str(teacher), distill_temperature=args.distill_temperature,
                                 distill_alpha=args.distill_alpha)
            cfg = build_config(args.preset, overrides)
            run_dir = out / f"{variant.replace('+', '-')}-seed{seed}"
            history, best_epoch, best_val = _train(cfg, run_dir, record if "distill" in variant else None)
            minutes = runs.run_minutes(runs.load_run(run_dir))
            rows.append({"variant": variant, "preset": args.preset, "seed": seed, "epochs": len(history["seconds"]),
                         "best_val_metric": best_val, "best_epoch": best_epoch,
                         "final_val_metric": history["val_metric"][-1],
                         "own_minutes": minutes.own, "teacher_minutes": minutes.teacher, "minutes": minutes.total,
                         "minutes_to_val": minutes_to_accuracy(history, THRESHOLDS, start_minutes=minutes.teacher),
                         "teacher": record["run"] if "distill" in variant else None,
                         "options": {k: v for k, v in overrides.items() if k not in ("data_dir", "verify", "seed")}})
    return rows


def _reached(rows: list[dict], i: int) -> str:
    """The mean minutes to THRESHOLDS[i] of the seeds that reached it ('—' for none), with how many did when
    not all."""
    reached = [r["minutes_to_val"][i] for r in rows if r["minutes_to_val"][i] is not None]
    if not reached:
        return "—"
    return f"{statistics.mean(reached):.2f}" + (f" ({len(reached)}/{len(rows)})" if len(reached) < len(rows) else "")


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table, one line per variant: the seeds, the mean of their best validation macro
    accuracy and each seed's (best epoch in brackets), the mean final one, Δ (the variant's mean best minus the
    plain run's), the mean minutes (own, teacher's, all) and the mean minutes to each threshold over the seeds
    that reached it ('(k/n)' when only k of n did; '—' none)."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    by = {v: [r for r in rows if r["variant"] == v] for v in variants}
    mean = lambda group, key: statistics.mean(r[key] for r in group)  # noqa: E731
    plain = mean(by["plain"], "best_val_metric") if "plain" in by else None
    cells = " | ".join(f"min to val {t:.2f}" for t in THRESHOLDS)
    lines = [f"| variant | preset | seeds | epochs | best val, mean | each seed (epoch) | final val, mean "
             f"| Δ mean best val vs plain | own min | teacher min | minutes | {cells} |",
             "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|" + "--:|" * len(THRESHOLDS)]
    for v, group in by.items():
        best = mean(group, "best_val_metric")
        delta = f"{best - plain:+.4f}" if plain is not None else "–"
        each = ", ".join(f"{r['best_val_metric']:.4f} ({r['best_epoch']})" for r in group)
        epochs = "/".join(sorted({str(r["epochs"]) for r in group}))
        reached = " | ".join(_reached(group, i) for i in range(len(THRESHOLDS)))
        lines.append(f"| {v} | {group[0]['preset']} | {', '.join(str(r['seed']) for r in group)} | {epochs} | "
                     f"{best:.4f} | {each} | {mean(group, 'final_val_metric'):.4f} | {delta} | "
                     f"{mean(group, 'own_minutes'):.2f} | {mean(group, 'teacher_minutes'):.2f} | "
                     f"{mean(group, 'minutes'):.2f} | {reached} |")
    teachers = sorted({r["teacher"] for r in rows if r["teacher"]})
    if teachers:
        lines += ["", f"Teachers: {', '.join(teachers)} (each one's training minutes are in its students' "
                  "distilled rows' minutes)."]
    lines += ["", "Validation numbers are macro accuracy (the mean of the per-class recalls), the metric the "
              "training history records."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The script's flags."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default="fast", help="the student's preset")
    p.add_argument("--epochs", type=int, default=None, help="the student's epochs (default: the preset's)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, each variant trained with each (and one "
                   "teacher trained here per seed)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides",
                   help="a config field for every variant and seed, as build_config takes it (hidden_size=48, "
                        "rows_per_step=4, lr=0.002); repeatable")
    p.add_argument("--variants", default="plain,ema,distill", help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--ema-decay", type=float, default=0.998,
                   help="decay of the moving average per step; no warm-up: it starts at the first step's weights "
                        "(see rowrnn train --help)")
    p.add_argument("--teacher", default=None, help="a finished run to distil from, for one seed: trained with the "
                   "students' --seed and --val-split (else one is trained here per seed)")
    p.add_argument("--teacher-preset", default="cnn", help="the preset of the teacher trained here")
    p.add_argument("--teacher-epochs", type=int, default=None, help="its epochs (default: the preset's)")
    p.add_argument("--distill-temperature", type=float, default=4.0, help="softmax temperature")
    p.add_argument("--distill-alpha", type=float, default=0.7, help="weight of the soft-target term")
    p.add_argument("--data-dir", default=None, help="the Fashion-MNIST files (default: rowrnn's search)")
    p.add_argument("--no-verify", action="store_true", help="skip the checksums (your own IDX files)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default="runs/recipe-options", help="where the variants' runs go")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return p


def main(argv=None) -> int:
    """Train the variants, print the table."""
    args = build_parser().parse_args(argv)
    import torch

    from rowrnn.errors import RowrnnError
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.time()
    try:
        rows = run_variants(args)
    except RowrnnError as e:
        print(f"recipe_options: error: {e}", file=sys.stderr)
        return 2
    print(markdown_table(rows))
    print(f"\n({time.time() - start:.0f} s in all; command: python benchmarks/recipe_options.py "
          f"{' '.join(sys.argv[1:] if argv is None else argv)})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
