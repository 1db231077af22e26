"""Runs page (URL ``/?run=A&compare=B``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/runs.py``. A URL that names a run is drawn in the layout
(the comparison too); choosing a run or a second one is one callback, the theme one that patches.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State

from dashboard.pages.logic import runs as logic
from dashboard.ui import ids
from dashboard.ui.drawn_page import swap_templates, sync_drawn_theme
from dashboard.ui.page import sync_url

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


@dash.callback(
    Output(logic.RUNS_REPORT_DOWNLOAD, "data"),
    Output(logic.RUNS_REPORT_MESSAGE, "children"),
    Input({"type": logic.RUNS_REPORT, "run": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def download_report(_clicks: list) -> tuple:
    """Send the clicked row's run as one offline HTML report."""
    clicked = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
    return logic.download_report(dash.ctx.triggered_id, clicked)


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
    State(logic.RUNS_THEME, "data"),
    prevent_initial_call=True,
)(logic.show_runs)

swap_templates(logic.RUNS_THEME, [logic.RUNS_COMPARE_CURVES, logic.RUNS_COMPARE_F1])  # the template alone differs

dash.callback(
    Output(logic.RUNS_COMPARE_CONFUSION, "figure"),
    Input(logic.RUNS_THEME, "data"),
    State(logic.RUNS_SELECT, "value"),
    State(logic.RUNS_COMPARE_SELECT, "value"),
    prevent_initial_call=True,
)(logic.retheme)

dash.clientside_callback(
    # In the browser, no round trip: the shown run becomes the app's active run (also when the
    # layout chose it, with no callback at load), and its row is highlighted in the table.
    """function(active, _table) {
        if (active) { window.dash_clientside.set_props("ACTIVE_RUN", {data: active}); }
        var outputs = window.dash_clientside.callback_context.outputs_list || [];
        return outputs.map(function (output) { return output.id.run === active ? "table-active fw-semibold" : ""; });
    }""".replace("ACTIVE_RUN", ids.ACTIVE_RUN),
    Output({"type": logic.RUNS_ROW, "run": ALL}, "className"),
    Input(logic.RUNS_SELECT, "value"),
    # An input nothing writes: without it the renderer skips this call at load, as it waits for
    # RUNS_SELECT from initial_run, which does not run when the layout chose the run.
    Input(logic.RUNS_TABLE, "id"),
)

sync_url(logic.RUNS_QUERY)

sync_drawn_theme(logic.RUNS_THEME)
