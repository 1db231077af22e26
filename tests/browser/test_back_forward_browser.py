"""Back and Forward within a page, in headless Chromium: the URL's view comes back without a page reload.

An entry the page wrote itself sets the controls that differ (the page's callbacks redraw what
changed, the page is not rebuilt); the opening URL is rebuilt by Dash's router, still without a
reload. A marker set on ``window`` before going back survives only when the page did not reload.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_activations_browser import (  # noqa: F401  (explorer is a fixture)
    explorer,
    figure_data,
    query,
    severe,
    step_epoch,
    surface_title,
    wait_for,
)

pytestmark = pytest.mark.browser

# Marks the window (gone after a reload) and records the output of every callback request from here.
MARK = """
window.__noReload = 1;
window.__outputs = [];
var original = window.fetch;
window.fetch = function (url, options) {
  if (String(url && url.url || url).indexOf('_dash-update-component') >= 0) {
    try { window.__outputs.push(JSON.parse(options.body).output); } catch (error) { window.__outputs.push('?'); }
  }
  return original.apply(this, arguments);
};
"""
NOT_RELOADED = "return window.__noReload === 1;"
ROUTER_CALLS = "return window.__outputs.filter(function (o) { return o.indexOf('_pages_content') >= 0; }).length;"


def summary(dash_duo) -> str:
    return dash_duo.find_element("#activations-summary").text


def choose_class(dash_duo, component_id: str, label: str) -> None:
    dash_duo.driver.find_element(
        By.XPATH, f"//*[@id='{component_id}']//label[normalize-space()='{label}']").click()


def test_back_and_forward_change_the_probe_in_place(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    wait_for(lambda: surface_title(dash_duo), message="the channel map")
    choose_class(dash_duo, "activations-digit", "3")
    wait_for(lambda: query(dash_duo).get("digit") == "3" and "label 3" in summary(dash_duo), message="a probe 3")
    three = query(dash_duo)["probe"]
    choose_class(dash_duo, "activations-digit", "7")
    wait_for(lambda: query(dash_duo).get("digit") == "7" and "label 7" in summary(dash_duo), message="a probe 7")
    seven = query(dash_duo)["probe"]
    assert three != seven
    dash_duo.driver.execute_script(MARK)

    dash_duo.driver.back()
    wait_for(lambda: "label 3" in summary(dash_duo), message="the probe of class 3 after Back")
    wait_for(lambda: f"Probe {three} " in (figure_data(dash_duo, "activations-input", "gd.layout.title.text") or ""),
             message="the digit of the previous probe")
    assert query(dash_duo)["probe"] == three
    assert dash_duo.driver.execute_script(NOT_RELOADED), "Back reloaded the page"

    dash_duo.driver.forward()  # Back added no entry: Forward still leads to the probe of class 7
    wait_for(lambda: "label 7" in summary(dash_duo), message="the probe of class 7 after Forward")
    assert query(dash_duo)["probe"] == seven
    assert dash_duo.driver.execute_script(NOT_RELOADED), "Forward reloaded the page"
    assert dash_duo.driver.execute_script(ROUTER_CALLS) == 0, "the page was rebuilt, not restored in place"
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_back_to_the_opening_url_rebuilds_the_page_without_a_reload(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    wait_for(lambda: surface_title(dash_duo), message="the channel map")
    step_epoch(dash_duo, Keys.HOME, "0")
    dash_duo.driver.execute_script(MARK)
    dash_duo.driver.back()
    wait_for(lambda: "epoch 2" in surface_title(dash_duo), message="the channel map of epoch 2 after Back")
    assert dash_duo.driver.execute_script(NOT_RELOADED), "Back reloaded the page"
    assert query(dash_duo).get("epoch") == "2"


def test_back_on_the_architecture_page_restores_the_epoch_in_place(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny&layer=conv_1&epoch=2")
    title = "gd.layout.title.text"
    wait_for(lambda: "epoch 2" in (figure_data(dash_duo, "model-filters", title) or ""), message="filters")
    slider = dash_duo.find_element("#model-epoch [role=slider]")
    for expected in ("1", "0"):
        slider.send_keys(Keys.ARROW_LEFT)
        wait_for(lambda e=expected: query(dash_duo).get("epoch") == e, message=f"epoch={expected} in the URL")
    dash_duo.driver.execute_script(MARK)
    dash_duo.driver.back()
    wait_for(lambda: "epoch 1" in (figure_data(dash_duo, "model-filters", title) or ""),
             message="the filters of epoch 1 after Back")
    assert dash_duo.driver.execute_script(NOT_RELOADED), "Back reloaded the page"
    assert dash_duo.driver.execute_script(ROUTER_CALLS) == 0
    assert query(dash_duo).get("epoch") == "1"


def test_back_on_the_training_page_restores_the_class_in_place(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/training?run=tiny")
    width = "gd.data[{}].line.width"
    wait_for(lambda: figure_data(dash_duo, "training-classes", width.format(3)), message="the class lines")
    choose_class(dash_duo, "training-digit", "3")
    wait_for(lambda: query(dash_duo).get("digit") == "3", message="digit=3 in the URL")
    choose_class(dash_duo, "training-digit", "5")
    wait_for(lambda: figure_data(dash_duo, "training-classes", width.format(5)) == 4, message="class 5 forward")
    dash_duo.driver.execute_script(MARK)
    dash_duo.driver.back()
    wait_for(lambda: figure_data(dash_duo, "training-classes", width.format(3)) == 4,
             message="class 3 forward after Back")
    assert figure_data(dash_duo, "training-classes", width.format(5)) != 4
    assert query(dash_duo).get("digit") == "3"
    assert dash_duo.driver.execute_script(NOT_RELOADED), "Back reloaded the page"
    assert dash_duo.driver.execute_script(ROUTER_CALLS) == 0
