"""Memory of each Procfile process in the S3 + Redis deployment (issue 15): what to size dynos for.

Usage: python -m benchmarks.bench_deploy_memory

Starts moto's S3 server and redis-server on loopback, the Procfile's ``worker`` (celery) and
``web`` (gunicorn, ``WEB_CONCURRENCY`` 2) lines in separate working folders, presses Train once
(the default network, 3 epochs on 2,000 mnist-sample digits) and samples the resident memory
(RSS) of the worker's processes every 0.5 s during the training; then visits every page of the
new run and reads the web processes' RSS. Writes the "Deploy memory" section of results.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.results import machine, write_section
from tests.conftest import subprocess_env
from tests.dashboard.test_s3_deploy import PAGES, start_worker
from tests.dashboard.test_s3_deploy import machine as machine_env
from tests.dashboard.test_training_queue import FORM, Tab
from tests.support.dashclient import DashClient
from tests.support.s3 import start_moto
from tests.support.servers import free_port, procfile_web, start_redis

TRAIN = dict(FORM, **{"train-limit.value": 2000, "train-epochs.value": 3, "train-blocks.value": 2,
                      "filters": [32, 64, 32], "train-dense-units.value": 128})


def group_rss(pid: int) -> dict[str, float]:
    """Return the RSS (MB) of the processes in ``pid``'s process group (the worker's machine), by role.

    The group, not the children: the training's supervisor is reparented to init, in the group.
    """
    found: dict[str, float] = {}
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) != pid:
                continue
            line = " ".join(process.cmdline())
            rss = process.memory_info().rss / 1e6
        except (psutil.Error, OSError):
            continue
        name = ("trainer" if "pipeline" in line and "train" in line else
                "supervisor" if "supervisor" in line else
                "celery main" if process.pid == pid else "celery pool" if "celery" in line else process.name())
        found[name] = found.get(name, 0.0) + rss
    return found


def main() -> int:
    """Run the measurement and write its section of results.md."""
    folder = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    server = start_moto(folder)
    os.environ.update(server.env)
    port = free_port()
    redis = start_redis(port, folder)
    common = subprocess_env(CNNVIZ_STORE=server.url("deploy"), REDIS_URL=f"redis://127.0.0.1:{port}/0",
                            **server.env)
    worker_dir, web_dir = folder / "worker", folder / "web"
    worker = start_worker(worker_dir, machine_env(worker_dir, common))
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = group_rss(worker.pid)
            for name, value in rss.items():
                peaks[name] = max(peaks.get(name, 0.0), value)
            peaks["worker total"] = max(peaks.get("worker total", 0.0), sum(rss.values()))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with procfile_web(machine_env(web_dir, common), folder / "gunicorn.log", cwd=web_dir) as base:
            import tests.dashboard.test_training_queue as queue

            queue.FORM.update(TRAIN)
            outcome, seconds = Tab(base, "tab").press(timeout=900)
            done.set()
            sampler.join()
            run_id = outcome["run_id"]
            client = DashClient(base, timeout=120)
            for path in [*PAGES, "/draw"]:
                _render, layout = client.render_page(path, f"?run={run_id}")
                for dependency, values in client.page_callbacks(layout):
                    client.call(dependency, values)
            master = int(next(line.split("]")[1].strip(" [") for line in (folder / "gunicorn.log").read_text()
                              .splitlines() if "Starting gunicorn" in line))
            web = [p.memory_info().rss / 1e6 for p in [psutil.Process(master), *psutil.Process(master).children()]]
    finally:
        done.set()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        redis.terminate()
        server.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    write_section("Deploy memory", "\n".join([
        f"`python -m benchmarks.bench_deploy_memory` on {machine()}: S3 store (moto) and Redis on loopback, the "
        f"Procfile's processes in separate folders; one Train press ({TRAIN['train-epochs.value']} epochs on "
        f"{TRAIN['train-limit.value']:,} digits, {outcome.get('status')}, {seconds:.0f} s).",
        "",
        "- worker, peak RSS during the training: "
        + ", ".join(f"{name} {value:.0f} MB" for name, value in sorted(peaks.items())),
        "- web (gunicorn, 2 workers) after visiting every page of the run, Draw included: master "
        f"{web[0]:.0f} MB, workers " + ", ".join(f"{value:.0f} MB" for value in web[1:]),
    ]))
    print((Path(__file__).resolve().parent / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
