"""Draw page (URL ``/draw?run=ID&layer=conv_2&channel=5&epoch=3&test=42``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/draw.py``; ids and layout pieces: ``dashboard/draw/layout.py``.
Each finished stroke, upload or test digit is one callback; the answer and the walk's layer come from
one run of the model. The canvas tools are answered in the browser (``assets/draw.js``).
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.draw import epoch_view
from dashboard.draw import layout as parts
from dashboard.pages.logic import draw as logic
from dashboard.ui import attribution_card, ids
from dashboard.ui.page import register_body, sync_theme, sync_url

dash.register_page(__name__, path="/draw", name="Draw", order=6, title="Draw a digit")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("draw", logic.body)

# Where the digit comes from: the canvas, an upload, the test set, a test digit named in the URL.
DIGIT_AND_MESSAGE = [
    Output(parts.DIGIT, "data", allow_duplicate=True),
    Output(parts.MESSAGE, "children", allow_duplicate=True),
    Output(parts.MESSAGE, "color", allow_duplicate=True),
    Output(parts.MESSAGE, "is_open", allow_duplicate=True),
]

dash.callback(*DIGIT_AND_MESSAGE, Input(parts.CANVAS_PNG, "data"),
              prevent_initial_call=True)(logic.digit_from_canvas)

dash.callback(*DIGIT_AND_MESSAGE, Input(parts.UPLOAD, "contents"), State(parts.UPLOAD, "filename"),
              prevent_initial_call=True)(logic.digit_from_upload)

dash.callback(*DIGIT_AND_MESSAGE, Input(parts.RANDOM, "n_clicks"), State(parts.RUN, "data"),
              prevent_initial_call=True)(logic.digit_from_test_set)

dash.callback(*DIGIT_AND_MESSAGE, Input(epoch_view.TEST_REQUEST, "data"), State(parts.RUN, "data"),
              prevent_initial_call="initial_duplicate")(epoch_view.digit_from_url)

# The answer and the walk through the layers: one request per digit, layer, channel, epoch or 3D tab.
dash.callback(Output(parts.READY, "children"), Output(parts.READY, "color"), Input(parts.RUN, "data"))(logic.warm_up)

dash.callback(
    Output(parts.CHANNEL, "data"),
    Input(parts.MAPS, "clickData"),
    Input(parts.LAYER, "value"),
    State(parts.RUN, "data"),
    prevent_initial_call=True,
)(logic.pick_channel)

dash.callback(
    Output(parts.LAYER, "value"),
    Output(parts.TIMER, "disabled"),
    Output(parts.PLAY, "children"),
    Input(parts.PREV, "n_clicks"),
    Input(parts.NEXT, "n_clicks"),
    Input(parts.PLAY, "n_clicks"),
    Input(parts.TIMER, "n_intervals"),
    State(parts.LAYER, "value"),
    State(parts.LAYER, "max"),
    State(parts.TIMER, "disabled"),
    prevent_initial_call=True,
)(logic.step)

dash.callback(
    Output(parts.PLACEHOLDER, "style"),
    Output(parts.RESULTS, "style"),
    Output(logic.WALK, "style"),
    Output(parts.MODEL_ERROR, "children"),
    Output(parts.INPUT, "figure"),
    Output(parts.SALIENCY, "figure"),
    Output(parts.TOP3, "children"),
    Output(parts.PROBABILITIES, "figure"),
    Output(parts.MAPS, "figure"),
    Output(parts.CHANNEL_MAP, "figure"),
    Output(parts.SURFACE, "figure"),
    Output(parts.SURFACE_COLUMN, "style"),
    Output(parts.LAYER_CAPTION, "children"),
    Output(parts.QUERY, "data"),
    Input(parts.DIGIT, "data"),
    Input(parts.LAYER, "value"),
    Input(parts.CHANNEL, "data"),
    Input(ids.THEME, "data"),
    Input(epoch_view.EPOCH, "value"),
    Input(parts.CHANNEL_TABS, "active_tab"),
    State(parts.RUN, "data"),
    State(parts.QUERY, "data"),
    Input(parts.SURFACE_WEBGL, "value"),
)(logic.show_digit)

# The stacked 3D view: built and drawn only while its switch is on.
dash.callback(
    Output(parts.STACKED, "figure"),
    Output(parts.STACK_BOX, "style"),
    Input(parts.STACK_SHOW, "value"),
    Input(parts.DIGIT, "data"),
    Input(ids.THEME, "data"),
    Input(epoch_view.EPOCH, "value"),
    State(parts.RUN, "data"),
    Input(parts.STACK_WEBGL, "value"),
    prevent_initial_call=True,  # the switch starts off
)(logic.show_stacked)

# Across training: the epoch's network, untrained against trained (drawn while on screen).
dash.callback(
    Output(epoch_view.EPOCHS_CARD, "style"),
    Output(epoch_view.UNTRAINED, "figure"),
    Output(epoch_view.TRAINED, "figure"),
    Output(epoch_view.TIMELINE, "figure"),
    Output(epoch_view.TIMELINE_CAPTION, "children"),
    Output(epoch_view.EPOCH_NOTE, "children"),
    Output(epoch_view.DRAWN, "data"),
    Input(parts.DIGIT, "data"),
    Input(epoch_view.EPOCH, "value"),
    Input(logic.THEME, "data"),
    Input(epoch_view.IN_VIEW, "data"),
    State(parts.RUN, "data"),
    State(epoch_view.DRAWN, "data"),
)(logic.show_epochs_in_view)

# Attributions and their sanity check: computed only while the card is open.
attribution_card.register(parts.ATTRIBUTION, Input(parts.DIGIT, "data"), Input(epoch_view.EPOCH, "value"),
                          Input(logic.THEME, "data"), State(parts.RUN, "data"), attribution_card.digit_outputs)

# Client side: the canvas tools and the address bar.
dash.clientside_callback(
    "function(width) { return window.cnnvizDraw.setBrush(width); }",
    Output(parts.BRUSH_APPLIED, "data"),
    Input(parts.BRUSH, "value"),
)

dash.clientside_callback(
    "function(n) { return window.cnnvizDraw.undo(); }",
    Output(parts.CANVAS_PNG, "data", allow_duplicate=True),
    Input(parts.UNDO, "n_clicks"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    "function(n) { return window.cnnvizDraw.clear(true); }",
    Output(parts.CANVAS_PNG, "data", allow_duplicate=True),
    Input(parts.CLEAR, "n_clicks"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    # An uploaded or test digit replaces the drawing: the board shows its 28x28 pixels.
    "function(digit) { return window.cnnvizDraw.show(digit); }",
    Output(parts.BOARD_SHOWS, "data"),
    Input(parts.DIGIT, "data"),
    prevent_initial_call=True,
)

# While Play runs (the timer is enabled) each step replaces the URL instead of
# adding a history entry, so Back leaves the walk instead of replaying it.
sync_url(parts.QUERY, replace_unless=State(parts.TIMER, "disabled"))
sync_theme(logic.THEME)
