"""The `rowrnn` command: argument parsing and printing only; the work is in the library.

    rowrnn train --preset notebook --out runs/demo
    rowrnn evaluate runs/demo
    rowrnn predict runs/demo shirt.jpg --explain reading.png

Every failure a user or the world can cause ends in one line on stderr and exit code 2
(130/143 for SIGINT/SIGTERM; a closed output pipe ends quietly, as Unix tools do).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import stat
import sys
import traceback
from pathlib import Path

# Kept light: importing this module (what the `rowrnn` script does first) must not load torch, so
# that main() installs its signal handlers within milliseconds of start-up.
from .errors import Interrupted, RowrnnError, Signalled, cli_context, one_line

EPILOG = "User errors print one line and exit with code 2; --debug shows the traceback."


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, exit code 2."""

    def error(self, message):
        """Print `rowrnn: error: <message> (see rowrnn --help)` as one line and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in --help, only where they are true and not said already.

    "(default: X)" is added to an option's help unless: the help states its default itself ("default:"
    or, for config flags, "(notebook: X)"); the flag takes no value (store_true, store_false, a
    BooleanOptionalAction: "(default: True)" beside --no-figures reads as if the figures were skipped);
    the default is None, an empty list or SUPPRESS (nothing to show: what None means is in the help).
    tests/test_help.py pins every command's help against tests/golden/help/.
    """

    def _get_help_string(self, action):
        """The action's help, with "(default: X)" appended only in the cases above."""
        text = action.help or ""
        default = action.default
        if ("default:" in text or "(notebook:" in text or action.nargs == 0 or default is None
                or default is argparse.SUPPRESS or default == [] or not action.option_strings
                and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)):
            return text
        return text + " (default: %(default)s)"


def _add_config_flags(parser, sections=("model", "train", "data")):
    """One hyphenated flag per config field; unset flags stay out of the namespace (the preset decides)."""
    from .config import config_fields
    for section, f in config_fields():
        if section not in sections:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"] if f.default is None else f"{f.metadata['help']} (notebook: {f.default})"
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        else:
            kind = {int: int, float: float}.get(type(f.default), str)
            choices = f.metadata.get("choices")
            parser.add_argument(flag, type=kind, choices=list(choices) if choices else None,
                                default=argparse.SUPPRESS, help=help_text,
                                metavar=None if choices else f.name.upper())


def _overrides(args) -> dict:
    from .config import config_fields
    names = {f.name for _, f in config_fields()}
    return {k: v for k, v in vars(args).items() if k in names}


# --data-dir of the commands that read a run's dataset: a named dataset's files, or a folder moved since training
DATA_DIR_HELP = ("directory with the run's dataset: its files for a named dataset (Fashion-MNIST's by default), "
                 "or its image folder's new place")


# --no-verify: what each named dataset's check is (rowrnn.datasets.TABLE); an image folder has no published checksums
# (compare's presets read named datasets only: NAMED_CHECKSUMS; a run's dataset may be a folder: CHECKSUMS)
CHECKSUM_PARTS = ("Fashion-MNIST's SHA-256 of each file",
                  "MNIST's, KMNIST's and EMNIST's MD5 of each downloaded .gz or zip")
NAMED_CHECKSUMS = "; ".join(CHECKSUM_PARTS)
CHECKSUMS = "; ".join((*CHECKSUM_PARTS, "an image folder has none"))


def _add_run_arguments(parser, run: str | None = "run directory", weights: str | None = "which weights",
                       data_dir: str = DATA_DIR_HELP) -> None:
    """The arguments that name a run and what of it to read: RUN (positional; None: the subcommand names its
    inputs itself), --weights (None: no such flag) and --data-dir, each with its help text."""
    from .runs import WEIGHTS
    if run is not None:
        parser.add_argument("run", type=Path, help=run)
    if weights is not None:
        parser.add_argument("--weights", default="best", choices=list(WEIGHTS), help=weights)
    parser.add_argument("--data-dir", default=None, help=data_dir)


def build_parser() -> Parser:
    """The `rowrnn` parser: one subcommand per cmd_* function below, hyphenated flags, defaults in --help."""
    from .config import PRESETS, preset_dataset
    fmt = HelpFormatter
    parser = Parser(prog="rowrnn", formatter_class=fmt, epilog=EPILOG,
                    description="Train, inspect and compare recurrent networks that read Fashion-MNIST row by row.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    presets = "; ".join(f"{name}: {desc}" for name, (desc, _, _) in PRESETS.items())
    p = sub.add_parser("train", formatter_class=fmt, help="train a model into a run directory",
                       description=f"Train a model. Presets -- {presets}. Flags override the preset.")
    p.add_argument("--preset", default=None, choices=list(PRESETS), help="starting configuration (default: notebook)")
    p.add_argument("--out", type=Path, default=None, help="a new or empty run directory (default: runs/<UTC time>-<preset>)")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN",
                   help="continue RUN from its last completed epoch (a finished RUN is evaluated again)")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="skip the PNG figures")
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", formatter_class=fmt, help="test-set metrics of a run (writes nothing unless --save)")
    _add_run_arguments(p, run="run directory (or a .safetensors file beside its config.json)")
    p.add_argument("--tta", default=None, choices=["flip"],
                   help="test-time augmentation: average each image with its mirror image (reported as such)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--save", action="store_true",
                   help="also save them as RUN/metrics-<weights>.json (the training's metrics.json is never changed)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", formatter_class=fmt, help="classify images with a trained run or an exported model",
                       usage="rowrnn predict [options] RUN [IMAGE ...]\n       rowrnn predict [options] --onnx MODEL [IMAGE ...]")
    p.add_argument("inputs", nargs="*", type=Path, metavar="RUN IMAGE",
                   help="a run directory (or .safetensors file), then PNG/JPEG files of any size, colour or grey")
    p.add_argument("--onnx", type=Path, default=None, metavar="MODEL",
                   help="use an exported .onnx model instead of a run (no PyTorch model code involved)")
    p.add_argument("--example", action="append", default=[], metavar="NAME",
                   help="also predict an image shipped with rowrnn (repeatable; e.g. boot-on-white)")
    p.add_argument("--test-index", type=int, action="append", default=[], metavar="N",
                   help="also predict test image N (repeatable)")
    _add_run_arguments(p, run=None, data_dir=DATA_DIR_HELP + " (for --test-index)")
    p.add_argument("--top", type=int, default=3, help="classes listed per image")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.add_argument("--explain", type=Path, default=None, metavar="PNG",
                   help="save how the guess forms while the network reads each image, each image file "
                        "shown as given beside the image the network saw")
    p.add_argument("--fit", default=None, choices=["trim", "none"],
                   help="how image files and examples become the run's images: trim (Fashion-MNIST's own "
                        "conversion: the background trimmed, the garment centred) or none (fitted whole, for "
                        "pictures cropped by hand); default: the run's dataset's (trim for Fashion-MNIST, none "
                        "for MNIST, KMNIST and EMNIST; an image folder's pictures are converted as its files were)")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=None,
                   help=f"skip checking the run's dataset files against their published checksums ({CHECKSUMS}) "
                        "(default: as the run was trained)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plot", formatter_class=fmt, help="(re)draw a run's figures")
    _add_run_arguments(p, weights="which weights (figures of the last weights are saved as <name>-last.png)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("export", formatter_class=fmt, help="export a run's weights for use outside PyTorch",
                       description="Write the run's weights as an ONNX model (input: normalized float images "
                                   "(N, 1, S, S), S the run's image side, 28 for Fashion-MNIST; output: logits (N, C) "
                                   "over its C classes; class names, image size and normalization in its "
                                   "metadata), checked against onnxruntime on 1,000 test images before it is kept.")
    _add_run_arguments(p, data_dir=DATA_DIR_HELP + " (for the check)")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    p.add_argument("--out", type=Path, default=None, help="output file (default: RUN/model.onnx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", formatter_class=fmt, help="train presets into run directories and rank them",
                       description="Train each preset (x seed) with `rowrnn train` into OUT/<preset>-seed<seed> "
                                   "(finished runs are reused, unfinished ones resumed), then write "
                                   "leaderboard.md/.csv/.json (with the minutes to 0.90/0.91/0.92 validation "
                                   "macro accuracy), leaderboard.png, leaderboard-minutes.png and "
                                   "leaderboard-pareto.png.")
    fashion = [name for name in PRESETS if preset_dataset(name) == preset_dataset("notebook")]  # one dataset a board
    p.add_argument("--presets", default=",".join(fashion),
                   help="comma-separated presets; PRESET@SEED gives one its own seeds (e.g. pixels@0, tiny@0+1)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--out", type=Path, default=Path("runs/compare"), help="where the runs and the leaderboard go")
    p.add_argument("--parallel", type=int, default=1, help="training processes at a time (threads are shared)")
    p.add_argument("--epochs", type=int, default=None, help="override every preset's epochs (quick looks)")
    _add_run_arguments(p, run=None, weights=None,
                       data_dir="directory with the presets' dataset files (Fashion-MNIST's by default)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip checking the presets' dataset files against their published checksums "
                        f"({NAMED_CHECKSUMS})")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("summary", formatter_class=fmt, help="layer-by-layer summary with the true parameter count")
    p.add_argument("run", type=Path, nargs="?", default=None, help="a run directory (default: build from flags)")
    p.add_argument("--preset", default="notebook", choices=list(PRESETS), help="starting configuration")
    p.add_argument("--verbose", action="store_true", help="also list every weight tensor: name, shape, count, meaning")
    _add_config_flags(p, sections=("model",))
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("serve", formatter_class=fmt, help="a local web page to draw a garment and watch runs read it",
                       description="Serve a page where you draw, upload or pick an image and watch each run read "
                                   "it step by step. Runs are fixed at start; nothing is written into them.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories (one panel each)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback: only this machine)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a name or address other machines open the page by, with --host 0.0.0.0 (a classroom: "
                        "--allow-host lab-pc.school.example,192.168.1.20); repeatable or comma-separated; no "
                        "wildcards, no port. Any other name is refused (DNS-rebinding protection)")
    _add_run_arguments(p, run=None, weights=None, data_dir=DATA_DIR_HELP + " (test images)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("site", formatter_class=fmt, help="the page as a static site that runs the networks in the "
                                                         "browser (publish it anywhere: GitHub Pages, a USB stick)",
                       description="Write into --out the page `rowrnn serve` shows, each run as an ONNX graph "
                                   "checked against rowrnn's own numbers, a manifest, the first test images and "
                                   "onnxruntime-web (fetched once from the npm registry into rowrnn's cache, "
                                   "pinned by its sha512). Open index.html from any static web server.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories (one panel each)")
    p.add_argument("--out", type=Path, required=True, help="a new or empty folder for the site")
    p.add_argument("--test-images", type=int, default=None,
                   help="how many of the first test images the page offers (default: 1000, or the whole test split "
                        "when it is smaller)")
    _add_run_arguments(p, run=None, weights=None, data_dir=DATA_DIR_HELP + " (test images)")
    p.set_defaults(func=cmd_site)
    return parser


@contextlib.contextmanager
def _signals_raise():
    """SIGINT and SIGTERM unwind (as KeyboardInterrupt does) wherever they land, so each ends in one line and
    exit code 128 + signum; during training the trainer's own handlers stop cleanly at the next step instead.

    A signal that lands inside an import is held back until the import is done (retried every 50 ms):
    an exception in the middle of one leaves a half-initialized module (numpy without `subtract`) that
    breaks whatever runs next, instead of a clean stop.
    """
    from .signals import on_signals   # light: signal and threading only
    held, alarm = [], {}

    def handler(signum, frame):
        held.append(signum)
        _raise_unless_importing(frame)

    def retry(signum, frame):
        _raise_unless_importing(frame)

    def _raise_unless_importing(frame):
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                if "previous" not in alarm:
                    alarm["previous"] = signal.signal(signal.SIGALRM, retry)
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                return
            frame = frame.f_back
        raise Signalled(held[0])

    if sys.platform == "win32":   # no SIGALRM to hold a signal back with
        yield
        return
    try:
        with on_signals(handler):
            yield
    finally:
        if "previous" in alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, alarm["previous"])


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (`rowrnn summary | head -1`): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush has nowhere to fail
    return 128 + signal.SIGPIPE


_ASCII = str.maketrans({"├": "|", "─": "-", "└": "`", "│": "|", "┌": "+", "┐": "+", "┘": "+", "┬": "+", "┴": "+",
                        "–": "-", "—": "-", "×": "x", "→": "->", "…": "...", "−": "-"})


def for_terminal(text: str, stream=None) -> str:
    """text, with its box-drawing lines, dashes and × in ASCII when the output's encoding lacks them
    (LANG=C, a Latin-1 locale): a readable table instead of backslash escapes."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        return text.translate(_ASCII)


def shown(path) -> str:
    """A path as printed: one line, escapes for control characters and for bytes that are not UTF-8."""
    return one_line(str(path))


def _safe_streams() -> None:
    """Output that cannot crash: a character the terminal's encoding lacks (× under LANG=C, a Latin-1
    locale) or an undecodable file name is written as a backslash escape instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
            if stream.errors != "backslashreplace":  # surrogateescape (LANG=C) still fails on ×
                stream.reconfigure(errors="backslashreplace")


def _writable_dir(path: Path) -> bool:
    """Could path be used as a directory by this process (it is one and writable, or it could be created)?"""
    for candidate in (path, *path.parents):
        try:
            info = os.stat(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and os.access(candidate, os.W_OK | os.X_OK)
    return False


def _quiet_matplotlib_cache() -> None:
    """Point matplotlib's config/cache at a private temporary folder when its defaults cannot be written
    (a read-only HOME, XDG_CACHE_HOME naming a file): otherwise matplotlib warns on every start, and
    every one-line error would carry its warning. Done before matplotlib is imported; a writable MPLCONFIGDIR
    of the user's wins. The private folder is /tmp/rowrnn-matplotlib-<uid> (its font cache kept between runs)."""
    if "matplotlib" in sys.modules:
        return
    home = Path(os.path.expanduser("~"))
    if os.environ.get("MPLCONFIGDIR"):
        places = [Path(os.environ["MPLCONFIGDIR"])]
    elif sys.platform.startswith(("linux", "freebsd")):
        places = [Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
                  Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]
    else:
        places = [home / ".matplotlib"]
    if all(_writable_dir(p) for p in places):
        return
    import tempfile
    private = Path(tempfile.gettempdir()) / f"rowrnn-matplotlib-{os.getuid() if hasattr(os, 'getuid') else 0}"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(private)  # never a link or someone else's folder planted in /tmp
        if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            raise OSError
    except OSError:
        try:
            private = Path(tempfile.mkdtemp(prefix="rowrnn-matplotlib-"))
        except OSError:
            return
        import atexit
        import shutil
        atexit.register(shutil.rmtree, private, True)
    os.environ["MPLCONFIGDIR"] = str(private)


def _agg_backend() -> None:
    """The CLI only writes PNG files. Set by environment when matplotlib is not loaded yet, so commands
    that draw nothing (predict --onnx, summary) never import it, nor create its folders under HOME."""
    if "matplotlib" in sys.modules:
        import matplotlib
        matplotlib.use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"


# subcommands whose positional list may be interleaved with options: `rowrnn predict RUN --fit none a.jpg`
_INTERMIXED = {"predict": "inputs", "serve": "runs", "site": "runs"}


def _parse_intermixed(parser, argv):
    """parser.parse_args, except that predict's images and serve's runs may come after an option.

    argparse fills a nargs='*' or '+' positional once, from its first run of words, and calls the rest
    "unrecognized arguments" (`rowrnn predict RUN --fit none shirt.jpg`); its parse_intermixed_args
    refuses parsers with subcommands. The words left over are appended to that list when none of them is
    an option; anything else is the usual one-line usage error.
    """
    args, extra = parser.parse_known_args(argv)
    field = _INTERMIXED.get(getattr(args, "command", None))
    if extra and field is not None and not any(word.startswith("-") for word in extra):
        setattr(args, field, [*getattr(args, field), *map(Path, extra)])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv=None) -> int:
    """Run `rowrnn` with argv (default: sys.argv[1:]) in this process; returns the exit code: 0, 2 for a user
    error (one line on stderr), 128 + signum for SIGINT/SIGTERM, 141 for a closed output pipe."""
    _safe_streams()
    with _signals_raise(), cli_context(), _rowrnn_notes():
        debug = False
        try:
            _quiet_matplotlib_cache()
            _agg_backend()
            parser = build_parser()
            args = _parse_intermixed(parser, argv)
            debug = args.debug
            return args.func(args)
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except Signalled as e:
            with contextlib.suppress(OSError):
                print(f"rowrnn: interrupted by {signal.Signals(e.signum).name}", file=sys.stderr)
            return 128 + e.signum
        except KeyboardInterrupt:  # a SIGINT when main() runs outside the main thread
            print("rowrnn: interrupted", file=sys.stderr)
            return 130
        except RowrnnError as e:
            if debug:
                traceback.print_exc()
            with contextlib.suppress(OSError):
                print(f"rowrnn: error: {one_line(str(e))}", file=sys.stderr)
            return e.exit_code


@contextlib.contextmanager
def _rowrnn_notes():
    """What rowrnn says while it goes on (errors.RowrnnNote: weights converted, state_dicts.WeightsConverted;
    an image folder's skipped files; a run continued without --amp) as one `rowrnn: note:` line on stderr each,
    every time; other warnings are shown as Python shows them."""
    import warnings

    from .errors import RowrnnNote
    python_shows = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RowrnnNote):
            with contextlib.suppress(OSError):
                print(f"rowrnn: note: {one_line(str(message))}", file=sys.stderr)
        else:
            python_shows(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", RowrnnNote)
        warnings.showwarning = show
        yield


# ----------------------------------------------------------------------------- commands

def cmd_train(args) -> int:
    """Train (or --resume) a run directory, one line per epoch, then its test accuracy. Raises RowrnnError for
    --resume with --out or --preset; Interrupted (naming the resume command) when a signal stops a claimed run."""
    from . import lifecycle, runs
    from .config import build_config
    from .datasets import dataset_of
    from .devices import launch_rank
    from .models import parameter_count
    from .training import EXPLODING_GRAD_NORM

    overrides = _overrides(args)
    if args.resume is not None:
        if args.out is not None and args.out != args.resume:
            raise RowrnnError("--resume RUN continues RUN in place: drop --out")
        if args.preset is not None:
            raise RowrnnError("--resume RUN continues RUN with its own config: drop --preset")
        cfg = lifecycle.resume_config(args.resume, overrides,
                                      note=lambda message: print(f"rowrnn: note: {one_line(message)}", file=sys.stderr))
        run_dir = args.resume
    else:
        cfg = build_config(args.preset or "notebook", overrides)
        run_dir = args.out or runs.default_run_dir(cfg)
    if "test_split" in overrides:   # a named dataset's or a train/+test/ folder's own test split: it would be ignored
        from .datasets import check_test_split
        check_test_split(cfg.data.dataset, cfg.data.test_split)
    say = print if launch_rank() == 0 and not args.quiet else (lambda *a, **k: None)
    try:    # the dataset's classes and size set the head and input layer; a folder's are its folder names
        num_classes = dataset_of(cfg).num_classes
    except RowrnnError:                  # a missing folder: refused by training itself, in its own words
        num_classes = cfg.num_classes
    parameters = parameter_count(cfg.model, num_classes=num_classes, image_size=cfg.data.image_size)
    say(f"{'resuming' if args.resume else 'training'} {cfg.preset}{' (modified by flags)' if overrides else ''} "
        f"({parameters:,} parameters) into {shown(run_dir)}", flush=True)

    def on_epoch(epoch, history, grad_norm):
        line = "  ".join(f"{k} {history[k][-1]:.4f}" for k in ("train_loss", "train_metric", "val_loss", "val_metric"))
        say(f"epoch {epoch + 1}/{cfg.train.epochs}  {line}  lr {history['lr'][-1]:.2e}  "
            f"{history['seconds'][-1]:.1f} s", flush=True)
        if grad_norm > EXPLODING_GRAD_NORM and not cfg.train.clip_grad_norm:
            print(f"rowrnn: warning: gradient norm reached {grad_norm:.3g} in epoch {epoch + 1} "
                  "(exploding gradients): consider --clip-grad-norm 1.0 or a lower --lr", file=sys.stderr)

    try:
        result = lifecycle.fit(cfg, run_dir, resume=args.resume is not None, figures=args.figures,
                               on_epoch=on_epoch, progress=sys.stderr.isatty() and not args.quiet)
    except Interrupted as e:
        if not runs.files.exists(Path(run_dir) / runs.CONFIG_FILE):
            raise
        raise Interrupted(e.signum, f"{e}; {run_dir} keeps the last completed epoch: "
                                    f"resume with `rowrnn train --resume {run_dir}`") from None
    if not result.is_main:
        return 0
    if result.stopped_early:
        say(f"stopped early: no better validation metric for {cfg.train.patience} epochs")
    from .evaluation import class_mismatch
    m, mismatch = result.metrics, class_mismatch(result.metrics)
    if mismatch:     # the test split lacks classes training had, or has some it never saw
        print(f"note: {mismatch}")
    macro = "n/a" if m["macro_accuracy"] is None else f"{m['macro_accuracy']:.4f}"
    print(f"test accuracy {m['accuracy']:.4f} (macro {macro}, loss {m['loss']:.4f}) "
          f"with the best validation epoch {result.best_epoch}; run: {shown(run_dir)}")
    return 0


def cmd_evaluate(args) -> int:
    """Print a run's test metrics (a table, or JSON with --json); --save keeps them beside it."""
    from . import files, lifecycle
    from .evaluation import evaluate_run
    # numbers kept beside the run must be on its recorded test set; plain numbers on a changed folder get a note
    metrics, _, run, _ = evaluate_run(args.run, args.weights, data_dir=args.data_dir, tta=args.tta,
                                      changed="refuse" if args.save else "note")
    path = lifecycle.save_evaluation(run.path, metrics) if args.save else None
    if args.json:
        print(files.to_json(metrics).decode(), end="")
    else:
        print(format_metrics(metrics, run.path))
        if path is not None:
            print(f"saved {shown(path)}")
    return 0


def format_metrics(metrics: dict, run_path) -> str:
    """evaluate's table: loss and accuracies, per-class precision/recall/F1/support and the confusion matrix
    (rows: expected, columns: predicted), from a metrics dict as evaluation.evaluate_run returns it. Macro
    accuracy says its definition (the mean recall over the classes present); a class with no test images shows
    n/a; a test split whose classes differ from training's gets one "note:" line (evaluation.class_mismatch), and
    so does an image folder whose test images changed since training (metrics["note"])."""
    from .evaluation import class_mismatch, macro_definition
    tta = f", {metrics['tta']} test-time augmentation" if metrics.get("tta") else ""
    score = lambda v, width: f"{'n/a' if v is None else f'{v:.4f}':>{width}}"   # noqa: E731 (no images: n/a)
    classes, mismatch = list(metrics["per_class"]), class_mismatch(metrics)
    lines = [f"{shown(run_path)} ({metrics['weights']} weights{tta}) on {metrics['images']} test images",
             f"loss {metrics['loss']:.4f}   accuracy {metrics['accuracy']:.4f}   "
             f"macro accuracy {score(metrics['macro_accuracy'], 0)} ({macro_definition(metrics)})",
             *([f"note: {mismatch}"] if mismatch else []),
             *([f"note: {metrics['note']}"] if metrics.get("note") else []), "",
             f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:<12} {score(m['precision'], 9)} {score(m['recall'], 7)} {score(m['f1'], 7)} "
                     f"{m['support']:>8d}")
    lines += ["", "confusion matrix (rows: expected, columns: predicted)",
              " " * 12 + " ".join(f"{c[:6]:>6}" for c in classes)]
    for name, row in zip(classes, metrics["confusion"]):
        lines.append(f"{name:<12}" + " ".join(f"{v:>6d}" for v in row))
    return "\n".join(lines)


def cmd_predict(args) -> int:
    """Print the top classes of image files, shipped examples and test images; --explain saves the reading.
    Raises RowrnnError when nothing is named, for --top < 1, an unknown --example, --explain with --onnx or a CNN."""
    from . import files
    from .inference import example_paths, gather_images, predict, reading_figure

    if args.onnx is None and not args.inputs:
        raise RowrnnError("name a run (rowrnn predict RUN IMAGE ...) or an exported model (--onnx MODEL.onnx)")
    images_in = list(args.inputs) if args.onnx is not None else list(args.inputs[1:])
    example_paths(args.example)                    # an unknown name fails before anything is loaded
    if not images_in and not args.test_index and not args.example:
        raise RowrnnError("nothing to predict: name image files, --example NAME or --test-index N")
    if args.top < 1:
        raise RowrnnError(f"--top must be at least 1, got {args.top}")
    if args.onnx is not None:  # onnxruntime only: rowrnn's model code (rowrnn.models) is never imported
        from .export import OnnxClassifier
        if args.explain is not None:
            raise RowrnnError("--explain draws the run's step-by-step reading, which an ONNX model does not "
                              "expose: give the run directory instead of --onnx")
        model = OnnxClassifier(args.onnx)
        # the run's data section as its export recorded it: --test-index reads the test split the run read (a
        # folder's --test-split, checked against its recorded images), pictures are converted as the run's were
        from .datasets import dataset_of
        from .evaluation import exported_test_set
        info = dataset_of(model.data_section)
        load_tests = lambda: exported_test_set(model, args.data_dir, verify=args.verify)  # noqa: E731
    else:
        from . import runs
        if args.explain is not None:
            runs.check_output_path(args.explain, inputs=list(args.inputs))
            parent = args.explain.parent      # checked before anything is printed: no answers, then an error
            if not files.is_dir(parent):
                raise RowrnnError(f"--explain {shown(args.explain)}: the folder {shown(parent)} does not exist: "
                                  "create it or choose another path")
        from .evaluation import load_test_set
        from .datasets import dataset_of
        model, run = runs.load_model(args.inputs[0], args.weights)
        info = dataset_of(run.config)                  # the run's classes, size and conversion of pictures
        load_tests = lambda: load_test_set(run, args.data_dir, verify=args.verify)  # noqa: E731
    test_set = None
    if args.test_index:
        test_set = load_tests()
    inputs = gather_images(images_in, args.example, test_set, args.test_index, fit=args.fit, dataset=info,
                           fit_flag="--fit")
    batch = inputs.batch()                                                 # (N, S, S) uint8
    results = predict(model, batch, top=args.top)
    if args.explain is not None:  # drawn and saved before any answer is printed: a refusal (a CNN) prints nothing
        files.save_figure(args.explain, reading_figure(model, batch, inputs.originals))
    if args.json:
        print(files.to_json([{"image": n, "expected": e, "top": [{"class": c, "probability": p} for c, p in r]}
                             for n, e, r in zip(inputs.names, inputs.expected, results)]).decode(), end="")
    else:
        for name, exp, result in zip(inputs.names, inputs.expected, results):
            label = f"{name}" + (f" (expected {exp})" if exp else "")
            print(f"{label}: " + ", ".join(f"{c} {p:.3f}" for c, p in result))
    if args.explain is not None and not args.json:
        print(f"saved {args.explain}")
    return 0


def cmd_plot(args) -> int:
    """Redraw a run's figures into it and name them."""
    from . import lifecycle
    paths = lifecycle.draw_figures(args.run, args.weights, data_dir=args.data_dir)
    print(f"saved {', '.join(p.name for p in paths)} in {shown(paths[0].parent)}")
    return 0


def cmd_export(args) -> int:
    """Export a run as ONNX (checked against onnxruntime) and print what was checked."""
    from .export import export_onnx
    report = export_onnx(args.run, args.out, weights=args.weights, data_dir=args.data_dir)
    print(f"saved {shown(report['path'])} (opset {report['opset']}; checked against onnxruntime on {report['images']} test "
          f"images: max |logit difference| {report['max_abs_diff']:.2e}, every top class equal)")
    return 0


def cmd_summary(args) -> int:
    """Print torchinfo's table of a run's model (or one built from flags) and its parameter count."""
    import torchinfo

    from . import runs
    from .config import build_config
    from .models import build_model, count_parameters, parameter_table
    if args.run is not None:
        model, _ = runs.load_model(args.run)
    else:
        model = build_model(build_config(args.preset, _overrides(args)).model)
    side = model.image_size                        # the run's dataset's (28 for Fashion-MNIST)
    stats = torchinfo.summary(model, input_size=(1, 1, side, side), verbose=0,
                              col_names=("input_size", "output_size", "num_params"), device="cpu")
    # torchinfo prints its automatic unit as the enum itself on Python >= 3.11 ("Units.MEGABYTES: 0.01"), and
    # a model this small has a few thousand multiply-adds: print the exact count ("Total mult-adds: 8,602")
    stats.formatting.macs_units = torchinfo.enums.Units.NONE
    print(for_terminal(summary_table(stats)))
    if args.verbose:
        print(format_parameter_table(parameter_table(model)))
    print(f"trainable parameters: {count_parameters(model):,}")
    return 0


def summary_table(stats) -> str:
    """torchinfo's table, its memory lines in the unit that fits (torchinfo always writes MB with two
    decimals: "Params size (MB): 0.00" for the notebook model's 1,576 bytes becomes "Params size: 1.58 kB")."""
    from .files import human_bytes
    sizes = {"Input size": stats.total_input, "Forward/backward pass size": stats.total_output_bytes,
             "Params size": stats.total_param_bytes,
             "Estimated Total Size": stats.total_input + stats.total_output_bytes + stats.total_param_bytes}
    lines = []
    for line in str(stats).splitlines():
        label = line.split(" (MB): ", 1)[0]
        lines.append(f"{label}: {human_bytes(sizes[label])}" if label in sizes and " (MB): " in line else line)
    return "\n".join(lines)


def format_parameter_table(rows) -> str:
    """The per-weight breakdown: every tensor, its shape, how many numbers it holds and what it does."""
    width = max(len(r[0]) for r in rows)
    lines = [f"{'weight':<{width}}  {'shape':<14} {'count':>9}  meaning"]
    for name, shape, count, meaning in rows:
        lines.append(f"{name:<{width}}  {' x '.join(map(str, shape)):<14} {count:>9,}  {meaning}")
    lines.append(f"{'total':<{width}}  {'':<14} {sum(r[2] for r in rows):>9,}")
    return "\n".join(lines)


def cmd_compare(args) -> int:
    """Train presets x seeds into --out, print the leaderboard and name its files. Raises RowrnnError for --seeds
    that are not comma-separated integers, or name none."""
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
    print(for_terminal(compare.leaderboard_markdown(rows)))
    print(f"\nsaved {', '.join(shown(p) for p in paths.values())}")
    return 0


def cmd_site(args) -> int:
    """Build the static site of the runs and print where it is and its size by part."""
    from .site import build_site
    report = build_site(args.runs, args.out, test_images=args.test_images, data_dir=args.data_dir)
    parts = ", ".join(f"{part} {size / 2**20:.1f} MB" for part, size in report["bytes"].items())
    print(f"wrote {shown(report['path'])}: {len(report['runs'])} run{'s' if len(report['runs']) > 1 else ''} "
          f"({', '.join(report['runs'])}), {report['test_images']} test images; {parts}. Open index.html from a "
          f"static web server, e.g. python -m http.server -d {shown(report['path'])}")
    return 0


def cmd_serve(args) -> int:
    """Serve the page for the runs until SIGINT/SIGTERM; returns the server's exit code."""
    from .serve import serve
    try:
        return serve(args.runs, host=args.host, port=args.port, data_dir=args.data_dir, allow_hosts=args.allow_host)
    except Signalled as e:
        # Stopped: the server writes nothing, so nothing is left to save. End now, skipping the interpreter's
        # teardown (about a second with torch loaded) and a decode still running in its thread: a stop takes
        # under two seconds whatever the clients are doing.
        with contextlib.suppress(OSError, ValueError):
            print(f"rowrnn: interrupted by {signal.Signals(e.signum).name}", file=sys.stderr, flush=True)
            sys.stdout.flush()
        os._exit(128 + e.signum)
