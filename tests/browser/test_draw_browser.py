"""The Draw page in headless Chromium: draw a stroke with the pointer, upload a broken file.

The app runs under gunicorn in its own process (the ``web_server`` fixture), so TensorFlow
is loaded there, not in the pytest process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from tests.conftest import CHROMEDRIVER, CHROMIUM, require

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
