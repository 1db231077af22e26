"""What only an S3 store needs checking: keys stay under the prefix, reads are cached by ETag, listing is cheap."""

from __future__ import annotations

import re

import pytest

from artifacts import ArtifactError, ArtifactStore, InvalidRunId
from artifacts import format as fmt
from artifacts.backend import RemotePath, parse_url
from tests.artifacts import helpers
from tests.support.s3 import BUCKET


@pytest.mark.parametrize("url", ["s3://cnnviz-tests/a/../b", "s3://cnnviz-tests/a//b", "s3://cnnviz-tests/./a",
                                 "s3://Bad_Bucket/x", "s3:///x", "s3://cnnviz-tests/a b", "s3://cnnviz-tests/a\\b"])
def test_store_urls_that_could_leave_the_prefix_are_refused(url):
    with pytest.raises(ValueError):
        ArtifactStore(url)


def test_a_store_url_names_its_bucket_and_prefix():
    assert parse_url("s3://cnnviz-tests/team/runs/") == ("cnnviz-tests", ("team", "runs"))
    assert str(ArtifactStore("s3://cnnviz-tests/team/runs").root) == "s3://cnnviz-tests/team/runs"


@pytest.mark.parametrize("run_id", ["..", "../other", "/etc", "a/b", ".hidden", "x" * 65, ""])
def test_odd_run_ids_never_become_keys(s3_server, run_id):
    store = ArtifactStore(s3_server.url())
    with pytest.raises(InvalidRunId):
        store.create_run(run_id, {"config": {}, "dataset": {}})
    with pytest.raises(InvalidRunId):
        store.run(run_id)


@pytest.mark.parametrize("name", ["../manifest.json", "/abs", "a/../../b", ""])
def test_a_key_is_built_only_from_plain_segments(name):
    with pytest.raises(ValueError):
        RemotePath("cnnviz-tests", ("store",)) / name


def test_a_page_view_does_not_download_arrays_again(s3_server):
    store = ArtifactStore(s3_server.url())
    run = helpers.make_run(store, "cached")
    prefix = f"/{BUCKET}/{store.root.relative_to(RemotePath(BUCKET, ()))}/cached/"
    readers = (run.predictions, run.probes, run.confusion, run.class_metrics, run.history, lambda: run.snapshot(1))
    for read in readers:
        read()
    first = s3_server.requests("GET", prefix)
    for read in readers:  # a second page view: every file unchanged
        read()
    assert s3_server.requests("GET", prefix) == first
    run.write_evaluation(**helpers.evaluation(seed=5))  # a rewritten object is fetched again
    run.predictions()
    assert s3_server.requests("GET", prefix + fmt.PREDICTIONS) == 2


def test_listing_runs_lists_the_prefix_once(s3_server):
    store = ArtifactStore(s3_server.url())
    for index in range(3):
        helpers.make_run(store, f"run-{index}")
    prefix = store.root.relative_to(RemotePath(BUCKET, ()))
    store.summaries()  # the manifests are now cached
    lists, manifests = s3_server.requests("GET", f"prefix={prefix}"), s3_server.requests("GET", fmt.MANIFEST)
    heads = s3_server.requests("HEAD", f"/{prefix}/")
    summaries = store.summaries()
    assert [item.run_id for item in summaries] == ["run-2", "run-1", "run-0"]
    assert all(item.size_bytes > 0 for item in summaries)
    # At most one listing of the store's folders and one of its objects (sizes and ETags): no per-run
    # listing, no HEAD of a manifest, no download.
    assert 1 <= s3_server.requests("GET", f"prefix={prefix}") - lists <= 2
    assert s3_server.requests("HEAD", f"/{prefix}/") == heads
    assert s3_server.requests("GET", fmt.MANIFEST) == manifests


def test_a_run_is_complete_only_once_its_manifest_says_so(s3_server):
    store = ArtifactStore(s3_server.url())
    run = helpers.make_run(store, "partial", complete=False)
    assert store.run("partial").status() == fmt.STATUS_RUNNING
    (run.path / fmt.PREDICTIONS).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        run.predictions()


def test_an_oversized_object_is_refused_after_reading_only_its_limit(s3_server):
    store = ArtifactStore(s3_server.url())
    run = store.create_run("big", {"config": {}, "dataset": {}})
    helpers.write_raw(run.path / fmt.PROGRESS, b'{"pad": "' + b"x" * (fmt.JSON_MAX_BYTES * 3) + b'"}')
    with pytest.raises(ArtifactError, match="larger than"):
        run.progress()
    # A ranged GET of the limit and a byte (answered 206 Partial Content), not the whole object.
    assert s3_server.requests("GET", "/big/progress.json") == 1  # (waits for the server's log)
    answers = re.findall(r"GET /[^ ]*/big/progress\.json HTTP/1\.1\S*\" (\d+)", s3_server.log.read_text())
    assert answers == ["206"]


def test_a_listing_begun_before_a_write_is_not_kept_after_it(s3_server, monkeypatch):
    """A LIST that a write overtakes must not hide the write from the next reader (its listing is not kept)."""
    from artifacts import backend

    store = ArtifactStore(s3_server.url())
    run = helpers.make_run(store, "overtaken")
    run.update_manifest(counter=0)
    assert run.manifest()["counter"] == 0  # its content is now cached by ETag
    filesystem = backend.filesystem()
    overtaken = []

    def listed_then_overtaken(original):
        def call(*args, **kwargs):
            found = original(*args, **kwargs)
            if not overtaken:  # the write lands after the LIST answered, before its listing is kept
                overtaken.append(True)
                run.update_manifest(counter=1)
            return found
        return call

    monkeypatch.setattr(backend, "LISTING_SECONDS", 60.0)  # a kept listing would be used for a minute
    backend.forget(run.path)
    for name in ("find", "ls"):
        monkeypatch.setattr(filesystem, name, listed_then_overtaken(getattr(filesystem, name)))
    run.manifest()  # began before the write: either answer is right for it
    assert overtaken
    assert run.manifest()["counter"] == 1
