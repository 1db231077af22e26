"""Check the shape of a callback request body before Dash dispatches it.

Dash's dispatcher indexes the body without checking it, so a malformed body
(a JSON array, a missing key, an input that is a number) used to end in a
KeyError or TypeError deep inside Dash: a 500 and a traceback in the log. This
module names what is wrong instead, so the server can answer 400.
"""

from __future__ import annotations

from typing import Any

from dash._utils import stringify_id

MAX_REASON = 160  # characters of a reason that reach the log: a 100 KB field must not fill it
WILDCARDS = ('["ALL"]', '["MATCH"]', '["ALLSMALLER"]')  # as Dash writes them in a declared dict id


class BadCallbackBody(ValueError):
    """A callback request body that Dash cannot dispatch; the message says why (short)."""


def check_callback_body(body: Any, callback_map: dict[str, dict]) -> None:
    """Check that ``body`` is a callback request Dash can dispatch for one of ``callback_map``'s callbacks.

    Args:
        body: the parsed JSON body of ``/_dash-update-component``.
        callback_map: the app's ``callback_map`` (output id -> spec with ``inputs`` and ``state``).

    Raises:
        BadCallbackBody: the body is not an object, names no known callback, or its
            outputs, inputs, state or changedPropIds do not have the renderer's shape
            (inputs and state must match the callback's declared ids and properties).
    """
    if not isinstance(body, dict):
        raise BadCallbackBody(f"the body must be a JSON object, not {type(body).__name__}")
    output = body.get("output")
    if not isinstance(output, str):
        raise BadCallbackBody("'output' must be a string")
    spec = callback_map.get(output)
    if spec is None:
        raise BadCallbackBody(f"no callback has the output {shorten(output)!r}")
    _check_outputs(body.get("outputs"))
    _check_dependencies(body.get("inputs"), spec.get("inputs", []), "inputs", required=True)
    _check_dependencies(body.get("state"), spec.get("state", []), "state", required=False)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        raise BadCallbackBody("'changedPropIds' must be a list of strings")


def shorten(text: str, limit: int = MAX_REASON) -> str:
    """Return ``text`` cut to ``limit`` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_outputs(outputs: Any) -> None:
    items = outputs if isinstance(outputs, list) else [outputs]
    for item in items:
        for element in item if isinstance(item, list) else [item]:
            if not _is_reference(element):
                raise BadCallbackBody("'outputs' must be {id, property} objects (or lists of them)")


def _check_dependencies(given: Any, declared: list[dict], name: str, required: bool) -> None:
    if given is None and not required and not declared:
        return
    if not isinstance(given, list):
        raise BadCallbackBody(f"'{name}' must be a list")
    if len(given) != len(declared):
        raise BadCallbackBody(f"'{name}' has {len(given)} items; this callback takes {len(declared)}")
    for item, want in zip(given, declared, strict=True):
        wildcard = any(mark in want["id"] for mark in WILDCARDS)
        if isinstance(item, list) and wildcard:
            elements = item
        elif isinstance(item, dict):
            elements = [item]
        else:
            raise BadCallbackBody(f"an item of '{name}' must be an object")
        for element in elements:
            if not _is_reference(element) or element["property"] != want["property"]:
                raise BadCallbackBody(f"an item of '{name}' does not match the callback's {want['property']!r}")
            if not wildcard and stringify_id(element["id"]) != want["id"]:
                raise BadCallbackBody(f"an item of '{name}' does not match the callback's component")


def _is_reference(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), (str, dict)) and isinstance(item.get("property"), str)

