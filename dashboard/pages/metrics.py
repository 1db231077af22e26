"""Metrics page (URL ``/metrics?run=ID&digit=3&mode=normalized&cell=3-5``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/metrics.py``.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import metrics as logic
from dashboard.ui import ids
from dashboard.ui.page import sync_theme, sync_url

dash.register_page(__name__, path="/metrics", name="Metrics", order=2, title="Metrics · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

dash.callback(
    Output(logic.METRICS_TABLE, "children"),
    Output(logic.METRICS_BARS, "figure"),
    Output(logic.METRICS_CONFUSION, "figure"),
    Output(logic.METRICS_MESSAGE, "children"),
    Output(logic.METRICS_CONTENT, "style"),
    Output(logic.METRICS_RUN, "data"),
    Input(logic.METRICS_URL, "data"),
    Input(logic.METRICS_THEME, "data"),
    State(ids.ACTIVE_RUN, "data"),
    State(logic.METRICS_DIGIT, "value"),
    State(logic.METRICS_MODE, "value"),
)(logic.render)

dash.callback(
    Output(logic.METRICS_TABLE, "children", allow_duplicate=True),
    Output(logic.METRICS_BARS, "figure", allow_duplicate=True),
    Output(logic.METRICS_CONFUSION, "figure", allow_duplicate=True),
    Input(logic.METRICS_DIGIT, "value"),
    Input(logic.METRICS_MODE, "value"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.highlight)

dash.callback(
    Output(logic.METRICS_CONFUSION, "figure", allow_duplicate=True),
    Input(logic.METRICS_CELL, "data"),
    Input(logic.METRICS_DIGIT, "value"),
    Input(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.mark_cell)

dash.callback(
    Output(logic.METRICS_CELL, "data"),
    Input(logic.METRICS_CONFUSION, "clickData"),
    prevent_initial_call=True,
)(logic.choose_cell)

dash.callback(
    Output(logic.METRICS_CELL, "data", allow_duplicate=True),
    Input(logic.METRICS_DIGIT, "value"),
    prevent_initial_call=True,
)(logic.clear_cell)

dash.callback(
    Output(logic.METRICS_GALLERY, "figure"),
    Output(logic.METRICS_GALLERY, "style"),
    Output(logic.METRICS_GALLERY_TITLE, "children"),
    Output(logic.METRICS_GALLERY_IDS, "data"),
    Output(logic.METRICS_DETAIL, "children"),
    Input(logic.METRICS_CELL, "data"),
    Input(logic.METRICS_DIGIT, "value"),
    Input(logic.METRICS_RUN, "data"),
    Input(logic.METRICS_THEME, "data"),
)(logic.gallery)

dash.callback(
    Output(logic.METRICS_NAV, "href"),
    Output(logic.METRICS_DETAIL, "children", allow_duplicate=True),
    Input(logic.METRICS_GALLERY, "clickData"),
    State(logic.METRICS_GALLERY_IDS, "data"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.open_digit)

dash.callback(
    Output(logic.METRICS_QUERY, "data"),
    Input(logic.METRICS_RUN, "data"),
    Input(logic.METRICS_DIGIT, "value"),
    Input(logic.METRICS_MODE, "value"),
    Input(logic.METRICS_CELL, "data"),
    prevent_initial_call=True,
)(logic.page_query)

dash.callback(
    Output(logic.METRICS_DIGIT, "options"),
    Input(logic.METRICS_RUN, "data"),
    prevent_initial_call=True,
)(logic.label_classes)

sync_url(logic.METRICS_QUERY)

sync_theme(logic.METRICS_THEME)
