"""Draw page: draw, upload or pick a digit and follow it through the active run's network.

URL: ``/draw?run=ID&layer=conv_2&channel=5`` (the layer and channel of the step-by-step walk).
The digit itself is not in the URL: a drawing does not fit in one.

The canvas lives in ``assets/draw.js``; each finished stroke arrives as a PNG data URL in
:data:`CANVAS_PNG`. Drawings and uploads go through :func:`read_image` (decode safely, then
MNIST-style preprocessing), test digits come from the run's test split. The model runs in
:mod:`dashboard.live_model`, the only place the web process uses TensorFlow.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, callback, ctx, dcc, html

from artifacts import ArtifactError
from artifacts.config import TrainConfig, captured_layers, layer_plan
from dashboard import explanations, ids
from dashboard.components import error_card, explanation, onboarding
from dashboard.figures.activations import (
    activation_surface,
    dense_bars,
    feature_map_mosaic,
    input_digit,
    probability_bars,
    saliency_overlay,
    stacked_layers,
)
from dashboard.live_model import Analysis, ModelUnavailable, get_live_model
from dashboard.preprocess import ImageRejected, preprocess_upload
from dashboard.runs import resolve_run
from dashboard.settings import get_settings
from dashboard.urlstate import build_search, parse_state

dash.register_page(__name__, path="/draw", name="Draw", order=6, title="Draw a digit")

CANVAS = "draw-canvas"
CANVAS_PNG = "draw-canvas-png"
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
READY = "draw-ready"

CANVAS_SIDE = 280  # canvas pixels; 10 per MNIST pixel
INPUT_LAYER = "pixels"
PLAY_MS = 1500
GRAPH_CONFIG = {"displaylogo": False}
SMALL_GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}
SHOWN = {"display": "block"}
HIDDEN = {"display": "none"}
NO_MESSAGE = (None, "info", False)

PREPROCESSING = """
The network was trained on MNIST, so a new digit is prepared the way MNIST's were: made gray, turned
into **light ink on a dark background** (a dark-on-light picture is inverted), **cropped** to the ink,
**scaled** to fit a 20x20 box keeping its proportions (thin strokes are thickened first so they survive),
and placed in a 28x28 frame with its **centre of mass** in the middle. The small picture is exactly
what the network receives.
"""
WALK = """
Step through the network one layer at a time, or press **Play**. Convolution and pooling layers show
one tile per channel (click a tile to see that channel as a 3D landscape); dense layers show one bar
per unit; the last layer gives the probabilities.
"""
FEATURE_MAPS = """
A **feature map** is what one filter "sees" in your digit: bright where its pattern appears, dark where
it does not. Every tile is one channel of the chosen layer; all tiles share one colour bar. Early layers
keep the digit's shape; deeper layers are smaller and more abstract. Click a tile to see that channel
as a 3D landscape; the framed tile is the one shown.
"""
LAYER_TEXT = {
    "Input": "The 28x28 pixels the network receives (0 = black, 255 = white).",
    "Conv2D": "Each tile is one filter's feature map: bright where its pattern appears in the digit.",
    "MaxPooling2D": "Each 2x2 window keeps only its largest value: half the size, the same channels.",
    "Dense": "Every unit combines all the numbers of the layer before into one feature.",
}


def layer_steps(manifest: dict) -> list[tuple[str, str, str]]:
    """Return (name, kind, description) for the input and every captured layer, in network order.

    Raises:
        ValueError: the manifest's config is not valid.
    """
    config = TrainConfig.from_dict(manifest.get("config") or {})
    captured = set(captured_layers(config))
    steps = []
    for spec in layer_plan(config):
        if spec.name == INPUT_LAYER or spec.name in captured:
            shape = "x".join(str(size) for size in spec.output_shape)
            parts = [spec.kind, spec.detail, spec.activation, f"output {shape}"]
            steps.append((spec.name, spec.kind, ", ".join(part for part in parts if part)))
    return steps


def read_image(contents: object, source: str, max_bytes: int) -> tuple[dict | None, str | None]:
    """Decode and preprocess a drawing or upload (a data URL): the upload callback's whole work.

    Returns:
        (digit data for the :data:`DIGIT` store, None), or (None, a message for the page).
    """
    try:
        pixels = preprocess_upload(contents, max_bytes)
    except ImageRejected as error:
        return None, str(error)
    return {"pixels": pixels.tolist(), "source": source, "label": None}, None


def digit_pixels(digit: dict) -> np.ndarray:
    """Return the (28, 28) uint8 pixels of a :data:`DIGIT` store value.

    Raises:
        ValueError: the value does not hold a 28x28 image.
    """
    try:
        pixels = np.asarray(digit.get("pixels"), dtype=np.float32)
    except (TypeError, ValueError):
        pixels = np.zeros(0)
    if pixels.shape != (28, 28):
        raise ValueError("The digit sent to the page is not a 28x28 image; draw or upload it again.")
    return np.clip(pixels, 0, 255).astype(np.uint8)


def layout(**kwargs):
    """Return the page for the run, layer and channel in the URL."""
    state = parse_state(kwargs)
    resolved = resolve_run(state.get("run"))
    if not resolved.ok:
        return html.Div([error_card(resolved.error), onboarding() if "run" not in state else None])
    try:
        steps = layer_steps(resolved.manifest)
    except (TypeError, ValueError) as error:
        return error_card(f"Run '{resolved.run.run_id}' has a configuration this page cannot read ({error}).")
    names = [name for name, _, _ in steps]
    layer = names.index(state["layer"]) if state.get("layer") in names else 0
    max_bytes = get_settings().max_upload_bytes
    head = html.Div([
        html.H3(["Draw a digit ", html.Small(f"run {resolved.run.run_id}", className="text-body-secondary"),
                 dbc.Badge("loading the model…", id=READY, color="secondary", className="ms-2 fs-6 align-middle")]),
        html.P("Draw with a mouse, pen or finger, upload a picture, or pick a digit from the test set; "
               "the network's answer and what each layer sees update as soon as you lift the pen.",
               className="text-body-secondary mb-2"),
    ])
    return html.Div([
        dcc.Store(id=RUN, data=resolved.run.run_id),
        # The view the URL asked for: a callback pushes a new query only when it differs.
        dcc.Store(id=QUERY, data=build_search(run=resolved.run.run_id, layer=names[layer],
                                              channel=state.get("channel"))),
        dcc.Store(id=CANVAS_PNG),
        dcc.Store(id=BRUSH_APPLIED),
        dcc.Store(id=DIGIT),
        dcc.Store(id=CHANNEL, data=state.get("channel")),
        head,
        dbc.Row([
            dbc.Col(input_card(max_bytes), lg=4, className="mb-3"),
            dbc.Col(html.Div([
                html.Div(placeholder(), id=PLACEHOLDER),
                html.Div(id=MODEL_ERROR),
                html.Div(result_row(), id=RESULTS, style=HIDDEN),
            ]), lg=8),
        ]),
        html.Div(walk_card(steps, layer), id=f"{RESULTS}-walk", style=HIDDEN),
    ], className="draw-page")


def input_card(max_bytes: int) -> dbc.Card:
    """Return the card with the canvas, its tools, the upload and the test-digit button."""
    tools = dbc.Row([
        dbc.Col([dbc.Label("Brush", html_for=BRUSH, className="small mb-0"),
                 dcc.Slider(id=BRUSH, min=6, max=40, step=2, value=22, marks=None,
                            tooltip={"placement": "bottom"}, allow_direct_input=False)], xs=12, sm=6),
        dbc.Col(dbc.ButtonGroup([
            dbc.Button([html.I(className="bi bi-arrow-counterclockwise me-1"), "Undo"], id=UNDO,
                       color="secondary", outline=True, size="sm"),
            dbc.Button([html.I(className="bi bi-x-lg me-1"), "Clear"], id=CLEAR, color="secondary",
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
    """Return the cards of the answer: the model's input, top three classes, saliency."""
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
            dbc.Col(dcc.Graph(id=SURFACE, config=GRAPH_CONFIG, style={"height": "440px"}), lg=5,
                    id=SURFACE_COLUMN),
        ], className="g-2"),
        dbc.Row([
            dbc.Col(dcc.Graph(id=STACKED, config=GRAPH_CONFIG, style={"height": "600px"}), lg=7),
            dbc.Col([
                explanation("Feature maps", FEATURE_MAPS, open_=True),
                explanation("3D surface", explanations.SURFACE),
                explanation("Stacked layers", explanations.STACKED),
            ], lg=5, className="pt-3"),
        ], className="g-2 mt-2"),
    ]), className="mb-3")


# -- where the digit comes from ------------------------------------------------

def _message(text: str | None, color: str = "danger") -> tuple:
    return (text, color, True) if text else NO_MESSAGE


@callback(
    Output(DIGIT, "data", allow_duplicate=True),
    Output(MESSAGE, "children", allow_duplicate=True),
    Output(MESSAGE, "color", allow_duplicate=True),
    Output(MESSAGE, "is_open", allow_duplicate=True),
    Input(CANVAS_PNG, "data"),
    prevent_initial_call=True,
)
def digit_from_canvas(data):
    """Preprocess the canvas after each stroke; an empty canvas clears the result."""
    if not data:
        return (None, *_message("The canvas is empty: draw a digit with your mouse, pen or finger.", "info"))
    digit, error = read_image(data, "drawing", get_settings().max_upload_bytes)
    return (digit, *_message(error))


@callback(
    Output(DIGIT, "data", allow_duplicate=True),
    Output(MESSAGE, "children", allow_duplicate=True),
    Output(MESSAGE, "color", allow_duplicate=True),
    Output(MESSAGE, "is_open", allow_duplicate=True),
    Input(UPLOAD, "contents"),
    State(UPLOAD, "filename"),
    prevent_initial_call=True,
)
def digit_from_upload(contents, filename):
    """Decode, check and preprocess an uploaded file; a bad file only gets a message."""
    digit, error = read_image(contents, "upload", get_settings().max_upload_bytes)
    if error:
        name = str(filename)[:80] if isinstance(filename, str) and filename else "The file"
        return (dash.no_update, *_message(f"{name}: {error}"))
    digit["name"] = str(filename)[:80] if isinstance(filename, str) else "upload"
    return (digit, *NO_MESSAGE)


@callback(
    Output(DIGIT, "data", allow_duplicate=True),
    Output(MESSAGE, "children", allow_duplicate=True),
    Output(MESSAGE, "color", allow_duplicate=True),
    Output(MESSAGE, "is_open", allow_duplicate=True),
    Input(RANDOM, "n_clicks"),
    State(RUN, "data"),
    prevent_initial_call=True,
)
def digit_from_test_set(n_clicks, run_id):
    """Load a random digit of the run's test split, with its label."""
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return (dash.no_update, *_message(resolved.error))
    try:
        predictions = resolved.run.predictions()
    except ArtifactError as error:
        return (dash.no_update, *_message(f"The test digits cannot be read: {error.reason}."))
    if len(predictions["images"]) == 0:
        return (dash.no_update, *_message("This run stored no test digits."))
    index = int(np.random.default_rng().integers(len(predictions["images"])))
    digit = {"pixels": predictions["images"][index].tolist(), "source": "test",
             "label": int(predictions["labels"][index]), "index": index}
    return (digit, *NO_MESSAGE)


# -- the answer ----------------------------------------------------------------

def analyse(run_id: str, digit: dict) -> tuple[np.ndarray, Analysis, dict]:
    """Run the active run's model on a digit.

    Returns:
        (pixels, analysis, manifest).

    Raises:
        ModelUnavailable: the run or its model cannot be used (message for the page).
        ValueError: the digit data is malformed.
    """
    resolved = resolve_run(run_id)
    if not resolved.ok:
        raise ModelUnavailable(resolved.error)
    pixels = digit_pixels(digit)
    return pixels, get_live_model(resolved.run, resolved.manifest).analyse(pixels), resolved.manifest


def describe(digit: dict) -> str:
    """Return where a digit came from, for figure titles."""
    if digit.get("source") == "test":
        return f"test digit #{digit.get('index')}, label {digit.get('label')}"
    if digit.get("source") == "upload":
        name = str(digit.get("name") or "upload")
        return name if len(name) <= 24 else name[:23] + "…"
    return "your drawing"


def top_three(probabilities: np.ndarray, label: int | None) -> list:
    """Return the three most likely classes as rows of a big digit and a bar."""
    rows = []
    for rank, cls in enumerate(np.argsort(probabilities)[::-1][:3]):
        share = float(probabilities[cls])
        color = "info" if rank == 0 else "secondary"
        if label is not None and rank == 0:
            color = "success" if cls == label else "danger"
        rows.append(html.Div([
            html.Div(str(int(cls)), className="draw-top-digit me-3"),
            dbc.Progress(value=max(share * 100, 0.5), color=color, className="flex-grow-1",
                         style={"height": "1.1rem"}),
            html.Div(f"{share:.1%}", className="draw-top-share ms-3"),
        ], className="draw-top-row d-flex align-items-center mb-2"))
    if label is not None:
        verdict = "right" if int(np.argmax(probabilities)) == label else "wrong"
        rows.append(html.Div(f"The true label is {label}: the network is {verdict}.",
                             className="small text-body-secondary"))
    return rows


@callback(
    Output(PLACEHOLDER, "style"),
    Output(RESULTS, "style"),
    Output(f"{RESULTS}-walk", "style"),
    Output(MODEL_ERROR, "children"),
    Output(INPUT, "figure"),
    Output(SALIENCY, "figure"),
    Output(TOP3, "children"),
    Output(PROBABILITIES, "figure"),
    Output(STACKED, "figure"),
    Input(DIGIT, "data"),
    Input(ids.THEME, "data"),
    State(RUN, "data"),
)
def show_answer(digit, theme, run_id):
    """Show the model's input, its top three classes, the saliency map and the stacked layers."""
    nothing = dash.no_update
    if not isinstance(digit, dict):
        return SHOWN, HIDDEN, HIDDEN, None, nothing, nothing, nothing, nothing, nothing
    try:
        pixels, analysis, _ = analyse(run_id, digit)
    except (ModelUnavailable, ValueError) as error:
        return HIDDEN, HIDDEN, HIDDEN, error_card(str(error)), nothing, nothing, nothing, nothing, nothing
    label = digit.get("label")
    layers = [(INPUT_LAYER, pixels.astype(np.float32)), *analysis.activations]
    return (
        HIDDEN, SHOWN, SHOWN, None,
        input_digit(pixels, f"Network input: {describe(digit)}", theme),
        saliency_overlay(pixels, analysis.saliency, theme),
        top_three(analysis.probabilities, label),
        probability_bars(analysis.probabilities, label, theme),
        stacked_layers(layers, theme),
    )


@callback(
    Output(READY, "children"),
    Output(READY, "color"),
    Input(RUN, "data"),
)
def warm_up(run_id):
    """Load the run's model as the page opens, so the first stroke is answered quickly."""
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return "no model", "danger"
    try:
        get_live_model(resolved.run, resolved.manifest)
    except ModelUnavailable:
        return "model unavailable", "danger"
    return "model ready", "success"


# -- the walk through the layers ----------------------------------------------

@callback(
    Output(CHANNEL, "data"),
    Input(MAPS, "clickData"),
    Input(LAYER, "value"),
    prevent_initial_call=True,
)
def pick_channel(click, layer):
    """Remember the clicked tile's channel; a new layer starts at its most active channel."""
    if ctx.triggered_id == LAYER:
        return None
    try:
        channel = int(click["points"][0]["customdata"])
    except (TypeError, KeyError, IndexError, ValueError):
        return dash.no_update
    return channel if channel >= 0 else dash.no_update


@callback(
    Output(LAYER, "value"),
    Output(TIMER, "disabled"),
    Output(PLAY, "children"),
    Input(PREV, "n_clicks"),
    Input(NEXT, "n_clicks"),
    Input(PLAY, "n_clicks"),
    Input(TIMER, "n_intervals"),
    State(LAYER, "value"),
    State(LAYER, "max"),
    State(TIMER, "disabled"),
    prevent_initial_call=True,
)
def step(_prev, _next, _play, _tick, layer, last, stopped):
    """Move the walk one layer back or on, or play it with the timer (stopping at the output)."""
    layer = int(layer or 0)
    last = int(last or 0)
    play = [html.I(className="bi bi-play-fill me-1"), "Play"]
    pause = [html.I(className="bi bi-pause-fill me-1"), "Pause"]
    trigger = ctx.triggered_id
    if trigger == PREV:
        return max(layer - 1, 0), True, play
    if trigger == NEXT:
        return min(layer + 1, last), True, play
    if trigger == PLAY:
        if not stopped:
            return dash.no_update, True, play
        return (0 if layer >= last else layer), False, pause
    following = min(layer + 1, last)
    return (following, True, play) if following >= last else (following, False, pause)


@callback(
    Output(MAPS, "figure"),
    Output(SURFACE, "figure"),
    Output(SURFACE_COLUMN, "style"),
    Output(LAYER_CAPTION, "children"),
    Output(QUERY, "data"),
    Input(DIGIT, "data"),
    Input(LAYER, "value"),
    Input(CHANNEL, "data"),
    Input(ids.THEME, "data"),
    State(RUN, "data"),
    State(QUERY, "data"),
)
def show_layer(digit, layer, channel, theme, run_id, shown_query):
    """Draw the chosen layer's activations of the digit: feature maps and one channel in 3D, or bars."""
    nothing = dash.no_update
    resolved = resolve_run(run_id)
    try:
        steps = layer_steps(resolved.manifest or {})
        name, kind, description = steps[min(max(int(layer or 0), 0), len(steps) - 1)]
    except (TypeError, ValueError, IndexError):
        return nothing, nothing, nothing, nothing, nothing
    query = build_search(run=run_id, layer=name, channel=channel)
    if ctx.triggered_id not in (LAYER, CHANNEL) or query == shown_query:
        query = nothing
    if not isinstance(digit, dict):
        return nothing, nothing, nothing, nothing, query
    try:
        pixels, analysis, _ = analyse(run_id, digit)
    except (ModelUnavailable, ValueError):
        return nothing, nothing, nothing, nothing, query  # show_answer shows the message
    arrays = dict([(INPUT_LAYER, pixels[:, :, None].astype(np.float32)), *analysis.activations])
    values = arrays[name]
    caption = [html.Strong(f"Step {steps.index((name, kind, description)) + 1} of {len(steps)}: "),
               html.Code(name), f" ({description}). ", LAYER_TEXT.get(kind, "")]
    if values.ndim == 1:
        if name == steps[-1][0]:
            bars = probability_bars(values, digit.get("label"), theme)
            caption[-1] = "Softmax turns the last scores into probabilities that add up to 100%."
        else:
            bars = dense_bars(values, f"{name}: {len(values)} units", theme)
        return bars, nothing, HIDDEN, caption, query
    channels = values.shape[2]
    if not isinstance(channel, int) or not 0 <= channel < channels:
        channel = int(np.argmax(values.mean(axis=(0, 1))))
    maps = feature_map_mosaic(values, f"{name}: {channels} feature map{'s' if channels > 1 else ''}",
                              theme, highlight=channel if channels > 1 else None)
    surface = activation_surface(values[:, :, channel], f"{name}, channel {channel} in 3D", theme)
    return maps, surface, SHOWN, caption, query


# -- client side: the canvas tools and the address bar --------------------------

dash.clientside_callback(
    "function(width) { return window.cnnvizDraw.setBrush(width); }",
    Output(BRUSH_APPLIED, "data"),
    Input(BRUSH, "value"),
)

dash.clientside_callback(
    "function(n) { return window.cnnvizDraw.undo(); }",
    Output(CANVAS_PNG, "data", allow_duplicate=True),
    Input(UNDO, "n_clicks"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    "function(n) { return window.cnnvizDraw.clear(true); }",
    Output(CANVAS_PNG, "data", allow_duplicate=True),
    Input(CLEAR, "n_clicks"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    # An uploaded or test digit replaces the drawing: wipe the board without sending it.
    "function(contents, n) { return window.cnnvizDraw.clear(false); }",
    Output(CANVAS_PNG, "data", allow_duplicate=True),
    Input(UPLOAD, "contents"),
    Input(RANDOM, "n_clicks"),
    prevent_initial_call=True,
)

dash.clientside_callback(
    "function(q) { return window.cnnviz.pushQuery(q); }",
    Output(QUERY, "data", allow_duplicate=True),
    Input(QUERY, "data"),
    prevent_initial_call=True,
)
