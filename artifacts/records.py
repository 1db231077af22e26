"""The typed read model of the store: what a run's manifest and progress say, as objects.

Readers above the store (the pipeline's command line, the dashboard, benchmarks) use these
instead of manifest dicts, so no key, status or phase string is spelled outside
:mod:`artifacts`. Every object is built from already-read JSON by a ``from_dict`` that
raises :class:`ArtifactError` for a field it cannot type; the recorded config is parsed
into a :class:`TrainConfig` once, here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from artifacts import format as fmt
from artifacts.config import LayerSpec, TrainConfig, layer_plan
from artifacts.io import ArtifactError
from artifacts.validate import check_manifest


class Status(StrEnum):
    """A run's status as its manifest records it."""

    RUNNING = fmt.STATUS_RUNNING
    COMPLETE = fmt.STATUS_COMPLETE
    FAILED = fmt.STATUS_FAILED
    CANCELLED = fmt.STATUS_CANCELLED

    @property
    def finished(self) -> bool:
        """True for complete, failed and cancelled: the run's trainer is done with it."""
        return self in FINISHED


FINISHED = frozenset({Status.COMPLETE, Status.FAILED, Status.CANCELLED})


class Phase(StrEnum):
    """What a training job is doing, from its progress record."""

    STARTING = fmt.PHASE_STARTING
    LOADING = fmt.PHASE_LOADING
    TRAINING = fmt.PHASE_TRAINING
    EVALUATING = fmt.PHASE_EVALUATING


def timestamp(value: Any) -> float | None:
    """Return a manifest's ISO time (``created``, ``updated``, ``finished``) in seconds since the epoch.

    None when ``value`` is not an ISO time (missing, or written by hand).
    """
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _fields(data: Any, kinds: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """Return each of ``kinds``' keys read from a JSON object by its reader (None when of another type).

    ``data`` that is not an object reads as an empty one.
    """
    data = data if isinstance(data, dict) else {}
    return {key: kind(data.get(key)) for key, kind in kinds.items()}


def _present(record: Any, keys: Iterable[str]) -> dict[str, Any]:
    """Return ``record``'s fields named by ``keys`` that are not None, for its JSON."""
    return {key: getattr(record, key) for key in keys if getattr(record, key) is not None}


_SIZE_KINDS = {"train_size": _int, "validation_size": _int, "test_size": _int}


@dataclass(frozen=True)
class DatasetInfo:
    """The data a run trained on: ``name`` ("" before the data is loaded), its source and split sizes."""

    name: str = ""
    source: str = ""
    train_size: int | None = None
    validation_size: int | None = None
    test_size: int | None = None
    split: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> DatasetInfo:
        """Build from the manifest's ``dataset`` object; fields of another type read as missing."""
        data = data if isinstance(data, dict) else {}
        split = data.get("split")
        return cls(name=_text(data.get("name")) or "", source=_text(data.get("source")) or "",
                   split=dict(split) if isinstance(split, dict) else {}, **_fields(data, _SIZE_KINDS))

    @property
    def test_split_note(self) -> str:
        """How the test digits were held out of a source that has no test split ("" when it has one)."""
        note = self.split.get(fmt.SPLIT_TEST_NOTE)
        return note if isinstance(note, str) else ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON the manifest records (empty name and missing sizes left out)."""
        data: dict[str, Any] = {"name": self.name} if self.name else {}
        data["source"] = self.source
        data.update(_present(self, _SIZE_KINDS))
        if self.split:
            data["split"] = dict(self.split)
        return data


_METRIC_KINDS = {"test_accuracy": _number, "test_loss": _number, "best_val_accuracy": _number,
                 "epochs_completed": _int, "train_seconds": _number}


@dataclass(frozen=True)
class Metrics:
    """A finished run's results; every field None until the run records it."""

    test_accuracy: float | None = None
    test_loss: float | None = None
    best_val_accuracy: float | None = None
    epochs_completed: int | None = None
    train_seconds: float | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Metrics:
        """Build from the manifest's ``metrics`` object (numbers already checked by the validator)."""
        return cls(**_fields(data, _METRIC_KINDS))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON the manifest records (None fields left out)."""
        return _present(self, _METRIC_KINDS)


@dataclass(frozen=True)
class Manifest:
    """One run's manifest, typed. Build with :meth:`from_dict` or :meth:`artifacts.Run.info`.

    ``config`` is the recorded :class:`TrainConfig`; reading it raises :class:`ArtifactError`
    when the recorded config is not valid (``config_error`` says why, ``raw_config`` keeps
    the JSON for display), so a run with a damaged config is still listed.
    """

    run_id: str
    status: Status
    created: str
    dataset: DatasetInfo
    class_names: tuple[str, ...]
    metrics: Metrics
    raw_config: Mapping[str, Any]
    parsed_config: TrainConfig | None
    config_error: str | None = None
    error: str | None = None
    updated: str | None = None
    finished: str | None = None
    pid: int | None = None
    host: str | None = None
    size_bytes: int | None = None
    command: str | None = None
    versions: Mapping[str, Any] = field(default_factory=dict)
    architecture: tuple[Mapping[str, Any], ...] = ()
    source: str = fmt.SOURCE_TRAINED
    imported_layers: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, run_id: str) -> Manifest:
        """Type a manifest read from the run folder ``run_id``.

        Raises:
            ArtifactError: what :func:`artifacts.validate.check_manifest` refuses (not an object,
                unknown schema, missing or mistyped fields, unknown status, another run's id...).
        """
        data = check_manifest(data, run_id)
        raw_config = data[fmt.KEY_CONFIG]
        imported = fmt.is_imported(data)
        try:
            parsed, config_error = TrainConfig.from_dict(raw_config), None
        except (ValueError, TypeError) as error:
            parsed, config_error = None, str(error)
        if imported:  # its {} config would read as the default TrainConfig: a network it is not
            parsed, config_error = None, "an imported model has no training config"
        architecture = data.get(fmt.KEY_ARCHITECTURE)
        return cls(
            run_id=run_id,
            status=Status(data[fmt.KEY_STATUS]),
            created=data[fmt.KEY_CREATED],
            dataset=DatasetInfo.from_dict(data[fmt.KEY_DATASET]),
            class_names=fmt.class_names(data),
            metrics=Metrics.from_dict(data.get(fmt.KEY_METRICS)),
            raw_config=dict(raw_config),
            parsed_config=parsed,
            config_error=config_error,
            error=data.get(fmt.KEY_ERROR),
            updated=data.get(fmt.KEY_UPDATED),
            finished=data.get(fmt.KEY_FINISHED),
            pid=data.get(fmt.KEY_PID),
            host=data.get(fmt.KEY_HOST),
            size_bytes=data.get(fmt.KEY_SIZE_BYTES),
            command=_text(data.get(fmt.KEY_COMMAND)),
            versions=dict(data.get(fmt.KEY_VERSIONS) or {}),
            architecture=tuple(item for item in architecture or () if isinstance(item, dict)),
            source=fmt.SOURCE_IMPORTED if imported else fmt.SOURCE_TRAINED,
            imported_layers=tuple(data.get(fmt.KEY_LAYERS) or ()),
            raw=dict(data),
        )

    @property
    def config(self) -> TrainConfig:
        """The run's configuration.

        Raises:
            ArtifactError: the recorded config is not a valid :class:`TrainConfig`.
        """
        if self.parsed_config is None:
            raise ArtifactError(self.run_id, fmt.MANIFEST, f"holds an invalid config ({self.config_error})")
        return self.parsed_config

    @property
    def planned_epochs(self) -> int | None:
        """The epochs the config asks for, or None when the config is invalid."""
        return self.parsed_config.epochs if self.parsed_config is not None else None

    @property
    def is_complete(self) -> bool:
        """True only when the status is complete."""
        return self.status is Status.COMPLETE

    @property
    def is_imported(self) -> bool:
        """True for a model imported with ``python -m pipeline import`` (no config, no training history)."""
        return self.source == fmt.SOURCE_IMPORTED

    def layers(self) -> list[LayerSpec]:
        """Return the network's layers: the recorded architecture when it is readable, else the config's plan.

        An imported model's layers are its recorded :attr:`imported_layers` (kind: the Keras class name).

        Raises:
            ArtifactError: neither the architecture nor the config can be read.
        """
        if self.is_imported:
            return _imported_specs(self.imported_layers)
        recorded = _layer_specs(self.architecture)
        return recorded if recorded is not None else layer_plan(self.config)

    def with_status(self, status: Status, error: str | None = None) -> Manifest:
        """Return a copy with another status and error (a display-only change; nothing is written)."""
        return dataclasses.replace(self, status=status, error=error)

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest JSON this was read from, with the status and error this object holds."""
        data = dict(self.raw)
        data[fmt.KEY_STATUS] = str(self.status)
        if self.error is not None:
            data[fmt.KEY_ERROR] = self.error
        return data


def _layer_specs(items: tuple[Mapping[str, Any], ...]) -> list[LayerSpec] | None:
    if not items:
        return None
    specs = []
    for item in items:
        try:
            shape = item["output_shape"]
            spec = LayerSpec(name=item["name"], kind=item["kind"],
                             output_shape=tuple(int(size) for size in shape), params=item["params"],
                             activation=item.get("activation", ""), detail=item.get("detail", ""))
        except (KeyError, TypeError, ValueError):
            return None
        if not (isinstance(spec.name, str) and isinstance(spec.kind, str) and _int(spec.params) is not None
                and isinstance(spec.activation, str) and isinstance(spec.detail, str)):
            return None
        specs.append(spec)
    return specs


def _imported_specs(items: tuple[Mapping[str, Any], ...]) -> list[LayerSpec]:
    """Return an imported model's recorded layers (checked by :func:`artifacts.validate.layers_problem`) as specs;
    an unknown size in an output shape stays None."""
    return [LayerSpec(name=str(item["name"]), kind=str(item["class_name"]),
                      output_shape=tuple(None if size is None else int(size) for size in item["output_shape"]),
                      params=int(item["params"]))
            for item in items]


_PROGRESS_KINDS = {"epoch": _int, "epochs": _int, "batch": _int, "batches": _int, "loss": _number,
                   "accuracy": _number, "pid": _int, "updated": _number}


@dataclass(frozen=True)
class Progress:
    """A training job's last progress record: its ``phase`` (None when not recorded) and where it is."""

    phase: Phase | None = None
    epoch: int = 0
    epochs: int | None = None
    batch: int | None = None
    batches: int | None = None
    loss: float | None = None
    accuracy: float | None = None
    pid: int | None = None
    updated: float | None = None

    @classmethod
    def from_dict(cls, data: Any, run_id: str = "?") -> Progress:
        """Type a progress record read from ``run_id``'s progress file.

        Raises:
            ArtifactError: not an object, an unknown phase, or a field of the wrong type.
        """
        def bad(reason: str) -> ArtifactError:
            return ArtifactError(run_id, fmt.PROGRESS, reason)

        if not isinstance(data, dict):
            raise bad("progress is not a JSON object")
        phase = data.get("phase")
        if phase is not None and phase not in fmt.PHASES:
            raise bad(f"unknown phase {str(phase)[:40]!r}")
        values: dict[str, Any] = {"phase": None if phase is None else Phase(phase)}
        typed = _fields(data, _PROGRESS_KINDS)
        for key, value in typed.items():
            if value is None and data.get(key) is not None:
                raise bad(f"field {key!r} is not a number ({str(data[key])[:40]!r})")
            if value is not None:
                values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON :meth:`artifacts.Run.write_progress` records (None fields left out)."""
        data = _present(self, fmt.PROGRESS_KEYS)
        if self.phase is not None:
            data["phase"] = str(self.phase)
        return data


@dataclass(frozen=True)
class RunSummary:
    """One run as a listing shows it: its manifest, or why the manifest cannot be read.

    ``manifest`` is None exactly when ``error`` is set ("unreadable" is a state, not a status).
    """

    run_id: str
    size_bytes: int
    manifest: Manifest | None = None
    error: str | None = None

    @property
    def readable(self) -> bool:
        """True when the manifest was read."""
        return self.manifest is not None

    @property
    def status(self) -> Status | None:
        """The manifest's status; None for an unreadable run."""
        return self.manifest.status if self.manifest is not None else None

    @property
    def created(self) -> str:
        """The creation time ("" for an unreadable run, which therefore sorts last)."""
        return self.manifest.created if self.manifest is not None else ""

    @property
    def is_complete(self) -> bool:
        """True when the run is readable and complete."""
        return self.manifest is not None and self.manifest.is_complete

    @property
    def problem(self) -> str | None:
        """The run's error: the unreadable manifest's reason, else the manifest's own error, else None."""
        return self.error if self.manifest is None else self.manifest.error

    def to_dict(self) -> dict[str, Any]:
        """Return JSON for a listing: the manifest plus ``size_bytes`` and ``readable``; an
        unreadable run gives its ``run_id``, ``size_bytes``, ``readable`` false and ``error``."""
        if self.manifest is None:
            return {fmt.KEY_RUN_ID: self.run_id, fmt.KEY_SIZE_BYTES: self.size_bytes, "readable": False,
                    fmt.KEY_ERROR: self.error}
        return {**self.manifest.to_dict(), fmt.KEY_SIZE_BYTES: self.size_bytes, "readable": True}
