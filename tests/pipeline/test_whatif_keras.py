"""The Draw page's conv_1 what-if against Keras: for every stride, padding and kernel size the numpy maps
have the shape (and the values) of a Keras ``Conv2D`` with the same kernels, and pool_1 those of ``MaxPooling2D``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from artifacts.config import KERNEL_SIZES, PADDINGS
from dashboard.draw import whatif

COMBINATIONS = [(strides, padding, kernel) for strides in whatif.STRIDES for padding in PADDINGS
                for kernel in KERNEL_SIZES]


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    rng = np.random.default_rng(5)
    image = np.zeros((28, 28), dtype=np.float32)
    image[5:23, 9:19] = rng.uniform(0, 255, (18, 10))
    return image


@pytest.mark.parametrize("strides, padding, kernel", COMBINATIONS,
                         ids=[f"s{s}-{p}-k{k}" for s, p, k in COMBINATIONS])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_the_what_if_maps_are_a_keras_conv2d(digit, strides, padding, kernel, activation):
    settings = whatif.Settings(strides, padding, kernel, 12)
    result = whatif.what_if(digit, settings, None, activation)
    conv = keras.layers.Conv2D(12, kernel, strides=strides, padding=padding, activation=activation)
    pool = keras.layers.MaxPooling2D(2)
    inputs = (digit / 255.0)[None, :, :, None]
    conv.build(inputs.shape)
    kernels, bias, trained = whatif.kernels_for(settings, None)
    assert trained == 0
    conv.set_weights([kernels, bias])
    expected = np.asarray(conv(inputs))
    pooled = np.asarray(pool(expected))
    assert result.conv.shape == expected.shape[1:]
    assert result.conv.shape[:2] == conv.compute_output_shape(inputs.shape)[1:3]
    assert result.pool.shape == pooled.shape[1:]
    np.testing.assert_allclose(result.conv, expected[0], atol=1e-5)
    np.testing.assert_allclose(result.pool, pooled[0], atol=1e-5)
    assert result.formula.endswith(f"= {expected.shape[1]}")
