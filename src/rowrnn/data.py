"""Fashion-MNIST: IDX files -> validated in-memory tensors -> batches.

Images stay uint8 in memory, held once; batches are sliced from the whole
tensor by shuffled index and normalized on the fly, exactly as torchvision's
ToTensor() + Normalize(0.5, 0.5) would (x / 255 - 0.5) / 0.5.

    train, test = load_fashion_mnist()              # searches, then downloads
    loader = DataLoader(train, batch_size=1024)     # notebook style, or:
    for x, y in Batches(train.images, train.labels, 1024, shuffle=True): ...
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import files
from .constants import CLASSES, IMAGE_SIZE, MEAN, STD
from .errors import RowrnnError, python_api

SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000)}
# SHA-256 of the DECOMPRESSED files: Debian's dataset-fashion-mnist recompresses
# the official .gz files, so only the decompressed bytes are the same everywhere.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)  # Debian/Ubuntu: dataset-fashion-mnist
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801
MAX_FILE_BYTES = 200 * 2**20  # no Fashion-MNIST file decompresses to more than 48 MB
MAX_READ_BYTES = 200 * 2**20  # nor is larger than that on disk: anything bigger is refused before reading


def _pooch():
    """pooch, imported without the warning its tqdm.auto import prints in a Jupyter kernel lacking ipywidgets
    (rowrnn never asks pooch for a progress bar)."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import pooch
    return pooch


def cache_dir() -> Path:
    """Where downloads go: $XDG_CACHE_HOME/rowrnn (usually ~/.cache/rowrnn)."""
    return Path(_pooch().os_cache("rowrnn"))


def read_idx(path: Path, *, verify: bool = True) -> torch.Tensor:
    """One IDX file (gzipped or raw) -> uint8 tensor, every header field checked.

    Written here rather than borrowed (torchvision's reader) on purpose: torchvision is a multi-GB
    dependency for 40 lines, and its reader neither bounds decompression (a gzip bomb), nor checks
    the decompressed bytes against Fashion-MNIST's checksums, nor names the fix when a file is wrong.
    Raises RowrnnError (naming path and the fix) for a file that cannot be read, is not IDX, is truncated or
    too large, or (verify=True) does not match its checksum.
    """
    name = path.name
    try:
        raw = files.read_file(path, limit=MAX_READ_BYTES, what="Fashion-MNIST IDX file")
    except RowrnnError as e:
        if "permission denied" in str(e):
            raise RowrnnError(f"{path}: permission denied: make the file readable (chmod a+r) "
                              "or point --data-dir elsewhere") from None
        raise
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise RowrnnError(f"{path}: damaged or truncated gzip data ({e}): "
                              "delete it and download it again") from None
    elif name.endswith(".gz"):
        raise RowrnnError(f"{path}: not a gzip file although named .gz: "
                          "delete it and download it again")
    base = name.removesuffix(".gz")
    if verify and base in SHA256 and hashlib.sha256(raw).hexdigest() != SHA256[base]:
        raise RowrnnError(f"{path}: checksum mismatch, the file is corrupt or not Fashion-MNIST: "
                          "delete it to download it again, or pass --no-verify to use your own IDX data")
    return _parse_idx(raw, path)


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, MAX_FILE_BYTES)
    if d.unconsumed_tail:
        raise OSError(f"decompresses to more than {MAX_FILE_BYTES // 2**20} MB")
    if not d.eof:
        raise EOFError("compressed file ended before the end-of-stream marker")
    return out


def _parse_idx(raw: bytes, path: Path) -> torch.Tensor:
    if len(raw) < 8:
        raise RowrnnError(f"{path}: too short to be an IDX file ({len(raw)} bytes): replace it with the original file")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic not in (IDX_IMAGES, IDX_LABELS):
        raise RowrnnError(f"{path}: not an IDX file of unsigned bytes (magic number 0x{magic:08x}, "
                          f"expected 0x{IDX_IMAGES:08x} for images or 0x{IDX_LABELS:08x} for labels): "
                          "replace it with the original file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RowrnnError(f"{path}: truncated IDX header: download it again")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = math.prod(shape)  # exact: numpy's int64 product wraps (2**21 x 2**21 x 2**22 "is" 0 bytes)
    if size > MAX_FILE_BYTES:
        raise RowrnnError(f"{path}: IDX header promises shape {shape} ({size:,} bytes), over the limit of "
                          f"{MAX_FILE_BYTES // 2**20} MB for a Fashion-MNIST-format file: it is damaged or not "
                          "such a file; replace it with the original file")
    expected = header + size
    if len(raw) != expected:
        raise RowrnnError(f"{path}: IDX header promises {expected} bytes for shape {shape}, "
                          f"file has {len(raw)}: it is truncated or damaged; download it again")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


def _find_file(directory: Path, base: str) -> Path:
    for candidate in (directory / f"{base}.gz", directory / base):
        if files.exists(candidate):
            return candidate
    raise RowrnnError(f"{directory}: no {base}.gz (or uncompressed {base}): put the four Fashion-MNIST files there")


def read_split(directory: Path, split: str, *, verify: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of one split ("train" or "test") in one directory.
    Raises RowrnnError for a missing or damaged file, images that are not 28x28, or counts that disagree."""
    image_base, label_base, count = SPLITS[split]
    images = read_idx(_find_file(directory, image_base), verify=verify)
    labels = read_idx(_find_file(directory, label_base), verify=verify)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise RowrnnError(f"{directory}/{image_base}: images are {tuple(images.shape[1:])}, "
                          f"expected {IMAGE_SIZE}x{IMAGE_SIZE}: rowrnn reads Fashion-MNIST-format images")
    if labels.ndim != 1:
        raise RowrnnError(f"{directory}/{label_base}: labels must be 1-dimensional, got shape {tuple(labels.shape)}: "
                          "use the matching labels file")
    if len(images) != len(labels):
        raise RowrnnError(f"{directory}: {len(images)} {split} images but {len(labels)} labels: "
                          "the files do not belong together: use matching image and label files")
    if len(images) == 0:
        raise RowrnnError(f"{directory}: the {split} files hold no images: use the full files")
    if int(labels.max()) >= len(CLASSES):
        raise RowrnnError(f"{directory}/{label_base}: label {int(labels.max())} is out of range "
                          f"(Fashion-MNIST has {len(CLASSES)} classes, 0-9): use the original labels file")
    if verify and len(images) != count:
        raise RowrnnError(f"{directory}: {len(images)} {split} images, Fashion-MNIST has {count}: "
                          "use the full files, or --no-verify for other IDX data")
    return images, labels.long()


def _read_dir(directory: Path, verify: bool, splits=("train", "test")):
    files.check_readable_dir(directory)
    torchvision_layout = directory / "FashionMNIST" / "raw"
    if files.is_dir(torchvision_layout) and not any(files.exists(directory / f"{base}{ext}")
                                                    for base in SHA256 for ext in (".gz", "")):
        directory = files.check_readable_dir(torchvision_layout)
    return tuple(read_split(directory, split, verify=verify) for split in splits)


def download(directory: Path, base_url: str | None = None) -> Path:
    """Fetch the four .gz files with pooch into directory (from base_url, $ROWRNN_DATA_URL or the official
    mirror); a file failing verification is deleted. Returns directory. Raises RowrnnError (one line, with the
    fix) when directory cannot be created, pooch is missing, or a download fails or does not verify."""
    pooch = _pooch()
    base_url = base_url or os.environ.get("ROWRNN_DATA_URL") or OFFICIAL_URL
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RowrnnError(f"{directory}: cannot create the download directory ({files.describe(e)}): "
                          "set XDG_CACHE_HOME to a writable place, or ROWRNN_DATA/--data-dir") from None
    logger, level = pooch.get_logger(), pooch.get_logger().level
    logger.setLevel(logging.WARNING)  # pooch's INFO lines ("Downloading data from ...") are ours to print
    try:
        _download_files(directory, base_url)
    finally:
        logger.setLevel(level)
    return directory


def _download_files(directory: Path, base_url: str) -> None:
    pooch = _pooch()
    for base in SHA256:
        target = directory / f"{base}.gz"
        if files.exists(target):
            continue
        try:
            # Mirrors (Debian's included) recompress the archives, so the .gz hash is
            # not fixed: the decompressed SHA-256 is checked right below instead.
            pooch.retrieve(base_url.rstrip("/") + f"/{base}.gz", known_hash=None,
                           fname=target.name, path=directory, progressbar=False)
        except Exception as e:  # requests/urllib errors differ by version: report them all alike
            raise RowrnnError(f"download of {base}.gz from {base_url} failed ({type(e).__name__}: {e})") from None
        try:
            read_idx(target, verify=True)
        except RowrnnError as e:
            with contextlib.suppress(OSError):
                target.unlink()
            raise RowrnnError(f"downloaded {base}.gz failed verification and was deleted ({e})") from None


@python_api
def find_data(data_dir: str | os.PathLike | None = None, *, verify: bool = True, download_ok: bool = True,
              splits=("train", "test"), recorded_by=None):
    """Locate and load the splits; returns (source directory, train tensors, test tensors) by default.

    An explicit data_dir is the only place looked at. Otherwise: $ROWRNN_DATA, the
    cache directory, the Debian package's directory, then a download into the cache.
    recorded_by names the run whose config.json recorded data_dir (the caller did not choose it):
    when that folder is missing here, the message says so and names the flag to pass.
    Raises RowrnnError (one line, naming the folder and the fix) when no copy is found, readable and valid.
    """
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        try:
            files.check_readable_dir(directory)
        except RowrnnError as e:
            reason = str(e).split(": ", 1)[1]
            if recorded_by is not None:
                raise RowrnnError(recorded_data_missing(recorded_by, directory, reason)) from None
            raise RowrnnError(f"--data-dir {directory}: {reason}: point it at the folder with the four Fashion-MNIST "
                              "files, or leave it out to search the usual places") from None
        return (directory, *_read_dir(directory, verify, splits))
    places = []
    if os.environ.get("ROWRNN_DATA"):
        places.append(("$ROWRNN_DATA", Path(os.environ["ROWRNN_DATA"]).expanduser()))
    places.append(("cache", cache_dir()))
    places += [("system", d) for d in SYSTEM_DIRS]
    problems = []
    for label, directory in places:
        try:
            return (directory, *_read_dir(directory, verify, splits))
        except RowrnnError as e:
            problems.append(f"{label}: {e}")
    if download_ok:
        try:
            directory = download(cache_dir())
            return (directory, *_read_dir(directory, verify, splits))
        except RowrnnError as e:
            problems.append(f"download: {e}")
    raise RowrnnError("Fashion-MNIST not found; tried " + "; ".join(problems) +
                      ". Fix: `apt-get install dataset-fashion-mnist`, set ROWRNN_DATA or --data-dir "
                      "to a directory with the four IDX files, or connect to the internet")


class ImageDataset(Dataset):
    """uint8 images held in memory, served as the notebook's normalized (1, 28, 28) tensors.

    Works with a plain DataLoader; rowrnn's trainer spots it and slices batches from `images`
    directly instead. With a torchvision-style `transform`, each item is instead
    transform(PIL image), as torchvision's datasets do (and the trainer takes the DataLoader path).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes=CLASSES, transform=None,
                 target_transform=None):
        self.images, self.labels, self.classes = images, labels, list(classes)
        self.transform, self.target_transform = transform, target_transform

    # torchvision-style aliases, so code written for torchvision's FashionMNIST runs
    @property
    def data(self) -> torch.Tensor:
        """The uint8 images (N, 28, 28), under torchvision's name."""
        return self.images

    @property
    def targets(self) -> torch.Tensor:
        """The int64 labels (N,), under torchvision's name."""
        return self.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        target = int(self.labels[i])
        if self.target_transform is not None:
            target = self.target_transform(target)
        if self.transform is None:
            return normalize(self.images[i]).unsqueeze(0), target
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i].numpy())), target


def recorded_data_missing(run_dir, directory, reason: str) -> str:
    """The message for a run (copied from elsewhere, say) whose recorded data folder is not usable here."""
    return (f"{run_dir} was trained on the data in {directory}, as its config.json records, which is not usable "
            f"here ({reason}): pass --data-dir with the folder that holds the four Fashion-MNIST files here")


@python_api
def load_fashion_mnist(data_dir=None, *, verify: bool = True, download_ok: bool = True, recorded_by=None):
    """(train, test) ImageDatasets from the first source that verifies (recorded_by: see find_data)."""
    _, (xtr, ytr), (xte, yte) = find_data(data_dir, verify=verify, download_ok=download_ok, recorded_by=recorded_by)
    return ImageDataset(xtr, ytr), ImageDataset(xte, yte)


@python_api
def load_split(data_dir=None, split: str = "test", *, verify: bool = True, recorded_by=None) -> ImageDataset:
    """One split as an ImageDataset (the test images alone load in a fraction of the time of both)."""
    _, (images, labels) = find_data(data_dir, verify=verify, splits=(split,), recorded_by=recorded_by)
    return ImageDataset(images, labels)


def _missing_files(directory: Path) -> list[str]:
    """The Fashion-MNIST files (by base name) that neither directory nor its torchvision layout holds, gzipped
    or not: a root that a cut-short fill left with one to three of them is still missing the rest."""
    return [base for base in SHA256 if not any(files.exists(folder / f"{base}{ext}") for ext in (".gz", "")
                                               for folder in (directory, directory / "FashionMNIST" / "raw"))]


def fill_root(root: Path, *, verify: bool = True) -> Path:
    """Put the Fashion-MNIST files that `root` lacks into it (created if needed), as torchvision's download=True
    does: copied from the first copy find_data's search finds on this machine ($ROWRNN_DATA, the cache, Debian's
    /usr/share/datasets/fashion-mnist), else downloaded (download(), each file checked). Files already there are
    kept, so a fill cut short is completed by the next one. Returns root.
    Raises RowrnnError when root cannot be written or no copy can be found or downloaded."""
    try:
        source = find_data.__wrapped__(None, verify=verify, download_ok=False)[0]
    except RowrnnError:
        return download(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RowrnnError(f"root={str(root)!r}: cannot create the folder ({files.problem(e)})") from None
    layout = source / "FashionMNIST" / "raw"   # where _read_dir found them, if not in source itself
    folder = source if any(files.exists(source / f"{b}{ext}") for b in SHA256 for ext in (".gz", "")) else layout
    for base in _missing_files(root):
        found = _find_file(folder, base)
        files.atomic_write(root / found.name, files.read_file(found, limit=MAX_READ_BYTES, what="Fashion-MNIST file"))
    return root


@python_api(names={"--data-dir": "root"})
def FashionMNIST(root=None, train: bool = True, transform=None, target_transform=None, download: bool = True,
                 verify: bool = True) -> ImageDataset:
    """torchvision-like constructor. Without a transform, items are the notebook's normalized tensors
    (ToTensor + Normalize(0.5, 0.5) built in); with one, transform(PIL image), as torchvision does.

    root=None searches the usual places (find_data). An explicit root is used as torchvision uses it:
    with download=True a root that is missing or holds no Fashion-MNIST files is filled first (fill_root:
    from a copy on this machine, else the download), then loaded; with download=False it must hold them.
    Raises RowrnnError naming these arguments (never the CLI's flags).
    """
    split = "train" if train else "test"   # only that split's two files are read
    if root is None:
        # the undecorated search, so that its messages name this function's arguments (root=), not data_dir
        _, (images, labels) = find_data.__wrapped__(None, verify=verify, download_ok=download, splits=(split,))
    else:
        directory = Path(root).expanduser()
        missing = _missing_files(directory)
        if len(missing) == len(SHA256) and not download:
            raise RowrnnError(f"root={str(directory)!r} holds no Fashion-MNIST files and download=False: "
                              "pass download=True to fetch them, or a root= folder that holds the four files")
        if missing and download:
            fill_root(directory, verify=verify)
        (images, labels), = _read_dir(directory, verify, (split,))
    return ImageDataset(images, labels, transform=transform, target_transform=target_transform)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1], the same operations as ToTensor() then Normalize(0.5, 0.5)."""
    return images.to(torch.float32, copy=True).div_(255).sub_(MEAN).div_(STD)


def augment(images: torch.Tensor, generator: torch.Generator, shift: int = 0, flip: bool = False,
            erase: float = 0.0) -> torch.Tensor:
    """Random per-image shifts of up to `shift` pixels (zero fill), horizontal flips, and with probability
    `erase` a random rectangle (2-40 % of the image, aspect 0.3-3.3) filled with noise; uint8 in and out.

    The erasing is Zhong et al.'s "Random Erasing Data Augmentation" (2017), which they measured on
    Fashion-MNIST among others. Every random number comes from `generator`, on the CPU, so an epoch's
    augmentation is the same on every device and after a resume.
    """
    B, H, W = images.shape
    device, out = images.device, images
    if shift:
        padded = torch.nn.functional.pad(out, (shift,) * 4)                            # (B, H+2s, W+2s)
        dy, dx = torch.randint(0, 2 * shift + 1, (2, B, 1), generator=generator).to(device)
        rows = (dy + torch.arange(H, device=device))[:, :, None]                       # (B, H, 1)
        cols = (dx + torch.arange(W, device=device))[:, None, :]                       # (B, 1, W)
        out = padded[torch.arange(B, device=device)[:, None, None], rows, cols]         # (B, H, W)
    if flip:
        mask = (torch.rand(B, generator=generator) < 0.5).to(device)
        out = torch.where(mask[:, None, None], out.flip(-1), out)
    if erase:
        area = torch.empty(B).uniform_(0.02, 0.4, generator=generator) * H * W
        aspect = torch.empty(B).uniform_(math.log(0.3), math.log(1 / 0.3), generator=generator).exp()
        h = (area * aspect).sqrt().round().clamp(1, H).long()
        w = (area / aspect).sqrt().round().clamp(1, W).long()
        top = (torch.rand(B, generator=generator) * (H - h + 1)).long()
        left = (torch.rand(B, generator=generator) * (W - w + 1)).long()
        chosen = torch.rand(B, generator=generator) < erase
        noise = torch.randint(0, 256, (B, H, W), generator=generator, dtype=torch.uint8)
        r, c = torch.arange(H)[None, :, None], torch.arange(W)[None, None, :]
        inside = ((r >= top[:, None, None]) & (r < (top + h)[:, None, None])
                  & (c >= left[:, None, None]) & (c < (left + w)[:, None, None]) & chosen[:, None, None])
        out = torch.where(inside.to(device), noise.to(device), out)                    # (B, H, W)
    return out


class Batches:
    """Shuffled index slicing of whole tensors: the fast path, no per-sample Python work.

    Kept instead of a DataLoader because the per-sample path (index, PIL, ToTensor, collate) is
    11x slower for the notebook model on a CPU (benchmarks/README.md) and the data fit in memory;
    a DataLoader over ImageDataset still works for everything else.

    With world_size > 1 each rank takes its contiguous share of every global batch,
    so every sample is seen once per epoch across ranks (DistributedSampler without
    padding). Epoch e's order depends only on (seed, e), which makes resuming exact.
    """

    def __init__(self, images, labels, batch_size, *, indices=None, shuffle=False, seed=0,
                 device="cpu", augment_shift=0, augment_flip=False, augment_erase=0.0, rank=0, world_size=1):
        if images.dtype != torch.uint8:
            raise TypeError(f"Batches takes the uint8 images (N, 28, 28) and normalizes them itself, got {images.dtype}")
        self.images = images.to(device)  # no copy when already there: the dataset is held once
        self.labels = labels.to(device)
        self.indices = torch.arange(len(labels)) if indices is None else torch.as_tensor(indices)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.augmentation = dict(shift=augment_shift, flip=augment_flip, erase=augment_erase)
        self.rank, self.world_size, self.epoch = rank, world_size, 0
        self.device = torch.device(device)

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for this epoch (0-based) next: the order is a function of (seed, epoch), as DistributedSampler's."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)

    def global_sizes(self) -> list[int]:
        """Size of each global batch (all ranks together), in order."""
        n, b = len(self.indices), self.batch_size
        return [min(b, n - start) for start in range(0, n, b)]

    def global_order(self) -> torch.Tensor:
        """The indices (N,) of this epoch in the order every process agrees on (shuffled by seed and epoch)."""
        if not self.shuffle:
            return self.indices
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return self.indices[torch.randperm(len(self.indices), generator=g)]

    def __iter__(self):
        order = self.global_order().to(self.device)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + 500_000)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            share = -(-len(batch) // self.world_size)
            idx = batch[self.rank * share:(self.rank + 1) * share]
            x = self.images.index_select(0, idx)  # (b, 28, 28) uint8; 15x faster than images[idx] on CPU
            if any(self.augmentation.values()):
                x = augment(x, g, **self.augmentation)
            yield normalize(x).unsqueeze(1), self.labels.index_select(0, idx)     # (b, 1, 28, 28)
