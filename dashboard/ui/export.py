"""What a graph's toolbar offers for export.

Every graph's toolbar downloads its figure as PNG and SVG, named after the run and the view: the
buttons live in ``dashboard/assets/export.js``, which makes them Plotly's default for every graph of
the app (no page passes them). A small graph that hides the toolbar to keep out of the way can show
these two buttons alone, on hover, with :func:`export_only_config`.
"""

from __future__ import annotations

from typing import Any

EXPORT_BUTTONS = ("cnnvizPng", "cnnvizSvg")  # the names export.js gives its PNG and SVG buttons
# Plotly's own buttons that a 2D figure's toolbar can show (its camera saves "newplot.png": export.js's replace it).
PLOTLY_BUTTONS = ("zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d",
                  "toImage", "hoverClosestCartesian", "hoverCompareCartesian", "toggleSpikelines",
                  "sendChartToCloud")


def export_only_config(**extra: Any) -> dict[str, Any]:
    """Return a dcc.Graph config whose toolbar, shown on hover, holds the PNG and SVG downloads alone.

    Args:
        extra: more config keys (they win).
    """
    return {"displaylogo": False, "displayModeBar": "hover", "modeBarButtonsToRemove": list(PLOTLY_BUTTONS),
            **extra}
