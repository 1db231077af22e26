"""Flask-level pieces of the web server: /healthz, optional basic auth, error pages.

No response ever carries a traceback: unexpected errors become a short plain
message with status 500, logged server-side.
"""

from __future__ import annotations

import logging

import dash
from flask import jsonify
from werkzeug.exceptions import HTTPException

from artifacts.format import STATUS_COMPLETE
from dashboard.runs import get_store
from dashboard.settings import Settings

log = logging.getLogger(__name__)


def install(app: dash.Dash, settings: Settings) -> None:
    """Add the health check, error handlers and (when configured) basic auth to ``app``."""
    server = app.server

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

    @server.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error")
        return jsonify(error="Internal Server Error", message="Something went wrong on the server."), 500

    if settings.basic_auth:
        import dash_auth

        user, password = settings.basic_auth
        dash_auth.BasicAuth(app, {user: password}, public_routes=["/healthz"])
