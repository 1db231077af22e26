"""Settings are read from the app inside a request (the environment only outside one); one way to the store."""

from __future__ import annotations

import dataclasses
import os

from dashboard.settings import APP_CONFIG_KEY, Settings, current_settings
from dashboard.store_access import get_store


def test_inside_the_app_the_apps_settings_win_over_the_environment(tmp_path, monkeypatch):
    from dashboard.app import app

    monkeypatch.setenv("CNNVIZ_STORE", str(tmp_path / "from-environment"))
    monkeypatch.setenv("CNNVIZ_ALLOW_TRAINING", "1")
    built = app.server.config[APP_CONFIG_KEY]
    assert isinstance(built, Settings)
    ours = dataclasses.replace(built, store_root=tmp_path / "from-app", allow_training=False)
    monkeypatch.setitem(app.server.config, APP_CONFIG_KEY, ours)
    environ_before = dict(os.environ)

    with app.server.test_request_context("/train"):
        assert current_settings() is ours
        assert get_store().root == (tmp_path / "from-app").resolve()
    assert current_settings().store_root == tmp_path / "from-environment"
    assert current_settings().allow_training is True
    assert get_store().root == (tmp_path / "from-environment").resolve()
    assert dict(os.environ) == environ_before  # nothing writes the environment


def test_pages_read_the_apps_settings_in_a_request(tmp_path, monkeypatch):
    from dashboard.app import app
    from dashboard.pages.logic import runs

    monkeypatch.setenv("CNNVIZ_STORE", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_ALLOW_TRAINING", "1")
    off = dataclasses.replace(app.server.config[APP_CONFIG_KEY], store_root=tmp_path, allow_training=False)
    monkeypatch.setitem(app.server.config, APP_CONFIG_KEY, off)
    with app.server.test_request_context("/"):
        assert "cannot be deleted from the browser" in runs.delete_problem(get_store(), "tiny")
    assert runs.delete_problem(get_store(), "tiny") == "There is no such run."
