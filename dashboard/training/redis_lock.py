"""The one-training lock in Redis, for a store on object storage that web and worker machines share.

Machines with no shared disk cannot flock a file in the store, so with ``REDIS_URL`` set and an
``s3://`` store the lock is a Redis key (``SET NX`` with an expiry that the supervisor's heartbeat
refreshes): a worker that dies stops refreshing it and it expires. Beside it, per run, a cancel
request (written by the web, read by the supervisor) and the supervisor's state (its trainer's pid,
when training began). Every key is named after the store, so stores sharing a Redis stay apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

GUARD_SECONDS = 30.0  # the guard is held for a few Redis calls; a holder that dies frees it this late
KEYS_SECONDS = 7 * 24 * 3600  # cancel requests and state outlive any training, then go


def redis_url() -> str | None:
    """Return ``$REDIS_URL``, or None when it is not set."""
    return os.environ.get("REDIS_URL", "").strip() or None


def client():
    """Return a Redis client for ``$REDIS_URL`` with short timeouts (a lock check must not hang a page)."""
    import redis

    return redis.Redis.from_url(redis_url(), socket_connect_timeout=3, socket_timeout=5, decode_responses=True)


def _key(kind: str, store_root: object, run_id: str = "") -> str:
    store = hashlib.sha256(str(store_root).encode()).hexdigest()[:16]
    return f"cnnviz:{kind}:{store}" + (f":{run_id}" if run_id else "")


@contextlib.contextmanager
def guard(store_root: object) -> Iterator[None]:
    """Hold the store's guard (a Redis lock) while the lock is read or changed.

    Raises:
        redis.RedisError: Redis cannot be reached, or the guard stayed taken ``GUARD_SECONDS``.
    """
    with client() as redis_client:
        held = redis_client.lock(_key("train-guard", store_root), timeout=GUARD_SECONDS,
                                 blocking_timeout=GUARD_SECONDS)
        if not held.acquire():
            raise TimeoutError("the training guard stayed taken")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing left to release
                held.release()


def read(store_root: object) -> dict[str, Any] | None:
    """Return the lock's JSON record, or None when no job holds the store (or the key expired)."""
    with client() as redis_client:
        raw = redis_client.get(_key("train-lock", store_root))
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def acquire(store_root: object, record: dict[str, Any], seconds: float) -> bool:
    """Take the lock for ``record`` if no one holds it (``SET NX`` with an expiry); return True when taken."""
    with client() as redis_client:
        return bool(redis_client.set(_key("train-lock", store_root), json.dumps(record), nx=True,
                                     px=int(seconds * 1000)))


def replace(store_root: object, record: dict[str, Any], seconds: float) -> None:
    """Overwrite the lock with ``record`` (its holder changes: the caller, then the supervisor)."""
    with client() as redis_client:
        redis_client.set(_key("train-lock", store_root), json.dumps(record), px=int(seconds * 1000))


def refresh(store_root: object, record: dict[str, Any], seconds: float) -> None:
    """Extend the lock held for ``record``'s run; take it again if Redis lost it (a restart without persistence)."""
    key = _key("train-lock", store_root)
    with client() as redis_client:
        current = redis_client.get(key)
        if current is None:
            redis_client.set(key, json.dumps(record), nx=True, px=int(seconds * 1000))
            return
        with contextlib.suppress(ValueError, TypeError):
            if json.loads(current).get("run_id") == record.get("run_id"):
                redis_client.pexpire(key, int(seconds * 1000))


def drop(store_root: object, run_id: str) -> None:
    """Delete the lock if it is ``run_id``'s, and that run's cancel request and state."""
    key = _key("train-lock", store_root)
    with client() as redis_client:
        current = redis_client.get(key)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if current and json.loads(current).get("run_id") == run_id:
                redis_client.delete(key)
        redis_client.delete(_key("train-cancel", store_root, run_id), _key("train-state", store_root, run_id))


def request_cancel(store_root: object, run_id: str) -> None:
    """Ask the supervisor of ``run_id`` (on whatever machine) to stop it."""
    with client() as redis_client:
        redis_client.set(_key("train-cancel", store_root, run_id), "1", ex=KEYS_SECONDS)


def cancel_requested(store_root: object, run_id: str) -> bool:
    """Return True when someone asked ``run_id`` to stop."""
    with client() as redis_client:
        return bool(redis_client.exists(_key("train-cancel", store_root, run_id)))


def write_state(store_root: object, run_id: str, state: dict[str, Any]) -> None:
    """Record the supervisor's state of ``run_id`` (trainer pid, when training began)."""
    with client() as redis_client:
        redis_client.set(_key("train-state", store_root, run_id), json.dumps(state), ex=KEYS_SECONDS)


def read_state(store_root: object, run_id: str) -> dict[str, Any]:
    """Return the supervisor's state of ``run_id``, or {}."""
    with client() as redis_client:
        raw = redis_client.get(_key("train-state", store_root, run_id))
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
