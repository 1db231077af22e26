"""The Architecture page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/model.py``).

The layer table, the network as 3D blocks, and each conv layer's filters by epoch.

URL: ``/model?run=ID&layer=conv_2&channel=5&epoch=3`` (``channel`` is the input
channel whose weights the filter grid shows; absent = the mean over input channels).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ctx, dcc, html

from artifacts import ArtifactError
from artifacts.config import LayerSpec, conv_layers
from artifacts.format import KERNEL_PREFIX
from dashboard.figures.activations import typed_array
from dashboard.figures.architecture import architecture_blocks, kernel_grid, kernel_grid_values
from dashboard.store_access import Resolved
from dashboard.ui import explanations
from dashboard.ui.components import error_card, explanation, notice
from dashboard.ui.epochs import choose_epoch, epoch_slider, nearest_epoch
from dashboard.ui.page import manifest_of, query_store, run_page, shown_run, theme_store
from dashboard.ui.urlstate import build_search, parse_state

RUN = "model-run"
QUERY = "model-query"
THEME = "model-theme"  # this page's copy of the app's theme (dashboard.ui.page)
BLOCKS = "model-blocks"
LAYER = "model-layer"
CHANNEL = "model-channel"
EPOCH = "model-epoch"
FILTERS = "model-filters"
FILTERS_ERROR = "model-filters-error"
FRAMES = "model-frames"  # every epoch's filter grid, swapped in the browser (dashboard/assets/frames.js)
BLOCKS_SHOW = "model-blocks-show"
BLOCKS_BOX = "model-blocks-box"
GRAPH_CONFIG = {"displaylogo": False}
# A graph not drawn yet: no axes, so no tick labels for Plotly to lay out.
NOT_DRAWN = {"layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}
MEAN = "mean"  # the input-channel dropdown's value for "mean over input channels"


def layer_table(layers: list[LayerSpec]) -> dbc.Table:
    """Return the run's layers as a Bootstrap table."""
    header = html.Thead(html.Tr([html.Th(text) for text in
                                 ("Layer", "Type", "Output shape", "Parameters", "Activation", "Detail")]))
    rows = [
        html.Tr([
            html.Td(html.Code(layer.name)),
            html.Td(layer.kind),
            html.Td(" x ".join(str(size) for size in layer.output_shape)),
            html.Td(f"{int(layer.params):,}", className="text-end"),
            html.Td(layer.activation or "–"),
            html.Td(layer.detail or ""),
        ])
        for layer in layers
    ]
    total = sum(int(layer.params) for layer in layers)
    footer = html.Tfoot(html.Tr([html.Th("Total", colSpan=3), html.Th(f"{total:,}", className="text-end"),
                                 html.Th(""), html.Th("")]))
    return dbc.Table([header, html.Tbody(rows), footer], bordered=False, hover=True, size="sm",
                     responsive=True, className="model-layer-table")


def channel_options(run, layer: str, epoch: int) -> list[dict]:
    """Return the input-channel dropdown options for a conv layer (mean first)."""
    kernel = run.snapshot(epoch).get(KERNEL_PREFIX + layer)
    inputs = int(kernel.shape[2]) if kernel is not None else 1
    options = [{"label": "mean over input channels" if inputs > 1 else "the input image", "value": MEAN}]
    options += [{"label": f"input channel {index}", "value": index} for index in range(inputs if inputs > 1 else 0)]
    return options


def filter_title(layer: str, kernel_shape: tuple[int, ...], epoch: int, input_channel: int | None) -> str:
    """Return the filter grid's title for a (kh, kw, in, out) kernel at ``epoch``."""
    if kernel_shape[2] == 1:
        which = ""
    elif input_channel is None:
        which = " (mean over input channels)"
    else:
        which = f" (input channel {input_channel})"
    return f"{layer}: {kernel_shape[3]} filters, epoch {epoch}{which}"


def filter_frames(run, layer: str, input_channel: int | None) -> dict:
    """Return every stored epoch's filter grid for the browser to swap while the epoch slider moves.

    Each frame is the grid's ``z`` (float32 typed-array spec, NaN in the gaps, laid out as
    :func:`dashboard.figures.architecture.kernel_grid` lays it out), its colour bound and its title;
    an epoch whose snapshot lacks the kernel has no frame.

    Raises:
        ArtifactError: a snapshot cannot be read.
    """
    epochs = run.snapshot_epochs()
    frames = {}
    for epoch in epochs:
        kernel = run.snapshot(epoch).get(KERNEL_PREFIX + str(layer))
        if kernel is None:
            continue
        channel = input_channel if kernel.shape[2] > 1 else None
        try:
            z, bound = kernel_grid_values(kernel, channel)
        except ValueError:
            continue
        frames[str(epoch)] = {"z": typed_array(z), "bound": bound,
                              "title": filter_title(layer, kernel.shape, epoch, input_channel)}
    return {"epochs": epochs, "frames": frames}


def layout(**kwargs):
    """Return the page for the run (the contract's choice), layer, channel and epoch in the URL."""
    return run_page("model", kwargs)


def body(resolved: Resolved, kwargs: dict):
    """Return the page for a resolved run and the URL's layer, channel and epoch."""
    state = parse_state(kwargs)
    run = resolved.run
    try:
        manifest = manifest_of(resolved)
        layers = conv_layers(manifest.config)
        epochs = run.snapshot_epochs()
        architecture = manifest.layers()
    except (ArtifactError, ValueError, TypeError, KeyError) as error:
        return error_card(f"Run '{run.run_id}' has an unreadable configuration or layer table ({error}).")
    head = html.Div([
        html.H3(["Architecture ", html.Small(f"run {run.run_id}", className="text-body-secondary")]),
        explanation("How to read this page", explanations.ARCHITECTURE),
    ])
    blocks = dbc.Card(dbc.CardBody([
        layer_table(architecture),
        # The 3D blocks are a WebGL scene (over a second to set up in a browser without a GPU):
        # drawn only once asked for.
        dbc.Switch(id=BLOCKS_SHOW, label="Show the network as 3D blocks", value=False),
        dbc.Collapse(dcc.Graph(id=BLOCKS, figure=NOT_DRAWN, config=GRAPH_CONFIG, style={"height": "380px"}),
                     id=BLOCKS_BOX, is_open=False),
        explanation("Convolution, padding and stride", explanations.CONVOLUTION + explanations.PADDING
                    + explanations.STRIDE),
        explanation("Pooling", explanations.POOLING),
        explanation("Dense layers and softmax", explanations.DENSE + explanations.SOFTMAX),
    ]), className="mb-3")
    if not epochs or not layers:
        filters = notice("This run stored no snapshots, so there are no filters to show.", "warning")
    else:
        epoch, epoch_message = choose_epoch(kwargs.get("epoch"), epochs)
        layer = state["layer"] if state.get("layer") in layers else layers[0]
        try:
            options = channel_options(run, layer, epoch)
        except ArtifactError as error:
            return error_card(f"Run '{run.run_id}': {error.reason} ({error.filename}).")
        channel = state.get("channel") if state.get("channel") in [o["value"] for o in options] else MEAN
        filters = dbc.Card(dbc.CardBody([
            html.H5("Convolution filters"),
            dbc.Row([
                dbc.Col([dbc.Label("Layer"), dcc.Dropdown(id=LAYER, options=layers, value=layer,
                                                          clearable=False)], md=3),
                dbc.Col([dbc.Label("Weights shown"), dcc.Dropdown(id=CHANNEL, options=options, value=channel,
                                                                  clearable=False)], md=3),
                dbc.Col([dbc.Label("Epoch (0 = before training)"), epoch_slider(EPOCH, epochs, epoch)], md=6),
            ], className="g-3 mb-2"),
            notice(epoch_message, "warning") if epoch_message else None,
            html.Div(id=FILTERS_ERROR),
            dcc.Loading(dcc.Graph(id=FILTERS, config=GRAPH_CONFIG, style={"height": "420px"}), delay_show=300),
            explanation("What are filters?", explanations.FILTERS + explanations.EPOCHS),
        ]))
    return html.Div([dcc.Store(id=RUN, data=run.run_id), query_store(QUERY), theme_store(THEME),
                     dcc.Store(id=FRAMES), head, blocks, filters])


def draw_blocks(theme, run_id):
    """Return the 3D block picture of the run's layers (no_update when they cannot be read)."""
    run = shown_run(run_id)
    try:
        architecture = run.info().architecture if run is not None else None
    except ArtifactError:
        architecture = None
    if not architecture:
        return dash.no_update
    return architecture_blocks(list(architecture), theme)


def draw_blocks_view(show, theme, run_id):
    """Draw the 3D blocks once the switch asks for them (never before)."""
    if not show:
        return dash.no_update, False
    return draw_blocks(theme, run_id), True


def update_channels(layer, channel, epoch, run_id):
    """Offer the chosen layer's input channels, keeping the current one when it exists."""
    run = shown_run(run_id)
    if run is None:
        return dash.no_update, dash.no_update
    try:
        options = channel_options(run, layer, epoch)
    except ArtifactError:
        return dash.no_update, dash.no_update
    values = [option["value"] for option in options]
    return options, channel if channel in values else MEAN


def draw_filters(layer, channel, epoch, theme, run_id):
    """Return the chosen conv layer's filters at ``epoch``, an error (or None) and the view's query.

    The query is no_update on a first draw (a page load), which must add no history entry.
    """
    run = shown_run(run_id)
    if run is None:
        return dash.no_update, error_card(f"There is no run '{str(run_id)[:40]}' in the store."), dash.no_update
    input_channel = channel if isinstance(channel, int) else None
    try:
        epoch = nearest_epoch(run.snapshot_epochs(), epoch)
    except (ArtifactError, ValueError):
        epoch = None
    if epoch is None:
        return dash.no_update, dash.no_update, dash.no_update
    # The first draw only shows what the URL asked for; pushing it would add a history entry
    # that Back would return to, re-rendering the same page.
    query = build_search(run=run_id, layer=layer, channel=input_channel, epoch=epoch) \
        if ctx.triggered_id in (LAYER, CHANNEL, EPOCH) else dash.no_update
    try:
        kernel = run.snapshot(epoch).get(KERNEL_PREFIX + str(layer))
        if kernel is None:
            return {}, notice(f"The snapshot of epoch {epoch} has no kernel for {layer}.", "warning"), query
        title = filter_title(str(layer), kernel.shape, epoch, input_channel)
        figure = kernel_grid(kernel, title, theme, input_channel if kernel.shape[2] > 1 else None)
    except (ArtifactError, ValueError, TypeError) as error:
        reason = error.reason if isinstance(error, ArtifactError) else str(error)
        return {}, error_card(f"The filters cannot be shown: {reason}"), query
    return figure, None, query


def draw_filter_views(layer, channel, theme, epoch, run_id):
    """Draw the filters at the slider's epoch and send every epoch's grid, which the browser swaps on a drag."""
    figure, error, _ = draw_filters(layer, channel, epoch, theme, run_id)
    run = shown_run(run_id)
    try:
        frames = filter_frames(run, str(layer), channel if isinstance(channel, int) else None) if run else None
        if frames is not None:
            frames["drawn"] = nearest_epoch(frames["epochs"], epoch)
    except (ArtifactError, ValueError, TypeError):
        frames = None
    return figure, error, frames


def record_query(layer, channel, epoch, run_id):
    """Write the view's state as a query string once the user changes it (a page load adds no history entry)."""
    run = shown_run(run_id)
    try:
        epoch = nearest_epoch(run.snapshot_epochs(), epoch) if run else None
    except (ArtifactError, ValueError):
        epoch = None
    if epoch is None:
        return dash.no_update
    return build_search(run=run_id, layer=layer, channel=channel if isinstance(channel, int) else None, epoch=epoch)
