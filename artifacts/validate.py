"""Checks a reader applies to what it read: manifest types, array sizes, and why a trainer died.

Pure functions over already-parsed data, so every reader of the store (the dashboard,
the job supervisor, the command line) gets the same typed :class:`ArtifactError`
for the same damage instead of garbage further down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from artifacts import format as fmt
from artifacts.config import TrainConfig, layer_plan
from artifacts.io import ArtifactError


def check_manifest(data: Any, run_id: str) -> dict[str, Any]:
    """Return ``data`` when it is a manifest this code can show for the run folder ``run_id``.

    Raises:
        ArtifactError: not an object, unknown schema, a required field missing, a field of
            the wrong type, a number that is not finite (or too large for a float), an
            unknown status, or a ``run_id`` that is not the folder's name (a copied folder).
    """
    def bad(reason: str) -> ArtifactError:
        return ArtifactError(run_id, fmt.MANIFEST, reason)

    if not isinstance(data, dict):
        raise bad("manifest is not a JSON object")
    version = data.get(fmt.KEY_SCHEMA_VERSION)
    if version != fmt.SCHEMA_VERSION or isinstance(version, bool):
        raise bad(f"unknown schema_version {version!r}; this code reads version {fmt.SCHEMA_VERSION}")
    missing = [key for key in fmt.MANIFEST_REQUIRED if key not in data]
    if missing:
        raise bad(f"missing fields {missing}")
    for key, kind in fmt.MANIFEST_TYPES.items():
        value = data.get(key)
        if key in data and not (isinstance(value, kind) and not isinstance(value, bool)):
            if value is None and key not in fmt.MANIFEST_REQUIRED:
                continue
            raise bad(f"field {key!r} is {_describe(value)}, expected {_JSON_NAMES[kind]}")
    if data[fmt.KEY_STATUS] not in fmt.STATUSES:
        raise bad(f"unknown status {_short(data[fmt.KEY_STATUS])}")
    if data[fmt.KEY_RUN_ID] != run_id:
        raise bad(f"says it belongs to run {_short(data[fmt.KEY_RUN_ID])}, but lies in folder {run_id!r} "
                  "(a copied or renamed run folder)")
    number = _first_bad_number(data)
    if number is not None:
        raise bad(f"holds a number that is not finite or too large ({number})")
    for key, value in (data.get(fmt.KEY_METRICS) or {}).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise bad(f"metric {_short(key)} is {_describe(value)}, expected a number")
    if fmt.KEY_SOURCE in data and data[fmt.KEY_SOURCE] not in fmt.SOURCES:
        raise bad(f"unknown source {_short(data[fmt.KEY_SOURCE])}")
    if data.get(fmt.KEY_LAYERS) is not None:
        reason = layers_problem(data[fmt.KEY_LAYERS])
        if reason:
            raise bad(reason)
    return data


def layers_problem(items: Any) -> str | None:
    """Return why ``items`` is not a valid layer list (:data:`artifacts.format.KEY_LAYERS`), or None when it is.

    Each item is an object with exactly :data:`artifacts.format.LAYER_FIELDS`: a non-empty name and
    class name of at most :data:`artifacts.format.MAX_LAYER_NAME` characters, an output shape (a list
    of at most 8 sizes, each a non-negative integer or null) and a non-negative parameter count;
    at most :data:`artifacts.format.MAX_LAYERS` items.
    """
    if not isinstance(items, list):
        return f"layers is {_describe(items)}, expected a list"
    if len(items) > fmt.MAX_LAYERS:
        return f"layers lists {len(items)} layers, more than {fmt.MAX_LAYERS}"
    names: set[str] = set()
    for index, item in enumerate(items):
        where = f"layer {index}"
        if (not isinstance(item, dict) or not set(fmt.LAYER_FIELDS) <= set(item)
                or not set(item) <= {*fmt.LAYER_FIELDS, *fmt.LAYER_OPTIONAL_FIELDS}):
            return f"{where} is not an object of {list(fmt.LAYER_FIELDS)} (and optionally " \
                   f"{list(fmt.LAYER_OPTIONAL_FIELDS)})"
        for key in ("name", "class_name"):
            text = item[key]
            if not isinstance(text, str) or not 0 < len(text) <= fmt.MAX_LAYER_NAME:
                return f"{where} has an invalid {key} {_short(text)}"
        shape = item["output_shape"]
        if not isinstance(shape, list) or len(shape) > 8 or not all(
                size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0)
                for size in shape):
            return f"{where} has an invalid output_shape {_short(shape)}"
        params = item["params"]
        if isinstance(params, bool) or not isinstance(params, int) or params < 0:
            return f"{where} has an invalid params {_short(params)}"
        reason = _graph_problem(item, names)
        if reason:
            return f"{where} ({_short(item['name'])}) {reason}"
        names.add(item["name"])
    return None


def _graph_problem(item: dict[str, Any], earlier: set[str]) -> str | None:
    """Return why a layer's graph fields (inbound, config) are invalid, or None; ``earlier``: the names before it."""
    if fmt.LAYER_INBOUND in item or fmt.LAYER_CONFIG in item:
        if item["name"] in earlier:
            return "repeats an earlier layer's name"
    inbound = item.get(fmt.LAYER_INBOUND)
    if fmt.LAYER_INBOUND in item:
        if not isinstance(inbound, list) or len(inbound) > fmt.MAX_INBOUND:
            return f"has an invalid inbound {_short(inbound)}"
        for name in inbound:
            if not isinstance(name, str) or name not in earlier:
                return f"takes its input from {_short(name)}, which is not an earlier layer"
        if item["class_name"] == "InputLayer" and inbound:
            return "has inbound layers though it is the input"
        sizes = [size for size in item["output_shape"] if size is not None]
        if math.prod(sizes) > fmt.MAX_LAYER_OUTPUT:
            return f"outputs more than {fmt.MAX_LAYER_OUTPUT:,} values a digit"
    config = item.get(fmt.LAYER_CONFIG)
    if fmt.LAYER_CONFIG in item:
        if not isinstance(config, dict):
            return f"has a config that is {_describe(config)}, expected an object"
        for key, value in config.items():
            check = _CONFIG_CHECKS.get(key)
            if check is None:
                return f"has an unknown config key {_short(key)}"
            if not check(value):
                return f"has an invalid {key} {_short(value)}"
    return None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _real(value: Any, low: float = -1e9, high: float = 1e9) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def _sizes(count: tuple[int, int], low: int, high: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return (isinstance(value, list) and count[0] <= len(value) <= count[1]
                and all(_whole(size, low, high) for size in value))
    return check


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CONFIG_CHECKS: dict[str, Callable[[Any], bool]] = {
    "activation": lambda value: isinstance(value, str) and _NAME.fullmatch(value) is not None,
    "alpha": _real,
    "axis": lambda value: _whole(value, -8, 8) or _sizes((1, 8), -8, 8)(value),
    "center": lambda value: isinstance(value, bool),
    "data_format": lambda value: value in ("channels_last", "channels_first"),
    "depth_multiplier": lambda value: _whole(value, 1, 1024),
    "dilation_rate": _sizes((1, 2), 1, 64),
    "epsilon": lambda value: _real(value, 0.0, 1.0),
    "filters": lambda value: _whole(value, 1, 65_536),
    "keepdims": lambda value: isinstance(value, bool),
    "kernel_size": _sizes((1, 2), 1, 64),
    "max_value": lambda value: value is None or _real(value),
    "negative_slope": _real,
    "offset": _real,
    "padding": lambda value: value in ("valid", "same"),
    "pool_size": _sizes((1, 2), 1, 64),
    "rate": lambda value: _real(value, 0.0, 1.0),
    "scale": lambda value: isinstance(value, bool) or _real(value),
    "strides": _sizes((1, 2), 1, 64),
    "target_shape": _sizes((1, 8), -1, 1_000_000),
    "threshold": _real,
    "units": lambda value: _whole(value, 1, 1_000_000),
    "use_bias": lambda value: isinstance(value, bool),
}
assert set(_CONFIG_CHECKS) == set(fmt.LAYER_CONFIG_KEYS)


_JSON_NAMES = {int: "an integer", str: "a string", dict: "an object", list: "a list"}


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
             int: "an integer", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_bad_number(data: Any) -> str | None:
    # Iterative: a deeply nested manifest must not hit the recursion limit here.
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > fmt.JSON_MAX_INT:
            return f"an integer of {len(str(abs(value)))} digits"
    return None


# -- array sizes -------------------------------------------------------------------------


def _positive_int(value: Any, cap: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= cap:
        return value
    return cap


def prediction_limits(manifest: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Return the largest shape each predictions array may have, from the manifest's test-set size."""
    n = _positive_int((manifest.get(fmt.KEY_DATASET) or {}).get("test_size"), fmt.MAX_TEST_DIGITS)
    return {"labels": (n,), "predicted": (n,), "probabilities": (n, fmt.NUM_CLASSES), "images": (n, *fmt.IMAGE_SHAPE)}


def _probe_count(manifest: dict[str, Any]) -> int:
    config = manifest.get(fmt.KEY_CONFIG) or {}
    per_class = _positive_int(config.get("probe_per_class"), fmt.MAX_PROBES // fmt.NUM_CLASSES)
    return per_class * fmt.NUM_CLASSES


def probe_limits(manifest: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Return the largest shape each probes array may have, from the manifest's probe count."""
    p = _probe_count(manifest)
    return {"ids": (p,), "labels": (p,), "images": (p, *fmt.IMAGE_SHAPE)}


def snapshot_limits(manifest: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    """Return the largest shape of each snapshot array the run's config implies, or None when it cannot tell.

    None for an imported model (no config: the absolute caps of :func:`artifacts.io.read_npz` apply).
    """
    if fmt.is_imported(manifest):
        return None
    try:
        config = TrainConfig.from_dict(manifest.get(fmt.KEY_CONFIG) or {})
        plan = layer_plan(config)
    except (ValueError, TypeError, KeyError):
        return None
    p = _probe_count(manifest)
    limits = {fmt.SNAPSHOT_PROBE_INDEX: (p,), fmt.SNAPSHOT_SALIENCY: (p, *fmt.IMAGE_SHAPE),
              fmt.SNAPSHOT_PROBABILITIES: (p, fmt.NUM_CLASSES)}
    channels = 1
    blocks = iter(config.conv_blocks)
    for spec in plan:
        limits[fmt.ACTIVATION_PREFIX + spec.name] = (p, *spec.output_shape)
        if spec.kind == "Conv2D":
            block = next(blocks)
            limits[fmt.KERNEL_PREFIX + spec.name] = (block.kernel_size, block.kernel_size, channels, block.filters)
            channels = block.filters
    return limits


def test_epoch_limits(manifest: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Return the largest shape each array of a per-epoch test file may have, from the manifest.

    ``n`` is the manifest's test-set size (else ``MAX_TEST_DIGITS``), the feature width its config's
    dense units (else 4096, the config's cap).
    """
    n = _positive_int((manifest.get(fmt.KEY_DATASET) or {}).get("test_size"), fmt.MAX_TEST_DIGITS)
    units = _positive_int((manifest.get(fmt.KEY_CONFIG) or {}).get("dense_units"), 4096)
    k = min(n, fmt.EMBEDDING_MAX_DIGITS)
    return {fmt.TEST_PREDICTED: (n,), fmt.TEST_TRUE_PROBABILITY: (n,), fmt.TEST_FEATURE_INDEX: (k,),
            fmt.TEST_FEATURES: (k, units)}


def _config_plan(manifest: dict[str, Any], run_id: str) -> tuple[TrainConfig, list]:
    """Return the run's config and its layer plan, by which a config-shaped file is checked.

    Raises:
        ArtifactError: the manifest's config is not valid, or the run is an imported model (no config).
    """
    if fmt.is_imported(manifest):
        raise ArtifactError(run_id, fmt.MANIFEST, "an imported model has no training config to check this file by")
    try:
        config = TrainConfig.from_dict(manifest.get(fmt.KEY_CONFIG) or {})
        plan = layer_plan(config)
    except (ValueError, TypeError, KeyError) as error:
        raise ArtifactError(run_id, fmt.MANIFEST, f"its config cannot be read ({error})") from None
    return config, plan


def weight_shapes(manifest: dict[str, Any], run_id: str) -> dict[str, tuple[int, ...]]:
    """Return the exact shape of every array of a weights file, by key, from the run's config.

    An imported model's come from its layer graph (:func:`imported_weight_shapes`).

    Raises:
        ArtifactError: the manifest's config is not valid (the weights cannot be checked), or the
            run is an imported model whose layer graph does not give them.
    """
    if fmt.is_imported(manifest):
        return imported_weight_shapes(manifest, run_id)
    config, plan = _config_plan(manifest, run_id)
    shapes: dict[str, tuple[int, ...]] = {}
    size = 1  # the previous layer's channels (or units, after Flatten)
    blocks = iter(config.conv_blocks)
    for spec in plan:
        if spec.kind == "Conv2D":
            block = next(blocks)
            shapes[fmt.weight_key(spec.name, fmt.WEIGHT_KERNEL)] = (block.kernel_size, block.kernel_size, size,
                                                                    block.filters)
        elif spec.kind == "Dense":
            shapes[fmt.weight_key(spec.name, fmt.WEIGHT_KERNEL)] = (size, spec.output_shape[0])
        if spec.kind in ("Conv2D", "Dense"):
            shapes[fmt.weight_key(spec.name, fmt.WEIGHT_BIAS)] = (spec.output_shape[-1],)
        size = spec.output_shape[-1]
    return shapes


def imported_weight_shapes(manifest: dict[str, Any], run_id: str) -> dict[str, tuple[int, ...]]:
    """Return the exact shape of every array of an imported model's weights file, by key, from its layer graph.

    Each layer of :data:`artifacts.format.IMPORTED_WEIGHT_ROLES`' classes has its weights' shapes from
    its config and its output shape and its first inbound layer's (see :mod:`artifacts.format`).

    Raises:
        ArtifactError: the run records no layer graph (imported before it was recorded), or a layer's
            shapes cannot be told from it (a missing config key, an unknown size).
    """
    def bad(reason: str) -> ArtifactError:
        return ArtifactError(run_id, fmt.MANIFEST, reason)

    layers = manifest.get(fmt.KEY_LAYERS)
    if not isinstance(layers, list) or not any(fmt.LAYER_INBOUND in item for item in layers
                                               if isinstance(item, dict)):
        raise bad("the imported model's layer graph is not recorded (imported before the dashboard could run it)")
    outputs = {item["name"]: item["output_shape"] for item in layers}
    shapes: dict[str, tuple[int, ...]] = {}
    for item in layers:
        kind, config, name = item["class_name"], item.get(fmt.LAYER_CONFIG) or {}, item["name"]
        if kind not in fmt.IMPORTED_WEIGHT_ROLES:
            continue
        inbound = item.get(fmt.LAYER_INBOUND) or []
        given = outputs[inbound[0]] if inbound else []
        out = item["output_shape"]
        if not given or not out or given[-1] is None or out[-1] is None:
            raise bad(f"layer {name!r} has no known channels, so its weights cannot be checked")
        channels = given[-1]
        try:
            if kind in ("Conv2D", "DepthwiseConv2D"):
                height, width = config["kernel_size"]
                last = config["filters"] if kind == "Conv2D" else config["depth_multiplier"]
                kernel = {fmt.WEIGHT_KERNEL: (height, width, channels, last)}
                units = last if kind == "Conv2D" else channels * last
            elif kind == "Dense":
                units = config["units"]
                kernel = {fmt.WEIGHT_KERNEL: (channels, units)}
            else:
                units = out[-1]
                kernel = {role: (units,) for role, wanted in (("gamma", config["scale"]), ("beta", config["center"]),
                                                              ("moving_mean", True), ("moving_variance", True))
                          if wanted}
        except (KeyError, TypeError, ValueError):
            raise bad(f"layer {name!r} ({kind}) does not record the config its weights' shapes follow from") from None
        if kind != "BatchNormalization" and config.get("use_bias", True):
            kernel[fmt.WEIGHT_BIAS] = (units,)
        if units != out[-1]:
            raise bad(f"layer {name!r} ({kind}) outputs {out[-1]} channels, but its config gives {units}")
        shapes.update({fmt.weight_key(name, role): shape for role, shape in kernel.items()})
    if sum(math.prod(shape) for shape in shapes.values()) > fmt.MAX_IMPORTED_WEIGHTS:
        raise bad(f"the imported model's layer graph gives more than {fmt.MAX_IMPORTED_WEIGHTS:,} weights")
    return shapes


def maximised_shapes(manifest: dict[str, Any], run_id: str) -> dict[str, tuple[int, ...]]:
    """Return the exact shape of every array of ``maximised.npz``, by key, from the run's config.

    Raises:
        ArtifactError: the manifest's config is not valid (the file cannot be checked), or the
            run is an imported model (it has no config and no such file).
    """
    _, plan = _config_plan(manifest, run_id)
    shapes: dict[str, tuple[int, ...]] = {fmt.MAXIMISED_SECONDS: ()}
    for spec in plan:
        if spec.kind == "Conv2D":
            filters = spec.output_shape[-1]
            shapes[fmt.MAXIMISED_IMAGE + spec.name] = (filters, *fmt.IMAGE_SHAPE)
            shapes[fmt.MAXIMISED_REACHED + spec.name] = (filters,)
            shapes[fmt.MAXIMISED_PROBE_MEAN + spec.name] = (filters,)
    return shapes


# -- why a trainer died ----------------------------------------------------------------

# TensorFlow's and absl's log lines ("I0000 00:00:17... port.cc:153] ..."), its start-up
# notices, and Python warnings: noise around the real cause in a trainer's error output.
_NOISE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl"
    r"|To enable the following instructions"
    r"|.*oneDNN custom operations"
    r"|.*rebuild TensorFlow with the appropriate compiler flags"
    r"|\S+:\d+: \w*Warning:"
    r"|\s+warnings\.warn\("
    r"|\s*$)"
)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Cancelled|Full)\b")
_NO_SPACE = re.compile(r"No space left|ENOSPC|Errno 28|Disk quota exceeded", re.IGNORECASE)


def failure_cause(stderr_tail: str) -> str:
    """Return the line of a trainer's error output that says why it stopped, or "".

    A full disk wins (later errors are usually its consequences), then the last
    exception line (``OSError: ...``), then the last line that is not a TensorFlow
    log line or a warning.
    """
    lines = [line.rstrip() for line in stderr_tail.splitlines()]
    meaningful = [line for line in lines if not _NOISE.match(line)]
    for pattern in (_NO_SPACE, _EXCEPTION):
        found = [line for line in meaningful if pattern.search(line.strip())]
        if found:
            return found[-1].strip()[:300]
    return meaningful[-1].strip()[:300] if meaningful else ""
