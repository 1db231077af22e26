"""Every test digit's answer and features per epoch in the store: compact, read back as written, bounded."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore, Run
from artifacts import format as fmt
from tests.artifacts import helpers

N = helpers.DATASET["test_size"]
UNITS = helpers.CONFIG.dense_units


def record(seed: int = 0, n: int = N, k: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        fmt.TEST_PREDICTED: rng.integers(0, 10, n),
        fmt.TEST_TRUE_PROBABILITY: rng.uniform(0, 1, n),
        fmt.TEST_FEATURE_INDEX: np.sort(rng.choice(n, k, replace=False)),
        fmt.TEST_FEATURES: rng.normal(size=(k, UNITS)),
    }


@pytest.fixture
def run(tmp_path) -> Run:
    return helpers.make_run(ArtifactStore(tmp_path / "store"), "test-epochs-run")


def test_every_epoch_reads_back_in_its_compact_dtypes(run):
    written = {epoch: record(epoch, k=N - epoch) for epoch in range(helpers.EPOCHS + 1)}
    for epoch, arrays in written.items():
        run.write_test_epoch(epoch, arrays)
    assert run.test_epochs() == list(range(helpers.EPOCHS + 1))
    dtypes = {fmt.TEST_PREDICTED: np.uint8, fmt.TEST_TRUE_PROBABILITY: np.float16, fmt.TEST_FEATURE_INDEX: np.int32,
              fmt.TEST_FEATURES: np.float16}
    for epoch, arrays in written.items():
        stored = run.test_epoch(epoch)
        assert set(stored) == set(fmt.TEST_EPOCH_KEYS)
        for key, dtype in dtypes.items():
            assert stored[key].dtype == dtype
            np.testing.assert_array_equal(stored[key], arrays[key].astype(dtype))


def test_a_run_from_before_has_no_test_epochs(run):
    assert run.test_epochs() == []
    with pytest.raises(ArtifactError, match="missing"):
        run.test_epoch(1)


def test_a_record_whose_arrays_disagree_is_refused_on_write(run):
    arrays = record()
    with pytest.raises(ValueError, match="length"):
        run.write_test_epoch(1, {**arrays, fmt.TEST_FEATURES: arrays[fmt.TEST_FEATURES][:-1]})
    with pytest.raises(ValueError, match="exactly"):
        run.write_test_epoch(1, {key: value for key, value in arrays.items() if key != fmt.TEST_PREDICTED})
    assert run.test_epochs() == []


def rewrite(run: Run, epoch: int, arrays: dict[str, np.ndarray]) -> None:
    """Write a record as a damaged or hostile writer would, past the store's checks."""
    np.savez(run.test_epoch_path(epoch), **arrays)


@pytest.mark.parametrize("damage, reason", [
    ("truncated", "corrupted"),
    ("garbage", "corrupted"),
    ("missing key", "missing arrays"),
    ("class 10", "classes outside"),
    ("probability above 1", "outside \\[0, 1\\]"),
    ("nan features", "NaN or infinity"),
    ("unsorted index", "not ascending"),
    ("index past the end", "not ascending"),
    ("lengths differ", "different lengths"),
    ("float classes", "not integers"),
    ("oversized", "larger than the run's"),
    ("wider features", "larger than the run's"),
])
def test_a_damaged_record_raises_artifact_error(run, damage, reason):
    arrays = {key: value for key, value in record().items()}
    run.write_test_epoch(1, arrays)
    path = run.test_epoch_path(1)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04 not an archive")
    elif damage == "missing key":
        rewrite(run, 1, {key: value for key, value in arrays.items() if key != fmt.TEST_FEATURES})
    elif damage == "class 10":
        rewrite(run, 1, {**arrays, fmt.TEST_PREDICTED: np.full(N, 10, np.uint8)})
    elif damage == "probability above 1":
        rewrite(run, 1, {**arrays, fmt.TEST_TRUE_PROBABILITY: np.full(N, 1.5, np.float16)})
    elif damage == "nan features":
        rewrite(run, 1, {**arrays, fmt.TEST_FEATURES: np.full((N, UNITS), np.nan, np.float16)})
    elif damage == "unsorted index":
        rewrite(run, 1, {**arrays, fmt.TEST_FEATURE_INDEX: np.arange(N)[::-1].astype(np.int32)})
    elif damage == "index past the end":
        rewrite(run, 1, {**arrays, fmt.TEST_FEATURE_INDEX: np.arange(N).astype(np.int32) + 1})
    elif damage == "lengths differ":
        rewrite(run, 1, {**arrays, fmt.TEST_TRUE_PROBABILITY: np.zeros(N - 1, np.float16)})
    elif damage == "float classes":
        rewrite(run, 1, {**arrays, fmt.TEST_PREDICTED: np.zeros(N, np.float32)})
    elif damage == "oversized":
        rewrite(run, 1, {**arrays, fmt.TEST_PREDICTED: np.zeros(10_000_000, np.uint8)})
    else:
        rewrite(run, 1, {**arrays, fmt.TEST_FEATURES: np.zeros((N, UNITS + 1), np.float16)})
    with pytest.raises(ArtifactError, match=reason) as caught:
        run.test_epoch(1)
    assert caught.value.run_id == "test-epochs-run"
    assert caught.value.filename == f"{fmt.TEST_EPOCHS_DIR}/epoch_001.npz"


def test_an_invalid_epoch_is_refused(run):
    for epoch in (-1, "1", 1.0, True):
        with pytest.raises(ArtifactError, match="invalid epoch"):
            run.test_epoch(epoch)
