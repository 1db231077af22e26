"""The Metrics page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/metrics.py``).

Per-class precision/recall/F1, the confusion matrix, and the digits behind each cell.

URL: ``/metrics?run=ID&digit=3&mode=normalized&cell=3-5``. A digit outlines its
row and column and narrows the gallery to its mistakes; a cell shows the test
digits of that true -> predicted pair; a probe digit opens in the activation explorer.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Patch, dcc, html

from artifacts import ArtifactError, Run, Status
from dashboard.figures.digits import clicked_tile, digit_mosaic
from dashboard.figures.metrics import (
    METRICS,
    cell_mark,
    class_metrics_figure,
    confusion_figure,
    confusion_style,
    confusion_values,
    gallery_indices,
    highlight_shapes,
    metric_opacity,
    probability_figure,
)
from dashboard.store_access import Resolved, resolve_run, unreadable
from dashboard.ui.components import (
    class_filter,
    class_word,
    error_card,
    explanation,
    notice,
    run_class_names,
)
from dashboard.ui.drawn_page import DRAWN_THEME, drawn_theme_store, theme_patch
from dashboard.ui.export import export_only_config
from dashboard.ui.page import query_store, run_page, start_page
from dashboard.ui.urlstate import CELL_PATTERN, build_search, parse_state

METRICS_RUN = "metrics-run"
METRICS_QUERY = "metrics-query"
METRICS_THEME = "metrics-theme"  # this page's copy of the app's theme (dashboard.ui.page)
METRICS_CELL = "metrics-cell"  # dcc.Store: "T-P" of the chosen confusion cell, or None
METRICS_GALLERY_IDS = "metrics-gallery-ids"  # dcc.Store: test indices of the gallery's tiles
METRICS_NAV = "metrics-nav"
METRICS_DIGIT = "metrics-digit"
METRICS_MODE = "metrics-mode"
METRICS_MESSAGE = "metrics-message"
METRICS_CONTENT = "metrics-content"
METRICS_TABLE = "metrics-table"
METRICS_BARS = "metrics-bars"
METRICS_CONFUSION = "metrics-confusion"
METRICS_GALLERY_TITLE = "metrics-gallery-title"
METRICS_GALLERY = "metrics-gallery"
METRICS_DETAIL = "metrics-detail"
METRICS_PROBABILITIES = "metrics-probabilities"  # a clicked non-probe digit's class probabilities

GALLERY_LIMIT = 60
GALLERY_COLUMNS = 10
PROBE_MARK = "★"
GRAPH_CONFIG = {"displaylogo": False}

PRF_TEXT = """
For one digit, say 3: **precision** is the share of the network's "3" answers that really are 3s (few
false alarms); **recall** is the share of real 3s it answers "3" (few misses). **F1** combines both
(their harmonic mean): it is high only when both are. **Support** is how many test digits of that class
there are; a score on few digits is less certain.
"""
CONFUSION_TEXT = """
The **confusion matrix** counts, for every true digit (row), what the network answered (column). The
diagonal holds the right answers; everything else is a mistake, e.g. row 4, column 9 counts 4s taken for
9s. **Normalized** divides each row by its total, so rows compare even when classes have different sizes.
Click any cell to see the digits in it.
"""


def layout(**kwargs: Any) -> html.Div:
    """Return the Metrics page for the URL's ``run``, ``digit``, ``mode`` and ``cell``.

    A URL that names a run is drawn at once, figures and gallery too (no callback round trip at
    load); without one the page contract's shell draws :func:`body` for the browser's active run.
    """
    start = start_page("Metrics", "/metrics", kwargs)
    if start.stop is not None:
        return start.stop
    state = start.state
    drawn = draw(state["run"], state, start.names) if state.get("run") else run_page("metrics", kwargs)
    return html.Div([start.heading, drawn], className="metrics-page")


def body(resolved: Resolved, kwargs: dict[str, Any]) -> html.Div:
    """Return the page's body for the run the page contract chose (the URL named none)."""
    return draw(resolved.run.run_id, parse_state(kwargs), run_class_names(resolved.run))


def draw(run_id: str, state: dict[str, Any], names: tuple[str, ...] | None) -> html.Div:
    """Return the page's body for ``run_id`` and the URL's ``state``, drawn in the layout's theme."""
    digit, cell = state.get("digit", "all"), state.get("cell")
    mode = state.get("mode") if state.get("mode") in ("counts", "normalized") else "counts"
    table, bars, confusion, message, style, shown = _view(run_id, digit, mode)
    gallery_parts = (dash.no_update, {"display": "none"}, None, None, None)
    if shown:
        confusion.update_layout(shapes=highlight_shapes(digit, DRAWN_THEME) + cell_mark(_cell_pair(cell), DRAWN_THEME))
        gallery_parts = gallery(cell, digit, shown, DRAWN_THEME)
    tiles, tiles_style, gallery_title, gallery_ids, detail = gallery_parts
    controls = dbc.Row([
        dbc.Col(class_filter(METRICS_DIGIT, digit, names), className="d-flex align-items-center flex-wrap", lg=8),
        dbc.Col([dbc.Label("Confusion matrix", className="me-2"),
                 dbc.RadioItems(id=METRICS_MODE, value=mode, inline=True,
                                options=[{"label": "counts", "value": "counts"},
                                         {"label": "normalized by row", "value": "normalized"}])],
                className="d-flex align-items-center", lg=4),
    ], className="mb-2 g-2")

    def figure(drawn: Any) -> dict:
        return {} if drawn is dash.no_update else {"figure": drawn}

    content = html.Div([
        controls,
        explanation("Precision, recall and F1", PRF_TEXT),
        dbc.Row([
            dbc.Col(html.Div(None if table is dash.no_update else table, id=METRICS_TABLE), lg=4),
            dbc.Col(dcc.Graph(id=METRICS_BARS, config=GRAPH_CONFIG, **figure(bars)), lg=8),
        ]),
        explanation("The confusion matrix", CONFUSION_TEXT),
        dbc.Row([
            dbc.Col(dcc.Graph(id=METRICS_CONFUSION, config=GRAPH_CONFIG, **figure(confusion)), lg=6),
            dbc.Col([
                html.Div(gallery_title, id=METRICS_GALLERY_TITLE),
                dcc.Graph(id=METRICS_GALLERY, config=export_only_config(),
                          style=tiles_style, className="digit-gallery", **figure(tiles)),
                dcc.Loading(html.Div(detail, id=METRICS_DETAIL), type="dot"),
            ], lg=6),
        ]),
    ], id=METRICS_CONTENT, style=style)
    return html.Div([
        dcc.Store(id=METRICS_RUN, data=shown),
        query_store(METRICS_QUERY),
        drawn_theme_store(METRICS_THEME),
        dcc.Store(id=METRICS_CELL, data=cell),
        dcc.Store(id=METRICS_GALLERY_IDS, data=gallery_ids),
        dcc.Location(id=METRICS_NAV, refresh="callback-nav"),
        html.Div(message, id=METRICS_MESSAGE),
        content,
    ])


def metrics_table(frame, digit: Any, names: tuple[str, ...] | None = None) -> dbc.Table:
    """Return the per-class table (classes named by ``names``, the digits when None); the chosen row is highlighted."""
    header = html.Thead(html.Tr([html.Th(class_word(names)), html.Th("precision"), html.Th("recall"), html.Th("F1"),
                                 html.Th("support")]))
    rows = [
        html.Tr([html.Td(names[int(row["class"])] if names else int(row["class"])),
                 *[html.Td(f"{row[m]:.3f}") for m in METRICS],
                 html.Td(int(row["support"]))], className="table-primary" if digit == int(row["class"]) else None)
        for _, row in frame.iterrows()
    ]
    return dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, className="metrics-table")


def _complete_run(run_id: str | None) -> Run | None:
    """Return the complete run a callback draws (its run store's id); None before one is shown, or when it is gone."""
    resolved = resolve_run(run_id) if run_id else None
    return resolved.run if resolved is not None and resolved.ok else None


def _cell_pair(cell: str | None) -> tuple[int, int] | None:
    """Return the chosen confusion cell "T-P" as (true, predicted), or None."""
    match = CELL_PATTERN.fullmatch(cell or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _error(error: ArtifactError) -> dbc.Alert:
    return error_card(unreadable(error))


def _view(run_id: str, digit: Any, mode: str) -> tuple:
    """Draw ``run_id``'s table, bars and confusion matrix in the layout's theme, or an error card (charts hidden).

    Returns:
        (table, bars, confusion, message, content style, the shown run's id or None).
    """
    theme = DRAWN_THEME
    failed = (dash.no_update,) * 3
    resolved = resolve_run(run_id)
    if not resolved.ok:
        return *failed, unfinished_message(resolved) or error_card(resolved.error), {"display": "none"}, None
    try:
        frame, matrix = resolved.run.class_metrics(), resolved.run.confusion()
    except ArtifactError as error:
        return *failed, _error(error), {"display": "none"}, None
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    summary = html.P(["Run ", html.B(resolved.run.run_id), f": {int(matrix.sum())} test digits, ",
                      html.B(f"{accuracy:.1%}"), " answered correctly."], className="text-body-secondary")
    names = run_class_names(resolved.run)
    return (metrics_table(frame, digit, names), class_metrics_figure(frame, digit, theme, names),
            confusion_figure(matrix, mode, digit, theme, names), summary, {}, resolved.run.run_id)


def unfinished_message(resolved) -> dbc.Alert | None:
    """Return what a cancelled or failed run offers instead of metrics (None for other errors).

    Metrics come from the test-set evaluation after the last epoch, which such a run never reached;
    the epochs it did finish are on the Training page.
    """
    manifest = resolved.info
    if manifest is None:
        return None
    status = manifest.status
    if status not in (Status.CANCELLED, Status.FAILED):
        return None
    try:
        done = len(resolved.run.history())
    except ArtifactError:
        done = 0
    planned = manifest.planned_epochs or "?"
    run_id = resolved.run.run_id
    return dbc.Alert([
        html.H5(f"Run '{run_id}' was {status}", className="alert-heading"),
        html.P([f"It stopped after {done} of {planned} epochs, before the test-set evaluation that these "
                "metrics come from, so it has none. What it recorded is on the ",
                dcc.Link("Training page", href=f"/training?run={run_id}"),
                ": the loss and accuracy of the epochs it finished."], className="mb-0"),
    ], color="warning", className="unfinished-run")


def highlight(digit: Any, mode: str, run_id: str | None, theme: str | None) -> tuple:
    """Patch what a digit or the counts/normalized toggle changes: opacities, outlines, z and labels."""
    run = _complete_run(run_id)
    if run is None:
        return (dash.no_update,) * 3
    try:
        frame, matrix = run.class_metrics(), run.confusion()
    except ArtifactError:
        return (dash.no_update,) * 3
    bars = Patch()
    for trace in range(len(METRICS)):
        bars["data"][trace]["marker"]["opacity"] = metric_opacity(digit)
    confusion = Patch()
    values = confusion_values(matrix, mode if mode in ("counts", "normalized") else "counts")
    style = confusion_style(mode, values)
    confusion["data"][0]["z"] = values
    confusion["data"][0]["zmax"] = style["zmax"]
    confusion["data"][0]["text"] = style["text"]
    confusion["data"][0]["hovertemplate"] = style["hovertemplate"]
    confusion["data"][0]["colorbar"]["title"]["text"] = style["colorbar_title"]
    return metrics_table(frame, digit, run_class_names(run)), bars, confusion


def choose_digit(digit: Any, mode: str, run_id: str | None, theme: str | None) -> tuple:
    """Answer a class filter change at once: table, bars, outlines, no chosen cell, that digit's mistakes.

    Returns:
        (table, bars Patch, confusion Patch, cell, gallery figure, gallery style, gallery title,
        gallery ids, detail).
    """
    table, bars, confusion = highlight(digit, mode, run_id, theme)
    if confusion is not dash.no_update:
        confusion["layout"]["shapes"] = highlight_shapes(digit, theme)
    return (table, bars, confusion, None, *gallery(None, digit, run_id, theme))


def choose_mode(mode: str, digit: Any, run_id: str | None, theme: str | None) -> Patch:
    """Answer the counts/normalized toggle: the confusion matrix's values, colour range and labels."""
    return highlight(digit, mode, run_id, theme)[2]


def click_cell(click: dict | None, digit: Any, run_id: str | None, theme: str | None) -> tuple:
    """Answer a click on a confusion cell: the chosen cell, its mark and its digits.

    Returns:
        (cell, confusion Patch, gallery figure, gallery style, gallery title, gallery ids, detail).
    """
    cell = choose_cell(click)
    if cell is dash.no_update:
        return (dash.no_update,) * 7
    return (cell, mark_cell(cell, digit, run_id, theme), *gallery(cell, digit, run_id, theme))


def retheme(theme: str | None, run_id: str | None, digit: Any, mode: str, cell: str | None) -> tuple:
    """Patch the confusion matrix and the gallery from the other theme into ``theme``.

    The bars differ between themes in their template alone: the browser swaps it.
    """
    run = _complete_run(run_id)
    if run is None:
        return (dash.no_update,) * 2
    try:
        matrix = run.confusion()
    except ArtifactError:
        return (dash.no_update,) * 2
    names = run_class_names(run)
    mode = mode if mode in ("counts", "normalized") else "counts"
    confusion = theme_patch(lambda t: confusion_figure(matrix, mode, digit, t, names, _cell_pair(cell)), theme)
    if gallery(cell, digit, run_id, theme)[0] is dash.no_update:  # no digits shown: nothing to patch
        return confusion, dash.no_update
    return confusion, theme_patch(lambda t: gallery(cell, digit, run_id, t)[0], theme)


def mark_cell(cell: str | None, digit: Any, run_id: str | None, theme: str | None) -> Patch:
    """Outline the chosen digit's row and column and mark the chosen cell (the only writer of the shapes)."""
    if not run_id:
        return dash.no_update
    pair = _cell_pair(cell)
    confusion = Patch()
    confusion["layout"]["shapes"] = highlight_shapes(digit, theme) + cell_mark(pair, theme)
    return confusion


def choose_cell(click: dict | None) -> str | None:
    """Return the clicked confusion cell as "T-P" (true row, predicted column)."""
    try:
        point = click["points"][0]
        cell = f"{int(point['y'])}-{int(point['x'])}"
    except (TypeError, KeyError, IndexError, ValueError):
        return dash.no_update
    return cell if CELL_PATTERN.fullmatch(cell) else dash.no_update


def gallery(cell: str | None, digit: Any, run_id: str | None, theme: str | None) -> tuple:
    """Show the digits of the chosen cell (or the chosen digit's mistakes), at most GALLERY_LIMIT."""
    hidden = {"display": "none"}
    if not run_id:
        return dash.no_update, hidden, None, None, None
    resolved = resolve_run(run_id)
    try:
        if not resolved.ok:
            return dash.no_update, hidden, error_card(resolved.error), None, None
        predictions = resolved.run.predictions()
        probe_ids = set(resolved.run.probes()["ids"].tolist())
    except ArtifactError as error:
        return dash.no_update, hidden, _error(error), None, None
    pair = _cell_pair(cell)
    labels, predicted = predictions["labels"], predictions["predicted"]
    names = run_class_names(resolved.run)
    chosen = gallery_indices(labels, predicted, predictions["probabilities"], pair, digit)
    if pair:
        what = f"True {names[pair[0]]}, predicted {names[pair[1]]}"
    else:
        what = "Mistakes" + ("" if digit in (None, "all") else f" involving {class_word(names)} {names[digit]}")
    shown = chosen[:GALLERY_LIMIT]
    more = f", showing the {len(shown)} most confident" if len(chosen) > len(shown) else ""
    title = [html.H5(f"{what}: {len(chosen)} test digit{'s' if len(chosen) != 1 else ''}{more}"),
             html.P(f"Click a digit: {PROBE_MARK} marks probe digits, which open in the activation explorer; "
                    "any other digit shows its class probabilities.", className="small text-body-secondary")]
    if len(shown) == 0:
        return dash.no_update, hidden, [*title, notice("No test digits here.")], [], None
    probabilities = predictions["probabilities"]
    captions = [f"{names[labels[i]]}→{names[predicted[i]]} {float(probabilities[i, predicted[i]]):.0%}"
                + (PROBE_MARK if int(i) in probe_ids else "") for i in shown]
    figure = digit_mosaic(predictions["images"][shown], captions, GALLERY_COLUMNS, theme)
    return figure, {}, title, [int(i) for i in shown], None


def open_digit(click: dict | None, shown: list[int] | None, run_id: str | None, theme: str | None) -> tuple:
    """Open a clicked probe digit in the activation explorer, or show another digit's probabilities."""
    shown = shown or []
    tile = clicked_tile(click, min(GALLERY_COLUMNS, len(shown)), len(shown))
    run = _complete_run(run_id)
    if tile is None or run is None:
        return dash.no_update, dash.no_update
    index = shown[tile]
    try:
        probe_ids = run.probes()["ids"]
        predictions = run.predictions()
    except ArtifactError as error:
        return dash.no_update, _error(error)
    position = np.flatnonzero(probe_ids == index)
    if len(position):
        return "/activations" + build_search(run=run.run_id, probe=int(position[0])), dash.no_update
    if not 0 <= index < len(predictions["labels"]):
        return dash.no_update, notice("That digit is no longer in this run's predictions.", color="warning")
    label, guess = int(predictions["labels"][index]), int(predictions["predicted"][index])
    names = run_class_names(run)
    thumb = digit_mosaic(predictions["images"][index:index + 1], [f"#{index}"], 1, theme)
    thumb.update_layout(height=130, width=130)
    return dash.no_update, [
        html.H6(f"Test digit #{index}: true {names[label]}, answered {names[guess]}"),
        html.P(["Not a probe digit, so there is no recording of it from training; here is what the network "
                "answered. ", dcc.Link([html.I(className="bi bi-layers me-1"), "Follow it through the layers"],
                                      href="/draw" + build_search(run=run.run_id, test=index),
                                      className="metrics-follow link-info")],
               className="small text-body-secondary"),
        dbc.Row([
            dbc.Col(dcc.Graph(figure=thumb, config={"displayModeBar": False, "staticPlot": True}), width="auto"),
            dbc.Col(dcc.Graph(figure=probability_figure(predictions["probabilities"][index], label, theme, names),
                              id=METRICS_PROBABILITIES, config=GRAPH_CONFIG)),
        ], className="g-2 align-items-center"),
    ]
