"""A run's test digits over training: every stored epoch's answers and embedded activations as arrays.

Read through :meth:`artifacts.Run.test_epoch` (validated, bounded) and checked against the run's
predictions (the labels and pixels of the same test digits). Runs written before the store kept
these records raise :class:`NoTestHistory`, which pages show as a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artifacts import ArtifactError, Run
from artifacts import format as fmt


class NoTestHistory(LookupError):
    """The run holds no per-epoch record of its test digits (trained before they were stored, or not finished)."""


@dataclass(frozen=True)
class TestHistory:
    """Every stored epoch of a run's test digits.

    Attributes:
        epochs: the stored epochs, ascending (0 = untrained).
        labels: (n,) true classes; images: (n, 28, 28) uint8 pixels.
        predicted: (epochs, n) answers; true_probability: (epochs, n) float32.
        feature_index: (k,) the test indices whose activations ``features`` (epochs, k, units) holds.
        key: what the arrays were read from (run folder and each file's mtime and size), for caches.
    """

    epochs: list[int]
    labels: np.ndarray
    images: np.ndarray
    predicted: np.ndarray
    true_probability: np.ndarray
    feature_index: np.ndarray
    features: np.ndarray
    key: tuple


def read_history(run: Run) -> TestHistory:
    """Return ``run``'s :class:`TestHistory`.

    Raises:
        NoTestHistory: no per-epoch test records, or none for the untrained network or the last epoch.
        ArtifactError: a record or the predictions cannot be read, or they disagree (other digits,
            another number of them, embedded digits that change between epochs).
    """
    epochs = run.test_epochs()
    if not epochs:
        raise NoTestHistory(f"Run '{run.run_id}' was trained before the dashboard stored every test digit at every "
                            "epoch, so it has no record of how its test set changed during training. Train a new "
                            "run to see it.")
    predictions = run.predictions()
    labels, images = predictions["labels"], predictions["images"]
    records = [run.test_epoch(epoch) for epoch in epochs]
    n = len(labels)
    index = records[-1][fmt.TEST_FEATURE_INDEX]
    for epoch, record in zip(epochs, records, strict=True):
        name = f"{fmt.TEST_EPOCHS_DIR}/{fmt.test_epoch_name(epoch)}"
        if len(record[fmt.TEST_PREDICTED]) != n:
            raise ArtifactError(run.run_id, name, f"holds {len(record[fmt.TEST_PREDICTED])} test digits, but the "
                                f"run's predictions hold {n}")
        if not np.array_equal(record[fmt.TEST_FEATURE_INDEX], index):
            raise ArtifactError(run.run_id, name, "embeds other test digits than the last epoch does")
        if record[fmt.TEST_FEATURES].shape[1:] != records[-1][fmt.TEST_FEATURES].shape[1:]:
            raise ArtifactError(run.run_id, name, "its features have another width than the last epoch's")
    stats = []
    for epoch in epochs:
        stat = run.test_epoch_path(epoch).stat()
        stats.append((epoch, stat.st_mtime_ns, stat.st_size))
    return TestHistory(
        epochs=list(epochs),
        labels=np.asarray(labels),
        images=np.asarray(images),
        predicted=np.stack([record[fmt.TEST_PREDICTED] for record in records]),
        true_probability=np.stack([record[fmt.TEST_TRUE_PROBABILITY] for record in records]).astype(np.float32),
        feature_index=np.asarray(index, dtype=np.int64),
        features=np.stack([record[fmt.TEST_FEATURES] for record in records]),
        key=(str(run.path), tuple(stats)),
    )
