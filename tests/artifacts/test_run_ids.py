"""The store refuses run ids that are not plain names and never leaves its root."""

from __future__ import annotations

import os

import pytest

from artifacts import ArtifactError, ArtifactStore, InvalidRunId
from artifacts import format as fmt
from tests.artifacts import helpers

BAD_IDS = ["..", ".", "../x", "a/b", "/etc", "/tmp/x", "", "a" * 65, "a\x00b", ".hidden", "a b", "a\nb",
           "ü", "-" * 65, None, 5, b"bytes", ["list"]]
GOOD_IDS = ["a", "a" * 64, "run.1_x-Y", "20261122-143005-a1b2", "-leading-dash", "_x"]


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.mark.parametrize("run_id", BAD_IDS, ids=repr)
def test_bad_ids_are_rejected_by_every_entry_point(store, run_id):
    assert not fmt.is_valid_run_id(run_id)
    for call in (store.exists, store.run, store.delete_run,
                 lambda rid: store.create_run(rid, {"config": {}, "dataset": {}})):
        with pytest.raises(InvalidRunId):
            call(run_id)
    assert not store.root.exists() or list(store.root.iterdir()) == []


@pytest.mark.parametrize("run_id", GOOD_IDS)
def test_good_ids_are_accepted(store, run_id):
    assert fmt.is_valid_run_id(run_id)
    store.create_run(run_id, {"config": {}, "dataset": {}})
    assert store.run(run_id).manifest()["run_id"] == run_id


def test_absolute_path_outside_is_not_touched(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(InvalidRunId):
        store.create_run(str(outside / "new"), {"config": {}, "dataset": {}})
    with pytest.raises(InvalidRunId):
        store.delete_run(str(outside))
    assert outside.is_dir() and list(outside.iterdir()) == []


def test_symlinked_run_folder_pointing_outside_is_refused(store, tmp_path):
    victim = helpers.make_run(ArtifactStore(tmp_path / "elsewhere"), "victim")
    store.root.mkdir(parents=True)
    os.symlink(victim.path, store.root / "evil")
    for call in (store.exists, store.run, store.delete_run):
        with pytest.raises(InvalidRunId):
            call("evil")
    with pytest.raises(InvalidRunId):
        store.create_run("evil", {"config": {}, "dataset": {}})
    assert "evil" not in store.run_ids()
    assert [item.run_id for item in store.summaries()] == []
    assert victim.manifest()["status"] == "complete" and victim.model_path.is_file()


def test_symlinked_files_inside_a_run_are_not_followed(store, tmp_path):
    run = helpers.make_run(store, "r1")
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": true}')
    (run.path / fmt.PROGRESS).unlink()
    os.symlink(secret, run.path / fmt.PROGRESS)
    with pytest.raises(ArtifactError, match="symbolic link"):
        run.progress()
    outside = tmp_path / "snaps"
    outside.mkdir()
    os.rename(run.path / fmt.SNAPSHOT_DIR, outside / "real")
    os.symlink(outside / "real", run.path / fmt.SNAPSHOT_DIR)
    with pytest.raises(ArtifactError, match="symbolic link"):
        run.snapshot(0)
    with pytest.raises(ArtifactError, match="symbolic link"):
        run.snapshot_epochs()
    with pytest.raises(ArtifactError, match="symbolic link"):
        run.write_snapshot(5, helpers.snapshot(5))
    assert sorted(p.name for p in (outside / "real").iterdir()) == ["epoch_000.npz", "epoch_001.npz", "epoch_002.npz"]


def test_a_file_in_the_root_is_not_a_run(store):
    store.root.mkdir(parents=True)
    (store.root / "stray").write_text("x")
    (store.root / ".hidden").mkdir()
    assert store.run_ids() == []
    with pytest.raises(InvalidRunId):
        store.run(".hidden")
