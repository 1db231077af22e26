"""The artifact store: one folder per run under a root, read and written only here.

``ArtifactStore`` validates every run id and path before touching the disk and
never follows a path outside its root. ``Run`` is the handle for one run's files.
Writers publish a run by writing ``status: complete`` into its manifest last.

The root is a local folder or ``s3://bucket/prefix`` (:mod:`artifacts.backend`, which
every file access goes through); the same guarantees hold on both.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artifacts import backend
from artifacts import format as fmt
from artifacts.backend import RemotePath
from artifacts.config import LayerSpec
from artifacts.filters import FilterMaxima
from artifacts.io import (
    ArtifactError,
    atomic_write,
    read_json,
    read_npy,
    read_npz,
    sync_folder,
    to_json,
    write_json,
    write_npy,
    write_npz,
)
from artifacts.records import Manifest, Progress, RunSummary, Status, timestamp
from artifacts.snapshots import pooled_pairs, with_pooled, without_pooled
from artifacts.validate import (
    check_manifest,
    failure_cause,
    maximised_shapes,
    prediction_limits,
    probe_limits,
    snapshot_limits,
    test_epoch_limits,
    weight_shapes,
)


class InvalidRunId(ValueError):
    """A run id that the store refuses (bad characters, too long, a path...)."""


class RunExistsError(FileExistsError):
    """A run with this id already exists in the store."""


class RunNotFound(LookupError):
    """No run with this id in the store."""


STORE_ENV = "CNNVIZ_STORE"
DEFAULT_ROOT = Path(__file__).resolve().parent / "runs"


def store_location(value: str | os.PathLike[str] | RemotePath) -> Path | RemotePath:
    """Return the store root ``value`` names: an ``s3://bucket/prefix`` or a local folder.

    Raises:
        ValueError: an s3:// URL with an invalid bucket or prefix (see :func:`artifacts.backend.parse_url`).
    """
    if isinstance(value, RemotePath):
        return value
    if backend.is_remote_url(value):
        return RemotePath.root(str(value))
    return Path(value).expanduser()


def default_root() -> Path | RemotePath:
    """Return the store root: ``$CNNVIZ_STORE`` when set (a folder or ``s3://bucket/prefix``), else
    ``artifacts/runs`` in the checkout."""
    value = os.environ.get(STORE_ENV, "").strip()
    return store_location(value) if value else DEFAULT_ROOT


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class ArtifactStore:
    """A folder of runs.

    Args:
        root: the store's folder, created on first write, not on construction; or
            ``s3://bucket/prefix`` (a :class:`artifacts.backend.RemotePath`).

    Raises:
        ValueError: an s3:// URL with an invalid bucket or prefix.
    """

    def __init__(self, root: str | os.PathLike[str] | RemotePath):
        location = store_location(root)
        self.root = location if isinstance(location, RemotePath) else location.resolve()

    @property
    def remote(self) -> bool:
        """True for a store on object storage (no shared disk: locks and job files live elsewhere)."""
        return isinstance(self.root, RemotePath)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    def _run_dir(self, run_id: object) -> Path:
        if not fmt.is_valid_run_id(run_id):
            shown = repr(run_id)[:80]
            raise InvalidRunId(
                f"invalid run id {shown}: use 1-64 letters, digits, '.', '_' or '-', not starting with '.'"
            )
        path = self.root / str(run_id)
        # A run folder that is a symlink could point anywhere; refuse it.
        if path.is_symlink() or path.resolve().parent != self.root:
            raise InvalidRunId(f"run {run_id!r} is not a folder inside the store")
        return path

    def exists(self, run_id: str) -> bool:
        """Return True when the run folder exists (valid id required)."""
        return self._run_dir(run_id).is_dir()

    def run(self, run_id: str) -> Run:
        """Return the handle of an existing run.

        Raises:
            InvalidRunId: the id is not acceptable.
            RunNotFound: no such run.
        """
        path = self._run_dir(run_id)
        if not path.is_dir():
            raise RunNotFound(f"no run {run_id!r} in {self.root}")
        return Run(run_id, path)

    def create_run(self, run_id: str, manifest: dict[str, Any]) -> Run:
        """Create a run folder and its first manifest with status ``running``.

        Args:
            run_id: the new run's id.
            manifest: fields to record (config, dataset, versions...); the store
                adds schema_version, run_id, status and created.

        Raises:
            InvalidRunId: bad id.
            RunExistsError: the id is taken.
            OSError: the store cannot be written.
        """
        path = self._run_dir(run_id)
        exists = RunExistsError(f"run {run_id!r} already exists in {self.root}")
        body = _first_manifest(run_id, manifest)
        if isinstance(path, RemotePath):
            # No folders on S3: the run appears with its manifest, its first object.
            with backend.fresh():
                if backend.listdir(path):
                    raise exists
            Run(run_id, path).write_manifest(body)
            return Run(run_id, path)
        self.root.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise exists
        # The folder appears with its manifest already inside: a reader listing
        # the store never finds a run without one. Hidden names are never runs.
        staging = Path(tempfile.mkdtemp(prefix=f".new-{run_id}.", dir=self.root))
        try:
            staging.chmod(0o755)
            Run(run_id, staging).write_manifest(body)
            try:
                os.rename(staging, path)
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise exists from None  # another process created it meanwhile
                raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return Run(run_id, path)

    def staging_parent(self) -> Path:
        """Return where a run built elsewhere (:meth:`publish`) should be staged: the store's own folder, so
        that publishing is one rename, or for an s3:// store the machine's temporary folder."""
        if isinstance(self.root, RemotePath):
            return Path(tempfile.gettempdir())
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def publish(self, staged: Path, run_id: str) -> Run:
        """Publish the complete run folder ``staged`` (written by another :class:`ArtifactStore`) as ``run_id``.

        In a folder store it is one rename (``staged`` must sit in :meth:`staging_parent`); on S3 every object
        is uploaded, the manifest last, so readers see the run only once all of it exists.

        Raises:
            InvalidRunId: bad id.
            RunExistsError: the id is taken.
            OSError: the store cannot be written.
        """
        path = self._run_dir(run_id)
        exists = RunExistsError(f"run {run_id!r} already exists in {self.root}")
        if isinstance(path, RemotePath):
            with backend.fresh():
                if backend.listdir(path):
                    raise exists
            files = sorted(item for item in staged.rglob("*") if item.is_file())
            for item in sorted(files, key=lambda item: item.name == fmt.MANIFEST):  # the manifest last
                target = path
                for part in item.relative_to(staged).parts:
                    target = target / part
                backend.put_file(target, item)
            return Run(run_id, path)
        if path.exists():  # os.rename would replace an empty folder of that name
            raise exists
        try:
            os.rename(staged, path)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise exists from None
            raise
        return Run(run_id, path)

    def run_ids(self) -> list[str]:
        """Return the ids of every run folder, newest first by creation time of the folder.

        On S3 (one LIST): newest first by id, as ids are time-based (prefixes have no time).
        """
        if isinstance(self.root, RemotePath):
            return sorted((name for name in backend.listdir(self.root) if fmt.is_valid_run_id(name)), reverse=True)
        if not self.root.is_dir():
            return []
        entries = []
        for entry in os.scandir(self.root):
            if fmt.is_valid_run_id(entry.name) and entry.is_dir(follow_symlinks=False):
                try:
                    entries.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
                except FileNotFoundError:
                    continue  # deleted while listing
        return [name for _, name in sorted(entries, reverse=True)]

    def summaries(self) -> list[RunSummary]:
        """Return one :class:`RunSummary` per run, newest first; never raises for a broken run.

        A run whose manifest cannot be read (see :meth:`Run.info`) is an unreadable summary
        (``manifest`` None, ``error`` "reason (file)"), listed after the readable ones.
        """
        summaries = []
        sizes = self._run_sizes()
        for run_id in self.run_ids():
            run = Run(run_id, self.root / run_id)
            size = sizes[run_id] if sizes is not None else run.size_bytes()
            try:
                summary = RunSummary(run_id, size, manifest=run.info())
            except ArtifactError as error:
                summary = RunSummary(run_id, size, error=f"{error.reason} ({error.filename})")
            summaries.append(summary)
        summaries.sort(key=lambda item: item.created, reverse=True)
        return summaries

    def _run_sizes(self) -> dict[str, int] | None:
        """On S3, every run's size from one listing of the whole prefix (None for a local folder)."""
        if not isinstance(self.root, RemotePath):
            return None
        totals: dict[str, int] = {}
        for name, size in backend.walk_sizes(self.root).items():
            run_id = name.split("/", 1)[0]
            totals[run_id] = totals.get(run_id, 0) + size
        return _DefaultZero(totals)

    def delete_run(self, run_id: str) -> None:
        """Remove a run and all its files.

        Raises:
            InvalidRunId, RunNotFound.
        """
        path = self.run(run_id).path
        if isinstance(path, RemotePath):
            backend.remove_tree(path)
        else:
            shutil.rmtree(path)


class _DefaultZero(dict):
    def __missing__(self, key: str) -> int:
        return 0


def _first_manifest(run_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
    body = dict(manifest)
    body.update({
        fmt.KEY_SCHEMA_VERSION: fmt.SCHEMA_VERSION,
        fmt.KEY_RUN_ID: run_id,
        fmt.KEY_STATUS: fmt.STATUS_RUNNING,
        fmt.KEY_CREATED: body.get(fmt.KEY_CREATED) or utc_now(),
    })
    return body


class Run:
    """One run's files. Create through :class:`ArtifactStore`, not directly."""

    def __init__(self, run_id: str, path: Path | RemotePath):
        self.run_id = run_id
        self.path = path
        if isinstance(path, RemotePath):
            backend.list_whole(path)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"

    def _file(self, name: str) -> Path | RemotePath:
        path = self.path / name
        # A link inside a run could point anywhere; the store reads and writes
        # only real files inside its root.
        if path.is_symlink() or (path.parent != self.path and path.parent.is_symlink()):
            raise ArtifactError(self.run_id, name, "is a symbolic link; the store does not follow links")
        return path

    def _snapshot_file(self, epoch: int) -> Path:
        return self._file(f"{fmt.SNAPSHOT_DIR}/{fmt.snapshot_name(epoch)}")

    # -- manifest ---------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Return the manifest.

        Raises:
            ArtifactError: missing, larger than ``MANIFEST_MAX_BYTES`` or invalid JSON,
                or a manifest :func:`artifacts.validate.check_manifest` refuses (wrong
                types, numbers that are not finite, a ``run_id`` other than the folder's).
        """
        data = _cached(self._file(fmt.MANIFEST),
                       lambda p: check_manifest(read_json(p, self.run_id, fmt.MANIFEST_MAX_BYTES), self.run_id))
        return dict(data)

    def info(self) -> Manifest:
        """Return the manifest, typed (see :class:`artifacts.records.Manifest`).

        Raises:
            ArtifactError: as :meth:`manifest`.
        """
        return Manifest.from_dict(self.manifest(), self.run_id)

    def layers(self) -> list[LayerSpec]:
        """Return the network's layers: the manifest's recorded architecture, else the config's plan.

        Raises:
            ArtifactError: the manifest cannot be read, or holds neither a readable
                architecture nor a valid config.
        """
        return self.info().layers()

    def _limits_manifest(self) -> dict[str, Any]:
        # Array limits come from the manifest; a broken one leaves the absolute caps.
        try:
            return self.manifest()
        except ArtifactError:
            return {}

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Atomically replace the manifest (adds ``updated``)."""
        body = dict(manifest)
        body[fmt.KEY_UPDATED] = utc_now()
        write_json(self._file(fmt.MANIFEST), body)

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into the manifest and write it; return the new manifest."""
        with backend.fresh():  # on S3, the manifest as it is now, not as a kept listing saw it
            manifest = self.manifest()
        manifest.update(fields)
        self.write_manifest(manifest)
        return manifest

    def status(self) -> Status:
        """Return the manifest's status."""
        return self.info().status

    def is_complete(self) -> bool:
        """Return True only when the manifest says ``complete``."""
        return self.status() == fmt.STATUS_COMPLETE

    def finish(self, status: str | Status, **fields: Any) -> dict[str, Any]:
        """Mark the run finished. ``complete`` must be the last write of a run.

        Args:
            status: complete, failed or cancelled.
            fields: extra manifest fields (metrics, error...).
        """
        if status not in fmt.FINISHED_STATUSES:
            raise ValueError(f"status must be one of {fmt.FINISHED_STATUSES}, not {status!r}")
        status = str(status)
        fields.setdefault(fmt.KEY_FINISHED, utc_now())
        fields[fmt.KEY_SIZE_BYTES] = self.size_bytes()
        # Files written without fsync (snapshots) reach the disk before the
        # manifest says complete, so a crash cannot leave a complete run without them.
        sync_folder(self.path)
        return self.update_manifest(**{**fields, fmt.KEY_STATUS: status})

    # -- history and progress --------------------------------------------

    def append_history(self, row: dict[str, Any]) -> None:
        """Append one epoch's record as one JSON line (written with one write call)."""
        missing = [key for key in fmt.HISTORY_COLUMNS if key not in row]
        if missing:
            raise ValueError(f"history row lacks {missing}")
        line = to_json(row) + "\n"
        path = self._file(fmt.HISTORY)
        if isinstance(path, RemotePath):
            # No appends on S3: the whole file again, one PUT (only the trainer writes it).
            try:
                before = backend.read_bytes(path)
            except FileNotFoundError:
                before = b""
            backend.put_bytes(path, before + line.encode("utf-8"))
            return
        with open(self._file(fmt.HISTORY), "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def history(self) -> pd.DataFrame:
        """Return the per-epoch history, one row per epoch, sorted by epoch.

        A final line without its newline is a write in progress and is ignored;
        any other malformed line raises.

        Raises:
            ArtifactError: unreadable file or a malformed line.
        """
        path = self._file(fmt.HISTORY)
        if not path.exists():
            return pd.DataFrame(columns=[*fmt.HISTORY_COLUMNS, *fmt.CLASS_ACCURACY_COLUMNS])
        return _cached(path, self._parse_history)

    def _parse_history(self, path: Path) -> pd.DataFrame:
        try:
            text = backend.read_bytes(path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ArtifactError(self.run_id, fmt.HISTORY, f"cannot be read ({error})") from None
        lines = text.split("\n")
        rows = []
        columns = [*fmt.HISTORY_COLUMNS, *fmt.CLASS_ACCURACY_COLUMNS]
        for number, line in enumerate(lines[:-1], start=1):
            rows.append(self._parse_history_line(line, number, columns))
        frame = pd.DataFrame(rows, columns=columns, dtype=float)
        frame[fmt.HISTORY_EPOCH] = frame[fmt.HISTORY_EPOCH].astype(int)
        return frame.sort_values(fmt.HISTORY_EPOCH).reset_index(drop=True)

    def _parse_history_line(self, line: str, number: int, columns: list[str]) -> list[float]:
        # Strict: the writer stores a missing value as null, never NaN, a string or a bool.
        def bad(reason: str) -> ArtifactError:
            return ArtifactError(self.run_id, fmt.HISTORY, f"line {number} {reason}")

        try:
            row = json.loads(line, parse_constant=_reject_constant)
        except ValueError as error:
            raise bad(f"is not valid JSON ({error})") from None
        if not isinstance(row, dict) or any(key not in row for key in fmt.HISTORY_COLUMNS):
            raise bad("lacks required fields")
        values = []
        for column in columns:
            value = row.get(column)
            if value is None and column != fmt.HISTORY_EPOCH:
                values.append(np.nan)
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(f"has a non-numeric {column} ({value!r})")
            else:
                values.append(float(value))
        if values[0] != int(values[0]) or values[0] < 0:
            raise bad(f"has an invalid epoch ({row[fmt.HISTORY_EPOCH]!r})")
        return values

    def write_progress(self, progress: dict[str, Any] | Progress) -> None:
        """Atomically replace the progress record (adds ``updated``, a UNIX time)."""
        body = progress.to_dict() if isinstance(progress, Progress) else dict(progress)
        body["updated"] = time.time()
        write_json(self._file(fmt.PROGRESS), body, durable=False)  # rewritten twice a second

    def _last_record(self, name: str) -> Any:
        """Return the JSON of the run's rewritten record ``name`` (progress, heartbeat), or None before the first."""
        path = self._file(name)
        if not path.exists():
            return None
        return read_json(path, self.run_id)

    def progress(self) -> dict[str, Any] | None:
        """Return the last progress record, or None before the first one."""
        return self._last_record(fmt.PROGRESS)

    def progress_info(self) -> Progress | None:
        """Return the last progress record, typed, or None before the first one.

        Raises:
            ArtifactError: the file cannot be read, or holds an unknown phase or a mistyped field.
        """
        data = self.progress()
        return None if data is None else Progress.from_dict(data, self.run_id)

    def write_heartbeat(self, pid: int, host: str) -> None:
        """Record that the training process ``pid`` on ``host`` is alive now."""
        write_json(self._file(fmt.HEARTBEAT), {fmt.KEY_PID: pid, fmt.KEY_HOST: host, fmt.HEARTBEAT_TIME: time.time()},
                   durable=False)

    def heartbeat(self) -> dict[str, Any] | None:
        """Return the last heartbeat ``{pid, host, time}``, or None."""
        return self._last_record(fmt.HEARTBEAT)

    def is_stale(self, now: float | None = None, stale_after: float = fmt.HEARTBEAT_STALE_SECONDS) -> bool:
        """Return True when the run says ``running`` but its trainer is gone.

        Gone means: the last heartbeat (before the first one, the manifest's
        ``updated`` or ``created`` time) is older than ``stale_after`` seconds, and
        the process it names is not alive on this host (a live process that stopped
        beating, or one on another host that cannot be checked past its beat, is
        given the benefit of the doubt only while it beats). Never raises: an
        unreadable manifest is not a running run.
        """
        now = time.time() if now is None else now
        try:
            info = self.info()
            if info.status is not Status.RUNNING:
                return False
            beat = self.heartbeat()
        except ArtifactError:
            return False
        beat = beat if isinstance(beat, dict) else {}
        when = beat.get(fmt.HEARTBEAT_TIME)
        if isinstance(when, bool) or not isinstance(when, (int, float)):
            when = timestamp(info.updated) or timestamp(info.created) or 0.0
        if now - when < stale_after:
            return False
        pid, host = beat.get(fmt.KEY_PID, info.pid), beat.get(fmt.KEY_HOST, info.host)
        return not (host == socket.gethostname() and _pid_alive(pid))

    # -- evaluation -------------------------------------------------------

    def write_evaluation(
        self,
        class_metrics: pd.DataFrame,
        confusion: np.ndarray,
        labels: np.ndarray,
        predicted: np.ndarray,
        probabilities: np.ndarray,
        images: np.ndarray,
    ) -> None:
        """Write per-class metrics, the confusion matrix and test predictions."""
        missing = [c for c in fmt.CLASS_METRICS_COLUMNS if c not in class_metrics]
        if missing:
            raise ValueError(f"class metrics lack columns {missing}")
        text = class_metrics[list(fmt.CLASS_METRICS_COLUMNS)].to_csv(index=False)
        atomic_write(self._file(fmt.CLASS_METRICS), lambda handle: handle.write(text.encode()))
        write_npy(self._file(fmt.CONFUSION), np.asarray(confusion, dtype=np.int64))
        write_npz(
            self._file(fmt.PREDICTIONS),
            {
                "labels": np.asarray(labels, dtype=np.uint8),
                "predicted": np.asarray(predicted, dtype=np.uint8),
                "probabilities": np.asarray(probabilities, dtype=np.float16),
                "images": np.asarray(images, dtype=np.uint8),
            },
        )

    def class_metrics(self) -> pd.DataFrame:
        """Return per-class precision, recall, f1 and support (one row per class).

        Raises:
            ArtifactError: missing or malformed file.
        """
        return _cached(self._file(fmt.CLASS_METRICS), self._parse_class_metrics)

    def _parse_class_metrics(self, path: Path | RemotePath) -> pd.DataFrame:
        try:
            frame = pd.read_csv(io.BytesIO(backend.read_bytes(path, fmt.JSON_MAX_BYTES)))
        except FileNotFoundError:
            raise ArtifactError(self.run_id, fmt.CLASS_METRICS, "file is missing") from None
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise ArtifactError(self.run_id, fmt.CLASS_METRICS, f"malformed CSV ({error})") from None
        if list(frame.columns) != list(fmt.CLASS_METRICS_COLUMNS) or len(frame) != fmt.NUM_CLASSES:
            raise ArtifactError(self.run_id, fmt.CLASS_METRICS, "unexpected columns or row count")
        values = frame.to_numpy()
        if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values.astype(float)).all():
            raise ArtifactError(self.run_id, fmt.CLASS_METRICS, "holds missing, non-numeric or infinite values")
        return frame

    def confusion(self) -> np.ndarray:
        """Return the 10x10 confusion matrix of counts (rows true, columns predicted).

        Raises:
            ArtifactError: missing or corrupted file, another shape, values that are
                not counts, or more digits than any test set holds (their sums would
                overflow into nonsense percentages).
        """
        size = (fmt.NUM_CLASSES, fmt.NUM_CLASSES)
        matrix = _cached(self._file(fmt.CONFUSION), lambda p: read_npy(p, self.run_id, size))
        if matrix.shape != size:
            raise ArtifactError(self.run_id, fmt.CONFUSION, f"shape {matrix.shape}, expected 10x10")
        if not np.issubdtype(matrix.dtype, np.integer) or (matrix < 0).any():
            raise ArtifactError(self.run_id, fmt.CONFUSION, f"holds {matrix.dtype} values, expected counts")
        # Python integers: summing int64 counts near 2**63 would itself overflow.
        if sum(int(value) for value in matrix.flat) > fmt.MAX_TEST_DIGITS:
            raise ArtifactError(self.run_id, fmt.CONFUSION, f"counts more than {fmt.MAX_TEST_DIGITS:,} test "
                                "digits; the file is damaged")
        return matrix

    def predictions(self) -> dict[str, np.ndarray]:
        """Return test ``labels``, ``predicted``, ``probabilities`` (n, 10) and ``images`` (n, 28, 28)."""
        limits = prediction_limits(self._limits_manifest())
        arrays = _cached(
            self._file(fmt.PREDICTIONS), lambda p: read_npz(p, self.run_id, fmt.PREDICTION_KEYS, limits)
        )
        n = len(arrays["labels"])
        if any(len(arrays[key]) != n for key in fmt.PREDICTION_KEYS):
            raise ArtifactError(self.run_id, fmt.PREDICTIONS, "arrays of different lengths")
        if not np.isfinite(arrays["probabilities"]).all():
            raise ArtifactError(self.run_id, fmt.PREDICTIONS, "probabilities hold NaN or infinity")
        return arrays

    # -- probes and snapshots ---------------------------------------------

    def write_probes(self, ids: np.ndarray, labels: np.ndarray, images: np.ndarray) -> None:
        """Write the probe set: test-split indices, labels and uint8 images."""
        write_npz(
            self._file(fmt.PROBES),
            {
                "ids": np.asarray(ids, dtype=np.int64),
                "labels": np.asarray(labels, dtype=np.uint8),
                "images": np.asarray(images, dtype=np.uint8),
            },
        )

    def probes(self) -> dict[str, np.ndarray]:
        """Return the probe set ``ids``, ``labels``, ``images``."""
        limits = probe_limits(self._limits_manifest())
        return _cached(self._file(fmt.PROBES), lambda p: read_npz(p, self.run_id, fmt.PROBE_KEYS, limits))

    def write_snapshot(self, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        """Write the snapshot taken after ``epoch`` (0 = before training)."""
        if fmt.SNAPSHOT_PROBE_INDEX not in arrays:
            raise ValueError(f"a snapshot needs {fmt.SNAPSHOT_PROBE_INDEX!r}")
        # Pooled activations are derived again on read (artifacts.snapshots): a fifth of a run's size.
        stored = without_pooled(arrays, pooled_pairs(self._limits_manifest()))
        # Not fsynced here, during training: finish() flushes the whole run.
        write_npz(self._snapshot_file(epoch), stored, durable=False)

    def snapshot_epochs(self) -> list[int]:
        """Return the epochs that have a snapshot, ascending.

        Raises:
            ArtifactError: the run is complete but lacks the snapshot of its last
                epoch (the one holding every probe digit): a damaged run, which
                would otherwise show a silently shortened epoch slider.
        """
        folder = self._file(fmt.SNAPSHOT_DIR)
        epochs = []
        for name in backend.listdir(folder):
            match = fmt.SNAPSHOT_PATTERN.match(name)
            if match:
                epochs.append(int(match.group(1)))
        manifest = self._limits_manifest()
        last = (manifest.get(fmt.KEY_CONFIG) or {}).get("epochs")
        if (manifest.get(fmt.KEY_STATUS) == fmt.STATUS_COMPLETE and isinstance(last, int) and not isinstance(last, bool)
                and last not in epochs):
            name = f"{fmt.SNAPSHOT_DIR}/{fmt.snapshot_name(last)}"
            raise ArtifactError(self.run_id, name, f"file {name} is missing: the run is complete after {last} "
                                "epochs but has no snapshot of its last epoch")
        return sorted(epochs)

    def snapshot(self, epoch: int) -> dict[str, np.ndarray]:
        """Return the snapshot of ``epoch``.

        Raises:
            ArtifactError: missing or corrupted snapshot.
        """
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ArtifactError(self.run_id, f"{fmt.SNAPSHOT_DIR}/epoch_?", f"invalid epoch {epoch!r}")
        path = self._snapshot_file(int(epoch))
        manifest = self._limits_manifest()
        limits, pairs = snapshot_limits(manifest), pooled_pairs(manifest)
        required = (fmt.SNAPSHOT_PROBE_INDEX,)
        return _cached(path, lambda p: with_pooled(read_npz(p, self.run_id, required, limits), pairs))

    # -- weights ----------------------------------------------------------

    def weights_path(self, epoch: int) -> Path:
        """The path of the weights after ``epoch`` (which may not exist)."""
        if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 0:
            raise ArtifactError(self.run_id, f"{fmt.WEIGHTS_DIR}/epoch_?", f"invalid epoch {epoch!r}")
        return self._file(f"{fmt.WEIGHTS_DIR}/{fmt.weights_name(int(epoch))}")

    def write_weights(self, epoch: int, weights: dict[str, np.ndarray], final: bool = False) -> None:
        """Write the network's weights after ``epoch`` (0 = the random initialisation).

        Args:
            weights: every array :func:`artifacts.validate.weight_shapes` names, by key.
            final: the run's last epoch, stored in ``FINAL_WEIGHTS_DTYPE`` (every other in ``WEIGHTS_DTYPE``).

        Raises:
            ValueError: an array is missing, or has another shape than the run's config gives it.
        """
        shapes = weight_shapes(self.manifest(), self.run_id)
        arrays = {key: np.asarray(value) for key, value in weights.items()}
        wrong = sorted(key for key, shape in shapes.items() if key not in arrays or arrays[key].shape != shape)
        if wrong or set(arrays) != set(shapes):
            raise ValueError(f"weights {wrong or sorted(set(arrays) - set(shapes))} do not match the run's config")
        dtype = fmt.FINAL_WEIGHTS_DTYPE if final else fmt.WEIGHTS_DTYPE
        # Not fsynced here, during training: finish() flushes the whole run.
        write_npz(self.weights_path(epoch), {key: arrays[key].astype(dtype) for key in shapes}, durable=False)

    def weight_epochs(self) -> list[int]:
        """Return the epochs whose weights are stored, ascending (empty for runs written before weights were)."""
        folder = self._file(fmt.WEIGHTS_DIR)
        matches = (fmt.SNAPSHOT_PATTERN.match(name) for name in backend.listdir(folder))
        return sorted(int(match.group(1)) for match in matches if match)

    def weights(self, epoch: int) -> dict[str, np.ndarray]:
        """Return the network's weights after ``epoch``, by :func:`artifacts.format.weight_key`, as stored.

        Raises:
            ArtifactError: a missing, truncated or corrupted file; an array missing, of another
                shape than the run's config gives it, not floating point, or holding NaN or infinity;
                or a manifest whose config cannot be read.
        """
        path = self.weights_path(epoch)
        name = f"{fmt.WEIGHTS_DIR}/{path.name}"
        shapes = weight_shapes(self.manifest(), self.run_id)
        arrays = _cached(path, lambda p: read_npz(p, self.run_id, tuple(shapes), shapes))
        for key, shape in shapes.items():
            array = arrays[key]
            if array.shape != shape or array.dtype.kind != "f":
                raise ArtifactError(self.run_id, name, f"array {key!r} is {array.dtype} {array.shape}, expected "
                                    f"floats of shape {shape}")
            if not np.isfinite(array).all():
                raise ArtifactError(self.run_id, name, f"array {key!r} holds NaN or infinity")
        return arrays

    # -- what each filter looks for ---------------------------------------

    def write_maximised(self, maxima: list[FilterMaxima], seconds: float) -> None:
        """Write every conv layer's maximising inputs (:mod:`pipeline.maximise`) and how long they took.

        Raises:
            ValueError: the layers or shapes are not the run's config's conv layers.
        """
        shapes = maximised_shapes(self.manifest(), self.run_id)
        arrays: dict[str, np.ndarray] = {fmt.MAXIMISED_SECONDS: np.asarray(seconds, dtype=np.float64)}
        for layer in maxima:
            arrays[fmt.MAXIMISED_IMAGE + layer.layer] = np.asarray(layer.images).astype(fmt.MAXIMISED_DTYPE)
            arrays[fmt.MAXIMISED_REACHED + layer.layer] = np.asarray(layer.reached, dtype=np.float32)
            arrays[fmt.MAXIMISED_PROBE_MEAN + layer.layer] = np.asarray(layer.probe_mean, dtype=np.float32)
        wrong = sorted(key for key, shape in shapes.items() if key not in arrays or arrays[key].shape != shape)
        if wrong or set(arrays) != set(shapes):
            raise ValueError(f"maximised inputs {wrong or sorted(set(arrays) - set(shapes))} do not match "
                             "the run's config")
        write_npz(self._file(fmt.MAXIMISED), arrays, durable=False)  # finish() flushes the whole run

    def maximised(self) -> tuple[list[FilterMaxima], float] | None:
        """Return every conv layer's maximising inputs, in layer order, and the seconds they took.

        Returns:
            None for a run without the file (trained before it existed, or not finished).

        Raises:
            ArtifactError: a truncated, corrupted or oversized file; an array missing, of another
                shape than the run's config gives it, not floating point, holding NaN or infinity,
                or images outside the pixel range 0-255; or a manifest whose config cannot be read.
        """
        path = self._file(fmt.MAXIMISED)
        if not path.exists():
            return None
        shapes = maximised_shapes(self.manifest(), self.run_id)
        arrays = _cached(path, lambda p: read_npz(p, self.run_id, tuple(shapes), shapes))
        for key, shape in shapes.items():
            array = arrays[key]
            if array.shape != shape or array.dtype.kind != "f":
                raise ArtifactError(self.run_id, fmt.MAXIMISED, f"array {key!r} is {array.dtype} {array.shape}, "
                                    f"expected floats of shape {shape}")
            if not np.isfinite(array).all():
                raise ArtifactError(self.run_id, fmt.MAXIMISED, f"array {key!r} holds NaN or infinity")
        layers = [key.removeprefix(fmt.MAXIMISED_IMAGE) for key in shapes if key.startswith(fmt.MAXIMISED_IMAGE)]
        maxima = []
        for layer in layers:
            images = arrays[fmt.MAXIMISED_IMAGE + layer]
            if images.min(initial=0.0) < 0 or images.max(initial=0.0) > fmt.PIXEL_MAX:
                raise ArtifactError(self.run_id, fmt.MAXIMISED, f"the images of {layer} leave the pixel range "
                                    f"0-{fmt.PIXEL_MAX:g}")
            maxima.append(FilterMaxima(layer, images, arrays[fmt.MAXIMISED_REACHED + layer],
                                       arrays[fmt.MAXIMISED_PROBE_MEAN + layer]))
        seconds = float(arrays[fmt.MAXIMISED_SECONDS])
        if seconds < 0:
            raise ArtifactError(self.run_id, fmt.MAXIMISED, f"says it took {seconds} seconds")
        return maxima, seconds

    # -- every test digit, each epoch ---------------------------------------

    def test_epoch_path(self, epoch: int) -> Path:
        """The path of the test digits' record after ``epoch`` (which may not exist)."""
        if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 0:
            raise ArtifactError(self.run_id, f"{fmt.TEST_EPOCHS_DIR}/epoch_?", f"invalid epoch {epoch!r}")
        return self._file(f"{fmt.TEST_EPOCHS_DIR}/{fmt.test_epoch_name(int(epoch))}")

    def write_test_epoch(self, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        """Write every test digit's answer (and the embedded digits' features) after ``epoch``.

        Args:
            arrays: the :data:`artifacts.format.TEST_EPOCH_KEYS`, stored in their format dtypes.

        Raises:
            ValueError: a key is missing or extra, or the arrays' lengths disagree.
        """
        if set(arrays) != set(fmt.TEST_EPOCH_KEYS):
            raise ValueError(f"a test epoch holds exactly {fmt.TEST_EPOCH_KEYS}, not {sorted(arrays)}")
        stored = {
            fmt.TEST_PREDICTED: np.asarray(arrays[fmt.TEST_PREDICTED]).astype(np.uint8),
            fmt.TEST_TRUE_PROBABILITY: np.asarray(arrays[fmt.TEST_TRUE_PROBABILITY]).astype(np.float16),
            fmt.TEST_FEATURE_INDEX: np.asarray(arrays[fmt.TEST_FEATURE_INDEX]).astype(np.int32),
            fmt.TEST_FEATURES: np.asarray(arrays[fmt.TEST_FEATURES]).astype(np.float16),
        }
        if (len(stored[fmt.TEST_PREDICTED]) != len(stored[fmt.TEST_TRUE_PROBABILITY])
                or stored[fmt.TEST_FEATURES].ndim != 2
                or len(stored[fmt.TEST_FEATURE_INDEX]) != len(stored[fmt.TEST_FEATURES])):
            raise ValueError("a test epoch's arrays disagree in length")
        # Not fsynced here, during training: finish() flushes the whole run.
        write_npz(self.test_epoch_path(epoch), stored, durable=False)

    def test_epochs(self) -> list[int]:
        """Return the epochs whose test-digit record is stored, ascending (empty for runs from before it was)."""
        folder = self._file(fmt.TEST_EPOCHS_DIR)
        if not folder.is_dir():
            return []
        matches = (fmt.SNAPSHOT_PATTERN.match(name) for name in backend.listdir(folder))
        return sorted(int(match.group(1)) for match in matches if match)

    def test_epoch(self, epoch: int) -> dict[str, np.ndarray]:
        """Return the test digits' record after ``epoch``, keyed as :data:`artifacts.format.TEST_EPOCH_KEYS`.

        Raises:
            ArtifactError: a missing, truncated, corrupted or oversized file (bounded by the manifest's
                test-set size and dense units); an array of another dtype or rank; lengths that
                disagree; classes outside 0-9; probabilities not in [0, 1]; features not finite; or
                feature indices not ascending test indices.
        """
        path = self.test_epoch_path(epoch)
        name = f"{fmt.TEST_EPOCHS_DIR}/{path.name}"
        limits = test_epoch_limits(self._limits_manifest())
        arrays = _cached(path, lambda p: read_npz(p, self.run_id, fmt.TEST_EPOCH_KEYS, limits))

        def bad(reason: str) -> ArtifactError:
            return ArtifactError(self.run_id, name, reason)

        predicted, probability = arrays[fmt.TEST_PREDICTED], arrays[fmt.TEST_TRUE_PROBABILITY]
        index, features = arrays[fmt.TEST_FEATURE_INDEX], arrays[fmt.TEST_FEATURES]
        if predicted.dtype.kind not in "ui" or index.dtype.kind not in "ui":
            raise bad("classes or feature indices are not integers")
        if probability.dtype.kind != "f" or features.dtype.kind != "f":
            raise bad("probabilities or features are not floating point")
        if len(predicted) != len(probability) or len(index) != len(features):
            raise bad("arrays of different lengths")
        if len(predicted) and (predicted.min() < 0 or predicted.max() >= fmt.NUM_CLASSES):
            raise bad(f"holds classes outside 0-{fmt.NUM_CLASSES - 1}")
        if not (np.isfinite(probability).all() and ((probability >= 0) & (probability <= 1)).all()):
            raise bad("holds probabilities outside [0, 1], NaN or infinity")
        if not np.isfinite(features).all():
            raise bad("features hold NaN or infinity")
        if len(index) and (index.min() < 0 or index.max() >= len(predicted) or (np.diff(index) <= 0).any()):
            raise bad("feature indices are not ascending test digits")
        return arrays

    # -- model and sizes --------------------------------------------------

    @property
    def model_path(self) -> Path:
        """The path of ``model.keras`` (which may not exist yet).

        On S3, a read-only local copy of the object (downloaded once per ETag, for Keras).

        Raises:
            FileNotFoundError: on S3, no model object yet; OSError: it cannot be downloaded.
        """
        return backend.local_copy(self._file(fmt.MODEL))

    def save_model(self, save: Callable[[Path], None]) -> None:
        """Save the model atomically: ``save(tmp_path)`` writes a ``.keras`` file, then it is moved."""
        target = self._file(fmt.MODEL)
        if isinstance(target, RemotePath):
            with tempfile.TemporaryDirectory(prefix="cnnviz-model-") as folder:
                local = Path(folder) / fmt.MODEL
                save(local)
                backend.put_file(target, local)
            return
        tmp = self.path / f".model-{os.getpid()}.tmp.keras"
        try:
            save(tmp)
            os.replace(tmp, self.model_path)
        finally:
            tmp.unlink(missing_ok=True)

    @property
    def stderr_path(self) -> Path | RemotePath:
        """Where a supervisor keeps the training process's error output."""
        return self._file(fmt.STDERR_LOG)

    def stderr_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` lines of the training process's error output."""
        try:
            text = backend.read_tail(self.stderr_path, 64_000).decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure_cause(self) -> str:
        """Return the line of the trainer's error output that says why it stopped, or "" (see
        :func:`artifacts.validate.failure_cause`: a full disk, else the last exception, never a
        TensorFlow log line)."""
        return failure_cause(self.stderr_tail(200))

    def size_bytes(self) -> int:
        """Return the total size of the run's files."""
        return sum(backend.walk_sizes(self.path).values())

    def file_sizes(self) -> dict[str, int]:
        """Return each file's size by its path relative to the run folder."""
        return backend.walk_sizes(self.path)


# Keys of heartbeat.json, which only this module reads and writes.


def _pid_alive(pid: Any) -> bool:
    """Return whether process ``pid`` exists on this host (and is not a zombie)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # exists, owned by another user
    except (ProcessLookupError, OverflowError):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard constant {name}")


_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_SIZE = 64
# Bytes of arrays the cache may keep: a worker's memory stays bounded whatever the runs hold.
_CACHE_MAX_BYTES = 256 * 2**20
_CACHE_LOCK = threading.Lock()


def _cached(path: Path | RemotePath, load: Callable[[Path], Any]) -> Any:
    """Load a file through a small cache keyed by (path, mtime, size, inode).

    The dashboard reads the same arrays for every callback; atomic replaces
    change the inode and appends change the size, so a rewritten file is always
    read again. On S3 the "inode" is the object's ETag (one HEAD per read, no GET
    while it is unchanged). Arrays come back read-only and containers as copies, so a caller
    cannot change what the next caller sees.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return load(path)
    except OSError as error:
        in_snapshots = path.parent.name == fmt.SNAPSHOT_DIR
        run_folder = path.parent.parent if in_snapshots else path.parent
        name = f"{fmt.SNAPSHOT_DIR}/{path.name}" if in_snapshots else path.name
        raise ArtifactError(run_folder.name, name, f"cannot be read ({error})") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _copy(_CACHE[key])
    value = load(path)
    _freeze(value)
    if _nbytes(value) > _CACHE_MAX_BYTES // 4:
        return _copy(value)  # too big to keep for the next caller
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE or sum(map(_nbytes, _CACHE.values())) > _CACHE_MAX_BYTES:
            _CACHE.popitem(last=False)
    return _copy(value)


def _nbytes(value: Any) -> int:
    arrays = value.values() if isinstance(value, dict) else [value]
    return sum(array.nbytes for array in arrays if isinstance(array, np.ndarray))


def _freeze(value: Any) -> None:
    arrays = value.values() if isinstance(value, dict) else [value]
    for array in arrays:
        if isinstance(array, np.ndarray):
            array.flags.writeable = False


def _copy(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, dict):
        return dict(value)
    return value
