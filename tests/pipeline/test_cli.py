"""``python -m pipeline``: one-line errors for bad arguments, runs listing, cancel, failure, publication."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from artifacts import ArtifactError, ArtifactStore
from tests.conftest import ROOT, TINY_RUN_ID, run_pipeline, subprocess_env

QUICK = ["--dataset", "mnist-sample", "--limit", "300", "--epochs", "1", "--quiet"]


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and lines[0].startswith("error: ")
    assert fragment in lines[0], lines[0]


@pytest.fixture
def bad_args(tmp_path, tiny_store):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "epochs.json").write_text('{"epochs": 0}')
    store = ["--store", str(tmp_path / "store")]
    return {
        "unknown dataset": (["--dataset", "cifar", *store], "unknown dataset 'cifar'"),
        "missing idx folder": (["--dataset", f"idx:{tmp_path}/nope", *store], "does not exist"),
        "missing npz": (["--dataset", f"npz:{tmp_path}/nope.npz", *store], "does not exist"),
        "epochs zero": (["--epochs", "0", *store], "epochs must be an integer from 1"),
        "epochs negative": (["--epochs", "-3", *store], "epochs must be"),
        "epochs not a number": (["--epochs", "many", *store], "invalid int value"),
        "batch size zero": (["--batch-size", "0", *store], "batch_size"),
        "bad dropout": (["--dropout-rate", "1.5", *store], "dropout_rate"),
        "unwritable store": (["--store", str(a_file / "store")], "is not writable"),
        "duplicate run id": (["--store", str(tiny_store), "--run-id", TINY_RUN_ID], "already exists"),
        "invalid run id": (["--run-id", "../escape", *store], "invalid run id"),
        "long run id": (["--run-id", "x" * 65, *store], "invalid run id"),
        "missing config": (["--config", str(tmp_path / "none.json"), *store], "does not exist"),
        "invalid config": (["--config", str(tmp_path / "config.json"), *store], "not valid JSON"),
        "config not object": (["--config", str(tmp_path / "list.json"), *store], "JSON object"),
        "config out of range": (["--config", str(tmp_path / "epochs.json"), *store], "epochs"),
        "unknown option": (["--epoch", "3", "--colour", *store], "unrecognized arguments"),
        "tiny limit": (["--limit", "5", *store], "--limit must be at least 20"),
    }


@pytest.mark.parametrize(
    "case",
    ["unknown dataset", "missing idx folder", "missing npz", "epochs zero", "epochs negative", "epochs not a number",
     "batch size zero", "bad dropout", "unwritable store", "duplicate run id", "invalid run id", "long run id",
     "missing config", "invalid config", "config not object", "config out of range", "unknown option", "tiny limit"],
)
def test_bad_arguments_get_one_line_and_exit_2(bad_args, case, tmp_path):
    args, fragment = bad_args[case]
    result = run_pipeline("train", *args, timeout=120)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_no_command_and_unknown_command():
    assert_one_line_error(run_pipeline(timeout=60), "required")
    assert_one_line_error(run_pipeline("fly", timeout=60), "invalid choice")


def test_runs_lists_the_store(tiny_store, tmp_path):
    result = run_pipeline("runs", "--store", str(tiny_store), timeout=60)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(TINY_RUN_ID))
    assert "complete" in line and "mnist-sample" in line
    listed = json.loads(run_pipeline("runs", "--store", str(tiny_store), "--json", timeout=60).stdout)
    assert [item["run_id"] for item in listed] == [TINY_RUN_ID]
    assert listed[0]["metrics"]["test_accuracy"] > 0
    empty = run_pipeline("runs", "--store", str(tmp_path / "none"), timeout=60)
    assert empty.returncode == 0 and "no runs" in empty.stdout


def test_failed_load_marks_the_run_failed(tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a real archive")
    store = tmp_path / "store"
    result = run_pipeline("train", "--quiet", "--dataset", f"npz:{corrupt}", "--store", str(store),
                          "--run-id", "broken", timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: training failed: DataSourceError: cannot read npz dataset" in result.stderr
    manifest = ArtifactStore(store).run("broken").manifest()
    assert manifest["status"] == "failed"
    assert "DataSourceError" in manifest["error"] and "corrupt.npz" in manifest["error"]
    assert manifest["finished"]


def wait_for(condition, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"training ended early ({process.returncode}): {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("timed out waiting for training")
        time.sleep(0.1)


def start_training(store, run_id: str, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline", "train", "--store", str(store), "--run-id", run_id, *args]
    return subprocess.Popen(command, cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigterm_mid_training_cancels_the_run(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    process = start_training(store.root, "stopped", "--dataset", "mnist-sample", "--limit", "1000",
                             "--epochs", "200", "--quiet")

    def training() -> bool:
        if not store.exists("stopped"):
            return False
        progress = store.run("stopped").progress() or {}
        return progress.get("phase") == "training" and progress.get("epoch", 0) >= 1

    try:
        wait_for(training, 240, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "cancelled" in stderr and "Traceback" not in stderr
    run = store.run("stopped")
    manifest = run.manifest()
    assert manifest["status"] == "cancelled" and "SIGTERM" in manifest["error"]
    assert len(run.history()) < 200 and "metrics" not in manifest


def test_a_reader_never_sees_the_run_complete_early(tmp_path):
    """Poll a real training run's store: once it says complete, every artifact reads."""
    store = ArtifactStore(tmp_path / "store")
    process = start_training(store.root, "watched", *QUICK)
    seen_status = []
    while True:
        finished = process.poll() is not None
        for summary in store.summaries():
            assert summary.readable, summary
            seen_status.append(summary.status)
            if summary.status == "complete":
                run = store.run("watched")
                try:
                    assert run.model_path.is_file() and len(run.history()) == 1
                    assert run.snapshot_epochs() == [0, 1] and run.class_metrics().shape == (10, 5)
                    assert run.confusion().sum() == len(run.predictions()["labels"])
                    assert np.isfinite(run.manifest()["metrics"]["test_accuracy"])
                except ArtifactError as error:
                    pytest.fail(f"complete run not whole: {error}")
        if finished:
            break
        time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read()
    stdout = process.stdout.read()
    assert stdout.startswith("run watched complete: test accuracy ")
    # Which test digits: the sample's own held-out ones, with their count (the README's 97.9% is on real MNIST's).
    test_digits = len(store.run("watched").predictions()["labels"])
    assert f" on {test_digits:,} test digits of mnist-sample, 10% held out per class" in stdout
    assert "running" in seen_status and seen_status[-1] == "complete"


@pytest.mark.parametrize("moment", ["loading data", "training"])
def test_sigterm_early_in_a_run_cancels_it(tmp_path, moment):
    """SIGTERM while data loads, or as fit starts (where a library once swallowed it), still cancels."""
    store = ArtifactStore(tmp_path / "store")
    process = start_training(store.root, "early", "--dataset", "mnist-sample", "--limit", "300",
                             "--epochs", "50", "--quiet")

    def reached() -> bool:
        if not store.exists("early"):
            return False
        progress = store.run("early").progress() or {}
        return progress.get("phase") == moment

    try:
        wait_for(reached, 240, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    manifest = store.run("early").manifest()
    assert manifest["status"] == "cancelled" and "metrics" not in manifest


def test_a_cancel_whose_exception_is_swallowed_still_cancels():
    import os
    import types

    from pipeline.train import TrainingCancelled, cancel_on_signals

    assert not issubclass(TrainingCancelled, Exception)  # `except Exception` in a library cannot eat it
    with cancel_on_signals() as request:
        request.model = types.SimpleNamespace(stop_training=False)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except TrainingCancelled:
            pass  # as if some library had swallowed it
        assert request.model.stop_training is True
        with pytest.raises(TrainingCancelled, match="SIGTERM"):
            request.check()
