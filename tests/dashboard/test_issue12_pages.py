"""Issue 12 on the Runs, Training, Metrics and Train pages: drawn in the layout, themes sent as patches."""

from __future__ import annotations

import copy
import json

import plotly.io

from artifacts import ArtifactStore
from dashboard.figures.metrics import class_metrics_figure, confusion_figure, f1_difference_figure
from dashboard.figures.training import compare_curves_figure, curves_figure
from dashboard.pages.logic import metrics, runs, train, training
from dashboard.store_access import choose_run
from dashboard.ui.drawn_page import template_json, theme_patch
from tests.dashboard.test_pages_runs_metrics import call, flatten, ids_in, second_run, text_of


def graphs(component) -> dict:
    """Return the figures a layout carries, by graph id (graphs drawn by a callback later are absent)."""
    return {node["props"]["id"]: node["props"]["figure"] for node in flatten(component)
            if node["type"] == "Graph" and node["props"].get("figure") is not None}


def apply(figure: dict, patch) -> dict:
    """Apply a Dash Patch's operations to a figure's JSON, as the browser does (Assign and Delete)."""
    result = copy.deepcopy(figure)
    for operation in patch.to_plotly_json()["operations"]:
        *path, last = operation["location"]
        node = result
        for key in path:
            node = node[key]
        if operation["operation"] == "Assign":
            node[last] = operation["params"]["value"]
        else:
            assert operation["operation"] == "Delete", operation
            del node[last]
    return result


def as_json(figure) -> dict:
    return json.loads(plotly.io.to_json(figure))


def test_a_theme_patch_turns_one_theme_into_the_other_without_the_data(tiny_store):
    run = ArtifactStore(tiny_store).run("tiny")
    history, matrix = run.history(), run.confusion()
    builders = [lambda theme: curves_figure(history, theme),
                lambda theme: confusion_figure(matrix, "normalized", 3, theme, None, (3, 5))]
    for build in builders:
        for old, new in (("light", "dark"), ("dark", "light")):
            patch = theme_patch(build, new)
            assert apply(as_json(build(old)), patch) == as_json(build(new))
            locations = [operation["location"] for operation in patch.to_plotly_json()["operations"]]
            assert ["layout", "template"] in locations
            assert not any(location[-1] in ("x", "y", "z", "text", "customdata") for location in locations)
            assert len(json.dumps(patch.to_plotly_json())) < len(plotly.io.to_json(build(new)))


def test_training_draws_its_figures_in_the_layout(tiny_store, use_store):
    use_store(tiny_store)
    page = training.layout(run="tiny", digit="3")
    drawn = graphs(page)
    assert set(drawn) == {training.TRAINING_CURVES, training.TRAINING_CLASSES, training.TRAINING_TIMING}
    figure = drawn[training.TRAINING_CLASSES]
    assert len(figure.data) == 10 and figure.data[3].line.width > figure.data[2].line.width
    run_store = next(node for node in flatten(page) if node["props"].get("id") == training.TRAINING_RUN)
    assert run_store["props"]["data"] == "tiny"
    # The three figures' themes differ in their template alone: the browser swaps it (swap_templates).
    run = ArtifactStore(tiny_store).run("tiny")
    history = run.history()
    for build in (lambda t: training.curves_figure(history, t),
                  lambda t: training.class_accuracy_figure(history, 3, t, None),
                  lambda t: training.timing_figure(history, t)):
        for theme in ("dark", "light"):
            operations = theme_patch(build, theme).to_plotly_json()["operations"]
            assert operations == [{"operation": "Assign", "location": ["layout", "template"],
                                   "params": {"value": template_json(theme)}}]


def test_training_without_a_url_run_leaves_the_choice_to_the_page_contract(tiny_store, use_store):
    use_store(tiny_store)
    page = training.layout()
    assert graphs(page) == {}  # the browser's active run is not known here
    body = training.body(choose_run(None, None), {"digit": "2"})
    assert set(graphs(body)) == {training.TRAINING_CURVES, training.TRAINING_CLASSES, training.TRAINING_TIMING}


def test_the_figures_whose_template_the_browser_swaps_differ_in_nothing_else(store_copy):
    store = ArtifactStore(store_copy)
    first, second = store.run("tiny"), store.run(second_run(store_copy))
    builders = [lambda t: class_metrics_figure(first.class_metrics(), 3, t),  # Metrics bars
                lambda t: compare_curves_figure(first.history(), second.history(), "a", "b", t),  # Runs
                lambda t: f1_difference_figure(first.class_metrics(), second.class_metrics(), "a", "b", t)]
    for build in builders:
        for theme in ("dark", "light"):
            operations = theme_patch(build, theme).to_plotly_json()["operations"]
            assert [op["location"] for op in operations] == [["layout", "template"]]


def test_metrics_draws_figures_and_gallery_in_the_layout(tiny_store, use_store):
    use_store(tiny_store)
    page = metrics.layout(run="tiny", digit="3", cell="3-5", mode="normalized")
    drawn = graphs(page)
    assert {metrics.METRICS_BARS, metrics.METRICS_CONFUSION}.issubset(drawn)
    confusion = drawn[metrics.METRICS_CONFUSION]
    assert len(confusion.layout.shapes) == 3 and confusion.layout.shapes[2].x0 == 4.5  # row, column, the cell
    assert confusion.data[0].colorbar.title.text == "share of row"
    assert "True 3, predicted 5" in text_of(page)


def test_metrics_interactions_are_one_callback_each(tiny_store, use_store):
    use_store(tiny_store)
    table, bars, confusion, cell, tiles, style, title, shown, _detail = call(
        metrics.choose_digit, 4, "counts", "tiny", "light")
    assert cell is None and "involving digit 4" in text_of(title)
    shapes = next(op for op in confusion.to_plotly_json()["operations"] if op["location"] == ["layout", "shapes"])
    assert len(shapes["params"]["value"]) == 2
    run = ArtifactStore(tiny_store).run("tiny")
    predictions = run.predictions()
    true, guess = int(predictions["labels"][0]), int(predictions["predicted"][0])
    cell, mark, tiles, style, title, shown, _detail = call(
        metrics.click_cell, {"points": [{"x": guess, "y": true}]}, "all", "tiny", "light")
    assert cell == f"{true}-{guess}" and f"True {true}, predicted {guess}" in text_of(title)
    patch = call(metrics.choose_mode, "normalized", "all", "tiny", "light")
    operations = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    assert operations[("data", 0, "colorbar", "title", "text")] == "share of row"


def test_runs_draws_the_url_run_and_its_comparison_in_the_layout(store_copy, use_store):
    use_store(store_copy)
    other = second_run(store_copy)
    page = runs.layout(run="tiny", compare=other)
    select = next(node for node in flatten(page) if node["props"].get("id") == runs.RUNS_SELECT)
    assert select["props"]["value"] == "tiny"
    assert set(graphs(page)) == {runs.RUNS_COMPARE_CURVES, runs.RUNS_COMPARE_F1, runs.RUNS_COMPARE_CONFUSION}
    assert runs.RUNS_URL not in ids_in(page)  # nothing to ask the browser at load
    patch = call(runs.retheme, "dark", "tiny", other).to_plotly_json()
    assert [op["location"] for op in patch["operations"]] == [["data", 0, "colorscale"], ["layout", "template"]]
    assert call(runs.retheme, "dark", "tiny", runs.NO_COMPARE) is runs.dash.no_update


def test_train_shows_the_default_network_preview_in_the_layout(tiny_store, use_store):
    use_store(tiny_store)
    page = train.layout()
    preview = next(node for node in flatten(page) if node["props"].get("id") == train.TRAIN_PREVIEW)
    assert "total" in text_of(preview["props"]["children"])
    rows = [node["props"].get("style") for node in flatten(page)
            if isinstance(node["props"].get("id"), dict) and node["props"]["id"].get("type") == train.TRAIN_BLOCK_ROW]
    assert rows == train.show_blocks(len(train.DEFAULTS.conv_blocks))
