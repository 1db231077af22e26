"""Grad-CAM of the numpy engine equals a direct GradientTape computation in Keras, for every conv layer.

As in test_inference_keras: each network is built by :func:`pipeline.model.build_model`, its weights
go through the store's writer and reader, and the engine's Grad-CAM is compared on real digits with
Grad-CAM computed from Keras' own layer outputs and gradients (``tf.GradientTape``), resized by
``tf.image.resize``. Tolerance: 1e-4 of the map's peak (float32 sums of a few hundred products).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from artifacts import ArtifactStore
from artifacts import format as fmt
from artifacts.config import conv_layers
from dashboard.inference import Network
from dashboard.inference.attribution import gradcam, gradcam_maps, resize_bilinear
from pipeline.capture import Capture
from pipeline.data import load_dataset
from pipeline.model import build_model
from tests.pipeline.test_inference_keras import CONFIGS

TOLERANCE = 1e-4  # of each map's peak


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_dataset("mnist-sample", seed=0).x_test[:16]


def keras_gradcam(model: keras.Model, layer: str, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM from Keras: the layer's output A and d logit_c / d A by GradientTape, weights = spatial mean."""
    output = model.get_layer("output")
    inner = keras.Model(model.inputs[0], [model.get_layer(layer).output, output.input])
    batch = tf.convert_to_tensor(images.astype(np.float32)[..., None])
    with tf.GradientTape() as tape:
        maps, hidden = inner(batch, training=False)
        logits = tf.matmul(hidden, output.kernel) + output.bias  # the class scores before the softmax
        score = tf.reduce_sum(tf.gather(logits, classes, batch_dims=1))
    gradient = tape.gradient(score, maps)
    weights = tf.reduce_mean(gradient, axis=(1, 2))
    return tf.nn.relu(tf.einsum("nhwk,nk->nhw", maps, weights)).numpy()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_gradcam_equals_gradient_tape(name, digits, tmp_path):
    config = CONFIGS[name]
    keras.utils.set_random_seed(5)
    model = build_model(config)
    for layer in model.layers:  # as test_inference_keras: biases that make every ReLU and pooling choice matter
        if hasattr(layer, "bias") and layer.bias is not None:
            layer.bias.assign(np.random.default_rng(1).normal(0, 0.1, layer.bias.shape).astype(np.float32))
    store = ArtifactStore(tmp_path / "store")
    run = store.create_run("r", {fmt.KEY_CONFIG: config.to_dict(), fmt.KEY_DATASET: {"source": "tests"}})
    run.write_weights(config.epochs, Capture(model, [], []).weights(), final=True)
    network = Network(config, run.weights(config.epochs))
    top = model(digits[..., None].astype(np.float32), training=False).numpy().argmax(axis=1)

    for layer in conv_layers(config):
        compared = 0
        # The predicted class, then others (chosen classes).
        for classes in (top, (top + 3) % 10, (top + 7) % 10):
            ours, result = gradcam_maps(network, digits, layer, classes)
            theirs = keras_gradcam(model, layer, digits, classes)
            np.testing.assert_array_equal(result.classes, classes)
            assert ours.shape == theirs.shape == digits.shape[:1] + model.get_layer(layer).output.shape[1:3]
            compared += int((theirs.reshape(len(theirs), -1).max(axis=1) > 0).sum())
            peaks = np.maximum(theirs.reshape(len(theirs), -1).max(axis=1), 1e-12)[:, None, None]
            np.testing.assert_allclose(ours / peaks, theirs / peaks, atol=TOLERANCE, err_msg=f"{name} {layer}")
            resized = tf.image.resize(theirs[..., None], (28, 28), method="bilinear").numpy()[..., 0]
            np.testing.assert_allclose(resize_bilinear(ours, 28) / peaks, resized / peaks, atol=TOLERANCE,
                                       err_msg=f"{name} {layer} resized")
        assert compared >= 8, f"{name} {layer}: only {compared} maps are not empty"
        # The one-digit map the card shows is that map, resized and scaled by its peak.
        single = gradcam(network, digits[0], layer)
        coarse = keras_gradcam(model, layer, digits[:1], top[:1])
        expected = tf.image.resize(coarse[..., None], (28, 28)).numpy()[0, ..., 0]
        if expected.max() > 0:
            np.testing.assert_allclose(single.heatmap, expected / expected.max(), atol=TOLERANCE)
        assert single.cls == top[0]
