"""The CLI's defaults, trained on the 5,000-digit sample, classify the real MNIST test set well."""

from __future__ import annotations

import numpy as np
import pytest

from artifacts import ArtifactStore
from pipeline.model import load_model

REQUIRED_ACCURACY = 0.97


@pytest.mark.slow
def test_default_run_reaches_97_percent_on_real_mnist(default_run_store, mnist_test_set):
    images, labels = mnist_test_set
    run = ArtifactStore(default_run_store).run("default")
    assert run.manifest()["status"] == "complete"
    model = load_model(run.model_path)
    probabilities = model.predict(images[..., None].astype(np.float32), batch_size=1000, verbose=0)
    assert probabilities.shape == (10_000, 10)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    assert accuracy >= REQUIRED_ACCURACY, f"accuracy {accuracy:.4f} on the 10,000 real MNIST test digits"
    assert run.size_bytes() < 50_000_000
