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


# Plotly's toolbar (modebar) sits in a graph's top right corner, about 30 px high; a title
# placed below it and a top margin that holds both keep the toolbar off the title.
TOOLBAR_HEIGHT = 30
TITLE_TOP = TOOLBAR_HEIGHT + 32


def apply_theme(figure: go.Figure, theme: str | None, toolbar: bool = True) -> go.Figure:
    """Set the theme's template and a transparent background so the figure sits on the page's card.

    With ``toolbar`` (the graph shows Plotly's toolbar) a titled figure gets its title below it
    and a top margin of :data:`TITLE_TOP` (builders that set their own margin keep
    ``t=TITLE_TOP`` for titled figures).
    """
    titled = toolbar and bool(figure.layout.title.text)
    # The slim templates are valid Plotly objects already: copy one in without validating it again,
    # as Plotly does for its default template (validating took about 5 ms of every figure).
    layout = figure.layout
    layout._validate = False
    try:
        layout.template = _TEMPLATES[template(theme)]
    finally:
        layout._validate = figure._validate
    figure.update_layout(
        paper_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=50, r=20, t=TITLE_TOP if titled else 50, b=45),
    )
    if titled:
        figure.update_layout(title=dict(x=0, xanchor="left", xref="paper", y=1, yanchor="top", yref="container",
                                        pad=dict(t=TOOLBAR_HEIGHT)))
    return figure
