"""Figures of the test set over training: the embedding scatter, learned-by-epoch curves, and their frames.

The scatter has one trace per class (0-9, coloured as everywhere else) and a last trace marking the
digits answered wrongly at the shown epoch. :func:`scatter_frame` gives the same traces' coordinates
for another epoch, for the browser to swap in while the epoch slider moves (``assets/learning.js``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from artifacts.format import DIGIT_CLASS_NAMES, NUM_CLASSES
from dashboard.figures.activations import typed_array
from dashboard.figures.metrics import cell_text
from dashboard.figures.style import CLASS_COLORS, apply_theme

MISTAKES_TRACE = NUM_CLASSES  # the index of the mistakes trace, after the ten classes
MISTAKE_COLOR = {"light": "#212529", "dark": "#f8f9fa"}
FADED = 0.07  # opacity of the classes the filter leaves out
SHOWN = 0.85


def _chosen(digit) -> int | None:
    return None if digit in (None, "all") else int(digit)


def _points(coords: np.ndarray, labels: np.ndarray, wrong: np.ndarray, digit) -> list[np.ndarray]:
    """Return the (m, 2) coordinates of each trace: the ten classes, then the mistakes (of the chosen class)."""
    chosen = _chosen(digit)
    traces = [coords[labels == k] for k in range(NUM_CLASSES)]
    marked = wrong if chosen is None else wrong & (labels == chosen)
    return [*traces, coords[marked]]


def scatter_title(epoch: int, method: str, wrong: np.ndarray, labels: np.ndarray, digit,
                  names: Sequence[str]) -> str:
    """Return the scatter's title at ``epoch``: the projection and how many shown digits are answered wrongly."""
    chosen = _chosen(digit)
    mask = np.ones(len(labels), bool) if chosen is None else labels == chosen
    shown = int(mask.sum())
    what = "test digits" if chosen is None else f"test digits of class {names[chosen]}"
    return (f"{method} of the dense layer, epoch {epoch}: {shown} {what}, "
            f"{int((wrong & mask).sum())} answered wrongly (×)")


def embedding_figure(coords: np.ndarray, labels: np.ndarray, wrong: np.ndarray, index: np.ndarray, title: str,
                     digit, theme: str | None, names: Sequence[str] | None = None,
                     bound: float | None = None) -> go.Figure:
    """Return the embedding scatter of k test digits at one epoch.

    Args:
        coords: (k, 2) their 2D layout.
        labels: (k,) true classes, which colour the points.
        wrong: (k,) booleans: answered wrongly at this epoch (marked ×).
        index: (k,) their test indices (each point's ``customdata``, for hover and click).
        title: the figure's title (:func:`scatter_title`).
        digit: "all" or a class: the other classes are faded, only its mistakes marked.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
        bound: a fixed half-width of both axes (the same at every epoch), or None to fit the points.
    """
    names = tuple(names or DIGIT_CLASS_NAMES)
    coords, labels = np.asarray(coords, dtype=np.float32), np.asarray(labels).astype(np.int64)
    wrong, index = np.asarray(wrong, dtype=bool), np.asarray(index).astype(np.int64)
    chosen = _chosen(digit)
    traces = _points(coords, labels, wrong, digit)
    figure = go.Figure()
    for k in range(NUM_CLASSES):
        figure.add_trace(go.Scattergl(
            x=traces[k][:, 0], y=traces[k][:, 1], mode="markers", name=names[k],
            customdata=index[labels == k].tolist(),  # a list: Dash reads a point's customdata by position
            marker=dict(color=CLASS_COLORS[k], size=6, opacity=SHOWN if chosen in (None, k) else FADED),
            hovertemplate=f"test digit #%{{customdata}}, true {names[k]}<extra></extra>",
        ))
    mistakes = traces[MISTAKES_TRACE]
    figure.add_trace(go.Scattergl(
        x=mistakes[:, 0], y=mistakes[:, 1], mode="markers", name="answered wrongly", hoverinfo="skip",
        marker=dict(symbol="x-thin-open", size=7, line=dict(width=1.2), opacity=0.6,
                    color=MISTAKE_COLOR["dark" if theme == "dark" else "light"]),
    ))
    axis = dict(zeroline=False, showticklabels=False, title=None)
    if bound is not None:
        axis["range"] = [-bound, bound]
    figure.update_layout(title=dict(text=title, font=dict(size=14)), xaxis=axis,
                         yaxis=dict(**axis, scaleanchor="x"), height=560, hovermode="closest",
                         legend=dict(itemclick=False, itemdoubleclick=False), uirevision="embedding")
    return apply_theme(figure, theme)


def scatter_frame(coords: np.ndarray, labels: np.ndarray, wrong: np.ndarray, title: str, digit) -> dict:
    """Return one epoch's frame of :func:`embedding_figure`: every trace's x and y (float32 typed arrays), its title."""
    traces = _points(np.asarray(coords, dtype=np.float32), np.asarray(labels).astype(np.int64),
                     np.asarray(wrong, dtype=bool), digit)
    return {"x": [typed_array(points[:, 0]) for points in traces],
            "y": [typed_array(points[:, 1]) for points in traces], "title": title}


def confusion_frame(matrix: np.ndarray, title: str) -> dict:
    """Return one epoch's confusion counts for the browser: z, cell labels, colour range and title."""
    matrix = np.asarray(matrix, dtype=np.int64)
    return {"z": matrix.tolist(), "text": cell_text(matrix, "counts").tolist(),
            "zmax": float(max(1, matrix.max())), "title": title}


def learned_curves_figure(shares: np.ndarray, epochs: Sequence[int], digit, theme: str | None,
                          names: Sequence[str] | None = None) -> go.Figure:
    """Return the share of each class's test digits learned for good by each epoch.

    Args:
        shares: (11, epochs) from :func:`dashboard.learning.learned.learned_by_epoch` (the last row: all digits).
        epochs: the stored epochs.
        digit: "all" or a class, whose curve is drawn thick and the others faded.
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
    """
    names = tuple(names or DIGIT_CLASS_NAMES)
    chosen = _chosen(digit)
    figure = go.Figure()
    for k in range(NUM_CLASSES):
        figure.add_trace(go.Scatter(
            x=list(epochs), y=shares[k], mode="lines+markers", name=names[k],
            line=dict(color=CLASS_COLORS[k], width=3 if chosen == k else 1.5),
            opacity=1.0 if chosen in (None, k) else 0.2,
            hovertemplate=f"{names[k]}: %{{y:.0%}} learned by epoch %{{x}}<extra></extra>",
        ))
    figure.add_trace(go.Scatter(
        x=list(epochs), y=shares[NUM_CLASSES], mode="lines", name="all", line=dict(color="gray", width=3, dash="dot"),
        hovertemplate="all digits: %{y:.0%} learned by epoch %{x}<extra></extra>",
    ))
    figure.update_layout(title=dict(text="Share of each class learned for good, by epoch", font=dict(size=14)),
                         xaxis=dict(title="epoch", dtick=1 if len(epochs) <= 20 else None),
                         yaxis=dict(title="share learned", range=[0, 1.02], tickformat=".0%"), height=420)
    return apply_theme(figure, theme)
