"""Training page (URL ``/training?run=ID&digit=3``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/training.py``.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import training as logic
from dashboard.ui import ids
from dashboard.ui.page import sync_theme, sync_url

dash.register_page(__name__, path="/training", name="Training", order=1, title="Training · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

dash.callback(
    Output(logic.TRAINING_CURVES, "figure"),
    Output(logic.TRAINING_CLASSES, "figure"),
    Output(logic.TRAINING_TIMING, "figure"),
    Output(logic.TRAINING_MESSAGE, "children"),
    Output(logic.TRAINING_CONTENT, "style"),
    Output(logic.TRAINING_RUN, "data"),
    Output(logic.TRAINING_NOTE, "children"),
    Input(logic.TRAINING_URL, "data"),
    Input(logic.TRAINING_THEME, "data"),
    State(ids.ACTIVE_RUN, "data"),
    State(logic.TRAINING_DIGIT, "value"),
)(logic.render)

dash.callback(
    Output(logic.TRAINING_CLASSES, "figure", allow_duplicate=True),
    Input(logic.TRAINING_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.highlight_digit)

dash.callback(
    Output(logic.TRAINING_QUERY, "data"),
    Input(logic.TRAINING_RUN, "data"),
    Input(logic.TRAINING_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.page_query)

dash.callback(
    Output(logic.TRAINING_DOWNLOAD, "data"),
    Input(logic.TRAINING_DOWNLOAD_BUTTON, "n_clicks"),
    State(logic.TRAINING_RUN, "data"),
    prevent_initial_call=True,
)(logic.download_history)

dash.callback(
    Output(logic.TRAINING_DIGIT, "options"),
    Input(logic.TRAINING_RUN, "data"),
    prevent_initial_call=True,
)(logic.label_classes)

sync_url(logic.TRAINING_QUERY)

sync_theme(logic.TRAINING_THEME)
