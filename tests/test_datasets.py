"""Named datasets (the table, their files, the download from a local server) and image folders."""
import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REAL_DATA, idx_bytes
from rowrnn import datasets
from rowrnn.constants import CLASSES
from rowrnn.data import read_split
from rowrnn.errors import RowrnnError


def _split_arrays(n, seed, classes, offset=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % classes + offset).astype(np.uint8)
    return images, labels


def write_named(directory: Path, name: str, n=(30, 10), gz=True, zipped=False, offset=None):
    """Synthetic IDX files with the real headers and names of a named dataset; returns {file: bytes}."""
    entry = datasets.TABLE[name]
    offset = entry.label_offset if offset is None else offset
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for (split, (image_base, label_base, _)), count, seed in zip(entry.files.items(), n, (0, 1)):
        images, labels = _split_arrays(count, seed, len(entry.classes), offset)
        for base, array in ((image_base, images), (label_base, labels)):
            written[base + (".gz" if gz else "")] = gzip.compress(idx_bytes(array), mtime=0) if gz else idx_bytes(array)
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for fname, content in written.items():
                z.writestr(f"gzip/{fname}", content)
        written = {entry.archive[0]: buffer.getvalue()}
    for fname, content in written.items():
        (directory / fname).write_bytes(content)
    return written


def patched(monkeypatch, name, written, counts=(30, 10)):
    """The table's entry for name with the synthetic files' MD5 and counts, as the real table holds the real ones."""
    entry = datasets.TABLE[name]
    md5 = {f: hashlib.md5(b).hexdigest() for f, b in written.items()}
    files = {s: (i, l, c) for (s, (i, l, _)), c in zip(entry.files.items(), counts)}
    new = dataclasses.replace(entry, files=files,
                              md5={} if entry.archive else md5,
                              archive=(entry.archive[0], md5.get(entry.archive[0], entry.archive[1])) if entry.archive
                              else None)
    monkeypatch.setitem(datasets.TABLE, name, new)
    datasets._ZIP_CHECKED.clear()
    return new


def test_the_table_holds_what_is_published():
    assert datasets.NAMES == ("fashion-mnist", "mnist", "kmnist", "emnist-letters", "emnist-balanced")
    assert datasets.TABLE["fashion-mnist"].classes == CLASSES
    assert datasets.TABLE["mnist"].md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert datasets.TABLE["kmnist"].classes == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    letters, balanced = datasets.TABLE["emnist-letters"], datasets.TABLE["emnist-balanced"]
    assert letters.classes == tuple("abcdefghijklmnopqrstuvwxyz") and letters.label_offset == 1
    assert len(balanced.classes) == 47 and balanced.classes[36:] == tuple("abdefghnqrt")
    assert letters.archive == ("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e") and letters.transposed
    assert letters.files["train"] == ("emnist-letters-train-images-idx3-ubyte",
                                      "emnist-letters-train-labels-idx1-ubyte", 124_800)
    assert datasets.TABLE["mnist"].mirror_variable == "ROWRNN_MNIST_URL"
    assert datasets.TABLE["emnist-letters"].mirror_variable == "ROWRNN_EMNIST_LETTERS_URL"


@pytest.mark.parametrize("name", ["mnist", "kmnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_named_idx_files_load_with_their_classes(tmp_path, monkeypatch, name, gz):
    written = write_named(tmp_path / name, name, gz=gz)
    patched(monkeypatch, name, written)
    info, train, test = datasets.load_dataset({"dataset": name, "data_dir": str(tmp_path / name)})
    images, labels = _split_arrays(30, 0, 10)
    assert torch.equal(train.images, torch.from_numpy(images)) and train.labels.tolist() == labels.tolist()
    assert len(test) == 10 and train.classes == list(datasets.TABLE[name].classes)
    assert info.classes == datasets.TABLE[name].classes and info.image_size == 28 and info.num_classes == 10


def test_a_gz_that_is_not_the_published_one_is_refused(tmp_path, monkeypatch):
    written = write_named(tmp_path / "m", "mnist")
    patched(monkeypatch, "mnist", written)
    (tmp_path / "m" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((30, 28, 28))), mtime=0))
    with pytest.raises(RowrnnError, match=r"--data-dir .*/m: .*train-images-idx3-ubyte.gz: MD5 [0-9a-f]{32} is not "
                                          r"MNIST's published [0-9a-f]{32}: delete it to download it again, or pass "
                                          r"--no-verify$"):
        datasets.load_dataset({"dataset": "mnist", "data_dir": str(tmp_path / "m")})
    info, train, _ = datasets.load_dataset({"dataset": "mnist", "data_dir": str(tmp_path / "m"), "verify": False})
    assert int(train.images.sum()) == 0


def test_emnist_letters_from_its_zip_transposed_with_labels_from_zero(tmp_path, monkeypatch):
    written = write_named(tmp_path / "e", "emnist-letters", n=(52, 26), zipped=True)
    patched(monkeypatch, "emnist-letters", written, counts=(52, 26))
    info, train, test = datasets.load_dataset({"dataset": "emnist-letters", "data_dir": str(tmp_path / "e")})
    images, labels = _split_arrays(52, 0, 26, offset=1)
    assert torch.equal(train.images, torch.from_numpy(images).transpose(1, 2))    # stored transposed
    assert train.labels.tolist() == (labels - 1).tolist() and train.labels.min() == 0 and train.labels.max() == 25
    assert info.num_classes == 26 and info.classes[0] == "a" and "N/A" not in info.classes


def test_emnist_letters_label_zero_is_refused(tmp_path, monkeypatch):
    written = write_named(tmp_path / "e", "emnist-letters", n=(52, 26), offset=0)
    patched(monkeypatch, "emnist-letters", written, counts=(52, 26))
    with pytest.raises(RowrnnError, match=r"label 0\.\.\.25 is outside 1-26: use the original labels file$"):
        datasets.load_dataset({"dataset": "emnist-letters", "data_dir": str(tmp_path / "e")})


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.mark.parametrize("name,zipped", [("mnist", False), ("kmnist", False), ("emnist-balanced", True)])
def test_download_from_a_local_mirror(tmp_path, monkeypatch, server, name, zipped):
    root, url = server
    counts = (47, 47) if zipped else (30, 10)
    written = write_named(root, name, n=counts, zipped=zipped)
    patched(monkeypatch, name, written, counts=counts)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ROWRNN_DATA", raising=False)
    monkeypatch.setenv(datasets.TABLE[name].mirror_variable, url)
    info, train, test = datasets.load_dataset({"dataset": name})
    assert len(train) == counts[0] and len(test) == counts[1] and info.name == name
    cached = sorted(p.name for p in (tmp_path / "cache" / "rowrnn" / name).iterdir())
    assert cached == sorted(written)


def test_a_download_that_fails_its_checksum_is_refused(tmp_path, monkeypatch, server):
    root, url = server
    written = write_named(root, "mnist")
    patched(monkeypatch, "mnist", {**written, "train-labels-idx1-ubyte.gz": b"other"})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ROWRNN_MNIST_URL", url)
    with pytest.raises(RowrnnError, match=r"^MNIST not found; tried .*download: download of MNIST's "
                                          r"train-labels-idx1-ubyte.gz failed \(http://127.0.0.1:\d+/: ValueError"):
        datasets.load_dataset({"dataset": "mnist"})
    assert not (tmp_path / "cache" / "rowrnn" / "mnist" / "train-labels-idx1-ubyte.gz").exists()


# ------------------------------------------------------------------------------------------ image folders

def _png(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _digit(k, size=12):
    image = np.zeros((size, size), np.uint8)
    image[k % size, :] = 200 + k
    return image


def make_folder(root: Path, classes, per_class=4, split=True, size=12):
    for s in (("train", "test") if split else (None,)):
        for c, name in enumerate(classes):
            folder = root / s / name if s else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                image = _digit(c, size)
                image[-1, i] = 17 + (s == "test")         # every file different, across splits too
                (folder / f"{i}.png").write_bytes(_png(image))
    return root


def test_a_folder_with_train_and_test_keeps_imagefolders_contract(tmp_path):
    classes = ["zebra", "Ärger", "猫", "Bee"]       # Unicode names, sorted by code point as torchvision sorts
    make_folder(tmp_path / "f", classes)
    train, test, report = datasets.read_image_folder(tmp_path / "f", image_size=12)
    assert train.classes == sorted(classes) == ["Bee", "zebra", "Ärger", "猫"]
    assert train.images.shape == (16, 12, 12) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4 and str(report) == ""
    assert torch.equal(train.images[4, :, :].max(1).values[:-1],
                       torch.from_numpy(_digit(classes.index("zebra"))).max(1).values[:-1])
    assert datasets.dataset_of(str(tmp_path / "f")).classes == tuple(sorted(classes))


def test_colour_and_other_sizes_become_grey_at_the_chosen_side(tmp_path):
    root = tmp_path / "f"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (root / name).mkdir(parents=True)
        for i in range(3):
            rgb = np.zeros((40 + i, 30, 3), np.uint8)
            rgb[:, :] = colour
            Image.fromarray(rgb).save(root / name / f"{i}.JPG" if i == 0 else root / name / f"{i}.png")
    train, test, _ = datasets.read_image_folder(root, image_size=8, test_split=0.34)
    assert train.images.shape[1:] == (8, 8) and len(train) == 4 and len(test) == 2
    blue, red = round(0.114 * 255), round(0.299 * 255)                 # ITU-R 601 luma, as convert("L")
    assert set(train.images[train.labels == 0].flatten().tolist()) <= {blue - 1, blue, blue + 1}
    assert set(train.images[train.labels == 1].flatten().tolist()) <= {red - 1, red, red + 1}


def test_the_one_folder_split_is_seeded_and_stated(tmp_path):
    make_folder(tmp_path / "f", ["a", "b"], per_class=10, split=False)
    first = datasets.read_image_folder(tmp_path / "f", image_size=12, test_split=0.2)
    again = datasets.read_image_folder(tmp_path / "f", image_size=12, test_split=0.2)
    assert len(first[0]) == 16 and len(first[1]) == 4 and first[1].labels.tolist() == [0, 0, 1, 1]
    assert torch.equal(first[1].images, again[1].images) and torch.equal(first[0].images, again[0].images)


def test_odd_files_are_skipped_and_counted(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"])
    (root / "train" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "train" / "a" / "notes.txt").write_text("hello")
    (root / "train" / "b" / "doc.PNG").write_bytes(b"%PDF-1.4 not an image")
    (root / "test" / "a" / "dup.png").write_bytes((root / "train" / "b" / "0.png").read_bytes())
    train, test, report = datasets.read_image_folder(root, image_size=12)
    assert len(train) == 8 and len(test) == 8
    text = str(report)
    assert text.startswith("skipped 2 unreadable image(s) (first: ") and "broken.png" in text
    assert "ignored 1 file(s) without an image extension" in text
    assert text.endswith("dropped 1 test image(s) whose file is also in the training split")


@pytest.mark.parametrize("setup,message", [
    (lambda r: (r / "train" / "c").mkdir(), r"class folder\(s\) \['c'\] hold no image file"),
    (lambda r: make_folder(r / "x", ["c"]) and (r / "test" / "c").mkdir() or
     (r / "test" / "c" / "0.png").write_bytes(_png(_digit(1))),
     r"test classes \['c'\] are not among the training classes \(a, b\): add them to .*/train or remove them"),
])
def test_folders_that_cannot_be_read_are_refused_in_one_line(tmp_path, setup, message):
    root = make_folder(tmp_path / "f", ["a", "b"])
    setup(root)
    with pytest.raises(RowrnnError, match=message) as e:
        datasets.read_image_folder(root, image_size=12)
    assert "\n" not in str(e.value)


def test_folder_limits_and_options(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "f", ["a", "b"])
    with pytest.raises(RowrnnError, match=r"^--conversion photo is Fashion-MNIST's conversion and makes 28x28 images: "
                                          r"drop --image-size 12, or use --conversion plain$"):
        datasets.read_image_folder(root, image_size=12, conversion="photo")
    monkeypatch.setattr(datasets, "MAX_FOLDER_IMAGES", 15)
    with pytest.raises(RowrnnError, match=r"^--dataset .*/f: more than 15 image files, over the limit held in memory: use a smaller folder$"):
        datasets.read_image_folder(root, image_size=12)
    with pytest.raises(RowrnnError, match=r"no class folders in it: lay it out as DIR/<class>/<image files>"):
        (tmp_path / "empty").mkdir()
        datasets.read_image_folder(tmp_path / "empty")


def test_write_image_folder_round_trips(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8)).astype(np.uint8)
    labels = np.arange(12) % 3
    datasets.write_image_folder(images[:9], labels[:9], ["x", "y", "ζ"], tmp_path / "w", split="train")
    datasets.write_image_folder(images[9:], labels[9:], ["x", "y", "ζ"], tmp_path / "w", split="test")
    train, test, report = datasets.read_image_folder(tmp_path / "w", image_size=8)
    order = np.argsort(labels[:9], kind="stable")
    assert torch.equal(train.images, torch.from_numpy(images[:9][order])) and str(report) == ""
    assert train.labels.tolist() == labels[:9][order].tolist() and test.classes == ["x", "y", "ζ"]


@pytest.mark.integration
def test_a_fashion_mnist_folder_loads_to_the_same_images_and_labels(tmp_path):
    """200 images a split of the real IDX files, written as PNGs, read back bit for bit with the same labels.
    The folders are named "0 T-shirt-top" ... "9 Ankle boot" ("/" cannot be in a folder name; the digit keeps
    the sorted folder order the label order, as torchvision's MNIST names its classes "0 - zero" ...)."""
    names = [f"{k} {c.replace('/', '-')}" for k, c in enumerate(CLASSES)]
    for split in ("train", "test"):
        images, labels = read_split(REAL_DATA, split)
        datasets.write_image_folder(images[:200].numpy(), labels[:200].numpy(), names, tmp_path / "fm", split=split)
    train, test, report = datasets.read_image_folder(tmp_path / "fm")
    assert train.classes == names and str(report) == ""
    for split, got in (("train", train), ("test", test)):
        images, labels = read_split(REAL_DATA, split)
        order = torch.argsort(labels[:200], stable=True)       # the folder's order: by class, then by file name
        assert torch.equal(got.images, images[:200][order]) and torch.equal(got.labels, labels[:200][order])


# ------------------------------------------------------------------ folders as people's computers write them

def test_macos_and_windows_leftovers_links_and_loops(tmp_path):
    """.DS_Store, ._name resource forks and Thumbs.db pass unsaid; a nested subfolder is read; a link to a file
    is read; a link back to its own class folder (a loop) is read once and said; a stray file beside the class
    folders is said; a dangling link is a skipped file."""
    root = make_folder(tmp_path / "f", ["a", "b"], split=False, per_class=5)
    (root / "a" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "a" / "._0.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (root / "b" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "a" / "sub" / "deeper").mkdir(parents=True)
    (root / "a" / "sub" / "deeper" / "n.PNG").write_bytes(_png(_digit(7)))
    (root / "b" / "loop").symlink_to(root / "b")
    (root / "b" / "link.png").symlink_to(root / "a" / "sub" / "deeper" / "n.PNG")
    (root / "a" / "gone.png").symlink_to(root / "nowhere.png")
    (root / "c.png").write_bytes(_png(_digit(2)))          # a picture left beside the class folders
    train, test, report = datasets.read_image_folder(root, image_size=12, test_split=0.2)
    assert train.classes == ["a", "b"] and len(train) + len(test) + report.duplicates == 12
    assert report.linked_again == 1 and report.other_files == 0 and len(report.damaged) == 1
    assert str(report).endswith("ignored 1 file(s) or folder(s) outside the class folders (first: "
                                f"{root / 'c.png'}); skipped 1 linked folder(s) already read (a link loop, "
                                "or a second link to one folder)")
    assert report.damaged[0][1] == f"{root / 'a' / 'gone.png'}: no such file"


def test_a_link_loop_in_the_split_layout_is_read_once(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"])
    (root / "train" / "a" / "self").symlink_to(root / "train" / "a")
    (root / "train" / "c").symlink_to(root / "train" / "b")       # a linked class folder is a class
    train, test, report = datasets.read_image_folder(root, image_size=12)
    assert train.classes == ["a", "b", "c"] and len(train) == 12 and report.linked_again == 1


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_class_names_are_read_in_nfc_whatever_form_the_disk_has(tmp_path, form):
    """macOS writes names decomposed (NFD), Linux keeps what it is given: the same folder gives the same classes,
    and a test folder in the other form is the same class."""
    import unicodedata
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    root = make_folder(tmp_path / "f", [unicodedata.normalize(form, "café"), "b"])
    other = nfd if form == "NFC" else nfc
    (root / "test" / unicodedata.normalize(form, "café")).rename(root / "test" / other)
    train, test, report = datasets.read_image_folder(root, image_size=12)
    assert train.classes == ["b", nfc] and test.labels.tolist() == [0] * 4 + [1] * 4 and str(report) == ""
    assert datasets.dataset_of(str(root)).classes == ("b", nfc)
    assert len(datasets.read_image_folder(root, image_size=12, classes=["b", nfd])[0]) == 8   # a recorded NFD run


def test_one_name_in_two_unicode_forms_is_refused(tmp_path):
    import unicodedata
    make_folder(tmp_path / "f", [unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")],
                split=False)
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(tmp_path / "f", image_size=12)
    assert str(e.value) == (f"--dataset {tmp_path / 'f'}: the folders 'cafe\\u0301' and 'caf\\xe9' are one class "
                            "name written in two Unicode forms (composed and decomposed, as different systems write "
                            "accents): merge them")


@pytest.mark.parametrize("have,lack", [("train", "test"), ("test", "train")])
def test_train_without_test_is_refused_not_read_as_a_class(tmp_path, have, lack):
    make_folder(tmp_path / "f", ["a", "b"])
    import shutil
    shutil.rmtree(tmp_path / "f" / lack)
    shown = tmp_path / "f"
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(shown, image_size=12)
    assert str(e.value) == (f"--dataset {shown}: has {have}/ but no {lack}/: add {shown}/{lack}/<class>/... with the "
                            f"same class folders, or put the class folders directly in {shown} for a seeded split "
                            "(--test-split)")


@pytest.mark.parametrize("make,reason", [(lambda p: p.write_text("x"), "is a regular file, not a directory"),
                                         (lambda p: None, "no such directory")])
def test_a_dataset_that_is_neither_a_name_nor_a_folder(tmp_path, make, reason):
    make(tmp_path / "mnsit")
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(tmp_path / "mnsit")
    assert str(e.value) == (f"--dataset {tmp_path / 'mnsit'}: neither a dataset name (fashion-mnist, mnist, kmnist, "
                            f"emnist-letters, emnist-balanced) nor a readable folder ({reason}): give one of those "
                            "names, or the path of an image folder")


def test_the_split_layout_says_what_it_does_not_read(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"])
    make_folder(root / "val", ["a"], split=False)
    (root / "train" / "stray.png").write_bytes(_png(_digit(3)))
    train, test, report = datasets.read_image_folder(root, image_size=12)
    assert len(train) == 8 and len(test) == 8
    assert report.outside == [str(root / "val"), str(root / "train" / "stray.png")]


def test_odd_image_forms_convert(tmp_path):
    """16-bit grey, palette with transparency, CMYK JPEG, 1x1, upper-case and other extensions: all read, grey."""
    root = make_folder(tmp_path / "f", ["a", "b"], split=False)
    sixteen = (np.arange(144).reshape(12, 12) * 400).astype(np.uint16)
    Image.fromarray(sixteen).save(root / "a" / "deep.png")
    Image.fromarray(_digit(1)).convert("CMYK").save(root / "a" / "print.JPG", quality=100)
    Image.fromarray(np.full((1, 1), 128, np.uint8)).save(root / "b" / "dot.png")
    for ext in ("TIF", "webp", "jpeg"):
        Image.fromarray(_digit(1)).save(root / "b" / f"x.{ext}", **({"lossless": True} if ext == "webp" else {}))
    got = datasets.convert_folder_image((root / "a" / "deep.png").read_bytes(), "deep.png", 12)
    assert torch.equal(got, torch.from_numpy(np.round(sixteen / 257).astype(np.uint8)))
    assert datasets.convert_folder_image((root / "b" / "dot.png").read_bytes(), "dot", 12).unique().tolist() == [128]
    train, test, report = datasets.read_image_folder(root, image_size=12)
    assert len(train) + len(test) == 14 and str(report) == ""


def test_a_folder_run_records_its_absolute_folder_and_is_evaluated_after_a_move(tmp_path, monkeypatch, capsys):
    """A relative --dataset is recorded as an absolute path (evaluate works from any directory); a folder that
    moved is one line naming the recorded place and --data-dir, which then names its new place."""
    import json
    from rowrnn.cli import main
    make_folder(tmp_path / "f", ["a", "b", "c"], per_class=6)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "f", "--image-size", "12", "--epochs", "1", "--val-split", "0.25",
                 "--out", "run", "--quiet", "--no-figures"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["dataset"] == str(tmp_path / "f")
    monkeypatch.chdir(tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", ".", "--json"]) == 0
    accuracy = json.loads(capsys.readouterr().out)["accuracy"]
    (tmp_path / "f").rename(tmp_path / "moved")
    assert main(["evaluate", "."]) == 2
    assert capsys.readouterr().err == (f"rowrnn: error: . was trained on the image folder {tmp_path / 'f'}, as its "
                                       "config.json records, which is not a folder here: put it back there, or pass "
                                       "--data-dir with its new place\n")
    assert main(["evaluate", ".", "--data-dir", "nowhere"]) == 2
    assert capsys.readouterr().err == ("rowrnn: error: --data-dir nowhere: not a folder here: give the image folder . "
                                       f"was trained on (recorded as {tmp_path / 'f'})\n")
    assert main(["evaluate", ".", "--data-dir", str(tmp_path / "moved"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == accuracy


# ------------------------------------------------------------------------- a folder run reads the same images

class _Stop(Exception):
    pass


def _stop_after_first_epoch(epoch, history, grad_norm):
    if epoch == 0:
        raise _Stop   # after state.pt of epoch 1: the run is left as a killed one would be


FOLDER_RUN = ["--image-size", "12", "--epochs", "2", "--val-split", "0.25", "--batch-size", "4", "--seed", "3",
              "--quiet", "--no-figures"]


def _folder_run(tmp_path, split=True):
    """An image folder and a run of it stopped after its first epoch of two."""
    import rowrnn
    from rowrnn.config import build_config
    folder = make_folder(tmp_path / "f", ["a", "b", "c"], per_class=6, split=split)
    cfg = build_config("notebook", {"dataset": str(folder), "image_size": 12, "epochs": 2, "val_split": 0.25,
                                    "batch_size": 4, "seed": 3})
    with pytest.raises(_Stop):
        rowrnn.fit(cfg, tmp_path / "run", figures=False, on_epoch=_stop_after_first_epoch)
    return folder, tmp_path / "run"


def _add_image(folder: Path, k=9):
    image = _digit(k)
    image[0, :] = 5
    (folder / "new.png").write_bytes(_png(image))


def test_a_folder_run_records_what_each_split_read_and_resumes_bit_identically(tmp_path, capsys):
    import json
    from rowrnn.cli import main
    folder, run = _folder_run(tmp_path)
    recorded = json.loads((run / "config.json").read_text())["data"]["split_sha256"]
    train, test, _ = datasets.read_image_folder(folder, image_size=12)
    assert recorded == {"train": datasets.split_digest(train), "test": datasets.split_digest(test)}
    assert recorded["train"]["images"] == 18 and recorded["test"]["images"] == 18
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0
    assert main(["train", "--dataset", str(folder), *FOLDER_RUN, "--out", str(tmp_path / "whole")]) == 0
    for name in ("best.safetensors", "last.safetensors"):
        assert (run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == json.loads(
        (tmp_path / "whole" / "metrics.json").read_text())["accuracy"]


@pytest.mark.parametrize("split,where,now", [(True, "train/b", 19), (False, "b", 16)])
def test_resuming_after_the_training_images_changed_is_refused(tmp_path, capsys, split, where, now):
    """An added image, in the split layout's train/ or in the one-folder layout (whose seeded split then moves
    images between train and test): the training split is no longer what epoch 1 trained and validated on."""
    from rowrnn.cli import main
    folder, run = _folder_run(tmp_path, split=split)
    before = (run / "state.pt").read_bytes()
    then = 18 if split else 15      # one folder: 1 of each class's 6 held out as test
    _add_image(folder / where)
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: the run's image folder {folder}: the folder's training images changed since {run} started "
        f"({now} images now, {then} then): resume needs the same images; start a new run with --out\n")
    assert (run / "state.pt").read_bytes() == before and not (run / "metrics.json").exists()


def test_a_changed_image_of_the_same_count_is_a_change(tmp_path, capsys):
    from rowrnn.cli import main
    folder, run = _folder_run(tmp_path)
    image = _digit(1)
    image[3, 3] = 99
    (folder / "train" / "b" / "2.png").write_bytes(_png(image))
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 2
    assert "(18 images now, 18 then)" in capsys.readouterr().err


def test_resuming_after_the_test_images_changed_is_refused(tmp_path, capsys):
    from rowrnn.cli import main
    folder, run = _folder_run(tmp_path)
    (folder / "test" / "c" / "0.png").unlink()
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: the run's image folder {folder}: the folder's test images changed since {run} started "
        "(17 images now, 18 then): its metrics must describe the test images it started with; restore them, or start "
        "a new run with --out\n")


def test_evaluate_after_the_test_images_changed_notes_it_and_save_refuses(tmp_path, capsys):
    """Plain evaluate shows numbers on the folder as it is now, with a note line; evaluate --save (numbers kept
    beside the run) and the Python API's default refuse."""
    import json
    import rowrnn
    from rowrnn.cli import main
    folder, run = _folder_run(tmp_path)
    assert main(["train", "--resume", str(run), "--quiet", "--no-figures"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    assert "note" not in json.loads(capsys.readouterr().out)
    _add_image(folder / "test" / "a")
    said = f"{folder}: the folder's test images changed since {run} was trained (19 images now, 18 then)"
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("loss ")
    assert out.splitlines()[2] == f"note: {said}: these numbers are not on the run's recorded test set"
    assert main(["evaluate", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["images"] == 19 and metrics["note"] == f"{said}: these numbers are not on the run's recorded test set"
    refusal = (f"{said}: the run's numbers must be on the test images it recorded; restore them, or see numbers "
               f"on the folder as it is now with `rowrnn evaluate {run}` (without --save)")
    assert main(["evaluate", str(run), "--save"]) == 2
    assert capsys.readouterr().err == f"rowrnn: error: {refusal}\n"
    assert not list(run.glob("metrics-*.json"))
    with pytest.raises(rowrnn.RowrnnError) as e:
        rowrnn.evaluate_run(run)
    assert str(e.value) == refusal


def test_test_split_is_refused_where_the_dataset_has_its_own_test_split(tmp_path, capsys):
    from rowrnn.cli import main
    from rowrnn.config import build_config
    folder = make_folder(tmp_path / "f", ["a", "b"], per_class=4)
    for value in ("0.3", "0.2"):      # the default value too, when given: it would be ignored all the same
        assert main(["train", "--dataset", str(folder), "--test-split", value, *FOLDER_RUN,
                     "--out", str(tmp_path / "run")]) == 2
        assert capsys.readouterr().err == (
            f"rowrnn: error: --test-split {value}: {folder} has train/ and test/, and its test/ is the test split: "
            "drop --test-split (it splits a folder of class folders)\n")
    assert not (tmp_path / "run").exists()
    with pytest.raises(RowrnnError) as e:
        datasets.read_image_folder(folder, image_size=12, test_split=0.5)
    assert str(e.value).startswith("--test-split 0.5: ")
    with pytest.raises(RowrnnError) as e:
        build_config("notebook", {"dataset": "mnist", "test_split": 0.3})
    assert str(e.value) == ("test_split 0.3: mnist has its own test split; test_split applies to a folder of "
                            "class folders: drop it")
    assert main(["train", "--test-split", "0.2", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == ("rowrnn: error: --test-split 0.2: fashion-mnist has its own test split; "
                                       "--test-split applies to a folder of class folders: drop it\n")
    with pytest.raises(RowrnnError) as e:
        build_config("notebook", {"dataset": "kmnist", "conversion": "photo"})
    assert str(e.value) == ("conversion photo: kmnist's files are its images already; conversion applies to image "
                            "folders: drop it")


def test_the_cli_says_a_folders_skipped_files_in_one_note_line(tmp_path, capsys):
    """What an image folder skipped is said while training goes on: one `rowrnn: note:` line on stderr, not
    Python's two-line UserWarning with a file name and a source line."""
    from rowrnn.cli import main
    root = make_folder(tmp_path / "f", ["a", "b"])
    (root / "train" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    code = main(["train", "--dataset", str(root), "--image-size", "12", "--epochs", "1", "--batch-size", "4",
                 "--val-split", "0.25", "--hidden-size", "4", "--out", str(tmp_path / "run"), "--quiet",
                 "--no-figures"])
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if "broken.png" in line]
    assert len(notes) == 1 and notes[0].startswith(f"rowrnn: note: --dataset {root}: skipped 1 unreadable image(s)")
    assert "UserWarning" not in err and "warnings.warn" not in err
