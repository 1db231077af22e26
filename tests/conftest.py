"""Shared fixtures: temporary stores, runs trained by the real pipeline, shared data, real components.

Rules for every test in this suite:
- TensorFlow stays out of the pytest process except in tests/pipeline (and the
  Draw page's live-model tests): runs are trained through ``python -m pipeline``
  subprocesses, and web apps with background callbacks run as subprocesses.
- A test that needs ../shared data, Chromium or redis-server skips with a reason
  when it is absent, except under CI (``CI`` set), where absence is a failure.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = bool(os.environ.get("CI"))
# The tiny run every dashboard test reads: real pipeline, few digits, 2 epochs.
TINY_RUN_ID = "tiny"
TINY_ARGS = ["--dataset", "mnist-sample", "--limit", "600", "--epochs", "2", "--batch-size", "64",
             "--probe-per-class", "3", "--seed", "7"]


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` when ``condition`` is false; under CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def subprocess_env(**extra: str) -> dict[str, str]:
    """Return an environment for child processes: quiet TensorFlow, this checkout importable."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def run_pipeline(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m pipeline ARGS`` and return the completed process (text output)."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env(), cwd=ROOT)


def train_run(store: Path, run_id: str, *args: str) -> None:
    """Train a run with the real pipeline CLI; fail the test with its stderr if it fails."""
    result = run_pipeline("train", "--quiet", "--store", str(store), "--run-id", run_id, *args)
    if result.returncode != 0:
        pytest.fail(f"pipeline train failed ({result.returncode}):\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """A store holding one complete run (``tiny``) trained by the real pipeline. Read-only: copy to change."""
    store = tmp_path_factory.mktemp("tiny-store")
    train_run(store, TINY_RUN_ID, *TINY_ARGS)
    return store


@pytest.fixture(scope="session")
def foreign_runs(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A store holding the four foreign models of issue 16 (tests/support/foreign_models.py), each imported by
    ``python -m pipeline import``, and each model's parameter count as Keras reported it (the importer's
    "N parameters" line). Read-only: copy to change. Built in subprocesses: no TensorFlow in this process."""
    import re

    from tests.support.foreign_models import DATASET, INPUT_SCALES

    folder = tmp_path_factory.mktemp("foreign")
    built = subprocess.run([sys.executable, "-m", "tests.support.foreign_models", str(folder / "models")],
                           env=subprocess_env(), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    store = folder / "store"
    totals = {}
    for name, scale in INPUT_SCALES.items():
        result = run_pipeline("import", str(folder / "models" / f"{name}.keras"), "--dataset", DATASET,
                              "--store", str(store), "--run-id", name, "--input-scale", str(scale))
        assert result.returncode == 0, result.stderr[-3000:]
        totals[name] = int(re.search(r"([\d,]+) parameters", result.stderr).group(1).replace(",", ""))
    return store, totals


@pytest.fixture
def store_copy(tiny_store, tmp_path) -> Path:
    """A writable copy of the tiny store."""
    destination = tmp_path / "store"
    shutil.copytree(tiny_store, destination)
    return destination


@pytest.fixture
def use_store(monkeypatch):
    """Point the dashboard at a store for this test: ``use_store(path)``.

    Sets CNNVIZ_STORE (what code outside a request reads) and, when the app is already
    built (it keeps the settings it was built with), the store of the app's settings.
    """

    def point(path: Path) -> Path:
        monkeypatch.setenv("CNNVIZ_STORE", str(path))
        app_module = sys.modules.get("dashboard.app")
        if app_module is not None:
            from dashboard.settings import APP_CONFIG_KEY

            config = app_module.app.server.config
            monkeypatch.setitem(config, APP_CONFIG_KEY, dataclasses.replace(config[APP_CONFIG_KEY], store_root=path))
        return path

    return point


@pytest.fixture(scope="session")
def default_run_store(tmp_path_factory) -> Path:
    """A store holding ``default``: the CLI's default model and epochs trained on mnist-sample."""
    store = tmp_path_factory.mktemp("default-store")
    train_run(store, "default", "--dataset", "mnist-sample")
    return store


def _read_idx(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.open(path).read(), dtype=np.uint8, offset=offset)


@pytest.fixture(scope="session")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The real 10,000-digit MNIST test set from ../shared: (images (n, 28, 28) uint8, labels uint8)."""
    images_path = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    labels_path = SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"
    require(images_path.is_file() and labels_path.is_file(),
            f"the real MNIST test set is not at {SHARED_MNIST}")
    images = _read_idx(images_path, 16).reshape(-1, 28, 28)
    labels = _read_idx(labels_path, 8)
    return images, labels


def pytest_setup_options():
    """Chrome options for dash[testing]'s dash_duo: Debian's headless Chromium."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    return options


@pytest.fixture
def web_server(tmp_path):
    """Start gunicorn exactly as the Procfile's web line says: ``web_server(store, **env)`` -> base URL."""
    from tests.support.servers import procfile_web

    stack = []

    def start(store: Path, **env: str) -> str:
        child_env = subprocess_env(CNNVIZ_STORE=str(store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"), **env)
        if "REDIS_URL" not in env:  # a developer's own REDIS_URL must not switch the manager under test
            child_env.pop("REDIS_URL", None)
        context = procfile_web(child_env, tmp_path / f"gunicorn-{len(stack)}.log")
        base = context.__enter__()
        stack.append(context)
        return base

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def redis_url(tmp_path):
    """A real ``redis-server`` on a free loopback port for this test; yields its URL."""
    from tests.support.servers import free_port, start_redis

    require(shutil.which("redis-server") is not None, "redis-server is not installed (Debian package redis-server)")
    port = free_port()
    process = start_redis(port, tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
