"""Flask-level pieces of the web server: /healthz, optional basic auth, error pages.

No response ever carries a traceback: a malformed callback request gets a 400
and one log line; unexpected errors become a short plain message with status
500, logged server-side.
"""

from __future__ import annotations

import logging
import time

import dash
from dash.exceptions import DependencyException
from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException

from dashboard.settings import Settings
from dashboard.store_access import get_store
from dashboard.ui import ids
from dashboard.web.auth import BasicAuthMiddleware
from dashboard.web.callback_body import BadCallbackBody, check_callback_body, shorten

log = logging.getLogger(__name__)
# What Dash's dispatcher raises when a body of the right shape still does not fit
# the callback (e.g. an output list of the wrong length): the client's fault.
BODY_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError)


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
        runs = store.summaries()
        return jsonify(
            # No store path: anonymous callers must not learn the server's folders.
            status="ok",
            store_exists=store.root.is_dir(),
            runs=len(runs),
            complete_runs=sum(1 for run in runs if run.is_complete),
            training_allowed=settings.allow_training,
        )

    callback_path = app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def check_callback_request():
        if request.path != callback_path or request.method != "POST":
            return None
        try:
            body = request.get_json()
            check_callback_body(body, app.callback_map)
        except BadCallbackBody as error:
            return bad_callback_request(str(error))
        except RecursionError:  # JSON nested thousands deep: json.loads gives up with this, not a ValueError
            return bad_callback_request("the body is nested too deeply")
        except HTTPException as error:  # not JSON, wrong content type; too large keeps its 413
            if error.code in (400, 415):
                return bad_callback_request("the body is not valid JSON sent as application/json")
            raise
        return None

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
        if request.path == callback_path and isinstance(error, BODY_ERRORS):
            return bad_callback_request(f"{type(error).__name__}: {error}")
        log.exception("unhandled error")
        return jsonify(error="Internal Server Error", message="Something went wrong on the server."), 500

    if settings.basic_auth:
        # In front of Flask, so no route, hook or callback body takes part in the decision.
        server.wsgi_app = BasicAuthMiddleware(server.wsgi_app, *settings.basic_auth)


def bad_callback_request(reason: str):
    """Log ``reason`` on one short line and return a 400 JSON response saying the request was malformed."""
    log.warning("bad callback request: %s", shorten(reason.replace("\n", " ")))
    return jsonify(error="Bad Request", message="This callback request is malformed."), 400
