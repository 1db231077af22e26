"""The Architecture page's pure logic: the layer table and the filter grid's input channels.

Imported by ``dashboard/pages/model.py`` and directly by tests (no Dash page registration here).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from artifacts.config import LayerSpec
from artifacts.format import KERNEL_PREFIX
from dashboard.figures.activations import typed_array
from dashboard.figures.architecture import kernel_grid_values

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
