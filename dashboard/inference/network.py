"""A run's network in numpy: built from its config and one epoch's stored weights, no TensorFlow.

:meth:`Network.analyse` computes what :class:`pipeline.probe.Probe` computes with Keras and
GradientTape: every captured layer's output, the class probabilities, and the saliency (the
absolute gradient of the top class's probability with respect to the raw pixels, scaled to
[0, 1] per image), from one forward and one backward pass. Layers that are the identity at
inference (the augmentation layers, Dropout) are left out.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from artifacts import format as fmt
from artifacts.config import IMAGE_SHAPE, TrainConfig, captured_layers, layer_plan
from dashboard.inference.layers import Conv2D, Dense, Flatten, MaxPooling2D, softmax

PIXEL_SCALE = np.float32(1.0 / 255)  # the model's Rescaling layer
_ONE_THREAD = threading.Lock()  # BLAS's thread count is per process: one analysis sets it at a time
PROBABILITY = "probability"  # the score the saliency differentiates: the class's softmax output
LOGIT = "logit"  # the class score before the softmax (what Grad-CAM differentiates)


@dataclass(frozen=True)
class Result:
    """What one pass over n digits returns, all float32 (the fields of :class:`pipeline.probe.ProbeResult`).

    Attributes:
        activations: (layer name, (n, ...) outputs) for every captured layer, in network order.
        probabilities: (n, classes) the softmax output.
        saliency: (n, 28, 28) in [0, 1], each image scaled by its own peak.
    """

    activations: list[tuple[str, np.ndarray]]
    probabilities: np.ndarray
    saliency: np.ndarray


@dataclass(frozen=True)
class Gradients:
    """What :meth:`Network.gradients` returns for n digits, all float32.

    Attributes:
        probabilities: (n, classes) the softmax output.
        classes: (n,) int, the class whose score was differentiated for each digit.
        pixels: (n, 28, 28) the gradient of that score w.r.t. the raw pixels (0-255), signed.
        layers: layer name -> ((n, ...) its output, (n, ...) the score's gradient w.r.t. that output).
    """

    probabilities: np.ndarray
    classes: np.ndarray
    pixels: np.ndarray
    layers: dict[str, tuple[np.ndarray, np.ndarray]]


class Network:
    """The network a config describes, with one epoch's weights.

    Args:
        config: the run's hyperparameters (its layer plan names the layers).
        weights: arrays keyed by :func:`artifacts.format.weight_key`, as ``Run.weights`` returns them
            (any float dtype; computed in float32 as Keras does).

    Raises:
        ValueError: a weight is missing or has another shape than the config gives it.
    """

    def __init__(self, config: TrainConfig, weights: dict[str, np.ndarray]):
        self.captured = set(captured_layers(config))
        self.layers: list[tuple[str, object]] = []
        blocks = iter(config.conv_blocks)
        for spec in layer_plan(config):
            if spec.kind == "Conv2D":
                block = next(blocks)
                kernel, bias = _pair(weights, spec.name, spec.output_shape[-1])
                if kernel.shape[:2] != (block.kernel_size, block.kernel_size):
                    raise ValueError(f"{spec.name}: kernel of shape {kernel.shape}, expected {block.kernel_size}x"
                                     f"{block.kernel_size}")
                layer = Conv2D(kernel, bias, block.strides, block.padding, block.activation)
            elif spec.kind == "MaxPooling2D":
                layer = MaxPooling2D()
            elif spec.kind == "Flatten":
                layer = Flatten()
            elif spec.kind == "Dense":
                kernel, bias = _pair(weights, spec.name, spec.output_shape[-1])
                # The output layer's softmax is applied by analyse, which also starts the gradient there.
                layer = Dense(kernel, bias, "" if spec.activation == "softmax" else spec.activation)
            else:
                continue  # Input, Dropout: nothing to compute at inference
            self.layers.append((spec.name, layer))

    def analyse(self, images: np.ndarray) -> Result:
        """Return every captured layer's activations, the probabilities and the saliency of ``images``.

        Args:
            images: (n, 28, 28) raw pixels 0-255, any numeric dtype, n >= 1.

        Raises:
            ValueError: ``images`` is not (n, 28, 28).
        """
        pixels = as_pixels(images)
        # A digit's products are small: a second BLAS thread saves nothing, and on busy shared cores
        # waiting for it to be scheduled took 30 ms of a 1.5 ms analysis (p50; 190 ms at p95).
        with _ONE_THREAD, _blas().limit(limits=1, user_api="blas"):
            return self._analyse(pixels)

    def _analyse(self, pixels: np.ndarray) -> Result:
        values, caches, outputs = self._forward(pixels)
        activations = [(name, output) for name, output in outputs if name in self.captured]
        probabilities = softmax(values)
        activations[-1] = (activations[-1][0], probabilities)  # the output layer's output is its softmax
        top = probabilities.argmax(axis=1)
        gradient, _ = self._backward(probability_gradient(probabilities, top), caches, ())
        return Result(activations, probabilities, _scaled_magnitude(gradient[..., 0] * PIXEL_SCALE))

    def _forward(self, pixels: np.ndarray) -> tuple[np.ndarray, list, list[tuple[str, np.ndarray]]]:
        """Return the logits of (n, 28, 28) float32 ``pixels``, every layer's cache, and (name, output) of each
        layer in network order."""
        values = pixels[..., None] * PIXEL_SCALE
        caches = []
        outputs = []
        for name, layer in self.layers:
            values, cache = layer.forward(values)
            caches.append(cache)
            outputs.append((name, values))
        return values, caches, outputs

    def _backward(self, gradient: np.ndarray, caches: list, wanted) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Take ``gradient`` (w.r.t. the logits) back to the scaled input; also return it at each ``wanted`` output."""
        at = {}
        for (name, layer), cache in zip(reversed(self.layers), reversed(caches), strict=True):
            if name in wanted:
                at[name] = gradient
            gradient = layer.backward(gradient, cache)
        return gradient, at

    def gradients(self, images: np.ndarray, classes=None, layers=(), score: str = PROBABILITY) -> Gradients:
        """Return the gradient of each image's class score w.r.t. its raw pixels and the outputs of ``layers``.

        Args:
            images: (n, 28, 28) raw pixels 0-255, any numeric dtype, n >= 1.
            classes: the class of each image whose score is differentiated (an int for all, or n ints);
                None: each image's top class.
            layers: names of layers whose outputs and gradients to return (e.g. conv layers, for Grad-CAM).
            score: :data:`PROBABILITY` (the softmax output, as the saliency) or :data:`LOGIT` (the
                class score before the softmax, as Grad-CAM).

        Raises:
            ValueError: ``images`` is not (n, 28, 28), a class is out of range, a layer is not in the
                network or ``score`` is unknown.
        """
        pixels = as_pixels(images)
        check_gradient_request(layers, [name for name, _ in self.layers], score)
        with _ONE_THREAD, _blas().limit(limits=1, user_api="blas"):
            logits, caches, outputs = self._forward(pixels)
            probabilities = softmax(logits)
            chosen = _classes(classes, probabilities)
            if score == PROBABILITY:
                start = probability_gradient(probabilities, chosen)
            else:
                start = np.zeros_like(logits)
                start[np.arange(len(logits)), chosen] = 1
            gradient, at = self._backward(start, caches, set(layers))
        kept = dict(outputs)
        return Gradients(probabilities, chosen, gradient[..., 0] * PIXEL_SCALE,
                         {name: (kept[name], at[name]) for name in layers})


def as_pixels(images: np.ndarray) -> np.ndarray:
    """Return ``images`` as float32 (n, 28, 28) raw pixels, the input of both engines.

    Raises:
        ValueError: ``images`` is not (n, 28, 28) with n >= 1.
    """
    pixels = np.asarray(images, dtype=np.float32)
    if pixels.ndim != 3 or pixels.shape[1:] != IMAGE_SHAPE[:2] or len(pixels) == 0:
        raise ValueError(f"expected (n, 28, 28) images, not {pixels.shape}")
    return pixels


def check_gradient_request(layers, known, score: str) -> None:
    """Refuse a gradients request naming a layer not in ``known`` or an unknown ``score``.

    Raises:
        ValueError: the first such layer, or the score.
    """
    missing = [name for name in layers if name not in known]
    if missing:
        raise ValueError(f"the network has no layer {missing[0]!r}")
    if score not in (PROBABILITY, LOGIT):
        raise ValueError(f"unknown score {score!r}")


def probability_gradient(probabilities: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Return d p_c / d logits for each row's class c: (onehot_c - p_c) * p.

    In the order TensorFlow's SoftmaxGrad computes it: for a digit the network is sure of, 1 - p_c
    is a few float32 steps, and the saliency's balance between classes follows how it was rounded.
    """
    rows = np.arange(len(probabilities))
    onehot = np.zeros_like(probabilities)
    onehot[rows, classes] = 1
    return (onehot - probabilities[rows, classes][:, None]) * probabilities


def _classes(classes, probabilities: np.ndarray) -> np.ndarray:
    count, width = probabilities.shape
    if classes is None:
        return probabilities.argmax(axis=1)
    chosen = np.broadcast_to(np.asarray(classes), (count,))
    if not np.issubdtype(chosen.dtype, np.integer) or chosen.min() < 0 or chosen.max() >= width:
        raise ValueError(f"classes must be whole numbers from 0 to {width - 1}")
    return chosen.astype(np.int64)


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _pair(weights: dict[str, np.ndarray], name: str, units: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        kernel = np.asarray(weights[fmt.weight_key(name, fmt.WEIGHT_KERNEL)], dtype=np.float32)
        bias = np.asarray(weights[fmt.weight_key(name, fmt.WEIGHT_BIAS)], dtype=np.float32)
    except KeyError as error:
        raise ValueError(f"no stored weight {error.args[0]!r}") from None
    if kernel.shape[-1] != units or bias.shape != (units,):
        raise ValueError(f"{name}: weights of shapes {kernel.shape} and {bias.shape} do not give {units} outputs")
    return kernel, bias


def _scaled_magnitude(gradients: np.ndarray) -> np.ndarray:
    # As pipeline.probe: per-image scaling to [0, 1] by the image's peak (an all-zero gradient stays 0).
    magnitude = np.abs(gradients).astype(np.float32, copy=False)
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1)
    return magnitude / np.where(peak > 0, peak, 1.0).astype(np.float32)[:, None, None]
