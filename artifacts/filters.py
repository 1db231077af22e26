"""What each conv filter looks for: its maximising input, and whether it is dead or saturated.

:class:`FilterMaxima` is the record of ``maximised.npz`` (written by :mod:`pipeline.maximise`,
read by :meth:`artifacts.store.Run.maximised`). :func:`filter_health` flags dead and saturated
filters from a snapshot's stored activations, with numpy alone, on read: every run with snapshots
gets the flags (runs trained before the maximisation too), the definitions can change without
retraining, and the store keeps no second copy of what the snapshot already holds.

Definitions, over the probe digits of the run's last snapshot (every probe digit), on a conv
layer's output after its activation:

- dead: the filter never fires. After ReLU: its largest output over every digit and position is
  <= 0. After LeakyReLU, whose output is never exactly 0: its largest output is at most
  :data:`LEAKY_DEAD_SHARE` (1%) of the layer's largest output, i.e. the positive side barely opens.
- saturated: the filter always fires, on more than :data:`SATURATED_SHARE` (95%) of the positions
  of every probe digit: it passes nearly everything, so it no longer selects anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SATURATED_SHARE = 0.95
LEAKY_DEAD_SHARE = 0.01
DEAD_SHARE = {"relu": 0.0, "leaky_relu": LEAKY_DEAD_SHARE}  # of the layer's largest output


@dataclass(frozen=True)
class FilterMaxima:
    """One conv layer's maximising inputs.

    Attributes:
        layer: the conv layer's name.
        images: (filters, 28, 28) raw pixels 0-255.
        reached: (filters,) the activation each image reached (spatial mean of its filter's map).
        probe_mean: (filters,) each filter's mean activation over the probe digits (same measure).
    """

    layer: str
    images: np.ndarray
    reached: np.ndarray
    probe_mean: np.ndarray


@dataclass(frozen=True)
class FilterHealth:
    """Which filters of one conv layer are dead or saturated (see the module's definitions).

    Attributes:
        layer: the conv layer's name.
        dead: (filters,) bool.
        saturated: (filters,) bool.
    """

    layer: str
    dead: np.ndarray
    saturated: np.ndarray

    @property
    def filters(self) -> int:
        """How many filters the layer has."""
        return int(len(self.dead))

    def line(self) -> str:
        """Return the layer's summary, e.g. ``conv_1: 2 of 32 dead (6%), 0 saturated``."""
        dead, saturated = int(self.dead.sum()), int(self.saturated.sum())
        text = f"{self.layer}: {dead} of {self.filters} dead ({_percent(dead, self.filters)})"
        if saturated:
            return f"{text}, {saturated} saturated ({_percent(saturated, self.filters)})"
        return f"{text}, 0 saturated"


def _percent(count: int, total: int) -> str:
    return f"{round(100 * count / total)}%" if total else "0%"


def filter_health(layer: str, activations: np.ndarray, activation: str) -> FilterHealth:
    """Flag the dead and saturated filters of one conv layer.

    Args:
        layer: the layer's name.
        activations: (digits, height, width, filters) its output after its activation, digits >= 1.
        activation: the layer's activation, "relu" or "leaky_relu".

    Raises:
        ValueError: ``activations`` is not 4-D with at least one digit, or an unknown activation.
    """
    values = np.asarray(activations, dtype=np.float32)
    if values.ndim != 4 or len(values) == 0:
        raise ValueError(f"activations must be (digits >= 1, h, w, filters), not shape {values.shape}")
    if activation not in DEAD_SHARE:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(DEAD_SHARE)}")
    peak = values.max(axis=(0, 1, 2))
    dead = peak <= DEAD_SHARE[activation] * max(float(peak.max()), 0.0)
    active_share = (values > 0).mean(axis=(1, 2))  # (digits, filters)
    saturated = (active_share > SATURATED_SHARE).all(axis=0)
    return FilterHealth(layer, dead, saturated)
