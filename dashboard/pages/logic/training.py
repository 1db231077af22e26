"""The Training page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/training.py``).

Loss and accuracy per epoch, each digit's validation accuracy, time and learning rate.

URL: ``/training?run=ID&digit=3`` (digit "all" or 0-9 highlights one class's curve).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from artifacts import ArtifactError, Status
from dashboard.figures.training import (
    class_accuracy_figure,
    class_line_style,
    curves_figure,
    timing_figure,
    validation_note,
)
from dashboard.store_access import Resolved, resolve_run, unreadable
from dashboard.ui.components import (
    class_filter,
    error_card,
    explanation,
    notice,
    run_class_names,
)
from dashboard.ui.drawn_page import DRAWN_THEME, drawn_theme_store
from dashboard.ui.page import query_store, run_page, start_page
from dashboard.ui.urlstate import parse_state

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


NO_HISTORY = ("Imported model: no training history. It was trained elsewhere and imported with "
              "python -m pipeline import; its test-set results are on the Metrics page.")


def layout(**kwargs: Any) -> html.Div:
    """Return the Training page for the URL's ``run`` and ``digit``.

    A URL that names a run is drawn at once, figures and all (no callback round trip at load);
    without one the page contract's shell draws :func:`body` for the browser's active run.
    """
    start = start_page("Training", "/training", kwargs)
    if start.stop is not None:
        return start.stop
    state = start.state
    if state.get("run"):
        drawn = draw(state["run"], state.get("digit", "all"), start.names)
    else:
        drawn = run_page("training", kwargs)
    return html.Div([start.heading, drawn], className="training-page")


def body(resolved: Resolved, kwargs: dict[str, Any]) -> html.Div:
    """Return the page's body for the run the page contract chose (the URL named none)."""
    state = parse_state(kwargs)
    return draw(resolved.run.run_id, state.get("digit", "all"), run_class_names(resolved.run))


def draw(run_id: str, digit: Any, names: tuple[str, ...] | None) -> html.Div:
    """Return the page's body for ``run_id``: its figures drawn in the layout's theme, or why it cannot be."""
    curves, classes, timing, message, style, shown, note = _view(run_id, digit)
    controls = dbc.Row([
        dbc.Col(class_filter(TRAINING_DIGIT, digit, names), className="d-flex align-items-center flex-wrap", lg=9),
        dbc.Col([dbc.Button([html.I(className="bi bi-download me-1"), "History as CSV"],
                            id=TRAINING_DOWNLOAD_BUTTON, color="secondary", outline=True, size="sm"),
                 dcc.Download(id=TRAINING_DOWNLOAD)], className="text-lg-end", lg=3),
    ], className="mb-2 g-2")

    def graph(component_id: str, figure: Any) -> dcc.Graph:
        return dcc.Graph(id=component_id, config=GRAPH_CONFIG, **({} if figure is dash.no_update else
                                                                   {"figure": figure}))

    content = html.Div([
        explanation("Loss and accuracy", LOSS_TEXT),
        explanation("Training, validation and overfitting", VALIDATION_TEXT),
        graph(TRAINING_CURVES, curves),
        html.Div(note, id=TRAINING_NOTE),
        controls,
        explanation("Accuracy per digit", CLASS_TEXT),
        graph(TRAINING_CLASSES, classes),
        explanation("Time per epoch and learning rate", TIMING_TEXT),
        graph(TRAINING_TIMING, timing),
    ], id=TRAINING_CONTENT, style=style)
    return html.Div([
        dcc.Store(id=TRAINING_RUN, data=shown),
        query_store(TRAINING_QUERY),
        drawn_theme_store(TRAINING_THEME),
        html.Div(message, id=TRAINING_MESSAGE),
        content,
    ])


def _view(run_id: str, digit: Any) -> tuple:
    """Draw ``run_id``'s curves in the layout's theme, or an error card (and hide the charts) when it cannot be shown.

    A cancelled or failed run shows the epochs it finished, under a note saying it did not complete.

    Returns:
        (curves, classes, timing, message, content style, the shown run's id or None, validation note).
    """
    hidden = {"display": "none"}
    empty = (dash.no_update,) * 3
    resolved = resolve_run(run_id)
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
    if manifest.is_imported:
        return *empty, notice(NO_HISTORY), hidden, None, None
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
    return (curves_figure(history, DRAWN_THEME), class_accuracy_figure(history, digit, DRAWN_THEME, names),
            timing_figure(history, DRAWN_THEME), message, {}, resolved.run.run_id, note)


def digit_styles() -> dict[str, list[dict]]:
    """Return each class filter value's line styles (:func:`class_line_style`) keyed "all", "0".."9"."""
    return {str(key): class_line_style(key) for key in ("all", *range(10))}


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
