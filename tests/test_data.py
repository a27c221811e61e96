import gzip

import numpy as np
import pytest
import torch

from conftest import idx_bytes, synthetic_split, write_dataset
from rowrnn import data
from rowrnn.data import Batches, find_data, load_fashion_mnist, normalize, read_idx, augment
from rowrnn.errors import RowrnnError


def test_reads_gzipped_and_raw_idx_identically(tmp_path):
    gz = write_dataset(tmp_path / "gz", compress=True)
    raw = write_dataset(tmp_path / "raw", compress=False)
    (tr_gz, te_gz), (tr_raw, te_raw) = [load_fashion_mnist(d, verify=False) for d in (gz, raw)]
    images, labels = synthetic_split(400, 0)
    assert tr_gz.images.dtype == torch.uint8 and tr_gz.images.shape == (400, 28, 28)
    assert torch.equal(tr_gz.images, torch.from_numpy(images))
    assert torch.equal(tr_gz.labels, torch.from_numpy(labels).long())
    assert torch.equal(tr_gz.images, tr_raw.images) and torch.equal(te_gz.labels, te_raw.labels)
    assert len(te_gz) == 100 and tr_gz.classes[0] == "T-shirt/top" and tr_gz.classes[9] == "Ankle boot"


def test_dataset_item_is_the_notebook_transform(data_dir):
    train, _ = load_fashion_mnist(data_dir, verify=False)
    x, y = train[3]
    pixels = train.images[3].numpy().astype(np.float32)
    expected = (pixels / 255 - 0.5) / 0.5   # ToTensor() then Normalize(0.5, 0.5)
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_array_equal(x[0].numpy(), expected)
    assert y == int(train.labels[3]) and isinstance(y, int)
    assert train.data is train.images and train.targets is train.labels  # torchvision aliases


def _corrupt(directory, name, content: bytes):
    (directory / name).write_bytes(content)


@pytest.mark.parametrize("case, expected", [
    ("truncated_gz", "damaged or truncated gzip data"),
    ("not_gzip", "not a gzip file although named .gz"),
    ("bad_magic", "not an IDX file of unsigned bytes (magic number 0x00000900"),
    ("wrong_size", "images are (32, 32), expected 28x28"),
    ("count_mismatch", "400 train images but 399 labels"),
    ("label_range", "label 10 is out of range"),
    ("truncated_raw", "IDX header promises"),
])
def test_each_validation_failure_has_its_message(tmp_path, case, expected):
    d = write_dataset(tmp_path / "d")
    images, labels = synthetic_split(400, 0)
    target = "train-images-idx3-ubyte.gz"
    if case == "truncated_gz":
        content = (d / target).read_bytes()[:-100]
    elif case == "not_gzip":
        content = b"<html>not found</html>"
    elif case == "bad_magic":
        content = gzip.compress(b"\x00\x00\x09\x00" + idx_bytes(images)[4:])
    elif case == "wrong_size":
        content = gzip.compress(idx_bytes(np.zeros((400, 32, 32), np.uint8)))
    elif case == "count_mismatch":
        target, content = "train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels[:-1]))
    elif case == "label_range":
        labels[5] = 10
        target, content = "train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels))
    else:
        content = gzip.compress(idx_bytes(images)[:-28])
    _corrupt(d, target, content)
    with pytest.raises(RowrnnError) as e:
        load_fashion_mnist(d, verify=False)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_checksum_is_verified_on_decompressed_bytes(tmp_path):
    d = write_dataset(tmp_path / "d")
    with pytest.raises(RowrnnError, match="checksum mismatch.*verify=False"):
        load_fashion_mnist(d)  # synthetic data is not Fashion-MNIST


def test_explicit_directory_is_the_only_place_looked_at(tmp_path, monkeypatch):
    monkeypatch.setenv("ROWRNN_DATA", str(write_dataset(tmp_path / "env")))
    with pytest.raises(RowrnnError, match="no such directory"):
        find_data(tmp_path / "missing", verify=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RowrnnError, match="no train-images-idx3-ubyte.gz"):
        find_data(tmp_path / "empty", verify=False)


def test_search_order_env_then_cache_then_system(isolated_sources, monkeypatch):
    tmp = isolated_sources
    system = write_dataset(tmp / "system", seed=3)
    monkeypatch.setattr(data, "SYSTEM_DIRS", (system,))
    assert find_data(verify=False)[0] == system
    cache = write_dataset(tmp / "cache" / "rowrnn", seed=2)
    assert find_data(verify=False)[0] == cache
    env = write_dataset(tmp / "env", seed=1)
    monkeypatch.setenv("ROWRNN_DATA", str(env))
    assert find_data(verify=False)[0] == env
    # a broken first source is skipped and the next one that verifies wins
    (env / "train-images-idx3-ubyte.gz").write_bytes(b"junk")
    assert find_data(verify=False)[0] == cache


def test_nothing_found_lists_every_place_and_the_fixes(isolated_sources):
    with pytest.raises(RowrnnError) as e:
        find_data()
    msg = str(e.value)
    assert msg.startswith("Fashion-MNIST not found; tried cache:")
    for part in ("system:", "download: download of train-images-idx3-ubyte.gz from http://127.0.0.1:9/ failed",
                 "apt-get install dataset-fashion-mnist", "ROWRNN_DATA", "internet"):
        assert part in msg
    assert "\n" not in msg


def test_torchvision_layout_is_found(tmp_path):
    write_dataset(tmp_path / "root" / "FashionMNIST" / "raw")
    train, test = load_fashion_mnist(tmp_path / "root", verify=False)
    assert len(train) == 400 and len(test) == 100


def test_batches_cover_each_index_once_and_reshuffle_per_epoch():
    images = torch.arange(10).repeat_interleave(784).reshape(10, 28, 28).to(torch.uint8)
    labels = torch.arange(10)
    b = Batches(images, labels, 4, indices=[1, 3, 5, 7, 9, 0, 2], shuffle=True, seed=1)
    assert len(b) == 2 and b.global_sizes() == [4, 3]
    orders = []
    for epoch in range(3):
        b.set_epoch(epoch)
        ys = torch.cat([y for _, y in b])
        assert sorted(ys.tolist()) == [0, 1, 2, 3, 5, 7, 9]
        orders.append(ys.tolist())
    assert orders[0] != orders[1]
    b.set_epoch(0)
    assert torch.cat([y for _, y in b]).tolist() == orders[0]  # epoch order depends only on (seed, epoch)
    x, y = next(iter(Batches(images, labels, 3)))
    assert x.shape == (3, 1, 28, 28) and torch.equal(x[:, 0], normalize(images[:3]))


def test_batches_shard_each_global_batch_across_ranks():
    images, labels = torch.zeros(11, 28, 28, dtype=torch.uint8), torch.arange(11)
    shards = [Batches(images, labels, 4, shuffle=True, seed=5, rank=r, world_size=3) for r in range(3)]
    single = Batches(images, labels, 4, shuffle=True, seed=5)
    per_rank = [[y.tolist() for _, y in s] for s in shards]
    for step, global_batch in enumerate(y.tolist() for _, y in single):
        assert sum((per_rank[r][step] for r in range(3)), []) == global_batch


def test_augment_shifts_and_flips_pixels_and_fills_with_black():
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, 10, 20] = 255
    g = torch.Generator().manual_seed(0)
    outs = torch.cat([augment(img, g, shift=2) for _ in range(50)])
    ys, xs = (outs == 255).nonzero()[:, 1], (outs == 255).nonzero()[:, 2]
    assert len(ys) == 50 and set(ys.tolist()) <= set(range(8, 13)) and set(xs.tolist()) <= set(range(18, 23))
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 5
    flipped = torch.cat([augment(img, g, flip=True) for _ in range(50)])
    cols = set((flipped == 255).nonzero()[:, 2].tolist())
    assert cols == {20, 7}


def test_dataset_works_with_a_plain_dataloader(data_dir):
    train, _ = load_fashion_mnist(data_dir, verify=False)
    x, y = next(iter(torch.utils.data.DataLoader(train, batch_size=8)))
    assert x.shape == (8, 1, 28, 28) and y.dtype == torch.int64


def test_gz_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_FILE_BYTES", 1000)
    d = write_dataset(tmp_path / "d")
    with pytest.raises(RowrnnError, match="decompresses to more than"):
        read_idx(d / "train-images-idx3-ubyte.gz", verify=False)


def test_augmented_batches_fill_shifted_borders_with_black():
    white = torch.full((64, 28, 28), 255, dtype=torch.uint8)
    x, _ = next(iter(Batches(white, torch.zeros(64, dtype=torch.long), 64, shuffle=True, augment_shift=2)))
    assert set(x.unique().tolist()) == {-1.0, 1.0}  # normalized black enters from the shifted edges
    assert (x == 1.0).all(dim=(1, 2, 3)).sum() < 64  # most images moved


def test_fashion_mnist_takes_torchvision_style_transforms(data_dir):
    """With a transform, items are transform(PIL image) and target_transform(label), as torchvision gives them."""
    from PIL import Image
    from rowrnn.data import FashionMNIST
    seen = []

    def to_array(img):
        seen.append(img)
        return torch.from_numpy(np.array(img, dtype=np.float32)) / 255

    dataset = FashionMNIST(root=data_dir, train=False, verify=False, transform=to_array,
                           target_transform=lambda y: y + 100)
    x, y = dataset[5]
    assert isinstance(seen[0], Image.Image) and seen[0].mode == "L" and seen[0].size == (28, 28)
    assert torch.equal(x, dataset.images[5].float() / 255) and y == int(dataset.labels[5]) + 100
    plain = FashionMNIST(root=data_dir, train=False, verify=False)
    assert plain[5][0].shape == (1, 28, 28) and plain[5][1] == int(dataset.labels[5])   # the built-in transform


def test_the_course_helper_trains_through_a_transform(data_dir):
    """A transformed dataset cannot be sliced from memory: train() goes through DataLoaders and sees the transform."""
    import rowrnn
    from torch.utils.data import DataLoader
    calls = []

    def transform(img):
        calls.append(1)
        return (torch.from_numpy(np.array(img, dtype=np.float32)) / 127.5 - 1).unsqueeze(0)

    dataset = rowrnn.FashionMNIST(root=data_dir, train=True, verify=False, transform=transform)
    model = rowrnn.RNNClassifier()
    history = rowrnn.train(model, DataLoader(dataset, batch_size=64, shuffle=True), 1, torch.nn.CrossEntropyLoss(),
                           torch.optim.Adam(model.parameters()), validation_split=0.1, verbose=False, seed=0)
    assert len(calls) == 400 and len(history["val_loss"]) == 1


@pytest.mark.parametrize("shape", [(2**21, 2**21, 2**22),          # numpy's int64 product wraps to 0 bytes
                                   (2**32 - 1, 2**32 - 1, 2**32 - 1), (60000, 28, 2**20), (2**30, 28, 28)])
def test_an_idx_header_with_absurd_dimensions_is_one_line_before_allocating(tmp_path, capsys, shape):
    import struct
    d = write_dataset(tmp_path / "d", compress=False)
    (d / "train-images-idx3-ubyte").write_bytes(struct.pack(">I", 0x0803) + struct.pack(">3I", *shape))
    from rowrnn.cli import main
    assert main(["train", "--no-verify", "--data-dir", str(d), "--out", str(tmp_path / "run")]) == 2
    size = shape[0] * shape[1] * shape[2]
    assert capsys.readouterr().err == (
        f"rowrnn: error: {d / 'train-images-idx3-ubyte'}: IDX header promises shape {shape} ({size:,} bytes), over "
        "the limit of 200 MB for a Fashion-MNIST-format file: it is damaged or not such a file; replace it with the "
        "original file\n")
    assert not (tmp_path / "run").exists()


def test_fashion_mnist_fills_an_empty_root_from_a_local_copy(real_data, tmp_path, monkeypatch):
    """The course's FashionMNIST(root="data", train=True, download=True) in a fresh folder, as torchvision."""
    from rowrnn import data
    monkeypatch.delenv("ROWRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (real_data,))
    monkeypatch.setattr(data, "download", lambda *a, **k: pytest.fail("downloaded although a copy was here"))
    root = tmp_path / "data"
    test_set = data.FashionMNIST(root=str(root), train=False, download=True)
    assert sorted(p.name for p in root.iterdir()) == sorted(f"{b}.gz" for b in data.SHA256)
    assert len(test_set) == 10_000 and int(test_set.labels[0]) == 9
    assert (root / "t10k-images-idx3-ubyte.gz").read_bytes() == (real_data / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert len(data.FashionMNIST(root=root, train=True, download=False)) == 60_000   # then read from root


def test_fashion_mnist_completes_a_root_a_cut_short_fill_left(real_data, tmp_path, monkeypatch):
    """A fill interrupted after the training files (Ctrl-C, a full disk) is completed by the next download=True,
    the files already there kept as they are; without download the missing split is named."""
    from rowrnn import data
    from rowrnn.errors import RowrnnError
    monkeypatch.delenv("ROWRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (real_data,))
    root = tmp_path / "data"
    root.mkdir()
    for base in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (root / f"{base}.gz").write_bytes((real_data / f"{base}.gz").read_bytes())
    kept = (root / "train-images-idx3-ubyte.gz").stat()
    with pytest.raises(RowrnnError, match=r"no t10k-images-idx3-ubyte\.gz .*put the four Fashion-MNIST files there"):
        data.FashionMNIST(root=root, train=False, download=False)
    test_set = data.FashionMNIST(root=root, train=False, download=True)
    assert len(test_set) == 10_000 and int(test_set.labels[0]) == 9
    assert sorted(p.name for p in root.iterdir()) == sorted(f"{b}.gz" for b in data.SHA256)
    assert (root / "train-images-idx3-ubyte.gz").stat().st_mtime_ns == kept.st_mtime_ns   # not copied again


def test_fashion_mnist_downloads_into_an_empty_root(real_data, tmp_path, monkeypatch):
    """No copy on this machine: the files come from the download URL (here served on 127.0.0.1)."""
    import functools
    import http.server
    import threading
    from rowrnn import data
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(real_data))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("ROWRNN_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        monkeypatch.setenv("ROWRNN_DATA_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        monkeypatch.setattr(data, "SYSTEM_DIRS", (tmp_path / "none",))
        test_set = data.FashionMNIST(root=tmp_path / "fresh", train=False)
    finally:
        server.shutdown()
    assert len(test_set) == 10_000 and (tmp_path / "fresh" / "train-images-idx3-ubyte.gz").is_file()


def test_fashion_mnist_without_download_names_the_python_arguments(tmp_path):
    from rowrnn import data
    with pytest.raises(RowrnnError) as e:
        data.FashionMNIST(root=tmp_path / "empty", download=False)
    assert str(e.value) == (f"root={str(tmp_path / 'empty')!r} holds no Fashion-MNIST files and download=False: "
                            "pass download=True to fetch them, or a root= folder that holds the four files")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(RowrnnError) as e:
        data.FashionMNIST(root=tmp_path / "partial", download=False)
    assert "--data-dir" not in str(e.value) and "--no-verify" not in str(e.value)


def test_fashion_mnist_found_nowhere_names_root_not_the_flag(isolated_sources):
    from rowrnn import data
    with pytest.raises(RowrnnError) as e:
        data.FashionMNIST(train=False)
    message = str(e.value)
    assert message.startswith("Fashion-MNIST not found; tried cache:") and "--data-dir" not in message
    assert message.endswith("set ROWRNN_DATA or root to a directory with the four IDX files, or connect to the internet")
