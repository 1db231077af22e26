"""The Draw page's epoch control and "across training" card: ids, layout and the callbacks' work.

The page (:mod:`dashboard.pages.draw`) registers the callbacks; these functions do what they do.
The epoch slider moves the page's answer, saliency and walk to the network after that epoch;
the card shows the untrained network (epoch 0) beside the trained one (the last epoch) and every
class's probability for the digit across all epochs.
"""

from __future__ import annotations

import hashlib
import json

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Patch, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.draw.epochs import (
    across_epochs,
    final_epoch,
    read_test_digit,
    settled_since,
    stored_epochs,
    whole_number,
)
from dashboard.draw.layout import HIDDEN, SHOWN, in_view_card
from dashboard.draw.live_model import ModelUnavailable
from dashboard.figures.epochs import epoch_marker, epoch_saliency, probabilities_by_epoch, stage
from dashboard.store_access import resolve_run
from dashboard.ui.components import error_card, run_class_names
from dashboard.ui.epochs import epoch_slider

EPOCH = "draw-epoch"  # dcc.Slider over the stored epochs (hidden, value None, for runs without them)
EPOCH_NOTE = "draw-epoch-note"  # which epoch the page shows
EPOCHS_CARD = "draw-epochs"  # the "across training" card, shown once there is a digit (watched by assets/draw.js)
IN_VIEW = "draw-epochs-in-view"  # dcc.Store: whether the card is on screen (its figures are drawn only then)
DRAWN = "draw-epochs-drawn"  # dcc.Store: {"key": the digit, theme and run the figures show, "epoch": the marker's}
UNTRAINED = "draw-epoch-first"  # epoch 0's answer and saliency
TRAINED = "draw-epoch-last"  # the last epoch's
TIMELINE = "draw-epoch-timeline"  # each class's probability across the epochs
TIMELINE_CAPTION = "draw-epoch-caption"
TEST_REQUEST = "draw-test-request"  # dcc.Store: the URL's raw ``test`` value (a test digit's number)

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}
NO_WEIGHTS = ("This run was trained before the weights of every epoch were stored, so the Draw page shows its "
              "final model only. Train a new run to see how the network's answer grew, epoch by epoch.")
EXPLAIN = ("Move the slider to see the answer, saliency and layers of the network after any epoch of its "
           "training: epoch 0 is the random initialisation, before it saw a single digit.")


def epoch_control(epochs: list[int], epoch: int | None, message: str | None, none: str | None = None) -> html.Div:
    """Return the epoch slider over the stored ``epochs``, or a note when there are none.

    Args:
        epoch: the epoch to start at (the URL's, else the last).
        message: why the URL's epoch was not taken as it was (shown under the slider).
        none: the note when there are no epochs (default :data:`NO_WEIGHTS`).
    """
    if not epochs:
        return html.Div([
            dbc.Alert([html.I(className="bi bi-clock-history me-2"), none or NO_WEIGHTS], color="secondary",
                      className="py-2 small mb-2", id=f"{EPOCH}-none"),
            # The page's callbacks take the slider's value: it exists, hidden, and says "the final model".
            html.Div(dcc.Slider(id=EPOCH, min=0, max=1, step=1, value=None, disabled=True), style=HIDDEN),
            html.Div(id=EPOCH_NOTE, style=HIDDEN),
        ])
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Label([html.I(className="bi bi-clock-history me-1"), "Epoch"], html_for=EPOCH,
                              className="mb-0 fw-semibold"), width="auto"),
            dbc.Col(epoch_slider(EPOCH, epochs, epoch if epoch is not None else epochs[-1]), className="pt-2"),
        ], className="g-2 align-items-center"),
        html.Div(note_text(epoch, epochs[-1]), id=EPOCH_NOTE, className="small text-body-secondary"),
        html.Div(message, className="small text-warning") if message else None,
    ], className="draw-epoch mb-2")


def note_text(epoch: int | None, last: int) -> str:
    """Return the line under the slider: which network answers."""
    epoch = last if epoch is None else epoch
    when = {"untrained": " (untrained: the random initialisation)", "trained": " (trained)"}.get(stage(epoch, last), "")
    return f"The network after epoch {epoch} of {last}{when} answers below. {EXPLAIN}"


def epochs_card() -> html.Div:
    """Return the card of the digit across training (epoch 0 beside the last epoch, and the probability lines),
    hidden until there is a digit, its figures drawn only while it is on screen (:func:`in_view_card`)."""
    return in_view_card(EPOCHS_CARD, _card(), IN_VIEW, style=HIDDEN)


def _card() -> dbc.Card:
    def graph(component_id: str, height: int) -> dcc.Graph:
        return dcc.Graph(id=component_id, config=GRAPH_CONFIG, style={"height": f"{height}px"})

    return dbc.Card(dbc.CardBody([
        html.H5("Untrained against trained: when did the network learn to read your digit?", className="card-title"),
        dbc.Row([
            dbc.Col(graph(UNTRAINED, 280), md=6),
            dbc.Col(graph(TRAINED, 280), md=6),
        ], className="g-2"),
        html.Div(id=TIMELINE_CAPTION, className="small my-2"),
        graph(TIMELINE, 340),
        dcc.Store(id=DRAWN),
    ]), className="mb-3")


def card_outputs(pixels: np.ndarray | None, digit: dict | None, epoch: object, theme: str | None,
                  run_id: str | None, epoch_only: bool = False, draw: bool = True) -> tuple:
    """Return the card's outputs: its style, epoch 0's and the last epoch's figures, the lines, the caption, the note.

    Args:
        pixels: the digit's (28, 28) pixels, None when there is no digit (the card hides).
        digit: its :data:`DIGIT` store value (for the label).
        epoch: the slider's value (None: the last epoch).
        epoch_only: only the epoch changed: epoch 0, the last epoch and the lines stay as the browser
            has them; the lines' marker moves (a ``Patch``) and the note changes.
        draw: False: only the style and the note (the card off screen: no epoch's network runs).
    """
    nothing = dash.no_update
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return HIDDEN, nothing, nothing, nothing, nothing, nothing
    run = resolved.run
    try:
        epochs = stored_epochs(run)
        last = final_epoch(run)
    except ModelUnavailable:
        return HIDDEN, nothing, nothing, nothing, nothing, nothing
    if not epochs:
        return HIDDEN, nothing, nothing, nothing, nothing, nothing
    shown = whole_number(epoch)
    note = note_text(shown if shown in epochs else None, last)
    if pixels is None:
        return HIDDEN, nothing, nothing, nothing, nothing, note
    if not draw:
        return SHOWN, nothing, nothing, nothing, nothing, note
    if epoch_only:
        shape, annotation = epoch_marker(shown if shown in epochs else last)
        marker = Patch()
        marker["layout"]["shapes"] = [shape]
        marker["layout"]["annotations"] = [annotation]
        return nothing, nothing, nothing, marker, nothing, note
    label = digit.get("label") if isinstance(digit, dict) else None
    names = run_class_names(run)
    try:
        journey = across_epochs(run, pixels)
    except (ModelUnavailable, ValueError) as error:
        return SHOWN, nothing, nothing, nothing, error_card(str(error)), note
    epochs, probabilities, first, final = journey.epochs, journey.probabilities, journey.first, journey.last
    return (
        SHOWN,
        epoch_saliency(pixels, first.probabilities, first.saliency, epochs[0], last, theme, names, label),
        epoch_saliency(pixels, final.probabilities, final.saliency, epochs[-1], last, theme, names, label),
        probabilities_by_epoch(epochs, probabilities, theme, names, label, shown if shown in epochs else last),
        caption(epochs, probabilities, names, label),
        note,
    )


def caption(epochs: list[int], probabilities: np.ndarray, names, label: int | None) -> html.Span:
    """Return the sentence over the lines: the final answer and since when the network has given it."""
    answer = int(probabilities[-1].argmax())
    since = settled_since(epochs, probabilities)
    text = [html.Strong(f"The trained network reads {names[answer]}"),
            f" ({float(probabilities[-1, answer]):.0%}); "]
    if since == epochs[0]:
        text.append(f"it gave that answer from epoch {since} on, before any training: the random network's "
                    "guess happened to match.")
    else:
        text.append(f"it has answered {names[answer]} since epoch {since}.")
    if label is not None and answer != label:
        text.append(f" The true label is {names[label]}: the trained network gets this digit wrong.")
    elif label is not None:
        text.append(f" The true label is {names[label]}.")
    return html.Span(text)


def digit_from_url(raw: object, run_id: str | None) -> tuple:
    """Load the test digit a URL names (``test=42``) into the page; a bad number gets a message, never a traceback.

    Returns:
        (digit or no update, message, colour, open).
    """
    if raw is None or raw == "":
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return dash.no_update, resolved.error, "danger", True
    digit, message = read_test_digit(resolved.run, raw)
    if digit is None:
        return dash.no_update, message, "danger", True
    return digit, None, "info", False


def drawn_key(digit: object, theme: object, run_id: object) -> str:
    """Return the key of what the card's figures show: the digit, the theme and the run (not the epoch)."""
    return hashlib.sha1(json.dumps([digit, theme, run_id], sort_keys=True, default=str).encode()).hexdigest()


def card_in_view(pixels: np.ndarray | None, digit: dict | None, epoch: object, theme: str | None,
                 run_id: str | None, in_view: object, drawn: object) -> tuple:
    """Return :func:`card_outputs` and the new :data:`DRAWN` value, computing the figures only while the
    card is on screen and shows something else.

    Off screen, only the card's style (so that it can come on screen) and the note change; on screen, a
    change of epoch alone moves the marker. The first prediction then draws nothing of the card when it
    opens below the fold: every epoch's network and three figures wait until the user scrolls to it.

    Raises:
        PreventUpdate: the card is on screen and already shows this digit, theme, run and epoch.
    """
    nothing = dash.no_update
    if not in_view:
        return (*card_outputs(pixels, digit, epoch, theme, run_id, draw=False), nothing)
    key = drawn_key(digit, theme, run_id)
    shown = drawn if isinstance(drawn, dict) else {}
    if shown.get("key") == key and shown.get("epoch") == epoch:
        raise PreventUpdate
    outputs = card_outputs(pixels, digit, epoch, theme, run_id, epoch_only=shown.get("key") == key)
    return (*outputs, nothing if outputs[0] == HIDDEN else {"key": key, "epoch": epoch})
