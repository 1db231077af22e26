"""An imported model's layer graph and weights (issue 16): validated on read, a damaged record is an ArtifactError,
and runs imported before the graph was recorded still read."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore, Manifest
from artifacts import format as fmt
from artifacts.io import write_npz
from artifacts.validate import weight_shapes


def layer(name, kind, shape, params=0, inbound=(), **config) -> dict:
    return {"name": name, "class_name": kind, "output_shape": list(shape), "params": params,
            fmt.LAYER_INBOUND: list(inbound), fmt.LAYER_CONFIG: config}


CONV = dict(filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same", activation="relu", use_bias=True)
GRAPH = [
    layer("pixels", "InputLayer", [28, 28, 1]),
    layer("conv", "Conv2D", [28, 28, 4], 40, ["pixels"], **CONV),
    layer("norm", "BatchNormalization", [28, 28, 4], 16, ["conv"], axis=-1, epsilon=0.001, center=True, scale=False),
    layer("add", "Add", [28, 28, 4], 0, ["conv", "norm"]),
    layer("depth", "DepthwiseConv2D", [13, 13, 8], 80, ["add"], kernel_size=[3, 3], strides=[2, 2],
          padding="valid", activation="linear", use_bias=True, depth_multiplier=2),
    layer("flat", "Flatten", [1352], 0, ["depth"]),
    layer("out", "Dense", [10], 13530, ["flat"], units=10, activation="softmax", use_bias=False),
]
SHAPES = {"conv__kernel": (3, 3, 1, 4), "conv__bias": (4,), "norm__beta": (4,), "norm__moving_mean": (4,),
          "norm__moving_variance": (4,), "depth__kernel": (3, 3, 4, 2), "depth__bias": (8,),
          "out__kernel": (1352, 10)}


def manifest(layers=GRAPH) -> dict:
    return {"schema_version": fmt.SCHEMA_VERSION, "run_id": "r1", "status": "complete",
            "created": "2024-01-02T03:04:05+00:00", "config": {}, "dataset": {"source": "mnist-sample"},
            fmt.KEY_SOURCE: fmt.SOURCE_IMPORTED, fmt.KEY_LAYERS: layers,
            fmt.KEY_IMPORT: {"file": "m.keras", "input_shape": [28, 28, 1], "input_scale": 255,
                             "softmax_applied": False}}


def changed(index: int, **fields) -> list[dict]:
    layers = [dict(item) for item in GRAPH]
    layers[index] = {**layers[index], **fields}
    return layers


def test_the_graph_reads_as_layer_specs_with_activation_detail_and_inbound():
    specs = Manifest.from_dict(manifest(), "r1").layers()
    assert [spec.kind for spec in specs] == ["Input", "Conv2D", "BatchNormalization", "Add", "DepthwiseConv2D",
                                             "Flatten", "Dense"]
    assert specs[0].detail == "raw pixels 0-255" and specs[0].inbound == ()
    assert (specs[1].activation, specs[1].detail) == ("relu", "3x3, stride 1, same")
    assert specs[3].inbound == ("conv", "norm") and specs[3].detail == "conv + norm"
    assert (specs[4].activation, specs[4].detail) == ("", "3x3, stride 2, valid, depth multiplier 2")
    assert specs[6].activation == "softmax" and specs[6].output_shape == (10,) and specs[6].params == 13530


def test_a_layer_list_without_the_graph_still_reads():
    older = [{key: item[key] for key in fmt.LAYER_FIELDS} for item in GRAPH]
    specs = Manifest.from_dict(manifest(older), "r1").layers()
    assert [spec.name for spec in specs] == [item["name"] for item in GRAPH]
    assert specs[1].detail == "" and specs[1].inbound == ()
    with pytest.raises(ArtifactError, match="layer graph is not recorded"):
        weight_shapes(manifest(older), "r1")


@pytest.mark.parametrize("layers, reason", [
    (changed(1, inbound=["flat"]), "takes its input from 'flat', which is not an earlier layer"),
    (changed(1, inbound=["nowhere"]), "not an earlier layer"),
    (changed(1, inbound="pixels"), "invalid inbound"),
    (changed(1, inbound=["pixels"] * (fmt.MAX_INBOUND + 1)), "invalid inbound"),
    (changed(1, inbound=[3]), "not an earlier layer"),
    (changed(1, output_shape=[4096, 4096, 4]), "outputs more than"),
    (changed(0, inbound=["conv"]), "not an earlier layer"),
    (changed(2, name="conv"), "repeats an earlier layer's name"),
    (changed(1, config=[]), "config that is a list"),
    (changed(1, config={**CONV, "kernel_initializer": "glorot"}), "unknown config key 'kernel_initializer'"),
    (changed(1, config={**CONV, "kernel_size": [3, 300]}), "invalid kernel_size"),
    (changed(1, config={**CONV, "kernel_size": [3, 3, 3]}), "invalid kernel_size"),
    (changed(1, config={**CONV, "strides": [True, 1]}), "invalid strides"),
    (changed(1, config={**CONV, "padding": "causal"}), "invalid padding"),
    (changed(1, config={**CONV, "activation": "relu; rm -rf"}), "invalid activation"),
    (changed(1, config={**CONV, "filters": 0}), "invalid filters"),
    (changed(1, config={**CONV, "use_bias": 1}), "invalid use_bias"),
    (changed(2, config={"axis": -1, "epsilon": -1.0, "center": True, "scale": False}), "invalid epsilon"),
    (changed(1, unexpected=1), "is not an object of"),
])
def test_a_corrupted_graph_is_refused(layers, reason):
    with pytest.raises(ArtifactError, match=reason.replace("(", r"\(")):
        Manifest.from_dict(manifest(layers), "r1")


def test_weight_shapes_follow_the_graph():
    assert weight_shapes(manifest(), "r1") == SHAPES


@pytest.mark.parametrize("layers, reason", [
    (changed(1, config={key: value for key, value in CONV.items() if key != "filters"}), "does not record"),
    (changed(1, output_shape=[28, 28, 5]), "outputs 5 channels, but its config gives 4"),
    (changed(1, output_shape=[28, 28, None]), "no known channels"),
    ([*GRAPH[:5], layer("flat", "Flatten", [2**21], 0, ["depth"]),
      layer("out", "Dense", [64], 0, ["flat"], units=64, activation="linear", use_bias=False)],
     "gives more than 67,108,864 weights"),
])
def test_weights_whose_shapes_the_graph_cannot_give_are_refused(layers, reason):
    with pytest.raises(ArtifactError, match=reason):
        weight_shapes(manifest(layers), "r1")


@pytest.fixture
def run(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    data = manifest()
    return store.create_run("r1", {key: value for key, value in data.items() if key not in
                                   ("schema_version", "run_id", "status", "created")})


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=shape).astype(np.float32) for key, shape in SHAPES.items()}


def test_imported_weights_round_trip_in_float32(run):
    written = weights()
    run.write_weights(fmt.IMPORTED_WEIGHTS_EPOCH, written, final=True)
    stored = run.weights(fmt.IMPORTED_WEIGHTS_EPOCH)
    assert set(stored) == set(written)
    for key, value in written.items():
        assert stored[key].dtype == np.float32
        np.testing.assert_array_equal(stored[key], value)


def test_weights_that_do_not_fit_the_graph_are_refused_on_write(run):
    wrong = {**weights(), "conv__kernel": np.zeros((5, 5, 1, 4), np.float32)}
    with pytest.raises(ValueError, match="conv__kernel"):
        run.write_weights(0, wrong, final=True)
    with pytest.raises(ValueError):
        run.write_weights(0, {**weights(), "norm__gamma": np.ones(4, np.float32)}, final=True)


@pytest.mark.parametrize("damage, reason", [
    (lambda arrays: arrays.update({"depth__kernel": np.zeros((3, 3, 4, 3), np.float32)}), "depth__kernel"),
    (lambda arrays: arrays.pop("norm__moving_variance"), "missing arrays"),
    (lambda arrays: arrays.update({"conv__bias": np.array([1, np.nan, 0, 0], np.float32)}), "NaN"),
    (lambda arrays: arrays.update({"out__kernel": np.zeros((1352, 10), np.int32)}), "expected floats"),
])
def test_a_damaged_weights_file_is_an_artifact_error(run, damage, reason):
    arrays = weights()
    damage(arrays)
    write_npz(run.weights_path(0), arrays)
    with pytest.raises(ArtifactError, match=reason):
        run.weights(0)
