"""Issue 12 on the Activations and Architecture pages, in headless Chromium: what the browser does alone.

- Dragging the epoch slider redraws the feature maps (the filters on /model) with no request to
  the server: every epoch's frame came with the view, and frames.js swaps them.
- The stacked 3D view (and /model's 3D blocks) is not built until asked for, and is when asked.
- The probe picker's figure stays under a byte budget.
Behaviour, not timings: the timings are benchmarks/bench_browser.py's.
"""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.browser.test_activations_browser import (  # noqa: F401  (explorer is a fixture)
    click_centred,
    explorer,
    figure_data,
    severe,
    show_switch,
    wait_for,
)

pytestmark = pytest.mark.browser

# Counts the requests Dash sends for callbacks and keeps each response's text (installed after a load).
COUNT_REQUESTS = """
window.__updates = {count: 0, bodies: []};
var original = window.fetch;
window.fetch = function (url) {
  var request = String(url && url.url || url).indexOf('_dash-update-component') >= 0;
  if (request) { window.__updates.count++; }
  return original.apply(this, arguments).then(function (response) {
    if (request) { response.clone().text().then(function (text) { window.__updates.bodies.push(text); }); }
    return response;
  });
};
"""
UPDATES = "return window.__updates.count + performance.getEntriesByType('resource').filter(" \
          "function (e) { return e.name.indexOf('_dash-update-component') >= 0; }).length * 1000;"


def settle(dash_duo, graph_id: str) -> None:
    """Wait until ``graph_id`` is drawn and no callback is in flight, then count requests from here."""
    wait_for(lambda: figure_data(dash_duo, graph_id, "gd.data[0].type"), message=graph_id)
    wait_for(lambda: not dash_duo.driver.find_elements("css selector", "[data-dash-is-loading]"),
             message="no callback in flight")
    dash_duo.driver.execute_script(COUNT_REQUESTS)


def drag_slider(dash_duo, slider_id: str, on_the_way):
    """Drag the slider's handle leftwards step by step; call ``on_the_way()`` while it is still held.

    Returns what ``on_the_way`` returned; the handle is let go afterwards.
    """
    handle = dash_duo.find_element(f"#{slider_id} [role=slider]")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    where = "var box = arguments[0].getBoundingClientRect(); return [box.left, box.top];"
    # Press only once the page stopped moving under the handle (a press elsewhere drags nothing).
    wait_for(lambda: dash_duo.driver.execute_script(where, handle) == (time.sleep(0.3) or
                                                                        dash_duo.driver.execute_script(where, handle)),
             message="the slider to stand still")
    # From the handle to the track's left end (the first epoch), in four moves.
    distance = dash_duo.driver.execute_script(
        "var handle = arguments[0].getBoundingClientRect();"
        "var track = arguments[0].closest('.dash-slider-root').querySelector('.dash-slider-track');"
        "return handle.left + handle.width / 2 - track.getBoundingClientRect().left;", handle)
    chain = ActionChains(dash_duo.driver, duration=50).click_and_hold(handle)
    for _ in range(8):
        chain.move_by_offset(-int(distance) // 8, 0).pause(0.1)
    chain.perform()
    try:
        return on_the_way()
    finally:
        ActionChains(dash_duo.driver).release().perform()


def test_dragging_the_epoch_swaps_feature_maps_without_a_request(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    settle(dash_duo, "activations-mosaic")
    source = figure_data(dash_duo, "activations-mosaic", "gd.data[0].source")
    channel = figure_data(dash_duo, "activations-channel-map", "JSON.stringify(Array.from(gd._fullData[0].z,"
                                                               " function (row) { return Array.from(row); }))")
    assert "epoch 2" in figure_data(dash_duo, "activations-mosaic", "gd.layout.title.text")
    before = dash_duo.driver.execute_script(UPDATES)

    def while_held():
        wait_for(lambda: "epoch 0" in figure_data(dash_duo, "activations-mosaic", "gd.layout.title.text"),
                 message="the feature maps of epoch 0 while dragging: " + str(dash_duo.driver.execute_script(
                     "return [document.querySelector('#activations-epoch [role=slider]').outerHTML,"
                     " document.querySelector('#activations-mosaic .js-plotly-plot').layout.title.text]")))
        return (dash_duo.driver.execute_script(UPDATES),
                figure_data(dash_duo, "activations-mosaic", "gd.data[0].source"),
                figure_data(dash_duo, "activations-channel-map", "JSON.stringify(Array.from(gd._fullData[0].z,"
                                                                 " function (row) { return Array.from(row); }))"),
                figure_data(dash_duo, "activations-saliency", "gd.layout.title.text"))

    during, dragged_source, dragged_channel, _ = drag_slider(dash_duo, "activations-epoch", while_held)
    assert during == before, "the drag asked the server"
    assert dragged_source != source and dragged_channel != channel
    assert "epoch 0" in figure_data(dash_duo, "activations-channel-map", "gd.layout.title.text")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_the_3d_surface_image_follows_the_epoch_slider_once_let_go(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    settle(dash_duo, "activations-mosaic")
    click_centred(dash_duo, dash_duo.driver.find_element(
        By.XPATH, "//*[@id='activations-channel-tabs']//a[normalize-space()='3D surface']"))
    wait_for(lambda: figure_data(dash_duo, "activations-surface", "gd.data[0].type") == "image",
             message="the 3D surface as an image")
    settle(dash_duo, "activations-surface")
    source = figure_data(dash_duo, "activations-surface", "gd.data[0].source")
    top = figure_data(dash_duo, "activations-surface", "gd.layout.annotations[2].text")
    assert not dash_duo.driver.find_elements("css selector", "#activations-surface .gl-container canvas")
    before = dash_duo.driver.execute_script(UPDATES)

    def while_held():
        wait_for(lambda: "epoch 0" in figure_data(dash_duo, "activations-mosaic", "gd.layout.title.text"),
                 message="the feature maps of epoch 0 while dragging")
        return dash_duo.driver.execute_script(UPDATES)

    assert drag_slider(dash_duo, "activations-epoch", while_held) == before, "the drag asked the server"
    # Let go: the server draws epoch 0's image (its source, height ticks and title), still an image.
    wait_for(lambda: "epoch 0" in figure_data(dash_duo, "activations-surface", "gd.layout.title.text"),
             message="the surface of epoch 0 once let go")
    assert figure_data(dash_duo, "activations-surface", "gd.data[0].type") == "image"
    assert figure_data(dash_duo, "activations-surface", "gd.data[0].source") not in (None, source)
    assert figure_data(dash_duo, "activations-surface", "gd.layout.annotations[2].text") != top
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_dragging_the_epoch_swaps_filters_without_a_request(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny&layer=conv_2&epoch=2")
    settle(dash_duo, "model-filters")
    weights = figure_data(dash_duo, "model-filters", "JSON.stringify(Array.from(gd._fullData[0].z,"
                                                     " function (row) { return Array.from(row); }))")
    before = dash_duo.driver.execute_script(UPDATES)

    def while_held():
        wait_for(lambda: "epoch 0" in figure_data(dash_duo, "model-filters", "gd.layout.title.text"),
                 message="the filters of epoch 0 while dragging")
        return dash_duo.driver.execute_script(UPDATES), figure_data(
            dash_duo, "model-filters", "JSON.stringify(Array.from(gd._fullData[0].z,"
                                       " function (row) { return Array.from(row); }))")

    during, dragged = drag_slider(dash_duo, "model-epoch", while_held)
    assert during == before, "the drag asked the server"
    assert dragged != weights
    assert "conv_2: 64 filters, epoch 0" in figure_data(dash_duo, "model-filters", "gd.layout.title.text")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_3d_views_are_built_only_when_asked_for(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1")
    settle(dash_duo, "activations-mosaic")
    settle(dash_duo, "activations-channel-map")
    traces = "gd.data.length + ':' + document.querySelectorAll('#{} canvas').length"
    # The stacked view and the surface: empty graphs, no WebGL canvas.
    assert dash_duo.driver.execute_script(
        "var gd = document.querySelector('#activations-stack .js-plotly-plot'); return (gd.data || []).length;") == 0
    assert not dash_duo.driver.find_elements("css selector", "#activations-stack canvas")
    assert not dash_duo.driver.find_elements("css selector", "#activations-surface canvas")
    show_switch(dash_duo, "activations-stack-show")
    # First an image of the 3D scene (no WebGL), its seven floors named; made interactive, the WebGL scene.
    wait_for(lambda: figure_data(dash_duo, "activations-stack", "gd.data[0].type") == "image", message="stack image")
    assert figure_data(dash_duo, "activations-stack", "gd.layout.annotations.length") == 7
    assert dash_duo.find_element("#activations-stack").is_displayed()
    assert not dash_duo.driver.find_elements("css selector", "#activations-stack .gl-container canvas")
    show_switch(dash_duo, "activations-stack-webgl")
    wait_for(lambda: figure_data(dash_duo, "activations-stack", "gd.data.filter(function (t) {"
                                                                " return t.type === 'surface'; }).length") == 7,
             message="the stacked view's seven floors")
    assert dash_duo.driver.find_elements("css selector", "#activations-stack canvas"), traces
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny")
    settle(dash_duo, "model-filters")
    assert dash_duo.driver.execute_script(
        "var gd = document.querySelector('#model-blocks .js-plotly-plot'); return (gd.data || []).length;") == 0
    show_switch(dash_duo, "model-blocks-show")
    assert wait_for(lambda: figure_data(dash_duo, "model-blocks", "gd.data.length"), message="blocks") >= 9
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


# Measured: the tiny run's 30 probe digits as one PNG send about 11 KB (the default run's 100: 31 KB);
# as the int16 heatmap they were, 88 KB (296 KB). A budget under a quarter of before, with room.
PICKER_BUDGET = 20_000


def test_the_probe_picker_is_light(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1")
    settle(dash_duo, "activations-picker")
    digit = "//*[@id='activations-digit']//label[normalize-space()='{}']"
    click_centred(dash_duo, dash_duo.driver.find_element(By.XPATH, digit.format("7")))
    wait_for(lambda: figure_data(dash_duo, "activations-picker", "gd.layout.meta.count") == 3, message="class 7")
    click_centred(dash_duo, dash_duo.driver.find_element(By.XPATH, digit.format("All")))
    wait_for(lambda: figure_data(dash_duo, "activations-picker", "gd.layout.meta.count") == 30,
             message="every probe digit")
    bodies = wait_for(lambda: [body for body in dash_duo.driver.execute_script("return window.__updates.bodies")
                               if "activations-picker" in json.loads(body).get("response", {})
                               and len(body) > 2000], message="the picker's response")
    sizes = [len(body.encode()) for body in bodies]
    assert max(sizes) < PICKER_BUDGET, sizes
