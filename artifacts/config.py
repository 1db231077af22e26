"""Hyperparameters of a run and the network they describe, without TensorFlow.

The config is saved in every run's manifest, so its schema belongs to the store.
``layer_plan`` computes every layer's output shape and parameter count with plain
arithmetic; the pipeline's tests check it against the Keras model it builds, and
the Train page uses it for its live preview.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

ACTIVATIONS = ("relu", "leaky_relu")
PADDINGS = ("valid", "same")
KERNEL_SIZES = (3, 5)
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# The Train form's limits, enforced twice from this one place: by the form's inputs in the
# browser, and by the web server on every configuration it is sent (check_form_limits), so a
# hand-made request cannot book the only training slot for hours. The pipeline's command line
# keeps TrainConfig's wider ranges.
FORM_LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 100),
    "batch_size": (8, 1024),
    "filters": (1, 256),
    "dense_units": (1, 4096),
    "learning_rate": (1e-5, 1.0),
    "dropout_rate": (0.0, 0.9),
}
MIN_TRAINING_DIGITS = 20  # the form's smallest "training digits" (blank: all of them)


@dataclass(frozen=True)
class ConvBlock:
    """One convolution block: Conv2D with its activation, then optional 2x2 max pooling."""

    filters: int = 32  # output channels of the convolution
    kernel_size: int = 3  # 3 or 5: a square kernel
    strides: int = 1  # 1 or 2
    padding: str = "valid"  # "valid" shrinks the map by kernel_size - 1, "same" keeps it
    activation: str = "relu"  # "relu" or "leaky_relu"
    pooling: bool = True  # 2x2 max pooling after the convolution

    def validate(self, position: int) -> None:
        """Raise ValueError naming the block when a field is out of range."""
        where = f"conv block {position}"
        if not _is_int(self.filters) or not 1 <= self.filters <= 256:
            raise ValueError(f"{where}: filters must be an integer from 1 to 256, not {self.filters!r}")
        # _is_int first: 3.0 == 3 and True == 1, but Keras wants real integers.
        if not _is_int(self.kernel_size) or self.kernel_size not in KERNEL_SIZES:
            raise ValueError(f"{where}: kernel_size must be 3 or 5, not {self.kernel_size!r}")
        if not _is_int(self.strides) or self.strides not in (1, 2):
            raise ValueError(f"{where}: strides must be 1 or 2, not {self.strides!r}")
        if self.padding not in PADDINGS:
            raise ValueError(f"{where}: padding must be 'valid' or 'same', not {self.padding!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{where}: activation must be 'relu' or 'leaky_relu', not {self.activation!r}")
        if not isinstance(self.pooling, bool):
            raise ValueError(f"{where}: pooling must be true or false, not {self.pooling!r}")


def _default_blocks() -> tuple[ConvBlock, ...]:
    # The classic Keras MNIST convnet: 32 then 64 filters of 3x3, each pooled.
    return (ConvBlock(filters=32), ConvBlock(filters=64))


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a run. Defaults reach >= 97% on real MNIST from the 5,000-digit sample."""

    conv_blocks: tuple[ConvBlock, ...] = field(default_factory=_default_blocks)  # 1 to 3 blocks
    dense_units: int = 128  # width of the hidden dense layer
    dropout_rate: float = 0.5  # dropout before the output layer, 0 <= rate < 1
    # Small random rotations (+-5% of a turn) and shifts (+-10%) while training only: on the
    # 5,000-digit sample they lift real-MNIST test accuracy from 97.3% to 97.9% and make
    # hand-drawn digits (the Draw page) more robust; inference is unchanged.
    augmentation: bool = True
    epochs: int = 15  # passes over the training split
    batch_size: int = 64  # images per gradient step
    learning_rate: float = 1e-3  # Adam's step size
    validation_fraction: float = 0.1  # share of the training split held out for validation
    seed: int = 1337  # seeds the split, the probe choice, weights and shuffling
    probe_per_class: int = 10  # probe digits per class captured after training
    snapshot_probe_per_class: int = 10  # probe digits per class captured every epoch (all by default)

    def __post_init__(self) -> None:
        blocks = tuple(
            block if isinstance(block, ConvBlock) else _block_from_dict(block, index)
            for index, block in enumerate(self.conv_blocks, start=1)
        )
        object.__setattr__(self, "conv_blocks", blocks)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError with a clear message for any out-of-range value."""
        if not 1 <= len(self.conv_blocks) <= 3:
            raise ValueError(f"conv_blocks must hold 1 to 3 blocks, not {len(self.conv_blocks)}")
        for index, block in enumerate(self.conv_blocks, start=1):
            block.validate(index)
        _check_int("dense_units", self.dense_units, 1, 4096)
        _check_int("epochs", self.epochs, 1, 1000)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check_int("probe_per_class", self.probe_per_class, 1, 100)
        _check_int("snapshot_probe_per_class", self.snapshot_probe_per_class, 0, 100)
        if not isinstance(self.augmentation, bool):
            raise ValueError(f"augmentation must be true or false, not {self.augmentation!r}")
        if not _is_number(self.dropout_rate) or not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be a number in [0, 1), not {self.dropout_rate!r}")
        if not _is_number(self.learning_rate) or not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be a number in (0, 1], not {self.learning_rate!r}")
        if not _is_number(self.validation_fraction) or not 0 < self.validation_fraction < 0.5:
            raise ValueError(
                f"validation_fraction must be a number in (0, 0.5), not {self.validation_fraction!r}"
            )
        layer_plan(self)  # raises when a feature map shrinks below 1x1

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain JSON-ready data."""
        data = dataclasses.asdict(self)
        data["conv_blocks"] = [dataclasses.asdict(block) for block in self.conv_blocks]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from JSON data; missing keys take their defaults.

        Raises:
            ValueError: an unknown key or an out-of-range value.
        """
        if not isinstance(data, dict):
            raise ValueError("a config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config option(s) {unknown}; known: {sorted(known)}")
        values = dict(data)
        if "conv_blocks" in values:
            blocks = values["conv_blocks"]
            if not isinstance(blocks, (list, tuple)):
                raise ValueError("conv_blocks must be a list of blocks")
            values["conv_blocks"] = tuple(blocks)
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)


def _block_from_dict(data: Any, index: int) -> ConvBlock:
    if not isinstance(data, dict):
        raise ValueError(f"conv block {index} must be an object")
    known = {f.name for f in dataclasses.fields(ConvBlock)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"conv block {index}: unknown option(s) {unknown}; known: {sorted(known)}")
    return ConvBlock(**data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")


def check_form_limits(config: TrainConfig, limit: int | None = None) -> None:
    """Check a configuration sent from the web against the Train form's limits (``FORM_LIMITS``).

    Args:
        config: an already validated configuration.
        limit: the number of training digits asked for (None: all).

    Raises:
        ValueError: a value outside the form's range; the message names it and the range.
    """
    values: list[tuple[str, str, Any]] = [
        ("epochs", "epochs", config.epochs),
        ("batch size", "batch_size", config.batch_size),
        *[(f"block {index} filters", "filters", block.filters)
          for index, block in enumerate(config.conv_blocks, start=1)],
        ("dense units", "dense_units", config.dense_units),
        ("learning rate", "learning_rate", config.learning_rate),
        ("dropout", "dropout_rate", config.dropout_rate),
    ]
    for label, key, value in values:
        low, high = FORM_LIMITS[key]
        if not low <= value <= high:
            raise ValueError(f"{label} must be from {low:g} to {high:g} here, not {value:g}")
    if limit is not None and limit < MIN_TRAINING_DIGITS:
        raise ValueError(f"training digits must be at least {MIN_TRAINING_DIGITS} (or blank for all)")


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the dashboard shows it."""

    name: str
    kind: str  # Input, Conv2D, MaxPooling2D, Flatten, Dense, Dropout
    output_shape: tuple[int, ...]
    params: int
    activation: str = ""
    detail: str = ""  # e.g. "3x3, stride 1, valid"
    inbound: tuple[str, ...] = ()  # an imported model's: the layers feeding this one (() in a plain stack)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data (``inbound`` only when it names layers)."""
        data = {**dataclasses.asdict(self), "output_shape": list(self.output_shape), "inbound": list(self.inbound)}
        if not self.inbound:
            del data["inbound"]
        return data


def conv_output_size(size: int, kernel_size: int, strides: int, padding: str) -> int:
    """Return the side of a convolution's output map, as Keras computes it."""
    if padding == "same":
        return math.ceil(size / strides)
    return (size - kernel_size) // strides + 1 if size >= kernel_size else 0


def layer_plan(config: TrainConfig) -> list[LayerSpec]:
    """Return every layer's output shape and parameter count for ``config``.

    Raises:
        ValueError: a feature map shrinks below 1x1 (names the layer).
    """
    height, width, channels = IMAGE_SHAPE
    layers = [LayerSpec("pixels", "Input", IMAGE_SHAPE, 0, detail="raw pixels 0-255, scaled inside")]
    for index, block in enumerate(config.conv_blocks, start=1):
        new_side = conv_output_size(height, block.kernel_size, block.strides, block.padding)
        if new_side < 1:
            raise ValueError(
                f"conv block {index}: a {block.kernel_size}x{block.kernel_size} '{block.padding}' "
                f"convolution cannot shrink a {height}x{width} map below 1x1; use 'same' padding, "
                "a smaller kernel or fewer blocks"
            )
        params = block.kernel_size * block.kernel_size * channels * block.filters + block.filters
        height = width = new_side
        channels = block.filters
        layers.append(
            LayerSpec(
                f"conv_{index}",
                "Conv2D",
                (height, width, channels),
                params,
                block.activation,
                f"{block.kernel_size}x{block.kernel_size}, stride {block.strides}, {block.padding}",
            )
        )
        if block.pooling:
            if height < 2:
                raise ValueError(
                    f"conv block {index}: its {height}x{width} output is too small for 2x2 pooling; "
                    "turn pooling off for this block, use 'same' padding or fewer blocks"
                )
            height = width = height // 2
            layers.append(LayerSpec(f"pool_{index}", "MaxPooling2D", (height, width, channels), 0, "", "2x2"))
    flat = height * width * channels
    layers.append(LayerSpec("flatten", "Flatten", (flat,), 0))
    layers.append(
        LayerSpec("dense", "Dense", (config.dense_units,), flat * config.dense_units + config.dense_units, "relu")
    )
    layers.append(LayerSpec("dropout", "Dropout", (config.dense_units,), 0, "", f"rate {config.dropout_rate:g}"))
    layers.append(
        LayerSpec("output", "Dense", (NUM_CLASSES,), config.dense_units * NUM_CLASSES + NUM_CLASSES, "softmax")
    )
    return layers


def captured_layers(config: TrainConfig) -> list[str]:
    """Return the names of the layers whose activations a snapshot stores.

    Flatten and Dropout are left out: at inference they repeat the layer before.
    """
    return [spec.name for spec in layer_plan(config) if spec.kind in ("Conv2D", "MaxPooling2D", "Dense")]


def conv_layers(config: TrainConfig) -> list[str]:
    """Return the names of the conv layers (whose kernels a snapshot stores)."""
    return [f"conv_{index}" for index in range(1, len(config.conv_blocks) + 1)]
