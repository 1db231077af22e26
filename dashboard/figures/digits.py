"""Digit thumbnails and galleries: many 28x28 digits in one figure.

Stable API for every page that shows a grid of digits (the Metrics gallery, the
Activations page's probe picker):

- :func:`digit_mosaic` draws ``n`` digits as ONE heatmap trace (curve 0), tiles laid
  out row by row, ``columns`` per row, each with a caption under it;
- :func:`clicked_tile` turns a ``clickData`` of that figure into the tile's index
  (0..n-1), or None for a click on a gap or caption.

The tiles are placed into one uint8 array (one byte per pixel in the figure's
JSON) instead of carrying per-pixel customdata, which would double the payload:
the tile follows from the clicked pixel's x and y, because the layout is fixed
(``PITCH_X`` by ``PITCH_Y`` pixels per tile, recorded in ``layout.meta`` too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

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


def mosaic_array(images: np.ndarray, columns: int, fill: int = 255) -> np.ndarray:
    """Lay out digits in a grid with gaps and caption bands.

    Args:
        images: (n, 28, 28) uint8 digits, n >= 1.
        columns: tiles per row (>= 1).
        fill: the value of the gaps and caption bands.

    Returns:
        A uint8 array of shape (rows * PITCH_Y, columns * PITCH_X - GAP).

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
    canvas = np.full((rows * PITCH_Y, columns * PITCH_X - GAP), fill, dtype=np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * PITCH_Y, (index % columns) * PITCH_X
        canvas[top:top + SIDE, left:left + SIDE] = np.clip(image, 0, 255).astype(np.uint8)
    return canvas


def digit_mosaic(
    images: np.ndarray,
    captions: Sequence[str],
    columns: int,
    theme: str | None,
    title: str | None = None,
) -> go.Figure:
    """Return a figure with the digits in a grid, one heatmap trace, a caption under each tile.

    Args:
        images: (n, 28, 28) uint8 digits (0 background, 255 ink), n >= 1.
        captions: n short captions (e.g. ``"3→5 87%"``); an empty string shows none.
        columns: tiles per row; fewer digits than columns give one shorter row.
        theme: "light" or "dark".
        title: optional figure title.

    Returns:
        The figure; ``layout.meta`` holds ``{"columns", "count", "pitch_x", "pitch_y"}``
        for :func:`clicked_tile`.

    Raises:
        ValueError: bad image shape, no images, columns < 1, or len(captions) != n.
    """
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    fill = GAP_VALUE["dark" if theme == "dark" else "light"]
    canvas = mosaic_array(images, columns, fill)
    columns = min(columns, len(images))
    height_px, width_px = canvas.shape
    figure = go.Figure(
        go.Heatmap(
            z=canvas,
            colorscale="gray",
            zmin=0,
            zmax=255,
            showscale=False,
            hoverinfo="none",  # "none" keeps click events; the caption says what a tile is
        )
    )
    annotations = [
        dict(
            x=(index % columns) * PITCH_X + SIDE / 2 - 0.5,
            y=(index // columns) * PITCH_Y + SIDE + CAPTION / 2 - 0.5,
            text=caption,
            showarrow=False,
            font=dict(size=10),
            xref="x",
            yref="y",
        )
        for index, caption in enumerate(captions)
        if caption
    ]
    figure.update_layout(
        title=title,
        annotations=annotations,
        meta=dict(columns=columns, count=len(images), pitch_x=PITCH_X, pitch_y=PITCH_Y),
        xaxis=dict(visible=False, range=[-0.5, width_px - 0.5], constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"),
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


def clicked_tile(click_data: dict[str, Any] | None, columns: int, count: int) -> int | None:
    """Return the index of the tile a click on a :func:`digit_mosaic` figure hit.

    Args:
        click_data: the dcc.Graph ``clickData`` (or None).
        columns: the figure's columns (``layout.meta["columns"]``).
        count: how many tiles it shows.

    Returns:
        0..count-1 (a click on a caption counts for its tile), or None when the click
        missed every tile (the gaps between columns, past the last tile, no data).
    """
    try:
        point = click_data["points"][0]
        x, y = int(round(float(point["x"]))), int(round(float(point["y"])))
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    column, row = divmod(x, PITCH_X), divmod(y, PITCH_Y)
    if x < 0 or y < 0 or column[1] >= SIDE or column[0] >= columns:
        return None
    index = row[0] * columns + column[0]
    return index if index < count else None
