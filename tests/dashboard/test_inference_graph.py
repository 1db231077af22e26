"""The numpy engine of a recorded layer graph without TensorFlow: its gradients against finite differences, and a
clear refusal (naming the layer) for every graph it cannot run. Keras comparisons:
tests/pipeline/test_imported_engine.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import format as fmt
from dashboard.inference import attribution as attr
from dashboard.inference.graph import GraphNetwork, UnsupportedModel
from dashboard.inference.network import LOGIT, PROBABILITY


def layer(name, kind, shape, inbound=(), **config) -> dict:
    return {"name": name, "class_name": kind, "output_shape": list(shape), "params": 0,
            fmt.LAYER_INBOUND: list(inbound), fmt.LAYER_CONFIG: config}


CONV = dict(kernel_size=[3, 2], strides=[2, 1], padding="same", activation="tanh", use_bias=True, filters=3)
GRAPH = [
    layer("in", "InputLayer", [28, 28, 1]),
    layer("conv", "Conv2D", [14, 28, 3], ["in"], **CONV),
    layer("pool", "AveragePooling2D", [5, 10, 3], ["conv"], pool_size=[3, 3], strides=[3, 3], padding="same"),
    layer("norm", "BatchNormalization", [5, 10, 3], ["pool"], axis=-1, epsilon=0.01, center=True, scale=True),
    layer("act", "Activation", [5, 10, 3], ["norm"], activation="elu"),
    layer("sum", "Add", [5, 10, 3], ["pool", "act"]),
    layer("depth", "DepthwiseConv2D", [3, 8, 6], ["sum"], kernel_size=[3, 3], strides=[1, 1], padding="valid",
          activation="sigmoid", use_bias=True, depth_multiplier=2),
    layer("max", "MaxPooling2D", [2, 4, 6], ["depth"], pool_size=[2, 2], strides=[2, 2], padding="same"),
    layer("flat", "Flatten", [48], ["max"]),
    layer("out", "Dense", [10], ["flat"], units=10, activation="softmax", use_bias=True),
]


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"conv__kernel": (3, 2, 1, 3), "conv__bias": (3,), "norm__gamma": (3,), "norm__beta": (3,),
              "norm__moving_mean": (3,), "depth__kernel": (3, 3, 3, 2), "depth__bias": (6,),
              "out__kernel": (48, 10), "out__bias": (10,)}
    arrays = {key: rng.normal(0, 0.7, shape).astype(np.float32) for key, shape in shapes.items()}
    arrays["norm__moving_variance"] = rng.uniform(0.5, 2, 3).astype(np.float32)
    return arrays


def digits() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.uniform(0, 255, (2, 28, 28)).astype(np.float32)


def numeric_gradient(score, images: np.ndarray, points: list[tuple[int, int, int]], step: float = 0.5) -> np.ndarray:
    result = []
    for n, i, j in points:
        up, down = images.astype(np.float64), images.astype(np.float64)
        up[n, i, j] += step
        down[n, i, j] -= step
        result.append((score(up) - score(down)) / (2 * step))
    return np.asarray(result)


@pytest.mark.parametrize("score", [PROBABILITY, LOGIT])
def test_pixel_gradients_equal_finite_differences(score):
    network = GraphNetwork(GRAPH, weights(), 1, False)
    images = digits()
    cls = 4
    passed = network.gradients(images, cls, score=score)

    def value(batch: np.ndarray) -> float:  # in float64 (the weights' float32 values), so differences are exact
        final, _, _ = network._forward(batch)
        values = network._probabilities(final) if score == PROBABILITY else final
        return float(values[:, cls].sum())

    rng = np.random.default_rng(3)
    points = [(int(n), int(i), int(j)) for n, i, j in zip(rng.integers(0, 2, 24), rng.integers(0, 28, 24),
                                                          rng.integers(0, 28, 24), strict=True)]
    expected = numeric_gradient(value, images, points)
    ours = np.asarray([passed.pixels[n, i, j] for n, i, j in points])
    np.testing.assert_allclose(ours, expected, rtol=2e-2, atol=2e-3 * float(np.abs(expected).max()))


def test_a_final_softmax_is_split_off_and_the_probabilities_add_up():
    network = GraphNetwork(GRAPH, weights(), 255, False)
    result = network.analyse(digits())
    assert network.final_softmax and [name for name, _ in result.activations] == [item["name"] for item in GRAPH[1:]]
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(dict(result.activations)["out"], result.probabilities)
    assert result.saliency.shape == (2, 28, 28) and float(result.saliency.max()) == pytest.approx(1.0)
    maps = attr.gradcam(network, digits()[0], "depth")
    assert maps.heatmap.shape == (28, 28) and maps.coarse.shape == (3, 8)


def replaced(index: int, **fields) -> list[dict]:
    layers = [dict(item) for item in GRAPH]
    layers[index] = {**layers[index], **fields}
    return layers


@pytest.mark.parametrize("layers, message", [
    (replaced(2, class_name="FractionalMaxPooling2D"),
     r"layer pool \(class FractionalMaxPooling2D\) is not supported by the in-browser engine"),
    (replaced(4, config={"activation": "custom"}), r"layer act \(class Activation\).*activation 'custom'"),
    (replaced(1, config={**CONV, "data_format": "channels_first"}), "channels_first"),
    (replaced(1, config={**CONV, "dilation_rate": [2, 2]}), "dilated"),
    (replaced(1, config={key: value for key, value in CONV.items() if key != "padding"}),
     "does not record 'padding'"),
    (replaced(5, inbound=[]), r"layer sum \(class Add\).*inputs are not recorded"),
    (replaced(2, output_shape=[5, 9, 3]), r"layer pool \(AveragePooling2D\) gives shape \(5, 10, 3\), but the model "
                                           r"recorded \(5, 9, 3\)"),
    ([*GRAPH, layer("extra", "Dense", [4], ["flat"], units=4, activation="relu", use_bias=False)],
     "2 outputs, not one"),
    ([{key: item[key] for key in fmt.LAYER_FIELDS} for item in GRAPH], "imported before its layer graph"),
])
def test_a_graph_it_cannot_run_is_refused_with_a_reason(layers, message):
    extra = {"extra__kernel": np.zeros((48, 4), np.float32)}
    with pytest.raises(UnsupportedModel, match=message):
        GraphNetwork(layers, {**weights(), **extra}, 1, False)


def test_missing_weights_are_named():
    partial = {key: value for key, value in weights().items() if key != "norm__moving_mean"}
    with pytest.raises(UnsupportedModel, match="layer norm: no stored weight 'moving_mean'"):
        GraphNetwork(GRAPH, partial, 1, False)
