"""An imported model's network in numpy: any layer graph the importer recorded, from its stored weights.

:class:`GraphNetwork` runs the layers :mod:`pipeline.importer` recorded (each layer's class, the
layers feeding it and a subset of its Keras config, see :mod:`artifacts.format`) with the ops of
:mod:`dashboard.inference.layers`, forward and backward through the graph (a residual Add sends the
gradient down both branches). It answers as :class:`dashboard.inference.Network` does
(:meth:`GraphNetwork.analyse`, :meth:`GraphNetwork.gradients`), so the attribution functions work on it.

The class probabilities are the model's output, or its softmax when the import applied one (a model
that outputs logits). A final softmax, in the output layer or an Activation/Softmax layer, is split
off: the score before it is the logit Grad-CAM differentiates, as in a trained run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from artifacts import format as fmt
from artifacts.records import Manifest
from dashboard.inference import layers as ops
from dashboard.inference.network import (
    _ONE_THREAD,
    PROBABILITY,
    Gradients,
    Result,
    _blas,
    _classes,
    _scaled_magnitude,
    as_pixels,
    check_gradient_request,
    probability_gradient,
)

SIDE = 28
IDENTITY = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                      "AlphaDropout", "ActivityRegularization"})  # the identity at inference
SUPPORTED = frozenset({"InputLayer", "Conv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D",
                       "BatchNormalization", "Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Flatten",
                       "Reshape", "Rescaling", "Add", "GlobalAveragePooling2D", "GlobalMaxPooling2D", *IDENTITY})


WALK_SKIPPED = frozenset({"Input", "InputLayer", "Flatten", *IDENTITY})  # outputs that repeat their input


def walked_layers(specs) -> list[str]:
    """Return the names of the layers a walk through the network shows (every layer but the input and those whose
    output repeats their input's values: Flatten, Dropout...), in order; ``specs``: ``Manifest.layers()``."""
    return [spec.name for spec in specs if spec.kind not in WALK_SKIPPED]


class UnsupportedModel(ValueError):
    """The recorded model cannot be run by the numpy engine; ``str(error)`` is one line for the page."""


def unsupported(name: str, kind: str, why: str = "") -> UnsupportedModel:
    """Return the error for layer ``name`` of class ``kind`` that the engine cannot run (``why``: a detail)."""
    return UnsupportedModel(f"layer {name} (class {kind}) is not supported by the in-browser engine"
                            + (f" ({why})" if why else ""))


class _Op:
    """One layer of the graph: ``forward(inputs)`` -> (output, cache), ``backward(gradient, cache)`` -> a
    gradient per input."""

    def forward(self, inputs: list[np.ndarray]) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, gradient: np.ndarray, cache: Any) -> list[np.ndarray]:
        raise NotImplementedError


class _Single(_Op):
    """A one-input layer of :mod:`dashboard.inference.layers`."""

    def __init__(self, layer: Any):
        self.layer = layer

    def forward(self, inputs):
        return self.layer.forward(inputs[0])

    def backward(self, gradient, cache):
        return [self.layer.backward(gradient, cache)]


class _Function(_Op):
    """An elementwise or reshaping layer given by its forward function and its input-gradient function."""

    def __init__(self, forward, backward):
        self._forward, self._backward = forward, backward

    def forward(self, inputs):
        return self._forward(inputs[0]), inputs[0]

    def backward(self, gradient, cache):
        return [self._backward(gradient, cache)]


class _Add(_Op):
    def forward(self, inputs):
        total = inputs[0]
        for more in inputs[1:]:
            total = total + more
        return total, len(inputs)

    def backward(self, gradient, cache):
        return [gradient] * cache


class _GlobalPooling(_Op):
    def __init__(self, kind: str):
        self.kind = kind

    def forward(self, inputs):
        values = inputs[0]
        if self.kind == "average":
            return values.mean(axis=(1, 2)), values.shape
        flat = values.reshape(len(values), -1, values.shape[-1])
        winners = flat.argmax(axis=1)[:, None]
        return np.take_along_axis(flat, winners, axis=1)[:, 0], (values.shape, winners)

    def backward(self, gradient, cache):
        if self.kind == "average":
            shape = cache
            return [np.broadcast_to(gradient[:, None, None] / np.float32(shape[1] * shape[2]), shape).copy()]
        shape, winners = cache
        spread = np.zeros((shape[0], shape[1] * shape[2], shape[3]), dtype=gradient.dtype)
        np.put_along_axis(spread, winners, gradient[:, None], axis=1)
        return [spread.reshape(shape)]


def _relu_layer(config: Mapping[str, Any]) -> _Function:
    """Keras' ReLU layer: max_value above it, x from the threshold (0) up, negative_slope * x below."""
    maximum = config.get("max_value")
    slope = np.float32(config.get("negative_slope") or 0.0)
    top = np.float32(np.inf if maximum is None else maximum)

    def forward(values):
        return np.where(values >= top, top, np.where(values > 0, values, values * slope)).astype(np.float32)

    def backward(gradient, values):
        return np.where(values >= top, np.float32(0), np.where(values > 0, gradient, gradient * slope))

    return _Function(forward, backward)


def _activation(name: str) -> _Function:
    return _Function(lambda values: ops.activate(values, name), lambda gradient, values:
                     ops.activation_gradient(gradient, values, name))


class GraphNetwork:
    """An imported model's recorded layer graph, with its stored weights.

    Args:
        records: the layers as the manifest records them (:data:`artifacts.format.KEY_LAYERS`, validated),
            with their inbound layers and config.
        weights: arrays keyed by :func:`artifacts.format.weight_key` (layer name, Keras variable name).
        input_scale: 255 when the model takes raw pixels, 1 when it takes pixels / 255.
        softmax_applied: the model outputs logits (import applied a softmax to get probabilities).

    Raises:
        UnsupportedModel: a layer the engine does not run (names it and its class), an option of one
            it does not support, a graph it cannot follow, or weights that do not fit it.
    """

    def __init__(self, records: Sequence[Mapping[str, Any]], weights: Mapping[str, np.ndarray],
                 input_scale: int, softmax_applied: bool):
        if not records or records[0].get("class_name") != "InputLayer":
            raise UnsupportedModel("the model's layer list does not start with its input")
        if any(fmt.LAYER_INBOUND not in record for record in records):
            raise UnsupportedModel("this model was imported before its layer graph was recorded; import it again "
                                   "to run it here")
        self.input_name = str(records[0]["name"])
        self.input_shape = tuple(records[0]["output_shape"])
        if None in self.input_shape or int(np.prod(self.input_shape)) != SIDE * SIDE:
            raise UnsupportedModel(f"the model's input shape {self.input_shape} is not 28x28 pixels")
        self.pixel_scale = np.float32(1.0 / 255) if input_scale == 1 else np.float32(1.0)
        self.records = {str(record["name"]): record for record in records}
        self.order: list[str] = []
        self.inbound: dict[str, list[str]] = {}
        self.ops: dict[str, _Op] = {}
        consumed = set()
        for record in records[1:]:
            name, kind = str(record["name"]), str(record["class_name"])
            inbound = [str(item) for item in record[fmt.LAYER_INBOUND]]
            if not inbound or not record["output_shape"]:
                raise unsupported(name, kind, "a layer shared between calls, or whose inputs are not recorded")
            self.inbound[name] = inbound
            self.ops[name] = self._op(record, weights)
            self.order.append(name)
            consumed.update(inbound)
        outputs = [name for name in self.order if name not in consumed]
        if len(outputs) != 1:
            raise UnsupportedModel(f"the recorded graph has {len(outputs)} outputs, not one")
        self.output = outputs[0]
        # A final softmax is taken apart: the layer outputs the logits, the network applies the softmax.
        self.final_softmax = self._split_softmax(self.records[self.output])
        self.softmax_applied = bool(softmax_applied)
        self._check_shapes()

    # -- building ---------------------------------------------------------

    def _op(self, record: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> _Op:
        name, kind = str(record["name"]), str(record["class_name"])
        config = dict(record.get(fmt.LAYER_CONFIG) or {})
        if kind not in SUPPORTED:
            raise unsupported(name, kind)
        if config.get("data_format", "channels_last") != "channels_last":
            raise unsupported(name, kind, "channels_first data")
        try:
            return self._build(name, kind, config, weights)
        except KeyError as error:
            raise unsupported(name, kind, f"its config does not record {error.args[0]!r}") from None

    def _build(self, name: str, kind: str, config: dict[str, Any], weights: Mapping[str, np.ndarray]) -> _Op:
        if kind in IDENTITY:
            return _Function(lambda values: values, lambda gradient, values: gradient)
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense", "Activation"):
            activation = str(config["activation"])
            if activation not in ops.ACTIVATIONS:
                raise unsupported(name, kind, f"activation {activation!r}")
            if kind == "Activation":
                return _activation(activation)
            kernel = _weight(weights, name, fmt.WEIGHT_KERNEL)
            units = kernel.shape[-1] if kind != "DepthwiseConv2D" else kernel.shape[2] * kernel.shape[3]
            bias = (_weight(weights, name, fmt.WEIGHT_BIAS) if config["use_bias"]
                    else np.zeros(units, dtype=np.float32))
            if bias.shape != (units,):
                raise UnsupportedModel(f"layer {name}: a bias of shape {bias.shape} for {units} outputs")
            if kind == "Dense":
                return _Single(ops.Dense(kernel, bias, activation))
            if any(rate != 1 for rate in config.get("dilation_rate") or [1]):
                raise unsupported(name, kind, "dilated convolution")
            if kernel.ndim != 4 or list(kernel.shape[:2]) != list(config["kernel_size"]):
                raise UnsupportedModel(f"layer {name}: a kernel of shape {kernel.shape} for size "
                                       f"{config['kernel_size']}")
            layer = ops.Conv2D if kind == "Conv2D" else ops.DepthwiseConv2D
            return _Single(layer(kernel, bias, tuple(config["strides"]), _padding(name, kind, config), activation))
        if kind in ("MaxPooling2D", "AveragePooling2D"):
            strides = config.get("strides") or config["pool_size"]
            return _Single(ops.Pooling2D("max" if kind == "MaxPooling2D" else "average", tuple(config["pool_size"]),
                                         tuple(strides), _padding(name, kind, config)))
        if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            if config.get("keepdims"):
                raise unsupported(name, kind, "keepdims")
            return _GlobalPooling("average" if kind == "GlobalAveragePooling2D" else "max")
        if kind == "BatchNormalization":
            return self._batch_normalization(name, kind, config, weights)
        if kind == "ReLU":
            if config.get("threshold", 0.0) != 0:
                raise unsupported(name, kind, "a threshold other than 0")
            return _relu_layer(config)
        if kind == "LeakyReLU":
            slope = np.float32(config["negative_slope"])
            return _Function(lambda values: ops.activate(values, "leaky_relu", slope),
                             lambda gradient, values: ops.activation_gradient(gradient, values, "leaky_relu", slope))
        if kind == "ELU":
            if config.get("alpha", 1.0) != 1.0:
                raise unsupported(name, kind, "alpha other than 1")
            return _activation("elu")
        if kind == "Softmax":
            if config.get("axis", -1) not in (-1, [-1]):
                raise unsupported(name, kind, "softmax over an axis other than the last")
            return _activation("softmax")
        if kind == "Flatten":
            return _Single(ops.Flatten())
        if kind == "Reshape":
            target = tuple(int(size) for size in config["target_shape"])
            return _Function(lambda values: values.reshape((len(values), *target)),
                             lambda gradient, values: gradient.reshape(values.shape))
        if kind == "Rescaling":
            scale, offset = config["scale"], config.get("offset", 0.0)
            if isinstance(scale, bool):
                raise unsupported(name, kind, "a scale that is not one number")
            factor, shift = np.float32(scale), np.float32(offset)
            return _Function(lambda values: values * factor + shift, lambda gradient, values: gradient * factor)
        if kind == "Add":
            return _Add()
        raise unsupported(name, kind)  # InputLayer after the first: a second input

    def _batch_normalization(self, name: str, kind: str, config: dict[str, Any],
                             weights: Mapping[str, np.ndarray]) -> _Op:
        rank = len(self.records[name]["output_shape"])
        axis = config["axis"]
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, rank):
            raise unsupported(name, kind, "normalisation over an axis other than the last")
        mean = _weight(weights, name, "moving_mean")
        variance = _weight(weights, name, "moving_variance")
        # As Keras: inv = rsqrt(variance + epsilon) * gamma; x * inv + (beta - mean * inv).
        inverse = (np.float32(1) / np.sqrt(variance + np.float32(config["epsilon"]))).astype(np.float32)
        if config["scale"]:
            inverse = inverse * _weight(weights, name, "gamma")
        shift = -mean * inverse
        if config["center"]:
            shift = shift + _weight(weights, name, "beta")
        return _Function(lambda values: values * inverse + shift, lambda gradient, values: gradient * inverse)

    def _split_softmax(self, record: Mapping[str, Any]) -> bool:
        """Make the output layer stop before its softmax, if it ends in one; return whether it did."""
        kind, config = record["class_name"], record.get(fmt.LAYER_CONFIG) or {}
        name = str(record["name"])
        if kind in ("Dense", "Conv2D", "DepthwiseConv2D") and config.get("activation") == "softmax":
            layer = self.ops[name].layer
            layer.activation = ""
            return True
        if kind == "Softmax" or (kind == "Activation" and config.get("activation") == "softmax"):
            self.ops[name] = _activation("")
            return True
        return False

    def _check_shapes(self) -> None:
        """Run a blank digit through the graph; every layer's output must have the shape the model recorded."""
        try:
            _, _, outputs = self._forward(np.zeros((1, SIDE, SIDE), dtype=np.float32))
        except (ValueError, IndexError) as error:
            raise UnsupportedModel(f"the recorded graph cannot be run ({error})") from None
        for name in self.order:
            recorded = tuple(self.records[name]["output_shape"])
            if outputs[name].shape[1:] != recorded:
                raise UnsupportedModel(f"layer {name} ({self.records[name]['class_name']}) gives shape "
                                       f"{outputs[name].shape[1:]}, but the model recorded {recorded}")

    # -- running ----------------------------------------------------------

    @property
    def layer_names(self) -> list[str]:
        """Every layer but the input, in graph order (each after the layers feeding it)."""
        return list(self.order)

    def _forward(self, pixels: np.ndarray) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
        """Return the output layer's output (the logits when the softmax is split off or applied at import),
        every layer's cache, and every layer's output by name, for (n, 28, 28) float32 raw ``pixels``."""
        values = {self.input_name: (pixels * self.pixel_scale).reshape((len(pixels), *self.input_shape))}
        caches = {}
        for name in self.order:
            values[name], caches[name] = self.ops[name].forward([values[item] for item in self.inbound[name]])
        return values[self.output], caches, values

    def _probabilities(self, final: np.ndarray) -> np.ndarray:
        return ops.softmax(final) if self.final_softmax or self.softmax_applied else final

    def _backward(self, start: np.ndarray, caches: dict[str, Any],
                  wanted) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Take ``start`` (the gradient w.r.t. the output layer's output) back to the model's input; also return
        it at each ``wanted`` layer's output."""
        gradients = {self.output: start}
        at = {}
        for name in reversed(self.order):
            gradient = gradients.pop(name, None)
            if gradient is None:
                continue  # a layer the output does not depend on
            if name in wanted:
                at[name] = gradient
            for item, part in zip(self.inbound[name], self.ops[name].backward(gradient, caches[name]), strict=True):
                gradients[item] = part if item not in gradients else gradients[item] + part
        return gradients.get(self.input_name, np.zeros((len(start), *self.input_shape), np.float32)), at

    def _pixel_gradient(self, gradient: np.ndarray) -> np.ndarray:
        return gradient.reshape(len(gradient), SIDE, SIDE) * self.pixel_scale

    def analyse(self, images: np.ndarray) -> Result:
        """Return every layer's output (the output layer's as the probabilities when it ends in a softmax),
        the probabilities and the saliency of ``images``, as :meth:`dashboard.inference.Network.analyse`.

        Raises:
            ValueError: ``images`` is not (n, 28, 28).
        """
        pixels = as_pixels(images)
        with _ONE_THREAD, _blas().limit(limits=1, user_api="blas"):
            final, caches, outputs = self._forward(pixels)
            probabilities = self._probabilities(final)
            top = probabilities.argmax(axis=1)
            gradient, _ = self._backward(self._start(final, probabilities, top, PROBABILITY), caches, set())
        activations = [(name, probabilities if name == self.output and self.final_softmax else outputs[name])
                       for name in self.order]
        return Result(activations, probabilities, _scaled_magnitude(self._pixel_gradient(gradient)))

    def _start(self, final: np.ndarray, probabilities: np.ndarray, chosen: np.ndarray, score: str) -> np.ndarray:
        """Return the gradient of each row's class score w.r.t. the output layer's output."""
        rows = np.arange(len(final))
        if score == PROBABILITY and (self.final_softmax or self.softmax_applied):
            return probability_gradient(probabilities, chosen)
        start = np.zeros_like(final)
        start[rows, chosen] = 1  # the logit, or a probability the model outputs itself
        return start

    def gradients(self, images: np.ndarray, classes=None, layers=(), score: str = PROBABILITY) -> Gradients:
        """Return the gradient of each image's class score w.r.t. its raw pixels and the outputs of ``layers``,
        as :meth:`dashboard.inference.Network.gradients` (LOGIT: the score before a final softmax).

        Raises:
            ValueError: ``images`` is not (n, 28, 28), a class is out of range, a layer is not in the
                network or ``score`` is unknown.
        """
        pixels = as_pixels(images)
        check_gradient_request(layers, self.ops, score)
        with _ONE_THREAD, _blas().limit(limits=1, user_api="blas"):
            final, caches, outputs = self._forward(pixels)
            probabilities = self._probabilities(final)
            chosen = _classes(classes, probabilities)
            gradient, at = self._backward(self._start(final, probabilities, chosen, score), caches, set(layers))
        return Gradients(probabilities, chosen, self._pixel_gradient(gradient),
                         {name: (outputs[name], at.get(name, np.zeros_like(outputs[name]))) for name in layers})


def _padding(name: str, kind: str, config: Mapping[str, Any]) -> str:
    padding = config["padding"]
    if padding not in ("valid", "same"):
        raise unsupported(name, kind, f"padding {padding!r}")
    return padding


def _weight(weights: Mapping[str, np.ndarray], name: str, role: str) -> np.ndarray:
    try:
        return np.asarray(weights[fmt.weight_key(name, role)], dtype=np.float32)
    except KeyError:
        raise UnsupportedModel(f"layer {name}: no stored weight {role!r}") from None


def imported_network(manifest: Manifest, weights: Mapping[str, np.ndarray]) -> GraphNetwork:
    """Return the numpy network of an imported run, from its manifest and its stored weights (``Run.weights(0)``).

    Raises:
        UnsupportedModel: see :class:`GraphNetwork`; or the manifest says nothing of how the model was imported.
    """
    how = manifest.raw.get(fmt.KEY_IMPORT) or {}
    scale = how.get("input_scale")
    if scale not in (1, 255):
        raise UnsupportedModel("the run does not record its model's input scale")
    return GraphNetwork(list(manifest.imported_layers), weights, scale, bool(how.get("softmax_applied")))
