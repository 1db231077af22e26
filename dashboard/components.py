"""Small layout pieces used by several pages: error cards, onboarding, explanations."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

TRAIN_COMMAND = "python -m pipeline train --dataset mnist-sample"


def error_card(message: str, title: str = "This view cannot be shown") -> dbc.Alert:
    """Return a red alert with a title and a plain-English message."""
    return dbc.Alert([html.H5(title, className="alert-heading"), html.P(message, className="mb-0")],
                     color="danger", className="error-card")


def notice(message: str, color: str = "info") -> dbc.Alert:
    """Return a one-line alert."""
    return dbc.Alert(message, color=color, className="py-2")


def run_unavailable(error: str, asked_for_a_run: bool) -> html.Div:
    """Return a page body for a run that cannot be shown: the error, plus how to train when no run was named.

    Args:
        error: the user-facing message from :func:`dashboard.runs.resolve_run`.
        asked_for_a_run: the URL named a run (then onboarding would be beside the point).
    """
    return html.Div([error_card(error), None if asked_for_a_run else onboarding()])


def onboarding() -> dbc.Card:
    """Return the panel shown when the store has no runs: how to train the first one."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.H4("No runs yet", className="card-title"),
                html.P("Train a network and every chart here fills in: the training curves, the metrics, "
                       "the filters and what each layer sees of a digit."),
                html.Ul(
                    [
                        html.Li(["Open the ", dcc.Link("Train page", href="/train"),
                                 " and press Train (about half a minute on two cores), or"]),
                        html.Li(["run ", html.Code(TRAIN_COMMAND), " in a terminal."]),
                    ]
                ),
            ]
        ),
        className="onboarding",
    )


def digit_filter(component_id: str, value: Any) -> dbc.RadioItems:
    """Return the all / 0-9 digit-class filter as one joined button group.

    Args:
        component_id: the RadioItems' id.
        value: "all" or a digit 0-9.
    """
    return dbc.RadioItems(
        id=component_id,
        options=[{"label": "all", "value": "all"}] + [{"label": str(k), "value": k} for k in range(10)],
        value=value, inline=True, className="btn-group digit-filter", inputClassName="btn-check",
        labelClassName="btn btn-outline-primary btn-sm", labelCheckedClassName="active",
    )


def explanation(title: str, body: str, open_: bool = False) -> html.Details:
    """Return a collapsible plain-English explanation a learner can open."""
    return html.Details(
        [html.Summary([html.I(className="bi bi-info-circle me-1"), title]), dcc.Markdown(body, className="mt-2")],
        open=open_,
        className="explanation small text-body-secondary mb-2",
    )
