"""Files crafted to break readers (issue 10): each gives a typed ArtifactError, bounded in time and memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore, Run
from artifacts import format as fmt
from artifacts.validate import failure_cause
from tests.artifacts import helpers


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def run(store) -> Run:
    return helpers.make_run(store, "victim")


def rewrite_manifest(run: Run, text: str) -> None:
    (run.path / fmt.MANIFEST).write_text(text)


def manifest_text(run: Run) -> str:
    return (run.path / fmt.MANIFEST).read_text()


# -- manifests -------------------------------------------------------------------------

BAD_MANIFESTS = {
    "config is a string": lambda m: m | {"config": "conv32"},
    "dataset is a list": lambda m: m | {"dataset": [1, 2]},
    "run_id is an object": lambda m: m | {"run_id": {"$ne": 1}},
    "metrics is a number": lambda m: m | {"metrics": 5},
    "a metric is a string": lambda m: m | {"metrics": {"test_accuracy": "high"}},
    "created is a number": lambda m: m | {"created": 12},
    "status is a list": lambda m: m | {"status": ["complete"]},
}


@pytest.mark.parametrize("name", BAD_MANIFESTS)
def test_manifest_fields_of_the_wrong_type_are_refused(store, run, name):
    helpers.make_run(store, "fine")
    manifest = json.loads(manifest_text(run))
    rewrite_manifest(run, json.dumps(BAD_MANIFESTS[name](manifest)))
    with pytest.raises(ArtifactError) as caught:
        run.manifest()
    assert caught.value.run_id == "victim" and caught.value.filename == fmt.MANIFEST
    summaries = {s.run_id: s for s in store.summaries()}
    assert not summaries["victim"].readable and fmt.MANIFEST in summaries["victim"].error
    assert summaries["fine"].status == "complete"


@pytest.mark.parametrize("number", ["1" + "0" * 400, "1e400", "-1e999", str(2**64)])
def test_manifest_numbers_that_are_not_finite_floats_are_refused(run, number):
    # Python's json reads 1e400 as inf and 10**400 as an exact integer: both overflow formatting.
    rewrite_manifest(run, manifest_text(run).replace('"test_accuracy": 0.8', f'"test_accuracy": {number}'))
    assert number in manifest_text(run)
    with pytest.raises(ArtifactError, match="not finite or too large"):
        run.manifest()


def test_a_copied_run_folder_is_not_a_second_run_with_the_same_id(store, run):
    shutil.copytree(run.path, store.root / "victim-copy")
    with pytest.raises(ArtifactError, match="victim-copy") as caught:
        store.run("victim-copy").manifest()
    assert "'victim'" in caught.value.reason and caught.value.filename == fmt.MANIFEST
    summaries = {s.run_id: s for s in store.summaries()}
    assert summaries["victim"].status == "complete" and not summaries["victim-copy"].readable
    assert [s.run_id for s in store.summaries()].count("victim") == 1


def test_a_huge_manifest_is_refused_quickly(run):
    manifest = json.loads(manifest_text(run))
    manifest["notes"] = ["padding " * 100] * 30_000  # about 24 MB
    rewrite_manifest(run, json.dumps(manifest))
    assert (run.path / fmt.MANIFEST).stat().st_size > 20_000_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ArtifactError, match="larger than"):
            run.manifest()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0 and peak < 5_000_000


def test_a_deeply_nested_manifest_is_an_artifact_error(run):
    rewrite_manifest(run, "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ArtifactError):
        run.manifest()


# -- arrays ----------------------------------------------------------------------------


def test_a_small_predictions_file_holding_huge_arrays_is_refused_before_loading(run):
    n = 70_000  # 55 MB of zeros in about 60 kB of file; the run has 40 test digits
    np.savez_compressed(run.path / fmt.PREDICTIONS, labels=np.zeros(n, np.uint8), predicted=np.zeros(n, np.uint8),
                        probabilities=np.full((n, 10), 0.1, np.float16), images=np.zeros((n, 28, 28), np.uint8))
    assert (run.path / fmt.PREDICTIONS).stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match="refused") as caught:
            run.predictions()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.filename == fmt.PREDICTIONS and "(70000" in caught.value.reason
    assert peak < 5_000_000


def test_oversized_probes_and_snapshots_are_refused(run):
    probes = helpers.probes()
    np.savez(run.path / fmt.PROBES, **(probes | {"images": np.zeros((5_000, 28, 28), np.uint8)}))
    with pytest.raises(ArtifactError, match="refused"):
        run.probes()
    snapshot = helpers.snapshot(1)
    name = next(key for key in snapshot if key.startswith(fmt.ACTIVATION_PREFIX))
    big = np.zeros((5_000, *snapshot[name].shape[1:]), np.float16)
    np.savez(run.path / fmt.SNAPSHOT_DIR / fmt.snapshot_name(1), **(snapshot | {name: big}))
    with pytest.raises(ArtifactError, match="refused"):
        run.snapshot(1)
    # An array the config does not name is bounded by the file's total.
    np.savez(run.path / fmt.SNAPSHOT_DIR / fmt.snapshot_name(1),
             **(helpers.snapshot(1) | {"extra": np.zeros(60_000_000, np.uint8)}))
    with pytest.raises(ArtifactError, match="refused"):
        run.snapshot(1)


def test_an_overflowing_confusion_matrix_is_refused(run):
    np.save(run.path / fmt.CONFUSION, np.full((10, 10), 2**62, dtype=np.int64))
    with pytest.raises(ArtifactError) as caught:
        run.confusion()
    assert caught.value.filename == fmt.CONFUSION
    np.save(run.path / fmt.CONFUSION, np.zeros((100_000, 10), dtype=np.int64))
    with pytest.raises(ArtifactError, match="refused"):
        run.confusion()


def test_a_complete_run_missing_its_last_snapshot_says_so(run):
    (run.path / fmt.SNAPSHOT_DIR / fmt.snapshot_name(helpers.EPOCHS)).unlink()
    with pytest.raises(ArtifactError, match="last epoch") as caught:
        run.snapshot_epochs()
    assert caught.value.filename == f"{fmt.SNAPSHOT_DIR}/{fmt.snapshot_name(helpers.EPOCHS)}"


def test_a_running_run_lists_the_snapshots_it_has(store):
    run = helpers.make_run(store, "unfinished", complete=False)
    (run.path / fmt.SNAPSHOT_DIR / fmt.snapshot_name(helpers.EPOCHS)).unlink()
    assert run.snapshot_epochs() == list(range(helpers.EPOCHS))


# -- stale runs and failure causes -------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_running_run_whose_trainer_died_is_stale(store):
    run = helpers.make_run(store, "orphan", complete=False)
    host = os.uname().nodename
    run.write_heartbeat(dead_pid(), host)
    beat = run.heartbeat()["time"]
    assert not run.is_stale(now=beat + 5)  # recent heartbeat: still running
    assert run.is_stale(now=beat + fmt.HEARTBEAT_STALE_SECONDS + 1)
    run.write_heartbeat(os.getpid(), host)  # a live process that stopped beating keeps its run
    assert not run.is_stale(now=time.time() + 3600)
    run.finish("failed", error="x")
    assert not run.is_stale(now=time.time() + 3600)


def test_a_running_run_without_a_heartbeat_is_stale_from_its_manifest_time(store):
    run = helpers.make_run(store, "never-beat", complete=False)
    assert not run.is_stale()
    assert run.is_stale(now=time.time() + 3600)


NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795434971.913652    9252 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "W0000 00:00:1795434973.254314    9252 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.",
]


def test_failure_cause_skips_tensorflow_log_lines():
    disk_full = "\n".join([*NOISE[:2], "Traceback (most recent call last):", '  File "x.py", line 3, in f',
                           "OSError: [Errno 28] No space left on device", *NOISE,
                           "RuntimeError: cleanup failed", NOISE[1]])
    assert failure_cause(disk_full) == "OSError: [Errno 28] No space left on device"
    crash = "\n".join([*NOISE, "Traceback (most recent call last):", "ValueError: bad shape", NOISE[2]])
    assert failure_cause(crash) == "ValueError: bad shape"
    assert failure_cause("\n".join(NOISE)) == ""
    assert failure_cause("Killed\n" + NOISE[1]) == "Killed"
