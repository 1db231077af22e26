"""Basic auth under attack, against gunicorn from the Procfile with ``CNNVIZ_BASIC_AUTH`` set.

The server decides on the request's method, path and ``Authorization`` header only:
a callback body that claims a public ``pathname`` must not open anything, a
malformed header is a 401 (never a 500), and ``/healthz`` is the one public route.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
import urllib.request
from collections import Counter

import pytest

from tests.support.dashclient import DashClient, _outputs, _wire

USER, PASSWORD = "teacher", "s3cret"
PUBLIC_PATHS = ["/healthz", "/_dash-layout"]
pytestmark = pytest.mark.slow


def basic(raw: bytes, scheme: str = "Basic") -> str:
    """Return an ``Authorization`` value: ``scheme`` and base64 of ``raw``."""
    return f"{scheme} {base64.b64encode(raw).decode()}"


GOOD = basic(f"{USER}:{PASSWORD}".encode())
REFUSED = [None, basic(f"{USER}:wrong".encode()), basic(f"{USER}:{PASSWORD}".encode(), "Bearer")]


class AuthClient(DashClient):
    """A DashClient that sends the right credentials with every request."""

    def _request(self, request: urllib.request.Request):
        request.add_header("Authorization", GOOD)
        return super()._request(request)


def raw_request(base: str, method: str, path: str, headers: dict[str, str | bytes] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send one request with exactly these headers (bytes values go out unchanged); return status, headers, body."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def post_callback(base: str, payload: dict, authorization: str | None = None) -> tuple[int, bytes]:
    """POST a callback payload, with ``authorization`` as the header when given; return status and body."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, _, body = raw_request(base, "POST", "/_dash-update-component", headers, json.dumps(payload).encode())
    return status, body


def payload_for(dependency: dict) -> dict:
    """A renderer-shaped request body for ``dependency`` with empty values."""
    values = {(item["id"], item["property"]): None for item in dependency["inputs"] + dependency["state"]}
    inputs = [_wire(item, values) for item in dependency["inputs"]]
    state = [_wire(item, values) for item in dependency["state"]]
    return {"output": dependency["output"], "outputs": _outputs(dependency["output"]), "inputs": inputs, "state": state,
            "changedPropIds": [f"{item['id']}.{item['property']}" for item in dependency["inputs"]]}


def as_public(item, public: str):
    """Rewrite one input to claim ``pathname`` = ``public`` (a list input: each of its items)."""
    if isinstance(item, list):
        return [{"id": {"type": "x", "index": 0}, "property": "pathname", "value": public}]
    return {**item, "property": "pathname", "value": public}


@pytest.fixture
def protected(web_server, tiny_store) -> str:
    """Base URL of gunicorn serving the tiny store behind basic auth."""
    return web_server(tiny_store, CNNVIZ_BASIC_AUTH=f"{USER}:{PASSWORD}")


def test_no_callback_answers_without_credentials_whatever_pathname_it_claims(protected):
    dependencies = AuthClient(protected).dependencies()
    server_side = [d for d in dependencies if not d.get("clientside_function")]
    assert len(server_side) > 20
    refused, answered = 0, []
    for dependency in dependencies:
        payload = payload_for(dependency)
        attempts = [("plain", payload)]
        for index in range(len(payload["inputs"])):
            for public in PUBLIC_PATHS:
                rewritten = json.loads(json.dumps(payload))
                rewritten["inputs"][index] = as_public(rewritten["inputs"][index], public)
                rewritten["changedPropIds"] = [f"{dependency['inputs'][index]['id']}.pathname"]
                attempts.append((f"input {index} as pathname={public}", rewritten))
        for public in PUBLIC_PATHS:
            every = [as_public(item, public) for item in payload["inputs"]]
            attempts.append((f"every input as pathname={public}", {**payload, "inputs": every}))
        for variant, attempt in attempts:
            for authorization in REFUSED:
                status, body = post_callback(protected, attempt, authorization)
                assert b"Traceback" not in body
                if status == 401:
                    refused += 1
                else:
                    answered.append((status, dependency["output"][:50], variant, (authorization or "")[:12]))
    answered.sort(key=lambda item: item[0] != 200)  # answers with content first in the message
    statuses = Counter(status for status, *_ in answered)
    assert not answered, f"requests without valid credentials not refused, by status {dict(statuses)}: {answered[:8]}"
    assert refused > 300
    # The same requests with credentials reach Dash (so the 401s above came from the auth check).
    router = next(d for d in server_side if "_pages_content" in d["output"])
    payload = payload_for(router)
    payload["inputs"] = [{"id": "_pages_location", "property": "pathname", "value": "/"},
                         {"id": "_pages_location", "property": "search", "value": ""}]
    status, body = post_callback(protected, payload, GOOD)
    assert status == 200 and b"_pages_content" in body


def test_every_route_but_get_healthz_needs_credentials(protected):
    for method, path in [("GET", "/"), ("GET", "/metrics?run=tiny"), ("GET", "/_dash-layout"),
                         ("GET", "/_dash-dependencies"), ("GET", "/_reload-hash"), ("GET", "/assets/theme.css"),
                         ("GET", "/static/vendor/flatly.min.css"), ("GET", "/healthz/"), ("GET", "//healthz"),
                         ("POST", "/healthz"), ("PUT", "/healthz"),
                         ("GET", "/no-such-page"), ("POST", "/_dash-update-component")]:
        status, headers, body = raw_request(protected, method, path)
        assert status == 401, (method, path, status, body[:200])
        assert headers.get("WWW-Authenticate", "").startswith("Basic realm="), (method, path)
        status, _, _ = raw_request(protected, method, path, {"Authorization": GOOD})
        assert status != 401, (method, path)


def test_healthz_is_public_and_does_not_reveal_the_store_path(protected, tiny_store):
    status, _, body = raw_request(protected, "GET", "/healthz")
    assert status == 200
    state = json.loads(body)
    assert state["status"] == "ok" and state["runs"] == 1 and state["complete_runs"] == 1
    assert "training_allowed" in state
    text = body.decode()
    assert str(tiny_store) not in text and tiny_store.name not in text
    assert '"/' not in text, text  # no absolute path of any kind
    status, _, _ = raw_request(protected, "HEAD", "/healthz")
    assert status == 200


MALFORMED = [
    "",
    " ",
    "Basic",
    "Basic ",
    "Basic !!!not-base64!!!",
    "Basic dGVhY2hlcjpzM2NyZXQ",  # right credentials with the padding cut: not valid base64
    basic(b"teacher-s3cret"),  # no colon
    basic(b"\xff\xfe:\xff\xfe"),  # not UTF-8
    basic(b":"),
    basic(b""),
    basic(f"{USER}:".encode()),
    basic(f":{PASSWORD}".encode()),
    basic(f"{USER}:{PASSWORD}x".encode()),
    basic(f"{USER.upper()}:{PASSWORD}".encode()),
    basic(f"{USER}:wrong".encode(), "basic"),
    basic(f"{USER}:{PASSWORD}".encode(), "Bearer"),
    basic(f"{USER}:{PASSWORD}".encode(), "Basicx"),
    f'Digest username="{USER}", realm="x", nonce="1", uri="/", response="0"',
    "Basic " + "A" * 6000,
    b"Basic \xc3\xa9t\xc3\xa9:\xff",  # raw non-ASCII bytes in the header
]
ACCEPTED = [
    GOOD,
    basic(f"{USER}:{PASSWORD}".encode(), "basic"),
    basic(f"{USER}:{PASSWORD}".encode(), "BASIC"),
    "Basic  " + GOOD.split(" ")[1],
]


def test_malformed_authorization_headers_get_401_and_any_case_of_basic_works(protected):
    for value in MALFORMED:
        for method, path in [("GET", "/"), ("GET", "/_dash-layout")]:
            status, headers, body = raw_request(protected, method, path, {"Authorization": value})
            assert status == 401, (value[:40], path, status, body[:200])
            assert headers.get("WWW-Authenticate", "").startswith("Basic realm="), value[:40]
            assert b"Traceback" not in body
    for value in ACCEPTED:
        status, _, body = raw_request(protected, "GET", "/_dash-layout", {"Authorization": value})
        assert status == 200, (value, status, body[:200])

