"""The Draw page's parts: component ids, texts and the layout cards (the page wires them).

Kept apart from :mod:`dashboard.pages.draw` so that file holds the callbacks and stays
readable; the ids are defined here once.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html

from dashboard.ui import explanations
from dashboard.ui.attribution_card import attribution_card, card_ids
from dashboard.ui.components import explanation, webgl_switch

CANVAS = "draw-canvas"
CANVAS_PNG = "draw-canvas-png"
BOARD_SHOWS = "draw-board-shows"
BRUSH = "draw-brush"
BRUSH_APPLIED = "draw-brush-applied"
UNDO = "draw-undo"
CLEAR = "draw-clear"
UPLOAD = "draw-upload"
RANDOM = "draw-random"
MESSAGE = "draw-message"
DIGIT = "draw-digit"
RUN = "draw-run"
QUERY = "draw-query"
PLACEHOLDER = "draw-placeholder"
RESULTS = "draw-results"
MODEL_ERROR = "draw-model-error"
INPUT = "draw-input"
TOP3 = "draw-top3"
PROBABILITIES = "draw-probabilities"
SALIENCY = "draw-saliency"
STACKED = "draw-stacked"
STACK_SHOW = "draw-stacked-show"  # dbc.Switch: build and draw the stacked 3D view (off until asked)
STACK_BOX = "draw-stacked-box"  # the Div around it (shown at once: no opening animation to resize the 3D scene)
STACK_WEBGL = "draw-stacked-webgl"  # dbc.Switch: the stacked view as an interactive WebGL scene (off: an image)
LAYER = "draw-layer"
PREV = "draw-prev"
NEXT = "draw-next"
PLAY = "draw-play"
TIMER = "draw-timer"
CHANNEL = "draw-channel"
LAYER_CAPTION = "draw-layer-caption"
MAPS = "draw-maps"
SURFACE = "draw-surface"
SURFACE_COLUMN = "draw-surface-column"
SURFACE_WEBGL = "draw-surface-webgl"  # dbc.Switch: the 3D surface as an interactive WebGL scene (off: an image)
CHANNEL_MAP = "draw-channel-map"  # the chosen channel flat, its values on hover
CHANNEL_TABS = "draw-channel-tabs"  # dbc.Tabs: the channel map, or the 3D surface (drawn only while open)
MAP_TAB = "map"
SURFACE_TAB = "surface"
READY = "draw-ready"
ATTRIBUTION = card_ids("draw")  # the attributions card (dashboard.ui.attribution_card), under the answer

CANVAS_SIDE = 280  # canvas pixels; 10 per MNIST pixel
INPUT_LAYER = "pixels"
PLAY_MS = 1500
GRAPH_CONFIG = {"displaylogo": False}
SMALL_GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}
# What a graph shows before it is drawn: no axes, nothing for Plotly to set up (no WebGL scene).
NOT_DRAWN = {"layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}
SHOWN = {"display": "block"}
HIDDEN = {"display": "none"}
NO_MESSAGE = (None, "info", False)

PREPROCESSING = """
The network was trained on MNIST, so a new digit is prepared the way MNIST's were: made gray, turned
into **light ink on a dark background** (a dark-on-light picture is inverted), **cropped** to the ink,
**scaled** to fit a 20x20 box keeping its proportions (thin strokes are thickened first so they survive),
and placed in a 28x28 frame with its **centre of mass** in the middle. The small picture is exactly
what the network receives. On the **28x28 pixels** board each cell already is one of those pixels:
nothing is scaled or thickened, the drawing is only moved so its centre of mass is in the middle.
"""
WALK = """
Step through the network one layer at a time, or press **Play**. Convolution and pooling layers show
one tile per channel (click a tile to see that channel on its own, flat or as a 3D landscape); dense
layers show one bar per unit; the last layer gives the probabilities. The switch under the walk stacks
every layer in one 3D view.
"""
FEATURE_MAPS = """
A **feature map** is what one filter "sees" in your digit: bright where its pattern appears, dark where
it does not. Every tile is one channel of the chosen layer; all tiles share one colour bar. Early layers
keep the digit's shape; deeper layers are smaller and more abstract. Click a tile to see that channel
on its own (hover it for its values, or open its 3D landscape); the framed tile is the one shown.
"""
LAYER_TEXT = {
    "Input": "The 28x28 pixels the network receives (0 = black, 255 = white).",
    "Conv2D": "Each tile is one filter's feature map: bright where its pattern appears in the digit.",
    "MaxPooling2D": "Each 2x2 window keeps only its largest value: half the size, the same channels.",
    "Dense": "Every unit combines all the numbers of the layer before into one feature.",
}


def input_card(max_bytes: int, board_switch=None) -> dbc.Card:
    """Return the card with the canvas, its tools, the upload and the test-digit button.

    Args:
        board_switch: the board's resolution switch (:func:`dashboard.draw.canvas.mode_control`), under the tools.
    """
    tools = dbc.Row([
        dbc.Col([dbc.Label("Brush", html_for=BRUSH, className="small mb-0"),
                 dcc.Slider(id=BRUSH, min=6, max=40, step=2, value=22, marks=None,
                            tooltip={"placement": "bottom"}, allow_direct_input=False)], xs=12, sm=6),
        dbc.Col(dbc.ButtonGroup([
            # Info like "Random test digit", not outline-secondary: grey outlines read as disabled.
            dbc.Button([html.I(className="bi bi-arrow-counterclockwise me-1"), "Undo"], id=UNDO,
                       color="info", outline=True, size="sm"),
            dbc.Button([html.I(className="bi bi-x-lg me-1"), "Clear"], id=CLEAR, color="info",
                       outline=True, size="sm"),
        ]), xs=12, sm=6, className="d-flex align-items-center justify-content-sm-end mt-2 mt-sm-0"),
    ], className="g-2 align-items-center my-2")
    upload = html.Div(
        dcc.Upload(
            id=UPLOAD,
            children=html.Div([html.I(className="bi bi-upload me-2"), "Drop a PNG or JPEG here or ",
                               html.A("choose a file", className="link-info"),
                               html.Div(f"up to {max_bytes // (1024 * 1024)} MB", className="small")]),
            accept="image/png,image/jpeg,.png,.jpg,.jpeg",
            max_size=max_bytes,
            multiple=False,
            className="draw-upload",
        ),
        **{"data-max-bytes": str(max_bytes)},
    )
    return dbc.Card(dbc.CardBody([
        html.H5("Your digit", className="card-title"),
        html.Canvas(id=CANVAS, width=CANVAS_SIDE, height=CANVAS_SIDE, title="Draw a digit here"),
        tools,
        board_switch,
        upload,
        dbc.Button([html.I(className="bi bi-shuffle me-2"), "Random test digit"], id=RANDOM, color="info",
                   outline=True, className="w-100 mt-2"),
        dbc.Alert(id=MESSAGE, is_open=False, color="info", className="mt-2 mb-0 py-2 small"),
        explanation("How a drawing becomes MNIST-like", PREPROCESSING),
    ]))


def placeholder() -> dbc.Card:
    """Return what the result area shows before there is a digit."""
    return dbc.Card(dbc.CardBody([
        html.I(className="bi bi-pencil display-5 text-body-secondary"),
        html.H5("Draw a digit to see what the network makes of it", className="mt-3"),
        html.P("Write one digit, 0 to 9, large and in the middle of the black board. "
               "Or upload a photo of one, or pick a random digit from the test set.",
               className="text-body-secondary mb-0"),
    ], className="text-center py-5"))


def result_row() -> dbc.Row:
    """Return the cards of the answer: the model's input, top three classes, saliency, the attributions card."""
    def graph(component_id: str, height: int) -> dcc.Graph:
        return dcc.Graph(id=component_id, config=SMALL_GRAPH_CONFIG, style={"height": f"{height}px"})

    return dbc.Row([
        dbc.Col(dbc.Card(dbc.CardBody([
            graph(INPUT, 270),
            graph(SALIENCY, 270),
            explanation("Saliency", explanations.SALIENCY),
        ])), md=5, className="mb-3"),
        dbc.Col(dbc.Card(dbc.CardBody([
            html.H5("The network's answer", className="card-title"),
            html.Div(id=TOP3, className="draw-top3 mb-2"),
            graph(PROBABILITIES, 280),
            explanation("Probabilities", explanations.SOFTMAX),
        ])), md=7, className="mb-3"),
        dbc.Col(attribution_card(ATTRIBUTION), md=12),
    ])


def walk_card(steps: list[tuple[str, str, str]], layer: int) -> dbc.Card:
    """Return the step-by-step walk through the layers and the stacked 3D view."""
    marks = {index: name for index, (name, _, _) in enumerate(steps)}
    controls = dbc.Row([
        dbc.Col(dbc.ButtonGroup([
            dbc.Button(html.I(className="bi bi-skip-backward-fill"), id=PREV, color="secondary", outline=True,
                       title="Previous layer"),
            dbc.Button([html.I(className="bi bi-play-fill me-1"), "Play"], id=PLAY, color="primary",
                       title="Walk through the layers"),
            dbc.Button(html.I(className="bi bi-skip-forward-fill"), id=NEXT, color="secondary", outline=True,
                       title="Next layer"),
        ]), width="auto"),
        dbc.Col(dcc.Slider(id=LAYER, min=0, max=len(steps) - 1, step=1, value=layer, marks=marks,
                           included=False, allow_direct_input=False), className="pt-2"),
    ], className="g-3 align-items-center")
    return dbc.Card(dbc.CardBody([
        html.H5("Through the layers", className="card-title"),
        explanation("How to use the walk", WALK),
        controls,
        dcc.Interval(id=TIMER, interval=PLAY_MS, disabled=True),
        html.Div(id=LAYER_CAPTION, className="small mt-2"),
        dbc.Row([
            dbc.Col(dcc.Graph(id=MAPS, config=GRAPH_CONFIG, style={"height": "440px"}), lg=7),
            dbc.Col(channel_views(), lg=5, id=SURFACE_COLUMN),
        ], className="g-2"),
        dbc.Row([
            dbc.Col(stacked_view(), lg=7),
            dbc.Col([
                explanation("Feature maps", FEATURE_MAPS, open_=True),
                explanation("3D surface", explanations.SURFACE),
                explanation("Stacked layers", explanations.STACKED),
            ], lg=5, className="pt-3"),
        ], className="g-2 mt-2"),
    ]), className="mb-3")


def channel_views() -> dbc.Tabs:
    """Return the chosen channel's two views: flat (values on hover) or in 3D.

    The surface stays :data:`NOT_DRAWN` until its tab is opened; then it is an image of the 3D scene,
    or with its switch on the interactive WebGL scene (the slowest thing a browser without a GPU draws).
    """
    return dbc.Tabs([
        dbc.Tab(dcc.Graph(id=CHANNEL_MAP, config=GRAPH_CONFIG, style={"height": "400px"}), label="Channel map",
                tab_id=MAP_TAB),
        dbc.Tab([dcc.Graph(id=SURFACE, figure=NOT_DRAWN, config=GRAPH_CONFIG, style={"height": "400px"}),
                 webgl_switch(SURFACE_WEBGL)], label="3D surface", tab_id=SURFACE_TAB),
    ], id=CHANNEL_TABS, active_tab=MAP_TAB)


def stacked_view() -> html.Div:
    """Return the switch and the stacked 3D view of every layer, built only once the switch is on."""
    return html.Div([
        dbc.Switch(id=STACK_SHOW, label="Show every layer stacked in 3D", value=False, className="mt-2"),
        html.Div([dcc.Graph(id=STACKED, figure=NOT_DRAWN, config=GRAPH_CONFIG, style={"height": "600px"}),
                  webgl_switch(STACK_WEBGL)], id=STACK_BOX, style=HIDDEN),
    ])


def in_view_card(card_id: str, card, in_view_id: str, style: dict | None = None) -> html.Div:
    """Wrap a card that is drawn only while it is on screen: ``assets/draw.js`` writes into the
    ``in_view_id`` store whether it is, and the card's callback takes that store as an Input.

    Cards below the fold (across training, the what-if) then cost a stroke nothing until the user
    scrolls to them. Such a card is hidden (``style``) until there is a digit, so that the layout it
    is in view in is the one with the answer shown: a card on screen before the first answer is pushed
    down by it, and must not be drawn for the moment it was visible.
    """
    return html.Div([dcc.Store(id=in_view_id, data=False), card], id=card_id, style=style,
                    **{"data-in-view": in_view_id})


def top_three(probabilities: np.ndarray, label: int | None, names=None) -> list:
    """Return the three most likely classes as rows of a big class name and a bar (names: the digits when None)."""
    names = [str(k) for k in range(len(probabilities))] if names is None else list(names)
    rows = []
    for rank, cls in enumerate(np.argsort(probabilities)[::-1][:3]):
        share = float(probabilities[cls])
        color = "info" if rank == 0 else "secondary"
        if label is not None and rank == 0:
            color = "success" if cls == label else "danger"
        rows.append(html.Div([
            html.Div(names[int(cls)], className="draw-top-digit me-3"),
            dbc.Progress(value=max(share * 100, 0.5), color=color, className="flex-grow-1",
                         style={"height": "1.1rem"}),
            html.Div(f"{share:.1%}", className="draw-top-share ms-3"),
        ], className="draw-top-row d-flex align-items-center mb-2"))
    if label is not None:
        verdict = "right" if int(np.argmax(probabilities)) == label else "wrong"
        rows.append(html.Div(f"The true label is {names[label]}: the network is {verdict}.",
                             className="small text-body-secondary"))
    return rows
