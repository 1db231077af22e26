"""The Architecture and Activation explorer pages in headless Chromium (dash_duo, in-thread server)."""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.conftest import CHROMEDRIVER, CHROMIUM, require

pytestmark = pytest.mark.browser


def free_port() -> int:
    """Return a port nobody listens on now (other engineers run browser tests on this machine too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def figure_data(dash_duo, graph_id: str, expression: str):
    """Evaluate ``expression`` on the Plotly div of ``graph_id`` (``gd``) in the page; None if not drawn yet."""
    script = (f"var host = document.getElementById('{graph_id}');"
              "var gd = host && (host.classList.contains('js-plotly-plot') ? host"
              " : host.querySelector('.js-plotly-plot'));"
              f"if (!gd || !gd.data || !gd.data.length) {{ return null; }} return {expression};")
    return dash_duo.driver.execute_script(script)


def wait_for(condition, timeout: float = 15, message: str = "condition"):
    """Poll ``condition()`` until it is truthy; return its value or fail with ``message``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {message}")


OTHER_PAGE_ID = re.compile(r"The id of this object is `(?!model-|activations-)[a-z]+-")


def severe(dash_duo) -> list:
    """Return the browser console's SEVERE entries that concern these two pages.

    Left out: stylesheets from a CDN that fail to load on a machine without
    internet (another host's network failure), and errors naming another page's
    component (that page's own tests own them).
    """
    own = dash_duo.server_url
    return [entry for entry in dash_duo.driver.get_log("browser")
            if entry["level"] == "SEVERE"
            and not (entry.get("source") == "network" and not entry["message"].startswith(own))
            and not OTHER_PAGE_ID.search(entry["message"])]


def query(dash_duo) -> dict:
    """Return the address bar's query parameters (first value of each)."""
    url = dash_duo.driver.current_url
    return {key: values[0] for key, values in urllib.parse.parse_qs(urllib.parse.urlparse(url).query).items()}


@pytest.fixture
def explorer(dash_duo, tiny_store, use_store):
    """The app serving the tiny store on a free port; returns the base URL."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(tiny_store)
    from dashboard.app import app

    dash_duo.start_server(app, port=free_port())
    return dash_duo.server_url


# What Plotly drew (decoded), not the spec it was sent: a patched z and a fresh one compare equal.
SURFACE_Z = "JSON.stringify(Array.from(gd._fullData[0].z, function (row) { return Array.from(row); }))"
# The picker is the app's digit grid drawn as one image; its width in pixels is in layout.meta.
PICKER_WIDTH = "gd.layout.meta.width"
PITCH, GAP = 31, 3  # dashboard.figures.digits: a tile and its gap, in pixels


def click_centred(dash_duo, element) -> None:
    """Click ``element`` as the page's own click (nothing laid over a short window can intercept it),
    leaving the page scrolled to the top as it was loaded."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();"
                                   " window.scrollTo(0, 0);", element)


def open_3d(dash_duo) -> None:
    """Open the chosen channel's 3D surface tab (drawn only once opened)."""
    click_centred(dash_duo, dash_duo.driver.find_element(
        By.XPATH, "//*[@id='activations-channel-tabs']//a[normalize-space()='3D surface']"))


def show_switch(dash_duo, switch_id: str) -> None:
    """Turn on a dbc.Switch."""
    click_centred(dash_duo, dash_duo.driver.find_element(By.ID, switch_id))


def test_model_page_loads_and_epoch_slider_redraws_filters(dash_duo, explorer):
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny&layer=conv_1")
    title = wait_for(lambda: figure_data(dash_duo, "model-filters", "gd.layout.title.text"), message="filters")
    assert "epoch 2" in title
    show_switch(dash_duo, "model-blocks-show")  # the 3D blocks are drawn once asked for
    assert wait_for(lambda: figure_data(dash_duo, "model-blocks", "gd.data.length"), message="blocks") >= 9
    dash_duo.find_element("#model-epoch [role=slider]").send_keys(Keys.HOME)
    wait_for(lambda: "epoch 0" in (figure_data(dash_duo, "model-filters", "gd.layout.title.text") or ""),
             message="the filters of epoch 0")
    wait_for(lambda: query(dash_duo).get("epoch") == "0", message="epoch=0 in the URL")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_activation_explorer_digit_filter_epoch_slider_and_shared_url(dash_duo, explorer):
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1")
    # The 3D views are drawn once asked for: open the surface's tab, turn on the stacked view.
    wait_for(lambda: figure_data(dash_duo, "activations-mosaic", "gd.data[0].type"), message="mosaic")
    open_3d(dash_duo)
    show_switch(dash_duo, "activations-stack-show")
    # The surface is an image of the 3D scene until made interactive (WebGL, whose z this test follows).
    wait_for(lambda: figure_data(dash_duo, "activations-surface", "gd.data[0].type") == "image", message="image")
    show_switch(dash_duo, "activations-surface-webgl")
    wait_for(lambda: figure_data(dash_duo, "activations-surface", "gd.data[0].type") == "surface", message="surface")
    wait_for(lambda: figure_data(dash_duo, "activations-stack", "gd.data.length"), message="stacked view")
    all_width = wait_for(lambda: figure_data(dash_duo, "activations-picker", PICKER_WIDTH),
                         message="picker")

    # The digit filter: only the three probes of class 7 remain, and a 7 is chosen.
    label = dash_duo.driver.find_element(By.XPATH, "//*[@id='activations-digit']//label[normalize-space()='7']")
    label.click()
    wait_for(lambda: figure_data(dash_duo, "activations-picker", PICKER_WIDTH) == 3 * PITCH - GAP,
             message="the picker to show class 7")
    assert all_width == 10 * PITCH - GAP
    wait_for(lambda: "label 7" in dash_duo.find_element("#activations-summary").text, message="a 7 chosen: "
             + dash_duo.find_element("#activations-summary").text)

    # The epoch slider replays the snapshots: the 3D surface's z changes.
    before = figure_data(dash_duo, "activations-surface", SURFACE_Z)
    dash_duo.find_element("#activations-epoch [role=slider]").send_keys(Keys.HOME)
    wait_for(lambda: figure_data(dash_duo, "activations-surface", SURFACE_Z) not in (None, before),
             message="the surface to change with the epoch")
    assert "epoch 0" in figure_data(dash_duo, "activations-surface", "gd.layout.title.text")

    # Layer and channel: choose pool_1, channel 4.
    dash_duo.select_dcc_dropdown("#activations-layer", value="pool_1")
    channel = dash_duo.find_element("#activations-channel")
    channel.send_keys(Keys.CONTROL, "a")
    channel.send_keys("4", Keys.ENTER)
    wait_for(lambda: "Channel 4" in (figure_data(dash_duo, "activations-surface", "gd.layout.title.text") or ""),
             message="channel 4 in 3D")
    wait_for(lambda: query(dash_duo).get("channel") == "4", message="the URL to follow")
    state = query(dash_duo)
    assert state["digit"] == "7" and state["layer"] == "pool_1" and state["epoch"] == "0"
    surface = figure_data(dash_duo, "activations-surface", SURFACE_Z)
    title = figure_data(dash_duo, "activations-surface", "gd.layout.title.text")

    # The copied URL reopens the same view in a fresh page.
    url = dash_duo.driver.current_url
    dash_duo.wait_for_page(f"{explorer}/model")
    dash_duo.wait_for_page(url)
    wait_for(lambda: figure_data(dash_duo, "activations-mosaic", "gd.data[0].type"), message="mosaic")
    open_3d(dash_duo)
    show_switch(dash_duo, "activations-surface-webgl")
    wait_for(lambda: figure_data(dash_duo, "activations-surface", "gd.data[0].type") == "surface", message="surface")
    wait_for(lambda: figure_data(dash_duo, "activations-surface", "gd.layout.title.text") == title,
             message="the same surface after reopening")
    assert figure_data(dash_duo, "activations-surface", SURFACE_Z) == surface
    assert dash_duo.find_element("#activations-channel").get_attribute("value") == "4"
    assert "label 7" in dash_duo.find_element("#activations-summary").text
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def surface_title(dash_duo) -> str:
    """Return the chosen channel's map's title (the 3D surface's tab is closed on load), or "" before it is drawn."""
    return figure_data(dash_duo, "activations-channel-map", "gd.layout.title.text") or ""


def step_epoch(dash_duo, key: str, expected: str) -> None:
    """Move the epoch slider with a key and wait until the URL says ``epoch=expected``."""
    dash_duo.find_element("#activations-epoch [role=slider]").send_keys(key)
    wait_for(lambda: query(dash_duo).get("epoch") == expected, message=f"epoch={expected} in the URL")
    wait_for(lambda: f"epoch {expected}" in surface_title(dash_duo), message=f"the surface of epoch {expected}")


def test_back_and_forward_restore_views(dash_duo, explorer):
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    wait_for(lambda: surface_title(dash_duo), message="surface")
    step_epoch(dash_duo, Keys.HOME, "0")
    step_epoch(dash_duo, Keys.END, "2")
    dash_duo.driver.back()
    wait_for(lambda: "epoch 0" in surface_title(dash_duo), message="the surface of epoch 0 after Back")
    dash_duo.driver.forward()
    wait_for(lambda: "epoch 2" in surface_title(dash_duo), message="the surface of epoch 2 after Forward")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]


def test_back_to_the_opening_url_restores_it(dash_duo, explorer):
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2")
    wait_for(lambda: surface_title(dash_duo), message="surface")
    step_epoch(dash_duo, Keys.HOME, "0")
    dash_duo.driver.back()
    wait_for(lambda: "epoch 2" in surface_title(dash_duo), timeout=6, message="the surface of epoch 2 after Back")


def test_arrow_keys_step_the_epoch_by_whole_epochs(dash_duo, explorer):
    # Dash 4's slider with step=None moved by 0.1 (epoch=1.9 in the URL) and the page then
    # warned that only the final epoch is stored for the probe.
    dash_duo.wait_for_page(f"{explorer}/activations?run=tiny&layer=conv_1&epoch=2&probe=4")
    wait_for(lambda: "epoch 2" in surface_title(dash_duo), message="surface")
    step_epoch(dash_duo, Keys.ARROW_LEFT, "1")
    step_epoch(dash_duo, Keys.ARROW_LEFT, "0")
    step_epoch(dash_duo, Keys.ARROW_RIGHT, "1")
    assert "Only the final epoch" not in dash_duo.find_element("body").text
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny&layer=conv_1")
    wait_for(lambda: "epoch 2" in (figure_data(dash_duo, "model-filters", "gd.layout.title.text") or ""),
             message="filters")
    dash_duo.find_element("#model-epoch [role=slider]").send_keys(Keys.ARROW_LEFT)
    wait_for(lambda: query(dash_duo).get("epoch") == "1", message="epoch=1 in the model page's URL")
    wait_for(lambda: "epoch 1" in (figure_data(dash_duo, "model-filters", "gd.layout.title.text") or ""),
             message="the filters of epoch 1")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]
