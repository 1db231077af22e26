"""What each conv filter looks for: the 28x28 input that excites it most, by gradient ascent.

For every conv layer, all its filters are optimised at once: one batch holds one image per
filter, and image ``i`` climbs the spatial mean of filter ``i``'s output (after its activation),
so one forward and backward pass per step serves the whole layer. The images start from grey
with a little seeded noise and live in the model's input scale, raw pixels 0-255 (optimised as
0-1, times 255 into the model). The regulariser is the usual one of feature visualisation: each
step moves the image by the gradient scaled to unit standard deviation, through a random shift of
up to ``JITTER`` pixels (patterns that only work at one exact position are not kept), then decays
it towards black (L2 decay, MNIST's background) and clips it to the pixel range; every
``BLUR_EVERY`` steps a 3x3 Gaussian blur removes pixel-level noise.

Per filter the result holds the activation the image reached and, for scale, the mean activation
over the run's probe digits (both the spatial mean of the filter's output map).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from artifacts import format as fmt
from artifacts.filters import FilterMaxima

STEPS = 64
STEP_SIZE = 0.03  # in 0-1 pixel units per unit-std gradient step
L2_DECAY = 0.002  # share of every pixel's value taken away each step
BLUR_EVERY = 16
JITTER = 1  # pixel of random shift, each way, before every step
START_GREY = 0.5
START_NOISE = 0.25
LEAK = 0.1  # weight of the pre-activation mean in the objective
_BLUR = np.outer([1.0, 6.0, 1.0], [1.0, 6.0, 1.0]) / 64.0  # a light blur: 3x3 kernels need sharp detail


def maximise_filters(model: keras.Model, conv_names: list[str], probe_images: np.ndarray, seed: int,
                     steps: int = STEPS) -> list[FilterMaxima]:
    """Return the maximising input of every filter of every layer in ``conv_names``, in order.

    Args:
        model: a Keras classifier taking raw 0-255 pixels (n, 28, 28, 1).
        conv_names: its conv layers to visualise.
        probe_images: (n, 28, 28) raw pixels, n >= 1: the digits the mean probe activation is taken over.
        seed: seeds the starting noise and the shifts (the same run gives the same images).
        steps: gradient steps per layer.

    Returns:
        One :class:`artifacts.filters.FilterMaxima` per layer: images (filters, 28, 28) float32
        in 0-255, the activation each reached, and each filter's mean activation over the probes.

    Raises:
        ValueError: a name is not a layer of ``model``.
    """
    probes = tf.convert_to_tensor(np.asarray(probe_images, dtype=np.float32)[..., None])
    return [_maximise_layer(model, name, probes, seed + index, steps) for index, name in enumerate(conv_names)]


def _maximise_layer(model: keras.Model, name: str, probes: tf.Tensor, seed: int, steps: int) -> FilterMaxima:
    layer = model.get_layer(name)
    layer_input = keras.Model(model.inputs[0], layer.input)
    layer_output = keras.Model(model.inputs[0], layer.output)
    filters = int(layer.output.shape[-1])
    rng = np.random.default_rng(seed)
    side = fmt.IMAGE_SHAPE[0]
    start = START_GREY + START_NOISE * rng.standard_normal((filters, side, side, 1))
    shifts = rng.integers(-JITTER, JITTER + 1, size=(steps, 2)).astype(np.int32)
    blur = tf.constant(_BLUR.reshape(3, 3, 1, 1), dtype=tf.float32)

    def own_means(maps: tf.Tensor) -> tf.Tensor:
        # maps (filters, h, w, filters): image i's mean over positions of filter i.
        return tf.linalg.diag_part(tf.reduce_mean(maps, axis=(1, 2)))

    @tf.function
    def climb(images: tf.Tensor, shifts: tf.Tensor, smooth: tf.Tensor) -> tf.Tensor:
        # The whole ascent in one graph: no Python between steps.
        for index in tf.range(tf.shape(shifts)[0]):
            shifted = tf.roll(images, shifts[index], axis=(1, 2))
            with tf.GradientTape() as tape:
                tape.watch(shifted)
                before = layer.convolution_op(layer_input(shifted * 255.0, training=False), layer.kernel)
                if layer.use_bias:
                    before = before + layer.bias
                # The leak's gradient moves a filter that no pixel turns on yet (its gradient is 0 otherwise).
                objective = tf.reduce_sum(own_means(layer.activation(before)) + LEAK * own_means(before))
            gradient = tf.roll(tape.gradient(objective, shifted), -shifts[index], axis=(1, 2))
            gradient /= tf.math.reduce_std(gradient, axis=(1, 2, 3), keepdims=True) + 1e-8
            images = (images + STEP_SIZE * gradient) * (1.0 - L2_DECAY)
            if smooth[index]:
                images = tf.nn.conv2d(images, blur, 1, "SAME")
            images = tf.clip_by_value(images, 0.0, 1.0)
        return images

    # No blur in the last stretch: the image ends sharp, at a maximum of the objective.
    smooth = [(index + 1) % BLUR_EVERY == 0 and index < steps - BLUR_EVERY for index in range(steps)]
    images = climb(tf.constant(np.clip(start, 0.0, 1.0).astype(np.float32)), tf.constant(shifts),
                   tf.constant(smooth, dtype=tf.bool)).numpy()
    # What is stored (float16) is what is measured, through the layer itself.
    pixels = (images[..., 0] * 255.0).astype(fmt.MAXIMISED_DTYPE).astype(np.float32)
    reached = own_means(layer_output(pixels[..., None], training=False)).numpy()
    probe_mean = tf.reduce_mean(layer_output(probes, training=False), axis=(0, 1, 2)).numpy()
    return FilterMaxima(name, pixels, reached.astype(np.float32), probe_mean.astype(np.float32))
