"""When each test digit is learned, from every epoch's answers (epoch 0: the untrained network).

Definitions (the page says them too):

- learned epoch: the first stored epoch from which the digit is answered correctly at every later
  stored epoch, the last included ("learned for good"); -1 when the last epoch answers it wrongly.
- first correct: the first stored epoch that answers it correctly; -1 when none does.
- forgotten: answered correctly at one trained epoch (1 on) and wrongly at the next stored one. Epoch 0
  is left out: the random network's right answers are chance (about one in ten).
- final confidence: the probability the last epoch gives the digit's true class.
- never learned: wrong at every trained epoch and below :data:`NEVER_LEARNED_CONFIDENCE` at the end
  (confidently wrong throughout: candidates for a wrong label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEVER_LEARNED_CONFIDENCE = 0.1


@dataclass(frozen=True)
class LearnedTable:
    """One row per test digit (arrays of length n), as the module's docstring defines them."""

    learned_epoch: np.ndarray  # int64
    first_correct: np.ndarray  # int64
    forget_events: np.ndarray  # int64: how many times it went from right to wrong (trained epochs)
    final_confidence: np.ndarray  # float64
    always_wrong: np.ndarray  # bool: wrong at every trained epoch

    @property
    def forgotten(self) -> np.ndarray:
        """Boolean (n,): forgotten at least once."""
        return self.forget_events > 0


def correct_matrix(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return (epochs, n) booleans: whether each epoch's answer is each digit's label."""
    return np.asarray(predicted).astype(np.int64) == np.asarray(labels).astype(np.int64)[None, :]


def learned_table(epochs: list[int], predicted: np.ndarray, true_probability: np.ndarray,
                  labels: np.ndarray) -> LearnedTable:
    """Return the :class:`LearnedTable` of n digits.

    Args:
        epochs: the stored epochs, ascending (0 is the untrained network when present).
        predicted: (epochs, n) each epoch's answers.
        true_probability: (epochs, n) the probability each epoch gives the true class.
        labels: (n,) the true classes.

    Raises:
        ValueError: shapes that disagree, or no epochs.
    """
    epochs = np.asarray(epochs, dtype=np.int64)
    correct = correct_matrix(predicted, labels)
    if correct.ndim != 2 or len(epochs) == 0 or correct.shape[0] != len(epochs):
        raise ValueError(f"{len(epochs)} epochs but answers of shape {np.shape(predicted)}")
    if np.shape(true_probability) != correct.shape:
        raise ValueError(f"probabilities of shape {np.shape(true_probability)}, answers {correct.shape}")
    # Correct from epoch row r to the end <=> the reversed running AND is true at r.
    stays = np.logical_and.accumulate(correct[::-1], axis=0)[::-1]
    learned = np.where(stays[-1], epochs[np.argmax(stays, axis=0)], -1)
    first = np.where(correct.any(axis=0), epochs[np.argmax(correct, axis=0)], -1)
    trained = correct[epochs >= 1]
    events = (trained[:-1] & ~trained[1:]).sum(axis=0) if len(trained) > 1 else np.zeros(correct.shape[1], int)
    always_wrong = ~trained.any(axis=0) if len(trained) else np.zeros(correct.shape[1], bool)
    return LearnedTable(learned.astype(np.int64), first.astype(np.int64), np.asarray(events, dtype=np.int64),
                        np.asarray(true_probability, dtype=np.float64)[-1], always_wrong)


def learned_by_epoch(table: LearnedTable, labels: np.ndarray, epochs: list[int], classes: int = 10) -> np.ndarray:
    """Return (classes + 1, epochs) shares: row k the share of class k's digits learned (for good) by each
    epoch, the last row the share of all digits. A class without digits gives NaN."""
    learned = table.learned_epoch
    labels = np.asarray(labels).astype(np.int64)
    by = (learned[None, :] >= 0) & (learned[None, :] <= np.asarray(epochs)[:, None])  # (epochs, n)
    shares = np.full((classes + 1, len(epochs)), np.nan)
    for k in range(classes):
        members = labels == k
        if members.any():
            shares[k] = by[:, members].mean(axis=1)
    if len(labels):
        shares[classes] = by.mean(axis=1)
    return shares


def _within(mask: np.ndarray, labels: np.ndarray, digit) -> np.ndarray:
    return mask & (np.asarray(labels) == digit) if digit not in (None, "all") else mask


def learned_last(table: LearnedTable, labels: np.ndarray, digit="all") -> np.ndarray:
    """Return the learned digits (of class ``digit``, or all), latest learned epoch first, then least confident."""
    chosen = np.flatnonzero(_within(table.learned_epoch >= 0, labels, digit))
    order = np.lexsort((table.final_confidence[chosen], -table.learned_epoch[chosen]))
    return chosen[order]


def forgotten(table: LearnedTable, labels: np.ndarray, digit="all") -> np.ndarray:
    """Return the digits forgotten at least once, most forgetting events first, then least confident at the end."""
    chosen = np.flatnonzero(_within(table.forgotten, labels, digit))
    order = np.lexsort((table.final_confidence[chosen], -table.forget_events[chosen]))
    return chosen[order]


def never_learned(table: LearnedTable, labels: np.ndarray, digit="all",
                  confidence: float = NEVER_LEARNED_CONFIDENCE) -> np.ndarray:
    """Return the digits wrong at every trained epoch and below ``confidence`` at the end, least confident first."""
    mask = table.always_wrong & (table.final_confidence < confidence)
    chosen = np.flatnonzero(_within(mask, labels, digit))
    return chosen[np.argsort(table.final_confidence[chosen], kind="stable")]


def confusion_by_epoch(predicted: np.ndarray, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Return (epochs, classes, classes) counts: rows true, columns predicted, one matrix per epoch."""
    predicted = np.asarray(predicted).astype(np.int64)
    labels = np.asarray(labels).astype(np.int64)
    flat = labels[None, :] * classes + predicted  # (epochs, n)
    return np.stack([np.bincount(row, minlength=classes * classes).reshape(classes, classes) for row in flat])
