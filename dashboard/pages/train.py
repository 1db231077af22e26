"""Train page (URL ``/train``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/train.py``.

The Train button is a Dash background callback (Diskcache, or Celery with REDIS_URL) that starts and follows a job.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State

from dashboard.pages.logic import train as logic
from dashboard.training.form import BLOCK_FIELDS
from dashboard.ui.drawn_page import sync_drawn_theme

dash.register_page(__name__, path="/train", name="Train", order=7, title="Train · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

FORM_STATES = [
    State(logic.TRAIN_EPOCHS, "value"), State(logic.TRAIN_BATCH, "value"), State(logic.TRAIN_LEARNING_RATE, "value"),
    State(logic.TRAIN_SEED, "value"), State(logic.TRAIN_BLOCKS, "value"),
    *[State(logic.block_id(field, ALL), "value") for field in BLOCK_FIELDS],
    State(logic.TRAIN_DENSE, "value"), State(logic.TRAIN_DROPOUT, "value"), State(logic.TRAIN_AUGMENT, "value"),
]
FORM_INPUTS = [Input(state.component_id, state.component_property) for state in FORM_STATES]

# The layout shows the default form's blocks and preview: these answer changes only.
dash.callback(Output({"type": logic.TRAIN_BLOCK_ROW, "index": ALL}, "style"), Input(logic.TRAIN_BLOCKS, "value"),
              prevent_initial_call=True)(logic.show_blocks)

dash.callback(Output(logic.TRAIN_PREVIEW, "children"), *FORM_INPUTS, prevent_initial_call=True)(logic.preview)

dash.callback(
    Output(logic.TRAIN_RESULT, "data"),
    Input(logic.TRAIN_BUTTON, "n_clicks"),
    # The tab id is part of the background job's cache key: two tabs pressing Train with the
    # same form would otherwise share one job entry, and only one of them would receive its
    # progress and result. Each tab gets its own Dash job; jobs.start keeps training single.
    State(logic.TRAIN_TAB, "data"), State(logic.TRAIN_DATASET, "value"), State(logic.TRAIN_LIMIT, "value"),
    State(logic.TRAIN_RUN_NAME, "value"), *FORM_STATES,
    background=True,
    progress=Output(logic.TRAIN_STARTED, "data"),
    running=[(Output(logic.TRAIN_BUTTON, "disabled"), True, False),
             (Output(logic.TRAIN_CANCEL, "disabled"), False, True)],
    cancel=[Input(logic.TRAIN_CANCEL, "n_clicks")],
    prevent_initial_call=True,
    on_error=logic.train_failed,
)(logic.train)

dash.callback(
    Output(logic.TRAIN_INTERVAL, "disabled", allow_duplicate=True),
    Output(logic.TRAIN_STARTED, "data", allow_duplicate=True),
    Output(logic.TRAIN_FINAL, "data", allow_duplicate=True),
    Output(logic.TRAIN_NOTE, "children", allow_duplicate=True),
    Output(logic.TRAIN_MESSAGE, "children", allow_duplicate=True),
    Input(logic.TRAIN_BUTTON, "n_clicks"),
    prevent_initial_call=True,
)(logic.start_polling)

dash.callback(
    Output(logic.TRAIN_MESSAGE, "children"),
    Output(logic.TRAIN_FINAL, "data"),
    Output(logic.TRAIN_INTERVAL, "disabled", allow_duplicate=True),
    Input(logic.TRAIN_RESULT, "data"),
    prevent_initial_call=True,
)(logic.finished)

dash.callback(
    Output(logic.TRAIN_NOTE, "children"),
    Input(logic.TRAIN_CANCEL, "n_clicks"),
    State(logic.TRAIN_STARTED, "data"),
    prevent_initial_call=True,
)(logic.cancel)


@dash.callback(
    Output(logic.TRAIN_STATUS, "children"),
    Output(logic.TRAIN_CURVES, "figure"),
    Output(logic.TRAIN_CURVES, "style"),
    Output(logic.TRAIN_INTERVAL, "disabled"),
    Output(logic.TRAIN_NOTE, "children", allow_duplicate=True),
    Input(logic.TRAIN_INTERVAL, "n_intervals"),
    Input(logic.TRAIN_THEME, "data"),
    State(logic.TRAIN_STARTED, "data"),
    State(logic.TRAIN_FINAL, "data"),
    prevent_initial_call=True,
)
def follow(_ticks, theme, started, final):
    """Show the followed job's progress from the store (see :func:`logic.follow`)."""
    return logic.follow(dash.ctx.triggered_id, theme, started, final)


dash.callback(
    Output(logic.TRAIN_RUN_NAME, "invalid"),
    Output(logic.TRAIN_RUN_NAME_FEEDBACK, "children"),
    Input(logic.TRAIN_RUN_NAME, "value"),
    prevent_initial_call=True,
)(logic.check_run_name)

sync_drawn_theme(logic.TRAIN_THEME)
