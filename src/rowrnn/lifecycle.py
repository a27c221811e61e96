"""A run's life in one place: start or resume it, train it, finish it.

fit is the orchestrator: it checks the data and the directory, claims and locks the run directory once
(runs.claim) from the first epoch to the last file of finishing, builds data, split, model, optimizer and
schedule (or restores them from state.pt), and hands them to training.train_loop, which only loops;
runs.Checkpointer decides the best epoch and writes. Finishing reads the test split once, for the best
weights, and writes metrics.json (with the SHA-256 of the weights it describes), the figures and MODEL_CARD.md. The CLI, the Python API and
`rowrnn compare` all go through here, so a run is finished the same way whoever trains it.

    result = fit("notebook", "runs/demo")            # = rowrnn train --out runs/demo
    result.metrics["accuracy"], result.best_epoch
    resume("runs/demo")                               # = rowrnn train --resume runs/demo
"""
from __future__ import annotations

import shlex
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import files, runs
from .config import PRESETS, RunConfig, build_config, config_fields
from .constants import CLASSES, NUM_CLASSES
from .data import Batches, ImageDataset
from .datasets import TABLE, dataset_of, image_background, load_dataset, section_here
from .devices import distributed_context
from .errors import RowrnnError, RowrnnNote, python_api
from .models import build_model, count_parameters
from .optim import make_ema, make_optimizer, make_scheduler
from .signals import stop_on_signals
from .training import Teacher, progress_bar, split_indices, train_loop


@dataclass
class TrainResult:
    """What train_epochs returns: the per-epoch history (runs.HISTORY_KEYS), the best epoch (1-based) and its
    validation metric, whether patience stopped it, and the largest gradient norm seen."""
    history: dict
    best_epoch: int
    best_val_metric: float
    stopped_early: bool
    max_grad_norm: float
    is_main: bool = True      # rank 0 (or the only process): the one that wrote the run directory


@dataclass
class RunResult:
    """What fit returns: the run directory, its config, the training's history, best epoch (1-based) and its
    validation metric, whether patience stopped it, the largest gradient norm, and the test metrics."""
    path: Path
    config: RunConfig
    history: dict
    best_epoch: int
    best_val_metric: float
    stopped_early: bool
    max_grad_norm: float
    metrics: dict | None          # test metrics of the best weights; None on ranks other than 0

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that finished the run and holds its metrics."""
        return self.metrics is not None


@python_api(names={"--out": "run_dir"})
def fit(cfg: RunConfig | str = "notebook", run_dir=None, *, resume: bool = False,
        train_set: ImageDataset | None = None, test_set: ImageDataset | None = None, figures: bool = True,
        on_epoch=None, progress: bool = False) -> RunResult:
    """Train cfg (a RunConfig or a preset's name) into run_dir and finish the run: what `rowrnn train` does.

    run_dir defaults to runs/<UTC time>-<preset>. With resume=True run_dir must hold a run of the
    same config, which continues from its last completed epoch (a finished one is finished again).
    The run directory is locked once, from the first write of training to the last of finishing.
    on_epoch(epoch, history, max_grad_norm) is called after each epoch on rank 0. Raises RowrnnError.
    """
    cfg = build_config(cfg) if isinstance(cfg, str) else cfg.validate()
    run_dir = Path(run_dir) if run_dir is not None else runs.default_run_dir(cfg)
    trained, metrics = _fit(cfg, run_dir, resume=resume, train_set=train_set, on_epoch=on_epoch, progress=progress,
                            finishing={"test_set": test_set, "figures": figures})
    return RunResult(run_dir, cfg, trained.history, trained.best_epoch, trained.best_val_metric, trained.stopped_early,
                     trained.max_grad_norm, metrics)


def train_epochs(cfg: RunConfig, run_dir, *, resume: bool = False, train_set: ImageDataset | None = None,
                 on_epoch=None, progress: bool = False) -> TrainResult:
    """fit without finishing: the epochs of cfg into run_dir (config, history, best/last weights, state.pt),
    for benchmarks and recipe searches that never look at the test split.

    Validation picks the best epoch; the test split is never touched. state.pt, written after every epoch,
    is the commit point: a run stopped at any moment resumes from its last completed epoch to the same weights.
    """
    return _fit(cfg, Path(run_dir), resume=resume, train_set=train_set, on_epoch=on_epoch, progress=progress,
                finishing=None)[0]


def _fit(cfg: RunConfig, run_dir: Path, *, resume: bool, train_set, on_epoch, progress, finishing):
    """(TrainResult, test metrics or None): check everything, lock run_dir once, build, loop, finish."""
    tc = cfg.train
    with distributed_context(tc.device) as place:
        main = place.is_main
        if tc.amp and place.device.type != "cuda":
            raise RowrnnError("--amp needs a CUDA device (bfloat16 autocast); drop --amp on CPU")
        test_set = finishing["test_set"] if finishing else None
        if train_set is None:  # before touching run_dir: a data error leaves nothing behind
            # a resume reads the data where they are now (a moved folder: its --data-dir); cfg keeps the record
            section = section_here(cfg.data, cfg.data.data_dir) if resume else cfg.data
            info, train_set, loaded_test = load_dataset(section, progress=progress and main)
            if not resume:   # a folder's absolute path, recorded: evaluate finds it from any directory
                cfg.data.dataset = info.name
            test_set = test_set if test_set is not None or not finishing else loaded_test
            if main and getattr(train_set, "report", ""):   # files skipped or dropped: said, never silent
                named = "the run's image folder" if resume else "--dataset"   # a resume has no --dataset
                warnings.warn(f"{named} {info.name}: {train_set.report}", RowrnnNote, stacklevel=3)
            if info.is_folder:   # what the folder held: recorded at the start, the same on resume
                _same_folder_images(cfg, run_dir, info, train_set, loaded_test, resume,
                                    check_test=bool(finishing) and test_set is loaded_test)
        # the dataset's facts are recorded in config.json: class names from the data (a folder's, a named
        # dataset's) or, for a train_set given by the caller, its .classes
        cfg.data.classes = list(getattr(train_set, "classes", None) or dataset_of(cfg).classes)
        if not resume and dataset_of(cfg).is_folder:   # from the training images only; a resume keeps the record
            cfg.data.background = image_background(train_set.images)
        cfg.validate()
        train_idx, val_idx = split_indices(len(train_set), tc.val_split, tc.seed)
        if len(val_idx) == 0 or len(train_idx) == 0:
            raise RowrnnError(f"--val-split {tc.val_split} of {len(train_set)} training images leaves "
                              f"{len(train_idx)} for training and {len(val_idx)} for validation: use more data "
                              "or another --val-split")
        # the teacher is checked, loaded once and the digest of the bytes loaded taken, before run_dir is touched
        teacher, teacher_model = (runs.teacher_record(tc.distill_from, classes=cfg.data.classes,
                                                      image_size=dataset_of(cfg).image_size)
                                  if tc.distill_from is not None else (None, None))
        if teacher is not None:
            check_teacher_split(tc, runs.load_config(tc.distill_from).train, len(train_set), val_idx, resume=resume)
        with runs.claim(run_dir, cfg, resume=resume, write=main, teacher=teacher) as saved:  # held until finished
            state, max_grad_norm = _train(cfg, place, train_set, train_idx, val_idx, saved, run_dir,
                                          progress=progress, on_epoch=on_epoch, teacher_model=teacher_model)
            trained = TrainResult(state.history, state.best_epoch, state.best_val_metric, state.stopped_early,
                                  max_grad_norm, main)
            if not (finishing and main):
                return trained, None
            # still under the lock: nothing can come between the last epoch and the metrics of its weights.
            # cfg's data_dir: a resume's --data-dir, where the run's recorded one may be missing
            return trained, _finish(run_dir, test_set=test_set, figures=finishing["figures"], device="cpu",
                                    data_dir=cfg.data.data_dir,
                                    train_support=class_counts(train_set.labels[train_idx],
                                                               cfg.data.classes))


def _same_folder_images(cfg: RunConfig, run_dir: Path, info, train_set, test_set, resume: bool, *,
                        check_test: bool = True) -> None:
    """A fresh folder run records what each split read (cfg.data.split_sha256, datasets.split_digest); a resumed
    one must read the same: other training images would change the validation split, and could train on images
    that earlier epochs validated on; other test images would make its metrics describe another test set
    (check_test False: not finishing here, not checked). A run recorded before digests is not checked.
    Raises RowrnnError (one line, naming the run's folder, the run and the counts) for a split that changed."""
    from .datasets import changed_split, split_digest
    from .images import display_name
    if not resume:
        cfg.data.split_sha256 = {"train": split_digest(train_set), "test": split_digest(test_set)}
        return
    shown = f"the run's image folder {display_name(info.name)}"   # a resume: no --dataset to name
    how = changed_split(cfg.data.split_sha256, train_set, "train")
    if how:
        raise RowrnnError(f"{shown}: the folder's training images changed since {run_dir} started {how}: resume "
                          "needs the same images; start a new run with --out")
    how = changed_split(cfg.data.split_sha256, test_set, "test") if check_test else ""
    if how:
        raise RowrnnError(f"{shown}: the folder's test images changed since {run_dir} started {how}: its metrics "
                          "must describe the test images it started with; restore them, or start a new run with --out")


def _train(cfg: RunConfig, place, train_set, train_idx, val_idx, saved, run_dir, *, progress, on_epoch,
           teacher_model=None):
    """(runs.ResumeState, largest gradient norm): build (or restore) and loop until the last epoch or a signal.
    teacher_model: the --distill-from network runs.teacher_record loaded (None without one).

    The model, its DistributedDataParallel wrapper and the optimizer live only in this frame: under torchrun
    they are gone before distributed_context leaves the process group (a DDP reducer still holding the gloo
    group at interpreter exit aborts the rank).
    """
    tc, main = cfg.train, place.is_main
    with stop_on_signals() as should_stop:
        parts = _build(cfg, place, train_set, train_idx, val_idx, saved, run_dir, teacher_model)
        saver = runs.Checkpointer(run_dir, parts.state, parts.model, parts.optimizer, parts.scheduler,
                                  patience=tc.patience, write=main, ema=parts.ema)
        if saved is not None:
            saver.resumed()
        max_grad_norm = train_loop(
            parts.net, parts.train_batches, parts.val_batches, parts.criterion, parts.optimizer, saver,
            epochs=tc.epochs, seed=tc.seed, scheduler=parts.scheduler, metric_fn=parts.metric,
            clip_grad_norm=tc.clip_grad_norm, amp=tc.amp, should_stop=should_stop,
            progress=progress_bar(progress and main), on_epoch=on_epoch if main else None, ema=parts.ema,
            teacher=parts.teacher)
    return parts.state, max_grad_norm


def check_teacher_split(tc, teacher_tc, n_images: int, val_idx: torch.Tensor, resume: bool = False) -> None:
    """Refuse a --distill-from teacher that trained on any of this run's validation images: its soft targets
    would carry their labels into training, and validation (which picks the best epoch) would flatter the
    student. tc, teacher_tc: the student's and the teacher's TrainConfig; n_images: the training set's size;
    val_idx: the student's validation indices (split_indices); resume: the run is being resumed (a run started
    before this check existed is refused too, and told to start anew). A teacher with the same --seed and a
    --val-split at least the student's holds out all of the student's images (random_split of one permutation).
    Raises RowrnnError naming both splits and the fix."""
    teacher_train, _ = split_indices(n_images, teacher_tc.val_split, teacher_tc.seed)
    seen = int(torch.isin(val_idx, teacher_train).sum())
    if seen:
        raise RowrnnError(
            f"--distill-from {tc.distill_from}: the teacher trained on {seen} of this run's {len(val_idx)} "
            f"validation images (its --seed {teacher_tc.seed} --val-split {teacher_tc.val_split:g}, this run's "
            f"--seed {tc.seed} --val-split {tc.val_split:g}), so validation would flatter the student: "
            + ("start a new run, " if resume else "")
            + f"distill from a teacher trained with --seed {tc.seed} --val-split {tc.val_split:g}")


@dataclass
class _Parts:
    model: nn.Module
    net: nn.Module                # model, or model wrapped in DistributedDataParallel
    train_batches: Batches
    val_batches: Batches
    optimizer: torch.optim.Optimizer
    scheduler: object
    criterion: nn.Module
    metric: object
    state: runs.ResumeState
    ema: object = None            # optim.make_ema's AveragedModel with --ema-decay
    teacher: Teacher | None = None  # with --distill-from


def _build(cfg: RunConfig, place, train_set: ImageDataset, train_idx, val_idx, saved, run_dir,
           teacher_model=None) -> _Parts:
    """Model, batches, optimizer, schedule, loss and metric for cfg, the weight average and the teacher
    (teacher_model, as runs.teacher_record loaded it) when it asks for them; restored from saved (a ResumeState)
    if given. The metric is evaluation.MacroAccuracy: the validation metric is the macro accuracy, the mean of the
    per-class recalls over the classes present in the validation split (torchmetrics' MulticlassAccuracy
    average="macro" bit for bit when all are present, as in Fashion-MNIST)."""
    from .evaluation import MacroAccuracy
    tc, device = cfg.train, place.device
    teacher = None
    if teacher_model is not None:  # built before seeding: the student starts as it would without a teacher
        teacher = Teacher(teacher_model.to(device).eval(), temperature=tc.distill_temperature,
                          alpha=tc.distill_alpha)
    torch.manual_seed(tc.seed)
    model = build_model(cfg).to(device)           # cfg's recorded classes and image size
    images, labels = train_set.images.to(device), train_set.labels.to(device)  # once, for both splits
    common = dict(device=device, rank=place.rank, world_size=place.world_size)
    train_batches = Batches(images, labels, tc.batch_size, indices=train_idx, shuffle=True, seed=tc.seed,
                            augment_shift=tc.augment_shift, augment_flip=tc.augment_flip,
                            augment_erase=tc.augment_erase, **common)
    val_batches = Batches(images, labels, tc.batch_size, indices=val_idx, **common)
    optimizer = make_optimizer(model.parameters(), tc)
    make_schedule = lambda: make_scheduler(optimizer, tc, total_steps=len(train_batches) * tc.epochs)  # noqa: E731
    scheduler = make_schedule()
    ema = make_ema(model, tc.ema_decay)   # of the bare model, before any DDP wrapper
    state = saved or runs.ResumeState.fresh(model, optimizer, scheduler, ema)
    if saved is not None:
        scheduler = _restore(saved, model, optimizer, scheduler, make_schedule, len(train_batches), run_dir, ema)
    net = model
    if place.world_size > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    return _Parts(model, net, train_batches, val_batches, optimizer, scheduler,
                  nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing),
                  MacroAccuracy(cfg.num_classes).to(device), state, ema, teacher)


def _restore(state: runs.ResumeState, model, optimizer, scheduler, make_schedule, steps_per_epoch: int, run_dir,
             ema=None):
    """Load a saved state into the model, optimizer, schedule and weight average; returns the schedule to
    continue with."""
    try:
        model.load_state_dict(state.model)
        if ema is not None:
            if state.ema is None:
                raise RuntimeError("no moving average")
            ema.load_state_dict(state.ema)
    except RuntimeError:
        raise RowrnnError(f"{run_dir}: the weights do not match its config.json (was it edited?): "
                          "restore the run's own config.json") from None
    try:
        optimizer.load_state_dict(state.optimizer)
        if scheduler is not None and state.scheduler is not None:
            scheduler.load_state_dict(state.scheduler)
        elif scheduler is not None:  # a version-0 state (rowrnn 0.1.0 set the rate by hand): replay the schedule
            scheduler = make_schedule()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": intended here
                for _ in range(state.epoch * steps_per_epoch):
                    scheduler.step()
    except (ValueError, KeyError, RuntimeError) as e:
        raise RowrnnError(f"{run_dir / runs.STATE_FILE}: the optimizer state does not fit the model ({e}): "
                          "start the run again") from None
    return scheduler


def resume_config(run_dir, overrides: dict | None = None, *, note=None) -> RunConfig:
    """run_dir's own config; overrides may change only what does not change the result: where it runs
    (device, amp) and where the data are (data_dir).

    A run copied from elsewhere travels: trained with amp (bfloat16 autocast, CUDA only) and resumed where
    there is no CUDA GPU, it continues without it, and note(message) says so (default: a UserWarning).
    A recorded data folder that is missing here is refused now, naming it and the flag to pass.
    """
    overrides = dict(overrides or {})
    cfg = runs.load_config(run_dir)
    sections = {f.name: section for section, f in config_fields()}
    for key, value in overrides.items():
        if key not in sections:
            raise RowrnnError(f"unknown config field {key!r}")
        setattr(getattr(cfg, sections[key]), key, value)
    cfg.validate()
    runs.check_resumable(run_dir, cfg)
    if cfg.train.amp and "amp" not in overrides:
        from .devices import resolve_device
        try:
            device = resolve_device(cfg.train.device)
        except RowrnnError:
            device = None   # train_epochs names the device flag to pass
        if device is not None and device.type != "cuda":
            cfg.train.amp = False
            message = (f"{run_dir} was trained with --amp (bfloat16 autocast), which needs a CUDA GPU: continuing "
                       f"without it on {device.type} (mixed precision is a device choice; config.json keeps the record)")
            if note is None:
                import warnings
                warnings.warn(message, RowrnnNote, stacklevel=3)
            else:
                note(message)
    if "data_dir" not in overrides and cfg.data.data_dir is not None:
        from .data import recorded_data_missing
        try:
            files.check_readable_dir(Path(cfg.data.data_dir).expanduser())
        except RowrnnError as e:
            raise RowrnnError(recorded_data_missing(run_dir, cfg.data.data_dir, str(e).split(": ", 1)[1])) from None
    return cfg


@python_api
def resume(run_dir, overrides: dict | None = None, **kwargs) -> RunResult:
    """Continue run_dir from its last completed epoch, then finish it: `rowrnn train --resume`."""
    return fit(resume_config(run_dir, overrides), run_dir, resume=True, **kwargs)


@python_api
def finish(run_dir, *, test_set: ImageDataset | None = None, figures: bool = True, device="cpu",
           data_dir=None) -> dict:
    """Evaluate the best weights on the test split and write metrics.json, the figures and MODEL_CARD.md.

    The only writer of metrics.json. The test split is read here, once, for the plain number
    (test-time augmentation is a separate, explicit evaluation: rowrnn evaluate --tta flip).
    Locks run_dir while it writes (fit finishes under the lock it trained under).
    """
    run_dir = Path(run_dir)
    runs.load_config(run_dir)   # a missing or foreign directory is named before the lock is tried
    with runs.RunLock(run_dir, purpose="train"):
        return _finish(run_dir, test_set=test_set, figures=figures, device=device, data_dir=data_dir)


def class_counts(labels: torch.Tensor, classes=CLASSES) -> dict:
    """{class name: images of it} among labels (N,) int64, the labels that trained a run (its training part,
    validation excluded): what metrics.json records as "train_support" for evaluation.class_mismatch."""
    counts = torch.bincount(labels.long(), minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts)}


def _finish(run_dir: Path, *, test_set, figures: bool, device, data_dir, train_support: dict | None = None) -> dict:
    """finish() with run_dir already locked by the caller (fit holds its lock from training on).
    train_support: the training's images per class (class_counts); None (finish() alone) keeps
    what the run's metrics.json recorded, if anything."""
    from .evaluation import evaluate_run, load_test_set, run_figures

    run = runs.load_run(run_dir)
    state = runs.ResumeState.load(run_dir)
    if state is None or not state.complete(run.config.train.epochs):
        raise RowrnnError(f"{run_dir}: training is not complete: continue it with rowrnn train --resume {run_dir}")
    if test_set is None:
        test_set = load_test_set(run, data_dir)
    digest = runs.weights_digest(run_dir)
    metrics, model, run, logits = evaluate_run(run_dir, "best", test_set=test_set, device=device)
    if train_support is not None:
        metrics["train_support"] = train_support
    teacher = runs.recorded_teacher(run_dir)
    # a distilled run's minutes count its teacher's training: the student could not start before it
    minutes = runs.run_minutes(run)
    metrics.update({"best_epoch": state.best_epoch, "best_val_metric": state.best_val_metric,
                    "epochs_trained": state.epoch, "stopped_early": state.stopped_early,
                    "train_minutes": minutes.total, "weights_sha256": digest,
                    **({"own_train_minutes": minutes.own, "teacher_minutes": minutes.teacher, "teacher": teacher}
                       if teacher is not None else {}),
                    **({"weights_averaged": f"exponential moving average, decay {run.config.train.ema_decay:g}"}
                       if run.config.train.ema_decay else {})})
    if figures:
        save_figures(run_dir, run_figures(run, model, test_set, logits, metrics))
    # backslashreplace: a run folder whose name is not UTF-8 is named in the card as \xff, not refused
    files.atomic_write(run_dir / runs.CARD_FILE,
                       model_card(run, metrics, count_parameters(model)).encode("utf-8", "backslashreplace"))
    files.write_json(run_dir / runs.METRICS_FILE, metrics)  # last: the run counts as finished from here
    return metrics


def save_figures(run_dir, figures: dict, suffix: str = "") -> list[Path]:
    """Write name -> Figure as run_dir/<name><suffix>.png and close them."""
    paths = []
    for name, fig in figures.items():
        paths.append(Path(run_dir) / f"{name}{suffix}.png")
        files.save_figure(paths[-1], fig)
    return paths


@python_api
def draw_figures(path, weights: str = "best", data_dir=None) -> list[Path]:
    """(Re)draw a run's figures: <name>.png for the best weights, <name>-<weights>.png for others."""
    from .evaluation import evaluate_run, load_test_set, run_figures
    run_dir, _ = runs.resolve_weights(path, weights)
    run = runs.load_run(run_dir)
    test_set = load_test_set(run, data_dir)
    with runs.RunLock(run_dir, purpose="plot"):
        metrics, model, run, logits = evaluate_run(path, weights, test_set=test_set)
        name = metrics["weights"]
        return save_figures(run_dir, run_figures(run, model, test_set, logits, metrics),
                            "" if name == "best" else f"-{name}")


def save_evaluation(run_dir, metrics: dict) -> Path:
    """`rowrnn evaluate --save`: metrics-<weights>[@tta-<name>].json (one name per weights and options),
    never the training's metrics.json."""
    path = runs.extra_metrics_path(run_dir, metrics["weights"], metrics.get("tta"))
    with runs.RunLock(run_dir, purpose="evaluate"):
        files.write_json(path, metrics)
    return path


def _score(value) -> str:
    """A per-class score as the tables show it: 4 decimals, or n/a for a class with no images (None)."""
    return "n/a" if value is None else f"{value:.4f}"


def train_command(cfg: RunConfig, run_dir) -> str:
    """The `rowrnn train` command that reproduces cfg: the preset and the flags that differ from it."""
    base = build_config(cfg.preset) if cfg.preset in PRESETS else build_config("notebook")
    flags = []
    for section, f in config_fields():
        ours, theirs = getattr(getattr(cfg, section), f.name), getattr(getattr(base, section), f.name)
        if ours != theirs and (section, f.name) != ("data", "data_dir"):
            flag = "--" + f.name.replace("_", "-")
            flags += ([flag] if ours is True else [f"--no-{flag[2:]}"] if ours is False else [flag, str(ours)])
    preset = cfg.preset if cfg.preset in PRESETS else "notebook"
    return shlex.join(["rowrnn", "train", "--preset", preset, *flags, "--out", str(run_dir)])


def model_card(run: runs.Run, metrics: dict, parameters: int) -> str:
    """MODEL_CARD.md: what the model is, what it was trained and tested on, how well it does, and its limits.

    Macro accuracy is the mean recall over the classes present in the test split (evaluation.macro_over_present);
    a class with no test images shows n/a and is never named strongest or weakest; a test split whose classes
    differ from training's says so in one line (evaluation.class_mismatch).
    """
    from ._version import __version__
    from .evaluation import class_mismatch, classes_present, macro_definition
    cfg, m = run.config, run.config.model
    reads = {"rows": "rows", "columns": "columns", "rows+columns": "rows and columns", "pixels": "pixels",
             "permuted-pixels": "pixels in a fixed random order"}
    layers = f"{m.num_layers} layer{'s' if m.num_layers > 1 else ''}"
    describe = (f"a CNN with {m.num_layers} convolution{'s' if m.num_layers > 1 else ''} per stage "
                f"({m.hidden_size}, then {2 * m.hidden_size} channels)" if m.arch == "cnn" else
                f"a {'bidirectional ' if m.bidirectional else ''}{m.cell.upper()} of {layers} of {m.hidden_size} "
                f"units reading {reads[m.read]}" + (f", {m.rows_per_step} lines a step" if m.rows_per_step > 1 else "")
                + f"; readout {m.readout!r}, then a linear layer")
    seconds = run.history.get("seconds", [])
    per_class = "\n".join(f"| {name} | " + " | ".join(_score(v[k]) for k in ("precision", "recall", "f1"))
                          + f" | {v['support']} |" for name, v in metrics["per_class"].items())
    present = classes_present(metrics)        # strongest and weakest only among classes with test images
    recall = {c: metrics["per_class"][c]["recall"] for c in present}
    ranked = (f"Its weakest class is {min(present, key=recall.get)} (recall {min(recall.values()):.2f}), its "
              f"strongest {max(present, key=recall.get)} (recall {max(recall.values()):.2f})" if present
              else "No class has test images, so none is weakest")
    mismatch = class_mismatch(metrics)
    note = f"\n\nNote: {mismatch}." if mismatch else ""
    macro = (f"macro accuracy {metrics['macro_accuracy']:.4f} ({macro_definition(metrics)})"
             if metrics["macro_accuracy"] is not None else "macro accuracy n/a (no test images)")
    tc = cfg.train
    recipe = ", ".join(
        [f"{tc.optimizer} lr {tc.lr:g}", f"batch {tc.batch_size}", f"{tc.schedule} schedule"]
        + ([f"weight decay {tc.weight_decay:g}"] if tc.weight_decay else [])
        + ([f"label smoothing {tc.label_smoothing:g}"] if tc.label_smoothing else [])
        + ([f"gradient clipping {tc.clip_grad_norm:g}"] if tc.clip_grad_norm else [])
        + ([f"shifts of up to {tc.augment_shift} px"] if tc.augment_shift else [])
        + (["horizontal flips"] if tc.augment_flip else [])
        + ([f"random erasing p={tc.augment_erase:g}"] if tc.augment_erase else [])
        + ([f"an exponential moving average of the weights (decay {tc.ema_decay:g}), validated and saved in their "
            "place"] if tc.ema_decay else [])
        + ([f"distilled from {metrics['teacher']['run']} (its best weights, SHA-256 "
            f"{metrics['teacher']['weights_sha256'][:16]}…; temperature {tc.distill_temperature:g}, alpha "
            f"{tc.distill_alpha:g})"] if metrics.get("teacher") else []))
    cost = runs.run_minutes(run)
    minutes = (f"{cost.own:.1f} minutes of training, plus {cost.teacher:.1f} of its teacher's: "
               f"{cost.total:.1f} in all" if metrics.get("teacher") else f"{cost.own:.1f} minutes of training")
    info = dataset_of(run.config)
    S, C = info.image_size, info.num_classes
    fashion = info.name == "fashion-mnist"
    title = "Fashion-MNIST" if fashion else (TABLE[info.name].title if info.name in TABLE
                                             else f"the image folder `{info.name}`")
    data_text = ("""Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test images of 10 kinds of
garments, 28×28 grey, light garment on a black background.""" if fashion else
                 f"{title}: {C} classes ({', '.join(info.classes[:12])}{', …' if C > 12 else ''}), {S}×{S} grey"
                 + (f", converted from its files ({cfg.data.conversion} conversion)" if info.is_folder else "") + ".")
    confused = ("; garments that\n  look alike (shirt, T-shirt, pullover, coat) are confused most." if fashion
                else "; the confusion matrix (confusion.png) shows which classes it mixes up.")
    # how `rowrnn predict` converts a person's pictures for this dataset (datasets.photo_fit), said as it is done
    if fashion:
        pictures = ("- Photographs differ from Fashion-MNIST (backgrounds, lighting, angles); `rowrnn predict` "
                    "converts them\n  (grey, fitted into 28×28, inverted on light backgrounds), but accuracy on "
                    "them is not measured here.")
    elif not info.is_folder:
        pictures = (f"- Photographs and drawings differ from the images of {title}; `rowrnn predict` converts them "
                    "(grey,\n  fitted whole into 28×28, inverted on light backgrounds), but accuracy on them is "
                    "not measured here.")
    elif info.conversion == "photo":
        pictures = ("- Pictures of your own differ from the folder's images; `rowrnn predict` converts them (grey, "
                    "background\n  trimmed, fitted into 28×28, inverted on light backgrounds), but accuracy on "
                    "them is not measured here.")
    else:
        pictures = ("- Pictures of your own differ from the folder's images; `rowrnn predict` converts them as the "
                    f"folder's\n  files were (grey, resized to {S}×{S}), but accuracy on them is not measured here.")
    use = ("Fashion-MNIST-like data: centred 28×28 grey garments, light on dark." if fashion else
           f"data like {title}'s: {S}×{S} grey images of its {C} classes.")
    return f"""# Model card: {run.path.name}

## Model
`{cfg.preset}` preset: {describe}; {parameters:,} trainable parameters. Input: one {S}×{S} grey image,
scaled to [-1, 1] as (x/255 − 0.5)/0.5; output: logits over the {C} {title} classes. Weights:
`best.safetensors` (the epoch with the best validation metric; SHA-256 `{metrics['weights_sha256'][:16]}…`)
and `last.safetensors`. Made by rowrnn {__version__}; the full configuration is in `config.json`.

## Data
{data_text} {1 - tc.val_split:.0%} of the training images
trained the model, {tc.val_split:.0%} (seed {tc.seed}) chose the best epoch; the test images were read once,
after training, for the numbers below.

## Training
{len(seconds)} epoch{'s' if len(seconds) != 1 else ''} ({'stopped early; ' if metrics['stopped_early'] else ''}best: epoch {metrics['best_epoch']},
validation macro accuracy {metrics['best_val_metric']:.4f}, over the classes present in validation), {minutes}
(median {statistics.median(seconds) if seconds else 0:.1f} s per epoch). Recipe: {recipe}.
Reproduce: `{train_command(cfg, run.path)}`.

## Evaluation (test split, {metrics['images']:,} images)
Accuracy **{metrics['accuracy']:.4f}**, {macro}, loss {metrics['loss']:.4f}.{note}

| class | precision | recall | F1 | images |
|---|--:|--:|--:|--:|
{per_class}

## Intended use
Teaching and comparing recurrent networks that read images as sequences, and as a baseline for
{use}

## Limitations
- It knows {C} classes and nothing else: any input gets one of them, a cat included.
{pictures}
- {ranked}{confused}
- Numbers come from one training run (seed {tc.seed}); other seeds differ (see the leaderboard for spreads).
"""
