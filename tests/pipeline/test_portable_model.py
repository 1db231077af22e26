"""A run's ``model.keras`` loads in plain Keras, without this project's code, and predicts what the run stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from artifacts import ArtifactStore
from tests.conftest import ROOT, TINY_RUN_ID

# Runs in a fresh interpreter whose cwd is a temporary folder. The project may still be
# installed (editable) in this Python, so its packages are refused outright: loading must
# not need them, and a Keras that tried to import them would fail here.
PLAIN_KERAS = r"""
import importlib.abc, json, sys
PROJECT = ("pipeline", "artifacts", "dashboard", "tests")

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in PROJECT:
            raise ImportError(f"project code is not allowed here: {name}")
        return None

sys.meta_path.insert(0, Refuse())
import numpy as np
import keras

model_path, images_path, out_path = sys.argv[1:4]
images = np.load(images_path)
results = {}
for mode in ("default", "safe_mode"):
    model = keras.saving.load_model(model_path) if mode == "default" else keras.saving.load_model(
        model_path, safe_mode=True)
    results[mode] = model.predict(images[..., None].astype("float32"), verbose=0).tolist()
loaded = sorted(name for name in sys.modules if name.split(".")[0] in PROJECT)
json.dump({"probabilities": results, "project_modules": loaded, "sys_path": sys.path}, open(out_path, "w"))
"""


def test_model_keras_loads_in_plain_keras_and_predicts_the_stored_classes(tiny_store, tmp_path):
    run = ArtifactStore(tiny_store).run(TINY_RUN_ID)
    predictions = run.predictions()
    chosen = np.arange(0, len(predictions["labels"]), 5)  # 100 stored test digits
    np.save(tmp_path / "images.npy", predictions["images"][chosen])
    script = tmp_path / "plain_keras.py"
    script.write_text(PLAIN_KERAS)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run(
        [sys.executable, str(script), str(run.model_path), str(tmp_path / "images.npy"), str(tmp_path / "out.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["project_modules"] == []
    assert str(ROOT) not in out["sys_path"]
    stored = predictions["probabilities"][chosen].astype(np.float32)
    for mode in ("default", "safe_mode"):
        probabilities = np.asarray(out["probabilities"][mode], dtype=np.float32)
        assert probabilities.shape == (len(chosen), 10)
        # Stored probabilities are float16: classes agree except in near-ties, values within rounding.
        np.testing.assert_allclose(probabilities, stored, atol=5e-3)
        agreement = np.mean(probabilities.argmax(axis=1) == predictions["predicted"][chosen])
        assert agreement >= 0.99, mode
