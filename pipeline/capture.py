"""Capture what the dashboard shows of a model: kernels, activations, saliency, probabilities.

Captures call the model directly (not ``predict``), which skips building a
dataset per call, inside one ``tf.function`` (traced once per probe count) that
returns activations and saliency from a single forward pass: a capture runs
every epoch, and eager execution of the same ops takes several times longer.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from artifacts import format as fmt


class Capture:
    """Computes snapshots of one model for fixed probe images.

    Args:
        model: the model being trained (layer names as in ``build_model``).
        layer_names: layers whose activations to capture.
        conv_names: conv layers whose kernels to capture.
    """

    def __init__(self, model: keras.Model, layer_names: list[str], conv_names: list[str]):
        self.model = model
        self.layer_names = list(layer_names)
        self.conv_names = list(conv_names)
        outputs = [model.get_layer(name).output for name in self.layer_names]
        self.activation_model = keras.Model(model.inputs[0], outputs)
        self._forward = tf.function(self._activations_and_gradient)

    def _activations_and_gradient(self, batch: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
        # The gradient of the top class probability through the same forward pass.
        with tf.GradientTape() as tape:
            tape.watch(batch)
            outputs = self.activation_model(batch, training=False)
            top = tf.reduce_max(outputs[-1], axis=-1)
        return outputs, tape.gradient(top, batch)

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
        batch = tf.convert_to_tensor(images[..., None], dtype=tf.float32)
        outputs, gradients = self._forward(batch)
        for name, output in zip(self.layer_names, outputs, strict=True):
            arrays[fmt.ACTIVATION_PREFIX + name] = output.numpy().astype(np.float16)
        arrays[fmt.SNAPSHOT_PROBABILITIES] = outputs[-1].numpy().astype(np.float16)
        arrays[fmt.SNAPSHOT_SALIENCY] = _scaled_magnitude(gradients).astype(np.float16)
        return arrays


def saliency(model: keras.Model, batch: tf.Tensor) -> np.ndarray:
    """Return |d p(top class) / d pixel| for each image, scaled to [0, 1] per image.

    Args:
        model: a classifier with softmax output.
        batch: float32 (n, 28, 28, 1) raw pixels.

    Returns:
        float32 (n, 28, 28).
    """
    with tf.GradientTape() as tape:
        tape.watch(batch)
        probabilities = model(batch, training=False)
        top = tf.reduce_max(probabilities, axis=-1)
    return _scaled_magnitude(tape.gradient(top, batch))


def _scaled_magnitude(gradients: tf.Tensor) -> np.ndarray:
    magnitude = tf.abs(gradients)[..., 0].numpy()
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1)
    # Per-image scaling keeps float16 from flushing tiny gradients to zero.
    return magnitude / np.where(peak > 0, peak, 1.0)[:, None, None]
