"""Small layout pieces used by several pages: error cards, onboarding, explanations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from artifacts import ArtifactError, Phase, Status
from artifacts.format import DIGIT_CLASS_NAMES, is_digit_names

TRAIN_COMMAND = "python -m pipeline train --dataset mnist-sample"

# One colour per run or job status, on every page; a job not started yet (or gone) is grey.
STATUS_COLORS = {Status.COMPLETE: "success", Status.RUNNING: "primary", Status.FAILED: "danger",
                 Status.CANCELLED: "warning", Phase.STARTING: "secondary"}
UNREADABLE_COLOR = "danger"  # a run whose manifest cannot be read: a state, not a status


def status_badge(status: str | None, label: str | None = None, class_name: str | None = None) -> dbc.Badge:
    """Return the badge of a run or job ``status`` in its one colour (grey when unknown).

    Args:
        status: a :class:`artifacts.Status` (or a job's status); None for an unreadable run.
        label: the text shown, when not the status itself.
        class_name: extra CSS classes.
    """
    color = UNREADABLE_COLOR if status is None else STATUS_COLORS.get(status, "secondary")
    return dbc.Badge(label or str(status), color=color, className=class_name)


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
        error: the user-facing message from :func:`dashboard.store_access.resolve_run`.
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


def run_class_names(run: Any) -> tuple[str, ...]:
    """Return the class names of a run (an :class:`artifacts.Run`, or None): the digits when unreadable."""
    try:
        return run.info().class_names if run is not None else DIGIT_CLASS_NAMES
    except (ArtifactError, OSError, ValueError):
        return DIGIT_CLASS_NAMES


def class_word(names: Sequence[str] | None) -> str:
    """Return what a page calls one class: "digit" for MNIST, "class" otherwise."""
    return "digit" if names is None or is_digit_names(names) else "class"


def class_filter(component_id: str, value: Any, names: Sequence[str] | None = None) -> list:
    """Return the labelled all / 0-9 class filter ("Digit class" for MNIST's digits, else "Class").

    Args: as :func:`digit_filter`.
    """
    label = "Digit class" if class_word(names) == "digit" else "Class"
    return [dbc.Label(label, className="me-2"), digit_filter(component_id, value, names)]


def class_filter_options(names: Sequence[str] | None = None) -> list[dict]:
    """Return the options of the all / 0-9 class filter, labelled with the run's class names."""
    names = tuple(names or DIGIT_CLASS_NAMES)
    return [{"label": "all", "value": "all"}] + [{"label": names[k], "value": k} for k in range(10)]


def digit_filter(component_id: str, value: Any, names: Sequence[str] | None = None) -> dbc.RadioItems:
    """Return the all / 0-9 class filter as one joined button group.

    Args:
        component_id: the RadioItems' id.
        value: "all" or a class 0-9.
        names: the run's class names, shown on the buttons (the digits when None).
    """
    return dbc.RadioItems(
        id=component_id,
        options=class_filter_options(names),
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


def webgl_switch(component_id: str) -> dbc.Switch:
    """Return the switch under a 3D view that swaps its image (drawn on the server, the default) for the
    interactive WebGL scene: rotation, zoom and hover values, at 1.5-2 s of drawing in a browser without a GPU."""
    return dbc.Switch(id=component_id, value=False, className="small mt-1",
                      label="Interactive: rotate, zoom and hover for values (slower to draw)")
