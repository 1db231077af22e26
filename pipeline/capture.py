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
