"""Faults while the web app serves: a real trainer killed mid-epoch, Redis stopped and restarted mid-job.

In both, the run must end ``failed`` or ``complete`` (never stay ``running`` or show partial
artifacts as complete), the web process must keep answering, and completed runs must be
left byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artifacts import ArtifactStore
from artifacts.config import TrainConfig
from dashboard.training import jobs
from tests.conftest import ROOT, TINY_RUN_ID, require, subprocess_env
from tests.dashboard.test_background_training import wait_for
from tests.support.dashclient import DashClient
from tests.support.servers import free_port, procfile_web, start_redis

pytestmark = pytest.mark.slow


def fingerprint(run_dir: Path) -> dict[str, str]:
    """Return every file's SHA-256 in a run folder, by relative path."""
    return {str(path.relative_to(run_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(run_dir.rglob("*")) if path.is_file()}


def assert_serving(client: DashClient, run_id: str) -> None:
    """The web process answers its health check and renders the Runs page listing ``run_id``."""
    health = client.get("/healthz")
    assert health.status == 200, health.text[:300]
    response, layout = client.render_page("/", "")
    assert response.status == 200 and "Traceback" not in response.text
    assert run_id in response.text


def status_of(store: Path, run_id: str) -> str | None:
    """Return the run's status as the store lists it (None before the run exists)."""
    return {s.run_id: s.status for s in ArtifactStore(store).summaries()}.get(run_id)


def test_a_real_trainer_killed_mid_epoch_leaves_a_failed_run(web_server, tiny_store, tmp_path):
    store_dir = tmp_path / "store"
    shutil.copytree(tiny_store, store_dir)
    before = fingerprint(store_dir / TINY_RUN_ID)
    client = DashClient(web_server(store_dir))
    store = ArtifactStore(store_dir)
    # Enough work that the kill lands inside an epoch: 20 epochs of 2,000 digits at batch 16.
    config = TrainConfig(epochs=20, batch_size=16, probe_per_class=2, snapshot_probe_per_class=1)
    run_id = jobs.start(config, "mnist-sample", store, limit=2000)
    progress = wait_for(lambda: (p := _progress(store, run_id)) and p.get("epoch", 0) >= 1 and
                        0 < p.get("batch", 0) < p.get("batches", 0) and p, 180,
                        "the trainer never reported progress inside an epoch")
    trainer = store.run(run_id).heartbeat()["pid"]
    os.kill(trainer, signal.SIGKILL)
    assert_serving(client, run_id)
    wait_for(lambda: status_of(store_dir, run_id) == "failed", 60, "the killed run was not marked failed")
    manifest = store.run(run_id).manifest()
    assert "metrics" not in manifest  # nothing of a complete run was published
    assert progress["epoch"] < config.epochs
    assert_serving(client, run_id)
    # The Training page shows the failed run as not complete, not as charts of a finished run.
    response, layout = client.render_page("/training", f"?run={run_id}")
    shown = response.text + "".join(client.call(d, v).text for d, v in client.page_callbacks(layout))
    assert "not complete" in shown
    assert fingerprint(store_dir / TINY_RUN_ID) == before
    assert jobs.current(store) is None  # the store is free for the next training


def _progress(store: ArtifactStore, run_id: str) -> dict | None:
    try:
        return store.run(run_id).progress()
    except Exception:  # not created yet, or mid-replace on a slow disk
        return None


def test_redis_stopped_and_restarted_during_a_celery_job(tiny_store, tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed (Debian package redis-server)")
    from tests.dashboard.test_background_training import chrome, click_train, open_train_page

    store_dir = tmp_path / "store"
    shutil.copytree(tiny_store, store_dir)
    before = fingerprint(store_dir / TINY_RUN_ID)
    port = free_port()
    redis = start_redis(port, tmp_path)
    env = subprocess_env(CNNVIZ_STORE=str(store_dir), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"),
                         REDIS_URL=f"redis://127.0.0.1:{port}/0")
    celery = str(Path(sys.executable).parent / "celery")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([celery, "-A", "dashboard.training.worker", "worker",
                                   "--pool=solo", "--loglevel=info"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    driver = None
    try:
        wait_for(lambda: b"ready" in log_path.read_bytes() or worker.poll() is not None, 90,
                 "the Celery worker did not start")
        assert worker.poll() is None, log_path.read_text()[-3000:]
        with procfile_web(env, tmp_path / "web.log") as base:
            client = DashClient(base)
            driver = chrome()
            open_train_page(driver, base, epochs=6, limit=1500)
            run_id = click_train(driver)
            wait_for(lambda: status_of(store_dir, run_id) == "running", 60, "the job never started")
            redis.terminate()
            redis.wait(timeout=10)
            # Redis is down: the web process keeps serving pages that read the store.
            for _ in range(3):
                assert_serving(client, run_id)
                time.sleep(1)
            redis = start_redis(port, tmp_path)
            final = wait_for(lambda: status_of(store_dir, run_id) in ("complete", "failed") and
                             status_of(store_dir, run_id), 240, "the run never ended after Redis came back")
            assert_serving(client, run_id)
            if final == "complete":
                run = ArtifactStore(store_dir).run(run_id)
                assert run.model_path.is_file() and len(run.history()) == 6
        assert worker.poll() is None, "the Celery worker died when Redis went away"
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
    assert fingerprint(store_dir / TINY_RUN_ID) == before
