"""Issue 12: the 3D views drawn as server-rendered images by default, WebGL on demand.

The images (dashboard/figures/scene_image.py) must show the data: decoded, they differ between
different maps and equal a re-render of the same arrays; the pages' callbacks send them by default
and the WebGL figures (today's builders, the same z) when the "interactive" switch is on. The browser
side (scrubbing the surface image, the switches) is in tests/browser/.
"""

from __future__ import annotations

import base64
import io

import dash
import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from artifacts.format import SNAPSHOT_PROBE_INDEX
from dashboard.draw import layout as parts
from dashboard.figures import activations as figs
from dashboard.figures import scene_image
from dashboard.pages.logic import activations
from tests.conftest import TINY_RUN_ID
from tests.dashboard.test_draw import draw, triggered_by  # noqa: F401  (the page's fixture)
from tests.dashboard.test_draw_views import digit  # noqa: F401  (a test digit of the tiny run)
from tests.dashboard.test_pages_model_activations import call, fire, tiny  # noqa: F401  (fixture)


def pixels(source: str) -> np.ndarray:
    """Decode a PNG data URI to RGBA pixels."""
    assert source.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGBA"))


def bump(rows=26, cols=26, row=14, col=10) -> np.ndarray:
    grid_y, grid_x = np.mgrid[0:rows, 0:cols]
    return np.exp(-((grid_x - col) ** 2 + (grid_y - row) ** 2) / 20.0).astype(np.float32) * 3


def test_the_surface_image_shows_its_map_on_the_activation_scale():
    first, again, other = (scene_image.surface_frame(bump()), scene_image.surface_frame(bump()),
                           scene_image.surface_frame(bump(col=20)))
    assert np.array_equal(pixels(first["source"]), pixels(again["source"]))  # the same arrays, the same image
    assert not np.array_equal(pixels(first["source"]), pixels(other["source"]))
    image = pixels(first["source"])
    assert image.shape == (scene_image.SURFACE_SIZE[1], scene_image.SURFACE_SIZE[0], 4)
    assert image[0, 0, 3] == 0  # see-through around the scene: the page's theme shows
    # The peak's colour is the top of the scale (yellow in Viridis), the plain's the bottom (dark purple).
    top, bottom = scene_image._scale_colors(figs.ACTIVATION_SCALE, 2)
    opaque = image[image[..., 3] == 255][:, :3].astype(int)
    assert np.abs(opaque - top).sum(axis=1).min() < 120 and np.abs(opaque - bottom).sum(axis=1).min() < 60
    assert (first["low"], first["high"]) == pytest.approx((float(bump().min()), float(bump().max())))
    assert first["ticks"] == [f"{first['low']:.3g}", f"{(first['low'] + first['high']) / 2:.3g}",
                              f"{first['high']:.3g}"]
    with pytest.raises(ValueError):
        scene_image.surface_frame(np.ones(5))


def test_the_surface_figure_has_axes_colour_bar_and_theme():
    light = scene_image.surface_image(bump(), "Channel 3 in 3D", "light", value="pixel")
    dark = scene_image.surface_image(bump(), "Channel 3 in 3D", "dark", value="pixel")
    assert [trace.type for trace in light.data] == ["image", "scatter"]
    assert light.data[0].source == scene_image.surface_frame(bump())["source"]
    marker = light.data[1].marker
    assert marker.colorbar.title.text == "pixel" and (marker.cmin, marker.cmax) == pytest.approx((0, bump().max()),
                                                                                                abs=1e-3)
    labels = [note.text for note in light.layout.annotations]
    assert labels[:3] == scene_image.surface_frame(bump())["ticks"]
    assert {"column", "row", "pixel", "0", "25"} <= set(labels)
    assert light.layout.title.text == "Channel 3 in 3D"
    assert light.layout.template.layout.font.color != dark.layout.template.layout.font.color
    assert light.data[0].source == dark.data[0].source  # the image holds no theme colour


def test_the_stacked_image_shows_every_layer_and_the_chosen_channel():
    rng = np.random.default_rng(0)
    conv = rng.random((6, 6, 4)).astype(np.float32)
    layers = [("pixels", rng.random((28, 28)) * 255), ("conv_1", conv), ("dense", rng.random(16))]
    figure = scene_image.stacked_image(layers, "dark")
    assert [trace.type for trace in figure.data] == ["image", "scatter"]
    assert [note.text for note in figure.layout.annotations] == ["pixels<br>28x28", "conv_1<br>6x6x4", "dense<br>16"]
    again = scene_image.stacked_image(layers, "light")
    assert np.array_equal(pixels(figure.data[0].source), pixels(again.data[0].source))
    channel = scene_image.stacked_image(layers, "dark", channel=2)
    assert not np.array_equal(pixels(figure.data[0].source), pixels(channel.data[0].source))
    other = scene_image.stacked_image([layers[0], ("conv_1", conv[::-1]), layers[2]], "dark")
    assert not np.array_equal(pixels(figure.data[0].source), pixels(other.data[0].source))
    assert figure.layout.template.layout.font.color != again.layout.template.layout.font.color
    with pytest.raises(ValueError):
        scene_image.stacked_image([])


def test_activations_draws_the_3d_views_as_images_and_webgl_on_demand(tiny):  # noqa: F811
    args = (4, "conv_1", 5, 2, False, "all", "light", "tiny")
    snapshot = tiny.snapshot(2)
    row = int(np.flatnonzero(snapshot[SNAPSHOT_PROBE_INDEX] == 4)[0])
    channel_map = snapshot["act__conv_1"][row][:, :, 5].astype(np.float32)
    image, key = call(activations.draw_surface, None, *args, None)
    assert image.data[0].type == "image" and "Channel 5 in 3D" in image.layout.title.text
    assert image.data[0].source == scene_image.surface_frame(channel_map)["source"]
    webgl, webgl_key = call(activations.draw_surface, None, *args, None, True)
    assert webgl.data[0].type == "surface" and webgl_key != key
    np.testing.assert_array_equal(np.asarray(webgl.data[0].z),
                                  np.asarray(figs.activation_surface(channel_map, "", "light").data[0].z))
    # An epoch change with the image drawn: a Patch of the image, its colour bar and height ticks.
    patch, _ = call(activations.draw_surface, activations.EPOCH, 4, "conv_1", 5, 0, False, "all", "light", "tiny", key)
    operations = {tuple(op["location"]): op["params"].get("value") for op in patch.to_plotly_json()["operations"]}
    row0 = int(np.flatnonzero(tiny.snapshot(0)[SNAPSHOT_PROBE_INDEX] == 4)[0])
    epoch0 = scene_image.surface_frame(tiny.snapshot(0)["act__conv_1"][row0][:, :, 5])
    assert operations[("data", 0, "source")] == epoch0["source"] != image.data[0].source
    assert operations[("layout", "annotations", 2, "text")] == epoch0["ticks"][2]
    stack, _ = call(activations.draw_stack, None, 4, 2, "dark", "tiny")
    assert stack.data[0].type == "image" and len(stack.layout.annotations) == 7
    other, _ = call(activations.draw_stack, None, 5, 2, "dark", "tiny")
    assert not np.array_equal(pixels(stack.data[0].source), pixels(other.data[0].source))
    shown, is_open = call(activations.draw_stack_view, activations.STACK_WEBGL, True, 4, 2, "dark", "tiny", True)
    assert is_open and shown.data[0].type == "surface"


def test_the_surface_image_follows_the_epoch_the_slider_is_let_go_at(tiny):  # noqa: F811
    # The frames the slider swaps carry no image (every epoch's would cost a probe change 16 renders).
    closed = call(activations.draw_views, None, 4, "conv_1", 5, False, "all", "light", activations.MAP_TAB, 2,
                  "tiny", None)
    assert set(closed[11]["frames"]["0"]["surface"]) == {"z", "title", "map_title"}
    opened = fire(activations.draw_views, [activations.CHANNEL_TABS], 4, "conv_1", 5, False, "all", "light",
                  activations.SURFACE_TAB, 2, "tiny", None, closed[12])
    assert opened[8].data[0].type == "image" and opened[11] is dash.no_update
    key = opened[9]
    state = ("conv_1", 5, False, "all", "light", "tiny")
    patch = call(activations.draw_surface_epoch, activations.EPOCH, 0, activations.SURFACE_TAB, False, 4, *state, key)
    operations = {tuple(op["location"]): op["params"].get("value") for op in patch.to_plotly_json()["operations"]}
    row = int(np.flatnonzero(tiny.snapshot(0)[SNAPSHOT_PROBE_INDEX] == 4)[0])
    expected = scene_image.surface_frame(tiny.snapshot(0)["act__conv_1"][row][:, :, 5])
    assert operations[("data", 0, "source")] == expected["source"] != opened[8].data[0].source
    assert operations[("data", 1, "marker", "cmax")] == expected["high"]
    assert [operations[("layout", "annotations", index, "text")] for index in range(3)] == expected["ticks"]
    assert "epoch 0" in operations[("layout", "title", "text")]
    # Nothing with the tab closed, the WebGL view shown (frames.js swaps its z) or the image not drawn yet.
    for tab, webgl, drawn in ((activations.MAP_TAB, False, key), (activations.SURFACE_TAB, True, key),
                              (activations.SURFACE_TAB, False, None)):
        assert call(activations.draw_surface_epoch, activations.EPOCH, 0, tab, webgl, 4, *state, drawn) \
            is dash.no_update
    webgl = fire(activations.draw_views, [activations.SURFACE_WEBGL], 4, "conv_1", 5, False, "all", "light",
                 activations.SURFACE_TAB, 2, "tiny", key, closed[12], True)
    assert webgl[8].data[0].type == "surface" and all(value is dash.no_update for value in webgl[11:])
    # Made interactive while the tab was closed: opening it draws the WebGL scene, not the image drawn before.
    reopened = fire(activations.draw_views, [activations.CHANNEL_TABS], 4, "conv_1", 5, False, "all", "light",
                    activations.SURFACE_TAB, 2, "tiny", key, closed[12], True)
    assert reopened[8].data[0].type == "surface"
    assert all(value is dash.no_update for value in fire(
        activations.draw_views, [activations.CHANNEL_TABS], 4, "conv_1", 5, False, "all", "light",
        activations.SURFACE_TAB, 2, "tiny", key, closed[12], False))  # the image drawn is still the one to show


def test_draw_sends_the_3d_views_as_images_and_webgl_on_demand(draw, digit):  # noqa: F811
    show = triggered_by(parts.CHANNEL_TABS, draw.show_digit)
    image = show(digit, 1, None, "light", None, parts.SURFACE_TAB, TINY_RUN_ID, "?run=tiny")[10]
    webgl = show(digit, 1, None, "light", None, parts.SURFACE_TAB, TINY_RUN_ID, "?run=tiny", True)[10]
    assert image.data[0].type == "image" and webgl.data[0].type == "surface"
    channel_map = np.asarray(webgl.data[0].z, dtype=np.float32)
    assert image.data[0].source == scene_image.surface_frame(channel_map)["source"]
    other = dict(digit, pixels=np.rot90(np.asarray(digit["pixels"])).tolist())
    assert show(other, 1, None, "light", None, parts.SURFACE_TAB, TINY_RUN_ID, "?run=tiny")[10].data[0].source \
        != image.data[0].source
    stacked = triggered_by(parts.STACK_SHOW, draw.show_stacked)
    figure, style = stacked(True, digit, "dark", None, TINY_RUN_ID)
    assert style == parts.SHOWN and figure.data[0].type == "image" and isinstance(figure, go.Figure)
    assert [note.text.split("<br>")[0] for note in figure.layout.annotations][0] == parts.INPUT_LAYER
    assert stacked(True, other, "dark", None, TINY_RUN_ID)[0].data[0].source != figure.data[0].source
    assert triggered_by(parts.STACK_WEBGL, draw.show_stacked)(True, digit, "dark", None, TINY_RUN_ID,
                                                              True)[0].data[0].type == "surface"
