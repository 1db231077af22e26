"""The Draw page's what-if on the first convolution: conv_1 and pool_1 of a digit under other settings.

Pure numpy through the engine's own layers (:mod:`dashboard.inference.layers`), no TensorFlow and
no training. The kernels are the run's trained conv_1 kernels where their shape allows (the same
kernel size, up to the trained number of filters) and seeded random ones (Keras' default
Glorot-uniform initialiser, zero bias) for the rest, so one setting always shows the same maps.

:func:`parse_settings` enforces the controls' limits on the server; :func:`what_if` computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artifacts.config import IMAGE_SHAPE, KERNEL_SIZES, PADDINGS, ConvBlock
from dashboard.inference.layers import Conv2D, MaxPooling2D, same_padding
from dashboard.inference.network import PIXEL_SCALE

STRIDES = (1, 2)
MIN_FILTERS = 4
MAX_FILTERS = 64
SEED = 13  # the random kernels' seed: the same setting always shows the same maps
SIDE = IMAGE_SHAPE[0]


class SettingsRejected(ValueError):
    """A what-if setting outside the controls' limits; ``str(error)`` is a message for the page."""


@dataclass(frozen=True)
class Settings:
    """One what-if setting of conv_1."""

    strides: int
    padding: str
    kernel_size: int
    filters: int


@dataclass(frozen=True)
class WhatIf:
    """What :func:`what_if` returns.

    Attributes:
        conv: float32 (h, w, filters) conv_1's feature maps under the setting.
        pool: float32 (h // 2, w // 2, filters) pool_1's maps (None when conv's map is under 2x2).
        trained: how many of the filters are the run's trained kernels (the first ones); the rest are random.
        formula: the output size's formula filled in, e.g. "(28 + 2·0 − 3) / 1 + 1 = 26".
    """

    conv: np.ndarray
    pool: np.ndarray | None
    trained: int
    formula: str


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_settings(strides: object, padding: object, kernel_size: object, filters: object) -> Settings:
    """Return the setting the controls sent, checked against their limits (the server's own check).

    Raises:
        SettingsRejected: a value outside the limits (the message names it and the allowed values).
    """
    stride_value = _integer(strides)
    if stride_value not in STRIDES:
        raise SettingsRejected(f"Stride must be 1 or 2, not {str(strides)[:20]!r}.")
    if padding not in PADDINGS:
        raise SettingsRejected(f"Padding must be 'valid' or 'same', not {str(padding)[:20]!r}.")
    kernel_value = _integer(kernel_size)
    if kernel_value not in KERNEL_SIZES:
        raise SettingsRejected(f"Kernel size must be 3 or 5, not {str(kernel_size)[:20]!r}.")
    filter_value = _integer(filters)
    if filter_value is None or not MIN_FILTERS <= filter_value <= MAX_FILTERS:
        raise SettingsRejected(f"The number of filters must be a whole number from {MIN_FILTERS} to "
                               f"{MAX_FILTERS}, not {str(filters)[:20]!r}.")
    return Settings(stride_value, padding, kernel_value, filter_value)


def trained_settings(block: ConvBlock) -> Settings:
    """Return the controls' start: the run's own conv_1 (its filters held to the controls' range)."""
    return Settings(block.strides, block.padding, block.kernel_size,
                    int(np.clip(block.filters, MIN_FILTERS, MAX_FILTERS)))


def random_kernels(kernel_size: int, filters: int) -> np.ndarray:
    """Return seeded Glorot-uniform (kernel, kernel, 1, filters) kernels: filter i is the same for any count."""
    # Drawn for MAX_FILTERS and cut, so adding a filter never changes the ones already shown.
    fan_in, fan_out = kernel_size * kernel_size, kernel_size * kernel_size * MAX_FILTERS
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    rng = np.random.default_rng([SEED, kernel_size])
    full = rng.uniform(-limit, limit, size=(kernel_size, kernel_size, 1, MAX_FILTERS)).astype(np.float32)
    return full[..., :filters]


def kernels_for(settings: Settings,
                trained: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (kernel, bias, how many are trained) for a setting.

    Args:
        trained: the run's conv_1 (kernel (k, k, 1, n), bias (n,)), or None when the run stored no weights.
    """
    kernel = random_kernels(settings.kernel_size, settings.filters)
    bias = np.zeros(settings.filters, dtype=np.float32)
    if trained is None:
        return kernel, bias, 0
    trained_kernel, trained_bias = (np.asarray(array, dtype=np.float32) for array in trained)
    if trained_kernel.shape[:3] != (settings.kernel_size, settings.kernel_size, 1):
        return kernel, bias, 0
    count = min(settings.filters, trained_kernel.shape[3])
    kernel[..., :count] = trained_kernel[..., :count]
    bias[:count] = trained_bias[:count]
    return kernel, bias, count


def formula(settings: Settings, size: int = SIDE) -> str:
    """Return ``(n + 2p - k) / s + 1`` filled in for a setting, ending with the output side.

    "same" pads as TensorFlow: (total) // 2 before and the rest after, which can be uneven.
    """
    k, s = settings.kernel_size, settings.strides
    before, after = same_padding(size, k, s) if settings.padding == "same" else (0, 0)
    output = (size + before + after - k) // s + 1
    padded = f"2·{before}" if before == after else f"{before} + {after}"
    text = f"({size} + {padded} − {k}) / {s} + 1"
    if (size + before + after - k) % s:
        text += f" = ⌊{size + before + after - k}/{s}⌋ + 1"
    return f"{text} = {output}"


def what_if(pixels: np.ndarray, settings: Settings, trained: tuple[np.ndarray, np.ndarray] | None,
            activation: str = "relu") -> WhatIf:
    """Return conv_1 and pool_1 of one digit under ``settings``.

    Args:
        pixels: (28, 28) raw pixels 0-255.
        settings: a checked setting (:func:`parse_settings`).
        trained: the run's conv_1 kernel and bias, or None.
        activation: conv_1's activation ("relu" or "leaky_relu").

    Raises:
        ValueError: ``pixels`` is not 28x28.
    """
    values = np.asarray(pixels, dtype=np.float32)
    if values.shape != IMAGE_SHAPE[:2]:
        raise ValueError(f"expected a 28x28 image, not {values.shape}")
    kernel, bias, count = kernels_for(settings, trained)
    layer = Conv2D(kernel, bias, settings.strides, settings.padding, activation)
    conv, _ = layer.forward(values[None, :, :, None] * PIXEL_SCALE)
    pool = MaxPooling2D().forward(conv)[0][0] if conv.shape[1] >= 2 else None
    return WhatIf(conv[0], pool, count, formula(settings))
