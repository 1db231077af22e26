"""Capture what the dashboard shows of a model: kernels, activations, saliency, probabilities.

Activations, probabilities and saliency come from :class:`pipeline.probe.Probe`; a capture adds
the kernels and stores float16. :meth:`Capture.weights` gives every layer's weights, which the
Draw page's numpy engine (:mod:`dashboard.inference`) runs without TensorFlow.
"""

from __future__ import annotations

import keras
import numpy as np

from artifacts import format as fmt
from pipeline.probe import Probe


class Capture:
    """Computes snapshots of one model for fixed probe images.

    Args:
        model: the model being trained (layer names as in ``build_model``).
        layer_names: layers whose activations to capture.
        conv_names: conv layers whose kernels to capture.
    """

    def __init__(self, model: keras.Model, layer_names: list[str], conv_names: list[str]):
        self.model = model
        self.conv_names = list(conv_names)
        self.probe = Probe(model, layer_names)

    def weights(self) -> dict[str, np.ndarray]:
        """Return every Conv2D and Dense layer's kernel and bias, keyed as :func:`artifacts.format.weight_key` says."""
        arrays: dict[str, np.ndarray] = {}
        for layer in self.model.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                arrays[fmt.weight_key(layer.name, fmt.WEIGHT_KERNEL)] = np.asarray(layer.kernel)
                arrays[fmt.weight_key(layer.name, fmt.WEIGHT_BIAS)] = np.asarray(layer.bias)
        return arrays

    def snapshot(self, images: np.ndarray, probe_index: np.ndarray) -> dict[str, np.ndarray]:
        """Return a snapshot's arrays for ``images`` (n, 28, 28) uint8.

        Keys follow :mod:`artifacts.format`: kernels and activations as float16,
        saliency as float16 in [0, 1] per digit, class probabilities.
        """
        arrays: dict[str, np.ndarray] = {fmt.SNAPSHOT_PROBE_INDEX: np.asarray(probe_index, dtype=np.int64)}
        for name in self.conv_names:
            kernel = self.model.get_layer(name).kernel
            arrays[fmt.KERNEL_PREFIX + name] = np.asarray(kernel).astype(np.float16)
        if len(images) == 0:
            return arrays
        result = self.probe(images)
        for name, output in result.activations:
            arrays[fmt.ACTIVATION_PREFIX + name] = output.astype(np.float16)
        arrays[fmt.SNAPSHOT_PROBABILITIES] = result.probabilities.astype(np.float16)
        arrays[fmt.SNAPSHOT_SALIENCY] = result.saliency.astype(np.float16)
        return arrays


class TestSetCapture:
    """Every test digit's answer after an epoch, and the dense layer's activations of some of them.

    Args:
        model: the model being trained (its :data:`artifacts.format.EMBEDDING_LAYER` named as in ``build_model``).
        images: uint8 (n, 28, 28) the run's test digits.
        labels: their true classes (n,).
        feature_index: ascending test indices whose activations are stored (see :func:`embedding_index`).
    """

    BATCH = 1024

    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, feature_index: np.ndarray):
        import tensorflow as tf

        self.images = np.asarray(images)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.feature_index = np.asarray(feature_index, dtype=np.int64)
        layer = model.get_layer(fmt.EMBEDDING_LAYER)
        self.units = int(layer.units)
        hidden = layer.output
        outputs = keras.Model(model.inputs[0], [hidden, model.outputs[0]])
        # Called directly in a tf.function (not predict, which builds a dataset each call), as Probe is.
        self._forward = tf.function(lambda batch: outputs(batch, training=False))
        self._tf = tf

    def __call__(self) -> dict[str, np.ndarray]:
        """Return the arrays of one :meth:`artifacts.Run.write_test_epoch` (keys of ``TEST_EPOCH_KEYS``)."""
        n = len(self.images)
        predicted = np.zeros(n, dtype=np.uint8)
        probability = np.zeros(n, dtype=np.float16)
        wanted = np.zeros(n, dtype=bool)
        wanted[self.feature_index] = True
        features = []
        for start in range(0, n, self.BATCH):
            stop = min(n, start + self.BATCH)
            batch = self._tf.convert_to_tensor(self.images[start:stop, ..., None].astype(np.float32))
            hidden, probabilities = (output.numpy() for output in self._forward(batch))
            predicted[start:stop] = probabilities.argmax(axis=1)
            probability[start:stop] = probabilities[np.arange(stop - start), self.labels[start:stop]]
            features.append(hidden[wanted[start:stop]].astype(np.float16))
        return {
            fmt.TEST_PREDICTED: predicted,
            fmt.TEST_TRUE_PROBABILITY: probability,
            fmt.TEST_FEATURE_INDEX: self.feature_index.astype(np.int32),
            fmt.TEST_FEATURES: np.concatenate(features) if features else np.zeros((0, self.units), np.float16),
        }


def embedding_index(count: int, seed: int, cap: int = fmt.EMBEDDING_MAX_DIGITS) -> np.ndarray:
    """Return the ascending test indices whose dense activations a run stores: all ``count``, or ``cap`` seeded ones."""
    if count <= cap:
        return np.arange(count, dtype=np.int64)
    return np.sort(np.random.default_rng(seed + 5).choice(count, size=cap, replace=False)).astype(np.int64)
