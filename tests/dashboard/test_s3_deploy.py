"""Web and worker on "separate machines" (issue 15): no shared local disk, the store on S3, Redis between them.

gunicorn from the Procfile's ``web`` line and celery from its ``worker`` line run in different
temporary working folders, each with its own temporary directory, cache and job folders; the
only things they share are a moto S3 server (the store) and a real ``redis-server``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from artifacts import ArtifactStore, Status
from dashboard.pages.logic import train as train_logic
from tests.conftest import require, subprocess_env
from tests.dashboard.test_background_training import wait_for
from tests.dashboard.test_training_queue import FORM, Tab
from tests.support.dashclient import DashClient
from tests.support.s3 import s3_server  # noqa: F401 - the session fixture
from tests.support.servers import free_port, procfile_command, procfile_web, start_redis

pytestmark = pytest.mark.slow
PAGES = ("/", "/training", "/metrics", "/model", "/activations")
STALE_SECONDS = "12"  # a dead worker's run is noticed within seconds, not the default 30


def machine(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """Return ``env`` for a process whose only local disk is ``folder`` (its temp, cache and job folders)."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    return dict(env, TMPDIR=str(folder / "tmp"), CNNVIZ_CACHE_DIR=str(folder / "cache"),
                CNNVIZ_JOBS_DIR=str(folder / "jobs"), CNNVIZ_S3_CACHE_DIR=str(folder / "s3-cache"))


def start_worker(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start the Procfile's ``worker`` line in ``folder`` (its own process group) and wait until it is ready."""
    env = dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log_path = folder / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(["bash", "-c", f"exec {procfile_command('worker')}"], cwd=folder, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: b"ready" in log_path.read_bytes() or worker.poll() is not None, 90,
             "the Celery worker did not start")
    assert worker.poll() is None, log_path.read_text()[-3000:]
    return worker


def follow(client: DashClient, run_id: str) -> str:
    """Fire the Train page's follow callback for ``run_id`` on the web process; return its response text."""
    dependency = next(d for d in client.dependencies() if d["output"].startswith(f"..{train_logic.TRAIN_STATUS}."))
    values = {(train_logic.TRAIN_INTERVAL, "n_intervals"): 1, (train_logic.TRAIN_THEME, "data"): None,
              (train_logic.TRAIN_STARTED, "data"): run_id, (train_logic.TRAIN_FINAL, "data"): None}
    response = client.call(dependency, values, changed=[f"{train_logic.TRAIN_INTERVAL}.n_intervals"])
    assert response.status == 200, response.text[:500]
    return response.text


@contextlib.contextmanager
def deployment(s3_server, tmp_path: Path) -> Iterator[Deployment]:  # noqa: F811
    """Start redis-server, the Procfile's worker and web lines in separate folders, on an S3 store."""
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis = start_redis(port, tmp_path)
    url = s3_server.url()
    common = subprocess_env(CNNVIZ_STORE=url, REDIS_URL=f"redis://127.0.0.1:{port}/0",
                            CNNVIZ_STALE_SECONDS=STALE_SECONDS, **s3_server.env)
    web_dir, worker_dir = tmp_path / "web-machine", tmp_path / "worker-machine"
    worker = start_worker(worker_dir, machine(worker_dir, common))
    deployed = Deployment(url, ArtifactStore(url), worker, redis, port, tmp_path)
    try:
        with procfile_web(machine(web_dir, common), tmp_path / "gunicorn.log", cwd=web_dir) as base:
            deployed.base = base
            deployed.client = DashClient(base, timeout=60)
            yield deployed
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        deployed.redis.terminate()
        deployed.redis.wait(timeout=10)


@dataclass
class Deployment:
    """The running pieces of :func:`deployment`."""

    url: str
    store: ArtifactStore
    worker: subprocess.Popen
    redis: subprocess.Popen
    redis_port: int
    folder: Path
    base: str = ""
    client: DashClient | None = None


def start_long_training(deployed: Deployment, known: set[str], epochs: int = 30) -> str:
    """Press Train for a longer training; return its run id once it is training."""
    status, body = _press(Tab(deployed.base, f"tab-{len(known)}"), dict(FORM, **{"train-epochs.value": epochs}))
    assert status == 200 and body and "cacheKey" in body, body
    store = deployed.store
    wait_for(lambda: set(store.run_ids()) - known, 60, "the training never created its run")
    run_id = next(iter(set(store.run_ids()) - known))
    wait_for(lambda: (store.run(run_id).progress() or {}).get("phase") == "training", 90,
             "the training never began training")
    return run_id


def test_web_and_worker_without_a_shared_disk_train_and_survive_a_killed_worker(s3_server, tmp_path):  # noqa: F811
    with deployment(s3_server, tmp_path) as deployed:
        base, client, worker, url = deployed.base, deployed.client, deployed.worker, deployed.url
        # 1. Train on the Train page: the worker trains into S3, the web follows it from there.
        outcome, _seconds = Tab(base, "tab-1").press(timeout=240)
        assert outcome is not None and outcome.get("status") == "complete", outcome
        run_id = outcome["run_id"]
        store = ArtifactStore(url)
        assert store.run(run_id).is_complete()
        # 2. The run is on the Runs page, and every page of it renders from S3.
        for path in PAGES:
            render, layout = client.render_page(path, f"?run={run_id}")
            assert render.status == 200 and layout is not None, (path, render.text[:300])
            texts = [render.text]
            for dependency, values in client.page_callbacks(layout):
                response = client.call(dependency, values)
                assert response.status in (200, 204), (path, dependency["output"], response.text[:300])
                texts.append(response.text)
            if path == "/":
                assert run_id in "".join(texts)
        # 3. A long training; SIGKILL the worker's whole process group (its machine stops) mid-run.
        second = start_long_training(deployed, {run_id})
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # 4. The web side notices (lock gone, heartbeat stale) and records the run failed; it keeps serving.
        deadline = time.monotonic() + 90
        while store.run(second).status() is Status.RUNNING and time.monotonic() < deadline:
            follow(client, second)
            time.sleep(1)
        manifest = store.run(second).manifest()
        assert manifest["status"] == "failed", manifest
        assert "stopped" in manifest.get("error", ""), manifest
        render, layout = client.render_page("/", f"?run={second}")
        assert render.status == 200 and layout is not None
        assert client.get("/healthz").status == 200


def test_a_redis_restart_mid_run_lets_the_run_end_and_the_web_serve(s3_server, tmp_path):  # noqa: F811
    """Redis (no persistence) restarts under a training: the training ends, its lock is taken again, the web serves."""
    with deployment(s3_server, tmp_path) as deployed:
        run_id = start_long_training(deployed, set(), epochs=6)
        deployed.redis.terminate()
        deployed.redis.wait(timeout=10)
        deployed.redis = start_redis(deployed.redis_port, tmp_path)
        # The supervisor's next heartbeat takes the lock again: the store is still held by this run.
        wait_for(lambda: _lock_holder(deployed) == run_id, 30, "the lock was not taken again after the restart")
        assert deployed.client.get("/healthz").status == 200
        follow(deployed.client, run_id)
        wait_for(lambda: deployed.store.run(run_id).status() is not Status.RUNNING, 240, "the run never ended")
        assert deployed.store.run(run_id).status() is Status.COMPLETE
        follow(deployed.client, run_id)
        render, layout = deployed.client.render_page("/", f"?run={run_id}")
        assert render.status == 200 and layout is not None


def _lock_holder(deployed: Deployment) -> str | None:
    import redis

    from dashboard.training import redis_lock

    client = redis.Redis(port=deployed.redis_port, decode_responses=True)
    raw = client.get(redis_lock._key("train-lock", deployed.store.root))
    return json.loads(raw)["run_id"] if raw else None


def _press(tab: Tab, form: dict) -> tuple[int, dict | None]:
    """Press Train in ``tab`` with ``form`` (the renderer's first request of a background callback)."""
    import tests.dashboard.test_training_queue as queue

    saved = dict(queue.FORM)
    queue.FORM.clear()
    queue.FORM.update(form)
    try:
        return tab._post({"endId": tab.end_id}, True, 60)
    finally:
        queue.FORM.clear()
        queue.FORM.update(saved)
