"""Runs, Training and Metrics pages in headless Chromium (app served in a thread; no background callbacks)."""

from __future__ import annotations

import os
import socket
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.conftest import CHROMEDRIVER, CHROMIUM, require

pytestmark = pytest.mark.browser

# The page is served offline: the CDN stylesheets cannot load, which is not a page error.
OFFLINE = ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_INTERNET_DISCONNECTED", "net::ERR_CONNECTION_REFUSED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(dash_duo, tiny_store, use_store):
    """Serve the app on a free port against the tiny store; return dash_duo."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(tiny_store)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    return dash_duo


def severe(duo) -> list[str]:
    """Return the browser console's SEVERE messages, except offline resource loads."""
    return [entry["message"] for entry in duo.get_logs() or []
            if entry["level"] == "SEVERE" and not any(code in entry["message"] for code in OFFLINE)]


def assert_no_severe(duo) -> None:
    errors = severe(duo)
    assert not errors, "browser console errors:\n" + "\n".join(errors)


def open_page(duo, path: str) -> None:
    duo.driver.get(duo.server_url + path)
    duo.wait_for_element("#_pages_content", timeout=10)


def figure_value(duo, graph_id: str, expression: str):
    """Evaluate ``expression`` on the graph's Plotly div (``gd``); None until the figure has what it reads."""
    # A graph div exists before Plotly has drawn its traces: reading a trace that is
    # not there yet is "not ready", not an error.
    return duo.driver.execute_script(
        f"var gd = document.querySelector('#{graph_id} .js-plotly-plot');"
        f" try {{ return gd ? {expression} : null; }} catch (error) {{ return null; }}"
    )


def wait_until(check, timeout: float = 10.0):
    end = time.time() + timeout
    while time.time() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize(("path", "ready"), [
    ("/?run=tiny", "#runs-select"),
    ("/training?run=tiny", "#training-curves .js-plotly-plot"),
    ("/metrics?run=tiny", "#metrics-confusion .js-plotly-plot"),
])
def test_pages_load_without_console_errors(served, path, ready):
    open_page(served, path)
    served.wait_for_element(ready, timeout=15)
    time.sleep(1.5)  # let the remaining callbacks of the page finish
    assert_no_severe(served)


def test_digit_filter_changes_the_gallery(served):
    open_page(served, "/metrics?run=tiny")
    served.wait_for_contains_text("#metrics-gallery-title", "Mistakes:", timeout=15)
    before = served.find_element("#metrics-gallery-title h5").text
    served.driver.find_element(By.XPATH, "//*[@id='metrics-digit']//label[normalize-space()='1']").click()
    served.wait_for_contains_text("#metrics-gallery-title", "involving digit 1", timeout=10)
    assert served.find_element("#metrics-gallery-title h5").text != before
    assert wait_until(lambda: "digit=1" in served.driver.current_url)
    assert_no_severe(served)


def test_confusion_click_opens_the_gallery(served):
    open_page(served, "/metrics?run=tiny")
    served.wait_for_element("#metrics-confusion .nsewdrag", timeout=15)
    served.wait_for_contains_text("#metrics-gallery-title", "Mistakes:", timeout=15)  # first render done
    time.sleep(1)
    drag = served.driver.find_element(By.CSS_SELECTOR, "#metrics-confusion .nsewdrag")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", drag)
    time.sleep(0.5)
    width, height = drag.size["width"], drag.size["height"]
    row, column = 2, 0  # true 2, predicted 0
    # From the plot area's centre (the same origin in every Selenium version) to the cell's centre.
    ActionChains(served.driver).move_to_element(drag).move_by_offset(
        int((column + 0.5) / 10 * width - width / 2), int((row + 0.5) / 10 * height - height / 2)
    ).click().perform()
    served.wait_for_contains_text("#metrics-gallery-title", f"True {row}, predicted {column}", timeout=10)
    assert wait_until(lambda: f"cell={row}-{column}" in served.driver.current_url)
    mark = "gd.layout.shapes.map(function (s) { return [s.x0, s.y0]; })"
    assert wait_until(lambda: [column - 0.5, row - 0.5] in (figure_value(served, "metrics-confusion", mark) or []))
    assert_no_severe(served)


def test_a_copied_url_reopens_the_same_view(served):
    open_page(served, "/metrics?run=tiny&digit=3&cell=3-5&mode=normalized")
    served.wait_for_contains_text("#metrics-gallery-title", "True 3, predicted 5", timeout=15)
    assert served.driver.find_element(By.CSS_SELECTOR, "#metrics-mode input[value='normalized']").is_selected()
    assert wait_until(lambda: figure_value(served, "metrics-confusion", "gd.data[0].colorbar.title.text")) \
        == "share of row"
    # The digit's row and column, and (issue 9) the chosen cell.
    assert wait_until(lambda: figure_value(served, "metrics-confusion", "gd.layout.shapes.length") == 3)
    assert figure_value(served, "metrics-confusion", "gd.layout.shapes[2].x0") == 4.5
    checked = served.driver.find_element(By.CSS_SELECTOR, "#metrics-digit input:checked")
    assert checked.get_attribute("value") == "3"
    open_page(served, "/training?run=tiny&digit=3")
    assert wait_until(lambda: figure_value(served, "training-classes", "gd.data[3].line.width")) == 4
    assert figure_value(served, "training-classes", "gd.data[2].line.width") == 1
    assert "digit=3" in served.driver.current_url and "run=tiny" in served.driver.current_url
    assert_no_severe(served)


def test_the_active_run_is_highlighted_in_the_runs_table(served):
    open_page(served, "/?run=tiny")
    row = wait_until(lambda: served.driver.find_elements(By.CSS_SELECTOR, "tr.table-active"))
    assert len(row) == 1 and row[0].text.startswith("tiny")
    assert served.driver.execute_script("return localStorage.getItem('active-run')") == '"tiny"'
