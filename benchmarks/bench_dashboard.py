"""Dashboard speed: start-up, callback server time per page, largest response, memory, load.

Usage: python -m benchmarks.bench_dashboard [--store DIR] [--repeat N] [--load-seconds S]

Without --store it trains the CLI's default run on mnist-sample into
benchmarks/.work/store once (about 30 s). Writes the "Dashboard" and "Load"
sections of benchmarks/results.md.

Measured:
- seconds from process start to the first HTTP 200 of ``/`` for ``python -m dashboard``
  (the Quickstart's server) and for gunicorn from the Procfile (goal < 3 s);
- server time (the Server-Timing header) of every callback each page fires on load,
  p50 and p95 over --repeat calls (goal p95 < 100 ms);
- the largest callback response, gzip-compressed (goal < 1 MB);
- resident memory of the web process after visiting every page;
- 20 concurrent clients for --load-seconds on the explorer's and metrics' callbacks under the
  Procfile's gunicorn settings: requests per second, p95, errors.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.results import machine, write_section
from tests.support.dashclient import DashClient, run_load
from tests.support.servers import free_port, procfile_web, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
PAGES = ["/", "/model", "/training", "/metrics", "/activations", "/train", "/draw"]


def ensure_store(store: Path | None) -> tuple[Path, str]:
    """Return a store with a complete run and that run's id, training the default run if needed."""
    store = store or WORK / "store"
    runs = sorted(p.name for p in store.glob("*/manifest.json")) if store.exists() else []
    if not runs:
        subprocess.run([sys.executable, "-m", "pipeline", "train", "--dataset", "mnist-sample", "--store",
                        str(store), "--run-id", "bench", "--quiet"], check=True, cwd=ROOT, env=child_env(store))
    run_id = next(p.parent.name for p in sorted(store.glob("*/manifest.json")))
    return store, run_id


def child_env(store: Path, **extra: str) -> dict[str, str]:
    """Environment for a server or trainer child: the store, quiet TensorFlow, this checkout importable."""
    env = dict(os.environ, CNNVIZ_STORE=str(store), TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    env["CNNVIZ_CACHE_DIR"] = str(WORK / "cache")
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def startup_seconds(store: Path, repeats: int = 3) -> float:
    """Median seconds from starting ``python -m dashboard --no-demo`` to the first 200 of ``/``."""
    times = []
    for _ in range(repeats):
        port = free_port()
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "dashboard", "--no-demo"], cwd=ROOT,
                                   env=child_env(store, PORT=str(port)), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/", 60, process)
            times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(timeout=20)
    return statistics.median(times)


def gunicorn_startup_seconds(store: Path) -> float:
    """Seconds from starting the Procfile's web line to the first 200 of ``/healthz``."""
    started = time.perf_counter()
    with procfile_web(child_env(store), WORK / "gunicorn-startup.log"):
        return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def page_timings(base: str, run_id: str, repeat: int) -> tuple[list[str], int, str]:
    """Time every on-load callback of every page; return table rows, largest gzip size and its name."""
    client = DashClient(base)
    rows, largest, largest_name = [], 0, ""
    for path in PAGES:
        render, layout = client.render_page(path, f"?run={run_id}")
        samples = {"(page layout)": [render.server_ms]}
        sizes = {"(page layout)": render.gzip_bytes}
        for _ in range(repeat - 1):
            samples["(page layout)"].append(client.render_page(path, f"?run={run_id}")[0].server_ms)
        for dependency, values in client.page_callbacks(layout):
            name = dependency["output"].strip(".")[:48]
            for _ in range(repeat):
                response = client.call(dependency, values)
                if response.status not in (200, 204):
                    raise RuntimeError(f"{path} {name}: HTTP {response.status} {response.text[:200]}")
                samples.setdefault(name, []).append(response.server_ms)
                sizes[name] = max(sizes.get(name, 0), response.gzip_bytes)
        for name, times in samples.items():
            rows.append(f"| `{path}` | `{name}` | {percentile(times, 50):.1f} | {percentile(times, 95):.1f} | "
                        f"{sizes[name] / 1024:.1f} |")
            if sizes[name] > largest:
                largest, largest_name = sizes[name], f"{path} {name}"
    return rows, largest, largest_name


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its sections of results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    store, run_id = ensure_store(args.store)

    startup = startup_seconds(store)
    gunicorn_startup = gunicorn_startup_seconds(store)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dashboard", "--no-demo"], cwd=ROOT,
                               env=child_env(store, PORT=str(port)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/", 60, process)
        rows, largest, largest_name = page_timings(base, run_id, args.repeat)
        rss_mb = psutil.Process(process.pid).memory_info().rss / 1e6
    finally:
        process.terminate()
        process.wait(timeout=20)

    with procfile_web(child_env(store), WORK / "gunicorn-load.log") as base:
        client = DashClient(base)
        targets = []
        for path in ("/activations", "/metrics"):
            _, layout = client.render_page(path, f"?run={run_id}")
            targets.extend(client.page_callbacks(layout))
        load = run_load(base, targets, args.clients, args.load_seconds)

    write_section("Dashboard", "\n".join([
        f"`python -m benchmarks.bench_dashboard` on {machine()}; run `{run_id}` (the CLI's default model).",
        "",
        f"- start to first HTTP 200 of `/`: `python -m dashboard` {startup:.2f} s (median of 3), "
        f"gunicorn from the Procfile {gunicorn_startup:.2f} s (goal < 3 s)",
        f"- largest callback response, gzip: {largest / 1024:.1f} KB ({largest_name}) (goal < 1 MB)",
        f"- resident memory of `python -m dashboard` after visiting every page: {rss_mb:.0f} MB "
        "(the Draw page loads TensorFlow and the model into it)",
        "",
        f"Server time (Server-Timing header) of the callbacks each page fires on load, {args.repeat} calls each:",
        "",
        "| page | callback outputs | p50 ms | p95 ms | largest gzip KB |",
        "| --- | --- | ---: | ---: | ---: |",
        *rows,
    ]))
    write_section("Load", "\n".join([
        f"`python -m benchmarks.bench_dashboard` on {machine()}: {args.clients} concurrent clients for "
        f"{args.load_seconds:.0f} s on the activation explorer's and metrics' on-load callbacks "
        f"({len(targets)} callbacks, round-robin), gunicorn with the Procfile's settings, loopback.",
        "",
        f"- requests: {load.requests}, errors: {load.errors}",
        f"- requests per second: {load.requests_per_second:.1f}",
        f"- latency seen by the clients: p50 {load.percentile(50) * 1000:.0f} ms, "
        f"p95 {load.percentile(95) * 1000:.0f} ms",
    ]))
    print((ROOT / "benchmarks" / "results.md").read_text())
    return 0 if load.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
