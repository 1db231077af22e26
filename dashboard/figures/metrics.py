"""Per-class metrics and confusion matrices: bars, heatmaps, differences between two runs.

Inputs are what :class:`artifacts.Run` returns: the class-metrics DataFrame
(class, precision, recall, f1, support) and the 10x10 confusion matrix of counts
(rows true class, columns predicted class).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from artifacts.format import DIGIT_CLASS_NAMES, NUM_CLASSES, is_digit_names
from dashboard.figures.activations import probability_bars
from dashboard.figures.style import DIVERGING_SCALE, apply_theme

METRICS = ("precision", "recall", "f1")
METRIC_COLORS = {"precision": "#1f77b4", "recall": "#ff7f0e", "f1": "#2ca02c"}
MODES = ("counts", "normalized")
# A diverging scale whose middle (no difference) is the dark page, not white, on the dark theme.
DIFFERENCE_SCALE = {"light": DIVERGING_SCALE,
                    "dark": [[0.0, "#d6604d"], [0.5, "#2b3035"], [1.0, "#4393c3"]]}
CONFUSION_SCALE = {"light": "Blues", "dark": [[0.0, "#23272b"], [0.5, "#1f5f8b"], [1.0, "#8fd0ff"]]}
FADED_OPACITY = 0.3
HIGHLIGHT_LINE = {"light": "#d62728", "dark": "#ffdd57"}


def class_axis(names: Sequence[str] | None, title: str = "class") -> dict:
    """Return x/y-axis settings that label classes 0-9 with their names ("digit class" for MNIST)."""
    names = tuple(names or DIGIT_CLASS_NAMES)
    word = f"digit {title}" if is_digit_names(names) and title == "class" else title
    return dict(title=word, tickmode="array", tickvals=list(range(NUM_CLASSES)), ticktext=list(names))


def cell_mark(cell: tuple[int, int] | None, theme: str | None) -> list[dict]:
    """Return the rectangle marking the chosen confusion cell (true row, predicted column); none without one."""
    if cell is None:
        return []
    true, predicted = cell
    color = HIGHLIGHT_LINE["dark" if theme == "dark" else "light"]
    return [dict(type="rect", xref="x", yref="y", x0=predicted - 0.5, x1=predicted + 0.5, y0=true - 0.5,
                 y1=true + 0.5, line=dict(color=color, width=4, dash="dot"), fillcolor="rgba(0,0,0,0)",
                 name="chosen-cell")]


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Return the matrix with each row divided by its sum (rows of zeros stay zero)."""
    matrix = np.asarray(matrix, dtype=float)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def confusion_values(matrix: np.ndarray, mode: str) -> np.ndarray:
    """Return the matrix shown for ``mode``: "counts" as is, "normalized" row by row.

    Raises:
        ValueError: an unknown mode or a matrix that is not 10x10.
    """
    matrix = np.asarray(matrix)
    if matrix.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(f"a confusion matrix is {NUM_CLASSES}x{NUM_CLASSES}, not {matrix.shape}")
    if mode == "counts":
        return matrix.astype(np.int64)
    if mode == "normalized":
        return normalize_rows(matrix)
    raise ValueError(f"mode must be one of {MODES}, not {mode!r}")


def metric_opacity(digit: int | str | None) -> list[float]:
    """Return the bar opacity of each class: all 1 for "all", others faded for a digit."""
    return [1.0 if digit in (None, "all") or k == digit else FADED_OPACITY for k in range(NUM_CLASSES)]


def class_metrics_figure(frame: pd.DataFrame, digit: int | str | None, theme: str | None,
                         names: Sequence[str] | None = None) -> go.Figure:
    """Return grouped bars of precision, recall and F1 per class (traces in that order).

    Args:
        frame: the run's class metrics (one row per class, in class order).
        digit: "all" or 0-9; a digit fades the other classes' bars.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
    """
    names = tuple(names or DIGIT_CLASS_NAMES)
    classes = frame["class"].to_numpy(dtype=int)
    support = frame["support"].to_numpy(dtype=int)
    figure = go.Figure(
        [
            go.Bar(x=classes, y=frame[metric].to_numpy(dtype=float), name=metric if metric != "f1" else "F1",
                   marker=dict(color=METRIC_COLORS[metric], opacity=metric_opacity(digit)),
                   customdata=support, hovertext=[names[k] for k in classes],
                   hovertemplate=f"%{{hovertext}}<br>{metric} %{{y:.3f}}<br>support %{{customdata}}<extra></extra>")
            for metric in METRICS
        ]
    )
    low = float(np.nanmin(frame[list(METRICS)].to_numpy(dtype=float))) if len(frame) else 0.0
    figure.update_layout(
        title=f"Precision, recall and F1 per {'digit' if is_digit_names(names) else 'class'} (test split)",
        barmode="group",
        xaxis=class_axis(names),
        yaxis=dict(title="score (1 = perfect)", range=[max(0.0, min(low, 1.0) - 0.05), 1.0]),
        legend=dict(orientation="h", y=-0.2),
        height=360,
    )
    return apply_theme(figure, theme)


def highlight_shapes(digit: int | str | None, theme: str | None) -> list[dict]:
    """Return the rectangles outlining a digit's row and column of a confusion heatmap (none for "all")."""
    if digit in (None, "all"):
        return []
    color = HIGHLIGHT_LINE["dark" if theme == "dark" else "light"]
    line = dict(color=color, width=3)
    return [
        dict(type="rect", xref="x", yref="y", x0=-0.5, x1=NUM_CLASSES - 0.5, y0=digit - 0.5, y1=digit + 0.5,
             line=line, fillcolor="rgba(0,0,0,0)"),
        dict(type="rect", xref="x", yref="y", x0=digit - 0.5, x1=digit + 0.5, y0=-0.5, y1=NUM_CLASSES - 0.5,
             line=line, fillcolor="rgba(0,0,0,0)"),
    ]


def cell_text(values: np.ndarray, mode: str, signed: bool = False) -> np.ndarray:
    """Return each cell's label; empty where the value is 0, so the mistakes stand out."""
    pattern = ("{:+.0%}" if signed else "{:.0%}") if mode == "normalized" else ("{:+d}" if signed else "{:d}")
    shown = values if mode == "normalized" else np.asarray(values).astype(np.int64)
    return np.array([["" if v == 0 else pattern.format(v) for v in row] for row in shown.tolist()], dtype=object)


def confusion_style(mode: str, values: np.ndarray) -> dict:
    """Return the heatmap properties that differ between counts and normalized (a Patch sets the same ones).

    Args:
        mode: "counts" or "normalized".
        values: the matrix as shown (:func:`confusion_values`), for the colour range.
    """
    if mode == "normalized":
        return dict(text=cell_text(values, mode), colorbar_title="share of row", zmax=1.0,
                    hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}<br>%{z:.1%} of that row"
                                  "<extra></extra>")
    return dict(text=cell_text(values, mode), colorbar_title="digits", zmax=float(max(1, np.max(values))),
                hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}<br>%{z} test images"
                                  "<extra></extra>")


def name_grid(names: Sequence[str] | None) -> np.ndarray:
    """Return a (10, 10, 2) grid of (true name, predicted name) for heatmap hover texts."""
    names = np.asarray(tuple(names or DIGIT_CLASS_NAMES), dtype=object)
    return np.stack(np.broadcast_arrays(names[:, None], names[None, :]), axis=-1)


def confusion_figure(matrix: np.ndarray, mode: str, digit: int | str | None, theme: str | None,
                     names: Sequence[str] | None = None, cell: tuple[int, int] | None = None) -> go.Figure:
    """Return the confusion matrix as an annotated heatmap (rows true, columns predicted).

    Args:
        matrix: 10x10 counts.
        mode: "counts" or "normalized" (each row divided by its sum).
        digit: "all" or 0-9; a digit outlines its row and column.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
        cell: (true, predicted) of the chosen cell, marked with a rectangle.

    Raises:
        ValueError: bad mode or shape.
    """
    values = confusion_values(matrix, mode)
    style = confusion_style(mode, values)
    classes = np.arange(NUM_CLASSES)
    scale = CONFUSION_SCALE["dark" if theme == "dark" else "light"]
    figure = go.Figure(
        go.Heatmap(
            z=values, x=classes, y=classes, colorscale=scale, zmin=0, zmax=style["zmax"],
            text=style["text"], texttemplate="%{text}", hovertemplate=style["hovertemplate"],
            customdata=name_grid(names), colorbar=dict(title=dict(text=style["colorbar_title"])), xgap=1, ygap=1,
        )
    )
    figure.update_layout(
        title="Confusion matrix: click a cell to see its images",
        xaxis=dict(**class_axis(names, "predicted class"), side="bottom", constrain="domain"),
        yaxis=dict(**class_axis(names, "true class"), autorange="reversed", scaleanchor="x", constrain="domain"),
        shapes=highlight_shapes(digit, theme) + cell_mark(cell, theme),
        height=480,
    )
    return apply_theme(figure, theme)


def confusion_difference_figure(matrix_a: np.ndarray, matrix_b: np.ndarray, mode: str, label_a: str,
                                label_b: str, theme: str | None, names: Sequence[str] | None = None) -> go.Figure:
    """Return A - B of two confusion matrices on a diverging scale centred at 0.

    Args:
        matrix_a, matrix_b: 10x10 counts of the two runs.
        mode: "counts" or "normalized" (compare shares when the test sets differ in size).
        label_a, label_b: the runs' names.
        theme: "light" or "dark".
    """
    difference = confusion_values(matrix_a, mode) - confusion_values(matrix_b, mode)
    bound = float(np.abs(difference).max()) or 1.0
    unit = "share of row" if mode == "normalized" else "digits"
    hover = "%{z:+.1%}" if mode == "normalized" else "%{z:+d}"
    classes = np.arange(NUM_CLASSES)
    figure = go.Figure(
        go.Heatmap(
            z=difference, x=classes, y=classes, colorscale=DIFFERENCE_SCALE["dark" if theme == "dark" else "light"],
            zmid=0, zmin=-bound, zmax=bound,
            text=cell_text(difference, mode, signed=True), texttemplate="%{text}", xgap=1, ygap=1,
            colorbar=dict(title=dict(text=f"{label_a} − {label_b}<br>({unit})")),
            hovertemplate=f"true %{{y}}, predicted %{{x}}<br>{label_a} − {label_b}: {hover}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Confusion difference: {label_a} − {label_b}",
        xaxis=dict(**class_axis(names, "predicted class"), constrain="domain"),
        yaxis=dict(**class_axis(names, "true class"), autorange="reversed", scaleanchor="x", constrain="domain"),
        height=440,
    )
    return apply_theme(figure, theme)


def f1_difference_figure(frame_a: pd.DataFrame, frame_b: pd.DataFrame, label_a: str, label_b: str,
                         theme: str | None, names: Sequence[str] | None = None) -> go.Figure:
    """Return per-class F1 of run A minus run B as bars (green where A is better)."""
    difference = frame_a["f1"].to_numpy(dtype=float) - frame_b["f1"].to_numpy(dtype=float)
    colors = np.where(difference >= 0, "#2ca02c", "#d62728")
    figure = go.Figure(
        go.Bar(x=frame_a["class"].to_numpy(dtype=int), y=difference, marker_color=colors,
               hovertemplate=f"digit %{{x}}<br>F1 {label_a} − {label_b}: %{{y:+.3f}}<extra></extra>")
    )
    figure.update_layout(
        title=f"F1 per class: {label_a} − {label_b} (above 0: {label_a} is better)",
        xaxis=class_axis(names),
        yaxis=dict(title="F1 difference", zeroline=True),
        height=340,
    )
    return apply_theme(figure, theme)


def probability_figure(probabilities: np.ndarray, label: int, theme: str | None,
                       names: Sequence[str] | None = None) -> go.Figure:
    """Return one test digit's class probabilities: the app's one probability chart, titled for the gallery.

    Args:
        probabilities: (10,) probabilities (any float dtype).
        label: the true class.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
    """
    shown = tuple(names or DIGIT_CLASS_NAMES)
    return probability_bars(probabilities, label, theme, names,
                            title=f"What the network believes (true class {shown[label]})")


def gallery_indices(labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray,
                    cell: tuple[int, int] | None, digit: int | str | None) -> np.ndarray:
    """Return the test indices a gallery shows, most confident first.

    Args:
        labels, predicted: (n,) true and predicted classes.
        probabilities: (n, 10) class probabilities.
        cell: (true, predicted) of a confusion cell, or None.
        digit: "all" or 0-9, used when no cell is chosen.

    Returns:
        A cell's digits; without a cell, the mistakes (true != predicted), only
        those involving ``digit`` (as true or predicted class) when it is 0-9.
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if cell is not None:
        chosen = (labels == cell[0]) & (predicted == cell[1])
    else:
        chosen = labels != predicted
        if digit not in (None, "all"):
            chosen &= (labels == digit) | (predicted == digit)
    indices = np.flatnonzero(chosen)
    confidence = np.asarray(probabilities, dtype=float)[indices, predicted[indices]]
    return indices[np.argsort(-confidence, kind="stable")]
