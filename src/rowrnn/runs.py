"""The run directory: the unit of work every command reads and writes.

    runs/20261127-101500-notebook/
      config.json   history.json  history.csv   metrics.json
      best.safetensors  last.safetensors  state.pt  *.png

Weights are safetensors, configs and histories JSON, the resume state a torch file
read with weights_only=True: nothing loaded here can execute code. Every file is
written to a temporary name and renamed, so no artifact is ever half-written.

    run = load_run("runs/demo")
    model = load_model("runs/demo", weights="best")
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import RunConfig
from .errors import RowrnnError
from .models import build_model

HISTORY_KEYS = ("train_loss", "train_metric", "val_loss", "val_metric", "lr", "seconds")
WEIGHTS = ("best", "last")
STATE_FILE, CONFIG_FILE, LOCK_FILE = "state.pt", "config.json", ".lock"
# may differ between the original run and its resumption without changing the result
RESUMABLE_DIFFERENCES = {("train", "device"), ("data", "data_dir")}


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: readers see the old file or the new one."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise RowrnnError(f"{path}: cannot write ({e.strerror}): check that the directory exists, "
                          "is writable and has space") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    atomic_write(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RowrnnError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RowrnnError(f"{path}: not valid JSON ({e}): restore it or re-create the run") from None
    except OSError as e:
        raise RowrnnError(f"{path}: cannot read ({e.strerror})") from None


def save_weights(path: Path, state_dict: dict) -> None:
    from safetensors.torch import save
    atomic_write(path, save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}))


def load_weights(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load
    path = Path(path)
    if not path.is_file():
        raise RowrnnError(f"{path}: no weights file: train the run first (rowrnn train) or name existing weights")
    try:
        return load(path.read_bytes())
    except (SafetensorError, ValueError, OSError) as e:
        raise RowrnnError(f"{path}: not a valid safetensors file ({e}): it is damaged or tampered with; "
                          "restore it or retrain") from None


def config_json(cfg: RunConfig) -> dict:
    from . import __version__
    return {**cfg.to_dict(), "versions": {"rowrnn": __version__, "torch": torch.__version__}}


def default_run_dir(cfg: RunConfig, root: str | Path = "runs") -> Path:
    from .config import short_name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = cfg.preset if cfg.preset != "custom" else short_name(cfg)
    return Path(root) / f"{stamp}-{name}"


class RunLock:
    """An exclusive lock on a run directory (flock: the kernel drops it when the holder dies)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.fd = None

    def __enter__(self):
        import fcntl
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RowrnnError(f"{self.run_dir}: cannot use it as a run directory ({e.strerror}): "
                              "choose another --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RowrnnError(f"{self.run_dir} is in use by another rowrnn train (pid {holder}): "
                              "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        for stale in self.run_dir.glob(".*.tmp-*"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc):
        import fcntl
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def check_fresh(run_dir: Path) -> None:
    """Refuse a run directory that already holds a run."""
    if (Path(run_dir) / CONFIG_FILE).exists():
        raise RowrnnError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                          "or choose another --out")


def start_run(run_dir: Path, cfg: RunConfig) -> None:
    """Claim a fresh run directory by writing its config.json."""
    check_fresh(run_dir)
    write_json(run_dir / CONFIG_FILE, config_json(cfg))


def config_differences(saved: RunConfig, cfg: RunConfig) -> list[str]:
    diffs = []
    for section in ("model", "train", "data"):
        a, b = dataclasses.asdict(getattr(saved, section)), dataclasses.asdict(getattr(cfg, section))
        diffs += [f"{k.replace('_', '-')} {a[k]!r} -> {b[k]!r}" for k in a
                  if a[k] != b[k] and (section, k) not in RESUMABLE_DIFFERENCES]
    return diffs


def load_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RowrnnError(f"{run_dir}: no such run directory: give a directory that rowrnn train wrote")
    if not run_dir.is_dir():
        raise RowrnnError(f"{run_dir}: not a run directory (give the directory that rowrnn train wrote)")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RowrnnError(f"{run_dir}: no {CONFIG_FILE}, so this is not a rowrnn run directory")
    try:
        return RunConfig.from_dict(read_json(run_dir / CONFIG_FILE)).validate()
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


def load_resume_state(run_dir: Path) -> dict | None:
    """The last completed epoch's state (None before the first); check_resumable() the config first."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        return None  # stopped before its first epoch ended: resuming starts from the beginning
    try:
        with warnings.catch_warnings():  # a foreign file's pickle-protocol warning would garble the one-line error
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals and damage both surface as various exception types
        raise RowrnnError(f"{path}: unreadable or unsafe resume state ({type(e).__name__}): "
                          "it is damaged or tampered with; start the run again") from None
    if not isinstance(state, dict) or not {"epoch", "model", "optimizer", "history"} <= set(state):
        raise RowrnnError(f"{path}: not a rowrnn resume state: start the run again")
    return state


def save_resume_state(run_dir: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(Path(run_dir) / STATE_FILE, buffer.getvalue())


def write_weights_and_history(run_dir: Path, state: dict) -> None:
    """The user-facing files derived from the resume state (state.pt, the commit point, is written before)."""
    run_dir = Path(run_dir)
    save_weights(run_dir / "last.safetensors", state["model"])
    save_weights(run_dir / "best.safetensors", state["best_model"])
    write_history(run_dir, state["history"])


def write_history(run_dir: Path, history: dict) -> None:
    write_json(run_dir / "history.json", history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(f"{history[k][i]:.6g}" for k in keys)])
    atomic_write(run_dir / "history.csv", out.getvalue().encode())


@dataclass
class Run:
    path: Path
    config: RunConfig
    history: dict


def load_run(run_dir) -> Run:
    """A run's config and history (no weights)."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    history_path = run_dir / "history.json"
    history = read_json(history_path) if history_path.exists() else {}
    if not isinstance(history, dict):
        raise RowrnnError(f"{history_path}: must hold a JSON object of per-epoch lists")
    return Run(run_dir, cfg, history)


def resolve_weights(path, weights: str = "best") -> tuple[Path, Path]:
    """(run directory, weights file) for a run directory or a .safetensors file beside a config.json."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return path.parent, path
    if path.is_file():
        raise RowrnnError(f"{path}: rowrnn loads weights only from .safetensors files (pickled .pt/.pkl files "
                          "can run code): give a run directory or a .safetensors file beside its config.json")
    if weights not in WEIGHTS:
        raise RowrnnError(f"unknown weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    return path, path / f"{weights}.safetensors"


def load_model(path, weights: str = "best", device="cpu"):
    """(model in eval mode, Run) rebuilt from config.json and safetensors weights."""
    run_dir, weights_path = resolve_weights(path, weights)
    run = load_run(run_dir)
    model = build_model(run.config.model)
    tensors = load_weights(weights_path)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else "")
        raise RowrnnError(f"{weights_path}: the weights do not match {run_dir / CONFIG_FILE} ({detail}): "
                          "use the config they were trained with") from None
    return model.to(device).eval(), run


def save_metrics(run_dir: Path, metrics: dict, weights: str = "best") -> Path:
    """Write (or update: keys written by others, like train's best_epoch, are kept) the metrics file."""
    path = Path(run_dir) / ("metrics.json" if weights == "best" else f"metrics-{weights}.json")
    previous = read_json(path) if path.is_file() else {}
    write_json(path, {**(previous if isinstance(previous, dict) else {}), **metrics})
    return path


def save_figure(path: Path, fig) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write(Path(path), buffer.getvalue())
