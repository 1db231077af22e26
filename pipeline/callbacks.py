"""Keras callbacks that write a run's per-epoch record through the artifact store."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import keras
import numpy as np

from artifacts import Phase, Progress, Run
from artifacts.config import NUM_CLASSES
from pipeline.capture import Capture
from pipeline.model import CLASS_ACCURACY_METRIC

PROGRESS_INTERVAL = 0.5  # seconds between progress writes: enough for a live bar, cheap for fit
HEARTBEAT_INTERVAL = 5.0  # seconds between heartbeats, even while one long step runs


class StoreCallback(keras.callbacks.Callback):
    """Each epoch: append the history row, store a snapshot and the weights; each batch: progress.

    Args:
        run: the run being written.
        capture: computes snapshots.
        probe_images: uint8 (n, 28, 28) probe digits captured every epoch.
        probe_index: their positions in the run's probe set.
        epochs: total epochs, for progress.
        steps_per_epoch: batches per epoch, for progress.
        test_capture: every test digit's answer and features each epoch (a
            :class:`~pipeline.capture.TestSetCapture`), written from epoch 0 on; None writes none.
    """

    # Keras may run batch hooks on a worker thread (as it does for a plain fit)
    # instead of converting every log value on the training thread after each
    # step; on_epoch_end still runs on the training thread after they finish.
    async_safe = True

    def __init__(self, run: Run, capture: Capture, probe_images, probe_index, epochs: int, steps_per_epoch: int,
                 test_capture=None):
        super().__init__()
        self.test_capture = test_capture
        self.run = run
        self.capture = capture
        self.probe_images = probe_images
        self.probe_index = probe_index
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.epoch_started = 0.0
        self.last_progress = 0.0
        self.epoch = 0

    def on_train_begin(self, logs=None):
        # Epoch 0: the untrained network, to compare with the trained one.
        self.run.write_snapshot(0, self.capture.snapshot(self.probe_images, self.probe_index))
        self.run.write_weights(0, self.capture.weights())
        self._test_epoch(0)
        self._progress(epoch=0, batch=0, logs={}, phase=Phase.TRAINING)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self.last_progress >= PROGRESS_INTERVAL:
            self.last_progress = now
            self._progress(epoch=self.epoch, batch=batch + 1, logs=logs or {}, phase=Phase.TRAINING)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.run.write_snapshot(epoch + 1, self.capture.snapshot(self.probe_images, self.probe_index))
        # The last epoch's weights are the model fit returns (model.keras): stored at full precision.
        self.run.write_weights(epoch + 1, self.capture.weights(), final=epoch + 1 == self.epochs)
        self._test_epoch(epoch + 1)
        row = {
            "epoch": epoch + 1,
            "loss": _float(logs.get("loss")),
            "accuracy": _float(logs.get("accuracy")),
            "val_loss": _float(logs.get("val_loss")),
            "val_accuracy": _float(logs.get("val_accuracy")),
            "learning_rate": _float(self.model.optimizer.learning_rate),
        }
        per_class = _vector(logs.get("val_" + CLASS_ACCURACY_METRIC), NUM_CLASSES)
        for k in range(NUM_CLASSES):
            row[f"val_class_{k}"] = per_class[k]
        # Wall time as a user waits for it: steps, validation and the capture above.
        row["epoch_seconds"] = time.perf_counter() - self.epoch_started
        self.run.append_history(row)
        self._progress(epoch=epoch + 1, batch=self.steps_per_epoch, logs=logs, phase=Phase.TRAINING)

    def _test_epoch(self, epoch: int) -> None:
        if self.test_capture is not None:
            self.run.write_test_epoch(epoch, self.test_capture())

    def _progress(self, epoch: int, batch: int, logs: dict, phase: Phase) -> None:
        self.run.write_progress(
            Progress(phase, epoch=epoch, epochs=self.epochs, batch=batch, batches=self.steps_per_epoch,
                     loss=_float(logs.get("loss")), accuracy=_float(logs.get("accuracy")), pid=os.getpid())
        )


class ProgressBar(keras.callbacks.Callback):
    """A one-line terminal progress bar (Keras' own would print 20 per-class metrics)."""

    # Safe on Keras' worker thread: batch updates are throttled to ten a second, and
    # Keras waits for them before on_epoch_end writes the epoch's line.
    async_safe = True

    def __init__(self, epochs: int, steps_per_epoch: int, stream=None):
        super().__init__()
        self.epochs = epochs
        self.steps = steps_per_epoch
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.epoch = 0
        self.last = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.interactive and now - self.last > 0.1:
            self.last = now
            done = int(30 * (batch + 1) / self.steps)
            loss = (logs or {}).get("loss", float("nan"))
            self.stream.write(
                f"\repoch {self.epoch}/{self.epochs} [{'#' * done}{'.' * (30 - done)}] "
                f"{batch + 1}/{self.steps} loss {float(loss):.4f}"
            )
            self.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.stream.write(
            f"\repoch {epoch + 1}/{self.epochs} [{'#' * 30}] loss {_float(logs.get('loss')):.4f} "
            f"acc {_float(logs.get('accuracy')):.4f} val_loss {_float(logs.get('val_loss')):.4f} "
            f"val_acc {_float(logs.get('val_accuracy')):.4f}\n"
        )
        self.stream.flush()


class Heartbeat:
    """A daemon thread that records every few seconds that this process is alive.

    A supervisor that finds the heartbeat stale and the process gone marks the
    run failed, which covers SIGKILL and machine loss.
    """

    def __init__(self, run: Run, interval: float = HEARTBEAT_INTERVAL):
        self.run = run
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.run.write_heartbeat(os.getpid(), socket.gethostname())
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=self.interval)

    def _beat(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.run.write_heartbeat(os.getpid(), socket.gethostname())
            except OSError:
                pass  # a full disk must not kill training; the supervisor will see staleness


def _vector(value, size: int) -> list[float]:
    """Return ``value`` as ``size`` floats; NaN for each when it is missing or malformed."""
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape != (size,):
        return [float("nan")] * size
    return [float(item) for item in array]


def _float(value) -> float:
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return float("nan")
