"""Metrics page (URL ``/metrics?run=ID&digit=3&mode=normalized&cell=3-5``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/metrics.py``.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import metrics as logic
from dashboard.pages.logic.metrics import (
    METRICS_BARS,
    METRICS_CELL,
    METRICS_CONFUSION,
    METRICS_CONTENT,
    METRICS_DETAIL,
    METRICS_DIGIT,
    METRICS_GALLERY,
    METRICS_GALLERY_IDS,
    METRICS_GALLERY_TITLE,
    METRICS_MESSAGE,
    METRICS_MODE,
    METRICS_NAV,
    METRICS_QUERY,
    METRICS_RUN,
    METRICS_TABLE,
    METRICS_THEME,
    METRICS_URL,
)
from dashboard.ui import ids
from dashboard.ui.page import sync_theme, sync_url

dash.register_page(__name__, path="/metrics", name="Metrics", order=2, title="Metrics · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

dash.callback(
    Output(METRICS_TABLE, "children"),
    Output(METRICS_BARS, "figure"),
    Output(METRICS_CONFUSION, "figure"),
    Output(METRICS_MESSAGE, "children"),
    Output(METRICS_CONTENT, "style"),
    Output(METRICS_RUN, "data"),
    Input(METRICS_URL, "data"),
    Input(METRICS_THEME, "data"),
    State(ids.ACTIVE_RUN, "data"),
    State(METRICS_DIGIT, "value"),
    State(METRICS_MODE, "value"),
)(logic.render)

dash.callback(
    Output(METRICS_TABLE, "children", allow_duplicate=True),
    Output(METRICS_BARS, "figure", allow_duplicate=True),
    Output(METRICS_CONFUSION, "figure", allow_duplicate=True),
    Input(METRICS_DIGIT, "value"),
    Input(METRICS_MODE, "value"),
    State(METRICS_RUN, "data"),
    State(METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.highlight)

dash.callback(
    Output(METRICS_CONFUSION, "figure", allow_duplicate=True),
    Input(METRICS_CELL, "data"),
    Input(METRICS_DIGIT, "value"),
    Input(METRICS_RUN, "data"),
    State(METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.mark_cell)

dash.callback(
    Output(METRICS_CELL, "data"),
    Input(METRICS_CONFUSION, "clickData"),
    prevent_initial_call=True,
)(logic.choose_cell)

dash.callback(
    Output(METRICS_CELL, "data", allow_duplicate=True),
    Input(METRICS_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.clear_cell)

dash.callback(
    Output(METRICS_GALLERY, "figure"),
    Output(METRICS_GALLERY, "style"),
    Output(METRICS_GALLERY_TITLE, "children"),
    Output(METRICS_GALLERY_IDS, "data"),
    Output(METRICS_DETAIL, "children"),
    Input(METRICS_CELL, "data"),
    Input(METRICS_DIGIT, "value"),
    Input(METRICS_RUN, "data"),
    Input(METRICS_THEME, "data"),
)(logic.gallery)

dash.callback(
    Output(METRICS_NAV, "href"),
    Output(METRICS_DETAIL, "children", allow_duplicate=True),
    Input(METRICS_GALLERY, "clickData"),
    State(METRICS_GALLERY_IDS, "data"),
    State(METRICS_RUN, "data"),
    State(METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.open_digit)

dash.callback(
    Output(METRICS_QUERY, "data"),
    Input(METRICS_RUN, "data"),
    Input(METRICS_DIGIT, "value"),
    Input(METRICS_MODE, "value"),
    Input(METRICS_CELL, "data"),
    prevent_initial_call=True,
)(logic.page_query)

dash.callback(
    Output(METRICS_DIGIT, "options"),
    Input(METRICS_RUN, "data"),
    prevent_initial_call=True,
)(logic.label_classes)

sync_url(METRICS_QUERY)

sync_theme(METRICS_THEME)
