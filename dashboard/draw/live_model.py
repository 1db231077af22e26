"""The live model behind the Draw page: a run's network answering one digit at a time.

A run that stored its weights (every run since they are stored) is answered by the numpy
engine of :mod:`dashboard.inference`, from the weights of its last epoch: no TensorFlow in the
web process; an imported model by the same engine running its recorded layer graph. Older runs
fall back to their ``model.keras`` through TensorFlow and :class:`pipeline.probe.Probe` (the pass the
training capture runs), imported on first use only, never at import time. Each process keeps a few
models, keyed by the run id and its files' modification times (a retrained run is loaded again).
"""

from __future__ import annotations

import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from artifacts import ArtifactError, Manifest, Run
from artifacts import format as fmt
from artifacts.config import TrainConfig, captured_layers

CACHE_SIZE = 2  # models kept per process; each is a few MB
NUMPY = "numpy"  # the engine of dashboard.inference, from the stored weights
TENSORFLOW = "tensorflow"  # model.keras through Keras, for runs without stored weights


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
    """A run's network, ready to analyse digits.

    Args:
        probe: takes (n, 28, 28) raw pixels and returns an object with ``activations`` ((layer
            name, (n, ...)) for every captured layer), ``probabilities`` (n, 10) and ``saliency``
            (n, 28, 28): a :class:`dashboard.inference.Network`'s ``analyse`` or a
            :class:`pipeline.probe.Probe`.
        layer_names: the captured layers, as :func:`artifacts.config.captured_layers` names them.
        backend: :data:`NUMPY` or :data:`TENSORFLOW`.
    """

    def __init__(self, probe: Callable[[np.ndarray], Any], layer_names: list[str], backend: str):
        self.probe = probe
        self.layer_names = list(layer_names)
        self.backend = backend

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


_MODELS: OrderedDict[tuple, LiveModel] = OrderedDict()
_LOCK = threading.Lock()


def get_live_model(run: Run, backend: str | None = None) -> LiveModel:
    """Return the run's live model, loading it on first use (thread-safe, cached per process).

    Args:
        run: a complete run.
        backend: None for :data:`NUMPY` when the run stored the weights of its last epoch, else
            :data:`TENSORFLOW`; or one of them, to compare the two.

    Raises:
        ModelUnavailable: no model file, an unreadable one or unreadable weights, or a config
            that does not match them.
    """
    try:
        info = run.info()
    except ArtifactError as error:
        raise ModelUnavailable(f"Run '{run.run_id}' has a manifest this version cannot read ({error.reason}).") \
            from None
    if info.is_imported:
        return _imported(run, info)
    try:
        config = info.config
        layer_names = captured_layers(config)
    except (ArtifactError, TypeError, ValueError) as error:
        raise ModelUnavailable(f"Run '{run.run_id}' has a config this version cannot read ({error}).") from None
    try:
        model_mtime = run.model_path.stat().st_mtime_ns
    except OSError:
        raise ModelUnavailable(f"Run '{run.run_id}' has no saved model, so it cannot classify new digits.") from None
    weights = run.weights_path(config.epochs)
    if backend is None:
        backend = NUMPY if weights.is_file() else TENSORFLOW
    weights_mtime = _mtime(weights) if backend == NUMPY else None
    key = (run.run_id, backend, model_mtime, weights_mtime)
    if backend == NUMPY:
        return _kept(key, lambda: _engine(run, config, layer_names))
    return _kept(key, lambda: _load(run, layer_names))


def _kept(key: tuple, load: Callable[[], LiveModel]) -> LiveModel:
    """Return the model kept under ``key``, else ``load()`` it and keep it (at most :data:`CACHE_SIZE`).

    Raises:
        ModelUnavailable: what ``load`` raises (nothing is kept then).
    """
    # One lock for loading too: two first requests must not load the same model twice.
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        live = load()
        _MODELS[key] = live
        while len(_MODELS) > CACHE_SIZE:
            _MODELS.popitem(last=False)
        return live


def _mtime(path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _engine(run: Run, config: TrainConfig, layer_names: list[str]) -> LiveModel:
    from dashboard.inference import Network

    # The answer comes from the stored weights, but a run whose model file is damaged is a damaged
    # run: the page says so rather than answer for a model that no longer loads.
    if not zipfile.is_zipfile(run.model_path):
        raise ModelUnavailable(f"The model of run '{run.run_id}' cannot be loaded (not a .keras archive).")
    try:
        network = Network(config, run.weights(config.epochs))
    except ArtifactError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' cannot be read: {error.reason}.") from None
    except ValueError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' do not fit its network ({error}).") from None
    return LiveModel(network.analyse, layer_names, NUMPY)


def _imported(run: Run, info: Manifest) -> LiveModel:
    """Return an imported model's live model: its recorded layer graph in numpy (cached like a trained run's).

    Raises:
        ModelUnavailable: no stored weights (imported before they were), unreadable ones, or a layer the
            engine does not run (the message names it).
    """
    weights = run.weights_path(fmt.IMPORTED_WEIGHTS_EPOCH)
    mtime = _mtime(weights)
    if mtime is None:
        raise ModelUnavailable(f"Run '{run.run_id}' was imported before its weights were stored for the Draw page; "
                               "import the model again to draw with it.")
    key = (run.run_id, NUMPY, mtime)  # a model imported again under the same id rewrites its weights
    return _kept(key, lambda: _load_imported(run, info))


def _load_imported(run: Run, info: Manifest) -> LiveModel:
    from dashboard.inference.graph import UnsupportedModel, imported_network, walked_layers

    try:
        network = imported_network(info, run.weights(fmt.IMPORTED_WEIGHTS_EPOCH))
    except ArtifactError as error:
        raise ModelUnavailable(f"The weights of run '{run.run_id}' cannot be read: {error.reason}.") from None
    except UnsupportedModel as error:
        raise ModelUnavailable(f"Run '{run.run_id}' cannot answer here: {error}.") from None
    walked = walked_layers(info.layers())
    return LiveModel(_Walk(network, walked), walked, NUMPY)


@dataclass(frozen=True)
class _Walked:
    activations: list[tuple[str, np.ndarray]]
    probabilities: np.ndarray
    saliency: np.ndarray


class _Walk:
    """An imported network's analysis as the Draw page walks it: the walked layers only, each (h, w, c) map or
    (units,) vector (a (h, w) map gets one channel, other shapes are flattened), the output layer's as the
    probabilities (the model's answer, after the softmax import applied to logits)."""

    def __init__(self, network, names: list[str]):
        self.network = network
        self.names = list(names)

    def __call__(self, images: np.ndarray) -> _Walked:
        result = self.network.analyse(images)
        outputs = dict(result.activations)
        shown = []
        for name in self.names:
            values = result.probabilities if name == self.network.output else outputs[name]
            if values.ndim == 3:
                values = values[..., None]
            elif values.ndim not in (2, 4):
                values = values.reshape(len(values), -1)
            shown.append((name, values))
        return _Walked(shown, result.probabilities, result.saliency)


def _load(run: Run, layer_names: list[str]) -> LiveModel:
    import keras

    from pipeline.probe import Probe

    try:
        model = keras.models.load_model(run.model_path, compile=False, safe_mode=True)
        live = LiveModel(Probe(model, layer_names), layer_names, TENSORFLOW)
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
