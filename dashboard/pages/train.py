"""Train page (URL ``/train``): its Dash wiring.

Layout and logic: ``dashboard/pages/logic/train.py``.

The Train button is a Dash background callback (Diskcache, or Celery with REDIS_URL) that starts and follows a job.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State

from dashboard.pages.logic import train as logic
from dashboard.pages.logic.train import (
    TRAIN_AUGMENT,
    TRAIN_BATCH,
    TRAIN_BLOCK_ROW,
    TRAIN_BLOCKS,
    TRAIN_BUTTON,
    TRAIN_CANCEL,
    TRAIN_CURVES,
    TRAIN_DATASET,
    TRAIN_DENSE,
    TRAIN_DROPOUT,
    TRAIN_EPOCHS,
    TRAIN_FINAL,
    TRAIN_INTERVAL,
    TRAIN_LEARNING_RATE,
    TRAIN_LIMIT,
    TRAIN_MESSAGE,
    TRAIN_NOTE,
    TRAIN_PREVIEW,
    TRAIN_RESULT,
    TRAIN_RUN_NAME,
    TRAIN_RUN_NAME_FEEDBACK,
    TRAIN_SEED,
    TRAIN_STARTED,
    TRAIN_STATUS,
    TRAIN_TAB,
    TRAIN_THEME,
    block_id,
)
from dashboard.training.form import BLOCK_FIELDS
from dashboard.ui.page import sync_theme

dash.register_page(__name__, path="/train", name="Train", order=7, title="Train · CNN MNIST Visualizer")

layout = logic.layout  # Dash reads a page's layout from its own module

FORM_STATES = [
    State(TRAIN_EPOCHS, "value"), State(TRAIN_BATCH, "value"), State(TRAIN_LEARNING_RATE, "value"),
    State(TRAIN_SEED, "value"), State(TRAIN_BLOCKS, "value"),
    *[State(block_id(field, ALL), "value") for field in BLOCK_FIELDS],
    State(TRAIN_DENSE, "value"), State(TRAIN_DROPOUT, "value"), State(TRAIN_AUGMENT, "value"),
]
FORM_INPUTS = [Input(state.component_id, state.component_property) for state in FORM_STATES]

dash.callback(Output({"type": TRAIN_BLOCK_ROW, "index": ALL}, "style"), Input(TRAIN_BLOCKS, "value"))(
    logic.show_blocks)

dash.callback(Output(TRAIN_PREVIEW, "children"), *FORM_INPUTS)(logic.preview)

dash.callback(
    Output(TRAIN_RESULT, "data"),
    Input(TRAIN_BUTTON, "n_clicks"),
    # The tab id is part of the background job's cache key: two tabs pressing Train with the
    # same form would otherwise share one job entry, and only one of them would receive its
    # progress and result. Each tab gets its own Dash job; jobs.start keeps training single.
    State(TRAIN_TAB, "data"), State(TRAIN_DATASET, "value"), State(TRAIN_LIMIT, "value"),
    State(TRAIN_RUN_NAME, "value"), *FORM_STATES,
    background=True,
    progress=Output(TRAIN_STARTED, "data"),
    running=[(Output(TRAIN_BUTTON, "disabled"), True, False), (Output(TRAIN_CANCEL, "disabled"), False, True)],
    cancel=[Input(TRAIN_CANCEL, "n_clicks")],
    prevent_initial_call=True,
    on_error=logic.train_failed,
)(logic.train)

dash.callback(
    Output(TRAIN_INTERVAL, "disabled", allow_duplicate=True),
    Output(TRAIN_STARTED, "data", allow_duplicate=True),
    Output(TRAIN_FINAL, "data", allow_duplicate=True),
    Output(TRAIN_NOTE, "children", allow_duplicate=True),
    Output(TRAIN_MESSAGE, "children", allow_duplicate=True),
    Input(TRAIN_BUTTON, "n_clicks"),
    prevent_initial_call=True,
)(logic.start_polling)

dash.callback(
    Output(TRAIN_MESSAGE, "children"),
    Output(TRAIN_FINAL, "data"),
    Output(TRAIN_INTERVAL, "disabled", allow_duplicate=True),
    Input(TRAIN_RESULT, "data"),
    prevent_initial_call=True,
)(logic.finished)

dash.callback(
    Output(TRAIN_NOTE, "children"),
    Input(TRAIN_CANCEL, "n_clicks"),
    State(TRAIN_STARTED, "data"),
    prevent_initial_call=True,
)(logic.cancel)


@dash.callback(
    Output(TRAIN_STATUS, "children"),
    Output(TRAIN_CURVES, "figure"),
    Output(TRAIN_CURVES, "style"),
    Output(TRAIN_INTERVAL, "disabled"),
    Output(TRAIN_NOTE, "children", allow_duplicate=True),
    Input(TRAIN_INTERVAL, "n_intervals"),
    Input(TRAIN_THEME, "data"),
    State(TRAIN_STARTED, "data"),
    State(TRAIN_FINAL, "data"),
    prevent_initial_call=True,
)
def follow(_ticks, theme, started, final):
    """Show the followed job's progress from the store (see :func:`logic.follow`)."""
    return logic.follow(dash.ctx.triggered_id, theme, started, final)


dash.callback(
    Output(TRAIN_RUN_NAME, "invalid"),
    Output(TRAIN_RUN_NAME_FEEDBACK, "children"),
    Input(TRAIN_RUN_NAME, "value"),
    prevent_initial_call=True,
)(logic.check_run_name)

sync_theme(TRAIN_THEME)
