"""The Runs, Training and Metrics pages: layouts and callbacks called directly against real stores."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import dash
import numpy as np
import plotly.graph_objects as go
import plotly.io
import pytest
from plotly.utils import PlotlyJSONEncoder

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.pages.logic import metrics, runs, training
from dashboard.ui import ids
from tests.conftest import TINY_RUN_ID

ODD_IDS = ["..", "%2e%2e", "../tiny", "x" * 300, "ünïcødé", "tiny/../tiny", " tiny"]


@pytest.fixture(scope="module")
def pages():
    """The pages' logic modules: their layouts, ids and what their callbacks compute."""
    return {"runs": runs, "training": training, "metrics": metrics}


def call(function, *args):
    """Call a callback's own Python function (dash.callback may wrap it)."""
    return getattr(function, "__wrapped__", function)(*args)


def flatten(component) -> list[dict]:
    """Return every component in a layout tree as its plotly JSON dict."""
    found = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif hasattr(node, "to_plotly_json"):
            data = node.to_plotly_json()
            found.append(data)
            walk(data.get("props", {}).get("children"))

    walk(component)
    return found


def text_of(component) -> str:
    """Return all the strings in a layout tree, joined."""
    parts = []
    for node in flatten(component):
        children = node.get("props", {}).get("children")
        for child in children if isinstance(children, (list, tuple)) else [children]:
            if isinstance(child, (str, int, float)):
                parts.append(str(child))
    if isinstance(component, str):
        parts.append(component)
    return " ".join(parts)


def ids_in(component) -> set:
    return {node["props"].get("id") for node in flatten(component) if isinstance(node["props"].get("id"), str)}


def has_class(component, name: str) -> bool:
    return any(name in str(node["props"].get("className", "")).split() for node in flatten(component))


def props_by_id(component) -> dict:
    """Return the props of every component with a string id in a layout tree, by id."""
    return {node["props"]["id"]: node["props"] for node in flatten(component)
            if isinstance(node["props"].get("id"), str)}


def training_view(module, page) -> dict:
    """Return what a Training layout drew: its figures, message, content style, run store and note."""
    drawn = props_by_id(page)
    return {"curves": drawn[module.TRAINING_CURVES].get("figure"),
            "classes": drawn[module.TRAINING_CLASSES].get("figure"),
            "timing": drawn[module.TRAINING_TIMING].get("figure"),
            "message": drawn[module.TRAINING_MESSAGE]["children"],
            "style": drawn[module.TRAINING_CONTENT].get("style"), "run": drawn[module.TRAINING_RUN]["data"],
            "note": drawn[module.TRAINING_NOTE]["children"], "options": drawn[module.TRAINING_DIGIT]["options"]}


def metrics_view(module, page) -> dict:
    """Return what a Metrics layout drew: its table, figures, message, content style and run store."""
    drawn = props_by_id(page)
    return {"table": drawn[module.METRICS_TABLE]["children"], "bars": drawn[module.METRICS_BARS].get("figure"),
            "confusion": drawn[module.METRICS_CONFUSION].get("figure"),
            "message": drawn[module.METRICS_MESSAGE]["children"],
            "style": drawn[module.METRICS_CONTENT].get("style"), "run": drawn[module.METRICS_RUN]["data"],
            "options": drawn[module.METRICS_DIGIT]["options"]}


def view_of(module, **url) -> dict:
    """Return what the Training or Metrics layout draws for a URL's query (``run=`` names the run)."""
    page = module.layout(**{key: str(value) for key, value in url.items()})
    return (training_view if hasattr(module, "TRAINING_RUN") else metrics_view)(module, page)


def view_of_active(module, name: str, active) -> dict:
    """Return what the page draws when its URL names no run and the browser's active run is ``active``.

    The layout is then the page contract's shell; its one callback (``fill_page``) draws the body.
    """
    import dashboard.app  # noqa: F401  (registers the pages' bodies)
    from dashboard.ui.page import fill_page

    assert ids.PAGE_REQUEST in json.dumps(module.layout().to_plotly_json(), default=str)
    body = call(fill_page, {}, {"type": ids.PAGE_REQUEST, "page": name}, active)
    return (training_view if hasattr(module, "TRAINING_RUN") else metrics_view)(module, body)


@pytest.fixture
def set_props(monkeypatch) -> dict:
    """Record dash.set_props calls (callbacks write the app shell's stores with it) by component id."""
    written: dict = {}
    monkeypatch.setattr(dash, "set_props", lambda component_id, props: written.setdefault(component_id, props))
    return written


def second_run(store: Path, run_id: str = "tiny-b") -> str:
    """Copy the tiny run to a second run id in a writable store."""
    shutil.copytree(store / TINY_RUN_ID, store / run_id)
    # The copy's manifest still names the original, which the store refuses: fix it as text.
    path = store / run_id / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"run_id": run_id}))
    return run_id


def mark_running(store: Path, run_id: str) -> None:
    """Mark a copied run ``running``, with a live trainer's heartbeat (this test process).

    The copy keeps the tiny run's old heartbeat, whose trainer has exited: without a fresh
    one the run is stale, and rightly shown failed, as soon as that heartbeat is 30 s old.
    """
    run = ArtifactStore(store).run(run_id)
    run.update_manifest(status=fmt.STATUS_RUNNING)
    run.write_heartbeat(os.getpid(), socket.gethostname())


# -- Runs -------------------------------------------------------------------


def test_runs_page_lists_runs_and_sets_the_active_run(pages, tiny_store, use_store, set_props):
    use_store(tiny_store)
    runs = pages["runs"]
    page = runs.layout()
    words = text_of(page)
    assert TINY_RUN_ID in words and "complete" in words and "mnist-sample" in words and "conv" in words
    assert {runs.RUNS_SELECT, runs.RUNS_COMPARE_SELECT, runs.RUNS_QUERY}.issubset(ids_in(page))
    options = [{"label": "tiny", "value": "tiny"}]
    assert call(runs.initial_run, {"run": None}, None, options) == "tiny"
    assert call(runs.initial_run, {"run": None}, "gone", options) == "tiny"
    query, note, compare = call(runs.show_runs, "tiny", "", "light")
    assert set_props[ids.ACTIVE_RUN] == {"data": "tiny"} and query == "?run=tiny"
    assert "Choose a second run" in text_of(compare)


def test_runs_page_compares_two_runs(pages, store_copy, use_store, set_props):
    use_store(store_copy)
    other = second_run(store_copy)
    runs = pages["runs"]
    options = [{"value": other}, {"value": "tiny"}]
    assert call(runs.initial_run, {"run": None}, "tiny", options) == "tiny"  # the stored active run
    assert call(runs.initial_run, {"run": other}, "tiny", options) == other  # the URL wins
    query, _note, compare = call(runs.show_runs, "tiny", other, "dark")
    assert query == f"?compare={other}&run=tiny"
    figures = [node["props"]["figure"] for node in flatten(compare) if "figure" in node["props"]]
    assert len(figures) == 3
    f1 = figures[1]
    np.testing.assert_allclose(f1.data[0].y, 0.0)  # a copy differs from its original nowhere
    assert all(len(plotly.io.to_json(figure)) < 200_000 for figure in figures)


def test_runs_page_lists_running_failed_and_broken_runs(pages, store_copy, use_store):
    use_store(store_copy)
    failed = ArtifactStore(store_copy).run(second_run(store_copy, "was-failed"))
    failed.update_manifest(status="failed")
    broken = second_run(store_copy, "broken")
    (store_copy / broken / "manifest.json").write_text("{not json")
    page = pages["runs"].layout()
    words = text_of(page)
    assert "Run 'broken' cannot be read" in words and "manifest.json" in words
    assert "failed" in words and TINY_RUN_ID in words
    select = next(node for node in flatten(page) if node["props"].get("id") == pages["runs"].RUNS_SELECT)
    disabled = {option["value"]: option["disabled"] for option in select["props"]["options"]}
    assert disabled == {"was-failed": True, TINY_RUN_ID: False}


# -- Training ---------------------------------------------------------------


def test_training_page_draws_the_history(pages, tiny_store, use_store):
    use_store(tiny_store)
    training = pages["training"]
    page = training.layout(run="tiny", digit="3")
    assert {training.TRAINING_CURVES, training.TRAINING_CLASSES, training.TRAINING_DIGIT}.issubset(ids_in(page))
    digit = next(n for n in flatten(page) if n["props"].get("id") == training.TRAINING_DIGIT)
    assert digit["props"]["value"] == 3
    view = view_of(training, run="tiny", digit=3)
    curves, classes, timing, message, style, run_id = (view[k] for k in ("curves", "classes", "timing", "message",
                                                                          "style", "run"))
    history = ArtifactStore(tiny_store).run("tiny").history()
    np.testing.assert_allclose(curves.data[1].y, history["val_loss"])
    assert len(classes.data) == 10 and classes.data[3].line.width > classes.data[2].line.width
    assert isinstance(timing, go.Figure) and style == {} and run_id == "tiny" and "tiny" in text_of(message)
    # Without a run in the URL: the active run, else the newest complete run.
    assert view_of_active(training, "training", "gone")["run"] == "tiny"
    # The class filter's rule, which the browser applies (tests/browser/test_issue12_pages_browser.py):
    # every line's width and opacity for each choice.
    styles = training.digit_styles()
    assert json.dumps(styles) and all(len(styles[key]) == 10 for key in ("all", *map(str, range(10))))
    assert all({"width", "opacity"} <= set(style) for style in styles["5"])
    download = call(training.download_history, 1, "tiny")
    assert download["filename"] == "tiny-history.csv" and "val_class_9" in download["content"]


def test_training_page_shows_corrupted_history_as_an_error_card(pages, store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    (store_copy / other / "history.jsonl").write_text('{"epoch": 1, "loss": \n')
    training = pages["training"]
    view = view_of(training, run=other)
    message, style, run_id = view["message"], view["style"], view["run"]
    assert has_class(message, "error-card") and "history.jsonl" in text_of(message)
    assert style == {"display": "none"} and run_id is None
    assert view_of(training, run="tiny")["run"] == "tiny"  # the other run still works


# -- Metrics ----------------------------------------------------------------


def test_metrics_page_draws_table_bars_and_confusion(pages, tiny_store, use_store):
    use_store(tiny_store)
    metrics = pages["metrics"]
    page = metrics.layout(run="tiny", digit="3", cell="3-5", mode="normalized")
    cell = next(n for n in flatten(page) if n["props"].get("id") == metrics.METRICS_CELL)
    assert cell["props"]["data"] == "3-5"
    view = metrics_view(metrics, page)
    table, bars, confusion, style, run_id = (view[k] for k in ("table", "bars", "confusion", "style", "run"))
    run = ArtifactStore(tiny_store).run("tiny")
    np.testing.assert_allclose(bars.data[2].y, run.class_metrics()["f1"])
    np.testing.assert_allclose(np.asarray(confusion.data[0].z).sum(axis=1)[run.confusion().sum(axis=1) > 0], 1.0)
    assert run_id == "tiny" and style == {} and "F1" in text_of(table)
    table, bars_patch, confusion_patch = call(metrics.highlight, 7, "counts", "tiny", "dark")
    operations = confusion_patch.to_plotly_json()["operations"]
    z = next(op for op in operations if op["location"] == ["data", 0, "z"])["params"]["value"]
    np.testing.assert_array_equal(z, run.confusion())
    assert json.dumps(bars_patch.to_plotly_json(), cls=PlotlyJSONEncoder)  # what Dash sends must serialize
    assert json.dumps(operations, cls=PlotlyJSONEncoder)


def test_metrics_cell_click_opens_the_gallery_and_the_digit_filter_changes_it(pages, tiny_store, use_store):
    use_store(tiny_store)
    metrics = pages["metrics"]
    run = ArtifactStore(tiny_store).run("tiny")
    predictions = run.predictions()
    true, guess = int(predictions["labels"][0]), int(predictions["predicted"][0])
    cell = call(metrics.choose_cell, {"points": [{"x": guess, "y": true, "z": 1}]})
    assert cell == f"{true}-{guess}"
    assert call(metrics.choose_digit, 4, "counts", "tiny", "light")[3] is None  # another digit clears the cell
    figure, style, title, shown, _detail = call(metrics.gallery, cell, "all", "tiny", "light")
    expected = np.flatnonzero((predictions["labels"] == true) & (predictions["predicted"] == guess))
    assert set(shown) <= set(expected.tolist()) and len(shown) == min(len(expected), metrics.GALLERY_LIMIT)
    assert style == {} and f"True {true}, predicted {guess}" in text_of(title)
    assert len(figure.data) == 1 and len(plotly.io.to_json(figure)) < 400_000
    mistakes = [call(metrics.gallery, None, digit, "tiny", "light")[3] for digit in ("all", 0, 1)]
    assert mistakes[0] != mistakes[1] or mistakes[0] != mistakes[2]


def test_metrics_gallery_click_opens_probes_and_shows_other_digits(pages, tiny_store, use_store):
    use_store(tiny_store)
    metrics = pages["metrics"]
    run = ArtifactStore(tiny_store).run("tiny")
    probe_ids = run.probes()["ids"]
    others = [i for i in range(len(run.predictions()["labels"])) if i not in set(probe_ids.tolist())]
    shown = [int(probe_ids[2]), others[0]]
    href, detail = call(metrics.open_digit, {"points": [{"x": 3, "y": 3}]}, shown, "tiny", "light")
    assert href == "/activations?probe=2&run=tiny"
    tile_two = {"points": [{"x": 31 + 3, "y": 3}]}
    href, detail = call(metrics.open_digit, tile_two, shown, "tiny", "light")
    assert href is dash.no_update and f"Test digit #{others[0]}" in text_of(detail)
    assert any(node["props"].get("id") == "metrics-probabilities" for node in flatten(detail))


def test_metrics_page_shows_a_broken_confusion_matrix_as_an_error_card(pages, store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    (store_copy / other / "confusion.npy").write_bytes(b"not an npy file")
    metrics = pages["metrics"]
    view = view_of(metrics, run=other)
    message, run_id = view["message"], view["run"]
    assert has_class(message, "error-card") and "confusion.npy" in text_of(message) and run_id is None
    assert view_of(metrics, run="tiny")["run"] == "tiny"


# -- Every page: empty store, odd ids ---------------------------------------


@pytest.mark.parametrize("name", ["runs", "training", "metrics"])
def test_empty_store_shows_onboarding(pages, tmp_path, use_store, name):
    use_store(tmp_path / "empty")
    page = pages[name].layout()
    assert has_class(page, "onboarding") and not any(node["type"] == "Graph" for node in flatten(page))


@pytest.mark.parametrize("name", ["runs", "training", "metrics"])
@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_run_ids_in_the_url_give_an_on_page_message(pages, tiny_store, use_store, name, odd):
    use_store(tiny_store)
    page = pages[name].layout(run=odd, compare=odd)
    assert "not a valid run id" in text_of(page)


@pytest.mark.parametrize("name", ["training", "metrics"])
def test_a_missing_or_unfinished_run_gives_an_error_card(pages, store_copy, use_store, name):
    use_store(store_copy)
    mark_running(store_copy, second_run(store_copy, "still-running"))
    module = pages[name]
    for run_id, words in (("nope", "There is no run 'nope'"), ("still-running", "is running, not complete")):
        message = view_of(module, run=run_id)["message"]
        assert has_class(message, "error-card") and words in text_of(message)
