"""Low-level file helpers for the store: atomic writes and strict reads.

Every whole-file write goes to a temporary file in the destination folder, is
flushed and fsynced, then ``os.replace``d into place, so a reader sees either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class ArtifactError(Exception):
    """A run's file is missing, corrupted or of an unknown schema.

    Attributes:
        run_id: the run the file belongs to (may be None for store-level files).
        filename: the file's name relative to the run folder.
        reason: what is wrong, in plain words.
    """

    def __init__(self, run_id: str | None, filename: str, reason: str):
        self.run_id = run_id
        self.filename = filename
        self.reason = reason
        where = f"run {run_id!r}, file {filename!r}" if run_id else f"file {filename!r}"
        super().__init__(f"{where}: {reason}")


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], None], durable: bool = True) -> None:
    """Write a file atomically.

    Args:
        path: destination.
        write: called with a binary file object open on a temporary file in the
            same folder; whatever it writes becomes ``path``'s content.
        durable: fsync before the rename. Readers see a whole file either way;
            skipping it suits files rewritten every second (progress) and files
            that :func:`sync_folder` flushes before the run is marked complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; runs are read by other processes and users
        # (a web server, a worker), so publish them world-readable like any file.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    """Serialise to strict JSON (NaN and infinity become null)."""
    return json.dumps(_finite(value), default=_json_default, allow_nan=False, sort_keys=True)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_json(path: Path, value: Any, durable: bool = True) -> None:
    """Atomically write ``value`` as indented JSON (see :func:`atomic_write` for ``durable``)."""
    text = json.dumps(json.loads(to_json(value)), indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), durable)


def read_json(path: Path, run_id: str | None) -> Any:
    """Read a JSON file strictly.

    Raises:
        ArtifactError: the file is missing, unreadable or not valid JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(run_id, path.name, "file is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ArtifactError(run_id, path.name, f"cannot be read ({error})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise ArtifactError(run_id, path.name, f"invalid JSON ({error})") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard constant {name}")


# What numpy raises for a truncated or garbled .npy/.npz: zip and zlib errors for the
# archive, SyntaxError and ValueError for a mangled array header.
_CORRUPT = (OSError, ValueError, EOFError, KeyError, SyntaxError, zipfile.BadZipFile, zlib.error, struct.error)


# Deflate level 1, not numpy's default 6: snapshots are written during training,
# and level 1 is three times faster for 4% more bytes (mostly ReLU zeros either way).
NPZ_COMPRESSLEVEL = 1


def write_npz(path: Path, arrays: dict[str, np.ndarray], durable: bool = True) -> None:
    """Atomically write arrays as a compressed npz that ``np.load`` reads (no object arrays).

    Raises:
        TypeError: an array has dtype object (it would need pickle).
    """
    checked = {key: np.asanyarray(array) for key, array in arrays.items()}
    for key, array in checked.items():
        if array.dtype == object:
            raise TypeError(f"array {key!r} has dtype object; the store holds no pickles")

    def write(handle: io.BufferedWriter) -> None:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=NPZ_COMPRESSLEVEL) as archive:
            for key, array in checked.items():
                with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    atomic_write(path, write, durable)


def sync_folder(folder: Path) -> None:
    """fsync every file under ``folder`` and the folders themselves.

    Best effort: files that vanish meanwhile and symbolic links (never followed) are skipped.
    """
    for root, _dirs, files in os.walk(folder):
        for name in [*files, "."]:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def read_npz(path: Path, run_id: str | None, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read every array of an npz file into memory, without pickle.

    Raises:
        ArtifactError: missing file, truncated or corrupted archive, object
            arrays, or a required key absent.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ArtifactError(run_id, _rel(path), "file is missing") from None
    except _CORRUPT as error:
        raise ArtifactError(run_id, _rel(path), f"corrupted array file ({error})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ArtifactError(run_id, _rel(path), f"missing arrays {missing}")
    return arrays


def read_npy(path: Path, run_id: str | None) -> np.ndarray:
    """Read one .npy array without pickle.

    Raises:
        ArtifactError: missing, truncated or corrupted file.
    """
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ArtifactError(run_id, _rel(path), "file is missing") from None
    except _CORRUPT as error:
        raise ArtifactError(run_id, _rel(path), f"corrupted array file ({error})") from None


def write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically write one array as .npy."""
    atomic_write(path, lambda handle: np.save(handle, np.asarray(array), allow_pickle=False))


def _rel(path: Path) -> str:
    # Snapshots live one folder down; name them with their folder so the message
    # tells the user exactly which file is broken.
    return f"{path.parent.name}/{path.name}" if path.parent.name == "snapshots" else path.name
