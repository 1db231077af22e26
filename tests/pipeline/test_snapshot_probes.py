"""Which probe digits get a snapshot every epoch (issue 9: only 3 per class had history, unmarked)."""

from __future__ import annotations

import numpy as np

from artifacts.config import TrainConfig
from pipeline.train import _snapshot_subset


def test_by_default_every_probe_is_captured_at_every_epoch():
    config = TrainConfig()
    labels = np.repeat(np.arange(10), config.probe_per_class)
    assert list(_snapshot_subset(labels, config.snapshot_probe_per_class)) == list(range(len(labels)))


def test_a_smaller_subset_takes_the_first_probes_of_each_class():
    labels = np.repeat(np.arange(10), 4)
    assert list(_snapshot_subset(labels, 1)) == list(range(0, 40, 4))
