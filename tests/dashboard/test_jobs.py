"""Training jobs (dashboard.training: jobs, lock, supervisor) with a fast stand-in for ``python -m pipeline``.

The stand-in writes through the store API as the pipeline does (run created
``running``, progress, heartbeat, one history line per epoch, SIGTERM ->
``cancelled``) and can crash, hang or be killed on demand.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from artifacts import ArtifactStore
from artifacts.config import TrainConfig
from dashboard.training import jobs
from tests.conftest import ROOT, subprocess_env

STAND_IN = textwrap.dedent(
    """
    import argparse, json, os, signal, socket, sys, time
    from artifacts import ArtifactStore

    mode = sys.argv[1]
    parser = argparse.ArgumentParser()
    for option in ("command", "--config", "--dataset", "--run-id", "--store", "--limit"):
        parser.add_argument(option)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(sys.argv[2:])
    if args.command != "train" or not args.quiet or os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "2":
        print("stand-in: unexpected command line or environment", file=sys.stderr)
        sys.exit(3)
    config = json.load(open(args.config))
    if mode == "early-crash":
        print("Traceback (most recent call last):\\nImportError: cannot load the trainer", file=sys.stderr)
        sys.exit(1)
    host = socket.gethostname()
    run = ArtifactStore(args.store).create_run(
        args.run_id, {"config": config, "dataset": {"source": args.dataset}, "pid": os.getpid(), "host": host})

    def on_term(signum, frame):
        run.finish("cancelled", error="received SIGTERM")
        sys.exit(130)

    signal.signal(signal.SIGTERM, on_term)
    delay = 0.5 if mode == "slow" else 0.05
    epochs, batches = config["epochs"], 4
    run.write_heartbeat(os.getpid(), host)
    run.write_progress({"phase": "training", "epoch": 0, "epochs": epochs, "batch": 0, "batches": batches})
    for epoch in range(1, epochs + 1):
        for batch in range(1, batches + 1):
            time.sleep(delay)
            run.write_heartbeat(os.getpid(), host)
            run.write_progress({"phase": "training", "epoch": epoch, "epochs": epochs,
                                "batch": batch, "batches": batches})
            if mode == "crash" and epoch == 2:
                print("RuntimeError: boom in epoch 2", file=sys.stderr, flush=True)
                os._exit(1)
        row = {"epoch": epoch, "loss": 1.0 / epoch, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5,
               "learning_rate": 0.001, "epoch_seconds": delay * batches}
        run.append_history(row)
    run.finish("complete", metrics={"test_accuracy": 0.5, "test_loss": 1.0})
    """
)


@pytest.fixture
def stand_in(tmp_path):
    """Return ``command(mode)``: the stand-in trainer's command for a mode (ok, slow, crash, early-crash)."""
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return lambda mode: [sys.executable, str(script), mode]


@pytest.fixture
def store(tmp_path):
    """An empty store; any job still running at the end is cancelled and waited for."""
    store = ArtifactStore(tmp_path / "store")
    yield store
    lock = jobs.current(store)
    if lock is not None:
        jobs.cancel(store)
        jobs.wait(store, lock.run_id, timeout=20, interval=0.1)


def config(epochs: int = 3) -> TrainConfig:
    return TrainConfig(epochs=epochs)


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def running_epoch(store, run_id):
    """Wait until the run reports training progress; return the status."""
    return wait_until(lambda: (job := jobs.poll(store, run_id)).status == "running" and job.epoch >= 1 and job)


def test_a_job_reports_progress_then_completes(store, stand_in):
    seen = []
    run_id = jobs.start(config(3), "mnist-sample", store, limit=300, command=stand_in("ok"))
    final = jobs.wait(store, run_id, timeout=30, interval=0.05, on_poll=seen.append)
    assert final.status == "complete" and final.finished
    assert list(final.history["epoch"]) == [1, 2, 3]
    assert final.fraction == 1.0
    assert any(job.status == "running" and 0 < job.fraction < 1 for job in seen)
    assert jobs.current(store) is None
    assert not (store.root / jobs.JOBS_DIR / run_id).exists()
    assert not store.run(run_id).stderr_path.exists()  # complete stays the run's last write


def test_the_child_environment_is_not_written_to_os_environ(store, stand_in, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    run_id = jobs.start(config(1), "mnist-sample", store, command=stand_in("ok"))
    assert jobs.wait(store, run_id, timeout=30, interval=0.05).status == "complete"  # the stand-in checks it
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ


def test_cancel_stops_the_trainer_and_leaves_the_run_cancelled(store, stand_in):
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    pid = running_epoch(store, run_id) and store.run(run_id).heartbeat()["pid"]
    assert jobs.cancel(store, "some-other-run") is False
    assert jobs.cancel(store, run_id) is True
    final = jobs.wait(store, run_id, timeout=20, interval=0.05)
    assert final.status == "cancelled"
    assert jobs.current(store) is None  # a finished run frees the store while its process exits
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10)


def test_a_crash_leaves_the_run_failed_with_its_error_output(store, stand_in):
    run_id = jobs.start(config(3), "mnist-sample", store, command=stand_in("crash"))
    final = jobs.wait(store, run_id, timeout=30, interval=0.05)
    assert final.status == "failed"
    assert "exited with status 1" in final.error and "boom in epoch 2" in final.error
    assert "RuntimeError: boom in epoch 2" in final.stderr_tail
    assert store.run(run_id).stderr_tail() == final.stderr_tail


def test_a_trainer_that_dies_before_creating_its_run_is_recorded(store, stand_in):
    run_id = jobs.start(config(3), "mnist-sample", store, command=stand_in("early-crash"))
    final = jobs.wait(store, run_id, timeout=30, interval=0.05)
    assert final.status == "failed"
    assert "ImportError: cannot load the trainer" in final.stderr_tail
    assert store.run(run_id).manifest()["config"]["epochs"] == 3


def test_sigkill_of_the_trainer_leaves_the_run_failed(store, stand_in):
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    running_epoch(store, run_id)
    os.kill(store.run(run_id).heartbeat()["pid"], signal.SIGKILL)
    final = jobs.wait(store, run_id, timeout=20, interval=0.05)
    assert final.status == "failed"
    assert "killed by SIGKILL" in final.error
    assert jobs.current(store) is None


def test_a_dead_supervisor_and_trainer_are_reaped(store, stand_in):
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    running_epoch(store, run_id)
    supervisor = jobs.current(store).pid
    trainer = store.run(run_id).heartbeat()["pid"]
    os.kill(supervisor, signal.SIGKILL)
    assert jobs.current(store).run_id == run_id  # the trainer still trains: the job holds the store
    os.kill(trainer, signal.SIGKILL)
    # kill() returns before the kernel has ended the process: wait until both are gone.
    for pid in (supervisor, trainer):
        wait_until(lambda pid=pid: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    assert jobs.reap_stale(store) == [run_id]
    assert store.run(run_id).status() == "failed"
    assert jobs.current(store) is None


def test_an_orphaned_trainer_is_still_cancellable(store, stand_in):
    run_id = jobs.start(config(50), "mnist-sample", store, command=stand_in("slow"))
    running_epoch(store, run_id)
    os.kill(jobs.current(store).pid, signal.SIGKILL)
    time.sleep(0.3)
    assert jobs.cancel(store, run_id) is True
    assert jobs.wait(store, run_id, timeout=20, interval=0.05).status == "cancelled"
    assert jobs.current(store) is None


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    ("pid", "host", "age", "stale"),
    [
        ("dead", "here", 0, True),
        ("self", "here", 0, False),
        ("self", "other-host", 3600, True),
        ("self", "other-host", 1, False),
    ],
)
def test_reap_stale_marks_runs_whose_heartbeat_stopped(store, pid, host, age, stale):
    run = store.create_run("left", {"config": config(1).to_dict(), "dataset": {"source": "x"}})
    pid = dead_pid() if pid == "dead" else os.getpid()
    host = socket.gethostname() if host == "here" else host
    (run.path / "heartbeat.json").write_text(json.dumps({"pid": pid, "host": host, "time": time.time() - age}))
    assert jobs.reap_stale(store) == (["left"] if stale else [])
    assert run.status() == ("failed" if stale else "running")
    if stale:
        assert "stopped without finishing" in run.manifest()["error"]


def test_two_concurrent_starts_in_threads_run_one_job(store, stand_in):
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


START_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from artifacts import ArtifactStore
    from artifacts.config import TrainConfig
    from dashboard.training import jobs
    store = ArtifactStore(sys.argv[1])
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    try:
        print("started", jobs.start(TrainConfig(epochs=50), "mnist-sample", store, command=sys.argv[3:]))
    except jobs.TrainingBusy as busy:
        print("busy", busy.run_id)
    """
)


def test_two_concurrent_starts_in_processes_run_one_job(store, stand_in):
    at = str(time.time() + 2.0)  # both processes start together once imported
    processes = [
        subprocess.Popen([sys.executable, "-c", START_SCRIPT, str(store.root), at, *stand_in("slow")],
                         cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    lines = sorted(process.communicate(timeout=30)[0].split() for process in processes)
    assert [line[0] for line in lines] == ["busy", "started"]
    assert lines[0][1] == lines[1][1] == jobs.current(store).run_id
    assert len(store.run_ids()) <= 1
