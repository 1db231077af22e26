"""Data sources: IDX folders (gzipped and plain), npz, mnist-sample, auto offline; seeded probes and splits."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.data import (
    IDX_NAMES,
    DataSourceError,
    choose_probes,
    load_dataset,
    mnist_cached,
    stratified_split,
    train_validation_split,
)


def fake_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8), (np.arange(count) % 10).astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    if array.ndim == 1:
        return struct.pack(">ii", 2049, len(array)) + array.tobytes()
    return struct.pack(">iiii", 2051, *array.shape) + array.tobytes()


def write_idx_folder(folder: Path, gz: bool) -> dict[str, np.ndarray]:
    x_train, y_train = fake_digits(50, 1)
    x_test, y_test = fake_digits(20, 2)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_idx_folder(tmp_path, gz):
    arrays = write_idx_folder(tmp_path / "digits", gz)
    dataset = load_dataset(f"idx:{tmp_path / 'digits'}")
    for key, array in arrays.items():
        np.testing.assert_array_equal(getattr(dataset, key), array)
        assert getattr(dataset, key).dtype == np.uint8
    assert dataset.name == "digits" and dataset.source.startswith("idx:")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.unlink(), "lacks t10k-labels-idx1-ubyte"),
        (lambda p: p.write_bytes(p.read_bytes()[:-3]), "expected"),
        (lambda p: p.write_bytes(struct.pack(">ii", 2050, 3) + b"abc"), "magic"),
        (lambda p: p.write_bytes(b"abc"), "too short"),
    ],
)
def test_damaged_idx_folder(tmp_path, damage, message):
    write_idx_folder(tmp_path, gz=False)
    damage(tmp_path / IDX_NAMES["y_test"])
    with pytest.raises(DataSourceError, match=message):
        load_dataset(f"idx:{tmp_path}")


def test_idx_labels_out_of_range(tmp_path):
    arrays = write_idx_folder(tmp_path, gz=False)
    (tmp_path / IDX_NAMES["y_train"]).write_bytes(idx_bytes(arrays["y_train"] + 10))
    with pytest.raises(DataSourceError, match="labels must be 0-9"):
        load_dataset(f"idx:{tmp_path}")


def test_npz(tmp_path):
    x_train, y_train = fake_digits(30, 3)
    x_test, y_test = fake_digits(10, 4)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    dataset = load_dataset(f"npz:{tmp_path / 'mnist.npz'}")
    np.testing.assert_array_equal(dataset.x_test, x_test)
    np.testing.assert_array_equal(dataset.y_train, y_train)
    np.savez(tmp_path / "bad.npz", x_train=x_train)
    with pytest.raises(DataSourceError, match="lacks"):
        load_dataset(f"npz:{tmp_path / 'bad.npz'}")
    for name, content in (("garbage", b"not a zip at all"), ("fake-zip", b"PK\x03\x04 not really"),
                          ("truncated", (tmp_path / "mnist.npz").read_bytes()[:500])):
        (tmp_path / f"{name}.npz").write_bytes(content)
        with pytest.raises(DataSourceError, match="cannot read"):
            load_dataset(f"npz:{tmp_path / name}.npz")


def test_unknown_sources():
    for source in ("", "cifar", "idx", "npz", None):
        with pytest.raises(DataSourceError, match="unknown dataset"):
            load_dataset(source)
    with pytest.raises(DataSourceError, match="does not exist"):
        load_dataset("idx:/no/such/folder")


def test_mnist_sample_is_real_and_split():
    dataset = load_dataset("mnist-sample", seed=5)
    assert (len(dataset.x_train), len(dataset.x_test)) == (4500, 500)
    assert np.bincount(dataset.y_test, minlength=10).min() >= 40
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.max() == 255
    again = load_dataset("mnist-sample", seed=5)
    np.testing.assert_array_equal(again.y_test, dataset.y_test)


def test_auto_picks_the_sample_when_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    asked = []
    dataset = load_dataset("auto", online=lambda: asked.append(True) or False)
    assert asked == [True]
    assert dataset.name == "mnist-sample" and dataset.notes["chosen_by"] == "auto"


def test_mnist_cache_is_found_under_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert not mnist_cached()
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_bytes(b"")
    assert mnist_cached()


def test_probes_are_fixed_seeded_and_per_class():
    labels = np.repeat(np.arange(10), 30)
    probes = choose_probes(labels, 10, seed=3)
    assert len(probes) == 100
    assert list(np.bincount(labels[probes])) == [10] * 10
    assert list(labels[probes]) == sorted(labels[probes])  # grouped by class
    np.testing.assert_array_equal(probes, choose_probes(labels, 10, seed=3))
    assert not np.array_equal(probes, choose_probes(labels, 10, seed=4))
    few = choose_probes(np.array([0, 0, 1]), 10, seed=3)
    assert sorted(few) == [0, 1, 2]


def test_splits_are_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), 50)
    train, validation = train_validation_split(labels, 0.1, seed=1)
    assert len(set(train) & set(validation)) == 0 and len(train) + len(validation) == 500
    assert list(np.bincount(labels[validation])) == [5] * 10
    held, kept = stratified_split(labels, 0.2, seed=1)
    assert len(held) == 100 and np.all(np.diff(held) > 0) and np.all(np.diff(kept) > 0)


# -- class names ----------------------------------------------------------------------


def test_an_idx_folder_of_digits_has_digit_class_names(tmp_path):
    write_idx_folder(tmp_path / "digits", gz=True)
    assert load_dataset(f"idx:{tmp_path / 'digits'}").class_names == tuple("0123456789")


@pytest.mark.parametrize("name", ["fashion-mnist", "Fashion_MNIST", "FashionMNIST"])
def test_a_fashion_mnist_folder_has_clothing_class_names(tmp_path, name):
    write_idx_folder(tmp_path / name, gz=True)
    names = load_dataset(f"idx:{tmp_path / name}").class_names
    assert len(names) == 10 and names[0] == "T-shirt/top" and names[9] == "Ankle boot"


def test_class_names_txt_names_the_classes_of_any_folder(tmp_path):
    write_idx_folder(tmp_path / "letters", gz=False)
    wanted = [f"letter {chr(65 + k)}" for k in range(10)]
    (tmp_path / "letters" / "class_names.txt").write_text("\n".join(wanted) + "\n")
    assert load_dataset(f"idx:{tmp_path / 'letters'}").class_names == tuple(wanted)
    (tmp_path / "letters" / "class_names.txt").write_text("a\nb\n")
    with pytest.raises(DataSourceError, match="must list 10 class names"):
        load_dataset(f"idx:{tmp_path / 'letters'}")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debians_fashion_mnist_package_is_recognised():
    from pipeline.data import idx_class_names

    assert idx_class_names(Path("/usr/share/datasets/fashion-mnist"))[0] == "T-shirt/top"
