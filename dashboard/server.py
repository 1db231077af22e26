"""Flask-level pieces of the web server: /healthz, optional basic auth, error pages.

No response ever carries a traceback: unexpected errors become a short plain
message with status 500, logged server-side.
"""

from __future__ import annotations

import logging
import time

import dash
from dash.exceptions import DependencyException
from flask import g, jsonify
from werkzeug.exceptions import HTTPException

from artifacts.format import STATUS_COMPLETE
from dashboard import ids
from dashboard.runs import get_store
from dashboard.settings import Settings

log = logging.getLogger(__name__)


def report_callback_error(error: Exception) -> None:
    """Dash's global ``on_error``: log the failure, tell the user in a toast, leave the outputs as they were.

    The response is a normal 200 with a side update, so no traceback or 500
    reaches the browser whatever a callback was sent.
    """
    log.error("callback failed: %s", error, exc_info=error)
    message = "This view could not be updated with what was asked for. The rest of the page still works."
    if isinstance(error, (ValueError, KeyError, TypeError, LookupError)):
        message = f"This request could not be handled ({type(error).__name__}). The rest of the page still works."
    dash.set_props(ids.APP_ERROR, {"is_open": True, "children": message})


def install(app: dash.Dash, settings: Settings) -> None:
    """Add the health check, error handlers and (when configured) basic auth to ``app``."""
    server = app.server

    @server.before_request
    def start_timer():
        g.started = time.perf_counter()

    @server.after_request
    def server_timing(response):
        # Server-Timing shows in the browser's dev tools and lets benchmarks
        # separate server time from network time.
        started = g.get("started")
        if started is not None:
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    @server.route("/healthz")
    def healthz():
        store = get_store()
        runs = store.list_runs()
        return jsonify(
            status="ok",
            store=str(store.root),
            store_exists=store.root.is_dir(),
            runs=len(runs),
            complete_runs=sum(1 for run in runs if run.get("status") == STATUS_COMPLETE),
            training_allowed=settings.allow_training,
        )

    @server.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return jsonify(error=error.name, message=error.description), error.code

    @server.errorhandler(DependencyException)
    def unknown_dependency(_error: DependencyException):
        # Dash raises this for a script path it does not serve: the client asked for
        # something that does not exist, which is a 404, not a server fault.
        return jsonify(error="Not Found", message="No such file."), 404

    @server.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error")
        return jsonify(error="Internal Server Error", message="Something went wrong on the server."), 500

    if settings.basic_auth:
        import dash_auth

        user, password = settings.basic_auth
        dash_auth.BasicAuth(app, {user: password}, public_routes=["/healthz"])
