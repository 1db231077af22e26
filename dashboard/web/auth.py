"""HTTP basic authentication for the whole app, as WSGI middleware in front of Flask and Dash.

The decision uses only the request's method, path and ``Authorization`` header:
never its body, query or anything else the client sends. Everything but
``GET``/``HEAD /healthz`` needs the configured credentials.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Iterable

REALM = "CNN MNIST Visualizer"
PUBLIC = frozenset({("GET", "/healthz"), ("HEAD", "/healthz")})
_CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
_BODY = json.dumps({"error": "Unauthorized", "message": "This app needs a user name and password."}).encode()


def credentials_match(header: str | None, user: str, password: str) -> bool:
    """True when ``header`` (an ``Authorization`` value) carries exactly ``user`` and ``password``.

    The scheme is case-insensitive (RFC 7235); user and password are compared in
    constant time. A missing, empty or malformed header (not base64, not UTF-8,
    no colon, another scheme) is simply False: it never raises.
    """
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError and non-ASCII input are all ValueErrors
        return False
    given_user, colon, given_password = decoded.partition(":")
    if not colon:
        return False
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return user_ok & password_ok


class BasicAuthMiddleware:
    """WSGI middleware: answer 401 with a Basic challenge unless the request is public or authenticated.

    Args:
        app: the WSGI application to protect (Flask's ``wsgi_app``).
        user, password: the one accepted pair of credentials.
    """

    def __init__(self, app: Callable, user: str, password: str):
        self.app = app
        self.user = user
        self.password = password

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        if (method, path) in PUBLIC or credentials_match(environ.get("HTTP_AUTHORIZATION"), self.user, self.password):
            return self.app(environ, start_response)
        start_response("401 UNAUTHORIZED", [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY))),
                                            ("WWW-Authenticate", _CHALLENGE)])
        return [] if method == "HEAD" else [_BODY]
