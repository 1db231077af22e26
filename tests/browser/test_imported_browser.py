"""Architecture and Activations in headless Chromium on a LeNet-5 imported with ``python -m pipeline import``
(issue 16): the table, the 3D blocks, the filters, the explorer's maps and the stacked view are drawn from the
layers and the snapshot the import recorded, with no console error."""

from __future__ import annotations

import os

import pytest
from selenium.webdriver.common.by import By

from artifacts import ArtifactStore
from artifacts import format as fmt
from tests.browser.test_activations_browser import figure_data, free_port, severe, show_switch, wait_for
from tests.conftest import CHROMEDRIVER, CHROMIUM, require

pytestmark = pytest.mark.browser
RUN = "lenet5"


@pytest.fixture(scope="module")
def lenet_store(foreign_runs):
    """A store holding LeNet-5 (tests.support.foreign_models), trained and imported by the real commands (with the
    other foreign models: the session's store, tests/conftest.py)."""
    return foreign_runs[0]


@pytest.fixture
def served(dash_duo, lenet_store, use_store):
    """The app serving the LeNet-5 store on a free port; returns the base URL and the run's recorded layers."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(lenet_store)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    run = ArtifactStore(lenet_store).run(RUN)
    return dash_duo.server_url, run.manifest()[fmt.KEY_LAYERS], run.snapshot(fmt.IMPORTED_SNAPSHOT_EPOCH)


def test_the_architecture_page_draws_an_imported_lenet(dash_duo, served):
    base, layers, snapshot = served
    convs = [layer["name"] for layer in layers if layer["class_name"] == "Conv2D"]
    dash_duo.wait_for_page(f"{base}/model?run={RUN}")
    title = wait_for(lambda: figure_data(dash_duo, "model-filters", "gd.layout.title.text"), message="filters")
    assert title.startswith(f"{convs[0]}: 6 filters")
    table = dash_duo.find_element(".model-layer-table").text
    assert "AveragePooling2D" in table and "61,706" in table  # LeNet-5's parameters, as Keras counts them
    assert "does not yet support" not in dash_duo.find_element("#_pages_content").text
    dash_duo.select_dcc_dropdown("#model-layer", value=convs[1])
    wait_for(lambda: (figure_data(dash_duo, "model-filters", "gd.layout.title.text") or "").startswith(
        f"{convs[1]}: 16 filters"), message="the second conv layer's filters")
    show_switch(dash_duo, "model-blocks-show")
    assert wait_for(lambda: figure_data(dash_duo, "model-blocks",
                                        "gd.data.filter(function (t) { return t.type === 'mesh3d'; }).length"),
                    message="blocks") == len(layers)
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_the_activation_explorer_draws_an_imported_lenet(dash_duo, served):
    base, layers, snapshot = served
    spatial = [layer["name"] for layer in layers if fmt.ACTIVATION_PREFIX + layer["name"] in snapshot]
    dash_duo.wait_for_page(f"{base}/activations?run={RUN}&layer={spatial[1]}")
    wait_for(lambda: figure_data(dash_duo, "activations-mosaic", "gd.layout.meta.channels") == 6,
             message="the average pooling layer's 6 maps")
    assert spatial[1] in figure_data(dash_duo, "activations-mosaic", "gd.layout.title.text")
    assert wait_for(lambda: figure_data(dash_duo, "activations-saliency", "gd._fullData.length"), message="saliency")
    assert wait_for(lambda: figure_data(dash_duo, "activations-probabilities", "gd._fullData[0].y.length"),
                    message="probabilities") == 10
    show_switch(dash_duo, "activations-stack-show")
    # An image of the 3D scene first (issue 12), then the interactive WebGL view: a plane per recorded layer.
    assert wait_for(lambda: figure_data(dash_duo, "activations-stack", "gd._fullData[0].type"),
                    message="the stacked view's image") == "image"
    show_switch(dash_duo, "activations-stack-webgl")
    names = wait_for(lambda: figure_data(dash_duo, "activations-stack",
                                         "gd.data[0].type === 'image' ? null :"
                                         " gd.data.map(function (t) { return t.name; }).filter(Boolean)"),
                     message="stacked view in WebGL")
    assert names == ["pixels", *spatial]
    label = dash_duo.driver.find_element(By.XPATH, "//*[@id='activations-digit']//label[normalize-space()='7']")
    label.click()
    wait_for(lambda: "label 7" in dash_duo.find_element("#activations-summary").text, message="a 7 chosen")
    assert not dash_duo.find_element("#activations-epoch").is_displayed()
    assert "one epoch" in dash_duo.find_element(".imported-note").text
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]
