"""The one forward and backward pass behind everything the dashboard shows of a model's answer.

The training capture (:mod:`pipeline.capture`, every epoch) calls :class:`Probe`, and so does the
Draw page's live model for runs without stored weights (:mod:`dashboard.draw.live_model`); its
numpy engine (:mod:`dashboard.inference`) computes the same quantities, and tests hold it to this.

The model is called directly (not ``predict``, which builds a dataset per call) inside one
``tf.function``, traced once per batch size: eager execution of the same ops takes several
times longer. Saliency is the absolute gradient of the top class's probability with respect
to the raw pixels, taken through the same forward pass as the activations, scaled to [0, 1]
per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class ProbeResult:
    """What one pass over a batch of n digits returns, all float32.

    Attributes:
        activations: (layer name, (n, ...) outputs) for every probed layer, in the order asked.
        probabilities: (n, classes) the model's softmax output.
        saliency: (n, 28, 28) in [0, 1], each image scaled by its own peak.
    """

    activations: list[tuple[str, np.ndarray]]
    probabilities: np.ndarray
    saliency: np.ndarray


class Probe:
    """Activations, probabilities and saliency of a model for batches of digits.

    Args:
        model: a Keras classifier taking raw 0-255 pixels (n, 28, 28, 1), softmax out.
        layer_names: the layers whose outputs to return.

    Raises:
        ValueError: a name is not a layer of ``model``.
    """

    def __init__(self, model: keras.Model, layer_names: list[str]):
        self.model = model
        self.layer_names = list(layer_names)
        outputs = [model.get_layer(name).output for name in self.layer_names]
        self._outputs = keras.Model(model.inputs[0], [*outputs, model.outputs[0]])
        self._forward = tf.function(self._outputs_and_gradient)

    def _outputs_and_gradient(self, batch: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(batch)
            outputs = self._outputs(batch, training=False)
            top = tf.reduce_max(outputs[-1], axis=-1)
        return outputs, tape.gradient(top, batch)

    def __call__(self, images: np.ndarray) -> ProbeResult:
        """Return the activations, probabilities and saliency of ``images``.

        Args:
            images: (n, 28, 28) raw pixels 0-255, any numeric dtype, n >= 1.
        """
        batch = tf.convert_to_tensor(np.asarray(images, dtype=np.float32)[..., None])
        outputs, gradients = self._forward(batch)
        activations = [
            (name, output.numpy().astype(np.float32, copy=False))
            for name, output in zip(self.layer_names, outputs[:-1], strict=True)
        ]
        probabilities = outputs[-1].numpy().astype(np.float32, copy=False)
        return ProbeResult(activations, probabilities, _scaled_magnitude(gradients.numpy()[..., 0]))


def _scaled_magnitude(gradients: np.ndarray) -> np.ndarray:
    magnitude = np.abs(gradients).astype(np.float32, copy=False)
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1)
    # Per-image scaling keeps float16 snapshots from flushing tiny gradients to zero.
    return magnitude / np.where(peak > 0, peak, 1.0).astype(np.float32)[:, None, None]
