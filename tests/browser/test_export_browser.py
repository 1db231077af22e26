"""Issue 14 part 5 in headless Chromium: every figure's toolbar downloads PNG and SVG, named after the run and
view; a run's HTML report opens offline (network disabled) and draws every figure; the Runs page's report
button downloads it."""

from __future__ import annotations

import base64
import json
import os
import re
import time

import pytest
from selenium.webdriver.common.by import By

from tests.browser.test_runs_metrics_browser import assert_no_severe, free_port, open_page, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, TINY_RUN_ID, require

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


def backdrop(svg: str) -> tuple[str, str] | None:
    """Return the (fill, fill-opacity) of an exported SVG's background, the first full-size rectangle."""
    found = re.search(r'<rect x="0" y="0" width="[\d.]+" height="[\d.]+" style="fill: (rgb\([^)]*\)); '
                      r'fill-opacity: ([\d.]+);', svg)
    return found.groups() if found else None


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
    assert "Share chart..." not in titles  # plotly.js 4 would upload the figure to Plotly's cloud
    config = served.driver.execute_script(
        "var gd = document.querySelector(arguments[0]);"
        "return gd._context.modeBarButtonsToAdd.map(function (b) { return b.name; });",
        f"#{graph_id} .js-plotly-plot")
    assert config == ["cnnvizPng", "cnnvizSvg"]

    svg = press(served, graph_id, "Download plot as SVG")
    assert svg["name"] == f"tiny-{graph_id}.svg"
    text = decoded(svg).decode("utf-8")
    assert text.lstrip().startswith("<svg") and "</svg>" in text
    # On the page's white, not see-through (the figures' own background is transparent).
    assert backdrop(text) == ("rgb(255, 255, 255)", "1")
    png = press(served, graph_id, "Download plot as PNG")
    assert png["name"] == f"tiny-{graph_id}.png"
    assert decoded(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert_no_severe(served)


def test_a_dark_theme_figure_exports_on_its_dark_background(served):
    open_page(served, "/metrics?run=tiny")
    served.wait_for_element("#metrics-confusion .modebar-btn", timeout=15)
    served.driver.execute_script("document.getElementById('theme-switch').click();")
    wait_until(lambda: served.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')") == "dark")
    time.sleep(1)
    svg = decoded(press(served, "metrics-confusion", "Download plot as SVG")).decode("utf-8")
    assert backdrop(svg), svg[:400]
    fill, opacity = backdrop(svg)
    assert opacity == "1" and fill != "rgb(255, 255, 255)"
    assert sum(int(part) for part in re.findall(r"\d+", fill)) < 3 * 128  # dark, like the page
    assert_no_severe(served)


@pytest.mark.parametrize(("path", "graph_id"), [
    ("/activations?run=tiny", "activations-saliency"),  # small graphs had no toolbar at all
    ("/metrics?run=tiny&cell=2-0", "metrics-gallery"),  # a PNG mosaic of test digits
])
def test_small_graphs_and_galleries_offer_the_downloads_alone(served, path, graph_id):
    open_page(served, path)
    served.wait_for_element(f"#{graph_id} .modebar-btn", timeout=20)
    assert modebar_titles(served, graph_id) == ["Download plot as PNG", "Download plot as SVG"]
    png = press(served, graph_id, "Download plot as PNG")
    assert png["name"] == f"tiny-{graph_id}.png" and decoded(png)[:8] == b"\x89PNG\r\n\x1a\n"
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


@pytest.fixture
def offline_browser():
    """Headless Chromium with the network disabled: every host name fails to resolve, every proxy is a dead end."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.conftest import pytest_setup_options

    options = pytest_setup_options()
    for flag in ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                 "--proxy-bypass-list=<-loopback>", "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_report_opens_offline_and_draws_every_figure(offline_browser, tiny_store, tmp_path):
    from artifacts import ArtifactStore
    from dashboard.report import build_report

    report = build_report(ArtifactStore(tiny_store).run(TINY_RUN_ID))
    path = tmp_path / "report.html"
    path.write_text(report, encoding="utf-8")
    expected = report.count('class="plotly-graph-div"')
    driver = offline_browser
    driver.get(path.as_uri())
    # A figure is drawn when its SVG holds its traces (scatter and bar traces, heatmaps' images).
    drawn = """return Array.from(document.querySelectorAll('.js-plotly-plot')).filter(function (gd) {
        return gd._fullData && gd._fullData.length > 0
            && gd.querySelectorAll('.main-svg .trace, .main-svg g.hm image').length > 0; }).length;"""
    assert wait_until(lambda: driver.execute_script(drawn) == expected, timeout=30)
    assert expected >= 6
    # Every image (the probes through the layers) decoded; the toolbars offer PNG and SVG.
    images = driver.execute_script("return Array.from(document.images).map(function (i) {"
                                   " return i.complete && i.naturalWidth > 0; });")
    assert len(images) >= 10 and all(images)
    titles = driver.execute_script("return Array.from(document.querySelectorAll('#confusion .modebar-btn'))"
                                   ".map(function (b) { return b.getAttribute('data-title'); });")
    assert "Download plot as PNG" in titles and "Download plot as SVG" in titles
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    # Nothing was asked of the network: the page and its inline data only.
    urls = requested_urls(driver)
    assert urls and all(url.startswith(("file:", "data:", "blob:")) for url in urls), urls
    # The network really is off in this browser (so a report that needed it would have failed above).
    failed = driver.execute_async_script(
        "var done = arguments[0]; var image = new Image();"
        " image.onload = function () { done('loaded'); }; image.onerror = function () { done('failed'); };"
        " image.src = 'http://example.com/favicon.ico';")
    assert failed == "failed"


def test_the_runs_page_button_downloads_the_report(served, tiny_store):
    from artifacts import ArtifactStore
    from dashboard.report import build_report

    open_page(served, "/?run=tiny")
    button = served.driver.find_element(
        By.XPATH, f"//tr[contains(@id, '\"run\":\"{TINY_RUN_ID}\"')]//button[contains(@id, 'runs-report')]")
    served.driver.execute_script("arguments[0].click();", button)
    target = os.path.join(served.download_path, "tiny-report.html")
    wait_until(lambda: os.path.exists(target) and not os.path.exists(target + ".crdownload")
               and os.path.getsize(target) > 0, timeout=30)
    expected = build_report(ArtifactStore(tiny_store).run(TINY_RUN_ID)).encode("utf-8")
    assert wait_until(lambda: os.path.getsize(target) == len(expected), timeout=10)
    with open(target, "rb") as handle:
        assert handle.read() == expected
    assert_no_severe(served)


# A script that watches window.Plotly being assigned before the app's own code runs (as a profiler does,
# e.g. benchmarks/settle.js): it wraps Plotly.react and counts the calls.
WATCHER = """
window.__reacts = 0;
var watched;
Object.defineProperty(window, 'Plotly', {configurable: true,
  get: function () { return watched; },
  set: function (value) {
    var react = value.react;
    value.react = function () { window.__reacts += 1; return react.apply(this, arguments); };
    watched = value;
  }});
"""


def test_an_earlier_watcher_of_plotly_still_sees_it_and_the_downloads_stay(served):
    served.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCHER})
    open_page(served, "/metrics?run=tiny")
    served.wait_for_element("#metrics-confusion .modebar-btn", timeout=15)
    titles = modebar_titles(served, "metrics-confusion")
    assert "Download plot as PNG" in titles and "Download plot as SVG" in titles
    # Drawing went through the watcher's wrapper: export.js chained to its setter instead of replacing it.
    assert wait_until(lambda: served.driver.execute_script("return window.__reacts") > 0, timeout=15)
    assert_no_severe(served)
