"""Every artifact written through the store comes back unchanged through the store."""

from __future__ import annotations

import stat

import numpy as np
import pandas as pd
import pytest

from artifacts import SCHEMA_VERSION, RunExistsError, RunNotFound
from artifacts import format as fmt
from artifacts.config import TrainConfig
from tests.artifacts import helpers


def test_manifest_describes_the_run(store):
    run = helpers.make_run(store, "r1")
    manifest = run.manifest()
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["run_id"] == "r1"
    assert manifest["status"] == fmt.STATUS_COMPLETE and run.is_complete()
    assert manifest["created"] and manifest["finished"]
    assert TrainConfig.from_dict(manifest["config"]) == helpers.CONFIG
    assert manifest["config"]["batch_size"] == 64 and manifest["config"]["epochs"] == helpers.EPOCHS
    assert manifest["dataset"] == helpers.DATASET
    assert manifest["versions"] == {"numpy": np.__version__}
    assert manifest["metrics"] == {"test_accuracy": 0.8, "test_loss": 0.5}
    assert manifest["size_bytes"] > 0


def test_new_run_is_running_and_ids_are_unique(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    assert run.status() == fmt.STATUS_RUNNING and not run.is_complete()
    with pytest.raises(RunExistsError):
        store.create_run("r1", {"config": {}, "dataset": {}})
    with pytest.raises(RunNotFound):
        store.run("r2")


def test_history_round_trip(store):
    run = helpers.make_run(store, "r1")
    frame = run.history()
    expected = pd.DataFrame([helpers.history_row(e) for e in range(1, helpers.EPOCHS + 1)])
    assert list(frame.columns) == [*fmt.HISTORY_COLUMNS, *fmt.CLASS_ACCURACY_COLUMNS]
    pd.testing.assert_frame_equal(frame[expected.columns], expected, check_dtype=False)
    assert frame["epoch"].dtype.kind == "i"


def test_history_stores_nan_as_missing(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    row = helpers.history_row(1) | {"val_loss": float("nan"), "loss": float("inf")}
    run.append_history(row)
    assert '"val_loss": null' in (run.path / fmt.HISTORY).read_text()
    frame = run.history()
    assert np.isnan(frame.loc[0, "val_loss"]) and np.isnan(frame.loc[0, "loss"])
    assert frame.loc[0, "accuracy"] == pytest.approx(row["accuracy"])


def test_history_without_rows_has_the_columns(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    frame = run.history()
    assert frame.empty and "val_class_9" in frame.columns


def test_history_ignores_a_line_being_written(store):
    run = helpers.make_run(store, "r1")
    path = run.path / fmt.HISTORY
    helpers.write_raw(path, path.read_bytes() + b'{"epoch": 3, "lo')
    assert len(run.history()) == helpers.EPOCHS


def test_progress_and_heartbeat_round_trip(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    assert run.progress() is None and run.heartbeat() is None
    run.write_progress({"epoch": 1, "batch": 5, "loss": 0.25})
    run.write_heartbeat(1234, "host")
    progress = run.progress()
    assert (progress["epoch"], progress["batch"], progress["loss"]) == (1, 5, 0.25) and progress["updated"] > 0
    assert run.heartbeat()["pid"] == 1234 and run.heartbeat()["host"] == "host"


def test_evaluation_round_trip(store):
    run = helpers.make_run(store, "r1")
    written = helpers.evaluation()
    pd.testing.assert_frame_equal(run.class_metrics(), written["class_metrics"], check_dtype=False)
    np.testing.assert_array_equal(run.confusion(), written["confusion"])
    predictions = run.predictions()
    assert set(predictions) == set(fmt.PREDICTION_KEYS)
    np.testing.assert_array_equal(predictions["labels"], written["labels"])
    np.testing.assert_array_equal(predictions["predicted"], written["predicted"])
    np.testing.assert_allclose(predictions["probabilities"], written["probabilities"], atol=1e-3)
    np.testing.assert_array_equal(predictions["images"], written["images"])
    assert predictions["images"].dtype == np.uint8 and predictions["images"].shape == (helpers.N_TEST, 28, 28)


def test_probes_round_trip(store):
    run = helpers.make_run(store, "r1")
    for key, array in helpers.probes().items():
        np.testing.assert_array_equal(run.probes()[key], array)


def test_snapshots_round_trip(store):
    run = helpers.make_run(store, "r1")
    assert run.snapshot_epochs() == list(range(helpers.EPOCHS + 1))
    for epoch in run.snapshot_epochs():
        probes = helpers.N_PROBES if epoch == helpers.EPOCHS else 10
        expected = helpers.snapshot(epoch, probes=probes)
        got = run.snapshot(epoch)
        assert set(got) == set(expected)
        for key in expected:
            assert got[key].dtype == expected[key].dtype
            np.testing.assert_array_equal(got[key], expected[key])


def test_model_is_moved_into_place(store):
    run = helpers.make_run(store, "r1")
    assert run.model_path.read_bytes().startswith(b"PK")
    assert sorted(run.file_sizes()) == sorted([fmt.MANIFEST, fmt.HISTORY, fmt.PROGRESS, fmt.PROBES, fmt.CLASS_METRICS,
                                               fmt.CONFUSION, fmt.PREDICTIONS, fmt.MODEL,
                                               *(f"{fmt.SNAPSHOT_DIR}/{fmt.snapshot_name(e)}" for e in range(3))])


def test_no_temporary_file_is_left_behind(local_store):
    run = helpers.make_run(local_store, "r1")
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


def test_reads_are_protected_from_callers(store):
    run = helpers.make_run(store, "r1")
    arrays = run.predictions()
    with pytest.raises(ValueError):
        arrays["labels"][0] = 9
    arrays.pop("labels")
    assert "labels" in run.predictions()
    frame = run.history()
    frame.loc[0, "loss"] = 99.0
    assert run.history().loc[0, "loss"] != 99.0


def test_rewritten_file_is_read_again(store):
    run = helpers.make_run(store, "r1")
    assert run.confusion().sum() == helpers.N_TEST
    args = helpers.evaluation()
    args["confusion"] = args["confusion"] * 2
    run.write_evaluation(**args)
    assert run.confusion().sum() == 2 * helpers.N_TEST
    run.append_history(helpers.history_row(3))
    assert len(run.history()) == helpers.EPOCHS + 1


def test_files_are_world_readable(local_store):
    run = helpers.make_run(local_store, "r1")
    for path in run.path.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path


def test_list_runs_and_delete(store):
    helpers.make_run(store, "a")
    helpers.make_run(store, "b", complete=False)
    helpers.write_raw(store.root / "c" / fmt.PROGRESS, "{}")  # a run folder without a manifest
    summaries = {item.run_id: item for item in store.summaries()}
    assert summaries["a"].status == "complete" and summaries["b"].status == "running"
    assert not summaries["c"].readable and "manifest.json" in summaries["c"].error
    assert all(item.size_bytes >= 0 for item in summaries.values())
    store.delete_run("a")
    assert not store.exists("a") and set(store.run_ids()) == {"b", "c"}


def test_finish_rejects_unknown_status(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    with pytest.raises(ValueError, match="status"):
        run.finish("done")
    run.finish("failed", error="boom")
    assert run.manifest()["status"] == "failed" and run.manifest()["error"] == "boom"


def test_store_holds_no_pickles(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    with pytest.raises(TypeError, match="pickle"):
        run.write_snapshot(1, {fmt.SNAPSHOT_PROBE_INDEX: np.array([1, "a", None], dtype=object)})
