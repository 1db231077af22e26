"""Runs page (placeholder until the dashboard issue fills it)."""

import dash
from dash import html

dash.register_page(__name__, path="/", name="Runs", order=0)


def layout(**kwargs):
    return html.Div("Runs")
