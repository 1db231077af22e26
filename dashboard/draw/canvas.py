"""The Draw board's two resolutions: the 28x28 grid (each cell one network pixel) and the smooth board.

The strokes are kept as points in ``assets/draw.js``, so switching repaints the same drawing at
the other resolution and sends it again. In the grid mode the board sends a 28x28 PNG, which
:func:`dashboard.draw.preprocess.preprocess_canvas` takes as the network's pixels; the smooth board
sends its 280x280 picture, prepared like any other (MNIST-style). The mode is in the page's URL
(``?canvas=pixels``).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, html

from dashboard.draw.layout import CANVAS_PNG, QUERY
from dashboard.draw.preprocess import ImageRejected, preprocess_canvas
from dashboard.ui.urlstate import build_search, parse_search

CANVAS_MODE = "draw-canvas-mode"
PIXELS = "pixels"  # 28x28: each cell is one of the network's pixels
SMOOTH = "smooth"  # the 280x280 board, prepared like an upload
MODES = (PIXELS, SMOOTH)
URL_KEY = "canvas"


def mode_of(state: dict) -> str:
    """Return the board mode a page's URL state asks for (smooth when none or an unknown one)."""
    mode = state.get(URL_KEY)
    return mode if mode in MODES else SMOOTH


def mode_control(mode: str) -> html.Div:
    """Return the resolution switch, set to ``mode``."""
    return html.Div([
        dbc.Label("Board", html_for=CANVAS_MODE, className="small mb-0 me-2"),
        dbc.RadioItems(id=CANVAS_MODE, value=mode, inline=True, className="small d-inline-block",
                       options=[{"label": "28x28 pixels (what the network sees)", "value": PIXELS},
                                {"label": "smooth 280x280", "value": SMOOTH}]),
    ], className="d-flex align-items-center flex-wrap mt-2")


def read_canvas(contents: object, max_bytes: int) -> tuple[dict | None, str | None]:
    """Decode and prepare the board's data URL (either mode).

    Returns:
        (digit data for the page's digit store, None), or (None, a message for the page).
    """
    try:
        pixels = preprocess_canvas(contents, max_bytes)
    except ImageRejected as error:
        return None, str(error)
    return {"pixels": pixels.tolist(), "source": "drawing", "label": None}, None


@callback(
    Output(QUERY, "data", allow_duplicate=True),
    Input(CANVAS_MODE, "value"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def mode_in_url(mode, shown_query):
    """Put the board's mode in the URL, keeping the rest of the page's state."""
    if mode not in MODES:
        return dash.no_update
    query = build_search(**{**parse_search(shown_query), URL_KEY: mode})
    return query if query != shown_query else dash.no_update


dash.clientside_callback(
    # The board repaints the same strokes at the new resolution and sends them again (no drawing: nothing).
    "function(mode) { return window.cnnvizDraw.setMode(mode); }",
    Output(CANVAS_PNG, "data", allow_duplicate=True),
    Input(CANVAS_MODE, "value"),
    prevent_initial_call="initial_duplicate",
)
