"""2D projections of each epoch's dense-layer activations, deterministic and aligned across epochs.

PCA (the default) is a centred SVD with each component's sign fixed (its largest loading positive).
Every epoch's 2D layout is then turned by the rotation or reflection that best matches it to the last
epoch's (orthogonal Procrustes: the same digits in both) and scaled to unit root-mean-square radius,
so that moving the epoch slider shows the digits moving, not the axes flipping or the cloud growing.
t-SNE (scikit-learn, when installed) is offered as an option, one epoch at a time, aligned the same way.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock

import numpy as np

PCA = "pca"
TSNE = "tsne"
METHOD_NAMES = {PCA: "PCA", TSNE: "t-SNE"}
TSNE_SEED = 0
TSNE_ITERATIONS = 500  # scikit-learn's default is 1000: half the wait, the clusters already settled


def available_methods() -> list[str]:
    """Return the projections this installation offers: PCA always, t-SNE when scikit-learn is installed."""
    return [PCA] + ([TSNE] if importlib.util.find_spec("sklearn") is not None else [])


def pca_2d(features: np.ndarray) -> np.ndarray:
    """Return the (k, 2) coordinates of ``features`` (k, units) on their first two principal components.

    Components are signed so that each one's largest-magnitude loading is positive (deterministic).
    Fewer than two usable dimensions leave the missing coordinates 0.
    """
    data = np.asarray(features, dtype=np.float64)
    centred = data - data.mean(axis=0) if len(data) else data
    coords = np.zeros((len(data), 2))
    if len(data) < 2 or data.shape[1] == 0:
        return coords
    # The eigenvectors of the (units, units) scatter matrix are the SVD's right singular vectors, at a
    # fraction of the cost for k digits >> units.
    _values, vectors = np.linalg.eigh(centred.T @ centred)
    for component in range(min(2, vectors.shape[1])):
        axis = vectors[:, -1 - component]
        sign = 1.0 if axis[np.argmax(np.abs(axis))] >= 0 else -1.0
        coords[:, component] = centred @ (axis * sign)
    return coords


def unit_scale(coords: np.ndarray) -> np.ndarray:
    """Return ``coords`` centred and divided by their root-mean-square radius (unchanged when all equal)."""
    coords = np.asarray(coords, dtype=np.float64)
    centred = coords - coords.mean(axis=0) if len(coords) else coords
    radius = float(np.sqrt((centred ** 2).sum(axis=1).mean())) if len(coords) else 0.0
    return centred / radius if radius > 0 else centred


def align(coords: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return ``coords`` (k, 2) turned by the orthogonal matrix that brings them closest to ``target`` (k, 2).

    The rotation or reflection R minimising ||coords @ R - target|| (orthogonal Procrustes: R = U V^T
    from the SVD of coords^T target). Both are assumed centred.
    """
    coords, target = np.asarray(coords, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if len(coords) == 0:
        return coords
    u, _s, vt = np.linalg.svd(coords.T @ target)
    return coords @ (u @ vt)


def pca_epochs(features: np.ndarray) -> np.ndarray:
    """Return every epoch's aligned, unit-scaled PCA layout.

    Args:
        features: (epochs, k, units) the same k digits' activations at each epoch, the last epoch last.

    Returns:
        (epochs, k, 2) float64; the last epoch is its own PCA, every other aligned to it.
    """
    layouts = [unit_scale(pca_2d(epoch)) for epoch in np.asarray(features)]
    if not layouts:
        return np.zeros((0, 0, 2))
    target = layouts[-1]
    return np.stack([align(layout, target) for layout in layouts[:-1]] + [target])


def tsne_2d(features: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return a t-SNE layout of ``features`` (k, units), unit-scaled and aligned to ``target`` (k, 2).

    Seeded and initialised from PCA, so a run's epoch always gives the same picture.

    Raises:
        ImportError: scikit-learn is not installed.
    """
    from sklearn.manifold import TSNE as SklearnTSNE
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    data = np.asarray(features, dtype=np.float32)
    if len(data) < 5:
        return unit_scale(pca_2d(data))
    perplexity = float(min(30.0, (len(data) - 1) / 3))
    # One thread: a web worker shares its cores, and OpenMP threads spinning on a busy machine cost
    # several times the work itself (measured: 56 s against 15 s for 120 digits under load).
    with threadpool_limits(1):
        layout = SklearnTSNE(n_components=2, init="pca", random_state=TSNE_SEED, perplexity=perplexity,
                             max_iter=TSNE_ITERATIONS).fit_transform(data)
    return align(unit_scale(layout), unit_scale(target))


class ProjectionCache:
    """A small least-recently-used cache of projections, keyed by what they were computed from.

    Args:
        size: how many entries to keep (each a few hundred kB at most).
    """

    def __init__(self, size: int = 16):
        self.size = size
        self.entries: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.lock = Lock()

    def get(self, key: Hashable, compute) -> np.ndarray:
        """Return the cached value of ``key``, else ``compute()`` (stored, read-only)."""
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = np.asarray(compute())
        value.flags.writeable = False
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value
