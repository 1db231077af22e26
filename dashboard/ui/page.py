"""The page contract: which run a page shows, its address bar, its theme.

- Run: the URL's ``run``, else the active run (the ACTIVE_RUN store), else the newest
  complete run, through :func:`dashboard.store_access.choose_run`. A page whose layout
  depends on the run and whose URL names none renders :func:`run_page`'s shell; one
  callback fills it once the browser has sent the active run.
- URL: a page writes its view's query string into its own query store
  (:func:`query_store`); :func:`sync_url` pushes it to the address bar.
- Theme: page callbacks read the page's own copy of the app's THEME (:func:`theme_store`,
  :func:`sync_theme`). A callback mixing an app-level Input with this page's components
  fails in the browser on every other page (a nonexistent Input); the copy is skipped there.
- Callbacks open the run the layout chose with :func:`shown_run`; they do not choose again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dash
from dash import MATCH, Input, Output, State, dcc, html

from artifacts import InvalidRunId, Manifest, Run, RunNotFound
from dashboard.store_access import Resolved, choose_run, get_store, latest_complete_run_id, resolve_run
from dashboard.ui import ids
from dashboard.ui.components import (
    error_card,
    notice,
    onboarding,
    run_class_names,
    run_unavailable,
)
from dashboard.ui.urlstate import parse_state

Body = Callable[[Resolved, dict[str, Any]], Any]
_BODIES: dict[str, Body] = {}


def register_body(page: str, body: Body) -> None:
    """Name the function that draws ``page`` for a resolved run: ``body(resolved, url_kwargs)``."""
    _BODIES[page] = body


def run_page(page: str, kwargs: dict[str, Any]) -> Any:
    """Return ``page``'s layout for the run the contract chooses (see :func:`register_body`).

    A URL that names a run is drawn at once (or says why it cannot be). Without one the
    page needs the browser's active run, so it returns a shell the contract's callback fills.
    """
    url_run = kwargs.get("run")
    if url_run not in (None, ""):
        resolved = choose_run(url_run, None)
        return _body(page, resolved, kwargs, asked=True)
    store = get_store()
    if latest_complete_run_id(store) is None:
        return _body(page, choose_run(None, None, store), kwargs, asked=False)
    return html.Div([
        dcc.Store(id={"type": ids.PAGE_REQUEST, "page": page}, data=kwargs),
        dcc.Loading(html.Div(id={"type": ids.PAGE_BODY, "page": page}), type="dot"),
    ])


# Pages whose bodies read an imported model's run (issue 16) as they read a trained one (Architecture
# and Activations from the layers and the one snapshot it recorded, Draw through the numpy engine of its
# recorded graph); the others say why they cannot.
IMPORTED_PAGES = frozenset({"metrics", "training", "model", "activations", "draw"})
IMPORTED_UNSUPPORTED = ("Run '{run}' is an imported model: this view does not yet support imported models. "
                        "Its test-set results are on the Metrics page.")
# Why a page cannot show an imported model, when it is not that it is not supported yet.
IMPORTED_REASONS = {
    "learning": ("Run '{run}' is an imported model: the Learning page needs the test set at every training "
                 "epoch; an imported model has one (the model as imported). Its test-set results are on the "
                 "Metrics page."),
}


def _body(page: str, resolved: Resolved, kwargs: dict[str, Any], asked: bool) -> Any:
    if not resolved.ok:
        return run_unavailable(resolved.error, asked)
    if resolved.info.is_imported and page not in IMPORTED_PAGES:
        message = IMPORTED_REASONS.get(page, IMPORTED_UNSUPPORTED)
        return html.Div(notice(message.format(run=resolved.run.run_id)), className="imported-run")
    return _BODIES[page](resolved, kwargs)


@dash.callback(
    Output({"type": ids.PAGE_BODY, "page": MATCH}, "children"),
    Input({"type": ids.PAGE_REQUEST, "page": MATCH}, "data"),
    State({"type": ids.PAGE_REQUEST, "page": MATCH}, "id"),
    State(ids.ACTIVE_RUN, "data"),
)
def fill_page(kwargs: dict | None, component_id: dict, active: Any) -> Any:
    """Draw a page whose URL named no run: the active run, else the newest complete run."""
    return _body(component_id["page"], choose_run(None, active), dict(kwargs or {}), asked=False)


@dataclass(frozen=True)
class PageStart:
    """The start of a page whose callbacks draw its run (Training, Metrics).

    ``stop`` is the whole page when it ends there (a malformed run id in the URL, or an
    empty store), else None; ``names`` are the URL run's class names (None when the URL
    names no run: a callback labels the classes once the run is chosen).
    """

    state: dict[str, Any]
    heading: html.H2
    stop: html.Div | None
    names: tuple[str, ...] | None


def start_page(title: str, path: str, kwargs: dict[str, Any]) -> PageStart:
    """Parse a page's URL ``kwargs`` and return its :class:`PageStart`; ``path`` is the page's bare URL."""
    state = parse_state(kwargs)
    heading = html.H2(title, className="page-title")
    stop = None
    if kwargs.get("run") not in (None, "") and "run" not in state:
        stop = html.Div([heading, error_card(resolve_run(kwargs["run"]).error),
                         dcc.Link("Show the newest run instead", href=path)])
    elif not get_store().run_ids():
        stop = html.Div([heading, onboarding()])
    names = None
    if stop is None and state.get("run"):
        names = run_class_names(resolve_run(state["run"], require_complete=False).run)
    return PageStart(state, heading, stop, names)




def shown_run(run_id: Any) -> Run | None:
    """Return the run a page's layout chose (its run store's id), opened without choosing again.

    None when it is gone (deleted since) or the id is not one; reading it may still raise
    :class:`artifacts.ArtifactError`.
    """
    try:
        return get_store().run(run_id)
    except (InvalidRunId, RunNotFound, TypeError):
        return None


def manifest_of(resolved: Resolved) -> Manifest | None:
    """Return a resolved run's typed manifest, its status as the lookup shows it (a stale run is failed)."""
    return resolved.info


def query_store(component_id: str, search: str | None = None) -> dcc.Store:
    """Return a page's query store: the view's ``?query`` that :func:`sync_url` puts in the address bar."""
    return dcc.Store(id=component_id, data=search)


def sync_url(component_id: str, replace_unless: State | None = None) -> None:
    """Push every query written to ``component_id`` to the address bar (history.pushState, no reload).

    Args:
        component_id: the page's :func:`query_store`.
        replace_unless: a State that, while False, makes each push replace the current entry
            instead of adding one (the Draw page's running Play timer), so Back leaves the page.
    """
    if replace_unless is None:
        dash.clientside_callback(
            "function(q) { return window.cnnviz.pushQuery(q); }",
            Output(component_id, "data", allow_duplicate=True),
            Input(component_id, "data"),
            prevent_initial_call=True,
        )
        return
    dash.clientside_callback(
        "function(q, flag) { return window.cnnviz.pushQuery(q, flag === false); }",
        Output(component_id, "data", allow_duplicate=True),
        Input(component_id, "data"),
        replace_unless,
        prevent_initial_call=True,
    )


def theme_store(component_id: str) -> dcc.Store:
    """Return a page's copy of the app's theme ("light" or "dark"), kept by :func:`sync_theme`."""
    return dcc.Store(id=component_id)


def sync_theme(component_id: str) -> None:
    """Copy the app's THEME into the page's :func:`theme_store` (see the module's docstring for why)."""
    dash.clientside_callback(
        "function(theme) { return theme || 'light'; }",
        Output(component_id, "data"),
        Input(ids.THEME, "data"),
    )
