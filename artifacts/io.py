"""Low-level file helpers for the store: atomic writes and strict reads.

Every whole-file write goes to a temporary file in the destination folder, is
flushed and fsynced, then ``os.replace``d into place, so a reader sees either the
old file or the new one, never half of one. On an S3 store (:mod:`artifacts.backend`)
the file is built in memory and written by one PUT, which is atomic the same way.
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

from artifacts import backend
from artifacts import format as fmt


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


def atomic_write(path: Path | backend.RemotePath, write: Callable[[io.BufferedWriter], None],
                 durable: bool = True) -> None:
    """Write a file atomically.

    Args:
        path: destination (an object of an S3 store is written whole by one PUT).
        write: called with a binary file object open on a temporary file in the
            same folder; whatever it writes becomes ``path``'s content.
        durable: fsync before the rename. Readers see a whole file either way;
            skipping it suits files rewritten every second (progress) and files
            that :func:`sync_folder` flushes before the run is marked complete.
    """
    if backend.is_remote(path):
        buffer = io.BytesIO()
        write(buffer)
        backend.put_bytes(path, buffer.getvalue())
        return
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


def read_json(path: Path, run_id: str | None, max_bytes: int = fmt.JSON_MAX_BYTES) -> Any:
    """Read a JSON file strictly.

    Args:
        max_bytes: a larger file is refused before it is parsed (parsing costs time
            and about five times its size in memory).

    Raises:
        ArtifactError: the file is missing, unreadable, larger than ``max_bytes``,
            nested too deeply or not valid JSON.
    """
    try:
        data = backend.read_bytes(path, max_bytes)
        if len(data) > max_bytes:
            raise ArtifactError(run_id, path.name, f"is larger than {max_bytes:,} bytes; refused")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ArtifactError(run_id, path.name, "file is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ArtifactError(run_id, path.name, f"cannot be read ({error})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise ArtifactError(run_id, path.name, f"invalid JSON ({error})") from None
    except RecursionError:
        raise ArtifactError(run_id, path.name, "invalid JSON (nested too deeply)") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard constant {name}")


# What numpy raises for a truncated or garbled .npy/.npz: zip and zlib errors for the
# archive, SyntaxError and ValueError for a mangled array header.
_CORRUPT = (OSError, ValueError, EOFError, KeyError, SyntaxError, zipfile.BadZipFile, zlib.error, struct.error)


# Deflate level 6, numpy's default: a default run stores 16 snapshots and 16 epochs of weights,
# and level 6 keeps it under 50 MB (snapshots 4% smaller than at level 1, about 0.1 s more per
# snapshot written during training; reading is as fast).
NPZ_COMPRESSLEVEL = 6


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
    Nothing to do on an S3 store: an object exists whole once its PUT returned.
    """
    if backend.is_remote(folder):
        return
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


def read_npz(
    path: Path,
    run_id: str | None,
    required: tuple[str, ...] = (),
    limits: dict[str, tuple[int, ...]] | None = None,
) -> dict[str, np.ndarray]:
    """Read every array of an npz file into memory, without pickle, within bounds.

    Every member's header is checked before any array is decompressed: a small
    file can hold gigabytes of zeros.

    Args:
        limits: the largest shape (dimension by dimension) each named array may
            have; arrays must have that many dimensions. Unnamed arrays, and the
            file as a whole, are bounded by the named ones' worst-case size (or
            by ``NPZ_MAX_BYTES`` when ``limits`` is None).

    Raises:
        ArtifactError: missing file, truncated or corrupted archive, object
            arrays, an array larger than its limit, or a required key absent.
    """
    try:
        source = _source(path, fmt.NPZ_MAX_BYTES, run_id)
        _check_npz_headers(source(), path, run_id, limits)
        with np.load(source(), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ArtifactError(run_id, _rel(path), "file is missing") from None
    except _CORRUPT as error:
        raise ArtifactError(run_id, _rel(path), f"corrupted array file ({error})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ArtifactError(run_id, _rel(path), f"missing arrays {missing}")
    return arrays


def read_npy(path: Path, run_id: str | None, limit: tuple[int, ...] | None = None) -> np.ndarray:
    """Read one .npy array without pickle.

    Args:
        limit: the largest shape the array may have (checked on its header before it is read).

    Raises:
        ArtifactError: missing, truncated, corrupted or too large file.
    """
    try:
        source = _source(path, fmt.NPZ_MAX_BYTES, run_id)
        if limit is not None:
            with _opened(source()) as handle:
                _check_header(handle, path.name, limit, run_id, path)
        return np.load(source(), allow_pickle=False)
    except FileNotFoundError:
        raise ArtifactError(run_id, _rel(path), "file is missing") from None
    except _CORRUPT as error:
        raise ArtifactError(run_id, _rel(path), f"corrupted array file ({error})") from None


_WORST_ITEMSIZE = 8  # the widest dtype a limit allows for (float64, int64)


def _source(path: Path | backend.RemotePath, max_bytes: int, run_id: str | None) -> Callable[[], Any]:
    """Return a function giving what numpy and zipfile read: the local path, or the object's bytes.

    An object is fetched once (one GET, so every read sees one version of it), at most
    ``max_bytes``: its compressed size is bounded as a local file's decompressed size is.

    Raises:
        FileNotFoundError: no such file; ArtifactError: an object larger than ``max_bytes``.
    """
    if not backend.is_remote(path):
        return lambda: path
    data = backend.read_bytes(path, max_bytes)
    if len(data) > max_bytes:
        raise ArtifactError(run_id, _rel(path), f"is larger than {max_bytes:,} bytes; refused")
    return lambda: io.BytesIO(data)


def _opened(source: Any) -> Any:
    return open(source, "rb") if isinstance(source, Path) else source


def _check_npz_headers(source: Any, path: Path, run_id: str | None,
                       limits: dict[str, tuple[int, ...]] | None) -> None:
    if limits is None:
        budget = fmt.NPZ_MAX_BYTES
    else:
        budget = min(fmt.NPZ_MAX_BYTES, sum(math.prod(shape) for shape in limits.values()) * _WORST_ITEMSIZE)
    total = 0
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if len(members) > fmt.NPZ_MAX_MEMBERS:
            raise ArtifactError(run_id, _rel(path), f"holds {len(members)} arrays; refused")
        for member in members:
            key = member.filename.removesuffix(".npy")
            with archive.open(member) as handle:
                total += _check_header(handle, key, (limits or {}).get(key), run_id, path)
            if total > budget:
                raise ArtifactError(run_id, _rel(path), f"its arrays would take more than {budget:,} bytes "
                                    "in memory; refused")


def _check_header(handle: Any, key: str, limit: tuple[int, ...] | None, run_id: str | None, path: Path) -> int:
    """Read one array's header from ``handle``; return its size in bytes.

    Raises:
        ArtifactError: a dtype that needs pickle or a shape beyond ``limit``.
        ValueError: not an .npy header (the caller reports the file as corrupted).
    """
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise ArtifactError(run_id, _rel(path), f"array {key!r} holds Python objects; the store holds no pickles")
    if limit is not None and (len(shape) != len(limit) or any(n > cap for n, cap in zip(shape, limit, strict=True))):
        raise ArtifactError(run_id, _rel(path), f"array {key!r} has shape {shape}, larger than the run's "
                            f"{tuple(limit)}; refused")
    return math.prod(shape) * dtype.itemsize


def write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically write one array as .npy."""
    atomic_write(path, lambda handle: np.save(handle, np.asarray(array), allow_pickle=False))


def _rel(path: Path) -> str:
    # Snapshots and weights live one folder down; name them with their folder so the message
    # tells the user exactly which file is broken.
    folders = (fmt.SNAPSHOT_DIR, fmt.WEIGHTS_DIR, fmt.TEST_EPOCHS_DIR)
    return f"{path.parent.name}/{path.name}" if path.parent.name in folders else path.name
