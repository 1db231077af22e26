"""The supervisor: a detached process that runs one ``python -m pipeline train`` and records how it ended.

``python -m dashboard.training.supervisor JOB_DIR`` is launched by
:func:`dashboard.training.jobs.start` detached from the caller: a Dash background job
that is cancelled or killed (DiskcacheManager SIGKILLs the job and its children)
cannot take training down with it. The supervisor starts the trainer, turns a cancel
request into SIGTERM (the pipeline then marks the run ``cancelled``), and when the
trainer exits without finishing the run (a crash, SIGKILL) marks it ``failed`` with
the last lines of its error output. :func:`reap_stale` covers the supervisor itself
dying: a run left ``running`` whose heartbeat has stopped is marked failed and a dead
job's lock is released.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from artifacts import ArtifactError, ArtifactStore, DatasetInfo, Phase, RunNotFound, Status, backend
from artifacts.format import KEY_CONFIG, KEY_DATASET
from artifacts.io import atomic_write, read_json, write_json
from dashboard.training import lock, redis_lock

CHECKOUT = Path(__file__).resolve().parents[2]
MODULE = "dashboard.training.supervisor"
POLL_SECONDS = 0.25  # how often the supervisor looks at its trainer
CANCEL_CHECK_SECONDS = 1.0  # and at the cancel request (in Redis for a worker's job) and the run's progress
CANCEL_GRACE_SECONDS = 30.0  # SIGTERM first; SIGKILL when the trainer ignores it this long
CHILD_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
JOB_FILE = "job.json"


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """What a supervisor runs (its job folder's job.json): the trainer command and where its run goes."""

    run_id: str
    store: str
    dataset: str
    limit: int | None
    command: list[str]
    config: dict[str, Any]

    def write(self, job_dir: Path) -> None:
        """Write the spec into ``job_dir``."""
        write_json(job_dir / JOB_FILE, dataclasses.asdict(self))

    @classmethod
    def read(cls, job_dir: Path) -> JobSpec | None:
        """Return the spec in ``job_dir``, or None when it is missing or not one."""
        try:
            return cls(**read_json(job_dir / JOB_FILE, lock.JOBS_DIR))
        except (ArtifactError, TypeError):
            return None


def launch(job_dir: Path, own_session: bool = True) -> int:
    """Start the supervisor of ``job_dir`` as a grandchild in its own session (reparented to init); return its pid.

    The shell forks the supervisor into the background and exits, so the caller's
    process tree (which Dash kills on cancel) does not contain it.

    Args:
        own_session: False for a job whose lock lives in Redis (a Celery worker's job): the
            supervisor stays in the worker's process group, so it ends with the worker's
            machine (a stopped dyno takes its group down) and the run is then found failed.

    Raises:
        OSError, subprocess.SubprocessError, ValueError: the supervisor could not be started.
    """
    script = '"$@" </dev/null >"$LOG" 2>&1 & echo $!'
    env = dict(os.environ, LOG=str(job_dir / "supervisor.log"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH", "")]))
    argv = [sys.executable, "-m", MODULE, str(job_dir)]
    out = subprocess.run(["sh", "-c", script, "sh", *argv], cwd=CHECKOUT, env=env, capture_output=True,
                         text=True, timeout=30, check=True, start_new_session=own_session)
    return int(out.stdout.strip())


def supervise(job_dir: Path) -> int:
    """Run one job to its end: start the trainer, relay a cancel, record how it ended; return its exit code."""
    job = JobSpec.read(job_dir)
    if job is None:
        raise SystemExit(f"no readable {JOB_FILE} in {job_dir}")
    store = ArtifactStore(job.store)
    run_id = job.run_id
    argv = [*job.command, "train", "--config", str(job_dir / "config.json"), "--dataset", job.dataset,
            "--run-id", run_id, "--store", str(store.root), "--quiet"]
    if job.limit:
        argv += ["--limit", str(int(job.limit))]
    env = dict(os.environ, **CHILD_ENV)
    with open(job_dir / "stderr.log", "wb") as stderr:
        trainer = subprocess.Popen(argv, cwd=CHECKOUT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    _write_state(store, job_dir, run_id, {"trainer_pid": trainer.pid})
    holder = lock.LockRecord(run_id, os.getpid(), socket.gethostname(), _started())
    cancel_sent: float | None = None
    training_started = None
    last_beat = last_cancel_check = last_progress_check = 0.0
    while True:
        try:
            code = trainer.wait(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if cancel_sent is None and now - last_cancel_check >= CANCEL_CHECK_SECONDS:
            last_cancel_check = now
            if lock.cancel_requested(store, run_id):
                trainer.send_signal(signal.SIGTERM)
                cancel_sent = now
        elif cancel_sent is not None and now - cancel_sent > CANCEL_GRACE_SECONDS:
            trainer.kill()
        if training_started is None and now - last_progress_check >= CANCEL_CHECK_SECONDS:
            last_progress_check = now
            training_started = _training_started(store, run_id)
            if training_started is not None:
                _write_state(store, job_dir, run_id, {"trainer_pid": trainer.pid,
                                                      "training_started": training_started})
        if now - last_beat > 2.0:
            last_beat = now
            lock.beat(store, holder)
    try:
        with lock.guard(store):
            finalize(store, run_id, _describe_exit(code), cancelled=cancel_sent is not None)
            lock.release(store, run_id)
    except Exception:
        if not lock.shared(store):
            raise
        # Redis unreachable: record how the run ended all the same (its lock expires by itself).
        finalize(store, run_id, _describe_exit(code), cancelled=cancel_sent is not None)
    return code


def _write_state(store: ArtifactStore, job_dir: Path, run_id: str, state: dict[str, Any]) -> None:
    write_json(job_dir / "state.json", state)
    if lock.shared(store):  # the web, on another machine, reads it from Redis
        with contextlib.suppress(Exception):
            redis_lock.write_state(store.root, run_id, state)


def _started() -> float:
    try:
        return psutil.Process().create_time()
    except psutil.Error:
        return time.time()


def read_state(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    """Return what the supervisor recorded about its trainer (``trainer_pid``, ``training_started``), or {}."""
    if lock.shared(store):
        try:
            return redis_lock.read_state(store.root, run_id)
        except Exception:  # Redis unreachable: the page shows no estimate
            return {}
    try:
        data = read_json(lock.job_dir(store, run_id) / "state.json", lock.JOBS_DIR)
    except (ArtifactError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reap_stale(store: ArtifactStore, stale_after: float = lock.STALE_SECONDS) -> list[str]:
    """Mark failed every run left ``running`` by a process that is gone; release a dead job's lock.

    A run is stale when its heartbeat names a dead process on this host, or (for
    another host) when the heartbeat is older than ``stale_after`` seconds.

    Returns:
        The ids of the runs marked failed.
    """
    reaped: list[str] = []
    with lock.guard(store):
        held = lock.read_lock(store)
        if held is not None and not lock.job_alive(store, held, stale_after):
            if finalize(store, held.run_id, "its training process stopped without finishing the run"):
                reaped.append(held.run_id)
            lock.release(store, held.run_id)
            held = None
    live = held.run_id if held else None
    for summary in store.summaries():
        run_id = summary.run_id
        if summary.status is not Status.RUNNING or run_id == live:
            continue
        if not lock.trainer_alive(store, run_id, stale_after):
            if finalize(store, run_id, "its training process stopped without finishing it"):
                reaped.append(run_id)
    return reaped


def finalize(store: ArtifactStore, run_id: str, reason: str, cancelled: bool = False) -> bool:
    """Record how a job ended when its trainer did not: copy stderr in, mark failed or cancelled.

    A run that finished by itself is left exactly as it is (``complete`` stays the
    last write of a complete run). Returns True when the run was marked here. On S3
    the run's state is asked of the store itself, never of a listing kept a moment.
    """
    with backend.fresh():
        return _finalize(store, run_id, reason, cancelled)


def _finalize(store: ArtifactStore, run_id: str, reason: str, cancelled: bool) -> bool:
    folder = lock.jobs_root(store) / run_id
    stderr = folder / "stderr.log"
    try:
        if store.exists(run_id):
            run = store.run(run_id)
            status = run.info().status
        else:  # the trainer died before creating its run: record the failure so the user sees it
            job = JobSpec.read(folder)
            if job is None:
                return False
            dataset = DatasetInfo(source=str(job.dataset))
            run = store.create_run(run_id, {KEY_CONFIG: job.config or {}, KEY_DATASET: dataset.to_dict()})
            status = Status.RUNNING
    except (ArtifactError, OSError, ValueError):
        return False
    if status is Status.COMPLETE:
        return False
    if stderr.is_file():
        data = stderr.read_bytes()[-64_000:]
        with contextlib.suppress(OSError):
            atomic_write(run.stderr_path, lambda handle: handle.write(data))
    if status is not Status.RUNNING:
        return False
    cause = run.failure_cause()  # the real cause, not TensorFlow's last log line
    detail = f": {cause}" if cause else ""
    with contextlib.suppress(ArtifactError, OSError):
        if cancelled:
            run.finish(Status.CANCELLED, error=f"cancelled: {reason}")
        else:
            run.finish(Status.FAILED, error=f"training stopped: {reason}{detail}")
        return True
    return False


def _training_started(store: ArtifactStore, run_id: str) -> float | None:
    """Return when training proper began (first batch progress), or None before."""
    with contextlib.suppress(RunNotFound, ArtifactError, ValueError):
        progress = store.run(run_id).progress_info()
        if progress is not None and progress.phase is Phase.TRAINING:
            return progress.updated or time.time()
    return None


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed by {name}"
    return f"the training process exited with status {code}"


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
