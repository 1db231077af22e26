"""The Draw page's layout and what its callbacks compute (its Dash wiring: ``dashboard/pages/draw.py``).

Draw, upload or pick a digit and follow it through the active run's network.

URL: ``/draw?run=ID&layer=conv_2&channel=5&epoch=3&test=42`` (the layer and channel of the step-by-step
walk, the epoch whose network answers, a test digit's number). A drawing does not fit in a URL.

The canvas lives in ``assets/draw.js``; each finished stroke arrives as a PNG data URL in
:data:`CANVAS_PNG`. Drawings and uploads go through :func:`read_image` (decode safely, then
MNIST-style preprocessing), test digits come from the run's test split. The model runs in
:mod:`dashboard.draw.live_model`: in numpy from the run's stored weights, or (runs from before
weights were stored) through TensorFlow, the only place the web process may use it. The ids live in
:mod:`dashboard.draw.layout`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Patch, ctx, dcc, html
from dash.exceptions import MissingCallbackContextException, PreventUpdate

from artifacts import ArtifactError, Manifest
from artifacts.config import captured_layers
from dashboard.draw import epoch_view
from dashboard.draw.canvas import URL_KEY, mode_control, mode_of, read_canvas
from dashboard.draw.epochs import epoch_choice, model_at, parse_test_number, stored_epochs, url_state
from dashboard.draw.layout import (
    BOARD_SHOWS,
    BRUSH_APPLIED,
    CANVAS_PNG,
    CHANNEL,
    CHANNEL_TABS,
    DIGIT,
    HIDDEN,
    INPUT_LAYER,
    LAYER,
    LAYER_TEXT,
    MODEL_ERROR,
    NEXT,
    NO_MESSAGE,
    NOT_DRAWN,
    PLACEHOLDER,
    PLAY,
    PREV,
    QUERY,
    READY,
    RESULTS,
    RUN,
    SHOWN,
    STACK_SHOW,
    SURFACE_TAB,
    SURFACE_WEBGL,
    input_card,
    placeholder,
    result_row,
    top_three,
    walk_card,
)
from dashboard.draw.live_model import Analysis, ModelUnavailable, get_live_model
from dashboard.draw.preprocess import ImageRejected, preprocess_upload
from dashboard.draw.whatif_view import start_settings, whatif_card
from dashboard.figures.activations import (
    activation_surface,
    channel_at,
    channel_heatmap,
    dense_bars,
    feature_map_image,
    highlight_shape,
    input_digit,
    mosaic_columns,
    probability_bars,
    saliency_overlay,
    stacked_layers,
)
from dashboard.figures.scene_image import stacked_image, surface_image
from dashboard.inference.graph import walked_layers
from dashboard.settings import current_settings
from dashboard.store_access import Resolved, resolve_run
from dashboard.ui.components import error_card, run_class_names
from dashboard.ui.page import manifest_of, query_store, run_page, theme_store
from dashboard.ui.urlstate import build_search, parse_search, parse_state

THEME = "draw-theme"  # this page's copy of the app's theme (dashboard.ui.page)
WALK = f"{RESULTS}-walk"  # the step-by-step walk's card, shown once there is a digit


def layer_steps(manifest: Manifest) -> list[tuple[str, str, str]]:
    """Return (name, kind, description) for the input and every captured layer, in network order.

    An imported model's: its input and every layer :func:`dashboard.inference.graph.walked_layers` walks.

    Raises:
        ArtifactError: the manifest's config is not valid.
    """
    if manifest.is_imported:
        captured = set(walked_layers(manifest.layers()))
    else:
        captured = set(captured_layers(manifest.config))
    steps = []
    for spec in manifest.layers():
        if spec.name == INPUT_LAYER or spec.kind == "Input" or spec.name in captured:
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
    """Return the page for the run (the contract's choice), layer and channel in the URL."""
    return run_page("draw", kwargs)


def body(resolved: Resolved, kwargs: dict):
    """Return the page for a resolved run and the URL's layer and channel."""
    state = parse_state(kwargs)
    try:
        steps = layer_steps(manifest_of(resolved))
    except (ArtifactError, TypeError, ValueError) as error:
        return error_card(f"Run '{resolved.run.run_id}' has a configuration this page cannot read ({error}).")
    names = [name for name, _, _ in steps]
    board = mode_of(state)
    layer = names.index(state["layer"]) if state.get("layer") in names else 0
    max_bytes = current_settings().max_upload_bytes
    imported = manifest_of(resolved).is_imported
    # An imported model has one network, as imported: no epochs to choose from, no config for the what-if card.
    epochs, epoch, epoch_message = ([], None, None) if imported else epoch_choice(resolved.run, kwargs.get("epoch"))
    test = kwargs.get("test")
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
        query_store(QUERY, build_search(run=resolved.run.run_id, layer=names[layer], channel=state.get("channel"),
                                        epoch=None if not epochs or epoch == epochs[-1] else epoch,
                                        test=parse_test_number(test)[0],
                                        **{URL_KEY: board if state.get(URL_KEY) else None})),
        dcc.Store(id=epoch_view.TEST_REQUEST, data=None if test is None else str(test)[:40]),
        theme_store(THEME),
        dcc.Store(id=CANVAS_PNG),
        dcc.Store(id=BOARD_SHOWS),
        dcc.Store(id=BRUSH_APPLIED),
        dcc.Store(id=DIGIT),
        dcc.Store(id=CHANNEL, data=state.get("channel")),
        head,
        dbc.Row([
            dbc.Col(input_card(max_bytes, mode_control(board)), lg=4, className="mb-3"),
            dbc.Col(html.Div([
                epoch_view.epoch_control(epochs, epoch, epoch_message, IMPORTED_EPOCHS if imported else None),
                html.Div(placeholder(), id=PLACEHOLDER),
                html.Div(id=MODEL_ERROR),
                html.Div(result_row(), id=RESULTS, style=HIDDEN),
            ]), lg=8),
        ]),
        epoch_view.epochs_card(),
        html.Div(walk_card(steps, layer), id=WALK, style=HIDDEN),
        imported_whatif() if imported else whatif_card(start_settings(manifest_of(resolved).config)),
    ], className="draw-page")


IMPORTED_EPOCHS = ("An imported model has no training history: the model as it was imported answers below, "
                   "and the card of the digit across training epochs is not shown.")
IMPORTED_WHATIF = ("What if conv_1 were different? needs a run trained here: it varies the first convolution of "
                   "the run's training config, which an imported model does not have.")


def imported_whatif() -> html.Div:
    """Return the what-if card's place on an imported run: a note why it is not there (its controls hidden, so
    its callbacks find their components and draw nothing, the card never being on screen)."""
    return html.Div([
        dbc.Alert([html.I(className="bi bi-info-circle me-2"), IMPORTED_WHATIF], color="secondary",
                  className="py-2 small", id=f"{WALK}-imported-whatif"),
        html.Div(whatif_card(start_settings(None)), style=HIDDEN),
    ])


# -- where the digit comes from ------------------------------------------------

def _message(text: str | None, color: str = "danger") -> tuple:
    return (text, color, True) if text else NO_MESSAGE


def digit_from_canvas(data):
    """Preprocess the canvas after each stroke; an empty canvas clears the result."""
    if not data:
        return (None, *_message("The canvas is empty: draw a digit with your mouse, pen or finger.", "info"))
    digit, error = read_canvas(data, current_settings().max_upload_bytes)
    return (digit, *_message(error))


def digit_from_upload(contents, filename):
    """Decode, check and preprocess an uploaded file; a bad file only gets a message."""
    digit, error = read_image(contents, "upload", current_settings().max_upload_bytes)
    if error:
        name = str(filename)[:80] if isinstance(filename, str) and filename else "The file"
        return (dash.no_update, *_message(f"{name}: {error}"))
    digit["name"] = str(filename)[:80] if isinstance(filename, str) else "upload"
    return (digit, *NO_MESSAGE)


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

def analyse(run_id: str, digit: dict, epoch: object = None) -> tuple[np.ndarray, Analysis]:
    """Run the active run's model (after ``epoch``; None: the last) on a digit.

    Returns:
        (pixels, analysis).

    Raises:
        ModelUnavailable: the run or its model cannot be used (message for the page).
        ValueError: the digit data is malformed.
    """
    resolved = resolve_run(run_id)
    if not resolved.ok:
        raise ModelUnavailable(resolved.error)
    pixels = digit_pixels(digit)
    model = model_at(resolved.run, epoch)
    # One stroke fires several callbacks (the answer and walk, the stacked 3D view), each its own request:
    # they share the analysis here. The model object is part of the key, so a reloaded model answers anew.
    key = hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest()
    with _ANALYSES_LOCK:
        kept = _ANALYSES.get(key)
        if kept is not None and kept[0] is model:
            _ANALYSES.move_to_end(key)
            return pixels, kept[1]
    analysis = model.analyse(pixels)
    with _ANALYSES_LOCK:
        _ANALYSES[key] = (model, analysis)
        while len(_ANALYSES) > _ANALYSES_KEPT:
            _ANALYSES.popitem(last=False)
    return pixels, analysis


_ANALYSES: OrderedDict[str, tuple[object, Analysis]] = OrderedDict()  # the last few digits' analyses
_ANALYSES_LOCK = threading.Lock()
_ANALYSES_KEPT = 16


class DigitAnalysis:
    """The model's analysis of one digit, run on first use and at most once, shared by every output.

    Args:
        run_id: the run whose model answers.
        digit: a :data:`DIGIT` store value.
        epoch: the epoch whose network answers (None: the last).
    """

    def __init__(self, run_id: str, digit: dict, epoch: object = None):
        self.run_id = run_id
        self.digit = digit
        self.epoch = epoch
        self._result: tuple[np.ndarray, Analysis] | None = None
        self._error: Exception | None = None

    def get(self) -> tuple[np.ndarray, Analysis]:
        """Return (pixels, analysis).

        Raises:
            ModelUnavailable: the run or its model cannot be used (message for the page).
            ValueError: the digit data is malformed.
        """
        if self._result is None and self._error is None:
            try:
                pixels, analysis = analyse(self.run_id, self.digit, self.epoch)
                self._result = pixels, analysis
            except (ModelUnavailable, ValueError) as error:
                self._error = error
        if self._error is not None:
            raise self._error
        return self._result


def fired() -> set[str]:
    """Return the ids of the inputs that fired the running callback (none outside a callback)."""
    try:
        return set(ctx.triggered_prop_ids.values())
    except MissingCallbackContextException:
        return set()


def describe(digit: dict) -> str:
    """Return where a digit came from, for figure titles."""
    if digit.get("source") == "test":
        return f"test digit #{digit.get('index')}, label {digit.get('label')}"
    if digit.get("source") == "upload":
        name = str(digit.get("name") or "upload")
        return name if len(name) <= 24 else name[:23] + "…"
    return "your drawing"


def show_answer(digit, theme, run_id, analysed: DigitAnalysis | None = None) -> tuple:
    """Return the answer's outputs: the styles, an error, the model's input, its saliency map, top three classes, bars.

    Args:
        analysed: the digit's shared analysis (a new one when None).
    """
    nothing = dash.no_update
    if not isinstance(digit, dict):
        return SHOWN, HIDDEN, HIDDEN, None, nothing, nothing, nothing, nothing
    try:
        pixels, analysis = (analysed or DigitAnalysis(run_id, digit)).get()
    except (ModelUnavailable, ValueError) as error:
        return HIDDEN, HIDDEN, HIDDEN, error_card(str(error)), nothing, nothing, nothing, nothing
    label = digit.get("label")
    names = run_class_names(resolve_run(run_id, require_complete=False).run)
    return (
        HIDDEN, SHOWN, SHOWN, None,
        input_digit(pixels, f"Network input: {describe(digit)}", theme),
        saliency_overlay(pixels, analysis.saliency, theme),
        top_three(analysis.probabilities, label, names),
        probability_bars(analysis.probabilities, label, theme, names),
    )


def show_stacked(show, digit, theme, epoch, run_id, webgl=False) -> tuple:
    """Return the stacked 3D view of every layer and its box's style: built only while the switch is on.

    Off, nothing is sent (the browser keeps what it has, or :data:`NOT_DRAWN`); on, it follows the digit,
    theme and epoch: an image of the 3D scene, or with ``webgl`` the interactive WebGL figure.
    """
    if not show:
        if STACK_SHOW not in fired():
            raise PreventUpdate  # off: a stroke sends nothing for it
        return dash.no_update, HIDDEN
    if not isinstance(digit, dict):
        return NOT_DRAWN, SHOWN
    try:
        pixels, analysis = DigitAnalysis(run_id, digit, epoch).get()
    except (ModelUnavailable, ValueError):
        return NOT_DRAWN, SHOWN  # show_answer shows the message
    layers = [(INPUT_LAYER, pixels.astype(np.float32)), *analysis.activations]
    return (stacked_layers(layers, theme) if webgl else stacked_image(layers, theme)), SHOWN


def warm_up(run_id):
    """Load the run's model as the page opens, so the first stroke is answered quickly."""
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return "no model", "danger"
    try:
        get_live_model(resolved.run)
    except ModelUnavailable:
        return "model unavailable", "danger"
    try:
        # The "across training" card answers with every epoch's network: read them now too, so the
        # first stroke does not wait for 16 weight files.
        for epoch in stored_epochs(resolved.run):
            model_at(resolved.run, epoch)
    except ModelUnavailable:
        pass  # the card says why when it is shown
    return "model ready", "success"


# -- the walk through the layers ----------------------------------------------

def layer_shape(manifest: Manifest, name: str) -> tuple[int, ...]:
    """Return the output shape of the layer ``name`` (without the batch axis).

    Raises:
        KeyError: the run has no such layer.
    """
    for spec in manifest.layers():
        if spec.name == name:
            shape = tuple(int(size) for size in spec.output_shape)
            return (*shape, 1) if len(shape) == 2 else shape  # an imported (h, w) map is walked as one channel
    raise KeyError(name)


def pick_channel(click, layer, run_id):
    """Remember the clicked tile's channel; a new layer starts at its most active channel.

    The mosaic is one image: the click's pixel (x, y) names its tile through the layer's shape.
    """
    if ctx.triggered_id == LAYER:
        return None
    try:
        point = click["points"][0]
        x, y = round(float(point["x"])), round(float(point["y"]))
        steps = layer_steps(manifest_of(resolve_run(run_id)))
        height, width, channels = layer_shape(manifest_of(resolve_run(run_id)), steps[int(layer)][0])
    except (TypeError, KeyError, IndexError, ValueError, ArtifactError):
        return dash.no_update
    channel = channel_at(y, x, height, width, mosaic_columns(channels), channels)
    return dash.no_update if channel is None else channel


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


def input_step(name: str, pixels: np.ndarray, theme: str | None, three_d: bool = True, webgl: bool = False) -> tuple:
    """Return the walk's figures for the input: the image in pixel values, its pixels flat and in 3D.

    Args:
        three_d: build the 3D surface (else it is not updated).
        webgl: the surface as the interactive WebGL figure (else an image of it).
    """
    height, width = pixels.shape
    picture = input_digit(pixels, f"{name}: the input image, {height}x{width} pixels, 0-255", theme)
    flat = input_digit(pixels, f"{name}: every pixel's value (hover)", theme)
    surface = dash.no_update
    if three_d:
        surface = (activation_surface if webgl else surface_image)(
            pixels, f"{name} in 3D: height is the pixel value (0-255)", theme, value="pixel")
    return picture, flat, surface


def show_layer(digit, layer, channel, theme, run_id, shown_query, analysed: DigitAnalysis | None = None,
               epoch: object = None, three_d: bool = True, webgl: bool = False) -> tuple:
    """Return the walk's outputs for the chosen layer, and the query.

    A spatial layer: its feature maps as one image (the chosen channel framed), the chosen channel flat
    (values on hover) and in 3D; a dense layer: its bars. A change of channel alone patches the
    mosaic's frame instead of resending it.

    Args:
        analysed: the digit's shared analysis (a new one when None).
        three_d: build the 3D surface (its tab is open); else it is not updated.
        webgl: the surface as the interactive WebGL figure (else an image of the same scene).

    Returns:
        (maps, channel map, surface, the channel column's style, caption, query); ``dash.no_update``
        for what stays.
    """
    nothing = dash.no_update
    unchanged = (nothing,) * 5
    resolved = resolve_run(run_id)
    try:
        steps = layer_steps(manifest_of(resolved)) if resolved.ok else []
        name, kind, description = steps[min(max(int(layer or 0), 0), len(steps) - 1)]
    except (ArtifactError, TypeError, ValueError, IndexError):
        return (*unchanged, nothing)
    # The rest of the URL's state (the board's mode) stays as it is.
    query = build_search(**{**parse_search(shown_query), "run": run_id, "layer": name, "channel": channel,
                            **url_state(resolved.run, digit, epoch, shown_query)})
    if ctx.triggered_id not in (LAYER, CHANNEL, epoch_view.EPOCH) or query == shown_query:
        query = nothing
    if not isinstance(digit, dict):
        return (*unchanged, query)
    caption = [html.Strong(f"Step {steps.index((name, kind, description)) + 1} of {len(steps)}: "),
               html.Code(name), f" ({description}). ", LAYER_TEXT.get(kind, "")]
    if kind == "Input":
        # The input needs no model: its picture is the digit itself, in pixel values.
        try:
            pixels = digit_pixels(digit)
        except ValueError:
            return (*unchanged, query)  # show_answer shows the message
        return (*input_step(name, pixels, theme, three_d, webgl), SHOWN, caption, query)
    try:
        _, analysis = (analysed or DigitAnalysis(run_id, digit, epoch)).get()
    except (ModelUnavailable, ValueError):
        return (*unchanged, query)  # show_answer shows the message
    values = dict(analysis.activations)[name]
    if values.ndim == 1:
        if name == steps[-1][0]:
            bars = probability_bars(values, digit.get("label"), theme)
            caption[-1] = "Softmax turns the last scores into probabilities that add up to 100%."
        else:
            bars = dense_bars(values, f"{name}: {len(values)} units", theme)
        return bars, nothing, nothing, HIDDEN, caption, query
    height, width, channels = values.shape
    clicked = isinstance(channel, int) and 0 <= channel < channels  # else a new layer: its most active channel
    if not clicked:
        channel = int(np.argmax(values.mean(axis=(0, 1))))
    highlight = channel if channels > 1 else None
    if fired() == {CHANNEL} and clicked:
        # A clicked tile: only the frame moves, the mosaic's image stays in the browser.
        maps = Patch()
        maps["layout"]["shapes"][0] = highlight_shape(highlight, height, width, mosaic_columns(channels))
        caption = nothing
    else:
        maps = feature_map_image(values, f"{name}: {channels} feature map{'s' if channels > 1 else ''}", theme,
                                 highlight=highlight)
    flat = channel_heatmap(values[:, :, channel], f"{name}, channel {channel} (hover for its values)", theme)
    surface = (activation_surface if webgl else surface_image)(
        values[:, :, channel], f"{name}, channel {channel} in 3D", theme) if three_d else nothing
    return maps, flat, surface, SHOWN, caption, query


def show_digit(digit, layer, channel, theme, epoch, tab, run_id, shown_query, webgl=False):
    """Show the answer and the walk's layer for a digit, from one run of the model after ``epoch``: ONE request.

    A new digit, theme or epoch redraws both; a new layer or channel only the walk (the answer stays);
    opening the 3D tab, or its ``webgl`` switch, only draws the surface. The surface is built only while
    its tab is open: an image of the 3D scene, or with ``webgl`` the interactive WebGL figure.
    """
    keep = dash.no_update
    analysed = DigitAnalysis(run_id, digit, epoch) if isinstance(digit, dict) else None
    triggers = fired()
    three_d = tab == SURFACE_TAB
    if triggers and triggers <= {CHANNEL_TABS, SURFACE_WEBGL}:
        if not three_d:
            return (keep,) * 14
        walk = show_layer(digit, layer, channel, theme, run_id, shown_query, analysed, epoch, webgl=webgl)
        return (*(keep,) * 10, walk[2], keep, keep, keep)
    if triggers and triggers <= {LAYER, CHANNEL, CHANNEL_TABS, SURFACE_WEBGL}:
        answer = (keep,) * 8
    else:
        answer = show_answer(digit, theme, run_id, analysed)
    return (*answer, *show_layer(digit, layer, channel, theme, run_id, shown_query, analysed, epoch, three_d, webgl))


def show_epochs(digit, epoch, theme, run_id):
    """Show the digit across training: epoch 0 beside the last epoch, each class's probability at every epoch.

    A change of epoch alone moves the lines' marker and the note; nothing else of the card changes.
    """
    try:
        pixels = digit_pixels(digit) if isinstance(digit, dict) else None
    except ValueError:
        pixels = None  # show_answer shows the message
    epoch_only = fired() == {epoch_view.EPOCH}
    return epoch_view.card_outputs(pixels, digit, epoch, theme, run_id, epoch_only)


def show_epochs_in_view(digit, epoch, theme, in_view, run_id, drawn):
    """:func:`show_epochs` while the card is on screen (its outputs and the drawn key); else its style and note."""
    try:
        pixels = digit_pixels(digit) if isinstance(digit, dict) else None
    except ValueError:
        pixels = None  # show_answer shows the message
    return epoch_view.card_in_view(pixels, digit, epoch, theme, run_id, in_view, drawn)
