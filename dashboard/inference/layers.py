"""The layers this project's networks are built from, forward and backward, in numpy (float32).

Each layer matches its Keras namesake at inference (``training=False``) for the options
:func:`pipeline.model.build_model` uses. ``forward`` returns the output and what ``backward``
needs; ``backward`` takes the gradient of a scalar with respect to the output and returns
it with respect to the input. Batches are (n, ...) arrays, images channels-last.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LEAKY_RELU_SLOPE = np.float32(0.2)  # keras.activations.leaky_relu's default negative_slope


def activate(values: np.ndarray, activation: str) -> np.ndarray:
    """Return ``activation`` ("relu", "leaky_relu" or "" for none) applied to ``values``."""
    if activation == "relu":
        return np.maximum(values, np.float32(0))
    if activation == "leaky_relu":
        return np.where(values > 0, values, values * LEAKY_RELU_SLOPE)
    return values


def activation_gradient(gradient: np.ndarray, values: np.ndarray, activation: str) -> np.ndarray:
    """Return ``gradient`` (w.r.t. the activation's output) taken back through it to ``values``, its input.

    As TensorFlow's ReluGrad and LeakyReluGrad: the slope where the input is positive, else 0 (relu)
    or the negative slope (leaky relu); an input of exactly 0 counts as not positive.
    """
    if activation == "relu":
        return np.where(values > 0, gradient, np.float32(0))
    if activation == "leaky_relu":
        return np.where(values > 0, gradient, gradient * LEAKY_RELU_SLOPE)
    return gradient


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the softmax of (n, classes) ``logits`` along the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def same_padding(size: int, kernel_size: int, strides: int) -> tuple[int, int]:
    """Return the (before, after) zero padding of a "same" convolution, as TensorFlow places it."""
    output = -(-size // strides)
    total = max((output - 1) * strides + kernel_size - size, 0)
    return total // 2, total - total // 2


class Conv2D:
    """A square 2D convolution with bias and activation.

    Args:
        kernel: (k, k, in, out) float32.
        bias: (out,) float32.
        strides: 1 or 2.
        padding: "valid" or "same".
        activation: "relu", "leaky_relu" or "".
    """

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, strides: int, padding: str, activation: str):
        self.kernel_size, _, self.channels, self.filters = kernel.shape
        self.matrix = kernel.reshape(-1, self.filters)  # rows in (row, column, channel) order, as the windows
        self.bias = bias
        self.strides = strides
        self.padding = padding
        self.activation = activation

    def _pads(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        if self.padding == "same":
            return (same_padding(height, self.kernel_size, self.strides),
                    same_padding(width, self.kernel_size, self.strides))
        return (0, 0), (0, 0)

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, h', w', out) output of (n, h, w, in) ``inputs``, and the backward pass's cache."""
        n, height, width, _ = inputs.shape
        pads = self._pads(height, width)
        padded = np.pad(inputs, ((0, 0), *pads, (0, 0))) if self.padding == "same" else inputs
        k, s = self.kernel_size, self.strides
        rows = (padded.shape[1] - k) // s + 1
        columns = (padded.shape[2] - k) // s + 1
        # (n, rows, columns, in, k, k) views of every window, then (row, column, channel) order per window.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::s, ::s][:, :rows, :columns]
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * rows * columns, -1)
        before = (patches @ self.matrix + self.bias).reshape(n, rows, columns, self.filters)
        return activate(before, self.activation), (padded.shape, pads, before)

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the inputs, from the gradient with respect to the output."""
        padded_shape, pads, before = cache
        gradient = activation_gradient(gradient, before, self.activation)
        n, rows, columns, _ = gradient.shape
        k, s = self.kernel_size, self.strides
        patches = (gradient.reshape(-1, self.filters) @ self.matrix.T).reshape(n, rows, columns, k, k, self.channels)
        result = np.zeros(padded_shape, dtype=gradient.dtype)
        for i in range(k):
            for j in range(k):
                result[:, i:i + s * (rows - 1) + 1:s, j:j + s * (columns - 1) + 1:s, :] += patches[:, :, :, i, j, :]
        (top, bottom), (left, right) = pads
        return result[:, top:padded_shape[1] - bottom, left:padded_shape[2] - right, :]


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
    """A fully connected layer with bias and activation ("relu" or ""; softmax is the network's last step).

    Args:
        kernel: (in, out) float32.
        bias: (out,) float32.
    """

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, activation: str):
        self.kernel = kernel
        self.bias = bias
        self.activation = activation

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the (n, out) output and the backward pass's cache."""
        before = inputs @ self.kernel + self.bias
        return activate(before, self.activation), before

    def backward(self, gradient: np.ndarray, cache: Any) -> np.ndarray:
        """Return the gradient with respect to the (n, in) inputs."""
        return activation_gradient(gradient, cache, self.activation) @ self.kernel.T
