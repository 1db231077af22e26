"""A reader polling the store while runs are written never sees half a run or half a file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np

from artifacts import ArtifactError, ArtifactStore, Run
from artifacts import format as fmt
from tests.artifacts import helpers
from tests.conftest import ROOT, subprocess_env

RUNS = 4
WRITER = """
import sys
from artifacts import ArtifactStore
from tests.artifacts.helpers import make_run
store = ArtifactStore(sys.argv[1])
for index in range(int(sys.argv[2])):
    make_run(store, f"run-{index}", pause=0.02)
"""


def check_complete(run: Run) -> None:
    """Read every artifact of a run that says it is complete; raise if any is missing or short."""
    assert run.model_path.is_file()
    assert len(run.history()) == helpers.EPOCHS
    assert run.snapshot_epochs() == list(range(helpers.EPOCHS + 1))
    for epoch in run.snapshot_epochs():
        run.snapshot(epoch)
    assert run.class_metrics().shape == (10, 5)
    assert run.confusion().sum() == helpers.N_TEST
    assert len(run.predictions()["labels"]) == helpers.N_TEST
    assert len(run.probes()["ids"]) == helpers.N_PROBES
    assert run.manifest()["metrics"]["test_accuracy"] == 0.8


def poll(store: ArtifactStore, done, seen: dict, errors: list) -> None:
    """Until ``done`` is set: list runs, read whatever exists; record complete runs and any failure."""
    while True:
        # Sampled before the pass: a pass that starts after the writer ended sees every run,
        # so the loop ends only after one full pass over the finished store.
        finished = done()
        for summary in store.summaries():
            run_id = summary.run_id
            if not summary.readable:  # a manifest read failed: a torn write
                errors.append(summary.error)
                continue
            run = store.run(run_id)
            try:
                # Files that exist must be whole, complete run or not.
                for name in (fmt.PROBES, fmt.PREDICTIONS, fmt.PROGRESS):
                    if (run.path / name).exists():
                        {fmt.PROBES: run.probes, fmt.PREDICTIONS: run.predictions, fmt.PROGRESS: run.progress}[name]()
                run.history()
                if summary.status == fmt.STATUS_COMPLETE:
                    check_complete(run)
                    seen.setdefault(run_id, time.monotonic())
            except (ArtifactError, AssertionError) as error:
                errors.append(f"{run_id} ({summary.status}): {error!r}")
        if finished:
            break


def test_reader_never_sees_a_partial_run_complete(store):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root), str(RUNS)],
                              cwd=ROOT, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
    seen: dict = {}
    errors: list = []
    poll(store, lambda: writer.poll() is not None, seen, errors)
    assert writer.wait(timeout=60) == 0, writer.stderr.read()
    assert errors == []
    assert sorted(seen) == [f"run-{i}" for i in range(RUNS)]


def test_threads_reading_while_a_thread_rewrites_files(store):
    run = helpers.make_run(store, "r1")
    stop = threading.Event()
    failures: list = []

    def rewrite():
        for count in range(30):
            run.write_evaluation(**helpers.evaluation(seed=count))
            run.write_snapshot(1, helpers.snapshot(count % 3))
            run.update_manifest(counter=count)
        stop.set()

    def read():
        while not stop.is_set():
            try:
                assert run.confusion().sum() == helpers.N_TEST
                assert np.isfinite(run.predictions()["probabilities"]).all()
                assert fmt.SNAPSHOT_SALIENCY in run.snapshot(1)
                assert run.manifest()["status"] == "complete"
            except (ArtifactError, AssertionError) as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=rewrite)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert run.manifest()["counter"] == 29
