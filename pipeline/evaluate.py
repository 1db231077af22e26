"""Per-class metrics and the confusion matrix, computed with numpy from predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from artifacts.config import NUM_CLASSES


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = NUM_CLASSES) -> np.ndarray:
    """Return the (classes, classes) matrix of counts: rows true, columns predicted."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def class_metrics(confusion: np.ndarray) -> pd.DataFrame:
    """Return precision, recall, F1 and support per class from a confusion matrix.

    A class never predicted has precision 0; one with no support has recall 0
    (scikit-learn's ``zero_division=0``).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    correct = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(correct), where=total > 0)
    return pd.DataFrame(
        {
            "class": np.arange(len(confusion)),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
        }
    )
