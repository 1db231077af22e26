"""Shared figure styling: templates for the light and dark themes, colour scales."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

ACTIVATION_SCALE = "Viridis"
SALIENCY_SCALE = "Hot"
DIVERGING_SCALE = "RdBu"
DIGIT_SCALE = "gray"
CLASS_COLORS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]


def template(theme: str | None) -> str:
    """Return the Plotly template name for a theme ("dark" or anything else for light)."""
    return "plotly_dark" if theme == "dark" else "plotly_white"


def _slim(name: str) -> go.layout.Template:
    # The layout half of Plotly's template only: the per-trace-type half is most of
    # its size and time (about 4 KB and several ms per figure) and sets nothing
    # these figures rely on.
    return go.layout.Template(layout=pio.templates[name].layout)


_TEMPLATES = {"plotly_dark": _slim("plotly_dark"), "plotly_white": _slim("plotly_white")}


def apply_theme(figure: go.Figure, theme: str | None) -> go.Figure:
    """Set the theme's template and a transparent background so the figure sits on the page's card."""
    figure.update_layout(
        template=_TEMPLATES[template(theme)],
        paper_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=50, r=20, t=50, b=45),
    )
    return figure
