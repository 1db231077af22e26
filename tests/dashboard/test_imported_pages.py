"""Pages on a model imported with ``python -m pipeline import`` (issue 16): shown where they can be, a clear
message where they cannot, never an error card."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from artifacts.store import ArtifactStore
from dashboard.pages.logic import activations, draw, learning, metrics, model, runs, training
from dashboard.report import build_report
from dashboard.ui import ids
from dashboard.ui.page import fill_page
from tests.conftest import ROOT, run_pipeline, subprocess_env
from tests.dashboard.test_pages_runs_metrics import call, has_class, props_by_id, text_of

RUN = "imported-convnet"
UNSUPPORTED = "this view does not yet support imported models"
NO_TEST_EPOCHS = "needs the test set at every training epoch; an imported model has one"
BUILD = """
import sys, keras
keras.utils.set_random_seed(1)
keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                  keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                  keras.layers.Dense(10, activation="softmax")]).save(sys.argv[1])
"""


@pytest.fixture(scope="module")
def imported_store(tmp_path_factory) -> Path:
    """A store holding one imported model, written by the real command (TensorFlow stays in subprocesses)."""
    folder = tmp_path_factory.mktemp("imported")
    path = folder / "convnet.keras"
    subprocess.run([sys.executable, "-c", BUILD, str(path)], check=True, env=subprocess_env(), cwd=ROOT,
                   capture_output=True, timeout=600)
    store = folder / "store"
    result = run_pipeline("import", str(path), "--dataset", "mnist-sample", "--store", str(store), "--run-id", RUN,
                          "--input-scale", "1")
    assert result.returncode == 0, result.stderr
    return store


@pytest.fixture
def shown(imported_store, use_store):
    use_store(imported_store)
    import dashboard.app  # noqa: F401  (registers the pages' bodies)

    return imported_store


def test_runs_page_lists_it_as_imported_with_its_accuracy(shown):
    page = runs.layout()
    row = text_of(page)
    assert RUN in row and runs.IMPORTED in row and "imported: Conv2D / MaxPooling2D / Flatten / Dense" in row
    assert "%" in row and not has_class(page, "error-card")


def test_metrics_page_shows_its_per_class_metrics_and_confusion_matrix(shown):
    page = metrics.layout(run=RUN)
    props = props_by_id(page)
    assert not has_class(page, "error-card")
    assert props[metrics.METRICS_CONFUSION]["figure"]["data"], "the confusion matrix is drawn"
    assert "test digits" in text_of(page)


def test_training_page_says_there_is_no_history_instead_of_empty_charts(shown):
    page = training.layout(run=RUN)
    assert "Imported model: no training history" in text_of(page)
    assert not has_class(page, "error-card")
    assert props_by_id(page)[training.TRAINING_CONTENT]["style"] == {"display": "none"}


# Issue 16 changed these pages' behaviour: Architecture and Activations now show an imported model
# (tests/dashboard/test_imported_layer_pages.py checks them on four foreign models), Draw runs it
# (tests/dashboard/test_draw_imported.py); Learning says what it needs.
@pytest.mark.parametrize("page, message", [(learning, NO_TEST_EPOCHS)], ids=["learning"])
def test_pages_it_cannot_fill_say_why(shown, page, message):
    named = page.layout(run=RUN)
    assert message in text_of(named) and not has_class(named, "error-card")
    name = page.__name__.rsplit(".", 1)[-1]
    active = call(fill_page, {}, {"type": ids.PAGE_REQUEST, "page": name}, RUN)
    assert message in text_of(active) and not has_class(active, "error-card")


def test_the_draw_page_runs_it(shown):
    named = draw.layout(run=RUN)
    assert UNSUPPORTED not in text_of(named) and not has_class(named, "error-card")
    active = call(fill_page, {}, {"type": ids.PAGE_REQUEST, "page": "draw"}, RUN)
    assert UNSUPPORTED not in text_of(active) and not has_class(active, "error-card")
    assert draw.warm_up(RUN) == ("model ready", "success")


@pytest.mark.parametrize("page, layer_id", [(model, model.LAYER), (activations, activations.LAYER)],
                         ids=["architecture", "activations"])
def test_architecture_and_activations_show_it(shown, page, layer_id):
    spatial = {model.LAYER: ["conv2d"], activations.LAYER: ["conv2d", "max_pooling2d"]}[layer_id]
    name = page.__name__.rsplit(".", 1)[-1]
    for drawn in (page.layout(run=RUN), call(fill_page, {}, {"type": ids.PAGE_REQUEST, "page": name}, RUN)):
        assert UNSUPPORTED not in text_of(drawn) and not has_class(drawn, "error-card")
        assert props_by_id(drawn)[layer_id]["options"] == spatial


def test_its_report_shows_its_metrics_filters_and_probes_and_says_it_has_no_history(shown):
    report = build_report(ArtifactStore(shown).run(RUN))
    assert "Metrics on the test split" in report and "An imported model has no training history" in report
    assert 'id="filters-conv2d"' in report and "conv2d (Conv2D, 26x26x8)" in report
    assert "cannot be shown for this run" not in report and "Traceback" not in report
