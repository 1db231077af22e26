"""Build runs through the store API alone (no TensorFlow): every artifact, plausible shapes."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from artifacts import ArtifactStore, Run
from artifacts import format as fmt
from artifacts.config import TrainConfig, captured_layers, conv_layers, layer_plan

CONFIG = TrainConfig(epochs=2, probe_per_class=2, snapshot_probe_per_class=1)
DATASET = {"name": "synthetic", "source": "tests", "train_size": 90, "validation_size": 10, "test_size": 40}
EPOCHS = CONFIG.epochs
N_TEST = 40
N_PROBES = 20


def history_row(epoch: int) -> dict:
    """Return a full history row for ``epoch`` (values depend on the epoch)."""
    row = {
        "epoch": epoch,
        "loss": 1.0 / epoch,
        "accuracy": 0.5 + epoch / 10,
        "val_loss": 1.5 / epoch,
        "val_accuracy": 0.4 + epoch / 10,
        "learning_rate": 1e-3,
        "epoch_seconds": 2.5 + epoch,
    }
    row.update({f"val_class_{k}": k / 10 + epoch / 100 for k in range(fmt.NUM_CLASSES)})
    return row


def evaluation(seed: int = 0) -> dict:
    """Return keyword arguments for ``Run.write_evaluation``: consistent metrics and predictions."""
    rng = np.random.default_rng(seed)
    labels = np.arange(N_TEST) % 10
    predicted = np.where(rng.random(N_TEST) < 0.8, labels, (labels + 1) % 10)
    probabilities = rng.dirichlet(np.ones(10), size=N_TEST).astype(np.float32)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    correct = np.diag(confusion).astype(float)
    metrics = pd.DataFrame(
        {
            "class": np.arange(10),
            "precision": correct / np.maximum(confusion.sum(axis=0), 1),
            "recall": correct / confusion.sum(axis=1),
            "f1": correct / confusion.sum(axis=1) * 0.9,
            "support": confusion.sum(axis=1),
        }
    )
    images = rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8)
    return {
        "class_metrics": metrics,
        "confusion": confusion,
        "labels": labels,
        "predicted": predicted,
        "probabilities": probabilities,
        "images": images,
    }


def snapshot(epoch: int, probes: int = N_PROBES, config: TrainConfig = CONFIG) -> dict[str, np.ndarray]:
    """Return snapshot arrays shaped as the pipeline writes them for ``config``."""
    rng = np.random.default_rng(epoch)
    arrays = {fmt.SNAPSHOT_PROBE_INDEX: np.arange(probes, dtype=np.int64)}
    plan = {spec.name: spec for spec in layer_plan(config)}
    previous = 1
    for name in conv_layers(config):
        block = config.conv_blocks[int(name.split("_")[1]) - 1]
        shape = (block.kernel_size, block.kernel_size, previous, block.filters)
        arrays[fmt.KERNEL_PREFIX + name] = rng.normal(size=shape).astype(np.float16)
        previous = block.filters
    for name in captured_layers(config):
        arrays[fmt.ACTIVATION_PREFIX + name] = rng.random((probes, *plan[name].output_shape)).astype(np.float16)
    arrays[fmt.SNAPSHOT_SALIENCY] = rng.random((probes, 28, 28)).astype(np.float16)
    arrays[fmt.SNAPSHOT_PROBABILITIES] = np.full((probes, 10), 0.1, dtype=np.float16)
    return arrays


def probes() -> dict[str, np.ndarray]:
    """Return a probe set: ids, labels and images."""
    rng = np.random.default_rng(3)
    return {
        "ids": np.arange(N_PROBES, dtype=np.int64) * 2,
        "labels": np.repeat(np.arange(10), N_PROBES // 10).astype(np.uint8),
        "images": rng.integers(0, 256, size=(N_PROBES, 28, 28), dtype=np.uint8),
    }


def write_model(path: Path) -> None:
    """Stand-in for ``model.save``: the store only moves the file."""
    path.write_bytes(b"PK\x03\x04 not really a keras file")


def make_run(store: ArtifactStore, run_id: str, complete: bool = True, pause: float = 0.0) -> Run:
    """Write a run in the pipeline's order (probes, snapshots, history, evaluation, model, complete).

    Args:
        pause: seconds to sleep between files, to widen race windows for concurrent readers.
    """
    run = store.create_run(run_id, {"config": CONFIG.to_dict(), "dataset": {"source": "tests"}})
    run.update_manifest(dataset=DATASET, versions={"numpy": np.__version__})
    run.write_probes(**probes())
    run.write_snapshot(0, snapshot(0, probes=10))
    for epoch in range(1, EPOCHS + 1):
        time.sleep(pause)
        run.write_progress({"epoch": epoch, "epochs": EPOCHS, "batch": 1, "batches": 1})
        run.write_snapshot(epoch, snapshot(epoch, probes=10 if epoch < EPOCHS else N_PROBES))
        run.append_history(history_row(epoch))
    time.sleep(pause)
    run.write_evaluation(**evaluation())
    time.sleep(pause)
    run.save_model(write_model)
    if complete:
        time.sleep(pause)
        run.finish("complete", metrics={"test_accuracy": 0.8, "test_loss": 0.5})
    return run


def write_raw(path, data: bytes | str) -> None:
    """Replace a store file's bytes behind the store's back (a local file or an S3 object)."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("latin-1") if isinstance(data, str) else data)


def save_array(path, save, *args, **arrays) -> None:
    """Write what ``np.save``/``np.savez`` (``save``) makes straight into a store file (local or S3)."""
    buffer = io.BytesIO()
    save(buffer, *args, **arrays)
    write_raw(path, buffer.getvalue())


def load_arrays(path) -> dict[str, np.ndarray]:
    """Return the arrays of a store's npz file, read behind the store's back."""
    with np.load(io.BytesIO(path.read_bytes())) as archive:
        return {key: archive[key] for key in archive.files}
