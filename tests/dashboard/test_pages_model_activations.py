"""The Architecture (/model) and Activation explorer (/activations) pages: layouts and callbacks.

Layouts and callbacks are called as plain functions against the ``tiny`` run (the
callback context that Dash would set is set by hand), an empty store and corrupted runs.
"""

from __future__ import annotations

import json
from contextvars import copy_context

import dash
import numpy as np
import plotly.graph_objects as go
import pytest
from dash import Patch
from dash._callback_context import context_value
from dash._utils import AttributeDict

import dashboard.app  # noqa: F401  (registers the pages: layouts draw a run through the page contract)
from artifacts import ArtifactStore
from artifacts.format import SNAPSHOT_PROBE_INDEX
from dashboard.figures import digits
from dashboard.pages.logic import activations, model
from dashboard.ui.urlstate import parse_search


def call(function, triggered: str | None, *args):
    """Run a callback as Dash would after ``triggered`` (a component id, or None for the first call)."""

    def run():
        inputs = [{"prop_id": f"{triggered}.value", "value": None}] if triggered else []
        context_value.set(AttributeDict(triggered_inputs=inputs))
        return function(*args)

    return copy_context().run(run)


def texts(component) -> str:
    """Return every string in a layout tree, for asserting what a user reads."""
    return json.dumps(component.to_plotly_json() if hasattr(component, "to_plotly_json") else component,
                      default=lambda value: value.to_plotly_json() if hasattr(value, "to_plotly_json") else str(value))


def find(component, component_id):
    """Return the component with ``component_id`` in a layout tree, or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


@pytest.fixture
def tiny(tiny_store, use_store):
    use_store(tiny_store)
    return ArtifactStore(tiny_store).run("tiny")


def test_model_page_shows_layer_table_and_filters(tiny):
    page = model.layout(run="tiny", layer="conv_2", epoch="1")
    text = texts(page)
    for name in ("conv_1", "pool_1", "conv_2", "dense", "output", "Conv2D", "MaxPooling2D", "softmax"):
        assert name in text
    assert find(page, model.LAYER).value == "conv_2"
    assert find(page, model.EPOCH).value == 1
    assert find(page, model.CHANNEL).value == model.MEAN
    assert "input channel 3" in text  # conv_2 has one grid per input channel to choose from
    blocks = call(model.draw_blocks, None, "light", "tiny")
    assert [trace.name for trace in blocks.data if trace.type == "mesh3d"][:3] == ["pixels", "conv_1", "pool_1"]


def test_model_filters_follow_layer_channel_and_epoch(tiny):
    figure, error, query = call(model.draw_filters, model.EPOCH, "conv_2", 3, 1, "dark", "tiny")
    assert error is None and isinstance(figure, go.Figure)
    kernel = tiny.snapshot(1)["kernel__conv_2"].astype(np.float32)
    z = np.asarray(figure.data[0].z)
    np.testing.assert_allclose(z[0:3, 0:3], kernel[:, :, 3, 0], rtol=1e-6)
    assert "epoch 1" in figure.layout.title.text and "input channel 3" in figure.layout.title.text
    assert parse_search(query) == {"run": "tiny", "layer": "conv_2", "channel": 3, "epoch": 1}
    _, _, first = call(model.draw_filters, None, "conv_1", model.MEAN, 0, "light", "tiny")
    assert first is dash.no_update  # the first draw adds no history entry
    options, value = call(model.update_channels, model.LAYER, "conv_1", 3, 0, "tiny")
    assert value == model.MEAN and len(options) == 1


def test_activation_page_rebuilds_the_view_in_the_url(tiny):
    page = activations.layout(run="tiny", digit="4", probe="13", layer="pool_1", channel="2", epoch="1",
                              mode="average")
    assert find(page, activations.DIGIT).value == 4
    assert find(page, activations.PROBE).data == 13
    assert find(page, activations.LAYER).value == "pool_1"
    assert find(page, activations.LAYER).options == ["conv_1", "pool_1", "conv_2", "pool_2"]
    assert find(page, activations.CHANNEL).value == 2
    assert find(page, activations.EPOCH).value == 1
    assert find(page, activations.MODE).value is True
    query = call(activations.record_query, activations.CHANNEL, 4, 13, "pool_1", 2, 1, True, "tiny")
    assert parse_search(query) == {"run": "tiny", "digit": 4, "probe": 13, "layer": "pool_1", "channel": 2,
                                   "epoch": 1, "mode": "average"}


def test_digit_filter_moves_the_probe_into_the_class(tiny):
    labels = tiny.probes()["labels"]
    chosen = call(activations.select_probe, activations.DIGIT, None, 7, None, 0, "tiny")
    assert labels[chosen] == 7
    assert call(activations.select_probe, activations.DIGIT, None, "all", None, chosen, "tiny") is dash.no_update
    picker = call(activations.draw_picker, None, 7, chosen, "light", "tiny")
    shown = np.flatnonzero(labels == 7)
    # The picker is the app's digit grid drawn as one PNG: as many tiles as the class has probes.
    assert picker.layout.meta["count"] == len(shown)
    assert picker.layout.meta["width"] == len(shown) * digits.PITCH_X - digits.GAP
    assert picker.data[0].type == "image" and picker.data[0].source.startswith("data:image/png;base64,")
    click = {"points": [{"x": 29 + 3, "y": 4}]}  # inside the second thumbnail
    assert call(activations.select_probe, activations.PICKER, click, 7, None, chosen, "tiny") == shown[1]
    patch = call(activations.draw_picker, activations.PROBE, 7, int(shown[1]), "light", "tiny")
    assert isinstance(patch, Patch)


def test_digit_views_and_layer_views(tiny):
    summary, note, is_open, digit, saliency, probabilities = call(activations.draw_digit, None, 4, 2, "light",
                                                                  "tiny")
    assert note is None and is_open is False and "label 1" in texts(summary)
    snapshot = tiny.snapshot(2)
    row = int(np.flatnonzero(snapshot[SNAPSHOT_PROBE_INDEX] == 4)[0])
    np.testing.assert_allclose(np.asarray(saliency.data[1].z), snapshot["saliency"][row].astype(np.float32))
    np.testing.assert_allclose(np.asarray(probabilities.data[0].y), snapshot["probabilities"][row].astype(np.float32))
    args = (4, "conv_1", 5, 2, False, "all", "light", "tiny")
    mosaic = call(activations.draw_mosaic, None, *args)
    assert "conv_1, probe 4, epoch 2" in mosaic.layout.title.text
    # The interactive (WebGL) views; their default images: tests/dashboard/test_scene_image.py.
    surface, key = call(activations.draw_surface, None, *args, None, True)
    np.testing.assert_allclose(np.asarray(surface.data[0].z),
                               snapshot["act__conv_1"][row][:, :, 5].astype(np.float32))
    stack, dense = call(activations.draw_stack, None, 4, 2, "light", "tiny", True)
    assert [t.name for t in stack.data if t.type == "surface"] == ["pixels", "conv_1", "pool_1", "conv_2",
                                                                   "pool_2", "dense", "output"]
    assert len(dense.data[0].y) == 128


def test_epoch_and_channel_changes_are_patches(tiny):
    args = (4, "conv_1", 5, 1, False, "all", "light", "tiny")
    _, key = call(activations.draw_surface, None, *args, None, True)  # the interactive (WebGL) surface
    patch, unchanged = call(activations.draw_surface, activations.EPOCH, *args, key, True)
    assert isinstance(patch, Patch)
    operations = patch.to_plotly_json()["operations"]
    z = next(op for op in operations if op["location"] == ["data", 0, "z"])["params"]["value"]
    row = int(np.flatnonzero(tiny.snapshot(1)[SNAPSHOT_PROBE_INDEX] == 4)[0])
    np.testing.assert_allclose(np.asarray(z), tiny.snapshot(1)["act__conv_1"][row][:, :, 5].astype(np.float32))
    theme_change = call(activations.draw_surface, "theme", *args[:-2], "dark", "tiny", key, True)[0]
    assert isinstance(theme_change, go.Figure)
    highlight = call(activations.draw_mosaic, activations.CHANNEL, *args)
    assert isinstance(highlight, Patch)


def test_class_average_is_the_mean_over_the_class(tiny):
    maps, caption = activations.layer_maps(tiny, "pool_2", 0, 2, True, 3)
    snapshot = tiny.snapshot(2)
    rows = np.flatnonzero(tiny.probes()["labels"][snapshot[SNAPSHOT_PROBE_INDEX]] == 3)
    np.testing.assert_allclose(maps, snapshot["act__pool_2"][rows].astype(np.float32).mean(axis=0), rtol=1e-6)
    assert f"mean of {len(rows)} digits of class 3" in caption


def test_probe_without_history_says_so_and_offers_the_nearest(store_copy, use_store):
    use_store(store_copy)
    run = ArtifactStore(store_copy).run("tiny")
    # Keep only the first probe of each class in the per-epoch snapshots, as a big run would.
    for epoch in run.snapshot_epochs()[:-1]:
        arrays = dict(run.snapshot(epoch))
        keep = np.arange(0, len(arrays[SNAPSHOT_PROBE_INDEX]), 3)
        run.write_snapshot(epoch, {key: value if key.startswith("kernel__") else value[keep]
                                   for key, value in arrays.items()})
    summary, note, is_open, *_ = call(activations.draw_digit, None, 4, 1, "light", "tiny")
    assert "Only the final epoch (2) is stored for probe 4" in note and is_open is True
    assert call(activations.select_probe, activations.NEAREST, None, "all", 1, 4, "tiny") == 3
    assert call(activations.select_probe, activations.DIGIT, None, 5, None, 4, "tiny") == 15


def test_empty_store_shows_how_to_start(tmp_path, use_store):
    use_store(tmp_path / "empty")
    for page in (model.layout(), activations.layout()):
        text = texts(page)
        assert "error-card" in text and "No runs yet" in text


@pytest.mark.parametrize("params", [{"run": "../../etc"}, {"run": "nope"}, {"run": "x" * 300}])
def test_odd_run_ids_give_a_message(tiny, params):
    for page in (model.layout(**params), activations.layout(**params)):
        assert "error-card" in texts(page)


def test_odd_view_parameters_fall_back(tiny):
    page = activations.layout(run="tiny", probe="99999", layer="nope", channel="-3", epoch="77", digit="12")
    assert "There is no probe 99999" in texts(page)
    assert find(page, activations.LAYER).value == "conv_1"
    assert find(page, activations.EPOCH).value == 2
    page = model.layout(run="tiny", layer="pool_1", channel="999", epoch="abc")
    assert find(page, model.LAYER).value == "conv_1" and find(page, model.CHANNEL).value == model.MEAN
    assert call(activations.draw_mosaic, None, 4, "conv_9", 0, 1, False, "all", "light", "tiny") == {}


def test_corrupted_runs_give_an_error_card_not_an_exception(store_copy, use_store):
    use_store(store_copy)
    (store_copy / "tiny" / "manifest.json").write_text("{not json")
    for page in (model.layout(run="tiny"), activations.layout(run="tiny")):
        assert "error-card" in texts(page)


def test_corrupted_snapshot_gives_a_message(store_copy, use_store):
    use_store(store_copy)
    (store_copy / "tiny" / "snapshots" / "epoch_001.npz").write_bytes(b"garbage")
    summary, *_ = call(activations.draw_digit, None, 4, 1, "light", "tiny")
    assert "error-card" in texts(summary)
    figure, error, _ = call(model.draw_filters, model.EPOCH, "conv_1", model.MEAN, 1, "light", "tiny")
    assert "error-card" in texts(error)
    assert call(activations.draw_surface, None, 4, "conv_1", 0, 1, False, "all", "light", "tiny", None) == ({}, None)


def test_epoch_sliders_step_by_whole_stored_epochs(tiny):
    # Dash 4 moved a step=None slider by 0.1 on the arrow keys (epoch=3.1 in the URL).
    for slider in (find(activations.layout(run="tiny"), activations.EPOCH),
                   find(model.layout(run="tiny"), model.EPOCH)):
        assert (slider.min, slider.max, slider.step) == (0, 2, 1)
        assert sorted(slider.marks) == [0, 1, 2]


def test_a_fractional_epoch_snaps_to_a_stored_one_without_a_false_warning(tiny):
    summary, note, is_open, *_ = call(activations.draw_digit, None, 4, 1.1, "light", "tiny")
    assert note is None and is_open is False and "label 1" in texts(summary)
    mosaic = call(activations.draw_mosaic, None, 4, "conv_1", 0, 1.1, False, "all", "light", "tiny")
    assert mosaic.layout.title.text.endswith("conv_1, probe 4, epoch 1")
    page = activations.layout(run="tiny", layer="conv_1", epoch="1.4")
    assert find(page, activations.EPOCH).value == 1
    assert "epoch=1.4 in the address is not a stored epoch (0 to 2): showing epoch 1" in texts(page)
    page = model.layout(run="tiny", layer="conv_1", epoch="0.6")
    assert find(page, model.EPOCH).value == 1 and "showing epoch 1, the nearest" in texts(page)
    figure, _, _ = call(model.draw_filters, model.EPOCH, "conv_1", model.MEAN, 0.6, "light", "tiny")
    assert "epoch 1" in figure.layout.title.text


def test_a_channel_the_layer_lacks_shows_the_channel_drawn(tiny):
    page = activations.layout(run="tiny", layer="conv_1", channel="999")
    box = find(page, activations.CHANNEL)
    channels = tiny.snapshot(2)["act__conv_1"].shape[-1]
    assert (box.value, box.max) == (0, channels - 1)
    assert f"channel=999 in the address is not a channel of this layer (0 to {channels - 1})" in texts(page)
    assert find(activations.layout(run="tiny", layer="pool_1", channel="3"), activations.CHANNEL).value == 3
    # A number typed into the box is kept inside the layer as well.
    assert call(activations.select_channel, activations.CHANNEL, None, "conv_1", 999, "tiny") == (0, channels - 1)
    assert call(activations.select_channel, activations.CHANNEL, None, "conv_1", 3, "tiny") == (
        dash.no_update, channels - 1)


def fire(function, fired: list[str], *args):
    """Run a callback as Dash would after every component in ``fired`` changed together."""

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{name}.value", "value": None}
                                                          for name in fired]))
        return function(*args)

    return copy_context().run(run)


def decoded(spec: dict) -> np.ndarray:
    """Return a typed-array spec (as frames carry them) as a numpy array."""
    import base64

    shape = [int(size) for size in spec["shape"].split(",")]
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.float32).reshape(shape)


def test_one_request_draws_the_views_and_every_epochs_frame(tiny):
    args = (4, "conv_1", 5, False, "all", "light", activations.MAP_TAB, 2, "tiny", None)
    out = call(activations.draw_views, None, *args)
    assert len(out) == 13
    summary, mosaic, channel_map, surface, frames = out[0], out[6], out[7], out[8], out[11]
    assert "label 1" in texts(summary) and "epoch 2" in mosaic.layout.title.text
    assert surface is dash.no_update  # the 3D surface waits for its tab
    assert channel_map.layout.title.text == "Channel 5: conv_1, probe 4, epoch 2"
    assert frames["epochs"] == [0, 1, 2] and frames["drawn"] == 2 and sorted(frames["frames"]) == ["0", "1", "2"]
    snapshot = tiny.snapshot(1)
    row = int(np.flatnonzero(snapshot[SNAPSHOT_PROBE_INDEX] == 4)[0])
    frame = frames["frames"]["1"]
    np.testing.assert_array_equal(decoded(frame["surface"]["z"]), snapshot["act__conv_1"][row][:, :, 5])
    np.testing.assert_array_equal(decoded(frame["saliency"]), snapshot["saliency"][row].astype(np.float32))
    np.testing.assert_array_equal(decoded(frame["probabilities"]["y"]),
                                  snapshot["probabilities"][row].astype(np.float32))
    assert frame["mosaic"]["title"] == "Feature maps: conv_1, probe 4, epoch 1"
    assert frame["mosaic"]["source"].startswith("data:image/png;base64,") and frame["note"] is None
    # A class chosen and its probe, fired together, redraw the digit (not left to a later call).
    assert fire(activations.draw_views, [activations.DIGIT, activations.PROBE], *args)[0] is not dash.no_update
    assert all(value is dash.no_update for value in fire(activations.draw_views, [activations.DIGIT], *args))


def test_a_theme_keeps_the_frames_and_a_channel_resends_only_its_part(tiny):
    first = call(activations.draw_views, None, 4, "conv_1", 2, False, "all", "light", activations.MAP_TAB, 2,
                 "tiny", None)
    sent = first[12]  # what the browser's frames are of
    args = (4, "conv_1", 5, False, "all", "dark", activations.MAP_TAB, 2, "tiny", None, sent)
    theme = fire(activations.draw_views, [activations.THEME], 4, "conv_1", 2, False, "all", "dark",
                 activations.MAP_TAB, 2, "tiny", None, sent)
    assert theme[11] is dash.no_update and theme[0] is not dash.no_update
    out = fire(activations.draw_views, [activations.CHANNEL], *args)
    assert out[0] is dash.no_update and isinstance(out[6], Patch)  # the digit stays, the mosaic's frame moves
    operations = out[11].to_plotly_json()["operations"]
    assert {tuple(op["location"][2:]) for op in operations if op["location"][0] == "frames"} == {("surface",)}
    assert len([op for op in operations if op["location"][0] == "frames"]) == 3
    layer = fire(activations.draw_views, [activations.LAYER, activations.CHANNEL], 4, "pool_1", 5, False, "all",
                 "dark", activations.MAP_TAB, 2, "tiny", None, out[12])
    changed = {tuple(op["location"][2:]) for op in layer[11].to_plotly_json()["operations"]
               if op["location"][0] == "frames"}
    assert changed == {("surface",), ("mosaic",)} and "pool_1" in layer[6].layout.title.text
    opened = fire(activations.draw_views, [activations.CHANNEL_TABS], 4, "conv_1", 5, False, "all", "dark",
                  activations.SURFACE_TAB, 2, "tiny", None, None, True)  # the interactive (WebGL) surface
    assert opened[8].data[0].type == "surface" and opened[6] is dash.no_update  # opening the tab draws only it


def test_model_filters_come_with_every_epochs_grid(tiny):
    figure, error, frames = call(model.draw_filter_views, None, "conv_2", 3, "light", 1, "tiny")
    assert error is None and "epoch 1" in figure.layout.title.text and frames["drawn"] == 1
    for epoch in (0, 2):
        frame = frames["frames"][str(epoch)]
        kernel = tiny.snapshot(epoch)["kernel__conv_2"].astype(np.float32)
        np.testing.assert_allclose(decoded(frame["z"])[0:3, 0:3], kernel[:, :, 3, 0], rtol=1e-6)
        assert frame["title"] == f"conv_2: 64 filters, epoch {epoch} (input channel 3)"
        assert frame["bound"] == pytest.approx(float(np.abs(kernel[:, :, 3, :]).max()))
