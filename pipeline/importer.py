"""``python -m pipeline import``: a Keras model trained elsewhere, evaluated into a complete run.

Everything that can be refused is checked before the store is touched: the file (a zip of
bounded size and member count, checked before Keras opens it), the model (loaded with
``safe_mode=True``; one input of 28x28 pixels, one output of a class per class of the data)
and the data. The run is then built in a hidden staging folder inside the store and renamed
into place once complete, so a reader never sees it half-written and a failure leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artifacts import ArtifactStore, DatasetInfo, Metrics, RunExistsError, Status
from artifacts import format as fmt

ZIP_MAX_BYTES = 512 * 2**20  # declared uncompressed total of a .keras file
ZIP_MAX_MEMBERS = 64  # a .keras file has three: config.json, metadata.json, model.weights.h5
INPUT_SHAPES = ((28, 28, 1), (28, 28), (784,))
INPUT_SCALES = (255, 1)
PROBE_PER_CLASS = 10
PROBE_SEED = 1337
PREDICT_BATCH = 1024
SNAPSHOT_MAX_BYTES = 128 * 2**20  # float16 activations of the probes; larger models get no snapshot


class ImportRefused(Exception):
    """The model, its file or the data cannot be imported; the message is one line for the user."""


@dataclass(frozen=True)
class ImportResult:
    """What an import published: the run id, its test accuracy and loss, and how many test digits."""

    run_id: str
    test_accuracy: float
    test_loss: float
    test_digits: int
    dataset_name: str
    softmax_applied: bool
    snapshot: bool


def check_model_file(path: Path) -> None:
    """Refuse a file that is not a plausible ``.keras`` archive, before Keras reads it.

    Raises:
        ImportRefused: missing, not a file, not a zip (or truncated), more than
            :data:`ZIP_MAX_MEMBERS` members, a declared uncompressed size above
            :data:`ZIP_MAX_BYTES`, or no ``config.json``.
    """
    if not path.exists():
        raise ImportRefused(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise ImportRefused(f"model file {str(path)!r} is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportRefused(f"model file {str(path)!r} is not a .keras archive (a truncated or other file: "
                            f"{error})") from None
    if len(members) > ZIP_MAX_MEMBERS:
        raise ImportRefused(f"model file {str(path)!r} holds {len(members)} files, more than a .keras file "
                            f"may ({ZIP_MAX_MEMBERS})")
    total = sum(member.file_size for member in members)
    if total > ZIP_MAX_BYTES:
        raise ImportRefused(f"model file {str(path)!r} unpacks to {total / 2**20:.0f} MB, more than the "
                            f"{ZIP_MAX_BYTES // 2**20} MB limit")
    if "config.json" not in {member.filename for member in members}:
        raise ImportRefused(f"model file {str(path)!r} is not a Keras model (no config.json inside)")


def load_model(path: Path):
    """Return the model in ``path`` (checked by :func:`check_model_file` first), loaded safely.

    Raises:
        ImportRefused: the model needs unsafe deserialisation (a Lambda layer) or cannot be loaded.
    """
    check_model_file(path)
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for a bad file; each becomes one line
        text = str(error)
        if "safe_mode" in text or "Lambda" in text:
            raise ImportRefused(f"model file {str(path)!r} needs unsafe deserialisation (a Lambda layer or "
                                "arbitrary code), which import refuses") from None
        first = text.strip().splitlines()[0][:200] if text.strip() else ""
        raise ImportRefused(f"model file {str(path)!r} cannot be loaded ({type(error).__name__}: {first})") from None


def check_model(model, classes: int) -> tuple[int, ...]:
    """Return the model's input shape (without the batch axis) after checking it fits the data.

    Raises:
        ImportRefused: more than one input or output, an input other than :data:`INPUT_SHAPES`,
            or an output other than ``(classes,)``.
    """
    inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    if len(inputs) != 1 or len(outputs) != 1:
        raise ImportRefused(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; import needs one of each")
    shape = tuple(inputs[0].shape[1:])
    if shape not in INPUT_SHAPES:
        accepted = ", ".join(str(item) for item in INPUT_SHAPES)
        raise ImportRefused(f"the model takes inputs of shape {shape}; import needs 28x28 images: {accepted}")
    out = tuple(outputs[0].shape[1:])
    if out != (classes,):
        raise ImportRefused(f"the model outputs shape {out}; the data set has {classes} classes, so it must "
                            f"output ({classes},)")
    return shape


def layer_list(model) -> list[dict]:
    """Return every layer of ``model`` as :data:`artifacts.format.LAYER_FIELDS` with its graph (the input first).

    Each record also has :data:`artifacts.format.LAYER_INBOUND` (the layers feeding it, in call order)
    and :data:`artifacts.format.LAYER_CONFIG` (:func:`layer_config`); layers come in an order where
    every layer follows the layers feeding it.
    """
    names: dict[int, str] = {}
    layers = []
    for tensor in model.inputs:
        name = str(tensor.name)[: fmt.MAX_LAYER_NAME] or "input"
        names[id(tensor._keras_history.operation)] = name
        layers.append({"name": name, "class_name": "InputLayer", "output_shape": _shape(tensor.shape), "params": 0,
                       fmt.LAYER_INBOUND: [], fmt.LAYER_CONFIG: {}})
    rest = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    for layer in rest:
        names[id(layer)] = layer.name[: fmt.MAX_LAYER_NAME]
    graph = getattr(model, "_functional", None) or model  # a Sequential model runs through a functional one
    pending = [(layer, _inbound(layer, graph, names)) for layer in rest]
    placed = {item["name"] for item in layers}
    while pending:  # in graph order: a layer after every layer feeding it (model.layers is already, usually)
        ready = [(layer, inbound) for layer, inbound in pending if set(inbound) <= placed] or pending[:1]
        for layer, inbound in ready:
            shape = _output_shape(layer)
            layers.append({"name": names[id(layer)], "class_name": type(layer).__name__[:100],
                           "output_shape": [] if shape is None else _shape(shape),
                           "params": int(layer.count_params()),
                           fmt.LAYER_INBOUND: [name for name in inbound if name in placed],
                           fmt.LAYER_CONFIG: layer_config(layer)})
            placed.add(names[id(layer)])
        pending = [item for item in pending if all(item[0] is not layer for layer, _ in ready)]
    return layers[: fmt.MAX_LAYERS]


def _inbound(layer, graph, names: dict[int, str]) -> list[str]:
    """Return the names of the layers feeding ``layer`` in ``graph`` (its one node there), in call order.

    A layer called more than once in the graph (shared) gives its first call's; one whose inputs
    cannot all be named gives [] (the engine then refuses it).
    """
    from keras.src.ops.function import make_node_key

    try:
        own = getattr(graph, "_nodes", None) or set()
        nodes = [node for index, node in enumerate(layer._inbound_nodes) if make_node_key(layer, index) in own]
        node = (nodes or layer._inbound_nodes)[0]
        inbound = [names.get(id(tensor._keras_history.operation)) for tensor in node.input_tensors]
    except (AttributeError, IndexError, TypeError):
        return []
    return [] if None in inbound else inbound  # a layer fed by one it cannot name: its inputs are not told


def layer_config(layer) -> dict:
    """Return the keys of :data:`artifacts.format.LAYER_CONFIG_KEYS` in ``layer.get_config()``, as JSON.

    A value the store would refuse (:func:`artifacts.validate.layers_problem`) is left out, but for an
    activation that is not a plain name (a custom object), recorded as "custom" so that no reader takes
    the layer for a linear one.
    """
    from artifacts.validate import layers_problem

    try:
        config = layer.get_config()
    except Exception:  # a layer's own get_config may raise anything; its record then has no config
        return {}
    kept = {}
    for key in fmt.LAYER_CONFIG_KEYS:
        if key not in config:
            continue
        value = _json(config[key])
        probe = {"name": "x", "class_name": "X", "output_shape": [], "params": 0, fmt.LAYER_CONFIG: {key: value}}
        if layers_problem([probe]) is None:
            kept[key] = value
        elif key == "activation":
            kept[key] = "custom"
    return kept


def _json(value):
    if isinstance(value, (tuple, list)):
        return [_json(item) for item in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def layer_weights(model, layers: list[dict]) -> dict[str, np.ndarray]:
    """Return the weights of every recorded layer whose class the numpy engine reads weights of, float32.

    Keys are :func:`artifacts.format.weight_key` (the layer's name, its Keras variable's name).
    """
    by_name = {item["name"]: item for item in layers}
    weights = {}
    for layer in model.layers:
        name = layer.name[: fmt.MAX_LAYER_NAME]
        if type(layer).__name__ in fmt.IMPORTED_WEIGHT_ROLES and name in by_name:
            for variable in layer.weights:
                weights[fmt.weight_key(name, str(variable.name))] = np.asarray(variable, dtype=np.float32)
    return weights


def _output_shape(layer) -> tuple | None:
    """Return ``layer``'s output shape with the batch axis, or None when it has no single one (a shared layer)."""
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _shape(shape) -> list[int | None]:
    return [None if size is None else int(size) for size in tuple(shape)[1:]][:8]


def model_inputs(images: np.ndarray, shape: tuple[int, ...], scale: int) -> np.ndarray:
    """Return uint8 ``images`` (n, 28, 28) as the model takes them: float32, divided by 255 when ``scale`` is 1."""
    batch = np.asarray(images, dtype=np.float32)
    if scale == 1:
        batch = batch / np.float32(255.0)
    return batch.reshape((len(batch), *shape))


def as_probabilities(outputs: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``outputs`` as class probabilities and whether a softmax had to be applied (logits out)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.min(initial=0.0) >= 0 and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        return outputs.astype(np.float32), False
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32), True


def import_model(path: Path, store: ArtifactStore, source: str, run_id: str, scale: int,
                 class_names: tuple[str, ...] | None = None,
                 log: Callable[[str], None] = lambda message: None) -> ImportResult:
    """Import the model at ``path`` into ``store`` as the complete run ``run_id``.

    Args:
        path: a ``.keras`` file.
        store: where the run goes; nothing is written there unless the import succeeds.
        source: data source name (see :mod:`pipeline.data`); the model is evaluated on its test split.
        run_id: the new run's id (checked by the caller, free in ``store``).
        scale: 255 when the model takes raw pixels 0-255, 1 when it takes pixels / 255.
        class_names: the classes' names (default: the data set's).
        log: receives one-line status messages.

    Returns:
        The published run's id and test metrics.

    Raises:
        ImportRefused: the file, the model or the data is refused (nothing written).
        Exception: writing the run failed (nothing published: the staging folder is removed).
    """
    from pipeline.data import DataSourceError, choose_probes, load_dataset
    from pipeline.train import cancel_on_signals, import_tensorflow_quietly, library_versions

    check_model_file(path)  # before TensorFlow's seconds of start-up
    import_tensorflow_quietly()
    model = load_model(path)
    try:
        data = load_dataset(source)
    except (DataSourceError, OSError) as error:
        raise ImportRefused(f"dataset {source!r} cannot be loaded ({error})") from None
    names = tuple(class_names) if class_names else tuple(data.class_names)
    if len(names) != len(data.class_names):
        raise ImportRefused(f"{len(names)} class names given; the data set has {len(data.class_names)} classes")
    shape = check_model(model, len(names))
    log(f"model {path.name}: input {shape}, {len(model.layers)} layers, {model.count_params():,} parameters")

    raw = model.predict(model_inputs(data.x_test, shape, scale), batch_size=PREDICT_BATCH, verbose=0)
    probabilities, softmaxed = as_probabilities(raw)
    if not np.isfinite(probabilities).all():
        raise ImportRefused("the model's outputs on the test digits are not finite numbers")
    probe_ids = choose_probes(data.y_test, PROBE_PER_CLASS, PROBE_SEED)
    snapshot = _snapshot(model, data.x_test[probe_ids], shape, scale, softmaxed, log)

    # A hidden folder is never a run (artifacts.format.RUN_ID_PATTERN): readers see the run only once published.
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=store.staging_parent()))
    try:
        with cancel_on_signals():  # SIGTERM too unwinds through the finally below: no staging folder left
            result = _write(model, ArtifactStore(staging), run_id, path, source, data, names, shape, scale,
                            probabilities, softmaxed, probe_ids, snapshot, library_versions(), log)
            try:
                store.publish(staging / run_id, run_id)
            except RunExistsError:
                raise ImportRefused(f"run {run_id!r} already exists in {store.root}") from None
            except OSError as error:
                raise ImportRefused(f"run {run_id!r} could not be published in {store.root} "
                                    f"({error.strerror or error})") from None
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(model, staging: ArtifactStore, run_id: str, path: Path, source: str, data, names, shape, scale,
           probabilities, softmaxed, probe_ids, snapshot, versions, log) -> ImportResult:
    from pipeline.evaluate import class_metrics, confusion_matrix

    run = staging.create_run(run_id, {
        fmt.KEY_CONFIG: {},
        fmt.KEY_SOURCE: fmt.SOURCE_IMPORTED,
        fmt.KEY_DATASET: DatasetInfo(name=data.name, source=data.source, test_size=int(len(data.x_test)),
                                     split=dict(data.notes)).to_dict(),
        fmt.KEY_LAYERS: layer_list(model),
        fmt.KEY_IMPORT: dict(zip(fmt.IMPORT_FIELDS, (path.name, list(shape), scale, softmaxed), strict=True)),
        fmt.KEY_VERSIONS: versions,
        fmt.CLASS_NAMES: list(names),
        fmt.KEY_HOST: socket.gethostname(),
        fmt.KEY_PID: os.getpid(),
        fmt.KEY_COMMAND: " ".join(sys.argv),
    })
    run.write_probes(probe_ids, data.y_test[probe_ids], data.x_test[probe_ids])
    predicted = probabilities.argmax(axis=1)
    confusion = confusion_matrix(data.y_test, predicted, len(names))
    run.write_evaluation(class_metrics(confusion), confusion, data.y_test, predicted, probabilities, data.x_test)
    if snapshot is not None:
        run.write_snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH, snapshot)
    _write_weights(run, model, log)
    run.save_model(lambda target: model.save(target))
    picked = probabilities[np.arange(len(predicted)), data.y_test.astype(np.int64)]
    metrics = Metrics(test_accuracy=float((predicted == data.y_test).mean()),
                      test_loss=float(-np.log(np.clip(picked, 1e-7, 1.0)).mean()))
    run.finish(Status.COMPLETE, **{fmt.KEY_METRICS: metrics.to_dict()})
    return ImportResult(run_id, metrics.test_accuracy, metrics.test_loss, int(len(data.x_test)), data.name,
                        softmaxed, snapshot is not None)


def _write_weights(run, model, log: Callable[[str], None]) -> None:
    """Store the model's weights as the one imported epoch, for the dashboard's numpy engine; a model whose
    weights the layer graph does not account for (an unusual layer) is imported without them."""
    from artifacts import ArtifactError

    manifest = run.manifest()
    try:
        run.write_weights(fmt.IMPORTED_WEIGHTS_EPOCH, layer_weights(model, manifest[fmt.KEY_LAYERS]), final=True)
    except (ArtifactError, ValueError) as error:
        log(f"weights not stored for the dashboard's engine (the Draw page will not run it): {error}")


def _snapshot(model, images: np.ndarray, shape: tuple[int, ...], scale: int, softmaxed: bool,
              log: Callable[[str], None]) -> dict[str, np.ndarray] | None:
    """Return the snapshot of the probe digits: activations of every layer with a spatial output,
    every Conv2D kernel, probabilities and saliency (as :mod:`pipeline.capture` stores them: of the top
    class's probability, after the softmax import applies to a model that outputs logits), or None when
    the model's activations would exceed :data:`SNAPSHOT_MAX_BYTES` or cannot be taken."""
    import keras
    import tensorflow as tf

    shapes = {layer.name: _output_shape(layer) for layer in model.layers}
    spatial = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"
               and shapes[layer.name] is not None and len(shapes[layer.name]) == 4
               and None not in shapes[layer.name][1:]]
    size = sum(len(images) * int(np.prod(shapes[layer.name][1:])) * 2 for layer in spatial)
    if size > SNAPSHOT_MAX_BYTES:
        log(f"no activation snapshot: {size / 2**20:.0f} MB of activations, above "
            f"{SNAPSHOT_MAX_BYTES // 2**20} MB")
        return None
    try:
        outputs = keras.Model(model.inputs[0], [*(layer.output for layer in spatial), model.outputs[0]])
        pixels = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            batch = pixels / 255.0 if scale == 1 else pixels
            results = outputs(tf.reshape(batch, (-1, *shape)), training=False)
            results = list(results) if isinstance(results, (list, tuple)) else [results]  # one output: a tensor
            top = tf.reduce_max(tf.nn.softmax(results[-1]) if softmaxed else results[-1], axis=-1)
        gradient = tape.gradient(top, pixels)
    except Exception as error:  # a layer the functional rebuild cannot take: the run is still whole
        log(f"no activation snapshot: {type(error).__name__}: {str(error)[:200]}")
        return None
    arrays: dict[str, np.ndarray] = {fmt.SNAPSHOT_PROBE_INDEX: np.arange(len(images), dtype=np.int64)}
    for layer, output in zip(spatial, results[:-1], strict=True):
        arrays[fmt.ACTIVATION_PREFIX + layer.name] = np.asarray(output).astype(np.float16)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            arrays[fmt.KERNEL_PREFIX + layer.name] = np.asarray(layer.kernel).astype(np.float16)
    arrays[fmt.SNAPSHOT_PROBABILITIES] = as_probabilities(np.asarray(results[-1]))[0].astype(np.float16)
    magnitude = np.abs(np.asarray(gradient)) if gradient is not None else np.zeros(images.shape, np.float32)
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1)
    arrays[fmt.SNAPSHOT_SALIENCY] = (magnitude / np.where(peak > 0, peak, 1.0)[:, None, None]).astype(np.float16)
    return arrays
