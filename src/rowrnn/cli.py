"""The `rowrnn` command: argument parsing and printing only; the work is in the library.

    rowrnn train --preset notebook --out runs/demo
    rowrnn evaluate runs/demo
    rowrnn predict runs/demo shirt.jpg --explain reading.png
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from .config import PRESETS, build_config, config_fields
from .errors import Interrupted, RowrnnError


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_config_flags(parser, sections=("model", "train", "data")):
    """One hyphenated flag per config field; unset flags stay out of the namespace (the preset decides)."""
    for section, f in config_fields():
        if section not in sections:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata['help']} (notebook: {f.default})"
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        else:
            kind = {int: int, float: float}.get(type(f.default), str)
            parser.add_argument(flag, type=kind, choices=f.metadata.get("choices"), default=argparse.SUPPRESS,
                                help=help_text, metavar=None if f.metadata.get("choices") else f.name.upper())


def _overrides(args) -> dict:
    names = {f.name for _, f in config_fields()}
    return {k: v for k, v in vars(args).items() if k in names}


def build_parser() -> Parser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = Parser(prog="rowrnn", formatter_class=fmt,
                    description="Train, inspect and compare recurrent networks that read Fashion-MNIST row by row.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    presets = "; ".join(f"{name}: {desc}" for name, (desc, _, _) in PRESETS.items())
    p = sub.add_parser("train", formatter_class=fmt, help="train a model into a run directory",
                       description=f"Train a model. Presets -- {presets}. Flags override the preset.")
    p.add_argument("--preset", default=None, choices=list(PRESETS), help="starting configuration (default: notebook)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<UTC time>-<preset>)")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN",
                   help="continue RUN from its last completed epoch")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="skip the PNG figures")
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", formatter_class=fmt, help="test-set metrics of a run")
    p.add_argument("run", type=Path, help="run directory (or a .safetensors file beside its config.json)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", formatter_class=fmt, help="classify images with a trained run")
    p.add_argument("run", type=Path, help="run directory (or a .safetensors file beside its config.json)")
    p.add_argument("images", nargs="*", type=Path, help="PNG/JPEG files of any size, colour or grey")
    p.add_argument("--test-index", type=int, action="append", default=[], metavar="N",
                   help="also predict test image N (repeatable)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights")
    p.add_argument("--top", type=int, default=3, help="classes listed per image")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.add_argument("--explain", type=Path, default=None, metavar="PNG",
                   help="save how the guess forms while the network reads each image")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files (for --test-index)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plot", formatter_class=fmt, help="(re)draw a run's figures")
    p.add_argument("run", type=Path, help="run directory")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("compare", formatter_class=fmt, help="train presets into run directories and rank them",
                       description="Train each preset (x seed) with `rowrnn train` into OUT/<preset>-seed<seed> "
                                   "(finished runs are reused, interrupted ones resumed), then write "
                                   "leaderboard.md/.csv/.json/.png of test accuracy.")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--out", type=Path, default=Path("runs/compare"), help="where the runs and the leaderboard go")
    p.add_argument("--parallel", type=int, default=1, help="training processes at a time (threads are shared)")
    p.add_argument("--epochs", type=int, default=None, help="override every preset's epochs (quick looks)")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="skip the Fashion-MNIST checksums")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bench", formatter_class=fmt, help="time epochs: notebook pipeline vs rowrnn vs compute limit",
                       description="Seconds per epoch (train + validation) three ways: (a) the notebook's per-sample "
                                   "PIL pipeline, (b) rowrnn's trainer, (c) pure compute on pre-built batches.")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per way, after one warm-up epoch")
    p.add_argument("--configs", default="notebook,stacked,gru128", help="comma-separated benchmark configs")
    p.add_argument("--data-dir", default=None, help="directory with the Fashion-MNIST files (default: search)")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="skip the Fashion-MNIST checksums")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the full result as JSON")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"],
                   help="where (a), (b), (c) and inference run")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("summary", formatter_class=fmt, help="layer-by-layer summary with the true parameter count")
    p.add_argument("run", type=Path, nargs="?", default=None, help="a run directory (default: build from flags)")
    p.add_argument("--preset", default="notebook", choices=list(PRESETS), help="starting configuration")
    _add_config_flags(p, sections=("model",))
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv=None) -> int:
    import matplotlib
    matplotlib.use("Agg")  # the CLI only writes PNG files
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RowrnnError as e:
        if args.debug:
            traceback.print_exc()
        print(f"rowrnn: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        print("rowrnn: interrupted", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- commands

def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def cmd_train(args) -> int:
    from . import runs
    from .evaluation import evaluate_run
    from .models import build_model, count_parameters
    from .training import EXPLODING_GRAD_NORM, fit

    overrides = _overrides(args)
    if args.resume is not None:
        if args.out is not None and args.out != args.resume:
            raise RowrnnError("--resume RUN continues RUN in place: drop --out")
        if args.preset is not None:
            raise RowrnnError("--resume RUN continues RUN with its own config: drop --preset")
        cfg = runs.load_config(args.resume)
        for key, value in overrides.items():  # fit refuses those that change the run
            section = next(s for s, f in config_fields() if f.name == key)
            setattr(getattr(cfg, section), key, value)
        cfg.validate()
        run_dir = args.resume
    else:
        cfg = build_config(args.preset or "notebook", overrides)
        run_dir = args.out or runs.default_run_dir(cfg)
    main_process = _is_main_process()
    say = print if main_process and not args.quiet else (lambda *a, **k: None)
    tty = sys.stderr.isatty()
    say(f"{'resuming' if args.resume else 'training'} {cfg.preset}{' (modified by flags)' if overrides else ''} "
        f"({count_parameters(build_model(cfg.model)):,} parameters) into {run_dir}")

    def on_epoch(epoch, history, grad_norm):
        line = "  ".join(f"{k} {history[k][-1]:.4f}" for k in ("train_loss", "train_metric", "val_loss", "val_metric"))
        say(f"epoch {epoch + 1}/{cfg.train.epochs}  {line}  lr {history['lr'][-1]:.2e}  "
            f"{history['seconds'][-1]:.1f} s", flush=True)
        if grad_norm > EXPLODING_GRAD_NORM and not cfg.train.clip_grad_norm:
            print(f"rowrnn: warning: gradient norm reached {grad_norm:.3g} in epoch {epoch + 1} "
                  "(exploding gradients): consider --clip-grad-norm 1.0 or a lower --lr", file=sys.stderr)

    try:
        result = fit(cfg, run_dir, resume=args.resume is not None, on_epoch=on_epoch,
                     progress=tty and not args.quiet)
    except Interrupted as e:
        raise Interrupted(f"{e}; {run_dir} keeps the last completed epoch: "
                          f"resume with `rowrnn train --resume {run_dir}`") from None
    if not main_process:
        return 0
    if result.stopped_early:
        say(f"stopped early: no better validation metric for {cfg.train.patience} epochs")
    test_set = _test_set(run_dir, cfg.data.data_dir)  # read once, after training, for the reported number
    metrics, model, run, logits = evaluate_run(run_dir, "best", test_set=test_set)
    runs.save_metrics(run_dir, {**metrics, "best_epoch": result.best_epoch,
                                "best_val_metric": result.best_metric})
    if args.figures:
        _save_figures(run_dir, run, model, logits, metrics, test_set)
    print(f"test accuracy {metrics['accuracy']:.4f} (macro {metrics['macro_accuracy']:.4f}, "
          f"loss {metrics['loss']:.4f}) with the best validation epoch {result.best_epoch}; run: {run_dir}")
    return 0


def _test_set(run_path, data_dir=None):
    """The test split for a run: from data_dir if given, else where the run's config says."""
    from . import runs
    from .data import load_fashion_mnist
    cfg = runs.load_config(runs.resolve_weights(run_path)[0])
    return load_fashion_mnist(data_dir or cfg.data.data_dir, verify=cfg.data.verify)[1]


def _save_figures(run_dir, run, model, logits, metrics, test_set):
    import matplotlib.pyplot as plt

    from . import runs
    from .evaluation import run_figures
    for name, fig in run_figures(run, model, test_set, logits, metrics).items():
        runs.save_figure(Path(run_dir) / f"{name}.png", fig)
        plt.close(fig)


def cmd_evaluate(args) -> int:
    from . import runs
    from .evaluation import evaluate_run
    metrics, _, run, _ = evaluate_run(args.run, args.weights, test_set=_test_set(args.run, args.data_dir))
    path = runs.save_metrics(run.path, metrics, args.weights)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(format_metrics(metrics, run.path))
        print(f"saved {path}")
    return 0


def format_metrics(metrics: dict, run_path) -> str:
    from .data import CLASSES
    lines = [f"{run_path} ({metrics['weights']} weights) on {metrics['images']} test images",
             f"loss {metrics['loss']:.4f}   accuracy {metrics['accuracy']:.4f}   "
             f"macro accuracy {metrics['macro_accuracy']:.4f}", "",
             f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:<12} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} {m['support']:>8d}")
    lines += ["", "confusion matrix (rows: expected, columns: predicted)",
              " " * 12 + " ".join(f"{c[:6]:>6}" for c in CLASSES)]
    for name, row in zip(CLASSES, metrics["confusion"]):
        lines.append(f"{name:<12}" + " ".join(f"{v:>6d}" for v in row))
    return "\n".join(lines)


def cmd_predict(args) -> int:
    import torch

    from . import runs
    from .data import CLASSES, load_fashion_mnist
    from .inference import load_image, predict
    if not args.images and not args.test_index:
        raise RowrnnError("nothing to predict: name image files or use --test-index N")
    if args.top < 1:
        raise RowrnnError(f"--top must be at least 1, got {args.top}")
    model, run = runs.load_model(args.run, args.weights)
    names, images, expected = [], [], []
    for path in args.images:
        images.append(load_image(path))
        names.append(str(path))
        expected.append(None)
    if args.test_index:
        _, test_set = load_fashion_mnist(args.data_dir or run.config.data.data_dir, verify=run.config.data.verify)
        for i in args.test_index:
            if not 0 <= i < len(test_set):
                raise RowrnnError(f"--test-index {i} is out of range: the test set has {len(test_set)} images (0-{len(test_set) - 1})")
            images.append(test_set.images[i])
            names.append(f"test[{i}]")
            expected.append(CLASSES[int(test_set.labels[i])])
    batch = torch.stack(images)                                            # (N, 28, 28) uint8
    results = predict(model, batch, top=args.top)
    if args.json:
        print(json.dumps([{"image": n, "expected": e, "top": [{"class": c, "probability": p} for c, p in r]}
                          for n, e, r in zip(names, expected, results)], indent=2))
    else:
        for name, exp, result in zip(names, expected, results):
            label = f"{name}" + (f" (expected {exp})" if exp else "")
            print(f"{label}: " + ", ".join(f"{c} {p:.3f}" for c, p in result))
    if args.explain is not None:
        import matplotlib.pyplot as plt

        from .data import normalize
        from .plots import plot_reading
        if not hasattr(model, "step_probabilities"):
            raise RowrnnError("--explain shows how a recurrent model reads; this run is a CNN")
        probs = model.step_probabilities(normalize(batch).unsqueeze(1), num_points=28)
        fig = plot_reading(batch, probs, read=model.read)
        runs.save_figure(args.explain, fig)
        plt.close(fig)
        if not args.json:
            print(f"saved {args.explain}")
    return 0


def cmd_plot(args) -> int:
    from .evaluation import evaluate_run
    test_set = _test_set(args.run, args.data_dir)
    metrics, model, run, logits = evaluate_run(args.run, args.weights, test_set=test_set)
    _save_figures(run.path, run, model, logits, metrics, test_set)
    print(f"saved curves.png, predictions.png, confusion.png"
          f"{', reading.png' if hasattr(model, 'step_probabilities') else ''} in {run.path}")
    return 0


def cmd_summary(args) -> int:
    import torchinfo

    from . import runs
    from .models import build_model, count_parameters
    if args.run is not None:
        model, _ = runs.load_model(args.run)
    else:
        model = build_model(build_config(args.preset, _overrides(args)).model)
    stats = torchinfo.summary(model, input_size=(1, 1, 28, 28), verbose=0,
                              col_names=("input_size", "output_size", "num_params"))
    print(stats)
    print(f"trainable parameters: {count_parameters(model):,}")
    return 0


def cmd_bench(args) -> int:
    import torch

    from . import bench
    if args.threads is not None:
        if args.threads < 1:
            raise RowrnnError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    if args.json is not None and not args.json.parent.is_dir():
        raise RowrnnError(f"--json {args.json}: no directory {args.json.parent} to write it in")
    result = bench.run_benchmark(configs=configs, epochs=args.epochs, data_dir=args.data_dir, verify=args.verify,
                                 out_json=args.json, device=args.device,
                                 log=lambda message: print(message, file=sys.stderr, flush=True))
    print(bench.format_table(result))
    return 0


def cmd_compare(args) -> int:
    from . import compare
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise RowrnnError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise RowrnnError("--seeds names no seed: e.g. --seeds 0,1,2")
    overrides = {**({"epochs": args.epochs} if args.epochs is not None else {}),
                 **({} if args.verify else {"verify": False})}
    rows = compare.run_compare(presets, seeds, args.out, parallel=args.parallel, data_dir=args.data_dir,
                               overrides=overrides, log=lambda message: print(message, file=sys.stderr, flush=True))
    paths = compare.write_leaderboard(args.out, rows)
    print(compare.leaderboard_markdown(rows))
    print(f"\nsaved {paths['md']}, {paths['csv']}, {paths['json']}, {paths['png']}")
    return 0
