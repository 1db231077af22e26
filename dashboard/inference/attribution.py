"""Attributions of one network's answer, in numpy: saliency, SmoothGrad, Grad-CAM, and their sanity check.

Every map is (28, 28) float32 in [0, 1], scaled by its own peak (an all-zero map stays 0), so maps
of different methods and networks can be laid side by side:

- saliency: |d p_c / d pixels|, the gradient of class c's probability (c the top class unless
  chosen), as :meth:`Network.analyse` computes it;
- SmoothGrad (Smilkov et al., 2017): the mean saliency of :data:`SMOOTHGRAD_SAMPLES` noisy copies of
  the digit (Gaussian noise of :data:`SMOOTHGRAD_SIGMA` of the 0-255 pixel range, seeded), all for the
  clean digit's class, in one batched pass;
- Grad-CAM (Selvaraju et al., 2017) of a conv layer: the layer's channels weighted by the spatial
  mean of the class score's (the logit's) gradient on them, summed, ReLU, then resized to 28x28
  bilinearly as ``tf.image.resize`` does;
- the sanity check (Adebayo et al., 2018): the Spearman rank correlation of one method's maps from
  two networks (the untrained epoch 0 and the trained last epoch).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dashboard.inference.network import LOGIT, PROBABILITY, Gradients, Network

SALIENCY = "saliency"
SMOOTHGRAD = "smoothgrad"
GRADCAM = "gradcam"
METHODS = (SALIENCY, SMOOTHGRAD, GRADCAM)
SMOOTHGRAD_SAMPLES = 25
SMOOTHGRAD_SIGMA = 0.15  # noise's standard deviation, as a share of the pixel range (0-255); the paper's 10-20%
SMOOTHGRAD_SEED = 0
PIXEL_RANGE = 255.0
SIDE = 28


@dataclass(frozen=True)
class Attribution:
    """One method's map of one digit.

    Attributes:
        heatmap: (28, 28) float32 in [0, 1].
        cls: the class explained.
        probabilities: (classes,) the network's answer for the (clean) digit.
        coarse: Grad-CAM's map at its layer's resolution before resizing (unscaled); None for the others.
    """

    heatmap: np.ndarray
    cls: int
    probabilities: np.ndarray
    coarse: np.ndarray | None = None


def scaled(maps: np.ndarray) -> np.ndarray:
    """Return non-negative (n, h, w) ``maps`` divided by each map's peak (all-zero maps stay 0), float32."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    return maps / np.where(peak > 0, peak, 1.0).astype(np.float32)[:, None, None]


def saliency(network: Network, images: np.ndarray, classes=None) -> np.ndarray:
    """Return the (n, 28, 28) saliency of ``images`` for ``classes`` (None: each image's top class).

    With ``classes`` None this is :meth:`Network.analyse`'s saliency.

    Raises:
        ValueError: see :meth:`Network.gradients`.
    """
    return scaled(np.abs(network.gradients(images, classes, score=PROBABILITY).pixels))


def noisy_copies(image: np.ndarray, samples: int = SMOOTHGRAD_SAMPLES, sigma: float = SMOOTHGRAD_SIGMA,
                 seed: int = SMOOTHGRAD_SEED) -> np.ndarray:
    """Return ``samples`` copies of a (28, 28) digit with Gaussian noise (``sigma`` x 255), float32, not clipped.

    Not clipped to 0-255: SmoothGrad's noise is symmetric around the digit, as in the paper.
    """
    noise = np.random.default_rng(seed).normal(0.0, sigma * PIXEL_RANGE, (samples, SIDE, SIDE))
    return (np.asarray(image, dtype=np.float32)[None] + noise).astype(np.float32)


def smoothgrad(network: Network, image: np.ndarray, cls: int | None = None, samples: int = SMOOTHGRAD_SAMPLES,
               sigma: float = SMOOTHGRAD_SIGMA, seed: int = SMOOTHGRAD_SEED) -> Attribution:
    """Return SmoothGrad of one (28, 28) digit: the mean saliency over its noisy copies, scaled to [0, 1].

    Args:
        cls: the class explained (None: the network's answer for the clean digit), the same for every copy.

    Raises:
        ValueError: see :meth:`Network.gradients`.
    """
    clean = network.gradients(np.asarray(image, dtype=np.float32)[None], cls, score=PROBABILITY)
    chosen = int(clean.classes[0])
    maps = saliency(network, noisy_copies(image, samples, sigma, seed), chosen)
    return Attribution(scaled(maps.mean(axis=0)[None])[0], chosen, clean.probabilities[0])


def plain_saliency(network: Network, image: np.ndarray, cls: int | None = None) -> Attribution:
    """Return the saliency of one (28, 28) digit for ``cls`` (None: its top class).

    Raises:
        ValueError: see :meth:`Network.gradients`.
    """
    result = network.gradients(np.asarray(image, dtype=np.float32)[None], cls, score=PROBABILITY)
    return Attribution(scaled(np.abs(result.pixels))[0], int(result.classes[0]), result.probabilities[0])


def gradcam_maps(network: Network, images: np.ndarray, layer: str, classes=None) -> tuple[np.ndarray, Gradients]:
    """Return Grad-CAM of ``layer`` for ``images``: (n, h, w) at the layer's resolution, and the pass it came from
    (its classes explained and probabilities).

    ReLU(sum over channels k of mean_ij(d y_c / d A_ij^k) * A^k), y_c the class's logit, A the layer's output.

    Raises:
        ValueError: see :meth:`Network.gradients`; or ``layer``'s output is not (n, h, w, channels).
    """
    result = network.gradients(images, classes, layers=(layer,), score=LOGIT)
    output, gradient = result.layers[layer]
    if output.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer with feature maps; {layer!r} has none")
    weights = gradient.mean(axis=(1, 2))
    return np.maximum(np.einsum("nhwk,nk->nhw", output, weights), np.float32(0)), result


def gradcam(network: Network, image: np.ndarray, layer: str, cls: int | None = None) -> Attribution:
    """Return Grad-CAM of one (28, 28) digit at ``layer``, resized to 28x28 and scaled to [0, 1].

    Raises:
        ValueError: see :func:`gradcam_maps`.
    """
    pixels = np.asarray(image, dtype=np.float32)[None]
    coarse, result = gradcam_maps(network, pixels, layer, cls)
    return Attribution(scaled(resize_bilinear(coarse, SIDE))[0], int(result.classes[0]), result.probabilities[0],
                       coarse[0])


def resize_bilinear(maps: np.ndarray, side: int) -> np.ndarray:
    """Return (n, h, w) ``maps`` resized to (n, side, side) as ``tf.image.resize(..., "bilinear")`` does.

    Half-pixel centres, no antialiasing: output pixel i samples the input at (i + 0.5) * h / side - 0.5,
    clamped to the edges.
    """
    maps = np.asarray(maps, dtype=np.float32)

    def axis(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        where = np.clip((np.arange(side) + 0.5) * size / side - 0.5, 0, size - 1)
        low = np.floor(where).astype(int)
        high = np.minimum(low + 1, size - 1)
        return low, high, (where - low).astype(np.float32)

    top, bottom, down = axis(maps.shape[1])
    left, right, across = axis(maps.shape[2])
    rows = maps[:, top] * (1 - down)[None, :, None] + maps[:, bottom] * down[None, :, None]
    return rows[:, :, left] * (1 - across)[None, None, :] + rows[:, :, right] * across[None, None, :]


def attribute(network: Network, image: np.ndarray, method: str, layer: str | None = None,
              cls: int | None = None) -> Attribution:
    """Return one method's map of a (28, 28) digit (``layer``: Grad-CAM's conv layer).

    Raises:
        ValueError: an unknown method, Grad-CAM without a layer, or see :meth:`Network.gradients`.
    """
    if method == SALIENCY:
        return plain_saliency(network, image, cls)
    if method == SMOOTHGRAD:
        return smoothgrad(network, image, cls)
    if method == GRADCAM:
        if not layer:
            raise ValueError("Grad-CAM needs a conv layer")
        return gradcam(network, image, layer, cls)
    raise ValueError(f"unknown attribution method {str(method)[:20]!r}")


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float | None:
    """Return the Spearman rank correlation of two maps' flattened values, or None when it is undefined.

    Undefined when either map is constant (an all-zero Grad-CAM: no ranks to compare).

    Raises:
        ValueError: the maps differ in size.
    """
    a = np.asarray(first, dtype=np.float64).ravel()
    b = np.asarray(second, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"maps of {a.size} and {b.size} values")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(a, b).statistic)


@dataclass(frozen=True)
class SanityCheck:
    """One method's maps from the untrained and the trained network, and their rank correlation.

    Attributes:
        untrained: epoch 0's :class:`Attribution`.
        trained: the last epoch's.
        correlation: Spearman's rho of the two maps, None when undefined.
    """

    untrained: Attribution
    trained: Attribution
    correlation: float | None


def sanity_check(untrained: Network, trained: Network, image: np.ndarray, method: str,
                 layer: str | None = None, cls: int | None = None) -> SanityCheck:
    """Return the maps of ``method`` from both networks for the same class, and their rank correlation.

    The class is ``cls``, else the trained network's answer: both maps explain the same score, so
    only the weights differ.

    Raises:
        ValueError: see :func:`attribute`.
    """
    after = attribute(trained, image, method, layer, cls)
    before = attribute(untrained, image, method, layer, after.cls)
    return SanityCheck(before, after, rank_correlation(before.heatmap, after.heatmap))
