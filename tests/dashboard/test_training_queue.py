"""Train presses over HTTP, as the renderer sends them, against gunicorn as the Procfile says (issue 10).

Every press must end with an outcome (a run followed to its end, or a message saying
why not) quickly: Redis down, Redis back after the web workers started, several web
workers answering the same press's polls, several tabs pressing at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from artifacts import ArtifactStore
from tests.conftest import ROOT
from tests.dashboard.test_background_training import wait_for
from tests.support.servers import free_port, procfile_command, start_redis

pytestmark = pytest.mark.slow

# One quick training: 1 epoch on 300 digits, a small network.
FORM = {
    "train-dataset.value": "mnist-sample", "train-limit.value": 300, "train-epochs.value": 1,
    "train-batch-size.value": 64, "train-learning-rate.value": 0.001, "train-seed.value": 1,
    "train-blocks.value": 1, "filters": [8, 16, 32], "kernel_size": ["3", "3", "3"], "strides": ["1", "1", "1"],
    "padding": ["valid", "valid", "same"], "activation": ["relu", "relu", "relu"], "pooling": [True, True, False],
    "train-dense-units.value": 16, "train-dropout.value": 0.25, "train-augmentation.value": False,
}


class Tab:
    """One browser tab on /train: its signed page-load id, and the Train press the renderer would send."""

    def __init__(self, base: str, name: str):
        self.base = base
        self.name = name
        html = urllib.request.urlopen(base + "/train", timeout=60).read().decode()
        config = re.search(r'<script id="_dash-config" type="application/json"[^>]*>(.*?)</script>', html, re.S)
        self.end_id = json.loads(config.group(1))["end_id"]
        dependencies = json.loads(urllib.request.urlopen(base + "/_dash-dependencies", timeout=60).read())
        self.dependency = next(d for d in dependencies if d["output"] == "train-result.data")

    def _payload(self, with_values: bool) -> dict:
        def wire(item):
            component, prop = item["id"], item["property"]
            if component.startswith("{"):
                field = json.loads(component)["type"].removeprefix("train-block-")
                return [{"id": {"type": f"train-block-{field}", "index": index}, "property": prop,
                         "value": value if with_values else None} for index, value in enumerate(FORM[field])]
            value = {"train-button.n_clicks": 1, "train-tab.data": self.name}.get(f"{component}.{prop}")
            value = FORM.get(f"{component}.{prop}", value)
            return {"id": component, "property": prop, "value": value if with_values else None}

        return {"output": "train-result.data", "outputs": {"id": "train-result", "property": "data"},
                "inputs": [wire(item) for item in self.dependency["inputs"]],
                "state": [wire(item) for item in self.dependency["state"]],
                "changedPropIds": ["train-button.n_clicks"]}

    def _post(self, query: dict, with_values: bool, timeout: float) -> tuple[int, dict | None]:
        url = self.base + "/_dash-update-component?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, data=json.dumps(self._payload(with_values)).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                body = reply.read()
                return reply.status, (json.loads(body) if body else None)
        except urllib.error.HTTPError as error:
            return error.code, None

    def press(self, timeout: float = 120) -> tuple[dict | None, float]:
        """Press Train and follow the job like the renderer; return (outcome or None, seconds)."""
        started = time.monotonic()
        status, body = self._post({"endId": self.end_id}, True, timeout)
        while True:
            if status != 200 or body is None:  # an error or a 204: the renderer ends the press with nothing
                return None, time.monotonic() - started
            if "response" in body:
                return body["response"]["train-result"]["data"], time.monotonic() - started
            if "cacheKey" in body:
                handles = {"cacheKey": body["cacheKey"], "job": body["job"]}
            if time.monotonic() - started > timeout:
                return None, time.monotonic() - started
            time.sleep(0.3)
            status, body = self._post({"endId": self.end_id, **handles}, False, 30)


def press_all(tabs: list[Tab]) -> list[tuple[dict | None, float]]:
    """Press Train in every tab at once; return each press's (outcome, seconds)."""
    results: list = [None] * len(tabs)

    def one(index: int) -> None:
        results[index] = tabs[index].press()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(tabs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """Start a real Celery worker (threads, so joined presses run side by side) and wait until it is ready."""
    celery = str(Path(sys.executable).parent / "celery")
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([celery, "-A", "dashboard.training.worker", "worker",
                                   "--pool=threads", "--concurrency=4",
                                   "--loglevel=info"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    wait_for(lambda: b"ready" in log_path.read_bytes() or worker.poll() is not None, 90,
             "the Celery worker did not start")
    assert worker.poll() is None, log_path.read_text()[-3000:]
    return worker


def test_with_redis_down_a_press_is_told_at_once(web_server, tmp_path):
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    base = web_server(tmp_path / "store", REDIS_URL=down)
    outcome, seconds = Tab(base, "tab-1").press(timeout=60)
    assert outcome is not None, f"no outcome after {seconds:.1f} s"
    assert outcome["message"].startswith("Training queue unavailable: Redis not reachable"), outcome
    assert outcome["color"] == "danger" and seconds < 8, seconds
    assert ArtifactStore(tmp_path / "store").run_ids() == []


def test_redis_back_after_start_and_two_web_workers_every_press_gets_its_outcome(web_server, tmp_path):
    import shutil

    from tests.conftest import require, subprocess_env
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    store = tmp_path / "store"
    base = web_server(store, REDIS_URL=redis_url, WEB_CONCURRENCY="2")
    # Redis is down while both web workers serve their first pages (and settle their signing secret).
    early = [Tab(base, f"early-{n}") for n in range(6)]
    redis = start_redis(port, tmp_path)
    worker = None
    try:
        worker = start_worker(subprocess_env(CNNVIZ_STORE=str(store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"),
                                             REDIS_URL=redis_url), tmp_path / "worker.log")
        results = press_all(early[:3])
        assert all(outcome is not None for outcome, _ in results), results
        run_ids = {outcome["run_id"] for outcome, _ in results}
        assert len(run_ids) == 1, results  # one training; the other presses joined it
        assert {outcome["status"] for outcome, _ in results} == {"complete"}
        assert ArtifactStore(store).run(run_ids.pop()).is_complete()
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)


def test_four_tabs_pressing_train_at_once_all_get_an_outcome_with_diskcache(web_server, tmp_path):
    store = tmp_path / "store"
    base = web_server(store)  # no REDIS_URL: DiskcacheManager, two web workers as the Procfile says
    results = press_all([Tab(base, f"tab-{n}") for n in range(4)])
    assert all(outcome is not None and seconds < 90 for outcome, seconds in results), results
    run_ids = {outcome["run_id"] for outcome, _ in results}
    assert len(run_ids) == 1 and {outcome["status"] for outcome, _ in results} == {"complete"}, results
    assert ArtifactStore(store).run_ids() == list(run_ids)


def start_procfile_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """Start the Procfile's ``worker`` line (one training at a time) and wait until it is ready."""
    env = dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(["bash", "-c", f"exec {procfile_command('worker')}"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: b"ready" in log_path.read_bytes() or worker.poll() is not None, 90,
             "the Celery worker did not start")
    assert worker.poll() is None, log_path.read_text()[-3000:]
    return worker


def restart(redis: subprocess.Popen, port: int, folder: Path) -> subprocess.Popen:
    """Stop ``redis`` and start an empty one (no persistence) on the same port."""
    redis.terminate()
    redis.wait(timeout=10)
    return start_redis(port, folder)


def queued(tab: Tab) -> dict:
    """Press Train in ``tab``; return the job handles the renderer polls with."""
    status, body = tab._post({"endId": tab.end_id}, True, 60)
    assert status == 200 and body and "cacheKey" in body, body
    return {"cacheKey": body["cacheKey"], "job": body["job"]}


def poll_once(tab: Tab, handles: dict) -> dict | None:
    """One poll of a queued press, as the renderer sends it: its outcome, or None while it runs."""
    status, body = tab._post({"endId": tab.end_id, **handles}, False, 30)
    assert status == 200, status
    return body["response"]["train-result"]["data"] if body and "response" in body else None


def test_a_press_lost_in_a_redis_restart_is_told_so(web_server, tmp_path):
    """Redis (no persistence) restarts before any worker takes a queued press: the page says it was lost.

    The Procfile's worker starts after the restart (on an empty queue): the press still ends,
    with the message, within a bounded time, and nothing is trained.
    """
    import shutil

    from tests.conftest import require, subprocess_env
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    store = tmp_path / "store"
    redis = start_redis(port, tmp_path)
    worker = None
    try:
        base = web_server(store, REDIS_URL=redis_url)
        tab = Tab(base, "tab-1")
        handles = queued(tab)  # no worker runs to take it
        assert poll_once(tab, handles) is None  # still waiting, as it should
        redis = restart(redis, port, tmp_path)  # empty: the queued message is gone
        restarted = time.monotonic()
        worker = start_procfile_worker(subprocess_env(CNNVIZ_STORE=str(store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"),
                                                      REDIS_URL=redis_url), tmp_path / "worker.log")
        outcome = None
        while outcome is None and time.monotonic() - restarted < 45:
            outcome = poll_once(tab, handles)
            time.sleep(0.5)
        seconds = time.monotonic() - restarted
        print(f"lost press told after {seconds:.1f} s (worker started in between)")
        assert outcome is not None, "the lost press never got an outcome"
        assert outcome["message"].startswith("The training queue lost this request"), outcome
        assert outcome["color"] == "danger" and "run_id" not in outcome, outcome
        assert ArtifactStore(store).run_ids() == []
        time.sleep(2)  # the worker, now listening, still trains nothing
        assert ArtifactStore(store).run_ids() == [] and "received" not in (tmp_path / "worker.log").read_text()
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)


def test_a_redis_restart_under_a_training_loses_only_the_press_still_queued(web_server, tmp_path):
    """The worker trains press A while press B waits in the queue; Redis restarts.

    A is never called lost (a training holds the store, then its result arrives): it ends
    with its run complete. B's message is gone with Redis: once A is done, B is told so.
    """
    import shutil

    from tests.conftest import require, subprocess_env
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    store = tmp_path / "store"
    redis = start_redis(port, tmp_path)
    worker = None
    try:
        base = web_server(store, REDIS_URL=redis_url)
        worker = start_procfile_worker(subprocess_env(CNNVIZ_STORE=str(store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"),
                                                      REDIS_URL=redis_url), tmp_path / "worker.log")
        tab_a, tab_b = Tab(base, "tab-a"), Tab(base, "tab-b")
        handles_a = queued(tab_a)
        wait_for(lambda: ArtifactStore(store).run_ids(), 30, "press A never started a training")
        handles_b = queued(tab_b)  # the only worker slot is busy: B waits in Redis
        for _ in range(3):
            assert poll_once(tab_a, handles_a) is None and poll_once(tab_b, handles_b) is None
            time.sleep(0.5)
        redis = restart(redis, port, tmp_path)
        outcomes: dict[str, dict] = {}
        started = time.monotonic()
        while len(outcomes) < 2 and time.monotonic() - started < 60:
            for name, tab, handles in (("a", tab_a, handles_a), ("b", tab_b, handles_b)):
                if name not in outcomes and (outcome := poll_once(tab, handles)) is not None:
                    outcomes[name] = outcome
                    print(f"press {name.upper()} ended {time.monotonic() - started:.1f} s after the restart: {outcome}")
            time.sleep(0.5)
        assert set(outcomes) == {"a", "b"}, outcomes
        assert outcomes["a"].get("status") == "complete" and "lost" not in str(outcomes["a"]["message"]), outcomes
        assert ArtifactStore(store).run(outcomes["a"]["run_id"]).is_complete()
        assert outcomes["b"]["message"].startswith("The training queue lost this request"), outcomes
        assert ArtifactStore(store).run_ids() == [outcomes["a"]["run_id"]]  # B trained nothing
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
