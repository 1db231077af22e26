"""One training per store: the lock file, the guard that serialises changes to it, and liveness checks.

A job's files live in a hidden folder of the store root (hidden names are never runs):

    .training/guard           flock'd while the lock is read or changed
    .training/lock.json       the running job: run_id, supervisor pid, host, started
    .training/<run_id>/       job.json (what to run), config.json, stderr.log, cancel, state.json

A lock whose job is gone (its supervisor and trainer dead, or its run finished) no
longer counts: :func:`live_lock` returns only a lock that still holds the store.

A store on object storage (``s3://``) has no folder to lock: its job folders live on the local
disk of the machine that runs the job, and with ``REDIS_URL`` set (web and worker on separate
machines) the lock, the guard, cancel requests and the supervisor's state live in Redis
(:mod:`dashboard.training.redis_lock`), the lock as a key that expires unless the job's
supervisor keeps refreshing it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import psutil

from artifacts import ArtifactError, ArtifactStore, RunNotFound, Status
from artifacts.format import HEARTBEAT_STALE_SECONDS, HEARTBEAT_TIME, KEY_HOST, KEY_PID
from artifacts.io import read_json, write_json
from artifacts.records import timestamp
from dashboard.training import redis_lock

JOBS_DIR = ".training"
LOCK_FILE = "lock.json"
JOBS_DIR_ENV = "CNNVIZ_JOBS_DIR"  # where a machine keeps the job folders of a store on object storage
STALE_ENV = "CNNVIZ_STALE_SECONDS"


def _stale_seconds() -> float:
    # Six missed heartbeats by default (the pipeline beats every 5 s); a deployment (or a test) may
    # want a dead worker's run noticed sooner, never before two beats are missed.
    try:
        return max(float(os.environ.get(STALE_ENV, "")), 11.0)
    except ValueError:
        return HEARTBEAT_STALE_SECONDS


STALE_SECONDS = _stale_seconds()


def shared(store: ArtifactStore) -> bool:
    """True when the store's lock lives in Redis: a store on object storage with ``REDIS_URL`` set."""
    return store.remote and redis_lock.redis_url() is not None


def jobs_root(store: ArtifactStore) -> Path:
    """Return the folder of the store's training jobs (not created here).

    A hidden folder of a local store; for a store on object storage, a folder on this machine's
    disk (``$CNNVIZ_JOBS_DIR``, default in the temporary directory) named after the store.
    """
    if store.remote:
        base = os.environ.get(JOBS_DIR_ENV, "").strip() or os.path.join(tempfile.gettempdir(), "cnnviz-jobs")
        return Path(base) / hashlib.sha256(str(store.root).encode()).hexdigest()[:16]
    return store.root / JOBS_DIR


def lock_path(store: ArtifactStore) -> Path:
    """Return the path of the store's lock file."""
    return jobs_root(store) / LOCK_FILE


def job_dir(store: ArtifactStore, run_id: str) -> Path:
    """Return the job folder of ``run_id``.

    Raises:
        InvalidRunId: ``run_id`` is not acceptable to the store.
    """
    store._run_dir(run_id)  # validates the id the same way the store does
    return jobs_root(store) / run_id


@contextlib.contextmanager
def guard(store: ArtifactStore) -> Iterator[None]:
    """Hold the store's guard: every read-modify-write of the lock happens inside it.

    flock belongs to the open file, so threads, processes and gunicorn workers all
    exclude each other, and the kernel releases it when a holder dies. In Redis (see
    :func:`shared`), a Redis lock that expires when its holder dies.
    """
    if shared(store):
        with redis_lock.guard(store.root):
            yield
        return
    root = jobs_root(store)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "guard", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class LockRecord:
    """The job holding a store: its run, its supervisor's ``pid`` and ``host``, and when it ``started``.

    ``started`` is in seconds since the epoch. The lock file holds these fields as JSON; what
    a hand-edited or older file lacks is None.
    """

    run_id: str
    pid: Any = None
    host: Any = None
    started: Any = None

    @classmethod
    def from_json(cls, data: Any) -> LockRecord | None:
        """Return the record a lock file's JSON holds, or None when it names no run."""
        if not isinstance(data, dict):
            return None
        record = cls(**{field.name: data.get(field.name) for field in fields(cls)})
        return record if isinstance(record.run_id, str) else None


def read_lock(store: ArtifactStore) -> LockRecord | None:
    """Return the store's lock record, or None when there is none (or it names no run, or Redis is unreachable)."""
    if shared(store):
        try:
            return LockRecord.from_json(redis_lock.read(store.root))
        except Exception:  # redis raises many types for one lost connection; starting a job then fails loudly
            return None
    try:
        return LockRecord.from_json(read_json(lock_path(store), JOBS_DIR))
    except ArtifactError:
        return None


def write_lock(store: ArtifactStore, run_id: str, pid: int) -> None:
    """Record ``pid`` on this host as the holder of the store's lock for ``run_id`` (call inside the guard)."""
    record = asdict(LockRecord(run_id, pid, socket.gethostname(), time.time()))
    if shared(store):
        redis_lock.replace(store.root, record, STALE_SECONDS)
        return
    write_json(lock_path(store), record)


def take(store: ArtifactStore, run_id: str, pid: int) -> bool:
    """Take the free lock for ``run_id`` (call inside the guard, after a dead holder's lock was released).

    Returns False when someone holds it (in Redis, ``SET NX`` decides).
    """
    record = asdict(LockRecord(run_id, pid, socket.gethostname(), time.time()))
    if shared(store):
        return redis_lock.acquire(store.root, record, STALE_SECONDS)
    write_json(lock_path(store), record)
    return True


def release(store: ArtifactStore, run_id: str) -> None:
    """Drop the lock if it is ``run_id``'s and remove the job folder (call inside the guard)."""
    if shared(store):
        redis_lock.drop(store.root, run_id)
    else:
        lock = read_lock(store)
        if lock is not None and lock.run_id == run_id:
            lock_path(store).unlink(missing_ok=True)
    shutil.rmtree(jobs_root(store) / run_id, ignore_errors=True)


def live_lock(store: ArtifactStore, stale_after: float = STALE_SECONDS) -> LockRecord | None:
    """Return the lock record when its job still holds the store, else None."""
    lock = read_lock(store)
    if lock is None or not job_alive(store, lock, stale_after):
        return None
    return lock


# -- liveness --------------------------------------------------------------------


def pid_alive(pid: Any, host: Any, since: float | None = None) -> bool | None:
    """Return whether ``pid`` on ``host`` lives; None when it cannot be told (another host).

    ``since``: a time the process is known to have existed at; a process created
    later is a reused pid, not ours.
    """
    if host != socket.gethostname():
        return None
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return since is None or process.create_time() <= since + 1.0
    except psutil.Error:
        return False


def lock_alive(store: ArtifactStore, lock: LockRecord, stale_after: float) -> bool:
    """Return whether the lock's holder (the supervisor) lives; for another host, whether it still beats."""
    alive = pid_alive(lock.pid, lock.host, lock.started)
    if shared(store):  # the key exists (it was just read): its holder refreshed it within stale_after
        return alive is not False
    if alive is None:  # supervisor on another host: trust its beat on the lock file
        try:
            age = time.time() - lock_path(store).stat().st_mtime
        except OSError:
            return False
        return age < stale_after
    return alive


def job_alive(store: ArtifactStore, lock: LockRecord, stale_after: float) -> bool:
    """Return whether the job named by ``lock`` still works on its run."""
    # A run that reached its final status frees the store at once, although its trainer may
    # spend seconds more shutting TensorFlow down; a trainer whose supervisor died still trains.
    if run_finished(store, lock.run_id):
        return False
    return lock_alive(store, lock, stale_after) or trainer_alive(store, lock.run_id, stale_after)


def run_finished(store: ArtifactStore, run_id: str) -> bool:
    """Return True when ``run_id`` exists and reached a final status."""
    try:
        return store.run(run_id).info().status.finished
    except (RunNotFound, ArtifactError, ValueError):
        return False


def trainer_alive(store: ArtifactStore, run_id: str, stale_after: float) -> bool:
    """Tell from a run's heartbeat (or, before the first one, its manifest) whether its trainer lives."""
    try:
        run = store.run(run_id)
        manifest = run.info()
        if manifest.status is not Status.RUNNING:
            return False
        beat = run.heartbeat() or {}
    except (RunNotFound, ArtifactError, ValueError):
        return False
    # The heartbeat ({pid, host, time}, see artifacts.Run.write_heartbeat) names the trainer as the manifest does.
    pid = beat.get(KEY_PID, manifest.pid)
    host = beat.get(KEY_HOST, manifest.host)
    when = beat.get(HEARTBEAT_TIME)
    if not isinstance(when, (int, float)):
        when = timestamp(manifest.updated or manifest.created) or 0.0
    alive = pid_alive(pid, host, when)
    if alive is False:
        return False
    return time.time() - when < stale_after


def beat(store: ArtifactStore, holder: LockRecord | None = None) -> None:
    """Touch the lock file: its mtime is a supervisor's heartbeat for other hosts.

    In Redis, extend the lock's expiry (and take it again for ``holder`` if Redis lost it).
    """
    if shared(store):
        if holder is not None:
            with contextlib.suppress(Exception):  # Redis away for a moment: the next beat tries again
                redis_lock.refresh(store.root, asdict(holder), STALE_SECONDS)
        return
    with contextlib.suppress(OSError):
        os.utime(lock_path(store))


def request_cancel(store: ArtifactStore, run_id: str) -> bool:
    """Ask the job of ``run_id`` to stop; return False when its job folder is not on this machine (file lock)."""
    if shared(store):
        redis_lock.request_cancel(store.root, run_id)
        return True
    folder = job_dir(store, run_id)
    if not folder.is_dir():
        return False
    write_json(folder / "cancel", {"requested": time.time()})
    return True


def cancel_requested(store: ArtifactStore, run_id: str) -> bool:
    """Return True when someone asked the job of ``run_id`` to stop."""
    if (job_dir(store, run_id) / "cancel").exists():
        return True
    if shared(store):
        with contextlib.suppress(Exception):
            return redis_lock.cancel_requested(store.root, run_id)
    return False
