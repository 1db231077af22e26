"""Training page (URL ``/training?run=ID&digit=3``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/training.py``. The layout draws the figures; at load no
callback runs on the server. The class filter is answered in the browser (line widths and the URL),
the theme too (it changes only the figures' template).
"""

from __future__ import annotations

import json

import dash
from dash import Input, Output, State

from dashboard.pages.logic import training as logic
from dashboard.ui.drawn_page import swap_templates, sync_drawn_theme, write_query
from dashboard.ui.page import register_body, sync_url

dash.register_page(__name__, path="/training", name="Training", order=1, title="Training · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

register_body("training", logic.body)

dash.clientside_callback(
    # One digit's line forward, in the browser: the widths and opacities of logic.digit_styles.
    """function(digit) {
        var styles = STYLES;
        var patch = new window.dash_clientside.Patch();
        var key = digit === null || digit === undefined ? "all" : String(digit);
        (styles[key] || styles.all).forEach(function (style, k) {
            patch.assign(["data", k, "line", "width"], style.width);
            patch.assign(["data", k, "opacity"], style.opacity);
        });
        return patch.build();
    }""".replace("STYLES", json.dumps(logic.digit_styles())),
    Output(logic.TRAINING_CLASSES, "figure"),
    Input(logic.TRAINING_DIGIT, "value"),
    prevent_initial_call=True,
)

write_query(logic.TRAINING_QUERY, {"run": (Input(logic.TRAINING_RUN, "data"), None),
                                   "digit": (Input(logic.TRAINING_DIGIT, "value"), "all")})

# The three figures' themes differ only in their template (tests/dashboard/test_issue12_pages.py):
# switched in the browser.
swap_templates(logic.TRAINING_THEME, [logic.TRAINING_CURVES, logic.TRAINING_CLASSES, logic.TRAINING_TIMING])

dash.callback(
    Output(logic.TRAINING_DOWNLOAD, "data"),
    Input(logic.TRAINING_DOWNLOAD_BUTTON, "n_clicks"),
    State(logic.TRAINING_RUN, "data"),
    prevent_initial_call=True,
)(logic.download_history)

sync_url(logic.TRAINING_QUERY)

sync_drawn_theme(logic.TRAINING_THEME)
