"""Training through CeleryManager: a real redis-server, a real Celery worker, the web app in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artifacts import ArtifactStore
from tests.conftest import ROOT
from tests.dashboard.test_background_training import (
    chrome,
    click_train,
    open_train_page,
    wait_for,
    wait_for_status,
    web_env,
)
from tests.support.servers import procfile_web


def test_make_manager_picks_celery_when_redis_url_is_set(tmp_path):
    from dash import CeleryManager, DiskcacheManager

    from dashboard.settings import Settings
    from dashboard.training.background import make_manager

    assert isinstance(make_manager(Settings(cache_dir=tmp_path / "cache")), DiskcacheManager)
    celery = make_manager(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(celery, CeleryManager) and celery.handle.conf.broker_url == "redis://127.0.0.1:1/0"


@pytest.mark.slow
def test_training_through_celery_and_redis(tmp_path, redis_url):
    store = tmp_path / "store"
    env = web_env(store, tmp_path / "cache", REDIS_URL=redis_url)
    celery = str(Path(sys.executable).parent / "celery")
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([celery, "-A", "dashboard.training.worker", "worker",
                                   "--pool=solo", "--loglevel=info"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    driver = None
    try:
        wait_for(lambda: b"ready" in (tmp_path / "worker.log").read_bytes() or worker.poll() is not None, 60,
                 "the Celery worker did not start")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        with procfile_web(env, tmp_path / "web.log") as base:
            driver = chrome()
            open_train_page(driver, base)
            started = time.monotonic()
            run_id = click_train(driver)
            print(f"celery: click to first status {time.monotonic() - started:.2f} s")
            wait_for_status(store, run_id, "complete")
            wait_for(lambda: driver.execute_script(
                "return document.querySelector('.train-status').textContent") == "complete", 30,
                "the page never showed the run complete")
        # The job ran in the worker, not in the web process.
        wait_for(lambda: "received" in (log := (tmp_path / "worker.log").read_text()) and "succeeded" in log,
                 30, "the worker never ran the background callback")
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    assert ArtifactStore(store).run(run_id).is_complete()


def test_the_signing_secret_is_shared_by_every_worker_and_never_per_process(tmp_path):
    import stat

    from dashboard.settings import Settings, SettingsError
    from dashboard.training.background import signing_secret

    assert signing_secret(Settings.from_env({"CNNVIZ_SECRET_KEY": "s" * 20})) == "s" * 20
    with pytest.raises(SettingsError, match="at least 16"):
        Settings.from_env({"CNNVIZ_SECRET_KEY": "short"})
    celery_env = {"REDIS_URL": "redis://127.0.0.1:1/0", "CNNVIZ_STORE": str(tmp_path / "store")}
    # Computed twice as two processes would: the same value, without reaching Redis.
    assert signing_secret(Settings.from_env(celery_env)) == signing_secret(Settings.from_env(celery_env))
    assert signing_secret(Settings.from_env(celery_env)) != signing_secret(
        Settings.from_env({**celery_env, "REDIS_URL": "redis://127.0.0.1:2/0"}))
    disk = Settings.from_env({"CNNVIZ_CACHE_DIR": str(tmp_path / "cache")})
    first = signing_secret(disk)
    assert len(first) == 64 and signing_secret(disk) == first
    secret_file = tmp_path / "cache" / "signing-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert sorted(path.name for path in secret_file.parent.iterdir()) == ["signing-secret"]
