"""Snapshots store a pooled block's activations once (in its convolution's) and read them back exactly."""

from __future__ import annotations

import zipfile

import numpy as np

from artifacts import ArtifactStore
from artifacts import format as fmt
from artifacts.config import ConvBlock, TrainConfig
from artifacts.snapshots import max_pool


def _snapshot(config: TrainConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random float16 conv maps of the config's shapes, with their pooled maps as Keras gives them."""
    from artifacts.config import layer_plan

    arrays = {fmt.SNAPSHOT_PROBE_INDEX: np.arange(3)}
    for spec in layer_plan(config):
        if spec.kind == "Conv2D":
            arrays[fmt.ACTIVATION_PREFIX + spec.name] = rng.random((3, *spec.output_shape)).astype(np.float16)
    for spec in layer_plan(config):
        if spec.kind == "MaxPooling2D":
            conv = arrays[fmt.ACTIVATION_PREFIX + spec.name.replace("pool", "conv")]
            # A pooling window taken directly, as MaxPooling2D does, not through artifacts.snapshots.
            h, w, c = spec.output_shape
            pooled = np.empty((3, h, w, c), np.float16)
            for i in range(h):
                for j in range(w):
                    pooled[:, i, j, :] = conv[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :].max(axis=(1, 2))
            arrays[fmt.ACTIVATION_PREFIX + spec.name] = pooled
    return arrays


def test_pooled_maps_are_not_stored_and_read_back_equal(tmp_path):
    # Odd map sizes (13 -> 6 after valid 3x3 conv and pool) and a block without pooling.
    config = TrainConfig(conv_blocks=(ConvBlock(filters=4, kernel_size=3), ConvBlock(filters=6, kernel_size=3),
                                      ConvBlock(filters=5, kernel_size=3, pooling=False)))
    store = ArtifactStore(tmp_path / "store")
    run = store.create_run("pooled", {fmt.KEY_CONFIG: config.to_dict()})
    written = _snapshot(config, np.random.default_rng(0))
    run.write_snapshot(1, written)
    with zipfile.ZipFile(run.path / fmt.SNAPSHOT_DIR / fmt.snapshot_name(1)) as archive:
        stored = {name.removesuffix(".npy") for name in archive.namelist()}
    assert not any(key.startswith(fmt.ACTIVATION_PREFIX + "pool") for key in stored)
    assert fmt.ACTIVATION_PREFIX + "conv_3" in stored
    read = run.snapshot(1)
    assert set(read) == set(written)
    for key, array in written.items():
        assert read[key].dtype == array.dtype and read[key].shape == array.shape, key
        np.testing.assert_array_equal(read[key], array, err_msg=key)


def test_a_pooled_map_that_is_not_the_max_of_its_conv_is_kept(tmp_path):
    """Only what can be derived exactly is left out: other arrays are stored as given."""
    config = TrainConfig(conv_blocks=(ConvBlock(filters=4, kernel_size=3),))
    store = ArtifactStore(tmp_path / "store")
    run = store.create_run("kept", {fmt.KEY_CONFIG: config.to_dict()})
    written = _snapshot(config, np.random.default_rng(1))
    written[fmt.ACTIVATION_PREFIX + "pool_1"] = written[fmt.ACTIVATION_PREFIX + "pool_1"] * 0
    run.write_snapshot(0, written)
    np.testing.assert_array_equal(run.snapshot(0)[fmt.ACTIVATION_PREFIX + "pool_1"],
                                  written[fmt.ACTIVATION_PREFIX + "pool_1"])


def test_max_pool_trims_an_odd_edge():
    maps = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1)
    pooled = max_pool(maps)
    assert pooled.shape == (2, 2, 2, 1)
    assert pooled[0, 1, 1, 0] == maps[0, 3, 3, 0]
