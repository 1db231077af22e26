"""The Draw page on an imported model (issue 16) in headless Chromium: a test digit gets the answer its run recorded,
and the walk steps through the recorded layers (a residual CNN with BatchNormalization, Add and DepthwiseConv2D).

The model is built and imported in subprocesses; the app runs under gunicorn (the ``web_server`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts import ArtifactStore
from tests.conftest import CHROMEDRIVER, CHROMIUM, require

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NAME = "residual"
TEST_DIGIT = 7


@pytest.fixture(scope="module")
def residual_store(foreign_runs) -> Path:
    """The session's store of the four foreign models (tests/conftest.py), the residual CNN among them."""
    return foreign_runs[0]


def test_an_imported_model_answers_a_test_digit_and_walks_its_layers(web_server, residual_store, dash_duo):
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "Chromium and chromedriver are needed")
    run = ArtifactStore(residual_store).run(NAME)
    predicted = int(run.predictions()["predicted"][TEST_DIGIT])
    layers = [item["name"] for item in run.info().imported_layers]
    base = web_server(residual_store, WEB_CONCURRENCY="1")
    dash_duo.driver.get(f"{base}/draw?run={NAME}&test={TEST_DIGIT}")
    dash_duo.wait_for_text_to_equal("#draw-ready", "model ready", timeout=90)
    dash_duo.wait_for_style_to_equal("#draw-results", "display", "block", timeout=60)
    assert dash_duo.wait_for_element(".draw-top-digit", timeout=30).text == str(predicted)
    assert "does not yet support imported models" not in dash_duo.find_element("body").text
    dash_duo.wait_for_contains_text("#draw-layer-caption", layers[0], timeout=30)
    # Two steps on: the Reshape, then the Rescaling the model starts with.
    for expected in layers[1:3]:
        dash_duo.driver.execute_script("document.getElementById('draw-next').click()")
        dash_duo.wait_for_contains_text("#draw-layer-caption", expected, timeout=30)
    assert not [entry for entry in dash_duo.get_logs() if entry.get("level") == "SEVERE"]
