"""Pages drawn in their layout: the theme they were drawn in, patched when it differs, and their URL.

A page that draws its figures in its layout needs no callback round trip at load. Two things it
cannot know on the server are settled in the browser:

- Theme. The theme lives in the browser (the app's THEME store). Pages draw their figures in the
  light theme and keep the theme they were drawn in, in their own copy of THEME
  (:func:`drawn_theme_store`). The copy changes only when the app's theme differs from it
  (:func:`sync_drawn_theme`); then a page callback sends :func:`theme_patch`: the properties that
  differ between the figure's two themes (its template, theme-dependent colours), not the figure.
  Figures whose two themes differ only in their template are switched in the browser
  (:func:`swap_templates`): no request at all.
- URL. :func:`write_query` writes the view's query string from its controls in the browser, at
  load (the run the page chose) and on every change; :func:`dashboard.ui.page.sync_url` pushes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, dcc
from dash.dependencies import DashDependency

from dashboard.figures.style import apply_theme
from dashboard.ui import ids

DRAWN_THEME = "light"  # the theme every page layout draws its figures in
ATOMIC_KEYS = frozenset({"template"})  # replaced whole when they differ (a template differs almost everywhere)


def drawn_theme_store(component_id: str) -> dcc.Store:
    """Return a page's copy of the theme, holding :data:`DRAWN_THEME` (the theme its layout drew)."""
    return dcc.Store(id=component_id, data=DRAWN_THEME)


def sync_drawn_theme(component_id: str) -> None:
    """Copy the app's THEME into a page's :func:`drawn_theme_store` only when it differs from what is drawn.

    A callback mixing the app-level THEME Input with a page's components fails on every other page;
    this copy is skipped there (its output is missing). The page's theme callback listens to the copy.
    """
    dash.clientside_callback(
        "function(theme, drawn) { theme = theme || 'light';"
        " return theme === drawn ? window.dash_clientside.no_update : theme; }",
        Output(component_id, "data"),
        Input(ids.THEME, "data"),
        State(component_id, "data"),
    )


def template_json(theme: str) -> dict:
    """Return the JSON of the Plotly template the figure builders give ``theme`` (dashboard.figures.style)."""
    return json.loads(apply_theme(go.Figure(), theme).to_json())["layout"]["template"]


def swap_templates(component_id: str, graph_ids: list[str]) -> None:
    """Switch ``graph_ids``' templates in the browser when the page's drawn theme store changes.

    Only for figures whose light and dark builds differ in nothing but their template (a test says
    which); others need :func:`theme_patch`. The figures are patched, not redrawn from new data.
    """
    templates = json.dumps({theme: template_json(theme) for theme in ("light", "dark")})
    dash.clientside_callback(
        "function(theme) { var templates = TEMPLATES; var chosen = templates[theme] || templates.light;"
        " function swap() { var patch = new window.dash_clientside.Patch();"
        "   patch.assign(['layout', 'template'], chosen); return patch.build(); }"
        " var outputs = window.dash_clientside.callback_context.outputs_list;"
        " return Array.isArray(outputs) ? outputs.map(swap) : swap(); }".replace("TEMPLATES", templates),
        *[Output(graph_id, "figure", allow_duplicate=True) for graph_id in graph_ids],
        Input(component_id, "data"),
        prevent_initial_call=True,
    )


def other_theme(theme: str | None) -> str:
    """Return the theme a figure was drawn in before ``theme`` was chosen (there are two)."""
    return "light" if theme == "dark" else "dark"


def theme_patch(build: Callable[[str], go.Figure], theme: str | None) -> Patch:
    """Return the Patch that turns ``build``'s figure in the other theme into the one in ``theme``.

    Args:
        build: the figure builder for the view the browser shows, taking a theme ("light"/"dark").
        theme: the theme wanted now; the browser holds the figure drawn in :func:`other_theme`.

    Returns:
        A Patch assigning each property whose value differs between the two builds (data arrays
        are equal and do not travel) and deleting those only the old build has.
    """
    wanted = "dark" if theme == "dark" else "light"
    old = json.loads(build(other_theme(wanted)).to_json())
    new = json.loads(build(wanted).to_json())
    patch = Patch()
    _diff(patch, old, new)
    return patch


def _diff(patch: Any, old: Any, new: Any) -> None:
    # Walk two JSON trees; assign at the deepest level where they differ (whole lists when their lengths differ).
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key not in old or key in ATOMIC_KEYS or not _same_shape(old[key], value):
                if old.get(key) != value:
                    patch[key] = value
            elif old[key] != value:
                _diff(patch[key], old[key], value)
        for key in old.keys() - new.keys():
            del patch[key]
        return
    for index, (before, after) in enumerate(zip(old, new, strict=True)):
        if before == after:
            continue
        if _same_shape(before, after):
            _diff(patch[index], before, after)
        else:
            patch[index] = after


def _same_shape(old: Any, new: Any) -> bool:
    """Whether two values can be compared member by member (two dicts, or two lists of one length)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return True
    return isinstance(old, list) and isinstance(new, list) and len(old) == len(new)


def write_query(component_id: str, params: dict[str, tuple[DashDependency, Any]]) -> None:
    """Write a page's query string (as :func:`dashboard.ui.urlstate.build_search` orders it) in the browser.

    Args:
        component_id: the page's query store (:func:`dashboard.ui.page.query_store`).
        params: each URL parameter's Input and its default; a parameter at its default, None or ""
            is left out. Nothing is written while the first parameter (the run) is empty.
    """
    names = sorted(params)
    first = next(iter(params))
    defaults = json.dumps({name: params[name][1] for name in names})
    dash.clientside_callback(
        "function() { var values = {}; var names = NAMES; var defaults = DEFAULTS;"
        " for (var i = 0; i < names.length; i += 1) { values[names[i]] = arguments[i]; }"
        " if (values[FIRST] === null || values[FIRST] === undefined || values[FIRST] === '') {"
        "   return window.dash_clientside.no_update; }"
        " var query = new URLSearchParams();"
        " names.forEach(function (name) { var v = values[name];"
        "   if (v !== null && v !== undefined && v !== '' && v !== defaults[name]) {"
        "     query.append(name, String(v)); } });"
        " var text = query.toString(); return text ? '?' + text : ''; }"
        .replace("NAMES", json.dumps(names)).replace("DEFAULTS", defaults).replace("FIRST", json.dumps(first)),
        Output(component_id, "data"),
        *[params[name][0] for name in names],
    )
