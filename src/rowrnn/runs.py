"""The run directory: the unit of work every command reads and writes, and the only code that knows its files.

    runs/20261127-101500-notebook/
      config.json  history.json  history.csv  metrics.json  MODEL_CARD.md
      best.safetensors  last.safetensors  state.pt  *.png  .lock

Weights are safetensors, configs and histories JSON, the resume state a versioned torch file
read with weights_only=True: nothing loaded here can execute code. Every file is written
atomically (files.atomic_write). A run is *finished* when its metrics.json describes its
best.safetensors (their SHA-256 is recorded) and the training it comes from is complete.

    run = load_run("runs/demo"); run.status      # 'started', 'trained' or 'finished'
    model, run = load_model("runs/demo", weights="best")
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import re
import stat
import time
import warnings
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import files
from .config import RunConfig, short_name
from .errors import RowrnnError, python_api
from .datasets import dataset_of
from .models import build_model

CONFIG_FILE, HISTORY_FILE, HISTORY_CSV = "config.json", "history.json", "history.csv"
STATE_FILE, METRICS_FILE, CARD_FILE, LOCK_FILE = "state.pt", "metrics.json", "MODEL_CARD.md", ".lock"
WEIGHTS = ("best", "last")
FIGURES = ("curves", "predictions", "confusion", "reading", "hidden")
ONNX_FILE = "model.onnx"          # (model-last.onnx for the last weights)
# every file rowrnn writes into a run directory (evaluate --save adds metrics-<weights>.json)
RUN_FILES = (CONFIG_FILE, HISTORY_FILE, HISTORY_CSV, STATE_FILE, METRICS_FILE, CARD_FILE, ONNX_FILE, "model-last.onnx",
             *(f"{w}.safetensors" for w in WEIGHTS), *(f"{f}.png" for f in FIGURES), *(f"{f}-last.png" for f in FIGURES))
HISTORY_KEYS = ("train_loss", "train_metric", "val_loss", "val_metric", "lr", "seconds")
# may differ between the original run and its resumption without changing the result
RESUMABLE_DIFFERENCES = {("train", "device"), ("train", "amp"), ("data", "data_dir"),
                         # recorded by training from the data, not chosen: never a difference (a folder's
                         # split_sha256 is compared with the folder itself, by lifecycle._fit and load_test_set)
                         ("data", "classes"), ("data", "split_sha256"), ("data", "background")}

MAX_WEIGHTS_BYTES = 2 * 2**30       # > 100M float32 parameters (config.MAX_PARAMETERS) with room to spare
MAX_STATE_BYTES = 4 * MAX_WEIGHTS_BYTES


def is_run_file(name: str) -> bool:
    """Is name (a file name, no folder) one a run directory holds: config.json, the weights, state.pt, history,
    metrics, figures, README.md, the lock, or an `evaluate --save` file (metrics-<weights>[@options].json)?"""
    return (name in RUN_FILES or name == LOCK_FILE
            or re.fullmatch(r"metrics-[\w.~%-]+(@[\w-]+)*\.json", name) is not None)


# ----------------------------------------------------------------------------- weights

def save_weights(path: Path, state_dict: dict) -> None:
    """state_dict's tensors (detached, on the CPU, contiguous) as a safetensors file at path, atomically.
    Raises RowrnnError when path cannot be written."""
    from safetensors.torch import save
    files.atomic_write(path, save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}))


def load_weights(path: Path) -> dict:
    """The tensors of a safetensors file, by name (read whole, at most MAX_WEIGHTS_BYTES, never unpickled).
    Raises RowrnnError for a missing, unreadable, too large or damaged file."""
    from safetensors import SafetensorError
    from safetensors.torch import load
    path = Path(path)
    if not files.exists(path):
        raise RowrnnError(f"{path}: no weights file: train the run first (rowrnn train) or name existing weights")
    raw = files.read_file(path, limit=MAX_WEIGHTS_BYTES, what="weights file")
    try:
        return load(raw)
    except (SafetensorError, ValueError, OSError) as e:
        raise RowrnnError(f"{path}: not a valid safetensors file ({e}): it is damaged or tampered with; "
                          "restore it or retrain") from None


# ----------------------------------------------------------------------------- the resume state

@dataclass
class ResumeState:
    """Everything needed to continue training after the last completed epoch; state.pt holds one.

    Written and read here only. VERSION changes whenever a field changes; an unknown version is
    refused; version 0 (rowrnn 0.1.0's state.pt, no scheduler), version 1 (best_val_metric under its old
    name, best_metric) and version 2 (no ema) are read. model is the raw weights the optimizer moves; ema, with
    --ema-decay, the moving average's state (optim.make_ema: its weights as "module.<name>", and n_averaged),
    which is what best_model and last.safetensors hold then.
    """

    VERSION = 3

    epoch: int
    model: dict
    best_model: dict
    optimizer: dict
    history: dict
    best_val_metric: float
    best_epoch: int
    bad_epochs: int = 0
    stopped_early: bool = False
    scheduler: dict | None = None
    ema: dict | None = None

    @classmethod
    def fresh(cls, model, optimizer, scheduler=None, ema=None) -> "ResumeState":
        """The state before the first epoch."""
        return cls(epoch=0, model=model.state_dict(), best_model=None, optimizer=optimizer.state_dict(),
                   history={k: [] for k in HISTORY_KEYS}, best_val_metric=-1.0, best_epoch=0,
                   scheduler=scheduler.state_dict() if scheduler is not None else None,
                   ema=ema.state_dict() if ema is not None else None)

    @property
    def last_weights(self) -> dict:
        """The weights last.safetensors holds: the moving average's (with --ema-decay), else the raw model's."""
        if self.ema is None:
            return self.model
        return {k.removeprefix("module."): v for k, v in self.ema.items() if k.startswith("module.")}

    def complete(self, epochs: int) -> bool:
        """Whether training is over: all `epochs` done, or stopped early by patience."""
        return self.stopped_early or self.epoch >= epochs

    def save(self, run_dir: Path) -> None:
        """Write run_dir/state.pt atomically, with its format name and VERSION (the commit point of an epoch)."""
        buffer = io.BytesIO()
        torch.save({"format": "rowrnn.state", "version": self.VERSION, **dataclasses.asdict(self)}, buffer)
        files.atomic_write(Path(run_dir) / STATE_FILE, buffer.getvalue())

    @classmethod
    def load(cls, run_dir: Path) -> "ResumeState | None":
        """The last completed epoch's state, None before the first (check_resumable() the config first).
        Raises RowrnnError for a state.pt that is damaged, too large, of another format or version, or
        incomplete."""
        path = Path(run_dir) / STATE_FILE
        if not files.exists(path):
            return None  # stopped before its first epoch ended: resuming starts from the beginning
        raw = files.read_file(path, limit=MAX_STATE_BYTES, what="resume state")
        try:
            with warnings.catch_warnings():  # a foreign file's pickle-protocol warning would garble the one line
                warnings.simplefilter("ignore")
                d = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as e:  # pickle refusals and damage surface as many exception types
            raise RowrnnError(f"{path}: unreadable or unsafe resume state ({type(e).__name__}): "
                              "it is damaged or tampered with; start the run again") from None
        if not isinstance(d, dict) or not {"epoch", "model", "optimizer", "history"} <= set(d):
            raise RowrnnError(f"{path}: not a rowrnn resume state: start the run again")
        version = d.pop("version", 0)
        if version not in range(cls.VERSION + 1):
            raise RowrnnError(f"{path}: resume state format version {version!r}, this rowrnn reads versions 0-"
                              f"{cls.VERSION}: continue the run with the rowrnn that started it, or start again")
        d.pop("format", None)
        if version < 2 and "best_metric" in d:   # the same number, under the name metrics.json gives it
            d["best_val_metric"] = d.pop("best_metric")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            state = cls(**{k: v for k, v in d.items() if k in names})
        except TypeError as e:
            raise RowrnnError(f"{path}: incomplete resume state ({e}): start the run again") from None
        state._check(path)
        return state

    def _check(self, path) -> None:
        expect = {"epoch": int, "best_epoch": int, "bad_epochs": int, "best_val_metric": (int, float),
                  "stopped_early": bool, "model": dict, "best_model": (dict, type(None)), "optimizer": dict,
                  "history": dict, "scheduler": (dict, type(None)), "ema": (dict, type(None))}
        wrong = [name for name, kind in expect.items() if not isinstance(getattr(self, name), kind)
                 or (kind is int and isinstance(getattr(self, name), bool))]
        lengths = {len(v) for v in self.history.values() if isinstance(v, list)}
        if wrong or self.epoch < 0 or lengths - {self.epoch}:
            raise RowrnnError(f"{path}: malformed resume state ({', '.join(wrong) or 'history length'}): "
                              "start the run again")


# ----------------------------------------------------------------------------- writing a run

def config_json(cfg: RunConfig, teacher: dict | None = None) -> dict:
    """What config.json holds: cfg as plain dicts, the versions of rowrnn and torch that wrote it, and with
    --distill-from the teacher as it was when training started (teacher_record: its path, the SHA-256 of its
    best weights, its training minutes)."""
    from ._version import __version__
    return {**cfg.to_dict(), "versions": {"rowrnn": __version__, "torch": torch.__version__},
            **({"teacher": teacher} if teacher is not None else {})}


def default_run_dir(cfg: RunConfig, root: str | Path = "runs") -> Path:
    """root/<UTC time, to the second>-<preset, or a short name of a custom config>: a new folder each call."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = cfg.preset if cfg.preset != "custom" else short_name(cfg)
    return Path(root) / f"{stamp}-{name}"


def check_fresh(run_dir: Path) -> None:
    """Refuse a run directory that holds a run, or anything of someone else's."""
    run_dir = Path(run_dir)
    if files.exists(run_dir / CONFIG_FILE):
        raise RowrnnError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                          "or choose another --out")
    kind = files.kind_of(run_dir)
    if kind is None:
        return
    if kind != "a directory":
        raise RowrnnError(f"{run_dir}: is {kind}, not a directory: choose another --out")
    try:
        entries = [p.name for p in os.scandir(run_dir)]
    except OSError as e:
        raise RowrnnError(f"{run_dir}: cannot use it as a run directory ({files.describe(e)}): "
                          "choose another --out") from None
    foreign = sorted(n for n in entries if n != LOCK_FILE)
    if foreign:
        raise RowrnnError(f"{run_dir} is not empty and is not a rowrnn run (it holds {foreign[0]!r}"
                          f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}): "
                          "choose a new or empty directory for --out")


def start_run(run_dir: Path, cfg: RunConfig, teacher: dict | None = None) -> None:
    """Claim a fresh run directory by writing its config.json (with the teacher's record, if any)."""
    check_fresh(run_dir)
    files.write_json(Path(run_dir) / CONFIG_FILE, config_json(cfg, teacher))


@contextlib.contextmanager
def claim(run_dir, cfg: RunConfig, *, resume: bool = False, write: bool = True, teacher: dict | None = None):
    """Check run_dir for training cfg, lock it and claim it for the whole block; yields the ResumeState to
    continue from (None: from the start).

    A fresh run needs a new or empty directory (check_fresh) and gets its config.json (recording teacher, the
    teacher_record of --distill-from); a resumed one must hold a run of the same config (check_resumable),
    distilled from a teacher whose best weights are those it started with (check_teacher). The checks come
    before the lock, so a refused directory is left as it was. write=False (ranks other than 0) checks and
    reads, and neither locks nor writes. Raises RowrnnError naming the directory and the fix.
    """
    run_dir = Path(run_dir)
    if resume:
        check_resumable(run_dir, cfg)
        check_teacher(run_dir, teacher)
    elif write:
        check_fresh(run_dir)
    with RunLock(run_dir, fresh=not resume) if write else contextlib.nullcontext():
        saved = ResumeState.load(run_dir) if resume else None
        if write and not resume:
            start_run(run_dir, cfg, teacher)
        yield saved


def write_weights_and_history(run_dir: Path, state: ResumeState, *, best: bool = True) -> None:
    """The user-facing files derived from the resume state (state.pt, the commit point, is written before):
    last.safetensors (the moving average with --ema-decay) and the history; best.safetensors too unless
    best=False (it has not changed)."""
    run_dir = Path(run_dir)
    save_weights(run_dir / "last.safetensors", state.last_weights)
    if best:
        save_weights(run_dir / "best.safetensors", state.best_model)
    write_history(run_dir, state.history)


class Checkpointer:
    """The only writer of a run's per-epoch files, and the judge of its best epoch and patience (timm's
    CheckpointSaver): the training loop hands it each epoch's numbers, it decides and writes.

    Each epoch it writes what resuming needs, state.pt first (the commit point: weights, optimizer, schedule,
    history, best weights), then last.safetensors and history.json/.csv; best.safetensors only in an epoch
    whose validation metric beats the best so far. Figures, metrics.json and the card are finish's, written
    once. A run killed at any moment resumes from state.pt, and resumed() rewrites the derived files from it,
    so a kill between two writes leaves nothing stale. write=False (ranks other than 0 under torchrun) decides
    the same and writes nothing. With ema (optim.make_ema, the one the loop updates) the average is what was
    validated, so it is what becomes best and last; its state goes into state.pt beside the raw weights.

        saver = Checkpointer(run_dir, state, model, optimizer, scheduler, patience=5)
        saver.epoch_end({"train_loss": ..., "val_metric": 0.83, ...})     # one list entry per HISTORY_KEYS
    """

    def __init__(self, run_dir, state: ResumeState, model, optimizer, scheduler=None, *, patience: int = 0,
                 write: bool = True, ema=None):
        self.run_dir, self.state, self.patience, self.write = Path(run_dir), state, patience, write
        self.model, self.optimizer, self.scheduler, self.ema = model, optimizer, scheduler, ema

    @property
    def epoch(self) -> int:
        """Epochs completed: the next epoch's 0-based index."""
        return self.state.epoch

    @property
    def stopped_early(self) -> bool:
        """Whether patience ran out: `patience` epochs in a row without a new best."""
        return self.state.stopped_early

    @property
    def history(self) -> dict:
        """HISTORY_KEYS -> one value per completed epoch (the same dict as state.pt's)."""
        return self.state.history

    def resumed(self) -> None:
        """Rewrite last/best weights and the history from the resumed state.pt (a kill may have come between
        its write and theirs)."""
        if self.write:
            write_weights_and_history(self.run_dir, self.state)

    def epoch_end(self, record: dict) -> bool:
        """Add one epoch's numbers (record: a value per HISTORY_KEYS), decide best and patience, write.
        Returns whether this epoch is the new best (by record['val_metric'], higher is better)."""
        state = self.state
        for key in HISTORY_KEYS:
            state.history[key].append(record[key])
        improved = record["val_metric"] > state.best_val_metric
        if improved:
            state.best_val_metric, state.best_epoch, state.bad_epochs = record["val_metric"], state.epoch + 1, 0
            judged = self.ema.module if self.ema is not None else self.model
            state.best_model = {k: v.detach().clone() for k, v in judged.state_dict().items()}
        else:
            state.bad_epochs += 1
        state.epoch += 1
        state.stopped_early = bool(self.patience) and state.bad_epochs >= self.patience
        state.model, state.optimizer = self.model.state_dict(), self.optimizer.state_dict()
        state.scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        state.ema = self.ema.state_dict() if self.ema is not None else None
        if self.write:
            state.save(self.run_dir)
            write_weights_and_history(self.run_dir, state, best=improved)
        return improved


def write_history(run_dir: Path, history: dict) -> None:
    """history as run_dir/history.json and history.csv (a row per epoch, 6 significant digits), atomically."""
    files.write_json(Path(run_dir) / HISTORY_FILE, history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(f"{history[k][i]:.6g}" for k in keys)])
    files.atomic_write(Path(run_dir) / HISTORY_CSV, out.getvalue().encode())


class RunLock:
    """An exclusive lock on a run directory (filelock's flock: the kernel drops it when its holder dies).

    The lock file is removed again by the process that created it, so a run carries no .lock
    between commands. With fresh=True (a new run) the directory is created if needed, and if no
    run was claimed in it by the end (config.json never written: a failure or a signal at
    start-up), everything the lock created is removed: the directory is left as it was found.
    """

    # what a user of each command can do about a run in use: only train and export have an --out
    ELSEWHERE = {"train": "choose another --out", "export": "export elsewhere with --out"}

    def __init__(self, run_dir: Path, *, fresh: bool = False, purpose: str = "train"):
        self.run_dir, self.fresh, self.purpose = Path(run_dir), fresh, purpose
        self.lock, self.created = None, []

    def _or_else(self, first: str) -> str:
        """'first, or choose another --out' for train; 'first' alone for commands without an --out."""
        other = self.ELSEWHERE.get(self.purpose)
        return f"{first}, or {other}" if other else first

    def __enter__(self):
        try:
            self._acquire()
        except BaseException:  # a failure or a signal half-way: leave the directory as it was found
            self.__exit__()
            raise
        return self

    def _acquire(self) -> None:
        from filelock import FileLock, Timeout
        path = self.run_dir / LOCK_FILE
        try:
            if self.fresh and not files.exists(self.run_dir):
                missing = [p for p in [self.run_dir, *self.run_dir.parents] if not files.exists(p)]
                self.run_dir.mkdir(parents=True)
                self.created = list(reversed(missing))  # outermost first
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):  # a link, FIFO or directory planted as the lock:
                    raise RowrnnError(f"{path}: is not rowrnn's lock file (not a regular file): "  # never open it
                                      + self._or_else("remove it"))
            except FileNotFoundError:
                self.created.append(path)
            lock = FileLock(path, timeout=0)
            lock.acquire()
            self.lock = lock
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, f"{os.getpid()} {self.purpose}".encode())
            finally:
                os.close(fd)
        except Timeout:
            self.created = [p for p in self.created if p != path]
            pid, purpose = self._holder(path)
            raise RowrnnError(f"{self.run_dir} is in use by another rowrnn {purpose} (pid {pid}): "
                              + self._or_else("wait for it to finish and run this again")) from None
        except OSError as e:
            raise RowrnnError(f"{self.run_dir}: cannot use it as a run directory ({files.describe(e)}): "
                              + (self._or_else("check that it is writable") if self.purpose != "train"
                                 else "choose another --out")) from None
        self._remove_stale_temporaries()

    @staticmethod
    def _holder(path: Path) -> tuple[str, str]:
        """(pid, command) of the process holding the lock, as it wrote them."""
        with suppress(RowrnnError, UnicodeDecodeError):
            pid, _, purpose = files.read_file(path, limit=100, what="lock file").decode().strip().partition(" ")
            return pid or "?", purpose or "process"
        return "?", "process"

    def _remove_stale_temporaries(self) -> None:
        """Temporary files of a killed writer: exactly the names files.temporary_name gives rowrnn's files."""
        pattern = re.compile(r"\.(" + "|".join(map(re.escape, RUN_FILES)) + r")\.tmp-\d+")
        with suppress(OSError):
            for entry in os.scandir(self.run_dir):
                if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    with suppress(OSError):
                        os.unlink(entry.path)

    def _undo(self) -> None:
        for p in reversed(self.created):
            with suppress(OSError):
                p.rmdir() if p.is_dir() else p.unlink()
        self.created = []

    def __exit__(self, *exc):
        lock_path = self.run_dir / LOCK_FILE
        if self.lock is not None:
            if lock_path in self.created:  # ours: removed while still held, so no one can take a dying file
                with suppress(OSError):
                    os.unlink(lock_path)
                self.created.remove(lock_path)
            with suppress(OSError):
                self.lock.release()
            self.lock = None
        with suppress(RowrnnError):
            if self.fresh and not files.exists(self.run_dir / CONFIG_FILE):
                self._undo()


def check_output_path(out, *, inputs=(), suffix: str = ".png") -> Path:
    """Refuse an output path that would overwrite a run's own file, an input of the same command,
    or anything but a regular file; and one without the right suffix (it would mislabel its content)."""
    out = Path(out)
    if out.suffix.lower() != suffix:
        raise RowrnnError(f"{out}: give a file name ending in {suffix} (the output is written in that format)")
    parent = out.parent
    if is_run_file(out.name) and files.exists(parent / CONFIG_FILE):
        raise RowrnnError(f"{out}: is one of the run's own files: write to another name or directory")
    if files.exists(out):
        if not files.is_regular_file(out):
            raise RowrnnError(f"{out}: exists and is not a regular file: choose another output path")
        for source in inputs:
            with suppress(OSError):
                if os.path.samefile(out, source):
                    raise RowrnnError(f"{out}: is also an input of this command: choose another output path")
    return out


# ----------------------------------------------------------------------------- reading a run

def config_differences(saved: RunConfig, cfg: RunConfig) -> list[str]:
    """The fields in which cfg differs from saved, as 'flag old -> new', leaving out those a resume may change
    (RESUMABLE_DIFFERENCES); [] when a run with saved can go on with cfg."""
    diffs = []
    for section in ("model", "train", "data"):
        a, b = dataclasses.asdict(getattr(saved, section)), dataclasses.asdict(getattr(cfg, section))
        diffs += [f"{k.replace('_', '-')} {a[k]!r} -> {b[k]!r}" for k in a
                  if a[k] != b[k] and (section, k) not in RESUMABLE_DIFFERENCES]
    return diffs


def load_config(run_dir: Path) -> RunConfig:
    """The RunConfig in run_dir/config.json, validated. Raises RowrnnError for a missing folder or config.json,
    a folder that cannot be read, or a config that is damaged or invalid."""
    run_dir = Path(run_dir)
    if not files.exists(run_dir):
        raise RowrnnError(f"{run_dir}: no such run directory: give a directory that rowrnn train wrote")
    files.check_readable_dir(run_dir)
    if not files.exists(run_dir / CONFIG_FILE):
        raise RowrnnError(f"{run_dir}: no {CONFIG_FILE}, so this is not a rowrnn run directory")
    try:
        return RunConfig.from_dict(files.read_json(run_dir / CONFIG_FILE)).validate()
    except TypeError as e:
        raise RowrnnError(f"{run_dir / CONFIG_FILE}: malformed ({e}): re-create the run") from None
    except RowrnnError as e:
        msg = str(e)
        raise RowrnnError(msg if str(run_dir) in msg else f"{run_dir / CONFIG_FILE}: {msg}") from None


def check_resumable(run_dir: Path, cfg: RunConfig) -> None:
    """Refuse to resume run_dir with anything but its own config."""
    diffs = config_differences(load_config(run_dir), cfg)
    if diffs:
        raise RowrnnError(f"cannot resume {run_dir} with a different config ({'; '.join(diffs)}): "
                          "resume without those flags, or start a new run")


@dataclass
class Run:
    """A run directory as read by load_run: its path, config, history and (when finished) test metrics."""

    path: Path
    config: RunConfig
    history: dict
    metrics: dict | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """'started', 'trained' or 'finished' (see run_status)."""
        return run_status(self.path, self.config)


@python_api
def load_run(run_dir) -> Run:
    """A run's config, history and (when finished) metrics; no weights. Raises RowrnnError for a missing run,
    or a config, history or metrics file that cannot be read."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    history_path = run_dir / HISTORY_FILE
    history = files.read_json(history_path) if files.exists(history_path) else {}
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise RowrnnError(f"{history_path}: must hold a JSON object of per-epoch lists")
    metrics_path = run_dir / METRICS_FILE
    metrics = files.read_json(metrics_path) if files.exists(metrics_path) else None
    return Run(run_dir, cfg, history, metrics if isinstance(metrics, dict) else None)


def weights_digest(run_dir: Path, weights: str = "best") -> str:
    """The SHA-256 (64 hex characters) of run_dir/<weights>.safetensors. Raises RowrnnError when it cannot be read."""
    path = Path(run_dir) / f"{weights}.safetensors"
    return files.sha256(files.read_file(path, limit=MAX_WEIGHTS_BYTES, what="weights file"))


def run_status(run_dir: Path, cfg: RunConfig | None = None) -> str:
    """'started' (no complete training yet), 'trained' (complete, not evaluated), or 'finished'.

    Finished means metrics.json names the best weights, holds the training's best_epoch, and records
    the SHA-256 of best.safetensors as it is now: the numbers describe exactly these weights.
    """
    run_dir = Path(run_dir)
    cfg = cfg or load_config(run_dir)
    state = ResumeState.load(run_dir)
    if state is None or not state.complete(cfg.train.epochs):
        return "started"
    path = run_dir / METRICS_FILE
    if not files.exists(path):
        return "trained"
    metrics = files.read_json(path)
    if (not isinstance(metrics, dict) or metrics.get("weights") != "best"
            or metrics.get("best_epoch") != state.best_epoch or not files.exists(run_dir / "best.safetensors")
            or metrics.get("weights_sha256") != weights_digest(run_dir)):
        return "trained"
    return "finished"


def resolve_weights(path, weights: str = "best") -> tuple[Path, Path]:
    """(run directory, weights file) for a run directory (its <weights>.safetensors) or a .safetensors file
    beside its run's config.json (the file's folder is the run; weights must then be the default, "best").
    Raises RowrnnError for unknown weights, a file that is not .safetensors, or a file given with weights="last"."""
    path = Path(path)
    if path.suffix == ".safetensors" and not files.is_dir(path):
        if weights != "best":
            raise RowrnnError(f"{path} is a weights file and weights {weights!r} (--weights) names another: give "
                              f"the run directory with {weights!r}, or the weights file alone")
        return path.parent, path
    if files.is_regular_file(path):
        raise RowrnnError(f"{path}: rowrnn loads weights only from .safetensors files (pickled .pt/.pkl files "
                          "can run code): give a run directory or a .safetensors file beside its config.json")
    if weights not in WEIGHTS:
        raise RowrnnError(f"unknown weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    return path, path / f"{weights}.safetensors"


def run_of_weights(path, weights: str = "best") -> Run:
    """The run a run directory or weights file belongs to (load_run of resolve_weights' directory). Raises
    RowrnnError as load_run does, and for a weights file with no config.json beside it, naming what it needs."""
    run_dir, weights_path = resolve_weights(path, weights)
    if weights_path == Path(path) and files.exists(weights_path) and not files.exists(run_dir / CONFIG_FILE):
        raise RowrnnError(f"{weights_path}: no {CONFIG_FILE} beside it: a weights file loads with the config.json of "
                          "the run that trained it: put it in that run directory, or copy that config.json beside it")
    return load_run(run_dir)


def fit_weights(model, tensors: dict, weights_path, config_path) -> dict:
    """tensors (a weights file's) checked against model, built from config_path, and made to fit it: the one
    check every loader of a run's weights makes (state_dicts.fit_state_dict: dtypes, every key, shapes).
    Converting float16, bfloat16 or float64 weights to the model's dtype warns WeightsConverted. Raises
    WeightsMismatch (a RowrnnError) naming weights_path, every mismatch and the fix, in one line."""
    from .state_dicts import fit_state_dict
    return fit_state_dict(model, tensors, source=str(weights_path), target=str(config_path),
                          shape_fix=f"they were trained with another config: use the {CONFIG_FILE} of the run they "
                                    "come from, or restore this run's own",
                          other_model_fix=f"they are another model's weights: load them with the {CONFIG_FILE} of "
                                          "the run they come from")


@python_api
def load_model(path, weights: str = "best", device="cpu"):
    """(model in eval mode on device (default cpu), Run) rebuilt from config.json and safetensors weights.

    path: a run directory (weights: "best" or "last") or a .safetensors file beside its run's config.json.
    The weights are checked by fit_weights: float16, bfloat16 and float64 are converted to float32 with a
    WeightsConverted warning, as is a 'module.' or '_orig_mod.' prefix on every key removed. Raises RowrnnError
    (one line) for a run, config or weights file that cannot be read, a weights file without its run's
    config.json, and weights that do not fit the config's model (every missing, unexpected or resized tensor
    named, the fix for a shared key prefix) or are not floating point (each tensor and its dtype named)."""
    run = run_of_weights(path, weights)
    run_dir, weights_path = resolve_weights(path, weights)
    info = dataset_of(run.config)                 # the run's classes and image size
    model = build_model(run.config.model, num_classes=info.num_classes, image_size=info.image_size)
    model.load_state_dict(fit_weights(model, load_weights(weights_path), weights_path, run_dir / CONFIG_FILE))
    model.classes = info.classes                  # what its outputs are called (models.class_names reads it)
    return model.to(device).eval(), run


@dataclass(frozen=True)
class RunMinutes:
    """What a run cost in minutes of training: own (the sum of its epochs' seconds / 60) and teacher (its
    --distill-from teacher's training, itself counting the teacher's teachers; 0.0 for a run without one)."""

    own: float
    teacher: float = 0.0

    @property
    def total(self) -> float:
        """own + teacher: a distilled run could not start before its teacher existed."""
        return self.own + self.teacher


def run_minutes(run: Run) -> RunMinutes:
    """The minutes a run cost (RunMinutes): its own training from its history and, when it was distilled, its
    teacher's from the teacher record its config.json keeps (recorded_teacher). The one place these minutes
    are computed: metrics.json, the model card, the leaderboard and the recipe-options table all read them here.
    Raises RowrnnError for a damaged teacher record."""
    own = sum(run.history.get("seconds", [])) / 60
    teacher = recorded_teacher(run.path)
    return RunMinutes(own, teacher["train_minutes"] if teacher is not None else 0.0)


# the keys and types of a teacher record (teacher_record), checked when a config.json's is read back
TEACHER_KEYS = {"run": str, "path": str, "weights_sha256": str, "train_minutes": (int, float), "preset": str}


def teacher_record(path, *, classes=None, image_size: int | None = None) -> tuple[dict, torch.nn.Module]:
    """(record, model): what a student records of its --distill-from teacher, checked -- {"run": path as given,
    "path": absolute, "weights_sha256": of the best.safetensors bytes loaded, "train_minutes": what it cost
    (run_minutes(...).total), "preset": ...} -- and the teacher's network (eval mode, CPU) built from those very
    bytes, so the digest recorded is that of the weights that teach (the file is read once).

    classes, image_size: the student's dataset's (datasets.dataset_of(student config)); left out, Fashion-MNIST's.
    Raises RowrnnError (one line naming --distill-from) for a teacher that is missing, not a run, not finished
    (its metrics must describe its best weights), or whose classes (names, in order) or image size are not the
    student's: its logits would name other classes, or it would read other images."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from .constants import CLASSES, IMAGE_SIZE
    flag = f"--distill-from {path}"
    run_dir = Path(path)
    if not files.exists(run_dir):
        raise RowrnnError(f"{flag}: no such run directory: give the directory of a finished run")
    if not files.is_dir(run_dir) or not files.exists(run_dir / CONFIG_FILE):
        raise RowrnnError(f"{flag}: not a rowrnn run (no {CONFIG_FILE}): give the directory of a finished run")
    run = load_run(run_dir)
    status = run.status
    if status != "finished":
        raise RowrnnError(f"{flag}: the teacher is not finished (its status is {status!r}): finish it with "
                          f"`rowrnn train --resume {run_dir}` first")
    info = dataset_of(run.config)
    wanted = [str(c) for c in (classes if classes is not None else CLASSES)]
    # the classes it was tested on (its metrics) where they say, else those recorded in its config
    named = [str(c) for c in ((run.metrics or {}).get("per_class", {}) or info.classes)]
    if named != wanted:
        shown_classes = ", ".join(named[:12]) + (f", ... ({len(named)} in all)" if len(named) > 12 else "")
        raise RowrnnError(f"{flag}: the teacher was tested on the classes {shown_classes}, not this run's "
                          f"{len(wanted)} ({', '.join(wanted[:12])}{', ...' if len(wanted) > 12 else ''}): "
                          "distill from a run trained on this run's classes")
    side = image_size or IMAGE_SIZE
    if info.image_size != side:
        raise RowrnnError(f"{flag}: the teacher reads {info.image_size}x{info.image_size} images, this run "
                          f"{side}x{side}: distill from a run trained at --image-size {side}")
    weights_path = run_dir / "best.safetensors"
    raw = files.read_file(weights_path, limit=MAX_WEIGHTS_BYTES, what="weights file")
    model = build_model(run.config.model, num_classes=info.num_classes, image_size=info.image_size)
    try:
        tensors = load(raw)
    except (SafetensorError, ValueError, OSError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RowrnnError(f"{flag}: {weights_path} is not a valid safetensors file ({detail}): restore the "
                          "teacher's weights or finish it again") from None
    try:
        model.load_state_dict(fit_weights(model, tensors, weights_path, run_dir / CONFIG_FILE))
    except RowrnnError as e:
        raise RowrnnError(f"{flag}: {e}") from None
    record = {"run": str(path), "path": str(run_dir.resolve()), "weights_sha256": files.sha256(raw),
              "train_minutes": run_minutes(run).total, "preset": run.config.preset}
    return record, model.eval()


def recorded_teacher(run_dir) -> dict | None:
    """The teacher_record a distilled run's config.json keeps (None for a run without a teacher), checked.
    Raises RowrnnError (one line naming config.json) for a record that is not an object, or lacks a key of
    TEACHER_KEYS or holds one of another type (a hand-edited or damaged config.json)."""
    path = Path(run_dir) / CONFIG_FILE
    saved = files.read_json(path)
    recorded = saved.get("teacher") if isinstance(saved, dict) else None
    if recorded is None:
        return None
    wrong = (["the record"] if not isinstance(recorded, dict) else
             [k for k, kind in TEACHER_KEYS.items() if not isinstance(recorded.get(k), kind)
              or isinstance(recorded.get(k), bool) or (k == "train_minutes" and not 0 <= recorded[k] < float("inf"))])
    if wrong:
        raise RowrnnError(f"{path}: damaged teacher record ({', '.join(wrong)} missing or of the wrong type; "
                          f"expected {', '.join(TEACHER_KEYS)}): restore the run's own config.json or train it again")
    return recorded


def check_teacher(run_dir, teacher: dict | None) -> None:
    """Refuse to resume a distilled run whose teacher's best weights differ from those training started with
    (teacher: the teacher_record of now). Raises RowrnnError naming both digests and the fix."""
    recorded = recorded_teacher(run_dir)
    if teacher is None or recorded is None or recorded.get("weights_sha256") == teacher["weights_sha256"]:
        return
    raise RowrnnError(f"cannot resume {run_dir}: its teacher {teacher['run']} has other best weights than when "
                      f"training started (SHA-256 {str(recorded.get('weights_sha256'))[:12]}... then, "
                      f"{teacher['weights_sha256'][:12]}... now): restore the teacher's weights, or start a new run")


def weights_name(path, weights: str = "best") -> str:
    """The name evaluation reports for the weights: 'best', 'last', or a weights file's stem."""
    return resolve_weights(path, weights)[1].stem


def extra_metrics_path(run_dir: Path, weights: str, tta: str | None = None) -> Path:
    """Where `rowrnn evaluate --save` keeps metrics of weights: never metrics.json, the training's record.

    metrics-<weights>[@tta-<name>].json, one name per (weights, options): the weights' name ('best', 'last' or
    a weights file's stem) is percent-encoded, so it never holds the '@' that starts the options, and
    `evaluate RUN --tta flip` (metrics-best@tta-flip.json) never shares a file with weights saved as
    best@tta-flip.safetensors (metrics-best%40tta-flip.json).
    """
    from urllib.parse import quote
    options = f"@tta-{tta}" if tta else ""
    return Path(run_dir) / f"metrics-{quote(weights, safe='')}{options}.json"
