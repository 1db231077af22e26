"""The job API: start a training, cancel it, follow it, and ask which one runs.

Plain Python, no Dash, so the same code serves the Train page, a Celery worker and
the tests. One job at a time per store (:mod:`dashboard.training.lock`); each job is a
detached supervisor process (:mod:`dashboard.training.supervisor`) that runs
``python -m pipeline train`` and records how it ended.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pandas as pd

from artifacts import ArtifactError, ArtifactStore, Metrics, Phase, Progress, RunExistsError, RunNotFound, Status
from artifacts.config import TrainConfig
from artifacts.io import write_json
from artifacts.records import timestamp
from dashboard.training import lock, supervisor
from dashboard.training.lock import JOBS_DIR, STALE_SECONDS
from dashboard.training.supervisor import reap_stale

__all__ = ["JOBS_DIR", "STALE_SECONDS", "JobState", "JobStatus", "TrainingBusy", "cancel", "current", "new_run_id",
           "poll", "reap_stale", "start", "wait"]

PIPELINE_COMMAND = (sys.executable, "-m", "pipeline")
STDERR_LINES = 20


class TrainingBusy(RuntimeError):
    """Another training holds the store's lock; ``run_id`` is the one running."""

    def __init__(self, run_id: str):
        super().__init__(f"training {run_id!r} is already running in this store")
        self.run_id = run_id


class JobState(StrEnum):
    """What a job is when its run cannot be read: still starting (it holds the lock), or gone."""

    STARTING = Phase.STARTING.value
    MISSING = "missing"


@dataclass
class JobStatus:
    """What the Train page shows about one run, read from the store.

    ``status`` is the run's :class:`Status`, or a :class:`JobState` before (or without) a
    readable run; ``phase`` is the progress record's :class:`Phase` (None before the first).
    Plain strings given for either are typed on construction.
    """

    run_id: str
    status: Status | JobState
    active: bool = False  # a job for this run still holds the lock
    phase: Phase | None = None
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    elapsed: float | None = None
    remaining: float | None = None
    error: str = ""
    stderr_tail: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self):
        self.status = Status(self.status) if self.status in set(Status) else JobState(self.status)
        self.phase = Phase(self.phase) if self.phase else None

    @property
    def finished(self) -> bool:
        """True when the run reached its final status and no job works on it any more."""
        return not self.active and self.status not in (JobState.STARTING, Status.RUNNING)

    @property
    def fraction(self) -> float:
        """Share of the training done, 0 to 1, from epochs and batches."""
        if self.status is Status.COMPLETE:
            return 1.0
        if not self.epochs:
            return 0.0
        within = self.batch / self.batches if self.batches else 0.0
        done = max(self.epoch - 1, 0) + (within if self.epoch else 0.0)
        return min(max(done / self.epochs, 0.0), 1.0)


def new_run_id() -> str:
    """Return a fresh, sortable run id such as ``20261122-143005-a1b2`` (the pipeline's format)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def current(store: ArtifactStore, stale_after: float = STALE_SECONDS) -> lock.LockRecord | None:
    """Return the running job's lock record (its ``run_id``, supervisor ``pid`` and ``host``, ``started``), or None."""
    return lock.live_lock(store, stale_after)


# -- start, cancel ---------------------------------------------------------------


def start(
    config: TrainConfig,
    dataset: str,
    store: ArtifactStore,
    *,
    limit: int | None = None,
    run_id: str | None = None,
    command: Sequence[str] = PIPELINE_COMMAND,
) -> str:
    """Start training ``config`` on ``dataset`` into ``store``; return the new run's id at once.

    Args:
        config: a validated configuration.
        dataset: a pipeline data source (``mnist-sample``, ``mnist``, ``idx:DIR``...).
        store: where the run goes.
        limit: train on only the first ``limit`` digits (quick runs, tests).
        run_id: the run's id; time-based when None.
        command: the trainer's command before ``train ...``; tests pass a stand-in.

    Raises:
        TrainingBusy: another job runs in this store (its run id is on the exception).
        InvalidRunId: ``run_id`` is not acceptable; RunExistsError: it is taken.
        OSError: the store cannot be written or the supervisor cannot start.
    """
    run_id = run_id or new_run_id()
    job_dir = lock.job_dir(store, run_id)
    if store.exists(run_id):
        raise RunExistsError(f"run {run_id!r} already exists in {store.root}")
    reap_stale(store)
    with lock.guard(store):
        held = lock.read_lock(store)
        if held is not None and lock.job_alive(store, held, STALE_SECONDS):
            raise TrainingBusy(held.run_id)
        if held is not None:  # a dead job's lock (reap_stale has recorded how it ended)
            lock.release(store, held.run_id)
        shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True)
        write_json(job_dir / "config.json", config.to_dict())
        supervisor.JobSpec(run_id, str(store.root), dataset, limit, [str(part) for part in command],
                           config.to_dict()).write(job_dir)
        # Our own pid holds the lock until the supervisor replaces it with its own.
        if not lock.take(store, run_id, os.getpid()):
            held = lock.read_lock(store)
            raise TrainingBusy(held.run_id if held else "another run")
        try:
            pid = supervisor.launch(job_dir, own_session=not lock.shared(store))
        except (OSError, ValueError):
            lock.release(store, run_id)
            raise
        # Taken after the launch, so the supervisor's creation time is never later (see lock.pid_alive).
        lock.write_lock(store, run_id, pid)
    return run_id


def cancel(store: ArtifactStore, run_id: str | None = None) -> bool:
    """Ask the running job to stop (its run ends ``cancelled``); return True when one was asked.

    Args:
        run_id: cancel only if this run is the one running; None cancels whichever runs.
    """
    held = current(store)
    if held is None or (run_id is not None and held.run_id != run_id):
        return False
    if not lock.request_cancel(store, held.run_id):
        return False
    if not lock.lock_alive(store, held, STALE_SECONDS):  # no supervisor to relay it: signal the trainer
        trainer = supervisor.read_state(store, held.run_id).get("trainer_pid")
        if lock.pid_alive(trainer, held.host):
            with contextlib.suppress(OSError):
                os.kill(trainer, signal.SIGTERM)
    return True


# -- following a run ---------------------------------------------------------------


def poll(store: ArtifactStore, run_id: str) -> JobStatus:
    """Return what is known about ``run_id`` now; never raises for a missing or broken run.

    A run left ``running`` by a job that is gone (a worker killed on another machine: its lock
    expired and its heartbeat stopped) is marked failed here, so the web side records it too.
    """
    held = current(store)
    active = held is not None and held.run_id == run_id
    try:
        run = store.run(run_id)
        manifest = run.info()
        if (manifest.status is Status.RUNNING and not active
                and not lock.trainer_alive(store, run_id, STALE_SECONDS)):
            with contextlib.suppress(Exception):  # Redis away: recorded by the next poll
                reap_stale(store)
            manifest = run.info()
    except (RunNotFound, ArtifactError, ValueError):
        state = JobState.STARTING if active else JobState.MISSING
        elapsed = time.time() - held.started if active and isinstance(held.started, (int, float)) else None
        return JobStatus(run_id, state, active, phase=Phase.STARTING, elapsed=elapsed)
    job = JobStatus(run_id, manifest.status, active, error=manifest.error or "", metrics=manifest.metrics,
                    epochs=manifest.planned_epochs or 0)
    with contextlib.suppress(ArtifactError, ValueError, TypeError):
        progress = run.progress_info() or Progress()
        job.phase = progress.phase
        job.epoch = progress.epoch
        job.batch = progress.batch or 0
        job.batches = progress.batches or 0
    with contextlib.suppress(ArtifactError):
        job.history = run.history()
    created = timestamp(manifest.created)
    end = timestamp(manifest.finished) if job.status is not Status.RUNNING else time.time()
    if created is not None and end is not None:
        job.elapsed = max(end - created, 0.0)
    if job.status is Status.RUNNING:
        job.remaining = _remaining(job, supervisor.read_state(store, run_id).get("training_started"))
    if job.status in (Status.FAILED, Status.CANCELLED):
        job.stderr_tail = run.stderr_tail(STDERR_LINES)
    return job


def wait(store: ArtifactStore, run_id: str, timeout: float | None = None, interval: float = 0.5,
         on_poll=None) -> JobStatus:
    """Poll ``run_id`` until it is finished; return its last status.

    Args:
        on_poll: called with each :class:`JobStatus` (e.g. to report progress).
        timeout: seconds; the last status is returned when they run out.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception) if lock.shared(store) else contextlib.nullcontext():
            reap_stale(store)  # in Redis, a moment without it must not end the following
        job = poll(store, run_id)
        if on_poll is not None:
            on_poll(job)
        if job.finished or (deadline is not None and time.monotonic() >= deadline):
            return job
        time.sleep(interval)


def _remaining(job: JobStatus, training_started: Any) -> float | None:
    """Estimate the seconds left from the pace of training so far (None until it can be told)."""
    done = job.fraction
    if not isinstance(training_started, (int, float)) or done <= 0.02:
        return None
    spent = time.time() - training_started
    return max(spent / done * (1.0 - done), 0.0)
