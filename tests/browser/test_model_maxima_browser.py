"""The Architecture page in headless Chromium: the maximising inputs beside the kernels, the per-layer lines,
and a layer change redrawing both."""

from __future__ import annotations

import pytest

from tests.browser.test_activations_browser import (  # noqa: F401  (explorer is a fixture)
    explorer,
    figure_data,
    severe,
    wait_for,
)

pytestmark = pytest.mark.browser


def test_the_architecture_page_shows_what_each_filter_looks_for(dash_duo, explorer):  # noqa: F811
    dash_duo.wait_for_page(f"{explorer}/model?run=tiny")
    assert wait_for(lambda: figure_data(dash_duo, "model-maxima", "gd.data[0].type"), message="mosaic") == "image"
    assert "conv_1: the input" in figure_data(dash_duo, "model-maxima", "gd.layout.title.text")
    assert figure_data(dash_duo, "model-maxima", "gd.layout.meta.count") == 32
    # The PNG really decoded in the browser: the image trace has its pixel size.
    assert wait_for(lambda: figure_data(dash_duo, "model-maxima", "gd._fullData[0]._hasSource && "
                                        "gd.calcdata[0][0].w"), message="the PNG drawn") > 200
    health = dash_duo.find_element("#model-filter-health").text
    assert "conv_1: " in health and " of 32 dead (" in health and "conv_2: " in health and " of 64 dead (" in health
    assert "filters reach more than twice their mean activation" in dash_duo.find_element("#model-maxima-note").text
    dash_duo.select_dcc_dropdown("#model-layer", value="conv_2")
    wait_for(lambda: "conv_2: the input" in (figure_data(dash_duo, "model-maxima", "gd.layout.title.text") or ""),
             message="conv_2's maximising inputs")
    assert figure_data(dash_duo, "model-maxima", "gd.layout.meta.count") == 64
    wait_for(lambda: "conv_2" in (figure_data(dash_duo, "model-filters", "gd.layout.title.text") or ""),
             message="conv_2's kernels")
    errors = severe(dash_duo)
    assert errors == [], [entry["message"][:700] for entry in errors]
