"""Figures of attribution maps: a digit with a heatmap laid over it, several side by side, as small PNGs.

Every builder takes numpy arrays and returns a ``go.Figure``; none reads the store. Each panel is
one ``go.Image`` of a PNG (a few hundred bytes for a 28x28 map) rather than two heatmaps of floats:
the card showing them may be redrawn on every stroke of the Draw page.
"""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.digits import png_uri
from dashboard.figures.style import apply_theme

ZOOM = 4  # PNG pixels per digit pixel: browsers smooth an image they enlarge, blurring 28x28 maps
MAX_ALPHA = 0.85  # the hottest pixel still lets the digit show through
# Red to orange to yellow, see-through where cold: Plotly's "Hot" without its white top, which would read
# as the digit's ink.
OVERLAY_SCALE = [[0.0, "rgb(190,0,0)"], [0.5, "rgb(255,110,0)"], [1.0, "rgb(255,235,0)"]]
_COLORS = np.asarray(plotly.colors.sample_colorscale(OVERLAY_SCALE, np.linspace(0, 1, 256).tolist(),
                                                     colortype="tuple"), dtype=np.float32)


def overlay_rgb(image: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Return the digit in grey with ``heatmap`` (0-1) laid over it in :data:`OVERLAY_SCALE`, (h, w, 3) uint8.

    Raises:
        ValueError: the shapes differ or are not 2-D.
    """
    image = np.asarray(image, dtype=np.float32)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if image.ndim != 2 or image.shape != heatmap.shape:
        raise ValueError(f"image {image.shape} and heatmap {heatmap.shape} must be equal 2-D shapes")
    heat = np.clip(np.nan_to_num(heatmap), 0, 1)
    grey = np.clip(image, 0, 255)[..., None] / 255 * np.float32(0.75)  # dimmed: the heat must stand out
    color = _COLORS[np.rint(heat * 255).astype(int)]
    alpha = (heat * MAX_ALPHA)[..., None]
    return np.rint((grey * (1 - alpha) + color * alpha) * 255).astype(np.uint8)


def attribution_panels(image: np.ndarray, panels: list[tuple[str, np.ndarray]], theme: str | None = None,
                       title: str | None = None) -> go.Figure:
    """Return one row of ``panels`` ((caption, (28, 28) heatmap in [0, 1])), each laid over the digit.

    Returns:
        Trace k is panel k, a ``go.Image`` of a PNG; the captions are the subplot titles.

    Raises:
        ValueError: no panels, or a heatmap of another shape than the image.
    """
    if not panels:
        raise ValueError("no attribution maps to draw")
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[caption for caption, _ in panels],
                           horizontal_spacing=0.03)
    for column, (_, heatmap) in enumerate(panels, start=1):
        rgb = overlay_rgb(image, heatmap)
        big = np.repeat(np.repeat(rgb, ZOOM, axis=0), ZOOM, axis=1)
        figure.add_trace(go.Image(source=png_uri(big), dx=1 / ZOOM, dy=1 / ZOOM, x0=-0.5 + 0.5 / ZOOM,
                                  y0=-0.5 + 0.5 / ZOOM, hoverinfo="skip"), row=1, col=column)
    figure.update_xaxes(visible=False, showgrid=False, zeroline=False, constrain="domain")
    figure.update_yaxes(visible=False, showgrid=False, zeroline=False, autorange="reversed", constrain="domain")
    for column in range(1, len(panels) + 1):
        figure.update_yaxes(scaleanchor=f"x{column if column > 1 else ''}", row=1, col=column)
    figure.update_annotations(font=dict(size=13))
    if title:
        figure.update_layout(title=dict(text=title, font=dict(size=15)))
    apply_theme(figure, theme, toolbar=False)
    figure.update_layout(margin=dict(l=5, r=5, t=60 if title else 30, b=5))
    return figure
