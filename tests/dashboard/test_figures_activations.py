"""The activation and architecture figure builders, on small known arrays (no store, no browser)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dashboard.figures import activations as figs
from dashboard.figures import architecture as arch
from dashboard.figures import digits


def known_activation(height=3, width=4, channels=5) -> np.ndarray:
    """An (h, w, c) array whose channel k holds values 100*k + position, so tiles are recognisable."""
    base = np.arange(height * width, dtype=np.float32).reshape(height, width)
    return np.stack([base + 100 * k for k in range(channels)], axis=-1)


def test_mosaic_puts_each_channel_in_its_tile_with_nan_gaps():
    activation = known_activation()
    figure = figs.feature_map_mosaic(activation, "conv_1", columns=2)
    assert len(figure.data) == 1 and figure.data[0].type == "heatmap"
    z, channel_of = np.asarray(figure.data[0].z), np.asarray(figure.data[0].customdata)
    assert z.shape == (3 * 4 - 1, 2 * 5 - 1)  # 3 rows of tiles, 2 columns, 1 px gaps
    for channel in range(5):
        top, left = figs.tile_origin(channel, 3, 4, 2)
        np.testing.assert_array_equal(z[top:top + 3, left:left + 4], activation[:, :, channel])
        assert (channel_of[top:top + 3, left:left + 4] == channel).all()
    assert np.isnan(z[3, :]).all() and np.isnan(z[:, 4]).all()
    assert (channel_of[3, :] == -1).all()
    assert np.isnan(z[8:, 5:]).all()  # the empty sixth tile
    assert figure.layout.title.text == "conv_1"
    assert figure.data[0].colorbar.title.text == "activation"
    assert "channel" in figure.data[0].hovertemplate


def test_mosaic_click_position_maps_back_to_channel():
    for row, column, expected in [(0, 0, 0), (2, 3, 0), (0, 5, 1), (4, 0, 2), (9, 5, None),
                                  (3, 0, None), (0, 4, None)]:
        assert figs.channel_at(row, column, 3, 4, 2, 5) == expected


def test_mosaic_highlight_frames_the_channel_tile():
    figure = figs.feature_map_mosaic(known_activation(), "x", columns=2, highlight=3)
    shape = figure.layout.shapes[0]
    top, left = figs.tile_origin(3, 3, 4, 2)
    assert shape.visible and (shape.x0, shape.y0) == (left - 0.5, top - 0.5)
    assert (shape.x1, shape.y1) == (left + 4 - 0.5, top + 3 - 0.5)
    assert figs.feature_map_mosaic(known_activation(), "x").layout.shapes[0].visible is False


def test_mosaic_default_columns_prefer_full_rows():
    assert figs.mosaic_columns(32) == 8
    assert figs.mosaic_columns(64) == 8
    assert figs.mosaic_columns(7, columns=3) == 3


def test_mosaic_rejects_wrong_rank():
    with pytest.raises(ValueError, match="h, w, c"):
        figs.feature_map_mosaic(np.zeros((4, 4)), "x")


def test_surface_z_is_the_channel_map_with_labelled_axes():
    channel_map = np.random.default_rng(0).random((6, 7)).astype(np.float16)
    figure = figs.activation_surface(channel_map, "channel 2", theme="dark")
    assert figure.data[0].type == "surface"
    np.testing.assert_allclose(np.asarray(figure.data[0].z), channel_map.astype(np.float32))
    scene = figure.layout.scene
    assert (scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text) == ("column", "row", "activation")
    assert figure.data[0].colorbar.title.text == "activation"
    assert figure.layout.template.layout.paper_bgcolor is not None  # the dark template was applied
    assert figure.layout.title.text == "channel 2"


def test_stacked_view_has_one_plane_per_layer_input_at_the_bottom():
    rng = np.random.default_rng(1)
    layers = [("pixels", rng.random((28, 28))), ("conv_1", rng.random((26, 26, 4))),
              ("pool_1", rng.random((13, 13, 4))), ("dense", rng.random(16)), ("output", rng.random(10))]
    figure = figs.stacked_layers(layers)
    planes = [trace for trace in figure.data if trace.type == "surface"]
    assert [plane.name for plane in planes] == ["pixels", "conv_1", "pool_1", "dense", "output"]
    heights = [float(np.unique(np.asarray(plane.z))[0]) for plane in planes]
    assert heights == [0, 1, 2, 3, 4]
    assert np.asarray(planes[1].surfacecolor).shape == (26, 26)
    assert np.asarray(planes[3].surfacecolor).shape == (2, 16)  # a dense layer is a strip
    conv_mean = layers[1][1].mean(axis=2)
    expected = (conv_mean - conv_mean.min()) / (conv_mean.max() - conv_mean.min())
    np.testing.assert_allclose(np.asarray(planes[1].surfacecolor), expected, atol=1e-5)
    labels = [trace for trace in figure.data if trace.type == "scatter3d"][0]
    assert list(labels.text) == ["pixels<br>28x28", "conv_1<br>26x26x4", "pool_1<br>13x13x4", "dense<br>16",
                                 "output<br>10"]
    assert sum(bool(plane.showscale) for plane in planes) == 1


def test_stacked_view_can_show_one_channel():
    conv = np.zeros((5, 5, 3), dtype=np.float32)
    conv[1, 2, 2] = 4.0
    plane = figs.stacked_layers([("conv", conv)], channel=2).data[0]
    assert np.asarray(plane.surfacecolor)[1, 2] == 1.0 and np.asarray(plane.surfacecolor).sum() == 1.0


def test_stacked_view_needs_layers():
    with pytest.raises(ValueError):
        figs.stacked_layers([])


def test_saliency_overlay_keeps_the_digit_and_the_saliency():
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28) % 256
    saliency = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    figure = figs.saliency_overlay(image, saliency)
    digit, heat = figure.data
    np.testing.assert_array_equal(np.asarray(digit.z), image)
    np.testing.assert_allclose(np.asarray(heat.z), saliency)
    assert (heat.zmin, heat.zmax) == (0, 1) and heat.colorbar.title.text == "saliency"
    assert figure.layout.yaxis.autorange == "reversed"  # row 0 at the top, like the digit
    with pytest.raises(ValueError):
        figs.saliency_overlay(image, saliency[:10])


def test_probability_bars_mark_prediction_and_truth():
    probabilities = np.full(10, 0.02, dtype=np.float32)
    probabilities[7] = 0.82
    wrong = figs.probability_bars(probabilities, true_label=1)
    colors = list(wrong.data[0].marker.color)
    assert colors[7] == figs.WRONG_COLOR and colors[1] == figs.TRUE_COLOR
    assert "predicted 7, true 1" in wrong.layout.title.text
    np.testing.assert_allclose(np.asarray(wrong.data[0].y), probabilities)
    right = figs.probability_bars(probabilities, true_label=7)
    assert list(right.data[0].marker.color)[7] == figs.TRUE_COLOR
    assert right.layout.xaxis.title.text == "digit class" and right.layout.yaxis.title.text == "probability"


def test_dense_bars_and_input_digit():
    values = np.arange(12, dtype=np.float16)
    bars = figs.dense_bars(values, "dense")
    np.testing.assert_array_equal(np.asarray(bars.data[0].y), values.astype(np.float32))
    assert len(bars.data[0].x) == 12 and bars.layout.title.text == "dense"
    image = np.eye(28, dtype=np.uint8) * 255
    digit = figs.input_digit(image, "probe 3")
    np.testing.assert_array_equal(np.asarray(digit.data[0].z), image)
    assert (digit.data[0].zmin, digit.data[0].zmax) == (0, 255)


def test_probe_picker_tiles_digits_and_clicks_name_them():
    # The picker is the app's one digit grid (figures/digits.py), drawn as a PNG without captions.
    images = np.stack([np.full((28, 28), 10 * k, dtype=np.uint8) for k in range(12)])
    positions = np.arange(40, 52)
    figure = digits.digit_mosaic(images, None, 10, "light", selected=5, image=True)
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(figure.data[0].source.split(",", 1)[1]))))
    assert pixels.shape == (2 * digits.PITCH_X, 10 * digits.PITCH_X - digits.GAP)
    top, left = digits.PITCH_X, 1 * digits.PITCH_X  # tile 11: row 1, column 1
    assert (pixels[top:top + 28, left:left + 28] == 110).all() and pixels[28, 0] == digits.GAP_VALUE["light"]
    slot = digits.clicked_tile({"points": [{"x": left + 5, "y": top + 5}]}, 10, 12, pitch_y=digits.PITCH_X)
    assert positions[slot] == 51
    assert figure.layout.shapes[0].visible and figure.layout.shapes[0].x0 == 5 * digits.PITCH_X - 1
    empty = digits.empty_grid("No probe digits of this class", "light")
    assert "No probe digits" in empty.layout.annotations[0].text


def test_feature_map_image_draws_the_mosaic_tiles_in_the_activation_colours():
    activation = known_activation()
    figure = figs.feature_map_image(activation, "conv_1", columns=2, highlight=3)
    image, colorbar = figure.data
    assert image.type == "image" and colorbar.marker.colorbar.title.text == "activation"
    assert (colorbar.marker.cmin, colorbar.marker.cmax) == (0.0, float(activation.max()))
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1]))).convert("RGBA"))
    assert pixels.shape[:2] == (3 * 4 - 1, 2 * 5 - 1)
    assert (pixels[3, :, 3] == 0).all() and (pixels[:, 4, 3] == 0).all()  # see-through gaps
    top, left = figs.tile_origin(4, 3, 4, 2)
    assert pixels[top + 2, left + 3, 3] == 255  # channel 4's largest value: opaque, the scale's top colour
    assert tuple(pixels[top + 2, left + 3, :3]) == (253, 231, 37)  # Viridis' yellow
    assert figure.layout.shapes[0].visible and figure.layout.meta["columns"] == 2
    frame = figs.mosaic_frame(activation, 2)
    assert frame["source"] == image.source and frame["high"] == float(activation.max())


def test_typed_array_is_plotly_binary_float32():
    spec = figs.typed_array(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert spec["dtype"] == "f4" and spec["shape"] == "2,3"
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(spec["bdata"]), np.float32), np.arange(6))


def test_architecture_blocks_one_box_per_layer_sized_by_shape():
    layers = [
        {"name": "pixels", "kind": "Input", "output_shape": [28, 28, 1], "params": 0},
        {"name": "conv_1", "kind": "Conv2D", "output_shape": [26, 26, 32], "params": 320},
        {"name": "pool_1", "kind": "MaxPooling2D", "output_shape": [13, 13, 32], "params": 0},
        {"name": "dense", "kind": "Dense", "output_shape": [128], "params": 1000},
    ]
    figure = arch.architecture_blocks(layers)
    boxes = [trace for trace in figure.data if trace.type == "mesh3d"]
    assert [box.name for box in boxes] == ["pixels", "conv_1", "pool_1", "dense"]
    extent = [(np.ptp(box.x), np.ptp(box.y), np.ptp(box.z)) for box in boxes]
    assert extent[1][0] > extent[0][0]  # more channels, deeper
    assert extent[2][1] == pytest.approx(extent[1][1] / 2)  # pooling halves the side
    starts = [float(np.min(box.x)) for box in boxes]
    assert starts == sorted(starts)  # left to right in network order
    assert all(len(box.i) == 12 for box in boxes)  # six faces, two triangles each
    assert "320 parameters" in boxes[1].hovertemplate
    with pytest.raises(ValueError):
        arch.architecture_blocks([])


def test_kernel_grid_mean_and_chosen_input_channel():
    kernel = np.zeros((3, 3, 2, 4), dtype=np.float32)
    kernel[:, :, 0, :] = 1.0
    kernel[:, :, 1, :] = 3.0
    kernel[1, 1, 1, 2] = -5.0
    mean = arch.kernel_grid(kernel, "conv_2", columns=4)
    z = np.asarray(mean.data[0].z)
    assert z.shape == (3, 4 * 4 - 1)  # four filters in one row
    top, left = figs.tile_origin(2, 3, 3, 4)
    assert z[top + 1, left + 1] == pytest.approx(-2.0) and z[0, 0] == pytest.approx(2.0)
    assert mean.data[0].zmin == -mean.data[0].zmax  # symmetric around 0
    chosen = np.asarray(arch.kernel_grid(kernel, "conv_2", input_channel=0).data[0].z)
    assert chosen[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="out of range"):
        arch.kernel_grid(kernel, "conv_2", input_channel=5)


def titled_figures():
    """Every titled figure of these builders that a page shows with Plotly's toolbar."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    architecture = [{"name": "pixels", "kind": "Input", "output_shape": [28, 28, 1]},
                    {"name": "conv_1", "kind": "Conv2D", "output_shape": [26, 26, 8]},
                    {"name": "output", "kind": "Dense", "output_shape": [10]}]
    return {
        "mosaic": figs.feature_map_mosaic(known_activation(), "Feature maps: conv_1, probe 31, epoch 15"),
        "surface": figs.activation_surface(np.ones((5, 5)), "Channel 3 in 3D: conv_1, probe 31, epoch 15"),
        "stack": figs.stacked_layers([("pixels", image), ("dense", np.ones(16))]),
        "dense": figs.dense_bars(np.ones(128), "Dense layer 'dense': 128 units, probe 31, epoch 15"),
        "probabilities": figs.probability_bars(np.full(10, 0.1), 3),
        "input": figs.input_digit(image, "Probe 4"),
        "saliency": figs.saliency_overlay(image, np.zeros((28, 28))),
        "blocks": arch.architecture_blocks(architecture),
        "filters": arch.kernel_grid(rng.normal(size=(3, 3, 1, 4)).astype(np.float32), "conv_1: 4 filters"),
    }


@pytest.mark.parametrize("name", list(titled_figures()))
def test_titles_sit_below_plotly_toolbar(name):
    # The toolbar (about 30 px, top right) covered titles placed in the middle of a 45 px margin.
    from dashboard.figures.style import TOOLBAR_HEIGHT

    layout = titled_figures()[name].layout
    title = layout.title
    assert title.text
    assert (title.yref, title.y, title.yanchor) == ("container", 1, "top")
    assert title.pad.t >= TOOLBAR_HEIGHT
    size = title.font.size or 17
    assert layout.margin.t >= title.pad.t + size + 8, "the plot would overlap the title"


def floor_overlap(figure, floors: int) -> float:
    """Return how much of a floor's projected height the floor above covers (0 = none), orthographic."""
    scene = figure.layout.scene
    eye = scene.camera.eye
    assert scene.camera.projection.type == "orthographic"
    aspect = scene.aspectratio
    horizontal = np.hypot(eye.x, eye.y)
    elevation = np.arctan2(eye.z, horizontal)
    # The square floor's extent along the horizontal viewing direction, then seen from above at ``elevation``.
    along = (abs(eye.x) * aspect.x + abs(eye.y) * aspect.y) / horizontal
    floor_height = np.sin(elevation) * along
    gap = np.cos(elevation) * aspect.z / (floors - 1)
    return max(0.0, (floor_height - gap) / floor_height)


@pytest.mark.parametrize("floors", [3, 7, 10])
def test_stacked_view_shows_every_floor_by_default(floors):
    layers = [("pixels", np.ones((28, 28)))] + [(f"conv_{k}", np.ones((4, 4, 2))) for k in range(floors - 2)]
    figure = figs.stacked_layers(layers + [("output", np.ones(10))])
    assert floor_overlap(figure, floors) == 0.0
    band = np.asarray(figure.data[floors - 1].y)
    assert band.max() - band.min() >= 0.5, "a dense layer must be a band, not an edge-on line"


def test_a_one_channel_mosaic_says_one_channel():
    figure = figs.feature_map_mosaic(np.ones((4, 4, 1)), "pixels")
    assert figure.layout.xaxis.title.text == "1 channel, 1 per row"
