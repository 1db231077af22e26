"""Pooled activations in snapshots: not stored, derived on read from the convolution they pool.

A 2x2 max pooling of a conv layer's stored activations gives exactly the pooling layer's
activations (max commutes with float16 rounding, which is monotonic), so a snapshot keeps
only the convolution's: a fifth of the default run's size. Snapshots written before this
still hold both, and are read as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from artifacts import format as fmt
from artifacts.config import TrainConfig

POOL_SIZE = 2  # pipeline/model.py pools every pooled block 2x2, stride 2, valid


def pooled_pairs(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(pooling layer key, conv layer key)`` for every pooled block of the run's config.

    Returns an empty list when the manifest's config cannot be read (nothing is derived then),
    and for an imported model (its snapshot holds every layer it has).
    """
    if fmt.is_imported(manifest):
        return []
    try:
        config = TrainConfig.from_dict(manifest.get(fmt.KEY_CONFIG) or {})
    except (ValueError, TypeError, KeyError):
        return []
    return [
        (f"{fmt.ACTIVATION_PREFIX}pool_{index}", f"{fmt.ACTIVATION_PREFIX}conv_{index}")
        for index, block in enumerate(config.conv_blocks, start=1)
        if block.pooling
    ]


def max_pool(maps: np.ndarray) -> np.ndarray:
    """Return the 2x2 max pooling (stride 2, valid) of ``(n, height, width, channels)`` maps."""
    n, height, width, channels = maps.shape
    h, w = height // POOL_SIZE, width // POOL_SIZE
    trimmed = maps[:, : h * POOL_SIZE, : w * POOL_SIZE, :]
    return trimmed.reshape(n, h, POOL_SIZE, w, POOL_SIZE, channels).max(axis=(2, 4))


def without_pooled(arrays: dict[str, np.ndarray], pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Return ``arrays`` without the pooled activations that :func:`with_pooled` derives again exactly."""
    dropped = {pool for pool, conv in pairs
               if pool in arrays and conv in arrays and np.array_equal(arrays[pool], max_pool(arrays[conv]))}
    return {key: value for key, value in arrays.items() if key not in dropped}


def with_pooled(arrays: dict[str, np.ndarray], pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Return ``arrays`` with every pooled activation that is missing derived from its convolution's."""
    derived = dict(arrays)
    for pool, conv in pairs:
        if pool not in derived and conv in derived and np.asarray(derived[conv]).ndim == 4:
            derived[pool] = max_pool(np.asarray(derived[conv]))
    return derived
