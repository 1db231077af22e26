"""Issue 12 in headless Chromium: Runs, Training and Metrics need no callback at load and one per interaction.

Every request to ``_dash-update-component`` is recorded in the page (fetch wrapped before the app's
scripts run) with the outputs it asked for and the response it got.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from dashboard.figures.training import class_line_style
from tests.browser.test_runs_metrics_browser import assert_no_severe, figure_value, free_port, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, require
from tests.dashboard.test_pages_runs_metrics import second_run

pytestmark = pytest.mark.browser

RECORDER = """
window.__calls = [];
var original = window.fetch;
window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : input.url;
    if (url.indexOf("_dash-update-component") < 0) { return original.apply(this, arguments); }
    var entry = {output: null, done: false, body: null};
    try { entry.output = JSON.parse(init.body).output; } catch (error) { entry.output = "?"; }
    window.__calls.push(entry);
    return original.apply(this, arguments).then(function (response) {
        response.clone().text().then(function (text) { entry.body = text; entry.done = true; });
        return response;
    });
};
"""


@pytest.fixture
def served(dash_duo, store_copy, use_store):
    """Serve the app against a copy of the tiny store with a second run; record callback requests."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    second_run(store_copy, "tiny-b")
    use_store(store_copy)
    from dashboard.app import app

    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    dash_duo.start_server(app, port=free_port())
    return dash_duo


def calls(duo) -> list[dict]:
    return duo.driver.execute_script("return window.__calls || [];")


def settle(duo, quiet: float = 1.0) -> list[dict]:
    """Wait until every visible graph is drawn and no callback request is open for ``quiet`` seconds."""
    def idle():
        return duo.driver.execute_script(
            "var graphs = Array.from(document.querySelectorAll('.js-plotly-plot'))"
            "  .filter(function (g) { return g.offsetParent !== null; });"
            "return window.__calls !== undefined && document.querySelector('#_pages_content') !== null"
            "  && graphs.every(function (g) { return !!g._fullLayout; })"
            "  && window.__calls.every(function (c) { return c.done; })"
            "  && !document.querySelector('[data-dash-is-loading=\"true\"]');")
    end = time.time() + 30
    seen = None
    while time.time() < end:
        if idle():
            count = len(calls(duo))
            if seen is not None and count == seen[0] and time.time() - seen[1] >= quiet:
                return calls(duo)
            if seen is None or count != seen[0]:
                seen = (count, time.time())
        else:
            seen = None
        time.sleep(0.1)
    raise AssertionError(f"the page did not settle: {calls(duo)}")


def page_calls(recorded: list[dict]) -> list[str]:
    """Return the outputs of the recorded calls, leaving out the page router's (which every page load makes)."""
    return [entry["output"] for entry in recorded if "_pages" not in entry["output"]]


def open_settled(duo, path: str) -> list[dict]:
    duo.driver.get(duo.server_url + path)
    return settle(duo)


def mark(duo) -> int:
    return len(calls(duo))


@pytest.mark.parametrize("path", ["/training?run=tiny&digit=3", "/metrics?run=tiny&digit=3&cell=3-5&mode=normalized",
                                  "/?run=tiny&compare=tiny-b"])
def test_a_page_whose_url_names_its_run_draws_with_no_callback_request(served, path):
    recorded = open_settled(served, path)
    assert page_calls(recorded) == []
    drawn = served.driver.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).filter(function (g) {"
        " return g.offsetParent !== null && g.data && g.data.length; }).length;")
    assert drawn >= 2
    assert_no_severe(served)


def toggle_theme(duo) -> None:
    duo.driver.find_element(By.CSS_SELECTOR, ".navbar .theme-toggle input").click()


def test_the_theme_switch_changes_the_training_figures_in_the_browser(served):
    open_settled(served, "/training?run=tiny")
    light = figure_value(served, "training-curves", "gd._fullLayout.font.color")
    before = mark(served)
    toggle_theme(served)
    for graph in ("training-curves", "training-classes", "training-timing"):
        assert wait_until(lambda g=graph: figure_value(served, g, "gd._fullLayout.font.color") != light)
    assert page_calls(settle(served)[before:]) == []
    toggle_theme(served)  # back to light: the figures are as they were drawn
    assert wait_until(lambda: figure_value(served, "training-curves", "gd._fullLayout.font.color") == light)
    assert_no_severe(served)


def test_the_theme_switch_patches_the_metrics_figures_in_one_request(served):
    open_settled(served, "/metrics?run=tiny&digit=2")
    light = figure_value(served, "metrics-confusion", "JSON.stringify(gd.data[0].colorscale)")
    bars_light = figure_value(served, "metrics-bars", "gd._fullLayout.font.color")
    before = mark(served)
    toggle_theme(served)
    recorded = [entry for entry in settle(served)[before:] if "_pages" not in entry["output"]]
    assert len(recorded) == 1
    response = json.loads(recorded[0]["body"])["response"]
    figure = response["metrics-confusion"]["figure"]
    assert figure.get("__dash_patch_update")  # a Patch: what changed, not the figure
    changed = [op["location"] for op in figure["operations"]]
    assert ["layout", "template"] in changed and not any(place[-1] in ("x", "y", "z") for place in changed)
    assert "metrics-bars" not in response  # its template is swapped in the browser
    assert wait_until(lambda: figure_value(served, "metrics-bars", "gd._fullLayout.font.color") != bars_light)
    assert wait_until(lambda: figure_value(served, "metrics-confusion", "JSON.stringify(gd.data[0].colorscale)")
                      != light)
    assert figure_value(served, "metrics-confusion", "gd.layout.shapes.length") == 2  # the digit's outline stays
    assert_no_severe(served)


def line_styles(duo) -> list[dict]:
    """Return each class line's width and opacity as the browser draws them (Plotly's defaults filled in)."""
    return json.loads(figure_value(duo, "training-classes", "JSON.stringify(gd._fullData.map(function (t) {"
                                   " return {width: t.line.width, opacity: t.opacity}; }))"))


def location_search(duo) -> str:
    return duo.driver.execute_script("return window.location.search;")


def choose_class(duo, label: str) -> None:
    duo.driver.find_element(By.XPATH, f"//*[@id='training-digit']//label[normalize-space()='{label}']").click()


def test_the_training_class_filter_is_answered_in_the_browser_and_back_undoes_it(served):
    open_settled(served, "/training?run=tiny")
    before = mark(served)
    choose_class(served, "3")
    assert wait_until(lambda: figure_value(served, "training-classes", "gd.data[3].line.width") == 4)
    assert figure_value(served, "training-classes", "gd.data[2].line.width") == 1
    assert line_styles(served) == class_line_style(3)  # every line's width and opacity
    assert wait_until(lambda: location_search(served) == "?digit=3&run=tiny")
    assert page_calls(settle(served)[before:]) == []
    served.driver.back()
    assert wait_until(lambda: "digit=3" not in served.driver.current_url)
    assert wait_until(lambda: figure_value(served, "training-classes", "gd.data[3].line.width") == 2)
    assert line_styles(served) == class_line_style("all")
    choose_class(served, "5")
    assert wait_until(lambda: location_search(served) == "?digit=5&run=tiny")
    assert wait_until(lambda: line_styles(served) == class_line_style(5))
    choose_class(served, "all")  # "all" is the default: the query leaves it out
    assert wait_until(lambda: location_search(served) == "?run=tiny")
    assert wait_until(lambda: line_styles(served) == class_line_style("all"))
    assert_no_severe(served)


def test_each_metrics_interaction_is_one_request(served):
    open_settled(served, "/metrics?run=tiny")
    before = mark(served)
    served.driver.find_element(By.XPATH, "//*[@id='metrics-digit']//label[normalize-space()='1']").click()
    served.wait_for_contains_text("#metrics-gallery-title", "involving digit 1", timeout=10)
    assert len(page_calls(settle(served)[before:])) == 1
    assert wait_until(lambda: figure_value(served, "metrics-confusion", "gd.layout.shapes.length") == 2)

    before = mark(served)
    served.driver.find_element(By.CSS_SELECTOR, "#metrics-mode input[value='normalized']").click()
    assert wait_until(lambda: figure_value(served, "metrics-confusion", "gd.data[0].colorbar.title.text")
                      == "share of row")
    assert len(page_calls(settle(served)[before:])) == 1

    before = mark(served)
    drag = served.driver.find_element(By.CSS_SELECTOR, "#metrics-confusion .nsewdrag")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", drag)
    time.sleep(0.3)
    width, height = drag.size["width"], drag.size["height"]
    row, column = 1, 1
    ActionChains(served.driver).move_to_element(drag).move_by_offset(
        int((column + 0.5) / 10 * width - width / 2), int((row + 0.5) / 10 * height - height / 2)).click().perform()
    served.wait_for_contains_text("#metrics-gallery-title", f"True {row}, predicted {column}", timeout=10)
    assert len(page_calls(settle(served)[before:])) == 1
    assert wait_until(lambda: location_search(served) == "?cell=1-1&digit=1&mode=normalized&run=tiny")
    assert_no_severe(served)


def test_choosing_a_second_run_is_one_request_and_the_theme_patches_the_comparison(served):
    open_settled(served, "/?run=tiny")
    toggle_theme(served)  # nothing compared yet: nothing to patch, and no error
    assert page_calls(settle(served)) == []
    toggle_theme(served)
    before = mark(served)
    served.driver.execute_script("window.dash_clientside.set_props('runs-compare-select', {value: 'tiny-b'});")
    served.wait_for_element("#runs-compare-confusion .js-plotly-plot", timeout=15)
    assert len(page_calls(settle(served)[before:])) == 1
    assert wait_until(lambda: "compare=tiny-b" in served.driver.current_url)
    before = mark(served)
    served.driver.find_element(By.CSS_SELECTOR, ".navbar .theme-toggle input").click()
    recorded = page_calls(settle(served)[before:])
    assert len(recorded) == 1 and "runs-compare-confusion.figure" in recorded[0]
    assert_no_severe(served)


@pytest.mark.parametrize("path", ["/training", "/metrics"])
def test_a_page_whose_url_names_no_run_asks_once_for_the_active_run(served, path):
    recorded = page_calls(open_settled(served, path))
    assert len(recorded) == 1 and "page-body" in recorded[0]  # the page contract's one call
    # The run it chose (the store's two runs are equally new), in the URL; the class filter and the counts
    # mode at their defaults are left out.
    assert wait_until(lambda: location_search(served) in ("?run=tiny", "?run=tiny-b"))
    graph = "training-curves" if path == "/training" else "metrics-confusion"
    assert figure_value(served, graph, "gd.data.length") >= 1
    assert_no_severe(served)
