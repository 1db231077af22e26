"""The live model behind the Draw page: the only module of the web process that uses TensorFlow.

TensorFlow is imported on first use, never at import time, so the rest of the dashboard
starts without it. Each process loads a run's ``model.keras`` once and keeps it, keyed by
the run id and the file's modification time (a retrained run is loaded again).

The analysis itself is :class:`pipeline.probe.Probe`, the pass the training capture runs
for every snapshot, so a drawn digit and a stored snapshot are computed by the same code.
The pipeline, like TensorFlow, is imported only when a model is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from artifacts import ArtifactError, Run
from artifacts.config import captured_layers

CACHE_SIZE = 2  # models kept per process; each is a few MB


class ModelUnavailable(RuntimeError):
    """The run's model cannot be used; ``str(error)`` is a message for the page."""


@dataclass(frozen=True)
class Analysis:
    """What the Draw page shows of one digit.

    Attributes:
        probabilities: float32 (10,) class probabilities.
        activations: (layer name, float32 array without the batch axis) for every captured
            layer, in network order: (h, w, c) for conv and pool layers, (units,) for dense.
        saliency: float32 (28, 28) in [0, 1].
    """

    probabilities: np.ndarray
    activations: list[tuple[str, np.ndarray]]
    saliency: np.ndarray


class LiveModel:
    """A loaded model with a probe over the captured layers.

    Args:
        model: the run's Keras model (raw 0-255 pixels in, softmax out).
        layer_names: the layers to report, as :func:`artifacts.config.captured_layers` names them.
    """

    def __init__(self, model: Any, layer_names: list[str]):
        from pipeline.probe import Probe

        self.model = model
        self.layer_names = list(layer_names)
        self.probe = Probe(model, self.layer_names)

    def analyse(self, image: np.ndarray) -> Analysis:
        """Return probabilities, every captured layer's activations and the saliency of one digit.

        One forward and one backward pass: the activations and the probabilities come from
        the same call the gradient is taken through.

        Args:
            image: (28, 28) raw pixels 0-255 (any numeric dtype).

        Raises:
            ValueError: the image is not 28x28.
        """
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.shape != (28, 28):
            raise ValueError(f"expected a 28x28 image, not {pixels.shape}")
        result = self.probe(pixels[None])
        activations = [(name, values[0]) for name, values in result.activations]
        return Analysis(result.probabilities[0], activations, result.saliency[0])


_MODELS: OrderedDict[tuple[str, int], LiveModel] = OrderedDict()
_LOCK = threading.Lock()


def get_live_model(run: Run, manifest: dict[str, Any]) -> LiveModel:
    """Return the run's live model, loading it on first use (thread-safe, cached per process).

    Args:
        run: a complete run.
        manifest: its manifest (for the config that names the captured layers).

    Raises:
        ModelUnavailable: no model file, an unreadable one, or a config that does not match it.
    """
    path = run.model_path
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise ModelUnavailable(f"Run '{run.run_id}' has no saved model, so it cannot classify new digits.") from None
    key = (run.run_id, mtime)
    # One lock for loading too: two first requests must not load the same model twice.
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        live = _load(run, manifest)
        _MODELS[key] = live
        while len(_MODELS) > CACHE_SIZE:
            _MODELS.popitem(last=False)
        return live


def _load(run: Run, manifest: dict[str, Any]) -> LiveModel:
    try:
        layer_names = captured_layers(run.info().config)
    except (ArtifactError, TypeError, ValueError) as error:
        raise ModelUnavailable(f"Run '{run.run_id}' has a config this version cannot read ({error}).") from None
    import keras

    try:
        model = keras.models.load_model(run.model_path, compile=False, safe_mode=True)
        live = LiveModel(model, layer_names)
        # Tracing the probe's tf.function takes longer than a stroke's analysis: do it now, not on the first stroke.
        live.probe(np.zeros((1, 28, 28), dtype=np.float32))
        return live
    except Exception as error:  # Keras raises many types for a bad file; none may reach the page
        raise ModelUnavailable(
            f"The model of run '{run.run_id}' cannot be loaded ({type(error).__name__})."
        ) from None


def clear_cache() -> None:
    """Forget every loaded model (tests, benchmarks)."""
    with _LOCK:
        _MODELS.clear()
