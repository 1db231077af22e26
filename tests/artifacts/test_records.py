"""The typed read model: manifests, progress and run summaries as objects, typed errors for bad fields."""

from __future__ import annotations

import json

import pytest

from artifacts import (
    ArtifactError,
    ArtifactStore,
    DatasetInfo,
    Manifest,
    Metrics,
    Phase,
    Progress,
    RunSummary,
    Status,
)
from artifacts import format as fmt
from artifacts.config import TrainConfig, layer_plan
from tests.artifacts import helpers


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


def manifest_json(**changes) -> dict:
    data = {"schema_version": fmt.SCHEMA_VERSION, "run_id": "r1", "status": "complete",
            "created": "2024-01-02T03:04:05+00:00", "config": helpers.CONFIG.to_dict(),
            "dataset": dict(helpers.DATASET)}
    data.update(changes)
    return data


def test_enums_carry_the_store_strings():
    assert [str(s) for s in Status] == list(fmt.STATUSES)
    assert {s for s in Status if s.finished} == set(fmt.FINISHED_STATUSES)
    assert not Status.RUNNING.finished
    assert {str(p) for p in Phase} == set(fmt.PHASES)
    assert Phase("loading data") is Phase.LOADING


def test_manifest_of_a_complete_run(store):
    run = helpers.make_run(store, "r1")
    info = run.info()
    assert isinstance(info, Manifest)
    assert info.run_id == "r1" and info.status is Status.COMPLETE and info.is_complete
    assert info.config == helpers.CONFIG and info.planned_epochs == helpers.EPOCHS
    assert info.dataset == DatasetInfo(name="synthetic", source="tests", train_size=90, validation_size=10,
                                       test_size=40)
    assert info.metrics == Metrics(test_accuracy=0.8, test_loss=0.5)
    assert info.class_names == fmt.DIGIT_CLASS_NAMES
    assert info.error is None and info.finished and info.updated and info.size_bytes > 0
    assert info.versions == {"numpy": __import__("numpy").__version__}
    assert info.to_dict() == run.manifest()


def test_manifest_typed_fields_and_class_names():
    names = [f"c{k}" for k in range(10)]
    info = Manifest.from_dict(manifest_json(status="failed", error="boom", class_names=names,
                                            metrics={"epochs_completed": 3, "test_accuracy": 1}), "r1")
    assert info.status is Status.FAILED and info.error == "boom"
    assert info.class_names == tuple(names)
    assert info.metrics.epochs_completed == 3 and info.metrics.test_accuracy == 1.0
    assert info.metrics.test_loss is None
    assert Metrics.from_dict(info.metrics.to_dict()) == info.metrics


@pytest.mark.parametrize(("changes", "reason"), [
    ({"status": "error"}, "unknown status"),
    ({"status": 3}, "field 'status'"),
    ({"config": [1]}, "field 'config'"),
    ({"created": None}, "field 'created'"),
    ({"run_id": "other"}, "belongs to run"),
    ({"schema_version": 99}, "schema_version"),
    ({"metrics": {"test_accuracy": "high"}}, "metric"),
    ({"metrics": {"test_loss": float("nan")}}, "not finite"),
])
def test_bad_manifest_fields_raise_typed_errors(changes, reason):
    with pytest.raises(ArtifactError) as caught:
        Manifest.from_dict(manifest_json(**changes), "r1")
    assert caught.value.filename == fmt.MANIFEST and caught.value.run_id == "r1"
    assert reason in str(caught.value)


def test_missing_field_and_non_object_raise():
    data = manifest_json()
    del data["dataset"]
    with pytest.raises(ArtifactError, match="missing fields"):
        Manifest.from_dict(data, "r1")
    with pytest.raises(ArtifactError, match="not a JSON object"):
        Manifest.from_dict([], "r1")


def test_invalid_config_is_readable_but_config_raises():
    info = Manifest.from_dict(manifest_json(config={"epochs": -1, "bogus": 1}), "r1")
    assert info.status is Status.COMPLETE and info.planned_epochs is None
    assert info.raw_config == {"epochs": -1, "bogus": 1} and "bogus" in info.config_error
    with pytest.raises(ArtifactError, match="invalid config"):
        _ = info.config
    with pytest.raises(ArtifactError):
        info.layers()


def test_layers_prefer_the_recorded_architecture_else_the_config():
    config = TrainConfig(dense_units=7)
    recorded = [spec.to_dict() for spec in layer_plan(TrainConfig(dense_units=9))]
    info = Manifest.from_dict(manifest_json(config=config.to_dict(), architecture=recorded), "r1")
    assert [spec.output_shape for spec in info.layers()] == [spec.output_shape for spec in
                                                             layer_plan(TrainConfig(dense_units=9))]
    broken = Manifest.from_dict(manifest_json(config=config.to_dict(), architecture=[{"name": 1}]), "r1")
    assert broken.layers() == layer_plan(config)
    plain = Manifest.from_dict(manifest_json(config=config.to_dict()), "r1")
    assert plain.layers() == layer_plan(config)


def test_run_layers(store):
    run = helpers.make_run(store, "r1")
    assert run.layers() == layer_plan(helpers.CONFIG)


def test_progress_round_trip(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    assert run.progress_info() is None
    run.write_progress(Progress(Phase.TRAINING, epoch=2, epochs=5, batch=3, batches=10, loss=0.25, pid=7))
    progress = run.progress_info()
    assert progress.phase is Phase.TRAINING and (progress.epoch, progress.epochs) == (2, 5)
    assert (progress.batch, progress.batches, progress.loss, progress.pid) == (3, 10, 0.25, 7)
    assert progress.accuracy is None and progress.updated > 0
    assert run.progress()["phase"] == "training"


def test_progress_without_phase_is_none():
    assert Progress.from_dict({"epoch": 1}).phase is None


@pytest.mark.parametrize(("data", "reason"), [
    ({"phase": "dancing"}, "unknown phase"),
    ({"phase": "training", "epoch": "two"}, "'epoch'"),
    ({"phase": "training", "loss": True}, "'loss'"),
    ([1, 2], "not a JSON object"),
])
def test_bad_progress_raises_typed_errors(data, reason):
    with pytest.raises(ArtifactError) as caught:
        Progress.from_dict(data, "r1")
    assert caught.value.filename == fmt.PROGRESS and reason in str(caught.value)


def test_unreadable_progress_file_raises(store):
    run = store.create_run("r1", {"config": {}, "dataset": {}})
    (run.path / fmt.PROGRESS).write_text("{not json")
    with pytest.raises(ArtifactError):
        run.progress_info()


def test_summaries_type_readable_and_unreadable_runs(store):
    helpers.make_run(store, "good")
    helpers.make_run(store, "running", complete=False)
    broken = helpers.make_run(store, "broken")
    (broken.path / fmt.MANIFEST).write_text(json.dumps(manifest_json(run_id="broken", status="error")))
    summaries = {summary.run_id: summary for summary in store.summaries()}
    assert set(summaries) == {"good", "running", "broken"}
    assert all(isinstance(summary, RunSummary) for summary in summaries.values())
    good, running, bad = summaries["good"], summaries["running"], summaries["broken"]
    assert good.readable and good.status is Status.COMPLETE and good.is_complete and good.error is None
    assert running.status is Status.RUNNING and not running.is_complete
    assert not bad.readable and bad.manifest is None and bad.status is None and not bad.is_complete
    assert "unknown status" in bad.error and fmt.MANIFEST in bad.error and bad.problem == bad.error
    assert all(summary.size_bytes > 0 for summary in summaries.values())
    assert [s.run_id for s in store.summaries()][-1] == "broken"  # unreadable runs sort last


def test_summaries_of_a_missing_manifest(store):
    run = helpers.make_run(store, "gone")
    (run.path / fmt.MANIFEST).unlink()
    (summary,) = store.summaries()
    assert not summary.readable and "missing" in summary.error


def test_with_status_is_display_only(store):
    run = helpers.make_run(store, "r1", complete=False)
    shown = run.info().with_status(Status.FAILED, "stopped")
    assert shown.status is Status.FAILED and shown.error == "stopped"
    assert run.info().status is Status.RUNNING
