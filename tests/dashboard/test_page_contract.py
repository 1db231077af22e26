"""The page contract (issue 11): one rule for the run a page shows, resolved once per page load."""

from __future__ import annotations

import json

import pytest

import dashboard.store_access
from dashboard.pages.logic import activations, draw, model
from dashboard.ui import ids
from dashboard.ui.page import fill_page
from tests.dashboard.test_pages_model_activations import call, texts
from tests.dashboard.test_pages_runs_metrics import second_run

PAGES = ("model", "activations", "draw")


@pytest.fixture
def two_runs(store_copy, use_store):
    """A store with ``tiny`` (the newest complete run) and an older complete ``tiny-b``."""
    use_store(store_copy)
    older = second_run(store_copy, "tiny-b")
    path = store_copy / older / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"created": "2000-01-01T00:00:00+00:00"}))
    return store_copy


def page(name: str):
    import dashboard.app  # noqa: F401  (registers the pages)

    return {"model": model, "activations": activations, "draw": draw}[name]


@pytest.mark.parametrize("name", PAGES)
def test_a_bare_url_shows_the_active_run_else_the_newest_complete_one(two_runs, name):
    shell = page(name).layout()
    assert ids.PAGE_REQUEST in texts(shell) and "run tiny" not in texts(shell)
    request = {"type": ids.PAGE_REQUEST, "page": name}
    assert "run tiny-b" in texts(call(fill_page, None, {}, request, "tiny-b"))
    for active in (None, "nope", "../x"):  # no active run, or one that no longer resolves
        body = texts(call(fill_page, None, {}, request, active))
        assert "run tiny" in body and "run tiny-b" not in body
    # The URL's run wins over the active run.
    assert "run tiny-b" in texts(page(name).layout(run="tiny-b"))


def test_the_activation_explorer_resolves_its_run_once_per_load(two_runs, monkeypatch):
    calls = []
    resolve = dashboard.store_access.resolve_run
    monkeypatch.setattr(dashboard.store_access, "resolve_run", lambda *a, **k: calls.append(a) or resolve(*a, **k))
    explorer = page("activations")
    explorer.layout(run="tiny", probe="4")
    call(explorer.draw_picker, None, "all", 4, "light", "tiny")
    call(explorer.draw_digit, None, 4, 2, "light", "tiny")
    args = (4, "conv_1", 0, 2, False, "all", "light", "tiny")
    call(explorer.draw_mosaic, None, *args)
    call(explorer.draw_surface, None, *args, None)
    call(explorer.draw_stack, None, 4, 2, "light", "tiny")
    assert len(calls) == 1
