"""A missing or damaged file raises ArtifactError naming the run and the file, nothing else."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from artifacts import ArtifactError, Run
from artifacts import format as fmt
from tests.artifacts import helpers

SNAPSHOT_1 = f"{fmt.SNAPSHOT_DIR}/{fmt.snapshot_name(1)}"

READERS = {
    fmt.MANIFEST: Run.manifest,
    fmt.HISTORY: Run.history,
    fmt.CLASS_METRICS: Run.class_metrics,
    fmt.CONFUSION: Run.confusion,
    fmt.PREDICTIONS: Run.predictions,
    fmt.PROBES: Run.probes,
    fmt.PROGRESS: Run.progress,
    SNAPSHOT_1: lambda run: run.snapshot(1),
}


@pytest.fixture
def run(store) -> Run:
    return helpers.make_run(store, "broken-run")


def expect_error(run: Run, name: str, reason: str = "") -> ArtifactError:
    with pytest.raises(ArtifactError) as caught:
        READERS[name](run)
    error = caught.value
    assert error.run_id == "broken-run" and error.filename == name
    assert "broken-run" in str(error) and name in str(error)
    assert reason.lower() in str(error).lower()
    return error


@pytest.mark.parametrize("name", [n for n in READERS if n not in (fmt.HISTORY, fmt.PROGRESS)])
def test_missing_file(run, name):
    (run.path / name).unlink()
    expect_error(run, name, "missing")


@pytest.mark.parametrize("name", [fmt.PREDICTIONS, fmt.PROBES, SNAPSHOT_1, fmt.CONFUSION])
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.95])
def test_truncated_array_file(run, name, keep):
    path = run.path / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    expect_error(run, name, "corrupted")


@pytest.mark.parametrize("name", [fmt.PREDICTIONS, SNAPSHOT_1])
def test_garbled_bytes_inside_an_archive(run, name):
    path = run.path / name
    data = bytearray(path.read_bytes())
    for offset in range(200, len(data) - 200, 997):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    expect_error(run, name)


@pytest.mark.parametrize("name", [fmt.MANIFEST, fmt.PROGRESS])
@pytest.mark.parametrize("text", ['{"schema_version": 1,', "", "[1, 2", "\xff\xfe"])
def test_invalid_json(run, name, text):
    (run.path / name).write_bytes(text.encode("latin-1"))
    expect_error(run, name)


def test_nan_in_manifest(run):
    path = run.path / fmt.MANIFEST
    path.write_text(path.read_text().replace('"test_accuracy": 0.8', '"test_accuracy": NaN'))
    expect_error(run, fmt.MANIFEST, "NaN")


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_schema_version_names_both_versions(run, version):
    manifest = json.loads((run.path / fmt.MANIFEST).read_text())
    manifest["schema_version"] = version
    (run.path / fmt.MANIFEST).write_text(json.dumps(manifest))
    error = expect_error(run, fmt.MANIFEST, "schema_version")
    assert repr(version) in str(error) and str(fmt.SCHEMA_VERSION) in error.reason


@pytest.mark.parametrize("change", [{"status": "weird"}, {"drop": "config"}, {"drop": "run_id"}])
def test_manifest_with_bad_fields(run, change):
    manifest = json.loads((run.path / fmt.MANIFEST).read_text())
    if "drop" in change:
        del manifest[change["drop"]]
    else:
        manifest.update(change)
    (run.path / fmt.MANIFEST).write_text(json.dumps(manifest))
    expect_error(run, fmt.MANIFEST)


def test_manifest_not_an_object(run):
    (run.path / fmt.MANIFEST).write_text("[1, 2]")
    expect_error(run, fmt.MANIFEST, "object")


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '{"epoch": 1}',
        "[1, 2, 3]",
        json.dumps(helpers.history_row(3) | {"loss": float("nan")}),  # Python's json writes NaN
        json.dumps(helpers.history_row(3) | {"loss": "low"}),
        json.dumps(helpers.history_row(3) | {"val_class_4": True}),
        json.dumps(helpers.history_row(3) | {"epoch": 2.5}),
        json.dumps(helpers.history_row(3) | {"epoch": None}),
    ],
)
@pytest.mark.parametrize("where", ["middle", "end"])
def test_malformed_history_line(run, line, where):
    path = run.path / fmt.HISTORY
    lines = path.read_text().splitlines()
    lines.insert(1 if where == "middle" else len(lines), line)
    path.write_text("\n".join(lines) + "\n")
    error = expect_error(run, fmt.HISTORY)
    number = 2 if where == "middle" else len(lines)
    assert f"line {number}" in error.reason


def test_history_nan_literal_is_rejected(run):
    # The writer turns NaN into null; a NaN literal means another writer or damage.
    path = run.path / fmt.HISTORY
    path.write_text(path.read_text().replace('"learning_rate": 0.001', '"learning_rate": NaN', 1))
    expect_error(run, fmt.HISTORY, "NaN")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "class,precision\n0,1\n",
        "class,precision,recall,f1,support\n" + "0,1,1,1,4\n" * 9,
        "class,precision,recall,f1,support\n" + "0,1,1,1,4\n" * 9 + "9,NaN,1,1,4\n",
        "class,precision,recall,f1,support\n" + "0,1,1,1,4\n" * 9 + "9,high,1,1,4\n",
        "\x00\x01\x02",
    ],
)
def test_malformed_class_metrics(run, text):
    (run.path / fmt.CLASS_METRICS).write_text(text)
    expect_error(run, fmt.CLASS_METRICS)


@pytest.mark.parametrize(
    "matrix", [np.zeros((9, 10), dtype=np.int64), np.full((10, 10), np.nan), -np.eye(10, dtype=int)]
)
def test_malformed_confusion(run, matrix):
    helpers.save_array(run.path / fmt.CONFUSION, np.save, matrix)
    expect_error(run, fmt.CONFUSION)


def test_predictions_with_missing_or_uneven_arrays(run):
    arrays = helpers.load_arrays(run.path / fmt.PREDICTIONS)
    helpers.save_array(run.path / fmt.PREDICTIONS, np.savez, **{k: v for k, v in arrays.items() if k != "images"})
    expect_error(run, fmt.PREDICTIONS, "missing arrays")
    helpers.save_array(run.path / fmt.PREDICTIONS, np.savez, **(arrays | {"labels": arrays["labels"][:3]}))
    expect_error(run, fmt.PREDICTIONS, "lengths")
    bad = arrays["probabilities"].astype(np.float32)
    bad[0, 0] = np.nan
    helpers.save_array(run.path / fmt.PREDICTIONS, np.savez, **(arrays | {"probabilities": bad}))
    expect_error(run, fmt.PREDICTIONS, "NaN")


def test_pickled_arrays_are_refused(run):
    helpers.save_array(run.path / fmt.PROBES, np.savez, ids=np.array([{"a": 1}], dtype=object), labels=np.zeros(1),
                       images=np.zeros(1))
    expect_error(run, fmt.PROBES)


def test_snapshot_of_an_epoch_that_does_not_exist(run):
    with pytest.raises(ArtifactError, match="missing"):
        run.snapshot(99)
    with pytest.raises(ArtifactError, match="invalid epoch"):
        run.snapshot(-1)
    with pytest.raises(ArtifactError, match="invalid epoch"):
        run.snapshot("1")


def test_listing_runs_survives_a_broken_run(run, store):
    (run.path / fmt.MANIFEST).write_text("{")
    helpers.make_run(store, "fine")
    summaries = {item.run_id: item for item in store.summaries()}
    assert summaries["fine"].status == "complete"
    assert not summaries["broken-run"].readable and "manifest.json" in summaries["broken-run"].error


def test_unreadable_path_names_run_and_file(local_store):
    # A snapshot path that cannot even be stat'ed: a file where the folder should be (a disk only).
    run = helpers.make_run(local_store, "broken-run")
    snapshots = run.path / fmt.SNAPSHOT_DIR
    shutil.rmtree(snapshots)
    snapshots.write_text("not a folder")
    with pytest.raises(ArtifactError) as caught:
        run.snapshot(1)
    assert caught.value.run_id == "broken-run" and caught.value.filename == SNAPSHOT_1
