"""The Activation explorer's layout, ids and what its callbacks compute (its Dash wiring:
``dashboard/pages/activations.py``): layers, channels, probes and the maps to show.

URL: ``/activations?run=ID&digit=3&probe=31&layer=conv_2&channel=5&epoch=4&mode=average``.
``probe`` is a position in the run's probe set; ``mode=average`` shows the chosen
layer's mean over the probe digits of the chosen class.

Speed (issue 12): one server call per interaction (:func:`draw_views`) draws what changed and
sends every epoch's frame of the views once; dragging the epoch slider swaps frames in the
browser (dashboard/assets/frames.js), no request. The 3D views (the channel's surface, the
stacked layers) are drawn only once their tab or switch asks for them, as server-rendered images
(:mod:`dashboard.figures.scene_image`, a few milliseconds for the browser); their "interactive"
switches swap in the WebGL figures (hover values, free rotation), which cost it 1.5-2 s.

A model imported with ``python -m pipeline import`` is explored through the layers its one snapshot
recorded (every layer of (h, w, c) output, in the recorded order, whatever its Keras class); it has
one epoch, so its slider is replaced by a note. The attributions card runs its network in the numpy
engine from the graph and weights it recorded (:func:`engine_supports`).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Patch, ctx, dcc, html

from artifacts import ArtifactError, Manifest
from artifacts.config import conv_layers
from artifacts.format import (
    ACTIVATION_PREFIX,
    KERNEL_PREFIX,
    SNAPSHOT_PROBABILITIES,
    SNAPSHOT_PROBE_INDEX,
    SNAPSHOT_SALIENCY,
)
from dashboard.figures import activations as figs
from dashboard.figures.activations import mosaic_frame, probability_parts, typed_array
from dashboard.figures.digits import PITCH_X as PICKER_PITCH
from dashboard.figures.digits import clicked_tile, digit_mosaic, empty_grid, selected_shape
from dashboard.figures.scene_image import stacked_image, surface_image
from dashboard.figures.scene_image import surface_frame as surface_render
from dashboard.store_access import Resolved
from dashboard.ui import explanations
from dashboard.ui.attribution_card import attribution_card, card_ids
from dashboard.ui.components import error_card, explanation, notice, webgl_switch
from dashboard.ui.epochs import choose_epoch, epoch_slider, nearest_epoch
from dashboard.ui.export import export_only_config
from dashboard.ui.page import manifest_of, query_store, run_page, shown_run, theme_store
from dashboard.ui.urlstate import build_search, parse_state

RUN = "activations-run"
QUERY = "activations-query"
THEME = "activations-theme"  # this page's copy of the app's theme (dashboard.ui.page)
DIGIT = "activations-digit"
PROBE = "activations-probe"
PICKER = "activations-picker"
MODE = "activations-mode"
EPOCH = "activations-epoch"
LAYER = "activations-layer"
CHANNEL = "activations-channel"
NOTE = "activations-note"
NEAREST = "activations-nearest"
NOTE_BOX = "activations-note-box"
SUMMARY = "activations-summary"
INPUT = "activations-input"
SALIENCY = "activations-saliency"
PROBABILITIES = "activations-probabilities"
MOSAIC = "activations-mosaic"
SURFACE = "activations-surface"
CHANNEL_MAP = "activations-channel-map"
CHANNEL_TABS = "activations-channel-tabs"
MAP_TAB, SURFACE_TAB = "map", "surface"
SURFACE_KEY = "activations-surface-key"
SURFACE_WEBGL = "activations-surface-webgl"  # dbc.Switch: the surface as an interactive WebGL scene
STACK = "activations-stack"
STACK_WEBGL = "activations-stack-webgl"  # dbc.Switch: the stacked view as an interactive WebGL scene
STACK_SHOW = "activations-stack-show"
STACK_BOX = "activations-stack-box"
DENSE = "activations-dense"
FRAMES = "activations-frames"  # every epoch's frame of the views the slider scrubs (dashboard/assets/frames.js)
FRAMES_KEY = "activations-frames-key"  # the probe, layer, channel... the browser's frames are of
PICKER_COLUMNS = 10
AVERAGE = "average"
GRAPH_CONFIG = {"displaylogo": False}
# A graph not drawn yet: no axes, so no tick labels for Plotly to lay out.
NOT_DRAWN = {"layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}
SMALL_CONFIG = export_only_config()  # small graphs: the PNG and SVG downloads alone, on hover
PICKER_CONFIG = {"displayModeBar": False}  # a click picks a digit: no toolbar over the top row
ATTRIBUTION = card_ids("activations")  # the attributions card's ids (dashboard.ui.attribution_card)
HIDDEN = {"display": "none"}  # a view this run cannot fill: kept in the page as its callbacks' output
IMPORTED_EPOCH_NOTE = "Imported model: one epoch (the model as it was imported), nothing to replay over training."
NO_ATTRIBUTIONS = ("Saliency, SmoothGrad and Grad-CAM with their sanity check need the network run here from "
                   "weights stored at every epoch; this run cannot be run that way (the saliency map above "
                   "was recorded when it was imported).")
NO_SPATIAL = ("This model has no layer with feature maps (an output of height x width x channels): there are "
              "no maps to explore. Its digit, saliency and probabilities are above.")


class ViewError(Exception):
    """A view that cannot be drawn; the message is for the user."""


def spatial_layers(manifest: Manifest, snapshot: dict | None = None) -> list[str]:
    """Return the layers with feature maps that the explorer offers, in network order.

    A trained run's conv and pooling layers; an imported model's layers of (h, w, c) output whose
    activations ``snapshot`` (its snapshot; None: none) holds, whatever their class.

    Raises:
        ArtifactError: the run's layers cannot be read.
    """
    if manifest.is_imported:
        stored = snapshot if snapshot is not None else {}
        return [spec.name for spec in manifest.layers()
                if len(spec.output_shape) == 3 and ACTIVATION_PREFIX + spec.name in stored]
    return [spec.name for spec in manifest.layers() if spec.kind in ("Conv2D", "MaxPooling2D")]


def engine_supports(manifest: Manifest) -> bool:
    """Return whether the attributions card can be offered for this run.

    The numpy engine (:mod:`dashboard.inference`) runs a trained run from its config and stored weights, and an
    imported model from the layer graph and weights its import recorded (:mod:`dashboard.inference.graph`). An
    imported model imported before the graph was recorded has no ``inbound`` on its layers: it has no stored
    weights either, so the card is replaced by a note. A layer the engine does not run is said in the card.
    """
    if not manifest.is_imported:
        return True
    return any(spec.inbound for spec in manifest.layers())


def attribution_layers(run, manifest: Manifest) -> list[str]:
    """Return the conv layers Grad-CAM can look at: a trained run's, or those of an imported model whose kernel
    its snapshot holds.

    Raises:
        ArtifactError: the config, the layers or the snapshot cannot be read.
    """
    if not manifest.is_imported:
        return conv_layers(manifest.config)
    epochs = run.snapshot_epochs()
    snapshot = run.snapshot(epochs[-1]) if epochs else {}
    return [spec.name for spec in manifest.layers() if KERNEL_PREFIX + spec.name in snapshot]


def flat_layers(manifest: Manifest) -> list[str]:
    """Return the captured dense layers, in network order (the output layer last)."""
    return [spec.name for spec in manifest.layers() if spec.kind == "Dense"]


def layer_channels(manifest: Manifest, layer: str) -> int:
    """Return how many channels ``layer``'s feature maps have.

    Raises:
        ValueError: the layer is not in the run's network.
        ArtifactError: the run's layers cannot be read.
    """
    for spec in manifest.layers():
        if spec.name == layer:
            return int(spec.output_shape[-1])
    raise ValueError(f"run has no layer {layer!r}")


def choose_channel(raw: object, channels: int) -> tuple[int, str | None]:
    """Return the channel to show for a URL's ``channel`` value, and a message when it cannot be shown.

    Args:
        raw: the URL's value (None when absent: channel 0, no message).
        channels: the layer's channel count.
    """
    if raw is None or raw == "":
        return 0, None
    try:
        channel = int(str(raw).strip())
    except ValueError:
        channel = -1
    if not 0 <= channel < channels:
        return 0, f"channel={str(raw)[:20]} in the address is not a channel of this layer (0 to {channels - 1}): " \
                  "showing channel 0."
    return channel, None


def history_positions(run) -> set[int]:
    """Return the probe positions stored in every epoch's snapshot (the per-epoch subset)."""
    epochs = run.snapshot_epochs()
    if len(epochs) < 2:
        return set(range(len(run.probes()["labels"])))
    return {int(index) for index in run.snapshot(epochs[0])[SNAPSHOT_PROBE_INDEX]}


def default_probe(labels: np.ndarray, digit, with_history: set[int], near: int | None = None) -> int | None:
    """Return the probe to show for a class: the one nearest ``near`` with history, else any of the class."""
    candidates = [int(p) for p in range(len(labels)) if digit in (None, "all") or int(labels[p]) == digit]
    if not candidates:
        return None
    preferred = [p for p in candidates if p in with_history] or candidates
    return min(preferred, key=lambda p: abs(p - (near if near is not None else -1)))


def load_row(run, probe: int, epoch) -> tuple[dict, int, int]:
    """Return (snapshot, row of ``probe`` in it, epoch shown).

    ``epoch`` is snapped to the nearest stored epoch; the last epoch is shown when that one lacks the probe.

    Raises:
        ViewError: the probe is in no snapshot.
        ArtifactError: a snapshot cannot be read.
    """
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ViewError("This run stored no snapshots.")
    wanted = nearest_epoch(epochs, epoch)
    for shown in dict.fromkeys([epochs[-1] if wanted is None else wanted, epochs[-1]]):
        snapshot = run.snapshot(shown)
        rows = np.flatnonzero(snapshot[SNAPSHOT_PROBE_INDEX] == probe)
        if rows.size:
            return snapshot, int(rows[0]), shown
    raise ViewError(f"Probe {probe} is not stored in this run.")


def picker_positions(labels: np.ndarray, digit) -> np.ndarray:
    """Return the probe positions the picker shows for a digit filter."""
    return np.flatnonzero(labels == digit) if digit != "all" else np.arange(len(labels))


def layer_maps(run, layer: str, probe: int, epoch, average: bool, digit) -> tuple[np.ndarray, str]:
    """Return the (h, w, c) maps to show for a layer and a caption: one probe's, or the class mean.

    ``epoch`` is snapped to the nearest stored epoch.
    """
    if average:
        epochs = run.snapshot_epochs()
        if not epochs:
            raise ViewError("This run stored no snapshots.")
        wanted = nearest_epoch(epochs, epoch)
        epoch = epochs[-1] if wanted is None else wanted
        snapshot = run.snapshot(epoch)
        labels = run.probes()["labels"][snapshot[SNAPSHOT_PROBE_INDEX]]
        rows = np.flatnonzero(labels == digit) if digit != "all" else np.arange(len(labels))
        if not rows.size:
            raise ViewError(f"No probe digit of class {digit} is stored at epoch {epoch}.")
        maps = snapshot[ACTIVATION_PREFIX + layer][rows].astype(np.float32).mean(axis=0)
        which = f"class {digit}" if digit != "all" else "all classes"
        return maps, f"{layer}, mean of {rows.size} digits of {which}, epoch {epoch}"
    snapshot, row, shown = load_row(run, probe, epoch)
    return snapshot[ACTIVATION_PREFIX + layer][row], f"{layer}, probe {probe}, epoch {shown}"


def stack_layers(run, manifest: Manifest, probe: int, epoch) -> tuple[list[tuple[str, np.ndarray]], int]:
    """Return the stacked view's planes for ``probe`` at ``epoch`` (snapped), and the epoch shown: the pixels,
    then every recorded layer whose activations the snapshot holds, in network order.

    Raises:
        ViewError: the probe is in no snapshot.
        ArtifactError: the snapshot or the layers cannot be read.
    """
    snapshot, row, shown = load_row(run, probe, epoch)
    stack = [("pixels", run.probes()["images"][probe])]
    stack += [(spec.name, snapshot[ACTIVATION_PREFIX + spec.name][row]) for spec in manifest.layers()
              if ACTIVATION_PREFIX + spec.name in snapshot]
    return stack, shown


def dense_layer(manifest: Manifest, snapshot: dict) -> str | None:
    """Return the first captured dense layer before the output (the one the dense bars show), or None."""
    names = [name for name in flat_layers(manifest) if name != "output" and ACTIVATION_PREFIX + name in snapshot]
    return names[0] if names else None


def surface_frame(maps: np.ndarray, channel, caption: str) -> dict:
    """Return one epoch's frame of the chosen channel's views: its map (typed array) and both titles."""
    chosen = channel if isinstance(channel, int) and 0 <= channel < maps.shape[2] else 0
    return {"z": typed_array(maps[:, :, chosen]), "title": f"Channel {chosen} in 3D: {caption}",
            "map_title": f"Channel {chosen}: {caption}"}


def layer_frames(run, probe: int, layer: str, channel, average: bool, digit,
                 mosaic: bool = True) -> dict[str, dict]:
    """Return every drawable epoch's ``{"surface": surface_frame, "mosaic": ...}`` (the mosaic only with ``mosaic``).

    What a layer or mode change resends of :func:`epoch_frames` (a channel change: the surface part).

    Raises:
        ArtifactError: a snapshot cannot be read.
    """
    frames = {}
    for epoch in run.snapshot_epochs():
        try:
            maps, caption = layer_maps(run, layer, probe, epoch, average, digit)
        except (ViewError, KeyError, IndexError, ValueError):
            continue
        frames[str(epoch)] = {"surface": surface_frame(maps, channel, caption)}
        if mosaic:
            frames[str(epoch)]["mosaic"] = {**mosaic_frame(maps), "title": f"Feature maps: {caption}"}
    return frames


def epoch_frames(run, manifest: Manifest, probe: int, layer: str, channel, average: bool, digit) -> dict:
    """Return every stored epoch's frame of the views that follow the epoch slider, for the browser to swap.

    Sent once per probe, layer, channel or mode; dashboard/assets/frames.js draws the dragged
    epoch's frame with no request to the server. A frame holds the feature-map mosaic (palette
    PNG and colour range), the chosen channel's map (its 2D map and 3D surface), the saliency map, the
    class probabilities (heights, colours, labels, title), the dense layer's outputs, the
    summary badges and the "only the final epoch" note; arrays are float32 typed-array specs. (The 3D
    surface's image view follows the slider once it is let go: :func:`draw_surface_epoch`.)

    Returns:
        ``{"epochs": [...], "frames": {"<epoch>": frame}}``; an epoch that cannot be drawn has no frame.

    Raises:
        ViewError: the run stored no snapshots.
        ArtifactError: the probes cannot be read.
    """
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ViewError("This run stored no snapshots.")
    probes = run.probes()
    label = int(probes["labels"][probe])
    names = manifest.class_names
    frames = {}
    for epoch in epochs:
        try:
            snapshot, row, shown = load_row(run, probe, epoch)
            maps, caption = layer_maps(run, layer, probe, epoch, average, digit)
        except (ViewError, KeyError, IndexError, ValueError):
            continue
        probabilities = snapshot[SNAPSHOT_PROBABILITIES][row]
        parts = probability_parts(probabilities, label, names)
        dense = dense_layer(manifest, snapshot)
        values = snapshot[ACTIVATION_PREFIX + dense][row] if dense else None
        predicted = parts["predicted"]
        frames[str(epoch)] = {
            "mosaic": {**mosaic_frame(maps), "title": f"Feature maps: {caption}"},
            "surface": surface_frame(maps, channel, caption),
            "saliency": typed_array(snapshot[SNAPSHOT_SALIENCY][row]),
            "probabilities": {"y": typed_array(probabilities), "colors": parts["colors"], "text": parts["text"],
                              "title": parts["title"]},
            "dense": None if values is None else {
                "y": typed_array(values),
                "title": f"Dense layer '{dense}': {len(values)} units, probe {probe}, epoch {shown}"},
            "summary": {"label": f"label {names[label]}",
                        "predicted": f"predicted {names[predicted]} ({float(probabilities[predicted]):.0%})",
                        "right": predicted == label},
            "note": None if shown == epoch else
            f"Only the final epoch ({shown}) is stored for probe {probe}, so the slider cannot replay it.",
        }
    return {"epochs": epochs, "frames": frames}


def layer_size(manifest: Manifest, layer: str) -> tuple[int, int]:
    """Return the (height, width) of ``layer``'s feature maps.

    Raises:
        ValueError: the layer is not in the run's network or has no spatial maps.
        ArtifactError: the run's layers cannot be read.
    """
    for spec in manifest.layers():
        if spec.name == layer and len(spec.output_shape) == 3:
            return int(spec.output_shape[0]), int(spec.output_shape[1])
    raise ValueError(f"run has no spatial layer {layer!r}")


def fired_only(component_id: str) -> bool:
    """Return whether ``component_id`` is the only input that fired this call (Dash calls once for
    changes that arrive together: a class chosen and then its probe, a layer and then its channel)."""
    return {prop.rsplit(".", 1)[0] for prop in ctx.triggered_prop_ids} == {component_id}


def _run(run_id):
    """Return the run the layout chose and its manifest (the layout resolved it: no second choice).

    Raises:
        ViewError: the run is gone or its manifest cannot be read.
    """
    run = shown_run(run_id)
    if run is None:
        raise ViewError(f"There is no run '{str(run_id)[:40]}' in the store.")
    try:
        return run, run.info()
    except ArtifactError as error:
        raise ViewError(f"Run '{run.run_id}' cannot be read: {error.reason}.") from error


def layout(**kwargs):
    """Return the explorer for the run (the contract's choice), digit, probe, layer, channel, epoch and mode."""
    return run_page("activations", kwargs)


def body(resolved: Resolved, kwargs: dict):
    """Return the explorer for a resolved run and the URL's digit, probe, layer, channel, epoch and mode."""
    state = parse_state(kwargs)
    run = resolved.run
    try:
        manifest = manifest_of(resolved)
        imported = manifest.is_imported
        epochs = run.snapshot_epochs()
        last = run.snapshot(epochs[-1]) if epochs else {}
        layers = spatial_layers(manifest, last)
        labels = run.probes()["labels"]
        with_history = history_positions(run)
        gradcam = attribution_layers(run, manifest)
        has_dense = dense_layer(manifest, last) is not None
    except (ArtifactError, ValueError, TypeError, KeyError) as error:
        return error_card(f"Run '{run.run_id}' cannot be explored: {getattr(error, 'reason', error)}.")
    # An imported model may have no layer with feature maps (an MLP): its digit views are still shown.
    if not epochs or not (layers or imported) or not len(labels):
        return error_card(f"Run '{run.run_id}' stored no probe digits or snapshots to explore.")
    digit = state.get("digit", "all")
    probe = state.get("probe")
    messages = []
    if probe is not None and probe >= len(labels):
        messages.append(notice(f"There is no probe {probe} in this run (it has {len(labels)}); "
                               "showing another digit.", "warning"))
        probe = None
    if probe is None or (digit != "all" and int(labels[probe]) != digit):
        probe = default_probe(labels, digit, with_history)
    epoch, epoch_message = choose_epoch(kwargs.get("epoch"), epochs)
    layer = state["layer"] if state.get("layer") in layers else (layers[0] if layers else None)
    channels = layer_channels(manifest, layer) if layer is not None else 1
    channel, channel_message = choose_channel(kwargs.get("channel"), channels)
    messages += [notice(text, "warning") for text in (epoch_message, channel_message) if text]
    names = manifest.class_names
    digit_options = [{"label": "All", "value": "all"}] + [{"label": names[k], "value": k} for k in range(10)]
    return html.Div([
        dcc.Store(id=RUN, data=run.run_id), query_store(QUERY), theme_store(THEME), dcc.Store(id=PROBE, data=probe),
        dcc.Store(id=SURFACE_KEY), dcc.Store(id=FRAMES), dcc.Store(id=FRAMES_KEY),
        html.H3(["Activation explorer ", html.Small(f"run {run.run_id}", className="text-body-secondary")]),
        *messages,
        dbc.Row([dbc.Col(controls(digit_options, digit, epochs, epoch, layers, layer, channels, channel,
                                  state.get("mode") == AVERAGE, imported), lg=3),
                 dbc.Col(views(gradcam, names, attributions=engine_supports(manifest), maps=bool(layers),
                               dense=has_dense), lg=9)]),
    ])


def epoch_control(epochs: list[int], epoch: int, one_epoch: bool) -> list:
    """Return the sidebar's epoch slider with its label, or for an imported model (``one_epoch``) a note in their
    place (the slider stays in the page, hidden, as the callbacks' epoch)."""
    # Dragging moves drag_value, swapped in the browser; letting go sets value (URL, stacked view).
    slider = epoch_slider(EPOCH, epochs, epoch)
    if not one_epoch:
        return [dbc.Label("Epoch (0 = before training)"), slider]
    return [html.Div(slider, style=HIDDEN),
            html.P(IMPORTED_EPOCH_NOTE, className="small text-body-secondary mb-1 imported-note")]


def controls(digit_options: list[dict], digit, epochs: list[int], epoch: int, layers: list[str], layer: str | None,
             channels: int, channel: int, average: bool, imported: bool = False) -> dbc.Card:
    """Return the explorer's sidebar: the class, the probe picker, the epoch (an imported model: a note), the
    layer, the channel and the mode."""
    return dbc.Card(dbc.CardBody([
        dbc.Label("Digit class"),
        dbc.RadioItems(id=DIGIT, options=digit_options, value=digit, inline=True,
                       className="digit-filter d-flex flex-wrap mb-2",
                       inputClassName="btn-check", labelClassName="btn btn-outline-primary btn-sm px-2",
                       labelCheckedClassName="active"),
        dbc.Label("Probe digits (click one)", className="d-block"),
        dcc.Graph(id=PICKER, config=PICKER_CONFIG, style={"height": "auto"}),
        html.Div(id=SUMMARY, className="my-2"),
        *epoch_control(epochs, epoch, imported),
        dbc.Alert([
            html.Div(id=NOTE),
            # Always in the layout: a callback whose Input is missing never fires.
            dbc.Button("Open the nearest probe with history", id=NEAREST, size="sm", color="warning",
                       className="mt-1"),
        ], id=NOTE_BOX, color="warning", className="py-2 small mt-2", is_open=False),
        dbc.Row([
            dbc.Col([dbc.Label("Layer"), dcc.Dropdown(id=LAYER, options=layers, value=layer, clearable=False)]),
            dbc.Col([dbc.Label("Channel"), dbc.Input(id=CHANNEL, type="number", min=0, max=channels - 1,
                                                     step=1, value=channel, debounce=True)]),
        ], className="g-2 mt-1"),
        dbc.Switch(id=MODE, label="Class average (mean over the probe digits of the class)",
                   value=average, className="mt-2"),
        None if imported else explanation("Epochs", explanations.EPOCHS),
    ]), className="mb-3")


def views(layers: list[str] | None = None, names=None, attributions: bool = True, maps: bool = True,
          dense: bool = True) -> html.Div:
    """Return the explorer's views: the digit, its saliency and probabilities, the attributions card (Grad-CAM on
    ``layers``, the run's conv layers, and ``names``, its classes), the maps, the 3D views, dense bars.

    A view the run cannot fill is hidden, not left out (its callbacks still name it): the attributions card
    without ``attributions`` (a note instead), the maps and 3D views without ``maps`` (a note instead), the
    dense bars without ``dense``.
    """
    graph = dict(config=GRAPH_CONFIG)
    card = attribution_card(ATTRIBUTION, layers, names=names)
    if not attributions:
        card = html.Div([html.Div(card, style=HIDDEN),
                         html.P(NO_ATTRIBUTIONS, className="small text-body-secondary no-attributions")])
    return html.Div([
        dbc.Row([
            dbc.Col([dcc.Graph(id=INPUT, config=SMALL_CONFIG, style={"height": "300px"})], md=4),
            dbc.Col([dcc.Graph(id=SALIENCY, config=SMALL_CONFIG, style={"height": "300px"}),
                     explanation("What is saliency?", explanations.SALIENCY)], md=4),
            dbc.Col([dcc.Graph(id=PROBABILITIES, config=SMALL_CONFIG, style={"height": "300px"}),
                     explanation("Softmax and probabilities", explanations.SOFTMAX)], md=4),
        ], className="g-2"),
        card,
        None if maps else notice(NO_SPATIAL),
        dbc.Row([
            dbc.Col([dcc.Graph(id=MOSAIC, style={"height": "430px"}, **graph),
                     explanation("What are feature maps?", explanations.FEATURE_MAPS + explanations.CONVOLUTION
                                 + explanations.POOLING)], lg=7),
            dbc.Col([
                # The chosen channel flat (its values on hover) or in 3D; the surface, a WebGL scene that
                # takes a third of a second to set up without a GPU, is drawn once its tab is opened.
                dbc.Tabs([
                    dbc.Tab(dcc.Graph(id=CHANNEL_MAP, style={"height": "400px"}, **graph), label="Channel map",
                            tab_id=MAP_TAB),
                    dbc.Tab([dcc.Graph(id=SURFACE, figure=NOT_DRAWN, style={"height": "400px"}, **graph),
                             webgl_switch(SURFACE_WEBGL)], label="3D surface", tab_id=SURFACE_TAB),
                ], id=CHANNEL_TABS, active_tab=MAP_TAB),
                explanation("Reading the 3D surface", explanations.SURFACE + explanations.SURFACE_EPOCHS)], lg=5),
        ], className="g-2", style=None if maps else HIDDEN),
        dbc.Row([
            dbc.Col([
                # The stacked view is the page's heaviest drawing (half a second in a browser without a
                # GPU): it is built only once asked for.
                dbc.Switch(id=STACK_SHOW, label="Show every layer stacked in 3D", value=False, className="mt-2"),
                dbc.Collapse([dcc.Graph(id=STACK, figure=NOT_DRAWN, style={"height": "520px"}, **graph),
                              webgl_switch(STACK_WEBGL)], id=STACK_BOX, is_open=False),
                explanation("The stacked view", explanations.STACKED)], lg=6, style=None if maps else HIDDEN),
            dbc.Col([dcc.Graph(id=DENSE, style={"height": "360px"}, **graph),
                     explanation("Dense layers", explanations.DENSE)], lg=6, style=None if dense else HIDDEN),
        ], className="g-2"),
    ])


def select_probe(click, digit, _nearest, probe, run_id):
    """Choose the probe: the clicked thumbnail, a digit of the new class, or the nearest with history."""
    try:
        run, _ = _run(run_id)
        labels = run.probes()["labels"]
        with_history = history_positions(run)
    except (ViewError, ArtifactError):
        return dash.no_update
    if ctx.triggered_id == PICKER and click:
        shown = picker_positions(labels, digit)
        slot = clicked_tile(click, min(PICKER_COLUMNS, len(shown)), len(shown), pitch_y=PICKER_PITCH)
        return int(shown[slot]) if slot is not None else dash.no_update
    if ctx.triggered_id == NEAREST:
        return default_probe(labels, int(labels[probe]), with_history, near=probe)
    if probe is not None and probe < len(labels) and digit in ("all", int(labels[probe])):
        return dash.no_update
    return default_probe(labels, digit, with_history, near=probe)


def draw_picker(digit, probe, theme, run_id):
    """Draw the thumbnails of the class's probe digits (the app's digit grid, as one PNG), the chosen one framed."""
    try:
        run, _ = _run(run_id)
        probes = run.probes()
    except (ViewError, ArtifactError):
        return dash.no_update
    shown = picker_positions(probes["labels"], digit)
    slot = np.flatnonzero(shown == probe)
    slot = int(slot[0]) if slot.size else None
    if fired_only(PROBE):
        # Only the frame moves: patch the rectangle instead of resending the thumbnails.
        patch = Patch()
        patch["layout"]["shapes"][0] = selected_shape(slot, min(PICKER_COLUMNS, max(len(shown), 1)), PICKER_PITCH)
        return patch
    if not len(shown):
        return empty_grid("No probe digits of this class", theme)
    figure = digit_mosaic(probes["images"][shown], None, PICKER_COLUMNS, theme, selected=slot, image=True,
                          hover="click to open this digit")
    # The sidebar is narrow: size the graph to its width (about 30 px per row of thumbnails).
    figure.update_layout(height=24 + 30 * -(-len(shown) // PICKER_COLUMNS))
    return figure


def draw_digit(probe, epoch, theme, run_id):
    """Return the summary, note, and the chosen digit, its saliency and its class probabilities at ``epoch``."""
    try:
        run, manifest = _run(run_id)
        if probe is None:
            raise ViewError("Choose a probe digit.")
        probes = run.probes()
        snapshot, row, shown = load_row(run, int(probe), epoch)
        wanted = nearest_epoch(run.snapshot_epochs(), epoch)
        image, label = probes["images"][probe], int(probes["labels"][probe])
        names = manifest.class_names
        probabilities = snapshot[SNAPSHOT_PROBABILITIES][row]
        figures = (figs.input_digit(image, f"Probe {probe} (label {names[label]})", theme),
                   figs.saliency_overlay(image, snapshot[SNAPSHOT_SALIENCY][row], theme),
                   figs.probability_bars(probabilities, label, theme, names))
    except ViewError as error:
        return error_card(str(error)), None, False, {}, {}, {}
    except (ArtifactError, KeyError, IndexError, ValueError) as error:
        return (error_card(f"This digit cannot be shown: {getattr(error, 'reason', error)}"), None, False,
                {}, {}, {})
    predicted = int(np.argmax(probabilities))
    summary = html.Div([
        dbc.Badge(f"label {names[label]}", color="secondary", className="me-1"),
        dbc.Badge(f"predicted {names[predicted]} ({float(probabilities[predicted]):.0%})",
                  color="success" if predicted == label else "danger"),
    ])
    note = None
    if wanted is not None and shown != wanted:
        note = f"Only the final epoch ({shown}) is stored for probe {probe}, so the slider cannot replay it."
    return summary, note, note is not None, *figures


def draw_mosaic(probe, layer, channel, epoch, average, digit, theme, run_id):
    """Return the chosen layer's feature maps as one image, the chosen channel framed (a Patch for a channel)."""
    try:
        run, _ = _run(run_id)
        maps, caption = layer_maps(run, layer, int(probe), epoch, bool(average), digit)
    except (ViewError, ArtifactError, KeyError, TypeError, ValueError):
        return {}
    height, width, channels = maps.shape
    channel = channel if isinstance(channel, int) and 0 <= channel < channels else None
    if fired_only(CHANNEL):
        patch = Patch()
        patch["layout"]["shapes"][0] = figs.highlight_shape(channel, height, width,
                                                            figs.mosaic_columns(channels))
        return patch
    return figs.feature_map_image(maps, f"Feature maps: {caption}", theme, highlight=channel)


def select_channel(click, layer, channel, run_id):
    """Take the channel of a clicked mosaic tile; keep the box within the chosen layer's range.

    A typed channel outside the layer becomes 0, the channel the plots then show.
    """
    try:
        _, manifest = _run(run_id)
        channels = layer_channels(manifest, layer)
        height, width = layer_size(manifest, layer)
    except (ViewError, ArtifactError, KeyError, ValueError, TypeError):
        return dash.no_update, dash.no_update
    if ctx.triggered_id == MOSAIC and click:
        point = click["points"][0]
        try:
            clicked = figs.channel_at(round(float(point["y"])), round(float(point["x"])), height, width,
                                      figs.mosaic_columns(channels), channels)
        except (KeyError, TypeError, ValueError):
            clicked = None
        if clicked is not None:
            return clicked, channels - 1
    value = channel if isinstance(channel, int) and 0 <= channel < channels else 0
    return (value if value != channel else dash.no_update), channels - 1


def draw_surface(probe, layer, channel, epoch, average, digit, theme, run_id, drawn, webgl=False):
    """Return the chosen channel as a 3D surface and its key; a Patch when only its values change.

    The surface is an image of the 3D scene (:func:`dashboard.figures.scene_image.surface_image`), or with
    ``webgl`` the interactive WebGL figure, whose Patch of z keeps the user's camera.
    """
    try:
        run, _ = _run(run_id)
        maps, caption = layer_maps(run, layer, int(probe), epoch, bool(average), digit)
    except (ViewError, ArtifactError, KeyError, TypeError, ValueError):
        return {}, None
    channel = channel if isinstance(channel, int) and 0 <= channel < maps.shape[2] else 0
    title = f"Channel {channel} in 3D: {caption}"
    key = surface_key(run_id, layer, theme, webgl)
    channel_map = maps[:, :, channel].astype(np.float32)
    if drawn == key:
        patch = Patch()
        if webgl:
            patch["data"][0]["z"] = channel_map
        else:
            frame = surface_render(channel_map)
            patch["data"][0]["source"] = frame["source"]
            patch["data"][1]["marker"]["cmin"] = frame["low"]
            patch["data"][1]["marker"]["cmax"] = frame["high"]
            for index, text in enumerate(frame["ticks"]):
                patch["layout"]["annotations"][index]["text"] = text
        patch["layout"]["title"]["text"] = title
        return patch, dash.no_update
    if webgl:
        return figs.activation_surface(channel_map, title, theme), key
    return surface_image(channel_map, title, theme), key


def surface_key(run_id, layer, theme, webgl) -> str:
    """Return what a drawn surface figure is of beyond its values: a Patch updates one of the same key."""
    return f"{run_id}/{layer}/{theme}/{'webgl' if webgl else 'image'}"


def draw_dense(run, manifest, probe: int, epoch, theme):
    """Return the bars of the first dense layer's outputs for the probe at ``epoch`` ({} when there is none).

    Raises:
        ViewError, ArtifactError: the probe's snapshot cannot be read.
    """
    snapshot, row, shown = load_row(run, probe, epoch)
    dense = dense_layer(manifest, snapshot)
    if dense is None:
        return {}
    values = snapshot[ACTIVATION_PREFIX + dense][row]
    return figs.dense_bars(values, f"Dense layer '{dense}': {len(values)} units, probe {probe}, epoch {shown}",
                           theme)


def draw_stack(probe, epoch, theme, run_id, webgl=False):
    """Return every layer of the digit stacked in 3D (an image, or with ``webgl`` the WebGL figure), and the first
    dense layer's outputs."""
    try:
        run, manifest = _run(run_id)
        stack, _ = stack_layers(run, manifest, int(probe), epoch)
        stack_figure = figs.stacked_layers(stack, theme) if webgl else stacked_image(stack, theme)
        dense_figure = draw_dense(run, manifest, int(probe), epoch, theme)
    except (ViewError, ArtifactError, KeyError, TypeError, ValueError):
        return {}, {}
    return stack_figure, dense_figure


DIGIT_VIEWS = (PROBE, THEME, None)  # what redraws the digit, saliency, probabilities and dense bars


def draw_views(probe, layer, channel, average, digit, theme, tab, epoch, run_id, drawn, sent=None, webgl=False):
    """Draw every view the interaction changed in ONE request, and send every epoch's frame of them.

    The epoch is not an Input: dashboard/assets/frames.js swaps the frames while the slider moves.
    A channel change patches the mosaic's frame and the surface; a digit class change outside
    the class average leaves the views to the probe it chooses; the 3D surface is drawn only while
    its tab is open (opening it, or its ``webgl`` switch, draws it and nothing else).
    """
    # Dash calls this once for changes that arrive together (a class chosen, then its probe), so look
    # at every input that fired, not the first.
    fired = {prop.rsplit(".", 1)[0] for prop in ctx.triggered_prop_ids} or {None}
    keep = dash.no_update
    shown = tab == SURFACE_TAB
    if fired <= {CHANNEL_TABS, SURFACE_WEBGL}:
        # The tab reopened on the figure it shows: nothing to draw (``drawn`` is reset by any change while closed).
        if not shown or (drawn == surface_key(run_id, layer, theme, webgl) and fired == {CHANNEL_TABS}):
            return (keep,) * 13
        surface, key = draw_surface(probe, layer, channel, epoch, average, digit, theme, run_id, None, webgl)
        return (*(keep,) * 8, surface, key, keep, keep, keep)
    if fired <= {DIGIT, CHANNEL_TABS, SURFACE_WEBGL} and not average:
        return (keep,) * 13
    redraw_digit = bool(fired & set(DIGIT_VIEWS))
    digit_views = (keep,) * 6
    dense = keep
    if redraw_digit:
        digit_views = draw_digit(probe, epoch, theme, run_id)
    mosaic = draw_mosaic(probe, layer, channel, epoch, average, digit, theme, run_id)
    surface, key = draw_surface(probe, layer, channel, epoch, average, digit, theme, run_id, drawn, webgl) \
        if shown else (keep, None)
    try:
        run, manifest = _run(run_id)
        maps, caption = layer_maps(run, layer, int(probe), epoch, bool(average), digit)
        chosen = channel if isinstance(channel, int) and 0 <= channel < maps.shape[2] else 0
        channel_map = figs.channel_heatmap(maps[:, :, chosen], f"Channel {chosen}: {caption}", theme)
        if redraw_digit:
            dense = draw_dense(run, manifest, int(probe), epoch, theme)
        # What the browser's frames were made for: resend only what differs (they hold no theme colour).
        frames_key = {"run": run_id, "probe": int(probe), "layer": layer, "channel": channel,
                      "average": bool(average), "digit": digit if average else None}
        sent = sent if isinstance(sent, dict) else {}
        if sent == frames_key:
            frames = keep
        elif all(sent.get(name) == frames_key[name] for name in ("run", "probe")):
            # The digit stays (a layer, channel, mode or averaged class): resend only the layer's part of
            # each frame, and for a channel alone not even the mosaics.
            frames = Patch()
            mosaic_too = any(sent.get(name) != frames_key[name] for name in ("layer", "average", "digit"))
            parts = layer_frames(run, int(probe), layer, channel, bool(average), digit, mosaic=mosaic_too)
            for name, part in parts.items():
                for view, value in part.items():
                    frames["frames"][name][view] = value
            frames["drawn"] = nearest_epoch(run.snapshot_epochs(), epoch)
        else:
            frames = epoch_frames(run, manifest, int(probe), layer, channel, bool(average), digit)
            frames["drawn"] = nearest_epoch(frames["epochs"], epoch)
    except (ViewError, ArtifactError, KeyError, TypeError, ValueError):
        channel_map, frames, frames_key = {}, None, None
        dense = {} if redraw_digit else keep
    return (*digit_views, mosaic, channel_map, surface, key, dense, frames, frames_key)


def draw_surface_epoch(epoch, tab, webgl, probe, layer, channel, average, digit, theme, run_id, drawn):
    """Redraw the 3D surface's image at the epoch the slider was let go at (a Patch of the image, ~20 ms).

    The slider's frames (dashboard/assets/frames.js) swap the WebGL surface's z while it is dragged; the image
    view is rendered on the server, so it follows once the slider is let go, as the stacked view does
    (sending every epoch's image with the frames would cost each probe change 16 renders and ~250 KB).
    Nothing while the tab is closed, the WebGL view is shown, or the image is not drawn yet.
    """
    if tab != SURFACE_TAB or webgl or drawn != surface_key(run_id, layer, theme, False):
        return dash.no_update
    return draw_surface(probe, layer, channel, epoch, average, digit, theme, run_id, drawn)[0]


def draw_stack_view(show, probe, epoch, theme, run_id, webgl=False):
    """Draw the stacked 3D view once the switch asks for it (never before), then follow probe and epoch: an image,
    or with ``webgl`` the interactive WebGL figure."""
    if not show:
        return dash.no_update, False
    stack, _ = draw_stack(probe, epoch, theme, run_id, webgl)
    return stack, True


def record_query(digit, probe, layer, channel, epoch, average, run_id):
    """Write the view's state as a query string (not on first load: that would add a history entry)."""
    if ctx.triggered_id is None:
        return dash.no_update
    return build_search(run=run_id, digit=digit, probe=probe, layer=layer, channel=channel, epoch=epoch,
                        mode=AVERAGE if average else None)
