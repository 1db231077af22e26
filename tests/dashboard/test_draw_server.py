"""A real web server answers a drawn digit without loading TensorFlow (issue 12).

gunicorn starts from the Procfile's line on the tiny run; the test opens every page and fires
its callbacks as a browser would, sends a drawing through the Draw page's callbacks, and then
reads the memory maps of the server's processes: no TensorFlow library may be mapped.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest

from dashboard.draw import layout as parts
from tests.dashboard.test_deploy import registered_paths
from tests.dashboard.test_preprocess import seven
from tests.support.dashclient import DashClient

TENSORFLOW_LIBRARIES = ("libtensorflow", "_pywrap_tensorflow")


def listening_pids(port: int) -> list[int]:
    """Return the processes holding the TCP socket that listens on ``port`` (gunicorn's master and workers)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue  # gone, or not ours
        if any(f"socket:[{inode}]" in targets for inode in inodes):
            pids.append(int(entry.name))
    return pids


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def canvas_png() -> str:
    """A 280x280 drawing of a 7 as draw.js sends it after a stroke (a PNG data URL)."""
    buffer = io.BytesIO()
    seven(size=parts.CANVAS_SIDE, width=24).convert("RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def dependency(client: DashClient, input_id: str, output_id: str) -> dict:
    return next(d for d in client.dependencies()
                if any(item["id"] == input_id for item in d["inputs"]) and output_id in d["output"])


@pytest.mark.slow
def test_a_draw_prediction_does_not_load_tensorflow_into_the_web_process(web_server, tiny_store):
    base = web_server(tiny_store, WEB_CONCURRENCY="1")
    client = DashClient(base)
    for path in registered_paths():  # every page, with the callbacks its layout fires
        response, layout = client.render_page(path, "?run=tiny")
        assert response.status == 200, path
        for found, values in client.page_callbacks(layout):
            client.call(found, values)

    _, layout = client.render_page("/draw", "?run=tiny")
    values = dict(next(values for found, values in client.page_callbacks(layout)
                       if any(item["id"] == parts.DIGIT for item in found["inputs"])))
    stroke = client.call(dependency(client, parts.CANVAS_PNG, parts.DIGIT), {(parts.CANVAS_PNG, "data"): canvas_png()},
                         changed=[f"{parts.CANVAS_PNG}.data"])
    assert stroke.status == 200, stroke.text[:500]
    digit = stroke.json()["response"][parts.DIGIT]["data"]
    values[(parts.DIGIT, "data")] = digit
    answer = client.call(dependency(client, parts.DIGIT, parts.PROBABILITIES), values,
                         changed=[f"{parts.DIGIT}.data"])
    assert answer.status == 200 and "Traceback" not in answer.text, answer.text[:500]
    shown = answer.json()["response"]
    assert shown[parts.PROBABILITIES]["figure"]["data"][0]["type"] == "bar"  # the model answered
    assert shown[parts.MAPS]["figure"]["data"], "the walk's feature maps are drawn"

    port = int(base.rsplit(":", 1)[1])
    pids = listening_pids(port)
    maps = {pid: Path(f"/proc/{pid}/maps").read_text() for pid in pids}
    # The worker imported the app (numpy's extension is mapped); the master, without --preload, did not.
    workers = [pid for pid, text in maps.items() if "_multiarray_umath" in text]
    assert len(pids) == 2 and len(workers) == 1, f"gunicorn's master and its one worker hold port {port}: {pids}"
    for pid, text in maps.items():
        loaded = sorted({line.split()[-1] for line in text.splitlines()
                         if any(name in line for name in TENSORFLOW_LIBRARIES)})
        assert not loaded, f"process {pid} loaded TensorFlow: {loaded[:3]}"
    print(f"web worker VmRSS {rss_mb(workers[0]):.0f} MB after every page and a Draw prediction")
