"""Deployment: gunicorn from the Procfile serves every page; settings; auth; compression; health."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import urllib.request

import pytest

from dashboard.settings import Settings, SettingsError
from tests.conftest import ROOT
from tests.support.dashclient import DashClient
from tests.support.servers import procfile_command

PAGES = ["/", "/model", "/training", "/metrics", "/activations", "/learning", "/train", "/draw"]


def registered_paths() -> list[str]:
    """Return the paths of the pages the app registers (imports the app: no TensorFlow)."""
    import dash

    import dashboard.app  # noqa: F401  (registers the pages)

    return [page["relative_path"] for page in dash.page_registry.values() if page.get("nav") is not False]


def test_every_product_page_is_registered():
    assert set(PAGES) <= set(registered_paths())


def test_procfile_declares_web_and_worker():
    web = procfile_command("web")
    assert web.startswith("gunicorn dashboard.app:server")
    assert "--bind 0.0.0.0:$PORT" in web
    assert procfile_command("worker").startswith("celery -A dashboard.training.worker worker")
    assert (ROOT / ".python-version").read_text().strip().startswith("3.11")


def has_drawn_figure(node) -> bool:
    """True when a layout (JSON) holds a graph whose figure has at least one trace."""
    if isinstance(node, dict):
        figure = node.get("figure")
        if isinstance(figure, dict) and figure.get("data"):
            return True
        return any(has_drawn_figure(value) for value in node.values())
    if isinstance(node, list):
        return any(has_drawn_figure(value) for value in node)
    return False


@pytest.mark.slow
def test_gunicorn_from_procfile_serves_every_page_and_healthz(web_server, tiny_store):
    base = web_server(tiny_store)
    client = DashClient(base)
    health = client.get("/healthz")
    assert health.status == 200
    state = health.json()
    assert state["status"] == "ok" and state["complete_runs"] == 1 and state["store_exists"] is True

    for path in registered_paths():
        page = client.get(path)
        assert page.status == 200, path
        assert b"<html" in page.body.lower()
        response, layout = client.render_page(path, "?run=tiny")
        assert response.status == 200, (path, response.text[:300])
        assert "Traceback" not in response.text
        assert layout is not None
        fired = 0
        for dependency, values in client.page_callbacks(layout):
            reply = client.call(dependency, values)
            fired += 1
            assert reply.status in (200, 204), (path, dependency["output"], reply.text[:500])
            assert "Traceback" not in reply.text
            assert "could not be handled" not in reply.text, (path, dependency["output"], reply.text[:500])
        # Pages drawn in their layout (issue 12) need no callback at load: they show the run, a figure,
        # or (Train) the default network's layers already.
        text = json.dumps(layout)
        drawn = '"tiny"' in text or has_drawn_figure(layout) or (path == "/train" and "conv_1" in text)
        assert fired > 0 or drawn or path == "/404", f"{path} shows nothing and fires no callback on load"


@pytest.mark.slow
def test_compressed_responses_and_no_debug(web_server, tiny_store):
    base = web_server(tiny_store)
    request = urllib.request.Request(base + "/_dash-layout", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.headers.get("Content-Encoding") == "gzip"
    with urllib.request.urlopen(base + "/", timeout=10) as reply:
        page = reply.read().decode()
    config = json.loads(re.search(r'<script id="_dash-config"[^>]*>(.*?)</script>', page).group(1))
    assert config["ui"] is False  # dev tools (and their tracebacks) are off


@pytest.mark.slow
def test_basic_auth_protects_everything_but_healthz(web_server, tiny_store):
    base = web_server(tiny_store, CNNVIZ_BASIC_AUTH="teacher:s3cret")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "/", timeout=10)
    assert refused.value.code == 401
    token = base64.b64encode(b"teacher:s3cret").decode()
    request = urllib.request.Request(base + "/", headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
    with urllib.request.urlopen(base + "/healthz", timeout=10) as reply:
        assert reply.status == 200


def test_settings_defaults_and_types(tmp_path):
    defaults = Settings.from_env({})
    assert defaults.port == 8050 and defaults.debug is False and defaults.allow_training is True
    assert defaults.redis_url is None and defaults.basic_auth is None
    assert defaults.max_upload_bytes == 2 * 1024 * 1024
    custom = Settings.from_env(
        {"PORT": "9000", "CNNVIZ_STORE": str(tmp_path), "CNNVIZ_ALLOW_TRAINING": "0",
         "REDIS_URL": "redis://127.0.0.1:6379/0", "CNNVIZ_BASIC_AUTH": "a:b", "CNNVIZ_DEBUG": "true"}
    )
    assert custom.port == 9000 and custom.store_root == tmp_path and custom.allow_training is False
    assert custom.redis_url == "redis://127.0.0.1:6379/0" and custom.basic_auth == ("a", "b") and custom.debug


@pytest.mark.parametrize(
    "environ, name",
    [({"PORT": "eighty"}, "PORT"), ({"PORT": "70000"}, "PORT"), ({"CNNVIZ_ALLOW_TRAINING": "maybe"},
     "CNNVIZ_ALLOW_TRAINING"), ({"CNNVIZ_BASIC_AUTH": "nopassword"}, "CNNVIZ_BASIC_AUTH")],
)
def test_settings_reject_bad_values_naming_the_variable(environ, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(environ)


def test_importing_the_app_leaves_tensorflow_out():
    code = "import sys, dashboard.app; assert 'tensorflow' not in sys.modules, 'tensorflow imported'; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
