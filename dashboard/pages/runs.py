"""Runs page (URL ``/?run=A&compare=B``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/runs.py``.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State

from dashboard.pages.logic import runs as logic
from dashboard.ui import ids
from dashboard.ui.page import sync_theme, sync_url

dash.register_page(__name__, path="/", name="Runs", order=0, title="Runs · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module


@dash.callback(
    Output(logic.RUNS_DELETE_MODAL, "is_open"),
    Output(logic.RUNS_DELETE_TARGET, "data"),
    Output(logic.RUNS_DELETE_TEXT, "children"),
    Input({"type": logic.RUNS_DELETE, "run": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def ask_delete(clicks: list) -> tuple:
    """Open the confirmation dialog for the clicked row's run."""
    return logic.ask_delete(dash.ctx.triggered_id, clicks)


@dash.callback(
    Output(logic.RUNS_DELETE_MODAL, "is_open", allow_duplicate=True),
    Output(logic.RUNS_TABLE, "children"),
    Output(logic.RUNS_SELECT, "options"),
    Output(logic.RUNS_COMPARE_SELECT, "options"),
    Output(logic.RUNS_DELETE_MESSAGE, "children"),
    Input(logic.RUNS_DELETE_CONFIRM, "n_clicks"),
    Input(logic.RUNS_DELETE_DISMISS, "n_clicks"),
    State(logic.RUNS_DELETE_TARGET, "data"),
    prevent_initial_call=True,
)
def delete_run(confirm: int | None, _dismiss: int | None, run_id) -> tuple:
    """Delete the run the dialog asked about, or close the dialog (Keep it)."""
    return logic.delete_run(dash.ctx.triggered_id, confirm, run_id)


dash.callback(
    Output(logic.RUNS_SELECT, "value"),
    Input(logic.RUNS_URL, "data"),
    State(ids.ACTIVE_RUN, "data"),
    State(logic.RUNS_SELECT, "options"),
)(logic.initial_run)

dash.callback(
    Output(logic.RUNS_QUERY, "data"),
    Output(logic.RUNS_ACTIVE_NOTE, "children"),
    Output(logic.RUNS_COMPARE, "children"),
    Input(logic.RUNS_SELECT, "value"),
    Input(logic.RUNS_COMPARE_SELECT, "value"),
    Input(logic.RUNS_THEME, "data"),
    prevent_initial_call=True,
)(logic.show_runs)

dash.clientside_callback(
    # The active run's row is highlighted in the table, in the browser: no round trip.
    """function(active) {
        var outputs = window.dash_clientside.callback_context.outputs_list || [];
        return outputs.map(function (output) { return output.id.run === active ? "table-active fw-semibold" : ""; });
    }""",
    Output({"type": logic.RUNS_ROW, "run": ALL}, "className"),
    Input(logic.RUNS_SELECT, "value"),
)

sync_url(logic.RUNS_QUERY)

sync_theme(logic.RUNS_THEME)
