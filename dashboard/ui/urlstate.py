"""The page state that URLs carry: parse and validate query parameters, build query strings.

Parameters: run, digit (0-9 or "all"), probe, layer, channel, epoch, cell ("3-5": true 3,
predicted 5), mode, compare, canvas (the Draw board's resolution). Anything malformed is dropped
rather than trusted; a page then falls back to its default for that parameter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode

from artifacts.format import is_valid_run_id

LAYER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CELL_PATTERN = re.compile(r"^([0-9])-([0-9])$")
MAX_INT = 100_000


def _int(value: Any, low: int = 0, high: int = MAX_INT) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def parse_state(params: dict[str, Any]) -> dict[str, Any]:
    """Return the valid state in ``params`` (a page's layout kwargs or a parsed query).

    Invalid values are left out, never raised, so a hand-edited URL cannot break a page.
    """
    state: dict[str, Any] = {}
    run = params.get("run")
    if is_valid_run_id(run):
        state["run"] = run
    compare = params.get("compare")
    if is_valid_run_id(compare):
        state["compare"] = compare
    digit = params.get("digit")
    if digit == "all":
        state["digit"] = "all"
    elif _int(digit, 0, 9) is not None:
        state["digit"] = _int(digit, 0, 9)
    for key in ("probe", "channel", "epoch"):
        value = _int(params.get(key))
        if value is not None:
            state[key] = value
    layer = params.get("layer")
    if isinstance(layer, str) and LAYER_PATTERN.fullmatch(layer):
        state["layer"] = layer
    cell = params.get("cell")
    if isinstance(cell, str) and CELL_PATTERN.fullmatch(cell):
        state["cell"] = cell
    for key in ("mode", "canvas"):
        value = params.get(key)
        if isinstance(value, str) and re.fullmatch(r"[a-z]{1,16}", value):
            state[key] = value
    return state


def parse_search(search: str | None) -> dict[str, Any]:
    """Parse a ``?a=1&b=2`` string into valid state (first value of each key)."""
    raw = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return parse_state({key: values[0] for key, values in raw.items() if values})


def build_search(**state: Any) -> str:
    """Return ``?key=value...`` for the non-empty values, in a stable order."""
    items = [(key, state[key]) for key in sorted(state) if state[key] not in (None, "")]
    return "?" + urlencode(items) if items else ""
