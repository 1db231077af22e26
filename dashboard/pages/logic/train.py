"""The Train page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/train.py``).

Configure a network, preview its layers, train it from a button and watch it learn.

The Train button runs a Dash background callback that starts ``python -m pipeline
train`` through :mod:`dashboard.training.jobs` and follows it. What the page shows while it
runs is read from the store by an interval callback (``set_progress`` only carries
the run id: plotly/dash#2828 drops progress updates), so every tab, and a reload,
sees the same job.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from artifacts import InvalidRunId, RunExistsError, Status
from artifacts.config import (
    ACTIVATIONS,
    FORM_LIMITS,
    KERNEL_SIZES,
    MIN_TRAINING_DIGITS,
    PADDINGS,
    TrainConfig,
    check_form_limits,
    layer_plan,
)
from dashboard.figures.training import curves_figure
from dashboard.settings import current_settings
from dashboard.store_access import get_store
from dashboard.training import jobs
from dashboard.training.background import TrainingQueueUnavailable
from dashboard.training.form import (
    RUN_NAME_HINT,
    config_from_form,
    dataset_options,
    limit_from_form,
    run_name_problem,
    status_panel,
)
from dashboard.ui import ids
from dashboard.ui.drawn_page import drawn_theme_store

log = logging.getLogger(__name__)


TRAIN_DATASET = "train-dataset"
TRAIN_LIMIT = "train-limit"
TRAIN_EPOCHS = "train-epochs"
TRAIN_BATCH = "train-batch-size"
TRAIN_LEARNING_RATE = "train-learning-rate"
TRAIN_SEED = "train-seed"
TRAIN_BLOCKS = "train-blocks"
TRAIN_BLOCK_ROW = "train-block-row"
TRAIN_DENSE = "train-dense-units"
TRAIN_DROPOUT = "train-dropout"
TRAIN_AUGMENT = "train-augmentation"
TRAIN_PREVIEW = "train-preview"
TRAIN_BUTTON = "train-button"
TRAIN_CANCEL = "train-cancel"
TRAIN_NOTE = "train-note"
TRAIN_STATUS = "train-status"
TRAIN_CURVES = "train-curves"
TRAIN_INTERVAL = "train-interval"
TRAIN_STARTED = "train-started"  # dcc.Store: the run id the job follows (the background callback's progress)
TRAIN_TAB = "train-tab"  # dcc.Store: a random id per page load (see the Train callback)
TRAIN_RESULT = "train-result"  # dcc.Store: the background callback's outcome {run_id, status, message, color}
TRAIN_FINAL = "train-final"  # dcc.Store: the run id of the last outcome ("" when none was started)
TRAIN_MESSAGE = "train-message"
TRAIN_RUN_NAME = "train-run-name"
TRAIN_RUN_NAME_FEEDBACK = "train-run-name-feedback"
TRAIN_THEME = "train-theme"  # this page's copy of the app's theme (dashboard.ui.page)


def block_id(field: str, index: int | Any) -> dict:
    """Return the pattern-matching id of conv block ``index``'s ``field`` input."""
    return {"type": f"train-block-{field}", "index": index}


DEFAULTS = TrainConfig()


def _bounds(key: str) -> dict[str, float]:
    """Return an input's ``min`` and ``max`` from the form's limits (the server checks the same ones)."""
    low, high = FORM_LIMITS[key]
    return {"min": low, "max": high}


def _number(component_id: Any, key: str, value: float, step: float | str = 1, **extra) -> dbc.Input:
    """Return a number input bounded by the form's limit ``key`` (the server checks the same one)."""
    return dbc.Input(id=component_id, type="number", **_bounds(key), step=step, value=value, **extra)


def _labelled(label: str, control, hint: str | None = None, width: int = 6) -> dbc.Col:
    parts = [dbc.Label(label, html_for=control.id if isinstance(control.id, str) else None,
                       className="small fw-semibold mb-1"), control]
    if hint:
        parts.append(dbc.FormText(hint))
    return dbc.Col(parts, md=width, className="mb-2")


def _choice(component_id, value, options: list[dict]) -> dcc.Dropdown:
    # A dropdown that always holds one of its options: no blank entry to pick, nothing to clear.
    return dcc.Dropdown(id=component_id, value=value, options=options, clearable=False, searchable=False,
                        className="train-choice")


def _block_default(index: int):
    return DEFAULTS.conv_blocks[min(index, len(DEFAULTS.conv_blocks) - 1)]


def default_form_values() -> tuple:
    """Return the values the form shows at load, in the order :func:`preview` takes them (the form's States)."""
    blocks = [_block_default(index) for index in range(3)]
    return (DEFAULTS.epochs, DEFAULTS.batch_size, DEFAULTS.learning_rate, DEFAULTS.seed, len(DEFAULTS.conv_blocks),
            [b.filters for b in blocks], [b.kernel_size for b in blocks], [b.strides for b in blocks],
            [b.padding for b in blocks], [b.activation for b in blocks], [b.pooling for b in blocks],
            DEFAULTS.dense_units, DEFAULTS.dropout_rate, DEFAULTS.augmentation)


def _block_row(index: int) -> html.Div:
    default = _block_default(index)
    controls = [
        _number(block_id("filters", index), "filters", default.filters, size="sm"),
        _choice(block_id("kernel_size", index), default.kernel_size,
                [{"label": f"{k}×{k}", "value": k} for k in KERNEL_SIZES]),
        _choice(block_id("strides", index), default.strides, [{"label": str(s), "value": s} for s in (1, 2)]),
        _choice(block_id("padding", index), default.padding, [{"label": p, "value": p} for p in PADDINGS]),
        _choice(block_id("activation", index), default.activation,
                [{"label": a.replace("_", " "), "value": a} for a in ACTIVATIONS]),
        dbc.Switch(id=block_id("pooling", index), value=default.pooling, label="pool", className="mt-1"),
    ]
    return html.Div(
        dbc.Row([dbc.Col(html.Span(f"{index + 1}", className="badge text-bg-secondary mt-1"), width="auto"),
                 *[dbc.Col(control, className="px-1") for control in controls]], className="g-1 align-items-center"),
        id={"type": TRAIN_BLOCK_ROW, "index": index}, className="mb-1",
        style=show_blocks(len(DEFAULTS.conv_blocks))[index],
    )


def _form(allowed: bool) -> dbc.Card:
    header = dbc.Row([dbc.Col(html.Span("#", className="small text-body-secondary"), width="auto"),
                      *[dbc.Col(html.Span(text, className="small text-body-secondary"), className="px-1")
                        for text in ("filters", "kernel", "stride", "padding", "activation", "")]],
                     className="g-1")
    return dbc.Card(dbc.CardBody([
        html.H5("Configuration", className="card-title"),
        dbc.Row([
            _labelled("Data", _choice(TRAIN_DATASET, "mnist-sample", dataset_options()), width=12),
            dbc.Col([dbc.Label("Run name (optional)", html_for=TRAIN_RUN_NAME, className="small fw-semibold mb-1"),
                     dbc.Input(id=TRAIN_RUN_NAME, type="text", maxLength=64, placeholder="date and time",
                               debounce=False, size="sm"),
                     dbc.FormFeedback(id=TRAIN_RUN_NAME_FEEDBACK, type="invalid"),
                     dbc.FormText(f"Blank: named by date and time. {RUN_NAME_HINT[0].upper()}{RUN_NAME_HINT[1:]}.")],
                    md=12, className="mb-2"),
            _labelled("Epochs", _number(TRAIN_EPOCHS, "epochs", DEFAULTS.epochs), width=4),
            _labelled("Batch size", _number(TRAIN_BATCH, "batch_size", DEFAULTS.batch_size), width=4),
            _labelled("Seed", dbc.Input(id=TRAIN_SEED, type="number", min=0, step=1, value=DEFAULTS.seed), width=4),
        ]),
        html.Hr(className="my-2"),
        dbc.Row([dbc.Col(dbc.Label("Convolution blocks", className="small fw-semibold"), width="auto"),
                 dbc.Col(dbc.RadioItems(id=TRAIN_BLOCKS, value=len(DEFAULTS.conv_blocks), inline=True,
                                        options=[{"label": str(n), "value": n} for n in (1, 2, 3)]))]),
        header,
        *[_block_row(index) for index in range(3)],
        html.Hr(className="my-2"),
        dbc.Row([
            _labelled("Dense units", _number(TRAIN_DENSE, "dense_units", DEFAULTS.dense_units), width=4),
            dbc.Col([dbc.Label("Dropout", className="small fw-semibold mb-1"),
                     dcc.Slider(id=TRAIN_DROPOUT, **_bounds("dropout_rate"), step=0.05, value=DEFAULTS.dropout_rate,
                                marks={0: "0", 0.3: "0.3", 0.6: "0.6", 0.9: "0.9"},
                                tooltip={"placement": "bottom", "always_visible": True})], md=5),
            dbc.Col(dbc.Switch(id=TRAIN_AUGMENT, value=DEFAULTS.augmentation, label="Augment",
                               className="mt-4"), md=3),
        ]),
        html.Details([
            html.Summary("Advanced", className="small"),
            dbc.Row([
                _labelled("Learning rate", _number(TRAIN_LEARNING_RATE, "learning_rate", DEFAULTS.learning_rate,
                                                   step="any"), width=6),
                _labelled("Training digits", dbc.Input(id=TRAIN_LIMIT, type="number", min=MIN_TRAINING_DIGITS, step=1,
                                                       placeholder="all"), "blank: all of them", width=6),
            ], className="mt-2"),
        ], className="mt-1"),
        html.Div([
            dbc.Button([html.I(className="bi bi-play-fill me-1"), "Train"], id=TRAIN_BUTTON, color="primary",
                       disabled=not allowed, className="me-2"),
            dbc.Button([html.I(className="bi bi-stop-fill me-1"), "Cancel"], id=TRAIN_CANCEL,
                       color="outline-danger", disabled=True),
            html.Span(id=TRAIN_NOTE, className="ms-3 small text-body-secondary"),
        ], className="mt-3"),
    ]), className="mb-3")


def layout(**_kwargs) -> html.Div:
    """Return the page; a job already running in the store is followed at once."""
    settings = current_settings()
    running = None
    with contextlib.suppress(OSError):
        running = jobs.current(get_store())
    banner = []
    if not settings.allow_training:
        banner.append(dbc.Alert([html.I(className="bi bi-lock me-2"),
                                 "Training from the dashboard is turned off on this server "
                                 "(CNNVIZ_ALLOW_TRAINING=0). You can still design a network here and train it "
                                 "with ", html.Code("python -m pipeline train --config my-config.json"), "."],
                                color="warning"))
    return html.Div([
        dcc.Store(id=TRAIN_STARTED, data=running.run_id if running else None),
        dcc.Store(id=TRAIN_TAB, data=uuid.uuid4().hex),
        dcc.Store(id=TRAIN_RESULT),
        dcc.Store(id=TRAIN_FINAL),
        drawn_theme_store(TRAIN_THEME),
        dcc.Interval(id=TRAIN_INTERVAL, interval=1000, disabled=running is None),
        html.H3("Train a network"),
        html.P("Choose the layers and how to train them. The preview shows what every layer makes of a "
               "28×28 digit before you spend any time training.", className="text-body-secondary"),
        *banner,
        dbc.Row([
            dbc.Col(_form(settings.allow_training), lg=6),
            dbc.Col([
                dbc.Card(dbc.CardBody([html.H5("Network preview", className="card-title"),
                                       html.Div(preview(*default_form_values()), id=TRAIN_PREVIEW)]),
                         className="mb-3"),
                dbc.Card(dbc.CardBody([
                    html.H5("Training", className="card-title"),
                    html.Div(id=TRAIN_MESSAGE),
                    html.Div(id=TRAIN_STATUS, children=html.P(
                        "Press Train to start. Progress, time left and the loss and accuracy curves appear "
                        "here as the network learns.", className="text-body-secondary mb-0")),
                    dcc.Graph(id=TRAIN_CURVES, config={"displaylogo": False}, style={"display": "none"}),
                ]), className="mb-3"),
            ], lg=6),
        ]),
    ])


def show_blocks(count):
    """Show as many block rows as the chosen number of blocks."""
    count = count if count in (1, 2, 3) else 2
    return [{} if index < count else {"display": "none"} for index in range(3)]


def preview(*values):
    """Show every layer's output shape and parameter count, or why the configuration cannot work."""
    try:
        plan = layer_plan(config_from_form(*values))
    except ValueError as error:
        return dbc.Alert([html.I(className="bi bi-exclamation-triangle me-2"), str(error)], color="danger",
                         className="mb-0")
    rows = [html.Tr([html.Td(spec.name), html.Td([spec.kind, html.Span(f" {spec.detail}" if spec.detail else "",
                                                                         className="text-body-secondary small")]),
                     html.Td("×".join(str(n) for n in spec.output_shape), className="font-monospace"),
                     html.Td(f"{spec.params:,}", className="text-end font-monospace")]) for spec in plan]
    total = sum(spec.params for spec in plan)
    table = dbc.Table([html.Thead(html.Tr([html.Th("layer"), html.Th("type"), html.Th("output"),
                                           html.Th("parameters", className="text-end")])),
                       html.Tbody(rows),
                       html.Tfoot(html.Tr([html.Th("total", colSpan=3),
                                           html.Th(f"{total:,}", className="text-end font-monospace")]))],
                      size="sm", hover=True, className="mb-1 train-preview-table")
    return [table, html.Small(f"{total * 4 / 1e6:.2f} MB of float32 weights. Shapes are height × width × "
                              "channels; the batch dimension is left out.", className="text-body-secondary")]


def train_failed(error: Exception) -> dict[str, str]:
    """The Train callback's ``on_error``: the outcome to show when its job could not be queued or followed.

    Dash calls it for an error while dispatching or polling the background job (Redis
    down, a result store that times out), not only inside ``train``; its return value
    becomes the callback's output, so the press always ends with a message.
    """
    if isinstance(error, TrainingQueueUnavailable):
        log.warning("Train press: %s", error)
        return {"message": str(error), "color": "danger"}
    log.error("Train press failed: %s", error, exc_info=error)
    return {"message": f"Training could not be started or followed ({type(error).__name__}); the page still "
                       "shows any run that is training. Try again in a moment.", "color": "danger"}


def train(set_progress, n_clicks, _tab, dataset, limit, run_name, *values):
    """Start a training job (or join the one running) and follow it until it ends."""
    settings = current_settings()
    if not settings.allow_training:
        return {"message": "Training from the dashboard is turned off on this server.", "color": "warning"}
    try:
        config = config_from_form(*values)
        limit = limit_from_form(limit)
        check_form_limits(config, limit)  # the browser's min and max are no protection
        source = dataset if dataset in {option["value"] for option in dataset_options()} else None
        if source is None:
            raise ValueError(f"unknown data source {str(dataset)[:40]!r}")
    except ValueError as error:
        return {"message": f"This configuration cannot be trained: {error}", "color": "danger"}
    store = get_store()
    problem = run_name_problem(run_name, store)
    if problem:
        return {"message": f"Training did not start: {problem}", "color": "danger"}
    note = None
    try:
        run_id = jobs.start(config, source, store, limit=limit, run_id=run_name or None)
    except jobs.TrainingBusy as busy:
        run_id = busy.run_id
        note = f"Run {run_id} was already training in this store, so no second job was started: this is its progress."
    except (OSError, InvalidRunId, RunExistsError) as error:
        return {"message": f"Training could not start: {error}", "color": "danger"}
    set_progress(run_id)
    # Repeat the run id now and then: a dropped progress update must not leave the page blind.
    job = jobs.wait(store, run_id, interval=1.0, on_poll=lambda _status: set_progress(run_id))
    return {"run_id": run_id, "status": job.status, "message": note, "color": "info"}


def start_polling(_clicks):
    """Start reading progress from the store as soon as Train is pressed.

    The renderer holds back any callback whose Input is the background callback's
    output until the job ends, and values set through ``progress=`` fire nothing,
    so an interval with the run id as State drives the updates.
    """
    return False, None, None, "", None


def finished(result):
    """Show the job's outcome message and poll once more so the final state is drawn."""
    result = result if isinstance(result, dict) else {}
    message = result.get("message")
    alert = dbc.Alert(message, color=result.get("color", "info"), className="py-2") if message else None
    return alert, result.get("run_id") or "", False


def cancel(n_clicks, run_id):
    """Ask the running job to stop; the pipeline marks its run cancelled."""
    if not current_settings().allow_training:
        return "Training is turned off on this server."
    asked = jobs.cancel(get_store(), run_id if isinstance(run_id, str) else None)
    return "Stopping…" if asked else "Nothing is training."


def follow(trigger, theme, started, final):
    """Show the followed job's progress, time and curves from the store; stop polling once it ends.

    ``trigger`` is the id of the Input that fired (the interval, or the page's theme store).
    """
    store = get_store()
    run_id = started if isinstance(started, str) and started else None
    run_id = run_id or (final if isinstance(final, str) and final else None)
    if not run_id:
        with contextlib.suppress(OSError):
            held = jobs.current(store)
            run_id = held.run_id if held is not None else None
    if not run_id and trigger == TRAIN_THEME:
        return (dash.no_update,) * 5  # the page's theme arrived: nothing is followed, nothing to redraw
    if not run_id:
        # Before the job takes the lock there is nothing to show; stop once the callback has answered.
        return dash.no_update, dash.no_update, dash.no_update, final is not None, dash.no_update
    try:
        job = jobs.poll(store, run_id)
    except (OSError, ValueError):
        job = jobs.JobStatus(run_id, "missing")
    figure: go.Figure | Any = curves_figure(job.history, theme) if len(job.history) else dash.no_update
    style = {} if len(job.history) else {"display": "none"}
    if job.status == Status.COMPLETE:
        # set_props, not an Output: see the Runs page; the shell's store must not tie
        # this page's inputs to every other page.
        dash.set_props(ids.ACTIVE_RUN, {"data": job.run_id})
    # A finished job has nothing left to stop: "Stopping…" (from Cancel) gives way to the outcome.
    return status_panel(job), figure, style, job.finished, "" if job.finished else dash.no_update


def check_run_name(name):
    """Say at once why a run name cannot be used (bad characters, or a run of that name exists)."""
    problem = run_name_problem(name, get_store())
    return problem is not None, problem or ""


