"""Training curves from a run's history: loss and accuracy, per-class validation accuracy, timing.

Every builder takes the DataFrame :meth:`artifacts.Run.history` returns (columns
from :mod:`artifacts.format`: epoch, loss, accuracy, val_loss, val_accuracy,
learning_rate, epoch_seconds, val_class_0..9) and returns a ``go.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from artifacts.format import CLASS_ACCURACY_COLUMNS, DIGIT_CLASS_NAMES, HISTORY_EPOCH, NUM_CLASSES, is_digit_names
from dashboard.figures.style import CLASS_COLORS, apply_theme

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
# Line widths and opacities of the ten per-class lines: (highlighted, others) when a class is chosen.
HIGHLIGHT_WIDTH, FADED_WIDTH, NORMAL_WIDTH = 4.0, 1.0, 2.0
FADED_OPACITY = 0.25


def _values(history: pd.DataFrame, column: str) -> np.ndarray:
    return history[column].to_numpy(dtype=float)


def curves_figure(history: pd.DataFrame, theme: str | None) -> go.Figure:
    """Return loss (left) and accuracy (right) per epoch, training and validation.

    Args:
        history: the run's history (may be empty: the figure then has empty traces).
        theme: "light" or "dark".

    Returns:
        A two-panel figure with four traces: loss, val_loss, accuracy, val_accuracy.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy (higher is better)"),
                           horizontal_spacing=0.1)
    epochs = history[HISTORY_EPOCH].to_numpy(dtype=int)
    for col, metric, fmt in ((1, "loss", ".4f"), (2, "accuracy", ".2%")):
        for column, name, color, dash in ((metric, "training", TRAIN_COLOR, "solid"),
                                          (f"val_{metric}", "validation", VALIDATION_COLOR, "dash")):
            figure.add_trace(
                go.Scatter(
                    x=epochs, y=_values(history, column), name=f"{name} {metric}", mode="lines+markers",
                    line=dict(color=color, dash=dash), legendgroup=name,
                    hovertemplate=f"epoch %{{x}}<br>{name} {metric} %{{y:{fmt}}}<extra></extra>",
                ),
                row=1, col=col,
            )
    figure.update_xaxes(title_text="epoch", dtick=_epoch_tick(len(epochs)))
    figure.update_yaxes(title_text="cross-entropy loss", row=1, col=1)
    figure.update_yaxes(title_text="share correct", tickformat=".0%", row=1, col=2)
    figure.update_layout(hovermode="x unified", legend=dict(orientation="h", y=-0.2), height=380)
    return apply_theme(figure, theme)


def class_line_style(digit: int | str | None) -> list[dict]:
    """Return each class line's ``{"width", "opacity"}``: all equal for "all", one stands out for a digit."""
    if digit in (None, "all"):
        return [{"width": NORMAL_WIDTH, "opacity": 1.0} for _ in range(NUM_CLASSES)]
    return [
        {"width": HIGHLIGHT_WIDTH, "opacity": 1.0} if k == digit else {"width": FADED_WIDTH, "opacity": FADED_OPACITY}
        for k in range(NUM_CLASSES)
    ]


def class_accuracy_figure(history: pd.DataFrame, digit: int | str | None, theme: str | None,
                          names: Sequence[str] | None = None) -> go.Figure:
    """Return each class's validation accuracy per epoch, ten lines, trace k = class k.

    Args:
        history: the run's history.
        digit: "all" (or None) for ten equal lines, or 0-9 to highlight that class.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
    """
    names = tuple(names or DIGIT_CLASS_NAMES)
    label = "digit " if is_digit_names(names) else ""
    figure = go.Figure()
    epochs = history[HISTORY_EPOCH].to_numpy(dtype=int)
    for k, (column, style) in enumerate(zip(CLASS_ACCURACY_COLUMNS, class_line_style(digit), strict=True)):
        figure.add_trace(
            go.Scatter(
                x=epochs, y=_values(history, column), name=f"{label}{names[k]}", mode="lines+markers",
                line=dict(color=CLASS_COLORS[k], width=style["width"]), opacity=style["opacity"],
                marker=dict(size=5),
                hovertemplate=f"{label}{names[k]}<br>epoch %{{x}}<br>validation accuracy %{{y:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Validation accuracy per " + ("digit" if label else "class"),
        xaxis=dict(title="epoch", dtick=_epoch_tick(len(epochs))),
        yaxis=dict(title="share of that " + ("digit" if label else "class") + " correct", tickformat=".0%"),
        legend=dict(title="class"),
        height=380,
    )
    return apply_theme(figure, theme)


def timing_figure(history: pd.DataFrame, theme: str | None) -> go.Figure:
    """Return seconds per epoch (bars, left axis) and the learning rate (line, right axis)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    epochs = history[HISTORY_EPOCH].to_numpy(dtype=int)
    figure.add_trace(
        go.Bar(x=epochs, y=_values(history, "epoch_seconds"), name="seconds per epoch", marker_color="#7f7f7f",
               hovertemplate="epoch %{x}<br>%{y:.2f} s<extra></extra>"),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(x=epochs, y=_values(history, "learning_rate"), name="learning rate", mode="lines+markers",
                   line=dict(color="#2ca02c"), hovertemplate="epoch %{x}<br>learning rate %{y:.2e}<extra></extra>"),
        secondary_y=True,
    )
    figure.update_layout(title="Time per epoch and learning rate", height=320, legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(title_text="epoch", dtick=_epoch_tick(len(epochs)))
    figure.update_yaxes(title_text="seconds", secondary_y=False, rangemode="tozero")
    figure.update_yaxes(title_text="learning rate", secondary_y=True, tickformat=".1e", rangemode="tozero",
                        showgrid=False)
    return apply_theme(figure, theme)


def compare_curves_figure(history_a: pd.DataFrame, history_b: pd.DataFrame, label_a: str, label_b: str,
                          theme: str | None) -> go.Figure:
    """Return two runs' validation loss and accuracy overlaid (A solid, B dashed).

    Args:
        history_a, history_b: the two runs' histories.
        label_a, label_b: their names in the legend (run ids).
        theme: "light" or "dark".

    Returns:
        A two-panel figure with traces A loss, B loss, A accuracy, B accuracy (validation).
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"),
                           horizontal_spacing=0.1)
    for col, column, fmt in ((1, "val_loss", ".4f"), (2, "val_accuracy", ".2%")):
        for history, label, color, dash in ((history_a, label_a, TRAIN_COLOR, "solid"),
                                            (history_b, label_b, VALIDATION_COLOR, "dash")):
            figure.add_trace(
                go.Scatter(x=history[HISTORY_EPOCH].to_numpy(dtype=int), y=_values(history, column), name=label,
                           mode="lines+markers", line=dict(color=color, dash=dash), legendgroup=label,
                           showlegend=col == 1,
                           hovertemplate=f"{label}<br>epoch %{{x}}<br>%{{y:{fmt}}}<extra></extra>"),
                row=1, col=col,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="cross-entropy loss", row=1, col=1)
    figure.update_yaxes(title_text="share correct", tickformat=".0%", row=1, col=2)
    figure.update_layout(height=360, legend=dict(orientation="h", y=-0.2), hovermode="x unified")
    return apply_theme(figure, theme)


def validation_note(history: pd.DataFrame, config: dict | None) -> str | None:
    """Explain validation accuracy above training accuracy, when the run shows it (None otherwise).

    Args:
        history: the run's history.
        config: the run's configuration (``dropout_rate``, ``augmentation``).
    """
    if history.empty:
        return None
    ahead = (history["val_accuracy"] > history["accuracy"]).to_numpy(dtype=bool)
    if not ahead.any():
        return None
    config = config or {}
    causes = []
    if float(config.get("dropout_rate") or 0) > 0:
        causes.append(f"dropout (rate {float(config['dropout_rate']):g}) switches off part of the dense layer")
    if config.get("augmentation"):
        causes.append("augmentation shifts and turns the training images")
    epochs = ", ".join(str(int(e)) for e in history[HISTORY_EPOCH].to_numpy()[ahead][:6])
    why = (" and ".join(causes) + " only while training, so the training numbers are measured on a harder task "
           "than validation. ") if causes else ""
    return (f"Validation accuracy is above training accuracy (epoch {epochs}). This is not a mistake: {why}"
            "Training accuracy is also averaged over each epoch while the network still learns, whereas "
            "validation is measured at its end.")


def _epoch_tick(count: int) -> int | None:
    # Whole-epoch ticks for short runs; Plotly's own choice for long ones.
    return 1 if count <= 20 else None
