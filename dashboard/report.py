"""A run as one self-contained HTML file that opens offline, with no server (issue 14, "Take it with you").

The report holds the run's settings and results, its training curves, per-class metrics and
confusion matrix, every conv layer's filters, and one probe digit per class through the layers
(input, each layer's feature maps, prediction). It is built from the same pure figure builders as
the pages; plotly.js is inlined once, images are PNG data URIs, and nothing points at the network
(no CDN, no web fonts), so the file works from a USB stick. The figures' toolbars download PNG and
SVG as the dashboard's do (``assets/export.js``, inlined too).

A model imported with ``python -m pipeline import`` has the same report from what it recorded (its
metrics, the filters of every conv kernel and the probes through every layer of its one snapshot);
it says that it has no training history instead of drawing empty curves.

Used by the Runs page's report button and by ``python -m dashboard report RUN_ID``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from artifacts import ArtifactError, Manifest, Run, Status
from artifacts.format import ACTIVATION_PREFIX, KERNEL_PREFIX, SNAPSHOT_PROBABILITIES, SNAPSHOT_PROBE_INDEX
from dashboard.figures.activations import indexed_png, mosaic_columns, mosaic_frame
from dashboard.figures.architecture import kernel_grid
from dashboard.figures.digits import png_uri
from dashboard.figures.metrics import class_metrics_figure, confusion_figure
from dashboard.figures.training import class_accuracy_figure, curves_figure
from dashboard.store_access import describe_architecture

EXPORT_JS = Path(__file__).resolve().parent / "assets" / "export.js"
THEME = "light"
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
PIXELS_PER_CELL = 3  # screen pixels per digit pixel in the probes' images
MOSAIC_WIDTH = 420  # the widest feature-map mosaic, in screen pixels
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem; color: #212529; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem;
       border-bottom: 1px solid #dee2e6; padding-bottom: .3rem; }
.muted { color: #6c757d; } .note { background: #fff3cd; padding: .5rem .8rem; border-radius: 4px; }
table { border-collapse: collapse; font-size: .9rem; } td, th { padding: .2rem .6rem; text-align: left;
       border-bottom: 1px solid #e9ecef; } th { font-weight: 600; } td.num { text-align: right; }
.probe { display: flex; flex-wrap: wrap; align-items: flex-start; gap: .8rem; padding: .8rem 0;
       border-bottom: 1px solid #e9ecef; }
.probe figure { margin: 0; } .probe figcaption { font-size: .75rem; color: #6c757d; max-width: 260px; }
.probe img { image-rendering: pixelated; display: block; }
.bars { font-size: .75rem; min-width: 150px; } .bar { display: flex; align-items: center; gap: .3rem; }
.bar span { width: 1.4rem; text-align: right; } .bar div { height: .55rem; background: #4c78a8; }
.bar.predicted div { background: #d62728; } .bar.true div { background: #2ca02c; }
.right { color: #2ca02c; font-weight: 600; } .wrong { color: #d62728; font-weight: 600; }
"""


IMPORTED_EPOCHS = "trained elsewhere (an imported model)"
NO_HISTORY = ("An imported model has no training history: it was trained elsewhere, so there are no training "
              "curves and no per-epoch snapshots, only the model as it was imported.")


class ReportError(Exception):
    """The run has no report (it did not complete, or its manifest cannot be read); the message is for the user."""


def build_report(run: Run) -> str:
    """Return the HTML report of a complete run: one self-contained page that opens offline.

    A section whose files an older run lacks says so in place of its figures.

    Raises:
        ReportError: the run is not complete, or its manifest cannot be read.
    """
    try:
        info = run.info()
    except ArtifactError as error:
        raise ReportError(f"Run '{run.run_id}' cannot be read: {error.reason} ({error.filename}).") from error
    if not info.is_complete:
        why = f": {info.error}" if info.error else ""
        then = "wait until it completes" if info.status == Status.RUNNING else "train it again"
        raise ReportError(f"Run '{run.run_id}' is {info.status}{why}. Only a complete run has a report; "
                          f"{then} or pick another run.")
    sections = [
        _section("The run", lambda: _summary(run, info)),
        _section("Training curves", lambda: _curves(run, info)),
        _section("Metrics on the test split", lambda: _metrics(run, info)),
        _section("Filters", lambda: _filters(run, info)),
        _section("One probe digit per class through the layers", lambda: _probes(run, info)),
    ]
    title = f"Run {run.run_id} · CNN MNIST Visualizer report"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title><style>{STYLE}</style>",
        # The one copy of plotly.js, then the toolbar's PNG and SVG downloads (assets/export.js).
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        f'<script type="text/javascript">{EXPORT_JS.read_text(encoding="utf-8")}</script>',
        f'</head><body data-cnnviz-run="{_text(run.run_id)}">',
        f"<h1>Run {_text(run.run_id)}</h1>",
        '<p class="muted">A report of the CNN MNIST Visualizer: it needs no server and no network. '
        "Each chart's toolbar (top right, on hover) downloads it as PNG or SVG.</p>",
        *sections,
        "</body></html>",
    ])


def _div(figure: go.Figure, name: str) -> str:
    """Return the figure as a div with the id ``name`` (stable: the same run gives the same bytes)."""
    return pio.to_html(figure, include_plotlyjs=False, full_html=False, config=FIGURE_CONFIG, div_id=name,
                       default_width="100%")


def _section(title: str, build: Callable[[], str]) -> str:
    try:
        body = build()
    except (ArtifactError, KeyError, IndexError, TypeError, ValueError) as error:
        reason = error.reason if isinstance(error, ArtifactError) else str(error)
        body = _note(f"This part cannot be shown for this run: {reason}")
    return f"<section><h2>{_text(title)}</h2>\n{body}\n</section>"


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _note(message: str) -> str:
    return f'<p class="note">{_text(message)}</p>'


def _table(rows: Sequence[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{_text(key)}</th><td>{_text(value)}</td></tr>" for key, value in rows)
    return f"<table>{cells}</table>"


def _summary(run: Run, info: Manifest) -> str:
    metrics, dataset = info.metrics, info.dataset
    sizes = ", ".join(f"{name} {size:,}" for name, size in (("train", dataset.train_size),
                                                             ("validation", dataset.validation_size),
                                                             ("test", dataset.test_size)) if size is not None)
    rows = [
        ("created", info.created.replace("T", " ")),
        ("finished", (info.finished or "?").replace("T", " ")),
        ("dataset", f"{dataset.name or '?'}" + (f" ({sizes})" if sizes else "")),
        ("architecture", describe_architecture(info)),
        ("epochs", IMPORTED_EPOCHS if info.is_imported else
         metrics.epochs_completed if metrics.epochs_completed is not None else info.planned_epochs),
        ("test accuracy", "?" if metrics.test_accuracy is None else f"{metrics.test_accuracy:.2%}"),
        ("test loss", "?" if metrics.test_loss is None else f"{metrics.test_loss:.4f}"),
        ("training time", "?" if metrics.train_seconds is None else f"{metrics.train_seconds:.0f} s"),
    ]
    if dataset.test_split_note:
        rows.append(("test split", dataset.test_split_note))
    return _table(rows)


def _curves(run: Run, info: Manifest) -> str:
    if info.is_imported:
        return _note(NO_HISTORY)
    history = run.history()
    if history.empty:
        return _note("This run recorded no epochs.")
    return (_div(curves_figure(history, THEME), "curves")
            + _div(class_accuracy_figure(history, "all", THEME, info.class_names), "class-accuracy"))


def _metrics(run: Run, info: Manifest) -> str:
    frame = run.class_metrics()
    names = info.class_names
    header = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
    rows = "".join(
        f"<tr><td>{_text(names[int(row['class'])])}</td>"
        + "".join(f'<td class="num">{float(row[key]):.3f}</td>' for key in ("precision", "recall", "f1"))
        + f'<td class="num">{int(row["support"]):,}</td></tr>'
        for _, row in frame.iterrows()
    )
    confusion = confusion_figure(run.confusion(), "counts", "all", THEME, names)
    # The page's title invites a click that opens the cell's digits: the report has no such gallery.
    confusion.update_layout(title_text="Confusion matrix: rows the true class, columns the predicted one")
    return (_div(class_metrics_figure(frame, "all", THEME, names), "class-metrics")
            + f"<table>{header}{rows}</table>"
            + _div(confusion, "confusion"))


def _last_snapshot(run: Run) -> tuple[int, dict[str, np.ndarray]]:
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ValueError("it stored no snapshots")
    return epochs[-1], run.snapshot(epochs[-1])


def _when(info: Manifest, epoch: int) -> str:
    """Return which network a snapshot shows: "epoch 3", or for an imported model "as imported"."""
    return "as imported" if info.is_imported else f"epoch {epoch}"


def _filters(run: Run, info: Manifest) -> str:
    epoch, snapshot = _last_snapshot(run)
    parts = []
    for spec in info.layers():
        kernel = snapshot.get(KERNEL_PREFIX + spec.name)
        if kernel is None:
            continue
        title = f"{spec.name}: {kernel.shape[3]} filters of {kernel.shape[0]}x{kernel.shape[1]}" + \
            (f", mean over {kernel.shape[2]} input channels" if kernel.shape[2] > 1 else "") + f", {_when(info, epoch)}"
        parts.append(_div(kernel_grid(kernel, title, THEME), f"filters-{spec.name}"))
    return "".join(parts) or _note("This model has no Conv2D layer, so it has no filters to show."
                                   if info.is_imported else "This run stored no conv kernels.")


def _image(uri: str, width: int, caption: str) -> str:
    return (f'<figure><img src="{uri}" width="{width}" alt="{_text(caption)}">'
            f"<figcaption>{_text(caption)}</figcaption></figure>")


def _vector_png(values: np.ndarray) -> tuple[str, int]:
    """Return a dense layer's outputs as a grid PNG (NaN-padded) and its column count."""
    values = np.asarray(values, dtype=np.float32).ravel()
    columns = mosaic_columns(values.size)
    padded = np.full(-(-values.size // columns) * columns, np.nan, dtype=np.float32)
    padded[:values.size] = values
    low, high = min(0.0, float(values.min())), float(values.max())
    return indexed_png(padded.reshape(-1, columns), low, high if high > low else low + 1.0), columns


def _bars(probabilities: np.ndarray, label: int, names: Sequence[str]) -> str:
    predicted = int(np.argmax(probabilities))
    rows = []
    for k, value in enumerate(probabilities):
        kind = " predicted" if k == predicted and k != label else (" true" if k == label else "")
        rows.append(f'<div class="bar{kind}"><span>{_text(names[k])}</span>'
                    f'<div style="width:{max(1, round(float(value) * 100))}px"></div>{float(value):.0%}</div>')
    verdict = "right" if predicted == label else "wrong"
    return (f'<div class="bars"><div class="{verdict}">predicted {_text(names[predicted])} '
            f"({float(probabilities[predicted]):.0%}), label {_text(names[label])}</div>{''.join(rows)}</div>")


def _probes(run: Run, info: Manifest) -> str:
    epoch, snapshot = _last_snapshot(run)
    probes = run.probes()
    stored = snapshot[SNAPSHOT_PROBE_INDEX]
    labels = probes["labels"][stored]
    names = info.class_names
    layers = [spec for spec in info.layers() if ACTIVATION_PREFIX + spec.name in snapshot and spec.name != "output"]
    which = "The model as imported" if info.is_imported else f"The network at epoch {epoch}"
    parts = [f'<p class="muted">{which}: the first probe digit of each class, what each '
             "layer makes of it (every channel's feature map, dark low, yellow high, each layer on its own "
             "scale) and the class probabilities it ends with.</p>"]
    if not layers:
        parts.append(_note("No layer of this model has feature maps (an output of height x width x channels): "
                           "each digit goes from its pixels straight to its probabilities here."))
    for k in range(len(names)):
        rows = np.flatnonzero(labels == k)
        if not rows.size:
            parts.append(_note(f"No probe digit of class {names[k]} is stored."))
            continue
        row, probe = int(rows[0]), int(stored[rows[0]])
        image = np.asarray(probes["images"][probe])
        pieces = [_image(png_uri(image.astype(np.uint8)), image.shape[1] * PIXELS_PER_CELL,
                         f"input: probe {probe}, class {names[k]}")]
        for spec in layers:
            maps = np.asarray(snapshot[ACTIVATION_PREFIX + spec.name][row], dtype=np.float32)
            if maps.ndim == 3:
                columns = mosaic_columns(maps.shape[2])
                width = columns * (maps.shape[1] + 1) - 1
                shape = "x".join(str(size) for size in maps.shape)
                pieces.append(_image(mosaic_frame(maps, columns)["source"], min(width * 2, MOSAIC_WIDTH),
                                     f"{spec.name} ({spec.kind}, {shape})"))
            elif maps.ndim == 1:
                uri, columns = _vector_png(maps)
                pieces.append(_image(uri, columns * 8, f"{spec.name} ({spec.kind}, {maps.size} units)"))
        pieces.append(_bars(snapshot[SNAPSHOT_PROBABILITIES][row], k, names))
        parts.append(f'<div class="probe">{"".join(pieces)}</div>')
    return "".join(parts)
