"""Training page (URL ``/training?run=ID&digit=3``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/training.py``.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import training as logic
from dashboard.pages.logic.training import (
    TRAINING_CLASSES,
    TRAINING_CONTENT,
    TRAINING_CURVES,
    TRAINING_DIGIT,
    TRAINING_DOWNLOAD,
    TRAINING_DOWNLOAD_BUTTON,
    TRAINING_MESSAGE,
    TRAINING_NOTE,
    TRAINING_QUERY,
    TRAINING_RUN,
    TRAINING_THEME,
    TRAINING_TIMING,
    TRAINING_URL,
)
from dashboard.ui import ids
from dashboard.ui.page import sync_theme, sync_url

dash.register_page(__name__, path="/training", name="Training", order=1, title="Training · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

dash.callback(
    Output(TRAINING_CURVES, "figure"),
    Output(TRAINING_CLASSES, "figure"),
    Output(TRAINING_TIMING, "figure"),
    Output(TRAINING_MESSAGE, "children"),
    Output(TRAINING_CONTENT, "style"),
    Output(TRAINING_RUN, "data"),
    Output(TRAINING_NOTE, "children"),
    Input(TRAINING_URL, "data"),
    Input(TRAINING_THEME, "data"),
    State(ids.ACTIVE_RUN, "data"),
    State(TRAINING_DIGIT, "value"),
)(logic.render)

dash.callback(
    Output(TRAINING_CLASSES, "figure", allow_duplicate=True),
    Input(TRAINING_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.highlight_digit)

dash.callback(
    Output(TRAINING_QUERY, "data"),
    Input(TRAINING_RUN, "data"),
    Input(TRAINING_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.page_query)

dash.callback(
    Output(TRAINING_DOWNLOAD, "data"),
    Input(TRAINING_DOWNLOAD_BUTTON, "n_clicks"),
    State(TRAINING_RUN, "data"),
    prevent_initial_call=True,
)(logic.download_history)

dash.callback(
    Output(TRAINING_DIGIT, "options"),
    Input(TRAINING_RUN, "data"),
    prevent_initial_call=True,
)(logic.label_classes)

sync_url(TRAINING_QUERY)

sync_theme(TRAINING_THEME)
