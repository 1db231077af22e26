"""The Architecture page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/model.py``).

The layer table, the network as 3D blocks, each conv layer's filters by epoch, and beside them what
each filter looks for (its maximising input) with the dead and saturated filters flagged.

Everything is drawn from the layers the run recorded (``Manifest.layers()``) and its snapshots, so a
model imported with ``python -m pipeline import`` (any stack of Keras layers) is shown too: its
table and blocks, and the filters of every conv kernel its one snapshot holds. It has one epoch and
no maximising inputs (both come from training here): the slider and the maxima are replaced by a note.

URL: ``/model?run=ID&layer=conv_2&channel=5&epoch=3`` (``channel`` is the input
channel whose weights the filter grid shows; absent = the mean over input channels).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ctx, dcc, html

from artifacts import ArtifactError, Manifest
from artifacts.config import LayerSpec, conv_layers
from artifacts.filters import DEAD_SHARE, FilterHealth, filter_health
from artifacts.format import ACTIVATION_PREFIX, KERNEL_PREFIX
from dashboard.figures.activations import typed_array
from dashboard.figures.architecture import architecture_blocks, kernel_grid, kernel_grid_values, maximising_inputs
from dashboard.figures.digits import empty_grid
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
MAXIMA = "model-maxima"  # the chosen layer's maximising inputs
MAXIMA_NOTE = "model-maxima-note"
HEALTH = "model-filter-health"  # one line per conv layer: dead and saturated filters
GRAPH_CONFIG = {"displaylogo": False}
# A graph not drawn yet: no axes, so no tick labels for Plotly to lay out.
NOT_DRAWN = {"layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}
MEAN = "mean"  # the input-channel dropdown's value for "mean over input channels"
IMPORTED_NOTE = ("Imported model: one epoch (the model as it was imported), no maximising inputs "
                 "(both come from training here).")


def shape_text(shape) -> str:
    """Return an output shape as "26 x 26 x 32" ("?" for a size the model leaves open, "–" for none)."""
    return " x ".join("?" if size is None else str(size) for size in shape) or "–"


def layer_inputs(layers: list[LayerSpec]) -> dict[str, list[str]]:
    """Return, for each layer that takes other inputs than the layer before it (a residual Add, a branch), their names.

    Read from a layer's ``inbound`` names when the run recorded them; a layer without any is left out.
    """
    joins = {}
    for before, layer in zip([None, *layers], layers, strict=False):
        inbound = [str(name) for name in (getattr(layer, "inbound", None) or ())]
        if inbound and inbound != ([before.name] if before is not None else []):
            joins[layer.name] = inbound
    return joins


def layer_table(layers: list[LayerSpec]) -> dbc.Table:
    """Return the run's layers as a Bootstrap table; a layer fed by others than the one before says from which."""
    header = html.Thead(html.Tr([html.Th(text) for text in
                                 ("Layer", "Type", "Output shape", "Parameters", "Activation", "Detail")]))
    joins = layer_inputs(layers)
    rows = [
        html.Tr([
            html.Td(html.Code(layer.name)),
            html.Td(layer.kind),
            html.Td(shape_text(layer.output_shape)),
            html.Td(f"{int(layer.params):,}", className="text-end"),
            html.Td(layer.activation or "–"),
            html.Td("; ".join(part for part in (layer.detail, "from " + " + ".join(joins[layer.name])
                                                if layer.name in joins else "") if part)),
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


def filter_layers(run, manifest: Manifest, epochs: list[int]) -> list[str]:
    """Return the layers whose filters the page shows: a trained run's conv layers, or, for an imported model,
    every layer whose kernel its snapshot holds, in the recorded order.

    Raises:
        ArtifactError: the config or the snapshot cannot be read.
    """
    if not manifest.is_imported:
        return conv_layers(manifest.config)
    if not epochs:
        return []
    snapshot = run.snapshot(epochs[-1])
    return [spec.name for spec in manifest.layers() if KERNEL_PREFIX + spec.name in snapshot]


def conv_activations(manifest: Manifest) -> list[tuple[str, str]]:
    """Return (layer, activation) of every conv layer whose dead and saturated filters can be judged.

    A trained run's come from its config; an imported model's from its recorded layers, those whose
    recorded activation is one :func:`artifacts.filters.filter_health` knows (none when it recorded none).

    Raises:
        ArtifactError: the config or the layers cannot be read.
    """
    if not manifest.is_imported:
        return [(f"conv_{index}", block.activation)
                for index, block in enumerate(manifest.config.conv_blocks, start=1)]
    return [(spec.name, spec.activation) for spec in manifest.layers()
            if spec.kind == "Conv2D" and spec.activation in DEAD_SHARE]


def epoch_control(epochs: list[int], epoch: int, imported: bool):
    """Return the epoch slider's column: the slider, or for an imported model (one epoch) a note in its place.

    The slider stays in the page, hidden, as the callbacks' epoch.
    """
    if not imported:
        return [dbc.Label("Epoch (0 = before training)"), epoch_slider(EPOCH, epochs, epoch)]
    return [html.Div(epoch_slider(EPOCH, epochs, epoch), style={"display": "none"}),
            html.P(IMPORTED_NOTE, className="small text-body-secondary mb-0 imported-note")]


def layout(**kwargs):
    """Return the page for the run (the contract's choice), layer, channel and epoch in the URL."""
    return run_page("model", kwargs)


def body(resolved: Resolved, kwargs: dict):
    """Return the page for a resolved run and the URL's layer, channel and epoch."""
    state = parse_state(kwargs)
    run = resolved.run
    try:
        manifest = manifest_of(resolved)
        epochs = run.snapshot_epochs()
        architecture = manifest.layers()
        layers = filter_layers(run, manifest, epochs)
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
    imported = manifest.is_imported
    if imported and epochs and not layers:
        filters = notice("This model has no Conv2D layer whose kernel the import recorded, so there are no "
                         "filters to show.")
    elif not epochs or not layers:
        filters = notice("This run stored no snapshots, so there are no filters to show.", "warning")
    else:
        epoch, epoch_message = choose_epoch(kwargs.get("epoch"), epochs)
        layer = state["layer"] if state.get("layer") in layers else layers[0]
        try:
            options = channel_options(run, layer, epoch)
        except ArtifactError as error:
            return error_card(f"Run '{run.run_id}': {error.reason} ({error.filename}).")
        channel = state.get("channel") if state.get("channel") in [o["value"] for o in options] else MEAN
        maxima_figure, maxima_note = maxima_view(run, layer, None)
        hidden = {"display": "none"} if imported else None
        filters = dbc.Card(dbc.CardBody([
            html.H5("Convolution filters"),
            dbc.Row([
                dbc.Col([dbc.Label("Layer"), dcc.Dropdown(id=LAYER, options=layers, value=layer,
                                                          clearable=False)], md=3),
                dbc.Col([dbc.Label("Weights shown"), dcc.Dropdown(id=CHANNEL, options=options, value=channel,
                                                                  clearable=False)], md=3),
                dbc.Col(epoch_control(epochs, epoch, imported), md=6),
            ], className="g-3 mb-2"),
            notice(epoch_message, "warning") if epoch_message else None,
            html.Div(id=FILTERS_ERROR),
            dbc.Row([
                dbc.Col(dcc.Loading(dcc.Graph(id=FILTERS, config=GRAPH_CONFIG, style={"height": "420px"}),
                                    delay_show=300), lg=8 if imported else 6),
                # An imported model has no maximising inputs: their graph stays, hidden, as the callback's output.
                dbc.Col([dcc.Graph(id=MAXIMA, figure=maxima_figure, config=GRAPH_CONFIG,
                                   style={"height": "420px"}),
                         html.Div(maxima_note, id=MAXIMA_NOTE)], lg=6, style=hidden),
            ], className="g-2"),
            health_lines(run, manifest, epochs),
            explanation("What are filters?", explanations.FILTERS + ("" if imported else explanations.EPOCHS)),
            None if imported else explanation("What each filter looks for; dead and saturated filters",
                                              explanations.MAXIMISING_INPUTS),
        ]))
    return html.Div([dcc.Store(id=RUN, data=run.run_id), query_store(QUERY), theme_store(THEME),
                     dcc.Store(id=FRAMES), head, blocks, filters])


def block_records(layers: list[LayerSpec]) -> list[dict]:
    """Return the layers as :func:`dashboard.figures.architecture.architecture_blocks` takes them, each with
    its ``inbound`` names when the run recorded them."""
    records = []
    for layer in layers:
        record = layer.to_dict()
        inbound = getattr(layer, "inbound", None)
        if inbound:
            record["inbound"] = [str(name) for name in inbound]
        records.append(record)
    return records


def draw_blocks(theme, run_id):
    """Return the 3D block picture of the run's layers (no_update when they cannot be read)."""
    run = shown_run(run_id)
    try:
        layers = run.info().layers() if run is not None else None
    except ArtifactError:
        layers = None
    if not layers:
        return dash.no_update
    return architecture_blocks(block_records(layers), theme)


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


def run_filter_health(run, manifest: Manifest, epochs: list[int]) -> list[FilterHealth]:
    """Return the dead and saturated filters of every conv layer of :func:`conv_activations`, from the last
    snapshot's probe activations.

    A layer whose activations the snapshot lacks is left out.

    Raises:
        ArtifactError: the config, the layers or the snapshot cannot be read.
        ValueError: a stored activation is not (digits, h, w, filters).
    """
    if not epochs:
        return []
    layers = conv_activations(manifest)
    if not layers:
        return []
    snapshot = run.snapshot(max(epochs))
    health = []
    for name, activation in layers:
        activations = snapshot.get(ACTIVATION_PREFIX + name)
        if activations is not None:
            health.append(filter_health(name, activations, activation))
    return health


def health_lines(run, manifest: Manifest, epochs: list[int]):
    """Return the per-layer lines ("conv_1: 2 of 32 dead (6%), 0 saturated"), or why they cannot be shown."""
    try:
        health = run_filter_health(run, manifest, epochs)
    except (ArtifactError, ValueError) as error:
        reason = error.reason if isinstance(error, ArtifactError) else str(error)
        return html.Div(notice(f"Dead and saturated filters cannot be shown: {reason}", "warning"), id=HEALTH)
    if not health:
        return html.Div(id=HEALTH)
    return html.Div([html.Strong(f"After epoch {max(epochs)}, over the probe digits:", className="small"),
                     html.Ul([html.Li(layer.line()) for layer in health], className="small mb-2")], id=HEALTH)


def maxima_view(run, layer: str, theme):
    """Return the maximising-inputs figure of conv layer ``layer`` and its note (None, or a message).

    Runs trained before the maximisation existed get a short figure saying so; a damaged file an error card.
    """
    try:
        manifest = run.info()
        if manifest.is_imported:  # its column is hidden: nothing to read
            return empty_grid("An imported model has no maximising inputs.", theme), None
        stored = run.maximised()
        epochs = run.snapshot_epochs()
    except (ArtifactError, ValueError, TypeError, KeyError) as error:
        reason = error.reason if isinstance(error, ArtifactError) else str(error)
        return empty_grid("No maximising inputs", theme), error_card(f"The maximising inputs cannot be shown: "
                                                                    f"{reason}")
    if stored is None:
        return empty_grid("This run was trained before maximising inputs were computed.", theme), None
    maxima, seconds = stored
    chosen = next((item for item in maxima if item.layer == layer), None)
    if chosen is None:
        return empty_grid(f"No maximising inputs for {layer}.", theme), None
    try:
        health = {item.layer: item for item in run_filter_health(run, manifest, epochs)}
    except (ArtifactError, ValueError):
        health = {}
    flags = health.get(layer)
    count = len(chosen.reached)
    dead = flags.dead if flags is not None and flags.filters == count else [False] * count
    saturated = flags.saturated if flags is not None and flags.filters == count else [False] * count
    figure = maximising_inputs(chosen.images, dead, saturated,
                               f"{layer}: the input that excites each filter most", theme)
    reached, mean = chosen.reached.astype(float), chosen.probe_mean.astype(float)
    raised = int((reached > 2 * mean).sum())
    note = html.P(f"{raised} of {count} filters reach more than twice their mean activation over the probe "
                  f"digits (computed in {seconds:.1f} s at the end of training).", className="small mb-1")
    return figure, note


def draw_filter_panel(layer, channel, theme, epoch, run_id):
    """Draw the filters, their epoch frames and the layer's maximising inputs (these only for a layer or theme).

    Returns :func:`draw_filter_views`'s three outputs, then the maximising inputs' figure and note.
    """
    figure, error, frames = draw_filter_views(layer, channel, theme, epoch, run_id)
    if set(ctx.triggered_prop_ids.values()) == {CHANNEL}:
        return figure, error, frames, dash.no_update, dash.no_update
    run = shown_run(run_id)
    if run is None:
        return figure, error, frames, dash.no_update, dash.no_update
    return (figure, error, frames, *maxima_view(run, str(layer), theme))


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
