"""Issue 14 (4) in headless Chromium: the attributions card on the Activations and Draw pages.

The app is served in a thread against the tiny store. The card is closed until its switch opens it;
choosing Grad-CAM and a layer redraws the maps, which are checked against the engine's own.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from artifacts import ArtifactStore
from dashboard.figures.attributions import attribution_panels
from dashboard.inference import Network
from dashboard.inference import attribution as attr
from tests.browser.test_activations_browser import click_centred, figure_data, free_port, severe, wait_for
from tests.conftest import CHROMEDRIVER, CHROMIUM, TINY_RUN_ID, require

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAINED_MAP = "gd.data[gd.data.length - 1].source"  # the last panel: the trained network's map (a PNG)
CAPTIONS = "Array.from(gd.layout.annotations, function (a) { return a.text; })"
# Records the outputs of every callback request the page sends from now on.
RECORD_REQUESTS = """
window.__outputs = [];
var original = window.fetch;
window.fetch = function (url, options) {
  if (String(url && url.url || url).indexOf('_dash-update-component') >= 0 && options && options.body) {
    window.__outputs.push(JSON.parse(options.body).output);
  }
  return original.apply(this, arguments);
};
"""
CARD_REQUESTS = "return window.__outputs.filter(function (o) { return o.indexOf('attribution') >= 0; }).length;"


@pytest.fixture
def served(dash_duo, tiny_store, use_store):
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(tiny_store)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    return dash_duo


def expected_map(store, image: np.ndarray, method: str, layer: str | None) -> str:
    """The PNG the card should show for the trained network's map (the engine, drawn by the same builder)."""
    run = ArtifactStore(store).run(TINY_RUN_ID)
    config = run.info().config
    trained = Network(config, run.weights(config.epochs))
    heatmap = attr.attribute(trained, image, method, layer).heatmap
    return attribution_panels(image, [("", heatmap)]).data[0].source


def choose_method(duo, page: str, label: str) -> None:
    group = f"//*[@id='{page}-attribution-method']"
    click_centred(duo, duo.driver.find_element(By.XPATH, f"{group}//label[normalize-space()='{label}']"))


def test_choosing_gradcam_and_a_layer_on_activations_changes_the_map(served, tiny_store):
    probe = 5
    image = ArtifactStore(tiny_store).run(TINY_RUN_ID).probes()["images"][probe]
    served.wait_for_page(f"{served.server_url}/activations?run=tiny&probe={probe}&layer=conv_1")
    wait_for(lambda: figure_data(served, "activations-mosaic", "gd.data[0].type"), message="the page")
    # Closed: nothing drawn, and choosing another probe sends the server nothing for the card.
    assert figure_data(served, "activations-attribution-figure", TRAINED_MAP) is None
    served.driver.execute_script(RECORD_REQUESTS)
    click_centred(served, served.driver.find_element(
        By.XPATH, "//*[@id='activations-digit']//label[normalize-space()='7']"))
    served.wait_for_contains_text("#activations-summary", "label 7", timeout=20)
    wait_for(lambda: served.driver.execute_script("return window.__outputs.length") >= 2, message="the page's requests")
    assert served.driver.execute_script(CARD_REQUESTS) == 0
    served.wait_for_page(f"{served.server_url}/activations?run=tiny&probe={probe}&layer=conv_1")
    wait_for(lambda: figure_data(served, "activations-mosaic", "gd.data[0].type"), message="the page again")
    click_centred(served, served.driver.find_element(By.ID, "activations-attribution-show"))
    saliency = wait_for(lambda: figure_data(served, "activations-attribution-figure", TRAINED_MAP),
                        message="the saliency maps")
    assert saliency == expected_map(tiny_store, image, attr.SALIENCY, None)
    assert figure_data(served, "activations-attribution-figure", CAPTIONS) == ["untrained (epoch 0)",
                                                                               "trained (epoch 2)"]
    served.wait_for_contains_text("#activations-attribution-table", "Grad-CAM conv_2", timeout=20)

    served.driver.execute_script(RECORD_REQUESTS)
    choose_method(served, "activations", "Grad-CAM")
    conv_2 = expected_map(tiny_store, image, attr.GRADCAM, "conv_2")
    wait_for(lambda: figure_data(served, "activations-attribution-figure", TRAINED_MAP) == conv_2,
             message="Grad-CAM of conv_2 (the last conv layer)")
    served.select_dcc_dropdown("#activations-attribution-layer", value="conv_1")
    conv_1 = expected_map(tiny_store, image, attr.GRADCAM, "conv_1")
    assert len({saliency, conv_2, conv_1}) == 3
    wait_for(lambda: figure_data(served, "activations-attribution-figure", TRAINED_MAP) == conv_1,
             message="Grad-CAM of conv_1")
    served.wait_for_contains_text("#activations-attribution-note", "Grad-CAM conv_1", timeout=20)
    assert served.driver.execute_script(CARD_REQUESTS) == 2  # one per choice
    errors = severe(served)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_the_card_explains_a_test_digit_on_the_draw_page(served, tiny_store):
    index = 11
    image = ArtifactStore(tiny_store).run(TINY_RUN_ID).predictions()["images"][index]
    served.wait_for_page(f"{served.server_url}/draw?run=tiny&test={index}")
    served.wait_for_style_to_equal("#draw-results", "display", "block", timeout=30)
    click_centred(served, served.driver.find_element(By.ID, "draw-attribution-show"))
    choose_method(served, "draw", "SmoothGrad")
    smooth = expected_map(tiny_store, image, attr.SMOOTHGRAD, None)
    wait_for(lambda: figure_data(served, "draw-attribution-figure", TRAINED_MAP) == smooth, message="SmoothGrad")
    served.wait_for_contains_text("#draw-attribution-table", "SmoothGrad", timeout=20)
    served.wait_for_contains_text("#draw-attribution-note", "SmoothGrad", timeout=20)
    ours = [entry["message"][:700] for entry in served.driver.get_log("browser")
            if entry["level"] == "SEVERE" and "attribution" in entry["message"]]
    assert ours == []
