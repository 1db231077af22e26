"""The Draw page's what-if card on conv_1: its controls, layout and the one callback that answers a change.

The Draw page (:mod:`dashboard.pages.draw`) places :func:`whatif_card`; importing this module
registers :func:`show_what_if` with ``dash.callback``. The computation is in
:mod:`dashboard.draw.whatif` (numpy, the engine's own layers), the figures in
:mod:`dashboard.figures.whatif`.
"""

from __future__ import annotations

import hashlib
import json

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from artifacts import ArtifactError
from artifacts import format as fmt
from artifacts.config import KERNEL_SIZES, PADDINGS, ConvBlock
from dashboard.draw.layout import DIGIT, GRAPH_CONFIG, HIDDEN, RUN, SHOWN, in_view_card
from dashboard.draw.whatif import (
    MAX_FILTERS,
    MIN_FILTERS,
    STRIDES,
    Settings,
    SettingsRejected,
    parse_settings,
    trained_settings,
    what_if,
)
from dashboard.figures.whatif import conv_maps, pool_maps
from dashboard.store_access import resolve_run
from dashboard.ui import ids
from dashboard.ui.components import explanation

STRIDE = "draw-whatif-stride"
PADDING = "draw-whatif-padding"
KERNEL = "draw-whatif-kernel"
FILTERS = "draw-whatif-filters"
SIZE = "draw-whatif-size"
KERNELS = "draw-whatif-kernels"
ALERT = "draw-whatif-alert"
CONV = "draw-whatif-conv"
POOL = "draw-whatif-pool"
CARD = "draw-whatif"  # the card's wrapper (watched by assets/draw.js)
IN_VIEW = "draw-whatif-in-view"  # dcc.Store: whether the card is on screen
DRAWN = "draw-whatif-drawn"  # dcc.Store: the key of what the card's maps show

EXPLAINED = """
Change the first convolution and see at once what it would make of your digit, without training
anything. **Stride** is how far the filter moves between two outputs, **padding** "same" adds a
border of zeros so the map keeps its size (at stride 1), **kernel size** is the filter's side and the
number of **filters** the number of maps. The output side of an n x n input is
(n + 2p − k) / s + 1, rounded down, where p is the padding on each side. Pooling then halves it.
Filters that the trained network has (same kernel size, up to its number of filters) use its
learned kernels; the others are random (seeded, so they stay the same) and show what an untrained
filter sees. Only this card changes: the network's answer above still comes from the trained network.
"""


def _radio(component_id: str, options: list, value) -> dbc.RadioItems:
    return dbc.RadioItems(id=component_id, options=[{"label": str(option), "value": option} for option in options],
                          value=value, inline=True, className="small")


def whatif_card(start: Settings) -> html.Div:
    """Return the what-if card, its controls at ``start`` (the run's own conv_1), drawn while on screen."""
    def labelled(text: str, control) -> dbc.Col:
        return dbc.Col([dbc.Label(text, className="small mb-0 fw-semibold"), control], xs=6, md=3)

    controls = dbc.Row([
        labelled("Stride", _radio(STRIDE, list(STRIDES), start.strides)),
        labelled("Padding", _radio(PADDING, list(PADDINGS), start.padding)),
        labelled("Kernel size", _radio(KERNEL, list(KERNEL_SIZES), start.kernel_size)),
        labelled("Filters", dcc.Slider(id=FILTERS, min=MIN_FILTERS, max=MAX_FILTERS, step=1, value=start.filters,
                                       marks={n: str(n) for n in (4, 16, 32, 48, 64)},
                                       tooltip={"placement": "bottom"}, allow_direct_input=False)),
    ], className="g-2 align-items-start")
    card = dbc.Card(dbc.CardBody([
        html.H5("What if conv_1 were different?", className="card-title"),
        explanation("What the controls change", EXPLAINED),
        controls,
        html.Div(id=SIZE, className="mt-2 fs-6"),
        html.Div(id=KERNELS, className="small text-body-secondary"),
        dbc.Alert(id=ALERT, is_open=False, color="danger", className="mt-2 mb-0 py-2 small"),
        dbc.Row([
            dbc.Col(dcc.Graph(id=CONV, config=GRAPH_CONFIG, style={"height": "420px"}), lg=7),
            dbc.Col(dcc.Graph(id=POOL, config=GRAPH_CONFIG, style={"height": "420px"}), lg=5),
        ], className="g-2 mt-1"),
        dcc.Store(id=DRAWN),
    ]), className="mb-3")
    return in_view_card(CARD, card, IN_VIEW, style=HIDDEN)


@callback(Output(CARD, "style"), Input(DIGIT, "data"))
def show_card(digit):
    """Show the card once there is a digit (and from then on): see :func:`dashboard.draw.layout.in_view_card`."""
    return SHOWN if isinstance(digit, dict) else HIDDEN


def start_settings(config) -> Settings:
    """Return the controls' start for a run's config (the default block when it has no convolution)."""
    blocks = getattr(config, "conv_blocks", None) or []
    return trained_settings(blocks[0] if blocks else ConvBlock())


def trained_conv(run_id: str) -> tuple[tuple[np.ndarray, np.ndarray] | None, str, str | None]:
    """Return (the run's final conv_1 kernel and bias or None, conv_1's activation, why there are none)."""
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return None, "relu", resolved.error
    try:
        config = resolved.run.info().config
        activation = config.conv_blocks[0].activation if config.conv_blocks else "relu"
        if config.epochs not in resolved.run.weight_epochs():
            return None, activation, "this run stored no weights"
        weights = resolved.run.weights(config.epochs)
        pair = (weights[fmt.weight_key("conv_1", fmt.WEIGHT_KERNEL)],
                weights[fmt.weight_key("conv_1", fmt.WEIGHT_BIAS)])
    except ArtifactError as error:
        return None, "relu", f"its weights cannot be read: {error.reason}"
    except (KeyError, TypeError, ValueError, IndexError) as error:
        return None, "relu", f"its configuration cannot be read ({error})"
    return pair, activation, None


def pixels_of(digit: object) -> np.ndarray | None:
    """Return the (28, 28) pixels of a digit store value, or None when it holds none."""
    if not isinstance(digit, dict):
        return None
    try:
        pixels = np.asarray(digit.get("pixels"), dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return np.clip(pixels, 0, 255) if pixels.shape == (28, 28) else None


def kernels_text(settings: Settings, trained: int, why_none: str | None) -> str:
    """Return which filters are trained and which random, in words."""
    if trained == settings.filters:
        return f"All {trained} filters are the run's trained conv_1 kernels."
    random = settings.filters - trained
    if trained:
        return (f"Filters 1-{trained} are the run's trained conv_1 kernels; the other {random} are seeded "
                "random kernels (the trained network has no more).")
    reason = why_none or f"the trained conv_1 kernels are not {settings.kernel_size}x{settings.kernel_size}"
    return f"All {random} filters are seeded random kernels: {reason}."


def show_what_if(digit, strides, padding, kernel_size, filters, theme, run_id):
    """Recompute conv_1 and pool_1 of the digit under the controls' setting (checked here, not trusted)."""
    nothing = dash.no_update
    try:
        settings = parse_settings(strides, padding, kernel_size, filters)
    except SettingsRejected as error:
        return nothing, nothing, str(error), True, "danger", nothing, nothing
    pixels = pixels_of(digit)
    trained, activation, why_none = trained_conv(run_id)
    result = what_if(pixels if pixels is not None else np.zeros((28, 28), np.float32), settings, trained, activation)
    side = result.conv.shape[0]
    size = [html.Strong("Output size: "), html.Code(result.formula), f" → conv_1 {side}x{side}x{settings.filters}",
            f", pool_1 {side // 2}x{side // 2}x{settings.filters}" if result.pool is not None else ", no pool_1"]
    text = kernels_text(settings, result.trained, why_none)
    if pixels is None:
        return size, text, "Draw, upload or pick a digit to see its maps.", True, "info", nothing, nothing
    return size, text, None, False, "info", conv_maps(result.conv, theme), pool_maps(result.pool, theme)


@callback(
    Output(SIZE, "children"),
    Output(KERNELS, "children"),
    Output(ALERT, "children"),
    Output(ALERT, "is_open"),
    Output(ALERT, "color"),
    Output(CONV, "figure"),
    Output(POOL, "figure"),
    Output(DRAWN, "data"),
    Input(DIGIT, "data"),
    Input(STRIDE, "value"),
    Input(PADDING, "value"),
    Input(KERNEL, "value"),
    Input(FILTERS, "value"),
    Input(ids.THEME, "data"),
    Input(IN_VIEW, "data"),
    State(RUN, "data"),
    State(DRAWN, "data"),
)
def show_what_if_in_view(digit, strides, padding, kernel_size, filters, theme, in_view, run_id, drawn):
    """Answer :func:`show_what_if` while the card is on screen and shows something else; else send nothing.

    A stroke with the card scrolled away costs neither the server nor the browser; scrolling to it
    draws the digit of the moment.
    """
    if not in_view:
        raise PreventUpdate
    inputs = [digit, strides, padding, kernel_size, filters, theme, run_id]
    key = hashlib.sha1(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    if key == drawn:
        raise PreventUpdate
    return (*show_what_if(digit, strides, padding, kernel_size, filters, theme, run_id), key)
