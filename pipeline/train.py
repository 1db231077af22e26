"""One training run from config to a complete, self-describing run in the store."""

from __future__ import annotations

import os
import platform
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from artifacts import ArtifactStore, DatasetInfo, Metrics, Phase, Progress, Run, Status
from artifacts import format as fmt
from artifacts.config import TrainConfig, captured_layers, conv_layers, layer_plan
from pipeline.data import Dataset, choose_probes, load_dataset, train_validation_split

PREDICT_BATCH = 1024
# Info lines TensorFlow's native libraries print while it is imported, before absl logging is
# set up (so TF_CPP_MIN_LOG_LEVEL cannot hide them), once per library: twice in a terminal.
IMPORT_NOISE = ("All log messages before absl::InitializeLog() is called", "oneDNN custom operations are on")


class TrainingCancelled(BaseException):
    """Raised inside training when the process receives SIGINT or SIGTERM.

    A BaseException, like KeyboardInterrupt: Keras and TensorFlow have broad
    ``except Exception`` blocks, and one of them swallowed a SIGTERM that landed
    early in ``fit`` (the run then trained on and ended complete).
    """


class CancelRequest:
    """What the signal handler records, so a swallowed exception still cancels.

    ``requested`` is set on the first signal; ``model``, once assigned, gets
    ``stop_training`` so ``fit`` stops after its current batch.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self.model = None

    def check(self) -> None:
        """Raise :class:`TrainingCancelled` when a signal arrived (even if its exception was lost)."""
        if self.requested:
            raise TrainingCancelled(self.requested)


@dataclass
class TrainResult:
    """What a finished run reports: its id, status and test metrics."""

    run_id: str
    status: Status
    test_accuracy: float | None = None
    test_loss: float | None = None
    size_bytes: int = 0
    dataset_name: str = ""
    test_digits: int = 0
    test_split: str = ""  # how the test digits were chosen when the source has no test split of its own


def new_run_id() -> str:
    """Return a fresh, sortable run id such as ``20261122-143005-a1b2``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries that shaped a run."""
    import keras
    import pandas
    import tensorflow

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
    }


@contextmanager
def cancel_on_signals() -> Iterator[CancelRequest]:
    """Turn SIGINT and SIGTERM into :class:`TrainingCancelled` while the block runs; yield the request."""
    request = CancelRequest()

    def handler(signum, _frame):
        request.requested = f"received {signal.Signals(signum).name}"
        if request.model is not None:
            request.model.stop_training = True
        raise TrainingCancelled(request.requested)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def train(
    config: TrainConfig,
    store: ArtifactStore,
    dataset: str = "auto",
    run_id: str | None = None,
    limit: int | None = None,
    verbose: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> TrainResult:
    """Train a model and publish a run.

    The run is created first (status ``running``) so a supervisor can follow it;
    a cancel marks it ``cancelled``, any error ``failed`` with the message; it
    becomes ``complete`` only after every artifact is written.

    Args:
        config: hyperparameters.
        store: where the run goes.
        dataset: data source name (see :mod:`pipeline.data`).
        run_id: the run's id; a fresh one when None.
        limit: use about this many training digits, a seeded stratified subset (tests, quick demos).
        verbose: print a progress bar to stderr.
        log: receives one-line status messages.

    Returns:
        The run's id, final status and test metrics.

    Raises:
        InvalidRunId, RunExistsError, OSError: the run cannot be created.
        Exception: whatever failed training (the run is marked ``failed`` first).
    """
    run_id = run_id or new_run_id()
    run = store.create_run(
        run_id,
        {
            fmt.KEY_CONFIG: config.to_dict(),
            fmt.KEY_DATASET: DatasetInfo(source=dataset).to_dict(),
            fmt.KEY_ARCHITECTURE: [spec.to_dict() for spec in layer_plan(config)],
            fmt.KEY_HOST: socket.gethostname(),
            fmt.KEY_PID: os.getpid(),
            fmt.KEY_COMMAND: " ".join(sys.argv),
        },
    )
    started = time.perf_counter()
    cancel_request: CancelRequest | None = None
    try:
        with cancel_on_signals() as cancel_request:
            import_tensorflow_quietly()
            from pipeline.callbacks import Heartbeat

            with Heartbeat(run):
                return _train(config, run, dataset, limit, verbose, log, started, cancel_request)
    except TrainingCancelled as cancel:
        return _cancelled(run, str(cancel), log)
    except BaseException as error:
        if cancel_request is not None and cancel_request.requested:
            # The signal's exception was raised while TensorFlow traced a layer, and
            # TensorFlow re-raised it as its own TypeError: the user still asked to cancel.
            return _cancelled(run, cancel_request.requested, log)
        run.finish(Status.FAILED, **{fmt.KEY_ERROR: f"{type(error).__name__}: {error}"})
        raise


def _cancelled(run: Run, reason: str, log: Callable[[str], None]) -> TrainResult:
    """Mark ``run`` cancelled for ``reason``; return its result."""
    run.finish(Status.CANCELLED, **{fmt.KEY_ERROR: reason})
    log(f"run {run.run_id} {Status.CANCELLED} ({reason})")
    return TrainResult(run.run_id, Status.CANCELLED, size_bytes=run.size_bytes())


def _train(
    config: TrainConfig,
    run: Run,
    source: str,
    limit: int | None,
    verbose: bool,
    log: Callable[[str], None],
    started: float,
    cancel_request: CancelRequest,
) -> TrainResult:
    run.write_progress(Progress(Phase.LOADING, epoch=0, epochs=config.epochs, pid=os.getpid()))
    data = load_dataset(source, seed=config.seed)
    log(f"dataset: {data.name} ({data.source}), {len(data.x_train)} train / {len(data.x_test)} test digits")
    x_train, y_train = data.x_train, data.y_train
    if limit is not None and limit < len(y_train):
        # Sources may be sorted by class (mnist-sample is): take a seeded
        # stratified subset, not the first digits, so every class is there.
        x_train, y_train = _limited(x_train, y_train, limit, config.seed)
    train_index, validation_index = train_validation_split(y_train, config.validation_fraction, config.seed)
    probe_ids = choose_probes(data.y_test, config.probe_per_class, config.seed)
    run.write_probes(probe_ids, data.y_test[probe_ids], data.x_test[probe_ids])
    run.update_manifest(**{
        fmt.KEY_DATASET: _describe_dataset(data, len(train_index), len(validation_index), limit).to_dict(),
        fmt.KEY_VERSIONS: library_versions(),
        fmt.CLASS_NAMES: list(data.class_names),
    })

    import keras

    from pipeline.callbacks import ProgressBar
    from pipeline.capture import Capture, TestSetCapture, embedding_index
    from pipeline.model import build_model, compile_model, save_model

    keras.utils.set_random_seed(config.seed)
    model = compile_model(build_model(config), config)
    cancel_request.model = model
    capture = Capture(model, captured_layers(config), conv_layers(config))
    steps = int(np.ceil(len(train_index) / config.batch_size))
    test_capture = TestSetCapture(model, data.x_test, data.y_test, embedding_index(len(data.x_test), config.seed))
    callbacks = [store_callback(run, capture, config, data.x_test[probe_ids], data.y_test[probe_ids], steps,
                                test_capture)]
    if verbose:
        callbacks.append(ProgressBar(config.epochs, steps))
    fit_started = time.perf_counter()
    model.fit(
        x_train[train_index][..., None].astype(np.float32),
        y_train[train_index],
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(x_train[validation_index][..., None].astype(np.float32), y_train[validation_index]),
        callbacks=callbacks,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - fit_started
    cancel_request.check()  # a signal whose exception a library swallowed still cancels

    run.write_progress(Progress(Phase.EVALUATING, epoch=config.epochs, epochs=config.epochs, pid=os.getpid()))
    # The last snapshot holds every probe digit; per-epoch ones too unless config.snapshot_probe_per_class is smaller.
    run.write_snapshot(config.epochs, capture.snapshot(data.x_test[probe_ids], np.arange(len(probe_ids))))
    metrics = _evaluate(model, run, data)
    _maximise(model, run, config, data.x_test[probe_ids], fit_seconds, log)
    run.save_model(lambda path: save_model(model, path))
    history = run.history()
    metrics = replace(metrics, best_val_accuracy=float(history["val_accuracy"].max()),
                      epochs_completed=int(len(history)), train_seconds=round(time.perf_counter() - started, 2))
    cancel_request.check()  # never publish a run as complete after a cancel
    run.finish(Status.COMPLETE, **{fmt.KEY_METRICS: metrics.to_dict()})
    return TrainResult(
        run.run_id,
        Status.COMPLETE,
        metrics.test_accuracy,
        metrics.test_loss,
        run.info().size_bytes,
        data.name,
        int(len(data.x_test)),
        str(data.notes.get(fmt.SPLIT_TEST_NOTE, "")),
    )


def import_tensorflow_quietly() -> None:
    """Import TensorFlow without its start-up info lines (:data:`IMPORT_NOISE`); no-op once imported.

    Everything else written to stderr meanwhile (warnings, errors) is passed on.

    Raises:
        ImportError: TensorFlow cannot be imported (its own output is passed on first).
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)  # the lines come from C++, below sys.stderr
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", errors="replace").splitlines(keepends=True):
                if not any(noise in line for noise in IMPORT_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()


def store_callback(run: Run, capture, config: TrainConfig, probe_images, probe_labels, steps: int,
                   test_capture=None):
    """Return the :class:`~pipeline.callbacks.StoreCallback` that records a run each epoch.

    Args:
        run: the run being written.
        capture: a :class:`~pipeline.capture.Capture` of the model being trained.
        config: the run's hyperparameters (epochs, snapshot probes per class).
        probe_images: uint8 (n, 28, 28) the whole probe set, grouped by class.
        probe_labels: their labels.
        steps: training batches per epoch.
        test_capture: records every test digit each epoch (:class:`~pipeline.capture.TestSetCapture`), or None.

    Returns:
        The callback; per-epoch snapshots hold ``config.snapshot_probe_per_class``
        probes of each class.
    """
    from pipeline.callbacks import StoreCallback

    snapshot_index = _snapshot_subset(np.asarray(probe_labels), config.snapshot_probe_per_class)
    return StoreCallback(run, capture, probe_images[snapshot_index], snapshot_index, config.epochs, steps,
                         test_capture)


def _evaluate(model, run: Run, data: Dataset) -> Metrics:
    from pipeline.evaluate import class_metrics, confusion_matrix

    probabilities = model.predict(data.x_test[..., None].astype(np.float32), batch_size=PREDICT_BATCH, verbose=0)
    predicted = probabilities.argmax(axis=1)
    confusion = confusion_matrix(data.y_test, predicted)
    run.write_evaluation(class_metrics(confusion), confusion, data.y_test, predicted, probabilities, data.x_test)
    picked = probabilities[np.arange(len(predicted)), data.y_test.astype(np.int64)]
    return Metrics(test_accuracy=float((predicted == data.y_test).mean()),
                   test_loss=float(-np.log(np.clip(picked, 1e-7, 1.0)).mean()))


def _maximise(model, run: Run, config: TrainConfig, probe_images: np.ndarray, fit_seconds: float,
              log: Callable[[str], None]) -> None:
    """Store what each conv filter looks for (:mod:`pipeline.maximise`); log its time beside training's."""
    from pipeline.maximise import maximise_filters

    started = time.perf_counter()
    maxima = maximise_filters(model, conv_layers(config), probe_images, config.seed)
    seconds = time.perf_counter() - started
    run.write_maximised(maxima, seconds)
    log(f"maximising inputs of {sum(len(layer.reached) for layer in maxima)} filters: {seconds:.1f} s "
        f"({100 * seconds / max(fit_seconds, 1e-9):.1f}% of the {fit_seconds:.1f} s of training)")


def _limited(images: np.ndarray, labels: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return about ``limit`` digits, the same share of each class, in their original order."""
    from pipeline.data import stratified_split

    chosen, _rest = stratified_split(labels, limit / len(labels), seed + 3)
    return images[chosen], labels[chosen]


def _snapshot_subset(probe_labels: np.ndarray, per_class: int) -> np.ndarray:
    """Return positions in the probe set of the first ``per_class`` probes of each class."""
    chosen = [np.flatnonzero(probe_labels == label)[:per_class] for label in range(10)]
    return np.concatenate(chosen).astype(np.int64)


def _describe_dataset(data: Dataset, train_size: int, validation_size: int, limit: int | None) -> DatasetInfo:
    split = {"validation": "stratified, seeded by config.seed + 1, from the training split", **data.notes}
    if limit is not None:
        split["limit"] = f"{limit} training digits, stratified, seeded by config.seed + 3"
    return DatasetInfo(name=data.name, source=data.source, train_size=train_size, validation_size=validation_size,
                       test_size=int(len(data.x_test)), split=split)
