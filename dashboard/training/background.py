"""The background-callback manager: Diskcache on one machine, Celery when REDIS_URL is set.

Also the secret that signs background-callback handles. Dash (>= 4.4.1) signs the job
id and cache key it gives the browser with the Flask ``secret_key`` when one is set,
else with a random secret it tries to keep in the result store; when that store is
unreachable at the first request (Redis down) each web worker keeps a random secret of
its own, and a poll answered by another worker never gets its outcome. So the app
always sets ``secret_key`` from :func:`signing_secret`, a value every worker agrees on.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from dashboard.settings import Settings

log = logging.getLogger(__name__)
REDIS_CHECK_SECONDS = 2.0  # how long a Train press waits to learn that Redis is unreachable
SECRET_FILE = "signing-secret"
# Set in Redis beside each queued press. Redis without persistence loses both the queued
# message and this marker when it restarts: a press still pending without its marker was lost.
QUEUED_MARKER = "cnnviz:queued:{}"
QUEUED_MARKER_SECONDS = 7 * 24 * 3600
# When a pending press was first seen without its marker (Redis server time). It is called
# lost only once that has lasted LOST_GRACE_SECONDS: a training whose Redis restarted under it
# releases the store's lock a moment before its worker writes the result, and must not be
# called lost in that moment.
SUSPECT_MARKER = "cnnviz:suspect-lost:{}"
LOST_GRACE_SECONDS = 5.0
INSPECT_SECONDS = 1.0  # how long to wait for workers to say whether they hold a press
LOST_MESSAGE = ("The training queue lost this request: Redis restarted before a worker took it, so nothing was "
                "trained. Press Train again.")


class TrainingQueueUnavailable(RuntimeError):
    """The training queue (Redis) cannot be reached; ``str(error)`` is the message for the page."""


def make_manager(settings: Settings):
    """Return a Dash background callback manager for ``settings``.

    A :class:`CheckedCeleryManager` (Redis broker and result backend) when
    ``settings.redis_url`` is set, else ``DiskcacheManager`` in ``settings.cache_dir``.
    """
    if settings.redis_url:
        from dashboard.training.celery_app import make_celery

        return _checked_celery_manager_class()(make_celery(settings.redis_url), redis_url=settings.redis_url,
                                               store_root=settings.store_root)
    import diskcache
    from dash import DiskcacheManager

    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(settings.cache_dir)))


def signing_secret(settings: Settings) -> str:
    """Return the secret that signs background-callback handles; the same in every web worker.

    ``CNNVIZ_SECRET_KEY`` when set. Otherwise, with Celery (web workers may be on several
    machines; all share Redis and the store), a value derived from ``REDIS_URL`` and the
    store path: shared, but only as secret as the Redis URL, so set ``CNNVIZ_SECRET_KEY``
    in production. With Diskcache (one machine), a random secret created once in the
    cache folder (mode 0600) that every worker reads back.

    Raises:
        OSError: the cache folder cannot be written (Diskcache mode only).
    """
    if settings.secret_key:
        return settings.secret_key
    if settings.redis_url:
        shared = f"{settings.redis_url}\0{settings.store_root.resolve()}".encode()
        return hmac.new(b"cnnviz background-callback signing", shared, hashlib.sha256).hexdigest()
    return _secret_file(settings.cache_dir / SECRET_FILE)


def _secret_file(path: Path) -> str:
    """Return the secret in ``path``, creating it atomically (first worker wins) when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a private name, then hard-linked: a reader never sees half a secret,
        # and link fails when another worker got there first.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def _redis_client(redis_url: str, timeout: float = REDIS_CHECK_SECONDS):
    import redis

    return redis.Redis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry_on_timeout=False)


def redis_reachable(redis_url: str, timeout: float = REDIS_CHECK_SECONDS) -> bool:
    """Return True when the Redis at ``redis_url`` answers PING within ``timeout`` seconds."""
    import redis

    client = _redis_client(redis_url, timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _checked_celery_manager_class():
    """Return the CeleryManager subclass (built on first use: the web process imports Celery only then)."""
    from dash import CeleryManager

    class CheckedCeleryManager(CeleryManager):
        """A CeleryManager that says when Redis is unreachable instead of hanging or failing blind.

        Before a press is queued Redis is pinged with a short timeout; any Redis error
        while queuing or following a job becomes :class:`TrainingQueueUnavailable`, which
        the Train callback's ``on_error`` turns into a message on the page.
        """

        def __init__(self, celery_app, redis_url: str, store_root: Path, **kwargs):
            super().__init__(celery_app, **kwargs)
            self.redis_url = redis_url
            self.store_root = store_root
            # The job whose result this request thread just read: Dash asks job_running
            # after get_result, and a press that has its result is never lost.
            self._answered = threading.local()

        def call_job_fn(self, key, job_fn, args, context):
            started = time.monotonic()
            if not redis_reachable(self.redis_url):
                raise TrainingQueueUnavailable(
                    "Training queue unavailable: Redis not reachable, so the training was not queued. "
                    "Try again in a moment; if it persists, the server's Redis needs attention.")
            try:
                task_id = super().call_job_fn(key, job_fn, args, context)
                with _redis_client(self.redis_url) as client:
                    client.set(QUEUED_MARKER.format(task_id), "1", ex=QUEUED_MARKER_SECONDS)
                return task_id
            except Exception as error:  # kombu and redis raise many types for one lost connection
                log.warning("queuing a background job failed after %.1f s: %s", time.monotonic() - started, error)
                raise TrainingQueueUnavailable(
                    "Training queue unavailable: the training could not be queued "
                    f"({type(error).__name__}). Try again in a moment.") from error

        def get_progress(self, key):
            return self._following(super().get_progress, key)

        def get_result(self, key, job):
            result = self._following(super().get_result, key, job)
            self._answered.job = job if result is not self.UNDEFINED else None
            return result

        def job_running(self, job):
            running = self._following(super().job_running, job)
            if running and getattr(self._answered, "job", None) != job and self._following(self._lost, job):
                log.warning("Train press %s: lost by the queue (Redis restarted before a worker took it)", job)
                with contextlib.suppress(Exception):  # should its message ever come back, no worker runs it
                    self.handle.control.revoke(job)
                raise TrainingQueueUnavailable(LOST_MESSAGE)
            return running

        def _lost(self, job) -> bool:
            """True when ``job`` never started and Redis no longer knows it was queued.

            A task a worker took is STARTED (``task_track_started``) or further. If Redis restarts
            after a worker took it, its state reads PENDING again, but then a training holds the
            store's lock (or, for a moment after it ends, its result is on its way: hence the
            grace), or a worker still holds the task (asked last, as it takes a second).
            """
            if self.handle.AsyncResult(job).state != "PENDING":
                return False
            from artifacts import ArtifactStore
            from dashboard.training import jobs

            with _redis_client(self.redis_url) as client:
                if client.exists(QUEUED_MARKER.format(job)):
                    return False
                if jobs.current(ArtifactStore(self.store_root)) is not None:
                    client.delete(SUSPECT_MARKER.format(job))
                    return False
                seconds, micros = client.time()
                now = seconds + micros / 1e6
                client.set(SUSPECT_MARKER.format(job), repr(now), nx=True, ex=QUEUED_MARKER_SECONDS)
                since = float(client.get(SUSPECT_MARKER.format(job)) or now)
            if now - since < LOST_GRACE_SECONDS:
                return False
            held = self.handle.control.inspect(timeout=INSPECT_SECONDS).query_task(job) or {}
            return not any(job in (tasks or {}) for tasks in held.values())

        def get_updated_props(self, key):
            return self._following(super().get_updated_props, key)

        @staticmethod
        def _following(method, *args):
            try:
                return method(*args)
            except TrainingQueueUnavailable:
                raise
            except Exception as error:  # a Redis error while following a job
                raise TrainingQueueUnavailable(
                    "Lost contact with the training queue (Redis not reachable). A training already "
                    "started goes on; its progress is still shown from the store.") from error

    return CheckedCeleryManager
