"""Issue 9 on the Training, Metrics and Train pages: cancelled runs, class names, the chosen cell, dark mode,
the validation note, the form's limits and the status panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.pages.logic import metrics, runs, training
from dashboard.training.jobs import JobStatus
from tests.dashboard.test_pages_runs_metrics import (
    call,
    flatten,
    mark_running,
    second_run,
    text_of,
    view_of,
    view_of_active,
)


@pytest.fixture(scope="module")
def pages():
    """The pages' logic modules: their layouts, ids and what their callbacks compute."""
    return {"runs": runs, "training": training, "metrics": metrics}

FORM = dict(epochs=2, batch_size=64, learning_rate=0.001, seed=1, blocks=2, filters=[8, 16, 32],
            kernels=["3", "5", "3"], strides=["1", "1", "1"], paddings=["valid", "valid", "same"],
            activations=["relu", "leaky_relu", "relu"], poolings=[True, True, False], dense_units=32,
            dropout=0.25, augmentation=False)


def cancelled_copy(store, epochs_done: int = 1) -> str:
    """Make a copy of the tiny run look cancelled after ``epochs_done`` of 5 epochs (no evaluation files)."""
    run_id = second_run(store, "was-cancelled")
    run = ArtifactStore(store).run(run_id)
    manifest = run.manifest()
    lines = (store / run_id / fmt.HISTORY).read_text().splitlines()[:epochs_done]
    (store / run_id / fmt.HISTORY).write_text("\n".join(lines) + "\n")
    for name in (fmt.CLASS_METRICS, fmt.CONFUSION, fmt.PREDICTIONS):
        (store / run_id / name).unlink()
    # As the pipeline leaves a cancelled run: no metrics (they come from the evaluation it never reached).
    run.write_manifest({**{k: v for k, v in manifest.items() if k != "metrics"}, "status": fmt.STATUS_CANCELLED,
                        "config": {**manifest["config"], "epochs": 5}})
    return run_id


def test_a_cancelled_run_shows_its_finished_epochs_on_the_training_page(pages, store_copy, use_store):
    use_store(store_copy)
    run_id = cancelled_copy(store_copy)
    view = view_of(pages["training"], run=run_id)
    curves, message, style, shown = view["curves"], view["message"], view["style"], view["run"]
    assert style == {} and shown == run_id
    assert len(curves.data[0].x) == 1
    words = text_of(message)
    assert "cancelled" in words and "of the 5" in words and "appear once it completes" not in words


def test_a_cancelled_run_says_why_the_metrics_page_has_no_metrics(pages, store_copy, use_store):
    use_store(store_copy)
    run_id = cancelled_copy(store_copy)
    view = view_of(pages["metrics"], run=run_id)
    message, style, shown = view["message"], view["style"], view["run"]
    words = text_of(message)
    assert "cancelled" in words and "after 1 of 5 epochs" in words and "Training page" in words
    assert "appear once it completes" not in words and style == {"display": "none"} and shown is None


def test_the_runs_table_shows_the_epochs_actually_trained(pages, store_copy, use_store):
    use_store(store_copy)
    run_id = cancelled_copy(store_copy, epochs_done=2)
    assert "metrics" not in ArtifactStore(store_copy).run(run_id).manifest()
    words = text_of(pages["runs"].layout())
    assert "2 of 5" in words


def fashion_copy(store) -> str:
    run_id = second_run(store, "fashion")
    ArtifactStore(store).run(run_id).update_manifest(**{fmt.CLASS_NAMES: list(fmt.FASHION_CLASS_NAMES)})
    return run_id


def test_fashion_runs_are_labelled_with_their_class_names(pages, store_copy, use_store):
    use_store(store_copy)
    run_id = fashion_copy(store_copy)
    classes = view_of(pages["training"], run=run_id)["classes"]
    assert [trace.name for trace in classes.data][9] == "Ankle boot"
    assert "digit" not in classes.layout.title.text
    view = view_of(pages["metrics"], run=run_id)
    table, bars, confusion = view["table"], view["bars"], view["confusion"]
    assert "Ankle boot" in text_of(table) and "digit" not in text_of(table)
    assert list(confusion.layout.xaxis.ticktext) == list(fmt.FASHION_CLASS_NAMES)
    assert list(bars.layout.xaxis.ticktext)[0] == "T-shirt/top"
    for page in ("metrics", "training"):  # the class filter, whether the URL or the active run names the run
        for view in (view_of(pages[page], run=run_id), view_of_active(pages[page], page, run_id)):
            assert [option["label"] for option in view["options"]][1:] == list(fmt.FASHION_CLASS_NAMES)
    _figure, _style, title, _shown, _detail = call(pages["metrics"].gallery, "0-6", "all", run_id, "light")
    assert "True T-shirt/top, predicted Shirt" in text_of(title)


def test_old_runs_without_class_names_are_digits(pages, tiny_store, use_store):
    use_store(tiny_store)
    classes = view_of(pages["training"], run="tiny")["classes"]
    assert classes.data[3].name == "digit 3"


def test_the_chosen_confusion_cell_is_marked(pages, tiny_store, use_store):
    use_store(tiny_store)
    patch = call(pages["metrics"].mark_cell, "3-5", "all", "tiny", "light").to_plotly_json()
    shapes = next(op for op in patch["operations"] if op["location"] == ["layout", "shapes"])["params"]["value"]
    assert len(shapes) == 1
    assert (shapes[0]["x0"], shapes[0]["x1"], shapes[0]["y0"], shapes[0]["y1"]) == (4.5, 5.5, 2.5, 3.5)
    with_digit = call(pages["metrics"].mark_cell, "3-5", 3, "tiny", "light").to_plotly_json()
    assert len(next(op for op in with_digit["operations"])["params"]["value"]) == 3
    cleared = call(pages["metrics"].mark_cell, None, "all", "tiny", "light").to_plotly_json()
    assert next(op for op in cleared["operations"])["params"]["value"] == []


def test_the_dark_difference_heatmap_has_a_dark_middle():
    from dashboard.figures.metrics import confusion_difference_figure

    matrix = np.eye(10, dtype=int) * 5
    dark = confusion_difference_figure(matrix, matrix + 1, "counts", "A", "B", "dark")
    middle = [color for position, color in dark.data[0].colorscale if position == 0.5][0]
    red, green, blue = (int(middle[i:i + 2], 16) for i in (1, 3, 5))
    assert max(red, green, blue) < 80  # no bright white grid on the dark page


def test_the_training_page_explains_validation_above_training():
    from dashboard.figures.training import validation_note

    history = pd.DataFrame({"epoch": [1, 2], "accuracy": [0.80, 0.90], "val_accuracy": [0.85, 0.89]})
    note = validation_note(history, {"dropout_rate": 0.5, "augmentation": True})
    assert "epoch 1" in note and "dropout (rate 0.5)" in note and "augmentation" in note
    behind = history.assign(val_accuracy=[0.7, 0.8])
    assert validation_note(behind, {"dropout_rate": 0.5}) is None


def test_the_training_page_shows_the_note_under_the_curves(pages, store_copy, use_store):
    use_store(store_copy)
    run_id = second_run(store_copy)
    path = store_copy / run_id / fmt.HISTORY
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["val_accuracy"] = row["accuracy"] + 0.01
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    note = view_of(pages["training"], run=run_id)["note"]
    assert "Validation accuracy is above training accuracy" in text_of(note)


@pytest.mark.parametrize(("change", "message"), [
    ({"dense_units": 0}, "dense units must be a number from 1 to 4096"),
    ({"dense_units": None}, "dense units needs a number from 1 to 4096"),
    ({"epochs": 500}, "epochs must be a number from 1 to 100"),
    ({"batch_size": 4}, "batch size must be a number from 8 to 1024"),
])
def test_out_of_range_fields_name_their_limits(change, message):
    from dashboard.training.form import config_from_form

    with pytest.raises(ValueError, match=message):
        config_from_form(**{**FORM, **change})


def test_a_failed_run_speaks_to_the_browser_user():
    from dashboard.training.form import status_panel

    job = JobStatus("r1", "failed", error="DataSourceError: could not load MNIST through Keras (no network); "
                                          "try --dataset mnist-sample")
    words = text_of(status_panel(job))
    assert "--dataset" not in words and "under Data on this page" in words and "MNIST sample" in words


def test_the_epoch_bar_stays_full_while_evaluating():
    from dashboard.training.form import status_panel

    job = JobStatus("r1", "running", active=True, phase=fmt.PHASE_EVALUATING, epoch=5, epochs=5)
    panel = status_panel(job)
    words = text_of(panel)
    assert "Evaluating" in words and "evaluating on the test set" in words and "100%" in words


def test_run_names_are_checked(tmp_path):
    from dashboard.training.form import run_name_problem

    store = ArtifactStore(tmp_path)
    store.create_run("taken", {"config": {}, "dataset": {"source": "x"}})
    assert run_name_problem(None, store) is None and run_name_problem("", store) is None
    assert run_name_problem("fresh-name_1", store) is None
    assert "already a run named 'taken'" in run_name_problem("taken", store)
    for bad in ("../x", ".hidden", "a b", "x" * 65):
        assert "may hold letters" in run_name_problem(bad, store)


def test_the_train_callback_refuses_a_bad_run_name_on_the_server(tmp_path, monkeypatch):
    from dash.background_callback.managers import BaseBackgroundCallbackManager

    import dashboard.app  # noqa: F401

    monkeypatch.setenv("CNNVIZ_STORE", str(tmp_path / "store"))
    train = next(fn for _key, fn, _progress in BaseBackgroundCallbackManager.functions if fn.__name__ == "train")
    progress = []
    outcome = train(progress.append, 1, "tab-1", "mnist-sample", 300, "../escape", *FORM.values())
    assert "may hold letters" in outcome["message"] and progress == []
    assert not (tmp_path / "escape").exists() and ArtifactStore(tmp_path / "store").run_ids() == []


def test_a_run_being_trained_cannot_be_deleted(pages, store_copy, use_store):
    use_store(store_copy)
    runs = pages["runs"]
    store = ArtifactStore(store_copy)
    running = second_run(store_copy, "still-running")
    mark_running(store_copy, running)
    assert "is training" in runs.delete_problem(store, running)
    assert runs.delete_problem(store, "../tiny") == "There is no such run."
    assert runs.delete_problem(store, "tiny") is None
    page = pages["runs"].layout()
    buttons = {node["props"]["id"]["run"] for node in flatten(page)
               if isinstance(node["props"].get("id"), dict) and node["props"]["id"].get("type") == runs.RUNS_DELETE}
    assert buttons == {"tiny"}  # no delete button on the running run's row


def test_a_server_that_forbids_training_forbids_deleting(pages, store_copy, use_store, monkeypatch):
    use_store(store_copy)
    monkeypatch.setenv("CNNVIZ_ALLOW_TRAINING", "0")
    runs = pages["runs"]
    assert "cannot be deleted from the browser" in runs.delete_problem(ArtifactStore(store_copy), "tiny")
    assert not any(isinstance(node["props"].get("id"), dict) and node["props"]["id"].get("type") == runs.RUNS_DELETE
                   for node in flatten(runs.layout()))


def test_draw_and_activations_answers_use_the_class_names():
    from dashboard.draw.layout import top_three
    from dashboard.figures.activations import probability_bars

    probabilities = np.full(10, 0.01)
    probabilities[9], probabilities[7] = 0.8, 0.11
    names = list(fmt.FASHION_CLASS_NAMES)
    words = text_of(top_three(probabilities, 9, names))
    assert "Ankle boot" in words and "Sneaker" in words and "true label is Ankle boot" in words
    figure = probability_bars(probabilities, 7, "dark", names)
    assert list(figure.layout.xaxis.ticktext) == names and "predicted Ankle boot" in figure.layout.title.text
    assert "predicted 9" in probability_bars(probabilities, 9).layout.title.text


def test_the_runs_table_says_which_test_digits_the_accuracy_is_on(pages, tiny_store, use_store):
    # The sample's test digits are held out of it: the README's 97.9% is on MNIST's own 10,000-digit test set.
    use_store(tiny_store)
    test_size = len(ArtifactStore(tiny_store).run("tiny").predictions()["labels"])
    row = next(node for node in flatten(pages["runs"].layout()) if node["type"] == "Tr"
               and node["props"].get("id") == {"type": pages["runs"].RUNS_ROW, "run": "tiny"})
    cells = flatten(row["props"]["children"])
    cell = next(node for node in cells if node["type"] == "Span" and "title" in node["props"])
    assert f"on {test_size:,}" in text_of(cell["props"]["children"])
    assert cell["props"]["title"].startswith(f"Test accuracy on {test_size:,} test digits held out of the training")
    assert "not MNIST's own test set" in cell["props"]["title"]
