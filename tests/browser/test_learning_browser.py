"""The Learning page in headless Chromium: the epoch slider moves the embedding in the browser, and a point
or a list item opens its digit on the Draw page."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from artifacts import ArtifactStore
from dashboard.figures.digits import PITCH_X, SIDE
from dashboard.learning import learned, projection
from dashboard.learning.history import read_history
from tests.browser.test_draw_epochs_browser import TILE_OFFSET
from tests.browser.test_issue12_pages_browser import RECORDER, calls, settle
from tests.browser.test_runs_metrics_browser import assert_no_severe, figure_value, free_port, open_page, wait_until
from tests.conftest import CHROMEDRIVER, CHROMIUM, TINY_RUN_ID, require

pytestmark = pytest.mark.browser

# Where a data point of the scatter lies, as an offset from the centre of its plot area.
POINT_OFFSET = """
var gd = document.querySelector('#learning-scatter .js-plotly-plot');
var layout = gd._fullLayout, drag = gd.querySelector('.nsewdrag');
var box = gd.getBoundingClientRect(), area = drag.getBoundingClientRect();
var x = box.left + layout.xaxis._offset + layout.xaxis.l2p(arguments[0]);
var y = box.top + layout.yaxis._offset + layout.yaxis.l2p(arguments[1]);
return [Math.round(x - (area.left + area.width / 2)), Math.round(y - (area.top + area.height / 2))];
"""


@pytest.fixture
def served(dash_duo, tiny_store, use_store):
    """Serve the app against the tiny store, recording every callback request."""
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "Chromium and chromedriver are needed")
    use_store(tiny_store)
    from dashboard.app import app

    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    dash_duo.start_server(app, port=free_port())
    return dash_duo


@pytest.fixture
def history(tiny_store):
    return read_history(ArtifactStore(tiny_store).run(TINY_RUN_ID))


def scatter_x(duo, trace: int) -> list[float] | None:
    return figure_value(duo, "learning-scatter", f"Array.from(gd._fullData[{trace}].x)")


def test_the_epoch_slider_moves_the_embedding_in_the_browser(served, history):
    open_page(served, f"/learning?run={TINY_RUN_ID}")
    served.wait_for_element("#learning-scatter .js-plotly-plot", timeout=20)
    wait_until(lambda: "epoch 2" in (figure_value(served, "learning-scatter", "gd.layout.title.text") or ""), 20)
    before = settle(served)
    layouts = projection.pca_epochs(history.features)
    labels = history.labels[history.feature_index]
    np.testing.assert_allclose(scatter_x(served, 3), layouts[2][labels == 3, 0], atol=1e-5)

    served.find_element("#learning-epoch [role=slider]").send_keys(Keys.HOME)
    wait_until(lambda: "epoch 0" in (figure_value(served, "learning-scatter", "gd.layout.title.text") or ""), 10)
    # Epoch 0's points, where the untrained network put them; its mistakes marked; its confusion matrix.
    np.testing.assert_allclose(scatter_x(served, 3), layouts[0][labels == 3, 0], atol=1e-5)
    wrong = int((history.predicted[0][history.feature_index] != labels).sum())
    assert len(scatter_x(served, 10)) == wrong
    matrix = learned.confusion_by_epoch(history.predicted[:1], history.labels)[0]
    rows = "gd._fullData[0].z.map(function (row) { return Array.from(row); })"
    assert figure_value(served, "learning-confusion", rows) == matrix.tolist()
    assert wait_until(lambda: "epoch=0" in served.driver.current_url)
    # No request drew it: the frames were in the page.
    after = settle(served)
    asked = [call["output"] for call in after[len(before):]]
    assert not [output for output in asked if "learning-scatter" in output or "learning-confusion" in output], asked
    assert_no_severe(served)


def test_clicking_a_point_opens_its_digit_through_the_layers(served, history):
    open_page(served, f"/learning?run={TINY_RUN_ID}&digit=5")
    served.wait_for_element("#learning-scatter .nsewdrag", timeout=20)
    settle(served)
    layouts = projection.pca_epochs(history.features)
    labels = history.labels[history.feature_index]
    fives = np.flatnonzero(labels == 5)
    # The five lying farthest from every other digit, so the click cannot land on another point.
    distances = np.linalg.norm(layouts[-1][fives, None, :] - layouts[-1][None, :, :], axis=2)
    distances[np.arange(len(fives)), fives] = np.inf
    chosen = fives[int(np.argmax(distances.min(axis=1)))]
    index = int(history.feature_index[chosen])
    drag = served.find_element("#learning-scatter .nsewdrag")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", drag)
    time.sleep(0.5)
    dx, dy = served.driver.execute_script(POINT_OFFSET, *map(float, layouts[-1][chosen]))
    ActionChains(served.driver).move_to_element(drag).move_by_offset(dx, dy).perform()
    served.wait_for_contains_text("#learning-hover", f"Test digit #{index}: true 5", timeout=10)
    ActionChains(served.driver).click().perform()
    wait_until(lambda: "/draw" in served.driver.current_url, 15)
    assert served.driver.current_url.endswith(f"/draw?run={TINY_RUN_ID}&test={index}")
    served.wait_for_contains_text("#_pages_content", f"#{index}", timeout=20)


def test_clicking_a_never_learned_or_learned_last_digit_opens_it_through_the_layers(served, history):
    open_page(served, f"/learning?run={TINY_RUN_ID}")
    served.wait_for_contains_text("#learning-gallery-title", "learned last", timeout=20)
    settle(served)
    table = learned.learned_table(history.epochs, history.predicted, history.true_probability, history.labels)
    shown = learned.learned_last(table, history.labels)
    tile = 3
    index = int(shown[tile])
    drag = served.find_element("#learning-gallery .nsewdrag")
    served.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", drag)
    time.sleep(0.5)
    dx, dy = served.driver.execute_script(TILE_OFFSET.replace("metrics-gallery", "learning-gallery"),
                                          tile * PITCH_X + SIDE / 2, SIDE / 2)
    ActionChains(served.driver).move_to_element(drag).move_by_offset(dx, dy).click().perform()
    wait_until(lambda: "/draw" in served.driver.current_url, 15)
    assert served.driver.current_url.endswith(f"/draw?run={TINY_RUN_ID}&test={index}")
    assert not [call for call in calls(served) if call["body"] and "Traceback" in call["body"]]
