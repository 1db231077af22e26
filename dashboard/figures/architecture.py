"""Figures of the network itself: its layers as 3D blocks and its convolution filters as grids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.activations import highlight_shape, image_axes, mosaic_columns, tile_mosaic
from dashboard.figures.style import DIVERGING_SCALE, TITLE_TOP, apply_theme

# Keras class names (a trained run's input is "Input", an imported model's "InputLayer"); any other
# class is drawn in OTHER_COLOR.
KIND_COLORS = {
    "Input": "#9e9e9e",
    "InputLayer": "#9e9e9e",
    "Conv2D": "#4c78a8",
    "DepthwiseConv2D": "#6b9bd1",
    "SeparableConv2D": "#6b9bd1",
    "MaxPooling2D": "#f58518",
    "AveragePooling2D": "#f58518",
    "GlobalAveragePooling2D": "#f58518",
    "GlobalMaxPooling2D": "#f58518",
    "Flatten": "#b279a2",
    "Reshape": "#b279a2",
    "Dense": "#54a24b",
    "Dropout": "#bab0ac",
    "BatchNormalization": "#eeca3b",
    "Activation": "#ff9da6",
    "Rescaling": "#9d755d",
    "Add": "#e45756",
}
OTHER_COLOR = "#72b7b2"
JOIN_COLOR = "#e45756"  # the arcs from a layer's inputs when they are not the layer before it (a residual Add)
GAP = 0.6  # space between blocks along the network axis
# A box's 8 corners are numbered z*4 + y*2 + x (each 0 or 1); its six faces as corner cycles,
# each split into two triangles for go.Mesh3d.
BOX_FACES = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5))
BOX_I = [a for a, _, _, _ in BOX_FACES for _ in range(2)]
BOX_J = [n for _, b, c, _ in BOX_FACES for n in (b, c)]
BOX_K = [n for _, _, c, d in BOX_FACES for n in (c, d)]


def block_size(shape: list[int] | tuple[int, ...]) -> tuple[float, float, float]:
    """Return a block's (depth, width, height) for a layer's output shape.

    Depth grows with the log of the channel count, width and height with the
    spatial size (28 pixels = 2 units); a 1-D layer is a thin column whose
    height grows with the log of its units. Logs keep 1,600 units and 1 channel
    on one picture. A size the model leaves open (None) counts as 1; a shape of
    more than 3 axes is drawn as its last three.
    """
    shape = [1 if size is None else int(size) for size in shape][-3:]
    if len(shape) == 3:
        height, width, channels = shape
        return 0.15 + 0.18 * math.log2(channels + 1), width / 14, height / 14
    if len(shape) == 2:
        height, width = shape
        return 0.15, width / 14, height / 14
    units = shape[0] if shape else 1
    size = 0.3 + 0.3 * math.log2(units + 1)
    return 0.15, 0.15, size


def _box(x0: float, depth: float, width: float, height: float) -> tuple[np.ndarray, ...]:
    xs = np.array([x0, x0 + depth], dtype=np.float32)
    ys = np.array([-width / 2, width / 2], dtype=np.float32)
    zs = np.array([-height / 2, height / 2], dtype=np.float32)
    # Corner order: z low (y low: x0,x1; y high: x0,x1), then z high in the same order.
    x = np.tile([xs[0], xs[1], xs[0], xs[1]], 2)
    y = np.tile([ys[0], ys[0], ys[1], ys[1]], 2)
    z = np.repeat(zs, 4)
    return x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)


def architecture_blocks(architecture: list[dict[str, Any]], theme: str | None = None) -> go.Figure:
    """Draw the network as 3D blocks left to right, sized by each layer's output shape.

    Args:
        architecture: the manifest's layer table (dicts with name, kind, output_shape, params...; any
            Keras class name as kind). A layer whose optional ``inbound`` names other layers than the
            one before it (a residual Add) gets an arc from each of them.
        theme: "light" or "dark".

    Returns:
        One go.Mesh3d box per layer, in order, then one text trace labelling them, then (when some
        layer has such inputs) one line trace of the arcs.

    Raises:
        ValueError: an empty layer table.
    """
    if not architecture:
        raise ValueError("the architecture has no layers")
    traces: list[Any] = []
    label_x, label_y, label_z, labels = [], [], [], []
    position = 0.0
    spans: dict[str, tuple[float, float, float]] = {}  # name -> (left, right, top) of its block
    for layer in architecture:
        shape = list(layer.get("output_shape") or [1])
        depth, width, height = block_size(shape)
        x, y, z = _box(position, depth, width, height)
        spans[str(layer.get("name", ""))] = (position, position + depth, height / 2)
        shape_text = " x ".join("?" if size is None else str(size) for size in shape)
        kind = str(layer.get("kind", ""))
        traces.append(
            go.Mesh3d(
                x=x, y=y, z=z, i=BOX_I, j=BOX_J, k=BOX_K,
                color=KIND_COLORS.get(kind, OTHER_COLOR),
                opacity=1.0,
                flatshading=True,
                name=str(layer.get("name", "")),
                hovertemplate=(f"<b>{layer.get('name', '')}</b> ({kind})<br>output {shape_text}<br>"
                               f"{int(layer.get('params', 0)):,} parameters<extra></extra>"),
            )
        )
        label_x.append(position + depth / 2)
        label_y.append(-width / 2 - 0.05)  # in front of the block, never hidden by it
        # Alternate labels above and below so neighbouring thin layers do not overprint.
        label_z.append(height / 2 + 0.3 if len(labels) % 2 == 0 else -height / 2 - 0.75)
        labels.append(f"{layer.get('name', '')}<br>{shape_text}")
        position += depth + GAP
    traces.append(
        go.Scatter3d(
            x=np.array(label_x, dtype=np.float32),
            y=np.array(label_y, dtype=np.float32),
            z=np.array(label_z, dtype=np.float32),
            mode="text", text=labels, textposition="top center", hoverinfo="skip", showlegend=False,
            textfont=dict(size=11),
        )
    )
    joins = _join_arcs(architecture, spans)
    if joins is not None:
        traces.append(joins)
    figure = go.Figure(traces)
    figure.update_layout(
        title=dict(text="The network, input on the left: block size follows the layer's output shape",
                   font=dict(size=15)),
        scene=dict(
            xaxis=dict(visible=False), yaxis=dict(visible=False), zaxis=dict(visible=False),
            aspectmode="data",
            camera=dict(eye=dict(x=0.15, y=-1.2, z=0.55), center=dict(x=0, y=0, z=0)),
        ),
        showlegend=False,
        uirevision="architecture",
    )
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=0, r=0, t=TITLE_TOP, b=0))
    return figure


def _join_arcs(architecture: list[dict[str, Any]], spans: dict[str, tuple[float, float, float]]) -> go.Scatter3d | None:
    """Return one line trace of arcs over the blocks, from each recorded input of a layer that is not the
    layer before it, to that layer; None when there is none."""
    xs: list[float | None] = []
    zs: list[float | None] = []
    previous = None
    for layer in architecture:
        name = str(layer.get("name", ""))
        for source in layer.get("inbound") or ():
            source = str(source)
            if source == previous or source not in spans or name not in spans:
                continue
            start, end = spans[source][1], spans[name][0]
            lift = max(spans[source][2], spans[name][2]) + 0.6
            xs += [start, start, end, end, None]
            zs += [spans[source][2], lift, lift, spans[name][2], None]
        previous = name
    if not xs:
        return None
    return go.Scatter3d(x=xs, y=[0.0 if value is not None else None for value in xs], z=zs, mode="lines",
                        line=dict(color=JOIN_COLOR, width=4), hoverinfo="skip", showlegend=False,
                        name="inputs")


def kernel_tiles(kernel: np.ndarray, input_channel: int | None = None) -> np.ndarray:
    """Return one (kh, kw) map per output filter as (kh, kw, out).

    Args:
        kernel: (kh, kw, in, out) convolution weights.
        input_channel: show the weights on this input channel; None averages
            over input channels (for a first layer there is only one).

    Raises:
        ValueError: not 4-D, or an input channel out of range.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be (kh, kw, in, out), not shape {kernel.shape}")
    if input_channel is None:
        return kernel.mean(axis=2)
    if not 0 <= input_channel < kernel.shape[2]:
        raise ValueError(f"input channel {input_channel} out of range 0-{kernel.shape[2] - 1}")
    return kernel[:, :, input_channel, :]


def _bound(tiles: np.ndarray) -> float:
    return float(np.nanmax(np.abs(tiles))) or 1.0


def kernel_grid_values(kernel: np.ndarray, input_channel: int | None = None,
                       columns: int | None = None) -> tuple[np.ndarray, float]:
    """Return the z (NaN gaps) and colour bound of :func:`kernel_grid` without building a figure.

    Raises:
        ValueError: see :func:`kernel_tiles`.
    """
    tiles = kernel_tiles(kernel, input_channel)
    z, _ = tile_mosaic(tiles, mosaic_columns(tiles.shape[2], columns))
    return z, _bound(tiles)


def kernel_grid(
    kernel: np.ndarray,
    title: str,
    theme: str | None = None,
    input_channel: int | None = None,
    highlight: int | None = None,
    columns: int | None = None,
) -> go.Figure:
    """Tile every filter of a conv layer into one heatmap, blue negative, red positive.

    Args:
        kernel: (kh, kw, in, out) weights.
        title: figure title.
        theme: "light" or "dark".
        input_channel: see :func:`kernel_tiles`.
        highlight: the filter to frame.
        columns: tiles per row.

    Returns:
        One heatmap trace; ``customdata`` holds each pixel's filter (-1 in gaps); the colour
        scale is symmetric around 0.
    """
    tiles = kernel_tiles(kernel, input_channel)
    height, width, filters = tiles.shape
    columns = mosaic_columns(filters, columns)
    z, filter_of = tile_mosaic(tiles, columns)
    bound = _bound(tiles)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            customdata=filter_of,
            colorscale=DIVERGING_SCALE,
            reversescale=True,
            zmin=-bound,
            zmax=bound,
            hoverongaps=False,
            colorbar=dict(title=dict(text="weight", side="right"), thickness=12),
            hovertemplate="filter %{customdata}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=dict(text=title, font=dict(size=15)),
        shapes=[highlight_shape(highlight, height, width, columns)],
        xaxis=dict(showticklabels=False, title=dict(text=f"{filters} filters of {height}x{width}, "
                                                     f"{columns} per row")),
        yaxis=dict(showticklabels=False),
    )
    image_axes(figure)
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=20, r=20, t=TITLE_TOP, b=35))
    return figure


DEAD_COLOR = "#d62728"
SATURATED_COLOR = "#ff7f0e"
MAXIMA_HEIGHT = 420  # as tall as the filter grid beside it


def stretched_tiles(images: np.ndarray) -> np.ndarray:
    """Return (n, 28, 28) images as uint8, each stretched from its own darkest to its brightest pixel.

    A maximising input's contrast is what matters; a flat image becomes mid grey.
    """
    images = np.asarray(images, dtype=np.float32)
    low = images.min(axis=(1, 2), keepdims=True)
    span = images.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(span > 0, (images - low) / np.where(span > 0, span, 1.0), 0.5)
    return np.rint(scaled * 255).astype(np.uint8)


def maximising_inputs(images: np.ndarray, dead: np.ndarray, saturated: np.ndarray, title: str,
                      theme: str | None = None) -> go.Figure:
    """Draw one conv layer's maximising inputs as one grayscale PNG mosaic, flagged filters framed.

    Args:
        images: (filters, 28, 28) inputs in raw pixels (each tile is stretched to its own range).
        dead: (filters,) bool: framed in :data:`DEAD_COLOR`, captioned "dead".
        saturated: (filters,) bool: framed in :data:`SATURATED_COLOR`, captioned "sat.".
        title: figure title.
        theme: "light" or "dark".

    Returns:
        The :func:`dashboard.figures.digits.digit_mosaic` figure (one ``go.Image`` trace, each tile
        captioned with its filter number), ``layout.shapes[1:]`` the frames of flagged filters.

    Raises:
        ValueError: images not (n, 28, 28) with n >= 1, or flags of another length.
    """
    from dashboard.figures.digits import PITCH_X, PITCH_Y, SIDE, digit_mosaic

    images = np.asarray(images)
    dead, saturated = np.asarray(dead, dtype=bool), np.asarray(saturated, dtype=bool)
    if images.ndim != 3 or len(images) == 0 or dead.shape != (len(images),) or saturated.shape != dead.shape:
        raise ValueError(f"{images.shape} images need as many dead and saturated flags, "
                         f"not {dead.shape} and {saturated.shape}")
    columns = mosaic_columns(len(images))
    captions = [f"{index}" + (" dead" if dead[index] else " sat." if saturated[index] else "")
                for index in range(len(images))]
    figure = digit_mosaic(stretched_tiles(images), captions, columns, theme, title, image=True)
    frames = []
    for index in np.flatnonzero(dead | saturated):
        top, left = (int(index) // columns) * PITCH_Y, (int(index) % columns) * PITCH_X
        color = DEAD_COLOR if dead[index] else SATURATED_COLOR
        frames.append(dict(type="rect", x0=left - 1, x1=left + SIDE, y0=top - 1, y1=top + SIDE,
                           line=dict(color=color, width=2)))
    figure.update_layout(shapes=[*figure.layout.shapes, *frames], height=MAXIMA_HEIGHT,
                         title=dict(text=title, font=dict(size=15)), margin=dict(t=TITLE_TOP))
    return figure
