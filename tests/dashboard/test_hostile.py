"""Hostile input and broken runs against the real web server (gunicorn from the Procfile).

Every answer must be a clear 4xx or a normal page/callback response: never a 500,
never a traceback, never the content of a file outside the store.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from tests.dashboard.test_deploy import registered_paths
from tests.dashclient import DashClient, is_wildcard

CANARY = "canary-7f3a9c-outside-the-store"
HOSTILE = [
    "..",
    "../canary.txt",
    "%2e%2e%2fcanary.txt",
    "/etc/passwd",
    "tiny\x00.json",
    "x" * 5000,
    "\u202e\u540d\u524d\U0001f4a5",
    "tiny/../../canary.txt",
]
NON_STRINGS = [{"$ne": 1}, [1, 2, 3], -1, 1e308, True]
pytestmark = pytest.mark.slow


@pytest.fixture
def hostile_store(tiny_store, tmp_path) -> Path:
    """The tiny run in a store, with a canary file just outside the store root."""
    (tmp_path / "canary.txt").write_text(CANARY)
    store = tmp_path / "store"
    shutil.copytree(tiny_store, store)
    return store


def assert_clean(response, context) -> None:
    """No server error, no traceback, nothing read from outside the store."""
    assert response.status != 500 and response.status < 500, (context, response.status, response.text[:300])
    assert "Traceback" not in response.text, context
    assert CANARY not in response.text, context
    assert "root:x:0:0" not in response.text, context


def test_hostile_urls_and_page_parameters(web_server, hostile_store):
    client = DashClient(web_server(hostile_store))
    for raw in ["/..%2f..%2fcanary.txt", "/assets/..%2f..%2f..%2fetc%2fpasswd", "/%00", "/" + "a" * 5000,
                "/activations/%2e%2e/%2e%2e/canary.txt", "/_dash-component-suites/..%2f..%2fetc%2fpasswd"]:
        assert_clean(client.get(raw), raw)
    for path in registered_paths():
        for value in HOSTILE:
            query = urllib.parse.urlencode({key: value for key in ("run", "compare", "digit", "probe", "layer",
                                                                    "channel", "epoch", "cell", "mode")})
            response, layout = client.render_page(path, "?" + query)
            assert_clean(response, (path, value[:20]))
            assert layout is not None, (path, value[:20])


def test_hostile_callback_inputs(web_server, hostile_store):
    client = DashClient(web_server(hostile_store))
    calls = 0
    for path in registered_paths():
        _, layout = client.render_page(path, "?run=tiny")
        for dependency, values in client.page_callbacks(layout):
            for key in [key for key in values if not is_wildcard(key)]:
                for value in [*HOSTILE[:5], *NON_STRINGS[:3]]:
                    mutated = dict(values)
                    mutated[key] = value
                    response = client.call(dependency, mutated)
                    calls += 1
                    assert_clean(response, (path, dependency["output"], key, str(value)[:20]))
    assert calls > 50


def corrupt(store: Path, run_id: str, how: str) -> None:
    """Copy the tiny run to ``run_id`` and break it in one way."""
    run = store / run_id
    shutil.copytree(store / "tiny", run)
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["run_id"] = run_id
    manifest_path.write_text(json.dumps(manifest))
    if how == "truncated-npz":
        data = (run / "predictions.npz").read_bytes()
        (run / "predictions.npz").write_bytes(data[: len(data) // 2])
        snapshot = sorted((run / "snapshots").iterdir())[-1]
        snapshot.write_bytes(snapshot.read_bytes()[:100])
    elif how == "invalid-json":
        manifest_path.write_text('{"schema_version": 1, "run_id": ')
    elif how == "schema":
        manifest["schema_version"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif how == "missing":
        (run / "class_metrics.csv").unlink()
        (run / "confusion.npy").unlink()
        (run / "probes.npz").unlink()
    elif how == "nan":
        lines = (run / "history.jsonl").read_text().splitlines()
        row = json.loads(lines[0])
        row["loss"] = float("nan")
        lines[0] = json.dumps(row)  # Python writes NaN, which strict JSON readers reject
        (run / "history.jsonl").write_text("\n".join(lines) + "\n")
        confusion = np.load(run / "confusion.npy")
        np.save(run / "confusion.npy", confusion.astype(float) * np.nan)
    else:
        raise ValueError(how)


BROKEN = ["truncated-npz", "invalid-json", "schema", "missing", "nan"]
# The page that reads the broken file must say so with an error card.
SHOWN_BROKEN_ON = {"truncated-npz": "/activations", "invalid-json": "/metrics", "schema": "/training",
                   "missing": "/metrics", "nan": "/training"}


def test_corrupted_runs_get_messages_and_the_rest_keeps_working(web_server, hostile_store):
    for how in BROKEN:
        corrupt(hostile_store, f"broken-{how}", how)
    client = DashClient(web_server(hostile_store))
    health = client.get("/healthz").json()
    assert health["runs"] == 1 + len(BROKEN)
    for path in registered_paths():
        for run_id in ["tiny", *[f"broken-{how}" for how in BROKEN]]:
            response, layout = client.render_page(path, f"?run={run_id}")
            assert_clean(response, (path, run_id))
            texts = [response.text]
            for dependency, values in client.page_callbacks(layout):
                reply = client.call(dependency, values)
                assert_clean(reply, (path, run_id, dependency["output"]))
                texts.append(reply.text)
            how = run_id.removeprefix("broken-")
            if SHOWN_BROKEN_ON.get(how) == path:
                assert "error-card" in "".join(texts), (path, run_id)
            if run_id == "tiny" and path != "/":  # the Runs page lists the broken runs too
                assert "error-card" not in "".join(texts), path
    # The good run still renders real content on the metrics page after all that.
    _, layout = client.render_page("/metrics", "?run=tiny")
    texts = json.dumps(layout)
    assert "cannot be read" not in texts


def write_run_slowly(store: Path, source_id: str, run_id: str, pause: float) -> None:
    """Write a copy of ``source_id`` as ``run_id`` through the store API in the pipeline's order, slowly."""
    import time

    from artifacts import ArtifactStore

    artifacts = ArtifactStore(store)
    source = artifacts.run(source_id)
    manifest = source.manifest()
    run = artifacts.create_run(run_id, {key: manifest[key] for key in ("config", "dataset", "architecture")})
    time.sleep(pause)
    probes = source.probes()
    run.write_probes(probes["ids"], probes["labels"], probes["images"])
    for epoch in source.snapshot_epochs():
        run.write_snapshot(epoch, source.snapshot(epoch))
        time.sleep(pause)
    for row in source.history().to_dict("records"):
        run.append_history(row)
        time.sleep(pause)
    predictions = source.predictions()
    run.write_evaluation(source.class_metrics(), source.confusion(), predictions["labels"],
                         predictions["predicted"], predictions["probabilities"], predictions["images"])
    time.sleep(pause)
    shutil.copyfile(source.model_path, run.model_path)
    run.finish("complete", metrics=manifest["metrics"])


def test_a_run_being_written_is_never_shown_as_complete(web_server, hostile_store):
    import threading

    client = DashClient(web_server(hostile_store))
    writer = threading.Thread(target=write_run_slowly, args=(hostile_store, "tiny", "partial", 0.3))
    writer.start()
    seen_incomplete = 0
    try:
        while writer.is_alive():
            manifest = json.loads((hostile_store / "partial" / "manifest.json").read_text()) \
                if (hostile_store / "partial" / "manifest.json").exists() else {"status": "absent"}
            for path in ("/metrics", "/activations", "/training", "/model"):
                response, layout = client.render_page(path, "?run=partial")
                assert_clean(response, (path, "partial"))
                replies = [client.call(d, v) for d, v in client.page_callbacks(layout)]
                for reply in replies:
                    assert_clean(reply, (path, "partial"))
                text = response.text + "".join(reply.text for reply in replies)
                if manifest["status"] == "running":
                    seen_incomplete += 1
                    # Either the page says the run is not complete, or the run completed meanwhile.
                    done = json.loads((hostile_store / "partial" / "manifest.json").read_text())["status"]
                    assert "not complete" in text or done == "complete", (path, text[:400])
                    assert "cannot be read" not in text, (path, text[:400])
    finally:
        writer.join()
    assert seen_incomplete > 0
    response, layout = client.render_page("/metrics", "?run=partial")
    assert "not complete" not in response.text
