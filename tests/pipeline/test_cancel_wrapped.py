"""A cancel that a library re-raised as its own error still ends the run ``cancelled``, not ``failed``."""

from __future__ import annotations

import os
import signal

from artifacts import ArtifactStore
from artifacts.config import TrainConfig
from artifacts.records import Status
from pipeline import train as train_module


def test_a_signal_that_tensorflow_rewrapped_still_cancels(tmp_path, monkeypatch):
    """TensorFlow re-raises an exception from inside layer tracing as a TypeError (seen in CI on SIGTERM)."""

    def load_dataset_then_rewrap(*_args, **_kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises TrainingCancelled right here
        except train_module.TrainingCancelled as cancel:
            raise TypeError("Failed to convert elements of (None, 1) to Tensor.") from cancel
        raise AssertionError("the SIGTERM handler did not run")

    monkeypatch.setattr(train_module, "load_dataset", load_dataset_then_rewrap)
    store = ArtifactStore(tmp_path / "store")
    result = train_module.train(TrainConfig(epochs=1), store, dataset="mnist-sample", run_id="wrapped")
    assert result.status == Status.CANCELLED
    info = store.run("wrapped").info()
    assert info.status == Status.CANCELLED
    assert "SIGTERM" in (info.error or "")
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler was put back
