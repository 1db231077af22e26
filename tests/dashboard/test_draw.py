"""The Draw page without TensorFlow: its layout, bad inputs through its callbacks, the walk, request limits.

Tests that run the live model are in test_upload_accuracy.py (the one file allowed to
import TensorFlow); this file checks that it never gets imported here.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import subprocess
import sys
from contextvars import copy_context

import dash
import numpy as np
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from PIL import Image

from dashboard.draw import layout as parts
from dashboard.figures.activations import mosaic_columns, tile_origin
from dashboard.pages.logic import draw as draw_logic
from tests.conftest import ROOT, subprocess_env
from tests.dashboard.test_preprocess import png_header_only, seven


def triggered_by(component_id: str, function):
    """Wrap a page callback so it runs as if ``component_id`` had triggered it (for ctx.triggered_id)."""
    def call(*args):
        def run():
            context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{component_id}.value", "value": None}]))
            return function(*args)

        return copy_context().run(run)

    return call


@pytest.fixture
def draw(use_store, tiny_store):
    use_store(tiny_store)
    return draw_module()


def draw_module():
    """Return the Draw page's logic (its layout and callbacks), with the app's pages registered."""
    import dashboard.app  # noqa: F401  (registers the pages: the layout draws a run through the page contract)

    return draw_logic


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def truncated_png() -> bytes:
    data = png(Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200), dtype=np.uint8)))
    return data[: len(data) // 2]


BAD_UPLOADS = [
    ("notes.txt", data_url(b"just some text", "text/plain"), "not a PNG or JPEG"),
    ("cut.png", data_url(truncated_png()), "damaged or incomplete"),
    ("huge.png", data_url(b"\0" * (2 * 1024 * 1024 + 100)), "larger than the 2 MB limit"),
    ("bomb.png", data_url(png_header_only(20000, 20000)), "decompression bomb"),
    ("moving.png", data_url(png(seven(), save_all=True, append_images=[seven(offset=(9, 9))])), "Animated"),
    ("blank.png", data_url(png(Image.new("L", (64, 64), 255))), "No ink"),
]


@pytest.mark.parametrize("filename, contents, expected", BAD_UPLOADS, ids=[name for name, _, _ in BAD_UPLOADS])
def test_every_bad_upload_gets_its_message_through_the_callback(draw, filename, contents, expected):
    digit, message, color, is_open = draw.digit_from_upload(contents, filename)
    assert digit is dash.no_update  # the last good digit stays on the page
    assert expected in message and message.startswith(filename) and "Traceback" not in message
    assert color == "danger" and is_open is True


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P"])
def test_sixteen_bit_rgba_and_palette_uploads_work_through_the_callback(draw, mode):
    image = seven(ink=0, ground=255)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image, dtype=np.uint16) * 257)
    elif mode == "RGBA":
        rgba = np.zeros((200, 200, 4), dtype=np.uint8)
        rgba[..., 3] = 255 - np.asarray(image)  # black ink on a transparent sheet
        image = Image.fromarray(rgba, "RGBA")
    else:
        image = image.convert("P")
    digit, message, color, is_open = draw.digit_from_upload(data_url(png(image)), f"{mode}.png")
    assert message is None and is_open is False
    pixels = draw.digit_pixels(digit)
    assert pixels.shape == (28, 28) and pixels.max() == 255 and (pixels > 0).sum() > 40


def test_an_empty_canvas_and_a_blank_drawing_get_messages(draw):
    digit, message, color, _ = draw.digit_from_canvas(None)
    assert digit is None and "canvas is empty" in message and color == "info"
    blank = data_url(png(Image.new("RGBA", (280, 280), (0, 0, 0, 255))))
    digit, message, color, _ = draw.digit_from_canvas(blank)
    assert digit is None and "No ink" in message and color == "danger"


def test_a_drawing_becomes_a_digit(draw):
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    canvas.paste(seven(size=280, width=22).convert("RGBA"))
    digit, message, _, is_open = draw.digit_from_canvas(data_url(png(canvas)))
    assert message is None and is_open is False
    assert digit["source"] == "drawing" and draw.digit_pixels(digit).max() == 255


def test_a_random_test_digit_comes_with_its_label(draw, tiny_store):
    from artifacts import ArtifactStore

    predictions = ArtifactStore(tiny_store).run("tiny").predictions()
    digit, message, _, _ = draw.digit_from_test_set(1, "tiny")
    assert message is None and digit["source"] == "test"
    index = digit["index"]
    assert np.array_equal(draw.digit_pixels(digit), predictions["images"][index])
    assert digit["label"] == int(predictions["labels"][index])
    _, message, color, _ = draw.digit_from_test_set(1, "no-such-run")
    assert "no run 'no-such-run'" in message and color == "danger"


def test_layout_builds_the_walk_from_the_run(draw):
    page = draw.layout(run="tiny", layer="pool_1", channel="3")
    slider = page[parts.LAYER]
    assert list(slider.marks.values()) == ["pixels", "conv_1", "pool_1", "conv_2", "pool_2", "dense", "output"]
    assert slider.value == 2
    assert page[parts.QUERY].data == "?channel=3&layer=pool_1&run=tiny"
    assert page[parts.CANVAS].width == parts.CANVAS_SIDE
    assert page[parts.UPLOAD].max_size == 2 * 1024 * 1024


def test_layout_with_an_unknown_run_shows_an_error_card(draw):
    page = draw.layout(run="missing-run")
    assert "There is no run 'missing-run'" in str(page)


def test_no_digit_shows_the_placeholder_and_a_missing_model_a_message(draw, store_copy, use_store):
    assert draw.show_answer(None, "light", "tiny")[:3] == (parts.SHOWN, parts.HIDDEN, parts.HIDDEN)
    use_store(store_copy)
    from artifacts import ArtifactStore

    ArtifactStore(store_copy).run("tiny").model_path.unlink()
    digit = {"pixels": np.zeros((28, 28), dtype=int).tolist(), "source": "drawing", "label": None}
    placeholder, results, walk, error, *_ = draw.show_answer(digit, "light", "tiny")
    assert (placeholder, results, walk) == (parts.HIDDEN, parts.HIDDEN, parts.HIDDEN)
    assert "has no saved model" in str(error)


def test_damaged_weights_are_a_message_not_a_crash(draw, store_copy, use_store):
    use_store(store_copy)
    from artifacts import ArtifactStore

    run = ArtifactStore(store_copy).run("tiny")
    path = run.weights_path(run.info().config.epochs)
    path.write_bytes(path.read_bytes()[:1000])
    digit = {"pixels": np.zeros((28, 28), dtype=int).tolist(), "source": "drawing", "label": None}
    placeholder, results, walk, error, *_ = draw.show_answer(digit, "light", "tiny")
    assert (placeholder, results, walk) == (parts.HIDDEN, parts.HIDDEN, parts.HIDDEN)
    assert "The weights of run 'tiny' cannot be read: corrupted array file" in str(error)


def test_a_malformed_digit_store_value_is_a_message_not_a_crash(draw):
    _, _, _, error, *_ = draw.show_answer({"pixels": [[1, 2], [3]]}, "light", "tiny")
    assert "28x28" in str(error)


def test_the_walk_steps_plays_and_stops_at_the_output(draw):
    play, pause = "Play", "Pause"
    assert triggered_by(parts.NEXT, draw.step)(None, 1, None, None, 2, 6, True)[:2] == (3, True)
    assert triggered_by(parts.PREV, draw.step)(1, None, None, None, 0, 6, True)[:2] == (0, True)
    value, stopped, label = triggered_by(parts.PLAY, draw.step)(None, None, 1, None, 6, 6, True)
    assert (value, stopped) == (0, False) and pause in str(label)  # restarts from the input
    value, stopped, label = triggered_by(parts.TIMER, draw.step)(None, None, 1, 4, 4, 6, False)
    assert (value, stopped) == (5, False)
    value, stopped, label = triggered_by(parts.TIMER, draw.step)(None, None, 1, 5, 5, 6, False)
    assert (value, stopped) == (6, True) and play in str(label)
    _, stopped, label = triggered_by(parts.PLAY, draw.step)(None, None, 2, 3, 3, 6, False)
    assert stopped is True and play in str(label)  # Pause


def test_a_click_on_a_tile_picks_its_channel_and_a_new_layer_resets_it(draw):
    # The mosaic is one image (issue 12): the clicked pixel names its tile through the layer's shape.
    name, _, _ = draw.layer_steps(draw.manifest_of(draw.resolve_run("tiny")))[1]
    height, width, channels = draw.layer_shape(draw.manifest_of(draw.resolve_run("tiny")), name)
    assert channels > 7
    top, left = tile_origin(7, height, width, mosaic_columns(channels))
    click = {"points": [{"x": left + 1, "y": top + height - 1}]}
    assert triggered_by(parts.MAPS, draw.pick_channel)(click, 1, "tiny") == 7
    gap = {"points": [{"x": left + width, "y": top}]}  # the 1 px line between two tiles
    assert triggered_by(parts.MAPS, draw.pick_channel)(gap, 1, "tiny") is dash.no_update
    assert triggered_by(parts.MAPS, draw.pick_channel)({"points": []}, 1, "tiny") is dash.no_update
    assert triggered_by(parts.MAPS, draw.pick_channel)({"points": [{"x": "a", "y": 1}]}, 1, "tiny") is dash.no_update
    assert triggered_by(parts.LAYER, draw.pick_channel)(click, 2, "tiny") is None


@pytest.mark.slow
def test_a_too_large_post_gets_a_clean_413(web_server, tiny_store):
    base = web_server(tiny_store, WEB_CONCURRENCY="1")
    limit = 2 * 2 * 1024 * 1024  # MAX_CONTENT_LENGTH: twice the 2 MB upload limit
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    # The server answers from the Content-Length header alone and may close before reading a body,
    # so send the headers and only the start of the body, as a browser's upload would begin.
    connection.putrequest("POST", "/_dash-update-component")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(limit + 100))
    connection.endheaders(b'{"output": "x", "inputs": [{"id": "draw-upload", "value": "' + b"A" * 1000)
    reply = connection.getresponse()
    text = reply.read().decode("utf-8", errors="replace")
    connection.close()
    assert reply.status == 413
    assert json.loads(text)["error"] == "Request Entity Too Large" and "Traceback" not in text


def test_the_web_process_does_not_import_tensorflow():
    code = ("import sys, dashboard.app, dashboard.draw.live_model, dashboard.draw.preprocess; "
            "assert 'pages.draw' in sys.modules, 'no Draw page'; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=subprocess_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_walk_calls_the_input_an_image_of_pixels(draw):
    # It said "pixels: 1 feature map", "1 channels" and an "activation" colour bar running to 250.
    pixels = np.zeros((28, 28), dtype=int)
    pixels[8:20, 12:16] = 255
    digit = {"pixels": pixels.tolist(), "source": "drawing", "label": None}
    picture, flat, surface, column, caption, _ = triggered_by(parts.LAYER, draw.show_layer)(
        digit, 0, None, "light", "tiny", None, None, None, True, True)  # the interactive (WebGL) surface
    assert picture.layout.title.text == "pixels: the input image, 28x28 pixels, 0-255"
    assert picture.data[0].colorbar.title.text == "pixel" and (picture.data[0].zmin, picture.data[0].zmax) == (0, 255)
    np.testing.assert_array_equal(np.asarray(picture.data[0].z), pixels)
    assert surface.data[0].colorbar.title.text == "pixel" and surface.layout.scene.zaxis.title.text == "pixel"
    assert "pixel value (0-255)" in surface.layout.title.text
    np.testing.assert_array_equal(np.asarray(flat.data[0].z), pixels)  # the channel map: the pixels' values
    shown = json.dumps([picture.to_plotly_json(), flat.to_plotly_json(), surface.to_plotly_json()], default=str)
    assert "feature map" not in shown and "channels" not in shown and "activation" not in shown
    assert column == parts.SHOWN and "0 = black, 255 = white" in str(caption)
    # The default surface, an image of the same scene, says "pixel" on its height axis and colour bar too.
    image = triggered_by(parts.LAYER, draw.show_layer)(digit, 0, None, "light", "tiny", None)[2]
    assert image.data[0].type == "image" and image.data[1].marker.colorbar.title.text == "pixel"
    assert "pixel" in [note.text for note in image.layout.annotations]
    assert "activation" not in json.dumps(image.to_plotly_json(), default=str)


def test_draw_page_help_mentions_only_controls_it_has(draw):
    page = str(draw.layout(run="tiny"))
    assert "epoch slider" not in page.lower()
    from dashboard.ui import explanations

    assert "epoch slider" in (explanations.SURFACE + explanations.SURFACE_EPOCHS).lower()


def test_undo_and_clear_do_not_look_disabled(draw):
    # Outline-secondary buttons read as greyed out, in the dark theme most.
    page = draw.layout(run="tiny")
    for button in (page[parts.UNDO], page[parts.CLEAR]):
        assert button.color not in ("secondary", "light", "dark") and not getattr(button, "disabled", False)
