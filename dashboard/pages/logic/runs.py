"""The Runs page's layout, ids and what its callbacks compute (its Dash wiring: ``dashboard/pages/runs.py``).

Every run in the store, the active run, and two runs compared side by side.

URL: ``/?run=A&compare=B``. The run chosen here becomes the app's active run
(the ACTIVE_RUN store), which every other page shows unless its URL names a run.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from artifacts import ArtifactError, ArtifactStore, InvalidRunId, RunNotFound, RunSummary, Status
from dashboard.figures.metrics import confusion_difference_figure, f1_difference_figure
from dashboard.figures.training import compare_curves_figure
from dashboard.report import ReportError, build_report
from dashboard.settings import current_settings
from dashboard.store_access import choose_run, describe_architecture, get_store, resolve_run, run_summaries, unreadable
from dashboard.training import jobs
from dashboard.ui import ids
from dashboard.ui.components import (
    error_card,
    explanation,
    notice,
    onboarding,
    run_class_names,
    status_badge,
)
from dashboard.ui.drawn_page import DRAWN_THEME, drawn_theme_store, theme_patch
from dashboard.ui.page import query_store
from dashboard.ui.urlstate import build_search, parse_state

RUNS_URL = "runs-url"  # dcc.Store: the run and compare ids the URL asked for
RUNS_QUERY = "runs-query"  # dcc.Store: the query string pushed to the address bar
RUNS_THEME = "runs-theme"  # this page's copy of the app's theme (dashboard.ui.page)
RUNS_SELECT = "runs-select"
RUNS_COMPARE_SELECT = "runs-compare-select"
RUNS_COMPARE = "runs-compare"
RUNS_ACTIVE_NOTE = "runs-active-note"
RUNS_ROW = "runs-row"  # pattern-matching id type of the table's rows: {"type": RUNS_ROW, "run": run_id}
RUNS_TABLE = "runs-table"  # the table and the broken runs' cards, redrawn after a delete
RUNS_DELETE = "runs-delete"  # pattern-matching id type of a row's delete button: {"type": RUNS_DELETE, "run": id}
RUNS_DELETE_TARGET = "runs-delete-target"  # dcc.Store: the run the open dialog asks about
RUNS_DELETE_MODAL = "runs-delete-modal"
RUNS_DELETE_TEXT = "runs-delete-text"
RUNS_DELETE_CONFIRM = "runs-delete-confirm"
RUNS_DELETE_DISMISS = "runs-delete-dismiss"
RUNS_DELETE_MESSAGE = "runs-delete-message"
RUNS_COMPARE_CURVES = "runs-compare-curves"
RUNS_COMPARE_F1 = "runs-compare-f1"
RUNS_COMPARE_CONFUSION = "runs-compare-confusion"
RUNS_PLOTLY = "runs-plotly"  # a graph nobody sees: see the layout
RUNS_REPORT = "runs-report"  # pattern-matching id type of a row's report button: {"type": RUNS_REPORT, "run": id}
RUNS_REPORT_DOWNLOAD = "runs-report-download"
RUNS_REPORT_MESSAGE = "runs-report-message"
NO_COMPARE = "(none)"  # the compare select's "no second run" value: never a valid run id

COMPARE_TEXT = """
Pick a second run to lay the two side by side. The **curves** overlay both runs' validation loss and
accuracy per epoch (the first run solid, the second dashed). The **F1 difference** is the first run's
F1 minus the second's for each digit: bars above zero are digits the first run handles better. The
**confusion difference** subtracts the second run's row-normalized confusion matrix from the first's:
blue on the diagonal means the first run gets more of that digit right, blue off the diagonal means it
makes that mistake more often (red: the second run does).
"""


def _bad_param_notes(kwargs: dict[str, Any], state: dict[str, Any]) -> list:
    # parse_state silently drops malformed ids; tell the user what was ignored and why.
    notes = []
    for key in ("run", "compare"):
        if kwargs.get(key) not in (None, "") and key not in state:
            notes.append(notice(f"{resolve_run(kwargs[key]).error} It was ignored.", color="warning"))
    return notes


def _created(summary: RunSummary) -> str:
    return summary.created.replace("T", " ").replace("+00:00", " UTC")


def _size(size: Any) -> str:
    if not isinstance(size, (int, float)):
        return "?"
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


IMPORTED = "imported (not trained here)"


def _epochs(summary: RunSummary, store: ArtifactStore | None = None) -> str:
    """Return the epochs a run trained: "5" when it did all it was set to, "2 of 5" otherwise, :data:`IMPORTED`
    for an imported model."""
    manifest = summary.manifest
    if manifest.is_imported:
        return IMPORTED
    done = manifest.metrics.epochs_completed
    planned = manifest.planned_epochs if manifest.planned_epochs is not None else "?"
    if done is None and not summary.is_complete and store is not None:
        # A run stopped by a kill (or written before epochs_completed existed): its history tells.
        try:
            done = len(store.run(summary.run_id).history())
        except (ArtifactError, InvalidRunId, RunNotFound, OSError, ValueError):
            done = None
    if done is None:
        return str(planned)
    return str(done) if done == planned else f"{done} of {planned}"


def _accuracy(summary: RunSummary) -> Any:
    """Return the test accuracy and on how many digits: the sample's are held out of it, not MNIST's test set."""
    value = summary.manifest.metrics.test_accuracy
    if not summary.is_complete or value is None:
        return "–"
    dataset = summary.manifest.dataset
    if dataset.test_size is None:
        return f"{value:.1%}"
    where = f"{dataset.test_size:,} test digits"
    if dataset.test_split_note:
        where += f" held out of the training data ({dataset.test_split_note}), not MNIST's own test set"
    return html.Span([f"{value:.1%}", html.Small(f" on {dataset.test_size:,}", className="text-body-secondary")],
                     title=f"Test accuracy on {where}.")


def error_row(run_id: str, reason: str, size: Any, delete_button: Any) -> html.Tr:
    """Return the table row of a run that cannot be read: its id, why, an ``error`` badge, its size."""
    return html.Tr([
        html.Td(run_id),
        html.Td(f"Run '{run_id}' cannot be read: {reason}. The other runs are not affected.", colSpan=5,
                className="text-danger"),
        html.Td(status_badge(None, "error")),
        html.Td(_size(size)),
        html.Td(delete_button),
    ], id={"type": RUNS_ROW, "run": run_id})


def _delete_button(run_id: str) -> dbc.Button:
    return dbc.Button(html.I(className="bi bi-trash"), id={"type": RUNS_DELETE, "run": run_id}, color="link",
                      size="sm", className="text-danger p-0", title=f"Delete run {run_id}")


def _report_button(run_id: str) -> dbc.Button:
    return dbc.Button([html.I(className="bi bi-file-earmark-arrow-down"), html.Span("report", className="ms-1")],
                      id={"type": RUNS_REPORT, "run": run_id},
                      color="link", size="sm", className="p-0 me-2",
                      title=f"Download run {run_id} as one HTML report that opens offline")


def runs_table(summaries: list[RunSummary], store: ArtifactStore | None = None) -> dbc.Table:
    """Return the table of runs; each complete run's id links to ``/?run=ID`` (which makes it active).

    A run whose manifest cannot be read (an unreadable summary) gets an error row of its own.

    Every complete run has a report button (:func:`download_report`).
    Every run but a running one has a delete button (which asks first), unless the server
    keeps browsers from changing the store (CNNVIZ_ALLOW_TRAINING=0).
    """
    deletable = current_settings().allow_training
    header = html.Thead(html.Tr([html.Th(name) for name in
                                 ("run", "created", "dataset", "architecture", "epochs", "test accuracy",
                                  "status", "size", "")]))
    rows = []
    for summary in summaries:
        run_id, manifest = summary.run_id, summary.manifest
        if manifest is None:
            rows.append(error_row(run_id, summary.error or "unknown error", summary.size_bytes,
                                  _delete_button(run_id) if deletable else None))
            continue
        rows.append(html.Tr([
            html.Td(dcc.Link(run_id, href="/" + build_search(run=run_id)) if summary.is_complete else run_id),
            html.Td(_created(summary)),
            html.Td(manifest.dataset.name or "?"),
            html.Td(html.Code(describe_architecture(manifest.to_dict()))),
            html.Td(_epochs(summary, store)),
            html.Td(_accuracy(summary)),
            html.Td(status_badge(manifest.status)),
            html.Td(_size(summary.size_bytes)),
            html.Td([_report_button(run_id) if summary.is_complete else None,
                     None if manifest.status is Status.RUNNING or not deletable else _delete_button(run_id)],
                    className="text-nowrap"),
        ], id={"type": RUNS_ROW, "run": run_id}))
    return dbc.Table([header, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="runs-table")


def layout(**kwargs: Any) -> html.Div:
    """Return the Runs page for the URL's ``run`` and ``compare`` parameters."""
    state = parse_state(kwargs)
    heading = html.H2("Runs", className="page-title")
    notes = _bad_param_notes(kwargs, state)
    summaries = run_summaries()
    if not summaries:
        return html.Div([heading, *notes, onboarding()])
    body, options = table_and_options(summaries)
    shown = None  # the URL's run when it can be shown: the page is then drawn here, no callback at load
    if "run" in state:
        asked = resolve_run(state["run"])
        if not asked.ok:
            notes.append(notice(asked.error, color="warning"))
        else:
            shown = state["run"]
    compare_id = state.get("compare", NO_COMPARE)
    controls = dbc.Row([
        dbc.Col([dbc.Label("Active run", html_for=RUNS_SELECT),
                 dcc.Dropdown(id=RUNS_SELECT, options=options, value=shown, placeholder="no complete run",
                              clearable=False, searchable=False)], md=4),
        dbc.Col([dbc.Label("Compare with", html_for=RUNS_COMPARE_SELECT),
                 dcc.Dropdown(id=RUNS_COMPARE_SELECT, options=[{"label": "(none)", "value": NO_COMPARE}, *options],
                              value=compare_id, clearable=False, searchable=False)], md=4),
        dbc.Col(html.Div(active_note(shown) if shown else None, id=RUNS_ACTIVE_NOTE,
                         className="small text-body-secondary pt-4"), md=4),
    ], className="mb-3 g-3")
    return html.Div([
        # Only when the URL names no run the page can show: initial_run then asks for the active run.
        None if shown else dcc.Store(id=RUNS_URL, data={"run": state.get("run"), "compare": state.get("compare")}),
        query_store(RUNS_QUERY),
        drawn_theme_store(RUNS_THEME),
        heading,
        explanation("What is a run?", "A **run** is one network trained once: its settings, the numbers it "
                    "recorded after every epoch, and the finished model. Click a run's name to make it the "
                    "**active run** that the other pages show. Runs still training, failed or cancelled are "
                    "listed but cannot be opened until they complete. **report** downloads a complete run as "
                    "one HTML file (curves, metrics, filters, a digit of each class through the layers) that "
                    "opens offline, with no server."),
        *notes,
        html.Div(id=RUNS_DELETE_MESSAGE),
        html.Div(id=RUNS_REPORT_MESSAGE),
        dcc.Download(id=RUNS_REPORT_DOWNLOAD),
        html.Div(body, id=RUNS_TABLE),
        controls,
        dcc.Store(id=RUNS_DELETE_TARGET),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle("Delete this run?")),
            dbc.ModalBody(id=RUNS_DELETE_TEXT),
            dbc.ModalFooter([dbc.Button("Keep it", id=RUNS_DELETE_DISMISS, color="secondary"),
                             dbc.Button([html.I(className="bi bi-trash me-1"), "Delete"], id=RUNS_DELETE_CONFIRM,
                                        color="danger")]),
        ], id=RUNS_DELETE_MODAL, is_open=False),
        dcc.Loading(html.Div(compare_section(shown, _compare_id(compare_id), DRAWN_THEME) if shown else None,
                             id=RUNS_COMPARE), type="dot"),
        # The browser loads and compiles Plotly (about half a second here) for the first graph a page
        # mounts: a hidden one has it done while the user reads the table, not when a comparison opens.
        dcc.Graph(id=RUNS_PLOTLY, style={"display": "none"}, config={"staticPlot": True}),
    ], className="runs-page")


def table_and_options(summaries: list[RunSummary]) -> tuple[list, list[dict]]:
    """Return the table (an error row per unreadable run) and the run selects' options."""
    options = [{"label": s.run_id if s.is_complete else f"{s.run_id} ({s.status})",
                "value": s.run_id, "disabled": not s.is_complete} for s in summaries if s.readable]
    return [runs_table(summaries, get_store())], options


def delete_problem(store: ArtifactStore, run_id: Any) -> str | None:
    """Return why ``run_id`` must not be deleted (None when it may): not allowed here, unknown, or training."""
    if not current_settings().allow_training:
        return "Runs cannot be deleted from the browser on this server (CNNVIZ_ALLOW_TRAINING=0)."
    try:
        status = store.run(run_id).status()
    except (InvalidRunId, RunNotFound, TypeError):
        return "There is no such run."
    except ArtifactError:
        status = None  # an unreadable run may be deleted, unless a job is training it
    current = None
    try:
        held = jobs.current(store)
        current = held.run_id if held is not None else None
    except OSError:
        pass
    if status == Status.RUNNING or current == run_id:
        return f"Run '{run_id}' is training: cancel it on the Train page first."
    return None


def ask_delete(trigger: Any, clicks: list) -> tuple:
    """Open the confirmation dialog for the clicked row's run (``trigger``: the clicked button's id)."""
    if not isinstance(trigger, dict) or not any(clicks or []):
        return dash.no_update, dash.no_update, dash.no_update
    run_id = trigger.get("run")
    return True, run_id, [html.P(["Delete run ", html.B(run_id), " and all its files (model, history, "
                                  "snapshots)? This cannot be undone."], className="mb-0")]


def delete_run(trigger: Any, confirm: int | None, run_id: Any) -> tuple:
    """Delete the run the dialog asked about (refused for a run being trained) and redraw the table.

    ``trigger`` is the id of the button pressed: only Delete deletes.
    """
    if trigger != RUNS_DELETE_CONFIRM or not confirm:
        return False, dash.no_update, dash.no_update, dash.no_update, dash.no_update
    store = get_store()
    problem = delete_problem(store, run_id)
    if problem is None:
        try:
            store.delete_run(run_id)
        except (InvalidRunId, RunNotFound, OSError) as error:
            problem = f"Run '{run_id}' could not be deleted: {error}"
    message = notice(problem, color="danger") if problem else notice(f"Run '{run_id}' was deleted.", "success")
    body, options = table_and_options(run_summaries(store))
    return False, body, options, [{"label": "(none)", "value": NO_COMPARE}, *options], message


def download_report(trigger: Any, clicked: Any) -> tuple:
    """Send the clicked row's run as ``<run>-report.html`` (:func:`dashboard.report.build_report`), or say why not.

    Args:
        trigger: the clicked button's id ``{"type": RUNS_REPORT, "run": id}``.
        clicked: that button's n_clicks (None when the table was redrawn, not clicked).

    Returns:
        (the dcc.Download data or no_update, a message or None).
    """
    if not isinstance(trigger, dict) or not clicked:
        return dash.no_update, dash.no_update
    resolved = resolve_run(trigger.get("run"), require_complete=False)
    if resolved.run is None:
        return dash.no_update, notice(resolved.error or "There is no such run.", color="danger")
    try:
        report = build_report(resolved.run)
    except ReportError as error:
        return dash.no_update, notice(str(error), color="danger")
    return dcc.send_string(report, f"{resolved.run.run_id}-report.html"), None


def initial_run(url: dict | None, active: Any, options: list[dict] | None) -> str | None:
    """Pick the run to show first by the page contract: the URL's, else the active run, else the newest complete.

    A URL run that cannot be shown was already reported by the layout; the choice then goes on without it.
    """
    complete = [option["value"] for option in options or [] if not option.get("disabled")]
    url_run = (url or {}).get("run")
    resolved = choose_run(url_run if url_run in complete else None, active if active in complete else None)
    return resolved.run.run_id if resolved.ok else None


def show_runs(run_id: str | None, compare_id: str | None, theme: str | None) -> tuple:
    """Make ``run_id`` the active run, update the URL and draw the comparison with ``compare_id``."""
    if not run_id:
        return "", "", ""
    compare_id = _compare_id(compare_id)
    query = build_search(run=run_id, compare=compare_id if compare_id != run_id else None)
    # set_props, not an Output: the active-run store lives in the app shell, and an
    # Output there would make the renderer look for this page's inputs on every page.
    dash.set_props(ids.ACTIVE_RUN, {"data": run_id})
    return query, active_note(run_id), compare_section(run_id, compare_id, theme)


def _compare_id(compare_id: Any) -> str | None:
    return None if compare_id in (None, "", NO_COMPARE) else compare_id


def active_note(run_id: str) -> list:
    """Return the note saying which run every page shows, with links to its Training and Metrics pages."""
    return ["Showing ", html.B(run_id), " on every page: ", dcc.Link("training", href=f"/training?run={run_id}"),
            ", ", dcc.Link("metrics", href=f"/metrics?run={run_id}"), "."]


def retheme(theme: str | None, run_id: str | None, compare_id: str | None) -> Any:
    """Patch the confusion difference from the other theme into ``theme`` (no comparison: no update).

    The curves and the F1 difference differ between themes in their template alone: the browser swaps it.
    """
    compare_id = _compare_id(compare_id)
    if not run_id or not compare_id or compare_id == run_id:
        return dash.no_update
    first, second = resolve_run(run_id), resolve_run(compare_id)
    if not (first.ok and second.ok):
        return dash.no_update
    try:
        matrices = first.run.confusion(), second.run.confusion()
    except ArtifactError:
        return dash.no_update
    names = run_class_names(first.run)
    return theme_patch(lambda t: confusion_difference_figure(*matrices, "normalized", run_id, compare_id, t, names),
                       theme)


def compare_section(run_id: str, compare_id: str | None, theme: str | None) -> list:
    """Return the comparison of two complete runs (or why it cannot be shown)."""
    text = explanation("How to read a comparison", COMPARE_TEXT)
    if not compare_id:
        return [html.H4("Compare two runs"), text, notice("Choose a second run above to compare it with "
                                                          f"'{run_id}'.")]
    if compare_id == run_id:
        return [html.H4("Compare two runs"), text, notice("Choose a different run to compare with.")]
    first, second = resolve_run(run_id), resolve_run(compare_id)
    for resolved in (first, second):
        if not resolved.ok:
            return [html.H4("Compare two runs"), error_card(resolved.error)]
    names = run_class_names(first.run)
    try:
        curves = compare_curves_figure(first.run.history(), second.run.history(), run_id, compare_id, theme)
        f1 = f1_difference_figure(first.run.class_metrics(), second.run.class_metrics(), run_id, compare_id, theme,
                                  names)
        confusion = confusion_difference_figure(first.run.confusion(), second.run.confusion(), "normalized",
                                                run_id, compare_id, theme, names)
    except ArtifactError as error:
        return [html.H4("Compare two runs"), error_card(unreadable(error))]
    return [
        html.H4(f"{run_id} compared with {compare_id}"),
        text,
        dcc.Graph(figure=curves, id=RUNS_COMPARE_CURVES, config={"displaylogo": False}),
        dbc.Row([
            dbc.Col(dcc.Graph(figure=f1, id=RUNS_COMPARE_F1, config={"displaylogo": False}), lg=6),
            dbc.Col(dcc.Graph(figure=confusion, id=RUNS_COMPARE_CONFUSION, config={"displaylogo": False}), lg=6),
        ]),
    ]
