"""Training jobs: run the pipeline as its own process, follow it through the store, cancel it, clean up.

Plain Python, no Dash, so the same code serves the Train page, a Celery worker and
the tests. One job at a time per store. Its files live in a hidden folder of the
store root (hidden names are never runs):

    .training/guard           flock'd while the lock is read or changed
    .training/lock.json       the running job: run_id, supervisor pid, host, started
    .training/<run_id>/       job.json (what to run), config.json, stderr.log, cancel, state.json

``start`` takes the lock and launches a *supervisor* (``python -m dashboard.training.jobs
JOB_DIR``) detached from the caller: a Dash background job that is cancelled or
killed (DiskcacheManager SIGKILLs the job and its children) cannot take training
down with it. The supervisor starts ``python -m pipeline train ...``, turns a
cancel request into SIGTERM (the pipeline then marks the run ``cancelled``),
and when the trainer exits without finishing the run (a crash, SIGKILL) marks it
``failed`` with the last lines of its error output. ``reap_stale`` covers the
supervisor itself dying: a run left ``running`` whose heartbeat has stopped is
marked failed and a dead job's lock is released.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from artifacts import ArtifactError, ArtifactStore, RunExistsError, RunNotFound
from artifacts.config import TrainConfig
from artifacts.format import STATUS_CANCELLED, STATUS_COMPLETE, STATUS_FAILED, STATUS_RUNNING
from artifacts.io import atomic_write, read_json, write_json

CHECKOUT = Path(__file__).resolve().parent.parent
JOBS_DIR = ".training"
PIPELINE_COMMAND = (sys.executable, "-m", "pipeline")
STALE_SECONDS = 30.0  # six missed heartbeats (the pipeline beats every 5 s)
POLL_SECONDS = 0.25  # how often the supervisor looks at its trainer and the cancel request
CANCEL_GRACE_SECONDS = 30.0  # SIGTERM first; SIGKILL when the trainer ignores it this long
STDERR_LINES = 20
CHILD_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


class TrainingBusy(RuntimeError):
    """Another training holds the store's lock; ``run_id`` is the one running."""

    def __init__(self, run_id: str):
        super().__init__(f"training {run_id!r} is already running in this store")
        self.run_id = run_id


@dataclass
class JobStatus:
    """What the Train page shows about one run, read from the store."""

    run_id: str
    status: str  # starting, running, complete, failed, cancelled, missing
    active: bool = False  # a job for this run still holds the lock
    phase: str = ""
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    elapsed: float | None = None
    remaining: float | None = None
    error: str = ""
    stderr_tail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def finished(self) -> bool:
        """True when the run reached its final status and no job works on it any more."""
        return not self.active and self.status not in ("starting", STATUS_RUNNING)

    @property
    def fraction(self) -> float:
        """Share of the training done, 0 to 1, from epochs and batches."""
        if self.status == STATUS_COMPLETE:
            return 1.0
        if not self.epochs:
            return 0.0
        within = self.batch / self.batches if self.batches else 0.0
        done = max(self.epoch - 1, 0) + (within if self.epoch else 0.0)
        return min(max(done / self.epochs, 0.0), 1.0)


# -- the lock ------------------------------------------------------------------


def new_run_id() -> str:
    """Return a fresh, sortable run id such as ``20261122-143005-a1b2`` (the pipeline's format)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _jobs_root(store: ArtifactStore) -> Path:
    return store.root / JOBS_DIR


def _job_dir(store: ArtifactStore, run_id: str) -> Path:
    store._run_dir(run_id)  # validates the id the same way the store does
    return _jobs_root(store) / run_id


@contextlib.contextmanager
def _guard(store: ArtifactStore) -> Iterator[None]:
    """Hold the store's guard: every read-modify-write of the lock happens inside it.

    flock belongs to the open file, so threads, processes and gunicorn workers all
    exclude each other, and the kernel releases it when a holder dies.
    """
    root = _jobs_root(store)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "guard", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_lock(store: ArtifactStore) -> dict[str, Any] | None:
    path = _jobs_root(store) / "lock.json"
    try:
        data = read_json(path, JOBS_DIR)
    except ArtifactError:
        return None
    return data if isinstance(data, dict) and "run_id" in data else None


def _pid_alive(pid: Any, host: Any, since: float | None = None) -> bool | None:
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


def _lock_alive(store: ArtifactStore, lock: dict[str, Any], stale_after: float) -> bool:
    alive = _pid_alive(lock.get("pid"), lock.get("host"), lock.get("started"))
    if alive is None:  # supervisor on another host: trust its beat on the lock file
        try:
            age = time.time() - (_jobs_root(store) / "lock.json").stat().st_mtime
        except OSError:
            return False
        return age < stale_after
    return alive


def _job_alive(store: ArtifactStore, lock: dict[str, Any], stale_after: float) -> bool:
    # A run that reached its final status frees the store at once, although its trainer may
    # spend seconds more shutting TensorFlow down; a trainer whose supervisor died still trains.
    if _run_finished(store, lock["run_id"]):
        return False
    return _lock_alive(store, lock, stale_after) or _trainer_alive(store, lock["run_id"], stale_after)


def _run_finished(store: ArtifactStore, run_id: str) -> bool:
    try:
        return store.run(run_id).status() != STATUS_RUNNING
    except (RunNotFound, ArtifactError, ValueError):
        return False


def current(store: ArtifactStore, stale_after: float = STALE_SECONDS) -> dict[str, Any] | None:
    """Return the running job's lock record (``run_id``, ``pid``, ``host``, ``started``), or None."""
    lock = _read_lock(store)
    if lock is None or not _job_alive(store, lock, stale_after):
        return None
    return lock


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
    job_dir = _job_dir(store, run_id)
    if store.exists(run_id):
        raise RunExistsError(f"run {run_id!r} already exists in {store.root}")
    reap_stale(store)
    with _guard(store):
        lock = _read_lock(store)
        if lock is not None and _job_alive(store, lock, STALE_SECONDS):
            raise TrainingBusy(lock["run_id"])
        shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.mkdir(parents=True)
        write_json(job_dir / "config.json", config.to_dict())
        write_json(job_dir / "job.json", {
            "run_id": run_id, "store": str(store.root), "dataset": dataset, "limit": limit,
            "command": [str(part) for part in command], "config": config.to_dict(),
        })
        # Our own pid holds the lock until the supervisor replaces it with its own.
        write_json(_jobs_root(store) / "lock.json",
                   {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        try:
            pid = _launch_detached([sys.executable, "-m", "dashboard.training.jobs", str(job_dir)], job_dir)
        except (OSError, ValueError):
            (_jobs_root(store) / "lock.json").unlink(missing_ok=True)
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        # Taken after the launch, so the supervisor's creation time is never later (see _pid_alive).
        write_json(_jobs_root(store) / "lock.json",
                   {"run_id": run_id, "pid": pid, "host": socket.gethostname(), "started": time.time()})
    return run_id


def _launch_detached(argv: list[str], job_dir: Path) -> int:
    """Start ``argv`` in its own session as a grandchild (reparented to init); return its pid.

    The shell forks the supervisor into the background and exits, so the caller's
    process tree (which Dash kills on cancel) does not contain it.
    """
    script = '"$@" </dev/null >"$LOG" 2>&1 & echo $!'
    env = dict(os.environ, LOG=str(job_dir / "supervisor.log"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH", "")]))
    out = subprocess.run(["sh", "-c", script, "sh", *argv], cwd=CHECKOUT, env=env, capture_output=True,
                         text=True, timeout=30, check=True, start_new_session=True)
    return int(out.stdout.strip())


def cancel(store: ArtifactStore, run_id: str | None = None) -> bool:
    """Ask the running job to stop (its run ends ``cancelled``); return True when one was asked.

    Args:
        run_id: cancel only if this run is the one running; None cancels whichever runs.
    """
    lock = current(store)
    if lock is None or (run_id is not None and lock["run_id"] != run_id):
        return False
    job_dir = _job_dir(store, lock["run_id"])
    if not job_dir.is_dir():
        return False
    write_json(job_dir / "cancel", {"requested": time.time()})
    if not _lock_alive(store, lock, STALE_SECONDS):  # no supervisor to relay it: signal the trainer
        trainer = _read_state(store, lock["run_id"]).get("trainer_pid")
        if _pid_alive(trainer, lock.get("host")):
            with contextlib.suppress(OSError):
                os.kill(trainer, signal.SIGTERM)
    return True


# -- following a run ---------------------------------------------------------------


def poll(store: ArtifactStore, run_id: str) -> JobStatus:
    """Return what is known about ``run_id`` now; never raises for a missing or broken run."""
    lock = current(store)
    active = lock is not None and lock["run_id"] == run_id
    try:
        run = store.run(run_id)
        manifest = run.manifest()
    except (RunNotFound, ArtifactError, ValueError):
        status = "starting" if active else "missing"
        elapsed = time.time() - lock["started"] if active else None
        return JobStatus(run_id, status, active, phase="starting", elapsed=elapsed)
    job = JobStatus(run_id, manifest["status"], active, error=str(manifest.get("error") or ""),
                    metrics=dict(manifest.get("metrics") or {}))
    job.epochs = int((manifest.get("config") or {}).get("epochs") or 0)
    with contextlib.suppress(ArtifactError, ValueError, TypeError):
        progress = run.progress() or {}
        job.phase = str(progress.get("phase") or "")
        job.epoch = int(progress.get("epoch") or 0)
        job.batch = int(progress.get("batch") or 0)
        job.batches = int(progress.get("batches") or 0)
    with contextlib.suppress(ArtifactError):
        job.history = run.history()
    created = _timestamp(manifest.get("created"))
    end = _timestamp(manifest.get("finished")) if job.status != STATUS_RUNNING else time.time()
    if created is not None and end is not None:
        job.elapsed = max(end - created, 0.0)
    if job.status == STATUS_RUNNING:
        job.remaining = _remaining(job, _read_state(store, run_id).get("training_started"))
    if job.status in (STATUS_FAILED, STATUS_CANCELLED):
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
        reap_stale(store)
        job = poll(store, run_id)
        if on_poll is not None:
            on_poll(job)
        if job.finished or (deadline is not None and time.monotonic() >= deadline):
            return job
        time.sleep(interval)


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _remaining(job: JobStatus, training_started: Any) -> float | None:
    """Estimate the seconds left from the pace of training so far (None until it can be told)."""
    done = job.fraction
    if not isinstance(training_started, (int, float)) or done <= 0.02:
        return None
    spent = time.time() - training_started
    return max(spent / done * (1.0 - done), 0.0)


def _read_state(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    try:
        data = read_json(_job_dir(store, run_id) / "state.json", JOBS_DIR)
    except (ArtifactError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- crashes and dead processes -----------------------------------------------------


def reap_stale(store: ArtifactStore, stale_after: float = STALE_SECONDS) -> list[str]:
    """Mark failed every run left ``running`` by a process that is gone; release a dead job's lock.

    A run is stale when its heartbeat names a dead process on this host, or (for
    another host) when the heartbeat is older than ``stale_after`` seconds.

    Returns:
        The ids of the runs marked failed.
    """
    reaped: list[str] = []
    with _guard(store):
        lock = _read_lock(store)
        if lock is not None and not _job_alive(store, lock, stale_after):
            if _finalize(store, lock["run_id"], "its training process stopped without finishing the run"):
                reaped.append(lock["run_id"])
            _release(store, lock["run_id"])
            lock = None
    live = lock["run_id"] if lock else None
    for summary in store.list_runs():
        run_id = summary.get("run_id")
        if summary.get("status") != STATUS_RUNNING or run_id == live:
            continue
        if not _trainer_alive(store, run_id, stale_after):
            if _finalize(store, run_id, "its training process stopped without finishing it"):
                reaped.append(run_id)
    return reaped


def _trainer_alive(store: ArtifactStore, run_id: str, stale_after: float) -> bool:
    """Tell from a run's heartbeat (or, before the first one, its manifest) whether its trainer lives."""
    try:
        run = store.run(run_id)
        manifest = run.manifest()
        if manifest["status"] != STATUS_RUNNING:
            return False
        beat = run.heartbeat() or {}
    except (RunNotFound, ArtifactError, ValueError):
        return False
    pid = beat.get("pid", manifest.get("pid"))
    host = beat.get("host", manifest.get("host"))
    when = beat.get("time")
    if not isinstance(when, (int, float)):
        when = _timestamp(manifest.get("updated") or manifest.get("created")) or 0.0
    alive = _pid_alive(pid, host, when)
    if alive is False:
        return False
    return time.time() - when < stale_after


def _finalize(store: ArtifactStore, run_id: str, reason: str, cancelled: bool = False) -> bool:
    """Record how a job ended when its trainer did not: copy stderr in, mark failed or cancelled.

    A run that finished by itself is left exactly as it is (``complete`` stays the
    last write of a complete run). Returns True when the run was marked here.
    """
    job_dir = _jobs_root(store) / run_id
    stderr = job_dir / "stderr.log"
    try:
        if store.exists(run_id):
            run = store.run(run_id)
            status = run.status()
        else:  # the trainer died before creating its run: record the failure so the user sees it
            job = _read_json_quiet(job_dir / "job.json")
            if not job:
                return False
            run = store.create_run(run_id, {"config": job.get("config") or {},
                                            "dataset": {"source": job.get("dataset", "")}})
            status = STATUS_RUNNING
    except (ArtifactError, OSError, ValueError):
        return False
    if status == STATUS_COMPLETE:
        return False
    if stderr.is_file():
        data = stderr.read_bytes()[-64_000:]
        with contextlib.suppress(OSError):
            atomic_write(run.stderr_path, lambda handle: handle.write(data))
    if status != STATUS_RUNNING:
        return False
    cause = run.failure_cause()  # the real cause, not TensorFlow's last log line
    detail = f": {cause}" if cause else ""
    with contextlib.suppress(ArtifactError, OSError):
        if cancelled:
            run.finish(STATUS_CANCELLED, error=f"cancelled: {reason}")
        else:
            run.finish(STATUS_FAILED, error=f"training stopped: {reason}{detail}")
        return True
    return False


def _read_json_quiet(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, JOBS_DIR)
    except ArtifactError:
        return {}
    return data if isinstance(data, dict) else {}


def _release(store: ArtifactStore, run_id: str) -> None:
    """Drop the lock if it is ``run_id``'s and remove the job folder (call inside the guard)."""
    lock = _read_lock(store)
    if lock is not None and lock["run_id"] == run_id:
        (_jobs_root(store) / "lock.json").unlink(missing_ok=True)
    shutil.rmtree(_jobs_root(store) / run_id, ignore_errors=True)


# -- the supervisor process -------------------------------------------------------------


def supervise(job_dir: Path) -> int:
    """Run one job to its end: start the trainer, relay a cancel, record how it ended; return its exit code."""
    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    store = ArtifactStore(job["store"])
    run_id = job["run_id"]
    argv = [*job["command"], "train", "--config", str(job_dir / "config.json"), "--dataset", job["dataset"],
            "--run-id", run_id, "--store", str(store.root), "--quiet"]
    if job.get("limit"):
        argv += ["--limit", str(int(job["limit"]))]
    env = dict(os.environ, **CHILD_ENV)
    with open(job_dir / "stderr.log", "wb") as stderr:
        trainer = subprocess.Popen(argv, cwd=CHECKOUT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    write_json(job_dir / "state.json", {"trainer_pid": trainer.pid})
    cancel_sent: float | None = None
    training_started = None
    last_beat = 0.0
    while True:
        try:
            code = trainer.wait(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if cancel_sent is None and (job_dir / "cancel").exists():
            trainer.send_signal(signal.SIGTERM)
            cancel_sent = now
        elif cancel_sent is not None and now - cancel_sent > CANCEL_GRACE_SECONDS:
            trainer.kill()
        if training_started is None:
            training_started = _training_started(store, run_id)
            if training_started is not None:
                write_json(job_dir / "state.json", {"trainer_pid": trainer.pid, "training_started": training_started})
        if now - last_beat > 2.0:  # the lock's mtime is this job's beat for other hosts
            last_beat = now
            with contextlib.suppress(OSError):
                os.utime(_jobs_root(store) / "lock.json")
    with _guard(store):
        _finalize(store, run_id, _describe_exit(code), cancelled=cancel_sent is not None)
        _release(store, run_id)
    return code


def _training_started(store: ArtifactStore, run_id: str) -> float | None:
    """Return when training proper began (first batch progress), or None before."""
    with contextlib.suppress(RunNotFound, ArtifactError, ValueError):
        progress = store.run(run_id).progress() or {}
        if progress.get("phase") == "training":
            return float(progress.get("updated") or time.time())
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
