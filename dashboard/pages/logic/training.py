"""The Training page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/training.py``).

Loss and accuracy per epoch, each digit's validation accuracy, time and learning rate.

URL: ``/training?run=ID&digit=3`` (digit "all" or 0-9 highlights one class's curve).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Patch, dcc, html

from artifacts import ArtifactError, Status
from dashboard.figures.training import (
    class_accuracy_figure,
    class_line_style,
    curves_figure,
    timing_figure,
    validation_note,
)
from dashboard.store_access import choose_run, resolve_run, unreadable
from dashboard.ui.components import (
    class_filter,
    error_card,
    explanation,
    notice,
    run_class_names,
)
from dashboard.ui.page import query_store, run_class_options, start_page, theme_store
from dashboard.ui.urlstate import build_search

TRAINING_URL = "training-url"  # dcc.Store: the run the URL asked for (None: active or newest)
TRAINING_RUN = "training-run"  # dcc.Store: the run id the page shows, once resolved
TRAINING_QUERY = "training-query"
TRAINING_THEME = "training-theme"  # this page's copy of the app's theme (dashboard.ui.page)
TRAINING_DIGIT = "training-digit"
TRAINING_MESSAGE = "training-message"
TRAINING_CONTENT = "training-content"
TRAINING_CURVES = "training-curves"
TRAINING_CLASSES = "training-classes"
TRAINING_TIMING = "training-timing"
TRAINING_DOWNLOAD_BUTTON = "training-download-button"
TRAINING_DOWNLOAD = "training-download"
TRAINING_NOTE = "training-note"  # why validation accuracy can be above training accuracy

GRAPH_CONFIG = {"displaylogo": False}

LOSS_TEXT = """
**Loss** is how wrong the network is, averaged over the digits: it punishes confident wrong answers most
(cross-entropy). **Accuracy** is simply the share of digits it gets right. Training lowers the loss;
accuracy follows, but in steps, because a digit only counts once its right answer becomes the top one.
"""
VALIDATION_TEXT = """
**Training** numbers come from the digits the network learns from; **validation** numbers from digits it
never trains on, held out to check that it learns the shapes of digits rather than memorising examples.
When training loss keeps falling while validation loss rises, the network is **overfitting**:
it has started to remember its training digits instead of generalising. That is usually the epoch to stop.
"""
CLASS_TEXT = """
Each line is the share of one digit's validation examples answered correctly after each epoch. Some digits
(often 1 and 0) are learnt almost at once; others (such as 8, 5 or 9, which share strokes with other
digits) take longer. Pick a digit above to bring its line forward.
"""
TIMING_TEXT = """
Bars show how long each epoch took (the first one includes setting up). The line is the **learning rate**:
how big a step the optimiser takes on every batch. Too large and training jumps around; too small and it
crawls. Constant here unless the run's settings lower it over time.
"""


def layout(**kwargs: Any) -> html.Div:
    """Return the Training page for the URL's ``run`` and ``digit``."""
    start = start_page("Training", "/training", kwargs)
    if start.stop is not None:
        return start.stop
    state = start.state
    controls = dbc.Row([
        dbc.Col(class_filter(TRAINING_DIGIT, state.get("digit", "all"), start.names),
                className="d-flex align-items-center flex-wrap", lg=9),
        dbc.Col([dbc.Button([html.I(className="bi bi-download me-1"), "History as CSV"],
                            id=TRAINING_DOWNLOAD_BUTTON, color="secondary", outline=True, size="sm"),
                 dcc.Download(id=TRAINING_DOWNLOAD)], className="text-lg-end", lg=3),
    ], className="mb-2 g-2")
    content = html.Div([
        explanation("Loss and accuracy", LOSS_TEXT),
        explanation("Training, validation and overfitting", VALIDATION_TEXT),
        dcc.Graph(id=TRAINING_CURVES, config=GRAPH_CONFIG),
        html.Div(id=TRAINING_NOTE),
        controls,
        explanation("Accuracy per digit", CLASS_TEXT),
        dcc.Graph(id=TRAINING_CLASSES, config=GRAPH_CONFIG),
        explanation("Time per epoch and learning rate", TIMING_TEXT),
        dcc.Graph(id=TRAINING_TIMING, config=GRAPH_CONFIG),
    ], id=TRAINING_CONTENT, style={"display": "none"})
    return html.Div([
        dcc.Store(id=TRAINING_URL, data={"run": state.get("run")}),
        dcc.Store(id=TRAINING_RUN),
        query_store(TRAINING_QUERY),
        theme_store(TRAINING_THEME),
        start.heading,
        dcc.Loading(html.Div(id=TRAINING_MESSAGE), type="dot"),
        content,
    ], className="training-page")


def render(url: dict | None, theme: str | None, active: Any, digit: Any) -> tuple:
    """Draw the run's curves, or an error card (and hide the charts) when it cannot be shown.

    A cancelled or failed run shows the epochs it finished, under a note saying it did not complete.
    """
    hidden = {"display": "none"}
    empty = (dash.no_update,) * 3
    resolved = choose_run((url or {}).get("run"), active)
    partial = None
    manifest = resolved.info
    status = manifest.status if manifest is not None else None
    if not resolved.ok and manifest is not None and status in (Status.CANCELLED, Status.FAILED):
        planned = manifest.planned_epochs or "?"
        how = "failed" if status == Status.FAILED else "was cancelled"
        partial = (f"Run '{resolved.run.run_id}' {how} and is not complete: these are the epochs it "
                   f"finished of the {planned} it was set to train.")
    elif not resolved.ok:
        return *empty, error_card(resolved.error), hidden, None, None
    try:
        history = resolved.run.history()
    except ArtifactError as error:
        return *empty, error_card(unreadable(error, resolved.run.run_id)), hidden, None, None
    if history.empty:
        message = f"{partial} It recorded no epochs." if partial else "This run recorded no epochs."
        return *empty, error_card(message), hidden, None, None
    epochs = len(history)
    last = history.iloc[-1]
    summary = html.P([
        "Run ", html.B(resolved.run.run_id), f": {epochs} epochs, final validation accuracy ",
        html.B(f"{last['val_accuracy']:.1%}"), f" (training {last['accuracy']:.1%}).",
    ], className="text-body-secondary")
    message = [notice(partial, color="warning"), summary] if partial else summary
    explained = validation_note(history, dict(manifest.raw_config))
    note = html.P([html.I(className="bi bi-info-circle me-1"), explained],
                  className="small text-body-secondary training-validation-note") if explained else None
    names = run_class_names(resolved.run)
    return (curves_figure(history, theme), class_accuracy_figure(history, digit, theme, names),
            timing_figure(history, theme), message, {}, resolved.run.run_id, note)


def highlight_digit(digit: Any) -> Patch:
    """Bring one digit's line forward (or show all equally) by patching line widths and opacities."""
    patch = Patch()
    for k, style in enumerate(class_line_style(digit if digit in range(10) else "all")):
        patch["data"][k]["line"]["width"] = style["width"]
        patch["data"][k]["opacity"] = style["opacity"]
    return patch


def page_query(run_id: str | None, digit: Any) -> str:
    """Return the query string of the view (run, and the digit unless it is "all")."""
    if not run_id:
        return dash.no_update
    return build_search(run=run_id, digit=None if digit == "all" else digit)


def download_history(clicks: int | None, run_id: str | None) -> dict:
    """Send the run's per-epoch history as ``<run>-history.csv`` (a cancelled run's too: what it recorded)."""
    resolved = resolve_run(run_id, require_complete=False)
    if not clicks or resolved.run is None:
        return dash.no_update
    try:
        history = resolved.run.history()
    except ArtifactError:
        return dash.no_update
    return dcc.send_data_frame(history.to_csv, f"{resolved.run.run_id}-history.csv", index=False)


label_classes = run_class_options  # the class filter labelled with the shown run's class names
