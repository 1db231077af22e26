"""The Learning page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/learning.py``).

How the test set reorganises during training and when each test digit is learned, from the run's
per-epoch record of every test digit (:mod:`dashboard.learning`):

- the dense layer's activations projected to 2D (PCA, or t-SNE where scikit-learn is installed),
  coloured by class with the epoch's mistakes marked; hover shows the digit, a click opens it on the
  Draw page, through the layers;
- the confusion matrix at the same epoch (one slider drives both, in the browser for PCA);
- per-class "learned by epoch" curves, and the digits learned last, forgotten, or never learned.

URL: ``/learning?run=ID&digit=3&epoch=4&mode=tsne`` (``mode``: the projection, PCA by default).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html
from dash.exceptions import MissingCallbackContextException

from artifacts import ArtifactError
from dashboard.figures.digits import clicked_tile, digit_mosaic, png_uri
from dashboard.figures.embedding import (
    confusion_frame,
    embedding_figure,
    learned_curves_figure,
    scatter_frame,
    scatter_title,
)
from dashboard.figures.metrics import confusion_figure
from dashboard.learning import learned, projection
from dashboard.learning.history import NoTestHistory, TestHistory, read_history
from dashboard.store_access import Resolved, unreadable
from dashboard.ui.components import class_filter, error_card, explanation, notice, run_class_names
from dashboard.ui.drawn_page import DRAWN_THEME, drawn_theme_store, theme_patch
from dashboard.ui.epochs import choose_epoch, epoch_slider, nearest_epoch
from dashboard.ui.page import query_store, run_page, shown_run
from dashboard.ui.urlstate import build_search, parse_state

RUN = "learning-run"
QUERY = "learning-query"
THEME = "learning-theme"  # this page's copy of the app's theme (dashboard.ui.drawn_page)
DIGIT = "learning-digit"
METHOD = "learning-method"
EPOCH = "learning-epoch"
FRAMES = "learning-frames"  # every epoch's scatter (PCA) and confusion frames, swapped in the browser
SERVER_EPOCH = "learning-server-epoch"  # dcc.Store: a let-go epoch whose scatter the server draws (t-SNE)
SCATTER = "learning-scatter"
HOVER = "learning-hover"  # the hovered digit: thumbnail, answers, link
CONFUSION = "learning-confusion"
CURVES = "learning-curves"
LIST = "learning-list"
GALLERY = "learning-gallery"
GALLERY_TITLE = "learning-gallery-title"
GALLERY_IDS = "learning-gallery-ids"  # dcc.Store: the test indices of the gallery's tiles
NAV = "learning-nav"
MESSAGE = "learning-message"

GRAPH_CONFIG = {"displaylogo": False}
GALLERY_LIMIT = 40
GALLERY_COLUMNS = 10
THUMB_SCALE = 4  # the hovered digit's thumbnail: 28 px -> 112 px
LAST, FORGOTTEN, NEVER = "last", "forgotten", "never"
LISTS = {LAST: "learned last", FORGOTTEN: "forgotten", NEVER: "never learned"}
_CACHE = projection.ProjectionCache()

HOW_TO_READ = """
Every test digit of the run is a point: its position comes from the **dense layer's activations** (the
layer before the output), reduced from {units} numbers to 2 by **PCA** (the two directions along which the
digits differ most) or, where installed, **t-SNE** (which keeps neighbours together). Colour is the true
class; **×** marks the digits the network answers wrongly at that epoch. Move the **epoch slider** from 0
(the random, untrained network) to the end and watch the classes separate. Each epoch's picture is turned
(rotated or mirrored) to match the last epoch's and scaled to the same size, so what moves is the digits,
not the axes. Hover a point to see the digit; click it to follow it through the layers.
"""
LEARNED_TEXT = """
A digit is **learned** at the first epoch from which every later epoch answers it correctly (the last one
included). It is **forgotten** when a trained epoch answers it correctly and the next one wrongly (epoch 0
does not count: the random network's right answers are chance). **Never learned** digits are wrong at every
trained epoch and the last epoch gives their true class less than {never:.0%}: the network is confidently
wrong about them all along, which makes them candidates for a wrong label.
"""


def layout(**kwargs: Any) -> html.Div:
    """Return the page for the URL's run (the contract's choice), class, epoch and projection."""
    return html.Div([html.H2("Learning", className="page-title"), run_page("learning", kwargs)])


def body(resolved: Resolved, kwargs: dict[str, Any]) -> html.Div:
    """Return the page's body for a resolved run, drawn in :data:`DRAWN_THEME`: figures, frames, lists."""
    run = resolved.run
    state = parse_state(kwargs)
    try:
        history = read_history(run)
    except NoTestHistory as missing:
        return notice(str(missing), "warning")
    except ArtifactError as error:
        return error_card(unreadable(error))
    names = run_class_names(run)
    digit = state.get("digit", "all")
    methods = projection.available_methods()
    method = state.get("mode") if state.get("mode") in methods else projection.PCA
    epoch, epoch_message = choose_epoch(kwargs.get("epoch"), history.epochs)
    theme = DRAWN_THEME
    try:
        scatter = scatter_figure(history, method, epoch, digit, theme, names)
    except (ImportError, ValueError) as error:
        epoch_message = f"The {projection.METHOD_NAMES[method]} projection failed ({error}); showing PCA."
        method = projection.PCA
        scatter = scatter_figure(history, method, epoch, digit, theme, names)
    frames = learning_frames(history, method, digit, epoch, names)
    table = learned.learned_table(history.epochs, history.predicted, history.true_probability, history.labels)
    gallery_figure, gallery_title, gallery_ids = gallery(history, table, LAST, digit, theme, names, run.run_id)
    accuracy = (history.predicted[-1] == history.labels).mean()
    summary = html.P([f"Run {run.run_id}: {len(history.labels)} test digits over epochs {history.epochs[0]}–"
                      f"{history.epochs[-1]} ({len(history.feature_index)} of them in the embedding); ",
                      html.B(f"{accuracy:.1%}"), " answered correctly at the end."], className="text-body-secondary")
    method_options = [{"label": projection.METHOD_NAMES[name] + (" (slow: computed per epoch)"
                                                                 if name == projection.TSNE else ""), "value": name}
                      for name in methods]
    controls = dbc.Row([
        dbc.Col(class_filter(DIGIT, digit, names), className="d-flex align-items-center flex-wrap", lg=7),
        dbc.Col([dbc.Label("Projection", className="me-2"),
                 dbc.RadioItems(id=METHOD, options=method_options, value=method, inline=True)],
                className="d-flex align-items-center", lg=5),
    ], className="mb-2 g-2")
    units = history.features.shape[-1]
    embedding_card = dbc.Card(dbc.CardBody([
        html.H5("How the test set reorganises during training"),
        explanation("How to read the embedding", HOW_TO_READ.format(units=units)),
        dbc.Label("Epoch (0 = the untrained network)"),
        epoch_slider(EPOCH, history.epochs, epoch),
        notice(epoch_message, "warning") if epoch_message else None,
        dbc.Row([
            dbc.Col(dcc.Loading(dcc.Graph(id=SCATTER, figure=scatter, config=GRAPH_CONFIG), delay_show=400), lg=8),
            dbc.Col(html.Div(hover_hint(), id=HOVER, className="learning-hover"), lg=4),
        ]),
        dbc.Row([
            dbc.Col(dcc.Graph(id=CONFUSION, config=GRAPH_CONFIG,
                              figure=epoch_confusion(history, epoch, digit, theme, names)), lg=6),
            dbc.Col(dcc.Graph(id=CURVES, config=GRAPH_CONFIG,
                              figure=curves_figure(history, table, digit, theme, names)), lg=6),
        ]),
    ]), className="mb-3")
    learned_card = dbc.Card(dbc.CardBody([
        html.H5("When each digit is learned"),
        explanation("Learned, forgotten, never learned", LEARNED_TEXT.format(never=learned.NEVER_LEARNED_CONFIDENCE)),
        dbc.RadioItems(id=LIST, value=LAST, inline=True, className="mb-2",
                       options=[{"label": label, "value": key} for key, label in LISTS.items()]),
        html.Div(gallery_title, id=GALLERY_TITLE),
        dcc.Graph(id=GALLERY, figure=gallery_figure or {}, config={**GRAPH_CONFIG, "displayModeBar": False},
                  style={} if gallery_figure else {"display": "none"}, className="digit-gallery"),
    ]))
    return html.Div([
        dcc.Store(id=RUN, data=run.run_id),
        query_store(QUERY),
        drawn_theme_store(THEME),
        dcc.Store(id=FRAMES, data=frames),
        dcc.Store(id=SERVER_EPOCH),
        dcc.Store(id=GALLERY_IDS, data=gallery_ids),
        dcc.Location(id=NAV, refresh="callback-nav"),
        summary,
        html.Div(id=MESSAGE),
        controls,
        embedding_card,
        learned_card,
    ], className="learning-page")


# -- what the views show -------------------------------------------------------------------


def layouts(history: TestHistory, method: str, epoch: int) -> np.ndarray:
    """Return the (k, 2) layout of the embedded digits at ``epoch`` by ``method`` (cached per run and epoch).

    Raises:
        ImportError: t-SNE asked for without scikit-learn.
    """
    pca = _CACHE.get((history.key, projection.PCA), lambda: projection.pca_epochs(history.features))
    row = history.epochs.index(epoch)
    if method != projection.TSNE:
        return pca[row]
    return _CACHE.get((history.key, projection.TSNE, epoch),
                      lambda: projection.tsne_2d(history.features[row], pca[-1]))


def _bound(coords: np.ndarray) -> float:
    return float(np.abs(coords).max() * 1.05) if coords.size else 1.0


def scatter_figure(history: TestHistory, method: str, epoch: int, digit: Any, theme: str | None,
                   names: tuple[str, ...]):
    """Return the embedding scatter at ``epoch`` (PCA axes fixed over epochs, so frames swap in place)."""
    coords = layouts(history, method, epoch)
    row = history.epochs.index(epoch)
    labels = history.labels[history.feature_index]
    wrong = history.predicted[row][history.feature_index] != labels
    title = scatter_title(epoch, projection.METHOD_NAMES[method], wrong, labels, digit, names)
    bound = _bound(layouts(history, projection.PCA, history.epochs[-1]) if method == projection.TSNE else
                   _CACHE.get((history.key, projection.PCA), lambda: projection.pca_epochs(history.features)))
    return embedding_figure(coords, labels, wrong, history.feature_index, title, digit, theme, names,
                            bound if method == projection.PCA else None)


def _confusion_title(history: TestHistory, row: int) -> str:
    accuracy = float((history.predicted[row] == history.labels).mean())
    return f"Confusion matrix at epoch {history.epochs[row]} ({accuracy:.1%} right)"


def epoch_confusion(history: TestHistory, epoch: int, digit: Any, theme: str | None, names: tuple[str, ...]):
    """Return the confusion matrix of every test digit at ``epoch`` (counts; the chosen class outlined)."""
    row = history.epochs.index(epoch)
    matrix = learned.confusion_by_epoch(history.predicted[row:row + 1], history.labels)[0]
    figure = confusion_figure(matrix, "counts", digit, theme, names)
    figure.update_layout(title=dict(text=_confusion_title(history, row)))
    return figure


def learning_frames(history: TestHistory, method: str, digit: Any, epoch: int, names: tuple[str, ...]) -> dict:
    """Return what the browser swaps in while the epoch slider moves: every epoch's confusion counts and,
    for PCA (computed for every epoch at once), every epoch's scatter. ``drawn`` is the epoch drawn now."""
    matrices = learned.confusion_by_epoch(history.predicted, history.labels)
    frames: dict[str, Any] = {"epochs": history.epochs, "drawn": epoch, "scatter": None,
                              "confusion": {str(e): confusion_frame(matrices[row], _confusion_title(history, row))
                                            for row, e in enumerate(history.epochs)}}
    if method == projection.PCA:
        labels = history.labels[history.feature_index]
        scatter = {}
        for row, e in enumerate(history.epochs):
            wrong = history.predicted[row][history.feature_index] != labels
            title = scatter_title(e, projection.METHOD_NAMES[method], wrong, labels, digit, names)
            scatter[str(e)] = scatter_frame(layouts(history, method, e), labels, wrong, title, digit)
        frames["scatter"] = scatter
    return frames


def curves_figure(history: TestHistory, table: learned.LearnedTable, digit: Any, theme: str | None,
                  names: tuple[str, ...]):
    """Return the per-class learned-by-epoch curves."""
    shares = learned.learned_by_epoch(table, history.labels, history.epochs)
    return learned_curves_figure(shares, history.epochs, digit, theme, names)


def list_indices(table: learned.LearnedTable, labels: np.ndarray, which: str, digit: Any) -> np.ndarray:
    """Return the test indices of the chosen list (learned last, forgotten, never learned), in its order."""
    if which == FORGOTTEN:
        return learned.forgotten(table, labels, digit)
    if which == NEVER:
        return learned.never_learned(table, labels, digit)
    return learned.learned_last(table, labels, digit)


def gallery(history: TestHistory, table: learned.LearnedTable, which: str, digit: Any, theme: str | None,
            names: tuple[str, ...], run_id: str) -> tuple:
    """Return the chosen list's gallery: (figure or None, title, test indices of its tiles)."""
    chosen = list_indices(table, history.labels, which, digit)
    shown = chosen[:GALLERY_LIMIT]
    what = LISTS.get(which, LISTS[LAST])
    scope = "" if digit in (None, "all") else f" of class {names[int(digit)]}"
    more = f", showing the first {len(shown)}" if len(chosen) > len(shown) else ""
    title = [html.H6(f"Test digits{scope} {what}: {len(chosen)}{more}"),
             html.P("Click a digit to follow it through the layers (Draw page). Captions: true class, the epoch "
                    "it was learned (– never), and the confidence in its true class at the end.",
                    className="small text-body-secondary")]
    if len(shown) == 0:
        return None, [*title, notice("No test digits here.")], []
    captions = [f"{names[int(history.labels[i])]} "
                f"{'e' + str(table.learned_epoch[i]) if table.learned_epoch[i] >= 0 else '–'} "
                f"{table.final_confidence[i]:.0%}" for i in shown]
    figure = digit_mosaic(history.images[shown], captions, GALLERY_COLUMNS, theme,
                          hover="click to follow it through the layers")
    return figure, title, [int(i) for i in shown]


def hover_hint() -> html.P:
    """What the hover panel says before a point is hovered."""
    return html.P("Hover a point to see its digit; click it to follow it through the layers.",
                  className="small text-body-secondary")


def draw_link(run_id: str, index: int) -> str:
    """Return the Draw page's address of test digit ``index`` of ``run_id`` (shown through the layers)."""
    return "/draw" + build_search(run=run_id, test=int(index))


# -- callbacks -----------------------------------------------------------------------------


def _digit(value: Any) -> Any:
    """Return a class filter value as the page uses it: a class 0-9, else "all" (a request may send anything)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return value
    return "all"


def _triggered() -> Any:
    """The id of the input that fired the running callback (None when called outside one, as tests do)."""
    try:
        return dash.ctx.triggered_id
    except MissingCallbackContextException:
        return None


def _history(run_id: Any) -> tuple[TestHistory | None, tuple[str, ...]]:
    run = shown_run(run_id)
    if run is None:
        return None, run_class_names(None)
    try:
        return read_history(run), run_class_names(run)
    except (NoTestHistory, ArtifactError):
        return None, run_class_names(run)


def redraw(digit: Any, method: Any, theme: str | None, epoch: Any, run_id: Any) -> tuple:
    """Answer a class, projection or theme change: scatter, frames, confusion, curves and a message.

    A theme change sends Patches (what differs between the themes), not the figures.
    """
    skip = (dash.no_update,) * 5
    digit = _digit(digit)
    history, names = _history(run_id)
    if history is None:
        return skip
    epoch = nearest_epoch(history.epochs, epoch)
    if epoch is None:
        epoch = history.epochs[-1]
    method = method if method in projection.available_methods() else projection.PCA
    table = learned.learned_table(history.epochs, history.predicted, history.true_probability, history.labels)
    try:
        if _triggered() == THEME:
            return (theme_patch(lambda t: scatter_figure(history, method, epoch, digit, t, names), theme),
                    dash.no_update,
                    theme_patch(lambda t: epoch_confusion(history, epoch, digit, t, names), theme),
                    theme_patch(lambda t: curves_figure(history, table, digit, t, names), theme), None)
        scatter = scatter_figure(history, method, epoch, digit, theme, names)
    except (ImportError, ValueError) as error:
        return (*skip[:4], notice(f"The projection cannot be computed: {error}", "warning"))
    return (scatter, learning_frames(history, method, digit, epoch, names),
            epoch_confusion(history, epoch, digit, theme, names),
            curves_figure(history, table, digit, theme, names), None)


def tsne_epoch(epoch: Any, method: Any, digit: Any, theme: str | None, run_id: Any) -> Any:
    """Draw the t-SNE scatter at a let-go epoch (the browser asks only when it holds no frames for it)."""
    if method != projection.TSNE:
        return dash.no_update
    digit = _digit(digit)
    history, names = _history(run_id)
    epoch = nearest_epoch(history.epochs, epoch) if history is not None else None
    if epoch is None:
        return dash.no_update
    try:
        return scatter_figure(history, method, epoch, digit, theme, names)
    except (ImportError, ValueError):
        return dash.no_update


def _point_index(data: Any) -> int | None:
    try:
        index = int(data["points"][0]["customdata"])
    except (TypeError, KeyError, IndexError, ValueError, OverflowError):
        return None
    return index if index >= 0 else None


def hover_digit(hover: Any, epoch: Any, run_id: Any) -> Any:
    """Show the hovered digit: its thumbnail, true class, the answer at the slider's epoch, when it was learned."""
    index = _point_index(hover)
    history, names = _history(run_id)
    if index is None or history is None or not 0 <= index < len(history.labels):
        return dash.no_update
    epoch = nearest_epoch(history.epochs, epoch)
    epoch = history.epochs[-1] if epoch is None else epoch
    row = history.epochs.index(epoch)
    table = learned.learned_table(history.epochs, history.predicted[:, index:index + 1],
                                  history.true_probability[:, index:index + 1], history.labels[index:index + 1])
    label, answer = int(history.labels[index]), int(history.predicted[row, index])
    when = int(table.learned_epoch[0])
    thumb = np.kron(history.images[index], np.ones((THUMB_SCALE, THUMB_SCALE), dtype=np.uint8))
    return html.Div([
        html.Img(src=png_uri(thumb), alt=f"test digit {index}", className="learning-thumb mb-2",
                 style={"width": f"{28 * THUMB_SCALE}px", "imageRendering": "pixelated"}),
        html.H6(f"Test digit #{index}: true {names[label]}"),
        html.P([f"At epoch {epoch} the network answers ", html.B(names[answer]),
                f" ({'right' if answer == label else 'wrong'}; {float(history.true_probability[row, index]):.0%} "
                f"on the true class). ",
                f"Learned for good at epoch {when}." if when >= 0 else "Not learned by the last epoch."],
               className="small"),
        dcc.Link([html.I(className="bi bi-layers me-1"), "Follow it through the layers"],
                 href=draw_link(str(run_id), index), className="learning-follow link-info"),
    ])


def click_point(click: Any, run_id: Any) -> Any:
    """Open a clicked scatter point's digit on the Draw page, through the layers."""
    index = _point_index(click)
    if index is None or shown_run(run_id) is None:
        return dash.no_update
    return draw_link(str(run_id), index)


def choose_list(which: Any, digit: Any, theme: str | None, run_id: Any) -> tuple:
    """Answer a list or class change: the gallery's figure, its style, title and tile indices."""
    digit = _digit(digit)
    history, names = _history(run_id)
    if history is None:
        return (dash.no_update,) * 4
    table = learned.learned_table(history.epochs, history.predicted, history.true_probability, history.labels)
    which = which if which in LISTS else LAST
    figure, title, ids = gallery(history, table, which, digit, theme, names, str(run_id))
    if figure is not None and _triggered() == THEME:
        figure = theme_patch(lambda t: gallery(history, table, which, digit, t, names, str(run_id))[0], theme)
    if figure is None:
        return dash.no_update, {"display": "none"}, title, ids
    return figure, {}, title, ids


def open_tile(click: Any, shown: list[int] | None, run_id: Any) -> Any:
    """Open a clicked gallery digit on the Draw page, through the layers."""
    shown = shown if isinstance(shown, list) else []
    tile = clicked_tile(click, min(GALLERY_COLUMNS, len(shown)), len(shown))
    if tile is None or shown_run(run_id) is None:
        return dash.no_update
    index = shown[tile]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return dash.no_update
    return draw_link(str(run_id), index)
