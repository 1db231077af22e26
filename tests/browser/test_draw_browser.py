"""The Draw page in headless Chromium: draw a stroke with the pointer, upload a broken file.

The app runs under gunicorn in its own process (the ``web_server`` fixture), so TensorFlow
is loaded there, not in the pytest process.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from tests.conftest import CHROMEDRIVER, CHROMIUM, require
from tests.dashboard.test_preprocess import seven

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def draw_page(web_server, tiny_store, dash_duo):
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "Chromium and chromedriver are needed")
    base = web_server(tiny_store, WEB_CONCURRENCY="1")
    dash_duo.driver.get(base + "/draw?run=tiny")
    dash_duo.wait_for_element("#draw-canvas", timeout=30)
    dash_duo.wait_for_text_to_equal("#draw-ready", "model ready", timeout=90)
    return dash_duo


def test_a_drawn_stroke_gets_a_prediction(draw_page):
    canvas = draw_page.find_element("#draw-canvas")
    draw_page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    side = canvas.size["width"]
    # A "1": one stroke down the middle, drawn with the mouse as pointer events.
    actions = ActionChains(draw_page.driver)
    actions.move_to_element(canvas).move_by_offset(0, -int(side * 0.35)).click_and_hold()
    for _ in range(14):
        actions.move_by_offset(0, int(side * 0.05))
    actions.release().perform()
    draw_page.wait_for_style_to_equal("#draw-results", "display", "block", timeout=60)
    top = draw_page.wait_for_element(".draw-top-digit", timeout=30)
    assert top.text in [str(digit) for digit in range(10)]
    assert "%" in draw_page.find_element(".draw-top-share").text
    draw_page.wait_for_contains_text("#draw-input .gtitle", "your drawing", timeout=30)
    # Undo removes the only stroke: the page goes back to its invitation.
    draw_page.driver.execute_script("document.getElementById('draw-undo').click()")
    draw_page.wait_for_contains_text("#draw-message", "canvas is empty", timeout=30)
    draw_page.wait_for_style_to_equal("#draw-results", "display", "none", timeout=30)
    assert not [entry for entry in draw_page.get_logs() if "draw.js" in entry["message"]]


def test_a_broken_upload_gets_a_message(draw_page, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"this is not really a png")
    file_input = draw_page.find_element("#draw-upload input[type=file]")
    file_input.send_keys(str(broken))
    draw_page.wait_for_contains_text("#draw-message", "broken.png", timeout=30)
    message = draw_page.find_element("#draw-message").text
    assert "not a PNG or JPEG" in message or "damaged" in message
    assert draw_page.find_element("#draw-results").value_of_css_property("display") == "none"


def test_play_walks_the_layers_without_filling_the_history(draw_page):
    draw_page.driver.execute_script("document.getElementById('draw-random').click()")
    draw_page.wait_for_style_to_equal("#draw-results-walk", "display", "block", timeout=60)
    draw_page.wait_for_contains_text("#draw-layer-caption", "pixels", timeout=30)
    entries = draw_page.driver.execute_script("return window.history.length")
    draw_page.driver.execute_script("document.getElementById('draw-play').click()")
    # Two steps of the walk (1.5 s each): the caption and the URL move to later layers.
    draw_page.wait_for_contains_text("#draw-layer-caption", "pool_1", timeout=20)
    assert "layer=pool_1" in draw_page.driver.current_url or "layer=conv_2" in draw_page.driver.current_url
    assert draw_page.driver.execute_script("return window.history.length") == entries


# The board's grey level at the centre of every MNIST pixel (the canvas is 10 canvas pixels per MNIST pixel).
BOARD_PIXELS = """
var canvas = document.getElementById('draw-canvas');
var cell = canvas.width / 28;
var data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
var rows = [];
for (var r = 0; r < 28; r++) {
  var row = [];
  for (var c = 0; c < 28; c++) {
    var x = Math.floor((c + 0.5) * cell), y = Math.floor((r + 0.5) * cell);
    row.push(data[(y * canvas.width + x) * 4]);
  }
  rows.push(row);
}
return rows;
"""
# The pixels the page's "Network input" figure shows (what the server made of the digit).
INPUT_PIXELS = """
var host = document.getElementById('draw-input');
var gd = host && host.querySelector('.js-plotly-plot');
if (!gd || !gd._fullData || !gd._fullData.length || !gd.layout.title) { return null; }
return {title: gd.layout.title.text,
        z: Array.from(gd._fullData[0].z, function (row) { return Array.from(row, Math.round); })};
"""


def board_matches_input(page, title_part: str) -> None:
    """Wait until the board shows exactly the pixels of the network input titled with ``title_part``."""
    deadline = time.time() + 30
    board, shown = None, None
    while time.time() < deadline:
        shown = page.driver.execute_script(INPUT_PIXELS)
        board = page.driver.execute_script(BOARD_PIXELS)
        if shown and title_part in shown["title"] and board == shown["z"]:
            return
        time.sleep(0.2)
    pytest.fail(f"the board does not show the digit: {title_part!r}, input {shown and shown['title']!r}, "
                f"lit board pixels {sum(value > 0 for row in board or [] for value in row)}")


def test_the_board_shows_an_uploaded_or_test_digit(draw_page, tmp_path):
    # The "Your digit" board stayed black after an upload or "Random test digit".
    draw_page.driver.execute_script("document.getElementById('draw-random').click()")
    board_matches_input(draw_page, "test digit #")
    picture = tmp_path / "seven.png"
    seven().save(picture)
    draw_page.find_element("#draw-upload input[type=file]").send_keys(str(picture))
    board_matches_input(draw_page, "seven.png")
    assert sum(value > 0 for row in draw_page.driver.execute_script(BOARD_PIXELS) for value in row) > 20
    # Clear empties the board again.
    draw_page.driver.execute_script("document.getElementById('draw-clear').click()")
    draw_page.wait_for_contains_text("#draw-message", "canvas is empty", timeout=30)
    assert not any(value for row in draw_page.driver.execute_script(BOARD_PIXELS) for value in row)
    assert not [entry for entry in draw_page.get_logs() if "draw.js" in entry["message"]]
