"""The epoch slider the Architecture and Activations pages share, and snapping epochs to stored ones.

Dash 4's slider with ``step=None`` still moves by a computed step (0.1 for 0-15) on the arrow
keys and commits that value unsnapped, so the slider steps by the stored epochs' spacing (1)
instead, and every value that reaches a page (slider or URL) is snapped to a stored epoch.
"""

from __future__ import annotations

import math
from functools import reduce

from dash import dcc


def slider_step(epochs: list[int]) -> int:
    """Return the whole step between stored epochs (their spacing's greatest common divisor; 1 if one)."""
    gaps = [later - earlier for earlier, later in zip(epochs, epochs[1:], strict=False) if later > earlier]
    return reduce(math.gcd, gaps, 0) or 1


# Every page's epoch slider: ``value`` changes once the handle is let go (what the server and the URL
# follow); while it is dragged only ``drag_value`` moves, which the pages' frames.js follows in the
# browser without a request. The value is shown while hovering.
SLIDER_OPTIONS = {"updatemode": "mouseup", "tooltip": {"placement": "bottom", "always_visible": False}}


def epoch_slider(component_id: str, epochs: list[int], value: int, **options) -> dcc.Slider:
    """Return a slider over the stored ``epochs`` (sorted, not empty) that moves only by whole steps.

    About a dozen marks are labelled; ``options`` override :data:`SLIDER_OPTIONS` (pages leave them).
    """
    options = {**SLIDER_OPTIONS, **options}
    every = max(1, len(epochs) // 12)
    marks = {epoch: (str(epoch) if index % every == 0 or epoch == epochs[-1] else "")
             for index, epoch in enumerate(epochs)}
    return dcc.Slider(id=component_id, min=epochs[0], max=epochs[-1], step=slider_step(epochs), marks=marks,
                      value=value, allow_direct_input=False, **options)


def nearest_epoch(epochs: list[int], value: object) -> int | None:
    """Return the stored epoch nearest ``value`` (a number or numeric string).

    Ties go to the earlier epoch. None when ``value`` is not a finite number or ``epochs`` is empty.
    """
    if not epochs:
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return min(epochs, key=lambda epoch: (abs(epoch - number), epoch))


def choose_epoch(raw: object, epochs: list[int]) -> tuple[int, str | None]:
    """Return the epoch to show for a URL's ``epoch`` value, and a message when it is not a stored one.

    Args:
        raw: the URL's value (None when absent: the last epoch, no message).
        epochs: the stored epochs, sorted, not empty.
    """
    if raw is None or raw == "":
        return epochs[-1], None
    epoch = nearest_epoch(epochs, raw)
    if epoch is None:
        return epochs[-1], f"epoch={str(raw)[:20]} in the address is not a number: showing epoch {epochs[-1]}."
    if str(raw).strip() != str(epoch):
        return epoch, (f"epoch={str(raw)[:20]} in the address is not a stored epoch "
                       f"({epochs[0]} to {epochs[-1]}): showing epoch {epoch}, the nearest.")
    return epoch, None
