"""The numpy engine equals Keras and GradientTape for every layer option this pipeline builds.

Each network is built by :func:`pipeline.model.build_model`, its weights go through the store's
writer and reader (final: float32) as a run's would, and the engine's activations, probabilities
and saliency are compared with :class:`pipeline.probe.Probe`'s on real digits.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from artifacts.config import ConvBlock, TrainConfig, captured_layers
from dashboard.inference import Network
from pipeline.capture import Capture
from pipeline.data import load_dataset
from pipeline.model import build_model
from pipeline.probe import Probe

CONFIGS = {
    # stride 2 with "same" padding (TensorFlow pads after, not before), 5x5 kernels, leaky ReLU,
    # an odd map pooled (its last row and column dropped) and a block without pooling.
    "stride2-same-k5-leaky": TrainConfig(conv_blocks=(
        ConvBlock(filters=6, kernel_size=5, strides=2, padding="same", activation="leaky_relu"),
        ConvBlock(filters=8, kernel_size=5, strides=1, padding="valid", activation="leaky_relu"),
        ConvBlock(filters=5, kernel_size=3, strides=2, padding="same", activation="relu", pooling=False),
    ), dense_units=24),
    "valid-k3-stride2-relu": TrainConfig(conv_blocks=(
        ConvBlock(filters=7, kernel_size=3, strides=2, padding="valid", activation="relu"),
        ConvBlock(filters=4, kernel_size=3, strides=1, padding="same", activation="leaky_relu", pooling=False),
    ), dense_units=16, augmentation=False),
    "default": TrainConfig(),
}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_dataset("mnist-sample", seed=0).x_test[:32]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_engine_equals_keras(name, digits, tmp_path):
    config = CONFIGS[name]
    keras.utils.set_random_seed(5)
    model = build_model(config)
    # Untrained weights give softmax answers far from certain, so the saliency is well conditioned;
    # larger biases make every ReLU and pooling choice matter.
    for layer in model.layers:
        if hasattr(layer, "bias") and layer.bias is not None:
            layer.bias.assign(np.random.default_rng(1).normal(0, 0.1, layer.bias.shape).astype(np.float32))
    store = ArtifactStore(tmp_path / "store")
    run = store.create_run("r", {fmt.KEY_CONFIG: config.to_dict(), fmt.KEY_DATASET: {"source": "tests"}})
    run.write_weights(config.epochs, Capture(model, [], []).weights(), final=True)

    engine = Network(config, run.weights(config.epochs)).analyse(digits)
    reference = Probe(model, captured_layers(config))(digits)

    assert [n for n, _ in engine.activations] == [n for n, _ in reference.activations] == captured_layers(config)
    for (layer, ours), (_, theirs) in zip(engine.activations, reference.activations, strict=True):
        assert ours.shape == theirs.shape, layer
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(theirs).max())),
                                   err_msg=layer)
    np.testing.assert_allclose(engine.probabilities, reference.probabilities, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(engine.probabilities.argmax(axis=1), reference.probabilities.argmax(axis=1))
    np.testing.assert_allclose(engine.saliency, reference.saliency, atol=1e-4)
