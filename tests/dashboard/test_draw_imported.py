"""The Draw page on imported models (issue 16): each of the four foreign models, imported with the real command,
answers a test digit as its run recorded, and the walk goes through every layer that has an output of its own.

TensorFlow stays out of this process: the models are built, trained and imported in subprocesses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dash
import numpy as np
import pytest

from artifacts import ArtifactStore
from dashboard.draw import epoch_view
from dashboard.draw import layout as parts
from dashboard.inference import attribution as attr
from dashboard.ui import attribution_card
from tests.dashboard.test_draw import draw_module, triggered_by
from tests.dashboard.test_pages_runs_metrics import has_class, text_of
from tests.support.foreign_models import INPUT_SCALES

MODELS = list(INPUT_SCALES)
TEST_DIGITS = (0, 7, 123, 321, 499)
NOT_WALKED = {"InputLayer", "Dropout", "Flatten"}  # an output that repeats its input's values


@pytest.fixture(scope="module")
def foreign_store(foreign_runs) -> Path:
    """A store holding the four foreign models, each imported by ``python -m pipeline import`` (session-wide)."""
    return foreign_runs[0]


@pytest.fixture
def draw(use_store, foreign_store):
    use_store(foreign_store)
    return draw_module()


@pytest.mark.parametrize("name", MODELS)
def test_the_page_opens_on_an_imported_model(draw, name):
    page = draw.layout(run=name, test="7")
    text = text_of(page)
    assert not has_class(page, "error-card") and "does not yet support imported models" not in text
    assert page[epoch_view.TEST_REQUEST].data == "7"
    assert draw.IMPORTED_EPOCHS in text and draw.IMPORTED_WHATIF in text  # the cards it lacks say why
    assert draw.warm_up(name) == ("model ready", "success")


@pytest.mark.parametrize("name", MODELS)
def test_a_test_digit_gets_the_answer_the_run_recorded(draw, foreign_store, name):
    predictions = ArtifactStore(foreign_store).run(name).predictions()
    for number in TEST_DIGITS:
        digit, message, _, _ = epoch_view.digit_from_url(str(number), name)
        assert message is None, message
        answer = draw.show_answer(digit, "light", name)
        assert answer[3] is None, text_of(answer[3])  # no error card
        shown = np.asarray(answer[7].data[0].y)
        assert int(np.argmax(shown)) == int(predictions["predicted"][number]), (name, number)
        np.testing.assert_allclose(shown, predictions["probabilities"][number], atol=1e-3)  # stored in float16


@pytest.mark.parametrize("name", MODELS)
def test_the_walk_goes_through_every_layer(draw, foreign_store, name):
    info = ArtifactStore(foreign_store).run(name).info()
    expected = [item["name"] for item in info.imported_layers if item["class_name"] not in NOT_WALKED]
    steps = draw.layer_steps(info)
    assert [step for step, _, _ in steps] == [info.imported_layers[0]["name"], *expected]
    digit, _, _, _ = epoch_view.digit_from_url("123", name)
    show = triggered_by(parts.LAYER, draw.show_digit)
    for index, (layer, kind, _) in enumerate(steps):
        outputs = show(digit, index, None, "light", None, parts.MAP_TAB, name, f"?run={name}")
        maps, caption = outputs[8], outputs[12]
        assert layer in text_of(caption) and f"Step {index + 1} of {len(steps)}" in text_of(caption)
        assert maps is not dash.no_update, layer
        spec = next(spec for spec in info.layers() if spec.name == layer)
        if kind == "Input" or len(spec.output_shape) > 1:
            assert maps.data[0].type in ("image", "heatmap"), layer
        else:
            assert maps.data[0].type == "bar" and len(maps.data[0].y) == spec.output_shape[0], layer
    # The last step is the answer: the probabilities the run recorded for the digit.
    last = show(digit, len(steps) - 1, None, "light", None, parts.MAP_TAB, name, f"?run={name}")[8]
    recorded = ArtifactStore(foreign_store).run(name).predictions()["probabilities"][123]
    np.testing.assert_allclose(np.asarray(last.data[0].y), recorded, atol=1e-3)


@pytest.mark.parametrize("name", MODELS)
def test_the_attributions_card_explains_the_imported_model(draw, foreign_store, name):
    convs = [spec.name for spec in ArtifactStore(foreign_store).run(name).info().layers()
             if spec.kind in ("Conv2D", "DepthwiseConv2D")]
    digit, _, _, _ = epoch_view.digit_from_url("7", name)
    for method in (attr.SALIENCY, attr.SMOOTHGRAD, attr.GRADCAM):
        is_open, layers, layer, _, figure, table, note = attribution_card.digit_outputs(
            True, method, None, attribution_card.ANSWER, digit, None, "light", name)
        assert is_open and layers == convs
        if method == attr.GRADCAM and not convs:  # the MLP: no conv layer to look at
            assert name == "mlp" and "no conv layer" in text_of(note)
            continue
        assert not has_class(note, "error-card") and "why the network says" in text_of(note), text_of(note)
        assert len(figure.data) == 1 and figure.data[0].type == "image", method
        assert attribution_card.IMPORTED_CHECK in text_of(table)
        assert layer == (convs[-1] if convs else None)


@pytest.mark.parametrize("name", MODELS)
def test_the_stacked_view_draws_every_walked_layer(draw, foreign_store, name):
    steps = draw.layer_steps(ArtifactStore(foreign_store).run(name).info())
    digit, _, _, _ = epoch_view.digit_from_url("7", name)
    # By default an image of the 3D scene (issue 12); the interactive switch gives one WebGL trace per layer at least.
    image, style = triggered_by(parts.STACK_SHOW, draw.show_stacked)(True, digit, "light", None, name)
    assert style == parts.SHOWN and image.data[0].type == "image" and image.data[0].source.startswith("data:image/png")
    figure, style = triggered_by(parts.STACK_SHOW, draw.show_stacked)(True, digit, "light", None, name, True)
    assert style == parts.SHOWN and figure is not parts.NOT_DRAWN and len(figure.data) >= len(steps)


def test_cards_that_need_training_stay_hidden(draw):
    digit, _, _, _ = epoch_view.digit_from_url("7", "residual")
    outputs = epoch_view.card_outputs(draw.digit_pixels(digit), digit, None, "light", "residual")
    assert outputs[0] == parts.HIDDEN
    with pytest.raises(draw.ModelUnavailable, match="imported model"):
        draw.model_at(ArtifactStore(draw.current_settings().store_root).run("residual"), 3)


def test_a_model_the_engine_cannot_run_gets_a_notice(draw, foreign_store, tmp_path, use_store):
    # The convnet's record with a layer class the engine does not know: the page says which, no traceback.
    store = tmp_path / "store"
    shutil.copytree(foreign_store / "convnet", store / "odd")
    manifest = json.loads((store / "odd" / "manifest.json").read_text())
    manifest["run_id"] = "odd"
    pool = next(item for item in manifest["layers"] if item["class_name"] == "MaxPooling2D")
    pool["class_name"] = "FractionalMaxPooling2D"
    (store / "odd" / "manifest.json").write_text(json.dumps(manifest))
    use_store(store)
    digit, _, _, _ = epoch_view.digit_from_url("7", "odd")
    answer = draw.show_answer(digit, "light", "odd")
    assert f"layer {pool['name']} (class FractionalMaxPooling2D) is not supported by the in-browser engine" \
        in text_of(answer[3])
    assert "Traceback" not in text_of(answer[3])
    page = draw.layout(run="odd")
    assert not has_class(page, "error-card")
