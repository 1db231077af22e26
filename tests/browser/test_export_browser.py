"""Issue 14 part 5 in headless Chromium: every figure's toolbar downloads PNG and SVG, named after the run and
view; a run's HTML report opens offline (network disabled) and draws every figure; the Runs page's report
button downloads it."""

from __future__ import annotations

import base64
import os
import time

import pytest
from selenium.webdriver.common.by import By

from tests.browser.test_runs_metrics_browser import assert_no_severe, free_port, open_page, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, require

pytestmark = pytest.mark.browser


@pytest.fixture
def served(dash_duo, tiny_store, use_store):
    """Serve the app on a free port against the tiny store; return dash_duo."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(tiny_store)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    return dash_duo

# Plotly saves through an <a download> it clicks; this records the download's name and its blob's text
# instead of letting it leave the page (headless Chromium would save it where the test cannot see).
CAPTURE = """
window.__saved = [];
document.addEventListener('click', function (event) {
  var link = event.target;
  if (!link || link.tagName !== 'A' || !link.hasAttribute('download')) { return; }
  event.preventDefault();
  var record = {name: link.getAttribute('download'), href: link.href, text: null};
  window.__saved.push(record);
  fetch(link.href).then(function (r) { return r.blob(); }).then(function (blob) {
    var reader = new FileReader();
    reader.onload = function () { record.text = reader.result; };
    reader.readAsDataURL(blob);
  });
}, true);
"""


def modebar_titles(duo, graph_id: str) -> list[str]:
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' .modebar-btn'))"
        ".map(function (b) { return b.getAttribute('data-title'); });", f"#{graph_id}")


def press(duo, graph_id: str, title: str) -> dict:
    """Click the graph's toolbar button ``title``; return the captured download {name, text (data URI)}."""
    duo.driver.execute_script(CAPTURE)
    graph = duo.driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .js-plotly-plot")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", graph)
    button = duo.driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .modebar-btn[data-title='{title}']")
    duo.driver.execute_script("arguments[0].click();", button)
    return wait_until(lambda: next((r for r in duo.driver.execute_script("return window.__saved") or []
                                    if r.get("text")), None), timeout=15)


def decoded(record: dict) -> bytes:
    return base64.b64decode(record["text"].split(",", 1)[1])


@pytest.mark.parametrize(("path", "graph_id"), [
    ("/metrics?run=tiny", "metrics-confusion"),
    ("/training?run=tiny", "training-curves"),
])
def test_toolbar_downloads_png_and_svg_named_after_run_and_view(served, path, graph_id):
    open_page(served, path)
    served.wait_for_element(f"#{graph_id} .modebar-btn", timeout=15)
    titles = modebar_titles(served, graph_id)
    assert "Download plot as PNG" in titles and "Download plot as SVG" in titles
    assert "Download plot as a png" not in titles  # Plotly's own camera ("newplot.png") is replaced
    config = served.driver.execute_script(
        "var gd = document.querySelector(arguments[0]);"
        "return gd._context.modeBarButtonsToAdd.map(function (b) { return b.name; });",
        f"#{graph_id} .js-plotly-plot")
    assert config == ["cnnvizPng", "cnnvizSvg"]

    svg = press(served, graph_id, "Download plot as SVG")
    assert svg["name"] == f"tiny-{graph_id}.svg"
    text = decoded(svg).decode("utf-8")
    assert text.lstrip().startswith("<svg") and "</svg>" in text
    png = press(served, graph_id, "Download plot as PNG")
    assert png["name"] == f"tiny-{graph_id}.png"
    assert decoded(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert_no_severe(served)


def test_an_image_trace_exports_as_svg(served):
    # The feature-map mosaic is a PNG drawn as an image trace: its SVG carries the image.
    open_page(served, "/activations?run=tiny")
    served.wait_for_element("#activations-mosaic .modebar-btn", timeout=20)
    time.sleep(1)
    svg = press(served, "activations-mosaic", "Download plot as SVG")
    assert svg["name"] == "tiny-activations-mosaic.svg"
    text = decoded(svg).decode("utf-8")
    assert "<image" in text and "data:image/png;base64," in text
    assert_no_severe(served)
