"""Page loads against an S3 store on localhost beside the same run in a local folder (issue 15; goal within 1.5x).

Usage: python -m benchmarks.bench_store [--store DIR] [--run RUN_ID] [--repeat N] [--no-browser]

Copies one run (without --store, the CLI's default run trained as bench_dashboard does) into a
fresh local folder and into a bucket of moto's standalone S3 server on loopback, starts the
Procfile's gunicorn on each, and fires every on-load callback of the main pages on both servers,
alternating, --repeat times. Reports the server time (Server-Timing header) p50 per page and
the ratio; then the same page loads as the user feels them, in headless Chromium; then the
resident memory of the S3 server's gunicorn processes after the visits.
Writes the "S3 store" section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from artifacts import ArtifactStore
from artifacts.backend import LISTING_SECONDS, filesystem
from benchmarks.bench_dashboard import WORK, child_env, ensure_store, percentile
from benchmarks.results import machine, write_section
from tests.support.dashclient import DashClient
from tests.support.s3 import start_moto
from tests.support.servers import procfile_web

PAGES = ["/", "/training", "/metrics", "/model", "/activations", "/learning", "/draw"]


def page_samples(client: DashClient, path: str, run_id: str) -> list[tuple[dict, dict]]:
    """Return the on-load callbacks of ``path`` for ``run_id`` (the page rendered once)."""
    render, layout = client.render_page(path, f"?run={run_id}")
    if render.status != 200:
        raise RuntimeError(f"{path}: HTTP {render.status}")
    return list(client.page_callbacks(layout))


def time_page(client: DashClient, path: str, run_id: str, callbacks: list[tuple[dict, dict]]) -> float:
    """Return the server milliseconds of one page load: its layout plus every on-load callback."""
    total = client.render_page(path, f"?run={run_id}")[0].server_ms or 0.0
    for dependency, values in callbacks:
        response = client.call(dependency, values)
        if response.status not in (200, 204):
            raise RuntimeError(f"{path} {dependency['output']}: HTTP {response.status} {response.text[:200]}")
        total += response.server_ms or 0.0
    return total


def rss_mb(pid: int) -> list[float]:
    """Return the resident memory (MB) of ``pid`` and each of its children."""
    parent = psutil.Process(pid)
    return [process.memory_info().rss / 1e6 for process in [parent, *parent.children(recursive=True)]]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its section of results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--run", help="run id in --store (default: the first complete run)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true",
                        help="server time only (without it, page loads are also measured in headless Chromium)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    source, run_id = ensure_store(args.store)
    run_id = args.run or run_id
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    server = start_moto(folder)
    try:
        os.environ.update(server.env)
        local_root = folder / "local"
        shutil.copytree(source / run_id, local_root / run_id)
        url = server.url("bench")
        filesystem().put(str(local_root / run_id), f"{ArtifactStore(url).root.key}/{run_id}", recursive=True)
        assert ArtifactStore(url).run(run_id).is_complete()

        env = {**server.env}
        rows, totals = [], {"local": 0.0, "s3": 0.0, "s3 listed": 0.0}
        with procfile_web(child_env(local_root, **env), folder / "web-local.log") as local_base, \
                procfile_web(child_env(url, CNNVIZ_S3_CACHE_DIR=str(folder / "s3-cache"), **env),
                             folder / "web-s3.log") as s3_base:
            clients = {"local": DashClient(local_base, 120), "s3": DashClient(s3_base, 120)}
            for path in PAGES:
                callbacks = {name: page_samples(client, path, run_id) for name, client in clients.items()}
                p50 = side_by_side({name: lambda c=client, n=name, p=path, cb=callbacks: time_page(c, p, run_id, cb[n])
                                    for name, client in clients.items()}, args.repeat)
                for name in totals:
                    totals[name] += p50[name]
                local = max(p50["local"], 0.01)
                rows.append(f"| `{path}` | {len(callbacks['s3'])} | {p50['local']:.1f} | {p50['s3']:.1f} | "
                            f"{p50['s3'] / local:.2f} | {p50['s3 listed']:.1f} | {p50['s3 listed'] / local:.2f} |")
            felt = [] if args.no_browser else browser_rows(local_base, s3_base, run_id, args.repeat)
            gunicorn_pid = _gunicorn_master(folder / "web-s3.log")
            memory = rss_mb(gunicorn_pid) if gunicorn_pid else []
        ratio = totals["s3"] / max(totals["local"], 0.01)
        listed_ratio = totals["s3 listed"] / max(totals["local"], 0.01)
        write_section("S3 store", "\n".join([
            f"`python -m benchmarks.bench_store --repeat {args.repeat}` on {machine()}; run `{run_id}`, the same "
            "files in a local folder and in moto's S3 server on loopback; the Procfile's gunicorn on each, "
            "page loads alternating between them.",
            "",
            "Server time (Server-Timing) of one page load: its layout and every callback it fires on load, p50 ms:",
            "",
            "| page | callbacks | local folder | S3 (moto, loopback) | ratio | S3, listings expired | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            f"| all pages | | {totals['local']:.1f} | {totals['s3']:.1f} | {ratio:.2f} | "
            f"{totals['s3 listed']:.1f} | {listed_ratio:.2f} |",
            "",
            f"Goal: within 1.5x; measured {ratio:.2f}x for loads in quick succession (they reuse the run folder's "
            "listing, kept 2 s by `CNNVIZ_S3_LISTING_SECONDS`, and the arrays cached by ETag) and "
            f"{listed_ratio:.2f}x for loads each made after the listings expired (the run's folder is listed "
            "again, one LIST with its subfolders, and the store for the run picker; nothing unchanged is "
            "downloaded; each LIST costs tens of ms on this loaded moto). The first load of each page, which "
            "downloads the arrays, is left out. The Runs page (`/`) lists the whole store (two LISTs) where a local "
            "folder needs a directory scan: a few ms more on loopback, more on a distant bucket.",
            *(["", "As the user feels it: headless Chromium (`benchmarks/bench_browser.py`'s settle detector), from "
                "navigation until every graph is drawn and no callback is in flight, p50 ms; each page loaded "
                "once on each server before measuring:", "",
                "| page | local folder | S3 (moto, loopback) | ratio | S3, listings expired | ratio |",
                "| --- | ---: | ---: | ---: | ---: | ---: |", *felt] if felt else []),
            "",
            "Resident memory of the S3 server's gunicorn after these visits (master, then each worker): "
            + ", ".join(f"{value:.0f} MB" for value in memory) + ".",
        ]))
        print((Path(__file__).resolve().parent / "results.md").read_text())
        return 0
    finally:
        server.process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def side_by_side(measures: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Return the p50 of ``repeat`` runs of each of the "local" and "s3" ``measures``, alternating so both see the
    same machine load, and of ``repeat`` more runs of "s3" each after the kept listings expired ("s3 listed":
    every folder listed again)."""
    samples: dict[str, list[float]] = {"local": [], "s3": [], "s3 listed": []}
    for _ in range(repeat):
        for name, measure in measures.items():
            samples[name].append(measure())
    for _ in range(repeat):
        time.sleep(LISTING_SECONDS + 0.3)
        samples["s3 listed"].append(measures["s3"]())
    return {name: percentile(values, 50) for name, values in samples.items()}


def browser_rows(local_base: str, s3_base: str, run_id: str, repeat: int) -> list[str]:
    """Return the table rows of page loads settled in headless Chromium: local, S3, S3 after listings expired.

    Pages alternate between the two servers so both see the same machine load.
    """
    from benchmarks.bench_browser import Page

    page = Page(timeout=120)
    totals = {"local": 0.0, "s3": 0.0, "s3 listed": 0.0}
    rows = []
    try:
        for path in PAGES:
            urls = {"local": f"{local_base}{path}?run={run_id}", "s3": f"{s3_base}{path}?run={run_id}"}
            for name, url in urls.items():
                page.load(url, f"first {name} {path}")  # downloads and caches: not what a later visit pays
            p50 = side_by_side({name: lambda u=url, n=name, p=path: page.load(u, f"{n} {p}").ms
                                for name, url in urls.items()}, repeat)
            for name in totals:
                totals[name] += p50[name]
            local = max(p50["local"], 0.01)
            rows.append(f"| `{path}` | {p50['local']:.0f} | {p50['s3']:.0f} | {p50['s3'] / local:.2f} | "
                        f"{p50['s3 listed']:.0f} | {p50['s3 listed'] / local:.2f} |")
    finally:
        page.close()
    local = max(totals["local"], 0.01)
    rows.append(f"| all pages | {totals['local']:.0f} | {totals['s3']:.0f} | {totals['s3'] / local:.2f} | "
                f"{totals['s3 listed']:.0f} | {totals['s3 listed'] / local:.2f} |")
    return rows


def _gunicorn_master(log: Path) -> int | None:
    found = re.search(r"\[(\d+)\] \[INFO\] Starting gunicorn", log.read_text())
    return int(found.group(1)) if found else None


if __name__ == "__main__":
    raise SystemExit(main())
