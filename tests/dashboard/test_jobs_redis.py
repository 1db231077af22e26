"""The job API with an S3 store and REDIS_URL (issue 15): the lock, cancel and state live in Redis.

The trainer is the stand-in of ``test_jobs`` (no TensorFlow); the store is a prefix on moto's
S3 server and Redis a real ``redis-server``. "Another machine" is this process with another
``CNNVIZ_JOBS_DIR``: it has none of the job's local files.
"""

from __future__ import annotations

import os
import signal
import threading

import psutil
import pytest
import redis

from artifacts import ArtifactStore
from dashboard.training import jobs, lock, redis_lock
from tests.dashboard.test_jobs import config, running_epoch, stand_in, wait_until  # noqa: F401 - fixture
from tests.support.s3 import s3_server  # noqa: F401 - the session fixture


@pytest.fixture
def store(s3_server, redis_url, tmp_path, monkeypatch):  # noqa: F811
    """An empty S3 store whose lock lives in Redis; a job still running at the end is cancelled."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv(lock.JOBS_DIR_ENV, str(tmp_path / "worker-machine"))
    store = ArtifactStore(s3_server.url())
    assert lock.shared(store)
    yield store
    held = jobs.current(store)
    if held is not None:
        jobs.cancel(store)
        jobs.wait(store, held.run_id, timeout=30, interval=0.2)


def lock_key_ttl(store: ArtifactStore) -> int:
    return redis.Redis.from_url(os.environ["REDIS_URL"]).ttl(redis_lock._key("train-lock", store.root))


def test_a_job_on_s3_runs_under_a_redis_lock_with_an_expiry(store, stand_in, tmp_path):  # noqa: F811
    run_id = jobs.start(config(3), "mnist-sample", store, limit=300, command=stand_in("ok"))
    assert jobs.current(store).run_id == run_id
    assert 0 < lock_key_ttl(store) <= lock.STALE_SECONDS  # a dead holder frees the store by itself
    assert not (tmp_path / "worker-machine").exists() or not any(
        path.name == "lock.json" for path in (tmp_path / "worker-machine").rglob("*"))
    final = jobs.wait(store, run_id, timeout=60, interval=0.2)
    assert final.status == "complete" and list(final.history["epoch"]) == [1, 2, 3]
    assert jobs.current(store) is None
    wait_until(lambda: lock_key_ttl(store) == -2, 20)  # the supervisor, done, deletes the key


def test_cancel_from_another_machine_reaches_the_job(store, stand_in, tmp_path, monkeypatch):  # noqa: F811
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    running_epoch(store, run_id)
    monkeypatch.setenv(lock.JOBS_DIR_ENV, str(tmp_path / "web-machine"))  # no job folder here
    assert jobs.cancel(store, run_id) is True
    final = jobs.wait(store, run_id, timeout=40, interval=0.2)
    assert final.status == "cancelled"
    assert jobs.current(store) is None


def test_two_starts_at_once_run_one_job(store, stand_in):  # noqa: F811
    barrier = threading.Barrier(2)
    outcomes = []

    def start():
        barrier.wait()
        try:
            outcomes.append(("started", jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))))
        except jobs.TrainingBusy as busy:
            outcomes.append(("busy", busy.run_id))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kind for kind, _ in outcomes) == ["busy", "started"]
    assert outcomes[0][1] == outcomes[1][1] == jobs.current(store).run_id


def test_a_killed_job_is_found_failed_from_another_machine(store, stand_in, tmp_path, monkeypatch):  # noqa: F811
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    running_epoch(store, run_id)
    held = jobs.current(store)
    trainer = store.run(run_id).heartbeat()["pid"]
    for pid in (held.pid, trainer):  # the worker's machine stops: supervisor and trainer at once
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE
                           for p in (held.pid, trainer)), 10)
    monkeypatch.setenv(lock.JOBS_DIR_ENV, str(tmp_path / "web-machine"))
    job = jobs.poll(store, run_id)  # what the Train page's follow callback asks on the web machine
    assert job.status == "failed" and "stopped" in job.error
    assert jobs.current(store) is None
    # The store is free again: the next training starts.
    next_run = jobs.start(config(1), "mnist-sample", store, command=stand_in("ok"))
    assert jobs.wait(store, next_run, timeout=60, interval=0.2).status == "complete"
