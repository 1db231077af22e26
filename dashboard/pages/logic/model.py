"""The Architecture page's pure logic: the layer table and the filter grid's input channels.

Imported by ``dashboard/pages/model.py`` and directly by tests (no Dash page registration here).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from artifacts.config import LayerSpec
from artifacts.format import KERNEL_PREFIX

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
