"""Dataclass configs for a run and the registry of presets.

The CLI builds a RunConfig from a preset plus flags; training saves it as
config.json and every later command rebuilds the model from it.

    cfg = build_config("notebook", {"hidden_size": 16})
    cfg.model.hidden_size  # 16
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields

from . import models
from .devices import DEVICES
from .errors import RowrnnError, python_api
from .optim import OPTIMIZERS, SCHEDULES

# the choices, from the registries that implement them
ARCHS, CELLS = tuple(models.MODELS), tuple(models.RECURRENT_CELLS)
READOUTS, READS, NONLINEARITIES, INITS = models.READOUTS, models.READS, models.NONLINEARITIES, models.INITS

# The documented size limits, checked before anything is allocated (train, summary, resume, compare):
MAX_PARAMETERS = 100_000_000        # 400 MB of float32 weights, ~2 GB with gradients and Adam's state
MAX_TRAINING_BYTES = 32 * 2**30     # weights, gradients, optimizer state and one step's saved activations
# model fields that config.json files written by rowrnn 0.1.0 lack; their defaults are 0.1.0's behaviour
ADDED_MODEL_FIELDS = {"rows_per_step", "readout_dropout"}


def _opt(default, help, choices=None):
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class ModelConfig:
    """The network: one field per `rowrnn train` flag of the model section (defaults: the course's notebook model,
    a 1-layer tanh RNN of 8 units reading 28 rows; sizes in units, rows or pixels as each help says)."""

    arch: str = _opt("recurrent", "model family: a recurrent reader, or the small CNN baseline", ARCHS)
    cell: str = _opt("rnn", "recurrent cell ('elman' is the from-scratch layer written for reading; 'mingru', "
                     "'minlstm' and 'lru' train in parallel over time, in pre-norm residual blocks with an MLP)", CELLS)
    hidden_size: int = _opt(8, "units in each recurrent layer (channels scale for the CNN)")
    num_layers: int = _opt(1, "stacked recurrent layers")
    bidirectional: bool = _opt(False, "also read the sequence backwards")
    nonlinearity: str = _opt("tanh", "activation of the rnn/elman cells", NONLINEARITIES)
    dropout: float = _opt(0.0, "dropout between stacked recurrent layers (needs --num-layers >= 2)")
    readout: str = _opt("last", "how the per-step outputs become one feature vector", READOUTS)
    read: str = _opt("rows", "reading order of the image", READS)
    permutation_seed: int = _opt(0, "seed of the fixed pixel permutation for --read permuted-pixels")
    init: str = _opt("default", "weight initialization of the recurrent layers", INITS)
    # any divisor of the image side (28: 1, 2, 4, 7, 14, 28; an image folder's --image-size has its own), so no
    # argparse choices: validate() names the side's divisors
    rows_per_step: int = _opt(1, "rows (or columns) read per step: strips of k lines, S/k steps for S x S images "
                              "(k divides S)")
    readout_dropout: float = _opt(0.0, "dropout on the features the linear head reads")

    def validate(self, image_size: int = 28, num_classes: int = 10) -> None:
        """Raises RowrnnError (naming the flag) for a value of the wrong type, outside its choices or range, or that
        cannot read images of image_size pixels a side (num_classes: the head's outputs, for the size limit)."""
        _check_types(self)
        _check_choice("arch", self.arch, ARCHS)
        _check_choice("cell", self.cell, CELLS)
        _check_choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        _check_choice("readout", self.readout, READOUTS)
        _check_choice("read", self.read, READS)
        _check_choice("init", self.init, INITS)
        _check_seed("permutation-seed", self.permutation_seed)
        _check_positive_int("rows-per-step", self.rows_per_step)
        _check_positive_int("hidden-size", self.hidden_size)
        _check_positive_int("num-layers", self.num_layers)
        for name in ("dropout", "readout_dropout"):
            if not (0.0 <= getattr(self, name) < 1.0):
                raise RowrnnError(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(self, name)}")
        if "pixels" in self.read and self.rows_per_step != 1:
            raise RowrnnError(f"--rows-per-step {self.rows_per_step} reads strips of rows or columns: "
                              f"drop it with --read {self.read}")
        if self.arch == "recurrent" and self.dropout > 0 and self.num_layers == 1:
            raise RowrnnError(
                f"--dropout {self.dropout} acts between stacked layers and would do nothing with "
                "--num-layers 1: use --num-layers 2 or more, or drop --dropout")
        if self.nonlinearity == "relu" and self.cell not in ("rnn", "elman"):
            raise RowrnnError(f"--nonlinearity relu applies to the rnn and elman cells, not {self.cell!r}")
        if self.init != "default" and self.cell in models.PARALLEL_CELLS:
            raise RowrnnError(f"--init {self.init} applies to the rnn, gru, lstm and elman cells, not {self.cell!r}: "
                              "drop --init")
        if self.arch == "recurrent" and "pixels" not in self.read and image_size % self.rows_per_step:
            raise RowrnnError(f"--rows-per-step {self.rows_per_step} does not divide the image side {image_size}: "
                              f"choose one of {', '.join(map(str, models.strip_heights(image_size)))}")
        parameters = models.parameter_count(self, num_classes=num_classes, image_size=image_size)
        if parameters > MAX_PARAMETERS:
            raise RowrnnError(f"the model would have {parameters:.3g} parameters, over the limit of "
                              f"{MAX_PARAMETERS:,}: choose a smaller --hidden-size or --num-layers")


@dataclass
class TrainConfig:
    """The training recipe: one field per `rowrnn train` flag of the train section (defaults: the course's Adam
    at 1e-3, 25 epochs of batches of 1024, 10 % held out for validation; rates per step, fractions from 0 to 1)."""

    epochs: int = _opt(25, "passes over the training split")
    batch_size: int = _opt(1024, "images per optimizer step (global, across processes)")
    lr: float = _opt(1e-3, "peak learning rate")
    optimizer: str = _opt("adam", "optimizer", OPTIMIZERS)
    weight_decay: float = _opt(0.0, "weight decay (decoupled for adamw)")
    schedule: str = _opt("constant", "learning-rate schedule over all steps", SCHEDULES)
    clip_grad_norm: float = _opt(0.0, "clip the gradient norm to this value (0 = off)")
    label_smoothing: float = _opt(0.0, "label smoothing of the cross-entropy loss")
    patience: int = _opt(0, "stop after this many epochs without a better validation metric (0 = off)")
    augment_shift: int = _opt(0, "random shifts of up to this many pixels (training split only)")
    augment_flip: bool = _opt(False, "random horizontal flips (training split only)")
    augment_erase: float = _opt(0.0, "probability of erasing a random rectangle of a training image")
    val_split: float = _opt(0.1, "fraction of the training set held out for validation")
    seed: int = _opt(0, "seed of the split, shuffles, initialization and dropout")
    device: str = _opt("auto", "where to train: auto picks cuda, then mps, then cpu", DEVICES)
    amp: bool = _opt(False, "mixed precision (bfloat16 autocast) on an accelerator")
    ema_decay: float = _opt(0.0, "keep an exponential moving average of the weights (this decay per step, e.g. "
                            "0.998) and validate and save it instead of the raw weights (0 = off). No warm-up: "
                            "the average starts at the first step's weights (timm's warm-up decay is not used), "
                            "which still weigh decay**(n-1) after n steps (0.998: 0.37 after 500 steps, 0.01 after "
                            "2300), so in a short run the average lags behind the raw weights")
    distill_from: str | None = _opt(None, "a finished run to distill from (Hinton et al. 2015): its best weights' "
                                    "softened predictions join the loss; its training minutes count in this run's. "
                                    "It must not have trained on this run's validation images: train it with the "
                                    "same --seed and --val-split")
    distill_temperature: float = _opt(4.0, "softmax temperature of teacher and student for --distill-from")
    distill_alpha: float = _opt(0.7, "weight of the distillation term for --distill-from (1 - alpha weighs the "
                                "cross-entropy with the labels)")

    def validate(self) -> None:
        """Raises RowrnnError (naming the flag) for a value of the wrong type, outside its choices or range."""
        _check_types(self)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("device", self.device, DEVICES)
        _check_seed("seed", self.seed)
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch-size", self.batch_size)
        _check_finite("lr", self.lr)
        if self.lr <= 0:
            raise RowrnnError(f"--lr must be positive, got {self.lr}")
        if not (0.0 < self.val_split < 1.0):
            raise RowrnnError(f"--val-split must be between 0 and 1 (exclusive), got {self.val_split}")
        for name in ("weight_decay", "clip_grad_norm"):
            value = getattr(self, name)
            _check_finite(name.replace("_", "-"), value)
            if value < 0:
                raise RowrnnError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
        if not (0.0 <= self.label_smoothing < 1.0):
            raise RowrnnError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.patience < 0:
            raise RowrnnError(f"--patience must be >= 0 (0 = off), got {self.patience}")
        if not (0 <= self.augment_shift <= 8):
            raise RowrnnError(f"--augment-shift must be between 0 and 8 pixels, got {self.augment_shift}")
        if not (0.0 <= self.augment_erase <= 1.0):
            raise RowrnnError(f"--augment-erase is a probability from 0 to 1, got {self.augment_erase}")
        _check_finite("ema-decay", self.ema_decay)
        if not (0.0 <= self.ema_decay < 1.0):
            raise RowrnnError(f"--ema-decay must be in [0, 1) (0 = off; e.g. 0.998), got {self.ema_decay}")
        _check_finite("distill-temperature", self.distill_temperature)
        if self.distill_temperature <= 0:
            raise RowrnnError(f"--distill-temperature must be positive, got {self.distill_temperature}")
        _check_finite("distill-alpha", self.distill_alpha)
        if not (0.0 <= self.distill_alpha <= 1.0):
            raise RowrnnError(f"--distill-alpha must be from 0 to 1, got {self.distill_alpha}")
        if self.distill_from == "":
            raise RowrnnError("--distill-from needs a run directory: give a finished run, or drop --distill-from")
        if self.distill_from is None:
            for f in fields(self):
                if f.name.startswith("distill_") and f.name != "distill_from" and getattr(self, f.name) != f.default:
                    flag = "--" + f.name.replace("_", "-")
                    raise RowrnnError(f"{flag} acts only with --distill-from RUN: give the teacher run, "
                                      f"or drop {flag}")


DATASET_NAMES = ("fashion-mnist", "mnist", "kmnist", "emnist-letters", "emnist-balanced")  # rowrnn.datasets.TABLE's
CONVERSIONS = ("plain", "photo")          # how an image folder's files become grey (rowrnn.datasets)
BACKGROUNDS = ("dark", "light")           # an image's background, below or from 128 (rowrnn.datasets.image_background)
FOLDER_SIDES = (4, 256)                   # the --image-size an image folder may be converted to, pixels


def is_path_like(dataset) -> bool:
    """Whether dataset is written as a path ("/", or the system's separator, in it): a mistyped folder, never a
    mistyped dataset name (no name of DATASET_NAMES holds one)."""
    return "/" in str(dataset) or os.sep in str(dataset)


def close_dataset_names(dataset: str) -> list[str]:
    """The DATASET_NAMES a mistyped dataset may have meant, best first ([] for none): the name itself in another
    case or with "_" or spaces for "-" ("MNIST", "fashion_mnist"); the same words in another order
    ("mnist-fashion"); the names of a family it is the start of ("emnist": emnist-letters, emnist-balanced);
    else difflib.get_close_matches' best (cutoff 0.6), compared in lower case. A path ("~/mnist", "data/MNIST":
    is_path_like) is a folder that is not there, not a name: [] for it."""
    import difflib
    import re
    if is_path_like(dataset):
        return []
    key = re.sub(r"[\s_]+", "-", str(dataset).strip().lower())
    if key in DATASET_NAMES:
        return [key]
    words = sorted(key.split("-"))
    for found in ([n for n in DATASET_NAMES if sorted(n.split("-")) == words],
                  [n for n in DATASET_NAMES if n.startswith(key + "-")]):
        if found:
            return found
    return difflib.get_close_matches(key, DATASET_NAMES, n=1)


def unknown_dataset(dataset: str, reason: str = "") -> str:
    """The one-line refusal of a --dataset that is neither a dataset name nor a readable folder, the dataset
    shown safe to print (files.display_name: controls and undecodable bytes escaped): the names, "did you mean
    X?" where close_dataset_names finds one (never for a path, is_path_like: its reason, "no such directory",
    says what is wrong), and that an image folder's path is accepted too. reason: why it is not a folder (e.g.
    "no such directory"), said in brackets."""
    from .files import display_name
    close = close_dataset_names(dataset)
    fix = "give one of those names, or the path of an image folder"
    fix = f"did you mean {' or '.join(close)}? Else {fix}" if close else fix
    because = f" ({reason})" if reason else ""
    return (f"--dataset {display_name(dataset)}: neither a dataset name ({', '.join(DATASET_NAMES)}) nor a readable "
            f"folder{because}: {fix}")


def check_dataset(dataset) -> None:
    """Raises RowrnnError (naming --dataset, unknown_dataset's words) for a dataset that is neither one of
    DATASET_NAMES nor a readable folder: checked by build_config, before anything is printed or written."""
    if dataset in DATASET_NAMES:
        return
    from pathlib import Path

    from .files import check_readable_dir
    folder = Path(os.path.expanduser(dataset))
    try:
        check_readable_dir(folder)
    except RowrnnError as e:
        reason = str(e).removeprefix(f"{folder}: ")
        raise RowrnnError(unknown_dataset(dataset, reason)) from None


@dataclass
class DataConfig:
    """Which dataset a run reads and where its files are: a named dataset (None data_dir: searched for, then
    downloaded) or an image folder, converted to grey images of image_size pixels a side. classes is not a flag:
    training records the dataset's class names there (rowrnn.datasets.dataset_of reads them back); nor is
    split_sha256, what an image folder's train and test splits held when training started (None for named
    datasets, whose files are checked by their own checksums, and left out of their config.json), nor background,
    an image folder's background as training found it in its training images (None for named datasets, whose
    background is known, and for folder runs recorded before it: left out of config.json)."""

    data_dir: str | None = _opt(None, "directory with the dataset's IDX files (default: search, then download)")
    verify: bool = _opt(True, "check the files against the dataset's published checksums (--no-verify for your own "
                        "IDX data)")
    dataset: str = _opt("fashion-mnist", "a named dataset (" + ", ".join(DATASET_NAMES) + ") or an image folder: "
                        "DIR/train/<class>/... and DIR/test/<class>/..., or DIR/<class>/...")
    image_size: int = _opt(28, "side of an image folder's images after conversion, in pixels (S: read as S rows of S)")
    test_split: float = _opt(0.2, "an image folder without train/ and test/: the fraction of each class held out "
                             "as the test split (a fixed split, the same for every --seed)")
    conversion: str = _opt("plain", "how an image folder's files become grey: plain (grey, resized to --image-size) "
                           "or photo (Fashion-MNIST's photo conversion, 28 only)", CONVERSIONS)
    classes: list | None = field(default=None, metadata={"help": "the class names, recorded by training",
                                                         "choices": None, "flag": False, "kind": "names"})
    split_sha256: dict | None = field(default=None, metadata={
        "help": "an image folder run's splits as training read them: {split: {images, sha256}}, recorded by "
                "training (datasets.split_digest); resume and evaluate compare the folder with it",
        "choices": None, "flag": False, "kind": "digests"})
    background: str | None = field(default=None, metadata={
        "help": "an image folder run's background, dark or light (BACKGROUNDS), decided from its training images and "
                "recorded by training (datasets.image_background); the page's drawing pad follows it",
        "choices": None, "flag": False})

    def validate(self) -> None:
        """Raises RowrnnError (naming the flag) for a dataset, image size, split or conversion out of range."""
        _check_types(self)
        if not self.dataset:
            raise RowrnnError("--dataset must be a dataset name (" + ", ".join(DATASET_NAMES) + ") or an image folder")
        _check_choice("conversion", self.conversion, CONVERSIONS)
        if self.background is not None and self.background not in BACKGROUNDS:
            raise RowrnnError(f"config.json's background must be \"dark\", \"light\" or null, got "
                              f"{self.background!r}: restore the run's own config.json")
        low, high = FOLDER_SIDES
        if not low <= self.image_size <= high:
            raise RowrnnError(f"--image-size must be from {low} to {high} pixels, got {self.image_size}")
        if self.dataset in DATASET_NAMES and self.image_size != 28:
            raise RowrnnError(f"--image-size {self.image_size}: {self.dataset} is 28x28; --image-size applies to "
                              "image folders: drop it")
        if self.dataset in DATASET_NAMES and self.conversion != DataConfig.conversion:
            raise RowrnnError(f"--conversion {self.conversion}: {self.dataset}'s files are its images already; "
                              "--conversion applies to image folders: drop it")
        if self.conversion == "photo" and self.image_size != 28:
            raise RowrnnError(f"--conversion photo makes Fashion-MNIST's 28x28 images: drop --image-size "
                              f"{self.image_size}, or use --conversion plain")
        _check_finite("test-split", self.test_split)
        if not 0.0 < self.test_split < 1.0:
            raise RowrnnError(f"--test-split must be between 0 and 1 (exclusive), got {self.test_split}")
        if self.dataset in DATASET_NAMES and self.test_split != DataConfig.test_split:
            raise RowrnnError(f"--test-split {self.test_split}: {self.dataset} has its own test split; --test-split "
                              "applies to a folder of class folders: drop it")


@dataclass
class RunConfig:
    """A whole run's configuration: the preset it started from and its model, train and data sections; saved
    as config.json in every run (to_dict / from_dict)."""

    preset: str = "notebook"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def validate(self) -> "RunConfig":
        """self, checked: every section, and the memory a training step needs (training_bytes: at most
        MAX_TRAINING_BYTES, 32 GiB). Raises RowrnnError naming the flag to change."""
        if isinstance(self.data.data_dir, os.PathLike):
            self.data.data_dir = os.fspath(self.data.data_dir)  # a Path must survive config.json
        if isinstance(self.data.dataset, os.PathLike):
            self.data.dataset = os.fspath(self.data.dataset)
        self.data.validate()
        self.model.validate(self.data.image_size, self.num_classes)
        self.train.validate()
        needed = self.training_bytes()
        if needed > MAX_TRAINING_BYTES:
            raise RowrnnError(f"a training step would need about {needed / 2**30:.3g} GiB, over the limit of "
                              f"{MAX_TRAINING_BYTES // 2**30} GiB: choose a smaller --batch-size, --hidden-size "
                              "or --num-layers" + (", or a smaller --distill-from teacher"
                                                   if self.train.distill_from is not None else ""))
        return self

    def training_bytes(self) -> int:
        """Bytes a training step needs, roughly (float32): the student's weights, gradients, Adam's two moments,
        best and last copies (and the moving average with --ema-decay), plus its saved activations at
        --batch-size; with --distill-from, the teacher too: its weights and its activations at the same batch
        size (models.parameter_count and activation_count of the model in its config.json; an upper bound, the
        teacher runs without gradients). A teacher whose config.json cannot be read counts nothing here:
        training refuses it before it starts (runs.teacher_record)."""
        copies = 6 + (self.train.ema_decay > 0)   # weights, gradients, Adam's two, best, last (and the average)
        size = self.data.image_size
        needed = (4 * models.parameter_count(self.model, num_classes=self.num_classes, image_size=size) * copies
                  + 4 * models.activation_count(self.model, self.train.batch_size, image_size=size))
        teacher = self._teacher_model()
        if teacher is not None:
            needed += 4 * (models.parameter_count(teacher) + models.activation_count(teacher, self.train.batch_size))
        return needed

    def _teacher_model(self) -> "ModelConfig | None":
        """The model section of the --distill-from run's config.json, checked; None without --distill-from or
        when it cannot be read."""
        if self.train.distill_from is None:
            return None
        from . import files
        path = os.path.join(os.path.expanduser(self.train.distill_from), "config.json")
        try:
            section = files.read_json(path).get("model")
            teacher = ModelConfig(**section)
            teacher.validate()
        except (RowrnnError, TypeError, AttributeError, ValueError):
            return None
        return teacher

    @property
    def num_classes(self) -> int:
        """The classes the run's model tells apart: the recorded class names' count; before training recorded them,
        that of the named datasets (emnist-letters 26, emnist-balanced 47, the others 10); a folder's is counted
        when it is read (this count, 10, only sizes the memory estimate until then)."""
        if self.data.classes:
            return len(self.data.classes)
        return {"emnist-letters": 26, "emnist-balanced": 47}.get(self.data.dataset, 10)

    def to_dict(self) -> dict:
        """Plain dicts and values, as config.json holds them (split_sha256 only where recorded: a named dataset's
        config.json stays as it was)."""
        d = dataclasses.asdict(self)
        if d["data"]["split_sha256"] is None:
            del d["data"]["split_sha256"]
        if d["data"]["background"] is None:      # a named dataset's config.json stays as it was
            del d["data"]["background"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Rebuild from config.json. Raises RowrnnError for anything but an object, a missing section, unknown
        fields or missing model fields (those of rowrnn 0.1.0 excepted, ADDED_MODEL_FIELDS)."""
        if not isinstance(d, dict):
            raise RowrnnError("config.json must hold a JSON object")
        parts = {}
        for name, sub in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
            section = d.get(name)
            if not isinstance(section, dict):
                raise RowrnnError(f"config.json lacks the {name!r} section: re-create the run with rowrnn train")
            known = {f.name for f in fields(sub)}
            unknown = sorted(set(section) - known)
            if unknown:
                raise RowrnnError(f"config.json has unknown {name} fields {unknown}: "
                                  "was it written by a newer rowrnn?")
            missing = sorted(known - set(section) - ADDED_MODEL_FIELDS)
            if missing and name == "model":
                raise RowrnnError(f"config.json lacks model fields {missing}: re-create the run with rowrnn train")
            parts[name] = sub(**section)
        return cls(preset=str(d.get("preset", "custom")), **parts)


# The recipe the strong presets share (one-cycle AdamW, label smoothing, shifts and flips), and its readers.
_RECIPE = {"batch_size": 128, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 0.05, "schedule": "onecycle",
           "clip_grad_norm": 1.0, "label_smoothing": 0.1, "augment_shift": 2, "augment_flip": True}
_BILSTM = {"cell": "lstm", "bidirectional": True, "readout": "mean+max", "read": "rows+columns"}
# Two minGRU-32 blocks over the 784 pixels (a loop on a CPU, scan="auto"): 129 s an epoch on 2 cores in the
# search (141 s in the leaderboard's run) against the GRU-64's 188, and validation 0.8637 after 11 epochs against
# the GRU-64's 0.7484 after 6 (benchmarks/README.md, issue 20); 12 epochs keep the whole run inside 30 minutes.
_PIXEL_MINGRU = {"cell": "mingru", "hidden_size": 32, "num_layers": 2, "readout": "mean+max"}
_PIXEL_RECIPE = {"batch_size": 256, "lr": 3e-3, "optimizer": "adamw", "schedule": "onecycle", "clip_grad_norm": 1.0,
                 "epochs": 12}

# name -> (one-line description, overrides of ModelConfig / TrainConfig). Chosen on validation only
# (benchmarks/recipe_search.py and its results); epochs sized to this project's 2-core CPU.
PRESETS: dict[str, tuple[str, dict, dict]] = {
    "notebook": ("the course notebook: RNN(28->8), last output, Linear(8->10), Adam 1e-3, 25 epochs", {}, {}),
    "stacked": ("the sequel notebook: three stacked RNN-8 layers", {"num_layers": 3}, {}),
    "tiny": ("the same 394 parameters, trained well: ReLU, max-over-time readout, orthogonal init, one-cycle "
             "AdamW, clipping, 150 epochs (about 5 minutes on a laptop CPU)",
             {"nonlinearity": "relu", "readout": "max", "init": "orthogonal"},
             {"epochs": 150, "batch_size": 128, "lr": 1e-2, "optimizer": "adamw", "schedule": "onecycle",
              "clip_grad_norm": 1.0}),
    "fast": ("recurrent-only in 5 minutes: bidirectional LSTM-64 reading rows and columns two lines a step, "
             "mean+max readout, the bilstm recipe at batch 256, 30 epochs",
             {**_BILSTM, "hidden_size": 64, "rows_per_step": 2},
             {**_RECIPE, "batch_size": 256, "lr": 3e-3, "epochs": 30}),
    "bilstm": ("recurrent-only, strongest: bidirectional LSTM-128 reading rows and columns, mean+max readout, "
               "one-cycle AdamW, label smoothing, shift/flip augmentation, 32 epochs (under 30 minutes on 2 cores)",
               {**_BILSTM, "hidden_size": 128}, {**_RECIPE, "epochs": 32}),
    "cnn": ("the CNN to compare with: four 3x3 conv layers (24, 24, 48, 48 channels), max-pooling, Linear; "
            "60K parameters; the bilstm recipe plus random erasing, 25 epochs",
            {"arch": "cnn", "hidden_size": 24, "num_layers": 2},
            {**_RECIPE, "clip_grad_norm": 0.0, "augment_erase": 0.5, "epochs": 25}),
    "pixels": ("sequential Fashion-MNIST: two pre-norm residual blocks of minGRU-32 with an MLP reading one pixel "
               "a step (784 steps), mean+max readout, 12 epochs (30 minutes on a 2-core CPU)",
               {**_PIXEL_MINGRU, "read": "pixels"}, dict(_PIXEL_RECIPE)),
    "permuted-pixels": ("the same minGRU-32 blocks reading the pixels in a fixed random order, 12 epochs",
                        {**_PIXEL_MINGRU, "read": "permuted-pixels"}, dict(_PIXEL_RECIPE)),
    "mingru": ("parallel-in-time: two pre-norm residual blocks of bidirectional minGRU-64 with an MLP, reading "
               "rows and columns two lines a step, mean+max readout, the fast recipe, 18 epochs (the shape of issue "
               "20's probe): test accuracy 0.9097 over 3 seeds in 5.4 minutes on a 2-core CPU (results/mingru/)",
               {**_BILSTM, "cell": "mingru", "hidden_size": 64, "num_layers": 2, "rows_per_step": 2},
               {**_RECIPE, "batch_size": 256, "lr": 3e-3, "epochs": 18}),
    # The standard sequential benchmarks (Le et al. 2015): MNIST read one pixel a step, 784 steps, and the same
    # with the pixels in one fixed random order (permutation_seed, recorded in config.json). The pixels presets'
    # model and recipe, unchanged: chosen on Fashion-MNIST's validation split, never on MNIST's test split.
    "smnist": ("sequential MNIST, the standard benchmark: MNIST's digits read one pixel a step (784 steps) by the "
               "pixels preset's minGRU-32 blocks and recipe, 12 epochs (results/sequential-mnist.md)",
               {**_PIXEL_MINGRU, "read": "pixels"}, dict(_PIXEL_RECIPE)),
    "psmnist": ("permuted sequential MNIST: the same, the 784 pixels in one fixed random order (--permutation-seed, "
                "recorded in config.json), 12 epochs",
                {**_PIXEL_MINGRU, "read": "permuted-pixels"}, dict(_PIXEL_RECIPE)),
}
# name -> overrides of DataConfig: the presets that name their dataset (the others read --dataset, Fashion-MNIST
# by default). A --dataset flag still wins over the preset's.
PRESET_DATA: dict[str, dict] = {"smnist": {"dataset": "mnist"}, "psmnist": {"dataset": "mnist"}}


def preset_dataset(preset: str) -> str:
    """The dataset a preset trains on unless --dataset says otherwise: PRESET_DATA's, else Fashion-MNIST."""
    return PRESET_DATA.get(preset, {}).get("dataset", DataConfig.dataset)


@python_api
def build_config(preset: str = "notebook", overrides: dict | None = None) -> RunConfig:
    """A preset's config (its dataset from PRESET_DATA, else Fashion-MNIST) with flat overrides ({'hidden_size': 16,
    'lr': 0.01, 'data_dir': ...}), validated.
    Raises RowrnnError for an unknown preset or field, a value RunConfig.validate refuses, or a dataset that is
    neither a dataset name nor a readable folder (check_dataset, with "did you mean mnist?")."""
    if preset not in PRESETS:
        raise RowrnnError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    _, model_over, train_over = PRESETS[preset]
    cfg = RunConfig(preset=preset, model=ModelConfig(**model_over), train=TrainConfig(**train_over),
                    data=DataConfig(**PRESET_DATA.get(preset, {})))
    sections = {"model": cfg.model, "train": cfg.train, "data": cfg.data}
    for key, value in (overrides or {}).items():
        owner = next((s for s in sections.values() if key in {f.name for f in fields(s)}), None)
        if owner is None:
            raise RowrnnError(f"unknown config field {key!r}")
        setattr(owner, key, value)
    cfg.validate()
    check_dataset(cfg.data.dataset)   # after the other options' checks: a dataset folder is read by path
    return cfg


def config_fields():
    """(section name, dataclass field) for every flag-worthy field, in flag order."""
    for section, cls in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
        for f in fields(cls):
            if f.metadata.get("flag", True):
                yield section, f


def short_name(cfg: RunConfig) -> str:
    """A few words for run-directory names, e.g. 'notebook' or 'gru128x2'."""
    m = cfg.model
    if m.arch == "cnn":
        return f"cnn{m.hidden_size}"
    return f"{m.cell}{m.hidden_size}x{m.num_layers}{'bi' if m.bidirectional else ''}-{m.read.replace('+', '')}"


def _check_choice(name, value, choices):
    if value not in choices:
        raise RowrnnError(f"unknown {name} {value!r}: choose one of {', '.join(map(str, choices))}")


def _check_types(section) -> None:
    """Each field holds the type of its default (an int is a fine float; None is a fine optional str)."""
    for f in fields(section):
        value = getattr(section, f.name)
        if f.metadata.get("kind") == "names":
            if value is not None and not (isinstance(value, (list, tuple)) and value
                                          and all(isinstance(v, str) for v in value)):
                raise RowrnnError(f"config.json's {f.name} must be a list of names or null, got {value!r}: "
                                  "restore the run's own config.json")
            continue
        if f.metadata.get("kind") == "digests":
            if value is not None and not _is_digests(value):
                raise RowrnnError(f"config.json's {f.name} must be {{split: {{\"images\": N, \"sha256\": hex}}}} "
                                  f"or null, got {value!r}: restore the run's own config.json")
            continue
        kind = type(f.default)
        ok = {bool: lambda v: isinstance(v, bool),
              int: lambda v: isinstance(v, int) and not isinstance(v, bool),
              float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              str: lambda v: isinstance(v, str)}.get(kind, lambda v: v is None or isinstance(v, str))(value)
        if not ok:
            expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
                kind, "a string or null")
            raise RowrnnError(f"--{f.name.replace('_', '-')} must be {expected}, got {value!r}")


def _is_digests(value) -> bool:
    """Whether value is a split_sha256 record: {"train"/"test": {"images": int >= 0, "sha256": 64 hex digits}}."""
    def one(d):
        return (isinstance(d, dict) and set(d) == {"images", "sha256"} and type(d["images"]) is int
                and d["images"] >= 0 and isinstance(d["sha256"], str) and len(d["sha256"]) == 64
                and all(c in "0123456789abcdef" for c in d["sha256"]))
    return isinstance(value, dict) and set(value) <= {"train", "test"} and all(map(one, value.values()))


def _check_positive_int(flag, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RowrnnError(f"--{flag} must be a positive integer, got {value!r}")


def _check_finite(flag, value):
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowrnnError(f"--{flag} must be a finite number, got {value!r}")


def _check_seed(flag, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise RowrnnError(f"--{flag} must be an integer from 0 to {2**31 - 1}, got {value!r}")
