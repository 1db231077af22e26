"""Learning page (URL ``/learning?run=ID&digit=3&epoch=4&mode=tsne``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/learning.py``. The layout draws every figure and sends every
epoch's frames; the epoch slider swaps them in the browser (``assets/learning.js``), no request for PCA; t-SNE,
computed per epoch, asks the server for the let-go epoch's scatter.
A class, projection or theme change is one callback; hovering, clicking and the lists are one each.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import learning as logic
from dashboard.ui.drawn_page import sync_drawn_theme, write_query
from dashboard.ui.page import register_body, sync_url

dash.register_page(__name__, path="/learning", name="Learning", order=5, title="Learning · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("learning", logic.body)

dash.callback(
    Output(logic.SCATTER, "figure", allow_duplicate=True),
    Output(logic.FRAMES, "data"),
    Output(logic.CONFUSION, "figure", allow_duplicate=True),
    Output(logic.CURVES, "figure"),
    Output(logic.MESSAGE, "children"),
    Input(logic.DIGIT, "value"),
    Input(logic.METHOD, "value"),
    Input(logic.THEME, "data"),
    State(logic.EPOCH, "value"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.redraw)

dash.clientside_callback(
    "function(drag, value, frames, scatter, confusion) {"
    " return window.cnnviz.learningFrame(drag, value, frames, scatter, confusion); }",
    Output(logic.SCATTER, "figure", allow_duplicate=True),
    Output(logic.CONFUSION, "figure", allow_duplicate=True),
    Output(logic.SERVER_EPOCH, "data"),
    Input(logic.EPOCH, "drag_value"), Input(logic.EPOCH, "value"), State(logic.FRAMES, "data"),
    State(logic.SCATTER, "figure"), State(logic.CONFUSION, "figure"),
    prevent_initial_call=True,
)

dash.callback(
    Output(logic.SCATTER, "figure", allow_duplicate=True),
    Input(logic.SERVER_EPOCH, "data"),
    State(logic.METHOD, "value"),
    State(logic.DIGIT, "value"),
    State(logic.THEME, "data"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.tsne_epoch)

dash.callback(
    Output(logic.HOVER, "children"),
    Input(logic.SCATTER, "hoverData"),
    State(logic.EPOCH, "value"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.hover_digit)

dash.callback(
    Output(logic.NAV, "href", allow_duplicate=True),
    Input(logic.SCATTER, "clickData"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.click_point)

dash.callback(
    Output(logic.GALLERY, "figure"),
    Output(logic.GALLERY, "style"),
    Output(logic.GALLERY_TITLE, "children"),
    Output(logic.GALLERY_IDS, "data"),
    Input(logic.LIST, "value"),
    Input(logic.DIGIT, "value"),
    Input(logic.THEME, "data"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.choose_list)

dash.callback(
    Output(logic.NAV, "href", allow_duplicate=True),
    Input(logic.GALLERY, "clickData"),
    State(logic.GALLERY_IDS, "data"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.open_tile)

write_query(logic.QUERY, {"run": (Input(logic.RUN, "data"), None),
                          "digit": (Input(logic.DIGIT, "value"), "all"),
                          "epoch": (Input(logic.EPOCH, "value"), None),
                          "mode": (Input(logic.METHOD, "value"), "pca")})

sync_url(logic.QUERY)

sync_drawn_theme(logic.THEME)
