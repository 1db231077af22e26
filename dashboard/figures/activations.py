"""Figures of what the network does with one digit: feature maps, 3D views, saliency, outputs.

Every builder takes numpy arrays and returns a ``go.Figure``; none reads the store.
Arrays go to Plotly as float32 (Plotly sends them as compact binary; float16 it
would spell out as text).
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image

from dashboard.figures.style import (
    ACTIVATION_SCALE,
    CLASS_COLORS,
    DIGIT_SCALE,
    TITLE_TOP,
    apply_theme,
)

# Transparent where the network does not look, hot where it does: the digit stays visible underneath.
SALIENCY_OVERLAY_SCALE = [
    [0.0, "rgba(255,255,0,0)"],
    [0.15, "rgba(255,200,0,0.15)"],
    [0.5, "rgba(255,80,0,0.6)"],
    [1.0, "rgba(200,0,0,0.9)"],
]
# The stacked view's default look, seen without perspective (every floor looks alike): floors far
# enough apart, and seen from low enough, that none hides the one below it (the input under conv_1),
# and dense layers as bands instead of edge-on lines. Floors shrink when there are more than 7.
STACK_HEIGHT = 1.9
STACK_SIDE = 0.6
STACK_EYE = dict(x=1.0, y=-2.6, z=1.1)
DENSE_BAND = (0.2, 0.8)
HIGHLIGHT_COLOR = "#e83e8c"
BAR_COLOR = "#4c78a8"
TRUE_COLOR = "#2ca02c"
WRONG_COLOR = "#d62728"


def mosaic_columns(channels: int, columns: int | None = None) -> int:
    """Return how many tiles a mosaic row holds: ``columns`` if given, else between square and 2:1 wide."""
    if columns is not None:
        return max(1, min(int(columns), channels))
    low, high = math.ceil(math.sqrt(channels)), math.ceil(math.sqrt(channels * 2))
    # Prefer a full last row (8 x 8 for 64 channels) over the widest layout.
    exact = [count for count in range(high, low - 1, -1) if channels % count == 0]
    return max(1, min(channels, exact[0] if exact else high))


def tile_origin(channel: int, height: int, width: int, columns: int) -> tuple[int, int]:
    """Return (row, column) of the top-left pixel of ``channel``'s tile in a mosaic (1 px gaps)."""
    return (channel // columns) * (height + 1), (channel % columns) * (width + 1)


def channel_at(row: int, column: int, height: int, width: int, columns: int, channels: int) -> int | None:
    """Return the channel whose tile holds mosaic pixel (row, column), or None for a gap."""
    tile_row, in_row = divmod(int(row), height + 1)
    tile_col, in_col = divmod(int(column), width + 1)
    if in_row == height or in_col == width or tile_col >= columns:
        return None
    channel = tile_row * columns + tile_col
    return channel if 0 <= channel < channels else None


def tile_mosaic(stack: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Tile the channels of ``stack`` (h, w, c) row by row with 1 px NaN gaps.

    Returns:
        ``z`` (float32, NaN in gaps) and the channel of every pixel (int16, -1 in gaps).
    """
    height, width, channels = stack.shape
    rows = math.ceil(channels / columns)
    z = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan, dtype=np.float32)
    channel_of = np.full(z.shape, -1, dtype=np.int16)
    for channel in range(channels):
        top, left = tile_origin(channel, height, width, columns)
        z[top:top + height, left:left + width] = stack[:, :, channel]
        channel_of[top:top + height, left:left + width] = channel
    return z, channel_of


def image_axes(figure: go.Figure) -> None:
    # Square pixels, row 0 at the top, as the digit is drawn.
    figure.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    figure.update_yaxes(showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x", constrain="domain")


def highlight_shape(channel: int | None, height: int, width: int, columns: int) -> dict:
    """Return the rectangle around ``channel``'s tile (invisible for None); Patch-able as layout.shapes[0]."""
    if channel is None:
        return dict(type="rect", x0=0, x1=0, y0=0, y1=0, visible=False, line=dict(color=HIGHLIGHT_COLOR))
    top, left = tile_origin(int(channel), height, width, columns)
    return dict(type="rect", x0=left - 0.5, x1=left + width - 0.5, y0=top - 0.5, y1=top + height - 0.5,
                visible=True, line=dict(color=HIGHLIGHT_COLOR, width=3))


def _palette(scale: str) -> list[int]:
    # 255 colours of a Plotly scale, index 0 left for the see-through gaps.
    colors = plotly.colors.get_colorscale(scale)
    points = plotly.colors.sample_colorscale(colors, np.linspace(0, 1, 255).tolist(), colortype="tuple")
    return [0, 0, 0] + [int(round(channel * 255)) for color in points for channel in color]


_PALETTES: dict[str, list[int]] = {}


def indexed_png(z: np.ndarray, low: float, high: float, scale: str = ACTIVATION_SCALE) -> str:
    """Return ``z`` coloured by ``scale`` from ``low`` to ``high`` as a palette PNG data URI, NaN see-through.

    One byte per pixel before compression: a 32-channel mosaic is a few KB, where the same
    heatmap as float32 is about 120 KB of JSON and a per-pixel colour pass in the browser.
    """
    z = np.asarray(z, dtype=np.float32)
    span = high - low if high > low else 1.0
    finite = np.isfinite(z)
    index = np.zeros(z.shape, dtype=np.uint8)
    index[finite] = 1 + np.clip(np.rint((z[finite] - low) / span * 254), 0, 254).astype(np.uint8)
    image = Image.fromarray(index, mode="P")
    image.putpalette(_PALETTES.setdefault(scale, _palette(scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mosaic_range(activation: np.ndarray) -> tuple[float, float]:
    """Return a mosaic's colour range: from min(0, smallest) to the largest finite value (1 wide if flat)."""
    finite = activation[np.isfinite(activation)]
    high = float(finite.max()) if finite.size else 1.0
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    return low, (high if high > low else low + 1.0)


def mosaic_frame(activation: np.ndarray, columns: int | None = None) -> dict:
    """Return one frame of :func:`feature_map_image`: ``{"source": PNG data URI, "low", "high"}``.

    The Activations page sends one per epoch so that the browser swaps them while the epoch
    slider is dragged (see dashboard/assets/frames.js).
    """
    activation = np.asarray(activation, dtype=np.float32)
    columns = mosaic_columns(activation.shape[2], columns)
    z, _ = tile_mosaic(activation, columns)
    low, high = mosaic_range(activation)
    return {"source": indexed_png(z, low, high), "low": low, "high": high}


def feature_map_image(
    activation: np.ndarray,
    title: str,
    theme: str | None = None,
    columns: int | None = None,
    highlight: int | None = None,
) -> go.Figure:
    """Tile every channel of one layer's activation into one image: :func:`feature_map_mosaic`, light.

    The same tiles, colours, frame and colour bar as the heatmap, drawn as a palette PNG
    (``go.Image``, trace 0): a few KB instead of a float per pixel. Hover names no values (the
    chosen channel's are in the 3D surface's hover); a click's (x, y) names its channel through
    :func:`channel_at` with ``layout.meta``.

    Args:
        activation: (h, w, c) feature maps of one digit (or a class mean).
        title: figure title.
        theme: "light" or "dark".
        columns: tiles per row; default about twice as wide as tall.
        highlight: channel whose tile gets a coloured frame (``layout.shapes[0]``).

    Returns:
        Trace 0 the image, trace 1 an empty scatter that carries the colour bar (``marker.cmin``/``cmax``).

    Raises:
        ValueError: ``activation`` is not 3-D.
    """
    activation = np.asarray(activation, dtype=np.float32)
    if activation.ndim != 3:
        raise ValueError(f"activation must be (h, w, c), not shape {activation.shape}")
    height, width, channels = activation.shape
    columns = mosaic_columns(channels, columns)
    frame = mosaic_frame(activation, columns)
    rows = math.ceil(channels / columns)
    figure = go.Figure([
        go.Image(source=frame["source"], hovertemplate="click: this channel in 3D<extra></extra>"),
        go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                   marker=dict(colorscale=ACTIVATION_SCALE, cmin=frame["low"], cmax=frame["high"], color=[0],
                               showscale=True,
                               colorbar=_colorbar("activation"))),
    ])
    figure.update_layout(
        title=dict(text=title, font=dict(size=15)),
        shapes=[highlight_shape(highlight, height, width, columns)],
        xaxis=dict(showticklabels=False, range=[-0.5, columns * (width + 1) - 1.5],
                   title=dict(text=f"{channels} channel{'s' if channels != 1 else ''}, {columns} per row")),
        yaxis=dict(showticklabels=False, range=[rows * (height + 1) - 1.5, -0.5]),
        meta=dict(height=height, width=width, columns=columns, channels=channels),
    )
    figure.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    figure.update_yaxes(showgrid=False, zeroline=False, scaleanchor="x", constrain="domain")
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=20, r=20, t=TITLE_TOP, b=35))
    return figure


def feature_map_mosaic(
    activation: np.ndarray,
    title: str,
    theme: str | None = None,
    columns: int | None = None,
    highlight: int | None = None,
) -> go.Figure:
    """Tile every channel of one layer's activation into one heatmap.

    Args:
        activation: (h, w, c) feature maps of one digit (or a class mean).
        title: figure title.
        theme: "light" or "dark".
        columns: tiles per row; default about twice as wide as tall.
        highlight: channel whose tile gets a coloured frame (``layout.shapes[0]``).

    Returns:
        A figure with ONE heatmap trace; gaps between tiles are NaN. ``customdata``
        holds the channel of every pixel (-1 in gaps), so a click names its channel.

    Raises:
        ValueError: ``activation`` is not 3-D.
    """
    activation = np.asarray(activation, dtype=np.float32)
    if activation.ndim != 3:
        raise ValueError(f"activation must be (h, w, c), not shape {activation.shape}")
    height, width, channels = activation.shape
    columns = mosaic_columns(channels, columns)
    z, channel_of = tile_mosaic(activation, columns)
    low, high = mosaic_range(activation)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            customdata=channel_of,
            colorscale=ACTIVATION_SCALE,
            zmin=low,
            zmax=high,
            hoverongaps=False,
            colorbar=_colorbar("activation"),
            hovertemplate="channel %{customdata}<br>value %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=dict(text=title, font=dict(size=15)),
        shapes=[highlight_shape(highlight, height, width, columns)],
        xaxis=dict(showticklabels=False,
                   title=dict(text=f"{channels} channel{'s' if channels != 1 else ''}, {columns} per row")),
        yaxis=dict(showticklabels=False),
        meta=dict(height=height, width=width, columns=columns, channels=channels),
    )
    image_axes(figure)
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=20, r=20, t=TITLE_TOP, b=35))
    return figure


def activation_surface(
    channel_map: np.ndarray, title: str, theme: str | None = None, value: str = "activation"
) -> go.Figure:
    """Draw one feature map as a 3D landscape: height and colour are the activation.

    Args:
        channel_map: (h, w) activations of one channel (or an image's pixels).
        title: figure title.
        theme: "light" or "dark".
        value: what the heights are, for the height axis, colour bar and hover ("pixel" for an image).

    Raises:
        ValueError: ``channel_map`` is not 2-D.
    """
    channel_map = _as_channel_map(channel_map)
    figure = go.Figure(
        go.Surface(
            z=channel_map,
            colorscale=ACTIVATION_SCALE,
            colorbar=_colorbar(value),
            hovertemplate=f"row %{{y}}, column %{{x}}<br>{value} %{{z:.3f}}<extra></extra>",
        )
    )
    figure.update_layout(
        title=dict(text=title, font=dict(size=15)),
        scene=dict(
            xaxis=dict(title=dict(text="column")),
            yaxis=dict(title=dict(text="row"), autorange="reversed"),
            zaxis=dict(title=dict(text=value)),
            camera=dict(eye=dict(x=1.3, y=-1.5, z=1.1)),
            aspectratio=dict(x=1, y=1, z=0.6),
        ),
        uirevision="surface",
    )
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=0, r=0, t=TITLE_TOP, b=0))
    return figure


def channel_heatmap(channel_map: np.ndarray, title: str, theme: str | None = None) -> go.Figure:
    """Draw one feature map flat, its values on hover: the 2D companion of :func:`activation_surface`.

    Raises:
        ValueError: ``channel_map`` is not 2-D.
    """
    channel_map = _as_channel_map(channel_map)
    figure = go.Figure(
        go.Heatmap(
            z=channel_map,
            colorscale=ACTIVATION_SCALE,
            colorbar=_colorbar("activation"),
            hovertemplate="row %{y}, column %{x}<br>activation %{z:.3f}<extra></extra>",
        )
    )
    return _flat_map(figure, title, theme)


def layer_plane(array: np.ndarray, channel: int | None = None) -> np.ndarray:
    """Return the 2-D map a stacked view shows for one layer.

    (h, w, c): the chosen channel, or the mean over channels; (h, w): itself;
    (n,): a strip of one row. Values are scaled to [0, 1] within the layer so
    layers with very different ranges share one colour bar.
    """
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3:
        plane = array[:, :, channel] if channel is not None and 0 <= channel < array.shape[2] else array.mean(axis=2)
    elif array.ndim == 2:
        plane = array
    elif array.ndim == 1:
        plane = array[np.newaxis, :]
    else:
        raise ValueError(f"a layer must be 1-, 2- or 3-D, not shape {array.shape}")
    low, high = float(np.nanmin(plane)), float(np.nanmax(plane))
    return (plane - low) / (high - low) if high > low else np.zeros_like(plane)


def stack_aspect(floors: int) -> dict:
    """Return the stacked view's scene aspect ratio for ``floors`` layers: a fixed height, narrower floors
    when there are many, so that from :data:`STACK_EYE` no floor covers the next."""
    side = STACK_SIDE * min(1.0, 6 / max(floors - 1, 1))
    return dict(x=side, y=side, z=STACK_HEIGHT)


def stacked_layers(
    layers: list[tuple[str, np.ndarray]], theme: str | None = None, channel: int | None = None
) -> go.Figure:
    """Stack every layer of one digit as a plane, input at the bottom, output on top.

    Args:
        layers: (name, activation) in network order; activations (h, w, c), (h, w) or (n,).
        theme: "light" or "dark".
        channel: show this channel of layers that have it instead of the channel mean.

    Returns:
        One surface trace per layer (trace i at height z=i) and a text trace with the labels.

    Raises:
        ValueError: no layers, or a layer of unsupported shape.
    """
    if not layers:
        raise ValueError("stacked_layers needs at least one layer")
    traces = []
    labels = []
    for level, (name, array) in enumerate(layers):
        plane = layer_plane(array, channel)
        rows, cols = plane.shape
        if rows == 1:
            # A dense layer: a band across the middle of the floor (doubled so the surface has two
            # rows), deep enough to read from the default camera, not a hairline.
            plane = np.vstack([plane, plane])
            y = np.array(DENSE_BAND, dtype=np.float32)
        else:
            y = np.linspace(0, 1, rows, dtype=np.float32)
        x = np.linspace(0, 1, cols, dtype=np.float32)
        shape = "x".join(str(size) for size in np.shape(array))
        traces.append(
            go.Surface(
                x=x,
                y=y,
                z=np.full(plane.shape, level, dtype=np.float32),
                surfacecolor=plane.astype(np.float32),
                cmin=0,
                cmax=1,
                colorscale=ACTIVATION_SCALE,
                showscale=level == 0,
                colorbar=dict(title=dict(text="activation<br>(0 = layer min,<br>1 = layer max)", side="right"),
                              thickness=12),
                name=name,
                hovertemplate=f"{name} ({shape})<br>relative activation %{{surfacecolor:.2f}}<extra></extra>",
            )
        )
        labels.append(f"{name}<br>{shape}")
    levels = np.arange(len(layers), dtype=np.float32)
    traces.append(
        go.Scatter3d(
            x=np.full(len(layers), 1.02, dtype=np.float32),
            y=np.full(len(layers), 0.5, dtype=np.float32),
            z=levels,
            mode="text",
            text=labels,
            textposition="middle right",
            hoverinfo="skip",
            showlegend=False,
        )
    )
    figure = go.Figure(traces)
    figure.update_layout(
        title=dict(text="All layers stacked (input at the bottom)", font=dict(size=15)),
        scene=dict(
            xaxis=dict(visible=False),
            yaxis=dict(visible=False, autorange="reversed"),
            zaxis=dict(visible=False),
            aspectratio=stack_aspect(len(layers)),
            camera=dict(eye=STACK_EYE, center=dict(x=0.1, y=0, z=0), projection=dict(type="orthographic")),
        ),
        uirevision="stack",
        showlegend=False,
    )
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=0, r=0, t=TITLE_TOP, b=0))
    return figure


def input_digit(image: np.ndarray, title: str, theme: str | None = None) -> go.Figure:
    """Show a 28x28 digit as grey pixels (0 black, 255 white) with its pixel values on hover."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"image must be (h, w), not shape {image.shape}")
    figure = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=DIGIT_SCALE,
            zmin=0,
            zmax=255,
            colorbar=dict(title=dict(text="pixel", side="right"), thickness=10),
            hovertemplate="row %{y}, column %{x}<br>pixel %{z:.0f}<extra></extra>",
        )
    )
    return _flat_map(figure, title, theme)


def saliency_overlay(image: np.ndarray, saliency: np.ndarray, theme: str | None = None) -> go.Figure:
    """Lay the saliency map (how much each pixel sways the prediction) over the digit.

    Args:
        image: (28, 28) pixels 0-255.
        saliency: (28, 28) in [0, 1].
        theme: "light" or "dark".

    Returns:
        Trace 0 the grey digit, trace 1 the saliency with a see-through colour scale.

    Raises:
        ValueError: the two shapes differ or are not 2-D.
    """
    image = np.asarray(image, dtype=np.float32)
    saliency = np.asarray(saliency, dtype=np.float32)
    if image.ndim != 2 or image.shape != saliency.shape:
        raise ValueError(f"image {image.shape} and saliency {saliency.shape} must be equal 2-D shapes")
    figure = go.Figure(
        [
            go.Heatmap(z=image, colorscale=DIGIT_SCALE, zmin=0, zmax=255, showscale=False, hoverinfo="skip",
                       name="digit"),
            go.Heatmap(
                z=saliency,
                colorscale=SALIENCY_OVERLAY_SCALE,
                zmin=0,
                zmax=1,
                name="saliency",
                colorbar=dict(title=dict(text="saliency", side="right"), thickness=10),
                hovertemplate="row %{y}, column %{x}<br>saliency %{z:.2f}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(title=dict(text="Saliency: pixels that sway the answer", font=dict(size=15)),
                         xaxis=dict(title=dict(text="column")), yaxis=dict(title=dict(text="row")))
    image_axes(figure)
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=40, r=10, t=TITLE_TOP, b=40))
    return figure


def probability_bars(
    probabilities: np.ndarray, true_label: int | None = None, theme: str | None = None, names=None,
    title: str | None = None,
) -> go.Figure:
    """Bar chart of the ten class probabilities; the predicted class is labelled, the true one green.

    The one probability chart of the app (Activations, Draw and Metrics pages).

    Args:
        probabilities: (10,) softmax output.
        true_label: the digit's label, if known.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
        title: what the chart is of, put before the verdict (default "Class probabilities").

    Raises:
        ValueError: not a 1-D array.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 1:
        raise ValueError(f"probabilities must be 1-D, not shape {probabilities.shape}")
    parts = probability_parts(probabilities, true_label, names, title)
    names = parts["names"]
    colors = parts["colors"]
    figure = go.Figure(
        go.Bar(
            x=np.arange(len(probabilities)),
            y=probabilities,
            marker_color=colors,
            text=parts["text"],
            textposition="outside",
            hovertext=names,
            hovertemplate="%{hovertext}: %{y:.1%}<extra></extra>",
        )
    )
    digits = names == [str(k) for k in range(len(names))]
    figure.update_layout(
        title=dict(text=parts["title"], font=dict(size=15)),
        xaxis=dict(title=dict(text="digit class" if digits else "class"), tickmode="array",
                   tickvals=list(range(len(names))), ticktext=names),
        yaxis=dict(title=dict(text="probability"), range=[0, 1.15], tickformat=".0%"),
    )
    apply_theme(figure, theme)
    return figure


def probability_parts(probabilities: np.ndarray, true_label: int | None = None, names=None,
                      title: str | None = None) -> dict:
    """Return what :func:`probability_bars` draws besides the bars' heights, for one set of probabilities.

    Returns:
        ``{"names", "colors", "text", "title", "predicted"}``: class names, bar colours (predicted
        class green when right, red when wrong, the true class green), bar labels, the title with
        its verdict, and the predicted class. The Activations page sends these per epoch.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    names = [str(k) for k in range(len(probabilities))] if names is None else list(names)
    predicted = int(np.argmax(probabilities))
    colors = [BAR_COLOR] * len(probabilities)
    if true_label is not None and 0 <= true_label < len(colors):
        colors[predicted] = TRUE_COLOR if predicted == true_label else WRONG_COLOR
        if predicted != true_label:
            colors[true_label] = TRUE_COLOR
    else:
        colors[predicted] = CLASS_COLORS[predicted % len(CLASS_COLORS)]
    verdict = f"predicted {names[predicted]}"
    if true_label is not None and 0 <= true_label < len(names):
        verdict += f", true {names[true_label]}" + (" ✓" if predicted == true_label else " ✗")
    return {"names": names, "colors": colors, "text": [f"{p:.0%}" if p >= 0.01 else "" for p in probabilities],
            "title": f"{title or 'Class probabilities'} ({verdict})", "predicted": predicted}


def dense_bars(values: np.ndarray, title: str, theme: str | None = None) -> go.Figure:
    """Bar chart of a dense layer's outputs, one bar per unit."""
    values = np.asarray(values, dtype=np.float32).ravel()
    figure = go.Figure(
        go.Bar(x=np.arange(len(values)), y=values, marker_color=BAR_COLOR,
               hovertemplate="unit %{x}: %{y:.3f}<extra></extra>")
    )
    figure.update_layout(
        title=dict(text=title, font=dict(size=15)),
        xaxis=dict(title=dict(text="unit")),
        yaxis=dict(title=dict(text="activation")),
        bargap=0.1,
    )
    apply_theme(figure, theme)
    return figure


def typed_array(array: np.ndarray) -> dict:
    """Return ``array`` as Plotly.js's typed-array spec (float32, base64), for figures patched in the browser."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    return {"dtype": "f4", "bdata": base64.b64encode(array.tobytes()).decode("ascii"),
            "shape": ",".join(str(size) for size in array.shape)}


def _as_channel_map(channel_map: np.ndarray) -> np.ndarray:
    """Return ``channel_map`` as float32 (h, w); raise ValueError for any other rank."""
    channel_map = np.asarray(channel_map, dtype=np.float32)
    if channel_map.ndim != 2:
        raise ValueError(f"channel_map must be (h, w), not shape {channel_map.shape}")
    return channel_map


def _colorbar(value: str) -> dict:
    """The colour bar of an activation view, titled with what its colours are."""
    return dict(title=dict(text=value, side="right"), thickness=12)


def _flat_map(figure: go.Figure, title: str, theme: str | None) -> go.Figure:
    """Lay out a one-heatmap figure of an image-like map: titled, row and column axes, square pixels; return it."""
    figure.update_layout(title=dict(text=title, font=dict(size=15)),
                         xaxis=dict(title=dict(text="column")), yaxis=dict(title=dict(text="row")))
    image_axes(figure)
    apply_theme(figure, theme)
    figure.update_layout(margin=dict(l=40, r=10, t=TITLE_TOP, b=40))
    return figure
