"""A small HTTP client that drives a running Dash app the way its browser renderer does.

It renders a page through the pages router callback, then fires every server
callback whose inputs are all in that page's layout, with the values the layout
holds (the renderer's initial calls). The hostile-input tests and the dashboard
benchmarks use it against a real gunicorn server.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


@dataclass
class Response:
    """One callback request's outcome."""

    status: int
    body: bytes
    seconds: float
    gzip_bytes: int
    server_ms: float | None = None

    def json(self) -> Any:
        """Return the body parsed as JSON (Dash answers callbacks with JSON)."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body decoded as text."""
        return self.body.decode("utf-8", errors="replace")


class DashClient:
    """Calls a Dash app's endpoints over HTTP.

    Args:
        base_url: e.g. ``http://127.0.0.1:8050``.
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._dependencies: list[dict] | None = None
        self._shell: dict[str, dict] | None = None

    def get(self, path: str) -> Response:
        """GET ``path`` (with its query) and return the response; 4xx/5xx do not raise."""
        return self._request(urllib.request.Request(self.base_url + path))

    def _request(self, request: urllib.request.Request) -> Response:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                body, status = reply.read(), reply.status
                headers = reply.headers
        except urllib.error.HTTPError as error:
            body, status, headers = error.read(), error.code, error.headers
        encoding = headers.get("Content-Encoding", "")
        timing = re.search(r"dur=([0-9.]+)", headers.get("Server-Timing", ""))
        seconds = time.perf_counter() - started
        compressed = len(body) if encoding in ("gzip", "br", "deflate") else len(gzip.compress(body, 6))
        if encoding == "gzip":
            body = gzip.decompress(body)
        return Response(status, body, seconds, compressed, float(timing.group(1)) if timing else None)

    def dependencies(self) -> list[dict]:
        """Return the app's callback graph (``/_dash-dependencies``), fetched once."""
        if self._dependencies is None:
            self._dependencies = self.get("/_dash-dependencies").json()
        return self._dependencies

    def call(self, dependency: dict, values: dict[tuple[str, str], Any], changed: list[str] | None = None) -> Response:
        """Fire one server callback.

        Args:
            dependency: an entry of :meth:`dependencies`.
            values: (component id, property) -> value for its inputs and states.
            changed: the ``id.prop`` strings that triggered it (default: all inputs).
        """
        inputs = [_wire(item, values) for item in dependency["inputs"]]
        state = [_wire(item, values) for item in dependency["state"]]
        payload = {
            "output": dependency["output"],
            "outputs": _outputs(dependency["output"]),
            "inputs": inputs,
            "state": state,
            "changedPropIds": changed if changed is not None
            else [f"{item['id']}.{item['property']}" for item in dependency["inputs"]],
        }
        return self.post_callback(payload)

    def post_callback(self, payload: dict) -> Response:
        """POST a raw callback payload to ``/_dash-update-component``."""
        request = urllib.request.Request(
            self.base_url + "/_dash-update-component",
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
            method="POST",
        )
        return self._request(request)

    def render_page(self, pathname: str, search: str = "") -> tuple[Response, Any]:
        """Render a page through the pages router; return the response and the page's layout (or None)."""
        router = next(d for d in self.dependencies() if d["output"] == ROUTER_OUTPUT)
        response = self.call(router, {("_pages_location", "pathname"): pathname, ("_pages_location", "search"): search})
        layout = None
        if response.status == 200:
            layout = response.json()["response"]["_pages_content"]["children"]
        return response, layout

    def shell_props(self) -> dict[str, dict]:
        """Return the app shell's components (``/_dash-layout``) by id, fetched once."""
        if self._shell is None:
            self._shell = dict(_component_props(self.get("/_dash-layout").json()))
        return self._shell

    def page_callbacks(self, layout: Any) -> Iterator[tuple[dict, dict[tuple[str, str], Any]]]:
        """Yield (dependency, values) for each server callback the page would fire on load.

        A callback counts when one of its outputs is on the page and all its inputs
        are on the page or in the app shell. Callbacks with pattern-matching ids,
        clientside and background callbacks, and those with ``prevent_initial_call``
        are left out.
        """
        page = dict(_component_props(layout))
        props = {**self.shell_props(), **page}
        for dependency in self.dependencies():
            if dependency.get("clientside_function") or dependency.get("background"):
                continue
            if dependency.get("prevent_initial_call") or dependency["output"] == ROUTER_OUTPUT:
                continue
            items = dependency["inputs"] + dependency["state"]
            outputs = _outputs(dependency["output"])
            outputs = outputs if isinstance(outputs, list) else [outputs]
            if not any(output["id"] in page for output in outputs):
                continue
            if not all(item["id"] in props or _WILDCARD in item["id"] for item in dependency["inputs"]):
                continue
            values = {(item["id"], item["property"]): _value(item, props) for item in items}
            yield dependency, values


_WILDCARD = '["ALL"]'


def _key(component_id: Any) -> str:
    # Dash names a dict id by its JSON with sorted keys and no spaces.
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return component_id


def is_wildcard(key: tuple[str, str]) -> bool:
    """True for a (component id, property) key whose id has an ALL wildcard."""
    return _WILDCARD in key[0]


def _value(item: dict, props: dict[str, dict]) -> Any:
    component_id = item["id"]
    if _WILDCARD not in component_id:
        return props.get(component_id, {}).get(item["property"])
    # An ALL dependency is sent as the list of every matching component, as the renderer does.
    wanted = json.loads(component_id)
    fixed = {k: v for k, v in wanted.items() if v != ["ALL"]}
    matches = []
    for key, component in props.items():
        if key.startswith("{"):
            parsed = json.loads(key)
            if parsed.keys() == wanted.keys() and all(parsed[k] == v for k, v in fixed.items()):
                matches.append({"id": parsed, "property": item["property"], "value": component.get(item["property"])})
    return matches


def _wire(item: dict, values: dict[tuple[str, str], Any]) -> Any:
    component_id = item["id"]
    value = values.get((component_id, item["property"]))
    if _WILDCARD in component_id:
        return value if isinstance(value, list) else []
    wired = json.loads(component_id) if component_id.startswith("{") else component_id
    return {"id": wired, "property": item["property"], "value": value}


def _outputs(output: str) -> Any:
    if output.startswith(".."):
        parts = [part for part in output.strip(".").split("...") if part]
        return [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in parts]
    component, prop = output.rsplit(".", 1)
    return {"id": component, "property": prop}


def _component_props(node: Any) -> Iterator[tuple[str, dict]]:
    if isinstance(node, list):
        for child in node:
            yield from _component_props(child)
    elif isinstance(node, dict) and "props" in node:
        props = node["props"]
        if isinstance(props.get("id"), (str, dict)):
            yield _key(props["id"]), props
        for value in props.values():
            if isinstance(value, (list, dict)):
                yield from _component_props(value)


@dataclass
class LoadResult:
    """What a load run measured."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    error_samples: list[str]

    @property
    def requests_per_second(self) -> float:
        """Completed requests per wall-clock second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) in seconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_load(base_url: str, targets: list[tuple[dict, dict]], clients: int, seconds: float) -> LoadResult:
    """Fire ``targets`` (dependency, values) round-robin from ``clients`` threads for ``seconds``.

    Bounded in time and count: each thread stops at the deadline; only ``base_url``
    (loopback) is contacted. A non-2xx answer, a traceback or a transport error counts
    as an error.
    """
    import threading

    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def worker(offset: int) -> None:
        client = DashClient(base_url, timeout=30)
        index = offset
        while time.monotonic() < deadline:
            dependency, values = targets[index % len(targets)]
            index += 1
            try:
                response = client.call(dependency, values)
                failed = response.status not in (200, 204) or "Traceback" in response.text
                detail = f"{response.status} {dependency['output'][:60]}"
            except OSError as error:
                failed, detail, response = True, f"transport: {error}", None
            with lock:
                if failed:
                    errors.append(detail)
                else:
                    latencies.append(response.seconds)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return LoadResult(len(latencies) + len(errors), len(errors), elapsed, latencies, errors[:10])
