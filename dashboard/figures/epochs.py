"""Figures of one digit across training: its class probabilities at every epoch, an epoch's answer and saliency.

Every builder takes numpy arrays and returns a ``go.Figure``; none reads the store.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.activations import saliency_overlay
from dashboard.figures.style import CLASS_COLORS, apply_theme

ANSWER_WIDTH, TRUE_WIDTH, OTHER_WIDTH = 4.0, 3.0, 1.2
OTHER_OPACITY = 0.45
MARKER_COLOR = "#e83e8c"


def _names(names, count: int) -> list[str]:
    return [str(k) for k in range(count)] if names is None else [str(name) for name in names]


def stage(epoch: int, last: int) -> str:
    """Return how far training was after ``epoch``: "untrained" for 0, "trained" for the last, else ""."""
    if epoch == 0:
        return "untrained"
    return "trained" if epoch == last else ""


def probabilities_by_epoch(
    epochs: list[int], probabilities: np.ndarray, theme: str | None = None, names=None,
    true_label: int | None = None, current: int | None = None,
) -> go.Figure:
    """Return one line per class: the digit's probability of that class after each epoch.

    Args:
        epochs: the stored epochs, ascending.
        probabilities: (len(epochs), classes).
        theme: "light" or "dark".
        names: the run's class names (the digits when None).
        true_label: the digit's label when known (its line is drawn thick and dashed).
        current: the epoch the page shows, marked with a vertical line.

    Returns:
        Trace k is class k (x the epochs, y its probabilities as given); the last epoch's answer is drawn thickest.

    Raises:
        ValueError: the shapes do not match.
    """
    values = np.asarray(probabilities)
    if values.ndim != 2 or len(values) != len(epochs) or len(epochs) == 0:
        raise ValueError(f"probabilities of shape {values.shape} for {len(epochs)} epochs")
    labels = _names(names, values.shape[1])
    answer = int(values[-1].argmax())
    figure = go.Figure()
    for cls in range(values.shape[1]):
        stressed = cls in (answer, true_label)
        width = ANSWER_WIDTH if cls == answer else TRUE_WIDTH if cls == true_label else OTHER_WIDTH
        role = " (its answer)" if cls == answer else ""
        role += " (true label)" if cls == true_label else ""
        figure.add_trace(go.Scatter(
            x=list(epochs), y=values[:, cls], name=labels[cls] + role, mode="lines+markers",
            line=dict(color=CLASS_COLORS[cls % len(CLASS_COLORS)], width=width,
                      dash="dash" if cls == true_label and cls != answer else "solid"),
            marker=dict(size=6 if stressed else 3), opacity=1.0 if stressed else OTHER_OPACITY,
            hovertemplate=f"{labels[cls]}: %{{y:.1%}} after epoch %{{x}}<extra></extra>",
        ))
    if current is not None:
        shape, annotation = epoch_marker(current)
        figure.update_layout(shapes=[shape], annotations=[annotation])
    figure.update_layout(
        title=dict(text="Each class's probability for this digit, epoch by epoch", font=dict(size=15)),
        xaxis=dict(title=dict(text="epoch (0 = untrained)"), dtick=max(1, len(epochs) // 16)),
        yaxis=dict(title=dict(text="probability"), tickformat=".0%", range=[-0.02, 1.05]),
        legend=dict(title=dict(text="class")), hovermode="x unified",
    )
    return apply_theme(figure, theme)


def epoch_marker(current: int) -> tuple[dict, dict]:
    """Return the vertical line at the epoch the page shows and its label: ``layout.shapes[0]`` and
    ``layout.annotations[0]`` of :func:`probabilities_by_epoch` (a ``Patch`` moves them without redrawing the lines).
    """
    shape = dict(type="line", x0=current, x1=current, xref="x", y0=0, y1=1, yref="y domain",
                 line=dict(color=MARKER_COLOR, width=2, dash="dot"))
    annotation = dict(x=current, xref="x", y=1, yref="y domain", text=f"epoch {current}", showarrow=False,
                      xanchor="center", yanchor="bottom")
    return shape, annotation


def epoch_saliency(
    pixels: np.ndarray, probabilities: np.ndarray, saliency: np.ndarray, epoch: int, last: int,
    theme: str | None = None, names=None, true_label: int | None = None,
) -> go.Figure:
    """Return the saliency over the digit, titled with the epoch and the network's answer after it.

    Args:
        pixels: (28, 28) 0-255.
        probabilities: (classes,) the answer after ``epoch``.
        saliency: (28, 28) in [0, 1].
        last: the run's last epoch (to call it "trained").

    Raises:
        ValueError: the image and saliency shapes differ.
    """
    probabilities = np.asarray(probabilities)
    labels = _names(names, len(probabilities))
    answer = int(probabilities.argmax())
    when = f"Epoch {epoch}" + (f" ({stage(epoch, last)})" if stage(epoch, last) else "")
    verdict = ""
    if true_label is not None:
        verdict = ", right" if answer == true_label else ", wrong"
    figure = saliency_overlay(pixels, saliency, theme)
    figure.update_layout(title_text=f"{when}: answers {labels[answer]}, {float(probabilities[answer]):.0%}{verdict}")
    return figure
