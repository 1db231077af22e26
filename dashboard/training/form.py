"""The Train page's pure helpers: form values to a TrainConfig, data sources, the job status panel.

No Dash callbacks here, so all of it is tested without a server.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from artifacts import ArtifactStore, Phase, Status
from artifacts.config import FORM_LIMITS, TrainConfig
from artifacts.format import is_valid_run_id
from dashboard.training.jobs import JobState, JobStatus
from dashboard.ui.components import status_badge

BLOCK_FIELDS = ("filters", "kernel_size", "strides", "padding", "activation", "pooling")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist package
PHASES = {Phase.LOADING: "Loading the data and building the network",
          Phase.TRAINING: "Training", Phase.EVALUATING: "Evaluating on the test set", Phase.STARTING: "Starting"}
# The form's limits, (low, high) per field: the inputs' min/max and the messages come from here.
# Spelled as the messages say them; the values are artifacts.config.FORM_LIMITS, which the server enforces.
LIMITS = {key.replace("_", " "): bounds for key, bounds in FORM_LIMITS.items()} | {"seed": (0, 2**31 - 1)}
RUN_NAME_HINT = "letters, digits, '.', '_' and '-'; up to 64 characters; not starting with '.'"
# The pipeline's hint for a command-line user, and the form's choice that does the same.
CLI_DATASET_HINT = re.compile(r"try --dataset mnist-sample")
BROWSER_DATASET_HINT = 'choose "MNIST sample: 5,000 real digits, offline" under Data on this page'
DATASET_LABELS = {"mnist-sample": "MNIST sample: 5,000 real digits, offline",
                  "mnist": "MNIST: 70,000 digits (downloaded once)"}


def dataset_options() -> list[dict[str, str]]:
    """Return the data sources the form offers (Fashion-MNIST only where its files are installed)."""
    options = [{"label": label, "value": value} for value, label in DATASET_LABELS.items()]
    if FASHION_DIR.is_dir():
        options.append({"label": "Fashion-MNIST: 70,000 clothing images", "value": f"idx:{FASHION_DIR}"})
    return options


def _limits(label: str) -> tuple[float | None, float | None]:
    # "block 2 filters" has the limits of "filters".
    return LIMITS.get(label.split()[-1] if label.startswith("block") else label, (None, None))


def _range_text(label: str) -> str:
    low, high = _limits(label)
    return "" if low is None else f" from {low:g} to {high:g}"


def _whole(label: str, value: Any) -> int:
    number = _number(label, value)
    if not float(number).is_integer():
        raise ValueError(f"{label} must be a whole number{_range_text(label)}, not {value!r}")
    return int(number)


def _number(label: str, value: Any) -> float:
    # The browser's number input sends None for a value outside its min/max (0 dense
    # units arrives as None): the message names the limits, not just "a number".
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} needs a number{_range_text(label)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{label} needs a finite number{_range_text(label)}")
    low, high = _limits(label)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{label} must be a number{_range_text(label)}, not {value!r}")
    return number


def config_from_form(epochs, batch_size, learning_rate, seed, blocks, filters, kernels, strides, paddings,
                     activations, poolings, dense_units, dropout, augmentation) -> TrainConfig:
    """Build a validated config from the form's values (block fields are lists, one per block row).

    Raises:
        ValueError: a missing or out-of-range value, or layers that shrink a map below 1x1
            (the message names the field or the block).
    """
    count = _whole("the number of blocks", blocks)
    if not 1 <= count <= 3:
        raise ValueError("choose 1 to 3 convolution blocks")
    columns = (filters, kernels, strides, paddings, activations, poolings)
    if any(not isinstance(column, list) or len(column) < count for column in columns):
        raise ValueError("the block settings are incomplete")
    conv_blocks = []
    for index in range(count):
        where = f"block {index + 1}"
        conv_blocks.append({
            "filters": _whole(f"{where} filters", filters[index]),
            "kernel_size": _whole(f"{where} kernel", kernels[index]),
            "strides": _whole(f"{where} stride", strides[index]),
            "padding": str(paddings[index]),
            "activation": str(activations[index]),
            "pooling": bool(poolings[index]),
        })
    return TrainConfig.from_dict({
        "conv_blocks": conv_blocks,
        "dense_units": _whole("dense units", dense_units),
        "dropout_rate": _number("dropout", dropout),
        "augmentation": bool(augmentation),
        "epochs": _whole("epochs", epochs),
        "batch_size": _whole("batch size", batch_size),
        "learning_rate": _number("learning rate", learning_rate),
        "seed": _whole("seed", seed),
    })


def limit_from_form(value: Any) -> int | None:
    """Return the number of training digits to use (None: all); raise ValueError below 20."""
    if value in (None, ""):
        return None
    limit = _whole("training digits", value)
    if limit < 20:
        raise ValueError("training digits must be at least 20 (or blank for all)")
    return limit


def run_name_problem(name: Any, store: ArtifactStore | None) -> str | None:
    """Return why ``name`` cannot name a new run (None when it can, or when it is blank).

    Args:
        name: the form's run-name field (blank: a time-based id is used).
        store: checked for a run of that name already; None skips that check.
    """
    if name in (None, ""):
        return None
    if not is_valid_run_id(name):
        return f"A run name may hold {RUN_NAME_HINT}."
    if store is not None:
        try:
            taken = store.exists(name)
        except (OSError, ValueError):
            taken = False
        if taken:
            return f"There is already a run named {name!r}: choose another name or delete that run first."
    return None


def browser_error(message: str) -> str:
    """Return a pipeline error message with its command-line advice turned into the form's terms."""
    return CLI_DATASET_HINT.sub(BROWSER_DATASET_HINT, message)


def format_seconds(seconds: float | None) -> str:
    """Return ``m:ss`` (or ``h:mm:ss``) for a duration; an en dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _bar(label: str, done: float, total: float, bar_id: str, animated: bool) -> html.Div:
    share = 100.0 * done / total if total else 0.0
    return html.Div([
        html.Div([html.Span(label, className="small"), html.Span(f"{share:.0f}%", className="small ms-auto")],
                 className="d-flex"),
        dbc.Progress(value=share, id=bar_id, striped=animated, animated=animated, className="mb-2",
                     style={"height": "10px"}),
    ])


def status_panel(job: JobStatus, note: str | None = None) -> list:
    """Return the status block of the Train page for ``job``: bars and times, or the outcome."""
    badge = status_badge(job.status, class_name="me-2 train-status")
    header = html.Div([badge, html.Span("run ", className="text-body-secondary"), html.Code(job.run_id)],
                      className="mb-2")
    parts: list = [header]
    if note:
        parts.append(dbc.Alert(note, color="info", className="py-2 small"))
    if job.status in (Status.RUNNING, JobState.STARTING):
        phase = PHASES[job.phase or Phase.STARTING]
        parts.append(html.P(phase + "…", className="mb-2 small fw-semibold train-phase"))
        if job.phase is Phase.EVALUATING:
            # Every epoch is trained: the bars stay full while the test set is scored.
            parts.append(_bar(f"All {job.epochs} epochs trained", job.epochs, job.epochs,
                              "train-progress-epochs", False))
            parts.append(html.Div([html.Span(className="spinner-border spinner-border-sm me-2"),
                                   "evaluating on the test set and saving the model"],
                                  className="small mb-2 train-evaluating"))
        else:
            whole = job.fraction * job.epochs if job.epochs else 0.0
            parts.append(_bar(f"Epoch {job.epoch} of {job.epochs or '?'}", whole,
                              job.epochs, "train-progress-epochs", True))
            parts.append(_bar(f"Batch {job.batch} of {job.batches or '?'} in this epoch", job.batch, job.batches,
                              "train-progress-batches", False))
        left = f"about {format_seconds(job.remaining)} left" if job.remaining is not None else "estimating time left…"
        parts.append(html.P([html.I(className="bi bi-stopwatch me-1"), f"Elapsed {format_seconds(job.elapsed)}",
                             html.Span(" · ", className="mx-1"), left],
                            className="small text-body-secondary mb-0 train-times"))
    elif job.status is Status.COMPLETE:
        accuracy = job.metrics.test_accuracy
        shown = f"{accuracy:.1%}" if isinstance(accuracy, (int, float)) else "?"
        parts.append(dbc.Alert([
            html.Strong("Done. "), f"Test accuracy {shown} after {format_seconds(job.elapsed)}. ",
            "It is now the active run: see its ", dcc.Link("training curves", href=f"/training?run={job.run_id}"),
            ", ", dcc.Link("metrics", href=f"/metrics?run={job.run_id}"), " or ",
            dcc.Link("all runs", href=f"/?run={job.run_id}"), ".",
        ], color="success", className="mb-0"))
    elif job.status is Status.CANCELLED:
        done = len(job.history)
        parts.append(dbc.Alert([
            f"Training was cancelled after {done} of {job.epochs or '?'} epochs. The partial run is kept and "
            "never shown as complete: ",
            dcc.Link("the epochs it finished", href=f"/training?run={job.run_id}"), " are on the Training page.",
        ], color="warning", className="mb-0"))
    elif job.status is Status.FAILED:
        body: list = [html.Strong("Training failed. "), browser_error(job.error or "The training process stopped.")]
        if job.stderr_tail:
            body += [html.Div("Last lines of its error output:", className="small mt-2"),
                     html.Pre(job.stderr_tail, className="small mb-0 mt-1 train-stderr",
                              style={"maxHeight": "14rem", "overflow": "auto", "whiteSpace": "pre-wrap"})]
        parts.append(dbc.Alert(body, color="danger", className="mb-0"))
    else:
        parts.append(dbc.Alert(f"Run {job.run_id} is not in the store.", color="secondary", className="mb-0"))
    return parts
