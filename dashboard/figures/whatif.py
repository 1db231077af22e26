"""Figures of the Draw page's conv_1 what-if: the feature maps and the pooled maps under a new setting.

Both are drawn as one PNG image each (:func:`feature_map_image`): every stroke sends them again,
and a heatmap of up to 64 maps was a few hundred KB for the browser to parse and draw.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.activations import feature_map_image
from dashboard.figures.style import apply_theme


def _size(values: np.ndarray) -> str:
    height, width, channels = values.shape
    return f"{channels} map{'s' if channels > 1 else ''} of {height}x{width}"


def conv_maps(conv: np.ndarray, theme: str | None = None) -> go.Figure:
    """Return the mosaic of conv_1's (h, w, filters) what-if maps, titled with their size."""
    return feature_map_image(conv, f"conv_1 what-if: {_size(conv)}", theme)


def pool_maps(pool: np.ndarray | None, theme: str | None = None) -> go.Figure:
    """Return the mosaic of pool_1's maps, or an empty figure saying why there are none (a map under 2x2)."""
    if pool is None:
        figure = go.Figure()
        figure.update_layout(title="pool_1: conv_1's map is too small for 2x2 pooling",
                             xaxis={"visible": False}, yaxis={"visible": False})
        return apply_theme(figure, theme)
    return feature_map_image(pool, f"pool_1 (2x2 max): {_size(pool)}", theme)
