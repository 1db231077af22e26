"""Each epoch's weights in the store: compact, read back as written, and a damaged file is an ArtifactError."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore, Run
from artifacts import format as fmt
from artifacts.validate import weight_shapes
from tests.artifacts import helpers


def random_weights(run: Run, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=shape).astype(np.float32) for key, shape in weight_shapes(run.manifest(),
                                                                                            run.run_id).items()}


@pytest.fixture
def run(tmp_path) -> Run:
    return helpers.make_run(ArtifactStore(tmp_path / "store"), "weights-run")


def test_shapes_follow_the_config():
    shapes = weight_shapes({fmt.KEY_CONFIG: helpers.CONFIG.to_dict()}, "r")
    # The default network: 32 then 64 3x3 filters, each pooled (28 -> 26 -> 13 -> 11 -> 5), 128 units.
    assert shapes == {
        "conv_1__kernel": (3, 3, 1, 32), "conv_1__bias": (32,),
        "conv_2__kernel": (3, 3, 32, 64), "conv_2__bias": (64,),
        "dense__kernel": (5 * 5 * 64, 128), "dense__bias": (128,),
        "output__kernel": (128, 10), "output__bias": (10,),
    }


def test_every_epoch_is_float16_and_the_last_float32(run):
    written = {epoch: random_weights(run, epoch) for epoch in range(helpers.EPOCHS + 1)}
    for epoch, weights in written.items():
        run.write_weights(epoch, weights, final=epoch == helpers.EPOCHS)
    assert run.weight_epochs() == list(range(helpers.EPOCHS + 1))
    for epoch, weights in written.items():
        stored = run.weights(epoch)
        assert set(stored) == set(weights)
        for key, array in weights.items():
            if epoch == helpers.EPOCHS:
                assert stored[key].dtype == np.float32
                np.testing.assert_array_equal(stored[key], array)
            else:
                assert stored[key].dtype == np.float16
                np.testing.assert_array_equal(stored[key], array.astype(np.float16))


def test_a_run_without_weights_has_no_weight_epochs(run):
    assert run.weight_epochs() == []
    with pytest.raises(ArtifactError, match="missing"):
        run.weights(1)


def test_weights_that_do_not_fit_the_config_are_refused_on_write(run):
    weights = random_weights(run)
    weights["dense__kernel"] = np.zeros((10, 128), dtype=np.float32)
    with pytest.raises(ValueError, match="dense__kernel"):
        run.write_weights(1, weights)
    weights = random_weights(run)
    del weights["output__bias"]
    with pytest.raises(ValueError, match="output__bias"):
        run.write_weights(1, weights)
    assert run.weight_epochs() == []


def rewrite(run: Run, epoch: int, arrays: dict[str, np.ndarray]) -> None:
    """Write a weights file as a damaged or hostile writer would, past the store's checks."""
    np.savez(run.weights_path(epoch), **arrays)


@pytest.mark.parametrize("damage, reason", [
    ("truncated", "corrupted"),
    ("garbage", "corrupted"),
    ("missing key", "missing arrays"),
    ("wrong shape", "shape"),
    ("integers", "expected floats"),
    ("nan", "NaN or infinity"),
])
def test_a_damaged_weights_file_raises_artifact_error(run, damage, reason):
    weights = random_weights(run)
    run.write_weights(1, weights)
    path = run.weights_path(1)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04 not an archive")
    elif damage == "missing key":
        rewrite(run, 1, {key: value for key, value in weights.items() if key != "conv_2__bias"})
    elif damage == "wrong shape":
        rewrite(run, 1, {**weights, "conv_2__bias": np.zeros(63, np.float32)})
    elif damage == "integers":
        rewrite(run, 1, {**weights, "conv_2__bias": np.zeros(64, np.int32)})
    else:
        rewrite(run, 1, {**weights, "conv_2__bias": np.full(64, np.nan, np.float32)})
    with pytest.raises(ArtifactError, match=reason) as caught:
        run.weights(1)
    assert caught.value.run_id == "weights-run" and caught.value.filename == f"{fmt.WEIGHTS_DIR}/epoch_001.npz"


def test_a_weights_file_too_large_for_the_config_is_refused_before_it_is_read(run):
    weights = random_weights(run)
    run.write_weights(1, weights)
    rewrite(run, 1, {**weights, "dense__kernel": np.zeros((1600, 128_000), np.float16)})
    with pytest.raises(ArtifactError, match="larger than the run's"):
        run.weights(1)


def test_an_invalid_epoch_is_refused(run):
    for epoch in (-1, "1", 1.0, True):
        with pytest.raises(ArtifactError, match="invalid epoch"):
            run.weights(epoch)
