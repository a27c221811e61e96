"""Issue 20's recipe options, each against its absence: the same preset, seed and epochs trained plain, with an
exponential moving average of the weights (--ema-decay), and distilled from a finished teacher (--distill-from),
judged on VALIDATION only (the students' test split is never read here).

    python benchmarks/recipe_options.py --preset fast --epochs 30 --teacher-preset cnn --teacher-epochs 8 \\
        --data-dir /usr/share/datasets/fashion-mnist --out runs/recipe-options
    python benchmarks/recipe_options.py --preset fast --teacher runs/leaderboard/cnn-seed0 --out runs/recipe-options

Every variant trains with rowrnn's own loop (lifecycle.train_epochs) into OUT/<variant>; a variant already
trained there is reused, one cut short is resumed. A distilled variant's minutes include its teacher's
training (the student cannot start before the teacher exists), as everywhere rowrnn reports minutes. The
teacher is either a finished run (--teacher RUN) or trained here first (--teacher-preset, --teacher-epochs)
into OUT/teacher-<preset>, finished as `rowrnn train` finishes a run (its own test split read once, for its
own record). Prints a Markdown table; --json writes the numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

VARIANTS = ("plain", "ema", "distill", "ema+distill")
THRESHOLDS = (0.90, 0.91, 0.92)


def _train(cfg, run_dir: Path):
    """(history, best epoch, best validation metric) of cfg trained into run_dir: reused when complete there,
    resumed when cut short, trained otherwise."""
    from rowrnn import runs
    from rowrnn.lifecycle import train_epochs
    state = runs.ResumeState.load(run_dir) if (run_dir / runs.CONFIG_FILE).exists() else None
    if state is not None and state.complete(cfg.train.epochs):
        return state.history, state.best_epoch, state.best_val_metric
    result = train_epochs(cfg, run_dir, resume=(run_dir / runs.CONFIG_FILE).exists())
    return result.history, result.best_epoch, result.best_val_metric


def _teacher(args, out: Path) -> Path:
    """The teacher's run directory: --teacher as given, or --teacher-preset trained and finished in out."""
    from rowrnn import runs
    from rowrnn.config import build_config
    from rowrnn.lifecycle import fit
    if args.teacher is not None:
        return Path(args.teacher)
    run_dir = out / f"teacher-{args.teacher_preset}"
    if (run_dir / runs.CONFIG_FILE).exists() and runs.run_status(run_dir) == "finished":
        return run_dir
    overrides = {"seed": args.seed, "data_dir": args.data_dir, "verify": not args.no_verify,
                 **({"epochs": args.teacher_epochs} if args.teacher_epochs else {})}
    fit(build_config(args.teacher_preset, overrides), run_dir, resume=(run_dir / runs.CONFIG_FILE).exists(),
        figures=False)
    return run_dir


def run_variants(args) -> list[dict]:
    """One row per variant: its validation numbers and minutes (the teacher's counted for distilled ones)."""
    from rowrnn import runs
    from rowrnn.compare import minutes_to_accuracy
    from rowrnn.config import build_config
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}: choose from {', '.join(VARIANTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    teacher = _teacher(args, out) if any("distill" in v for v in variants) else None
    record = runs.teacher_record(teacher) if teacher is not None else None
    rows = []
    for variant in variants:
        overrides = {"seed": args.seed, "data_dir": args.data_dir, "verify": not args.no_verify}
        if args.epochs:
            overrides["epochs"] = args.epochs
        if "ema" in variant:
            overrides["ema_decay"] = args.ema_decay
        if "distill" in variant:
            overrides.update(distill_from=str(teacher), distill_temperature=args.distill_temperature,
                             distill_alpha=args.distill_alpha)
        cfg = build_config(args.preset, overrides)
        history, best_epoch, best_val = _train(cfg, out / variant.replace("+", "-"))
        own = sum(history["seconds"]) / 60
        teacher_minutes = record["train_minutes"] if "distill" in variant else 0.0
        rows.append({"variant": variant, "preset": args.preset, "seed": args.seed, "epochs": len(history["seconds"]),
                     "best_val_metric": best_val, "best_epoch": best_epoch, "final_val_metric": history["val_metric"][-1],
                     "own_minutes": own, "teacher_minutes": teacher_minutes, "minutes": own + teacher_minutes,
                     "minutes_to_val": minutes_to_accuracy(history, THRESHOLDS, start_minutes=teacher_minutes),
                     "teacher": record["run"] if "distill" in variant else None,
                     "options": {k: v for k, v in overrides.items() if k not in ("data_dir", "verify", "seed")}})
    return rows


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table; Δ is each variant's best validation metric minus the plain run's."""
    plain = next((r["best_val_metric"] for r in rows if r["variant"] == "plain"), None)
    cells = " | ".join(f"min to val {t:.2f}" for t in THRESHOLDS)
    lines = [f"| variant | preset | seed | epochs | best val (epoch) | final val | Δ best val vs plain | own min "
             f"| teacher min | minutes | {cells} |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|" + "--:|" * len(THRESHOLDS)]
    for r in rows:
        delta = f"{r['best_val_metric'] - plain:+.4f}" if plain is not None else "–"
        reached = " | ".join(f"{m:.2f}" if m is not None else "—" for m in r["minutes_to_val"])
        lines.append(f"| {r['variant']} | {r['preset']} | {r['seed']} | {r['epochs']} | {r['best_val_metric']:.4f} "
                     f"({r['best_epoch']}) | {r['final_val_metric']:.4f} | {delta} | {r['own_minutes']:.2f} | "
                     f"{r['teacher_minutes']:.2f} | {r['minutes']:.2f} | {reached} |")
    teachers = sorted({r["teacher"] for r in rows if r["teacher"]})
    if teachers:
        lines += ["", f"Teacher: {', '.join(teachers)} (its training minutes are in every distilled row's minutes)."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The script's flags."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default="fast", help="the student's preset")
    p.add_argument("--epochs", type=int, default=None, help="the student's epochs (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="one seed for every variant (and a trained teacher)")
    p.add_argument("--variants", default="plain,ema,distill", help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--ema-decay", type=float, default=0.998, help="decay of the moving average")
    p.add_argument("--teacher", default=None, help="a finished run to distil from (else one is trained here)")
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
