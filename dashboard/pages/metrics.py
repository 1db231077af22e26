"""Metrics page (URL ``/metrics?run=ID&digit=3&mode=normalized&cell=3-5``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/metrics.py``. The layout draws the figures and the gallery;
at load no callback runs on the server. Each interaction is one callback: the class filter, the
counts/normalized toggle, a confusion cell, a gallery digit, the theme (which patches the figures);
the URL is written in the browser.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import metrics as logic
from dashboard.ui.drawn_page import swap_templates, sync_drawn_theme, write_query
from dashboard.ui.page import register_body, sync_url

dash.register_page(__name__, path="/metrics", name="Metrics", order=2, title="Metrics · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("metrics", logic.body)

GALLERY = [
    Output(logic.METRICS_GALLERY, "figure", allow_duplicate=True),
    Output(logic.METRICS_GALLERY, "style", allow_duplicate=True),
    Output(logic.METRICS_GALLERY_TITLE, "children", allow_duplicate=True),
    Output(logic.METRICS_GALLERY_IDS, "data", allow_duplicate=True),
    Output(logic.METRICS_DETAIL, "children", allow_duplicate=True),
]

dash.callback(
    Output(logic.METRICS_TABLE, "children"),
    Output(logic.METRICS_BARS, "figure"),
    Output(logic.METRICS_CONFUSION, "figure"),
    Output(logic.METRICS_CELL, "data"),
    *GALLERY,
    Input(logic.METRICS_DIGIT, "value"),
    State(logic.METRICS_MODE, "value"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.choose_digit)

dash.callback(
    Output(logic.METRICS_CONFUSION, "figure", allow_duplicate=True),
    Input(logic.METRICS_MODE, "value"),
    State(logic.METRICS_DIGIT, "value"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.choose_mode)

dash.callback(
    Output(logic.METRICS_CELL, "data", allow_duplicate=True),
    Output(logic.METRICS_CONFUSION, "figure", allow_duplicate=True),
    *GALLERY,
    Input(logic.METRICS_CONFUSION, "clickData"),
    State(logic.METRICS_DIGIT, "value"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.click_cell)

swap_templates(logic.METRICS_THEME, [logic.METRICS_BARS])  # its themes differ in the template alone

dash.callback(
    Output(logic.METRICS_CONFUSION, "figure", allow_duplicate=True),
    Output(logic.METRICS_GALLERY, "figure", allow_duplicate=True),
    Input(logic.METRICS_THEME, "data"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_DIGIT, "value"),
    State(logic.METRICS_MODE, "value"),
    State(logic.METRICS_CELL, "data"),
    prevent_initial_call=True,
)(logic.retheme)

dash.callback(
    Output(logic.METRICS_NAV, "href"),
    Output(logic.METRICS_DETAIL, "children"),
    Input(logic.METRICS_GALLERY, "clickData"),
    State(logic.METRICS_GALLERY_IDS, "data"),
    State(logic.METRICS_RUN, "data"),
    State(logic.METRICS_THEME, "data"),
    prevent_initial_call=True,
)(logic.open_digit)

write_query(logic.METRICS_QUERY, {"run": (Input(logic.METRICS_RUN, "data"), None),
                                  "digit": (Input(logic.METRICS_DIGIT, "value"), "all"),
                                  "mode": (Input(logic.METRICS_MODE, "value"), "counts"),
                                  "cell": (Input(logic.METRICS_CELL, "data"), None)})

sync_url(logic.METRICS_QUERY)

sync_drawn_theme(logic.METRICS_THEME)
