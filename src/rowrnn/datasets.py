"""Which images a run reads: the named datasets as a data table, image folders, and the one function that says
what a run's dataset is (dataset_of: class names, image size, channels, normalization).

    info = dataset_of(run_dir)                      # or a RunConfig, a config.json dict, a dataset name
    train, test = load_dataset(cfg.data)            # ImageDatasets, uint8 (N, S, S), labels 0..C-1
    write_image_folder(images, labels, classes, "digits")   # DIR/train/<class>/00000.png, DIR/test/...

Named datasets follow torchvision's datasets/mnist.py (one record per dataset: files, mirrors, checksums,
classes); image folders follow torchvision's ImageFolder (DIR/train/<class>/..., DIR/test/<class>/...,
classes sorted by name). Fashion-MNIST itself is still read by rowrnn.data, unchanged.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import math
import numbers
import os
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import data, files, images
from .config import BACKGROUNDS, unknown_dataset
from .constants import CLASSES, IMAGE_SIZE, MEAN, STD, language_of, language_refusal
from .errors import RowrnnError

DEFAULT = "fashion-mnist"
CONVERSIONS = ("plain", "photo")
MAX_FOLDER_IMAGES = 200_000     # an image folder is read whole into memory: at 28x28, 157 MB of uint8
MAX_FOLDER_SIDE = 256           # the largest --image-size: 256x256 x 200k images would be 13 GB, so the
MAX_FOLDER_BYTES = 2 * 2**30    # images held (N x side x side bytes) are also capped at 2 GiB
PROGRESS_AFTER = 2_000          # a folder of more files than this shows a progress bar (with progress=True)
DEFAULT_TEST_SPLIT = 0.2        # config.DataConfig.test_split's default: any other value asks for a seeded split
SPLIT_SEED = 0                  # the one-folder layout's train/test split: fixed, so every --seed tests alike
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")   # any case
SYSTEM_FILES = ("Thumbs.db", "desktop.ini", "Icon\r")   # written by Windows and macOS into image folders: not counted


@dataclass(frozen=True)
class NamedDataset:
    """One row of the table: a dataset distributed as IDX files (torchvision's mnist.py, one class per dataset).

    files: split -> (images file, labels file, number of images), the names without ".gz".
    md5: file name with ".gz" -> the MD5 of the compressed file as torchvision publishes it (mnist.py's
    `resources`); sha256: file name -> SHA-256 of the decompressed bytes, where one is published (only
    Fashion-MNIST's, data.SHA256). archive: (zip file name, its MD5) when the files come in one zip (EMNIST).
    label_offset: subtracted from every label (EMNIST letters' labels are 1-26; see LETTERS_NOTE).
    transposed: the files store each image transposed (EMNIST): it is transposed back on reading.
    folder: the folder torchvision's own layout uses (ROOT/<folder>/raw).
    classes_es: the classes' names in Spanish, in label order, where the dataset has them (Fashion-MNIST's,
    the same as web/i18n.js's CLASS_NAMES.es); () keeps the names as given in both languages (class_names_in).
    """
    name: str
    title: str
    classes: tuple
    files: dict
    mirrors: tuple
    md5: dict = dataclasses.field(default_factory=dict)
    sha256: dict = dataclasses.field(default_factory=dict)
    archive: tuple | None = None
    label_offset: int = 0
    transposed: bool = False
    folder: str = ""
    classes_es: tuple = ()

    @property
    def mirror_variable(self) -> str:
        """The environment variable naming another mirror for this dataset, e.g. ROWRNN_MNIST_URL."""
        return "ROWRNN_DATA_URL" if self.name == DEFAULT else f"ROWRNN_{self.name.upper().replace('-', '_')}_URL"


def _mnist_files(prefix: str = "", counts=(60_000, 10_000), train="train", test="t10k") -> dict:
    return {"train": (f"{prefix}{train}-images-idx3-ubyte", f"{prefix}{train}-labels-idx1-ubyte", counts[0]),
            "test": (f"{prefix}{test}-images-idx3-ubyte", f"{prefix}{test}-labels-idx1-ubyte", counts[1])}


_DIGITS = tuple("0123456789")
_UPPER = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# EMNIST balanced merges the 15 letters whose capital and small forms look alike (c i j k l m o p s u v w x y z)
# into their capitals, keeping 11 small letters apart: 47 classes, in the order of emnist-balanced-mapping.txt
# (torchvision's classes_split_dict["balanced"], sorted(all - merged)).
_BALANCED = _DIGITS + _UPPER + tuple("abdefghnqrt")
# EMNIST's published archive (torchvision mnist.py EMNIST.url and md5): one zip whose gzip/ folder holds the
# emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte.gz files of all six splits (562 MB).
_EMNIST_ZIP = ("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e")
_EMNIST_MIRRORS = ("https://biometrics.nist.gov/cs_links/EMNIST/", "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/")
# LETTERS_NOTE: EMNIST letters' labels run 1-26 (a-z), and torchvision keeps them, naming class 0 "N/A": a head of
# 27 outputs, one class that never occurs (the trap of "number of classes = max label + 1", and a macro accuracy
# with an empty class). rowrnn subtracts 1 on reading: 26 classes "a".."z", labels 0-25; a label 0 is refused.

# Checksums: no SHA-256 of the decompressed MNIST, KMNIST or EMNIST files is published that this project could find
# (tensorflow_datasets publishes SHA-256 of the archives, not recorded here); torchvision's datasets/mnist.py publishes
# the MD5 of each official .gz (and of EMNIST's gzip.zip), recorded below as published. So a .gz (or the zip) is
# checked against its MD5; an uncompressed file has only its header, shape and image count checked.
TABLE: dict[str, NamedDataset] = {d.name: d for d in (
    NamedDataset("fashion-mnist", "Fashion-MNIST", CLASSES, _mnist_files(), (data.OFFICIAL_URL,),
                 sha256=dict(data.SHA256), folder="FashionMNIST",
                 classes_es=("Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo", "Sandalia", "Camisa",
                             "Zapatilla", "Bolso", "Botín")),
    NamedDataset("mnist", "MNIST", _DIGITS, _mnist_files(),
                 ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
                 md5={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                      "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                      "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                      "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}, folder="MNIST"),
    # Kuzushiji-MNIST (Clanuwat et al. 2018): ten cursive hiragana, named by their romanization as the authors do
    NamedDataset("kmnist", "Kuzushiji-MNIST", ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
                 _mnist_files(), ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
                 md5={"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
                      "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
                      "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
                      "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"}, folder="KMNIST"),
    # counts: Cohen et al., "EMNIST: an extension of MNIST to handwritten letters" (2017), table II
    NamedDataset("emnist-letters", "EMNIST letters", tuple("abcdefghijklmnopqrstuvwxyz"),
                 _mnist_files("emnist-letters-", (124_800, 20_800), "train", "test"), _EMNIST_MIRRORS,
                 archive=_EMNIST_ZIP, label_offset=1, transposed=True, folder="EMNIST"),
    NamedDataset("emnist-balanced", "EMNIST balanced", _BALANCED,
                 _mnist_files("emnist-balanced-", (112_800, 18_800), "train", "test"), _EMNIST_MIRRORS,
                 archive=_EMNIST_ZIP, transposed=True, folder="EMNIST"),
)}
NAMES = tuple(TABLE)


def class_names_in(classes, language: str = "en") -> tuple:
    """classes (names in label order: a DatasetInfo's or a model's) as a figure or the page shows them in
    language, "en" (default) or "es" (any case): in Spanish, a named dataset's classes_es where classes are
    exactly its names (Fashion-MNIST's: "Ankle boot" -> "Botín", as web/i18n.js's classNamesIn does); every
    other dataset's and image folder's names as given, in both languages. Raises RowrnnError naming language
    for another value."""
    if language_of(language) is None:
        raise RowrnnError(language_refusal(language))
    classes = tuple(classes)
    if language_of(language) == "es":
        for entry in TABLE.values():
            if entry.classes_es and entry.classes == classes:
                return entry.classes_es
    return classes


EMNIST_SPLITS = ("letters", "balanced")   # the EMNIST splits rowrnn knows by name (torchvision knows six)


@dataclass(frozen=True)
class DatasetInfo:
    """What a run's dataset is, as every reader of a run needs it.

    name: a name of TABLE, or the folder's path. classes: names in label order (label i is classes[i]).
    image_size: the side S of the square images (S x S pixels, read as S rows of S). channels: 1 (grey).
    mean, std: the normalization x in [0, 1] -> (x - mean) / std (the course notebook's 0.5, 0.5 for all).
    conversion: how a folder's files became images ("plain" or "photo", CONVERSIONS; "plain" for named datasets,
    whose files are images already).
    background: "dark" or "light" (BACKGROUNDS), what the images' background is: "dark" for every named dataset
    (MNIST's family is light on black); a folder's, decided from its training images when a run is trained
    (image_background) and recorded in config.json; None for a folder run recorded before backgrounds were.
    """
    name: str
    classes: tuple
    image_size: int = IMAGE_SIZE
    channels: int = 1
    mean: float = MEAN
    std: float = STD
    conversion: str = "plain"
    background: str | None = None

    @property
    def num_classes(self) -> int:
        """len(classes): the model's outputs."""
        return len(self.classes)

    @property
    def is_folder(self) -> bool:
        """Whether the dataset is an image folder rather than a named dataset."""
        return self.name not in TABLE


def is_named(dataset: str) -> bool:
    """Whether `dataset` is one of the named datasets (else it is read as an image folder's path)."""
    return dataset in TABLE


def dataset_of(source) -> DatasetInfo:
    """The dataset facts of a run: THE function every reader of class names and image size goes through.

    source: a RunConfig, its DataConfig, a Run (anything with .config), a run directory (its config.json),
    a config.json dict, or a dataset name / folder path (str). Facts recorded in the config (the class names
    a run trained with, its image size) win; otherwise a named dataset's come from TABLE, and a folder's class
    names from its folder names (without reading an image). A config without a dataset (runs of rowrnn before
    datasets) is Fashion-MNIST. Raises RowrnnError for a run directory without a readable config.json, or a
    folder whose classes cannot be listed.
    """
    section = _data_section(source)
    dataset = section.get("dataset") or DEFAULT
    size = section.get("image_size") or IMAGE_SIZE
    recorded = section.get("classes")
    mean, std = section.get("mean", MEAN), section.get("std", STD)
    if recorded:
        classes = tuple(recorded)
    elif dataset in TABLE:
        classes = TABLE[dataset].classes
    else:
        classes = tuple(folder_classes(Path(dataset).expanduser()))
    # a named dataset's background is known (dark); a folder's is what training recorded, None for a run recorded
    # before it was (the page then draws as it always did: dark ink on white)
    background = "dark" if dataset in TABLE else section.get("background")
    background = background if background in BACKGROUNDS else None
    return DatasetInfo(dataset, classes, int(size), 1, float(mean), float(std),
                       str(section.get("conversion") or "plain"), background)



def short_name(info: DatasetInfo) -> str:
    """A dataset's name as a page shows it: a named dataset's name, an image folder's last part."""
    return Path(info.name).name if info.is_folder else info.name


def one_page(runs, fix: str) -> DatasetInfo:
    """The dataset a page of several runs shows: runs [(run name, DatasetInfo)] must read the same classes (names,
    in order) at the same image size (two datasets that agree so may share: MNIST and a folder of digits named 0-9
    at 28), and turn a person's picture into an image the same way (picture_options) on the same drawing pad
    (drawing_ground), since the page converts and draws once for every run (MNIST's photo conversion on a light
    pad and a dark folder's plain one on a dark pad may not share). Returns the first run's DatasetInfo. Raises
    RowrnnError naming each group of runs and what it reads (and, where conversions differ, how it converts),
    ending with `fix` (what to do instead: serve, or build a site of, each group on its own)."""
    groups: dict[tuple, tuple[list[str], set]] = {}
    for name, info in runs:
        picture = tuple(sorted(picture_options(info).items()))
        key = (tuple(info.classes), info.image_size, picture, drawing_ground(info))
        names, datasets = groups.setdefault(key, ([], set()))
        names.append(name)
        datasets.add(short_name(info))
    if len(groups) > 1:
        # a group's conversion is named only where classes and size alone do not tell two groups apart
        sizes = len({key[:2] for key in groups})
        pictures_differ = sizes < len(groups)

        def words(key, datasets) -> str:
            classes, side, picture, pad = key
            shown = ", ".join(classes[:4]) + (", ..." if len(classes) > 4 else "")
            said = f"{' and '.join(sorted(datasets))}: {len(classes)} classes {shown} at {side}x{side}"
            return f"{said}, {conversion_words(dict(picture))}, {pad} pad" if pictures_differ else said
        described = "; ".join(f"{', '.join(names)} ({words(key, datasets)})"
                              for key, (names, datasets) in groups.items())
        what = ("read different classes or image sizes" if not pictures_differ
                else "turn a person's picture into an image differently" if sizes == 1
                else "read different classes, image sizes or picture conversions")
        raise RowrnnError(f"these runs {what}, which one page cannot show side by side: {described}: {fix}")
    return runs[0][1]


def conversion_words(picture: dict) -> str:
    """picture_options' dict in words, as one_page names a group's conversion."""
    if picture["conversion"] == "plain":
        return "plain conversion"
    return "photo conversion, trimmed" if picture["fit"] == "trim" else "photo conversion, not trimmed"


def _data_section(source) -> dict:
    """The data section of source as a dict (see dataset_of)."""
    if isinstance(source, str) and not files.exists(Path(source).expanduser() / "config.json"):
        return {"dataset": source}                                  # a dataset name or an image folder
    if isinstance(source, (str, os.PathLike)):
        d = files.read_json(Path(source) / "config.json")
        return dict(d.get("data") or {}) if isinstance(d, dict) else {}
    if isinstance(source, dict):
        return dict(source.get("data", source) or {})
    config = getattr(source, "config", source)
    section = getattr(config, "data", config)
    return dataclasses.asdict(section) if dataclasses.is_dataclass(section) else {}


# ---------------------------------------------------------------------------------------- named datasets

def _places(entry: NamedDataset, data_dir) -> list[tuple[str, Path]]:
    """Where a named dataset is looked for, in order: data_dir alone if given; else $ROWRNN_DATA/<name>, the
    cache's <name> folder and /usr/share/datasets/<name> (Debian's layout, as for Fashion-MNIST)."""
    if data_dir is not None:
        return [("--data-dir", Path(data_dir).expanduser())]
    places = []
    if os.environ.get("ROWRNN_DATA"):
        places.append(("$ROWRNN_DATA", Path(os.environ["ROWRNN_DATA"]).expanduser() / entry.name))
    places.append(("cache", data.cache_dir() / entry.name))
    places.append(("system", Path("/usr/share/datasets") / entry.name))
    return places


def _locate(directory: Path, base: str, entry: NamedDataset) -> tuple[Path, str] | None:
    """(file, member) of one IDX file in directory: base(.gz) there or in its torchvision layout
    (<folder>/raw), or, for a zipped dataset, the member gzip/<base>.gz of the archive there (member "")."""
    for folder in (directory, directory / entry.folder / "raw"):
        for candidate in (folder / f"{base}.gz", folder / base):
            if files.exists(candidate):
                return candidate, ""
    if entry.archive is not None:
        for folder in (directory, directory / entry.folder / "raw"):
            if files.exists(folder / entry.archive[0]):
                return folder / entry.archive[0], f"gzip/{base}.gz"
    return None


def _idx_bytes(path: Path, member: str, entry: NamedDataset, verify: bool) -> bytes:
    """The decompressed IDX bytes of one file (or zip member), its published checksum checked (verify)."""
    shown = f"{path}:{member}" if member else str(path)
    if member:
        raw = _zip_member(path, member, entry, verify)
    else:
        raw = files.read_file(path, limit=data.MAX_READ_BYTES, what=f"{entry.title} IDX file")
        if verify and path.name in entry.md5 and hashlib.md5(raw).hexdigest() != entry.md5[path.name]:
            raise RowrnnError(f"{path}: MD5 {hashlib.md5(raw).hexdigest()} is not {entry.title}'s published "
                              f"{entry.md5[path.name]}: delete it to download it again, or pass --no-verify")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = data._gunzip(raw)
        except (OSError, EOFError) as e:
            raise RowrnnError(f"{shown}: damaged or truncated gzip data ({e}): delete it and download it again") \
                from None
        except Exception as e:  # zlib.error
            raise RowrnnError(f"{shown}: damaged gzip data ({e}): delete it and download it again") from None
    base = Path(member or path.name).name.removesuffix(".gz")
    if verify and base in entry.sha256 and hashlib.sha256(raw).hexdigest() != entry.sha256[base]:
        raise RowrnnError(f"{shown}: checksum mismatch, the file is corrupt or not {entry.title}: "
                          "delete it to download it again, or pass --no-verify")
    return raw


_ZIP_CHECKED: dict = {}   # (path, size, mtime) -> True: a 562 MB archive's MD5 is taken once per process


def _zip_member(path: Path, member: str, entry: NamedDataset, verify: bool) -> bytes:
    """One member of a dataset's zip archive, at most data.MAX_READ_BYTES compressed and decompressed."""
    try:
        stat = path.stat()
        if verify and (str(path), stat.st_size, stat.st_mtime_ns) not in _ZIP_CHECKED:
            digest = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(2**20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != entry.archive[1]:
                raise RowrnnError(f"{path}: MD5 {digest.hexdigest()} is not {entry.title}'s published "
                                  f"{entry.archive[1]} for {entry.archive[0]}: delete it to download it again, "
                                  "or pass --no-verify")
            _ZIP_CHECKED[(str(path), stat.st_size, stat.st_mtime_ns)] = True
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(member)
            if info.file_size > data.MAX_READ_BYTES:
                raise RowrnnError(f"{path}: {member} is {info.file_size:,} bytes, over the limit of "
                                  f"{data.MAX_READ_BYTES // 2**20} MB: it is not {entry.title}'s archive")
            with z.open(info) as f:
                return f.read(data.MAX_READ_BYTES + 1)[:data.MAX_READ_BYTES + 1]
    except KeyError:
        raise RowrnnError(f"{path}: the archive has no {member}: use {entry.title}'s own {entry.archive[0]}, "
                          "or extract its files beside it") from None
    except (OSError, zipfile.BadZipFile) as e:
        raise RowrnnError(f"{path}: cannot read the archive ({files.describe(e) if isinstance(e, OSError) else e}): "
                          "delete it and download it again") from None


def read_named_split(directory: Path, name: str, split: str, *, verify: bool = True):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of one split of a named dataset in one directory.

    Every header field is checked (rowrnn.data's IDX reader), the .gz files against their published MD5
    and, with verify, the count of images against the dataset's. EMNIST's images are transposed back
    (the files store them transposed; torchvision returns them as stored, pytorch/vision#8783) and
    EMNIST letters' labels 1-26 become 0-25. Raises RowrnnError naming the file and the fix.
    """
    entry = TABLE[name]
    image_base, label_base, count = entry.files[split]
    arrays = []
    for base in (image_base, label_base):
        found = _locate(directory, base, entry)
        if found is None:
            raise RowrnnError(f"{directory}: no {base}.gz (or uncompressed {base}"
                              + (f", or {entry.archive[0]}" if entry.archive else "")
                              + f"): put {entry.title}'s files there")
        path, member = found
        arrays.append(data._parse_idx(_idx_bytes(path, member, entry, verify), path))
    images_, labels = arrays
    where = f"{directory} ({entry.title} {split})"
    if images_.ndim != 3 or images_.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise RowrnnError(f"{where}: images are {tuple(images_.shape[1:])}, expected 28x28: use the original files")
    if labels.ndim != 1 or len(labels) != len(images_) or len(images_) == 0:
        raise RowrnnError(f"{where}: {len(images_)} images but labels of shape {tuple(labels.shape)}: "
                          "use matching image and label files")
    labels = labels.long() - entry.label_offset
    if int(labels.min()) < 0 or int(labels.max()) >= len(entry.classes):
        low, high = entry.label_offset, entry.label_offset + len(entry.classes) - 1
        raise RowrnnError(f"{where}: label {int(labels.min() + entry.label_offset)}..."
                          f"{int(labels.max() + entry.label_offset)} is outside {low}-{high}: use the original labels file")
    if verify and len(images_) != count:
        raise RowrnnError(f"{where}: {len(images_)} images, {entry.title} has {count}: use the full files, "
                          "or --no-verify")
    if entry.transposed:
        images_ = images_.transpose(1, 2).contiguous()          # (N, 28, 28): rows become rows again
    return images_, labels


def download_named(name: str, directory: Path, base_url: str | None = None) -> Path:
    """Fetch a named dataset's files with pooch into directory: from base_url, the dataset's mirror variable
    (TABLE[name].mirror_variable, e.g. ROWRNN_MNIST_URL) or its mirrors in turn; each file is checked against its
    published MD5 and deleted when it fails. EMNIST's one zip is downloaded whole (562 MB). Returns directory.
    Raises RowrnnError (one line) when the folder cannot be made or no mirror gives a verified file."""
    if name == DEFAULT:
        return data.download(directory, base_url)
    entry = TABLE[name]
    pooch = data._pooch()
    mirrors = [base_url or os.environ.get(entry.mirror_variable)] if (base_url or os.environ.get(
        entry.mirror_variable)) else list(entry.mirrors)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RowrnnError(f"{directory}: cannot create the download directory ({files.describe(e)}): "
                          "set XDG_CACHE_HOME to a writable place, or ROWRNN_DATA/--data-dir") from None
    wanted = ([(entry.archive[0], entry.archive[1])] if entry.archive else list(entry.md5.items()))
    logger, level = pooch.get_logger(), pooch.get_logger().level
    logger.setLevel(logging.WARNING)
    try:
        for fname, md5 in wanted:
            if files.exists(directory / fname):
                continue
            problems = []
            for mirror in mirrors:
                try:
                    pooch.retrieve(mirror.rstrip("/") + "/" + fname, known_hash=f"md5:{md5}", fname=fname,
                                   path=directory, progressbar=False)
                    break
                except Exception as e:  # requests/urllib errors and pooch's hash mismatch alike
                    problems.append(f"{mirror}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            else:
                raise RowrnnError(f"download of {entry.title}'s {fname} failed ({'; '.join(problems)}): "
                                  f"set {entry.mirror_variable} to a mirror, or put the files in --data-dir")
    finally:
        logger.setLevel(level)
    return directory


def load_named(name: str, data_dir=None, *, verify: bool = True, download_ok: bool = True,
               splits=("train", "test")):
    """(source directory, then (images, labels) per split) of a named dataset: data_dir alone if given, else the
    places _places lists, then a download into the cache. Fashion-MNIST goes through rowrnn.data.find_data
    unchanged. Raises RowrnnError naming every place tried and the fix."""
    if name == DEFAULT:
        return data.find_data(data_dir, verify=verify, download_ok=download_ok, splits=splits)
    entry = TABLE[name]
    problems = []
    for label, directory in _places(entry, data_dir):
        try:
            files.check_readable_dir(directory)
            return (directory, *(read_named_split(directory, name, s, verify=verify) for s in splits))
        except RowrnnError as e:
            if data_dir is not None:
                raise RowrnnError(f"--data-dir {directory}: {str(e).removeprefix(str(directory) + ': ')}") from None
            problems.append(f"{label}: {e}")
    if download_ok:
        try:
            directory = download_named(name, data.cache_dir() / name)
            return (directory, *(read_named_split(directory, name, s, verify=verify) for s in splits))
        except RowrnnError as e:
            problems.append(f"download: {e}")
    raise RowrnnError(f"{entry.title} not found; tried " + "; ".join(problems) +
                      f". Fix: --data-dir (or $ROWRNN_DATA/{name}) with its files, {entry.mirror_variable} "
                      "for a mirror, or connect to the internet")


# ------------------------------------------------------------------------------------------ image folders

@dataclass
class FolderReport:
    """What reading an image folder skipped, to be said in the output (one line: str(report))."""
    damaged: list = dataclasses.field(default_factory=list)        # (path, reason)
    other_files: int = 0                                           # files without an image extension
    duplicates: int = 0                                            # test images also in train (same bytes)
    outside: list = dataclasses.field(default_factory=list)        # entries beside the class folders, not read
    linked_again: int = 0                                          # linked folders already read (a loop, say)
    walked: int = 0                                                # image files listed so far (the walk's cap)

    def __str__(self) -> str:
        parts = []
        if self.damaged:
            first = self.damaged[0]
            parts.append(f"skipped {len(self.damaged)} unreadable image(s) (first: {first[1]})")
        if self.other_files:
            parts.append(f"ignored {self.other_files} file(s) without an image extension ({', '.join(EXTENSIONS)})")
        if self.duplicates:
            parts.append(f"dropped {self.duplicates} test image(s) whose file is also in the training split")
        if self.outside:
            parts.append(f"ignored {len(self.outside)} file(s) or folder(s) outside the class folders "
                         f"(first: {images.display_name(self.outside[0])})")
        if self.linked_again:
            parts.append(f"skipped {self.linked_again} linked folder(s) already read (a link loop, or a second "
                         "link to one folder)")
        return "; ".join(parts)


def _sorted_entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as e:
        raise RowrnnError(f"{images.display_name(folder)}: cannot list the folder ({files.describe(e)})") from None


# A run's recorded folder is read again by evaluate, predict, export, serve, site and a resume, which have no
# --dataset flag: their refusals name the folder as the run's and say what their user can do instead.
RECORDED_FIX = ("restore the folder as the run was trained on it, or pass --data-dir with where that folder is now; "
                "for the folder as it is, train a new run on it")


@dataclass(frozen=True)
class _Naming:
    """How a refusal about an image folder names it: as training's --dataset (recorded False), or as a run's
    recorded folder (recorded True: read by a command without --dataset, so the fix is RECORDED_FIX)."""
    recorded: bool = False

    def refuse(self, folder, problem: str, fix: str | None = None) -> RowrnnError:
        """The one-line RowrnnError "<folder named>: <problem>: <fix>". fix is what training's --dataset user can
        do, needed there (TypeError without it: a refusal must say what to do); a recorded folder's fix is
        always RECORDED_FIX, and fix is not used."""
        if self.recorded:
            return RowrnnError(f"the run's image folder {images.display_name(folder)}: {problem}: {RECORDED_FIX}")
        if fix is None:
            raise TypeError("_Naming.refuse: a refusal of training's --dataset needs its fix")
        return RowrnnError(f"--dataset {images.display_name(folder)}: {problem}: {fix}")


def folder_classes(folder: Path, *, recorded: bool = False) -> list[str]:
    """The class names of an image folder: its subfolders' names in Unicode NFC form (macOS writes names
    decomposed, NFD; the same folder copied to Linux or Windows is NFC: both give the same classes), sorted as
    torchvision's ImageFolder sorts them (plain sorted(): by code point, so "B" before "a"), hidden ones
    (".name") left out. For the DIR/train, DIR/test layout, those of DIR/train. Raises RowrnnError for a
    path that is not a readable folder, a folder with train/ but no test/ (or test/ alone), no classes, or two
    class folders whose names differ only in Unicode form. recorded: the folder is a run's (its messages
    name it so, with RECORDED_FIX), not training's --dataset."""
    naming = _Naming(recorded)
    root = folder / "train" if _has_splits(folder, naming) else folder
    names = list(_class_dirs(root, naming))
    if not names:
        raise naming.refuse(folder, "no class folders in it", "lay it out as DIR/<class>/<image files>, or "
                            "DIR/train/<class>/... and DIR/test/<class>/...")
    return names


def _class_dirs(root: Path, naming: _Naming = _Naming()) -> dict[str, str]:
    """NFC class name -> the folder's name on disk, for root's visible subfolders (links followed), sorted by
    the NFC names. Raises RowrnnError for two folders whose names are one name in two Unicode forms."""
    found: dict[str, str] = {}
    for entry in _sorted_entries(root):
        if entry.name.startswith(".") or not files.is_dir(entry.path):
            continue
        name = unicodedata.normalize("NFC", entry.name)
        if name in found:
            raise naming.refuse(root, f"the folders {ascii(found[name])} and {ascii(entry.name)} are one class "
                                "name written in two Unicode forms (composed and decomposed, as different "
                                "systems write accents)", "merge them")
        found[name] = entry.name
    return dict(sorted(found.items()))


def _has_splits(folder: Path, naming: _Naming = _Naming()) -> bool:
    """Whether folder uses the DIR/train, DIR/test layout (else DIR/<class>). Raises RowrnnError for a path that
    is not a readable folder, and for train/ without test/ or test/ without train/ (neither layout)."""
    shown = images.display_name(folder)
    try:
        files.check_readable_dir(folder)
    except RowrnnError as e:
        reason = str(e).removeprefix(f"{folder}: ")
        if naming.recorded:
            raise naming.refuse(folder, f"not a readable folder here ({reason})") from None
        raise RowrnnError(unknown_dataset(shown, reason)) from None
    train, test = files.is_dir(folder / "train"), files.is_dir(folder / "test")
    if train != test:
        have, lack = ("train", "test") if train else ("test", "train")
        raise naming.refuse(folder, f"has {have}/ but no {lack}/", f"add {shown}/{lack}/<class>/... with the "
                            f"same class folders, or put the class folders directly in {shown} for a seeded split "
                            "(--test-split)")
    return train


def _class_files(root: Path, classes: list[str], report: FolderReport, folder: Path,
                 naming: _Naming = _Naming()) -> dict[str, list[Path]]:
    """class -> its image files (recursively, sorted walk, links followed, each real folder read once per
    class), extensions compared in any case. Files and folders beside the class folders go to report.outside.
    Raises RowrnnError (naming the folder as naming does) once more than MAX_FOLDER_IMAGES image files are
    listed, before any is read (a link to a huge tree is not walked to its end)."""
    dirs = _class_dirs(root, naming)
    report.outside.extend(str(root / e.name) for e in _sorted_entries(root) if not e.name.startswith(".")
                          and unicodedata.normalize("NFC", e.name) not in dirs)
    found = {}
    for name in classes:
        paths, seen = [], set()
        for dirpath, dirnames, filenames in os.walk(root / dirs[name], followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:       # a link back to a folder of this class: read it once, never loop
                report.linked_again += 1
                dirnames[:] = []
                continue
            seen.add(real)
            # hidden folders (.ipynb_checkpoints, .git, .thumbnails) are passed over like hidden files: copies
            # and caches, not the class's images
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if f.startswith("."):    # .DS_Store, macOS's ._name resource forks, editors' files
                    continue
                if os.path.splitext(f)[1].lower() in EXTENSIONS:
                    paths.append(Path(dirpath) / f)
                    report.walked += 1
                    if report.walked > MAX_FOLDER_IMAGES:
                        raise naming.refuse(folder, f"more than {MAX_FOLDER_IMAGES:,} image files, over the "
                                            "limit held in memory", "use a smaller folder")
                elif f not in SYSTEM_FILES:
                    report.other_files += 1
        found[name] = paths
    return found


def convert_folder_image(data_bytes: bytes, source: str, image_size: int = IMAGE_SIZE,
                         conversion: str = "plain") -> torch.Tensor:
    """The bytes of one image file -> uint8 (image_size, image_size), grey.

    Decoding goes through rowrnn.images.open_image (its format allow-list and memory budget, EXIF orientation,
    first frame). conversion="plain" (the default, what a torchvision user's Grayscale() + Resize((S, S)) gives):
    transparency composited (images.composite), grey by ITU-R 601 luma (the weights of Pillow's convert("L")),
    resized to S x S with Pillow's bilinear filter (antialiased when shrinking) only when its size differs;
    an S x S grey image passes unchanged, bit for bit. conversion="photo": Fashion-MNIST's photo conversion
    (images.convert: trim, resize, sharpen, extend, negate a light background), at S = 28 only.
    Raises RowrnnError (one line naming source) for a file the allow-list or budget refuses, or damaged data.
    """
    from PIL import Image
    im = images.open_image(data_bytes, source)
    colour, alpha = images.to_arrays(im)
    if conversion == "photo":
        return images.convert(colour, alpha, fit="trim")
    grey = images._grey(images.composite(colour, alpha))[:, :, 0]          # (H, W) float 0-255
    if grey.shape != (image_size, image_size):
        grey = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(
            (image_size, image_size), Image.Resampling.BILINEAR))
    return images.to_uint8(grey)


def image_background(images_) -> str:
    """"dark" or "light": the background of a dataset's images, decided from its TRAINING images (never the test
    split's): the median of every image's border pixels (first and last row and column), dark below 128.

    images_: uint8 (N, S, S), N >= 1, S >= 2 (tensor or array). Raises RowrnnError for anything else.
    """
    array = np.asarray(images_)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1] != array.shape[2] or array.shape[1] < 2 \
            or len(array) == 0:
        raise RowrnnError(f"images must be uint8 of shape (N, S, S) with N >= 1 and S >= 2, got {array.dtype} "
                          f"{array.shape}")
    # (N, S, S) -> (N, 4S - 4): the two full rows, then the columns without the corners counted already
    border = np.concatenate([array[:, 0, :], array[:, -1, :], array[:, 1:-1, 0], array[:, 1:-1, -1]], axis=1)
    counts = np.cumsum(np.bincount(border.ravel(), minlength=256))
    n = int(counts[-1])
    # the median exactly, by counting (n of up to 200,000 x 1,020 values): the mean of the two middle values
    low, high = np.searchsorted(counts, (n - 1) // 2 + 1), np.searchsorted(counts, n // 2 + 1)
    return "dark" if (int(low) + int(high)) / 2 < 128 else "light"


def drawing_ground(info: DatasetInfo) -> str:
    """"dark" or "light": the ground of the page's drawing pad for a run of this dataset, so that a drawing reaches
    the network as the dataset's own images look. "dark" (light ink on black) for a folder converted "plain"
    whose background is dark (sklearn's digits, MNIST-like folders): the plain conversion keeps the drawing's
    polarity. "light" (dark ink on white) otherwise: the photo conversions (Fashion-MNIST, MNIST's family, folders
    converted "photo") turn a light background dark themselves, a light-background plain folder is drawn as it
    looks, and a folder run recorded without a background keeps the page as it was. (Uploads are never inverted:
    a plain folder's own images were made from files as a person's upload is.)"""
    return "dark" if photo_fit(info) is None and info.background == "dark" else "light"


def photo_fit(info: DatasetInfo) -> str | None:
    """The `fit` a person's own picture (a photo, a drawing) gets by default for a run of this dataset, so that
    it looks like the dataset's own images: "trim" (rowrnn.images' Fashion-MNIST conversion, background trimmed
    away) for Fashion-MNIST and folders converted "photo"; "none" (the same conversion without trimming: grey,
    fitted whole into 28x28, light on black) for the other named datasets (MNIST, KMNIST, EMNIST: light on black
    but not made by trimming a photo); None for a folder converted "plain", whose pictures are converted as its
    files were (convert_folder_image: grey, resized to its side), where no fit applies."""
    if info.is_folder and info.conversion != "photo":
        return None
    return "trim" if info.name == DEFAULT or info.conversion == "photo" else "none"


def picture_options(info: DatasetInfo) -> dict:
    """How a person's picture (an upload, a photo, a drawing) becomes an image for a run of this dataset, as the
    page is told it (/api/runs' and the static site's manifest's "picture", web/convert.js's convertImage
    options): {"conversion": "photo", "fit": "trim" or "none", "size": 28} (rowrnn.images' conversion with the
    dataset's own fit, photo_fit) or {"conversion": "plain", "size": S} for a folder converted plain at S x S
    (convert_folder_image). The page picks its hints, brush and preview from it, not from S."""
    fit = photo_fit(info)
    if fit is None:
        return {"conversion": "plain", "size": info.image_size}
    return {"conversion": "photo", "fit": fit, "size": info.image_size}


def prepare_picture(data: bytes, source: str, info: DatasetInfo, *, fit: str | None = None,
                    flag: str = "fit") -> "images.PreparedImage":
    """A person's picture (the bytes of an image file) -> images.PreparedImage(image uint8 (S, S), original RGB)
    converted for a run of this dataset (info: dataset_of(run)), S = info.image_size: fit None is the dataset's
    own (photo_fit); "trim" or "none" ask for rowrnn.images' conversion (28x28), which a folder converted "plain"
    does not use. flag: how the caller names `fit` in messages ("--fit" for the CLI). Raises RowrnnError (one
    line) for a fit not in images.FITS, a fit given for a "plain" folder (naming flag), and every refusal of
    rowrnn.images (naming source)."""
    own = photo_fit(info)
    if fit is not None and fit not in images.FITS:
        raise RowrnnError(f"{flag} must be one of {', '.join(images.FITS)}, got {fit!r}")
    if own is None:
        if fit is not None:
            raise RowrnnError(f"{flag} {fit}: this run's images ({images.display_name(info.name)}) were converted "
                              f"plain (grey, resized to {info.image_size}x{info.image_size}), and so are pictures "
                              f"for it: drop {flag}")
        prepared = images.prepare_image(data, source, fit="none")          # decoded, checked, and the original
        return dataclasses.replace(prepared, image=convert_folder_image(data, source, info.image_size, "plain"))
    return images.prepare_image(data, source, fit=fit or own)


def check_folder_options(image_size: int, conversion: str) -> None:
    """Raises RowrnnError (naming the flag) for an --image-size or --conversion an image folder cannot use."""
    if conversion not in CONVERSIONS:
        raise RowrnnError(f"unknown conversion {conversion!r}: choose one of {', '.join(CONVERSIONS)}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 4 <= image_size <= MAX_FOLDER_SIDE:
        raise RowrnnError(f"--image-size must be an integer from 4 to {MAX_FOLDER_SIDE} pixels, got {image_size!r}")
    if conversion == "photo" and image_size != IMAGE_SIZE:
        raise RowrnnError(f"--conversion photo is Fashion-MNIST's conversion and makes 28x28 images: "
                          f"drop --image-size {image_size}, or use --conversion plain")


def read_image_folder(folder, *, image_size: int = IMAGE_SIZE, conversion: str = "plain", test_split: float = 0.2,
                      classes=None, progress: bool = False):
    """An image folder -> (train ImageDataset, test ImageDataset, FolderReport), read once into memory.

    Layouts (torchvision's ImageFolder): DIR/train/<class>/... and DIR/test/<class>/...; or DIR/<class>/...,
    of which a fraction test_split of each class's images (at least one, when it has two or more) is held out
    as the test split, chosen by a generator seeded with SPLIT_SEED (0) whatever the run's --seed, so every run
    of a folder is tested on the same images. Class names: the folder names, sorted (folder_classes); classes,
    when given (a run's recorded ones), must be those. Files: any of EXTENSIONS in any case, walked in sorted
    order, each converted by convert_folder_image. Answers, each said in the report or refused in one line:
    a file that is not an image or fails to decode is skipped and counted; a file without an image extension is
    ignored and counted; a class with no readable training image (none there, or every one skipped) is refused
    (naming it); a test class unknown to training is refused; a test file whose bytes are also a training file
    (SHA-256) is dropped and counted; hidden files and folders (".name": .DS_Store, macOS's ._name,
    .ipynb_checkpoints) and Thumbs.db, desktop.ini are passed over; files and folders beside the class folders
    are ignored and counted; links are followed, a linked folder already read (a loop) is skipped and counted;
    class names are matched in Unicode NFC (folder_classes); train/ without test/ (or test/ alone) is refused,
    and so is a test_split other than DEFAULT_TEST_SPLIT with train/ and test/ (it would be ignored:
    check_test_split); test_split must be a number in (0, 1). Limits: MAX_FOLDER_IMAGES images and
    MAX_FOLDER_BYTES held. Raises RowrnnError for all of these and a missing folder, naming the folder as
    training's --dataset, or, when classes are given (a run's folder read again by evaluate, predict, export,
    serve, site or a resume, which have no --dataset), as "the run's image folder" with RECORDED_FIX.
    """
    check_folder_options(image_size, conversion)
    if (isinstance(test_split, bool) or not isinstance(test_split, numbers.Real) or not math.isfinite(test_split)
            or not 0.0 < test_split < 1.0):
        raise RowrnnError(f"test_split must be a number between 0 and 1 (exclusive), got {test_split!r}")
    folder = Path(folder).expanduser()
    shown = images.display_name(folder)
    naming = _Naming(recorded=classes is not None)
    found_classes = folder_classes(folder, recorded=naming.recorded)
    if classes is not None and [unicodedata.normalize("NFC", c) for c in classes] != found_classes:
        raise naming.refuse(folder, f"its classes are now {found_classes}, the run trained with {list(classes)}",
                            "")
    report = FolderReport()
    if _has_splits(folder, naming):
        if test_split != DEFAULT_TEST_SPLIT:
            check_test_split(folder, test_split)
        test_names = list(_class_dirs(folder / "test", naming))
        unknown = sorted(set(test_names) - set(found_classes))
        if unknown:
            raise naming.refuse(folder, f"test classes {unknown} are not among the training classes "
                                f"({', '.join(found_classes)})", f"add them to {shown}/train or remove them from test")
        report.outside.extend(str(folder / e.name) for e in _sorted_entries(folder)
                              if not e.name.startswith(".") and e.name not in ("train", "test"))
        split_files = {"train": _class_files(folder / "train", found_classes, report, folder, naming),
                       "test": _class_files(folder / "test", [c for c in found_classes if c in test_names], report,
                                            folder, naming)}
    else:
        split_files = _held_out(_class_files(folder, found_classes, report, folder, naming), test_split)
    empty = [c for c in found_classes if not split_files["train"].get(c)]
    if empty:
        raise naming.refuse(folder, f"class folder(s) {empty} hold no image file ({', '.join(EXTENSIONS)}, any case)",
                            "add images or remove the folder")
    total = sum(len(v) for s in split_files.values() for v in s.values())
    if total > MAX_FOLDER_IMAGES or total * image_size ** 2 > MAX_FOLDER_BYTES:
        raise naming.refuse(folder, f"{total:,} image files at {image_size}x{image_size}, over the limit of "
                            f"{MAX_FOLDER_IMAGES:,} images and {MAX_FOLDER_BYTES // 2**30} GiB held in memory",
                            "use a smaller folder or --image-size")
    bar = None
    if progress and total > PROGRESS_AFTER:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="image", desc=f"reading {folder.name}", leave=False)
    seen_train: set = set()
    out = {}
    try:
        for split in ("train", "test"):
            xs, ys = [], []
            for label, name in enumerate(found_classes):
                for path in split_files[split].get(name, []):
                    if bar is not None:
                        bar.update()
                    try:
                        raw = images.read_image_file(path)
                    except RowrnnError as e:
                        report.damaged.append((path, str(e)))
                        continue
                    digest = hashlib.sha256(raw).digest()
                    if split == "train":
                        seen_train.add(digest)
                    elif digest in seen_train:
                        report.duplicates += 1
                        continue
                    try:
                        xs.append(convert_folder_image(raw, images.display_name(path), image_size, conversion))
                    except RowrnnError as e:
                        report.damaged.append((path, str(e)))
                        continue
                    ys.append(label)
            out[split] = (torch.stack(xs) if xs else torch.zeros(0, image_size, image_size, dtype=torch.uint8),
                          torch.tensor(ys, dtype=torch.int64))
    finally:
        if bar is not None:
            bar.close()
    # a class whose every training file was skipped is as empty as an empty folder: the model would have an
    # output no image ever taught
    unread = [c for label, c in enumerate(found_classes) if not bool((out["train"][1] == label).any())]
    if unread:
        raise naming.refuse(folder, f"class folder(s) {unread} hold no readable training image ({report})",
                            "add images or remove the folder")
    for split, (x, _) in out.items():
        if len(x) == 0:
            raise naming.refuse(folder, f"no readable image in the {split} split"
                                + (f" ({report})" if str(report) else ""), "add images")
    named = tuple(found_classes)
    return (data.ImageDataset(*out["train"], classes=named), data.ImageDataset(*out["test"], classes=named), report)


def _held_out(per_class: dict, test_split: float) -> dict:
    """{"train": {class: files}, "test": {class: files}}: each class's files permuted by SPLIT_SEED, the first
    round(test_split x n) (at least 1 when n >= 2) held out as test, both kept in sorted order. test_split is
    checked by read_image_folder."""
    out = {"train": {}, "test": {}}
    for k, (name, paths) in enumerate(per_class.items()):
        n = len(paths)
        n_test = 0 if n < 2 else min(n - 1, max(1, round(test_split * n)))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED * 1_000_003 + k)).tolist()
        test = set(order[:n_test])
        out["test"][name] = [p for i, p in enumerate(paths) if i in test]
        out["train"][name] = [p for i, p in enumerate(paths) if i not in test]
    return out


def write_image_folder(images_, labels, classes, directory, *, split: str | None = None) -> Path:
    """Write images as an image folder: directory[/split]/<class>/<index:05d>.png, one grey PNG per image.

    images_: uint8 (N, S, S) (tensor or array); labels: (N,) integers indexing classes; classes: a list (or
    tuple) of distinct class names (str), usable as folder names (no "/", "\\" or NUL, not starting with "."),
    distinct also in Unicode NFC (as read_image_folder reads them); split: "train", "test" or None (the
    one-folder layout). Every class gets its folder, even one with no image. Returns the folder written.
    Raises RowrnnError (one line, before anything is written) for any other images, labels, classes or split,
    and for a directory that cannot be created.
    """
    from PIL import Image
    array = np.asarray(images_)
    raw_labels = np.asarray(labels)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise RowrnnError(f"images must be uint8 of shape (N, S, S), got {array.dtype} {array.shape}")
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (list, tuple)) or not all(
            isinstance(c, str) for c in classes):
        raise RowrnnError(f"classes must be a list of class names (str), got {classes!r}")
    if raw_labels.size and not (np.issubdtype(raw_labels.dtype, np.integer) or raw_labels.dtype == bool):
        raise RowrnnError(f"labels must be {len(array)} ints from 0 to {len(classes) - 1}, got {raw_labels.dtype} "
                          "values")
    labels = raw_labels.astype(np.int64)
    if labels.shape != (len(array),) or (len(labels) and (labels.min() < 0 or labels.max() >= len(classes))):
        raise RowrnnError(f"labels must be {len(array)} ints from 0 to {len(classes) - 1}")
    bad = [c for c in classes if not c or "/" in c or "\\" in c or "\0" in c or c in (".", "..") or c.startswith(".")]
    if bad:
        raise RowrnnError(f"class names {bad} cannot be folder names: rename them")
    nfc = [unicodedata.normalize("NFC", c) for c in classes]
    twice = sorted({c for c in nfc if nfc.count(c) > 1})
    if twice:
        raise RowrnnError(f"classes {twice} appear twice (one folder each): give each class its own name")
    if split not in (None, "train", "test"):
        raise RowrnnError(f"split must be 'train', 'test' or None (one folder of class folders), got {split!r}")
    root = Path(directory) / split if split else Path(directory)
    try:
        for name in classes:
            (root / name).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RowrnnError(f"directory {images.display_name(directory)}: cannot create the folder "
                          f"{images.display_name(root / name)} ({files.describe(e)}): give a folder that can be "
                          "created") from None
    for i, (image, label) in enumerate(zip(array, labels)):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        files.atomic_write(root / classes[label] / f"{i:05d}.png", buffer.getvalue())
    return root


# ------------------------------------------------------------------------------------------ a run's data

def section_here(section, data_dir=None) -> dict:
    """A run's data section (a RunConfig, DataConfig, Run, run directory or dict: see dataset_of) as a dict to
    read its data here: where the run's folder is now. data_dir (a --data-dir) None: the section as recorded;
    else, for an image folder, "dataset" becomes data_dir (the folder moved there), and for a named dataset
    "data_dir" becomes it (its files are there). The one place that says where a run's data are, for a resume
    (lifecycle), the test split (evaluation.load_test_set) and an exported model (OnnxClassifier.data_section):
    the record (config.json) is never changed, and the split digests it holds (split_sha256) still refuse a
    moved folder whose images changed. Raises RowrnnError only where dataset_of does (a folder's classes
    unlisted: never for a run's section, which records them)."""
    s = _data_section(section)
    if data_dir is not None:
        s["dataset" if dataset_of(s).is_folder else "data_dir"] = os.fspath(data_dir)
    return s


def load_dataset(section, *, splits=("train", "test"), recorded_by=None, progress: bool = False):
    """(DatasetInfo, then one ImageDataset per split) of a config's data section (DataConfig or dict).

    Named datasets: load_named (Fashion-MNIST: rowrnn.data.find_data, unchanged); recorded_by is passed on to
    Fashion-MNIST's search. Folders: read_image_folder with the section's image_size, conversion and
    test_split (its report, when not empty, is each dataset's .report attribute); a folder's info.name is its
    absolute path, its info.conversion the section's, its info.background the section's where recorded, else
    image_background of its training images. Every ImageDataset carries the dataset's class names. Raises RowrnnError."""
    s = _data_section(section) if not isinstance(section, dict) else dict(section)
    name = s.get("dataset") or DEFAULT
    if name in TABLE:
        if s.get("image_size", IMAGE_SIZE) != IMAGE_SIZE:
            raise RowrnnError(f"--image-size {s.get('image_size')}: {TABLE[name].title} is 28x28; --image-size "
                              "applies to image folders: drop it")
        if name == DEFAULT:
            found = data.find_data(s.get("data_dir"), verify=s.get("verify", True), splits=splits,
                                   recorded_by=recorded_by)
        else:
            found = load_named(name, s.get("data_dir"), verify=s.get("verify", True), splits=splits)
        info = dataset_of(s)
        sets = [data.ImageDataset(x, y, classes=info.classes) for x, y in found[1:]]
        for d in sets:
            d.report = ""
        return (info, *sets)
    train, test, report = read_image_folder(name, image_size=s.get("image_size", IMAGE_SIZE),
                                            conversion=s.get("conversion", "plain"),
                                            test_split=s.get("test_split", 0.2), classes=s.get("classes"),
                                            progress=progress)
    # the folder's absolute path: recorded by training, so the run is evaluated the same from any directory;
    # its background as a run recorded it, else as training decides it (from the training images)
    background = s.get("background") if s.get("background") in BACKGROUNDS else image_background(train.images)
    info = DatasetInfo(os.path.abspath(Path(name).expanduser()), tuple(train.classes),
                       s.get("image_size", IMAGE_SIZE), conversion=s.get("conversion") or "plain",
                       background=background)
    chosen = {"train": train, "test": test}
    for d in chosen.values():
        d.report = str(report)
    return (info, *(chosen[split] for split in splits))


def split_digest(dataset) -> dict:
    """What one split of a folder run read, as its config.json records it (DataConfig.split_sha256):
    {"images": N, "sha256": hex}, the SHA-256 of the images' shape (N, S, S), their uint8 bytes in order and
    the int64 labels, after conversion: two reads give the same digest exactly when they give the same images
    with the same labels in the same order (the validation split, drawn from the order by --seed, included)."""
    x = dataset.images.to(torch.uint8).contiguous()
    y = dataset.labels.to(torch.int64).contiguous()
    h = hashlib.sha256(repr(tuple(x.shape)).encode())
    h.update(x.numpy().tobytes())
    h.update(y.numpy().tobytes())
    return {"images": int(len(x)), "sha256": h.hexdigest()}


def changed_split(recorded, dataset, split: str) -> str:
    """"" when dataset (the split as read now) is the one recorded (DataConfig.split_sha256, None for named
    datasets and runs from before digests: nothing to compare), else "(N images now, M then)"."""
    then = (recorded or {}).get(split)
    if not then:
        return ""
    now = split_digest(dataset)
    return "" if now["sha256"] == then["sha256"] else f"({now['images']} images now, {then['images']} then)"


def check_test_split(dataset, test_split) -> None:
    """Raises RowrnnError (naming --test-split) when dataset is a named dataset, or an image folder with train/ and
    test/: each has its own test split, so a --test-split would be silently ignored."""
    if dataset in TABLE:
        raise RowrnnError(f"--test-split {test_split}: {dataset} has its own test split; --test-split applies to a "
                          "folder of class folders: drop it")
    if not isinstance(dataset, (str, os.PathLike)):
        return
    folder = Path(dataset).expanduser()
    if files.is_dir(folder) and files.is_dir(folder / "train") and files.is_dir(folder / "test"):
        raise RowrnnError(f"--test-split {test_split}: {images.display_name(folder)} has train/ and test/, and its "
                          "test/ is the test split: drop --test-split (it splits a folder of class folders)")
