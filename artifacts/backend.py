"""Where the store's bytes live: a local folder (``pathlib.Path``) or an S3 prefix (:class:`RemotePath`).

Every file access of the store goes through this module's functions, which take either kind of
path. A local folder keeps its guarantees (atomic writes by rename, fsync); on S3-compatible
storage an object is written whole by one PUT (atomic: a reader sees the old object or the new
one), read whole by one GET (never half of one version and half of another), and keys are built
only from validated segments under the store's prefix, so nothing is read or written outside it.

Requests are what an object store charges in time, so a reader learns what a run's folder holds
(names, sizes, ETags) from one LIST of it, kept ``$CNNVIZ_S3_LISTING_SECONDS`` (default 2 s): a page
load's callbacks share it instead of asking each object's ETag. Arrays are cached by that ETag (see
:func:`artifacts.store._cached`), so a page view downloads nothing that did not change. A write drops
the listing of its folder in this process, and a download drops it too (what a freshly read manifest
says exists is then listed again); other processes' writes show within the listing's lifetime.
Decisions that must not act on a listing that old (rewriting a manifest, recording how a job
ended) run inside :func:`fresh`, which asks the store itself.

Endpoint and credentials come from the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), read by botocore, so AWS
S3, Cloudflare R2, MinIO and other S3-compatible services work.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEME = "s3://"
# Bucket names as S3 allows them; prefix segments of the characters run ids use.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
DOWNLOAD_DIR_ENV = "CNNVIZ_S3_CACHE_DIR"
LISTING_ENV = "CNNVIZ_S3_LISTING_SECONDS"


def _listing_seconds() -> float:
    try:
        return min(max(float(os.environ.get(LISTING_ENV, "")), 0.0), 60.0)
    except ValueError:
        return 2.0


LISTING_SECONDS = _listing_seconds()
_LISTINGS: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
_LISTINGS_LOCK = threading.Lock()
_TREES: dict[str, tuple[float, dict[str, int]]] = {}  # recursive listings (sizes), kept as long
_FRESH = threading.local()
# Bumped by every write (forget): a LIST begun before a write may have missed it, so what it found is
# returned to its caller but not kept for the next reader.
_GENERATION = [0]


@contextlib.contextmanager
def fresh() -> Iterator[None]:
    """Within it, this thread asks the object store itself (HEAD, LIST) instead of a kept listing."""
    _FRESH.depth = getattr(_FRESH, "depth", 0) + 1
    try:
        yield
    finally:
        _FRESH.depth -= 1


def _is_fresh() -> bool:
    return getattr(_FRESH, "depth", 0) > 0


def _listing(prefix: str) -> dict[str, dict[str, Any]]:
    """Return what the folder ``prefix`` (bucket/key) holds directly, by name: its LIST, kept a moment."""
    now = time.monotonic()
    with _LISTINGS_LOCK:
        generation = _GENERATION[0]
    if not _is_fresh():
        with _LISTINGS_LOCK:
            kept = _LISTINGS.get(prefix)
        # An empty folder is listed again: a run being created must not stay missing for a while.
        if kept is not None and kept[1] and now - kept[0] < LISTING_SECONDS:
            return kept[1]
    whole = _whole_folder(prefix)
    try:
        if whole is not None:  # a run's folder: it and its subfolders in one request
            folders = _remember_tree(whole, filesystem().find(whole, detail=True), now, generation)
            listing = folders.get(prefix, {})
            _remember(prefix, listing, now, generation)
            return listing
        entries = filesystem().ls(prefix, detail=True)
    except FileNotFoundError:
        entries = []
    except Exception as error:  # botocore and aiohttp raise many types for one failed request
        raise OSError(f"cannot list {SCHEME}{prefix}: {error}") from error
    listing = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry for entry in entries}
    _remember(prefix, listing, now, generation)
    return listing


_WHOLE: set[str] = set()


def list_whole(path: RemotePath) -> None:
    """Have readers list the folder ``path`` with all its subfolders in one request (a run's folder:
    its snapshots and weights are then known from the same LIST as its manifest)."""
    with _LISTINGS_LOCK:
        if len(_WHOLE) > 10_000:
            _WHOLE.clear()
        _WHOLE.add(path.key)


def _whole_folder(prefix: str) -> str | None:
    with _LISTINGS_LOCK:
        parts = prefix.split("/")
        for end in range(len(parts), 0, -1):
            candidate = "/".join(parts[:end])
            if candidate in _WHOLE:
                return candidate
    return None


def _remember(prefix: str, listing: dict[str, dict[str, Any]], when: float, generation: int) -> None:
    with _LISTINGS_LOCK:
        if generation != _GENERATION[0]:
            return  # a write happened while it was listed
        _LISTINGS[prefix] = (when, listing)
        if len(_LISTINGS) > 4096:  # a long-lived reader of many runs: drop the oldest
            for key, _ in sorted(_LISTINGS.items(), key=lambda item: item[1][0])[:1024]:
                _LISTINGS.pop(key, None)


def forget(path: RemotePath) -> None:
    """Drop the kept listings of ``path``'s folder and of everything under ``path``."""
    parent, own = path.parent.key, path.key
    with _LISTINGS_LOCK:
        _GENERATION[0] += 1
        for key in [key for key in _LISTINGS if key == parent or key == own or key.startswith(own + "/")]:
            _LISTINGS.pop(key, None)
        for key in [key for key in _TREES if own == key or own.startswith(key + "/")]:
            _TREES.pop(key, None)


def is_remote_url(value: object) -> bool:
    """Return True when ``value`` names an object-storage store (``s3://bucket/prefix``)."""
    return isinstance(value, (str, RemotePath)) and str(value).strip().lower().startswith(SCHEME)


def is_remote(path: object) -> bool:
    """Return True when ``path`` is a :class:`RemotePath` (an object of an S3 store)."""
    return isinstance(path, RemotePath)


def _check_segment(segment: str, what: str) -> str:
    if segment in (".", "..") or not _SEGMENT.fullmatch(segment):
        raise ValueError(f"{what} {segment!r} is not allowed in an S3 store key (letters, digits, '.', '_', '-')")
    return segment


def parse_url(url: str) -> tuple[str, tuple[str, ...]]:
    """Return ``(bucket, prefix segments)`` of ``s3://bucket/prefix``.

    Raises:
        ValueError: not an s3:// URL, an invalid bucket name, or a prefix segment that is empty,
            ``.``/``..`` or holds other characters than letters, digits, ``.``, ``_`` and ``-``.
    """
    text = str(url).strip()
    if not text.lower().startswith(SCHEME):
        raise ValueError(f"{text!r} is not an s3:// URL")
    rest = text[len(SCHEME):].rstrip("/")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(f"invalid bucket name {bucket!r} in {text!r}")
    segments = tuple(_check_segment(part, "prefix segment") for part in prefix.split("/")) if prefix else ()
    return bucket, segments


_FS_LOCK = threading.Lock()


def filesystem():
    """Return the s3fs filesystem, configured from the standard AWS variables (one per process).

    Listings are never cached: another machine writes runs while this one reads them.
    """
    import s3fs

    with _FS_LOCK:
        kwargs: dict[str, Any] = {"use_listings_cache": False}
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        region = os.environ.get("AWS_DEFAULT_REGION", "").strip()
        if region:
            kwargs["client_kwargs"] = {"region_name": region}
        return s3fs.S3FileSystem(**kwargs)


@dataclass(frozen=True)
class RemoteStat:
    """What :meth:`RemotePath.stat` returns: enough of ``os.stat_result`` for the store's caches.

    ``st_ino`` is derived from the object's ETag, so a rewritten object has another cache key.
    """

    st_size: int
    st_mtime: float
    st_mtime_ns: int
    st_ino: int
    etag: str


class RemotePath:
    """A key under an S3 store's prefix, with the part of ``pathlib.Path`` the store uses.

    Built only by :meth:`root` and ``/`` with validated segments, so a key never leaves the
    prefix. It has no ``__fspath__``: code that would open it as a local file fails loudly;
    :func:`local_copy` gives a read-only local copy where a library needs a file name.
    """

    def __init__(self, bucket: str, parts: tuple[str, ...]):
        self.bucket = bucket
        self.parts = parts

    @classmethod
    def root(cls, url: str) -> RemotePath:
        """Return the path of the store ``s3://bucket/prefix`` (see :func:`parse_url` for what it raises)."""
        bucket, segments = parse_url(url)
        return cls(bucket, segments)

    @property
    def key(self) -> str:
        """The bucket and key, as s3fs names it."""
        return "/".join((self.bucket, *self.parts))

    def __str__(self) -> str:
        return SCHEME + self.key

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and (other.bucket, other.parts) == (self.bucket, self.parts)

    def __hash__(self) -> int:
        return hash((self.bucket, self.parts))

    def __truediv__(self, name: str) -> RemotePath:
        parts = tuple(_check_segment(part, "name") for part in str(name).split("/"))
        return RemotePath(self.bucket, self.parts + parts)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.bucket, self.parts[:-1])

    def resolve(self) -> RemotePath:
        return self

    def expanduser(self) -> RemotePath:
        return self

    def is_symlink(self) -> bool:
        return False  # object storage has no links

    def relative_to(self, other: RemotePath) -> str:
        if self.bucket != other.bucket or self.parts[: len(other.parts)] != other.parts:
            raise ValueError(f"{self} is not under {other}")
        return "/".join(self.parts[len(other.parts):])

    def stat(self) -> RemoteStat:
        """Return the object's size, time and ETag (one HEAD request).

        Raises:
            FileNotFoundError: no such object.
        """
        if _is_fresh():
            try:
                info = filesystem().info(self.key)
            except FileNotFoundError:
                raise
            except Exception as error:  # botocore and aiohttp raise many types for one failed request
                raise OSError(f"cannot reach {self}: {error}") from error
        else:
            info = _listing(self.parent.key).get(self.name)
            if info is None:
                raise FileNotFoundError(str(self))
        if info.get("type") == "directory":
            return RemoteStat(0, 0.0, 0, 0, "")
        etag = str(info.get("ETag", "")).strip('"')
        modified = info.get("LastModified")
        mtime = modified.timestamp() if hasattr(modified, "timestamp") else 0.0
        return RemoteStat(int(info.get("size", 0)), mtime, int(mtime * 1e9),
                          int(hashlib.sha1(etag.encode()).hexdigest()[:15], 16), etag)

    def exists(self) -> bool:
        return self.name in _listing(self.parent.key) or self.is_dir()

    def is_file(self) -> bool:
        return (_listing(self.parent.key).get(self.name) or {}).get("type") == "file"

    def is_dir(self) -> bool:
        return bool(_listing(self.key))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: object storage has no folders."""

    def read_bytes(self) -> bytes:
        return read_bytes(self)

    def read_text(self, encoding: str = "utf-8") -> str:
        return read_bytes(self).decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        put_bytes(self, bytes(data))

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            filesystem().rm_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise
        finally:
            forget(self)


# -- the functions the store calls for either kind of path --------------------------------


def read_bytes(path: Path | RemotePath, max_bytes: int | None = None) -> bytes:
    """Return a file's bytes, at most ``max_bytes + 1`` of them (so a caller can tell it is too large).

    One GET for an object: a reader never mixes two versions of it.

    Raises:
        FileNotFoundError: no such file or object; OSError: it cannot be read.
    """
    if isinstance(path, RemotePath):
        end = None if max_bytes is None else max_bytes + 1
        try:
            return filesystem().cat_file(path.key, start=0 if end is not None else None, end=end)
        except FileNotFoundError:
            raise
        except Exception as error:  # botocore and aiohttp raise many types for one failed read
            raise OSError(f"cannot read {path}: {error}") from error
        finally:
            # What was just read may be newer than the kept listing (a manifest saying complete):
            # list again before trusting the listing about the files it names.
            forget(path)
    with open(path, "rb") as handle:
        return handle.read() if max_bytes is None else handle.read(max_bytes + 1)


def read_tail(path: Path | RemotePath, size: int) -> bytes:
    """Return the last ``size`` bytes of a file (a ranged GET for an object).

    Raises:
        FileNotFoundError, OSError.
    """
    if isinstance(path, RemotePath):
        total = path.stat().st_size
        return filesystem().cat_file(path.key, start=max(0, total - size), end=total) if total else b""
    with open(path, "rb") as handle:
        handle.seek(0, io.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read()


def check_reachable(root: RemotePath) -> None:
    """Raise OSError with a plain reason when the store's bucket cannot be listed (endpoint, keys, bucket)."""
    try:
        filesystem().ls(root.bucket, detail=False)
    except FileNotFoundError:
        raise OSError(f"bucket {root.bucket!r} does not exist") from None
    except Exception as error:  # botocore raises many types: no credentials, refused, denied...
        raise OSError(f"{type(error).__name__}: {error}") from None


def put_bytes(path: RemotePath, data: bytes) -> None:
    """Write an object whole with one PUT (atomic on S3)."""
    try:
        filesystem().pipe_file(path.key, data)
    finally:
        forget(path)


def put_file(path: RemotePath, local: Path) -> None:
    """Upload the local file ``local`` as the object ``path`` (a PUT, or a multipart upload completed at once)."""
    try:
        filesystem().put_file(str(local), path.key)
    finally:
        forget(path)


def listdir(path: Path | RemotePath) -> list[str]:
    """Return the names directly inside a folder (one LIST for a prefix); [] when there is none."""
    if isinstance(path, RemotePath):
        return list(_listing(path.key))
    try:
        return os.listdir(path) if path.is_dir() else []
    except FileNotFoundError:
        return []


def walk_sizes(folder: Path | RemotePath) -> dict[str, int]:
    """Return each file's size under ``folder``, by its path relative to it (one paged LIST for a prefix)."""
    if isinstance(folder, RemotePath):
        now = time.monotonic()
        with _LISTINGS_LOCK:
            kept = _TREES.get(folder.key)
            generation = _GENERATION[0]
        if kept is not None and now - kept[0] < LISTING_SECONDS and not _is_fresh():
            return dict(kept[1])
        try:
            found = filesystem().find(folder.key, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as error:  # botocore and aiohttp raise many types for one failed request
            raise OSError(f"cannot list {folder}: {error}") from error
        _remember_tree(folder.key, found, now, generation)
        prefix = folder.key + "/"
        sizes = {name[len(prefix):]: int(info.get("size", 0)) for name, info in found.items()
                 if name.startswith(prefix) and info.get("type") != "directory"}
        with _LISTINGS_LOCK:
            if generation == _GENERATION[0]:
                _TREES[folder.key] = (now, sizes)
            if len(_TREES) > 256:
                _TREES.clear()
        return dict(sizes)
    sizes = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            try:
                sizes[str(path.relative_to(folder))] = path.lstat().st_size
            except FileNotFoundError:
                pass  # a temporary file that a writer has just renamed or removed
    return sizes


def _remember_tree(root: str, found: dict[str, dict[str, Any]], when: float,
                   generation: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Keep, from one recursive listing of ``root``, the listing of every folder under it; return them by folder."""
    folders: dict[str, dict[str, dict[str, Any]]] = {root: {}}
    for name, info in found.items():
        if not name.startswith(root + "/") or info.get("type") == "directory":
            continue
        parts = name[len(root) + 1:].split("/")
        for depth in range(len(parts)):
            folder = "/".join([root, *parts[:depth]])
            child = parts[depth]
            entry = info if depth == len(parts) - 1 else {"name": f"{folder}/{child}", "type": "directory", "size": 0}
            folders.setdefault(folder, {}).setdefault(child, entry)
    for folder, listing in folders.items():
        _remember(folder, listing, when, generation)
    return folders


def remove_tree(path: RemotePath) -> None:
    """Delete every object under the prefix ``path``."""
    fs = filesystem()
    try:
        keys = list(fs.find(path.key))
        if keys:
            fs.rm(keys)
    finally:
        forget(path)


_DOWNLOAD_LOCK = threading.Lock()


def local_copy(path: Path | RemotePath) -> Path:
    """Return a local file with the content of ``path``, for libraries that need a file name (Keras).

    A local path is returned as it is. An object is downloaded once per ETag into
    ``$CNNVIZ_S3_CACHE_DIR`` (default: a folder in the temporary directory); the copy is read-only.

    Raises:
        FileNotFoundError: no such object; OSError: it cannot be downloaded.
    """
    if not isinstance(path, RemotePath):
        return path
    stat = path.stat()
    base = Path(os.environ.get(DOWNLOAD_DIR_ENV, "").strip() or Path(tempfile.gettempdir()) / "cnnviz-s3-cache")
    digest = hashlib.sha256(f"{path}\0{stat.etag}".encode()).hexdigest()[:32]
    target = base / digest / path.name
    with _DOWNLOAD_LOCK:
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=f".{path.name}")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(read_bytes(path))
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    return target
