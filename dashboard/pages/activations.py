"""Activation explorer (URL ``/activations?run=ID&digit=3&probe=31&layer=conv_2&channel=5&epoch=4&mode=average``):
its Dash wiring.

Layout and logic: ``dashboard/pages/logic/activations.py``. One server call per interaction
(``draw_views``) draws what changed and sends every epoch's frame of the views once; dragging the
epoch slider swaps frames in the browser (dashboard/assets/frames.js), no request.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.pages.logic import activations as logic
from dashboard.ui import attribution_card
from dashboard.ui.page import register_body, sync_theme, sync_url

dash.register_page(__name__, path="/activations", name="Activations", order=4, title="Activations")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("activations", logic.body)

dash.callback(
    Output(logic.PROBE, "data"),
    Input(logic.PICKER, "clickData"),
    Input(logic.DIGIT, "value"),
    Input(logic.NEAREST, "n_clicks"),
    State(logic.PROBE, "data"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.select_probe)

dash.callback(
    Output(logic.PICKER, "figure"),
    Input(logic.DIGIT, "value"), Input(logic.PROBE, "data"), Input(logic.THEME, "data"),
    State(logic.RUN, "data"),
)(logic.draw_picker)

dash.callback(
    Output(logic.CHANNEL, "value"), Output(logic.CHANNEL, "max"),
    Input(logic.MOSAIC, "clickData"), Input(logic.LAYER, "value"), Input(logic.CHANNEL, "value"),
    State(logic.RUN, "data"),
    prevent_initial_call=True,
)(logic.select_channel)

dash.callback(
    Output(logic.SUMMARY, "children"), Output(logic.NOTE, "children"), Output(logic.NOTE_BOX, "is_open"),
    Output(logic.INPUT, "figure"), Output(logic.SALIENCY, "figure"), Output(logic.PROBABILITIES, "figure"),
    Output(logic.MOSAIC, "figure"), Output(logic.CHANNEL_MAP, "figure"), Output(logic.SURFACE, "figure"),
    Output(logic.SURFACE_KEY, "data"), Output(logic.DENSE, "figure"), Output(logic.FRAMES, "data"),
    Output(logic.FRAMES_KEY, "data"),
    Input(logic.PROBE, "data"), Input(logic.LAYER, "value"), Input(logic.CHANNEL, "value"),
    Input(logic.MODE, "value"), Input(logic.DIGIT, "value"), Input(logic.THEME, "data"),
    Input(logic.CHANNEL_TABS, "active_tab"),
    State(logic.EPOCH, "value"), State(logic.RUN, "data"), State(logic.SURFACE_KEY, "data"),
    State(logic.FRAMES_KEY, "data"), Input(logic.SURFACE_WEBGL, "value"),
)(logic.draw_views)

dash.clientside_callback(
    "function() { return window.cnnviz.activationFrame.apply(null, arguments); }",
    Output(logic.SUMMARY, "children", allow_duplicate=True), Output(logic.NOTE, "children", allow_duplicate=True),
    Output(logic.NOTE_BOX, "is_open", allow_duplicate=True), Output(logic.SALIENCY, "figure", allow_duplicate=True),
    Output(logic.PROBABILITIES, "figure", allow_duplicate=True), Output(logic.MOSAIC, "figure", allow_duplicate=True),
    Output(logic.SURFACE, "figure", allow_duplicate=True), Output(logic.DENSE, "figure", allow_duplicate=True),
    Output(logic.CHANNEL_MAP, "figure", allow_duplicate=True),
    Input(logic.EPOCH, "drag_value"), Input(logic.EPOCH, "value"),
    State(logic.FRAMES, "data"), State(logic.CHANNEL_TABS, "active_tab"), State(logic.SALIENCY, "figure"),
    State(logic.PROBABILITIES, "figure"), State(logic.MOSAIC, "figure"),
    State(logic.SURFACE, "figure"), State(logic.DENSE, "figure"), State(logic.CHANNEL_MAP, "figure"),
    prevent_initial_call=True,
)

# The 3D surface's image (rendered on the server) follows the slider once it is let go.
dash.callback(
    Output(logic.SURFACE, "figure", allow_duplicate=True),
    Input(logic.EPOCH, "value"),
    State(logic.CHANNEL_TABS, "active_tab"), State(logic.SURFACE_WEBGL, "value"), State(logic.PROBE, "data"),
    State(logic.LAYER, "value"), State(logic.CHANNEL, "value"), State(logic.MODE, "value"),
    State(logic.DIGIT, "value"), State(logic.THEME, "data"), State(logic.RUN, "data"), State(logic.SURFACE_KEY, "data"),
    prevent_initial_call=True,
)(logic.draw_surface_epoch)

dash.callback(
    Output(logic.STACK, "figure"), Output(logic.STACK_BOX, "is_open"),
    Input(logic.STACK_SHOW, "value"), Input(logic.PROBE, "data"), Input(logic.EPOCH, "value"),
    Input(logic.THEME, "data"), State(logic.RUN, "data"), Input(logic.STACK_WEBGL, "value"),
)(logic.draw_stack_view)

dash.callback(
    Output(logic.QUERY, "data"),
    Input(logic.DIGIT, "value"), Input(logic.PROBE, "data"), Input(logic.LAYER, "value"),
    Input(logic.CHANNEL, "value"), Input(logic.EPOCH, "value"), Input(logic.MODE, "value"),
    State(logic.RUN, "data"),
)(logic.record_query)

attribution_card.register(logic.ATTRIBUTION, Input(logic.PROBE, "data"), Input(logic.EPOCH, "value"),
                          Input(logic.THEME, "data"), State(logic.RUN, "data"), attribution_card.probe_outputs)

sync_url(logic.QUERY)
sync_theme(logic.THEME)
