"""Digit thumbnails and galleries: many 28x28 digits in one figure, the app's one digit grid.

Stable API for every page that shows a grid of digits (the Metrics gallery, the
Activations page's probe picker):

- :func:`digit_mosaic` draws ``n`` digits as ONE trace (curve 0), tiles laid out row
  by row, ``columns`` per row, each with a caption under it (when any is given), the
  ``selected`` tile framed (``layout.shapes[0]``). By default the trace is a uint8
  heatmap; ``image=True`` draws the same grid as a grayscale PNG (``go.Image``), a
  tenth of the bytes and no per-pixel work in the browser, for grids of hundreds;
- :func:`clicked_tile` turns a ``clickData`` of that figure into the tile's index
  (0..n-1), or None for a click on a gap or caption.

No per-pixel customdata (it would double the payload): the tile follows from the
clicked pixel's x and y, because the layout is fixed (``PITCH_X`` by ``pitch_y``
pixels per tile, recorded in ``layout.meta`` too).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from dashboard.figures.style import apply_theme

SIDE = 28  # an MNIST digit is 28x28 pixels
GAP = 3  # pixels between tiles
CAPTION = 9  # pixel rows under each tile for its caption
PITCH_X = SIDE + GAP
PITCH_Y = SIDE + CAPTION
# The gaps take the page's colour so the tiles stand apart (digits are white on black). Not 255
# for white: runs of 0xFF encode to "////" in base64, and Plotly's JSON escapes every "/" as \u002f.
GAP_VALUE = {"light": 250, "dark": 34}
PIXELS_PER_TILE = 3.2  # screen pixels per digit pixel at the figure's natural size
SELECTED_COLOR = "#e83e8c"


def png_uri(array: np.ndarray) -> str:
    """Return a uint8 array as a PNG data URI: (h, w) grayscale, (h, w, 3) RGB or (h, w, 4) RGBA.

    Raises:
        ValueError: another shape.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"a PNG needs (h, w), (h, w, 3) or (h, w, 4) uint8, not shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mosaic_array(images: np.ndarray, columns: int, fill: int = 255, pitch_y: int = PITCH_Y) -> np.ndarray:
    """Lay out digits in a grid with gaps and caption bands.

    Args:
        images: (n, 28, 28) uint8 digits, n >= 1.
        columns: tiles per row (>= 1).
        fill: the value of the gaps and caption bands.
        pitch_y: pixel rows per row of tiles (``PITCH_Y`` with a caption band, ``PITCH_X`` without).

    Returns:
        A uint8 array of shape (rows * pitch_y, columns * PITCH_X - GAP).

    Raises:
        ValueError: images not (n, 28, 28) with n >= 1, or columns < 1.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or len(images) == 0:
        raise ValueError(f"images must be (n, {SIDE}, {SIDE}) with n >= 1, not {images.shape}")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    canvas = np.full((rows * pitch_y, columns * PITCH_X - GAP), fill, dtype=np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * pitch_y, (index % columns) * PITCH_X
        canvas[top:top + SIDE, left:left + SIDE] = np.clip(image, 0, 255).astype(np.uint8)
    return canvas


def selected_shape(slot: int | None, columns: int, pitch_y: int = PITCH_Y) -> dict:
    """Return the frame around tile ``slot`` (invisible for None); Patch-able as ``layout.shapes[0]``."""
    if slot is None:
        return dict(type="rect", x0=0, x1=0, y0=0, y1=0, visible=False, line=dict(color=SELECTED_COLOR))
    top, left = (int(slot) // columns) * pitch_y, (int(slot) % columns) * PITCH_X
    return dict(type="rect", x0=left - 1, x1=left + SIDE, y0=top - 1, y1=top + SIDE, visible=True,
                line=dict(color=SELECTED_COLOR, width=3))


def digit_mosaic(
    images: np.ndarray,
    captions: Sequence[str] | None,
    columns: int,
    theme: str | None,
    title: str | None = None,
    selected: int | None = None,
    image: bool = False,
    hover: str | None = None,
) -> go.Figure:
    """Return a figure with the digits in a grid, one trace, a caption under each tile.

    Args:
        images: (n, 28, 28) uint8 digits (0 background, 255 ink), n >= 1.
        captions: n short captions (e.g. ``"3→5 87%"``); an empty string shows none; None
            leaves out the caption band (tiles ``PITCH_X`` apart both ways).
        columns: tiles per row; fewer digits than columns give one shorter row.
        theme: "light" or "dark".
        title: optional figure title.
        selected: the tile to frame (``layout.shapes[0]``, see :func:`selected_shape`).
        image: draw a grayscale PNG (``go.Image``) instead of a uint8 heatmap.
        hover: text shown on hover (none by default; clicks work either way).

    Returns:
        The figure; ``layout.meta`` holds ``{"columns", "count", "pitch_x", "pitch_y", "width"}``
        for :func:`clicked_tile`.

    Raises:
        ValueError: bad image shape, no images, columns < 1, or len(captions) != n.
    """
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    pitch_y = PITCH_Y if captions is not None else PITCH_X
    fill = GAP_VALUE["dark" if theme == "dark" else "light"]
    canvas = mosaic_array(images, columns, fill, pitch_y)
    columns = min(columns, len(images))
    height_px, width_px = canvas.shape
    # "none" keeps click events without a hover label; a template shows one.
    hover_options = dict(hovertemplate=f"{hover}<extra></extra>") if hover else dict(hoverinfo="none")
    if image:
        trace = go.Image(source=png_uri(canvas), **hover_options)
    else:
        trace = go.Heatmap(z=canvas, colorscale="gray", zmin=0, zmax=255, showscale=False, **hover_options)
    figure = go.Figure(trace)
    annotations = [
        dict(
            x=(index % columns) * PITCH_X + SIDE / 2 - 0.5,
            y=(index // columns) * pitch_y + SIDE + CAPTION / 2 - 0.5,
            text=caption,
            showarrow=False,
            font=dict(size=10),
            xref="x",
            yref="y",
        )
        for index, caption in enumerate(captions or [])
        if caption
    ]
    figure.update_layout(
        title=title,
        annotations=annotations,
        shapes=[selected_shape(selected, columns, pitch_y)],
        meta=dict(columns=columns, count=len(images), pitch_x=PITCH_X, pitch_y=pitch_y, width=width_px),
        xaxis=dict(visible=False, range=[-0.5, width_px - 0.5], constrain="domain"),
        yaxis=dict(visible=False, range=[height_px - 0.5, -0.5], scaleanchor="x", constrain="domain"),
        dragmode=False,
    )
    apply_theme(figure, theme, toolbar=False)  # galleries are shown without Plotly's toolbar
    top = 40 if title else 8
    figure.update_layout(
        margin=dict(l=8, r=8, t=top, b=8),
        height=int(height_px * PIXELS_PER_TILE) + top + 16,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def empty_grid(text: str, theme: str | None) -> go.Figure:
    """Return a short figure that says ``text`` in place of a grid with no digits."""
    figure = go.Figure()
    figure.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), height=80)
    apply_theme(figure, theme, toolbar=False)
    figure.update_layout(margin=dict(l=2, r=2, t=2, b=2), plot_bgcolor="rgba(0,0,0,0)")
    return figure


def clicked_tile(click_data: dict[str, Any] | None, columns: int, count: int, pitch_y: int = PITCH_Y) -> int | None:
    """Return the index of the tile a click on a :func:`digit_mosaic` figure hit.

    Args:
        click_data: the dcc.Graph ``clickData`` (or None).
        columns: the figure's columns (``layout.meta["columns"]``).
        count: how many tiles it shows.
        pitch_y: the figure's ``layout.meta["pitch_y"]`` (``PITCH_X`` for a grid without captions).

    Returns:
        0..count-1 (a click on a caption counts for its tile), or None when the click
        missed every tile (the gaps between columns, past the last tile, no data).
    """
    try:
        point = click_data["points"][0]
        x, y = int(round(float(point["x"]))), int(round(float(point["y"])))
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    column, row = divmod(x, PITCH_X), divmod(y, pitch_y)
    if x < 0 or y < 0 or column[1] >= SIDE or column[0] >= columns:
        return None
    index = row[0] * columns + column[0]
    return index if index < count else None
