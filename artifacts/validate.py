"""Checks a reader applies to what it read: manifest types, array sizes, and why a trainer died.

Pure functions over already-parsed data, so every reader of the store (the dashboard,
the job supervisor, the command line) gets the same typed :class:`ArtifactError`
for the same damage instead of garbage further down.
"""

from __future__ import annotations

import math
import re
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
    for index, item in enumerate(items):
        where = f"layer {index}"
        if not isinstance(item, dict) or set(item) != set(fmt.LAYER_FIELDS):
            return f"{where} is not an object of {list(fmt.LAYER_FIELDS)}"
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
    return None


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

    Raises:
        ArtifactError: the manifest's config is not valid (the weights cannot be checked), or the
            run is an imported model (it has no config and no weights file).
    """
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
