"""Issue 12: what the Draw page's callbacks send for a stroke, a channel, the 3D tab, the stacked switch, an epoch.

The browser tests (tests/browser/test_draw_views_browser.py) check the same on the page; these pin
the callbacks' answers: no 3D figure unless its tab or switch is open, the feature maps as one
image, a channel click patching the frame only, an epoch change leaving the card's two ends alone.
"""

from __future__ import annotations

import json

import dash
import numpy as np
import plotly
import pytest
from dash import Patch
from dash.exceptions import PreventUpdate

from artifacts import ArtifactStore
from dashboard.draw import epoch_view
from dashboard.draw import layout as parts
from tests.conftest import TINY_RUN_ID
from tests.dashboard.test_draw import draw, triggered_by  # noqa: F401  (the page's fixture)
from tests.dashboard.test_draw_epochs import test_digit

STROKE_BYTES = 80_000  # the answer and the walk for one stroke, as JSON (256 KB before issue 12)


def size(value) -> int:
    return len(json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder))


def types(value) -> list[str]:
    found = []
    json.loads(json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder),
               object_hook=lambda item: found.append(item.get("type")) or item)
    return [kind for kind in found if isinstance(kind, str)]


@pytest.fixture
def digit(draw):  # noqa: F811
    return test_digit(ArtifactStore(draw.current_settings().store_root).run(TINY_RUN_ID), 7)


def test_a_stroke_sends_the_answer_and_the_walk_without_3d(draw, digit):  # noqa: F811
    outputs = triggered_by(parts.DIGIT, draw.show_digit)(digit, 1, None, "light", None, parts.MAP_TAB, TINY_RUN_ID,
                                                         "?run=tiny")
    assert len(outputs) == 14
    probabilities, maps, flat, surface = outputs[7], outputs[8], outputs[9], outputs[10]
    assert probabilities.data[0].type == "bar"
    assert maps.data[0].type == "image" and maps.data[0].source.startswith("data:image/png;base64,")
    assert flat.data[0].type == "heatmap"  # the chosen channel, its values on hover
    assert surface is dash.no_update
    assert not {"surface", "scatter3d"} & set(types(outputs))
    assert size(outputs) < STROKE_BYTES, size(outputs)
    # With the 3D tab open the same stroke sends the surface too.
    opened = triggered_by(parts.DIGIT, draw.show_digit)(digit, 1, None, "light", None, parts.SURFACE_TAB,
                                                        TINY_RUN_ID, "?run=tiny", True)  # interactive (WebGL)
    assert opened[10].data[0].type == "surface"
    np.testing.assert_array_equal(np.asarray(opened[10].data[0].z), np.asarray(flat.data[0].z))


def test_opening_the_3d_tab_sends_the_surface_alone(draw, digit):  # noqa: F811
    show = triggered_by(parts.CHANNEL_TABS, draw.show_digit)
    outputs = show(digit, 1, None, "light", None, parts.SURFACE_TAB, TINY_RUN_ID, "?run=tiny", True)
    assert outputs[10].data[0].type == "surface"  # the interactive (WebGL) surface
    assert all(value is dash.no_update for index, value in enumerate(outputs) if index != 10)
    assert all(value is dash.no_update for value in show(digit, 1, None, "light", None, parts.MAP_TAB,
                                                         TINY_RUN_ID, "?run=tiny"))


def test_a_clicked_tile_moves_the_frame_without_resending_the_maps(draw, digit):  # noqa: F811
    outputs = triggered_by(parts.CHANNEL, draw.show_digit)(digit, 1, 3, "light", None, parts.MAP_TAB, TINY_RUN_ID,
                                                           "?run=tiny")
    assert all(value is dash.no_update for value in outputs[:8])  # the answer stays
    maps = outputs[8]
    assert isinstance(maps, Patch) and "image" not in json.dumps(maps.to_plotly_json(), default=str)
    assert "channel 3" in outputs[9].layout.title.text


def test_the_stacked_view_is_built_only_while_its_switch_is_on(draw, digit):  # noqa: F811
    with pytest.raises(PreventUpdate):
        triggered_by(parts.DIGIT, draw.show_stacked)(False, digit, "light", None, TINY_RUN_ID)
    assert triggered_by(parts.STACK_SHOW, draw.show_stacked)(False, digit, "light", None, TINY_RUN_ID) == (
        dash.no_update, parts.HIDDEN)
    figure, style = triggered_by(parts.STACK_SHOW, draw.show_stacked)(True, digit, "light", None, TINY_RUN_ID,
                                                                      True)  # the interactive (WebGL) view
    assert style == parts.SHOWN and len(figure.data) > 3 and figure.data[0].type == "surface"


def test_an_epoch_change_moves_the_marker_and_leaves_the_card_alone(draw, digit):  # noqa: F811
    style, first, last, lines, caption, note = triggered_by(epoch_view.EPOCH, draw.show_epochs)(
        digit, 0, "light", TINY_RUN_ID)
    assert first is dash.no_update and last is dash.no_update and caption is dash.no_update
    assert style is dash.no_update
    marker = lines.to_plotly_json()
    assert size(marker) < 1000  # a Patch of the marker, not the ten lines
    assert "epoch 0" in json.dumps(marker) and "after epoch 0 of 2" in note
    # A new digit draws the whole card, its lines marked at the epoch shown.
    _, first, last, lines, _, _ = triggered_by(parts.DIGIT, draw.show_epochs)(digit, 1, "light", TINY_RUN_ID)
    assert len(lines.data) == 10 and lines.layout.shapes[0].x0 == 1 and lines.layout.annotations[0].text == "epoch 1"
    assert first.layout.title.text.startswith("Epoch 0")
