"""The Architecture page shows what each filter looks for: the maximising inputs beside the kernels, dead and
saturated filters flagged, a line per layer; older runs and damaged files get a message."""

from __future__ import annotations

import base64
import io

import dash
import numpy as np
import pytest
from PIL import Image

import dashboard.app  # noqa: F401  (registers the pages)
from artifacts import ArtifactStore
from artifacts import format as fmt
from artifacts.filters import filter_health
from dashboard.figures.architecture import DEAD_COLOR, maximising_inputs, stretched_tiles
from dashboard.figures.digits import PITCH_X, PITCH_Y, SIDE
from dashboard.pages.logic import model
from tests.dashboard.test_pages_model_activations import call, find, texts


@pytest.fixture
def tiny(tiny_store, use_store):
    use_store(tiny_store)
    return ArtifactStore(tiny_store).run("tiny")


def decoded_png(figure) -> np.ndarray:
    source = figure.data[0].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def stored_lines(run) -> list[str]:
    snapshot = run.snapshot(max(run.snapshot_epochs()))
    return [filter_health(name, snapshot[fmt.ACTIVATION_PREFIX + name], "relu").line()
            for name in ("conv_1", "conv_2")]


def test_the_page_draws_the_layers_maximising_inputs_in_its_layout(tiny):
    page = model.layout(run="tiny", layer="conv_2")
    figure = find(page, model.MAXIMA).figure
    maxima, _ = tiny.maximised()
    assert figure.data[0].type == "image" and "conv_2" in figure.layout.title.text
    assert figure.layout.meta["count"] == 64
    # The PNG holds the stored inputs, each stretched to its own range, in the mosaic's tiles.
    png = decoded_png(figure)
    tiles = stretched_tiles(maxima[1].images)
    columns = figure.layout.meta["columns"]
    for index in (0, 9, 63):
        top, left = (index // columns) * PITCH_Y, (index % columns) * PITCH_X
        np.testing.assert_array_equal(png[top:top + SIDE, left:left + SIDE], tiles[index])
    text = texts(page)
    for line in stored_lines(tiny):
        assert line in text  # "conv_1: 0 of 32 dead (0%), 0 saturated"
    reached = maxima[1].reached.astype(float) > 2 * maxima[1].probe_mean.astype(float)
    assert f"{int(reached.sum())} of 64 filters reach more than twice their mean activation" in text


def test_a_layer_or_theme_redraws_the_maximising_inputs_and_a_channel_does_not(tiny):
    out = call(model.draw_filter_panel, model.LAYER, "conv_1", model.MEAN, "dark", 2, "tiny")
    assert len(out) == 5 and out[1] is None and "conv_1" in out[3].layout.title.text
    assert out[3].layout.meta["count"] == 32 and out[0].layout.title.text.startswith("conv_1")
    themed = call(model.draw_filter_panel, model.THEME, "conv_1", model.MEAN, "light", 2, "tiny")
    assert themed[3].layout.template.layout.paper_bgcolor != out[3].layout.template.layout.paper_bgcolor
    channel = call(model.draw_filter_panel, model.CHANNEL, "conv_2", 3, "dark", 2, "tiny")
    assert channel[3] is dash.no_update and channel[4] is dash.no_update
    assert "input channel 3" in channel[0].layout.title.text


def test_dead_and_saturated_filters_are_framed_and_captioned():
    images = np.random.default_rng(0).uniform(0, 255, size=(6, 28, 28))
    dead = np.array([False, True, False, False, False, False])
    saturated = np.array([False, False, False, True, False, False])
    figure = maximising_inputs(images, dead, saturated, "conv_1", "light")
    frames = figure.layout.shapes[1:]
    assert len(frames) == 2 and frames[0].line.color == DEAD_COLOR
    captions = [annotation.text for annotation in figure.layout.annotations]
    assert captions == ["0", "1 dead", "2", "3 sat.", "4", "5"]
    with pytest.raises(ValueError):
        maximising_inputs(images, dead[:3], saturated, "conv_1")


def test_a_run_without_the_file_says_so_and_keeps_its_dead_filter_lines(store_copy, use_store):
    use_store(store_copy)
    run = ArtifactStore(store_copy).run("tiny")
    (run.path / fmt.MAXIMISED).unlink()
    page = model.layout(run="tiny")
    figure = find(page, model.MAXIMA).figure
    assert "trained before maximising inputs" in figure.layout.annotations[0].text
    text = texts(page)
    assert all(line in text for line in stored_lines(run))
    assert find(page, model.FILTERS) is not None  # the kernels are shown as before


def test_a_damaged_file_gives_an_error_card(store_copy, use_store):
    use_store(store_copy)
    path = store_copy / "tiny" / fmt.MAXIMISED
    path.write_bytes(path.read_bytes()[:300])
    page = model.layout(run="tiny")
    assert "The maximising inputs cannot be shown" in texts(page) and "corrupted" in texts(page)
    out = call(model.draw_filter_panel, model.LAYER, "conv_2", model.MEAN, "light", 1, "tiny")
    assert "corrupted" in texts(out[4])
