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
from tests.support.dashclient import DashClient, _outputs, _wire, is_wildcard

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


def malformed_bodies(dependencies: list[dict]) -> list[tuple[str, bytes, dict[str, str]]]:
    """(label, body, extra headers) for callback requests Dash cannot dispatch: bad JSON, shapes, types, sizes."""
    json_type = {"Content-Type": "application/json"}
    server_side = [d for d in dependencies if not d.get("clientside_function")]
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("not json", b"not json", json_type),
        ("truncated json", b'{"output": "x", "inputs": [', json_type),
        ("not utf-8", b'{"output": "\xff\xfe"}', json_type),
        ("empty", b"", json_type),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, json_type),
        ("object nested deep", b'{"output": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}", json_type),
        ("text/plain", json.dumps({"output": "x"}).encode(), {"Content-Type": "text/plain"}),
        ("no content type", b"{}", {}),
        ("form encoded", b"output=x&inputs=y", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    cases += [(f"json {raw!r}", raw.encode(), json_type) for raw in ["[]", "[1, 2]", "1", "null", '"text"', "{}",
                                                                       "true", "1e999"]]
    cases.append(("huge output name", json.dumps({"output": "x" * 100_000, "outputs": {}, "inputs": []}).encode(),
                  json_type))
    for dependency in server_side:
        good = {"output": dependency["output"], "outputs": _outputs(dependency["output"]),
                "inputs": [_wire(item, {}) for item in dependency["inputs"]],
                "state": [_wire(item, {}) for item in dependency["state"]],
                "changedPropIds": [f"{item['id']}.{item['property']}" for item in dependency["inputs"]]}
        mutations = {f"without {key}": {k: v for k, v in good.items() if k != key} for key in ("output", "inputs")}
        for key, bad in [("output", 1), ("output", ["x"]), ("output", {"id": "x"}), ("outputs", 1),
                         ("outputs", "x"), ("outputs", [1]), ("outputs", [{"id": 1}]), ("inputs", 5),
                         ("inputs", "x"), ("inputs", {"a": 1}), ("inputs", [1] * len(good["inputs"])),
                         ("inputs", [*good["inputs"], *good["inputs"], {"id": "x", "property": "y"}]),
                         ("inputs", [{"id": "x" * 100_000, "property": "value"}] * len(good["inputs"])),
                         ("state", 5), ("state", [[1]] * (len(good["state"]) or 1)),
                         ("changedPropIds", "x"), ("changedPropIds", [{"a": 1}]), ("changedPropIds", [["x"]])]:
            mutations[f"{key}={str(bad)[:20]}"] = {**good, key: bad}
        for label, body in mutations.items():
            cases.append((f"{dependency['output'][:40]} {label}", json.dumps(body).encode(), json_type))
    return cases


def test_malformed_callback_bodies_and_headers_get_4xx_and_one_log_line(web_server, hostile_store, tmp_path):
    import http.client
    import time

    base = web_server(hostile_store, CNNVIZ_ALLOW_TRAINING="0")
    client = DashClient(base)
    cases = malformed_bodies(client.dependencies())
    log_path = tmp_path / "gunicorn-0.log"
    time.sleep(1)  # let the workers' start-up lines reach the log first
    start = log_path.stat().st_size
    host, port = base.removeprefix("http://").split(":")
    for label, body, headers in cases:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("POST", "/_dash-update-component", body=body, headers=headers)
        reply = connection.getresponse()
        text = reply.read().decode("utf-8", errors="replace")
        connection.close()
        assert 400 <= reply.status < 500, (label, reply.status, text[:300])
        assert "Traceback" not in text and "File \"" not in text, label
    # Headers a client can get wrong: a body larger than the server takes, a Content-Length that is no number.
    huge = json.dumps({"output": "x", "inputs": ["y" * 6_000_000]}).encode()
    response = _raw_post(host, int(port), huge, {"Content-Type": "application/json"})
    assert response.startswith(b"HTTP/1.1 413"), response[:100]
    response = _raw_post(host, int(port), b"{}", {"Content-Type": "application/json", "Content-Length": "abc"})
    assert response.startswith(b"HTTP/1.1 400"), response[:100]
    time.sleep(1)
    with open(log_path, "rb") as log:
        log.seek(start)
        added = log.read().decode("utf-8", errors="replace")
    app_lines = [line for line in added.splitlines() if line and '"POST /_dash-update-component' not in line]
    assert "Traceback" not in added
    # One line per bad request at most: the cases plus the two raw posts (gunicorn itself logs the bad length).
    assert len(app_lines) <= len(cases) + 2, app_lines[-5:]
    assert max(map(len, app_lines), default=0) < 300, max(app_lines, key=len)[:300]
    # Legitimate callbacks still work on the same server afterwards.
    response, layout = client.render_page("/metrics", "?run=tiny")
    assert response.status == 200 and layout is not None
    assert all(client.call(d, v).status in (200, 204) for d, v in client.page_callbacks(layout))


def _raw_post(host: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """POST ``body`` to the callback route over a raw socket with exactly ``headers``; return the reply start."""
    import socket

    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if "Content-Length" not in headers:
        head += f"Content-Length: {len(body)}\r\n"
    request = f"POST /_dash-update-component HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{head}\r\n".encode()
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(request)
        try:
            connection.sendall(body)
        except OSError:  # the server may refuse and close before reading a body it will not take
            pass
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
            if len(reply) > 4096:
                break
        return reply
