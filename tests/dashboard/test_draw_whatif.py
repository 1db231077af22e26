"""Issue 13 (1, 2): the Draw board's 28x28 grid mode and the live what-if on conv_1 (no TensorFlow here).

The what-if's shapes and values against Keras are in tests/pipeline/test_whatif_keras.py.
"""

from __future__ import annotations

import json

import dash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from artifacts import ArtifactStore
from artifacts import format as fmt
from dashboard.draw import canvas as board
from dashboard.draw import whatif
from dashboard.draw import whatif_view as view
from dashboard.draw.preprocess import grid_to_mnist
from dashboard.ui.urlstate import parse_search
from tests.conftest import TINY_RUN_ID
from tests.dashboard.test_draw import data_url, draw_module, png
from tests.dashboard.test_inference import half_float16_steps


@pytest.fixture
def draw(use_store, tiny_store):
    use_store(tiny_store)
    return draw_module()


@pytest.fixture(scope="module")
def run(tiny_store):
    return ArtifactStore(tiny_store).run(TINY_RUN_ID)


def grid_board(lines: list[list[tuple[int, int]]]) -> Image.Image:
    """A 28x28 board (what the grid mode sends) with one-cell-wide white lines on black."""
    image = Image.new("RGBA", (28, 28), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for line in lines:
        pen.line(line, fill=(255, 255, 255, 255), width=1)
    return image


# -- the 28x28 board --------------------------------------------------------------

def test_a_one_cell_stroke_on_the_grid_stays_one_cell_wide(draw):
    # A "1" one cell wide, drawn off-centre on the grid: the network gets it one pixel wide, moved to the centre.
    image = grid_board([[(5, 4), (5, 22)]])
    digit, message, _, is_open = draw.digit_from_canvas(data_url(png(image)))
    assert message is None and is_open is False and digit["source"] == "drawing"
    pixels = draw.digit_pixels(digit)
    lit = pixels > 0
    assert lit.sum() == 19  # every drawn cell, none added, none lost
    assert set(np.unique(pixels)) == {0, 255}
    assert (lit.sum(axis=1) <= 1).all() and lit.sum(axis=0).max() == 19  # still one column wide
    assert np.nonzero(lit.any(axis=0))[0].tolist() == [14]  # moved to the centre column


def test_a_thin_seven_on_the_grid_keeps_its_shape(draw):
    image = grid_board([[(6, 6), (20, 6)], [(20, 6), (11, 22)]])
    drawn = np.asarray(image.convert("L")) > 0
    digit, message, _, _ = draw.digit_from_canvas(data_url(png(image)))
    pixels = draw.digit_pixels(digit)
    rows, cols = np.nonzero(pixels)
    drawn_rows, drawn_cols = np.nonzero(drawn)
    # The same cells, only moved (whole pixels): the shape is exactly what was drawn.
    assert len(rows) == len(drawn_rows)
    shift = (rows.min() - drawn_rows.min(), cols.min() - drawn_cols.min())
    assert np.array_equal(np.roll(drawn, shift, axis=(0, 1)), pixels > 0)


def test_grid_preprocessing_keeps_ink_at_the_edge_inside_the_frame():
    grid = np.zeros((28, 28))
    grid[0:28, 0] = 1.0  # a stroke along the left edge, top to bottom
    pixels = grid_to_mnist(grid)
    assert (pixels > 0).sum() == 28 and (pixels > 0).any(axis=0).sum() == 1


def test_the_smooth_board_is_still_prepared_like_mnist(draw):
    # 280x280 (the smooth board): cropped and scaled into the 20x20 box, not taken cell for cell.
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(image).line([(140, 30), (140, 250)], fill=(255, 255, 255, 255), width=20)
    digit, _, _, _ = draw.digit_from_canvas(data_url(png(image)))
    rows = np.nonzero(draw.digit_pixels(digit).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == 20


def test_the_board_mode_is_in_the_url(draw):
    page = draw.layout(run="tiny", canvas="pixels")
    assert page[board.CANVAS_MODE].value == board.PIXELS
    assert page[draw.QUERY].data == "?canvas=pixels&layer=pixels&run=tiny"
    assert draw.layout(run="tiny")[board.CANVAS_MODE].value == board.SMOOTH
    assert draw.layout(run="tiny", canvas="<script>")[board.CANVAS_MODE].value == board.SMOOTH
    # Switching keeps the rest of the URL's state; the walk keeps the mode.
    query = board.mode_in_url(board.PIXELS, "?channel=3&layer=pool_1&run=tiny")
    assert parse_search(query) == {"run": "tiny", "layer": "pool_1", "channel": 3, "canvas": "pixels"}
    assert board.mode_in_url("huge", "?run=tiny") is dash.no_update


def test_the_walk_keeps_the_board_mode_in_the_url(draw):
    from tests.dashboard.test_draw import triggered_by

    outputs = triggered_by(draw.LAYER, draw.show_layer)(None, 2, None, "light", "tiny", "?canvas=pixels&run=tiny")
    assert parse_search(outputs[-1]) == {"run": "tiny", "layer": "pool_1", "canvas": "pixels"}


# -- the what-if on conv_1 ---------------------------------------------------------

def test_trained_kernels_and_settings_give_the_stored_activations(use_store, tiny_store, run):
    use_store(tiny_store)
    config = run.info().config
    snapshot = run.snapshot(config.epochs)
    images = run.probes()["images"][snapshot[fmt.SNAPSHOT_PROBE_INDEX]]
    settings = whatif.trained_settings(config.conv_blocks[0])
    assert settings.filters == config.conv_blocks[0].filters  # the tiny run's conv_1 is in the controls' range
    trained, activation, why_none = view.trained_conv(TINY_RUN_ID)
    assert why_none is None
    conv = np.stack([whatif.what_if(image, settings, trained, activation).conv for image in images])
    pool = np.stack([whatif.what_if(image, settings, trained, activation).pool for image in images])
    assert whatif.what_if(images[0], settings, trained, activation).trained == settings.filters
    assert half_float16_steps(conv, snapshot[fmt.ACTIVATION_PREFIX + "conv_1"]).max() <= 0.51
    assert half_float16_steps(pool, snapshot[fmt.ACTIVATION_PREFIX + "pool_1"]).max() <= 0.51


def test_trained_kernels_are_used_where_the_shape_allows(use_store, tiny_store, run):
    use_store(tiny_store)
    block = run.info().config.conv_blocks[0]
    trained, _, _ = view.trained_conv(TINY_RUN_ID)
    more = whatif.Settings(block.strides, block.padding, block.kernel_size, 64)
    kernel, bias, count = whatif.kernels_for(more, trained)
    assert count == block.filters
    assert np.array_equal(kernel[..., :count], trained[0].astype(np.float32))
    assert np.array_equal(kernel[..., count:], whatif.random_kernels(block.kernel_size, 64)[..., count:])
    assert "seeded random" in view.kernels_text(more, count, None)
    other = 5 if block.kernel_size == 3 else 3
    _, _, none = whatif.kernels_for(whatif.Settings(1, "valid", other, 8), trained)
    assert none == 0
    text = view.kernels_text(whatif.Settings(1, "valid", other, 8), 0, None)
    assert "All 8 filters are seeded random" in text and f"not {other}x{other}" in text
    # Seeded: the same setting shows the same kernels; adding filters keeps the first ones.
    assert np.array_equal(whatif.random_kernels(5, 8), whatif.random_kernels(5, 40)[..., :8])


@pytest.mark.parametrize("values, expected", [
    ((7, "valid", 3, 8), "Stride must be 1 or 2"),
    ((1, "valid", 3, 1000), "from 4 to 64"),
    ((1, "full", 3, 8), "Padding must be 'valid' or 'same'"),
    ((1, "valid", 4, 8), "Kernel size must be 3 or 5"),
    ((1, "valid", 3, "8; drop"), "from 4 to 64"),
    ((1, "valid", 3, 2.5), "from 4 to 64"),
    ((None, "valid", 3, 8), "Stride must be 1 or 2"),
    ((1, ["valid"], 3, 8), "Padding must be"),
])
def test_the_server_enforces_the_controls_limits(draw, values, expected):
    digit = {"pixels": np.zeros((28, 28)).tolist(), "source": "drawing", "label": None}
    size, kernels, message, is_open, color, conv, pool = view.show_what_if(digit, *values, "light", "tiny")
    assert expected in message and is_open is True and color == "danger"
    assert conv is dash.no_update and pool is dash.no_update and size is dash.no_update


def callback_request(app, values: tuple) -> dict:
    """The JSON body the browser posts for the what-if callback, with the controls at ``values``."""
    key = next(key for key in app.callback_map if f"{view.SIZE}.children" in key)
    outputs = [dict(zip(("id", "property"), part.split("."), strict=True)) for part in key.strip(".").split("...")]
    digit = {"pixels": np.full((28, 28), 0).tolist(), "source": "drawing", "label": None}
    digit["pixels"][10][10:18] = [255] * 8
    inputs = [{"id": view.DIGIT, "property": "data", "value": digit},
              *[{"id": component, "property": "value", "value": value}
                for component, value in zip((view.STRIDE, view.PADDING, view.KERNEL, view.FILTERS), values,
                                            strict=True)],
              {"id": "theme", "property": "data", "value": "light"},
              {"id": view.IN_VIEW, "property": "data", "value": True}]  # the card is on screen (issue 12)
    return {"output": key, "outputs": outputs, "inputs": inputs, "changedPropIds": [f"{view.STRIDE}.value"],
            "state": [{"id": view.RUN, "property": "data", "value": "tiny"},
                      {"id": view.DRAWN, "property": "data", "value": None}]}


def test_a_forged_callback_request_gets_a_message_and_every_setting_draws(draw):
    import dashboard.app

    app = dashboard.app.app
    client = app.server.test_client()
    for values, expected in (((7, "same", 3, 8), "Stride must be 1 or 2"), ((1, "same", 3, 1000), "from 4 to 64")):
        response = client.post("/_dash-update-component", json=callback_request(app, values))
        assert response.status_code == 200, response.data[:300]
        body = response.get_json()["response"]
        assert expected in body[view.ALERT]["children"] and "Traceback" not in response.get_data(as_text=True)
        assert view.CONV not in body  # nothing drawn for a refused setting
    # Every setting through the whole request (checks, convolution, figures, JSON) draws its maps;
    # how fast is measured in benchmarks/bench_browser.py, not here.
    settings = [(s, p, k, f) for s in (1, 2) for p in ("valid", "same") for k in (3, 5) for f in (8, 64)]
    for values in settings:
        response = client.post("/_dash-update-component", json=callback_request(app, values))
        body = response.get_json()["response"]
        side = whatif.formula(whatif.Settings(*values)).rsplit("= ", 1)[1]
        assert f"{values[3]} maps of {side}x{side}" in json.dumps(body[view.CONV]["figure"]["layout"]["title"])


def test_without_a_digit_the_size_is_shown_and_the_page_asks_for_a_digit(draw):
    size, kernels, message, is_open, color, conv, pool = view.show_what_if(None, 2, "valid", 5, 8, "light", "tiny")
    assert "(28 + 2·0 − 5) / 2 + 1 = ⌊23/2⌋ + 1 = 12" in str(size) and "12x12x8" in str(size)
    assert "Draw, upload or pick a digit" in message and color == "info" and conv is dash.no_update


def test_the_formula_matches_the_maps_for_every_setting():
    digit = np.zeros((28, 28))
    for strides in whatif.STRIDES:
        for padding in ("valid", "same"):
            for kernel in (3, 5):
                settings = whatif.Settings(strides, padding, kernel, 4)
                result = whatif.what_if(digit, settings, None)
                side = int(result.formula.rsplit("= ", 1)[1])
                assert result.conv.shape == (side, side, 4) and result.pool.shape == (side // 2, side // 2, 4)


def test_damaged_or_missing_weights_give_random_kernels_and_say_why(draw, store_copy, use_store):
    use_store(store_copy)
    run = ArtifactStore(store_copy).run(TINY_RUN_ID)
    config = run.info().config
    block = config.conv_blocks[0]
    digit = {"pixels": np.full((28, 28), 80).tolist(), "source": "drawing", "label": None}
    values = (block.strides, block.padding, block.kernel_size, 8)
    path = run.weights_path(config.epochs)
    path.write_bytes(path.read_bytes()[:1000])
    _, kernels, message, is_open, _, conv, _ = view.show_what_if(digit, *values, "light", TINY_RUN_ID)
    assert "All 8 filters are seeded random kernels: its weights cannot be read" in kernels
    assert is_open is False and "8 maps of" in conv.layout.title.text
    path.unlink()
    _, kernels, *_ = view.show_what_if(digit, *values, "light", TINY_RUN_ID)
    assert "seeded random kernels: this run stored no weights" in kernels
