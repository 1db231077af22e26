"""Architecture page (URL ``/model?run=ID&layer=conv_2&channel=5&epoch=3``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/model.py``. The 3D blocks are drawn once their switch asks;
the filters are one callback per layer, channel or theme, and every epoch's grid is sent with them
for the browser to swap while the epoch slider is dragged; the same callback redraws the layer's
maximising inputs (drawn in the layout first) when the layer or the theme changes.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import model as logic
from dashboard.ui.page import register_body, sync_theme, sync_url

dash.register_page(__name__, path="/model", name="Architecture", order=3, title="Architecture")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("model", logic.body)

dash.callback(
    Output(logic.BLOCKS, "figure"), Output(logic.BLOCKS_BOX, "is_open"),
    Input(logic.BLOCKS_SHOW, "value"), Input(logic.THEME, "data"), State(logic.RUN, "data"),
)(logic.draw_blocks_view)

dash.callback(
    Output(logic.CHANNEL, "options"),
    Output(logic.CHANNEL, "value"),
    Input(logic.LAYER, "value"),
    State(logic.CHANNEL, "value"),
    State(logic.EPOCH, "value"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.update_channels)

dash.callback(
    Output(logic.FILTERS, "figure"),
    Output(logic.FILTERS_ERROR, "children"),
    Output(logic.FRAMES, "data"),
    Output(logic.MAXIMA, "figure"),
    Output(logic.MAXIMA_NOTE, "children"),
    Input(logic.LAYER, "value"),
    Input(logic.CHANNEL, "value"),
    Input(logic.THEME, "data"),
    State(logic.EPOCH, "value"),
    State(logic.RUN, "data"),
)(logic.draw_filter_panel)

dash.clientside_callback(
    "function(drag, value, frames, figure) { return window.cnnviz.filterFrame(drag, value, frames, figure); }",
    Output(logic.FILTERS, "figure", allow_duplicate=True),
    Input(logic.EPOCH, "drag_value"), Input(logic.EPOCH, "value"), State(logic.FRAMES, "data"),
    State(logic.FILTERS, "figure"),
    prevent_initial_call=True,
)

dash.callback(
    Output(logic.QUERY, "data"),
    Input(logic.LAYER, "value"), Input(logic.CHANNEL, "value"), Input(logic.EPOCH, "value"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.record_query)

sync_url(logic.QUERY)
sync_theme(logic.THEME)
