"""The page for unknown paths: a friendly message and the way back."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

dash.register_page(__name__, path="/404", name="Not found", nav=False)


def layout(**_kwargs):
    """Return the not-found message (query parameters are ignored)."""
    return dbc.Alert(
        [html.H4("There is no such page"), html.P(["Go back to the ", dcc.Link("list of runs", href="/"), "."])],
        color="warning",
        className="mt-3",
    )
