"""Pages over a damaged store (issue 10): a bad run gets its own error, the others show as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.pages.logic import activations, draw, metrics, runs, training
from dashboard.training import jobs, supervisor
from tests.conftest import TINY_RUN_ID
from tests.dashboard.test_pages_runs_metrics import call, flatten, has_class, second_run, text_of, view_of


@pytest.fixture(scope="module")
def pages():
    """The Runs, Training, Metrics, Activations and Draw pages' logic modules (with the app's pages registered)."""
    import dashboard.app  # noqa: F401  (registers the pages)

    return {"runs": runs, "training": training, "metrics": metrics, "activations": activations, "draw": draw}


def edit_manifest(store, run_id: str, change) -> None:
    """Rewrite a run's manifest text with ``change(text)``, bypassing the store's checks."""
    path = store / run_id / fmt.MANIFEST
    path.write_text(change(path.read_text()))


def set_field(key: str, value) -> callable:
    return lambda text: json.dumps(json.loads(text) | {key: value})


def test_bad_manifests_get_error_rows_and_the_other_runs_list_normally(pages, store_copy, use_store):
    use_store(store_copy)
    edit_manifest(store_copy, second_run(store_copy, "config-text"), set_field("config", "conv32"))
    edit_manifest(store_copy, second_run(store_copy, "run-id-object"), set_field("run_id", {"$ne": 1}))
    huge = second_run(store_copy, "huge-accuracy")
    edit_manifest(store_copy, huge, lambda text: text.replace('"test_accuracy": ', '"test_accuracy": 1' + "0" * 400
                                                              + ', "was": '))
    assert "0" * 400 in (store_copy / huge / fmt.MANIFEST).read_text()
    (store_copy / "copied").mkdir()
    for path in (store_copy / TINY_RUN_ID).iterdir():  # a copied folder keeps run_id "tiny"
        if path.is_file():
            (store_copy / "copied" / path.name).write_bytes(path.read_bytes())
    page = pages["runs"].layout()
    words = text_of(page)
    for broken in ("config-text", "run-id-object", huge, "copied"):
        assert f"Run '{broken}' cannot be read" in words, broken
    assert "lies in folder 'copied'" in words and "not finite" in words
    rows = [node for node in flatten(page) if node["type"] == "Tr" and isinstance(node["props"].get("id"), dict)]
    assert sorted(row["props"]["id"]["run"] for row in rows) == sorted(
        ["config-text", "run-id-object", huge, "copied", TINY_RUN_ID])
    links = [node["props"]["href"] for node in flatten(page) if node["type"] == "Link"]
    assert f"/?run={TINY_RUN_ID}" in links and "99.9" not in words


def test_a_predictions_bomb_gives_an_error_card_not_an_empty_gallery(pages, store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    n = ArtifactStore(store_copy).run(other).manifest()["dataset"]["test_size"] + 20_000
    np.savez_compressed(store_copy / other / fmt.PREDICTIONS, labels=np.zeros(n, np.uint8),
                        predicted=np.zeros(n, np.uint8), probabilities=np.full((n, 10), 0.1, np.float16),
                        images=np.zeros((n, 28, 28), np.uint8))
    figure, style, detail, shown, _ = call(pages["metrics"].gallery, None, "all", other, "light")
    assert has_class(detail, "error-card") and "predictions.npz" in text_of(detail) and "refused" in text_of(detail)
    assert "No test digits here" not in text_of(detail)


def test_an_overflowing_confusion_matrix_gives_an_error_card(pages, store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    np.save(store_copy / other / fmt.CONFUSION, np.full((10, 10), 2**62, dtype=np.int64))
    view = view_of(pages["metrics"], run=other, mode="normalized")
    message, run_id = view["message"], view["run"]
    assert has_class(message, "error-card") and "confusion.npy" in text_of(message) and run_id is None
    assert "%" not in text_of(message)


def test_a_missing_last_snapshot_is_reported_not_a_shorter_slider(pages, store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    snapshots = sorted((store_copy / other / fmt.SNAPSHOT_DIR).iterdir())
    snapshots[-1].unlink()
    page = pages["activations"].layout(run=other)
    assert has_class(page, "error-card") and snapshots[-1].name in text_of(page)
    assert "last epoch" in text_of(page)


@pytest.mark.parametrize("odd", ["../tiny", "x" * 300, "%2e%2e"])
def test_draw_with_an_invalid_run_id_says_so_instead_of_showing_another_run(pages, tiny_store, use_store, odd):
    use_store(tiny_store)
    page = pages["draw"].layout(run=odd)
    assert "not a valid run id" in text_of(page) and has_class(page, "error-card")
    assert f"run {TINY_RUN_ID}" not in text_of(page) and not has_class(page, "onboarding")


def test_draw_with_an_unknown_run_says_so(pages, tiny_store, use_store):
    use_store(tiny_store)
    page = pages["draw"].layout(run="no-such-run")
    assert "There is no run 'no-such-run'" in text_of(page) and f"run {TINY_RUN_ID}" not in text_of(page)


def test_a_run_whose_trainer_was_killed_shows_failed_on_page_views(pages, store_copy, use_store):
    use_store(store_copy)
    orphan = second_run(store_copy, "orphan")
    store = ArtifactStore(store_copy)
    store.run(orphan).update_manifest(status="running")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    heartbeat = store_copy / orphan / fmt.HEARTBEAT
    heartbeat.write_text(json.dumps({"pid": process.pid, "host": os.uname().nodename, "time": time.time() - 600}))
    page = pages["runs"].layout()
    row = next(node for node in flatten(page) if node["type"] == "Tr" and node["props"].get("id", {}) ==
               {"type": pages["runs"].RUNS_ROW, "run": orphan})
    assert "failed" in text_of(row["props"]["children"]) and "running" not in text_of(row["props"]["children"])
    message = view_of(pages["training"], run=orphan)["message"]
    assert "failed" in text_of(message) and "running" not in text_of(message)
    # A page view writes nothing: the run is recorded failed when training next starts.
    assert store.run(orphan).status() == "running"
    # A fresh heartbeat keeps it running.
    heartbeat.write_text(json.dumps({"pid": process.pid, "host": os.uname().nodename, "time": time.time()}))
    assert "running" in text_of(pages["runs"].layout())


TF_NOISE = ("I0000 00:00:1795434971.913652    9252 port.cc:153] oneDNN custom operations are on. You may see "
            "slightly different numerical results due to floating-point round-off errors.\n")


def test_a_killed_run_records_the_real_cause_not_a_tensorflow_log_line(store_copy):
    store = ArtifactStore(store_copy)
    run_id = second_run(store_copy, "disk-full")
    store.run(run_id).update_manifest(status="running")
    job_dir = store_copy / jobs.JOBS_DIR / run_id
    job_dir.mkdir(parents=True)
    (job_dir / "stderr.log").write_text(
        TF_NOISE + "Traceback (most recent call last):\n  File \"train.py\", line 9, in save\n"
        "OSError: [Errno 28] No space left on device\n" + TF_NOISE * 3)
    assert supervisor.finalize(store, run_id, "the training process was killed by SIGKILL")
    manifest = store.run(run_id).manifest()
    assert manifest["status"] == "failed"
    assert manifest["error"].endswith("OSError: [Errno 28] No space left on device"), manifest["error"]
    assert "oneDNN" not in manifest["error"]
