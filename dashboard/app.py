"""The app factory. ``server`` is the WSGI object the Procfile names."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard.settings import APP_CONFIG_KEY, Settings, current_settings
from dashboard.training.background import make_manager, signing_secret
from dashboard.ui import ids
from dashboard.web.server import install, report_callback_error

PAGES = Path(__file__).resolve().parent / "pages"
ASSETS = Path(__file__).resolve().parent / "assets"


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app.

    Args:
        settings: deployment settings; read from the environment when None.

    Returns:
        The app, with its pages registered and its background manager set.
    """
    settings = settings or current_settings()
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ASSETS),
        # Served from dashboard/static/vendor: a CDN link would leave the app unstyled offline.
        external_stylesheets=["/static/vendor/flatly.min.css", "/static/vendor/bootstrap-icons.min.css"],
        background_callback_manager=make_manager(settings),
        suppress_callback_exceptions=True,
        compress=True,
        title="CNN MNIST Visualizer",
        update_title=None,
        on_error=report_callback_error,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 2  # base64 plus form overhead
    app.server.config[APP_CONFIG_KEY] = settings  # what current_settings() returns in a request
    app.server.secret_key = signing_secret(settings)  # one for all web workers: see dashboard/training/background.py
    app.layout = layout
    install(app, settings)
    # Dash registers its script paths on the first request; with several threads a
    # concurrent request for a script can arrive before that finishes and get a 500.
    # Doing it now, before any request, removes the race.
    with app.server.test_request_context("/"):
        app._setup_server()
    return app


def navbar() -> dbc.Navbar:
    """Return the navbar, one link per registered page, in page order."""
    links = [
        dbc.NavItem(
            dbc.NavLink(
                page["name"], href=page["relative_path"], active="exact", id=ids.nav_link(page["relative_path"])
            )
        )
        for page in dash.page_registry.values()
        if page.get("nav", True) is not False
    ]
    theme = html.Div(
        [
            html.I(className="bi bi-sun me-1"),
            dbc.Switch(id=ids.THEME_SWITCH, value=False, className="d-inline-block ms-1", persistence=True),
            html.I(className="bi bi-moon"),
        ],
        className="d-flex align-items-center ms-3 text-light theme-toggle",
        title="Dark theme",
    )
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.I(className="bi bi-grid-3x3-gap me-2"), "CNN MNIST Visualizer"], href="/"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                theme,
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-3",
    )


def layout() -> html.Div:
    """Return the app shell: navbar, shared stores and the page container."""
    return html.Div(
        [
            dcc.Store(id=ids.ACTIVE_RUN, storage_type="local"),
            dcc.Store(id=ids.THEME, storage_type="local"),
            navbar(),
            dbc.Toast(
                id=ids.APP_ERROR,
                header="Something went wrong",
                icon="danger",
                is_open=False,
                dismissable=True,
                duration=12000,
                className="app-error-toast",
                style={"position": "fixed", "top": 70, "right": 16, "zIndex": 2000, "maxWidth": 420},
            ),
            dbc.Container(dash.page_container, fluid=True, className="pb-5"),
        ]
    )


dash.clientside_callback(
    "function(dark) { document.documentElement.setAttribute('data-bs-theme', dark ? 'dark' : 'light');"
    " return dark ? 'dark' : 'light'; }",
    Output(ids.THEME, "data"),
    Input(ids.THEME_SWITCH, "value"),
)

dash.clientside_callback(
    # Every navbar link carries the active run, so moving between pages keeps it.
    "function(run, search) { return window.cnnviz.navHrefs(run, search); }",
    Output({"type": ids.NAV_LINK, "page": dash.ALL}, "href"),
    Input(ids.ACTIVE_RUN, "data"),
    Input("_pages_location", "search"),
)

app = create_app()
server = app.server

if __name__ == "__main__":
    with server.app_context():
        settings = current_settings()
    app.run(host=settings.host, port=settings.port, debug=settings.debug)
