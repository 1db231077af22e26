"""The layers this project's networks are built from, forward and backward, in numpy (float32).

Each layer matches its Keras namesake at inference (``training=False``) for the options
:func:`pipeline.model.build_model` uses, and the conv, pooling and dense layers for any kernel, window,
stride, padding and activation an imported model may set (:mod:`dashboard.inference.graph`).
``forward`` returns the output and what ``backward`` needs; ``backward`` takes the gradient of a
scalar with respect to the output and returns it with respect to the input. Batches are (n, ...)
arrays, images channels-last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

LEAKY_RELU_SLOPE = np.float32(0.2)  # keras.activations.leaky_relu's default negative_slope
SELU_ALPHA = np.float32(1.6732632423543772)
SELU_SCALE = np.float32(1.0507009873554805)
# Every activation :func:`activate` computes, by its Keras name ("" is none, as "linear").
ACTIVATIONS = ("", "linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax", "elu", "selu", "gelu", "silu",
               "swish", "softplus")


def activate(values: np.ndarray, activation: str, slope: np.float32 = LEAKY_RELU_SLOPE) -> np.ndarray:
    """Return ``activation`` (one of :data:`ACTIVATIONS`; "" for none) applied to ``values``, as Keras does.

    ``slope`` is leaky relu's negative slope; softmax is taken along the last axis, gelu is exact (erf).

    Raises:
        ValueError: an activation not in :data:`ACTIVATIONS`.
    """
    if activation == "relu":
        return np.maximum(values, np.float32(0))
    if activation == "leaky_relu":
        return np.where(values > 0, values, values * np.float32(slope))
    if activation in ("", "linear"):
        return values
    if activation == "tanh":
        return np.tanh(values)
    if activation in ("sigmoid", "silu", "swish"):
        result = _sigmoid(values)
        return result if activation == "sigmoid" else values * result
    if activation == "softmax":
        return softmax(values)
    if activation in ("elu", "selu"):
        negative = np.expm1(np.minimum(values, np.float32(0)))
        if activation == "elu":
            return np.where(values > 0, values, negative)
        return SELU_SCALE * np.where(values > 0, values, SELU_ALPHA * negative)
    if activation == "gelu":
        return np.float32(0.5) * values * (np.float32(1) + special.erf(values / np.float32(np.sqrt(2))))
    if activation == "softplus":
        return np.logaddexp(np.float32(0), values)
    raise ValueError(f"unknown activation {activation!r}")


def activation_gradient(gradient: np.ndarray, values: np.ndarray, activation: str,
                        slope: np.float32 = LEAKY_RELU_SLOPE) -> np.ndarray:
    """Return ``gradient`` (w.r.t. the activation's output) taken back through it to ``values``, its input.

    As TensorFlow's ReluGrad and LeakyReluGrad: the slope where the input is positive, else 0 (relu)
    or the negative slope (leaky relu); an input of exactly 0 counts as not positive. The others are
    their derivatives (softmax's along the last axis).

    Raises:
        ValueError: an activation not in :data:`ACTIVATIONS`.
    """
    if activation == "relu":
        return np.where(values > 0, gradient, np.float32(0))
    if activation == "leaky_relu":
        return np.where(values > 0, gradient, gradient * np.float32(slope))
    if activation in ("", "linear"):
        return gradient
    if activation == "tanh":
        return gradient * (np.float32(1) - np.tanh(values) ** 2)
    if activation in ("sigmoid", "silu", "swish"):
        result = _sigmoid(values)
        slope_at = result * (np.float32(1) - result)
        return gradient * (slope_at if activation == "sigmoid" else result + values * slope_at)
    if activation == "softmax":
        result = softmax(values)
        return result * (gradient - (gradient * result).sum(axis=-1, keepdims=True))
    if activation in ("elu", "selu"):
        negative = np.exp(np.minimum(values, np.float32(0)))
        if activation == "elu":
            return gradient * np.where(values > 0, np.float32(1), negative)
        return gradient * SELU_SCALE * np.where(values > 0, np.float32(1), SELU_ALPHA * negative)
    if activation == "gelu":
        cdf = np.float32(0.5) * (np.float32(1) + special.erf(values / np.float32(np.sqrt(2))))
        density = np.exp(np.float32(-0.5) * values * values) / np.float32(np.sqrt(2 * np.pi))
        return gradient * (cdf + values * density)
    if activation == "softplus":
        return gradient * _sigmoid(values)
    raise ValueError(f"unknown activation {activation!r}")


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return special.expit(values).astype(values.dtype, copy=False)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the softmax of (n, ..., classes) ``logits`` along the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def same_padding(size: int, kernel_size: int, strides: int) -> tuple[int, int]:
    """Return the (before, after) zero padding of a "same" convolution, as TensorFlow places it."""
    output = -(-size // strides)
    total = max((output - 1) * strides + kernel_size - size, 0)
    return total // 2, total - total // 2


def _pair(value: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    return (int(values[0]), int(values[-1]))


class Windows:
    """Sliding (kh, kw) windows of stride (sh, sw) over (n, h, w, c) maps, "valid" or "same" (as TensorFlow pads).

    Args:
        size: the window's (kh, kw), or one int for a square.
        strides: (sh, sw), or one int.
        padding: "valid" or "same".
        fill: the value "same" padding adds (0 for convolutions, -inf for max pooling).
    """

    def __init__(self, size, strides, padding: str, fill: float = 0.0):
        self.size = _pair(size)
        self.strides = _pair(strides)
        self.padding = padding
        self.fill = fill

    def pads(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Return the ((top, bottom), (left, right)) padding of an (h, w) map."""
        if self.padding == "same":
            return (same_padding(height, self.size[0], self.strides[0]),
                    same_padding(width, self.size[1], self.strides[1]))
        return (0, 0), (0, 0)

    def take(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return (n, rows, columns, c, kh, kw) views of every window of ``inputs``, and :meth:`fold`'s cache."""
        pads = self.pads(inputs.shape[1], inputs.shape[2])
        padded = inputs
        if pads != ((0, 0), (0, 0)):
            padded = np.pad(inputs, ((0, 0), *pads, (0, 0)), constant_values=np.float32(self.fill))
        (kh, kw), (sh, sw) = self.size, self.strides
        rows = (padded.shape[1] - kh) // sh + 1
        columns = (padded.shape[2] - kw) // sw + 1
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
        return windows[:, ::sh, ::sw][:, :rows, :columns], (padded.shape, pads)

    def fold(self, patches: np.ndarray, cache: Any) -> np.ndarray:
        """Return the (n, h, w, c) sum of (n, rows, columns, kh, kw, c) ``patches`` put back where each window was
        taken (the gradient of :meth:`take`), without the padding."""
        padded_shape, pads = cache
        n, rows, columns, kh, kw, _ = patches.shape
        sh, sw = self.strides
        result = np.zeros(padded_shape, dtype=patches.dtype)
        for i in range(kh):
            for j in range(kw):
                result[:, i:i + sh * (rows - 1) + 1:sh, j:j + sw * (columns - 1) + 1:sw, :] += patches[:, :, :, i, j, :]
        (top, bottom), (left, right) = pads
        return result[:, top:padded_shape[1] - bottom, left:padded_shape[2] - right, :]


class Conv2D:
    """A 2D convolution with bias and activation.

    Args:
        kernel: (kh, kw, in, out) float32.
        bias: (out,) float32.
        strides: an int, or (rows, columns).
        padding: "valid" or "same".
        activation: one of :data:`ACTIVATIONS`.
        slope: leaky relu's negative slope.
    """

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, strides, padding: str, activation: str,
                 slope: np.float32 = LEAKY_RELU_SLOPE):
        kernel_height, kernel_width, self.channels, self.filters = kernel.shape
        self.kernel_size = kernel_height
        self.matrix = kernel.reshape(-1, self.filters)  # rows in (row, column, channel) order, as the windows
        self.bias = bias
        self.strides = strides
        self.padding = padding
        self.activation = activation
        self.slope = slope
        self.windows = Windows((kernel_height, kernel_width), strides, padding)

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, h', w', out) output of (n, h, w, in) ``inputs``, and the backward pass's cache."""
        windows, cache = self.windows.take(inputs)
        n, rows, columns = windows.shape[:3]
        # (n, rows, columns, in, kh, kw) views, then (row, column, channel) order per window.
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * rows * columns, -1)
        before = (patches @ self.matrix + self.bias).reshape(n, rows, columns, self.filters)
        return activate(before, self.activation, self.slope), (cache, before)

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the inputs, from the gradient with respect to the output."""
        fold_cache, before = cache
        gradient = activation_gradient(gradient, before, self.activation, self.slope)
        n, rows, columns, _ = gradient.shape
        kh, kw = self.windows.size
        patches = (gradient.reshape(-1, self.filters) @ self.matrix.T).reshape(n, rows, columns, kh, kw, self.channels)
        return self.windows.fold(patches, fold_cache)


class DepthwiseConv2D:
    """A depthwise 2D convolution (each input channel convolved with its own ``multiplier`` kernels), as Keras':
    output channel ``c * multiplier + m`` is input channel c's m-th kernel.

    Args:
        kernel: (kh, kw, in, multiplier) float32.
        bias: (in * multiplier,) float32.
        strides, padding, activation, slope: as :class:`Conv2D`.
    """

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, strides, padding: str, activation: str,
                 slope: np.float32 = LEAKY_RELU_SLOPE):
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
        self.slope = slope
        self.windows = Windows(kernel.shape[:2], strides, padding)

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, h', w', in * multiplier) output of (n, h, w, in) ``inputs``, and the backward's cache."""
        windows, cache = self.windows.take(inputs)
        n, rows, columns, channels = windows.shape[:4]
        before = np.einsum("nrcdij,ijdm->nrcdm", windows, self.kernel, optimize=True)
        before = before.reshape(n, rows, columns, -1) + self.bias
        return activate(before, self.activation, self.slope), (cache, before, channels)

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the inputs, from the gradient with respect to the output."""
        fold_cache, before, channels = cache
        gradient = activation_gradient(gradient, before, self.activation, self.slope)
        n, rows, columns, _ = gradient.shape
        per_channel = gradient.reshape(n, rows, columns, channels, -1)
        patches = np.einsum("nrcdm,ijdm->nrcijd", per_channel, self.kernel, optimize=True)
        return self.windows.fold(patches, fold_cache)


class Pooling2D:
    """Max or average pooling of any window, stride and padding, as Keras' MaxPooling2D and AveragePooling2D.

    Max pooling sends each window's gradient to its first maximum (row by row), as TensorFlow's
    MaxPoolGrad; average pooling with "same" padding averages the window's real pixels only.

    Args:
        kind: "max" or "average".
        size: (kh, kw) or an int; strides: (sh, sw) or an int; padding: "valid" or "same".
    """

    def __init__(self, kind: str, size, strides, padding: str):
        self.kind = kind
        self.windows = Windows(size, strides, padding, -np.inf if kind == "max" else 0.0)

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, h', w', c) output and the backward pass's cache."""
        windows, cache = self.windows.take(inputs)
        n, rows, columns, channels, kh, kw = windows.shape
        flat = windows.reshape(n, rows, columns, channels, kh * kw)
        if self.kind == "max":
            winners = flat.argmax(axis=-1)[..., None]
            return np.take_along_axis(flat, winners, axis=-1)[..., 0], (cache, winners, None)
        counts = self._counts(inputs.shape[1:3], rows, columns)
        return flat.sum(axis=-1) / counts, (cache, None, counts)

    def _counts(self, shape: tuple[int, int], rows: int, columns: int) -> np.ndarray:
        """Return (1, rows, columns, 1) how many real (not padding) pixels each window holds."""
        ones = Windows(self.windows.size, self.windows.strides, self.windows.padding, 0.0)
        windows, _ = ones.take(np.ones((1, *shape, 1), dtype=np.float32))
        return windows.sum(axis=(-2, -1))[:, :rows, :columns]

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the inputs."""
        fold_cache, winners, counts = cache
        n, rows, columns, channels = gradient.shape
        kh, kw = self.windows.size
        if winners is not None:
            spread = np.zeros((n, rows, columns, channels, kh * kw), dtype=gradient.dtype)
            np.put_along_axis(spread, winners, gradient[..., None], axis=-1)
        else:
            spread = np.broadcast_to((gradient / counts)[..., None], (n, rows, columns, channels, kh * kw))
        patches = spread.reshape(n, rows, columns, channels, kh, kw).transpose(0, 1, 2, 4, 5, 3)
        return self.windows.fold(np.ascontiguousarray(patches), fold_cache)


class MaxPooling2D:
    """2x2 max pooling with stride 2 and "valid" padding (an odd last row or column is dropped)."""

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, h // 2, w // 2, c) output and the backward pass's cache."""
        n, height, width, channels = inputs.shape
        rows, columns = height // 2, width // 2
        cropped = inputs[:, :2 * rows, :2 * columns]
        windows = cropped.reshape(n, rows, 2, columns, 2, channels).transpose(0, 1, 3, 2, 4, 5)
        windows = windows.reshape(n, rows, columns, 4, channels)
        # The first maximum of a window (row by row) takes the gradient, as TensorFlow's MaxPoolGrad.
        winners = windows.argmax(axis=3)[:, :, :, None]
        return np.take_along_axis(windows, winners, axis=3)[:, :, :, 0], (inputs.shape, winners)

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the inputs: each window's maximum gets its output's gradient."""
        shape, winners = cache
        n, rows, columns, channels = gradient.shape
        windows = np.zeros((n, rows, columns, 4, channels), dtype=gradient.dtype)
        np.put_along_axis(windows, winners, gradient[:, :, :, None], axis=3)
        spread = windows.reshape(n, rows, columns, 2, 2, channels).transpose(0, 1, 3, 2, 4, 5)
        result = np.zeros(shape, dtype=gradient.dtype)
        result[:, :2 * rows, :2 * columns] = spread.reshape(n, 2 * rows, 2 * columns, channels)
        return result


class Flatten:
    """(n, h, w, c) to (n, h * w * c), in Keras' (channels-last, row-major) order."""

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the flattened inputs and their shape."""
        return inputs.reshape(len(inputs), -1), inputs.shape

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient in the inputs' shape."""
        return gradient.reshape(cache)


class Dense:
    """A fully connected layer with bias and activation, on the last axis of its inputs.

    Args:
        kernel: (in, out) float32.
        bias: (out,) float32.
        activation: one of :data:`ACTIVATIONS` (a trained run's output softmax is the network's last step).
        slope: leaky relu's negative slope.
    """

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, activation: str, slope: np.float32 = LEAKY_RELU_SLOPE):
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
        self.slope = slope

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, ..., out) output of (n, ..., in) ``inputs`` and the backward pass's cache."""
        before = inputs @ self.kernel + self.bias
        return activate(before, self.activation, self.slope), before

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the (n, ..., in) inputs."""
        return activation_gradient(gradient, cache, self.activation, self.slope) @ self.kernel.T
